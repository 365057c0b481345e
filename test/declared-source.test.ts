// A source declared by a trusted TCP load balancer (the PROXY protocol), as the resolver takes it: the
// declared source is judged as a socket peer would be, the balancer is the nearest hop, and every way the
// declaration can be missing or broken ends not local.
import { describe, expect, it } from "vitest";
import {
  type ClientAddress,
  DECLARED_SECURE,
  DECLARED_SOURCE,
  type ResolveClientAddressOptions,
  canonicalAddress,
  connectionSecure,
  declaredSource,
  addressBytes,
  formatAddressBytes,
  resolveClientAddress,
} from "../src/core/index.js";

const PAGE = { host: "127.0.0.1:18789", origin: "http://127.0.0.1:18789" };

const resolve = (declared: string | null, headers: Record<string, string>, trustedProxies: string[] = [], extra: Partial<ResolveClientAddressOptions> = {}) =>
  resolveClientAddress({ remoteAddress: "127.0.0.1", declaredSource: declared, headers, trustedProxies, ...extra });

const codes = (result: ClientAddress) => result.diagnostics.map((d) => d.code);

describe("a declared source takes the socket peer's place", () => {
  it("a browser on this host through a local balancer (declared 127.0.0.1) is loopback", () => {
    const result = resolve("127.0.0.1", PAGE);
    expect(result).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: true, basis: "proxy-protocol:loopback" });
    expect(result.hops).toEqual([
      { address: "127.0.0.1", trusted: true, source: "socket" },
      { address: "127.0.0.1", trusted: false, source: "proxy-protocol" },
    ]);
    expect(result.checks).toEqual({ client: true, forwarding: true, host: true, origin: true });
    expect(result.diagnostics).toEqual([]);
  });

  it("a public client is not local, and the diagnostic names the balancer that declared it", () => {
    const result = resolve("203.0.113.7", PAGE, ["loopback"]);
    expect(result).toMatchObject({ address: "203.0.113.7", loopbackEquivalent: false, basis: "proxy-protocol:remote-client" });
    expect(result.hops).toEqual([
      { address: "127.0.0.1", trusted: true, source: "socket" },
      { address: "203.0.113.7", trusted: false, source: "proxy-protocol" },
    ]);
    expect(codes(result)).toEqual(["client-not-loopback"]);
    expect(result.diagnostics[0]!.message).toContain("declared by the PROXY protocol header of trusted load balancer 127.0.0.1");
  });

  it("the balancer is shown trusted whether or not the resolver's own list holds it (the listener's list let it declare)", () => {
    for (const trusted of [[], ["loopback"], ["10.0.0.0/8"]]) {
      expect(resolve("203.0.113.7", PAGE, trusted).hops[0]).toEqual({ address: "127.0.0.1", trusted: true, source: "socket" });
    }
    // The balancer's address is written canonically, like any peer.
    expect(resolveClientAddress({ remoteAddress: "::ffff:10.0.0.5", declaredSource: "203.0.113.7", headers: PAGE }).hops[0]).toEqual({ address: "10.0.0.5", trusted: true, source: "socket" });
  });

  it("a declared source that is itself a trusted proxy has its X-Forwarded-For walked", () => {
    const result = resolve("10.0.0.3", { ...PAGE, "x-forwarded-for": "127.0.0.1, 198.51.100.4" }, ["10.0.0.0/8"]);
    expect(result).toMatchObject({ address: "198.51.100.4", loopbackEquivalent: false, basis: "x-forwarded-for:remote-client" });
    expect(result.hops).toEqual([
      { address: "127.0.0.1", trusted: true, source: "socket" },
      { address: "10.0.0.3", trusted: true, source: "proxy-protocol" },
      { address: "198.51.100.4", trusted: false, source: "x-forwarded-for" },
    ]);
    // ... and a loopback client behind it, through a trusted path, is local.
    expect(resolve("10.0.0.3", { ...PAGE, "x-forwarded-for": "127.0.0.1" }, ["10.0.0.0/8"]).basis).toBe("x-forwarded-for:loopback");
  });

  it("a trusted declared source whose header names nobody ends the walk at the declared source", () => {
    const result = resolve("10.0.0.3", { ...PAGE, "x-forwarded-for": " , " }, ["10.0.0.0/8"]);
    expect(result).toMatchObject({ address: "10.0.0.3", loopbackEquivalent: true, basis: "proxy-protocol:trusted-path" });
  });

  it("a trusted declared source with no header is a trusted path, as a trusted NAT gateway is", () => {
    expect(resolve("172.18.0.1", PAGE, ["172.18.0.1"])).toMatchObject({ address: "172.18.0.1", loopbackEquivalent: true, basis: "proxy-protocol:trusted-path" });
    expect(resolve("172.18.0.1", PAGE, [])).toMatchObject({ loopbackEquivalent: false, basis: "proxy-protocol:remote-client" });
  });

  it("an untrusted declared source's forwarding headers are ignored and make it not local, whoever declared it", () => {
    const forged = resolve("127.0.0.1", { ...PAGE, "x-forwarded-for": "198.51.100.4" }, []);
    expect(forged).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false, basis: "proxy-protocol:unread-forwarding-header" });
    expect(codes(forged)).toEqual(["untrusted-forwarding-header"]);
    expect(forged.diagnostics[0]!.message).toMatch(/^declared source 127\.0\.0\.1 is not a trusted proxy/);
    const proto = resolve("10.0.0.3", { ...PAGE, "x-forwarded-proto": "https" }, []);
    expect(proto.diagnostics.find((d) => d.code === "untrusted-forwarding-header")!.message).toContain('add "10.0.0.3" to trustedProxies');
  });

  it("Host and Origin decide as for a socket peer: a rebinding page or a foreign Origin through the balancer is not local", () => {
    expect(resolve("127.0.0.1", { host: "rebind.evil.example" }).basis).toBe("proxy-protocol:host-not-local");
    expect(resolve("127.0.0.1", { host: "127.0.0.1:18789", origin: "https://evil.example" }).basis).toBe("proxy-protocol:origin-not-local");
  });

  it("IPv6 and mapped declared sources are canonical", () => {
    expect(resolve("::ffff:127.0.0.1", PAGE).address).toBe("127.0.0.1");
    expect(resolve("2001:DB8:0:0:0:0:0:7", PAGE)).toMatchObject({ address: "2001:db8::7", basis: "proxy-protocol:remote-client" });
    expect(resolve("::1", { host: "[::1]:18789" })).toMatchObject({ address: "::1", loopbackEquivalent: true });
  });
});

describe("a missing or broken declaration is never local", () => {
  it("a declared connection whose source is unknown (UNSPEC, UNIX, v1 UNKNOWN) leaves the client unknown", () => {
    const result = resolve(null, PAGE, ["loopback"]);
    expect(result).toMatchObject({ address: null, loopbackEquivalent: false, basis: "proxy-protocol:invalid-peer" });
    expect(result.hops).toEqual([{ address: "127.0.0.1", trusted: true, source: "socket" }]);
    expect(codes(result)).toEqual(["unknown-declared-source"]);
    expect(result.diagnostics[0]!.message).toContain("load balancer 127.0.0.1 declared a connection whose source is unknown");
    expect(result.checks).toEqual({ client: false, forwarding: true, host: true, origin: true });
  });

  it("a declared source that is not an address is refused, and shown as written", () => {
    for (const text of ["garbage", "127.1", "0177.0.0.1", "", "203.0.113.7:80"]) {
      const result = resolve(text, PAGE, ["loopback"]);
      expect(result).toMatchObject({ address: null, loopbackEquivalent: false, basis: "proxy-protocol:invalid-peer" });
      expect(result.hops[1]).toEqual({ address: null, raw: text, trusted: false, source: "proxy-protocol" });
      expect(codes(result)).toEqual(["invalid-peer"]);
    }
  });

  it("a long declared value is quoted in the message cut to its first 60 characters", () => {
    const text = `${"x".repeat(60)}TAIL`;
    const message = resolve(text, PAGE, ["loopback"]).diagnostics[0]!.message;
    expect(message).toContain(JSON.stringify("x".repeat(60)));
    expect(message).not.toContain("TAIL");
  });

  it("a declared value of another type counts as unknown, not as absent", () => {
    const result = resolveClientAddress({ remoteAddress: "127.0.0.1", declaredSource: 42 as unknown as string, headers: PAGE });
    expect(result).toMatchObject({ address: null, loopbackEquivalent: false, basis: "proxy-protocol:invalid-peer" });
    expect(codes(result)).toEqual(["unknown-declared-source"]);
  });

  it("a balancer socket without a peer (closed) fails as an invalid peer, declaration or not", () => {
    expect(resolveClientAddress({ remoteAddress: undefined, declaredSource: "127.0.0.1", headers: PAGE })).toMatchObject({ address: null, basis: "socket:invalid-peer" });
  });

  it("absent (undefined) means no declaration: the answer is the socket peer's, field for field", () => {
    const without = resolveClientAddress({ remoteAddress: "127.0.0.1", headers: PAGE });
    const undeclared = resolveClientAddress({ remoteAddress: "127.0.0.1", declaredSource: undefined, headers: PAGE });
    expect(JSON.parse(JSON.stringify(undeclared))).toEqual(JSON.parse(JSON.stringify(without)));
    expect(undeclared.basis).toBe("socket:loopback");
  });
});

describe("declaredSource(socket): the property a PROXY protocol listener records", () => {
  it("reads the symbol-keyed property: an address, null for unknown, undefined when nothing was declared", () => {
    expect(DECLARED_SOURCE).toBe(Symbol.for("clientaddr.declaredSource"));
    expect(declaredSource({ [DECLARED_SOURCE]: "203.0.113.7" })).toBe("203.0.113.7");
    expect(declaredSource({ [DECLARED_SOURCE]: null })).toBeNull();
    expect(declaredSource({})).toBeUndefined();
    expect(declaredSource(null)).toBeUndefined();
    expect(declaredSource(undefined)).toBeUndefined();
  });

  it("fails closed: a recorded value that is not a string reads as unknown (null), never as absent", () => {
    expect(declaredSource({ [DECLARED_SOURCE]: 42 })).toBeNull();
    expect(declaredSource({ [DECLARED_SOURCE]: { address: "127.0.0.1" } })).toBeNull();
  });
});

describe("canonicalAddress", () => {
  it("writes an address as the answers do, and refuses what the strict rules refuse", () => {
    expect(canonicalAddress("127.0.0.1")).toBe("127.0.0.1");
    expect(canonicalAddress("::FFFF:127.0.0.1")).toBe("127.0.0.1");
    expect(canonicalAddress("2001:0db8:0:0:0:0:0:0001")).toBe("2001:db8::1");
    expect(canonicalAddress("fe80::1%eth0")).toBe("fe80::1");
    for (const text of ["127.1", "0177.0.0.1", "unknown", "", "1.2.3.4:80", "[::1]"]) expect(canonicalAddress(text)).toBeNull();
    expect(canonicalAddress(7 as unknown as string)).toBeNull();
  });
});

describe("formatAddressBytes", () => {
  it("writes 4 or 16 bytes in network order as the answers do, a mapped address as IPv4", () => {
    const bytes = Uint8Array.from([9, 203, 0, 113, 7, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(formatAddressBytes(bytes, 1, 4)).toBe("203.0.113.7");
    expect(formatAddressBytes(bytes, 5, 16)).toBe("2001:db8::1");
    const mapped = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
    expect(formatAddressBytes(mapped, 0, 16)).toBe("127.0.0.1");
  });

  it("folds to IPv4 only the mapped prefix itself: a change to any of its six groups stays IPv6", () => {
    const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1];
    const written = ["1::ffff:c000:201", "0:1::ffff:c000:201", "::1:0:0:ffff:c000:201", "::1:0:ffff:c000:201", "::1:ffff:c000:201", "::fffe:c000:201"];
    for (let group = 0; group < 6; group++) {
      const bytes = [...mapped];
      if (group === 5) bytes[11] = 0xfe;
      else bytes[2 * group + 1] = 1;
      expect(formatAddressBytes(bytes, 0, 16)).toBe(written[group]);
    }
  });

  it("refuses another length or a range past the end, saying which", () => {
    expect(() => formatAddressBytes(new Uint8Array(16), 1, 16)).toThrow("an address is 4 or 16 bytes within the buffer, got 16 at 1 of 16");
    expect(() => formatAddressBytes(new Uint8Array(16), -1, 4)).toThrow(RangeError);
    expect(() => formatAddressBytes(new Uint8Array(16), 0, 6 as 4)).toThrow(RangeError);
  });
});

describe("connectionSecure: whether the client's connection was TLS, as the socket or a trusted balancer says", () => {
  it("a TLS socket, or one a balancer declared TLS, is secure; anything else is not", () => {
    expect(connectionSecure({ encrypted: true })).toBe(true);
    expect(connectionSecure({ [DECLARED_SECURE]: true })).toBe(true);
    expect(connectionSecure({})).toBe(false);
    // Only a real true counts: a truthy value written by other code does not make a connection secure.
    expect(connectionSecure({ encrypted: 1, [DECLARED_SECURE]: "yes" })).toBe(false);
    expect(connectionSecure(null)).toBe(false);
    expect(connectionSecure(undefined)).toBe(false);
  });

  it("is keyed by Symbol.for, so that the ES module and CommonJS copies read one property", () => {
    expect(DECLARED_SECURE).toBe(Symbol.for("clientaddr.declaredSecure"));
  });
});


describe("addressBytes: an address as bytes, formatAddressBytes's inverse", () => {
  it("gives 4 bytes for IPv4 (mapped included), 16 for IPv6, and null for what is not an address", () => {
    expect([...addressBytes("203.0.113.7")!]).toEqual([203, 0, 113, 7]);
    expect([...addressBytes("::ffff:172.18.0.1")!]).toEqual([172, 18, 0, 1]);
    expect([...addressBytes("2001:db8::ff01")!]).toEqual([0x20, 0x01, 0x0d, 0xb8, ...Array(10).fill(0), 0xff, 0x01]);
    for (const text of ["127.1", "nope", "", "[::1]", 7 as unknown as string]) expect(addressBytes(text), String(text)).toBeNull();
    for (const text of ["0.0.0.0", "255.255.255.255", "::", "fe80::1%eth0", "2001:db8:85a3::8a2e:370:7334"]) {
      const bytes = addressBytes(text)!;
      expect(formatAddressBytes(bytes, 0, bytes.length as 4 | 16), text).toBe(canonicalAddress(text));
    }
  });
});
