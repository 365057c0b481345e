// The request the browser made, as a trusted proxy describes it (docs/trust-model.md, rule 5c and "The
// request the browser made"): X-Forwarded-Host, -Proto and -Port, and a believed Forwarded element's host=
// and proto=. Which value describes the request, how its list items are read, and that every Host-bearing
// value must name this machine.
import { describe, expect, it } from "vitest";
import { type ResolverOptions, createResolver } from "../src/core/index.js";

/** A proxy on this host (127.0.0.1, trusted as loopback) in front of the gateway. */
const throughProxy = (headers: Record<string, string>, options: ResolverOptions = {}) =>
  createResolver({ trustedProxies: ["loopback"], ...options }).resolve({ remoteAddress: "127.0.0.1", headers });

/** A name on `*.localhost` whose authority (with `:port`) is exactly `length` characters: the longest that can name this machine is 300. */
function longLocalhost(length: number, port = 18789): string {
  const suffix = `.localhost:${port}`;
  const labels: string[] = [];
  let left = length - suffix.length;
  // Labels of 63 characters (the most DNS allows) and their dots, then one label for the rest.
  for (; left > 64; left -= 64) labels.push("a".repeat(63));
  labels.push("b".repeat(left));
  return `${labels.join(".")}${suffix}`;
}

describe("list items of X-Forwarded-Host, -Proto and -Port are read without the optional whitespace around them (RFC 9110 section 5.6.1)", () => {
  const hosts = [
    ["a space before the comma", "localhost:18789 ,localhost:18789"],
    ["a tab before the comma", "localhost:18789\t,localhost:18789"],
    ["a space after the comma", "localhost:18789, localhost:18789"],
    ["a tab after the comma", "localhost:18789,\tlocalhost:18789"],
    ["a space before the first item", " localhost:18789"],
    ["a tab before the first item", "\tlocalhost:18789"],
    ["a space after the last item", "localhost:18789 "],
    ["a tab after the last item", "localhost:18789\t"],
    ["spaces and tabs on every side", " \tlocalhost:18789 \t, \t localhost:18789\t "],
  ];
  it.each(hosts)("X-Forwarded-Host with %s names this machine", (_, value) => {
    const result = throughProxy({ host: "127.0.0.1:18789", "x-forwarded-host": value });
    expect(result.checks.host).toBe(true);
    expect(result.loopbackEquivalent).toBe(true);
    expect(result.diagnostics).toEqual([]);
    // The browser asked for the name X-Forwarded-Host gives, not the Host the proxy wrote.
    expect(result.origin.own).toBe("http://localhost:18789");
  });

  const protos = [
    ["a space before the comma", "https ,http"],
    ["a tab before the comma", "https\t,http"],
    ["a space before it", " https"],
    ["a tab before it", "\thttps"],
  ];
  it.each(protos)("X-Forwarded-Proto with %s says https, so the https page on the same port is the gateway's own", (_, value) => {
    const result = throughProxy({ host: "localhost:18789", "x-forwarded-proto": value, origin: "https://localhost:18789" });
    expect(result.checks).toEqual({ client: true, forwarding: true, host: true, origin: true });
    expect(result.loopbackEquivalent).toBe(true);
    expect(result.origin).toEqual({ sent: "https://localhost:18789", own: "https://localhost:18789", same: true });
  });

  const ports = [
    ["a space before the comma", "18789 ,443"],
    ["a tab before the comma", "18789\t,443"],
    ["a space before it", " 18789"],
    ["a tab before it", "\t18789"],
  ];
  it.each(ports)("X-Forwarded-Port with %s gives the port the browser asked for when Host has none", (_, value) => {
    const result = throughProxy({ host: "localhost", "x-forwarded-port": value, origin: "http://localhost:18789" });
    expect(result.checks).toEqual({ client: true, forwarding: true, host: true, origin: true });
    expect(result.origin).toEqual({ sent: "http://localhost:18789", own: "http://localhost:18789", same: true });
  });

  it("reads what is between the optional whitespace, so a foreign name padded with it is still foreign", () => {
    const result = throughProxy({ host: "127.0.0.1:18789", "x-forwarded-host": "localhost:18789 ,\t evil.example \t" });
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.diagnostics.map((d) => d.message)).toEqual([expect.stringContaining('X-Forwarded-Host "evil.example" from trusted proxy 127.0.0.1')]);
  });
});

describe("every X-Forwarded-Host item must name this machine, not only the first", () => {
  it("refuses a foreign name after a local one (a second proxy, or a client's own, passed on), naming it", () => {
    const result = throughProxy({ host: "127.0.0.1:18789", "x-forwarded-host": "localhost:18789, rebind.evil.example" });
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("socket:host-not-local");
    expect(result.checks).toEqual({ client: true, forwarding: true, host: false, origin: true });
    expect(result.diagnostics).toStrictEqual([
      {
        code: "forwarded-host-not-local",
        message:
          'X-Forwarded-Host "rebind.evil.example" from trusted proxy 127.0.0.1 does not name this machine: the browser asked the proxy for another name (a DNS-rebinding page reaches a proxy on this host as well as the gateway), so not local. If it is this machine\'s own name, add it to localHosts',
        fix: { add: "localHosts", entry: "rebind.evil.example" },
      },
    ]);
  });

  it("accepts several items that all name this machine, whichever name each uses", () => {
    const result = throughProxy({ host: "127.0.0.1:18789", "x-forwarded-host": "localhost:18789, 127.0.0.1:18789, [::1]:18789" });
    expect(result.loopbackEquivalent).toBe(true);
    expect(result.origin.own).toBe("http://localhost:18789");
  });

  it.each([
    ["a trailing comma", "localhost:18789,"],
    ["a trailing comma and space", "localhost:18789, "],
    ["an empty element between two", "localhost:18789, ,localhost:18789"],
    ["two commas in a row", "localhost:18789,,localhost:18789"],
  ])("skips empty list elements (%s), which merging senders write: they name no host", (_, value) => {
    const result = throughProxy({ host: "127.0.0.1:18789", "x-forwarded-host": value });
    expect(result.checks.host).toBe(true);
    expect(result.loopbackEquivalent).toBe(true);
  });

  it("does not read X-Forwarded-Host from a peer that is not trusted: it fails forwarding (b), not host (c)", () => {
    const result = createResolver().resolve({
      remoteAddress: "127.0.0.1",
      headers: { host: "localhost:18789", "x-forwarded-host": "rebind.evil.example", "x-forwarded-proto": "https", origin: "http://localhost:18789" },
    });
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("socket:unread-forwarding-header");
    expect(result.checks).toEqual({ client: true, forwarding: false, host: true, origin: true });
    expect(result.diagnostics.map((d) => d.code)).toEqual(["untrusted-forwarding-header", "untrusted-forwarding-header"]);
    // The gateway's own origin is what the request itself shows: Host, and the connection's scheme.
    expect(result.origin).toEqual({ sent: "http://localhost:18789", own: "http://localhost:18789", same: true });
  });
});

describe("every Forwarded host= the walk read must name this machine", () => {
  const forwarded = { header: "forwarded" } as const;

  it("refuses a foreign host= in a trusted proxy's element, even when the client's element names this machine", () => {
    // Two proxies on this host; the nearer one says the browser asked it for another name.
    const result = throughProxy({ host: "127.0.0.1:18789", forwarded: "for=127.0.0.1;host=\"localhost:18789\", for=127.0.0.1;host=rebind.evil.example" }, forwarded);
    expect(result.address).toBe("127.0.0.1");
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("forwarded:host-not-local");
    expect(result.checks).toEqual({ client: true, forwarding: true, host: false, origin: true });
    expect(result.diagnostics).toStrictEqual([
      {
        code: "forwarded-host-not-local",
        message:
          'Forwarded host= "rebind.evil.example" from trusted proxy 127.0.0.1 does not name this machine: the browser asked the proxy for another name (a DNS-rebinding page reaches a proxy on this host as well as the gateway), so not local. If it is this machine\'s own name, add it to localHosts',
        fix: { add: "localHosts", entry: "rebind.evil.example" },
      },
    ]);
  });

  it("accepts host= values that all name this machine", () => {
    const result = throughProxy({ host: "127.0.0.1:18789", forwarded: "for=127.0.0.1;host=\"localhost:18789\", for=127.0.0.1;host=\"[::1]:18789\"" }, forwarded);
    expect(result.loopbackEquivalent).toBe(true);
    expect(result.basis).toBe("forwarded:loopback");
  });

  it("never reads a host= left of the client: that element is the client's own claim", () => {
    const result = throughProxy({ host: "localhost:18789", forwarded: "for=127.0.0.1;host=rebind.evil.example, for=203.0.113.7;host=\"localhost:18789\"" }, forwarded);
    expect(result.address).toBe("203.0.113.7");
    expect(result.checks.host).toBe(true);
  });

  it("does not read a believed X-Forwarded-For as Forwarded elements: text in it that looks like host= is no Host", () => {
    const result = throughProxy({ host: "localhost:18789", "x-forwarded-for": "for=127.0.0.1;host=rebind.evil.example", forwarded: "for=127.0.0.1" });
    expect(result.basis).toBe("x-forwarded-for:invalid-entry");
    expect(result.checks.host).toBe(true);
    expect(result.diagnostics.map((d) => d.code)).toEqual(["invalid-entry", "unbelieved-forwarding-header"]);
  });
});

describe("which value describes the request the browser made: the believed Forwarded element first", () => {
  const forwarded = { header: "forwarded" } as const;

  it("takes the client element's host= over the Host the proxy wrote", () => {
    // The proxy rewrote Host to its upstream, 127.0.0.1:8080; host= says what the browser asked for.
    const result = throughProxy({ host: "127.0.0.1:8080", forwarded: "for=127.0.0.1;host=\"localhost:18789\"", origin: "http://localhost:18789" }, forwarded);
    expect(result.origin).toEqual({ sent: "http://localhost:18789", own: "http://localhost:18789", same: true });
    expect(result.loopbackEquivalent).toBe(true);
  });

  it("takes host= over X-Forwarded-Host when the proxy writes both", () => {
    const result = throughProxy({ host: "127.0.0.1:8080", forwarded: "for=127.0.0.1;host=\"localhost:18789\"", "x-forwarded-host": "127.0.0.1:8080", origin: "http://localhost:18789" }, forwarded);
    expect(result.origin.own).toBe("http://localhost:18789");
    expect(result.loopbackEquivalent).toBe(true);
  });

  it("falls back to X-Forwarded-Host when the client element has no host=", () => {
    const result = throughProxy({ host: "127.0.0.1:8080", forwarded: "for=127.0.0.1", "x-forwarded-host": "localhost:18789" }, forwarded);
    expect(result.origin.own).toBe("http://localhost:18789");
  });

  it("takes proto= as the browser's scheme", () => {
    const result = throughProxy({ host: "localhost:18789", forwarded: "for=127.0.0.1;proto=https", origin: "https://localhost:18789" }, forwarded);
    expect(result.origin).toEqual({ sent: "https://localhost:18789", own: "https://localhost:18789", same: true });
    expect(result.loopbackEquivalent).toBe(true);
    expect(result.diagnostics).toEqual([]);
  });

  it("takes proto= over X-Forwarded-Proto when the proxy writes both", () => {
    const result = throughProxy({ host: "localhost:18789", forwarded: "for=127.0.0.1;proto=https", "x-forwarded-proto": "http", origin: "https://localhost:18789" }, forwarded);
    expect(result.origin.own).toBe("https://localhost:18789");
    expect(result.loopbackEquivalent).toBe(true);
  });

  it("cannot tell the request when proto= is neither http nor https", () => {
    const result = throughProxy({ host: "localhost:18789", forwarded: "for=127.0.0.1;proto=gopher" }, forwarded);
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("forwarded:host-not-local");
    expect(result.diagnostics).toStrictEqual([
      {
        code: "forwarded-request-unclear",
        message: 'Forwarded proto= "gopher" from trusted proxy 127.0.0.1 is not http or https: the request the browser made cannot be told, so not local',
      },
    ]);
    expect(result.origin.own).toBeNull();
  });
});

describe("X-Forwarded-Host is bounded as the walk is: maxHops names of the longest authority, each with its separator", () => {
  const name = longLocalhost(300);

  it("builds a 300-character name that names this machine", () => {
    expect(name).toHaveLength(300);
    expect(throughProxy({ host: name }).loopbackEquivalent).toBe(true);
  });

  it("reads a value exactly at the bound", () => {
    const value = `${name} , ${name} `;
    expect(value).toHaveLength(2 * 302);
    const result = throughProxy({ host: "127.0.0.1:18789", "x-forwarded-host": value }, { maxHops: 2 });
    expect(result.checks.host).toBe(true);
    expect(result.loopbackEquivalent).toBe(true);
    expect(result.origin.own).toBe(`http://${name}`);
  });

  it("refuses a value one character over the bound, quoting its first 80 characters", () => {
    const value = `${name} ,  ${name} `;
    expect(value).toHaveLength(2 * 302 + 1);
    const result = throughProxy({ host: "127.0.0.1:18789", "x-forwarded-host": value }, { maxHops: 2 });
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("socket:host-not-local");
    expect(result.diagnostics).toStrictEqual([
      {
        code: "forwarded-request-unclear",
        message: `X-Forwarded-Host ${JSON.stringify(value.slice(0, 80))} from trusted proxy 127.0.0.1 is longer than maxHops (2) names can be: the request the browser made cannot be told, so not local`,
      },
    ]);
  });
});

describe("a believed header that is not text", () => {
  it("names no client: address null, basis ending in invalid-entry, a malformed chain", () => {
    const result = createResolver({ trustedProxies: ["loopback"] }).resolve({ remoteAddress: "127.0.0.1", headers: ["Host", "localhost", "X-Forwarded-For", 42 as unknown as string] });
    expect(result.address).toBeNull();
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("x-forwarded-for:invalid-entry");
    expect(result.attributionReason).toBe("malformed-chain");
    // Only condition a fails: the other three are still explained.
    expect(result.checks).toEqual({ client: false, forwarding: true, host: true, origin: true });
    expect(result.hops).toStrictEqual([
      { address: "127.0.0.1", trusted: true, source: "socket" },
      { address: null, raw: "", trusted: false, source: "x-forwarded-for" },
    ]);
    expect(result.diagnostics).toStrictEqual([{ code: "invalid-entry", message: "X-Forwarded-For from trusted proxy 127.0.0.1 is not text: the client is unknown" }]);
  });

  it("is explained as well when the believed header is Forwarded", () => {
    const result = createResolver({ trustedProxies: ["loopback"], header: "forwarded" }).resolve({
      remoteAddress: "127.0.0.1",
      headers: { host: "localhost", forwarded: [] as unknown as string },
    });
    expect(result.basis).toBe("forwarded:invalid-entry");
    expect(result.checks).toEqual({ client: false, forwarding: true, host: true, origin: true });
    expect(result.hops.at(-1)).toStrictEqual({ address: null, raw: "", trusted: false, source: "forwarded" });
    expect(result.diagnostics).toStrictEqual([{ code: "invalid-entry", message: "Forwarded from trusted proxy 127.0.0.1 is not text: the client is unknown" }]);
  });
});

describe("a walk that stops without a client fails condition a, whatever the others say", () => {
  it.each([
    ["an entry that is not an address", "unknown"],
    ["a malformed list", ",".repeat(70)],
  ])("%s: client false, the other three explained", (_, value) => {
    const result = throughProxy({ host: "localhost", "x-forwarded-for": value });
    expect(result.address).toBeNull();
    expect(result.checks).toEqual({ client: false, forwarding: true, host: true, origin: true });
  });
});

describe("without Origin or Sec-Fetch-Site, only a name a browser treats as trustworthy over http counts", () => {
  const mybox = { localHosts: ["mybox"] };

  it("refuses a localHosts name over plain http: a browser sends neither header there on a cross-site navigation", () => {
    const result = createResolver(mybox).resolve({ remoteAddress: "127.0.0.1", headers: { host: "mybox:18789" } });
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("socket:origin-not-local");
    expect(result.checks).toEqual({ client: true, forwarding: true, host: true, origin: false });
    expect(result.diagnostics.map((d) => d.code)).toEqual(["no-fetch-metadata"]);
  });

  it("accepts the same name over https, and a loopback name over http", () => {
    expect(createResolver(mybox).resolve({ remoteAddress: "127.0.0.1", headers: { host: "mybox:18789" }, secure: true }).loopbackEquivalent).toBe(true);
    expect(createResolver(mybox).resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost:18789" } }).loopbackEquivalent).toBe(true);
    expect(createResolver(mybox).resolve({ remoteAddress: "127.0.0.1", headers: { host: "127.0.0.2:18789" } }).loopbackEquivalent).toBe(true);
  });

  it("accepts a localHosts name over http when Sec-Fetch-Site says the browser's own page sent it", () => {
    const result = createResolver(mybox).resolve({ remoteAddress: "127.0.0.1", headers: { host: "mybox:18789", "sec-fetch-site": "same-origin" } });
    expect(result.loopbackEquivalent).toBe(true);
  });
});

describe("localOrigins: a configured page counts up to the longest Origin that can name a machine", () => {
  // A dev server on another port of this machine, under the longest name an origin can hold here.
  const devServer = `https://${longLocalhost(300, 5173)}`;

  it("counts an Origin of exactly 308 characters that is one of localOrigins", () => {
    expect(devServer).toHaveLength(308);
    const result = createResolver({ localOrigins: [devServer] }).resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost:18789", origin: devServer } });
    expect(result.checks.origin).toBe(true);
    expect(result.loopbackEquivalent).toBe(true);
  });

  it("does not count the same page when it is not configured: another port is another application", () => {
    const result = createResolver().resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost:18789", origin: devServer } });
    expect(result.checks.origin).toBe(false);
    expect(result.basis).toBe("socket:origin-not-local");
  });

  it("counts only the configured origins: another port or a foreign page is still refused", () => {
    const resolver = createResolver({ localOrigins: ["http://localhost:5173"] });
    for (const origin of ["http://localhost:5174", "https://localhost:5173", "https://evil.example", "null"]) {
      const result = resolver.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost:18789", origin } });
      expect(result.loopbackEquivalent, origin).toBe(false);
      expect(result.basis, origin).toBe("socket:origin-not-local");
    }
    expect(resolver.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost:18789", origin: "HTTP://LOCALHOST:5173" } }).loopbackEquivalent).toBe(true);
  });
});

describe("presets whose front also writes another address header", () => {
  const nginx = createResolver({ preset: "nginx" });

  it("accepts X-Real-IP naming the address the proxy saw (the nearest X-Forwarded-For entry)", () => {
    const result = nginx.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": "203.0.113.7", "x-real-ip": "203.0.113.7" } });
    expect(result.attributionReason).toBeNull();
    expect(result.attribution).toBe("proxied");
    expect(result.preset).toBe("nginx");
  });

  it("refuses X-Real-IP naming an address left of the client: the client's own claim, never read, is no hop the walk saw", () => {
    const result = nginx.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": "127.0.0.1, 203.0.113.7", "x-real-ip": "127.0.0.1" } });
    expect(result.address).toBe("203.0.113.7");
    expect(result.attributionReason).toBe("unbelieved-header");
    expect(result.attribution).toBe("unattributable");
    expect(result.checks.forwarding).toBe(false);
  });

  it("refuses X-Real-IP when X-Forwarded-For is absent: a hop the walk cannot see", () => {
    const result = nginx.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-real-ip": "127.0.0.1" } });
    expect(result.address).toBe("127.0.0.1");
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("socket:unread-forwarding-header");
    expect(result.attributionReason).toBe("unbelieved-header");
  });
});

describe("a request with no peer", () => {
  it("reads no forwarding header as the browser's request: the gateway's own origin is what Host says", () => {
    const result = createResolver({ trustedProxies: ["loopback"] }).resolve({
      remoteAddress: undefined,
      headers: { host: "localhost:18789", "x-forwarded-host": "rebind.evil.example", "x-forwarded-proto": "https" },
    });
    expect(result.basis).toBe("socket:invalid-peer");
    expect(result.attribution).toBe("unattributable");
    expect(result.origin).toEqual({ sent: null, own: "http://localhost:18789", same: false });
  });
});
