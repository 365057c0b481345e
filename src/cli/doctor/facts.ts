// What doctor reads of the machine: container evidence, the interfaces and their addresses, every link, and
// the default routes. Only `readFacts` touches the machine; the readers of /proc's text are pure, so tests
// hand in any topology.
import { access, readFile } from "node:fs/promises";
import { type NetworkInterfaceInfo, endianness, networkInterfaces } from "node:os";
import { canonicalAddress } from "../../index.js";

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

export interface DefaultGateway {
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
  readonly gateways: readonly DefaultGateway[];
}

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
export function parseRoute(text: string, littleEndian = endianness() === "LE"): DefaultGateway[] {
  const gateways: DefaultGateway[] = [];
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
export function parseIpv6Route(text: string): DefaultGateway[] {
  const gateways: DefaultGateway[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 10) continue;
    const [destination, prefix, , , nextHop, metric, , , flags, iface] = fields as [string, string, string, string, string, string, string, string, string, string];
    if (!HEX32.test(destination) || !HEX32.test(nextHop) || !HEX8.test(metric) || !HEX8.test(flags)) continue;
    if (/[^0]/.test(destination) || prefix !== "00" || !/[^0]/.test(nextHop) || !viaGateway(Number.parseInt(flags, 16))) continue;
    const address = canonicalAddress(nextHop.match(/.{4}/g)!.join(":"))!;
    gateways.push({ family: 6, address, interface: iface, metric: Number.parseInt(metric, 16) });
  }
  return gateways;
}

/** The interface names in /proc/net/dev: two header lines, then one `name: counters...` line each. */
export function parseNetDev(text: string): string[] {
  return text
    .split("\n")
    .slice(2)
    .map((line) => line.split(":")[0]!.trim())
    .filter((name) => name !== "");
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
