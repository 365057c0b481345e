// clientaddr for Node's own servers: an http or https request, or the request of an `upgrade` event.
import type { IncomingMessage } from "node:http";
import {
  type ClientAddress,
  type ResolveOptions,
  TrustedProxies,
  compileTrustedProxies,
  connectionSecure,
  declaredSource,
  resolveClientAddress,
} from "../../core/index.js";

/** The resolver's options; the peer, a declared source, the headers and the scheme are read from the request. */
export type RequestOptions = Omit<ResolveOptions, "remoteAddress" | "declaredSource" | "headers" | "secure">;

/**
 * Resolves the client of one request from its socket's peer and its raw header lines (so that a repeated
 * Host or Origin is seen and refused, which `req.headers` would hide). When clientaddr/proxy-protocol
 * accepted the connection from a trusted load balancer, the source the balancer declared takes the peer's
 * place (the balancer is the nearest hop); read from the socket, never from the options.
 */
export function resolveRequest(req: IncomingMessage, options: RequestOptions = {}): ClientAddress {
  const socket = req.socket;
  // Every option by name, not `{ ...options, remoteAddress, ... }`: on Node 20 a spread followed by more
  // properties costs microseconds a call (bench/results.md, Frameworks: the Fastify adapter ran at 0.7x of
  // Fastify's own request.ip with it). The type makes a new option a compile error here until it is passed.
  const resolved: { [K in keyof Required<ResolveOptions>]: ResolveOptions[K] } = {
    remoteAddress: socket.remoteAddress,
    declaredSource: declaredSource(socket),
    headers: req.rawHeaders,
    secure: connectionSecure(socket),
    trustedProxies: options.trustedProxies,
    header: options.header,
    maxHops: options.maxHops,
    localHosts: options.localHosts,
    localOrigins: options.localOrigins,
  };
  return resolveClientAddress(resolved);
}

/**
 * For a middleware factory: throws at once what the resolver would throw on the first request for a bad
 * option, so that the app fails at start-up rather than on every request; and returns the options with the
 * trust list compiled, which the middleware then passes on every request. The list is read now: to change
 * it, make a new middleware (as Express's own `trust proxy` setting is read when it is set).
 */
export function compileRequestOptions(options: RequestOptions): RequestOptions {
  resolveClientAddress({ ...options, remoteAddress: undefined });
  const { trustedProxies } = options;
  return trustedProxies === undefined || trustedProxies instanceof TrustedProxies
    ? options
    : { ...options, trustedProxies: compileTrustedProxies(trustedProxies) };
}

/**
 * A trust function in proxy-addr's shape, `(address, hop) => boolean`, which Express's `trust proxy` and
 * Fastify's `trustProxy` accept: it asks the compiled list, so the framework's own `req.ip` walks
 * X-Forwarded-For past the same proxies clientaddr does.
 */
export function trustProxy(trustedProxies: TrustedProxies | readonly string[]): (address: string) => boolean {
  const trusted = trustedProxies instanceof TrustedProxies ? trustedProxies : compileTrustedProxies(trustedProxies);
  return (address) => trusted.trustsText(address);
}
