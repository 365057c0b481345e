import { describe, expect, it, vi } from "vitest";
import { parseIp } from "../src/core/address.js";
import { ClientAddressConfigError } from "../src/core/config-error.js";
import { TrustedProxies, compileTrustedProxies, trustedProxyName } from "../src/core/trust.js";
import { createResolver, resolveClientAddress } from "../src/core/index.js";

const trusts = (list: string[], address: string) => compileTrustedProxies(list).trusts(parseIp(address)!);

describe("trusted proxies: matching", () => {
  it("matches single addresses and nothing next to them", () => {
    expect(trusts(["172.18.0.1"], "172.18.0.1")).toBe(true);
    expect(trusts(["172.18.0.1"], "172.18.0.2")).toBe(false);
    expect(trusts(["172.18.0.1"], "172.18.0.0")).toBe(false);
    expect(trusts(["2001:db8::1"], "2001:db8::1")).toBe(true);
    expect(trusts(["2001:db8::1"], "2001:db8::2")).toBe(false);
  });

  it("matches CIDR ranges at their edges and not past them", () => {
    const list = ["10.0.0.0/8", "172.16.0.0/12", "2001:db8:1::/48"];
    expect(trusts(list, "10.0.0.0")).toBe(true);
    expect(trusts(list, "10.255.255.255")).toBe(true);
    expect(trusts(list, "11.0.0.0")).toBe(false);
    expect(trusts(list, "9.255.255.255")).toBe(false);
    expect(trusts(list, "172.31.255.255")).toBe(true);
    expect(trusts(list, "172.32.0.0")).toBe(false);
    expect(trusts(list, "2001:db8:1:ffff::1")).toBe(true);
    expect(trusts(list, "2001:db8:2::1")).toBe(false);
  });

  it("matches odd prefix lengths inside a 16-bit group", () => {
    expect(trusts(["2001:db8::/35"], "2001:db8:1fff::1")).toBe(true);
    expect(trusts(["2001:db8::/35"], "2001:db8:2000::1")).toBe(false);
    expect(trusts(["192.0.2.128/25"], "192.0.2.127")).toBe(false);
    expect(trusts(["192.0.2.128/25"], "192.0.2.255")).toBe(true);
  });

  it("matches an IPv4 CIDR against the IPv4-mapped form of an address", () => {
    expect(trusts(["172.18.0.0/16"], "::ffff:172.18.0.1")).toBe(true);
    expect(trusts(["172.18.0.0/16"], "::ffff:172.19.0.1")).toBe(false);
  });

  it("matches a mapped CIDR (::ffff:10.0.0.0/104) against plain IPv4 10.1.2.3", () => {
    expect(trusts(["::ffff:10.0.0.0/104"], "10.1.2.3")).toBe(true);
    expect(trusts(["::ffff:10.0.0.0/104"], "11.1.2.3")).toBe(false);
    expect(trusts(["::ffff:172.18.0.1"], "172.18.0.1")).toBe(true);
  });

  it("does not treat IPv4-compatible ::a.b.c.d as IPv4", () => {
    expect(trusts(["127.0.0.0/8"], "::127.0.0.1")).toBe(false);
    expect(trusts(["::127.0.0.1"], "127.0.0.1")).toBe(false);
  });

  it("expands the presets with proxy-addr's ranges", () => {
    expect(trusts(["loopback"], "127.0.0.1")).toBe(true);
    expect(trusts(["loopback"], "::1")).toBe(true);
    expect(trusts(["loopback"], "::ffff:127.0.0.1")).toBe(true);
    expect(trusts(["loopback"], "128.0.0.1")).toBe(false);
    expect(trusts(["linklocal"], "169.254.1.1")).toBe(true);
    expect(trusts(["linklocal"], "fe80::1")).toBe(true);
    expect(trusts(["linklocal"], "169.253.1.1")).toBe(false);
    expect(trusts(["uniquelocal"], "10.1.1.1")).toBe(true);
    expect(trusts(["uniquelocal"], "172.20.0.1")).toBe(true);
    expect(trusts(["uniquelocal"], "192.168.1.1")).toBe(true);
    expect(trusts(["uniquelocal"], "fd18::2")).toBe(true);
    expect(trusts(["uniquelocal"], "203.0.113.1")).toBe(false);
    expect(compileTrustedProxies(["loopback"]).diagnostics).toEqual([]);
  });

  it("trusts nothing with an empty list", () => {
    expect(trusts([], "127.0.0.1")).toBe(false);
    expect(trusts([], "::1")).toBe(false);
  });

  it("finds the right range among many overlapping and adjacent ones", () => {
    const list = ["10.0.0.0/24", "10.0.1.0/24", "10.0.0.128/25", "10.0.3.5", "192.0.2.0/24"];
    expect(trusts(list, "10.0.1.255")).toBe(true);
    expect(trusts(list, "10.0.2.0")).toBe(false);
    expect(trusts(list, "10.0.3.5")).toBe(true);
    expect(trusts(list, "10.0.3.4")).toBe(false);
    expect(trusts(list, "192.0.2.77")).toBe(true);
    expect(trusts(list, "0.0.0.0")).toBe(false);
    expect(trusts(list, "255.255.255.255")).toBe(false);
  });
});

describe("trusted proxies: the first-octet index and the last peer", () => {
  it("finds ranges that cross a first octet, start at 0.0.0.0 or end at 255.255.255.255, from every octet they cover", () => {
    const list = ["10.255.255.0/24", "11.0.0.0/24", "0.0.0.0/8", "255.255.255.255", "128.0.0.0/7"];
    const inside = ["10.255.255.0", "10.255.255.255", "11.0.0.0", "11.0.0.255", "0.0.0.0", "0.255.255.255", "255.255.255.255", "128.0.0.0", "129.255.255.255", "129.0.0.1"];
    const outside = ["10.255.254.255", "11.0.1.0", "1.0.0.0", "255.255.255.254", "127.255.255.255", "130.0.0.0", "12.0.0.0"];
    for (const address of inside) expect(trusts(list, address), address).toBe(true);
    for (const address of outside) expect(trusts(list, address), address).toBe(false);
    // One range covering many octets is found from inside each of them.
    for (let octet = 64; octet < 128; octet++) expect(trusts(["64.0.0.0/2"], `${octet}.1.2.3`), String(octet)).toBe(true);
    expect(trusts(["64.0.0.0/2"], "128.0.0.0")).toBe(false);
  });

  it("answers a repeated peer as it answered it first, and a new peer afresh", () => {
    const compiled = compileTrustedProxies(["172.18.0.1"]);
    const gateway = parseIp("172.18.0.1")!;
    const other = parseIp("172.18.0.2")!;
    const again = parseIp("172.18.0.1")!; // equal, but another object
    expect([compiled.trustsPeer(gateway), compiled.trustsPeer(gateway), compiled.trustsPeer(other), compiled.trustsPeer(other), compiled.trustsPeer(again), compiled.trustsPeer(gateway)]).toEqual([true, true, false, false, true, true]);
    expect(compileTrustedProxies([]).trustsPeer(gateway)).toBe(false);
  });

  it("searches the list once for a peer asked about again and again", () => {
    const compiled = compileTrustedProxies(["172.18.0.1"]);
    const search = vi.spyOn(compiled, "trusts");
    const gateway = parseIp("172.18.0.1")!;
    for (let i = 0; i < 5; i++) compiled.trustsPeer(gateway);
    expect(search).toHaveBeenCalledTimes(1);
    compiled.trustsPeer(parseIp("172.18.0.1")!);
    expect(search).toHaveBeenCalledTimes(2);
  });
});

describe("trusted proxies: addresses as text (trustsText)", () => {
  it("reads an address as the walk reads a hop: bare, mapped, with a port or in brackets", () => {
    const compiled = compileTrustedProxies(["127.0.0.1", "2001:db8::/32"]);
    for (const text of ["127.0.0.1", "::ffff:127.0.0.1", "127.0.0.1:8080", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:443", "2001:db8::2%eth0"]) {
      expect(compiled.trustsText(text), text).toBe(true);
    }
    for (const text of ["127.0.0.2", "2001:db9::1", "127.0.0.1:99999", "[127.0.0.1]"]) expect(compiled.trustsText(text), text).toBe(false);
  });

  it("trusts no text that is not an address, even when the list trusts everyone", () => {
    const everyone = compileTrustedProxies(["0.0.0.0/0", "::/0"]);
    for (const text of ["", "unknown", "_hidden", "0177.0.0.1", "127.1", " 127.0.0.1"]) expect(everyone.trustsText(text), text).toBe(false);
  });
});

describe("trusted proxies: configuration errors", () => {
  it.each([
    ["10.0.0.300"],
    ["127.1"],
    ["0177.0.0.1"],
    ["10.0.0.0/33"],
    ["2001:db8::/129"],
    ["10.0.0.0/"],
    ["10.0.0.0/8/8"],
    ["10.0.0.0/-1"],
    ["10.0.0.0/08"],
    ["10.0.0.0/255.0.0.0"],
    ["fe80::1%eth0"],
    ["localhost"],
    ["Loopback"],
    ["*"],
    [""],
    ["172.18.0.1:80"],
    ["toString"],
    ["__proto__"],
    ["constructor"],
  ])("throws ClientAddressConfigError naming %j and its index", (entry) => {
    let error: unknown;
    try {
      compileTrustedProxies(["10.0.0.1", entry]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ClientAddressConfigError);
    const typed = error as ClientAddressConfigError;
    expect(typed.index).toBe(1);
    expect(typed.entry).toBe(entry);
    expect(typed.message).toContain(`trustedProxies[1] "${entry}"`);
  });

  it("says to use a prefix length when given a netmask", () => {
    expect(() => compileTrustedProxies(["10.0.0.0/255.0.0.0"])).toThrow(/prefix length/);
  });

  it("rejects entries that are not strings, and a list that is not an array", () => {
    expect(() => compileTrustedProxies([42 as unknown as string])).toThrow(/got number/);
    expect(() => compileTrustedProxies([["10.0.0.1"] as unknown as string])).toThrow(/got an array/);
    expect(() => compileTrustedProxies([null as unknown as string])).toThrow(/got null/);
    expect(() => compileTrustedProxies("172.18.0.1" as unknown as string[])).toThrow(/must be an array/);
    expect(() => compileTrustedProxies(null as unknown as string[])).toThrow(ClientAddressConfigError);
  });

  it("says so when given a list compiled by another copy of the library (the CommonJS build beside the ES module)", () => {
    // The other copy's class has the same name and is not this one; .ci/run checks the real pair.
    const OtherCopy = { TrustedProxies: class TrustedProxies {} }.TrustedProxies;
    const foreign = new OtherCopy() as unknown as string[];
    expect(() => compileTrustedProxies(foreign)).toThrow(/compiled by another copy of clientaddr/);
    expect(() => resolveClientAddress({ remoteAddress: "127.0.0.1", trustedProxies: foreign })).toThrow(ClientAddressConfigError);
    // The error names the option, and the list itself (index -1), as any error of the list's own does.
    expect(() => compileTrustedProxies(foreign)).toThrow(expect.objectContaining({ option: "trustedProxies", entry: foreign, index: -1 }));
    // Any other object is just not an array, one without a constructor too (never a crash).
    expect(() => compileTrustedProxies({} as unknown as string[])).toThrow(/must be an array of strings, got object/);
    expect(() => compileTrustedProxies(Object.create(null) as string[])).toThrow(ClientAddressConfigError);
  });

  it("tolerates surrounding spaces, as in a comma-separated setting", () => {
    expect(trusts([" 172.18.0.1 "], "172.18.0.1")).toBe(true);
  });
});

describe("trusted proxies: diagnostics", () => {
  it("warns that 0.0.0.0/0 lets any client spoof its address", () => {
    const compiled = compileTrustedProxies(["0.0.0.0/0"]);
    expect(compiled.diagnostics.map((d) => d.code)).toEqual(["trusts-everyone"]);
    expect(compiled.diagnostics[0]!.message).toMatch(/any client/);
    expect(compiled.trusts(parseIp("203.0.113.9")!)).toBe(true);
  });

  it("warns that ::/0 trusts everyone, IPv4 clients included", () => {
    const compiled = compileTrustedProxies(["::/0"]);
    expect(compiled.diagnostics.map((d) => d.code)).toContain("trusts-everyone");
    expect(compiled.trusts(parseIp("203.0.113.9")!)).toBe(true);
    expect(compiled.trusts(parseIp("2001:db8::9")!)).toBe(true);
  });

  it("warns when an IPv6 range holds the whole mapped block and so every IPv4 client (::/64, ::ffff:0:0/96)", () => {
    for (const entry of ["::/64", "::/80", "::ffff:0:0/96", "::ffff:0.0.0.0/96"]) {
      const compiled = compileTrustedProxies([entry]);
      expect(compiled.diagnostics.map((d) => d.code)).toEqual(["trusts-everyone"]);
      expect(compiled.trusts(parseIp("203.0.113.9")!)).toBe(true);
    }
  });

  it("does not warn for an IPv6 range that misses the mapped block", () => {
    const compiled = compileTrustedProxies(["::/96", "2001:db8::/32", "::ffff:10.0.0.0/104"]);
    expect(compiled.diagnostics).toEqual([]);
    expect(compiled.trusts(parseIp("203.0.113.9")!)).toBe(false);
  });

  it("names the range really trusted when a CIDR has host bits set", () => {
    const compiled = compileTrustedProxies(["172.18.0.1/16"]);
    expect(compiled.diagnostics).toHaveLength(1);
    expect(compiled.diagnostics[0]).toMatchObject({ code: "host-bits-set", entry: "172.18.0.1/16", index: 0 });
    expect(compiled.diagnostics[0]!.message).toContain("172.18.0.0/16");
    expect(compiled.ranges).toEqual(["172.18.0.0/16"]);
    expect(compiled.trusts(parseIp("172.18.200.3")!)).toBe(true);
  });

  it("names mapped ranges by the IPv4 range they trust", () => {
    const compiled = compileTrustedProxies(["::ffff:10.0.0.1/104", "::ffff:172.18.0.1"]);
    expect(compiled.ranges).toEqual(["10.0.0.0/8", "172.18.0.1/32"]);
    expect(compiled.diagnostics[0]!.message).toContain("10.0.0.0/8");
  });

  it("lists ranges canonically with presets expanded", () => {
    expect(compileTrustedProxies(["loopback", "2001:DB8:0::/48"]).ranges).toEqual([
      "127.0.0.0/8",
      "::1/128",
      "2001:db8::/48",
    ]);
  });
});

describe("trusted proxies: boundaries", () => {
  it("warns about trusting everyone only for the whole IPv4 space, not for half of it", () => {
    expect(compileTrustedProxies(["0.0.0.0/1"]).diagnostics).toEqual([]);
    expect(compileTrustedProxies(["128.0.0.0/1"]).diagnostics).toEqual([]);
    expect(compileTrustedProxies(["8000::/1"]).diagnostics).toEqual([]);
    expect(compileTrustedProxies(["::/1"]).diagnostics.map((d) => d.code)).toEqual(["trusts-everyone"]); // it holds ::ffff:0:0/96
    expect(compileTrustedProxies(["::ffff:0:0/97"]).diagnostics).toEqual([]);
    expect(compileTrustedProxies(["::ffff:0:0/97"]).trusts(parseIp("127.0.0.1")!)).toBe(true);
    expect(compileTrustedProxies(["::ffff:0:0/97"]).trusts(parseIp("203.0.113.9")!)).toBe(false);
  });

  it("warns when ranges together cover every IPv4 or every IPv6 address, however the list splits them", () => {
    for (const list of [["0.0.0.0/1", "128.0.0.0/1"], ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1"], ["::ffff:0:0/97", "128.0.0.0/1"], ["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/2"]]) {
      const compiled = compileTrustedProxies(list);
      expect(compiled.diagnostics, list.join(" ")).toEqual([
        { code: "trusts-everyone", message: "trustedProxies together trust every IPv4 client: any client can then claim any address, loopback included", entry: list.join(", "), index: -1 },
      ]);
    }
    expect(compileTrustedProxies(["::/1", "8000::/1"]).diagnostics.map((d) => [d.index, d.message])).toEqual([
      [0, expect.stringMatching(/^trustedProxies\[0\] "::\/1" trusts every IPv4 client/)],
      [-1, "trustedProxies together trust every IPv6 client: any client can then claim any address, loopback included"],
    ]);
    // A gap of one address is not everyone; nor is one entry's warning said twice.
    expect(compileTrustedProxies(["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3", "224.0.0.0/4", "240.0.0.0/5", "248.0.0.0/6", "252.0.0.0/7", "254.0.0.0/8", "255.0.0.0/9", "255.128.0.0/9"]).diagnostics.map((d) => d.index)).toEqual([-1]);
    expect(compileTrustedProxies(["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3", "255.255.255.255"]).diagnostics).toEqual([]);
    expect(compileTrustedProxies(["0.0.0.0/0", "0.0.0.0/1"]).diagnostics.map((d) => d.index)).toEqual([0]);
    expect(compileTrustedProxies(["::/0", "::/1", "8000::/1"]).diagnostics.map((d) => d.index)).toEqual([0, 1]); // ::/1 holds the mapped block on its own
    expect(compileTrustedProxies(["::/1", "8000::/2", "c000::/2"]).diagnostics.map((d) => d.index)).toEqual([0, -1]);
    expect(compileTrustedProxies(["::/1", "8000::/2", "c000::/3"]).diagnostics.map((d) => d.index)).toEqual([0]);
  });

  it("says whom a trust-everyone range trusts: every client for ::/0, every IPv4 client for ::/80", () => {
    expect(compileTrustedProxies(["::/0"]).diagnostics[0]!.message).toMatch(/trusts every client:/);
    expect(compileTrustedProxies(["::/80"]).diagnostics[0]!.message).toMatch(/trusts every IPv4 client \(it contains ::ffff:0:0\/96\)/);
    expect(compileTrustedProxies(["0.0.0.0/0"]).diagnostics[0]!.message).toMatch(/trusts every IPv4 client: any client/);
  });

  it("finds the first and the last range of a sorted list, and nothing beyond them", () => {
    const list = compileTrustedProxies(["10.0.0.1", "10.0.0.5", "10.0.0.9", "2001:db8::1", "2001:db8::5", "2001:db8::9"]);
    for (const inside of ["10.0.0.1", "10.0.0.5", "10.0.0.9", "2001:db8::1", "2001:db8::5", "2001:db8::9"]) expect(list.trusts(parseIp(inside)!), inside).toBe(true);
    for (const outside of ["10.0.0.0", "10.0.0.2", "10.0.0.10", "255.255.255.255", "0.0.0.0", "2001:db8::", "2001:db8::2", "2001:db8::a", "::", "ffff::"]) {
      expect(list.trusts(parseIp(outside)!), outside).toBe(false);
    }
  });

  it("joins overlapping IPv6 ranges without losing the wider one", () => {
    const list = compileTrustedProxies(["2001:db8::/48", "2001:db8::/32", "2001:db8:1::/48"]);
    expect(list.trusts(parseIp("2001:db8:ffff::1")!)).toBe(true);
    expect(list.trusts(parseIp("2001:db9::1")!)).toBe(false);
    const nested = compileTrustedProxies(["2001:db8::/32", "2001:db8:5::/48"]);
    expect(nested.trusts(parseIp("2001:db8:ffff::1")!)).toBe(true);
  });

  it("tells a netmask from other bad prefixes, and names the family's limit", () => {
    expect(() => compileTrustedProxies(["10.0.0.0/abc"])).toThrow(/invalid prefix length: expected 0-32 for IPv4/);
    for (const prefix of ["1.", "3!", "2/", "+8", "1e1", "0x8"]) {
      expect(() => compileTrustedProxies([`10.0.0.0/${prefix}`]), prefix).toThrow(ClientAddressConfigError);
    }
    expect(() => compileTrustedProxies(["2001:db8::/200"])).toThrow(/invalid prefix length: expected 0-128 for IPv6/);
    expect(() => compileTrustedProxies(["2001:db8::/ffff::"])).toThrow(/netmask/);
    expect(() => compileTrustedProxies(["bogus!"])).toThrow(/is not an IP address, a CIDR or a preset \(loopback, linklocal, uniquelocal\)/);
    expect(() => compileTrustedProxies(["10.0.0.1%eth0"])).toThrow(/is not an IP address/);
  });
});

const NAME_253 = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;

describe("trusted proxies: DNS names", () => {
  // Docker users name proxies by service or container name (nextcloud/docker, jellyfin); a container's address
  // changes when it is re-created, so a name is looked up by startResolver, never taken here.
  it("refuses a name with an error that names startResolver", () => {
    expect(() => compileTrustedProxies(["127.0.0.1", "proxy"])).toThrow('trustedProxies[1] "proxy" is a DNS name, not an IP address, a CIDR or a preset (loopback, linklocal, uniquelocal): a name (a Compose service, a container) is looked up with `await startResolver(options)`');
    expect(() => createResolver({ trustedProxies: ["nginx-proxy-manager_app_1"] })).toThrow(/startResolver/);
  });

  it("tells names from addresses, CIDRs, presets and junk", () => {
    for (const [entry, name] of [
      ["proxy", "proxy"],
      ["Traefik.Local.", "traefik.local"],
      [" nginx-proxy-manager_app_1 ", "nginx-proxy-manager_app_1"],
      ["caddy.example.com", "caddy.example.com"],
      ["a".repeat(63), "a".repeat(63)],
      // A last label may start with a digit; only one of digits alone is refused (127.1 is no name).
      ["web.1a", "web.1a"],
      // A label may be one character.
      ["a", "a"],
      ["x.y", "x.y"],
      // 253 characters is the most a name may have as text (RFC 1035's 255 octets on the wire).
      [NAME_253, NAME_253],
    ] as const) {
      expect(trustedProxyName(entry), entry).toBe(name);
    }
    for (const entry of [`${NAME_253}d`, "127.0.0.1", "10.0.0.0/8", "::1", "127.1", "0177.0.0.1", "1.2.3.4.5", "loopback", "uniquelocal", "", " ", "-proxy", "proxy-", "a..b", "a".repeat(64), `${"a.".repeat(127)}a`, "bogus!", "proxy:80", "proxy/24", "[::1]"]) {
      expect(trustedProxyName(entry), entry).toBeNull();
    }
  });
});

describe("trusted proxies: construction", () => {
  it("is built by compileTrustedProxies only: new TrustedProxies() says so", () => {
    const Direct = TrustedProxies as unknown as new (...args: unknown[]) => unknown;
    expect(() => new Direct()).toThrow(new TypeError("TrustedProxies is not constructed directly: use compileTrustedProxies(list)"));
    expect(() => new Direct(Symbol("compiled"), [], [], [], [])).toThrow(TypeError);
    expect(compileTrustedProxies([])).toBeInstanceOf(TrustedProxies);
  });
});

describe("a compiled list shows what it trusts", () => {
  it("toJSON and console.log give the entries, the ranges and the warnings, not an empty shell", async () => {
    const { inspect } = await import("node:util");
    const list = compileTrustedProxies(["172.18.0.1", "loopback", "10.0.0.1/8"]);
    const shown = { entries: ["172.18.0.1", "loopback", "10.0.0.1/8"], ranges: ["172.18.0.1/32", "127.0.0.0/8", "::1/128", "10.0.0.0/8"], diagnostics: list.diagnostics };
    expect(list.diagnostics.map((d) => d.code)).toEqual(["host-bits-set"]);
    expect(JSON.parse(JSON.stringify(list))).toEqual(JSON.parse(JSON.stringify(shown)));
    expect(inspect(list, { depth: 4 })).toContain("172.18.0.1/32");
    expect(inspect(list, { depth: 4 })).toContain("host-bits-set");
  });
});
