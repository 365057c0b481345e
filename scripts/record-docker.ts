// Records WebSocket handshakes through the REAL Docker Engine (Debian's docker.io 20.10 and docker-compose 1.29),
// each engine in network namespaces of its own (test/e2e/docker-engine.ts), and writes one fixture per scenario
// to fixtures/recorded/docker/. Run as root: `npx tsx scripts/record-docker.ts`.
//
// Three engines, one per topology family:
//   compose  dockerd's defaults, fresh, for the Compose project alone: Docker 20.10 hands out its default
//            pools round-robin, so only the first network created on an engine gets 172.18.0.0/16
//   proxy    dockerd's defaults: the userland proxy (docker-proxy) on, no ip6tables
//   nat      --userland-proxy=false --experimental --ip6tables: published ports by the kernel's DNAT alone
// Networks: Docker's default bridge (172.17.0.0/16), a user-defined bridge 172.18.0.0/16 (ca-net), a
// dual-stack one 172.19.0.0/16 + fd18::/64 (ca-v6), --network host, and the project network of the story's
// Compose file (examples/compose/compose.yaml), which on a fresh engine is 172.18.0.0/16.
// The gateway is the example gateway compiled into an imported image (test/e2e/image.ts), in capture mode
// writing into a bind-mounted folder. The clients are `ws` clients: in the engine's namespace (the host's own
// browser or script), in the LAN namespace (another machine on the host's LAN: 192.168.77.2, fd77::2), or in a
// second container on the gateway's network.
//
// The expected answers are derived by hand from the rules in src/core/rules.ts and docs/trust-model.md, never by
// calling the library; each recorded request is checked against what its scenario assumes (peer, Host, Origin,
// no forwarding header) before anything is written, so an engine that does not do what a scenario claims fails
// the run instead of writing a fixture. The e2e suite (test/e2e/docker-engine.e2e.test.ts) imports DockerLab
// and dockerScenarios() to redo the recorded cases live.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Handshake } from "../examples/gateway/gateway.js";
import {
  COMPOSE_FILE,
  DockerEngine,
  type EngineOptions,
  GatewayContainer,
  IMAGE,
  LAN,
  type Outcome,
  PORT,
} from "../test/e2e/docker-engine.js";
import { IMAGE_GATEWAY, IMAGE_NODE, type Rootfs, buildRootfs } from "../test/e2e/image.js";
import { atLastResort, namespaceSupport } from "../test/e2e/netns.js";
import { checkRequest } from "./lib/check-request.js";
import { labFacts, logCapture } from "./lib/lab-facts.js";
import { runBounded } from "./lib/run-bounded.js";
import { type Fixture, checkAgainstLibrary, writeFixtureSet } from "./lib/write-fixture.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DOCKER_FIXTURES = path.join(ROOT, "fixtures", "recorded", "docker");
export const COMPOSE_DIR = path.dirname(COMPOSE_FILE);

// ---------------------------------------------------------------------------------------------------------
// Topologies

export type EngineKind = "compose" | "proxy" | "nat";
export const ENGINES: Record<EngineKind, { options: EngineOptions; describe: string }> = {
  compose: { options: {}, describe: "userland proxy on (dockerd's default: docker-proxy relays published ports), no ip6tables; a fresh engine for the Compose project alone" },
  proxy: { options: {}, describe: "userland proxy on (dockerd's default: docker-proxy relays published ports), no ip6tables" },
  nat: { options: { userlandProxy: false, ip6tables: true }, describe: "userland proxy off (--userland-proxy=false: the kernel's DNAT alone), --experimental --ip6tables" },
};

export type NetworkId = "default-bridge" | "user-bridge" | "ipv6" | "host" | "compose";
/** The networks created here, by name and subnets (Docker picks the first address of each as the gateway). */
export const NETWORKS = {
  "user-bridge": { name: "ca-net", subnets: ["172.18.0.0/16"] },
  ipv6: { name: "ca-v6", subnets: ["172.19.0.0/16", "fd18::/64"] },
} as const;

/** Where a client runs. */
export type ClientPlace =
  /** the engine's namespace: the host's own browser or script */
  | "host"
  /** the LAN namespace: another machine on the host's LAN (192.168.77.2, fd77::2) */
  | "lan"
  /** the LAN namespace, sending packets for 127.0.0.1 to the host (route_localnet=1 and a policy rule there) */
  | "lan-loopback-route"
  /** the LAN namespace, from the router's address 192.168.77.254 (the host's default gateway) */
  | "lan-router"
  /** a second container of the gateway image on the gateway's network */
  | "container";

/** How the gateway runs: which network, which ports published, whom it trusts. */
export interface Deployment {
  network: NetworkId;
  /** `-p` values; for "compose" the Compose file's ports (checked), for "host" none. */
  publish: string[];
  trustedProxies: string[];
  /** For "compose": which file in examples/compose/, and the project network's subnet it must get. */
  compose?: {
    file: "compose.yaml" | "compose.pinned.yaml";
    /** `docker-compose down` first, so that the project network is created anew. */
    recreate: boolean;
    subnet: string;
  };
}

export interface DockerScenario extends Deployment {
  name: string;
  description: string;
  engine: EngineKind;
  client: ClientPlace;
  /** The URL the client opens; its host is where it connects and, unless `host` is given, the Host it sends. */
  url: string;
  /** Sent as Origin (browser-like); absent: a script-like client that sends none. */
  origin?: string;
  /** A Host header the client writes instead of the URL's: any script can, a browser cannot. */
  host?: string;
  /** The socket peer the gateway must see: what the engine does to the source address. */
  peer: string;
  expected: Fixture["expected"];
}

const LOOPBACK_PUBLISH = `127.0.0.1:${PORT}:${PORT}`;
const ALL_PUBLISH = `${PORT}:${PORT}`;
const V6_LOOPBACK_PUBLISH = `[::1]:${PORT}:${PORT}`;
const V4 = `ws://127.0.0.1:${PORT}/ws`;
const V6 = `ws://[::1]:${PORT}/ws`;
const SAME_ORIGIN = `http://127.0.0.1:${PORT}`;
const FORGED_HOST = `localhost:${PORT}`;
const mapped = (address: string) => `::ffff:${address}`;

/** The recorded cases. Expected answers are the rules applied by hand; each says which condition decides. */
export function dockerScenarios(): DockerScenario[] {
  const local = (address: string) => ({ address, loopbackEquivalent: true, basis: "socket:trusted-path" }) as const;
  const loopback = (address: string) => ({ address, loopbackEquivalent: true, basis: "socket:loopback" }) as const;
  const refused = (address: string, verdict: "remote-client" | "host-not-local" | "origin-not-local") =>
    ({ address, loopbackEquivalent: false, basis: `socket:${verdict}` }) as const;
  type Where = Deployment & { engine: EngineKind };
  const compose = (trustedProxies: string[], file: "compose.yaml" | "compose.pinned.yaml", recreate: boolean, subnet: string): Where =>
    ({ engine: "compose", network: "compose", publish: [LOOPBACK_PUBLISH], trustedProxies, compose: { file, recreate, subnet } });
  const bridge = (engine: EngineKind, network: NetworkId, publish: string, trustedProxies: string[]): Where => ({ engine, network, publish: [publish], trustedProxies });
  const host = (trustedProxies: string[]): Where => ({ engine: "proxy", network: "host", publish: [], trustedProxies });
  return [
    // --- the story's Compose file (one service, ports 127.0.0.1:18789:18789, TRUSTED_PROXIES from the environment)
    {
      name: "dockerd-compose-script-untrusted",
      description: "The story's Compose file with TRUSTED_PROXIES empty: the host's script on 127.0.0.1:18789 reaches the gateway from the project network's gateway 172.18.0.1 (docker-proxy), which is neither loopback nor trusted: not local, 1008 pairing required (the reported bug).",
      ...compose([], "compose.yaml", false, "172.18.0.0/16"), client: "host", url: V4, peer: "172.18.0.1", // the gateway listens on 0.0.0.0 here: no ::ffff:
      expected: refused("172.18.0.1", "remote-client"), // 5a: not loopback, not trusted
    },
    {
      name: "dockerd-compose-browser-like-trusted",
      description: "The story's Compose file with TRUSTED_PROXIES=172.18.0.1: the dashboard's own handshake (Origin http://127.0.0.1:18789) arrives from the trusted 172.18.0.1 with Host 127.0.0.1:18789 and no forwarding header: local on a trusted path (the fix).",
      ...compose(["172.18.0.1"], "compose.yaml", false, "172.18.0.0/16"), client: "host", url: V4, origin: SAME_ORIGIN, peer: "172.18.0.1",
      expected: local("172.18.0.1"), // 5a by its second half; 5b-5d hold
    },
    {
      name: "dockerd-compose-recreated-stale-trust",
      description: "After docker-compose down and up, Docker 20.10 gives the project network the next pool, 172.19.0.0/16: the host's script now arrives from 172.19.0.1, which TRUSTED_PROXIES=172.18.0.1 does not trust: not local again.",
      ...compose(["172.18.0.1"], "compose.yaml", true, "172.19.0.0/16"), client: "host", url: V4, peer: "172.19.0.1",
      expected: refused("172.19.0.1", "remote-client"),
    },
    {
      name: "dockerd-compose-pinned-recreated-trusted",
      description: "compose.pinned.yaml pins the project network to 172.18.0.0/16: recreated after the above, it is 172.18.0.0/16 again, and with TRUSTED_PROXIES=172.18.0.1 the host's script is local.",
      ...compose(["172.18.0.1"], "compose.pinned.yaml", true, "172.18.0.0/16"), client: "host", url: V4, peer: "172.18.0.1",
      expected: local("172.18.0.1"),
    },

    // --- Docker's default bridge, -p 127.0.0.1:18789:18789
    {
      name: "dockerd-default-bridge-script-untrusted",
      description: "On Docker's default bridge (docker0, 172.17.0.0/16) a loopback-published port is relayed from the bridge gateway 172.17.0.1; without trustedProxies not local.",
      ...bridge("proxy", "default-bridge", LOOPBACK_PUBLISH, []), client: "host", url: V4, peer: mapped("172.17.0.1"),
      expected: refused("172.17.0.1", "remote-client"),
    },
    {
      name: "dockerd-default-bridge-script-trusted",
      description: "On the default bridge with trustedProxies [\"172.17.0.1\"] (its gateway's single address), the host's script on 127.0.0.1:18789 is local.",
      ...bridge("proxy", "default-bridge", LOOPBACK_PUBLISH, ["172.17.0.1"]), client: "host", url: V4, peer: mapped("172.17.0.1"),
      expected: local("172.17.0.1"),
    },
    {
      name: "dockerd-default-bridge-script-story-address",
      description: "The story's trustedProxies [\"172.18.0.1\"] on the default bridge: the peer is 172.17.0.1, which that list does not trust: not local. The address to trust depends on the network (doctor names it).",
      ...bridge("proxy", "default-bridge", LOOPBACK_PUBLISH, ["172.18.0.1"]), client: "host", url: V4, peer: mapped("172.17.0.1"),
      expected: refused("172.17.0.1", "remote-client"),
    },

    // --- a user-defined bridge 172.18.0.0/16, -p 127.0.0.1:18789:18789 (the story's topology)
    {
      name: "dockerd-user-bridge-script-untrusted",
      description: "A user-defined bridge 172.18.0.0/16, port published on 127.0.0.1: the host's script arrives from the bridge gateway 172.18.0.1 (docker-proxy); without trustedProxies not local (the reported bug).",
      ...bridge("proxy", "user-bridge", LOOPBACK_PUBLISH, []), client: "host", url: V4, peer: mapped("172.18.0.1"),
      expected: refused("172.18.0.1", "remote-client"),
    },
    {
      name: "dockerd-user-bridge-browser-like-untrusted",
      description: "The dashboard's own handshake (Origin http://127.0.0.1:18789) on the user-defined bridge without trustedProxies: not local, closed with 1008 pairing required as reported.",
      ...bridge("proxy", "user-bridge", LOOPBACK_PUBLISH, []), client: "host", url: V4, origin: SAME_ORIGIN, peer: mapped("172.18.0.1"),
      expected: refused("172.18.0.1", "remote-client"),
    },
    {
      name: "dockerd-user-bridge-script-trusted",
      description: "The user-defined bridge with trustedProxies [\"172.18.0.1\"]: the host's script on 127.0.0.1:18789 is local on a trusted path.",
      ...bridge("proxy", "user-bridge", LOOPBACK_PUBLISH, ["172.18.0.1"]), client: "host", url: V4, peer: mapped("172.18.0.1"),
      expected: local("172.18.0.1"),
    },
    {
      name: "dockerd-user-bridge-browser-like-trusted",
      description: "The dashboard's own handshake on the user-defined bridge with 172.18.0.1 trusted: Host and Origin name 127.0.0.1:18789, local.",
      ...bridge("proxy", "user-bridge", LOOPBACK_PUBLISH, ["172.18.0.1"]), client: "host", url: V4, origin: SAME_ORIGIN, peer: mapped("172.18.0.1"),
      expected: local("172.18.0.1"),
    },
    {
      name: "dockerd-user-bridge-browser-like-cross-site",
      description: "A page from another site (Origin https://evil.example) in the host's browser opening ws://127.0.0.1:18789 through Docker, 172.18.0.1 trusted: the path is trusted but Origin is not this machine: not local.",
      ...bridge("proxy", "user-bridge", LOOPBACK_PUBLISH, ["172.18.0.1"]), client: "host", url: V4, origin: "https://evil.example", peer: mapped("172.18.0.1"),
      expected: refused("172.18.0.1", "origin-not-local"), // 5d
    },
    {
      name: "dockerd-user-bridge-second-container",
      description: "A second container on the same network connecting straight to the gateway (ws://172.18.0.2:18789) arrives from its own address 172.18.0.3, which [\"172.18.0.1\"] does not trust: not local.",
      ...bridge("proxy", "user-bridge", LOOPBACK_PUBLISH, ["172.18.0.1"]), client: "container", url: "ws://172.18.0.2:18789/ws", peer: mapped("172.18.0.3"),
      expected: refused("172.18.0.3", "remote-client"),
    },
    {
      name: "dockerd-user-bridge-second-container-forged-host",
      description: "The second container writing Host: localhost:18789 itself: its peer 172.18.0.3 is still untrusted, so the forged Host changes nothing: not local.",
      ...bridge("proxy", "user-bridge", LOOPBACK_PUBLISH, ["172.18.0.1"]), client: "container", url: "ws://172.18.0.2:18789/ws", host: FORGED_HOST, peer: mapped("172.18.0.3"),
      expected: refused("172.18.0.3", "remote-client"),
    },
    {
      name: "dockerd-user-bridge-second-container-subnet-trusted",
      description: "Why the single address: with the whole subnet 172.18.0.0/16 trusted, the second container (172.18.0.3) writing Host: localhost:18789 and no Origin passes every condition and is local.",
      ...bridge("proxy", "user-bridge", LOOPBACK_PUBLISH, ["172.18.0.0/16"]), client: "container", url: "ws://172.18.0.2:18789/ws", host: FORGED_HOST, peer: mapped("172.18.0.3"),
      expected: local("172.18.0.3"), // 5a: the peer is trusted and no header names anyone else; 5c: Host is localhost
    },
    {
      name: "dockerd-user-bridge-lan-via-loopback-route",
      description: "A LAN machine that routes 127.0.0.1 through the host reaches the port published on 127.0.0.1 (Docker 20.10's DNAT rule matches any packet for 127.0.0.1:18789); the gateway sees the LAN machine's own address 192.168.77.2, untrusted: not local.",
      ...bridge("proxy", "user-bridge", LOOPBACK_PUBLISH, ["172.18.0.1"]), client: "lan-loopback-route", url: V4, peer: mapped(LAN.clientV4),
      expected: refused(LAN.clientV4, "remote-client"),
    },

    // --- the same bridge published on every interface, -p 18789:18789, a client on the LAN
    {
      name: "dockerd-all-interfaces-host-script",
      description: "Published on every interface, the host's own script on 127.0.0.1:18789 still arrives from the bridge gateway 172.18.0.1 (docker-proxy); trusted, local.",
      ...bridge("proxy", "user-bridge", ALL_PUBLISH, ["172.18.0.1"]), client: "host", url: V4, peer: mapped("172.18.0.1"),
      expected: local("172.18.0.1"),
    },
    {
      name: "dockerd-all-interfaces-lan-ipv4",
      description: "Published on every interface, a LAN machine on IPv4 (ws://192.168.77.1:18789) is DNATed by the kernel without masquerade: the gateway sees its own address 192.168.77.2, not the bridge gateway; untrusted, not local.",
      ...bridge("proxy", "user-bridge", ALL_PUBLISH, ["172.18.0.1"]), client: "lan", url: `ws://${LAN.hostV4}:${PORT}/ws`, peer: mapped(LAN.clientV4),
      expected: refused(LAN.clientV4, "remote-client"),
    },
    {
      name: "dockerd-all-interfaces-lan-ipv4-forged-host",
      description: "The IPv4 LAN machine writing Host: localhost:18789: its own address 192.168.77.2 is what the gateway sees, untrusted, so not local.",
      ...bridge("proxy", "user-bridge", ALL_PUBLISH, ["172.18.0.1"]), client: "lan", url: `ws://${LAN.hostV4}:${PORT}/ws`, host: FORGED_HOST, peer: mapped(LAN.clientV4),
      expected: refused(LAN.clientV4, "remote-client"),
    },
    {
      name: "dockerd-all-interfaces-lan-ipv6",
      description: "Published on every interface, docker-proxy also listens on [::]:18789 and relays a LAN machine's IPv6 connection (ws://[fd77::1]:18789) to the IPv4-only container from the bridge gateway 172.18.0.1: trusted, but Host [fd77::1]:18789 is not this machine: not local.",
      ...bridge("proxy", "user-bridge", ALL_PUBLISH, ["172.18.0.1"]), client: "lan", url: `ws://[${LAN.hostV6}]:${PORT}/ws`, peer: mapped("172.18.0.1"),
      expected: refused("172.18.0.1", "host-not-local"), // 5a holds (trusted peer), 5c fails
    },
    {
      name: "dockerd-all-interfaces-lan-ipv6-forged-host",
      description: "The hole in -p 18789:18789: the LAN machine on IPv6 writes Host: localhost:18789 and no Origin; docker-proxy relays it from the trusted bridge gateway 172.18.0.1 with no forwarding header, so it passes every condition and is local. Publish on 127.0.0.1 only.",
      ...bridge("proxy", "user-bridge", ALL_PUBLISH, ["172.18.0.1"]), client: "lan", url: `ws://[${LAN.hostV6}]:${PORT}/ws`, host: FORGED_HOST, peer: mapped("172.18.0.1"),
      expected: local("172.18.0.1"), // nothing in the request tells it from the host's own script
    },

    // --- a dual-stack network fd18::/64, -p [::1]:18789:18789
    {
      name: "dockerd-ipv6-script-untrusted",
      description: "A dual-stack network (fd18::/64) with the port published on [::1]: docker-proxy relays the host's IPv6 loopback client from the bridge's IPv6 gateway fd18::1; without trustedProxies not local.",
      ...bridge("proxy", "ipv6", V6_LOOPBACK_PUBLISH, []), client: "host", url: V6, peer: "fd18::1",
      expected: refused("fd18::1", "remote-client"),
    },
    {
      name: "dockerd-ipv6-script-trusted",
      description: "The same with trustedProxies [\"fd18::1\"] and Host [::1]:18789: local on a trusted path.",
      ...bridge("proxy", "ipv6", V6_LOOPBACK_PUBLISH, ["fd18::1"]), client: "host", url: V6, peer: "fd18::1",
      expected: local("fd18::1"),
    },
    {
      name: "dockerd-ipv6-all-interfaces-lan-ipv6-forged-host",
      description: "The same hole on a dual-stack network published on every interface: docker-proxy on [::]:18789 relays a LAN machine's IPv6 connection to the container's fd18::2 from the bridge's fd18::1; trusted as doctor advises, with Host: localhost:18789 and no Origin it is local.",
      ...bridge("proxy", "ipv6", ALL_PUBLISH, ["172.19.0.1", "fd18::1"]), client: "lan", url: `ws://[${LAN.hostV6}]:${PORT}/ws`, host: FORGED_HOST, peer: "fd18::1",
      expected: local("fd18::1"),
    },

    // --- --network host
    {
      name: "dockerd-host-network-script",
      description: "With --network host the gateway shares the host's network: the host's script on 127.0.0.1:18789 is seen as 127.0.0.1, local with no trustedProxies at all.",
      ...host([]), client: "host", url: V4, peer: mapped("127.0.0.1"),
      expected: loopback("127.0.0.1"), // 5a by its first half: the client is loopback
    },
    {
      name: "dockerd-host-network-lan-forged-host",
      description: "With --network host a LAN machine reaching ws://192.168.77.1:18789 with Host: localhost:18789 is seen as itself (192.168.77.2): not loopback, not trusted, not local.",
      ...host([]), client: "lan", url: `ws://${LAN.hostV4}:${PORT}/ws`, host: FORGED_HOST, peer: mapped(LAN.clientV4),
      expected: refused(LAN.clientV4, "remote-client"),
    },
    {
      name: "dockerd-host-network-router-trusted-forged-host",
      description: "With --network host, trusting the host's default gateway 192.168.77.254 (the LAN's router, which doctor names under --network host) lets anything arriving from the router's address with Host: localhost:18789 pass for local.",
      ...host([LAN.routerV4]), client: "lan-router", url: `ws://${LAN.hostV4}:${PORT}/ws`, host: FORGED_HOST, peer: mapped(LAN.routerV4),
      expected: local(LAN.routerV4),
    },

    // --- userland proxy off: the kernel's DNAT alone
    {
      name: "dockerd-nat-user-bridge-script-untrusted",
      description: "Userland proxy off: 127.0.0.1:18789 is DNATed to the container and masqueraded (route_localnet=1 on the bridge), so the host's script still arrives from the bridge gateway 172.18.0.1; without trustedProxies not local.",
      ...bridge("nat", "user-bridge", LOOPBACK_PUBLISH, []), client: "host", url: V4, peer: mapped("172.18.0.1"),
      expected: refused("172.18.0.1", "remote-client"),
    },
    {
      name: "dockerd-nat-user-bridge-script-trusted",
      description: "Userland proxy off, trustedProxies [\"172.18.0.1\"]: the host's script is local.",
      ...bridge("nat", "user-bridge", LOOPBACK_PUBLISH, ["172.18.0.1"]), client: "host", url: V4, peer: mapped("172.18.0.1"),
      expected: local("172.18.0.1"),
    },
    {
      name: "dockerd-nat-user-bridge-browser-like-trusted",
      description: "Userland proxy off, 172.18.0.1 trusted: the dashboard's own handshake is local.",
      ...bridge("nat", "user-bridge", LOOPBACK_PUBLISH, ["172.18.0.1"]), client: "host", url: V4, origin: SAME_ORIGIN, peer: mapped("172.18.0.1"),
      expected: local("172.18.0.1"),
    },
    {
      name: "dockerd-nat-user-bridge-lan-via-loopback-route",
      description: "Userland proxy off: a LAN machine routing 127.0.0.1 through the host reaches the loopback-published port too, and is seen as itself (192.168.77.2): not local.",
      ...bridge("nat", "user-bridge", LOOPBACK_PUBLISH, ["172.18.0.1"]), client: "lan-loopback-route", url: V4, peer: mapped(LAN.clientV4),
      expected: refused(LAN.clientV4, "remote-client"),
    },
    {
      name: "dockerd-nat-all-interfaces-host-script",
      description: "Userland proxy off, published on every interface: the host's script on 127.0.0.1:18789 is DNATed and masqueraded, seen as 172.18.0.1; trusted, local.",
      ...bridge("nat", "user-bridge", ALL_PUBLISH, ["172.18.0.1"]), client: "host", url: V4, peer: mapped("172.18.0.1"),
      expected: local("172.18.0.1"),
    },
    {
      name: "dockerd-nat-all-interfaces-lan-ipv4-forged-host",
      description: "Userland proxy off, published on every interface: a LAN machine on IPv4 with Host: localhost:18789 is seen as itself (192.168.77.2): not local.",
      ...bridge("nat", "user-bridge", ALL_PUBLISH, ["172.18.0.1"]), client: "lan", url: `ws://${LAN.hostV4}:${PORT}/ws`, host: FORGED_HOST, peer: mapped(LAN.clientV4),
      expected: refused(LAN.clientV4, "remote-client"),
    },
    {
      name: "dockerd-nat-ipv6-all-interfaces-lan-ipv6-forged-host",
      description: "Userland proxy off with ip6tables, a dual-stack network published on every interface: a LAN machine on IPv6 with Host: localhost:18789 is DNATed to the container's fd18::2 and seen as itself (fd77::2): not local.",
      ...bridge("nat", "ipv6", ALL_PUBLISH, ["172.19.0.1", "fd18::1"]), client: "lan", url: `ws://[${LAN.hostV6}]:${PORT}/ws`, host: FORGED_HOST, peer: LAN.clientV6,
      expected: refused(LAN.clientV6, "remote-client"),
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------
// The lab: one engine, its networks, and one gateway (redeployed whenever the deployment changes)

export class DockerLab {
  #gateway: GatewayContainer | undefined;
  #key: string | undefined;
  /** The Compose file of the project that is up, if one is. */
  #composeFile: string | undefined;

  private constructor(
    readonly kind: EngineKind,
    readonly engine: DockerEngine,
    readonly rootfs: Rootfs,
  ) {}

  /** Starts an engine of this kind and imports the gateway image. */
  static async open(kind: EngineKind, rootfs: Rootfs): Promise<DockerLab> {
    const engine = await DockerEngine.start(ENGINES[kind].options);
    try {
      engine.importImage(rootfs);
    } catch (error) {
      await engine.close();
      throw error;
    }
    return new DockerLab(kind, engine, rootfs);
  }

  get gateway(): GatewayContainer | undefined {
    return this.#gateway;
  }

  /** The Docker network's name for a NetworkId. */
  networkName(network: NetworkId): string {
    if (network === "default-bridge") return "bridge";
    if (network === "host") return "host";
    if (network === "compose") return `${this.composeProject}_default`;
    return NETWORKS[network].name;
  }

  get composeProject(): string {
    return `ca-dk-${this.engine.id}`;
  }

  /** Runs the gateway as deployed (redeploying only if the deployment changed). */
  async deploy(deployment: Deployment): Promise<GatewayContainer> {
    const key = JSON.stringify([deployment.network, deployment.publish, deployment.trustedProxies, deployment.compose]);
    if (this.#gateway !== undefined && this.#key === key && deployment.compose?.recreate !== true) return this.#gateway;
    const compose = deployment.compose;
    if (deployment.network === "compose") {
      if (compose === undefined) throw new Error("a Compose deployment names its file");
      if (this.kind !== "compose") throw new Error("Compose runs on the compose engine alone: only the first network on an engine gets 172.18.0.0/16");
      // The same file again: `up` recreates the container with the new environment and keeps the network.
      if (compose.recreate || this.#composeFile !== compose.file) await this.undeploy();
      this.#gateway = undefined;
      this.#key = undefined;
      this.#gateway = await this.#composeUp(deployment, compose);
    } else {
      await this.undeploy();
      if (deployment.network === "user-bridge" || deployment.network === "ipv6") {
        const { name, subnets } = NETWORKS[deployment.network];
        if (!(await this.engine.networkExists(name))) await this.engine.createNetwork(name, [...subnets]);
      }
      this.#gateway = await this.engine.runGateway({ network: this.networkName(deployment.network), publish: deployment.publish, trustedProxies: deployment.trustedProxies });
      if (deployment.network === "ipv6") await this.engine.waitUsable("fd18::1");
    }
    this.#key = key;
    return this.#gateway;
  }

  /** Removes the running gateway (`docker-compose down` for the Compose project, network included). */
  async undeploy(): Promise<void> {
    if (this.#composeFile !== undefined) {
      const down = await this.engine.compose(["-f", path.join(COMPOSE_DIR, this.#composeFile), "-p", this.composeProject, "down"]);
      if (down.code !== 0) throw new Error(`docker-compose down: exited ${down.code}: ${down.stderr}`);
      this.#composeFile = undefined;
    } else {
      await this.#gateway?.remove();
    }
    this.#gateway = undefined;
    this.#key = undefined;
  }

  /**
   * The story's Compose file, run with Debian's docker-compose 1.29: TRUSTED_PROXIES from the environment,
   * plus an override (this run's only) that adds the capture folder. Checks the project network's subnet.
   */
  async #composeUp(deployment: Deployment, compose: NonNullable<Deployment["compose"]>): Promise<GatewayContainer> {
    const file = path.join(COMPOSE_DIR, compose.file);
    const ports = composePorts(file);
    if (JSON.stringify(ports) !== JSON.stringify(deployment.publish)) throw new Error(`${compose.file} publishes ${ports.join(", ")}, the scenario assumes ${deployment.publish.join(", ")}`);
    const { dir } = this.engine.nextGatewayName();
    const capture = path.join(dir, "capture");
    const override = path.join(dir, "compose.override.yaml");
    writeFileSync(
      override,
      [
        "# This run's only: the gateway's capture mode, writing into a folder of the test's.",
        "services:",
        "  gateway:",
        `    command: ${JSON.stringify([IMAGE_NODE, IMAGE_GATEWAY, "--config", "/app/gateway/config.json", "--capture", "/capture"])}`,
        `    volumes: [${JSON.stringify(`${capture}:/capture`)}]`,
        "",
      ].join("\n"),
    );
    const files = ["-f", file, "-f", override, "-p", this.composeProject];
    this.#composeFile = compose.file;
    const up = await this.engine.compose([...files, "up", "-d"], { TRUSTED_PROXIES: deployment.trustedProxies.join(","), GATEWAY_IMAGE: IMAGE });
    if (up.code !== 0) throw new Error(`docker-compose up: exited ${up.code}: ${up.stdout}${up.stderr}`);
    // The labels docker-compose puts on its containers (quicker than another `docker-compose ps`).
    const id = (
      await this.engine.dockerOk(["ps", "-q", "--no-trunc", "--filter", `label=com.docker.compose.project=${this.composeProject}`, "--filter", "label=com.docker.compose.service=gateway"])
    ).trim();
    if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`no single running container of the Compose project's gateway service: ${JSON.stringify(id)}`);
    const gateway = new GatewayContainer(this.engine, id, capture, "/app/gateway/config.json");
    await gateway.ready();
    const logs = await gateway.logs();
    const want = `gateway: trustedProxies from TRUSTED_PROXIES: ${JSON.stringify(deployment.trustedProxies)}`;
    if (!logs.includes(want)) throw new Error(`the Compose gateway did not take TRUSTED_PROXIES (${want}):\n${logs}`);
    const network = await this.engine.network(this.networkName("compose"));
    if (network.subnets[0]?.subnet !== compose.subnet) throw new Error(`the Compose project network is ${JSON.stringify(network.subnets)}, not ${compose.subnet}`);
    return gateway;
  }

  /** One handshake from `place`; `?case=name` is added to the URL so the capture can be found. */
  async handshake(name: string, place: ClientPlace, url: string, extra: { origin?: string; host?: string; network?: NetworkId } = {}): Promise<{ outcome: Outcome; captured: Handshake }> {
    const gateway = this.#gateway;
    if (gateway === undefined) throw new Error("deploy first");
    gateway.forget(name);
    const args = {
      url: `${url}${url.includes("?") ? "&" : "?"}case=${encodeURIComponent(name)}`,
      ...(extra.origin === undefined ? {} : { origin: extra.origin }),
      ...(extra.host === undefined ? {} : { headers: { Host: extra.host } }),
    };
    let outcome: Outcome;
    if (place === "host") outcome = await this.engine.client(this.engine.ns, args);
    else if (place === "lan") outcome = await this.engine.client(this.engine.lanNs, args);
    else if (place === "lan-router") outcome = await this.engine.client(this.engine.lanNs, { ...args, localAddress: LAN.routerV4 });
    else if (place === "lan-loopback-route") {
      await this.engine.routeLoopbackThroughHost();
      outcome = await this.engine.client(this.engine.lanNs, args);
    } else {
      if (extra.network === undefined) throw new Error(`${name}: a client container needs the network`);
      outcome = await this.engine.clientContainer(this.networkName(extra.network), args);
    }
    if ("error" in outcome) throw new Error(`${name}: the client failed: ${outcome.error}`);
    return { outcome, captured: gateway.captured(name) };
  }

  /** Runs one scenario and checks that the request the gateway saw is the one the scenario is about. */
  async run(scenario: DockerScenario): Promise<{ outcome: Outcome; captured: Handshake }> {
    if (scenario.engine !== this.kind) throw new Error(`${scenario.name} needs the ${scenario.engine} engine, this is ${this.kind}`);
    await this.deploy(scenario);
    const result = await this.handshake(scenario.name, scenario.client, scenario.url, { origin: scenario.origin, host: scenario.host, network: scenario.network });
    checkRequest({ ...scenario, host: scenario.host ?? new URL(scenario.url).host }, result.captured.request);
    return result;
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}

/** The `ports` of the Compose file's gateway service (a small reader for its one list of quoted strings). */
export function composePorts(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const block = /\n {4}ports:\n((?: {6}- .*\n)+)/.exec(text)?.[1] ?? "";
  return [...block.matchAll(/- "([^"]+)"/g)].map((match) => match[1]!);
}

/** What the outcome must be for the expected answer: opened as local, or closed with 1008. */
export function outcomeFits(outcome: Outcome, expected: Fixture["expected"]): boolean {
  if (expected.loopbackEquivalent) return "opened" in outcome && outcome.opened.local && outcome.opened.address === expected.address && outcome.opened.basis === expected.basis;
  return "closed" in outcome && outcome.closed.code === 1008 && outcome.closed.reason === "pairing required";
}

// ---------------------------------------------------------------------------------------------------------
// Provenance

function publishText(scenario: DockerScenario): string {
  if (scenario.network === "host") return "--network host (no port publishing)";
  if (scenario.network === "compose") return `Compose ports: ["${scenario.publish.join('", "')}"] (examples/compose/${scenario.compose?.file})${scenario.compose?.recreate ? ", after docker-compose down" : ""}`;
  return scenario.publish.map((publish) => `-p ${publish}`).join(" ");
}

const CLIENTS: Record<ClientPlace, string> = {
  host: "in the engine's namespace (the host's own script or browser)",
  lan: `in a second namespace playing a machine on the host's LAN (${LAN.clientV4}/24, ${LAN.clientV6}/64; the host is ${LAN.hostV4}, ${LAN.hostV6}), joined to the engine's by a veth pair`,
  "lan-loopback-route": `in the LAN namespace (${LAN.clientV4}), which routes 127.0.0.1 through the host ${LAN.hostV4} (route_localnet=1 and a policy rule ahead of its local table, in that namespace only)`,
  "lan-router": `in the LAN namespace, connecting from the router's address ${LAN.routerV4} (the host's default gateway)`,
  container: `in a second container of the gateway image on the same network (docker run --rm, node ${process.version} and the image's ws)`,
};

async function networkText(lab: DockerLab, scenario: DockerScenario): Promise<string> {
  if (scenario.network === "host") return "network: host (the container shares the engine's namespace)";
  const name = lab.networkName(scenario.network);
  const info = await lab.engine.network(name);
  // Docker leaves IPAM's gateway empty for a network created with --subnet alone: the container's view has it.
  const seen = (await lab.gateway!.addresses())[name];
  const gateways = [seen?.gatewayV4, seen?.gatewayV6].filter((address) => address !== undefined && address !== "");
  const what = { "default-bridge": "Docker's default bridge docker0", "user-bridge": "a user-defined bridge", ipv6: "a user-defined dual-stack bridge (--ipv6)", compose: "the Compose project's default network" }[scenario.network];
  return `network: ${what} "${name.replace(lab.composeProject, "<project>")}", ${info.subnets.map(({ subnet }) => subnet).join(" and ")}, gateway ${gateways.join(" and ")} (the container's address ${[seen?.ipv4, seen?.ipv6].filter(Boolean).join(" and ")})`;
}

// ---------------------------------------------------------------------------------------------------------
// Recording

async function record(): Promise<void> {
  const support = namespaceSupport();
  if (!support.ok) throw new Error(`cannot record: ${support.why}`);
  const { date, wsVersion, kernel } = labFacts();
  const compose = execFileSync("/usr/bin/docker-compose", ["version", "--short"], { encoding: "utf8", timeout: 30_000 }).trim();
  const scenarios = dockerScenarios();
  const fixtures: Fixture[] = [];
  const rootfs = buildRootfs();
  const forgetRootfs = atLastResort(() => rootfs.remove());
  const labs: DockerLab[] = [];
  let mismatched = 0;
  // On Ctrl-C or a crash, test/e2e/docker-engine.ts stops the engines and removes the namespaces by itself.
  try {
    for (const kind of ["compose", "proxy", "nat"] as const) {
      const lab = await DockerLab.open(kind, rootfs);
      labs.push(lab);
      const iptables = (await lab.engine.in(lab.engine.ns, ["iptables", "--version"])).stdout.trim();
      console.log(`engine ${kind}: Docker ${lab.engine.version}, ${ENGINES[kind].describe}`);
      for (const scenario of scenarios.filter((s) => s.engine === kind)) {
        const { outcome, captured } = await lab.run(scenario);
        const agrees = logCapture(scenario.name, captured, outcome, scenario.expected);
        if (!agrees || !outcomeFits(outcome, scenario.expected)) mismatched++;
        const what = scenario.origin === undefined ? "script-like: no Origin" : `browser-like: Origin ${scenario.origin}`;
        const listen = scenario.network === "compose" ? "0.0.0.0:18789 (the Compose file's command, server.ts's default)" : "[::]:18789 (dual stack)";
        fixtures.push({
          name: scenario.name,
          description: scenario.description,
          provenance: {
            kind: "recorded",
            source:
              `engine: Debian docker.io ${lab.engine.version} (dockerd ${lab.engine.flags.join(" ")}, and its own data root, exec root and cgroup parent), ${ENGINES[kind].describe}, in a network namespace of its own; ` +
              `${await networkText(lab, scenario)}; publish: ${publishText(scenario)}; ` +
              (scenario.network === "compose" ? `run with Debian's docker-compose ${compose}, TRUSTED_PROXIES=${JSON.stringify(scenario.trustedProxies.join(","))}; ` : "") +
              `server: examples/gateway/server.ts compiled into an imported image (node ${process.version}, ws ${wsVersion}, clientaddr ${rootfs.version} packed) on ${listen}; ` +
              `client: ws ${wsVersion} WebSocket client ${CLIENTS[scenario.client]} (${what}${scenario.host === undefined ? "" : `, writing Host: ${scenario.host}`}), URL ${scenario.url}; ` +
              `${iptables}, Linux ${kernel}; recorded by scripts/record-docker.ts on ${date}`,
          },
          request: captured.request,
          options: { trustedProxies: scenario.trustedProxies },
          expected: scenario.expected,
        });
      }
    }
  } finally {
    for (const lab of labs) await lab.close();
    rootfs.remove();
    forgetRootfs();
  }
  // As every recorder does: the expectations are written as derived, and a disagreement fails the run loudly
  // (and then `npm test`), rather than being replaced by what the gateway said.
  writeFixtureSet(DOCKER_FIXTURES, fixtures);
  checkAgainstLibrary(fixtures);
  console.log(`wrote ${fixtures.length} fixtures to ${path.relative(ROOT, DOCKER_FIXTURES)}/`);
  if (mismatched > 0) {
    console.error(`${mismatched} scenario(s) did not get their expected answer, or outcome, from the live gateway`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  // The engines' exit handlers stop them and delete the namespaces if the bound is reached.
  runBounded("record-docker", record, 300_000);
}
