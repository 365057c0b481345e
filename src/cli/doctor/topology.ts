// Where a published port's connections come from, read off the facts: the default gateways, the container's own
// address on the default route's network, slirp4netns's layout, an engine's bridge seen from host networking.
import type { DefaultGateway, Facts } from "./facts.js";
import { type Range, addressValue, range, single } from "./ranges.js";

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
export interface PublishedPath {
  readonly kind: "none" | "gateway" | "rootlessport" | "host-network";
  /** The addresses to trust. */
  readonly peers: readonly string[];
  readonly engine: "Docker" | "Podman";
  /** In slirp4netns's layout: its gateway, the peer with `port_handler=slirp4netns` instead of rootlessport. */
  readonly slirpGateway?: string;
  /** Under host networking: the engine's bridge interface the container can see. */
  readonly bridge?: string;
}

export function publishedPath(facts: Facts): PublishedPath {
  const { container } = facts;
  if (!container.detected) return { kind: "none", peers: [], engine: "Docker" };
  const engine = container.podman === undefined ? "Docker" : "Podman";
  // On the host's network a client on this host connects over loopback, and the default gateway is the host's
  // router: trusting it would trust whatever reaches the host through it (recorded under Docker: a script on
  // the LAN forging Host through the router's address passed for local).
  const bridge = engineBridge(facts);
  if (bridge !== undefined) return { kind: "host-network", peers: [], engine, bridge };
  if (container.podman === undefined) return { kind: "gateway", peers: preferredGateways(facts), engine: "Docker" };
  const slirp = slirpGateway(facts);
  if (container.podman.rootless === true || slirp !== undefined) {
    const own = ownAddress(facts);
    return { kind: "rootlessport", peers: own === undefined ? [] : [own.address], engine: "Podman", ...(slirp === undefined ? {} : { slirpGateway: slirp }) };
  }
  return { kind: "gateway", peers: preferredGateways(facts), engine: "Podman" };
}

/** The default gateway the kernel prefers for a family: the lowest metric. */
function bestGateway(facts: Facts, family: 4 | 6): DefaultGateway | undefined {
  return facts.gateways.filter((g) => g.family === family).sort((a, b) => a.metric - b.metric)[0];
}

function preferredGateways(facts: Facts): string[] {
  return [bestGateway(facts, 4), bestGateway(facts, 6)].flatMap((g) => (g ? [g.address] : []));
}

/** The container's own IPv4 address on the interface of its IPv4 default route, in the same network as the gateway. */
export function ownAddress(facts: Facts): { address: string; network: Range; gateway: DefaultGateway } | undefined {
  const gateway = bestGateway(facts, 4);
  if (gateway === undefined) return undefined;
  for (const { name, addresses } of facts.interfaces) {
    if (name !== gateway.interface) continue;
    for (const { family, address, cidr } of addresses) {
      const network = range(cidr);
      if (family === 4 && !single(network) && network.set.trustsText(gateway.address)) return { address, network, gateway };
    }
  }
  return undefined;
}

/**
 * slirp4netns's gateway, when the facts show its layout (Podman's `--network slirp4netns`, the rootless default
 * before Podman 5): the default route via tap0 to the network's .2, the container at .100 (10.0.2.2 and
 * 10.0.2.100 unless `cidr=` changed the network).
 */
function slirpGateway(facts: Facts): string | undefined {
  const own = ownAddress(facts);
  if (own === undefined || !own.gateway.interface.startsWith("tap")) return undefined;
  const base = addressValue(own.network.network);
  const offset = (address: string) => addressValue(address) - base;
  if (offset(own.address) !== 100n || offset(own.gateway.address) !== 2n) return undefined;
  return own.gateway.address;
}

// The bridges container engines make on the host: Docker's default and user-defined ones, Podman's CNI and
// netavark ones. A container that sees one shares the host's network namespace (`--network host`).
const ENGINE_BRIDGE = /^(docker0|br-[0-9a-f]{12}|cni-podman\d+|podman\d+)$/;

/** The engine bridge this namespace holds, if any: the mark of a container on the host's network. */
function engineBridge(facts: Facts): string | undefined {
  return [...(facts.links ?? []), ...facts.interfaces.map(({ name }) => name)].find((name) => ENGINE_BRIDGE.test(name));
}

/** The network of the interface address whose range holds `address`, e.g. 172.18.0.0/16 for 172.18.0.1. */
export function networkOf(facts: Facts, address: string): string | undefined {
  for (const { addresses } of facts.interfaces) {
    for (const { cidr } of addresses) {
      const r = range(cidr);
      if (!single(r) && r.set.trustsText(address)) return r.text;
    }
  }
  return undefined;
}
