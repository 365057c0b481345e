// The floor of reading a PROXY protocol header in JavaScript, for the benchmark only: the least any listener
// built on Node's public socket API does. It takes the connection's first segment from the stream, skips a
// v2 header by its length field (16 bytes and the length the header states; nothing is checked, so it is
// only fit for HAProxy's send-proxy-v2 on loopback), puts the rest back and hands the socket to the server.
// What the requests per second lose with it is the price of the connection's first bytes passing through
// JavaScript rather than the HTTP parser's native read, before acceptProxyProtocol's own work.
import type { Server, Socket } from "node:net";

export function readAndPutBack(server: Server): void {
  const emit = server.emit as (this: Server, event: string | symbol, ...args: unknown[]) => boolean;
  // One listener for every connection (the socket is `this`): no function is made per connection, as tsx,
  // which runs this file, would also name each one with a defineProperty.
  function onReadable(this: Socket): void {
    const chunk = this.read() as Buffer | null;
    if (chunk === null) return;
    this.removeListener("readable", onReadable);
    const rest = chunk.subarray(16 + chunk.readUInt16BE(14));
    if (rest.length > 0) this.unshift(rest);
    emit.call(server, "connection", this);
  }
  server.emit = function (this: Server, event: string | symbol, socket: Socket): boolean {
    // eslint-disable-next-line prefer-rest-params
    if (event !== "connection") return Reflect.apply(emit, this, arguments) as boolean;
    socket.on("readable", onReadable);
    return true;
  } as Server["emit"];
}
