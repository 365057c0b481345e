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

const enum Shape {
  None,
  Node,
  Whatwg,
  Raw,
}

const UNREAD = Symbol("unread");

/**
 * The request's headers, each read at most once and kept: the resolver's fast path reads only the headers
 * its decision needs, and the explained path, run later if anyone asks, sees exactly the same values even
 * if the caller's headers object has changed in between.
 */
export class RequestHeaders {
  readonly #input: unknown;
  readonly #shape: Shape;
  #host: HeaderValue | typeof UNREAD = UNREAD;
  #origin: HeaderValue | typeof UNREAD = UNREAD;
  #forwarded: HeaderValue | typeof UNREAD = UNREAD;
  #xForwardedFor: HeaderValue | typeof UNREAD = UNREAD;
  #xRealIp: HeaderValue | typeof UNREAD = UNREAD;

  constructor(input: unknown) {
    this.#input = input;
    this.#shape = Array.isArray(input)
      ? Shape.Raw
      : typeof input !== "object" || input === null
        ? Shape.None
        : typeof (input as { get?: unknown }).get === "function"
          ? Shape.Whatwg
          : Shape.Node;
  }

  get(name: HeaderName): HeaderValue {
    switch (name) {
      case "host":
        return this.#host === UNREAD ? (this.#host = this.#read(name)) : this.#host;
      case "origin":
        return this.#origin === UNREAD ? (this.#origin = this.#read(name)) : this.#origin;
      case "forwarded":
        return this.#forwarded === UNREAD ? (this.#forwarded = this.#read(name)) : this.#forwarded;
      case "x-forwarded-for":
        return this.#xForwardedFor === UNREAD ? (this.#xForwardedFor = this.#read(name)) : this.#xForwardedFor;
      case "x-real-ip":
        return this.#xRealIp === UNREAD ? (this.#xRealIp = this.#read(name)) : this.#xRealIp;
    }
  }

  #read(name: HeaderName): HeaderValue {
    switch (this.#shape) {
      case Shape.Node:
        // Node lower-cases names; our names are never Object.prototype keys, so plain lookup is safe.
        return toText((this.#input as Record<string, unknown>)[name]);
      case Shape.Whatwg:
        return fromWhatwg(this.#input as { get(name: string): unknown }, name);
      case Shape.Raw:
        return fromRaw(this.#input as readonly unknown[], name);
      case Shape.None:
        return undefined;
    }
  }
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
  if (value === undefined || typeof value === "string") return value;
  if (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === "string")) {
    return value.join(", ");
  }
  return null;
}
