// Splits the believed forwarding header into entries, nearest proxy first, one entry at a time, and reads
// each entry's address. The walk pulls only as many entries as it examines, and each pull scans at most a
// bounded number of characters, so a request costs what `maxHops` allows however long the header is, and
// whatever a client wrote left of the entry where the walk stops is never even parsed.
import parseForwarded from "forwarded-parse";
import { type Address, decimalPort, lastQuad, parseNode, quadBefore } from "./address.js";
import { type BelievedShape, type ForwardingHeader, shapeOf } from "./proxy-headers.js";

// The longest address text an entry can hold: bracketed IPv6 with an embedded IPv4, a zone id and a port
// is under 70 characters; 128 leaves room for long interface names.
const MAX_ENTRY = 128;
// A Forwarded element also carries by=, host= (up to 255) and proto=, possibly quoted.
const MAX_ELEMENT = 1024;
// RFC 9110 section 5.6.2's token: what a parameter name must be.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Empty list elements skipped in one header before it counts as malformed.
const MAX_EMPTY = 64;

/**
 * A cursor over the entries of one header value, right to left. After `next()` returns true, the entry is
 * `text[start, end)` (the list item, or the `for=` value of a Forwarded element) and `address` is what it
 * names (null when it is not an address); or, when `malformed` is not null, it could not be read and `raw`
 * shows it. A cursor rather than a generator: the walk runs on every request, and this allocates nothing per
 * X-Forwarded-For entry but its address. `over` starts it again on another value, so that a caller that walks
 * one header at a time keeps one cursor rather than making one a request.
 */
export class EntryCursor {
  text = "";
  start = 0;
  end = 0;
  address: Address | null = null;
  malformed: string | null = null;
  raw = "";
  /**
   * A Forwarded element's `host=` and `proto=` (RFC 7239 sections 5.3 and 5.4: the Host and scheme of the
   * request the proxy that wrote it received), as written; undefined when absent or not a Forwarded entry.
   */
  host: string | undefined = undefined;
  proto: string | undefined = undefined;
  #shape: BelievedShape = "list";
  #value = "";
  #next = -1; // the end of the next entry; -1 when there is none
  #empty = 0; // empty list elements skipped so far

  constructor(header: ForwardingHeader, value: string) {
    this.over(shapeOf(header), value);
  }

  /** Starts the cursor on `value`, a value of a header of that shape, before its last entry. */
  over(shape: BelievedShape, value: string): this {
    this.#shape = shape;
    this.#value = this.text = value;
    this.#next = value.length;
    this.#empty = this.start = this.end = 0;
    this.address = null;
    this.malformed = null;
    this.raw = "";
    this.host = this.proto = undefined;
    return this;
  }

  next(): boolean {
    const value = this.#value;
    const shape = this.#shape;
    if (shape === "single" || shape === "address-port") {
      // One address, set (not appended) by the proxy: a list, or repeated lines (joined with ", "), is not
      // what it writes, and no item of it can be told to be the proxy's.
      const end = this.#next;
      if (end < 0) return false;
      this.#next = -1;
      if (end > MAX_ENTRY) return this.#tooLong(value, end, MAX_ENTRY);
      if (value.includes(",")) return this.#fail("a list where the proxy sets one address (several addresses, or the header repeated)", value);
      return shape === "single" ? this.#entry(value, 0, end) : this.#addressPort(value, end);
    }
    const forwarded = shape === "forwarded";
    for (;;) {
      const end = this.#next;
      if (end < 0) return false;
      if (!forwarded && this.#plainQuad(value, end)) return true;
      const start = forwarded ? elementStart(value, end) : listItemStart(value, end);
      if (start === undefined) {
        this.#next = -1;
        return this.#tooLong(value, end, forwarded ? MAX_ELEMENT : MAX_ENTRY);
      }
      this.#next = start - 1; // the comma before this entry
      // RFC 9110 section 5.6.1: empty list elements ("a, , b", a trailing comma) are not entries. Senders
      // that merge values write them; more than a few is not a list anyone wrote.
      if (isBlank(value, start, end)) {
        if (++this.#empty > MAX_EMPTY) {
          this.#next = -1;
          return this.#fail(`more than ${MAX_EMPTY} empty list elements`, `…${value.slice(Math.max(0, end - 40), end)}`);
        }
        continue;
      }
      return forwarded ? this.#element(value, start, end) : this.#entry(value, start, end);
    }
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
    return this.#found(value, start, stop, lastQuad());
  }

  #entry(text: string, start: number, end: number): boolean {
    while (start < end && isOws(text.charCodeAt(start))) start++;
    while (end > start && isOws(text.charCodeAt(end - 1))) end--;
    return this.#found(text, start, end, parseNode(text, start, end));
  }

  /** A well-formed entry, text[start, end), and the address it names (null when it is not one). */
  #found(text: string, start: number, end: number, address: Address | null): boolean {
    this.text = text;
    this.start = start;
    this.end = end;
    this.address = address;
    this.malformed = null;
    return true;
  }

  /** `address:port`, the port after the last colon (CloudFront's IPv6 is unbracketed): the address is the entry. */
  #addressPort(text: string, end: number): boolean {
    while (end > 0 && isOws(text.charCodeAt(end - 1))) end--;
    const colon = text.lastIndexOf(":", end - 1);
    if (colon === -1 || decimalPort(text, colon + 1, end) === -1) return this.#fail("not an address followed by :port", text);
    return this.#entry(text, 0, colon);
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

  /**
   * The commonest element, `for=` and a plain dotted quad alone (a proxy that writes only the client), read in
   * place, where forwarded-parse would copy the element and make an object of it: a quad is a token, so the
   * grammar reads it as that one parameter, with no host= or proto=. The parameter's name is matched without
   * regard to case, as forwarded-parse matches it (RFC 7239 section 4). Anything else is left to #element.
   */
  #forQuad(text: string, start: number, end: number): boolean {
    while (start < end && isOws(text.charCodeAt(start))) start++;
    while (end > start && isOws(text.charCodeAt(end - 1))) end--;
    const node = start + 4;
    if (end <= node || text.charCodeAt(start + 3) !== 0x3d /* = */ || (text.charCodeAt(start) | 0x20) !== 0x66 /* f */) return false;
    if ((text.charCodeAt(start + 1) | 0x20) !== 0x6f /* o */ || (text.charCodeAt(start + 2) | 0x20) !== 0x72 /* r */) return false;
    if (quadBefore(text, node, end) !== node) return false;
    this.host = this.proto = undefined;
    return this.#found(text, node, end, lastQuad());
  }

  /**
   * The `for=` node of one Forwarded element (RFC 7239 section 4), text[start, end), parsed by forwarded-parse
   * (tokens, quoted strings, escapes, case). Two rules on top of it. A parameter may appear once: forwarded-parse
   * keeps the last of a repeat, and `for=127.0.0.1;for=...` must not let whichever a reader prefers win. And what
   * real proxies write is read where nothing is ambiguous: nginx's common `proxy_set_header Forwarded
   * "for=$remote_addr"` writes IPv6 unquoted, against the grammar, and an address holds none of the header's own
   * `,` `;` `"` `=` or spaces, so such a value is read as if quoted.
   */
  #element(text: string, start: number, end: number): boolean {
    if (this.#forQuad(text, start, end)) return true;
    const element = trimOws(text.slice(start, end));
    let params = readElement(element);
    if (typeof params === "string") {
      const quoted = quoteBareAddresses(element);
      const again = quoted === null ? params : readElement(quoted);
      if (typeof again === "string") return this.#fail(`not a valid Forwarded element (${params})`, element);
      params = again;
    }
    const repeated = repeatedParameter(element, params);
    if (repeated !== null) return this.#fail(repeated, element);
    this.host = params.host;
    this.proto = params.proto;
    if (!Object.hasOwn(params, "for")) return this.#fail("element has no for= parameter", element);
    return this.#entry(params.for!, 0, params.for!.length);
  }
}

/**
 * The `host=` of the `count` nearest elements of a Forwarded value (those the walk read, which it found
 * well-formed), nearest proxy first; an element without one adds nothing. Elements further left are the
 * client's own claims and, as in the walk, are never read.
 */
export function forwardedHosts(value: string, count: number): string[] {
  const cursor = new EntryCursor("forwarded", value);
  const hosts: string[] = [];
  for (let read = 0; read < count && cursor.next(); read++) if (cursor.host !== undefined) hosts.push(cursor.host);
  return hosts;
}

/** One element's parameters, or why forwarded-parse would not read it as one element. */
function readElement(element: string): Record<string, string> | string {
  let parsed: Record<string, string>[];
  try {
    parsed = parseForwarded(element);
  } catch (error) {
    return (error as Error).message;
  }
  // One element in, one out; anything else is not what was handed over, so fail closed.
  return parsed.length === 1 ? parsed[0]! : "not a single element";
}

/** The element with each unquoted value that is an address with colons quoted, or null when there is none. */
function quoteBareAddresses(element: string): string | null {
  const pairs: string[] = [];
  let changed = false;
  for (let from = 0; from <= element.length; ) {
    const to = pairEndAt(element, from);
    const pair = element.slice(from, to);
    from = to + 1;
    const equals = pair.indexOf("=");
    const value = pair.slice(equals + 1);
    if (equals > 0 && TOKEN.test(pair.slice(0, equals)) && value.includes(":") && parseNode(value) !== null) {
      pairs.push(`${pair.slice(0, equals)}="${value}"`);
      changed = true;
    } else {
      pairs.push(pair);
    }
  }
  return changed ? pairs.join(";") : null;
}

/**
 * Why the element's pairs are not one parameter each, or null. forwarded-parse keeps one value per name (and
 * none for a name such as `__proto__`), so a repeat shows as fewer parameters than pairs; the pairs are counted
 * with native `indexOf` unless a quoted string, which may hold a `;`, needs the quote-aware scan.
 */
function repeatedParameter(element: string, params: Record<string, string>): string | null {
  let parameters = 0;
  for (const _ in params) parameters++;
  let pairs = 1;
  if (element.includes('"')) {
    for (let at = pairEndAt(element, 0); at < element.length; at = pairEndAt(element, at + 1)) pairs++;
  } else {
    for (let at = element.indexOf(";"); at !== -1; at = element.indexOf(";", at + 1)) pairs++;
  }
  if (pairs === parameters) return null;
  // Only now, for the message: which one.
  const seen = new Set<string>();
  for (let from = 0; from < element.length; from = pairEndAt(element, from) + 1) {
    const name = trimOws(element.slice(from, element.indexOf("=", from))).toLowerCase();
    if (seen.has(name)) return `an element that repeats the ${name}= parameter (RFC 7239 section 4 allows each once)`;
    seen.add(name);
  }
  return "an element with a parameter that cannot be kept";
}

/** Where the pair starting at `from` ends: the next `;` outside a quoted string, or the element's end. */
function pairEndAt(element: string, from: number): number {
  let quoted = false;
  for (let i = from; i < element.length; i++) {
    const code = element.charCodeAt(i);
    if (code === 0x5c /* \ */ && quoted) i++;
    else if (code === 0x22 /* " */) quoted = !quoted;
    else if (code === 0x3b /* ; */ && !quoted) return i;
  }
  return element.length;
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
      // Counted no further than the scan may go: a megabyte of backslashes costs what one element does.
      while (i - slashes - 1 >= floor && value.charCodeAt(i - slashes - 1) === 0x5c /* \ */) slashes++;
      if (slashes % 2 === 0) quoted = !quoted;
    }
  }
  return end <= MAX_ELEMENT ? 0 : undefined;
}

function isBlank(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!isOws(text.charCodeAt(i))) return false;
  return true;
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
