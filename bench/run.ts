// `npm run bench`: every workload, every implementation, in five rounds of fresh processes (bench/rounds.ts:
// bench/cell.ts, mitata with batching), then the median and spread of each cell and the ratios the issue asks
// for, each the median of the rounds' ratios; then the framework
// table (bench/frameworks.ts: Express and Fastify apps under autocannon, clientaddr's middleware against the
// framework's own `ip`; and node:http's server CPU a request with and without resolveRequest, under
// Chromium's WebSocket handshake headers). Writes the tables, with the machine, the Node version and the date,
// to the section of bench/results.md for the Node.js major it runs under (bench/report.ts), or to the file
// BENCH_RESULTS names. bench/main.ts (`npm run bench`) runs it under the Node.js to measure: every child
// process here is process.execPath, so every cell is measured on that version.
// `npm run bench -- FILTER` runs only the workloads whose name contains FILTER, and the framework table if
// FILTER is part of "frameworks" or names the framework ("express", "fastify", "node"), and prints them without
// writing bench/results.md (but writes them to BENCH_RESULTS, `--out FILE`, when it is set).
// Timings live here, never in tests.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Check, frameworkSection, frameworksSelected } from "./frameworks.js";
import { benchMajors, loadNodeVersions } from "./node-versions.js";
import { withPart } from "./report.js";
import { type Cell, PINNING, cellText, measureRounds, pairedRatio } from "./rounds.js";
import { type Implementation, WORKLOADS } from "./workloads.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
// Five rounds: a cell is a fresh process, and on this machine one process in three or four can be in a slow
// phase (the Chromium row's resolveRequest cells of one run: 240 ns, 255 ns and 1.77 µs), which a median of
// three lands on as often as not once both sides of a ratio have one (docs/performance.md).
const ROUNDS = 5;
const only = process.argv[2];

function compileCost(): { ms: number; bytes: number } {
  const out = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", path.join(HERE, "compile.ts")], { encoding: "utf8", timeout: 120_000 });
  return JSON.parse(out) as { ms: number; bytes: number };
}

const results = new Map<string, Partial<Record<Implementation, Cell>>>();
for (const workload of WORKLOADS) {
  if (only !== undefined && !workload.name.includes(only)) continue;
  const implementations = workload.implementations ?? (Object.keys(await workload.build()) as Implementation[]);
  results.set(workload.name, measureRounds(workload.name, implementations, ROUNDS));
}

const checks: Check[] = [];
const lines = [
  "| workload | proxy-addr | clientaddr | floor (bench/) | speed-up over proxy-addr | target |",
  "|---|---|---|---|---|---|",
];
for (const workload of WORKLOADS) {
  const cells = results.get(workload.name);
  if (cells === undefined) continue;
  const baseline = cells["proxy-addr"];
  // One line for each clientaddr cell: the library given plain values, and resolveRequest given IncomingMessage objects.
  // Each line against the floor given the same input: resolveRequest's takes the IncomingMessage objects too.
  const ours: Array<[string, Cell, Cell | undefined]> = [[workload.name, cells.clientaddr!, cells.floor]];
  if (cells.resolveRequest !== undefined) ours.push([`${workload.name}, resolveRequest(req, resolver) on node:http's IncomingMessage objects`, cells.resolveRequest, cells["floor-request"]]);
  for (const [name, cell, floor] of ours) {
    const speedup = baseline === undefined ? undefined : pairedRatio(baseline.runs, cell.runs);
    lines.push(
      `| ${name} | ${cellText(baseline ?? cells["forwarded-parse"])}${cells["forwarded-parse"] ? " (forwarded-parse alone)" : ""} | ${cellText(cell)} | ${cellText(floor)} | ${speedup === undefined ? "" : `${speedup.toFixed(1)}x`} | ${workload.target === undefined ? "" : `≥ ${workload.target}`} |`,
    );
    if (workload.target !== undefined && speedup !== undefined) {
      checks.push({ what: `${name}: speed-up over proxy-addr`, value: `${speedup.toFixed(1)}x`, target: `≥ ${workload.target}x`, met: speedup >= workload.target });
    }
    if (workload.floorLimit !== undefined && floor !== undefined) {
      const ratio = pairedRatio(cell.runs, floor.runs);
      checks.push({ what: `${name}: time vs the floor's`, value: `${ratio.toFixed(2)}x`, target: `≤ ${workload.floorLimit}x`, met: ratio <= workload.floorLimit });
    }
  }
}

const cell = (name: string) => results.get(name)?.clientaddr;
const relative = (what: string, a: Cell | undefined, b: Cell | undefined, limit: number) => {
  if (a === undefined || b === undefined) return;
  const ratio = pairedRatio(a.runs, b.runs);
  checks.push({ what, value: `${ratio.toFixed(2)}x`, target: `≤ ${limit}x`, met: ratio <= limit });
};
relative("clientaddr at 10,000 CIDRs vs itself at 2 CIDRs (one hop)", cell("one hop, 10,000 CIDRs"), cell("one hop, 2 CIDRs"), 1.3);
relative("clientaddr vs the floor, one hop", cell("one hop, 2 CIDRs"), results.get("one hop, 2 CIDRs")?.floor, 3);
relative("clientaddr vs the floor, five hops", cell("five hops, 2 CIDRs"), results.get("five hops, 2 CIDRs")?.floor, 3);
relative("clientaddr's Forwarded path vs forwarded-parse alone", cell("Forwarded, two elements"), results.get("Forwarded, two elements")?.["forwarded-parse"], 1.5);

if (only === undefined) {
  const compile = compileCost();
  checks.push({ what: "compiling 10,000 CIDRs", value: `${compile.ms.toFixed(1)} ms`, target: "< 30 ms", met: compile.ms < 30 });
  checks.push({ what: "the compiled 10,000-CIDR list's heap size", value: `${(compile.bytes / 1024).toFixed(0)} KiB`, target: "< 1 MiB", met: compile.bytes < 1024 * 1024 });
}

const machine = `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; ${new Date().toISOString().slice(0, 10)}`;
const frameworks = frameworksSelected(only) ? await frameworkSection(only, machine) : undefined;
// With a filter that selects no workload (`npm run bench -- frameworks`), the report is the framework table alone.
const micro = only === undefined || results.size > 0;
const report = [`Machine: ${machine}.`, ""];
if (micro) {
  report.push(
    `Each cell is the mean time of one call measured by mitata (batched) in a fresh process (${PINNING}) after one discarded warm-up run, in ${ROUNDS} rounds (each round measures every implementation of the row once, one right after the other): the median, and in brackets the lowest and highest. A speed-up or ratio is the median of the rounds' own ratios, so that a slow phase of this shared machine does not fall on one side of it only. clientaddr is the built package (dist/), and returns the address, the locality verdict, the basis, the hops and the diagnostics; proxy-addr ${"2.0.8"} returns the address only. The floor (bench/floor.ts) is the least hand-written code that gives the library's answers on the row's requests: on the rows of one IPv4 request repeated it walks X-Forwarded-For and returns the address; on fresh traffic (IPv4) and Chromium's handshake it returns the address and loopbackEquivalent, making each decision of the trust model these requests need and nothing else (test/bench-floors.test.ts holds it to the library on every request of both rows). On Chromium's handshake, clientaddr is given each request's peer and Node-style headers object, its second line is clientaddr/node's resolveRequest(req, resolver) on the IncomingMessage objects a node:http server on 127.0.0.1 received for the same 4,096 requests (each on its own connection; the peer each stands for set on its real socket), and proxy-addr reads those same objects, as does that line's floor (the socket's peer and Node's headers object, which a server's first reader has built by then).`,
    "",
    ...lines,
    "",
    "| check | measured | target | met |",
    "|---|---|---|---|",
    ...checks.map((check) => `| ${check.what} | ${check.value} | ${check.target} | ${check.met ? "yes" : "**no**"} |`),
    "",
  );
}
if (frameworks !== undefined) report.push(...frameworks.lines);
console.log(["# Benchmark results", "", ...report].join("\n"));
const out = process.env.BENCH_RESULTS || (only === undefined ? path.join(HERE, "results.md") : undefined);
if (out !== undefined) {
  // This Node.js's section only, and of it the resolver's part: bench/proxy-protocol.ts writes its own.
  const previous = existsSync(out) ? readFileSync(out, "utf8") : "";
  writeFileSync(out, withPart(previous, process.version, "resolver", report.join("\n"), benchMajors(loadNodeVersions())));
}
process.exitCode = [...checks, ...(frameworks?.checks ?? [])].every((check) => check.met) ? 0 : 1;
