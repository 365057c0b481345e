// A real browser through real reverse proxies that rewrite or keep Host: headless Debian Chromium loads the
// example gateway's dashboard through Apache (mod_proxy, ProxyPreserveHost Off and On), nginx (Host $host,
// $http_host, and its default $proxy_host) and Caddy (reverse_proxy), each in front of the gateway on
// 127.0.0.1, twice:
//
//   rebinding  http://evil.test:PROXYPORT/   a DNS-rebinding page: Chromium maps the name to 127.0.0.1 with
//              --host-resolver-rules "MAP evil.test 127.0.0.1" (no DNS is asked), so the page is the
//              proxy's, same-origin with it, and its script's requests go through the proxy to the gateway
//   own-page   http://localhost:PROXYPORT/   the dashboard as its user opens it through the proxy (Chromium
//              resolves localhost itself and reaches the proxy over ::1 first)
//
// From each page two requests reach the gateway: the dashboard's own WebSocket (ws://<location.host>/ws) and a
// same-origin fetch("/verdict") that the page's script sends once the WebSocket has its answer. The gateway
// (JudgingGateway, below: the example gateway in capture mode with the fixtures' trust list, ["loopback"])
// answers that fetch with the library's verdict as JSON, which the script puts in #verdict; the dashboard
// shows the WebSocket's outcome in #status. So each page reads, in the browser, what the gateway decided.
//
// The recorder (scripts/record-browser-proxies.ts) writes fixtures/recorded/browser-proxies/; the end-to-end
// suite (browser-proxies.e2e.test.ts) redoes the recording live and compares. The expected answers in ANSWERS
// are written by hand from the rules, never computed by the library. What each proxy does to the headers is a
// small model (the ProxySpec's `forwards`, and `describes` here), and what Chromium sends is another: every
// capture is checked against both before it is used, so a proxy or browser that changes fails the run instead
// of leaving a fixture whose expectation no longer fits.
//
// Care taken, as in proxies.ts: every proxy runs in the foreground as our own child on 127.0.0.1 and ::1 only
// and is stopped by its own pid; the browser and the gateway are closed in finally blocks; every wait is
// bounded; all traffic is on loopback.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { compileTrustedProxies, connectionSecure, resolveClientAddress } from "clientaddr";
import { createGateway } from "../../examples/gateway/gateway.js";
import type { CapturedRequest, Channel } from "../../scripts/lib/capturing-gateway.js";
import type { Fixture } from "../../src/cli/fixture.js";
import { CHROMIUM, launchChromium } from "./browser.js";
import { within } from "./processes.js";
import { type Carried, PROXIES, type ProxyName, type ProxySpec, type RunningProxy, checkCaptured, headerLines, nginx, proxyVersion, startProxy } from "./proxies.js";

export { CHROMIUM };

/** The rebinding page's name: resolved to 127.0.0.1 inside Chromium only. */
export const REBINDING_NAME = "evil.test";
export const HOST_RESOLVER_RULES = `MAP ${REBINDING_NAME} 127.0.0.1`;
const TIMEOUT_MS = 15_000;
/** How long a request the page was made to send may take to reach the gateway. */
const CAPTURE_TIMEOUT_MS = 10_000;

/** The trust list every fixture here is judged with, and the gateway admits with. */
export const TRUST = {
  text: 'loopback proxies declared (trustedProxies ["loopback"], X-Forwarded-For believed)',
  options: { trustedProxies: ["loopback"] } satisfies Fixture["options"],
};

// ---------------------------------------------------------------------------------------------------------
// The proxies: Host rewritten or kept

/** nginx sends X-Forwarded-For only when told to; every variant here is. */
const NGINX_XFF = "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;";
/** Appends the sender's address to X-Forwarded-For, merging any lines into one (nginx, Apache). */
const appendXff = (c: Carried) => [[...c["x-forwarded-for"], c.from].join(", ")];

/** What a proxy adds to say what the browser asked for, given the Host the browser sent. */
interface Described {
  "x-forwarded-host": string[];
  "x-forwarded-proto": string[];
}

export type TopologyId = "apache-default" | "apache-preserve-host" | "nginx-host" | "nginx-http-host" | "nginx-proxy-host" | "caddy";

export interface Topology {
  text: string;
  spec: ProxySpec;
  describes(host: string): Described;
}

const NOTHING: Described = { "x-forwarded-host": [], "x-forwarded-proto": [] };

export const TOPOLOGIES: Record<TopologyId, Topology> = {
  // Host becomes the backend's 127.0.0.1:GATEWAY; the browser's Host goes to X-Forwarded-Host.
  "apache-default": {
    text: "Apache mod_proxy_http with its defaults (ProxyPreserveHost Off; ProxyPass upgrade=websocket)",
    spec: PROXIES.apache,
    describes: (host) => ({ "x-forwarded-host": [host], "x-forwarded-proto": [] }),
  },
  "apache-preserve-host": {
    text: "Apache mod_proxy_http with ProxyPreserveHost On (ProxyPass upgrade=websocket)",
    spec: {
      ...PROXIES.apache,
      what: "mod_proxy_http, ProxyPass with upgrade=websocket, ProxyPreserveHost On",
      // Host passes on as the browser sent it; X-Forwarded-For is appended to.
      forwards: (c) => ({ ...c, from: "127.0.0.1", "x-forwarded-for": appendXff(c) }),
      config: (dir, hop) => `${PROXIES.apache.config(dir, hop)}ProxyPreserveHost On\n`,
    },
    describes: (host) => ({ "x-forwarded-host": [host], "x-forwarded-proto": [] }),
  },
  "nginx-host": {
    text: "nginx with proxy_set_header Host $host and X-Forwarded-For $proxy_add_x_forwarded_for",
    // $host is the browser's Host without its port.
    spec: nginx("proxy_pass with proxy_set_header Host $host and X-Forwarded-For $proxy_add_x_forwarded_for", ["proxy_set_header Host $host;", NGINX_XFF], (c) => ({
      ...c,
      from: "127.0.0.1",
      host: c.host.map((h) => h.replace(/:\d+$/, "")),
      "x-forwarded-for": appendXff(c),
    })),
    describes: () => NOTHING,
  },
  "nginx-http-host": {
    text: "nginx with proxy_set_header Host $http_host and X-Forwarded-For $proxy_add_x_forwarded_for",
    // $http_host is the browser's Host as sent, port included.
    spec: nginx("proxy_pass with proxy_set_header Host $http_host and X-Forwarded-For $proxy_add_x_forwarded_for", ["proxy_set_header Host $http_host;", NGINX_XFF], (c) => ({
      ...c,
      from: "127.0.0.1",
      "x-forwarded-for": appendXff(c),
    })),
    describes: () => NOTHING,
  },
  "nginx-proxy-host": {
    text: "nginx with its default Host ($proxy_host: no Host line) and X-Forwarded-For $proxy_add_x_forwarded_for",
    // No Host line: nginx sends $proxy_host, proxy_pass's 127.0.0.1:GATEWAY.
    spec: nginx("proxy_pass with its default Host ($proxy_host) and proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for", [NGINX_XFF], (c, { upstream }) => ({
      ...c,
      from: "127.0.0.1",
      host: [`127.0.0.1:${upstream}`],
      "x-forwarded-for": appendXff(c),
    })),
    describes: () => NOTHING,
  },
  // Host passes on; X-Forwarded-For replaced by the address Caddy saw; X-Forwarded-Host and -Proto added.
  caddy: {
    text: "Caddy's reverse_proxy with its defaults",
    spec: PROXIES.caddy,
    describes: (host) => ({ "x-forwarded-host": [host], "x-forwarded-proto": ["http"] }),
  },
};

export const TOPOLOGY_IDS = Object.keys(TOPOLOGIES) as TopologyId[];

// ---------------------------------------------------------------------------------------------------------
// The pages and the requests they send

export type PageKind = "rebinding" | "own-page";
export type RequestKind = "fetch" | "websocket";
export const PAGE_KINDS: readonly PageKind[] = ["rebinding", "own-page"];
export const REQUEST_KINDS: readonly RequestKind[] = ["fetch", "websocket"];

interface PageSpec {
  /** The name the page is loaded under (its URL is http://<name>:PROXYPORT/). */
  name: string;
  /** The loopback address Chromium reaches the proxy from. */
  from: "127.0.0.1" | "::1";
  /** Whether browsers treat the name as potentially trustworthy over http, and so send it Fetch Metadata. */
  trustworthy: boolean;
  text(origin: string): string;
}

export const PAGES: Record<PageKind, PageSpec> = {
  rebinding: {
    name: REBINDING_NAME,
    from: "127.0.0.1",
    trustworthy: false,
    text: (origin) => `a DNS-rebinding page (${origin}, the name mapped to 127.0.0.1 inside Chromium, so the page is served by the proxy from the gateway and is same-origin with it)`,
  },
  "own-page": {
    name: "localhost",
    from: "::1",
    trustworthy: true,
    text: (origin) => `the gateway's own dashboard loaded through the proxy as ${origin} (Chromium resolves localhost itself and reaches the proxy over ::1)`,
  },
};

export const REQUEST_TEXT: Record<RequestKind, string> = {
  fetch: 'The page script\'s same-origin fetch("/verdict") (a GET: no Origin)',
  websocket: "The dashboard's own WebSocket (its script connects to ws://<location.host>/ws<location.search>)",
};

/** The judged headers: what the rules read, and what the e2e suite compares between runs. */
export const JUDGED_HEADERS = ["host", "origin", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "forwarded", "x-real-ip", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest"] as const;

/** What Chromium sends with each request from a page on `origin`, as far as the rules care. */
function chromiumSends(page: PageSpec, request: RequestKind, origin: string): Record<"origin" | "sec-fetch-site" | "sec-fetch-mode" | "sec-fetch-dest", string[]> {
  if (request === "websocket") {
    // A handshake always carries Origin, and Chromium sends no Fetch Metadata with it.
    return { origin: [origin], "sec-fetch-site": [], "sec-fetch-mode": [], "sec-fetch-dest": [] };
  }
  // A same-origin GET fetch carries no Origin; Fetch Metadata goes only to potentially trustworthy URLs
  // (localhost yes; evil.test over http no).
  return page.trustworthy
    ? { origin: [], "sec-fetch-site": ["same-origin"], "sec-fetch-mode": ["cors"], "sec-fetch-dest": ["empty"] }
    : { origin: [], "sec-fetch-site": [], "sec-fetch-mode": [], "sec-fetch-dest": [] };
}

// ---------------------------------------------------------------------------------------------------------
// The expected answers, by hand from the rules

type Expected = Fixture["expected"];
/** [address, loopbackEquivalent, basis, why]; a why starting "limitation:" marks a documented limit. */
export type Answer = [Expected["address"], boolean, Expected["basis"], string];

const HOST_REWRITTEN_XFH = "Apache rewrote Host to the gateway's own 127.0.0.1:GATEWAY but put the browser's Host, evil.test:PORT, in X-Forwarded-Host; every Host-bearing value must name this machine and that one does not: not local";

export const ANSWERS: Record<TopologyId, Record<PageKind, Record<RequestKind, Answer>>> = {
  "apache-default": {
    rebinding: {
      fetch: ["127.0.0.1", false, "x-forwarded-for:host-not-local", HOST_REWRITTEN_XFH],
      websocket: ["127.0.0.1", false, "x-forwarded-for:host-not-local", `${HOST_REWRITTEN_XFH} (its Origin http://evil.test:PORT is not this machine either)`],
    },
    "own-page": {
      fetch: ["::1", true, "x-forwarded-for:loopback", "X-Forwarded-For names the loopback client ::1; Host 127.0.0.1:GATEWAY and X-Forwarded-Host localhost:PORT both name this machine; no Origin, and Sec-Fetch-Site same-origin: local"],
      websocket: ["::1", true, "x-forwarded-for:loopback", "X-Forwarded-For names the loopback client ::1; the request the browser made is X-Forwarded-Host localhost:PORT over http, and Origin http://localhost:PORT has that scheme and port: local"],
    },
  },
  "apache-preserve-host": {
    rebinding: {
      fetch: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "Host evil.test:PORT, kept by ProxyPreserveHost On, does not name this machine: not local"],
      websocket: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "Host evil.test:PORT, kept by ProxyPreserveHost On, does not name this machine: not local (its Origin fails too)"],
    },
    "own-page": {
      fetch: ["::1", true, "x-forwarded-for:loopback", "X-Forwarded-For names the loopback client ::1; Host and X-Forwarded-Host are localhost:PORT; no Origin, and Sec-Fetch-Site same-origin: local"],
      websocket: ["::1", true, "x-forwarded-for:loopback", "X-Forwarded-For names the loopback client ::1; Host localhost:PORT, and Origin http://localhost:PORT has its scheme and port: local"],
    },
  },
  "nginx-host": {
    rebinding: {
      fetch: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "Host evil.test ($host, the browser's name without its port) does not name this machine: not local"],
      websocket: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "Host evil.test ($host) does not name this machine: not local (its Origin fails too)"],
    },
    "own-page": {
      fetch: ["::1", true, "x-forwarded-for:loopback", "X-Forwarded-For names the loopback client ::1; Host localhost ($host dropped the port) names this machine; no Origin, and Sec-Fetch-Site same-origin: local"],
      websocket: ["::1", false, "x-forwarded-for:origin-not-local", "Host localhost ($host dropped the port) means http's port 80, and Origin http://localhost:PORT names another port: not local, the dashboard's own WebSocket refused (the diagnostic advises proxy_set_header Host $http_host)"],
    },
  },
  "nginx-http-host": {
    rebinding: {
      fetch: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "Host evil.test:PORT ($http_host, as the browser sent it) does not name this machine: not local"],
      websocket: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "Host evil.test:PORT ($http_host) does not name this machine: not local (its Origin fails too)"],
    },
    "own-page": {
      fetch: ["::1", true, "x-forwarded-for:loopback", "X-Forwarded-For names the loopback client ::1; Host localhost:PORT names this machine; no Origin, and Sec-Fetch-Site same-origin: local"],
      websocket: ["::1", true, "x-forwarded-for:loopback", "X-Forwarded-For names the loopback client ::1; Host localhost:PORT, and Origin http://localhost:PORT has its scheme and port: local"],
    },
  },
  "nginx-proxy-host": {
    rebinding: {
      fetch: [
        "127.0.0.1",
        true,
        "x-forwarded-for:loopback",
        "limitation: nginx's default Host ($proxy_host) is the gateway's own 127.0.0.1:GATEWAY and nothing else says what the browser asked for; a same-origin GET fetch carries no Origin, and to evil.test over http Chromium sends no Sec-Fetch-Site, so the rebinding page's request cannot be told from the dashboard's and is local (pass $http_host, or add X-Forwarded-Host)",
      ],
      websocket: ["127.0.0.1", false, "x-forwarded-for:origin-not-local", "Host is the gateway's 127.0.0.1:GATEWAY, but Origin http://evil.test:PORT is not this machine: not local"],
    },
    "own-page": {
      fetch: ["::1", true, "x-forwarded-for:loopback", "X-Forwarded-For names the loopback client ::1; Host 127.0.0.1:GATEWAY names this machine; no Origin, and Sec-Fetch-Site same-origin: local"],
      websocket: ["::1", false, "x-forwarded-for:origin-not-local", "Origin http://localhost:PORT names the proxy's port, but Host is the gateway's own 127.0.0.1:GATEWAY, another port: not local, the dashboard's own WebSocket refused (pass $http_host)"],
    },
  },
  caddy: {
    rebinding: {
      fetch: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "Host evil.test:PORT (passed on by Caddy, and in its X-Forwarded-Host) does not name this machine: not local"],
      websocket: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "Host evil.test:PORT (passed on by Caddy) does not name this machine: not local (its Origin fails too)"],
    },
    "own-page": {
      fetch: ["::1", true, "x-forwarded-for:loopback", "Caddy's X-Forwarded-For names the loopback client ::1; Host and X-Forwarded-Host are localhost:PORT, X-Forwarded-Proto http; no Origin, and Sec-Fetch-Site same-origin: local"],
      websocket: ["::1", true, "x-forwarded-for:loopback", "Caddy's X-Forwarded-For names the loopback client ::1; the request is localhost:PORT over http (X-Forwarded-Proto), and Origin http://localhost:PORT has that scheme and port: local"],
    },
  },
};

export function fixtureName(topology: TopologyId, page: PageKind, request: RequestKind): string {
  const limitation = ANSWERS[topology][page][request][3].startsWith("limitation:");
  return `chromium-${topology}-${page}-${request}${limitation ? "-limitation" : ""}`;
}

// ---------------------------------------------------------------------------------------------------------
// The gateway: the example gateway in capture mode, admitting with the fixtures' trust list, and answering
// GET /verdict with the library's verdict on that very request

/** The verdict a page reads from GET /verdict. */
export interface Verdict {
  address: string | null;
  loopbackEquivalent: boolean;
  basis: string;
  diagnostics: string[];
}

function captured(req: IncomingMessage): CapturedRequest {
  const { remoteAddress, remotePort, localAddress, localPort } = req.socket;
  return {
    peer: remoteAddress === undefined || remotePort === undefined ? null : { address: remoteAddress, port: remotePort },
    local: localAddress === undefined || localPort === undefined ? null : { address: localAddress, port: localPort },
    method: req.method ?? "",
    url: req.url ?? "",
    rawHeaders: [...req.rawHeaders],
  };
}

/**
 * The example gateway (examples/gateway createGateway) on 127.0.0.1 with trustedProxies ["loopback"], so that
 * the dashboard's WebSocket is admitted or refused as the fixtures judge it; its capture hooks hand each request
 * to whoever waits for its `?case=` id, as CapturingGateway does. One route is added in front of the example's
 * own: GET /verdict answers with resolveClientAddress's verdict as JSON (captured here, in the same shape).
 */
export class JudgingGateway {
  readonly #trusted = compileTrustedProxies(TRUST.options.trustedProxies);
  readonly server = createGateway(
    { gateway: { trustedProxies: [...TRUST.options.trustedProxies], auth: { mode: "token", token: randomBytes(16).toString("hex") } } },
    {
      onRequest: (request) => this.#arrived("http", request),
      onHandshake: ({ request }) => this.#arrived("upgrade", request),
      log: () => undefined,
    },
  );
  port = 0;
  readonly #arrivedByKey = new Map<string, CapturedRequest>();
  readonly #waiting = new Map<string, (request: CapturedRequest) => void>();
  readonly #claimed = new Set<string>();
  readonly #unexpected: string[] = [];

  constructor() {
    const example = this.server.listeners("request") as Array<(req: IncomingMessage, res: ServerResponse) => void>;
    this.server.removeAllListeners("request");
    this.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      if (req.method === "GET" && new URL(req.url ?? "/", "http://gateway.invalid").pathname === "/verdict") this.#verdict(req, res);
      else for (const listener of example) listener.call(this.server, req, res);
    });
  }

  #verdict(req: IncomingMessage, res: ServerResponse): void {
    const result = resolveClientAddress({
      remoteAddress: req.socket.remoteAddress,
      secure: connectionSecure(req.socket),
      headers: req.rawHeaders,
      trustedProxies: this.#trusted,
    });
    this.#arrived("http", captured(req));
    const verdict: Verdict = { address: result.address, loopbackEquivalent: result.loopbackEquivalent, basis: result.basis, diagnostics: result.diagnostics.map((d) => d.code) };
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(verdict));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host: "127.0.0.1", port: 0 }, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** The request on `channel` whose URL carries `?case=<id>`, within the timeout (it may have arrived already). */
  next(channel: Channel, id: string, timeoutMs: number): Promise<CapturedRequest> {
    const key = `${channel} ${id}`;
    if (this.#claimed.has(key)) return Promise.reject(new Error(`${key}: already claimed`));
    this.#claimed.add(key);
    const arrived = this.#arrivedByKey.get(key);
    if (arrived !== undefined) return Promise.resolve(arrived);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        reject(new Error(`${id}: the gateway received no ${channel === "http" ? "HTTP request" : "upgrade request"} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(key, (request) => {
        clearTimeout(timer);
        this.#waiting.delete(key);
        resolve(request);
      });
    });
  }

  /** What arrived that nobody asked for: requests without an id, repeats, and ids never claimed. */
  stray(): string[] {
    return [...this.#unexpected, ...[...this.#arrivedByKey.keys()].filter((key) => !this.#claimed.has(key))];
  }

  #arrived(channel: Channel, request: CapturedRequest): void {
    const url = new URL(request.url, "http://gateway.invalid");
    const id = url.searchParams.get("case");
    if (id === null) {
      // A browser asks for the favicon of any page it shows.
      if (!(channel === "http" && url.pathname === "/favicon.ico")) this.#unexpected.push(`${channel} ${request.method} ${request.url}`);
      return;
    }
    const key = `${channel} ${id}`;
    if (this.#arrivedByKey.has(key)) {
      this.#unexpected.push(`${key} (a repeat)`);
      return;
    }
    this.#arrivedByKey.set(key, request);
    this.#waiting.get(key)?.(request);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await within(new Promise<void>((resolve) => this.server.close(() => resolve())), 2_000);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The recording

/** One request a page sent, as the gateway captured it. */
export interface RecordedCase {
  name: string;
  topology: TopologyId;
  page: PageKind;
  request: RequestKind;
  /** The page's origin, http://<name>:PROXYPORT. */
  pageOrigin: string;
  /** Where the page sent it. */
  target: string;
  captured: CapturedRequest;
}

/** What the page itself read: the dashboard's #status (its WebSocket) and #verdict (the fetch's answer). */
export interface PageView {
  topology: TopologyId;
  page: PageKind;
  status: string;
  verdict: Verdict;
}

export interface ProxyRun {
  name: ProxyName;
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
}

/** What every fixture's provenance states besides its topology. */
export interface Facts {
  chromium: string;
  playwright: string;
  gatewayPort: number;
  date: string;
}

export function playwrightVersion(): string {
  return (JSON.parse(readFileSync(new URL("../../node_modules/playwright-core/package.json", import.meta.url), "utf8")) as { version: string }).version;
}

export function launchBrowser(): Promise<Browser> {
  return launchChromium({ timeoutMs: TIMEOUT_MS, hostResolverRules: HOST_RESOLVER_RULES });
}

/** Starts the topology's proxy, loads both pages through it in fresh contexts, and stops the proxy by its pid. */
export async function recordTopology(topology: TopologyId, gateway: JudgingGateway, browser: Browser): Promise<TopologyRecording> {
  const proxy = await startProxy(TOPOLOGIES[topology].spec, gateway.port);
  try {
    const cases: RecordedCase[] = [];
    const views: PageView[] = [];
    for (const kind of PAGE_KINDS) {
      // A fresh profile state per page: nothing cached or remembered from the other one.
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        page.setDefaultTimeout(TIMEOUT_MS);
        const recorded = await recordPage(page, topology, kind, proxy, gateway);
        cases.push(...recorded.cases);
        views.push(recorded.view);
      } finally {
        await context.close();
      }
    }
    return { topology, proxy: { name: proxy.spec.name, version: proxyVersion(proxy.spec.name), what: proxy.spec.what, config: proxy.config, pid: proxy.pid, port: proxy.hop.port }, cases, views };
  } finally {
    await proxy.stop();
  }
}

async function recordPage(page: Page, topology: TopologyId, kind: PageKind, proxy: RunningProxy, gateway: JudgingGateway): Promise<{ cases: RecordedCase[]; view: PageView }> {
  const spec = PAGES[kind];
  const pageOrigin = `http://${spec.name}:${proxy.hop.port}`;
  const id = `${topology}-${kind}`;
  const fetchId = `${id}-fetch`;
  const url = `${pageOrigin}/?case=${id}`;

  // The dashboard comes through the proxy and opens its WebSocket to ws://<location.host>/ws?case=<id>.
  const navigation = gateway.next("http", id, CAPTURE_TIMEOUT_MS);
  const socket = gateway.next("upgrade", id, CAPTURE_TIMEOUT_MS);
  await page.goto(url, { waitUntil: "load" });
  const [, websocket] = await Promise.all([navigation, socket]);
  await page.waitForFunction(`document.getElementById("status")?.textContent !== "connecting…"`);

  // Then the page's script asks the gateway for its verdict, same-origin, and shows the answer.
  const fetched = gateway.next("http", fetchId, CAPTURE_TIMEOUT_MS);
  await page.evaluate(
    `(() => { const out = document.createElement("pre"); out.id = "verdict"; document.body.append(out); ` +
      `fetch(${JSON.stringify(`/verdict?case=${fetchId}`)}).then((r) => r.ok ? r.text() : Promise.reject(new Error("HTTP " + r.status)))` +
      `.then((text) => { out.textContent = text; }, (error) => { out.textContent = JSON.stringify({ error: String(error) }); })` +
      `.finally(() => { out.dataset.done = "1"; }); })()`,
  );
  const fetchRequest = await fetched;
  await page.waitForFunction(`document.getElementById("verdict")?.dataset.done === "1"`);
  const status = (await page.locator("#status").textContent()) ?? "";
  const text = (await page.locator("#verdict").textContent()) ?? "";
  const verdict = JSON.parse(text) as Verdict & { error?: string };
  if (verdict.error !== undefined) throw new Error(`${id}: the page's fetch failed: ${verdict.error}`);

  const cases: RecordedCase[] = [
    { name: fixtureName(topology, kind, "fetch"), topology, page: kind, request: "fetch", pageOrigin, target: `${pageOrigin}/verdict?case=${fetchId}`, captured: fetchRequest },
    { name: fixtureName(topology, kind, "websocket"), topology, page: kind, request: "websocket", pageOrigin, target: `ws://${spec.name}:${proxy.hop.port}/ws?case=${id}`, captured: websocket },
  ];
  for (const recorded of cases) checkCase(recorded, proxy, gateway.port);
  return { cases, view: { topology, page: kind, status, verdict } };
}

/** Throws unless the capture is what the proxy's model and Chromium's make of the page's request. */
export function checkCase(recorded: RecordedCase, proxy: RunningProxy, gatewayPort: number): void {
  const { captured: request } = recorded;
  const spec = PAGES[recorded.page];
  const browserHost = `${spec.name}:${proxy.hop.port}`;
  const sends = chromiumSends(spec, recorded.request, recorded.pageOrigin);
  const sent: Carried = { from: spec.from, host: [browserHost], origin: sends.origin, "x-forwarded-for": [], "x-real-ip": [], forwarded: [] };
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
  want("method", request.method, "GET");
  const target = new URL(recorded.target);
  want("url", request.url, `${target.pathname}${target.search}`);
  const described = TOPOLOGIES[recorded.topology].describes(browserHost);
  for (const name of ["x-forwarded-host", "x-forwarded-proto"] as const) want(name, headerLines(request, name), described[name]);
  want("x-forwarded-port", headerLines(request, "x-forwarded-port"), []);
  for (const name of ["sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest"] as const) want(name, headerLines(request, name), sends[name]);
  want("upgrade", headerLines(request, "upgrade").map((value) => value.toLowerCase()), recorded.request === "websocket" ? ["websocket"] : []);
  if (problems.length > 0) throw new Error(`${recorded.name}: the gateway received something else than the proxy and Chromium models say: ${problems.join("; ")}`);
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures

export function provenance(facts: Facts, recording: TopologyRecording, recorded: RecordedCase): string {
  const spec = PAGES[recorded.page];
  const { proxy } = recording;
  const dial = spec.from === "::1" ? "[::1]" : spec.from;
  return [
    `client: headless Chromium ${facts.chromium} (Debian's /usr/bin/chromium) driven by playwright-core ${facts.playwright}, fresh profile, --host-resolver-rules "${HOST_RESOLVER_RULES}" (no DNS)`,
    `page: ${recorded.pageOrigin}/ (the gateway's dashboard, served through the proxy): ${REQUEST_TEXT[recorded.request].replace(/^./, (c) => c.toLowerCase())} -> ${recorded.target}`,
    `proxy: ${proxy.version}, ${proxy.what}, run in the foreground with this config:\n${proxy.config.trimEnd()}`,
    `gateway: examples/gateway createGateway (capture mode, trustedProxies ["loopback"]; GET /verdict answered with the library's verdict) on Node ${process.version}, bound on 127.0.0.1:${facts.gatewayPort}`,
    `topology: Chromium on ${spec.from} -> ${dial}:${proxy.port} ${proxy.name} -> 127.0.0.1:${facts.gatewayPort} gateway`,
    `recorded by scripts/record-browser-proxies.ts on ${facts.date}`,
  ].join("\n");
}

export function toFixtures(facts: Facts, recordings: readonly TopologyRecording[]): Fixture[] {
  const fixtures: Fixture[] = [];
  for (const recording of recordings) {
    for (const recorded of recording.cases) {
      const [address, loopbackEquivalent, basis, why] = ANSWERS[recorded.topology][recorded.page][recorded.request];
      fixtures.push({
        name: recorded.name,
        description: `${REQUEST_TEXT[recorded.request]} on ${PAGES[recorded.page].text(recorded.pageOrigin.replace(/:\d+$/, ":PORT"))}, through ${TOPOLOGIES[recorded.topology].text}, ${TRUST.text}: ${why}`,
        provenance: { kind: "recorded", source: provenance(facts, recording, recorded) },
        request: recorded.captured,
        options: TRUST.options,
        expected: { address, loopbackEquivalent, basis },
      });
    }
  }
  return fixtures;
}

/** What the page should have read, given the fixtures' expected answer for its two requests. */
export function expectedView(topology: TopologyId, page: PageKind): { status: string; verdict: Pick<Verdict, "address" | "loopbackEquivalent" | "basis"> } {
  const [address, loopbackEquivalent, basis] = ANSWERS[topology][page].fetch;
  const [wsAddress, wsLocal] = ANSWERS[topology][page].websocket;
  // The dashboard: a local client is greeted, anyone else without the token is closed with 1008.
  return { status: wsLocal ? `connected as a local client (${wsAddress})` : "disconnected (1008): pairing required", verdict: { address, loopbackEquivalent, basis } };
}
