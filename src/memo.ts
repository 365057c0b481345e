// A bounded memo for the pure per-request checks whose inputs repeat from one request to the next: a server
// sees the same few peers (its proxies, its users) and the same few Host and Origin values over and over.
// A hit costs one Map lookup instead of a parse; a miss costs the parse plus an insert. The bound keeps a
// client that sends ever new values from growing it: when full, it is emptied and refilled.

const SIZE = 512;

export function memoize<T>(compute: (key: string) => T): (key: string) => T {
  const known = new Map<string, T>();
  return (key) => {
    const hit = known.get(key);
    if (hit !== undefined) return hit;
    const value = compute(key);
    if (known.size >= SIZE) known.clear();
    known.set(key, value);
    return value;
  };
}
