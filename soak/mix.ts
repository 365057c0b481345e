// The request mix of `npm run soak`: every kind of WebSocket handshake the load generator sends, how it
// reaches the server on loopback (the address the connection is made from, a PROXY protocol header before the
// request), and the verdict expected for it. The verdict is derived from the request's intent (who is really
// on the other end, and what it presents for pairing) by the trust model's rules as docs/trust-model.md states them,
// never by asking the library; test/soak.test.ts checks that the library agrees with every intent.
//
// Every 127/8 address is loopback, so the servers are set up to make other clients visible: a reverse proxy on
// 127.0.0.2 is declared (its X-Forwarded-For names the client) and a TCP load balancer on 127.0.0.3 may declare
// a client with the PROXY protocol. Browsers connect from 127.0.0.1; 127.0.0.4 is a proxy nobody declared.
import { v1, v2 } from "../test/proxy-protocol/support.js";

export const TOKEN = "soak-token-5f1c";
export const PAIRED_DEVICE = "soak-phone";
export const BROWSER = "127.0.0.1";
export const REVERSE_PROXY = "127.0.0.2";
export const BALANCER = "127.0.0.3";
export const UNDECLARED_PROXY = "127.0.0.4";
/**
 * The resolver's trust lists the gateway swaps between while traffic flows: different lists that trust the
 * same addresses of the mix (no client of the mix is in 192.0.2.0/24), so every verdict holds in either.
 */
export const TRUST_LISTS: readonly (readonly string[])[] = [[REVERSE_PROXY], ["192.0.2.0/24", `${REVERSE_PROXY}/32`]];

export type Verdict = "admit" | "refuse";

export interface Intent {
  /** Whether the client really is on this host and no page elsewhere caused the request. */
  readonly local: boolean;
  /** What the client presents: the token and a paired device, or less. */
  readonly credentials: "none" | "paired" | "wrong-token" | "unpaired-device";
  /**
   * Whether a page on another origin than the gateway's opened the WebSocket, as its Origin says (a browser
   * sends Origin on every WebSocket handshake, RFC 6455 section 4.1); an opaque origin (null) is one.
   */
  readonly crossSite: boolean;
}

/**
 * The gateway's admission rule, applied to intent: local clients without pairing, others with it and not from
 * a page elsewhere (cross-site WebSocket hijacking). Its limit on wrong tokens refuses only clients that made
 * them (the mix's wrong tokens come from addresses no paired client uses), so it changes no verdict here.
 */
export function expectedVerdict(intent: Intent): Verdict {
  return intent.local || (intent.credentials === "paired" && !intent.crossSite) ? "admit" : "refuse";
}

/** One connection: where it is made from, what a balancer sends first, and the HTTP request. */
export interface Connection {
  readonly from: string;
  readonly proxy?: Buffer;
  readonly head: string;
}

export interface HandshakeKind {
  readonly name: string;
  /** Relative frequency in the mix. */
  readonly weight: number;
  readonly intent: Intent;
  /** The rule that makes the intent what it is. */
  readonly why: string;
  /** The n-th request of this kind to a server on `port` (n varies the clients' addresses and ports). */
  readonly connection: (port: number, n: number) => Connection;
}

/** What the generator does to a connection besides sending it whole and reading the answer. */
export type FaultAction = "send" | "reset-midway" | "close-after-sending";

export interface FaultKind {
  readonly name: string;
  readonly weight: number;
  readonly action: FaultAction;
  /** The answer the server gives when it survives the fault as it should (never an admission). */
  readonly answer: string;
  readonly connection: (port: number, n: number) => Connection;
}

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const CHROME = [
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Pragma: no-cache",
  "Cache-Control: no-cache",
  "Accept-Encoding: gzip, deflate, br, zstd",
  "Accept-Language: en-US,en;q=0.9",
  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
];

/** An upgrade request; `hosts` are the Host lines (more than one to repeat it). */
export function upgrade(hosts: readonly string[], lines: readonly string[] = [], query = ""): string {
  return [
    `GET /ws${query} HTTP/1.1`,
    ...hosts.map((host) => `Host: ${host}`),
    "Connection: Upgrade",
    "Upgrade: websocket",
    "Sec-WebSocket-Version: 13",
    `Sec-WebSocket-Key: ${KEY}`,
    ...lines,
    "",
    "",
  ].join("\r\n");
}

const remote4 = (n: number) => `203.0.113.${1 + (n % 254)}`;
const other4 = (n: number) => `198.51.100.${1 + (n % 254)}`;
const remote6 = (n: number) => `2001:db8::${(1 + (n % 0xfffe)).toString(16)}`;
/** Another /64 than remote6's: a client that guesses is limited by its /64, and paired clients are not in it. */
const guesser6 = (n: number) => `2001:db8:bad::${(1 + (n % 0xfffe)).toString(16)}`;
const sourcePort = (n: number) => 1024 + (n % 64_000);
const paired = `?token=${TOKEN}&device=${PAIRED_DEVICE}`;
const local = (why: string) => ({ intent: { local: true, credentials: "none", crossSite: false }, why }) as const;
const remote = (credentials: Intent["credentials"], why: string, crossSite = false) => ({ intent: { local: false, credentials, crossSite }, why }) as const;
/** A page on this host's dashboard, as Chromium opens its WebSocket. */
const dashboard = (origin: string) => [`Origin: ${origin}`, ...CHROME];

export const HANDSHAKES: readonly HandshakeKind[] = [
  {
    name: "local-script",
    weight: 10,
    ...local("a loopback peer, Host names this machine, no Origin: a script on this host"),
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`]) }),
  },
  {
    name: "local-dashboard",
    weight: 20,
    ...local("a loopback peer, and Origin is the page this server served (same host, same port)"),
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`], dashboard(`http://127.0.0.1:${port}`)) }),
  },
  {
    name: "local-dashboard-localhost",
    weight: 10,
    ...local("the dashboard opened as http://localhost:PORT: localhost names this machine"),
    connection: (port) => ({ from: BROWSER, head: upgrade([`localhost:${port}`], dashboard(`http://localhost:${port}`)) }),
  },
  {
    name: "local-via-reverse-proxy",
    weight: 5,
    ...local("the declared reverse proxy says the client is this host's loopback, and the page is the dashboard"),
    connection: (port) => ({ from: REVERSE_PROXY, head: upgrade([`localhost:${port}`], ["X-Forwarded-For: 127.0.0.1", ...dashboard(`http://localhost:${port}`)]) }),
  },
  {
    name: "local-via-balancer-v1",
    weight: 5,
    ...local("the trusted balancer declares a source on this host's loopback (proxy-protocol:loopback)"),
    connection: (port, n) => ({ from: BALANCER, proxy: v1("127.0.0.1", "127.0.0.1", sourcePort(n), port), head: upgrade([`127.0.0.1:${port}`], dashboard(`http://127.0.0.1:${port}`)) }),
  },
  {
    name: "balancer-health-check-v2-local",
    weight: 2,
    ...local("v2 LOCAL declares nothing: the balancer's own connection from loopback, judged as such"),
    connection: (port) => ({ from: BALANCER, proxy: v2({ command: 0 }), head: upgrade([`127.0.0.1:${port}`]) }),
  },
  {
    name: "remote-paired-via-reverse-proxy",
    weight: 8,
    ...remote("paired", "the declared proxy (TLS in front) names an internet client on the gateway's own page; it has the token and a paired device"),
    connection: (_port, n) => ({ from: REVERSE_PROXY, head: upgrade(["gateway.example"], [`X-Forwarded-For: ${remote4(n)}`, "X-Forwarded-Proto: https", ...dashboard("https://gateway.example")], paired) }),
  },
  {
    name: "remote-paired-via-balancer-v2",
    weight: 6,
    ...remote("paired", "the balancer declares an internet client (IPv6); bearer token and a paired device"),
    connection: (port, n) => ({
      from: BALANCER,
      proxy: v2({ source: remote6(n), destination: "2001:db8:ffff::1", sourcePort: sourcePort(n), destinationPort: port }),
      head: upgrade(["gateway.example"], [`Authorization: Bearer ${TOKEN}`], `?device=${PAIRED_DEVICE}`),
    }),
  },
  {
    name: "cross-site-paired",
    weight: 2,
    ...remote("paired", "a page elsewhere holding the token and a paired device: never local, and refused as cross-site (hijacking)", true),
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`], dashboard("https://evil.example"), paired) }),
  },
  {
    name: "remote-via-reverse-proxy",
    weight: 6,
    ...remote("none", "the declared proxy names an internet client, which presents nothing"),
    connection: (_port, n) => ({ from: REVERSE_PROXY, head: upgrade(["gateway.example"], [`X-Forwarded-For: ${remote4(n)}`, "X-Forwarded-Proto: https", ...dashboard("https://gateway.example")]) }),
  },
  {
    name: "remote-via-balancer-v1",
    weight: 4,
    ...remote("none", "the balancer declares an internet client, which presents nothing"),
    connection: (_port, n) => ({ from: BALANCER, proxy: v1(remote4(n), "192.0.2.80", sourcePort(n), 443), head: upgrade(["gateway.example"]) }),
  },
  {
    name: "remote-wrong-token",
    weight: 3,
    ...remote("wrong-token", "an internet client with a paired device's name and a wrong token"),
    connection: (_port, n) => ({
      from: BALANCER,
      proxy: v2({ source: other4(n), destination: "192.0.2.80", sourcePort: sourcePort(n), destinationPort: 443 }),
      head: upgrade(["gateway.example"], [], `?token=${TOKEN.slice(0, -1)}X&device=${PAIRED_DEVICE}`),
    }),
  },
  {
    name: "remote-unpaired-device",
    weight: 3,
    ...remote("unpaired-device", "an internet client with the token and a device that was never paired (soon limited: one /64 guessing)"),
    connection: (_port, n) => ({ from: REVERSE_PROXY, head: upgrade(["gateway.example"], [`X-Forwarded-For: ${guesser6(n)}`], `?token=${TOKEN}&device=stranger`) }),
  },
  {
    name: "forged-xff-behind-balancer",
    weight: 4,
    ...remote("none", "rule 1: the declared source is an untrusted internet client, so its X-Forwarded-For: 127.0.0.1 is ignored"),
    connection: (port, n) => ({ from: BALANCER, proxy: v1(remote4(n), "127.0.0.1", sourcePort(n), port), head: upgrade([`127.0.0.1:${port}`], ["X-Forwarded-For: 127.0.0.1"]) }),
  },
  {
    name: "forged-forwarded-behind-balancer",
    weight: 3,
    ...remote("none", "rule 1: the declared source is an untrusted internet client, so its Forwarded: for=127.0.0.1 is ignored"),
    connection: (port, n) => ({
      from: BALANCER,
      proxy: v2({ source: remote6(n), destination: "::1", sourcePort: sourcePort(n), destinationPort: port }),
      head: upgrade([`localhost:${port}`], ["Forwarded: for=127.0.0.1"]),
    }),
  },
  {
    name: "forged-xff-left-of-client",
    weight: 3,
    ...remote("none", "rule 2: the walk stops at the first untrusted entry from the right, the internet client; 127.0.0.1 left of it is its own claim"),
    connection: (port, n) => ({ from: REVERSE_PROXY, head: upgrade([`127.0.0.1:${port}`], [`X-Forwarded-For: 127.0.0.1, ${remote4(n)}`]) }),
  },
  {
    name: "forged-forwarded-through-proxy",
    weight: 2,
    ...remote("none", "rules 3 and 5b: the declared proxy's believed header is X-Forwarded-For; a Forwarded it passed on is a hop nobody can see through"),
    connection: (port) => ({ from: REVERSE_PROXY, head: upgrade([`127.0.0.1:${port}`], ['Forwarded: for="127.0.0.1"']) }),
  },
  {
    name: "undeclared-proxy",
    weight: 3,
    ...remote("none", "rule 5b: a loopback peer that is not a declared proxy sends X-Forwarded-For: a proxy on this host nobody declared"),
    connection: (port, n) => ({ from: UNDECLARED_PROXY, head: upgrade([`127.0.0.1:${port}`], [`X-Forwarded-For: ${remote4(n)}`]) }),
  },
  {
    name: "forged-xff-loopback",
    weight: 3,
    ...remote("none", "rule 5b: X-Forwarded-For: 127.0.0.1 from 127.0.0.1, which is no declared proxy, is never believed and never local"),
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`], ["X-Forwarded-For: 127.0.0.1"]) }),
  },
  {
    name: "cross-site-origin",
    weight: 5,
    ...remote("none", "rule 5d: a page elsewhere opens a WebSocket to 127.0.0.1 (cross-site WebSocket hijacking)", true),
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`], dashboard("https://evil.example")) }),
  },
  {
    name: "cross-site-fetch-metadata",
    weight: 2,
    ...remote("none", "rule 5d: no Origin, and Sec-Fetch-Site: cross-site says a page elsewhere caused it"),
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`], ["Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: websocket", ...CHROME]) }),
  },
  {
    name: "same-site-fetch-metadata",
    weight: 1,
    ...remote("none", "rule 5d: Sec-Fetch-Site: same-site is another page of the site, not this server's"),
    connection: (port) => ({ from: BROWSER, head: upgrade([`localhost:${port}`], ["Sec-Fetch-Site: same-site", ...CHROME]) }),
  },
  {
    name: "other-local-port-origin",
    weight: 2,
    ...remote("none", "rule 5d: a page on another port of this host (a dev server) is another origin", true),
    connection: (port) => ({ from: BROWSER, head: upgrade([`localhost:${port}`], dashboard(`http://localhost:${port === 5173 ? 5174 : 5173}`)) }),
  },
  {
    name: "null-origin",
    weight: 1,
    ...remote("none", "rule 5d: Origin null (a sandboxed or file page) never counts", true),
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`], dashboard("null")) }),
  },
  {
    name: "rebinding-host",
    weight: 3,
    ...remote("none", "rule 5c: DNS rebinding, the attacker's name resolved to 127.0.0.1 is sent as Host"),
    connection: (port) => ({ from: BROWSER, head: upgrade([`evil.example:${port}`], dashboard(`http://evil.example:${port}`)) }),
  },
  {
    name: "rebinding-lookalike-host",
    weight: 1,
    ...remote("none", "rule 5c: localhost.evil.example is not this machine"),
    connection: (port) => ({ from: BROWSER, head: upgrade([`localhost.evil.example:${port}`], dashboard(`http://localhost.evil.example:${port}`)) }),
  },
  {
    name: "repeated-host",
    weight: 1,
    ...remote("none", "rule 6: two Host lines never count"),
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`, `evil.example:${port}`]) }),
  },
];

export const FAULTS: readonly FaultKind[] = [
  {
    name: "oversized-header",
    weight: 1,
    action: "send",
    answer: "http 431",
    // Past Node's 16 KiB header limit: refused by the HTTP parser before anything else sees it.
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`], [`X-Padding: ${"a".repeat(20_000)}`]) }),
  },
  {
    name: "forged-proxy-header",
    weight: 1,
    action: "send",
    answer: "http 400",
    // 127.0.0.1 may not declare: its PROXY line is read as HTTP, and it is not HTTP.
    connection: (port) => ({ from: BROWSER, proxy: v1("127.0.0.1", "127.0.0.1", 5555, port), head: upgrade([`127.0.0.1:${port}`]) }),
  },
  {
    name: "balancer-without-header",
    weight: 1,
    action: "send",
    answer: "closed",
    // The balancer must send a header; a connection from it without one is closed unanswered.
    connection: (port) => ({ from: BALANCER, head: upgrade([`127.0.0.1:${port}`]) }),
  },
  {
    name: "reset-midway",
    weight: 1,
    action: "reset-midway",
    answer: "cut",
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`], dashboard(`http://127.0.0.1:${port}`)) }),
  },
  {
    name: "closed-before-upgrade",
    weight: 1,
    action: "close-after-sending",
    answer: "cut",
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`], dashboard(`http://127.0.0.1:${port}`)) }),
  },
];

/**
 * The slow client (slowloris): a cross-site page's handshake dripped a few bytes at a time over seconds, while
 * the others are served. It must end refused (or closed by the server), never admitted.
 */
export const SLOW: HandshakeKind = HANDSHAKES.find((kind) => kind.name === "cross-site-origin")!;

/**
 * How long the servers wait for a request's headers, and the listener for a balancer's PROXY header, before
 * closing the connection. Node's own defaults (60 s, checked every 30 s; the listener's 10 s) are longer than a
 * quick run lets a stalled client be seen closed; 4 s still lets a slow client (about 2 s) finish.
 */
export const STALL_TIMEOUT_MS = 4_000;

/** A connection that sends the start of what it would send and then nothing, until the server closes it. */
export interface StalledKind {
  readonly name: string;
  /** How the server ends it: the answer it gives, or "closed" for none. Never an admission. */
  readonly answer: string;
  /** What it would send; it sends the first half of the PROXY header if there is one, else of the request. */
  readonly connection: (port: number, n: number) => Connection;
}

/**
 * The stalled clients (slowloris that stop): a local dashboard's handshake, which would be admitted whole, cut
 * off halfway through its headers (the HTTP server's headersTimeout ends it with a 408), and a balancer's PROXY
 * header cut off halfway (the listener's headerTimeout closes it unanswered). Each holds its connection until
 * then, while the others are served.
 */
export const STALLED: readonly StalledKind[] = [
  {
    name: "stalled-request",
    answer: "http 408",
    connection: (port) => ({ from: BROWSER, head: upgrade([`127.0.0.1:${port}`], dashboard(`http://127.0.0.1:${port}`)) }),
  },
  {
    name: "stalled-proxy-header",
    answer: "closed",
    connection: (port, n) => ({ from: BALANCER, proxy: v2({ source: "127.0.0.1", destination: "127.0.0.1", sourcePort: sourcePort(n), destinationPort: port }), head: upgrade([`127.0.0.1:${port}`], dashboard(`http://127.0.0.1:${port}`)) }),
  },
];

export type MixItem = { readonly handshake: HandshakeKind } | { readonly fault: FaultKind };

/** Picks items by weight from a seeded generator: the same seed gives the same sequence. */
export function mixer(seed: number): () => MixItem {
  const items: MixItem[] = [...HANDSHAKES.map((handshake) => ({ handshake })), ...FAULTS.map((fault) => ({ fault }))];
  const weights = items.map((item) => ("handshake" in item ? item.handshake.weight : item.fault.weight));
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  let state = seed >>> 0;
  return () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    let pick = ((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * total) | 0;
    for (let i = 0; i < items.length; i++) {
      pick -= weights[i]!;
      if (pick < 0) return items[i]!;
    }
    return items[items.length - 1]!;
  };
}
