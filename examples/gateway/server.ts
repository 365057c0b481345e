// Starts the example gateway: `npm run gateway -- --config examples/gateway/config.json`.
// --capture FOLDER writes every handshake, and every plain HTTP request, it receives as JSON (the recorder's
// capture mode): a handshake as <case>.json, a plain request as <case>.request.json.
// TRUSTED_PROXIES, when set (even empty), replaces the config's trustedProxies: comma or space separated
// entries, as Compose passes them (examples/compose/compose.yaml). A bad entry stops the gateway at start-up.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { parseTrustedProxies, splitList } from "clientaddr";
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
const fromEnvironment = process.env.TRUSTED_PROXIES;
if (fromEnvironment !== undefined) {
  parseTrustedProxies(fromEnvironment, "TRUSTED_PROXIES"); // throws naming the variable, the entry and its index
  config.gateway.trustedProxies = splitList(fromEnvironment);
  console.log(`gateway: trustedProxies from TRUSTED_PROXIES: ${JSON.stringify(config.gateway.trustedProxies)}`);
}
let captured = 0;
const capture = values.capture;
if (capture !== undefined) mkdirSync(capture, { recursive: true });

/** Named by the `case` query parameter when the client gives one, so a recorder can find its own. */
function save(url: string, fallback: string, suffix: string, what: unknown): void {
  const name = new URL(url, "http://gateway.invalid").searchParams.get("case") ?? `${fallback}-${++captured}`;
  writeFileSync(path.join(capture!, `${name.replace(/[^A-Za-z0-9._-]/g, "_")}${suffix}`), `${JSON.stringify(what, null, 2)}\n`);
}

const server = createGateway(config, {
  onHandshake: capture === undefined ? undefined : (handshake) => save(handshake.request.url, "handshake", ".json", handshake),
  onRequest: capture === undefined ? undefined : (request) => save(request.url, "request", ".request.json", { request }),
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
