// An example gateway in the shape of the one in the story: one port serves a dashboard page and accepts
// WebSocket connections. Local clients connect without pairing; everyone else needs the token and a paired
// device, or the socket is closed with 1008 "pairing required". It imports clientaddr as any user would.
import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { type IncomingMessage, type Server, createServer } from "node:http";
import { WebSocketServer } from "ws";
import { type ClientAddress, type Resolver, compileTrustedProxies, connectionSecure, createResolver, declaredSource } from "clientaddr";

export interface GatewayConfig {
  gateway: {
    trustedProxies?: string[];
    /** Which forwarding header the proxies in front of the gateway write, if not X-Forwarded-For. */
    header?: "x-forwarded-for" | "forwarded" | "x-real-ip";
    localHosts?: string[];
    /** Pages besides the gateway's own dashboard whose connections may count as local (a dev server). */
    localOrigins?: string[];
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
  log?: (line: string) => void;
  /**
   * The resolver in force, asked on every handshake: for a gateway that reloads its configuration while it
   * serves, the one last made. Default: one made from `config.gateway` at start-up.
   */
  resolver?: () => Resolver;
}

const DASHBOARD = readFileSync(new URL("./dashboard.html", import.meta.url));

export function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Server {
  const { trustedProxies = [], header, localHosts, localOrigins, auth } = config.gateway;
  const log = options.log ?? ((line: string) => console.log(line));
  const trusted = compileTrustedProxies(trustedProxies);
  for (const warning of trusted.diagnostics) log(`gateway: trustedProxies: ${warning.message}`);
  // Every option validated and compiled once: a bad one stops the gateway here, at start-up.
  const resolver = createResolver({ trustedProxies: trusted, header, localHosts, localOrigins });
  const paired = new Set(auth.pairedDevices ?? []);

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
    const result = (options.resolver?.() ?? resolver).resolve({
      remoteAddress: req.socket.remoteAddress,
      declaredSource: declaredSource(req.socket), // behind a TCP load balancer that sends the PROXY protocol
      secure: connectionSecure(req.socket), // an https server's TLS, or a balancer's declared TLS: the page's scheme
      headers: req.rawHeaders, // raw lines, so that a repeated Host or Origin is seen and refused
    });
    const query = new URL(req.url ?? "/", "http://gateway.invalid").searchParams;
    const device = query.get("device");
    const admitted =
      result.loopbackEquivalent || (sameSecret(query.get("token") ?? bearer(req.headers.authorization), auth.token) && device !== null && paired.has(device));
    options.onHandshake?.({ request: captured(req), result, admitted });
    if (!admitted) {
      // The one line a user pastes into a bug report: who, why, and what to change.
      log(`gateway: refused ${result.address ?? "unknown client"} (${result.basis}): ${result.diagnostics.map((d) => `[${d.code}] ${d.message}`).join(" ")}`);
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (!admitted) {
        ws.close(1008, "pairing required");
        return;
      }
      ws.send(JSON.stringify({ connected: true, local: result.loopbackEquivalent, address: result.address, basis: result.basis }));
    });
  });
  return server;
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
