// Properties over generated requests (fixed seed, so a failure reproduces): the rules hold on every input the
// generators reach, not only on the table. `npm run fuzz` runs the same properties a million times.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ClientAddress, resolveClientAddress } from "../src/core/index.js";
import { LAWS, property } from "./support/properties.js";
import { request } from "./support/arbitraries.js";
import { runs } from "./support/runs.js";

const RUNS = { seed: 20261125, numRuns: runs(400) };

describe("properties", () => {
  it.each(Object.entries(LAWS))("%s", (_name, law) => {
    fc.assert(property(law), RUNS);
  });
});

// Guards the generators themselves: a property over requests that never reach the interesting branches
// proves little.
describe("the generators reach the interesting cases", () => {
  it("produce local answers, header-walked answers, null addresses and hop limits", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(request, (input) => {
        const result: ClientAddress = resolveClientAddress({ ...input, headers: input.rawHeaders });
        seen.add(result.basis.split(":")[1]!);
        if (result.loopbackEquivalent) seen.add("local");
        if (result.hops.length > 2) seen.add("deep");
        // Local through a trusted proxy that describes the browser's request: the laws on Host-bearing values
        // and schemes need such answers to mean anything.
        if (result.loopbackEquivalent && input.rawHeaders.some((name) => /^x-forwarded-(host|proto)$/i.test(name))) seen.add("local-described");
      }),
      { seed: 20261125, numRuns: 3000 },
    );
    for (const expected of ["local", "local-described", "deep", "loopback", "trusted-path", "remote-client", "unread-forwarding-header", "host-not-local", "origin-not-local", "invalid-peer", "invalid-entry", "malformed-header", "hop-limit"]) {
      expect(seen, expected).toContain(expected);
    }
  });
});
