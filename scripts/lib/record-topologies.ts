// The recording loop the proxy recorders share (record-proxies.ts, record-proxy-protocol.ts): each topology is
// started once and stopped before the next, each of its scenarios is sent through it and captured, and every
// judgement of the scenario becomes a fixture with the capture and its provenance.
import type { CapturedRequest, CapturingGateway, Judgement, RunningChain } from "../../test/e2e/proxies.js";
import type { Fixture } from "./write-fixture.js";

export interface Recording<Topology extends string, S extends { topology: Topology; client: string; judgements: Judgement[] }, R extends RunningChain> {
  readonly gateway: CapturingGateway;
  readonly topologies: readonly Topology[];
  readonly scenarios: readonly S[];
  start(topology: Topology, gatewayPort: number): Promise<R>;
  run(scenario: S, gateway: CapturingGateway, topology: R): Promise<CapturedRequest>;
  /** What the capture showed, for the recorder's log line. */
  seen(request: CapturedRequest): string;
  provenance(scenario: S, gateway: CapturingGateway, topology: R, date: string): string;
}

/** Records every scenario into `fixtures` (the gateway listening); stops each topology, whatever happens. */
export async function recordTopologies<Topology extends string, S extends { topology: Topology; client: string; judgements: Judgement[] }, R extends RunningChain>(
  recording: Recording<Topology, S, R>,
  date: string,
  fixtures: Fixture[],
): Promise<void> {
  const { gateway } = recording;
  for (const id of recording.topologies) {
    const topology = await recording.start(id, gateway.port);
    console.log(`${id}: ${topology.proxies.map((proxy) => `${proxy.spec.name} (pid ${proxy.pid}) on port ${proxy.hop.port}`).join(" -> ")}`);
    try {
      for (const scenario of recording.scenarios.filter((candidate) => candidate.topology === id)) {
        const request = await recording.run(scenario, gateway, topology);
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
}
