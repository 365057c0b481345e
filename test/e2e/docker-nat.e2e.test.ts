// The reported bug, end to end: the example gateway in a "container" network namespace behind Docker-shaped
// port publishing (a userland relay like docker-proxy, and the kernel's DNAT + MASQUERADE), real `ws` clients
// and headless Chromium in the "host" namespace. See test/e2e/netns.ts for the topology and
// scripts/record-nat.ts for the scenarios, which this file also redoes live against the recorded fixtures.
//
// Every client, browser, relay and server runs inside a namespace this file creates; nothing is sent from the
// machine's own namespace and nothing is added to it. Outcomes are read from what the processes print and
// what the gateway captured, never from exit codes.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NAT_FIXTURES, NatLab, ROOT, natScenarios } from "../../scripts/record-nat.js";
import { loadFixtures } from "../../src/cli/fixture.js";
import { browserStatus } from "./browser.js";
import { CONTAINER_PORT, namespaceSupport, caNamespaces } from "./netns.js";

const support = namespaceSupport();
if (!support.ok) console.warn(`docker-nat e2e: SKIPPED, ${support.why}`);

const BROWSER = path.join(ROOT, "test/e2e/browser.ts");
const SHOTS = path.join(ROOT, "test-output/e2e");
const REFUSED = { closed: { code: 1008, reason: "pairing required" } };
const V4 = `ws://127.0.0.1:${CONTAINER_PORT}/ws`;
const DASHBOARD = `http://127.0.0.1:${CONTAINER_PORT}/`;
const ROUTE_LOCALNET = "/proc/sys/net/ipv4/conf/all/route_localnet";

const fixtures = await loadFixtures([NAT_FIXTURES]);
const scenarios = new Map(natScenarios().map((scenario) => [scenario.name, scenario]));

/** Opens a page in headless Chromium inside the host namespace; returns what #status says, and saves a screenshot. */
async function browse(lab: NatLab, shot: string, url: string, hostResolverRules?: string): Promise<string> {
  const screenshot = path.join(SHOTS, `docker-nat-${shot}.png`);
  rmSync(screenshot, { force: true });
  const args = JSON.stringify({ url, screenshot, ...(hostResolverRules === undefined ? {} : { hostResolverRules }) });
  const { stdout, stderr } = await lab.topology.run(lab.topology.hostNs, ["node", "--import", "tsx", BROWSER, args], { timeoutMs: 70_000 });
  const status = browserStatus(stdout, stderr);
  expect(existsSync(screenshot), `screenshot ${screenshot}`).toBe(true);
  return status;
}

/** The value of one header as the gateway received it. */
function header(rawHeaders: readonly string[], name: string): string | undefined {
  const at = rawHeaders.findIndex((item, i) => i % 2 === 0 && item.toLowerCase() === name);
  return at === -1 ? undefined : rawHeaders[at + 1];
}

/** The gateway logs its refusal line asynchronously (a pipe): wait for it, bounded. */
async function logged(output: () => string, text: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!output().includes(text) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return output();
}

describe.skipIf(!support.ok)("Docker-shaped NAT in network namespaces", () => {
  const ids: string[] = [];
  const routeLocalnetBefore = support.ok ? readFileSync(ROUTE_LOCALNET, "utf8") : "";

  afterAll(() => {
    // Everything was in our namespaces: they are gone, and the machine's own sysctl never changed.
    expect(caNamespaces().filter((name) => ids.some((id) => name.endsWith(id)))).toEqual([]);
    expect(readFileSync(ROUTE_LOCALNET, "utf8")).toBe(routeLocalnetBefore);
  });

  async function open(kind: "userland" | "kernel"): Promise<NatLab> {
    const lab = await NatLab.open(kind);
    ids.push(lab.topology.id);
    return lab;
  }

  describe("userland relay (docker-proxy's way): 127.0.0.1:18789 and [::1]:18789 in the host namespace", () => {
    let lab: NatLab | undefined;
    beforeAll(async () => {
      lab = await open("userland");
    });
    afterAll(async () => {
      await lab?.close();
    });

    it("builds nothing in the machine's own namespace", () => {
      const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8", timeout: 5_000 });
      expect(links).not.toContain(lab!.topology.id);
    });

    it("without trustedProxies, a script is refused with 1008 and the log names 172.18.0.1 and the fix", async () => {
      const gateway = await lab!.gateway([]);
      const { outcome, captured } = await lab!.handshake("script-untrusted", V4);
      expect(outcome).toEqual(REFUSED);
      expect(captured.request.peer?.address).toBe("::ffff:172.18.0.1"); // the relay's address, not 127.0.0.1
      expect(captured.request.local).toEqual({ address: "::ffff:172.18.0.2", port: CONTAINER_PORT });
      expect(captured.result).toMatchObject({ address: "172.18.0.1", loopbackEquivalent: false, basis: "socket:remote-client" });
      const log = await logged(gateway.output, "clientaddr: refused 172.18.0.1");
      expect(log).toContain(`clientaddr: refused 172.18.0.1 on port ${CONTAINER_PORT}: direct-remote, socket:remote-client: `);
      expect(log).toContain('add "172.18.0.1" to trustedProxies');
    });

    it("without trustedProxies, the browser's dashboard shows the bug as reported", async () => {
      await lab!.gateway([]);
      const status = await browse(lab!, "relay-untrusted", `${DASHBOARD}?case=browser-untrusted`);
      expect(status).toBe("disconnected (1008): pairing required");
      const { request, result } = lab!.captured("browser-untrusted");
      expect(request.peer?.address).toBe("::ffff:172.18.0.1");
      expect(header(request.rawHeaders, "origin")).toBe(`http://127.0.0.1:${CONTAINER_PORT}`);
      expect(result.basis).toBe("socket:remote-client");
    });

    it('with trustedProxies ["172.18.0.1"], the dashboard and a script are local', async () => {
      await lab!.gateway(["172.18.0.1"]);
      const status = await browse(lab!, "relay-trusted", `${DASHBOARD}?case=browser-trusted`);
      expect(status).toBe("connected as a local client (172.18.0.1)");
      expect(lab!.captured("browser-trusted").result).toMatchObject({ address: "172.18.0.1", loopbackEquivalent: true, basis: "socket:trusted-path" });
      const { outcome } = await lab!.handshake("script-trusted", V4);
      expect(outcome).toEqual({ opened: { connected: true, local: true, address: "172.18.0.1", basis: "socket:trusted-path" } });
    });

    it("with the same trust, a page from another site opening ws://127.0.0.1:18789 is refused", async () => {
      await lab!.gateway(["172.18.0.1"]);
      // The other site: evil.example (Chromium maps the name to 127.0.0.2, no DNS), a second server in the
      // host namespace. Its page's Origin is http://evil.example:8080, which does not name this machine.
      const site = await lab!.topology.start(
        lab!.topology.hostNs,
        ["node", "--import", "tsx", BROWSER, "--serve-page", "127.0.0.2", "8080", `${V4}?case=browser-cross-site`],
        { readyPattern: /page server: listening/ },
      );
      try {
        const status = await browse(lab!, "cross-site", "http://evil.example:8080/", "MAP evil.example 127.0.0.2");
        expect(status).toBe("disconnected (1008): pairing required");
      } finally {
        await site.stop();
      }
      const { request, result } = lab!.captured("browser-cross-site");
      expect(request.peer?.address).toBe("::ffff:172.18.0.1");
      expect(header(request.rawHeaders, "origin")).toBe("http://evil.example:8080");
      expect(header(request.rawHeaders, "host")).toBe(`127.0.0.1:${CONTAINER_PORT}`);
      expect(result).toMatchObject({ loopbackEquivalent: false, basis: "socket:origin-not-local" });
    });

    it("with the same trust, a LAN-style request to 172.18.0.2 (Host not loopback) is not local", async () => {
      await lab!.gateway(["172.18.0.1"]);
      const status = await browse(lab!, "lan-host", `http://172.18.0.2:${CONTAINER_PORT}/?case=browser-lan`);
      expect(status).toBe("disconnected (1008): pairing required");
      const { request, result } = lab!.captured("browser-lan");
      expect(request.peer?.address).toBe("::ffff:172.18.0.1");
      expect(header(request.rawHeaders, "host")).toBe(`172.18.0.2:${CONTAINER_PORT}`);
      expect(result).toMatchObject({ address: "172.18.0.1", loopbackEquivalent: false, basis: "socket:host-not-local" });
    });

    it("clientaddr doctor, run in the container namespace, names 172.18.0.1 and flags a whole-/16 trust", async () => {
      const config = path.join(lab!.dir, "doctor-config.json");
      writeFileSync(config, JSON.stringify({ gateway: { trustedProxies: ["172.18.0.0/16"] } }));
      const { stdout, stderr } = await lab!.topology.run(lab!.topology.containerNs, ["node", path.join(ROOT, "dist/cli/bin.js"), "doctor", "--json", "--config", config]);
      let report: { recommendation: { trustedProxies: string[] }; facts: { gateways: Array<{ address: string }> }; config: { findings: Array<{ code: string; message: string }> } };
      try {
        report = JSON.parse(stdout) as typeof report;
      } catch {
        throw new Error(`doctor printed no JSON: ${stdout}${stderr}`);
      }
      expect(report.recommendation.trustedProxies[0]).toBe("172.18.0.1");
      expect(report.facts.gateways.map((gateway) => gateway.address)).toContain("172.18.0.1");
      const wide = report.config.findings.find((finding) => finding.code === "private-range");
      expect(wide?.message).toContain('"172.18.0.1"');
    });

    it("IPv6 through the relay: the gateway sees fd18::1; local only when fd18::1 is trusted", async () => {
      const url = `ws://[::1]:${CONTAINER_PORT}/ws`;
      await lab!.gateway(["fd18::1"]);
      const trusted = await lab!.handshake("v6-trusted", url);
      expect(trusted.outcome).toEqual({ opened: { connected: true, local: true, address: "fd18::1", basis: "socket:trusted-path" } });
      expect(trusted.captured.request.peer?.address).toBe("fd18::1");
      expect(header(trusted.captured.request.rawHeaders, "host")).toBe(`[::1]:${CONTAINER_PORT}`);

      const gateway = await lab!.gateway([]);
      const untrusted = await lab!.handshake("v6-untrusted", url);
      expect(untrusted.outcome).toEqual(REFUSED);
      expect(untrusted.captured.result).toMatchObject({ address: "fd18::1", basis: "socket:remote-client" });
      expect(await logged(gateway.output, "refused fd18::1")).toContain('add "fd18::1" to trustedProxies');
    });
  });

  describe("kernel DNAT + MASQUERADE (Docker without the userland proxy): 127.0.0.1:18789", () => {
    let lab: NatLab | undefined;
    beforeAll(async () => {
      lab = await open("kernel");
    });
    afterAll(async () => {
      await lab?.close();
    });

    it("has no relay: nothing listens in the host namespace, route_localnet is 1 there only", async () => {
      const listening = await lab!.topology.run(lab!.topology.hostNs, ["ss", "-H", "-l", "-t", "-n"]);
      expect(listening.stdout.trim()).toBe("");
      const inside = await lab!.topology.run(lab!.topology.hostNs, ["sysctl", "-n", "net.ipv4.conf.all.route_localnet"]);
      expect(inside.stdout.trim()).toBe("1");
      expect(readFileSync(ROUTE_LOCALNET, "utf8")).toBe(routeLocalnetBefore);
    });

    it('with trustedProxies ["172.18.0.1"], a client on 127.0.0.1:18789 reaches the gateway as 172.18.0.1 and is local', async () => {
      await lab!.gateway(["172.18.0.1"]);
      const { outcome, captured } = await lab!.handshake("kernel-trusted", V4);
      expect(outcome).toEqual({ opened: { connected: true, local: true, address: "172.18.0.1", basis: "socket:trusted-path" } });
      expect(captured.request.peer?.address).toBe("::ffff:172.18.0.1"); // masqueraded, not 127.0.0.1
      expect(captured.request.local).toEqual({ address: "::ffff:172.18.0.2", port: CONTAINER_PORT });
      expect(header(captured.request.rawHeaders, "host")).toBe(`127.0.0.1:${CONTAINER_PORT}`);
    });

    it("without the trust, the same client is refused", async () => {
      const gateway = await lab!.gateway([]);
      const { outcome, captured } = await lab!.handshake("kernel-untrusted", V4);
      expect(outcome).toEqual(REFUSED);
      expect(captured.result).toMatchObject({ address: "172.18.0.1", basis: "socket:remote-client" });
      expect(await logged(gateway.output, "refused 172.18.0.1")).toContain('add "172.18.0.1" to trustedProxies');
    });
  });

  describe("the recorded fixtures in fixtures/recorded/nat/, redone live", () => {
    const labs: Partial<Record<"userland" | "kernel", NatLab>> = {};
    beforeAll(async () => {
      labs.userland = await open("userland");
      labs.kernel = await open("kernel");
    });
    afterAll(async () => {
      await Promise.all(Object.values(labs).map((lab) => lab.close()));
    });

    it("cover every scenario of scripts/record-nat.ts", () => {
      expect(fixtures.map(({ fixture }) => fixture.name).sort()).toEqual([...scenarios.keys()].sort());
    });

    it.each(fixtures.map(({ fixture }) => [fixture.name, fixture] as const))("%s", async (name, fixture) => {
      const scenario = scenarios.get(name);
      if (scenario === undefined) throw new Error(`${name}: no such scenario in scripts/record-nat.ts`);
      expect(scenario.trustedProxies).toEqual(fixture.options.trustedProxies);
      const { outcome, captured } = await labs[scenario.lab]!.run(scenario);
      expect(captured.request.peer?.address).toBe(fixture.request.peer?.address);
      const { address, loopbackEquivalent, basis } = captured.result;
      expect({ address, loopbackEquivalent, basis }).toEqual(fixture.expected);
      if (loopbackEquivalent) expect(outcome).toMatchObject({ opened: { local: true } });
      else expect(outcome).toEqual(REFUSED);
    });
  });
});
