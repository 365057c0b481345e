// Real reverse proxies from Debian's packages (nginx, HAProxy, Caddy, Apache) in front of the example gateway,
// and the WebSocket handshakes sent through them. The recorder (scripts/record-proxies.ts) runs every scenario
// and writes fixtures/recorded/proxies/; the end-to-end suite (proxies.e2e.test.ts) runs the same scenarios
// live and checks that the live answers match the recorded ones.
//
// Care taken, as in scripts/record.ts: every proxy runs in the foreground as our own child, with a config file
// written to its own temp folder (pid file, logs and temp paths in there too), listens on 127.0.0.1 and ::1
// only, on a port found free, and is stopped by its own pid (SIGTERM, then SIGKILL after a bounded wait), after
// which the folder is removed. Every client dials 127.0.0.1 or ::1 and never resolves a name; every wait is
// bounded.
//
// The expected answers in SCENARIOS are derived by hand from the rules (never by calling the library): the
// fixtures exist to check it. What each proxy does to the headers is written down as a small model (`forwards`)
// and every captured request is checked against it, so a proxy that changes its behaviour fails the run
// instead of leaving a fixture whose expectation no longer fits.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { WebSocket } from "ws";
import { type CapturedRequest, CapturingGateway } from "../../scripts/lib/capturing-gateway.js";
import type { Fixture } from "../../src/cli/fixture.js";
import { within } from "./processes.js";

// Bounds for a proxy that never starts and a handshake that never arrives, not for a slow machine: both waits
// end on the event (the port accepting, the request reaching the gateway, the connection closing).
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 3_000;
export const HANDSHAKE_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------------------
// What a request carries, as far as the rules care, and what each proxy does to it

type Loopback = "127.0.0.1" | "::1";

/** The sender's address and the headers the rules read; header lines in wire order (a proxy may add a line). */
export interface Carried {
  from: Loopback;
  host: string[];
  origin: string[];
  "x-forwarded-for": string[];
  "x-real-ip": string[];
  forwarded: string[];
}

/** Where one proxy listens and where it forwards to. */
interface Hop {
  port: number;
  upstream: number;
}

/** Appends the sender's address to X-Forwarded-For, merging any lines into one (nginx, Apache). */
const appendXff = (c: Carried) => [[...c["x-forwarded-for"], c.from].join(", ")];

// ---------------------------------------------------------------------------------------------------------
// Proxy processes

export type ProxyName = "nginx" | "haproxy" | "caddy" | "apache";

interface Program {
  binary: string;
  /** Debian package that ships the binary, for provenance. */
  pkg: string;
  versionArgs: string[];
  configFile: string;
  /** Foreground, one process where the program allows it, everything under `dir`. */
  args(dir: string, config: string): string[];
  env?(dir: string): NodeJS.ProcessEnv;
}

const PROGRAMS: Record<ProxyName, Program> = {
  nginx: {
    binary: "/usr/sbin/nginx",
    pkg: "nginx",
    versionArgs: ["-v"],
    configFile: "nginx.conf",
    // -e: the error log before the config is read (the default is under /var/log).
    args: (dir, config) => ["-p", `${dir}/`, "-c", config, "-e", path.join(dir, "error.log"), "-g", "daemon off; master_process off;"],
  },
  haproxy: {
    binary: "/usr/sbin/haproxy",
    pkg: "haproxy",
    versionArgs: ["-v"],
    configFile: "haproxy.cfg",
    args: (_dir, config) => ["-db", "-f", config],
  },
  caddy: {
    binary: "/usr/bin/caddy",
    pkg: "caddy",
    versionArgs: ["version"],
    configFile: "Caddyfile",
    args: (_dir, config) => ["run", "--config", config, "--adapter", "caddyfile"],
    // Caddy keeps data and config under HOME/XDG folders: point them into the temp folder.
    env: (dir) => ({ HOME: dir, XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config") }),
  },
  apache: {
    binary: "/usr/sbin/apache2",
    pkg: "apache2-bin",
    versionArgs: ["-v"],
    configFile: "httpd.conf",
    // -X: one process in the foreground, so the pid we hold is the server.
    args: (dir, config) => ["-X", "-d", dir, "-f", config],
  },
};

const versions = new Map<ProxyName, string>();

/** The program's own version line and its Debian package version, e.g. "nginx version: nginx/1.22.1 (Debian package nginx 1.22.1-9+deb12u11)". */
export function proxyVersion(name: ProxyName): string {
  let version = versions.get(name);
  if (version === undefined) {
    const program = PROGRAMS[name];
    const run = spawnSync(program.binary, program.versionArgs, { encoding: "utf8", timeout: 5_000 });
    const line = `${run.stdout ?? ""}\n${run.stderr ?? ""}`.split("\n").find((text) => text.trim() !== "")?.trim();
    if (run.status !== 0 || line === undefined) {
      throw new Error(`${program.binary} ${program.versionArgs.join(" ")} failed (is Debian's ${program.pkg} installed?): ${run.error?.message ?? run.stderr}`);
    }
    const pkg = spawnSync("dpkg-query", ["-W", "-f", "${Version}", program.pkg], { encoding: "utf8", timeout: 5_000 });
    const debian = pkg.status === 0 && pkg.stdout.trim() !== "" ? ` (Debian package ${program.pkg} ${pkg.stdout.trim()})` : "";
    version = `${name === "caddy" ? `caddy ${line}` : line}${debian}`;
    versions.set(name, version);
  }
  return version;
}

export interface ProxySpec {
  name: ProxyName;
  /** What this config does, in a few words. */
  what: string;
  /** The config of a proxy listening on 127.0.0.1:port and [::1]:port and forwarding to 127.0.0.1:upstream. */
  config(dir: string, hop: Hop): string;
  /** What the proxy was seen to send upstream for a request carrying `c` (it connects from 127.0.0.1). */
  forwards(c: Carried, hop: Hop): Carried;
}

export const nginx = (what: string, extra: string[], forwards: ProxySpec["forwards"]): ProxySpec => ({
  name: "nginx",
  what,
  forwards,
  config: (dir, { port, upstream }) =>
    [
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log info;`,
      "events { worker_connections 64; }",
      "http {",
      `  access_log ${dir}/access.log;`,
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `  ${kind}_temp_path ${dir}/${kind}_temp;`),
      "  server {",
      `    listen 127.0.0.1:${port};`,
      `    listen [::1]:${port};`,
      "    location / {",
      `      proxy_pass http://127.0.0.1:${upstream};`,
      // What every WebSocket guide adds: without them nginx does not pass the upgrade on.
      "      proxy_http_version 1.1;",
      "      proxy_set_header Upgrade $http_upgrade;",
      '      proxy_set_header Connection "upgrade";',
      ...extra.map((line) => `      ${line}`),
      "    }",
      "  }",
      "}",
      "",
    ].join("\n"),
});

const haproxy = (what: string, extra: string[], forwards: ProxySpec["forwards"]): ProxySpec => ({
  name: "haproxy",
  what,
  forwards,
  config: (_dir, { port, upstream }) =>
    [
      "global",
      "  log stderr format raw local0", // stderr goes to the temp folder's log
      "defaults",
      "  mode http",
      "  log global",
      "  option httplog",
      "  timeout connect 5s",
      "  timeout client 30s",
      "  timeout server 30s",
      "  timeout tunnel 60s", // an upgraded connection is a tunnel
      "frontend front",
      `  bind 127.0.0.1:${port}`,
      `  bind ::1:${port}`,
      "  default_backend gateway",
      "backend gateway",
      ...extra.map((line) => `  ${line}`),
      `  server gateway 127.0.0.1:${upstream}`,
      "",
    ].join("\n"),
});

const MODULES = "/usr/lib/apache2/modules";

export const PROXIES = {
  // Host becomes proxy_pass's 127.0.0.1:UPSTREAM; the client's headers pass on untouched; nothing is added.
  nginxBare: nginx("bare proxy_pass with the WebSocket upgrade lines", [], (c, { upstream }) => ({ ...c, from: "127.0.0.1", host: [`127.0.0.1:${upstream}`] })),
  nginxUsual: nginx(
    "proxy_pass with the usual proxy_set_header lines",
    [
      "proxy_set_header Host $host;",
      "proxy_set_header X-Real-IP $remote_addr;",
      "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
      "proxy_set_header X-Forwarded-Proto $scheme;",
    ],
    // $host is the client's Host without its port.
    (c) => ({ ...c, from: "127.0.0.1", host: c.host.map((h) => h.replace(/:\d+$/, "")), "x-real-ip": [c.from], "x-forwarded-for": appendXff(c) }),
  ),
  haproxyBare: haproxy("mode http, no forwarding option", [], (c) => ({ ...c, from: "127.0.0.1" })),
  // option forwardfor adds a line of its own after the client's.
  haproxyForwardfor: haproxy("mode http with option forwardfor", ["option forwardfor"], (c) => ({
    ...c,
    from: "127.0.0.1",
    "x-forwarded-for": [...c["x-forwarded-for"], c.from],
  })),
  caddy: {
    name: "caddy",
    what: "reverse_proxy with its defaults",
    // Host passes on; X-Forwarded-For is replaced by the address Caddy saw (no trusted_proxies configured).
    forwards: (c) => ({ ...c, from: "127.0.0.1", "x-forwarded-for": [c.from] }),
    config: (_dir, { port, upstream }) =>
      [
        "{",
        "  admin off",
        "  auto_https off",
        "}",
        // A site address without a host name, or Caddy answers only requests whose Host names it.
        `http://:${port} {`,
        "  bind 127.0.0.1 ::1",
        `  reverse_proxy 127.0.0.1:${upstream}`,
        "}",
        "",
      ].join("\n"),
  },
  apache: {
    name: "apache",
    what: "mod_proxy_http, ProxyPass with upgrade=websocket",
    // ProxyPreserveHost is off: Host becomes the backend's. X-Forwarded-For is appended to (lines merged).
    forwards: (c, { upstream }) => ({ ...c, from: "127.0.0.1", host: [`127.0.0.1:${upstream}`], "x-forwarded-for": appendXff(c) }),
    config: (dir, { port, upstream }) =>
      [
        `ServerRoot ${dir}`,
        "ServerName localhost",
        `PidFile ${dir}/httpd.pid`,
        `ErrorLog ${dir}/error.log`,
        "LogLevel warn",
        `DefaultRuntimeDir ${dir}`,
        `Mutex file:${dir} default`,
        ...["mpm_event", "authz_core", "proxy", "proxy_http"].map((module) => `LoadModule ${module}_module ${MODULES}/mod_${module}.so`),
        `CustomLog ${dir}/access.log "%h %r %>s"`,
        `Listen 127.0.0.1:${port}`,
        `Listen [::1]:${port}`,
        `ProxyPass / http://127.0.0.1:${upstream}/ upgrade=websocket`,
        "",
      ].join("\n"),
  },
} satisfies Record<string, ProxySpec>;

export interface RunningProxy {
  readonly spec: ProxySpec;
  readonly hop: Hop;
  /** The config file's text as the proxy ran it (this run's ports; the temp folder shown as $TMP). */
  readonly config: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Children still running, killed on exit so that a crash or a watchdog never leaves a proxy behind. */
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export async function startProxy(spec: ProxySpec, upstream: number): Promise<RunningProxy> {
  const program = PROGRAMS[spec.name];
  for (let attempt = 1; ; attempt++) {
    const hop = { port: await freePort(), upstream };
    const dir = mkdtempSync(path.join(tmpdir(), `clientaddr-${spec.name}-`));
    const configPath = path.join(dir, program.configFile);
    const config = spec.config(dir, hop);
    writeFileSync(configPath, config);
    const out = openSync(path.join(dir, "output.log"), "a");
    const child = spawn(program.binary, program.args(dir, configPath), {
      cwd: dir,
      stdio: ["ignore", out, out],
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...program.env?.(dir) },
    });
    closeSync(out);
    live.add(child);
    let spawnError: Error | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", (error) => {
        spawnError = error; // e.g. ENOENT: the package is not installed
        resolve();
      });
    });
    void exited.then(() => live.delete(child));

    const stop = async () => {
      await stopChild(child, exited);
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await listening(hop.port, exited);
    } catch (error) {
      const logs = readLogs(dir);
      await stop();
      // Another process may take the port between our probe and the proxy's bind: try another port.
      if (attempt < 3 && /in use|cannot bind/i.test(logs)) continue;
      const why = spawnError === undefined ? (error as Error).message : `${program.binary}: ${spawnError.message}`;
      throw new Error(`${spec.name} (${spec.what}) did not start: ${why}\n${logs}`);
    }
    return { spec, hop, config: config.replaceAll(dir, "$TMP"), pid: child.pid!, stop };
  }
}

/** SIGTERM, then SIGKILL if the process is still there after a bounded wait. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  if (await within(exited, STOP_GRACE_MS)) return;
  child.kill("SIGKILL");
  await within(exited, STOP_GRACE_MS);
}

function readLogs(dir: string): string {
  const parts: string[] = [];
  for (const name of ["output.log", "error.log"]) {
    try {
      parts.push(`--- ${name}\n${readFileSync(path.join(dir, name), "utf8").slice(-2_000)}`);
    } catch {
      // not written by this proxy
    }
  }
  return parts.join("\n");
}

/** A port free on both 127.0.0.1 and ::1: the OS picks one on 127.0.0.1, then ::1 must take the same. */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const v4 = await bind("127.0.0.1", 0);
    const port = (v4.address() as AddressInfo).port;
    const v6 = await bind("::1", port).catch(() => null);
    await Promise.all([close(v4), v6 === null ? undefined : close(v6)]);
    if (v6 !== null) return port;
  }
  throw new Error("no port free on both 127.0.0.1 and ::1");
}

function bind(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Waits until the port accepts connections on both loopback addresses, or the process exits, or time is up. */
async function listening(port: number, exited: Promise<void>): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (gone) throw new Error("it exited");
    const up = await Promise.all(["127.0.0.1", "::1"].map((host) => accepts(host, port)));
    if (up.every(Boolean)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not listening on 127.0.0.1:${port} and [::1]:${port} within ${START_TIMEOUT_MS} ms`);
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(500);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

// ---------------------------------------------------------------------------------------------------------
// Topologies: one proxy, or a chain, in front of the gateway

export type TopologyId =
  | "nginx-bare"
  | "nginx-usual"
  | "haproxy-bare"
  | "haproxy-forwardfor"
  | "caddy-reverse-proxy"
  | "apache-mod-proxy"
  | "chain-haproxy-apache";

export const TOPOLOGIES: Record<TopologyId, { text: string; proxies: ProxySpec[] }> = {
  "nginx-bare": { text: "nginx with a bare proxy_pass (the WebSocket upgrade lines only)", proxies: [PROXIES.nginxBare] },
  "nginx-usual": {
    text: "nginx with the usual proxy_set_header lines (Host $host, X-Real-IP, X-Forwarded-For, X-Forwarded-Proto)",
    proxies: [PROXIES.nginxUsual],
  },
  "haproxy-bare": { text: "HAProxy in mode http without option forwardfor", proxies: [PROXIES.haproxyBare] },
  "haproxy-forwardfor": { text: "HAProxy in mode http with option forwardfor", proxies: [PROXIES.haproxyForwardfor] },
  "caddy-reverse-proxy": { text: "Caddy's reverse_proxy", proxies: [PROXIES.caddy] },
  "apache-mod-proxy": { text: "Apache mod_proxy_http (ProxyPass upgrade=websocket)", proxies: [PROXIES.apache] },
  "chain-haproxy-apache": {
    text: "HAProxy with option forwardfor in front of Apache mod_proxy_http (a two-proxy chain)",
    proxies: [PROXIES.haproxyForwardfor, PROXIES.apache], // client-facing first
  },
};

/** A chain of running proxies. */
export interface RunningChain {
  /** The port clients connect to (the first proxy's). */
  readonly port: number;
  /** Client-facing first. */
  readonly proxies: readonly RunningProxy[];
  stop(): Promise<void>;
}

export interface RunningTopology extends RunningChain {
  readonly id: TopologyId;
}

/**
 * Starts a chain given client-facing first, the proxy nearest the gateway first, so that each one's upstream
 * is listening when it starts; on a failure stops what it started.
 */
export async function startChain(specs: readonly ProxySpec[], gatewayPort: number): Promise<RunningChain> {
  const started: RunningProxy[] = [];
  const stop = async () => {
    for (const proxy of started.splice(0)) await proxy.stop();
  };
  try {
    let upstream = gatewayPort;
    for (const spec of [...specs].reverse()) {
      const proxy = await startProxy(spec, upstream);
      started.unshift(proxy);
      upstream = proxy.hop.port;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { port: started[0]!.hop.port, proxies: [...started], stop };
}

export async function startTopology(id: TopologyId, gatewayPort: number): Promise<RunningTopology> {
  return { id, ...(await startChain(TOPOLOGIES[id].proxies, gatewayPort)) };
}

// ---------------------------------------------------------------------------------------------------------
// The example gateway in capture mode

export type { CapturedRequest };
export { CapturingGateway };

// ---------------------------------------------------------------------------------------------------------
// Clients

export type ClientId = "script" | "browser" | "forged-xff" | "forged-forwarded" | "ipv6-script";

/** The public name a reverse proxy on this host is reached under: the browser-like client's Host and Origin. */
export const PUBLIC_NAME = "gateway.example.com";

interface ClientSpec {
  text: string;
  dial: Loopback;
  /** Host, unless `headers` sets it, is what ws derives from the URL: the proxy's own address. */
  headers?: Record<string, string>;
  origin?: string;
}

export const CLIENTS: Record<ClientId, ClientSpec> = {
  script: { text: "A script-like client (no Origin, Host 127.0.0.1:PORT)", dial: "127.0.0.1" },
  browser: {
    text: `A browser-like client (the page https://${PUBLIC_NAME} reaching the proxy under its public name: Host ${PUBLIC_NAME}, Origin https://${PUBLIC_NAME})`,
    dial: "127.0.0.1",
    headers: { Host: PUBLIC_NAME },
    origin: `https://${PUBLIC_NAME}`,
  },
  // The forging clients come from ::1, so that the forged 127.0.0.1 can be told apart from the address the
  // proxy really saw.
  "forged-xff": { text: "A script-like client on ::1 forging X-Forwarded-For: 127.0.0.1", dial: "::1", headers: { "X-Forwarded-For": "127.0.0.1" } },
  "forged-forwarded": { text: "A script-like client on ::1 forging Forwarded: for=127.0.0.1", dial: "::1", headers: { Forwarded: "for=127.0.0.1" } },
  "ipv6-script": { text: "A script-like client over IPv6 loopback (no Origin, Host [::1]:PORT)", dial: "::1" },
};

const WS_VERSION = (JSON.parse(readFileSync(new URL("../../node_modules/ws/package.json", import.meta.url), "utf8")) as { version: string }).version;

export function clientLabel(id: ClientId): string {
  return `ws ${WS_VERSION} WebSocket client on Node ${process.version}: ${CLIENTS[id].text}, connecting to ${bracket(CLIENTS[id].dial)}:PORT`;
}

function bracket(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

/** What the client sends to a proxy on `port`. */
export function sent(id: ClientId, port: number): Carried {
  const { dial, headers = {}, origin } = CLIENTS[id];
  const line = (value: string | undefined) => (value === undefined ? [] : [value]);
  return {
    from: dial,
    host: [headers.Host ?? `${bracket(dial)}:${port}`],
    origin: line(origin),
    "x-forwarded-for": line(headers["X-Forwarded-For"]),
    "x-real-ip": [],
    forwarded: line(headers.Forwarded),
  };
}

/** One WebSocket handshake to the proxy; resolves once the connection is over, however it ended. */
export function sendHandshake(id: ClientId, port: number, caseId: string): Promise<void> {
  const { dial, headers, origin } = CLIENTS[id];
  return handshakeOnce(`ws://${bracket(dial)}:${port}/?case=${encodeURIComponent(caseId)}`, dial, port, { origin, headers, timeoutMs: HANDSHAKE_TIMEOUT_MS });
}

/**
 * One WebSocket handshake to `url`, dialled at `host`:`port` whatever the URL names (a name is never
 * resolved); resolves once the connection is over, however it ended, within `timeoutMs` and a second.
 */
export function handshakeOnce(
  url: string,
  host: string,
  port: number,
  options: { origin?: string | undefined; headers?: Record<string, string> | undefined; timeoutMs: number },
): Promise<void> {
  const { origin, headers, timeoutMs } = options;
  return new Promise((resolve) => {
    const ws = new WebSocket(url, {
      handshakeTimeout: timeoutMs,
      ...(origin === undefined ? {} : { origin }),
      ...(headers === undefined ? {} : { headers }),
      createConnection: () => net.connect({ host, port }),
    });
    const timer = setTimeout(() => ws.terminate(), timeoutMs + 1_000);
    ws.on("error", () => undefined);
    // The handshake has reached the gateway once it is answered; a local client is kept open, so close it.
    ws.on("open", () => {
      ws.close(1000);
      setTimeout(() => ws.terminate(), 1_000).unref();
    });
    ws.on("unexpected-response", (_req, res) => {
      res.resume();
      ws.terminate();
    });
    ws.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios: one handshake each, judged with each trust config a user would try

export type Trust = "untrusted" | "trusted" | "trusted-127-0-0-1" | "trusted-x-real-ip";

export const TRUSTS: Record<Trust, { text: string; options: Fixture["options"] }> = {
  untrusted: { text: "no proxy declared (trustedProxies [])", options: { trustedProxies: [] } },
  trusted: { text: 'loopback proxies declared (trustedProxies ["loopback"], X-Forwarded-For believed)', options: { trustedProxies: ["loopback"] } },
  "trusted-127-0-0-1": {
    text: 'only the proxies\' own address declared (trustedProxies ["127.0.0.1"], X-Forwarded-For believed)',
    options: { trustedProxies: ["127.0.0.1"] },
  },
  "trusted-x-real-ip": {
    text: 'loopback proxies declared, X-Real-IP believed (trustedProxies ["loopback"], header "x-real-ip")',
    options: { trustedProxies: ["loopback"], header: "x-real-ip" },
  },
};

type Expected = Fixture["expected"];
/** [address, loopbackEquivalent, basis, why]: the answer derived from the rules, and the reason in words. */
export type Answer = [Expected["address"], boolean, Expected["basis"], string];

export interface Judgement {
  name: string;
  description: string;
  options: Fixture["options"];
  expected: Expected;
}

export interface Scenario<Topology extends string = TopologyId> {
  /** `<topology>-<client>`, also the `case` query parameter that finds its handshake at the gateway. */
  id: string;
  topology: Topology;
  client: ClientId;
  judgements: Judgement[];
}

/**
 * The scenario builder of one harness, from its topologies' and trust configs' texts; `setting` is said of
 * every judgement before its trust config (the PROXY protocol harness names its listener there).
 */
export function scenarioBuilder<Topology extends string, T extends string>(
  topologies: Record<Topology, { text: string }>,
  trusts: Record<T, { text: string; options: Fixture["options"] }>,
  setting = "",
): (topology: Topology, client: ClientId, answers: Partial<Record<T, Answer>>) => Scenario<Topology> {
  return (topology, client, answers) => {
    const id = `${topology}-${client}`;
    return {
      id,
      topology,
      client,
      judgements: (Object.entries(answers) as Array<[T, Answer]>).map(([trust, [address, loopbackEquivalent, basis, why]]) => ({
        name: `${id}-${trust}`,
        description: `${CLIENTS[client].text} through ${topologies[topology].text}, ${setting}${trusts[trust].text}: ${why}`,
        options: trusts[trust].options,
        expected: { address, loopbackEquivalent, basis },
      })),
    };
  };
}

const scenario = scenarioBuilder(TOPOLOGIES, TRUSTS);

/** The answer for every request that reaches the gateway through an undeclared proxy with a forwarding header. */
const UNDECLARED = (what: string): Answer => [
  "127.0.0.1",
  false,
  "socket:unread-forwarding-header",
  `${what} reached the gateway from a peer nobody declared: ignored for the address, but it means a proxy forwards for someone else, so not local`,
];

export const SCENARIOS: Scenario[] = [
  // nginx, bare: Host rewritten to 127.0.0.1:GATEWAY, nothing added, the client's headers passed on.
  scenario("nginx-bare", "script", {
    untrusted: ["127.0.0.1", true, "socket:loopback", "limitation: nginx adds no forwarding header and rewrites Host to the gateway's own 127.0.0.1:PORT, so the request cannot be told from a local client's and is local"],
    trusted: ["127.0.0.1", true, "socket:loopback", "limitation: declaring a proxy that writes no header changes nothing: the peer is taken as the client, and the request is local"],
  }),
  scenario("nginx-bare", "browser", {
    untrusted: ["127.0.0.1", false, "socket:origin-not-local", "nginx rewrote Host to 127.0.0.1:PORT, so only Origin shows the page on the public name: not local"],
    trusted: ["127.0.0.1", false, "socket:origin-not-local", "no header to read, Host rewritten to 127.0.0.1:PORT; Origin https://gateway.example.com makes it not local"],
  }),
  scenario("nginx-bare", "forged-xff", {
    untrusted: UNDECLARED("The client's X-Forwarded-For, passed on untouched by nginx"),
    trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", "nginx passed the client's own X-Forwarded-For: 127.0.0.1 on untouched and a declared proxy's header is believed, so it is local; right here (the client is on ::1), but a remote client could write the same: declare only a proxy that sets the header"],
  }),
  scenario("nginx-bare", "forged-forwarded", {
    untrusted: UNDECLARED("The client's Forwarded, passed on untouched by nginx"),
    trusted: ["127.0.0.1", false, "socket:unread-forwarding-header", "nginx wrote no X-Forwarded-For and passed the client's Forwarded on; a forwarding header the walk does not read makes it not local"],
  }),
  scenario("nginx-bare", "ipv6-script", {
    untrusted: ["127.0.0.1", true, "socket:loopback", "limitation: nginx adds no forwarding header and rewrites Host to 127.0.0.1:PORT; the gateway sees 127.0.0.1, not ::1, and the request is local"],
    trusted: ["127.0.0.1", true, "socket:loopback", "limitation: declaring a proxy that writes no header changes nothing: the peer 127.0.0.1 is taken as the client, and the request is local"],
  }),

  // nginx with the usual lines: Host $host (no port), X-Real-IP $remote_addr, X-Forwarded-For appended. Two
  // forwarding headers, of which the walk reads one: from a declared nginx the other one fails condition b.
  scenario("nginx-usual", "script", {
    untrusted: UNDECLARED("The X-Real-IP and X-Forwarded-For that nginx added"),
    trusted: ["127.0.0.1", false, "x-forwarded-for:unread-forwarding-header", "X-Forwarded-For: 127.0.0.1 is walked to the client 127.0.0.1, but nginx also set X-Real-IP, which the walk does not read: not local although the client is on loopback (fail closed; drop the X-Real-IP line for local clients through this nginx to count as local)"],
    "trusted-x-real-ip": ["127.0.0.1", false, "x-real-ip:unread-forwarding-header", "X-Real-IP: 127.0.0.1 names the client, but nginx also set X-Forwarded-For, which is then unread: not local"],
  }),
  scenario("nginx-usual", "browser", {
    untrusted: UNDECLARED("The X-Real-IP and X-Forwarded-For that nginx added"),
    trusted: ["127.0.0.1", false, "x-forwarded-for:unread-forwarding-header", "the unread X-Real-IP is the first failed condition (Host gateway.example.com and the Origin fail too): not local"],
    "trusted-x-real-ip": ["127.0.0.1", false, "x-real-ip:unread-forwarding-header", "the unread X-Forwarded-For is the first failed condition (Host gateway.example.com and the Origin fail too): not local"],
  }),
  scenario("nginx-usual", "forged-xff", {
    untrusted: UNDECLARED("X-Forwarded-For: 127.0.0.1, ::1 (nginx appended the address it saw to the forged one) and X-Real-IP: ::1"),
    trusted: ["127.0.0.1", false, "x-forwarded-for:unread-forwarding-header", "nginx appended ::1 to the forged 127.0.0.1; every loopback address is trusted, so the walk passes ::1 and ends at the leftmost 127.0.0.1; the unread X-Real-IP makes it not local"],
    "trusted-x-real-ip": ["::1", false, "x-real-ip:unread-forwarding-header", "X-Real-IP: ::1 names the real client, but the unread X-Forwarded-For makes it not local"],
  }),
  scenario("nginx-usual", "forged-forwarded", {
    untrusted: UNDECLARED("The Forwarded passed on by nginx and the X-Real-IP and X-Forwarded-For it added"),
    trusted: ["::1", false, "x-forwarded-for:unread-forwarding-header", "X-Forwarded-For: ::1 names the client, but X-Real-IP and the client's Forwarded (passed on untouched) are unread: not local"],
    "trusted-x-real-ip": ["::1", false, "x-real-ip:unread-forwarding-header", "X-Real-IP: ::1 names the client, but X-Forwarded-For and the client's Forwarded are unread: not local"],
  }),
  scenario("nginx-usual", "ipv6-script", {
    untrusted: UNDECLARED("The X-Real-IP: ::1 and X-Forwarded-For: ::1 that nginx added"),
    trusted: ["::1", false, "x-forwarded-for:unread-forwarding-header", "X-Forwarded-For: ::1 names the client (Host is [::1]), but the unread X-Real-IP makes it not local"],
    "trusted-x-real-ip": ["::1", false, "x-real-ip:unread-forwarding-header", "X-Real-IP: ::1 names the client, but the unread X-Forwarded-For makes it not local"],
  }),

  // HAProxy, bare: headers (Host included) passed on untouched, nothing added.
  scenario("haproxy-bare", "script", {
    untrusted: ["127.0.0.1", true, "socket:loopback", "limitation: HAProxy adds no forwarding header and passes on Host 127.0.0.1:PORT (its own address), so the request cannot be told from a local client's and is local"],
    trusted: ["127.0.0.1", true, "socket:loopback", "limitation: declaring a proxy that writes no header changes nothing: the peer is taken as the client, and the request is local"],
  }),
  scenario("haproxy-bare", "browser", {
    untrusted: ["127.0.0.1", false, "socket:host-not-local", "HAProxy passed Host gateway.example.com on, which is not this machine: not local"],
    trusted: ["127.0.0.1", false, "socket:host-not-local", "no header to read; Host gateway.example.com is not this machine: not local"],
  }),
  scenario("haproxy-bare", "forged-xff", {
    untrusted: UNDECLARED("The client's X-Forwarded-For, passed on untouched by HAProxy"),
    trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", "HAProxy passed the client's own X-Forwarded-For: 127.0.0.1 on untouched and a declared proxy's header is believed, so it is local; right here (the client is on ::1), but a remote client could write the same: declare only a proxy that sets the header"],
  }),
  scenario("haproxy-bare", "forged-forwarded", {
    untrusted: UNDECLARED("The client's Forwarded, passed on untouched by HAProxy"),
    trusted: ["127.0.0.1", false, "socket:unread-forwarding-header", "HAProxy wrote no X-Forwarded-For and passed the client's Forwarded on; a forwarding header the walk does not read makes it not local"],
  }),
  scenario("haproxy-bare", "ipv6-script", {
    untrusted: ["127.0.0.1", true, "socket:loopback", "limitation: HAProxy adds no forwarding header and passes on Host [::1]:PORT; the gateway sees 127.0.0.1 and the request is local"],
    trusted: ["127.0.0.1", true, "socket:loopback", "limitation: declaring a proxy that writes no header changes nothing: the peer 127.0.0.1 is taken as the client, and the request is local"],
  }),

  // HAProxy with option forwardfor: a line X-Forwarded-For: <client> added after the client's own.
  scenario("haproxy-forwardfor", "script", {
    untrusted: UNDECLARED("The X-Forwarded-For that HAProxy added"),
    trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", "HAProxy's X-Forwarded-For: 127.0.0.1 names a loopback client, Host 127.0.0.1:PORT names this machine, no Origin: local"],
  }),
  scenario("haproxy-forwardfor", "browser", {
    untrusted: UNDECLARED("The X-Forwarded-For that HAProxy added"),
    trusted: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "X-Forwarded-For names the loopback client, but Host gateway.example.com (passed on by HAProxy) is not this machine: not local"],
  }),
  scenario("haproxy-forwardfor", "forged-xff", {
    untrusted: UNDECLARED("X-Forwarded-For (the forged line, then HAProxy's ::1)"),
    trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", "HAProxy kept the forged line and added ::1 after it; every loopback address is trusted, so the walk passes ::1 and ends at the leftmost, forged 127.0.0.1: local, rightly, as the client is on ::1"],
    "trusted-127-0-0-1": ["::1", true, "x-forwarded-for:loopback", "the walk stops at HAProxy's entry ::1, the first untrusted one, so the forged 127.0.0.1 left of it is never read; ::1 is loopback: local"],
  }),
  scenario("haproxy-forwardfor", "forged-forwarded", {
    untrusted: UNDECLARED("The client's Forwarded (passed on) and HAProxy's X-Forwarded-For"),
    trusted: ["::1", false, "x-forwarded-for:unread-forwarding-header", "HAProxy's X-Forwarded-For: ::1 names the client, but the client's Forwarded, passed on untouched, is unread: not local"],
  }),
  scenario("haproxy-forwardfor", "ipv6-script", {
    untrusted: UNDECLARED("The X-Forwarded-For: ::1 that HAProxy added"),
    trusted: ["::1", true, "x-forwarded-for:loopback", "HAProxy's X-Forwarded-For: ::1 names a loopback client, Host [::1]:PORT names this machine: local"],
  }),

  // Caddy: Host passed on; X-Forwarded-For replaced by the address Caddy saw; X-Forwarded-Host/-Proto added.
  scenario("caddy-reverse-proxy", "script", {
    untrusted: UNDECLARED("The X-Forwarded-For that Caddy added"),
    trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", "Caddy's X-Forwarded-For: 127.0.0.1 names a loopback client, Host 127.0.0.1:PORT names this machine: local"],
  }),
  scenario("caddy-reverse-proxy", "browser", {
    untrusted: UNDECLARED("The X-Forwarded-For that Caddy added"),
    trusted: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "X-Forwarded-For names the loopback client, but Host gateway.example.com (passed on by Caddy) is not this machine: not local"],
  }),
  scenario("caddy-reverse-proxy", "forged-xff", {
    untrusted: UNDECLARED("Caddy's X-Forwarded-For: ::1 (it replaced the forged one)"),
    trusted: ["::1", true, "x-forwarded-for:loopback", "Caddy replaced the forged X-Forwarded-For with the address it saw, ::1, a loopback client: local"],
  }),
  scenario("caddy-reverse-proxy", "forged-forwarded", {
    untrusted: UNDECLARED("The client's Forwarded (passed on) and Caddy's X-Forwarded-For"),
    trusted: ["::1", false, "x-forwarded-for:unread-forwarding-header", "Caddy's X-Forwarded-For: ::1 names the client, but the client's Forwarded, passed on untouched, is unread: not local"],
  }),
  scenario("caddy-reverse-proxy", "ipv6-script", {
    untrusted: UNDECLARED("The X-Forwarded-For: ::1 that Caddy added"),
    trusted: ["::1", true, "x-forwarded-for:loopback", "Caddy's X-Forwarded-For: ::1 names a loopback client, Host [::1]:PORT names this machine: local"],
  }),

  // Apache: Host rewritten to 127.0.0.1:GATEWAY; X-Forwarded-For appended to; X-Forwarded-Host/-Server added.
  scenario("apache-mod-proxy", "script", {
    untrusted: UNDECLARED("The X-Forwarded-For that Apache added"),
    trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", "Apache's X-Forwarded-For: 127.0.0.1 names a loopback client, Host (rewritten to 127.0.0.1:PORT) names this machine: local"],
  }),
  scenario("apache-mod-proxy", "browser", {
    untrusted: UNDECLARED("The X-Forwarded-For that Apache added"),
    trusted: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "X-Forwarded-For names the loopback client and Apache rewrote Host to 127.0.0.1:PORT and put the browser's Host in X-Forwarded-Host, which names another machine: not local"],
  }),
  scenario("apache-mod-proxy", "forged-xff", {
    untrusted: UNDECLARED("X-Forwarded-For: 127.0.0.1, ::1 (Apache appended the address it saw to the forged one)"),
    trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", "every loopback address is trusted, so the walk passes Apache's ::1 and ends at the leftmost, forged 127.0.0.1: local, rightly, as the client is on ::1"],
    "trusted-127-0-0-1": ["::1", true, "x-forwarded-for:loopback", "the walk stops at Apache's entry ::1, the first untrusted one, so the forged 127.0.0.1 left of it is never read; ::1 is loopback: local"],
  }),
  scenario("apache-mod-proxy", "forged-forwarded", {
    untrusted: UNDECLARED("The client's Forwarded (passed on) and Apache's X-Forwarded-For"),
    trusted: ["::1", false, "x-forwarded-for:unread-forwarding-header", "Apache's X-Forwarded-For: ::1 names the client, but the client's Forwarded, passed on untouched, is unread: not local"],
  }),
  scenario("apache-mod-proxy", "ipv6-script", {
    untrusted: UNDECLARED("The X-Forwarded-For: ::1 that Apache added"),
    trusted: ["::1", true, "x-forwarded-for:loopback", "Apache's X-Forwarded-For: ::1 names a loopback client, Host (rewritten to 127.0.0.1:PORT) names this machine: local"],
  }),

  // HAProxy (forwardfor) -> Apache: X-Forwarded-For: <client>, <HAProxy>, in one line; Host rewritten by Apache.
  scenario("chain-haproxy-apache", "script", {
    untrusted: UNDECLARED("X-Forwarded-For: 127.0.0.1, 127.0.0.1 (written by the two proxies)"),
    trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", "the walk passes Apache's entry for HAProxy (127.0.0.1) and HAProxy's for the client (127.0.0.1), all trusted, so the leftmost is the client: loopback, local"],
  }),
  scenario("chain-haproxy-apache", "browser", {
    untrusted: UNDECLARED("X-Forwarded-For: 127.0.0.1, 127.0.0.1 (written by the two proxies)"),
    trusted: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "the walk ends at the loopback client and Apache rewrote Host to 127.0.0.1:PORT and put the browser's Host in X-Forwarded-Host, which names another machine: not local"],
  }),
  scenario("chain-haproxy-apache", "forged-xff", {
    untrusted: UNDECLARED("X-Forwarded-For: 127.0.0.1, ::1, 127.0.0.1 (the forged entry, HAProxy's, Apache's)"),
    trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", "every loopback address is trusted, so the walk passes 127.0.0.1 (HAProxy) and ::1 (the client) and ends at the leftmost, forged 127.0.0.1: local, rightly, as the client is on ::1"],
    "trusted-127-0-0-1": ["::1", true, "x-forwarded-for:loopback", "the walk passes Apache's entry for HAProxy (127.0.0.1) and stops at HAProxy's entry ::1, the first untrusted one; the forged 127.0.0.1 left of it is never read; ::1 is loopback: local"],
  }),
  scenario("chain-haproxy-apache", "forged-forwarded", {
    untrusted: UNDECLARED("The client's Forwarded (passed on by both) and X-Forwarded-For: ::1, 127.0.0.1"),
    trusted: ["::1", false, "x-forwarded-for:unread-forwarding-header", "the walk ends at the client ::1, but the client's Forwarded, passed on untouched by both proxies, is unread: not local"],
  }),
  scenario("chain-haproxy-apache", "ipv6-script", {
    untrusted: UNDECLARED("X-Forwarded-For: ::1, 127.0.0.1 (written by the two proxies)"),
    trusted: ["::1", true, "x-forwarded-for:loopback", "the walk passes 127.0.0.1 (HAProxy) and ends at ::1, all trusted, so the leftmost ::1 is the client: loopback, local"],
  }),
];

// ---------------------------------------------------------------------------------------------------------
// Running a scenario

/** What the gateway should receive for this scenario: the client's request passed through each proxy's model. */
export function expectedCarried(scenario: Scenario, topology: RunningTopology): Carried {
  let carried = sent(scenario.client, topology.port);
  for (const proxy of topology.proxies) carried = proxy.spec.forwards(carried, proxy.hop);
  return carried;
}

const CHECKED = ["host", "origin", "x-forwarded-for", "x-real-ip", "forwarded"] as const;

/** Throws unless the captured request carries exactly what the model says, header line by header line. */
export function checkCaptured(request: CapturedRequest, want: Carried): void {
  const problems: string[] = [];
  if (request.peer?.address !== want.from) problems.push(`peer: expected ${want.from}, got ${JSON.stringify(request.peer)}`);
  for (const name of CHECKED) {
    const got = headerLines(request, name);
    if (JSON.stringify(got) !== JSON.stringify(want[name])) problems.push(`${name}: expected ${JSON.stringify(want[name])}, got ${JSON.stringify(got)}`);
  }
  if (problems.length > 0) throw new Error(`the gateway received something else than the proxy model says: ${problems.join("; ")}`);
}

export function headerLines(request: CapturedRequest, name: string): string[] {
  const lines: string[] = [];
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    if (request.rawHeaders[i]!.toLowerCase() === name) lines.push(request.rawHeaders[i + 1]!);
  }
  return lines;
}

/** Sends the scenario's handshake through the running topology and returns the request the gateway received. */
export async function runScenario(scenario: Scenario, gateway: CapturingGateway, topology: RunningTopology): Promise<CapturedRequest> {
  if (topology.id !== scenario.topology) throw new Error(`${scenario.id} needs ${scenario.topology}, not ${topology.id}`);
  const [request] = await Promise.all([gateway.next("upgrade", scenario.id, HANDSHAKE_TIMEOUT_MS), sendHandshake(scenario.client, topology.port, scenario.id)]);
  checkCaptured(request, expectedCarried(scenario, topology));
  return request;
}

/** Provenance: the client, each proxy with its version and config, the gateway and the recorder. */
export function provenance(scenario: Scenario, gateway: CapturingGateway, topology: RunningTopology, date: string): string {
  const front = topology.proxies[0]!.hop.port;
  const route = [
    `client on ${bracket(CLIENTS[scenario.client].dial)}`,
    ...topology.proxies.map((proxy, i) => `${i === 0 ? `${bracket(CLIENTS[scenario.client].dial)}:${front}` : `127.0.0.1:${proxy.hop.port}`} ${proxy.spec.name}`),
    `127.0.0.1:${gateway.port} gateway`,
  ].join(" -> ");
  const proxies = topology.proxies.map((proxy) => `${proxyVersion(proxy.spec.name)}, ${proxy.spec.what}, run in the foreground with this config:\n${proxy.config.trimEnd()}`);
  return [
    `client: ${clientLabel(scenario.client)}`,
    ...proxies.map((text, i) => `proxy ${i + 1} of ${proxies.length}: ${text}`),
    `gateway: examples/gateway createGateway (capture mode) on Node ${process.version}, bound on 127.0.0.1:${gateway.port}`,
    `topology: ${route}`,
    `recorded by scripts/record-proxies.ts on ${date}`,
  ].join("\n");
}
