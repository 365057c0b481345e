// Properties over generated requests (fixed seed, so a failure reproduces): the rules hold on every input the
// generators reach, not only on the table. `npm run fuzz` runs the same properties a million times.
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { isIP } from "node:net";
import { describe, expect, it } from "vitest";
import { parseIp } from "../src/address.js";
import { type ClientAddress, compileTrustedProxies, resolveClientAddress } from "../src/index.js";
import { LAWS, property } from "./support/properties.js";
import { address, ipv4, ipv6, request, trustList } from "./support/arbitraries.js";

const RUNS = { seed: 20261125, numRuns: 400 };

describe("properties", () => {
  it.each(Object.entries(LAWS))("%s", (_name, law) => {
    fc.assert(property(law), RUNS);
  });
});

describe("trust matching agrees with ipaddr.js", () => {
  // The reference: ipaddr.js's own match, with IPv4-mapped addresses taken as IPv4 and IPv4 addresses matched
  // against IPv6 ranges in their mapped form, which is the rule the compiled list folds in at compile time.
  function reference(text: string, cidrs: string[]): boolean {
    let candidate = ipaddr.parse(text);
    if (candidate.kind() === "ipv6" && (candidate as ipaddr.IPv6).isIPv4MappedAddress()) candidate = (candidate as ipaddr.IPv6).toIPv4Address();
    return cidrs.some((cidr) => {
      const [network, bits] = ipaddr.parseCIDR(cidr);
      if (network.kind() === candidate.kind()) return candidate.match(network, bits);
      return candidate.kind() === "ipv4" && (candidate as ipaddr.IPv4).toIPv4MappedAddress().match(network, bits);
    });
  }

  const cidr = fc.oneof(
    fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([a, bits]) => `${a}/${bits}`),
    fc.tuple(ipv6, fc.integer({ min: 0, max: 128 })).map(([a, bits]) => `${a}/${bits}`),
    fc.tuple(ipv4, fc.integer({ min: 96, max: 128 })).map(([a, bits]) => `::ffff:${a}/${bits}`),
    fc.integer({ min: 0, max: 96 }).map((bits) => `::ffff:0:0/${bits}`),
  );

  it("on random addresses against random CIDR lists (IPv4, IPv6, mapped)", () => {
    fc.assert(
      fc.property(address, fc.array(cidr, { maxLength: 6 }), (text, cidrs) => {
        expect(compileTrustedProxies(cidrs).trusts(parseIp(text)!)).toBe(reference(text, cidrs));
      }),
      { seed: 20261125, numRuns: 3000 },
    );
  });

  it("on the presets and the lists requests are generated with", () => {
    fc.assert(
      fc.property(address, trustList, (text, list) => {
        const expanded = list.flatMap((entry) =>
          entry === "loopback" ? ["127.0.0.0/8", "::1/128"] : entry === "linklocal" ? ["169.254.0.0/16", "fe80::/10"] : entry === "uniquelocal" ? ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"] : [entry.includes("/") ? entry : `${entry}/${isIP(entry) === 4 ? 32 : 128}`],
        );
        expect(compileTrustedProxies(list).trusts(parseIp(text)!)).toBe(reference(text, expanded));
      }),
      RUNS,
    );
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
      }),
      { seed: 20261125, numRuns: 3000 },
    );
    for (const expected of ["local", "deep", "loopback", "trusted-path", "remote-client", "unread-forwarding-header", "host-not-local", "origin-not-local", "invalid-peer", "invalid-entry", "malformed-header", "hop-limit"]) {
      expect(seen, expected).toContain(expected);
    }
  });
});
