// `clientaddr doctor`: what a gateway running here will see, which `trustedProxies` entry to use, and what
// is wrong with a config's list. Everything is a pure function of `Facts` (container evidence, interfaces,
// default routes); only `readFacts` touches the machine, so tests and the CLI can hand in any topology.
//
// `clientaddr doctor --json` prints one DoctorReport:
//
//   {
//     "facts": {
//       "container":  { "detected": true, "evidence": ["/.dockerenv exists (Docker)"] },
//       "interfaces": [{ "name": "eth0", "addresses": [{ "family": 4, "address": "172.18.0.2", "cidr": "172.18.0.2/16" }] }],
//       "gateways":   [{ "family": 4, "address": "172.18.0.1", "interface": "eth0", "metric": 0 }]
//     },
//     "recommendation": { "trustedProxies": ["172.18.0.1"] },   // IPv4 default gateway, then IPv6 if any; [] if none
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
import { type Address, formatAddress, parseIp } from "./address.js";
import { type TrustedProxies, TrustedProxiesError, compileTrustedProxies } from "./trust.js";

export interface ContainerFacts {
  readonly detected: boolean;
  /** What was found, one line each; empty when nothing suggests a container. */
  readonly evidence: readonly string[];
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
  readonly interfaces: readonly InterfaceFacts[];
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
  // checkConfig
  | "not-a-config"
  | "invalid-entry"
  | "trusts-everyone"
  | "host-bits-set"
  | "never-matches"
  | "private-range"
  | "gateway-not-trusted";

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
}

const CONTAINER_CGROUP = /docker|containerd|kubepods|libpod/;

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
  return { detected: evidence.length > 0, evidence };
}

/** The machine's facts. Reads /proc/net/* of the calling process's network namespace. */
export async function readFacts(): Promise<Facts> {
  const text = (file: string) => readFile(file, "utf8").catch(() => null);
  const exists = (file: string) => access(file).then(() => true, () => false);
  const [route, route6, dockerenv, containerenv, cgroup, environ] = await Promise.all([
    text("/proc/net/route"),
    text("/proc/net/ipv6_route"),
    exists("/.dockerenv"),
    exists("/run/.containerenv"),
    text("/proc/1/cgroup"),
    text("/proc/1/environ"), // usually readable only by root
  ]);
  return {
    container: detectContainer({ dockerenv, containerenv, cgroup, environ }),
    interfaces: interfaceFacts(networkInterfaces()),
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

// ---- diagnose ---------------------------------------------------------------------------------------

/** The default gateway the kernel prefers for a family: the lowest metric. */
function bestGateway(facts: Facts, family: 4 | 6): Gateway | undefined {
  return facts.gateways.filter((g) => g.family === family).sort((a, b) => a.metric - b.metric)[0];
}

function recommended(facts: Facts): string[] {
  return [bestGateway(facts, 4), bestGateway(facts, 6)].flatMap((g) => (g ? [g.address] : []));
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

export function diagnose(facts: Facts): Diagnosis {
  const trustedProxies = recommended(facts);
  const warnings: Finding[] = [];
  if (!facts.container.detected) {
    warnings.push({
      code: "no-container-evidence",
      severity: "info",
      message:
        "No container evidence (/.dockerenv, /run/.containerenv, a container cgroup or container= in /proc/1/environ). " +
        "The recommendation is for a gateway that runs in this network namespace behind NAT, as in a container; " +
        "a gateway running directly on a host sees local clients on loopback and needs no trustedProxies, " +
        "and a host's default gateway is its router, which must not be trusted.",
    });
  }
  const gateway = trustedProxies[0];
  if (gateway === undefined) {
    warnings.push({
      code: "no-default-gateway",
      severity: "warning",
      message:
        "No default route in /proc/net/route or /proc/net/ipv6_route, so there is no gateway address to recommend. " +
        "Run doctor in the network namespace the gateway runs in (e.g. docker exec CONTAINER clientaddr doctor).",
    });
  }
  const via = gateway ?? "the bridge gateway";
  warnings.push({
    code: "publish-on-loopback",
    severity: "warning",
    message:
      "Publish the port on loopback only: -p 127.0.0.1:PORT:PORT, not -p PORT:PORT. Published on every interface, " +
      `the port is reachable from the LAN, and a LAN client goes through Docker's NAT just as the host's browser does, ` +
      `so it too arrives from ${via}. With ${via} trusted it counts as local as soon as its Host and Origin name ` +
      "localhost, which a browser will not forge but any script can.",
  });
  for (const address of trustedProxies) {
    const network = networkOf(facts, address);
    warnings.push({
      code: "trust-single-address",
      severity: "warning",
      message:
        `Trust the gateway's single address "${address}", not ${network === undefined ? "its network" : `its network ${network}`}: ` +
        "every other container on that network connects from its own address there and would pass for local.",
    });
  }
  return { facts, recommendation: { trustedProxies }, warnings };
}

// ---- checkConfig ------------------------------------------------------------------------------------

/** The list in `{ gateway: { trustedProxies } }` (absent means []), `{ trustedProxies }`, or a bare array. */
function listOf(config: unknown): { list: unknown } | null {
  if (Array.isArray(config)) return { list: config };
  if (typeof config !== "object" || config === null) return null;
  const { gateway, trustedProxies } = config as { gateway?: unknown; trustedProxies?: unknown };
  if (typeof gateway === "object" && gateway !== null) return { list: (gateway as { trustedProxies?: unknown }).trustedProxies ?? [] };
  return trustedProxies === undefined ? null : { list: trustedProxies };
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
  const findings: Finding[] = [];
  const list = found.list as string[];

  // compileTrustedProxies stops at the first bad entry. Each bad one found is swapped for a harmless valid
  // entry (loopback: never a gateway, and it adds no diagnostic) and the list compiled again, so that every
  // bad entry is reported with the message the gateway would log, and the others keep their indexes.
  const invalid = new Set<number>();
  let attempt: TrustedProxies | undefined;
  while (attempt === undefined) {
    try {
      attempt = compileTrustedProxies(Array.isArray(list) ? list.map((entry, i) => (invalid.has(i) ? "127.0.0.1" : entry)) : list);
    } catch (error) {
      if (!(error instanceof TrustedProxiesError)) throw error;
      if (error.index < 0) return [{ code: "invalid-entry", severity: "error", message: error.message }];
      findings.push({ code: "invalid-entry", severity: "error", message: error.message, entry: error.entry, index: error.index });
      invalid.add(error.index);
    }
  }
  const compiled = attempt;
  for (const { code, message, entry, index } of compiled.diagnostics) {
    // Trusting everyone lets any client claim loopback: a break-in, not a style problem.
    findings.push({ code, severity: code === "trusts-everyone" ? "error" : "warning", message, entry, index });
  }

  const gateways = recommended(facts);
  const advice = gateways.length > 0 ? `trust the gateway's single address ${quoted(gateways, "and")} instead` : "trust the single address of the proxy in front of the gateway instead";
  // What a peer can be: an address on a directly connected network, a gateway, or loopback. A proxy
  // anywhere else reaches this machine through a gateway and so arrives from the gateway's address.
  const networks = facts.interfaces.flatMap(({ addresses }) => addresses.map(({ cidr }) => range(cidr)));
  const visible = [...networks, ...facts.gateways.map(({ address }) => range(address)), ...LOOPBACK];
  const seen = [
    ...new Set(networks.filter((r) => !LOOPBACK.some((l) => within(r, l))).map((r) => r.text)),
    ...facts.gateways.map(({ address }) => `default gateway ${address}`),
    "loopback",
  ].join(", ");

  list.forEach((entry, index) => {
    if (invalid.has(index)) return;
    const ranges = rangesOf(entry);
    if (!ranges.some((r) => visible.some((v) => overlaps(r, v)))) {
      findings.push({
        code: "never-matches",
        severity: "warning",
        message:
          `trustedProxies[${index}] "${entry}" can never match: no peer this machine can see is in it (it sees ${seen}). ` +
          `A proxy on another network reaches this machine through the default gateway and arrives from the gateway's ` +
          `address; ${advice}, or drop the entry.`,
        entry,
        index,
      });
      return;
    }
    const wide = ranges.filter((r) => !single(r) && PRIVATE.some((p) => within(r, p)));
    if (wide.length === 0) return;
    const inside = gateways.filter((address) => ranges.some((r) => r.set.trusts(parseIp(address)!)));
    findings.push({
      code: "private-range",
      severity: "warning",
      message:
        `trustedProxies[${index}] "${entry}" trusts the whole private range ${wide.map((r) => r.text).join(", ")}: every machine ` +
        `and container there would pass for local; ${inside.length > 0 ? `trust the gateway's single address ${quoted(inside, "and")} instead` : advice}.`,
      entry,
      index,
    });
  });

  if (gateways.length > 0 && !gateways.some((address) => compiled.trusts(parseIp(address)!))) {
    findings.push({
      code: "gateway-not-trusted",
      // In a container this is the original bug; on a host the default gateway is a router and rightly untrusted.
      severity: facts.container.detected ? "error" : "info",
      message:
        `trustedProxies does not trust the default gateway ${quoted(gateways, "or")}: a browser on the host reaching the published ` +
        `port arrives from ${gateways[0]} through Docker's NAT, with no forwarding header, and will not count as local ` +
        `(the socket is closed with "1008 pairing required"); add ${quoted(gateways, "and")}.`,
    });
  }
  return findings;
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
    lines.push("  (nothing: no default gateway)");
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
