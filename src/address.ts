// One normalising parser for every address the library reads: the socket peer, header entries, Host
// literals and trust-list entries. Strictness is Node's own `net.isIP`, so "is this an address" has one
// answer across the library and the server that accepted the socket.
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/** An IPv4 address as an unsigned 32-bit integer. IPv4-mapped IPv6 is always folded into this form. */
export interface IPv4 {
  readonly family: 4;
  readonly value: number;
}

/** An IPv6 address as eight 16-bit groups; never an IPv4-mapped address (those are {@link IPv4}). */
export interface IPv6 {
  readonly family: 6;
  readonly parts: readonly number[];
}

export type Address = IPv4 | IPv6;

/**
 * Parses a bare address: dotted-quad decimal IPv4 or standard IPv6 text, with an optional IPv6 zone id
 * (dropped). Legacy IPv4 forms (`127.1`, `0177.0.0.1`, `0x7f.0.0.1`, `2130706433`) are rejected because
 * `net.isIP` rejects them; resolvers that accept them let `0177.0.0.1` pass for loopback.
 */
export function parseIp(text: string): Address | null {
  switch (isIP(text)) {
    case 4:
      return { family: 4, value: dottedToInt(text) };
    case 6: {
      const zone = text.indexOf("%");
      const parts = ipv6Groups(zone === -1 ? text : text.slice(0, zone));
      return isMapped(parts) ? { family: 4, value: (parts[6]! * 0x10000 + parts[7]!) >>> 0 } : { family: 6, parts };
    }
    default:
      return null;
  }
}

/**
 * Parses an address as forwarding headers write it: a bare address, `a.b.c.d:port`, `[v6]` or `[v6]:port`.
 * A port may be decimal (0-65535) or an RFC 7239 obfuscated port (`_abc`); it is validated and dropped.
 */
export function parseNode(text: string): Address | null {
  if (text.charCodeAt(0) === 0x5b /* [ */) {
    const close = text.indexOf("]");
    if (close === -1) return null;
    const rest = text.slice(close + 1);
    if (rest !== "" && !(rest.charCodeAt(0) === 0x3a /* : */ && isPort(rest.slice(1)))) return null;
    const inner = text.slice(1, close);
    return isIP(inner) === 6 ? parseIp(inner) : null;
  }
  const colon = text.indexOf(":");
  // Exactly one colon: IPv4 with a port. More than one: IPv6, which needs brackets to carry a port.
  if (colon !== -1 && text.indexOf(":", colon + 1) === -1) {
    const host = text.slice(0, colon);
    return isPort(text.slice(colon + 1)) && isIP(host) === 4 ? parseIp(host) : null;
  }
  return parseIp(text);
}

const DECIMAL_PORT = /^(?:0|[1-9]\d{0,4})$/;
// RFC 7239 section 6.3: obfport = "_" 1*(ALPHA / DIGIT / "." / "_" / "-")
const OBFUSCATED_PORT = /^_[A-Za-z0-9._-]+$/;

/** A decimal port, 0-65535, without sign or leading zeros. */
export function isDecimalPort(text: string): boolean {
  return DECIMAL_PORT.test(text) && Number(text) <= 65535;
}

function isPort(text: string): boolean {
  return isDecimalPort(text) || OBFUSCATED_PORT.test(text);
}

/** 127.0.0.0/8 or ::1. Mapped forms are already IPv4; `::127.0.0.1` and `64:ff9b::7f00:1` are not loopback. */
export function isLoopback(address: Address): boolean {
  if (address.family === 4) return address.value >>> 24 === 127;
  const p = address.parts;
  return p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 && p[6] === 0 && p[7] === 1;
}

/** Canonical text: dotted IPv4 (mapped addresses included), RFC 5952 lower-case IPv6, no port, no zone. */
export function formatAddress(address: Address): string {
  if (address.family === 4) {
    const v = address.value;
    return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  }
  // ipaddr.js implements RFC 5952 (longest zero run, first on a tie, a single zero group not compressed).
  return new ipaddr.IPv6(address.parts as number[]).toRFC5952String();
}

function dottedToInt(text: string): number {
  const [a, b, c, d] = text.split(".").map(Number) as [number, number, number, number];
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function isMapped(parts: readonly number[]): boolean {
  return parts[0] === 0 && parts[1] === 0 && parts[2] === 0 && parts[3] === 0 && parts[4] === 0 && parts[5] === 0xffff;
}

/**
 * Expands IPv6 text that `net.isIP` has already accepted (zone removed) into eight groups.
 * Written by hand rather than with `ipaddr.IPv6.parse`, which reads `::a.b.c.d` (IPv4-compatible) as the
 * IPv4-mapped `::ffff:a.b.c.d` and so would make `::127.0.0.1` loopback; RFC 4291 says it is not.
 */
function ipv6Groups(text: string): number[] {
  let body = text;
  let embedded = -1;
  const lastColon = body.lastIndexOf(":");
  if (body.indexOf(".", lastColon) !== -1) {
    embedded = dottedToInt(body.slice(lastColon + 1));
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const gap = body.indexOf("::");
  let groups: string[];
  if (gap === -1) {
    groups = body.split(":");
  } else {
    const left = gap === 0 ? [] : body.slice(0, gap).split(":");
    const right = gap + 2 === body.length ? [] : body.slice(gap + 2).split(":");
    groups = [...left, ...new Array<string>(8 - left.length - right.length).fill("0"), ...right];
  }
  const parts = groups.map((group) => parseInt(group, 16));
  if (embedded !== -1) {
    parts[6] = embedded >>> 16;
    parts[7] = embedded & 0xffff;
  }
  return parts;
}
