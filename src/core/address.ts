// One normalising parser for every address the library reads: the socket peer, header entries, Host
// literals and trust-list entries. What it accepts is exactly what Node's `net.isIP` accepts (a property test
// holds the two together), so "is this an address" has one answer across the library and the server that
// accepted the socket. It is written by hand, over a range of the input string, because it runs several
// times per request: it slices nothing and allocates only the result, where `net.isIP` runs a regular
// expression and the slicing around it would copy every entry.

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

const COLON = 0x3a;
const DOT = 0x2e;
const PERCENT = 0x25;

/**
 * Parses `text[start, end)` as a bare address: dotted-quad decimal IPv4, or IPv6 text with an optional zone
 * id (dropped). Legacy IPv4 forms (`127.1`, `0177.0.0.1`, `0x7f.0.0.1`, `2130706433`) are not addresses:
 * resolvers that accept them let `0177.0.0.1` pass for loopback.
 */
export function parseIp(text: string, start = 0, end = text.length): Address | null {
  // One pass for the common case: a dotted quad that fills the range is IPv4; anything else is IPv6 or nothing.
  return quadBefore(text, start, end) === start ? lastQuad() : parseIpv6(text, start, end);
}

/**
 * Parses an address as forwarding headers write it: a bare address, `a.b.c.d:port`, `[v6]` or `[v6]:port`.
 * A port may be decimal (0-65535) or an RFC 7239 obfuscated port (`_abc`); it is validated and dropped.
 */
export function parseNode(text: string, start = 0, end = text.length): Address | null {
  if (text.charCodeAt(start) === 0x5b /* [ */) {
    const close = indexIn(text, 0x5d /* ] */, start, end);
    if (close === -1) return null;
    if (close + 1 < end && !(text.charCodeAt(close + 1) === COLON && isPort(text, close + 2, end))) return null;
    const address = parseIp(text, start + 1, close);
    // Brackets hold IPv6 only; a mapped address inside them is IPv6 text folded to IPv4, which is fine.
    return address !== null && indexIn(text, COLON, start + 1, close) !== -1 ? address : null;
  }
  if (quadBefore(text, start, end) === start) return lastQuad();
  // A dotted quad, a colon and a port: IPv4 with a port (IPv6 needs brackets to carry one).
  const colon = lastIndexIn(text, COLON, start, end);
  if (colon !== -1 && quadBefore(text, start, colon) === start) return isPort(text, colon + 1, end) ? lastQuad() : null;
  return parseIpv6(text, start, end);
}

/** The last `code` in text[start, end), or -1 (bounded like indexIn). */
function lastIndexIn(text: string, code: number, start: number, end: number): number {
  for (let i = end - 1; i >= start; i--) if (text.charCodeAt(i) === code) return i;
  return -1;
}

/**
 * The first `code` in text[start, end), or -1. `indexOf` would scan past `end` to the end of the header,
 * which for a megabyte header makes every entry cost the whole header.
 */
function indexIn(text: string, code: number, start: number, end: number): number {
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === code) return i;
  return -1;
}

/**
 * The value of a TCP port written in decimal, 0-65535, without sign or leading zeros, in text[start, end), or
 * -1 when it is not one: the one reader of every port the library reads (forwarding entries, Host and Origin,
 * X-Forwarded-Port, PROXY protocol v1 lines), so that `080` or `+80` is refused everywhere alike.
 */
export function decimalPort(text: string, start = 0, end = text.length): number {
  const value = decimalNumber(text, start, end, 5);
  return value <= 65535 ? value : -1;
}

/**
 * A number written in decimal with at most `maxDigits` digits, without sign or leading zeros, in text[start,
 * end), or -1: the one decimal reader of text (ports here, a CIDR's prefix length in trust.ts), so that a
 * leading zero, a sign or a space is refused alike wherever a number is read.
 */
export function decimalNumber(text: string, start: number, end: number, maxDigits: number): number {
  const length = end - start;
  if (length < 1 || length > maxDigits || (length > 1 && text.charCodeAt(start) === 0x30)) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

// RFC 7239 section 6.3: node-port = port / obfport; obfport = "_" 1*(ALPHA / DIGIT / "." / "_" / "-")
function isPort(text: string, start: number, end: number): boolean {
  if (text.charCodeAt(start) !== 0x5f /* _ */) return decimalPort(text, start, end) !== -1;
  if (end - start < 2) return false;
  for (let i = start + 1; i < end; i++) {
    const c = text.charCodeAt(i);
    if (!(isAlnum(c) || c === DOT || c === 0x5f || c === 0x2d)) return false;
  }
  return true;
}

/** 127.0.0.0/8 or ::1. Mapped forms are already IPv4; `::127.0.0.1` and `64:ff9b::7f00:1` are not loopback. */
export function isLoopback(address: Address): boolean {
  if (address.family === 4) return address.value >>> 24 === 127;
  const p = address.parts;
  return p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 && p[6] === 0 && p[7] === 1;
}

/**
 * Loopback, private (RFC 1918), link-local or unique-local (fc00::/7): the addresses a proxy or NAT gateway
 * of one's own has. Diagnostics suggest trusting only these: a public peer is a client, never a proxy to add.
 */
export function isPrivateUse(address: Address): boolean {
  if (address.family === 4) {
    const v = address.value;
    const a = v >>> 24;
    const b = (v >>> 16) & 0xff;
    return a === 127 || a === 10 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168) || (a === 169 && b === 254);
  }
  const first = address.parts[0]!;
  return isLoopback(address) || (first & 0xffc0) === 0xfe80 || (first & 0xfe00) === 0xfc00;
}

/** Canonical text: dotted IPv4 (mapped addresses included), RFC 5952 lower-case IPv6, no port, no zone. */
export function formatAddress(address: Address): string {
  if (address.family === 4) {
    const v = address.value;
    return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  }
  // RFC 5952 by hand: lower-case hex without leading zeros; the longest run of two or more zero groups
  // (the first, on a tie) becomes "::". ipaddr.js's toRFC5952String prints the same text (a property test
  // holds the two together) but takes ten times as long, and the client's address is printed on every request.
  const parts = address.parts;
  const run = zeroRun(parts);
  return run === -1 ? hexGroups(parts, 0, 8) : `${hexGroups(parts, 0, run)}::${hexGroups(parts, run + zeroRunLength(parts, run), 8)}`;
}

/** Where RFC 5952's "::" goes: the first of the longest runs of two or more zero groups, or -1. */
function zeroRun(parts: readonly number[]): number {
  let runStart = -1;
  let runLength = 1;
  for (let i = 0; i < 8; i++) {
    if (parts[i] !== 0) continue;
    let j = i;
    while (j < 8 && parts[j] === 0) j++;
    if (j - i > runLength) {
      runStart = i;
      runLength = j - i;
    }
    i = j;
  }
  return runStart;
}

function zeroRunLength(parts: readonly number[], from: number): number {
  let j = from;
  while (j < 8 && parts[j] === 0) j++;
  return j - from;
}

/** Groups `from` to `to` in lower-case hex, joined with colons. */
function hexGroups(parts: readonly number[], from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += i === from ? hexGroup(parts[i]!) : `:${hexGroup(parts[i]!)}`;
  return text;
}

// A group's hex from two byte tables, where Number#toString(16) took most of the time of writing an address
// (an IPv6 address is written whenever its text was not already RFC 5952's, and for every IPv6 source a PROXY
// header declares): the high byte without leading zeros, then the low byte in two digits; a group under 0x100
// is its low byte alone, without leading zeros.
const BYTE_HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16));
const BYTE_HEX2 = BYTE_HEX.map((hex) => hex.padStart(2, "0"));

function hexGroup(group: number): string {
  return group < 0x100 ? BYTE_HEX[group]! : BYTE_HEX[group >> 8]! + BYTE_HEX2[group & 0xff]!;
}

/**
 * The canonical text of `address`, which was parsed from text[start, end): the written text itself when it
 * is already canonical (a plain dotted quad, the common case, or IPv6 as RFC 5952 writes it), so that no
 * string is built; otherwise formatted. For IPv6 the parser noted whether the text was canonical.
 *
 * For IPv4 it decides by length alone, without reading the text again: a strict dotted quad has exactly one
 * spelling, and every other spelling of an IPv4 address is longer than it. A port adds at least two
 * characters; a mapped form adds "::ffff:" (seven) to a dotted tail, or writes each half `a.b` (at least
 * three characters, at most seven) as a hex group of at least 1, 1, 2, 3 or 4 digits for a half of 3, 4, 5,
 * 6 or 7 characters, and so saves at most three per half while its "::ffff:" and middle colon add eight.
 * test/address.test.ts holds this against every spelling of a spread of addresses.
 */
export function canonicalText(address: Address, text: string, start = 0, end = text.length): string {
  const kept =
    address.family === 4
      ? end - start === dottedLength(address.value)
      : address === written && start === writtenStart && end === writtenEnd && text === writtenText;
  if (!kept) return formatAddress(address);
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** The length of the dotted-quad text of an IPv4 value. */
function dottedLength(value: number): number {
  return 3 + decimalLength(value >>> 24) + decimalLength((value >>> 16) & 0xff) + decimalLength((value >>> 8) & 0xff) + decimalLength(value & 0xff);
}

function decimalLength(octet: number): number {
  return octet < 10 ? 1 : octet < 100 ? 2 : 3;
}

// The value of the last dotted quad quadBefore accepted. A module-level result slot rather than a returned
// object: the scan runs for every hop of every request, and this way it allocates only when an address is
// wanted (lastQuad). Read it at once: the next scan overwrites it. A typed array rather than a variable:
// most addresses are above 2^30, which V8 would box in a fresh heap number at every store to a variable.
const scanned = new Float64Array(1);

/** The dotted quad quadBefore last accepted, as an address. */
export function lastQuad(): IPv4 {
  return { family: 4, value: scanned[0]! };
}

/**
 * Reads a strict dotted quad (decimal, no leading zeros, each part 0-255) that ends at `end`, right to left
 * and not past `start`, and returns the index where it begins, with its value for lastQuad(); or -1 when
 * the text before `end` does not end with one. It is the one IPv4 reader: parseIp asks for a quad that fills
 * its range, parseNode for one before a port, the IPv6 parser for a dotted tail. It reads right to left
 * because forwarding headers are walked from their right end: the walk can read the last entry's address
 * and find where that entry starts in one pass, where a left-to-right reader needs the start found first.
 */
export function quadBefore(text: string, start: number, end: number): number {
  let value = 0;
  let factor = 1; // 256 to the power of the parts read so far
  let part = 0;
  let scale = 1; // 10 to the power of the part's digits read so far
  let digits = 0;
  let lead = 0; // the part's leftmost digit so far: a part of two or more digits may not start with 0
  let dots = 0;
  let i = end;
  for (; i > start; i--) {
    const c = text.charCodeAt(i - 1);
    if (c === DOT) {
      // No leading zeros: 0177 is octal to some parsers and decimal to others.
      if (digits === 0 || dots === 3 || (digits > 1 && lead === 0)) return -1;
      value += part * factor;
      factor *= 256;
      part = 0;
      scale = 1;
      digits = 0;
      dots++;
      continue;
    }
    const digit = c - 0x30;
    if (digit < 0 || digit > 9) break;
    part += digit * scale;
    scale *= 10;
    lead = digit;
    if (++digits > 3 || part > 255) return -1;
  }
  if (dots !== 3 || digits === 0 || (digits > 1 && lead === 0)) return -1;
  scanned[0] = value + part * factor;
  return i;
}

/**
 * IPv6 text in text[start, end): 1-4 hex digits a group, at most one `::` standing for at least one zero
 * group, an optional dotted-quad tail counting as two groups, an optional `%zone` of [0-9A-Za-z.:-]
 * (dropped). IPv4-mapped addresses are folded to IPv4. `::a.b.c.d` is IPv4-compatible, not mapped (RFC 4291),
 * which is one reason this is not `ipaddr.IPv6.parse`: that reads it as `::ffff:a.b.c.d`.
 * It also notes whether the text was already written in RFC 5952 form (see `written`).
 */
function parseIpv6(text: string, start: number, end: number): Address | null {
  // Eight slots from the start (V8 keeps a literal array of small integers packed, and nothing grows it);
  // `count` says how many groups were read.
  const parts = [0, 0, 0, 0, 0, 0, 0, 0];
  let count = 0;
  let gap = -1; // where `::` stands, as an index into parts
  let plain = true; // lower-case hex, no leading zeros, no dotted tail, no zone
  let i = start;
  // Bounded by `end`, not by the text: a range's next character may be a colon.
  if (i < end && text.charCodeAt(i) === COLON) {
    if (i + 1 === end || text.charCodeAt(i + 1) !== COLON) return null;
    gap = 0;
    i += 2;
  }
  // The zone is found where the address ends rather than searched for first: that would read the text twice.
  while (i < end && text.charCodeAt(i) !== PERCENT) {
    // One group: 1-4 hex digits, or a dotted-quad tail.
    let group = 0;
    let digits = 0;
    const from = i;
    while (i < end && digits <= 4) {
      const c = text.charCodeAt(i);
      const h = hexValue(c);
      if (h < 0) break;
      if (c < 0x61 && h > 9) plain = false; // upper case
      group = group * 16 + h;
      digits++;
      i++;
    }
    if (i < end && text.charCodeAt(i) === DOT) {
      const zone = indexIn(text, PERCENT, i, end);
      i = zone === -1 ? end : zone;
      if (quadBefore(text, from, i) !== from || count > 6) return null;
      parts[count++] = scanned[0]! >>> 16;
      parts[count++] = scanned[0]! & 0xffff;
      plain = false;
      break;
    }
    if (digits === 0 || digits > 4 || count === 8) return null;
    if (digits > 1 && text.charCodeAt(from) === 0x30) plain = false; // a leading zero
    parts[count++] = group;
    if (i === end || text.charCodeAt(i) === PERCENT) break;
    if (text.charCodeAt(i) !== COLON) return null;
    i++;
    if (i < end && text.charCodeAt(i) === COLON) {
      if (gap !== -1) return null;
      gap = count;
      i++;
    } else if (i === end || text.charCodeAt(i) === PERCENT) {
      return null; // a single colon at the end
    }
  }
  if (i < end) {
    // A zone: one or more of [0-9A-Za-z.:-], dropped.
    if (i + 1 === end) return null;
    for (let k = i + 1; k < end; k++) {
      const c = text.charCodeAt(k);
      if (!(isAlnum(c) || c === DOT || c === COLON || c === 0x2d)) return null;
    }
    plain = false;
  }
  if (gap === -1 ? count !== 8 : count > 7) return null;
  if (gap !== -1) {
    // Open the gap: move the groups after `::` to the end and zero what lies between.
    const after = count - gap;
    for (let k = 1; k <= after; k++) parts[8 - k] = parts[gap + after - k]!;
    for (let k = gap; k < 8 - after; k++) parts[k] = 0;
  }
  const mapped = parts[0] === 0 && parts[1] === 0 && parts[2] === 0 && parts[3] === 0 && parts[4] === 0 && parts[5] === 0xffff;
  if (mapped) return { family: 4, value: (parts[6]! * 0x10000 + parts[7]!) >>> 0 };
  const address: IPv6 = { family: 6, parts };
  // Written in RFC 5952 form if, besides the above, `::` stands exactly for the run the printer compresses.
  const run = zeroRun(parts);
  const canonical = plain && (gap === -1 ? run === -1 : run === gap && zeroRunLength(parts, run) === 8 - count);
  written = canonical ? address : null;
  writtenText = text;
  writtenStart = start;
  writtenEnd = end;
  return address;
}

// A note from parseIpv6 to canonicalText: the last IPv6 address it made, if text[start, end) was already in
// RFC 5952 form. canonicalText trusts it only for that very object and that very range, so a stale note (a
// parse in between, brackets or a port around the range) can only make it print what it could have kept.
let written: IPv6 | null = null;
let writtenText = "";
let writtenStart = 0;
let writtenEnd = 0;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

function isAlnum(c: number): boolean {
  const lower = c | 0x20;
  return (c >= 0x30 && c <= 0x39) || (lower >= 0x61 && lower <= 0x7a);
}
