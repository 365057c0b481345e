// A scratch folder per test, removed afterwards, for tests that write fixture files.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach } from "vitest";

export interface Scratch {
  /** The current test's folder. */
  readonly dir: string;
  /** Writes `data` (JSON, or a string as is) to a path under the folder and returns the full path. */
  write(relative: string, data: unknown): Promise<string>;
}

export function useScratchFolder(prefix: string): Scratch {
  let dir = "";
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), prefix));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    async write(relative, data) {
      const file = path.join(dir, relative);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, typeof data === "string" ? data : JSON.stringify(data));
      return file;
    },
  };
}
