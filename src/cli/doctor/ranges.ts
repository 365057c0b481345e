// Range maths on the trust list's public face. Each range is compiled by compileTrustedProxies and asked with
// `trustsText`, so that "contains" is the trust list's own test and cannot disagree with it.
import { isIP } from "node:net";
import { type TrustedProxies, addressBytes, compileTrustedProxies, formatAddressBytes } from "../../index.js";

/** One CIDR range, compiled. */
export interface Range {
  /** As the trust list writes it: canonical, the network address and the prefix length, IPv4-mapped ranges as IPv4. */
  readonly text: string;
  /** Its first address, canonical. */
  readonly network: string;
  readonly family: 4 | 6;
  readonly prefix: number;
  readonly set: TrustedProxies;
}

export function range(cidr: string): Range {
  const set = compileTrustedProxies([cidr]);
  const text = set.ranges[0]!;
  const [network, prefix] = text.split("/") as [string, string];
  return { text, network, family: isIP(network) as 4 | 6, prefix: Number(prefix), set };
}

/** The ranges one entry stands for (a preset is several). */
export function rangesOf(entry: string): Range[] {
  return compileTrustedProxies([entry]).ranges.map(range);
}

// Two CIDR ranges overlap exactly when one holds the other's network address.
export const overlaps = (a: Range, b: Range) => a.set.trustsText(b.network) || b.set.trustsText(a.network);
export const within = (inner: Range, outer: Range) => inner.prefix >= outer.prefix && outer.set.trustsText(inner.network);
export const single = (r: Range) => r.prefix === (r.family === 4 ? 32 : 128);

export const PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"].map(range);
export const LOOPBACK = rangesOf("loopback");
export const LINK_LOCAL = rangesOf("linklocal");
/** Everything else is "public" here: other networks and the Internet (documentation blocks included). */
const NOT_PUBLIC = [...PRIVATE, ...LOOPBACK, ...LINK_LOCAL];

/** An address as an integer of its family (32 or 128 bits). */
export function addressValue(address: string): bigint {
  return addressBytes(address)!.reduce((n, byte) => (n << 8n) | BigInt(byte), 0n);
}

/** A range's first and last address as integers of its family. */
function bounds(r: Range): [bigint, bigint] {
  const start = addressValue(r.network);
  return [start, start + (1n << BigInt((r.family === 4 ? 32 : 128) - r.prefix)) - 1n];
}

/** The first address of `r` outside every NOT_PUBLIC block, or undefined when it holds none. */
export function firstPublic(r: Range): string | undefined {
  const [start, end] = bounds(r);
  const blocks = NOT_PUBLIC.filter((b) => b.family === r.family)
    .map(bounds)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let next = start;
  for (const [from, to] of blocks) {
    if (from > next) break;
    if (to >= next) next = to + 1n;
  }
  if (next > end) return undefined;
  // formatAddressBytes writes an IPv4-mapped address as IPv4, which `next` never is for an IPv6 range: one that
  // starts inside ::ffff:0:0/96 is compiled as IPv4, and no block ends right before that block.
  const length = r.family === 4 ? 4 : 16;
  return formatAddressBytes(Array.from({ length }, (_, i) => Number((next >> BigInt(8 * (length - 1 - i))) & 0xffn)), 0, length);
}
