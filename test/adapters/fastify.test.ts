// clientaddr/fastify on Fastify 5, with a @fastify/websocket route.
import websocket from "@fastify/websocket";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { ClientAddressConfigError } from "../../src/core/index.js";
import { clientAddress, trustProxy } from "../../src/adapters/fastify/index.js";
import { describeAdapter } from "./table.js";

describeAdapter({
  name: "Fastify",
  websocket: true,
  ip: true,
  async start(resolver, options) {
    const app = Fastify({ trustProxy: trustProxy(options.trustedProxies ?? []) });
    await app.register(websocket);
    await app.register(clientAddress, resolver);
    app.get("/answer", async (request) => ({ clientAddress: request.clientAddress, ip: request.ip }));
    app.get("/ws", { websocket: true }, (socket, request) => {
      socket.send(JSON.stringify({ clientAddress: request.clientAddress, ip: request.ip }));
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    if (address === null || typeof address === "string") throw new Error(`Fastify listens on ${address}`);
    return { port: address.port, close: () => app.close() };
  },
});

describe("clientaddr/fastify: registration", () => {
  it("decorates requests of routes registered outside the plugin's own context", async () => {
    const app = Fastify();
    try {
      await app.register(clientAddress, { trustedProxies: ["127.0.0.1"] });
      await app.register(async (child) => {
        child.get("/child", async (request) => request.clientAddress.basis);
      });
      // inject() has a socket whose peer is 127.0.0.1; the plugin reads it as from a real one.
      const response = await app.inject({ url: "/child", headers: { host: "127.0.0.1", "x-forwarded-for": "203.0.113.7" } });
      expect(response.body).toBe("x-forwarded-for:remote-client");
    } finally {
      await app.close();
    }
  });

  it("resolves a request's client once, when first read, and hands every later read that same answer", async () => {
    const app = Fastify();
    try {
      await app.register(clientAddress, { trustedProxies: ["127.0.0.1"] });
      let inHook: unknown;
      app.addHook("preHandler", async (request) => {
        inHook = request.clientAddress;
      });
      app.get("/same", async (request) => ({ same: request.clientAddress === inHook && request.clientAddress === request.clientAddress, address: request.clientAddress.address }));
      const first = await app.inject({ url: "/same", headers: { host: "127.0.0.1", "x-forwarded-for": "203.0.113.7" } });
      const second = await app.inject({ url: "/same", headers: { host: "127.0.0.1", "x-forwarded-for": "198.51.100.9" } });
      expect([first.json(), second.json()]).toEqual([
        { same: true, address: "203.0.113.7" },
        { same: true, address: "198.51.100.9" },
      ]);
    } finally {
      await app.close();
    }
  });

  it("fails the app's start-up on a bad option", async () => {
    const app = Fastify();
    try {
      await expect(app.register(clientAddress, { trustedProxies: ["nope"] })).rejects.toThrow(ClientAddressConfigError);
    } finally {
      await app.close();
    }
  });
});
