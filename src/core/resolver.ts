// A resolver: the options compiled once (options.ts), then one call per request that applies the rules
// (rules.ts) to its facts and hands back the answer, explained only when someone reads the explanation.
import type { Attribution, Basis, ClientAddress, ClientAddressData, Diagnostic, Hop, LocalityChecks, OriginCheck, UnattributableReason, Verdict } from "./answer.js";
import { attributionOf } from "./attribution.js";
import { type Claims, boundedVerifier, claimsOf } from "./claims.js";
import type { PresetName } from "./presets.js";
import { Explanation } from "./explain.js";
import { type CompiledOptions, type ResolverOptions, compileOptions } from "./options.js";
import { type RequestFacts, RequestState } from "./request.js";
import { askedOrigin } from "./locality.js";
import { decide, describeAsked, unattributableReason } from "./rules.js";

/** The one-call form's input: one request's facts and the options to judge it by. */
export type ResolveClientAddressOptions = RequestFacts & ResolverOptions;

/** What a gateway answers a request it refuses before its handler runs: HTTP 403, with the reason. */
export interface Refusal {
  readonly status: 403;
  readonly reason: UnattributableReason;
  /** The response header that carries the reason, for scripts and the proxy's log. */
  readonly header: "x-clientaddr-refusal";
  /** The body, for the client: the reason only (the guidance, in the answer's diagnostics, is the operator's). */
  readonly body: string;
}

/** Options compiled once; `resolve` judges one request. Made by {@link createResolver}. */
export interface Resolver {
  /**
   * Resolves the client of one request. Never throws: a missing peer, a malformed header or a non-address
   * entry gives `address: null` or a not-local answer, with a diagnostic.
   */
  resolve(facts: RequestFacts): ClientAddress;
  /**
   * Whether the gateway refuses this answer's request before its handler runs: a 403 for an unattributable
   * request when the resolver was made with `unattributable: "reject"`, else null (with `"warn"`, the default,
   * the request goes on, answered as remote, for the gateway to log). Decided without a server.
   */
  refusal(answer: ClientAddress): Refusal | null;
  /** What it does with an unattributable request (the `unattributable` option): adapters ask it once. */
  readonly unattributable: "warn" | "reject";
  /**
   * Checks the answer's claims with the `verify` hook the resolver was made with (tailscaled's whois, say):
   * true only when the hook says they hold. False, without asking it, when there are no claims or no hook,
   * past 8 checks at once or 64 distinct clients a minute, or when the hook fails or takes over 5 seconds.
   * Checks of the same client and claims at once share one call. Locality never depends on it.
   */
  verifyClaims(answer: ClientAddress): Promise<boolean>;
}

class CompiledResolver implements Resolver {
  readonly #options: CompiledOptions;
  readonly #verify: ((answer: ClientAddress) => Promise<boolean>) | null;

  constructor(options: CompiledOptions) {
    this.#options = options;
    this.#verify = options.verify === null ? null : boundedVerifier(options.verify);
  }

  verifyClaims(answer: ClientAddress): Promise<boolean> {
    return this.#verify === null ? Promise.resolve(false) : this.#verify(answer);
  }

  get unattributable(): "warn" | "reject" {
    return this.#options.rejectUnattributable ? "reject" : "warn";
  }

  resolve(facts: RequestFacts): ClientAddress {
    const request = new RequestState(facts, this.#options);
    return new Resolution(request, decide(request, null));
  }

  refusal(answer: ClientAddress): Refusal | null {
    const reason = this.#options.rejectUnattributable ? answer.attributionReason : null;
    return reason === null ? null : { status: 403, reason, header: "x-clientaddr-refusal", body: `${JSON.stringify({ error: "unattributable", reason })}\n` };
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
  #origin: OriginCheck | undefined;
  #reason: UnattributableReason | null | undefined;
  #claims: Claims | null | undefined;
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

  get attribution(): Attribution {
    const request = this.#request;
    return attributionOf(this.attributionReason, request.source, request.peerTrusted, request.peerLoopback);
  }

  get attributionReason(): UnattributableReason | null {
    if (this.#reason === undefined) this.#reason = unattributableReason(this.#request, this.#verdict);
    return this.#reason;
  }

  get preset(): PresetName | null {
    const preset = this.#request.options.preset;
    return preset !== null && this.attribution === "proxied" ? preset.name : null;
  }

  get claims(): Claims | null {
    if (this.#claims === undefined) this.#claims = claimsOf(this.#request);
    return this.#claims;
  }

  get origin(): OriginCheck {
    return (this.#origin ??= originCheck(this.#request));
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
    const { address, loopbackEquivalent, basis, attribution, attributionReason, preset, claims, origin, hops, checks, diagnostics } = this;
    return { address, loopbackEquivalent, basis, attribution, attributionReason, preset, claims, origin, hops, checks, diagnostics };
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

/**
 * The page against the gateway's own origin: the request the browser made (describeAsked, through trusted
 * proxies, as locality reads it) written as browsers write an origin.
 */
function originCheck(request: RequestState): OriginCheck {
  const seen = request.readHeaders();
  // An opaque origin ("null": a sandboxed frame, a file: page) and a value that is not text are pages too,
  // and never the gateway's own: kept as sent ("" for the latter), so that they are cross-site.
  const sent = seen.origin === undefined ? null : (seen.origin ?? "");
  const own = describeAsked(request, request.peerTrusted) && typeof seen.askedHost === "string" ? askedOrigin(seen.askedHost, seen.askedSecure, seen.askedPort) : null;
  const configured = request.options.publicOrigins;
  if (configured.size === 0) return { sent, own, same: sent !== null && sent === own };
  return { sent, own: own !== null && configured.has(own) ? own : configured.values().next().value!, same: sent !== null && configured.has(sent) };
}
