// The framework adapters all go through resolveRequest, so a server behind acceptProxyProtocol gives each of
// them the declared client: one real server per framework on loopback, a v1 and a v2 header from the
// (trusted) balancer on 127.0.0.1, and the framework's own answer checked.
import { createAdaptorServer } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { clientAddress as expressClientAddress } from "../../src/adapters/express/index.js";
import { clientAddress as fastifyClientAddress } from "../../src/adapters/fastify/index.js";
import { type ClientAddressVariables, clientAddress as honoClientAddress } from "../../src/adapters/hono/index.js";
import { acceptProxyProtocol } from "../../src/proxy-protocol/index.js";
import { body, exchange, get, v1, v2 } from "./support.js";

const OPTIONS = { trustedProxies: ["loopback"] };

const FRAMEWORKS: Record<string, () => Promise<{ server: Server; close: () => Promise<void> }>> = {
  async express() {
    const app = express();
    app.use(expressClientAddress(OPTIONS));
    app.get("/", (req, res) => void res.json(req.clientAddress));
    const server = createServer(app);
    return { server, close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
  },
  async fastify() {
    const app = Fastify();
    await app.register(fastifyClientAddress, OPTIONS);
    app.get("/", async (request) => request.clientAddress);
    await app.ready();
    return { server: app.server, close: () => app.close() };
  },
  async hono() {
    const app = new Hono<{ Variables: ClientAddressVariables }>();
    app.use(honoClientAddress(OPTIONS));
    app.get("/", (c) => c.json(c.get("clientAddress")));
    const server = createAdaptorServer({ fetch: app.fetch }) as Server;
    return { server, close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
  },
};

describe.each(Object.keys(FRAMEWORKS))("%s behind acceptProxyProtocol", (name) => {
  it("answers the declared client, v1 and v2, and the balancer as the nearest hop", async () => {
    const { server, close } = await FRAMEWORKS[name]!();
    acceptProxyProtocol(server, { trustedProxies: ["127.0.0.1"] });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const remote = body((await exchange(port, [Buffer.concat([v1("198.51.100.4", "127.0.0.1"), get()])])).received);
      expect(remote).toMatchObject({ address: "198.51.100.4", loopbackEquivalent: false, basis: "proxy-protocol:remote-client" });
      const local = body((await exchange(port, [Buffer.concat([v2({ source: "::1", destination: "::1" }), get("/", "localhost:18789")])])).received);
      expect(local).toMatchObject({ address: "::1", loopbackEquivalent: true, basis: "proxy-protocol:loopback" });
      expect((local as { hops: unknown[] }).hops[0]).toEqual({ address: "127.0.0.1", trusted: true, source: "socket" });
    } finally {
      await close();
    }
  });
});
