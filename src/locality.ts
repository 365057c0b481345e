// Does a Host or Origin name this machine? These checks stop web pages in the user's own browser from
// borrowing the user's locality: a DNS-rebinding page sends its own name as Host, and a cross-site page
// opening a WebSocket sends its own origin as Origin. Neither can forge these headers from a browser.
import { isIP } from "node:net";
import { isDecimalPort, isLoopback, parseIp } from "./address.js";

// A DNS name is at most 253 characters; add brackets, a port and room for an IPv6 literal.
const MAX_AUTHORITY = 300;
// `*.localhost` resolves to loopback by rule (RFC 6761, and browsers hard-wire it), so no attacker owns it.
const LOCALHOST_SUBDOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+localhost$/;

/**
 * Whether `authority` (a Host value, or an origin without its scheme) names this machine: `localhost`,
 * `*.localhost`, an address in 127.0.0.0/8, `[::1]`, or one of `localHosts` (compared case-insensitively),
 * with or without a decimal port. Anything else, `localhost.evil.example` included, does not.
 */
export function namesThisMachine(authority: string, localHosts: readonly string[]): boolean {
  if (authority.length > MAX_AUTHORITY) return false;
  let name: string;
  let literal: string;
  if (authority.charCodeAt(0) === 0x5b /* [ */) {
    const close = authority.indexOf("]");
    if (close === -1 || !portOk(authority.slice(close + 1))) return false;
    name = authority.slice(0, close + 1).toLowerCase();
    literal = authority.slice(1, close);
    if (isIP(literal) !== 6 || literal.includes("%")) return false;
  } else {
    const colon = authority.lastIndexOf(":");
    if (colon !== -1 && !portOk(authority.slice(colon))) return false;
    name = (colon === -1 ? authority : authority.slice(0, colon)).toLowerCase();
    literal = isIP(name) === 4 ? name : "";
    if (literal === "" && (name === "localhost" || LOCALHOST_SUBDOMAIN.test(name))) return true;
  }
  const address = literal === "" ? null : parseIp(literal);
  if (address !== null && isLoopback(address)) return true;
  return localHosts.some((host) => host.toLowerCase() === name);
}

/** Whether an Origin header names this machine. `null` and schemes other than http(s) do not. */
export function originIsThisMachine(origin: string, localHosts: readonly string[]): boolean {
  const scheme = origin.slice(0, 8).toLowerCase();
  const rest = scheme.startsWith("http://") ? origin.slice(7) : scheme === "https://" ? origin.slice(8) : null;
  return rest !== null && namesThisMachine(rest, localHosts);
}

/** "" (no port) or ":" followed by a decimal port. */
function portOk(suffix: string): boolean {
  return suffix === "" || (suffix.charCodeAt(0) === 0x3a /* : */ && isDecimalPort(suffix.slice(1)));
}
