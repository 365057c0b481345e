// The parser's edges, from the specification (HAProxy's proxy-protocol.txt) rather than from generators.
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { canonicalAddress } from "../../src/core/index.js";
import { DEFAULT_MAX_HEADER_LENGTH, V1_MAX_LENGTH, parseProxyHeader } from "../../src/proxy-protocol/parse.js";
import { bounded } from "../support/proxy-protocol-laws.js";
import { crc32cBitwise, v1, v2 } from "./support.js";

const parse = (input: Uint8Array | string, max?: number) => parseProxyHeader(typeof input === "string" ? Buffer.from(input, "latin1") : input, max);
/** The result as JSON carries it: endpoints write their text when read. */
const json = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;
const error = (input: Uint8Array | string, max?: number) => {
  const result = parse(input, max);
  return result.status === "invalid" ? result.error : result.status;
};

describe("version 1", () => {
  it("reads the specification's example and says where the header ends", () => {
    const result = parse("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\nGET /");
    expect(json(result)).toEqual({
      status: "header",
      header: { version: 1, command: "proxy", family: "inet", transport: "stream", source: { address: "255.255.255.255", port: 65535 }, destination: { address: "255.255.255.255", port: 65535 }, tlvs: [], length: 56 },
    });
  });

  it("the worst case the specification names (107 bytes) is read; one byte more is refused", () => {
    const longest = `PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n`.replace(/ffff:f\.\.\.f:ffff/g, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    expect(longest.length).toBe(V1_MAX_LENGTH);
    expect(parse(longest).status).toBe("header");
    expect(error(longest.replace("65535 65535", "65535 065535"))).toBe("v1-too-long");
    const tcp6 = longest.replace("UNKNOWN", "TCP6");
    expect(json(parse(tcp6))).toMatchObject({ status: "header", header: { source: { address: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" }, length: 104 } });
    expect(error(`PROXY UNKNOWN ${"x".repeat(92)}\r\n`)).toBe("v1-too-long");
    expect(error(`PROXY UNKNOWN ${"x".repeat(91)}\r\n`)).toBe("header");
    // Without a CRLF, undecided until the bound, refused at it.
    expect(error(`PROXY TCP4 ${"1".repeat(94)}`)).toBe("incomplete");
    expect(error(`PROXY TCP4 ${"1".repeat(95)}`)).toBe("v1-too-long");
  });

  it("is strict about fields, addresses and ports", () => {
    expect(error(v1("203.0.113.7", "127.0.0.1", 0, 65535))).toBe("header");
    expect(error("PROXY TCP4 203.0.113.7 127.0.0.1 65536 80\r\n")).toBe("v1-port");
    expect(error("PROXY TCP4 203.0.113.7 127.0.0.1 080 80\r\n")).toBe("v1-port");
    expect(error("PROXY TCP4 203.0.113.7 127.0.0.1 +80 80\r\n")).toBe("v1-port");
    expect(error("PROXY TCP4 127.1 127.0.0.1 1 2\r\n")).toBe("v1-address");
    expect(error("PROXY TCP4 ::ffff:127.0.0.1 127.0.0.1 1 2\r\n")).toBe("v1-address");
    expect(error("PROXY TCP6 127.0.0.1 ::1 1 2\r\n")).toBe("v1-address");
    expect(error("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n")).toBe("v1-address");
    expect(error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n")).toBe("v1-malformed");
    expect(error("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n")).toBe("v1-malformed");
    expect(error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX")).toBe("v1-malformed");
    expect(error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r")).toBe("incomplete");
  });

  it("a field is exactly its address or port: a stray byte after any of them, or a CRLF cut short, is refused for its field", () => {
    const line = ["203.0.113.7", "127.0.0.1", "1", "2"];
    const reasons = ["v1-address", "v1-address", "v1-port", "v1-port"];
    for (const [field, reason] of reasons.entries()) {
      for (const stray of ["x", ":", ".", "0", "%", "\t", "\n"]) {
        const fields = line.map((text, i) => (i === field ? text + stray : text));
        const written = `PROXY TCP4 ${fields.join(" ")}\r\n`;
        // A trailing 0 still makes a valid field here (203.0.113.70, 127.0.0.10, ports 10 and 20); a bare line
        // feed is the line's fault, whichever field it follows.
        expect(error(written), JSON.stringify(written)).toBe(stray === "0" ? "header" : stray === "\n" ? "v1-malformed" : reason);
      }
    }
    expect(error("PROXY TCP4 203.0.113.7 127.0.0.1 1 2\rX")).toBe("v1-malformed");
    expect(error("PROXY TCP4 203.0.113.7 127.0.0.1 1 2")).toBe("incomplete");
    expect(error("PROXY TCP4 203.0.113.7 127.0.0.1 1 2\r")).toBe("incomplete");
    expect(error("PROXY TCP4 203.0.113.7 127.0.0.1 1")).toBe("incomplete");
    expect(error("PROXY TCP4 203.0.113.7")).toBe("incomplete");
    expect(error("PROXY TCP4 ")).toBe("incomplete");
    expect(error("PROXY TCP4\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n")).toBe("v1-malformed");
    expect(error("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP44 1.2.3.4 5.6.7.8 1 2\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n")).toBe("v1-malformed");
    // An empty field among exactly four spaces: the line's shape is wrong, not an address or a port.
    expect(error("PROXY TCP4  5.6.7.8 1 2\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP4 1.2.3.4  1 2\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP4 1.2.3.4 5.6.7.8  2\r\n")).toBe("v1-malformed");
    expect(error("PROXY TCP6  ::1 1 2\r\n")).toBe("v1-malformed");
    expect(error("PROXY UNKNOWNX\r\n")).toBe("v1-malformed");
    expect(error("PROXY UNKNOWX\r\n")).toBe("v1-malformed");
    expect(error("PROXY XNKNOWN 1.2.3.4\r\n")).toBe("v1-malformed");
    expect(json(parse("PROXY UNKNOWN\r\n"))).toMatchObject({ status: "header", header: { family: "unspec", source: null, length: 15 } });
  });

  it("never reads past the bytes it has: every prefix of a line, each field's end included, is read in bounds", () => {
    for (const line of ["PROXY TCP4 203.0.113.7 127.0.0.1 51234 443\r\n", "PROXY TCP6 2001:db8::7 ::ffff:127.0.0.1 1 2\r\nGET", "PROXY UNKNOWN\r\n"]) {
      const whole = Buffer.from(line, "latin1");
      for (let k = 0; k <= whole.length; k++) {
        const prefix = whole.subarray(0, k);
        const result = parseProxyHeader(bounded(prefix));
        expect(result.status, JSON.stringify(line.slice(0, k))).toBe(parseProxyHeader(prefix).status);
      }
    }
  });

  it("reads a TCP4 address and a port exactly as the resolver does, edge by edge", () => {
    const addresses = ["0.0.0.0", "255.255.255.255", "1.2.3.4", "10.20.30.40", "100.200.250.255"];
    const notAddresses = [".1.2.3", "1..2.3", "1.2..3", "1.2.3.", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1.2.3.256", "1234.1.1.1", "1.2.3.4a", "a1.2.3.4"];
    for (const text of [...addresses, ...notAddresses]) {
      const expected = canonicalAddress(text);
      expect(expected === null, text).toBe(notAddresses.includes(text));
      const result = parse(`PROXY TCP4 ${text} 127.0.0.1 1 2\r\n`);
      expect(result.status === "header" ? result.header.source?.address : result.status === "invalid" && result.error, text).toBe(expected ?? "v1-address");
      const second = parse(`PROXY TCP4 127.0.0.1 ${text} 1 2\r\n`);
      expect(second.status === "header" ? second.header.destination?.address : second.status === "invalid" && second.error, text).toBe(expected ?? "v1-address");
    }
    for (const port of ["0", "1", "9", "10", "65535"]) {
      const result = parse(`PROXY TCP4 1.2.3.4 5.6.7.8 ${port} ${port}\r\n`);
      expect(result.status === "header" && [result.header.source?.port, result.header.destination?.port], port).toEqual([Number(port), Number(port)]);
    }
    for (const port of ["00", "01", "065535", "65536", "99999", "1x", "x1", "-1"]) {
      expect(error(`PROXY TCP4 1.2.3.4 5.6.7.8 ${port} 2\r\n`), port).toBe("v1-port");
      expect(error(`PROXY TCP4 1.2.3.4 5.6.7.8 2 ${port}\r\n`), port).toBe("v1-port");
    }
  });

  it("reads a TCP6 address exactly as the resolver does (canonicalAddress), edge by edge", () => {
    const edges = [
      "::", "::1", "1::", "1::2", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3::6:7:8", "1:0:0:1:0:0:0:1",
      "0:0:0:0:0:0:0:0", "2001:DB8::A", "2001:0db8:0000::0001", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
      "::ffff:203.0.113.7", "::FFFF:203.0.113.7", "::203.0.113.7", "64:ff9b::203.0.113.7", "1:2:3:4:5:6:203.0.113.7",
      "::ffff:0:203.0.113.7", "0:0:0:0:0:ffff:203.0.113.7",
      // Not addresses.
      ":", ":::", "1:::2", ":1", "1:", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7",
      "12345::", "g::", "::g", "1:2:3:4:5:6:7:203.0.113.7", "::203.0.113", "::203.0.113.7.1", "::203.0.113.256", "::203.0.113.07",
      "::1.2.3.4:5", "1.2.3.4::", "[::1]", "::1/128",
      // A dotted tail with an empty first part, a colon left at the end, @ and ` (a-f's neighbours once case is folded).
      "::.1.2.3", "1::2:", "::@", "@::", "1::`:2", "::1:2:3:4:5:6:",
    ];
    for (const text of edges) {
      const result = parse(`PROXY TCP6 ${text} ::1 1 2\r\n`);
      const expected = canonicalAddress(text);
      if (expected === null) expect(result.status === "invalid" && result.error, text).toBe("v1-address");
      else expect(result.status === "header" && result.header.source?.address, text).toBe(expected);
      // The same text as the destination, read by the same reader after a source.
      const second = parse(`PROXY TCP6 ::1 ${text} 1 2\r\n`);
      expect(second.status === "header" ? second.header.destination?.address : second.status === "invalid" && second.error, text).toBe(expected ?? "v1-address");
    }
  });

  it("writes addresses canonically: an IPv4-mapped TCP6 source is the IPv4 address", () => {
    const result = parse("PROXY TCP6 ::FFFF:203.0.113.7 2001:DB8:0:0:0:0:0:1 1 2\r\n");
    expect(result.status === "header" && json([result.header.source, result.header.destination])).toEqual([
      { address: "203.0.113.7", port: 1 },
      { address: "2001:db8::1", port: 2 },
    ]);
  });
});

describe("version 2", () => {
  it("decides from the fixed 16 bytes: too long, wrong version, command or family, before the rest arrives", () => {
    expect(error(v2({ length: DEFAULT_MAX_HEADER_LENGTH }).subarray(0, 16))).toBe("v2-too-long");
    expect(error(v2({ length: DEFAULT_MAX_HEADER_LENGTH - 16 }).subarray(0, 16))).toBe("incomplete");
    expect(error(v2({ length: 5000 }).subarray(0, 16), 65551)).toBe("incomplete");
    expect(error(v2({ version: 1 }))).toBe("v2-version");
    expect(error(v2({ command: 2 }))).toBe("v2-command");
    for (const family of [0x01, 0x10, 0x13, 0x20, 0x30, 0x41]) expect(error(v2({ family, block: Buffer.alloc(216) }))).toBe("v2-family");
    expect(error(v2({ family: 0x21, block: Buffer.alloc(12) }))).toBe("v2-address-length");
  });

  it("LOCAL discards its block (the family is ignored, no TLV is read)", () => {
    const local = v2({ command: 0, family: 0x11, tlvs: [{ type: 0x03, value: Buffer.alloc(2) }] });
    expect(json(parse(local))).toMatchObject({ status: "header", header: { command: "local", source: null, destination: null, tlvs: [], length: local.length } });
  });

  it("checks a CRC32C TLV (big-endian, over the header with its field zeroed), and refuses a short or repeated one", () => {
    const good = v2({ tlvs: [{ type: 0x04, value: Buffer.alloc(3) }], crc: "good" });
    const zeroed = Buffer.from(good);
    zeroed.writeUInt32BE(0, zeroed.length - 4);
    expect(good.readUInt32BE(good.length - 4)).toBe(crc32cBitwise(zeroed));
    expect(error(good)).toBe("header");
    expect(error(v2({ crc: "bad" }))).toBe("v2-crc32c");
    expect(error(v2({ tlvs: [{ type: 0x03, value: Buffer.alloc(2) }] }))).toBe("v2-tlv");
    const twice = v2({ tlvs: [{ type: 0x03, value: Buffer.alloc(4) }], crc: "good" });
    expect(error(twice)).toBe("v2-tlv");
  });

  it("an endpoint writes its text when first read, and keeps it", () => {
    const result = parse(v2({ source: "2001:db8::7", destination: "::ffff:a00:1" }));
    if (result.status !== "header") throw new Error("not a header");
    const source = result.header.source!;
    expect(source.address).toBe("2001:db8::7");
    expect(source.address).toBe(source.address);
    expect(result.header.destination!.toJSON()).toEqual({ address: "10.0.0.1", port: 80 });
    expect(inspect(source)).toContain("2001:db8::7");
  });

  it("TLVs are views in wire order and must tile the header exactly", () => {
    const result = parse(v2({ tlvs: [{ type: 0x01, value: Buffer.from("h2") }, { type: 0x20, value: Buffer.alloc(0) }] }));
    expect(result.status === "header" && result.header.tlvs.map(({ type, value }) => [type, Buffer.from(value).toString()])).toEqual([
      [0x01, "h2"],
      [0x20, ""],
    ]);
    expect(error(v2({ tlvs: [{ type: 0x01, value: Buffer.from("h2") }], length: 12 + 4 }))).toBe("v2-tlv");
    expect(error(v2({ tlvs: [{ type: 0x01, value: Buffer.from("h2") }], length: 12 + 2 }))).toBe("v2-tlv");
  });

  it("formats IPv6 canonically and folds a mapped address to IPv4", () => {
    const result = parse(v2({ source: "2001:db8:0:0:1:0:0:1", destination: "::ffff:a00:1", sourcePort: 1, destinationPort: 443 }));
    expect(result.status === "header" && json([result.header.family, result.header.source, result.header.destination])).toEqual([
      "inet6",
      { address: "2001:db8::1:0:0:1", port: 1 },
      { address: "10.0.0.1", port: 443 },
    ]);
  });
});

describe("neither", () => {
  it("refuses at the first byte that cannot begin a header, and waits on a prefix that can", () => {
    expect(error("")).toBe("incomplete");
    expect(error("P")).toBe("incomplete");
    expect(error("PROXY")).toBe("incomplete");
    expect(error("G")).toBe("not-proxy-protocol");
    expect(error("PROXI")).toBe("not-proxy-protocol");
    expect(error("\r\n\r\n\0\r\nQUI")).toBe("incomplete");
    expect(error("\r\n\r\nX")).toBe("not-proxy-protocol");
    expect(error("\x16\x03\x01")).toBe("not-proxy-protocol");
  });
});
