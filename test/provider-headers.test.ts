// The single-address headers a CDN, tunnel or edge proxy writes (CF-Connecting-IP, True-Client-IP,
// Fastly-Client-IP, Fly-Client-IP, X-Envoy-External-Address, CloudFront-Viewer-Address) as the believed
// header: read only from a trusted peer, one address each, and every other address header still a hop the
// walk cannot see.
import { describe, expect, it } from "vitest";
import { FORWARDING_HEADERS, type ForwardingHeader, createResolver } from "../src/core/index.js";

const SINGLE: readonly ForwardingHeader[] = ["cf-connecting-ip", "true-client-ip", "fastly-client-ip", "fly-client-ip", "x-envoy-external-address"];
const through = (header: ForwardingHeader, headers: Record<string, string | string[]>, peer = "127.0.0.1") =>
  createResolver({ trustedProxies: ["loopback"], header }).resolve({ remoteAddress: peer, headers: { host: "localhost:18789", ...headers } });

describe("provider headers as the believed header", () => {
  it("are among the headers that may be believed, beside X-Forwarded-For, Forwarded and X-Real-IP", () => {
    expect(FORWARDING_HEADERS).toEqual(["x-forwarded-for", "forwarded", "x-real-ip", ...SINGLE, "cloudfront-viewer-address"]);
  });

  it.each(SINGLE)("%s from a trusted proxy names the client: one address, canonical", (header) => {
    expect(through(header, { [header]: " 203.0.113.7 " })).toMatchObject({ address: "203.0.113.7", loopbackEquivalent: false, basis: `${header}:remote-client`, attribution: "proxied" });
    expect(through(header, { [header]: "2001:DB8::7" }).address).toBe("2001:db8::7");
    expect(through(header, { [header]: "::ffff:203.0.113.7" }).address).toBe("203.0.113.7");
    // The tunnel's own loopback client (a script on the host through the tunnel) is local as through any proxy.
    expect(through(header, { [header]: "127.0.0.1" })).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: true, basis: `${header}:loopback` });
  });

  it.each(SINGLE)("%s from a peer that is not trusted is never believed, and means a proxy nobody declared", (header) => {
    const forged = through(header, { [header]: "127.0.0.1" }, "203.0.113.9");
    expect(forged).toMatchObject({ address: "203.0.113.9", loopbackEquivalent: false, basis: "socket:remote-client", attribution: "unattributable", attributionReason: "undeclared-proxy" });
    const local = createResolver({ header }).resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", [header]: "127.0.0.1" } });
    expect(local).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:unread-forwarding-header" });
  });

  it.each(SINGLE)("%s holding a list, repeated, empty, or not an address gives no client", (header) => {
    expect(through(header, { [header]: "127.0.0.1, 203.0.113.7" })).toMatchObject({ address: null, loopbackEquivalent: false, basis: `${header}:malformed-header`, attributionReason: "malformed-chain" });
    // The proxy sets one address, and an empty value is none: not the end of a list at the trusted peer.
    expect(through(header, { [header]: "" })).toMatchObject({ address: null, loopbackEquivalent: false, basis: `${header}:invalid-entry` });
    expect(through(header, { [header]: ["127.0.0.1", "127.0.0.1"] })).toMatchObject({ address: null, basis: `${header}:malformed-header` });
    expect(through(header, { [header]: "unknown" })).toMatchObject({ address: null, basis: `${header}:invalid-entry` });
    expect(through(header, { [header]: "127.1" })).toMatchObject({ address: null, basis: `${header}:invalid-entry` });
  });

  it("a trusted proxy's other address headers are hops the walk cannot see: not local, and the fix says so", () => {
    const result = through("cf-connecting-ip", { "cf-connecting-ip": "127.0.0.1", "x-forwarded-for": "127.0.0.1" });
    expect(result).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false, basis: "cf-connecting-ip:unread-forwarding-header", attributionReason: "unbelieved-header" });
    expect(result.diagnostics[0]).toMatchObject({ code: "unbelieved-forwarding-header", fix: { proxyDrops: "X-Forwarded-For" } });
  });
});

describe("CloudFront-Viewer-Address: the viewer's address and port", () => {
  const viewer = (value: string | string[]) => through("cloudfront-viewer-address", { "cloudfront-viewer-address": value });

  it("is the address before the last colon, for IPv4 and for CloudFront's unbracketed IPv6", () => {
    expect(viewer("198.51.100.10:46532")).toMatchObject({ address: "198.51.100.10", basis: "cloudfront-viewer-address:remote-client" });
    // Without the rule, 2001:db8::1:443 is itself an IPv6 address: the port is cut by position, not by parsing.
    expect(viewer("2001:db8::1:443").address).toBe("2001:db8::1");
    expect(viewer("1:23:4567:89ab:c:d:e:f:8000").address).toBe("1:23:4567:89ab:c:d:e:f");
    expect(viewer("[2001:db8::1]:443").address).toBe("2001:db8::1");
    expect(viewer(" 127.0.0.1:5000 ")).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: true });
  });

  it("without a port, with a port that is not one, as a list or repeated, gives no client", () => {
    // "46532": a port with no colon before it, not an empty address and a port.
    for (const value of ["198.51.100.10", "198.51.100.10:", "198.51.100.10:65536", "198.51.100.10:08", "198.51.100.10:x", "46532"]) {
      expect(viewer(value), value).toMatchObject({ address: null, basis: "cloudfront-viewer-address:malformed-header" });
    }
    // Only the port is cut: what is left must be an address.
    expect(viewer("2001:db8::1")).toMatchObject({ address: null, basis: "cloudfront-viewer-address:invalid-entry" });
    expect(viewer(["198.51.100.10:1", "198.51.100.11:2"])).toMatchObject({ address: null, basis: "cloudfront-viewer-address:malformed-header" });
  });

  it("explains a malformed value by what it is not", () => {
    const result = viewer("198.51.100.10");
    expect(result.hops.at(-1)).toMatchObject({ address: null, raw: "198.51.100.10", source: "cloudfront-viewer-address" });
    expect(result.diagnostics[0]!.message).toMatch(/^CloudFront-Viewer-Address entry 1 from the right \("198\.51\.100\.10"\) is not an address followed by :port: the client is unknown/);
  });
});
