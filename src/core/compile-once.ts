// Lists that callers pass as plain arrays (trustedProxies, localHosts, localOrigins) are validated and
// compiled on first use and cached by the array's identity, so that a gateway passing the same array on every
// request pays for it once. A copy of what was compiled is kept beside it: an array changed since (an entry
// pushed, replaced or removed) is compiled again, never answered from a stale compilation. The comparison
// costs one identity check per entry; pass a compiled value to skip it for a long list.

interface Compiled<T> {
  readonly copy: readonly unknown[];
  readonly value: T;
}

export function compileOnce<T>(compile: (list: readonly unknown[]) => T): (list: readonly unknown[]) => T {
  const cache = new WeakMap<readonly unknown[], Compiled<T>>();
  return (list) => {
    // Not an array: compile says why (it throws), and there is nothing to cache by.
    if (!Array.isArray(list)) return compile(list);
    const cached = cache.get(list);
    if (cached !== undefined && unchanged(cached.copy, list)) return cached.value;
    const copy = [...list];
    const value = compile(copy);
    cache.set(list, { copy, value });
    return value;
  };
}

function unchanged(copy: readonly unknown[], list: readonly unknown[]): boolean {
  if (copy.length !== list.length) return false;
  for (let i = 0; i < copy.length; i++) if (copy[i] !== list[i]) return false;
  return true;
}
