// The one capture path: every recorder records what the example gateway received, through its capture hooks
// (onRequest for plain requests, onHandshake for upgrades), on loopback here or with `server.ts --capture`
// inside a namespace or a container. This class is the in-process form: the example gateway on a loopback
// address, handing each request to whoever waits for its `?case=` id.
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createGateway } from "../../examples/gateway/gateway.js";
import { acceptProxyProtocol } from "../../src/proxy-protocol/index.js";
import type { Fixture } from "./write-fixture.js";

/** A request as the gateway captured it: a fixture's `request`. */
export type CapturedRequest = Fixture["request"];

/** Where a request arrived: a plain HTTP request, or a WebSocket upgrade. */
export type Channel = "http" | "upgrade";

/**
 * The loopback addresses the gateway is bound on. `::ffff:127.0.0.1` is an IPv6 socket bound to the mapped
 * loopback address: it takes IPv4 clients of 127.0.0.1 and reports them as `::ffff:127.0.0.1`, as a
 * dual-stack server does, while staying on loopback.
 */
export type LoopbackBind = "127.0.0.1" | "::1" | "::ffff:127.0.0.1";

export class CapturingGateway {
  readonly server = createGateway(
    // Its own verdict does not matter here: each capture is judged afterwards, from the rules.
    { gateway: { trustedProxies: [], auth: { mode: "token", token: randomBytes(16).toString("hex") } } },
    {
      onRequest: (request) => this.#arrived("http", request),
      onHandshake: ({ request }) => this.#arrived("upgrade", request),
      log: () => undefined,
    },
  );
  port = 0;
  readonly #arrivedByKey = new Map<string, CapturedRequest>();
  readonly #waiting = new Map<string, (request: CapturedRequest) => void>();
  readonly #claimed = new Set<string>();
  /** Requests with no `case` id, and repeats of ones that had one. */
  readonly unexpected: string[] = [];

  /**
   * `balancers`: the load balancers whose PROXY protocol header the gateway reads (clientaddr/proxy-protocol's
   * acceptProxyProtocol on its server); each request then carries what they declared (`declaredSource`).
   */
  constructor(
    readonly bind: LoopbackBind = "127.0.0.1",
    readonly balancers?: readonly string[],
  ) {
    if (balancers !== undefined) acceptProxyProtocol(this.server, { trustedProxies: balancers });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host: this.bind, port: 0 }, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** The request on `channel` whose URL carries `?case=<id>`, within the timeout (it may have arrived already). */
  next(channel: Channel, id: string, timeoutMs: number): Promise<CapturedRequest> {
    const key = `${channel} ${id}`;
    if (this.#claimed.has(key)) return Promise.reject(new Error(`${key}: already claimed`));
    this.#claimed.add(key);
    const arrived = this.#arrivedByKey.get(key);
    if (arrived !== undefined) return Promise.resolve(arrived);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        reject(new Error(`${id}: the gateway received no ${channel === "http" ? "HTTP request" : "upgrade request"} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(key, (request) => {
        clearTimeout(timer);
        this.#waiting.delete(key);
        resolve(request);
      });
    });
  }

  /** Claims the request on `channel` with this id, if it comes at all, without waiting for it. */
  ignore(channel: Channel, id: string): void {
    this.#claimed.add(`${channel} ${id}`);
  }

  /** What arrived that nobody asked for: requests without an id, repeats, and ids never claimed. */
  stray(): string[] {
    return [...this.unexpected, ...[...this.#arrivedByKey.keys()].filter((key) => !this.#claimed.has(key))];
  }

  #arrived(channel: Channel, request: CapturedRequest): void {
    const url = new URL(request.url, "http://gateway.invalid");
    const id = url.searchParams.get("case");
    if (id === null) {
      // A browser asks for the favicon of any page it shows.
      if (!(channel === "http" && url.pathname === "/favicon.ico")) this.unexpected.push(`${channel} ${request.method} ${request.url}`);
      return;
    }
    const key = `${channel} ${id}`;
    if (this.#arrivedByKey.has(key)) {
      this.unexpected.push(`${key} (a repeat)`);
      return;
    }
    this.#arrivedByKey.set(key, request);
    this.#waiting.get(key)?.(request);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
