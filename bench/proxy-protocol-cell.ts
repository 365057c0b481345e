// One PROXY protocol parse measurement in a fresh process: `node --import tsx bench/proxy-protocol-cell.ts
// WORKLOAD IMPLEMENTATION` prints {"ns": ...}, the mean time of one parse over mitata's batched samples, after a
// discarded warm-up run (as bench/cell.ts does for the resolver).
import { measure } from "mitata";
import { PARSE_WORKLOADS, type ParseImplementation } from "./proxy-protocol-workloads.js";

const [name, implementation] = process.argv.slice(2) as [string, ParseImplementation];
const fn = PARSE_WORKLOADS.find((w) => w.name === name)?.build()[implementation];
if (fn === undefined) {
  console.error(`no such cell: ${name} / ${implementation}`);
  process.exit(2);
}
await measure(fn);
const stats = await measure(fn);
console.log(JSON.stringify({ ns: stats.avg, p50: stats.p50 }));
