// The one link between a listener that reads a trusted TCP load balancer's PROXY protocol header when it
// accepts a connection (clientaddr/proxy-protocol) and whoever resolves that connection's requests
// (clientaddr/node, or a gateway calling resolveClientAddress itself). The listener records the declared
// source (and the client's TLS) on the socket under `Symbol.for` keys, so that the ES module and CommonJS
// copies of clientaddr, loaded side by side, read and write the same properties; readers ask
// `declaredSource(socket)` and `connectionSecure(socket)`. Nothing here touches a socket: it reads properties
// of an object. Here too is the resolver's own address codec for those outside the rules (the listener, the
// command line): `canonicalAddress` for text, `formatAddressBytes` and `addressBytes` between text and bytes.
import { canonicalText, formatAddress, parseIp } from "./address.js";

/**
 * The property under which clientaddr/proxy-protocol records, on each socket it accepted from a trusted
 * balancer, the source that balancer declared: an address, or `null` when it declared a connection whose
 * source is unknown. Absent: nothing was declared (the peer is the socket's own).
 */
export const DECLARED_SOURCE: unique symbol = Symbol.for("clientaddr.declaredSource");

/**
 * What a trusted balancer declared for this socket's connection, for `resolveClientAddress`'s
 * `declaredSource`: the address, `null` when the source is unknown (or the recorded value is not an address
 * string: fail closed), or `undefined` when nothing was declared.
 */
export function declaredSource(socket: object | null | undefined): string | null | undefined {
  if (typeof socket !== "object" || socket === null) return undefined;
  const value = (socket as { [DECLARED_SOURCE]?: unknown })[DECLARED_SOURCE];
  return value === undefined ? undefined : typeof value === "string" ? value : null;
}

/**
 * The property under which clientaddr/proxy-protocol records `true` on a socket whose trusted balancer
 * declared, in a PROXY protocol v2 header's PP2_TYPE_SSL TLV with the PP2_CLIENT_SSL flag, that the client's
 * own connection to it was TLS (the balancer terminated it). `Symbol.for`, as DECLARED_SOURCE.
 */
export const DECLARED_SECURE: unique symbol = Symbol.for("clientaddr.declaredSecure");

/**
 * Whether the client's connection was TLS, as far as this server can tell, for `resolveClientAddress`'s
 * `secure`: the socket is itself TLS (an https server's, `encrypted`), or a trusted balancer declared the
 * client's connection to it TLS (DECLARED_SECURE). What a reverse proxy says in X-Forwarded-Proto or
 * Forwarded's proto= is read by the resolver itself, from trusted proxies only.
 */
export function connectionSecure(socket: object | null | undefined): boolean {
  if (typeof socket !== "object" || socket === null) return false;
  const s = socket as { encrypted?: unknown; [DECLARED_SECURE]?: unknown };
  return s.encrypted === true || s[DECLARED_SECURE] === true;
}

/**
 * The address held in network byte order in `bytes[offset, offset + length)` (a Uint8Array, or any list of
 * byte values), 4 bytes of IPv4 or 16 of IPv6,
 * written as clientaddr's answers write it (an IPv4-mapped IPv6 address as IPv4): how a binary header (the
 * PROXY protocol's v2) hands an address to the resolver. Throws a RangeError for another length or a range
 * past the end.
 */
export function formatAddressBytes(bytes: ArrayLike<number>, offset: number, length: 4 | 16): string {
  if ((length !== 4 && length !== 16) || !(offset >= 0 && offset + length <= bytes.length)) {
    throw new RangeError(`an address is 4 or 16 bytes within the buffer, got ${length} at ${offset} of ${bytes.length}`);
  }
  if (length === 4) return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
  const parts: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 8; i++) parts[i] = (bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!;
  if (parts[0] === 0 && parts[1] === 0 && parts[2] === 0 && parts[3] === 0 && parts[4] === 0 && parts[5] === 0xffff) {
    return formatAddress({ family: 4, value: (parts[6]! * 0x10000 + parts[7]!) >>> 0 });
  }
  return formatAddress({ family: 6, parts });
}

/**
 * An address as clientaddr's answers write it (dotted IPv4, mapped IPv6 as IPv4, RFC 5952 IPv6, no zone),
 * or null when the text is not a bare address by the strict rules (what Node's `net.isIP` accepts).
 */
export function canonicalAddress(text: string): string | null {
  const address = typeof text === "string" ? parseIp(text) : null;
  // The text itself when it is already canonical (no string built), as the resolver does for its peers.
  return address === null ? null : canonicalText(address, text);
}

/**
 * The address in network byte order, the inverse of `formatAddressBytes`: 4 bytes for IPv4 (an IPv4-mapped
 * IPv6 address included, as the answers write it), 16 for IPv6; null for text that is not a bare address by
 * the strict rules (as `canonicalAddress`). For arithmetic on addresses (ranges, offsets).
 */
export function addressBytes(text: string): Uint8Array | null {
  const address = typeof text === "string" ? parseIp(text) : null;
  if (address === null) return null;
  if (address.family === 4) return Uint8Array.of(address.value >>> 24, (address.value >>> 16) & 0xff, (address.value >>> 8) & 0xff, address.value & 0xff);
  return Uint8Array.from(address.parts.flatMap((group) => [group >> 8, group & 0xff]));
}
