// The real Docker Engine (Debian's docker.io 20.10) in network namespaces that this harness creates and removes
// itself, for the end-to-end suite and scripts/record-docker.ts (root only):
//
//   engine ns (ca-dk-<id>)      dockerd, containerd, docker-proxy; docker0 172.17.0.1/16 and the bridges of the
//                               networks created here; veth ca-dke-<id>: 192.168.77.1/24, fd77::1/64;
//                               default route via 192.168.77.254 (the LAN's router, as a real host has one)
//   LAN ns    (ca-dk-<id>-lan)  a machine on the host's LAN: veth ca-dkl-<id>: 192.168.77.2/24 (and the router's
//                               192.168.77.254/24), fd77::2/64
//
// dockerd is started with `nsenter --net=` (never `ip netns exec`, which remounts /sys and hides the cgroup
// mounts) and everything else of its own under a temporary folder: --data-root, --exec-root, --pidfile, the API
// socket, an empty --config-file, and --cgroup-parent /ca-dk-<id> (cgroupfs driver), so that its containers'
// cgroups can be found and removed. Its bridges, iptables rules and sysctls live in the engine namespace and
// go with it; nothing is added to the machine's own namespace. The docker CLI is Debian's /usr/bin/docker,
// talking to the socket (no network); every client that talks to an address runs inside a namespace or a
// container. Every wait is bounded. close() removes the containers and networks, stops dockerd by its pid
// (SIGTERM, then SIGKILL), kills what is left by pid (in the namespaces and the cgroup parent), unmounts what
// dockerd left under its folder, deletes both namespaces, the folder and the cgroups. If the process exits or
// is signalled first, the same is done synchronously (test/e2e/netns.ts atLastResort).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Handshake } from "../../examples/gateway/gateway.js";
import { IMAGE_CLI, IMAGE_GATEWAY, IMAGE_NODE, type Rootfs, importRootfs } from "./image.js";
import { type RunResult, atLastResort } from "./netns.js";
import { type Started, namespacePids, sleep, startUntilReady, tryKill, within } from "./processes.js";

export type { RunResult, Started };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Debian's docker client: never `docker` from PATH (/usr/local/bin/docker is another, newer client). */
export const DOCKER = "/usr/bin/docker";
export const DOCKERD = "/usr/sbin/dockerd";
export const DOCKER_COMPOSE = "/usr/bin/docker-compose";
/** The gateway image's name inside each engine. */
export const IMAGE = "clientaddr-gateway:e2e";
/** The gateway's port in the container, published on the same port. */
export const PORT = 18789;
/** The story's Compose file. */
export const COMPOSE_FILE = path.join(ROOT, "examples", "compose", "compose.yaml");
/** For tools that look commands up: Debian's before /usr/local's. */
const PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/** The LAN beside the engine's namespace. */
export const LAN = {
  /** The engine host's address on the LAN (where a LAN client reaches a port published on all interfaces). */
  hostV4: "192.168.77.1",
  hostV6: "fd77::1",
  /** The LAN machine. */
  clientV4: "192.168.77.2",
  clientV6: "fd77::2",
  /** The LAN's router: the engine host's default gateway. */
  routerV4: "192.168.77.254",
} as const;

export interface EngineOptions {
  /** dockerd --userland-proxy (Docker's default: true, docker-proxy relays published ports). */
  userlandProxy?: boolean;
  /** --experimental --ip6tables: NAT rules for IPv6 too (dockerd 20.10 has them only as an experimental feature). */
  ip6tables?: boolean;
}

export type Outcome =
  | { opened: { connected: boolean; local: boolean; address: string | null; basis: string } }
  | { closed: { code: number; reason: string } }
  | { error: string };

/** What the WebSocket client sends: Origin only when given (browser-like), extra headers such as Host. */
export interface ClientArgs {
  url: string;
  origin?: string;
  headers?: Record<string, string>;
  /** The opening handshake's bound (ws's handshakeTimeout), default 5 s. */
  timeoutMs?: number;
  /** The source address to connect from (one of the namespace's own). */
  localAddress?: string;
}

export interface NetworkInfo {
  name: string;
  /** Each IPAM config: subnet and gateway, IPv4 first as Docker lists them. */
  subnets: Array<{ subnet: string; gateway: string }>;
  ipv6: boolean;
}

/** The part of `clientaddr doctor --json` the tests read. */
export interface DoctorReport {
  facts: {
    container: { detected: boolean; evidence: string[] };
    interfaces: Array<{ name: string; addresses: Array<{ family: 4 | 6; address: string; cidr: string }> }>;
    gateways: Array<{ family: 4 | 6; address: string; interface: string; metric: number }>;
  };
  recommendation: { trustedProxies: string[] };
  warnings: Array<{ code: string; severity: string; message: string }>;
  config: { file: string; findings: Array<{ code: string; severity: string; message: string }> } | null;
}

export interface GatewaySpec {
  /** "bridge" (the default bridge), "host", or a network created with createNetwork. */
  network: string;
  /** `-p` values, e.g. "127.0.0.1:18789:18789"; none for the host network. */
  publish?: string[];
  trustedProxies: string[];
  /** The server's --host (default "::", dual stack: IPv4 peers show as ::ffff:a.b.c.d). */
  listen?: string;
}

/**
 * A WebSocket client as plain CommonJS, run with `node -e CLIENT_JS WS_MODULE JSON` inside a namespace (this
 * repository's ws) or inside the gateway image (/app/node_modules/ws). It prints one JSON line, an Outcome,
 * whatever happens: the caller reads that line, never the exit code.
 */
export const CLIENT_JS = `
const [wsModule, json] = process.argv.slice(1);
const args = JSON.parse(json);
const WebSocket = require(wsModule);
let printed = false; // the first event decides: ws emits "error" and then "close" (1006) for the same failure
const print = (outcome) => { if (printed) return; printed = true; process.stdout.write(JSON.stringify(outcome) + "\\n", () => process.exit(0)); };
const timeout = args.timeoutMs ?? 5000;
setTimeout(() => print({ error: "no answer within " + (timeout + 3000) + " ms" }), timeout + 3000).unref();
const options = { handshakeTimeout: timeout };
if (args.origin !== undefined) options.origin = args.origin;
if (args.headers !== undefined) options.headers = args.headers;
if (args.localAddress !== undefined) options.localAddress = args.localAddress;
let ws;
try { ws = new WebSocket(args.url, options); } catch (error) { print({ error: error.message }); }
ws.on("message", (data) => print({ opened: JSON.parse(String(data)) }));
ws.on("close", (code, reason) => print({ closed: { code, reason: String(reason) } }));
ws.on("error", (error) => print({ error: error.message }));
`;

/** A TCP connect with a bound: prints {"connected":true}, {"error":"<message>"} or {"error":"timeout ..."}. */
const TCP_PROBE_JS = `
const net = require("node:net");
const [host, port, ms] = process.argv.slice(1);
const print = (outcome) => { process.stdout.write(JSON.stringify(outcome) + "\\n", () => process.exit(0)); };
const socket = net.connect({ host, port: Number(port) });
setTimeout(() => print({ error: "timeout: no TCP connection within " + ms + " ms (SYN unanswered)" }), Number(ms)).unref();
socket.on("connect", () => print({ connected: true }));
socket.on("error", (error) => print({ error: error.message }));
`;

/** This repository's ws, for clients run with this machine's node inside a namespace. */
const WS_MODULE = path.join(ROOT, "node_modules", "ws");

export class DockerEngine {
  /** `docker version`'s server version, e.g. "20.10.24+dfsg1". */
  version = "";
  /** The dockerd options that shape its networking (for provenance); the harness adds its folders and cgroup parent. */
  readonly flags: readonly string[];
  #dockerd: ChildProcess | undefined;
  #output = "";
  #gateways = 0;
  #clients = 0;
  #imported = false;
  #loopbackRouted = false;
  #closed: Promise<void> | undefined;
  #forget: () => void = () => {};

  private constructor(
    /** The per-run suffix (6 hex digits) of every name. */
    readonly id: string,
    readonly ns: string,
    readonly lanNs: string,
    /** Data root, exec root, socket, pid file, configs and captures: removed by close(). */
    readonly dir: string,
    readonly options: Required<EngineOptions>,
  ) {
    this.flags = [`--userland-proxy=${options.userlandProxy}`, ...(options.ip6tables ? ["--experimental", "--ip6tables"] : [])];
  }

  get sock(): string {
    return path.join(this.dir, "docker.sock");
  }

  get cgroupParent(): string {
    return `ca-dk-${this.id}`;
  }

  /** What dockerd has printed so far. */
  output(): string {
    return this.#output;
  }

  /** Creates the two namespaces and the LAN between them, starts dockerd in the engine's, waits for its API. */
  static async start(options: EngineOptions = {}): Promise<DockerEngine> {
    for (const binary of [DOCKER, DOCKERD, DOCKER_COMPOSE, "/usr/sbin/docker-proxy", "/usr/bin/nsenter"]) {
      if (!existsSync(binary)) throw new Error(`${binary} is missing: the Docker suite needs Debian's docker.io, docker-compose and util-linux (apt-get install docker.io docker-compose)`);
    }
    const id = randomBytes(3).toString("hex");
    const dir = mkdtempSync(path.join(tmpdir(), `ca-dk-${id}-`));
    const engine = new DockerEngine(id, `ca-dk-${id}`, `ca-dk-${id}-lan`, dir, { userlandProxy: options.userlandProxy ?? true, ip6tables: options.ip6tables ?? false });
    engine.#forget = atLastResort(() => engine.#emergency());
    try {
      await engine.#network();
      await engine.#startDockerd();
      engine.version = (await engine.dockerOk(["version", "--format", "{{.Server.Version}}"])).trim();
    } catch (error) {
      await engine.close();
      throw error;
    }
    return engine;
  }

  async #network(): Promise<void> {
    const { ns, lanNs, id } = this;
    const ip = (...args: string[]) => checked(["ip", ...args]);
    const hostVeth = `ca-dke-${id}`;
    const lanVeth = `ca-dkl-${id}`;
    await ip("netns", "add", ns);
    await ip("netns", "add", lanNs);
    // Made inside the engine namespace with its peer moved straight into the LAN's: never in the machine's own.
    await ip("-n", ns, "link", "add", hostVeth, "type", "veth", "peer", "name", lanVeth, "netns", lanNs);
    await ip("-n", ns, "addr", "add", `${LAN.hostV4}/24`, "dev", hostVeth);
    await ip("-n", ns, "addr", "add", `${LAN.hostV6}/64`, "dev", hostVeth, "nodad");
    await ip("-n", lanNs, "addr", "add", `${LAN.clientV4}/24`, "dev", lanVeth);
    await ip("-n", lanNs, "addr", "add", `${LAN.routerV4}/24`, "dev", lanVeth);
    await ip("-n", lanNs, "addr", "add", `${LAN.clientV6}/64`, "dev", lanVeth, "nodad");
    for (const [where, dev] of [[ns, hostVeth], [lanNs, lanVeth]] as const) {
      await ip("-n", where, "link", "set", "lo", "up");
      await ip("-n", where, "link", "set", dev, "up");
    }
    await ip("-n", ns, "route", "add", "default", "via", LAN.routerV4);
    const deadline = Date.now() + 5_000;
    while (!(await ip("-n", ns, "link", "show", "dev", hostVeth)).includes("LOWER_UP")) {
      if (Date.now() > deadline) throw new Error(`${hostVeth} is not up within 5 s`);
      await sleep(50);
    }
  }

  async #startDockerd(): Promise<void> {
    const { dir } = this;
    const config = path.join(dir, "daemon.json");
    writeFileSync(config, "{}\n"); // not /etc/docker/daemon.json: nothing of the machine's configuration
    const argv = [
      `--net=/run/netns/${this.ns}`,
      DOCKERD,
      "--config-file", config,
      "--data-root", path.join(dir, "data"),
      "--exec-root", path.join(dir, "exec"),
      "--pidfile", path.join(dir, "dockerd.pid"),
      "--host", `unix://${this.sock}`,
      "--exec-opt", "native.cgroupdriver=cgroupfs",
      "--cgroup-parent", `/${this.cgroupParent}`,
      ...this.flags,
    ];
    // nsenter execs dockerd in place (no --fork), so the child's pid is dockerd's.
    const child = spawn("nsenter", argv, { stdio: ["ignore", "pipe", "pipe"], env: { PATH, HOME: dir } });
    this.#dockerd = child;
    let listening = false;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dockerd is not ready within 30 s:\n${this.#output.slice(-3000)}`)), 30_000);
      const collect = (chunk: Buffer) => {
        this.#output = (this.#output + chunk).slice(-65_536); // the last 64 KiB of its log
        if (!listening && this.#output.includes("API listen on")) {
          listening = true;
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on("data", collect);
      child.stderr!.on("data", collect);
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`dockerd exited (${signal ?? code}) before it was ready:\n${this.#output.slice(-3000)}`));
      });
    });
    await ready;
    const pid = Number(readFileSync(path.join(dir, "dockerd.pid"), "utf8").trim());
    if (pid !== child.pid) throw new Error(`dockerd's pid file says ${pid}, but the process started is ${child.pid}: nsenter did not exec it in place`);
  }

  /** Runs argv inside a namespace (`ip netns exec`) to completion; killed after timeoutMs (default 10 s). */
  in(ns: string, argv: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    return collect(["ip", "netns", "exec", ns, ...argv], { timeoutMs: opts.timeoutMs, input: opts.input, env: cleanEnv(process.env) });
  }

  /** Starts argv inside a namespace and resolves once its output matches readyPattern (bounded). */
  startIn(ns: string, argv: string[], readyPattern: RegExp, timeoutMs = 15_000): Promise<Started> {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", "pipe", "pipe"], env: cleanEnv(process.env) });
    return startUntilReady(child, `${argv.join(" ").slice(0, 80)} (in ${ns})`, readyPattern, timeoutMs);
  }

  /** Debian's docker CLI against this engine's socket. Never rejects on a non-zero exit. */
  docker(args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    return collect([DOCKER, "-H", `unix://${this.sock}`, ...args], { timeoutMs: opts.timeoutMs ?? 60_000, input: opts.input, env: this.#cliEnv() });
  }

  /** docker(), returning stdout; throws with stderr on a non-zero exit. */
  async dockerOk(args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
    const result = await this.docker(args, opts);
    if (result.code !== 0) throw new Error(`docker ${args.join(" ")}: exited ${result.code}: ${result.stderr.trim()}`);
    return result.stdout;
  }

  /** Debian's docker-compose (v1) against this engine: DOCKER_HOST=unix://..., plus env. */
  compose(args: string[], env: Record<string, string> = {}, timeoutMs = 90_000): Promise<RunResult> {
    return collect([DOCKER_COMPOSE, ...args], { timeoutMs, env: { ...this.#cliEnv(), ...env } });
  }

  #cliEnv(): NodeJS.ProcessEnv {
    // A config folder of our own: no credential helpers or contexts of the machine's user.
    const config = path.join(this.dir, "cli");
    mkdirSync(config, { recursive: true });
    return { PATH, HOME: this.dir, DOCKER_CONFIG: config, DOCKER_HOST: `unix://${this.sock}` };
  }

  /** Imports the gateway image from an assembled root file system, once per engine. */
  importImage(rootfs: Rootfs): void {
    if (this.#imported) return;
    importRootfs(rootfs, [DOCKER, "-H", `unix://${this.sock}`, "import", "-", IMAGE], this.#cliEnv());
    this.#imported = true;
  }

  /** `docker network create`, with subnets (and --ipv6 when one is IPv6); returns what Docker made of it. */
  async createNetwork(name: string, subnets: string[]): Promise<NetworkInfo> {
    const ipv6 = subnets.some((subnet) => subnet.includes(":"));
    await this.dockerOk(["network", "create", ...(ipv6 ? ["--ipv6"] : []), ...subnets.flatMap((subnet) => ["--subnet", subnet]), name]);
    return this.network(name);
  }

  async network(name: string): Promise<NetworkInfo> {
    const json = await this.dockerOk(["network", "inspect", name]);
    const [info] = JSON.parse(json) as Array<{ Name: string; EnableIPv6: boolean; IPAM: { Config: Array<{ Subnet: string; Gateway?: string }> | null } }>;
    return { name: info!.Name, ipv6: info!.EnableIPv6, subnets: (info!.IPAM.Config ?? []).map(({ Subnet, Gateway }) => ({ subnet: Subnet, gateway: Gateway ?? "" })) };
  }

  /**
   * Waits (bounded) until an IPv6 address in the engine namespace is usable. A new bridge's IPv6 gateway address
   * is "tentative" for a second or two (duplicate address detection); meanwhile the kernel picks another of the
   * host's addresses as the source of connections into the bridge (docker-proxy's included), and the container
   * sees that address (fd77::1 here; a real host's LAN or public IPv6 address) instead of the bridge gateway.
   */
  async waitUsable(address: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { stdout } = await this.in(this.ns, ["ip", "-6", "-o", "addr", "show"]);
      const line = stdout.split("\n").find((entry) => entry.includes(` ${address}/`));
      if (line !== undefined && !line.includes("tentative")) return;
      if (Date.now() > deadline) throw new Error(`${address} is not usable in ${this.ns} within ${timeoutMs} ms: ${line ?? "no such address"}`);
      await sleep(100);
    }
  }

  async networkExists(name: string): Promise<boolean> {
    return (await this.docker(["network", "inspect", name])).code === 0;
  }

  /** A gateway container's name and folder (config, capture). */
  nextGatewayName(): { name: string; dir: string } {
    const n = ++this.#gateways;
    const dir = path.join(this.dir, `gateway-${n}`);
    mkdirSync(path.join(dir, "capture"), { recursive: true });
    return { name: `ca-dk-${this.id}-gateway-${n}`, dir };
  }

  /**
   * Runs the example gateway in a container: the config file (trustedProxies, a token, no paired devices)
   * mounted read-only at /config.json, capture mode writing into a bind-mounted folder. Resolves once it
   * listens (bounded).
   */
  async runGateway(spec: GatewaySpec): Promise<GatewayContainer> {
    if (!this.#imported) throw new Error("importImage first");
    const { name, dir } = this.nextGatewayName();
    const config = path.join(dir, "config.json");
    writeFileSync(config, `${JSON.stringify({ gateway: { trustedProxies: spec.trustedProxies, auth: { mode: "token", token: "t0ken", pairedDevices: [] } } }, null, 2)}\n`);
    const capture = path.join(dir, "capture");
    await this.dockerOk([
      "run", "-d", "--name", name, "--network", spec.network,
      ...(spec.publish ?? []).flatMap((publish) => ["-p", publish]),
      "-v", `${config}:/config.json:ro`, "-v", `${capture}:/capture`,
      IMAGE, IMAGE_NODE, IMAGE_GATEWAY, "--config", "/config.json", "--host", spec.listen ?? "::", "--port", String(PORT), "--capture", "/capture",
    ]);
    const gateway = new GatewayContainer(this, name, capture, "/config.json");
    await gateway.ready();
    return gateway;
  }

  /** One WebSocket handshake by a client inside a namespace (the engine's: the host; the LAN's: a LAN machine). */
  async client(ns: string, args: ClientArgs): Promise<Outcome> {
    const result = await this.in(ns, [process.execPath, "-e", CLIENT_JS, WS_MODULE, JSON.stringify(args)], { timeoutMs: (args.timeoutMs ?? 5_000) + 10_000 });
    return outcomeOf(result, `client in ${ns}`);
  }

  /**
   * Makes the LAN machine send packets for 127.0.0.1 to the engine host (192.168.77.1) instead of its own
   * loopback, as any machine on the same link can: route_localnet=1 and a policy rule ahead of the local table,
   * all inside the LAN namespace. Then makes sure the host knows the LAN machine's MAC address, as an attacker
   * would (any packet the host answers will do; here a TCP connect to a closed port, answered with a reset):
   * the host's replies to a connection for 127.0.0.1 leave with source 127.0.0.1, and if it has to ask for the
   * LAN machine's address first, its ARP request says "tell 127.0.0.1", whose answer it drops itself (a
   * loopback target on an interface without route_localnet), so the connection would hang in SYN-RECV.
   */
  async routeLoopbackThroughHost(): Promise<void> {
    const introduce = await this.tcpProbe(this.lanNs, LAN.hostV4, 9, 2_000);
    if (!("error" in introduce) || !introduce.error.includes("ECONNREFUSED")) throw new Error(`the host did not answer the LAN machine: ${JSON.stringify(introduce)}`);
    if (this.#loopbackRouted) return;
    const veth = `ca-dkl-${this.id}`;
    for (const argv of [
      ["sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1"],
      ["sysctl", "-q", "-w", `net.ipv4.conf.${veth}.route_localnet=1`],
      ["ip", "rule", "add", "pref", "10", "to", "127.0.0.1", "lookup", "77"],
      ["ip", "rule", "del", "pref", "0"],
      ["ip", "rule", "add", "pref", "100", "lookup", "local"],
      ["ip", "route", "add", "127.0.0.1/32", "via", LAN.hostV4, "dev", veth, "src", LAN.clientV4, "table", "77"],
    ]) {
      const result = await this.in(this.lanNs, argv);
      if (result.code !== 0) throw new Error(`${argv.join(" ")} (in ${this.lanNs}): exited ${result.code}: ${result.stderr.trim()}`);
    }
    const route = await this.in(this.lanNs, ["ip", "route", "get", "127.0.0.1"]);
    if (!route.stdout.includes(`via ${LAN.hostV4}`)) throw new Error(`127.0.0.1 is not routed through ${LAN.hostV4} in ${this.lanNs}: ${route.stdout}`);
    this.#loopbackRouted = true;
  }

  /** A bare TCP connect from inside a namespace, bounded: how a connection fails, exactly. */
  async tcpProbe(ns: string, host: string, port: number, timeoutMs = 4_000): Promise<{ connected: true } | { error: string }> {
    const result = await this.in(ns, [process.execPath, "-e", TCP_PROBE_JS, host, String(port), String(timeoutMs)], { timeoutMs: timeoutMs + 5_000 });
    const line = result.stdout.trim().split("\n").at(-1) ?? "";
    try {
      return JSON.parse(line) as { connected: true } | { error: string };
    } catch {
      throw new Error(`the TCP probe printed nothing (exit ${result.code}): ${result.stderr}`);
    }
  }

  /** One WebSocket handshake by a client in a second container of the gateway image on `network`. */
  async clientContainer(network: string, args: ClientArgs): Promise<Outcome> {
    const name = `ca-dk-${this.id}-client-${++this.#clients}`;
    const result = await this.docker(
      ["run", "--rm", "--name", name, "--network", network, IMAGE, IMAGE_NODE, "-e", CLIENT_JS, "/app/node_modules/ws", JSON.stringify(args)],
      { timeoutMs: (args.timeoutMs ?? 5_000) + 30_000 },
    );
    return outcomeOf(result, `client container on ${network}`);
  }

  /** Runs the image once with a command (no network), e.g. to look inside it. */
  async inImage(argv: string[]): Promise<RunResult> {
    return this.docker(["run", "--rm", "--network", "none", IMAGE, ...argv]);
  }

  /** Removes every container and user-defined network (the compose project's too). */
  async clear(): Promise<void> {
    const ids = (await this.docker(["ps", "-aq"])).stdout.split(/\s+/).filter(Boolean);
    if (ids.length > 0) await this.docker(["rm", "-f", "-v", ...ids], { timeoutMs: 60_000 });
    await this.docker(["network", "prune", "-f"], { timeoutMs: 30_000 });
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      const dockerd = this.#dockerd;
      if (dockerd !== undefined && dockerd.exitCode === null && dockerd.signalCode === null) {
        await this.clear().catch(() => undefined);
        const exited = new Promise<void>((resolve) => (dockerd.exitCode !== null ? resolve() : dockerd.on("exit", () => resolve())));
        tryKill(dockerd.pid, "SIGTERM");
        if (!(await within(exited, 20_000))) {
          tryKill(dockerd.pid, "SIGKILL");
          await within(exited, 5_000);
        }
      }
      // What dockerd did not take down (containers of a killed daemon, its containerd, docker-proxy): by pid.
      for (let attempt = 0; attempt < 20; attempt++) {
        const pids = this.#leftoverPids();
        if (pids.length === 0) break;
        for (const pid of pids) tryKill(pid, "SIGKILL");
        await sleep(100);
      }
      this.#removeEverything();
      this.#forget();
    })();
    return this.#closed;
  }

  /** Synchronous: for an exit or a signal before close(). */
  #emergency(): void {
    tryKill(this.#dockerd?.pid, "SIGKILL");
    for (const pid of this.#leftoverPids()) tryKill(pid, "SIGKILL");
    this.#removeEverything();
  }

  #leftoverPids(): number[] {
    return [...new Set([...namespacePids(this.ns), ...namespacePids(this.lanNs), ...cgroupPids(this.cgroupParent)])];
  }

  /** Unmounts what is left under the folder, deletes the namespaces, the folder and the cgroups. Synchronous. */
  #removeEverything(): void {
    // A shim killed rather than stopped leaves its socket in /run/containerd/s (a fixed folder, whatever the
    // daemon's roots): containerd names it sha256(<containerd socket>/moby/<container id>), so ours are known.
    const containers = path.join(this.dir, "data", "containers");
    const containerd = path.join(this.dir, "exec", "containerd", "containerd.sock");
    for (const id of existsSync(containers) ? readdirSync(containers) : []) {
      rmSync(path.join("/run/containerd/s", createHash("sha256").update(path.join(containerd, "moby", id)).digest("hex")), { force: true });
    }
    for (const mount of mountsUnder(this.dir)) {
      try {
        execFileSync("umount", ["-l", mount], { stdio: "ignore", timeout: 5_000 });
      } catch {
        // gone already
      }
    }
    for (const ns of [this.lanNs, this.ns]) {
      try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore", timeout: 5_000 });
      } catch {
        // never made, or gone already
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    removeCgroups(this.cgroupParent);
  }
}

/** The example gateway in a container, and what it captured. */
export class GatewayContainer {
  constructor(
    readonly engine: DockerEngine,
    /** The container's name (or id). */
    readonly name: string,
    /** The host folder bind-mounted at /capture. */
    readonly captureDir: string,
    /** The config file's path inside the container, for doctor --config. */
    readonly configInContainer: string,
  ) {}

  /** Waits (bounded) until the gateway prints that it listens; throws with its log if it stops first. */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const logs = await this.logs();
      if (logs.includes("gateway: listening")) return;
      const state = (await this.engine.docker(["inspect", "--format", "{{.State.Status}}", this.name])).stdout.trim();
      if (state !== "running" && state !== "created") throw new Error(`gateway container ${this.name} is ${state}:\n${logs}`);
      if (Date.now() > deadline) throw new Error(`gateway container ${this.name} does not listen within ${timeoutMs} ms:\n${logs}`);
      await sleep(100);
    }
  }

  async logs(): Promise<string> {
    const { stdout, stderr } = await this.engine.docker(["logs", this.name]);
    return stdout + stderr;
  }

  /** Waits (bounded) until the log holds text: the refusal line is written after the answer. */
  async logged(text: string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let logs = await this.logs();
    while (!logs.includes(text) && Date.now() < deadline) {
      await sleep(100);
      logs = await this.logs();
    }
    return logs;
  }

  /** The handshake the gateway captured for `?case=name` (written before it answered). */
  captured(name: string): Handshake {
    const file = path.join(this.captureDir, `${name}.json`);
    if (!existsSync(file)) throw new Error(`the gateway in ${this.name} captured no handshake named ${name} (it holds ${readdirSync(this.captureDir).join(", ") || "nothing"})`);
    return JSON.parse(readFileSync(file, "utf8")) as Handshake;
  }

  forget(name: string): void {
    rmSync(path.join(this.captureDir, `${name}.json`), { force: true });
  }

  /** The container's address and gateway on each network it is attached to. */
  async addresses(): Promise<Record<string, { ipv4: string; gatewayV4: string; ipv6: string; gatewayV6: string }>> {
    const json = await this.engine.dockerOk(["inspect", "--format", "{{json .NetworkSettings.Networks}}", this.name]);
    const networks = JSON.parse(json) as Record<string, { IPAddress: string; Gateway: string; GlobalIPv6Address: string; IPv6Gateway: string }>;
    return Object.fromEntries(
      Object.entries(networks).map(([network, n]) => [network, { ipv4: n.IPAddress, gatewayV4: n.Gateway, ipv6: n.GlobalIPv6Address, gatewayV6: n.IPv6Gateway }]),
    );
  }

  /** `clientaddr doctor --json` inside the container (the packed clientaddr's CLI), with its config file. */
  async doctor(withConfig = true): Promise<DoctorReport> {
    const { stdout, stderr } = await this.engine.docker(["exec", this.name, IMAGE_NODE, IMAGE_CLI, "doctor", "--json", ...(withConfig ? ["--config", this.configInContainer] : [])]);
    try {
      return JSON.parse(stdout) as DoctorReport;
    } catch {
      throw new Error(`doctor in ${this.name} printed no JSON: ${stdout}${stderr}`);
    }
  }

  async remove(): Promise<void> {
    await this.engine.docker(["rm", "-f", "-v", this.name], { timeoutMs: 30_000 });
  }
}

/** The Outcome line a client printed (the last line of stdout), or an error naming what it printed. */
function outcomeOf(result: RunResult, what: string): Outcome {
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as Outcome;
  } catch {
    throw new Error(`${what} printed no outcome (exit ${result.code}): ${result.stdout}${result.stderr}`);
  }
}

/** Runs argv to completion, collecting its output; killed after timeoutMs (default 10 s). Never rejects on an exit code. */
function collect(argv: string[], opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? cleanEnv(process.env) });
    let stdout = "";
    let stderr = "";
    let done = false;
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => tryKill(child.pid, "SIGKILL"), opts.timeoutMs ?? 10_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      done = true;
      reject(new Error(`${argv[0]}: ${error.message}`));
    });
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ code: child.exitCode, stdout, stderr });
    };
    child.on("close", finish);
    // A leftover grandchild holding the pipes open must not keep us waiting: give output 500 ms to drain.
    child.on("exit", () => setTimeout(finish, 500).unref());
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs a short command and returns stdout; throws with stderr on a non-zero exit. */
async function checked(argv: string[], timeoutMs = 10_000): Promise<string> {
  const result = await collect(argv, { timeoutMs });
  if (result.code !== 0) throw new Error(`${argv.join(" ")}: exited ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

/** No proxy variables: a client inside a namespace must dial the address it was given, nothing else. */
function cleanEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !/proxy/i.test(key) && key !== "TRUSTED_PROXIES"));
}

/** Mount points of cgroup hierarchies (v1 controllers and the v2 tree). */
function cgroupRoots(): string[] {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((line) => / - cgroup2? /.test(line))
      .map((line) => unescapeMount(line.split(" ")[4] ?? ""))
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Every cgroup folder at or below /<parent>, deepest first. */
function cgroupFolders(parent: string): string[] {
  const folders: string[] = [];
  const walk = (folder: string) => {
    let entries: string[];
    try {
      entries = readdirSync(folder, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return;
    }
    for (const entry of entries) walk(path.join(folder, entry));
    folders.push(folder);
  };
  for (const root of cgroupRoots()) {
    const top = path.join(root, parent);
    if (existsSync(top)) walk(top);
  }
  return folders;
}

function cgroupPids(parent: string): number[] {
  const pids = new Set<number>();
  for (const folder of cgroupFolders(parent)) {
    try {
      for (const pid of readFileSync(path.join(folder, "cgroup.procs"), "utf8").split(/\s+/).filter(Boolean)) pids.add(Number(pid));
    } catch {
      // gone
    }
  }
  return [...pids].filter((pid) => Number.isInteger(pid) && pid > 1);
}

function removeCgroups(parent: string): void {
  for (const folder of cgroupFolders(parent)) {
    try {
      rmdirSync(folder);
    } catch {
      // still busy: nothing more to do synchronously
    }
  }
}

/** Mount points at or below folder (the machine's mount namespace: dockerd shares it), deepest first. */
function mountsUnder(folder: string): string[] {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => unescapeMount(line.split(" ")[4] ?? ""))
      .filter((mount) => mount === folder || mount.startsWith(`${folder}/`))
      .sort((a, b) => b.length - a.length);
  } catch {
    return [];
  }
}

function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * The machine's own network state that none of this may change, compared before and after: the forwarding and
 * route_localnet sysctls, and any link, address or route that looks like Docker's or ours (docker0, br-*,
 * veth*, ca-dk-*, and the subnets used here). Other work on the machine may add its own things meanwhile;
 * those are not ours to judge.
 */
export function machineNetworkState(): Record<string, string | string[]> {
  const read = (file: string) => {
    try {
      return readFileSync(file, "utf8").trim();
    } catch {
      return "(unreadable)";
    }
  };
  const ours = /docker0|\bbr-[0-9a-f]|\bveth|ca-dk-|172\.1[789]\.|192\.168\.77\.|fd18:|fd77:/;
  const lines = (argv: string[]) =>
    execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 5_000 })
      .split("\n")
      .filter((line) => ours.test(line))
      .map((line) => line.replace(/\s+/g, " ").trim())
      .sort();
  return {
    links: lines(["ip", "-o", "link", "show"]),
    addresses: lines(["ip", "-o", "addr", "show"]),
    routes: lines(["ip", "route", "show", "table", "all"]),
    routes6: lines(["ip", "-6", "route", "show", "table", "all"]),
    ip_forward: read("/proc/sys/net/ipv4/ip_forward"),
    route_localnet: read("/proc/sys/net/ipv4/conf/all/route_localnet"),
    ipv6_forwarding: read("/proc/sys/net/ipv6/conf/all/forwarding"),
  };
}
