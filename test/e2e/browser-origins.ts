// A real browser through real TLS-terminating reverse proxies, for the answer's origin check: headless Debian
// Chromium opens the example gateway's dashboard at https://gw.test:PORT/ through Caddy (tls with a certificate
// made here, reverse_proxy) and through nginx (listen ssl; Host $host or $http_host; X-Forwarded-For
// $proxy_add_x_forwarded_for; X-Forwarded-Proto $scheme, or none), each in front of the gateway on 127.0.0.1
// with trustedProxies ["loopback"], and from each:
//
//   dashboard   https://gw.test:PORT/?case=...   typed (page.goto), then a WebSocket to wss://gw.test:PORT/ws
//               opened by script in the dashboard page (its Origin is the page's: https://gw.test:PORT)
//   cross-site  https://evil.test:PORT/          another site, served by the same proxy under another name
//               (its own certificate), opening a WebSocket to wss://gw.test:PORT/ws (Origin https://evil.test:PORT)
//
// Both names resolve to 127.0.0.1 inside Chromium only (--host-resolver-rules; no DNS is asked), and Chromium
// accepts exactly the two certificates made for the run (--ignore-certificate-errors-spki-list with their key
// hashes; any other certificate error still fails). The WebSocket of each case is opened by script evaluated
// in the page, named for its case; the dashboard's own script opens one too (wss: on an https page, as
// browsers require), which the harness records (DashboardScript) and claims when it reaches the gateway.
//
// What the gateway receives is captured by JudgingGateway (browser-proxies.ts: the example gateway in capture
// mode, trustedProxies ["loopback"]), checked against the proxy's and Chromium's models, and written as
// fixtures (scripts/record-browser-origins.ts) or compared with the committed ones (browser-origins.e2e.test.ts).
// The expected answers, origin check included, are hand-written in browser-origins-cases.ts.
//
// Care taken, as in proxies.ts: every proxy runs in the foreground as our own child on 127.0.0.1 and ::1 only
// and is stopped by its own pid (startProxy); the certificates live in a temp folder removed at the end; the
// browser contexts are closed in finally blocks; every wait is bounded; all traffic is on loopback.
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import type { CapturedRequest } from "../../scripts/lib/capturing-gateway.js";
import type { Fixture } from "../../src/cli/fixture.js";
import { CHROMIUM, launchChromium } from "./browser.js";
import { JudgingGateway, playwrightVersion } from "./browser-proxies.js";
import {
  CASES,
  CROSS_SITE_NAME,
  type CaseKey,
  type CaseSpec,
  FORWARDS,
  GATEWAY_NAME,
  HOST_RESOLVER_RULES,
  RECORDED,
  TOPOLOGY_TEXT,
  TRUST,
  type TopologyId,
  caseKey,
  fixtureName,
  withPort,
} from "./browser-origins-cases.js";
import { type Carried, type ProxySpec, type RunningProxy, checkCaptured, headerLines, proxyVersion, startProxy } from "./proxies.js";

export { CHROMIUM, JudgingGateway, playwrightVersion };

const TIMEOUT_MS = 15_000;
/** How long a request the page was made to send may take to reach the gateway. */
const CAPTURE_TIMEOUT_MS = 10_000;
/** How long the dashboard's own script is given to fail or connect. */
const DASHBOARD_SCRIPT_MS = 3_000;

/** The headers the rules read, compared between runs by the end-to-end suite. */
export const JUDGED_HEADERS = [
  "host",
  "origin",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "forwarded",
  "x-real-ip",
  "sec-fetch-site",
  "sec-fetch-mode",
  "sec-fetch-dest",
  "upgrade",
] as const;

// ---------------------------------------------------------------------------------------------------------
// Certificates the run makes itself

export interface Certificates {
  /** The temp folder holding `<name>.crt` and `<name>.key` for gw.test and evil.test. */
  dir: string;
  cert(name: string): string;
  key(name: string): string;
  /** base64 SHA-256 of each certificate's SubjectPublicKeyInfo: what Chromium's SPKI list pins. */
  spki: string[];
  /** How they were made, for provenance. */
  text: string;
  remove(): void;
}

const OPENSSL = "/usr/bin/openssl";
const certificateArgs = (name: string, dir: string) => [
  "req",
  "-x509",
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-nodes",
  "-days",
  "1",
  "-keyout",
  path.join(dir, `${name}.key`),
  "-out",
  path.join(dir, `${name}.crt`),
  "-subj",
  `/CN=${name}`,
  "-addext",
  `subjectAltName=DNS:${name}`,
];

/** A self-signed P-256 certificate for each name, made with openssl into a fresh temp folder. */
export function makeCertificates(names: readonly string[] = [GATEWAY_NAME, CROSS_SITE_NAME]): Certificates {
  const dir = mkdtempSync(path.join(tmpdir(), "clientaddr-certs-"));
  try {
    for (const name of names) execFileSync(OPENSSL, certificateArgs(name, dir), { stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
    const spki = names.map((name) => {
      const der = new X509Certificate(readFileSync(path.join(dir, `${name}.crt`))).publicKey.export({ type: "spki", format: "der" });
      return createHash("sha256").update(der).digest("base64");
    });
    const version = execFileSync(OPENSSL, ["version"], { encoding: "utf8", timeout: 5_000 }).trim();
    const text = `self-signed P-256 certificates made for this run with ${version}: ${names.map((name) => `openssl ${certificateArgs(name, "$CERTS").join(" ")}`).join("; ")}`;
    return {
      dir,
      cert: (name) => path.join(dir, `${name}.crt`),
      key: (name) => path.join(dir, `${name}.key`),
      spki,
      text,
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The proxies: TLS on a loopback port, the gateway's name and the other site's on the same port

/** The other site's page: nothing but a title; the harness's script opens its WebSocket. */
const CROSS_SITE_PAGE = "<!doctype html><meta charset=utf-8><title>Another site</title><h1>A page on another site</h1>";

/** What a proxy passes on for a browser request carrying `c` (the browser sent Host gw.test:PORT). */
function forwards(topology: TopologyId): ProxySpec["forwards"] {
  return (c, hop) => {
    const model = withPort(FORWARDS[topology], hop.port);
    return { ...c, from: "127.0.0.1", host: [model.host], "x-forwarded-for": model["x-forwarded-for"] };
  };
}

function caddy(topology: TopologyId, certs: Certificates): ProxySpec {
  return {
    name: "caddy",
    what: "TLS with the recorder's certificates (tls FILE FILE), reverse_proxy with its defaults; the other site answered by respond",
    forwards: forwards(topology),
    config: (_dir, { port, upstream }) =>
      [
        "{",
        "  admin off",
        "  auto_https off",
        "}",
        `https://${GATEWAY_NAME}:${port} {`,
        "  bind 127.0.0.1 ::1",
        `  tls ${certs.cert(GATEWAY_NAME)} ${certs.key(GATEWAY_NAME)}`,
        `  reverse_proxy 127.0.0.1:${upstream}`,
        "}",
        `https://${CROSS_SITE_NAME}:${port} {`,
        "  bind 127.0.0.1 ::1",
        `  tls ${certs.cert(CROSS_SITE_NAME)} ${certs.key(CROSS_SITE_NAME)}`,
        '  header Content-Type "text/html; charset=utf-8"',
        `  respond "${CROSS_SITE_PAGE}" 200`,
        "}",
        "",
      ].join("\n"),
  };
}

const NGINX_LINES: Record<Exclude<TopologyId, "caddy-tls">, string[]> = {
  "nginx-tls-host": ["proxy_set_header Host $host;", "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", "proxy_set_header X-Forwarded-Proto $scheme;"],
  "nginx-tls-http-host": ["proxy_set_header Host $http_host;", "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", "proxy_set_header X-Forwarded-Proto $scheme;"],
  "nginx-tls-no-proto": ["proxy_set_header Host $http_host;", "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"],
};

function nginx(topology: Exclude<TopologyId, "caddy-tls">, certs: Certificates): ProxySpec {
  const lines = NGINX_LINES[topology];
  const listen = (port: number) => [`    listen 127.0.0.1:${port} ssl;`, `    listen [::1]:${port} ssl;`];
  return {
    name: "nginx",
    what: `listen ssl with the recorder's certificates, proxy_pass with the WebSocket upgrade lines and ${lines.map((line) => line.replace(/^proxy_set_header /, "").replace(/;$/, "")).join(", ")}; the other site answered by return 200`,
    forwards: forwards(topology),
    config: (dir, { port, upstream }) =>
      [
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log info;`,
        "events { worker_connections 64; }",
        "http {",
        `  access_log ${dir}/access.log;`,
        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `  ${kind}_temp_path ${dir}/${kind}_temp;`),
        "  server {",
        ...listen(port),
        `    server_name ${GATEWAY_NAME};`,
        `    ssl_certificate ${certs.cert(GATEWAY_NAME)};`,
        `    ssl_certificate_key ${certs.key(GATEWAY_NAME)};`,
        "    location / {",
        `      proxy_pass http://127.0.0.1:${upstream};`,
        "      proxy_http_version 1.1;",
        "      proxy_set_header Upgrade $http_upgrade;",
        '      proxy_set_header Connection "upgrade";',
        ...lines.map((line) => `      ${line}`),
        "    }",
        "  }",
        "  server {",
        ...listen(port),
        `    server_name ${CROSS_SITE_NAME};`,
        `    ssl_certificate ${certs.cert(CROSS_SITE_NAME)};`,
        `    ssl_certificate_key ${certs.key(CROSS_SITE_NAME)};`,
        "    location / {",
        "      default_type text/html;",
        `      return 200 '${CROSS_SITE_PAGE}';`,
        "    }",
        "  }",
        "}",
        "",
      ].join("\n"),
  };
}

export function proxySpec(topology: TopologyId, certs: Certificates): ProxySpec {
  return topology === "caddy-tls" ? caddy(topology, certs) : nginx(topology, certs);
}

// ---------------------------------------------------------------------------------------------------------
// The browser

/**
 * Headless Debian Chromium as launchChromium (browser.ts) starts it, with both names mapped to 127.0.0.1 and
 * the run's own certificates accepted by their key hashes, nothing else.
 */
export function launchBrowser(certs: Certificates): Promise<Browser> {
  return launchChromium({ timeoutMs: TIMEOUT_MS, hostResolverRules: HOST_RESOLVER_RULES, extraArgs: [`--ignore-certificate-errors-spki-list=${certs.spki.join(",")}`] });
}

/** The WebSocket the page's script opens to `url`, and what the page saw of it (bounded in the page). */
function openWebSocket(page: Page, url: string): Promise<string> {
  return page.evaluate(
    `new Promise((resolve) => {
      const timer = setTimeout(() => resolve("no answer within ${CAPTURE_TIMEOUT_MS} ms"), ${CAPTURE_TIMEOUT_MS});
      let ws;
      try { ws = new WebSocket(${JSON.stringify(url)}); } catch (error) { clearTimeout(timer); resolve("not opened: " + error.message); return; }
      ws.onmessage = (event) => { clearTimeout(timer); resolve("message " + event.data); ws.close(); };
      ws.onclose = (event) => { clearTimeout(timer); resolve("closed " + event.code + (event.reason ? ": " + event.reason : "")); };
    })`,
  ) as Promise<string>;
}

// ---------------------------------------------------------------------------------------------------------
// The recording

/** One request a page sent, as the gateway captured it. */
export interface RecordedCase {
  name: string;
  topology: TopologyId;
  key: CaseKey;
  spec: CaseSpec;
  /** The page's origin, https://<name>:PROXYPORT. */
  pageOrigin: string;
  /** Where the page sent it. */
  target: string;
  captured: CapturedRequest;
}

/** What a page saw of the WebSocket it opened (the gateway's hello, or the close code and reason). */
export interface PageView {
  topology: TopologyId;
  key: CaseKey;
  outcome: string;
}

/** What the example dashboard's own script did on the https page: its #status, and the page's errors. */
export interface DashboardScript {
  status: string;
  errors: string[];
}

export interface ProxyRun {
  name: string;
  version: string;
  what: string;
  config: string;
  pid: number;
  port: number;
}

export interface TopologyRecording {
  topology: TopologyId;
  proxy: ProxyRun;
  cases: RecordedCase[];
  views: PageView[];
  dashboardScript: DashboardScript;
}

/** What every fixture's provenance states besides its topology. */
export interface Facts {
  chromium: string;
  playwright: string;
  gatewayPort: number;
  certificates: string;
  date: string;
}

/** A promise that may be left unawaited when an earlier step throws: its rejection is then not unhandled. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** Starts the topology's proxy, opens both pages through it in fresh contexts, and stops the proxy by its pid. */
export async function recordTopology(topology: TopologyId, gateway: JudgingGateway, browser: Browser, certs: Certificates): Promise<TopologyRecording> {
  const proxy = await startProxy(proxySpec(topology, certs), gateway.port);
  try {
    const port = proxy.hop.port;
    const gatewayOrigin = `https://${GATEWAY_NAME}:${port}`;
    const crossSiteOrigin = `https://${CROSS_SITE_NAME}:${port}`;
    const cases: RecordedCase[] = [];
    const views: PageView[] = [];
    const add = (spec: CaseSpec, pageOrigin: string, target: string, captured: CapturedRequest) => {
      const key = caseKey(spec);
      const recorded: RecordedCase = { name: fixtureName(topology, key), topology, key, spec, pageOrigin, target, captured };
      checkCase(recorded, proxy, gateway.port);
      cases.push(recorded);
    };
    const [navigationSpec, dashboardSpec, crossSiteSpec] = CASES as [CaseSpec, CaseSpec, CaseSpec];
    let dashboardScript: DashboardScript;

    // The dashboard, typed, then its WebSocket from the dashboard page.
    const dashboard = await browser.newContext();
    try {
      const page = await dashboard.newPage();
      page.setDefaultTimeout(TIMEOUT_MS);
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      const navigationId = `${topology}-${caseKey(navigationSpec)}`;
      const navigationTarget = `${gatewayOrigin}/?case=${navigationId}`;
      const navigation = quiet(gateway.next("http", navigationId, CAPTURE_TIMEOUT_MS));
      await page.goto(navigationTarget, { waitUntil: "load" });
      add(navigationSpec, gatewayOrigin, navigationTarget, await navigation);

      // The example dashboard's own script builds ws://<location.host>/ws<location.search>: from an https page
      // Chromium refuses it (mixed content). Should it ever connect, its handshake is claimed, not recorded.
      if (!errors.some((error) => error.includes("WebSocket"))) {
        await Promise.race([
          page.waitForFunction(`document.getElementById("status")?.textContent !== "connecting…"`, undefined, { timeout: DASHBOARD_SCRIPT_MS }).catch(() => undefined),
          new Promise((resolve) => page.once("pageerror", resolve)),
        ]);
      }
      dashboardScript = { status: (await page.locator("#status").textContent()) ?? "", errors: [...errors] };
      if (dashboardScript.status !== "connecting…") await gateway.next("upgrade", navigationId, CAPTURE_TIMEOUT_MS);

      const websocketId = `${topology}-${caseKey(dashboardSpec)}`;
      const target = `wss://${GATEWAY_NAME}:${port}/ws?case=${websocketId}`;
      const [captured, outcome] = await Promise.all([quiet(gateway.next("upgrade", websocketId, CAPTURE_TIMEOUT_MS)), openWebSocket(page, target)]);
      add(dashboardSpec, gatewayOrigin, target, captured);
      views.push({ topology, key: caseKey(dashboardSpec), outcome });
    } finally {
      await dashboard.close();
    }

    // Another site, served by the same proxy under its own name, opening a WebSocket to the gateway.
    const crossSite = await browser.newContext();
    try {
      const page = await crossSite.newPage();
      page.setDefaultTimeout(TIMEOUT_MS);
      await page.goto(`${crossSiteOrigin}/`, { waitUntil: "load" });
      const websocketId = `${topology}-${caseKey(crossSiteSpec)}`;
      const target = `wss://${GATEWAY_NAME}:${port}/ws?case=${websocketId}`;
      const [captured, outcome] = await Promise.all([quiet(gateway.next("upgrade", websocketId, CAPTURE_TIMEOUT_MS)), openWebSocket(page, target)]);
      add(crossSiteSpec, crossSiteOrigin, target, captured);
      views.push({ topology, key: caseKey(crossSiteSpec), outcome });
    } finally {
      await crossSite.close();
    }

    const config = proxy.config.replaceAll(certs.dir, "$CERTS");
    return { topology, proxy: { name: proxy.spec.name, version: proxyVersion(proxy.spec.name), what: proxy.spec.what, config, pid: proxy.pid, port }, cases, views, dashboardScript };
  } finally {
    await proxy.stop();
  }
}

/** Throws unless the capture is what the proxy's model and Chromium's make of the page's request. */
export function checkCase(recorded: RecordedCase, proxy: RunningProxy, gatewayPort: number): void {
  const { captured: request, spec } = recorded;
  const port = proxy.hop.port;
  const websocket = spec.request === "websocket";
  // A typed navigation carries no Origin; a WebSocket handshake always carries the page's.
  const sent: Carried = { from: "127.0.0.1", host: [`${GATEWAY_NAME}:${port}`], origin: websocket ? [recorded.pageOrigin] : [], "x-forwarded-for": [], "x-real-ip": [], forwarded: [] };
  const problems: string[] = [];
  try {
    checkCaptured(request, proxy.spec.forwards(sent, proxy.hop));
  } catch (error) {
    problems.push((error as Error).message);
  }
  const want = (what: string, got: unknown, expected: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(expected)) problems.push(`${what} ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  };
  want("local", request.local, { address: "127.0.0.1", port: gatewayPort });
  want("secure", request.secure, undefined);
  want("method", request.method, "GET");
  const target = new URL(recorded.target);
  want("url", request.url, `${target.pathname}${target.search}`);
  const model = withPort(FORWARDS[recorded.topology], port);
  for (const name of ["x-forwarded-host", "x-forwarded-proto"] as const) want(name, headerLines(request, name), model[name]);
  want("x-forwarded-port", headerLines(request, "x-forwarded-port"), []);
  // Chromium sends Fetch Metadata with a navigation, none with a WebSocket handshake.
  const fetchMetadata = websocket ? { site: [], mode: [], dest: [] } : { site: ["none"], mode: ["navigate"], dest: ["document"] };
  for (const part of ["site", "mode", "dest"] as const) want(`sec-fetch-${part}`, headerLines(request, `sec-fetch-${part}`), fetchMetadata[part]);
  want("upgrade", headerLines(request, "upgrade").map((value) => value.toLowerCase()), websocket ? ["websocket"] : []);
  if (problems.length > 0) throw new Error(`${recorded.name}: the gateway received something else than the proxy and Chromium models say: ${problems.join("; ")}`);
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures

export function provenance(facts: Facts, recording: TopologyRecording, recorded: RecordedCase): string {
  const { proxy } = recording;
  return [
    `client: headless Chromium ${facts.chromium} (Debian's /usr/bin/chromium) driven by playwright-core ${facts.playwright}, a fresh context per page, --host-resolver-rules "${HOST_RESOLVER_RULES}" (no DNS), --ignore-certificate-errors-spki-list pinning the run's two certificates (no other certificate error ignored)`,
    `page: ${recorded.pageOrigin}/ (${recorded.spec.page === "dashboard" ? "the gateway's dashboard, through the proxy" : "another site, answered by the proxy itself"}) -> ${recorded.target}`,
    `certificates: ${facts.certificates}`,
    `proxy: ${proxy.version}, ${proxy.what}, run in the foreground with this config:\n${proxy.config.trimEnd()}`,
    `gateway: examples/gateway createGateway (capture mode, trustedProxies ["loopback"]) on Node ${process.version}, bound on 127.0.0.1:${facts.gatewayPort}`,
    `topology: Chromium on 127.0.0.1 -> 127.0.0.1:${proxy.port} ${proxy.name} (TLS) -> 127.0.0.1:${facts.gatewayPort} gateway (plain HTTP)`,
    `recorded by scripts/record-browser-origins.ts on ${facts.date}`,
  ].join("\n");
}

export function toFixtures(facts: Facts, recordings: readonly TopologyRecording[]): Fixture[] {
  const fixtures: Fixture[] = [];
  for (const recording of recordings) {
    for (const recorded of recording.cases) {
      const { address, loopbackEquivalent, basis, why } = RECORDED[recorded.topology][recorded.key];
      fixtures.push({
        name: recorded.name,
        description: `${recorded.spec.text}, through ${TOPOLOGY_TEXT[recorded.topology]}, ${TRUST.text}: ${why}`,
        provenance: { kind: "recorded", source: provenance(facts, recording, recorded) },
        request: recorded.captured,
        options: TRUST.options,
        expected: { address, loopbackEquivalent, basis },
      });
    }
  }
  return fixtures;
}

/** Every page's WebSocket must be refused: none of these clients is local, and none presents the token. */
export function viewMismatches(view: PageView): string[] {
  return view.outcome.startsWith("closed 1008") ? [] : [`${view.topology} ${view.key}: the page saw ${JSON.stringify(view.outcome)}, expected the gateway to close it with 1008`];
}
