import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { isIP } from "node:net";
import { describe, expect, it } from "vitest";
import { canonicalText, formatAddress, isLoopback, parseIp, parseNode } from "../src/core/address.js";
import { address } from "./support/arbitraries.js";
import { runs } from "./support/runs.js";

const canonical = (text: string) => {
  const address = parseNode(text);
  return address === null ? null : formatAddress(address);
};

describe("strict address parsing", () => {
  it.each([
    ["127.1"],
    ["0177.0.0.1"],
    ["0x7f.0.0.1"],
    ["2130706433"],
    ["127.0.0.01"],
    ["256.0.0.1"],
    ["1.2.3"],
    ["unknown"],
    ["_hidden"],
    [""],
    [" 127.0.0.1"],
    ["1.2.3.4%eth0"],
    ["1::2::3"],
    ["::1%"],
    ["[::1"],
    ["[127.0.0.1]"],
    ["[::1]x"],
    ["::1:80:"],
    ["192.0.2.60:_"],
    ["1..2.3.4"],
    ["1.2.3.4."],
    [".1.2.3.4"],
    ["1.2.3.4.5"],
    ["1:2:3:4:5:6:7:"],
    ["::1:"],
    [":1::"],
    ["1:2:3:4:5:6:7:8:1.2.3.4"],
    ["::1:2:3:4:5:6:7:1.2.3.4"],
    ["12345::"],
    ["g::"],
    ["::G"],
    ["fe80::1%a_b"],
    ["fe80::1%{"],
    ["[1.2.3.4]"],
    ["[1.2.3.4]:80"],
    ["1.2.3.4:00"],
    ["1.2.3.4:123456"],
    ["1.2.3.4:_a$"],
    ["192.0.2.60:_a$b"],
    ["1:2:3:4:5:6:7:8:9:10"],
    ["1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16"],
    [".1.2.3"],
    ["::.1.2.3"],
    ["::1:%eth0"],
    ["1::2:%eth0"],
  ])("rejects %j", (text) => {
    expect(parseNode(text)).toBeNull();
  });

  it.each([
    ["127.0.0.1", "127.0.0.1"],
    ["198.51.100.4:5678", "198.51.100.4"],
    ["[2001:db8::1]:443", "2001:db8::1"],
    ["[2001:DB8::1]", "2001:db8::1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["fe80::1%eth0", "fe80::1"],
    ["[fe80::1%eth0]:8080", "fe80::1"],
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::FFFF:7f00:1", "127.0.0.1"],
    ["0:0:0:0:0:ffff:ac12:1", "172.18.0.1"],
    ["[::ffff:172.18.0.1]:1234", "172.18.0.1"],
    ["192.0.2.60:_port", "192.0.2.60"],
    ["192.0.2.60:_a", "192.0.2.60"],
    ["192.0.2.60:0", "192.0.2.60"],
    ["192.0.2.60:65535", "192.0.2.60"],
    ["fe80::1%z", "fe80::1"],
    ["fe80::1%Z0.-:", "fe80::1"],
    ["[::1]", "::1"],
    ["[::ffff:1.2.3.4]:80", "1.2.3.4"],
    ["1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"],
    ["::1:2:3:4:5:1.2.3.4", "0:1:2:3:4:5:102:304"],
    ["ABCD::EF01", "abcd::ef01"],
    ["[2001:db8::1]:_a.b-c_d9", "2001:db8::1"],
    ["::127.0.0.1", "::7f00:1"],
    ["64:ff9b::127.0.0.1", "64:ff9b::7f00:1"],
    ["1::1.2.3.4", "1::102:304"],
  ])("reads %j as %s", (text, expected) => {
    expect(canonical(text)).toBe(expected);
  });

  it("takes 0-9, a-f and A-F as hex digits, and no other character (the letters' ASCII neighbours @ and ` included)", () => {
    for (let code = 0; code < 0x80; code++) {
      if (code === 0x25) continue; // % begins a zone (above)
      const c = String.fromCharCode(code);
      const hex = /^[0-9a-fA-F]$/.test(c);
      for (const text of [`::${c}`, `${c}::`, `1::${c}:2`, `1::${c}1`]) expect(parseIp(text) !== null, JSON.stringify(text)).toBe(hex);
      if (hex) expect(parseIp(`1::${c}:2`)).toEqual({ family: 6, parts: [1, 0, 0, 0, 0, 0, Number.parseInt(c, 16), 2] });
    }
  });

  it("rejects ports out of range or written loosely", () => {
    expect(parseNode("198.51.100.4:65536")).toBeNull();
    expect(parseNode("198.51.100.4:080")).toBeNull();
    expect(parseNode("198.51.100.4:")).toBeNull();
    expect(parseNode("198.51.100.4:+80")).toBeNull();
    expect(canonical("198.51.100.4:65535")).toBe("198.51.100.4");
  });

  it("does not take a port on a bare address (parseIp)", () => {
    expect(parseIp("127.0.0.1:80")).toBeNull();
    expect(parseIp("[::1]")).toBeNull();
  });
});

describe("loopback", () => {
  const loopback = (text: string) => isLoopback(parseIp(text)!);
  it("is 127.0.0.0/8, ::1 and their mapped forms", () => {
    expect(loopback("127.0.0.1")).toBe(true);
    expect(loopback("127.255.255.254")).toBe(true);
    expect(loopback("::1")).toBe(true);
    expect(loopback("0:0:0:0:0:0:0:1")).toBe(true);
    expect(loopback("::ffff:127.0.0.1")).toBe(true);
    expect(loopback("::ffff:127.9.9.9")).toBe(true);
  });

  it("is ::1 only: an address differing from it in any one group is not loopback", () => {
    for (let i = 0; i < 8; i++) {
      const parts = [0, 0, 0, 0, 0, 0, 0, 1];
      parts[i] = i === 7 ? 3 : 1;
      expect(loopback(parts.map((part) => part.toString(16)).join(":")), parts.join(":")).toBe(false);
    }
  });

  it("folds ::ffff:0:0/96 only: an address differing from the mapped prefix in any group stays IPv6", () => {
    for (let i = 0; i < 6; i++) {
      const parts = [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1];
      parts[i] = i === 5 ? 0xfffe : 1;
      const address = parseIp(parts.map((part) => part.toString(16)).join(":"))!;
      expect(address.family, parts.join(":")).toBe(6);
      expect(isLoopback(address)).toBe(false);
    }
  });

  it("is not IPv4-compatible ::127.0.0.1, NAT64 64:ff9b::7f00:1, or neighbours of loopback", () => {
    expect(loopback("::127.0.0.1")).toBe(false);
    expect(loopback("64:ff9b::7f00:1")).toBe(false);
    expect(loopback("128.0.0.1")).toBe(false);
    expect(loopback("126.255.255.255")).toBe(false);
    expect(loopback("::2")).toBe(false);
    expect(loopback("::")).toBe(false);
    expect(loopback("1::1")).toBe(false);
    expect(loopback("0.0.0.0")).toBe(false);
  });
});

describe("the hand-written parser accepts exactly what net.isIP accepts", () => {
  // The specification is Node's own check; these properties hold the fast parser to it.
  const alphabet = fc.constantFrom(..."0123456789abcdefABCDEFg:.%-xz ");
  const near = fc.oneof(
    fc.array(alphabet, { maxLength: 45 }).map((chars) => chars.join("")),
    fc.tuple(address, fc.nat(60), alphabet, fc.constantFrom("insert", "delete", "replace")).map(([text, at, char, edit]) => {
      const i = at % (text.length + 1);
      if (edit === "insert") return text.slice(0, i) + char + text.slice(i);
      if (edit === "delete") return text.slice(0, i) + text.slice(i + 1);
      return text.slice(0, i) + char + text.slice(i + 1);
    }),
    fc.tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.nat(7), fc.integer({ min: 1, max: 7 }), fc.boolean()).map(([parts, from, length, v4]) => {
      // Any compression of any address, sometimes with a dotted-quad tail: the forms that are easy to get wrong.
      const groups = parts.map((part) => part.toString(16));
      if (v4) groups.splice(6, 2, `${parts[6]! >> 8}.${parts[6]! & 255}.${parts[7]! >> 8}.${parts[7]! & 255}`);
      const end = Math.min(groups.length, from + length);
      return `${groups.slice(0, from).join(":")}::${groups.slice(end).join(":")}`;
    }),
    fc.tuple(address, fc.constantFrom("%eth0", "%br-1a2b", "%", "%a b", "%:", "%1.2")).map(([text, zone]) => text + zone),
  );

  it("on random and near-miss strings", () => {
    fc.assert(
      fc.property(near, (text) => {
        expect(parseIp(text) !== null, text).toBe(isIP(text) !== 0);
      }),
      { seed: 20261125, numRuns: runs(20_000) },
    );
  });

  it("and reads the same address as ipaddr.js wherever ipaddr.js reads it right", () => {
    fc.assert(
      fc.property(near, (text) => {
        // ipaddr.js misreads ::a.b.c.d as IPv4-mapped (RFC 4291 says IPv4-compatible); skip those forms.
        if (isIP(text) === 0 || /^::(ffff:)?[\d.]+$/i.test(text.split("%")[0]!) && !/^::ffff:/i.test(text)) return;
        const theirs = ipaddr.process(text.split("%")[0]!);
        const expected = theirs.kind() === "ipv4" ? theirs.toString() : (theirs as ipaddr.IPv6).toRFC5952String();
        expect(formatAddress(parseIp(text)!), text).toBe(expected);
      }),
      { seed: 20261125, numRuns: runs(20_000) },
    );
  });

  it("reads a range of a longer string without looking outside it", () => {
    const header = "junk 198.51.100.4 [2001:db8::1]:443 fe80::1%eth0 more";
    const range = (piece: string) => [header.indexOf(piece), header.indexOf(piece) + piece.length] as const;
    expect(formatAddress(parseIp(header, ...range("198.51.100.4"))!)).toBe("198.51.100.4");
    expect(formatAddress(parseNode(header, ...range("[2001:db8::1]:443"))!)).toBe("2001:db8::1");
    expect(formatAddress(parseIp(header, ...range("fe80::1%eth0"))!)).toBe("fe80::1");
    expect(parseIp(header, ...range("fe80::1%"))).toBeNull(); // an empty zone
    expect(parseNode(header, ...range("[2001:db8::1]:"))).toBeNull(); // an empty port
    expect(parseIp(header, ...range("198.51.100"))).toBeNull(); // three parts, though a fourth follows the range
    // A colon just past the range is not read as the second half of a "::".
    expect(parseIp("::1", 0, 1)).toBeNull();
    expect(parseIp("::1", 0, 0)).toBeNull();
    expect(parseIp("::1", 1, 1)).toBeNull();
    // Nor a hex digit or a dot just past it as more of the last group.
    expect(formatAddress(parseIp("::1f", 0, 3)!)).toBe("::1");
    expect(formatAddress(parseIp("::1.2.3.4", 0, 3)!)).toBe("::1");
  });
});

describe("the hand-written RFC 5952 printer", () => {
  it("prints every IPv6 address as ipaddr.js's toRFC5952String does", () => {
    // Groups drawn mostly from 0 so that zero runs of every length and position, and ties, come up often.
    const group = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffff }) });
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (parts) => {
        const mapped = parts.slice(0, 5).every((part) => part === 0) && parts[5] === 0xffff;
        fc.pre(!mapped); // mapped addresses are printed as IPv4
        expect(formatAddress({ family: 6, parts })).toBe(new ipaddr.IPv6(parts).toRFC5952String());
      }),
      { seed: 20261125, numRuns: runs(20_000) },
    );
  });

  it("writes a group at each digit count's edges as ipaddr.js does (the byte tables' seams)", () => {
    for (const value of [0x1, 0xf, 0x10, 0xff, 0x100, 0x101, 0xfff, 0x1000, 0x1001, 0xff00, 0xffff]) {
      const parts = [0x2001, 0xdb8, value, 1, value, 2, 3, value];
      expect(formatAddress({ family: 6, parts }), value.toString(16)).toBe(new ipaddr.IPv6(parts).toRFC5952String());
    }
  });
});

describe("the canonical text of a parsed address", () => {
  // canonicalText keeps the written text when its length is that of the dotted quad: it relies on every
  // other spelling of an IPv4 address being longer. Each spelling here is checked against the printer.
  const spellings = (value: number): string[] => {
    const quad = formatAddress({ family: 4, value });
    const high = (value >>> 16).toString(16);
    const low = (value & 0xffff).toString(16);
    const hexForms = [`${high}:${low}`, `${high.padStart(4, "0")}:${low.padStart(4, "0")}`, `${high.toUpperCase()}:${low}`];
    const tails = [quad, ...hexForms];
    return [
      quad,
      `${quad}:80`,
      `${quad}:_a`,
      ...tails.flatMap((tail) => [`::ffff:${tail}`, `::FFFF:${tail}`, `0::ffff:${tail}`, `0:0:0:0:0:ffff:${tail}`, `::ffff:${tail}%1`, `[::ffff:${tail}]`, `[::ffff:${tail}]:8`]),
    ];
  };
  /** The spellings of `value` that parse to something else or print as something else than the quad. */
  const misprinted = (value: number): string[] => {
    const expected = formatAddress({ family: 4, value });
    return spellings(value).filter((text) => {
      const header = `x, ${text} ,y`;
      const address = parseNode(header, 3, 3 + text.length);
      return address === null || address.family !== 4 || address.value !== value || canonicalText(address, header, 3, 3 + text.length) !== expected || canonicalText(address, text) !== expected;
    });
  };

  it("prints every spelling of IPv4 addresses whose octets have one, two and three digits as the dotted quad", () => {
    const octets = [0, 1, 9, 10, 99, 100, 255];
    const wrong: string[] = [];
    for (const a of octets) for (const b of octets) for (const c of octets) for (const d of octets) wrong.push(...misprinted(((a << 24) | (b << 16) | (c << 8) | d) >>> 0));
    expect(wrong).toEqual([]);
  });

  it("prints every spelling of any IPv4 address as the dotted quad", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (value) => {
        expect(misprinted(value)).toEqual([]);
      }), { seed: 20261125, numRuns: runs(5_000) });
  });

  it("keeps the written text of a plain dotted quad, and prints IPv6 in RFC 5952 form", () => {
    const written = "203.0.113.7";
    expect(canonicalText(parseIp(written)!, written)).toBe(written);
    expect(canonicalText(parseIp("2001:DB8:0:0::1")!, "2001:DB8:0:0::1")).toBe("2001:db8::1");
  });

  it("does not keep a \"::\" that stands for one zero group, wherever it stands (RFC 5952 section 4.2.2)", () => {
    for (let at = 0; at < 8; at++) {
      const parts = [1, 2, 3, 4, 5, 6, 7, 8];
      parts[at] = 0;
      const written = `${parts.slice(0, at).join(":")}::${parts.slice(at + 1).join(":")}`;
      expect(canonicalText(parseIp(written)!, written), written).toBe(parts.join(":"));
    }
  });

  it("prints every spelling of an IPv6 address in RFC 5952 form, and keeps the text only when it is that form", () => {
    const group = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffff }) });
    const hex = (parts: readonly number[], from: number, to: number, pad = false) =>
      parts.slice(from, to).map((part) => (pad ? part.toString(16).padStart(4, "0") : part.toString(16))).join(":");
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (parts) => {
        fc.pre(!(parts.slice(0, 5).every((part) => part === 0) && parts[5] === 0xffff)); // mapped: IPv4
        const expected = formatAddress({ family: 6, parts });
        const spellings = [expected, hex(parts, 0, 8), hex(parts, 0, 8, true), expected.toUpperCase(), `${expected}%eth0`];
        spellings.push(`${hex(parts, 0, 6)}:${parts[6]! >> 8}.${parts[6]! & 255}.${parts[7]! >> 8}.${parts[7]! & 255}`);
        // Every "::" the grammar allows: any run of one or more zero groups.
        for (let from = 0; from < 8; from++) {
          for (let to = from + 1; to <= 8 && parts[to - 1] === 0; to++) spellings.push(`${hex(parts, 0, from)}::${hex(parts, to, 8)}`);
        }
        for (const text of spellings) {
          const address = parseIp(text);
          expect(address, text).toEqual({ family: 6, parts });
          const kept = canonicalText(address!, text);
          expect(kept, text).toBe(expected);
          // In a header, and inside brackets with a port: the range read is not the range printed.
          const header = `x, [${text}]:443 ,y`;
          const inBrackets = parseNode(header, 3, 3 + text.length + 6);
          expect(canonicalText(inBrackets!, header, 3, 3 + text.length + 6), text).toBe(expected);
          const bare = parseIp(header, 4, 4 + text.length);
          expect(canonicalText(bare!, header, 4, 4 + text.length), text).toBe(expected);
        }
      }),
      { seed: 20261125, numRuns: runs(3_000) },
    );
  });
});
