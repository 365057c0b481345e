// Splits the believed forwarding header into entries, nearest proxy first, one entry at a time.
// The walk pulls only as many entries as it examines, and each pull scans at most a bounded number of
// characters, so a request costs what `maxHops` allows however long the header is, and whatever a
// client wrote left of the entry where the walk stops is never even parsed.
import parseForwarded from "forwarded-parse";

export type ForwardingHeader = "x-forwarded-for" | "forwarded" | "x-real-ip";
export const FORWARDING_HEADERS: readonly ForwardingHeader[] = ["x-forwarded-for", "forwarded", "x-real-ip"];

/** One entry: the node text the proxy wrote (`for=` value, list item), or why there is none. */
export type Entry = { readonly text: string } | { readonly malformed: string; readonly raw: string };

// The longest address text an entry can hold: bracketed IPv6 with an embedded IPv4, a zone id and a port
// is under 70 characters; 128 leaves room for long interface names.
const MAX_ENTRY = 128;
// A Forwarded element also carries by=, host= (up to 255) and proto=, possibly quoted.
const MAX_ELEMENT = 1024;

/** Entries of `value`, right to left. */
export function* entries(header: ForwardingHeader, value: string): Generator<Entry, void, undefined> {
  if (header === "x-real-ip") {
    // One address, set (not appended) by the proxy. Repeated lines were joined with ", " and so fail.
    yield value.length <= MAX_ENTRY
      ? { text: trimOws(value) }
      : { malformed: `entry longer than ${MAX_ENTRY} characters`, raw: excerpt(value, value.length) };
    return;
  }
  let end = value.length;
  while (end >= 0) {
    const start = header === "forwarded" ? elementStart(value, end) : listItemStart(value, end);
    if (start === undefined) {
      yield { malformed: `entry longer than ${header === "forwarded" ? MAX_ELEMENT : MAX_ENTRY} characters`, raw: excerpt(value, end) };
      return;
    }
    const text = trimOws(value.slice(start, end));
    yield header === "forwarded" ? forValue(text) : { text };
    end = start - 1; // the comma before this entry
  }
}

/** Start of the X-Forwarded-For item ending at `end`, or undefined when it is longer than MAX_ENTRY. */
function listItemStart(value: string, end: number): number | undefined {
  const floor = Math.max(0, end - MAX_ENTRY - 1);
  for (let i = end - 1; i >= floor; i--) {
    if (value.charCodeAt(i) === 0x2c /* , */) return i + 1;
  }
  return end <= MAX_ENTRY ? 0 : undefined;
}

/**
 * Start of the Forwarded element ending at `end`: the nearest comma outside a quoted string. Scanning from
 * the right, a quote toggles the state unless an odd run of backslashes escapes it (RFC 7230 quoted-pair).
 */
function elementStart(value: string, end: number): number | undefined {
  const floor = Math.max(0, end - MAX_ELEMENT - 1);
  let quoted = false;
  for (let i = end - 1; i >= floor; i--) {
    const code = value.charCodeAt(i);
    if (code === 0x2c /* , */ && !quoted) return i + 1;
    if (code === 0x22 /* " */) {
      let slashes = 0;
      while (i - slashes - 1 >= 0 && value.charCodeAt(i - slashes - 1) === 0x5c /* \ */) slashes++;
      if (slashes % 2 === 0) quoted = !quoted;
    }
  }
  return end <= MAX_ELEMENT ? 0 : undefined;
}

/** The `for=` node of one Forwarded element, parsed by `forwarded-parse` (quoting, escapes, case). */
function forValue(element: string): Entry {
  let parsed: Record<string, string>[];
  try {
    parsed = parseForwarded(element);
  } catch (error) {
    return { malformed: `not a valid Forwarded element (${(error as Error).message})`, raw: element };
  }
  const params = parsed[0];
  if (parsed.length !== 1 || params === undefined) {
    return { malformed: "not a single Forwarded element", raw: element };
  }
  return Object.hasOwn(params, "for") ? { text: params.for! } : { malformed: "element has no for= parameter", raw: element };
}

/** The last 40 characters of an over-long entry ending at `end`: enough to recognise it in a diagnostic. */
function excerpt(value: string, end: number): string {
  return `…${value.slice(end - 40, end)}`;
}

function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}
