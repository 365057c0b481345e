// The trust list: validated and folded once, so that each request only asks "is this address trusted?".
import { type Address, decimalNumber, formatAddress, parseIp, parseNode } from "./address.js";
import { ClientAddressConfigError } from "./config-error.js";

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
  /** The entry as written and its index in the list; for a warning about the list as a whole, every entry joined and -1. */
  readonly entry: string;
  readonly index: number;
}

// ::ffff:0:0/96, the IPv4-mapped block. A range that contains it trusts every IPv4 client.
const MAPPED_BLOCK: readonly number[] = [0, 0, 0, 0, 0, 0xffff, 0, 0];

// What compileTrustedProxies hands the constructor, and nothing else can.
const COMPILED: unique symbol = Symbol("compiled");

/** A compiled `trustedProxies` list. Build one with {@link compileTrustedProxies}. */
export class TrustedProxies {
  /** Warnings about the list: a range that trusts everyone, a CIDR whose host bits were dropped. */
  readonly diagnostics: readonly TrustDiagnostic[];
  readonly #list: readonly string[];
  #ranges: readonly string[] | undefined;
  // Both families as sorted, merged, disjoint ranges, so that a lookup is a binary search whatever the
  // list's length; typed arrays keep a 10,000-entry list small (16 bytes an IPv4 range, 32 an IPv6 one).
  readonly #v4Starts: Float64Array;
  readonly #v4Ends: Float64Array;
  // Where each first octet's ranges begin: #v4Firsts[b] is the first range starting at or above b.0.0.0.
  // The search then looks only among ranges starting with the address's own first octet (about 13 steps
  // fewer for 10,000 CIDRs), for 1 KiB.
  readonly #v4Firsts: Uint32Array;
  readonly #v6: Uint16Array; // per range: 8 groups of its first address, then 8 of its last
  // The last peer asked about and the answer (see trustsPeer).
  #peer: Address | null = null;
  #peerTrusted = false;

  /** @internal Built by {@link compileTrustedProxies} only: `new TrustedProxies()` throws a TypeError saying so. */
  constructor(token: typeof COMPILED, list: readonly string[], merged4: Array<[number, number]>, merged6: Array<[number[], number[]]>, diagnostics: TrustDiagnostic[]) {
    // The class is exported for `instanceof` and its type; an instance made any other way would hold no ranges.
    if (token !== COMPILED) throw new TypeError("TrustedProxies is not constructed directly: use compileTrustedProxies(list)");
    this.#list = list;
    this.diagnostics = diagnostics;
    this.#v4Starts = Float64Array.from(merged4, ([start]) => start);
    this.#v4Ends = Float64Array.from(merged4, ([, end]) => end);
    this.#v4Firsts = new Uint32Array(257);
    for (let octet = 0, range = 0; octet <= 256; octet++) {
      while (range < merged4.length && merged4[range]![0] < octet * 0x1000000) range++;
      this.#v4Firsts[octet] = range;
    }
    this.#v6 = new Uint16Array(merged6.length * 16);
    merged6.forEach(([start, end], i) => {
      this.#v6.set(start, i * 16);
      this.#v6.set(end, i * 16 + 8);
    });
  }

  /** The ranges really trusted, canonical, in list order (presets expanded, mapped ranges as IPv4). */
  get ranges(): readonly string[] {
    // Written out on first use only: a gateway compiles its list and never reads this.
    this.#ranges ??= this.#list.flatMap((entry, index) => expand(entry).map((cidr) => rangeText(parseCidr(cidr, entry, index))));
    return this.#ranges;
  }

  /** The list as given and the ranges it trusts, with its warnings: what a gateway logs at start-up. */
  toJSON(): { entries: readonly string[]; ranges: readonly string[]; diagnostics: readonly TrustDiagnostic[] } {
    return { entries: this.#list, ranges: this.ranges, diagnostics: this.diagnostics };
  }

  /** `console.log(list)` shows what it trusts (its fields are private), not an empty shell. */
  [Symbol.for("nodejs.util.inspect.custom")](): ReturnType<TrustedProxies["toJSON"]> {
    return this.toJSON();
  }

  /**
   * @internal Whether the socket peer is trusted. The same as `trusts`, remembering the last peer: a server
   * behind a proxy sees the same peer on every request, and the resolver's memo hands over the same parsed
   * object for it, so a repeat is answered by one identity comparison instead of a search.
   */
  trustsPeer(address: Address): boolean {
    if (address !== this.#peer) {
      this.#peerTrusted = this.trusts(address);
      this.#peer = address;
    }
    return this.#peerTrusted;
  }

  /**
   * Whether an address, written as a socket or a forwarding header writes it (bare, `a.b.c.d:port`,
   * `[v6]:port`), is trusted: what the walk asks of each hop, for frameworks that walk X-Forwarded-For
   * themselves (Express's `trust proxy`, Fastify's `trustProxy`). False for text that is not an address.
   */
  trustsText(text: string): boolean {
    const address = parseNode(text);
    return address !== null && this.trusts(address);
  }

  /** @internal Whether a parsed address falls in a trusted range. */
  trusts(address: Address): boolean {
    if (address.family === 4) {
      const starts = this.#v4Starts;
      const octet = address.value >>> 24;
      // The last range starting at or below the address is among its octet's ranges, or just before them.
      let lo = this.#v4Firsts[octet]!;
      let hi = this.#v4Firsts[octet + 1]! - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (starts[mid]! <= address.value) lo = mid + 1;
        else hi = mid - 1;
      }
      return hi >= 0 && address.value <= this.#v4Ends[hi]!;
    }
    const v6 = this.#v6;
    const parts = address.parts;
    let lo = 0;
    let hi = v6.length / 16 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (compareAt(v6, mid * 16, parts) <= 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && compareAt(v6, hi * 16 + 8, parts) >= 0;
  }
}

/**
 * Validates a `trustedProxies` list once: IPv4/IPv6 addresses, CIDRs, IPv4-mapped forms and the presets
 * `loopback`, `linklocal`, `uniquelocal`. Throws {@link ClientAddressConfigError} naming the first bad entry.
 */
export function compileTrustedProxies(list: readonly string[]): TrustedProxies {
  if (!Array.isArray(list)) {
    // The ES module and the CommonJS build are two copies of this class; one's lists are not the other's.
    if ((list as unknown as { constructor?: { name?: unknown } } | null)?.constructor?.name === "TrustedProxies") {
      throw new ClientAddressConfigError(
        "trustedProxies was compiled by another copy of clientaddr (the ES module and the CommonJS build are separate copies, and so are two installed versions): compile it with the copy that resolves, or pass the list of strings",
        "trustedProxies",
        list,
        -1,
      );
    }
    throw new ClientAddressConfigError(`trustedProxies must be an array of strings, got ${describe(list)}`, "trustedProxies", list, -1);
  }
  const v4: Array<[number, number]> = [];
  const v6: Array<[number[], number[]]> = [];
  const diagnostics: TrustDiagnostic[] = [];
  // Whether one entry alone already trusts every IPv4 (or every IPv6) client, and has said so.
  let warned4 = false;
  let warned6 = false;
  list.forEach((entry: unknown, index) => {
    if (typeof entry !== "string") {
      throw new ClientAddressConfigError(`trustedProxies[${index}] must be a string, got ${describe(entry)}`, "trustedProxies", entry, index);
    }
    for (const cidr of expand(entry)) {
      const warn = (code: TrustDiagnosticCode, message: string) => diagnostics.push({ code, message, entry, index });
      const range = parseCidr(cidr, entry, index);
      if (range.hostBits) {
        const text = rangeText(range);
        warn("host-bits-set", `trustedProxies[${index}] "${entry}" has host bits set: it trusts the whole range ${text}; write "${text}" if that is meant, or drop the prefix length to trust one address`);
      }
      if (range.family === 4) {
        v4.push([range.start, range.end]);
        if (range.start === 0 && range.end === 0xffffffff) {
          warned4 = true;
          warn("trusts-everyone", `trustedProxies[${index}] "${entry}" trusts every IPv4 client: any client can then claim any address, loopback included`);
        }
        continue;
      }
      v6.push([range.network, range.network.map((group, i) => group | (~groupMask(range.prefix, i) & 0xffff))]);
      if (range.prefix <= 96 && inPrefix(MAPPED_BLOCK, range.network, range.prefix)) {
        // IPv4 clients are matched as IPv4, so a range holding every mapped address must trust all of IPv4.
        v4.push([0, 0xffffffff]);
        warned4 = true;
        warned6 ||= range.prefix === 0;
        const whom = range.prefix === 0 ? "every client" : "every IPv4 client (it contains ::ffff:0:0/96)";
        warn("trusts-everyone", `trustedProxies[${index}] "${entry}" trusts ${whom}: any client can then claim any address, loopback included`);
      }
    }
  });
  const merged4 = mergeRanges(v4, (a, b) => a - b, (end, start) => start <= end + 1);
  const merged6 = mergeRanges(v6, compareGroups, (end, start) => compareGroups(start, end) <= 0 || isNext(end, start));
  // Ranges that together cover a whole family trust everyone just as 0.0.0.0/0 does, however they split it
  // (0.0.0.0/1 and 128.0.0.0/1): said once, for the list, unless one entry already said it.
  const whole = (whom: string) => {
    diagnostics.push({ code: "trusts-everyone", message: `trustedProxies together trust ${whom}: any client can then claim any address, loopback included`, entry: list.join(", "), index: -1 });
  };
  if (!warned4 && merged4.length === 1 && merged4[0]![0] === 0 && merged4[0]![1] === 0xffffffff) whole("every IPv4 client");
  if (!warned6 && merged6.length === 1 && merged6[0]![0].every((group) => group === 0) && merged6[0]![1].every((group) => group === 0xffff)) whole("every IPv6 client");
  return new TrustedProxies(COMPILED, [...list], merged4, merged6, diagnostics);
}

/** Whether IPv6 `start` is the address right after `end`: touching ranges join, as IPv4's do. */
function isNext(end: readonly number[], start: readonly number[]): boolean {
  let carry = 1;
  for (let i = 7; i >= 0; i--) {
    const sum = end[i]! + carry;
    if ((sum & 0xffff) !== start[i]) return false;
    carry = sum >> 16;
  }
  return carry === 0;
}

// A DNS name as Docker's and Podman's resolvers answer them (RFC 1123 host names, plus the underscores of
// container names such as nginx-proxy-manager_app_1): labels of letters, digits, hyphens and underscores, no
// label longer than 63 or starting or ending with a hyphen, at most 253 in all, and a last label that is not
// all digits (so that 127.1 stays a malformed address, never a name).
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * The DNS name a `trustedProxies` entry stands for (lower case, without a final dot), or null when it is an
 * address, a CIDR, a preset or not a name at all. startResolver looks these up; every other entry point
 * refuses them.
 */
export function trustedProxyName(entry: string): string | null {
  const name = entry.trim().toLowerCase().replace(/\.$/, "");
  if (name.length === 0 || name.length > 253 || PRESETS.has(name)) return null;
  const labels = name.split(".");
  if (!labels.every((label) => LABEL.test(label)) || /^\d+$/.test(labels[labels.length - 1]!)) return null;
  return name;
}

/** The CIDRs one entry stands for: a preset's ranges, or the entry itself. */
function expand(entry: string): readonly string[] {
  const text = entry.trim();
  // A Map, so that "toString" or "__proto__" is an invalid entry and not an inherited property.
  return PRESETS.get(text) ?? [text];
}

type ParsedRange =
  | { family: 4; start: number; end: number; hostBits: boolean }
  | { family: 6; network: number[]; prefix: number; hostBits: boolean };

function rangeText(range: ParsedRange): string {
  return range.family === 4
    ? `${formatAddress({ family: 4, value: range.start })}/${32 - Math.log2(range.end - range.start + 1)}`
    : `${formatAddress({ family: 6, parts: range.network })}/${range.prefix}`;
}

function parseCidr(cidr: string, entry: string, index: number): ParsedRange {
  const slash = cidr.indexOf("/");
  const end = slash === -1 ? cidr.length : slash;
  const fail = (why: string) => new ClientAddressConfigError(`trustedProxies[${index}] "${entry}" ${why}`, "trustedProxies", entry, index);
  const written6 = cidr.lastIndexOf(":", end) !== -1;
  const address = cidr.lastIndexOf("%", end) !== -1 ? null : parseIp(cidr, 0, end);
  if (address === null) {
    const presets = `(${[...PRESETS.keys()].join(", ")})`;
    if (trustedProxyName(entry) !== null) {
      throw fail(`is a DNS name, not an IP address, a CIDR or a preset ${presets}: a name (a Compose service, a container) is looked up with \`await startResolver(options)\`, at start-up and again on an interval; createResolver and compileTrustedProxies take addresses only`);
    }
    throw fail(`is not an IP address, a CIDR or a preset ${presets}; addresses are strict dotted-quad IPv4 or IPv6 text without a zone`);
  }
  const max = written6 ? 128 : 32;
  const prefix = slash === -1 ? max : decimalNumber(cidr, slash + 1, cidr.length, 3);
  if (prefix < 0) {
    if (parseIp(cidr, slash + 1) !== null) throw fail("uses a netmask: write a prefix length instead (e.g. /8)");
  }
  if (!(prefix >= 0 && prefix <= max)) throw fail(`has an invalid prefix length: expected 0-${max} for IPv${written6 ? 6 : 4}`);

  // Work on the written family's groups, so that a mapped CIDR such as ::ffff:10.0.0.0/104 keeps its meaning.
  const parts =
    address.family === 6
      ? address.parts
      : [0, 0, 0, 0, 0, 0xffff, address.value >>> 16, address.value & 0xffff];
  const bits = written6 ? prefix : prefix + 96;
  const network = parts.map((group, i) => group & groupMask(bits, i));
  const hostBits = network.some((group, i) => group !== parts[i]);
  if (bits >= 96 && inPrefix(network, MAPPED_BLOCK, 96)) {
    const start = (network[6]! * 0x10000 + network[7]!) >>> 0;
    return { family: 4, start, end: start + 2 ** (128 - bits) - 1, hostBits };
  }
  return { family: 6, network, prefix: bits, hostBits };
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

function compareGroups(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Compares the 8 groups stored at `offset` with `parts`. */
function compareAt(groups: Uint16Array, offset: number, parts: readonly number[]): number {
  for (let i = 0; i < 8; i++) {
    const difference = groups[offset + i]! - parts[i]!;
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Sorts ranges by their start and joins those that overlap (or, where `joins` says so, touch). */
function mergeRanges<T>(ranges: Array<[T, T]>, compare: (a: T, b: T) => number, joins: (end: T, start: T) => boolean): Array<[T, T]> {
  const sorted = [...ranges].sort((a, b) => compare(a[0], b[0]));
  const merged: Array<[T, T]> = [];
  for (const [start, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last && joins(last[1], start)) {
      if (compare(end, last[1]) > 0) last[1] = end;
    } else {
      merged.push([start, end]);
    }
  }
  return merged;
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}
