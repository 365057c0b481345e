// The presets' fronts that Debian packages (nginx, Caddy, HAProxy), each with the configuration its preset
// assumes, run for real on loopback in front of the example gateway in capture mode. The recorder
// (scripts/record-presets.ts) runs every scenario and writes fixtures/recorded/presets/; the end-to-end suite
// (presets.e2e.test.ts) runs the same scenarios live and checks that what arrives is what was recorded.
//
// The proxies are started and stopped by test/e2e/proxies.ts (each in the foreground as our own child, its own
// temp folder, 127.0.0.1 and ::1 only, stopped by its pid, every wait bounded); the clients dial 127.0.0.1 and
// never resolve a name. What each proxy does to the headers is a small model, checked against every capture
// (the rules' headers by checkCaptured, the descriptive ones the rules also read here), so that a proxy that
// changes its behaviour fails the run instead of leaving a fixture whose expectation no longer fits.
//
// The expected answers are written by hand from the rules (docs/trust-model.md, the preset table in
// docs/api.md), never by asking the library: the fixtures exist to check it.
import { readFileSync } from "node:fs";
import type { Fixture } from "../../src/cli/fixture.js";
import type { PresetName } from "../../src/core/index.js";
import {
  type CapturedRequest,
  type Carried,
  CapturingGateway,
  type Judgement,
  PROXIES,
  type ProxySpec,
  type RunningChain,
  checkCaptured,
  handshakeOnce,
  headerLines,
  nginx,
  proxyVersion,
  startChain,
} from "./proxies.js";

export { CapturingGateway, headerLines };
export type { CapturedRequest };

/** A bound on one handshake reaching the gateway through a proxy on loopback: an event, not a slow machine. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------------------
// The fronts, configured as their presets assume

/** The nginx preset's lines (presets.ts: X-Forwarded-For believed, X-Real-IP $remote_addr read when it agrees). */
const NGINX_PRESET_LINES = ["proxy_set_header Host $http_host;", "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", "proxy_set_header X-Real-IP $remote_addr;"];

export type PresetTopologyId = "nginx" | "caddy" | "haproxy";

interface PresetTopology {
  text: string;
  preset: PresetName;
  proxy: ProxySpec;
  /** The descriptive headers the rules read that the proxy writes (X-Forwarded-Host, -Proto), from what the client sent. */
  describes(c: Carried): { "x-forwarded-host": string[]; "x-forwarded-proto": string[] };
}

const NONE = () => ({ "x-forwarded-host": [], "x-forwarded-proto": [] });

export const TOPOLOGIES: Record<PresetTopologyId, PresetTopology> = {
  nginx: {
    text: "nginx with the nginx preset's lines (proxy_set_header Host $http_host, X-Forwarded-For $proxy_add_x_forwarded_for, X-Real-IP $remote_addr)",
    preset: "nginx",
    // $http_host is the client's Host as sent; $proxy_add_x_forwarded_for appends the peer to the client's
    // X-Forwarded-For lines, merged into one; X-Real-IP is the peer nginx saw.
    proxy: nginx("proxy_pass with the nginx preset's lines (Host $http_host, X-Forwarded-For $proxy_add_x_forwarded_for, X-Real-IP $remote_addr)", NGINX_PRESET_LINES, (c) => ({
      ...c,
      from: "127.0.0.1",
      "x-real-ip": [c.from],
      "x-forwarded-for": [[...c["x-forwarded-for"], c.from].join(", ")],
    })),
    describes: NONE,
  },
  caddy: {
    text: "Caddy's reverse_proxy with its defaults (the caddy preset)",
    preset: "caddy",
    // Host passed on; X-Forwarded-For replaced by the peer Caddy saw (no trusted_proxies); X-Forwarded-Host
    // the client's Host and X-Forwarded-Proto the scheme it was reached on.
    proxy: PROXIES.caddy,
    describes: (c) => ({ "x-forwarded-host": c.host, "x-forwarded-proto": ["http"] }),
  },
  haproxy: {
    text: "HAProxy in mode http with option forwardfor (the haproxy preset)",
    preset: "haproxy",
    // Host passed on; a line X-Forwarded-For: <peer> added after the client's own.
    proxy: PROXIES.haproxyForwardfor,
    describes: NONE,
  },
};

export interface RunningPresetTopology extends RunningChain {
  readonly id: PresetTopologyId;
}

export async function startTopology(id: PresetTopologyId, gatewayPort: number): Promise<RunningPresetTopology> {
  return { id, ...(await startChain([TOPOLOGIES[id].proxy], gatewayPort)) };
}

// ---------------------------------------------------------------------------------------------------------
// Clients: all on 127.0.0.1, as a machine with loopback traffic only allows

export type PresetClientId = "script" | "dashboard" | "remote";

interface PresetClient {
  text: string;
  /** Headers besides ws's own, for a front on `port`; Host, unless set here, is ws's: 127.0.0.1:PORT. */
  headers(port: number): Record<string, string>;
  origin?(port: number): string;
}

/** The address the remote client says it is, as a client behind another proxy would be named (RFC 5737). */
export const REMOTE_CLIENT = "203.0.113.7";

export const CLIENTS: Record<PresetClientId, PresetClient> = {
  script: { text: "A local script (no Origin, Host 127.0.0.1:PORT)", headers: () => ({}) },
  dashboard: {
    text: "A browser-like local dashboard: the page http://localhost:PORT the gateway served through the front opening its WebSocket (Host localhost:PORT, Origin http://localhost:PORT)",
    headers: (port) => ({ Host: `localhost:${port}` }),
    origin: (port) => `http://localhost:${port}`,
  },
  remote: {
    text: `A remote client, simulated from loopback: a script that sends its own X-Forwarded-For: ${REMOTE_CLIENT} to the front, as a client behind another proxy on this host would arrive (Host 127.0.0.1:PORT, no Origin)`,
    headers: () => ({ "X-Forwarded-For": REMOTE_CLIENT }),
  },
};

const WS_VERSION = (JSON.parse(readFileSync(new URL("../../node_modules/ws/package.json", import.meta.url), "utf8")) as { version: string }).version;

/** What the client sends to a front on `port`, as far as the rules care. */
export function sent(id: PresetClientId, port: number): Carried {
  const client = CLIENTS[id];
  const headers = client.headers(port);
  const origin = client.origin?.(port);
  return {
    from: "127.0.0.1",
    host: [headers.Host ?? `127.0.0.1:${port}`],
    origin: origin === undefined ? [] : [origin],
    "x-forwarded-for": headers["X-Forwarded-For"] === undefined ? [] : [headers["X-Forwarded-For"]],
    "x-real-ip": [],
    forwarded: [],
  };
}

/** One WebSocket handshake to the front; resolves once the connection is over, however it ended (bounded). */
export function sendHandshake(id: PresetClientId, port: number, caseId: string): Promise<void> {
  const client = CLIENTS[id];
  return handshakeOnce(`ws://127.0.0.1:${port}/?case=${encodeURIComponent(caseId)}`, "127.0.0.1", port, {
    origin: client.origin?.(port),
    headers: client.headers(port),
    timeoutMs: HANDSHAKE_TIMEOUT_MS,
  });
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios: each handshake judged with the front's preset, and with loopback declared without it

export type PresetTrust = "preset" | "no-preset";

type Expected = Fixture["expected"];
/** [address, loopbackEquivalent, basis, attribution, why]; the preset is the front's when attribution is proxied under it. */
type Answer = [Expected["address"], boolean, Expected["basis"], NonNullable<Expected["attribution"]>, string];

export interface PresetScenario {
  /** `preset-<topology>-<client>`, also the `case` query parameter that finds its handshake at the gateway. */
  id: string;
  topology: PresetTopologyId;
  client: PresetClientId;
  judgements: Judgement[];
}

function trustOf(trust: PresetTrust, preset: PresetName): { text: string; options: Fixture["options"] } {
  return trust === "preset"
    ? { text: `the ${preset} preset (preset "${preset}", trustedProxies [] adding nothing to its loopback)`, options: { trustedProxies: [], preset } }
    : { text: 'loopback declared without a preset (trustedProxies ["loopback"], X-Forwarded-For believed)', options: { trustedProxies: ["loopback"] } };
}

function scenario(topology: PresetTopologyId, client: PresetClientId, answers: Record<PresetTrust, Answer>): PresetScenario {
  const { preset, text } = TOPOLOGIES[topology];
  return {
    id: `preset-${topology}-${client}`,
    topology,
    client,
    judgements: (Object.entries(answers) as Array<[PresetTrust, Answer]>).map(([trust, [address, loopbackEquivalent, basis, attribution, why]]) => {
      const { text: trustText, options } = trustOf(trust, preset);
      return {
        name: `${topology}-${client}-${trust}`,
        description: `${CLIENTS[client].text} through ${text}, ${trustText}: ${why}`,
        options,
        // None of these three presets has claims; the preset is named only when its front named the client.
        expected: { address, loopbackEquivalent, basis, attribution, preset: trust === "preset" && attribution === "proxied" ? preset : null, claims: null },
      };
    }),
  };
}

const NGINX_NO_PRESET = "nginx also set X-Real-IP, which without the preset is an address header the walk does not read (condition b): ";

export const SCENARIOS: PresetScenario[] = [
  // nginx: Host $http_host (kept as sent), X-Forwarded-For appended to, X-Real-IP = the peer nginx saw.
  scenario("nginx", "script", {
    preset: ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", "nginx's X-Forwarded-For: 127.0.0.1 is walked to a loopback client, its X-Real-IP: 127.0.0.1 names the peer that entry names (read as nginx's own), Host 127.0.0.1:PORT names this machine and there is no Origin: local, named by nginx"],
    "no-preset": ["127.0.0.1", false, "x-forwarded-for:unread-forwarding-header", "unattributable", `${NGINX_NO_PRESET}not local although the client is on loopback (the reason for the preset)`],
  }),
  scenario("nginx", "dashboard", {
    preset: ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", "X-Forwarded-For and X-Real-IP agree on the loopback client; Host localhost:PORT (passed on by $http_host) names this machine, and Origin http://localhost:PORT is the page of the request the browser made (http, as nginx adds no X-Forwarded-Proto; the port from Host): local, named by nginx"],
    "no-preset": ["127.0.0.1", false, "x-forwarded-for:unread-forwarding-header", "unattributable", `${NGINX_NO_PRESET}not local`],
  }),
  scenario("nginx", "remote", {
    preset: [REMOTE_CLIENT, false, "x-forwarded-for:remote-client", "proxied", `nginx appended the peer it saw: X-Forwarded-For: ${REMOTE_CLIENT}, 127.0.0.1; the walk passes the trusted 127.0.0.1 and stops at ${REMOTE_CLIENT}, the first untrusted entry, the client; X-Real-IP: 127.0.0.1 agrees with the nearest entry: a remote client named by nginx, not local`],
    "no-preset": [REMOTE_CLIENT, false, "x-forwarded-for:remote-client", "unattributable", `the walk names ${REMOTE_CLIENT}, a remote client (the first failed condition); ${NGINX_NO_PRESET}unattributable`],
  }),

  // Caddy: Host passed on, X-Forwarded-For replaced by the peer it saw, X-Forwarded-Host and -Proto added.
  scenario("caddy", "script", {
    preset: ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", "Caddy's X-Forwarded-For: 127.0.0.1 names a loopback client; X-Forwarded-Host 127.0.0.1:PORT names this machine and there is no Origin: local, named by Caddy"],
    "no-preset": ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", "the same walk without the preset (Caddy writes no other address header): local, and no preset named"],
  }),
  scenario("caddy", "dashboard", {
    preset: ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", "Caddy's X-Forwarded-For names a loopback client; X-Forwarded-Host localhost:PORT and X-Forwarded-Proto http make the browser's request http://localhost:PORT, whose page the Origin is: local, named by Caddy"],
    "no-preset": ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", "the same walk and the same request without the preset: local, and no preset named"],
  }),
  scenario("caddy", "remote", {
    preset: ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", `Caddy trusts no proxy by default, so it replaced the client's X-Forwarded-For: ${REMOTE_CLIENT} with the peer it saw, 127.0.0.1: the client really is on loopback, Host 127.0.0.1:PORT, no Origin: local, named by Caddy`],
    "no-preset": ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", `Caddy dropped the client's ${REMOTE_CLIENT}; the walk names the loopback client it saw: local, and no preset named`],
  }),

  // HAProxy option forwardfor: Host passed on, a line X-Forwarded-For: <peer> after the client's own.
  scenario("haproxy", "script", {
    preset: ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", "HAProxy's X-Forwarded-For: 127.0.0.1 names a loopback client, Host 127.0.0.1:PORT names this machine, no Origin: local, named by HAProxy"],
    "no-preset": ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", "the same walk without the preset: local, and no preset named"],
  }),
  scenario("haproxy", "dashboard", {
    preset: ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", "HAProxy's X-Forwarded-For names a loopback client; Host localhost:PORT (passed on) names this machine and Origin http://localhost:PORT is that request's page (http: no X-Forwarded-Proto): local, named by HAProxy"],
    "no-preset": ["127.0.0.1", true, "x-forwarded-for:loopback", "proxied", "the same walk and the same request without the preset: local, and no preset named"],
  }),
  scenario("haproxy", "remote", {
    preset: [REMOTE_CLIENT, false, "x-forwarded-for:remote-client", "proxied", `HAProxy kept the client's line and added its own: X-Forwarded-For: ${REMOTE_CLIENT} then 127.0.0.1, read as one list; the walk passes the trusted 127.0.0.1 and stops at ${REMOTE_CLIENT}: a remote client named by HAProxy, not local`],
    "no-preset": [REMOTE_CLIENT, false, "x-forwarded-for:remote-client", "proxied", `the same walk without the preset: ${REMOTE_CLIENT}, remote, and no preset named`],
  }),
];

// ---------------------------------------------------------------------------------------------------------
// Running a scenario

/** Throws unless the captured request carries exactly what the proxy's model says. */
export function checkPresetCaptured(request: CapturedRequest, scenario: PresetScenario, topology: RunningPresetTopology): void {
  const { proxy, describes } = TOPOLOGIES[scenario.topology];
  const client = sent(scenario.client, topology.port);
  checkCaptured(request, proxy.forwards(client, topology.proxies[0]!.hop));
  const want = describes(client);
  const problems: string[] = [];
  for (const name of ["x-forwarded-host", "x-forwarded-proto"] as const) {
    const got = headerLines(request, name);
    if (JSON.stringify(got) !== JSON.stringify(want[name])) problems.push(`${name}: expected ${JSON.stringify(want[name])}, got ${JSON.stringify(got)}`);
  }
  if (problems.length > 0) throw new Error(`${scenario.id}: the gateway received something else than the proxy model says: ${problems.join("; ")}`);
}

/** Sends the scenario's handshake through the running front and returns the request the gateway received. */
export async function runScenario(scenario: PresetScenario, gateway: CapturingGateway, topology: RunningPresetTopology): Promise<CapturedRequest> {
  if (topology.id !== scenario.topology) throw new Error(`${scenario.id} needs ${scenario.topology}, not ${topology.id}`);
  const [request] = await Promise.all([gateway.next("upgrade", scenario.id, HANDSHAKE_TIMEOUT_MS), sendHandshake(scenario.client, topology.port, scenario.id)]);
  checkPresetCaptured(request, scenario, topology);
  return request;
}

/** Provenance: the client, the proxy with its version and config, the gateway and the recorder. */
export function provenance(scenario: PresetScenario, gateway: CapturingGateway, topology: RunningPresetTopology, date: string): string {
  const proxy = topology.proxies[0]!;
  return [
    `client: ws ${WS_VERSION} WebSocket client on Node ${process.version}: ${CLIENTS[scenario.client].text}, connecting to 127.0.0.1:PORT`,
    `proxy 1 of 1: ${proxyVersion(proxy.spec.name)}, ${proxy.spec.what}, run in the foreground with this config:\n${proxy.config.trimEnd()}`,
    `gateway: examples/gateway createGateway (capture mode) on Node ${process.version}, bound on 127.0.0.1:${gateway.port}`,
    `topology: client on 127.0.0.1 -> 127.0.0.1:${proxy.hop.port} ${proxy.spec.name} -> 127.0.0.1:${gateway.port} gateway`,
    `recorded by scripts/record-presets.ts on ${date}`,
  ].join("\n");
}

/**
 * A request with its ports masked (they differ from run to run) and its Sec-WebSocket-Key too (random): what
 * must be the same live as recorded, header line by header line, in wire order.
 */
export function portsAside(request: CapturedRequest): unknown {
  const headers: string[] = [];
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!;
    const value = request.rawHeaders[i + 1]!;
    headers.push(name, name.toLowerCase() === "sec-websocket-key" ? "KEY" : value.replace(/:\d{1,5}\b/g, ":PORT"));
  }
  return { peer: request.peer?.address, local: request.local?.address, method: request.method, url: request.url, headers };
}
