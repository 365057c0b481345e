// The operator's log of refusals: one line per peer and local port per interval, whatever the traffic, in
// bounded memory. A gateway that logs every refusal floods its log (jellyfin#15056 logs "Unknown proxy" on
// every request); one that logs none leaves the operator guessing what to change.
import type { ClientAddress } from "./answer.js";
import { peerHop } from "./attribution.js";
import { ClientAddressConfigError } from "./config-error.js";

export interface RefusalLogOptions {
  /** Where a line goes. Default `console.warn`. */
  readonly warn?: ((line: string) => void) | undefined;
  /** One line per peer and local port per this many milliseconds. Default 5 minutes. */
  readonly intervalMs?: number | undefined;
  /** How many peers and ports are remembered at most; the one logged longest ago is forgotten first. Default 64. */
  readonly maxKeys?: number | undefined;
  /**
   * The resolver, when `startResolver` made it: each line then also names the trustedProxies names that do
   * not resolve (a proxy whose name fails is why its clients may be refused).
   */
  readonly resolver?: { readonly names?: ReadonlyArray<{ readonly name: string; readonly error: string | null }> } | undefined;
}

/**
 * Logs one refusal, unless its peer and local port were logged within the interval (then it is counted, and
 * the count is given with the next line). Returns whether it wrote a line.
 */
export type RefusalLog = (answer: ClientAddress, localPort?: number) => boolean;

/**
 * A refusal log: each line names the peer, the local port, the attribution, the basis and what to change
 * (the first diagnostic, which never advises trusting a public address).
 */
export function createRefusalLog(options: RefusalLogOptions = {}): RefusalLog {
  const { warn = (line: string) => console.warn(line), intervalMs = 300_000, maxKeys = 64, resolver } = options;
  if (typeof warn !== "function") throw new ClientAddressConfigError(`warn must be a function, got ${typeof warn}`, "warn", warn);
  if (!(Number.isInteger(intervalMs) && intervalMs >= 0)) throw new ClientAddressConfigError(`intervalMs must be a non-negative integer, got ${JSON.stringify(intervalMs)}`, "intervalMs", intervalMs);
  if (!(Number.isInteger(maxKeys) && maxKeys >= 1)) throw new ClientAddressConfigError(`maxKeys must be a positive integer, got ${JSON.stringify(maxKeys)}`, "maxKeys", maxKeys);
  // Insertion order is age: the first key is the one logged longest ago.
  const logged = new Map<string, { at: number; since: number }>();
  return (answer, localPort) => {
    const peer = peerHop(answer);
    const peerText = peer === undefined ? "an unknown peer" : (peer.address ?? JSON.stringify(peer.raw.slice(0, 60)));
    const key = `${peerText} ${localPort ?? ""}`;
    const now = Date.now();
    const last = logged.get(key);
    if (last !== undefined && now - last.at < intervalMs) {
      last.since++;
      return false;
    }
    logged.delete(key);
    if (logged.size >= maxKeys) logged.delete(logged.keys().next().value!);
    logged.set(key, { at: now, since: 0 });
    const reason = answer.attributionReason === null ? "" : ` (${answer.attributionReason})`;
    const since = last === undefined || last.since === 0 ? "" : ` [${last.since} more since the last line]`;
    const why = answer.diagnostics[0]?.message ?? "";
    const failing = (resolver?.names ?? []).filter((name) => name.error !== null).map((name) => `"${name.name}" (${name.error})`);
    const names = failing.length === 0 ? "" : `; trustedProxies names not resolving: ${failing.join(", ")}`;
    warn(`clientaddr: refused ${peerText}${localPort === undefined ? "" : ` on port ${localPort}`}: ${answer.attribution}${reason}, ${answer.basis}: ${why}${since}${names}`);
    return true;
  };
}
