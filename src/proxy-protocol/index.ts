// clientaddr/proxy-protocol: the PROXY protocol (HAProxy's specification, v1 and v2) from trusted TCP load
// balancers. `acceptProxyProtocol(server, { trustedProxies })` reads the header of every connection from a
// balancer in that list and records the source it declared on the socket, where clientaddr/node's
// `resolveRequest` (and `declaredSource(socket)` from clientaddr) finds it.
export { DEFAULT_HEADER_TIMEOUT, ProxyProtocolError, acceptProxyProtocol, proxyHeader } from "./listener.js";
export type { ProxyProtocolErrorCode, ProxyProtocolOptions } from "./listener.js";
export { DEFAULT_MAX_HEADER_LENGTH, V1_MAX_LENGTH, V2_MAX_LENGTH, parseProxyHeader } from "./parse.js";
export type { ProxyHeaderParseResult, ProxyEndpoint, ProxyHeader, ProxyHeaderErrorCode, ProxyTlv } from "./parse.js";
export { DECLARED_SOURCE, declaredSource } from "../core/index.js";
