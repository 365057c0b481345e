// The PROXY protocol parser's laws, as generator + check pairs: test/proxy-protocol/differential.test.ts runs
// each a few hundred times, `npm run fuzz` a few hundred thousand. Headers are generated from the
// specification (never by the parser under test), then damaged; proxy-protocol-js 4.0.6 is the reference.
// Checks use node:assert, so they run outside vitest too.
import assert from "node:assert/strict";
import { isIPv4, isIPv6 } from "node:net";
import fc from "fast-check";
import { AddressFamilyType, V1BinaryProxyProtocol, V2ProxyProtocol } from "proxy-protocol-js";
import { canonicalAddress } from "../../src/core/index.js";
import { type ProxyHeaderParseResult, type ProxyHeader, V1_MAX_LENGTH, V2_MAX_LENGTH, parseProxyHeader } from "../../src/proxy-protocol/parse.js";
import { crc32cBitwise } from "../proxy-protocol/support.js";
import { address, ipv4, ipv6 } from "./arbitraries.js";

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const ASSIGNED = [0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32];
const ADDRESS_BYTES: Record<number, number> = { 0: 0, 1: 12, 2: 36, 3: 216 };

const port = fc.integer({ min: 0, max: 65535 });
const payload = fc.uint8Array({ maxLength: 40 });
const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((part) => [...part]));

/** IPv6 text in the forms a sender may write: compressed, full, upper case, mapped. */
const ipv6Text = fc.oneof(ipv6, fc.ipV6(), address.filter((a) => a.includes(":")), ipv6.map((a) => a.toUpperCase()));

const v1Header = fc.oneof(
  fc.record({ four: fc.constant(true), source: fc.oneof(ipv4, fc.ipV4()), destination: fc.oneof(ipv4, fc.ipV4()), sourcePort: port, destinationPort: port, rest: payload }),
  fc.record({ four: fc.constant(false), source: ipv6Text, destination: ipv6Text, sourcePort: port, destinationPort: port, rest: payload }),
).map(({ four, source, destination, sourcePort, destinationPort, rest }) => concat(bytes(`PROXY ${four ? "TCP4" : "TCP6"} ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`), rest));

const v1Unknown = fc.tuple(fc.constantFrom("", " 127.0.0.1 127.0.0.1 1 2", " anything at all"), payload).map(([tail, rest]) => concat(bytes(`PROXY UNKNOWN${tail}\r\n`), rest));

const tlv = fc.record({ type: fc.integer({ min: 0, max: 255 }).filter((t) => t !== 0x03), value: fc.uint8Array({ maxLength: 48 }) });

const v2Header = fc
  .record({
    command: fc.constantFrom(0, 1, 1, 1),
    family: fc.constantFrom(...ASSIGNED, 0x11, 0x21),
    addresses: fc.uint8Array({ minLength: 216, maxLength: 216 }),
    tlvs: fc.array(tlv, { maxLength: 4 }),
    crc: fc.constantFrom("none", "good", "good", "bad"),
    rest: payload,
  })
  .map(({ command, family, addresses, tlvs, crc, rest }) => {
    const block = addresses.subarray(0, ADDRESS_BYTES[family >> 4]!);
    const all = crc === "none" ? tlvs : [...tlvs, { type: 0x03, value: new Uint8Array(4) }];
    const tlvBytes = concat(...all.map(({ type, value }) => concat(Uint8Array.of(type, value.length >> 8, value.length & 0xff), value)));
    const length = block.length + tlvBytes.length;
    const header = concat(Uint8Array.from(SIGNATURE), Uint8Array.of(0x20 | command, family, length >> 8, length & 0xff), block, tlvBytes);
    if (crc !== "none") {
      const sum = crc32cBitwise(header) ^ (crc === "bad" ? 0x10 : 0);
      header.set([sum >>> 24, (sum >>> 16) & 0xff, (sum >>> 8) & 0xff, sum & 0xff], header.length - 4);
    }
    return concat(header, rest);
  });

/** One damage done to a header: a byte changed, bytes cut, a byte inserted, the length field rewritten. */
const damaged = fc
  .tuple(fc.oneof(v1Header, v2Header, v1Unknown), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("flip", "cut", "insert", "length"))
  .map(([header, at, byte, how]) => {
    const i = at % Math.max(header.length, 1);
    if (how === "flip") return Uint8Array.from(header, (b, j) => (j === i ? byte : b));
    if (how === "cut") return header.subarray(0, i);
    if (how === "insert") return concat(header.subarray(0, i), Uint8Array.of(byte), header.subarray(i));
    return header[0] === 0x0d && header.length >= 16 ? Uint8Array.from(header, (b, j) => (j === 14 ? byte & 0x01 : j === 15 ? byte : b)) : header;
  });

/** Any first bytes of a connection: headers, damaged headers, and noise behind either signature. */
export const connectionBytes = fc.oneof(
  { weight: 3, arbitrary: v1Header },
  { weight: 1, arbitrary: v1Unknown },
  { weight: 4, arbitrary: v2Header },
  { weight: 6, arbitrary: damaged },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(Uint8Array.from(SIGNATURE), bytes("PROXY "), bytes("PROXY TCP4 "), new Uint8Array()), fc.uint8Array({ maxLength: 160 })).map(([head, tail]) => concat(head, tail)) },
);

// ---------------------------------------------------------------------------------------------------------
// The reference

type Reference =
  | { version: 1; protocol: "TCP4" | "TCP6" | "UNKNOWN"; source: string; destination: string; sourcePort: number; destinationPort: number; data: Uint8Array }
  | { version: 2; command: number; family: number; transport: number; addresses: Uint8Array; data: Uint8Array };

/** What proxy-protocol-js makes of the bytes, or null when it refuses them (throws). */
export function reference(input: Uint8Array): Reference | null {
  try {
    if (V1BinaryProxyProtocol.isValidProtocolSignature(input)) {
      const parsed = V1BinaryProxyProtocol.parse(input);
      return { version: 1, protocol: parsed.inetProtocol, source: parsed.source.ipAddress, destination: parsed.destination.ipAddress, sourcePort: parsed.source.port, destinationPort: parsed.destination.port, data: parsed.data ?? new Uint8Array() };
    }
    if (V2ProxyProtocol.isValidProtocolSignature(input)) {
      const parsed = V2ProxyProtocol.parse(input);
      return { version: 2, command: parsed.command, family: parsed.addressFamilyType, transport: parsed.transportProtocol, addresses: input.subarray(16), data: parsed.data ?? new Uint8Array() };
    }
  } catch {
    // refused
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Independent predicates for the documented differences: where the reference accepts and we refuse, the
// reason we give must be one of these, and it must hold of the bytes.

function lineOf(input: Uint8Array): { line: string; cr: number } {
  const cr = input.indexOf(0x0d);
  return { line: String.fromCharCode(...input.subarray(0, cr === -1 ? input.length : cr)), cr };
}

const V1_SHAPE = /^PROXY (TCP4|TCP6) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+)$/;

const STRICTER: Record<string, (input: Uint8Array) => boolean> = {
  // The CRLF must end the line within the specification's 107 bytes.
  "v1-too-long": (input) => lineOf(input).cr === -1 || lineOf(input).cr + 2 > V1_MAX_LENGTH,
  // Single spaces, five fields, a CRLF ending the line (the reference reads an address up to a space, CR or LF included).
  "v1-malformed": (input) => {
    const { line, cr } = lineOf(input);
    return !V1_SHAPE.test(line) || input[cr + 1] !== 0x0a || line.includes("\n");
  },
  // An address of the line's own family, as net.isIP takes it, with no zone (the reference takes any text).
  "v1-address": (input) => {
    const [, protocol, source, destination] = V1_SHAPE.exec(lineOf(input).line)!;
    const ok = (a: string) => (protocol === "TCP4" ? isIPv4(a) : isIPv6(a) && !a.includes("%"));
    return !ok(source!) || !ok(destination!);
  },
  // Decimal 0-65535 without leading zeros (the reference takes any run of digits).
  "v1-port": (input) => {
    const [, , , , sourcePort, destinationPort] = V1_SHAPE.exec(lineOf(input).line)!;
    const ok = (p: string) => /^(0|[1-9][0-9]{0,4})$/.test(p) && Number(p) <= 65535;
    return !ok(sourcePort!) || !ok(destinationPort!);
  },
  // Only the specification's assigned family and protocol bytes (the reference takes any family 0-3 with any transport 0-2).
  "v2-family": (input) => !ASSIGNED.includes(input[13]!),
  // TLVs tile the rest of the header exactly, and a CRC32C TLV is 4 bytes and appears once (the reference reads no TLV).
  "v2-tlv": (input) => {
    const end = 16 + ((input[14]! << 8) | input[15]!);
    let crcs = 0;
    let at = 16 + ADDRESS_BYTES[input[13]! >> 4]!;
    while (at < end) {
      if (end - at < 3) return true;
      const size = (input[at + 1]! << 8) | input[at + 2]!;
      if (input[at] === 0x03 && (size !== 4 || ++crcs > 1)) return true;
      at += 3 + size;
    }
    return at !== end;
  },
  // A CRC32C TLV that does not match (the reference checks none).
  "v2-crc32c": (input) => {
    const end = 16 + ((input[14]! << 8) | input[15]!);
    for (let at = 16 + ADDRESS_BYTES[input[13]! >> 4]!; at + 3 <= end; at += 3 + ((input[at + 1]! << 8) | input[at + 2]!)) {
      if (input[at] !== 0x03) continue;
      const zeroed = Uint8Array.from(input.subarray(0, end), (b, j) => (j >= at + 3 && j < at + 7 ? 0 : b));
      const sent = ((input[at + 3]! << 24) | (input[at + 4]! << 16) | (input[at + 5]! << 8) | input[at + 6]!) >>> 0;
      return crc32cBitwise(zeroed) !== sent;
    }
    return false;
  },
};

function v6Text(block: Uint8Array, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((block[at + i]! << 8) | block[at + i + 1]!).toString(16));
  return canonicalAddress(groups.join(":"))!;
}

const FAMILY_NAMES: Record<number, ProxyHeader["family"]> = { [AddressFamilyType.UNSPEC]: "unspec", [AddressFamilyType.INET]: "inet", [AddressFamilyType.INET6]: "inet6", [AddressFamilyType.UNIX]: "unix" };
const TRANSPORTS: Record<number, ProxyHeader["transport"]> = { 0: "unspec", 1: "stream", 2: "dgram" };

/** Our header against the reference's reading of the same bytes, field by field. */
function agree(input: Uint8Array, ours: ProxyHeader, theirs: Reference): void {
  if (theirs.version === 1) {
    assert.equal(ours.version, 1);
    assert.deepEqual(theirs.data, input.subarray(ours.length), "the connection's data begins where our header ends");
    if (theirs.protocol === "UNKNOWN") {
      assert.equal(ours.family, "unspec");
      assert.equal(ours.source, null);
      return;
    }
    assert.equal(ours.family, theirs.protocol === "TCP4" ? "inet" : "inet6");
    assert.deepEqual(ours.source?.toJSON(), { address: canonicalAddress(theirs.source), port: theirs.sourcePort });
    assert.deepEqual(ours.destination?.toJSON(), { address: canonicalAddress(theirs.destination), port: theirs.destinationPort });
    return;
  }
  assert.equal(ours.version, 2);
  assert.equal(ours.command, theirs.command === 0 ? "local" : "proxy");
  assert.equal(ours.family, FAMILY_NAMES[theirs.family]);
  assert.equal(ours.transport, TRANSPORTS[theirs.transport]);
  const addressBytes = ADDRESS_BYTES[theirs.family >> 4]!;
  // What follows the addresses, to the end of our header, is exactly our TLVs, in order.
  if (ours.command === "proxy") {
    const tlvs = concat(...ours.tlvs.map(({ type, value }) => concat(Uint8Array.of(type, value.length >> 8, value.length & 0xff), value)));
    assert.deepEqual(theirs.data.subarray(0, ours.length - 16 - addressBytes), tlvs);
  }
  const a = theirs.addresses;
  if (ours.command === "proxy" && ours.family === "inet") {
    assert.deepEqual(ours.source?.toJSON(), { address: [...a.subarray(0, 4)].join("."), port: (a[8]! << 8) | a[9]! });
    assert.deepEqual(ours.destination?.toJSON(), { address: [...a.subarray(4, 8)].join("."), port: (a[10]! << 8) | a[11]! });
  } else if (ours.command === "proxy" && ours.family === "inet6") {
    assert.deepEqual(ours.source?.toJSON(), { address: v6Text(a, 0), port: (a[32]! << 8) | a[33]! });
    assert.deepEqual(ours.destination?.toJSON(), { address: v6Text(a, 16), port: (a[34]! << 8) | a[35]! });
  } else {
    assert.equal(ours.source, null);
  }
}

/** The bytes behind a Proxy that throws on any read past their end: "never reads past its bounds", checked. */
export function bounded(input: Uint8Array): Uint8Array {
  return new Proxy(input, {
    get(target, key) {
      if (typeof key === "string" && /^\d+$/.test(key) && Number(key) >= target.length) throw new RangeError(`read past the end: [${key}] of ${target.length}`);
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function sameResult(a: ProxyHeaderParseResult, b: ProxyHeaderParseResult): boolean {
  if (a.status !== b.status) return false;
  if (a.status === "invalid") return a.error === (b as typeof a).error;
  if (a.status === "header") return a.header.length === (b as typeof a).header.length;
  return true;
}

export interface ParserLaw {
  readonly arbitrary: fc.Arbitrary<Uint8Array>;
  readonly check: (input: Uint8Array) => void;
}

export const PARSER_LAWS: Record<string, ParserLaw> = {
  "never throws, never reads past its bounds, and a header fits the bytes and the specification's bounds": {
    arbitrary: connectionBytes,
    check: (input) => {
      const result = parseProxyHeader(bounded(input), V2_MAX_LENGTH);
      assert.ok(sameResult(result, parseProxyHeader(input, V2_MAX_LENGTH)));
      if (result.status !== "header") return;
      assert.ok(result.header.length <= input.length);
      assert.ok(result.header.length <= (result.header.version === 1 ? V1_MAX_LENGTH : V2_MAX_LENGTH));
      const small = parseProxyHeader(input);
      assert.ok(small.status === "header" || (small.status === "invalid" && small.error === "v2-too-long" && result.header.length > 4096));
    },
  },

  "agrees with proxy-protocol-js on every header it accepts, and refuses only for a documented reason": {
    arbitrary: connectionBytes,
    check: (input) => {
      const ours = parseProxyHeader(input, V2_MAX_LENGTH);
      const theirs = reference(input);
      if (theirs !== null) {
        if (ours.status === "header") return agree(input, ours.header, theirs);
        if (ours.status === "incomplete") {
          // The reference reads a v2 header's fields without checking that its declared length has arrived.
          assert.ok(theirs.version === 2 && 16 + ((input[14]! << 8) | input[15]!) > input.length, "incomplete only where the declared length has not arrived");
          return;
        }
        const holds = STRICTER[ours.error];
        assert.ok(holds !== undefined, `refused with ${ours.error}, which is no documented difference`);
        assert.ok(holds(input), `refused with ${ours.error}, which does not hold of the bytes`);
      } else if (ours.status === "header") {
        // The one leniency: v1's UNKNOWN without addresses, which the specification allows and the reference refuses.
        assert.ok(ours.header.version === 1 && ours.header.family === "unspec", "accepted a header the reference refuses");
      }
    },
  },

  "read in any segmentation, the decision is the same: incomplete until it is made, then it stays": {
    arbitrary: fc.tuple(connectionBytes, fc.array(fc.nat(), { maxLength: 6 })),
    check: (([input, cuts]: [Uint8Array, number[]]) => {
      const whole = parseProxyHeader(input, V2_MAX_LENGTH);
      const points = input.length <= 64 ? Array.from({ length: input.length + 1 }, (_, i) => i) : [...cuts.map((cut) => cut % (input.length + 1)), input.length];
      for (const k of points) {
        const prefix = parseProxyHeader(input.subarray(0, k), V2_MAX_LENGTH);
        if (prefix.status === "incomplete") {
          // Still undecided: the whole must not be a header shorter than this prefix.
          if (whole.status === "header") assert.ok(whole.header.length > k, `a ${whole.header.length}-byte header reported incomplete at ${k} bytes`);
          continue;
        }
        // Decided on a prefix: the whole says the same (a header of the same length, or the same error).
        assert.ok(sameResult(prefix, whole), `${JSON.stringify(prefix).slice(0, 120)} at ${k} bytes, but ${JSON.stringify(whole).slice(0, 120)} on all ${input.length}`);
      }
    }) as unknown as (input: Uint8Array) => void,
  } as unknown as ParserLaw,
};

/** Text where a v1 address goes: addresses, near misses (leading zeros, 256, five parts, zones) and noise. */
const addressText = fc
  .oneof(
    ipv4,
    fc.ipV4(),
    ipv6Text,
    fc.ipV4().map((a) => a.replace(/(^|\.)(\d)/, "$10$2")),
    fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 300 })).map(([a, b]) => `${a}.${b}.0.1`),
    fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 6 }).map((parts) => parts.join(".")),
    ipv6.map((a) => `${a}%eth0`),
    fc.string({ unit: fc.constantFrom(..."0123456789.:abcdefABCDEF%x-"), maxLength: 45 }),
    fc.string({ unit: fc.integer({ min: 0x21, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
  )
  .filter((a) => a.length > 0 && !/[ \r\n]/.test(a));

PARSER_LAWS["a v1 address is read exactly as the resolver reads one (canonicalAddress), of the line's own family"] = {
  arbitrary: fc.tuple(addressText, fc.boolean()),
  check: (([text, six]: [string, boolean]) => {
    const line = bytes(`PROXY ${six ? "TCP6" : "TCP4"} ${text} ${six ? "::1" : "127.0.0.1"} 1 2\r\n`);
    const result = parseProxyHeader(line);
    const canonical = canonicalAddress(text);
    const expected = canonical !== null && text.includes(":") === six && !text.includes("%") ? canonical : null;
    if (expected === null) assert.ok(result.status === "invalid" && result.error === "v1-address", `${JSON.stringify(text)}: ${JSON.stringify(result).slice(0, 100)}`);
    else assert.equal(result.status === "header" ? result.header.source?.address : result.status, expected);
  }) as unknown as (input: Uint8Array) => void,
} as unknown as ParserLaw;

/** Text where a v1 port goes: ports, leading zeros, past 65535, signs, and noise. */
const portText = fc
  .oneof(
    port.map(String),
    port.map((p) => `0${p}`),
    fc.integer({ min: 65536, max: 999_999 }).map(String),
    port.map((p) => `+${p}`),
    fc.string({ unit: fc.constantFrom(..."0123456789+-.x:"), minLength: 1, maxLength: 7 }),
  )
  .filter((p) => !/[ \r\n]/.test(p));

PARSER_LAWS["a v1 port is decimal 0-65535 without leading zeros"] = {
  arbitrary: fc.tuple(portText, fc.boolean(), fc.boolean()),
  check: (([text, six, first]: [string, boolean, boolean]) => {
    const [sourcePort, destinationPort] = first ? [text, "443"] : ["443", text];
    const line = bytes(`PROXY ${six ? "TCP6 2001:db8::7 ::1" : "TCP4 203.0.113.7 127.0.0.1"} ${sourcePort} ${destinationPort}\r\n`);
    const result = parseProxyHeader(line);
    if (/^(0|[1-9][0-9]{0,4})$/.test(text) && Number(text) <= 65535) {
      assert.equal(result.status === "header" ? (first ? result.header.source : result.header.destination)?.port : result.status, Number(text));
    } else {
      assert.ok(result.status === "invalid" && result.error === "v1-port", `${JSON.stringify(text)}: ${JSON.stringify(result).slice(0, 100)}`);
    }
  }) as unknown as (input: Uint8Array) => void,
} as unknown as ParserLaw;

/** A law as a fast-check property. */
export function parserProperty(law: ParserLaw): fc.IProperty<[Uint8Array]> {
  return fc.property(law.arbitrary, (input) => law.check(input));
}
