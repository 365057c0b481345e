// `npm run soak [-- --quick] [-- --handshakes N]`: the example gateway, then a Fastify app with clientaddr's
// plugin, each in a fresh process (soak/server.ts), under sustained load from two load-generator processes
// (soak/load.ts) on loopback, with the request mix of soak/mix.ts: every answer checked against the verdict
// expected for its request. Per server: a warm-up, then the measured phase (the server's memory, event loop
// and CPU profile taken around it), then a probe that the server still answers correctly. The handshakes are
// split evenly between the servers: 1,000,000 in all by default, 24,000 with --quick.
// Exits non-zero on a wrong admission, a wrong refusal, any other answer to a request that must be refused, a
// faulty connection admitted, heap growth above HEAP_BOUND_MIB, a server that died, or too few handshakes.
import { type ChildProcess, fork } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Job, JobResult } from "./load.js";
import { HEAP_BOUND_MIB, type ServerRun, failures, lastLine, summary, totals } from "./report.js";
import type { ServerFigures } from "./server.js";

const SERVER = fileURLToPath(new URL("./server.ts", import.meta.url));
const LOAD = fileURLToPath(new URL("./load.ts", import.meta.url));
const WORKERS = 2;
const CONCURRENCY = 8; // per worker
const SLOW = 4; // per worker, beside the others
const STALLED = 1; // of each stalled kind, per worker, beside the others
const PROBE = 200;
const REPLY_TIMEOUT_MS = 60_000;

const SERVERS = [
  { name: "gateway", description: "examples/gateway (node:http + ws), resolver's trust list recompiled and swapped every 50 ms" },
  { name: "fastify", description: "Fastify 5 + @fastify/websocket + clientaddr/fastify plugin (list compiled at registration)" },
] as const;

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, handshakes: { type: "string" } } });
const requested = values.handshakes !== undefined ? Number(values.handshakes) : values.quick ? 24_000 : 1_000_000;
// Each server gets at least the shortest warm-up, the probe and 1,000 measured handshakes.
const MINIMUM = SERVERS.length * (2_000 + PROBE + 1_000);
if (!Number.isInteger(requested) || requested < MINIMUM) {
  console.error(`usage: run.ts [--quick] [--handshakes N] (N an integer of at least ${MINIMUM})`);
  process.exit(2);
}

// Children still running are killed by their pid if this process exits first; they also exit by themselves
// when their IPC channel closes.
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function start(file: string, args: string[], execArgv: string[]): ChildProcess {
  const child = fork(file, args, { execArgv, serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/** Sends `message` (if any) and waits for the child's next message, failing if it exits first or takes too long. */
function reply<T>(child: ChildProcess, message?: unknown, timeoutMs = REPLY_TIMEOUT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (answer: T) => {
      cleanup();
      resolve(answer);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`process ${child.pid} exited (${code ?? signal}) before it answered`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`process ${child.pid} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
    if (message !== undefined) child.send(message as object);
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** One phase: every worker runs its share of `handshakes`; the results are merged. */
async function phase(workers: ChildProcess[], job: Omit<Job, "handshakes" | "seed">, handshakes: number, seed: number): Promise<JobResult> {
  // A bound for a hung phase, not a throughput target: 50 handshakes a second at least.
  const timeout = REPLY_TIMEOUT_MS + handshakes * 20;
  const results = await Promise.all(
    workers.map((worker, i) => reply<JobResult>(worker, { ...job, handshakes: Math.ceil(handshakes / workers.length), seed: seed + i } satisfies Job, timeout)),
  );
  return merge(results);
}

function merge(results: readonly JobResult[]): JobResult {
  const outcomes: JobResult["outcomes"] = {};
  for (const result of results) {
    for (const [kind, byOutcome] of Object.entries(result.outcomes)) {
      const into = (outcomes[kind] ??= {});
      for (const [outcome, n] of Object.entries(byOutcome)) into[outcome] = (into[outcome] ?? 0) + n;
    }
  }
  const latencies = new Float64Array(results.reduce((sum, result) => sum + result.latencies.length, 0));
  let at = 0;
  for (const result of results) {
    latencies.set(result.latencies, at);
    at += result.latencies.length;
  }
  const sum = (key: "handshakes" | "wrongAdmissions" | "wrongRefusals" | "unexpected" | "faultAdmissions") => results.reduce((total, result) => total + result[key], 0);
  return {
    handshakes: sum("handshakes"),
    outcomes,
    wrongAdmissions: sum("wrongAdmissions"),
    wrongRefusals: sum("wrongRefusals"),
    unexpected: sum("unexpected"),
    faultAdmissions: sum("faultAdmissions"),
    examples: results.flatMap((result) => result.examples),
    latencies,
    wallMs: Math.max(...results.map((result) => result.wallMs)),
    cpuMs: results.reduce((total, result) => total + result.cpuMs, 0),
  };
}

async function soak(server: (typeof SERVERS)[number], index: number, handshakes: number): Promise<ServerRun> {
  const warmup = Math.min(20_000, Math.max(2_000, Math.round(handshakes / 20)));
  const measured = handshakes - warmup - PROBE;
  const child = start(SERVER, [server.name], ["--expose-gc", "--import", "tsx"]);
  const workers = Array.from({ length: WORKERS }, () => start(LOAD, ["--worker"], ["--import", "tsx"]));
  try {
    const { port } = await reply<{ port: number }>(child);
    const load = { port, concurrency: CONCURRENCY };
    const seed = 1_000 * (index + 1);
    const progress = (text: string) => process.stderr.write(`soak: ${server.name}: ${text}\n`);
    progress(`listening on 127.0.0.1:${port}; warm-up, ${warmup} handshakes`);
    const warm = await phase(workers, { ...load, slow: SLOW, stalled: STALLED, faults: true }, warmup, seed);
    await reply(child, { type: "start" });
    progress(`measuring, ${measured} handshakes`);
    const main = await phase(workers, { ...load, slow: SLOW, stalled: STALLED, faults: true }, measured, seed + 100);
    const { figures } = await reply<{ figures: ServerFigures }>(child, { type: "end" });
    progress(`probe, ${PROBE} handshakes`);
    const probe = await phase(workers, { ...load, slow: 0, stalled: 0, faults: false }, PROBE, seed + 200);
    const all = merge([warm, main, probe]);
    // A server that dies is caught by the replies above; one that still answers exits 0 when its channel closes.
    child.disconnect();
    const code = await exited(child);
    return {
      name: server.name,
      description: server.description,
      handshakes: all.handshakes,
      measured: main.handshakes,
      measuredMs: main.wallMs,
      loadCpuMs: main.cpuMs,
      latencies: main.latencies.sort(),
      wrongAdmissions: all.wrongAdmissions,
      wrongRefusals: all.wrongRefusals,
      unexpected: all.unexpected,
      faultAdmissions: all.faultAdmissions,
      outcomes: all.outcomes,
      examples: all.examples,
      figures,
      crashed: code !== 0,
    };
  } finally {
    for (const p of [...workers, child]) if (p.connected) p.disconnect();
    await Promise.all([child, ...workers].map(exited));
  }
}

const started = performance.now();
console.log(`soak: ${requested} handshakes over ${SERVERS.length} servers; ${WORKERS} load workers x ${CONCURRENCY} in flight (+${SLOW} slow and ${STALLED} of each stalled kind each); node ${process.version}, ${os.cpus().length} cores`);
const runs: ServerRun[] = [];
for (const [index, server] of SERVERS.entries()) runs.push(await soak(server, index, Math.ceil(requested / SERVERS.length)));
for (const run of runs) console.log(summary(run).join("\n"));
const reasons = failures(runs, requested);
console.log(`soak: ${((performance.now() - started) / 1000).toFixed(0)} s; heap bound ${HEAP_BOUND_MIB} MiB per server; ${reasons.length === 0 ? "passed" : `FAILED: ${reasons.join("; ")}`}`);
console.log(lastLine(totals(runs)));
process.exitCode = reasons.length === 0 ? 0 : 1;
