// clientaddr for Hono on @hono/node-server: a middleware that sets `c.get("clientAddress")`.
import type { HttpBindings } from "@hono/node-server";
import type { MiddlewareHandler } from "hono";
import type { ClientAddress } from "../../core/index.js";
import { type ResolverOrOptions, resolveRequest, resolverOf } from "../node/index.js";

export type { ResolverOrOptions } from "../node/index.js";

/** For `new Hono<{ Variables: ClientAddressVariables }>()`. */
export type ClientAddressVariables = { clientAddress: ClientAddress };

/**
 * Middleware that resolves every request's client into `c.get("clientAddress")`, from the Node request that
 * @hono/node-server hands over as `c.env.incoming` (WebSocket upgrades included), with a resolver made by
 * `createResolver` or the options to make one from. Throws at once on a bad option, and on a request that comes without a Node request (another runtime, or `app.request()`).
 */
export function clientAddress(resolver: ResolverOrOptions = {}): MiddlewareHandler<{ Variables: ClientAddressVariables }> {
  const compiled = resolverOf(resolver);
  return async (c, next) => {
    const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
    if (incoming === undefined) {
      throw new Error(
        'clientaddr/hono needs @hono/node-server\'s c.env.incoming (the Node request, for its socket\'s peer); this request has none: serve the app with @hono/node-server, or call resolveClientAddress with the peer address your runtime gives',
      );
    }
    const answer = resolveRequest(incoming, compiled);
    c.set("clientAddress", answer);
    // With unattributable: "reject", such a request is answered 403 here, before the app's handlers.
    const refusal = compiled.refusal(answer);
    if (refusal !== null) return c.body(refusal.body, refusal.status, { "content-type": "application/json", [refusal.header]: refusal.reason });
    await next();
  };
}
