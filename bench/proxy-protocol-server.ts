// The server measured behind HAProxy: `node --import tsx bench/proxy-protocol-server.ts listener|plain PORT`.
// A node:http server on 127.0.0.1 that resolves every request with clientaddr/node (the built package) and
// answers the address; `listener` puts clientaddr/proxy-protocol in front of it (trusting 127.0.0.1, where
// HAProxy connects from). Prints "listening" once it is.
import { createServer } from "node:http";
import { resolveRequest } from "clientaddr/node";
import { acceptProxyProtocol } from "clientaddr/proxy-protocol";

const [mode, port] = process.argv.slice(2);
const options = { trustedProxies: [] };
const server = createServer((req, res) => {
  const text = resolveRequest(req, options).address ?? "unknown";
  // A length, so that ab's HTTP/1.0 keep-alive requests are kept alive (Node closes a 1.0 answer without one).
  res.setHeader("content-length", Buffer.byteLength(text)).end(text);
});
server.keepAliveTimeout = 30_000;
if (mode === "listener") acceptProxyProtocol(server, { trustedProxies: ["127.0.0.1"] });
server.listen(Number(port), "127.0.0.1", () => console.log("listening"));
