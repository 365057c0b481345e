// What doctor finds: `diagnose` says which addresses to trust here and what to watch out for; `checkConfig`
// holds a gateway config's `trustedProxies` against this machine. Both are pure functions of the facts.
import { ClientAddressConfigError, PRESETS, PRESET_NAMES, canonicalAddress, compileTrustedProxies, trustedProxyName } from "../../index.js";
import type { Facts } from "./facts.js";
import { LINK_LOCAL, LOOPBACK, PRIVATE, type Range, firstPublic, overlaps, range, rangesOf, single, within } from "./ranges.js";
import { type PublishedPath, networkOf, ownAddress, publishedPath } from "./topology.js";

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
  | "preset"
  | "invalid-preset"
  | "invalid-entry"
  | "proxy-name"
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

/**
 * The list in `{ gateway: { trustedProxies } }` (absent means [], as in the gateway), `{ trustedProxies }`, or
 * a bare array. Whatever stands there is returned as found: `null` or a string is the gateway's error too.
 */
function listOf(config: unknown): { list: unknown; preset?: unknown } | null {
  if (Array.isArray(config)) return { list: config };
  if (typeof config !== "object" || config === null) return null;
  const { gateway, trustedProxies, preset } = config as { gateway?: unknown; trustedProxies?: unknown; preset?: unknown };
  if (typeof gateway === "object" && gateway !== null) {
    const options = gateway as { trustedProxies?: unknown; preset?: unknown };
    return { list: options.trustedProxies === undefined ? [] : options.trustedProxies, preset: options.preset };
  }
  if (trustedProxies === undefined && preset === undefined) return null;
  return { list: trustedProxies === undefined ? [] : trustedProxies, preset };
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
  if (found.preset !== undefined) {
    const row = PRESETS.find((candidate) => candidate.name === found.preset);
    findings.push(
      row === undefined
        ? { code: "invalid-preset", severity: "error", message: `preset ${JSON.stringify(found.preset)} is not one of ${PRESET_NAMES.join(", ")}: the gateway would not start` }
        : {
            code: "preset",
            severity: "info",
            message: `preset ${row.name}: trusts ${row.trustedProxies.join(", ")} (this machine) and believes ${row.header}${row.alsoWrites.length > 0 ? `, reading the ${row.alsoWrites.join(" and ")} it also writes when they name an address the walk read` : ""}${row.claims.length > 0 ? `; its ${row.claims.join(", ")} are claims, never local` : ""}; the entries below add to it (following ${row.follows})`,
          },
    );
  }

  // compileTrustedProxies stops at the first bad entry. Each entry is compiled alone, so that every bad one is
  // found in one pass (compiling the list again after each would be quadratic), with the compiler's message
  // (which, compiled alone, names index 0). The list is then compiled once with each bad entry swapped for a
  // harmless valid one (loopback: never a gateway, no diagnostic), so that the others keep their indexes.
  const invalid = new Set<number>();
  const named = new Set<number>();
  list.forEach((entry, index) => {
    const error = refusal([entry]);
    if (error === null) return;
    const name = typeof entry === "string" ? trustedProxyName(entry) : null;
    if (name !== null) {
      // Looked up at run time, not here: where doctor runs, the name may not resolve as it does for the gateway.
      named.add(index);
      findings.push({
        code: "proxy-name",
        severity: "info",
        message: `trustedProxies[${index}] "${entry}" is a DNS name (a Compose service or container): the gateway must make its resolver with \`await startResolver(options)\`, which looks it up at start-up and every 30 s and trusts the addresses it has then (createResolver refuses a name); trust a name only for a proxy in front of this gateway, on this machine`,
        entry,
        index,
      });
      return;
    }
    invalid.add(index);
    if (invalid.size > MAX_INVALID_LISTED) return;
    const message = error.message.replace(/^trustedProxies\[0\]/, `trustedProxies[${index}]`);
    findings.push({ code: "invalid-entry", severity: "error", message, entry, index });
  });
  if (invalid.size > MAX_INVALID_LISTED) {
    findings.push({ code: "invalid-entry", severity: "error", message: `${invalid.size - MAX_INVALID_LISTED} more invalid entries (${invalid.size} in all; the first ${MAX_INVALID_LISTED} are listed)` });
  }
  const entries = list.map((entry, index) => (invalid.has(index) || named.has(index) ? "127.0.0.1" : (entry as string)));
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
  const own = new Set([...facts.interfaces.flatMap(({ addresses }) => addresses), ...facts.gateways].map(({ address }) => canonicalAddress(address)));
  const isThisMachine = (r: Range) => LOOPBACK.some((l) => within(r, l)) || (single(r) && own.has(r.network));
  const inContainer = published.kind === "gateway" || published.kind === "rootlessport";
  const hostGateways = inContainer && facts.gateways.length > 0 ? `, nor the container's default gateway ${quoted(facts.gateways.map(({ address }) => address), "or")} (the host)` : "";

  entries.forEach((entry, index) => {
    if (invalid.has(index) || named.has(index)) return;
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

  if (published.kind === "rootlessport" && gateways.length > 0 && !gateways.some((address) => compiled.trustsText(address))) {
    // Trusting slirp4netns's gateway is right with port_handler=slirp4netns, which nothing inside the container shows.
    const alternative = published.slirpGateway !== undefined && compiled.trustsText(published.slirpGateway);
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
  } else if (published.kind !== "host-network" && gateways.length > 0 && !gateways.some((address) => compiled.trustsText(address))) {
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
  const routers = onHost ? facts.gateways.map(({ address }) => address).filter((address) => compiled.trustsText(address)) : [];
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
  const inside = gateways.filter((address) => wide.some((r) => r.set.trustsText(address)));
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

/** "the gateway's single address "172.18.0.1"", or, under rootlessport, the container's own. */
function singleAddress(published: PublishedPath, addresses: readonly string[]): string {
  return published.kind === "rootlessport"
    ? `the single address ${quoted(addresses, "and")} (the container's own, which rootlessport connects from)`
    : `the gateway's single address ${quoted(addresses, "and")}`;
}

function quoted(addresses: readonly string[], conjunction: "and" | "or"): string {
  return addresses.map((address) => `"${address}"`).join(` ${conjunction} `);
}
