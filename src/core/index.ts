// The public API: a resolver made once from the options (or the one-call form), the trust list compiled on
// its own, the readers of lists written as text (environment variables, flags), and the links a PROXY
// protocol listener records a declared source and a declared TLS through.
export { createResolver, resolveClientAddress } from "./resolver.js";
export type { Refusal, ResolveClientAddressOptions, Resolver } from "./resolver.js";
export { type RefusalLog, type RefusalLogOptions, createRefusalLog } from "./refusal-log.js";
export { type RateLimitKeyOptions, rateLimitKey } from "./rate-limit-key.js";
export { isCrossSite } from "./cross-site.js";
export { PRESETS, PRESET_NAMES, type PresetName, type PresetRow } from "./presets.js";
export type { Claims, ClaimsVerifier } from "./claims.js";
export type { RequestFacts } from "./request.js";
export type { ResolverOptions } from "./options.js";
export type {
  Attribution,
  Basis,
  ClientAddress,
  ClientAddressData,
  Diagnostic,
  DiagnosticCode,
  Fix,
  Hop,
  HopSource,
  LocalityChecks,
  OriginCheck,
  UnattributableReason,
  Verdict,
} from "./answer.js";
export { ClientAddressConfigError } from "./config-error.js";
export { TrustedProxies, compileTrustedProxies, trustedProxyName } from "./trust.js";
export { DECLARED_SECURE, DECLARED_SOURCE, addressBytes, canonicalAddress, connectionSecure, declaredSource, formatAddressBytes } from "./declared.js";
export { parseLocalHosts, parseLocalOrigins, parseTrustedProxies, splitList } from "./config-text.js";
export type { TrustDiagnostic, TrustDiagnosticCode } from "./trust.js";
export { FORWARDING_HEADERS } from "./proxy-headers.js";
export type { ForwardingHeader } from "./proxy-headers.js";
export { DEFAULT_FORWARDING_HEADER, DEFAULT_MAX_HOPS } from "./options.js";
export type { HeadersInput } from "./headers.js";
