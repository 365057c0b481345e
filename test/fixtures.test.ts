// Every bundled fixture, replayed through the public API (replayFixture calls resolveClientAddress): the recorded handshakes and the table's rows.
import { describe, expect, it } from "vitest";
import { BUNDLED_FIXTURES, loadFixtures, replayFixture } from "../src/cli/fixture.js";

const cases = await loadFixtures([BUNDLED_FIXTURES]);

describe("bundled fixtures", () => {
  it("are there, recorded and hand-written, local and not", () => {
    const kinds = new Set(cases.map(({ fixture }) => fixture.provenance.kind));
    expect(kinds).toEqual(new Set(["recorded", "hand-written"]));
    const verdicts = new Set(cases.map(({ fixture }) => fixture.expected.loopbackEquivalent));
    expect(verdicts).toEqual(new Set([true, false]));
  });

  it.each(cases.map(({ file, fixture }) => [fixture.name, file, fixture] as const))("%s", (_name, _file, fixture) => {
    const { result, mismatches } = replayFixture(fixture);
    expect(mismatches).toEqual([]);
    if (!fixture.expected.loopbackEquivalent) expect(result.diagnostics.length).toBeGreaterThan(0);
  });
});
