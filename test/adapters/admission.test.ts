// Every adapter refuses an unattributable request before the app's handler when its resolver says "reject"
// (a 403 with the reason in the body and the x-clientaddr-refusal header; for an upgrade, on the socket), and
// lets it through, answered as remote, with "warn".
import { createServer, request } from "node:http";
import websocket from "@fastify/websocket";
import { createAdaptorServer } from "@hono/node-server";
import express5 from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { type Resolver, createResolver } from "../../src/core/index.js";
import { clientAddress as expressClientAddress } from "../../src/adapters/express/index.js";
import { clientAddress as fastifyClientAddress } from "../../src/adapters/fastify/index.js";
import { clientAddress as honoClientAddress } from "../../src/adapters/hono/index.js";
import { refuse, resolveRequest } from "../../src/adapters/node/index.js";
import { listen } from "./table.js";

/** A request from 127.0.0.1 that an undeclared proxy forwarded: unattributable. */
const FORWARDED = { "x-forwarded-for": "203.0.113.7" };

function get(port: number, headers: Record<string, string> = {}): Promise<{ status: number; refusal: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: "/", headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk)).on("end", () => resolve({ status: res.statusCode!, refusal: res.headers["x-clientaddr-refusal"] as string | undefined, body }));
    })
      .on("error", reject)
      .end();
  });
}

function upgrade(port: number, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers, handshakeTimeout: 10_000 });
    ws.on("open", () => {
      resolve("open");
      ws.close();
    });
    ws.on("unexpected-response", (_req, res) => {
      resolve(`http ${res.statusCode} ${res.headers["x-clientaddr-refusal"]}`);
      ws.terminate();
    });
    ws.on("error", (error) => resolve(`error ${error.message}`));
  });
}

const APPS: Record<string, (resolver: Resolver) => Promise<{ port: number; close(): Promise<void> }>> = {
  "node:http + ws": (resolver) => {
    const server = createServer((req, res) => {
      const refusal = resolver.refusal(resolveRequest(req, resolver));
      if (refusal !== null) return refuse(res, refusal);
      res.end("handled");
    });
    const wss = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) => {
      const refusal = resolver.refusal(resolveRequest(req, resolver));
      if (refusal !== null) return refuse(socket, refusal);
      wss.handleUpgrade(req, socket, head, (ws) => ws.close());
    });
    return listen(server);
  },
  Express: (resolver) => {
    const app = express5();
    app.use(expressClientAddress(resolver));
    app.get("/", (_req, res) => void res.send("handled"));
    return listen(createServer(app));
  },
  Fastify: async (resolver) => {
    const app = Fastify();
    await app.register(websocket);
    await app.register(fastifyClientAddress, resolver);
    app.get("/", async () => "handled");
    app.get("/ws", { websocket: true }, (socket) => socket.close());
    await app.ready();
    return listen(app.server);
  },
  Hono: (resolver) => {
    const app = new Hono();
    app.use(honoClientAddress(resolver));
    app.get("/", (c) => c.text("handled"));
    return listen(createAdaptorServer({ fetch: app.fetch }) as ReturnType<typeof createServer>);
  },
};

describe.each(Object.entries(APPS))("%s", (_, start) => {
  it("with reject, answers an unattributable request 403 before the handler, and serves the rest", async () => {
    const app = await start(createResolver({ unattributable: "reject" }));
    try {
      expect(await get(app.port, FORWARDED)).toEqual({ status: 403, refusal: "undeclared-proxy", body: '{"error":"unattributable","reason":"undeclared-proxy"}\n' });
      expect(await get(app.port)).toMatchObject({ status: 200, body: "handled" });
    } finally {
      await app.close();
    }
  });

  it("with warn, lets it through to the handler", async () => {
    const app = await start(createResolver());
    try {
      expect(await get(app.port, FORWARDED)).toMatchObject({ status: 200, body: "handled" });
    } finally {
      await app.close();
    }
  });
});

describe("an upgrade refused with reject is answered 403 on the socket and closed", () => {
  it.each(["node:http + ws", "Fastify"])("%s", async (name) => {
    const app = await APPS[name]!(createResolver({ unattributable: "reject" }));
    try {
      expect(await upgrade(app.port, FORWARDED)).toBe("http 403 undeclared-proxy");
      expect(await upgrade(app.port)).toBe("open");
    } finally {
      await app.close();
    }
  });
});
