// Every header a reverse proxy, CDN or tunnel adds to name or describe the client, one row each, naming who
// writes it (each checked against the writer's documentation or source; docs/trust-model.md's table cites
// them), and for the headers that may be believed (the `header` option), how they name the client. Locality
// condition b reads this table and nothing else: from a peer that is not a trusted proxy any of these means a
// proxy forwards for someone else; from a trusted proxy an address header other than the believed one is a
// hop the walk cannot see. Browsers and ordinary HTTP clients send none of them.

export type ProxyHeaderKind =
  /** Names the client's address. From a trusted proxy, only the believed one may be present. */
  | "address"
  /** Describes the original request or the proxy; a trusted proxy sets these routinely. */
  | "descriptive";

/**
 * How a header that may be believed names the client. `list`: comma-separated addresses, each proxy appending
 * the peer it saw (X-Forwarded-For). `forwarded`: RFC 7239 elements. `single`: one address the proxy sets
 * rather than appends; a list or a repeated line is malformed. `address-port`: one address and the client's
 * port after the last colon (CloudFront writes IPv6 unbracketed, `2001:db8::1:443`, so the port is cut by
 * that rule, never by whether the rest parses).
 */
export type BelievedShape = "list" | "forwarded" | "single" | "address-port";

/** The prefix row's name: it matches every header whose name starts with `x-forwarded-` and has no row of its own. */
export const X_FORWARDED_PREFIX = "x-forwarded-";

export interface ProxyHeaderRow {
  /** Lower case, as Node writes names in `req.headers`. */
  readonly name: string;
  /** As written in diagnostics. */
  readonly display: string;
  readonly kind: ProxyHeaderKind;
  /** Who writes it, checked against the writer's own documentation or source. */
  readonly writers: string;
  /** How it names the client, for the headers that may be believed; absent for the others. */
  readonly believe?: BelievedShape;
}

export const PROXY_HEADERS = [
  { name: "x-forwarded-for", display: "X-Forwarded-For", kind: "address", believe: "list", writers: "nginx ($proxy_add_x_forwarded_for, by configuration), HAProxy (option forwardfor), Caddy, Apache mod_proxy, Traefik, Envoy, Tailscale Serve, Cloudflare's edge (through cloudflared too), Fly.io, AWS load balancers" },
  { name: "forwarded", display: "Forwarded", kind: "address", believe: "forwarded", writers: "RFC 7239: HAProxy 2.8+ (option forwarded), nginx or Apache by configuration" },
  { name: "x-real-ip", display: "X-Real-IP", kind: "address", believe: "single", writers: "nginx (proxy_set_header X-Real-IP $remote_addr, by configuration), Traefik (always, the peer it saw), ingress-nginx" },
  { name: "x-original-forwarded-for", display: "X-Original-Forwarded-For", kind: "address", writers: "ingress-nginx (the X-Forwarded-For the client sent)" },
  { name: "x-client-ip", display: "X-Client-IP", kind: "address", writers: "no proxy we found writes it; Apache mod_remoteip setups, HAProxy req.hdr_ip and client-IP libraries read it, so only a client asking to be believed sends it" },
  { name: "x-cluster-client-ip", display: "X-Cluster-Client-IP", kind: "address", writers: "Riverbed (Zeus, Stingray) Traffic Manager; HAProxy option forwardfor header X-Cluster-Client-IP" },
  { name: "cf-connecting-ip", display: "CF-Connecting-IP", kind: "address", believe: "single", writers: "Cloudflare's edge (one address, the visitor's), through cloudflared to a tunnel's local origin too" },
  { name: "cf-connecting-ipv6", display: "CF-Connecting-IPv6", kind: "address", writers: "Cloudflare (Pseudo IPv4)" },
  { name: "true-client-ip", display: "True-Client-IP", kind: "address", believe: "single", writers: "Cloudflare (Enterprise, the same address as CF-Connecting-IP), Akamai (which keeps a value the client sent)" },
  { name: "fastly-client-ip", display: "Fastly-Client-IP", kind: "address", believe: "single", writers: "Fastly (which keeps a value the client sent unless the service's VCL sets it to client.ip)" },
  { name: "fly-client-ip", display: "Fly-Client-IP", kind: "address", believe: "single", writers: "Fly.io's proxy (the address it saw the client connect from)" },
  { name: "x-envoy-external-address", display: "X-Envoy-External-Address", kind: "address", believe: "single", writers: "Envoy (an external request's trusted client address, use_remote_address)" },
  { name: "cloudfront-viewer-address", display: "CloudFront-Viewer-Address", kind: "address", believe: "address-port", writers: "Amazon CloudFront (when an origin request policy adds it: the viewer's address and port)" },
  { name: "x-azure-clientip", display: "X-Azure-ClientIP", kind: "address", writers: "Azure Front Door" },
  { name: "x-azure-socketip", display: "X-Azure-SocketIP", kind: "address", writers: "Azure Front Door" },
  { name: "x-forwarded-proto", display: "X-Forwarded-Proto", kind: "descriptive", writers: "Caddy, Traefik, Envoy, Tailscale Serve, ingress-nginx, AWS load balancers, nginx or HAProxy by configuration" },
  { name: "x-forwarded-host", display: "X-Forwarded-Host", kind: "descriptive", writers: "Caddy, Apache mod_proxy, Traefik, Tailscale Serve, cloudflared (httpHostHeader), ingress-nginx" },
  { name: "x-forwarded-port", display: "X-Forwarded-Port", kind: "descriptive", writers: "Traefik, ingress-nginx, AWS load balancers" },
  { name: "x-forwarded-server", display: "X-Forwarded-Server", kind: "descriptive", writers: "Apache mod_proxy, Traefik" },
  { name: "x-forwarded-prefix", display: "X-Forwarded-Prefix", kind: "descriptive", writers: "Traefik (StripPrefix), ingress-nginx" },
  { name: "via", display: "Via", kind: "descriptive", writers: "RFC 9110 section 7.6.3: Caddy (always), Apache (ProxyVia), Envoy (via), Azure Front Door" },
  { name: "cdn-loop", display: "CDN-Loop", kind: "descriptive", writers: "RFC 8586: Cloudflare, Fastly, Envoy (cdn_loop)" },
  { name: "cf-ray", display: "CF-Ray", kind: "descriptive", writers: "Cloudflare's edge, through cloudflared too" },
  { name: "cf-visitor", display: "CF-Visitor", kind: "descriptive", writers: "Cloudflare's edge, through cloudflared too" },
  { name: "fastly-ff", display: "Fastly-FF", kind: "descriptive", writers: "Fastly" },
  { name: "tailscale-user-login", display: "Tailscale-User-Login", kind: "descriptive", writers: "Tailscale Serve (a tailnet user's request)" },
  { name: "tailscale-user-name", display: "Tailscale-User-Name", kind: "descriptive", writers: "Tailscale Serve" },
  { name: "tailscale-user-profile-pic", display: "Tailscale-User-Profile-Pic", kind: "descriptive", writers: "Tailscale Serve" },
  { name: "tailscale-funnel-request", display: "Tailscale-Funnel-Request", kind: "descriptive", writers: "Tailscale Funnel (a request from the public internet)" },
  // The prefix row: any X-Forwarded-* header not named above. Only proxies and the services behind them use
  // the prefix, so from an untrusted peer one is as much a proxy signal as X-Forwarded-For.
  { name: X_FORWARDED_PREFIX, display: "X-Forwarded-*", kind: "descriptive", writers: "oauth2-proxy (--pass-user-headers: X-Forwarded-User, -Email, -Groups, -Preferred-Username), authentik's proxy outpost (X-Forwarded-User, -Email, -Preferred-Username), nginx or Apache by configuration (X-Forwarded-Ssl, X-Forwarded-Scheme)" },
] as const satisfies readonly ProxyHeaderRow[];

/** A row's name. */
export type ProxyHeaderName = (typeof PROXY_HEADERS)[number]["name"];

/** A header that may be believed from trusted proxies (the `header` option): the rows that say how. */
export type ForwardingHeader = Extract<(typeof PROXY_HEADERS)[number], { readonly believe: BelievedShape }>["name"];
export const FORWARDING_HEADERS: readonly ForwardingHeader[] = PROXY_HEADERS.flatMap((row) => ("believe" in row ? [row.name] : []));

const SHAPES = new Map(PROXY_HEADERS.flatMap((row) => ("believe" in row ? [[row.name, row.believe] as const] : [])));

/** How a believable header names the client (looked up once, when the options are compiled or a cursor is made). */
export function shapeOf(header: ForwardingHeader): BelievedShape {
  return SHAPES.get(header)!;
}

/** A row's bit in a set of present headers (at most 31 rows, so that the set stays a small integer). */
export function bitOf(name: ProxyHeaderName): number {
  return 1 << PROXY_HEADERS.findIndex((row) => row.name === name);
}
export const FORWARDED_BIT = bitOf("forwarded");
export const X_FORWARDED_HOST_BIT = bitOf("x-forwarded-host");
export const X_FORWARDED_PROTO_BIT = bitOf("x-forwarded-proto");
export const X_FORWARDED_PORT_BIT = bitOf("x-forwarded-port");
/** The prefix row's slot, for any other X-Forwarded-* name. */
export const X_FORWARDED_PREFIX_SLOT = PROXY_HEADERS.findIndex((row) => row.name === X_FORWARDED_PREFIX);
/** The rows of kind "address". */
export const ADDRESS_BITS = PROXY_HEADERS.reduce((bits, row, index) => (row.kind === "address" ? bits | (1 << index) : bits), 0);

/** How diagnostics write a header's name. */
export function displayName(name: string): string {
  return PROXY_HEADERS.find((row) => row.name === name)!.display;
}
