import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BUNDLED_FIXTURES, type Fixture, FixtureError, loadFixtures, replayFixture } from "../src/fixture.js";
import { resolveClientAddress } from "../src/index.js";
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
    const options = { trustedProxies: [], header: "forwarded", maxHops: 3, localHosts: ["myhost"] };
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
    ["a bad believed header", dockerCase({ options: { trustedProxies: [], header: "via" } }), "options.header", /must be one of/],
    ["a bad maxHops", dockerCase({ options: { trustedProxies: [], maxHops: -1 } }), "options.maxHops", /non-negative integer/],
    ["a bad trusted entry", dockerCase({ options: { trustedProxies: ["10.0.0.1", "10.0.0.300"] } }), "options.trustedProxies[1]", /10\.0\.0\.300/],
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

describe("BUNDLED_FIXTURES", () => {
  it("is the package's fixtures folder", () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
    expect(BUNDLED_FIXTURES).toBe(path.join(root, "fixtures"));
  });
});
