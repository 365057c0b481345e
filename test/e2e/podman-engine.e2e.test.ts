// Real Podman 4.3, rootful and rootless, in a network namespace of its own (test/e2e/podman-engine.ts): the
// example gateway in a container built from test/e2e/image.ts, its port published on the namespace's
// 127.0.0.1, and a `ws` client in the same namespace. Every recorded case of scripts/record-podman.ts is redone
// live and compared with its fixture; `clientaddr doctor` is run inside the real containers and its
// recommendation compared with the peer the gateway captured. Outcomes are read from what the client printed,
// what the gateway captured and what doctor printed, never from exit codes.
//
// Skipped, loudly, only where network namespaces cannot be made (not root, not Linux). Podman missing, or a
// mode that cannot run (no uidmap for rootless, say), fails with the exact error.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Handshake } from "../../examples/gateway/gateway.js";
import { PODMAN_FIXTURES, type PodmanScenario, SETUPS, type SetupId, podmanScenarios, runScenario, tryPasta } from "../../scripts/record-podman.js";
import type { DoctorReport, Finding } from "../../src/cli/doctor/index.js";
import { loadFixtures } from "../../src/cli/fixture.js";
import { caNamespaces, namespaceSupport } from "./netns.js";
import { PodmanLab } from "./podman-engine.js";

const support = namespaceSupport();
if (!support.ok) console.warn(`podman-engine e2e: SKIPPED, ${support.why}`);

const REFUSED = { closed: { code: 1008, reason: "pairing required" } };
const fixtures = await loadFixtures([PODMAN_FIXTURES]);
const scenarios = new Map(podmanScenarios().map((scenario) => [scenario.name, scenario]));

const codes = (findings: readonly Finding[]) => findings.map((finding) => finding.code);

// Limits, each at least the sum of the bounds of the steps inside it: a limit is for a hung step, not a slow
// machine, and none is waited out when the steps end. Opening: the namespace (two commands of 15 s), the root
// file system (`npm pack`, 180 s, image.ts, then copies and a compile), then for each mode `podman info` (60 s),
// the rootless user (four commands of 15 s), the image's import (120 s) and the network (30 s). A test: at most
// two gateways (`podman run`, 60 s, `inspect`, 30 s, then listening, 20 s), their clients (20 s each) and doctor
// twice (30 s each). Closing: for each mode, its containers (60 s) and network (30 s) removed, then what is left
// unmounted and deleted (10 s a command, a few commands).
const OPEN_LIMIT_MS = 720_000;
const TEST_LIMIT_MS = 360_000;
const CLOSE_LIMIT_MS = 300_000;

describe.skipIf(!support.ok)("Podman, rootful and rootless, in a network namespace", { timeout: TEST_LIMIT_MS }, () => {
  let lab: PodmanLab | undefined;
  const started = Date.now();
  /** What each scenario's handshake gave, so the doctor checks compare with the peer really captured. */
  const seen = new Map<string, Handshake>();

  beforeAll(async () => {
    lab = await PodmanLab.open(undefined, (line) => console.log(`podman-engine: ${line}`));
  }, OPEN_LIMIT_MS);

  afterAll(async () => {
    const id = lab?.id;
    const left = (await lab?.close()) ?? [];
    console.log(`podman-engine: whole suite ${Math.round((Date.now() - started) / 1000)} s`);
    expect(left, "left behind by the run").toEqual([]);
    if (id !== undefined) expect(caNamespaces().filter((name) => name.includes(id))).toEqual([]);
  }, CLOSE_LIMIT_MS);

  async function run(scenario: PodmanScenario): Promise<Handshake> {
    const { captured } = await runScenario(lab!, scenario);
    seen.set(scenario.name, captured);
    return captured;
  }

  /** The peer the scenario's gateway captured (redoing the handshake if its test has not run). */
  async function captured(name: string): Promise<Handshake> {
    return seen.get(name) ?? (await run(scenarios.get(name)!));
  }

  it("runs both modes here", () => {
    // The exact errors, if not: they belong in docs/topologies.md's notes.
    expect(Object.fromEntries(lab!.unavailable)).toEqual({});
    expect(lab!.engine("rootful").versions).toMatchObject({ networkBackend: "netavark", rootless: false });
    expect(lab!.engine("rootless").versions).toMatchObject({ rootless: true });
  });

  it("adds nothing to the machine's own network namespace", () => {
    const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8", timeout: 5_000 });
    expect(links).not.toContain(lab!.id);
    expect(links).not.toMatch(/^\d+: podman\d/m); // netavark's bridges live in the test namespace
    const nat = execFileSync("iptables-save", ["-t", "nat"], { encoding: "utf8", timeout: 5_000 });
    expect(nat).not.toContain(lab!.id);
    expect(nat).not.toContain("NETAVARK");
  });

  describe("the recorded fixtures in fixtures/recorded/podman/, redone live", () => {
    it("cover every scenario of scripts/record-podman.ts", () => {
      expect(fixtures.map(({ fixture }) => fixture.name).sort()).toEqual([...scenarios.keys()].sort());
    });

    it.each(fixtures.map(({ fixture }) => [fixture.name, fixture] as const))("%s", async (name, fixture) => {
      const scenario = scenarios.get(name);
      if (scenario === undefined) throw new Error(`${name}: no such scenario in scripts/record-podman.ts`);
      expect(scenario.trustedProxies).toEqual(fixture.options.trustedProxies);
      const { outcome, captured } = await runScenario(lab!, scenario);
      seen.set(name, captured);
      expect(captured.request.peer?.address).toBe(fixture.request.peer?.address);
      expect(captured.request.local).toEqual({ address: fixture.request.local?.address, port: fixture.request.local?.port });
      const { address, loopbackEquivalent, basis } = captured.result;
      expect({ address, loopbackEquivalent, basis }).toEqual(fixture.expected);
      // The ws client's own view: refused with 1008, or connected as local with the address.
      if (fixture.expected.loopbackEquivalent) {
        expect(outcome).toEqual({ opened: { connected: true, local: true, address: fixture.expected.address, basis: fixture.expected.basis } });
      } else {
        expect(outcome).toEqual(REFUSED);
      }
    });
  });

  describe("clientaddr doctor inside the real containers, against the peer the gateway captured", () => {
    async function doctor(name: string): Promise<DoctorReport> {
      const container = lab!.containers.get(name) ?? (await runScenario(lab!, scenarios.get(name)!)).container;
      return (await lab!.doctor(container)) as DoctorReport;
    }

    /** The setup's scenario that trusts the right address: doctor must recommend exactly the captured peer. */
    const trusting: Array<[SetupId, string]> = [
      ["rootful-bridge", "podman-rootful-bridge-script-trusted-gateway"],
      ["rootful-slirp4netns", "podman-rootful-slirp4netns-script-trusted-own-address"],
      ["rootless-slirp4netns", "podman-rootless-slirp4netns-script-trusted-own-address"],
      ["rootless-bridge", "podman-rootless-bridge-script-trusted-own-address"],
    ];

    it.each(trusting)("%s: recommends the single address the gateway saw, and finds the config right", async (setup, name) => {
      const peer = (await captured(name)).request.peer!.address;
      const report = await doctor(name);
      expect(report.facts.container.evidence).toContain("/run/.containerenv exists (Podman)");
      expect(report.facts.container.podman).toEqual({ rootless: SETUPS[setup].mode === "rootless" });
      expect(report.recommendation.trustedProxies).toEqual([peer]);
      expect(report.config?.findings).toEqual([]);
      if (SETUPS[setup].portHandler === "rootlessport") {
        // The default gateway /proc/net/route shows is not the peer, and doctor says so.
        const gateway = report.facts.gateways.find((g) => g.family === 4)!.address;
        expect(gateway).not.toBe(peer);
        const note = report.warnings.find((warning) => warning.code === "rootlessport-peer");
        expect(note?.message).toContain(`arrives from "${peer}", not from the default gateway ${gateway}`);
      } else {
        expect(codes(report.warnings)).toEqual(["publish-on-loopback", "trust-single-address"]);
      }
    });

    it("rootful bridge without trust: the missing gateway is an error naming 1008", async () => {
      const report = await doctor("podman-rootful-bridge-script-untrusted");
      const found = report.config!.findings.find((finding) => finding.code === "gateway-not-trusted");
      expect(found).toMatchObject({ severity: "error" });
      expect(found?.message).toContain("1008 pairing required");
      expect(found?.message).toContain(`add "${(await captured("podman-rootful-bridge-script-untrusted")).request.peer!.address}"`);
    });

    it("rootless slirp4netns: trusting the default gateway 10.0.2.2 is flagged, the peer being 10.0.2.100", async () => {
      const name = "podman-rootless-slirp4netns-script-trusted-default-gateway";
      const peer = (await captured(name)).request.peer!.address;
      const report = await doctor(name);
      expect(report.recommendation.trustedProxies).toEqual([peer]);
      expect(codes(report.config!.findings)).toEqual(["peer-not-trusted"]);
      expect(report.config!.findings[0]!.message).toContain(`add "${peer}"`);
      const empty = await doctor("podman-rootless-slirp4netns-script-untrusted");
      expect(empty.config!.findings).toMatchObject([{ code: "peer-not-trusted", severity: "error" }]);
    });

    it("rootless with port_handler=slirp4netns: nothing inside tells, so doctor names the gateway the peer then is", async () => {
      const name = "podman-rootless-slirp4netns-port-handler-script-trusted-gateway";
      const peer = (await captured(name)).request.peer!.address;
      const report = await doctor(name);
      // The container looks exactly like the rootlessport one: the recommendation is rootlessport's address...
      expect(report.recommendation.trustedProxies).toEqual(["10.0.2.100"]);
      // ...and the warning names this peer and this port handler, and the config trusting it is a warning, not an error.
      const note = report.warnings.find((warning) => warning.code === "rootlessport-peer")!;
      expect(note.message).toContain(`port_handler=slirp4netns, slirp4netns forwards the port itself and the peer is its gateway "${peer}" instead`);
      expect(report.config!.findings).toMatchObject([{ code: "peer-not-trusted", severity: "warning" }]);
    });
  });

  it("pasta: Debian's Podman 4.3 has no --network pasta (it came with 4.4)", async () => {
    const pasta = await tryPasta(lab!);
    const [major = 0, minor = 0] = pasta.podman.split(".").map(Number);
    if (major > 4 || (major === 4 && minor >= 4)) {
      console.warn(`podman-engine e2e: Podman ${pasta.podman} has pasta (${pasta.ran ? "it ran" : pasta.error}): record it in scripts/record-podman.ts`);
      return;
    }
    expect(pasta.ran).toBe(false);
    expect(pasta.error).toBe("Error: unable to find network with name or ID pasta: network not found");
  });
});
