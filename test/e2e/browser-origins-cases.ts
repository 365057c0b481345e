// The cases of the origin recordings and the answers expected of each, written by hand from the rules
// (docs/trust-model.md, and the answer's `origin` in src/core/answer.ts), never computed by the library. Pure
// data with no browser, proxy or server behind it, so that the unit suite (test/browser-origins.test.ts), the
// recorder (scripts/record-browser-origins.ts), the harness (browser-origins.ts) and the end-to-end suite
// (browser-origins.e2e.test.ts) all read the same table.
//
// Two families:
//
//   recorded  fixtures/recorded/browser-origins/: headless Chromium through real TLS-terminating proxies (Caddy,
//             nginx) in front of the example gateway on loopback, the gateway's own dashboard at
//             https://gw.test:PORT/ and a page on another site at https://evil.test:PORT/ (both names mapped to
//             127.0.0.1 inside Chromium only; each served with a certificate the recorder makes).
//   shaped    fixtures/shaped/: what Tailscale Serve (and Funnel) and cloudflared send to a local origin, written
//             by hand after their source and documentation (each fixture cites them), for topologies a
//             loopback-only machine cannot record (a tailnet, a Cloudflare account).
//
// Every expectation carries its `origin` ({ sent, own, same }), isCrossSite and the attribution beside the
// fixture's own address, loopbackEquivalent and basis; the fixture format has no field for the first three, so
// they live here. In the recorded family `PORT` stands for the proxy's port in that recording (the page's origin
// carries it), filled in from the fixture's provenance.
import type { Attribution, Basis, UnattributableReason } from "../../src/core/index.js";

/** The gateway's public name and the other site's, resolved to 127.0.0.1 inside Chromium only. */
export const GATEWAY_NAME = "gw.test";
export const CROSS_SITE_NAME = "evil.test";
export const HOST_RESOLVER_RULES = `MAP ${GATEWAY_NAME} 127.0.0.1, MAP ${CROSS_SITE_NAME} 127.0.0.1`;

/** The trust list every recorded fixture is judged with, and the gateway admits with. */
export const TRUST = {
  text: 'loopback proxies declared (trustedProxies ["loopback"], X-Forwarded-For believed)',
  options: { trustedProxies: ["loopback"] as string[] },
};

// ---------------------------------------------------------------------------------------------------------
// The recorded family

export type TopologyId = "caddy-tls" | "nginx-tls-host" | "nginx-tls-http-host" | "nginx-tls-no-proto";
export const TOPOLOGY_IDS: readonly TopologyId[] = ["caddy-tls", "nginx-tls-host", "nginx-tls-http-host", "nginx-tls-no-proto"];

/** What a topology's proxy was configured to send, in words (each fixture's description says it). */
export const TOPOLOGY_TEXT: Record<TopologyId, string> = {
  "caddy-tls": "Caddy terminating TLS (tls with the recorder's certificate) with reverse_proxy's defaults (Host kept; X-Forwarded-For, -Host and -Proto set)",
  "nginx-tls-host": "nginx terminating TLS (listen ssl) with proxy_set_header Host $host, X-Forwarded-For $proxy_add_x_forwarded_for and X-Forwarded-Proto $scheme",
  "nginx-tls-http-host": "nginx terminating TLS (listen ssl) with proxy_set_header Host $http_host, X-Forwarded-For $proxy_add_x_forwarded_for and X-Forwarded-Proto $scheme",
  "nginx-tls-no-proto": "nginx terminating TLS (listen ssl) with proxy_set_header Host $http_host and X-Forwarded-For $proxy_add_x_forwarded_for, and no X-Forwarded-Proto",
};

/** The page a request came from: the gateway's own dashboard, or a page on another site. */
export type PageKind = "dashboard" | "cross-site";
/** The request: the page's navigation (typed, as its user opens it), or a WebSocket to the gateway. */
export type RequestKind = "navigation" | "websocket";

export interface CaseSpec {
  page: PageKind;
  request: RequestKind;
  text: string;
}

/** Three requests per topology, in the order they are made. */
export const CASES: readonly CaseSpec[] = [
  { page: "dashboard", request: "navigation", text: "The dashboard's navigation, typed (https://gw.test:PORT/: no Origin, Sec-Fetch-Site none)" },
  { page: "dashboard", request: "websocket", text: "The dashboard's WebSocket (wss://gw.test:PORT/ws, opened by script in the dashboard page: Origin https://gw.test:PORT)" },
  { page: "cross-site", request: "websocket", text: "A page on another site (https://evil.test:PORT/) opening a WebSocket to wss://gw.test:PORT/ws (cross-site WebSocket hijacking: Origin https://evil.test:PORT)" },
];

export const caseKey = (spec: Pick<CaseSpec, "page" | "request">): CaseKey => `${spec.page}-${spec.request}` as CaseKey;
export type CaseKey = "dashboard-navigation" | "dashboard-websocket" | "cross-site-websocket";
export const fixtureName = (topology: TopologyId, key: CaseKey): string => `chromium-${topology}-${key}`;

/** What the gateway must see of the request the browser made, as each proxy passes it on (the browser sent Host gw.test:PORT). */
export interface Forwarded {
  host: string;
  "x-forwarded-for": string[];
  "x-forwarded-host": string[];
  "x-forwarded-proto": string[];
}

export const FORWARDS: Record<TopologyId, Forwarded> = {
  // Caddy keeps Host, replaces X-Forwarded-For with the address it saw, and adds -Host and -Proto.
  "caddy-tls": { host: "gw.test:PORT", "x-forwarded-for": ["127.0.0.1"], "x-forwarded-host": ["gw.test:PORT"], "x-forwarded-proto": ["https"] },
  // $host is the browser's host without its port; $scheme is https on a listen ssl server.
  "nginx-tls-host": { host: "gw.test", "x-forwarded-for": ["127.0.0.1"], "x-forwarded-host": [], "x-forwarded-proto": ["https"] },
  // $http_host is the Host line as the browser sent it, port included.
  "nginx-tls-http-host": { host: "gw.test:PORT", "x-forwarded-for": ["127.0.0.1"], "x-forwarded-host": [], "x-forwarded-proto": ["https"] },
  "nginx-tls-no-proto": { host: "gw.test:PORT", "x-forwarded-for": ["127.0.0.1"], "x-forwarded-host": [], "x-forwarded-proto": [] },
};

export interface OriginExpectation {
  sent: string | null;
  own: string | null;
  same: boolean;
}

export interface Expectation {
  address: string | null;
  loopbackEquivalent: boolean;
  basis: Basis;
  attribution: Attribution;
  attributionReason: UnattributableReason | null;
  origin: OriginExpectation;
  crossSite: boolean;
  /** Why, from the rules: the fixture's description ends with it. */
  why: string;
}

/** The same request judged with `localHosts: ["gw.test"]` (the operator says the name is this machine's). */
export interface LocalHostExpectation {
  loopbackEquivalent: boolean;
  basis: Basis;
}

/** The same request judged with `publicOrigins: [<the gateway's public origin>]`. */
export interface PublicOriginExpectation {
  own: string;
  same: boolean;
}

export interface RecordedExpectation extends Expectation {
  withLocalHost: LocalHostExpectation;
  withPublicOrigin: PublicOriginExpectation;
}

/** The gateway's public origin as its users open it: what `publicOrigins` names in the recorded family. */
export const PUBLIC_ORIGIN = "https://gw.test:PORT";

const HOST_NOT_LOCAL = "x-forwarded-for:host-not-local";
const PROXIED = { address: "127.0.0.1", loopbackEquivalent: false, basis: HOST_NOT_LOCAL, attribution: "proxied", attributionReason: null } as const;
const LOCAL = { loopbackEquivalent: true, basis: "x-forwarded-for:loopback" } as const;
const ORIGIN_NOT_LOCAL = { loopbackEquivalent: false, basis: "x-forwarded-for:origin-not-local" } as const;
const CLIENT =
  "the proxy's X-Forwarded-For names 127.0.0.1, Chromium on this machine, and the proxy is a trusted loopback peer: the client is loopback (condition a), but the request the browser made names gw.test, which is not this machine (condition c, the DNS-rebinding check): not local";

export const RECORDED: Record<TopologyId, Record<CaseKey, RecordedExpectation>> = {
  "caddy-tls": {
    "dashboard-navigation": {
      ...PROXIED,
      origin: { sent: null, own: "https://gw.test:PORT", same: false },
      crossSite: false,
      why: `${CLIENT}; no Origin (a typed navigation), so no page caused it: not cross-site; the gateway's own origin is X-Forwarded-Proto https and X-Forwarded-Host gw.test:PORT`,
      withLocalHost: LOCAL,
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: false },
    },
    "dashboard-websocket": {
      ...PROXIED,
      origin: { sent: "https://gw.test:PORT", own: "https://gw.test:PORT", same: true },
      crossSite: false,
      why: `${CLIENT}; Origin https://gw.test:PORT is the gateway's own origin as the request shows it (X-Forwarded-Proto https, X-Forwarded-Host gw.test:PORT): same origin, not cross-site`,
      withLocalHost: LOCAL,
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: true },
    },
    "cross-site-websocket": {
      ...PROXIED,
      origin: { sent: "https://evil.test:PORT", own: "https://gw.test:PORT", same: false },
      crossSite: true,
      why: `${CLIENT}; Origin https://evil.test:PORT is another site than the gateway's own https://gw.test:PORT: cross-site`,
      withLocalHost: ORIGIN_NOT_LOCAL,
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: false },
    },
  },
  "nginx-tls-host": {
    "dashboard-navigation": {
      ...PROXIED,
      origin: { sent: null, own: "https://gw.test", same: false },
      crossSite: false,
      why: `${CLIENT}; no Origin: not cross-site; the gateway's own origin is Host gw.test ($host drops the port) over X-Forwarded-Proto https, so https's port 443`,
      withLocalHost: LOCAL,
      // The request shows https://gw.test, which is not the configured origin: the configured one is named.
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: false },
    },
    "dashboard-websocket": {
      ...PROXIED,
      origin: { sent: "https://gw.test:PORT", own: "https://gw.test", same: false },
      crossSite: true,
      why: `${CLIENT}; limitation of the proxy's configuration: $host drops the port the browser used, so the request shows the gateway's origin as https://gw.test (port 443) and the dashboard's own Origin https://gw.test:PORT is another origin: its WebSocket counts as cross-site (on port 443 the two agree; pass $http_host, or set publicOrigins)`,
      withLocalHost: ORIGIN_NOT_LOCAL,
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: true },
    },
    "cross-site-websocket": {
      ...PROXIED,
      origin: { sent: "https://evil.test:PORT", own: "https://gw.test", same: false },
      crossSite: true,
      why: `${CLIENT}; Origin https://evil.test:PORT is another site than the gateway's https://gw.test: cross-site`,
      withLocalHost: ORIGIN_NOT_LOCAL,
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: false },
    },
  },
  "nginx-tls-http-host": {
    "dashboard-navigation": {
      ...PROXIED,
      origin: { sent: null, own: "https://gw.test:PORT", same: false },
      crossSite: false,
      why: `${CLIENT}; no Origin: not cross-site; the gateway's own origin is Host gw.test:PORT ($http_host) over X-Forwarded-Proto https`,
      withLocalHost: LOCAL,
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: false },
    },
    "dashboard-websocket": {
      ...PROXIED,
      origin: { sent: "https://gw.test:PORT", own: "https://gw.test:PORT", same: true },
      crossSite: false,
      why: `${CLIENT}; Origin https://gw.test:PORT is the gateway's own origin (Host gw.test:PORT, X-Forwarded-Proto https): same origin, not cross-site`,
      withLocalHost: LOCAL,
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: true },
    },
    "cross-site-websocket": {
      ...PROXIED,
      origin: { sent: "https://evil.test:PORT", own: "https://gw.test:PORT", same: false },
      crossSite: true,
      why: `${CLIENT}; Origin https://evil.test:PORT is another site than the gateway's own https://gw.test:PORT: cross-site`,
      withLocalHost: ORIGIN_NOT_LOCAL,
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: false },
    },
  },
  "nginx-tls-no-proto": {
    "dashboard-navigation": {
      ...PROXIED,
      origin: { sent: null, own: "http://gw.test:PORT", same: false },
      crossSite: false,
      why: `${CLIENT}; no Origin: not cross-site; nothing says the browser used https (no X-Forwarded-Proto, a plain connection to the gateway), so the gateway's own origin reads http://gw.test:PORT`,
      withLocalHost: LOCAL,
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: false },
    },
    "dashboard-websocket": {
      ...PROXIED,
      origin: { sent: "https://gw.test:PORT", own: "http://gw.test:PORT", same: false },
      crossSite: true,
      why: `${CLIENT}; limitation of the proxy's configuration: without X-Forwarded-Proto the request shows the gateway's origin as http://gw.test:PORT, and the dashboard's own Origin https://gw.test:PORT is another origin (RFC 6454: the scheme differs): its WebSocket counts as cross-site (add proxy_set_header X-Forwarded-Proto $scheme, or set publicOrigins)`,
      withLocalHost: ORIGIN_NOT_LOCAL,
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: true },
    },
    "cross-site-websocket": {
      ...PROXIED,
      origin: { sent: "https://evil.test:PORT", own: "http://gw.test:PORT", same: false },
      crossSite: true,
      why: `${CLIENT}; Origin https://evil.test:PORT is another site: cross-site`,
      withLocalHost: ORIGIN_NOT_LOCAL,
      withPublicOrigin: { own: PUBLIC_ORIGIN, same: false },
    },
  },
};

/** Replaces the PORT placeholder with the recording's proxy port. */
export function withPort<T>(value: T, port: number): T {
  return JSON.parse(JSON.stringify(value).replaceAll(":PORT", `:${port}`)) as T;
}

/**
 * The proxy's port in a recorded fixture, from the topology line its provenance ends with
 * ("topology: Chromium on 127.0.0.1 -> 127.0.0.1:PORT nginx (TLS) -> ...").
 */
export function proxyPortOf(source: string): number {
  const match = /^topology: Chromium on 127\.0\.0\.1 -> 127\.0\.0\.1:(\d+) /m.exec(source);
  if (match === null) throw new Error(`no topology line in the provenance: ${source}`);
  return Number(match[1]);
}

// ---------------------------------------------------------------------------------------------------------
// The shaped family

export interface ShapedExpectation extends Expectation {
  /** The options the fixture is judged with (its `options`). */
  trustedProxies: string[];
  /** The gateway's public origin, and the answer's origin when `publicOrigins` names it. */
  publicOrigin: string;
  withPublicOrigin: PublicOriginExpectation;
}

const TAILNET_HOST = "machine.tailnet.ts.net";
const TAILNET_ORIGIN = `https://${TAILNET_HOST}`;
const CLOUDFLARE_HOST = "gw.example.com";
const CLOUDFLARE_ORIGIN = `https://${CLOUDFLARE_HOST}`;
const ATTACKER_ORIGIN = "https://evil.example";

export const SHAPED: Record<string, ShapedExpectation> = {
  "tailscale-serve-dashboard-websocket": {
    trustedProxies: ["loopback"],
    address: "100.101.102.103",
    loopbackEquivalent: false,
    basis: "x-forwarded-for:remote-client",
    attribution: "proxied",
    attributionReason: null,
    origin: { sent: TAILNET_ORIGIN, own: TAILNET_ORIGIN, same: true },
    crossSite: false,
    why: "Serve, a trusted loopback peer, names the tailnet device 100.101.102.103 in X-Forwarded-For: a remote client (condition a); its Origin https://machine.tailnet.ts.net is the gateway's own as the request shows it (X-Forwarded-Host machine.tailnet.ts.net, X-Forwarded-Proto https): same origin, not cross-site",
    publicOrigin: TAILNET_ORIGIN,
    withPublicOrigin: { own: TAILNET_ORIGIN, same: true },
  },
  "tailscale-serve-cross-site-websocket": {
    trustedProxies: ["loopback"],
    address: "100.101.102.103",
    loopbackEquivalent: false,
    basis: "x-forwarded-for:remote-client",
    attribution: "proxied",
    attributionReason: null,
    origin: { sent: ATTACKER_ORIGIN, own: TAILNET_ORIGIN, same: false },
    crossSite: true,
    why: "the same tailnet user's browser, on a page of https://evil.example, opening a WebSocket to the gateway through Serve: a remote client, and Origin https://evil.example is not the gateway's https://machine.tailnet.ts.net: cross-site (hijacking the user's tailnet identity)",
    publicOrigin: TAILNET_ORIGIN,
    withPublicOrigin: { own: TAILNET_ORIGIN, same: false },
  },
  "tailscale-serve-undeclared-dashboard-websocket": {
    trustedProxies: [],
    address: "127.0.0.1",
    loopbackEquivalent: false,
    basis: "socket:unread-forwarding-header",
    attribution: "unattributable",
    attributionReason: "undeclared-proxy",
    origin: { sent: TAILNET_ORIGIN, own: "http://machine.tailnet.ts.net", same: false },
    crossSite: true,
    why: "Serve not declared: the peer 127.0.0.1 is the client, and X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto and the Tailscale identity headers from a peer nobody declared mean an undeclared proxy (condition b): not local; its words are not read, so the gateway's own origin is Host over the plain connection, http://machine.tailnet.ts.net, and the dashboard's Origin https://machine.tailnet.ts.net is another origin: cross-site (declare the proxy, or set publicOrigins)",
    publicOrigin: TAILNET_ORIGIN,
    withPublicOrigin: { own: TAILNET_ORIGIN, same: true },
  },
  "tailscale-funnel-dashboard-websocket": {
    trustedProxies: ["loopback"],
    address: "198.51.100.23",
    loopbackEquivalent: false,
    basis: "x-forwarded-for:remote-client",
    attribution: "proxied",
    attributionReason: null,
    origin: { sent: TAILNET_ORIGIN, own: TAILNET_ORIGIN, same: true },
    crossSite: false,
    why: "a browser on the internet through Funnel (Tailscale-Funnel-Request: ?1, no identity headers), named 198.51.100.23 in X-Forwarded-For by Serve, a trusted loopback peer: a remote client; its Origin is the gateway's own https://machine.tailnet.ts.net: same origin, not cross-site",
    publicOrigin: TAILNET_ORIGIN,
    withPublicOrigin: { own: TAILNET_ORIGIN, same: true },
  },
  "cloudflared-dashboard-websocket": {
    trustedProxies: ["loopback"],
    address: "203.0.113.7",
    loopbackEquivalent: false,
    basis: "x-forwarded-for:remote-client",
    attribution: "unattributable",
    attributionReason: "unbelieved-header",
    origin: { sent: CLOUDFLARE_ORIGIN, own: CLOUDFLARE_ORIGIN, same: true },
    crossSite: false,
    why: "cloudflared, a trusted loopback peer, passes on Cloudflare's X-Forwarded-For 203.0.113.7: a remote client (condition a; CF-Connecting-IP beside the believed X-Forwarded-For is an address header the walk does not read, condition b, so the request is unattributable); its Origin https://gw.example.com is the gateway's own as the request shows it (Host gw.example.com, X-Forwarded-Proto https): same origin, not cross-site",
    publicOrigin: CLOUDFLARE_ORIGIN,
    withPublicOrigin: { own: CLOUDFLARE_ORIGIN, same: true },
  },
  "cloudflared-cross-site-websocket": {
    trustedProxies: ["loopback"],
    address: "203.0.113.7",
    loopbackEquivalent: false,
    basis: "x-forwarded-for:remote-client",
    attribution: "unattributable",
    attributionReason: "unbelieved-header",
    origin: { sent: ATTACKER_ORIGIN, own: CLOUDFLARE_ORIGIN, same: false },
    crossSite: true,
    why: "a visitor's browser on a page of https://evil.example opening a WebSocket to wss://gw.example.com through Cloudflare's edge and cloudflared: a remote client, and Origin https://evil.example is not the gateway's https://gw.example.com: cross-site",
    publicOrigin: CLOUDFLARE_ORIGIN,
    withPublicOrigin: { own: CLOUDFLARE_ORIGIN, same: false },
  },
  "cloudflared-undeclared-dashboard-websocket": {
    trustedProxies: [],
    address: "127.0.0.1",
    loopbackEquivalent: false,
    basis: "socket:unread-forwarding-header",
    attribution: "unattributable",
    attributionReason: "undeclared-proxy",
    origin: { sent: CLOUDFLARE_ORIGIN, own: "http://gw.example.com", same: false },
    crossSite: true,
    why: "cloudflared not declared: the peer 127.0.0.1 is the client, and CF-Connecting-IP, X-Forwarded-For and the other Cloudflare headers from a peer nobody declared mean an undeclared tunnel (condition b): not local; its words are not read, so the gateway's own origin is Host over the plain connection, http://gw.example.com, and the dashboard's Origin https://gw.example.com is another origin: cross-site (declare the tunnel, or set publicOrigins)",
    publicOrigin: CLOUDFLARE_ORIGIN,
    withPublicOrigin: { own: CLOUDFLARE_ORIGIN, same: true },
  },
};

export const SHAPED_NAMES = Object.keys(SHAPED);
