// The entry splitter on its own: right to left, one bounded scan per entry, forwarded-parse once per element.
import { afterEach, describe, expect, it, vi } from "vitest";

const parse = vi.hoisted(() => ({ calls: [] as string[], override: undefined as ((element: string) => unknown) | undefined }));
vi.mock("forwarded-parse", async (importOriginal) => {
  const real = ((await importOriginal()) as { default: (header: string) => Record<string, string>[] }).default;
  return {
    default: (element: string) => {
      parse.calls.push(element);
      return parse.override ? parse.override(element) : real(element);
    },
  };
});

// The general address parser, counted: a plain dotted-quad item is read by the one-pass path without it.
const general = vi.hoisted(() => ({ calls: 0 }));
vi.mock("../src/core/address.js", async (importOriginal) => {
  const real = (await importOriginal()) as typeof import("../src/core/address.js");
  return {
    ...real,
    parseNode: (...args: Parameters<typeof real.parseNode>) => {
      general.calls++;
      return real.parseNode(...args);
    },
  };
});

const { EntryCursor } = await import("../src/core/entries.js");
type Header = "x-forwarded-for" | "forwarded" | "x-real-ip";

/** Every entry of a value, as the cursor gives them: the text, or why it could not be read. */
function entries(header: Header, value: string, limit = Infinity): Array<{ text: string } | { malformed: string; raw: string }> {
  const cursor = new EntryCursor(header, value);
  const all: Array<{ text: string } | { malformed: string; raw: string }> = [];
  while (all.length < limit && cursor.next()) {
    all.push(cursor.malformed === null ? { text: cursor.text.slice(cursor.start, cursor.end) } : { malformed: cursor.malformed, raw: cursor.raw });
  }
  return all;
}

afterEach(() => {
  general.calls = 0;
  parse.calls.length = 0;
  parse.override = undefined;
});

describe("entries", () => {
  it("yields X-Forwarded-For items right to left, trimmed of spaces and tabs", () => {
    expect(entries("x-forwarded-for", "192.0.2.1 ,\t198.51.100.4,10.0.0.3 ")).toEqual([{ text: "10.0.0.3" }, { text: "198.51.100.4" }, { text: "192.0.2.1" }]);
  });

  it("skips empty list elements (RFC 9110 section 5.6.1), and a list of nothing but those has no entry", () => {
    for (const value of ["", " ", ",", " , ,\t,", ", ,"]) {
      expect(entries("x-forwarded-for", value), JSON.stringify(value)).toEqual([]);
      expect(entries("forwarded", value), JSON.stringify(value)).toEqual([]);
    }
    expect(entries("x-forwarded-for", "192.0.2.1,, ,198.51.100.4,")).toEqual([{ text: "198.51.100.4" }, { text: "192.0.2.1" }]);
    expect(entries("x-forwarded-for", "[2001:db8::1]:80, ,")).toEqual([{ text: "[2001:db8::1]:80" }]);
    expect(entries("forwarded", "for=192.0.2.1, ,for=198.51.100.4,")).toEqual([{ text: "198.51.100.4" }, { text: "192.0.2.1" }]);
  });

  it("takes at most 64 empty elements in a header, then calls it malformed", () => {
    expect(entries("x-forwarded-for", `192.0.2.1${",".repeat(64)}`)).toEqual([{ text: "192.0.2.1" }]);
    expect(entries("x-forwarded-for", `192.0.2.1${",".repeat(65)}`)).toMatchObject([{ malformed: "more than 64 empty list elements" }]);
    expect(entries("forwarded", `for=192.0.2.1${", ".repeat(65)}`)[0]).toMatchObject({ malformed: "more than 64 empty list elements" });
    // Elements with addresses do not count towards the bound.
    expect(entries("x-forwarded-for", `${"192.0.2.1,,".repeat(64)}`)).toHaveLength(64);
  });

  it("shows, for too many empty elements, the 40 characters before the run that went past the bound", () => {
    expect(entries("x-forwarded-for", `198.51.100.4, 203.0.113.9, 198.51.100.77, 192.0.2.1${",".repeat(65)}`)).toEqual([
      { malformed: "more than 64 empty list elements", raw: "…, 203.0.113.9, 198.51.100.77, 192.0.2.1," },
    ]);
    expect(entries("forwarded", `for=198.51.100.4, for=203.0.113.9, for=192.0.2.1${", ".repeat(65)}`)).toEqual([
      { malformed: "more than 64 empty list elements", raw: "….100.4, for=203.0.113.9, for=192.0.2.1, " },
    ]);
    // Fewer than 40 characters before it: all of them.
    expect(entries("x-forwarded-for", `192.0.2.1${",".repeat(65)}`)).toEqual([{ malformed: "more than 64 empty list elements", raw: "…192.0.2.1," }]);
  });

  it("stops with a malformed entry at the first item longer than the bound, and yields nothing after it", () => {
    const all = entries("x-forwarded-for", `10.0.0.9, ${"9".repeat(200)}, 10.0.0.3`);
    expect(all).toHaveLength(2);
    expect(all[0]).toEqual({ text: "10.0.0.3" });
    expect(all[1]).toMatchObject({ malformed: "entry longer than 128 characters" });
  });

  it("reads only as much of a long header as the entries pulled", () => {
    const header = `${"10.0.0.1, ".repeat(100_000)}192.0.2.1`;
    const first = entries("forwarded", header.replace(/10\.0\.0\.1/g, "for=10.0.0.1;proto=http").replace("192.0.2.1", "for=192.0.2.1;proto=http"), 2);
    expect(first).toEqual([{ text: "192.0.2.1" }, { text: "10.0.0.1" }]);
    // forwarded-parse saw two short elements, never the megabyte header.
    expect(parse.calls).toEqual(["for=192.0.2.1;proto=http", "for=10.0.0.1;proto=http"]);
  });

  it("hands forwarded-parse one element at a time, commas inside quotes kept", () => {
    const all = entries("forwarded", 'for=192.0.2.1;host="a,b", for="[2001:db8::1]:80";by="x\\",y"');
    expect(all).toEqual([{ text: "[2001:db8::1]:80" }, { text: "192.0.2.1" }]);
    expect(parse.calls).toEqual(['for="[2001:db8::1]:80";by="x\\",y"', 'for=192.0.2.1;host="a,b"']);
  });

  it("trims spaces and tabs around Forwarded elements before parsing them", () => {
    expect(entries("forwarded", "for=192.0.2.1;by=_a \t,\tfor=10.0.0.1;by=_b ")).toEqual([{ text: "10.0.0.1" }, { text: "192.0.2.1" }]);
    expect(parse.calls).toEqual(["for=10.0.0.1;by=_b", "for=192.0.2.1;by=_a"]);
  });

  it("takes no other parameter of three letters, nor a name without its =, for for=: those elements name no client", () => {
    for (const element of ["xor=192.0.2.1", "fxr=192.0.2.1", "fox=192.0.2.1", "by=192.0.2.1"]) {
      expect(entries("forwarded", element)).toEqual([{ malformed: "element has no for= parameter", raw: element }]);
    }
    const [unreadable] = entries("forwarded", "forx192.0.2.1");
    expect(unreadable).toEqual({ malformed: expect.stringMatching(/^not a valid Forwarded element/), raw: "forx192.0.2.1" });
  });

  it("reads an element that is for= and a plain dotted quad alone in place, without forwarded-parse, as it would", () => {
    expect(entries("forwarded", " For=192.0.2.1\t, FOR=10.0.0.1 ")).toEqual([{ text: "10.0.0.1" }, { text: "192.0.2.1" }]);
    expect(parse.calls).toEqual([]);
    // Anything more than that is forwarded-parse's to read: a second parameter, a leading zero, a port, quotes.
    const more = ["for=192.0.2.1;proto=https", "for=010.0.0.1", "for=192.0.2.1:80", 'for="192.0.2.1"'];
    expect(entries("forwarded", [...more].reverse().join(", "))).toEqual([{ text: "192.0.2.1" }, { text: "010.0.0.1" }, { text: "192.0.2.1:80" }, { text: "192.0.2.1" }]);
    // The unquoted port is read a second time as if quoted, as it is written by nginx's common configuration.
    expect(parse.calls).toEqual([...more.slice(0, 3), 'for="192.0.2.1:80"', more[3]]);
  });

  it("fails closed if forwarded-parse ever returns other than one element, or other than one parameter a pair", () => {
    const element = 'for="203.0.113.7"';
    const malformed = { malformed: "not a valid Forwarded element (not a single element)", raw: element };
    parse.override = () => [{ for: "127.0.0.1" }, { for: "203.0.113.7" }];
    expect(entries("forwarded", element)).toEqual([malformed]);
    parse.override = () => [];
    expect(entries("forwarded", element)).toEqual([malformed]);
    parse.override = () => [{ for: "127.0.0.1", by: "203.0.113.7" }];
    expect(entries("forwarded", element)).toEqual([{ malformed: "an element with a parameter that cannot be kept", raw: element }]);
  });

  it("calls a parameter forwarded-parse cannot keep (__proto__) malformed rather than reading around it", () => {
    expect(entries("forwarded", "for=192.0.2.1;__proto__=x")).toEqual([{ malformed: "an element with a parameter that cannot be kept", raw: "for=192.0.2.1;__proto__=x" }]);
  });

  it("takes X-Real-IP whole: one entry, never split at commas, and a list malformed", () => {
    expect(entries("x-real-ip", " 203.0.113.7 ")).toEqual([{ text: "203.0.113.7" }]);
    expect(entries("x-real-ip", " 203.0.113.7, 10.0.0.1 ")).toEqual([{ malformed: "a list where the proxy sets one address (several addresses, or the header repeated)", raw: " 203.0.113.7, 10.0.0.1 " }]);
    expect(entries("x-real-ip", "1".repeat(129))).toEqual([{ malformed: "entry longer than 128 characters", raw: `…${"1".repeat(40)}` }]);
  });

  it("reads a Forwarded element of exactly 1,024 characters, and not one of 1,025", () => {
    const element = (length: number) => `for=192.0.2.1;host="${"a".repeat(length - 'for=192.0.2.1;host=""'.length)}"`;
    expect(element(1024)).toHaveLength(1024);
    expect(entries("forwarded", element(1024))).toEqual([{ text: "192.0.2.1" }]);
    expect(entries("forwarded", `for=10.0.0.1,${element(1024)}`)).toEqual([{ text: "192.0.2.1" }, { text: "10.0.0.1" }]);
    // The bound counts the element as written, spaces after the comma included.
    expect(entries("forwarded", `for=10.0.0.1, ${element(1024)}`)[0]).toMatchObject({ malformed: "entry longer than 1024 characters" });
    expect(entries("forwarded", element(1025))).toEqual([{ malformed: "entry longer than 1024 characters", raw: `…${element(1025).slice(-40)}` }]);
    expect(entries("forwarded", `for=10.0.0.1,${element(1025)}`)[0]).toMatchObject({ malformed: "entry longer than 1024 characters" });
  });

  it("tells an escaped quote from a closing one by counting the backslashes before it", () => {
    // host="a\\" ends its string after two escaped backslashes, so the comma after it splits elements.
    expect(entries("forwarded", 'for=10.0.0.1;host="a\\\\", for=192.0.2.1')).toEqual([{ text: "192.0.2.1" }, { text: "10.0.0.1" }]);
    // Its opening quote is then the string's start, so the comma before the element splits too.
    expect(entries("forwarded", 'for=198.51.100.9, for=10.0.0.1;host="a\\\\", for=192.0.2.1')).toEqual([{ text: "192.0.2.1" }, { text: "10.0.0.1" }, { text: "198.51.100.9" }]);
    // host="a\",b" keeps its escaped quote and the comma inside the string.
    expect(entries("forwarded", 'for=10.0.0.1;host="a\\",b", for=192.0.2.1')).toEqual([{ text: "192.0.2.1" }, { text: "10.0.0.1" }]);
    // An odd run of backslashes escapes the quote: "a\\\",b" holds a quote and a comma, so no split there.
    expect(entries("forwarded", 'for=10.0.0.1;host="a\\\\\\",b", for=192.0.2.1')).toEqual([{ text: "192.0.2.1" }, { text: "10.0.0.1" }]);
    expect(entries("forwarded", '"x\\"y,for=192.0.2.1')[0]).toEqual({ text: "192.0.2.1" });
  });

  it("names what is wrong with an element", () => {
    expect(entries("forwarded", "proto=https")).toEqual([{ malformed: "element has no for= parameter", raw: "proto=https" }]);
    expect(entries("forwarded", "for=1.2.3.4;by")[0]).toEqual({ malformed: "not a valid Forwarded element (Unexpected end of input)", raw: "for=1.2.3.4;by" });
    expect(entries("forwarded", "for=1.2.3.4;;")[0]).toEqual({ malformed: "not a valid Forwarded element (Unexpected character ';' at index 12)", raw: "for=1.2.3.4;;" });
    expect(entries("forwarded", 'for="1.2.3.4')[0]).toMatchObject({ malformed: "not a valid Forwarded element (Unexpected end of input)" });
    expect(entries("forwarded", "for=1.2.3.4 x")[0]).toMatchObject({ malformed: expect.stringMatching(/^not a valid Forwarded element/) as unknown as string });
  });

  // RFC 7239 section 4: "Each parameter MUST NOT occur more than once per forwarded-element." Read last-wins,
  // `for=127.0.0.1;for=203.0.113.7` lets whichever the reader prefers name the client.
  it("calls an element that repeats a parameter malformed, in any case", () => {
    for (const element of ["for=127.0.0.1;for=203.0.113.7", "for=203.0.113.7;proto=http;FOR=127.0.0.1", "for=192.0.2.1;proto=http;Proto=https", 'by=a;for="[::1]";by=b']) {
      expect(entries("forwarded", element)[0], element).toMatchObject({ malformed: expect.stringMatching(/^an element that repeats the (for|proto|by)= parameter/) as unknown as string, raw: element });
    }
    // The same parameter in two elements is two hops, not a repeat.
    expect(entries("forwarded", "for=192.0.2.1;proto=http, for=198.51.100.4;proto=https")).toEqual([{ text: "198.51.100.4" }, { text: "192.0.2.1" }]);
  });

  it("takes spaces around a pair's semicolon, as forwarded-parse does, and counts pairs inside quotes right", () => {
    expect(entries("forwarded", "for=1.2.3.4 ; proto=http")).toEqual([{ text: "1.2.3.4" }]);
    expect(entries("forwarded", 'for="[2001:db8::1]";host="a;b;c";proto=http')).toEqual([{ text: "[2001:db8::1]" }]);
    // An escaped quote does not end the string: host="a\\";b" is one parameter holding a quote and a semicolon.
    expect(entries("forwarded", 'for=10.0.0.1;host="a\\";b"')).toEqual([{ text: "10.0.0.1" }]);
    expect(entries("forwarded", 'for="[2001:db8::1]";host="a;b";Host="c"')[0]).toMatchObject({ malformed: expect.stringMatching(/^an element that repeats the host= parameter/) as unknown as string });
  });

  // nginx's common `proxy_set_header Forwarded "for=$remote_addr"` writes IPv6 unquoted, against the grammar;
  // nothing in an address can be taken for the header's own `,` `;` `"` or `=`, so it is read as written.
  it("reads an unquoted address with colons as real proxies write it, and nothing looser", () => {
    expect(entries("forwarded", "for=2001:db8::1")).toEqual([{ text: "2001:db8::1" }]);
    expect(entries("forwarded", "for=[2001:db8::1]:4711;by=2001:db8::2")).toEqual([{ text: "[2001:db8::1]:4711" }]);
    expect(entries("forwarded", "for=192.0.2.1:80")).toEqual([{ text: "192.0.2.1:80" }]);
    expect(entries("forwarded", "for=fe80::1%eth0")).toEqual([{ text: "fe80::1%eth0" }]);
    // Beside the other parameters, as nginx writes `for=$remote_addr;proto=$scheme;host="$host"`: they are kept,
    // a quoted value as it was.
    const cursor = new EntryCursor("forwarded", 'for=2001:db8::1;proto=https;host="gw.example:8443"');
    expect(cursor.next() && cursor.malformed === null && cursor.written()).toBe("2001:db8::1");
    expect([cursor.proto, cursor.host]).toEqual(["https", "gw.example:8443"]);
    for (const element of ["for=2001:db8::1:", "for=2001:db8::g", "for=a:b", "f r=2001:db8::1", "=2001:db8::1", "for=[2001:db8::1]x", 'for=2001:db8::1"']) {
      expect(entries("forwarded", element)[0], element).toMatchObject({ malformed: expect.stringMatching(/^not a valid Forwarded element/) as unknown as string });
    }
  });

  it("counts the backslashes before a quote no further than one element's reach", () => {
    const slashes = "\\".repeat(500_000);
    // An even run escapes nothing; the run is longer than an element, so the element is too long either way.
    expect(entries("forwarded", `for="${slashes}"`)[0]).toMatchObject({ malformed: "entry longer than 1024 characters" });
    expect(entries("forwarded", `for=192.0.2.1,x="${slashes}\\"`)[0]).toMatchObject({ malformed: "entry longer than 1024 characters" });
  });

  it("takes an X-Real-IP of exactly 128 characters and not one of 129", () => {
    const value = `${" ".repeat(119)}127.0.0.1`;
    expect(value).toHaveLength(128);
    expect(entries("x-real-ip", value)).toEqual([{ text: "127.0.0.1" }]);
    expect(entries("x-real-ip", ` ${value}`)[0]).toMatchObject({ malformed: "entry longer than 128 characters" });
  });

  it("counts a backslash at the very start of the header", () => {
    expect(entries("forwarded", '\\",for=192.0.2.1')[0]).toEqual({ text: "192.0.2.1" });
    expect(entries("forwarded", 'a"b,c",for=192.0.2.1')[0]).toEqual({ text: "192.0.2.1" });
  });

  it("bounds an X-Forwarded-For item of a plain address as it bounds any other: 128 characters, spaces included", () => {
    const padded = (length: number, address: string) => `${" ".repeat(length - address.length)}${address}`;
    for (const address of ["127.0.0.1", "[::1]:80", "::ffff:127.0.0.1"]) {
      expect(entries("x-forwarded-for", padded(128, address)), address).toEqual([{ text: address }]);
      expect(entries("x-forwarded-for", padded(129, address))[0], address).toMatchObject({ malformed: "entry longer than 128 characters" });
      expect(entries("x-forwarded-for", `10.0.0.9,${padded(128, address)}`), address).toEqual([{ text: address }, { text: "10.0.0.9" }]);
      expect(entries("x-forwarded-for", `10.0.0.9,${padded(129, address)}`)[0], address).toMatchObject({ malformed: "entry longer than 128 characters" });
    }
  });

  it("reads each entry's address, null where an entry names none", () => {
    const cursor = new EntryCursor("x-forwarded-for", "unknown, ::ffff:10.0.0.1 , 198.51.100.4:80,010.0.0.1, 7.7.7.7.7,\t203.0.113.7\t");
    const addresses: Array<unknown> = [];
    while (cursor.next()) addresses.push(cursor.address);
    expect(addresses).toEqual([
      { family: 4, value: 0xcb007107 },
      null, // five parts
      null, // a leading zero
      { family: 4, value: 0xc6336404 },
      { family: 4, value: 0x0a000001 },
      null,
    ]);
  });

  it("reads a plain dotted-quad X-Forwarded-For item in one pass, without the general parser, and anything else with it", () => {
    const pad = (length: number) => " ".repeat(length);
    const plain = ["203.0.113.7", " 203.0.113.7\t", "10.0.0.1, 203.0.113.7", "10.0.0.1,203.0.113.7 ", `${pad(117)}203.0.113.7`, `10.0.0.1,${pad(117)}203.0.113.7`];
    for (const value of plain) {
      general.calls = 0;
      const cursor = new EntryCursor("x-forwarded-for", value);
      expect(cursor.next(), value).toBe(true);
      expect(cursor.address, value).toEqual({ family: 4, value: 0xcb007107 });
      expect(cursor.text.slice(cursor.start, cursor.end), value).toBe("203.0.113.7");
      expect(general.calls, value).toBe(0);
    }
    // Not a plain item, or too long: the general path reads it (and finds the address, or none).
    const other = ["203.0.113.7:80", "::ffff:203.0.113.7", "x203.0.113.7", "[::1]", "1.203.0.113.7", "0203.0.113.7", `${pad(118)}203.0.113.7`, `10.0.0.1;203.0.113.7`];
    for (const value of other) {
      general.calls = 0;
      const cursor = new EntryCursor("x-forwarded-for", value);
      cursor.next();
      expect(general.calls + (cursor.malformed === null ? 0 : 1), value).toBe(1);
    }
  });

  it("finds no address in a bad dotted quad wherever the entry starts, the header's second character included", () => {
    // quadBefore reports where a quad starts, or -1: a range that starts at index 1 must not mistake a
    // failed read for a quad found there.
    for (const bad of ["01.2.3.4", "1.2.3.256", "1.2.3.4.5", "1.2.3.1234", "1.2.3.", ".1.2.3.4", "1.2..3"]) {
      for (const value of [` ${bad}`, `,${bad}`, bad, `10.0.0.1, ${bad}`]) {
        const cursor = new EntryCursor("x-forwarded-for", value);
        expect(cursor.next(), value).toBe(true);
        expect(cursor.address, value).toBeNull();
      }
    }
  });
});
