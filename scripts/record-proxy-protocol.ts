// Records real WebSocket handshakes sent through real TCP load balancers that speak the PROXY protocol
// (HAProxy mode tcp with send-proxy and send-proxy-v2, nginx stream with proxy_protocol on, and an HTTP
// HAProxy in front of a TCP one) to the example gateway in capture mode behind clientaddr/proxy-protocol, and
// HAProxy's own health check (the v2 LOCAL command); writes one fixture per judged case to
// fixtures/recorded/proxy-protocol/. Run with `npm run build && npx tsx scripts/record-proxy-protocol.ts`
// (Debian's haproxy, nginx and libnginx-mod-stream installed). The scenarios, with the expected answers derived
// by hand, are in test/e2e/proxy-protocol.ts, shared with the end-to-end suite that runs them live. After the
// run every fixture is replayed through the library: a disagreement fails the run, but the hand-derived
// expectation is written as it is.
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as balancers from "../test/e2e/proxy-protocol.js";
import { recordTopologies } from "./lib/record-topologies.js";
import { runBounded } from "./lib/run-bounded.js";
import { type Fixture, checkAgainstLibrary, writeFixtureSet } from "./lib/write-fixture.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT_DIR = path.join(ROOT, "fixtures", "recorded", "proxy-protocol");

function record(): Promise<Fixture[]> {
  const gateway = new balancers.CapturingGateway("127.0.0.1", balancers.BALANCERS);
  return recordTopologies(balancers, {
    gateway,
    seen: (request) => `peer ${request.peer?.address}, declared ${request.declaredSource}`,
    provenance: balancers.scenarioProvenance,
    more: async (date, fixtures) => {
      const { request, proxy } = await balancers.captureHealthCheck(gateway);
      try {
        console.log(`${balancers.HEALTH_CHECK_ID}: haproxy (pid ${proxy.pid}): peer ${request.peer?.address}, nothing declared`);
        const source = balancers.provenance({ client: "HAProxy's own HTTP health check", route: `haproxy -> 127.0.0.1:${gateway.port} gateway` }, gateway, [proxy], date);
        for (const { name, description, options, expected } of balancers.HEALTH_CHECK_JUDGEMENTS) {
          fixtures.push({ name, description, provenance: { kind: "recorded", source }, request, options, expected });
        }
      } finally {
        await proxy.stop();
      }
    },
  });
}

/** Behind a balancer, every request must carry what it declared, or be its LOCAL health check. */
function check(fixture: Fixture): void {
  if (fixture.request.declaredSource === undefined && !fixture.name.startsWith(balancers.HEALTH_CHECK_ID)) {
    throw new Error(`fixture ${fixture.name}: no declared source recorded behind a PROXY protocol balancer`);
  }
}

async function main(): Promise<void> {
  const fixtures = await record();
  writeFixtureSet(OUT_DIR, fixtures, check);
  console.log(`wrote ${fixtures.length} fixtures from ${balancers.SCENARIOS.length + 1} recorded requests to ${path.relative(ROOT, OUT_DIR)}/`);
  checkAgainstLibrary(fixtures);
}

runBounded("record-proxy-protocol", main);
