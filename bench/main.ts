// `npm run bench [-- [--node MAJOR|PATH]... [--out FILE] [FILTER]]`: the benchmarks, under each Node.js to
// measure with, one after the other. For each, bench/run.ts (the resolver's rows, the frameworks) and then
// bench/proxy-protocol.ts (the PROXY protocol) run as that node's own processes (`NODE --import tsx ...`; every
// process they start is that node too), and each writes its part of that major's section of bench/results.md.
//   --node MAJOR  the pinned release of scripts/node-versions.txt (fetched by scripts/node-binary.sh from the npm
//                 registry if it is not there yet); --node PATH (or a command name on PATH, `--node node` for the
//                 machine's) any node binary. Repeatable; BENCH_NODE="24 /usr/bin/node" says the same. Without
//                 either: every major with a bench position in scripts/node-versions.txt, in its order (the
//                 active LTS, then the oldest major engines admits).
//   --out FILE    writes the results there instead of bench/results.md, even with a FILTER (BENCH_RESULTS).
//   FILTER        bench/run.ts's filter (its header says what it selects): printed, not written to
//                 bench/results.md, and bench/proxy-protocol.ts is not run; FILTER `proxy-protocol` runs that
//                 one alone.
// Exits non-zero if any run missed a target or failed.
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { benchMajors, loadNodeVersions } from "./node-versions.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, "..");

function usage(message: string): never {
  console.error(`npm run bench: ${message}\nusage: npm run bench -- [--node MAJOR|PATH]... [--out FILE] [FILTER]`);
  process.exit(2);
}

const nodes: string[] = [];
let out = process.env.BENCH_RESULTS ? path.resolve(process.env.BENCH_RESULTS) : undefined;
let filter: string | undefined;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
  const value = () => inline ?? args[++i] ?? usage(`${flag} needs a value`);
  if (flag === "--node") nodes.push(value());
  else if (flag === "--out") out = path.resolve(value());
  else if (arg.startsWith("--")) usage(`unknown option ${arg}`);
  else if (filter === undefined) filter = arg;
  else usage(`one FILTER at most (got ${JSON.stringify(filter)} and ${JSON.stringify(arg)})`);
}
if (nodes.length === 0) nodes.push(...(process.env.BENCH_NODE ?? "").split(/[\s,]+/).filter(Boolean));
if (nodes.length === 0) nodes.push(...benchMajors(loadNodeVersions()).map(String));

/** The binary `spec` names: a pinned major, a path, or a command on PATH. */
function resolveNode(spec: string): string {
  if (/^\d+$/.test(spec)) {
    try {
      const bin = execFileSync("bash", [path.join(ROOT, "scripts", "node-binary.sh"), spec], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
      return path.join(bin.trim(), "node");
    } catch {
      usage(`no pinned Node.js ${spec} to be had (scripts/node-binary.sh said why above)`);
    }
  }
  if (spec.includes("/")) return path.resolve(spec);
  const found = spawnSync("sh", ["-c", 'command -v "$1"', "sh", spec], { encoding: "utf8" });
  if (found.status !== 0) usage(`no command ${spec} on PATH`);
  return found.stdout.trim();
}

const binaries = nodes.map((spec) => {
  const binary = resolveNode(spec);
  const version = spawnSync(binary, ["--version"], { encoding: "utf8" });
  if (version.status !== 0) usage(`${spec}: ${binary} does not run (${version.error?.message ?? version.stderr.trim()})`);
  return { binary, version: version.stdout.trim() };
});

const scripts = filter === "proxy-protocol" ? [["proxy-protocol.ts"]] : filter !== undefined ? [["run.ts", filter]] : [["run.ts"], ["proxy-protocol.ts"]];
const env = { ...process.env, ...(out === undefined ? {} : { BENCH_RESULTS: out }) };
const outcomes: string[] = [];
let failed = false;
for (const { binary, version } of binaries) {
  for (const [script, ...rest] of scripts) {
    console.error(`\n=== npm run bench: bench/${script}${rest.length > 0 ? ` ${JSON.stringify(rest[0])}` : ""} on Node.js ${version} (${binary})`);
    const started = Date.now();
    const run = spawnSync(binary, ["--import", "tsx", path.join(HERE, script!), ...rest], { cwd: ROOT, env, stdio: "inherit" });
    const status = run.status ?? run.signal ?? run.error?.message;
    if (status !== 0) failed = true;
    const said = status === 0 ? "exit 0, every target met" : status === 1 ? "exit 1, a target missed (or an error above)" : `failed (${status})`;
    outcomes.push(`${version}  bench/${script}: ${said}, ${((Date.now() - started) / 60_000).toFixed(1)} min`);
  }
}
console.error(`\nnpm run bench${out === undefined ? (filter === undefined ? ", written to bench/results.md" : "") : `, written to ${out}`}:\n${outcomes.join("\n")}`);
process.exitCode = failed ? 1 : 0;
