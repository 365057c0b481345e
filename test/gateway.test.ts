// The example gateway (docs/api.md's code), run for real: a Node http server with `ws` on loopback and real
// WebSocket clients.
import { readFile } from "node:fs/promises";
import { type AddressInfo, connect as connectTcp } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createResolver } from "clientaddr";
import { type GatewayConfig, createGateway } from "../examples/gateway/gateway.js";

type Outcome =
  | { opened: { connected: boolean; local: boolean; address: string; basis: string } }
  | { closed: { code: number; reason: string } }
  | { refused: { status: number | undefined; reason: string | string[] | undefined } };

const logged: string[] = [];
const server = createGateway(
  { gateway: { trustedProxies: [], auth: { mode: "token", token: "s3cret", pairedDevices: ["phone-1"] } } },
  { log: (line) => logged.push(line) },
);
let port = 0;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function connect(options: WebSocket.ClientOptions = {}, query = "", to = port): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${to}/ws${query}`, options);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error("no answer from the gateway within 5 s"));
    }, 5000);
    ws.once("message", (data) => {
      clearTimeout(timer);
      resolve({ opened: JSON.parse(String(data)) });
      ws.close();
    });
    ws.once("close", (code, reason) => {
      clearTimeout(timer);
      resolve({ closed: { code, reason: String(reason) } });
    });
    ws.once("unexpected-response", (_request, response) => {
      clearTimeout(timer);
      resolve({ refused: { status: response.statusCode, reason: response.headers["x-clientaddr-refusal"] } });
      response.destroy();
    });
    ws.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe("the example's upgrade handler", () => {
  it("lets a local script in without a token", async () => {
    expect(await connect()).toEqual({ opened: { connected: true, local: true, address: "127.0.0.1", basis: "socket:loopback" } });
  });

  it("lets the local dashboard page in (Origin names this machine)", async () => {
    expect(await connect({ origin: `http://127.0.0.1:${port}` })).toMatchObject({ opened: { local: true } });
  });

  it("refuses a cross-site page in the user's browser with 1008 pairing required", async () => {
    expect(await connect({ origin: "https://evil.example" })).toEqual({ closed: { code: 1008, reason: "pairing required" } });
  });

  it("refuses a DNS-rebinding page (Host names the attacker's domain)", async () => {
    expect(await connect({ headers: { Host: `rebind.evil.example:${port}` } })).toEqual({ closed: { code: 1008, reason: "pairing required" } });
  });

  it("refuses a loopback client that arrives with X-Forwarded-For (an undeclared proxy)", async () => {
    expect(await connect({ headers: { "X-Forwarded-For": "127.0.0.1" } })).toEqual({ closed: { code: 1008, reason: "pairing required" } });
  });

  it("lets a non-local client in with the token and a paired device, from the gateway's own page or none", async () => {
    // Host and Origin name the gateway's public name: not this machine, so not local; but its own page.
    const own = { origin: `http://gw.example:${port}`, headers: { Host: `gw.example:${port}` } };
    expect(await connect(own, "?token=s3cret&device=phone-1")).toMatchObject({ opened: { connected: true, local: false } });
    // A command-line client sends no Origin: not a page, and not local (its Host names no machine of ours).
    const cli = { headers: { Host: `gw.example:${port}`, Authorization: "Bearer s3cret" } };
    expect(await connect(cli, "?device=phone-1")).toMatchObject({ opened: { connected: true, local: false } });
  });

  it("refuses a page elsewhere that holds a paired device's token (cross-site WebSocket hijacking), an opaque origin too", async () => {
    const crossSite = { closed: { code: 1008, reason: "cross-site page" } };
    expect(await connect({ origin: "https://evil.example" }, "?token=s3cret&device=phone-1")).toEqual(crossSite);
    expect(await connect({ origin: "null", headers: { Host: `gw.example:${port}` } }, "?token=s3cret&device=phone-1")).toEqual(crossSite);
  });

  it("refuses the token without a paired device, and a paired device without the token", async () => {
    const refused = { closed: { code: 1008, reason: "pairing required" } };
    expect(await connect({ origin: "https://evil.example" }, "?token=s3cret")).toEqual(refused);
    expect(await connect({ origin: "https://evil.example" }, "?token=s3cret&device=phone-2")).toEqual(refused);
    expect(await connect({ origin: "https://evil.example" }, "?token=wrong!&device=phone-1")).toEqual(refused);
  });

  it("serves the dashboard page", async () => {
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('id="status"');
  });

  it("survives a bad frame from the peer: an unmasked one sent with a refused client's handshake, or an admitted one's", async () => {
    // Without an 'error' listener on the socket, ws's error for a bad frame ended the process. Caddy 2.6.2 (Debian's)
    // sends its unmasked close frame upstream when it shuts down (caddyserver/caddy#5199).
    const close = Buffer.from([0x88, 0x02, 0x03, 0xe8]); // close 1000, unmasked
    for (const host of [`203.0.113.9:${port}`, `127.0.0.1:${port}`]) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connectTcp(port, "127.0.0.1", () => {
          socket.write(`GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
          socket.write(close);
        });
        let received = "";
        socket.on("data", (chunk) => (received += chunk.toString("latin1")));
        socket.on("close", () => resolve(received));
        socket.on("error", reject);
        socket.setTimeout(5000, () => {
          socket.destroy();
          reject(new Error(`the gateway did not close the connection within 5 s: ${JSON.stringify(received)}`));
        });
      });
      expect(answer).toMatch(/^HTTP\/1\.1 101 /);
    }
    expect(await connect()).toMatchObject({ opened: { connected: true, local: true } });
  });

  it("is the code docs/api.md shows", async () => {
    const [readme, example] = await Promise.all([readFile("docs/api.md", "utf8"), readFile("examples/gateway/gateway.ts", "utf8")]);
    expect(readme).toContain(example.trim());
  });
});

/** A gateway of its own for a test that counts what it logs or remembers. */
async function gateway(config: Partial<GatewayConfig["gateway"]>, log: (line: string) => void = () => undefined) {
  const own = createGateway({ gateway: { trustedProxies: [], auth: { mode: "token", token: "s3cret", pairedDevices: ["phone-1"] }, ...config } }, { log });
  await new Promise<void>((resolve) => own.listen(0, "127.0.0.1", resolve));
  return {
    port: (own.address() as AddressInfo).port,
    async [Symbol.asyncDispose]() {
      own.closeAllConnections();
      await new Promise((resolve) => own.close(resolve));
    },
  };
}

describe("the example's refusals, log and limits", () => {
  it("logs one line per peer and port, naming the attribution, the basis and the fix, not one per refusal", async () => {
    const lines: string[] = [];
    await using own = await gateway({}, (line) => lines.push(line));
    for (let i = 0; i < 3; i++) await connect({ origin: "https://evil.example" }, "", own.port);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^clientaddr: refused 127\\.0\\.0\\.1 on port ${own.port}: direct-local, socket:origin-not-local: Origin "https://evil\\.example"`));
  });

  it("with unattributable: reject, answers an undeclared proxy's handshake 403 with the reason; with warn, as remote", async () => {
    const forwarded = { headers: { "X-Forwarded-For": "203.0.113.7" } };
    {
      await using rejecting = await gateway({ unattributable: "reject" });
      expect(await connect(forwarded, "?token=s3cret&device=phone-1", rejecting.port)).toEqual({ refused: { status: 403, reason: "undeclared-proxy" } });
      expect(await connect({}, "", rejecting.port)).toMatchObject({ opened: { local: true } });
    }
    await using warning = await gateway({});
    expect(await connect(forwarded, "", warning.port)).toEqual({ closed: { code: 1008, reason: "pairing required" } });
  });

  it("refuses a client after ten wrong tokens in a minute, even with the right one; a local client is not held up", async () => {
    await using own = await gateway({});
    const remote = { headers: { Host: `gw.example:${own.port}` } };
    for (let i = 0; i < 10; i++) expect(await connect(remote, `?token=guess-${i}&device=phone-1`, own.port)).toEqual({ closed: { code: 1008, reason: "pairing required" } });
    expect(await connect(remote, "?token=s3cret&device=phone-1", own.port)).toEqual({ closed: { code: 1008, reason: "too many attempts" } });
    // Until the minute ends, whatever it presents; a local client is admitted before any of this is asked.
    expect(await connect(remote, "?device=phone-1", own.port)).toEqual({ closed: { code: 1008, reason: "too many attempts" } });
    expect(await connect({}, "", own.port)).toMatchObject({ opened: { local: true } });
  });
});

describe("a resolver swapped while the gateway serves (options.resolver)", () => {
  it("is asked on every handshake: the one in force decides", async () => {
    let resolver = createResolver({ trustedProxies: [] });
    const swapping = createGateway(
      { gateway: { trustedProxies: [], auth: { mode: "token", token: "s3cret" } } },
      { log: () => undefined, resolver: () => resolver },
    );
    await new Promise<void>((resolve) => swapping.listen(0, "127.0.0.1", resolve));
    const to = (swapping.address() as AddressInfo).port;
    try {
      const forwarded = { headers: { "X-Forwarded-For": "127.0.0.1" } };
      // Undeclared, 127.0.0.1 with X-Forwarded-For is a proxy nobody declared; declared, its header is walked.
      expect(await connect(forwarded, "", to)).toEqual({ closed: { code: 1008, reason: "pairing required" } });
      resolver = createResolver({ trustedProxies: ["127.0.0.1"] });
      expect(await connect(forwarded, "", to)).toMatchObject({ opened: { local: true, basis: "x-forwarded-for:loopback" } });
      resolver = createResolver({ trustedProxies: [] });
      expect(await connect(forwarded, "", to)).toEqual({ closed: { code: 1008, reason: "pairing required" } });
    } finally {
      swapping.closeAllConnections();
      await new Promise((resolve) => swapping.close(resolve));
    }
  });
});
