import { describe, expect, it } from "vitest";
import { RememberedPeer, memoize } from "../src/core/memo.js";
import { canonicalAddress } from "../src/core/declared.js";

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

describe("the remembered peer", () => {
  it("answers the peer it was last asked from memory, compared by content, and reads any other", () => {
    const peer = new RememberedPeer();
    const first = peer.read("192.0.2.1");
    expect(first).toEqual({ family: 4, value: 0xc0000201 });
    // The same text in another string is the same peer: the same parsed object, not a new parse.
    expect(peer.read(["192.0.2", ".1"].join(""))).toBe(first);
    expect(peer.text).toBe("192.0.2.1");
    const other = peer.read("192.0.2.2");
    expect(other).not.toBe(first);
    expect(peer.read("192.0.2.1")).not.toBe(first); // only the last is kept
    expect(peer.read("not an address")).toBeNull();
    expect(peer.text).toBe("");
  });

  it("keeps the peer's canonical text beside it, whatever else is parsed in between", () => {
    const peer = new RememberedPeer();
    peer.read("2001:DB8:0:0::1");
    expect(peer.text).toBe("2001:db8::1");
    // The parser's note on canonical IPv6 text now belongs to another address; the peer's text stays.
    expect(canonicalAddress("2001:db8::2")).toBe("2001:db8::2");
    peer.read("2001:DB8:0:0::1");
    expect(peer.text).toBe("2001:db8::1");
    peer.read("2001:db8::1");
    expect(peer.text).toBe("2001:db8::1");
    // Mapped IPv6 is written as IPv4, as the answers write it.
    peer.read("::ffff:10.0.0.2");
    expect(peer.text).toBe("10.0.0.2");
  });
});
