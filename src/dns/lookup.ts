// One lookup of one name, bounded in time: the caller's lookup (or Node's) asked for every address of the
// name, its answer read as the core reads an address. It never rejects and never throws: a failure, a
// timeout or an answer that is not a list is an outcome with an error code, for the caller to report.
import { canonicalAddress } from "../core/index.js";

/** Looks a name up, every address of it: `dns.promises.lookup(name, { all: true })`'s shape. */
export type Lookup = (hostname: string, options: { all: true }) => Promise<ReadonlyArray<{ address: string; family?: number }>>;

/** What one lookup gave: the usable addresses (canonical, distinct, sorted) and the entries dropped, or why not. */
export type LookupOutcome =
  | { readonly ok: true; readonly addresses: readonly string[]; readonly refused: readonly string[] }
  | { readonly ok: false; readonly error: string };

/** Node's lookup, loaded on first use: importing clientaddr loads no DNS module (nor needs a runtime with one). */
export const systemLookup: Lookup = async (hostname, options) => (await import("node:dns/promises")).lookup(hostname, options);

/**
 * Looks `name` up, giving up after `timeoutMs` (error `ETIMEOUT`; a late answer is ignored). `keepAlive`
 * says whether the timeout's timer may keep the process alive: yes while someone awaits the round (start-up,
 * refresh()), no for the rounds of the interval.
 */
export function lookUp(lookup: Lookup, name: string, timeoutMs: number, keepAlive: boolean): Promise<LookupOutcome> {
  return new Promise((settle) => {
    const timer = setTimeout(() => settle({ ok: false, error: "ETIMEOUT" }), timeoutMs);
    if (!keepAlive) timer.unref();
    let answer: Promise<unknown>;
    try {
      answer = Promise.resolve(lookup(name, { all: true }));
    } catch (error) {
      answer = Promise.reject(error);
    }
    // The first of the answer and the timeout wins; settling again is a no-op.
    answer.then(
      (list) => {
        clearTimeout(timer);
        settle(read(list));
      },
      (error: unknown) => {
        clearTimeout(timer);
        settle({ ok: false, error: errorText(error) });
      },
    );
  });
}

/**
 * A lookup's answer as addresses the trust list takes: mapped IPv6 as IPv4, zones dropped (canonicalAddress),
 * anything else refused. Nothing usable is a failure, so that the name's last good addresses stand.
 */
function read(list: unknown): LookupOutcome {
  if (!Array.isArray(list)) return { ok: false, error: "EBADRESP: the lookup did not answer a list of addresses" };
  const addresses = new Set<string>();
  const refused: string[] = [];
  for (const item of list as unknown[]) {
    const text = (item as { address?: unknown } | null)?.address;
    const address = typeof text === "string" ? canonicalAddress(text) : null;
    if (address === null) refused.push(shorten(typeof text === "string" ? JSON.stringify(text) : describe(text)));
    else addresses.add(address);
  }
  if (addresses.size > 0) return { ok: true, addresses: [...addresses].sort(), refused };
  return { ok: false, error: refused.length === 0 ? "ENODATA: the lookup answered no address" : `EBADRESP: not an IP address: ${refused.join(", ")}` };
}

/** The error's code (ENOTFOUND, EAI_AGAIN, ...) when it has one, else its message: one line, bounded. */
function errorText(error: unknown): string {
  const { code, message } = (typeof error === "object" && error !== null ? error : {}) as { code?: unknown; message?: unknown };
  if (typeof code === "string" && code.length > 0) return shorten(code);
  return shorten(typeof message === "string" && message.length > 0 ? message : `lookup failed: ${describe(error)}`);
}

function shorten(text: string): string {
  const line = text.replace(/\s+/g, " ");
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** A value that is not text, for a report (String() of an object can throw, or print a page). */
function describe(value: unknown): string {
  return typeof value === "object" && value !== null ? "an object" : String(value);
}
