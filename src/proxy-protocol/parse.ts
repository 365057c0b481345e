// The PROXY protocol header (HAProxy's specification, proxy-protocol.txt: version 1 text, version 2 binary),
// read from the first bytes of a connection.
//
// Written here rather than taken from npm: proxy-protocol-js (the reference this parser is held to by a
// differential property test) parses a whole buffer only, does not say where a version 2 header ends (its
// "data" is the TLVs and the payload together), bounds neither version, accepts any text as a v1 address,
// and checks no CRC32C; @balena/proxy-protocol-parser does not say where the header ends either, and skips
// the validation it has unless asked. What this one buys:
// - streaming: it answers "incomplete" for any prefix of a header that may still become valid, so the
//   listener can feed it the bytes it has after each TCP segment (a header split byte by byte included), and
//   it answers "invalid" as soon as the bytes cannot begin a header (an HTTP request, a TLS ClientHello,
//   garbage: no waiting for a timeout);
// - bounded: it never reads past the bytes given, a v1 line is at most 107 bytes (the specification's
//   bound), a v2 header at most `maxLength` (default 4,096 bytes, 16 + 65,535 at most), decided from its
//   16-byte fixed part before the rest arrives;
// - no copy: it reads the caller's bytes in place; TLV values are views into them; address text is written
//   when first read (most headers are read for their source alone);
// - strict: v1 addresses are addresses by the resolver's own rule (read from the bytes, held to the resolver's
//   `canonicalAddress` by a property test), ports are decimal without leading zeros, v2's unassigned address
//   family and command values are refused, TLVs must tile the header exactly, and a CRC32C TLV must match.
// It never throws on any input.
import { formatAddressBytes } from "../core/index.js";
import { CRC32C_START, crc32cFinish, crc32cUpdate } from "./crc32c.js";

/** One end of the relayed connection, as the balancer declared it. */
export interface ProxyEndpoint {
  /**
   * Canonical text (dotted IPv4, mapped IPv6 as IPv4, RFC 5952 IPv6), as the resolver writes addresses;
   * written on first read and kept.
   */
  readonly address: string;
  readonly port: number;
  /** `{ address, port }` (what JSON.stringify writes). */
  toJSON(): { address: string; port: number };
}

/** A type-length-value field of a v2 header (types 0x01-0x05 and 0x20-0x25 are the specification's). */
export interface ProxyTlv {
  readonly type: number;
  /** A view into the bytes parsed (the listener copies it before keeping it). */
  readonly value: Uint8Array;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /**
   * `proxy`: a relayed connection, whose endpoints the header declares. `local`: v2's LOCAL, the balancer's
   * own connection (a health check): the socket's endpoints are the real ones.
   */
  readonly command: "proxy" | "local";
  /** v1: TCP4 `inet`, TCP6 `inet6`, UNKNOWN `unspec`. v2: the address family (for LOCAL, as sent, ignored). */
  readonly family: "inet" | "inet6" | "unix" | "unspec";
  /** v1: `stream`, or `unspec` for UNKNOWN. v2: the transport protocol. */
  readonly transport: "stream" | "dgram" | "unspec";
  /** The client side, for a PROXY command with an IPv4 or IPv6 family; null otherwise. */
  readonly source: ProxyEndpoint | null;
  /** The side the client connected to, under the same conditions. */
  readonly destination: ProxyEndpoint | null;
  /** v2's TLVs in wire order (empty for v1 and for LOCAL, whose block is discarded as the specification says). */
  readonly tlvs: readonly ProxyTlv[];
  /** The header's length in bytes: what follows it is the connection's own data. */
  readonly length: number;
}

export type ProxyHeaderErrorCode =
  | "not-proxy-protocol" // the bytes begin neither a v1 nor a v2 header
  | "v1-too-long" // no CRLF within 107 bytes
  | "v1-malformed" // the line does not follow the grammar (fields, single spaces, CRLF)
  | "v1-address" // an address that is not one of its family (strict: what net.isIP accepts, no zone)
  | "v1-port" // a port that is not decimal 0-65535 without leading zeros
  | "v2-version" // the version nibble is not 2
  | "v2-command" // the command nibble is neither LOCAL (0) nor PROXY (1)
  | "v2-family" // an address family and transport byte the specification does not assign
  | "v2-too-long" // longer than maxLength
  | "v2-address-length" // the length leaves no room for the family's addresses
  | "v2-tlv" // TLVs that do not tile the rest of the header, or a CRC32C TLV that is not 4 bytes or repeats
  | "v2-crc32c"; // the CRC32C TLV does not match the header

export type ProxyHeaderParseResult =
  | { readonly status: "header"; readonly header: ProxyHeader }
  | { readonly status: "incomplete" }
  | { readonly status: "invalid"; readonly error: ProxyHeaderErrorCode; readonly message: string };

/** The specification's bound on a v1 line, CRLF included. */
export const V1_MAX_LENGTH = 107;
/** The longest v2 header the format can express. */
export const V2_MAX_LENGTH = 16 + 0xffff;
/** The default bound on a v2 header: addresses and a few TLVs (AWS, Azure, GCP and HAProxy send well under). */
export const DEFAULT_MAX_HEADER_LENGTH = 4096;

// "\r\n\r\n\0\r\nQUIT\n"
const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
// "PROXY "
const V1_SIGNATURE = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20];
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const COLON = 0x3a;
const DOT = 0x2e;
const PP2_TYPE_CRC32C = 0x03;
const ZERO_CRC = new Uint8Array(4);
const NO_TLVS: readonly ProxyTlv[] = Object.freeze([]);
const INCOMPLETE: ProxyHeaderParseResult = Object.freeze({ status: "incomplete" });

/** v2's byte 13: the values the specification assigns, and what each means. */
interface Family {
  readonly family: ProxyHeader["family"];
  readonly transport: ProxyHeader["transport"];
  readonly addresses: number;
}
const FAMILIES: ReadonlyArray<Family | undefined> = (() => {
  const table: Array<Family | undefined> = Array.from({ length: 256 }, () => undefined);
  table[0x00] = { family: "unspec", transport: "unspec", addresses: 0 };
  table[0x11] = { family: "inet", transport: "stream", addresses: 12 };
  table[0x12] = { family: "inet", transport: "dgram", addresses: 12 };
  table[0x21] = { family: "inet6", transport: "stream", addresses: 36 };
  table[0x22] = { family: "inet6", transport: "dgram", addresses: 36 };
  table[0x31] = { family: "unix", transport: "stream", addresses: 216 };
  table[0x32] = { family: "unix", transport: "dgram", addresses: 216 };
  return table;
})();

/**
 * An endpoint whose text is written the first time it is read, as the resolver works out its hops only when
 * read: a header is mostly read for its source alone (the destination is there for whoever asks), so the
 * parse itself builds no string (v1's addresses are read from the bytes as v2's are). The address is kept as
 * 16-bit groups in network order (two for IPv4, eight for IPv6): numbers, so that a kept header does not keep
 * the segment it came in alive; no list, so that the parse allocates nothing for it but the endpoint; and
 * small ones, which V8 stores in the object itself, where 32-bit words would each be boxed in a heap number.
 */
const SCRATCH: number[] = Array.from({ length: 16 }, () => 0);

function scratchGroup(index: number, group: number): void {
  SCRATCH[2 * index] = group >> 8;
  SCRATCH[2 * index + 1] = group & 0xff;
}

class Endpoint implements ProxyEndpoint {
  #text: string | undefined;
  readonly #groups: 2 | 8;
  readonly #g0: number;
  readonly #g1: number;
  readonly #g2: number;
  readonly #g3: number;
  readonly #g4: number;
  readonly #g5: number;
  readonly #g6: number;
  readonly #g7: number;

  constructor(readonly port: number, groups: 2 | 8, g0: number, g1: number, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0) {
    this.#groups = groups;
    this.#g0 = g0;
    this.#g1 = g1;
    this.#g2 = g2;
    this.#g3 = g3;
    this.#g4 = g4;
    this.#g5 = g5;
    this.#g6 = g6;
    this.#g7 = g7;
  }

  get address(): string {
    if (this.#text === undefined) {
      // The bytes go through one scratch list (written and read at once, never kept): the listener reads every
      // connection's source, and two new lists a read took about a microsecond on the benchmark's server.
      scratchGroup(0, this.#g0);
      scratchGroup(1, this.#g1);
      if (this.#groups === 8) {
        scratchGroup(2, this.#g2);
        scratchGroup(3, this.#g3);
        scratchGroup(4, this.#g4);
        scratchGroup(5, this.#g5);
        scratchGroup(6, this.#g6);
        scratchGroup(7, this.#g7);
      }
      this.#text = formatAddressBytes(SCRATCH, 0, (2 * this.#groups) as 4 | 16);
    }
    return this.#text;
  }

  toJSON(): { address: string; port: number } {
    return { address: this.address, port: this.port };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): { address: string; port: number } {
    return this.toJSON();
  }
}

/** The 16-bit value at `at`, big-endian. */
function group(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function invalid(error: ProxyHeaderErrorCode, message: string): ProxyHeaderParseResult {
  return { status: "invalid", error, message };
}

/**
 * Reads a PROXY protocol header from the start of `bytes` (all the connection has sent so far): the header
 * and its length, "incomplete" while `bytes` is a prefix that may still become one, or "invalid". Never
 * throws, never reads past `bytes.length`. `maxLength` bounds a v2 header (clamped to the format's own limit).
 */
export function parseProxyHeader(bytes: Uint8Array, maxLength: number = DEFAULT_MAX_HEADER_LENGTH): ProxyHeaderParseResult {
  const available = bytes.length;
  if (available === 0) return INCOMPLETE;
  if (bytes[0] === V2_SIGNATURE[0]) {
    for (let i = 1; i < V2_SIGNATURE.length; i++) {
      if (i >= available) return INCOMPLETE;
      if (bytes[i] !== V2_SIGNATURE[i]) return invalid("not-proxy-protocol", "the connection does not begin with a PROXY protocol header");
    }
    return parseV2(bytes, maxLength);
  }
  for (let i = 0; i < V1_SIGNATURE.length; i++) {
    if (i >= available) return INCOMPLETE;
    if (bytes[i] !== V1_SIGNATURE[i]) return invalid("not-proxy-protocol", "the connection does not begin with a PROXY protocol header");
  }
  return parseV1(bytes);
}

// ---------------------------------------------------------------------------------------------------------
// Version 1: "PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n" or "PROXY UNKNOWN[ anything]\r\n", 107 bytes at most

const UNKNOWN = [0x55, 0x4e, 0x4b, 0x4e, 0x4f, 0x57, 0x4e]; // "UNKNOWN"

function parseV1(bytes: Uint8Array): ProxyHeaderParseResult {
  return readV1(bytes) ?? scanV1(bytes);
}

/**
 * A TCP4 or TCP6 line in one pass, each byte read once, or null for anything else (UNKNOWN, a prefix, a
 * refusal), which scanV1 then reads. A connection's line is read on every connection, and finding its spaces
 * and CRLF first, then reading its fields, read it twice: most of its cost.
 */
function readV1(bytes: Uint8Array): ProxyHeaderParseResult | null {
  const limit = Math.min(bytes.length, V1_MAX_LENGTH - 1); // the CR is among the first 106 bytes
  if (limit < 11 || bytes[6] !== 0x54 || bytes[7] !== 0x43 || bytes[8] !== 0x50 || bytes[10] !== SPACE) return null; // "TCP? "
  const six = bytes[9] === 0x36;
  if (!six && bytes[9] !== 0x34) return null;
  const sourceEnd = addressEnd(six, bytes, 11, limit, SOURCE);
  if (sourceEnd === -1 || sourceEnd === limit || bytes[sourceEnd] !== SPACE) return null;
  const destinationEnd = addressEnd(six, bytes, sourceEnd + 1, limit, DESTINATION);
  if (destinationEnd === -1 || destinationEnd === limit || bytes[destinationEnd] !== SPACE) return null;
  const sourcePortEnd = portEnd(bytes, destinationEnd + 1, limit);
  if (sourcePortEnd === -1 || sourcePortEnd === limit || bytes[sourcePortEnd] !== SPACE) return null;
  const sourcePort = portRead;
  const cr = portEnd(bytes, sourcePortEnd + 1, limit);
  if (cr === -1 || cr === limit || bytes[cr] !== CR || cr + 1 === bytes.length || bytes[cr + 1] !== LF) return null;
  return header(1, "proxy", six ? "inet6" : "inet", "stream", endpoint(sourcePort, SOURCE), endpoint(portRead, DESTINATION), NO_TLVS, cr + 2);
}

/**
 * Any other line: "PROXY UNKNOWN", "incomplete" while the bytes may still become a line readV1 reads, or the
 * reason it is not one, in the order a reader meets them: the line itself, its fields, an address, a port.
 */
function scanV1(bytes: Uint8Array): ProxyHeaderParseResult {
  const available = bytes.length;
  // Where the line ends: the first CR, which must be followed by LF; a bare LF is malformed. The spaces are
  // noted on the way (no array).
  let cr = -1;
  let s1 = -1;
  let s2 = -1;
  let s3 = -1;
  let s4 = -1;
  let spaces = 0;
  const limit = Math.min(available, V1_MAX_LENGTH - 1);
  for (let i = V1_SIGNATURE.length; i < limit; i++) {
    const byte = bytes[i]!;
    if (byte === SPACE) {
      spaces++;
      if (spaces === 1) s1 = i;
      else if (spaces === 2) s2 = i;
      else if (spaces === 3) s3 = i;
      else if (spaces === 4) s4 = i;
    } else if (byte === CR) {
      cr = i;
      break;
    } else if (byte === LF) {
      return invalid("v1-malformed", "a v1 PROXY line holds a line feed without a carriage return");
    }
  }
  if (cr === -1) return available >= V1_MAX_LENGTH - 1 ? invalid("v1-too-long", `no CRLF within the first ${V1_MAX_LENGTH} bytes of a v1 PROXY line`) : INCOMPLETE;
  if (cr + 1 >= available) return INCOMPLETE;
  if (bytes[cr + 1] !== LF) return invalid("v1-malformed", "a v1 PROXY line holds a carriage return without a line feed");

  // The protocol: UNKNOWN (the rest of the line is ignored, whatever it holds: the specification), TCP4, TCP6.
  const protocolEnd = spaces === 0 ? cr : s1;
  if (protocolEnd - 6 === 7 && matches(bytes, 6, UNKNOWN)) return header(1, "proxy", "unspec", "unspec", null, null, NO_TLVS, cr + 2);
  const six = protocolEnd - 6 === 4 && bytes[6] === 0x54 && bytes[7] === 0x43 && bytes[8] === 0x50 ? (bytes[9] === 0x36 ? true : bytes[9] === 0x34 ? false : null) : null;
  if (six === null) return invalid("v1-malformed", "a v1 PROXY line names a protocol other than TCP4, TCP6 or UNKNOWN");
  if (spaces !== 4) return invalid("v1-malformed", "a v1 PROXY line has the protocol, two addresses and two ports, separated by single spaces");
  if (s2 === s1 + 1 || s3 === s2 + 1 || s4 === s3 + 1 || cr === s4 + 1) return invalid("v1-malformed", "a v1 PROXY line has an empty field (two spaces in a row, or a space before the CRLF)");
  if (addressEnd(six, bytes, s1 + 1, s2, SOURCE) !== s2 || addressEnd(six, bytes, s2 + 1, s3, DESTINATION) !== s3) {
    return invalid("v1-address", `a v1 PROXY line's address is not an ${six ? "IPv6" : "IPv4"} address`);
  }
  // The one reason left: readV1 reads every line whose ports are valid as well.
  return invalid("v1-port", "a v1 PROXY line's port is not a decimal number from 0 to 65535 without leading zeros");
}

function matches(bytes: Uint8Array, at: number, expected: readonly number[]): boolean {
  for (let i = 0; i < expected.length; i++) if (bytes[at + i] !== expected[i]) return false;
  return true;
}

// The field readers read from `from` and stop at the first byte that cannot continue the field (or at `to`),
// returning where they stopped, or -1 when what they read is not one: readV1 then asks for the separator
// there, scanV1 for the field's end. An address goes into a slot as an endpoint keeps it: slot[0] says how
// many 16-bit groups follow (2 for TCP4, 8 for TCP6), so that reading one allocates nothing. An IPv4-mapped
// TCP6 address is folded to IPv4 where its text is written (formatAddressBytes), as a v2 header's is.
const SOURCE = new Uint16Array(9);
const DESTINATION = new Uint16Array(9);
// The value portEnd last read.
let portRead = 0;

function addressEnd(six: boolean, bytes: Uint8Array, from: number, to: number, slot: Uint16Array): number {
  if (six) return ipv6End(bytes, from, to, slot);
  slot[0] = 2;
  return ipv4End(bytes, from, to, slot, 1);
}

function endpoint(port: number, slot: Uint16Array): Endpoint {
  return slot[0] === 2 ? new Endpoint(port, 2, slot[1]!, slot[2]!) : new Endpoint(port, 8, slot[1]!, slot[2]!, slot[3]!, slot[4]!, slot[5]!, slot[6]!, slot[7]!, slot[8]!);
}

/**
 * A TCP4 address: a strict dotted quad (four decimal octets, 0-255, no leading zeros), which is exactly what
 * Node's net.isIPv4 and the resolver's own reader accept. Read from the bytes by hand, without decoding
 * them into a string first: the line is parsed on every connection, and decoding was most of its cost.
 * test/support/proxy-protocol-laws.ts holds it to the resolver's reader (`canonicalAddress`) over generated
 * and damaged text.
 */
function ipv4End(bytes: Uint8Array, from: number, to: number, slot: Uint16Array, at: number): number {
  let dots = 0;
  let address = 0;
  let value = 0;
  let digits = 0;
  let i = from;
  for (; i < to; i++) {
    const byte = bytes[i]!;
    if (byte === DOT) {
      if (digits === 0 || dots === 3) return -1;
      address = address * 256 + value;
      dots++;
      value = 0;
      digits = 0;
      continue;
    }
    const digit = byte - 0x30;
    if (digit < 0 || digit > 9) break;
    if (digits === 1 && value === 0) return -1; // a leading zero: 0177 is octal to some readers
    value = value * 10 + digit;
    if (++digits > 3 || value > 255) return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  slot[at] = address >> 8;
  slot[at + 1] = ((address & 0xff) << 8) | value;
  return i;
}

/**
 * A TCP6 address: IPv6 text without a zone, by the resolver's own rule (1-4 hex digits a group, one `::`
 * standing for at least one zero group, an optional strict dotted-quad tail; `::a.b.c.d` is IPv4-compatible,
 * not mapped). Read from the bytes by hand for the reason ipv4End is: decoding each address into a string for
 * `canonicalAddress` made a TCP6 line cost three times the reference's. test/support/proxy-protocol-laws.ts
 * holds it to `canonicalAddress` over generated and damaged text; its text is written from the groups when read.
 */
function ipv6End(bytes: Uint8Array, from: number, to: number, slot: Uint16Array): number {
  let count = 0;
  let gap = -1; // where `::` stands, as a group's index
  let afterGap = false; // just past `::`, where the address may end
  let i = from;
  if (i < to && bytes[i] === COLON) {
    if (i + 1 >= to || bytes[i + 1] !== COLON) return -1;
    gap = 0;
    afterGap = true;
    i += 2;
  }
  for (;;) {
    const start = i;
    let group = 0;
    let digits = 0;
    while (i < to && digits <= 4) {
      const h = hexValue(bytes[i]!);
      if (h < 0) break;
      group = group * 16 + h;
      digits++;
      i++;
    }
    if (i < to && bytes[i] === DOT) {
      // A dotted-quad tail: two groups, and the end of the address.
      i = count > 6 ? -1 : ipv4End(bytes, start, to, slot, count + 1);
      if (i === -1) return -1;
      count += 2;
      break;
    }
    if (digits === 0) {
      if (afterGap) break;
      return -1; // a colon with no group after it, or nothing at all
    }
    if (digits > 4 || count === 8) return -1;
    slot[++count] = group;
    afterGap = false;
    if (i === to || bytes[i] !== COLON) break;
    i++;
    if (i < to && bytes[i] === COLON) {
      if (gap !== -1) return -1;
      gap = count;
      afterGap = true;
      i++;
    }
  }
  if (gap === -1 ? count !== 8 : count > 7) return -1;
  if (gap !== -1) {
    // Open the gap: move the groups after `::` to the end and zero what lies between (groups are slot[1..8]).
    const after = count - gap;
    for (let k = 0; k < after; k++) slot[8 - k] = slot[gap + after - k]!;
    for (let k = gap + 1; k <= 8 - after; k++) slot[k] = 0;
  }
  slot[0] = 8;
  return i;
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/** A decimal port 0-65535 without leading zeros, its value in portRead. */
function portEnd(bytes: Uint8Array, from: number, to: number): number {
  let value = 0;
  let i = from;
  for (; i < to; i++) {
    const digit = bytes[i]! - 0x30;
    if (digit < 0 || digit > 9) break;
    if (i > from && value === 0) return -1; // a leading zero
    value = value * 10 + digit;
    if (value > 0xffff) return -1;
  }
  if (i === from) return -1;
  portRead = value;
  return i;
}

// ---------------------------------------------------------------------------------------------------------
// Version 2: a 12-byte signature, version and command, family and transport, a 16-bit length, then that many
// bytes: the addresses, then TLVs

function parseV2(bytes: Uint8Array, maxLength: number): ProxyHeaderParseResult {
  const available = bytes.length;
  if (available < 16) return INCOMPLETE;
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) return invalid("v2-version", `a v2 PROXY header with version ${versionCommand >> 4}, not 2`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid("v2-command", `a v2 PROXY header with command ${command}, neither LOCAL (0) nor PROXY (1)`);
  const kind = FAMILIES[bytes[13]!];
  if (kind === undefined) return invalid("v2-family", `a v2 PROXY header with address family and protocol 0x${bytes[13]!.toString(16).padStart(2, "0")}, which the specification does not assign`);
  const length = 16 + ((bytes[14]! << 8) | bytes[15]!);
  const bound = Math.min(Math.max(maxLength, 16), V2_MAX_LENGTH);
  if (length > bound) return invalid("v2-too-long", `a v2 PROXY header of ${length} bytes, over the bound of ${bound}`);
  if (length - 16 < kind.addresses) return invalid("v2-address-length", `a v2 PROXY header whose length leaves ${length - 16} bytes for ${kind.addresses} bytes of ${kind.family} addresses`);
  if (available < length) return INCOMPLETE;
  // LOCAL: the block is discarded, the family ignored (the specification); the socket's endpoints are real.
  if (command === 0) return header(2, "local", kind.family, kind.transport, null, null, NO_TLVS, length);

  let source: ProxyEndpoint | null = null;
  let destination: ProxyEndpoint | null = null;
  if (kind.addresses === 12) {
    source = new Endpoint(group(bytes, 24), 2, group(bytes, 16), group(bytes, 18));
    destination = new Endpoint(group(bytes, 26), 2, group(bytes, 20), group(bytes, 22));
  } else if (kind.addresses === 36) {
    source = new Endpoint(group(bytes, 48), 8, group(bytes, 16), group(bytes, 18), group(bytes, 20), group(bytes, 22), group(bytes, 24), group(bytes, 26), group(bytes, 28), group(bytes, 30));
    destination = new Endpoint(group(bytes, 50), 8, group(bytes, 32), group(bytes, 34), group(bytes, 36), group(bytes, 38), group(bytes, 40), group(bytes, 42), group(bytes, 44), group(bytes, 46));
  }

  // TLVs fill the rest exactly: type, a 16-bit length, the value.
  let tlvs: ProxyTlv[] | readonly ProxyTlv[] = NO_TLVS;
  let crcAt = -1;
  for (let at = 16 + kind.addresses; at < length; ) {
    if (length - at < 3) return invalid("v2-tlv", "a v2 PROXY header ends inside a TLV's type and length");
    const type = bytes[at]!;
    const size = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    const value = at + 3;
    if (value + size > length) return invalid("v2-tlv", `a v2 PROXY header's TLV 0x${type.toString(16).padStart(2, "0")} runs ${value + size - length} bytes past the header`);
    if (type === PP2_TYPE_CRC32C) {
      if (size !== 4 || crcAt !== -1) return invalid("v2-tlv", "a v2 PROXY header's CRC32C TLV is not 4 bytes, or repeats");
      crcAt = value;
    }
    if (tlvs === NO_TLVS) tlvs = [];
    (tlvs as ProxyTlv[]).push({ type, value: bytes.subarray(value, value + size) });
    at = value + size;
  }
  if (crcAt !== -1 && !crcMatches(bytes, crcAt, length)) return invalid("v2-crc32c", "a v2 PROXY header's CRC32C does not match: the header was damaged or forged");
  return header(2, "proxy", kind.family, kind.transport, source, destination, tlvs, length);
}

/**
 * RFC 4960 appendix B's CRC32C over the header with the checksum field read as zeros (the specification),
 * in three runs over the caller's bytes, so nothing is copied; the field holds it big-endian.
 */
function crcMatches(bytes: Uint8Array, at: number, length: number): boolean {
  let crc = crc32cUpdate(CRC32C_START, bytes, 0, at);
  crc = crc32cUpdate(crc, ZERO_CRC, 0, 4);
  crc = crc32cFinish(crc32cUpdate(crc, bytes, at + 4, length));
  const sent = ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
  return crc >>> 0 === sent;
}

function header(
  version: 1 | 2,
  command: ProxyHeader["command"],
  family: ProxyHeader["family"],
  transport: ProxyHeader["transport"],
  source: ProxyEndpoint | null,
  destination: ProxyEndpoint | null,
  tlvs: readonly ProxyTlv[],
  length: number,
): ProxyHeaderParseResult {
  return { status: "header", header: { version, command, family, transport, source, destination, tlvs, length } };
}
