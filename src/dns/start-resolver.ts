// The asynchronous resolver: trustedProxies may name proxies (a Compose service, a container) as well as
// list addresses. Each name is looked up at start-up and again every refreshMs; the resolver answers from
// the last good addresses of every name and never waits on DNS: a lookup round builds a new inner resolver
// (the core's createResolver, given addresses only) and swaps it in with one assignment.
import {
  type ClientAddress,
  type Refusal,
  type RequestFacts,
  type Resolver,
  type ResolverOptions,
  type TrustedProxies,
  ClientAddressConfigError,
  createResolver,
  trustedProxyName,
} from "../core/index.js";
import { type Lookup, lookUp, systemLookup } from "./lookup.js";
import { type NameRecord, type NameState, applyOutcome, newRecord } from "./name-state.js";

export type { Lookup } from "./lookup.js";
export type { NameState } from "./name-state.js";

export interface StartResolverOptions extends ResolverOptions {
  /** Looks a name up, every address of it. Default: node:dns's promises.lookup(name, { all: true }). */
  readonly lookup?: Lookup;
  /** How often every name is looked up again, in milliseconds. Default 30_000; at least 100. */
  readonly refreshMs?: number;
  /**
   * How long a name's addresses stay trusted after the lookup that found them while its lookups fail
   * (a DNS server that does not answer), in milliseconds. Default twice refreshMs: through one failed round.
   * A name DNS says does not exist (ENOTFOUND, ENODATA) is trusted for nothing at once.
   */
  readonly maxStaleMs?: number;
  /** Where a name that stops resolving, or resolves again, or changes its addresses, is reported: one line each time. Default console.warn. */
  readonly warn?: (line: string) => void;
}

export interface StartedResolver extends Resolver {
  /** Stops looking names up (clears the timer); the resolver keeps answering from the last set. Idempotent. */
  stop(): void;
  /** Each DNS name in trustedProxies, what it resolved to last and the error of its last lookup, if any. */
  readonly names: readonly NameState[];
  /** Looks every name up now; resolves when done (one round at a time: a call during a round waits for it). */
  refresh(): Promise<void>;
}

export const DEFAULT_REFRESH_MS = 30_000;
const MIN_REFRESH_MS = 100;
// setInterval's limit: a longer delay is taken as 1 ms, a lookup round every millisecond.
const MAX_REFRESH_MS = 2 ** 31 - 1;
// A lookup gives up after this, or after refreshMs when shorter, so that a hung resolver cannot hold the
// start (or a round) for ever, nor let rounds pile up.
const MAX_LOOKUP_MS = 5_000;
// What a name stands in for while the other options are validated: any address, so that an error about a
// literal entry gives the index it has in the caller's list.
const NAME_PLACEHOLDER = "::1";

/**
 * Validates the options as createResolver does (a bad one rejects with a {@link ClientAddressConfigError}
 * naming it), looks every DNS name of `trustedProxies` up, then hands back a resolver that trusts the literal
 * entries and every address of every name, and looks the names up again every `refreshMs`. A name that does
 * not resolve does not fail the start: it is reported through `warn`, listed in `names` with its error, and
 * trusts nothing until it resolves.
 */
export async function startResolver(options: StartResolverOptions = {}): Promise<StartedResolver> {
  const config = readOptions(options);
  const resolver = new NamedResolver(config);
  await resolver.refresh();
  resolver.startTimer();
  return resolver;
}

interface Config {
  /** Every option for createResolver except trustedProxies, arrays copied: a rebuild must not follow the caller's later edits. */
  readonly base: ResolverOptions;
  /** The entries that are not names, or the caller's compiled list (which holds none). */
  readonly literals: TrustedProxies | readonly string[];
  /** The DNS names, each once, in the order given. */
  readonly names: readonly string[];
  readonly lookup: Lookup;
  readonly refreshMs: number;
  readonly maxStaleMs: number;
  readonly warn: (line: string) => void;
}

function readOptions(options: StartResolverOptions): Config {
  if (typeof options !== "object" || options === null) {
    throw new ClientAddressConfigError(`options must be an object, got ${options === null ? "null" : typeof options}`, "options", options);
  }
  const { lookup = systemLookup, refreshMs = DEFAULT_REFRESH_MS, maxStaleMs = 2 * refreshMs, warn = (line: string) => console.warn(line), trustedProxies, ...rest } = options;
  if (typeof lookup !== "function") throw new ClientAddressConfigError(`lookup must be a function, got ${typeof lookup}`, "lookup", lookup);
  if (!(Number.isInteger(refreshMs) && refreshMs >= MIN_REFRESH_MS && refreshMs <= MAX_REFRESH_MS)) {
    throw new ClientAddressConfigError(`refreshMs must be an integer number of milliseconds from ${MIN_REFRESH_MS} to ${MAX_REFRESH_MS}, got ${JSON.stringify(refreshMs)}`, "refreshMs", refreshMs);
  }
  if (!(Number.isInteger(maxStaleMs) && maxStaleMs >= 0 && maxStaleMs <= Number.MAX_SAFE_INTEGER)) {
    throw new ClientAddressConfigError(`maxStaleMs must be a non-negative integer number of milliseconds, got ${JSON.stringify(options.maxStaleMs)}`, "maxStaleMs", options.maxStaleMs);
  }
  if (typeof warn !== "function") throw new ClientAddressConfigError(`warn must be a function, got ${typeof warn}`, "warn", warn);
  const base: ResolverOptions = Object.freeze(Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, Array.isArray(value) ? [...(value as unknown[])] : value])));
  if (!Array.isArray(trustedProxies)) {
    // None, a compiled list (which cannot hold a name) or not a list: createResolver takes it or says why not.
    createResolver({ ...base, trustedProxies });
    return { base, literals: trustedProxies ?? [], names: [], lookup, refreshMs, maxStaleMs, warn };
  }
  const entries = [...(trustedProxies as readonly unknown[])];
  const nameOf = (entry: unknown) => (typeof entry === "string" ? trustedProxyName(entry) : null);
  createResolver({ ...base, trustedProxies: entries.map((entry) => (nameOf(entry) === null ? entry : NAME_PLACEHOLDER)) as string[] });
  return {
    base,
    literals: entries.filter((entry) => nameOf(entry) === null) as string[],
    names: [...new Set(entries.map(nameOf).filter((name) => name !== null))],
    lookup,
    refreshMs,
    maxStaleMs,
    warn,
  };
}

class NamedResolver implements StartedResolver {
  readonly #config: Config;
  // The resolver answering now. Replaced whole by a round whose lookups changed a name's addresses.
  #current: Resolver;
  #records: readonly NameRecord[];
  #names: readonly NameState[];
  #round: Promise<void> | null = null;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(config: Config) {
    this.#config = config;
    this.#current = createResolver({ ...config.base, trustedProxies: config.literals });
    this.#records = config.names.map(newRecord);
    this.#names = Object.freeze(this.#records.map((record) => record.state));
  }

  resolve(facts: RequestFacts): ClientAddress {
    return this.#current.resolve(facts);
  }

  refusal(answer: ClientAddress): Refusal | null {
    return this.#current.refusal(answer);
  }

  get unattributable(): "warn" | "reject" {
    return this.#current.unattributable;
  }

  verifyClaims(answer: ClientAddress): Promise<boolean> {
    return this.#current.verifyClaims(answer);
  }

  get names(): readonly NameState[] {
    return this.#names;
  }

  refresh(): Promise<void> {
    return this.#run(true);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** @internal The interval of lookups, started once the first round is done; unref'd, so it never keeps the process alive. */
  startTimer(): void {
    if (this.#records.length === 0 || this.#stopped || this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.#run(false).catch((error: unknown) => this.#report(`clientaddr: looking up the trustedProxies names failed: ${error instanceof Error ? error.message : "an error"}; still trusting the last addresses`));
    }, this.#config.refreshMs);
    this.#timer.unref();
  }

  /** One round at a time: a call during a round is given that round. After stop(), nothing is looked up. */
  #run(keepAlive: boolean): Promise<void> {
    if (this.#stopped || this.#records.length === 0) return Promise.resolve();
    this.#round ??= this.#lookUpAll(keepAlive).finally(() => {
      this.#round = null;
    });
    return this.#round;
  }

  async #lookUpAll(keepAlive: boolean): Promise<void> {
    const { lookup, refreshMs } = this.#config;
    const timeout = Math.min(refreshMs, MAX_LOOKUP_MS);
    const outcomes = await Promise.all(this.#records.map((record) => lookUp(lookup, record.state.name, timeout, keepAlive)));
    // Stopped while looking up: the resolver stays as it was when stopped.
    if (this.#stopped) return;
    const now = Date.now();
    const lines: string[] = [];
    let changed = false;
    this.#records = this.#records.map((record, i) => {
      const next = applyOutcome(record, outcomes[i]!, now, this.#config.maxStaleMs);
      changed ||= next.changed;
      lines.push(...next.lines);
      return next.record;
    });
    this.#names = Object.freeze(this.#records.map((record) => record.state));
    if (changed) {
      // Only arrays of literals reach here: a compiled list comes with no names, and so with no rounds.
      const addresses = new Set(this.#records.flatMap((record) => record.state.addresses));
      this.#current = createResolver({ ...this.#config.base, trustedProxies: [...(this.#config.literals as readonly string[]), ...addresses] });
    }
    for (const line of lines) this.#report(line);
  }

  /** A line to the caller's warn; one that throws loses its line, never the round (the state is already applied). */
  #report(line: string): void {
    try {
      this.#config.warn(line);
    } catch {
      // Nowhere else to say it.
    }
  }
}
