// Reads the headers the rules need from whichever shape a server hands over, with one answer: names compared
// without regard to case, repeated lines joined with ", " in wire order (as Node and WHATWG `Headers` join
// them). The rules need the values of Host, Origin, Sec-Fetch-Site, the believed forwarding header and the
// three that describe the request a browser made to a proxy (X-Forwarded-Host, -Proto, -Port), and only the
// presence of every other proxy header (a bit each; any other X-Forwarded-* name sets the prefix row's).
import { PROXY_HEADERS, X_FORWARDED_HOST_BIT, X_FORWARDED_PORT_BIT, X_FORWARDED_PREFIX, X_FORWARDED_PREFIX_SLOT, X_FORWARDED_PROTO_BIT } from "./proxy-headers.js";

/** Node's `req.headers`, a WHATWG `Headers`, or Node's flat `req.rawHeaders` array. */
export type HeadersInput =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | { get(name: string): string | null }
  | readonly string[];

/**
 * A header's value: the text, `undefined` when absent, or `null` when present but not text (a value that
 * is neither a string nor a list of strings). Callers treat `null` as present and unusable: fail closed.
 */
export type HeaderValue = string | null | undefined;

/** What the rules read of one request's headers. */
export interface HeaderValues {
  host: HeaderValue;
  origin: HeaderValue;
  secFetchSite: HeaderValue;
  /** The believed forwarding header's bit (which row's value goes to `believed`), and its value. */
  readonly believedBit: number;
  believed: HeaderValue;
  /**
   * The bits of the other headers whose values a preset needs (the address headers its front also writes,
   * its claim headers), and their values by bit (made when one is present).
   */
  readonly keptBits: number;
  kept: Map<number, HeaderValue> | null;
  xForwardedHost: HeaderValue;
  xForwardedProto: HeaderValue;
  xForwardedPort: HeaderValue;
  /** Bit i set: the header of PROXY_HEADERS row i is present. */
  proxyHeaders: number;
}

// Where a name's value goes: a PROXY_HEADERS row (its index), or one of these.
const HOST = 32;
const ORIGIN = 33;
const SEC_FETCH_SITE = 34;
const NAMES: ReadonlyArray<readonly [lower: string, slot: number]> = [
  ...PROXY_HEADERS.flatMap((row, index) => (index === X_FORWARDED_PREFIX_SLOT ? [] : [[row.name, index] as const])),
  ["host", HOST],
  ["origin", ORIGIN],
  ["sec-fetch-site", SEC_FETCH_SITE],
];
// A name is found among the table's names of its length, each ruled out at its first and last character
// unless it really is that name, compared without regard to case and without a copy. No name is hashed: a
// Map lookup hashes every name a request carries, a fresh string each, where most (User-Agent, Accept-*,
// Sec-WebSocket-*) are ruled out here by their length or their first character. The candidates of each
// length sit in flat lists (name, slot) read by index: the hot loop destructures nothing. A candidate with
// the name's first character is then matched by identity when the name is the table's own lower-case string
// (a plain object's keys are interned, Node's `req.headers` among them), without reading the rest; the first
// character comes before identity because comparing a raw header line's name (never interned) with a
// candidate of its length is a call that reads characters.
const LONGEST = Math.max(...NAMES.map(([lower]) => lower.length));
const NAMES_BY_LENGTH: string[][] = Array.from({ length: LONGEST + 1 }, () => []);
const SLOTS_BY_LENGTH: number[][] = Array.from({ length: LONGEST + 1 }, () => []);
for (const [lower, slot] of NAMES) {
  NAMES_BY_LENGTH[lower.length]!.push(lower);
  SLOTS_BY_LENGTH[lower.length]!.push(slot);
}

/**
 * Reads the values and presence bits into `into`: a request's RequestHeaders, which it makes when a rule first
 * needs more than the believed header (request.ts), and reads once.
 */
export function readHeaders(input: unknown, into: HeaderValues): void {
  into.host = into.origin = into.secFetchSite = into.believed = undefined;
  into.kept = null;
  into.xForwardedHost = into.xForwardedProto = into.xForwardedPort = undefined;
  into.proxyHeaders = 0;
  if (Array.isArray(input)) {
    // Node's flat [name, value, ...] list in one pass; a value that is not text fails closed.
    for (let i = 0; i < input.length; i += 2) {
      const key: unknown = input[i];
      if (typeof key !== "string") continue;
      const slot = slotOf(key);
      if (slot === -1) continue;
      const value: unknown = input[i + 1];
      add(into, slot, typeof value === "string" ? value : null);
    }
  } else if (typeof input !== "object" || input === null) {
    // Nothing to read.
  } else if (typeof (input as { get?: unknown }).get === "function") {
    const headers = input as { get(name: string): unknown; keys?: unknown };
    for (const [name, slot] of NAMES) {
      const value = fromWhatwg(headers, name);
      if (value !== undefined) add(into, slot, value);
    }
    // The prefix row has no one name to ask for: a WHATWG Headers lists its names (an object with only get()
    // cannot, and is read by the named rows alone).
    if (typeof headers.keys === "function") {
      try {
        for (const name of (headers.keys as () => Iterable<unknown>).call(headers)) {
          if (typeof name === "string" && slotOf(name) === X_FORWARDED_PREFIX_SLOT) into.proxyHeaders |= 1 << X_FORWARDED_PREFIX_SLOT;
        }
      } catch {
        // Names that cannot be listed: the prefix row is read as present, failing closed.
        into.proxyHeaders |= 1 << X_FORWARDED_PREFIX_SLOT;
      }
    }
  } else {
    // A plain object: Node's (lower-case names) or one built by hand (any case). Its own names are walked
    // once rather than each wanted name looked up: a request carries fewer headers than the table has rows.
    const headers = input as Readonly<Record<string, unknown>>;
    for (const key in headers) {
      const slot = slotOf(key);
      if (slot === -1) continue;
      const value = headers[key];
      if (value !== undefined) add(into, slot, toText(value));
    }
  }
}

/**
 * One header's value (`lower` is its lower-case name), read alone: the believed forwarding header, which the
 * walk needs before anything else, and which settles most proxied requests (a client on the internet) with no
 * other header read. Repeated lines are joined as readHeaders joins them.
 */
export function readHeader(input: unknown, lower: string): HeaderValue {
  let value: HeaderValue = undefined;
  if (Array.isArray(input)) {
    for (let i = 0; i < input.length; i += 2) {
      const key: unknown = input[i];
      if (typeof key === "string" && key.length === lower.length && sameIgnoringCase(key, lower)) {
        const line: unknown = input[i + 1];
        value = join(value, typeof line === "string" ? line : null);
      }
    }
  } else if (typeof input !== "object" || input === null) {
    // Nothing to read.
  } else if (typeof (input as { get?: unknown }).get === "function") {
    value = fromWhatwg(input as { get(name: string): unknown }, lower);
  } else {
    const headers = input as Readonly<Record<string, unknown>>;
    for (const key in headers) {
      if (key !== lower && (key.length !== lower.length || !sameIgnoringCase(key, lower))) continue;
      const line = headers[key];
      if (line !== undefined) value = join(value, toText(line));
    }
  }
  return value;
}

/** Which slot the header `key` fills, ignoring case, or -1. */
function slotOf(key: string): number {
  const length = key.length;
  const first = key.charCodeAt(0) | 0x20;
  if (length <= LONGEST) {
    const names = NAMES_BY_LENGTH[length]!;
    for (let i = 0; i < names.length; i++) {
      const lower = names[i]!;
      if (lower.charCodeAt(0) === first && (key === lower || (lower.charCodeAt(length - 1) === (key.charCodeAt(length - 1) | 0x20) && sameIgnoringCase(key, lower)))) return SLOTS_BY_LENGTH[length]![i]!;
    }
  }
  // Any other X-Forwarded-* name, however long: most names are ruled out at their first character.
  return first === 0x78 /* x */ && length > X_FORWARDED_PREFIX.length && sameIgnoringCase(key, X_FORWARDED_PREFIX) ? X_FORWARDED_PREFIX_SLOT : -1;
}

/** Adds one line's value to its slot: a proxy header's bit, and the value where the rules read it. */
function add(into: HeaderValues, slot: number, value: string | null): void {
  switch (slot) {
    case HOST:
      into.host = join(into.host, value);
      return;
    case ORIGIN:
      into.origin = join(into.origin, value);
      return;
    case SEC_FETCH_SITE:
      into.secFetchSite = join(into.secFetchSite, value);
      return;
  }
  const bit = 1 << slot;
  into.proxyHeaders |= bit;
  if (bit === into.believedBit) into.believed = join(into.believed, value);
  else if ((bit & into.keptBits) !== 0) (into.kept ??= new Map()).set(bit, join(into.kept?.get(bit), value));
  else if (bit === X_FORWARDED_HOST_BIT) into.xForwardedHost = join(into.xForwardedHost, value);
  else if (bit === X_FORWARDED_PROTO_BIT) into.xForwardedProto = join(into.xForwardedProto, value);
  else if (bit === X_FORWARDED_PORT_BIT) into.xForwardedPort = join(into.xForwardedPort, value);
}

/** Repeated lines as one list in order; once a line is unreadable, the whole value is. */
function join(previous: HeaderValue, next: string | null): string | null {
  return previous === undefined ? next : previous === null || next === null ? null : `${previous}, ${next}`;
}

/** `key` (any case) begins with `lower` (lower-case ASCII, no longer than `key`). */
function sameIgnoringCase(key: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = key.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function fromWhatwg(headers: { get(name: string): unknown }, name: string): HeaderValue {
  try {
    const value = headers.get(name);
    return value === null || value === undefined ? undefined : toText(value);
  } catch {
    return null;
  }
}

// Kept this small so that V8 inlines it into the per-header loop; the rare list goes to listText.
function toText(value: unknown): string | null {
  return typeof value === "string" ? value : listText(value);
}

/** A value that is not a string: a non-empty list of strings is joined, anything else fails closed. */
function listText(value: unknown): string | null {
  return Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === "string") ? value.join(", ") : null;
}
