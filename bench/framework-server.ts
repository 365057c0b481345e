// One server of the framework table, in a fresh process: `node --import tsx bench/framework-server.ts CELL
// TRUSTED...` (bench/frameworks.ts names the cells and the trust list) listens on 127.0.0.1, on a port the
// system picks, and prints {"port": ...} as one line on stdout. With an
// IPC channel (bench/frameworks.ts spawns it with one) it answers each message with its process.cpuUsage(),
// so that the driver can tell whether the server was the bottleneck, and it exits when the channel closes,
// so that a driver that dies leaves no server behind.
//
// The two cells of a framework are the same app but for the one thing measured: both set the framework's
// trust setting to clientaddr's trustProxy(trusted) (the adapters' documented set-up, and it costs nothing
// per request until `ip` is read: Express's req.ip and Fastify's request.ip are lazy getters), both have one
// route GET / that sends the client's address as text, and the clientaddr cell adds the middleware or
// plugin and reads `clientAddress.address` instead of `ip`. The adapters are imported from the built package
// by name (the package refers to itself through its exports map).
import type { AddressInfo } from "node:net";

async function expressServer(clientaddr: boolean, trusted: string[]): Promise<AddressInfo> {
  const { default: express } = await import("express");
  const { clientAddress, trustProxy } = await import("clientaddr/express");
  const app = express();
  app.set("trust proxy", trustProxy(trusted));
  if (clientaddr) {
    app.use(clientAddress({ trustedProxies: trusted }));
    app.get("/", (req, res) => {
      res.send(req.clientAddress.address);
    });
  } else {
    app.get("/", (req, res) => {
      res.send(req.ip);
    });
  }
  return new Promise((resolve, reject) => {
    const server = app.listen(0, "127.0.0.1", (error?: Error) => (error ? reject(error) : resolve(server.address() as AddressInfo)));
  });
}

async function fastifyServer(clientaddr: boolean, trusted: string[]): Promise<AddressInfo> {
  const { default: Fastify } = await import("fastify");
  const { clientAddress, trustProxy } = await import("clientaddr/fastify");
  const app = Fastify({ trustProxy: trustProxy(trusted) });
  if (clientaddr) {
    await app.register(clientAddress, { trustedProxies: trusted });
    app.get("/", (request, reply) => {
      reply.send(request.clientAddress.address);
    });
  } else {
    app.get("/", (request, reply) => {
      reply.send(request.ip);
    });
  }
  await app.listen({ port: 0, host: "127.0.0.1" });
  return app.server.address() as AddressInfo;
}

const [cell = "", ...trusted] = process.argv.slice(2);
const [framework, variant] = cell.split("-");
if ((framework !== "express" && framework !== "fastify") || (variant !== "own" && variant !== "clientaddr") || trusted.length === 0) {
  console.error(`usage: framework-server.ts express-own|express-clientaddr|fastify-own|fastify-clientaddr TRUSTED...`);
  process.exit(2);
}
const address = framework === "express" ? await expressServer(variant === "clientaddr", trusted) : await fastifyServer(variant === "clientaddr", trusted);
if (process.send !== undefined) {
  process.on("message", () => process.send!({ cpu: process.cpuUsage() }));
  process.on("disconnect", () => process.exit(0));
}
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
