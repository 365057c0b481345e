// The root file system of the gateway image the real container engines run. There is no image registry, so
// the image is assembled here and imported (`docker import`, `podman import`): this machine's node binary and
// the shared libraries `ldd` lists for it, the packed clientaddr (what a user installs, CLI included), the
// packages the example gateway needs, copied from this repository's node_modules, and the example gateway
// compiled to JavaScript. The gateway runs as `node /app/gateway/server.js --config FILE`, doctor as
// `node /app/node_modules/clientaddr/dist/cli/bin.js doctor`.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Where node lives in the image. */
export const IMAGE_NODE = "/usr/local/bin/node";
/** The example gateway's entry point in the image. */
export const IMAGE_GATEWAY = "/app/gateway/server.js";
/** clientaddr's command in the image. */
export const IMAGE_CLI = "/app/node_modules/clientaddr/dist/cli/bin.js";

export interface Rootfs {
  /** The folder holding the root file system. */
  readonly dir: string;
  /** The clientaddr version packed into it. */
  readonly version: string;
  /** Removes the folder. */
  remove(): void;
}

/** Assembles the root file system in a new temporary folder. Synchronous: a few seconds, mostly `npm pack`. */
export function buildRootfs(): Rootfs {
  const dir = mkdtempSync(path.join(tmpdir(), "ca-rootfs-"));
  try {
    const version = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
    copyNode(dir);
    mkdirSync(path.join(dir, "tmp"), { mode: 0o1777 });
    const modules = path.join(dir, "app", "node_modules");
    mkdirSync(modules, { recursive: true });
    installPacked(path.join(modules, "clientaddr"));
    // clientaddr's runtime dependency, and the example gateway's WebSocket server.
    for (const name of ["forwarded-parse", "ws"]) copyPackage(name, modules);
    compileGateway(path.join(dir, "app", "gateway"));
    return { dir, version, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Streams the root file system as a tar archive into argv's standard input (an engine's `import -`). */
export function importRootfs(rootfs: Rootfs, argv: readonly string[], env?: NodeJS.ProcessEnv): string {
  const tar = execFileSync("tar", ["-C", rootfs.dir, "--numeric-owner", "--owner=0", "--group=0", "-c", "."], { maxBuffer: 1 << 30 });
  return execFileSync(argv[0]!, argv.slice(1), { input: tar, encoding: "utf8", timeout: 120_000, env: env ?? process.env }).trim();
}

function copyNode(dir: string): void {
  const node = realpathSync(process.execPath);
  const target = path.join(dir, IMAGE_NODE);
  mkdirSync(path.dirname(target), { recursive: true });
  cpSync(node, target);
  // `ldd` prints "libx.so => /lib/.../libx.so (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)".
  const libraries = execFileSync("ldd", [node], { encoding: "utf8" }).match(/\/\S+/g) ?? [];
  for (const library of libraries) {
    const into = path.join(dir, library);
    mkdirSync(path.dirname(into), { recursive: true });
    cpSync(realpathSync(library), into);
  }
}

/** `npm pack` (which builds), unpacked where npm would install it. */
function installPacked(into: string): void {
  const scratch = mkdtempSync(path.join(tmpdir(), "ca-pack-"));
  try {
    const name = execFileSync("npm", ["pack", "--silent", "--pack-destination", scratch], { cwd: ROOT, encoding: "utf8", timeout: 180_000 })
      .trim()
      .split("\n")
      .at(-1)!;
    mkdirSync(into, { recursive: true });
    execFileSync("tar", ["-x", "-z", "-f", path.join(scratch, name), "-C", into, "--strip-components=1"]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function copyPackage(name: string, modules: string): void {
  const from = path.join(ROOT, "node_modules", name);
  const manifest = JSON.parse(readFileSync(path.join(from, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
  if (Object.keys(manifest.dependencies ?? {}).length > 0) throw new Error(`${name} has dependencies: copy them too`);
  cpSync(from, path.join(modules, name), { recursive: true });
}

/** examples/gateway, each .ts compiled alone to an ES module (imports unchanged: `clientaddr`, `ws`, `./gateway.js`). */
function compileGateway(into: string): void {
  const from = path.join(ROOT, "examples", "gateway");
  mkdirSync(into, { recursive: true });
  writeFileSync(path.join(into, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
  for (const file of readdirSync(from)) {
    const source = path.join(from, file);
    if (file.endsWith(".ts")) {
      const { outputText } = ts.transpileModule(readFileSync(source, "utf8"), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
        fileName: file,
      });
      writeFileSync(path.join(into, file.replace(/\.ts$/, ".js")), outputText);
    } else {
      cpSync(source, path.join(into, file));
    }
  }
}
