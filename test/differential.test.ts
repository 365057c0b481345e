// Differential test against proxy-addr (what Express's `trust proxy` uses): for requests that carry only
// X-Forwarded-For, the client address must be the one proxy-addr picks with the same trust list, on
// generated chains and on the fixtures. Where the two disagree on purpose, each case is its own test below,
// showing both answers, so that the list of deliberate differences is executable documentation.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import proxyaddr from "proxy-addr";
import { describe, expect, it } from "vitest";
import { compileTrustedProxies, resolveClientAddress } from "../src/core/index.js";
import { MAPPED_BLOCK, canonical, ours, theirs, xffRequest } from "./support/proxy-addr.js";
import { runs } from "./support/runs.js";

describe("X-Forwarded-For only: the address agrees with proxy-addr", () => {
  it("on generated chains (fast-check, seed 4242)", () => {
    let seen = 0;
    let fromHeader = 0;
    let multiHop = 0;
    let fullWalk = 0;
    fc.assert(
      fc.property(xffRequest, ({ trustedProxies, remoteAddress, xff }) => {
        const result = ours(remoteAddress, xff, trustedProxies);
        expect(result.address).toBe(canonical(theirs(remoteAddress, xff, trustedProxies)));

        seen++;
        const depth = result.hops.filter((hop) => hop.source === "x-forwarded-for").length;
        if (result.basis.startsWith("x-forwarded-for:")) fromHeader++;
        if (result.basis.startsWith("x-forwarded-for:") && depth >= 2) multiHop++;
        if (xff !== undefined && depth === xff.split(",").length && result.hops.every((hop) => hop.trusted)) fullWalk++;
      }),
      { seed: 4242, numRuns: runs(2000) },
    );
    // The property proves little if most walks stop at the socket or after one entry.
    expect(seen).toBe(runs(2000));
    expect(fromHeader / seen).toBeGreaterThan(0.4);
    expect(multiHop / seen).toBeGreaterThan(0.2);
    expect(fullWalk / seen).toBeGreaterThan(0.05); // every hop trusted: the client is the leftmost entry
    expect(fromHeader / seen).toBeLessThan(0.95); // and some walks do stop at an untrusted peer
  });
});

// ---------------------------------------------------------------------------------------------------------
// 2. Deliberate differences

/** An address (or null), or the error thrown for the trust list. */
type Outcome = string | null | { readonly throws: string };

interface Difference {
  readonly name: string;
  readonly peer: string;
  readonly xff?: string;
  readonly trust: readonly string[];
  /** Our `address`, or the error name we throw. */
  readonly ours: Outcome;
  /** proxy-addr's return value as written, or (the start of) the message it throws. */
  readonly proxyAddr: Outcome;
  readonly why: string;
}

const CLIENT = "203.0.113.9";
const HOPS_65 = Array.from({ length: 65 }, (_, i) => `127.0.0.${(i % 250) + 2}`).join(", ");

const DIFFERENCES: readonly Difference[] = [
  {
    name: "`unknown` (RFC 7239 unknown identifier) as the entry",
    peer: "127.0.0.1",
    xff: "unknown",
    trust: ["loopback"],
    ours: null,
    proxyAddr: "unknown",
    why: "a non-address entry means the client is unknown; we never hand back text that is not an address",
  },
  {
    name: "`_hidden` (RFC 7239 obfuscated identifier) as the entry",
    peer: "127.0.0.1",
    xff: `${CLIENT}, _hidden`,
    trust: ["loopback"],
    ours: null,
    proxyAddr: "_hidden",
    why: "same: an obfuscated node is not an address",
  },
  {
    name: "garbage as the entry",
    peer: "127.0.0.1",
    xff: `${CLIENT}, <script>`,
    trust: ["loopback"],
    ours: null,
    proxyAddr: "<script>",
    why: "same: proxy-addr returns whatever text the header held",
  },
  {
    name: "legacy short IPv4 `127.1` as the entry",
    peer: "127.0.0.1",
    xff: `${CLIENT}, 127.1`,
    trust: ["loopback"],
    ours: null,
    proxyAddr: "127.1",
    why: "not a dotted quad, so not an address here; proxy-addr hands the text back",
  },
  {
    name: "legacy octal IPv4 `0177.0.0.1` as a trusted entry",
    peer: "127.0.0.1",
    xff: `${CLIENT}, 0177.0.0.1`,
    trust: ["loopback"],
    ours: null,
    proxyAddr: CLIENT,
    why: "ipaddr.js 1.x reads 0177.0.0.1 as 127.0.0.1 (loopback, trusted) and walks past it; net.isIP rejects it",
  },
  {
    name: "legacy hex IPv4 `0x7f.0.0.1` as a trusted entry",
    peer: "127.0.0.1",
    xff: `${CLIENT}, 0x7f.0.0.1`,
    trust: ["loopback"],
    ours: null,
    proxyAddr: CLIENT,
    why: "same, hexadecimal",
  },
  {
    name: "legacy 32-bit integer IPv4 `2130706433` as a trusted entry",
    peer: "127.0.0.1",
    xff: `${CLIENT}, 2130706433`,
    trust: ["loopback"],
    ours: null,
    proxyAddr: CLIENT,
    why: "same, one integer",
  },
  {
    name: "IPv4 with a leading zero `010.0.0.1` (octal 8.0.0.1, not 10.0.0.1)",
    peer: "127.0.0.1",
    xff: `${CLIENT}, 010.0.0.1`,
    trust: ["loopback", "8.0.0.0/8"],
    ours: null,
    proxyAddr: CLIENT,
    why: "proxy-addr trusts it as 8.0.0.1 although a reader (and uniquelocal) would take it for 10.0.0.1",
  },
  {
    name: "legacy IPv4 `0177.0.0.1` in the trust list",
    peer: "127.0.0.1",
    xff: CLIENT,
    trust: ["0177.0.0.1"],
    ours: { throws: "ClientAddressConfigError" },
    proxyAddr: CLIENT,
    why: "trust-list entries are strict addresses, like every other address we read",
  },
  {
    name: "non-standard IPv6 `00000::1` (a five-digit group) as a trusted entry",
    peer: "127.0.0.1",
    xff: `${CLIENT}, 00000::1`,
    trust: ["loopback"],
    ours: null,
    proxyAddr: CLIENT,
    why: "ipaddr.js 1.x reads it as ::1 (also e.g. 1::2:3:4:5:6:7:8); net.isIP rejects it",
  },
  {
    name: "IPv4 entry with a port `198.51.100.4:5678`",
    peer: "127.0.0.1",
    xff: `${CLIENT}, 198.51.100.4:5678`,
    trust: ["loopback"],
    ours: "198.51.100.4",
    proxyAddr: "198.51.100.4:5678",
    why: "proxies such as Azure Application Gateway and IIS ARR append the client's port; the address is read, the port dropped",
  },
  {
    name: "bracketed IPv6 entry with a port `[2001:db8::1]:443`",
    peer: "127.0.0.1",
    xff: `${CLIENT}, [2001:db8::1]:443`,
    trust: ["loopback"],
    ours: "2001:db8::1",
    proxyAddr: "[2001:db8::1]:443",
    why: "same, IPv6 (also `[2001:db8::1]` without a port)",
  },
  {
    name: "trusted entry with a port `127.0.0.2:5678`: the walk goes on past it",
    peer: "127.0.0.1",
    xff: `${CLIENT}, 127.0.0.2:5678`,
    trust: ["loopback"],
    ours: CLIENT,
    proxyAddr: "127.0.0.2:5678",
    why: "the entry is a trusted proxy's address, so the walk continues; proxy-addr cannot match it and stops",
  },
  {
    name: "IPv4-compatible IPv6 `::127.0.0.1` under `loopback`",
    peer: "127.0.0.1",
    xff: `${CLIENT}, ::127.0.0.1`,
    trust: ["loopback"],
    ours: "::7f00:1",
    proxyAddr: "::127.0.0.1",
    why: "it is the IPv6 address ::7f00:1, not loopback (RFC 4291); ipaddr.js 1.x (proxy-addr) rejects the text, and ipaddr.js 2.x reads it as the mapped ::ffff:127.0.0.1, so normalising proxy-addr's answer makes it 127.0.0.1",
  },
  {
    name: "IPv6 with a dotted IPv4 tail (NAT64 `64:ff9b::10.0.0.1`) as a trusted entry",
    peer: "127.0.0.1",
    xff: `${CLIENT}, 64:ff9b::10.0.0.1`,
    trust: ["loopback", "64:ff9b::/96"],
    ours: CLIENT,
    proxyAddr: "64:ff9b::10.0.0.1",
    why: "net.isIP accepts it; ipaddr.js 1.x only accepts a dotted tail after ::ffff: or six groups, so proxy-addr cannot match it (and throws on such a trust entry)",
  },
  {
    name: "IPv6 with a dotted IPv4 tail in the trust list (`::10.0.0.0/104`)",
    peer: "::a00:1",
    xff: CLIENT,
    trust: ["::10.0.0.0/104"],
    ours: CLIENT,
    proxyAddr: { throws: "invalid IP address: ::10.0.0.0" },
    why: "same: strict IPv6 text is accepted wherever an address is read",
  },
  {
    name: "zone id on an entry (`fe80::1%eth0`)",
    peer: "127.0.0.1",
    xff: `${CLIENT}, fe80::1%eth0`,
    trust: ["loopback"],
    ours: "fe80::1",
    proxyAddr: "fe80::1%eth0",
    why: "our answers carry no zone: the canonical address is compared, stored and shown without it",
  },
  {
    name: "zone id with a hyphen on the peer (`fe80::1%br-1a2b`, a Docker bridge) under `linklocal`",
    peer: "fe80::1%br-1a2b",
    xff: CLIENT,
    trust: ["linklocal"],
    ours: CLIENT,
    proxyAddr: "fe80::1%br-1a2b",
    why: "Node reports such peers and net.isIP accepts the zone; ipaddr.js 1.x only allows [0-9a-z] in a zone, so proxy-addr does not trust the peer",
  },
  {
    name: "zone id in the trust list (`fe80::1%eth0`)",
    peer: "fe80::1%eth0",
    xff: CLIENT,
    trust: ["fe80::1%eth0"],
    ours: { throws: "ClientAddressConfigError" },
    proxyAddr: CLIENT,
    why: "a trust entry names an address, not an interface; zones are rejected rather than silently ignored",
  },
  {
    name: "more than maxHops (64) trusted entries",
    peer: "127.0.0.1",
    xff: `${CLIENT}, ${HOPS_65}`,
    trust: ["loopback"],
    ours: null,
    proxyAddr: CLIENT,
    why: "the walk's cost is bounded: past 64 trusted hops the client is unknown (raise maxHops for longer chains)",
  },
  {
    name: "entry longer than 128 characters (here: whitespace padding)",
    peer: "127.0.0.1",
    xff: `${CLIENT},${" ".repeat(200)}127.0.0.2`,
    trust: ["loopback"],
    ours: null,
    proxyAddr: CLIENT,
    why: "each entry is scanned for at most 128 characters, so a long header costs what maxHops allows; no address is that long",
  },
  {
    name: "tab as whitespace around an entry",
    peer: "127.0.0.1",
    xff: `${CLIENT},\t127.0.0.2`,
    trust: ["loopback"],
    ours: CLIENT,
    proxyAddr: "\t127.0.0.2",
    why: "HTTP optional whitespace is space or tab (RFC 9110); forwarded only trims spaces, so proxy-addr keeps the tab and returns the raw text",
  },
  {
    name: "`0.0.0.0/0` in the trust list",
    peer: "10.1.2.3",
    xff: CLIENT,
    trust: ["0.0.0.0/0"],
    ours: CLIENT,
    proxyAddr: { throws: "invalid range on address: 0.0.0.0/0" },
    why: "a valid CIDR; accepted with a trusts-everyone diagnostic rather than refused",
  },
  {
    name: "`::/0` in the trust list",
    peer: "10.1.2.3",
    xff: CLIENT,
    trust: ["::/0"],
    ours: CLIENT,
    proxyAddr: { throws: "invalid range on address: ::/0" },
    why: "same; ::/0 holds every mapped address, so it trusts every IPv4 client too",
  },
  {
    name: "netmask notation `10.0.0.0/255.0.0.0` in the trust list",
    peer: "10.1.2.3",
    xff: CLIENT,
    trust: ["10.0.0.0/255.0.0.0"],
    ours: { throws: "ClientAddressConfigError" },
    proxyAddr: CLIENT,
    why: "one notation for ranges (prefix lengths); the error says which prefix to write",
  },
  {
    name: "prefix length with a leading zero `10.0.0.0/08` in the trust list",
    peer: "10.1.2.3",
    xff: CLIENT,
    trust: ["10.0.0.0/08"],
    ours: { throws: "ClientAddressConfigError" },
    proxyAddr: CLIENT,
    why: "prefix lengths are plain decimal without leading zeros, as strict as the addresses",
  },
  {
    name: "whitespace around a trust-list entry (` 10.0.0.0/8 `)",
    peer: "10.1.2.3",
    xff: CLIENT,
    trust: [" 10.0.0.0/8 "],
    ours: CLIENT,
    proxyAddr: { throws: "invalid IP address:  10.0.0.0" },
    why: "entries are trimmed (lists often come from comma-separated environment variables)",
  },
  {
    name: "IPv6 range shorter than /96 that holds ::ffff:0:0/96 (`::/64`) and an IPv4 peer",
    peer: "10.1.2.3",
    xff: CLIENT,
    trust: ["::/64"],
    ours: CLIENT,
    proxyAddr: "10.1.2.3",
    why: "the range contains every IPv4-mapped address, and a mapped peer is the IPv4 peer, so it trusts all of IPv4 (with a trusts-everyone diagnostic); proxy-addr only lets mapped ranges of /96 or longer match IPv4",
  },
  {
    name: "mapped CIDR with a prefix shorter than /96 (`::ffff:10.0.0.0/8`)",
    peer: "10.1.2.3",
    xff: CLIENT,
    trust: ["::ffff:10.0.0.0/8"],
    ours: CLIENT,
    proxyAddr: "10.1.2.3",
    why: "read literally as ::/8, which holds ::ffff:0:0/96 (diagnostic trusts-everyone); proxy-addr's entry matches nothing at all",
  },
];

function run(side: () => string | null): Outcome {
  try {
    return side();
  } catch (error) {
    return { throws: (error as Error).name === "ClientAddressConfigError" ? "ClientAddressConfigError" : (error as Error).message };
  }
}

describe("deliberate differences from proxy-addr (each shows both answers)", () => {
  for (const difference of DIFFERENCES) {
    it(difference.name, () => {
      const { peer, xff, trust } = difference;
      const ourAnswer = run(() => ours(peer, xff, trust).address);
      const theirAnswer = run(() => theirs(peer, xff, trust));
      expect({ ours: ourAnswer, proxyAddr: theirAnswer }).toEqual({ ours: difference.ours, proxyAddr: difference.proxyAddr });
      // A real difference: after the same normalisation the property uses, the answers still differ.
      const normalised = typeof theirAnswer === "string" ? canonical(theirAnswer) : theirAnswer;
      expect(ourAnswer).not.toEqual(normalised);
    });
  }

  it("the trust-list ones warn when accepted", () => {
    const codes = (list: string[]) => compileTrustedProxies(list).diagnostics.map((d) => d.code);
    for (const entry of ["0.0.0.0/0", "::/0", "::/64", "::ffff:10.0.0.0/8"]) {
      expect(codes([entry])).toContain("trusts-everyone");
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// 3. Fixtures: the X-Forwarded-For-only ones with strict entries must agree with proxy-addr

const FIXTURES = fileURLToPath(new URL("../fixtures", import.meta.url));

function fixtureFiles(): string[] {
  if (!existsSync(FIXTURES)) return [];
  return readdirSync(FIXTURES, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".json"))
    .sort();
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Strict text both sides read the same way: what net.isIP accepts, without a zone, and with a dotted IPv4
 * tail only in the IPv4-mapped form (ipaddr.js 1.x rejects other dotted tails; see the differences above).
 */
function comparableAddress(text: string): boolean {
  const family = isIP(text);
  if (family === 0 || text.includes("%")) return false;
  if (family === 4 || !text.includes(".")) return true;
  const head = text.slice(0, text.lastIndexOf(":") + 1);
  return ipaddr.IPv6.parse(`${head}0:0`).isIPv4MappedAddress();
}

interface Comparison {
  readonly remoteAddress: string;
  readonly rawHeaders: readonly string[];
  readonly xff: string | undefined;
  readonly trustedProxies: readonly string[];
  readonly maxHops: number | undefined;
}

/** The request to compare, or why this fixture is outside the differential test. */
function classify(fixture: unknown): Comparison | { skip: string } {
  if (!isObject(fixture) || !isObject(fixture.request)) return { skip: "no request object" };
  const options = fixture.options === undefined ? {} : fixture.options;
  if (!isObject(options)) return { skip: "options is not an object" };
  const { peer, rawHeaders } = fixture.request;
  if (peer === null || peer === undefined) return { skip: "no peer (closed socket)" };
  if (!isObject(peer) || typeof peer.address !== "string") return { skip: "peer has no address" };
  if (!comparableAddress(peer.address)) return { skip: "peer is not a strict address (zone, legacy form, ...)" };
  if (!Array.isArray(rawHeaders) || rawHeaders.length % 2 !== 0 || !rawHeaders.every((item) => typeof item === "string")) {
    return { skip: "rawHeaders is not a flat list of strings" };
  }
  if (options.header !== undefined && options.header !== "x-forwarded-for") return { skip: "another header is believed" };

  const lines: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    if (name === "forwarded" || name === "x-real-ip") return { skip: `carries ${rawHeaders[i]}` };
    if (name === "x-forwarded-for") lines.push(rawHeaders[i + 1] as string);
  }
  const xff = lines.length === 0 ? undefined : lines.join(", "); // as Node joins repeated lines
  const items = xff === undefined ? [] : xff.split(",").map((item) => item.replace(/^ +| +$/g, ""));
  if (!items.every(comparableAddress)) return { skip: "an X-Forwarded-For entry is not a strict address without a port" };

  const trust = options.trustedProxies === undefined ? [] : options.trustedProxies;
  if (!Array.isArray(trust) || !trust.every((entry) => typeof entry === "string")) return { skip: "trustedProxies is not a list of strings" };
  const maxHops = options.maxHops;
  if (maxHops !== undefined && !(Number.isInteger(maxHops) && (maxHops as number) >= 0)) return { skip: "invalid maxHops" };
  if (items.length > ((maxHops as number | undefined) ?? 64)) return { skip: "more entries than maxHops" };
  try {
    compileTrustedProxies(trust);
  } catch {
    return { skip: "trust list rejected here" };
  }
  try {
    proxyaddr.compile(trust);
  } catch {
    return { skip: "trust list rejected by proxy-addr" };
  }
  for (const entry of trust) {
    const slash = entry.indexOf("/");
    if (slash === -1 || isIP(entry.slice(0, slash)) !== 6) continue;
    const [network, prefix] = ipaddr.IPv6.parseCIDR(entry);
    if (prefix < 96 && MAPPED_BLOCK.match(network, prefix)) return { skip: "IPv6 trust range shorter than /96 holding the mapped block" };
  }
  return { remoteAddress: peer.address, rawHeaders: rawHeaders as string[], xff, trustedProxies: trust, maxHops: maxHops as number | undefined };
}

const fixtures = fixtureFiles().map((file) => {
  let json: unknown;
  let error: string | undefined;
  try {
    json = JSON.parse(readFileSync(join(FIXTURES, file), "utf8"));
  } catch (cause) {
    error = (cause as Error).message;
  }
  return { file, error, plan: error === undefined ? classify(json) : undefined };
});

describe("fixtures: X-Forwarded-For-only requests agree with proxy-addr", () => {
  it("every fixture file is JSON and is either compared or skipped for a named reason", () => {
    const broken = fixtures.filter((fixture) => fixture.error !== undefined).map(({ file, error }) => `${file}: ${error}`);
    expect(broken).toEqual([]);
    for (const fixture of fixtures) expect(fixture.plan).toBeDefined();
  });

  for (const { file, plan } of fixtures) {
    if (plan === undefined || "skip" in plan) continue;
    it(file, () => {
      const result = resolveClientAddress({
        remoteAddress: plan.remoteAddress,
        headers: plan.rawHeaders, // our raw-headers reader joins repeated lines itself
        trustedProxies: plan.trustedProxies,
        maxHops: plan.maxHops,
      });
      expect(result.address).toBe(canonical(theirs(plan.remoteAddress, plan.xff, plan.trustedProxies)));
    });
  }
});
