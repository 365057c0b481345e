// Writes recorded fixtures the way every recorder does: checked, pretty JSON (two spaces, a trailing newline),
// and the folder's stale files removed, so that a re-recording leaves exactly the cases it recorded.
import { mkdirSync, readdirSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { type Fixture, replayFixture } from "../../src/cli/fixture.js";

export type { Fixture };

/**
 * Replaces the fixtures in `folder` with `fixtures`. Each is checked first (a slug name, unique; a null
 * address never local; the basis's verdict agrees with loopbackEquivalent; then the recorder's own `check`),
 * so that nothing is written from a run whose expectations do not hold together.
 */
export function writeFixtureSet(folder: string, fixtures: readonly Fixture[], check: (fixture: Fixture) => void = () => {}): void {
  const names = new Set<string>();
  for (const fixture of fixtures) {
    const fail = (why: string) => {
      throw new Error(`fixture ${fixture.name}: ${why}`);
    };
    if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(fixture.name)) fail("bad name");
    if (names.has(fixture.name)) fail("duplicate name");
    names.add(fixture.name);
    const { expected } = fixture;
    if (expected.address === null && expected.loopbackEquivalent) fail("a null address cannot be local");
    const verdict = expected.basis.split(":")[1];
    if ((verdict === "loopback" || verdict === "trusted-path") !== expected.loopbackEquivalent) fail("basis and loopbackEquivalent disagree");
    check(fixture);
  }
  mkdirSync(folder, { recursive: true });
  for (const file of readdirSync(folder)) {
    if (file.endsWith(".json") && !names.has(file.slice(0, -5))) unlinkSync(path.join(folder, file));
  }
  for (const fixture of fixtures) writeFixture(folder, fixture);
}

/** Writes one fixture into `folder` (created if need be) and returns its path. */
export function writeFixture(folder: string, fixture: Fixture): string {
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, `${fixture.name}.json`);
  writeFileSync(file, `${JSON.stringify(fixture, null, 2)}\n`);
  return file;
}

/**
 * The recorders' sanity check: the library against the hand-derived answers. A disagreement is printed and
 * sets a failing exit code, but the expectation stays as derived, never replaced by the library's answer.
 */
export function checkAgainstLibrary(fixtures: readonly Fixture[]): void {
  let disagreements = 0;
  for (const fixture of fixtures) {
    const { mismatches } = replayFixture(fixture);
    if (mismatches.length === 0) continue;
    disagreements++;
    console.error(`DISAGREES with the library: ${fixture.name}: ${mismatches.join("; ")}`);
  }
  if (disagreements > 0) {
    console.error(`${disagreements} fixture(s) disagree with the library; the expectations were written as derived`);
    process.exitCode = 1;
  } else {
    console.log("the library agrees with every expected answer");
  }
}
