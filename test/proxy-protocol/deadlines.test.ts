// The listener's header timeouts on one shared timer: each connection's deadline expires once, after its
// timeout and within one tick of it; a stopped one never does; every waiting one can be ended at once (the
// server is closing); and no timer is left once nobody waits.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Deadlines } from "../../src/proxy-protocol/deadlines.js";

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "setTimeout", "clearTimeout", "performance"] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Deadlines", () => {
  it("expires a deadline once, not before its timeout and within a quarter of it after", () => {
    const deadlines = new Deadlines(400);
    const expired: Array<[number, boolean]> = [];
    deadlines.start((timedOut) => expired.push([performance.now(), timedOut]));
    vi.advanceTimersByTime(399);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(101);
    expect(expired).toHaveLength(1);
    expect(expired[0]![0]).toBeGreaterThanOrEqual(400);
    expect(expired[0]![1]).toBe(true);
    vi.advanceTimersByTime(5_000);
    expect(expired).toHaveLength(1);
  });

  it("keeps the default 10 s timeout to within a second", () => {
    const deadlines = new Deadlines(10_000);
    let expired = false;
    deadlines.start(() => (expired = true));
    vi.advanceTimersByTime(9_999);
    expect(expired).toBe(false);
    vi.advanceTimersByTime(1_001);
    expect(expired).toBe(true);
  });

  it("never expires a stopped deadline, and expires the others on their own time", () => {
    const deadlines = new Deadlines(100);
    const expired: string[] = [];
    const first = deadlines.start(() => expired.push("first"));
    vi.advanceTimersByTime(50);
    deadlines.start(() => expired.push("second"));
    deadlines.stop(first);
    vi.advanceTimersByTime(75);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(50);
    expect(expired).toEqual(["second"]);
  });

  it("ends every waiting deadline at once, untimed, and none of them again; a stopped one is not ended", () => {
    const deadlines = new Deadlines(100);
    const ended: Array<[string, boolean]> = [];
    deadlines.start((timedOut) => ended.push(["first", timedOut]));
    const stopped = deadlines.start((timedOut) => ended.push(["stopped", timedOut]));
    deadlines.start((timedOut) => ended.push(["third", timedOut]));
    deadlines.stop(stopped);
    deadlines.endAll();
    expect(ended).toEqual([
      ["first", false],
      ["third", false],
    ]);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(500);
    expect(ended).toHaveLength(2);
    // A deadline started afterwards runs on a new timer.
    deadlines.start((timedOut) => ended.push(["later", timedOut]));
    vi.advanceTimersByTime(200);
    expect(ended.at(-1)).toEqual(["later", true]);
  });

  it("runs its timer only while a connection waits", () => {
    const deadlines = new Deadlines(100);
    expect(vi.getTimerCount()).toBe(0);
    const deadline = deadlines.start(() => undefined);
    expect(vi.getTimerCount()).toBe(1);
    deadlines.start(() => undefined);
    expect(vi.getTimerCount()).toBe(1);
    deadlines.stop(deadline);
    vi.advanceTimersByTime(200);
    expect(vi.getTimerCount()).toBe(0);
    deadlines.start(() => undefined);
    expect(vi.getTimerCount()).toBe(1);
  });
});
