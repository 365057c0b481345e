// acceptProxyProtocol on real servers over raw loopback sockets: what a trusted balancer declares reaches
// resolveRequest; what anyone else sends is served as it is; every broken, slow, oversized or forged header
// from a balancer closes the connection without reaching the server.
import { readFileSync } from "node:fs";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import net, { type AddressInfo } from "node:net";
import tls from "node:tls";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { type ResolverOrOptions, resolveRequest } from "../../src/adapters/node/index.js";
import { DECLARED_SECURE, DECLARED_SOURCE, ClientAddressConfigError, connectionSecure, declaredSource } from "../../src/core/index.js";
import { type ProxyProtocolError, type ProxyProtocolOptions, acceptProxyProtocol, parseProxyHeader, proxyHeader } from "../../src/proxy-protocol/index.js";
import { body, exchange, get, v1, v2 } from "./support.js";

const BALANCER = ["127.0.0.1"]; // the listener's list; clients on 127.0.0.2 are not in it
const open: Array<net.Server> = [];
/** Client sockets a test opened with connect(): destroyed after each test, so that a failed test leaves none open to hold its server's close. */
const clients: net.Socket[] = [];

afterEach(async () => {
  for (const socket of clients.splice(0)) socket.destroy();
  for (const server of open.splice(0)) {
    (server as Server).closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function listen<T extends net.Server>(server: T): Promise<number> {
  open.push(server);
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", () => resolve()));
  return (server.address() as AddressInfo).port;
}

function answer(resolveOptions: ResolverOrOptions) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const header = proxyHeader(req.socket);
    res.setHeader("content-type", "application/json").end(
      JSON.stringify({
        result: resolveRequest(req, resolveOptions),
        declared: declaredSource(req.socket) === undefined ? "absent" : declaredSource(req.socket),
        secure: connectionSecure(req.socket),
        declaredSecure: (req.socket as { [DECLARED_SECURE]?: unknown })[DECLARED_SECURE] ?? "absent",
        header: header === undefined ? null : { ...header, tlvs: header.tlvs.map(({ type, value }) => ({ type, value: Buffer.from(value).toString("latin1") })) },
        url: req.url,
      }),
    );
  };
}

/**
 * An http server behind the listener, answering what it resolved; errors the listener reports, collected.
 * `reported(n)` is the codes reported once there are n of them, or "not within the limit" after 10 s.
 */
async function httpServer(options: Partial<ProxyProtocolOptions> = {}, resolveOptions: ResolverOrOptions = { trustedProxies: [] }) {
  const errors: ProxyProtocolError[] = [];
  const waiting: Array<() => void> = [];
  const onError = (error: ProxyProtocolError) => {
    errors.push(error);
    for (const wake of waiting.splice(0)) wake();
  };
  const server = acceptProxyProtocol(createServer(answer(resolveOptions)), { trustedProxies: BALANCER, onError, ...options });
  const reported = (count: number) =>
    within(
      new Promise<string[]>((resolve) => {
        const check = () => (errors.length >= count ? resolve(errors.map((error) => error.code)) : void waiting.push(check));
        check();
      }),
    );
  return { port: await listen(server), errors, server, reported };
}

type Answer = {
  result: Record<string, unknown> & { hops: unknown[] };
  declared: string | null;
  secure: boolean;
  declaredSecure: unknown;
  header: Record<string, unknown> | null;
  url: string;
};

/** A PP2_TYPE_SSL TLV: the client byte (PP2_CLIENT_SSL is 0x01), the verify result, then sub-TLVs (a version). */
function ssl(client: number, subTlvs = Buffer.from([0x21, 0x00, 0x07, ...Buffer.from("TLSv1.3")])) {
  return { type: 0x20, value: Buffer.concat([Buffer.from([client, 0, 0, 0, 0]), subTlvs]) };
}

/**
 * Wraps the server's emit after the listener's gate, as other code on the server may: `before` runs on each
 * event before the gate; `next()` is the next connection, once the gate has it (reading its header if it is
 * a balancer's).
 */
function around(server: net.Server, before: (event: string | symbol, socket: net.Socket) => void = () => undefined) {
  const waiting: Array<(socket: net.Socket) => void> = [];
  const gate = server.emit;
  server.emit = function (this: net.Server, event: string | symbol, ...args: unknown[]) {
    before(event, args[0] as net.Socket);
    const result = Reflect.apply(gate, this, [event, ...args]) as boolean;
    if (event === "connection") waiting.shift()?.(args[0] as net.Socket);
    return result;
  } as net.Server["emit"];
  return { next: () => new Promise<net.Socket>((resolve) => waiting.push(resolve)) };
}

/** A raw balancer connection to 127.0.0.1:port; `closed` settles with true once the server closes it. */
function connect(port: number) {
  const socket = net.connect({ host: "127.0.0.1", port });
  clients.push(socket);
  socket.setNoDelay(true);
  socket.on("error", () => undefined); // a reset is a close here
  return { socket, closed: new Promise<true>((resolve) => socket.once("close", () => resolve(true))) };
}

/** `promise`'s value, or "not within the limit" after `ms`: how long a failing test waits, well under the minute of header timeout it sets. */
function within<T>(promise: Promise<T>, ms = 10_000): Promise<T | "not within the limit"> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<"not within the limit">((resolve) => (timer = setTimeout(() => resolve("not within the limit"), ms)));
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** Resolves once `condition()` holds (checked every few milliseconds); rejects if it does not within `ms`. */
function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (condition()) resolve();
      else if (performance.now() > deadline) reject(new Error(`not within ${ms} ms`));
      else setTimeout(check, 5);
    };
    check();
  });
}

/** `promise`'s value; throws if it has none within `ms` (a bound for a hung test, not a slow machine). */
async function settled<T>(promise: Promise<T>, ms = 10_000): Promise<T> {
  const value = await within(promise, ms);
  if (value === "not within the limit") throw new Error(`not within ${ms} ms`);
  return value;
}

describe("from a trusted balancer: the header is read, never handed to HTTP, and the declared source is the client", () => {
  it("v1 with the request in the same segment (as AWS NLB sends v2 with the first data)", async () => {
    const { port } = await httpServer();
    const { received } = await exchange(port, [Buffer.concat([v1("203.0.113.7", "127.0.0.1"), get("/a")])]);
    const answered = body(received) as Answer;
    expect(answered.url).toBe("/a");
    expect(answered.declared).toBe("203.0.113.7");
    expect(answered.result).toMatchObject({ address: "203.0.113.7", loopbackEquivalent: false, basis: "proxy-protocol:remote-client" });
    expect(answered.result.hops).toEqual([
      { address: "127.0.0.1", trusted: true, source: "socket" },
      { address: "203.0.113.7", trusted: false, source: "proxy-protocol" },
    ]);
    expect(answered.header).toMatchObject({ version: 1, command: "proxy", family: "inet", source: { address: "203.0.113.7", port: 5555 }, length: 42 });
  });

  it("v2 with the request in the same segment; a browser on this host through a local balancer is loopback", async () => {
    const { port } = await httpServer();
    const page = get("/", "127.0.0.1:18789", "Origin: http://127.0.0.1:18789\r\n");
    const answered = body((await exchange(port, [Buffer.concat([v2({ source: "127.0.0.1" }), page])])).received) as Answer;
    expect(answered.result).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: true, basis: "proxy-protocol:loopback" });
  });

  it("a header split byte by byte, each byte its own segment, then the request in pieces", async () => {
    const { port } = await httpServer();
    const header = v2({ source: "2001:db8::7", destination: "::1", tlvs: [{ type: 0x04, value: Buffer.alloc(5) }], crc: "good" });
    const request = get("/split");
    const segments = [...[...header].map((byte) => Buffer.from([byte])), request.subarray(0, 5), request.subarray(5)];
    const answered = body((await exchange(port, segments, { gapMs: 2, waitMs: 10_000 })).received) as Answer;
    expect(answered.url).toBe("/split");
    expect(answered.result).toMatchObject({ address: "2001:db8::7", basis: "proxy-protocol:remote-client" });
  });

  it("v2 TLVs are exposed (copied) and a good CRC32C is accepted; a bad one closes the connection", async () => {
    const { port, errors } = await httpServer();
    const tlvs = [
      { type: 0x01, value: Buffer.from("http/1.1") }, // ALPN
      { type: 0x02, value: Buffer.from("gateway.example.com") }, // authority
      { type: 0xea, value: Buffer.from("\x01vpce-0123") }, // a custom (AWS) type
    ];
    const answered = body((await exchange(port, [Buffer.concat([v2({ tlvs, crc: "good" }), get()])])).received) as Answer;
    expect(answered.header!["tlvs"]).toEqual([...tlvs.map(({ type, value }) => ({ type, value: value.toString("latin1") })), { type: 0x03, value: expect.any(String) }]);
    expect(answered.declared).toBe("203.0.113.7");
    const bad = await exchange(port, [Buffer.concat([v2({ tlvs, crc: "bad" }), get()])]);
    expect(bad).toEqual({ received: "", closed: true });
    expect(errors.map((e) => e.code)).toEqual(["v2-crc32c"]);
    expect(errors[0]!.peer).toBe("127.0.0.1");
  });

  it("keep-alive: every request on the connection carries what its header declared", async () => {
    const { port } = await httpServer();
    const first = Buffer.from("GET /1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const { received } = await exchange(port, [Buffer.concat([v1("198.51.100.4", "127.0.0.1"), first]), get("/2")], { gapMs: 50 });
    const answers = received.split("HTTP/1.1 200").slice(1);
    expect(answers).toHaveLength(2);
    for (const text of answers) expect(text).toContain('"address":"198.51.100.4"');
  });

  it("a declared source that is itself a trusted proxy has its X-Forwarded-For walked", async () => {
    const { port } = await httpServer({}, { trustedProxies: ["10.0.0.0/8"] });
    const answered = body((await exchange(port, [Buffer.concat([v1("10.0.0.3", "127.0.0.1"), get("/", "127.0.0.1", "X-Forwarded-For: 198.51.100.4\r\n")])])).received) as Answer;
    expect(answered.result).toMatchObject({ address: "198.51.100.4", basis: "x-forwarded-for:remote-client" });
    expect(answered.result.hops).toHaveLength(3);
  });
});

describe("LOCAL, UNSPEC, UNIX, UNKNOWN", () => {
  it("LOCAL (a health check) keeps the socket peer: nothing is declared", async () => {
    const { port } = await httpServer();
    const answered = body((await exchange(port, [Buffer.concat([v2({ command: 0, family: 0x00, block: Buffer.alloc(0) }), get()])])).received) as Answer;
    expect(answered.declared).toBe("absent");
    expect(answered.header).toMatchObject({ version: 2, command: "local" });
    expect(answered.result).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" });
  });

  it.each([
    ["v2 PROXY with AF_UNSPEC", v2({ family: 0x00, block: Buffer.alloc(0) })],
    ["v2 PROXY with AF_UNIX", v2({ family: 0x31, block: Buffer.alloc(216, 0x61) })],
    ["v2 PROXY over UDP (a datagram cannot be this connection)", v2({ family: 0x12 })],
    ["v1 UNKNOWN", Buffer.from("PROXY UNKNOWN\r\n")],
    ["v1 UNKNOWN with addresses", Buffer.from("PROXY UNKNOWN 127.0.0.1 127.0.0.1 1 2\r\n")],
  ])("%s leaves the client unknown: not local", async (_name, header) => {
    const { port } = await httpServer();
    const answered = body((await exchange(port, [Buffer.concat([header, get()])])).received) as Answer;
    expect(answered.declared).toBeNull();
    expect(answered.result).toMatchObject({ address: null, loopbackEquivalent: false, basis: "proxy-protocol:invalid-peer" });
  });
});

describe("from a peer not in the list, no header is read", () => {
  it("a forged header cannot choose the client: the PROXY line is not HTTP, and Node answers 400", async () => {
    const { port, errors } = await httpServer();
    const forged = await exchange(port, [Buffer.concat([v1("127.0.0.1", "127.0.0.1"), get()])], { localAddress: "127.0.0.2" });
    expect(forged.received).toMatch(/^HTTP\/1\.1 400 /);
    const forgedV2 = await exchange(port, [Buffer.concat([v2({ source: "127.0.0.1" }), get()])], { localAddress: "127.0.0.2" });
    expect(forgedV2.received).toMatch(/^HTTP\/1\.1 400 /);
    expect(errors).toEqual([]);
  });

  it("its plain request is served as it is, with its own address as the client", async () => {
    const { port } = await httpServer();
    const answered = body((await exchange(port, [get()], { localAddress: "127.0.0.2" })).received) as Answer;
    expect(answered.declared).toBe("absent");
    expect(answered.header).toBeNull();
    expect(answered.result).toMatchObject({ address: "127.0.0.2", basis: "socket:loopback" });
  });
});

describe("a broken header from a trusted balancer closes the connection before the server sees it", () => {
  const cases: Array<[string, Uint8Array[], string]> = [
    ["no header at all (a plain request)", [get()], "not-proxy-protocol"],
    ["garbage", [Buffer.from("\x16\x03\x01\x02\x00garbage")], "not-proxy-protocol"],
    ["a v1 line longer than 107 bytes", [Buffer.from(`PROXY TCP4 ${"1".repeat(120)}`)], "v1-too-long"],
    ["a v1 line with a legacy address", [Buffer.concat([Buffer.from("PROXY TCP4 0177.0.0.1 127.0.0.1 1 2\r\n"), get()])], "v1-address"],
    ["a v2 header over the size bound (refused from its 16 fixed bytes)", [v2({ length: 5000 }).subarray(0, 16)], "v2-too-long"],
    ["a v2 header whose TLV runs past its end", [Buffer.concat([v2({ tlvs: [{ type: 0x04, value: Buffer.alloc(4) }], length: 12 + 5 }), get()])], "v2-tlv"],
    ["a v2 header of version 3", [Buffer.concat([v2({ version: 3 }), get()])], "v2-version"],
  ];
  it.each(cases)("%s", async (_name, segments, code) => {
    let served = 0;
    const errors: ProxyProtocolError[] = [];
    const server = acceptProxyProtocol(createServer((_req, res) => (served++, res.end())), { trustedProxies: BALANCER, onError: (error) => errors.push(error) });
    const port = await listen(server);
    const result = await exchange(port, segments);
    expect(result).toEqual({ received: "", closed: true });
    expect(served).toBe(0);
    expect(errors.map((error) => error.code)).toEqual([code]);
    expect(errors[0]!.message).toContain("connection from 127.0.0.1 closed");
  });

  it("a slow header is closed when the header timeout passes, not before", async () => {
    const { port, errors } = await httpServer({ headerTimeout: 300 });
    const started = performance.now();
    const result = await exchange(port, [Buffer.from("PROXY TCP4 203.0.")], { waitMs: 10_000 });
    expect(result).toEqual({ received: "", closed: true });
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(errors.map((e) => e.code)).toEqual(["timeout"]);
  });

  it("a connection the server's own code destroys while its header is awaited is not reported when the timeout passes", async () => {
    const { port, errors, server } = await httpServer({ headerTimeout: 1_500 });
    // Other code on the server (it wraps emit after the listener) destroys the first connection as soon as the
    // gate has taken it in: its header's deadline is running, and nothing else will end its wait.
    const gate = server.emit;
    let destroyed: net.Socket | undefined;
    server.emit = function (this: Server, event: string | symbol, ...args: unknown[]) {
      const handled = Reflect.apply(gate, this, [event, ...args]) as boolean;
      if (event === "connection" && destroyed === undefined) (destroyed = args[0] as net.Socket).destroy();
      return handled;
    } as Server["emit"];
    expect(await exchange(port, [Buffer.from("PROXY TCP4 203.0.")], { waitMs: 10_000 })).toEqual({ received: "", closed: true });
    // A second balancer connection stalls in its header from now on: its deadline is later than the first's, so by
    // the time the listener closes it for its timeout, the first's deadline has passed too (the listener's sweep
    // ends every passed deadline, the earlier first). Only the second is reported.
    expect(await exchange(port, [Buffer.from("PROXY TCP4 203.0.")], { waitMs: 10_000 })).toEqual({ received: "", closed: true });
    expect(errors.map((e) => e.code)).toEqual(["timeout"]);
    // The gate still reads the next balancer's header.
    const answered = body((await exchange(port, [Buffer.concat([v1("192.0.2.9", "127.0.0.1"), get()])])).received) as Answer;
    expect(answered.declared).toBe("192.0.2.9");
  });

  it("a connection reset inside its header is reported, and the server goes on", async () => {
    const { port, errors, server, reported } = await httpServer();
    const taken = around(server).next();
    const balancer = connect(port);
    balancer.socket.write(v2().subarray(0, 10));
    const socket = await settled(taken); // the gate is reading its header
    // Reset once the server has read what was sent: the reset then reaches its next read as an error.
    await until(() => socket.bytesRead >= 10);
    balancer.socket.resetAndDestroy();
    expect(await reported(1)).toEqual(["ended"]);
    expect(errors[0]!.message).toContain("failed before its PROXY protocol header was complete (read ECONNRESET)");
    const answered = body((await exchange(port, [Buffer.concat([v1("192.0.2.9", "127.0.0.1"), get()])])).received) as Answer;
    expect(answered.declared).toBe("192.0.2.9");
  });

  it("a connection that ends inside its header is closed", async () => {
    const { port, errors } = await httpServer();
    const result = await exchange(port, [v2().subarray(0, 20)], { end: true });
    expect(result.closed).toBe(true);
    expect(errors.map((e) => e.code)).toEqual(["ended"]);
  });
});

describe("https, ws and net servers", () => {
  const key = readFileSync(new URL("./tls/key.pem", import.meta.url));
  const cert = readFileSync(new URL("./tls/cert.pem", import.meta.url));

  it("https: TLS starts after the header; the TLS socket answers for the balancer's connection", async () => {
    const server = acceptProxyProtocol(createHttpsServer({ key, cert }, answer({})), { trustedProxies: BALANCER });
    const port = await listen(server);
    const answered = await new Promise<Answer>((resolve, reject) => {
      const raw = net.connect({ host: "127.0.0.1", port });
      raw.once("connect", () => {
        raw.write(v2({ source: "2001:db8::9", destination: "::1", tlvs: [ssl(0x01)] }));
        const secure = tls.connect({ socket: raw, rejectUnauthorized: false, servername: "localhost" });
        let text = "";
        secure.on("data", (data) => (text += data));
        secure.on("end", () => resolve(body(text) as Answer));
        secure.on("error", reject);
        secure.write(get());
      });
    });
    expect(answered.declared).toBe("2001:db8::9");
    expect(answered.declaredSecure).toBe(true);
    expect(answered.result).toMatchObject({ address: "2001:db8::9", basis: "proxy-protocol:remote-client" });
    expect(answered.header).toMatchObject({ version: 2, family: "inet6" });
  });

  it("https: a TLS socket whose source other code declared otherwise is closed, not served", async () => {
    let served = 0;
    const server = acceptProxyProtocol(createHttpsServer({ key, cert }, (_req, res) => (served++, res.end())), { trustedProxies: BALANCER });
    around(server, (event, socket) => {
      if (event === "secureConnection") Object.defineProperty(socket, DECLARED_SOURCE, { value: "192.0.2.77" });
    });
    const port = await listen(server);
    let received = "";
    const closed = new Promise<true>((resolve) => {
      const raw = net.connect({ host: "127.0.0.1", port });
      raw.once("connect", () => {
        raw.write(v2());
        const secure = tls.connect({ socket: raw, rejectUnauthorized: false, servername: "localhost" });
        secure.on("data", (data) => (received += data));
        secure.on("close", () => resolve(true));
        secure.on("error", () => undefined);
        secure.write(get());
      });
    });
    expect(await within(closed)).toBe(true);
    expect(received).toBe("");
    expect(served).toBe(0);
  });

  it("ws: the upgrade request resolves to the declared source", async () => {
    const server = acceptProxyProtocol(createServer(), { trustedProxies: BALANCER });
    const wss = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) => {
      const result = resolveRequest(req);
      wss.handleUpgrade(req, socket, head, (ws) => ws.send(JSON.stringify(result)));
    });
    const port = await listen(server);
    const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
        createConnection: () => {
          const socket = net.connect({ host: "127.0.0.1", port });
          socket.write(v1("127.0.0.1", "127.0.0.1")); // queued before the handshake: the header comes first
          return socket;
        },
      });
      ws.on("message", (data) => (resolve(JSON.parse(String(data))), ws.close()));
      ws.on("error", reject);
    });
    wss.close();
    expect(result).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: true, basis: "proxy-protocol:loopback" });
  });

  it("net: a 'connection' listener added after the listener still sees the connection only after its header", async () => {
    const server = acceptProxyProtocol(net.createServer(), { trustedProxies: BALANCER });
    const seen = new Promise<{ first: string; declared: string | null | undefined }>((resolve) => {
      server.on("connection", (socket) => socket.once("data", (data) => resolve({ first: data.toString(), declared: declaredSource(socket) })));
    });
    const port = await listen(server);
    const balancer = connect(port);
    balancer.socket.write(Buffer.concat([v1("192.0.2.5", "127.0.0.1"), Buffer.from("hello")]));
    expect(await within(seen)).toEqual({ first: "hello", declared: "192.0.2.5" });
    balancer.socket.destroy();
  });

  it("what was declared cannot be overwritten afterwards", async () => {
    const server = acceptProxyProtocol(net.createServer(), { trustedProxies: BALANCER });
    const tried = new Promise<unknown>((resolve) => {
      server.on("connection", (socket) => {
        try {
          (socket as unknown as Record<symbol, unknown>)[DECLARED_SOURCE] = "127.0.0.1";
          resolve("overwritten");
        } catch (error) {
          resolve(declaredSource(socket));
        }
      });
    });
    const port = await listen(server);
    const balancer = connect(port);
    balancer.socket.write(v1("192.0.2.5", "127.0.0.1"));
    expect(await within(tried)).toBe("192.0.2.5");
    balancer.socket.destroy();
  });
});

describe("declared TLS: a v2 header's PP2_TYPE_SSL TLV with PP2_CLIENT_SSL", () => {
  it.each([
    ["v2 with PP2_CLIENT_SSL set", true, v2({ tlvs: [ssl(0x01)] })],
    ["v2 with PP2_CLIENT_SSL and the certificate flags set", true, v2({ tlvs: [{ type: 0x04, value: Buffer.alloc(2) }, ssl(0x07)] })],
    ["v2 with an SSL TLV whose PP2_CLIENT_SSL is clear", false, v2({ tlvs: [ssl(0x06)] })],
    ["v2 with an SSL TLV shorter than its client byte and verify field", false, v2({ tlvs: [{ type: 0x20, value: Buffer.from([0x01]) }] })],
    ["v2 without an SSL TLV", false, v2({ tlvs: [{ type: 0x01, value: Buffer.from("http/1.1") }] })],
    ["v1", false, v1("203.0.113.7", "127.0.0.1")],
  ])("%s: connectionSecure is %s", async (_name, secure, header) => {
    const { port } = await httpServer();
    const answered = body((await exchange(port, [Buffer.concat([header, get()])])).received) as Answer;
    expect(answered.declared).toBe("203.0.113.7");
    expect(answered.secure).toBe(secure);
    expect(answered.declaredSecure).toBe(secure ? true : "absent");
  });

  it("what was declared cannot be overwritten afterwards", async () => {
    const server = acceptProxyProtocol(net.createServer(), { trustedProxies: BALANCER });
    const seen = new Promise<net.Socket>((resolve) => server.on("connection", resolve));
    const port = await listen(server);
    const balancer = connect(port);
    balancer.socket.write(v2({ tlvs: [ssl(0x01)] }));
    const socket = await settled(seen);
    expect(() => ((socket as unknown as Record<symbol, unknown>)[DECLARED_SECURE] = false)).toThrow(TypeError);
    expect(Object.getOwnPropertyDescriptor(socket, DECLARED_SECURE)).toEqual({ value: true, writable: false, enumerable: false, configurable: false });
    expect(connectionSecure(socket)).toBe(true);
    balancer.socket.destroy();
  });
});

describe("the kept header reads as the parser's", () => {
  it("its fields and TLVs (Buffers, as the parser's views of a socket's bytes), to spread, JSON.stringify and util.inspect", async () => {
    const sent = v2({ source: "2001:db8::5", destination: "::1", tlvs: [{ type: 0x01, value: Buffer.from("h2") }, { type: 0x04, value: Buffer.alloc(0) }, ssl(0x01)], crc: "good" });
    const parsed = parseProxyHeader(sent);
    if (parsed.status !== "header") throw new Error(parsed.status);
    const server = acceptProxyProtocol(net.createServer(), { trustedProxies: BALANCER });
    const seen = new Promise<net.Socket>((resolve) => server.on("connection", resolve));
    const port = await listen(server);
    const balancer = connect(port);
    balancer.socket.write(sent);
    const kept = proxyHeader(await settled(seen))!;
    balancer.socket.destroy();
    expect(Object.keys(kept)).toEqual(Object.keys(parsed.header));
    expect(JSON.stringify(kept)).toBe(JSON.stringify(parsed.header));
    expect(inspect(kept, { depth: 5 })).toBe(inspect(parsed.header, { depth: 5 }));
    expect({ ...kept }.tlvs).toEqual(parsed.header.tlvs);
    expect(kept.tlvs).toBe(kept.tlvs);
  });
});

describe("a socket declared by other code", () => {
  it("before the gate: served as it is, with that declaration, no header read", async () => {
    const { port, errors, server } = await httpServer();
    around(server, (event, socket) => {
      if (event === "connection") Object.defineProperty(socket, DECLARED_SOURCE, { value: "192.0.2.77" });
    });
    const answered = body((await exchange(port, [get("/plain")])).received) as Answer;
    expect(answered).toMatchObject({ url: "/plain", declared: "192.0.2.77", header: null });
    expect(errors).toEqual([]);
  });

  it("while its header is read: closed and reported, never thrown (the process goes on)", async () => {
    const { port, errors, server } = await httpServer();
    const taken = around(server).next();
    const header = v2({ tlvs: [ssl(0x01)] });
    const balancer = connect(port);
    balancer.socket.write(header.subarray(0, 20));
    const socket = await taken;
    Object.defineProperty(socket, DECLARED_SOURCE, { value: "192.0.2.77" });
    balancer.socket.write(Buffer.concat([header.subarray(20), get()]));
    expect(await within(balancer.closed)).toBe(true);
    expect(errors.map((e) => e.code)).toEqual(["redeclared"]);
    expect(declaredSource(socket)).toBe("192.0.2.77");
    expect(proxyHeader(socket)).toBeUndefined();
    // The gate still reads the next balancer's header.
    expect((body((await exchange(port, [Buffer.concat([v1("192.0.2.9", "127.0.0.1"), get()])])).received) as Answer).declared).toBe("192.0.2.9");
  });
});

describe("shutdown: a connection still waiting for its header is idle", () => {
  const key = readFileSync(new URL("./tls/key.pem", import.meta.url));
  const cert = readFileSync(new URL("./tls/cert.pem", import.meta.url));
  const kinds = {
    net: () => net.createServer(),
    http: () => createServer(),
    https: () => createHttpsServer({ key, cert }),
  };
  it.each([
    ["http", "closeAllConnections"],
    ["https", "closeAllConnections"],
    ["http", "closeIdleConnections"],
    ["https", "closeIdleConnections"],
    ["net", "close"],
    ["http", "close"],
    ["https", "close"],
  ] as const)("%s: %s() closes it at once (a header timeout of a minute notwithstanding)", async (kind, method) => {
    const errors: ProxyProtocolError[] = [];
    const server = acceptProxyProtocol(kinds[kind](), { trustedProxies: BALANCER, headerTimeout: 60_000, onError: (error) => errors.push(error) });
    const taken = around(server).next();
    const port = await listen(server);
    const balancer = connect(port);
    balancer.socket.write(v2().subarray(0, 20));
    await taken;
    if (method === "close") {
      const closed = new Promise<string>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve("closed"))));
      expect(await within(closed)).toBe("closed");
    } else {
      (server as Server)[method]();
    }
    expect(await within(balancer.closed)).toBe(true);
    expect(errors).toEqual([]);
  });

  it("http: close() ends the one waiting, and lets a request in progress finish", async () => {
    const responses: ServerResponse[] = [];
    let requested!: () => void;
    const request = new Promise<void>((resolve) => (requested = resolve));
    const server = acceptProxyProtocol(createServer((_req, res) => (responses.push(res), requested())), { trustedProxies: BALANCER, headerTimeout: 60_000 });
    const connections = around(server);
    const port = await listen(server);
    const served = exchange(port, [Buffer.concat([v1("192.0.2.9", "127.0.0.1"), get()])], { waitMs: 10_000 });
    await request;
    const taken = connections.next();
    const waiting = connect(port);
    waiting.socket.write(v2().subarray(0, 20));
    await taken;
    const closed = new Promise<string>((resolve) => server.close(() => resolve("closed")));
    expect(await within(waiting.closed)).toBe(true);
    responses[0]!.end("done");
    expect((await served).received).toMatch(/^HTTP\/1\.1 200 [^]*done$/);
    expect(await within(closed)).toBe("closed");
  });
});

describe("options", () => {
  it("throws at once on a bad option, and on a second install", () => {
    expect(() => acceptProxyProtocol(createServer(), {} as ProxyProtocolOptions)).toThrow(TypeError);
    expect(() => acceptProxyProtocol(createServer(), { trustedProxies: ["nope"] })).toThrow(ClientAddressConfigError);
    expect(() => acceptProxyProtocol(createServer(), { trustedProxies: BALANCER, headerTimeout: 0 })).toThrow(/headerTimeout/);
    expect(() => acceptProxyProtocol(createServer(), { trustedProxies: BALANCER, maxHeaderLength: 70_000 })).toThrow(/maxHeaderLength/);
    const server = acceptProxyProtocol(createServer(), { trustedProxies: BALANCER });
    expect(() => acceptProxyProtocol(server, { trustedProxies: BALANCER })).toThrow(/already installed/);
  });
});
