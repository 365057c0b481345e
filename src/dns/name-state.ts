// What one lookup does to one name: the addresses trusted for it and the lines reported. Pure: given the
// name's record, the lookup's outcome and the time, the next record. A success replaces the name's
// addresses (the old ones stop being trusted: a container's old address may be another's now). A failure
// keeps the last good ones (the resolver answers from the last good set) for at most maxStaleMs after the
// lookup that found them, and not at all once DNS says the name does not exist (ENOTFOUND, ENODATA: the
// container is gone, and Docker may hand its address to another): a stale address trusted is a stranger
// trusted, while an address dropped too soon only answers the proxy's clients as remote. A failure is
// reported once per transition, not once per round, and a drop when it happens.
import { type TrustedProxies, compileTrustedProxies } from "../core/index.js";
import type { LookupOutcome } from "./lookup.js";

/** A DNS name of `trustedProxies`: what it resolved to last and the error of its last lookup, if any. */
export interface NameState {
  /** As looked up: lower case, no final dot. */
  readonly name: string;
  /** The addresses trusted for it, canonical and sorted: its last good lookup's, or none before one. */
  readonly addresses: readonly string[];
  /** The last lookup's error code (ENOTFOUND, EAI_AGAIN, ETIMEOUT, ...), or null when it succeeded. */
  readonly error: string | null;
  /** When it last resolved (`Date.now()`), or null when it never has. */
  readonly resolvedAt: number | null;
}

/** A name's state, and what was already reported about it. */
export interface NameRecord {
  readonly state: NameState;
  /** The entries the last lookup answered that are not addresses, joined: reported when this changes. */
  readonly refused: string;
  /** The public addresses already reported for this name (each once). */
  readonly publicReported: ReadonlySet<string>;
}

export function newRecord(name: string): NameRecord {
  return { state: Object.freeze({ name, addresses: Object.freeze([]), error: null, resolvedAt: null }), refused: "", publicReported: new Set() };
}

// The ranges of a proxy of one's own, as the doctor reads them: the core's presets, asked with trustsText.
// The core exports no address classifier; its presets are the same ranges as its notion of private use.
// Compiled on first use, not at load: if the core's entry re-exports this edge, the two modules form a cycle
// (and in the CommonJS build the core's exports are not all there yet while this module loads).
let ownRanges: TrustedProxies | undefined;
const isOwnRange = (address: string) => (ownRanges ??= compileTrustedProxies(["loopback", "linklocal", "uniquelocal"])).trustsText(address);

/** The next record and the lines to report; `changed` when the addresses trusted for the name changed. */
export function applyOutcome(record: NameRecord, outcome: LookupOutcome, now: number, maxStaleMs: number): { record: NameRecord; lines: string[]; changed: boolean } {
  const { state } = record;
  const name = `trustedProxies name "${state.name}"`;
  const lines: string[] = [];
  const before = list(state.addresses);
  const lookedUp = state.error !== null || state.resolvedAt !== null;
  if (!outcome.ok) {
    const gone = /^(ENOTFOUND|ENODATA)\b/.test(outcome.error);
    const stale = state.resolvedAt !== null && now - state.resolvedAt >= maxStaleMs;
    if (state.addresses.length > 0 && (gone || stale)) {
      const why = gone ? `does not exist any more (${outcome.error})` : `has not resolved for ${Math.round((now - state.resolvedAt!) / 1000)} s (${outcome.error})`;
      lines.push(`clientaddr: ${name} ${why}: no longer trusting ${before}, nor anything for it until it resolves again`);
      return { record: { ...record, state: Object.freeze({ ...state, addresses: Object.freeze([]), error: outcome.error }) }, lines, changed: true };
    }
    // Failing already: the code may change (ENOTFOUND, then ETIMEOUT); the transition was reported.
    if (state.error === null) {
      const keeps = state.addresses.length === 0 ? "trusting no address for it until it does" : `still trusting its last addresses ${before} for at most ${Math.round(maxStaleMs / 1000)} s after they were looked up, unless it resolves again`;
      lines.push(`clientaddr: ${name} ${lookedUp ? "stopped resolving" : "does not resolve"} (${outcome.error}): ${keeps}`);
    }
    return { record: { ...record, state: Object.freeze({ ...state, error: outcome.error }) }, lines, changed: false };
  }
  const after = list(outcome.addresses);
  const changed = after !== before;
  if (state.error !== null) {
    const was = changed && state.addresses.length > 0 ? ` (was ${before})` : "";
    lines.push(`clientaddr: ${name} ${state.resolvedAt === null ? "resolves now" : "resolves again"}, to ${after}${was} (its last error was ${state.error}): trusting ${after}`);
  } else if (lookedUp && changed) {
    lines.push(`clientaddr: ${name} changed its addresses, to ${after} (was ${before}): trusting ${after} only`);
  }
  const refused = outcome.refused.join(", ");
  if (refused !== "" && refused !== record.refused) {
    lines.push(`clientaddr: ${name} resolved to ${after}, and also to what is not an IP address (EBADRESP): ${refused}; dropped, not trusted`);
  }
  const publicReported = new Set(record.publicReported);
  for (const address of outcome.addresses) {
    if (isOwnRange(address) || publicReported.has(address)) continue;
    publicReported.add(address);
    lines.push(
      `clientaddr: ${name} resolved to ${address}, a public address: trusted because the name is in trustedProxies, but a proxy of one's own has a loopback, private, link-local or unique-local address; check that the name means your proxy`,
    );
  }
  const next: NameState = Object.freeze({ name: state.name, addresses: Object.freeze([...outcome.addresses]), error: null, resolvedAt: now });
  return { record: { state: next, refused, publicReported }, lines, changed };
}

function list(addresses: readonly string[]): string {
  return addresses.length === 0 ? "no address" : addresses.join(", ");
}
