// The attribution: how the client was identified, derived from what the rules decided (why it cannot be
// attributed, from rules.ts; where the client came from; what the peer is), not a second copy of them.
import type { Attribution, ClientAddress, Hop, HopSource, UnattributableReason } from "./answer.js";

/**
 * The attribution: unattributable when there is a reason; proxied when a header or a balancer named the
 * client; otherwise the peer itself, on this machine, a trusted gateway in front of it, or elsewhere.
 */
export function attributionOf(reason: UnattributableReason | null, source: HopSource, peerTrusted: boolean, peerLoopback: boolean): Attribution {
  if (reason !== null) return "unattributable";
  if (source !== "socket") return "proxied";
  return peerLoopback ? "direct-local" : peerTrusted ? "nat-local" : "direct-remote";
}

/**
 * The hop a request came from, for a log line or a rate limit when there is no client to name: the source a
 * trusted balancer declared, or else the socket's peer. Undefined when the socket had no peer.
 */
export function peerHop(answer: ClientAddress): Hop | undefined {
  const hops = answer.hops;
  // A declared source is always the second hop, after the socket's (the balancer).
  return hops[1]?.source === "proxy-protocol" ? hops[1] : hops[0];
}
