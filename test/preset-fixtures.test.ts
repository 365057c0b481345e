// The presets' fixtures, per preset: recorded through the fronts Debian packages (fixtures/recorded/presets/, by
// scripts/record-presets.ts), shaped after the source of those it does not (fixtures/hand-written/presets/:
// Traefik, cloudflared, Tailscale Serve), and each preset's own headers forged by a client from a peer the preset
// does not trust. Every one replays through the public API in test/fixtures.test.ts; here, that each preset has
// its cases and that each case says what it is.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type Fixture, loadFixtures, replayFixture } from "../src/cli/fixture.js";
import { PRESETS, PRESET_NAMES, type PresetName, canonicalAddress } from "../src/core/index.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));
const recorded = (await loadFixtures([path.join(FIXTURES, "recorded", "presets")])).map(({ fixture }) => fixture);
const handWritten = (await loadFixtures([path.join(FIXTURES, "hand-written", "presets")])).map(({ fixture }) => fixture);
const all = [...recorded, ...handWritten];
const shaped = handWritten.filter((fixture) => fixture.provenance.why!.startsWith("shaped: "));
const forged = handWritten.filter((fixture) => fixture.name.endsWith("-preset-forged-from-untrusted-peer"));

/** The preset a fixture is judged with, or undefined. */
const presetOf = (fixture: Fixture): PresetName | undefined => fixture.options.preset;
const headerNames = (fixture: Fixture) => new Set(fixture.request.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase()));
const isLoopback = (address: string) => /^127\./.test(canonicalAddress(address) ?? "") || canonicalAddress(address) === "::1";

describe("the presets' fixtures", () => {
  it("are recorded (nginx, caddy, haproxy) or shaped (traefik, cloudflared, tailscale-serve), each marked as such", () => {
    for (const fixture of recorded) expect(fixture.provenance.kind, fixture.name).toBe("recorded");
    for (const fixture of handWritten) expect(fixture.provenance.kind, fixture.name).toBe("hand-written");
    for (const fixture of shaped) {
      expect(fixture.description, fixture.name).toMatch(/^Shaped, not recorded \(after /);
      expect(fixture.provenance.source, fixture.name).toMatch(/^shaped by hand, not recorded, after /);
    }
    expect(new Set(recorded.map(presetOf))).toEqual(new Set(["nginx", "caddy", "haproxy", undefined]));
    expect(new Set(shaped.map(presetOf))).toEqual(new Set(["traefik", "cloudflared", "tailscale-serve", undefined]));
  });

  it("state the attribution, the preset and the claims they expect, and replay OK", () => {
    for (const fixture of all) {
      expect(Object.keys(fixture.expected), fixture.name).toEqual(["address", "loopbackEquivalent", "basis", "attribution", "preset", "claims"]);
      expect(replayFixture(fixture).mismatches, fixture.name).toEqual([]);
    }
  });

  it.each(PRESET_NAMES)("%s: a client its front named, with the preset named in the answer", (name) => {
    const named = all.filter((fixture) => presetOf(fixture) === name && fixture.expected.preset === name);
    expect(named.length, name).toBeGreaterThan(0);
    for (const fixture of named) {
      expect(fixture.expected.attribution, fixture.name).toBe("proxied");
      expect(fixture.request.peer === null || isLoopback(fixture.request.peer.address), fixture.name).toBe(true);
    }
    // Claims only where the front makes them (Tailscale Serve), and only from it.
    const claims = PRESETS.find((row) => row.name === name)!.claims;
    if (claims.length === 0) for (const fixture of named) expect(fixture.expected.claims, fixture.name).toBeNull();
    else expect(named.some((fixture) => fixture.expected.claims !== null), name).toBe(true);
  });

  it.each(["nginx", "caddy", "haproxy", "traefik"] as const)("%s: a browser on this host through its front is local with the preset", (name) => {
    const local = all.filter((fixture) => presetOf(fixture) === name && fixture.expected.loopbackEquivalent);
    expect(local.some((fixture) => headerNames(fixture).has("origin")), name).toBe(true);
    for (const fixture of local) expect(fixture.expected, fixture.name).toMatchObject({ attribution: "proxied", preset: name });
  });

  // The hidden check: each preset's own headers, forged by a client it does not trust.
  it.each(PRESET_NAMES)("%s: its own headers forged from an untrusted peer are never believed, never local", (name) => {
    const cases = forged.filter((fixture) => presetOf(fixture) === name);
    expect(cases, name).toHaveLength(1);
    const row = PRESETS.find((candidate) => candidate.name === name)!;
    for (const fixture of cases) {
      const names = headerNames(fixture);
      for (const header of [row.header, ...row.alsoWrites, ...row.claims]) expect(names.has(header), `${fixture.name}: ${header}`).toBe(true);
      expect(isLoopback(fixture.request.peer!.address), fixture.name).toBe(false);
      expect(fixture.expected, fixture.name).toEqual({
        address: canonicalAddress(fixture.request.peer!.address),
        loopbackEquivalent: false,
        basis: "socket:remote-client",
        attribution: "unattributable",
        preset: null,
        claims: null,
      });
    }
  });
});
