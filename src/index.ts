// The package's root entry, `clientaddr`: the rules (src/core, pure) and the resolver that looks up proxies
// named like containers (src/dns, which does the DNS and the timers), so that the core stays free of I/O.
export * from "./core/index.js";
export * from "./dns/index.js";
