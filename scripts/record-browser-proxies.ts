// Records what a real browser's requests become through real reverse proxies that rewrite or keep Host, and
// writes one fixture per request to fixtures/recorded/browser-proxies/. Run with
// `npm run build && npx tsx scripts/record-browser-proxies.ts`: the gateway imports clientaddr by name, which
// resolves to dist/.
//
// Headless Debian Chromium (/usr/bin/chromium, driven by playwright-core; no browser is downloaded) loads the
// example gateway's dashboard through each proxy of test/e2e/browser-proxies.ts (Apache mod_proxy with
// ProxyPreserveHost Off and On, nginx with Host $host, $http_host and its default $proxy_host, Caddy's
// reverse_proxy), once as a DNS-rebinding page (http://evil.test:PROXYPORT/, the name mapped to 127.0.0.1
// inside Chromium only) and once as the dashboard's own page (http://localhost:PROXYPORT/). From each page the
// dashboard's WebSocket and a same-origin fetch("/verdict") reach the gateway (the example gateway in capture
// mode, trustedProxies ["loopback"]), which answers the fetch with the library's verdict; the page shows both.
//
// Every capture is checked against the proxy's and Chromium's models before anything is written; the expected
// answers are written by hand from the rules (ANSWERS in the harness). After the run every fixture is
// replayed through the library, and what each page read is compared with the expected answers: a
// disagreement is printed and fails the run, but the expectation is written as derived, never replaced.
//
// Each proxy runs in the foreground on loopback ports and is stopped by its own pid before the next starts;
// the browser and the gateway are closed in finally blocks; every wait is bounded.
import { realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Facts,
  JudgingGateway,
  type PageView,
  TOPOLOGY_IDS,
  type TopologyRecording,
  expectedView,
  launchBrowser,
  playwrightVersion,
  recordTopology,
  toFixtures,
} from "../test/e2e/browser-proxies.js";
import { headerLines } from "../test/e2e/proxies.js";
import { runBounded } from "./lib/run-bounded.js";
import { type Fixture, checkAgainstLibrary, writeFixtureSet } from "./lib/write-fixture.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const OUT_DIR = path.join(ROOT, "fixtures", "recorded", "browser-proxies");

export interface Recording {
  facts: Facts;
  recordings: TopologyRecording[];
}

/** Every topology in turn, one browser and one gateway for all; the gateway must receive nothing else. */
export async function recordBrowserProxies(): Promise<Recording> {
  const date = new Date().toISOString().slice(0, 10);
  const gateway = new JudgingGateway();
  const recordings: TopologyRecording[] = [];
  try {
    await gateway.listen();
    const browser = await launchBrowser();
    let chromium: string;
    try {
      chromium = browser.version();
      for (const id of TOPOLOGY_IDS) {
        const recording = await recordTopology(id, gateway, browser);
        console.log(`${id}: ${recording.proxy.name} (pid ${recording.proxy.pid}) on port ${recording.proxy.port}`);
        recordings.push(recording);
      }
    } finally {
      await browser.close();
    }
    const stray = gateway.stray();
    if (stray.length > 0) throw new Error(`the gateway received request(s) no page sent: ${stray.join(", ")}`);
    return { facts: { chromium, playwright: playwrightVersion(), gatewayPort: gateway.port, date }, recordings };
  } finally {
    await gateway.close();
  }
}

/** A rebinding page's request that is local is a limitation, and must say so. */
function check(fixture: Fixture): void {
  if (fixture.expected.loopbackEquivalent && fixture.name.includes("-rebinding-") && !(fixture.name.endsWith("-limitation") && fixture.description.includes("limitation:"))) {
    throw new Error(`fixture ${fixture.name}: a rebinding page's request is local: its name and description must say it is a limitation`);
  }
}

/** Each page's own reading (the fetch's verdict and the dashboard's status) against the expected answers. */
export function viewMismatches(view: PageView): string[] {
  const want = expectedView(view.topology, view.page);
  const got = { status: view.status, verdict: { address: view.verdict.address, loopbackEquivalent: view.verdict.loopbackEquivalent, basis: view.verdict.basis } };
  return JSON.stringify(got) === JSON.stringify(want) ? [] : [`${view.topology} ${view.page}: the page read ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`];
}

function table(recording: Recording): string {
  const rows = recording.recordings.flatMap(({ cases }) =>
    cases.map((recorded) => {
      const cell = (name: string) => headerLines(recorded.captured, name).join(" + ") || "-";
      return [recorded.name, cell("host"), cell("origin"), cell("x-forwarded-for"), cell("x-forwarded-host"), cell("x-forwarded-proto"), cell("sec-fetch-site")];
    }),
  );
  const head = ["case", "Host", "Origin", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Sec-Fetch-Site"];
  const widths = head.map((_, i) => Math.max(...[head, ...rows].map((row) => row[i]!.length)));
  return [head, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

async function main(): Promise<void> {
  const recording = await recordBrowserProxies();
  const { facts } = recording;
  console.log(`Chromium ${facts.chromium}, playwright-core ${facts.playwright}, gateway on 127.0.0.1:${facts.gatewayPort}`);
  console.log(table(recording));
  const fixtures = toFixtures(facts, recording.recordings);
  writeFixtureSet(OUT_DIR, fixtures, check);
  console.log(`wrote ${fixtures.length} fixtures from ${recording.recordings.length} proxies to ${path.relative(ROOT, OUT_DIR)}/`);

  checkAgainstLibrary(fixtures);
  const views = recording.recordings.flatMap(({ views }) => views);
  for (const view of views) console.log(`  page ${view.topology} ${view.page}: #status ${JSON.stringify(view.status)}; #verdict ${JSON.stringify(view.verdict)}`);
  const mismatches = views.flatMap(viewMismatches);
  for (const mismatch of mismatches) console.error(`DISAGREES: ${mismatch}`);
  if (mismatches.length > 0) process.exitCode = 1;
  else console.log("every page read the expected answers");
}

function isProgram(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// The exit hook in test/e2e/proxies.ts kills any proxy still running when the bound is reached.
if (isProgram()) runBounded("record-browser-proxies", main, 300_000);
