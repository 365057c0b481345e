// The presets' fronts, run live: real nginx (the nginx preset's lines), Caddy (reverse_proxy) and HAProxy
// (option forwardfor) from Debian's packages in front of the example gateway, each started in the foreground on
// loopback ports and stopped by its own pid. Every live handshake must arrive as it was recorded in
// fixtures/recorded/presets/, header line by header line in wire order (ports and the WebSocket key aside), and
// be judged with each of its fixtures' options (with the preset, and without) as recorded: the address, the
// locality, the basis, the attribution, the preset and the claims (recorded-topologies.ts). runScenario also
// checks the live headers against each front's model in presets.ts.
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { CapturingGateway, type PresetTopologyId, SCENARIOS, TOPOLOGIES, portsAside, runScenario, startTopology } from "./presets.js";
import { describeRecordedTopologies, itReceivedNothingElse } from "./recorded-topologies.js";

const gateway = new CapturingGateway();
await describeRecordedTopologies({
  fixtures: fileURLToPath(new URL("../../fixtures/recorded/presets/", import.meta.url)),
  recorder: "npm run -s build && npx tsx scripts/record-presets.ts",
  scenarios: SCENARIOS,
  topologies: Object.keys(TOPOLOGIES) as PresetTopologyId[],
  gateway,
  start: startTopology,
  run: runScenario,
  check: (live, fixture, name) => {
    expect(portsAside(live), `${name}: what arrived, ports aside`).toEqual(portsAside(fixture.request));
    expect(fixture.expected, `${name}: states the attribution, preset and claims`).toHaveProperty("attribution");
  },
});
itReceivedNothingElse(gateway);
