// The server measured behind HAProxy: `node --import tsx bench/proxy-protocol-server.ts listener|floor|plain PORT`.
// A node:http server on 127.0.0.1 that resolves every request with clientaddr/node (the built package) and
// answers the address; `listener` puts clientaddr/proxy-protocol in front of it (trusting 127.0.0.1, where
// HAProxy connects from), `floor` only the least a listener does (bench/proxy-protocol-floor.ts). Prints
// "listening" once it is.
import { createServer } from "node:http";
import { resolveRequest } from "clientaddr/node";
import { acceptProxyProtocol } from "clientaddr/proxy-protocol";
import { readAndPutBack } from "./proxy-protocol-floor.js";

const [mode, port] = process.argv.slice(2);
const options = { trustedProxies: [] };
const server = createServer((req, res) => {
  const text = resolveRequest(req, options).address ?? "unknown";
  // A length, so that ab's HTTP/1.0 keep-alive requests are kept alive (Node closes a 1.0 answer without one).
  res.setHeader("content-length", Buffer.byteLength(text)).end(text);
});
server.keepAliveTimeout = 30_000;
if (mode === "listener") acceptProxyProtocol(server, { trustedProxies: ["127.0.0.1"] });
if (mode === "floor") readAndPutBack(server);
server.listen(Number(port), "127.0.0.1", () => console.log("listening"));
