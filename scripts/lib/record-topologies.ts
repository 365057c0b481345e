// The recording run the proxy recorders share (record-proxies.ts, record-proxy-protocol.ts): the gateway
// listens; each topology of the harness is started once and stopped before the next, each of its scenarios is
// sent through it and captured, and every judgement of the scenario becomes a fixture with the capture and its
// provenance; then whatever else the recorder records; and the gateway must have received nothing else.
import type { CapturedRequest, CapturingGateway, Judgement, RunningChain } from "../../test/e2e/proxies.js";
import type { Fixture } from "./write-fixture.js";

/** What a harness in test/e2e exports: its topologies, its scenarios, and how to start and run them. */
export interface Harness<Topology extends string, S extends { topology: Topology; client: string; judgements: Judgement[] }, R extends RunningChain> {
  readonly TOPOLOGIES: Record<Topology, unknown>;
  readonly SCENARIOS: readonly S[];
  startTopology(topology: Topology, gatewayPort: number): Promise<R>;
  runScenario(scenario: S, gateway: CapturingGateway, topology: R): Promise<CapturedRequest>;
}

export interface Recording<S, R> {
  readonly gateway: CapturingGateway;
  /** What the capture showed, for the recorder's log line. */
  seen(request: CapturedRequest): string;
  provenance(scenario: S, gateway: CapturingGateway, topology: R, date: string): string;
  /** Records what else the recorder records, once every scenario is in. */
  more?(date: string, fixtures: Fixture[]): Promise<void>;
}

export async function recordTopologies<Topology extends string, S extends { topology: Topology; client: string; judgements: Judgement[] }, R extends RunningChain>(
  harness: Harness<Topology, S, R>,
  recording: Recording<S, R>,
): Promise<Fixture[]> {
  const date = new Date().toISOString().slice(0, 10);
  const fixtures: Fixture[] = [];
  const { gateway } = recording;
  await gateway.listen();
  try {
    for (const id of Object.keys(harness.TOPOLOGIES) as Topology[]) {
      const topology = await harness.startTopology(id, gateway.port);
      console.log(`${id}: ${topology.proxies.map((proxy) => `${proxy.spec.name} (pid ${proxy.pid}) on port ${proxy.hop.port}`).join(" -> ")}`);
      try {
        for (const scenario of harness.SCENARIOS.filter((candidate) => candidate.topology === id)) {
          const request = await harness.runScenario(scenario, gateway, topology);
          console.log(`  ${scenario.client}: ${recording.seen(request)}`);
          const source = recording.provenance(scenario, gateway, topology, date);
          for (const { name, description, options, expected } of scenario.judgements) {
            fixtures.push({ name, description, provenance: { kind: "recorded", source }, request, options, expected });
          }
        }
      } finally {
        await topology.stop();
      }
    }
    await recording.more?.(date, fixtures);
    if (gateway.stray().length > 0) throw new Error(`the gateway received request(s) nobody sent: ${gateway.stray().join(", ")}`);
  } finally {
    await gateway.close();
  }
  return fixtures;
}
