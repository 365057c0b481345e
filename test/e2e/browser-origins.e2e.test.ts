// Re-runs the origin recording live (scripts/record-browser-origins.ts: headless Debian Chromium opening the
// example gateway's dashboard at https://gw.test:PORT/ and a page on another site at https://evil.test:PORT/
// through Caddy and nginx terminating TLS with certificates made for the run) without writing anything, and
// checks that Chromium and each proxy still send what the committed fixtures in
// fixtures/recorded/browser-origins/ record (ports aside), that the library gives the live requests the recorded
// answers and the hand-written origin check, and that the gateway refused every page's WebSocket. A difference
// after a Chromium or proxy update means: re-record with
// `npm run build && npx tsx scripts/record-browser-origins.ts` and review the diff.
//
// Every proxy is started in the foreground on loopback ports and stopped by its own pid (test/e2e/proxies.ts);
// the browser, the gateway and the certificates are cleaned up in afterAll; every wait is bounded.
import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OUT_DIR } from "../../scripts/record-browser-origins.js";
import { type Fixture, loadFixtures, replayFixture } from "../../src/cli/fixture.js";
import { isCrossSite } from "../../src/core/index.js";
import {
  CHROMIUM,
  type Certificates,
  JUDGED_HEADERS,
  JudgingGateway,
  type TopologyRecording,
  launchBrowser,
  makeCertificates,
  playwrightVersion,
  recordTopology,
  toFixtures,
  viewMismatches,
} from "./browser-origins.js";
import { CASES, RECORDED, TOPOLOGY_IDS, type TopologyId, caseKey, fixtureName, withPort } from "./browser-origins-cases.js";
import { headerLines } from "./proxies.js";

const BINARIES = [CHROMIUM, "/usr/sbin/nginx", "/usr/bin/caddy", "/usr/bin/openssl"];
const missing = BINARIES.filter((binary) => !existsSync(binary));

/** The request's judged headers, URL, ends and header names, with the run's ports replaced by placeholders. */
function shape(request: Fixture["request"]) {
  const gateway = request.local?.port;
  const normalize = (value: string) => value.replaceAll(`127.0.0.1:${gateway}`, "127.0.0.1:GATEWAY").replace(/:\d+(?=\/|$)/g, ":PORT");
  return {
    peer: request.peer?.address,
    local: request.local?.address,
    secure: request.secure,
    method: request.method,
    url: request.url,
    judged: Object.fromEntries(JUDGED_HEADERS.map((name) => [name, headerLines(request, name).map(normalize)])),
    names: [...new Set(request.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase()))].sort(),
  };
}

describe.skipIf(missing.length > 0)("Chromium through Caddy and nginx terminating TLS: the origin check, live", () => {
  const gateway = new JudgingGateway();
  let certs: Certificates | undefined;
  let browser: Browser | undefined;
  let committed = new Map<string, Fixture>();
  const runs = new Map<TopologyId, Promise<TopologyRecording>>();

  /** The topology's live recording, made once (each proxy starts and stops once, before the next). */
  const live = (id: TopologyId): Promise<TopologyRecording> => {
    let run = runs.get(id);
    if (run === undefined) {
      run = recordTopology(id, gateway, browser!, certs!);
      runs.set(id, run);
    }
    return run;
  };
  const liveFixtures = async (id: TopologyId): Promise<Fixture[]> =>
    toFixtures({ chromium: browser!.version(), playwright: playwrightVersion(), gatewayPort: gateway.port, certificates: certs!.text, date: "live" }, [await live(id)]);

  beforeAll(async () => {
    committed = new Map((await loadFixtures([OUT_DIR])).map(({ fixture }) => [fixture.name, fixture]));
    certs = makeCertificates();
    await gateway.listen();
    browser = await launchBrowser(certs);
  });
  afterAll(async () => {
    // Stop the proxies still starting or running before the browser, the gateway and the certificates go.
    await Promise.allSettled(runs.values());
    try {
      await browser?.close();
    } finally {
      try {
        await gateway.close();
      } finally {
        certs?.remove();
      }
    }
  });

  it("the committed fixtures are the table's cases, judged with the declared loopback proxy and the hand-written answers", () => {
    const names = TOPOLOGY_IDS.flatMap((id) => CASES.map((spec) => fixtureName(id, caseKey(spec))));
    expect([...committed.keys()].sort(), "re-record: npm run build && npx tsx scripts/record-browser-origins.ts").toEqual(names.sort());
  });

  describe.each(TOPOLOGY_IDS)("%s", (id) => {
    it("Chromium and the proxy send what the committed fixtures record (ports aside)", async () => {
      for (const fixture of await liveFixtures(id)) {
        const recorded = committed.get(fixture.name);
        if (recorded === undefined) throw new Error(`${fixture.name} is not recorded: run npx tsx scripts/record-browser-origins.ts`);
        expect(shape(fixture.request), fixture.name).toEqual(shape(recorded.request));
      }
    });

    it("the live requests get the recorded answers and the hand-written origin check", async () => {
      const recording = await live(id);
      for (const fixture of await liveFixtures(id)) {
        const recorded = committed.get(fixture.name)!;
        const { result, mismatches } = replayFixture({ ...recorded, request: fixture.request });
        expect(mismatches, fixture.name).toEqual([]);
        const want = withPort(RECORDED[id][recording.cases.find((c) => c.name === fixture.name)!.key], recording.proxy.port);
        expect({ origin: { ...result.origin }, crossSite: isCrossSite(result) }, fixture.name).toEqual({ origin: want.origin, crossSite: want.crossSite });
      }
    });

    it("the gateway refused each page's WebSocket (no page here is local, none presents the token)", async () => {
      const { views } = await live(id);
      expect(views.map((view) => view.key)).toEqual(["dashboard-websocket", "cross-site-websocket"]);
      expect(views.flatMap(viewMismatches)).toEqual([]);
    });

    // Chromium refuses a ws: WebSocket from an https page ("An insecure WebSocket connection may not be
    // initiated from a page loaded over HTTPS"): the example dashboard picks wss: there.
    it("the example dashboard's own script opens its WebSocket on the https page", async () => {
      const { dashboardScript } = await live(id);
      expect(dashboardScript.errors.filter((error) => error.includes("WebSocket"))).toEqual([]);
      expect(dashboardScript.status).not.toBe("connecting…");
    });
  });

  it("the gateway received no request that no page sent", async () => {
    await Promise.allSettled(runs.values());
    expect(gateway.stray()).toEqual([]);
  });
});
