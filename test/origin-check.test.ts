// `answer.origin`: the page a request came from against the gateway's own origin, for the check a gateway
// makes of a remote client's WebSocket (cross-site WebSocket hijacking). Its own origin is the request the
// browser made, read through trusted proxies as locality reads it; with `publicOrigins`, one of those.
import { describe, expect, it } from "vitest";
import { type ResolverOptions, createResolver } from "../src/core/index.js";

const throughProxy = (headers: Record<string, unknown>, options: ResolverOptions = {}, secure = false) =>
  createResolver({ trustedProxies: ["loopback"], ...options }).resolve({ remoteAddress: "127.0.0.1", headers: headers as Record<string, string>, secure });

describe("without publicOrigins: the request's own origin", () => {
  it("is the scheme, host and port of the request, in the form browsers send, and the same page matches it", () => {
    expect(throughProxy({ host: "localhost:443", origin: "https://localhost" }, {}, true).origin).toEqual({ sent: "https://localhost", own: "https://localhost", same: true });
    expect(throughProxy({ host: "GW.example.com:8443", "x-forwarded-proto": "https", origin: "https://gw.example.com:8443" }).origin).toEqual({
      sent: "https://gw.example.com:8443",
      own: "https://gw.example.com:8443",
      same: true,
    });
  });

  it("takes a trusted proxy's X-Forwarded-Port where the browser's host has none, and never adds it to one that has", () => {
    const own = (headers: Record<string, string>) => throughProxy(headers).origin.own;
    expect(own({ host: "gw", "x-forwarded-host": "gw.example.com", "x-forwarded-port": "8080" })).toBe("http://gw.example.com:8080");
    // An IPv6 literal's colons are not a port.
    expect(own({ host: "gw", "x-forwarded-host": "[::1]", "x-forwarded-port": "8080" })).toBe("http://[::1]:8080");
    expect(own({ host: "gw", "x-forwarded-host": "localhost:18789", "x-forwarded-port": "18789" })).toBe("http://localhost:18789");
    expect(own({ host: "gw", "x-forwarded-host": "[::1]:18789", "x-forwarded-port": "18789" })).toBe("http://[::1]:18789");
  });

  it("is unknown, and matches nothing, when the request has no Host", () => {
    expect(throughProxy({}).origin).toEqual({ sent: null, own: null, same: false });
    expect(throughProxy({ origin: "http://undefined" }).origin).toEqual({ sent: "http://undefined", own: null, same: false });
  });

  it("is unknown when what the trusted proxy says of the request cannot be read, even if the page matches Host", () => {
    const result = throughProxy({ host: "gw.example.com", "x-forwarded-proto": "gopher", origin: "http://gw.example.com" });
    expect(result.origin).toEqual({ sent: "http://gw.example.com", own: null, same: false });
  });

  it("never matches an opaque origin or one that is not text", () => {
    expect(throughProxy({ host: "gw.example.com", origin: "null" }).origin).toEqual({ sent: "null", own: "http://gw.example.com", same: false });
    expect(throughProxy({ host: "gw.example.com", origin: [] }).origin).toEqual({ sent: "", own: "http://gw.example.com", same: false });
  });
});

describe("with publicOrigins: the configured origins decide", () => {
  const publicOrigins = ["https://gw.example.com", "https://alt.example.com"];

  it("gives the request's own origin when it is one of them", () => {
    const result = throughProxy({ host: "127.0.0.1:8080", "x-forwarded-host": "alt.example.com", "x-forwarded-proto": "https" }, { publicOrigins });
    expect(result.origin).toEqual({ sent: null, own: "https://alt.example.com", same: false });
    expect(throughProxy({ host: "alt.example.com" }, { publicOrigins }, true).origin.own).toBe("https://alt.example.com");
  });

  it("gives the first configured origin when the request names another (a DNS-rebinding page's own name)", () => {
    const result = throughProxy({ host: "rebind.evil.example", origin: "http://rebind.evil.example" }, { publicOrigins });
    expect(result.origin).toEqual({ sent: "http://rebind.evil.example", own: "https://gw.example.com", same: false });
  });

  it("gives the first configured origin when the request cannot be told", () => {
    const result = throughProxy({ host: "alt.example.com", "x-forwarded-proto": "gopher" }, { publicOrigins });
    expect(result.origin.own).toBe("https://gw.example.com");
    expect(throughProxy({}, { publicOrigins }).origin).toEqual({ sent: null, own: "https://gw.example.com", same: false });
  });

  it("counts a page on any configured origin as the gateway's own, whichever the request was made to", () => {
    const result = throughProxy({ host: "127.0.0.1:8080", "x-forwarded-host": "alt.example.com", "x-forwarded-proto": "https", origin: "https://gw.example.com" }, { publicOrigins });
    expect(result.origin).toEqual({ sent: "https://gw.example.com", own: "https://alt.example.com", same: true });
  });

  it("counts no other page, an opaque origin, or none at all", () => {
    const on = (origin: string | undefined) => throughProxy(origin === undefined ? { host: "gw.example.com" } : { host: "gw.example.com", origin }, { publicOrigins }, true).origin;
    expect(on("https://evil.example")).toEqual({ sent: "https://evil.example", own: "https://gw.example.com", same: false });
    expect(on("http://gw.example.com")).toEqual({ sent: "http://gw.example.com", own: "https://gw.example.com", same: false });
    expect(on("null")).toEqual({ sent: "null", own: "https://gw.example.com", same: false });
    expect(on(undefined)).toEqual({ sent: null, own: "https://gw.example.com", same: false });
  });
});
