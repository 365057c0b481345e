// A TypeScript user of the packed tarball. .ci/run compiles this one file as a CommonJS module (.cts), as an
// ES module (.mts) under moduleResolution node16, and under bundler: each entry point's types must resolve,
// and the adapters' augmentations must type what they set.
import { type ClientAddress, ClientAddressConfigError, type Resolver, compileTrustedProxies, createResolver, parseTrustedProxies, resolveClientAddress } from "clientaddr";
import { resolveRequest } from "clientaddr/node";
import * as express from "clientaddr/express";
import * as fastify from "clientaddr/fastify";
import { type ClientAddressVariables, clientAddress as honoClientAddress } from "clientaddr/hono";
import { type ProxyHeader, acceptProxyProtocol, proxyHeader } from "clientaddr/proxy-protocol";
import type { Request } from "express";
import type { FastifyRequest } from "fastify";
import { type IncomingMessage, createServer } from "node:http";

const trusted = parseTrustedProxies("172.18.0.1, 127.0.0.1", "TRUSTED_PROXIES");
export const again = compileTrustedProxies(["::1"]);
const answer: ClientAddress = resolveClientAddress({ remoteAddress: "172.18.0.1", trustedProxies: trusted });
export const local: boolean = answer.loopbackEquivalent;
export const fromNode = (req: IncomingMessage): string | null => resolveRequest(req, { trustedProxies: trusted }).address;
export const resolver: Resolver = createResolver({ trustedProxies: trusted, localOrigins: ["http://localhost:5173"] });
export const fromResolver = (req: IncomingMessage): boolean => resolveRequest(req, resolver).loopbackEquivalent;
export const isConfigError = (error: unknown): boolean => error instanceof ClientAddressConfigError && error.option === "trustedProxies";
export const fromExpress = (req: Request): boolean => req.clientAddress.loopbackEquivalent;
export const fromFastify = (request: FastifyRequest): boolean => request.clientAddress.loopbackEquivalent;
export const middlewares = [express.clientAddress({ trustedProxies: trusted }), express.clientAddress(resolver), honoClientAddress(resolver)];
export const plugin = fastify.clientAddress;
export const trust: (address: string) => boolean = express.trustProxy(["127.0.0.1"]);
export type Variables = ClientAddressVariables;
export const balanced = acceptProxyProtocol(createServer(), { trustedProxies: ["10.0.0.5"], headerTimeout: 5_000 });
export const header = (req: IncomingMessage): ProxyHeader | undefined => proxyHeader(req.socket);
