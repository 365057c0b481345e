// The recorded proxy topologies, run live: real nginx, HAProxy, Caddy and Apache from Debian's packages in front
// of the example gateway, each started in the foreground on loopback ports and stopped by its own pid. Every
// live handshake is judged with each of its recorded fixtures' options and must give the recorded answer, and
// must carry the same header names as the recorded one (values such as Sec-WebSocket-Key and ports differ from
// run to run). runScenario also checks the live headers against each proxy's model in proxies.ts.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFixtures, replayFixture } from "../../src/cli/fixture.js";
import {
  type CapturedRequest,
  CapturingGateway,
  type RunningTopology,
  SCENARIOS,
  TOPOLOGIES,
  type TopologyId,
  runScenario,
  startTopology,
} from "./proxies.js";

const FIXTURES = fileURLToPath(new URL("../../fixtures/recorded/proxies/", import.meta.url));
const recorded = new Map((await loadFixtures([FIXTURES])).map(({ fixture }) => [fixture.name, fixture]));
const judgements = SCENARIOS.flatMap((scenario) => scenario.judgements);

/** Header names in wire case, repeated lines kept, sorted: what must not change from run to run. */
function headerNames(request: CapturedRequest): string[] {
  return request.rawHeaders.filter((_, i) => i % 2 === 0).sort();
}

const gateway = new CapturingGateway();
beforeAll(() => gateway.listen());
afterAll(() => gateway.close());

it("the recorded fixtures are the scenarios' judgements, with the same options and expected answers", () => {
  expect([...recorded.keys()].sort()).toEqual(judgements.map((judgement) => judgement.name).sort());
  for (const { name, options, expected } of judgements) {
    expect({ name, options: recorded.get(name)?.options, expected: recorded.get(name)?.expected }).toEqual({ name, options, expected });
  }
});

describe.each(Object.keys(TOPOLOGIES) as TopologyId[])("%s", (id) => {
  let topology: RunningTopology | undefined;
  beforeAll(async () => {
    topology = await startTopology(id, gateway.port);
  });
  afterAll(async () => {
    await topology?.stop();
  });

  const scenarios = SCENARIOS.filter((scenario) => scenario.topology === id);
  it.each(scenarios.map((scenario) => [scenario.client, scenario] as const))("%s: the live answers are the recorded ones", async (_client, scenario) => {
    const live = await runScenario(scenario, gateway, topology!);
    for (const { name } of scenario.judgements) {
      const fixture = recorded.get(name);
      if (fixture === undefined) throw new Error(`${name} is not recorded: run npx tsx scripts/record-proxies.ts`);
      expect(replayFixture({ ...fixture, request: live }).mismatches, name).toEqual([]);
      expect(headerNames(live), `${name}: header names`).toEqual(headerNames(fixture.request));
    }
  });
});

it("the gateway received no handshake that nobody sent", () => {
  expect(gateway.stray()).toEqual([]);
});
