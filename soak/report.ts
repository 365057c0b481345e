// The figures of `npm run soak`: percentiles, the per-server summary, the checks that fail the run, and the
// last line, `soak: N handshakes, W wrong admissions, R wrong refusals, heap +X MiB, p99 Y ms`.
import { FAULTS, HANDSHAKES, SLOW, STALLED, expectedVerdict } from "./mix.js";
import type { ServerFigures } from "./server.js";

/**
 * Heap growth allowed from the start of the measured phase to its end, per server, both taken after a full
 * garbage collection with no connection open (and after the profiler and the delay monitor started, whose own
 * allocations are not the server's). What may legitimately stay is small and bounded: clientaddr's Host and
 * Origin memos (at most 512 short strings each, well under 0.5 MiB), code and type feedback compiled late,
 * and the frameworks' caches (and what is in them at the moment: a memo is emptied when full); measured here it is
 * 0.0 to 0.4 MiB, whether 2,800, 9,800, 17,800 or 479,800 handshakes a server were measured.
 * A leak is not bounded: one 100-byte object a handshake is 0.95 MiB over the quick run's 10,000 measured
 * handshakes a server and 46 MiB over the full run's 480,000, so 1 MiB fails the quick run on a leak of about
 * 100 bytes a handshake and the full run on one of about 2 bytes.
 */
export const HEAP_BOUND_MIB = 1;

/** The value at percentile p (0-100) of ascending `sorted`, by nearest rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export const MiB = 1024 * 1024;

export interface ServerRun {
  readonly name: string;
  readonly description: string;
  /** Handshakes checked: warm-up, measured and the probe after it. */
  readonly handshakes: number;
  readonly measured: number;
  readonly measuredMs: number;
  /** The load generators' CPU time over the measured phase, in milliseconds. */
  readonly loadCpuMs: number;
  /** Measured handshakes' latencies, ascending, in milliseconds. */
  readonly latencies: Float64Array;
  readonly wrongAdmissions: number;
  readonly wrongRefusals: number;
  readonly unexpected: number;
  readonly faultAdmissions: number;
  readonly outcomes: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly examples: readonly string[];
  readonly figures: ServerFigures;
  /** Whether the server process exited by itself before it was stopped. */
  readonly crashed: boolean;
}

export function heapGrowthMiB(run: ServerRun): number {
  return (run.figures.end.heapUsed - run.figures.start.heapUsed) / MiB;
}

const count = (value: number) => Math.round(value).toLocaleString("en-US");
const ms = (value: number) => `${value.toFixed(value < 10 ? 2 : 1)} ms`;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);
const share = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;
const outcomesText = (byOutcome: Readonly<Record<string, number>> = {}) =>
  Object.entries(byOutcome)
    .sort(([, a], [, b]) => b - a)
    .map(([outcome, n]) => `${count(n)} ${outcome}`)
    .join(", ") || "none";

/** The readable summary of one server's run. */
export function summary(run: ServerRun): string[] {
  const { figures } = run;
  const folders = Object.entries(figures.profile.byFolder)
    .map(([folder, samples]) => `${folder} ${share(samples, figures.profile.samples)}`)
    .join(", ");
  const lines = [
    `${run.name}: ${run.description}`,
    `  handshakes ${count(run.handshakes)} checked; measured ${count(run.measured)} in ${(run.measuredMs / 1000).toFixed(1)} s: ${count((run.measured * 1000) / run.measuredMs)} handshakes/s`,
    `  latency p50 ${ms(percentile(run.latencies, 50))}, p99 ${ms(percentile(run.latencies, 99))}, max ${ms(percentile(run.latencies, 100))}; event loop delay p99 ${ms(figures.loopDelayP99)}, max ${ms(figures.loopDelayMax)}`,
    `  RSS ${mib(figures.start.rss)} -> ${mib(figures.end.rss)} MiB; heap ${mib(figures.start.heapUsed)} -> ${mib(figures.end.heapUsed)} MiB (${signed(heapGrowthMiB(run))} MiB, bound ${HEAP_BOUND_MIB} MiB)`,
    `  server CPU ${(figures.cpuMs / run.measuredMs).toFixed(2)} of a core (load generators ${(run.loadCpuMs / run.measuredMs).toFixed(2)}); clientaddr ${share(figures.profile.clientaddr, figures.profile.samples)} of ${count(figures.profile.samples)} profile samples (self time${folders === "" ? "" : `: ${folders}`})`,
    `  trust list swaps ${count(figures.swaps)}; refusals ${count(figures.refusals)}; balancer connections closed ${outcomesText(figures.balancerErrors)}`,
    `  wrong admissions ${run.wrongAdmissions}, wrong refusals ${run.wrongRefusals}, other answers to refused kinds ${run.unexpected}, faults admitted ${run.faultAdmissions}${run.crashed ? ", SERVER CRASHED" : ""}`,
  ];
  for (const kind of HANDSHAKES) lines.push(`    ${expectedVerdict(kind.intent).padEnd(6)} ${kind.name.padEnd(32)} ${outcomesText(run.outcomes[kind.name])}`);
  for (const fault of FAULTS) lines.push(`    fault  ${fault.name.padEnd(32)} ${outcomesText(run.outcomes[fault.name])} (survived as: ${fault.answer})`);
  lines.push(`    slow   ${`slow-client (${SLOW.name})`.padEnd(32)} ${outcomesText(run.outcomes[`slow-client (${SLOW.name})`])}`);
  for (const kind of STALLED) lines.push(`    stall  ${kind.name.padEnd(32)} ${outcomesText(run.outcomes[kind.name])} (ended by the server as: ${kind.answer})`);
  for (const example of run.examples) lines.push(`  ! ${example}`);
  return lines;
}

function signed(value: number): string {
  return `${value < 0 ? "-" : "+"}${Math.abs(value).toFixed(1)}`;
}

/** Why the run fails; empty when it passes. */
export function failures(runs: readonly ServerRun[], requested: number): string[] {
  const reasons: string[] = [];
  const total = runs.reduce((sum, run) => sum + run.handshakes, 0);
  if (total < requested) reasons.push(`${total} handshakes checked, fewer than the ${requested} asked for`);
  for (const run of runs) {
    if (run.crashed) reasons.push(`${run.name}: the server did not exit cleanly when stopped`);
    if (run.wrongAdmissions > 0) reasons.push(`${run.name}: ${run.wrongAdmissions} wrong admissions (a break-in)`);
    if (run.wrongRefusals > 0) reasons.push(`${run.name}: ${run.wrongRefusals} wrong refusals`);
    if (run.unexpected > 0) reasons.push(`${run.name}: ${run.unexpected} handshakes to refuse answered otherwise than with a refusal`);
    if (run.faultAdmissions > 0) reasons.push(`${run.name}: ${run.faultAdmissions} faulty or slow connections admitted`);
    for (const kind of STALLED) {
      const outcomes = run.outcomes[kind.name] ?? {};
      const other = Object.keys(outcomes).filter((outcome) => outcome !== kind.answer);
      if (!(kind.answer in outcomes)) reasons.push(`${run.name}: no ${kind.name} connection was ended by the server (${outcomesText(outcomes)})`);
      if (other.length > 0) reasons.push(`${run.name}: ${kind.name} connections ended otherwise than by the server: ${other.join(", ")}`);
    }
    if (heapGrowthMiB(run) > HEAP_BOUND_MIB) reasons.push(`${run.name}: heap grew ${heapGrowthMiB(run).toFixed(1)} MiB, above the ${HEAP_BOUND_MIB} MiB bound`);
  }
  return reasons;
}

export interface Totals {
  readonly handshakes: number;
  readonly wrongAdmissions: number;
  readonly wrongRefusals: number;
  /** The largest heap growth of the servers, in MiB. */
  readonly heapGrowthMiB: number;
  /** Over the measured handshakes of every server, in milliseconds. */
  readonly p99: number;
}

export function totals(runs: readonly ServerRun[]): Totals {
  const merged = new Float64Array(runs.reduce((sum, run) => sum + run.latencies.length, 0));
  let at = 0;
  for (const run of runs) {
    merged.set(run.latencies, at);
    at += run.latencies.length;
  }
  merged.sort();
  return {
    handshakes: runs.reduce((sum, run) => sum + run.handshakes, 0),
    wrongAdmissions: runs.reduce((sum, run) => sum + run.wrongAdmissions, 0),
    wrongRefusals: runs.reduce((sum, run) => sum + run.wrongRefusals, 0),
    heapGrowthMiB: Math.max(...runs.map(heapGrowthMiB)),
    p99: percentile(merged, 99),
  };
}

/**
 * The run's last line. The heap figure is the largest growth among the servers; a heap that shrank prints
 * as +0.0 (the shape has a plus sign; the summary above gives the signed figures).
 */
export function lastLine(t: Totals): string {
  return `soak: ${t.handshakes} handshakes, ${t.wrongAdmissions} wrong admissions, ${t.wrongRefusals} wrong refusals, heap +${Math.max(0, t.heapGrowthMiB).toFixed(1)} MiB, p99 ${t.p99.toFixed(1)} ms`;
}
