// clientaddr for Express 4 and 5: a middleware that sets `req.clientAddress`, and a `trust proxy` function
// from the same list so that Express's own `req.ip` walks X-Forwarded-For past the same proxies.
import type { RequestHandler } from "express";
import type { ClientAddress } from "../../core/index.js";
import { type ResolverOrOptions, refuse, resolveRequest, resolverOf } from "../node/index.js";

export type { ResolverOrOptions } from "../node/index.js";
export { trustProxy } from "../node/index.js";

declare module "express-serve-static-core" {
  interface Request {
    /** Set by clientaddr's `clientAddress()` middleware. */
    clientAddress: ClientAddress;
  }
}

/**
 * Middleware that resolves every request's client into `req.clientAddress`, with a resolver made by
 * `createResolver` or the options to make one from. Throws at once on a bad option.
 */
export function clientAddress(resolver: ResolverOrOptions = {}): RequestHandler {
  const compiled = resolverOf(resolver);
  return (req, res, next) => {
    const answer = (req.clientAddress = resolveRequest(req, compiled));
    // With unattributable: "reject", such a request is answered 403 here, before the app's handlers.
    const refusal = compiled.refusal(answer);
    if (refusal === null) next();
    else refuse(res, refusal);
  };
}
