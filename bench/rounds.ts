// The micro-benchmark cells of `npm run bench` (bench/run.ts, bench/proxy-protocol.ts), measured in rounds:
// each round runs every implementation of a workload once, each in a fresh process (bench/cell.ts), one right
// after the other. This shared machine has slow phases that last minutes; measured one implementation's
// processes after the other's, a slow phase could land on one side of a ratio only (two full runs of one build
// on 2026-12-02 gave v1 TCP6 2.5x and 1.2x). In rounds both sides of a ratio are measured seconds apart, and a
// ratio is the median of the rounds' own ratios.
import { execFileSync, spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));

// Each cell's process runs pinned to one CPU, the last (Linux's `taskset`; unpinned where there is none), with
// V8's helper threads (concurrent marking, sweeping, compiling) on that CPU beside the measured thread, so their
// work counts in the cell, as on a server whose every core is busy. Unpinned, one cell of one build took 250 ns
// a request in one process and 1.2 µs in the next, minutes apart (docs/performance.md).
const CPU = String(availableParallelism() - 1);
const PINNED = spawnSync("taskset", ["-c", CPU, "true"]).status === 0;

/** Runs `node args` in a fresh process, pinned where it can be; its stdout. */
function runCell(args: readonly string[]): string {
  const [file, argv] = PINNED ? ["taskset", ["-c", CPU, process.execPath, ...args]] : [process.execPath, [...args]];
  return execFileSync(file, argv, { encoding: "utf8", timeout: 120_000 });
}

/** How the cells' processes run, for the report. */
export const PINNING = PINNED ? `pinned to CPU ${CPU} with taskset` : "not pinned (no taskset)";

export interface Cell {
  /** Nanoseconds a call, one per round, in round order. */
  readonly runs: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Every implementation of `workload`, once a round, for `rounds` rounds; progress on stderr. */
export function measureRounds<I extends string>(workload: string, implementations: readonly I[], rounds: number): Record<I, Cell> {
  const runs = Object.fromEntries(implementations.map((implementation) => [implementation, [] as number[]])) as Record<I, number[]>;
  for (let round = 0; round < rounds; round++) {
    for (const implementation of implementations) {
      const out = runCell(["--import", "tsx", path.join(HERE, "cell.ts"), workload, implementation]);
      runs[implementation].push((JSON.parse(out) as { ns: number }).ns);
    }
  }
  const cells = {} as Record<I, Cell>;
  for (const implementation of implementations) {
    cells[implementation] = { runs: runs[implementation], ...spread(runs[implementation]) };
    process.stderr.write(`${workload} / ${implementation}: ${cellText(cells[implementation])}\n`);
  }
  return cells;
}

/** The median, lowest and highest of `values`. */
export function spread(values: readonly number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: median(sorted), min: sorted[0]!, max: sorted.at(-1)! };
}

/** The median over rounds of `over[i] / under[i]`: how many times `under` is faster, paired by round. */
export function pairedRatio(over: readonly number[], under: readonly number[]): number {
  return median(over.map((value, i) => value / under[i]!).sort((a, b) => a - b));
}

function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const fmt = (ns: number) => (ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(1)} ns`);

export const cellText = (cell: Cell | undefined) => (cell === undefined ? "" : `${fmt(cell.median)} (${fmt(cell.min)}–${fmt(cell.max)})`);
