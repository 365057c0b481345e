// The floors: the least hand-written code that gives the library's answers on a benchmark row's requests,
// written for the benchmark only. The library is measured against them to show how far it is from the limit.
//
// floorClient answers "who is the client" for an IPv4 X-Forwarded-For walk (the one-hop and five-hop rows):
// it reads the header from its right end, parses each dotted quad by hand into an integer, and
// binary-searches sorted, merged [start, end] ranges; no validation beyond that, no locality, no result object.
//
// floorResolve answers what the library answers, the client's address and loopbackEquivalent, for the
// requests of two rows (bench/requests.ts; test/bench-floors.test.ts holds it to the library on every one):
// fresh traffic (IPv4) and Chromium's WebSocket handshake. See there for what it does and leaves out.
// floorResolveRequest is the same on the IncomingMessage objects a node:http server received for the latter.
import type { IncomingMessage } from "node:http";

export interface FloorTrust {
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

/** Sorted, merged IPv4 ranges from CIDR strings (IPv6 entries are ignored: the floor walks IPv4 only). */
export function floorTrust(cidrs: readonly string[]): FloorTrust {
  const ranges: Array<[number, number]> = [];
  for (const cidr of cidrs) {
    const [address, bits = "32"] = cidr.split("/");
    const value = quad(address!, 0, address!.length);
    if (value < 0) continue;
    const size = 2 ** (32 - Number(bits));
    const start = Math.floor(value / size) * size;
    ranges.push([start, start + size - 1]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of ranges) {
    const last = merged.at(-1);
    if (last && start <= last[1] + 1) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return { starts: Uint32Array.from(merged, (r) => r[0]), ends: Uint32Array.from(merged, (r) => r[1]) };
}

function trusted(trust: FloorTrust, value: number): boolean {
  let lo = 0;
  let hi = trust.starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (trust.starts[mid]! <= value) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi >= 0 && value <= trust.ends[hi]!;
}

/** A dotted quad in text[from, to) as an integer, or -1. */
function quad(text: string, from: number, to: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + c - 48;
      digits++;
      if (part > 255) return -1;
    } else return -1;
  }
  return dots === 3 && digits > 0 ? value * 256 + part : -1;
}

/** The client of a peer and an X-Forwarded-For value: the first untrusted entry from the right. */
export function floorClient(peer: string, xff: string | undefined, trust: FloorTrust): string {
  if (xff === undefined || !trusted(trust, quad(peer, 0, peer.length))) return peer;
  let end = xff.length;
  for (;;) {
    const comma = xff.lastIndexOf(",", end - 1);
    let start = comma + 1;
    let stop = end;
    while (xff.charCodeAt(start) === 32) start++;
    while (stop > start && xff.charCodeAt(stop - 1) === 32) stop--;
    const value = quad(xff, start, stop);
    if (value < 0) return "";
    if (!trusted(trust, value) || comma < 0) return xff.slice(start, stop);
    end = comma;
  }
}

/** What floorResolve answers: the library's `address` and `loopbackEquivalent`, and nothing else. */
export interface FloorAnswer {
  address: string;
  loopbackEquivalent: boolean;
}

/**
 * The proxy headers of the trust model's rule 5b (docs/trust-model.md), by their lower-case names (src/core/proxy-headers.ts; the test
 * holds the two lists together), and any other X-Forwarded-* name.
 */
const PROXY_HEADERS = new Set([
  "x-forwarded-for", "forwarded", "x-real-ip", "x-original-forwarded-for", "x-client-ip", "x-cluster-client-ip",
  "cf-connecting-ip", "cf-connecting-ipv6", "true-client-ip", "fastly-client-ip", "fly-client-ip",
  "x-envoy-external-address", "cloudfront-viewer-address", "x-azure-clientip", "x-azure-socketip", "x-forwarded-proto", "x-forwarded-host",
  "x-forwarded-port", "x-forwarded-server", "x-forwarded-prefix", "via", "cdn-loop", "cf-ray", "cf-visitor",
  "fastly-ff", "tailscale-user-login", "tailscale-user-name", "tailscale-user-profile-pic", "tailscale-funnel-request",
]);
export const FLOOR_PROXY_HEADERS: ReadonlySet<string> = PROXY_HEADERS;

/**
 * The client and whether it counts as local, for the requests of the fresh-traffic (IPv4) row and of
 * Chromium's WebSocket handshake row (bench/requests.ts), written into `out` (no object made per request).
 *
 * It makes, from the request's own values, each decision the trust model (docs/trust-model.md) makes on these requests,
 * and stops at the first that settles the answer, as the rules do; and it does nothing the rows' requests do
 * not need. Their peers and X-Forwarded-For are dotted-quad IPv4, X-Forwarded-For is one entry, every Host
 * is a name or an IPv4 literal with a port, every Origin is http:// and such a host, no connection is TLS,
 * and no request that gets as far as rule 5b carries a proxy header. So:
 * - rules 1 and 2, the client: the peer parsed and looked up in the trust ranges; a trusted peer's
 *   X-Forwarded-For is the client (its one entry, parsed and looked up in turn). No walk of more entries, no
 *   IPv6, no ports or brackets, no Forwarded or X-Real-IP, no hop limit, no canonical text (the values are
 *   canonical already: the text is the answer);
 * - rule 5a, client: the client is in 127.0.0.0/8, or everything on the path is trusted; most requests end
 *   here (a public client);
 * - rule 5b, forwarding: any header of the table present is not local (where the rules would read a trusted
 *   proxy's descriptive headers, none is present);
 * - rule 5c, host: Host is an IPv4 literal in 127.0.0.0/8 with a port (no `localhost` names, no IPv6, no
 *   localHosts, no X-Forwarded-Host);
 * - rule 5d, origin: Origin is http:// (the request's scheme: no TLS, no X-Forwarded-Proto) and a host that
 *   passes 5c, with the Host's port. Chromium sends Origin on every handshake: no Fetch Metadata.
 * No validation beyond what these values need: a malformed value is not among them. No diagnostics, no
 * basis, no hops, no memo. Rules 5b to 5d are checked, not assumed, although they hold on every request that
 * reaches them: whatever resolves these requests correctly must read every header name and the Host and
 * Origin of a request it calls local (one header more or one Host else changes the answer); a floor that
 * skipped them would be a table of these answers, not the least work that gives them.
 */
export function floorResolve(peer: string, headers: Readonly<Record<string, string>>, trust: FloorTrust, out: FloorAnswer): FloorAnswer {
  let client = quad(peer, 0, peer.length);
  let pathTrusted = trusted(trust, client);
  out.address = peer;
  if (pathTrusted) {
    const xff = headers["x-forwarded-for"];
    if (xff !== undefined) {
      client = quad(xff, 0, xff.length);
      pathTrusted = trusted(trust, client);
      out.address = xff;
    }
  }
  out.loopbackEquivalent = (client >>> 24 === 127 || pathTrusted) && localRequest(headers);
  return out;
}

/** Rules 5b, 5c and 5d, for the values of these rows. */
function localRequest(headers: Readonly<Record<string, string>>): boolean {
  for (const name in headers) if (PROXY_HEADERS.has(name) || name.startsWith("x-forwarded-")) return false;
  const port = loopbackPort(headers.host!, 0);
  const origin = headers.origin!;
  return port >= 0 && origin.startsWith("http://") && loopbackPort(origin, 7) === port;
}

/** The port of "a.b.c.d:port" at text[start...] when a.b.c.d is in 127.0.0.0/8, or -1. */
function loopbackPort(text: string, start: number): number {
  const colon = text.indexOf(":", start);
  if (quad(text, start, colon) >>> 24 !== 127) return -1;
  let port = 0;
  for (let i = colon + 1; i < text.length; i++) port = port * 10 + text.charCodeAt(i) - 48;
  return port;
}

/**
 * floorResolve on a request a node:http server received (the Chromium row's resolveRequest line): its socket's
 * peer, and Node's own headers object, which a server's first reader (ws, a framework, proxy-addr) has built by
 * then. Taking the request rather than its plain values, it pays what any reader of a received request pays:
 * the socket's `remoteAddress` getter and the request's objects, cold in cache.
 */
export function floorResolveRequest(req: IncomingMessage, trust: FloorTrust, out: FloorAnswer): FloorAnswer {
  return floorResolve(req.socket.remoteAddress!, req.headers as Readonly<Record<string, string>>, trust, out);
}
