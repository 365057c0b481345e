// Real Podman, rootful and rootless, run inside a network namespace the harness creates and removes itself
// (root only). What a container's gateway sees as the peer of a connection to a port published on the
// namespace's loopback is the question; scripts/record-podman.ts records it and the end-to-end suite redoes it.
//
//   namespace ca-pm-<id>   lo only, at first. Every podman command runs in it (`nsenter --net=/run/netns/ca-pm-<id>`,
//                          not `ip netns exec`, which remounts /sys), so whatever Podman builds there (netavark's
//                          bridge and iptables rules, the ports rootlessport and slirp4netns listen on) goes when
//                          the namespace is deleted. Clients run in it too, as root.
//   rootful                podman as root; bridge network ca-pm-<id> 172.18.0.0/16 (netavark: kernel DNAT of the
//                          published port plus MASQUERADE); containers in the cgroup parent /ca-pm-<id>.
//   rootless               podman as a user made for the run (ca-pm-<id>, a system user with subordinate ids in
//                          /etc/subuid and /etc/subgid, newuidmap/newgidmap from Debian's uidmap); slirp4netns
//                          networks and a bridge network ca-pm-<id> 10.89.0.0/24 in rootless Podman's own namespace.
//
// Each mode has its own --root, --runroot, --tmpdir, network config folder, runc state folder, containers.conf
// (CONTAINERS_CONF: lock_type "file", so no /dev/shm lock segment), storage.conf (CONTAINERS_STORAGE_CONF) and an
// empty registries.conf, all below one temporary folder, with --cgroup-manager cgroupfs and --events-backend
// none. Podman's default rlimits exceed this machine's hard limits (runc: "error setting rlimit type 7"), so
// every container runs with --ulimit nofile=1024:1024 --ulimit nproc=1024:1024.
//
// Two paths outside the temporary folder cannot be redirected in Podman 4.3: rootful netavark's IPAM database
// /run/containers/networks/ipam.db (a constant for root in containers/common 0.50) and containers/image's blob
// info cache /var/lib/containers/cache/blob-info-cache-v1.boltdb (written by `podman import` as root). Both are
// removed again when this run created them; where they were there before, only this run's network (a per-run
// name) is removed from the database, by `podman network rm`. Rootful containers' network namespaces are bind
// mounts /run/netns/netns-<uuid>, removed with the containers.
//
// The image is the root file system of test/e2e/image.ts, imported with `podman import` into each mode's
// storage. close() removes the containers, then kills by pid whatever is left (every process in the namespace,
// in the run's cgroups, or owned by the run's user or its subordinate ids: conmon, slirp4netns, rootlessport,
// rootless Podman's pause process), unmounts what is mounted below the temporary folder, deletes the cgroups,
// the namespace, the user and its subordinate id lines, and the folder. Every command and every wait is bounded;
// if the process exits first, the same cleanup runs synchronously from an exit hook.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Handshake } from "../../examples/gateway/gateway.js";
import { fileURLToPath } from "node:url";
import type { Rootfs } from "./image.js";
import { atLastResort, namespaceSupport } from "./netns.js";
import { namespacePids, sleep, tryKill } from "./processes.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export type PodmanMode = "rootful" | "rootless";
export const PODMAN_MODES: readonly PodmanMode[] = ["rootful", "rootless"];
/** The port the gateway listens on inside every container. */
export const GATEWAY_PORT = 18789;
/** The image every mode imports. */
export const IMAGE = "localhost/ca-gateway:latest";
/** The rootful bridge network (as Docker's user-defined networks default to), and the rootless one. */
export const ROOTFUL_SUBNET = "172.18.0.0/16";
export const ROOTFUL_BRIDGE_GATEWAY = "172.18.0.1";
export const ROOTLESS_SUBNET = "10.89.0.0/24";
export const ROOTLESS_BRIDGE_GATEWAY = "10.89.0.1";
/** Every container's limits (see above). */
export const ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"] as const;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** What `podman info` and the helpers report, for provenance. */
export interface PodmanVersions {
  podman: string;
  networkBackend: string;
  netavark: string;
  slirp4netns: string;
  runtime: string;
  conmon: string;
  kernel: string;
  rootless: boolean;
}

export interface PodmanEngine {
  readonly mode: PodmanMode;
  /** The run's user, rootless only. */
  readonly user?: { readonly name: string; readonly uid: number; readonly gid: number; readonly subids: string };
  readonly versions: PodmanVersions;
  /** The bridge network's name (per run). */
  readonly network: string;
  /** Runs `podman <global options> args` in the namespace (as the run's user when rootless); never rejects on a non-zero exit. */
  podman(args: readonly string[], opts?: { timeoutMs?: number; input?: string | Buffer }): Promise<RunResult>;
}

export type NetworkKind = "bridge" | "slirp4netns";
export type PortHandler = "netavark" | "rootlessport" | "slirp4netns";

export interface GatewaySpec {
  /** The container's name, unique in the run. */
  name: string;
  mode: PodmanMode;
  network: NetworkKind;
  /** How the published port reaches the container: netavark (rootful bridge), rootlessport or slirp4netns. */
  portHandler: PortHandler;
  /** The port published on the namespace's 127.0.0.1. */
  hostPort: number;
  /** A static address on the bridge network. */
  ip?: string;
  trustedProxies: readonly string[];
}

export interface GatewayContainer {
  readonly spec: GatewaySpec;
  /** The -p argument, as given. */
  readonly publish: string;
  /** The --network argument, as given. */
  readonly networkArg: string;
  /** The gateway config on the machine (mounted read-only at /config.json). */
  readonly configFile: string;
  /** Where the gateway writes its captures (mounted at /capture). */
  readonly captureDir: string;
  readonly id: string;
}

interface Ledger {
  /** Machine paths Podman may create that did not exist before the run: removed by cleanup. */
  created: string[];
}

/** Machine paths rootful Podman 4.3 writes that cannot be redirected, deepest last. */
const MACHINE_PATHS = ["/run/containers", "/run/containers/networks", "/var/lib/containers", "/var/lib/containers/cache"];

/** The Podman side of one run: a namespace, a temporary folder, the engines that could start, and what could not. */
export class PodmanLab {
  readonly engines = new Map<PodmanMode, PodmanEngine>();
  /** Modes that could not run here, with the exact error. */
  readonly unavailable = new Map<PodmanMode, string>();
  readonly containers = new Map<string, GatewayContainer>();
  /** The clientaddr version packed into the image, for provenance. */
  imageVersion = "";
  /** Where node, the gateway and clientaddr's command are in the image (from test/e2e/image.ts). */
  image = { node: "", gateway: "", cli: "" };

  #user: { name: string; uid: number; gid: number; first: number; count: number } | undefined;
  #children = new Set<ChildProcess>();
  #sandboxes = new Set<string>();
  #ledger: Ledger = { created: [] };
  #closed: Promise<string[]> | undefined;
  #forget: () => void = () => {};

  private constructor(
    /** The per-run suffix (6 hex digits) of every name. */
    readonly id: string,
    /** The temporary folder holding everything of the run. */
    readonly dir: string,
  ) {}

  /** The namespace every podman command and client runs in. */
  get ns(): string {
    return `ca-pm-${this.id}`;
  }

  /** The cgroup parent of rootful containers (cgroupfs). */
  get cgroupParent(): string {
    return `/ca-pm-${this.id}`;
  }

  /**
   * Creates the namespace and sets up each mode (rootful: storage, network, image; rootless: the user too). A
   * mode that fails is recorded in `unavailable` with its error, and the others go on. Root only.
   */
  static async open(modes: readonly PodmanMode[] = PODMAN_MODES, log: (line: string) => void = () => {}): Promise<PodmanLab> {
    const support = namespaceSupport();
    if (!support.ok) throw new Error(`Podman in a network namespace: ${support.why}`);
    const id = randomBytes(3).toString("hex");
    const dir = mkdtempSync(path.join(tmpdir(), `ca-pm-${id}-`));
    chmodSync(dir, 0o755); // the rootless user must get through to its own folders
    const lab = new PodmanLab(id, dir);
    lab.#ledger.created = MACHINE_PATHS.filter((file) => !existsSync(file));
    lab.#forget = atLastResort(() => lab.#cleanUp());
    let rootfs: Rootfs | undefined;
    try {
      await lab.#sh(["ip", "netns", "add", lab.ns]);
      await lab.#sh(["ip", "-n", lab.ns, "link", "set", "lo", "up"]);
      const started = Date.now();
      // Loaded here, not at the top: it loads TypeScript (seconds), which the clients importing this file do not need.
      const { IMAGE_CLI, IMAGE_GATEWAY, IMAGE_NODE, buildRootfs, importRootfs } = await import("./image.js");
      lab.image = { node: IMAGE_NODE, gateway: IMAGE_GATEWAY, cli: IMAGE_CLI };
      rootfs = buildRootfs();
      lab.imageVersion = rootfs.version;
      log(`image root file system assembled in ${Date.now() - started} ms`);
      for (const mode of modes) {
        try {
          const engine = mode === "rootful" ? await lab.#rootful() : await lab.#rootless();
          const at = Date.now();
          importRootfs(rootfs, [...lab.#prefix(engine.user), "podman", ...lab.#globals(mode), "import", "--quiet", "-", IMAGE], lab.#env(mode));
          log(`${mode}: podman ${engine.versions.podman}, image imported in ${Date.now() - at} ms`);
          const subnet = mode === "rootful" ? [ROOTFUL_SUBNET, ROOTFUL_BRIDGE_GATEWAY] : [ROOTLESS_SUBNET, ROOTLESS_BRIDGE_GATEWAY];
          const created = await engine.podman(["network", "create", "--subnet", subnet[0]!, "--gateway", subnet[1]!, "--disable-dns", engine.network]);
          if (created.code !== 0) throw new Error(`podman network create: ${created.stderr.trim()}`);
          lab.engines.set(mode, engine);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          lab.unavailable.set(mode, message);
          log(`${mode}: unavailable: ${message}`);
        }
      }
    } catch (error) {
      await lab.close();
      throw error;
    } finally {
      rootfs?.remove();
    }
    return lab;
  }

  /** Starts one gateway container and waits (bounded) until it listens. */
  async gateway(spec: GatewaySpec): Promise<GatewayContainer> {
    const engine = this.engine(spec.mode);
    if (this.containers.has(spec.name)) throw new Error(`container ${spec.name} already started`);
    const folder = path.join(this.dir, "gateways");
    mkdirSync(folder, { recursive: true, mode: 0o755 });
    const configFile = path.join(folder, `${spec.name}.json`);
    writeFileSync(configFile, JSON.stringify({ gateway: { trustedProxies: spec.trustedProxies, auth: { mode: "token", token: "t0ken", pairedDevices: [] } } }));
    chmodSync(configFile, 0o644);
    const captureDir = path.join(folder, `${spec.name}-capture`);
    mkdirSync(captureDir, { mode: 0o755 });
    // The container's root is the run's user when rootless: the capture folder must be its own.
    if (engine.user !== undefined) chownSync(captureDir, engine.user.uid, engine.user.gid);
    const networkArg =
      spec.network === "bridge"
        ? engine.network
        : spec.portHandler === "slirp4netns"
          ? "slirp4netns:port_handler=slirp4netns"
          : "slirp4netns";
    checkCombination(spec);
    const publish = `127.0.0.1:${spec.hostPort}:${GATEWAY_PORT}`;
    const args = [
      "run", "-d", "--name", spec.name,
      "--network", networkArg,
      ...(spec.ip === undefined ? [] : ["--ip", spec.ip]),
      "-p", publish,
      ...ULIMITS,
      ...(spec.mode === "rootful" ? ["--cgroup-parent", this.cgroupParent] : []),
      "-v", `${configFile}:/config.json:ro`,
      "-v", `${captureDir}:/capture`,
      IMAGE,
      this.image.node, this.image.gateway, "--config", "/config.json", "--capture", "/capture", "--port", String(GATEWAY_PORT),
    ];
    const run = await engine.podman(args, { timeoutMs: 60_000 });
    if (run.code !== 0) throw new Error(`podman run ${spec.name} (${spec.mode}) failed (${run.signal ?? run.code}): ${run.stderr.trim()}`);
    const id = run.stdout.trim().split("\n").at(-1) ?? "";
    const container: GatewayContainer = { spec, publish, networkArg, configFile, captureDir, id };
    this.containers.set(spec.name, container);
    const inspect = await engine.podman(["inspect", "--format", "{{.NetworkSettings.SandboxKey}}", spec.name]);
    const sandbox = inspect.stdout.trim();
    if (spec.mode === "rootful" && sandbox.startsWith("/run/netns/")) this.#sandboxes.add(sandbox);
    await this.#waitFor(`${spec.name} listening`, 20_000, async () => {
      const logs = await engine.podman(["logs", spec.name]);
      if (logs.stdout.includes("gateway: listening") || logs.stderr.includes("gateway: listening")) return true;
      const state = await engine.podman(["inspect", "--format", "{{.State.Status}}", spec.name]);
      if (state.stdout.trim() === "exited") throw new Error(`${spec.name} exited: ${logs.stdout}${logs.stderr}`);
      return false;
    });
    return container;
  }

  engine(mode: PodmanMode): PodmanEngine {
    const engine = this.engines.get(mode);
    if (engine === undefined) throw new Error(`Podman ${mode} is not available here: ${this.unavailable.get(mode) ?? "not set up"}`);
    return engine;
  }

  /** What a container's gateway captured for `?case=name` (it writes the file before it answers). */
  captured(container: GatewayContainer, name: string): Handshake {
    return JSON.parse(readFileSync(path.join(container.captureDir, `${name}.json`), "utf8")) as Handshake;
  }

  /** Forgets an earlier capture, so that a missing one is not mistaken for this run's. */
  forget(container: GatewayContainer, name: string): void {
    rmSync(path.join(container.captureDir, `${name}.json`), { force: true });
  }

  /** Runs argv in the namespace, as root, from the repository (the clients). */
  inNamespace(argv: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return this.#run(["nsenter", `--net=/run/netns/${this.ns}`, ...argv], { timeoutMs: opts.timeoutMs ?? 20_000, env: withoutProxies(opts.env ?? process.env), cwd: ROOT });
  }

  /** `clientaddr doctor --json` inside a container, with the container's gateway config; the parsed report. */
  async doctor(container: GatewayContainer): Promise<unknown> {
    const result = await this.engine(container.spec.mode).podman(["exec", container.spec.name, this.image.node, this.image.cli, "doctor", "--json", "--config", "/config.json"], { timeoutMs: 30_000 });
    try {
      return JSON.parse(result.stdout);
    } catch {
      throw new Error(`doctor in ${container.spec.name} printed no JSON (exit ${result.code}): ${result.stdout}${result.stderr}`);
    }
  }

  /**
   * Removes everything (see the top of this file). Resolves with what could not be removed (empty when all
   * went), so a caller can fail loudly. Idempotent.
   */
  close(): Promise<string[]> {
    this.#closed ??= (async () => {
      for (const engine of this.engines.values()) {
        await engine.podman(["rm", "--force", "--time", "0", "--all"], { timeoutMs: 60_000 }).catch(() => undefined);
        await engine.podman(["network", "rm", "--force", engine.network], { timeoutMs: 30_000 }).catch(() => undefined);
      }
      for (const child of this.#children) tryKill(child.pid, "SIGKILL");
      const left = this.#cleanUp();
      this.#forget();
      return left;
    })();
    return this.#closed;
  }

  // ---- setup --------------------------------------------------------------------------------------------

  #paths(mode: PodmanMode) {
    const base = path.join(this.dir, mode);
    return {
      base,
      root: path.join(base, "root"),
      runroot: path.join(base, "runroot"),
      tmp: path.join(base, "tmp"),
      networks: path.join(base, "networks"),
      runc: path.join(base, "runc"),
      home: path.join(base, "home"),
      xdg: path.join(base, "xdg"),
      containersConf: path.join(base, "containers.conf"),
      storageConf: path.join(base, "storage.conf"),
      registriesConf: path.join(base, "registries.conf"),
    };
  }

  /** Podman's global options: everything per run. */
  #globals(mode: PodmanMode): string[] {
    const p = this.#paths(mode);
    return [
      "--root", p.root,
      "--runroot", p.runroot,
      "--tmpdir", p.tmp,
      "--network-config-dir", p.networks,
      "--cgroup-manager", "cgroupfs",
      "--events-backend", "none",
      "--runtime-flag", `root=${p.runc}`,
    ];
  }

  /** Only what Podman needs, nothing from the caller's environment (no proxies, no XDG folders of root's). */
  #env(mode: PodmanMode): NodeJS.ProcessEnv {
    const p = this.#paths(mode);
    return {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: p.home,
      TMPDIR: p.tmp,
      CONTAINERS_CONF: p.containersConf,
      CONTAINERS_STORAGE_CONF: p.storageConf,
      CONTAINERS_REGISTRIES_CONF: p.registriesConf,
      ...(mode === "rootless" ? { XDG_RUNTIME_DIR: p.xdg, XDG_CONFIG_HOME: path.join(p.home, ".config"), XDG_DATA_HOME: path.join(p.home, ".local/share") } : {}),
    };
  }

  /** nsenter into the namespace, then, for the rootless user, drop to its uid (setpriv execs: the pid is podman's). */
  #prefix(user: PodmanEngine["user"]): string[] {
    const enter = ["nsenter", `--net=/run/netns/${this.ns}`];
    return user === undefined ? enter : [...enter, "setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--"];
  }

  #writeConfig(mode: PodmanMode): void {
    const p = this.#paths(mode);
    for (const folder of [p.base, p.root, p.runroot, p.tmp, p.networks, p.runc, p.home]) mkdirSync(folder, { recursive: true, mode: 0o755 });
    if (mode === "rootless") mkdirSync(p.xdg, { mode: 0o700 });
    writeFileSync(
      p.containersConf,
      [
        "# Written by test/e2e/podman-engine.ts for one run: nothing of the machine's /etc/containers is read.",
        "[engine]",
        'lock_type = "file"',
        'events_logger = "none"',
        'cgroup_manager = "cgroupfs"',
        'runtime = "runc"',
        `tmp_dir = "${p.tmp}"`,
        "[network]",
        'network_backend = "netavark"',
        `network_config_dir = "${p.networks}"`,
        "",
      ].join("\n"),
    );
    writeFileSync(p.storageConf, ["[storage]", 'driver = "overlay"', `graphroot = "${p.root}"`, `runroot = "${p.runroot}"`, ""].join("\n"));
    writeFileSync(p.registriesConf, "");
  }

  async #rootful(): Promise<PodmanEngine> {
    this.#writeConfig("rootful");
    return this.#engine("rootful", undefined);
  }

  async #rootless(): Promise<PodmanEngine> {
    for (const tool of ["newuidmap", "newgidmap"]) {
      if (!["/usr/bin", "/bin", "/usr/sbin"].some((folder) => existsSync(path.join(folder, tool)))) {
        throw new Error(`${tool} is missing: install Debian's uidmap package (apt-get install uidmap)`);
      }
    }
    this.#writeConfig("rootless");
    const p = this.#paths("rootless");
    const name = `ca-pm-${this.id}`;
    const [first, count] = freeSubordinateRange();
    // A system user: no home made, no subordinate ids allocated by useradd itself (those are set just below).
    await this.#sh(["useradd", "--system", "--no-create-home", "--home-dir", p.home, "--shell", "/usr/sbin/nologin", "--user-group", name]);
    const uid = Number((await this.#sh(["id", "-u", name])).trim());
    const gid = Number((await this.#sh(["id", "-g", name])).trim());
    this.#user = { name, uid, gid, first, count };
    const range = `${first}-${first + count - 1}`;
    await this.#sh(["usermod", "--add-subuids", range, "--add-subgids", range, name]);
    chownTree(p.base, uid, gid);
    return this.#engine("rootless", { name, uid, gid, subids: `${first}:${count}` });
  }

  async #engine(mode: PodmanMode, user: PodmanEngine["user"]): Promise<PodmanEngine> {
    const prefix = this.#prefix(user);
    const globals = this.#globals(mode);
    const env = this.#env(mode);
    const podman = (args: readonly string[], opts: { timeoutMs?: number; input?: string | Buffer } = {}) =>
      this.#run([...prefix, "podman", ...globals, ...args], { env, timeoutMs: opts.timeoutMs ?? 30_000, input: opts.input, cwd: this.#paths(mode).base });
    const info = await podman(["info", "--format", "json"], { timeoutMs: 60_000 });
    if (info.code !== 0) throw new Error(`podman info (${mode}) failed (${info.signal ?? info.code}): ${info.stderr.trim()}`);
    const host = JSON.parse(info.stdout) as PodmanInfo;
    const versions: PodmanVersions = {
      podman: host.version.Version,
      networkBackend: host.host.networkBackend ?? "unknown",
      netavark: helperVersion("netavark"),
      slirp4netns: (host.host.slirp4netns?.version ?? "").split("\n")[0]?.replace(/^slirp4netns version /, "") ?? "",
      runtime: `${host.host.ociRuntime?.name ?? "?"} ${(host.host.ociRuntime?.version ?? "").split("\n")[0]?.replace(/^runc version /, "") ?? ""}`.trim(),
      conmon: (host.host.conmon?.version ?? "").replace(/^conmon version /, "").split(",")[0] ?? "",
      kernel: host.host.kernel ?? "",
      rootless: host.host.security?.rootless === true,
    };
    if (versions.rootless !== (mode === "rootless")) throw new Error(`podman info says rootless=${versions.rootless} for the ${mode} engine`);
    return { mode, ...(user === undefined ? {} : { user }), versions, network: `ca-pm-${this.id}`, podman };
  }

  // ---- processes ----------------------------------------------------------------------------------------

  #run(argv: readonly string[], opts: { env: NodeJS.ProcessEnv; timeoutMs: number; input?: string | Buffer | undefined; cwd?: string }): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], env: opts.env, cwd: opts.cwd ?? "/" });
      this.#children.add(child);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        tryKill(child.pid, "SIGKILL");
      }, opts.timeoutMs);
      let settled = false;
      const done = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#children.delete(child);
        if (timedOut) stderr += `\n(killed after ${opts.timeoutMs} ms: ${argv.join(" ")})`;
        resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
      };
      child.on("error", (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#children.delete(child);
        reject(new Error(`${argv.join(" ")}: ${error.message}`));
      });
      child.on("close", done);
      // conmon and friends inherit nothing of ours, but a helper holding the pipes must not keep us waiting.
      child.on("exit", () => setTimeout(done, 1_000).unref());
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.input ?? "");
    });
  }

  /** A short command as root in the machine's namespaces (ip, useradd...): stdout, or throws with stderr. */
  async #sh(argv: readonly string[]): Promise<string> {
    const result = await this.#run(argv, { env: withoutProxies(process.env), timeoutMs: 15_000 });
    if (result.code !== 0) throw new Error(`${argv.join(" ")}: exited ${result.signal ?? result.code}: ${result.stderr.trim()}`);
    return result.stdout;
  }

  async #waitFor(what: string, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await ready())) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  // ---- cleanup (synchronous: it also runs from the exit hook) -------------------------------------------

  /** Kills, unmounts and deletes everything of the run; returns what is still there. */
  #cleanUp(): string[] {
    const user = this.#user;
    const cgroupDirs = () => cgroupFolders(this.cgroupParent);
    // Everything of ours that may still run, by pid: in the namespace, in our cgroups, or owned by our user or
    // its subordinate ids (conmon, slirp4netns, rootlessport, the pause process, the gateways).
    const ours = (): number[] => {
      const pids = new Set<number>(namespacePids(this.ns));
      for (const folder of cgroupDirs()) for (const pid of cgroupPids(folder)) pids.add(pid);
      if (user !== undefined) for (const pid of pidsOwnedBy((uid) => uid === user.uid || (uid >= user.first && uid < user.first + user.count))) pids.add(pid);
      pids.delete(process.pid);
      return [...pids];
    };
    for (let attempt = 0; attempt < 30; attempt++) {
      const pids = ours();
      if (pids.length === 0) break;
      for (const pid of pids) tryKill(pid, "SIGKILL");
      sleepSync(100);
    }
    // Mounts below the folder (overlay, shm, bind mounts of rootful containers), deepest first.
    for (const mount of mountsUnder(this.dir).reverse()) quiet(["umount", "-l", mount]);
    for (const sandbox of this.#sandboxes) {
      if (existsSync(sandbox)) quiet(["ip", "netns", "del", path.basename(sandbox)]);
    }
    for (let attempt = 0; attempt < 20 && cgroupDirs().length > 0; attempt++) {
      for (const folder of cgroupDirs().sort((a, b) => b.length - a.length)) {
        try {
          rmdirSync(folder);
        } catch {
          // still busy: try again
        }
      }
      if (cgroupDirs().length > 0) sleepSync(100);
    }
    quiet(["ip", "netns", "del", this.ns]);
    if (user !== undefined) {
      const range = `${user.first}-${user.first + user.count - 1}`;
      quiet(["usermod", "--del-subuids", range, "--del-subgids", range, user.name]);
      quiet(["userdel", user.name]);
      if (groupExists(user.name)) quiet(["groupdel", user.name]);
    }
    rmSync(this.dir, { recursive: true, force: true });
    // The machine paths Podman created (see the top of this file), deepest first, only if this run made them.
    for (const file of [...this.#ledger.created].reverse()) rmSync(file, { recursive: true, force: true });

    const left: string[] = [];
    if (existsSync(`/run/netns/${this.ns}`)) left.push(`namespace ${this.ns}`);
    for (const sandbox of this.#sandboxes) if (existsSync(sandbox)) left.push(`container namespace ${sandbox}`);
    for (const folder of cgroupDirs()) left.push(`cgroup ${folder}`);
    if (existsSync(this.dir)) left.push(`folder ${this.dir}`);
    if (user !== undefined) {
      for (const pid of pidsOwnedBy((uid) => uid === user.uid)) left.push(`process ${pid} of ${user.name}`);
      if (passwdHas(user.name)) left.push(`user ${user.name}`);
      if (groupExists(user.name)) left.push(`group ${user.name}`);
      for (const file of ["/etc/subuid", "/etc/subgid"]) {
        if (readFileSync(file, "utf8").split("\n").some((line) => line.startsWith(`${user.name}:`) || line.startsWith(`${user.uid}:`))) left.push(`${file} line of ${user.name}`);
      }
    }
    for (const file of this.#ledger.created) if (existsSync(file)) left.push(file);
    return left;
  }
}

/** The parts of `podman info --format json` used here. */
interface PodmanInfo {
  version: { Version: string };
  host: {
    networkBackend?: string;
    kernel?: string;
    slirp4netns?: { version?: string };
    ociRuntime?: { name?: string; version?: string };
    conmon?: { version?: string };
    security?: { rootless?: boolean };
  };
}

/** Which network and port handler go together in Podman 4.3. */
function checkCombination(spec: GatewaySpec): void {
  const fine =
    (spec.network === "bridge" && spec.portHandler === (spec.mode === "rootful" ? "netavark" : "rootlessport")) ||
    (spec.network === "slirp4netns" && (spec.portHandler === "rootlessport" || spec.portHandler === "slirp4netns"));
  if (!fine) throw new Error(`${spec.name}: Podman ${spec.mode} does not publish a ${spec.network} network's ports with ${spec.portHandler}`);
}

/** netavark's version line, from where Debian installs Podman's helpers. */
function helperVersion(name: string): string {
  for (const folder of ["/usr/lib/podman", "/usr/libexec/podman", "/usr/local/libexec/podman"]) {
    const file = path.join(folder, name);
    if (!existsSync(file)) continue;
    try {
      return execFileSync(file, ["--version"], { encoding: "utf8", timeout: 5_000 }).trim().replace(new RegExp(`^${name} `), "");
    } catch {
      return "unknown";
    }
  }
  return "not installed";
}

/** A range of 65,536 subordinate ids overlapping no line of /etc/subuid or /etc/subgid, far above any account's uid. */
function freeSubordinateRange(): [number, number] {
  const count = 65_536;
  const taken: Array<[number, number]> = [];
  for (const file of ["/etc/subuid", "/etc/subgid"]) {
    const text = existsSync(file) ? readFileSync(file, "utf8") : "";
    for (const line of text.split("\n")) {
      const [, start, size] = line.split(":");
      if (start !== undefined && size !== undefined) taken.push([Number(start), Number(size)]);
    }
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    // High up, where no account's uid is: 2,000,000,000 plus a random multiple of 65,536.
    const first = 2_000_000_000 + randomBytes(2).readUInt16BE() % 30_000 * count;
    if (taken.every(([start, size]) => first + count <= start || start + size <= first)) return [first, count];
  }
  throw new Error("no free range of subordinate ids found");
}

function chownTree(folder: string, uid: number, gid: number): void {
  chownSync(folder, uid, gid);
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) chownTree(full, uid, gid);
    else chownSync(full, uid, gid);
  }
}

/** The cgroup folders of a cgroupfs parent in every hierarchy (cgroup v1 controllers and the unified one), deepest last. */
function cgroupFolders(parent: string): string[] {
  const found: string[] = [];
  const walk = (folder: string) => {
    found.push(folder);
    for (const entry of readdirSync(folder, { withFileTypes: true })) if (entry.isDirectory()) walk(path.join(folder, entry.name));
  };
  for (const hierarchy of safeReaddir("/sys/fs/cgroup")) {
    const top = path.join("/sys/fs/cgroup", hierarchy, parent);
    // cgroup v2 mounted straight on /sys/fs/cgroup: the parent is one level up.
    for (const candidate of [top, path.join("/sys/fs/cgroup", parent)]) {
      try {
        if (statSync(candidate).isDirectory() && !found.includes(candidate)) walk(candidate);
      } catch {
        // not in this hierarchy
      }
    }
  }
  return found;
}

function cgroupPids(folder: string): number[] {
  try {
    return readFileSync(path.join(folder, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Every process whose real uid passes the test, read from /proc/<pid>/status. */
function pidsOwnedBy(test: (uid: number) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of safeReaddir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1];
      if (uid !== undefined && test(Number(uid))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Mount points at or below `folder` in this process's mount namespace, in mount order. */
function mountsUnder(folder: string): string[] {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[4]?.replace(/\\040/g, " ") ?? "")
      .filter((mount) => mount === folder || mount.startsWith(`${folder}/`));
  } catch {
    return [];
  }
}

function passwdHas(name: string): boolean {
  return readFileSync("/etc/passwd", "utf8").split("\n").some((line) => line.startsWith(`${name}:`));
}

function groupExists(name: string): boolean {
  return readFileSync("/etc/group", "utf8").split("\n").some((line) => line.startsWith(`${name}:`));
}

function safeReaddir(folder: string): string[] {
  try {
    return readdirSync(folder);
  } catch {
    return [];
  }
}

function quiet(argv: readonly string[]): void {
  try {
    execFileSync(argv[0]!, argv.slice(1), { stdio: "ignore", timeout: 10_000 });
  } catch {
    // checked afterwards: what is left is reported
  }
}

/** No proxy variables: a client in the namespace must dial the address it was given. */
export function withoutProxies(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !/proxy/i.test(key)));
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
