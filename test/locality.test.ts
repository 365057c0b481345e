import { describe, expect, it } from "vitest";
import { NOT_THIS_MACHINE, hostPort, localOrigin } from "../src/core/locality.js";

const namesThisMachine = (host: string, localHosts: readonly string[]) => hostPort(host, localHosts) !== NOT_THIS_MACHINE;
const originIsThisMachine = (origin: string, localHosts: readonly string[]) => localOrigin(origin, localHosts) !== null;

describe("Host names this machine", () => {
  it.each([
    "localhost",
    "LOCALHOST",
    "localhost:18789",
    "dashboard.localhost",
    "a.b.localhost:443",
    "Dashboard.LocalHost",
    "127.0.0.1",
    "127.0.0.1:18789",
    "127.8.9.10:80",
    "[::1]",
    "[::1]:18789",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]:18789",
    "[::ffff:7f00:1]",
  ])("accepts %j", (host) => {
    expect(namesThisMachine(host, [])).toBe(true);
  });

  it.each([
    "localhost.evil.example",
    "localhost.evil.example:18789",
    "evil.example",
    "rebind.evil.example:18789",
    "notlocalhost",
    "localhost.",
    ".localhost",
    "a..localhost",
    "-a.localhost",
    "a_b.localhost",
    "localhost:",
    "localhost:99999",
    "localhost:18789:1",
    "localhost:abc",
    "127.1",
    "0177.0.0.1",
    "2130706433",
    "0.0.0.0",
    "0.0.0.0:18789",
    "172.18.0.2:18789",
    "::1",
    "[::1",
    "[::1]x",
    "[::1]:",
    "[::1%lo]",
    "[::127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "user@localhost",
    "localhost/path",
    "localhost, evil.example",
    " localhost",
    "",
    `${"a.".repeat(200)}localhost`,
  ])("rejects %j", (host) => {
    expect(namesThisMachine(host, [])).toBe(false);
  });

  it("accepts a name from localHosts, case-insensitively, with any port", () => {
    expect(namesThisMachine("MyHost:18789", ["myhost"])).toBe(true);
    expect(namesThisMachine("myhost", ["MYHOST"])).toBe(true);
    expect(namesThisMachine("myhost.evil.example", ["myhost"])).toBe(false);
    expect(namesThisMachine("otherhost", ["myhost"])).toBe(false);
  });

  it("accepts an address listed in localHosts, IPv6 in brackets", () => {
    expect(namesThisMachine("192.168.1.5:18789", ["192.168.1.5"])).toBe(true);
    expect(namesThisMachine("[fd18::2]:18789", ["[fd18::2]"])).toBe(true);
    expect(namesThisMachine("192.168.1.6", ["192.168.1.5"])).toBe(false);
  });
});

describe("Origin names this machine", () => {
  it.each(["http://127.0.0.1:18789", "http://localhost:18789", "https://localhost", "HTTP://LOCALHOST", "http://[::1]:18789", "http://app.localhost"])(
    "accepts %j",
    (origin) => {
      expect(originIsThisMachine(origin, [])).toBe(true);
    },
  );

  it.each([
    "null",
    "",
    "https://evil.example",
    "http://localhost.evil.example",
    "ws://localhost:18789",
    "file://",
    "chrome-extension://abcdef",
    "http://localhost:18789/",
    "http://localhost/path",
    "http:/localhost",
    "localhost",
    "http://127.0.0.1:18789, https://evil.example",
    "http://user@localhost",
  ])("rejects %j", (origin) => {
    expect(originIsThisMachine(origin, [])).toBe(false);
  });

  it("accepts an origin whose host is in localHosts", () => {
    expect(originIsThisMachine("http://myhost:18789", ["myhost"])).toBe(true);
  });
});

describe("Host boundaries", () => {
  it("reads a Host of up to 300 characters and refuses a longer one", () => {
    const name = (length: number) => `${"a.".repeat((length - "localhost".length) / 2)}localhost`;
    expect(name(299)).toHaveLength(299);
    expect(namesThisMachine(name(299), [])).toBe(true);
    expect(namesThisMachine(`${name(299)}:`, [])).toBe(false);
    const exactly300 = `x${name(299)}`;
    expect(exactly300).toHaveLength(300);
    expect(namesThisMachine(exactly300, [])).toBe(true);
    expect(namesThisMachine(`x${exactly300}`, [])).toBe(false);
  });

  it("takes labels of 1 to 63 characters before .localhost", () => {
    expect(namesThisMachine(`${"a".repeat(63)}.localhost`, [])).toBe(true);
    expect(namesThisMachine(`${"a".repeat(64)}.localhost`, [])).toBe(false);
    expect(namesThisMachine("a-.localhost", [])).toBe(false);
    expect(namesThisMachine("a-b.LOCALHOST:1", [])).toBe(true);
    expect(namesThisMachine("a_b.localhost", [])).toBe(false);
    expect(namesThisMachine("9z.localhost", [])).toBe(true);
  });

  it("checks a bracketed literal for its port, its family and its zone", () => {
    expect(namesThisMachine("[::1]:65535", [])).toBe(true);
    expect(namesThisMachine("[::1]:65536", [])).toBe(false);
    expect(namesThisMachine("[::1]18789", [])).toBe(false);
    expect(namesThisMachine("[127.0.0.1]", [])).toBe(false);
    // The port's colon is after the bracket: the literal itself still has none, so it is not IPv6.
    expect(namesThisMachine("[127.0.0.1]:18789", [])).toBe(false);
    expect(namesThisMachine("[::1%1]", [])).toBe(false);
    expect(namesThisMachine("[::2]", ["[::2]"])).toBe(true);
    expect(namesThisMachine("[::2]", [])).toBe(false);
    expect(namesThisMachine("[zz]", [])).toBe(false);
  });

  it("reads every port as itself, those next to the values that stand for no port or another machine included", () => {
    for (const port of [0, 1, 2, 80, 443, 18789, 65535]) {
      expect(hostPort(`localhost:${port}`, []), String(port)).toBe(port);
      expect(localOrigin(`http://localhost:${port}`, []), String(port)).toEqual({ secure: false, port });
      expect(localOrigin(`https://[::1]:${port}`, []), String(port)).toEqual({ secure: true, port });
    }
  });

  it("compares localHosts names in ASCII lower case only", () => {
    expect(namesThisMachine("MYBOX", ["mybox"])).toBe(true);
    expect(namesThisMachine("myboy", ["mybox"])).toBe(false);
    expect(namesThisMachine("mybox2", ["mybox"])).toBe(false);
    expect(namesThisMachine("m\u00ddbox", ["m\u00fdbox"])).toBe(false);
    expect(namesThisMachine("127.0.0.2", ["127.0.0.2"])).toBe(true);
    expect(namesThisMachine("10.0.0.2", ["10.0.0.2"])).toBe(true);
    expect(namesThisMachine("10.0.0.2", [])).toBe(false);
  });

  it("folds the case of ASCII letters only: a character one case bit from a dot, a colon or a slash is not one", () => {
    // 0x0e, 0x1a and 0x0f become ".", ":" and "/" when 0x20 is set: only letters may be folded so.
    expect(namesThisMachine("a\x0elocalhost", [])).toBe(false);
    expect(namesThisMachine("a\x0eLOCALHOST:18789", [])).toBe(false);
    expect(originIsThisMachine("http\x1a//localhost", [])).toBe(false);
    expect(originIsThisMachine("http:\x0f/localhost", [])).toBe(false);
    expect(namesThisMachine("a b.localhost", [])).toBe(false);
    expect(namesThisMachine("a/b.localhost", [])).toBe(false);
    expect(namesThisMachine("\u00e9.localhost", [])).toBe(false);
    expect(namesThisMachine("MIX-9.LocalHost", [])).toBe(true);
  });

  it("takes Origin schemes case-insensitively and nothing shorter than the scheme", () => {
    expect(originIsThisMachine("HtTpS://localhost", [])).toBe(true);
    expect(originIsThisMachine("http:/", [])).toBe(false);
    expect(originIsThisMachine("https:/", [])).toBe(false);
    expect(originIsThisMachine("httpx://localhost", [])).toBe(false);
  });
});
