// The trust model (docs/trust-model.md) as code, rule by rule and in its words. One function, `decide`,
// holds every rule. The fast path runs it without an explanation and stops at the first condition that
// fails; the hops, the four checks and the diagnostics come from running the same function again with an
// explanation (explain.ts words it), the first time anyone reads them. Nobody pays for messages nobody reads,
// and there is no second copy of a rule to drift.
import { type Address, canonicalText, decimalPort, formatAddress, isLoopback } from "./address.js";
import type { HopSource, UnattributableReason, Verdict } from "./answer.js";
import { EntryCursor, forwardedHosts } from "./entries.js";
import type { Explanation } from "./explain.js";
import type { HeaderValue } from "./headers.js";
import { type LocalOrigin, MAX_AUTHORITY, NOT_THIS_MACHINE, NO_PORT, browserOrigin, fetchSiteIsOwn, hostPort, localOrigin, sameServer, schemeIsSecure } from "./locality.js";
import { RememberedPeer, memoize } from "./memo.js";
import { ADDRESS_BITS, FORWARDED_BIT, X_FORWARDED_HOST_BIT, X_FORWARDED_PORT_BIT, X_FORWARDED_PROTO_BIT, bitOf } from "./proxy-headers.js";
import type { RequestHeaders, RequestState } from "./request.js";

const NO_HOSTS: readonly string[] = [];
// The longest Origin that can name this machine: the longer scheme and the longest authority.
const MAX_ORIGIN = "https://".length + MAX_AUTHORITY;
/** The headers a trusted proxy describes the browser's request in, beside Host. */
const DESCRIBING_BITS = FORWARDED_BIT | X_FORWARDED_HOST_BIT | X_FORWARDED_PROTO_BIT | X_FORWARDED_PORT_BIT;

// The peer is either the last one again (one proxy in front, or a keep-alive connection) or new: only the
// last is remembered, one for the socket peer and one for a declared source.
const socketPeer = new RememberedPeer();
const declaredPeer = new RememberedPeer();
// The walk's cursor, started again on each request's believed header: a request makes none (the rules run
// one request at a time, and nothing they call walks the believed header while they do).
const walk = new EntryCursor("x-forwarded-for", "");
// Host and Origin are pure functions of one string each, and a server sees the same few values over and
// over: memoized by value (unless localHosts is given). One too long to name this machine is refused before
// the memo sees it: never stored, never hashed.
const memoHostPort = memoize((host) => hostPort(host, NO_HOSTS));
const memoLocalOrigin = memoize((origin) => localOrigin(origin, NO_HOSTS));

/**
 * The rules for one request: returns the verdict and records the client's text and source on the request.
 * Without an explanation it returns at the first failed condition; with one, it evaluates all four locality
 * conditions, records the path, the checks and a diagnostic for every failure, and reaches the same decision
 * (the first failure, in the order a, b, c, d, names the verdict either way).
 */
export function decide(request: RequestState, why: Explanation | null): Verdict {
  const { trust, believed, maxHops } = request.options;
  request.client = null;
  request.source = "socket";
  request.elementHost = request.elementProto = undefined;
  request.examined = 0;
  request.peerTrusted = request.peerLoopback = false;

  // The peer: the socket's, or (rule 10) the source a trusted TCP load balancer declared, which takes its
  // place; the balancer is then the nearest hop, trusted because the listener's own list let it declare.
  const remote = request.remoteAddress;
  const socketAddress = typeof remote === "string" ? socketPeer.read(remote) : null;
  if (socketAddress === null) {
    // Fail closed (rule 6): a peer that is missing or not an address is no client.
    if (why !== null) {
      why.invalidPeer(remote);
      checkLocality(request, null, false, false, why);
    }
    return "invalid-peer";
  }
  // Canonical text: the peer's own when it is already (most are), made otherwise.
  const socketText = socketPeer.text;
  let peer = socketAddress;
  let peerText = socketText;
  let peerSource: HopSource = "socket";
  const declared = request.declared;
  if (declared !== undefined) {
    why?.hops.push({ address: socketText, trusted: true, source: "socket" });
    request.source = peerSource = "proxy-protocol";
    const source = typeof declared === "string" ? declaredPeer.read(declared) : null;
    if (source === null) {
      if (why !== null) {
        why.invalidDeclared(socketText, declared);
        checkLocality(request, null, false, false, why);
      }
      return "invalid-peer";
    }
    peer = source;
    peerText = declaredPeer.text;
  }
  const peerTrusted = (request.peerTrusted = trust.trustsPeer(peer));
  const peerLoopback = (request.peerLoopback = isLoopback(peer));
  why?.hops.push({ address: peerText, trusted: peerTrusted, source: peerSource });

  // Rule 1: an untrusted peer is the client. One that is not loopback is then not local, whatever its
  // headers say (rule 5a): such a request is answered without reading them.
  if (!peerTrusted && !peerLoopback && why === null) {
    request.client = peerText;
    return "remote-client";
  }
  if (why !== null) request.readHeaders();

  // Rules 2 and 3: a trusted peer's believed header is walked right to left, one entry at a time; the first
  // untrusted entry is the client, and if every entry is trusted, the leftmost is.
  let client = peer;
  let text = peerText;
  let allTrusted = peerTrusted;
  const value = peerTrusted ? request.believedHeader() : undefined;
  if (value !== undefined) {
    request.source = believed;
    if (value === null) {
      // Fail closed (rule 6): a header that is not text names nobody we can believe.
      if (why !== null) walkFailed(request, peer, why, () => why.walkNotText(request, peerText));
      return "invalid-entry";
    }
    const cursor = walk.over(request.options.believedShape, value);
    let clientText = "";
    let clientStart = 0;
    let clientEnd = 0;
    while (cursor.next()) {
      // Rule 8: bounded cost. At most maxHops entries are examined.
      if (request.examined === maxHops) {
        if (why !== null) walkFailed(request, peer, why, () => why.hopLimit(request));
        return "hop-limit";
      }
      request.examined++;
      // Rules 4 and 6: strict addresses; a malformed entry or one that is not an address ends the walk, not local.
      if (cursor.malformed !== null) {
        if (why !== null) walkFailed(request, peer, why, () => why.malformedEntry(request, cursor.raw, cursor.malformed!));
        return "malformed-header";
      }
      const address = cursor.address;
      if (address === null) {
        if (why !== null) walkFailed(request, peer, why, () => why.notAnAddress(request, cursor.written()));
        return "invalid-entry";
      }
      const trusted = trust.trusts(address);
      client = address;
      request.elementHost = cursor.host;
      request.elementProto = cursor.proto;
      // The text is made for the client only (and for each hop when explaining): most hops never need one.
      clientText = cursor.text;
      clientStart = cursor.start;
      clientEnd = cursor.end;
      why?.hops.push({ address: canonicalText(address, clientText, clientStart, clientEnd), trusted, source: believed });
      if (!trusted) {
        allTrusted = false;
        break;
      }
    }
    // A header without a single element (empty, or commas only) names nobody: the walk ends at the peer.
    if (request.examined === 0) request.source = peerSource;
    else text = canonicalText(client, clientText, clientStart, clientEnd);
  }
  request.client = text;

  // Rule 5a, client: the client is a loopback address, or every address on the path is trusted.
  let verdict: Verdict | undefined;
  const loopback = isLoopback(client);
  const clientLocal = loopback || allTrusted;
  if (!clientLocal) {
    verdict = "remote-client";
    if (why === null) return verdict;
    why.clientNotLocal(request, peer, peerText, socketText);
  }
  const failed = checkLocality(request, peer, peerTrusted, clientLocal, why);
  return verdict ?? failed ?? (loopback ? "loopback" : "trusted-path");
}

/** A walk that stopped without a client: `explain` words why, and the other conditions are explained too. */
function walkFailed(request: RequestState, peer: Address, why: Explanation, explain: () => void): void {
  explain();
  checkLocality(request, peer, true, false, why);
}

/**
 * Rules 5b, 5c and 5d (5a, `client`, was decided by the caller). Returns the first that fails as a verdict,
 * or undefined; without an explanation it stops there, with one it evaluates all three and records the four.
 */
function checkLocality(request: RequestState, peer: Address | null, peerTrusted: boolean, client: boolean, why: Explanation | null): Verdict | undefined {
  const { localHosts, localOrigins } = request.options;
  let failed: Verdict | undefined;
  const seen = request.readHeaders();

  // b. forwarding: no proxy header the walk did not read.
  const unread = unreadProxyHeaders(request, peerTrusted);
  const forwarding = unread === 0;
  if (!forwarding) {
    failed = "unread-forwarding-header";
    if (why === null) return failed;
    why.unreadHeaders(request, unread, peer, peerTrusted);
  }

  // c. host: the request the browser made (read through trusted proxies) names this machine.
  const port = readAsked(request, peerTrusted);
  const host = port !== NOT_THIS_MACHINE;
  if (!host) {
    failed ??= "host-not-local";
    if (why === null) return failed;
    why.hostNotLocal(request, peer);
  }

  // d. origin: no other page caused the request. Origin, when present, decides (it names the page); without
  // it, Fetch Metadata says whether a page elsewhere caused the request, where a browser would have sent it.
  const originValue = seen.origin;
  let origin: boolean;
  let page: LocalOrigin | null = null;
  if (originValue === undefined) {
    // Whether a browser would have sent Fetch Metadata is asked only once the request names this machine;
    // without localHosts, the host that did is a trustworthy name already (the same reader said so).
    const site = seen.secFetchSite;
    origin = site === undefined ? port === NOT_THIS_MACHINE || seen.askedSecure || localHosts.length === 0 || isTrustworthyName(seen.askedHost) : fetchSiteIsOwn(site);
  } else if (originValue === null) {
    origin = false;
  } else if (localOrigins.size > 0 && originValue.length <= MAX_ORIGIN && (localOrigins.has(originValue) || localOrigins.has(browserOrigin(originValue) ?? ""))) {
    origin = true;
  } else {
    page = localHosts.length > 0 ? localOrigin(originValue, localHosts) : originValue.length > MAX_ORIGIN ? null : memoLocalOrigin(originValue);
    // Scheme and port are compared only when the request names this machine; otherwise c has failed already.
    origin = page !== null && (port === NOT_THIS_MACHINE || sameServer(page, port, seen.askedSecure));
  }
  if (!origin) {
    failed ??= "origin-not-local";
    if (why === null) return failed;
    why.originNotLocal(request, page, port);
  }
  if (why !== null) why.checks = { client, forwarding, host, origin };
  return failed;
}

/**
 * The proxy headers the walk did not read (a bit each, PROXY_HEADERS' rows): from a trusted proxy, an address
 * header other than the believed one, a hop the walk cannot see, unless the preset's front writes it and it
 * names an address the walk read (agreeing); from anyone else, any proxy header, a proxy or tunnel on this
 * host that nobody declared.
 */
function unreadProxyHeaders(request: RequestState, peerTrusted: boolean): number {
  const seen = request.readHeaders();
  if (!peerTrusted) return seen.proxyHeaders;
  const unread = seen.proxyHeaders & ADDRESS_BITS & ~request.options.believedBit;
  return (unread & request.options.alsoBits) === 0 ? unread : unread & ~agreeing(request);
}

/**
 * The preset's other address headers that agree with the believed one: their nearest entry names an address
 * the walk read in the believed header, so they name no hop it did not see. The front writes them about the
 * peer it saw (Traefik's X-Real-Ip, nginx's $remote_addr: the believed header's nearest entry; Cloudflare's
 * X-Forwarded-For entry: the visitor in CF-Connecting-IP), or passes on what a front it trusts wrote about a
 * client further out (Traefik behind a balancer it trusts). One that names any other address is a hop unseen.
 */
function agreeing(request: RequestState): number {
  const seen = request.readHeaders();
  let bits = 0;
  if (typeof seen.believed !== "string" || seen.kept === null || request.examined === 0) return bits;
  const read = new Set<string>();
  const cursor = new EntryCursor(request.options.believed, seen.believed);
  // The entries the walk read are there to read again; the last may be one that ended it (not an address).
  for (let entry = 0; entry < request.examined; entry++) {
    cursor.next();
    if (cursor.address !== null) read.add(formatAddress(cursor.address));
  }
  for (const name of request.options.preset!.alsoWrites) {
    const bit = bitOf(name);
    const value = seen.kept.get(bit);
    if (typeof value !== "string") continue;
    const also = new EntryCursor(name, value);
    if (also.next() && also.address !== null && read.has(formatAddress(also.address))) bits |= bit;
  }
  return bits;
}

/**
 * Why a request cannot be attributed, or null: the verdicts that leave no client (no peer, a believed header
 * that cannot be read), or forwarding evidence the walk did not read (condition b's rule, asked even where an
 * earlier condition settled the verdict: a public peer's X-Forwarded-For is a proxy nobody declared).
 */
export function unattributableReason(request: RequestState, verdict: Verdict): UnattributableReason | null {
  if (verdict === "invalid-peer") return "unknown-peer";
  if (verdict === "malformed-header" || verdict === "invalid-entry" || verdict === "hop-limit") return "malformed-chain";
  if (unreadProxyHeaders(request, request.peerTrusted) === 0) return null;
  return request.peerTrusted ? "unbelieved-header" : "undeclared-proxy";
}

/** hostPort's answer for a Host-bearing value, memoized unless localHosts is given. */
function portOf(text: string, localHosts: readonly string[]): number {
  return localHosts.length > 0 ? hostPort(text, localHosts) : text.length > MAX_AUTHORITY ? NOT_THIS_MACHINE : memoHostPort(text);
}

/**
 * A name a browser treats as potentially trustworthy over plain http (W3C Secure Contexts: `localhost`,
 * `*.localhost`, a loopback literal), and so sends Fetch Metadata to. To any other name (a localHosts name, a
 * LAN address) Chromium sends neither Origin nor Sec-Fetch-* on a cross-site navigation or image: there, a
 * request without both cannot be told from one a page elsewhere caused.
 */
function isTrustworthyName(host: HeaderValue): boolean {
  return typeof host === "string" && portOf(host, NO_HOSTS) !== NOT_THIS_MACHINE;
}

/**
 * Whether the request the browser made names this machine: returns its port by hostPort's answers
 * (NOT_THIS_MACHINE when it does not, or cannot be told), leaving what is wrong on the request.
 *
 * Every Host-bearing value must name this machine, whichever describes the browser's request (describeAsked):
 * Host itself (a proxy that rewrites it, as Apache does by default, writes the upstream's address), every
 * X-Forwarded-Host item and every Forwarded host= the walk read. A forged one can only make the answer not
 * local. X-Forwarded-Port gives the port when the browser's host has none, and must agree when it has one.
 */
function readAsked(request: RequestState, peerTrusted: boolean): number {
  const { localHosts } = request.options;
  const seen = request.readHeaders();
  const hostValue = seen.host;
  const hostPortNumber = typeof hostValue === "string" ? portOf(hostValue, localHosts) : NOT_THIS_MACHINE;
  if (!describeAsked(request, peerTrusted) || hostPortNumber === NOT_THIS_MACHINE) return NOT_THIS_MACHINE;
  // Nothing but Host describes it: Host's answer is the request's.
  if (!peerTrusted || (seen.proxyHeaders & DESCRIBING_BITS) === 0) return hostPortNumber;
  if (seen.forwardedHosts !== null) {
    for (const value of seen.forwardedHosts) if (portOf(value, localHosts) === NOT_THIS_MACHINE) return foreign(seen, "Forwarded host=", value);
  }
  const forwardedHost = seen.xForwardedHost;
  if (typeof forwardedHost === "string") {
    for (let end = forwardedHost.length, at = end; at >= -1; at--) {
      if (at !== -1 && forwardedHost.charCodeAt(at) !== 0x2c /* , */) continue;
      const item = trimmed(forwardedHost, at + 1, end);
      end = at;
      if (item !== "" && portOf(item, localHosts) === NOT_THIS_MACHINE) return foreign(seen, "X-Forwarded-Host", item);
    }
  }
  let port = portOf(seen.askedHost as string, localHosts);
  const said = seen.askedPort;
  if (said !== NO_PORT) {
    if (port !== NO_PORT && port !== said) return unclear(seen, "X-Forwarded-Port", String(said), `another port than the ${port} the browser's Host names`);
    port = said;
  }
  return port;
}

/**
 * The request the browser made, as this request shows it: from a trusted proxy, what the proxy says of it
 * comes first, in this order: the host= and proto= of the believed Forwarded element that named the client
 * (RFC 7239 sections 5.3, 5.4), then the first X-Forwarded-Host and X-Forwarded-Proto item (the outermost
 * proxy's), then the request's own Host and the connection's scheme; the first X-Forwarded-Port item is a
 * port the proxy gives. Leaves the host, the scheme, that port and the Forwarded hosts to check on the
 * request; false, with the problem, when what a trusted proxy says cannot be read. From an untrusted peer
 * these headers have already failed condition b and are not read as the browser's.
 */
export function describeAsked(request: RequestState, peerTrusted: boolean): boolean {
  const { believed, maxHops } = request.options;
  const seen = request.readHeaders();
  seen.askedHost = seen.host;
  seen.askedSecure = request.secure;
  seen.askedPort = NO_PORT;
  seen.askedProblem = null;
  seen.forwardedHosts = null;
  if (!peerTrusted || (seen.proxyHeaders & DESCRIBING_BITS) === 0) return true;
  let chosen = false;
  if (believed === "forwarded" && typeof seen.believed === "string" && (seen.proxyHeaders & FORWARDED_BIT) !== 0) {
    seen.forwardedHosts = forwardedHosts(seen.believed, request.examined);
    if (request.elementHost !== undefined) {
      seen.askedHost = request.elementHost;
      chosen = true;
    }
    if (request.elementProto !== undefined) {
      const secure = schemeIsSecure(request.elementProto);
      if (secure === null) return unclear(seen, "Forwarded proto=", request.elementProto, "not http or https") !== NOT_THIS_MACHINE;
      seen.askedSecure = secure;
    }
  }
  const forwardedHost = seen.xForwardedHost;
  if (forwardedHost !== undefined) {
    if (forwardedHost === null) return unclear(seen, "X-Forwarded-Host", "", "not text") !== NOT_THIS_MACHINE;
    // Bounded as the walk is: no more items than maxHops, each no longer than an authority that can match.
    if (forwardedHost.length > maxHops * (MAX_AUTHORITY + 2)) return unclear(seen, "X-Forwarded-Host", forwardedHost, `longer than maxHops (${maxHops}) names can be`) !== NOT_THIS_MACHINE;
    const first = firstItem(forwardedHost);
    if (first === "") return unclear(seen, "X-Forwarded-Host", forwardedHost, "empty") !== NOT_THIS_MACHINE;
    if (!chosen) seen.askedHost = first;
  }
  const forwardedProto = seen.xForwardedProto;
  if (forwardedProto !== undefined && request.elementProto === undefined) {
    const secure = forwardedProto === null ? null : schemeIsSecure(firstItem(forwardedProto));
    if (secure === null) return unclear(seen, "X-Forwarded-Proto", String(forwardedProto), "not http or https") !== NOT_THIS_MACHINE;
    seen.askedSecure = secure;
  }
  const forwardedPort = seen.xForwardedPort;
  if (forwardedPort !== undefined) {
    const said = decimalPort(forwardedPort === null ? "" : firstItem(forwardedPort));
    if (said === -1) return unclear(seen, "X-Forwarded-Port", String(forwardedPort), "not a port") !== NOT_THIS_MACHINE;
    seen.askedPort = said;
  }
  return true;
}

function foreign(seen: RequestHeaders, header: "X-Forwarded-Host" | "Forwarded host=", value: string): number {
  seen.askedProblem = { kind: "foreign", header, value };
  return NOT_THIS_MACHINE;
}

function unclear(seen: RequestHeaders, header: string, value: string, why: string): number {
  seen.askedProblem = { kind: "unclear", header, value, why };
  return NOT_THIS_MACHINE;
}

/** The first item of a comma-separated list, without optional whitespace: the outermost proxy's. */
function firstItem(list: string): string {
  const comma = list.indexOf(",");
  return trimmed(list, 0, comma === -1 ? list.length : comma);
}

function trimmed(text: string, start: number, end: number): string {
  while (start < end && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start++;
  while (end > start && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end--;
  return text.slice(start, end);
}
