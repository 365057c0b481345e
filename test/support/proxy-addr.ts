// proxy-addr (what Express's `trust proxy` uses) as a reference, and a generator of X-Forwarded-For-only
// requests both sides must agree on: shared by test/differential.test.ts and the fuzz run.
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import proxyaddr from "proxy-addr";
import { resolveClientAddress } from "../../src/core/index.js";

// ---------------------------------------------------------------------------------------------------------
// Running both sides

/** proxy-addr's answer for a socket peer and an optional X-Forwarded-For value, exactly as it returns it. */
export function theirs(remoteAddress: string, xff: string | undefined, trust: readonly string[]): string {
  const headers: Record<string, string> = xff === undefined ? {} : { "x-forwarded-for": xff };
  const req = { connection: { remoteAddress }, headers } as unknown as IncomingMessage;
  return proxyaddr(req, [...trust]);
}

export function ours(remoteAddress: string, xff: string | undefined, trust: readonly string[]) {
  return resolveClientAddress({
    remoteAddress,
    headers: xff === undefined ? {} : { "x-forwarded-for": xff },
    trustedProxies: trust,
  });
}

/**
 * proxy-addr returns the address as written; bring it to our canonical form (dotted IPv4, mapped IPv6 as
 * IPv4, RFC 5952 IPv6). Text that Node does not take for an address is returned unchanged, so it can never
 * equal one of our answers (which are always canonical addresses or null).
 */
export function canonical(text: string): string {
  if (isIP(text) === 0 || !ipaddr.isValid(text)) return text;
  const address = ipaddr.process(text);
  return address.kind() === "ipv4" ? address.toString() : (address as ipaddr.IPv6).toRFC5952String();
}

// ---------------------------------------------------------------------------------------------------------
// 1. Property: generated X-Forwarded-For chains

/** A network as bytes (4 for IPv4, 16 for IPv6) and a prefix length in bits. */
interface Net {
  readonly bytes: readonly number[];
  readonly prefix: number;
}

function net(cidr: string): Net {
  const [address, prefix] = ipaddr.parseCIDR(cidr);
  return { bytes: address.toByteArray(), prefix };
}

// A small pool of networks that both the addresses and the trust lists draw from, so that most generated
// entries fall inside some trusted range and the walk goes several hops deep. It covers the three presets,
// documentation ranges that are trusted only when a list names them, and ranges no preset covers.
const POOL: readonly Net[] = [
  "10.0.0.0/8",
  "10.1.2.0/24",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.168.1.0/24",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "2001:db8::/32",
  "2001:db8:1::/48",
  "fd00::/8",
  "fe80::/10",
  "::1/128",
].map(net);
const POOL_V4 = POOL.filter((n) => n.bytes.length === 4);

const PRESETS: Readonly<Record<string, readonly Net[]>> = {
  loopback: ["127.0.0.0/8", "::1/128"].map(net),
  linklocal: ["169.254.0.0/16", "fe80::/10"].map(net),
  uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"].map(net),
};
export const MAPPED_BLOCK = ipaddr.IPv6.parse("::ffff:0:0");

/** An address inside `n`: its host bits random, or (when `small`) a low host number, so addresses repeat. */
function inside(n: Net, host: readonly number[], small: boolean): number[] {
  const last = n.bytes.length - 1;
  return n.bytes.map((byte, i) => {
    const covered = Math.min(8, Math.max(0, n.prefix - 8 * i));
    const mask = (0xff << (8 - covered)) & 0xff;
    const hostByte = small ? (i === last ? 1 + (host[i]! % 4) : 0) : host[i]!;
    return (byte & mask) | (hostByte & ~mask & 0xff);
  });
}

const hex = (high: number, low: number) => ((high << 8) | low).toString(16);

/** Writes an address in one of the textual forms both sides accept (`form` picks one). */
function write(bytes: readonly number[], form: number): string {
  if (bytes.length === 4) {
    const dotted = bytes.join(".");
    switch (form % 5) {
      case 3:
        return `::ffff:${dotted}`; // how a dual-stack socket reports an IPv4 peer
      case 4:
        return `::FFFF:${hex(bytes[0]!, bytes[1]!)}:${hex(bytes[2]!, bytes[3]!)}`;
      default:
        return dotted;
    }
  }
  const v6 = ipaddr.fromByteArray([...bytes]) as ipaddr.IPv6;
  switch (form % 5) {
    case 1:
      return v6.toNormalizedString(); // every group, no compression
    case 2:
      return v6.parts.map((part) => part.toString(16).padStart(4, "0")).join(":"); // leading zeros
    case 3:
      return v6.toRFC5952String().toUpperCase();
    default:
      return v6.toRFC5952String();
  }
}

const bytes16 = fc.array(fc.nat(255), { minLength: 16, maxLength: 16 });

const trustSeed = fc.record({
  kind: fc.oneof(
    { weight: 3, arbitrary: fc.constant("preset" as const) },
    { weight: 4, arbitrary: fc.constant("address" as const) },
    { weight: 5, arbitrary: fc.constant("cidr" as const) },
    { weight: 1, arbitrary: fc.constant("mapped-address" as const) },
    { weight: 2, arbitrary: fc.constant("mapped-cidr" as const) },
    { weight: 1, arbitrary: fc.constant("all-mapped" as const) },
  ),
  preset: fc.constantFrom("loopback", "linklocal", "uniquelocal"),
  net: fc.nat(),
  host: bytes16,
  small: fc.boolean(),
  prefixDelta: fc.integer({ min: -3, max: 24 }),
  upper: fc.boolean(),
});
type TrustSeed = typeof trustSeed extends fc.Arbitrary<infer T> ? T : never;

/** A trust-list entry as written, and the networks it covers (to draw trusted addresses from). */
function trustEntry(seed: TrustSeed): { text: string; nets: readonly Net[] } {
  const v6case = (text: string) => (seed.upper ? text.toUpperCase() : text);
  switch (seed.kind) {
    case "preset":
      return { text: seed.preset, nets: PRESETS[seed.preset]! };
    case "all-mapped":
      return { text: "::ffff:0:0/96", nets: [net("0.0.0.0/0")] };
    case "address":
    case "cidr": {
      const n = POOL[seed.net % POOL.length]!;
      const bytes = inside(n, seed.host, seed.small); // host bits may be set in a CIDR: both sides mask them
      const text = write(bytes, bytes.length === 16 && seed.upper ? 3 : 0); // IPv4 stays dotted: its prefix counts 32 bits
      if (seed.kind === "address") return { text, nets: [{ bytes, prefix: bytes.length * 8 }] };
      const max = bytes.length * 8;
      let prefix = Math.min(max, Math.max(1, n.prefix + seed.prefixDelta));
      // An IPv6 range shorter than /96 holding ::ffff:0:0/96 is a deliberate difference (tested below).
      if (max === 128 && prefix < 96 && MAPPED_BLOCK.match(ipaddr.fromByteArray(bytes) as ipaddr.IPv6, prefix)) prefix = 96;
      return { text: `${text}/${prefix}`, nets: [{ bytes, prefix }] };
    }
    case "mapped-address":
    case "mapped-cidr": {
      const n = POOL_V4[seed.net % POOL_V4.length]!;
      const bytes = inside(n, seed.host, seed.small);
      const mapped = v6case(`::ffff:${bytes.join(".")}`);
      if (seed.kind === "mapped-address") return { text: mapped, nets: [{ bytes, prefix: 32 }] };
      const prefix = Math.min(32, Math.max(1, n.prefix + seed.prefixDelta));
      return { text: `${mapped}/${96 + prefix}`, nets: [{ bytes, prefix }] };
    }
  }
}

const addressSeed = fc.record({
  fromTrust: fc.nat(9), // 0-6: inside a network of the trust list (when it has one); 7-9: anywhere in the pool
  net: fc.nat(),
  host: bytes16,
  small: fc.boolean(),
  form: fc.nat(4),
});
type AddressSeed = typeof addressSeed extends fc.Arbitrary<infer T> ? T : never;

function address(seed: AddressSeed, trusted: readonly Net[]): string {
  const nets = seed.fromTrust < 7 && trusted.length > 0 ? trusted : POOL;
  return write(inside(nets[seed.net % nets.length]!, seed.host, seed.small), seed.form);
}

export const xffRequest = fc
  .record({
    trust: fc.array(trustSeed, { minLength: 0, maxLength: 5 }),
    peer: addressSeed,
    entries: fc.array(addressSeed, { minLength: 0, maxLength: 8 }),
  })
  .map(({ trust, peer, entries }) => {
    const list = trust.map(trustEntry);
    const nets = list.flatMap((entry) => entry.nets);
    return {
      trustedProxies: list.map((entry) => entry.text),
      remoteAddress: address(peer, nets),
      // No entries: no header at all (an empty X-Forwarded-For is a deliberate difference, below).
      xff: entries.length === 0 ? undefined : entries.map((entry) => address(entry, nets)).join(", "),
    };
  });
