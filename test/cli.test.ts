import { execFile } from "node:child_process";
import { readFile, symlink } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { USAGE, run } from "../src/cli/cli.js";
import { resolveClientAddress } from "../src/core/index.js";
import { useScratchFolder } from "./support/scratch.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (text) => out.push(text), err: (text) => err.push(text) });
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

describe("usage", () => {
  it.each([[["--help"]], [["help"]], [["explain", "--help"]], [["replay", "--help"]], [["doctor", "--help"]]])("%j prints the usage on stdout, exit 0", async (argv) => {
    const { code, out, err } = await cli(...argv);
    expect(code).toBe(0);
    expect(err).toBe("");
    expect(out).toMatch(/^Usage:\n +clientaddr replay/);
    expect(out).toContain("clientaddr explain");
    expect(out).toContain("clientaddr doctor [--config FILE] [--json]");
  });

  it("is the usage the README shows", async () => {
    const readme = await readFile(path.join(ROOT, "README.md"), "utf8");
    expect(readme).toContain(`\`\`\`text\n${USAGE}\n\`\`\``);
  });

  it("bare clientaddr does nothing: the usage on stderr, exit 2", async () => {
    const { code, out, err } = await cli();
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toMatch(/^Usage:\n +clientaddr replay/);
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
    [["explain", "--nope", "--json"], { error: "usage", message: expect.stringMatching(/--nope/) }],
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

  it("exits 2 from the command line on a usage error", { timeout: 30_000 }, async () => {
    const code = await new Promise<number | null>((resolve) => {
      execFile(process.execPath, ["--import", "tsx", "src/cli/bin.ts", "explain", "--nope"], { cwd: ROOT, timeout: 25_000 }, (error) =>
        resolve(error ? (typeof error.code === "number" ? error.code : null) : 0),
      );
    });
    expect(code).toBe(2);
  });
});
