// The public API: one function to resolve a request, one to compile the trust list once, the readers of
// lists written as text (environment variables, flags), and the link a PROXY protocol listener records a
// declared source through.
export { resolveClientAddress } from "./resolve.js";
export type {
  Basis,
  ClientAddress,
  ClientAddressData,
  Diagnostic,
  DiagnosticCode,
  Hop,
  HopSource,
  LocalityChecks,
  ResolveOptions,
  Verdict,
} from "./resolve.js";
export { TrustedProxies, TrustedProxiesError, compileTrustedProxies } from "./trust.js";
export { DECLARED_SECURE, DECLARED_SOURCE, canonicalAddress, connectionSecure, declaredSource, formatAddressBytes } from "./declared.js";
export { parseLocalHosts, parseLocalOrigins, parseTrustedProxies, splitList } from "./config-text.js";
export type { TrustDiagnostic, TrustDiagnosticCode } from "./trust.js";
export type { ForwardingHeader } from "./entries.js";
export type { HeadersInput } from "./headers.js";
