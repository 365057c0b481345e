// Real TCP load balancers that send the PROXY protocol, from Debian's packages: HAProxy in mode tcp with
// send-proxy (v1) and send-proxy-v2 (with its CRC32C and unique-id TLVs), nginx's stream module with
// proxy_protocol on, and an HTTP HAProxy in front of a TCP one. The example gateway listens behind them in
// capture mode with clientaddr/proxy-protocol trusting the balancers' address (127.0.0.1). The recorder
// (scripts/record-proxy-protocol.ts) runs every scenario and writes fixtures/recorded/proxy-protocol/; the
// end-to-end suite (proxy-protocol.e2e.test.ts) runs the same scenarios live against the recorded answers.
//
// The processes are started and stopped as in proxies.ts (foreground, own temp folder, loopback ports, stopped
// by pid, every wait bounded), whose helpers this reuses. The expected answers are derived by hand from the
// rules; what each balancer sends on is written down as a model (headers and the declared source) and every
// capture is checked against it before anything is judged or written.
import { spawnSync } from "node:child_process";
import type { Fixture } from "../../src/cli/fixture.js";
import {
  type CapturedRequest,
  CLIENTS,
  type Carried,
  CapturingGateway,
  HANDSHAKE_TIMEOUT_MS,
  PROXIES,
  type ProxySpec,
  type Judgement,
  type RunningChain,
  type Scenario as ProxiesScenario,
  type RunningProxy,
  checkCaptured,
  clientLabel,
  proxyVersion,
  scenarioBuilder,
  sendHandshake,
  sent,
  startChain,
  startProxy,
} from "./proxies.js";

export { CapturingGateway };
export type { CapturedRequest };

/** The balancers' own address: the gateway's listener trusts it to declare, and nothing else. */
export const BALANCERS = ["127.0.0.1"];

type Hop = Parameters<ProxySpec["config"]>[1];

/** A balancer's model: what reaches the gateway, and the source it declares (null: unknown; undefined: none). */
interface Balancer extends ProxySpec {
  declares(c: Carried): string | null | undefined;
}

export const haproxyTcp = (what: string, server: string, frontend: string[] = [], backend: string[] = [], declares: Balancer["declares"] = (c) => c.from): Balancer => ({
  name: "haproxy",
  what,
  // Bytes pass through untouched; the gateway's peer is HAProxy's own connection from 127.0.0.1.
  forwards: (c) => ({ ...c, from: "127.0.0.1" }),
  declares,
  config: (_dir, { port, upstream }: Hop) =>
    [
      "global",
      "  log stderr format raw local0",
      "defaults",
      "  mode tcp",
      "  log global",
      "  timeout connect 5s",
      "  timeout client 30s",
      "  timeout server 30s",
      "frontend front",
      `  bind 127.0.0.1:${port}`,
      `  bind ::1:${port}`,
      ...frontend.map((line) => `  ${line}`),
      "  default_backend gateway",
      "backend gateway",
      ...backend.map((line) => `  ${line}`),
      `  server gateway 127.0.0.1:${upstream} ${server}`,
      "",
    ].join("\n"),
});

const nginxStream: Balancer = {
  name: "nginx",
  what: "stream module (Debian's libnginx-mod-stream), proxy_pass with proxy_protocol on",
  forwards: (c) => ({ ...c, from: "127.0.0.1" }),
  declares: (c) => c.from,
  config: (dir, { port, upstream }: Hop) =>
    [
      "load_module /usr/lib/nginx/modules/ngx_stream_module.so;",
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log info;`,
      "events { worker_connections 64; }",
      "stream {",
      "  server {",
      `    listen 127.0.0.1:${port};`,
      `    listen [::1]:${port};`,
      `    proxy_pass 127.0.0.1:${upstream};`,
      "    proxy_protocol on;",
      "  }",
      "}",
      "",
    ].join("\n"),
};

export const BALANCER_SPECS = {
  haproxyV1: haproxyTcp("mode tcp, send-proxy (PROXY protocol v1)", "send-proxy"),
  haproxyV2: haproxyTcp("mode tcp, send-proxy-v2 with proxy-v2-options crc32c,unique-id (v2 with a CRC32C and a unique-id TLV)", "send-proxy-v2 proxy-v2-options crc32c,unique-id", ["unique-id-format %{+X}o%ci-%cp"]),
  // `set-src` rewrites the client's address as HAProxy sees it, standing in for a client on the internet:
  // every packet stays on loopback, and the header declares 203.0.113.7.
  haproxyV2Public: haproxyTcp("mode tcp, send-proxy-v2, tcp-request connection set-src ipv4(203.0.113.7) (a client on the internet, simulated)", "send-proxy-v2", ["tcp-request connection set-src ipv4(203.0.113.7)"], [], () => "203.0.113.7"),
  nginxStream,
} satisfies Record<string, Balancer>;

export type TopologyId = "haproxy-tcp-send-proxy" | "haproxy-tcp-send-proxy-v2" | "haproxy-tcp-v2-public-client" | "nginx-stream-proxy-protocol" | "chain-haproxy-http-haproxy-tcp-v2";

/** Client-facing first; the last one is the balancer the gateway's listener trusts. */
export const TOPOLOGIES: Record<TopologyId, { text: string; proxies: Array<ProxySpec | Balancer> }> = {
  "haproxy-tcp-send-proxy": { text: "HAProxy in mode tcp with send-proxy (v1)", proxies: [BALANCER_SPECS.haproxyV1] },
  "haproxy-tcp-send-proxy-v2": { text: "HAProxy in mode tcp with send-proxy-v2 (CRC32C and unique-id TLVs)", proxies: [BALANCER_SPECS.haproxyV2] },
  "haproxy-tcp-v2-public-client": { text: "HAProxy in mode tcp with send-proxy-v2, rewriting the client's address to 203.0.113.7 (set-src)", proxies: [BALANCER_SPECS.haproxyV2Public] },
  "nginx-stream-proxy-protocol": { text: "nginx stream with proxy_protocol on (v1)", proxies: [BALANCER_SPECS.nginxStream] },
  "chain-haproxy-http-haproxy-tcp-v2": {
    text: "HAProxy in mode http with option forwardfor, in front of HAProxy in mode tcp with send-proxy-v2",
    proxies: [PROXIES.haproxyForwardfor, BALANCER_SPECS.haproxyV2],
  },
};

export interface RunningTopology extends RunningChain {
  readonly id: TopologyId;
}

export async function startTopology(id: TopologyId, gatewayPort: number): Promise<RunningTopology> {
  return { id, ...(await startChain(TOPOLOGIES[id].proxies, gatewayPort)) };
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios: one handshake each, judged with the resolver trust lists a user would try

export type Trust = "untrusted" | "trusted" | "trusted-127-0-0-1";

export const TRUSTS: Record<Trust, { text: string; options: Fixture["options"] }> = {
  untrusted: { text: "the resolver trusting no proxy (trustedProxies [])", options: { trustedProxies: [] } },
  trusted: { text: 'the resolver trusting loopback proxies (trustedProxies ["loopback"], X-Forwarded-For believed)', options: { trustedProxies: ["loopback"] } },
  "trusted-127-0-0-1": { text: 'the resolver trusting 127.0.0.1 only (X-Forwarded-For believed)', options: { trustedProxies: ["127.0.0.1"] } },
};

export type Scenario = ProxiesScenario<TopologyId>;

const LISTENER = 'the gateway\'s listener trusting 127.0.0.1 to declare (acceptProxyProtocol trustedProxies ["127.0.0.1"])';

const scenario = scenarioBuilder(TOPOLOGIES, TRUSTS, `${LISTENER}, `);

/** The same answers for each single TCP balancer that declares the client's own address. */
function singleBalancer(topology: TopologyId, name: string): Scenario[] {
  return [
    scenario(topology, "script", {
      untrusted: ["127.0.0.1", true, "proxy-protocol:loopback", `${name} declared the client's own 127.0.0.1; Host 127.0.0.1:PORT names this machine, no Origin: local`],
      trusted: ["127.0.0.1", true, "proxy-protocol:loopback", `${name} declared 127.0.0.1, a trusted proxy here, but it sent no forwarding header to walk: the declared loopback client is local`],
    }),
    scenario(topology, "ipv6-script", {
      untrusted: ["::1", true, "proxy-protocol:loopback", `${name} declared the client's own ::1 (the gateway's socket peer is ${name} on 127.0.0.1): local`],
      trusted: ["::1", true, "proxy-protocol:loopback", `${name} declared ::1, loopback: local`],
    }),
    scenario(topology, "browser", {
      untrusted: ["127.0.0.1", false, "proxy-protocol:host-not-local", `${name} declared 127.0.0.1, but Host gateway.example.com (passed on untouched) is not this machine: not local`],
      trusted: ["127.0.0.1", false, "proxy-protocol:host-not-local", "Host gateway.example.com is not this machine: not local"],
    }),
    scenario(topology, "forged-xff", {
      untrusted: ["::1", false, "proxy-protocol:unread-forwarding-header", `${name} declared the client ::1, which is not a trusted proxy, and its own X-Forwarded-For: 127.0.0.1 came through untouched: ignored, and it makes the request not local`],
      trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", `${name} declared ::1, a trusted proxy under "loopback", so the client's own X-Forwarded-For: 127.0.0.1 is believed: local, rightly here (the client is on ::1), but a TCP balancer writes no header: a resolver list that trusts the declared clients lets them write their own`],
    }),
  ];
}

export const SCENARIOS: Scenario[] = [
  ...singleBalancer("haproxy-tcp-send-proxy", "HAProxy"),
  ...singleBalancer("haproxy-tcp-send-proxy-v2", "HAProxy"),
  ...singleBalancer("nginx-stream-proxy-protocol", "nginx"),

  scenario("haproxy-tcp-v2-public-client", "script", {
    untrusted: ["203.0.113.7", false, "proxy-protocol:remote-client", "HAProxy declared 203.0.113.7, a client on the internet: not local, although the balancer and Host are local"],
    trusted: ["203.0.113.7", false, "proxy-protocol:remote-client", "HAProxy declared 203.0.113.7, neither loopback nor trusted: not local"],
  }),
  scenario("haproxy-tcp-v2-public-client", "forged-xff", {
    untrusted: ["203.0.113.7", false, "proxy-protocol:remote-client", "HAProxy declared 203.0.113.7; its forged X-Forwarded-For: 127.0.0.1 is never read, as it is not a trusted proxy: not local"],
    trusted: ["203.0.113.7", false, "proxy-protocol:remote-client", "the declared 203.0.113.7 is not trusted, so its forged X-Forwarded-For: 127.0.0.1 is not read: not local"],
  }),

  // HTTP HAProxy (option forwardfor) -> TCP HAProxy (send-proxy-v2) -> gateway: the TCP balancer declares
  // the HTTP one (127.0.0.1), whose X-Forwarded-For names the client.
  scenario("chain-haproxy-http-haproxy-tcp-v2", "script", {
    untrusted: ["127.0.0.1", false, "proxy-protocol:unread-forwarding-header", "the TCP HAProxy declared the HTTP HAProxy (127.0.0.1), which the resolver does not trust, and its X-Forwarded-For is then a header nobody declared: not local"],
    trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", "the declared source 127.0.0.1 is a trusted proxy, so its X-Forwarded-For: 127.0.0.1 is walked to the loopback client: local"],
  }),
  scenario("chain-haproxy-http-haproxy-tcp-v2", "ipv6-script", {
    untrusted: ["127.0.0.1", false, "proxy-protocol:unread-forwarding-header", "the declared HTTP HAProxy is not trusted, so X-Forwarded-For is unread: not local"],
    trusted: ["::1", true, "x-forwarded-for:loopback", "the declared 127.0.0.1 is trusted; its X-Forwarded-For: ::1 names the loopback client: local"],
  }),
  scenario("chain-haproxy-http-haproxy-tcp-v2", "browser", {
    untrusted: ["127.0.0.1", false, "proxy-protocol:unread-forwarding-header", "X-Forwarded-For from an undeclared proxy: not local"],
    trusted: ["127.0.0.1", false, "x-forwarded-for:host-not-local", "X-Forwarded-For is walked to the loopback client, but Host gateway.example.com is not this machine: not local"],
  }),
  scenario("chain-haproxy-http-haproxy-tcp-v2", "forged-xff", {
    untrusted: ["127.0.0.1", false, "proxy-protocol:unread-forwarding-header", "X-Forwarded-For (the forged line and HAProxy's ::1) from an undeclared proxy: not local"],
    trusted: ["127.0.0.1", true, "x-forwarded-for:loopback", "every loopback address is trusted, so the walk passes HAProxy's ::1 and ends at the leftmost, forged 127.0.0.1: local, rightly, as the client is on ::1"],
    "trusted-127-0-0-1": ["::1", true, "x-forwarded-for:loopback", "the declared 127.0.0.1 is trusted; the walk stops at HAProxy's entry ::1, the first untrusted one, so the forged 127.0.0.1 left of it is never read: local"],
  }),
];

// ---------------------------------------------------------------------------------------------------------
// Running a scenario

/** What the gateway should receive: the client's request through each proxy's model, and what is declared. */
export function expectedCarried(scenario: Scenario, topology: RunningTopology): { carried: Carried; declared: string | null | undefined } {
  let carried = sent(scenario.client, topology.port);
  let declared: string | null | undefined;
  for (const proxy of topology.proxies) {
    const spec = proxy.spec as ProxySpec | Balancer;
    if ("declares" in spec) declared = spec.declares(carried);
    carried = spec.forwards(carried, proxy.hop);
  }
  return { carried, declared };
}

/** Sends the scenario's handshake through the running topology and returns what the gateway captured. */
export async function runScenario(scenario: Scenario, gateway: CapturingGateway, topology: RunningTopology): Promise<CapturedRequest> {
  if (topology.id !== scenario.topology) throw new Error(`${scenario.id} needs ${scenario.topology}, not ${topology.id}`);
  const [request] = await Promise.all([gateway.next("upgrade", scenario.id, HANDSHAKE_TIMEOUT_MS), sendHandshake(scenario.client, topology.port, scenario.id)]);
  const want = expectedCarried(scenario, topology);
  checkCaptured(request, want.carried);
  if (request.declaredSource !== want.declared) {
    throw new Error(`the gateway's listener recorded the declared source ${JSON.stringify(request.declaredSource)}, the balancer model says ${JSON.stringify(want.declared)}`);
  }
  return request;
}

// ---------------------------------------------------------------------------------------------------------
// HAProxy's own health check, sent with the v2 LOCAL command: the socket's peer is kept

export const HEALTH_CHECK_ID = "haproxy-tcp-v2-health-check";

/** HAProxy with an HTTP health check on the gateway, through send-proxy-v2: the check is a LOCAL connection. */
export const HEALTH_CHECK: Balancer = haproxyTcp(
  "mode tcp, send-proxy-v2 with proxy-v2-options crc32c, and an HTTP health check (option httpchk, check): HAProxy sends its checks with the v2 LOCAL command",
  "send-proxy-v2 proxy-v2-options crc32c check inter 60s",
  [],
  ["option httpchk", `http-check send meth GET uri /?case=${HEALTH_CHECK_ID} ver HTTP/1.1 hdr Host 127.0.0.1`],
  () => undefined,
);

export const HEALTH_CHECK_JUDGEMENTS: Judgement[] = [
  {
    name: `${HEALTH_CHECK_ID}-untrusted`,
    description: `HAProxy's own HTTP health check (GET, Host 127.0.0.1) through send-proxy-v2, sent with the LOCAL command, ${LISTENER}, ${TRUSTS.untrusted.text}: LOCAL declares nothing, so the socket peer, HAProxy on 127.0.0.1, is the client: local`,
    options: TRUSTS.untrusted.options,
    expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" },
  },
];

/** Starts the health-checking HAProxy and returns the check as the gateway captured it (a plain request). */
export async function captureHealthCheck(gateway: CapturingGateway): Promise<{ request: CapturedRequest; proxy: RunningProxy }> {
  const arrived = gateway.next("http", HEALTH_CHECK_ID, HANDSHAKE_TIMEOUT_MS + 5_000);
  const proxy = await startProxy(HEALTH_CHECK, gateway.port);
  try {
    const request = await arrived;
    if (request.declaredSource !== undefined || request.peer?.address !== "127.0.0.1") {
      throw new Error(`HAProxy's health check should arrive from 127.0.0.1 with nothing declared, got ${JSON.stringify({ peer: request.peer, declared: request.declaredSource })}`);
    }
    return { request, proxy };
  } catch (error) {
    await proxy.stop();
    throw error;
  }
}

/** Provenance: the client, each proxy with its version and config, the gateway and its listener, the recorder. */
export function provenance(what: { client: string; route: string }, gateway: CapturingGateway, proxies: readonly RunningProxy[], date: string): string {
  const texts = proxies.map((proxy) => `${proxyVersion(proxy.spec.name)}${proxy.spec.name === "nginx" ? `, ${streamModule()}` : ""}, ${proxy.spec.what}, run in the foreground with this config:\n${proxy.config.trimEnd()}`);
  return [
    `client: ${what.client}`,
    ...texts.map((text, i) => `proxy ${i + 1} of ${texts.length}: ${text}`),
    `gateway: examples/gateway createGateway (capture mode) on Node ${process.version}, bound on 127.0.0.1:${gateway.port}, behind clientaddr/proxy-protocol's acceptProxyProtocol (trustedProxies ${JSON.stringify(BALANCERS)})`,
    `topology: ${what.route}`,
    `recorded by scripts/record-proxy-protocol.ts on ${date}`,
  ].join("\n");
}

export function scenarioProvenance(scenario: Scenario, gateway: CapturingGateway, topology: RunningTopology, date: string): string {
  const dial = CLIENTS[scenario.client].dial;
  const bracket = (a: string) => (a.includes(":") ? `[${a}]` : a);
  const route = [`client on ${bracket(dial)}`, ...topology.proxies.map((proxy, i) => `${i === 0 ? bracket(dial) : "127.0.0.1"}:${proxy.hop.port} ${proxy.spec.name}`), `127.0.0.1:${gateway.port} gateway`].join(" -> ");
  return provenance({ client: clientLabel(scenario.client), route }, gateway, topology.proxies, date);
}

let stream: string | undefined;
function streamModule(): string {
  if (stream === undefined) {
    const pkg = spawnSync("dpkg-query", ["-W", "-f", "${Version}", "libnginx-mod-stream"], { encoding: "utf8", timeout: 5_000 });
    stream = pkg.status === 0 ? `stream module from Debian package libnginx-mod-stream ${pkg.stdout.trim()}` : "stream module";
  }
  return stream;
}

export { sendHandshake };
