// The public API: a resolver made once from the options (or the one-call form), the trust list compiled on
// its own, the readers of lists written as text (environment variables, flags), and the links a PROXY
// protocol listener records a declared source and a declared TLS through.
export { createResolver, resolveClientAddress } from "./resolver.js";
export type { ResolveClientAddressOptions, Resolver } from "./resolver.js";
export type { RequestFacts } from "./request.js";
export type { ResolverOptions } from "./options.js";
export type {
  Basis,
  ClientAddress,
  ClientAddressData,
  Diagnostic,
  DiagnosticCode,
  Fix,
  Hop,
  HopSource,
  LocalityChecks,
  Verdict,
} from "./answer.js";
export { ClientAddressConfigError } from "./config-error.js";
export { TrustedProxies, compileTrustedProxies } from "./trust.js";
export { DECLARED_SECURE, DECLARED_SOURCE, addressBytes, canonicalAddress, connectionSecure, declaredSource, formatAddressBytes } from "./declared.js";
export { parseLocalHosts, parseLocalOrigins, parseTrustedProxies, splitList } from "./config-text.js";
export type { TrustDiagnostic, TrustDiagnosticCode } from "./trust.js";
export { FORWARDING_HEADERS } from "./entries.js";
export type { ForwardingHeader } from "./entries.js";
export { DEFAULT_FORWARDING_HEADER, DEFAULT_MAX_HOPS } from "./options.js";
export type { HeadersInput } from "./headers.js";
