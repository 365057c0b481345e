// One key per client for a rate limiter: one client must be one bucket. `1.2.3.4` and `::ffff:1.2.3.4` were
// two in GHSA-5847-rm3g-23mw; an IPv6 client holds a whole /64 and takes a new address from it at will; a
// request that cannot be attributed has no client of its own and is keyed by its peer (nextcloud/docker#2056
// throttled the proxy for everyone because every client looked like it).
import type { ClientAddress } from "./answer.js";
import { peerHop } from "./attribution.js";
import { ClientAddressConfigError } from "./config-error.js";
import { addressBytes, formatAddressBytes } from "./declared.js";

export interface RateLimitKeyOptions {
  /** How many leading bits of an IPv6 client are one client. Default 64 (a customer's usual allocation). */
  readonly ipv6Prefix?: number | undefined;
}

/**
 * The rate-limit key of an answer: the client's canonical address (IPv4-mapped folded, no zone); for IPv6,
 * its network of `ipv6Prefix` bits (`2001:db8:1:2::/64`); for an unattributable request, or one without an
 * address, its peer's, the same way.
 */
export function rateLimitKey(answer: ClientAddress, options: RateLimitKeyOptions = {}): string {
  const { ipv6Prefix = 64 } = options;
  if (!(Number.isInteger(ipv6Prefix) && ipv6Prefix >= 0 && ipv6Prefix <= 128)) {
    throw new ClientAddressConfigError(`ipv6Prefix must be an integer from 0 to 128, got ${JSON.stringify(ipv6Prefix)}`, "ipv6Prefix", ipv6Prefix);
  }
  // An attributed answer always has an address (one without is unattributable: no peer, or a chain naming nobody).
  const address = answer.attribution !== "unattributable" ? answer.address : (peerHop(answer)?.address ?? null);
  if (address === null) return "unknown";
  const bytes = addressBytes(address)!;
  if (bytes.length === 4 || ipv6Prefix === 128) return address;
  for (let bit = ipv6Prefix; bit < 128; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return `${formatAddressBytes(bytes, 0, 16)}/${ipv6Prefix}`;
}
