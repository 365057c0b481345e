// The trust list: validated and folded once, so that each request only asks "is this address trusted?".
import { isIP } from "node:net";
import { type Address, formatAddress, parseIp } from "./address.js";

/** The presets `proxy-addr` (and so Express's `trust proxy`) understands, with the same ranges. */
const PRESETS: ReadonlyMap<string, readonly string[]> = new Map(Object.entries({
  loopback: ["127.0.0.0/8", "::1/128"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
  uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
}));

export type TrustDiagnosticCode = "trusts-everyone" | "host-bits-set";

export interface TrustDiagnostic {
  readonly code: TrustDiagnosticCode;
  readonly message: string;
  /** The entry as written and its index in the list. */
  readonly entry: string;
  readonly index: number;
}

/** Thrown by {@link compileTrustedProxies} for an entry that is not an address, a CIDR or a preset. */
export class TrustedProxiesError extends Error {
  override readonly name = "TrustedProxiesError";
  constructor(
    message: string,
    /** The offending entry as given, and its index in the list (-1 when the list itself is wrong). */
    readonly entry: unknown,
    readonly index: number,
  ) {
    super(message);
  }
}

interface Range6 {
  readonly network: readonly number[];
  readonly prefix: number;
}

// ::ffff:0:0/96, the IPv4-mapped block. A range that contains it trusts every IPv4 client.
const MAPPED_BLOCK: readonly number[] = [0, 0, 0, 0, 0, 0xffff, 0, 0];

/** A compiled `trustedProxies` list. Build one with {@link compileTrustedProxies}. */
export class TrustedProxies {
  /** Warnings about the list: a range that trusts everyone, a CIDR whose host bits were dropped. */
  readonly diagnostics: readonly TrustDiagnostic[];
  /** The ranges really trusted, canonical, in list order (presets expanded, mapped ranges as IPv4). */
  readonly ranges: readonly string[];
  // IPv4 as sorted, merged [start, end] pairs: a lookup is a binary search, whatever the list's length.
  readonly #starts: number[];
  readonly #ends: number[];
  readonly #v6: readonly Range6[];

  /** @internal */
  constructor(ranges: string[], v4: Array<[number, number]>, v6: Range6[], diagnostics: TrustDiagnostic[]) {
    this.ranges = ranges;
    this.diagnostics = diagnostics;
    this.#v6 = v6;
    const merged = mergeRanges(v4);
    this.#starts = merged.map(([start]) => start);
    this.#ends = merged.map(([, end]) => end);
  }

  /** @internal Whether a parsed address falls in a trusted range. */
  trusts(address: Address): boolean {
    if (address.family === 4) {
      const starts = this.#starts;
      let lo = 0;
      let hi = starts.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (starts[mid]! <= address.value) lo = mid + 1;
        else hi = mid - 1;
      }
      return hi >= 0 && address.value <= this.#ends[hi]!;
    }
    return this.#v6.some((range) => inPrefix(address.parts, range.network, range.prefix));
  }
}

/**
 * Validates a `trustedProxies` list once: IPv4/IPv6 addresses, CIDRs, IPv4-mapped forms and the presets
 * `loopback`, `linklocal`, `uniquelocal`. Throws {@link TrustedProxiesError} naming the first bad entry.
 */
export function compileTrustedProxies(list: readonly string[]): TrustedProxies {
  if (!Array.isArray(list)) {
    throw new TrustedProxiesError(`trustedProxies must be an array of strings, got ${describe(list)}`, list, -1);
  }
  const ranges: string[] = [];
  const v4: Array<[number, number]> = [];
  const v6: Range6[] = [];
  const diagnostics: TrustDiagnostic[] = [];
  list.forEach((entry: unknown, index) => {
    if (typeof entry !== "string") {
      throw new TrustedProxiesError(`trustedProxies[${index}] must be a string, got ${describe(entry)}`, entry, index);
    }
    const text = entry.trim();
    // A Map, so that "toString" or "__proto__" is an invalid entry and not an inherited property.
    for (const cidr of PRESETS.get(text) ?? [text]) {
      const warn = (code: TrustDiagnosticCode, message: string) => diagnostics.push({ code, message, entry, index });
      const range = parseCidr(cidr, entry, index);
      if (range.hostBits) {
        warn("host-bits-set", `trustedProxies[${index}] "${entry}" has host bits set: it trusts the whole range ${range.text}; write "${range.text}" if that is meant, or drop the prefix length to trust one address`);
      }
      ranges.push(range.text);
      if (range.family === 4) {
        v4.push([range.start, range.end]);
        if (range.start === 0 && range.end === 0xffffffff) {
          warn("trusts-everyone", `trustedProxies[${index}] "${entry}" trusts every IPv4 client: any client can then claim any address, loopback included`);
        }
        continue;
      }
      v6.push(range);
      if (range.prefix <= 96 && inPrefix(MAPPED_BLOCK, range.network, range.prefix)) {
        // IPv4 clients are matched as IPv4, so a range holding every mapped address must trust all of IPv4.
        v4.push([0, 0xffffffff]);
        const whom = range.prefix === 0 ? "every client" : "every IPv4 client (it contains ::ffff:0:0/96)";
        warn("trusts-everyone", `trustedProxies[${index}] "${entry}" trusts ${whom}: any client can then claim any address, loopback included`);
      }
    }
  });
  return new TrustedProxies(ranges, v4, v6, diagnostics);
}

type ParsedRange =
  | { family: 4; start: number; end: number; text: string; hostBits: boolean }
  | { family: 6; network: number[]; prefix: number; text: string; hostBits: boolean };

const PREFIX = /^(?:0|[1-9]\d{0,2})$/;

function parseCidr(cidr: string, entry: string, index: number): ParsedRange {
  const slash = cidr.indexOf("/");
  const host = slash === -1 ? cidr : cidr.slice(0, slash);
  const fail = (why: string) =>
    new TrustedProxiesError(`trustedProxies[${index}] "${entry}" ${why}`, entry, index);
  const family = isIP(host);
  const address = host.includes("%") ? null : parseIp(host);
  if (address === null) {
    throw fail(`is not an IP address, a CIDR or a preset (${[...PRESETS.keys()].join(", ")}); addresses are strict dotted-quad IPv4 or IPv6 text without a zone`);
  }
  const max = family === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : cidr.slice(slash + 1);
  if (isIP(prefixText) === 4) throw fail("uses a netmask: write a prefix length instead (e.g. /8)");
  const prefix = PREFIX.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix <= max)) throw fail(`has an invalid prefix length: expected 0-${max} for IPv${family}`);

  // Work on the written family's groups, so that a mapped CIDR such as ::ffff:10.0.0.0/104 keeps its meaning.
  const parts =
    address.family === 6
      ? address.parts
      : family === 6
        ? [0, 0, 0, 0, 0, 0xffff, address.value >>> 16, address.value & 0xffff]
        : [address.value >>> 16, address.value & 0xffff];
  const bits = family === 4 ? prefix + 96 : prefix;
  const padded = family === 4 ? [...MAPPED_BLOCK.slice(0, 6), ...parts] : parts;
  const network = padded.map((group, i) => group & groupMask(bits, i));
  const hostBits = network.some((group, i) => group !== padded[i]);
  if (bits >= 96 && inPrefix(network, MAPPED_BLOCK, 96)) {
    const start = (network[6]! * 0x10000 + network[7]!) >>> 0;
    const size = 2 ** (128 - bits);
    const text = `${formatAddress({ family: 4, value: start })}/${bits - 96}`;
    return { family: 4, start, end: start + size - 1, text, hostBits };
  }
  return { family: 6, network, prefix: bits, text: `${formatAddress({ family: 6, parts: network })}/${bits}`, hostBits };
}

/** The bits of group `i` (16 bits each) that a prefix of `bits` covers. */
function groupMask(bits: number, i: number): number {
  const covered = Math.min(16, Math.max(0, bits - i * 16));
  return (0xffff << (16 - covered)) & 0xffff;
}

function inPrefix(parts: readonly number[], network: readonly number[], prefix: number): boolean {
  for (let i = 0; i * 16 < prefix; i++) {
    if ((parts[i]! & groupMask(prefix, i)) !== network[i]) return false;
  }
  return true;
}

function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last && start <= last[1] + 1) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}
