// Two copies of the listener in one process, as the ES module and CommonJS builds are when both are loaded:
// here two instances of the source module (vi.resetModules between two imports), since the unit suite runs
// without a build. Each copy must see a server the other was installed on, and a socket the other read.
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { body, exchange, get, v1, v2 } from "./support.js";

type Listener = typeof import("../../src/proxy-protocol/index.js");

async function twoCopies(): Promise<[Listener, Listener]> {
  vi.resetModules();
  const first = await import("../../src/proxy-protocol/index.js");
  vi.resetModules();
  const second = await import("../../src/proxy-protocol/index.js");
  return [first, second];
}

const open: net.Server[] = [];
afterEach(async () => {
  for (const server of open.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function listen(server: net.Server): Promise<number> {
  open.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

describe("two copies of clientaddr/proxy-protocol in one process", () => {
  it("are two copies", async () => {
    const [first, second] = await twoCopies();
    expect(second.acceptProxyProtocol).not.toBe(first.acceptProxyProtocol);
  });

  it("either refuses to install on a server the other is installed on", async () => {
    const [first, second] = await twoCopies();
    const one = first.acceptProxyProtocol(createServer(), { trustedProxies: ["127.0.0.1"] });
    expect(() => second.acceptProxyProtocol(one, { trustedProxies: ["127.0.0.1"] })).toThrow(/already installed/);
    const other = second.acceptProxyProtocol(createServer(), { trustedProxies: ["127.0.0.1"] });
    expect(() => first.acceptProxyProtocol(other, { trustedProxies: ["127.0.0.1"] })).toThrow(/already installed/);
  });

  it("after a refused second install, a connection is read for one header: a second PROXY line is the client's, not a declaration", async () => {
    const [first, second] = await twoCopies();
    const server = first.acceptProxyProtocol(
      createServer((req: IncomingMessage, res: ServerResponse) => res.end(JSON.stringify({ declared: first.declaredSource(req.socket) }))),
      { trustedProxies: ["127.0.0.1"] },
    );
    expect(() => second.acceptProxyProtocol(server, { trustedProxies: ["127.0.0.1"] })).toThrow(/already installed/);
    const port = await listen(server);
    const { received } = await exchange(port, [Buffer.concat([v1("192.0.2.1", "127.0.0.1"), v1("192.0.2.2", "127.0.0.1"), get()])]);
    expect(received).toMatch(/^HTTP\/1\.1 400 /);
    expect(body((await exchange(port, [Buffer.concat([v1("192.0.2.1", "127.0.0.1"), get()])])).received)).toEqual({ declared: "192.0.2.1" });
  });

  it("a socket one copy read is passed on by the other's gate, and its header is the one either proxyHeader gives", async () => {
    const [first, second] = await twoCopies();
    // An http server (the second copy's) fed the sockets a net server (the first copy's) accepted: a LOCAL
    // header declares no source, so only the header itself tells the second gate that the socket was read.
    const http = second.acceptProxyProtocol(
      createServer((req: IncomingMessage, res: ServerResponse) => res.end(JSON.stringify({ first: first.proxyHeader(req.socket)?.command, second: second.proxyHeader(req.socket)?.command }))),
      { trustedProxies: ["127.0.0.1"] },
    );
    const front = first.acceptProxyProtocol(net.createServer((socket) => http.emit("connection", socket)), { trustedProxies: ["127.0.0.1"] });
    const port = await listen(front);
    const { received } = await exchange(port, [Buffer.concat([v2({ command: 0, family: 0x00, block: Buffer.alloc(0) }), get()])]);
    expect(body(received)).toEqual({ first: "local", second: "local" });
  });
});
