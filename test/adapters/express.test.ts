// clientaddr/express on Express 5 and Express 4. Express serves no WebSocket; the http rows only.
import { createServer, request } from "node:http";
import express5 from "express";
import express4 from "express4";
import { describe, expect, it } from "vitest";
import { ClientAddressConfigError, createResolver } from "../../src/core/index.js";
import { clientAddress, defineClientAddress, trustProxy } from "../../src/adapters/express/index.js";
import { describeAdapter, listen } from "./table.js";

for (const [name, express] of [["Express 5", express5], ["Express 4", express4]] as const) {
  // The middleware and the getter on the app's requests, each on its own: the same answers.
  for (const form of ["clientAddress()", "defineClientAddress()"] as const) {
    describeAdapter({
      name: `${name}, ${form}`,
      websocket: false,
      ip: true,
      start(resolver, options) {
        const app = express();
        app.set("trust proxy", trustProxy(options.trustedProxies ?? []));
        if (form === "clientAddress()") app.use(clientAddress(resolver));
        else defineClientAddress(app, resolver);
        app.get("/answer", (req, res) => {
          res.json({ clientAddress: req.clientAddress, ip: req.ip });
        });
        return listen(createServer(app));
      },
    });
  }
}

describe("clientaddr/express: configuration", () => {
  it("throws a bad option when the middleware is made, not on a request", () => {
    expect(() => clientAddress({ trustedProxies: ["nope"] })).toThrow(ClientAddressConfigError);
    expect(() => clientAddress({ localOrigins: ["localhost:5173"] })).toThrow(TypeError);
  });
});

/** GET `path` from 127.0.0.1 with `headers`; the body as text. */
function getText(port: number, path: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(body));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("clientaddr/express: defineClientAddress", () => {
  it("throws a bad option when it is called, and refuses unattributable: reject, which needs the middleware", () => {
    expect(() => defineClientAddress(express5(), { trustedProxies: ["nope"] })).toThrow(ClientAddressConfigError);
    const reject = () => defineClientAddress(express5(), { unattributable: "reject" });
    expect(reject).toThrow(ClientAddressConfigError);
    expect(reject).toThrow(/app\.use\(clientAddress\(resolver\)\)/);
    expect(() => defineClientAddress(express5(), createResolver({ unattributable: "reject" }))).toThrow(ClientAddressConfigError);
  });

  it("resolves a request once, when first read, and keeps that answer for the request", async () => {
    const app = express5();
    defineClientAddress(app, { trustedProxies: ["127.0.0.1"] });
    let reads = 0;
    app.get("/", (req, res) => {
      const first = req.clientAddress;
      reads++;
      res.json({ same: req.clientAddress === first, address: first.address, basis: first.basis });
    });
    const server = await listen(createServer(app));
    try {
      expect(JSON.parse(await getText(server.port, "/", { "x-forwarded-for": "203.0.113.7" }))).toEqual({ same: true, address: "203.0.113.7", basis: "x-forwarded-for:remote-client" });
      expect(JSON.parse(await getText(server.port, "/", { "x-forwarded-for": "198.51.100.2" }))).toEqual({ same: true, address: "198.51.100.2", basis: "x-forwarded-for:remote-client" });
      expect(reads).toBe(2);
    } finally {
      await server.close();
    }
  });

  it("reaches the apps mounted on the app, is not given to other apps, and a sub-app's own definition is its own", async () => {
    const app = express5();
    const mounted = express5();
    const own = express5();
    const other = express5();
    defineClientAddress(app, { trustedProxies: ["127.0.0.1"] });
    defineClientAddress(own, {});
    for (const sub of [mounted, own]) sub.get("/", (req, res) => void res.send(req.clientAddress.address));
    other.get("/", (req, res) => void res.send(String((req as { clientAddress?: unknown }).clientAddress)));
    app.use("/mounted", mounted);
    app.use("/own", own);
    const server = await listen(createServer(app));
    try {
      const forwarded = { "x-forwarded-for": "203.0.113.7" };
      expect(await getText(server.port, "/mounted", forwarded)).toBe("203.0.113.7");
      // Its own resolver trusts nobody: the peer is the client.
      expect(await getText(server.port, "/own", forwarded)).toBe("127.0.0.1");
    } finally {
      await server.close();
    }
    const alone = await listen(createServer(other));
    try {
      expect(await getText(alone.port, "/")).toBe("undefined");
    } finally {
      await alone.close();
    }
  });

  it("keeps the middleware's answer when both are used", async () => {
    const app = express5();
    defineClientAddress(app, {});
    app.use(clientAddress({ trustedProxies: ["127.0.0.1"] }));
    app.get("/", (req, res) => void res.send(req.clientAddress.address));
    const server = await listen(createServer(app));
    try {
      expect(await getText(server.port, "/", { "x-forwarded-for": "203.0.113.7" })).toBe("203.0.113.7");
    } finally {
      await server.close();
    }
  });
});
