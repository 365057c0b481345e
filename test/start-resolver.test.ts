// startResolver: proxies named like containers (issue 26, item 3). A name is looked up at start-up and every
// refreshMs; its addresses are trusted as literals would be, a changed set is swapped in whole (the old
// address is no longer trusted), a failing name keeps its last good addresses and is reported once per
// transition, a name that never resolved trusts nothing, and the start is never held by a hung lookup.
// DNS is a fake lookup here (one test asks the system for "localhost", which needs no network).
import { afterEach, describe, expect, it, vi } from "vitest";
import { ClientAddressConfigError, type Resolver, compileTrustedProxies, createResolver } from "../src/core/index.js";
import { type StartResolverOptions, type StartedResolver, startResolver } from "../src/dns/index.js";

type Answer = readonly string[] | "hang" | { readonly code: string };

/** A DNS of our own: `table` says what each name answers now (absent: ENOTFOUND), `calls` what was asked. */
function fakeDns(table: Record<string, Answer>) {
  const calls: string[] = [];
  const lookup = async (name: string, options: { all: true }) => {
    expect(options).toEqual({ all: true });
    calls.push(name);
    const answer = table[name];
    if (answer === "hang") return new Promise<never>(() => {});
    if (answer === undefined || !Array.isArray(answer)) {
      const code = (answer as { code: string } | undefined)?.code ?? "ENOTFOUND";
      throw Object.assign(new Error(`getaddrinfo ${code} ${name}`), { code });
    }
    return answer.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return { table, calls, lookup };
}

const started: StartedResolver[] = [];

/** startResolver with lines collected, stopped after the test. */
async function start(options: StartResolverOptions) {
  const lines: string[] = [];
  const resolver = await startResolver({ warn: (line) => lines.push(line), ...options });
  started.push(resolver);
  return { resolver, lines };
}

afterEach(() => {
  for (const resolver of started.splice(0)) resolver.stop();
  vi.useRealTimers();
});

/** A request from `peer` forwarding for 203.0.113.7: believed only when the peer is trusted. */
const via = (resolver: Resolver, peer: string) => resolver.resolve({ remoteAddress: peer, headers: { "x-forwarded-for": "203.0.113.7", host: "gw.example" } });
const trusts = (resolver: Resolver, peer: string) => via(resolver, peer).basis.startsWith("x-forwarded-for:");

describe("startResolver: a name's addresses", () => {
  it("trusts every address of a name, and answers as createResolver does for the same literal list", async () => {
    const dns = fakeDns({ proxy: ["172.18.0.3", "fd00::3"] });
    const { resolver, lines } = await start({ trustedProxies: ["10.0.0.1", "proxy"], lookup: dns.lookup });
    const literal = createResolver({ trustedProxies: ["10.0.0.1", "172.18.0.3", "fd00::3"] });
    for (const peer of ["172.18.0.3", "fd00::3", "10.0.0.1", "172.18.0.4", "::ffff:172.18.0.3", "127.0.0.1"]) {
      expect(via(resolver, peer).toJSON(), peer).toEqual(via(literal, peer).toJSON());
    }
    expect(via(resolver, "172.18.0.3").address).toBe("203.0.113.7");
    expect(via(resolver, "172.18.0.3").basis).toBe("x-forwarded-for:remote-client");
    expect(trusts(resolver, "172.18.0.4")).toBe(false);
    expect(resolver.names).toEqual([{ name: "proxy", addresses: ["172.18.0.3", "fd00::3"], error: null, resolvedAt: expect.any(Number) }]);
    // A first lookup that succeeds is not news; a private address is what a proxy of one's own has.
    expect(lines).toEqual([]);
  });

  it("looks each name up once, as DNS writes it (lower case, no final dot), beside literal entries and presets", async () => {
    const dns = fakeDns({ proxy: ["172.18.0.3"], "nginx-proxy-manager_app_1": ["172.18.0.5"] });
    const { resolver } = await start({ trustedProxies: ["Proxy", "loopback", "proxy.", "nginx-proxy-manager_app_1", "192.168.1.0/24"], lookup: dns.lookup });
    expect(dns.calls.sort()).toEqual(["nginx-proxy-manager_app_1", "proxy"]);
    expect(resolver.names.map((name) => name.name)).toEqual(["proxy", "nginx-proxy-manager_app_1"]);
    for (const peer of ["172.18.0.3", "172.18.0.5", "127.0.0.1", "192.168.1.77"]) expect(trusts(resolver, peer), peer).toBe(true);
  });

  it("trusts a looked-up address as the core reads it: mapped IPv6 as IPv4, a zone dropped; drops and reports what is not an address", async () => {
    const lookup = async () => [{ address: "::ffff:172.18.0.3", family: 6 }, { address: "fe80::1%eth0", family: 6 }, { address: "proxy.internal", family: 4 }, { address: 42 as unknown as string }];
    const { resolver, lines } = await start({ trustedProxies: ["proxy"], lookup });
    expect(resolver.names[0]!.addresses).toEqual(["172.18.0.3", "fe80::1"]);
    expect(trusts(resolver, "172.18.0.3")).toBe(true);
    expect(trusts(resolver, "fe80::1")).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^clientaddr: trustedProxies name "proxy" resolved to 172\.18\.0\.3, fe80::1, .*"proxy\.internal", 42; dropped, not trusted$/);
    // The same refusal again is not news.
    await resolver.refresh();
    expect(lines).toHaveLength(1);
  });

  it("trusts a public address it was named to, and says once that it is public (never advising to trust one)", async () => {
    const dns = fakeDns({ proxy: ["203.0.113.10", "172.18.0.3"] });
    const { resolver, lines } = await start({ trustedProxies: ["proxy"], lookup: dns.lookup });
    expect(trusts(resolver, "203.0.113.10")).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^clientaddr: trustedProxies name "proxy" resolved to 203\.0\.113\.10, a public address: /);
    await resolver.refresh();
    await resolver.refresh();
    expect(lines).toHaveLength(1);
  });

  it("accepts a compiled list as is: it holds no names, and nothing is looked up", async () => {
    const dns = fakeDns({});
    const trustedProxies = compileTrustedProxies(["172.18.0.0/16"]);
    const { resolver } = await start({ trustedProxies, lookup: dns.lookup, unattributable: "reject" });
    const literal = createResolver({ trustedProxies, unattributable: "reject" });
    expect(resolver.names).toEqual([]);
    await resolver.refresh();
    expect(dns.calls).toEqual([]);
    expect(via(resolver, "172.18.0.9").toJSON()).toEqual(via(literal, "172.18.0.9").toJSON());
    expect(resolver.unattributable).toBe("reject");
    const refused = via(resolver, "10.9.9.9");
    expect(resolver.refusal(refused)).toEqual(literal.refusal(via(literal, "10.9.9.9")));
    expect(resolver.refusal(refused)).not.toBeNull();
  });

  it("looks a name up with node:dns by default: localhost is loopback, offline too", async () => {
    const { resolver } = await start({ trustedProxies: ["localhost"] });
    const [localhost] = resolver.names;
    expect(localhost!.error).toBeNull();
    expect(localhost!.addresses.length).toBeGreaterThan(0);
    for (const address of localhost!.addresses) expect(["127.0.0.1", "::1"]).toContain(address);
    expect(via(resolver, localhost!.addresses[0]!).address).toBe("203.0.113.7");
  });
});

describe("startResolver: names that change or fail", () => {
  it("swaps a changed address in within one refresh: the old address is no longer trusted, the new one is", async () => {
    vi.useFakeTimers();
    const dns = fakeDns({ proxy: ["172.18.0.3"] });
    const { resolver, lines } = await start({ trustedProxies: ["proxy"], lookup: dns.lookup, refreshMs: 1_000 });
    expect(trusts(resolver, "172.18.0.3")).toBe(true);
    dns.table.proxy = ["172.18.0.9"];
    await vi.advanceTimersByTimeAsync(1_000);
    expect(trusts(resolver, "172.18.0.3")).toBe(false);
    expect(via(resolver, "172.18.0.3").address).toBe("172.18.0.3");
    expect(trusts(resolver, "172.18.0.9")).toBe(true);
    expect(resolver.names[0]!.addresses).toEqual(["172.18.0.9"]);
    expect(lines).toEqual([`clientaddr: trustedProxies name "proxy" changed its addresses, to 172.18.0.9 (was 172.18.0.3): trusting 172.18.0.9 only`]);
  });

  it("keeps a name's last good addresses through a DNS server that does not answer, for maxStaleMs, then trusts nothing for it", async () => {
    vi.useFakeTimers();
    const dns = fakeDns({ proxy: ["172.18.0.3"] });
    const { resolver, lines } = await start({ trustedProxies: ["proxy"], lookup: dns.lookup, refreshMs: 1_000 });
    const resolvedAt = resolver.names[0]!.resolvedAt;
    dns.table.proxy = { code: "EAI_AGAIN" };
    await vi.advanceTimersByTimeAsync(1_000);
    // One failed round: still trusted (the default maxStaleMs is twice refreshMs).
    expect(trusts(resolver, "172.18.0.3")).toBe(true);
    expect(resolver.names).toEqual([{ name: "proxy", addresses: ["172.18.0.3"], error: "EAI_AGAIN", resolvedAt }]);
    expect(lines).toEqual([`clientaddr: trustedProxies name "proxy" stopped resolving (EAI_AGAIN): still trusting its last addresses 172.18.0.3 for at most 2 s after they were looked up, unless it resolves again`]);
    dns.table.proxy = { code: "ETIMEOUT" };
    await vi.advanceTimersByTimeAsync(1_000);
    // Two seconds since the lookup that found it: the address may be another container's by now.
    expect(trusts(resolver, "172.18.0.3")).toBe(false);
    expect(resolver.names[0]).toMatchObject({ addresses: [], error: "ETIMEOUT", resolvedAt });
    expect(lines[1]).toBe(`clientaddr: trustedProxies name "proxy" has not resolved for 2 s (ETIMEOUT): no longer trusting 172.18.0.3, nor anything for it until it resolves again`);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(lines).toHaveLength(2);
    dns.table.proxy = ["172.18.0.3"];
    await vi.advanceTimersByTimeAsync(1_000);
    expect(lines[2]).toBe(`clientaddr: trustedProxies name "proxy" resolves again, to 172.18.0.3 (its last error was ETIMEOUT): trusting 172.18.0.3`);
    expect(trusts(resolver, "172.18.0.3")).toBe(true);
    expect(resolver.names[0]!.error).toBeNull();
    expect(resolver.names[0]!.resolvedAt).toBeGreaterThan(resolvedAt!);
  });

  // A stopped Compose service: its name is gone, and Docker may give its address to the next container.
  it("trusts nothing for a name DNS says does not exist, at once: a stranger at the old address is not trusted", async () => {
    const dns = fakeDns({ proxy: ["172.18.0.3"] });
    const { resolver, lines } = await start({ trustedProxies: ["proxy"], lookup: dns.lookup, maxStaleMs: 600_000 });
    dns.table.proxy = { code: "ENOTFOUND" };
    await resolver.refresh();
    const stranger = resolver.resolve({ remoteAddress: "172.18.0.3", headers: { host: "127.0.0.1:18789", "x-forwarded-for": "127.0.0.1" } });
    expect(stranger).toMatchObject({ address: "172.18.0.3", loopbackEquivalent: false, basis: "socket:remote-client" });
    expect(lines).toEqual([`clientaddr: trustedProxies name "proxy" does not exist any more (ENOTFOUND): no longer trusting 172.18.0.3, nor anything for it until it resolves again`]);
  });

  it("does not fail the start for a name that does not resolve: it trusts nothing until it does", async () => {
    const dns = fakeDns({ proxy: ["172.18.0.3"] });
    const { resolver, lines } = await start({ trustedProxies: ["proxy", "late"], lookup: dns.lookup });
    expect(resolver.names[1]).toEqual({ name: "late", addresses: [], error: "ENOTFOUND", resolvedAt: null });
    expect(lines).toEqual([`clientaddr: trustedProxies name "late" does not resolve (ENOTFOUND): trusting no address for it until it does`]);
    expect(trusts(resolver, "172.18.0.3")).toBe(true);
    expect(trusts(resolver, "172.18.0.7")).toBe(false);
    dns.table.late = ["172.18.0.7"];
    await resolver.refresh();
    expect(trusts(resolver, "172.18.0.7")).toBe(true);
    expect(lines[1]).toBe(`clientaddr: trustedProxies name "late" resolves now, to 172.18.0.7 (its last error was ENOTFOUND): trusting 172.18.0.7`);
  });

  it("takes an answer of no address as the name having none (dropped), and one of no usable address as a failure (kept a while)", async () => {
    let answer: Array<{ address: string }> = [{ address: "172.18.0.3" }];
    const { resolver, lines } = await start({ trustedProxies: ["proxy"], lookup: async () => answer });
    answer = [{ address: "not-an-address" }];
    await resolver.refresh();
    expect(resolver.names[0]).toMatchObject({ addresses: ["172.18.0.3"], error: 'EBADRESP: not an IP address: "not-an-address"' });
    expect(trusts(resolver, "172.18.0.3")).toBe(true);
    answer = [];
    await resolver.refresh();
    expect(resolver.names[0]).toMatchObject({ addresses: [], error: "ENODATA: the lookup answered no address" });
    expect(lines).toHaveLength(2);
    expect(trusts(resolver, "172.18.0.3")).toBe(false);
  });

  it("bounds a hung lookup: the start goes on without that name, and the other names are trusted", async () => {
    vi.useFakeTimers();
    const dns = fakeDns({ proxy: ["172.18.0.3"], stuck: "hang" });
    const starting = start({ trustedProxies: ["proxy", "stuck"], lookup: dns.lookup, refreshMs: 1_000 });
    await vi.advanceTimersByTimeAsync(1_000);
    const { resolver, lines } = await starting;
    expect(resolver.names.map(({ name, error }) => [name, error])).toEqual([
      ["proxy", null],
      ["stuck", "ETIMEOUT"],
    ]);
    expect(trusts(resolver, "172.18.0.3")).toBe(true);
    expect(lines).toEqual([`clientaddr: trustedProxies name "stuck" does not resolve (ETIMEOUT): trusting no address for it until it does`]);
  });

  it("takes a lookup that throws instead of rejecting as a failed lookup; a warn that throws loses only its line", async () => {
    const lookup = (() => {
      throw new Error("no resolver configured");
    }) as unknown as StartResolverOptions["lookup"];
    const resolver = await startResolver({ trustedProxies: ["proxy"], lookup, warn: () => {
      throw new Error("log closed");
    } });
    started.push(resolver);
    expect(resolver.names[0]).toEqual({ name: "proxy", addresses: [], error: "no resolver configured", resolvedAt: null });
  });

  it("reports through console.warn by default", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const resolver = await startResolver({ trustedProxies: ["late"], lookup: fakeDns({}).lookup });
      started.push(resolver);
      expect(warn.mock.calls).toEqual([[`clientaddr: trustedProxies name "late" does not resolve (ENOTFOUND): trusting no address for it until it does`]]);
    } finally {
      warn.mockRestore();
    }
  });
});

describe("startResolver: rounds and stop()", () => {
  it("runs one round at a time: a refresh during a round waits for it", async () => {
    const dns = fakeDns({ proxy: ["172.18.0.3"] });
    const { resolver } = await start({ trustedProxies: ["proxy"], lookup: dns.lookup });
    dns.calls.length = 0;
    await Promise.all([resolver.refresh(), resolver.refresh(), resolver.refresh()]);
    expect(dns.calls).toEqual(["proxy"]);
  });

  it("stop() ends the lookups and keeps the last answers; it may be called twice", async () => {
    vi.useFakeTimers();
    const dns = fakeDns({ proxy: ["172.18.0.3"] });
    const { resolver } = await start({ trustedProxies: ["proxy"], lookup: dns.lookup, refreshMs: 1_000 });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(dns.calls).toHaveLength(3);
    resolver.stop();
    resolver.stop();
    dns.table.proxy = ["172.18.0.9"];
    await vi.advanceTimersByTimeAsync(10_000);
    await resolver.refresh();
    expect(dns.calls).toHaveLength(3);
    expect(trusts(resolver, "172.18.0.3")).toBe(true);
    expect(trusts(resolver, "172.18.0.9")).toBe(false);
  });

  it("a round finishing after stop() changes nothing", async () => {
    vi.useFakeTimers();
    const dns = fakeDns({ proxy: ["172.18.0.3"] });
    const { resolver, lines } = await start({ trustedProxies: ["proxy"], lookup: dns.lookup, refreshMs: 1_000 });
    dns.table.proxy = "hang";
    const round = resolver.refresh();
    resolver.stop();
    await vi.advanceTimersByTimeAsync(1_000);
    await round;
    expect(resolver.names[0]!.error).toBeNull();
    expect(lines).toEqual([]);
  });

  it("never keeps the process alive: the interval's timer is unref'd", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
    const before = timers();
    const dns = fakeDns({ proxy: ["172.18.0.3"] });
    await start({ trustedProxies: ["proxy"], lookup: dns.lookup, refreshMs: 100 });
    expect(timers()).toBe(before);
  });
});

describe("startResolver: bad options", () => {
  const rejects = async (options: unknown, option: string, index = -1) => {
    const error = await startResolver(options as StartResolverOptions).then(
      () => null,
      (error: unknown) => error,
    );
    expect(error, JSON.stringify(options)).toBeInstanceOf(ClientAddressConfigError);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as ClientAddressConfigError).option).toBe(option);
    expect((error as ClientAddressConfigError).index).toBe(index);
    expect((error as Error).message).toContain(option === "options" ? "options" : option);
  };

  it("rejects each with a ClientAddressConfigError naming the option, before any lookup", async () => {
    const dns = fakeDns({ proxy: ["172.18.0.3"] });
    const lookup = dns.lookup;
    await rejects(null, "options");
    await rejects({ trustedProxies: ["proxy"], lookup: "dns" }, "lookup");
    await rejects({ trustedProxies: ["proxy"], lookup, refreshMs: 50 }, "refreshMs");
    await rejects({ trustedProxies: ["proxy"], lookup, refreshMs: 1.5e3 + 0.5 }, "refreshMs");
    await rejects({ trustedProxies: ["proxy"], lookup, refreshMs: 2 ** 31 }, "refreshMs");
    await rejects({ trustedProxies: ["proxy"], lookup, refreshMs: "30000" }, "refreshMs");
    await rejects({ trustedProxies: ["proxy"], lookup, maxStaleMs: -1 }, "maxStaleMs");
    await rejects({ trustedProxies: ["proxy"], lookup, maxStaleMs: 0.5 }, "maxStaleMs");
    await rejects({ trustedProxies: ["proxy"], lookup, warn: "console" }, "warn");
    await rejects({ trustedProxies: ["proxy"], lookup, header: "x-bogus" }, "header");
    await rejects({ trustedProxies: ["proxy"], lookup, maxHops: -1 }, "maxHops");
    await rejects({ trustedProxies: ["proxy"], lookup, localOrigins: ["not an origin"] }, "localOrigins", 0);
    await rejects({ trustedProxies: "proxy", lookup }, "trustedProxies");
    expect(dns.calls).toEqual([]);
  });

  it("names a bad literal entry by its index in the list as given, names included", async () => {
    const dns = fakeDns({});
    await rejects({ trustedProxies: ["proxy", "other", "10.0.0.0/33"], lookup: dns.lookup }, "trustedProxies", 2);
    await rejects({ trustedProxies: ["proxy", 7], lookup: dns.lookup }, "trustedProxies", 1);
    expect(dns.calls).toEqual([]);
  });

  it("createResolver still refuses a name, pointing at startResolver", () => {
    expect(() => createResolver({ trustedProxies: ["10.0.0.1", "proxy"] })).toThrow(ClientAddressConfigError);
    expect(() => createResolver({ trustedProxies: ["10.0.0.1", "proxy"] })).toThrow(/trustedProxies\[1\] "proxy" is a DNS name.*startResolver/);
  });
});
