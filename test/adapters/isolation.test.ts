// Importing `clientaddr` must load no adapter and no framework: a user of the core installs none of them.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

/** Every module specifier the file at `url` imports or re-exports, statically or dynamically. */
function specifiers(url: URL): string[] {
  const text = readFileSync(fileURLToPath(url), "utf8");
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)].map((match) => match[1]!);
}

it("the root entry's import graph reaches no adapter and no package but forwarded-parse and Node's own", () => {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [new URL("../../src/index.ts", import.meta.url)];
  for (let url = queue.pop(); url !== undefined; url = queue.pop()) {
    if (seen.has(url.href)) continue;
    seen.add(url.href);
    for (const specifier of specifiers(url)) {
      if (specifier.startsWith(".")) queue.push(new URL(specifier.replace(/\.js$/, ".ts"), url));
      else packages.add(specifier);
    }
  }
  const files = [...seen].map((href) => fileURLToPath(href));
  expect(files.length).toBeGreaterThan(5);
  expect(files.filter((file) => file.includes("/adapters/"))).toEqual([]);
  expect([...packages].filter((name) => !name.startsWith("node:"))).toEqual(["forwarded-parse"]);
});
