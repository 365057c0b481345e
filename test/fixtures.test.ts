// Every bundled fixture, replayed through the public API: the recorded handshakes and the table's rows.
import { describe, expect, it } from "vitest";
import { BUNDLED_FIXTURES, loadFixtures } from "../src/fixture.js";
import { resolveClientAddress } from "../src/index.js";

const cases = await loadFixtures([BUNDLED_FIXTURES]);

describe("bundled fixtures", () => {
  it("are there, recorded and hand-written, local and not", () => {
    const kinds = new Set(cases.map(({ fixture }) => fixture.provenance.kind));
    expect(kinds).toEqual(new Set(["recorded", "hand-written"]));
    const verdicts = new Set(cases.map(({ fixture }) => fixture.expected.loopbackEquivalent));
    expect(verdicts).toEqual(new Set([true, false]));
  });

  it.each(cases.map(({ file, fixture }) => [fixture.name, file, fixture] as const))("%s", (_name, _file, fixture) => {
    const { request, options, expected } = fixture;
    const result = resolveClientAddress({
      remoteAddress: request.peer?.address,
      headers: request.rawHeaders,
      trustedProxies: options.trustedProxies,
      header: options.header,
      maxHops: options.maxHops,
      localHosts: options.localHosts,
    });
    expect({ address: result.address, loopbackEquivalent: result.loopbackEquivalent, basis: result.basis }).toEqual(expected);
    if (!expected.loopbackEquivalent) expect(result.diagnostics.length).toBeGreaterThan(0);
  });
});
