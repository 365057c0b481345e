// The answer's types: what a gateway reads of a resolved request. The decision (rules.ts) fills them; the
// explanation (explain.ts) words them.
import type { Claims } from "./claims.js";
import type { PresetName } from "./presets.js";
import type { ForwardingHeader } from "./proxy-headers.js";

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
  | "loopback" // the client is a loopback address, and the request names this machine, from its own page
  | "trusted-path" // every address on the path is a trusted proxy: a NAT gateway in front of this server
  | "remote-client" // a. the client is neither loopback nor reached through trusted hops only
  | "unread-forwarding-header" // b. a proxy header says a proxy the walk did not read is in front
  | "host-not-local" // c. the request the browser made does not name this machine (DNS rebinding)
  | "origin-not-local" // d. another page caused the request: Origin or Fetch Metadata says so
  | "invalid-peer" // remoteAddress (or the declared source) is missing or not an address
  | "invalid-entry" // the walk met an entry that is not an address (`unknown`, `127.1`, garbage)
  | "malformed-header" // the believed header could not be parsed
  | "hop-limit"; // more than maxHops trusted entries

/** `<where the address came from>:<verdict>`, e.g. `socket:loopback`, `x-forwarded-for:remote-client`. */
export type Basis = `${HopSource}:${Verdict}`;

/**
 * How the client was identified, whatever its locality: the peer itself on this machine (`direct-local`), a
 * trusted peer with nothing behind it, the Docker bridge gateway of the founding bug (`nat-local`), the peer
 * itself elsewhere (`direct-remote`), named by trusted proxies or a trusted balancer (`proxied`), or not at
 * all, because there is forwarding evidence that cannot be believed (`unattributable`).
 */
export type Attribution = "direct-local" | "nat-local" | "direct-remote" | "proxied" | "unattributable";

/**
 * Why a request is unattributable, a stable code for a refusal's body and a log: a proxy signal from a peer
 * nobody declared (`undeclared-proxy`), an address header a trusted proxy passed on beside the believed one
 * (`unbelieved-header`), a believed header that cannot be read (`malformed-chain`: malformed, an entry that
 * is not an address, more than maxHops entries), or no peer address (`unknown-peer`).
 */
export type UnattributableReason = "undeclared-proxy" | "unbelieved-header" | "malformed-chain" | "unknown-peer";

/**
 * The page a request came from against the gateway's own origin: for the check a gateway makes of a remote
 * client's WebSocket (cross-site WebSocket hijacking), which needs the browser's request, not the proxy's.
 */
export interface OriginCheck {
  /**
   * The Origin the browser sent, as sent (repeated lines joined, `"null"` for an opaque origin, `""` for a
   * value that is not text); null when there is none (a script, a same-origin GET).
   */
  readonly sent: string | null;
  /**
   * The gateway's own origin as the request shows it (the scheme, host and port of the request the browser
   * made, read through trusted proxies), in the form browsers send; one of `publicOrigins` when they are given;
   * null when it cannot be told.
   */
  readonly own: string | null;
  /** Whether `sent` is the gateway's own origin (one of `publicOrigins`, when they are given). */
  readonly same: boolean;
}

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

/**
 * The answer. `address`, `loopbackEquivalent`, `basis` and the attribution are decided when it is made;
 * `hops`, `checks` and `diagnostics` are worked out the first time one of them is read (the same rules, run
 * with an explanation) and kept. `JSON.stringify` and `console.log` show every field.
 */
export interface ClientAddress extends ClientAddressData {
  /** Every field as a plain object (what `JSON.stringify` writes). */
  toJSON(): ClientAddressData;
}

export interface ClientAddressData {
  /** Canonical: dotted IPv4 (mapped addresses too), RFC 5952 IPv6; no port, no zone. Null when unknown. */
  readonly address: string | null;
  readonly loopbackEquivalent: boolean;
  readonly basis: Basis;
  readonly attribution: Attribution;
  /** Why the request is unattributable; null when it is not. */
  readonly attributionReason: UnattributableReason | null;
  /** The preset whose front named the client (attribution `proxied`); null otherwise, or without a preset. */
  readonly preset: PresetName | null;
  /**
   * What the preset's front says of the user (Tailscale Serve's Tailscale-User-Login, -Name, -Profile-Pic), read
   * from that trusted front only: claims, never checked here and never making a client local
   * (`resolver.verifyClaims` checks them with the gateway's own hook). Null when there are none.
   */
  readonly claims: Claims | null;
  /** The page the request came from against the gateway's own origin (worked out when first read). */
  readonly origin: OriginCheck;
  readonly hops: readonly Hop[];
  readonly checks: LocalityChecks;
  readonly diagnostics: readonly Diagnostic[];
}
