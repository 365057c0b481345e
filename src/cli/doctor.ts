// `clientaddr doctor`: what a gateway running here will see, which `trustedProxies` entry to use, and what
// is wrong with a config's list. Everything is a pure function of `Facts` (container evidence, interfaces,
// default routes); only `readFacts` touches the machine, so tests and the CLI can hand in any topology.
//
// `clientaddr doctor --json` prints one DoctorReport:
//
//   {
//     "facts": {
//       "container":  { "detected": true, "evidence": ["/.dockerenv exists (Docker)"] },
//                     // with Podman evidence also "podman": { "rootless": true | false | null } (see detectContainer)
//       "interfaces": [{ "name": "eth0", "addresses": [{ "family": 4, "address": "172.18.0.2", "cidr": "172.18.0.2/16" }] }],
//       "gateways":   [{ "family": 4, "address": "172.18.0.1", "interface": "eth0", "metric": 0 }]
//     },
//     "recommendation": { "trustedProxies": ["172.18.0.1"] },   // IPv4 default gateway, then IPv6 if any; [] if none
//                                                                // or without container evidence; under Podman's
//                                                                // rootlessport the container's own IPv4 address
//     "warnings": [{ "code": "publish-on-loopback", "severity": "warning", "message": "..." }],
//     "config": null                                            // without --config; with it:
//               | { "file": "gateway.json", "findings": [{ "code": "private-range", "severity": "warning",
//                                                          "message": "...", "entry": "172.18.0.0/16", "index": 0 }] }
//   }
//
// Severities are "error" | "warning" | "info"; `entry` and `index` are present on findings about one entry.
// Addresses are canonical (dotted IPv4, RFC 5952 IPv6), so "172.18.0.1" can be compared as a string.
import { access, readFile } from "node:fs/promises";
import { type NetworkInterfaceInfo, endianness, networkInterfaces } from "node:os";
import { type Address, formatAddress, parseIp } from "../core/address.js";
import { ClientAddressConfigError } from "../core/config-error.js";
import { type TrustedProxies, compileTrustedProxies } from "../core/trust.js";

export interface ContainerFacts {
  readonly detected: boolean;
  /** What was found, one line each; empty when nothing suggests a container. */
  readonly evidence: readonly string[];
  /** Present when the evidence is Podman's (/run/.containerenv, container=podman, a libpod cgroup). */
  readonly podman?: PodmanFacts;
}

export interface PodmanFacts {
  /**
   * Whether Podman runs rootless: from `rootless=` in /run/.containerenv (which Podman fills in for --privileged
   * containers only; it is empty otherwise), else from /proc/self/uid_map (rootless Podman maps the container's
   * uid 0 to the user's own uid, alone); null when neither tells.
   */
  readonly rootless: boolean | null;
}

export interface InterfaceFacts {
  readonly name: string;
  readonly addresses: ReadonlyArray<{ readonly family: 4 | 6; readonly address: string; readonly cidr: string }>;
}

export interface Gateway {
  readonly family: 4 | 6;
  readonly address: string;
  readonly interface: string;
  readonly metric: number;
}

export interface Facts {
  readonly container: ContainerFacts;
  /** The interfaces that are up, with their addresses (Node's os.networkInterfaces()). */
  readonly interfaces: readonly InterfaceFacts[];
  /**
   * Every interface's name from /proc/net/dev, up or down: an engine's bridge with no container on it has no
   * carrier, and os.networkInterfaces() leaves it out.
   */
  readonly links?: readonly string[];
  /** Default gateways from /proc/net/route and /proc/net/ipv6_route, in table order. */
  readonly gateways: readonly Gateway[];
}

export type Severity = "error" | "warning" | "info";

export type FindingCode =
  // diagnose
  | "no-container-evidence"
  | "no-default-gateway"
  | "publish-on-loopback"
  | "trust-single-address"
  | "rootlessport-peer"
  | "rootless-unknown"
  | "host-network"
  // checkConfig
  | "not-a-config"
  | "invalid-entry"
  | "trusts-everyone"
  | "host-bits-set"
  | "never-matches"
  | "private-range"
  | "public-range"
  | "link-local-range"
  | "trusted-not-this-machine"
  | "gateway-not-trusted"
  | "peer-not-trusted"
  | "default-gateway-on-host";

export interface Finding {
  readonly code: FindingCode;
  readonly severity: Severity;
  readonly message: string;
  /** The entry as written and its index in the list, for findings about one entry. */
  readonly entry?: unknown;
  readonly index?: number;
}

export interface Diagnosis {
  readonly facts: Facts;
  readonly recommendation: { readonly trustedProxies: readonly string[] };
  readonly warnings: readonly Finding[];
}

export interface DoctorReport extends Diagnosis {
  readonly config: { readonly file: string; readonly findings: readonly Finding[] } | null;
}

// ---- /proc parsers ----------------------------------------------------------------------------------

const RTF_UP = 0x0001;
const RTF_GATEWAY = 0x0002;
const HEX8 = /^[0-9A-Fa-f]{8}$/;
const FLAGS = /^[0-9A-Fa-f]{1,8}$/;
const HEX32 = /^[0-9A-Fa-f]{32}$/;

/** A route that is up and goes through a next hop (`unreachable` and `prohibit` routes have none). */
function viaGateway(flags: number): boolean {
  return (flags & (RTF_UP | RTF_GATEWAY)) === (RTF_UP | RTF_GATEWAY);
}

/**
 * The IPv4 default gateways in `/proc/net/route`: destination 00000000, mask 00000000, RTF_GATEWAY set.
 * The kernel prints each address, a network-order word, as a host-order hex integer, so on little-endian
 * machines (x86, arm) the bytes read backwards: `010012AC` is 172.18.0.1. Lines that do not parse are skipped.
 */
export function parseRoute(text: string, littleEndian = endianness() === "LE"): Gateway[] {
  const gateways: Gateway[] = [];
  for (const line of text.split("\n")) {
    const [iface, destination, gateway, flags, , , metric, mask] = line.trim().split(/\s+/);
    if (iface === undefined || destination === undefined || gateway === undefined || flags === undefined || metric === undefined || mask === undefined) continue;
    if (!HEX8.test(destination) || !HEX8.test(gateway) || !HEX8.test(mask) || !FLAGS.test(flags) || !/^\d+$/.test(metric)) continue;
    if (Number.parseInt(destination, 16) !== 0 || Number.parseInt(mask, 16) !== 0 || !viaGateway(Number.parseInt(flags, 16))) continue;
    const bytes = gateway.match(/../g)!.map((pair) => Number.parseInt(pair, 16));
    gateways.push({ family: 4, address: (littleEndian ? bytes.reverse() : bytes).join("."), interface: iface, metric: Number(metric) });
  }
  return gateways;
}

/**
 * The IPv6 default gateways in `/proc/net/ipv6_route`: destination ::/0 via a next hop with RTF_GATEWAY set.
 * Fields: destination, its prefix length, source, its prefix length, next hop, metric, refcount, use, flags,
 * interface; addresses are 32 hex digits in network order. The `::/0` reject route on `lo` has no gateway flag.
 */
export function parseIpv6Route(text: string): Gateway[] {
  const gateways: Gateway[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 10) continue;
    const [destination, prefix, , , nextHop, metric, , , flags, iface] = fields as [string, string, string, string, string, string, string, string, string, string];
    if (!HEX32.test(destination) || !HEX32.test(nextHop) || !HEX8.test(metric) || !HEX8.test(flags)) continue;
    if (/[^0]/.test(destination) || prefix !== "00" || !/[^0]/.test(nextHop) || !viaGateway(Number.parseInt(flags, 16))) continue;
    const address = parseIp(nextHop.match(/.{4}/g)!.join(":"))!;
    gateways.push({ family: 6, address: formatAddress(address), interface: iface, metric: Number.parseInt(metric, 16) });
  }
  return gateways;
}

/** What `readFacts` found on disk; null for a file that is missing or unreadable. */
export interface ContainerProbe {
  readonly dockerenv: boolean;
  readonly containerenv: boolean;
  readonly cgroup: string | null;
  readonly environ: string | null;
  /** What /run/.containerenv holds (Podman writes `engine=`, `rootless=`... for --privileged containers only). */
  readonly containerenvText?: string | null;
  /** /proc/self/uid_map: the user namespace's uid mapping ("0 0 4294967295" when there is none). */
  readonly uidMap?: string | null;
}

const CONTAINER_CGROUP = /docker|containerd|kubepods|libpod/;

/** Whether a Podman container runs rootless, and the evidence line that says so; null when nothing tells. */
function podmanRootless(probe: ContainerProbe): { rootless: boolean | null; evidence?: string } {
  const flag = probe.containerenvText
    ?.split("\n")
    .map((line) => /^\s*rootless\s*=\s*"?([01])"?\s*$/.exec(line)?.[1])
    .find((value) => value !== undefined);
  if (flag !== undefined) {
    return { rootless: flag === "1", evidence: `/run/.containerenv: rootless=${flag} (${flag === "1" ? "rootless" : "rootful"} Podman)` };
  }
  // Each line: first id inside, first id outside (in the parent namespace), count.
  const zero = (probe.uidMap ?? "")
    .split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number))
    .find((fields) => fields.length === 3 && fields.every(Number.isInteger) && fields[0] === 0);
  if (zero === undefined) return { rootless: null };
  const [, outside, count] = zero as [number, number, number];
  if (outside === 0) return { rootless: false, evidence: "/proc/self/uid_map: uid 0 is the host's uid 0 (rootful Podman)" };
  if (count === 1) {
    return { rootless: true, evidence: `/proc/self/uid_map: uid 0 is the unprivileged uid ${outside} alone, as rootless Podman maps its user (rootless Podman)` };
  }
  // Rootful Podman with --userns=auto or --uidmap, or a nested namespace of rootless Podman: cannot tell.
  return { rootless: null, evidence: `/proc/self/uid_map: uid 0 is uid ${outside} of a range of ${count} (a user namespace; rootful or rootless cannot be told)` };
}

/**
 * Container evidence. None of it is proof and its absence proves nothing (under cgroup v2 a Docker
 * container's /proc/1/cgroup is just `0::/`), so the report shows what was found rather than a guess.
 */
export function detectContainer(probe: ContainerProbe): ContainerFacts {
  const evidence: string[] = [];
  if (probe.dockerenv) evidence.push("/.dockerenv exists (Docker)");
  if (probe.containerenv) evidence.push("/run/.containerenv exists (Podman)");
  const cgroup = probe.cgroup?.split("\n").find((line) => CONTAINER_CGROUP.test(line));
  if (cgroup !== undefined) evidence.push(`/proc/1/cgroup: ${cgroup.trim()}`);
  const variable = probe.environ?.split("\0").find((entry) => entry.startsWith("container="));
  if (variable !== undefined) evidence.push(`/proc/1/environ: ${variable}`);
  const podman = probe.containerenv || variable === "container=podman" || /libpod/.test(cgroup ?? "");
  if (!podman) return { detected: evidence.length > 0, evidence };
  const { rootless, evidence: how } = podmanRootless(probe);
  if (how !== undefined) evidence.push(how);
  return { detected: true, evidence, podman: { rootless } };
}

/** The machine's facts. Reads /proc/net/* of the calling process's network namespace. */
export async function readFacts(): Promise<Facts> {
  const text = (file: string) => readFile(file, "utf8").catch(() => null);
  const exists = (file: string) => access(file).then(() => true, () => false);
  const [route, route6, netDev, dockerenv, containerenv, containerenvText, cgroup, environ, uidMap] = await Promise.all([
    text("/proc/net/route"),
    text("/proc/net/ipv6_route"),
    text("/proc/net/dev"),
    exists("/.dockerenv"),
    exists("/run/.containerenv"),
    text("/run/.containerenv"),
    text("/proc/1/cgroup"),
    text("/proc/1/environ"), // usually readable only by root
    text("/proc/self/uid_map"),
  ]);
  return {
    container: detectContainer({ dockerenv, containerenv, containerenvText, cgroup, environ, uidMap }),
    interfaces: interfaceFacts(networkInterfaces()),
    links: parseNetDev(netDev ?? ""),
    gateways: [...parseRoute(route ?? ""), ...parseIpv6Route(route6 ?? "")],
  };
}

function interfaceFacts(table: NodeJS.Dict<NetworkInterfaceInfo[]>): InterfaceFacts[] {
  return Object.entries(table).map(([name, infos = []]) => ({
    name,
    addresses: infos.map((info) => {
      const family = info.family === "IPv4" ? 4 : 6;
      return { family, address: info.address, cidr: info.cidr ?? `${info.address}/${family === 4 ? 32 : 128}` };
    }),
  }));
}

// ---- ranges -----------------------------------------------------------------------------------------

/** One CIDR range, compiled, so that "contains" is the trust list's own test and cannot disagree with it. */
interface Range {
  readonly text: string;
  readonly network: Address;
  readonly prefix: number;
  readonly set: TrustedProxies;
}

function range(cidr: string): Range {
  const set = compileTrustedProxies([cidr]);
  const text = set.ranges[0]!;
  const [network, prefix] = text.split("/") as [string, string];
  return { text, network: parseIp(network)!, prefix: Number(prefix), set };
}

/** The ranges one entry stands for (a preset is several). */
function rangesOf(entry: string): Range[] {
  return compileTrustedProxies([entry]).ranges.map(range);
}

// Two CIDR ranges overlap exactly when one holds the other's network address.
const overlaps = (a: Range, b: Range) => a.set.trusts(b.network) || b.set.trusts(a.network);
const within = (inner: Range, outer: Range) => inner.prefix >= outer.prefix && outer.set.trusts(inner.network);
const single = (r: Range) => r.prefix === (r.network.family === 4 ? 32 : 128);

const PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"].map(range);
const LOOPBACK = rangesOf("loopback");
const LINK_LOCAL = rangesOf("linklocal");
/** Everything else is "public" here: other networks and the Internet (documentation blocks included). */
const NOT_PUBLIC = [...PRIVATE, ...LOOPBACK, ...LINK_LOCAL];

/** A range's first and last address as integers of its family (32 or 128 bits). */
function bounds(r: Range): [bigint, bigint] {
  const { network } = r;
  const start = network.family === 4 ? BigInt(network.value) : network.parts.reduce((n, group) => (n << 16n) | BigInt(group), 0n);
  return [start, start + (1n << BigInt((network.family === 4 ? 32 : 128) - r.prefix)) - 1n];
}

/** The first address of `r` outside every NOT_PUBLIC block, or undefined when it holds none. */
function firstPublic(r: Range): string | undefined {
  const [start, end] = bounds(r);
  const blocks = NOT_PUBLIC.filter((b) => b.network.family === r.network.family)
    .map(bounds)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let next = start;
  for (const [from, to] of blocks) {
    if (from > next) break;
    if (to >= next) next = to + 1n;
  }
  if (next > end) return undefined;
  if (r.network.family === 4) return formatAddress({ family: 4, value: Number(next) });
  return formatAddress({ family: 6, parts: Array.from({ length: 8 }, (_, i) => Number((next >> BigInt(112 - 16 * i)) & 0xffffn)) });
}

// ---- diagnose ---------------------------------------------------------------------------------------

/** The default gateway the kernel prefers for a family: the lowest metric. */
function bestGateway(facts: Facts, family: 4 | 6): Gateway | undefined {
  return facts.gateways.filter((g) => g.family === family).sort((a, b) => a.metric - b.metric)[0];
}

function preferredGateways(facts: Facts): string[] {
  return [bestGateway(facts, 4), bestGateway(facts, 6)].flatMap((g) => (g ? [g.address] : []));
}

/** The container's own IPv4 address on the interface of its IPv4 default route, in the same network as the gateway. */
function ownAddress(facts: Facts): { address: string; network: Range; gateway: Gateway } | undefined {
  const gateway = bestGateway(facts, 4);
  if (gateway === undefined) return undefined;
  const via = parseIp(gateway.address)!;
  for (const { name, addresses } of facts.interfaces) {
    if (name !== gateway.interface) continue;
    for (const { family, address, cidr } of addresses) {
      const network = range(cidr);
      if (family === 4 && !single(network) && network.set.trusts(via)) return { address, network, gateway };
    }
  }
  return undefined;
}

/**
 * slirp4netns's layout (Podman's `--network slirp4netns`, the rootless default before Podman 5): the default route
 * via tap0 to the network's .2, the container at .100 (10.0.2.2 and 10.0.2.100 unless `cidr=` changed the network).
 */
function slirpLayout(facts: Facts): { own: string; gateway: string } | undefined {
  const own = ownAddress(facts);
  if (own === undefined || !own.gateway.interface.startsWith("tap")) return undefined;
  const base = (own.network.network as { value: number }).value;
  const offset = (address: string) => (parseIp(address) as { value: number }).value - base;
  if (offset(own.address) !== 100 || offset(own.gateway.address) !== 2) return undefined;
  return { own: own.address, gateway: own.gateway.address };
}

/**
 * Who a published port's connections come from, as far as the facts tell:
 * - Docker, and rootful Podman on a bridge network (netavark's DNAT and MASQUERADE): the bridge gateway, which is
 *   the container's default gateway;
 * - Podman with rootlessport, its default port handler for rootless containers (any network) and for slirp4netns
 *   networks (rootful too): rootlessport's process inside the container's network namespace connects to the
 *   container's own address, so the peer is that address, not the default gateway;
 * - no container evidence: nothing: on a host the default gateway is the router, and trusting it would trust
 *   whatever reaches this machine through it from the LAN or the Internet.
 */
interface PublishedPath {
  readonly kind: "none" | "gateway" | "rootlessport" | "host-network";
  /** The addresses to trust. */
  readonly peers: readonly string[];
  readonly engine: "Docker" | "Podman";
  /** In slirp4netns's layout: its gateway, the peer with `port_handler=slirp4netns` instead of rootlessport. */
  readonly slirpGateway?: string;
  /** Under host networking: the engine's bridge interface the container can see. */
  readonly bridge?: string;
}

// The bridges container engines make on the host: Docker's default and user-defined ones, Podman's CNI and
// netavark ones. A container that sees one shares the host's network namespace (`--network host`).
const ENGINE_BRIDGE = /^(docker0|br-[0-9a-f]{12}|cni-podman\d+|podman\d+)$/;

/** The engine bridge this namespace holds, if any: the mark of a container on the host's network. */
function engineBridge(facts: Facts): string | undefined {
  return [...(facts.links ?? []), ...facts.interfaces.map(({ name }) => name)].find((name) => ENGINE_BRIDGE.test(name));
}

/** The interface names in /proc/net/dev: two header lines, then one `name: counters...` line each. */
export function parseNetDev(text: string): string[] {
  return text
    .split("\n")
    .slice(2)
    .map((line) => line.split(":")[0]!.trim())
    .filter((name) => name !== "");
}

function publishedPath(facts: Facts): PublishedPath {
  const { container } = facts;
  if (!container.detected) return { kind: "none", peers: [], engine: "Docker" };
  const engine = container.podman === undefined ? "Docker" : "Podman";
  // On the host's network a client on this host connects over loopback, and the default gateway is the host's
  // router: trusting it would trust whatever reaches the host through it (recorded under Docker: a script on
  // the LAN forging Host through the router's address passed for local).
  const bridge = engineBridge(facts);
  if (bridge !== undefined) return { kind: "host-network", peers: [], engine, bridge };
  if (container.podman === undefined) return { kind: "gateway", peers: preferredGateways(facts), engine: "Docker" };
  const slirp = slirpLayout(facts);
  if (container.podman.rootless === true || slirp !== undefined) {
    const own = ownAddress(facts);
    return { kind: "rootlessport", peers: own === undefined ? [] : [own.address], engine: "Podman", ...(slirp === undefined ? {} : { slirpGateway: slirp.gateway }) };
  }
  return { kind: "gateway", peers: preferredGateways(facts), engine: "Podman" };
}

/** The network of the interface address whose range holds `address`, e.g. 172.18.0.0/16 for 172.18.0.1. */
function networkOf(facts: Facts, address: string): string | undefined {
  const parsed = parseIp(address)!;
  for (const { addresses } of facts.interfaces) {
    for (const { cidr } of addresses) {
      const r = range(cidr);
      if (!single(r) && r.set.trusts(parsed)) return r.text;
    }
  }
  return undefined;
}

/** "the gateway's single address "172.18.0.1"", or, under rootlessport, the container's own. */
function singleAddress(published: PublishedPath, addresses: readonly string[]): string {
  return published.kind === "rootlessport"
    ? `the single address ${quoted(addresses, "and")} (the container's own, which rootlessport connects from)`
    : `the gateway's single address ${quoted(addresses, "and")}`;
}

/**
 * Why to publish on loopback only, for the path this container's published port takes. What Docker 20.10 was
 * seen doing with a LAN client (fixtures/recorded/docker/dockerd-*-all-interfaces-*): over IPv4 its DNAT keeps
 * the client's own address; over IPv6, with the userland proxy on (the default), docker-proxy relays it from
 * the bridge gateway, as it does the host's browser. rootlessport relays every connection from the container's
 * own address. Podman's netavark NAT was not checked with a LAN client.
 */
function publishOnLoopback(published: PublishedPath, gateway: string | undefined): string {
  const start = "Publish the port on loopback only: -p 127.0.0.1:PORT:PORT, not -p PORT:PORT. Published on every interface, the port is reachable from the LAN";
  const forged = "counts as local as soon as its Host and Origin name localhost, which a browser will not forge but any script can.";
  if (published.kind === "rootlessport") {
    const via = gateway ?? "the container's own address";
    return `${start}, and a LAN client goes through rootlessport just as the host's browser does, so it too arrives from ${via}. With ${via} trusted it ${forged}`;
  }
  const via = gateway ?? "the bridge gateway";
  if (published.engine === "Podman") {
    return `${start}, and a LAN client may go through Podman's NAT just as the host's browser does and arrive from ${via} (not checked here with a LAN client). With ${via} trusted it ${forged}`;
  }
  return (
    `${start}. Over IPv4 a LAN client arrives with its own address (Docker's DNAT keeps it) and is not local; over IPv6, with ` +
    `Docker's userland proxy on (its default), docker-proxy relays it from ${via}, exactly as the host's browser arrives, and with ${via} ` +
    `trusted it ${forged}`
  );
}

export function diagnose(facts: Facts): Diagnosis {
  const published = publishedPath(facts);
  const trustedProxies = [...published.peers];
  const warnings: Finding[] = [];
  if (!facts.container.detected) {
    warnings.push({
      code: "no-container-evidence",
      severity: "info",
      message:
        "No container evidence (/.dockerenv, /run/.containerenv, a container cgroup or container= in /proc/1/environ), " +
        "so no address is recommended: a gateway running directly on a host sees its local clients on loopback and needs " +
        "no trustedProxies, and a host's default gateway is its router, which must not be trusted (whatever reaches this " +
        "machine through it from the LAN or the Internet would be). If this is a container after all (some runtimes leave " +
        "none of this evidence), trust its default gateway's single address, and nothing else.",
    });
  }
  const gateway = trustedProxies[0];
  if (facts.gateways.length === 0) {
    warnings.push({
      code: "no-default-gateway",
      severity: "warning",
      message:
        "No default route in /proc/net/route or /proc/net/ipv6_route, so there is no gateway address to recommend. " +
        "Run doctor in the network namespace the gateway runs in (e.g. docker exec CONTAINER clientaddr doctor).",
    });
  }
  if (published.kind === "rootlessport") {
    const own = ownAddress(facts);
    const why = facts.container.podman?.rootless === true ? "rootless Podman" : "Podman on a slirp4netns network";
    warnings.push({
      code: "rootlessport-peer",
      severity: "warning",
      message:
        `This is ${why}, which publishes ports with rootlessport: its process inside the container's network namespace ` +
        `connects to the container's own address, so a browser on the host reaching the published port arrives from ` +
        `${own === undefined ? "the container's own address" : `"${own.address}"`}` +
        `${own === undefined ? "" : `, not from the default gateway ${own.gateway.address}`}, with no forwarding header. ` +
        (own === undefined ? "No IPv4 address was found on the default route's interface, so none is recommended. " : `Trust "${own.address}" alone. `) +
        (published.slirpGateway === undefined
          ? ""
          : `With --network slirp4netns:port_handler=slirp4netns, slirp4netns forwards the port itself and the peer is its gateway "${published.slirpGateway}" instead: trust that one then. `) +
        "With pasta (Podman 4.4 and later, rootless default from Podman 5) this was not verified: read the peer from the gateway's refusal log.",
    });
  } else if (published.engine === "Podman" && facts.container.podman?.rootless === null) {
    warnings.push({
      code: "rootless-unknown",
      severity: "info",
      message:
        "Whether Podman runs rootless could not be told (/run/.containerenv says rootless= only for --privileged containers, " +
        "and /proc/self/uid_map shows a user namespace either way). The recommendation assumes rootful Podman on a bridge " +
        "network, whose NAT connects from the bridge gateway; rootless Podman's rootlessport connects from the container's " +
        "own address instead: if the gateway's refusal log names that address, trust it.",
    });
  }
  if (published.kind === "host-network") {
    warnings.push({
      code: "host-network",
      severity: "warning",
      message:
        `This container shares the host's network (it sees ${published.engine}'s bridge ${published.bridge}: --network host), so no ` +
        "address is recommended: a browser on the host reaches the gateway over loopback and needs no trustedProxies, and the " +
        `default gateway${facts.gateways.length > 0 ? ` ${quoted(facts.gateways.map(({ address }) => address), "and")}` : ""} is the host's router, ` +
        "which must not be trusted (whatever reaches the host through it would be). Bind the gateway to 127.0.0.1, or every " +
        "machine that reaches the host reaches it.",
    });
  } else {
    warnings.push({ code: "publish-on-loopback", severity: "warning", message: publishOnLoopback(published, gateway) });
  }
  for (const address of trustedProxies) {
    const network = networkOf(facts, address);
    warnings.push({
      code: "trust-single-address",
      severity: "warning",
      message:
        published.kind === "rootlessport"
          ? `Trust the single address "${address}", not ${network === undefined ? "its network" : `its network ${network}`}: ` +
            "every other address there (the gateway, other containers on the network) would pass for local too."
          : `Trust the gateway's single address "${address}", not ${network === undefined ? "its network" : `its network ${network}`}: ` +
            "every other container on that network connects from its own address there and would pass for local.",
    });
  }
  return { facts, recommendation: { trustedProxies }, warnings };
}

// ---- checkConfig ------------------------------------------------------------------------------------

/**
 * The list in `{ gateway: { trustedProxies } }` (absent means [], as in the gateway), `{ trustedProxies }`, or
 * a bare array. Whatever stands there is returned as found: `null` or a string is the gateway's error too.
 */
function listOf(config: unknown): { list: unknown } | null {
  if (Array.isArray(config)) return { list: config };
  if (typeof config !== "object" || config === null) return null;
  const { gateway, trustedProxies } = config as { gateway?: unknown; trustedProxies?: unknown };
  if (typeof gateway === "object" && gateway !== null) {
    const list = (gateway as { trustedProxies?: unknown }).trustedProxies;
    return { list: list === undefined ? [] : list };
  }
  return trustedProxies === undefined ? null : { list: trustedProxies };
}

/** Invalid entries listed one by one; past this, one more finding gives the count (a generated list can hold thousands). */
export const MAX_INVALID_LISTED = 20;

/** compileTrustedProxies' refusal of `list`, or null when it accepts it. */
function refusal(list: unknown): ClientAddressConfigError | null {
  try {
    compileTrustedProxies(list as string[]);
    return null;
  } catch (error) {
    if (error instanceof ClientAddressConfigError) return error;
    throw error;
  }
}

/**
 * Checks a gateway config's `trustedProxies` against this machine. `config` is the parsed JSON file:
 * `{ "gateway": { "trustedProxies": [...] } }`, `{ "trustedProxies": [...] }` or a plain array.
 */
export function checkConfig(config: unknown, facts: Facts): Finding[] {
  const found = listOf(config);
  if (found === null) {
    return [{ code: "not-a-config", severity: "error", message: 'no trustedProxies list: expected { "gateway": { "trustedProxies": [...] } }, { "trustedProxies": [...] } or an array' }];
  }
  if (!Array.isArray(found.list)) {
    // null, a string, an object, a number: compileTrustedProxies always refuses these, so the gateway would not start.
    return [{ code: "invalid-entry", severity: "error", message: refusal(found.list)!.message }];
  }
  const list: readonly unknown[] = found.list;
  const findings: Finding[] = [];

  // compileTrustedProxies stops at the first bad entry. Each entry is compiled alone, so that every bad one is
  // found in one pass (compiling the list again after each would be quadratic), with the compiler's message
  // (which, compiled alone, names index 0). The list is then compiled once with each bad entry swapped for a
  // harmless valid one (loopback: never a gateway, no diagnostic), so that the others keep their indexes.
  const invalid = new Set<number>();
  list.forEach((entry, index) => {
    const error = refusal([entry]);
    if (error === null) return;
    invalid.add(index);
    if (invalid.size > MAX_INVALID_LISTED) return;
    const message = error.message.replace(/^trustedProxies\[0\]/, `trustedProxies[${index}]`);
    findings.push({ code: "invalid-entry", severity: "error", message, entry, index });
  });
  if (invalid.size > MAX_INVALID_LISTED) {
    findings.push({ code: "invalid-entry", severity: "error", message: `${invalid.size - MAX_INVALID_LISTED} more invalid entries (${invalid.size} in all; the first ${MAX_INVALID_LISTED} are listed)` });
  }
  const entries = list.map((entry, index) => (invalid.has(index) ? "127.0.0.1" : (entry as string)));
  const compiled = compileTrustedProxies(entries);
  const everyone = new Set<number>();
  for (const { code, message, entry, index } of compiled.diagnostics) {
    // Trusting everyone lets any client claim loopback: a break-in, not a style problem.
    findings.push({ code, severity: code === "trusts-everyone" ? "error" : "warning", message, entry, index });
    if (code === "trusts-everyone") everyone.add(index);
  }

  const published = publishedPath(facts);
  const gateways = published.peers;
  // Never another machine's proxy: trusting one would be warned of as trusted-not-this-machine on the next run.
  const advice = gateways.length > 0 ? `trust ${singleAddress(published, gateways)} instead` : "trust the single address of a proxy on this machine in front of the gateway instead";
  // What a peer can be: an address on a directly connected network, a gateway, or loopback. A proxy
  // anywhere else reaches this machine through a gateway and so arrives from the gateway's address.
  const networks = facts.interfaces.flatMap(({ addresses }) => addresses.map(({ cidr }) => range(cidr)));
  const visible = [...networks, ...facts.gateways.map(({ address }) => range(address)), ...LOOPBACK];
  const seen = [
    ...new Set(networks.filter((r) => !LOOPBACK.some((l) => within(r, l))).map((r) => r.text)),
    ...facts.gateways.map(({ address }) => `default gateway ${address}`),
    "loopback",
  ].join(", ");
  // This machine: its interfaces' addresses and its default gateways. In a container the gateway is the host; on
  // a host (or the host's network) it is the router, which default-gateway-on-host warns of for the whole list.
  const own = new Set([...facts.interfaces.flatMap(({ addresses }) => addresses), ...facts.gateways].map(({ address }) => formatAddress(parseIp(address)!)));
  const isThisMachine = (r: Range) => LOOPBACK.some((l) => within(r, l)) || (single(r) && own.has(formatAddress(r.network)));
  const inContainer = published.kind === "gateway" || published.kind === "rootlessport";
  const hostGateways = inContainer && facts.gateways.length > 0 ? `, nor the container's default gateway ${quoted(facts.gateways.map(({ address }) => address), "or")} (the host)` : "";

  entries.forEach((entry, index) => {
    if (invalid.has(index)) return;
    const ranges = rangesOf(entry);
    const at = `trustedProxies[${index}] "${entry}"`;
    if (!ranges.some((r) => visible.some((v) => overlaps(r, v)))) {
      findings.push({
        code: "never-matches",
        severity: "warning",
        message:
          `${at} can never match: no peer this machine can see is in it (it sees ${seen}). ` +
          `A proxy on another network reaches this machine through the default gateway and arrives from the gateway's ` +
          `address; ${advice}, or drop the entry.`,
        entry,
        index,
      });
      // No return: what a range says it trusts matters even where it matches nothing today.
    }
    if (everyone.has(index)) return; // already an error that says more
    const breadth = breadthFinding(at, ranges, gateways, advice, published);
    if (breadth !== undefined) {
      // A breadth finding already says that every machine in the range would pass for local.
      findings.push({ ...breadth, entry, index });
    } else if (!ranges.every(isThisMachine)) {
      // The trust model: a trusted hop with nothing behind it is local, so trust only this machine's proxies (or those
      // of a machine whose every process may act as a local user).
      findings.push({
        code: "trusted-not-this-machine",
        severity: "warning",
        message:
          `${at} is not this machine: neither loopback, nor an address of this machine's interfaces${hostGateways}. A trusted ` +
          "proxy counts as local when it sends no forwarding header, and so does a loopback client it names: every process on that " +
          "machine would pass for a local user here as soon as its Host and Origin name localhost, which any script can write. " +
          "Trust only proxies on this machine, or on one whose every process you would let in as a local user.",
        entry,
        index,
      });
    }
  });

  if (published.kind === "rootlessport" && gateways.length > 0 && !gateways.some((address) => compiled.trusts(parseIp(address)!))) {
    // Trusting slirp4netns's gateway is right with port_handler=slirp4netns, which nothing inside the container shows.
    const alternative = published.slirpGateway !== undefined && compiled.trusts(parseIp(published.slirpGateway)!);
    findings.push({
      code: "peer-not-trusted",
      severity: alternative ? "warning" : "error",
      message:
        `trustedProxies does not trust ${quoted(gateways, "or")}, the container's own address, which Podman's rootlessport connects ` +
        `from: a browser on the host reaching the published port arrives from ${gateways[0]}, with no forwarding header, and will ` +
        `not count as local (the socket is closed with "1008 pairing required"); add ${quoted(gateways, "and")}.` +
        (alternative
          ? ` The list trusts slirp4netns's gateway "${published.slirpGateway}", which is the peer only with --network ` +
            "slirp4netns:port_handler=slirp4netns: if the container runs with that port handler, the list is right as it is."
          : ""),
    });
  } else if (published.kind !== "host-network" && gateways.length > 0 && !gateways.some((address) => compiled.trusts(parseIp(address)!))) {
    findings.push({
      code: "gateway-not-trusted",
      // The original bug (gateways are recommended in a container only).
      severity: "error",
      message:
        `trustedProxies does not trust the default gateway ${quoted(gateways, "or")}: a browser on the host reaching the published ` +
        `port arrives from ${gateways[0]} through ${published.engine}'s NAT, with no forwarding header, and will not count as local ` +
        `(the socket is closed with "1008 pairing required"); add ${quoted(gateways, "and")}.`,
    });
  }
  const onHost = published.kind === "none" || published.kind === "host-network";
  const routers = onHost ? facts.gateways.map(({ address }) => address).filter((address) => compiled.trusts(parseIp(address)!)) : [];
  if (routers.length > 0) {
    findings.push({
      code: "default-gateway-on-host",
      severity: "warning",
      message:
        `trustedProxies trusts the default gateway ${quoted(routers, "and")}, and ${published.kind === "none" ? "there is no container evidence" : "this container shares the host's network"}: on a host the ` +
        "default gateway is the router, and whatever reaches this machine through it from the LAN or the Internet and " +
        "arrives from its address (a port forward that rewrites the source, a VPN) would be trusted. A gateway running " +
        "directly on a host, or in a container on the host's network, needs no trustedProxies for its local clients" +
        (published.kind === "none" ? "; trust the router only if this is a container on a bridge network." : "."),
    });
  }
  return findings;
}

/**
 * What is too wide about an entry's ranges, most serious first; only ranges of more than one address count:
 * - public-range: a range holding any address outside the private (10/8, 172.16/12, 192.168/16, fc00::/7),
 *   loopback and link-local blocks, i.e. other networks and the Internet. Docker's DNAT keeps an outside
 *   client's own address, so such a client can reach the gateway from it;
 * - link-local-range: a range overlapping 169.254.0.0/16 or fe80::/10: every container on a bridge (every
 *   machine on a link) has a link-local address;
 * - private-range: a range inside one private block, where the gateway's single address would do.
 * A trusted peer with no forwarding header passes condition a, so each of these machines counts as local as
 * soon as its Host and Origin name localhost, which any script can write.
 */
function breadthFinding(
  at: string,
  ranges: readonly Range[],
  gateways: readonly string[],
  advice: string,
  published: PublishedPath,
): Omit<Finding, "entry" | "index"> | undefined {
  const wide = ranges.filter((r) => !single(r));
  const inside = gateways.filter((address) => wide.some((r) => r.set.trusts(parseIp(address)!)));
  const instead = inside.length > 0 ? `trust ${singleAddress(published, inside)} instead` : advice;

  const publicRanges = wide.flatMap((r) => {
    const example = firstPublic(r);
    return example === undefined ? [] : [`${r.text} (${example} is one)`];
  });
  if (publicRanges.length > 0) {
    const networks = PRIVATE.filter((p) => wide.some((r) => within(p, r))).map((p) => p.text);
    return {
      code: "public-range",
      severity: "warning",
      message:
        `${at} trusts public address space: ${publicRanges.join(", ")} holds addresses outside the private, loopback and ` +
        `link-local blocks${networks.length > 0 ? `, and the whole private network${networks.length > 1 ? "s" : ""} ${networks.join(", ")}` : ""}. A client there ` +
        "whose connection reaches the gateway (Docker's DNAT passes an outside client's own address on to a published port) would be trusted, and " +
        `with no forwarding header counts as local as soon as its Host and Origin name localhost, which any script can write; ${instead}.`,
    };
  }
  const linkLocal = wide.filter((r) => LINK_LOCAL.some((l) => overlaps(r, l)));
  if (linkLocal.length > 0) {
    return {
      code: "link-local-range",
      severity: "warning",
      message:
        `${at} trusts link-local addresses (${linkLocal.map((r) => r.text).join(", ")}): every container on the same bridge, ` +
        `and every machine on the same link, has one (an fe80:: address on each IPv6-enabled interface), so each of them ` +
        `would pass for local; ${instead}.`,
    };
  }
  const privateRanges = wide.filter((r) => PRIVATE.some((p) => within(r, p)));
  if (privateRanges.length > 0) {
    return {
      code: "private-range",
      severity: "warning",
      message: `${at} trusts the whole private range ${privateRanges.map((r) => r.text).join(", ")}: every machine and container there would pass for local; ${instead}.`,
    };
  }
  return undefined;
}

function quoted(addresses: readonly string[], conjunction: "and" | "or"): string {
  return addresses.map((address) => `"${address}"`).join(` ${conjunction} `);
}

// ---- the report for a person ------------------------------------------------------------------------

export function formatReport(report: DoctorReport): string {
  const { container, interfaces, gateways } = report.facts;
  const lines = ["Container"];
  if (container.detected) lines.push("  yes", ...container.evidence.map((line) => `  - ${line}`));
  else lines.push("  no evidence found (which proves nothing: see Warnings)");

  lines.push("", "Interfaces");
  const width = Math.max(0, ...interfaces.map(({ name }) => name.length));
  for (const { name, addresses } of interfaces) {
    lines.push(`  ${name.padEnd(width)}  ${addresses.length > 0 ? addresses.map(({ cidr }) => cidr).join(", ") : "(no addresses)"}`);
  }
  if (interfaces.length === 0) lines.push("  (none)");

  lines.push("", "Default gateway");
  for (const g of gateways) lines.push(`  IPv${g.family}  ${g.address} via ${g.interface} (metric ${g.metric})`);
  if (gateways.length === 0) lines.push("  (none)");

  lines.push("", "Use this");
  const { trustedProxies } = report.recommendation;
  if (trustedProxies.length > 0) {
    lines.push(`  "trustedProxies": [${trustedProxies.map((address) => `"${address}"`).join(", ")}]`, "  and publish the port on loopback only: -p 127.0.0.1:PORT:PORT");
  } else {
    lines.push(
      !container.detected
        ? "  (nothing: no container evidence; a gateway running directly on a host needs no trustedProxies)"
        : report.warnings.some(({ code }) => code === "host-network")
          ? "  (nothing: the container shares the host's network; its local clients arrive on loopback)"
        : gateways.length === 0
          ? "  (nothing: no default gateway)"
          : "  (nothing: no address on the default route's interface; see Warnings)",
    );
  }

  lines.push("", "Warnings", ...findingLines(report.warnings));

  lines.push("", `Config check${report.config ? ` (${report.config.file})` : ""}`);
  if (report.config === null) lines.push("  (no --config FILE given)");
  else if (report.config.findings.length === 0) lines.push("  no problems found");
  else lines.push(...findingLines(report.config.findings));
  return lines.join("\n");
}

function findingLines(findings: readonly Finding[]): string[] {
  if (findings.length === 0) return ["  (none)"];
  return findings.map(({ code, severity, message }) => `  ${severity.padEnd(7)}  [${code}] ${message}`);
}
