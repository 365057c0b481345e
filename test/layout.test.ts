// The tree shows the architecture: the rules live in src/core and import nothing else of ours; the DNS edge,
// the adapters, the PROXY protocol listener and the command line import the rules, never the other way round
// (the command line only through the package's entry points, as a user would); the root entry, src/index.ts,
// is the rules and the DNS edge; importing `clientaddr` loads no adapter and no framework, so a user of the
// core installs none of them.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Every module specifier the file imports or re-exports, statically or dynamically. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)].map((match) => match[1]!);
}

/** The top folder under src/ (core, dns, adapters, proxy-protocol, cli) that a file lives in; "index.ts" for the root entry. */
function layer(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0]!;
}

/** For each source file, the layers of the files of ours it imports, and the packages it imports. */
function graph(): Array<{ file: string; ours: string[]; packages: string[] }> {
  const files = readdirSync(SRC, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => path.join(SRC, name));
  return files.map((file) => {
    const ours: string[] = [];
    const packages: string[] = [];
    for (const specifier of specifiers(file)) {
      if (specifier.startsWith(".")) ours.push(path.resolve(path.dirname(file), specifier.replace(/\.js$/, ".ts")));
      else packages.push(specifier);
    }
    return { file, ours, packages };
  });
}

describe("layout", () => {
  it("src holds the root entry and five folders, nothing else: core, dns, adapters, proxy-protocol, cli", () => {
    expect(readdirSync(SRC).sort()).toEqual(["adapters", "cli", "core", "dns", "index.ts", "proxy-protocol"]);
  });

  it("the root entry re-exports the rules' public entry and the DNS edge's, and nothing else", () => {
    const [root] = graph().filter(({ file }) => layer(file) === "index.ts");
    expect(root!.ours.map((target) => path.relative(SRC, target)).sort()).toEqual([path.join("core", "index.ts"), path.join("dns", "index.ts")]);
    expect(root!.packages).toEqual([]);
  });

  it("the DNS edge imports the rules through their public entry and itself, and Node's own, nothing else", () => {
    const dns = graph().filter(({ file }) => layer(file) === "dns");
    expect(dns.length).toBeGreaterThan(1);
    for (const { file, ours, packages } of dns) {
      expect(ours.filter((target) => layer(target) !== "dns" && !(layer(target) === "core" && path.basename(target) === "index.ts")), file).toEqual([]);
      expect(packages.filter((name) => !name.startsWith("node:")), file).toEqual([]);
    }
  });

  it("the rules in src/core import nothing of ours outside src/core, and no package but forwarded-parse and Node's own", () => {
    const core = graph().filter(({ file }) => layer(file) === "core");
    expect(core.length).toBeGreaterThan(5);
    for (const { file, ours, packages } of core) {
      expect(ours.map(layer), file).toEqual(ours.map(() => "core"));
      expect(packages.filter((name) => !name.startsWith("node:") && name !== "forwarded-parse"), file).toEqual([]);
    }
  });

  it("the adapters import the rules and each other, never the command line or the PROXY protocol listener", () => {
    for (const { file, ours } of graph().filter(({ file }) => layer(file) === "adapters")) {
      expect(ours.filter((target) => layer(target) === "cli" || layer(target) === "proxy-protocol"), file).toEqual([]);
      // The rules through their public entry only: an adapter uses what a user could.
      expect(ours.filter((target) => layer(target) === "core" && path.basename(target) !== "index.ts"), file).toEqual([]);
    }
  });

  it("the PROXY protocol listener imports the rules through their public entry and itself, and Node's own, nothing else", () => {
    const listener = graph().filter(({ file }) => layer(file) === "proxy-protocol");
    expect(listener.length).toBeGreaterThan(1);
    for (const { file, ours, packages } of listener) {
      expect(ours.filter((target) => layer(target) !== "proxy-protocol" && !(layer(target) === "core" && path.basename(target) === "index.ts")), file).toEqual([]);
      expect(packages.filter((name) => !name.startsWith("node:")), file).toEqual([]);
    }
  });

  it("the command line imports the rules and itself, never an adapter", () => {
    for (const { file, ours } of graph().filter(({ file }) => layer(file) === "cli")) {
      expect(ours.filter((target) => layer(target) === "adapters"), file).toEqual([]);
    }
  });

  it("the command line imports of our code only what the package's entry points export, and its own files", () => {
    // The entry points are the files package.json's "exports" name (dist/X.js built from src/X.ts): the command line
    // uses what a user of the package could, so a helper it needs must first become public, under one name.
    const { exports } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      exports: Record<string, string | { import: { default: string } }>;
    };
    const entries = Object.values(exports).flatMap((target) =>
      typeof target === "string" ? [] : [path.join(SRC, path.relative("dist", target.import.default).replace(/\.js$/, ".ts"))],
    );
    expect(entries.map((file) => path.relative(SRC, file)).sort()).toEqual([
      path.join("adapters", "express", "index.ts"),
      path.join("adapters", "fastify", "index.ts"),
      path.join("adapters", "hono", "index.ts"),
      path.join("adapters", "node", "index.ts"),
      "index.ts",
      path.join("proxy-protocol", "index.ts"),
    ]);
    const cli = graph().filter(({ file }) => layer(file) === "cli");
    expect(cli.length).toBeGreaterThan(3);
    for (const { file, ours } of cli) {
      expect(ours.filter((target) => layer(target) !== "cli" && !entries.includes(target)), file).toEqual([]);
    }
  });

  it("every file of ours that is imported exists (the graph above is not empty by mistake)", () => {
    const all = graph();
    const known = new Set(all.map(({ file }) => file));
    for (const { file, ours } of all) for (const target of ours) expect(known.has(target), `${file} -> ${target}`).toBe(true);
  });
});
