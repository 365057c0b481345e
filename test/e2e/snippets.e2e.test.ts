// Every code block marked as an example in README.md and docs/ (```js example=NAME) runs as a user would run it:
// written to a file inside this package (so that `import "clientaddr"` resolves to the built package through its
// own exports, and the frameworks from its node_modules), started with `node` in the foreground on a free port,
// sent a plain request and a WebSocket upgrade from a local page and from a cross-site page, its answers
// checked, and stopped by its pid.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { tryKill } from "./processes.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OUT = path.join(ROOT, "test-output", "snippets");

/** The example blocks of a markdown file: name and code. */
function examples(file: string): Array<{ name: string; code: string; file: string }> {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^```js example=([\w-]+)\n([\s\S]*?)^```$/gm)].map((match) => ({ name: match[1]!, code: match[2]!, file: path.relative(ROOT, file) }));
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
  afterAll(() => {
    for (const child of children) tryKill(child.pid, "SIGKILL");
    rmSync(OUT, { recursive: true, force: true });
  });

  it("there are examples to run: the quick start and one per framework", () => {
    expect(SNIPPETS.map((snippet) => snippet.name).sort()).toEqual(expect.arrayContaining(["express", "fastify", "hono", "quick-start"]));
    expect(new Set(SNIPPETS.map((snippet) => snippet.name)).size).toBe(SNIPPETS.length);
  });

  it.each(SNIPPETS.map((snippet) => [`${snippet.file}: ${snippet.name}`, snippet] as const))("%s: answers a local page and refuses a cross-site one", async (_, snippet) => {
    mkdirSync(OUT, { recursive: true });
    const file = path.join(OUT, `${snippet.name}.mjs`);
    writeFileSync(file, snippet.code);
    const port = await freePort();
    let output = "";
    const child = spawn(process.execPath, [file], { cwd: ROOT, env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] });
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
