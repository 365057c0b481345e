// bench/results.md keeps one section for each Node.js major measured (bench/report.ts), in the bench order of
// scripts/node-versions.txt (bench/node-versions.ts), with every section's checks side by side above them.
import { describe, expect, it } from "vitest";
import { benchMajors, loadNodeVersions, parseNodeVersions } from "../bench/node-versions.js";
import { parseResults, renderResults, sectionChecks, withPart } from "../bench/report.js";

const checks = (...rows: string[]) => ["| check | measured | target | met |", "|---|---|---|---|", ...rows].join("\n");

/** bench/results.md as bench/run.ts and bench/proxy-protocol.ts wrote it before the sections. */
const LEGACY = [
  "# Benchmark results",
  "",
  "Machine: AMD EPYC, 2 cores, 24 GiB; Node v20.20.2; 2026-12-06.",
  "",
  "| workload | proxy-addr | clientaddr |",
  "|---|---|---|",
  "| one hop | 1.13 µs | 177.2 ns |",
  "",
  checks("| one hop: speed-up over proxy-addr | 6.3x | ≥ 8x | **no** |", "| compiling 10,000 CIDRs | 18.1 ms | < 30 ms | yes |"),
  "",
  "## Frameworks",
  "",
  "### node:http: the server CPU resolveRequest adds to a request",
  "",
  checks("| Express: req.clientAddress vs req.ip | 0.774x | ≥ 0.97x | **no** |"),
  "",
  "## PROXY protocol (2026-12-06)",
  "",
  checks("| parse, v1 TCP4: speed-up over proxy-protocol-js | 3.1x | ≥ 2x | yes |"),
  "",
].join("\n");

const RESOLVER_24 = ["Machine: AMD EPYC, 2 cores, 24 GiB; Node v24.22.3; 2026-12-07.", "", checks("| one hop: speed-up over proxy-addr | 8.4x | ≥ 8x | yes |")].join("\n");
const PROXY_24 = ["## PROXY protocol (2026-12-07)", "", checks("| parse, v1 TCP4: speed-up over proxy-protocol-js | 1.9x | ≥ 2x | **no** |")].join("\n");

describe("bench/results.md", () => {
  it("reads a file from before the sections as the section of the Node.js it names, split where the PROXY protocol starts", () => {
    const [section, ...others] = parseResults(LEGACY);
    expect(others).toEqual([]);
    expect(section!.major).toBe(20);
    expect(section!.version).toBe("v20.20.2");
    expect(section!.resolver.startsWith("Machine: AMD EPYC")).toBe(true);
    expect(section!.resolver.endsWith("| Express: req.clientAddress vs req.ip | 0.774x | ≥ 0.97x | **no** |")).toBe(true);
    expect(section!.proxyProtocol.startsWith("## PROXY protocol (2026-12-06)")).toBe(true);
    expect(sectionChecks(section!).map((check) => [check.what, check.met])).toEqual([
      ["one hop: speed-up over proxy-addr", false],
      ["compiling 10,000 CIDRs", true],
      ["Express: req.clientAddress vs req.ip", false],
      ["parse, v1 TCP4: speed-up over proxy-protocol-js", true],
    ]);
  });

  it("shows the bench order's first major first and keeps the other's section as it was, every check side by side", () => {
    const text = withPart(LEGACY, "v24.22.3", "resolver", RESOLVER_24, [24, 20]);
    expect(text.indexOf("## Node.js v24.22.3")).toBeGreaterThan(0);
    expect(text.indexOf("## Node.js v24.22.3")).toBeLessThan(text.indexOf("## Node.js v20.20.2"));
    // One level deeper inside a section.
    expect(text).toContain("\n### Frameworks\n");
    expect(text).toContain("\n#### node:http: the server CPU resolveRequest adds to a request\n");
    expect(text).toContain("\n### PROXY protocol (2026-12-06)\n");
    expect(text).toContain("| check | target | Node.js v24.22.3 (2026-12-07) | Node.js v20.20.2 (2026-12-06) |\n|---|---|---|---|\n");
    expect(text).toContain("| one hop: speed-up over proxy-addr | ≥ 8x | 8.4x | 6.3x **no** |");
    expect(text).toContain("| parse, v1 TCP4: speed-up over proxy-protocol-js | ≥ 2x |  | 3.1x |");
    // Node 20's section reads back as it was written.
    const [first, second] = parseResults(text);
    expect(first).toEqual({ major: 24, version: "v24.22.3", resolver: RESOLVER_24, proxyProtocol: "" });
    expect(second).toEqual(parseResults(LEGACY)[0]);
  });

  it("replaces one part of one section: the other part, and the other sections, stay", () => {
    const resolver = withPart(LEGACY, "v24.22.3", "resolver", RESOLVER_24, [24, 20]);
    const both = withPart(resolver, "v24.22.3", "proxy-protocol", PROXY_24, [24, 20]);
    expect(parseResults(both)[0]).toEqual({ major: 24, version: "v24.22.3", resolver: RESOLVER_24, proxyProtocol: PROXY_24 });
    expect(both).toContain("| parse, v1 TCP4: speed-up over proxy-protocol-js | ≥ 2x | 1.9x **no** | 3.1x |");
    // A later release of the major takes the section's place; the part not measured again is kept.
    const later = withPart(both, "v24.23.0", "resolver", RESOLVER_24.replace("8.4x", "9.0x"), [24, 20]);
    const sections = parseResults(later);
    expect(sections.map((section) => section.version)).toEqual(["v24.23.0", "v20.20.2"]);
    expect(sections[0]!.proxyProtocol).toBe(PROXY_24);
    expect(later).toContain("| one hop: speed-up over proxy-addr | ≥ 8x | 9.0x | 6.3x **no** |");
    expect(sections[1]).toEqual(parseResults(LEGACY)[0]);
  });

  it("puts majors outside the bench order after it, newest first, and reads its own output back", () => {
    const sections = [20, 22, 24, 26].map((major) => ({ major, version: `v${major}.1.0`, resolver: `Machine: x; Node v${major}.1.0; 2026-12-0${major % 9}.`, proxyProtocol: "" }));
    const text = renderResults(sections, [24, 20]);
    expect(parseResults(text).map((section) => section.major)).toEqual([24, 20, 26, 22]);
    expect(renderResults(parseResults(text), [24, 20])).toBe(text);
  });
});

describe("scripts/node-versions.txt", () => {
  const row = (major: string, version: string, bench: string) => `${major} ${version} ${bench} sha512-AAAA== why it is here`;

  it("reads each row's major, release, bench position and reason, and the bench order", () => {
    const rows = parseNodeVersions(["# a comment", "", row("20", "20.20.2", "2"), row("22", "22.23.5", "-"), row("24", "24.22.3", "1")].join("\n"));
    expect(rows.map((r) => [r.major, r.version, r.bench, r.why])).toEqual([
      [20, "20.20.2", 2, "why it is here"],
      [22, "22.23.5", undefined, "why it is here"],
      [24, "24.22.3", 1, "why it is here"],
    ]);
    expect(benchMajors(rows)).toEqual([24, 20]);
  });

  it("refuses a release of another major, a major twice, a bench position twice and a row without its integrity", () => {
    expect(() => parseNodeVersions(row("22", "24.22.3", "-"))).toThrow(/24\.22\.3 is not Node\.js 22/);
    expect(() => parseNodeVersions([row("24", "24.22.3", "1"), row("24", "24.23.0", "-")].join("\n"))).toThrow(/two rows/);
    expect(() => parseNodeVersions([row("24", "24.22.3", "1"), row("20", "20.20.2", "1")].join("\n"))).toThrow(/position 1 is taken/);
    expect(() => parseNodeVersions("24 24.22.3 1 why")).toThrow(/expected/);
  });

  it("the table in the repository reads, and names what the benchmarks measure", () => {
    const rows = loadNodeVersions();
    expect(rows.length).toBeGreaterThan(0);
    expect(benchMajors(rows).length).toBeGreaterThan(0);
  });
});
