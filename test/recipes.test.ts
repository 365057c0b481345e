// docs/recipes/ holds one page per front, and every proxy configuration in it is one source with the end-to-end
// suites: each block marked ```<lang> recipe=NAME is compared here with the configuration the suites start, as
// the harness generates it (test/e2e/proxies.ts, presets.ts, browser-origins.ts). The rule, stated once:
//
//   - The harness config is generated with the placeholders the recipes show: the front listens on port 8080
//     (443 for a TLS front), the gateway on 18789, the TLS site is gw.example.com (the harness's gw.test) with
//     its certificate at /etc/ssl/gw.example.com.crt and its key at /etc/ssl/private/gw.example.com.key.
//   - `whole`: the recipe is the whole config, less every line that names the suite's temp folder (its pid file,
//     logs, temp paths, ServerRoot...): the page says to add "the paths of your installation" instead.
//   - `block`: the recipe is the one brace block of the config that opens with the given line and holds the
//     given line (the gateway's server or site block; the other is the suite's cross-site page), dedented.
//   - Everything else is compared line for line: a changed proxy_set_header, option or directive in the harness
//     fails here until the recipe says the same.
//
// Traefik, cloudflared and Tailscale Serve are not installable where the suites run; their pages quote the
// front's documentation (```<lang> from-docs=NAME, with its URL and "not run here"). For them this checks that
// the quoted configuration is the one their shaped fixtures' provenance names, and that the headers the page says
// arrive (```http fixture=PATH) are the fixture's own lines. On every page, the gateway's options
// (`createResolver({...})` in a ```js block) parse, make a resolver, name the front's preset (Apache: loopback,
// no preset), agree with the README's Fronts table, and give the answer every fixture the page cites expects.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import type { Fixture } from "../src/cli/fixture.js";
import { type ResolverOptions, createResolver } from "../src/core/index.js";
import { PROXY_HEADERS, X_FORWARDED_PREFIX } from "../src/core/proxy-headers.js";
import { type Certificates, proxySpec } from "./e2e/browser-origins.js";
import { TOPOLOGIES } from "./e2e/presets.js";
import { PROXIES, type ProxySpec } from "./e2e/proxies.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const RECIPES = path.join(ROOT, "docs", "recipes");
const FIXTURES = path.join(ROOT, "fixtures");

// ---------------------------------------------------------------------------------------------------------
// The harness's configs, with the recipes' placeholders

/** The suite's temp folder, as the harness would be given it: every line naming it is left out of a recipe. */
const TEMP = "/clientaddr-recipes-temp-folder";
const HOP = { port: 8080, upstream: 18789 };
const TLS_HOP = { port: 443, upstream: 18789 };
const HARNESS_NAME = "gw.test";
const RECIPE_NAME = "gw.example.com";
const CERTS: Certificates = {
  dir: "/clientaddr-recipes-certs",
  cert: (name) => `/etc/ssl/${name}.crt`,
  key: (name) => `/etc/ssl/private/${name}.key`,
  spki: [],
  text: "",
  remove: () => undefined,
};

interface HarnessConfig {
  /** Where the suites take it from, for failure messages. */
  source: string;
  spec: ProxySpec;
  hop: typeof HOP;
  part: { kind: "whole" } | { kind: "block"; opens: string; holds: string };
}

const HARNESS: Record<string, HarnessConfig> = {
  nginx: { source: "test/e2e/presets.ts TOPOLOGIES.nginx", spec: TOPOLOGIES.nginx.proxy, hop: HOP, part: { kind: "whole" } },
  "nginx-tls": {
    source: 'test/e2e/browser-origins.ts proxySpec("nginx-tls-http-host")',
    spec: proxySpec("nginx-tls-http-host", CERTS),
    hop: TLS_HOP,
    part: { kind: "block", opens: "server {", holds: `server_name ${RECIPE_NAME};` },
  },
  caddy: { source: "test/e2e/proxies.ts PROXIES.caddy", spec: PROXIES.caddy, hop: HOP, part: { kind: "whole" } },
  "caddy-tls": {
    source: 'test/e2e/browser-origins.ts proxySpec("caddy-tls")',
    spec: proxySpec("caddy-tls", CERTS),
    hop: TLS_HOP,
    part: { kind: "block", opens: `https://${RECIPE_NAME}:${TLS_HOP.port} {`, holds: "reverse_proxy 127.0.0.1:18789" },
  },
  haproxy: { source: "test/e2e/proxies.ts PROXIES.haproxyForwardfor", spec: PROXIES.haproxyForwardfor, hop: HOP, part: { kind: "whole" } },
  apache: { source: "test/e2e/proxies.ts PROXIES.apache", spec: PROXIES.apache, hop: HOP, part: { kind: "whole" } },
};

/** The harness config as a recipe shows it, and how many lines naming the temp folder were left out. */
function expectedRecipe(harness: HarnessConfig): { text: string; dropped: number } {
  const lines = harness.spec.config(TEMP, harness.hop).replaceAll(HARNESS_NAME, RECIPE_NAME).split("\n");
  if (harness.part.kind === "whole") {
    const kept = lines.filter((line) => !line.includes(TEMP));
    return { text: trimBlankEnds(kept).join("\n"), dropped: lines.length - kept.length };
  }
  const { opens, holds } = harness.part;
  const found = braceBlocks(lines).filter((block) => block[0]!.trim() === opens && block.some((line) => line.trim() === holds));
  if (found.length !== 1) throw new Error(`${harness.source}: ${found.length} blocks open with "${opens}" and hold "${holds}", expected 1`);
  const block = found[0]!;
  const indent = /^ */.exec(block[0]!)![0].length;
  return { text: block.map((line) => line.slice(Math.min(indent, /^ */.exec(line)![0].length))).join("\n"), dropped: 0 };
}

/** Every run of lines from one that ends with "{" to the line that closes it, braces counted per character. */
function braceBlocks(lines: readonly string[]): string[][] {
  const blocks: string[][] = [];
  lines.forEach((line, start) => {
    if (!line.trimEnd().endsWith("{")) return;
    let depth = 0;
    for (let end = start; end < lines.length; end++) {
      for (const char of lines[end]!) depth += char === "{" ? 1 : char === "}" ? -1 : 0;
      if (depth === 0) {
        blocks.push(lines.slice(start, end + 1));
        return;
      }
    }
  });
  return blocks;
}

function trimBlankEnds(lines: string[]): string[] {
  let start = 0;
  let end = lines.length;
  while (start < end && lines[start]!.trim() === "") start++;
  while (end > start && lines[end - 1]!.trim() === "") end--;
  return lines.slice(start, end);
}

// ---------------------------------------------------------------------------------------------------------
// The pages

interface Fence {
  lang: string;
  attrs: Record<string, string>;
  body: string;
}

interface Page {
  name: string;
  file: string;
  text: string;
  fences: Fence[];
}

/** The pages this test holds: one per front the README's table names besides Docker and the TCP balancer. */
const FRONT_PAGES = ["nginx", "caddy", "haproxy", "apache", "traefik", "cloudflared", "tailscale-serve"] as const;
type FrontPage = (typeof FRONT_PAGES)[number];

/** The gateway's options each page must show: its preset, or Apache's loopback without one. */
const OPTIONS: Record<FrontPage, { preset?: string; trustedProxies?: string[]; readme: string }> = {
  nginx: { preset: "nginx", readme: 'preset: "nginx"' },
  caddy: { preset: "caddy", readme: 'preset: "caddy"' },
  haproxy: { preset: "haproxy", readme: 'preset: "haproxy"' },
  apache: { trustedProxies: ["loopback"], readme: 'trustedProxies: ["loopback"]' },
  traefik: { preset: "traefik", readme: 'preset: "traefik"' },
  cloudflared: { preset: "cloudflared", readme: 'preset: "cloudflared"' },
  "tailscale-serve": { preset: "tailscale-serve", readme: 'preset: "tailscale-serve"' },
};

/** Which harness configs each page shows; the others quote their documentation. */
const RECIPE_BLOCKS: Record<FrontPage, string[]> = {
  nginx: ["nginx", "nginx-tls"],
  caddy: ["caddy", "caddy-tls"],
  haproxy: ["haproxy"],
  apache: ["apache"],
  traefik: [],
  cloudflared: [],
  "tailscale-serve": [],
};

/**
 * For the fronts not run here: each quoted configuration block, the facts in it that the named shaped fixture's
 * provenance states the fixture was shaped after (so the page's configuration and the fixture's are one).
 */
const FROM_DOCS: Record<string, { page: FrontPage; fixture: string; facts: string[] }> = {
  "traefik-static": { page: "traefik", fixture: "hand-written/presets/traefik-dashboard-websocket.json", facts: ["127.0.0.1:8080"] },
  "traefik-dynamic": { page: "traefik", fixture: "hand-written/presets/traefik-dashboard-websocket.json", facts: ["PathPrefix(`/`)", "http://127.0.0.1:18789"] },
  cloudflared: { page: "cloudflared", fixture: "hand-written/presets/cloudflared-preset-dashboard-websocket.json", facts: ["service: http://127.0.0.1:18789"] },
  "tailscale-serve": { page: "tailscale-serve", fixture: "hand-written/presets/tailscale-serve-preset-dashboard-websocket.json", facts: ["tailscale serve 18789"] },
};

function fences(text: string): Fence[] {
  return [...text.matchAll(/^```(\S*)([^\n]*)\n([\s\S]*?)^```$/gm)].map((match) => ({
    lang: match[1]!,
    attrs: Object.fromEntries([...match[2]!.matchAll(/([\w-]+)=(\S+)/g)].map((attr) => [attr[1]!, attr[2]!])),
    body: match[3]!.replace(/\n$/, ""),
  }));
}

function readPage(name: string): Page {
  const file = path.join(RECIPES, `${name}.md`);
  const text = readFileSync(file, "utf8");
  return { name, file: path.relative(ROOT, file), text, fences: fences(text) };
}

const ALL_PAGES = readdirSync(RECIPES)
  .filter((name) => name.endsWith(".md"))
  .map((name) => name.slice(0, -3))
  .sort();

function readFixture(relative: string): Fixture {
  return JSON.parse(readFileSync(path.join(FIXTURES, relative), "utf8")) as Fixture;
}

/** Every fixture file under fixtures/, relative to it. */
const FIXTURE_FILES = readdirSync(FIXTURES, { recursive: true, encoding: "utf8" }).filter((name) => name.endsWith(".json") && !name.endsWith("schema.json"));

/** The fixtures a page names: `fixtures/<path>.json`, or a bare `<name>.json` found exactly once under fixtures/. */
function citedFixtures(page: Page): { cited: string; file: string | undefined }[] {
  const names = new Set([...page.text.matchAll(/`((?:fixtures\/)?[\w./-]+\.json)`/g)].map((match) => match[1]!));
  return [...names].map((cited) => {
    if (cited.startsWith("fixtures/")) {
      const relative = cited.slice("fixtures/".length);
      return { cited, file: FIXTURE_FILES.includes(relative) ? relative : undefined };
    }
    const matches = FIXTURE_FILES.filter((file) => path.basename(file) === cited);
    return { cited, file: matches.length === 1 ? matches[0] : undefined };
  });
}

/** The page's createResolver({...}) calls in its ```js blocks: each block must parse, each argument evaluates. */
function resolverOptions(page: Page): ResolverOptions[] {
  const found: ResolverOptions[] = [];
  for (const fence of page.fences.filter((f) => f.lang === "js")) {
    const { diagnostics } = ts.transpileModule(fence.body, { reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, allowJs: true } });
    expect(diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")), `${page.file}: a js block does not parse:\n${fence.body}`).toEqual([]);
    const source = ts.createSourceFile("snippet.js", fence.body, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && node.expression.getText(source) === "createResolver") {
        expect(node.arguments.length, `${page.file}: ${node.getText(source)}`).toBe(1);
        found.push(new Function(`return (${node.arguments[0]!.getText(source)});`)() as ResolverOptions);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

/** The headers a fixture's request carries, as [name, value] in wire order. */
function fixtureLines(fixture: Fixture): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  for (let i = 0; i < fixture.request.rawHeaders.length; i += 2) lines.push([fixture.request.rawHeaders[i]!, fixture.request.rawHeaders[i + 1]!]);
  return lines;
}

/** Host, Origin and every header of the proxy-header table (the X-Forwarded-* prefix row included). */
function isForwardingLine(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === "host" || lower === "origin" || lower.startsWith(X_FORWARDED_PREFIX) || PROXY_HEADERS.some((row) => row.name === lower);
}

/** Whether the page's options judge as the fixture's did: the same preset, the same trust, nothing else that changes an answer. */
function sameJudgement(fixture: Fixture, options: ResolverOptions): boolean {
  const given = fixture.options;
  if (given.header !== undefined || given.maxHops !== undefined || given.localHosts !== undefined || given.localOrigins !== undefined) return false;
  if ((given.preset ?? undefined) !== (options.preset ?? undefined)) return false;
  const trusted = (list: readonly string[] | undefined) => JSON.stringify([...(list ?? [])].sort());
  return trusted(given.trustedProxies) === trusted(options.trustedProxies as readonly string[] | undefined);
}

// ---------------------------------------------------------------------------------------------------------

describe("docs/recipes: one page per front", () => {
  it("has a page for every front, besides docker.md and tcp-balancer.md", () => {
    expect(ALL_PAGES).toEqual([...FRONT_PAGES, "docker", "tcp-balancer"].sort());
  });

  it.each(ALL_PAGES)("%s.md links every other page, and its relative links resolve", (name) => {
    const page = readPage(name);
    const links = [...page.text.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z]+:/.test(target));
    for (const link of links) expect(existsSync(path.resolve(RECIPES, link.split("#")[0]!)), `${page.file}: link ${link}`).toBe(true);
    for (const other of ALL_PAGES.filter((other) => other !== name)) expect(links, `${page.file} links ${other}.md`).toContain(`${other}.md`);
  });

  it("the README's Fronts table links each page from the row that names the same options", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Fronts"), readme.indexOf("\n## ", readme.indexOf("## Fronts") + 1));
    const rows = section.split("\n").filter((line) => line.startsWith("| "));
    for (const name of FRONT_PAGES) {
      const linking = rows.filter((row) => row.includes(`](docs/recipes/${name}.md)`));
      expect(linking.length, `rows linking docs/recipes/${name}.md`).toBeGreaterThan(0);
      for (const row of linking) expect(row, `the row linking ${name}.md`).toContain(OPTIONS[name].readme);
    }
    for (const name of ["docker", "tcp-balancer"]) expect(section).toContain(`](docs/recipes/${name}.md)`);
  });
});

describe.each(FRONT_PAGES)("docs/recipes/%s.md", (name) => {
  const page = readPage(name);

  it("shows the gateway's options once: they parse, make a resolver and name the front's preset", () => {
    const all = resolverOptions(page);
    expect(all, `${page.file}: createResolver({...}) calls in its js blocks`).toHaveLength(1);
    const options = all[0]!;
    expect(() => createResolver(options)).not.toThrow();
    const want = OPTIONS[name];
    expect(options.preset, `${page.file}: preset`).toBe(want.preset);
    if (want.trustedProxies !== undefined) expect(options.trustedProxies).toEqual(want.trustedProxies);
  });

  it("marks no js block as a runnable example (test/e2e/snippets.e2e.test.ts would start it)", () => {
    expect(page.fences.filter((fence) => fence.attrs.example !== undefined).map((fence) => fence.attrs.example)).toEqual([]);
  });

  it("marks exactly the harness configs it shows as recipe= blocks", () => {
    expect(page.fences.filter((fence) => fence.attrs.recipe !== undefined).map((fence) => fence.attrs.recipe)).toEqual(RECIPE_BLOCKS[name]);
  });

  for (const recipe of RECIPE_BLOCKS[name]) {
    it(`recipe=${recipe} is the configuration the end-to-end suites start (${HARNESS[recipe]!.source})`, () => {
      const harness = HARNESS[recipe]!;
      const { text, dropped } = expectedRecipe(harness);
      const block = page.fences.find((fence) => fence.attrs.recipe === recipe);
      expect(block?.body, `${page.file} recipe=${recipe} against ${harness.source}`).toBe(text);
      if (dropped > 0) expect(page.text.replace(/\s+/g, " "), `${page.file} says which lines it leaves out`).toContain("plus the paths of your installation");
    });
  }

  it("names fixtures that exist, and each one judged as the page's options judge gives its expected answer", () => {
    const options = resolverOptions(page)[0]!;
    const resolver = createResolver(options);
    let replayed = 0;
    for (const { cited, file } of citedFixtures(page)) {
      expect(file, `${page.file} names ${cited}: no such fixture (or a bare name found twice)`).toBeDefined();
      const fixture = readFixture(file!);
      if (!sameJudgement(fixture, options)) continue;
      const { request, expected } = fixture;
      const got = resolver.resolve({ remoteAddress: request.peer?.address, declaredSource: request.declaredSource, headers: request.rawHeaders, secure: request.secure });
      for (const key of ["address", "loopbackEquivalent", "basis", "attribution", "preset"] as const) {
        if (expected[key] !== undefined) expect(got[key], `${file}: ${key}, with ${page.file}'s options`).toBe(expected[key]);
      }
      replayed++;
    }
    expect(replayed, `${page.file}: fixtures replayed with its own options`).toBeGreaterThan(0);
  });

  if (RECIPE_BLOCKS[name].length === 0) {
    it("quotes the front's documentation (its URL, not run here), the configuration its shaped fixtures were shaped after", () => {
      const quoted = page.fences.filter((fence) => fence.attrs["from-docs"] !== undefined);
      const expected = Object.entries(FROM_DOCS).filter(([, entry]) => entry.page === name);
      expect(quoted.map((fence) => fence.attrs["from-docs"])).toEqual(expected.map(([block]) => block));
      expect(page.text).toMatch(/not run here/);
      expect(page.text).toMatch(/https:\/\/(doc\.traefik\.io|developers\.cloudflare\.com|tailscale\.com)\//);
      for (const [block, { fixture, facts }] of expected) {
        const body = quoted.find((fence) => fence.attrs["from-docs"] === block)!.body;
        const provenance = readFixture(fixture).provenance.source;
        for (const fact of facts) {
          expect(body, `${page.file} from-docs=${block}`).toContain(fact);
          expect(provenance, `${fixture}'s provenance`).toContain(fact);
        }
      }
    });

    it("says what arrives as the lines its shaped fixture carries: every forwarding line, in the fixture's order", () => {
      const blocks = page.fences.filter((fence) => fence.attrs.fixture !== undefined);
      expect(blocks).toHaveLength(1);
      const fixture = readFixture(blocks[0]!.attrs.fixture!);
      const shown = blocks[0]!.body.split("\n").map((line) => {
        const colon = line.indexOf(": ");
        expect(colon, `${page.file}: "${line}" is not "Name: value"`).toBeGreaterThan(0);
        return [line.slice(0, colon), line.slice(colon + 2)] as [string, string];
      });
      const carried = fixtureLines(fixture);
      // Shown lines are the fixture's, in its order (names as it spells them, values exactly).
      let at = 0;
      for (const [header, value] of shown) {
        const index = carried.findIndex(([n, v], i) => i >= at && n === header && v === value);
        expect(index, `${page.file}: "${header}: ${value}" is not in ${blocks[0]!.attrs.fixture} (after the lines before it)`).toBeGreaterThanOrEqual(0);
        at = index + 1;
      }
      // And none of the fixture's forwarding lines is left out.
      const key = ([n, v]: [string, string]) => `${n.toLowerCase()}: ${v}`;
      expect(shown.map(key)).toEqual(expect.arrayContaining(carried.filter(([n]) => isForwardingLine(n)).map(key)));
    });
  } else {
    it("quotes no configuration from documentation: the suites run it", () => {
      expect(page.fences.filter((fence) => fence.attrs["from-docs"] !== undefined || fence.attrs.fixture !== undefined)).toEqual([]);
    });
  }
});

describe("the harness the recipes follow", () => {
  it("the presets' Caddy and HAProxy are the proxies suite's own (one source for those two recipes)", () => {
    expect(TOPOLOGIES.caddy.proxy).toBe(PROXIES.caddy);
    expect(TOPOLOGIES.haproxy.proxy).toBe(PROXIES.haproxyForwardfor);
  });

  it("each whole config leaves out only lines naming the temp folder, and the placeholders are used", () => {
    for (const [recipe, harness] of Object.entries(HARNESS)) {
      const { text } = expectedRecipe(harness);
      expect(text, recipe).not.toContain(TEMP);
      expect(text, recipe).toContain(String(harness.hop.upstream));
      expect(text, recipe).toContain(String(harness.hop.port));
    }
  });
});
