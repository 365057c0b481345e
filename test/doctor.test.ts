import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { run } from "../src/cli/cli.js";
import {
  type DoctorReport,
  type Facts,
  type Finding,
  MAX_INVALID_LISTED,
  checkConfig,
  detectContainer,
  diagnose,
  formatReport,
  parseIpv6Route,
  parseNetDev,
  parseRoute,
} from "../src/cli/doctor/index.js";
import { compileTrustedProxies } from "../src/core/trust.js";
import { useScratchFolder } from "./support/scratch.js";

// Counts the entries compileTrustedProxies is handed, to hold checkConfig's work to linear without timing it.
const work = vi.hoisted(() => ({ entries: 0 }));
vi.mock("../src/core/trust.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../src/core/trust.js")>();
  return {
    ...actual,
    compileTrustedProxies: (list: readonly string[]) => {
      if (Array.isArray(list)) work.entries += list.length;
      return actual.compileTrustedProxies(list);
    },
  };
});

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// /proc/net/route as the kernel writes it: a tab after each field, the header, trailing blanks.
const row = (...fields: string[]) => `${fields.join("\t")}\t\t\t\t\t\t\t\t\t\t\t\t\t`;
const HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       ";
/** A container's /proc/net/route: the default route via `gateway` (with `metric`) and its own subnet. */
const containerRoute = (iface: string, gateway: string, network: string, mask: string, metric = "0") =>
  [
    HEADER,
    row(iface, "00000000", gateway, "0003", "0", "0", metric, "00000000", "0", "0", "0"),
    row(iface, network, "00000000", "0001", "0", "0", "0", mask, "0", "0", "0"),
    "",
  ].join("\n");

/** Inside a container on a Docker bridge network: 172.18.0.2/16 via 172.18.0.1. */
const CONTAINER_ROUTE = containerRoute("eth0", "010012AC", "000012AC", "0000FFFF");

/** A laptop: two default routes (wired wins on metric), docker0, a bridge, a VPN route, an unreachable default. */
const HOST_ROUTE = [
  HEADER,
  row("wlan0", "00000000", "0101A8C0", "0003", "0", "0", "600", "00000000", "0", "0", "0"),
  row("eth0", "00000000", "0100A8C0", "0003", "0", "0", "100", "00000000", "0", "0", "0"),
  row("eth0", "0000A8C0", "00000000", "0001", "0", "0", "100", "00FFFFFF", "0", "0", "0"),
  row("wlan0", "0001A8C0", "00000000", "0001", "0", "0", "600", "00FFFFFF", "0", "0", "0"),
  row("docker0", "000011AC", "00000000", "0001", "0", "0", "0", "0000FFFF", "0", "0", "0"),
  row("br-3f1c2a", "000012AC", "00000000", "0001", "0", "0", "0", "0000FFFF", "0", "0", "0"),
  row("tun0", "0000000A", "0100000A", "0003", "0", "0", "0", "000000FF", "0", "0", "0"),
  row("*", "00000000", "00000000", "0201", "0", "0", "9999", "00000000", "0", "0", "0"),
  "",
].join("\n");

/** A container on an IPv6-enabled bridge: fd18::2/64 via fd18::1, and the kernel's ::/0 reject route on lo. */
const CONTAINER_IPV6_ROUTE = `fd180000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd180000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
fd180000000000000000000000000002 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001       lo
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000003 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`;

const LO = { name: "lo", addresses: [{ family: 4, address: "127.0.0.1", cidr: "127.0.0.1/8" }, { family: 6, address: "::1", cidr: "::1/128" }] } as const;

/** The test topology's container namespace: 172.18.0.2/16 on eth0, default route via 172.18.0.1. */
const CONTAINER: Facts = {
  container: { detected: true, evidence: ["/.dockerenv exists (Docker)"] },
  interfaces: [LO, { name: "eth0", addresses: [{ family: 4, address: "172.18.0.2", cidr: "172.18.0.2/16" }] }],
  gateways: parseRoute(CONTAINER_ROUTE, true),
};

/** A laptop: no container evidence, wlan0 and eth0 on 192.168.1.0/24 and 192.168.0.0/24; routes set per test. */
const HOST: Facts = {
  container: { detected: false, evidence: [] },
  interfaces: [
    LO,
    { name: "wlan0", addresses: [{ family: 4, address: "192.168.1.20", cidr: "192.168.1.20/24" }] },
    { name: "eth0", addresses: [{ family: 4, address: "192.168.0.20", cidr: "192.168.0.20/24" }] },
  ],
  gateways: [],
};

const CONTAINER_V6: Facts = {
  ...CONTAINER,
  interfaces: [
    LO,
    {
      name: "eth0",
      addresses: [
        { family: 4, address: "172.18.0.2", cidr: "172.18.0.2/16" },
        { family: 6, address: "fd18::2", cidr: "fd18::2/64" },
        { family: 6, address: "fe80::42:acff:fe12:2", cidr: "fe80::42:acff:fe12:2/64" },
      ],
    },
  ],
  gateways: [...parseRoute(CONTAINER_ROUTE, true), ...parseIpv6Route(CONTAINER_IPV6_ROUTE)],
};

const codes = (findings: readonly Finding[]) => findings.map((finding) => finding.code);
const only = (findings: readonly Finding[], code: string) => {
  const matching = findings.filter((finding) => finding.code === code);
  expect(matching).toHaveLength(1);
  return matching[0]!;
};

describe("parseRoute (/proc/net/route)", () => {
  it("reads a Docker container's default route: 010012AC is 172.18.0.1", () => {
    expect(parseRoute(CONTAINER_ROUTE, true)).toEqual([{ family: 4, address: "172.18.0.1", interface: "eth0", metric: 0 }]);
  });

  it("keeps only default routes via a gateway, in table order, with their metrics", () => {
    // Not the on-link routes, not tun0's 10.0.0.0/8 via 10.0.0.1, not the unreachable default (no RTF_GATEWAY).
    expect(parseRoute(HOST_ROUTE, true)).toEqual([
      { family: 4, address: "192.168.1.1", interface: "wlan0", metric: 600 },
      { family: 4, address: "192.168.0.1", interface: "eth0", metric: 100 },
    ]);
  });

  it("reads the word in host order on a big-endian machine", () => {
    expect(parseRoute(CONTAINER_ROUTE.replace("010012AC", "AC120001"), false)).toEqual([
      { family: 4, address: "172.18.0.1", interface: "eth0", metric: 0 },
    ]);
  });

  it.each([
    ["an empty file", ""],
    ["only the header", `${HEADER}\n`],
    ["garbage", "not a route table\n\0\0\0\nfoo bar baz"],
    ["a truncated line", `${HEADER}\neth0\t00000000\t010012AC`],
    ["non-hex fields", `${HEADER}\n${row("eth0", "00000000", "0100G2AC", "0003", "0", "0", "0", "00000000")}`],
  ])("finds no gateway in %s", (_, text) => {
    expect(parseRoute(text, true)).toEqual([]);
  });
});

describe("parseIpv6Route (/proc/net/ipv6_route)", () => {
  it("reads the default route via fd18::1 and skips the reject route on lo", () => {
    expect(parseIpv6Route(CONTAINER_IPV6_ROUTE)).toEqual([{ family: 6, address: "fd18::1", interface: "eth0", metric: 1024 }]);
  });

  it("writes a link-local next hop canonically", () => {
    const line = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00450003    wlan0";
    expect(parseIpv6Route(line)).toEqual([{ family: 6, address: "fe80::1", interface: "wlan0", metric: 1024 }]);
  });

  it.each([
    ["an empty file", ""],
    ["garbage", "fd18 40 zz\n1 2 3 4 5 6 7 8 9 10\n"],
    ["a route to a prefix, not the default", CONTAINER_IPV6_ROUTE.split("\n")[0]!.replace("00000001     eth0", "00000003     eth0")],
  ])("finds no gateway in %s", (_, text) => {
    expect(parseIpv6Route(text)).toEqual([]);
  });
});

describe("detectContainer", () => {
  const none = { dockerenv: false, containerenv: false, cgroup: null, environ: null };

  it("reports no evidence on a host", () => {
    const cgroup = "12:pids:/init.scope\n0::/init.scope\n";
    expect(detectContainer({ ...none, cgroup, environ: "HOME=/\0TERM=linux\0" })).toEqual({ detected: false, evidence: [] });
    expect(detectContainer(none)).toEqual({ detected: false, evidence: [] });
  });

  it("reports each piece of evidence it finds", () => {
    expect(detectContainer({ ...none, dockerenv: true }).evidence).toEqual(["/.dockerenv exists (Docker)"]);
    expect(detectContainer({ ...none, containerenv: true }).evidence).toEqual(["/run/.containerenv exists (Podman)"]);
    expect(detectContainer({ ...none, environ: "PATH=/bin\0container=podman\0" }).evidence).toEqual(["/proc/1/environ: container=podman"]);
    const found = detectContainer({ ...none, dockerenv: true, cgroup: "0::/\n1:name=systemd:/docker/3f1c2a9b\n" });
    expect(found).toEqual({ detected: true, evidence: ["/.dockerenv exists (Docker)", "/proc/1/cgroup: 1:name=systemd:/docker/3f1c2a9b"] });
  });

  it.each(["docker", "containerd", "kubepods", "libpod"])("recognises a %s cgroup", (word) => {
    expect(detectContainer({ ...none, cgroup: `0::/system.slice/${word}-abc.scope\n` }).detected).toBe(true);
  });

  it("finds nothing in a cgroup v2 container's bare 0::/ (which is why /.dockerenv matters)", () => {
    expect(detectContainer({ ...none, cgroup: "0::/\n" }).detected).toBe(false);
  });
});

describe("diagnose", () => {
  it('recommends exactly "172.18.0.1" in the Docker container', () => {
    const { recommendation, warnings } = diagnose(CONTAINER);
    expect(recommendation.trustedProxies).toEqual(["172.18.0.1"]);
    expect(codes(warnings)).toEqual(["publish-on-loopback", "trust-single-address"]);
    expect(only(warnings, "publish-on-loopback").message).toContain("-p 127.0.0.1:PORT:PORT");
    // What Docker 20.10 was recorded doing with a LAN client (fixtures/recorded/docker/): IPv4 keeps the
    // client's address, IPv6 through docker-proxy arrives from the bridge gateway.
    expect(only(warnings, "publish-on-loopback").message).toContain("Over IPv4 a LAN client arrives with its own address");
    expect(only(warnings, "publish-on-loopback").message).toContain("docker-proxy relays it from 172.18.0.1, exactly as the host's browser arrives");
    expect(only(warnings, "trust-single-address").message).toContain('"172.18.0.1", not its network 172.18.0.0/16');
  });

  it("adds the IPv6 gateway after the IPv4 one", () => {
    expect(diagnose(CONTAINER_V6).recommendation.trustedProxies).toEqual(["172.18.0.1", "fd18::1"]);
  });

  it("picks the default route with the lowest metric", () => {
    const facts: Facts = { ...CONTAINER, gateways: parseRoute(HOST_ROUTE, true) };
    expect(diagnose(facts).recommendation.trustedProxies).toEqual(["192.168.0.1"]);
  });

  it("recommends no address without container evidence: on a host the default gateway is the router", () => {
    const { recommendation, warnings } = diagnose({ ...HOST, gateways: parseRoute(HOST_ROUTE, true) });
    expect(recommendation.trustedProxies).toEqual([]);
    expect(codes(warnings)).toEqual(["no-container-evidence", "publish-on-loopback"]);
    const { severity, message } = only(warnings, "no-container-evidence");
    expect(severity).toBe("info");
    expect(message).toContain("no address is recommended");
    expect(message).toContain("router");
    expect(message).not.toContain("192.168.0.1");
    expect(only(warnings, "publish-on-loopback").message).toContain("relays it from the bridge gateway");
  });

  it("still warns of a missing default route without container evidence", () => {
    expect(codes(diagnose({ ...HOST, gateways: [] }).warnings)).toEqual(["no-container-evidence", "no-default-gateway", "publish-on-loopback"]);
  });

  describe("a container on the host's network (--network host)", () => {
    // What Docker's --network host container sees: the host's interfaces, docker0 among them, and the host's
    // default route via the LAN's router (test/e2e/docker-engine.e2e.test.ts checks it on the real engine).
    const HOST_NETWORK: Facts = {
      container: { detected: true, evidence: ["/.dockerenv exists (Docker)"] },
      interfaces: [
        LO,
        { name: "eth0", addresses: [{ family: 4, address: "192.168.77.1", cidr: "192.168.77.1/24" }] },
        { name: "docker0", addresses: [{ family: 4, address: "172.17.0.1", cidr: "172.17.0.1/16" }] },
        { name: "br-3f1c2a9d0e4b", addresses: [{ family: 4, address: "172.18.0.1", cidr: "172.18.0.1/16" }] },
      ],
      gateways: [{ family: 4, address: "192.168.77.254", interface: "eth0", metric: 0 }],
    };

    it.each([["docker0"], ["br-3f1c2a9d0e4b"], ["cni-podman0"], ["podman1"]])("recommends nothing when the container sees the engine's bridge %s", (bridge) => {
      const facts: Facts = { ...HOST_NETWORK, interfaces: [...HOST_NETWORK.interfaces.slice(0, 2), { name: bridge, addresses: [] }] };
      const { recommendation, warnings } = diagnose(facts);
      expect(recommendation.trustedProxies).toEqual([]);
      expect(codes(warnings)).toEqual(["host-network"]);
      expect(only(warnings, "host-network").message).toContain(`bridge ${bridge}: --network host`);
      expect(only(warnings, "host-network").message).toContain('"192.168.77.254" is the host\'s router');
    });

    it("sees a bridge that is down: os.networkInterfaces() leaves out an interface without carrier, /proc/net/dev does not", () => {
      const netDev = [
        "Inter-|   Receive                                                |  Transmit",
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
        "    lo:    2236      24    0    0    0     0          0         0     2236      24    0    0    0     0       0          0",
        "ca-dke-0b3274:  5086  53    0    0    0     0          0         0     4006      41    0    0    0     0       0          0",
        "docker0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0",
        "",
      ].join("\n");
      expect(parseNetDev(netDev)).toEqual(["lo", "ca-dke-0b3274", "docker0"]);
      const facts: Facts = { ...HOST_NETWORK, interfaces: HOST_NETWORK.interfaces.slice(0, 2), links: parseNetDev(netDev) };
      expect(diagnose(facts).recommendation.trustedProxies).toEqual([]);
      expect(parseNetDev("")).toEqual([]);
    });

    it("takes no look-alike for an engine's bridge", () => {
      for (const name of ["br-lan", "docker", "br-3f1c2a9d0e4", "mydocker0"]) {
        const facts: Facts = { ...HOST_NETWORK, interfaces: [LO, { name, addresses: [] }, HOST_NETWORK.interfaces[1]!] };
        expect(diagnose(facts).recommendation.trustedProxies, name).toEqual(["192.168.77.254"]);
      }
    });

    it("the config check accepts [] and warns of a list that trusts the router", () => {
      expect(checkConfig({ trustedProxies: [] }, HOST_NETWORK)).toEqual([]);
      const findings = checkConfig({ trustedProxies: ["192.168.77.254"] }, HOST_NETWORK);
      expect(codes(findings)).toEqual(["default-gateway-on-host"]);
      expect(findings[0]!.message).toContain("this container shares the host's network");
      // docker0's address is the host's own; a container on docker0 is another machine.
      expect(checkConfig(["172.17.0.1", "172.17.0.2"], HOST_NETWORK)).toEqual([expect.objectContaining({ code: "trusted-not-this-machine", index: 1 })]);
    });

    it("the report says why nothing is recommended", () => {
      const text = formatReport({ ...diagnose(HOST_NETWORK), config: null });
      expect(text).toContain("(nothing: the container shares the host's network; its local clients arrive on loopback)");
    });
  });

  it("recommends nothing without a default route", () => {
    const { recommendation, warnings } = diagnose({ ...CONTAINER, gateways: [] });
    expect(recommendation.trustedProxies).toEqual([]);
    expect(codes(warnings)).toEqual(["no-default-gateway", "publish-on-loopback"]);
  });
});

describe("checkConfig", () => {
  const gateway = (trustedProxies: unknown) => ({ gateway: { trustedProxies, auth: { mode: "token", token: "t" } } });

  it.each([
    ["the gateway config shape", gateway(["172.18.0.1"])],
    ["a bare { trustedProxies }", { trustedProxies: ["172.18.0.1"] }],
    ["a plain array", ["172.18.0.1", "loopback"]],
  ])("finds nothing wrong with the gateway's single address, in %s", (_, config) => {
    expect(checkConfig(config, CONTAINER)).toEqual([]);
  });

  it("names a preset's front, and refuses an unknown preset", () => {
    expect(checkConfig({ gateway: { preset: "traefik", trustedProxies: ["172.18.0.1"] } }, CONTAINER)).toEqual([
      { code: "preset", severity: "info", message: expect.stringMatching(/^preset traefik: trusts loopback \(this machine\) and believes x-forwarded-for, reading the x-real-ip it also writes when they name an address the walk read; the entries below add to it \(following traefik\/traefik /) },
    ]);
    expect(checkConfig({ preset: "tailscale-serve" }, CONTAINER)[0]!.message).toContain("its tailscale-user-login, tailscale-user-name, tailscale-user-profile-pic are claims, never local");
    expect(checkConfig({ gateway: { preset: "apache" } }, CONTAINER)).toEqual([
      expect.objectContaining({ code: "invalid-preset", severity: "error", message: 'preset "apache" is not one of cloudflared, tailscale-serve, nginx, caddy, traefik, haproxy: the gateway would not start' }),
      expect.objectContaining({ code: "gateway-not-trusted" }),
    ]);
  });

  it("takes a DNS name for what startResolver looks up, not an invalid entry, and checks the rest as before", () => {
    const findings = checkConfig(["proxy", "172.18.0.1", "nginx-proxy-manager_app_1"], CONTAINER);
    expect(findings).toEqual([
      expect.objectContaining({ code: "proxy-name", severity: "info", entry: "proxy", index: 0, message: expect.stringMatching(/^trustedProxies\[0\] "proxy" is a DNS name \(a Compose service or container\): the gateway must make its resolver with `await startResolver\(options\)`/) }),
      expect.objectContaining({ code: "proxy-name", entry: "nginx-proxy-manager_app_1", index: 2 }),
    ]);
    expect(checkConfig(["proxy"], CONTAINER).map(({ code }) => code)).toEqual(["proxy-name", "gateway-not-trusted"]);
  });

  it("accepts both gateways on an IPv6 bridge", () => {
    expect(checkConfig(["172.18.0.1", "fd18::1"], CONTAINER_V6)).toEqual([]);
  });

  it("reports every invalid entry with the compiler's message, index included", () => {
    const findings = checkConfig(["172.18.0.1", "172.18.0.300", "loopback", 42, "0177.0.0.1"], CONTAINER);
    expect(codes(findings)).toEqual(["invalid-entry", "invalid-entry", "invalid-entry"]);
    expect(findings.every((finding) => finding.severity === "error")).toBe(true);
    expect(findings.map((finding) => finding.index)).toEqual([1, 3, 4]);
    expect(findings[0]!.message).toMatch(/^trustedProxies\[1\] "172\.18\.0\.300" is not an IP address/);
    expect(findings[1]!.message).toBe("trustedProxies[3] must be a string, got number");
  });

  it("reports a list that is not an array, and a file with no list", () => {
    expect(checkConfig(gateway("172.18.0.1"), CONTAINER)).toEqual([
      { code: "invalid-entry", severity: "error", message: "trustedProxies must be an array of strings, got string" },
    ]);
    expect(codes(checkConfig({ port: 18789 }, CONTAINER))).toEqual(["not-a-config"]);
    expect(codes(checkConfig("172.18.0.1", CONTAINER))).toEqual(["not-a-config"]);
  });

  it.each([
    ["null", null, "null"],
    ["an object", { "0": "172.18.0.1" }, "object"],
    ["a number", 0, "number"],
    ["a boolean", false, "boolean"],
  ])("reports trustedProxies: %s as invalid, as the gateway would refuse it, in either config shape", (_, value, kind) => {
    const invalid = [{ code: "invalid-entry", severity: "error", message: `trustedProxies must be an array of strings, got ${kind}` }];
    // Not "absent" (which the gateway reads as []) and so not a gateway-not-trusted finding.
    expect(checkConfig(gateway(value), CONTAINER)).toEqual(invalid);
    expect(checkConfig({ trustedProxies: value }, CONTAINER)).toEqual(invalid);
  });

  it("reads an absent list in the gateway shape as the gateway does: empty", () => {
    expect(codes(checkConfig({ gateway: { auth: {} } }, CONTAINER))).toEqual(["gateway-not-trusted"]);
  });

  // A generous timeout, not a timing: a quadratic check would take minutes, this one about a second.
  it("finds 50,000 invalid entries in one pass, listing the first ones and counting the rest", { timeout: 30_000 }, () => {
    const size = 50_000;
    const list = Array.from({ length: size }, (_, i) => (i % 2 === 0 ? `10.0.0.${300 + i}` : "172.18.0.1"));
    work.entries = 0;
    const findings = checkConfig(list, CONTAINER);
    // Each entry compiled alone, then the list once, plus a few ranges per valid entry: linear. Compiling the
    // list again after each bad entry would be 25,000 lists of 50,000.
    expect(work.entries).toBeLessThan(4 * size);
    const invalid = findings.filter((finding) => finding.code === "invalid-entry");
    expect(invalid).toHaveLength(MAX_INVALID_LISTED + 1);
    expect(invalid.slice(0, MAX_INVALID_LISTED).map((finding) => finding.index)).toEqual(Array.from({ length: MAX_INVALID_LISTED }, (_, i) => 2 * i));
    expect(invalid[MAX_INVALID_LISTED]).toEqual({
      code: "invalid-entry",
      severity: "error",
      message: `${size / 2 - MAX_INVALID_LISTED} more invalid entries (${size / 2} in all; the first ${MAX_INVALID_LISTED} are listed)`,
    });
    // The valid entries are still checked: the gateway is trusted, so nothing else is reported.
    expect(findings).toHaveLength(invalid.length);
  });

  it("reports each invalid entry with the message compileTrustedProxies gives for it at its index", () => {
    const list = ["172.18.0.1", "10.0.0.0/255.0.0.0", { cidr: "10.0.0.1" }, "fe80::1%eth0"];
    const findings = checkConfig(list, CONTAINER);
    expect(findings.map((finding) => finding.index)).toEqual([1, 2, 3]);
    for (const finding of findings) {
      // What the gateway would log, had the earlier entries been fixed.
      const alone = list.map((entry, i) => (i === finding.index ? entry : "127.0.0.1")) as string[];
      expect(() => compileTrustedProxies(alone)).toThrow(finding.message);
      expect(finding.entry).toBe(list[finding.index!]);
    }
  });

  it("reports a trust-all list as an error", () => {
    const found = only(checkConfig(["172.18.0.1", "0.0.0.0/0"], CONTAINER), "trusts-everyone");
    expect(found).toMatchObject({ severity: "error", entry: "0.0.0.0/0", index: 1 });
    expect(codes(checkConfig(["::/0"], CONTAINER))).toEqual(["trusts-everyone"]);
  });

  it("reports host bits, and the whole private range they trust", () => {
    const findings = checkConfig(["172.18.0.1/16"], CONTAINER);
    expect(codes(findings)).toEqual(["host-bits-set", "private-range"]);
    expect(findings[0]!.severity).toBe("warning");
  });

  it.each([
    ["the bridge network", "172.18.0.0/16", "172.18.0.0/16"],
    ["all of 172.16/12", "172.16.0.0/12", "172.16.0.0/12"],
    ["uniquelocal", "uniquelocal", "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7"],
  ])("reports %s as a private range where the gateway's single address would do", (_, entry, ranges) => {
    const findings = checkConfig([entry], CONTAINER);
    expect(codes(findings)).toEqual(["private-range"]);
    expect(findings[0]).toMatchObject({ severity: "warning", entry, index: 0 });
    expect(findings[0]!.message).toContain(`trusts the whole private range ${ranges}:`);
    expect(findings[0]!.message).toContain('trust the gateway\'s single address "172.18.0.1" instead');
  });

  it.each([
    ["172.0.0.0/8", "172.0.0.0/8 (172.0.0.0 is one)", ", and the whole private network 172.16.0.0/12."],
    ["128.0.0.0/1", "128.0.0.0/1 (128.0.0.0 is one)", ", and the whole private networks 172.16.0.0/12, 192.168.0.0/16."],
    ["172.16.0.0/11", "172.0.0.0/11 (172.0.0.0 is one)", ", and the whole private network 172.16.0.0/12."],
    ["172.15.0.0/16", "172.15.0.0/16 (172.15.0.0 is one)", undefined],
  ])("reports %s, which holds public addresses, naming one", (entry, holds, networks) => {
    const findings = checkConfig(["172.18.0.1", entry], CONTAINER);
    const found = only(findings, "public-range");
    expect(found).toMatchObject({ severity: "warning", entry, index: 1 });
    expect(found.message).toContain(`trustedProxies[1] "${entry}" trusts public address space: ${holds} holds addresses outside the private, loopback and link-local blocks`);
    if (networks === undefined) expect(found.message).not.toContain("whole private network");
    else expect(found.message).toContain(networks);
    expect(found.message).toContain('trust the gateway\'s single address "172.18.0.1" instead');
    // One finding about breadth per entry: the widest problem, not also private-range or link-local-range.
    expect(codes(findings).filter((code) => code !== "host-bits-set" && code !== "never-matches")).toEqual(["public-range"]);
  });

  it("counts addresses just outside a private block as public, and the block itself as private", () => {
    // 10.0.0.0/7 is 10/8 and 11/8; 192.168.0.0/15 reaches 192.169.0.0.
    expect(only(checkConfig(["10.0.0.0/7"], CONTAINER), "public-range").message).toContain("10.0.0.0/7 (11.0.0.0 is one)");
    expect(only(checkConfig(["192.168.0.0/15"], CONTAINER), "public-range").message).toContain("192.168.0.0/15 (192.169.0.0 is one)");
    expect(codes(checkConfig(["172.18.0.1", "192.168.0.0/16"], CONTAINER))).toEqual(["never-matches", "private-range"]);
  });

  it("reports IPv6 ranges beyond fc00::/7 as public, naming an IPv6 address", () => {
    expect(only(checkConfig(["172.18.0.1", "fd18::1", "fc00::/6"], CONTAINER_V6), "public-range").message).toContain("fc00::/6 (fe00:: is one)");
    expect(only(checkConfig(["172.18.0.1", "fd18::1", "2001:db8::/32"], CONTAINER_V6), "public-range").message).toContain("2001:db8::/32 (2001:db8:: is one)");
  });

  it("does not call a single public address public-range: a remote proxy's own address is not a range", () => {
    expect(codes(checkConfig(["172.18.0.1", "203.0.113.7"], CONTAINER))).toEqual(["never-matches", "trusted-not-this-machine"]);
  });

  it("leaves trust-everyone ranges to their error", () => {
    expect(codes(checkConfig(["172.18.0.1", "0.0.0.0/0"], CONTAINER))).toEqual(["trusts-everyone"]);
  });

  it.each([
    ["the linklocal preset", "linklocal", "169.254.0.0/16, fe80::/10"],
    ["fe80::/10", "fe80::/10", "fe80::/10"],
    ["the bridge's fe80::/64", "fe80::/64", "fe80::/64"],
    ["169.254.0.0/16", "169.254.0.0/16", "169.254.0.0/16"],
  ])("reports %s in a container: every container on the bridge has a link-local address", (_, entry, ranges) => {
    const findings = checkConfig(["172.18.0.1", "fd18::1", entry], CONTAINER_V6);
    const found = only(findings, "link-local-range");
    expect(found).toMatchObject({ severity: "warning", entry, index: 2 });
    expect(found.message).toContain(`trusts link-local addresses (${ranges}): every container on the same bridge`);
    expect(codes(findings).filter((code) => code !== "never-matches")).toEqual(["link-local-range"]);
  });

  it("does not report a single link-local address as a range", () => {
    // Another machine's link-local address is not this machine, but not a range either; this machine's own is fine.
    expect(codes(checkConfig(["172.18.0.1", "fd18::1", "fe80::1"], CONTAINER_V6))).toEqual(["trusted-not-this-machine"]);
    expect(codes(checkConfig(["172.18.0.1", "fd18::1", "fe80::42:acff:fe12:2"], CONTAINER_V6))).toEqual([]);
  });

  it("reports a ULA subnet on an IPv6 bridge, naming the IPv6 gateway", () => {
    const found = only(checkConfig(["172.18.0.1", "fd18::/64"], CONTAINER_V6), "private-range");
    expect(found.message).toContain('"fd18::1"');
  });

  it("reports entries that can never match, and the missing gateway", () => {
    // A remote reverse proxy and another Docker network: neither can be this container's peer.
    const findings = checkConfig(gateway(["203.0.113.7", "10.0.0.0/8", "fd18::1"]), CONTAINER);
    // 10.0.0.0/8 matches nothing here today, and would trust a whole private network where it does.
    expect(codes(findings)).toEqual([
      "never-matches",
      "trusted-not-this-machine",
      "never-matches",
      "private-range",
      "never-matches",
      "trusted-not-this-machine",
      "gateway-not-trusted",
    ]);
    expect(findings[3]).toMatchObject({ entry: "10.0.0.0/8", index: 1 });
    expect(findings[0]!.message).toContain('trustedProxies[0] "203.0.113.7" can never match');
    expect(findings[0]!.message).toContain("it sees 172.18.0.0/16, default gateway 172.18.0.1, loopback");
    expect(findings[0]!.message).toContain("arrives from the gateway's address");
    expect(findings.slice(0, 6).every((finding) => finding.severity === "warning")).toBe(true);
  });

  it("does not call loopback, link-local or the connected network never-matching", () => {
    // fe80::1 is another machine on the link: matchable, and not this machine.
    expect(checkConfig(["172.18.0.1", "loopback", "127.0.0.1", "::1", "fe80::1"], CONTAINER_V6)).toEqual([
      expect.objectContaining({ code: "trusted-not-this-machine", entry: "fe80::1", index: 4 }),
    ]);
    expect(codes(checkConfig(["172.18.0.1", "linklocal"], CONTAINER_V6))).not.toContain("never-matches");
  });

  it("reports a list that does not trust the default gateway in a container as an error", () => {
    const inContainer = only(checkConfig(gateway(["loopback"]), CONTAINER), "gateway-not-trusted");
    expect(inContainer.severity).toBe("error");
    expect(inContainer.message).toContain('add "172.18.0.1"');
    expect(inContainer.message).toContain("1008 pairing required");
  });

  it("on a host, asks for no gateway and warns when the list trusts the router", () => {
    const host: Facts = { ...HOST, gateways: parseRoute(HOST_ROUTE, true) };
    expect(checkConfig([], host)).toEqual([]);
    expect(checkConfig(["loopback"], host)).toEqual([]);
    const found = only(checkConfig(["192.168.0.1"], host), "default-gateway-on-host");
    expect(found.severity).toBe("warning");
    expect(found.message).toContain('trusts the default gateway "192.168.0.1", and there is no container evidence');
    // Either default route counts, and a range that holds it trusts it as much as its address does.
    const both = checkConfig(["192.168.0.0/23"], host);
    expect(codes(both)).toEqual(["private-range", "default-gateway-on-host"]);
    expect(both[0]!.message).toContain("trust the single address of a proxy on this machine in front of the gateway instead");
    expect(both[1]!.message).toContain('"192.168.1.1" and "192.168.0.1"');
  });

  it("does not ask for a gateway when there is none", () => {
    expect(checkConfig([], { ...CONTAINER, gateways: [] })).toEqual([]);
  });

  describe("trusted-not-this-machine: a trusted proxy with nothing behind it is local, so it must be this machine", () => {
    /** The indexes of the entries reported as not this machine. */
    const notThisMachine = (findings: readonly Finding[]) => findings.filter(({ code }) => code === "trusted-not-this-machine").map(({ index }) => index);

    it("warns of another machine's address: a proxy container on the bridge, in a container", () => {
      const findings = checkConfig(["172.18.0.1", "172.18.0.5"], CONTAINER);
      expect(codes(findings)).toEqual(["trusted-not-this-machine"]);
      const [found] = findings;
      expect(found).toMatchObject({ severity: "warning", entry: "172.18.0.5", index: 1 });
      expect(found!.message).toContain(
        'trustedProxies[1] "172.18.0.5" is not this machine: neither loopback, nor an address of this machine\'s interfaces, nor the container\'s default gateway "172.18.0.1" (the host).',
      );
      expect(found!.message).toContain("every process on that machine would pass for a local user here");
      expect(found!.message).toContain("Trust only proxies on this machine, or on one whose every process you would let in as a local user.");
    });

    it("warns of a reverse proxy on another machine of the LAN, on a host, without calling the router this machine", () => {
      const host: Facts = { ...HOST, gateways: parseRoute(HOST_ROUTE, true) };
      const found = only(checkConfig(["192.168.0.50"], host), "trusted-not-this-machine");
      expect(found.message).toContain('"192.168.0.50" is not this machine: neither loopback, nor an address of this machine\'s interfaces. A trusted');
      expect(found.message).not.toContain("gateway");
    });

    it("does not warn of this machine's own addresses, however written", () => {
      expect(notThisMachine(checkConfig(["172.18.0.1", "172.18.0.2", "::ffff:172.18.0.2", "172.18.0.5"], CONTAINER))).toEqual([3]);
      const v6 = ["172.18.0.1", "fd18::2", "FD18:0:0::2", "fe80::42:acff:fe12:2", "fd18::5"];
      expect(notThisMachine(checkConfig(v6, CONTAINER_V6))).toEqual([4]);
      expect(notThisMachine(checkConfig(["192.168.1.20", "192.168.0.20/32", "192.168.0.50"], HOST))).toEqual([2]);
    });

    it("does not warn of the container's default gateway, the host, in any of its forms", () => {
      const list = ["172.18.0.1", "::ffff:172.18.0.1", "fd18::1", "fd18:0::1/128", "fd18::5"];
      expect(checkConfig(list, CONTAINER_V6)).toEqual([expect.objectContaining({ code: "trusted-not-this-machine", index: 4 })]);
      // Under rootlessport slirp4netns's gateway is on the host too (its peer with port_handler=slirp4netns).
      expect(notThisMachine(checkConfig(["10.0.2.100", "10.0.2.2", "10.0.2.3"], PODMAN_ROOTLESS_SLIRP))).toEqual([2]);
    });

    it("does not warn of loopback: a proxy's loopback clients are this machine's", () => {
      const list = ["172.18.0.1", "loopback", "127.0.0.1", "127.0.0.0/8", "::1", "::ffff:127.0.0.2", "172.18.0.5"];
      expect(notThisMachine(checkConfig(list, CONTAINER_V6))).toEqual([6]);
    });

    it("leaves a range holding this machine's address to its breadth finding, which says every machine there passes for local", () => {
      const list = ["172.18.0.1", "172.18.0.0/31", "uniquelocal", "linklocal", "fd18::/64", "172.18.0.5"];
      const findings = checkConfig(list, CONTAINER_V6);
      expect(notThisMachine(findings)).toEqual([5]);
      expect(codes(findings)).toEqual(["private-range", "private-range", "link-local-range", "private-range", "trusted-not-this-machine"]);
      expect(findings[0]!.message).toContain("every machine and container there would pass for local");
    });

    it("leaves the router on a host to default-gateway-on-host: one finding for it, not two", () => {
      const host: Facts = { ...HOST, gateways: parseRoute(HOST_ROUTE, true) };
      const findings = checkConfig(["192.168.0.1", "192.168.0.50"], host);
      expect(codes(findings)).toEqual(["trusted-not-this-machine", "default-gateway-on-host"]);
      expect(findings[0]!.index).toBe(1);
    });
  });
});

// ---- Podman -----------------------------------------------------------------------------------------
// Facts as doctor read them inside real Podman 4.3.1 containers (scripts/record-podman.ts's setups): the route
// tables and uid maps are copied from those containers, the kernel's padding included.

/** /proc/net/route in a rootful container on a netavark bridge 172.18.0.0/16 (netavark sets metric 100). */
const PODMAN_BRIDGE_ROUTE = containerRoute("eth0", "010012AC", "000012AC", "0000FFFF", "100");

/** /proc/net/route with slirp4netns: tap0 10.0.2.100/24, default route via 10.0.2.2. */
const SLIRP_ROUTE = containerRoute("tap0", "0202000A", "0002000A", "00FFFFFF");

/** /proc/net/route in a rootless container on a netavark bridge 10.89.0.0/24 (in rootless Podman's own namespace). */
const ROOTLESS_BRIDGE_ROUTE = containerRoute("eth0", "0100590A", "0000590A", "00FFFFFF", "100");

const IDENTITY_MAP = "         0          0 4294967295\n";
/** Rootless Podman as uid 995 with subordinate ids 3000000000-3000065535. */
const ROOTLESS_MAP = "         0        995          1\n         1 3000000000      65536\n";

const PODMAN_PROBE = {
  dockerenv: false,
  containerenv: true,
  containerenvText: "", // what Podman writes for a container that is not --privileged
  cgroup: null,
  environ: "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\0container=podman\0HOME=/root\0",
};

const TAP0 = {
  name: "tap0",
  addresses: [
    { family: 4, address: "10.0.2.100", cidr: "10.0.2.100/24" },
    { family: 6, address: "fd00::e4a7:32ff:fe0d:274b", cidr: "fd00::e4a7:32ff:fe0d:274b/64" },
    { family: 6, address: "fe80::e4a7:32ff:fe0d:274b", cidr: "fe80::e4a7:32ff:fe0d:274b/64" },
  ],
} as const;

const PODMAN_ROOTFUL: Facts = {
  container: detectContainer({ ...PODMAN_PROBE, uidMap: IDENTITY_MAP, cgroup: "4:memory:/ca-pm-1/libpod-232f807a\n0::/ca-pm-1/libpod-232f807a\n" }),
  interfaces: [LO, { name: "eth0", addresses: [{ family: 4, address: "172.18.0.2", cidr: "172.18.0.2/16" }] }],
  gateways: parseRoute(PODMAN_BRIDGE_ROUTE, true),
};

const PODMAN_ROOTLESS_SLIRP: Facts = {
  container: detectContainer({ ...PODMAN_PROBE, uidMap: ROOTLESS_MAP }),
  interfaces: [LO, TAP0],
  gateways: parseRoute(SLIRP_ROUTE, true),
};

const PODMAN_ROOTFUL_SLIRP: Facts = { ...PODMAN_ROOTLESS_SLIRP, container: detectContainer({ ...PODMAN_PROBE, uidMap: IDENTITY_MAP }) };

const PODMAN_ROOTLESS_BRIDGE: Facts = {
  container: detectContainer({ ...PODMAN_PROBE, uidMap: ROOTLESS_MAP }),
  interfaces: [LO, { name: "eth0", addresses: [{ family: 4, address: "10.89.0.3", cidr: "10.89.0.3/24" }] }],
  gateways: parseRoute(ROOTLESS_BRIDGE_ROUTE, true),
};

describe("Podman", () => {
  describe("detectContainer", () => {
    it("reads rootful from a uid map that is the identity", () => {
      expect(PODMAN_ROOTFUL.container).toEqual({
        detected: true,
        evidence: [
          "/run/.containerenv exists (Podman)",
          "/proc/1/cgroup: 4:memory:/ca-pm-1/libpod-232f807a",
          "/proc/1/environ: container=podman",
          "/proc/self/uid_map: uid 0 is the host's uid 0 (rootful Podman)",
        ],
        podman: { rootless: false },
      });
    });

    it("reads rootless from uid 0 mapped alone to an unprivileged uid", () => {
      expect(PODMAN_ROOTLESS_SLIRP.container.podman).toEqual({ rootless: true });
      expect(PODMAN_ROOTLESS_SLIRP.container.evidence).toContain(
        "/proc/self/uid_map: uid 0 is the unprivileged uid 995 alone, as rootless Podman maps its user (rootless Podman)",
      );
    });

    it("believes rootless= in /run/.containerenv (a --privileged container's) before the uid map", () => {
      const privileged = 'engine="podman-4.3.1"\nname="great_buck"\nid="564ec2c9"\nimage="localhost/ca-gw:latest"\nimageid="d6ec8ad4"\nrootless=1\n';
      const found = detectContainer({ ...PODMAN_PROBE, containerenvText: privileged, uidMap: IDENTITY_MAP });
      expect(found.podman).toEqual({ rootless: true });
      expect(found.evidence).toContain("/run/.containerenv: rootless=1 (rootless Podman)");
      expect(detectContainer({ ...PODMAN_PROBE, containerenvText: "rootless=0\n", uidMap: ROOTLESS_MAP }).podman).toEqual({ rootless: false });
    });

    it("cannot tell from a user namespace of many ids, or with no uid map", () => {
      const userns = detectContainer({ ...PODMAN_PROBE, uidMap: "0 200000 65536\n" });
      expect(userns.podman).toEqual({ rootless: null });
      expect(userns.evidence.at(-1)).toBe("/proc/self/uid_map: uid 0 is uid 200000 of a range of 65536 (a user namespace; rootful or rootless cannot be told)");
      const unread = detectContainer({ ...PODMAN_PROBE, uidMap: null });
      expect(unread).toEqual({ detected: true, evidence: ["/run/.containerenv exists (Podman)", "/proc/1/environ: container=podman"], podman: { rootless: null } });
    });

    it("recognises Podman by container=podman or a libpod cgroup alone, and never Docker", () => {
      const none = { dockerenv: false, containerenv: false, cgroup: null, environ: null, uidMap: ROOTLESS_MAP };
      expect(detectContainer({ ...none, environ: "container=podman\0" }).podman).toEqual({ rootless: true });
      expect(detectContainer({ ...none, cgroup: "0::/machine.slice/libpod-3f1c.scope\n" }).podman).toEqual({ rootless: true });
      expect(detectContainer({ ...none, dockerenv: true }).podman).toBeUndefined();
      expect(detectContainer({ ...none, environ: "container=docker\0" }).podman).toBeUndefined();
    });
  });

  describe("diagnose", () => {
    it('rootful on a bridge network: the bridge gateway "172.18.0.1", as with Docker', () => {
      const { recommendation, warnings } = diagnose(PODMAN_ROOTFUL);
      expect(recommendation.trustedProxies).toEqual(["172.18.0.1"]);
      expect(codes(warnings)).toEqual(["publish-on-loopback", "trust-single-address"]);
      expect(only(warnings, "publish-on-loopback").message).toContain("may go through Podman's NAT just as the host's browser does and arrive from 172.18.0.1 (not checked here with a LAN client)");
      expect(only(warnings, "trust-single-address").message).toContain('"172.18.0.1", not its network 172.18.0.0/16');
    });

    it('rootless with slirp4netns: the container\'s own "10.0.2.100", never the default gateway 10.0.2.2', () => {
      const { recommendation, warnings } = diagnose(PODMAN_ROOTLESS_SLIRP);
      expect(recommendation.trustedProxies).toEqual(["10.0.2.100"]);
      expect(recommendation.trustedProxies).not.toContain("10.0.2.2");
      expect(codes(warnings)).toEqual(["rootlessport-peer", "publish-on-loopback", "trust-single-address"]);
      const { severity, message } = only(warnings, "rootlessport-peer");
      expect(severity).toBe("warning");
      expect(message).toContain("This is rootless Podman, which publishes ports with rootlessport");
      expect(message).toContain('arrives from "10.0.2.100", not from the default gateway 10.0.2.2');
      expect(message).toContain('With --network slirp4netns:port_handler=slirp4netns, slirp4netns forwards the port itself and the peer is its gateway "10.0.2.2" instead');
      expect(message).toContain("With pasta (Podman 4.4 and later, rootless default from Podman 5) this was not verified");
      expect(only(warnings, "publish-on-loopback").message).toContain("goes through rootlessport just as the host's browser does, so it too arrives from 10.0.2.100");
      expect(only(warnings, "trust-single-address").message).toContain('Trust the single address "10.0.2.100", not its network 10.0.2.0/24');
    });

    it("rootful on a slirp4netns network: rootlessport too, so the container's own address", () => {
      const { recommendation, warnings } = diagnose(PODMAN_ROOTFUL_SLIRP);
      expect(recommendation.trustedProxies).toEqual(["10.0.2.100"]);
      expect(only(warnings, "rootlessport-peer").message).toContain("This is Podman on a slirp4netns network");
    });

    it("rootless on a bridge network: the container's own address, not the bridge gateway, and no slirp4netns port handler", () => {
      const { recommendation, warnings } = diagnose(PODMAN_ROOTLESS_BRIDGE);
      expect(recommendation.trustedProxies).toEqual(["10.89.0.3"]);
      const { message } = only(warnings, "rootlessport-peer");
      expect(message).toContain('arrives from "10.89.0.3", not from the default gateway 10.89.0.1');
      expect(message).not.toContain("port_handler");
    });

    it("a slirp4netns-shaped network only counts with Podman evidence: Docker keeps the default gateway", () => {
      const docker: Facts = { ...PODMAN_ROOTLESS_SLIRP, container: { detected: true, evidence: ["/.dockerenv exists (Docker)"] } };
      expect(diagnose(docker).recommendation.trustedProxies).toEqual(["10.0.2.2"]);
      expect(codes(diagnose(docker).warnings)).not.toContain("rootlessport-peer");
    });

    it("is not fooled by a tap interface outside slirp4netns's .100/.2 layout", () => {
      const tap: Facts = {
        ...PODMAN_ROOTFUL_SLIRP,
        interfaces: [LO, { name: "tap0", addresses: [{ family: 4, address: "10.0.2.15", cidr: "10.0.2.15/24" }] }],
      };
      expect(diagnose(tap).recommendation.trustedProxies).toEqual(["10.0.2.2"]);
    });

    it("says so when rootful or rootless cannot be told, and assumes a rootful bridge", () => {
      const unknown: Facts = { ...PODMAN_ROOTFUL, container: detectContainer({ ...PODMAN_PROBE, uidMap: "0 200000 65536\n" }) };
      const { recommendation, warnings } = diagnose(unknown);
      expect(recommendation.trustedProxies).toEqual(["172.18.0.1"]);
      expect(only(warnings, "rootless-unknown")).toMatchObject({ severity: "info" });
      expect(only(warnings, "rootless-unknown").message).toContain("rootlessport connects from the container's own address");
    });

    it("recommends nothing under rootlessport when the default route's interface has no address in the gateway's network", () => {
      const odd: Facts = { ...PODMAN_ROOTLESS_SLIRP, interfaces: [LO] };
      const { recommendation, warnings } = diagnose(odd);
      expect(recommendation.trustedProxies).toEqual([]);
      expect(only(warnings, "rootlessport-peer").message).toContain("No IPv4 address was found on the default route's interface");
    });
  });

  describe("checkConfig", () => {
    it("finds nothing wrong with the address rootlessport connects from", () => {
      expect(checkConfig(["10.0.2.100"], PODMAN_ROOTLESS_SLIRP)).toEqual([]);
      expect(checkConfig(["10.89.0.3"], PODMAN_ROOTLESS_BRIDGE)).toEqual([]);
    });

    it("reports an empty list under rootlessport as the bug: 1008 pairing required", () => {
      const found = only(checkConfig({ gateway: { trustedProxies: [] } }, PODMAN_ROOTLESS_SLIRP), "peer-not-trusted");
      expect(found.severity).toBe("error");
      expect(found.message).toContain('does not trust "10.0.2.100", the container\'s own address, which Podman\'s rootlessport connects from');
      expect(found.message).toContain("1008 pairing required");
      expect(found.message).not.toContain("port_handler");
    });

    it("reports trusting the default gateway under rootlessport, as a warning: it is right only with port_handler=slirp4netns", () => {
      const findings = checkConfig(["10.0.2.2"], PODMAN_ROOTLESS_SLIRP);
      expect(codes(findings)).toEqual(["peer-not-trusted"]);
      expect(findings[0]!.severity).toBe("warning");
      expect(findings[0]!.message).toContain('add "10.0.2.100"');
      expect(findings[0]!.message).toContain('trusts slirp4netns\'s gateway "10.0.2.2", which is the peer only with --network slirp4netns:port_handler=slirp4netns');
      // On a rootless bridge the gateway is never the peer: an error.
      expect(only(checkConfig(["10.89.0.1"], PODMAN_ROOTLESS_BRIDGE), "peer-not-trusted").severity).toBe("error");
    });

    it("reports the whole slirp4netns network as a private range, naming the container's own address", () => {
      const findings = checkConfig(["10.0.2.0/24"], PODMAN_ROOTLESS_SLIRP);
      expect(codes(findings)).toEqual(["private-range"]);
      expect(findings[0]!.message).toContain('trust the single address "10.0.2.100" (the container\'s own, which rootlessport connects from) instead');
    });

    it("under rootful Podman on a bridge, asks for the bridge gateway through Podman's NAT", () => {
      expect(checkConfig(["172.18.0.1"], PODMAN_ROOTFUL)).toEqual([]);
      const found = only(checkConfig([], PODMAN_ROOTFUL), "gateway-not-trusted");
      expect(found.severity).toBe("error");
      expect(found.message).toContain("arrives from 172.18.0.1 through Podman's NAT");
    });
  });

  it("prints the rootless recommendation for a person", async () => {
    const print = async (facts: Facts) => {
      const out: string[] = [];
      const code = await run(["doctor"], { out: (text) => out.push(text), err: (text) => out.push(text) }, { readFacts: async () => facts });
      return { code, text: out.join("\n") };
    };
    const { code, text } = await print(PODMAN_ROOTLESS_SLIRP);
    expect(code).toBe(0);
    expect(text).toContain("  - /proc/self/uid_map: uid 0 is the unprivileged uid 995 alone");
    expect(text).toContain("  IPv4  10.0.2.2 via tap0 (metric 0)");
    expect(text).toMatch(/^Use this\n {2}"trustedProxies": \["10\.0\.2\.100"\]$/m);
    const odd = await print({ ...PODMAN_ROOTLESS_SLIRP, interfaces: [LO] });
    expect(odd.text).toMatch(/^Use this\n {2}\(nothing: no address on the default route's interface; see Warnings\)$/m);
  });
});

describe("clientaddr doctor", () => {
  const scratch = useScratchFolder("clientaddr-doctor-");

  async function doctor(facts: Facts, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(["doctor", ...argv], { out: (text) => out.push(text), err: (text) => err.push(text) }, { readFacts: async () => facts });
    return { code, out: out.join("\n"), err: err.join("\n") };
  }

  it("prints the facts, the recommendation and the config's findings as JSON, exit 0 for a clean config", async () => {
    const file = await scratch.write("config.json", { gateway: { trustedProxies: ["172.18.0.1"] } });
    const { code, out, err } = await doctor(CONTAINER, "--json", "--config", file);
    expect(err).toBe("");
    expect(code).toBe(0);
    const report = JSON.parse(out) as DoctorReport;
    expect(report.recommendation.trustedProxies).toEqual(["172.18.0.1"]);
    expect(report.facts).toEqual(CONTAINER);
    expect(codes(report.warnings)).toEqual(["publish-on-loopback", "trust-single-address"]);
    expect(report.config).toEqual({ file, findings: [] });
  });

  it("has config null without --config", async () => {
    const { code, out } = await doctor(CONTAINER, "--json");
    expect(code).toBe(0);
    expect(JSON.parse(out).config).toBeNull();
  });

  it("exits 1 when the config check finds an error, 0 when it finds only warnings", async () => {
    const bad = await scratch.write("bad.json", { trustedProxies: ["0.0.0.0/0"] });
    const result = await doctor(CONTAINER, "--json", "--config", bad);
    expect(result.code).toBe(1);
    expect(codes(JSON.parse(result.out).config.findings)).toEqual(["trusts-everyone"]);

    const wide = await scratch.write("wide.json", ["172.18.0.0/16"]);
    expect((await doctor(CONTAINER, "--config", wide)).code).toBe(0);
  });

  it("prints every section for a person", async () => {
    const file = await scratch.write("wide.json", { gateway: { trustedProxies: ["172.18.0.0/16"] } });
    const { code, out } = await doctor(CONTAINER_V6, "--config", file);
    expect(code).toBe(0);
    const sections = out.split("\n").filter((line) => /^\S/.test(line));
    expect(sections).toEqual(["Container", "Interfaces", "Default gateway", "Use this", "Warnings", `Config check (${file})`]);
    expect(out).toContain("  - /.dockerenv exists (Docker)");
    expect(out).toMatch(/^ +eth0 +172\.18\.0\.2\/16, fd18::2\/64, fe80::42:acff:fe12:2\/64$/m);
    expect(out).toContain("  IPv4  172.18.0.1 via eth0 (metric 0)");
    expect(out).toContain("  IPv6  fd18::1 via eth0 (metric 1024)");
    expect(out).toContain('  "trustedProxies": ["172.18.0.1", "fd18::1"]');
    expect(out).toMatch(/^ +warning +\[publish-on-loopback\] /m);
    expect(out).toMatch(/^ +warning +\[private-range\] trustedProxies\[0\] "172\.18\.0\.0\/16"/m);
  });

  it("prints a trusted entry that is not this machine as one warning line under Config check", async () => {
    const file = await scratch.write("remote.json", ["172.18.0.1", "172.18.0.5"]);
    const { code, out } = await doctor(CONTAINER, "--config", file);
    expect(code).toBe(0);
    expect(out).toMatch(/^Config check \(.*\)\n +warning +\[trusted-not-this-machine\] trustedProxies\[1\] "172\.18\.0\.5" is not this machine: [^\n]+ you would let in as a local user\.$/m);
  });

  it("recommends nothing on a host, and says why", async () => {
    const { code, out } = await doctor({ ...HOST, gateways: parseRoute(HOST_ROUTE, true) });
    expect(code).toBe(0);
    expect(out).toMatch(/^Use this\n {2}\(nothing: no container evidence; a gateway running directly on a host needs no trustedProxies\)$/m);
    expect(out).toContain("  IPv4  192.168.0.1 via eth0 (metric 100)");
    expect(out).not.toContain('"trustedProxies": [');
    expect((await doctor({ ...CONTAINER, gateways: [] })).out).toMatch(/^Use this\n {2}\(nothing: no default gateway\)$/m);
  });

  it("exits 1 for trustedProxies: null", async () => {
    const file = await scratch.write("null.json", { gateway: { trustedProxies: null } });
    const { code, out } = await doctor(CONTAINER, "--config", file);
    expect(code).toBe(1);
    expect(out).toMatch(/^ +error +\[invalid-entry\] trustedProxies must be an array of strings, got null$/m);
  });

  it("says when nothing is wrong and when no config was given", async () => {
    const file = await scratch.write("ok.json", ["172.18.0.1"]);
    expect((await doctor(CONTAINER, "--config", file)).out).toMatch(/^Config check \(.*\)\n +no problems found$/m);
    expect((await doctor(CONTAINER)).out).toMatch(/^Config check\n +\(no list given: --config FILE, --trusted LIST or --trusted-env NAME\)$/m);
  });

  it("exits 2 for a config file that is missing or not JSON, naming it, before reading the machine", async () => {
    const missing = `${scratch.dir}/missing.json`;
    const notJson = await scratch.write("broken.json", "{ trustedProxies: [");
    for (const file of [missing, notJson]) {
      const out: string[] = [];
      const err: string[] = [];
      const readFacts = async (): Promise<Facts> => expect.fail("the machine was read");
      const code = await run(["doctor", "--config", file], { out: (t) => out.push(t), err: (t) => err.push(t) }, { readFacts });
      expect(code).toBe(2);
      expect(out).toEqual([]);
      expect(err.join("\n")).toMatch(new RegExp(`^clientaddr: (cannot read config|config) ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
      expect(err.join("\n")).not.toContain("Usage:");
    }
  });

  it("reads this machine's /proc when run as the binary", { timeout: 30_000 }, async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", "src/cli/bin.ts", "doctor", "--json"], { cwd: ROOT, timeout: 25_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }),
      );
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as DoctorReport;
    // Only the shape: what this machine has is not the test's business.
    expect(typeof report.facts.container.detected).toBe("boolean");
    expect(report.facts.interfaces.length).toBeGreaterThan(0);
    for (const { name, addresses } of report.facts.interfaces) {
      expect(typeof name).toBe("string");
      for (const address of addresses) expect(address.cidr).toMatch(/\/\d+$/);
    }
    for (const gateway of report.facts.gateways) expect(gateway).toEqual({ family: expect.any(Number), address: expect.any(String), interface: expect.any(String), metric: expect.any(Number) });
    expect(Array.isArray(report.recommendation.trustedProxies)).toBe(true);
    expect(report.config).toBeNull();
  });
});
