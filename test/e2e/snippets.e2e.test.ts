// Every code block marked as an example in README.md and docs/ (```js example=NAME) runs as a user would run it:
// in an empty project holding the packed tarball and only the packages the page's `npm install clientaddr ...`
// line before the block names (at the versions this repository tests; a block with no such line gets the
// packages it imports), written to a file, started with `node` in the foreground on a free port, sent a plain
// request and a WebSocket upgrade from a local page and from a cross-site page, its answers checked, and
// stopped by its pid. A package the snippet needs but the install line leaves out fails here, as it would for
// the user. The package must be built first (`npm run test:e2e` does).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { request } from "node:http";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { tryKill } from "./processes.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OUT = mkdtempSync(path.join(tmpdir(), "clientaddr-snippets-"));

interface Snippet {
  name: string;
  code: string;
  file: string;
  /** What the user installs beside clientaddr: the page's install line before the block, else the block's imports. */
  installs: string[];
  /** Whether `installs` came from the page's own install line. */
  named: boolean;
}

/** The package a bare import specifier names (`@scope/name/sub` is `@scope/name`), or undefined for node: and relative ones. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith("node:") || specifier.startsWith(".") || specifier.startsWith("/")) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** The packages a snippet imports, clientaddr aside. */
function imported(code: string): string[] {
  const specifiers = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)"([^"]+)"/g)].map((match) => packageOf(match[1]!));
  return [...new Set(specifiers.filter((name): name is string => name !== undefined && name !== "clientaddr"))].sort();
}

/** The example blocks of a markdown file, each with the last `npm install clientaddr ...` line before it (if any, since the previous block). */
function examples(file: string): Snippet[] {
  const text = readFileSync(file, "utf8");
  let previousEnd = 0;
  return [...text.matchAll(/^```js example=([\w-]+)\n([\s\S]*?)^```$/gm)].map((match) => {
    const before = text.slice(previousEnd, match.index);
    previousEnd = match.index! + match[0].length;
    const lines = [...before.matchAll(/npm install clientaddr((?: [@\w./-]+)*)/g)];
    const line = lines.at(-1)?.[1];
    const code = match[2]!;
    const installs = line === undefined ? imported(code) : line.trim().split(/\s+/).filter(Boolean).sort();
    return { name: match[1]!, code, file: path.relative(ROOT, file), installs, named: line !== undefined };
  });
}

/** The version of a package this repository tests with (its node_modules). */
function testedVersion(name: string): string {
  return (JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
}

/** The packed tarball, as `npm pack` makes it (from the build already in dist/). */
function packTarball(): string {
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", OUT], { cwd: ROOT, encoding: "utf8" });
  return path.join(OUT, out.trim().split("\n").at(-1)!);
}

/** An empty project holding the tarball and exactly `installs`. */
function scratchProject(name: string, tarball: string, installs: readonly string[]): string {
  const dir = path.join(OUT, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: `snippet-${name}`, private: true }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", tarball, ...installs.map((pkg) => `${pkg}@${testedVersion(pkg)}`)], {
    cwd: dir,
    stdio: "pipe",
    timeout: 110_000,
  });
  return dir;
}

function markdownFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".md"))
    .map((name) => path.join(folder, name));
}

const SNIPPETS = [path.join(ROOT, "README.md"), ...markdownFiles(path.join(ROOT, "docs"))].flatMap(examples);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once something accepts connections on the port. */
async function listening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the example exited (${child.exitCode}) before it listened:\n${output()}`);
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => resolve(true)).on("error", () => resolve(false));
      socket.once("connect", () => socket.destroy());
    });
    if (connected) return;
    if (performance.now() > deadline) throw new Error(`the example did not listen on ${port} within 20 s:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/", headers: { host: `127.0.0.1:${port}` } }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk)).on("end", () => resolve({ status: res.statusCode!, body }));
    })
      .on("error", reject)
      .end();
  });
}

/** What a WebSocket opened from `origin` gets: its first message, its close code, or the HTTP status that refused it. */
function websocket(port: number, origin: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { origin, handshakeTimeout: 10_000 });
    ws.on("message", (data) => {
      resolve(`message ${String(data)}`);
      ws.close();
    });
    ws.on("close", (code) => resolve(`close ${code}`));
    ws.on("unexpected-response", (_req, res) => {
      resolve(`http ${res.statusCode}`);
      ws.terminate();
    });
    ws.on("error", (error) => resolve(`error ${error.message}`));
  });
}

/**
 * Upgrades from `origin`, then sends an unmasked close frame, which a client must never send (RFC 6455 section
 * 5.1): resolves once the server has closed the connection, or after 5 s.
 */
function unmaskedFrame(port: number, origin: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const timer = setTimeout(() => socket.destroy(), 5_000);
    let upgraded = false;
    socket.on("connect", () =>
      socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`),
    );
    socket.on("data", (chunk: Buffer) => {
      if (upgraded || !chunk.includes("\r\n\r\n")) return;
      upgraded = true;
      socket.write(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe("the examples in README.md and docs/ run as written", () => {
  const children: ChildProcess[] = [];
  let tarball: string | undefined;
  afterAll(() => {
    for (const child of children) tryKill(child.pid, "SIGKILL");
    rmSync(OUT, { recursive: true, force: true });
  });

  it("there are examples to run: the quick start and one per framework", () => {
    expect(SNIPPETS.map((snippet) => snippet.name).sort()).toEqual(expect.arrayContaining(["express", "fastify", "hono", "quick-start"]));
    expect(new Set(SNIPPETS.map((snippet) => snippet.name)).size).toBe(SNIPPETS.length);
  });

  it("each README example follows the line that installs what it imports, and nothing more", () => {
    for (const snippet of SNIPPETS.filter((s) => s.file === "README.md")) {
      expect(snippet.named, `${snippet.name}: an "npm install clientaddr ..." line before it`).toBe(true);
      expect(snippet.installs, snippet.name).toEqual(imported(snippet.code));
    }
  });

  it.each(SNIPPETS.map((snippet) => [`${snippet.file}: ${snippet.name}`, snippet] as const))("%s: answers a local page and refuses a cross-site one", async (_, snippet) => {
    tarball ??= packTarball();
    const dir = scratchProject(snippet.name, tarball, snippet.installs);
    const file = path.join(dir, "app.mjs");
    writeFileSync(file, snippet.code);
    const port = await freePort();
    let output = "";
    const child = spawn(process.execPath, [file], { cwd: dir, env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    try {
      await listening(port, child, () => output);
      const page = await get(port);
      expect(page.status, output).toBe(200);
      expect(page.body, output).toContain("127.0.0.1");
      // The gateway's own page on this machine is local: greeted by its address.
      expect(await websocket(port, `http://127.0.0.1:${port}`), output).toBe("message hello 127.0.0.1");
      // A page on another site opening a WebSocket to it is not.
      expect(await websocket(port, "https://evil.example"), output).toMatch(/^(close 1008|http 403)$/);
      // A bad frame, admitted or refused, ends that connection, not the server.
      await unmaskedFrame(port, `http://127.0.0.1:${port}`);
      await unmaskedFrame(port, "https://evil.example");
      expect((await get(port)).status, output).toBe(200);
      expect(child.exitCode, output).toBeNull();
    } finally {
      tryKill(child.pid, "SIGTERM");
    }
  });
});
