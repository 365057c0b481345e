// clientaddr/hono on @hono/node-server, WebSocket routes through its upgradeWebSocket and `ws`.
import { createAdaptorServer, upgradeWebSocket } from "@hono/node-server";
import { Hono } from "hono";
import type { Server } from "node:http";
import { describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { ClientAddressConfigError } from "../../src/core/index.js";
import { type ClientAddressVariables, clientAddress } from "../../src/adapters/hono/index.js";
import { describeAdapter, listen } from "./table.js";

describeAdapter({
  name: "Hono",
  websocket: true,
  ip: false, // Hono has no proxy-walking address of its own
  start(resolver) {
    const app = new Hono<{ Variables: ClientAddressVariables }>();
    app.use(clientAddress(resolver));
    app.get("/answer", (c) => c.json({ clientAddress: c.get("clientAddress") }));
    app.get(
      "/ws",
      upgradeWebSocket((c) => {
        const answer = c.get("clientAddress");
        return { onOpen: (_event, ws) => ws.send(JSON.stringify({ clientAddress: answer })) };
      }),
    );
    // serve() without its listen(), so that every adapter here listens and closes the same way.
    return listen(createAdaptorServer({ fetch: app.fetch, websocket: { server: new WebSocketServer({ noServer: true }) } }) as Server);
  },
});

describe("clientaddr/hono: no Node request", () => {
  it("throws an error naming c.env.incoming where the runtime gives no socket", async () => {
    const app = new Hono<{ Variables: ClientAddressVariables }>();
    app.use(clientAddress());
    app.get("/answer", (c) => c.json({ clientAddress: c.get("clientAddress") }));
    let thrown: unknown;
    app.onError((error, c) => {
      thrown = error;
      return c.text("", 500);
    });
    // app.request() is Hono's fetch with no server behind it, as on a runtime without Node's request.
    const response = await app.request("/answer", { headers: { host: "127.0.0.1" } });
    expect(response.status).toBe(500);
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toContain("@hono/node-server's c.env.incoming");
  });

  it("throws a bad option when the middleware is made", () => {
    expect(() => clientAddress({ trustedProxies: ["nope"] })).toThrow(ClientAddressConfigError);
  });
});
