// The README's upgrade handler, run for real: a Node http server with `ws` on loopback, real WebSocket clients.
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createGateway } from "../examples/upgrade-handler.js";

type Outcome = { opened: { connected: boolean; local: boolean; address: string } } | { closed: { code: number; reason: string } };

const server = createGateway({ trustedProxies: [], token: "s3cret" });
let port = 0;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function connect(options: WebSocket.ClientOptions = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, options);
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

describe("the README's upgrade handler", () => {
  it("lets a local script in without a token", async () => {
    expect(await connect()).toEqual({ opened: { connected: true, local: true, address: "127.0.0.1" } });
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

  it("lets a remote-looking client in with the token, as not local", async () => {
    const outcome = await connect({ origin: "https://evil.example", headers: { Authorization: "Bearer s3cret" } });
    expect(outcome).toMatchObject({ opened: { connected: true, local: false } });
  });

  it("is the code the README shows", async () => {
    const [readme, example] = await Promise.all([readFile("README.md", "utf8"), readFile("examples/upgrade-handler.ts", "utf8")]);
    expect(readme).toContain(example.trim());
  });
});
