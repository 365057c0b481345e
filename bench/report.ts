// bench/results.md, one section for each Node.js major measured, and above them every section's checks side by
// side. bench/run.ts writes the resolver's part of a section (its rows, checks and the framework table) and
// bench/proxy-protocol.ts the PROXY protocol part ("## PROXY protocol" to the end of what it writes); each
// replaces its own part of the section of the Node.js it runs under and leaves the rest of the file as it was.
// The sections are shown in the bench order of scripts/node-versions.txt (the active LTS first, then the oldest
// major `engines` admits), then any other major measured, newest first. The harness writes its markdown as a
// document of its own ("## Frameworks"); in a section every heading is one level deeper ("### Frameworks").
// A file from before the sections (no markers) is read as the section of the Node.js its first line names.

export type Part = "resolver" | "proxy-protocol";

export interface Section {
  readonly major: number;
  /** "v24.22.3": the release the newest part was measured on. */
  readonly version: string;
  /** Each part as the harness wrote it ("" when not measured yet). */
  readonly resolver: string;
  readonly proxyProtocol: string;
}

export interface Check {
  readonly what: string;
  readonly measured: string;
  readonly target: string;
  readonly met: boolean;
}

const TITLE = "# Benchmark results";
const PROXY_HEADING = /^## PROXY protocol/m;
const SECTION = /<!-- bench: node (\d+) -->\n## Node\.js (v\d+\.\d+\.\d+)\n([\s\S]*?)\n?<!-- bench: end of node \1 -->/g;

export const majorOf = (version: string): number => Number(/^v?(\d+)\./.exec(version)?.[1] ?? Number.NaN);

/** The sections of results.md's text. */
export function parseResults(text: string): Section[] {
  if (!text.includes("<!-- bench: node ")) return legacy(text);
  return [...text.matchAll(SECTION)].map((match) => ({ major: Number(match[1]), version: match[2]!, ...parts(shallower(match[3]!)) }));
}

/** The text of results.md with these sections, ordered by `order` (majors) and then newest first. */
export function renderResults(sections: readonly Section[], order: readonly number[]): string {
  const rank = (major: number) => (order.includes(major) ? order.indexOf(major) : order.length);
  const sorted = [...sections].sort((a, b) => rank(a.major) - rank(b.major) || b.major - a.major);
  const out = [
    TITLE,
    "",
    "Measured on each Node.js version of the bench column of scripts/node-versions.txt, in its order (the active LTS first, then the oldest major that `engines` admits), each in a section of its own below: `npm run bench` measures on all of them, `npm run bench -- --node MAJOR|PATH` on one, replacing only that version's section. Every section's checks side by side (a target missed is marked **no**; a section's own tables say how each figure was measured):",
    "",
    ...checkTable(sorted),
  ];
  for (const section of sorted) {
    out.push(
      "",
      `<!-- bench: node ${section.major} -->`,
      `## Node.js ${section.version}`,
      "",
      deeper([section.resolver, section.proxyProtocol].filter((part) => part !== "").join("\n\n")),
      `<!-- bench: end of node ${section.major} -->`,
    );
  }
  return `${out.join("\n")}\n`;
}

/** results.md's text with `part` of the section for `version`'s major replaced by `markdown`. */
export function withPart(text: string, version: string, part: Part, markdown: string, order: readonly number[]): string {
  const major = majorOf(version);
  const sections = parseResults(text);
  const old = sections.find((section) => section.major === major);
  const updated: Section = {
    major,
    version,
    resolver: part === "resolver" ? markdown.trim() : (old?.resolver ?? ""),
    proxyProtocol: part === "proxy-protocol" ? markdown.trim() : (old?.proxyProtocol ?? ""),
  };
  return renderResults([...sections.filter((section) => section !== old), updated], order);
}

/** Every row of the "| check | measured | target | met |" tables of a section's parts. */
export function sectionChecks(section: Section): Check[] {
  const checks: Check[] = [];
  for (const part of [section.resolver, section.proxyProtocol]) {
    const lines = part.split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.trim() !== "| check | measured | target | met |") continue;
      for (i += 2; i < lines.length && lines[i]!.startsWith("|"); i++) {
        const cells = lines[i]!.slice(1, -1).split(" | ").map((cell) => cell.trim());
        if (cells.length !== 4) continue;
        const [what, measured, target, met] = cells as [string, string, string, string];
        checks.push({ what, measured, target, met: met === "yes" });
      }
    }
  }
  return checks;
}

function checkTable(sections: readonly Section[]): string[] {
  if (sections.length === 0) return ["(nothing measured yet)"];
  const perSection = sections.map(sectionChecks);
  const targets = new Map<string, string>();
  for (const checks of perSection) for (const check of checks) if (!targets.has(check.what)) targets.set(check.what, check.target);
  const date = (section: Section) => /; (\d{4}-\d{2}-\d{2})\b/.exec(section.resolver || section.proxyProtocol)?.[1];
  const head = sections.map((section) => `Node.js ${section.version}${date(section) === undefined ? "" : ` (${date(section)})`}`);
  const rows = [...targets].map(([what, target]) => {
    const cells = perSection.map((checks) => {
      const check = checks.find((c) => c.what === what);
      if (check === undefined) return "";
      return `${check.measured}${check.met ? "" : " **no**"}${check.target === target ? "" : ` (target ${check.target})`}`;
    });
    return `| ${what} | ${target} | ${cells.join(" | ")} |`;
  });
  return [`| check | target | ${head.join(" | ")} |`, `|---|---|${sections.map(() => "---|").join("")}`, ...rows];
}

/** A results.md from before the sections: one section, of the Node.js its first "Node vX.Y.Z" names. */
function legacy(text: string): Section[] {
  const version = /Node (v\d+\.\d+\.\d+)/.exec(text)?.[1];
  if (version === undefined) return [];
  return [{ major: majorOf(version), version, ...parts(text.replace(/^# Benchmark results\n/, "")) }];
}

/** A section's text cut where the PROXY protocol part starts. */
function parts(body: string): { resolver: string; proxyProtocol: string } {
  const at = body.search(PROXY_HEADING);
  return { resolver: (at === -1 ? body : body.slice(0, at)).trim(), proxyProtocol: at === -1 ? "" : body.slice(at).trim() };
}

/** Every heading one level deeper, and back. */
const deeper = (markdown: string) => markdown.replace(/^#/gm, "##");
const shallower = (markdown: string) => markdown.replace(/^##/gm, "#");
