// Records WebSocket handshakes through real Podman port publishing, rootful and rootless, and writes one fixture
// per scenario to fixtures/recorded/podman/. Run as root: `npm run -s build && npx tsx scripts/record-podman.ts`
// (the image packs the built clientaddr). Podman runs inside a network namespace of its own (test/e2e/podman-engine.ts),
// rootless as a user made for the run; the gateway is examples/gateway compiled into the image of
// test/e2e/image.ts, in capture mode, and the clients are `ws` clients in the same namespace dialling the port
// published on its 127.0.0.1.
//
// Setups (every port published as -p 127.0.0.1:HOSTPORT:18789):
//   rootful-bridge                     rootful, netavark bridge 172.18.0.0/16: kernel DNAT + MASQUERADE, the
//                                      container sees the bridge gateway 172.18.0.1
//   rootful-slirp4netns                rootful, --network slirp4netns: rootlessport, the container sees its own 10.0.2.100
//   rootless-slirp4netns               rootless, slirp4netns with the default port handler rootlessport: 10.0.2.100
//                                      (slirp4netns's default gateway is 10.0.2.2, which is not the peer)
//   rootless-slirp4netns-port-handler  rootless, --network slirp4netns:port_handler=slirp4netns: slirp4netns forwards
//                                      the port itself and the container sees its gateway 10.0.2.2
//   rootless-bridge                    rootless, netavark bridge 10.89.0.0/24 in rootless Podman's namespace:
//                                      rootlessport, the container sees its own address
// pasta (`--network pasta`) needs Podman 4.4; the run tries it rootless and prints the exact error.
//
// The expected answers are derived by hand from the rules in src/core/rules.ts and docs/trust-model.md (never by calling
// the library): the fixtures exist to check the library. Each recorded request is also checked against what the
// scenario assumes (peer, local address, Host, no Origin, no forwarding header), so a setup that does not do what it
// claims fails the run instead of writing a fixture. A mode that cannot run here writes nothing: its error is
// printed, and the fixtures of it already in the folder are kept as they are.
//
// The module doubles as the client: `node --import tsx scripts/record-podman.ts --client '{"url":...}'`, run in
// the namespace, makes one handshake and prints one JSON line with the outcome. The e2e test imports
// podmanScenarios() and runScenario() to redo the recorded cases live.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import WebSocket from "ws";
import type { Handshake } from "../examples/gateway/gateway.js";
import {
  GATEWAY_PORT,
  type GatewayContainer,
  IMAGE,
  type NetworkKind,
  PODMAN_MODES,
  PodmanLab,
  type PodmanMode,
  type PortHandler,
  ROOTFUL_BRIDGE_GATEWAY,
  ROOTFUL_SUBNET,
  ROOTLESS_SUBNET,
  ULIMITS,
} from "../test/e2e/podman-engine.js";
import { checkRequest } from "./lib/check-request.js";
import { lastJsonLine, logCapture, wsVersion } from "./lib/lab-facts.js";
import { runBounded } from "./lib/run-bounded.js";
import { type Fixture, checkAgainstLibrary, writeFixtureSet } from "./lib/write-fixture.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const PODMAN_FIXTURES = path.join(ROOT, "fixtures", "recorded", "podman");
const SELF = fileURLToPath(import.meta.url);

/** slirp4netns's fixed layout (10.0.2.0/24 unless `cidr=` says otherwise): the container, its gateway. */
export const SLIRP_CONTAINER = "10.0.2.100";
export const SLIRP_GATEWAY = "10.0.2.2";

// ---------------------------------------------------------------------------------------------------------
// Setups and scenarios

export type SetupId = "rootful-bridge" | "rootful-slirp4netns" | "rootless-slirp4netns" | "rootless-slirp4netns-port-handler" | "rootless-bridge";

export interface PodmanSetup {
  mode: PodmanMode;
  network: NetworkKind;
  portHandler: PortHandler;
  /** How a connection to the published port gets to the container, for provenance. */
  route: (scenario: PodmanScenario) => string;
}

export const SETUPS: Record<SetupId, PodmanSetup> = {
  "rootful-bridge": {
    mode: "rootful",
    network: "bridge",
    portHandler: "netavark",
    route: (s) =>
      `network: netavark bridge ${ROOTFUL_SUBNET} (gateway ${ROOTFUL_BRIDGE_GATEWAY}, container --ip ${s.ip}); port handler: netavark's ` +
      `port forwarding, iptables DNAT of 127.0.0.1:${s.hostPort} to ${s.ip}:${GATEWAY_PORT} with MASQUERADE (route_localnet=1 on the bridge), in the test namespace`,
  },
  "rootful-slirp4netns": {
    mode: "rootful",
    network: "slirp4netns",
    portHandler: "rootlessport",
    route: () =>
      `network: --network slirp4netns (tap0 ${SLIRP_CONTAINER}/24, default gateway ${SLIRP_GATEWAY}); port handler: rootlessport (the default ` +
      "for slirp4netns), listening on the test namespace's 127.0.0.1 and connecting to the container's own address from inside its network namespace",
  },
  "rootless-slirp4netns": {
    mode: "rootless",
    network: "slirp4netns",
    portHandler: "rootlessport",
    route: () =>
      `network: slirp4netns, rootless Podman's default before Podman 5 (tap0 ${SLIRP_CONTAINER}/24, default gateway ${SLIRP_GATEWAY}); ` +
      "port handler: rootlessport (the default), listening on the test namespace's 127.0.0.1 and connecting to the container's own address " +
      "from inside its network namespace",
  },
  "rootless-slirp4netns-port-handler": {
    mode: "rootless",
    network: "slirp4netns",
    portHandler: "slirp4netns",
    route: () =>
      `network: --network slirp4netns:port_handler=slirp4netns (tap0 ${SLIRP_CONTAINER}/24, default gateway ${SLIRP_GATEWAY}); port handler: ` +
      `slirp4netns's own forwarding, listening on the test namespace's 127.0.0.1 and connecting in from its gateway ${SLIRP_GATEWAY}`,
  },
  "rootless-bridge": {
    mode: "rootless",
    network: "bridge",
    portHandler: "rootlessport",
    route: (s) =>
      `network: netavark bridge ${ROOTLESS_SUBNET} in rootless Podman's own network namespace (container --ip ${s.ip}); port handler: ` +
      "rootlessport, listening on the test namespace's 127.0.0.1; the container sees its own address",
  },
};

export interface PodmanScenario {
  name: string;
  description: string;
  setup: SetupId;
  /** The port published on the namespace's 127.0.0.1 (one container per scenario). */
  hostPort: number;
  /** A static address on a bridge network. */
  ip?: string;
  /** The gateway's trustedProxies, and the fixture's. */
  trustedProxies: string[];
  /** The socket peer the gateway must see: what the setup does to the source address. */
  peer: string;
  /** The container's address the connection arrives at. */
  local: string;
  expected: Fixture["expected"];
}

const local = (address: string): Fixture["expected"] => ({ address, loopbackEquivalent: true, basis: "socket:trusted-path" });
const refused = (address: string): Fixture["expected"] => ({ address, loopbackEquivalent: false, basis: "socket:remote-client" });

/**
 * The recorded cases: a script-like `ws` client (no Origin, Host 127.0.0.1:PORT) to the published port. Without
 * trust the peer is neither loopback nor trusted: condition a fails, remote-client. With the peer's single
 * address trusted and no forwarding header, the walk ends at the trusted peer, Host names loopback and there is
 * no Origin nor Sec-Fetch-Site: local, by the trusted path.
 */
export function podmanScenarios(): PodmanScenario[] {
  return [
    {
      name: "podman-rootful-bridge-script-untrusted",
      description: "Rootful Podman on a netavark bridge 172.18.0.0/16 publishing 127.0.0.1:18801: netavark's DNAT and MASQUERADE show the container the bridge gateway 172.18.0.1; without trustedProxies it is not local (the seed's bug).",
      setup: "rootful-bridge", hostPort: 18801, ip: "172.18.0.2", trustedProxies: [], peer: ROOTFUL_BRIDGE_GATEWAY, local: "172.18.0.2",
      expected: refused(ROOTFUL_BRIDGE_GATEWAY),
    },
    {
      name: "podman-rootful-bridge-script-trusted-gateway",
      description: 'The same rootful bridge path with trustedProxies ["172.18.0.1"], the bridge gateway\'s single address (as with Docker): local.',
      setup: "rootful-bridge", hostPort: 18802, ip: "172.18.0.3", trustedProxies: [ROOTFUL_BRIDGE_GATEWAY], peer: ROOTFUL_BRIDGE_GATEWAY, local: "172.18.0.3",
      expected: local(ROOTFUL_BRIDGE_GATEWAY),
    },
    {
      name: "podman-rootful-slirp4netns-script-untrusted",
      description: "Rootful Podman with --network slirp4netns publishing 127.0.0.1:18803: rootlessport connects to the container's own address, so the peer is 10.0.2.100; without trustedProxies it is not local.",
      setup: "rootful-slirp4netns", hostPort: 18803, trustedProxies: [], peer: SLIRP_CONTAINER, local: SLIRP_CONTAINER,
      expected: refused(SLIRP_CONTAINER),
    },
    {
      name: "podman-rootful-slirp4netns-script-trusted-own-address",
      description: 'The same rootful slirp4netns path with trustedProxies ["10.0.2.100"], the container\'s own address that rootlessport connects from: local.',
      setup: "rootful-slirp4netns", hostPort: 18804, trustedProxies: [SLIRP_CONTAINER], peer: SLIRP_CONTAINER, local: SLIRP_CONTAINER,
      expected: local(SLIRP_CONTAINER),
    },
    {
      name: "podman-rootless-slirp4netns-script-untrusted",
      description: "Rootless Podman (slirp4netns, rootlessport) publishing 127.0.0.1:18811: the container sees its own address 10.0.2.100, not the default gateway 10.0.2.2; without trustedProxies it is not local (the seed's bug).",
      setup: "rootless-slirp4netns", hostPort: 18811, trustedProxies: [], peer: SLIRP_CONTAINER, local: SLIRP_CONTAINER,
      expected: refused(SLIRP_CONTAINER),
    },
    {
      name: "podman-rootless-slirp4netns-script-trusted-own-address",
      description: 'Rootless Podman (slirp4netns, rootlessport) with trustedProxies ["10.0.2.100"], the single address the gateway sees: local.',
      setup: "rootless-slirp4netns", hostPort: 18812, trustedProxies: [SLIRP_CONTAINER], peer: SLIRP_CONTAINER, local: SLIRP_CONTAINER,
      expected: local(SLIRP_CONTAINER),
    },
    {
      name: "podman-rootless-slirp4netns-script-trusted-default-gateway",
      description: 'Rootless Podman (slirp4netns, rootlessport) with trustedProxies ["10.0.2.2"], the default gateway /proc/net/route shows: the peer is 10.0.2.100, which is not trusted, so not local.',
      setup: "rootless-slirp4netns", hostPort: 18813, trustedProxies: [SLIRP_GATEWAY], peer: SLIRP_CONTAINER, local: SLIRP_CONTAINER,
      expected: refused(SLIRP_CONTAINER),
    },
    {
      name: "podman-rootless-slirp4netns-port-handler-script-untrusted",
      description: "Rootless Podman with --network slirp4netns:port_handler=slirp4netns publishing 127.0.0.1:18814: slirp4netns connects in from its gateway 10.0.2.2; without trustedProxies it is not local.",
      setup: "rootless-slirp4netns-port-handler", hostPort: 18814, trustedProxies: [], peer: SLIRP_GATEWAY, local: SLIRP_CONTAINER,
      expected: refused(SLIRP_GATEWAY),
    },
    {
      name: "podman-rootless-slirp4netns-port-handler-script-trusted-gateway",
      description: 'The same port_handler=slirp4netns path with trustedProxies ["10.0.2.2"]: with this port handler the gateway is the peer, so local.',
      setup: "rootless-slirp4netns-port-handler", hostPort: 18815, trustedProxies: [SLIRP_GATEWAY], peer: SLIRP_GATEWAY, local: SLIRP_CONTAINER,
      expected: local(SLIRP_GATEWAY),
    },
    {
      name: "podman-rootless-bridge-script-untrusted",
      description: "Rootless Podman on a netavark bridge 10.89.0.0/24 publishing 127.0.0.1:18816: rootlessport makes the container see its own address 10.89.0.2, not the bridge gateway 10.89.0.1; without trustedProxies it is not local.",
      setup: "rootless-bridge", hostPort: 18816, ip: "10.89.0.2", trustedProxies: [], peer: "10.89.0.2", local: "10.89.0.2",
      expected: refused("10.89.0.2"),
    },
    {
      name: "podman-rootless-bridge-script-trusted-own-address",
      description: 'Rootless Podman on the bridge with trustedProxies ["10.89.0.3"], the container\'s own address that rootlessport connects from: local.',
      setup: "rootless-bridge", hostPort: 18817, ip: "10.89.0.3", trustedProxies: ["10.89.0.3"], peer: "10.89.0.3", local: "10.89.0.3",
      expected: local("10.89.0.3"),
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Running a scenario

export type Outcome =
  | { opened: { connected: boolean; local: boolean; address: string | null; basis: string } }
  | { closed: { code: number; reason: string } }
  | { error: string };

/** The scenario's container: started on first use (one per scenario). */
export async function containerFor(lab: PodmanLab, scenario: PodmanScenario): Promise<GatewayContainer> {
  const started = lab.containers.get(scenario.name);
  if (started !== undefined) return started;
  const { mode, network, portHandler } = SETUPS[scenario.setup];
  return lab.gateway({
    name: scenario.name,
    mode,
    network,
    portHandler,
    hostPort: scenario.hostPort,
    ...(scenario.ip === undefined ? {} : { ip: scenario.ip }),
    trustedProxies: scenario.trustedProxies,
  });
}

export function scenarioUrl(scenario: PodmanScenario): string {
  return `ws://127.0.0.1:${scenario.hostPort}/ws`;
}

/** One `ws` handshake from the namespace to the published port; `?case=name` finds the capture. */
export async function handshake(lab: PodmanLab, container: GatewayContainer, name: string, url: string): Promise<{ outcome: Outcome; captured: Handshake }> {
  lab.forget(container, name);
  const withCase = `${url}${url.includes("?") ? "&" : "?"}case=${encodeURIComponent(name)}`;
  const result = await lab.inNamespace([process.execPath, "--import", "tsx", SELF, "--client", JSON.stringify({ url: withCase })], { timeoutMs: 20_000 });
  const outcome = lastJsonLine(result.stdout) as Outcome | undefined;
  if (outcome === undefined) throw new Error(`${name}: the client printed no outcome (exit ${result.code}): ${result.stderr.trim()}`);
  if ("error" in outcome) throw new Error(`${name}: the client failed: ${outcome.error}`);
  return { outcome, captured: lab.captured(container, name) };
}

/** Runs one scenario and checks that the request the gateway saw is the one the scenario is about. */
export async function runScenario(lab: PodmanLab, scenario: PodmanScenario): Promise<{ outcome: Outcome; captured: Handshake; container: GatewayContainer }> {
  const container = await containerFor(lab, scenario);
  const result = await handshake(lab, container, scenario.name, scenarioUrl(scenario));
  checkRequest({ ...scenario, host: `127.0.0.1:${scenario.hostPort}`, local: { address: scenario.local, port: GATEWAY_PORT } }, result.captured.request);
  return { ...result, container };
}

/**
 * Tries `--network pasta` rootless, which Podman gained in 4.4. Resolves with what happened: ran (Podman knows
 * pasta), or the exact error.
 */
export async function tryPasta(lab: PodmanLab): Promise<{ ran: boolean; podman: string; error: string }> {
  const engine = lab.engine("rootless");
  const result = await engine.podman(["run", "--rm", "--network", "pasta", "-p", "127.0.0.1:18830:18789", ...ULIMITS, IMAGE, "/usr/local/bin/node", "-e", "0"], { timeoutMs: 60_000 });
  return { ran: result.code === 0, podman: engine.versions.podman, error: result.stderr.trim() };
}

// ---------------------------------------------------------------------------------------------------------
// The client (run inside the namespace)

function client(args: { url: string }): void {
  const print = (outcome: Outcome) => {
    console.log(JSON.stringify(outcome));
    process.exit(0);
  };
  // Script-like: ws's defaults, no Origin.
  const ws = new WebSocket(args.url, { handshakeTimeout: 5_000 });
  setTimeout(() => print({ error: "no answer within 8 s" }), 8_000).unref();
  ws.on("message", (data) => print({ opened: JSON.parse(String(data)) }));
  ws.on("close", (code, reason) => print({ closed: { code, reason: String(reason) } }));
  ws.on("error", (error) => print({ error: error.message }));
}

// ---------------------------------------------------------------------------------------------------------
// Recording

/** The provenance of one recorded scenario. */
export function provenance(lab: PodmanLab, scenario: PodmanScenario, date: string): string {
  const setup = SETUPS[scenario.setup];
  const engine = lab.engine(setup.mode);
  const v = engine.versions;
  const ws = wsVersion();
  const who = setup.mode === "rootful" ? "rootful (as root)" : "rootless (as a system user made for the run, with 65,536 subordinate ids in /etc/subuid and /etc/subgid, newuidmap/newgidmap from Debian's uidmap)";
  return (
    `engine: Podman ${v.podman} ${who}, network backend ${v.networkBackend} ${v.netavark}, slirp4netns ${v.slirp4netns}, ${v.runtime}, conmon ${v.conmon}, Linux ${v.kernel}; ` +
    `podman run inside a network namespace made for the run (nsenter --net), with its own --root, --runroot, --tmpdir, containers.conf and storage.conf, ` +
    `--cgroup-manager cgroupfs, --events-backend none, ${ULIMITS.join(" ")}; ` +
    `${setup.route(scenario)}; publish spec -p 127.0.0.1:${scenario.hostPort}:${GATEWAY_PORT}; ` +
    `image: test/e2e/image.ts's root file system (Node ${process.version}, clientaddr ${lab.imageVersion} packed, ws ${ws}) by podman import; ` +
    `server: examples/gateway/server.ts compiled, on 0.0.0.0:${GATEWAY_PORT} in the container; ` +
    `client: ws ${ws} WebSocket client on Node ${process.version} in the test namespace (script-like: no Origin), URL ${scenarioUrl(scenario)}; ` +
    `recorded by scripts/record-podman.ts on ${date}`
  );
}

/** The fixtures of a mode already in the folder (kept when the mode cannot run here). */
function existingFixtures(mode: PodmanMode): Fixture[] {
  if (!existsSync(PODMAN_FIXTURES)) return [];
  return readdirSync(PODMAN_FIXTURES)
    .filter((file) => file.startsWith(`podman-${mode}-`) && file.endsWith(".json"))
    .map((file) => JSON.parse(readFileSync(path.join(PODMAN_FIXTURES, file), "utf8")) as Fixture);
}

async function record(): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const lab = await PodmanLab.open(PODMAN_MODES, (line) => console.log(line));
  const fixtures: Fixture[] = [];
  try {
    for (const [mode, error] of lab.unavailable) {
      console.error(`${mode}: CANNOT RUN HERE, nothing recorded for it: ${error}`);
      const kept = existingFixtures(mode);
      if (kept.length > 0) console.error(`${mode}: keeping the ${kept.length} fixture(s) of it already in ${path.relative(ROOT, PODMAN_FIXTURES)}/ as they are`);
      fixtures.push(...kept);
    }
    for (const scenario of podmanScenarios()) {
      if (!lab.engines.has(SETUPS[scenario.setup].mode)) continue;
      const { outcome, captured } = await runScenario(lab, scenario);
      logCapture(scenario.name, captured, outcome, scenario.expected);
      fixtures.push({
        name: scenario.name,
        description: scenario.description,
        provenance: { kind: "recorded", source: provenance(lab, scenario, date) },
        request: captured.request,
        options: { trustedProxies: scenario.trustedProxies },
        expected: scenario.expected,
      });
    }
    if (lab.engines.has("rootless")) {
      const pasta = await tryPasta(lab);
      console.log(pasta.ran ? `pasta: Podman ${pasta.podman} ran --network pasta (not recorded: add it)` : `pasta: Podman ${pasta.podman} cannot: ${pasta.error}`);
    }
  } finally {
    const left = await lab.close();
    if (left.length > 0) {
      console.error(`NOT REMOVED: ${left.join("; ")}`);
      process.exitCode = 1;
    }
  }
  checkAgainstLibrary(fixtures);
  writeFixtureSet(PODMAN_FIXTURES, fixtures);
  console.log(`wrote ${fixtures.length} fixtures to ${path.relative(ROOT, PODMAN_FIXTURES)}/`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [flag, json] = process.argv.slice(2);
  if (flag === "--client" && json !== undefined) {
    client(JSON.parse(json) as { url: string });
  } else {
    // The lab's exit hook removes the namespace, the user and the rest if the bound is reached.
    runBounded("record-podman", record, 170_000);
  }
}
