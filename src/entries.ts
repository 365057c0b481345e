// Splits the believed forwarding header into entries, nearest proxy first, one entry at a time, and reads
// each entry's address. The walk pulls only as many entries as it examines, and each pull scans at most a
// bounded number of characters, so a request costs what `maxHops` allows however long the header is, and
// whatever a client wrote left of the entry where the walk stops is never even parsed.
import parseForwarded from "forwarded-parse";
import { type Address, lastQuad, parseNode, quadBefore } from "./address.js";

export type ForwardingHeader = "x-forwarded-for" | "forwarded" | "x-real-ip";
export const FORWARDING_HEADERS: readonly ForwardingHeader[] = ["x-forwarded-for", "forwarded", "x-real-ip"];

// The longest address text an entry can hold: bracketed IPv6 with an embedded IPv4, a zone id and a port
// is under 70 characters; 128 leaves room for long interface names.
const MAX_ENTRY = 128;
// A Forwarded element also carries by=, host= (up to 255) and proto=, possibly quoted.
const MAX_ELEMENT = 1024;

/**
 * A cursor over the entries of one header value, right to left. After `next()` returns true, the entry is
 * `text[start, end)` (the list item, or the `for=` value of a Forwarded element) and `address` is what it
 * names (null when it is not an address); or, when `malformed` is not null, it could not be read and `raw`
 * shows it. A cursor rather than a generator: the walk runs on every request, and this allocates nothing per
 * X-Forwarded-For entry but its address.
 */
export class EntryCursor {
  text: string;
  start = 0;
  end = 0;
  address: Address | null = null;
  malformed: string | null = null;
  raw = "";
  readonly #header: ForwardingHeader;
  readonly #value: string;
  #next: number; // the end of the next entry; -1 when there is none

  constructor(header: ForwardingHeader, value: string) {
    this.#header = header;
    this.#value = value;
    this.text = value;
    this.#next = value.length;
  }

  next(): boolean {
    const value = this.#value;
    const end = this.#next;
    if (end < 0) return false;
    if (this.#header === "x-real-ip") {
      // One address, set (not appended) by the proxy. Repeated lines were joined with ", " and so fail.
      this.#next = -1;
      return end <= MAX_ENTRY ? this.#entry(value, 0, end) : this.#tooLong(value, end, MAX_ENTRY);
    }
    const forwarded = this.#header === "forwarded";
    if (!forwarded && this.#plainQuad(value, end)) return true;
    const start = forwarded ? elementStart(value, end) : listItemStart(value, end);
    if (start === undefined) {
      this.#next = -1;
      return this.#tooLong(value, end, forwarded ? MAX_ELEMENT : MAX_ENTRY);
    }
    this.#next = start - 1; // the comma before this entry
    return forwarded ? this.#element(value.slice(start, end)) : this.#entry(value, start, end);
  }

  /** The entry as written (for a well-formed entry that is not an address). */
  written(): string {
    return this.text.slice(this.start, this.end);
  }

  /**
   * The common X-Forwarded-For item, a plain dotted quad, in one right-to-left pass: the quad's reader finds
   * where the address starts, and a comma (or the header's start) before it, past spaces, ends the item.
   * Anything else (a port, IPv6, junk) is left to the general path, which finds the comma first.
   */
  #plainQuad(value: string, end: number): boolean {
    const floor = itemFloor(end);
    let stop = end;
    while (stop > floor && isOws(value.charCodeAt(stop - 1))) stop--;
    const start = quadBefore(value, floor, stop);
    if (start === -1) return false;
    let comma = start - 1;
    while (comma >= floor && isOws(value.charCodeAt(comma))) comma--;
    // The item starts after a comma within reach, or at the header's start if the item is short enough.
    if (comma >= floor ? value.charCodeAt(comma) !== 0x2c /* , */ : comma !== -1 || end > MAX_ENTRY) return false;
    this.#next = comma;
    this.text = value;
    this.start = start;
    this.end = stop;
    this.address = lastQuad();
    this.malformed = null;
    return true;
  }

  #entry(text: string, start: number, end: number): boolean {
    while (start < end && isOws(text.charCodeAt(start))) start++;
    while (end > start && isOws(text.charCodeAt(end - 1))) end--;
    this.text = text;
    this.start = start;
    this.end = end;
    this.address = parseNode(text, start, end);
    this.malformed = null;
    return true;
  }

  #tooLong(value: string, end: number, max: number): boolean {
    // The last 40 characters: enough to recognise the entry in a diagnostic.
    return this.#fail(`entry longer than ${max} characters`, `…${value.slice(end - 40, end)}`);
  }

  #fail(malformed: string, raw: string): boolean {
    this.address = null;
    this.malformed = malformed;
    this.raw = raw;
    return true;
  }

  /** The `for=` node of one Forwarded element, parsed by `forwarded-parse` (quoting, escapes, case). */
  #element(text: string): boolean {
    const element = trimOws(text);
    let parsed: Record<string, string>[];
    try {
      parsed = parseForwarded(element);
    } catch (error) {
      return this.#fail(`not a valid Forwarded element (${(error as Error).message})`, element);
    }
    const params = parsed[0];
    if (parsed.length !== 1 || params === undefined) return this.#fail("not a single Forwarded element", element);
    if (!Object.hasOwn(params, "for")) return this.#fail("element has no for= parameter", element);
    return this.#entry(params.for!, 0, params.for!.length);
  }
}

/** The lowest index where the comma before an X-Forwarded-For item ending at `end` may stand (both paths). */
function itemFloor(end: number): number {
  return Math.max(0, end - MAX_ENTRY - 1);
}

/** Start of the X-Forwarded-For item ending at `end`, or undefined when it is longer than MAX_ENTRY. */
function listItemStart(value: string, end: number): number | undefined {
  const floor = itemFloor(end);
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

function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}
