// A bounded memo for the pure per-request checks whose inputs repeat from one request to the next: a server
// sees the same few peers (its proxies, its users) and the same few Host and Origin values over and over.
// A hit costs one Map lookup instead of a parse; a miss costs the parse plus an insert. The bound keeps a
// client that sends ever new values from growing it: when full, it is emptied and refilled.
// In front of the Map sits the last key asked for: behind a proxy every request has the same peer, and
// every request to a server names the same Host, so most lookups end at one string comparison. The peer has
// a memo of its own that keeps the last one only (RememberedPeer).
import { type Address, canonicalText, parseIp } from "./address.js";

const SIZE = 512;

export function memoize<T>(compute: (key: string) => T): (key: string) => T {
  const known = new Map<string, T>();
  let lastKey: string | undefined;
  let lastValue: T | undefined;
  return (key) => {
    if (key === lastKey) return lastValue as T;
    let value = known.get(key);
    if (value === undefined) {
      value = compute(key);
      if (known.size >= SIZE) known.clear();
      known.set(key, value);
    }
    lastKey = key;
    lastValue = value;
    return value;
  };
}

/**
 * The last peer read (a socket peer, or a declared source: one of these each, or each would be the other's
 * every time behind a PROXY protocol balancer), for peers that are either the same as last time or new. A
 * server behind a proxy sees one peer on every request, and a client on the internet a peer seen by no
 * request of the last few thousand: for it a Map only adds a miss, an insert, a rehash as it grows and the
 * garbage of each emptying (the fresh-traffic rows of bench/results.md ran at about twice the time with the
 * peer memoized in one), where parsing an IPv4 peer again costs one pass over a dozen characters. The address
 * and its canonical text are kept together, so a request compares its peer with the last once.
 */
export class RememberedPeer {
  #key: string | undefined = undefined;
  #address: Address | null = null;
  /** The last peer's canonical text ("" when it was no address). */
  text = "";

  /** The peer's address, or null when the text is no address; its canonical text is then in `text`. */
  read(key: string): Address | null {
    if (key !== this.#key) {
      const address = parseIp(key);
      // Written right after the parse: the parser's note on whether IPv6 text was canonical is of the last
      // address it read, by the next request a header entry's.
      this.text = address === null ? "" : canonicalText(address, key);
      this.#address = address;
      this.#key = key;
    }
    return this.#address;
  }
}
