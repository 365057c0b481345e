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
