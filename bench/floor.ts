// The floor: the least work that answers "who is the client" for an IPv4 X-Forwarded-For walk, written for
// the benchmark only. It reads the header from its right end, parses each dotted quad by hand into an
// integer, and binary-searches sorted, merged [start, end] ranges; no validation beyond that, no locality,
// no result object. The library is measured against it to show how far it is from the limit.

export interface FloorTrust {
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

/** Sorted, merged IPv4 ranges from CIDR strings (IPv6 entries are ignored: the floor walks IPv4 only). */
export function floorTrust(cidrs: readonly string[]): FloorTrust {
  const ranges: Array<[number, number]> = [];
  for (const cidr of cidrs) {
    const [address, bits = "32"] = cidr.split("/");
    const value = quad(address!, 0, address!.length);
    if (value < 0) continue;
    const size = 2 ** (32 - Number(bits));
    const start = Math.floor(value / size) * size;
    ranges.push([start, start + size - 1]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of ranges) {
    const last = merged.at(-1);
    if (last && start <= last[1] + 1) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return { starts: Uint32Array.from(merged, (r) => r[0]), ends: Uint32Array.from(merged, (r) => r[1]) };
}

function trusted(trust: FloorTrust, value: number): boolean {
  let lo = 0;
  let hi = trust.starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (trust.starts[mid]! <= value) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi >= 0 && value <= trust.ends[hi]!;
}

/** A dotted quad in text[from, to) as an integer, or -1. */
function quad(text: string, from: number, to: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + c - 48;
      digits++;
      if (part > 255) return -1;
    } else return -1;
  }
  return dots === 3 && digits > 0 ? value * 256 + part : -1;
}

/** The client of a peer and an X-Forwarded-For value: the first untrusted entry from the right. */
export function floorClient(peer: string, xff: string | undefined, trust: FloorTrust): string {
  if (xff === undefined || !trusted(trust, quad(peer, 0, peer.length))) return peer;
  let end = xff.length;
  for (;;) {
    const comma = xff.lastIndexOf(",", end - 1);
    let start = comma + 1;
    let stop = end;
    while (xff.charCodeAt(start) === 32) start++;
    while (stop > start && xff.charCodeAt(stop - 1) === 32) stop--;
    const value = quad(xff, start, stop);
    if (value < 0) return "";
    if (!trusted(trust, value) || comma < 0) return xff.slice(start, stop);
    end = comma;
  }
}
