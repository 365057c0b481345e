// Does a Host or Origin name this machine? These checks stop web pages in the user's own browser from
// borrowing the user's locality: a DNS-rebinding page sends its own name as Host, and a cross-site page
// opening a WebSocket sends its own origin as Origin. Neither can forge these headers from a browser.
// Written over index ranges, without slicing or regular expressions: the check runs on every local request.
import { isDecimalPort, isLoopback, parseIp } from "./address.js";

// A DNS name is at most 253 characters; add brackets, a port and room for an IPv6 literal.
const MAX_AUTHORITY = 300;
const LOCALHOST = "localhost";
const DOT_LOCALHOST = ".localhost";

/**
 * Whether `text[start...]` (a Host value, or an origin after its scheme) names this machine: `localhost`,
 * `*.localhost`, an address in 127.0.0.0/8, `[::1]`, or one of `localHosts` (compared case-insensitively),
 * with or without a decimal port. Anything else, `localhost.evil.example` included, does not.
 */
export function namesThisMachine(text: string, localHosts: readonly string[], start = 0): boolean {
  const end = text.length;
  if (end - start > MAX_AUTHORITY) return false;
  let nameEnd: number;
  if (text.charCodeAt(start) === 0x5b /* [ */) {
    const close = text.indexOf("]", start);
    if (close === -1 || !portOk(text, close + 1, end)) return false;
    // A bracketed IPv6 literal, without a zone (browsers never send one).
    const colon = text.indexOf(":", start);
    if (colon === -1 || colon > close || text.indexOf("%", start) !== -1) return false;
    const address = parseIp(text, start + 1, close);
    if (address === null) return false;
    if (isLoopback(address)) return true;
    nameEnd = close + 1;
  } else {
    const colon = text.indexOf(":", start);
    // One colon at most: a name or IPv4 address and its port (an IPv6 literal needs brackets).
    if (colon !== -1 && (text.indexOf(":", colon + 1) !== -1 || !portOk(text, colon, end))) return false;
    nameEnd = colon === -1 ? end : colon;
    if (isDigit(text.charCodeAt(start)) && isDigit(text.charCodeAt(nameEnd - 1))) {
      const address = parseIp(text, start, nameEnd);
      if (address !== null && isLoopback(address)) return true;
    } else if (isLocalhostName(text, start, nameEnd)) {
      return true;
    }
  }
  return localHosts.length > 0 && localHosts.some((host) => sameIgnoringCase(text, start, nameEnd, host));
}

/** Whether an Origin header names this machine. `null` and schemes other than http(s) do not. */
export function originIsThisMachine(origin: string, localHosts: readonly string[]): boolean {
  const start = startsIgnoringCase(origin, "http://") ? 7 : startsIgnoringCase(origin, "https://") ? 8 : -1;
  return start !== -1 && namesThisMachine(origin, localHosts, start);
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
  return start === end || (text.charCodeAt(start) === 0x3a /* : */ && isDecimalPort(text, start + 1, end));
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
