// The benchmark's workloads: the same requests for each implementation. A workload builds its inputs once
// (outside the timed loop; a promise where it needs a server to make them) and returns one function per
// implementation that answers one request. Every clientaddr cell uses a resolver made once in build(), as a
// server does (createResolver); resolveClientAddress compiles its options on every call.
import type { IncomingMessage } from "node:http";
import parseForwarded from "forwarded-parse";
import proxyaddr from "proxy-addr";
import { createResolver } from "clientaddr";
import { resolveRequest } from "clientaddr/node";
import { type FloorAnswer, floorClient, floorResolve, floorResolveRequest, floorTrust } from "./floor.js";
import { FRESH_IPV4, FRESH_IPV6, type FreshAddresses, TWO, chromiumHandshakes, freshRequests, receiveHandshakes } from "./requests.js";

/**
 * "clientaddr" is the library given plain values (resolver.resolve with Node's `req.headers` shape);
 * "resolveRequest" is clientaddr/node's resolveRequest(req, resolver) on IncomingMessage objects.
 */
export type Implementation = "clientaddr" | "resolveRequest" | "proxy-addr" | "floor" | "floor-request" | "forwarded-parse";

type Cells = Partial<Record<Implementation, () => unknown>>;

export interface Workload {
  readonly name: string;
  /** The speed-up over proxy-addr (or the named baseline) the issue asks for, if any: each clientaddr cell's. */
  readonly target?: number;
  /** The most each clientaddr cell may take, in times the floor's time, if the row has a floor. */
  readonly floorLimit?: number;
  /** The implementations build() returns, where build() is too costly to call only to list them. */
  readonly implementations?: readonly Implementation[];
  readonly build: () => Cells | Promise<Cells>;
}

/** `n` CIDRs, IPv4 and IPv6 mixed, with long IPv6 prefixes among them, and the one that matches (10/8) last. */
export function manyCidrs(n: number): string[] {
  const list: string[] = [];
  for (let i = 0; list.length < n - 1; i++) {
    const a = 11 + (i % 200);
    const b = (i * 7) % 256;
    list.push(i % 3 === 2 ? `2001:db8:${(i % 65536).toString(16)}:${((i * 13) % 65536).toString(16)}::/${64 + (i % 57)}` : `${a}.${b}.${i % 256}.0/24`);
  }
  list.push("10.0.0.0/8");
  return list;
}

function xffWorkload(name: string, target: number | undefined, peer: string, xff: string | undefined, trust: string[], headers: Record<string, string> = {}): Workload {
  return {
    name,
    target,
    build: () => {
      const resolver = createResolver({ trustedProxies: trust });
      const theirs = proxyaddr.compile(trust);
      const floor = floorTrust(trust);
      const all = xff === undefined ? headers : { ...headers, "x-forwarded-for": xff };
      const req = { connection: { remoteAddress: peer }, socket: { remoteAddress: peer }, headers: all } as unknown as IncomingMessage;
      const facts = { remoteAddress: peer, headers: all };
      const cells: Cells = {
        clientaddr: () => resolver.resolve(facts).address,
        "proxy-addr": () => proxyaddr(req, theirs),
      };
      // The floor walks IPv4 X-Forwarded-For only; elsewhere it would return at once and measure nothing.
      if (xff !== undefined && !peer.includes(":")) cells.floor = () => floorClient(peer, xff, floor);
      return cells;
    },
  };
}

/**
 * Fresh traffic (bench/requests.ts): 4,096 requests, each from a peer and naming a Host not seen in the last
 * 4,095, half direct and half through one trusted proxy. The floor (IPv4 only) answers the address and
 * loopbackEquivalent of each, as the library does.
 */
function freshTraffic(name: string, target: number, addresses: (i: number) => FreshAddresses, floorLimit?: number): Workload {
  return {
    name,
    target,
    floorLimit,
    build: () => {
      const trusted = addresses(0).trusted;
      const resolver = createResolver({ trustedProxies: trusted });
      const theirs = proxyaddr.compile(trusted);
      const requests = freshRequests(addresses).map(({ peer, headers }) => ({
        facts: { remoteAddress: peer, headers },
        peer,
        headers,
        req: { connection: { remoteAddress: peer }, socket: { remoteAddress: peer }, headers } as unknown as IncomingMessage,
      }));
      let i = 0;
      let j = 0;
      const cells: Cells = {
        clientaddr: () => resolver.resolve(requests[i++ & 4095]!.facts),
        "proxy-addr": () => proxyaddr(requests[j++ & 4095]!.req, theirs),
      };
      if (floorLimit !== undefined) {
        const floor = floorTrust(trusted);
        const out: FloorAnswer = { address: "", loopbackEquivalent: false };
        let k = 0;
        cells.floor = () => {
          const r = requests[k++ & 4095]!;
          return floorResolve(r.peer, r.headers, floor, out);
        };
      }
      return cells;
    },
  };
}

/**
 * Chromium's WebSocket handshake (bench/requests.ts): 4,096 handshakes with Chromium's recorded header lines,
 * every value a fresh flat string; half from public peers talking directly, a quarter from the Docker bridge
 * gateway (local), a quarter through one trusted proxy naming a public client. "clientaddr" is given each
 * request's peer and Node-style headers object; "resolveRequest" and proxy-addr are given the IncomingMessage
 * objects a node:http server received for the same requests (receiveHandshakes: real requests, their peer
 * set on the real socket); the floor reads the headers object, and "floor-request" (resolveRequest's floor)
 * the same IncomingMessage objects (the socket's peer and Node's headers object).
 */
const chromiumHandshake: Workload = {
  name: "Chromium's WebSocket handshake: 4,096 requests, 12 headers (13 through the proxy), fresh strings",
  target: 1.5,
  floorLimit: 1.5,
  implementations: ["proxy-addr", "clientaddr", "resolveRequest", "floor", "floor-request"],
  build: async () => {
    const resolver = createResolver({ trustedProxies: TWO });
    const theirs = proxyaddr.compile(TWO);
    const floor = floorTrust(TWO);
    const out: FloorAnswer = { address: "", loopbackEquivalent: false };
    const handshakes = chromiumHandshakes();
    const facts = handshakes.map(({ peer, headers }) => ({ remoteAddress: peer, headers }));
    const received = await receiveHandshakes(handshakes);
    let i = 0;
    let j = 0;
    let k = 0;
    let l = 0;
    let m = 0;
    return {
      clientaddr: () => resolver.resolve(facts[i++ & 4095]!),
      resolveRequest: () => resolveRequest(received[j++ & 4095]!, resolver),
      "proxy-addr": () => proxyaddr(received[k++ & 4095]!, theirs),
      floor: () => {
        const r = handshakes[l++ & 4095]!;
        return floorResolve(r.peer, r.headers, floor, out);
      },
      "floor-request": () => floorResolveRequest(received[m++ & 4095]!, floor, out),
    };
  },
};

const hops = (n: number) => ["203.0.113.7", ...Array.from({ length: n - 1 }, (_, i) => `10.0.${i >> 8}.${(i & 255) + 3}`)].join(", ");

export const WORKLOADS: readonly Workload[] = [
  xffWorkload("direct peer, Host checked, 2 CIDRs", 1.5, "127.0.0.1", undefined, TWO, { host: "127.0.0.1:18789" }),
  xffWorkload("one hop, 2 CIDRs", 8, "10.0.0.2", hops(1), TWO),
  xffWorkload("five hops, 2 CIDRs", 8, "10.0.0.2", hops(5), TWO),
  xffWorkload("twenty hops, 2 CIDRs", 8, "10.0.0.2", hops(20), TWO),
  xffWorkload("IPv6 peer and entry", 10, "2001:db8::2", "2606:4700::7", ["2001:db8::/32", "10.0.0.0/8"]),
  xffWorkload("IPv4-mapped peer, one hop", 10, "::ffff:10.0.0.2", "203.0.113.7", TWO),
  xffWorkload("one hop, 100 CIDRs", undefined, "10.0.0.2", "203.0.113.7", manyCidrs(100)),
  xffWorkload("one hop, 1,000 CIDRs", 100, "10.0.0.2", "203.0.113.7", manyCidrs(1000)),
  xffWorkload("one hop, 10,000 CIDRs", 1000, "10.0.0.2", "203.0.113.7", manyCidrs(10000)),
  freshTraffic("fresh traffic: 4,096 requests, half direct, half one hop (IPv4)", 4, FRESH_IPV4, 1.5),
  freshTraffic("fresh traffic: 4,096 requests, half direct, half one hop (IPv6)", 4, FRESH_IPV6),
  chromiumHandshake,
  {
    name: "Host and Origin checked for locality",
    build: () => {
      const resolver = createResolver({ trustedProxies: TWO });
      const facts = { remoteAddress: "127.0.0.1", headers: { host: "localhost:18789", origin: "http://localhost:18789" } };
      return { clientaddr: () => resolver.resolve(facts).loopbackEquivalent };
    },
  },
  {
    name: "Forwarded, two elements",
    build: () => {
      const resolver = createResolver({ trustedProxies: TWO, header: "forwarded" });
      const value = "for=192.0.2.60;proto=http;by=203.0.113.43, for=198.51.100.17";
      const facts = { remoteAddress: "10.0.0.2", headers: { forwarded: value } };
      return {
        clientaddr: () => resolver.resolve(facts).address,
        "forwarded-parse": () => parseForwarded(value),
      };
    },
  },
];
