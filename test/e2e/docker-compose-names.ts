// A proxy named like a container, on the real Docker Engine: examples/compose/compose.proxy.yaml run by Debian's
// docker-compose 1.29 against a dockerd in network namespaces of its own (test/e2e/docker-engine.ts), the proxy
// Debian's Caddy imported as an image, the gateway trusting it by its service name (`TRUSTED_PROXIES=proxy`),
// re-created with a new address while clients keep sending handshakes. For docker-compose-names.e2e.test.ts.
//
//   engine ns   dockerd; the project network's bridge 172.28.0.1/24 (pinned: static addresses below .128,
//               Docker's own from 172.28.0.128/25); the proxy's port published on 127.0.0.1:18789 (docker-proxy);
//               a client there (the host's) sends handshakes through the proxy with the token and a paired
//               device, so that every answer is a message naming the client and the basis
//   proxy       Caddy `reverse-proxy --from http://:8080 --to gateway:18789` at PROXY_IP (static), the service
//               `proxy`: X-Forwarded-For is its peer, docker-proxy from 172.28.0.1
//   gateway     examples/gateway/server.ts, TRUSTED_PROXIES=proxy, TRUSTED_PROXIES_REFRESH_MS, capture mode
//   impostor    a container of the gateway image at an address of our choosing (the proxy's old one), sending
//               handshakes straight to the gateway with a forged X-Forwarded-For: 127.0.0.1 and no token
//   prober      a container of the gateway image asking Docker's DNS for `proxy` every 50 ms (c-ares, 200 ms
//               timeout, not the thread pool): when the name lost its old address and gained its new one
//
// There is no registry: the proxy image is Caddy's binary and the libraries `ldd` lists for it, imported with
// `docker import` (XDG folders as in Docker Hub's caddy image). Clients run in the engine's namespace or in a
// container; each sends one handshake after another for a bounded time and prints one JSON line per handshake
// (its case, when it was sent, when the answer came, the answer), read whatever its exit code.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Handshake } from "../../examples/gateway/gateway.js";
import { DOCKER, DockerEngine, IMAGE, ROOT } from "./docker-engine.js";
import { IMAGE_GATEWAY, IMAGE_NODE, type Rootfs, importRootfs } from "./image.js";
import { sleep } from "./processes.js";

/** The Compose file: the user's example, as shipped. */
export const COMPOSE_PROXY_FILE = path.join(ROOT, "examples", "compose", "compose.proxy.yaml");
/** The proxy image's name inside the engine. */
export const PROXY_IMAGE = "clientaddr-caddy:e2e";
/** The project network, pinned: static addresses below .128 (the proxy's, the impostor's), Docker's from .128 up. */
export const SUBNET = "172.28.0.0/24";
export const BRIDGE_GATEWAY = "172.28.0.1";
const IP_RANGE = "172.28.0.128/25";
/** Where the proxy's port is published in the engine's namespace (compose.proxy.yaml's). */
export const PUBLISHED = { host: "127.0.0.1", port: 18789 } as const;
/** The gateway's token and its one paired device (the config the test mounts). */
export const TOKEN = "t0ken";
export const DEVICE = "e2e-device";
/** Debian's caddy. */
const CADDY = "/usr/bin/caddy";
/** For tools that look commands up: Debian's before /usr/local's. */
const PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/** One handshake of a loop, as the client printed it. */
export interface LoopLine {
  /** The `case` query parameter: the capture's file name. */
  id: string;
  /** Date.now() when the client began connecting, and when the answer (or the failure) came. */
  sent: number;
  received: number;
  outcome:
    | { opened: { connected: boolean; local: boolean; address: string | null; basis: string } }
    | { closed: { code: number; reason: string } }
    | { refused: { status: number } }
    | { error: string };
}

/**
 * A loop of WebSocket handshakes as plain CommonJS: `node -e LOOP_JS WS_MODULE JSON`, JSON being
 * { url, headers?, prefix, durationMs, timeoutMs, pauseMs }. One handshake at a time, each under its own bound,
 * `?case=<prefix>-<n>` added to the URL; one JSON line (a LoopLine) per handshake, whatever happens; it ends
 * when durationMs is over (and, whatever happens, durationMs + timeoutMs + 5 s after it began).
 */
export const LOOP_JS = `
const [wsModule, json] = process.argv.slice(1);
const args = JSON.parse(json);
const WebSocket = require(wsModule);
const began = Date.now();
setTimeout(() => process.exit(3), args.durationMs + args.timeoutMs + 5000).unref();
let n = 0;
const one = () => new Promise((resolve) => {
  const id = args.prefix + "-" + ++n;
  const sent = Date.now();
  let done = false;
  let ws;
  const finish = (outcome) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    try { ws?.terminate(); } catch {}
    process.stdout.write(JSON.stringify({ id, sent, received: Date.now(), outcome }) + "\\n");
    resolve();
  };
  const timer = setTimeout(() => finish({ error: "no answer within " + args.timeoutMs + " ms" }), args.timeoutMs);
  try {
    ws = new WebSocket(args.url + (args.url.includes("?") ? "&" : "?") + "case=" + id, { headers: args.headers ?? {}, handshakeTimeout: args.timeoutMs });
  } catch (error) {
    return finish({ error: error.message });
  }
  ws.on("message", (data) => finish({ opened: JSON.parse(String(data)) }));
  ws.on("close", (code, reason) => finish({ closed: { code, reason: String(reason) } }));
  ws.on("unexpected-response", (request, response) => finish({ refused: { status: response.statusCode } }));
  ws.on("error", (error) => finish({ error: error.message }));
});
(async () => {
  while (Date.now() - began < args.durationMs) {
    await one();
    if (args.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, args.pauseMs));
  }
  process.stdout.write("", () => process.exit(0));
})();
`;

/**
 * Asks Docker's DNS (c-ares, as /etc/resolv.conf says: 127.0.0.11) for `name` every everyMs for durationMs, a
 * query not waiting for the one before, each bounded by timeoutMs: `node -e PROBE_JS JSON`, JSON being
 * { name, everyMs, durationMs, timeoutMs }. One JSON line per query: { s, e, addresses } or { s, e, error }.
 */
export const PROBE_JS = `
const { Resolver } = require("node:dns");
const args = JSON.parse(process.argv[1]);
const resolver = new Resolver({ timeout: args.timeoutMs, tries: 1 });
const began = Date.now();
const tick = setInterval(() => {
  if (Date.now() - began >= args.durationMs) {
    clearInterval(tick);
    setTimeout(() => process.stdout.write("", () => process.exit(0)), args.timeoutMs + 500);
    return;
  }
  const s = Date.now();
  resolver.resolve4(args.name, (error, addresses) => {
    process.stdout.write(JSON.stringify(error ? { s, e: Date.now(), error: error.code } : { s, e: Date.now(), addresses: [...addresses].sort() }) + "\\n");
  });
}, args.everyMs);
`;

/** One DNS query of the prober. */
export type ProbeLine = { s: number; e: number; addresses: string[] } | { s: number; e: number; error: string };

export interface LoopArgs {
  url: string;
  headers?: Record<string, string>;
  prefix: string;
  durationMs: number;
  timeoutMs: number;
  pauseMs: number;
}

/** Every line a loop printed (lines that are not a LoopLine are an error: the loop's output is its result). */
export function loopLines(stdout: string, what: string): LoopLine[] {
  return stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      try {
        return JSON.parse(line) as LoopLine;
      } catch {
        throw new Error(`${what} printed a line that is not a handshake's: ${line}`);
      }
    });
}

/** Debian's Caddy, its libraries and the folders Docker Hub's caddy image has, in a new temporary folder. */
export function buildProxyRootfs(): Rootfs {
  if (!existsSync(CADDY)) throw new Error(`${CADDY} is missing: the suite needs Debian's caddy (apt-get install caddy)`);
  const dir = mkdtempSync(path.join(tmpdir(), "ca-caddy-rootfs-"));
  try {
    const version = execFileSync(CADDY, ["version"], { encoding: "utf8", timeout: 10_000 }).trim();
    const copy = (file: string) => {
      const into = path.join(dir, file);
      mkdirSync(path.dirname(into), { recursive: true });
      cpSync(realpathSync(file), into);
    };
    copy(CADDY);
    for (const library of execFileSync("ldd", [CADDY], { encoding: "utf8" }).match(/\/\S+/g) ?? []) copy(library);
    for (const folder of ["tmp", "config", "data"]) mkdirSync(path.join(dir, folder), { mode: 0o1777 });
    return { dir, version, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The Compose project: compose.proxy.yaml plus this run's override (pinned network, static proxy address, capture). */
export class NamedProxyProject {
  readonly project: string;
  readonly captureDir: string;
  readonly #files: string[];
  #containers = 0;

  constructor(
    readonly engine: DockerEngine,
    /** The gateway's TRUSTED_PROXIES_REFRESH_MS. */
    readonly refreshMs: number,
  ) {
    this.project = `ca-dk-${engine.id}-names`;
    const dir = path.join(engine.dir, "names");
    this.captureDir = path.join(dir, "capture");
    mkdirSync(this.captureDir, { recursive: true });
    const config = path.join(dir, "config.json");
    writeFileSync(config, `${JSON.stringify({ gateway: { trustedProxies: [], auth: { mode: "token", token: TOKEN, pairedDevices: [DEVICE] } } }, null, 2)}\n`);
    const override = path.join(dir, "compose.override.yaml");
    writeFileSync(
      override,
      [
        "# This run's only: the network pinned, the proxy's address given (PROXY_IP), the gateway's config (a paired",
        "# device, so that every answer is a message saying who and why) and its capture mode.",
        "services:",
        "  proxy:",
        "    networks:",
        "      default:",
        "        ipv4_address: ${PROXY_IP}",
        "  gateway:",
        `    command: ${JSON.stringify([IMAGE_NODE, IMAGE_GATEWAY, "--config", "/config.json", "--capture", "/capture"])}`,
        `    volumes: [${JSON.stringify(`${config}:/config.json:ro`)}, ${JSON.stringify(`${this.captureDir}:/capture`)}]`,
        "networks:",
        "  default:",
        "    ipam:",
        "      config:",
        `        - subnet: ${SUBNET}`,
        `          gateway: ${BRIDGE_GATEWAY}`,
        `          ip_range: ${IP_RANGE}`,
        "",
      ].join("\n"),
    );
    this.#files = ["-f", COMPOSE_PROXY_FILE, "-f", override, "-p", this.project];
  }

  get network(): string {
    return `${this.project}_default`;
  }

  /** Imports the proxy image (the gateway's is the engine's importImage). */
  importProxyImage(rootfs: Rootfs): void {
    const config = path.join(this.engine.dir, "cli");
    mkdirSync(config, { recursive: true });
    const env = { PATH, HOME: this.engine.dir, DOCKER_CONFIG: config };
    // Docker Hub's caddy image keeps its configuration and data there; Caddy writes its autosave and storage.
    const changes = ["ENV XDG_CONFIG_HOME=/config", "ENV XDG_DATA_HOME=/data"].flatMap((change) => ["--change", change]);
    importRootfs(rootfs, [DOCKER, "-H", `unix://${this.engine.sock}`, "import", ...changes, "-", PROXY_IMAGE], env);
  }

  /** `docker-compose up -d` of the services given (all by default) with the proxy at proxyIp; returns when done (bounded). */
  async up(proxyIp: string, services: string[] = []): Promise<void> {
    const result = await this.engine.compose([...this.#files, "up", "-d", "--no-deps", ...services], this.#env(proxyIp), 90_000);
    if (result.code !== 0) throw new Error(`docker-compose up ${services.join(" ")}: exited ${result.code}: ${result.stdout}${result.stderr}`);
  }

  #env(proxyIp: string): Record<string, string> {
    return { PROXY_IP: proxyIp, PROXY_IMAGE, GATEWAY_IMAGE: IMAGE, TRUSTED_PROXIES_REFRESH_MS: String(this.refreshMs) };
  }

  /** The one running container of a service, by the labels docker-compose puts on it; throws with every one of the project's if not. */
  async container(service: "proxy" | "gateway"): Promise<string> {
    const labels = ["--filter", `label=com.docker.compose.project=${this.project}`];
    const id = (await this.engine.dockerOk(["ps", "-q", "--no-trunc", ...labels, "--filter", `label=com.docker.compose.service=${service}`])).trim();
    if (/^[0-9a-f]{64}$/.test(id)) return id;
    const all = await this.engine.docker(["ps", "-a", ...labels, "--format", "{{.ID}} {{.Names}} {{.Status}}"]);
    const logs = await Promise.all(
      all.stdout.split("\n").filter(Boolean).map(async (line) => {
        const { stdout, stderr } = await this.engine.docker(["logs", "--tail", "30", line.split(" ")[0]!]);
        return `--- ${line}\n${stdout}${stderr}`;
      }),
    );
    throw new Error(`no single running container of the service ${service}: ${JSON.stringify(id)}\n${logs.join("\n")}`);
  }

  /** A container's address on the project network, and when it started (Date.now() terms). */
  async inspect(container: string): Promise<{ address: string; startedAt: number }> {
    const format = `{{(index .NetworkSettings.Networks "${this.network}").IPAddress}} {{.State.StartedAt}}`;
    const [address = "", started = ""] = (await this.engine.dockerOk(["inspect", "--format", format, container])).trim().split(" ");
    return { address, startedAt: Date.parse(started) };
  }

  /** The gateway's log, each line with the time dockerd received it (`docker logs --timestamps`). */
  async gatewayLog(): Promise<Array<{ at: number; line: string }>> {
    const { stdout, stderr } = await this.engine.docker(["logs", "--timestamps", await this.container("gateway")]);
    return `${stdout}${stderr}`
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => {
        const space = line.indexOf(" ");
        return { at: Date.parse(line.slice(0, space)), line: line.slice(space + 1) };
      })
      .sort((a, b) => a.at - b.at);
  }

  /** Waits (bounded) until the gateway's log holds a line matching `pattern`; throws with the log if not. */
  async gatewayLogged(pattern: RegExp, timeoutMs: number): Promise<{ at: number; line: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const log = await this.gatewayLog();
      const found = log.find(({ line }) => pattern.test(line));
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`the gateway's log has no line matching ${pattern} within ${timeoutMs} ms:\n${log.map(({ line }) => line).join("\n")}`);
      await sleep(100);
    }
  }

  /** The handshake the gateway captured for `?case=id`, or undefined. */
  captured(id: string): Handshake | undefined {
    const file = path.join(this.captureDir, `${id}.json`);
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Handshake) : undefined;
  }

  capturedCount(): number {
    return readdirSync(this.captureDir).length;
  }

  /** A loop of handshakes from the engine's namespace (the host), to completion (bounded). */
  async hostLoop(args: LoopArgs): Promise<LoopLine[]> {
    const result = await this.engine.in(this.engine.ns, [process.execPath, "-e", LOOP_JS, path.join(ROOT, "node_modules", "ws"), JSON.stringify(args)], {
      timeoutMs: args.durationMs + args.timeoutMs + 15_000,
    });
    return loopLines(result.stdout, `the host's loop (exit ${result.code}, ${result.stderr.trim().slice(0, 500)})`);
  }

  /**
   * Starts a container of the gateway image on the project network running `node -e script ...args`, at
   * `address` if given. Resolves with its name once it runs, or with null if the address is taken (the failed
   * container removed); throws on any other failure.
   */
  async startContainer(role: string, script: string, args: string[], address?: string): Promise<string | null> {
    const name = `ca-dk-${this.engine.id}-${role}-${++this.#containers}`;
    const run = await this.engine.docker(
      ["run", "-d", "--name", name, "--network", this.network, ...(address === undefined ? [] : ["--ip", address]), IMAGE, IMAGE_NODE, "-e", script, ...args],
      { timeoutMs: 60_000 },
    );
    if (run.code === 0) return name;
    await this.engine.docker(["rm", "-f", name], { timeoutMs: 30_000 });
    if (address !== undefined && /address already in use/i.test(run.stderr)) return null;
    throw new Error(`docker run ${name}${address === undefined ? "" : ` at ${address}`}: exited ${run.code}: ${run.stderr}`);
  }

  /**
   * Keeps trying to start a container at `address` (every 100 ms, until deadline) while another holds it:
   * started the moment Docker frees it. Resolves with the name and when it began running, or throws.
   */
  async startWhenFree(role: string, script: string, args: string[], address: string, deadline: number): Promise<{ name: string; started: number }> {
    for (;;) {
      const name = await this.startContainer(role, script, args, address);
      if (name !== null) return { name, started: (await this.inspect(name)).startedAt };
      if (Date.now() > deadline) throw new Error(`${address} was not free for a container before the deadline`);
      await sleep(100);
    }
  }

  /** Waits (bounded) for a container started above to exit, returns its standard output, removes it. */
  async containerOutput(name: string, timeoutMs: number): Promise<{ stdout: string; stderr: string; exit: string }> {
    const wait = await this.engine.docker(["wait", name], { timeoutMs });
    const logs = await this.engine.docker(["logs", name], { timeoutMs: 30_000 });
    await this.engine.docker(["rm", "-f", name], { timeoutMs: 30_000 });
    return { stdout: logs.stdout, stderr: logs.stderr, exit: wait.code === 0 ? wait.stdout.trim() : `not exited within ${timeoutMs} ms` };
  }
}
