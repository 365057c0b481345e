// Records what a real browser's requests become through real TLS-terminating reverse proxies, for the answer's
// origin check, and writes one fixture per request to fixtures/recorded/browser-origins/. Run with
// `npm run build && npx tsx scripts/record-browser-origins.ts`: the gateway imports clientaddr by name, which
// resolves to dist/.
//
// Headless Debian Chromium (/usr/bin/chromium, driven by playwright-core; no browser is downloaded) opens the
// example gateway's dashboard at https://gw.test:PORT/ through each proxy of test/e2e/browser-origins.ts (Caddy
// with tls and reverse_proxy; nginx with listen ssl and Host $host, Host $http_host, or no X-Forwarded-Proto),
// with certificates this run makes with openssl, and a page on another site (https://evil.test:PORT/, the
// same proxy under another name); both names map to 127.0.0.1 inside Chromium only. The dashboard's navigation
// and WebSocket and the other site's WebSocket reach the gateway (the example gateway in capture mode,
// trustedProxies ["loopback"]).
//
// Every capture is checked against the proxy's and Chromium's models before anything is written; the expected
// answers are hand-written (test/e2e/browser-origins-cases.ts). After the run every fixture is replayed through
// the library, its origin check included: a disagreement is printed and fails the run, but the expectation is
// written as derived, never replaced.
//
// Each proxy runs in the foreground on loopback ports and is stopped by its own pid before the next starts;
// the browser, the gateway and the certificates are cleaned up in finally blocks; every wait is bounded.
import { realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { replayFixture } from "../src/cli/fixture.js";
import { isCrossSite } from "../src/core/index.js";
import {
  type Certificates,
  type Facts,
  JudgingGateway,
  type TopologyRecording,
  launchBrowser,
  makeCertificates,
  playwrightVersion,
  recordTopology,
  toFixtures,
  viewMismatches,
} from "../test/e2e/browser-origins.js";
import { type CaseKey, RECORDED, TOPOLOGY_IDS, proxyPortOf, withPort } from "../test/e2e/browser-origins-cases.js";
import { headerLines } from "../test/e2e/proxies.js";
import { runBounded } from "./lib/run-bounded.js";
import { type Fixture, checkAgainstLibrary, writeFixtureSet } from "./lib/write-fixture.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const OUT_DIR = path.join(ROOT, "fixtures", "recorded", "browser-origins");

export interface Recording {
  facts: Facts;
  recordings: TopologyRecording[];
}

/** Every topology in turn, one browser, one gateway and one pair of certificates for all. */
export async function recordBrowserOrigins(topologies = TOPOLOGY_IDS): Promise<Recording> {
  const date = new Date().toISOString().slice(0, 10);
  const certs: Certificates = makeCertificates();
  const gateway = new JudgingGateway();
  const recordings: TopologyRecording[] = [];
  try {
    await gateway.listen();
    const browser = await launchBrowser(certs);
    let chromium: string;
    try {
      chromium = browser.version();
      for (const id of topologies) {
        const recording = await recordTopology(id, gateway, browser, certs);
        console.log(`${id}: ${recording.proxy.name} (pid ${recording.proxy.pid}) on port ${recording.proxy.port}`);
        recordings.push(recording);
      }
    } finally {
      await browser.close();
    }
    const stray = gateway.stray();
    if (stray.length > 0) throw new Error(`the gateway received request(s) no page sent: ${stray.join(", ")}`);
    return { facts: { chromium, playwright: playwrightVersion(), gatewayPort: gateway.port, certificates: certs.text, date }, recordings };
  } finally {
    try {
      await gateway.close();
    } finally {
      certs.remove();
    }
  }
}

/** The answer's origin check and attribution against the hand-written ones: the mismatches, in words. */
export function originMismatches(fixture: Fixture): string[] {
  const match = /^chromium-(.+)-(dashboard-navigation|dashboard-websocket|cross-site-websocket)$/.exec(fixture.name);
  const topology = match?.[1] as keyof typeof RECORDED | undefined;
  if (match === null || topology === undefined || !(topology in RECORDED)) return [`${fixture.name}: not a case of the table`];
  const want = withPort(RECORDED[topology][match[2] as CaseKey], proxyPortOf(fixture.provenance.source));
  const { result } = replayFixture(fixture);
  const got = { origin: result.origin, crossSite: isCrossSite(result), attribution: result.attribution, attributionReason: result.attributionReason };
  const expected = { origin: want.origin, crossSite: want.crossSite, attribution: want.attribution, attributionReason: want.attributionReason };
  return JSON.stringify(got) === JSON.stringify(expected) ? [] : [`${fixture.name}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`];
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
  const recording = await recordBrowserOrigins();
  const { facts } = recording;
  console.log(`Chromium ${facts.chromium}, playwright-core ${facts.playwright}, gateway on 127.0.0.1:${facts.gatewayPort}`);
  console.log(table(recording));
  const fixtures = toFixtures(facts, recording.recordings);
  writeFixtureSet(OUT_DIR, fixtures);
  console.log(`wrote ${fixtures.length} fixtures from ${recording.recordings.length} proxies to ${path.relative(ROOT, OUT_DIR)}/`);

  checkAgainstLibrary(fixtures);
  const origins = fixtures.flatMap(originMismatches);
  for (const mismatch of origins) console.error(`DISAGREES on the origin check: ${mismatch}`);
  if (origins.length > 0) process.exitCode = 1;
  else console.log("the library agrees with every expected origin check");

  for (const { topology, dashboardScript } of recording.recordings) {
    console.log(`  ${topology}: the example dashboard's own script: #status ${JSON.stringify(dashboardScript.status)}${dashboardScript.errors.map((error) => `; page error ${JSON.stringify(error)}`).join("")}`);
  }
  const views = recording.recordings.flatMap(({ views }) => views);
  for (const view of views) console.log(`  page ${view.topology} ${view.key}: ${view.outcome}`);
  const refused = views.flatMap(viewMismatches);
  for (const mismatch of refused) console.error(`DISAGREES: ${mismatch}`);
  if (refused.length > 0) process.exitCode = 1;
}

function isProgram(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// The exit hook in test/e2e/proxies.ts kills any proxy still running when the bound is reached.
if (isProgram()) runBounded("record-browser-origins", main, 180_000);
