// The small process helpers every end-to-end harness needs (netns.ts, docker-engine.ts, podman-engine.ts,
// proxies.ts): a signal that never throws and never reaches pid 0 or 1, a bounded wait, a pause, the
// processes inside a network namespace, and a process started in the foreground until it says it is ready.
import { type ChildProcess, execFileSync } from "node:child_process";

/** A process started in the foreground, stopped by its own pid. */
export interface Started {
  pid: number;
  /** Everything the process wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 3 s. Resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Resolves once `child`'s output matches `readyPattern` (at once when none is given); within `timeoutMs`, or
 * it is stopped and the promise rejects with `what`, the reason and everything it wrote. It also rejects,
 * stopping nothing that runs, if the child fails to start or exits first.
 */
export function startUntilReady(child: ChildProcess, what: string, readyPattern: RegExp | undefined, timeoutMs: number): Promise<Started> {
  let output = "";
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const started: Started = {
    pid: child.pid ?? -1,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      tryKill(child.pid, "SIGTERM");
      if (!(await within(exited, 3_000))) {
        tryKill(child.pid, "SIGKILL");
        await within(exited, 3_000);
      }
    },
  };
  return new Promise<Started>((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void started.stop().finally(() => reject(new Error(`${what}: ${why}\n--- its output ---\n${output}`)));
    };
    const check = () => {
      if (settled || !(readyPattern?.test(output) ?? true)) return;
      settled = true;
      clearTimeout(timer);
      resolve(started);
    };
    const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms`), timeoutMs);
    const collect = (chunk: Buffer) => {
      output += chunk;
      check();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("error", (error) => fail(error.message));
    child.on("exit", (code, signal) => fail(`exited (${signal ?? code}) before it was ready`));
    if (child.pid !== undefined) check();
  });
}

/** Sends `signal` to `pid` if it is a real process of ours; a process already gone is no error. */
export function tryKill(pid: number | undefined, signal: NodeJS.Signals): void {
  // process.kill(0) would signal our own process group, and 1 is init.
  if (pid === undefined || pid <= 1) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Whether `promise` settles within `ms` milliseconds (it is not cancelled if not). */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The processes inside network namespace `ns` (none if it is gone), init excluded. */
export function namespacePids(ns: string): number[] {
  try {
    const out = execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5_000 });
    return out.split(/\s+/).filter(Boolean).map(Number).filter((pid) => Number.isInteger(pid) && pid > 1);
  } catch {
    return [];
  }
}
