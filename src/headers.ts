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

export type HeaderReader = (name: HeaderName) => HeaderValue;

/** Picks the reader for the input's shape once per request. Anything else reads as "no headers". */
export function headerReader(input: unknown): HeaderReader {
  if (Array.isArray(input)) return (name) => fromRaw(input, name);
  if (typeof input !== "object" || input === null) return () => undefined;
  const get = (input as { get?: unknown }).get;
  if (typeof get === "function") return (name) => fromWhatwg(input as { get(name: string): unknown }, name);
  return (name) => fromNode(input as Record<string, unknown>, name);
}

function fromNode(headers: Record<string, unknown>, name: HeaderName): HeaderValue {
  // Node lower-cases names; our names are never Object.prototype keys, so plain lookup is safe.
  return toText(headers[name]);
}

function fromWhatwg(headers: { get(name: string): unknown }, name: HeaderName): HeaderValue {
  try {
    const value = headers.get(name);
    return value === null ? undefined : toText(value);
  } catch {
    return null;
  }
}

function fromRaw(raw: readonly unknown[], name: HeaderName): HeaderValue {
  let joined: HeaderValue;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i];
    if (typeof key !== "string" || key.length !== name.length || key.toLowerCase() !== name) continue;
    const value = raw[i + 1];
    if (typeof value !== "string" || joined === null) joined = null;
    else joined = joined === undefined ? value : `${joined}, ${value}`;
  }
  return joined;
}

function toText(value: unknown): HeaderValue {
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === "string")) {
    return value.join(", ");
  }
  return null;
}
