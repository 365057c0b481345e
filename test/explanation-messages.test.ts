// The diagnostics an operator reads in a log (src/core/explain.ts): the code, the words, and the fix a program
// may show or apply. Each message names what failed and what to change; values a client wrote are quoted and
// cut short, so a log line stays a line.
import { describe, expect, it } from "vitest";
import { type ClientAddress, createResolver } from "../src/core/index.js";

const direct = createResolver();
const throughProxy = createResolver({ trustedProxies: ["loopback"] });
const only = (result: ClientAddress, code: string) => {
  const found = result.diagnostics.filter((d) => d.code === code);
  expect(found, code).toHaveLength(1);
  return found[0]!;
};

describe("a diagnostic's fix", () => {
  it("is absent, not undefined, when there is nothing to advise", () => {
    const result = direct.resolve({ remoteAddress: "203.0.113.7", headers: { host: "localhost" } });
    expect(result.diagnostics).toStrictEqual([{ code: "client-not-loopback", message: "peer 203.0.113.7 is neither loopback nor a trusted proxy: not local." }]);
    expect(Object.keys(result.diagnostics[0]!)).toEqual(["code", "message"]);
    expect(JSON.parse(JSON.stringify(result)).diagnostics).toEqual([{ code: "client-not-loopback", message: "peer 203.0.113.7 is neither loopback nor a trusted proxy: not local." }]);
  });

  it("names the one address of an untrusted private peer (a Docker bridge gateway) to add to trustedProxies", () => {
    const result = direct.resolve({ remoteAddress: "172.18.0.1", headers: { host: "localhost" } });
    expect(result.diagnostics).toStrictEqual([
      {
        code: "client-not-loopback",
        message:
          'peer 172.18.0.1 is neither loopback nor a trusted proxy: not local. If it is the gateway of a Docker bridge or another NAT in front of this server, add "172.18.0.1" to trustedProxies (that one address, not its whole subnet)',
        fix: { add: "trustedProxies", entry: "172.18.0.1" },
      },
    ]);
  });
});

describe("a walk that stops at an entry that is not an address", () => {
  it("quotes the entry's first 60 characters in the message, and keeps it whole in the hop", () => {
    const written = `gateway-${"x".repeat(100)}`;
    const result = throughProxy.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": written } });
    expect(result.hops.at(-1)).toStrictEqual({ address: null, raw: written, trusted: false, source: "x-forwarded-for" });
    expect(only(result, "invalid-entry").message).toBe(
      `X-Forwarded-For entry 1 from the right (${JSON.stringify(written.slice(0, 60))}) is not an IP address: the walk stops there and the client is unknown (strict addresses only: no "unknown", obfuscated identifiers or legacy forms such as 127.1 or 0177.0.0.1)`,
    );
  });
});

describe("an address header a trusted proxy passed on beside the believed one", () => {
  const xRealIp = "X-Real-IP (written by nginx (proxy_set_header X-Real-IP $remote_addr, by configuration), Traefik (always, the peer it saw), ingress-nginx)";

  it("advises believing it while the believed header is absent, or else dropping it", () => {
    const result = throughProxy.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-real-ip": "203.0.113.7" } });
    expect(result.diagnostics).toStrictEqual([
      {
        code: "unbelieved-forwarding-header",
        message: `trusted proxy 127.0.0.1 passed on ${xRealIp}, but only X-Forwarded-For is believed, and it is absent: a hop the walk cannot see, so not local. If that proxy writes X-Real-IP, set header: "x-real-ip"; otherwise make it drop X-Real-IP from client requests (nginx: remove the proxy_set_header X-Real-IP line)`,
        fix: { set: "header", to: "x-real-ip" },
      },
    ]);
  });

  it("advises only dropping it once the believed header is present", () => {
    const result = throughProxy.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1" } });
    expect(result.diagnostics).toStrictEqual([
      {
        code: "unbelieved-forwarding-header",
        message: `trusted proxy 127.0.0.1 passed on ${xRealIp}, but only X-Forwarded-For is believed: a hop the walk cannot see, so not local. Make the proxy send only X-Forwarded-For: make it drop X-Real-IP from client requests (nginx: remove the proxy_set_header X-Real-IP line)`,
        fix: { proxyDrops: "X-Real-IP" },
      },
    ]);
  });

  it("with a preset, advises dropping a header its front does not write, not what the front writes", () => {
    const result = createResolver({ preset: "nginx" }).resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": "127.0.0.1", forwarded: "for=127.0.0.1" } });
    expect(result.diagnostics).toStrictEqual([
      {
        code: "unbelieved-forwarding-header",
        message:
          "trusted proxy 127.0.0.1 passed on Forwarded (written by RFC 7239: HAProxy 2.8+ (option forwarded), nginx or Apache by configuration), but only X-Forwarded-For is believed: a hop the walk cannot see, so not local. Make the proxy send only X-Forwarded-For: make it drop Forwarded from client requests",
        fix: { proxyDrops: "Forwarded" },
      },
    ]);
  });

  it("with a preset whose front writes it, says it disagrees with the walk, with nothing to drop", () => {
    const result = createResolver({ preset: "nginx" }).resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": "127.0.0.1", "x-real-ip": "198.51.100.4" } });
    expect(result.diagnostics).toStrictEqual([
      {
        code: "unbelieved-forwarding-header",
        message: `trusted proxy 127.0.0.1 passed on ${xRealIp}, which nginx writes about the peer it saw, but it names no address the walk read in X-Forwarded-For (or X-Forwarded-For is absent): a hop the walk cannot see, so not local`,
      },
    ]);
  });
});

describe("a Host-bearing value that does not name this machine", () => {
  const long = `gateway-${"z".repeat(92)}.lan`;

  it("quotes at most 80 characters of a long Host", () => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host: long } });
    expect(only(result, "host-not-local").message).toBe(
      `Host ${JSON.stringify(long.slice(0, 80))} does not name this machine: a page loaded under another name (DNS rebinding) must not borrow a local client's standing, so not local. If it is this machine's own name, add it to localHosts`,
    );
  });

  it("quotes at most 80 characters of a long X-Forwarded-Host", () => {
    const result = throughProxy.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-host": long } });
    expect(only(result, "forwarded-host-not-local").message).toBe(
      `X-Forwarded-Host ${JSON.stringify(long.slice(0, 80))} from trusted proxy 127.0.0.1 does not name this machine: the browser asked the proxy for another name (a DNS-rebinding page reaches a proxy on this host as well as the gateway), so not local. If it is this machine's own name, add it to localHosts`,
    );
  });

  it.each([
    ["a name and its port", "mybox:18789", "mybox"],
    ["a name without a port", "mybox", "mybox"],
    ["a one-letter name and its port", "b:18789", "b"],
    ["a name in mixed case", "MyBox.lan:8080", "MyBox.lan"],
    ["a bracketed IPv6 address and its port", "[fd00::2]:18789", "[fd00::2]"],
    ["a bracketed IPv6 address without a port", "[fd00::2]", "[fd00::2]"],
  ])("advises the localHosts entry for %s: the name without the port, which then names this machine", (_, host, entry) => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host } });
    expect(only(result, "host-not-local").fix).toStrictEqual({ add: "localHosts", entry });
    // Applying the fix lifts the failure.
    expect(createResolver({ localHosts: [entry] }).resolve({ remoteAddress: "127.0.0.1", headers: { host }, secure: true }).checks.host).toBe(true);
  });

  it("advises the whole name of a long Host, not the 80 characters it quotes, so that the advice works", () => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host: `${long}:18789` } });
    expect(only(result, "host-not-local").fix).toStrictEqual({ add: "localHosts", entry: long });
    const next = createResolver({ localHosts: [long] }).resolve({ remoteAddress: "127.0.0.1", headers: { host: `${long}:18789` }, secure: true });
    expect(next.checks.host).toBe(true);
    expect(next.diagnostics.map((d) => d.fix)).not.toContainEqual({ add: "localHosts", entry: long });
  });

  it("advises the whole name of a long X-Forwarded-Host item too", () => {
    const result = throughProxy.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-host": long } });
    expect(only(result, "forwarded-host-not-local").fix).toStrictEqual({ add: "localHosts", entry: long });
  });

  it.each([
    ["an unclosed bracket", "[fd00::2"],
    ["an IPv6 address without brackets", "fd00::2"],
    ["a name and a port that is not one", "mybox:80a"],
    ["a name longer than any Host that can name this machine", `${"a".repeat(300)}.lan`],
  ])("advises no localHosts entry for %s: no entry would make it name this machine", (_, host) => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host } });
    expect(only(result, "host-not-local").fix).toBeUndefined();
  });

  it("advises nothing for a Host that is not text", () => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host: [] as unknown as string } });
    expect(result.diagnostics.map((d) => d.code)).toEqual(["host-not-local"]);
    expect(Object.keys(result.diagnostics[0]!)).toEqual(["code", "message"]);
  });
});

describe("Fetch Metadata", () => {
  it("quotes at most 80 characters of the name a request without Origin or Sec-Fetch-Site was made to", () => {
    const name = "m".repeat(100);
    const result = createResolver({ localHosts: [name] }).resolve({ remoteAddress: "127.0.0.1", headers: { host: name } });
    expect(result.diagnostics).toStrictEqual([
      {
        code: "no-fetch-metadata",
        message: `no Origin and no Sec-Fetch-Site, to ${JSON.stringify(name.slice(0, 80))} over http: browsers send neither to such a name on a cross-site navigation or image, so a page elsewhere may have caused this request: not local. Use a loopback name (localhost, 127.0.0.1, [::1]) or https, or send Origin from your client`,
      },
    ]);
  });

  it("quotes at most 40 characters of Sec-Fetch-Site", () => {
    const site = `cross-site${"y".repeat(50)}`;
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "sec-fetch-site": site } });
    expect(result.diagnostics).toStrictEqual([
      {
        code: "fetch-site-not-local",
        message: `no Origin, and Sec-Fetch-Site is ${JSON.stringify(site.slice(0, 40))}: a page elsewhere made the user's browser send this request (a link, an image, a form, a no-cors fetch), so not local`,
      },
    ]);
  });
});

describe("an Origin that is not this server's own page", () => {
  const foreign = (origin: string) => `Origin ${JSON.stringify(origin)} is not this machine: a page from another site (or an opaque origin) opened this connection in the user's browser, so not local`;

  it("names a DNS-rebinding page as the page of the very name the request was made to", () => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host: "rebind.evil.example:18789", origin: "http://rebind.evil.example:18789" } });
    expect(only(result, "origin-not-local")).toStrictEqual({
      code: "origin-not-local",
      message: 'Origin "http://rebind.evil.example:18789" is the page of the name the request was made to, which is not this machine (see Host): a page served under another name, so not local',
    });
  });

  it("names a page of another site as such", () => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost:18789", origin: "https://evil.example" } });
    expect(result.diagnostics).toStrictEqual([{ code: "origin-not-local", message: foreign("https://evil.example") }]);
  });

  it("does not call a page the request's own when what the trusted proxy said of the request cannot be read", () => {
    const result = throughProxy.resolve({ remoteAddress: "127.0.0.1", headers: { host: "rebind.evil.example", "x-forwarded-proto": "gopher", origin: "http://rebind.evil.example" } });
    expect(result.diagnostics.map((d) => d.code)).toEqual(["forwarded-request-unclear", "origin-not-local"]);
    expect(only(result, "origin-not-local").message).toBe(foreign("http://rebind.evil.example"));
  });

  it("does not call a page the request's own when the request has no Host, even on a host called undefined", () => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { origin: "http://undefined" } });
    expect(result.diagnostics.map((d) => d.code)).toEqual(["host-missing", "origin-not-local"]);
    expect(only(result, "origin-not-local").message).toBe(foreign("http://undefined"));
  });
});

describe("an Origin on this machine but another scheme or port", () => {
  const another = (origin: string, asked: string, proxySentence = "") =>
    `Origin ${JSON.stringify(origin)} is this machine but another scheme or port than the request (${asked}): a page of another application here (a dev server, another local service) opened this connection, so not local${proxySentence}. If that page is yours, add ${JSON.stringify(origin)} to localOrigins`;

  it("names the request's scheme and port, and the origin to add to localOrigins", () => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost:18789", origin: "http://localhost:5173" } });
    expect(result.diagnostics).toStrictEqual([
      { code: "origin-not-local", message: another("http://localhost:5173", "http, port 18789"), fix: { add: "localOrigins", entry: "http://localhost:5173" } },
    ]);
  });

  it("says https and no port for a TLS request whose Host has none", () => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", origin: "http://localhost" }, secure: true });
    expect(only(result, "origin-not-local").message).toBe(another("http://localhost", "https, no port"));
  });

  it("adds the origin to localOrigins as browsers send it", () => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost:18789", origin: "HTTP://LOCALHOST:5173" } });
    expect(only(result, "origin-not-local").fix).toStrictEqual({ add: "localOrigins", entry: "http://localhost:5173" });
  });

  it("through a proxy that names the client, suspects a Host rewritten to the gateway's own address", () => {
    const result = throughProxy.resolve({ remoteAddress: "127.0.0.1", headers: { host: "127.0.0.1:8080", "x-forwarded-for": "127.0.0.1", origin: "http://localhost:18789" } });
    expect(only(result, "origin-not-local").message).toBe(
      another(
        "http://localhost:18789",
        "http, port 8080",
        ". If a proxy in front rewrote Host to the gateway's own address (nginx's default $proxy_host, Apache's ProxyPreserveHost Off), make it pass the Host the browser sent (nginx: proxy_set_header Host $http_host; Apache: ProxyPreserveHost On)",
      ),
    );
  });

  it("through a proxy that names the client, suspects a Host whose port the proxy dropped", () => {
    const result = throughProxy.resolve({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": "127.0.0.1", origin: "http://localhost:18789" } });
    expect(only(result, "origin-not-local").message).toBe(
      another(
        "http://localhost:18789",
        "http, no port",
        ". If a proxy in front rewrote Host without its port (nginx's $host), make it pass the Host the browser sent (nginx: proxy_set_header Host $http_host; Apache: ProxyPreserveHost On)",
      ),
    );
  });

  it("suspects no rewrite when the proxy said which host the browser asked for, or when there is no proxy", () => {
    const named = throughProxy.resolve({ remoteAddress: "127.0.0.1", headers: { host: "127.0.0.1:8080", "x-forwarded-for": "127.0.0.1", "x-forwarded-host": "localhost:8080", origin: "http://localhost:18789" } });
    expect(only(named, "origin-not-local").message).toBe(another("http://localhost:18789", "http, port 8080"));
    const none = direct.resolve({ remoteAddress: "127.0.0.1", headers: { host: "127.0.0.1:8080", origin: "http://localhost:18789" } });
    expect(only(none, "origin-not-local").message).toBe(another("http://localhost:18789", "http, port 8080"));
  });
});

describe("an Origin that is not text", () => {
  it("is a page from elsewhere, never the page of the name asked for, even when that name cannot be told", () => {
    const result = direct.resolve({ remoteAddress: "127.0.0.1", headers: { origin: [] as unknown as string } });
    expect(result.diagnostics.map((d) => d.code)).toEqual(["host-missing", "origin-not-local"]);
    expect(result.diagnostics[1]!.message).toBe('Origin "null" is not this machine: a page from another site (or an opaque origin) opened this connection in the user\'s browser, so not local');
  });
});
