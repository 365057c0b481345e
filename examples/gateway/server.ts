// Starts the example gateway: `npm run gateway -- --config examples/gateway/config.json`.
// --capture FOLDER writes every handshake it receives as JSON (the recorder's capture mode).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { type GatewayConfig, createGateway } from "./gateway.js";

const { values } = parseArgs({
  options: {
    config: { type: "string" },
    host: { type: "string", default: "0.0.0.0" },
    port: { type: "string", default: "18789" },
    capture: { type: "string" },
  },
});
if (values.config === undefined) {
  console.error("usage: server.ts --config FILE [--host ADDR] [--port N] [--capture FOLDER]");
  process.exit(2);
}
const config = JSON.parse(readFileSync(values.config, "utf8")) as GatewayConfig;
let captured = 0;
const capture = values.capture;
if (capture !== undefined) mkdirSync(capture, { recursive: true });

const server = createGateway(config, {
  onHandshake:
    capture === undefined
      ? undefined
      : (handshake) => {
          // Named by the `case` query parameter when the client gives one, so a recorder can find its own.
          const name = new URL(handshake.request.url, "http://gateway.invalid").searchParams.get("case") ?? `handshake-${++captured}`;
          writeFileSync(path.join(capture, `${name.replace(/[^A-Za-z0-9._-]/g, "_")}.json`), `${JSON.stringify(handshake, null, 2)}\n`);
        },
});
server.listen(Number(values.port), values.host, () => {
  console.log(`gateway: listening on ${values.host}:${values.port}`);
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
