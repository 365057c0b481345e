// Records WebSocket handshakes through Docker-shaped NAT, built in network namespaces (test/e2e/netns.ts),
// and writes one fixture per scenario to fixtures/recorded/nat/. Run as root: `npx tsx scripts/record-nat.ts`.
//
// Topologies (every process inside a namespace; nothing touches the machine's own):
//   userland  the relay test/e2e/relay.ts (docker-proxy's way) in the host namespace on 127.0.0.1:18789 ->
//             172.18.0.2:18789 and on [::1]:18789 -> [fd18::2]:18789; the host namespace can also reach
//             172.18.0.2:18789 directly (the LAN-style case)
//   kernel    iptables DNAT of 127.0.0.1:18789 -> 172.18.0.2:18789 plus MASQUERADE, route_localnet=1, all in the
//             host namespace (Docker without its userland proxy)
// The gateway is examples/gateway/server.ts in the container namespace on [::]:18789 (dual stack, so IPv4
// peers show as ::ffff:172.18.0.1) in capture mode; the clients are `ws` clients in the host namespace.
//
// The expected answers are derived by hand from the rules in src/core/rules.ts and docs/trust-model.md (never by calling
// the library): the fixtures exist to check the library. Each recorded request is also checked against what
// the scenario assumes (peer, Host, Origin, no forwarding header), so a topology that does not do what it
// claims fails the run instead of writing a fixture.
//
// The module doubles as the client: `node --import tsx scripts/record-nat.ts --client '{"url":...}'`, run
// inside the host namespace, makes one handshake and prints one JSON line with the outcome. The e2e test
// imports NatLab and natScenarios() to redo the recorded cases live.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import WebSocket from "ws";
import type { Handshake } from "../examples/gateway/gateway.js";
import {
  CONTAINER_PORT,
  CONTAINER_V4,
  CONTAINER_V6,
  HOST_V4,
  HOST_V6,
  type Started,
  type Topology,
  atLastResort,
  createDockerLikeTopology,
  iptablesVersion,
  namespaceSupport,
} from "../test/e2e/netns.js";
import { checkRequest } from "./lib/check-request.js";
import { labFacts, lastJsonLine, logCapture } from "./lib/lab-facts.js";
import { runBounded } from "./lib/run-bounded.js";
import { type Fixture, writeFixtureSet } from "./lib/write-fixture.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const NAT_FIXTURES = path.join(ROOT, "fixtures", "recorded", "nat");
const SELF = fileURLToPath(import.meta.url);
const PORT = CONTAINER_PORT; // published on the same port, as with -p 127.0.0.1:18789:18789

// ---------------------------------------------------------------------------------------------------------
// Scenarios

export type LabKind = "userland" | "kernel";

export interface NatScenario {
  name: string;
  description: string;
  lab: LabKind;
  /** How the connection gets to the container, for provenance. */
  route: string;
  /** The URL the client in the host namespace opens; its host is where it connects, and the Host it sends. */
  url: string;
  /** Sent as Origin (browser-like); absent: a script-like client that sends none. */
  origin?: string;
  /** The gateway's trustedProxies, and the fixture's. */
  trustedProxies: string[];
  /** The socket peer the gateway must see: what the topology does to the source address. */
  peer: string;
  expected: Fixture["expected"];
}

const RELAY_V4 = `userland relay (test/e2e/relay.ts, a Node net relay in the manner of docker-proxy) on 127.0.0.1:${PORT} in the host namespace, forwarding to ${CONTAINER_V4}:${PORT}`;
const RELAY_V6 = `IPv6 userland relay (test/e2e/relay.ts) on [::1]:${PORT} in the host namespace, forwarding to [${CONTAINER_V6}]:${PORT} from ${HOST_V6}`;
const KERNEL = `kernel DNAT + MASQUERADE in the host namespace: iptables nat OUTPUT -d 127.0.0.1 --dport ${PORT} DNAT to ${CONTAINER_V4}:${PORT}, POSTROUTING -s 127.0.0.0/8 out of the veth MASQUERADE, net.ipv4.conf.all.route_localnet=1 (host namespace only)`;
const LAN = `LAN-style: no relay, the host namespace connects straight to the container's address ${CONTAINER_V4}:${PORT}`;
const MAPPED_GATEWAY = `::ffff:${HOST_V4}`;
const v4 = `ws://127.0.0.1:${PORT}/ws`;
const v6 = `ws://[::1]:${PORT}/ws`;
const SAME_ORIGIN = `http://127.0.0.1:${PORT}`;

/** The recorded cases. Expected answers are the rules applied by hand; each says which condition decides. */
export function natScenarios(): NatScenario[] {
  const local = (address: string) => ({ address, loopbackEquivalent: true, basis: "socket:trusted-path" }) as const;
  const refused = (address: string, verdict: "remote-client" | "host-not-local" | "origin-not-local") =>
    ({ address, loopbackEquivalent: false, basis: `socket:${verdict}` }) as const;
  return [
    {
      name: "docker-userland-relay-script-untrusted",
      description: "Through a docker-proxy-style relay on 127.0.0.1 the gateway sees the bridge gateway 172.18.0.1; without trustedProxies that peer is neither loopback nor trusted: not local (the reported bug).",
      lab: "userland", route: RELAY_V4, url: v4, trustedProxies: [], peer: MAPPED_GATEWAY,
      expected: refused(HOST_V4, "remote-client"), // rule 5a: not loopback, not trusted
    },
    {
      name: "docker-userland-relay-browser-like-untrusted",
      description: "The dashboard's own handshake (Origin http://127.0.0.1:18789) through the relay, without trustedProxies: not local, closed with 1008 pairing required as reported.",
      lab: "userland", route: RELAY_V4, url: v4, origin: SAME_ORIGIN, trustedProxies: [], peer: MAPPED_GATEWAY,
      expected: refused(HOST_V4, "remote-client"),
    },
    {
      name: "docker-userland-relay-script-trusted-gateway",
      description: "Through the relay with trustedProxies [\"172.18.0.1\"]: the peer is trusted, no header names anyone else, Host is 127.0.0.1: local on a trusted path.",
      lab: "userland", route: RELAY_V4, url: v4, trustedProxies: [HOST_V4], peer: MAPPED_GATEWAY,
      expected: local(HOST_V4), // 5a by its second half: every address on the path (just the peer) is trusted
    },
    {
      name: "docker-userland-relay-script-trusted-subnet",
      description: "Trusting the whole bridge subnet 172.18.0.0/16 also makes the relayed client local (and would make every container on it local, which is why the README says to trust the one address).",
      lab: "userland", route: RELAY_V4, url: v4, trustedProxies: ["172.18.0.0/16"], peer: MAPPED_GATEWAY,
      expected: local(HOST_V4),
    },
    {
      name: "docker-userland-relay-browser-like-same-origin",
      description: "The dashboard's handshake through the relay (Origin http://127.0.0.1:18789, Host 127.0.0.1:18789) with 172.18.0.1 trusted is local.",
      lab: "userland", route: RELAY_V4, url: v4, origin: SAME_ORIGIN, trustedProxies: [HOST_V4], peer: MAPPED_GATEWAY,
      expected: local(HOST_V4),
    },
    {
      name: "docker-userland-relay-browser-like-cross-site",
      description: "A page from another site (Origin https://evil.example) opening the gateway through the relay, 172.18.0.1 trusted: the path is trusted but Origin is not this machine, so not local.",
      lab: "userland", route: RELAY_V4, url: v4, origin: "https://evil.example", trustedProxies: [HOST_V4], peer: MAPPED_GATEWAY,
      expected: refused(HOST_V4, "origin-not-local"), // 5d
    },
    {
      name: "docker-lan-host-container-address",
      description: "A LAN-style request naming the container's address (Host 172.18.0.2:18789) from the trusted bridge gateway is not local: Host does not name this machine.",
      lab: "userland", route: LAN, url: `ws://${CONTAINER_V4}:${PORT}/ws`, trustedProxies: [HOST_V4], peer: MAPPED_GATEWAY,
      expected: refused(HOST_V4, "host-not-local"), // 5a and 5b hold; 5c fails
    },
    {
      name: "docker-kernel-dnat-script-trusted-gateway",
      description: "Docker's kernel path (DNAT of 127.0.0.1:18789 plus MASQUERADE) also shows the bridge gateway 172.18.0.1; trusted, it is local.",
      lab: "kernel", route: KERNEL, url: v4, trustedProxies: [HOST_V4], peer: MAPPED_GATEWAY,
      expected: local(HOST_V4),
    },
    {
      name: "docker-kernel-dnat-script-untrusted",
      description: "The same kernel DNAT + MASQUERADE path without trustedProxies: the bridge gateway is not loopback and not trusted, so not local.",
      lab: "kernel", route: KERNEL, url: v4, trustedProxies: [], peer: MAPPED_GATEWAY,
      expected: refused(HOST_V4, "remote-client"),
    },
    {
      name: "docker-ipv6-relay-script-trusted-gateway",
      description: "Through the IPv6 relay ([::1]:18789 to [fd18::2]:18789) the gateway sees fd18::1; with trustedProxies [\"fd18::1\"] and Host [::1]:18789 it is local.",
      lab: "userland", route: RELAY_V6, url: v6, trustedProxies: [HOST_V6], peer: HOST_V6,
      expected: local(HOST_V6),
    },
    {
      name: "docker-ipv6-relay-script-untrusted",
      description: "The same IPv6 relay without trustedProxies: fd18::1 is neither loopback nor trusted, so not local.",
      lab: "userland", route: RELAY_V6, url: v6, trustedProxies: [], peer: HOST_V6,
      expected: refused(HOST_V6, "remote-client"),
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------
// The lab: one topology, its relays, and the gateway (restarted whenever the trusted list changes)

export type Outcome =
  | { opened: { connected: boolean; local: boolean; address: string | null; basis: string } }
  | { closed: { code: number; reason: string } }
  | { error: string };

export class NatLab {
  #gateway: Started | undefined;
  #trustKey: string | undefined;
  #captureDir = "";
  #starts = 0;
  #forgetDir = () => {};

  private constructor(
    readonly kind: LabKind,
    readonly topology: Topology,
    /** A temporary folder for configs and captures, removed by close(). */
    readonly dir: string,
  ) {}

  static async open(kind: LabKind): Promise<NatLab> {
    const topology = await createDockerLikeTopology(kind === "kernel" ? { kernelNat: { port: PORT } } : {});
    const lab = new NatLab(kind, topology, mkdtempSync(path.join(tmpdir(), "clientaddr-nat-")));
    lab.#forgetDir = atLastResort(() => rmSync(lab.dir, { recursive: true, force: true }));
    try {
      if (kind === "userland") {
        for (const [listen, target] of [["127.0.0.1", CONTAINER_V4], ["::1", CONTAINER_V6]] as const) {
          await topology.start(topology.hostNs, ["node", "--import", "tsx", path.join(ROOT, "test/e2e/relay.ts"), listen, String(PORT), target, String(PORT)], {
            readyPattern: /relay: listening/,
          });
        }
      }
    } catch (error) {
      await lab.close();
      throw error;
    }
    return lab;
  }

  /** Runs the gateway with this trusted list (restarting it only if the list changed). */
  async gateway(trustedProxies: readonly string[]): Promise<Started> {
    const key = JSON.stringify(trustedProxies);
    if (this.#gateway !== undefined && this.#trustKey === key) return this.#gateway;
    await this.#gateway?.stop();
    this.#gateway = undefined;
    const run = `gateway-${++this.#starts}`;
    const config = path.join(this.dir, `${run}.json`);
    writeFileSync(config, JSON.stringify({ gateway: { trustedProxies, auth: { mode: "token", token: "t0ken", pairedDevices: [] } } }));
    this.#captureDir = path.join(this.dir, `${run}-capture`);
    const server = path.join(ROOT, "examples/gateway/server.ts");
    this.#gateway = await this.topology.start(
      this.topology.containerNs,
      ["node", "--import", "tsx", server, "--config", config, "--host", "::", "--port", String(PORT), "--capture", this.#captureDir],
      { readyPattern: /gateway: listening/ },
    );
    this.#trustKey = key;
    return this.#gateway;
  }

  /** What the running gateway captured for `?case=name` (it writes the file before it answers). */
  captured(name: string): Handshake {
    return JSON.parse(readFileSync(path.join(this.#captureDir, `${name}.json`), "utf8")) as Handshake;
  }

  /** One `ws` handshake from the host namespace; `?case=name` is added to the URL so the capture can be found. */
  async handshake(name: string, url: string, origin?: string): Promise<{ outcome: Outcome; captured: Handshake }> {
    rmSync(path.join(this.#captureDir, `${name}.json`), { force: true });
    const withCase = `${url}${url.includes("?") ? "&" : "?"}case=${encodeURIComponent(name)}`;
    const args = JSON.stringify({ url: withCase, ...(origin === undefined ? {} : { origin }) });
    const result = await this.topology.run(this.topology.hostNs, ["node", "--import", "tsx", SELF, "--client", args], { timeoutMs: 15_000 });
    const outcome = lastJsonLine(result.stdout) as Outcome | undefined;
    if (outcome === undefined) throw new Error(`${name}: the client printed no outcome (exit ${result.code}): ${result.stderr.trim()}`);
    if ("error" in outcome) throw new Error(`${name}: the client failed: ${outcome.error}`);
    return { outcome, captured: this.captured(name) };
  }

  /** Runs one scenario and checks that the request the gateway saw is the one the scenario is about. */
  async run(scenario: NatScenario): Promise<{ outcome: Outcome; captured: Handshake }> {
    if (scenario.lab !== this.kind) throw new Error(`${scenario.name} needs the ${scenario.lab} lab, this is ${this.kind}`);
    await this.gateway(scenario.trustedProxies);
    const result = await this.handshake(scenario.name, scenario.url, scenario.origin);
    checkRequest({ ...scenario, host: new URL(scenario.url).host }, result.captured.request);
    return result;
  }

  async close(): Promise<void> {
    await this.#gateway?.stop();
    await this.topology.close();
    rmSync(this.dir, { recursive: true, force: true });
    this.#forgetDir();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The client (run inside the host namespace)

function client(args: { url: string; origin?: string }): void {
  const print = (outcome: Outcome) => {
    console.log(JSON.stringify(outcome));
    process.exit(0);
  };
  // Script-like: ws's defaults, no Origin. Browser-like: the origin option sets Origin as a browser would.
  const ws = new WebSocket(args.url, { handshakeTimeout: 5_000, ...(args.origin === undefined ? {} : { origin: args.origin }) });
  setTimeout(() => print({ error: "no answer within 8 s" }), 8_000).unref();
  ws.on("message", (data) => {
    print({ opened: JSON.parse(String(data)) });
  });
  ws.on("close", (code, reason) => print({ closed: { code, reason: String(reason) } }));
  ws.on("error", (error) => print({ error: error.message }));
}

// ---------------------------------------------------------------------------------------------------------
// Recording

async function record(): Promise<void> {
  const support = namespaceSupport();
  if (!support.ok) throw new Error(`cannot record: ${support.why}`);
  const { date, wsVersion, kernel } = labFacts();
  const scenarios = natScenarios();
  const fixtures: Fixture[] = [];
  const labs: NatLab[] = [];
  // On Ctrl-C or a crash, test/e2e/netns.ts removes the namespaces and what runs in them by itself.
  try {
    for (const kind of ["userland", "kernel"] as const) {
      const lab = await NatLab.open(kind);
      labs.push(lab);
      const iptables = kind === "kernel" ? `${await iptablesVersion(lab.topology)}, Linux ${kernel}; ` : "";
      for (const scenario of scenarios.filter((s) => s.lab === kind)) {
        const { outcome, captured } = await lab.run(scenario);
        logCapture(scenario.name, captured, outcome, scenario.expected);
        const what = scenario.origin === undefined ? "script-like: no Origin" : `browser-like: Origin ${scenario.origin}`;
        fixtures.push({
          name: scenario.name,
          description: scenario.description,
          provenance: {
            kind: "recorded",
            source:
              `topology: network namespaces shaped like Docker's default bridge (host namespace ${HOST_V4}/16 and ${HOST_V6}/64, container namespace ${CONTAINER_V4}/16 and ${CONTAINER_V6}/64, one veth pair); ` +
              `${scenario.route}; ${iptables}` +
              `server: examples/gateway/server.ts (ws ${wsVersion} on Node ${process.version}) on [::]:${PORT}, dual stack, in the container namespace; ` +
              `client: ws ${wsVersion} WebSocket client on Node ${process.version} in the host namespace (${what}), URL ${scenario.url}; ` +
              `recorded by scripts/record-nat.ts on ${date}`,
          },
          request: captured.request,
          options: { trustedProxies: scenario.trustedProxies },
          expected: scenario.expected,
        });
      }
    }
  } finally {
    await Promise.all(labs.map((lab) => lab.close()));
  }
  writeFixtureSet(NAT_FIXTURES, fixtures);
  console.log(`wrote ${fixtures.length} fixtures to ${path.relative(ROOT, NAT_FIXTURES)}/`);
}


if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [flag, json] = process.argv.slice(2);
  if (flag === "--client" && json !== undefined) {
    client(JSON.parse(json) as { url: string; origin?: string });
  } else {
    // The topologies' exit handlers delete the namespaces if the bound is reached.
    runBounded("record-nat", record);
  }
}
