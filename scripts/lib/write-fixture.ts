// Writes a fixture the way every recorder does: pretty JSON, two spaces, a trailing newline.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Fixture } from "../../src/fixture.js";

export type { Fixture };

export function writeFixture(folder: string, fixture: Fixture): string {
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, `${fixture.name}.json`);
  writeFileSync(file, `${JSON.stringify(fixture, null, 2)}\n`);
  return file;
}
