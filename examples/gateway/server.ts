// Starts the example gateway: `npm run gateway -- --config examples/gateway/config.json`.
// --capture FOLDER writes every handshake, and every plain HTTP request, it receives as JSON (the recorder's
// capture mode): a handshake as <case>.json, a plain request as <case>.request.json.
// TRUSTED_PROXIES, when set (even empty), replaces the config's trustedProxies: comma or space separated
// entries, as Compose passes them (examples/compose/compose.yaml). A bad entry stops the gateway at start-up.
// An entry may name a proxy (a Compose service, `proxy`): the gateway then looks every name up with
// startResolver, at start-up and again every TRUSTED_PROXIES_REFRESH_MS milliseconds (default 30000), and
// logs what it reports (a name that does not resolve, stops resolving, resolves again or changes addresses).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { type Resolver, type StartedResolver, ClientAddressConfigError, DEFAULT_REFRESH_MS, parseTrustedProxies, splitList, startResolver, trustedProxyName } from "clientaddr";
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
const log = (line: string) => console.log(line);
const fromEnvironment = process.env.TRUSTED_PROXIES;
const isName = (entry: string) => trustedProxyName(entry) !== null;
if (fromEnvironment !== undefined) {
  // Throws naming the variable, the entry and its index (a list with names: startResolver, below, checks it).
  if (!splitList(fromEnvironment).some(isName)) parseTrustedProxies(fromEnvironment, "TRUSTED_PROXIES");
  config.gateway.trustedProxies = splitList(fromEnvironment);
  log(`gateway: trustedProxies from TRUSTED_PROXIES: ${JSON.stringify(config.gateway.trustedProxies)}`);
}
const started = await startNamed(config);
let captured = 0;
const capture = values.capture;
if (capture !== undefined) mkdirSync(capture, { recursive: true });

/** Named by the `case` query parameter when the client gives one, so a recorder can find its own. */
function save(url: string, fallback: string, suffix: string, what: unknown): void {
  const name = new URL(url, "http://gateway.invalid").searchParams.get("case") ?? `${fallback}-${++captured}`;
  writeFileSync(path.join(capture!, `${name.replace(/[^A-Za-z0-9._-]/g, "_")}${suffix}`), `${JSON.stringify(what, null, 2)}\n`);
}

const server = createGateway(started === undefined ? config : { gateway: { ...config.gateway, trustedProxies: config.gateway.trustedProxies!.filter((entry) => !isName(entry)) } }, {
  log,
  ...(started === undefined ? {} : { resolver: (): Resolver => started }),
  onHandshake: capture === undefined ? undefined : (handshake) => save(handshake.request.url, "handshake", ".json", handshake),
  onRequest: capture === undefined ? undefined : (request) => save(request.url, "request", ".request.json", { request }),
});
server.listen(Number(values.port), values.host, () => {
  console.log(`gateway: listening on ${values.host}:${values.port}`);
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    started?.stop();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

/**
 * When the trust list names a proxy: the resolver that looks the names up (every option of the config, and
 * refreshMs from TRUSTED_PROXIES_REFRESH_MS), its reports in the gateway's log. The gateway itself is then
 * given the list's addresses only, and asks this resolver on every handshake. Otherwise undefined.
 */
async function startNamed({ gateway }: GatewayConfig): Promise<StartedResolver | undefined> {
  const { trustedProxies = [], header, localHosts, localOrigins, publicOrigins, unattributable } = gateway;
  if (!trustedProxies.some(isName)) return undefined;
  const refreshText = process.env.TRUSTED_PROXIES_REFRESH_MS;
  const refreshMs = refreshText === undefined || refreshText.trim() === "" ? DEFAULT_REFRESH_MS : Number(refreshText);
  let resolver: StartedResolver;
  try {
    resolver = await startResolver({ trustedProxies, header, localHosts, localOrigins, publicOrigins, unattributable, refreshMs, warn: log });
  } catch (error) {
    // Where the bad value came from: the environment's variable, when it came from there.
    if (!(error instanceof ClientAddressConfigError)) throw error;
    const source = error.option === "refreshMs" ? "TRUSTED_PROXIES_REFRESH_MS" : error.option === "trustedProxies" && fromEnvironment !== undefined ? "TRUSTED_PROXIES" : null;
    throw source === null ? error : new ClientAddressConfigError(`${source}: ${error.message}`, error.option, error.entry, error.index);
  }
  for (const { name, addresses, error } of resolver.names) {
    log(`gateway: trustedProxies name "${name}": ${error === null ? addresses.join(", ") : `not resolved (${error})`}; looked up again every ${refreshMs} ms`);
  }
  return resolver;
}
