// The small process helpers every end-to-end harness needs (netns.ts, docker-engine.ts, podman-engine.ts,
// proxies.ts): a signal that never throws and never reaches pid 0 or 1, a bounded wait, a pause, and the
// processes inside a network namespace.
import { execFileSync } from "node:child_process";

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
