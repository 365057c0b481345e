// The laws the resolver must obey on every input, as generator + check pairs. `test/properties.test.ts` runs
// each a few hundred times under vitest; `scripts/fuzz.ts` runs them a million times. Checks use node:assert
// so that they run outside vitest too.
import assert from "node:assert/strict";
import { isIP } from "node:net";
import fc from "fast-check";
import parseForwarded from "forwarded-parse";
import ipaddr from "ipaddr.js";
import { formatAddress, parseIp } from "../../src/core/address.js";
import { type ClientAddress, type ResolveClientAddressOptions, compileTrustedProxies, resolveClientAddress } from "../../src/core/index.js";
import { PROXY_HEADERS } from "../../src/core/proxy-headers.js";
import { address, describedRequest, entry, header, hostValue, ipv4, ipv6, junk, nodeHeaders, originValue, request } from "./arbitraries.js";
import { canonical, ours, theirs, xffRequest } from "./proxy-addr.js";

export interface Law<T> {
  readonly arbitrary: fc.Arbitrary<T>;
  /** Throws (an AssertionError) when the law is broken for `input`. */
  readonly check: (input: T) => void;
  /** The request a counterexample stands for, so the fuzz run can write it as a fixture. */
  readonly asRequest: (input: T) => LawRequest;
  /** Whether the law demands that this request is not local (the fixture's expected answer). */
  readonly demandsNotLocal: boolean;
}

export interface LawRequest {
  readonly remoteAddress: string | undefined;
  /** What a trusted balancer declared (the PROXY protocol); `remoteAddress` is then the balancer. */
  readonly declaredSource?: string | null;
  /** Whether the connection was TLS. */
  readonly secure?: boolean;
  readonly rawHeaders: readonly string[];
  readonly trustedProxies: readonly string[];
  readonly header?: "x-forwarded-for" | "forwarded" | "x-real-ip";
  readonly maxHops?: number;
}

type Request = typeof request extends fc.Arbitrary<infer T> ? T : never;

const resolve = (input: Request, headers: ResolveClientAddressOptions["headers"] = input.rawHeaders): ClientAddress =>
  resolveClientAddress({ ...input, headers });

/** The whole answer, the lazily explained parts included, for comparing two answers field by field. */
export const whole = (result: ClientAddress) => JSON.parse(JSON.stringify(result)) as Record<string, unknown>;

const BASIS = /^(socket|proxy-protocol|x-forwarded-for|forwarded|x-real-ip):(loopback|trusted-path|remote-client|unread-forwarding-header|host-not-local|origin-not-local|invalid-peer|invalid-entry|malformed-header|hop-limit)$/;
// Every header a proxy or tunnel adds, the three the walk reads among them.
const PROXY = new Set<string>(PROXY_HEADERS.map((row) => row.name));
// The generators' local Host and Origin values with their ports (null: none written; an origin's standard
// port is its scheme's default): anything else must never be local.
const LOCAL_HOSTS = new Map<string, number | null>([["localhost", null], ["LOCALHOST:18789", 18789], ["127.0.0.1:18789", 18789], ["[::1]:18789", 18789], ["app.localhost", null]]);
const LOCAL_ORIGINS = new Map<string, { secure: boolean; port: number }>([
  ["http://127.0.0.1:18789", { secure: false, port: 18789 }],
  ["http://localhost:18789", { secure: false, port: 18789 }],
  ["https://app.localhost", { secure: true, port: 443 }],
  ["http://localhost:8000", { secure: false, port: 8000 }],
  ["http://127.0.0.1:5173", { secure: false, port: 5173 }],
  ["http://[::1]:3000", { secure: false, port: 3000 }],
  ["http://localhost", { secure: false, port: 80 }],
]);

/**
 * Whether the generators' `origin` is a page this server served, by the rule written out independently (RFC
 * 6454): the request's scheme, and Host's port or, without one, that scheme's default.
 */
function servedHere(host: string, origin: string, secure: boolean): boolean {
  const page = LOCAL_ORIGINS.get(origin);
  const port = LOCAL_HOSTS.get(host);
  return page !== undefined && port !== undefined && page.secure === secure && page.port === (port ?? (secure ? 443 : 80));
}

/** Headers through which a trusted proxy describes the browser's request instead of Host and the connection. */
const DESCRIBING = new Set(["x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "forwarded"]);

/** The joined value of a header in a raw list, as the resolver reads it (undefined when absent). */
function joined(raw: readonly string[], name: string): string | undefined {
  const values = raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === name);
  return values.length === 0 ? undefined : values.join(", ");
}

function without(raw: readonly string[], names: Set<string>): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (!names.has(raw[i]!.toLowerCase())) kept.push(raw[i]!, raw[i + 1]!);
  return kept;
}

function assertShape(result: ClientAddress): void {
  assert.ok(result.address === null || typeof result.address === "string");
  assert.equal(typeof result.loopbackEquivalent, "boolean");
  assert.match(result.basis, BASIS);
  for (const hop of result.hops) {
    assert.equal(typeof hop.trusted, "boolean");
    assert.ok(["socket", "proxy-protocol", "x-forwarded-for", "forwarded", "x-real-ip"].includes(hop.source));
    if (hop.address === null) assert.equal(typeof hop.raw, "string");
    else assert.equal(typeof hop.address, "string");
  }
  assert.deepEqual(Object.keys(result.checks).sort(), ["client", "forwarding", "host", "origin"]);
  for (const diagnostic of result.diagnostics) {
    assert.equal(typeof diagnostic.code, "string");
    assert.ok(diagnostic.message.length > 0);
  }
  // The explained run (checks, diagnostics) agrees with the fast one (basis): the first failed check, in the
  // order a, b, c, d, is the verdict.
  const { client, forwarding, host, origin } = result.checks;
  const verdict = result.basis.slice(result.basis.indexOf(":") + 1);
  const firstFailed = !client ? "remote-client" : !forwarding ? "unread-forwarding-header" : !host ? "host-not-local" : !origin ? "origin-not-local" : "local";
  if (result.address !== null) assert.equal(verdict === "loopback" || verdict === "trusted-path" ? "local" : verdict, firstFailed);
  if (result.loopbackEquivalent) {
    assert.notEqual(result.address, null);
    assert.deepEqual(result.checks, { client: true, forwarding: true, host: true, origin: true });
  } else {
    assert.ok(result.diagnostics.length > 0, "every false names the condition that failed");
  }
}

/** Raw headers as a real server delivers them: no control characters, latin1 only, no surrounding space. */
const wireHeaders = request.map((input) => {
  const raw: string[] = [];
  let host = false;
  for (let i = 0; i + 1 < input.rawHeaders.length; i += 2) {
    const name = input.rawHeaders[i]!;
    const value = input.rawHeaders[i + 1]!.replace(/[\0-\x1f\x7f]|[^\0-\xff]/g, "").trim();
    // Node's req.headers keeps only the first Host line; with two, the inputs cannot agree by design.
    if (name.toLowerCase() === "host") {
      if (host) continue;
      host = true;
    }
    raw.push(name, value);
  }
  return { ...input, rawHeaders: raw };
});

/** A chain whose first untrusted entry from the right is `client`, with client-written junk to its left. */
const walkedChain = fc.record({
  believed: header.filter((name) => name !== "x-real-ip"),
  client: fc.constantFrom("203.0.113.7", "198.51.100.4", "2001:db8::7", "::ffff:192.0.2.1"),
  proxies: fc.array(fc.oneof(fc.integer({ min: 1, max: 254 }).map((n) => `10.0.0.${n}`), fc.constantFrom("172.18.0.3", "::ffff:10.9.9.9")), { maxLength: 4 }),
  left: fc.tuple(fc.array(fc.oneof(junk, entry), { maxLength: 4 }), fc.array(fc.oneof(junk, entry), { maxLength: 4 })),
  host: hostValue,
  origin: fc.option(originValue, { nil: undefined }),
});
type Chain = typeof walkedChain extends fc.Arbitrary<infer T> ? T : never;

/** The request a walked chain makes with the client's junk `left` of it. */
function chainRequest(chain: Chain, left: string[]): LawRequest {
  const entries = [chain.client, ...chain.proxies];
  const forwarded = chain.believed === "forwarded";
  const written = [...left.map((text) => (forwarded ? `for=${text}` : text)), ...entries.map((e) => (forwarded ? `for="${e.includes(":") ? `[${e}]` : e}"` : e))];
  const rawHeaders = ["Host", chain.host, forwarded ? "Forwarded" : "X-Forwarded-For", written.join(", ")];
  if (chain.origin !== undefined) rawHeaders.push("Origin", chain.origin);
  return { remoteAddress: "172.18.0.1", rawHeaders, trustedProxies: ["172.18.0.0/16", "10.0.0.0/8"], header: chain.believed };
}

// Trust matching against ipaddr.js's own `match`: IPv4-mapped addresses taken as IPv4, and IPv4 addresses
// matched against IPv6 ranges in their mapped form, the rule the compiled list folds in at compile time.
const cidr = fc.oneof(
  fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([a, bits]) => `${a}/${bits}`),
  fc.tuple(ipv6, fc.integer({ min: 0, max: 128 })).map(([a, bits]) => `${a}/${bits}`),
  fc.tuple(ipv4, fc.integer({ min: 96, max: 128 })).map(([a, bits]) => `::ffff:${a}/${bits}`),
  fc.integer({ min: 0, max: 96 }).map((bits) => `::ffff:0:0/${bits}`),
);

function ipaddrMatches(text: string, cidrs: readonly string[]): boolean {
  let candidate = ipaddr.parse(text);
  if (candidate.kind() === "ipv6" && (candidate as ipaddr.IPv6).isIPv4MappedAddress()) candidate = (candidate as ipaddr.IPv6).toIPv4Address();
  return cidrs.some((range) => {
    const [network, bits] = ipaddr.parseCIDR(range);
    if (network.kind() === candidate.kind()) return candidate.match(network, bits);
    return candidate.kind() === "ipv4" && (candidate as ipaddr.IPv4).toIPv4MappedAddress().match(network, bits);
  });
}

const asIs = (input: Request): LawRequest => input;

export const LAWS: Record<string, Law<never>> = {
  "never throws, and always returns the documented shape": law(request, asIs, false, (input) => {
    assertShape(resolve(input));
  }),

  "an untrusted peer that is not loopback is never local": law(request, asIs, true, (input) => {
    const result = resolve(input);
    const peer = result.hops[0];
    if (peer !== undefined && !peer.trusted && peer.address !== null && !peer.address.startsWith("127.") && peer.address !== "::1") {
      assert.equal(result.loopbackEquivalent, false);
    }
  }),

  "a request without a local Host, or with an Origin that is not this server's page, is never local": law(request, asIs, true, (input) => {
    const host = joined(input.rawHeaders, "host");
    const origin = joined(input.rawHeaders, "origin");
    // Where a proxy describes the browser's request, the page is compared with that (the next laws).
    const described = input.rawHeaders.some((name, i) => i % 2 === 0 && DESCRIBING.has(name.toLowerCase()));
    if (host === undefined || !LOCAL_HOSTS.has(host) || (!described && origin !== undefined && !servedHere(host, origin, input.secure))) {
      assert.equal(resolve(input).loopbackEquivalent, false);
    }
  }),

  "no Host-bearing value that names another machine is ever local: Host, each X-Forwarded-Host item, each Forwarded host= the walk read": law(fc.oneof(request, describedRequest), asIs, true, (input: Request) => {
    const result = resolve(input);
    if (!result.loopbackEquivalent) return;
    const values = [joined(input.rawHeaders, "host")!];
    const forwardedHost = joined(input.rawHeaders, "x-forwarded-host");
    if (forwardedHost !== undefined) values.push(...forwardedHost.split(",").map((item) => item.trim()).filter((item) => item !== ""));
    const forwarded = joined(input.rawHeaders, "forwarded");
    if (forwarded !== undefined && input.header === "forwarded") {
      // The elements the walk read are the rightmost ones, one per header hop (forwarded-parse reads them).
      const read = result.hops.filter((hop) => hop.source === "forwarded").length;
      for (const element of parseForwarded(forwarded).slice(-read || Infinity)) if (element.host !== undefined) values.push(element.host);
    }
    for (const value of values) assert.ok(LOCAL_HOSTS.has(value), `${JSON.stringify(value)} names another machine, yet the answer is local`);
  }),

  "an Origin of another scheme than the request's is never local: the connection's, or what X-Forwarded-Proto says": law(fc.oneof(request, describedRequest), asIs, true, (input: Request) => {
    const origin = joined(input.rawHeaders, "origin");
    if (origin === undefined || joined(input.rawHeaders, "forwarded") !== undefined) return;
    const proto = joined(input.rawHeaders, "x-forwarded-proto")?.split(",")[0]!.trim().toLowerCase();
    const secure = proto === undefined ? input.secure : proto === "https" || proto === "wss" ? true : proto === "http" || proto === "ws" ? false : undefined;
    if (secure === undefined) return;
    if ((origin.startsWith("https://") && !secure) || (origin.startsWith("http://") && secure)) assert.equal(resolve(input).loopbackEquivalent, false);
  }),

  "a request without Origin whose Sec-Fetch-Site is other than same-origin or none is never local": law(request, asIs, true, (input) => {
    const site = joined(input.rawHeaders, "sec-fetch-site");
    if (joined(input.rawHeaders, "origin") === undefined && site !== undefined && site !== "same-origin" && site !== "none") {
      assert.equal(resolve(input).loopbackEquivalent, false);
    }
  }),

  "an untrusted peer's proxy headers never change the address or the path, and any of them means not local": law(request, asIs, true, (input) => {
    const result = resolve(input);
    if (result.hops[0]?.trusted !== false) return;
    const bare = resolve({ ...input, rawHeaders: without(input.rawHeaders, PROXY) });
    assert.equal(result.address, bare.address);
    assert.deepEqual(result.hops, bare.hops);
    if (input.rawHeaders.some((name, i) => i % 2 === 0 && PROXY.has(name.toLowerCase()))) assert.equal(result.loopbackEquivalent, false);
  }),

  "from a trusted proxy, an address header other than the believed one means not local": law(request, asIs, true, (input) => {
    const result = resolve(input);
    if (result.hops[0]?.trusted !== true) return;
    const others: string[] = PROXY_HEADERS.filter((row) => row.kind === "address" && row.name !== input.header).map((row) => row.name);
    if (input.rawHeaders.some((name, i) => i % 2 === 0 && others.includes(name.toLowerCase()))) assert.equal(result.loopbackEquivalent, false);
  }),

  "anything a client writes left of the first untrusted entry never changes the answer": law(walkedChain, (chain) => chainRequest(chain, chain.left[0]), false, (chain) => {
    const answer = (left: string[]) => {
      const { rawHeaders, ...options } = chainRequest(chain, left);
      return whole(resolveClientAddress({ ...options, headers: rawHeaders }));
    };
    const reference = answer([]);
    assert.equal(reference["address"], canonical(chain.client));
    assert.deepEqual(answer(chain.left[0]), reference);
    assert.deepEqual(answer(chain.left[1]), reference);
  }),

  "on valid X-Forwarded-For chains the address agrees with proxy-addr": law(
    xffRequest,
    ({ remoteAddress, xff, trustedProxies }) => ({ remoteAddress, rawHeaders: xff === undefined ? [] : ["X-Forwarded-For", xff], trustedProxies }),
    false,
    ({ remoteAddress, xff, trustedProxies }) => {
      assert.equal(ours(remoteAddress, xff, trustedProxies).address, canonical(theirs(remoteAddress, xff, trustedProxies)));
    },
  ),

  "trust matching agrees with ipaddr.js's match (IPv4, IPv6, mapped)": law(
    fc.tuple(address, fc.array(cidr, { maxLength: 6 })),
    ([text, cidrs]) => ({ remoteAddress: text, rawHeaders: ["Host", "localhost"], trustedProxies: cidrs }),
    false,
    ([text, cidrs]) => {
      assert.equal(compileTrustedProxies(cidrs).trusts(parseIp(text)!), ipaddrMatches(text, cidrs));
    },
  ),

  "the address is canonical: it parses back to itself, with no mapped form, port or zone": law(request, asIs, false, (input) => {
    const { address: text } = resolve(input);
    if (text === null) return;
    assert.notEqual(isIP(text), 0);
    assert.equal(formatAddress(parseIp(text)!), text);
    assert.ok(!/[%[\]]/.test(text) && !/^::ffff:/i.test(text) && text === text.toLowerCase());
  }),

  "the work is bounded: hops never exceed maxHops + 1, whatever the header's length": law(
    fc.tuple(request, fc.integer({ min: 0, max: 3000 }), address).map(([input, padding, filler]): Request => ({
      ...input,
      rawHeaders: [...input.rawHeaders, input.header === "forwarded" ? "Forwarded" : "X-Forwarded-For", Array(padding).fill(input.header === "forwarded" ? `for="[${filler}]"` : filler).join(", ")],
    })),
    asIs,
    false,
    (input) => {
      const result = resolve(input);
      assert.ok(result.hops.length <= input.maxHops + 1, `${result.hops.length} hops with maxHops ${input.maxHops}`);
    },
  ),

  "Node's headers, rawHeaders and WHATWG Headers give the same answer for the same request": law(wireHeaders, asIs, false, (input) => {
    const whatwg = new Headers();
    for (let i = 0; i + 1 < input.rawHeaders.length; i += 2) whatwg.append(input.rawHeaders[i]!, input.rawHeaders[i + 1]!);
    const fromRaw = whole(resolve(input));
    assert.deepEqual(whole(resolve(input, nodeHeaders(input.rawHeaders))), fromRaw);
    assert.deepEqual(whole(resolve(input, whatwg)), fromRaw);
  }),

  "a compiled list and the same raw list give the same answer": law(request, asIs, false, (input) => {
    assert.deepEqual(whole(resolveClientAddress({ ...input, headers: input.rawHeaders, trustedProxies: compileTrustedProxies(input.trustedProxies) })), whole(resolve(input)));
  }),

  "a declared source is judged as that socket peer would be, behind the balancer as the nearest, trusted hop": law(
    fc.tuple(request, address),
    ([input, balancer]) => ({ ...input, remoteAddress: balancer, declaredSource: input.remoteAddress ?? null }),
    false,
    ([input, balancer]) => {
      const direct = whole(resolve(input));
      const declared = whole(resolveClientAddress({ ...input, remoteAddress: balancer, declaredSource: input.remoteAddress ?? null, headers: input.rawHeaders }));
      assertShape(resolveClientAddress({ ...input, remoteAddress: balancer, declaredSource: input.remoteAddress ?? null, headers: input.rawHeaders }));
      const asDeclared = (source: string) => (source === "socket" ? "proxy-protocol" : source);
      const basis = direct["basis"] as string;
      assert.equal(declared["address"], direct["address"]);
      assert.equal(declared["loopbackEquivalent"], direct["loopbackEquivalent"]);
      assert.equal(declared["basis"], basis.replace(/^socket:/, "proxy-protocol:"));
      assert.deepEqual(declared["checks"], direct["checks"]);
      const hops = direct["hops"] as Array<Record<string, unknown>>;
      assert.deepEqual(declared["hops"], [{ address: formatAddress(parseIp(balancer)!), trusted: true, source: "socket" }, ...hops.map((hop) => ({ ...hop, source: asDeclared(hop["source"] as string) }))]);
      const code = (d: { code: string }) => (input.remoteAddress === undefined && d.code === "invalid-peer" ? "unknown-declared-source" : d.code);
      assert.deepEqual(
        (declared["diagnostics"] as Array<{ code: string }>).map((d) => d.code),
        (direct["diagnostics"] as Array<{ code: string }>).map(code),
      );
    },
  ),
};

function law<T>(arbitrary: fc.Arbitrary<T>, asRequest: (input: T) => LawRequest, demandsNotLocal: boolean, check: (input: T) => void): Law<never> {
  return { arbitrary, check, asRequest, demandsNotLocal } as unknown as Law<never>;
}

/** A law as a fast-check property. */
export function property(named: Law<never>): fc.IProperty<[never]> {
  return fc.property(named.arbitrary, (input) => named.check(input));
}
