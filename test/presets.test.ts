// Presets: one word for a front's trust, believed header and the other headers it writes (src/core/presets.ts),
// each row following the front's documentation or source; and Tailscale Serve's identity headers as claims.
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ClientAddress, ClientAddressConfigError, PRESETS, PRESET_NAMES, type PresetName, type ResolverOptions, createResolver } from "../src/core/index.js";

/** The shaped fixtures' request lines (fixtures/shaped: written after each front's source and documentation). */
const shaped = (name: string): string[] => (JSON.parse(readFileSync(new URL(`../fixtures/shaped/${name}.json`, import.meta.url), "utf8")) as { request: { rawHeaders: string[] } }).request.rawHeaders;
const resolve = (options: ResolverOptions, headers: Record<string, string | string[]> | string[], peer = "127.0.0.1") => createResolver(options).resolve({ remoteAddress: peer, headers });
/** A browser on this host through the front on loopback: what it sends, each front its own way. */
const HOST_BROWSER: Record<PresetName, Record<string, string>> = {
  cloudflared: { "cf-connecting-ip": "127.0.0.1", "x-forwarded-for": "127.0.0.1" },
  "tailscale-serve": { "x-forwarded-for": "127.0.0.1" },
  nginx: { "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1" },
  caddy: { "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http", "x-forwarded-host": "localhost:8080" },
  traefik: { "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1", "x-forwarded-host": "localhost:8080", "x-forwarded-port": "8080", "x-forwarded-proto": "http" },
  haproxy: { "x-forwarded-for": "127.0.0.1" },
};
const page = { host: "localhost:8080", origin: "http://localhost:8080" };

describe("presets", () => {
  it("are cloudflared, tailscale-serve, nginx, caddy, traefik and haproxy, each naming what it follows", () => {
    expect(PRESET_NAMES).toEqual(["cloudflared", "tailscale-serve", "nginx", "caddy", "traefik", "haproxy"]);
    for (const row of PRESETS) expect(row.follows, row.name).toMatch(/\w+\.(com|org|go)\b|\//);
  });

  it("a preset is the trust and header it stands for (and knows what else its front writes, below)", () => {
    for (const row of PRESETS) {
      for (const headers of [{ ...page, [row.header]: "127.0.0.1" }, { host: "gw.example.com", [row.header]: "203.0.113.7" }, { ...page }, { ...page, "x-client-ip": "127.0.0.1" }]) {
        const preset = resolve({ preset: row.name }, headers);
        const written = resolve({ trustedProxies: [...row.trustedProxies], header: row.header }, headers);
        expect(preset, row.name).toMatchObject({ address: written.address, loopbackEquivalent: written.loopbackEquivalent, basis: written.basis, hops: written.hops, attribution: written.attribution });
      }
    }
  });

  it("entries in trustedProxies add to the preset's (a front in a container), and header replaces its header", () => {
    const inContainer = resolve({ preset: "nginx", trustedProxies: ["172.18.0.5"] }, { host: "gw.example.com", "x-forwarded-for": "203.0.113.7" }, "172.18.0.5");
    expect(inContainer).toMatchObject({ address: "203.0.113.7", basis: "x-forwarded-for:remote-client", attribution: "proxied", preset: "nginx" });
    expect(resolve({ preset: "nginx" }, { "x-forwarded-for": "203.0.113.7" }, "172.18.0.5")).toMatchObject({ address: "172.18.0.5", preset: null });
    expect(resolve({ preset: "nginx", header: "x-real-ip" }, { "x-real-ip": "203.0.113.7" })).toMatchObject({ address: "203.0.113.7", basis: "x-real-ip:remote-client" });
    // An error names the caller's own entry and index, not one shifted by the preset's entries.
    expect(() => createResolver({ preset: "caddy", trustedProxies: ["10.0.0.0/33"] })).toThrow('trustedProxies[0] "10.0.0.0/33" has an invalid prefix length');
  });

  it("an unknown preset, or a verify hook that is not a function, is a configuration error naming it", () => {
    expect(() => createResolver({ preset: "apache" as PresetName })).toThrow(new ClientAddressConfigError('preset must be one of cloudflared, tailscale-serve, nginx, caddy, traefik, haproxy, got "apache"', "preset", "apache"));
    expect(() => createResolver({ verify: "whois" as never })).toThrow(/^verify must be a function, got string$/);
  });

  it.each(PRESET_NAMES)("%s: a browser on this host through the front is local, and the front is named", (name) => {
    expect(resolve({ preset: name }, { ...page, ...HOST_BROWSER[name] })).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: true, attribution: "proxied", preset: name, attributionReason: null });
  });

  // The hidden check of the issue: each preset's own headers, forged by a client the front does not stand for.
  it.each(PRESET_NAMES)("%s: its headers from a peer it does not trust are never believed, never local", (name) => {
    const forged = { ...page, ...HOST_BROWSER[name], "tailscale-user-login": "admin@example.com" };
    for (const peer of ["203.0.113.9", "172.18.0.1", "192.168.1.20", "::ffff:10.0.0.3"]) {
      const result = resolve({ preset: name }, forged, peer);
      expect(result, `${name} from ${peer}`).toMatchObject({ loopbackEquivalent: false, basis: "socket:remote-client", preset: null, claims: null });
      expect(result.address).not.toBe("127.0.0.1");
    }
  });
});

describe("what else a front writes: agreeing, it is read as that front's; disagreeing, a hop the walk cannot see", () => {
  it("cloudflared: CF-Connecting-IP and the X-Forwarded-For entry Cloudflare appended name the visitor: proxied, never refused", () => {
    const headers = shaped("cloudflared-dashboard-websocket");
    const answer = resolve({ preset: "cloudflared", unattributable: "reject" }, headers);
    expect(answer).toMatchObject({ address: "203.0.113.7", basis: "cf-connecting-ip:remote-client", attribution: "proxied", attributionReason: null, preset: "cloudflared" });
    expect(createResolver({ preset: "cloudflared", unattributable: "reject" }).refusal(answer)).toBeNull();
    // Written out without the preset, the same request's X-Forwarded-For is a header nobody said the front writes.
    expect(resolve({ trustedProxies: ["loopback"], header: "cf-connecting-ip" }, headers)).toMatchObject({ attribution: "unattributable", attributionReason: "unbelieved-header" });
    // What a client sent before Cloudflare appended the visitor is never read.
    expect(resolve({ preset: "cloudflared" }, { ...page, "cf-connecting-ip": "127.0.0.1", "x-forwarded-for": "203.0.113.66, 127.0.0.1" })).toMatchObject({ loopbackEquivalent: true });
  });

  it("traefik: X-Real-Ip names the peer it saw (or a client a front it trusts named): an address the walk read; another means a hop unseen", () => {
    const agreeing = { ...page, "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1" };
    expect(resolve({ preset: "traefik" }, agreeing)).toMatchObject({ loopbackEquivalent: true, basis: "x-forwarded-for:loopback" });
    expect(resolve({ trustedProxies: ["loopback"] }, agreeing)).toMatchObject({ loopbackEquivalent: false, basis: "x-forwarded-for:unread-forwarding-header" });
    const other = resolve({ preset: "traefik" }, { ...page, "x-forwarded-for": "127.0.0.1", "x-real-ip": "10.0.0.7" });
    expect(other).toMatchObject({ loopbackEquivalent: false, basis: "x-forwarded-for:unread-forwarding-header", attribution: "unattributable", attributionReason: "unbelieved-header" });
    expect(other.diagnostics[0]).toEqual({
      code: "unbelieved-forwarding-header",
      message: expect.stringMatching(/^trusted proxy 127\.0\.0\.1 passed on X-Real-IP \(written by .*\), which traefik writes about the peer it saw, but it names no address the walk read in X-Forwarded-For \(or X-Forwarded-For is absent\): a hop the walk cannot see, so not local$/),
    });
    // Behind a balancer Traefik trusts, it passes that balancer's X-Real-Ip on: a client the walk read, no hop unseen.
    const behindBalancer = resolve({ preset: "traefik", trustedProxies: ["10.0.0.2"], unattributable: "reject" }, { ...page, "x-forwarded-for": "203.0.113.7, 10.0.0.2", "x-real-ip": "203.0.113.7" });
    expect(behindBalancer).toMatchObject({ address: "203.0.113.7", attribution: "proxied", attributionReason: null, preset: "traefik" });
    // An address the walk did not read (left of the client) is a hop it cannot see.
    expect(resolve({ preset: "traefik" }, { ...page, "x-forwarded-for": "127.0.0.9, 127.0.0.1", "x-real-ip": "203.0.113.7" })).toMatchObject({ loopbackEquivalent: false, attributionReason: "unbelieved-header" });
    // A walk that ended on an entry that is not an address explains every condition, this one included.
    const ended = resolve({ preset: "traefik" }, { ...page, "x-forwarded-for": "unknown, 127.0.0.1", "x-real-ip": "127.0.0.1" });
    expect(ended).toMatchObject({ address: null, basis: "x-forwarded-for:invalid-entry" });
    expect(ended.checks.forwarding).toBe(true);
    for (const realIp of ["127.0.0.1, 127.0.0.1", ["127.0.0.1", "127.0.0.1"], "unknown"]) {
      expect(resolve({ preset: "traefik" }, { ...page, "x-forwarded-for": "127.0.0.1", "x-real-ip": realIp }).loopbackEquivalent, String(realIp)).toBe(false);
    }
  });

  it("nginx configured with X-Real-IP alone: no X-Forwarded-For to agree with, so not local (the client it names is unseen)", () => {
    expect(resolve({ preset: "nginx" }, { ...page, "x-real-ip": "203.0.113.7" })).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:unread-forwarding-header" });
  });

  it("an address header the front does not write is a hop unseen, with a preset as without", () => {
    expect(resolve({ preset: "caddy" }, { ...page, "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1" })).toMatchObject({ loopbackEquivalent: false, attributionReason: "unbelieved-header" });
    expect(resolve({ preset: "cloudflared" }, { ...page, "cf-connecting-ip": "127.0.0.1", "fly-client-ip": "127.0.0.1" })).toMatchObject({ loopbackEquivalent: false });
  });
});

describe("tailscale-serve: who the user is, as claims", () => {
  afterEach(() => vi.useRealTimers());
  const serve = shaped("tailscale-serve-dashboard-websocket");
  const claims = { "tailscale-user-login": "alice@example.com", "tailscale-user-name": "Alice Architect", "tailscale-user-profile-pic": "https://example.com/alice.png" };

  it("reads the identity headers from the trusted front only, and they never make a client local", () => {
    const answer = resolve({ preset: "tailscale-serve" }, serve);
    expect(answer).toMatchObject({ address: "100.101.102.103", loopbackEquivalent: false, attribution: "proxied", preset: "tailscale-serve", claims });
    expect(JSON.parse(JSON.stringify(answer)).claims).toEqual(claims);
    // OpenClaw's advisory (a *.ts.net Host on loopback taken as local): here the Host is not this machine; and
    // without the X-Forwarded-For Serve always sets, the front named nobody: a process on this host wrote the claim.
    const onLoopback = resolve({ preset: "tailscale-serve" }, ["Host", "machine.tailnet.ts.net", "Tailscale-User-Login", "alice@example.com"]);
    expect(onLoopback).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:host-not-local", claims: null });
    expect(resolve({ preset: "tailscale-serve" }, { ...page, "tailscale-user-login": "admin@example.com" })).toMatchObject({ loopbackEquivalent: true, attribution: "direct-local", claims: null });
    expect(resolve({ preset: "tailscale-serve" }, { ...page, "x-forwarded-for": "100.64.0.1", "tailscale-user-login": "" }).claims).toBeNull();
    expect(resolve({ preset: "tailscale-serve" }, serve, "203.0.113.9").claims).toBeNull();
    expect(resolve({ trustedProxies: ["loopback"] }, serve).claims).toBeNull();
    expect(resolve({ preset: "tailscale-serve" }, ["Host", "localhost", "X-Forwarded-For", "100.64.0.1"]).claims).toBeNull();
    // An entry that is not an address names no client to check the claims against.
    expect(resolve({ preset: "tailscale-serve" }, ["X-Forwarded-For", "unknown", "Tailscale-User-Login", "alice@example.com"])).toMatchObject({ address: null, claims: null });
    // A repeated claim cannot be told to be the front's: left out.
    expect(resolve({ preset: "tailscale-serve" }, ["X-Forwarded-For", "100.64.0.1", "Tailscale-User-Login", "alice@example.com", "Tailscale-User-Login", "admin@example.com", "Tailscale-User-Name", "Alice"]).claims).toEqual({ "tailscale-user-name": "Alice" });
  });

  it("verifyClaims asks the gateway's hook, with the claims and the answer; false without claims or a hook", async () => {
    const verify = vi.fn(async (seen: Record<string, string>, answer: ClientAddress) => seen["tailscale-user-login"] === "alice@example.com" && answer.address === "100.101.102.103");
    const resolver = createResolver({ preset: "tailscale-serve", verify });
    expect(await resolver.verifyClaims(resolver.resolve({ remoteAddress: "127.0.0.1", headers: serve }))).toBe(true);
    expect(verify).toHaveBeenCalledWith(claims, expect.objectContaining({ address: "100.101.102.103" }));
    expect(await resolver.verifyClaims(resolver.resolve({ remoteAddress: "127.0.0.1", headers: ["Host", "localhost"] }))).toBe(false);
    expect(verify).toHaveBeenCalledTimes(1);
    const noHook = createResolver({ preset: "tailscale-serve" });
    expect(await noHook.verifyClaims(noHook.resolve({ remoteAddress: "127.0.0.1", headers: serve }))).toBe(false);
  });

  it("a hook that throws, rejects, answers other than true or takes over 5 s is unverified", async () => {
    for (const verify of [() => { throw new Error("tailscaled down"); }, () => Promise.reject(new Error("x")), () => "yes" as never, () => 1 as never]) {
      const resolver = createResolver({ preset: "tailscale-serve", verify });
      expect(await resolver.verifyClaims(resolver.resolve({ remoteAddress: "127.0.0.1", headers: serve }))).toBe(false);
    }
    vi.useFakeTimers();
    const resolver = createResolver({ preset: "tailscale-serve", verify: () => new Promise<boolean>(() => {}) });
    const pending = resolver.verifyClaims(resolver.resolve({ remoteAddress: "127.0.0.1", headers: serve }));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await pending).toBe(false);
  });

  it("a hook that throws or rejects is unverified at once, not when the 5 s are up", async () => {
    vi.useFakeTimers();
    for (const verify of [() => { throw new Error("tailscaled down"); }, () => Promise.reject(new Error("x"))]) {
      const resolver = createResolver({ preset: "tailscale-serve", verify });
      let held: boolean | undefined;
      void resolver.verifyClaims(resolver.resolve({ remoteAddress: "127.0.0.1", headers: serve })).then((value) => (held = value));
      await vi.advanceTimersByTimeAsync(0);
      expect(held).toBe(false);
    }
  });

  it("shares a check in flight, holds 8 at once and 64 distinct clients a minute (OpenClaw's bounds)", async () => {
    vi.useFakeTimers();
    // Ten seconds into a minute, so that the second below stays within it.
    vi.setSystemTime(new Date("2026-12-06T12:00:10Z"));
    const release: Array<(held: boolean) => void> = [];
    const verify = vi.fn(() => new Promise<boolean>((settle) => release.push(settle)));
    const resolver = createResolver({ preset: "tailscale-serve", verify });
    const client = (n: number) => resolver.resolve({ remoteAddress: "127.0.0.1", headers: { "x-forwarded-for": `100.64.0.${n}`, "tailscale-user-login": `u${n}@example.com` } });
    const same = [resolver.verifyClaims(client(1)), resolver.verifyClaims(client(1))];
    expect(verify).toHaveBeenCalledTimes(1);
    const more = Array.from({ length: 7 }, (_, i) => resolver.verifyClaims(client(i + 2)));
    expect(verify).toHaveBeenCalledTimes(8);
    expect(await resolver.verifyClaims(client(9))).toBe(false); // a ninth at once: not asked
    expect(verify).toHaveBeenCalledTimes(8);
    for (const settle of release.splice(0)) settle(true);
    expect(await Promise.all([...same, ...more])).toEqual(Array(9).fill(true));
    // 8 distinct clients so far this minute; 56 more may be asked, then none until the minute turns.
    for (let n = 10; n < 66; n++) {
      const check = resolver.verifyClaims(client(n));
      release.shift()!(true);
      expect(await check).toBe(true);
    }
    expect(await resolver.verifyClaims(client(66))).toBe(false);
    expect(verify).toHaveBeenCalledTimes(64);
    // A client already seen this minute is asked again; a new one waits for the next minute.
    const again = resolver.verifyClaims(client(1));
    release.shift()!(true);
    expect(await again).toBe(true);
    vi.advanceTimersByTime(1_000);
    expect(await resolver.verifyClaims(client(66))).toBe(false);
    vi.advanceTimersByTime(59_000);
    const next = resolver.verifyClaims(client(66));
    release.shift()!(false);
    expect(await next).toBe(false);
    expect(verify).toHaveBeenCalledTimes(66);
  });
});
