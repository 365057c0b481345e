// The one link between a listener that reads a trusted TCP load balancer's PROXY protocol header when it
// accepts a connection (clientaddr/proxy-protocol) and whoever resolves that connection's requests
// (clientaddr/node, or a gateway calling resolveClientAddress itself). The listener records the declared
// source on the socket under this symbol; readers ask `declaredSource(socket)`. Nothing here touches a
// socket: it reads one property of an object. `Symbol.for`, so that the ES module and CommonJS copies of
// clientaddr, loaded side by side, read and write the same property.
import { formatAddress, parseIp } from "./address.js";

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
 * An address as clientaddr's answers write it (dotted IPv4, mapped IPv6 as IPv4, RFC 5952 IPv6, no zone),
 * or null when the text is not a bare address by the strict rules (what Node's `net.isIP` accepts).
 */
export function canonicalAddress(text: string): string | null {
  const address = typeof text === "string" ? parseIp(text) : null;
  return address === null ? null : formatAddress(address);
}
