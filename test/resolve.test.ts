import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  type ClientAddress,
  type ResolveClientAddressOptions,
  ClientAddressConfigError,
  compileTrustedProxies,
  createResolver,
  parseTrustedProxies,
  resolveClientAddress,
} from "../src/core/index.js";

type Row = [peer: string | undefined, headers: Record<string, string>, trusted: string[], address: string | null, local: boolean, header?: ResolveClientAddressOptions["header"]];

// The table, row for row.
const TABLE: Row[] = [
  ["127.0.0.1", { host: "127.0.0.1:18789" }, [], "127.0.0.1", true],
  ["::ffff:127.0.0.1", { host: "localhost" }, [], "127.0.0.1", true],
  ["127.0.0.1", { host: "127.0.0.1:18789", origin: "https://evil.example" }, [], "127.0.0.1", false],
  ["127.0.0.1", { host: "rebind.evil.example:18789" }, [], "127.0.0.1", false],
  ["172.18.0.1", { host: "127.0.0.1:18789", origin: "http://127.0.0.1:18789" }, [], "172.18.0.1", false],
  ["172.18.0.1", { host: "127.0.0.1:18789", origin: "http://127.0.0.1:18789" }, ["172.18.0.0/16"], "172.18.0.1", true],
  ["::ffff:172.18.0.1", { host: "localhost:18789" }, ["172.18.0.1"], "172.18.0.1", true],
  ["172.18.0.1", { host: "gateway.example.com" }, ["172.18.0.1"], "172.18.0.1", false],
  ["172.18.0.1", { host: "127.0.0.1:18789", origin: "https://evil.example" }, ["172.18.0.1"], "172.18.0.1", false],
  ["172.18.0.1", { host: "127.0.0.1:18789", forwarded: "for=203.0.113.7" }, ["172.18.0.1"], "172.18.0.1", false],
  ["172.18.0.1", { "x-forwarded-for": "203.0.113.7", host: "127.0.0.1:18789" }, ["172.18.0.0/16"], "203.0.113.7", false],
  ["127.0.0.1", { "x-forwarded-for": "203.0.113.7", host: "localhost" }, [], "127.0.0.1", false],
  ["127.0.0.1", { "x-forwarded-for": "127.0.0.1", host: "localhost" }, ["loopback"], "127.0.0.1", true],
  ["203.0.113.9", { "x-forwarded-for": "127.0.0.1", host: "localhost" }, ["172.18.0.0/16"], "203.0.113.9", false],
  ["172.18.0.1", { "x-forwarded-for": "127.0.0.1, 198.51.100.4" }, ["172.18.0.0/16"], "198.51.100.4", false],
  ["10.0.0.2", { "x-forwarded-for": "198.51.100.4, 10.0.0.3" }, ["10.0.0.0/8"], "198.51.100.4", false],
  ["172.18.0.1", { forwarded: 'for="[2001:db8::1]:4711";proto=https' }, ["172.18.0.0/16"], "2001:db8::1", false, "forwarded"],
  ["172.18.0.1", { "x-forwarded-for": "203.0.113.7, unknown" }, ["172.18.0.0/16"], null, false],
  ["172.18.0.1", { "x-forwarded-for": "198.51.100.4:5678" }, ["172.18.0.0/16"], "198.51.100.4", false],
  ["10.0.0.2", { "x-forwarded-for": "0177.0.0.1", host: "localhost" }, ["10.0.0.0/8"], null, false],
  ["10.1.2.3", { host: "localhost" }, ["::ffff:10.0.0.0/104"], "10.1.2.3", true],
  [undefined, { host: "localhost" }, ["loopback"], null, false],
];

const resolve = (remoteAddress: string | undefined, headers: ResolveClientAddressOptions["headers"], trustedProxies: string[] = [], extra: Partial<ResolveClientAddressOptions> = {}) =>
  resolveClientAddress({ remoteAddress, headers, trustedProxies, ...extra });

const codes = (result: ClientAddress) => result.diagnostics.map((d) => d.code);

describe("the issue's table", () => {
  it.each(TABLE)("peer %s, headers %j, trusting %j → %s, local %s", (peer, headers, trusted, address, local, header) => {
    const result = resolve(peer, headers, trusted, header ? { header } : {});
    expect(result.address).toBe(address);
    expect(result.loopbackEquivalent).toBe(local);
    // Every `false` names the condition that failed.
    if (!local) expect(result.diagnostics.length).toBeGreaterThan(0);
  });
});

describe("the answer object", () => {
  it("shows every field to JSON.stringify and console.log, hops and diagnostics included", () => {
    const result = resolve("172.18.0.1", { host: "localhost" });
    const json = JSON.parse(JSON.stringify(result));
    expect(Object.keys(json)).toEqual(["address", "loopbackEquivalent", "basis", "attribution", "attributionReason", "preset", "claims", "origin", "hops", "checks", "diagnostics"]);
    expect(json.hops).toEqual([{ address: "172.18.0.1", trusted: false, source: "socket" }]);
    expect(inspect(result)).toContain("client-not-loopback");
    expect(inspect(result)).toContain("hops");
  });

  // The decided fields are own properties; the rest are worked out on first read, so a spread or
  // structuredClone copies the two, and toJSON() is the plain object of every field (documented).
  it("gives every field as a plain object through toJSON(), which spread and structuredClone then keep", () => {
    const result = resolve("172.18.0.1", { host: "localhost" });
    // The decided fields are its own; the basis and the explanation are worked out when read.
    expect(Object.keys(result)).toEqual(["address", "loopbackEquivalent"]);
    expect({ ...result }).toEqual({ address: "172.18.0.1", loopbackEquivalent: false });
    expect(result.basis).toBe("socket:remote-client");
    const plain = result.toJSON();
    expect(Object.getPrototypeOf(plain)).toBe(Object.prototype);
    expect(Object.keys(plain)).toEqual(["address", "loopbackEquivalent", "basis", "attribution", "attributionReason", "preset", "claims", "origin", "hops", "checks", "diagnostics"]);
    expect(structuredClone(plain)).toEqual(JSON.parse(JSON.stringify(result)));
    expect({ ...plain }).toEqual(plain);
  });

  it("works the explanation out once, and keeps it", () => {
    const headers: Record<string, string> = { host: "localhost", "x-forwarded-for": "203.0.113.7" };
    const result = resolveClientAddress({ remoteAddress: "127.0.0.1", headers, trustedProxies: ["loopback"] });
    expect(result.hops).toBe(result.hops);
    // The explanation uses the header values the decision read, even if the caller's object changes later.
    headers["x-forwarded-for"] = "127.0.0.1";
    expect(result.address).toBe("203.0.113.7");
    expect(result.hops.at(-1)).toEqual({ address: "203.0.113.7", trusted: false, source: "x-forwarded-for" });
  });
});

describe("rule 1: an untrusted peer is the client", () => {
  it("ignores the forwarding headers of an untrusted peer and says so", () => {
    const result = resolve("203.0.113.9", { "x-forwarded-for": "127.0.0.1", host: "localhost" }, ["172.18.0.1"]);
    expect(result.address).toBe("203.0.113.9");
    expect(result.hops).toEqual([{ address: "203.0.113.9", trusted: false, source: "socket" }]);
    expect(codes(result)).toContain("untrusted-forwarding-header");
  });

  it("names the peer to add when a Docker bridge gateway is not trusted", () => {
    const result = resolve("172.18.0.1", { host: "127.0.0.1:18789" });
    expect(result.basis).toBe("socket:remote-client");
    expect(result.checks).toEqual({ client: false, forwarding: true, host: true, origin: true });
    const diagnostic = result.diagnostics.find((d) => d.code === "client-not-loopback");
    expect(diagnostic?.message).toContain('"172.18.0.1"');
  });
});

describe("rule 2: a trusted peer's header is walked right to left", () => {
  const trusted = ["172.18.0.0/16", "10.0.0.0/8"];

  it("takes the first untrusted entry from the right, and lists the hops nearest first", () => {
    const result = resolve("172.18.0.1", { "x-forwarded-for": "192.0.2.1, 198.51.100.4, 10.0.0.3", host: "localhost" }, trusted);
    expect(result.address).toBe("198.51.100.4");
    expect(result.basis).toBe("x-forwarded-for:remote-client");
    expect(result.hops).toEqual([
      { address: "172.18.0.1", trusted: true, source: "socket" },
      { address: "10.0.0.3", trusted: true, source: "x-forwarded-for" },
      { address: "198.51.100.4", trusted: false, source: "x-forwarded-for" },
    ]);
  });

  it("never reads what the client wrote left of the stopping point, garbage or loopback", () => {
    for (const left of ["127.0.0.1", "unknown", "0177.0.0.1", "\"junk", "x".repeat(10_000), ""]) {
      const result = resolve("172.18.0.1", { "x-forwarded-for": `${left}, 198.51.100.4`, host: "localhost" }, trusted);
      expect(result.address).toBe("198.51.100.4");
      expect(result.loopbackEquivalent).toBe(false);
      expect(result.hops).toHaveLength(2);
    }
  });

  it("takes the leftmost entry when every entry is trusted, and counts that path as trusted", () => {
    const result = resolve("172.18.0.1", { "x-forwarded-for": "10.0.0.7, 10.0.0.3", host: "localhost" }, trusted);
    expect(result.address).toBe("10.0.0.7");
    expect(result.loopbackEquivalent).toBe(true);
    expect(result.basis).toBe("x-forwarded-for:trusted-path");
  });

  it("believes a loopback client named by a trusted proxy on this host", () => {
    const result = resolve("127.0.0.1", { "x-forwarded-for": "127.0.0.1", host: "localhost" }, ["loopback"]);
    expect(result.basis).toBe("x-forwarded-for:loopback");
    expect(result.loopbackEquivalent).toBe(true);
  });

  it("does not believe a forged X-Forwarded-For: 127.0.0.1 left of the address the proxy saw", () => {
    // The client forged 127.0.0.1; the proxy appended what it saw.
    const result = resolve("127.0.0.1", { "x-forwarded-for": "127.0.0.1, 203.0.113.7", host: "localhost" }, ["loopback"]);
    expect(result.address).toBe("203.0.113.7");
    expect(result.loopbackEquivalent).toBe(false);
  });

  it("uses the socket peer when a trusted proxy sends no forwarding header", () => {
    const result = resolve("172.18.0.1", { host: "localhost" }, trusted);
    expect(result.basis).toBe("socket:trusted-path");
    expect(result.hops).toHaveLength(1);
  });

  it("reads only the believed header: X-Real-IP", () => {
    const result = resolve("127.0.0.1", { "x-real-ip": "203.0.113.7", host: "localhost" }, ["loopback"], { header: "x-real-ip" });
    expect(result.address).toBe("203.0.113.7");
    expect(result.basis).toBe("x-real-ip:remote-client");
  });

  it("treats repeated X-Real-IP lines (joined with a comma) as malformed: no address", () => {
    const result = resolveClientAddress({
      remoteAddress: "127.0.0.1",
      headers: ["Host", "localhost", "X-Real-IP", "127.0.0.1", "X-Real-IP", "203.0.113.7"],
      trustedProxies: ["loopback"],
      header: "x-real-ip",
    });
    expect(result.address).toBeNull();
    expect(result.basis).toBe("x-real-ip:malformed-header");
  });

  it("reads Forwarded with quoting, ports, case and several elements", () => {
    const result = resolve(
      "172.18.0.1",
      { forwarded: 'for=192.0.2.43, FOR="[2001:db8:cafe::17]:4711";proto=https;by=203.0.113.43, for=10.0.0.3', host: "localhost" },
      trusted,
      { header: "forwarded" },
    );
    expect(result.address).toBe("2001:db8:cafe::17");
    expect(result.hops.map((hop) => hop.address)).toEqual(["172.18.0.1", "10.0.0.3", "2001:db8:cafe::17"]);
  });

  it("reads a quoted Forwarded value holding a comma without splitting it", () => {
    const result = resolve("172.18.0.1", { forwarded: 'for=198.51.100.4;host="a,b.example"', host: "localhost" }, trusted, { header: "forwarded" });
    expect(result.address).toBe("198.51.100.4");
  });

  it("stops at obfuscated and unknown Forwarded nodes: null, not local", () => {
    for (const node of ["_hidden", "unknown", '"_abc:_port"']) {
      const result = resolve("172.18.0.1", { forwarded: `for=${node}`, host: "localhost" }, trusted, { header: "forwarded" });
      expect(result.address).toBeNull();
      expect(result.basis).toBe("forwarded:invalid-entry");
    }
  });

  it("turns a Forwarded parse error into a diagnostic, fail closed", () => {
    for (const value of ['for="198.51.100.4', "for", "for=1.2.3.4;for=1.2.3.5", "=x", 'for=198.51.100.4 "x"', "for=192.0.2.1;by"]) {
      const result = resolve("172.18.0.1", { forwarded: value, host: "localhost" }, trusted, { header: "forwarded" });
      expect(result.address).toBeNull();
      expect(result.loopbackEquivalent).toBe(false);
      expect(result.basis).toBe("forwarded:malformed-header");
      expect(codes(result)).toContain("malformed-header");
    }
  });

  it("stops at a Forwarded element without for=", () => {
    const result = resolve("172.18.0.1", { forwarded: "for=198.51.100.4, proto=https", host: "localhost" }, trusted, { header: "forwarded" });
    expect(result.address).toBeNull();
    expect(result.basis).toBe("forwarded:malformed-header");
  });
});

describe("rule 3: strict addresses", () => {
  it.each(["unknown", "_hidden", "127.1", "0177.0.0.1", "0x7f.0.0.1", "2130706433", "127.0.0.1 127.0.0.2", "::127.0.0.1%"])(
    "stops at X-Forwarded-For entry %j: null, not local",
    (entry) => {
      const result = resolve("127.0.0.1", { "x-forwarded-for": entry, host: "localhost" }, ["loopback"]);
      expect(result.address).toBeNull();
      expect(result.loopbackEquivalent).toBe(false);
      expect(result.basis).toBe("x-forwarded-for:invalid-entry");
      expect(result.hops.at(-1)).toMatchObject({ address: null, raw: entry.trim(), trusted: false });
    },
  );

  // RFC 9110 section 5.6.1: a recipient ignores empty list elements; senders that merge lines write them.
  it("skips empty list elements, and walks past them to the client", () => {
    const result = resolve("172.18.0.1", { "x-forwarded-for": "198.51.100.4,,10.0.0.3, ", host: "localhost" }, ["172.18.0.0/16", "10.0.0.0/8"]);
    expect(result.address).toBe("198.51.100.4");
    expect(result.basis).toBe("x-forwarded-for:remote-client");
    expect(result.hops.map((hop) => hop.address)).toEqual(["172.18.0.1", "10.0.0.3", "198.51.100.4"]);
  });

  it.each(["", " ", ",", ", ,"])("ends the walk at the peer for a header that names nobody (%j)", (value) => {
    const trustedPeer = resolve("172.18.0.1", { "x-forwarded-for": value, host: "localhost" }, ["172.18.0.1"]);
    expect(trustedPeer).toMatchObject({ address: "172.18.0.1", loopbackEquivalent: true, basis: "socket:trusted-path" });
    expect(trustedPeer.hops).toEqual([{ address: "172.18.0.1", trusted: true, source: "socket" }]);
    const forwarded = resolve("172.18.0.1", { forwarded: value, host: "localhost" }, ["172.18.0.1"], { header: "forwarded" });
    expect(forwarded).toMatchObject({ address: "172.18.0.1", basis: "socket:trusted-path" });
    // From an untrusted peer the header still shows a proxy: never local.
    expect(resolve("127.0.0.1", { "x-forwarded-for": value, host: "localhost" })).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:unread-forwarding-header" });
  });

  it("shows IPv4-mapped IPv6 as IPv4 and IPv6 in RFC 5952 form, without port or zone", () => {
    expect(resolve("::FFFF:172.18.0.1", {}).address).toBe("172.18.0.1");
    expect(resolve("2001:DB8:0:0:0:0:0:1", {}).address).toBe("2001:db8::1");
    expect(resolve("fe80::1%eth0", {}).address).toBe("fe80::1");
    expect(resolve("172.18.0.1", { "x-forwarded-for": "[2001:db8::a]:443" }, ["172.18.0.1"]).address).toBe("2001:db8::a");
  });

  it("does not take IPv4-compatible ::127.0.0.1 or NAT64 64:ff9b::7f00:1 for loopback", () => {
    for (const peer of ["::127.0.0.1", "64:ff9b::7f00:1"]) {
      const result = resolve(peer, { host: "localhost" });
      expect(result.loopbackEquivalent).toBe(false);
      expect(result.basis).toBe("socket:remote-client");
    }
  });

  it("takes ::1 and mapped loopback peers for loopback", () => {
    expect(resolve("::1", { host: "[::1]:18789" }).basis).toBe("socket:loopback");
    expect(resolve("::ffff:127.0.0.1", { host: "localhost" }).basis).toBe("socket:loopback");
  });
});

describe("rule 4: locality", () => {
  it("a: a remote client through trusted hops is not local", () => {
    const result = resolve("172.18.0.1", { "x-forwarded-for": "203.0.113.7", host: "localhost" }, ["172.18.0.1"]);
    expect(result.checks.client).toBe(false);
    expect(result.loopbackEquivalent).toBe(false);
  });

  it("a: a trusted NAT gateway with nothing forwarded is local (the Docker case)", () => {
    const result = resolve("172.18.0.1", { host: "localhost:18789" }, ["172.18.0.1"]);
    expect(result.basis).toBe("socket:trusted-path");
    expect(result.loopbackEquivalent).toBe(true);
  });

  it("b: an undeclared reverse proxy on this host (loopback peer with X-Forwarded-For) makes nobody local", () => {
    for (const [name, value] of [["x-forwarded-for", "203.0.113.7"], ["forwarded", "for=203.0.113.7"], ["x-real-ip", "203.0.113.7"], ["x-forwarded-for", ""]] as const) {
      const result = resolve("127.0.0.1", { [name]: value, host: "localhost" });
      expect(result.address).toBe("127.0.0.1");
      expect(result.loopbackEquivalent).toBe(false);
      expect(result.basis).toBe("socket:unread-forwarding-header");
      const diagnostic = result.diagnostics.find((d) => d.code === "untrusted-forwarding-header");
      expect(diagnostic?.message).toMatch(/add "127\.0\.0\.1" to trustedProxies/);
    }
  });

  it("b: a second forwarding header from a trusted proxy is a hop the walk cannot see", () => {
    const result = resolve("127.0.0.1", { "x-forwarded-for": "127.0.0.1", "x-real-ip": "203.0.113.7", host: "localhost" }, ["loopback"]);
    expect(result.address).toBe("127.0.0.1");
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("x-forwarded-for:unread-forwarding-header");
    // X-Forwarded-For, the believed header, is there: the proxy writes it, so the advice is to drop the other
    // (advising to believe X-Real-IP instead would be undone by the next answer, which would find X-Forwarded-For unread).
    const diagnostic = result.diagnostics.find((d) => d.code === "unbelieved-forwarding-header");
    expect(diagnostic?.message).toContain("make it drop X-Real-IP from client requests (nginx: remove the proxy_set_header X-Real-IP line)");
    expect(diagnostic?.fix).toEqual({ proxyDrops: "X-Real-IP" });
  });

  it("b: believing Forwarded, an X-Forwarded-For beside it fails the check", () => {
    const result = resolve("127.0.0.1", { forwarded: "for=127.0.0.1", "x-forwarded-for": "203.0.113.7", host: "localhost" }, ["loopback"], { header: "forwarded" });
    expect(result.address).toBe("127.0.0.1");
    expect(result.loopbackEquivalent).toBe(false);
  });

  it("c: a missing Host is not local", () => {
    const result = resolve("127.0.0.1", {});
    expect(result.basis).toBe("socket:host-not-local");
    expect(codes(result)).toEqual(["host-missing"]);
  });

  it("c: a Host that merely contains localhost or a loopback address is not local", () => {
    for (const host of ["localhost.evil.example", "127.0.0.1.evil.example", "evil.example:127", "127.1"]) {
      expect(resolve("127.0.0.1", { host }).loopbackEquivalent).toBe(false);
    }
  });

  it("d: an Origin naming a localHosts name is local, and only with localHosts given", () => {
    const headers = { host: "mybox:18789", origin: "http://MyBox:18789" };
    expect(resolve("127.0.0.1", headers, [], { localHosts: ["mybox"] }).loopbackEquivalent).toBe(true);
    expect(resolve("127.0.0.1", { ...headers, origin: "http://otherbox:18789" }, [], { localHosts: ["mybox"] }).basis).toBe("socket:origin-not-local");
  });

  it("c: a name from localHosts is local (from a browser's page, which sends Fetch Metadata or Origin)", () => {
    expect(resolve("127.0.0.1", { host: "mybox:18789", "sec-fetch-site": "same-origin" }, [], { localHosts: ["MyBox"] }).loopbackEquivalent).toBe(true);
    expect(resolve("127.0.0.1", { host: "mybox:18789", "sec-fetch-site": "same-origin" }).loopbackEquivalent).toBe(false);
  });

  it("d: Origin null or non-http(s) is not local", () => {
    for (const origin of ["null", "file://", "chrome-extension://abc", ""]) {
      const result = resolve("127.0.0.1", { host: "localhost", origin });
      expect(result.basis).toBe("socket:origin-not-local");
    }
  });

  it("reports every failing condition, not only the first", () => {
    const result = resolve("172.18.0.1", { host: "evil.example", origin: "https://evil.example", "x-real-ip": "1.2.3.4" });
    expect(result.checks).toEqual({ client: false, forwarding: false, host: false, origin: false });
    expect(codes(result).sort()).toEqual(["client-not-loopback", "host-not-local", "origin-not-local", "untrusted-forwarding-header"]);
    expect(result.basis).toBe("socket:remote-client");
  });
});

describe("rule 5: fail closed, never throw", () => {
  it.each([undefined, "", "garbage", "127.0.0.1:80", "[::1]", "localhost", 42, null, {}])("peer %j gives null, not local", (peer) => {
    const result = resolveClientAddress({ remoteAddress: peer as string | undefined, headers: { host: "localhost" }, trustedProxies: ["loopback"] });
    expect(result.address).toBeNull();
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("socket:invalid-peer");
    expect(codes(result)).toContain("invalid-peer");
  });

  it("survives headers of every odd shape", () => {
    const shapes: unknown[] = [
      undefined,
      null,
      "host: localhost",
      42,
      { host: 42 },
      { host: ["localhost", "evil.example"] },
      { host: [] },
      { host: [1] },
      { "x-forwarded-for": { toString: () => { throw new Error("boom"); } }, host: "localhost" },
      ["Host"],
      ["Host", 1, "X-Forwarded-For"],
      [1, 2, 3],
      { get: () => { throw new Error("boom"); } },
      Object.create(null),
      { __proto__: { host: "localhost" } },
      { constructor: "x", __proto__: null },
    ];
    for (const headers of shapes) {
      for (const remoteAddress of ["127.0.0.1", "172.18.0.1"]) {
        const result = resolveClientAddress({ remoteAddress, headers: headers as Record<string, string>, trustedProxies: ["loopback", "172.18.0.1"] });
        expect(typeof result.loopbackEquivalent).toBe("boolean");
      }
    }
  });

  it("does not count a non-text Host as local", () => {
    expect(resolve("127.0.0.1", { host: 42 as unknown as string }).loopbackEquivalent).toBe(false);
    expect(resolveClientAddress({ remoteAddress: "127.0.0.1", headers: { host: ["localhost", "evil.example"] } }).loopbackEquivalent).toBe(false);
  });

  it("fails closed on a non-text believed header from a trusted proxy", () => {
    const result = resolveClientAddress({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": 7 as unknown as string }, trustedProxies: ["loopback"] });
    expect(result.address).toBeNull();
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.diagnostics[0]).toMatchObject({ code: "invalid-entry", message: expect.stringContaining("X-Forwarded-For from trusted proxy 127.0.0.1 is not text") });
  });
});

describe("rule 6: configuration", () => {
  it("throws ClientAddressConfigError for a bad raw list, naming the entry", () => {
    expect(() => resolve("127.0.0.1", {}, ["loopback", "10.0.0.0/33"])).toThrow(ClientAddressConfigError);
    expect(() => resolve("127.0.0.1", {}, ["loopback", "10.0.0.0/33"])).toThrow(/trustedProxies\[1\]/);
  });

  it("accepts a compiled list and a raw one alike", () => {
    const compiled = compileTrustedProxies(["172.18.0.1"]);
    const raw = ["172.18.0.1"];
    for (const trustedProxies of [compiled, raw, raw]) {
      expect(resolveClientAddress({ remoteAddress: "172.18.0.1", headers: { host: "localhost" }, trustedProxies }).loopbackEquivalent).toBe(true);
    }
  });

  it("throws TypeError on bad options", () => {
    expect(() => resolve("127.0.0.1", {}, [], { header: "x-client-ip" as "x-real-ip" })).toThrow(TypeError);
    expect(() => resolve("127.0.0.1", {}, [], { maxHops: -1 })).toThrow(TypeError);
    expect(() => resolve("127.0.0.1", {}, [], { maxHops: 1.5 })).toThrow(TypeError);
    expect(() => resolve("127.0.0.1", {}, [], { localHosts: "mybox" as unknown as string[] })).toThrow(TypeError);
  });
});

describe("rule 7: repeated lines and bounded cost", () => {
  it("joins repeated header lines in order", () => {
    const result = resolveClientAddress({
      remoteAddress: "10.0.0.2",
      headers: ["Host", "localhost", "X-Forwarded-For", "198.51.100.4", "x-forwarded-for", "10.0.0.3"],
      trustedProxies: ["10.0.0.0/8"],
    });
    expect(result.address).toBe("198.51.100.4");
    expect(result.hops.map((hop) => hop.address)).toEqual(["10.0.0.2", "10.0.0.3", "198.51.100.4"]);
  });

  it("gives the same answer for Node headers, rawHeaders and WHATWG Headers", () => {
    const raw = ["Host", "localhost:18789", "Date", "Tue, 24 Nov 2026 08:00:00 GMT", "X-Forwarded-For", "203.0.113.7", "Accept", "*/*", "X-Forwarded-For", "10.0.0.3", "Origin", "http://localhost:18789", "X-Real-IPs", "x"];
    const node = { host: "localhost:18789", date: "Tue, 24 Nov 2026 08:00:00 GMT", "x-forwarded-for": "203.0.113.7, 10.0.0.3", accept: "*/*", origin: "http://localhost:18789", "x-real-ips": "x" };
    const whatwg = new Headers();
    for (let i = 0; i < raw.length; i += 2) whatwg.append(raw[i]!, raw[i + 1]!);
    const answers = [raw, node, whatwg].map((headers) =>
      resolveClientAddress({ remoteAddress: "10.0.0.2", headers, trustedProxies: ["10.0.0.0/8"] }),
    );
    expect(answers[1]!.toJSON()).toEqual(answers[0]!.toJSON());
    expect(answers[2]!.toJSON()).toEqual(answers[0]!.toJSON());
    expect(answers[0]!.address).toBe("203.0.113.7");
  });

  it("does not read X_Forwarded_For or other look-alike names", () => {
    const result = resolveClientAddress({
      remoteAddress: "127.0.0.1",
      headers: ["Host", "localhost", "X_Forwarded_For", "203.0.113.7", "X-Forwarded-For-Evil", "203.0.113.7"],
      trustedProxies: ["loopback"],
    });
    expect(result.basis).toBe("socket:loopback");
  });

  it("stops after maxHops trusted entries: null, not local", () => {
    const chain = (n: number) => Array.from({ length: n }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(", ");
    const atLimit = resolve("10.0.0.1", { "x-forwarded-for": chain(64), host: "localhost" }, ["10.0.0.0/8"]);
    expect(atLimit.address).toBe("10.0.0.0");
    const past = resolve("10.0.0.1", { "x-forwarded-for": chain(65), host: "localhost" }, ["10.0.0.0/8"]);
    expect(past.address).toBeNull();
    expect(past.basis).toBe("x-forwarded-for:hop-limit");
    expect(past.hops).toHaveLength(65);
    const small = resolve("10.0.0.1", { "x-forwarded-for": chain(3), host: "localhost" }, ["10.0.0.0/8"], { maxHops: 2 });
    expect(small.basis).toBe("x-forwarded-for:hop-limit");
    expect(resolve("10.0.0.1", { "x-forwarded-for": "10.0.0.9" }, ["10.0.0.0/8"], { maxHops: 0 }).address).toBeNull();
  });

  it("examines at most maxHops entries of a megabyte header", () => {
    const huge = `${"10.1.1.1, ".repeat(100_000)}10.1.1.1`;
    const result = resolve("10.0.0.1", { "x-forwarded-for": huge, host: "localhost" }, ["10.0.0.0/8"]);
    expect(result.address).toBeNull();
    expect(result.hops.length).toBe(65);
  });

  it("caps every entry at 128 characters, the leftmost one too", () => {
    const padded = `${" ".repeat(119)}127.0.0.3`; // 128 characters: the longest entry read
    const address = (header: string) => resolve("127.0.0.1", { "x-forwarded-for": header, host: "localhost" }, ["loopback"]).address;
    expect(address(padded)).toBe("127.0.0.3");
    expect(address(`${padded}, 127.0.0.2`)).toBe("127.0.0.3");
    expect(address(` ${padded}`)).toBeNull();
    expect(address(` ${padded}, 127.0.0.2`)).toBeNull();
  });

  it("rejects a single megabyte-long entry without reading all of it", () => {
    for (const header of ["x-forwarded-for", "forwarded", "x-real-ip"] as const) {
      const result = resolve("127.0.0.1", { [header]: `for=${"1".repeat(1 << 20)}`, host: "localhost" }, ["loopback"], { header });
      expect(result.address).toBeNull();
      expect(result.loopbackEquivalent).toBe(false);
      const last = result.hops.at(-1)!;
      expect(last.address === null && last.raw.length).toBeLessThan(64);
    }
  });
});

describe("diagnostics say what to change", () => {
  const message = (result: ClientAddress, code: string) => result.diagnostics.find((d) => d.code === code)?.message ?? "";

  it("invalid-peer names the value", () => {
    expect(message(resolve("garbage", { host: "localhost" }), "invalid-peer")).toMatch(/^remoteAddress "garbage" is not an IP address/);
    expect(message(resolve(undefined, { host: "localhost" }), "invalid-peer")).toMatch(/^remoteAddress undefined is not an IP address/);
    const long = message(resolve(`${"x".repeat(60)}TAIL`, { host: "localhost" }), "invalid-peer");
    expect(long).toMatch(new RegExp(`^remoteAddress "${"x".repeat(60)}" is not an IP address`));
    expect(resolve("garbage", {}).hops).toEqual([{ address: null, raw: "garbage", trusted: false, source: "socket" }]);
    expect(resolve(undefined, {}).hops).toEqual([]);
  });

  it("client-not-loopback names the peer to trust, or the client and the proxy that named it", () => {
    expect(message(resolve("172.18.0.1", { host: "localhost" }), "client-not-loopback")).toMatch(/^peer 172\.18\.0\.1 is neither loopback nor a trusted proxy: not local\. If it is the gateway of a Docker bridge/);
    expect(message(resolve("172.18.0.1", { host: "localhost", "x-forwarded-for": "203.0.113.7" }, ["172.18.0.1"]), "client-not-loopback")).toBe(
      "client 203.0.113.7, named by X-Forwarded-For from trusted proxy 172.18.0.1, is not loopback and not trusted: not local",
    );
  });

  it("origin-not-local tells the page of the name the request was made to from a page on another site", () => {
    // Through a TLS proxy to a public name: the page is the gateway's own, but the name is not this machine.
    const own = resolve("127.0.0.1", { host: "gw.example.com", "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "https", origin: "https://gw.example.com" }, ["loopback"]);
    expect(message(own, "origin-not-local")).toBe('Origin "https://gw.example.com" is the page of the name the request was made to, which is not this machine (see Host): a page served under another name, so not local');
    expect(message(own, "host-not-local")).toMatch(/^Host "gw\.example\.com" does not name this machine/);
    // The other scheme, or another site, is a page elsewhere.
    expect(message(resolve("127.0.0.1", { host: "gw.example.com", origin: "https://gw.example.com" }), "origin-not-local")).toMatch(/^Origin "https:\/\/gw\.example\.com" is not this machine: a page from another site/);
    expect(message(resolve("127.0.0.1", { host: "gw.example.com", origin: "https://evil.example" }), "origin-not-local")).toMatch(/^Origin "https:\/\/evil\.example" is not this machine: a page from another site/);
  });

  it("untrusted-forwarding-header names the header and the peer to declare; for an unknown peer, just the header", () => {
    expect(message(resolve("127.0.0.1", { host: "localhost", "x-real-ip": "1.2.3.4" }), "untrusted-forwarding-header")).toBe(
      'peer 127.0.0.1 is not a trusted proxy, yet the request carries X-Real-IP (written by nginx (proxy_set_header X-Real-IP $remote_addr, by configuration), Traefik (always, the peer it saw), ingress-nginx): a proxy or tunnel forwards for someone else, so not local. If 127.0.0.1 is a reverse proxy or tunnel you run on this machine (or on one whose every process you would let in as a local user), add "127.0.0.1" to trustedProxies so that its headers are read',
    );
    expect(message(resolve(undefined, { forwarded: "for=1.2.3.4" }), "untrusted-forwarding-header")).toBe(
      "Forwarded (written by RFC 7239: HAProxy 2.8+ (option forwarded), nginx or Apache by configuration) is present but the peer is unknown: not local",
    );
  });

  it("unbelieved-forwarding-header says which header to believe", () => {
    expect(message(resolve("127.0.0.1", { host: "localhost", forwarded: "for=127.0.0.1" }, ["loopback"]), "unbelieved-forwarding-header")).toBe(
      'trusted proxy 127.0.0.1 passed on Forwarded (written by RFC 7239: HAProxy 2.8+ (option forwarded), nginx or Apache by configuration), but only X-Forwarded-For is believed, and it is absent: a hop the walk cannot see, so not local. If that proxy writes Forwarded, set header: "forwarded"; otherwise make it drop Forwarded from client requests',
    );
  });

  it("what a trusted proxy says of the browser's request that cannot be read is not local, and says which header", () => {
    const proxied = (headers: string[], extra: Partial<ResolveClientAddressOptions> = {}) => resolveClientAddress({ remoteAddress: "127.0.0.1", trustedProxies: ["loopback"], headers: ["Host", "localhost", "X-Forwarded-For", "127.0.0.1", ...headers], ...extra });
    const cases: Array<[string[], string]> = [
      [["X-Forwarded-Host", 7 as unknown as string], 'X-Forwarded-Host "" from trusted proxy 127.0.0.1 is not text'],
      [["X-Forwarded-Host", " , "], 'X-Forwarded-Host " , " from trusted proxy 127.0.0.1 is empty'],
      [["X-Forwarded-Host", "localhost,".repeat(2_000)], "is longer than maxHops (64) names can be"],
      [["X-Forwarded-Proto", 7 as unknown as string], 'X-Forwarded-Proto "null" from trusted proxy 127.0.0.1 is not http or https'],
      [["X-Forwarded-Proto", "gopher"], 'X-Forwarded-Proto "gopher" from trusted proxy 127.0.0.1 is not http or https'],
      [["X-Forwarded-Port", 7 as unknown as string], 'X-Forwarded-Port "null" from trusted proxy 127.0.0.1 is not a port'],
      [["X-Forwarded-Port", "080"], 'X-Forwarded-Port "080" from trusted proxy 127.0.0.1 is not a port'],
      [["X-Forwarded-Host", "localhost:8080", "X-Forwarded-Port", "8081"], 'X-Forwarded-Port "8081" from trusted proxy 127.0.0.1 is another port than the 8080 the browser\'s Host names'],
    ];
    for (const [headers, text] of cases) {
      const result = proxied(headers);
      expect(result.basis, text).toBe("x-forwarded-for:host-not-local");
      expect(message(result, "forwarded-request-unclear"), text).toContain(text);
    }
    const forwarded = resolveClientAddress({ remoteAddress: "127.0.0.1", trustedProxies: ["loopback"], header: "forwarded", headers: { host: "localhost", forwarded: "for=127.0.0.1;proto=gopher" } });
    expect(message(forwarded, "forwarded-request-unclear")).toContain('Forwarded proto= "gopher" from trusted proxy 127.0.0.1 is not http or https');
    // A port the proxy gives where the browser's Host wrote none, and a scheme it names, are the request's.
    expect(proxied(["X-Forwarded-Port", "8080", "Origin", "http://localhost:8080"]).loopbackEquivalent).toBe(true);
    expect(proxied(["X-Forwarded-Proto", "wss", "Origin", "https://localhost"]).loopbackEquivalent).toBe(true);
  });

  it("advises a localHosts or localOrigins entry only where one can be written", () => {
    const notText = resolve("127.0.0.1", ["Host", 7 as unknown as string]);
    expect(notText.diagnostics.find((d) => d.code === "host-not-local")?.fix).toBeUndefined();
    expect(resolve("127.0.0.1", { host: "mybox:18789" }).diagnostics.find((d) => d.code === "host-not-local")?.fix).toEqual({ add: "localHosts", entry: "mybox" });
    expect(resolve("127.0.0.1", { host: "[fd18::2]:18789" }).diagnostics.find((d) => d.code === "host-not-local")?.fix).toEqual({ add: "localHosts", entry: "[fd18::2]" });
    expect(resolve("127.0.0.1", { host: "a b" }).diagnostics.find((d) => d.code === "host-not-local")?.fix).toBeUndefined();
    // An Origin of this machine (by a localHosts name) that no browser could send: no localOrigins entry to advise.
    const odd = resolve("127.0.0.1", { host: "localhost:18789", origin: "http://my<box:8000" }, [], { localHosts: ["my<box"] });
    expect(odd.basis).toBe("socket:origin-not-local");
    expect(odd.diagnostics.find((d) => d.code === "origin-not-local")?.fix).toBeUndefined();
  });

  it("host and origin diagnostics quote the value, cut to 80 characters", () => {
    const long = `${"a".repeat(100)}.example`;
    expect(message(resolve("127.0.0.1", { host: long }), "host-not-local")).toBe(
      `Host "${"a".repeat(80)}" does not name this machine: a page loaded under another name (DNS rebinding) must not borrow a local client's standing, so not local. If it is this machine's own name, add it to localHosts`,
    );
    expect(message(resolve("127.0.0.1", { host: "localhost", origin: long }), "origin-not-local")).toBe(
      `Origin "${"a".repeat(80)}" is not this machine: a page from another site (or an opaque origin) opened this connection in the user's browser, so not local`,
    );
    expect(message(resolve("127.0.0.1", {}), "host-missing")).toMatch(/^no Host header: a local client must name this machine/);
  });

  it("walk failures name the header, the entry's position and the entry", () => {
    const trusted = ["loopback"];
    expect(message(resolve("127.0.0.1", { "x-forwarded-for": "203.0.113.7, unknown" }, trusted), "invalid-entry")).toMatch(/^X-Forwarded-For entry 1 from the right \("unknown"\) is not an IP address/);
    expect(message(resolve("127.0.0.1", { forwarded: 'for="x' }, trusted, { header: "forwarded" }), "malformed-header")).toMatch(/^Forwarded entry 1 from the right \("for=\\"x"\) is not a valid Forwarded element/);
    expect(message(resolve("127.0.0.1", { "x-real-ip": "127.0.0.1" }, trusted, { header: "x-real-ip", maxHops: 0 }), "hop-limit")).toMatch(/^X-Real-IP holds more than maxHops \(0\) entries/);
    expect(resolve("127.0.0.1", { "x-forwarded-for": "203.0.113.7, unknown" }, trusted).hops.at(-1)).toEqual({ address: null, raw: "unknown", trusted: false, source: "x-forwarded-for" });
    expect(resolve("127.0.0.1", { forwarded: 'for="x' }, trusted, { header: "forwarded" }).hops.at(-1)).toEqual({ address: null, raw: 'for="x', trusted: false, source: "forwarded" });
  });

  it("bad options say what was expected, each as one error type naming the option and the entry", () => {
    const cases: Array<[Partial<ResolveClientAddressOptions>, string, string, unknown, number]> = [
      [{ header: "x-client-ip" as "x-real-ip" }, "header", "header must be one of x-forwarded-for, forwarded, x-real-ip, cf-connecting-ip, true-client-ip, fastly-client-ip, fly-client-ip, x-envoy-external-address, cloudfront-viewer-address, got \"x-client-ip\"", "x-client-ip", -1],
      [{ maxHops: -1 }, "maxHops", "maxHops must be a non-negative integer, got -1", -1, -1],
      [{ maxHops: 1.5 }, "maxHops", "maxHops must be a non-negative integer, got 1.5", 1.5, -1],
      [{ localHosts: ["a", 7 as unknown as string] }, "localHosts", 'localHosts[1] must be a host name (e.g. "mybox" or "[fd18::2]"), got 7', 7, 1],
      [{ localOrigins: ["http://x/app"] }, "localOrigins", 'localOrigins[0] must be an http or https origin such as "http://localhost:5173" (scheme, host, optional port; no path), got "http://x/app"', "http://x/app", 0],
      [{ trustedProxies: ["10.0.0.1", "nope"] }, "trustedProxies", 'trustedProxies[1] "nope"', "nope", 1],
    ];
    for (const [options, option, message, entry, index] of cases) {
      let thrown: unknown;
      try {
        createResolver(options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, option).toBeInstanceOf(ClientAddressConfigError);
      expect(thrown, option).toBeInstanceOf(TypeError);
      expect(thrown, option).toMatchObject({ name: "ClientAddressConfigError", option, entry, index });
      expect((thrown as Error).message, option).toContain(message);
      // The one-call form throws the same.
      expect(() => resolve("127.0.0.1", {}, [], options), option).toThrow(ClientAddressConfigError);
    }
    expect(() => createResolver(null as unknown as ResolveClientAddressOptions)).toThrow("options must be an object, got null");
    expect(() => createResolver("trust me" as unknown as ResolveClientAddressOptions)).toThrow("options must be an object, got string");
  });

  it("a resolver is made once: its options are compiled then, and an array changed afterwards does not change it", () => {
    const trustedProxies = ["127.0.0.1"];
    const resolver = createResolver({ trustedProxies, localHosts: ["mybox"] });
    trustedProxies[0] = "192.0.2.1";
    const request = { remoteAddress: "127.0.0.1", headers: { host: "mybox", origin: "http://mybox", "x-forwarded-for": "127.0.0.1" } };
    expect(resolver.resolve(request)).toMatchObject({ loopbackEquivalent: true, basis: "x-forwarded-for:loopback" });
    expect(createResolver({ trustedProxies, localHosts: ["mybox"] }).resolve(request).basis).toBe("socket:unread-forwarding-header");
    expect(createResolver().resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost" } }).basis).toBe("socket:loopback");
  });

  it("a client on the internet named by a trusted proxy is answered from the believed header alone; the explanation agrees", () => {
    const asked: string[] = [];
    let xff = "203.0.113.7";
    const headers = { get: (name: string) => (asked.push(name), name === "x-forwarded-for" ? xff : name === "host" ? "localhost" : null) };
    const result = createResolver({ trustedProxies: ["10.0.0.0/8"] }).resolve({ remoteAddress: "10.0.0.2", headers });
    expect(result).toMatchObject({ address: "203.0.113.7", loopbackEquivalent: false, basis: "x-forwarded-for:remote-client" });
    expect(asked).toEqual(["x-forwarded-for"]);
    // The caller changes the header before the explanation is read: the explanation walks what the decision walked.
    xff = "127.0.0.1";
    expect(result.hops.map((hop) => hop.address)).toEqual(["10.0.0.2", "203.0.113.7"]);
    expect(result.checks.client).toBe(false);
    // A name present with no value is absent, as readHeaders takes it.
    expect(createResolver({ trustedProxies: ["10.0.0.0/8"] }).resolve({ remoteAddress: "10.0.0.2", headers: { "x-forwarded-for": undefined, host: "localhost" } }).basis).toBe("socket:trusted-path");
    // A raw list and a hand-built object are read the same way, repeated lines joined.
    for (const form of [["X-Forwarded-For", "198.51.100.1", "x-forwarded-for", "203.0.113.7"], { "X-Forwarded-For": "198.51.100.1", "x-forwarded-for": "203.0.113.7" }]) {
      const answer = createResolver({ trustedProxies: ["10.0.0.0/8"] }).resolve({ remoteAddress: "10.0.0.2", headers: form });
      expect(answer.address).toBe("203.0.113.7");
      expect(answer.hops.length).toBe(2);
    }
  });

  it("a public peer talking directly is answered without reading its headers; its explanation reads them when asked", () => {
    let reads = 0;
    const headers = { get: (name: string) => (reads++, name === "host" ? "localhost" : null) };
    const result = createResolver().resolve({ remoteAddress: "203.0.113.7", headers });
    expect(result).toMatchObject({ address: "203.0.113.7", loopbackEquivalent: false, basis: "socket:remote-client" });
    expect(reads).toBe(0);
    expect(result.checks).toEqual({ client: false, forwarding: true, host: true, origin: true });
    expect(reads).toBeGreaterThan(0);
  });
});


describe("where other libraries differ, as docs/trust-model.md states", () => {
  it("a repeated X-Real-IP line gives no client: which line the proxy wrote cannot be told", () => {
    const result = resolveClientAddress({ remoteAddress: "127.0.0.1", trustedProxies: ["loopback"], header: "x-real-ip", headers: ["Host", "localhost", "X-Real-IP", "127.0.0.1", "X-Real-IP", "127.0.0.1"] });
    expect(result).toMatchObject({ address: null, loopbackEquivalent: false, basis: "x-real-ip:malformed-header" });
  });

  it("a blank trustedProxies entry throws in an array, and is dropped from text", () => {
    expect(() => compileTrustedProxies(["127.0.0.1", ""])).toThrow(ClientAddressConfigError);
    expect(parseTrustedProxies("127.0.0.1, ,").ranges).toEqual(["127.0.0.1/32"]);
  });

  it("an empty or blank X-Forwarded-For from an untrusted peer is a proxy signal; from a trusted one it names nobody", () => {
    for (const value of ["", "  ", ","]) {
      expect(resolve("127.0.0.1", { host: "localhost", "x-forwarded-for": value }).basis, JSON.stringify(value)).toBe("socket:unread-forwarding-header");
      expect(resolve("127.0.0.1", { host: "localhost", "x-forwarded-for": value }, ["loopback"]).basis, JSON.stringify(value)).toBe("socket:loopback");
    }
  });

  it("0.0.0.0 and :: are ordinary, non-loopback addresses", () => {
    for (const peer of ["0.0.0.0", "::", "::ffff:0.0.0.0"]) expect(resolve(peer, { host: "localhost" })).toMatchObject({ loopbackEquivalent: false, basis: "socket:remote-client" });
  });

  it("a quoted-pair in a Forwarded value is unescaped", () => {
    expect(resolve("127.0.0.1", { host: "localhost", forwarded: 'for="\\1\\2\\7.0.0.1"' }, ["loopback"], { header: "forwarded" })).toMatchObject({ address: "127.0.0.1", basis: "forwarded:loopback" });
  });
});
