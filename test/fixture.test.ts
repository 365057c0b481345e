import { execFileSync } from "node:child_process";
import { mkdir, symlink } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BUNDLED_FIXTURES, type Fixture, FixtureError, loadFixtures, replayFixture } from "../src/cli/fixture.js";
import { resolveClientAddress } from "../src/core/index.js";
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

  it.each([
    ["a missing field", dockerCase({ expected: { address: null, basis: "socket:invalid-peer" } }), "expected.loopbackEquivalent", /missing/],
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
