// An example gateway in the shape of the one in the story: one port serves a dashboard page and accepts
// WebSocket connections. Local clients connect without pairing; everyone else needs the token and a paired
// device, from the gateway's own page or from no page at all, or the socket is closed with 1008 and the reason.
// It imports clientaddr as any user would.
import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { type IncomingMessage, type Server, createServer } from "node:http";
import { WebSocketServer } from "ws";
import { type ClientAddress, type Resolver, compileTrustedProxies, createRefusalLog, createResolver, declaredSource, isCrossSite, rateLimitKey } from "clientaddr";
import { refuse, resolveRequest } from "clientaddr/node";

export interface GatewayConfig {
  gateway: {
    trustedProxies?: string[];
    /** Which forwarding header the proxies in front of the gateway write, if not X-Forwarded-For. */
    header?: "x-forwarded-for" | "forwarded" | "x-real-ip";
    localHosts?: string[];
    /** Pages besides the gateway's own dashboard whose connections may count as local (a dev server). */
    localOrigins?: string[];
    /** The gateway's own origins behind a TLS proxy (https://gw.example.com): the pages a paired device may use. */
    publicOrigins?: string[];
    /** "reject" refuses a request whose forwarding evidence cannot be believed with 403 (default "warn": remote). */
    unattributable?: "warn" | "reject";
    auth: { mode: "token"; token: string; pairedDevices?: string[] };
  };
}

/** One upgrade request as the gateway received it, and what the resolver said. */
export interface Handshake {
  request: {
    peer: { address: string; port: number } | null;
    /** What a trusted load balancer declared with the PROXY protocol (clientaddr/proxy-protocol), if it did. */
    declaredSource?: string | null;
    local: { address: string; port: number } | null;
    method: string;
    url: string;
    rawHeaders: string[];
  };
  result: ClientAddress;
  admitted: boolean;
}

export interface GatewayOptions {
  /** Called with every handshake, before it is answered (the recorder's capture mode). */
  onHandshake?: (handshake: Handshake) => void;
  /** Called with every plain HTTP request, before it is answered (capture mode for requests that are not upgrades). */
  onRequest?: (request: Handshake["request"]) => void;
  /** Where refusals are logged: one line per peer and port every 5 minutes (createRefusalLog). */
  log?: (line: string) => void;
  /**
   * The resolver in force, asked on every handshake: for a gateway that reloads its configuration while it
   * serves, the one last made. Default: one made from `config.gateway` at start-up.
   */
  resolver?: () => Resolver;
}

const DASHBOARD = readFileSync(new URL("./dashboard.html", import.meta.url));
// Failed token attempts a client may make in a minute; then it is refused before its token is compared.
const FAILURES_PER_MINUTE = 10;

export function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Server {
  const { trustedProxies = [], header, localHosts, localOrigins, publicOrigins, unattributable, auth } = config.gateway;
  const log = options.log ?? ((line: string) => console.log(line));
  const trusted = compileTrustedProxies(trustedProxies);
  for (const warning of trusted.diagnostics) log(`gateway: trustedProxies: ${warning.message}`);
  // Every option validated and compiled once: a bad one stops the gateway here, at start-up.
  const resolver = createResolver({ trustedProxies: trusted, header, localHosts, localOrigins, publicOrigins, unattributable });
  const refusalLog = createRefusalLog({ warn: log });
  const failures = failureCounter();
  const paired = new Set(auth.pairedDevices ?? []);

  /** Why a client that is not local is refused, or null: it needs the token and a paired device. */
  function pairingRefusal(client: ClientAddress, req: IncomingMessage): string | null {
    const query = new URL(req.url ?? "/", "http://gateway.invalid").searchParams;
    const token = query.get("token") ?? bearer(req.headers.authorization);
    const device = query.get("device");
    const key = rateLimitKey(client); // one client, one key: an IPv6 client's /64, an unattributable request's peer
    if (failures.count(key) >= FAILURES_PER_MINUTE) return "too many attempts";
    if (!(sameSecret(token, auth.token) && device !== null && paired.has(device))) {
      if (token !== null) failures.add(key);
      return "pairing required";
    }
    // Cross-site WebSocket hijacking: a page elsewhere holding a paired device's credentials.
    return isCrossSite(client) ? "cross-site page" : null;
  }

  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req, res) => {
    options.onRequest?.(captured(req));
    if (req.method === "GET" && (req.url === "/" || req.url?.startsWith("/?"))) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(DASHBOARD);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });

  server.on("upgrade", (req: IncomingMessage, socket, head) => {
    const current = options.resolver?.() ?? resolver;
    // The peer, the raw header lines (a repeated Host or Origin is seen), a balancer's PROXY header, TLS.
    const result = resolveRequest(req, current);
    const refusal = current.refusal(result); // made with unattributable: "reject", and it cannot be attributed
    const reason = refusal?.reason ?? (result.loopbackEquivalent ? null : pairingRefusal(result, req));
    options.onHandshake?.({ request: captured(req), result, admitted: reason === null });
    // The line a user pastes into a bug report: who, how attributed, why, and what to change.
    if (reason !== null) refusalLog(result, req.socket.localPort);
    if (refusal !== null) return void refuse(socket, refusal);
    wss.handleUpgrade(req, socket, head, (ws) => {
      // A bad frame from the peer (unmasked, oversized, not UTF-8) is an 'error' on the socket, even one being
      // closed with 1008: without a listener it would end the process. ws has already failed the connection.
      ws.on("error", () => ws.terminate());
      if (reason !== null) return void ws.close(1008, reason);
      ws.send(JSON.stringify({ connected: true, local: result.loopbackEquivalent, address: result.address, basis: result.basis }));
    });
  });
  return server;
}

/** Failed attempts per key in the current minute, in bounded memory (a full table stops counting new keys). */
function failureCounter(maxKeys = 10_000) {
  let minute = 0;
  const failed = new Map<string, number>();
  function current(): Map<string, number> {
    const now = Math.floor(Date.now() / 60_000);
    if (now !== minute) {
      minute = now;
      failed.clear();
    }
    return failed;
  }
  return {
    count: (key: string): number => current().get(key) ?? 0,
    add(key: string): void {
      const counts = current();
      if (counts.size < maxKeys || counts.has(key)) counts.set(key, (counts.get(key) ?? 0) + 1);
    },
  };
}

function captured(req: IncomingMessage): Handshake["request"] {
  const { remoteAddress, remotePort, localAddress, localPort } = req.socket;
  const declared = declaredSource(req.socket);
  return {
    peer: remoteAddress === undefined || remotePort === undefined ? null : { address: remoteAddress, port: remotePort },
    ...(declared === undefined ? {} : { declaredSource: declared }),
    local: localAddress === undefined || localPort === undefined ? null : { address: localAddress, port: localPort },
    method: req.method ?? "",
    url: req.url ?? "",
    rawHeaders: [...req.rawHeaders],
  };
}

export function bearer(authorization: string | undefined): string | null {
  return authorization?.startsWith("Bearer ") ? authorization.slice(7) : null;
}

export function sameSecret(given: string | null, expected: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
