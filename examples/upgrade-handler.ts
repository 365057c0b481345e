import { timingSafeEqual } from "node:crypto";
import { type Server, createServer } from "node:http";
import { WebSocketServer } from "ws";
import { compileTrustedProxies, resolveClientAddress } from "clientaddr";

/** A gateway that lets local clients in and makes every other client present the token. */
export function createGateway(config: { trustedProxies: string[]; token: string }): Server {
  const trustedProxies = compileTrustedProxies(config.trustedProxies); // throws on a bad entry at start-up
  for (const warning of trustedProxies.diagnostics) console.warn(warning.message);
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((_req, res) => res.end("dashboard\n"));

  server.on("upgrade", (req, socket, head) => {
    const client = resolveClientAddress({
      remoteAddress: req.socket.remoteAddress,
      headers: req.headers,
      trustedProxies,
    });
    const allowed = client.loopbackEquivalent || hasToken(req.headers.authorization, config.token);
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (!allowed) {
        // The line a user pastes into a bug report: who, why, and what to change.
        console.warn(`refused ${client.address ?? "unknown client"} (${client.basis}):`, client.diagnostics.map((d) => d.message).join("; "));
        ws.close(1008, "pairing required");
        return;
      }
      ws.send(JSON.stringify({ connected: true, local: client.loopbackEquivalent, address: client.address }));
    });
  });
  return server;
}

function hasToken(authorization: string | undefined, token: string): boolean {
  const given = Buffer.from(authorization ?? "");
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
