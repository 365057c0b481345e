// Locality that web pages and undeclared proxies cannot borrow: Fetch Metadata, the gateway's own origin,
// every proxy header, options taken once per call.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type ClientAddress, type ResolveClientAddressOptions, ClientAddressConfigError, resolveClientAddress } from "../src/core/index.js";
import { ADDRESS_BITS, PROXY_HEADERS } from "../src/core/proxy-headers.js";

const resolve = (headers: ResolveClientAddressOptions["headers"], extra: Partial<ResolveClientAddressOptions> = {}) => resolveClientAddress({ remoteAddress: "127.0.0.1", headers, ...extra });
const codes = (result: ClientAddress) => result.diagnostics.map((d) => d.code);

describe("a. Fetch Metadata when Origin is absent", () => {
  it.each(["cross-site", "same-site", "", "Same-Origin", "cross-site, same-origin", "same-origin, same-origin"])("Sec-Fetch-Site %j is a page elsewhere: not local", (site) => {
    const result = resolve({ host: "127.0.0.1:18789", "sec-fetch-site": site });
    expect(result).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:origin-not-local" });
    expect(result.checks).toEqual({ client: true, forwarding: true, host: true, origin: false });
    expect(codes(result)).toEqual(["fetch-site-not-local"]);
    expect(result.diagnostics[0]!.message).toBe(`no Origin, and Sec-Fetch-Site is ${JSON.stringify(site)}: a page elsewhere made the user's browser send this request (a link, an image, a form, a no-cors fetch), so not local`);
  });

  it.each(["same-origin", "none", undefined])("Sec-Fetch-Site %j is this server's own page, the user, or no browser: local", (site) => {
    const headers: Record<string, string> = { host: "127.0.0.1:18789" };
    if (site !== undefined) headers["sec-fetch-site"] = site;
    expect(resolve(headers)).toMatchObject({ loopbackEquivalent: true, basis: "socket:loopback" });
  });

  it("a Sec-Fetch-Site that is not text fails closed", () => {
    expect(resolve(["Host", "localhost", "Sec-Fetch-Site", 7 as unknown as string]).loopbackEquivalent).toBe(false);
  });

  it("Origin, when present, decides instead: it names the page more precisely", () => {
    expect(resolve({ host: "localhost:18789", origin: "http://localhost:18789", "sec-fetch-site": "cross-site" }).loopbackEquivalent).toBe(true);
    expect(resolve({ host: "localhost:18789", origin: "https://evil.example", "sec-fetch-site": "same-origin" }).loopbackEquivalent).toBe(false);
  });
});

describe("b. the gateway's own pages only: an Origin of the scheme and port the request was made with", () => {
  it.each([
    ["localhost:18789", "http://localhost:18789", false],
    ["localhost:18789", "http://127.0.0.1:18789", false],
    ["127.0.0.1:18789", "http://[::1]:18789", false],
    ["localhost", "http://localhost", false],
    ["localhost", "https://localhost", true],
    ["localhost", "http://localhost:80", false],
    ["localhost:80", "http://localhost", false],
    ["localhost:443", "https://app.localhost", true],
    ["[::1]:8443", "https://localhost:8443", true],
  ])("Host %j with Origin %j is this server's page (secure: %j): local", (host, origin, secure) => {
    expect(resolve({ host, origin }, { secure })).toMatchObject({ loopbackEquivalent: true, basis: "socket:loopback" });
  });

  it.each([
    ["localhost:18789", "http://localhost:8000", false],
    ["localhost:18789", "http://localhost", false],
    ["localhost", "http://localhost:8080", false],
    ["localhost:443", "http://localhost", false],
    ["localhost:80", "https://localhost", false],
    ["127.0.0.1:18789", "http://127.0.0.1:5173", false],
    // RFC 6454: the scheme is part of the origin, and a missing port is the request's scheme's default only.
    ["localhost", "https://localhost", false],
    ["localhost", "http://localhost", true],
    ["localhost:18789", "https://localhost:18789", false],
    ["localhost:18789", "http://localhost:18789", true],
  ])("Host %j with Origin %j (secure: %j) is another application here: not local, and the diagnostic says how to allow it", (host, origin, secure) => {
    const result = resolve({ host, origin }, { secure });
    expect(result).toMatchObject({ loopbackEquivalent: false, basis: "socket:origin-not-local" });
    expect(result.checks.origin).toBe(false);
    expect(result.diagnostics).toHaveLength(1);
    expect(result.diagnostics[0]!.message).toMatch(/^Origin ".*" is this machine but another scheme or port than the request \((http|https), (no port|port \d+)\): a page of another application here .* If that page is yours, add ".*" to localOrigins$/);
    expect(result.diagnostics[0]!.fix).toEqual({ add: "localOrigins", entry: origin });
  });

  it("an Origin that is not text, or a bracketed Host that is not an address, fails closed", () => {
    expect(resolve(["Host", "localhost", "Origin", 7 as unknown as string]).checks).toMatchObject({ host: true, origin: false });
    expect(resolve(["Host", "localhost", "Origin", 7 as unknown as string], { localOrigins: ["http://localhost:5173"] }).checks.origin).toBe(false);
    expect(resolve({ host: "[::g]:18789" }).checks.host).toBe(false);
  });

  it("compares ports only once Host names this machine; a foreign Host fails on its own", () => {
    const result = resolve({ host: "evil.example:18789", origin: "http://localhost:8000" });
    expect(result.basis).toBe("socket:host-not-local");
    expect(result.checks).toMatchObject({ host: false, origin: true });
  });

  it("localOrigins names other pages that count, as browsers serialize origins", () => {
    const localOrigins = ["http://localhost:5173", "HTTPS://Dash.Example:443", "http://[::1]:3000"];
    for (const origin of ["http://localhost:5173", "HTTP://LOCALHOST:5173", "https://dash.example", "https://dash.example:443", "http://[::1]:3000"]) {
      expect(resolve({ host: "localhost:18789", origin }, { localOrigins }).loopbackEquivalent, origin).toBe(true);
    }
    for (const origin of ["http://localhost:5174", "https://localhost:5173", "https://dash.example:8443", "http://dash.example", "null"]) {
      expect(resolve({ host: "localhost:18789", origin }, { localOrigins }).loopbackEquivalent, origin).toBe(false);
    }
    // The default port is dropped for http as for https.
    expect(resolve({ host: "localhost:18789", origin: "http://dash.example" }, { localOrigins: ["http://dash.example:80"] }).loopbackEquivalent).toBe(true);
    expect(resolve({ host: "localhost:18789", origin: "http://dash.example" }, { localOrigins: ["http://dash.example:443"] }).loopbackEquivalent).toBe(false);
    // An Origin too long to be one of them is not compared at all.
    expect(resolve({ host: "localhost:18789", origin: `http://localhost:5173${"0".repeat(400)}` }, { localOrigins }).loopbackEquivalent).toBe(false);
    // An extra origin does not make its page's requests without Origin local: Sec-Fetch-Site cannot say which page.
    expect(resolve({ host: "localhost:18789", "sec-fetch-site": "same-site" }, { localOrigins }).loopbackEquivalent).toBe(false);
  });

  it.each([[""], ["null"], ["*"], ["http://"], ["https://"], ["http:///localhost"], ["http://localhost?"], ["http://localhost#x"], ["http://localhost\\"], ["http://localhost:5173/app"], ["ftp://localhost"], ["localhost:5173"], ["http://a b"], ["http://user@localhost"], ["http://localhost:99999"], ["http://[::1"], ["http://[zz]:80"], ["http://:80"], [`http://${"a".repeat(301)}`], [7]])(
    "refuses localOrigins entry %j, naming it",
    (entry) => {
      expect(() => resolve({ host: "localhost" }, { localOrigins: ["http://localhost:5173", entry as string] })).toThrow(
        `localOrigins[1] must be an http or https origin such as "http://localhost:5173" (scheme, host, optional port; no path), got ${JSON.stringify(entry)}`,
      );
    },
  );

  it("keeps localOrigins entries in the form browsers send (WHATWG URL): IPv6 compressed, IPv4 in full, lower case, no default port", () => {
    const cases: Array<[entry: string, sent: string]> = [
      ["http://[0:0:0:0:0:0:0:1]:5173", "http://[::1]:5173"],
      ["HTTP://LOCALHOST:80/", "http://localhost"],
      ["https://Dash.Example:443", "https://dash.example"],
      ["http://127.1:5173", "http://127.0.0.1:5173"],
      ["http://[::FFFF:127.0.0.1]:3000", "http://[::ffff:7f00:1]:3000"],
    ];
    for (const [entry, sent] of cases) {
      expect(resolve({ host: "localhost:18789", origin: sent }, { localOrigins: [entry] }).loopbackEquivalent, entry).toBe(true);
    }
  });

  it("an Origin a client wrote in another spelling is compared in the browser's", () => {
    expect(resolve({ host: "localhost:18789", origin: "HTTP://LOCALHOST:5173" }, { localOrigins: ["http://localhost:5173"] }).loopbackEquivalent).toBe(true);
    expect(resolve({ host: "localhost:18789", origin: "http://localhost:5173/" }, { localOrigins: ["http://localhost:5173"] }).loopbackEquivalent).toBe(true);
    expect(resolve({ host: "localhost:18789", origin: "http://localhost:5173/app" }, { localOrigins: ["http://localhost:5173"] }).loopbackEquivalent).toBe(false);
  });

  it("refuses a localOrigins that is not a list", () => {
    expect(() => resolve({ host: "localhost" }, { localOrigins: "http://localhost:5173" as unknown as string[] })).toThrow("localOrigins must be an array of origins, got string");
  });
});

describe("c. every proxy signal counts", () => {
  it("keeps the table whole: unique lower-case names, each naming its writers, within one small integer of bits", () => {
    expect(PROXY_HEADERS.length).toBeLessThanOrEqual(31);
    expect(new Set(PROXY_HEADERS.map((row) => row.name)).size).toBe(PROXY_HEADERS.length);
    for (const row of PROXY_HEADERS) {
      if (row.name !== "x-forwarded-") expect(row.name).toBe(row.display.toLowerCase());
      expect(row.writers.length).toBeGreaterThan(3);
    }
    for (const name of ["x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-forwarded-server", "x-forwarded-prefix", "via", "x-original-forwarded-for", "x-client-ip", "x-cluster-client-ip", "cf-connecting-ip", "true-client-ip", "fastly-client-ip", "fly-client-ip", "x-envoy-external-address", "tailscale-user-login", "tailscale-funnel-request"]) {
      expect(PROXY_HEADERS.map((row) => row.name)).toContain(name);
    }
    expect(ADDRESS_BITS & 0b111).toBe(0b111); // the three walkable headers are address headers
  });

  it("docs/trust-model.md's table lists the same headers, kinds, writers and believable shapes, in the same order", () => {
    const readme = readFileSync(new URL("../docs/trust-model.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("### Proxy headers"), readme.indexOf("### Limits"));
    const rows = section.split("\n").filter((line) => /^\| [A-Z]/.test(line) && !line.startsWith("| header |")).map((line) => line.split(" | "));
    const shapes: Record<string, string> = { list: "a list", forwarded: "RFC 7239 elements", single: "one address", "address-port": "one address:port" };
    expect(rows.map(([name, kind, writers, , believe]) => [name!.slice(2), kind, writers!.replaceAll("`", ""), believe!.replace(/ ?\|$/, "")])).toEqual(
      PROXY_HEADERS.map((row) => [row.display, row.kind, row.writers, "believe" in row ? shapes[row.believe] : ""]),
    );
  });

  // A name each row is sent under: its own, or for the prefix row one that only the prefix catches.
  const sentAs = (row: (typeof PROXY_HEADERS)[number]) => (row.name === "x-forwarded-" ? "X-Forwarded-User" : row.display);

  it.each(PROXY_HEADERS.map((row) => [row.display, row] as const))("%s from a peer that is not a trusted proxy: not local, naming the header and who writes it", (_, row) => {
    const name = sentAs(row);
    for (const headers of [{ host: "localhost", [name.toLowerCase()]: "127.0.0.1" }, ["Host", "localhost", name, "https"], new Headers([["Host", "localhost"], [name, "x"]])]) {
      const result = resolve(headers);
      expect(result).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false, basis: "socket:unread-forwarding-header" });
      expect(result.diagnostics).toEqual([
        {
          code: "untrusted-forwarding-header",
          message: `peer 127.0.0.1 is not a trusted proxy, yet the request carries ${row.display} (written by ${row.writers}): a proxy or tunnel forwards for someone else, so not local. If 127.0.0.1 is a reverse proxy or tunnel you run on this machine (or on one whose every process you would let in as a local user), add "127.0.0.1" to trustedProxies so that its headers are read`,
          fix: { add: "trustedProxies", entry: "127.0.0.1" },
        },
      ]);
    }
  });

  it.each(["X-Forwarded-User", "x-forwarded-email", "X-FORWARDED-SSL", "X-Forwarded-Scheme", `X-Forwarded-${"a".repeat(80)}`])("any X-Forwarded-* name (%s) is a proxy signal from an untrusted peer, in every header shape", (name) => {
    for (const headers of [{ host: "localhost", [name]: "on" }, ["Host", "localhost", name, "on"], new Headers([["Host", "localhost"], [name, "on"]])]) {
      expect(resolve(headers).basis).toBe("socket:unread-forwarding-header");
    }
    // Names that only begin like it are not.
    for (const other of ["X-Forwarded", "X-Forwardedfor", "X-Forward-User"]) expect(resolve({ host: "localhost", [other]: "on" }).loopbackEquivalent, other).toBe(true);
  });

  // What each descriptive row says when a trusted proxy describes a browser request on http://localhost.
  const routine: Record<string, string> = { "x-forwarded-host": "localhost", "x-forwarded-port": "80", "x-forwarded-proto": "http" };

  it.each(PROXY_HEADERS.filter((row) => row.kind === "descriptive").map((row) => [row.display, row] as const))("%s from a trusted proxy is routine: the path decides", (_, row) => {
    const result = resolveClientAddress({ remoteAddress: "172.18.0.1", headers: ["Host", "localhost", sentAs(row), routine[row.name] ?? "https"], trustedProxies: ["172.18.0.1"] });
    expect(result).toMatchObject({ address: "172.18.0.1", loopbackEquivalent: true, basis: "socket:trusted-path" });
  });

  it.each(PROXY_HEADERS.filter((row) => row.kind === "address").map((row) => [row.display, row] as const))("%s from a trusted proxy, unless it is the believed header, is a hop the walk cannot see", (_, row) => {
    const believed = row.name === "x-forwarded-for" ? "forwarded" : "x-forwarded-for";
    const headers = ["Host", "localhost", row.display, "127.0.0.1", believed, believed === "forwarded" ? "for=127.0.0.1" : "127.0.0.1"];
    const result = resolveClientAddress({ remoteAddress: "127.0.0.1", headers, trustedProxies: ["loopback"], header: believed });
    expect(result).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false });
    expect(result.diagnostics.map((d) => [d.code, d.message.slice(0, 60)])).toEqual([["unbelieved-forwarding-header", `trusted proxy 127.0.0.1 passed on ${row.display} (written by ${row.writers}`.slice(0, 60)]]);
  });

  it("reads header names in any case from a hand-built object, and joins two spellings as two lines", () => {
    expect(resolve({ Host: "localhost", "X-Forwarded-Proto": "https" }).basis).toBe("socket:unread-forwarding-header");
    expect(resolve({ HOST: "localhost" }).loopbackEquivalent).toBe(true);
    expect(resolve({ host: "localhost", Host: "localhost" }).basis).toBe("socket:host-not-local");
  });
});

describe("diagnostics never suggest trusting a public address", () => {
  // Besides the documentation ranges, the public neighbours of each private block: an address is private by
  // both its first and its second octet (172.16/12, 192.168/16, 169.254/16), never by one alone.
  const neighbours = ["172.15.255.255", "172.32.0.1", "192.169.0.1", "203.16.0.1", "203.31.0.1", "203.168.0.1", "203.254.0.1", "169.1.0.1", "169.255.0.1", "11.0.0.1"];
  it.each(["203.0.113.9", "2001:db8::9", "100.64.0.1", ...neighbours])("a public peer %s gets no 'add to trustedProxies' hint", (peer) => {
    const direct = resolveClientAddress({ remoteAddress: peer, headers: { host: "localhost" } });
    expect(direct.diagnostics.map((d) => d.message)).toEqual([`peer ${peer} is neither loopback nor a trusted proxy: not local.`]);
    const proxied = resolveClientAddress({ remoteAddress: peer, headers: { host: "localhost", "x-forwarded-proto": "https" } });
    expect(proxied.diagnostics.every((d) => !d.message.includes("trustedProxies"))).toBe(true);
  });

  it.each(["10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.1", "169.254.1.1", "fe80::1", "fd18::1", "fc00::1", "::1"])("a private, link-local or unique-local peer %s gets it", (peer) => {
    const result = resolveClientAddress({ remoteAddress: peer, headers: { host: "localhost", via: "1.1 proxy" } });
    expect(result.diagnostics.some((d) => d.message.includes(`add "${peer}" to trustedProxies`))).toBe(true);
  });
});

describe("f. options are taken once per call", () => {
  it("the explanation read later agrees with the verdict although the caller changed localHosts meanwhile", () => {
    const localHosts = ["mybox"];
    const result = resolve({ host: "mybox:18789", origin: "http://mybox:18789" }, { localHosts });
    localHosts[0] = "otherbox";
    expect(result.loopbackEquivalent).toBe(true);
    expect(result.checks.host).toBe(true);
    expect(result.diagnostics).toEqual([]);
    // And the changed array is read afresh on the next call, not answered from the old compilation.
    expect(resolve({ host: "mybox:18789", origin: "http://mybox:18789" }, { localHosts }).loopbackEquivalent).toBe(false);
    expect(resolve({ host: "otherbox", origin: "http://otherbox" }, { localHosts }).loopbackEquivalent).toBe(true);
  });

  it("the same for localOrigins", () => {
    const localOrigins = ["http://localhost:5173"];
    const result = resolve({ host: "localhost:18789", origin: "http://localhost:5173" }, { localOrigins });
    localOrigins.pop();
    expect(result.checks.origin).toBe(true);
    expect(resolve({ host: "localhost:18789", origin: "http://localhost:5173" }, { localOrigins }).loopbackEquivalent).toBe(false);
  });

  it("a trustedProxies array changed after its first use is compiled again, never used stale", () => {
    const trustedProxies = ["172.18.0.1"];
    const request = { remoteAddress: "172.18.0.1", headers: { host: "localhost" }, trustedProxies };
    expect(resolveClientAddress(request).loopbackEquivalent).toBe(true);
    trustedProxies[0] = "172.18.0.2";
    expect(resolveClientAddress(request).loopbackEquivalent).toBe(false);
    trustedProxies.push("172.18.0.1");
    expect(resolveClientAddress(request).loopbackEquivalent).toBe(true);
    trustedProxies.push("not an address");
    expect(() => resolveClientAddress(request)).toThrow(ClientAddressConfigError);
    trustedProxies.length = 0;
    expect(resolveClientAddress(request).basis).toBe("socket:remote-client");
  });

  it.each([[[""]], [["", "mybox"]], [[" "]], [["my box"]], [["a,b"]], [["a/b"]], [["\t"]], [["x".repeat(301)]], [[["mybox"]]], [[42]]])("an empty, blank, too long or non-text entry in localHosts %j is an options error", (localHosts) => {
    expect(() => resolve({ host: "" }, { localHosts: localHosts as string[] })).toThrow(/^localHosts\[\d\] must be a host name/);
  });

  it("a localHosts name as long as a Host that can match (300 characters) is taken", () => {
    const name = `${"a".repeat(63)}.`.repeat(4).concat("b".repeat(44));
    expect(name).toHaveLength(300);
    expect(resolve({ host: name, origin: `http://${name}` }, { localHosts: [name] }).loopbackEquivalent).toBe(true);
  });

  it("\"\".split(\",\") as localHosts is an error, never a match for an empty Host or Origin: http://", () => {
    expect(() => resolve({ host: "" }, { localHosts: "".split(",") })).toThrow('localHosts[0] must be a host name (e.g. "mybox" or "[fd18::2]"), got ""');
    expect(resolve({ host: "", origin: "http://" }, { localHosts: ["mybox"] }).checks).toMatchObject({ host: false, origin: false });
  });

  it("refuses a localHosts that is not a list", () => {
    expect(() => resolve({ host: "mybox" }, { localHosts: "mybox" as unknown as string[] })).toThrow("localHosts must be an array of host names, got string");
  });
});
