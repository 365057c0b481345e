import { execFileSync } from "node:child_process";
import { mkdir, readFile, symlink } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { ATTRIBUTIONS, BUNDLED_FIXTURES, type Fixture, FixtureError, loadFixtures, parseFixture, replayFixture } from "../src/cli/fixture.js";
import { FORWARDING_HEADERS, PRESET_NAMES, resolveClientAddress } from "../src/core/index.js";
import { useScratchFolder } from "./support/scratch.js";

/** A valid fixture: a Docker bridge gateway trusted as the one hop in front of the server. */
function dockerCase(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "docker-bridge-gateway",
    description: "A client on the host reaches a published port through the bridge gateway.",
    provenance: { kind: "recorded", source: "test suite" },
    request: {
      peer: { address: "172.18.0.1", port: 40000 },
      local: { address: "172.18.0.2", port: 18789 },
      method: "GET",
      url: "/",
      rawHeaders: ["Host", "127.0.0.1:18789"],
    },
    options: { trustedProxies: ["172.18.0.1"] },
    expected: { address: "172.18.0.1", loopbackEquivalent: true, basis: "socket:trusted-path" },
    ...overrides,
  };
}

const scratch = useScratchFolder("clientaddr-fixture-");
const write = scratch.write;

async function loadError(file: string): Promise<FixtureError> {
  const error = await loadFixtures([file]).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(FixtureError);
  return error as FixtureError;
}

describe("loadFixtures", () => {
  it("loads a file and keeps what it says", async () => {
    const file = await write("one.json", dockerCase());
    const [loaded, ...rest] = await loadFixtures([file]);
    expect(rest).toEqual([]);
    expect(loaded!.file).toBe(file);
    expect(loaded!.fixture).toEqual(dockerCase());
  });

  it("finds every .json below a folder, recursively, sorted by path, and ignores other files", async () => {
    const files = [
      await write("b.json", dockerCase({ name: "b" })),
      await write("a/z.json", dockerCase({ name: "a/z" })),
      await write("a/deeper/y.json", dockerCase({ name: "a/deeper/y" })),
    ];
    await write("notes.txt", "not a fixture");
    await write("a/README.md", "# not a fixture");
    const loaded = await loadFixtures([scratch.dir]);
    expect(loaded.map((entry) => entry.file)).toEqual([...files].sort());
    expect(loaded.map((entry) => entry.fixture.name)).toEqual(["a/deeper/y", "a/z", "b"]);
  });

  it("sorts by the whole path, not folder by folder", async () => {
    // A folder walk would list a/ (and so a/x.json) before a-b.json; by path, "-" sorts before "/".
    const inside = await write("a/x.json", dockerCase({ name: "inside" }));
    const beside = await write("a-b.json", dockerCase({ name: "beside" }));
    const loaded = await loadFixtures([scratch.dir]);
    expect(loaded.map((entry) => entry.file)).toEqual([beside, inside]);
  });

  it("leaves a folder's *.schema.json files out: they describe fixtures, they are not ones", async () => {
    const fixture = await write("a.json", dockerCase());
    await write("fixture.schema.json", { $schema: "https://json-schema.org/draft/2020-12/schema" });
    await write("deeper/own.schema.json", { type: "object" });
    expect((await loadFixtures([scratch.dir])).map((entry) => entry.file)).toEqual([fixture]);
  });

  it("keeps argument order across files and folders", async () => {
    const single = await write("single.json", dockerCase({ name: "single" }));
    await write("folder/x.json", dockerCase({ name: "x" }));
    const loaded = await loadFixtures([path.join(scratch.dir, "folder"), single]);
    expect(loaded.map((entry) => entry.fixture.name)).toEqual(["x", "single"]);
  });

  it("accepts the optional options and a missing peer", async () => {
    const request = { ...(dockerCase().request as object), peer: null };
    const options = { trustedProxies: [], header: "forwarded", maxHops: 3, localHosts: ["myhost"], localOrigins: ["http://localhost:5173"] };
    const file = await write("full.json", dockerCase({ request, options }));
    const [loaded] = await loadFixtures([file]);
    expect(loaded!.fixture.request.peer).toBeNull();
    expect(loaded!.fixture.options).toEqual(options);
  });

  it("accepts a preset, and an expected attribution, preset and claims", async () => {
    const options = { trustedProxies: ["172.18.0.5"], preset: "tailscale-serve" };
    const expected = { address: "172.18.0.1", loopbackEquivalent: false, basis: "socket:remote-client", attribution: "direct-remote", preset: null, claims: { "tailscale-user-login": "alice@example.com" } };
    const [loaded] = await loadFixtures([await write("preset.json", dockerCase({ options, expected }))]);
    expect(loaded!.fixture.options).toEqual(options);
    expect(loaded!.fixture.expected).toEqual(expected);
    const none = { address: "172.18.0.1", loopbackEquivalent: false, basis: "socket:remote-client", preset: "caddy", claims: null };
    const [other] = await loadFixtures([await write("none.json", dockerCase({ expected: none }))]);
    expect(other!.fixture.expected).toEqual(none);
    expect("attribution" in other!.fixture.expected).toBe(false);
  });

  it("keeps a claim named __proto__ as a claim", async () => {
    const expected = JSON.parse('{ "address": null, "loopbackEquivalent": false, "basis": "socket:invalid-peer", "claims": { "__proto__": "x" } }') as unknown;
    const [loaded] = await loadFixtures([await write("proto.json", dockerCase({ expected }))]);
    const claims = loaded!.fixture.expected.claims!;
    expect(Object.keys(claims)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(claims)).toBe(Object.prototype);
  });

  it.each([
    ["a missing field", dockerCase({ expected: { address: null, basis: "socket:invalid-peer" } }), "expected.loopbackEquivalent", /missing/],
    ["an unknown preset", dockerCase({ options: { trustedProxies: [], preset: "apache" } }), "options.preset", /must be one of "cloudflared", "tailscale-serve", "nginx", "caddy", "traefik", "haproxy", got "apache"/],
    ["a preset of null in the options", dockerCase({ options: { trustedProxies: [], preset: null } }), "options.preset", /must be one of/],
    ["an unknown attribution", dockerCase({ expected: { address: null, loopbackEquivalent: false, basis: "socket:invalid-peer", attribution: "local" } }), "expected.attribution", /must be one of "direct-local", .*"unattributable", got "local"/],
    ["an unknown expected preset", dockerCase({ expected: { address: null, loopbackEquivalent: false, basis: "socket:invalid-peer", preset: "Caddy" } }), "expected.preset", /must be one of .* or null, got "Caddy"/],
    ["claims that are not an object", dockerCase({ expected: { address: null, loopbackEquivalent: false, basis: "socket:invalid-peer", claims: ["alice"] } }), "expected.claims", /must be an object of strings or null, got an array/],
    ["a claim that is not a string", dockerCase({ expected: { address: null, loopbackEquivalent: false, basis: "socket:invalid-peer", claims: { "tailscale-user-login": 7 } } }), "expected.claims.tailscale-user-login", /must be a string/],
    ["a wrongly typed field", dockerCase({ name: 42 }), "name", /must be a string/],
    ["an unknown (misspelt) field", dockerCase({ option: {} }), "option", /not a fixture field/],
    ["a bad provenance kind", dockerCase({ provenance: { kind: "guessed", source: "me" } }), "provenance.kind", /must be one of/],
    ["a hand-written case without why", dockerCase({ provenance: { kind: "hand-written", source: "me" } }), "provenance.why", /missing/],
    ["an odd rawHeaders list", dockerCase({ request: { ...(dockerCase().request as object), rawHeaders: ["Host"] } }), "request.rawHeaders", /odd/],
    ["a header value that is not a string", dockerCase({ request: { ...(dockerCase().request as object), rawHeaders: ["Host", 80] } }), "request.rawHeaders[1]", /must be a string/],
    ["a bad port", dockerCase({ request: { ...(dockerCase().request as object), peer: { address: "::1", port: 70000 } } }), "request.peer.port", /0 to 65535/],
    ["a declared source that is not a string or null", dockerCase({ request: { ...(dockerCase().request as object), declaredSource: 7 } }), "request.declaredSource", /must be a string/],
    ["a scheme that is not true or false", dockerCase({ request: { ...(dockerCase().request as object), secure: "yes" } }), "request.secure", /must be true or false, got "yes"|must be true or false/],
    ["a bad believed header", dockerCase({ options: { trustedProxies: [], header: "via" } }), "options.header", /must be one of/],
    ["a bad maxHops", dockerCase({ options: { trustedProxies: [], maxHops: -1 } }), "options.maxHops", /non-negative integer/],
    ["a bad trusted entry", dockerCase({ options: { trustedProxies: ["10.0.0.1", "10.0.0.300"] } }), "options.trustedProxies[1]", /10\.0\.0\.300/],
    ["localOrigins that is not a list", dockerCase({ options: { trustedProxies: [], localOrigins: "http://localhost:5173" } }), "options.localOrigins", /must be an array of strings/],
    ["a localOrigins entry that is not a string", dockerCase({ options: { trustedProxies: [], localOrigins: [5173] } }), "options.localOrigins[0]", /must be a string/],
    ["a localOrigins entry that is not an origin", dockerCase({ options: { trustedProxies: [], localOrigins: ["http://localhost:5173/app"] } }), "options", /refused by the resolver: localOrigins\[0\] .*localhost:5173\/app/],
    ["a localHosts entry the resolver refuses", dockerCase({ options: { trustedProxies: [], localHosts: [""] } }), "options", /refused by the resolver: localHosts\[0\]/],
    ["a non-object", [1, 2], "(top level)", /must be an object/],
  ])("rejects %s, naming the file and the field", async (_, data, field, problem) => {
    const file = await write("bad.json", data);
    const error = await loadError(file);
    expect(error.file).toBe(file);
    expect(error.field).toBe(field);
    expect(error.message).toContain(file);
    expect(error.message).toContain(field);
    expect(error.message).toMatch(problem);
  });

  it("rejects a file that is not JSON", async () => {
    const file = await write("broken.json", "{ not json");
    const error = await loadError(file);
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/not valid JSON/);
  });

  it("rejects a missing path and a folder without fixtures", async () => {
    const missing = path.join(scratch.dir, "nope.json");
    expect((await loadError(missing)).message).toContain(missing);
    await mkdir(path.join(scratch.dir, "empty"));
    expect((await loadError(path.join(scratch.dir, "empty"))).message).toMatch(/no \.json fixture files/);
  });

  describe("symbolic links", () => {
    it("follows a link to a fixture file and a link to a folder of them", async () => {
      const outside = await write("outside/shared.json", dockerCase({ name: "shared" }));
      await write("outside/folder/deep.json", dockerCase({ name: "deep" }));
      await write("fixtures/own.json", dockerCase({ name: "own" }));
      const fixtures = path.join(scratch.dir, "fixtures");
      await symlink(outside, path.join(fixtures, "linked.json"));
      await symlink(path.join(scratch.dir, "outside/folder"), path.join(fixtures, "linked-folder"));
      const loaded = await loadFixtures([fixtures]);
      // Listed under the link's own path, sorted with the rest.
      expect(loaded.map((entry) => [path.relative(fixtures, entry.file), entry.fixture.name])).toEqual([
        [path.join("linked-folder", "deep.json"), "deep"],
        ["linked.json", "shared"],
        ["own.json", "own"],
      ]);
    });

    it("loads a folder linked twice (not a cycle) twice", async () => {
      await write("shared/one.json", dockerCase());
      await mkdir(path.join(scratch.dir, "fixtures"));
      await symlink(path.join(scratch.dir, "shared"), path.join(scratch.dir, "fixtures/a"));
      await symlink(path.join(scratch.dir, "shared"), path.join(scratch.dir, "fixtures/b"));
      expect(await loadFixtures([path.join(scratch.dir, "fixtures")])).toHaveLength(2);
    });

    it("rejects a link that leads nowhere, naming it, rather than skipping it", async () => {
      await write("fixtures/own.json", dockerCase());
      const link = path.join(scratch.dir, "fixtures/gone.json");
      await symlink(path.join(scratch.dir, "nowhere.json"), link);
      const error = await loadError(path.join(scratch.dir, "fixtures"));
      expect(error.file).toBe(link);
      expect(error.message).toMatch(/is a symbolic link that cannot be followed/);
    });

    it("rejects a link back to a folder being walked, naming it", async () => {
      await write("fixtures/sub/own.json", dockerCase());
      const link = path.join(scratch.dir, "fixtures/sub/loop");
      await symlink(path.join(scratch.dir, "fixtures"), link);
      const error = await loadError(path.join(scratch.dir, "fixtures"));
      expect(error.file).toBe(link);
      expect(error.message).toMatch(/a cycle of symbolic links/);
    });

    it("rejects a .json that is neither a file nor a folder (here a named pipe, which would block a read)", async () => {
      await write("fixtures/own.json", dockerCase());
      const pipe = path.join(scratch.dir, "pipe.json");
      execFileSync("mkfifo", [pipe]);
      await symlink(pipe, path.join(scratch.dir, "fixtures/linked-pipe.json"));
      const error = await loadError(path.join(scratch.dir, "fixtures"));
      expect(error.file).toBe(path.join(scratch.dir, "fixtures/linked-pipe.json"));
      expect(error.message).toMatch(/is not a regular file/);
    });

    it("rejects a cycle reached through a linked top folder", async () => {
      await write("real/own.json", dockerCase());
      const top = path.join(scratch.dir, "top");
      await symlink(path.join(scratch.dir, "real"), top);
      await symlink(path.join(scratch.dir, "real"), path.join(scratch.dir, "real/again"));
      const error = await loadError(top);
      expect(error.file).toBe(path.join(top, "again"));
    });
  });

  it("stops at the first bad file even when good ones follow", async () => {
    await write("1-good.json", dockerCase());
    const bad = await write("2-bad.json", dockerCase({ expected: "yes" }));
    await write("3-good.json", dockerCase());
    const error = await loadError(scratch.dir);
    expect(error.file).toBe(bad);
    expect(error.field).toBe("expected");
  });
});

describe("replayFixture", () => {
  async function loaded(data: unknown): Promise<Fixture> {
    const [entry] = await loadFixtures([await write("case.json", data)]);
    return entry!.fixture;
  }

  it("passes the request and options to the resolver and reports no mismatch when the answer matches", async () => {
    const fixture = await loaded(dockerCase());
    const { result, mismatches } = replayFixture(fixture);
    expect(mismatches).toEqual([]);
    expect(result).toEqual(
      resolveClientAddress({ remoteAddress: "172.18.0.1", headers: ["Host", "127.0.0.1:18789"], trustedProxies: ["172.18.0.1"] }),
    );
  });

  it("lists each expected field that differs, with both values", async () => {
    const fixture = await loaded(dockerCase({ expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" } }));
    const { result, mismatches } = replayFixture(fixture);
    expect(result.address).toBe("172.18.0.1");
    expect(mismatches).toEqual([
      'address: expected "127.0.0.1", got "172.18.0.1"',
      'basis: expected "socket:loopback", got "socket:trusted-path"',
    ]);
  });

  it("replays a missing peer as a socket without a remote address", async () => {
    const request = { ...(dockerCase().request as object), peer: null };
    const fixture = await loaded(dockerCase({ request, expected: { address: "172.18.0.1", loopbackEquivalent: true, basis: "socket:trusted-path" } }));
    const { result, mismatches } = replayFixture(fixture);
    expect(result.basis).toBe("socket:invalid-peer");
    expect(mismatches).toEqual([
      'address: expected "172.18.0.1", got null',
      "loopbackEquivalent: expected true, got false",
      'basis: expected "socket:trusted-path", got "socket:invalid-peer"',
    ]);
  });

  it("passes localOrigins to the resolver", async () => {
    const request = { ...(dockerCase().request as object), rawHeaders: ["Host", "127.0.0.1:18789", "Origin", "http://localhost:5173"] };
    const expected = { address: "172.18.0.1", loopbackEquivalent: true, basis: "socket:trusted-path" };
    const listed = await loaded(dockerCase({ request, options: { trustedProxies: ["172.18.0.1"], localOrigins: ["http://localhost:5173"] }, expected }));
    expect(replayFixture(listed).mismatches).toEqual([]);
    // The same request without the origin listed: a page on another port is not this gateway's own.
    const unlisted = await loaded(dockerCase({ request, expected }));
    expect(replayFixture(unlisted).result.basis).toBe("socket:origin-not-local");
  });

  it("uses the believed header and maxHops from the options", async () => {
    const request = {
      ...(dockerCase().request as object),
      peer: { address: "127.0.0.1", port: 1 },
      rawHeaders: ["Host", "localhost", "Forwarded", "for=127.0.0.1", "Forwarded", "for=127.0.0.1"],
    };
    const options = { trustedProxies: ["loopback"], header: "forwarded", maxHops: 1 };
    const fixture = await loaded(dockerCase({ request, options, expected: { address: null, loopbackEquivalent: false, basis: "forwarded:hop-limit" } }));
    expect(replayFixture(fixture).mismatches).toEqual([]);
  });
});

describe("a preset, and the attribution, preset and claims of the expected answer", () => {
  async function loaded(data: unknown): Promise<Fixture> {
    const [entry] = await loadFixtures([await write("preset.json", data)]);
    return entry!.fixture;
  }
  // Tailscale Serve on this host: a tailnet client named in X-Forwarded-For, with its identity headers.
  const serve = {
    ...(dockerCase().request as object),
    peer: { address: "127.0.0.1", port: 40000 },
    rawHeaders: ["Host", "machine.tailnet.ts.net", "X-Forwarded-For", "100.101.102.103", "Tailscale-User-Login", "alice@example.com", "Tailscale-User-Name", "Alice"],
  };
  const claims = { "tailscale-user-name": "Alice", "tailscale-user-login": "alice@example.com" };
  const answer = { address: "100.101.102.103", loopbackEquivalent: false, basis: "x-forwarded-for:remote-client", attribution: "proxied", preset: "tailscale-serve", claims };

  it("passes the preset to the resolver, and compares the attribution, preset and claims, claims in any key order", async () => {
    const fixture = await loaded(dockerCase({ request: serve, options: { trustedProxies: [], preset: "tailscale-serve" }, expected: answer }));
    const { result, mismatches } = replayFixture(fixture);
    expect(mismatches).toEqual([]);
    expect(result.claims).toEqual(claims);
    expect(Object.keys(result.claims!)).not.toEqual(Object.keys(claims));
  });

  it("without the preset, the same request is another answer, and each stated field that differs is listed", async () => {
    const fixture = await loaded(dockerCase({ request: serve, options: { trustedProxies: [] }, expected: answer }));
    expect(replayFixture(fixture).mismatches).toEqual([
      'address: expected "100.101.102.103", got "127.0.0.1"',
      'basis: expected "x-forwarded-for:remote-client", got "socket:unread-forwarding-header"',
      'attribution: expected "proxied", got "unattributable"',
      'preset: expected "tailscale-serve", got null',
      `claims: expected ${JSON.stringify(claims)}, got null`,
    ]);
  });

  it("compares only what the fixture states, and a claim more or less is a mismatch", async () => {
    const { attribution: _a, preset: _p, claims: _c, ...bare } = answer;
    const options = { trustedProxies: [], preset: "tailscale-serve" };
    expect(replayFixture(await loaded(dockerCase({ request: serve, options, expected: bare }))).mismatches).toEqual([]);
    expect(replayFixture(await loaded(dockerCase({ request: serve, options, expected: { ...bare, preset: null } }))).mismatches).toEqual(['preset: expected null, got "tailscale-serve"']);
    const fewer = { "tailscale-user-login": "alice@example.com" };
    expect(replayFixture(await loaded(dockerCase({ request: serve, options, expected: { ...bare, claims: fewer } }))).mismatches).toEqual([`claims: expected ${JSON.stringify(fewer)}, got ${JSON.stringify({ "tailscale-user-login": "alice@example.com", "tailscale-user-name": "Alice" })}`]);
    const more = { ...claims, "tailscale-user-profile-pic": "https://example.com/a.png" };
    expect(replayFixture(await loaded(dockerCase({ request: serve, options, expected: { ...bare, claims: more } }))).mismatches).toHaveLength(1);
    expect(replayFixture(await loaded(dockerCase({ request: serve, options, expected: { ...bare, claims: null } }))).mismatches).toHaveLength(1);
    expect(replayFixture(await loaded(dockerCase({ request: serve, options, expected: { ...bare, claims: { ...claims, "tailscale-user-name": "Mallory" } } }))).mismatches).toHaveLength(1);
  });

  it("entries in trustedProxies add to the preset's, as in the resolver (nginx in a container)", async () => {
    const inContainer = { ...serve, peer: { address: "172.18.0.5", port: 40000 }, rawHeaders: ["Host", "gw.example.com", "X-Forwarded-For", "203.0.113.7", "X-Real-IP", "203.0.113.7"] };
    const expected = { address: "203.0.113.7", loopbackEquivalent: false, basis: "x-forwarded-for:remote-client", attribution: "proxied", preset: "nginx", claims: null };
    expect(replayFixture(await loaded(dockerCase({ request: inContainer, options: { trustedProxies: ["172.18.0.5"], preset: "nginx" }, expected }))).mismatches).toEqual([]);
    // The preset alone trusts loopback only: from 172.18.0.5 the same headers are an undeclared proxy's.
    expect(replayFixture(await loaded(dockerCase({ request: inContainer, options: { trustedProxies: [], preset: "nginx" }, expected }))).mismatches).toEqual([
      'address: expected "203.0.113.7", got "172.18.0.5"',
      'basis: expected "x-forwarded-for:remote-client", got "socket:remote-client"',
      'attribution: expected "proxied", got "unattributable"',
      'preset: expected "nginx", got null',
    ]);
  });
});

describe("a declared source (the PROXY protocol)", () => {
  async function loaded(data: unknown): Promise<Fixture> {
    const [entry] = await loadFixtures([await write("declared.json", data)]);
    return entry!.fixture;
  }
  const balancer = { ...(dockerCase().request as object), peer: { address: "127.0.0.1", port: 40000 } };

  it("is loaded when present, and replayed with the peer as the balancer", async () => {
    const fixture = await loaded(dockerCase({ request: { ...balancer, declaredSource: "203.0.113.7" }, expected: { address: "203.0.113.7", loopbackEquivalent: false, basis: "proxy-protocol:remote-client" } }));
    expect(fixture.request.declaredSource).toBe("203.0.113.7");
    const { result, mismatches } = replayFixture(fixture);
    expect(mismatches).toEqual([]);
    expect(result.hops[0]).toEqual({ address: "127.0.0.1", trusted: true, source: "socket" });
  });

  it("null is a source declared unknown, replayed as such; absent is no declaration at all", async () => {
    const unknown = await loaded(dockerCase({ request: { ...balancer, declaredSource: null }, expected: { address: null, loopbackEquivalent: false, basis: "proxy-protocol:invalid-peer" } }));
    expect(unknown.request.declaredSource).toBeNull();
    expect(replayFixture(unknown).mismatches).toEqual([]);
    const absent = await loaded(dockerCase({ request: balancer, options: { trustedProxies: [] }, expected: { address: "127.0.0.1", loopbackEquivalent: true, basis: "socket:loopback" } }));
    expect("declaredSource" in absent.request).toBe(false);
    expect(replayFixture(absent).mismatches).toEqual([]);
  });
});

describe("the connection's scheme", () => {
  it("is loaded when present and replayed: the same page is local over the scheme it was served on only", async () => {
    const request = { ...(dockerCase().request as object), rawHeaders: ["Host", "127.0.0.1:18789", "Origin", "https://127.0.0.1:18789"] };
    const secure = (await loadFixtures([await write("secure.json", dockerCase({ request: { ...request, secure: true } }))]))[0]!.fixture;
    expect(secure.request.secure).toBe(true);
    expect(replayFixture(secure).mismatches).toEqual([]);
    const plain = (await loadFixtures([await write("plain.json", dockerCase({ request, expected: { address: "172.18.0.1", loopbackEquivalent: false, basis: "socket:origin-not-local" } }))]))[0]!.fixture;
    expect("secure" in plain.request).toBe(false);
    expect(replayFixture(plain).mismatches).toEqual([]);
  });
});

describe("BUNDLED_FIXTURES", () => {
  it("is the package's fixtures folder", () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
    expect(BUNDLED_FIXTURES).toBe(path.join(root, "fixtures"));
  });
});

describe("the fixture format's JSON Schema (fixtures/fixture.schema.json)", async () => {
  const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const schema = JSON.parse(await readFile(path.join(BUNDLED_FIXTURES, "fixture.schema.json"), "utf8")) as SchemaNode;
  // Compiling checks the schema against the draft 2020-12 meta-schema; strict, but for a `required` inside `then`.
  const validate = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true }).compile(schema);

  interface SchemaNode {
    readonly properties?: Readonly<Record<string, SchemaNode>>;
    readonly enum?: readonly unknown[];
  }

  /** What the schema cannot say (see fixture.ts), told apart by the field and the problem the loader names. */
  const BEYOND_THE_SCHEMA: ReadonlyArray<readonly [RegExp, RegExp]> = [
    [/^request\.rawHeaders$/, /its length is odd/],
    [/^options\.trustedProxies\[\d+\]$/, /is invalid/],
    [/^options$/, /refused by the resolver: local(Hosts|Origins)\[\d+\]/],
  ];

  function loaderVerdict(data: unknown): "accepts" | "refuses" | "refuses beyond the schema" {
    try {
      parseFixture(data, "case.json");
      return "accepts";
    } catch (error) {
      if (!(error instanceof FixtureError)) throw error;
      const { field = "", message } = error;
      return BEYOND_THE_SCHEMA.some(([at, problem]) => at.test(field) && problem.test(message)) ? "refuses beyond the schema" : "refuses";
    }
  }

  /** The schema and the loader agree: what one accepts the other does, but for the checks beyond the schema. */
  function expectSameVerdict(data: unknown, label: string): void {
    const verdict = loaderVerdict(data);
    if (validate(data)) expect(verdict, `${label}: the schema accepts it`).not.toBe("refuses");
    else expect(verdict, `${label}: the schema refuses it (${JSON.stringify(validate.errors?.[0])})`).toBe("refuses");
  }

  /** Every optional field present. */
  const handWritten = dockerCase({
    provenance: { kind: "hand-written", source: "test suite", why: "a test" },
    request: { ...(dockerCase().request as object), declaredSource: "203.0.113.7", secure: true },
    options: { trustedProxies: ["172.18.0.1", "loopback"], header: "forwarded", maxHops: 3, localHosts: ["myhost"], localOrigins: ["http://localhost:5173"], preset: "nginx" },
    expected: { address: "172.18.0.1", loopbackEquivalent: true, basis: "socket:trusted-path", attribution: "nat-local", preset: "tailscale-serve", claims: { "tailscale-user-login": "alice@example.com" } },
  });
  /** The nullable fields null. */
  const recorded = dockerCase({
    request: { ...(dockerCase().request as object), peer: null, local: null, declaredSource: null },
    expected: { address: null, loopbackEquivalent: false, basis: "proxy-protocol:invalid-peer", attribution: "unattributable", preset: null, claims: null },
  });

  type Key = string | number;
  function pathsIn(value: unknown, at: readonly Key[] = []): Key[][] {
    if (typeof value !== "object" || value === null) return [];
    return Object.entries(value).flatMap(([key, child]) => {
      const here = [...at, Array.isArray(value) ? Number(key) : key];
      return [here, ...pathsIn(child, here)];
    });
  }
  function changed(base: unknown, at: readonly Key[], change: (parent: Record<Key, unknown>, key: Key) => void): unknown {
    const copy = structuredClone(base);
    const parent = at.slice(0, -1).reduce<unknown>((node, key) => (node as Record<Key, unknown>)[key], copy) as Record<Key, unknown>;
    change(parent, at.at(-1)!);
    return copy;
  }
  /** A value of every JSON type, and the edges of the format's numbers and strings. */
  const VALUES: readonly unknown[] = [null, true, false, 0, 7, -1, 1.5, 65535, 65536, "", " \t", "x", "recorded", "hand-written", "forwarded", "127.0.0.1", "nginx", "proxied", [], ["x"], ["Host", "x"], [1], {}, { address: "::1", port: 1 }, { login: "x" }];

  it("is draft 2020-12, and its header enum is the library's forwarding headers", () => {
    expect((schema as { $schema?: string }).$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.properties!.options!.properties!.header!.enum).toEqual([...FORWARDING_HEADERS]);
  });

  it("its preset enums are the library's presets (the expected one or null), its attribution enum the answer's", () => {
    expect(schema.properties!.options!.properties!.preset!.enum).toEqual([...PRESET_NAMES]);
    expect(schema.properties!.expected!.properties!.preset!.enum).toEqual([...PRESET_NAMES, null]);
    expect(schema.properties!.expected!.properties!.attribution!.enum).toEqual([...ATTRIBUTIONS]);
    // Every attribution the resolver gives is one the format can state.
    const seen = new Set(
      [
        { remoteAddress: "127.0.0.1", headers: {} },
        { remoteAddress: "172.18.0.1", headers: {}, trustedProxies: ["172.18.0.1"] },
        { remoteAddress: "203.0.113.9", headers: {} },
        { remoteAddress: "127.0.0.1", headers: { "x-forwarded-for": "203.0.113.7" }, preset: "caddy" as const },
        { remoteAddress: "127.0.0.1", headers: { "x-forwarded-for": "203.0.113.7" } },
      ].map((facts) => resolveClientAddress(facts).attribution),
    );
    expect([...seen].sort()).toEqual([...ATTRIBUTIONS].sort());
  });

  it("accepts every bundled fixture, as the loader does", async () => {
    const bundled = await loadFixtures([BUNDLED_FIXTURES]);
    expect(bundled.length).toBeGreaterThan(0);
    for (const { file } of bundled) {
      const data: unknown = JSON.parse(await readFile(file, "utf8"));
      expect(validate(data), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it("agrees with the loader on every field removed, given another value, or joined by an unknown one", () => {
    let cases = 0;
    const verdicts = new Set<boolean>();
    for (const base of [handWritten, recorded]) {
      expectSameVerdict(base, "the base case");
      expect(loaderVerdict(base)).toBe("accepts");
      for (const at of pathsIn(base)) {
        const variants = [changed(base, at, (parent, key) => (Array.isArray(parent) ? parent.splice(Number(key), 1) : delete parent[key]))];
        for (const value of VALUES) variants.push(changed(base, at, (parent, key) => (parent[key] = structuredClone(value))));
        for (const variant of variants) {
          expectSameVerdict(variant, `${at.join(".")} in ${JSON.stringify(variant)}`);
          verdicts.add(validate(variant));
          cases++;
        }
      }
      for (const at of [[], ...pathsIn(base)]) {
        const target = at.reduce<unknown>((node, key) => (node as Record<Key, unknown>)[key], base);
        if (typeof target !== "object" || target === null || Array.isArray(target)) continue;
        const variant = at.length === 0 ? { ...(base as object), extra: 1 } : changed(base, at, (parent, key) => (parent[key] = { ...(parent[key] as object), extra: 1 }));
        expect(validate(variant), `extra field at ${at.join(".") || "the top level"}`).toBe(false);
        expectSameVerdict(variant, `extra field at ${at.join(".")}`);
        cases++;
      }
    }
    expect(verdicts).toEqual(new Set([true, false]));
    expect(cases).toBeGreaterThan(1000);
  });

  it.each([
    ["a recorded case that says why", dockerCase({ provenance: { kind: "recorded", source: "me", why: "no reason" } })],
    ["a hand-written case that does not", dockerCase({ provenance: { kind: "hand-written", source: "me" } })],
    ["a provenance kind of neither", dockerCase({ provenance: { kind: "guessed", source: "me", why: "a guess" } })],
    ["a name of white space only", dockerCase({ name: "\n " })],
    ["a port that is not an integer", dockerCase({ request: { ...(dockerCase().request as object), local: { address: "::1", port: 80.5 } } })],
  ])("both refuse %s", (_, data) => {
    expect(validate(data)).toBe(false);
    expect(loaderVerdict(data)).toBe("refuses");
  });

  it.each([
    ["rawHeaders of odd length", dockerCase({ request: { ...(dockerCase().request as object), rawHeaders: ["Host"] } })],
    ["a trustedProxies entry that does not compile", dockerCase({ options: { trustedProxies: ["10.0.0.300"] } })],
    ["a localHosts entry the resolver refuses", dockerCase({ options: { trustedProxies: [], localHosts: [""] } })],
    ["a localOrigins entry the resolver refuses", dockerCase({ options: { trustedProxies: [], localOrigins: ["localhost:5173"] } })],
  ])("only the loader refuses %s, a check the schema cannot express", (_, data) => {
    expect(validate(data)).toBe(true);
    expect(loaderVerdict(data)).toBe("refuses beyond the schema");
  });

  it("is described field by field in docs/testing.md, whose example fixture both accept and which replays OK", async () => {
    const doc = await readFile(path.join(ROOT, "docs", "testing.md"), "utf8");
    const section = doc.split("\n## The fixture format\n")[1]!.split("\n## ")[0]!;
    const fields = (node: SchemaNode, prefix = ""): string[] =>
      Object.entries(node.properties ?? {}).flatMap(([name, child]) => (child.properties ? fields(child, `${prefix}${name}.`) : [`${prefix}${name}`]));
    const documented = [...section.matchAll(/^\| `([\w.]+)` \|/gm)].map((match) => match[1]);
    expect(documented).toEqual(fields(schema));
    const example: unknown = JSON.parse(section.match(/```json\n([\s\S]*?)\n```/)![1]!);
    expect(validate(example)).toBe(true);
    expect(replayFixture(parseFixture(example, "docs/testing.md")).mismatches).toEqual([]);
  });
});
