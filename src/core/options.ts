// The resolver's configuration, validated and compiled once, when a resolver is made: a bad option fails at
// start-up with one error type naming it, and a request pays for no option.
import type { ClaimsVerifier } from "./claims.js";
import { ClientAddressConfigError } from "./config-error.js";
import { PRESET_NAMES, type PresetName, type PresetRow, presetRow } from "./presets.js";
import { type BelievedShape, FORWARDING_HEADERS, type ForwardingHeader, bitOf, shapeOf } from "./proxy-headers.js";
import { checkLocalHosts, compileLocalOrigins } from "./locality.js";
import { TrustedProxies, compileTrustedProxies } from "./trust.js";

/** What a gateway configures once: who it trusts, what it believes, which names and pages are its own. */
export interface ResolverOptions {
  /**
   * The front in one word: who to trust and which header to believe, as that front's documentation says
   * (src/core/presets.ts): `cloudflared`, `tailscale-serve`, `nginx`, `caddy`, `traefik`, `haproxy`. Entries
   * given in `trustedProxies` add to the preset's own (loopback); `header`, when given, replaces its header.
   */
  readonly preset?: PresetName | undefined;
  /** Compiled with {@link compileTrustedProxies}, or a list of addresses, CIDRs and presets. Default: none. */
  readonly trustedProxies?: TrustedProxies | readonly string[] | undefined;
  /** The one forwarding header to believe from trusted proxies. Default `x-forwarded-for` (or the preset's). */
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
  /**
   * Checks what a preset's front claims of the user (Tailscale Serve's identity headers) for
   * `resolver.verifyClaims`: e.g. that tailscaled's whois of the client's address names the same login.
   */
  readonly verify?: ClaimsVerifier | undefined;
}

/** The options as the rules read them. */
export interface CompiledOptions {
  readonly trust: TrustedProxies;
  readonly believed: ForwardingHeader;
  /** How it names the client (its row's `believe`). */
  readonly believedShape: BelievedShape;
  /** The believed header's bit in a request's set of present proxy headers. */
  readonly believedBit: number;
  /** The preset, if any, and the bits of the address headers its front writes besides the believed one. */
  readonly preset: PresetRow | null;
  readonly alsoBits: number;
  /** The headers whose values the preset needs: alsoBits and its claim headers. */
  readonly keptBits: number;
  readonly maxHops: number;
  readonly localHosts: readonly string[];
  readonly localOrigins: ReadonlySet<string>;
  readonly publicOrigins: ReadonlySet<string>;
  readonly rejectUnattributable: boolean;
  readonly verify: ClaimsVerifier | null;
}

export const DEFAULT_FORWARDING_HEADER: ForwardingHeader = "x-forwarded-for";
export const DEFAULT_MAX_HOPS = 64;
const NO_TRUST = compileTrustedProxies([]);
const NO_HOSTS: readonly string[] = Object.freeze([]);
const NO_ORIGINS: ReadonlySet<string> = new Set();

/** Validates and compiles every option, or throws a {@link ClientAddressConfigError} naming the first bad one. */
export function compileOptions(options: ResolverOptions): CompiledOptions {
  if (typeof options !== "object" || options === null) throw new ClientAddressConfigError(`options must be an object, got ${options === null ? "null" : typeof options}`, "options", options);
  const { preset, trustedProxies, maxHops = DEFAULT_MAX_HOPS, localHosts, localOrigins, publicOrigins, unattributable = "warn", verify } = options;
  const row = preset === undefined ? null : presetRow(preset);
  if (row === undefined) throw new ClientAddressConfigError(`preset must be one of ${PRESET_NAMES.join(", ")}, got ${JSON.stringify(preset)}`, "preset", preset);
  const header = options.header ?? row?.header ?? DEFAULT_FORWARDING_HEADER;
  if (!(FORWARDING_HEADERS as readonly unknown[]).includes(header)) {
    throw new ClientAddressConfigError(`header must be one of ${FORWARDING_HEADERS.join(", ")}, got ${JSON.stringify(header)}`, "header", header);
  }
  if (!Number.isInteger(maxHops) || maxHops < 0) {
    throw new ClientAddressConfigError(`maxHops must be a non-negative integer, got ${JSON.stringify(maxHops)}`, "maxHops", maxHops);
  }
  if (verify !== undefined && typeof verify !== "function") throw new ClientAddressConfigError(`verify must be a function, got ${typeof verify}`, "verify", verify);
  if (unattributable !== "warn" && unattributable !== "reject") {
    throw new ClientAddressConfigError(`unattributable must be "warn" or "reject", got ${JSON.stringify(unattributable)}`, "unattributable", unattributable);
  }
  const trust = trustedProxies === undefined ? NO_TRUST : trustedProxies instanceof TrustedProxies ? trustedProxies : compileTrustedProxies(trustedProxies);
  const believedBit = bitOf(header);
  const alsoBits = row === null ? 0 : row.alsoWrites.reduce((bits, name) => bits | bitOf(name), 0) & ~believedBit;
  return {
    // The preset's entries first; the caller's were checked above, so an error names their own index.
    trust: row === null ? trust : compileTrustedProxies([...row.trustedProxies, ...trust.toJSON().entries]),
    believed: header,
    believedShape: shapeOf(header),
    believedBit,
    preset: row,
    alsoBits,
    keptBits: row === null ? 0 : row.claims.reduce((bits, name) => bits | bitOf(name), alsoBits),
    maxHops,
    // Copies: the caller may change its arrays afterwards, and the resolver must not follow.
    localHosts: localHosts === undefined ? NO_HOSTS : checkLocalHosts(localHosts),
    localOrigins: localOrigins === undefined ? NO_ORIGINS : compileLocalOrigins(localOrigins),
    publicOrigins: publicOrigins === undefined ? NO_ORIGINS : compileLocalOrigins(publicOrigins, "publicOrigins"),
    rejectUnattributable: unattributable === "reject",
    verify: verify ?? null,
  };
}
