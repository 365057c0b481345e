// Does a Host or Origin name this machine? These checks stop web pages in the user's own browser from
// borrowing the user's locality: a DNS-rebinding page sends its own name as Host, and a cross-site page
// opening a WebSocket sends its own origin as Origin. Neither can forge these headers from a browser.
// Written over index ranges, without slicing or regular expressions: the check runs on every local request.
import { decimalPort, isLoopback, parseIp } from "./address.js";
import { ClientAddressConfigError } from "./config-error.js";

// A DNS name is at most 253 characters; add brackets, a port and room for an IPv6 literal. Nothing longer
// names this machine, whatever localHosts holds (a longer entry is refused when options are read).
export const MAX_AUTHORITY = 300;
const LOCALHOST = "localhost";
const DOT_LOCALHOST = ".localhost";

/** hostPort's answers besides a port number. */
export const NOT_THIS_MACHINE = -2;
export const NO_PORT = -1;

/**
 * Whether `text[start...]` (a Host value, or an origin after its scheme) names this machine: `localhost`,
 * `*.localhost`, an address in 127.0.0.0/8, `[::1]`, or one of `localHosts` (compared case-insensitively),
 * with or without a decimal port. Anything else, `localhost.evil.example` included, does not. Returns
 * NOT_THIS_MACHINE, or the port: NO_PORT when none is written, else its number.
 */
export function hostPort(text: string, localHosts: readonly string[], start = 0): number {
  const end = text.length;
  if (end - start > MAX_AUTHORITY) return NOT_THIS_MACHINE;
  let nameEnd: number;
  if (text.charCodeAt(start) === 0x5b /* [ */) {
    const close = text.indexOf("]", start);
    if (close === -1 || !portOk(text, close + 1, end)) return NOT_THIS_MACHINE;
    // A bracketed IPv6 literal, without a zone (browsers never send one).
    const colon = text.indexOf(":", start);
    if (colon === -1 || colon > close || text.indexOf("%", start) !== -1) return NOT_THIS_MACHINE;
    const address = parseIp(text, start + 1, close);
    if (address === null) return NOT_THIS_MACHINE;
    nameEnd = close + 1;
    if (isLoopback(address)) return portAt(text, nameEnd);
  } else {
    const colon = text.indexOf(":", start);
    // One colon at most: a name or IPv4 address and its port (an IPv6 literal needs brackets).
    if (colon !== -1 && (text.indexOf(":", colon + 1) !== -1 || !portOk(text, colon, end))) return NOT_THIS_MACHINE;
    nameEnd = colon === -1 ? end : colon;
    if (isDigit(text.charCodeAt(start)) && isDigit(text.charCodeAt(nameEnd - 1))) {
      const address = parseIp(text, start, nameEnd);
      if (address !== null && isLoopback(address)) return portAt(text, nameEnd);
    } else if (isLocalhostName(text, start, nameEnd)) {
      return portAt(text, nameEnd);
    }
  }
  // Entries are never empty (see checkLocalHosts), so an empty name matches none of them.
  for (const host of localHosts) if (sameIgnoringCase(text, start, nameEnd, host)) return portAt(text, nameEnd);
  return NOT_THIS_MACHINE;
}

/** An Origin that names this machine: its scheme, and the port the page was served on (its scheme's default when none is written). */
export interface LocalOrigin {
  readonly secure: boolean;
  readonly port: number;
}

/** The default port of http (80) or https (443). */
function defaultPort(secure: boolean): number {
  return secure ? 443 : 80;
}

/** The origin's scheme and port if it names this machine (by hostPort's test); null for `null`, other schemes, others. */
export function localOrigin(origin: string, localHosts: readonly string[]): LocalOrigin | null {
  const start = schemeEnd(origin);
  if (start === -1) return null;
  const port = hostPort(origin, localHosts, start);
  if (port === NOT_THIS_MACHINE) return null;
  const secure = start === 8;
  return { secure, port: port === NO_PORT ? defaultPort(secure) : port };
}

/**
 * Whether a page on `origin` was served by this server: the same scheme and port as the request the browser
 * made (RFC 6454 section 4: an origin is scheme, host and port, and a missing port is the scheme's default,
 * that scheme's only). Another port of this machine is another application (a dev server, another local
 * service), and the other scheme on the default port is another server (80 is not 443): their pages must not
 * borrow the gateway's locality.
 */
export function sameServer(origin: LocalOrigin, hostPortNumber: number, secure: boolean): boolean {
  return origin.secure === secure && origin.port === (hostPortNumber === NO_PORT ? defaultPort(secure) : hostPortNumber);
}

/**
 * The scheme a proxy says the browser used (X-Forwarded-Proto, Forwarded proto=): true for https or wss,
 * false for http or ws (any case), null for anything else. A WebSocket's own scheme names the same server as
 * its HTTP one: a page on https://x opens wss://x.
 */
export function schemeIsSecure(text: string): boolean | null {
  const scheme = text.toLowerCase();
  return scheme === "https" || scheme === "wss" ? true : scheme === "http" || scheme === "ws" ? false : null;
}

/**
 * Fetch Metadata (W3C): a request without Origin that a page elsewhere caused (a navigation, an <img>, a
 * no-cors fetch) says so in Sec-Fetch-Site. Only `same-origin` and `none` (typed or bookmarked) are this
 * server's own; absent means a client that sends no Fetch Metadata (a script, an older browser).
 */
export function fetchSiteIsOwn(value: string | null | undefined): boolean {
  return value === undefined || value === "same-origin" || value === "none";
}

/** Index after `http://` or `https://` (any case), or -1. */
function schemeEnd(origin: string): number {
  return startsIgnoringCase(origin, "http://") ? 7 : startsIgnoringCase(origin, "https://") ? 8 : -1;
}

/** The decimal port after text[at] == ":", or NO_PORT at the end (portOk has checked it). */
function portAt(text: string, at: number): number {
  return at === text.length ? NO_PORT : decimalPort(text, at + 1);
}

/** `localhost` or `*.localhost` in text[start, end): names that resolve to loopback by rule (RFC 6761). */
function isLocalhostName(text: string, start: number, end: number): boolean {
  if (sameIgnoringCase(text, start, end, LOCALHOST)) return true;
  const suffix = end - DOT_LOCALHOST.length;
  if (suffix <= start || !sameIgnoringCase(text, suffix, end, DOT_LOCALHOST)) return false;
  // Every label before it: 1-63 letters, digits or hyphens, not starting or ending with a hyphen.
  let labelStart = start;
  for (let i = start; i <= suffix; i++) {
    const c = i === suffix ? 0x2e : text.charCodeAt(i);
    if (c === 0x2e /* . */) {
      const length = i - labelStart;
      if (length < 1 || length > 63 || text.charCodeAt(labelStart) === 0x2d || text.charCodeAt(i - 1) === 0x2d) return false;
      labelStart = i + 1;
    } else if (!(isDigit(c) || c === 0x2d || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a))) {
      return false;
    }
  }
  return true;
}

/** "" (no port) or ":" followed by a decimal port, in text[start, end). */
function portOk(text: string, start: number, end: number): boolean {
  return start === end || (text.charCodeAt(start) === 0x3a /* : */ && decimalPort(text, start + 1, end) !== -1);
}

function sameIgnoringCase(text: string, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    if (lower(text.charCodeAt(start + i)) !== lower(word.charCodeAt(i))) return false;
  }
  return true;
}

function startsIgnoringCase(text: string, prefix: string): boolean {
  return text.length >= prefix.length && sameIgnoringCase(text, 0, prefix.length, prefix);
}

/** ASCII lower case only: a non-ASCII letter never equals an ASCII one (no Unicode case folding). */
function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** A name localHosts may hold: non-empty, no spaces, commas or slashes, no longer than a Host that can match. */
export function isLocalHostEntry(entry: unknown): entry is string {
  return typeof entry === "string" && /^[^\s,/]+$/.test(entry) && entry.length <= MAX_AUTHORITY;
}

/**
 * Validates `localHosts` once: each entry a non-empty name without spaces, commas or slashes, no longer than
 * a Host that can match. An empty entry (what `"".split(",")` gives) would match an empty Host or
 * `Origin: http://`; it is an error, not a silent match.
 */
export function checkLocalHosts(list: readonly unknown[]): readonly string[] {
  if (!Array.isArray(list)) throw new ClientAddressConfigError(`localHosts must be an array of host names, got ${typeof list}`, "localHosts", list);
  list.forEach((entry: unknown, index) => {
    if (!isLocalHostEntry(entry)) {
      throw new ClientAddressConfigError(`localHosts[${index}] must be a host name (e.g. "mybox" or "[fd18::2]"), got ${JSON.stringify(entry)}`, "localHosts", entry, index);
    }
  });
  return Object.freeze([...(list as string[])]);
}

/**
 * Validates `localOrigins` (or `publicOrigins`) once: each an http(s) origin, scheme://host[:port] and nothing more (a lone
 * trailing `/` allowed), kept in the form browsers send it, so that comparing is one set lookup. That form is
 * the WHATWG URL standard's serialization of an origin, which Node's own URL implements, so it is used here:
 * lower case, IPv6 compressed (`[0:0:0:0:0:0:0:1]` is sent as `[::1]`), IPv4 written in full, international
 * names in punycode, the default port dropped. `null` is refused: every sandboxed or file page sends it.
 */
export function compileLocalOrigins(list: readonly unknown[], option: "localOrigins" | "publicOrigins" = "localOrigins"): ReadonlySet<string> {
  if (!Array.isArray(list)) throw new ClientAddressConfigError(`${option} must be an array of origins, got ${typeof list}`, option, list);
  return new Set(
    list.map((entry: unknown, index) => {
      const origin = typeof entry === "string" ? browserOrigin(entry) : null;
      if (origin === null) {
        throw new ClientAddressConfigError(`${option}[${index}] must be an http or https origin such as "http://localhost:5173" (scheme, host, optional port; no path), got ${JSON.stringify(entry)}`, option, entry, index);
      }
      return origin;
    }),
  );
}

/**
 * The origin as a browser serializes it (WHATWG URL), or null when `text` is not exactly an http(s) origin:
 * the form localOrigins entries are kept in, and an Origin a client wrote in another spelling is compared in.
 */
/**
 * The origin of the request the browser made (its host, scheme and a port a proxy gave), in the form browsers
 * send an origin; null when it is not one.
 */
export function askedOrigin(host: string, secure: boolean, port: number): string | null {
  const given = port !== NO_PORT && !/:\d+$/.test(host) ? `:${port}` : "";
  return browserOrigin(`${secure ? "https" : "http"}://${host}${given}`);
}

export function browserOrigin(text: string): string | null {
  const start = schemeEnd(text);
  // URL is lenient where an origin is not: it takes "http:///x", backslashes, user info, a query or fragment.
  if (start === -1 || text.length - start > MAX_AUTHORITY || text.charCodeAt(start) === 0x2f /* / */ || /[\s\\?#@]/.test(text)) return null;
  try {
    const url = new URL(text);
    return url.pathname === "/" ? url.origin : null;
  } catch {
    return null;
  }
}
