// The recorded proxy topologies, run live: real nginx, HAProxy, Caddy and Apache from Debian's packages in front
// of the example gateway, each started in the foreground on loopback ports and stopped by its own pid. Every
// live handshake is judged with each of its recorded fixtures' options and must give the recorded answer, and
// must carry the same header names as the recorded one (recorded-topologies.ts). runScenario also checks the
// live headers against each proxy's model in proxies.ts.
import { fileURLToPath } from "node:url";
import { CapturingGateway, SCENARIOS, TOPOLOGIES, type TopologyId, runScenario, startTopology } from "./proxies.js";
import { describeRecordedTopologies, itReceivedNothingElse } from "./recorded-topologies.js";

const gateway = new CapturingGateway();
await describeRecordedTopologies({
  fixtures: fileURLToPath(new URL("../../fixtures/recorded/proxies/", import.meta.url)),
  recorder: "npx tsx scripts/record-proxies.ts",
  scenarios: SCENARIOS,
  topologies: Object.keys(TOPOLOGIES) as TopologyId[],
  gateway,
  start: startTopology,
  run: runScenario,
});
itReceivedNothingElse(gateway);
