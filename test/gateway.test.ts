// The example gateway (docs/api.md's code), run for real: a Node http server with `ws` on loopback and real
// WebSocket clients.
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createResolver } from "clientaddr";
import { createGateway } from "../examples/gateway/gateway.js";

type Outcome = { opened: { connected: boolean; local: boolean; address: string; basis: string } } | { closed: { code: number; reason: string } };

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

  it("lets a non-local client in with the token and a paired device, as not local", async () => {
    const outcome = await connect({ origin: "https://evil.example" }, "?token=s3cret&device=phone-1");
    expect(outcome).toMatchObject({ opened: { connected: true, local: false } });
    const bearer = await connect({ origin: "https://evil.example", headers: { Authorization: "Bearer s3cret" } }, "?device=phone-1");
    expect(bearer).toMatchObject({ opened: { connected: true, local: false } });
  });

  it("refuses the token without a paired device, and a paired device without the token", async () => {
    const refused = { closed: { code: 1008, reason: "pairing required" } };
    expect(await connect({ origin: "https://evil.example" }, "?token=s3cret")).toEqual(refused);
    expect(await connect({ origin: "https://evil.example" }, "?token=s3cret&device=phone-2")).toEqual(refused);
    expect(await connect({ origin: "https://evil.example" }, "?token=wrong!&device=phone-1")).toEqual(refused);
  });

  it("logs one line per refusal with the basis and the diagnostics", async () => {
    logged.length = 0;
    await connect({ origin: "https://evil.example" });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^gateway: refused 127\.0\.0\.1 \(socket:origin-not-local\): \[origin-not-local\] Origin "https:\/\/evil\.example"/);
  });

  it("serves the dashboard page", async () => {
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('id="status"');
  });

  it("is the code docs/api.md shows", async () => {
    const [readme, example] = await Promise.all([readFile("docs/api.md", "utf8"), readFile("examples/gateway/gateway.ts", "utf8")]);
    expect(readme).toContain(example.trim());
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
