// The origin check on real and shaped browser handshakes through TLS proxies and tunnels: every fixture in
// fixtures/recorded/browser-origins/ (headless Chromium through Caddy and nginx terminating TLS, recorded by
// scripts/record-browser-origins.ts) and fixtures/shaped/ (Tailscale Serve and Funnel, cloudflared, written after
// their documentation), replayed through the public API and held to the answers written by hand in
// test/e2e/browser-origins-cases.ts: the address, locality and basis the fixture states, and beside them what the
// fixture format has no field for: origin.{sent, own, same}, isCrossSite and the attribution; then the same
// requests judged with the gateway's name in localHosts, and with its public origin in publicOrigins.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type Fixture, loadFixtures } from "../src/cli/fixture.js";
import { type ClientAddress, type ResolverOptions, createResolver, isCrossSite } from "../src/core/index.js";
import {
  CASES,
  GATEWAY_NAME,
  PUBLIC_ORIGIN,
  RECORDED,
  SHAPED,
  SHAPED_NAMES,
  TOPOLOGY_IDS,
  TRUST,
  type CaseKey,
  type Expectation,
  type TopologyId,
  caseKey,
  fixtureName,
  proxyPortOf,
  withPort,
} from "./e2e/browser-origins-cases.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));
const recorded = new Map((await loadFixtures([path.join(FIXTURES, "recorded", "browser-origins")])).map(({ fixture }) => [fixture.name, fixture]));
const shaped = new Map((await loadFixtures([path.join(FIXTURES, "shaped")])).map(({ fixture }) => [fixture.name, fixture]));

const RECORDED_CASES = TOPOLOGY_IDS.flatMap((topology) => CASES.map((spec) => [fixtureName(topology, caseKey(spec)), topology, caseKey(spec)] as [string, TopologyId, CaseKey]));

/** The fixture's request judged with its own options and `extra`, as a gateway would: raw header lines. */
function judge(fixture: Fixture, extra: ResolverOptions = {}): ClientAddress {
  const { request, options } = fixture;
  return createResolver({ ...options, ...extra }).resolve({ remoteAddress: request.peer?.address, secure: request.secure, headers: request.rawHeaders });
}

function answerOf(result: ClientAddress) {
  const { address, loopbackEquivalent, basis, attribution, attributionReason, origin } = result;
  return { address, loopbackEquivalent, basis, attribution, attributionReason, origin: { ...origin }, crossSite: isCrossSite(result) };
}

function expected(want: Expectation) {
  const { address, loopbackEquivalent, basis, attribution, attributionReason, origin, crossSite } = want;
  return { address, loopbackEquivalent, basis, attribution, attributionReason, origin, crossSite };
}

describe("recorded: Chromium through Caddy and nginx terminating TLS (fixtures/recorded/browser-origins)", () => {
  it("holds exactly the table's cases, each recorded, judged with the declared loopback proxy and the hand-written answer", () => {
    expect([...recorded.keys()].sort(), "re-record: npm run build && npx tsx scripts/record-browser-origins.ts").toEqual(RECORDED_CASES.map(([name]) => name).sort());
    for (const [name, topology, key] of RECORDED_CASES) {
      const fixture = recorded.get(name)!;
      const { address, loopbackEquivalent, basis } = RECORDED[topology][key];
      expect({ name, kind: fixture.provenance.kind, options: fixture.options, expected: fixture.expected }).toEqual({ name, kind: "recorded", options: TRUST.options, expected: { address, loopbackEquivalent, basis } });
      expect(fixture.provenance.source, name).toMatch(/^topology: Chromium on 127\.0\.0\.1 -> 127\.0\.0\.1:\d+ (caddy|nginx) \(TLS\) -> /m);
    }
  });

  describe.each(RECORDED_CASES)("%s", (name, topology, key) => {
    const fixture = recorded.get(name)!;
    const port = proxyPortOf(fixture.provenance.source);
    const want = withPort(RECORDED[topology][key], port);

    it("gets the hand-written answer: address, locality, basis, attribution, origin { sent, own, same } and isCrossSite", () => {
      expect(answerOf(judge(fixture))).toEqual(expected(want));
    });

    it(`with localHosts ["${GATEWAY_NAME}"]: local only where no other page caused it`, () => {
      const result = judge(fixture, { localHosts: [GATEWAY_NAME] });
      expect({ loopbackEquivalent: result.loopbackEquivalent, basis: result.basis }).toEqual(want.withLocalHost);
      // The origin check does not depend on whether the name is this machine's.
      expect({ ...result.origin }).toEqual(want.origin);
    });

    it(`with publicOrigins ["${PUBLIC_ORIGIN}"]: the configured origin decides`, () => {
      const result = judge(fixture, { publicOrigins: [withPort(PUBLIC_ORIGIN, port)] });
      expect({ ...result.origin }).toEqual({ sent: want.origin.sent, ...want.withPublicOrigin });
      expect(isCrossSite(result)).toBe(want.origin.sent !== null && !want.withPublicOrigin.same);
      // publicOrigins is for the origin check only: locality is unchanged.
      expect({ loopbackEquivalent: result.loopbackEquivalent, basis: result.basis }).toEqual({ loopbackEquivalent: want.loopbackEquivalent, basis: want.basis });
    });
  });

  it("a WebSocket is same-origin exactly when, with the gateway's name declared this machine's, it would be local (condition d)", () => {
    for (const [name] of RECORDED_CASES.filter(([, , key]) => key.endsWith("-websocket"))) {
      const fixture = recorded.get(name)!;
      expect(judge(fixture).origin.same, name).toBe(judge(fixture, { localHosts: [GATEWAY_NAME] }).loopbackEquivalent);
    }
  });

  it("behind TLS the dashboard's own WebSocket is same-origin where the proxy says the scheme and keeps the port, and a page on another site is cross-site through every proxy", () => {
    const crossSite = (topology: TopologyId, key: CaseKey) => isCrossSite(judge(recorded.get(fixtureName(topology, key))!));
    expect(TOPOLOGY_IDS.map((topology) => [topology, crossSite(topology, "dashboard-websocket"), crossSite(topology, "cross-site-websocket")])).toEqual([
      ["caddy-tls", false, true],
      ["nginx-tls-host", true, true], // $host drops the port
      ["nginx-tls-http-host", false, true],
      ["nginx-tls-no-proto", true, true], // no X-Forwarded-Proto: the request reads http
    ]);
  });
});

describe("shaped: Tailscale Serve and Funnel, cloudflared (fixtures/shaped)", () => {
  it("holds exactly the table's cases, each marked shaped with the documentation it follows", () => {
    expect([...shaped.keys()].sort()).toEqual([...SHAPED_NAMES].sort());
    for (const [name, fixture] of shaped) {
      expect(fixture.provenance.kind, name).toBe("hand-written");
      expect(fixture.provenance.why, name).toMatch(/^shaped: /);
      expect(fixture.description, name).toMatch(/^Shaped, not recorded \(after https:\/\/(tailscale\.com\/kb\/1312\/serve|developers\.cloudflare\.com\/fundamentals\/reference\/http-headers\/), /);
      expect(fixture.provenance.source, name).toMatch(/^shaped by hand, not recorded, after /);
      // Every tunnel here reaches the gateway from loopback.
      expect(fixture.request.peer?.address, name).toBe("127.0.0.1");
    }
  });

  describe.each(SHAPED_NAMES)("%s", (name) => {
    const fixture = shaped.get(name)!;
    const want = SHAPED[name]!;

    it("is judged with the table's trust list and states the hand-written answer", () => {
      const { address, loopbackEquivalent, basis } = want;
      expect({ options: fixture.options, expected: fixture.expected }).toEqual({ options: { trustedProxies: want.trustedProxies }, expected: { address, loopbackEquivalent, basis } });
    });

    it("gets the hand-written answer: address, locality, basis, attribution, origin { sent, own, same } and isCrossSite", () => {
      expect(answerOf(judge(fixture))).toEqual(expected(want));
    });

    it("with publicOrigins naming the gateway's public origin: the configured origin decides", () => {
      const result = judge(fixture, { publicOrigins: [want.publicOrigin] });
      expect({ ...result.origin }).toEqual({ sent: want.origin.sent, ...want.withPublicOrigin });
      expect(isCrossSite(result)).toBe(want.origin.sent !== null && !want.withPublicOrigin.same);
    });
  });

  it("an undeclared tunnel makes its own dashboard's WebSocket look cross-site; declaring it, or publicOrigins, puts it right", () => {
    for (const [undeclared, declared] of [
      ["tailscale-serve-undeclared-dashboard-websocket", "tailscale-serve-dashboard-websocket"],
      ["cloudflared-undeclared-dashboard-websocket", "cloudflared-dashboard-websocket"],
    ] as const) {
      const fixture = shaped.get(undeclared)!;
      expect(isCrossSite(judge(fixture)), undeclared).toBe(true);
      expect(isCrossSite(judge(fixture, { trustedProxies: ["loopback"] })), undeclared).toBe(false);
      expect(isCrossSite(judge(fixture, { publicOrigins: [SHAPED[undeclared]!.publicOrigin] })), undeclared).toBe(false);
      expect(isCrossSite(judge(shaped.get(declared)!)), declared).toBe(false);
    }
  });
});
