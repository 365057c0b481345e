// Issue 26's "Show", proxies named like containers, on the REAL Docker Engine (Debian's docker.io 20.10 and
// docker-compose 1.29, in network namespaces of its own: test/e2e/docker-engine.ts): the example gateway with
// TRUSTED_PROXIES=proxy (examples/compose/compose.proxy.yaml), the proxy (Debian's Caddy) re-created with a new
// address while traffic flows, and every answer checked (test/e2e/docker-compose-names.ts has the topology).
//
//   1. `docker-compose up`: proxy at OLD (172.28.0.20), the gateway looking `proxy` up every REFRESH_MS.
//   2. The host's client sends one handshake after another through the published port (the proxy), with the
//      token and a paired device, so that every answer is a message naming the client and the basis: through a
//      trusted proxy, the client the proxy names (its peer, the bridge gateway 172.28.0.1, x-forwarded-for:...);
//      through an untrusted one, the proxy itself (socket:remote-client).
//   3. `docker-compose up` again with PROXY_IP=NEW (172.28.0.21): Compose stops the old proxy, starts a new one.
//      Meanwhile an impostor container waits for OLD to be free, takes it the moment it is, and sends handshakes
//      straight to the gateway with a forged `X-Forwarded-For: 127.0.0.1` and no token: believed, it is admitted
//      as local; not believed, it is closed with 1008.
//   4. A prober container asks Docker's DNS for `proxy` every 50 ms: when the name really lost OLD and gained NEW.
//
// The checks: every answer is the one the gateway captured for that request; (a) nothing is trusted from an
// address the name does not have, except the impostor at OLD before the gateway's next lookup (the window the
// trust model names), and never after it; (b) the gateway's lookup sees NEW within one interval (plus 1.5 s of
// slack) of Docker's DNS having it, and from then on every request through the new proxy is trusted. Answers are read from what the clients printed and what the gateway captured, never exit codes.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Handshake } from "../../examples/gateway/gateway.js";
import { DockerEngine, IMAGE, machineNetworkState } from "./docker-engine.js";
import {
  BRIDGE_GATEWAY,
  DEVICE,
  LOOP_JS,
  type LoopLine,
  NamedProxyProject,
  PROBE_JS,
  PUBLISHED,
  type ProbeLine,
  TOKEN,
  buildProxyRootfs,
  loopLines,
} from "./docker-compose-names.js";
import { type Rootfs, buildRootfs } from "./image.js";
import { atLastResort, caNamespaces, namespaceSupport } from "./netns.js";
import { sleep } from "./processes.js";

const support = namespaceSupport();
if (!support.ok) console.warn(`docker-compose-names e2e: SKIPPED, ${support.why}`);

/** The gateway's TRUSTED_PROXIES_REFRESH_MS. */
const REFRESH_MS = 1_000;
/**
 * How late the gateway may see the new address after Docker's DNS has it: one interval (a round that times out
 * while the name is gone ends before the next tick, which looks up afresh), plus slack for the lookup itself,
 * dockerd's timestamp on the log line and a loaded machine. Measured: 0.2 to 0.6 s.
 */
const SEEN_WITHIN_MS = REFRESH_MS + 1_500;
const OLD = "172.28.0.20";
const NEW = "172.28.0.21";
/** How long the host's client sends, and when (from its start) the proxy is re-created. */
const TRAFFIC_MS = 18_000;
const RECREATE_AFTER_MS = 4_000;
/** Enough answers in each phase for the checks to mean something. */
const AT_LEAST = 20;

// Limits: each at least the sum of the bounds of the steps inside it (a limit is for a hung step). Setup: the
// gateway's root file system (npm pack, 180 s, then copies), Caddy's, the engine (its namespaces, dockerd's API
// 30 s, `docker version` 60 s), two imports (120 s each), `docker-compose up` (90 s) and the gateway's first
// log line (20 s). The scenario: the traffic (18 s), the re-creation (90 s), the impostor's start (30 s), the
// containers' waits and logs (60 s + 30 s each) and the captures. Closing: as docker-engine.e2e.test.ts's.
const SETUP_LIMIT_MS = 600_000;
const SCENARIO_LIMIT_MS = 300_000;
const CLOSE_LIMIT_MS = 180_000;

/** One answer of a loop, with the handshake the gateway captured for it. */
interface Answer {
  who: "host" | "impostor";
  line: LoopLine;
  captured: Handshake;
  /** The gateway's socket peer (IPv4, as the gateway listens on 0.0.0.0). */
  peer: string;
  /** Whether the gateway believed the peer's X-Forwarded-For: its peer was trusted. */
  trusted: boolean;
  /**
   * The old proxy, stopped by the re-creation, closed the client's WebSocket with 1001 (going away, RFC 6455
   * section 7.4.1; Caddy does so for every WebSocket it carries when it stops) before the gateway's message
   * passed through it: the gateway answered, the client never saw the answer. Counted as a failure as well.
   */
  cutByProxy: boolean;
}

interface Scenario {
  host: LoopLine[];
  impostor: LoopLine[];
  /** When the impostor began running at OLD. */
  impostorStarted: number;
  probes: ProbeLine[];
  log: Array<{ at: number; line: string }>;
  recreateStart: number;
  recreateEnd: number;
  /** The new proxy's address and State.StartedAt. */
  newProxy: { address: string; startedAt: number };
  answers: Answer[];
  /** Lines that are not the gateway's answers (a connection refused while the proxy is re-created, a timeout, the proxy's own HTTP error). */
  failures: Array<{ who: Answer["who"]; line: LoopLine }>;
}

describe.skipIf(!support.ok)("a proxy named like a container (TRUSTED_PROXIES=proxy), re-created with a new address while traffic flows", { timeout: SCENARIO_LIMIT_MS }, () => {
  let rootfs: Rootfs | undefined;
  let caddy: Rootfs | undefined;
  let engine: DockerEngine | undefined;
  let project: NamedProxyProject | undefined;
  let scenario: Promise<Scenario> | undefined;
  const before = support.ok ? machineNetworkState() : {};
  let forget = () => {};

  beforeAll(async () => {
    forget = atLastResort(() => {
      rootfs?.remove();
      caddy?.remove();
    });
    rootfs = buildRootfs();
    caddy = buildProxyRootfs();
    engine = await DockerEngine.start();
    engine.importImage(rootfs);
    project = new NamedProxyProject(engine, REFRESH_MS);
    project.importProxyImage(caddy);
    await project.up(OLD);
    await project.gatewayLogged(new RegExp(`^gateway: trustedProxies name "proxy": ${OLD.replaceAll(".", "\\.")}; looked up again every ${REFRESH_MS} ms$`), 20_000);
  }, SETUP_LIMIT_MS);

  afterAll(async () => {
    const id = engine?.id;
    await engine?.close();
    rootfs?.remove();
    caddy?.remove();
    forget();
    if (id === undefined) return;
    // Everything was in our namespaces, folders and cgroups: all gone, and the machine's own network unchanged.
    expect(caNamespaces().filter((name) => name.includes(id))).toEqual([]);
    expect(existsSync(`/sys/fs/cgroup/pids/ca-dk-${id}`) || existsSync(`/sys/fs/cgroup/ca-dk-${id}`)).toBe(false);
    expect(machineNetworkState()).toEqual(before);
  }, CLOSE_LIMIT_MS);

  /** The scenario, run once (by the first test that needs it; a failure fails them all); each test checks one thing of it. */
  function run(): Promise<Scenario> {
    scenario ??= play();
    return scenario;
  }

  async function play(): Promise<Scenario> {
    if (project === undefined) throw new Error("the project did not come up (see the setup hook's error)");
    const p = project;
    const gatewayAddress = (await p.inspect(await p.container("gateway"))).address;
    const prober = await p.startContainer("prober", PROBE_JS, [JSON.stringify({ name: "proxy", everyMs: 50, durationMs: TRAFFIC_MS + 2_000, timeoutMs: 200 })]);
    if (prober === null) throw new Error("the prober did not start");
    const hostLoop = p.hostLoop({
      url: `ws://${PUBLISHED.host}:${PUBLISHED.port}/ws?token=${TOKEN}&device=${DEVICE}`,
      prefix: "host",
      durationMs: TRAFFIC_MS,
      timeoutMs: 3_000,
      pauseMs: 5,
    });
    await sleep(RECREATE_AFTER_MS);
    const recreateStart = Date.now();
    // Started alongside the re-creation: it runs the moment Docker frees OLD.
    const impostorStart = p.startWhenFree(
      "impostor",
      LOOP_JS,
      [
        "/app/node_modules/ws",
        JSON.stringify({
          url: `ws://${gatewayAddress}:18789/ws`,
          headers: { "X-Forwarded-For": "127.0.0.1", Host: "127.0.0.1:18789" },
          prefix: "impostor",
          durationMs: TRAFFIC_MS - RECREATE_AFTER_MS,
          timeoutMs: 3_000,
          pauseMs: 5,
        }),
      ],
      OLD,
      recreateStart + 30_000,
    );
    await p.up(NEW, ["proxy"]);
    const recreateEnd = Date.now();
    const newProxy = await p.inspect(await p.container("proxy"));
    const impostor = await impostorStart;
    const host = await hostLoop;
    const impostorOutput = await p.containerOutput(impostor.name, 60_000);
    const proberOutput = await p.containerOutput(prober, 60_000);
    const probes = proberOutput.stdout
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as ProbeLine);
    const log = await p.gatewayLog();

    const answers: Answer[] = [];
    const failures: Scenario["failures"] = [];
    const impostorLines = loopLines(impostorOutput.stdout, `the impostor (${impostorOutput.exit}: ${impostorOutput.stderr.slice(0, 500)})`);
    for (const [who, lines] of [["host", host], ["impostor", impostorLines]] as const) {
      for (const line of lines) {
        if ("error" in line.outcome) {
          failures.push({ who, line });
          continue;
        }
        const captured = p.captured(line.id);
        if (captured === undefined) {
          // An HTTP error from the proxy (a 502 when it cannot reach the gateway) is the proxy's, not an answer.
          if ("refused" in line.outcome) failures.push({ who, line });
          else throw new Error(`${line.id} was answered (${JSON.stringify(line.outcome)}) but the gateway captured no handshake for it`);
          continue;
        }
        const basis = captured.result.basis;
        // Only the proxy goes away: the gateway itself closes a WebSocket with 1008 or not at all.
        const cutByProxy = who === "host" && "closed" in line.outcome && line.outcome.closed.code === 1001;
        if (cutByProxy) failures.push({ who, line });
        answers.push({ who, line, captured, peer: captured.request.peer?.address ?? "(none)", trusted: basis.startsWith("x-forwarded-for:"), cutByProxy });
      }
    }
    const played = { host, impostor: impostorLines, impostorStarted: impostor.started, probes, log, recreateStart, recreateEnd, newProxy, answers, failures };
    console.log(summary(played));
    return played;
  }

  /**
   * When the gateway's lookups first trusted NEW: the time dockerd received the log line saying so. The name
   * either changed its addresses from one lookup to the next, or stopped resolving while the proxy was
   * re-created (on a loaded machine Docker's DNS may time out then) and resolves again, to NEW.
   */
  function seenNew(s: Scenario): number {
    const line = s.log.find(({ line }) => line.startsWith('clientaddr: trustedProxies name "proxy"') && line.includes(`to ${NEW}`) && line.includes(`: trusting ${NEW}`));
    if (line === undefined) throw new Error(`the gateway never logged that "proxy" is ${NEW}:\n${s.log.map((entry) => entry.line).join("\n")}`);
    return line.at;
  }

  /** From the prober: the last query that still saw OLD began at oldUntil; the first that saw NEW ended at newBy. */
  function dns(s: Scenario): { oldUntil: number; newFrom: number; newBy: number } {
    const sawOld = s.probes.filter((probe) => "addresses" in probe && probe.addresses.includes(OLD));
    const sawNew = s.probes.filter((probe) => "addresses" in probe && probe.addresses.includes(NEW));
    if (sawOld.length === 0 || sawNew.length === 0) throw new Error(`the prober saw ${sawOld.length} answers with ${OLD} and ${sawNew.length} with ${NEW}`);
    const newBy = Math.min(...sawNew.map((probe) => probe.e));
    // NEW was not there yet when a query that began before newBy answered without it.
    const without = s.probes.filter((probe) => probe.s < newBy && !("addresses" in probe && probe.addresses.includes(NEW)));
    return { oldUntil: Math.max(...sawOld.map((probe) => probe.s)), newFrom: Math.max(...without.map((probe) => probe.s), 0), newBy };
  }

  it("Docker's DNS: `proxy` was OLD, then NEW, never both, and never anything else", async () => {
    const s = await run();
    const { oldUntil, newBy } = dns(s);
    expect(oldUntil).toBeLessThan(newBy);
    for (const probe of s.probes) {
      if ("addresses" in probe) expect([[OLD], [NEW]], JSON.stringify(probe)).toContainEqual(probe.addresses);
    }
    expect(s.newProxy.address).toBe(NEW);
  });

  it("every answer is the gateway's, as captured: the message or the 1008 carries the captured result", async () => {
    const s = await run();
    for (const { line, captured, cutByProxy } of s.answers) {
      const { address, loopbackEquivalent, basis } = captured.result;
      // Cut by the old proxy as it stopped: bounded to the re-creation by the failures' test below.
      if (cutByProxy) continue;
      if (captured.admitted) expect(line.outcome, line.id).toEqual({ opened: { connected: true, local: loopbackEquivalent, address, basis } });
      else expect(line.outcome, line.id).toEqual({ closed: { code: 1008, reason: "pairing required" } });
    }
  });

  it("every answer through the proxy: from OLD or NEW, trusted (the client the proxy names) or untrusted (the proxy itself), nothing else", async () => {
    const s = await run();
    const host = s.answers.filter(({ who }) => who === "host");
    for (const { line, captured, peer, trusted } of host) {
      expect([OLD, NEW], line.id).toContain(peer);
      // Caddy's X-Forwarded-For: its peer, docker-proxy's connection from the bridge gateway.
      expect(header(captured.request.rawHeaders, "x-forwarded-for"), line.id).toBe(BRIDGE_GATEWAY);
      const expected = trusted
        ? { address: BRIDGE_GATEWAY, loopbackEquivalent: false, basis: "x-forwarded-for:remote-client" }
        : { address: peer, loopbackEquivalent: false, basis: "socket:remote-client" };
      const { address, loopbackEquivalent, basis } = captured.result;
      expect({ address, loopbackEquivalent, basis }, line.id).toEqual(expected);
      expect(captured.admitted, line.id).toBe(true); // the paired device
    }
    // The old proxy was trusted for as long as it served (the gateway trusts OLD until it sees NEW).
    const fromOld = host.filter(({ peer }) => peer === OLD);
    expect(fromOld.length).toBeGreaterThanOrEqual(AT_LEAST);
    expect(fromOld.filter(({ trusted }) => !trusted).map(({ line }) => line.id)).toEqual([]);
  });

  it("every answer to the impostor at OLD: admitted as local only while the gateway trusted OLD, else refused as itself", async () => {
    const s = await run();
    const impostor = s.answers.filter(({ who }) => who === "impostor");
    expect(impostor.length).toBeGreaterThanOrEqual(AT_LEAST);
    for (const { line, captured, peer, trusted } of impostor) {
      expect(peer, line.id).toBe(OLD);
      const expected = trusted
        ? { address: "127.0.0.1", loopbackEquivalent: true, basis: "x-forwarded-for:loopback" }
        : { address: OLD, loopbackEquivalent: false, basis: "socket:remote-client" };
      const { address, loopbackEquivalent, basis } = captured.result;
      expect({ address, loopbackEquivalent, basis }, line.id).toEqual(expected);
    }
    // The impostor got answers on both sides of the gateway's lookup, and none after it trusted OLD.
    const seen = seenNew(s);
    const after = impostor.filter(({ line }) => line.sent > seen);
    expect(after.length).toBeGreaterThanOrEqual(AT_LEAST);
    expect(after.filter(({ trusted }) => trusted).map(({ line }) => line.id)).toEqual([]);
  });

  it("(a) nothing is trusted from an address the name does not have, beyond the gateway's next lookup", async () => {
    const s = await run();
    const seen = seenNew(s);
    const { oldUntil, newFrom } = dns(s);
    for (const { line, peer, trusted, who } of s.answers) {
      if (!trusted) continue;
      // NEW trusted only once Docker's DNS had it (the request answered after the name gained it)...
      if (peer === NEW) expect(line.received, `${line.id} trusted ${NEW} before Docker's DNS had it`).toBeGreaterThan(newFrom);
      // ...OLD only until the gateway's lookup saw NEW: the old proxy, and an impostor in the window.
      if (peer === OLD) expect(line.sent, `${line.id} (${who}) trusted ${OLD} after the gateway's lookup dropped it`).toBeLessThan(seen);
    }
    // OLD left Docker's DNS before the gateway stopped trusting it (the window), and the lookup that closed
    // the window is the one that saw NEW, bounded in (b).
    expect(oldUntil).toBeLessThan(seen);
    // What the gateway logged about the name, in order: OLD at start-up, then NEW, and nothing else trusted.
    const about = s.log.filter(({ line }) => line.startsWith('clientaddr: trustedProxies name "proxy"')).map(({ line }) => line);
    for (const line of about) {
      expect(line).toMatch(
        new RegExp(
          (`^clientaddr: trustedProxies name "proxy" (stopped resolving \\([A-Z_]+\\): still trusting its last addresses ${OLD} for at most \\d+ s after they were looked up, unless it resolves again|` +
            `(does not exist any more|has not resolved for \\d+ s) \\([A-Z_]+\\): no longer trusting ${OLD}, nor anything for it until it resolves again|` +
            `changed its addresses, to ${NEW} \\(was ${OLD}\\): trusting ${NEW} only|` +
            `resolves again, to ${NEW}( \\(was ${OLD}\\))? \\(its last error was [A-Z_]+\\): trusting ${NEW})$`).replaceAll(".", "\\."),
        ),
      );
    }
    expect(about.at(-1)).toContain(`to ${NEW}`);
  });

  it(`(b) the new address is trusted within ${SEEN_WITHIN_MS} ms of Docker's DNS having it, and every request through it from then on`, async () => {
    const s = await run();
    const seen = seenNew(s);
    const { newBy } = dns(s);
    expect(seen - newBy).toBeLessThan(SEEN_WITHIN_MS);
    const fromNew = s.answers.filter(({ who, peer }) => who === "host" && peer === NEW);
    const late = fromNew.filter(({ line }) => line.sent > seen);
    expect(late.length).toBeGreaterThanOrEqual(AT_LEAST);
    expect(late.filter(({ trusted }) => !trusted).map(({ line }) => line.id)).toEqual([]);
    // Before the lookup saw it, the new proxy's clients were answered as the proxy, never as anyone local.
    for (const { captured } of fromNew) expect(captured.result.loopbackEquivalent).toBe(false);
  });

  it("the host's client failed only while the proxy was being re-created (no answer, a refused connection, an answer cut by the old proxy)", async () => {
    const s = await run();
    const outside = s.failures.filter(({ who, line }) => who === "impostor" || line.sent < s.recreateStart || line.sent > Math.max(s.recreateEnd, s.newProxy.startedAt) + 2_000);
    expect(outside.map(({ who, line }) => `${who} ${line.id}: ${JSON.stringify(line.outcome)}`)).toEqual([]);
  });

  it("the images are the ones imported here: no registry", async () => {
    const s = await run();
    expect(s.answers.length).toBeGreaterThan(0);
    const images = (await engine!.dockerOk(["images", "--format", "{{.Repository}}:{{.Tag}}"])).split("\n").filter(Boolean).sort();
    expect(images).toEqual(["clientaddr-caddy:e2e", IMAGE].sort());
  });
});

/** A header's value in Node's raw list (the first of its name). */
function header(rawHeaders: readonly string[], name: string): string | undefined {
  const at = rawHeaders.findIndex((item, i) => i % 2 === 0 && item.toLowerCase() === name);
  return at === -1 ? undefined : rawHeaders[at + 1];
}

/** What happened, for the log: the phases' counts and the times, relative to the re-creation's start. */
function summary(s: Scenario): string {
  const at = (t: number) => `${t - s.recreateStart >= 0 ? "+" : ""}${t - s.recreateStart} ms`;
  const count = (who: Answer["who"], peer: string, trusted: boolean) => s.answers.filter((a) => a.who === who && a.peer === peer && a.trusted === trusted).length;
  const about = s.log.filter(({ line }) => line.startsWith("clientaddr: trustedProxies name")).map(({ at: t, line }) => `  ${at(t)} ${line}`);
  const sawNew = s.probes.find((probe) => "addresses" in probe && probe.addresses.includes(NEW));
  const lastOld = s.probes.filter((probe) => "addresses" in probe && probe.addresses.includes(OLD)).at(-1);
  return [
    `docker-compose-names: re-creation ${at(s.recreateStart)} to ${at(s.recreateEnd)}, new proxy started ${at(s.newProxy.startedAt)}, impostor at ${OLD} from ${at(s.impostorStarted)}`,
    `  Docker's DNS: ${OLD} last seen by a query begun ${lastOld === undefined ? "never" : at(lastOld.s)}, ${NEW} first by one ended ${sawNew === undefined ? "never" : at(sawNew.e)} (${s.probes.length} queries)`,
    ...about,
    `  host through the proxy: ${count("host", OLD, true)} trusted from ${OLD}, ${count("host", NEW, false)} untrusted then ${count("host", NEW, true)} trusted from ${NEW}; ${s.failures.filter((f) => f.who === "host").length} without an answer (${s.answers.filter((a) => a.cutByProxy).length} of them answered, cut by the old proxy)`,
    `  impostor at ${OLD}: ${count("impostor", OLD, true)} trusted (admitted as local), ${count("impostor", OLD, false)} refused; ${s.failures.filter((f) => f.who === "impostor").length} without an answer`,
  ].join("\n");
}
