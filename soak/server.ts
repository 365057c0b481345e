// One server of `npm run soak`, in a fresh process: `node --expose-gc --import tsx soak/server.ts gateway|fastify`,
// forked by soak/run.ts with an IPC channel. It listens on 127.0.0.1 (a port the system picks) behind
// clientaddr/proxy-protocol for the balancer on 127.0.0.3, and sends {type: "ready", port}. Then, on
// "start" (traffic paused after the warm-up) it collects garbage, takes RSS and heap, and starts the event
// loop delay monitor and the CPU profiler; on "end" (traffic over) it stops them, collects garbage and answers
// with its figures. It exits when the channel closes, so a driver that dies leaves no server behind.
//
// gateway: the example gateway (examples/gateway/gateway.ts), its resolver's trust list recompiled every
// SWAP_MS and swapped between TRUST_LISTS while traffic flows; unattributable requests answered as remote
// (warn), refusals logged through its refusal log, wrong tokens limited per rateLimitKey. fastify: a Fastify 5
// app with clientaddr's plugin (unattributable: "reject", so those are answered 403 before the route) and an
// @fastify/websocket route applying the gateway's admission rule (local, or paired and not cross-site); the
// plugin compiles its list when registered (the adapter's documented contract: to change it, make a new
// plugin), so no swap there.
import type { Server } from "node:http";
import { Session } from "node:inspector/promises";
import type { AddressInfo } from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { createResolver, isCrossSite } from "clientaddr";
import { type ProxyProtocolErrorCode, acceptProxyProtocol } from "clientaddr/proxy-protocol";
import { bearer, createGateway, sameSecret } from "../examples/gateway/gateway.js";
import { BALANCER, PAIRED_DEVICE, STALL_TIMEOUT_MS, TOKEN, TRUST_LISTS } from "./mix.js";

const SWAP_MS = 50;
// How long the end of a phase waits for the server's last connections to close, and how often it looks.
const DRAIN_LIMIT_MS = 10_000;
const DRAIN_POLL_MS = 20;
// The monitor's timer fires every LOOP_RESOLUTION_MS and records the whole interval: the delay is the excess.
const LOOP_RESOLUTION_MS = 10;

/** What the server reports at "start" and "end". */
export interface Memory {
  rss: number;
  heapUsed: number;
}

export interface ServerFigures {
  start: Memory;
  end: Memory;
  /** The event loop's delay over the measured phase (how late a timer ran), p99 and max, in milliseconds. */
  loopDelayP99: number;
  loopDelayMax: number;
  /** CPU time (user + system) over the measured phase, in milliseconds. */
  cpuMs: number;
  /** Profile samples (self time) in clientaddr's built code, by folder of dist/, over all samples not idle. */
  profile: { samples: number; clientaddr: number; byFolder: Record<string, number> };
  /** Trust lists recompiled and swapped in while traffic flowed (the whole run). */
  swaps: number;
  /** Handshakes the server refused (the whole run): closed with 1008, or answered 403 before the upgrade. */
  refusals: number;
  /** Balancer connections the PROXY protocol listener closed, by reason (the whole run). */
  balancerErrors: Partial<Record<ProxyProtocolErrorCode, number>>;
}

const DIST = new URL("../dist/", import.meta.url).href;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run the soak server with --expose-gc");

let swaps = 0;
let refusals = 0;
const balancerErrors: Partial<Record<ProxyProtocolErrorCode, number>> = {};

async function gatewayServer(): Promise<Server> {
  let resolver = createResolver({ trustedProxies: TRUST_LISTS[0]! });
  // A fresh resolver made each time, as a configuration reload would: nothing is reused from the last list.
  setInterval(() => {
    swaps++;
    resolver = createResolver({ trustedProxies: [...TRUST_LISTS[swaps % TRUST_LISTS.length]!] });
  }, SWAP_MS).unref();
  return createGateway(
    { gateway: { trustedProxies: [...TRUST_LISTS[0]!], auth: { mode: "token", token: TOKEN, pairedDevices: [PAIRED_DEVICE] } } },
    { log: () => undefined, onHandshake: (handshake) => void (handshake.admitted || refusals++), resolver: () => resolver },
  );
}

async function fastifyServer(): Promise<Server> {
  const { default: Fastify } = await import("fastify");
  const { default: websocket } = await import("@fastify/websocket");
  const { clientAddress } = await import("clientaddr/fastify");
  const app = Fastify();
  await app.register(websocket);
  // Unlike the gateway (warn: answered as remote), a request that cannot be attributed is answered 403 here.
  await app.register(clientAddress, { trustedProxies: TRUST_LISTS[0]!, unattributable: "reject" });
  app.addHook("onResponse", async (_request, reply) => void (reply.statusCode === 403 && refusals++));
  app.get("/ws", { websocket: true }, (socket, request) => {
    const client = request.clientAddress;
    const query = request.query as { token?: string; device?: string };
    // The gateway's own token readers: the same rule on both servers.
    const token = query.token ?? bearer(request.headers.authorization);
    if (client.loopbackEquivalent || (sameSecret(token, TOKEN) && query.device === PAIRED_DEVICE && !isCrossSite(client))) {
      socket.send(JSON.stringify({ connected: true, local: client.loopbackEquivalent, address: client.address, basis: client.basis }));
    } else {
      refusals++;
      socket.close(1008, "pairing required");
    }
  });
  await app.ready();
  return app.server;
}

const kind = process.argv[2];
if ((kind !== "gateway" && kind !== "fastify") || process.send === undefined) {
  console.error("usage (forked by soak/run.ts): server.ts gateway|fastify");
  process.exit(2);
}
const server = kind === "gateway" ? await gatewayServer() : await fastifyServer();
// A request whose headers stop arriving is ended with a 408, a balancer's header that stops arriving closed,
// after STALL_TIMEOUT_MS. Node's server looks for stalled requests every connectionsCheckingInterval, an option
// of createServer that it keeps as a property and reads when it starts listening (the gateway and Fastify make
// their servers themselves).
server.headersTimeout = STALL_TIMEOUT_MS;
(server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = 250;
acceptProxyProtocol(server, {
  trustedProxies: [BALANCER],
  headerTimeout: STALL_TIMEOUT_MS,
  onError: (error) => void (balancerErrors[error.code] = (balancerErrors[error.code] ?? 0) + 1),
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
const session = new Session();
session.connect();
let start: Memory | undefined;
let cpu0: NodeJS.CpuUsage | undefined;

function memory(): Memory {
  // Twice: the first pass may leave what finalizers and weak maps release for the second.
  gc!();
  gc!();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

async function begin(): Promise<void> {
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 1000 });
  await session.post("Profiler.start");
  loopDelay.reset();
  loopDelay.enable();
  // After the profiler and the monitor start, so that what they allocate is not counted as growth.
  start = memory();
  cpu0 = process.cpuUsage();
}

/** The connections the server holds: Node counts one until it is destroyed. */
function connections(): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

/**
 * Resolves once the server holds no connection: the phase is over when every client has seen its connection
 * end, and the server's side of the last ones ends a moment later. Bounded (DRAIN_LIMIT_MS, for a connection
 * that never ends, not for a slow machine): past it, says how many are left and resolves.
 */
async function drained(): Promise<void> {
  const deadline = performance.now() + DRAIN_LIMIT_MS;
  let open = await connections();
  while (open > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    open = await connections();
  }
  if (open > 0) console.error(`soak: ${kind}: ${open} connections still open ${DRAIN_LIMIT_MS} ms after the phase ended; measured with them`);
  // A destroyed connection's handle is closed, and its 'close' emitted, on the loop's next turn.
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
}

async function finish(): Promise<ServerFigures> {
  loopDelay.disable();
  const cpu = process.cpuUsage(cpu0);
  // What the phase's last connections held is released once they are closed.
  await drained();
  const end = memory();
  const { profile } = await session.post("Profiler.stop");
  return {
    start: start!,
    end,
    loopDelayP99: Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
    loopDelayMax: Math.max(0, loopDelay.max / 1e6 - LOOP_RESOLUTION_MS),
    cpuMs: (cpu.user + cpu.system) / 1000,
    profile: selfTime(profile.nodes),
    swaps,
    refusals,
    balancerErrors,
  };
}

/** Self samples in files under dist/ over all samples but idle ones, by top folder of dist/. */
function selfTime(nodes: readonly { callFrame: { url: string; functionName: string }; hitCount?: number }[]): ServerFigures["profile"] {
  let samples = 0;
  let clientaddr = 0;
  const byFolder: Record<string, number> = {};
  for (const { callFrame, hitCount = 0 } of nodes) {
    if (callFrame.functionName === "(idle)") continue;
    samples += hitCount;
    if (!callFrame.url.startsWith(DIST)) continue;
    clientaddr += hitCount;
    const folder = fileURLToPath(callFrame.url).slice(fileURLToPath(DIST).length).split("/")[0]!;
    byFolder[folder] = (byFolder[folder] ?? 0) + hitCount;
  }
  return { samples, clientaddr, byFolder };
}

process.on("message", (message: { type: "start" | "end" }) => {
  if (message.type === "start") void begin().then(() => process.send!({ type: "started" }));
  else void finish().then((figures) => process.send!({ type: "ended", figures }));
});
process.on("disconnect", () => process.exit(0));
process.send({ type: "ready", port: (server.address() as AddressInfo).port });
