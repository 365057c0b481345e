// Generators of requests and trust lists, shared by the property tests (npm test) and the long fuzz run
// (npm run fuzz). They draw addresses from a few networks that the trust lists also use, so walks go deep,
// and mix in every malformed shape the resolver must survive.
import { IncomingMessage, type IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import fc from "fast-check";
import ipaddr from "ipaddr.js";

const octet = fc.integer({ min: 0, max: 255 });
const group = fc.integer({ min: 0, max: 0xffff });

export const ipv4 = fc.oneof(
  fc.tuple(octet, octet, octet).map(([a, b, c]) => `127.${a}.${b}.${c}`),
  fc.tuple(octet, octet).map(([a, b]) => `10.0.${a}.${b}`),
  fc.integer({ min: 1, max: 6 }).map((n) => `172.18.0.${n}`),
  octet.map((n) => `192.0.2.${n}`),
  octet.map((n) => `203.0.113.${n}`),
  fc.tuple(octet, octet, octet, octet).map((parts) => parts.join(".")),
);

export const ipv6 = fc.oneof(
  fc.constant("::1"),
  fc.integer({ min: 1, max: 4 }).map((n) => `fd18::${n}`),
  group.map((n) => `2001:db8::${n.toString(16)}`),
  fc.array(group, { minLength: 8, maxLength: 8 }).map((parts) => new ipaddr.IPv6(parts).toString()),
);

/** Any strict address, in the forms Node reports for a socket peer. */
export const address = fc.oneof(ipv4, ipv6, ipv4.map((v4) => `::ffff:${v4}`));

/** What a client or a broken proxy may put where an address belongs. */
export const junk = fc.oneof(
  fc.constantFrom("unknown", "_hidden", "127.1", "0177.0.0.1", "0x7f.0.0.1", "2130706433", "", " ", "::127.0.0.1%", "[::1", "1.2.3.4:99999"),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)), maxLength: 12 }),
);

/** An X-Forwarded-For entry as proxies write it: bare, with a port, bracketed. */
export const entry = fc.oneof(
  { weight: 6, arbitrary: address },
  { weight: 1, arbitrary: fc.tuple(ipv4, fc.integer({ min: 0, max: 65535 })).map(([a, port]) => `${a}:${port}`) },
  { weight: 1, arbitrary: fc.tuple(ipv6, fc.integer({ min: 0, max: 65535 })).map(([a, port]) => `[${a}]:${port}`) },
  { weight: 1, arbitrary: junk },
);

export const trustEntry = fc.constantFrom(
  "loopback",
  "uniquelocal",
  "linklocal",
  "172.18.0.1",
  "172.18.0.0/16",
  "10.0.0.0/8",
  "10.0.0.0/24",
  "::ffff:10.0.0.0/104",
  "fd18::/64",
  "fd18::1",
  "2001:db8::/32",
  "192.0.2.0/25",
  "203.0.113.7",
);

export const trustList: fc.Arbitrary<string[]> = fc.array(trustEntry, { maxLength: 4 });

export const hostValue = fc.oneof(
  fc.constantFrom("localhost", "LOCALHOST:18789", "127.0.0.1:18789", "[::1]:18789", "app.localhost", "mybox"),
  fc.constantFrom("localhost.evil.example", "rebind.evil.example:18789", "172.18.0.2:18789", "127.1", ""),
  junk,
);

export const originValue = fc.oneof(
  fc.constantFrom("http://127.0.0.1:18789", "http://localhost:18789", "https://app.localhost"),
  // This machine, another application: a dev server, another local service.
  fc.constantFrom("http://localhost:8000", "http://127.0.0.1:5173", "http://[::1]:3000", "http://localhost"),
  fc.constantFrom("https://evil.example", "null", "file://", "http://localhost.evil.example"),
  junk,
);

/** Fetch Metadata as browsers send it, and what they do not. */
export const fetchSite = fc.constantFrom("same-origin", "none", "same-site", "cross-site", "", "Same-Origin", "cross-site, same-origin");

/** Headers proxies and tunnels add besides the three the walk reads (a sample of PROXY_HEADERS, spelled as sent). */
export const proxySignal = fc.constantFrom("X-Forwarded-Proto", "X-Forwarded-Host", "Via", "CF-Connecting-IP", "Cf-Ray", "Tailscale-User-Login", "X-Original-Forwarded-For", "x-envoy-external-address", "True-Client-IP");

const headerName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("Host", "Origin", "X-Forwarded-For", "Forwarded", "X-Real-IP", "Sec-Fetch-Site") },
  { weight: 2, arbitrary: fc.constantFrom("X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-User") },
  { weight: 2, arbitrary: fc.constantFrom("host", "ORIGIN", "x-forwarded-for", "forwarded", "x-REAL-ip", "sec-fetch-SITE") },
  { weight: 2, arbitrary: proxySignal },
  { weight: 1, arbitrary: fc.constantFrom("__proto__", "constructor", "X_Forwarded_For", "toString", "hasOwnProperty", "User-Agent") },
);

/** What a proxy says of the browser's request: X-Forwarded-Host items, X-Forwarded-Proto, X-Forwarded-Port. */
export const forwardedHostValue = fc.oneof(
  hostValue,
  fc.array(hostValue, { minLength: 2, maxLength: 3 }).map((items) => items.join(", ")),
);
export const forwardedProtoValue = fc.constantFrom("http", "https", "HTTPS", "ws", "wss", "https, http", "gopher", "");
export const forwardedPortValue = fc.constantFrom("80", "443", "18789", "8080", "080", "x", "");

const forwardedElement = fc.oneof(
  address.map((a) => (a.includes(":") ? `for="[${a}]"` : `for=${a}`)),
  fc.tuple(address, hostValue, fc.constantFrom("http", "https")).map(([a, host, proto]) => `for="${a.includes(":") ? `[${a}]` : a}";host="${host.replace(/["\\]/g, "")}";proto=${proto}`),
  fc.tuple(ipv4, fc.integer({ min: 0, max: 65535 })).map(([a, port]) => `for="${a}:${port}";proto=https`),
  fc.constantFrom("for=unknown", "for=_hidden", 'for="[2001:db8::1]:4711"', "proto=https", 'for="unterminated', "for=;by"),
  // nginx's bare IPv6, a repeated parameter, an empty pair, an empty element between commas.
  fc.constantFrom("for=2001:db8::1", "for=[2001:db8::1]:80;by=::1", "for=192.0.2.1;for=127.0.0.1", "for=127.0.0.1;FOR=192.0.2.1", "for=192.0.2.1;;proto=http", "", " "),
);

function valueFor(name: string): fc.Arbitrary<string> {
  switch (name.toLowerCase()) {
    case "host":
      return hostValue;
    case "origin":
      return originValue;
    case "x-forwarded-for":
      // Empty elements included: senders that merge lines write "a, , b" and trailing commas.
      return fc.array(fc.oneof({ weight: 6, arbitrary: entry }, { weight: 1, arbitrary: fc.constantFrom("", " ") }), { minLength: 1, maxLength: 6 }).map((entries) => entries.join(","));
    case "forwarded":
      return fc.array(forwardedElement, { minLength: 1, maxLength: 4 }).map((elements) => elements.join(", "));
    case "x-real-ip":
      return entry;
    case "sec-fetch-site":
      return fetchSite;
    case "x-forwarded-host":
      return forwardedHostValue;
    case "x-forwarded-proto":
      return forwardedProtoValue;
    case "x-forwarded-port":
      return forwardedPortValue;
    default:
      return junk;
  }
}

/** A raw header list (Node's rawHeaders), with repeated lines, odd casing and hostile names. */
export const rawHeaders = fc
  .array(headerName.chain((name) => valueFor(name).map((value) => [name, value] as const)), { maxLength: 8 })
  .map((pairs) => pairs.flat());

export const peer = fc.oneof({ weight: 12, arbitrary: address }, { weight: 1, arbitrary: junk }, { weight: 1, arbitrary: fc.constant(undefined) });

export const header = fc.constantFrom("x-forwarded-for", "forwarded", "x-real-ip") as fc.Arbitrary<"x-forwarded-for" | "forwarded" | "x-real-ip">;

const anyRequest = fc.record({
  remoteAddress: peer,
  secure: fc.boolean(),
  rawHeaders,
  trustedProxies: trustList,
  header,
  maxHops: fc.oneof({ weight: 4, arbitrary: fc.constant(64) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 5 }) }),
});

// A handshake shaped like a local one (a loopback or NAT-gateway peer, one Host, maybe an Origin): random
// header lists seldom are, and the locality laws need many near-local requests to mean anything.
const nearLocalRequest = fc.record({
  remoteAddress: fc.constantFrom("127.0.0.1", "::1", "::ffff:127.0.0.1", "172.18.0.1", "::ffff:172.18.0.1", "203.0.113.9"),
  secure: fc.boolean(),
  rawHeaders: fc
    .tuple(
      hostValue,
      fc.option(originValue, { nil: undefined }),
      fc.option(fc.tuple(fc.constantFrom("X-Forwarded-For", "Forwarded", "X-Real-IP"), sometimes(fc.tuple(hostValue, fc.constantFrom("http", "https")))), { nil: undefined, freq: 4 }),
      fc.option(fetchSite, { nil: undefined, freq: 2 }),
      fc.option(proxySignal, { nil: undefined, freq: 4 }),
      sometimes(forwardedHostValue),
      sometimes(forwardedProtoValue),
      sometimes(forwardedPortValue),
    )
    .map(([host, origin, forwarding, site, signal, xfh, xfproto, xfport]) => [
      "Host",
      host,
      ...(origin === undefined ? [] : ["Origin", origin]),
      // A Forwarded element may describe the browser's request too (RFC 7239 host= and proto=).
      ...(forwarding === undefined ? [] : [forwarding[0], forwarding[0] !== "Forwarded" ? "127.0.0.1" : forwarding[1] === undefined ? "for=127.0.0.1" : `for=127.0.0.1;host="${forwarding[1][0].replace(/["\\]/g, "")}";proto=${forwarding[1][1]}`]),
      ...(site === undefined ? [] : ["Sec-Fetch-Site", site]),
      ...(signal === undefined ? [] : [signal, signal.toLowerCase().includes("ip") ? "127.0.0.1" : "https"]),
      ...(xfh === undefined ? [] : ["X-Forwarded-Host", xfh]),
      ...(xfproto === undefined ? [] : ["X-Forwarded-Proto", xfproto]),
      ...(xfport === undefined ? [] : ["X-Forwarded-Port", xfport]),
    ]),
  trustedProxies: fc.constantFrom<string[]>([], ["172.18.0.1"], ["loopback"], ["172.18.0.0/16", "loopback"]),
  header,
  maxHops: fc.constant(64),
});

/**
 * A request through a trusted proxy on this host that describes the browser's request (Apache, Caddy,
 * Traefik, Tailscale Serve): mostly local values, so that one foreign value or scheme is what decides.
 */
export const describedRequest: fc.Arbitrary<{ remoteAddress: string | undefined; secure: boolean; rawHeaders: string[]; trustedProxies: string[]; header: "x-forwarded-for" | "forwarded" | "x-real-ip"; maxHops: number }> = fc
  .tuple(
    fc.constantFrom("127.0.0.1", "::1"),
    fc.boolean(),
    fc.constantFrom("localhost", "127.0.0.1:18789", "[::1]:18789"),
    fc.boolean(),
    fc.array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom("localhost", "LOCALHOST:18789", "app.localhost", "127.0.0.1:18789") }, { weight: 1, arbitrary: hostValue }), { minLength: 1, maxLength: 3 }),
    sometimes(fc.constantFrom("http", "https", "HTTPS", "wss", "gopher")),
    fc.option(originValue, { nil: undefined }),
    sometimes(fc.constantFrom("18789", "443", "80")),
  )
  .map(([remoteAddress, secure, host, forwarded, hosts, proto, origin, port]) => ({
    remoteAddress,
    secure,
    rawHeaders: [
      "Host",
      host,
      ...(forwarded
        ? ["Forwarded", `for=127.0.0.1;host="${hosts[0]!.replace(/["\\]/g, "")}"${proto === undefined ? "" : `;proto=${proto}`}`]
        : ["X-Forwarded-For", "127.0.0.1", "X-Forwarded-Host", hosts.join(", "), ...(proto === undefined ? [] : ["X-Forwarded-Proto", proto])]),
      ...(forwarded && hosts.length > 1 ? ["X-Forwarded-Host", hosts.slice(1).join(", ")] : []),
      ...(origin === undefined ? [] : ["Origin", origin]),
      ...(port === undefined ? [] : ["X-Forwarded-Port", port]),
    ],
    trustedProxies: ["loopback"],
    header: forwarded ? "forwarded" : "x-forwarded-for",
    maxHops: 64,
  }));

/** A value a quarter of the time, else undefined (fc.option's `freq` can only make absence the rarer). */
function sometimes<T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
}

/** A whole request: peer, raw headers, trust list, believed header, maxHops. */
export const request = fc.oneof(anyRequest, nearLocalRequest);

/**
 * The `req.headers` object Node builds from a raw header list, built by Node's own code (the method its HTTP
 * parser calls), so that first-value-wins names such as Host and the joining rules are Node's, not a copy.
 */
export function nodeHeaders(raw: readonly string[]): IncomingHttpHeaders {
  const message = new IncomingMessage(null as unknown as Socket) as IncomingMessage & { _addHeaderLines(raw: string[], n: number): void };
  message._addHeaderLines([...raw], raw.length);
  return message.headers;
}
