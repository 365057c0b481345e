// From answer to admission: the attribution of every kind of request, the refusal of an unattributable one
// (decided without a server), the refusal log, the rate-limit key.
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ClientAddress, ClientAddressConfigError, type ResolverOptions, createRefusalLog, createResolver, isCrossSite, rateLimitKey } from "../src/core/index.js";

const answer = (remoteAddress: string | undefined, headers: Record<string, string>, options: ResolverOptions = {}, declaredSource?: string | null) =>
  createResolver(options).resolve({ remoteAddress, headers, declaredSource });

describe("attribution: how the client was identified, derived from the rules", () => {
  it.each([
    ["the peer on this machine", "127.0.0.1", { host: "localhost" }, {}, "direct-local", null],
    ["the Docker bridge gateway with nothing behind it (the founding bug): attributed, not refused", "172.18.0.1", { host: "localhost" }, { trustedProxies: ["172.18.0.1"] }, "nat-local", null],
    ["a peer on the internet", "203.0.113.7", { host: "gw.example" }, {}, "direct-remote", null],
    ["a client named by a trusted proxy", "127.0.0.1", { host: "localhost", "x-forwarded-for": "203.0.113.7" }, { trustedProxies: ["loopback"] }, "proxied", null],
    ["a proxy signal from a peer nobody declared", "127.0.0.1", { host: "localhost", "x-forwarded-for": "203.0.113.7" }, {}, "unattributable", "undeclared-proxy"],
    ["an address header a trusted proxy passed on beside the believed one", "127.0.0.1", { host: "localhost", "x-forwarded-for": "127.0.0.1", "x-real-ip": "203.0.113.7" }, { trustedProxies: ["loopback"] }, "unattributable", "unbelieved-header"],
    ["an entry that is not an address", "127.0.0.1", { host: "localhost", "x-forwarded-for": "unknown" }, { trustedProxies: ["loopback"] }, "unattributable", "malformed-chain"],
    ["a malformed Forwarded", "127.0.0.1", { host: "localhost", forwarded: 'for="x' }, { trustedProxies: ["loopback"], header: "forwarded" }, "unattributable", "malformed-chain"],
    ["more than maxHops entries", "127.0.0.1", { host: "localhost", "x-forwarded-for": "127.0.0.1, 127.0.0.1" }, { trustedProxies: ["loopback"], maxHops: 1 }, "unattributable", "malformed-chain"],
    ["no peer", undefined, { host: "localhost" }, {}, "unattributable", "unknown-peer"],
    ["a peer on the internet that sends X-Forwarded-For: a proxy nobody declared, or a forger", "203.0.113.7", { host: "gw.example", "x-forwarded-for": "127.0.0.1" }, {}, "unattributable", "undeclared-proxy"],
    ["a client named by a trusted proxy that passed on another address header", "10.0.0.2", { host: "gw.example", "x-forwarded-for": "203.0.113.7", "cf-connecting-ip": "198.51.100.1" }, { trustedProxies: ["10.0.0.0/8"] }, "unattributable", "unbelieved-header"],
  ] as const)("%s: %s", (_, peer, headers, options, attribution, reason) => {
    const result = answer(peer, headers, options as ResolverOptions);
    expect(result.attribution).toBe(attribution);
    expect(result.attributionReason).toBe(reason);
    // Every unattributable answer says why and what to change, in its diagnostics.
    if (reason !== null) expect(result.diagnostics.length).toBeGreaterThan(0);
    expect(result.toJSON()).toMatchObject({ attribution, attributionReason: reason });
  });

  it("a source a trusted balancer declared is proxied; one it declared unknown is unattributable", () => {
    expect(answer("10.0.0.5", { host: "gw.example" }, {}, "203.0.113.7").attribution).toBe("proxied");
    expect(answer("10.0.0.5", { host: "gw.example" }, {}, null)).toMatchObject({ attribution: "unattributable", attributionReason: "unknown-peer" });
  });

  it("attribution is who, not whether local: a loopback peer's rebinding page is direct-local and not local", () => {
    const result = answer("127.0.0.1", { host: "evil.test:18789" });
    expect(result).toMatchObject({ attribution: "direct-local", loopbackEquivalent: false, basis: "socket:host-not-local" });
  });
});

describe("refusing what cannot be attributed (unattributable: warn or reject)", () => {
  const undeclared = { remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": "203.0.113.7" } };

  it("warn, the default, refuses nothing: the request goes on, answered as remote", () => {
    const resolver = createResolver();
    expect(resolver.unattributable).toBe("warn");
    const result = resolver.resolve(undeclared);
    expect(result.loopbackEquivalent).toBe(false);
    expect(resolver.refusal(result)).toBeNull();
  });

  it("reject answers an unattributable request 403 with its reason in the body and a header, and nothing else", () => {
    const resolver = createResolver({ unattributable: "reject" });
    expect(resolver.refusal(resolver.resolve(undeclared))).toEqual({
      status: 403,
      reason: "undeclared-proxy",
      header: "x-clientaddr-refusal",
      body: '{"error":"unattributable","reason":"undeclared-proxy"}\n',
    });
    for (const facts of [{ remoteAddress: "203.0.113.7", headers: { host: "gw.example" } }, { remoteAddress: "127.0.0.1", headers: { host: "evil.test" } }]) {
      expect(resolver.refusal(resolver.resolve(facts)), facts.remoteAddress).toBeNull();
    }
  });

  it("refuses a policy it does not know, naming it", () => {
    expect(() => createResolver({ unattributable: "block" as "reject" })).toThrow(ClientAddressConfigError);
    expect(() => createResolver({ unattributable: "block" as "reject" })).toThrow('unattributable must be "warn" or "reject", got "block"');
  });
});

describe("the refusal log: one line per peer and local port per interval, in bounded memory", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A refused answer from `peer`, as the log reads it. */
  const refused = (peer: string): ClientAddress =>
    ({
      address: peer,
      loopbackEquivalent: false,
      basis: "socket:unread-forwarding-header",
      attribution: "unattributable",
      attributionReason: "undeclared-proxy",
      hops: [{ address: peer, trusted: false, source: "socket" }],
      checks: { client: true, forwarding: false, host: true, origin: true },
      diagnostics: [{ code: "untrusted-forwarding-header", message: "what to change" }],
      toJSON: () => {
        throw new Error("not used");
      },
    }) as unknown as ClientAddress;

  it("names the peer, the port, the attribution, the basis and what to change, once per interval, then counts", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const log = createRefusalLog({ warn: (line) => lines.push(line), intervalMs: 1_000 });
    expect(log(refused("127.0.0.1"), 18789)).toBe(true);
    expect(log(refused("127.0.0.1"), 18789)).toBe(false);
    expect(log(refused("127.0.0.1"), 18789)).toBe(false);
    expect(log(refused("127.0.0.1"), 8080)).toBe(true); // another local port is another line
    vi.advanceTimersByTime(1_000);
    expect(log(refused("127.0.0.1"), 18789)).toBe(true);
    expect(lines).toEqual([
      "clientaddr: refused 127.0.0.1 on port 18789: unattributable (undeclared-proxy), socket:unread-forwarding-header: what to change",
      "clientaddr: refused 127.0.0.1 on port 8080: unattributable (undeclared-proxy), socket:unread-forwarding-header: what to change",
      "clientaddr: refused 127.0.0.1 on port 18789: unattributable (undeclared-proxy), socket:unread-forwarding-header: what to change [2 more since the last line]",
    ]);
  });

  it("remembers at most maxKeys peers whatever the traffic: after a million distinct peers, the oldest is forgotten", () => {
    let lines = 0;
    const log = createRefusalLog({ warn: () => lines++, maxKeys: 64 });
    for (let i = 0; i < 1_000_000; i++) log(refused(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
    expect(lines).toBe(1_000_000);
    // The last 64 are remembered (within the interval: not logged again); the first is long forgotten.
    expect(log(refused("10.15.66.63"))).toBe(false);
    expect(log(refused("10.0.0.0"))).toBe(true);
  });

  it("names the client behind a balancer, and logs any answer it is given: a remote client, even a local one", () => {
    const lines: string[] = [];
    const log = createRefusalLog({ warn: (line) => lines.push(line) });
    log(answer("10.0.0.5", { host: "gw.example", "x-forwarded-for": "1.2.3.4" }, {}, "198.51.100.9"));
    log(answer("203.0.113.7", { host: "gw.example" }), 18789);
    log(answer("127.0.0.1", { host: "localhost" }));
    expect(lines.map((line) => line.split(":").slice(0, 3).join(":"))).toEqual([
      "clientaddr: refused 198.51.100.9: unattributable (undeclared-proxy), proxy-protocol",
      "clientaddr: refused 203.0.113.7 on port 18789: direct-remote, socket",
      "clientaddr: refused 127.0.0.1: direct-local, socket",
    ]);
    expect(lines[2]).toBe("clientaddr: refused 127.0.0.1: direct-local, socket:loopback: ");
  });

  it("given a resolver with DNS-named proxies, names those that do not resolve (why their clients may be refused)", () => {
    const lines: string[] = [];
    const names = [
      { name: "proxy", error: "ENOTFOUND" },
      { name: "caddy", error: null },
      { name: "traefik", error: "ETIMEOUT" },
    ];
    const log = createRefusalLog({ warn: (line) => lines.push(line), resolver: { names } });
    log(answer("172.18.0.9", { host: "gw.example", "x-forwarded-for": "203.0.113.7" }), 18789);
    expect(lines[0]).toMatch(/^clientaddr: refused 172\.18\.0\.9 on port 18789: unattributable \(undeclared-proxy\), socket:remote-client: .*; trustedProxies names not resolving: "proxy" \(ENOTFOUND\), "traefik" \(ETIMEOUT\)$/);
    names[0]!.error = null;
    names[2]!.error = null;
    log(answer("172.18.0.10", { host: "gw.example" }), 18789);
    expect(lines[1]).not.toContain("not resolving");
  });

  it("refuses bad options, naming them", () => {
    expect(() => createRefusalLog({ maxKeys: 0 })).toThrow("maxKeys must be a positive integer, got 0");
    expect(() => createRefusalLog({ intervalMs: -1 })).toThrow("intervalMs must be a non-negative integer, got -1");
    expect(() => createRefusalLog({ warn: "console" as unknown as () => void })).toThrow("warn must be a function, got string");
    const option = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        return error instanceof ClientAddressConfigError ? error.option : "not a ClientAddressConfigError";
      }
      return "no error";
    };
    expect(option(() => createRefusalLog({ maxKeys: 1.5 }))).toBe("maxKeys");
    expect(option(() => createRefusalLog({ intervalMs: 0.5 }))).toBe("intervalMs");
    expect(option(() => createRefusalLog({ warn: 1 as unknown as () => void }))).toBe("warn");
  });

  it("takes the edges of its options: intervalMs 0 logs every refusal, maxKeys 1 remembers one peer", () => {
    const lines: string[] = [];
    const everyTime = createRefusalLog({ warn: (line) => lines.push(line), intervalMs: 0 });
    expect([everyTime(refused("127.0.0.1")), everyTime(refused("127.0.0.1"))]).toEqual([true, true]);
    const one = createRefusalLog({ warn: (line) => lines.push(line), maxKeys: 1 });
    expect([one(refused("10.0.0.1")), one(refused("10.0.0.1")), one(refused("10.0.0.2")), one(refused("10.0.0.1"))]).toEqual([true, false, true, true]);
  });

  it("forgets the oldest peer as soon as maxKeys others have been logged after it, not one later", () => {
    const log = createRefusalLog({ warn: () => undefined, maxKeys: 2 });
    expect([log(refused("10.0.0.1")), log(refused("10.0.0.2")), log(refused("10.0.0.3"))]).toEqual([true, true, true]);
    // 10.0.0.1 was the oldest of three: forgotten, so logged again; 10.0.0.3 is still remembered.
    expect(log(refused("10.0.0.1"))).toBe(true);
    expect(log(refused("10.0.0.3"))).toBe(false);
  });

  it("adds a count to a line only when refusals were held back since the last one", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const log = createRefusalLog({ warn: (line) => lines.push(line), intervalMs: 1_000 });
    log(refused("127.0.0.1"));
    vi.advanceTimersByTime(1_000);
    log(refused("127.0.0.1"));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe(lines[0]);
  });

  it("writes a peer that is not an address as its first 60 characters, quoted", () => {
    const lines: string[] = [];
    const log = createRefusalLog({ warn: (line) => lines.push(line) });
    log(answer(`bad-${"x".repeat(200)}`, { host: "localhost" }));
    expect(lines[0]).toContain(`refused ${JSON.stringify(`bad-${"x".repeat(56)}`)}: `);
  });

  it("writes to console.warn by default, and names a peer that is not an address as written", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const log = createRefusalLog();
      log(answer("not-an-address", { host: "localhost" }));
      log(answer(undefined, { host: "localhost" }));
      expect(warn.mock.calls.map(([line]) => String(line).split(",")[0])).toEqual([
        'clientaddr: refused "not-an-address": unattributable (unknown-peer)',
        "clientaddr: refused an unknown peer: unattributable (unknown-peer)",
      ]);
    } finally {
      warn.mockRestore();
    }
  });
});

describe("the rate-limit key: one client, one bucket", () => {
  it("is the canonical address: a mapped IPv4 client is its IPv4, a zone is dropped", () => {
    expect(rateLimitKey(answer("203.0.113.7", { host: "gw.example" }))).toBe("203.0.113.7");
    expect(rateLimitKey(answer("::ffff:203.0.113.7", { host: "gw.example" }))).toBe("203.0.113.7");
    expect(rateLimitKey(answer("127.0.0.1", { host: "localhost", "x-forwarded-for": "::ffff:198.51.100.4" }, { trustedProxies: ["loopback"] }))).toBe("198.51.100.4");
  });

  it("groups an IPv6 client by its /64, or the prefix asked for", () => {
    const v6 = answer("2001:db8:1:2:3:4:5:6", { host: "gw.example" });
    expect(rateLimitKey(v6)).toBe("2001:db8:1:2::/64");
    expect(rateLimitKey(v6, { ipv6Prefix: 48 })).toBe("2001:db8:1::/48");
    expect(rateLimitKey(v6, { ipv6Prefix: 128 })).toBe("2001:db8:1:2:3:4:5:6");
    expect(rateLimitKey(v6, { ipv6Prefix: 0 })).toBe("::/0");
    expect(() => rateLimitKey(v6, { ipv6Prefix: 129 })).toThrow(ClientAddressConfigError);
    // A prefix that ends inside a byte keeps that byte's leading bits.
    expect(rateLimitKey(answer("2001:db8:1:2ff:1:2:3:4", { host: "gw.example" }), { ipv6Prefix: 60 })).toBe("2001:db8:1:2f0::/60");
    expect(rateLimitKey(answer("2001:db8:1:2ff:1:2:3:4", { host: "gw.example" }), { ipv6Prefix: 1 })).toBe("::/1");
  });

  it("refuses an ipv6Prefix that is not an integer from 0 to 128, naming it", () => {
    const v6 = answer("2001:db8:1:2:3:4:5:6", { host: "gw.example" });
    for (const ipv6Prefix of [-1, 64.5, Number.NaN, 129, "64" as unknown as number]) {
      let caught: unknown;
      try {
        rateLimitKey(v6, { ipv6Prefix });
      } catch (error) {
        caught = error;
      }
      expect(caught, String(ipv6Prefix)).toBeInstanceOf(ClientAddressConfigError);
      expect((caught as ClientAddressConfigError).option).toBe("ipv6Prefix");
      expect((caught as Error).message).toBe(`ipv6Prefix must be an integer from 0 to 128, got ${JSON.stringify(ipv6Prefix)}`);
    }
  });

  it("keys an unattributable request by its peer: the declared source behind a balancer, else the socket's", () => {
    expect(rateLimitKey(answer("127.0.0.1", { host: "localhost", "x-forwarded-for": "203.0.113.7" }))).toBe("127.0.0.1");
    expect(rateLimitKey(answer("10.0.0.5", { host: "gw.example", "x-forwarded-for": "1.2.3.4" }, {}, "198.51.100.9"))).toBe("198.51.100.9");
    expect(rateLimitKey(answer(undefined, { host: "localhost" }))).toBe("unknown");
  });

  it("keys by the peer, not the client a trusted proxy named, when that proxy also passed on an address it was not asked to", () => {
    // The client's address is read, but another hop is unseen: the request cannot be attributed to it.
    const unbelieved = answer("10.0.0.2", { host: "gw.example", "x-forwarded-for": "203.0.113.7", "cf-connecting-ip": "198.51.100.1" }, { trustedProxies: ["10.0.0.0/8"] });
    expect(unbelieved).toMatchObject({ address: "203.0.113.7", attribution: "unattributable" });
    expect(rateLimitKey(unbelieved)).toBe("10.0.0.2");
    // A chain that names nobody: the proxy's own key.
    const malformed = answer("10.0.0.2", { host: "gw.example", "x-forwarded-for": "unknown" }, { trustedProxies: ["10.0.0.0/8"] });
    expect(malformed.address).toBeNull();
    expect(rateLimitKey(malformed)).toBe("10.0.0.2");
    // An attributed client is its own key.
    expect(rateLimitKey(answer("10.0.0.2", { host: "gw.example", "x-forwarded-for": "203.0.113.7" }, { trustedProxies: ["10.0.0.0/8"] }))).toBe("203.0.113.7");
  });
});

describe("origin: the page against the gateway's own origin, for a remote client's WebSocket", () => {
  const through = (headers: Record<string, string | string[]>, options: ResolverOptions = {}) =>
    createResolver({ trustedProxies: ["loopback"], ...options }).resolve({ remoteAddress: "127.0.0.1", headers: { "x-forwarded-for": "203.0.113.7", ...headers } });

  // coder/code-server#6161 ("host 'x:443' does not match origin 'x'") and cc-remote#40 (X-Forwarded-Proto
  // ignored): behind a TLS proxy the gateway's own origin is the browser's request, read through the proxy.
  it("behind a TLS proxy, the browser's own page is the same origin, whatever port and scheme the proxy used", () => {
    const caddy = through({ host: "gw.example.com", "x-forwarded-proto": "https", "x-forwarded-host": "gw.example.com", origin: "https://gw.example.com" });
    expect(caddy.origin).toEqual({ sent: "https://gw.example.com", own: "https://gw.example.com", same: true });
    expect(isCrossSite(caddy)).toBe(false);
    const port443 = through({ host: "gw.example.com:443", "x-forwarded-proto": "https", origin: "https://gw.example.com" });
    expect(port443.origin).toMatchObject({ own: "https://gw.example.com", same: true });
    const port = through({ host: "gw.example.com", "x-forwarded-proto": "https", "x-forwarded-port": "8443", origin: "https://gw.example.com:8443" });
    expect(port.origin).toMatchObject({ own: "https://gw.example.com:8443", same: true });
  });

  // Cross-site WebSocket hijacking (Christian Schneider, 2013): a page elsewhere opens the socket with the
  // user's credentials; Vite CVE-2025-24010 and webpack-dev-server CVE-2025-30360 did not check.
  it("a page on another site, or the other scheme, is cross-site; a client without Origin is not", () => {
    expect(isCrossSite(through({ host: "gw.example.com", "x-forwarded-proto": "https", origin: "https://evil.example" }))).toBe(true);
    expect(isCrossSite(through({ host: "gw.example.com", "x-forwarded-proto": "https", origin: "http://gw.example.com" }))).toBe(true);
    const script = through({ host: "gw.example.com" });
    expect(script.origin).toEqual({ sent: null, own: "http://gw.example.com", same: false });
    expect(isCrossSite(script)).toBe(false);
  });

  // A sandboxed frame (<iframe sandbox="allow-scripts">) on any site opens a WebSocket with Origin: null
  // (RFC 6454 section 7.3): an opaque origin is never the gateway's own.
  it("an opaque origin, two Origin lines or an Origin that is not text is cross-site, not a script", () => {
    const sandboxed = through({ host: "gw.example.com", origin: "null" });
    expect(sandboxed.origin).toEqual({ sent: "null", own: "http://gw.example.com", same: false });
    expect(isCrossSite(sandboxed)).toBe(true);
    expect(isCrossSite(through({ host: "gw.example.com", origin: "null" }, { publicOrigins: ["http://gw.example.com"] }))).toBe(true);
    const twice = through({ host: "gw.example.com", origin: ["http://gw.example.com", "https://evil.example"] });
    expect(twice.origin.sent).toBe("http://gw.example.com, https://evil.example");
    expect(isCrossSite(twice)).toBe(true);
    const unreadable = through({ host: "gw.example.com", origin: 7 as unknown as string });
    expect(unreadable.origin).toEqual({ sent: "", own: "http://gw.example.com", same: false });
    expect(isCrossSite(unreadable)).toBe(true);
  });

  it("publicOrigins decide when given: a DNS-rebinding page that names its own Host is not the gateway", () => {
    const options = { publicOrigins: ["https://GW.example.com:443"] };
    const rebinding = through({ host: "evil.example", "x-forwarded-proto": "https", origin: "https://evil.example" }, options);
    expect(rebinding.origin).toEqual({ sent: "https://evil.example", own: "https://gw.example.com", same: false });
    // Without them, the rebinding page's Origin matches its own Host: only publicOrigins tell them apart.
    expect(through({ host: "evil.example", "x-forwarded-proto": "https", origin: "https://evil.example" }).origin.same).toBe(true);
    const own = through({ host: "gw.example.com", "x-forwarded-proto": "https", origin: "https://gw.example.com" }, options);
    expect(own.origin).toEqual({ sent: "https://gw.example.com", own: "https://gw.example.com", same: true });
    expect(() => createResolver({ publicOrigins: ["https://gw.example.com/app"] })).toThrow('publicOrigins[0] must be an http or https origin');
  });

  it("what a trusted proxy says that cannot be read leaves the own origin unknown; an untrusted peer's words are not read", () => {
    expect(through({ host: "gw.example.com", "x-forwarded-proto": "gopher", origin: "https://gw.example.com" }).origin).toEqual({ sent: "https://gw.example.com", own: null, same: false });
    const direct = createResolver().resolve({ remoteAddress: "203.0.113.7", headers: { host: "gw.example.com", "x-forwarded-proto": "https", origin: "https://gw.example.com" } });
    expect(direct.origin).toMatchObject({ own: "http://gw.example.com", same: false });
    expect(createResolver().resolve({ remoteAddress: "203.0.113.7", secure: true, headers: { host: "gw.example.com", origin: "https://gw.example.com" } }).origin.same).toBe(true);
  });
});
