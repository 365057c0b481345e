// Records real WebSocket upgrade handshakes on loopback and writes one fixture per judged case to
// fixtures/recorded/. Run with `npx tsx scripts/record.ts`.
//
// The example gateway (examples/gateway, in capture mode: scripts/lib/capturing-gateway.ts) on three loopback
// sockets, each on a port the OS picks:
//   v4   bound on 127.0.0.1
//   v6   bound on ::1
//   dual an IPv6 socket bound on the mapped ::ffff:127.0.0.1: IPv4 loopback clients show as ::ffff:127.0.0.1,
//        as on a dual-stack server, and nothing but loopback reaches it.
// Every client connects to 127.0.0.1 or ::1 only: clients whose URL names a host (localhost, rebind.evil.example,
// ...) get a createConnection that dials 127.0.0.1 directly, so no name is ever looked up. Scenarios run one at
// a time; each sends its request with `?case=<name>` and gets back what the gateway captured (req.rawHeaders,
// socket addresses) exactly as it arrived. Every wait is bounded, and everything is closed before the script
// exits.
//
// The expected answers below are derived by hand from the rules (never by calling the library): the
// fixtures exist to check the library. Each scenario also asserts that the captured request carries the
// headers its expectations assume, so a client that sends something else fails the run instead of writing a
// fixture whose expectation no longer fits.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { CapturingGateway, type LoopbackBind } from "./lib/capturing-gateway.js";
import { runBounded } from "./lib/run-bounded.js";
import { type Fixture, writeFixtureSet } from "./lib/write-fixture.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT_DIR = path.join(ROOT, "fixtures", "recorded");
const CURL = "/usr/bin/curl";
const SCENARIO_TIMEOUT_MS = 5_000;
const CURL_MAX_TIME_S = 3;

// ---------------------------------------------------------------------------------------------------------
// Fixture shape: the loader's own types

type CapturedRequest = Fixture["request"];
type FixtureOptions = Fixture["options"];
type Expected = Fixture["expected"];

// ---------------------------------------------------------------------------------------------------------
// Servers

type ServerId = "v4" | "v6" | "dual";

const SERVER_BIND: Record<ServerId, LoopbackBind> = { v4: "127.0.0.1", v6: "::1", dual: "::ffff:127.0.0.1" };

function isLoopbackText(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return (net.isIPv4(v4) && v4.startsWith("127.")) || address === "::1";
}

// ---------------------------------------------------------------------------------------------------------
// Clients (every one dials 127.0.0.1 or ::1 and nothing else)

interface Ctx {
  port: number;
  /** The scenario's `case` id, sent in the URL so that the gateway's capture can be found. */
  id: string;
}

interface Client {
  /** What the client is, for provenance. */
  label: string;
  /** Which address the TCP connection is made to. */
  dial: "127.0.0.1" | "::1";
  run(ctx: Ctx): Promise<void>;
}

const versions = {
  ws: (JSON.parse(readFileSync(path.join(ROOT, "node_modules", "ws", "package.json"), "utf8")) as { version: string })
    .version,
  node: process.version,
  curl: curlVersion(),
};

function curlVersion(): string {
  try {
    const out = execFileSync(CURL, ["--version"], { encoding: "utf8", timeout: 3_000 });
    return out.split("\n")[0]?.trim() ?? "curl (unknown version)";
  } catch {
    return "curl (version unknown)";
  }
}

/** A `ws` WebSocket client. `urlHost` is what goes into the URL (and so Host); the socket always dials `dial`. */
function wsClient(opts: {
  urlHost: (ctx: Ctx) => string;
  dial?: "127.0.0.1" | "::1";
  origin?: (ctx: Ctx) => string;
  what: string;
}): Client {
  const dial = opts.dial ?? "127.0.0.1";
  return {
    label: `ws ${versions.ws} WebSocket client on Node ${versions.node} (${opts.what})`,
    dial,
    run: (ctx) =>
      new Promise<void>((resolve) => {
        const url = `ws://${opts.urlHost(ctx)}/?case=${ctx.id}`;
        const ws = new WebSocket(url, {
          handshakeTimeout: 3_000,
          perMessageDeflate: true,
          ...(opts.origin ? { origin: opts.origin(ctx) } : {}),
          // Never resolve a name: connect straight to the loopback address of the server under test.
          createConnection: () => net.connect({ host: dial, port: ctx.port }),
        });
        const timer = setTimeout(() => ws.terminate(), SCENARIO_TIMEOUT_MS);
        ws.on("error", () => undefined);
        // Admitted, the gateway says hello and keeps the socket: the handshake is all that is recorded.
        ws.on("message", () => ws.close());
        ws.on("close", () => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/** Node's http.request sending a WebSocket upgrade with the given extra headers. */
function nodeUpgrade(opts: {
  extra?: Record<string, string | string[]>;
  setHost?: boolean;
  what: string;
}): Client {
  return {
    label: `Node ${versions.node} http.request sending a WebSocket upgrade by hand (${opts.what})`,
    dial: "127.0.0.1",
    run: (ctx) =>
      new Promise<void>((resolve) => {
        const headers: Record<string, string | string[]> = {
          Connection: "Upgrade",
          Upgrade: "websocket",
          "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
          ...opts.extra,
        };
        const req = http.request({
          host: "127.0.0.1",
          port: ctx.port,
          method: "GET",
          path: `/?case=${ctx.id}`,
          headers,
          setHost: opts.setHost ?? true,
          agent: false,
          timeout: 3_000,
        });
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          req.destroy();
          finish();
        }, SCENARIO_TIMEOUT_MS);
        req.on("upgrade", (_res, socket: net.Socket) => {
          socket.destroy();
          finish();
        });
        req.on("response", (res) => {
          res.resume();
          res.on("end", finish);
          res.on("error", finish);
        });
        req.on("timeout", () => req.destroy());
        req.on("error", finish);
        req.on("close", finish);
        req.end();
      }),
  };
}

/** curl sending a WebSocket upgrade over HTTP/1.1, bounded by --max-time. */
function curlUpgrade(): Client {
  return {
    label: `${versions.curl} (${CURL} --http1.1 --max-time ${CURL_MAX_TIME_S}, upgrade headers set with -H)`,
    dial: "127.0.0.1",
    run: (ctx) =>
      new Promise<void>((resolve) => {
        const args = [
          "-q", // ignore any .curlrc
          "--noproxy",
          "*",
          "--http1.1",
          "--silent",
          "--max-time",
          String(CURL_MAX_TIME_S),
          "--output",
          "/dev/null",
          "-H",
          "Connection: Upgrade",
          "-H",
          "Upgrade: websocket",
          "-H",
          "Sec-WebSocket-Version: 13",
          "-H",
          `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
          `http://127.0.0.1:${ctx.port}/?case=${ctx.id}`,
        ];
        const env = { ...process.env };
        for (const key of Object.keys(env)) if (/proxy/i.test(key)) delete env[key];
        const child = spawn(CURL, args, { stdio: "ignore", env });
        const timer = setTimeout(() => child.kill("SIGKILL"), (CURL_MAX_TIME_S + 2) * 1_000);
        const finish = () => {
          clearTimeout(timer);
          resolve();
        };
        child.on("error", finish);
        child.on("exit", finish);
      }),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios

interface Judgement {
  name: string;
  description: string;
  options: FixtureOptions;
  expected: Expected;
}

interface Scenario {
  server: ServerId;
  client: Client;
  /** Throws if the captured request does not carry what the expectations assume. */
  check: (request: CapturedRequest, ctx: Ctx) => void;
  judgements: Judgement[];
}

/** The joined value of a header in rawHeaders (repeated lines joined with ", "), or undefined. */
function header(request: CapturedRequest, name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    if (request.rawHeaders[i]!.toLowerCase() !== name) continue;
    const line = request.rawHeaders[i + 1]!;
    value = value === undefined ? line : `${value}, ${line}`;
  }
  return value;
}

/** Expects each named header to have exactly this value (undefined: absent). Unlisted forwarding headers must be absent. */
function headers(want: (ctx: Ctx) => Record<string, string | undefined>) {
  return (request: CapturedRequest, ctx: Ctx) => {
    const expected: Record<string, string | undefined> = {
      forwarded: undefined,
      "x-forwarded-for": undefined,
      "x-real-ip": undefined,
      origin: undefined,
      ...want(ctx),
    };
    for (const [name, value] of Object.entries(expected)) {
      const got = header(request, name);
      if (got !== value) throw new Error(`header ${name}: expected ${JSON.stringify(value)}, got ${JSON.stringify(got)}`);
    }
  };
}

const hostV4 = (ctx: Ctx) => `127.0.0.1:${ctx.port}`;

const scenarios: Scenario[] = [
  {
    server: "v4",
    client: wsClient({ urlHost: hostV4, what: "no origin option: script-like" }),
    check: headers((ctx) => ({ host: hostV4(ctx) })),
    judgements: [
      {
        name: "loopback-ws-script-client",
        description: "A ws client without Origin on IPv4 loopback, naming 127.0.0.1 in Host, is local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" },
      },
    ],
  },
  {
    server: "v4",
    client: wsClient({ urlHost: hostV4, origin: (ctx) => `http://127.0.0.1:${ctx.port}`, what: "origin option set to the server's own origin: browser-like" }),
    check: headers((ctx) => ({ host: hostV4(ctx), origin: `http://127.0.0.1:${ctx.port}` })),
    judgements: [
      {
        name: "loopback-ws-browser-like-same-origin",
        description: "A browser-like handshake on IPv4 loopback whose Origin is the server's own http://127.0.0.1:PORT is local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" },
      },
    ],
  },
  {
    server: "v6",
    client: wsClient({ urlHost: (ctx) => `[::1]:${ctx.port}`, dial: "::1", what: "no origin option: script-like" }),
    check: headers((ctx) => ({ host: `[::1]:${ctx.port}` })),
    judgements: [
      {
        name: "ipv6-loopback-ws-script-client",
        description: "A ws client without Origin over IPv6 loopback, with Host [::1]:PORT, is local and its address is ::1.",
        options: { trustedProxies: [] },
        expected: { address: "::1", loopbackEquivalent: true, basis: "socket:loopback" },
      },
    ],
  },
  {
    server: "v6",
    client: wsClient({ urlHost: (ctx) => `[::1]:${ctx.port}`, dial: "::1", origin: (ctx) => `http://[::1]:${ctx.port}`, what: "origin option set to the server's own origin: browser-like" }),
    check: headers((ctx) => ({ host: `[::1]:${ctx.port}`, origin: `http://[::1]:${ctx.port}` })),
    judgements: [
      {
        name: "ipv6-loopback-ws-browser-like-same-origin",
        description: "A browser-like handshake over IPv6 loopback with Origin http://[::1]:PORT is local.",
        options: { trustedProxies: [] },
        expected: { address: "::1", loopbackEquivalent: true, basis: "socket:loopback" },
      },
    ],
  },
  {
    server: "dual",
    client: wsClient({ urlHost: hostV4, what: "no origin option: script-like, connecting to 127.0.0.1" }),
    check: headers((ctx) => ({ host: hostV4(ctx) })),
    judgements: [
      {
        name: "dual-stack-mapped-ipv4-loopback",
        description: "An IPv4 loopback client of an IPv6 server socket (as on a dual-stack server) appears as ::ffff:127.0.0.1, is shown as 127.0.0.1 and is local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" },
      },
    ],
  },
  {
    server: "dual",
    client: nodeUpgrade({ extra: { "X-Forwarded-For": "203.0.113.7" }, what: "X-Forwarded-For: 203.0.113.7, connecting to 127.0.0.1" }),
    check: headers((ctx) => ({ host: hostV4(ctx), "x-forwarded-for": "203.0.113.7" })),
    judgements: [
      {
        name: "dual-stack-mapped-peer-trusted-as-ipv4",
        description: "A ::ffff:127.0.0.1 peer is matched as IPv4 by a trustedProxies entry 127.0.0.1, so its X-Forwarded-For is read and names a remote client.",
        options: { trustedProxies: ["127.0.0.1"] },
        expected: { address: "203.0.113.7", loopbackEquivalent: false, basis: "x-forwarded-for:remote-client" },
      },
    ],
  },
  {
    server: "v4",
    client: wsClient({ urlHost: hostV4, origin: () => "https://evil.example", what: "origin option https://evil.example: a cross-site page" }),
    check: headers((ctx) => ({ host: hostV4(ctx), origin: "https://evil.example" })),
    judgements: [
      {
        name: "loopback-cross-site-origin",
        description: "A loopback handshake opened by a page on another site (Origin https://evil.example) is not local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:origin-not-local" },
      },
    ],
  },
  {
    server: "v4",
    client: wsClient({ urlHost: hostV4, origin: () => "null", what: "origin option \"null\": an opaque origin such as a sandboxed iframe or file: page" }),
    check: headers((ctx) => ({ host: hostV4(ctx), origin: "null" })),
    judgements: [
      {
        name: "loopback-origin-null",
        description: "A loopback handshake with the opaque Origin null is not local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:origin-not-local" },
      },
    ],
  },
  {
    server: "v4",
    client: wsClient({
      urlHost: (ctx) => `rebind.evil.example:${ctx.port}`,
      origin: (ctx) => `http://rebind.evil.example:${ctx.port}`,
      what: "URL ws://rebind.evil.example:PORT with the connection pinned to 127.0.0.1 (what DNS rebinding produces) and the rebinding page's origin: browser-like",
    }),
    check: headers((ctx) => ({ host: `rebind.evil.example:${ctx.port}`, origin: `http://rebind.evil.example:${ctx.port}` })),
    judgements: [
      {
        name: "loopback-rebinding-host",
        description: "A DNS-rebinding page reaching loopback sends its own name as Host (and Origin): not local, and Host is the first failing check.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:host-not-local" },
      },
    ],
  },
  {
    server: "v4",
    client: wsClient({ urlHost: (ctx) => `localhost:${ctx.port}`, what: "URL ws://localhost:PORT, connection made to 127.0.0.1: script-like" }),
    check: headers((ctx) => ({ host: `localhost:${ctx.port}` })),
    judgements: [
      {
        name: "loopback-host-localhost",
        description: "A loopback handshake with Host localhost:PORT is local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" },
      },
    ],
  },
  {
    server: "v4",
    client: wsClient({ urlHost: (ctx) => `app.localhost:${ctx.port}`, what: "URL ws://app.localhost:PORT, connection made to 127.0.0.1: script-like" }),
    check: headers((ctx) => ({ host: `app.localhost:${ctx.port}` })),
    judgements: [
      {
        name: "loopback-host-sub-localhost",
        description: "A loopback handshake with Host app.localhost:PORT (a *.localhost name) is local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" },
      },
    ],
  },
  {
    server: "v4",
    client: wsClient({ urlHost: (ctx) => `localhost.evil.example:${ctx.port}`, what: "URL ws://localhost.evil.example:PORT, connection pinned to 127.0.0.1" }),
    check: headers((ctx) => ({ host: `localhost.evil.example:${ctx.port}` })),
    judgements: [
      {
        name: "loopback-host-localhost-evil-example",
        description: "A Host that merely starts with localhost (localhost.evil.example:PORT) does not name this machine: not local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:host-not-local" },
      },
    ],
  },
  {
    server: "v4",
    client: wsClient({ urlHost: (ctx) => `devbox:${ctx.port}`, what: "URL ws://devbox:PORT (the machine's own name), connection made to 127.0.0.1" }),
    check: headers((ctx) => ({ host: `devbox:${ctx.port}` })),
    judgements: [
      {
        name: "loopback-host-local-hosts-name",
        description: "A loopback handshake whose Host names the machine (devbox:PORT), listed in localHosts (compared case-insensitively), from a script that sends neither Origin nor Sec-Fetch-Site: not local, because to such a name (not localhost, not a loopback literal, over http) browsers send neither on a cross-site navigation or image, so a request without both cannot be told from one a page elsewhere caused.",
        options: { trustedProxies: [], localHosts: ["DevBox"] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:origin-not-local" },
      },
      {
        name: "loopback-host-unlisted-machine-name",
        description: "The same handshake with Host devbox:PORT is not local when localHosts does not list the name.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:host-not-local" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({ setHost: false, what: "setHost: false, so no Host header" }),
    check: headers(() => ({ host: undefined })),
    judgements: [
      {
        name: "loopback-missing-host",
        description: "A loopback handshake without a Host header is not local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:host-not-local" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({ extra: { "X-Forwarded-For": "127.0.0.1" }, what: "forged X-Forwarded-For: 127.0.0.1" }),
    check: headers((ctx) => ({ host: hostV4(ctx), "x-forwarded-for": "127.0.0.1" })),
    judgements: [
      {
        name: "loopback-forged-xff-loopback-untrusted",
        description: "X-Forwarded-For: 127.0.0.1 from an untrusted loopback peer is ignored for the address but, naming a client the walk did not read, makes the request not local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:unread-forwarding-header" },
      },
      {
        name: "loopback-forged-xff-loopback-trusted-loopback",
        description: "The same X-Forwarded-For: 127.0.0.1 from a loopback peer trusted as a proxy is read: the proxy vouches the client is loopback, so it is local.",
        options: { trustedProxies: ["loopback"] },
        expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "x-forwarded-for:loopback" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({ extra: { "X-Forwarded-For": "203.0.113.7" }, what: "X-Forwarded-For: 203.0.113.7" }),
    check: headers((ctx) => ({ host: hostV4(ctx), "x-forwarded-for": "203.0.113.7" })),
    judgements: [
      {
        name: "loopback-xff-public-trusted-loopback",
        description: "X-Forwarded-For: 203.0.113.7 from a trusted loopback proxy names a remote client: address 203.0.113.7, not local.",
        options: { trustedProxies: ["loopback"] },
        expected: { address: "203.0.113.7", loopbackEquivalent: false, basis: "x-forwarded-for:remote-client" },
      },
      {
        name: "loopback-xff-public-untrusted",
        description: "X-Forwarded-For: 203.0.113.7 from an untrusted loopback peer leaves the address 127.0.0.1 but makes the request not local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:unread-forwarding-header" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({ extra: { "X-Forwarded-For": "10.0.0.3" }, what: "X-Forwarded-For: 10.0.0.3" }),
    check: headers((ctx) => ({ host: hostV4(ctx), "x-forwarded-for": "10.0.0.3" })),
    judgements: [
      {
        name: "loopback-xff-trusted-private-trusted-path",
        description: "X-Forwarded-For: 10.0.0.3 through a trusted loopback proxy, with 10.0.0.0/8 trusted too, is an all-trusted path: address 10.0.0.3, local.",
        options: { trustedProxies: ["loopback", "10.0.0.0/8"] },
        expected: { address: "10.0.0.3", loopbackEquivalent: true, basis: "x-forwarded-for:trusted-path" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({ extra: { Forwarded: "for=127.0.0.1" }, what: "Forwarded: for=127.0.0.1" }),
    check: headers((ctx) => ({ host: hostV4(ctx), forwarded: "for=127.0.0.1" })),
    judgements: [
      {
        name: "loopback-forwarded-loopback-believed",
        description: "Forwarded: for=127.0.0.1 from a trusted loopback proxy, with Forwarded the believed header, names a loopback client: local.",
        options: { trustedProxies: ["loopback"], header: "forwarded" },
        expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "forwarded:loopback" },
      },
      {
        name: "loopback-forwarded-unbelieved",
        description: "The same Forwarded header from a trusted proxy while X-Forwarded-For is believed is a hop the walk cannot see: not local.",
        options: { trustedProxies: ["loopback"] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:unread-forwarding-header" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({
      extra: { "X-Forwarded-For": "127.0.0.1", Forwarded: "for=203.0.113.7" },
      what: "X-Forwarded-For: 127.0.0.1 and Forwarded: for=203.0.113.7",
    }),
    check: headers((ctx) => ({ host: hostV4(ctx), "x-forwarded-for": "127.0.0.1", forwarded: "for=203.0.113.7" })),
    judgements: [
      {
        name: "loopback-xff-and-forwarded-believe-xff",
        description: "A trusted proxy passing both X-Forwarded-For: 127.0.0.1 (believed) and Forwarded: for=203.0.113.7 is not local: Forwarded names a client the walk did not read.",
        options: { trustedProxies: ["loopback"] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "x-forwarded-for:unread-forwarding-header" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({
      extra: { "X-Forwarded-For": ["198.51.100.4", "10.0.0.3"] },
      what: "two X-Forwarded-For lines, 198.51.100.4 then 10.0.0.3",
    }),
    check: headers((ctx) => ({ host: hostV4(ctx), "x-forwarded-for": "198.51.100.4, 10.0.0.3" })),
    judgements: [
      {
        name: "loopback-xff-repeated-lines",
        description: "Repeated X-Forwarded-For lines are joined in wire order: with loopback and 10.0.0.0/8 trusted the walk passes 10.0.0.3 and stops at 198.51.100.4.",
        options: { trustedProxies: ["loopback", "10.0.0.0/8"] },
        expected: { address: "198.51.100.4", loopbackEquivalent: false, basis: "x-forwarded-for:remote-client" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({ extra: { "X-Forwarded-For": "unknown" }, what: "X-Forwarded-For: unknown" }),
    check: headers((ctx) => ({ host: hostV4(ctx), "x-forwarded-for": "unknown" })),
    judgements: [
      {
        name: "loopback-xff-unknown-entry",
        description: "X-Forwarded-For: unknown from a trusted loopback proxy is not an address: the client is unknown and not local.",
        options: { trustedProxies: ["loopback"] },
        expected: { address: null, loopbackEquivalent: false, basis: "x-forwarded-for:invalid-entry" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({ extra: { "X-Forwarded-For": "127.1" }, what: "X-Forwarded-For: 127.1" }),
    check: headers((ctx) => ({ host: hostV4(ctx), "x-forwarded-for": "127.1" })),
    judgements: [
      {
        name: "loopback-xff-legacy-127-1",
        description: "X-Forwarded-For: 127.1 (legacy shorthand for 127.0.0.1) from a trusted loopback proxy is not a strict address: unknown client, not local.",
        options: { trustedProxies: ["loopback"] },
        expected: { address: null, loopbackEquivalent: false, basis: "x-forwarded-for:invalid-entry" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({ extra: { "X-Forwarded-For": "127.0.0.1, 127.0.0.1, 127.0.0.1" }, what: "X-Forwarded-For with three 127.0.0.1 entries" }),
    check: headers((ctx) => ({ host: hostV4(ctx), "x-forwarded-for": "127.0.0.1, 127.0.0.1, 127.0.0.1" })),
    judgements: [
      {
        name: "loopback-xff-hop-limit",
        description: "Three trusted X-Forwarded-For entries with maxHops 2 exceed the hop limit: the client is unknown and not local.",
        options: { trustedProxies: ["loopback"], maxHops: 2 },
        expected: { address: null, loopbackEquivalent: false, basis: "x-forwarded-for:hop-limit" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({ extra: { Forwarded: 'for="127.0.0.1' }, what: "Forwarded with an unterminated quoted string" }),
    check: headers((ctx) => ({ host: hostV4(ctx), forwarded: 'for="127.0.0.1' })),
    judgements: [
      {
        name: "loopback-forwarded-malformed",
        description: "A believed Forwarded header with an unterminated quoted string cannot be parsed: the client is unknown and not local.",
        options: { trustedProxies: ["loopback"], header: "forwarded" },
        expected: { address: null, loopbackEquivalent: false, basis: "forwarded:malformed-header" },
      },
    ],
  },
  {
    server: "v4",
    client: nodeUpgrade({ extra: { "X-Real-IP": "198.51.100.23" }, what: "X-Real-IP: 198.51.100.23" }),
    check: headers((ctx) => ({ host: hostV4(ctx), "x-real-ip": "198.51.100.23" })),
    judgements: [
      {
        name: "loopback-x-real-ip-believed",
        description: "X-Real-IP: 198.51.100.23 from a trusted loopback proxy, with X-Real-IP the believed header, names a remote client: not local.",
        options: { trustedProxies: ["loopback"], header: "x-real-ip" },
        expected: { address: "198.51.100.23", loopbackEquivalent: false, basis: "x-real-ip:remote-client" },
      },
      {
        name: "loopback-x-real-ip-unbelieved",
        description: "The same X-Real-IP from a trusted proxy while X-Forwarded-For is believed is not read, and makes the request not local.",
        options: { trustedProxies: ["loopback"] },
        expected: { address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:unread-forwarding-header" },
      },
    ],
  },
  {
    server: "v4",
    client: curlUpgrade(),
    check: headers((ctx) => ({ host: hostV4(ctx) })),
    judgements: [
      {
        name: "loopback-curl-upgrade",
        description: "A curl WebSocket upgrade on IPv4 loopback (no Origin, Host 127.0.0.1:PORT) is local.",
        options: { trustedProxies: [] },
        expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" },
      },
    ],
  },
];

// ---------------------------------------------------------------------------------------------------------
// Run

function topology(server: CapturingGateway, client: Client): string {
  const bracket = (address: string) => (address.includes(":") ? `[${address}]` : address);
  const bound = `bound on ${bracket(server.bind)}:${server.port}${server.bind.startsWith("::ffff:") ? " (an IPv6 socket on the mapped IPv4 loopback address)" : ""}`;
  return `direct loopback TCP from the client to ${bracket(client.dial)}:${server.port}, the gateway ${bound}`;
}

/** Recorded here means recorded on loopback, from a complete request. */
function check(fixture: Fixture): void {
  const { request, description } = fixture;
  const fail = (why: string) => {
    throw new Error(`fixture ${fixture.name}: ${why}`);
  };
  if (description.length === 0) fail("empty description");
  if (request.rawHeaders.length % 2 !== 0 || !request.rawHeaders.every((item) => typeof item === "string")) fail("bad rawHeaders");
  if (request.peer === null || !isLoopbackText(request.peer.address)) fail(`peer is not loopback: ${JSON.stringify(request.peer)}`);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const servers: Record<ServerId, CapturingGateway> = {
    v4: new CapturingGateway(SERVER_BIND.v4),
    v6: new CapturingGateway(SERVER_BIND.v6),
    dual: new CapturingGateway(SERVER_BIND.dual),
  };
  const fixtures: Fixture[] = [];
  try {
    for (const server of Object.values(servers)) await server.listen();
    for (const scenario of scenarios) {
      const server = servers[scenario.server];
      const id = scenario.judgements[0]!.name;
      const ctx: Ctx = { port: server.port, id };
      const [request] = await Promise.all([
        server.next("upgrade", id, SCENARIO_TIMEOUT_MS),
        withTimeout(scenario.client.run(ctx), SCENARIO_TIMEOUT_MS + 3_000, `${id}: client`),
      ]);
      console.log(`  ${id}: peer ${request.peer?.address}:${request.peer?.port}`);
      try {
        scenario.check(request, ctx);
      } catch (error) {
        throw new Error(`${id}: recorded request does not fit the scenario: ${(error as Error).message}`);
      }
      const source =
        `client: ${scenario.client.label}; server: the example gateway (examples/gateway createGateway in capture mode, ws ${versions.ws}) ` +
        `on Node ${versions.node}; topology: ${topology(server, scenario.client)}; recorded by scripts/record.ts on ${date}`;
      for (const judgement of scenario.judgements) {
        fixtures.push({
          name: judgement.name,
          description: judgement.description,
          provenance: { kind: "recorded", source },
          request,
          options: judgement.options,
          expected: judgement.expected,
        });
      }
    }
    for (const [id, server] of Object.entries(servers)) {
      if (server.stray().length > 0) throw new Error(`${id}: requests nobody sent: ${server.stray().join(", ")}`);
    }
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.close()));
  }

  writeFixtureSet(OUT_DIR, fixtures, check);
  console.log(`wrote ${fixtures.length} fixtures from ${scenarios.length} recorded handshakes to ${path.relative(ROOT, OUT_DIR)}/`);
  console.log(`  ${versions.curl}; ws ${versions.ws}; Node ${versions.node}`);
}

runBounded("record", main);
