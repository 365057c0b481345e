// What the two recorded-proxy suites (proxies.e2e.test.ts, proxy-protocol.e2e.test.ts) do alike: the recorded
// fixtures must be exactly the scenarios' judgements; each topology is started once for its scenarios, every
// live handshake is judged with each of its fixtures' options and must give the recorded answer and carry the
// same header names (values such as Sec-WebSocket-Key and ports differ from run to run); and the gateway must
// have received nothing that nobody sent. Call it at the top level of a test file.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Fixture, loadFixtures, replayFixture } from "../../src/cli/fixture.js";
import type { CapturedRequest, CapturingGateway, Judgement, RunningChain } from "./proxies.js";

export interface RecordedSuite<Topology extends string, S extends { topology: Topology; client: string; judgements: Judgement[] }, R extends RunningChain> {
  /** The folder of the recorded fixtures. */
  readonly fixtures: string;
  /** The command that records them, named when one is missing. */
  readonly recorder: string;
  readonly scenarios: readonly S[];
  /** Judgements recorded besides the scenarios' own. */
  readonly extra?: readonly Judgement[];
  readonly topologies: readonly Topology[];
  readonly gateway: CapturingGateway;
  start(topology: Topology, gatewayPort: number): Promise<R>;
  run(scenario: S, gateway: CapturingGateway, topology: R): Promise<CapturedRequest>;
  /** A check of the live request against one fixture's, besides its answer and header names. */
  check?(live: CapturedRequest, fixture: Fixture, name: string): void;
}

/** Header names in wire case, repeated lines kept, sorted: what must not change from run to run. */
function headerNames(request: CapturedRequest): string[] {
  return request.rawHeaders.filter((_, i) => i % 2 === 0).sort();
}

/** Declares the suite's tests; returns the recorded fixtures by name, for the file's own further tests. */
export async function describeRecordedTopologies<Topology extends string, S extends { topology: Topology; client: string; judgements: Judgement[] }, R extends RunningChain>(
  suite: RecordedSuite<Topology, S, R>,
): Promise<Map<string, Fixture>> {
  const recorded = new Map((await loadFixtures([suite.fixtures])).map(({ fixture }) => [fixture.name, fixture]));
  const judgements = [...suite.scenarios.flatMap((scenario) => scenario.judgements), ...(suite.extra ?? [])];
  const { gateway } = suite;
  beforeAll(() => gateway.listen());
  afterAll(() => gateway.close());

  it("the recorded fixtures are the scenarios' judgements, with the same options and expected answers", () => {
    expect([...recorded.keys()].sort()).toEqual(judgements.map((judgement) => judgement.name).sort());
    for (const { name, options, expected } of judgements) {
      expect({ name, options: recorded.get(name)?.options, expected: recorded.get(name)?.expected }).toEqual({ name, options, expected });
    }
  });

  describe.each(suite.topologies)("%s", (id) => {
    let topology: R | undefined;
    beforeAll(async () => {
      topology = await suite.start(id, gateway.port);
    });
    afterAll(async () => {
      await topology?.stop();
    });

    const scenarios = suite.scenarios.filter((scenario) => scenario.topology === id);
    it.each(scenarios.map((scenario) => [scenario.client, scenario] as const))("%s: the live answers are the recorded ones", async (_client, scenario) => {
      const live = await suite.run(scenario, gateway, topology!);
      for (const { name } of scenario.judgements) {
        const fixture = recorded.get(name);
        if (fixture === undefined) throw new Error(`${name} is not recorded: run ${suite.recorder}`);
        suite.check?.(live, fixture, name);
        expect(replayFixture({ ...fixture, request: live }).mismatches, name).toEqual([]);
        expect(headerNames(live), `${name}: header names`).toEqual(headerNames(fixture.request));
      }
    });
  });

  return recorded;
}

/** The last test of a suite: every request the gateway received was one a scenario sent. */
export function itReceivedNothingElse(gateway: CapturingGateway): void {
  it("the gateway received no request that nobody sent", () => {
    expect(gateway.stray()).toEqual([]);
  });
}
