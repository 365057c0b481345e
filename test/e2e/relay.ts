// A port-publishing TCP relay in the manner of Docker's userland proxy (docker-proxy): it accepts on the
// published address and opens its own connection to the container, so the container sees the relay's
// address (the bridge gateway), not the client's. It adds nothing to the byte stream.
//
//   node --import tsx test/e2e/relay.ts LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT
//
// Prints "relay: listening on ..." once ready; exits on SIGTERM or SIGINT. Run it inside a namespace.
import net from "node:net";

const [listenHost, listenPort, targetHost, targetPort] = process.argv.slice(2);
if (listenHost === undefined || listenPort === undefined || targetHost === undefined || targetPort === undefined) {
  console.error("usage: relay.ts LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT");
  process.exit(2);
}

const open = new Set<net.Socket>();
const server = net.createServer((client) => {
  const upstream = net.connect({ host: targetHost, port: Number(targetPort) });
  for (const socket of [client, upstream]) {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    socket.setNoDelay(true);
  }
  // pipe() passes each side's end-of-stream on as a half-close, as docker-proxy does; an error on either
  // side tears both down (a refused upstream becomes a reset client connection).
  client.pipe(upstream);
  upstream.pipe(client);
  const teardown = (error: Error) => {
    console.error(`relay: ${error.message}`);
    client.destroy();
    upstream.destroy();
  };
  client.on("error", teardown);
  upstream.on("error", teardown);
});
server.on("error", (error) => {
  console.error(`relay: ${error.message}`);
  process.exit(1);
});
server.listen({ host: listenHost, port: Number(listenPort) }, () => {
  const shown = (host: string) => (host.includes(":") ? `[${host}]` : host);
  console.log(`relay: listening on ${shown(listenHost)}:${listenPort}, forwarding to ${shown(targetHost)}:${targetPort}`);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    for (const socket of open) socket.destroy();
    server.close(() => process.exit(0));
  });
}
