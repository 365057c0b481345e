// clientaddr/node on node:http, with `ws` answering the upgrade event.
import { readFileSync } from "node:fs";
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from "node:http";
import { createServer as createHttpsServer, request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { ClientAddressConfigError, compileTrustedProxies, createResolver } from "../../src/core/index.js";
import { resolveRequest, resolverOf, trustProxy } from "../../src/adapters/node/index.js";
import { describeAdapter, listen } from "./table.js";

describeAdapter({
  name: "node:http + ws",
  websocket: true,
  ip: false,
  start(resolver) {
    const server = createServer((req, res) => {
      res.setHeader("content-type", "application/json").end(JSON.stringify({ clientAddress: resolveRequest(req, resolver) }));
    });
    const wss = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) => {
      const answer = resolveRequest(req, resolver);
      wss.handleUpgrade(req, socket, head, (ws) => ws.send(JSON.stringify({ clientAddress: answer })));
    });
    return listen(server);
  },
});

describe("clientaddr/node: options and the trust function", () => {
  it("resolverOf makes a resolver from options at once (a bad option throws there), and hands a resolver back as it is", () => {
    expect(() => resolverOf({ trustedProxies: ["127.0.0.1", "nope"] })).toThrow(ClientAddressConfigError);
    expect(() => resolverOf({ localHosts: [""] })).toThrow(ClientAddressConfigError);
    const resolver = createResolver({ trustedProxies: ["127.0.0.1"] });
    expect(resolverOf(resolver)).toBe(resolver);
    const list = ["127.0.0.1"];
    const made = resolverOf({ trustedProxies: list });
    list[0] = "192.0.2.1";
    const request = { remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": "127.0.0.1" } };
    expect(made.resolve(request).basis).toBe("x-forwarded-for:loopback");
  });

  it("trustProxy asks the list as the walk does, from a list or a compiled one", () => {
    for (const trust of [trustProxy(["127.0.0.1", "10.0.0.0/8"]), trustProxy(compileTrustedProxies(["127.0.0.1", "10.0.0.0/8"]))]) {
      expect(["::ffff:127.0.0.1", "10.1.2.3", "10.1.2.3:8080", "127.0.0.2", "unknown"].map(trust)).toEqual([true, true, true, false, false]);
    }
    expect(() => trustProxy(["nope"])).toThrow(ClientAddressConfigError);
  });
});

describe("clientaddr/node: the connection's scheme", () => {
  const tls = { key: readFileSync(new URL("../proxy-protocol/tls/key.pem", import.meta.url)), cert: readFileSync(new URL("../proxy-protocol/tls/cert.pem", import.meta.url)) };
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const { loopbackEquivalent, basis } = resolveRequest(req);
    res.setHeader("content-type", "application/json").end(JSON.stringify({ loopbackEquivalent, basis }));
  };

  /** One request to `server` from 127.0.0.1, with Host localhost:PORT and the given Origin. */
  async function ask(server: Server, secure: boolean, origin: string): Promise<{ loopbackEquivalent: boolean; basis: string }> {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const options = { host: "127.0.0.1", port, headers: { host: `localhost:${port}`, origin: origin.replace("PORT", String(port)) }, rejectUnauthorized: false };
      const body = await new Promise<string>((resolve, reject) => {
        const req = (secure ? httpsRequest : httpRequest)(options, (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk)).on("end", () => resolve(text));
        });
        req.on("error", reject).end();
      });
      return JSON.parse(body) as { loopbackEquivalent: boolean; basis: string };
    } finally {
      server.close();
    }
  }

  it("an https server's request is secure: its own https page is local, an http page on its port is not", async () => {
    expect(await ask(createHttpsServer(tls, answer), true, "https://localhost:PORT")).toEqual({ loopbackEquivalent: true, basis: "socket:loopback" });
    expect(await ask(createHttpsServer(tls, answer), true, "http://localhost:PORT")).toEqual({ loopbackEquivalent: false, basis: "socket:origin-not-local" });
  });

  it("a plain http server's request is not: an https page on its port is another server", async () => {
    expect(await ask(createServer(answer), false, "http://localhost:PORT")).toEqual({ loopbackEquivalent: true, basis: "socket:loopback" });
    expect(await ask(createServer(answer), false, "https://localhost:PORT")).toEqual({ loopbackEquivalent: false, basis: "socket:origin-not-local" });
  });
});
