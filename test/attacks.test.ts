// The attack catalogue: one test per published attack on client-address or locality logic, each citing where
// it was published. Every test states the attacker's request and asserts that it does not pass for local (or
// does not get the address it claims).
import { createServer } from "node:http";
import net, { type AddressInfo } from "node:net";
import { describe, expect, it, vi } from "vitest";
import { type ResolveClientAddressOptions, compileTrustedProxies, resolveClientAddress } from "../src/core/index.js";
import { v1 } from "./proxy-protocol/support.js";

const judge = (options: Partial<ResolveClientAddressOptions> & { remoteAddress: string | undefined }) =>
  resolveClientAddress({ trustedProxies: [], ...options });

describe("attacks on the client address", () => {
  // Home Assistant core#14345 (2018): "Uses the first IP in the header which can be spoofed"; adam-p,
  // "The perils of the 'real' client IP" (2022); chi GHSA-3fxj-6jh8-hvhx / GHSA-rjr7-jggh-pgcp (RealIP
  // took the leftmost X-Forwarded-For entry).
  it("leftmost X-Forwarded-For spoofing: the client's own leftmost claim is not its address", () => {
    const result = judge({
      remoteAddress: "172.18.0.1",
      headers: { host: "localhost", "x-forwarded-for": "127.0.0.1, 203.0.113.7" },
      trustedProxies: ["172.18.0.1"],
    });
    expect(result.address).toBe("203.0.113.7");
    expect(result.loopbackEquivalent).toBe(false);
  });

  // Sonarr CVE-2026-30975 (GHSA-h5qx-5hjf-7c9r): "an on-network attacker can set X-Forwarded-For: 127.0.0.1
  // and bypass local-only auth"; the same pattern in carlos-emr/carlos#1621 and claude_codex_bridge#171.
  it("X-Forwarded-For: 127.0.0.1 from a client that talks to the server directly does not impersonate loopback", () => {
    for (const remoteAddress of ["203.0.113.9", "172.18.0.5", "::ffff:198.51.100.4", "2001:db8::9"]) {
      const result = judge({ remoteAddress, headers: { host: "localhost", "x-forwarded-for": "127.0.0.1" }, trustedProxies: ["172.18.0.1"] });
      expect(result.address).not.toBe("127.0.0.1");
      expect(result.loopbackEquivalent).toBe(false);
    }
  });

  // adam-p (2022), "spoofed hops": a client prepends trusted-looking addresses so that a walk that skips every
  // private or loopback address lands on the attacker's choice.
  it("spoofed loopback hops inside a chain do not make the walk skip past the real client", () => {
    const result = judge({
      remoteAddress: "127.0.0.1",
      headers: { host: "localhost", "x-forwarded-for": "127.0.0.1, 127.0.0.2, 203.0.113.7, 127.0.0.1" },
      trustedProxies: ["loopback"],
    });
    // The nearest proxy (127.0.0.1) vouches for 203.0.113.7's connection; the 127.x entries left of it are
    // the client's claims.
    expect(result.address).toBe("203.0.113.7");
    expect(result.loopbackEquivalent).toBe(false);
  });

  // CVE-2021-28918 / CVE-2021-29418 (npm netmask: octal and hex octets), CVE-2021-29921 (Python ipaddress:
  // leading zeros): parsers disagreeing about 0177.0.0.1 turn into allow-list bypasses.
  it.each(["127.1", "0177.0.0.1", "0x7f.0.0.1", "2130706433", "0177.1", "127.0.0.01", "0x7f000001"])(
    "legacy IPv4 form %j is not an address, so it is neither loopback nor a trusted hop",
    (entry) => {
      const result = judge({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": `203.0.113.7, ${entry}` }, trustedProxies: ["loopback"] });
      expect(result.address).toBeNull();
      expect(result.loopbackEquivalent).toBe(false);
      expect(() => compileTrustedProxies([entry])).toThrow();
    },
  );

  // RFC 4291 section 2.5.5.1 deprecates IPv4-compatible addresses; ipaddr.js 2 (the deprecatedTransitional
  // branch of its parser) reads ::127.0.0.1 as the mapped ::ffff:127.0.0.1. NAT64 (RFC 6052) 64:ff9b::7f00:1
  // is a route to 127.0.0.1 on someone else's translator, not this machine.
  it("IPv4-compatible ::127.0.0.1 and NAT64 64:ff9b::7f00:1 are not loopback", () => {
    for (const remoteAddress of ["::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::127.0.0.1"]) {
      expect(judge({ remoteAddress, headers: { host: "localhost" } }).loopbackEquivalent).toBe(false);
      expect(judge({ remoteAddress, headers: { host: "localhost" }, trustedProxies: ["loopback"] }).loopbackEquivalent).toBe(false);
    }
  });

  // proxy-addr 2.0.8 (CVE-2026-90711, GHSA-jqcg-44mw-7w3h) fixed IPv4-mapped matching. A mapped prefix that
  // matches nothing (the user meant 10.0.0.0/8) or everything (::/64 holds all of ::ffff:0:0/96) is a
  // silent misconfiguration either way.
  it("an IPv4-mapped prefix matches exactly the IPv4 addresses it covers", () => {
    const mapped = judge({ remoteAddress: "10.1.2.3", headers: { host: "localhost" }, trustedProxies: ["::ffff:10.0.0.0/104"] });
    expect(mapped.loopbackEquivalent).toBe(true);
    const outside = judge({ remoteAddress: "11.1.2.3", headers: { host: "localhost" }, trustedProxies: ["::ffff:10.0.0.0/104"] });
    expect(outside.loopbackEquivalent).toBe(false);
    // A mapped peer against a plain IPv4 range, and a plain IPv4 peer against a mapped single address.
    expect(judge({ remoteAddress: "::ffff:172.18.0.1", headers: { host: "localhost" }, trustedProxies: ["172.18.0.1"] }).basis).toBe("socket:trusted-path");
    expect(judge({ remoteAddress: "172.18.0.1", headers: { host: "localhost" }, trustedProxies: ["::ffff:172.18.0.1"] }).basis).toBe("socket:trusted-path");
  });

  it("an IPv6 range that holds every mapped address trusts every IPv4 client, and says so", () => {
    const list = compileTrustedProxies(["::/64"]);
    expect(list.diagnostics.map((d) => d.code)).toEqual(["trusts-everyone"]);
    const result = judge({ remoteAddress: "203.0.113.9", headers: { host: "localhost", "x-forwarded-for": "127.0.0.1" }, trustedProxies: list });
    // Trusting everyone means believing everyone: the documented consequence, announced at compile time.
    expect(result.address).toBe("127.0.0.1");
  });

  // RFC 6874 zone identifiers: fe80::1%eth0 must not slip through as a different address, and a zone on a
  // trusted entry must not widen or dodge the match.
  it("zone ids are dropped before matching and never shown", () => {
    const result = judge({ remoteAddress: "fe80::1%br-1a2b", headers: { host: "localhost" }, trustedProxies: ["fe80::1"] });
    expect(result.address).toBe("fe80::1");
    expect(result.basis).toBe("socket:trusted-path");
    expect(judge({ remoteAddress: "::1%lo", headers: { host: "localhost" } }).basis).toBe("socket:loopback");
    expect(() => compileTrustedProxies(["fe80::1%eth0"])).toThrow();
    expect(judge({ remoteAddress: "127.0.0.1%lo", headers: { host: "localhost" } }).address).toBeNull();
  });

  // adam-p (2022), "multiple headers": a client sends its own X-Forwarded-For line and the proxy adds a second;
  // reading only the first or only the last line loses the proxy's entry or believes the client's.
  it("several X-Forwarded-For lines are one list in wire order", () => {
    const result = judge({
      remoteAddress: "127.0.0.1",
      headers: ["Host", "localhost", "X-Forwarded-For", "127.0.0.1", "X-Forwarded-For", "203.0.113.7"],
      trustedProxies: ["loopback"],
    });
    expect(result.address).toBe("203.0.113.7");
    expect(result.loopbackEquivalent).toBe(false);
  });

  // Apache httpd drops request headers with underscores ("Environment Variables in Apache": both X-Forwarded-For
  // and X_Forwarded_For become HTTP_X_FORWARDED_FOR in CGI); nginx ignores them by default
  // (underscores_in_headers off). A resolver that folds _ into - reads a header no proxy wrote.
  it("X_Forwarded_For and other look-alike names are different headers and are not read", () => {
    const result = judge({
      remoteAddress: "127.0.0.1",
      headers: ["Host", "localhost", "X_Forwarded_For", "203.0.113.7", "X-Forwarded_For", "203.0.113.7", "X-Forwarded-For ", "203.0.113.7"],
      trustedProxies: ["loopback"],
    });
    expect(result.hops).toHaveLength(1);
    expect(result.basis).toBe("socket:loopback");
    // And with the proxy undeclared, the look-alikes do not count as forwarding headers either.
    expect(judge({ remoteAddress: "127.0.0.1", headers: { host: "localhost", x_forwarded_for: "203.0.113.7" } }).basis).toBe("socket:loopback");
  });

  // RFC 7239 section 7.1 and adam-p (2022): a proxy that writes X-Forwarded-For passes a client's Forwarded
  // through untouched (and vice versa), so believing both lets a client spoof through the other.
  it("a Forwarded header beside the believed X-Forwarded-For does not name the client, and blocks locality", () => {
    const result = judge({
      remoteAddress: "127.0.0.1",
      headers: { host: "localhost", "x-forwarded-for": "127.0.0.1", forwarded: "for=198.51.100.4" },
      trustedProxies: ["loopback"],
    });
    expect(result.address).toBe("127.0.0.1");
    expect(result.loopbackEquivalent).toBe(false);
    const believingForwarded = judge({
      remoteAddress: "127.0.0.1",
      headers: { host: "localhost", forwarded: "for=127.0.0.1", "x-forwarded-for": "127.0.0.1" },
      trustedProxies: ["loopback"],
      header: "forwarded",
    });
    expect(believingForwarded.loopbackEquivalent).toBe(false);
  });

  // CVE-2018-12121 (Node.js: denial of service with large HTTP headers) and realclientip-go's note that
  // header parsing must be bounded: a header padded to megabytes must cost what a short one does.
  it("a header padded to megabytes is examined only up to maxHops entries of bounded length", () => {
    const padded = `${"127.0.0.1, ".repeat(200_000)}127.0.0.1`;
    const result = judge({ remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": padded }, trustedProxies: ["loopback"] });
    expect(result.address).toBeNull();
    expect(result.hops).toHaveLength(65);
    const oneHugeEntry = judge({ remoteAddress: "127.0.0.1", headers: { host: "localhost", forwarded: `for="${"x".repeat(2 << 20)}"` }, trustedProxies: ["loopback"], header: "forwarded" });
    expect(oneHugeEntry.address).toBeNull();
    expect(oneHugeEntry.basis).toBe("forwarded:malformed-header");
  });

  // Express's "trust proxy: true" warning, and GladysAssistant/gladys-gateway#210: trusting every hop makes
  // req.ip whatever the leftmost entry says.
  it("a trust list that trusts everyone compiles with a warning that any client can spoof its address", () => {
    for (const everyone of ["0.0.0.0/0", "::/0", "::ffff:0:0/96"]) {
      const list = compileTrustedProxies([everyone]);
      expect(list.diagnostics[0]?.code).toBe("trusts-everyone");
      expect(list.diagnostics[0]?.message).toMatch(/any client can then claim any address/);
    }
  });
});

describe("attacks on locality", () => {
  // memanto#1929 (CWE-290), openclaw#59190 and the story's gateway: behind a reverse proxy on this host that
  // nobody declared, every internet client arrives from 127.0.0.1.
  it("an undeclared reverse proxy on this host does not make every client local", () => {
    for (const headers of [
      { host: "localhost", "x-forwarded-for": "203.0.113.7" },
      { host: "127.0.0.1:18789", "x-real-ip": "203.0.113.7" },
      { host: "localhost", forwarded: "for=203.0.113.7;proto=https" },
    ]) {
      const result = judge({ remoteAddress: "127.0.0.1", headers });
      expect(result.loopbackEquivalent).toBe(false);
      expect(result.basis).toBe("socket:unread-forwarding-header");
    }
  });

  // Cross-Site WebSocket Hijacking (Christian Schneider, 2013; webpack-dev-server CVE-2018-14732): a page in the
  // user's own browser opens a WebSocket to the loopback gateway; the browser connects from 127.0.0.1 and sends
  // the page's Origin, which the page cannot forge.
  it("a cross-site WebSocket from a page in the user's own browser is not local", () => {
    for (const origin of ["https://evil.example", "http://localhost.evil.example:18789", "null", "http://127.0.0.1.evil.example"]) {
      const result = judge({ remoteAddress: "127.0.0.1", headers: { host: "127.0.0.1:18789", origin } });
      expect(result.loopbackEquivalent).toBe(false);
      expect(result.basis).toBe("socket:origin-not-local");
    }
  });

  // DNS rebinding: Node.js inspector CVE-2018-7160 (fixed by allowing only Host values not subject to DNS
  // resolution), and CVE-2021-22884 (localhost6 removed because DNS could answer for it). A page on the
  // attacker's name, rebound to 127.0.0.1, sends its own name as Host and as Origin.
  it("a DNS-rebinding page (Host names the attacker) is not local", () => {
    const result = judge({ remoteAddress: "127.0.0.1", headers: { host: "rebind.evil.example:18789", origin: "http://rebind.evil.example:18789" } });
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("socket:host-not-local");
    expect(judge({ remoteAddress: "127.0.0.1", headers: { host: "localhost6" } }).loopbackEquivalent).toBe(false);
  });

  // The classic substring check (host.includes("localhost") or host.startsWith("127.")): quick-lint-js#951 and
  // insightforge#3 discuss Host pinning; a name that merely contains localhost or a loopback address is the
  // attacker's.
  it.each([
    "localhost.evil.example",
    "evil.example.localhost.evil.example",
    "127.0.0.1.nip.io",
    "127.0.0.1.evil.example:18789",
    "evil-localhost",
    "localhost@evil.example",
    "evil.example#localhost",
    "[::1].evil.example",
  ])("a Host that merely contains localhost or a loopback address (%j) is not local", (host) => {
    const result = judge({ remoteAddress: "127.0.0.1", headers: { host } });
    expect(result.loopbackEquivalent).toBe(false);
  });

  // Zoom's local web server, CVE-2019-13450 (2019): any web page made the user's browser call the server on
  // localhost with an <img>, which sends no Origin. Fetch Metadata (W3C) says who caused such a request; without
  // it, a navigation, an <img> or a no-cors fetch from any site borrowed the user's locality.
  it("a cross-site page's navigation, <img> or no-cors fetch to the loopback gateway is not local (Sec-Fetch-Site)", () => {
    for (const site of ["cross-site", "same-site"]) {
      const result = judge({ remoteAddress: "127.0.0.1", headers: { host: "127.0.0.1:18789", "sec-fetch-site": site, "sec-fetch-mode": "no-cors" } });
      expect(result.loopbackEquivalent).toBe(false);
      expect(result.basis).toBe("socket:origin-not-local");
      expect(result.diagnostics.map((d) => d.code)).toEqual(["fetch-site-not-local"]);
    }
  });

  // RFC 6454 section 4: an origin is scheme, host and port. Another application on this machine (a dev server,
  // any local service serving a page an attacker can influence) is another origin; "this machine" in Origin
  // let its pages borrow the gateway's locality, WebSocket included.
  it("a page served on another local port does not borrow the gateway's locality", () => {
    for (const origin of ["http://localhost:8000", "http://127.0.0.1:5173", "http://[::1]:3000", "http://localhost"]) {
      const result = judge({ remoteAddress: "127.0.0.1", headers: { host: "127.0.0.1:18789", origin } });
      expect(result.loopbackEquivalent, origin).toBe(false);
      expect(result.basis).toBe("socket:origin-not-local");
    }
    expect(judge({ remoteAddress: "127.0.0.1", headers: { host: "127.0.0.1:18789", origin: "http://localhost:8000" }, localOrigins: ["http://localhost:8000"] }).loopbackEquivalent).toBe(true);
  });

  // openclaw#1795 ("auth bypass when behind unconfigured reverse proxy", 2026): the fix looked for the address
  // headers only. A proxy that adds only X-Forwarded-Proto, -Host or Via (Caddy always adds Via), or a tunnel
  // whose edge adds CF-Connecting-IP (cloudflared) or Tailscale-User-Login (Tailscale Serve), reaches the
  // gateway from 127.0.0.1 with none of the three.
  it.each([
    ["x-forwarded-proto", "https"],
    ["x-forwarded-host", "gateway.example"],
    ["via", "1.1 Caddy"],
    ["cf-connecting-ip", "203.0.113.7"],
    ["cf-ray", "8f0c1d2e3f4a5b6c-AMS"],
    ["tailscale-user-login", "alice@example.com"],
    ["tailscale-funnel-request", "?1"],
    ["true-client-ip", "203.0.113.7"],
  ])("an undeclared proxy or tunnel that adds only %s does not make its clients local", (name, value) => {
    const result = judge({ remoteAddress: "127.0.0.1", headers: { host: "localhost:18789", [name]: value } });
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("socket:unread-forwarding-header");
    expect(result.diagnostics[0]!.message).toContain("written by");
  });

  // RFC 7239 section 4: "Each parameter MUST NOT occur more than once per forwarded-element." Read last-wins
  // (or first-wins), a client's repeated for= inside an element the trusted proxy extended picks the answer.
  it("a Forwarded element that repeats for= is malformed, not read last-wins", () => {
    const result = judge({ remoteAddress: "127.0.0.1", headers: { host: "localhost", forwarded: "for=203.0.113.7;for=127.0.0.1" }, trustedProxies: ["loopback"], header: "forwarded" });
    expect(result.address).toBeNull();
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("forwarded:malformed-header");
  });

  // `localHosts: process.env.LOCAL_HOSTS.split(",")` with the variable unset gives [""], which matched an empty
  // Host and `Origin: http://`: a request that names nothing passed condition c.
  it("an empty name in localHosts is refused, never a match for an empty Host", () => {
    expect(() => judge({ remoteAddress: "127.0.0.1", headers: { host: "", origin: "http://" }, localHosts: "".split(",") })).toThrow(TypeError);
  });

  // Stale compiled options: a trust list cached by identity and changed in place kept its first meaning, so a
  // proxy removed from the list went on being believed.
  it("a trustedProxies array edited in place is never answered from its old compilation", () => {
    const trustedProxies = ["127.0.0.1"];
    const request = { remoteAddress: "127.0.0.1", headers: { host: "localhost", "x-forwarded-for": "127.0.0.1" }, trustedProxies };
    expect(judge(request).loopbackEquivalent).toBe(true);
    trustedProxies.pop();
    expect(judge(request).loopbackEquivalent).toBe(false);
  });

  // Docker's NAT hands host-published connections over from the bridge gateway; trusting the whole bridge
  // /16 lets every container on it pass for local (docs/trust-model.md's limit). The resolver cannot tell, so the
  // test pins what it does: another container is local only when its address is trusted.
  it("another container on the bridge is not local when only the gateway is trusted", () => {
    const result = judge({ remoteAddress: "172.18.0.3", headers: { host: "localhost:18789" }, trustedProxies: ["172.18.0.1"] });
    expect(result.loopbackEquivalent).toBe(false);
    expect(result.basis).toBe("socket:remote-client");
  });
});

describe("attacks on locality through a proxy: the request the browser made, not the one the proxy rewrote", () => {
  const apache = { remoteAddress: "127.0.0.1", trustedProxies: ["loopback"] } as const;

  // DNS rebinding against a localhost daemon: Transmission, CVE-2018-5702 (Project Zero issue 1447, fixed by a
  // Host allow-list in transmission#468). Behind a declared proxy that rewrites Host to the upstream's address
  // (Apache's default, ProxyPreserveHost Off: "This option should normally be turned Off", mod_proxy docs),
  // the page's own name survives only in X-Forwarded-Host ("The original host requested by the client in the
  // Host HTTP request header", ibid.) or RFC 7239's host= (section 5.3). A same-origin fetch from the rebinding
  // page carries no Origin, and Chromium sends Fetch Metadata only to secure or localhost URLs.
  it("a DNS-rebinding page through a declared proxy that rewrites Host is not local (X-Forwarded-Host, Forwarded host=)", () => {
    const viaXfh = judge({ ...apache, headers: { host: "127.0.0.1:18789", "x-forwarded-for": "127.0.0.1", "x-forwarded-host": "evil.test:8080" } });
    expect(viaXfh).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false, basis: "x-forwarded-for:host-not-local" });
    expect(viaXfh.diagnostics.map((d) => d.code)).toEqual(["forwarded-host-not-local"]);
    const viaForwarded = judge({ ...apache, header: "forwarded", headers: { host: "127.0.0.1:18789", forwarded: 'for=127.0.0.1;host="evil.test:8080"' } });
    expect(viaForwarded).toMatchObject({ address: "127.0.0.1", loopbackEquivalent: false, basis: "forwarded:host-not-local" });
    // Apache appends to an X-Forwarded-Host the page wrote itself: a forged local name left of the real one
    // cannot help, since every Host-bearing value must name this machine.
    expect(judge({ ...apache, headers: { host: "127.0.0.1:18789", "x-forwarded-for": "127.0.0.1", "x-forwarded-host": "localhost:8080, evil.test:8080" } }).loopbackEquivalent).toBe(false);
    // The dashboard through the same proxy stays local: its own page, named by the proxy.
    const dashboard = judge({ ...apache, headers: { host: "127.0.0.1:18789", "x-forwarded-for": "127.0.0.1", "x-forwarded-host": "localhost:8080", origin: "http://localhost:8080" } });
    expect(dashboard).toMatchObject({ loopbackEquivalent: true, basis: "x-forwarded-for:loopback" });
  });

  // RFC 6454 section 4: the scheme is part of the origin, and a port left out is the scheme's default, that
  // scheme's only. Chromium opened ws://localhost/ from a page on https://localhost with no mixed-content block.
  it("a page of the other scheme on either default port does not borrow the gateway's locality", () => {
    expect(judge({ remoteAddress: "127.0.0.1", headers: { host: "localhost", origin: "https://localhost" } }).basis).toBe("socket:origin-not-local");
    expect(judge({ remoteAddress: "127.0.0.1", secure: true, headers: { host: "localhost", origin: "http://localhost" } }).basis).toBe("socket:origin-not-local");
    // Through a TLS proxy the browser's scheme is the proxy's to say (X-Forwarded-Proto, Forwarded proto=).
    const tls = { ...apache, headers: { host: "127.0.0.1:18789", "x-forwarded-for": "127.0.0.1", "x-forwarded-host": "localhost", "x-forwarded-proto": "https", origin: "https://localhost" } };
    expect(judge(tls).loopbackEquivalent).toBe(true);
    expect(judge({ ...tls, headers: { ...tls.headers, origin: "http://localhost" } }).loopbackEquivalent).toBe(false);
  });

  // W3C Fetch Metadata is sent only to potentially trustworthy URLs (W3C Secure Contexts: https, localhost,
  // *.localhost, loopback literals): to http://mybox Chromium sends neither Origin nor Sec-Fetch-* on a
  // cross-site navigation or <img>, so such a request looks exactly like a script's.
  it("a cross-site navigation or image to a localHosts name over http is not local", () => {
    const options = { remoteAddress: "127.0.0.1", localHosts: ["mybox"] };
    const blind = judge({ ...options, headers: { host: "mybox:18789" } });
    expect(blind).toMatchObject({ loopbackEquivalent: false, basis: "socket:origin-not-local" });
    expect(blind.diagnostics.map((d) => d.code)).toEqual(["no-fetch-metadata"]);
    expect(blind.diagnostics[0]!.message).toMatch(/Use a loopback name \(localhost, 127\.0\.0\.1, \[::1\]\) or https, or send Origin/);
    // Its own page, which sends Origin, is local; so is https to that name, where browsers do send Fetch Metadata.
    expect(judge({ ...options, headers: { host: "mybox:18789", origin: "http://mybox:18789" } }).loopbackEquivalent).toBe(true);
    expect(judge({ ...options, secure: true, headers: { host: "mybox:18789" } }).loopbackEquivalent).toBe(true);
    expect(judge({ remoteAddress: "127.0.0.1", headers: { host: "127.0.0.1:18789" } }).loopbackEquivalent).toBe(true);
  });

  // WHATWG URL's origin serialization is what browsers send: an entry in another spelling never matched.
  it("a localOrigins entry in another spelling of the same origin matches what the browser sends", () => {
    const result = judge({ remoteAddress: "127.0.0.1", localOrigins: ["http://[0:0:0:0:0:0:0:1]:5173"], headers: { host: "localhost:18789", origin: "http://[::1]:5173" } });
    expect(result.loopbackEquivalent).toBe(true);
  });

  // OpenClaw's gateway tests treat any X-Forwarded-* header as proxy evidence; oauth2-proxy and authentik
  // add X-Forwarded-User, nginx setups X-Forwarded-Ssl.
  it.each(["X-Forwarded-User", "X-Forwarded-Ssl", "X-Forwarded-Email"])("%s from an undeclared proxy on this host is a proxy signal: not local", (name) => {
    const result = judge({ remoteAddress: "127.0.0.1", headers: { host: "localhost", [name]: "on" } });
    expect(result).toMatchObject({ loopbackEquivalent: false, basis: "socket:unread-forwarding-header" });
  });

  // nginx's usual lines (proxy_set_header X-Real-IP and X-Forwarded-For): advice to believe X-Real-IP was
  // answered, on the next request, by advice to believe X-Forwarded-For again. Each recommended change is
  // applied here and the request resolved again: no answer advises undoing the one before.
  it("following the diagnostics never leads back where it started (nginx's X-Real-IP beside X-Forwarded-For)", () => {
    const headers = { host: "localhost:8080", "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1", origin: "http://localhost:8080" };
    for (const header of ["x-forwarded-for", "x-real-ip", "forwarded"] as const) {
      let options: Partial<ResolveClientAddressOptions> & { remoteAddress: string } = { remoteAddress: "127.0.0.1", trustedProxies: ["loopback"], header, headers: { ...headers } };
      const seen: string[] = [];
      for (let step = 0; step < 5; step++) {
        const result = judge(options);
        const fixes = result.diagnostics.flatMap((d) => (d.fix === undefined ? [] : [d.fix]));
        if (fixes.length === 0) break;
        for (const fix of fixes) {
          if ("set" in fix) {
            expect(seen, `${header}: advised believing ${fix.to} after ${seen.join(", ")}`).not.toContain(`header:${fix.to}`);
            seen.push(`header:${options.header}`);
            options = { ...options, header: fix.to };
          } else if ("proxyDrops" in fix) {
            const kept = Object.fromEntries(Object.entries(options.headers as Record<string, string>).filter(([name]) => name !== fix.proxyDrops.toLowerCase()));
            options = { ...options, headers: kept };
          }
        }
      }
      expect(judge(options).loopbackEquivalent, header).toBe(true);
    }
  });

  // nginx's `proxy_set_header Host $host` drops the port the browser wrote, so its own page on another port
  // looked like another application; the advice names $http_host, which keeps it.
  it("a proxy that drops Host's port is named, with the nginx line that keeps it", () => {
    const result = judge({ ...apache, headers: { host: "localhost", "x-forwarded-for": "127.0.0.1", origin: "http://localhost:8080" } });
    expect(result.basis).toBe("x-forwarded-for:origin-not-local");
    expect(result.diagnostics[0]!.message).toContain("rewrote Host without its port (nginx's $host), make it pass the Host the browser sent (nginx: proxy_set_header Host $http_host");
    // nginx's default, $proxy_host, writes the gateway's own address: the dashboard's WebSocket through it is
    // refused (fixtures/recorded/browser-proxies), and the advice is the same line.
    const rewritten = judge({ ...apache, headers: { host: "127.0.0.1:18789", "x-forwarded-for": "::1", origin: "http://localhost:8080" } });
    expect(rewritten.basis).toBe("x-forwarded-for:origin-not-local");
    expect(rewritten.diagnostics[0]!.message).toContain("rewrote Host to the gateway's own address (nginx's default $proxy_host, Apache's ProxyPreserveHost Off), make it pass the Host the browser sent");
  });
});

describe("attacks on the PROXY protocol listener", () => {
  // Loading clientaddr from both the ES module and the CommonJS build (an app that mixes import and require)
  // made two listeners on one server: each connection was read for two headers, and a client's second PROXY
  // line that differed ended the process (TypeError: Cannot redefine property). Two copies of the source
  // module stand for the two builds here (test/proxy-protocol/copies.test.ts has the rest).
  it("a second listener from another copy of the library is refused on the same server", async () => {
    vi.resetModules();
    const first = await import("../src/proxy-protocol/index.js");
    vi.resetModules();
    const second = await import("../src/proxy-protocol/index.js");
    const server = first.acceptProxyProtocol(createServer(), { trustedProxies: ["127.0.0.1"] });
    expect(() => second.acceptProxyProtocol(server, { trustedProxies: ["127.0.0.1"] })).toThrow(/already installed/);
  });

  // A slowloris of the balancer's own kind: connections that stop halfway through their header held a
  // graceful shutdown until headerTimeout (closeAllConnections() did not know them).
  it("a connection stalled in its header does not hold the server's shutdown", async () => {
    const { acceptProxyProtocol } = await import("../src/proxy-protocol/index.js");
    const server = acceptProxyProtocol(createServer(), { trustedProxies: ["127.0.0.1"], headerTimeout: 60_000 });
    // Told when the listener has taken the connection in (its gate is the emit this wraps).
    const gate = server.emit;
    const accepted = new Promise<void>((resolve) => {
      server.emit = function (this: typeof server, event: string | symbol, ...args: unknown[]) {
        const handled = Reflect.apply(gate, this, [event, ...args]) as boolean;
        if (event === "connection") resolve();
        return handled;
      } as typeof server.emit;
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const socket = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
    socket.on("error", () => {});
    const header = v1("192.0.2.1", "127.0.0.1");
    socket.write(header.subarray(0, header.length >> 1));
    await accepted;
    // Closed by the server once it is told to close them all, not after its 60 s header timeout (the test's own
    // limit, 30 s, fails first).
    const closed = new Promise((resolve) => socket.once("close", resolve));
    server.closeAllConnections();
    await closed;
    await new Promise((resolve) => server.close(resolve));
  });
});
