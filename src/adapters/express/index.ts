// clientaddr for Express 4 and 5: `req.clientAddress`, set by a middleware or defined as a getter on the
// app's requests, and a `trust proxy` function from the same list so that Express's own `req.ip` walks
// X-Forwarded-For past the same proxies.
import type { IncomingMessage } from "node:http";
import type { RequestHandler } from "express";
import { type ClientAddress, ClientAddressConfigError } from "../../core/index.js";
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

/**
 * Gives every request of `app` (and of the apps mounted on it) `req.clientAddress` without a middleware: a
 * getter on the app's request prototype, Express's documented extension point, as Express's own `req.ip` is
 * defined. The request is resolved when the property is first read, from its socket and raw header lines,
 * then kept: a route that never reads it pays nothing, and no router layer runs for it (what a layer costs:
 * docs/performance.md). Read after the socket closed, it has no peer: unknown and not local. Throws at once
 * on a bad option, and for `unattributable: "reject"`, whose 403 before the handlers takes the middleware,
 * `clientAddress()`.
 */
export function defineClientAddress(app: { readonly request: object }, resolver: ResolverOrOptions = {}): void {
  const compiled = resolverOf(resolver);
  if (compiled.unattributable === "reject") {
    throw new ClientAddressConfigError('unattributable: "reject" refuses a request before its handlers, which a getter cannot: use app.use(clientAddress(resolver))', "unattributable", "reject");
  }
  // One key per definition: an app mounted on another, defining its own, keeps its own answers.
  const resolved = Symbol("clientaddr.resolved");
  type Kept = IncomingMessage & { [resolved]?: ClientAddress };
  Object.defineProperty(app.request, "clientAddress", {
    configurable: true,
    enumerable: true,
    get(this: Kept): ClientAddress {
      return (this[resolved] ??= resolveRequest(this, compiled));
    },
    // The middleware, used as well, sets the property: its answer is kept in the same place.
    set(this: Kept, answer: ClientAddress) {
      this[resolved] = answer;
    },
  });
}
