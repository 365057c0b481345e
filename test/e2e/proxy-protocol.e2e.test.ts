// The recorded PROXY protocol topologies, run live: real HAProxy (mode tcp, send-proxy and send-proxy-v2 with
// CRC32C and unique-id TLVs, an HTTP HAProxy in front of a TCP one) and nginx stream (proxy_protocol on) from
// Debian's packages in front of the example gateway behind clientaddr/proxy-protocol, each started in the
// foreground on loopback ports and stopped by its own pid. Every live handshake must carry what the balancer's
// model says (headers and declared source) and give each recorded fixture's answer (recorded-topologies.ts);
// HAProxy's own health check arrives with the LOCAL command and keeps the socket peer.
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { replayFixture } from "../../src/cli/fixture.js";
import {
  BALANCERS,
  CapturingGateway,
  HEALTH_CHECK_JUDGEMENTS,
  SCENARIOS,
  TOPOLOGIES,
  type TopologyId,
  captureHealthCheck,
  runScenario,
  startTopology,
} from "./proxy-protocol.js";
import { describeRecordedTopologies, itReceivedNothingElse } from "./recorded-topologies.js";

const gateway = new CapturingGateway("127.0.0.1", BALANCERS);
const recorded = await describeRecordedTopologies({
  fixtures: fileURLToPath(new URL("../../fixtures/recorded/proxy-protocol/", import.meta.url)),
  recorder: "npx tsx scripts/record-proxy-protocol.ts",
  scenarios: SCENARIOS,
  extra: HEALTH_CHECK_JUDGEMENTS,
  topologies: Object.keys(TOPOLOGIES) as TopologyId[],
  gateway,
  start: startTopology,
  run: runScenario,
  check: (live, fixture, name) => expect(live.declaredSource, `${name}: declared source`).toBe(fixture.request.declaredSource),
});

it("HAProxy's health check (the v2 LOCAL command) keeps the socket peer, as recorded", async () => {
  const { request, proxy } = await captureHealthCheck(gateway);
  try {
    for (const { name } of HEALTH_CHECK_JUDGEMENTS) {
      const fixture = recorded.get(name)!;
      expect("declaredSource" in request).toBe(false);
      expect(replayFixture({ ...fixture, request }).mismatches, name).toEqual([]);
    }
  } finally {
    await proxy.stop();
  }
});

itReceivedNothingElse(gateway);
