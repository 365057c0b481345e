// acceptProxyProtocol: a net, http or https server reads a PROXY protocol header at the start of every
// connection from a trusted TCP load balancer, and records what the balancer declared on the socket, where
// clientaddr/node (and anyone calling `declaredSource(socket)`) finds it. Connections from anyone else are
// served as they are: their first bytes are never read as a header.
import type { Server, Socket } from "node:net";
import { Server as TlsServer, type TLSSocket } from "node:tls";
import { DECLARED_SECURE, DECLARED_SOURCE, TrustedProxies, compileTrustedProxies } from "../core/index.js";
import { Deadlines } from "./deadlines.js";
import { DEFAULT_MAX_HEADER_LENGTH, type ProxyHeader, type ProxyHeaderErrorCode, type ProxyTlv, V2_MAX_LENGTH, parseProxyHeader } from "./parse.js";

export interface ProxyProtocolOptions {
  /**
   * The load balancers allowed to declare a connection's source (addresses, CIDRs, `loopback`...: the
   * resolver's syntax). A connection from one of them must begin with a PROXY protocol header, or it is
   * closed; from anyone else, no header is read. Compiled once, now: a bad entry throws ClientAddressConfigError.
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

/**
 * The parser's reasons, or: too slow (`timeout`), ended or failed (reset) before the header was complete
 * (`ended`), or other code declared the socket's source while its header was read (`redeclared`).
 */
export type ProxyProtocolErrorCode = ProxyHeaderErrorCode | "timeout" | "ended" | "redeclared";

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

// Both keys are `Symbol.for`: the ES module and CommonJS builds, loaded side by side, are two copies of this
// module, and each must see a server the other was installed on (else every connection would be read for two
// headers) and a socket the other read.
const INSTALLED: unique symbol = Symbol.for("clientaddr.proxyProtocol");
// The header is kept on the socket itself: a WeakMap's insert took about 3 µs a connection on the benchmark's
// server (its key's identity hash and the ephemeron table's write barrier, on a socket seen once), where a
// property takes about 0.1 µs.
const HEADER: unique symbol = Symbol.for("clientaddr.proxyHeader");
type ReadSocket = Socket & { [HEADER]?: ProxyHeader; [DECLARED_SOURCE]?: string | null; [DECLARED_SECURE]?: true };

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
 * is the client); and, for `connectionSecure(socket)`, that the client's connection was TLS when a v2 header's
 * PP2_TYPE_SSL TLV says so (PP2_CLIENT_SSL). A connection still waiting for its header has delivered nothing:
 * it is closed by the server's `close()`, `closeIdleConnections()` and `closeAllConnections()`. Returns
 * `server`. Throws a TypeError on a bad option, an Error when called twice on one server (by either build).
 */
export function acceptProxyProtocol<T extends Server>(server: T, options: ProxyProtocolOptions): T {
  if (typeof options !== "object" || options === null || options.trustedProxies === undefined) {
    throw new TypeError("acceptProxyProtocol needs options.trustedProxies: the load balancers allowed to declare a connection's source");
  }
  const trust = options.trustedProxies instanceof TrustedProxies ? options.trustedProxies : compileTrustedProxies(options.trustedProxies);
  const timeout = options.headerTimeout ?? DEFAULT_HEADER_TIMEOUT;
  if (!Number.isInteger(timeout) || timeout <= 0) throw new TypeError(`headerTimeout must be a positive integer of milliseconds, got ${JSON.stringify(options.headerTimeout)}`);
  const maxLength = options.maxHeaderLength ?? DEFAULT_MAX_HEADER_LENGTH;
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
    // A socket whose header was read already, or whose source was declared (emitted again by other code, or by
    // another server's listener), is not read twice.
    const read = socket as ReadSocket;
    if (read[HEADER] !== undefined || read[DECLARED_SOURCE] !== undefined || peer === undefined || !trust.trustsText(peer)) {
      // eslint-disable-next-line prefer-rest-params
      return Reflect.apply(emit, this, arguments) as boolean;
    }
    readHeader(socket, peer, deadlines, timeout, maxLength, onError, () => {
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
        if (header !== undefined && !record(tlsSocket, header, (raw as ReadSocket)[DECLARED_SECURE] === true)) tlsSocket.destroy();
      } else if (tlsSocket.remoteAddress === undefined || trust.trustsText(tlsSocket.remoteAddress)) {
        tlsSocket.destroy();
      }
    });
  }
  // A connection waiting for its header has delivered no request: it is idle, and goes with the server's idle
  // connections, with all of them, and when the server closes (which would otherwise wait for its timeout:
  // neither Node's http connection list nor a net.Server's close() knows it is idle).
  for (const method of ["close", "closeIdleConnections", "closeAllConnections"] as const) {
    const original: unknown = (server as Partial<Record<typeof method, unknown>>)[method];
    if (typeof original !== "function") continue;
    (server as Record<typeof method, unknown>)[method] = function endWaiting(this: T, ...args: unknown[]): unknown {
      deadlines.endAll();
      return Reflect.apply(original, this, args);
    };
  }
  return server;
}

function endpoints(socket: Socket): string {
  return `${socket.remoteAddress} ${socket.remotePort} ${socket.localAddress} ${socket.localPort}`;
}

/** A declaration's descriptor: not writable, not configurable, so that no later code can change it. */
function fixed(value: unknown): PropertyDescriptor {
  return { value, enumerable: false, writable: false, configurable: false };
}

/**
 * Records the header for proxyHeader(), and for the resolver the declared source and whether the client's
 * connection was TLS (nothing for LOCAL). False, with nothing recorded but what was, when the socket already
 * holds another declaration: other code declared its source while the header was read.
 */
function record(socket: Socket, header: ProxyHeader, secure: boolean): boolean {
  if (header.command !== "local") {
    // Only a TCP connection over IPv4 or IPv6 has a source this connection can be from; anything else the
    // balancer declared (UNSPEC, UNIX, a datagram, v1 UNKNOWN) leaves the client unknown.
    const source = header.source !== null && header.transport === "stream" ? header.source.address : null;
    // Reflect.defineProperty answers false where Object.defineProperty would throw (and, in a socket's
    // listener, end the process): on a socket already declared otherwise.
    if (!Reflect.defineProperty(socket, DECLARED_SOURCE, fixed(source))) return false;
    if (secure && !Reflect.defineProperty(socket, DECLARED_SECURE, fixed(true))) return false;
  }
  (socket as ReadSocket)[HEADER] = header;
  return true;
}

/**
 * Reads the header from the socket's first bytes, however they are segmented, records it, then puts back what
 * follows it and calls `accepted`; on an invalid header, a timeout, an early end or a declaration made
 * meanwhile by other code, closes the socket instead, and tells `onError`. Closes it untold when the
 * server ends its wait (deadlines.endAll).
 *
 * Every balancer connection passes here, so it is kept to what a connection needs: three listeners, added
 * with `on` and taken off by `done` (`once` would wrap each in a bound function), and a deadline on the
 * listener's one timer (deadlines.ts). There is no `close` listener: a socket destroyed by other code before
 * its header came has nothing left to report, and when its deadline passes it is found destroyed and left.
 */
function readHeader(socket: Socket, peer: string, deadlines: Deadlines, timeout: number, maxLength: number, onError: ProxyProtocolOptions["onError"], accepted: () => void): void {
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
      if (!record(socket, kept(result.header, buffered), declaresTls(result.header))) return fail("redeclared", "its source was declared by other code while its PROXY protocol header was read");
      done();
      const rest = buffered.subarray(result.header.length);
      if (rest.length > 0) socket.unshift(rest);
      return accepted();
    }
  };
  const onEnd = () => fail("ended", "the connection ended before its PROXY protocol header was complete");
  // Until the server has the socket, nobody else listens for its errors: a reset would otherwise be thrown.
  const onSocketError = (error: Error) => fail("ended", `the connection failed before its PROXY protocol header was complete (${error.message})`);
  const deadline = deadlines.start((timedOut) => {
    if (timedOut) return fail("timeout", `no complete PROXY protocol header within ${timeout} ms`);
    done();
    socket.destroy();
  });
  socket.on("readable", onReadable);
  socket.on("end", onEnd);
  socket.on("error", onSocketError);
}

const PP2_TYPE_SSL = 0x20;
const PP2_CLIENT_SSL = 0x01;

/**
 * Whether the header's PP2_TYPE_SSL TLV (the first, if several) has PP2_CLIENT_SSL set: the client reached the
 * balancer over TLS. Its value is the client byte, a 32-bit verify result, then sub-TLVs: a shorter one
 * declares nothing.
 */
function declaresTls(header: ProxyHeader): boolean {
  for (const { type, value } of header.tlvs) {
    if (type === PP2_TYPE_SSL) return value.length >= 5 && (value[0]! & PP2_CLIENT_SSL) !== 0;
  }
  return false;
}

/**
 * The header as a connection keeps it, for as long as the connection is open. Its TLVs are copied out of the
 * segment they came in (which must not be kept alive) as one run of bytes, read into `tlvs` only when someone
 * asks: an object, a Uint8Array and an ArrayBuffer per TLV is about 76 times the 3 bytes an empty TLV takes
 * on the wire (a 4 KiB header of them held about 300 KiB).
 */
function kept(header: ProxyHeader, bytes: Buffer): ProxyHeader {
  const tlvs = header.tlvs;
  if (tlvs.length === 0) return header;
  // The parser holds the TLVs to tiling the header's end: one run, from the first's type byte (3 before its
  // value) to the end. Copied by slice: a Buffer, as the parser's views of the socket's bytes are, with an
  // ArrayBuffer of its own (a copy from Buffer's pool would keep a shared 8 KiB alive).
  const start = tlvs[0]!.value.byteOffset - bytes.byteOffset - 3;
  return new KeptHeader(header, Uint8Array.prototype.slice.call(bytes, start, header.length) as Buffer);
}

class KeptHeader implements ProxyHeader {
  declare readonly version: ProxyHeader["version"];
  declare readonly command: ProxyHeader["command"];
  declare readonly family: ProxyHeader["family"];
  declare readonly transport: ProxyHeader["transport"];
  declare readonly source: ProxyHeader["source"];
  declare readonly destination: ProxyHeader["destination"];
  declare readonly tlvs: readonly ProxyTlv[];
  declare readonly length: number;
  readonly #bytes: Buffer;
  #tlvs: readonly ProxyTlv[] | undefined;

  // `tlvs` is an own enumerable property, as the parser's header has it (spread, JSON.stringify and deep
  // equality see it), and one getter shared by every kept header, so that they share their shape.
  static readonly #TLVS: PropertyDescriptor = {
    enumerable: true,
    get(this: KeptHeader): readonly ProxyTlv[] {
      return (this.#tlvs ??= readTlvs(this.#bytes));
    },
  };

  constructor(header: ProxyHeader, bytes: Buffer) {
    this.#bytes = bytes;
    // In the parser's order, so that the two write alike.
    this.version = header.version;
    this.command = header.command;
    this.family = header.family;
    this.transport = header.transport;
    this.source = header.source;
    this.destination = header.destination;
    Object.defineProperty(this, "tlvs", KeptHeader.#TLVS);
    this.length = header.length;
  }

  /** util.inspect shows what a reader sees, the TLVs included (a getter would show as `[Getter]`). */
  [Symbol.for("nodejs.util.inspect.custom")](): ProxyHeader {
    return { ...this };
  }
}

/** The TLVs of a run the parser has validated: type, a 16-bit length, the value (a view into the run). */
function readTlvs(bytes: Buffer): ProxyTlv[] {
  const tlvs: ProxyTlv[] = [];
  for (let at = 0; at < bytes.length; ) {
    const end = at + 3 + ((bytes[at + 1]! << 8) | bytes[at + 2]!);
    tlvs.push({ type: bytes[at]!, value: bytes.subarray(at + 3, end) });
    at = end;
  }
  return tlvs;
}
