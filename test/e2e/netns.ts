// A test topology in network namespaces, shaped like Docker's default bridge, that the tests create and
// remove themselves (iproute2 and, for the kernel NAT variant, iptables; root only):
//
//   host ns  (ca-host-<id>)   lo: 127.0.0.1, ::1          veth ca-h-<id>: 172.18.0.1/16, fd18::1/64
//   container ns (ca-ctr-<id>) lo: 127.0.0.1, ::1          veth ca-c-<id>: 172.18.0.2/16, fd18::2/64
//                                                          default routes via 172.18.0.1 and fd18::1
//
// Nothing is added to the machine's own namespace: the veth pair is created inside the host namespace with
// its peer moved straight into the container namespace, and every sysctl and firewall rule is set with
// `ip netns exec`, so deleting the two namespaces removes all of it. Every process runs inside a namespace,
// is started in the foreground, is stopped by its own pid, and every wait is bounded.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { type Started, namespacePids, sleep, startUntilReady, tryKill, within } from "./processes.js";

export const HOST_V4 = "172.18.0.1";
export const CONTAINER_V4 = "172.18.0.2";
export const HOST_V6 = "fd18::1";
export const CONTAINER_V6 = "fd18::2";
/** The port the container publishes (the gateway's). */
export const CONTAINER_PORT = 18789;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type { Started };

export interface Topology {
  /** The per-run suffix (6 hex digits) of every name below. */
  id: string;
  hostNs: string;
  containerNs: string;
  /** The host end of the veth pair (in hostNs). */
  hostVeth: string;
  /** Runs argv inside ns to completion (killed after timeoutMs, default 10 s). Never rejects on a non-zero exit. */
  run(ns: string, argv: string[], opts?: { timeoutMs?: number; input?: string }): Promise<RunResult>;
  /** Starts argv inside ns and resolves once its output matches readyPattern (if given), within timeoutMs (default 15 s). */
  start(ns: string, argv: string[], opts?: { env?: NodeJS.ProcessEnv; readyPattern?: RegExp; timeoutMs?: number }): Promise<Started>;
  /** Stops everything started, kills whatever is left inside the namespaces, deletes them. Idempotent. */
  close(): Promise<void>;
}

/** Can this process make network namespaces? Tries to create and delete a throwaway one. */
export function namespaceSupport(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== "linux") return { ok: false, why: `network namespaces need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, why: "network namespaces need root (CI runs the end-to-end suite as root)" };
  const probe = `ca-probe-${randomBytes(3).toString("hex")}`;
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "pipe", timeout: 5_000 });
  } catch (error) {
    return { ok: false, why: `\`ip netns add\` failed: ${firstLine(error)}` };
  }
  try {
    execFileSync("ip", ["netns", "del", probe], { stdio: "pipe", timeout: 5_000 });
  } catch (error) {
    return { ok: false, why: `\`ip netns del ${probe}\` failed (delete it by hand): ${firstLine(error)}` };
  }
  return { ok: true };
}

/**
 * Builds the topology above. With kernelNat, the host namespace also publishes 127.0.0.1:port the way Docker
 * does without its userland proxy: iptables DNAT to 172.18.0.2:18789 plus MASQUERADE, with route_localnet=1
 * (inside the host namespace only) so that packets from 127.0.0.1 may leave through the veth at all.
 */
export async function createDockerLikeTopology(opts: { kernelNat?: { port: number } } = {}): Promise<Topology> {
  const id = randomBytes(3).toString("hex");
  const hostNs = `ca-host-${id}`;
  const containerNs = `ca-ctr-${id}`;
  const hostVeth = `ca-h-${id}`; // veth names are at most 15 characters
  const containerVeth = `ca-c-${id}`;
  const children = new Set<ChildProcess>();
  const made: string[] = []; // namespaces created so far, so a half-built topology is still removed
  let closed: Promise<void> | undefined;

  // Last resort, if the process exits or is signalled without close(): kill our processes and delete our
  // namespaces, synchronously (nothing asynchronous runs in an 'exit' handler).
  const emergency = () => {
    for (const child of children) if (child.exitCode === null) tryKill(child.pid, "SIGKILL");
    for (const ns of made) {
      for (const pid of namespacePids(ns)) tryKill(pid, "SIGKILL");
      try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore", timeout: 5_000 });
      } catch {
        // nothing more can be done while exiting
      }
    }
  };
  const forget = atLastResort(emergency);

  const ip = (...args: string[]) => sh(["ip", ...args]);
  const inNs = (ns: string, ...argv: string[]) => sh(["ip", "netns", "exec", ns, ...argv]);

  const topology: Topology = {
    id,
    hostNs,
    containerNs,
    hostVeth,
    run(ns, argv, runOpts = {}) {
      return new Promise((resolve, reject) => {
        const child = spawnIn(ns, argv, undefined);
        children.add(child);
        let stdout = "";
        let stderr = "";
        child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk));
        child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk));
        const timer = setTimeout(() => tryKill(child.pid, "SIGKILL"), runOpts.timeoutMs ?? 10_000);
        child.on("error", (error) => {
          clearTimeout(timer);
          children.delete(child);
          reject(error);
        });
        const done = () => {
          clearTimeout(timer);
          children.delete(child);
          resolve({ code: child.exitCode, stdout, stderr });
        };
        child.on("close", done);
        // A leftover grandchild holding the pipes open must not keep us waiting: give output 500 ms to drain.
        child.on("exit", () => setTimeout(done, 500).unref());
        child.stdin?.on("error", () => undefined);
        child.stdin?.end(runOpts.input ?? "");
      });
    },
    start(ns, argv, startOpts = {}) {
      const child = spawnIn(ns, argv, startOpts.env);
      children.add(child);
      child.on("close", () => children.delete(child));
      return startUntilReady(child, `${argv.slice(0, 4).join(" ")} (in ${ns})`, startOpts.readyPattern, startOpts.timeoutMs ?? 15_000);
    },
    close() {
      closed ??= (async () => {
        await Promise.all([...children].map(async (child) => {
          tryKill(child.pid, "SIGTERM");
          const gone = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.on("close", () => resolve())));
          if (!(await within(gone, 3_000))) tryKill(child.pid, "SIGKILL");
        }));
        for (const ns of [...made].reverse()) {
          // Anything still inside (a browser's helper processes, say) was started by us: kill it by pid.
          for (let attempt = 0; attempt < 20; attempt++) {
            const pids = namespacePids(ns);
            if (pids.length === 0) break;
            for (const pid of pids) tryKill(pid, "SIGKILL");
            await sleep(100);
          }
          await sh(["ip", "netns", "del", ns]).catch(() => undefined);
        }
        forget();
      })();
      return closed;
    },
  };

  try {
    await ip("netns", "add", hostNs);
    made.push(hostNs);
    await ip("netns", "add", containerNs);
    made.push(containerNs);
    // Created inside the host namespace, the peer moved straight into the container's: the pair never
    // exists in the machine's own namespace.
    await ip("-n", hostNs, "link", "add", hostVeth, "type", "veth", "peer", "name", containerVeth, "netns", containerNs);
    // nodad: the ULA addresses are usable at once instead of "tentative" for a second or two.
    await ip("-n", hostNs, "addr", "add", `${HOST_V4}/16`, "dev", hostVeth);
    await ip("-n", hostNs, "addr", "add", `${HOST_V6}/64`, "dev", hostVeth, "nodad");
    await ip("-n", containerNs, "addr", "add", `${CONTAINER_V4}/16`, "dev", containerVeth);
    await ip("-n", containerNs, "addr", "add", `${CONTAINER_V6}/64`, "dev", containerVeth, "nodad");
    for (const [ns, dev] of [[hostNs, hostVeth], [containerNs, containerVeth]] as const) {
      await ip("-n", ns, "link", "set", "lo", "up");
      await ip("-n", ns, "link", "set", dev, "up");
    }
    await ip("-n", containerNs, "route", "add", "default", "via", HOST_V4);
    await ip("-n", containerNs, "-6", "route", "add", "default", "via", HOST_V6);
    await waitFor(`${hostVeth} up with ${HOST_V6} usable`, 5_000, async () => {
      const link = await ip("-n", hostNs, "-6", "addr", "show", "dev", hostVeth);
      const v6 = link.split("\n").find((line) => line.includes(`${HOST_V6}/64`));
      return link.includes("LOWER_UP") && v6 !== undefined && !v6.includes("tentative");
    });

    if (opts.kernelNat !== undefined) {
      const port = String(opts.kernelNat.port);
      // route_localnet is per namespace: setting it here leaves the machine's own value alone.
      await inNs(hostNs, "sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1");
      const value = (await inNs(hostNs, "sysctl", "-n", "net.ipv4.conf.all.route_localnet")).trim();
      if (value !== "1") throw new Error(`route_localnet did not take inside ${hostNs} (reads ${value})`);
      const rules = [
        // What `-p 127.0.0.1:PORT:18789` installs for locally generated traffic...
        ["OUTPUT", "-d", "127.0.0.1", "-p", "tcp", "--dport", port, "-j", "DNAT", "--to-destination", `${CONTAINER_V4}:${CONTAINER_PORT}`],
        // ...and the masquerade without which the packets would reach the container from 127.0.0.1, which it
        // drops as martian (Docker matches `-m addrtype --src-type LOCAL -o docker0`; 127.0.0.0/8 is the part
        // of that this topology uses).
        ["POSTROUTING", "-s", "127.0.0.0/8", "-o", hostVeth, "-j", "MASQUERADE"],
      ];
      for (const rule of rules) await inNs(hostNs, "iptables", "-w", "5", "-t", "nat", "-A", ...rule);
      // Check each rule is really there (iptables -C exits non-zero, and sh() throws, if it is not).
      for (const rule of rules) await inNs(hostNs, "iptables", "-w", "5", "-t", "nat", "-C", ...rule);
    }
  } catch (error) {
    await topology.close();
    throw error;
  }
  return topology;
}

/** The iptables version string (for provenance), read inside a namespace to stay out of the machine's. */
export async function iptablesVersion(topology: Topology): Promise<string> {
  const { stdout, stderr } = await topology.run(topology.hostNs, ["iptables", "--version"]);
  return (stdout || stderr).trim();
}

/** Every namespace on this machine named `ca-...` (this run's and any other's: filter by topology id). */
export function caNamespaces(): string[] {
  const out = execFileSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 5_000 });
  return out
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith("ca-"));
}

// ---------------------------------------------------------------------------------------------------------

/** The emergency cleanups of the topologies (and other things) not yet closed. */
const lastResort = new Set<() => void>();
let watching = false;

/**
 * Registers a synchronous cleanup to run if the process exits or is signalled before it is undone; returns
 * the function that unregisters it (call that once the orderly cleanup has run).
 */
export function atLastResort(cleanup: () => void): () => void {
  lastResort.add(cleanup);
  watchProcess();
  return () => lastResort.delete(cleanup);
}

/**
 * On exit, and on SIGINT/SIGTERM/SIGHUP, runs the emergency cleanups. A signal is then raised again with the
 * default action (so the process still ends as it would have), unless the program handles it itself.
 */
function watchProcess(): void {
  if (watching) return;
  watching = true;
  const cleanUp = () => {
    for (const cleanup of lastResort) cleanup();
    lastResort.clear();
  };
  process.on("exit", cleanUp);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      cleanUp();
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

function spawnIn(ns: string, argv: string[], env: NodeJS.ProcessEnv | undefined): ChildProcess {
  // `ip netns exec` execs argv in place, so the child's pid is the program's own pid.
  return spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["pipe", "pipe", "pipe"], env: withoutProxies(env ?? process.env) });
}

/** No proxy variables: a client inside a namespace must dial the address it was given, nothing else. */
function withoutProxies(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !/proxy/i.test(key)));
}

/** Runs a short command (not inside a namespace unless argv says so) and returns stdout; throws with stderr. */
function sh(argv: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: withoutProxies(process.env) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => tryKill(child.pid, "SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(" ")}: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${argv.join(" ")}: exited ${signal ?? code}: ${stderr.trim()}`));
    });
  });
}

async function waitFor(what: string, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

function firstLine(error: unknown): string {
  const stderr = (error as { stderr?: Buffer | string }).stderr;
  const text = stderr !== undefined && String(stderr).trim() !== "" ? String(stderr) : (error as Error).message;
  return text.trim().split("\n")[0] ?? "";
}
