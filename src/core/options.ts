// The resolver's configuration, validated and compiled once, when a resolver is made: a bad option fails at
// start-up with one error type naming it, and a request pays for no option.
import { ClientAddressConfigError } from "./config-error.js";
import { FORWARDING_HEADERS, type ForwardingHeader, bitOf } from "./proxy-headers.js";
import { checkLocalHosts, compileLocalOrigins } from "./locality.js";
import { TrustedProxies, compileTrustedProxies } from "./trust.js";

/** What a gateway configures once: who it trusts, what it believes, which names and pages are its own. */
export interface ResolverOptions {
  /** Compiled with {@link compileTrustedProxies}, or a list of addresses, CIDRs and presets. Default: none. */
  readonly trustedProxies?: TrustedProxies | readonly string[] | undefined;
  /** The one forwarding header to believe from trusted proxies. Default `x-forwarded-for`. */
  readonly header?: ForwardingHeader | undefined;
  /** How many header entries the walk examines at most. Default 64. */
  readonly maxHops?: number | undefined;
  /** Extra names that mean this machine in Host and Origin (e.g. a host name on 127.0.1.1). */
  readonly localHosts?: readonly string[] | undefined;
  /**
   * Origins besides this server's own whose pages count as local (e.g. a dev server's
   * `http://localhost:5173`), kept in the form browsers send them.
   */
  readonly localOrigins?: readonly string[] | undefined;
  /**
   * The gateway's own public origins (`https://gw.example.com`), kept in the form browsers send them. With
   * them, an answer's `origin.same` is whether the page's Origin is one of them, not whether it matches the
   * request's own Host and scheme (which a DNS-rebinding page chooses, and a proxy may rewrite).
   */
  readonly publicOrigins?: readonly string[] | undefined;
  /**
   * What `resolver.refusal(answer)` does with an unattributable request (forwarding evidence that cannot be
   * believed): `warn` (the default) answers it as remote, as always, for the gateway to log; `reject` refuses
   * it, HTTP 403 with the reason, before the app's handler (the adapters do this themselves).
   */
  readonly unattributable?: "warn" | "reject" | undefined;
}

/** The options as the rules read them. */
export interface CompiledOptions {
  readonly trust: TrustedProxies;
  readonly believed: ForwardingHeader;
  /** The believed header's bit in a request's set of present proxy headers. */
  readonly believedBit: number;
  readonly maxHops: number;
  readonly localHosts: readonly string[];
  readonly localOrigins: ReadonlySet<string>;
  readonly publicOrigins: ReadonlySet<string>;
  readonly rejectUnattributable: boolean;
}

export const DEFAULT_FORWARDING_HEADER: ForwardingHeader = "x-forwarded-for";
export const DEFAULT_MAX_HOPS = 64;
const NO_TRUST = compileTrustedProxies([]);
const NO_HOSTS: readonly string[] = Object.freeze([]);
const NO_ORIGINS: ReadonlySet<string> = new Set();

/** Validates and compiles every option, or throws a {@link ClientAddressConfigError} naming the first bad one. */
export function compileOptions(options: ResolverOptions): CompiledOptions {
  if (typeof options !== "object" || options === null) throw new ClientAddressConfigError(`options must be an object, got ${options === null ? "null" : typeof options}`, "options", options);
  const { trustedProxies, header = DEFAULT_FORWARDING_HEADER, maxHops = DEFAULT_MAX_HOPS, localHosts, localOrigins, publicOrigins, unattributable = "warn" } = options;
  if (!(FORWARDING_HEADERS as readonly unknown[]).includes(header)) {
    throw new ClientAddressConfigError(`header must be one of ${FORWARDING_HEADERS.join(", ")}, got ${JSON.stringify(header)}`, "header", header);
  }
  if (!Number.isInteger(maxHops) || maxHops < 0) {
    throw new ClientAddressConfigError(`maxHops must be a non-negative integer, got ${JSON.stringify(maxHops)}`, "maxHops", maxHops);
  }
  if (unattributable !== "warn" && unattributable !== "reject") {
    throw new ClientAddressConfigError(`unattributable must be "warn" or "reject", got ${JSON.stringify(unattributable)}`, "unattributable", unattributable);
  }
  return {
    trust: trustedProxies === undefined ? NO_TRUST : trustedProxies instanceof TrustedProxies ? trustedProxies : compileTrustedProxies(trustedProxies),
    believed: header,
    believedBit: bitOf(header),
    maxHops,
    // Copies: the caller may change its arrays afterwards, and the resolver must not follow.
    localHosts: localHosts === undefined ? NO_HOSTS : checkLocalHosts(localHosts),
    localOrigins: localOrigins === undefined ? NO_ORIGINS : compileLocalOrigins(localOrigins),
    publicOrigins: publicOrigins === undefined ? NO_ORIGINS : compileLocalOrigins(publicOrigins, "publicOrigins"),
    rejectUnattributable: unattributable === "reject",
  };
}
