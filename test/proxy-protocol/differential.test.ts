// The PROXY protocol parser held to the specification and to proxy-protocol-js (the reference) over generated
// and damaged headers (fixed seed): the laws of test/support/proxy-protocol-laws.ts, which `npm run fuzz` runs
// at length. And the generators are checked to reach the cases that matter.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseProxyHeader } from "../../src/proxy-protocol/parse.js";
import { PARSER_LAWS, connectionBytes, parserProperty, reference } from "../support/proxy-protocol-laws.js";
import { runs } from "../support/runs.js";

describe("the PROXY protocol parser's laws", () => {
  it.each(Object.entries(PARSER_LAWS))("%s", (_name, law) => {
    fc.assert(parserProperty(law), { seed: 20261125, numRuns: runs(600) });
  });
});

describe("the generators reach the interesting cases", () => {
  it("headers of both versions, both agreeing and refused, every error, incomplete prefixes", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(connectionBytes, (input) => {
        const ours = parseProxyHeader(input, 65551);
        const theirs = reference(input);
        seen.add(ours.status === "header" ? `v${ours.header.version} ${ours.header.command} ${ours.header.family}` : ours.status === "invalid" ? ours.error : "incomplete");
        if (theirs !== null && ours.status === "header") seen.add("both accept");
        if (theirs !== null && ours.status === "invalid") seen.add("reference accepts, we refuse");
        if (ours.status === "header" && ours.header.tlvs.some((t) => t.type === 3)) seen.add("a checked CRC32C");
      }),
      { seed: 20261125, numRuns: 4000 },
    );
    for (const expected of [
      "v1 proxy inet", "v1 proxy inet6", "v1 proxy unspec", "v2 proxy inet", "v2 proxy inet6", "v2 proxy unix", "v2 proxy unspec", "v2 local unspec",
      "both accept", "reference accepts, we refuse", "a checked CRC32C", "incomplete",
      "not-proxy-protocol", "v1-malformed", "v1-address", "v1-port", "v2-version", "v2-command", "v2-family", "v2-tlv", "v2-crc32c", "v2-address-length",
    ]) {
      expect(seen, expected).toContain(expected);
    }
  });
});
