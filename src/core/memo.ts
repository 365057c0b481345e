// A bounded memo for the pure per-request checks whose inputs repeat from one request to the next: a server
// sees the same few peers (its proxies, its users) and the same few Host and Origin values over and over.
// A hit costs one Map lookup instead of a parse; a miss costs the parse plus an insert. The bound keeps a
// client that sends ever new values from growing it: when full, it is emptied and refilled.
// In front of the Map sits the last key asked for: behind a proxy every request has the same peer, and
// every request to a server names the same Host, so most lookups end at one string comparison.

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
 * The last key and its value only, for checks whose inputs are either the same as last time or new. A
 * server behind a proxy sees one peer on every request, and a client on the internet a peer seen by no
 * request of the last few thousand: for it a Map only adds a miss, an insert, a rehash as it grows and the
 * garbage of each emptying (the fresh-traffic rows of bench/results.md ran at about twice the time with the
 * peer memoized in one), where parsing an IPv4 peer again costs one pass over a dozen characters.
 */
export function rememberLast<T>(compute: (key: string) => T): (key: string) => T {
  let lastKey: string | undefined;
  let lastValue: T | undefined;
  return (key) => {
    if (key !== lastKey) {
      lastValue = compute(key);
      lastKey = key;
    }
    return lastValue as T;
  };
}
