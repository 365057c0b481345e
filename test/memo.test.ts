import { describe, expect, it } from "vitest";
import { memoize, rememberLast } from "../src/core/memo.js";

const counted = () => {
  const calls: string[] = [];
  const lookup = memoize((key) => {
    calls.push(key);
    return `value of ${key}`;
  });
  return { calls, lookup };
};

describe("the bounded memo", () => {
  it("computes a key once and answers repeats, back to back or interleaved, from memory", () => {
    const { calls, lookup } = counted();
    for (const key of ["a", "a", "b", "a", "b", "b", "c", "a"]) expect(lookup(key)).toBe(`value of ${key}`);
    expect(calls).toEqual(["a", "b", "c"]);
  });

  it("compares keys by content, not by identity", () => {
    const { calls, lookup } = counted();
    const built = ["10.0.0.", "2"].join("");
    expect(lookup("10.0.0.2")).toBe("value of 10.0.0.2");
    expect(lookup(built)).toBe("value of 10.0.0.2");
    expect(calls).toEqual(["10.0.0.2"]);
  });

  it("keeps falsy answers (false, null) like any other", () => {
    let calls = 0;
    const lookup = memoize((key) => {
      calls++;
      return key === "yes" ? true : key === "no" ? false : null;
    });
    for (const key of ["no", "nothing", "no", "yes", "nothing", "no"]) lookup(key);
    expect([lookup("no"), lookup("nothing"), lookup("yes")]).toEqual([false, null, true]);
    expect(calls).toBe(3);
  });

  it("holds at most 512 keys: a stream of new keys empties it, and older keys are computed again", () => {
    const { calls, lookup } = counted();
    for (let i = 0; i < 513; i++) lookup(`k${i}`);
    expect(calls).toHaveLength(513);
    lookup("k1"); // dropped when the 513th key emptied the memo
    expect(calls).toHaveLength(514);
    lookup("k512"); // kept: it was inserted after the memo was emptied
    lookup("k1");
    expect(calls).toHaveLength(514);
  });
});

describe("the last-value memo", () => {
  it("answers the key it was last asked from memory, compared by content, and computes any other", () => {
    const calls: string[] = [];
    const lookup = rememberLast((key) => {
      calls.push(key);
      return key === "none" ? null : `value of ${key}`;
    });
    for (const key of ["a", ["", "a"].join(""), "b", "a", "none", "none"]) expect(lookup(key)).toBe(key === "none" ? null : `value of ${key}`);
    expect(calls).toEqual(["a", "b", "a", "none"]);
  });
});
