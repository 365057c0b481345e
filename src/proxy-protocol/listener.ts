// acceptProxyProtocol: a net, http or https server reads a PROXY protocol header at the start of every
// connection from a trusted TCP load balancer, and records what the balancer declared on the socket, where
// clientaddr/node (and anyone calling `declaredSource(socket)`) finds it. Connections from anyone else are
// served as they are: their first bytes are never read as a header.
import type { Server, Socket } from "node:net";
import { Server as TlsServer, type TLSSocket } from "node:tls";
import { DECLARED_SOURCE, TrustedProxies, compileTrustedProxies } from "../core/index.js";
import { Deadlines } from "./deadlines.js";
import { DEFAULT_MAX_LENGTH, type ProxyHeader, type ProxyHeaderError, type ProxyTlv, V2_MAX_LENGTH, parseProxyHeader } from "./parse.js";

export interface ProxyProtocolOptions {
  /**
   * The load balancers allowed to declare a connection's source (addresses, CIDRs, `loopback`...: the
   * resolver's syntax). A connection from one of them must begin with a PROXY protocol header, or it is
   * closed; from anyone else, no header is read. Compiled once, now: a bad entry throws TrustedProxiesError.
   * This list alone decides who may declare; the resolver's own `trustedProxies` then decides whether the
   * declared source's forwarding headers are believed.
   */
  readonly trustedProxies: TrustedProxies | readonly string[];
  /**
   * How long a balancer's connection may take to deliver its header, in milliseconds. Default 10,000. One
   * timer checks every connection a quarter of this often (at least once a second), so a connection is closed
   * within that much after its time is up.
   */
  readonly headerTimeout?: number | undefined;
  /** The longest v2 header accepted, in bytes (v1 is bounded at 107 by its specification). Default 4,096. */
  readonly maxHeaderLength?: number | undefined;
  /** Told of every balancer connection closed for its header: invalid, too slow, or ended first. */
  readonly onError?: ((error: ProxyProtocolError, socket: Socket) => void) | undefined;
}

/** The parser's reasons, or: too slow (`timeout`), ended or failed (reset) before the header was complete (`ended`). */
export type ProxyProtocolErrorCode = ProxyHeaderError | "timeout" | "ended";

/** Why a connection from a trusted balancer was closed before it reached the server. */
export class ProxyProtocolError extends Error {
  override readonly name = "ProxyProtocolError";
  constructor(
    readonly code: ProxyProtocolErrorCode,
    message: string,
    /** The balancer's address, as the socket gave it. */
    readonly peer: string | undefined,
  ) {
    super(message);
  }
}

export const DEFAULT_HEADER_TIMEOUT = 10_000;

const INSTALLED: unique symbol = Symbol("clientaddr.proxyProtocol");
// The header is kept on the socket itself, under a symbol of this module's own: a WeakMap's insert took about
// 3 µs a connection on the benchmark's server (its key's identity hash and the ephemeron table's write
// barrier, on a socket seen once), where a property takes about 0.1 µs.
const HEADER: unique symbol = Symbol("clientaddr.proxyHeader");
type ReadSocket = Socket & { [HEADER]?: ProxyHeader };

/**
 * The PROXY protocol header the connection's balancer sent (TLV values copied), or undefined for a
 * connection from a peer that may not declare. A TLS socket of an https server answers for its connection.
 */
export function proxyHeader(socket: Socket): ProxyHeader | undefined {
  return (socket as ReadSocket)[HEADER];
}

/**
 * Makes `server` (a `net.Server`, `http.Server` or `https.Server`) read a PROXY protocol header, v1 or v2, at
 * the start of every connection from a peer in `options.trustedProxies`, before anything else sees the
 * connection (for https, before TLS starts). The header is never handed on: the server gets the bytes after
 * it. A connection from such a peer without a valid header within the timeout and the size bounds is closed.
 * What the balancer declared is recorded on the socket for `declaredSource(socket)` and clientaddr/node's
 * `resolveRequest`: the source's address; `null` for a source it declared unknown (UNSPEC or UNIX family, a
 * datagram transport, v1 UNKNOWN); nothing for v2's LOCAL (the balancer's own health check: the socket's peer
 * is the client). Returns `server`. Throws a TypeError on a bad option, an Error when called twice on one server.
 */
export function acceptProxyProtocol<T extends Server>(server: T, options: ProxyProtocolOptions): T {
  if (typeof options !== "object" || options === null || options.trustedProxies === undefined) {
    throw new TypeError("acceptProxyProtocol needs options.trustedProxies: the load balancers allowed to declare a connection's source");
  }
  const trust = options.trustedProxies instanceof TrustedProxies ? options.trustedProxies : compileTrustedProxies(options.trustedProxies);
  const timeout = options.headerTimeout ?? DEFAULT_HEADER_TIMEOUT;
  if (!Number.isInteger(timeout) || timeout <= 0) throw new TypeError(`headerTimeout must be a positive integer of milliseconds, got ${JSON.stringify(options.headerTimeout)}`);
  const maxLength = options.maxHeaderLength ?? DEFAULT_MAX_LENGTH;
  if (!Number.isInteger(maxLength) || maxLength < 16 || maxLength > V2_MAX_LENGTH) {
    throw new TypeError(`maxHeaderLength must be an integer from 16 to ${V2_MAX_LENGTH}, got ${JSON.stringify(options.maxHeaderLength)}`);
  }
  if (Object.hasOwn(server, INSTALLED)) throw new Error("acceptProxyProtocol is already installed on this server: a second one would read a second header");
  Object.defineProperty(server, INSTALLED, { value: true });
  const onError = options.onError;
  const deadlines = new Deadlines(timeout);

  // The gate sits in the server's own `emit`, for "connection" only: every listener, whenever added (http's
  // parser, tls's handshake, a net.Server's callback), sees a balancer's socket only once its header is read,
  // and in the order it was added. Taking the listeners off and calling them ourselves would miss any added
  // later, which would then see the header as data.
  const emit = server.emit as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;
  // For https: the TLS socket the server makes of a balancer's connection answers for it (see below).
  const pending = server instanceof TlsServer ? new Map<string, Socket>() : null;

  // Every event of the server passes here (a 'request' per request): `arguments` as it is, no array made.
  server.emit = function gate(this: T, event: string | symbol, socket: Socket): boolean {
    // eslint-disable-next-line prefer-rest-params
    if (event !== "connection") return Reflect.apply(emit, this, arguments) as boolean;
    const peer = socket.remoteAddress;
    // A socket whose header was read already (emitted again by other code) is not read twice.
    // eslint-disable-next-line prefer-rest-params
    if ((socket as ReadSocket)[HEADER] !== undefined || peer === undefined || !trust.trustsText(peer)) return Reflect.apply(emit, this, arguments) as boolean;
    readHeader(socket, peer, deadlines, timeout, maxLength, onError, (header) => {
      record(socket, header);
      if (pending !== null) {
        const key = endpoints(socket);
        pending.set(key, socket);
        socket.once("close", () => pending.get(key) === socket && pending.delete(key));
      }
      emit.call(server, "connection", socket);
    });
    return true;
  } as T["emit"];

  if (pending !== null) {
    // An https server makes a TLS socket of each connection and hands that on (req.socket is it), and Node
    // offers no public way from it to the connection underneath: the two share their endpoints, so the TLS
    // socket is matched to the balancer's connection by them. One from a balancer that has no match was not
    // read by this gate: it is closed rather than served with the balancer as its client.
    server.prependListener("secureConnection", (tlsSocket: TLSSocket) => {
      const key = endpoints(tlsSocket);
      const raw = pending.get(key);
      if (raw !== undefined) {
        pending.delete(key);
        const header = (raw as ReadSocket)[HEADER];
        if (header !== undefined) record(tlsSocket, header);
      } else if (tlsSocket.remoteAddress === undefined || trust.trustsText(tlsSocket.remoteAddress)) {
        tlsSocket.destroy();
      }
    });
  }
  return server;
}

function endpoints(socket: Socket): string {
  return `${socket.remoteAddress} ${socket.remotePort} ${socket.localAddress} ${socket.localPort}`;
}

/** Records the header for proxyHeader(), and the declared source for the resolver (nothing for LOCAL). */
function record(socket: Socket, header: ProxyHeader): void {
  (socket as ReadSocket)[HEADER] = header;
  if (header.command === "local") return;
  // Only a TCP connection over IPv4 or IPv6 has a source this connection can be from; anything else the
  // balancer declared (UNSPEC, UNIX, a datagram, v1 UNKNOWN) leaves the client unknown.
  const source = header.source !== null && header.transport === "stream" ? header.source.address : null;
  // Fixed once written: a second listener, or any code, cannot change what was declared.
  Object.defineProperty(socket, DECLARED_SOURCE, { value: source, enumerable: false, writable: false, configurable: false });
}

/**
 * Reads the header from the socket's first bytes, however they are segmented, then puts back what follows it
 * and calls `accepted`; on an invalid header, a timeout or an early end, closes the socket instead.
 *
 * Every balancer connection passes here, so it is kept to what a connection needs: three listeners, added
 * with `on` and taken off by `done` (`once` would wrap each in a bound function), and a deadline on the
 * listener's one timer (deadlines.ts). There is no `close` listener: a socket destroyed by other code before
 * its header came has nothing left to report, and when its deadline passes it is found destroyed and left.
 */
function readHeader(socket: Socket, peer: string, deadlines: Deadlines, timeout: number, maxLength: number, onError: ProxyProtocolOptions["onError"], accepted: (header: ProxyHeader) => void): void {
  let buffered: Buffer | null = null;
  const done = () => {
    deadlines.stop(deadline);
    socket.removeListener("readable", onReadable);
    socket.removeListener("end", onEnd);
    socket.removeListener("error", onSocketError);
  };
  const fail = (code: ProxyProtocolErrorCode, message: string) => {
    if (code === "timeout" && socket.destroyed) return;
    done();
    socket.destroy();
    onError?.(new ProxyProtocolError(code, `connection from ${peer} closed: ${message}`, peer), socket);
  };
  const onReadable = () => {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) {
      // The common case, the whole header in the first segment, is parsed in place; only a header split
      // across segments is gathered (at most its own bounded length).
      buffered = buffered === null ? chunk : Buffer.concat([buffered, chunk]);
      const result = parseProxyHeader(buffered, maxLength);
      if (result.status === "incomplete") continue;
      if (result.status === "invalid") return fail(result.error, result.message);
      done();
      const rest = buffered.subarray(result.header.length);
      if (rest.length > 0) socket.unshift(rest);
      return accepted(kept(result.header));
    }
  };
  const onEnd = () => fail("ended", "the connection ended before its PROXY protocol header was complete");
  // Until the server has the socket, nobody else listens for its errors: a reset would otherwise be thrown.
  const onSocketError = (error: Error) => fail("ended", `the connection failed before its PROXY protocol header was complete (${error.message})`);
  const deadline = deadlines.start(() => fail("timeout", `no complete PROXY protocol header within ${timeout} ms`));
  socket.on("readable", onReadable);
  socket.on("end", onEnd);
  socket.on("error", onSocketError);
}

/** The header with its TLV values copied out of the segment they were read from, so it is not kept alive. */
function kept(header: ProxyHeader): ProxyHeader {
  if (header.tlvs.length === 0) return header;
  const tlvs: ProxyTlv[] = header.tlvs.map(({ type, value }) => ({ type, value: Uint8Array.prototype.slice.call(value) }));
  return { ...header, tlvs };
}
