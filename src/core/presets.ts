// The fronts a self-hoster runs, one word each (the `preset` option): who to trust, which header to believe,
// and what else that front writes, each row following the front's own documentation or source. A preset is
// shorthand for options a gateway could write itself; entries given in `trustedProxies` add to its own.
import type { ForwardingHeader, ProxyHeaderName } from "./proxy-headers.js";

export type PresetName = "cloudflared" | "tailscale-serve" | "nginx" | "caddy" | "traefik" | "haproxy";

export interface PresetRow {
  readonly name: PresetName;
  /** Where the front runs, as trustedProxies entries: on this host (in a container, add its name). */
  readonly trustedProxies: readonly string[];
  /** The header it names the client in. */
  readonly header: ForwardingHeader;
  /**
   * The other address headers it writes (about the peer it saw, or passed on from a front it trusts): from
   * it, one whose nearest entry names an address the walk read is not a hop the walk cannot see; one that
   * names any other address still is.
   */
  readonly alsoWrites: readonly ForwardingHeader[];
  /** Headers that say who the user is: exposed as claims, never read as an address, never making a client local. */
  readonly claims: readonly ProxyHeaderName[];
  /** The documentation or source this row follows. */
  readonly follows: string;
}

export const PRESETS: readonly PresetRow[] = [
  {
    name: "cloudflared",
    trustedProxies: ["loopback"],
    header: "cf-connecting-ip",
    // Cloudflare's edge appends the visitor to X-Forwarded-For and may add True-Client-IP (Enterprise); cloudflared
    // passes them on and adds no address header of its own.
    alsoWrites: ["x-forwarded-for", "true-client-ip"],
    claims: [],
    follows: "developers.cloudflare.com/fundamentals/reference/http-headers (CF-Connecting-IP, X-Forwarded-For, True-Client-IP); cloudflare/cloudflared proxy/proxy.go (Cf-Warp-Tag-*, no address header)",
  },
  {
    name: "tailscale-serve",
    trustedProxies: ["loopback"],
    header: "x-forwarded-for",
    alsoWrites: [],
    claims: ["tailscale-user-login", "tailscale-user-name", "tailscale-user-profile-pic"],
    follows: "tailscale/tailscale ipn/ipnlocal/serve.go (addProxyForwardedHeaders: X-Forwarded-For set to the tailnet peer, the client's own removed; addTailscaleIdentityHeaders); tailscale.com/kb/1312/serve",
  },
  {
    name: "nginx",
    trustedProxies: ["loopback"],
    header: "x-forwarded-for",
    // proxy_set_header X-Real-IP $remote_addr: the peer nginx saw, the nearest X-Forwarded-For entry.
    alsoWrites: ["x-real-ip"],
    claims: [],
    follows: "nginx.org/en/docs/http/ngx_http_proxy_module.html ($proxy_add_x_forwarded_for; X-Real-IP $remote_addr by configuration: nginx sends neither by default)",
  },
  {
    name: "caddy",
    trustedProxies: ["loopback"],
    header: "x-forwarded-for",
    alsoWrites: [],
    claims: [],
    follows: "caddyserver/caddy modules/caddyhttp/reverseproxy/reverseproxy.go addForwardedHeaders (X-Forwarded-For, -Proto, -Host by default)",
  },
  {
    name: "traefik",
    trustedProxies: ["loopback"],
    header: "x-forwarded-for",
    // X-Real-Ip is always set to the peer Traefik saw.
    alsoWrites: ["x-real-ip"],
    claims: [],
    follows: "traefik/traefik pkg/middlewares/forwardedheaders/forwarded_header.go (X-Forwarded-* and X-Real-Ip from untrusted peers removed; X-Real-Ip set to the peer)",
  },
  {
    name: "haproxy",
    trustedProxies: ["loopback"],
    header: "x-forwarded-for",
    alsoWrites: [],
    claims: [],
    follows: "docs.haproxy.org configuration.txt, option forwardfor (X-Forwarded-For appended); option forwarded (RFC 7239) from 2.8 only",
  },
];

export const PRESET_NAMES: readonly PresetName[] = PRESETS.map((row) => row.name);

/** The row of a preset name, or undefined. */
export function presetRow(name: unknown): PresetRow | undefined {
  return PRESETS.find((row) => row.name === name);
}
