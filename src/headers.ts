// Reads the few headers the resolver needs from whichever shape a server hands over, with one answer:
// repeated lines joined with ", " in wire order (as Node and WHATWG `Headers` join them).

/** Node's `req.headers` (lower-case names), a WHATWG `Headers`, or Node's flat `req.rawHeaders` array. */
export type HeadersInput =
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | { get(name: string): string | null }
  | readonly string[];

export type HeaderName = "host" | "origin" | "forwarded" | "x-forwarded-for" | "x-real-ip";

/**
 * A header's value: the text, `undefined` when absent, or `null` when present but not text (a value that
 * is neither a string nor a list of strings). Callers treat `null` as present and unusable: fail closed.
 */
export type HeaderValue = string | null | undefined;

/** The five headers the rules read. */
export interface HeaderValues {
  host: HeaderValue;
  origin: HeaderValue;
  forwarded: HeaderValue;
  xForwardedFor: HeaderValue;
  xRealIp: HeaderValue;
}

/**
 * Reads the five headers into `into`, once, when the request is taken in: all five in one pass over a raw
 * list, five constant-key lookups on Node's object (V8 serves those from its property caches). The explained
 * path, run later if anyone asks, so sees exactly the values the decision saw, even if the caller's headers
 * object has changed in between. It fills the caller's object rather than making one: the resolver's
 * request holds the values itself, so taking a request in is one allocation.
 */
export function readHeaders(input: unknown, into: HeaderValues): void {
  if (Array.isArray(input)) {
    const raw = fromRaw(input);
    into.host = raw.host;
    into.origin = raw.origin;
    into.forwarded = raw.forwarded;
    into.xForwardedFor = raw["x-forwarded-for"];
    into.xRealIp = raw["x-real-ip"];
  } else if (typeof input !== "object" || input === null) {
    into.host = into.origin = into.forwarded = into.xForwardedFor = into.xRealIp = undefined;
  } else if (typeof (input as { get?: unknown }).get === "function") {
    const headers = input as { get(name: string): unknown };
    into.host = fromWhatwg(headers, "host");
    into.origin = fromWhatwg(headers, "origin");
    into.forwarded = fromWhatwg(headers, "forwarded");
    into.xForwardedFor = fromWhatwg(headers, "x-forwarded-for");
    into.xRealIp = fromWhatwg(headers, "x-real-ip");
  } else {
    // Node lower-cases names, and ours are never Object.prototype keys, so a plain lookup is safe.
    const headers = input as Readonly<Record<HeaderName, unknown>>;
    into.host = toText(headers.host);
    into.origin = toText(headers.origin);
    into.forwarded = toText(headers.forwarded);
    into.xForwardedFor = toText(headers["x-forwarded-for"]);
    into.xRealIp = toText(headers["x-real-ip"]);
  }
}

/** A forwarding header's value. */
export function forwardingValue(values: HeaderValues, name: "forwarded" | "x-forwarded-for" | "x-real-ip"): HeaderValue {
  return name === "x-forwarded-for" ? values.xForwardedFor : name === "forwarded" ? values.forwarded : values.xRealIp;
}

function fromWhatwg(headers: { get(name: string): unknown }, name: HeaderName): HeaderValue {
  try {
    const value = headers.get(name);
    return value === null ? undefined : toText(value);
  } catch {
    return null;
  }
}

/** The five values from Node's flat [name, value, ...] list in one pass, repeated lines joined in order. */
function fromRaw(raw: readonly unknown[]): Record<HeaderName, HeaderValue> {
  const found: Record<HeaderName, HeaderValue> = { host: undefined, origin: undefined, forwarded: undefined, "x-forwarded-for": undefined, "x-real-ip": undefined };
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i];
    if (typeof key !== "string") continue;
    const name = wanted(key);
    if (name === undefined) continue;
    const value = raw[i + 1];
    const joined = found[name];
    found[name] = typeof value !== "string" || joined === null ? null : joined === undefined ? value : `${joined}, ${value}`;
  }
  return found;
}

/** Which of the five names `key` is, ignoring case; the length check rules out most names at once. */
function wanted(key: string): HeaderName | undefined {
  switch (key.length) {
    case 4:
      return key.toLowerCase() === "host" ? "host" : undefined;
    case 6:
      return key.toLowerCase() === "origin" ? "origin" : undefined;
    case 9:
      return key.toLowerCase() === "forwarded" ? "forwarded" : key.toLowerCase() === "x-real-ip" ? "x-real-ip" : undefined;
    case 15:
      return key.toLowerCase() === "x-forwarded-for" ? "x-forwarded-for" : undefined;
    default:
      return undefined;
  }
}

// Kept this small so that V8 inlines it at each of its five call sites: as a call it cost ~3 ns a header.
function toText(value: unknown): HeaderValue {
  return value === undefined || typeof value === "string" ? value : listText(value);
}

/** A value that is not a string: a non-empty list of strings is joined, anything else fails closed. */
function listText(value: unknown): HeaderValue {
  return Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === "string") ? value.join(", ") : null;
}
