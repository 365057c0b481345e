// One measurement in a fresh process: `node --import tsx bench/cell.ts WORKLOAD IMPLEMENTATION` prints
// {"ns": ...}, the mean time of one call over mitata's batched samples, measured after a warm-up run. The
// workload is one of the resolver's (bench/workloads.ts) or of the PROXY protocol parse
// (bench/proxy-protocol-workloads.ts). A workload that builds its requests with a server (Chromium's
// handshake) has closed it before the measurement starts.
import { measure } from "mitata";
import { PARSE_WORKLOADS } from "./proxy-protocol-workloads.js";
import { WORKLOADS } from "./workloads.js";

const [name, implementation] = process.argv.slice(2) as [string, string];
const workload = [...WORKLOADS, ...PARSE_WORKLOADS].find((w) => w.name === name);
const fn = ((await workload?.build()) as Record<string, (() => unknown) | undefined> | undefined)?.[implementation];
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
