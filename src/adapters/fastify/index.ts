// clientaddr for Fastify 5: a plugin that decorates every request, WebSocket routes included, with
// `request.clientAddress`.
import type { FastifyPluginAsync } from "fastify";
import fp from "fastify-plugin";
import type { ClientAddress } from "../../core/index.js";
import { type RequestOptions, compileRequestOptions, resolveRequest } from "../node/index.js";

export type { RequestOptions } from "../node/index.js";
export { trustProxy } from "../node/index.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Set by clientaddr's `clientAddress` plugin, in an onRequest hook. */
    clientAddress: ClientAddress;
  }
}

// Async, so that a bad option rejects the app's start-up: avvio does not catch a callback plugin's throw.
const plugin: FastifyPluginAsync<RequestOptions> = async (app, options) => {
  const compiled = compileRequestOptions(options);
  // Fastify 5 wants a decorator declared with a primitive; the hook sets the real value on each request.
  app.decorateRequest("clientAddress", null as unknown as ClientAddress);
  // onRequest is the first hook, and it runs for @fastify/websocket routes before the upgrade is accepted.
  app.addHook("onRequest", (request, _reply, next) => {
    request.clientAddress = resolveRequest(request.raw, compiled);
    next();
  });
};

/**
 * `app.register(clientAddress, options)`. Wrapped with fastify-plugin so that the decoration and the hook
 * reach every route of the app, not only those registered inside the plugin.
 */
export const clientAddress = fp(plugin, { fastify: "5.x", name: "clientaddr" });
