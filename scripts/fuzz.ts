// The long run of the resolver's laws: `npm run fuzz [-- --runs N] [-- --seed S]`. It prints the seed, runs
// every law of test/support/properties.ts (the same laws `npm test` runs a few hundred times) until the total
// reaches N generated cases (default 1,000,000), and writes each failure, shrunk by fast-check to a minimal
// case, as a fixture under fixtures/fuzz/ for a person to review: the replay test then fails until it is fixed.
// Then the PROXY protocol parser's laws (test/support/proxy-protocol-laws.ts: never throws, never reads past
// its bounds, agrees with proxy-protocol-js, decides the same in any segmentation), N / 10 cases in all; a
// failure is written as the header's bytes in hex under fixtures/fuzz/proxy-protocol/.
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { resolveClientAddress } from "../src/core/index.js";
import { LAWS, type LawRequest, property } from "../test/support/properties.js";
import { PARSER_LAWS, parserProperty } from "../test/support/proxy-protocol-laws.js";
import { writeFixture } from "./lib/write-fixture.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "1000000" }, seed: { type: "string" } } });
const total = Number(values.runs);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
if (!Number.isInteger(total) || total < 1 || !Number.isInteger(seed)) {
  console.error("usage: fuzz.ts [--runs N] [--seed S]");
  process.exit(2);
}
const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "fuzz");
const laws = Object.entries(LAWS);
const perLaw = Math.ceil(total / laws.length);
console.log(`fuzz: seed ${seed}, ${perLaw * laws.length} cases over ${laws.length} laws (replay with --seed ${seed})`);

let failures = 0;
let cases = 0;
/** Checks one law; on a failure, says so and lets `keep` write the counterexample, returning where it went. */
function check<T>(name: string, prop: fc.IProperty<[T]>, seedOffset: number, numRuns: number, keep: (input: T) => string): void {
  const started = performance.now();
  const details = fc.check(prop, { seed: seed + seedOffset, numRuns });
  cases += details.numRuns;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (!details.failed) {
    console.log(`  ok    ${details.numRuns} cases in ${seconds} s: ${name}`);
    return;
  }
  failures++;
  console.log(`  FAIL  after ${details.numRuns} cases (${details.numShrinks} shrinks): ${name}\n        ${String(details.errorInstance)}`);
  console.log(`        written to ${keep(details.counterexample![0])}`);
}

for (const [index, [name, law]] of laws.entries()) {
  check(name, property(law), index, perLaw, (input) => writeCounterexample(name, law.asRequest(input), law.demandsNotLocal));
}
const parserLaws = Object.entries(PARSER_LAWS);
const perParserLaw = Math.ceil(total / 10 / parserLaws.length);
console.log(`fuzz: the PROXY protocol parser, ${perParserLaw * parserLaws.length} cases over ${parserLaws.length} laws`);
for (const [index, [name, law]] of parserLaws.entries()) {
  check(name, parserProperty(law), laws.length + index, perParserLaw, (input) => {
    const bytes = input instanceof Uint8Array ? input : (input as [Uint8Array, number[]])[0];
    const folder = path.join(OUT, "proxy-protocol");
    mkdirSync(folder, { recursive: true });
    const file = path.join(folder, `${name.toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, 50)}-seed-${seed}.hex`);
    writeFileSync(file, `${Buffer.from(bytes).toString("hex")}\n`);
    return file;
  });
}
console.log(`${cases - failures} passed, ${failures} failed`);
process.exitCode = failures > 0 ? 1 : 0;

function writeCounterexample(name: string, request: LawRequest, demandsNotLocal: boolean): string {
  const { rawHeaders, remoteAddress, declaredSource, secure, ...options } = request;
  const now = resolveClientAddress({ ...options, remoteAddress, declaredSource, secure, headers: rawHeaders });
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60);
  return writeFixture(OUT, {
    name: `${slug}-seed-${seed}`,
    description: `A minimal counterexample to the law "${name}".`,
    provenance: {
      kind: "hand-written",
      source: `npm run fuzz, seed ${seed}, fast-check ${fc.__version}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
      why: "Generated and shrunk by the fuzz run, not recorded. The expected answer is the current one with the law's demand applied: review it before committing.",
    },
    request: {
      peer: remoteAddress === undefined ? null : { address: remoteAddress, port: 0 },
      ...(declaredSource === undefined ? {} : { declaredSource }),
      ...(secure === undefined ? {} : { secure }),
      local: null,
      method: "GET",
      url: "/",
      rawHeaders: [...rawHeaders],
    },
    options: { ...options, trustedProxies: [...options.trustedProxies] },
    expected: { address: now.address, loopbackEquivalent: demandsNotLocal ? false : now.loopbackEquivalent, basis: now.basis },
  });
}
