// The reported bug on the REAL Docker Engine (Debian's docker.io 20.10, docker-compose 1.29): the example gateway,
// packed clientaddr and all, in an imported image, run by dockerd in network namespaces of its own
// (test/e2e/docker-engine.ts); `ws` clients and headless Chromium inside the engine's namespace (the host), in a
// LAN namespace beside it, or in a second container. The scenarios are scripts/record-docker.ts's, whose
// fixtures (fixtures/recorded/docker/) are redone live here; doctor is run inside the containers and its advice
// checked against what the gateway then sees.
//
// Nothing is sent from, or added to, the machine's own namespace: the suite checks its forwarding sysctls,
// links, addresses and routes are as they were, and that its namespaces are gone. Outcomes are read from what
// the clients print and what the gateway captured, never from exit codes.
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOCKER_FIXTURES, type Deployment, DockerLab, type EngineKind, ROOT, dockerScenarios, outcomeFits } from "../../scripts/record-docker.js";
import { loadFixtures } from "../../src/cli/fixture.js";
import { type DoctorReport, LAN, PORT, machineNetworkState } from "./docker-engine.js";
import { IMAGE_CLI, IMAGE_GATEWAY, IMAGE_NODE, type Rootfs, buildRootfs } from "./image.js";
import { browserStatus } from "./browser.js";
import { atLastResort, caNamespaces, namespaceSupport } from "./netns.js";

const support = namespaceSupport();
if (!support.ok) console.warn(`docker-engine e2e: SKIPPED, ${support.why}`);

const BROWSER = path.join(ROOT, "test/e2e/browser.ts");
const SHOTS = path.join(ROOT, "test-output/e2e");
const REFUSED = { closed: { code: 1008, reason: "pairing required" } };
const V4 = `ws://127.0.0.1:${PORT}/ws`;
const DASHBOARD = `http://127.0.0.1:${PORT}/`;
const LOOPBACK_PUBLISH = `127.0.0.1:${PORT}:${PORT}`;

const scenarios = dockerScenarios();
const fixtures = new Map((await loadFixtures([DOCKER_FIXTURES])).map(({ fixture }) => [fixture.name, fixture]));

/** An IPv4-mapped peer as the resolver reports it: ::ffff:172.18.0.1 is 172.18.0.1. */
function canonical(address: string | undefined): string | undefined {
  return address?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "");
}

function header(rawHeaders: readonly string[], name: string): string | undefined {
  const at = rawHeaders.findIndex((item, i) => i % 2 === 0 && item.toLowerCase() === name);
  return at === -1 ? undefined : rawHeaders[at + 1];
}

// Limits, each at least the sum of the bounds of the steps inside it: a limit is for a hung step, not a slow
// machine, and none is waited out when the steps end. The root file system: `npm pack` (180 s, image.ts), then
// copies and a compile. An engine: its namespaces (13 `ip` commands of 10 s, 5 s for the link), dockerd's API
// (30 s), `docker version` (60 s) and the image's import (120 s). A test: a deployment (`docker-compose down`
// and `up`, 90 s each, then the gateway's readiness, 20 s) and a client (15 s, 35 s in a container, 70 s for
// Chromium); a doctor test (c) deploys twice, runs two clients and doctor (60 s). The docker commands between
// those steps are bounded at 60 s each but take an instant unless the engine hangs: they are not counted.
// Closing: per engine, its containers and networks removed (60 s, 60 s, 30 s) and dockerd's exit (25 s).
const ROOTFS_LIMIT_MS = 240_000;
const ENGINE_LIMIT_MS = 360_000;
const TEST_LIMIT_MS = 300_000;
const DOCTOR_LIMIT_MS = 600_000;
const CLOSE_LIMIT_MS = 600_000;

describe.skipIf(!support.ok)("the real Docker Engine (Debian's docker.io 20.10) in network namespaces", { timeout: TEST_LIMIT_MS }, () => {
  let rootfs: Rootfs | undefined;
  const labs: Partial<Record<EngineKind, DockerLab>> = {};
  const ids: string[] = [];
  const before = support.ok ? machineNetworkState() : {};

  let forgetRootfs = () => {};
  beforeAll(() => {
    rootfs = buildRootfs();
    forgetRootfs = atLastResort(() => rootfs?.remove());
  }, ROOTFS_LIMIT_MS);

  // One engine per topology family, kept for the file: each started in a hook of its own, under its own limit,
  // rather than inside the first test that needs it. The Compose engine stays fresh until its scenarios run.
  for (const kind of ["proxy", "compose", "nat"] as const) {
    beforeAll(async () => {
      labs[kind] = await DockerLab.open(kind, rootfs!);
      ids.push(labs[kind].engine.id);
    }, ENGINE_LIMIT_MS);
  }

  afterAll(async () => {
    for (const lab of Object.values(labs)) await lab.close();
    rootfs?.remove();
    forgetRootfs();
    // Everything was in our namespaces, folders and cgroups: all gone, and the machine's own network unchanged.
    expect(caNamespaces().filter((name) => ids.some((id) => name.includes(id)))).toEqual([]);
    for (const id of ids) expect(existsSync(`/sys/fs/cgroup/pids/ca-dk-${id}`) || existsSync(`/sys/fs/cgroup/ca-dk-${id}`)).toBe(false);
    expect(machineNetworkState()).toEqual(before);
  }, CLOSE_LIMIT_MS);

  /** The engine of this topology family (started before the tests). */
  async function lab(kind: EngineKind): Promise<DockerLab> {
    const started = labs[kind];
    if (started === undefined) throw new Error(`the ${kind} engine did not start (see its hook's error)`);
    return started;
  }

  /** Headless Chromium inside the engine's namespace (the host); returns what #status says, saves a screenshot. */
  async function browse(on: DockerLab, shot: string, url: string): Promise<string> {
    const screenshot = path.join(SHOTS, `docker-engine-${shot}.png`);
    rmSync(screenshot, { force: true });
    const { stdout, stderr } = await on.engine.in(on.engine.ns, [process.execPath, "--import", "tsx", BROWSER, JSON.stringify({ url, screenshot })], { timeoutMs: 70_000 });
    const status = browserStatus(stdout, stderr);
    expect(existsSync(screenshot), `screenshot ${screenshot}`).toBe(true);
    return status;
  }

  describe("(a) the seed, before and after: a user-defined bridge 172.18.0.0/16, -p 127.0.0.1:18789:18789", () => {
    const story = (trustedProxies: string[]): Deployment => ({ network: "user-bridge", publish: [LOOPBACK_PUBLISH], trustedProxies });

    it("the image holds the packed clientaddr (CLI included) and the example gateway", async () => {
      const proxy = await lab("proxy");
      const script = `const fs = require("node:fs");
        const pkg = JSON.parse(fs.readFileSync("/app/node_modules/clientaddr/package.json", "utf8"));
        console.log(JSON.stringify({ name: pkg.name, version: pkg.version, cli: fs.existsSync(${JSON.stringify(IMAGE_CLI)}), gateway: fs.readdirSync("/app/gateway").sort(), src: fs.existsSync("/app/node_modules/clientaddr/src") }));`;
      const { stdout, stderr } = await proxy.engine.inImage([IMAGE_NODE, "-e", script]);
      const found = JSON.parse(stdout.trim().split("\n").at(-1) ?? "null") as { name: string; version: string; cli: boolean; gateway: string[]; src: boolean } | null;
      expect(found, stderr).toEqual({ name: "clientaddr", version: rootfs!.version, cli: true, gateway: ["config.json", "dashboard.html", "gateway.js", "package.json", "server.js"], src: false });
      expect(IMAGE_GATEWAY).toBe("/app/gateway/server.js");
      const version = await proxy.engine.inImage([IMAGE_NODE, IMAGE_CLI, "--version"]);
      expect(version.stdout.trim()).toContain(rootfs!.version);
    });

    it("trustedProxies: [] closes a script's socket with 1008 pairing required; the log names 172.18.0.1 and the fix", async () => {
      const proxy = await lab("proxy");
      const gateway = await proxy.deploy(story([]));
      const { outcome, captured } = await proxy.handshake("seed-script-untrusted", "host", V4);
      expect(outcome).toEqual(REFUSED);
      expect(captured.request.peer?.address).toBe("::ffff:172.18.0.1"); // docker-proxy, from the bridge gateway
      expect(captured.request.local).toEqual({ address: "::ffff:172.18.0.2", port: PORT });
      expect(captured.result).toMatchObject({ address: "172.18.0.1", loopbackEquivalent: false, basis: "socket:remote-client" });
      const log = await gateway.logged("clientaddr: refused 172.18.0.1");
      expect(log).toContain(`clientaddr: refused 172.18.0.1 on port ${PORT}: direct-remote, socket:remote-client: `);
      expect(log).toContain('add "172.18.0.1" to trustedProxies');
    });

    it("trustedProxies: [], the dashboard in headless Chromium shows the bug as reported", async () => {
      const proxy = await lab("proxy");
      await proxy.deploy(story([]));
      expect(await browse(proxy, "untrusted", `${DASHBOARD}?case=browser-untrusted`)).toBe("disconnected (1008): pairing required");
      const { request, result } = proxy.gateway!.captured("browser-untrusted");
      expect(request.peer?.address).toBe("::ffff:172.18.0.1");
      expect(header(request.rawHeaders, "origin")).toBe(`http://127.0.0.1:${PORT}`);
      expect(result.basis).toBe("socket:remote-client");
    });

    it('trustedProxies: ["172.18.0.1"], a script connects as local', async () => {
      const proxy = await lab("proxy");
      await proxy.deploy(story(["172.18.0.1"]));
      const { outcome } = await proxy.handshake("seed-script-trusted", "host", V4);
      expect(outcome).toEqual({ opened: { connected: true, local: true, address: "172.18.0.1", basis: "socket:trusted-path" } });
    });

    it('trustedProxies: ["172.18.0.1"], the dashboard in headless Chromium connects as a local client', async () => {
      const proxy = await lab("proxy");
      await proxy.deploy(story(["172.18.0.1"]));
      expect(await browse(proxy, "trusted", `${DASHBOARD}?case=browser-trusted`)).toBe("connected as a local client (172.18.0.1)");
      const { request, result } = proxy.gateway!.captured("browser-trusted");
      expect(header(request.rawHeaders, "origin")).toBe(`http://127.0.0.1:${PORT}`);
      expect(result).toMatchObject({ address: "172.18.0.1", loopbackEquivalent: true, basis: "socket:trusted-path" });
    });
  });

  describe("(b) the recorded fixtures in fixtures/recorded/docker/, redone live", () => {
    it("cover every scenario of scripts/record-docker.ts", () => {
      expect([...fixtures.keys()].sort()).toEqual(scenarios.map(({ name }) => name).sort());
    });

    // In the scenarios' order: the Compose ones first on their fresh engine (the subnets depend on it).
    it.each(scenarios.map((scenario) => [scenario.name, scenario] as const))("%s", async (name, scenario) => {
      const fixture = fixtures.get(name);
      if (fixture === undefined) throw new Error(`${name}: no fixture; run scripts/record-docker.ts`);
      expect(scenario.trustedProxies).toEqual(fixture.options.trustedProxies);
      const { outcome, captured } = await (await lab(scenario.engine)).run(scenario); // checks peer, Host, Origin
      expect(captured.request.peer?.address).toBe(fixture.request.peer?.address);
      expect(captured.request.local?.address).toBe(fixture.request.local?.address);
      const { address, loopbackEquivalent, basis } = captured.result;
      expect({ address, loopbackEquivalent, basis }).toEqual(fixture.expected);
      expect(outcomeFits(outcome, fixture.expected), JSON.stringify(outcome)).toBe(true);
    });
  });

  describe("what cannot be recorded: the connections that fail, exactly how", () => {
    it("userland proxy off: a port published on [::1] is unreachable from the host's [::1] (the SYN is DNATed and dropped)", async () => {
      const nat = await lab("nat");
      const gateway = await nat.deploy({ network: "ipv6", publish: [`[::1]:${PORT}:${PORT}`], trustedProxies: ["fd18::1"] });
      const rules = await nat.engine.in(nat.engine.ns, ["ip6tables", "-w", "5", "-t", "nat", "-S", "DOCKER"]);
      expect(rules.stdout).toContain(`-A DOCKER -d ::1/128 -p tcp -m tcp --dport ${PORT} -j DNAT --to-destination [fd18::2]:${PORT}`);
      expect(await nat.engine.tcpProbe(nat.engine.ns, "::1", PORT)).toEqual({ error: "timeout: no TCP connection within 4000 ms (SYN unanswered)" });
      const outcome = await nat.engine.client(nat.engine.ns, { url: `ws://[::1]:${PORT}/ws?case=v6-kernel`, timeoutMs: 3_000 });
      expect(outcome).toEqual({ error: "Opening handshake has timed out" });
      expect(() => gateway.captured("v6-kernel")).toThrow(/captured no handshake/);
      // The same container is reachable on its own address from the host: it is the loopback path that fails.
      const direct = await nat.engine.client(nat.engine.ns, { url: `ws://[fd18::2]:${PORT}/ws?case=v6-direct` });
      expect(direct).toEqual(REFUSED); // Host [fd18::2]:18789 is not this machine
      expect(gateway.captured("v6-direct").request.peer?.address).toBe("fd18::1");
    });

    it("userland proxy off: a LAN machine on IPv6 is refused by a port published on every interface of an IPv4-only network", async () => {
      const nat = await lab("nat");
      await nat.deploy({ network: "user-bridge", publish: [`${PORT}:${PORT}`], trustedProxies: ["172.18.0.1"] });
      expect(await nat.engine.tcpProbe(nat.engine.lanNs, LAN.hostV6, PORT)).toEqual({ error: `connect ECONNREFUSED ${LAN.hostV6}:${PORT}` });
    });

    it("a port published on 127.0.0.1 is refused to a LAN machine dialling the host's LAN address", async () => {
      for (const kind of ["proxy", "nat"] as const) {
        const on = await lab(kind);
        await on.deploy({ network: "user-bridge", publish: [LOOPBACK_PUBLISH], trustedProxies: ["172.18.0.1"] });
        expect(await on.engine.tcpProbe(on.engine.lanNs, LAN.hostV4, PORT)).toEqual({ error: `connect ECONNREFUSED ${LAN.hostV4}:${PORT}` });
      }
    });
  });

  describe("(c) clientaddr doctor inside the container names the address the gateway then sees", { timeout: DOCTOR_LIMIT_MS }, () => {
    /**
     * Deploys with nothing trusted, lets the host's client in through the published port, runs doctor in the
     * container; then deploys again trusting exactly what doctor recommended, and the same client is local.
     */
    async function checkDoctor(kind: EngineKind, deployment: Omit<Deployment, "trustedProxies">, url: string, tag: string): Promise<{ report: DoctorReport; peer: string }> {
      const on = await lab(kind);
      const gateway = await on.deploy({ ...deployment, trustedProxies: [] });
      const { outcome, captured } = await on.handshake(`doctor-${tag}-untrusted`, "host", url);
      expect(outcome).toEqual(REFUSED);
      const peer = canonical(captured.request.peer?.address)!;
      const report = await gateway.doctor();
      expect(report.facts.container.detected).toBe(true);
      expect(report.recommendation.trustedProxies).toContain(peer);
      await on.deploy({ ...deployment, trustedProxies: [...report.recommendation.trustedProxies] });
      const trusted = await on.handshake(`doctor-${tag}-trusted`, "host", url);
      expect(trusted.outcome).toEqual({ opened: { connected: true, local: true, address: peer, basis: "socket:trusted-path" } });
      return { report, peer };
    }

    it("the default bridge: 172.17.0.1", async () => {
      const { report, peer } = await checkDoctor("proxy", { network: "default-bridge", publish: [LOOPBACK_PUBLISH] }, V4, "default-bridge");
      expect(peer).toBe("172.17.0.1");
      expect(report.recommendation.trustedProxies).toEqual(["172.17.0.1"]);
    });

    it("a user-defined bridge 172.18.0.0/16: 172.18.0.1", async () => {
      const { report, peer } = await checkDoctor("proxy", { network: "user-bridge", publish: [LOOPBACK_PUBLISH] }, V4, "user-bridge");
      expect(peer).toBe("172.18.0.1");
      expect(report.recommendation.trustedProxies).toEqual(["172.18.0.1"]);
    });

    it("the same with the userland proxy off (kernel DNAT + masquerade): 172.18.0.1", async () => {
      const { report, peer } = await checkDoctor("nat", { network: "user-bridge", publish: [LOOPBACK_PUBLISH] }, V4, "nat-user-bridge");
      expect(peer).toBe("172.18.0.1");
      expect(report.recommendation.trustedProxies).toEqual(["172.18.0.1"]);
    });

    it("a dual-stack network published on [::1]: fd18::1 (after the IPv4 gateway 172.19.0.1)", async () => {
      const { report, peer } = await checkDoctor("proxy", { network: "ipv6", publish: [`[::1]:${PORT}:${PORT}`] }, `ws://[::1]:${PORT}/ws`, "ipv6");
      expect(peer).toBe("fd18::1");
      expect(report.recommendation.trustedProxies).toEqual(["172.19.0.1", "fd18::1"]);
    });

    it("the story's Compose project (compose.pinned.yaml, 172.18.0.0/16): 172.18.0.1", async () => {
      const { report, peer } = await checkDoctor(
        "compose",
        { network: "compose", publish: [LOOPBACK_PUBLISH], compose: { file: "compose.pinned.yaml", recreate: false, subnet: "172.18.0.0/16" } },
        V4,
        "compose",
      );
      expect(peer).toBe("172.18.0.1");
      expect(report.recommendation.trustedProxies).toEqual(["172.18.0.1"]);
    });

    describe("--network host: the gateway sees the host's clients on loopback and needs no trustedProxies", () => {
      let report: DoctorReport | undefined;

      it("the host's script is local with trustedProxies: []; doctor runs and reports the host's default gateway", async () => {
        const proxy = await lab("proxy");
        const gateway = await proxy.deploy({ network: "host", publish: [], trustedProxies: [] });
        const { outcome, captured } = await proxy.handshake("doctor-host-network", "host", V4);
        expect(outcome).toEqual({ opened: { connected: true, local: true, address: "127.0.0.1", basis: "socket:loopback" } });
        expect(captured.request.peer?.address).toBe("::ffff:127.0.0.1");
        report = await gateway.doctor();
        expect(report.facts.container.detected).toBe(true); // /.dockerenv is there whatever the network
        expect(report.facts.gateways.map(({ address }) => address)).toEqual([LAN.routerV4]); // the LAN's router
      });

      // The default gateway here is the host's router: trusting it would let anything that arrives from the
      // router's address pass for local (fixture dockerd-host-network-router-trusted-forged-host). doctor sees
      // the engine's bridge among the interfaces, recommends nothing, and warns of a list that trusts the router.
      it("doctor recommends nothing under --network host", () => {
        expect(report).toBeDefined();
        // The interfaces in the message: what doctor saw of the host's network.
        expect(report!.recommendation.trustedProxies, JSON.stringify(report!.facts.interfaces)).toEqual([]);
        expect(report!.warnings.map(({ code }) => code)).toContain("host-network");
      });
    });
  });
});

// The screenshots docs/testing.md shows are these two, copied by hand once they look right:
//   cp test-output/e2e/docker-engine-untrusted.png docs/dashboard-untrusted.png
//   cp test-output/e2e/docker-engine-trusted.png docs/dashboard-trusted.png
