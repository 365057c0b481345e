// clientaddr/express on Express 5 and Express 4. Express serves no WebSocket; the http rows only.
import { createServer } from "node:http";
import express5 from "express";
import express4 from "express4";
import { describe, expect, it } from "vitest";
import { ClientAddressConfigError } from "../../src/core/index.js";
import { clientAddress, trustProxy } from "../../src/adapters/express/index.js";
import { describeAdapter, listen } from "./table.js";

for (const [name, express] of [["Express 5", express5], ["Express 4", express4]] as const) {
  describeAdapter({
    name,
    websocket: false,
    ip: true,
    start(resolver, options) {
      const app = express();
      app.set("trust proxy", trustProxy(options.trustedProxies ?? []));
      app.use(clientAddress(resolver));
      app.get("/answer", (req, res) => {
        res.json({ clientAddress: req.clientAddress, ip: req.ip });
      });
      return listen(createServer(app));
    },
  });
}

describe("clientaddr/express: configuration", () => {
  it("throws a bad option when the middleware is made, not on a request", () => {
    expect(() => clientAddress({ trustedProxies: ["nope"] })).toThrow(ClientAddressConfigError);
    expect(() => clientAddress({ localOrigins: ["localhost:5173"] })).toThrow(TypeError);
  });
});
