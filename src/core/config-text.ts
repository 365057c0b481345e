// Lists as environment variables and command lines hold them: `TRUSTED_PROXIES="172.18.0.1, fd18::1"`. Read
// once at start-up into what the resolver takes, so that a gateway never splits a string per request (a fresh
// array per request would be compiled again each time).
import { ClientAddressConfigError } from "./config-error.js";
import { checkLocalHosts, compileLocalOrigins } from "./locality.js";
import { type TrustedProxies, compileTrustedProxies } from "./trust.js";

/**
 * The entries of a list written as text: separated by commas or whitespace, blank entries dropped. An unset
 * variable (undefined) and an empty or blank string are the empty list, never one empty entry.
 */
export function splitList(text: string | undefined): string[] {
  return text === undefined ? [] : text.split(/[\s,]+/).filter((entry) => entry !== "");
}

/**
 * `trustedProxies` from text, compiled. `source` names where the text came from (an environment variable, a
 * flag) in the error for a bad entry, a {@link ClientAddressConfigError} naming the entry and its index.
 */
export function parseTrustedProxies(text: string | undefined, source = "trustedProxies"): TrustedProxies {
  return fromSource(source, () => compileTrustedProxies(splitList(text)));
}

/** `localHosts` from text, validated; a bad name throws a ClientAddressConfigError that begins with `source`. */
export function parseLocalHosts(text: string | undefined, source = "localHosts"): string[] {
  const list = splitList(text);
  fromSource(source, () => checkLocalHosts(list));
  return list;
}

/** `localOrigins` from text, validated; a bad origin throws a ClientAddressConfigError that begins with `source`. */
export function parseLocalOrigins(text: string | undefined, source = "localOrigins"): string[] {
  const list = splitList(text);
  fromSource(source, () => compileLocalOrigins(list));
  return list;
}

/** What `read` returns; its error (the lists' validators throw only ClientAddressConfigError) prefixed with `source`. */
function fromSource<T>(source: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    const { message, option, entry, index } = error as ClientAddressConfigError;
    throw new ClientAddressConfigError(`${source}: ${message}`, option, entry, index);
  }
}
