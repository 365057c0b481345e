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
//
// node-switch is a bare node:http server answering `local` (bench/frameworks.ts measures the CPU
// resolveRequest adds) in two ways: calling resolveRequest(req, resolver) (the resolver made once from
// TRUSTED, none given meaning no trusted proxies) and answering by its loopbackEquivalent, or not. The IPC
// messages "clientaddr" and "own" set the way; "alternate" starts switching it every SLICE_MS (argument
// after the cell: node-switch:SLICE_MS), counting the process's CPU time and the requests answered to the way
// in force; "report" stops that and answers with the counts ({ own: { cpu, requests }, clientaddr: ... }).
// Every other message is answered with the CPU time, as "cpu" is.
import http from "node:http";
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

let resolving = false;
let answered = 0;

async function nodeServer(trusted: string[]): Promise<AddressInfo> {
  const { createResolver } = await import("clientaddr");
  const { resolveRequest } = await import("clientaddr/node");
  const resolver = createResolver({ trustedProxies: trusted });
  const server = http.createServer((req, res) => {
    answered++;
    res.end(!resolving || resolveRequest(req, resolver).loopbackEquivalent ? "local" : "not local");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address() as AddressInfo));
  });
}

const [cell = "", ...trusted] = process.argv.slice(2);
const [framework, variant] = cell.split("-");
const node = cell.startsWith("node-switch");
const SLICE_MS = Number(cell.split(":")[1] ?? 50);
if (!node && ((framework !== "express" && framework !== "fastify") || (variant !== "own" && variant !== "clientaddr") || trusted.length === 0)) {
  console.error(`usage: framework-server.ts express-own|express-clientaddr|fastify-own|fastify-clientaddr TRUSTED... | node-switch[:SLICE_MS] [TRUSTED...]`);
  process.exit(2);
}
const address = node ? await nodeServer(trusted) : framework === "express" ? await expressServer(variant === "clientaddr", trusted) : await fastifyServer(variant === "clientaddr", trusted);
if (process.send !== undefined) {
  let slices = { own: { cpu: 0, requests: 0 }, clientaddr: { cpu: 0, requests: 0 } };
  let timer: NodeJS.Timeout | undefined;
  let mark = process.cpuUsage();
  // Counts the CPU time and requests since the last switch to the way in force.
  const close = () => {
    const now = process.cpuUsage();
    const slice = slices[resolving ? "clientaddr" : "own"];
    slice.cpu += now.user - mark.user + now.system - mark.system;
    slice.requests += answered;
    answered = 0;
    mark = now;
  };
  process.on("message", (message) => {
    if (message === "clientaddr" || message === "own") resolving = message === "clientaddr";
    if (message === "alternate") {
      slices = { own: { cpu: 0, requests: 0 }, clientaddr: { cpu: 0, requests: 0 } };
      answered = 0;
      mark = process.cpuUsage();
      timer = setInterval(() => {
        close();
        resolving = !resolving;
      }, SLICE_MS);
    } else if (message === "report") {
      clearInterval(timer);
      close();
      process.send!(slices);
      return;
    }
    process.send!({ cpu: process.cpuUsage() });
  });
  process.on("disconnect", () => process.exit(0));
}
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
