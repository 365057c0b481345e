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
//   when first read (a v2 header's addresses are bytes, and most headers are read for their source alone);
// - strict: v1 addresses are addresses by the resolver's own rule (IPv6 through `canonicalAddress`; IPv4 read
//   from the bytes, held to it by a property test), ports are decimal
//   without leading zeros, v2's unassigned address family and command values are refused, TLVs must tile the
//   header exactly, and a CRC32C TLV must match.
// It never throws on any input.
import { canonicalAddress, formatAddressBytes } from "../core/index.js";
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

export type ProxyHeaderError =
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

export type ParseResult =
  | { readonly status: "header"; readonly header: ProxyHeader }
  | { readonly status: "incomplete" }
  | { readonly status: "invalid"; readonly error: ProxyHeaderError; readonly message: string };

/** The specification's bound on a v1 line, CRLF included. */
export const V1_MAX_LENGTH = 107;
/** The longest v2 header the format can express. */
export const V2_MAX_LENGTH = 16 + 0xffff;
/** The default bound on a v2 header: addresses and a few TLVs (AWS, Azure, GCP and HAProxy send well under). */
export const DEFAULT_MAX_LENGTH = 4096;

// "\r\n\r\n\0\r\nQUIT\n"
const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
// "PROXY "
const V1_SIGNATURE = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20];
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const PP2_TYPE_CRC32C = 0x03;
const ZERO_CRC = new Uint8Array(4);
const NO_TLVS: readonly ProxyTlv[] = Object.freeze([]);
const INCOMPLETE: ParseResult = Object.freeze({ status: "incomplete" });

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
 * read: a header is mostly read for its source alone (the destination is there for whoever asks), and a v2
 * header carries addresses as bytes, so the parse itself builds no string. The address is kept as 32-bit
 * words in network order (one for IPv4, four for IPv6): numbers, so that a kept header does not keep the
 * segment it came in alive, and no list, so that the parse allocates nothing for it but the endpoint.
 */
class Endpoint implements ProxyEndpoint {
  #text: string | undefined;
  readonly #words: 1 | 4;
  readonly #w0: number;
  readonly #w1: number;
  readonly #w2: number;
  readonly #w3: number;

  /** `text`: the address already written (v1 TCP6 validates it as text), or undefined and the words. */
  constructor(
    readonly port: number,
    text: string | undefined,
    words: 1 | 4 = 1,
    w0 = 0,
    w1 = 0,
    w2 = 0,
    w3 = 0,
  ) {
    this.#words = words;
    this.#w0 = w0;
    this.#w1 = w1;
    this.#w2 = w2;
    this.#w3 = w3;
    this.#text = text;
  }

  get address(): string {
    if (this.#text === undefined) {
      const bytes: number[] = [];
      for (const word of this.#words === 1 ? [this.#w0] : [this.#w0, this.#w1, this.#w2, this.#w3]) bytes.push(word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff);
      this.#text = formatAddressBytes(bytes, 0, bytes.length as 4 | 16);
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

/** The 32-bit word at `at`, big-endian. */
function word(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

function invalid(error: ProxyHeaderError, message: string): ParseResult {
  return { status: "invalid", error, message };
}

/**
 * Reads a PROXY protocol header from the start of `bytes` (all the connection has sent so far): the header
 * and its length, "incomplete" while `bytes` is a prefix that may still become one, or "invalid". Never
 * throws, never reads past `bytes.length`. `maxLength` bounds a v2 header (clamped to the format's own limit).
 */
export function parseProxyHeader(bytes: Uint8Array, maxLength: number = DEFAULT_MAX_LENGTH): ParseResult {
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

function parseV1(bytes: Uint8Array): ParseResult {
  const available = bytes.length;
  // Where the line ends: the first CR, which must be followed by LF; a bare LF is malformed. The CRLF ends the
  // line within 107 bytes, so the CR is among the first 106. The spaces are noted on the way (no array).
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
  const length = cr + 2;

  // The protocol: UNKNOWN (the rest of the line is ignored, whatever it holds: the specification), TCP4, TCP6.
  const protocolEnd = spaces === 0 ? cr : s1;
  if (protocolEnd - 6 === 7 && matches(bytes, 6, UNKNOWN)) return header(1, "proxy", "unspec", "unspec", null, null, NO_TLVS, length);
  const six = protocolEnd - 6 === 4 && bytes[6] === 0x54 && bytes[7] === 0x43 && bytes[8] === 0x50 ? (bytes[9] === 0x36 ? true : bytes[9] === 0x34 ? false : null) : null;
  if (six === null) return invalid("v1-malformed", "a v1 PROXY line names a protocol other than TCP4, TCP6 or UNKNOWN");
  if (spaces !== 4) return invalid("v1-malformed", "a v1 PROXY line has the protocol, two addresses and two ports, separated by single spaces");
  if (s2 === s1 + 1 || s3 === s2 + 1 || s4 === s3 + 1 || cr === s4 + 1) return invalid("v1-malformed", "a v1 PROXY line has an empty field (two spaces in a row, or a space before the CRLF)");
  let source: Endpoint;
  let destination: Endpoint;
  const sourcePort = v1Port(bytes, s3 + 1, s4);
  const destinationPort = v1Port(bytes, s4 + 1, cr);
  if (six) {
    const from = v1Ipv6(bytes, s1 + 1, s2);
    const to = v1Ipv6(bytes, s2 + 1, s3);
    if (from === null || to === null) return invalid("v1-address", "a v1 PROXY line's address is not an IPv6 address");
    source = new Endpoint(sourcePort, from);
    destination = new Endpoint(destinationPort, to);
  } else {
    const from = v1Ipv4(bytes, s1 + 1, s2);
    const to = v1Ipv4(bytes, s2 + 1, s3);
    if (from === -1 || to === -1) return invalid("v1-address", "a v1 PROXY line's address is not an IPv4 address");
    source = new Endpoint(sourcePort, undefined, 1, from >>> 0);
    destination = new Endpoint(destinationPort, undefined, 1, to >>> 0);
  }
  if (sourcePort === -1 || destinationPort === -1) return invalid("v1-port", "a v1 PROXY line's port is not a decimal number from 0 to 65535 without leading zeros");
  return header(1, "proxy", six ? "inet6" : "inet", "stream", source, destination, NO_TLVS, length);
}

function matches(bytes: Uint8Array, at: number, expected: readonly number[]): boolean {
  for (let i = 0; i < expected.length; i++) if (bytes[at + i] !== expected[i]) return false;
  return true;
}

/**
 * A TCP4 address: a strict dotted quad (four decimal octets, 0-255, no leading zeros), which is exactly what
 * Node's net.isIPv4 and the resolver's own reader accept, as a 32-bit value (-1: not one); it has one
 * spelling, so the text is written from the value when read. Read from the bytes by hand, without decoding
 * them into a string first: the line is parsed on every connection, and this was most of its cost.
 * test/support/proxy-protocol-laws.ts holds it to the resolver's reader (`canonicalAddress`) over generated
 * and damaged text.
 */
function v1Ipv4(bytes: Uint8Array, from: number, to: number): number {
  let octets = 0;
  let address = 0;
  let value = 0;
  let digits = 0;
  for (let i = from; i <= to; i++) {
    const byte = i === to ? 0x2e : bytes[i]!;
    if (byte === 0x2e /* . */) {
      if (digits === 0 || ++octets > 4 || (i === to) !== (octets === 4)) return -1;
      address = address * 256 + value;
      value = 0;
      digits = 0;
      continue;
    }
    const digit = byte - 0x30;
    if (digit < 0 || digit > 9 || (digits === 1 && value === 0)) return -1;
    value = value * 10 + digit;
    if (++digits > 3 || value > 255) return -1;
  }
  return address;
}

/**
 * A TCP6 address: IPv6 text without a zone, by the resolver's own reader, canonical. A Buffer (what a socket
 * gives) is decoded natively; other bytes one by one.
 */
function v1Ipv6(bytes: Uint8Array, from: number, to: number): string | null {
  let text = "";
  if (Buffer.isBuffer(bytes)) {
    text = bytes.toString("latin1", from, to);
  } else {
    for (let i = from; i < to; i++) text += String.fromCharCode(bytes[i]!);
  }
  return text.includes(":") && !text.includes("%") ? canonicalAddress(text) : null;
}

/** A decimal port 0-65535 without leading zeros, or -1. */
function v1Port(bytes: Uint8Array, from: number, to: number): number {
  if (to - from > 5 || (to - from > 1 && bytes[from] === 0x30)) return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = bytes[i]! - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value <= 0xffff ? value : -1;
}

// ---------------------------------------------------------------------------------------------------------
// Version 2: a 12-byte signature, version and command, family and transport, a 16-bit length, then that many
// bytes: the addresses, then TLVs

function parseV2(bytes: Uint8Array, maxLength: number): ParseResult {
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
    source = new Endpoint((bytes[24]! << 8) | bytes[25]!, undefined, 1, word(bytes, 16));
    destination = new Endpoint((bytes[26]! << 8) | bytes[27]!, undefined, 1, word(bytes, 20));
  } else if (kind.addresses === 36) {
    source = new Endpoint((bytes[48]! << 8) | bytes[49]!, undefined, 4, word(bytes, 16), word(bytes, 20), word(bytes, 24), word(bytes, 28));
    destination = new Endpoint((bytes[50]! << 8) | bytes[51]!, undefined, 4, word(bytes, 32), word(bytes, 36), word(bytes, 40), word(bytes, 44));
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
): ParseResult {
  return { status: "header", header: { version, command, family, transport, source, destination, tlvs, length } };
}
