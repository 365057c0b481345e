// The one error configuration throws, whichever option is wrong, so that a gateway catches one type at
// start-up. Request input never throws: a bad peer or header is an answer (not local), not an error.

/** A bad option given to `createResolver`, `compileTrustedProxies`, an adapter or a list read from text. */
export class ClientAddressConfigError extends TypeError {
  override readonly name = "ClientAddressConfigError";
  constructor(
    message: string,
    /** The option at fault: `trustedProxies`, `header`, `maxHops`, `localHosts`, `localOrigins`, or where a list was read from. */
    readonly option: string,
    /** The offending entry as given, and its index in its list (-1 when the option or list itself is wrong). */
    readonly entry: unknown = undefined,
    readonly index: number = -1,
  ) {
    super(message);
  }
}
