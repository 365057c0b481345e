// Records real WebSocket handshakes through the presets' fronts that Debian packages (nginx with the nginx
// preset's lines, Caddy's reverse_proxy, HAProxy with option forwardfor) to the example gateway in capture mode,
// and writes one fixture per judged case to fixtures/recorded/presets/: each handshake judged with its front's
// preset and with loopback declared without it. Run with `npm run -s build && npx tsx scripts/record-presets.ts`:
// the gateway imports clientaddr by name, which resolves to dist/.
//
// The fronts, clients and scenarios, with the expected answers written by hand from the rules, are in
// test/e2e/presets.ts, shared with the end-to-end suite that replays them live. Each proxy is started in the
// foreground on loopback ports and stopped by its own pid before the next one starts. After the run, every
// fixture is also replayed through the library: a disagreement is printed and fails the run, but the
// hand-derived expectation is written as it is, never replaced by the library's answer.
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as presets from "../test/e2e/presets.js";
import { recordTopologies } from "./lib/record-topologies.js";
import { runBounded } from "./lib/run-bounded.js";
import { type Fixture, checkAgainstLibrary, writeFixtureSet } from "./lib/write-fixture.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT_DIR = path.join(ROOT, "fixtures", "recorded", "presets");

function record(): Promise<Fixture[]> {
  return recordTopologies(presets, {
    gateway: new presets.CapturingGateway(),
    seen: (request) => {
      const seen = ["host", "origin", "x-forwarded-for", "x-real-ip", "x-forwarded-host", "x-forwarded-proto"]
        .map((name) => [name, presets.headerLines(request, name)] as const)
        .filter(([, lines]) => lines.length > 0)
        .map(([name, lines]) => `${name}: ${lines.map((line) => JSON.stringify(line)).join(" + ")}`);
      return `peer ${request.peer?.address}; ${seen.join("; ")}`;
    },
    provenance: presets.provenance,
  });
}

/**
 * Every request here went through a front: local on the socket's word alone would mean the front was invisible;
 * and a fixture judged with a preset states the attribution, the preset and the claims it expects.
 */
function check(fixture: Fixture): void {
  const { expected, options } = fixture;
  if (expected.loopbackEquivalent && expected.basis.startsWith("socket:")) {
    throw new Error(`fixture ${fixture.name}: local on the socket's word through a front`);
  }
  if (expected.attribution === undefined || expected.preset === undefined || expected.claims === undefined) {
    throw new Error(`fixture ${fixture.name}: states no attribution, preset or claims`);
  }
  if (expected.preset !== null && expected.preset !== options.preset) {
    throw new Error(`fixture ${fixture.name}: expects the preset ${expected.preset}, judged with ${options.preset ?? "none"}`);
  }
}

async function main(): Promise<void> {
  const fixtures = await record();
  writeFixtureSet(OUT_DIR, fixtures, check);
  console.log(`wrote ${fixtures.length} fixtures from ${presets.SCENARIOS.length} recorded handshakes to ${path.relative(ROOT, OUT_DIR)}/`);

  checkAgainstLibrary(fixtures);
}

// The exit hook in test/e2e/proxies.ts kills any proxy still running when the bound is reached.
runBounded("record-presets", main);
