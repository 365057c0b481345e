// The benchmark's workloads: the same request for each implementation. A workload builds its inputs once
// (outside the timed loop) and returns one function per implementation that answers one request.
import type { IncomingMessage } from "node:http";
import parseForwarded from "forwarded-parse";
import proxyaddr from "proxy-addr";
import { compileTrustedProxies, resolveClientAddress } from "clientaddr";
import { floorClient, floorTrust } from "./floor.js";

export type Implementation = "clientaddr" | "proxy-addr" | "floor" | "forwarded-parse";

export interface Workload {
  readonly name: string;
  /** The speed-up over proxy-addr (or the named baseline) the issue asks for, if any. */
  readonly target?: number;
  readonly build: () => Partial<Record<Implementation, () => unknown>>;
}

const TWO = ["10.0.0.0/8", "172.18.0.1"];

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
      const compiled = compileTrustedProxies(trust);
      const theirs = proxyaddr.compile(trust);
      const floor = floorTrust(trust);
      const all = xff === undefined ? headers : { ...headers, "x-forwarded-for": xff };
      const req = { connection: { remoteAddress: peer }, socket: { remoteAddress: peer }, headers: all } as unknown as IncomingMessage;
      const cells: Partial<Record<Implementation, () => unknown>> = {
        clientaddr: () => resolveClientAddress({ remoteAddress: peer, headers: all, trustedProxies: compiled }).address,
        "proxy-addr": () => proxyaddr(req, theirs),
      };
      // The floor walks IPv4 X-Forwarded-For only; elsewhere it would return at once and measure nothing.
      if (xff !== undefined && !peer.includes(":")) cells.floor = () => floorClient(peer, xff, floor);
      return cells;
    },
  };
}

/**
 * A string as Node hands one over, read from a socket's bytes: flat and never hashed, where a template
 * literal gives V8 a rope (a cons string) that every character read must walk.
 */
const flat = (text: string) => Buffer.from(text, "latin1").toString("latin1");

/**
 * A server on the internet: every request from a peer not seen in the last 4,095, naming a Host not seen
 * either, half of them straight from the client and half through one trusted proxy (a new proxy address each
 * time too), in a cycle eight times longer than the resolver's memo: nothing is answered from memory.
 */
function freshTraffic(name: string, target: number, addresses: (i: number) => { direct: string; proxy: string; client: string; trusted: string[] }): Workload {
  return {
    name,
    target,
    build: () => {
      const trusted = addresses(0).trusted;
      const compiled = compileTrustedProxies(trusted);
      const theirs = proxyaddr.compile(trusted);
      const requests = Array.from({ length: 4096 }, (_, i) => {
        const { direct, proxy, client } = addresses(i);
        const hop = (i & 1) === 1;
        const peer = flat(hop ? proxy : direct);
        const host = flat(`gw${i}.example:18789`);
        const headers: Record<string, string> = hop ? { host, "x-forwarded-for": flat(client) } : { host };
        return { peer, headers, req: { connection: { remoteAddress: peer }, socket: { remoteAddress: peer }, headers } as unknown as IncomingMessage };
      });
      let i = 0;
      let j = 0;
      return {
        clientaddr: () => {
          const r = requests[i++ & 4095]!;
          return resolveClientAddress({ remoteAddress: r.peer, headers: r.headers, trustedProxies: compiled }).address;
        },
        "proxy-addr": () => proxyaddr(requests[j++ & 4095]!.req, theirs),
      };
    },
  };
}

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
  freshTraffic("fresh traffic: 4,096 requests, half direct, half one hop (IPv4)", 6, (i) => ({
    direct: `198.18.${i >> 8}.${i & 255}`,
    proxy: `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`,
    client: `203.0.${(i >> 8) & 255}.${(i * 3) & 255}`,
    trusted: TWO,
  })),
  freshTraffic("fresh traffic: 4,096 requests, half direct, half one hop (IPv6)", 6, (i) => ({
    direct: `2001:db8:${(i * 5).toString(16)}::${i.toString(16)}`,
    proxy: `fd00:18::${(i * 7 + 1).toString(16)}`,
    client: `2606:4700:${i.toString(16)}::${(i * 3 + 1).toString(16)}`,
    trusted: ["fd00:18::/64", "10.0.0.0/8"],
  })),
  {
    name: "Host and Origin checked for locality",
    build: () => {
      const compiled = compileTrustedProxies(TWO);
      const headers = { host: "localhost:18789", origin: "http://localhost:18789" };
      return { clientaddr: () => resolveClientAddress({ remoteAddress: "127.0.0.1", headers, trustedProxies: compiled }).loopbackEquivalent };
    },
  },
  {
    name: "Forwarded, two elements",
    build: () => {
      const compiled = compileTrustedProxies(TWO);
      const value = "for=192.0.2.60;proto=http;by=203.0.113.43, for=198.51.100.17";
      const headers = { forwarded: value };
      return {
        clientaddr: () => resolveClientAddress({ remoteAddress: "10.0.0.2", headers, trustedProxies: compiled, header: "forwarded" }).address,
        "forwarded-parse": () => parseForwarded(value),
      };
    },
  },
];
