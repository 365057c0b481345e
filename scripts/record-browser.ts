// Records what a real browser sends to a gateway on loopback, and writes one fixture per request to
// fixtures/recorded/browser/. Run with `npm run build && npx tsx scripts/record-browser.ts`: the gateway
// imports clientaddr by name, which resolves to dist/.
//
// Headless Debian Chromium (/usr/bin/chromium, driven by playwright-core; no browser is downloaded) loads three
// kinds of page and, from each, sends five requests to the example gateway on http://127.0.0.1:<port>:
//
//   cross-site  http://attacker.test:<port>/  a page server of ours on loopback; Chromium maps the name with
//               --host-resolver-rules "MAP attacker.test 127.0.0.1", so no DNS is asked
//   other-port  http://127.0.0.1:<port>/      another local app on this machine (a dev server, say)
//   own-page    http://127.0.0.1:<gateway>/   the gateway's own dashboard, reached by a typed navigation
//
// The requests: a link click (a top-level navigation), an <img src>, fetch(url, {mode: "no-cors"}), an
// auto-submitted HTML form POST and new WebSocket("ws://127.0.0.1:<gateway>/..."); from the own page also the
// typed navigation itself and the dashboard's own WebSocket. Every request is captured by the example gateway's
// capture mode (onRequest for plain requests, onHandshake for upgrades): the peer and local ends, method, URL
// and req.rawHeaders in wire order, exactly what Node saw. Each case says what Chromium is expected to send
// (Origin, Sec-Fetch-Site, -Mode, -Dest); a capture that differs fails the run before anything is written, so
// the fixtures document real browser behaviour. The expected answers are written by hand from the rules, and
// cross-checked against an independent reading of those rules over the captured headers.
//
// Traffic stays on loopback; every wait is bounded; the browser and both servers stop in finally blocks.
import { readFileSync, realpathSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { launchChromium } from "../test/e2e/browser.js";
import { within } from "../test/e2e/processes.js";
import { type CapturedRequest, type Channel, CapturingGateway } from "./lib/capturing-gateway.js";
import { runBounded } from "./lib/run-bounded.js";
import { type Fixture, checkAgainstLibrary, writeFixtureSet } from "./lib/write-fixture.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const OUT_DIR = path.join(ROOT, "fixtures", "recorded", "browser");

/** The cross-site page's name: resolved to loopback inside Chromium only. */
export const ATTACKER_NAME = "attacker.test";
const TIMEOUT_MS = 15_000;
/** How long a request the browser was told to send may take to reach the gateway. */
const CAPTURE_TIMEOUT_MS = 10_000;

export type { CapturedRequest };
export type PageKind = "cross-site" | "other-port" | "own-page";
export type Action = "typed-navigation" | "navigation" | "img" | "fetch-no-cors" | "form-post" | "websocket" | "dashboard-websocket";
type SecFetchSite = "cross-site" | "same-site" | "same-origin" | "none";

/** What Chromium is expected to send with one request: each header's single value, or null for "absent". */
export interface Sent {
  origin: string | null;
  "sec-fetch-site": SecFetchSite | null;
  "sec-fetch-mode": string | null;
  "sec-fetch-dest": string | null;
  /** "?1" only on a navigation the user started (typed, or a clicked link). */
  "sec-fetch-user": "?1" | null;
}

/** One request the browser sent, as the gateway captured it. */
export interface RecordedCase {
  name: string;
  kind: PageKind;
  action: Action;
  /** The origin of the page that sent it. */
  pageOrigin: string;
  /** Where the page sent it (http:// or ws://). */
  target: string;
  request: CapturedRequest;
  sent: Sent;
}

export interface Recording {
  cases: RecordedCase[];
  chromium: string;
  playwright: string;
  gatewayPort: number;
  date: string;
}

/** The headers these requests are judged by, lower case: what the assertions and the e2e comparison read. */
export const JUDGED_HEADERS = ["host", "origin", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user"] as const;
const FORWARDING = ["x-forwarded-for", "forwarded", "x-real-ip"] as const;

/** Every line of one header, in order (the name compared case-insensitively). */
export function headerLines(request: { readonly rawHeaders: readonly string[] }, name: string): string[] {
  const lines: string[] = [];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    if (request.rawHeaders[i]!.toLowerCase() === name) lines.push(request.rawHeaders[i + 1]!);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------------
// What Chromium is expected to send, per action, from a page whose relation to the gateway is `site`

function expectedSent(action: Action, site: Exclude<SecFetchSite, "none">, pageOrigin: string): Sent {
  switch (action) {
    case "typed-navigation":
      // Typed into the address bar: no initiator, so no Origin, and Sec-Fetch-Site "none".
      return { origin: null, "sec-fetch-site": "none", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document", "sec-fetch-user": "?1" };
    case "navigation":
      // A GET navigation carries no Origin, whoever starts it; a clicked link is the user's.
      return { origin: null, "sec-fetch-site": site, "sec-fetch-mode": "navigate", "sec-fetch-dest": "document", "sec-fetch-user": "?1" };
    case "img":
      // A no-cors GET carries no Origin.
      return { origin: null, "sec-fetch-site": site, "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image", "sec-fetch-user": null };
    case "fetch-no-cors":
      return { origin: null, "sec-fetch-site": site, "sec-fetch-mode": "no-cors", "sec-fetch-dest": "empty", "sec-fetch-user": null };
    case "form-post":
      // A POST carries Origin, same-origin included; submitted by script without a gesture, no Sec-Fetch-User.
      return { origin: pageOrigin, "sec-fetch-site": site, "sec-fetch-mode": "navigate", "sec-fetch-dest": "document", "sec-fetch-user": null };
    case "websocket":
    case "dashboard-websocket":
      // A WebSocket handshake always carries Origin, and Chromium sends no Fetch Metadata with it (the Fetch
      // Metadata spec names a "websocket" mode and destination, but Chromium's handshake carries no Sec-Fetch-*):
      // for a WebSocket, Origin is the only word on where the page came from.
      return { origin: pageOrigin, "sec-fetch-site": null, "sec-fetch-mode": null, "sec-fetch-dest": null, "sec-fetch-user": null };
  }
}

/** Throws unless the captured request is the one the case is about and carries what Chromium is expected to send. */
export function checkSent(recorded: RecordedCase, gatewayPort: number): void {
  const { request, sent } = recorded;
  const problems: string[] = [];
  const want = (what: string, got: unknown, expected: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(expected)) problems.push(`${what} ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  };
  want("peer", request.peer?.address, "127.0.0.1");
  want("local", request.local, { address: "127.0.0.1", port: gatewayPort });
  want("method", request.method, recorded.action === "form-post" ? "POST" : "GET");
  const target = new URL(recorded.target);
  want("url", request.url, `${target.pathname}${target.search}`);
  want("host", headerLines(request, "host"), [`127.0.0.1:${gatewayPort}`]);
  for (const name of ["origin", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user"] as const) {
    want(name, headerLines(request, name), sent[name] === null ? [] : [sent[name]]);
  }
  for (const name of FORWARDING) want(name, headerLines(request, name), []);
  const upgrade = headerLines(request, "upgrade").map((value) => value.toLowerCase());
  want("upgrade", upgrade, recorded.action.endsWith("websocket") ? ["websocket"] : []);
  if (problems.length > 0) {
    throw new Error(`${recorded.name}: Chromium did not send what this case expects: ${problems.join("; ")}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The gateway in capture mode, and the other pages' server

const OTHER_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Another site</title></head>
<body><h1>A page that is not the gateway's</h1></body>
</html>
`;

/** A page server on loopback: serves one plain page at `/`; the recorder's script does the rest. */
function pageServer(): http.Server {
  return http.createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/" || req.url?.startsWith("/?"))) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(OTHER_PAGE);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
}

function listen(server: http.Server, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: 0 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

async function closeServer(server: http.Server): Promise<void> {
  if (!server.listening) return;
  server.closeAllConnections();
  await within(new Promise<void>((resolve) => server.close(() => resolve())), 2_000);
}

// ---------------------------------------------------------------------------------------------------------
// The recording

interface PageSpec {
  kind: PageKind;
  /** Where the page is loaded from. */
  url: string;
  /** The page's relation to the gateway, as Fetch Metadata names it. */
  site: Exclude<SecFetchSite, "none">;
}

function version(pkg: string): string {
  return (JSON.parse(readFileSync(path.join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
}

/** Loads each page kind in headless Chromium, sends the requests, and returns what the gateway captured. */
export async function recordBrowser(): Promise<Recording> {
  const date = new Date().toISOString().slice(0, 10);
  const gateway = new CapturingGateway();
  const attacker = pageServer();
  const other = pageServer();
  const cases: RecordedCase[] = [];
  let chromium = "";
  try {
    await gateway.listen();
    await listen(attacker, "127.0.0.1");
    await listen(other, "127.0.0.1");
    const G = gateway.port;
    const pages: PageSpec[] = [
      { kind: "cross-site", url: `http://${ATTACKER_NAME}:${(attacker.address() as AddressInfo).port}/`, site: "cross-site" },
      { kind: "other-port", url: `http://127.0.0.1:${(other.address() as AddressInfo).port}/`, site: "same-site" },
      { kind: "own-page", url: `http://127.0.0.1:${G}/`, site: "same-origin" },
    ];
    const browser = await launchChromium({ timeoutMs: TIMEOUT_MS, hostResolverRules: `MAP ${ATTACKER_NAME} 127.0.0.1` });
    try {
      chromium = browser.version();
      for (const spec of pages) {
        // A fresh profile state per page kind: nothing cached or remembered from another kind.
        const context = await browser.newContext();
        try {
          const page = await context.newPage();
          page.setDefaultTimeout(TIMEOUT_MS);
          cases.push(...(await recordPage(page, spec, gateway)));
        } finally {
          await context.close();
        }
      }
    } finally {
      await browser.close();
    }
    const stray = gateway.stray();
    if (stray.length > 0) throw new Error(`the gateway received request(s) no case sent: ${stray.join(", ")}`);
    for (const recorded of cases) checkSent(recorded, G);
    return { cases, chromium, playwright: version("playwright-core"), gatewayPort: G, date };
  } finally {
    await closeServer(attacker);
    await closeServer(other);
    await gateway.close();
  }
}

async function recordPage(page: Page, spec: PageSpec, gateway: CapturingGateway): Promise<RecordedCase[]> {
  const G = gateway.port;
  const pageOrigin = new URL(spec.url).origin;
  const cases: RecordedCase[] = [];
  const caseName = (action: Action) => `chromium-${spec.kind}-${action}`;
  const probe = (action: Action) => `http://127.0.0.1:${G}/probe/${action}?case=${caseName(action)}`;
  const add = (action: Action, target: string, request: CapturedRequest) =>
    cases.push({ name: caseName(action), kind: spec.kind, action, pageOrigin, target, request, sent: expectedSent(action, spec.site, pageOrigin) });

  /** Runs `act` in the page (or on it) and waits, bounded, for the request it makes to reach the gateway. */
  const send = async (action: Action, channel: Channel, target: string, act: () => Promise<unknown>) => {
    const [request] = await Promise.all([gateway.next(channel, caseName(action), CAPTURE_TIMEOUT_MS), act()]);
    add(action, target, request);
  };

  if (spec.kind === "own-page") {
    // Typed navigation: page.goto is the address bar. The dashboard it loads opens its own WebSocket to
    // ws://<location.host>/ws<location.search>, which carries the same ?case= id.
    const typed = `${spec.url}?case=${caseName("typed-navigation")}`;
    await send("typed-navigation", "http", typed, () => page.goto(typed, { waitUntil: "load" }));
    add("dashboard-websocket", `ws://127.0.0.1:${G}/ws?case=${caseName("typed-navigation")}`, await gateway.next("upgrade", caseName("typed-navigation"), CAPTURE_TIMEOUT_MS));
  } else {
    await page.goto(spec.url, { waitUntil: "load" });
  }

  // Each of these runs as script in the page (page.evaluate), so the page is the request's initiator; the code is
  // text because the project's lib has no DOM types.
  const run = (script: string) => page.evaluate(`(() => { ${script} })()`);
  await send("img", "http", probe("img"), () =>
    run(`const img = document.createElement("img"); img.src = ${JSON.stringify(probe("img"))}; document.body.append(img);`),
  );
  await send("fetch-no-cors", "http", probe("fetch-no-cors"), () =>
    run(`fetch(${JSON.stringify(probe("fetch-no-cors"))}, { mode: "no-cors" }).catch(() => undefined);`),
  );
  const ws = `ws://127.0.0.1:${G}/probe/websocket?case=${caseName("websocket")}`;
  await send("websocket", "upgrade", ws, () => run(`window.probeSocket = new WebSocket(${JSON.stringify(ws)}); window.probeSocket.onerror = () => undefined;`));

  // A link on the page, clicked: a top-level navigation to the gateway (its 404 page; the request is the point).
  await run(
    `const link = document.createElement("a"); link.id = "probe-navigation"; link.href = ${JSON.stringify(probe("navigation"))}; ` +
      `link.textContent = "to the gateway"; document.body.append(link);`,
  );
  await send("navigation", "http", probe("navigation"), () => Promise.all([page.waitForURL(probe("navigation"), { waitUntil: "load" }), page.click("#probe-navigation")]));

  // Back on the page, an HTML form that the page's own script builds and submits as the document loads (an
  // init script, not page.evaluate, which would lend the page a user gesture). For the own page that is the
  // dashboard again, under an id of its own; its WebSocket may or may not leave before the form navigates away.
  const formPage = spec.kind === "own-page" ? `${spec.url}?case=reopen-own-page` : `${spec.url}?autopost`;
  await page.addInitScript(
    `if (location.href === ${JSON.stringify(formPage)}) addEventListener("DOMContentLoaded", () => { ` +
      `const form = document.createElement("form"); form.method = "post"; form.action = ${JSON.stringify(probe("form-post"))}; ` +
      `const field = document.createElement("input"); field.type = "hidden"; field.name = "probe"; field.value = "1"; ` +
      `form.append(field); document.body.append(form); form.submit(); });`,
  );
  if (spec.kind === "own-page") gateway.ignore("upgrade", "reopen-own-page");
  const reopened = spec.kind === "own-page" ? gateway.next("http", "reopen-own-page", CAPTURE_TIMEOUT_MS) : Promise.resolve();
  await send("form-post", "http", probe("form-post"), () =>
    Promise.all([reopened, page.waitForURL(probe("form-post"), { waitUntil: "load" }), page.goto(formPage, { waitUntil: "commit" })]),
  );
  return cases;
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures: the expected answers, by hand from the rules

const PAGE_TEXT: Record<PageKind, (pageOrigin: string) => string> = {
  "cross-site": (origin) => `a cross-site page (${origin}, its name mapped to 127.0.0.1 inside the browser, as a rebinding or hijacking page would be)`,
  "other-port": (origin) => `a page of another local app on this machine (${origin}: same site, another port)`,
  "own-page": (origin) => `the gateway's own dashboard (${origin})`,
};

const ACTION_TEXT: Record<Action, string> = {
  "typed-navigation": "a navigation typed into the address bar",
  navigation: "a clicked link (a top-level navigation)",
  img: "an <img src>",
  "fetch-no-cors": 'fetch(url, {mode: "no-cors"})',
  "form-post": "an HTML form POST, submitted by the page's script as the page loads (no user gesture)",
  websocket: "new WebSocket(url) in the page's script",
  "dashboard-websocket": "the dashboard's own WebSocket (its script connects to ws://<location.host>/ws<location.search>)",
};

/** What happened, in words: the request and the page it came from. */
function happened(recorded: RecordedCase): string {
  const page = PAGE_TEXT[recorded.kind](recorded.pageOrigin);
  return recorded.action === "typed-navigation" ? `${ACTION_TEXT[recorded.action]}, to ${page}` : `${ACTION_TEXT[recorded.action]} on ${page}`;
}

function sentText(sent: Sent): string {
  return (["origin", "sec-fetch-site", "sec-fetch-mode"] as const)
    .map((name) => `${name === "origin" ? "Origin" : name.replace(/(^|-)[a-z]/g, (c) => c.toUpperCase())} ${sent[name] ?? "absent"}`)
    .join(", ");
}

export function provenance(recording: Recording, recorded: RecordedCase): string {
  const page =
    recorded.kind === "cross-site"
      ? `page ${recorded.pageOrigin}/ served by the recorder's page server on 127.0.0.1, the name mapped by Chromium's --host-resolver-rules "MAP ${ATTACKER_NAME} 127.0.0.1" (no DNS)`
      : recorded.kind === "other-port"
        ? `page ${recorded.pageOrigin}/ served by the recorder's page server on 127.0.0.1`
        : `page http://127.0.0.1:${recording.gatewayPort}/ (the gateway's dashboard)`;
  return [
    `client: headless Chromium ${recording.chromium} (Debian's /usr/bin/chromium) driven by playwright-core ${recording.playwright}, fresh profile`,
    `topology: ${page} -> ${recorded.target} (${ACTION_TEXT[recorded.action]})`,
    `gateway: examples/gateway createGateway (capture mode: onRequest for plain requests, onHandshake for upgrades) on Node ${process.version}, bound on 127.0.0.1:${recording.gatewayPort}`,
    `recorded by scripts/record-browser.ts on ${recording.date}`,
  ].join("\n");
}

export function toFixtures(recording: Recording): Fixture[] {
  const fixtures: Fixture[] = [];
  for (const recorded of recording.cases) {
    const local = recorded.kind === "own-page"; // the rules, by hand: only the gateway's own page is local
    const source = provenance(recording, recorded);
    const from = happened(recorded);
    fixtures.push({
      name: recorded.name,
      description: local
        ? `Local: ${from}; Chromium sent ${sentText(recorded.sent)}, so the request is the gateway's own page's.`
        : `Not local: ${from}; Chromium sent ${sentText(recorded.sent)}, so a page other than the gateway's sent it.`,
      provenance: { kind: "recorded", source },
      request: recorded.request,
      options: { trustedProxies: [] },
      expected: local
        ? { address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" }
        : { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:origin-not-local" },
    });
    if (recorded.kind === "other-port" && recorded.action === "websocket") {
      // The same handshake, with the other local app's origin declared: then it is local.
      fixtures.push({
        name: `${recorded.name}-local-origin`,
        description: `Local: ${from}, with that page's origin listed in localOrigins; Chromium sent ${sentText(recorded.sent)}.`,
        provenance: { kind: "recorded", source },
        request: recorded.request,
        options: { trustedProxies: [], localOrigins: [recorded.pageOrigin] },
        expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" },
      });
    }
  }
  return fixtures;
}

/**
 * The locality rules for a loopback peer with nobody trusted, read independently of the library: Host names
 * this machine, no forwarding header, and Origin (when present) is an http(s) origin of this machine on
 * Host's port, or listed in localOrigins; without Origin, Sec-Fetch-Site is absent, same-origin or none.
 * Every hand-written expectation must agree with it.
 */
export function localByRule(request: { readonly rawHeaders: readonly string[] }, localOrigins: readonly string[]): boolean {
  const hosts = headerLines(request, "host");
  if (hosts.length !== 1) return false;
  const host = thisMachine(`http://${hosts[0]}`);
  if (host === null) return false;
  if (FORWARDING.some((name) => headerLines(request, name).length > 0)) return false;
  const origins = headerLines(request, "origin");
  if (origins.length > 1) return false;
  if (origins.length === 1) {
    if (localOrigins.includes(origins[0]!)) return true;
    const origin = thisMachine(origins[0]!);
    return origin !== null && origin.port === host.port;
  }
  const site = headerLines(request, "sec-fetch-site");
  return site.length === 0 || (site.length === 1 && (site[0] === "same-origin" || site[0] === "none"));
}

/** The port (the scheme's default when absent) of an http(s) URL naming this machine, or null. */
function thisMachine(text: string): { port: string } | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const name = url.hostname.toLowerCase();
  const local = name === "localhost" || name.endsWith(".localhost") || name === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(name);
  return local ? { port: url.port === "" ? (url.protocol === "http:" ? "80" : "443") : url.port } : null;
}

/** Each fixture's expectation agrees with the rules read over what Chromium actually sent. */
function check(fixture: Fixture): void {
  const byRule = localByRule(fixture.request, fixture.options.localOrigins ?? []);
  if (byRule !== fixture.expected.loopbackEquivalent) {
    throw new Error(`fixture ${fixture.name}: expected local ${fixture.expected.loopbackEquivalent}, but the rules over the captured headers say ${byRule}`);
  }
}

function table(recording: Recording): string {
  const rows = recording.cases.map((recorded) => {
    const cell = (name: string) => headerLines(recorded.request, name).join(" + ") || "-";
    return [recorded.name, recorded.request.method, cell("origin"), cell("sec-fetch-site"), cell("sec-fetch-mode"), cell("sec-fetch-dest"), cell("sec-fetch-user")];
  });
  const head = ["case", "method", "Origin", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest", "Sec-Fetch-User"];
  const widths = head.map((_, i) => Math.max(...[head, ...rows].map((row) => row[i]!.length)));
  return [head, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

async function main(): Promise<void> {
  const recording = await recordBrowser();
  console.log(`Chromium ${recording.chromium}, playwright-core ${recording.playwright}, gateway on 127.0.0.1:${recording.gatewayPort}`);
  console.log(table(recording));
  const fixtures = toFixtures(recording);
  writeFixtureSet(OUT_DIR, fixtures, check);
  console.log(`wrote ${fixtures.length} fixtures from ${recording.cases.length} recorded requests to ${path.relative(ROOT, OUT_DIR)}/`);

  checkAgainstLibrary(fixtures);
}

function isProgram(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isProgram()) runBounded("record-browser", main);
