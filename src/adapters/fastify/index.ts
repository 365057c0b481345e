// clientaddr for Fastify 5: a plugin that gives every request, WebSocket routes included,
// `request.clientAddress`.
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { ClientAddress } from "../../core/index.js";
import { type ResolverOrOptions, resolveRequest, resolverOf } from "../node/index.js";

export type { ResolverOrOptions } from "../node/index.js";
export { trustProxy } from "../node/index.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Given by clientaddr's `clientAddress` plugin: resolved when first read, then kept for the request. */
    clientAddress: ClientAddress;
  }
}

// Where a request keeps its answer once read; a symbol, so that it is no name a route or another plugin uses.
const RESOLVED = Symbol("clientaddr.resolved");

// Async, so that a bad option rejects the app's start-up: avvio does not catch a callback plugin's throw.
const plugin: FastifyPluginAsync<ResolverOrOptions> = async (app, options) => {
  const compiled = resolverOf(options);
  // A getter, as Fastify's own request.ip is, rather than an onRequest hook: a route that never reads the
  // answer pays nothing, and one that does skips the hook runner (bench/results.md, Frameworks: about 1 µs a
  // request). It is read from the request's own socket and raw header lines whenever it is first read, in a
  // hook, a handler or a @fastify/websocket route; a socket already closed by then has no peer, which gives
  // the stated answer for one: unknown and not local.
  app.decorateRequest(RESOLVED, null);
  app.decorateRequest("clientAddress", {
    getter(this: FastifyRequest): ClientAddress {
      const request = this as FastifyRequest & { [RESOLVED]: ClientAddress | null };
      return (request[RESOLVED] ??= resolveRequest(request.raw, compiled));
    },
  });
  // With unattributable: "reject", every request is resolved in a hook and such a one answered 403 there,
  // before any handler (a WebSocket route's upgrade included); with "warn", nothing is added.
  if (compiled.unattributable === "reject") {
    app.addHook("onRequest", async (request, reply) => {
      const refusal = compiled.refusal(request.clientAddress);
      if (refusal !== null) await reply.code(refusal.status).header(refusal.header, refusal.reason).type("application/json").send(refusal.body);
    });
  }
};

/**
 * `app.register(clientAddress, resolver)`, with a resolver made by `createResolver` or the options to make
 * one from. Marked as fastify-plugin marks a plugin (the three `Symbol.for` keys Fastify reads), so that the
 * decoration reaches every route of the app, not only those registered inside the plugin. Written here
 * rather than wrapped by fastify-plugin: then `npm i clientaddr fastify` is all a Fastify user installs.
 */
export const clientAddress: FastifyPluginAsync<ResolverOrOptions> = Object.assign(plugin, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "clientaddr",
  [Symbol.for("plugin-meta")]: { fastify: "5.x", name: "clientaddr" },
});
