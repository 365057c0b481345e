// Turns Stryker's JSON report (reports/mutation/mutation.json, written by `npm run mutate`) into the short
// markdown report that is committed: the score per module and every surviving mutant, one line each, for a
// person to annotate with why it is equivalent or harmless. `npx tsx scripts/mutation-report.ts > FILE`.
import { readFileSync } from "node:fs";

interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}

const report = JSON.parse(readFileSync("reports/mutation/mutation.json", "utf8")) as {
  files: Record<string, { source: string; mutants: Mutant[] }>;
};

const DETECTED = new Set(["Killed", "Timeout"]);
const UNDETECTED = new Set(["Survived", "NoCoverage"]);
const rows: string[] = [];
const survivors: string[] = [];
let detectedTotal = 0;
let validTotal = 0;
for (const [file, { source, mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const lines = source.split("\n");
  const detected = mutants.filter((m) => DETECTED.has(m.status)).length;
  const valid = mutants.filter((m) => DETECTED.has(m.status) || UNDETECTED.has(m.status)).length;
  detectedTotal += detected;
  validTotal += valid;
  rows.push(`| ${file} | ${valid} | ${detected} | ${valid - detected} | ${((100 * detected) / valid).toFixed(2)}% |`);
  for (const m of mutants.filter((mutant) => UNDETECTED.has(mutant.status))) {
    const line = m.location.start.line;
    const code = lines[line - 1]!.trim().replace(/\|/g, "\\|").slice(0, 100);
    const replacement = (m.replacement ?? "").replace(/\s+/g, " ").replace(/\|/g, "\\|").slice(0, 70);
    survivors.push(`| ${file}:${line} | ${m.mutatorName}${m.status === "NoCoverage" ? " (no coverage)" : ""} | \`${code}\` | \`${replacement}\` |`);
  }
}

console.log(
  [
    `Mutation score: **${((100 * detectedTotal) / validTotal).toFixed(2)}%** (${detectedTotal} of ${validTotal} mutants detected).`,
    "",
    "| module | mutants | detected | survived | score |",
    "|---|---|---|---|---|",
    ...rows,
    "",
    "| where | mutator | original | mutated to |",
    "|---|---|---|---|",
    ...survivors,
  ].join("\n"),
);
