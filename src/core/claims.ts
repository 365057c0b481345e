// What a front says of the user, beside the address: Tailscale Serve's identity headers. They are claims: read
// only from the preset's trusted front, never an address, never a reason to call a client local. A gateway that
// acts on one first has it checked by its own `verify` hook (tailscaled's whois, say), within bounds that keep a
// flood of new clients from becoming a flood of lookups (OpenClaw's: src/gateway/ingress-attribution.ts).
import type { ClientAddress } from "./answer.js";
import { bitOf } from "./proxy-headers.js";
import type { RequestState } from "./request.js";

/** The claim headers present, by lower-case name (`tailscale-user-login`: `alice@example.com`). */
export type Claims = Readonly<Record<string, string>>;

/**
 * Checks a request's claims (e.g. that tailscaled's whois of the client's address names the same login);
 * resolves true only when they hold.
 */
export type ClaimsVerifier = (claims: Claims, answer: ClientAddress) => Promise<boolean> | boolean;

/** At most this many checks at once, this many distinct clients a minute; a check that takes longer fails. */
export const VERIFY_IN_FLIGHT = 8;
export const VERIFY_KEYS_PER_MINUTE = 64;
export const VERIFY_TIMEOUT_MS = 5_000;

/**
 * The claims of a request the preset's trusted front forwarded, or null: no preset with claims, an untrusted
 * peer (whose claims anyone could write), a request in which the front named no client (Tailscale Serve always
 * sets X-Forwarded-For: without it, a process on this host wrote them; with an entry that is not an address,
 * there is no client the claims could be checked against), or none present. A claim header that
 * is repeated, empty or not text is left out: which line the front wrote cannot be told.
 */
export function claimsOf(request: RequestState): Claims | null {
  const names = request.options.preset?.claims;
  if (names === undefined || !request.peerTrusted || request.source !== request.options.believed || request.client === null) return null;
  const seen = request.readHeaders();
  const claims: Record<string, string> = {};
  let any = false;
  for (const name of names) {
    const value = seen.kept?.get(bitOf(name));
    if (typeof value === "string" && value !== "" && !value.includes(",")) {
      claims[name] = value;
      any = true;
    }
  }
  return any ? claims : null;
}

/**
 * A bounded verifier: checks of the same client and claims share one call; past VERIFY_IN_FLIGHT checks at
 * once or VERIFY_KEYS_PER_MINUTE distinct ones a minute, or past VERIFY_TIMEOUT_MS, or if the hook throws,
 * the answer is false (unverified), never an error.
 */
export function boundedVerifier(verify: ClaimsVerifier): (answer: ClientAddress) => Promise<boolean> {
  const inFlight = new Map<string, Promise<boolean>>();
  let minute = -1;
  const seen = new Set<string>();
  return (answer) => {
    // Claims come only with a client's address (claimsOf).
    const claims = answer.claims;
    if (claims === null) return Promise.resolve(false);
    const key = `${answer.address} ${JSON.stringify(claims)}`;
    const shared = inFlight.get(key);
    if (shared !== undefined) return shared;
    const now = Math.floor(Date.now() / 60_000);
    if (now !== minute) {
      minute = now;
      seen.clear();
    }
    if (inFlight.size >= VERIFY_IN_FLIGHT || (!seen.has(key) && seen.size >= VERIFY_KEYS_PER_MINUTE)) return Promise.resolve(false);
    seen.add(key);
    const check = withTimeout(verify, claims, answer).finally(() => inFlight.delete(key));
    inFlight.set(key, check);
    return check;
  };
}

function withTimeout(verify: ClaimsVerifier, claims: Claims, answer: ClientAddress): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), VERIFY_TIMEOUT_MS);
    new Promise<boolean>((settle) => settle(verify(claims, answer))).then(
      (held) => {
        clearTimeout(timer);
        resolve(held === true);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}
