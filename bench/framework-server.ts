// One server of the framework table, in a fresh process: `node --import tsx bench/framework-server.ts
// FRAMEWORK[:SLICE_MS] TRUSTED...` (FRAMEWORK express, express-define, fastify or node; bench/frameworks.ts
// names the trust list) listens on 127.0.0.1, on a port the system picks, and prints {"port": ...} as one
// line on stdout.
//
// The process holds both ways of answering, side by side: the framework's own app and the clientaddr app
// (for node, a bare handler and the same calling resolveRequest), and one node:http server hands each request
// to the way in force. Both ways share the process, its JIT and every slow phase of the machine: measured in a
// process each, the same Express app took 33 µs a request in some processes and 73 µs in others, on an idle
// machine, which no number of rounds averaged away.
//
// The two apps of a framework are the same but for the one thing measured: both set the framework's trust
// setting to clientaddr's trustProxy(trusted) (the adapters' documented set-up, and it costs nothing per
// request until `ip` is read: Express's req.ip and Fastify's request.ip are lazy getters), both have one route
// GET / that sends the client's address as text, and the clientaddr app adds the middleware or plugin (for
// express-define, `defineClientAddress(app, ...)` instead of the middleware) and reads
// `clientAddress.address` instead of `ip`. node's two ways answer `local`: one calls
// resolveRequest(req, resolver) (the resolver made once from TRUSTED, none given meaning no trusted proxies)
// and answers by its loopbackEquivalent. The adapters are imported from the built package by name (the
// package refers to itself through its exports map).
//
// The IPC channel (bench/frameworks.ts spawns it with one): the messages "own" and "clientaddr" set the way;
// "alternate" starts switching it every SLICE_MS (50 by default), counting the process's CPU time, the wall
// time and the requests answered to the way in force; "report" stops that and answers with the counts
// ({ own: { cpu, wall, requests }, clientaddr: ... }). Every other message is answered with the CPU time, as
// "cpu" is. The server exits when the channel closes, so that a driver that dies leaves no server behind.
import http from "node:http";
import type { AddressInfo } from "node:net";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
interface Ways {
  readonly own: Handler;
  readonly clientaddr: Handler;
}

/** Express's own app, or the clientaddr app with the middleware or with `defineClientAddress`. */
async function expressApp(clientaddr: "middleware" | "define" | null, trusted: string[]): Promise<Handler> {
  const { default: express } = await import("express");
  const { clientAddress, defineClientAddress, trustProxy } = await import("clientaddr/express");
  const app = express();
  app.set("trust proxy", trustProxy(trusted));
  if (clientaddr === null) {
    app.get("/", (req, res) => {
      res.send(req.ip);
    });
    return app;
  }
  if (clientaddr === "middleware") app.use(clientAddress({ trustedProxies: trusted }));
  else defineClientAddress(app, { trustedProxies: trusted });
  app.get("/", (req, res) => {
    res.send(req.clientAddress.address);
  });
  return app;
}

async function fastifyApp(clientaddr: boolean, trusted: string[]): Promise<Handler> {
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
  // Fastify's own request handler (the one its server is created with), without Fastify's server.
  await app.ready();
  return (req, res) => app.routing(req, res);
}

async function nodeWays(trusted: string[]): Promise<Ways> {
  const { createResolver } = await import("clientaddr");
  const { resolveRequest } = await import("clientaddr/node");
  const resolver = createResolver({ trustedProxies: trusted });
  return {
    own: (_req, res) => res.end("local"),
    clientaddr: (req, res) => res.end(resolveRequest(req, resolver).loopbackEquivalent ? "local" : "not local"),
  };
}

async function waysOf(framework: string, trusted: string[]): Promise<Ways> {
  if (framework === "node") return nodeWays(trusted);
  if (framework === "fastify") return { own: await fastifyApp(false, trusted), clientaddr: await fastifyApp(true, trusted) };
  return { own: await expressApp(null, trusted), clientaddr: await expressApp(framework === "express" ? "middleware" : "define", trusted) };
}

const [cell = "", ...trusted] = process.argv.slice(2);
const [framework = "", slice] = cell.split(":");
const SLICE_MS = Number(slice ?? 50);
if (!["express", "express-define", "fastify", "node"].includes(framework) || !(SLICE_MS > 0) || (framework !== "node" && trusted.length === 0)) {
  console.error("usage: framework-server.ts express|express-define|fastify[:SLICE_MS] TRUSTED... | node[:SLICE_MS] [TRUSTED...]");
  process.exit(2);
}
const ways = await waysOf(framework, trusted);
let resolving = false;
let answered = 0;
const server = http.createServer((req, res) => {
  answered++;
  (resolving ? ways.clientaddr : ways.own)(req, res);
});
const address = await new Promise<AddressInfo>((resolve, reject) => {
  server.once("error", reject);
  server.listen(0, "127.0.0.1", () => resolve(server.address() as AddressInfo));
});

if (process.send !== undefined) {
  const empty = () => ({ own: { cpu: 0, wall: 0, requests: 0 }, clientaddr: { cpu: 0, wall: 0, requests: 0 } });
  let slices = empty();
  let timer: NodeJS.Timeout | undefined;
  let mark = process.cpuUsage();
  let wallMark = performance.now();
  // Counts the CPU time, wall time and requests since the last switch to the way in force.
  const close = () => {
    const now = process.cpuUsage();
    const wall = performance.now();
    const counts = slices[resolving ? "clientaddr" : "own"];
    counts.cpu += now.user - mark.user + now.system - mark.system;
    counts.wall += wall - wallMark;
    counts.requests += answered;
    answered = 0;
    mark = now;
    wallMark = wall;
  };
  process.on("message", (message) => {
    if (message === "clientaddr" || message === "own") resolving = message === "clientaddr";
    if (message === "alternate") {
      slices = empty();
      answered = 0;
      mark = process.cpuUsage();
      wallMark = performance.now();
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
