// The requests of the benchmark rows that answer many different requests (bench/workloads.ts), built here
// with no library in sight, so that test/bench-floors.test.ts can hold each floor (bench/floor.ts) to the
// library on exactly the requests a row measures: the fresh-traffic rows, and Chromium's WebSocket handshake
// in plain values (a Node-style headers object and a raw header list) and as real IncomingMessage objects a
// node:http server received.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import http, { type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";

/** The trust list of the rows here: a proxy network and the Docker bridge gateway. */
export const TWO = ["10.0.0.0/8", "172.18.0.1"];

/**
 * A string as Node hands one over, read from a socket's bytes: flat and never hashed, where a template
 * literal gives V8 a rope (a cons string) that every character read must walk.
 */
export const flat = (text: string) => Buffer.from(text, "latin1").toString("latin1");

/** One request: its socket peer and its headers as Node's `req.headers` holds them (lower-case names). */
export interface PlainRequest {
  readonly peer: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface FreshAddresses {
  direct: string;
  proxy: string;
  client: string;
  trusted: string[];
}

/**
 * A server on the internet: every request from a peer not seen in the last 4,095, naming a Host not seen
 * either, half of them straight from the client and half through one trusted proxy (a new proxy address each
 * time too), in a cycle eight times longer than the resolver's memo: nothing is answered from memory.
 */
export function freshRequests(addresses: (i: number) => FreshAddresses): PlainRequest[] {
  return Array.from({ length: 4096 }, (_, i) => {
    const { direct, proxy, client } = addresses(i);
    const hop = (i & 1) === 1;
    const peer = flat(hop ? proxy : direct);
    const host = flat(`gw${i}.example:18789`);
    const headers: Record<string, string> = hop ? { host, "x-forwarded-for": flat(client) } : { host };
    return { peer, headers };
  });
}

export const FRESH_IPV4 = (i: number): FreshAddresses => ({
  direct: `198.18.${i >> 8}.${i & 255}`,
  proxy: `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`,
  client: `203.0.${(i >> 8) & 255}.${(i * 3) & 255}`,
  trusted: TWO,
});

export const FRESH_IPV6 = (i: number): FreshAddresses => ({
  direct: `2001:db8:${(i * 5).toString(16)}::${i.toString(16)}`,
  proxy: `fd00:18::${(i * 7 + 1).toString(16)}`,
  client: `2606:4700:${i.toString(16)}::${(i * 3 + 1).toString(16)}`,
  trusted: ["fd00:18::/64", "10.0.0.0/8"],
});

/** Which of the three kinds of the Chromium row a request is. */
export type HandshakeKind = "direct" | "docker" | "proxied";

/** One WebSocket handshake: its kind, its peer, and its header lines in wire order. */
export interface Handshake extends PlainRequest {
  readonly kind: HandshakeKind;
  /** Node's `req.rawHeaders`: name, value, name, value, ... as sent. */
  readonly rawHeaders: readonly string[];
}

const FIXTURES = new URL("../fixtures/recorded/", import.meta.url);

/** A recorded request's header lines, [name, value] in wire order. */
function recordedLines(file: string): Array<[string, string]> {
  const raw = (JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8")) as { request: { rawHeaders: string[] } }).request.rawHeaders;
  const lines: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) lines.push([raw[i]!, raw[i + 1]!]);
  return lines;
}

/**
 * What Chromium 156 sends on a WebSocket handshake, as recorded (fixtures/recorded/browser): Host,
 * Connection, Pragma, Cache-Control, User-Agent, Upgrade, Origin, Sec-WebSocket-Version, Accept-Encoding,
 * Accept-Language, Sec-WebSocket-Key, Sec-WebSocket-Extensions. Twelve lines: every Chromium WebSocket
 * fixture has these twelve and no other.
 */
export const CHROMIUM_HANDSHAKE = recordedLines("browser/chromium-own-page-dashboard-websocket.json");
/**
 * The same handshake as nginx passes it on (fixtures/recorded/browser-proxies, `proxy_set_header Host
 * $http_host` and X-Forwarded-For `$proxy_add_x_forwarded_for`): nginx's order, Connection lower-cased, and
 * X-Forwarded-For the thirteenth line.
 */
export const NGINX_HANDSHAKE = recordedLines("browser-proxies/chromium-nginx-http-host-own-page-websocket.json");

/** The Docker bridge gateway of the trust list, and the gateway's own address as a browser on the host names it. */
export const BRIDGE_GATEWAY = "172.18.0.1";
const LOCAL_AUTHORITY = "127.0.0.1:18789";

/**
 * 4,096 WebSocket handshakes from Chromium, each with its own values: half from public peers talking
 * directly (not local); a quarter the Docker case, the bridge gateway 172.18.0.1 (trusted) with nothing
 * behind it and the gateway's own Host and Origin (local, socket:trusted-path); a quarter through one
 * trusted proxy (a 10.x peer) whose X-Forwarded-For names a public client (not local). The public requests
 * name a Host and Origin of their own (gwN.example:18789). Every value is a fresh flat string, as Node reads
 * it off a socket: the same Host twice is two strings, neither hashed yet; the Sec-WebSocket-Key is new each
 * time, as a browser's is.
 */
export function chromiumHandshakes(): Handshake[] {
  return Array.from({ length: 4096 }, (_, i) => {
    const kind: HandshakeKind = (i & 1) === 0 ? "direct" : (i & 3) === 1 ? "docker" : "proxied";
    const authority = kind === "docker" ? LOCAL_AUTHORITY : `gw${i}.example:18789`;
    const peer = flat(kind === "direct" ? `198.18.${i >> 8}.${i & 255}` : kind === "docker" ? BRIDGE_GATEWAY : `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`);
    const per: Record<string, string> = {
      host: authority,
      origin: `http://${authority}`,
      "sec-websocket-key": createHash("md5").update(`key ${i}`).digest("base64"),
      "x-forwarded-for": `203.0.${(i >> 8) & 255}.${(i * 3) & 255}`,
    };
    const rawHeaders: string[] = [];
    // Node's own headers object is built the same way: an empty object, one property per line, in wire order.
    const headers: Record<string, string> = {};
    for (const [name, recorded] of kind === "proxied" ? NGINX_HANDSHAKE : CHROMIUM_HANDSHAKE) {
      const lower = name.toLowerCase();
      const value = flat(per[lower] ?? recorded);
      rawHeaders.push(flat(name), value);
      headers[lower] = value;
    }
    return { kind, peer, headers, rawHeaders };
  });
}

/** The bytes a client sends for one handshake: the request line, its header lines in order, the blank line. */
function wire(handshake: Handshake, index: number): string {
  let text = `GET /ws?n=${index} HTTP/1.1\r\n`;
  for (let i = 0; i < handshake.rawHeaders.length; i += 2) text += `${handshake.rawHeaders[i]}: ${handshake.rawHeaders[i + 1]}\r\n`;
  return `${text}\r\n`;
}

/**
 * The handshakes as a node:http server receives them: each sent on a connection of its own to a server on
 * 127.0.0.1, whose `upgrade` listener keeps the IncomingMessage and closes the connection; the server is
 * closed before this returns. The objects are Node's own (IncomingMessage, net.Socket, rawHeaders and every
 * string in them read by Node's parser off the socket), with one change: every connection comes from
 * 127.0.0.1, so the socket's peer is set to the handshake's own, where Node keeps it once read
 * (`socket._peername`, which `remoteAddress` returns from then on, before and after the socket closes). A
 * server reading `req.socket.remoteAddress` runs the same getter on the same object. Each request's
 * `headers`, a lazy getter, is built once here as a server's first reader would (proxy-addr reads it): the
 * cells measure requests already taken in.
 */
export async function receiveHandshakes(handshakes: readonly Handshake[], parallel = 16): Promise<IncomingMessage[]> {
  const received: IncomingMessage[] = new Array(handshakes.length);
  const server = http.createServer((_req, res) => {
    res.statusCode = 400;
    res.end();
  });
  server.on("upgrade", (req: IncomingMessage, socket: net.Socket) => {
    const index = Number(new URL(req.url ?? "", "http://x").searchParams.get("n"));
    const peer = handshakes[index]!.peer;
    (socket as unknown as { _peername: unknown })._peername = { address: peer, family: net.isIPv6(peer) ? "IPv6" : "IPv4", port: 40000 + (index % 20000) };
    received[index] = req;
    socket.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const send = (index: number) =>
    new Promise<void>((resolve, reject) => {
      const client = net.connect(port, "127.0.0.1", () => client.write(wire(handshakes[index]!, index)));
      client.on("data", () => undefined);
      client.on("end", () => client.end());
      client.on("error", reject);
      client.on("close", () => resolve());
    });
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < handshakes.length) await send(next++);
      }),
    );
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  for (let i = 0; i < handshakes.length; i++) {
    const req = received[i];
    if (req === undefined) throw new Error(`handshake ${i} never reached the server`);
    if (req.socket.remoteAddress !== handshakes[i]!.peer) throw new Error(`handshake ${i}: the socket's peer is ${req.socket.remoteAddress}, not ${handshakes[i]!.peer}`);
    void req.headers;
  }
  return received;
}
