// The benchmark's floors (bench/floor.ts) give the library's answers, the address and loopbackEquivalent, on
// every request of the rows they are measured against (bench/requests.ts builds those requests for
// bench/workloads.ts): a floor that answered differently would be measuring less work than the library does.
// No timing here (bench/run.ts measures). Chromium's row is checked on its plain values and on the
// IncomingMessage objects a node:http server receives for it, which its resolveRequest and proxy-addr cells read.
import proxyaddr from "proxy-addr";
import { describe, expect, it } from "vitest";
import { FLOOR_PROXY_HEADERS, type FloorAnswer, floorResolve, floorResolveRequest, floorTrust } from "../bench/floor.js";
import { FRESH_IPV4, TWO, chromiumHandshakes, freshRequests, receiveHandshakes } from "../bench/requests.js";
import { resolveRequest } from "../src/adapters/node/index.js";
import { createResolver } from "../src/core/index.js";
import { PROXY_HEADERS, X_FORWARDED_PREFIX } from "../src/core/proxy-headers.js";

const floorOf = (peer: string, headers: Readonly<Record<string, string>>, trust = floorTrust(TWO)): FloorAnswer => {
  const { address, loopbackEquivalent } = floorResolve(peer, headers, trust, { address: "", loopbackEquivalent: false });
  return { address, loopbackEquivalent };
};

describe("the floor of fresh traffic (IPv4)", () => {
  it("answers every one of the 4,096 requests as the library does", () => {
    const resolver = createResolver({ trustedProxies: FRESH_IPV4(0).trusted });
    const trust = floorTrust(FRESH_IPV4(0).trusted);
    const requests = freshRequests(FRESH_IPV4);
    expect(requests).toHaveLength(4096);
    let proxied = 0;
    for (const { peer, headers } of requests) {
      const { address, loopbackEquivalent } = resolver.resolve({ remoteAddress: peer, headers });
      expect(floorOf(peer, headers, trust)).toEqual({ address, loopbackEquivalent });
      if (address !== peer) proxied++;
    }
    // The row is what its name says: half of the requests through the proxy, the other half direct.
    expect(proxied).toBe(2048);
  });
});

describe("the floor of Chromium's WebSocket handshake", () => {
  const handshakes = chromiumHandshakes();
  const resolver = createResolver({ trustedProxies: TWO });

  it("is Chromium's recorded handshake: 12 lines, and X-Forwarded-For the 13th through nginx", () => {
    expect(handshakes).toHaveLength(4096);
    const names = (kind: string) => handshakes.find((h) => h.kind === kind)!.rawHeaders.filter((_, i) => i % 2 === 0);
    const chromium = ["Host", "Connection", "Pragma", "Cache-Control", "User-Agent", "Upgrade", "Origin", "Sec-WebSocket-Version", "Accept-Encoding", "Accept-Language", "Sec-WebSocket-Key", "Sec-WebSocket-Extensions"];
    expect(names("direct")).toEqual(chromium);
    expect(names("docker")).toEqual(chromium);
    expect(names("proxied")).toEqual(["Upgrade", "Connection", "Host", "X-Forwarded-For", ...chromium.filter((n) => !["Host", "Connection", "Upgrade"].includes(n))]);
    expect(handshakes.filter((h) => h.kind === "direct")).toHaveLength(2048);
    expect(handshakes.filter((h) => h.kind === "docker")).toHaveLength(1024);
    // Fresh values: no two requests share a Sec-WebSocket-Key.
    expect(new Set(handshakes.map((h) => h.headers["sec-websocket-key"])).size).toBe(4096);
  });

  it("answers every one of the 4,096 requests as the library does, from the headers object and the raw lines", () => {
    const trust = floorTrust(TWO);
    for (const { kind, peer, headers, rawHeaders } of handshakes) {
      const answer = resolver.resolve({ remoteAddress: peer, headers });
      const { address, loopbackEquivalent } = answer;
      expect(floorOf(peer, headers, trust)).toEqual({ address, loopbackEquivalent });
      const raw = resolver.resolve({ remoteAddress: peer, headers: rawHeaders });
      expect({ address: raw.address, loopbackEquivalent: raw.loopbackEquivalent, basis: raw.basis }).toEqual({ address, loopbackEquivalent, basis: answer.basis });
      // Each kind is what the row says it is.
      if (kind === "docker") expect({ address, loopbackEquivalent, basis: answer.basis }).toEqual({ address: "172.18.0.1", loopbackEquivalent: true, basis: "socket:trusted-path" });
      else if (kind === "proxied") expect({ address, loopbackEquivalent }).toEqual({ address: headers["x-forwarded-for"], loopbackEquivalent: false });
      else expect({ address, loopbackEquivalent, basis: answer.basis }).toEqual({ address: peer, loopbackEquivalent: false, basis: "socket:remote-client" });
    }
  });

  it("gives the same answers as resolveRequest and proxy-addr on the IncomingMessage objects of the row, from their plain values and from the objects themselves", async () => {
    const received = await receiveHandshakes(handshakes);
    const theirs = proxyaddr.compile(TWO);
    const trust = floorTrust(TWO);
    received.forEach((req, i) => {
      const { peer, headers, rawHeaders } = handshakes[i]!;
      expect(req.rawHeaders).toEqual(rawHeaders);
      const { address, loopbackEquivalent } = resolveRequest(req, resolver);
      expect(floorOf(peer, headers, trust)).toEqual({ address, loopbackEquivalent });
      expect(floorResolveRequest(req, trust, { address: "", loopbackEquivalent: !loopbackEquivalent })).toEqual({ address, loopbackEquivalent });
      expect(proxyaddr(req, theirs)).toBe(address);
    });
  });

  it("knows every proxy header of rule 5b", () => {
    expect([...FLOOR_PROXY_HEADERS].sort()).toEqual(PROXY_HEADERS.map((row) => row.name).filter((name) => name !== X_FORWARDED_PREFIX).sort());
  });
});
