// g. The memo holds only what could match: a Host or Origin too long to name this machine never reaches it, so
// a client sending ever-new long values is neither stored nor hashed (V8 hashes a string longer than 16,383
// characters by its length alone: ever-new values of one length would all collide in the memo's Map).
import { afterEach, describe, expect, it, vi } from "vitest";

const seen = vi.hoisted(() => ({ keys: [] as string[] }));
vi.mock("../src/core/memo.js", async (importOriginal) => {
  const real = (await importOriginal()) as typeof import("../src/core/memo.js");
  return {
    ...real,
    memoize: <T>(compute: (key: string) => T) => {
      const memoized = real.memoize(compute);
      return (key: string) => {
        seen.keys.push(key);
        return memoized(key);
      };
    },
  };
});

const { resolveClientAddress } = await import("../src/core/index.js");

afterEach(() => {
  seen.keys.length = 0;
});

describe("the memo's bound", () => {
  it("keeps a Host or Origin longer than any that can name this machine away from the memo, and answers not local", () => {
    const host = `${"a.".repeat(20_000)}localhost`;
    const origin = `http://${host}`;
    const result = resolveClientAddress({ remoteAddress: "127.0.0.1", headers: { host, origin } });
    expect(result.checks).toMatchObject({ host: false, origin: false });
    expect(seen.keys).toEqual([]);
  });

  it("memoizes a Host and Origin of the longest length that can still match, and nothing longer", () => {
    const name = (length: number) => `${"a.".repeat((length - "localhost".length) / 2)}localhost`;
    const host = `x${name(299)}`; // 300 characters: the longest Host that names this machine
    expect(resolveClientAddress({ remoteAddress: "127.0.0.1", headers: { host, origin: `https://${host}` }, secure: true }).loopbackEquivalent).toBe(true);
    expect(seen.keys).toEqual([host, `https://${host}`]);
    seen.keys.length = 0;
    const longer = `x${host}`;
    expect(resolveClientAddress({ remoteAddress: "127.0.0.1", headers: { host: longer, origin: `https://x${longer}` } }).checks).toMatchObject({ host: false, origin: false });
    expect(seen.keys).toEqual([]);
  });
});
