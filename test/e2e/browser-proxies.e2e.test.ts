// Re-runs the browser-through-proxies recording live (scripts/record-browser-proxies.ts: headless Debian Chromium
// loading the example gateway's dashboard through Apache, nginx and Caddy, as a DNS-rebinding page and as its
// own page) without writing anything, and checks that Chromium and each proxy still send what the committed
// fixtures in fixtures/recorded/browser-proxies/ record, that the library gives the live requests the recorded
// answers, and that each page itself read those answers: the verdict the gateway returned to its fetch() and
// the outcome of its WebSocket. A difference after a Chromium or proxy update means: re-record with
// `npm run build && npx tsx scripts/record-browser-proxies.ts` and review the diff.
//
// Every proxy is started in the foreground on loopback ports and stopped by its own pid (test/e2e/proxies.ts);
// the browser and the gateway are closed in afterAll; every wait is bounded.
import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OUT_DIR, viewMismatches } from "../../scripts/record-browser-proxies.js";
import { type Fixture, loadFixtures, replayFixture } from "../../src/cli/fixture.js";
import {
  ANSWERS,
  CHROMIUM,
  JUDGED_HEADERS,
  JudgingGateway,
  PAGE_KINDS,
  REQUEST_KINDS,
  TOPOLOGY_IDS,
  TRUST,
  type TopologyId,
  type TopologyRecording,
  fixtureName,
  launchBrowser,
  playwrightVersion,
  recordTopology,
  toFixtures,
} from "./browser-proxies.js";
import { headerLines } from "./proxies.js";

const BINARIES = [CHROMIUM, "/usr/sbin/nginx", "/usr/sbin/apache2", "/usr/bin/caddy"];
const missing = BINARIES.filter((binary) => !existsSync(binary));

/** The request's judged headers, URL, ends and header names, with the run's ports replaced by placeholders. */
function shape(request: Fixture["request"]) {
  const gateway = request.local?.port;
  const normalize = (value: string) => value.replaceAll(`127.0.0.1:${gateway}`, "127.0.0.1:GATEWAY").replace(/:\d+(?=\/|$)/g, ":PORT");
  return {
    peer: request.peer?.address,
    local: request.local?.address,
    method: request.method,
    url: request.url,
    judged: Object.fromEntries(JUDGED_HEADERS.map((name) => [name, headerLines(request, name).map(normalize)])),
    names: [...new Set(request.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase()))].sort(),
  };
}

describe.skipIf(missing.length > 0)("Chromium through proxies that rewrite or keep Host, live", () => {
  const gateway = new JudgingGateway();
  let browser: Browser | undefined;
  let committed = new Map<string, Fixture>();
  const runs = new Map<TopologyId, Promise<TopologyRecording>>();

  /** The topology's live recording, made once (each proxy starts and stops once, before the next). */
  const live = (id: TopologyId): Promise<TopologyRecording> => {
    let run = runs.get(id);
    if (run === undefined) {
      run = recordTopology(id, gateway, browser!);
      runs.set(id, run);
    }
    return run;
  };
  const liveFixtures = async (id: TopologyId): Promise<Fixture[]> =>
    toFixtures({ chromium: browser!.version(), playwright: playwrightVersion(), gatewayPort: gateway.port, date: "live" }, [await live(id)]);

  beforeAll(async () => {
    committed = new Map((await loadFixtures([OUT_DIR])).map(({ fixture }) => [fixture.name, fixture]));
    await gateway.listen();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    // Stop the proxies still starting or running before the browser and the gateway go.
    await Promise.allSettled(runs.values());
    try {
      await browser?.close();
    } finally {
      await gateway.close();
    }
  });

  it("the committed fixtures are the pages' requests, judged with the declared proxy and the answers derived from the rules", () => {
    const names = TOPOLOGY_IDS.flatMap((id) => PAGE_KINDS.flatMap((page) => REQUEST_KINDS.map((request) => fixtureName(id, page, request))));
    expect([...committed.keys()].sort(), "re-record: npm run build && npx tsx scripts/record-browser-proxies.ts").toEqual(names.sort());
    for (const id of TOPOLOGY_IDS) {
      for (const page of PAGE_KINDS) {
        for (const request of REQUEST_KINDS) {
          const name = fixtureName(id, page, request);
          const [address, loopbackEquivalent, basis] = ANSWERS[id][page][request];
          expect({ name, options: committed.get(name)?.options, expected: committed.get(name)?.expected }).toEqual({ name, options: TRUST.options, expected: { address, loopbackEquivalent, basis } });
        }
      }
    }
  });

  describe.each(TOPOLOGY_IDS)("%s", (id) => {
    it("Chromium and the proxy send what the committed fixtures record (ports aside)", async () => {
      for (const fixture of await liveFixtures(id)) {
        const recorded = committed.get(fixture.name);
        if (recorded === undefined) throw new Error(`${fixture.name} is not recorded: run npx tsx scripts/record-browser-proxies.ts`);
        expect(shape(fixture.request), fixture.name).toEqual(shape(recorded.request));
      }
    });

    it("the live requests get the recorded answers", async () => {
      for (const fixture of await liveFixtures(id)) {
        const recorded = committed.get(fixture.name);
        if (recorded === undefined) throw new Error(`${fixture.name} is not recorded: run npx tsx scripts/record-browser-proxies.ts`);
        expect(replayFixture({ ...recorded, request: fixture.request }).mismatches, fixture.name).toEqual([]);
      }
    });

    it("each page read the recorded answers: the verdict its fetch() got and its WebSocket's outcome", async () => {
      const { views } = await live(id);
      expect(views.map((view) => view.page)).toEqual([...PAGE_KINDS]);
      expect(views.flatMap(viewMismatches)).toEqual([]);
    });
  });

  it("a rebinding page through the Apache-like topology reads not local; the dashboard through the same proxy stays local", async () => {
    const { views, cases } = await live("apache-default");
    const rebinding = views.find((view) => view.page === "rebinding")!;
    const own = views.find((view) => view.page === "own-page")!;

    // What the rebinding page's script read from the gateway: Apache rewrote Host to the gateway's own address,
    // and the name the page was loaded under, in X-Forwarded-Host, is not this machine.
    const rebindingFetch = cases.find((recorded) => recorded.page === "rebinding" && recorded.request === "fetch")!;
    expect(headerLines(rebindingFetch.captured, "host")).toEqual([`127.0.0.1:${gateway.port}`]);
    expect(headerLines(rebindingFetch.captured, "x-forwarded-host")).toEqual([new URL(rebindingFetch.pageOrigin).host]);
    expect(rebinding.verdict).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false, basis: "x-forwarded-for:host-not-local" });
    expect(rebinding.verdict.diagnostics).toContain("forwarded-host-not-local");
    expect(rebinding.status).toBe("disconnected (1008): pairing required");

    // The dashboard itself, through the same proxy: its fetch() is local and its WebSocket is greeted as local.
    expect(own.verdict).toMatchObject({ address: "::1", loopbackEquivalent: true, basis: "x-forwarded-for:loopback" });
    expect(own.verdict.diagnostics).toEqual([]);
    expect(own.status).toBe("connected as a local client (::1)");
  });

  it("nginx's default Host ($proxy_host) hides the rebinding page from its fetch() (a recorded limitation), not from its WebSocket", async () => {
    const { views } = await live("nginx-proxy-host");
    const rebinding = views.find((view) => view.page === "rebinding")!;
    expect(rebinding.verdict).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: true, basis: "x-forwarded-for:loopback" });
    expect(committed.get(fixtureName("nginx-proxy-host", "rebinding", "fetch"))?.description).toContain("limitation:");
    expect(rebinding.status).toBe("disconnected (1008): pairing required");
  });

  it("the gateway received no request that no page sent", async () => {
    await Promise.allSettled(runs.values());
    expect(gateway.stray()).toEqual([]);
  });
});
