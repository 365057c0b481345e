// One measurement in a fresh process: `node --import tsx bench/cell.ts WORKLOAD IMPLEMENTATION` prints
// {"ns": ...}, the mean time of one call over mitata's batched samples, measured after a warm-up run.
import { measure } from "mitata";
import { type Implementation, WORKLOADS } from "./workloads.js";

const [name, implementation] = process.argv.slice(2) as [string, Implementation];
const workload = WORKLOADS.find((w) => w.name === name);
const fn = workload?.build()[implementation];
if (fn === undefined) {
  console.error(`no such cell: ${name} / ${implementation}`);
  process.exit(2);
}
// The first run is a warm-up and is thrown away: V8 tiers the code up (and, for code the size of the
// resolver, finishes optimizing it) during that run, so the mean of a single run mixes two tiers. The
// same warm-up is given to every implementation.
await measure(fn);
const stats = await measure(fn);
console.log(JSON.stringify({ ns: stats.avg, p50: stats.p50 }));
