// A resolver: the options compiled once (options.ts), then one call per request that applies the rules
// (rules.ts) to its facts and hands back the answer, explained only when someone reads the explanation.
import type { Basis, ClientAddress, ClientAddressData, Diagnostic, Hop, LocalityChecks, Verdict } from "./answer.js";
import { Explanation } from "./explain.js";
import { type CompiledOptions, type ResolverOptions, compileOptions } from "./options.js";
import { type RequestFacts, RequestState } from "./request.js";
import { decide } from "./rules.js";

/** The one-call form's input: one request's facts and the options to judge it by. */
export type ResolveClientAddressOptions = RequestFacts & ResolverOptions;

/** Options compiled once; `resolve` judges one request. Made by {@link createResolver}. */
export interface Resolver {
  /**
   * Resolves the client of one request. Never throws: a missing peer, a malformed header or a non-address
   * entry gives `address: null` or a not-local answer, with a diagnostic.
   */
  resolve(facts: RequestFacts): ClientAddress;
}

class CompiledResolver implements Resolver {
  readonly #options: CompiledOptions;

  constructor(options: CompiledOptions) {
    this.#options = options;
  }

  resolve(facts: RequestFacts): ClientAddress {
    const request = new RequestState(facts, this.#options);
    return new Resolution(request, decide(request, null));
  }
}

/**
 * Validates and compiles every option once (the trust list, the believed header, maxHops, localHosts,
 * localOrigins), or throws a {@link ClientAddressConfigError} naming the option and the entry: make it at
 * start-up, and a bad option stops the gateway there instead of failing its first request.
 */
export function createResolver(options: ResolverOptions = {}): Resolver {
  return new CompiledResolver(compileOptions(options));
}

/**
 * The one-call form: `createResolver(options).resolve(facts)`, options compiled on every call. For a server,
 * make the resolver once.
 */
export function resolveClientAddress(options: ResolveClientAddressOptions): ClientAddress {
  return createResolver(options).resolve(options);
}

class Resolution implements ClientAddress {
  readonly address: string | null;
  readonly loopbackEquivalent: boolean;
  readonly #verdict: Verdict;
  readonly #request: RequestState;
  #basis: Basis | undefined;
  #explanation: Explanation | undefined;

  constructor(request: RequestState, verdict: Verdict) {
    this.address = request.client;
    this.loopbackEquivalent = verdict === "loopback" || verdict === "trusted-path";
    this.#verdict = verdict;
    this.#request = request;
  }

  /** Joined when first read: a gateway that only asks "local?" makes no string. */
  get basis(): Basis {
    return (this.#basis ??= `${this.#request.source}:${this.#verdict}`);
  }

  get hops(): readonly Hop[] {
    return this.#explain().hops;
  }

  get checks(): LocalityChecks {
    return this.#explain().checks;
  }

  get diagnostics(): readonly Diagnostic[] {
    return this.#explain().diagnostics;
  }

  toJSON(): ClientAddressData {
    const { address, loopbackEquivalent, basis, hops, checks, diagnostics } = this;
    return { address, loopbackEquivalent, basis, hops, checks, diagnostics };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): ClientAddressData {
    return this.toJSON();
  }

  #explain(): Explanation {
    if (this.#explanation === undefined) {
      const explanation = new Explanation();
      decide(this.#request, explanation);
      this.#explanation = explanation;
    }
    return this.#explanation;
  }
}
