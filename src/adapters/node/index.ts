// clientaddr for Node's own servers: an http or https request, or the request of an `upgrade` event.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import {
  type ClientAddress,
  type Refusal,
  type Resolver,
  type ResolverOptions,
  TrustedProxies,
  compileTrustedProxies,
  connectionSecure,
  createResolver,
  declaredSource,
} from "../../core/index.js";

/** What an adapter takes: a resolver made once with `createResolver`, or the options to make one from. */
export type ResolverOrOptions = Resolver | ResolverOptions;

const DEFAULT = createResolver();

/**
 * Resolves the client of one request from its socket's peer, its raw header lines (so that a repeated Host
 * or Origin is seen and refused, which `req.headers` would hide) and its scheme. When
 * clientaddr/proxy-protocol accepted the connection from a trusted load balancer, the source the balancer
 * declared takes the peer's place (the balancer is the nearest hop), and the client's TLS to it counts;
 * read from the socket, never from the options. Given options rather than a resolver, they are compiled on
 * this call: a server makes its resolver once.
 */
export function resolveRequest(req: IncomingMessage, resolver: ResolverOrOptions = DEFAULT): ClientAddress {
  const socket = req.socket;
  return resolverOf(resolver).resolve({ remoteAddress: socket.remoteAddress, declaredSource: declaredSource(socket), headers: req.rawHeaders, secure: connectionSecure(socket) });
}

/**
 * The resolver an adapter uses: the one given, or one made now from options (throwing at once for a bad
 * option, so that a middleware fails at start-up rather than on every request).
 */
export function resolverOf(resolver: ResolverOrOptions): Resolver {
  return typeof (resolver as Partial<Resolver>).resolve === "function" ? (resolver as Resolver) : createResolver(resolver as ResolverOptions);
}

/**
 * Answers a request the resolver refuses (`resolver.refusal(answer)`): the 403 with the reason in the body and
 * the `x-clientaddr-refusal` header. Given the socket of an `upgrade` event, it writes the response on the
 * socket and closes it.
 */
export function refuse(target: ServerResponse | Duplex, refusal: Refusal): void {
  const headers = { "content-type": "application/json", "content-length": String(Buffer.byteLength(refusal.body)), [refusal.header]: refusal.reason, connection: "close" };
  if ("writeHead" in target) {
    target.writeHead(refusal.status, headers).end(refusal.body);
    return;
  }
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  target.end(`HTTP/1.1 ${refusal.status} Forbidden\r\n${head}\r\n${refusal.body}`);
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
