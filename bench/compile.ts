// Compiling a 10,000-CIDR list: the time (median of 15 compilations) and the heap one compiled list holds
// (heap used with 20 of them alive minus without, after forced collections, divided by 20: one list's few
// hundred KiB are within the collector's own noise; run with --expose-gc).
import { compileTrustedProxies } from "clientaddr";
import { manyCidrs } from "./workloads.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");
const list = manyCidrs(10_000);
const times: number[] = [];
for (let i = 0; i < 15; i++) {
  const started = performance.now();
  compileTrustedProxies(list);
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
gc();
gc();
const COPIES = 20;
const before = process.memoryUsage().heapUsed;
const kept = Array.from({ length: COPIES }, () => compileTrustedProxies(list));
gc();
gc();
const bytes = (process.memoryUsage().heapUsed - before) / COPIES;
if (kept.some((compiled) => compiled.diagnostics.length > 0)) throw new Error("unreachable: keeps the lists alive until measured");
console.log(JSON.stringify({ ms: times[7], bytes }));
