// The decision: who the client is (rules 1-3) and whether it counts as local (rule 4), with the reason.
import { type Address, formatAddress, isLoopback, parseIp, parseNode } from "./address.js";
import { FORWARDING_HEADERS, type ForwardingHeader, entries } from "./entries.js";
import { type HeaderReader, type HeadersInput, headerReader } from "./headers.js";
import { namesThisMachine, originIsThisMachine } from "./locality.js";
import { TrustedProxies, compileTrustedProxies } from "./trust.js";

export type HopSource = "socket" | ForwardingHeader;

/** One address on the path, nearest first: the socket peer, then header entries right to left. */
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
  | "origin-not-local" // Origin names another site (cross-site WebSocket), or is `null`
  | "invalid-peer" // remoteAddress is missing or not an address
  | "invalid-entry" // the walk met an entry that is not an address (`unknown`, `127.1`, garbage)
  | "malformed-header" // the believed header could not be parsed
  | "hop-limit"; // more than maxHops trusted entries

/** `<where the address came from>:<verdict>`, e.g. `socket:loopback`, `x-forwarded-for:remote-client`. */
export type Basis = `${HopSource}:${Verdict}`;

/** The four locality conditions of the trust model, each with its verdict for this request. */
export interface LocalityChecks {
  /** a. The client is loopback, or every address on the path (the client included) is trusted. */
  readonly client: boolean;
  /** b. No forwarding header that the walk did not read names a client. */
  readonly forwarding: boolean;
  /** c. Host is present and names this machine. */
  readonly host: boolean;
  /** d. Origin is absent or names this machine. */
  readonly origin: boolean;
}

export type DiagnosticCode =
  | "invalid-peer"
  | "invalid-entry"
  | "malformed-header"
  | "hop-limit"
  | "client-not-loopback"
  | "untrusted-forwarding-header"
  | "unbelieved-forwarding-header"
  | "host-missing"
  | "host-not-local"
  | "origin-not-local";

export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly message: string;
}

export interface ResolveOptions {
  /** The socket's peer, as Node gives it (`req.socket.remoteAddress`); undefined once the socket closed. */
  readonly remoteAddress: string | undefined;
  readonly headers?: HeadersInput | undefined;
  /** Compiled with {@link compileTrustedProxies}, or a list compiled on first use and cached by identity. */
  readonly trustedProxies?: TrustedProxies | readonly string[] | undefined;
  /** The one forwarding header to believe from trusted proxies. Default `x-forwarded-for`. */
  readonly header?: ForwardingHeader | undefined;
  /** How many header entries the walk examines at most. Default 64. */
  readonly maxHops?: number | undefined;
  /** Extra names that mean this machine in Host and Origin (e.g. a host name on 127.0.1.1). */
  readonly localHosts?: readonly string[] | undefined;
}

export interface ClientAddress {
  /** Canonical: dotted IPv4 (mapped addresses too), RFC 5952 IPv6; no port, no zone. Null when unknown. */
  readonly address: string | null;
  readonly loopbackEquivalent: boolean;
  readonly basis: Basis;
  readonly hops: readonly Hop[];
  readonly checks: LocalityChecks;
  readonly diagnostics: readonly Diagnostic[];
}

const DISPLAY: Readonly<Record<ForwardingHeader, string>> = {
  "x-forwarded-for": "X-Forwarded-For",
  forwarded: "Forwarded",
  "x-real-ip": "X-Real-IP",
};
export const DEFAULT_HEADER: ForwardingHeader = "x-forwarded-for";
export const DEFAULT_MAX_HOPS = 64;
const NO_HOSTS: readonly string[] = [];

const compiledLists = new WeakMap<readonly string[], TrustedProxies>();
const EMPTY_TRUST = compileTrustedProxies([]);

/**
 * Resolves the client of one request. Never throws on request input: a missing peer, a malformed header or
 * a non-address entry gives `address: null` and `loopbackEquivalent: false` with a diagnostic. Throws only
 * on configuration: a bad `trustedProxies` entry ({@link TrustedProxiesError}) or a bad option (TypeError).
 */
export function resolveClientAddress(options: ResolveOptions): ClientAddress {
  const trust = trustOf(options.trustedProxies);
  const believed = options.header ?? DEFAULT_HEADER;
  const maxHops = options.maxHops ?? DEFAULT_MAX_HOPS;
  const localHosts = options.localHosts ?? NO_HOSTS;
  checkOptions(believed, maxHops, localHosts);

  const read = headerReader(options.headers);
  const diagnostics: Diagnostic[] = [];
  const path = walk(options.remoteAddress, read, trust, believed, maxHops, diagnostics);
  const checks = locality(path, read, believed, localHosts, diagnostics);

  const client = path.client;
  let verdict: Verdict;
  if (client === null) verdict = path.failure;
  else if (!checks.client) verdict = "remote-client";
  else if (!checks.forwarding) verdict = "unread-forwarding-header";
  else if (!checks.host) verdict = "host-not-local";
  else if (!checks.origin) verdict = "origin-not-local";
  else verdict = isLoopback(client) ? "loopback" : "trusted-path";

  return {
    address: client === null ? null : formatAddress(client),
    loopbackEquivalent: verdict === "loopback" || verdict === "trusted-path",
    basis: `${path.source}:${verdict}`,
    hops: path.hops,
    checks,
    diagnostics,
  };
}

type Path =
  | { client: Address; source: HopSource; allTrusted: boolean; peerTrusted: boolean; hops: Hop[] }
  | { client: null; source: HopSource; failure: Verdict; peerTrusted: boolean; hops: Hop[] };

/** Rules 1-3: the peer, then (if it is trusted) the believed header right to left. */
function walk(
  remoteAddress: unknown,
  read: HeaderReader,
  trust: TrustedProxies,
  believed: ForwardingHeader,
  maxHops: number,
  diagnostics: Diagnostic[],
): Path {
  const hops: Hop[] = [];
  const peer = typeof remoteAddress === "string" ? parseIp(remoteAddress) : null;
  if (peer === null) {
    const shown = typeof remoteAddress === "string" ? `"${remoteAddress.slice(0, 60)}"` : String(remoteAddress);
    if (typeof remoteAddress === "string") hops.push({ address: null, raw: remoteAddress, trusted: false, source: "socket" });
    diagnostics.push({
      code: "invalid-peer",
      message: `remoteAddress ${shown} is not an IP address (a closed socket, or not a TCP socket): the client is unknown and not local`,
    });
    return { client: null, source: "socket", failure: "invalid-peer", peerTrusted: false, hops };
  }
  const peerTrusted = trust.trusts(peer);
  hops.push({ address: formatAddress(peer), trusted: peerTrusted, source: "socket" });
  const value = peerTrusted ? read(believed) : undefined;
  if (value === undefined) {
    return { client: peer, source: "socket", allTrusted: peerTrusted, peerTrusted, hops };
  }

  // A failed walk's verdict and its diagnostic share one name.
  const fail = (failure: "invalid-entry" | "malformed-header" | "hop-limit", message: string): Path => {
    diagnostics.push({ code: failure, message });
    return { client: null, source: believed, failure, peerTrusted, hops };
  };
  const name = DISPLAY[believed];
  if (value === null) {
    hops.push({ address: null, raw: "", trusted: false, source: believed });
    return fail("invalid-entry", `${name} from trusted proxy ${hops[0]!.address} is not text: the client is unknown`);
  }
  let client: Address = peer;
  let examined = 0;
  for (const entry of entries(believed, value)) {
    if (examined === maxHops) {
      return fail("hop-limit", `${name} holds more than maxHops (${maxHops}) entries, all from trusted proxies so far: the walk stops and the client is unknown; raise maxHops if your proxy chain is really that long`);
    }
    examined++;
    if ("malformed" in entry) {
      hops.push({ address: null, raw: entry.raw, trusted: false, source: believed });
      return fail("malformed-header", `${name} entry ${examined} from the right (${JSON.stringify(entry.raw)}) is ${entry.malformed}: the client is unknown`);
    }
    const address = parseNode(entry.text);
    if (address === null) {
      hops.push({ address: null, raw: entry.text, trusted: false, source: believed });
      return fail("invalid-entry", `${name} entry ${examined} from the right (${JSON.stringify(entry.text.slice(0, 60))}) is not an IP address: the walk stops there and the client is unknown (strict addresses only: no "unknown", obfuscated identifiers or legacy forms such as 127.1 or 0177.0.0.1)`);
    }
    const trusted = trust.trusts(address);
    hops.push({ address: formatAddress(address), trusted, source: believed });
    client = address;
    if (!trusted) return { client, source: believed, allTrusted: false, peerTrusted, hops };
  }
  return { client, source: believed, allTrusted: true, peerTrusted, hops };
}

/** Rule 4: the four conditions, each evaluated so that every failure gets its diagnostic. */
function locality(
  path: Path,
  read: HeaderReader,
  believed: ForwardingHeader,
  localHosts: readonly string[],
  diagnostics: Diagnostic[],
): LocalityChecks {
  const peer = path.hops[0]?.address ?? null;
  let client = false;
  if (path.client !== null) {
    client = isLoopback(path.client) || path.allTrusted;
    if (!client) {
      const address = formatAddress(path.client);
      diagnostics.push({
        code: "client-not-loopback",
        message:
          path.source === "socket"
            ? `peer ${address} is neither loopback nor a trusted proxy: not local. If it is the gateway of a Docker bridge or another NAT in front of this server, add "${address}" to trustedProxies (that one address, not its whole subnet)`
            : `client ${address}, named by ${DISPLAY[believed]} from trusted proxy ${peer}, is not loopback and not trusted: not local`,
      });
    }
  }

  let forwarding = true;
  for (const header of FORWARDING_HEADERS) {
    if ((path.peerTrusted && header === believed) || read(header) === undefined) continue;
    forwarding = false;
    diagnostics.push(
      path.peerTrusted
        ? {
            code: "unbelieved-forwarding-header",
            message: `trusted proxy ${peer} passed on ${DISPLAY[header]}, but only ${DISPLAY[believed]} is believed: a hop the walk cannot see, so not local. If that proxy writes ${DISPLAY[header]}, set header: "${header}"; otherwise make it drop ${DISPLAY[header]} from client requests`,
          }
        : {
            code: "untrusted-forwarding-header",
            message:
              peer === null
                ? `${DISPLAY[header]} is present but the peer is unknown: not local`
                : `peer ${peer} is not a trusted proxy, so its ${DISPLAY[header]} header was ignored; a header naming a client means a proxy forwards for someone else, so not local. If ${peer} is a reverse proxy you run, add "${peer}" to trustedProxies so the header is read`,
          },
    );
  }

  const hostValue = read("host");
  const host = typeof hostValue === "string" && namesThisMachine(hostValue, localHosts);
  if (!host) {
    diagnostics.push(
      hostValue === undefined
        ? { code: "host-missing", message: "no Host header: a local client must name this machine (localhost, 127.0.0.1, [::1] or a name in localHosts), so not local" }
        : {
            code: "host-not-local",
            message: `Host ${JSON.stringify(String(hostValue).slice(0, 80))} does not name this machine: a page loaded under another name (DNS rebinding) must not borrow a local client's standing, so not local. If it is this machine's own name, add it to localHosts`,
          },
    );
  }

  const originValue = read("origin");
  const origin = originValue === undefined || (originValue !== null && originIsThisMachine(originValue, localHosts));
  if (!origin) {
    diagnostics.push({
      code: "origin-not-local",
      message: `Origin ${JSON.stringify(String(originValue).slice(0, 80))} is not this machine: a page from another site (or an opaque origin) opened this connection in the user's browser, so not local`,
    });
  }
  return { client, forwarding, host, origin };
}

function trustOf(list: TrustedProxies | readonly string[] | undefined): TrustedProxies {
  if (list === undefined) return EMPTY_TRUST;
  if (list instanceof TrustedProxies) return list;
  let compiled = compiledLists.get(list);
  if (compiled === undefined) {
    compiled = compileTrustedProxies(list);
    compiledLists.set(list, compiled);
  }
  return compiled;
}

function checkOptions(header: unknown, maxHops: unknown, localHosts: unknown): void {
  if (!FORWARDING_HEADERS.includes(header as ForwardingHeader)) {
    throw new TypeError(`header must be one of ${FORWARDING_HEADERS.join(", ")}, got ${JSON.stringify(header)}`);
  }
  if (!Number.isInteger(maxHops) || (maxHops as number) < 0) {
    throw new TypeError(`maxHops must be a non-negative integer, got ${JSON.stringify(maxHops)}`);
  }
  if (!Array.isArray(localHosts) || !localHosts.every((host) => typeof host === "string")) {
    throw new TypeError("localHosts must be an array of host names");
  }
}
