// Records real WebSocket handshakes sent through real reverse proxies from Debian's packages (nginx, HAProxy,
// Caddy, Apache, and a two-proxy chain) to the example gateway in capture mode, and writes one fixture per
// judged case to fixtures/recorded/proxies/. Run with `npm run build && npx tsx scripts/record-proxies.ts`: the
// gateway imports clientaddr by name, which resolves to dist/.
//
// The proxies, clients and scenarios, with the expected answers derived by hand from the rules, are in
// test/e2e/proxies.ts, shared with the end-to-end suite that replays the same topologies live. Each proxy is
// started in the foreground on loopback ports and stopped by its own pid before the next one starts. After the
// run, every fixture is also replayed through the library: a disagreement is printed and fails the run, but
// the hand-derived expectation is written as it is, never replaced by the library's answer.
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as proxies from "../test/e2e/proxies.js";
import { recordTopologies } from "./lib/record-topologies.js";
import { runBounded } from "./lib/run-bounded.js";
import { type Fixture, checkAgainstLibrary, writeFixtureSet } from "./lib/write-fixture.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT_DIR = path.join(ROOT, "fixtures", "recorded", "proxies");

function record(): Promise<Fixture[]> {
  return recordTopologies(proxies, {
    gateway: new proxies.CapturingGateway(),
    seen: (request) => {
      const seen = ["host", "x-forwarded-for", "x-real-ip", "forwarded"]
        .map((name) => [name, proxies.headerLines(request, name)] as const)
        .filter(([, lines]) => lines.length > 0)
        .map(([name, lines]) => `${name}: ${lines.map((line) => JSON.stringify(line)).join(" + ")}`);
      return `peer ${request.peer?.address}; ${seen.join("; ")}`;
    },
    provenance: proxies.provenance,
  });
}

/** Every request here went through a proxy: local on the socket's word alone means the proxy was invisible. */
function check(fixture: Fixture): void {
  const { expected, description } = fixture;
  if (expected.loopbackEquivalent && expected.basis.startsWith("socket:") && !description.includes("limitation:")) {
    throw new Error(`fixture ${fixture.name}: local on the socket's word through a proxy: the description must say it is a limitation`);
  }
}

async function main(): Promise<void> {
  const fixtures = await record();
  writeFixtureSet(OUT_DIR, fixtures, check);
  console.log(`wrote ${fixtures.length} fixtures from ${proxies.SCENARIOS.length} recorded handshakes to ${path.relative(ROOT, OUT_DIR)}/`);

  checkAgainstLibrary(fixtures);
}

// The exit hook in test/e2e/proxies.ts kills any proxy still running when the bound is reached.
runBounded("record-proxies", main);
