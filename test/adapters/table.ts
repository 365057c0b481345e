// The one table every adapter answers: each row is a request (the source address the client binds, its raw
// header lines, the options the server is started with). For every adapter and every row, a real server on
// 127.0.0.1:0 gets the request from node:http (and, where the adapter serves WebSockets, as a `ws` handshake),
// and its answer must be the core's answer for the same peer and the same header lines.
import { type Server, request } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type Basis, type ClientAddressData, type ResolverOptions, createResolver, resolveClientAddress } from "../../src/core/index.js";
import type { ResolverOrOptions } from "../../src/adapters/node/index.js";

export interface Row {
  readonly name: string;
  /** The client's source address, so the server's socket peer: any 127/8 address reaches 127.0.0.1. */
  readonly peer: "127.0.0.1" | "127.0.0.2";
  /** Raw header lines, name then value, in wire order; `port` is the server's. */
  readonly headers: (port: number) => string[];
  readonly options: ResolverOptions;
  /** The core's basis for it: what the row is there to exercise. */
  readonly basis: Basis;
  /**
   * Express's and Fastify's own `req.ip`, given trustProxy(options.trustedProxies), where it differs from
   * clientaddr's address (absent: they agree).
   */
  readonly frameworkIp?: string;
}

const host = (port: number) => ["Host", `127.0.0.1:${port}`];

export const ROWS: readonly Row[] = [
  {
    name: "loopback, the server's own page",
    basis: "socket:loopback",
    peer: "127.0.0.1",
    headers: (port) => [...host(port), "Origin", `http://127.0.0.1:${port}`],
    options: {},
  },
  {
    name: "loopback, a cross-site page",
    basis: "socket:origin-not-local",
    peer: "127.0.0.1",
    headers: (port) => [...host(port), "Origin", "https://evil.example"],
    options: {},
  },
  {
    name: "loopback, DNS rebinding (Host names another machine)",
    basis: "socket:host-not-local",
    peer: "127.0.0.1",
    headers: () => ["Host", "evil.example"],
    options: {},
  },
  {
    name: "loopback, Host on two lines (the second another machine)",
    basis: "socket:host-not-local",
    peer: "127.0.0.1",
    headers: (port) => [...host(port), "Host", "evil.example"],
    options: {},
  },
  {
    name: "loopback, a name given in localHosts, from its own page",
    basis: "socket:loopback",
    peer: "127.0.0.1",
    headers: (port) => ["Host", `mybox:${port}`, "Origin", `http://mybox:${port}`],
    options: { localHosts: ["mybox"] },
  },
  {
    name: "loopback, a name given in localHosts, with neither Origin nor Fetch Metadata",
    basis: "socket:origin-not-local",
    peer: "127.0.0.1",
    headers: (port) => ["Host", `mybox:${port}`],
    options: { localHosts: ["mybox"] },
  },
  {
    name: "loopback, forged X-Forwarded-For, nobody trusted",
    basis: "socket:unread-forwarding-header",
    peer: "127.0.0.1",
    headers: (port) => [...host(port), "X-Forwarded-For", "127.0.0.1"],
    options: {},
  },
  {
    name: "trusted proxy, one hop",
    basis: "x-forwarded-for:remote-client",
    peer: "127.0.0.1",
    headers: (port) => [...host(port), "X-Forwarded-For", "203.0.113.7"],
    options: { trustedProxies: ["127.0.0.1"] },
  },
  {
    name: "trusted proxy, a forged loopback entry left of the client",
    basis: "x-forwarded-for:remote-client",
    peer: "127.0.0.1",
    headers: (port) => [...host(port), "X-Forwarded-For", "127.0.0.1, 198.51.100.9"],
    options: { trustedProxies: ["127.0.0.1"] },
  },
  {
    name: "trusted proxy on 127.0.0.2 forwarding a loopback client",
    basis: "x-forwarded-for:loopback",
    peer: "127.0.0.2",
    headers: (port) => [...host(port), "X-Forwarded-For", "127.0.0.1"],
    options: { trustedProxies: ["127.0.0.2"] },
  },
  {
    name: "two trusted proxies, the nearest on 127.0.0.2",
    basis: "x-forwarded-for:remote-client",
    peer: "127.0.0.2",
    headers: (port) => [...host(port), "X-Forwarded-For", "192.0.2.1, 10.1.2.3"],
    options: { trustedProxies: ["127.0.0.2", "10.0.0.0/8"] },
  },
  {
    name: "trusted proxy, X-Forwarded-For on two lines",
    basis: "x-forwarded-for:remote-client",
    peer: "127.0.0.1",
    headers: (port) => [...host(port), "X-Forwarded-For", "198.51.100.1", "X-Forwarded-For", "203.0.113.9"],
    options: { trustedProxies: ["127.0.0.1"] },
  },
  {
    name: "trusted proxy, Forwarded believed",
    basis: "forwarded:remote-client",
    peer: "127.0.0.1",
    headers: (port) => [...host(port), "Forwarded", "for=192.0.2.60;proto=http"],
    options: { trustedProxies: ["127.0.0.1"], header: "forwarded" },
    frameworkIp: "127.0.0.1", // the frameworks read X-Forwarded-For only, and there is none
  },
  {
    name: "trusted proxy, X-Real-IP believed",
    basis: "x-real-ip:remote-client",
    peer: "127.0.0.1",
    headers: (port) => [...host(port), "X-Real-IP", "192.0.2.61"],
    options: { trustedProxies: ["127.0.0.1"], header: "x-real-ip" },
    frameworkIp: "127.0.0.1", // likewise
  },
  {
    name: "trusted proxy, an entry with a port",
    basis: "x-forwarded-for:remote-client",
    peer: "127.0.0.1",
    headers: (port) => [...host(port), "X-Forwarded-For", "198.51.100.4:5678"],
    options: { trustedProxies: ["127.0.0.1"] },
    frameworkIp: "198.51.100.4:5678", // proxy-addr returns the entry as written
  },
  {
    name: "trusted proxy, an entry that is not an address",
    basis: "x-forwarded-for:invalid-entry",
    peer: "127.0.0.1",
    headers: (port) => [...host(port), "X-Forwarded-For", "unknown"],
    options: { trustedProxies: ["127.0.0.1"] },
    frameworkIp: "unknown",
  },
];

/** What a test server answers, over HTTP or as a WebSocket's first message. */
export interface Answer {
  readonly clientAddress: ClientAddressData;
  /** The framework's own `req.ip`, where it has one. */
  readonly ip?: string;
}

export interface Started {
  readonly port: number;
  close(): Promise<void>;
}

export interface Adapter {
  readonly name: string;
  /** Starts the framework on 127.0.0.1:0, answering GET /answer and, with `websocket`, a WebSocket on /ws. */
  /** `resolver` is what the adapter is given; `options` the row's options it stands for (for the framework's own trust setting). */
  start(resolver: ResolverOrOptions, options: ResolverOptions): Promise<Started>;
  readonly websocket: boolean;
  /** Whether the answer carries the framework's `req.ip`, walked with trustProxy(options.trustedProxies). */
  readonly ip: boolean;
}

const WAIT_MS = 5_000;

function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${WAIT_MS} ms`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The request sent: the answer, the peer the server saw (the client's own address) and the lines sent. */
interface Exchange {
  readonly answer: Answer;
  readonly peer: string | undefined;
  readonly sent: string[];
}

function get(port: number, row: Row): Promise<Exchange> {
  const sent = row.headers(port);
  return bounded(
    new Promise((resolve, reject) => {
      // The header lines exactly as listed (an array keeps repeats and order); Node adds only Connection.
      const req = request({ host: "127.0.0.1", port, path: "/answer", localAddress: row.peer, headers: sent, setHost: false, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => {
          if (res.statusCode !== 200) reject(new Error(`GET /answer: ${res.statusCode} ${body}`));
          else resolve({ answer: JSON.parse(body) as Answer, peer: res.socket.localAddress, sent });
        });
        res.on("error", reject);
      });
      req.on("error", reject).end();
    }),
    "GET /answer",
  );
}

function handshake(port: number, row: Row): Promise<Exchange> {
  // ws takes headers as an object: a repeated name becomes one array, which Node writes as one line a value,
  // grouped by name; `sent` is the lines in that order. ws adds its handshake headers, which the core never reads.
  const headers: Record<string, string[]> = {};
  const lines = row.headers(port);
  for (let i = 0; i < lines.length; i += 2) (headers[lines[i]!] ??= []).push(lines[i + 1]!);
  const sent = Object.entries(headers).flatMap(([name, values]) => values.flatMap((value) => [name, value]));
  return bounded(
    new Promise((resolve, reject) => {
      let peer: string | undefined;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers, localAddress: row.peer, handshakeTimeout: WAIT_MS });
      ws.on("upgrade", (res) => (peer = res.socket.localAddress));
      ws.on("message", (data) => {
        resolve({ answer: JSON.parse(String(data)) as Answer, peer, sent });
        ws.close();
      });
      ws.on("unexpected-response", (_req, res) => reject(new Error(`WebSocket /ws: ${res.statusCode}`)));
      ws.on("error", reject);
    }),
    "WebSocket /ws",
  );
}

/** The core's answer for what the client sent, as JSON carries it. */
function core(exchange: Exchange, options: ResolverOptions): ClientAddressData {
  return JSON.parse(JSON.stringify(resolveClientAddress({ ...options, remoteAddress: exchange.peer, headers: exchange.sent }))) as ClientAddressData;
}

/** One test per row and transport: the adapter answers what the core answers. */
export function describeAdapter(adapter: Adapter): void {
  const transports = [{ name: "http", send: get }, ...(adapter.websocket ? [{ name: "websocket", send: handshake }] : [])];
  describe(`${adapter.name}: every row of the table gets the core's answer`, () => {
    for (const transport of transports) {
      for (const row of ROWS) {
        it(`${transport.name}: ${row.name}`, async () => {
          const server = await adapter.start(row.options, row.options);
          try {
            const exchange = await transport.send(server.port, row);
            expect(exchange.peer).toBe(row.peer);
            expect(exchange.answer.clientAddress).toEqual(core(exchange, row.options));
            expect(exchange.answer.clientAddress.basis).toBe(row.basis);
            if (adapter.ip) expect(exchange.answer.ip).toBe(row.frameworkIp ?? exchange.answer.clientAddress.address);
          } finally {
            await server.close();
          }
        });
      }
    }

    // The rows give options; a resolver made once with createResolver is taken the same way.
    it.each(transports.map((transport) => [transport.name, transport] as const))("%s: takes a resolver made by createResolver as well as options", async (_, transport) => {
      for (const row of ROWS.filter((candidate) => Object.keys(candidate.options).length > 0)) {
        const server = await adapter.start(createResolver(row.options), row.options);
        try {
          const exchange = await transport.send(server.port, row);
          expect(exchange.answer.clientAddress, row.name).toEqual(core(exchange, row.options));
          expect(exchange.answer.clientAddress.basis, row.name).toBe(row.basis);
        } finally {
          await server.close();
        }
      }
    });
  });
}

/** Listens on 127.0.0.1:0; close() also ends open connections, so that no keep-alive or WebSocket holds it. */
export async function listen(server: Server): Promise<Started> {
  await bounded(new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve)), "listen");
  return { port: (server.address() as AddressInfo).port, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  server.closeAllConnections();
  return bounded(closed, "close");
}
