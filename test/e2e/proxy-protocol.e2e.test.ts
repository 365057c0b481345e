// The recorded PROXY protocol topologies, run live: real HAProxy (mode tcp, send-proxy and send-proxy-v2 with
// CRC32C and unique-id TLVs, an HTTP HAProxy in front of a TCP one) and nginx stream (proxy_protocol on) from
// Debian's packages in front of the example gateway behind clientaddr/proxy-protocol, each started in the
// foreground on loopback ports and stopped by its own pid. Every live handshake must carry what the balancer's
// model says (headers and declared source) and give each recorded fixture's answer; HAProxy's own health check
// arrives with the LOCAL command and keeps the socket peer.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFixtures, replayFixture } from "../../src/cli/fixture.js";
import {
  BALANCERS,
  type CapturedRequest,
  CapturingGateway,
  HEALTH_CHECK_JUDGEMENTS,
  type RunningTopology,
  SCENARIOS,
  TOPOLOGIES,
  type TopologyId,
  captureHealthCheck,
  runScenario,
  startTopology,
} from "./proxy-protocol.js";

const FIXTURES = fileURLToPath(new URL("../../fixtures/recorded/proxy-protocol/", import.meta.url));
const recorded = new Map((await loadFixtures([FIXTURES])).map(({ fixture }) => [fixture.name, fixture]));
const judgements = [...SCENARIOS.flatMap((scenario) => scenario.judgements), ...HEALTH_CHECK_JUDGEMENTS];

function headerNames(request: CapturedRequest): string[] {
  return request.rawHeaders.filter((_, i) => i % 2 === 0).sort();
}

const gateway = new CapturingGateway("127.0.0.1", BALANCERS);
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
      if (fixture === undefined) throw new Error(`${name} is not recorded: run npx tsx scripts/record-proxy-protocol.ts`);
      expect(live.declaredSource, `${name}: declared source`).toBe(fixture.request.declaredSource);
      expect(replayFixture({ ...fixture, request: live }).mismatches, name).toEqual([]);
      expect(headerNames(live), `${name}: header names`).toEqual(headerNames(fixture.request));
    }
  });
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

it("the gateway received no request that nobody sent", () => {
  expect(gateway.stray()).toEqual([]);
});
