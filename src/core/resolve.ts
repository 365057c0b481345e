// The decision: who the client is (rules 1-3) and whether it counts as local (rule 4), with the reason.
// One function, `decide`, holds every rule. The fast path runs it without an explanation and stops at the
// first condition that fails; the hops, the four checks and the diagnostics are produced by running the same
// function again with an explanation, the first time anyone reads them, on the header values the fast path
// read. Nobody pays for messages nobody reads, and there is no second copy of a rule to drift.
import { type Address, canonicalText, formatAddress, isDecimalPort, isLoopback, isPrivateUse, parseIp } from "./address.js";
import { compileOnce } from "./compile-once.js";
import { EntryCursor, FORWARDING_HEADERS, type ForwardingHeader, forwardedHosts } from "./entries.js";
import { type HeaderValue, type HeaderValues, type HeadersInput, forwardingValue, readHeaders } from "./headers.js";
import {
  type LocalOrigin,
  MAX_AUTHORITY,
  browserOrigin,
  NOT_THIS_MACHINE,
  NO_PORT,
  checkLocalHosts,
  compileLocalOrigins,
  fetchSiteIsOwn,
  hostPort,
  isLocalHostEntry,
  localOrigin,
  sameServer,
  schemeIsSecure,
} from "./locality.js";
import { memoize, rememberLast } from "./memo.js";
import {
  ADDRESS_BITS,
  FORWARDED_BIT,
  PROXY_HEADERS,
  X_FORWARDED_FOR_BIT,
  X_FORWARDED_HOST_BIT,
  X_FORWARDED_PORT_BIT,
  X_FORWARDED_PROTO_BIT,
  X_REAL_IP_BIT,
  displayName,
} from "./proxy-headers.js";
import { TrustedProxies, compileTrustedProxies } from "./trust.js";

/**
 * Where an address on the path came from: the socket's peer, the source a trusted TCP load balancer declared
 * with the PROXY protocol (see `declaredSource`), or a forwarding header.
 */
export type HopSource = "socket" | "proxy-protocol" | ForwardingHeader;

/**
 * One address on the path, nearest first: the socket peer, then the declared source if a balancer declared
 * one, then header entries right to left.
 */
export type Hop =
  | { readonly address: string; readonly trusted: boolean; readonly source: HopSource }
  | { readonly address: null; readonly raw: string; readonly trusted: false; readonly source: HopSource };

/**
 * Why the answer is what it is. `loopback` and `trusted-path` are the two ways to be local; the others name
 * the first condition that failed (the address ones leave `address` null).
 */
export type Verdict =
  | "loopback" // the client is a loopback address, and Host, Origin and the forwarding headers agree
  | "trusted-path" // every address on the path is a trusted proxy: a NAT gateway in front of this server
  | "remote-client" // the client is neither loopback nor reached through trusted hops only
  | "unread-forwarding-header" // a forwarding header names a client the walk did not read
  | "host-not-local" // Host is missing or names another machine (DNS rebinding)
  | "origin-not-local" // another page caused the request: Origin or Sec-Fetch-Site says so (condition d)
  | "invalid-peer" // remoteAddress (or the declared source) is missing or not an address
  | "invalid-entry" // the walk met an entry that is not an address (`unknown`, `127.1`, garbage)
  | "malformed-header" // the believed header could not be parsed
  | "hop-limit"; // more than maxHops trusted entries

/** `<where the address came from>:<verdict>`, e.g. `socket:loopback`, `x-forwarded-for:remote-client`. */
export type Basis = `${HopSource}:${Verdict}`;

/** The four locality conditions of the trust model, each with its verdict for this request. */
export interface LocalityChecks {
  /** a. The client is loopback, or every address on the path (the client included) is trusted. */
  readonly client: boolean;
  /**
   * b. No proxy header the walk did not read: from an untrusted peer none at all (X-Forwarded-Proto, Via and
   * the rest of the table in proxy-headers.ts included); from a trusted one, no address header but the believed.
   */
  readonly forwarding: boolean;
  /**
   * c. The request the browser made names this machine: Host is present and names it, and so does every
   * other Host-bearing value (X-Forwarded-Host, Forwarded host=); the scheme and port a trusted proxy
   * describes can be read.
   */
  readonly host: boolean;
  /**
   * d. No other page caused the request: Origin is this server's own (this machine, the scheme and port of
   * the request the browser made) or one of localOrigins; without Origin, Sec-Fetch-Site is absent,
   * `same-origin` or `none`, and absent only where a browser would have sent it (a loopback name, or https).
   */
  readonly origin: boolean;
}

export type DiagnosticCode =
  | "invalid-peer"
  | "unknown-declared-source"
  | "invalid-entry"
  | "malformed-header"
  | "hop-limit"
  | "client-not-loopback"
  | "untrusted-forwarding-header"
  | "unbelieved-forwarding-header"
  | "host-missing"
  | "host-not-local"
  | "forwarded-host-not-local"
  | "forwarded-request-unclear"
  | "origin-not-local"
  | "fetch-site-not-local"
  | "no-fetch-metadata";

/**
 * A change the diagnostic advises, for a program to show or apply: set the believed header, add an entry to
 * a list option, or make the trusted proxy drop a header it passes on from clients. Never a public address
 * to trust, and never a change whose next answer advises undoing it.
 */
export type Fix =
  | { readonly set: "header"; readonly to: ForwardingHeader }
  | { readonly add: "trustedProxies" | "localHosts" | "localOrigins"; readonly entry: string }
  | { readonly proxyDrops: string };

export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly message: string;
  /** The change that would lift this failure, when there is one to advise. */
  readonly fix?: Fix;
}

export interface ResolveOptions {
  /** The socket's peer, as Node gives it (`req.socket.remoteAddress`); undefined once the socket closed. */
  readonly remoteAddress: string | undefined;
  /**
   * The source a trusted TCP load balancer declared for this connection with the PROXY protocol, as
   * clientaddr/proxy-protocol records it on the socket (read it with `declaredSource(req.socket)`;
   * clientaddr/node does). Given, it takes the socket peer's place: the rules (the walk, trust, locality)
   * apply to it as they would to a peer, and `remoteAddress` is the balancer, the nearest hop, trusted because
   * the listener's own list let it declare. `null`: the balancer declared a connection whose source is
   * unknown (an UNSPEC or UNIX address family, or v1's UNKNOWN): not local. Absent: the peer is the socket's.
   */
  readonly declaredSource?: string | null | undefined;
  readonly headers?: HeadersInput | undefined;
  /**
   * Whether the connection was TLS (https, wss), as the socket says or a trusted balancer declared it
   * (`connectionSecure(req.socket)`; clientaddr/node and its adapters fill it). Default false. It is the
   * scheme of the request the browser made, unless a trusted proxy says otherwise (X-Forwarded-Proto,
   * Forwarded proto=): an Origin must have that scheme, and a port left out is that scheme's default.
   */
  readonly secure?: boolean | undefined;
  /** Compiled with {@link compileTrustedProxies}, or a list compiled on first use and cached by identity. */
  readonly trustedProxies?: TrustedProxies | readonly string[] | undefined;
  /** The one forwarding header to believe from trusted proxies. Default `x-forwarded-for`. */
  readonly header?: ForwardingHeader | undefined;
  /** How many header entries the walk examines at most. Default 64. */
  readonly maxHops?: number | undefined;
  /** Extra names that mean this machine in Host and Origin (e.g. a host name on 127.0.1.1). */
  readonly localHosts?: readonly string[] | undefined;
  /**
   * Origins besides this server's own whose pages count as local, exactly as written (scheme, host, port):
   * e.g. a dev server's `http://localhost:5173`. Validated once, like trustedProxies.
   */
  readonly localOrigins?: readonly string[] | undefined;
}

/**
 * The answer. `address`, `loopbackEquivalent` and `basis` are decided when it is made; `hops`, `checks` and
 * `diagnostics` are worked out the first time one of them is read (the same rules, run with an explanation)
 * and kept. `JSON.stringify` and `console.log` show all six.
 */
export interface ClientAddress extends ClientAddressData {
  /** The six fields as a plain object (what `JSON.stringify` writes). */
  toJSON(): ClientAddressData;
}

export interface ClientAddressData {
  /** Canonical: dotted IPv4 (mapped addresses too), RFC 5952 IPv6; no port, no zone. Null when unknown. */
  readonly address: string | null;
  readonly loopbackEquivalent: boolean;
  readonly basis: Basis;
  readonly hops: readonly Hop[];
  readonly checks: LocalityChecks;
  readonly diagnostics: readonly Diagnostic[];
}

const DISPLAY = Object.fromEntries(FORWARDING_HEADERS.map((name) => [name, displayName(name)])) as Readonly<Record<ForwardingHeader, string>>;
export const DEFAULT_HEADER: ForwardingHeader = "x-forwarded-for";
export const DEFAULT_MAX_HOPS = 64;
const NO_HOSTS: readonly string[] = [];
const NO_CHECKS: LocalityChecks = { client: false, forwarding: false, host: false, origin: false };
export const VERDICTS: readonly Verdict[] = ["loopback", "trusted-path", "remote-client", "unread-forwarding-header", "host-not-local", "origin-not-local", "invalid-peer", "invalid-entry", "malformed-header", "hop-limit"];

// Every basis string made once, so that an answer never builds one, and found by position: a switch over the
// source and one over the verdict (constant strings, compared by identity) and an array index. Two keyed
// lookups in a table of tables, whose keys vary from request to request, took about a tenth of a request from
// a peer never seen before (measured in one process, alternating with the table of tables).
function sourceIndex(source: HopSource): number {
  switch (source) {
    case "socket":
      return 0;
    case "proxy-protocol":
      return 1;
    case "x-forwarded-for":
      return 2;
    case "forwarded":
      return 3;
    case "x-real-ip":
      return 4;
  }
}

function verdictIndex(verdict: Verdict): number {
  switch (verdict) {
    case "loopback":
      return 0;
    case "trusted-path":
      return 1;
    case "remote-client":
      return 2;
    case "unread-forwarding-header":
      return 3;
    case "host-not-local":
      return 4;
    case "origin-not-local":
      return 5;
    case "invalid-peer":
      return 6;
    case "invalid-entry":
      return 7;
    case "malformed-header":
      return 8;
    case "hop-limit":
      return 9;
  }
}

const PER_SOURCE = VERDICTS.length;
const BASES: Basis[] = [];
for (const source of ["socket", "proxy-protocol", ...FORWARDING_HEADERS] as HopSource[]) {
  for (const verdict of VERDICTS) BASES[sourceIndex(source) * PER_SOURCE + verdictIndex(verdict)] = `${source}:${verdict}`;
}

/** @internal `<source>:<verdict>`, the string made once (test/resolve.test.ts checks every pair). */
export function basisOf(source: HopSource, verdict: Verdict): Basis {
  return BASES[sourceIndex(source) * PER_SOURCE + verdictIndex(verdict)]!;
}

const NO_ORIGINS: ReadonlySet<string> = new Set();
const BELIEVED_BIT: Readonly<Record<ForwardingHeader, number>> = { "x-forwarded-for": X_FORWARDED_FOR_BIT, forwarded: FORWARDED_BIT, "x-real-ip": X_REAL_IP_BIT };
// The longest Origin that can name this machine: the longer scheme and the longest authority.
const MAX_ORIGIN = "https://".length + MAX_AUTHORITY;

// The Host and Origin checks are pure functions of one string each, and a server sees the same few values
// over and over: memoized, a Host seen before parses nothing. (With localHosts given, Host and Origin are
// checked directly: the memo is keyed by the value alone.) A Host or Origin too long to name this machine is
// refused before the memo sees it: it is never stored, and never hashed (V8 hashes a long string by its
// length only, so ever-new long values of one length would all collide in the Map). The peer is either the
// last one again (one proxy in front, or a keep-alive connection) or new: only the last is remembered.
const readPeer = (text: string): { address: Address; text: string } | null => {
  const address = parseIp(text);
  return address === null ? null : { address, text: canonicalText(address, text) };
};
// One each for the socket peer and a declared source: behind a PROXY protocol balancer both are asked on
// every request, and one shared last key would be the other's each time.
const parsePeer = rememberLast(readPeer);
const parseDeclared = rememberLast(readPeer);
const memoHostPort = memoize((host) => hostPort(host, NO_HOSTS));
const memoLocalOrigin = memoize((origin) => localOrigin(origin, NO_HOSTS));
const EMPTY_TRUST = compileTrustedProxies([]);
const trustedList = compileOnce((list) => compileTrustedProxies(list as readonly string[]));
const localHostsList = compileOnce(checkLocalHosts);
const localOriginsList = compileOnce(compileLocalOrigins);

/**
 * Resolves the client of one request. Never throws on request input: a missing peer, a malformed header or
 * a non-address entry gives `address: null` and `loopbackEquivalent: false` with a diagnostic. Throws only
 * on configuration: a bad `trustedProxies` entry ({@link TrustedProxiesError}) or a bad option (TypeError).
 */
export function resolveClientAddress(options: ResolveOptions): ClientAddress {
  const request = new Request(options);
  const verdict = decide(request, null);
  return new Resolution(request, verdict);
}

/**
 * One request's inputs, validated, with its headers read once each (into the request itself, so that taking
 * a request in is one allocation), and the two things `decide` found besides the verdict.
 */
class Request implements HeaderValues {
  host: HeaderValue = undefined;
  origin: HeaderValue = undefined;
  secFetchSite: HeaderValue = undefined;
  forwarded: HeaderValue = undefined;
  xForwardedFor: HeaderValue = undefined;
  xRealIp: HeaderValue = undefined;
  xForwardedHost: HeaderValue = undefined;
  xForwardedProto: HeaderValue = undefined;
  xForwardedPort: HeaderValue = undefined;
  proxyHeaders = 0;
  readonly remoteAddress: unknown;
  readonly declared: unknown;
  readonly secure: boolean;
  readonly trust: TrustedProxies;
  readonly believed: ForwardingHeader;
  readonly maxHops: number;
  // Compiled copies: the caller may change its arrays after the call, and the explanation, worked out later,
  // must still agree with the verdict.
  readonly localHosts: readonly string[];
  readonly localOrigins: ReadonlySet<string>;
  /** Written by `decide`: the client's canonical text (null when unknown), and where it came from. */
  client: string | null = null;
  source: HopSource = "socket";
  /** Written by `decide`: the host= and proto= of the believed Forwarded element that named the client. */
  elementHost: string | undefined = undefined;
  elementProto: string | undefined = undefined;
  /** Written by `decide`: how many entries of the believed header the walk read. */
  examined = 0;
  /**
   * Written by `readAsked`: the request the browser made, as this request shows it: its Host (the value
   * that names it), its scheme, and what made it unreadable or not this machine's (null when nothing did).
   */
  askedHost: HeaderValue = undefined;
  askedSecure = false;
  askedProblem: AskedProblem | null = null;

  constructor(options: ResolveOptions) {
    readHeaders(options.headers, this);
    this.remoteAddress = options.remoteAddress;
    this.declared = options.declaredSource;
    this.secure = options.secure === true;
    this.trust = trustOf(options.trustedProxies);
    this.believed = options.header ?? DEFAULT_HEADER;
    this.maxHops = options.maxHops ?? DEFAULT_MAX_HOPS;
    checkOptions(this.believed, this.maxHops);
    this.localHosts = options.localHosts === undefined ? NO_HOSTS : localHostsList(options.localHosts);
    this.localOrigins = options.localOrigins === undefined ? NO_ORIGINS : localOriginsList(options.localOrigins);
  }
}

/**
 * Why the request the browser made does not name this machine, beside a missing or foreign Host: a
 * Host-bearing value a proxy passed on names another machine, or what a trusted proxy says of the scheme,
 * host or port cannot be read or contradicts itself.
 */
type AskedProblem =
  | { readonly kind: "foreign"; readonly header: "X-Forwarded-Host" | "Forwarded host="; readonly value: string }
  | { readonly kind: "unclear"; readonly header: string; readonly value: string; readonly why: string };

/** What the explained run collects. */
interface Explanation {
  readonly hops: Hop[];
  readonly diagnostics: Diagnostic[];
  checks: LocalityChecks;
}

class Resolution implements ClientAddress {
  readonly address: string | null;
  readonly loopbackEquivalent: boolean;
  readonly basis: Basis;
  readonly #request: Request;
  #explanation: Explanation | undefined;

  constructor(request: Request, verdict: Verdict) {
    this.address = request.client;
    this.loopbackEquivalent = verdict === "loopback" || verdict === "trusted-path";
    this.basis = basisOf(request.source, verdict);
    this.#request = request;
  }

  get hops(): readonly Hop[] {
    return this.#explain().hops;
  }

  get checks(): LocalityChecks {
    return this.#explain().checks;
  }

  get diagnostics(): readonly Diagnostic[] {
    return this.#explain().diagnostics;
  }

  toJSON(): ClientAddressData {
    const { address, loopbackEquivalent, basis, hops, checks, diagnostics } = this;
    return { address, loopbackEquivalent, basis, hops, checks, diagnostics };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): ClientAddressData {
    return this.toJSON();
  }

  #explain(): Explanation {
    if (this.#explanation === undefined) {
      const explanation: Explanation = { hops: [], diagnostics: [], checks: NO_CHECKS };
      decide(this.#request, explanation);
      this.#explanation = explanation;
    }
    return this.#explanation;
  }
}

/**
 * Rules 1-4 for one request: returns the verdict and records the client's text and source on the request.
 * Without an explanation it returns at the first failed condition; with one, it evaluates all four, records
 * the path, the checks and a diagnostic for every failure, and reaches the same decision (the first failure,
 * in the order a, b, c, d, names the verdict either way). Messages are built only when explaining.
 */
function decide(request: Request, explanation: Explanation | null): Verdict {
  const { trust, believed } = request;
  const hops = explanation?.hops;
  request.client = null;
  request.source = "socket";
  request.elementHost = request.elementProto = undefined;
  request.examined = 0;

  // Rule 1 and 5: the socket peer.
  const remote = request.remoteAddress;
  const parsed = typeof remote === "string" ? parsePeer(remote) : null;
  if (parsed === null) {
    if (explanation !== null) {
      if (typeof remote === "string") hops!.push({ address: null, raw: remote, trusted: false, source: "socket" });
      const shown = typeof remote === "string" ? `"${remote.slice(0, 60)}"` : String(remote);
      note(explanation, "invalid-peer", `remoteAddress ${shown} is not an IP address (a closed socket, or not a TCP socket): the client is unknown and not local`);
      checkHeaders(request, null, false, false, explanation);
    }
    return "invalid-peer";
  }
  let peer = parsed.address;
  let peerText = parsed.text;
  let peerSource: HopSource = "socket";

  // A trusted TCP load balancer declared the connection's source with the PROXY protocol: the balancer is the
  // nearest hop, trusted because the listener's own list let it declare (checked when the connection was
  // accepted), and the declared source takes the peer's place for every rule below.
  const declared = request.declared;
  if (declared !== undefined) {
    hops?.push({ address: peerText, trusted: true, source: "socket" });
    request.source = peerSource = "proxy-protocol";
    const source = typeof declared === "string" ? parseDeclared(declared) : null;
    if (source === null) {
      if (explanation !== null) {
        if (typeof declared === "string") {
          explanation.hops.push({ address: null, raw: declared, trusted: false, source: peerSource });
          note(explanation, "invalid-peer", `the source declared by load balancer ${peerText} (${JSON.stringify(declared.slice(0, 60))}) is not an IP address: the client is unknown and not local`);
        } else {
          note(explanation, "unknown-declared-source", `load balancer ${peerText} declared a connection whose source is unknown (a PROXY protocol header with an UNSPEC or UNIX address family, or UNKNOWN): the client is unknown and not local`);
        }
        checkHeaders(request, null, false, false, explanation);
      }
      return "invalid-peer";
    }
    peer = source.address;
    peerText = source.text;
  }
  const balancerText = parsed.text;
  const peerTrusted = trust.trustsPeer(peer);
  hops?.push({ address: peerText, trusted: peerTrusted, source: peerSource });

  // Rules 2 and 3: a trusted peer's believed header, right to left.
  let client = peer;
  let text = peerText;
  let allTrusted = peerTrusted;
  const value = peerTrusted ? forwardingValue(request, believed) : undefined;
  if (value !== undefined) {
    request.source = believed;
    if (value === null) {
      if (explanation !== null) walkFailed(request, peer, explanation, "invalid-entry", "", `${DISPLAY[believed]} from trusted proxy ${peerText} is not text: the client is unknown`);
      return "invalid-entry";
    }
    const cursor = new EntryCursor(believed, value);
    let examined = 0;
    let clientText = "";
    let clientStart = 0;
    let clientEnd = 0;
    while (cursor.next()) {
      if (examined === request.maxHops) {
        if (explanation !== null) {
          walkFailed(request, peer, explanation, "hop-limit", null, `${DISPLAY[believed]} holds more than maxHops (${request.maxHops}) entries, all from trusted proxies so far: the walk stops and the client is unknown; raise maxHops if your proxy chain is really that long`);
        }
        return "hop-limit";
      }
      examined++;
      if (cursor.malformed !== null) {
        if (explanation !== null) walkFailed(request, peer, explanation, "malformed-header", cursor.raw, `${DISPLAY[believed]} entry ${examined} from the right (${JSON.stringify(cursor.raw)}) is ${cursor.malformed}: the client is unknown`);
        return "malformed-header";
      }
      const address = cursor.address;
      if (address === null) {
        if (explanation !== null) {
          const written = cursor.written();
          walkFailed(request, peer, explanation, "invalid-entry", written, `${DISPLAY[believed]} entry ${examined} from the right (${JSON.stringify(written.slice(0, 60))}) is not an IP address: the walk stops there and the client is unknown (strict addresses only: no "unknown", obfuscated identifiers or legacy forms such as 127.1 or 0177.0.0.1)`);
        }
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
      if (hops !== undefined) hops.push({ address: canonicalText(address, clientText, clientStart, clientEnd), trusted, source: believed });
      if (!trusted) {
        allTrusted = false;
        break;
      }
    }
    // A header without a single element (empty, or commas only) names nobody: the walk ends at the peer.
    request.examined = examined;
    if (examined === 0) request.source = peerSource;
    else text = canonicalText(client, clientText, clientStart, clientEnd);
  }
  request.client = text;

  // Rule 4a: a loopback client, or a path of trusted addresses only.
  let verdict: Verdict | undefined;
  const loopback = isLoopback(client);
  const clientOk = loopback || allTrusted;
  if (!clientOk) {
    verdict = "remote-client";
    if (explanation === null) return verdict;
    note(
      explanation,
      "client-not-loopback",
      request.source === "socket"
        ? `peer ${text} is neither loopback nor a trusted proxy: not local.${isPrivateUse(peer) ? ` If it is the gateway of a Docker bridge or another NAT in front of this server, add "${text}" to trustedProxies (that one address, not its whole subnet)` : ""}`
        : request.source === "proxy-protocol"
          ? `client ${text}, declared by the PROXY protocol header of trusted load balancer ${balancerText}, is neither loopback nor a trusted proxy: not local`
          : `client ${text}, named by ${DISPLAY[believed]} from trusted proxy ${peerText}, is not loopback and not trusted: not local`,
      request.source === "socket" && isPrivateUse(peer) ? { add: "trustedProxies", entry: text } : undefined,
    );
  }
  // Rules 4b-4d.
  const failed = checkHeaders(request, peer, peerTrusted, clientOk, explanation);
  return verdict ?? failed ?? (loopback ? "loopback" : "trusted-path");
}

/** Records a walk that stopped without a client (the entry as written, when there is one) and the rest. */
function walkFailed(request: Request, peer: Address, explanation: Explanation, verdict: "invalid-entry" | "malformed-header" | "hop-limit", raw: string | null, message: string): void {
  if (raw !== null) explanation.hops.push({ address: null, raw, trusted: false, source: request.believed });
  note(explanation, verdict, message);
  checkHeaders(request, peer, true, false, explanation);
}

/**
 * Conditions b, c and d (a, `client`, was decided by the caller). Returns the first that fails as a verdict,
 * or undefined; without an explanation it stops there, with one it evaluates all three and records the four.
 */
function checkHeaders(request: Request, peer: Address | null, peerTrusted: boolean, client: boolean, explanation: Explanation | null): Verdict | undefined {
  const { believed, localHosts } = request;
  let failed: Verdict | undefined;

  // b. From a trusted proxy, only address headers other than the believed one are hops the walk cannot see;
  // from anyone else, any proxy header means a proxy that nobody declared.
  const unread = peerTrusted ? request.proxyHeaders & ADDRESS_BITS & ~BELIEVED_BIT[believed] : request.proxyHeaders;
  const forwarding = unread === 0;
  if (!forwarding) {
    failed = "unread-forwarding-header";
    if (explanation === null) return failed;
    PROXY_HEADERS.forEach((row, index) => {
      if ((unread & (1 << index)) !== 0) explainProxyHeader(explanation, request, row, peer, peerTrusted);
    });
  }

  // c. The request the browser made (read through trusted proxies) names this machine.
  const port = readAsked(request, peerTrusted);
  const host = port !== NOT_THIS_MACHINE;
  if (!host) {
    failed ??= "host-not-local";
    if (explanation === null) return failed;
    explainHost(explanation, request, peer);
  }

  // d. Origin, when present, decides (it names the page); without it, Fetch Metadata says whether a page
  // elsewhere caused the request, where a browser would have sent it.
  const originValue = request.origin;
  let origin: boolean;
  let page: LocalOrigin | null = null;
  if (originValue === undefined) {
    const site = request.secFetchSite;
    // Whether a browser would have sent Fetch Metadata is asked only once the request names this machine.
    origin = site === undefined ? port === NOT_THIS_MACHINE || request.askedSecure || isTrustworthyName(request.askedHost) : fetchSiteIsOwn(site);
  } else if (originValue === null) {
    origin = false;
  } else if (request.localOrigins.size > 0 && originValue.length <= MAX_ORIGIN && (request.localOrigins.has(originValue) || request.localOrigins.has(browserOrigin(originValue) ?? ""))) {
    origin = true;
  } else {
    page = localHosts.length > 0 ? localOrigin(originValue, localHosts) : originValue.length > MAX_ORIGIN ? null : memoLocalOrigin(originValue);
    // Scheme and port are compared only when the request names this machine; otherwise c has failed already.
    origin = page !== null && (port === NOT_THIS_MACHINE || sameServer(page, port, request.askedSecure));
  }
  if (!origin) {
    failed ??= "origin-not-local";
    if (explanation === null) return failed;
    explainOrigin(explanation, request, page, port);
  }
  if (explanation !== null) explanation.checks = { client, forwarding, host, origin };
  return failed;
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
 * Reads the request the browser made and returns its port by hostPort's answers (NOT_THIS_MACHINE when it
 * does not name this machine or cannot be told), leaving its Host, scheme and any problem on the request.
 *
 * From a trusted proxy, what the proxy says of the browser's request comes first, in this order: the host=
 * and proto= of the believed Forwarded element that named the client (RFC 7239 section 5.3, 5.4), then the
 * first X-Forwarded-Host and X-Forwarded-Proto item (the outermost proxy's), then the request's own Host and
 * the connection's scheme; X-Forwarded-Port gives the port when the chosen host has none, and must agree
 * when it has one. Every Host-bearing value must name this machine whichever is chosen: Host itself (a
 * proxy that rewrites it, as Apache does by default, writes the upstream's address), every X-Forwarded-Host
 * item and every Forwarded host=. A forged one can only make the answer not local. From an untrusted peer
 * these headers have already failed condition b and are not read as the browser's.
 */
function readAsked(request: Request, peerTrusted: boolean): number {
  const { localHosts } = request;
  const hostValue = request.host;
  request.askedHost = hostValue;
  request.askedSecure = request.secure;
  request.askedProblem = null;
  let port = typeof hostValue === "string" ? portOf(hostValue, localHosts) : NOT_THIS_MACHINE;
  if (!peerTrusted || (request.proxyHeaders & DESCRIBING_BITS) === 0 || port === NOT_THIS_MACHINE) return port;
  let chosen = false;
  if (request.believed === "forwarded" && typeof request.forwarded === "string" && (request.proxyHeaders & FORWARDED_BIT) !== 0) {
    for (const value of forwardedHosts(request.forwarded, request.examined)) if (portOf(value, localHosts) === NOT_THIS_MACHINE) return foreign(request, "Forwarded host=", value);
    if (request.elementHost !== undefined) {
      request.askedHost = request.elementHost;
      port = portOf(request.elementHost, localHosts);
      chosen = true;
    }
    if (request.elementProto !== undefined) {
      const secure = schemeIsSecure(request.elementProto);
      if (secure === null) return unclear(request, "Forwarded proto=", request.elementProto, "not http or https");
      request.askedSecure = secure;
    }
  }
  const forwardedHost = request.xForwardedHost;
  if (forwardedHost !== undefined) {
    if (forwardedHost === null) return unclear(request, "X-Forwarded-Host", "", "not text");
    // Bounded as the walk is: no more items than maxHops, each no longer than an authority that can match.
    if (forwardedHost.length > request.maxHops * (MAX_AUTHORITY + 2)) return unclear(request, "X-Forwarded-Host", forwardedHost, `longer than maxHops (${request.maxHops}) names can be`);
    const first = firstItem(forwardedHost);
    if (first === "") return unclear(request, "X-Forwarded-Host", forwardedHost, "empty");
    for (let end = forwardedHost.length, at = end; at >= -1; at--) {
      if (at !== -1 && forwardedHost.charCodeAt(at) !== 0x2c /* , */) continue;
      const item = trimmed(forwardedHost, at + 1, end);
      end = at;
      if (item !== "" && portOf(item, localHosts) === NOT_THIS_MACHINE) return foreign(request, "X-Forwarded-Host", item);
    }
    if (!chosen) {
      request.askedHost = first;
      port = portOf(first, localHosts);
    }
  }
  const forwardedProto = request.xForwardedProto;
  if (forwardedProto !== undefined && request.elementProto === undefined) {
    const secure = forwardedProto === null ? null : schemeIsSecure(firstItem(forwardedProto));
    if (secure === null) return unclear(request, "X-Forwarded-Proto", String(forwardedProto), "not http or https");
    request.askedSecure = secure;
  }
  const forwardedPort = request.xForwardedPort;
  if (forwardedPort !== undefined) {
    const text = forwardedPort === null ? "" : firstItem(forwardedPort);
    if (!isDecimalPort(text)) return unclear(request, "X-Forwarded-Port", String(forwardedPort), "not a port");
    const said = Number(text);
    if (port !== NO_PORT && port !== said) return unclear(request, "X-Forwarded-Port", text, `another port than the ${port} the browser's Host names`);
    port = said;
  }
  return port;
}

/** The headers readAsked reads beside Host: without them it has nothing more to read. */
const DESCRIBING_BITS = FORWARDED_BIT | X_FORWARDED_HOST_BIT | X_FORWARDED_PROTO_BIT | X_FORWARDED_PORT_BIT;

function foreign(request: Request, header: "X-Forwarded-Host" | "Forwarded host=", value: string): number {
  request.askedProblem = { kind: "foreign", header, value };
  return NOT_THIS_MACHINE;
}

function unclear(request: Request, header: string, value: string, why: string): number {
  request.askedProblem = { kind: "unclear", header, value, why };
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

/** Why condition c fails: no Host, a foreign one, or what a trusted proxy said of the browser's request. */
function explainHost(explanation: Explanation, request: Request, peer: Address | null): void {
  const problem = request.askedProblem;
  const proxy = peer === null ? "the proxy" : `trusted proxy ${formatAddress(peer)}`;
  if (problem?.kind === "foreign") {
    const name = problem.value.slice(0, 80);
    note(
      explanation,
      "forwarded-host-not-local",
      `${problem.header} ${JSON.stringify(name)} from ${proxy} does not name this machine: the browser asked the proxy for another name (a DNS-rebinding page reaches a proxy on this host as well as the gateway), so not local. If it is this machine's own name, add it to localHosts`,
      localHostFix(name),
    );
  } else if (problem?.kind === "unclear") {
    note(explanation, "forwarded-request-unclear", `${problem.header} ${JSON.stringify(problem.value.slice(0, 80))} from ${proxy} is ${problem.why}: the request the browser made cannot be told, so not local`);
  } else if (request.host === undefined) {
    note(explanation, "host-missing", "no Host header: a local client must name this machine (localhost, 127.0.0.1, [::1] or a name in localHosts), so not local");
  } else {
    const name = String(request.host).slice(0, 80);
    note(explanation, "host-not-local", `Host ${JSON.stringify(name)} does not name this machine: a page loaded under another name (DNS rebinding) must not borrow a local client's standing, so not local. If it is this machine's own name, add it to localHosts`, request.host === null ? undefined : localHostFix(name));
  }
}

/** The localHosts entry that would name a Host-bearing value (its name without the port), if it can be one. */
function localHostFix(value: string): Fix | undefined {
  let name = value;
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close !== -1) name = value.slice(0, close + 1);
  } else {
    const colon = value.indexOf(":");
    if (colon !== -1 && value.indexOf(":", colon + 1) === -1) name = value.slice(0, colon);
  }
  return isLocalHostEntry(name) ? { add: "localHosts", entry: name } : undefined;
}

/** Why a proxy header fails condition b, naming who writes it. */
function explainProxyHeader(explanation: Explanation, request: Request, row: (typeof PROXY_HEADERS)[number], peer: Address | null, peerTrusted: boolean): void {
  const { believed } = request;
  const header = `${row.display} (written by ${row.writers})`;
  if (peerTrusted) {
    const peerText = formatAddress(peer!);
    // Switching the believed header is advised only while the believed one is absent, and only to the first
    // walkable header present: once a header the proxy sends is believed, every other is one for it to drop,
    // so no advice is undone by the answer after it (nginx's X-Real-IP beside X-Forwarded-For is dropped).
    const switchTo = (request.proxyHeaders & BELIEVED_BIT[believed]) === 0 ? FORWARDING_HEADERS.find((name) => (request.proxyHeaders & BELIEVED_BIT[name]) !== 0) : undefined;
    const drop = `make it drop ${row.display} from client requests${row.name === "x-real-ip" ? " (nginx: remove the proxy_set_header X-Real-IP line)" : ""}`;
    if (switchTo === row.name) {
      note(explanation, "unbelieved-forwarding-header", `trusted proxy ${peerText} passed on ${header}, but only ${DISPLAY[believed]} is believed, and it is absent: a hop the walk cannot see, so not local. If that proxy writes ${row.display}, set header: "${row.name}"; otherwise ${drop}`, { set: "header", to: row.name as ForwardingHeader });
    } else {
      note(explanation, "unbelieved-forwarding-header", `trusted proxy ${peerText} passed on ${header}, but only ${DISPLAY[believed]} is believed: a hop the walk cannot see, so not local. Make the proxy send only ${DISPLAY[believed]}: ${drop}`, { proxyDrops: row.display });
    }
  } else if (peer === null) {
    note(explanation, "untrusted-forwarding-header", `${header} is present but the peer is unknown: not local`);
  } else {
    const peerText = formatAddress(peer);
    const who = request.source === "proxy-protocol" ? "declared source" : "peer";
    const message = `${who} ${peerText} is not a trusted proxy, yet the request carries ${header}: a proxy or tunnel forwards for someone else, so not local.`;
    // Only a proxy on this machine, or one whose every process may act as a local user (the trust model):
    // doctor warns of any other trusted entry, so advising it here would be undone there.
    if (isPrivateUse(peer)) note(explanation, "untrusted-forwarding-header", `${message} If ${peerText} is a reverse proxy or tunnel you run on this machine (or on one whose every process you would let in as a local user), add "${peerText}" to trustedProxies so that its headers are read`, { add: "trustedProxies", entry: peerText });
    else note(explanation, "untrusted-forwarding-header", message);
  }
}

/** Why condition d fails: a foreign page, another application on this machine, or Fetch Metadata. */
function explainOrigin(explanation: Explanation, request: Request, page: LocalOrigin | null, port: number): void {
  const originValue = request.origin;
  if (originValue === undefined) {
    if (request.secFetchSite === undefined) {
      const name = JSON.stringify(String(request.askedHost).slice(0, 80));
      note(explanation, "no-fetch-metadata", `no Origin and no Sec-Fetch-Site, to ${name} over http: browsers send neither to such a name on a cross-site navigation or image, so a page elsewhere may have caused this request: not local. Use a loopback name (localhost, 127.0.0.1, [::1]) or https, or send Origin from your client`);
      return;
    }
    const site = JSON.stringify(String(request.secFetchSite).slice(0, 40));
    note(explanation, "fetch-site-not-local", `no Origin, and Sec-Fetch-Site is ${site}: a page elsewhere made the user's browser send this request (a link, an image, a form, a no-cors fetch), so not local`);
    return;
  }
  const shown = JSON.stringify(String(originValue).slice(0, 80));
  if (page !== null) {
    const scheme = request.askedSecure ? "https" : "http";
    const asked = `${scheme}, ${port === NO_PORT ? "no port" : `port ${port}`}`;
    // Through a proxy that names no other host, Host may be the proxy's rewrite: nginx's `$host` drops the port
    // the browser wrote, its default `$proxy_host` (and Apache's ProxyPreserveHost Off) writes the upstream's.
    const proxied = request.askedHost === request.host && (request.proxyHeaders & ADDRESS_BITS) !== 0;
    const rewrite = port === NO_PORT ? "without its port (nginx's $host)" : "to the gateway's own address (nginx's default $proxy_host, Apache's ProxyPreserveHost Off)";
    const dropped = proxied ? `. If a proxy in front rewrote Host ${rewrite}, make it pass the Host the browser sent (nginx: proxy_set_header Host $http_host; Apache: ProxyPreserveHost On)` : "";
    const fix = originFix(originValue!);
    note(explanation, "origin-not-local", `Origin ${shown} is this machine but another scheme or port than the request (${asked}): a page of another application here (a dev server, another local service) opened this connection, so not local${dropped}. If that page is yours, add ${shown} to localOrigins`, fix);
  } else {
    note(explanation, "origin-not-local", `Origin ${shown} is not this machine: a page from another site (or an opaque origin) opened this connection in the user's browser, so not local`);
  }
}

/** The localOrigins entry for an Origin a browser sent, if it can be one. */
function originFix(origin: string): Fix | undefined {
  const entry = browserOrigin(origin);
  return entry === null ? undefined : { add: "localOrigins", entry };
}

function note(explanation: Explanation, code: DiagnosticCode, message: string, fix?: Fix): void {
  explanation.diagnostics.push(fix === undefined ? { code, message } : { code, message, fix });
}

function trustOf(list: TrustedProxies | readonly string[] | undefined): TrustedProxies {
  return list === undefined ? EMPTY_TRUST : list instanceof TrustedProxies ? list : trustedList(list);
}

function checkOptions(header: unknown, maxHops: unknown): void {
  if (header !== "x-forwarded-for" && header !== "forwarded" && header !== "x-real-ip") {
    throw new TypeError(`header must be one of ${FORWARDING_HEADERS.join(", ")}, got ${JSON.stringify(header)}`);
  }
  if (maxHops !== DEFAULT_MAX_HOPS && (!Number.isInteger(maxHops) || (maxHops as number) < 0)) {
    throw new TypeError(`maxHops must be a non-negative integer, got ${JSON.stringify(maxHops)}`);
  }
}
