// A user's app, run by .ci/run in a scratch project where the packed tarball and the frameworks are installed
// from the registry: every adapter serves a real server on loopback, loaded once with require() and once with
// import(), and the answers are checked. `load` is how the app gets a package: (name) => require(name) or
// (name) => import(name).
"use strict";
const http = require("node:http");

const TRUSTED = ["127.0.0.1"];

/** GET /answer on 127.0.0.1:port with the given header lines; the parsed JSON body. */
function get(port, headers) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/answer", headers, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => {
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error(`not JSON (status ${res.statusCode}): ${body.slice(0, 200)}`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("no answer in 5 s")));
    req.on("error", reject);
  });
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

/** The servers, each answering { address, loopback, ip } where `ip` is the framework's own, if it has one. */
const SERVERS = {
  async node(load) {
    const { resolveRequest } = await load("clientaddr/node");
    return http.createServer((req, res) => {
      const answer = resolveRequest(req, { trustedProxies: TRUSTED });
      res.end(JSON.stringify({ address: answer.address, loopback: answer.loopbackEquivalent }));
    });
  },
  async express(load) {
    const express = unwrap(await load("express"));
    const { clientAddress, trustProxy } = await load("clientaddr/express");
    const app = express();
    app.set("trust proxy", trustProxy(TRUSTED));
    app.use(clientAddress({ trustedProxies: TRUSTED }));
    app.get("/answer", (req, res) => {
      res.json({ address: req.clientAddress.address, loopback: req.clientAddress.loopbackEquivalent, ip: req.ip });
    });
    return http.createServer(app);
  },
  async fastify(load) {
    const Fastify = unwrap(await load("fastify"));
    const { clientAddress, trustProxy } = await load("clientaddr/fastify");
    const app = Fastify({ trustProxy: trustProxy(TRUSTED) });
    await app.register(clientAddress, { trustedProxies: TRUSTED });
    app.get("/answer", async (request) => ({
      address: request.clientAddress.address,
      loopback: request.clientAddress.loopbackEquivalent,
      ip: request.ip,
    }));
    await app.ready();
    return app.server;
  },
  async hono(load) {
    const { Hono } = await load("hono");
    const { createAdaptorServer } = await load("@hono/node-server");
    const { clientAddress } = await load("clientaddr/hono");
    const app = new Hono();
    app.use(clientAddress({ trustedProxies: TRUSTED }));
    app.get("/answer", (c) => {
      const answer = c.get("clientAddress");
      return c.json({ address: answer.address, loopback: answer.loopbackEquivalent });
    });
    return createAdaptorServer({ fetch: app.fetch });
  },
};

// import() of a CommonJS package gives its module.exports as `default`.
function unwrap(module) {
  return typeof module === "function" ? module : module.default;
}

function expectEqual(what, actual, expected) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  }
}

async function run(how, load) {
  const core = await load("clientaddr");
  const direct = core.resolveClientAddress({ remoteAddress: "::ffff:127.0.0.1", headers: { host: "localhost" } });
  expectEqual(`${how} clientaddr`, [direct.address, direct.loopbackEquivalent], ["127.0.0.1", true]);
  for (const [name, make] of Object.entries(SERVERS)) {
    const server = await make(load);
    try {
      const port = await listen(server);
      const local = await get(port, { host: `127.0.0.1:${port}` });
      expectEqual(`${how} ${name}, a local client`, [local.address, local.loopback], ["127.0.0.1", true]);
      const proxied = await get(port, { host: "gateway.example", "x-forwarded-for": "203.0.113.7" });
      expectEqual(`${how} ${name}, through a trusted proxy`, [proxied.address, proxied.loopback], ["203.0.113.7", false]);
      // The framework's own req.ip, from the same list, agrees.
      if ("ip" in proxied) expectEqual(`${how} ${name}, the framework's own ip`, proxied.ip, "203.0.113.7");
    } finally {
      server.close();
      server.closeAllConnections?.();
    }
  }
  await behindBalancer(how, load);
  console.log(`${how}: clientaddr, its four adapters and the PROXY protocol listener answer as documented`);
}

/**
 * clientaddr/proxy-protocol in front of clientaddr/node: a raw client on 127.0.0.1 (the trusted balancer)
 * declares 203.0.113.7 with a v1 header, then asks; the answer is the declared client.
 */
async function behindBalancer(how, load) {
  const net = require("node:net");
  const { acceptProxyProtocol } = await load("clientaddr/proxy-protocol");
  const { resolveRequest } = await load("clientaddr/node");
  const server = acceptProxyProtocol(
    http.createServer((req, res) => {
      const answer = resolveRequest(req, { trustedProxies: [] });
      res.end(JSON.stringify({ address: answer.address, basis: answer.basis }));
    }),
    { trustedProxies: ["127.0.0.1"] },
  );
  try {
    const port = await listen(server);
    const text = await new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port });
      let received = "";
      const timer = setTimeout(() => socket.destroy(new Error("no answer in 5 s")), 5000);
      socket.on("data", (data) => (received += data));
      socket.on("close", () => (clearTimeout(timer), resolve(received)));
      socket.on("error", reject);
      socket.end("PROXY TCP4 203.0.113.7 127.0.0.1 4000 80\r\nGET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    });
    const answer = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
    expectEqual(`${how} proxy-protocol, a declared client`, answer, { address: "203.0.113.7", basis: "proxy-protocol:remote-client" });
  } finally {
    server.close();
    server.closeAllConnections?.();
  }
}

module.exports = { run };
