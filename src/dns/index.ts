// The DNS edge: `await startResolver(options)`, a resolver whose trustedProxies may name proxies (a Compose
// service, a container), looked up at start-up and on an interval. The rules stay in the core; this module
// only looks names up and hands the core their addresses.
export { DEFAULT_REFRESH_MS, startResolver } from "./start-resolver.js";
export type { Lookup, NameState, StartResolverOptions, StartedResolver } from "./start-resolver.js";
