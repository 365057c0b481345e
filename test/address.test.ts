import { describe, expect, it } from "vitest";
import { formatAddress, isLoopback, parseIp, parseNode } from "../src/address.js";

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
    ["::127.0.0.1", "::7f00:1"],
    ["64:ff9b::127.0.0.1", "64:ff9b::7f00:1"],
    ["1::1.2.3.4", "1::102:304"],
  ])("reads %j as %s", (text, expected) => {
    expect(canonical(text)).toBe(expected);
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
