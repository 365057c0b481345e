import { execFile, spawn } from "node:child_process";
import { readFile, symlink } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { COMMAND_HELP, type Deps, USAGE, run } from "../src/cli/cli.js";
import type { DoctorReport, Facts } from "../src/cli/doctor/index.js";
import { resolveClientAddress } from "../src/core/index.js";
import { useScratchFolder } from "./support/scratch.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** A Docker container on a bridge: 172.18.0.2/16, its default gateway 172.18.0.1. */
const CONTAINER: Facts = {
  container: { detected: true, evidence: ["/.dockerenv exists (Docker)"] },
  interfaces: [{ name: "eth0", addresses: [{ family: 4, address: "172.18.0.2", cidr: "172.18.0.2/16" }] }],
  gateways: [{ family: 4, address: "172.18.0.1", interface: "eth0", metric: 0 }],
};

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return cliWith({ readFacts: async () => CONTAINER }, ...argv);
}

async function cliWith(deps: Deps, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (text) => out.push(text), err: (text) => err.push(text) }, deps);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** The Docker bridge case, with an expected answer that can be overridden to make it mismatch. */
function dockerCase(name: string, expected: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    description: "A client on the host reaches a published port through the bridge gateway.",
    provenance: { kind: "hand-written", source: "test suite", why: "a test" },
    request: {
      peer: { address: "172.18.0.1", port: 40000 },
      local: { address: "172.18.0.2", port: 18789 },
      method: "GET",
      url: "/",
      rawHeaders: ["Host", "127.0.0.1:18789", "X-Forwarded-For", "203.0.113.9"],
    },
    options: { trustedProxies: ["172.18.0.1"], header: "x-real-ip" },
    expected: { address: "172.18.0.1", loopbackEquivalent: false, basis: "socket:unread-forwarding-header", ...expected },
  };
}

const scratch = useScratchFolder("clientaddr-cli-");
const write = scratch.write;

function lastLine(text: string): string {
  return text.trimEnd().split("\n").at(-1)!;
}

describe("replay", () => {
  it("prints a row per case and the summary, exit 0 when every case matches", async () => {
    const file = await write("ok.json", dockerCase("docker-ok"));
    const { code, out, err } = await cli("replay", file);
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(out).toMatch(/^OK +docker-ok/m);
    expect(out).not.toContain("MISMATCH");
    // The row shows the peer, the trust list, the believed header and the answer.
    expect(out).toContain("172.18.0.1");
    expect(out).toContain("x-real-ip (absent)");
    expect(out).toContain("socket:unread-forwarding-header");
    expect(out).toMatch(/local no/);
    expect(lastLine(out)).toBe("1 passed, 0 failed");
  });

  it("shows what a load balancer declared (the PROXY protocol) beside the peer, and nothing for a case without", async () => {
    const fixtures = fileURLToPath(new URL("../fixtures/recorded/proxy-protocol/", import.meta.url));
    const { code, out } = await cli("replay", path.join(fixtures, "haproxy-tcp-v2-public-client-script-untrusted.json"), path.join(fixtures, "haproxy-tcp-v2-health-check-untrusted.json"));
    expect(code).toBe(0);
    expect(out).toContain("peer 127.0.0.1 declared 203.0.113.7 (PROXY protocol)  trusted (none)");
    expect(out).toContain("basis proxy-protocol:remote-client");
    expect(out).toMatch(/peer 127\.0\.0\.1  trusted \(none\)/);
  });

  it("marks a case whose answer differs, lists what differs, and exits 1", async () => {
    await write("1.json", dockerCase("docker-ok"));
    await write("2.json", dockerCase("docker-wrong", { loopbackEquivalent: true, basis: "socket:trusted-path" }));
    const { code, out } = await cli("replay", scratch.dir);
    expect(code).toBe(1);
    expect(out).toMatch(/^OK +docker-ok/m);
    expect(out).toMatch(/^MISMATCH +docker-wrong/m);
    expect(out).toContain("loopbackEquivalent: expected true, got false");
    expect(out).toContain('basis: expected "socket:trusted-path", got "socket:unread-forwarding-header"');
    expect(out).not.toContain("address: expected");
    expect(lastLine(out)).toBe("1 passed, 1 failed");
  });

  it("replays every fixture below a folder, in path order", async () => {
    await write("b/deep/er/second.json", dockerCase("second"));
    await write("a/first.json", dockerCase("first"));
    await write("c.json", dockerCase("third"));
    const { code, out } = await cli("replay", scratch.dir);
    expect(code).toBe(0);
    const names = [...out.matchAll(/^OK +(\S+)/gm)].map((match) => match[1]);
    expect(names).toEqual(["first", "second", "third"]);
    expect(lastLine(out)).toBe("3 passed, 0 failed");
  });

  it("exits 2 naming the file and the field of an invalid fixture, before replaying anything", async () => {
    await write("a-good.json", dockerCase("good"));
    const bad = await write("b-bad.json", { ...dockerCase("bad"), expected: { address: "1.2.3.4", basis: "socket:loopback" } });
    const { code, out, err } = await cli("replay", scratch.dir);
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toContain(bad);
    expect(err).toContain("expected.loopbackEquivalent");
    expect(err).not.toContain("    at "); // no stack trace
  });

  it("replays fixtures behind symbolic links, and exits 2 naming a link that leads nowhere", async () => {
    const shared = await write("shared/case.json", dockerCase("shared-case"));
    await write("fixtures/own.json", dockerCase("own-case"));
    const fixtures = path.join(scratch.dir, "fixtures");
    await symlink(shared, path.join(fixtures, "linked.json"));
    const { code, out } = await cli("replay", fixtures);
    expect(code).toBe(0);
    expect([...out.matchAll(/^OK +(\S+)/gm)].map((match) => match[1])).toEqual(["shared-case", "own-case"]);

    const dangling = path.join(fixtures, "dangling.json");
    await symlink(path.join(scratch.dir, "missing.json"), dangling);
    const broken = await cli("replay", fixtures);
    expect(broken.code).toBe(2);
    expect(broken.out).toBe("");
    expect(broken.err.startsWith(`clientaddr: ${dangling}: is a symbolic link that cannot be followed (ENOENT`)).toBe(true);
  });

  it("exits 2 naming a path that does not exist", async () => {
    const missing = path.join(scratch.dir, "missing.json");
    const { code, err } = await cli("replay", missing);
    expect(code).toBe(2);
    expect(err).toContain(missing);
  });
});

describe("explain", () => {
  it("--preset stands for its front: the entries it trusts, the header it believes, what it attributed and what it claims", async () => {
    const tunnel = await cli("explain", "--preset", "cloudflared", "--peer", "127.0.0.1", "-H", "Host: gw.example.com", "-H", "CF-Connecting-IP: 203.0.113.7", "-H", "X-Forwarded-For: 203.0.113.7");
    expect(tunnel.code).toBe(0);
    expect(tunnel.out).toMatch(/^ +preset +cloudflared \(trusts loopback; believes cf-connecting-ip; also writes x-forwarded-for, true-client-ip\)$/m);
    expect(tunnel.out).toMatch(/^ +trusted +loopback \(the preset's\)$/m);
    expect(tunnel.out).toMatch(/^ +believes +cf-connecting-ip \(the preset's\)$/m);
    expect(tunnel.out).toMatch(/^ +basis +cf-connecting-ip:remote-client$/m);
    expect(tunnel.out).toMatch(/^ +attribution +proxied, by preset cloudflared$/m);
    const serve = await cli("explain", "--preset", "Tailscale-Serve", "--trusted", "172.18.0.1", "--peer", "127.0.0.1", "-H", "Host: machine.tailnet.ts.net", "-H", "Tailscale-User-Login: alice@example.com", "-H", "X-Forwarded-For: 100.101.102.103", "--json");
    const { request, result } = JSON.parse(serve.out) as { request: { preset: string }; result: { claims: unknown; preset: string; loopbackEquivalent: boolean } };
    expect(request.preset).toBe("tailscale-serve");
    expect(result).toMatchObject({ preset: "tailscale-serve", loopbackEquivalent: false, claims: { "tailscale-user-login": "alice@example.com" } });
    const human = await cli("explain", "--preset", "tailscale-serve", "--peer", "127.0.0.1", "-H", "X-Forwarded-For: 100.64.0.1", "-H", "Tailscale-User-Login: alice@example.com");
    expect(human.out).toMatch(/^ +claims +tailscale-user-login: alice@example\.com \(not checked; never local\)$/m);
    const unknown = await cli("explain", "--preset", "apache");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/^clientaddr: --preset must be one of cloudflared, tailscale-serve, nginx, caddy, traefik, haproxy, got "apache"$/m);
  });

  it("shows a Docker bridge gateway in the trust list as local, every condition passing", async () => {
    const { code, out, err } = await cli("explain", "--peer", "172.18.0.1", "--trusted", "172.18.0.1", "-H", "Host: 127.0.0.1:18789");
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(out).toMatch(/^ +client +172\.18\.0\.1$/m);
    expect(out).toMatch(/^ +local +yes$/m);
    expect(out).toMatch(/^ +basis +socket:trusted-path$/m);
    expect(out).toMatch(/^ +1\. socket +172\.18\.0\.1 +trusted +<- client$/m);
    for (const letter of ["a", "b", "c", "d"]) expect(out).toMatch(new RegExp(`^ +${letter}\\. PASS `, "m"));
    expect(out).not.toContain("Trusted proxies list");
  });

  it("shows the refusal of an untrusted gateway: condition a fails and the diagnostic names the address to trust", async () => {
    const { code, out } = await cli("explain", "--peer", "172.18.0.1", "-H", "Host: 127.0.0.1:18789");
    expect(code).toBe(0); // explain succeeds whatever the verdict
    expect(out).toMatch(/^ +local +no$/m);
    expect(out).toMatch(/^ +basis +socket:remote-client$/m);
    expect(out).toMatch(/^ +1\. socket +172\.18\.0\.1 +untrusted +<- client$/m);
    expect(out).toMatch(/^ +a\. FAIL /m);
    for (const letter of ["b", "c", "d"]) expect(out).toMatch(new RegExp(`^ +${letter}\\. PASS `, "m"));
    expect(out).toMatch(/^ +\[client-not-loopback\] .*add "172\.18\.0\.1" to trustedProxies/m);
  });

  it.each([
    ["a foreign Host", ["-H", "Host: evil.example"], "PASS PASS FAIL PASS", "[host-not-local]"],
    ["a foreign Origin", ["-H", "Host: localhost", "-H", "Origin: https://evil.example"], "PASS PASS PASS FAIL", "[origin-not-local]"],
    ["an unread forwarding header", ["-H", "Host: localhost", "-H", "Forwarded: for=203.0.113.7"], "PASS FAIL PASS PASS", "[untrusted-forwarding-header]"],
  ])("shows each condition as the resolver's checks say, for %s", async (_, headers, verdicts, code) => {
    const { out } = await cli("explain", "--peer", "127.0.0.1", ...headers);
    const shown = ["a", "b", "c", "d"].map((letter) => out.match(new RegExp(`^ +${letter}\\. (PASS|FAIL) `, "m"))?.[1]);
    expect(shown.join(" ")).toBe(verdicts);
    expect(out).toContain(code);
  });

  it("says so when the peer is missing", async () => {
    const { code, out } = await cli("explain", "-H", "Host: localhost");
    expect(code).toBe(0);
    expect(out).toMatch(/^ +peer +\(none/m);
    expect(out).toMatch(/^ +client +\(unknown\)$/m);
    expect(out).toMatch(/^ +local +no$/m);
    expect(out).toContain("[invalid-peer]");
  });

  it.each(["localhost", "[::1]", "127.1", "172.18.0.1:40000", ""])("--peer %j, not an IP address, is a usage error naming it", async (peer) => {
    const { code, out, err } = await cli("explain", "--peer", peer, "-H", "Host: localhost");
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err.split("\n")).toEqual([
      `clientaddr: --peer ${JSON.stringify(peer)} is not an IP address: give one such as 127.0.0.1 or ::1, or omit --peer for a socket without a peer`,
      'Try "clientaddr explain --help" for the usage.',
    ]);
  });

  it("prints the request, the whole result and the trust list's warnings as JSON", async () => {
    const args = ["--peer", "::ffff:127.0.0.1", "--trusted", "127.0.0.1, 10.0.0.1/8", "-H", "Host: localhost:80", "--max-hops", "5"];
    const { code, out } = await cli("explain", ...args, "--json");
    expect(code).toBe(0);
    const parsed = JSON.parse(out);
    expect(parsed.request).toEqual({
      peer: "::ffff:127.0.0.1",
      secure: false,
      rawHeaders: ["Host", "localhost:80"],
      trustedProxies: ["127.0.0.1", "10.0.0.1/8"],
      maxHops: 5,
      localHosts: [],
      localOrigins: [],
    });
    const direct = resolveClientAddress({
      remoteAddress: "::ffff:127.0.0.1",
      headers: ["Host", "localhost:80"],
      trustedProxies: ["127.0.0.1", "10.0.0.1/8"],
      maxHops: 5,
    });
    expect(parsed.result).toEqual(JSON.parse(JSON.stringify(direct)));
    expect(parsed.trustDiagnostics).toEqual([expect.objectContaining({ code: "host-bits-set", entry: "10.0.0.1/8", index: 1 })]);

    const human = await cli("explain", ...args);
    expect(human.out).toContain("Trusted proxies list");
    expect(human.out).toContain("[host-bits-set]");
  });

  it("keeps repeated -H lines of one header in order, splitting each at its first colon", async () => {
    const { out } = await cli(
      "explain", "--peer", "127.0.0.1", "--trusted", "loopback",
      "-H", "Host: [::1]:8080",
      "-H", "X-Forwarded-For: 10.0.0.1",
      "-H", "X-Forwarded-For:203.0.113.7  ",
      "--json",
    );
    const { request, result } = JSON.parse(out);
    expect(request.rawHeaders).toEqual(["Host", "[::1]:8080", "X-Forwarded-For", "10.0.0.1", "X-Forwarded-For", "203.0.113.7"]);
    // Right to left: the later line is the nearer hop, so it is the client.
    expect(result.hops.map((hop: { address: string }) => hop.address)).toEqual(["127.0.0.1", "203.0.113.7"]);
    expect(result.address).toBe("203.0.113.7");
  });

  it("passes the believed header and extra local host names to the resolver", async () => {
    const { out } = await cli(
      "explain", "--peer", "127.0.0.1", "--trusted", "127.0.0.1",
      "-H", "Host: myhost:80", "-H", "Origin: http://myhost", "-H", "X-Real-IP: 127.0.0.2",
      "--header", "x-real-ip", "--local-host", "myhost", "--json",
    );
    const { result } = JSON.parse(out);
    expect(result.basis).toBe("x-real-ip:loopback");
    expect(result.address).toBe("127.0.0.2");
  });

  it("--secure makes the request's scheme https: the server's own https page is local, its http page is not", async () => {
    const page = (origin: string) => ["--peer", "127.0.0.1", "-H", "Host: localhost:18789", "-H", `Origin: ${origin}`, "--json"];
    const answer = async (args: string[]) => (JSON.parse((await cli("explain", ...args)).out) as { result: { basis: string } }).result.basis;
    expect(await answer([...page("https://localhost:18789"), "--secure"])).toBe("socket:loopback");
    expect(await answer(page("https://localhost:18789"))).toBe("socket:origin-not-local");
    expect(await answer([...page("http://localhost:18789"), "--secure"])).toBe("socket:origin-not-local");
    expect((await cli("explain", "--peer", "127.0.0.1", "--secure")).out).toMatch(/^ +scheme +https \(--secure\)$/m);
  });

  describe("--local-origin", () => {
    const request = ["--peer", "127.0.0.1", "-H", "Host: localhost:18789", "-H", "Origin: http://localhost:5173"];

    it("makes a page from a listed origin local, and shows the origins", async () => {
      const { code, out, err } = await cli("explain", ...request, "--local-origin", "http://localhost:5173");
      expect(err).toBe("");
      expect(code).toBe(0);
      expect(out).toMatch(/^ +local +yes$/m);
      expect(out).toMatch(/^ +d\. PASS /m);
      expect(out).toMatch(/^ +local origins +http:\/\/localhost:5173$/m);
    });

    it("without it, an Origin on another port of this machine is not local", async () => {
      const { code, out } = await cli("explain", ...request);
      expect(code).toBe(0);
      expect(out).toMatch(/^ +local +no$/m);
      expect(out).toMatch(/^ +d\. FAIL /m);
      expect(out).not.toContain("local origins");
    });

    it("is repeatable and passed to the resolver, as the JSON shows", async () => {
      const origins = ["https://dev.example:8443", "http://localhost:5173"];
      const { out } = await cli("explain", ...request, "--local-origin", origins[0]!, "--local-origin", origins[1]!, "--json");
      const { request: shown, result } = JSON.parse(out);
      expect(shown.localOrigins).toEqual(origins);
      const direct = resolveClientAddress({ remoteAddress: "127.0.0.1", headers: ["Host", "localhost:18789", "Origin", "http://localhost:5173"], localOrigins: origins });
      expect(result).toEqual(JSON.parse(JSON.stringify(direct)));
      expect(result.loopbackEquivalent).toBe(true);
    });

    it.each([
      ["--local-origin", "localhost:5173/app", /^clientaddr: --local-origin: localOrigins\[0\] must be an http or https origin .*"localhost:5173\/app"$/],
      ["--local-host", "my/box", /^clientaddr: --local-host: localHosts\[0\] must be a host name .*"my\/box"$/],
    ])("%s %j is a usage error naming the entry, not a crash", async (flag, value, message) => {
      const { code, out, err } = await cli("explain", ...request, flag, value);
      expect(code).toBe(2);
      expect(out).toBe("");
      expect(err.split("\n")[0]).toMatch(message);
      expect(err.split("\n")[1]).toBe('Try "clientaddr explain --help" for the usage.');
    });
  });

  it("exits 2 with a message naming a bad trusted entry", async () => {
    const { code, out, err } = await cli("explain", "--peer", "10.0.0.1", "--trusted", "10.0.0.300");
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toContain("10.0.0.300");
    expect(err).not.toContain("    at ");
  });

  it("accepts an empty trust list", async () => {
    const { code, out } = await cli("explain", "--peer", "127.0.0.1", "--trusted", "", "-H", "Host: localhost", "--json");
    expect(code).toBe(0);
    expect(JSON.parse(out).request.trustedProxies).toEqual([]);
    expect(JSON.parse(out).result.basis).toBe("socket:loopback");
  });
});

/** The example command lines of a help text, split into words ("quoted words" kept whole); comments left out. */
function examples(help: string): string[][] {
  const section = help.split("\n\nExamples:\n")[1]!.split("\n\n")[0]!;
  return section
    .split("\n")
    .filter((line) => line.startsWith("  clientaddr "))
    .map((line) => [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2]!));
}

const COMMANDS = ["replay", "explain", "doctor"] as const;

describe("usage", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.each([[["--help"]], [["help"]]])("%j prints the overview on stdout: each command in one line, and how to get its help", async (argv) => {
    const { code, out, err } = await cli(...argv);
    expect(code).toBe(0);
    expect(err).toBe("");
    expect(out).toBe(USAGE);
    const commands = out.split("\nCommands:\n")[1]!.split("\n\n")[0]!.split("\n");
    expect(commands.map((line) => line.match(/^ {2}(\w+) {3,}\S/)?.[1])).toEqual([...COMMANDS]);
    expect(out).toContain('Run "clientaddr COMMAND --help" for a command\'s usage, options and examples.');
  });

  it.each(COMMANDS)("%s --help prints that command's usage, options and two or three examples of it", async (command) => {
    const { code, out, err } = await cli(command, "--help");
    expect(code).toBe(0);
    expect(err).toBe("");
    expect(out).toBe(COMMAND_HELP[command]);
    expect(out).toMatch(new RegExp(`^Usage:\n {2}clientaddr ${command} `));
    expect(out).toMatch(/\n\nOptions:\n {2}--/);
    const lines = examples(out);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(3);
    for (const line of lines) expect(line[1]).toBe(command);
    for (const other of COMMANDS.filter((name) => name !== command)) expect(out).not.toContain(`clientaddr ${other}`);
  });

  it.each(COMMANDS)("every example in %s --help is a command line the CLI takes", async (command) => {
    vi.stubEnv("TRUSTED_PROXIES", "172.18.0.1");
    for (const [, ...argv] of examples(COMMAND_HELP[command])) {
      const { code, err } = await cli(...argv);
      // An example may name the user's own files, which are not here; nothing else may fail.
      if (code !== 0) expect(err, argv.join(" ")).toMatch(/^clientaddr: (cannot read config \S+: ENOENT|\S+: cannot be read \(ENOENT)/);
    }
  });

  it("docs/cli.md shows every help text, exactly as the CLI prints it", async () => {
    const doc = await readFile(path.join(ROOT, "docs", "cli.md"), "utf8");
    const shown = [...doc.matchAll(/```text\n(Usage:\n[\s\S]*?)\n```/g)].map((match) => match[1]);
    const printed: string[] = [];
    for (const argv of [["--help"], ...COMMANDS.map((command) => [command, "--help"])]) printed.push((await cli(...argv)).out);
    expect(shown).toEqual(printed);
  });

  it("bare clientaddr does nothing: the usage on stderr, exit 2", async () => {
    const { code, out, err } = await cli();
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toBe(USAGE);
  });

  it("--version prints the package version", async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8"));
    const { code, out } = await cli("--version");
    expect(code).toBe(0);
    expect(out).toBe(version);
  });

  it.each([
    [["frobnicate"], /unknown command "frobnicate"/],
    [["--frobnicate"], /--frobnicate/],
    [["explain", "--nope"], /--nope/],
    [["explain", "--peer"], /--peer/],
    [["explain", "stray"], /stray/],
    [["explain", "-H", "no colon here"], /no colon here/],
    [["explain", "-H", ": empty name"], /Name: value/],
    [["explain", "--max-hops", "many"], /--max-hops/],
    [["explain", "--header", "via"], /--header must be one of/],
    [["replay", "--json"], /--json/],
    [["doctor", "--config"], /--config/],
    [["doctor", "stray"], /stray/],
    [["doctor", "--peer", "1.2.3.4"], /--peer/],
  ])("%j is a usage error: one line and a hint on stderr, exit 2", async (argv, message) => {
    const { code, out, err } = await cli(...argv);
    expect(code).toBe(2);
    expect(out).toBe("");
    const [first, hint, ...more] = err.split("\n");
    expect(first).toMatch(/^clientaddr: /);
    expect(first).toMatch(message);
    const command = ["replay", "explain", "doctor"].includes(argv[0]!) ? `${argv[0]} ` : "";
    expect(hint).toBe(`Try "clientaddr ${command}--help" for the usage.`);
    expect(more).toEqual([]);
  });

  it.each([
    [["explain", "--nope"], "unknown option --nope"],
    [["explain", "-x"], "unknown option -x"],
    [["--frobnicate"], "unknown option --frobnicate"],
    [["doctor", "--peer", "1.2.3.4"], "unknown option --peer"],
    [["explain", "--peer"], "option --peer needs a value"],
    [["explain", "-H"], "option -H needs a value"],
    [["explain", "--max-hops", "-1"], 'option --max-hops needs a value, and "-1" after it looks like an option (write --max-hops=-1 if it is the value)'],
    [["explain", "--peer", "--secure"], 'option --peer needs a value, and "--secure" after it looks like an option (write --peer=--secure if it is the value)'],
    [["explain", "--secure=yes"], 'option --secure takes no value, got "yes"'],
    [["replay", "--help=please"], 'option --help takes no value, got "please"'],
    [["explain", "stray"], 'unexpected argument "stray": this command takes options only'],
    [["--version", "extra"], 'unexpected argument "extra": this command takes options only'],
  ])("%j: the argument parser's refusal is said in the CLI's words, in one line and the hint", async (argv, message) => {
    const { code, out, err } = await cli(...argv);
    expect(code).toBe(2);
    expect(out).toBe("");
    const command = (COMMANDS as readonly string[]).includes(argv[0]!) ? `${argv[0]} ` : "";
    expect(err.split("\n")).toEqual([`clientaddr: ${message}`, `Try "clientaddr ${command}--help" for the usage.`]);
  });

  it.each([
    [["explain", "--json", "--peer", "localhost"], { error: "usage", message: expect.stringMatching(/^--peer "localhost" is not an IP address/) }],
    [["explain", "--nope", "--json"], { error: "usage", message: "unknown option --nope" }],
    [["explain", "--peer", "--json"], { error: "usage", message: expect.stringMatching(/--peer/) }],
    [["explain", "--json", "--local-origin", "null"], { error: "usage", message: expect.stringMatching(/^--local-origin: localOrigins\[0\]/) }],
    [
      ["explain", "--json", "--peer", "10.0.0.1", "--trusted", "10.0.0.1,10.0.0.300"],
      { error: "trusted-proxies", message: expect.stringMatching(/^--trusted: .*10\.0\.0\.300/), entry: "10.0.0.300", index: 1 },
    ],
    [["doctor", "--json", "--config", "/nonexistent/clientaddr.json"], { error: "config-file", message: expect.stringMatching(/^cannot read config \/nonexistent/) }],
  ])("%j reports the error as JSON on stdout, exit 2", async (argv, expected) => {
    const { code, out, err } = await cli(...argv);
    expect(code).toBe(2);
    expect(err).toBe("");
    expect(JSON.parse(out)).toEqual(expected);
  });
});

describe("doctor's list to check", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  const config = (out: string) => (JSON.parse(out) as DoctorReport).config;

  it("--trusted LIST is checked as a config file's list is: split at commas and spaces, repeatable, a bad entry an error", async () => {
    const file = await write("gateway.json", { gateway: { trustedProxies: ["172.18.0.0/16", "10.0.0.300", "172.18.0.1"] } });
    const fromFile = await cli("doctor", "--config", file, "--json");
    expect(fromFile.code).toBe(1);
    const { findings } = config(fromFile.out)!;
    expect(findings.map(({ code }) => code)).toEqual(["invalid-entry", "private-range"]);
    const given = await cli("doctor", "--trusted", "172.18.0.0/16, 10.0.0.300", "--trusted", "172.18.0.1", "--json");
    expect(given.code).toBe(1);
    expect(config(given.out)).toEqual({ trusted: ["172.18.0.0/16", "10.0.0.300", "172.18.0.1"], findings });
    const human = await cli("doctor", "--trusted", "172.18.0.1");
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/^Config check \(--trusted\)\n +no problems found$/m);
  });

  it("--trusted-env NAME checks the list in that variable, which is read only when named", async () => {
    vi.stubEnv("TRUSTED_PROXIES", "172.18.0.0/16 172.18.0.1");
    expect(config((await cli("doctor", "--json")).out)).toBeNull();
    const file = await write("list.json", ["172.18.0.0/16", "172.18.0.1"]);
    const { findings } = config((await cli("doctor", "--config", file, "--json")).out)!;
    expect(findings.map(({ code }) => code)).toEqual(["private-range"]);
    const { code, out } = await cli("doctor", "--trusted-env", "TRUSTED_PROXIES", "--json");
    expect(code).toBe(0);
    expect(config(out)).toEqual({ env: "TRUSTED_PROXIES", trusted: ["172.18.0.0/16", "172.18.0.1"], findings });
    const human = await cli("doctor", "--trusted-env", "TRUSTED_PROXIES");
    expect(human.out).toMatch(/^Config check \(environment variable TRUSTED_PROXIES\)\n +warning +\[private-range\] trustedProxies\[0\]/m);
  });

  it("--trusted-env of a variable set and empty checks an empty list: the gateway is not trusted, exit 1", async () => {
    vi.stubEnv("TRUSTED_PROXIES", "");
    const { code, out } = await cli("doctor", "--trusted-env", "TRUSTED_PROXIES", "--json");
    expect(code).toBe(1);
    expect(config(out)).toEqual({ env: "TRUSTED_PROXIES", trusted: [], findings: [expect.objectContaining({ code: "gateway-not-trusted", severity: "error" })] });
  });

  it("--trusted-env of an unset variable exits 2 naming it, before reading the machine", async () => {
    const name = "CLIENTADDR_TEST_UNSET_VARIABLE";
    expect(process.env[name]).toBeUndefined();
    const readFacts = async (): Promise<Facts> => expect.fail("the machine was read");
    const message = `--trusted-env ${name}: the environment variable ${name} is not set`;
    expect(await cliWith({ readFacts }, "doctor", "--trusted-env", name)).toEqual({ code: 2, out: "", err: `clientaddr: ${message}` });
    const json = await cliWith({ readFacts }, "doctor", "--trusted-env", name, "--json");
    expect(json.code).toBe(2);
    expect(JSON.parse(json.out)).toEqual({ error: "environment", message });
  });

  it("--preset adds its entries before the list, says what it stands for, and is refused beside --config", async () => {
    const { code, out } = await cli("doctor", "--preset", "caddy", "--trusted", "172.18.0.1,proxy", "--json");
    expect(code).toBe(0);
    expect(config(out)).toEqual({
      trusted: ["172.18.0.1", "proxy"],
      preset: "caddy",
      findings: [
        expect.objectContaining({ code: "preset", severity: "info", message: expect.stringMatching(/^preset caddy: trusts loopback \(this machine\) and believes x-forwarded-for;/) }),
        expect.objectContaining({ code: "proxy-name", severity: "info", entry: "proxy", index: 1, message: expect.stringContaining("await startResolver(options)") }),
      ],
    });
    expect((await cli("doctor", "--preset", "nginx")).out).toMatch(/^Config check \(--trusted, preset nginx\)\n +info +\[preset\] preset nginx: trusts loopback \(this machine\) and believes x-forwarded-for, reading the x-real-ip it also writes when they name an address the walk read;/m);
    expect((await cli("doctor", "--preset", "apache")).code).toBe(2);
    const file = await write("gateway.json", { gateway: { preset: "cloudflared", trustedProxies: ["172.18.0.1"] } });
    expect(config((await cli("doctor", "--config", file, "--json")).out)!.findings.map(({ code }) => code)).toEqual(["preset"]);
    const both = await cli("doctor", "--preset", "caddy", "--config", file);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/^clientaddr: give --preset with --trusted or --trusted-env \(or alone\), not with --config/);
  });

  it.each([
    [["--config", "gateway.json", "--trusted", "172.18.0.1"], "--config and --trusted"],
    [["--trusted", "172.18.0.1", "--trusted-env", "TRUSTED_PROXIES"], "--trusted and --trusted-env"],
    [["--trusted-env", "TRUSTED_PROXIES", "--config", "gateway.json", "--trusted", ""], "--config and --trusted and --trusted-env"],
  ])("%j: more than one list is a usage error", async (argv, named) => {
    const { code, out, err } = await cli("doctor", ...argv);
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err.split("\n")).toEqual([`clientaddr: give one list to check, not ${named}`, 'Try "clientaddr doctor --help" for the usage.']);
  });
});

describe("the binary", () => {
  it("runs explain from the command line with the exit code and output", { timeout: 30_000 }, async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "src/cli/bin.ts", "explain", "--peer", "172.18.0.1", "--trusted", "172.18.0.1", "-H", "Host: 127.0.0.1:18789"],
        { cwd: ROOT, timeout: 25_000 },
        (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }),
      );
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ +local +yes$/m);
    expect(result.stdout).toMatch(/^ +basis +socket:trusted-path$/m);
  });

  it("stops quietly when its reader closes the pipe early (replay | head), keeping its exit code", { timeout: 30_000 }, async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/bin.ts", "replay"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    // Read the first chunk, then close the pipe, as `head -1` does.
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 25_000);
      child.once("close", (exit) => {
        clearTimeout(timer);
        resolve(exit);
      });
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("exits 2 from the command line on a usage error", { timeout: 30_000 }, async () => {
    const code = await new Promise<number | null>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", "src/cli/bin.ts", "explain", "--nope"], { cwd: ROOT, timeout: 25_000 }, (error) =>
        resolve(error ? (typeof error.code === "number" ? error.code : null) : 0),
      );
    });
    expect(code).toBe(2);
  });
});
