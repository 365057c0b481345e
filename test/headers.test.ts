// The three header shapes, read once: Node's object, Node's raw list, WHATWG Headers.
import { describe, expect, it } from "vitest";
import { type HeaderValues, readHeaders } from "../src/core/headers.js";
import { type ForwardingHeader, PROXY_HEADERS, bitOf } from "../src/core/proxy-headers.js";

const blank = (believed: ForwardingHeader, fill: string | undefined): HeaderValues => ({
  host: fill, origin: fill, secFetchSite: fill, believedBit: bitOf(believed), believed: fill, keptBits: 0, kept: null, xForwardedHost: fill, xForwardedProto: fill, xForwardedPort: fill, proxyHeaders: fill === undefined ? 0 : -1,
});
/** Host, Origin and the believed header's value (X-Forwarded-For unless said), read into stale values. */
const read = (input: unknown, believed: ForwardingHeader = "x-forwarded-for") => {
  const headers = blank(believed, "stale");
  readHeaders(input, headers);
  return { host: headers.host, origin: headers.origin, believed: headers.believed };
};

describe("request headers", () => {
  it("read Node's object, joining a list value with commas, and refusing lists that are empty or not text", () => {
    expect(read({ host: "localhost", "x-forwarded-for": ["203.0.113.7", "10.0.0.3"] })).toMatchObject({ host: "localhost", believed: "203.0.113.7, 10.0.0.3" });
    expect(read({ host: ["localhost"] }).host).toBe("localhost");
    expect(read({ host: [] }).host).toBeNull();
    expect(read({ host: ["localhost", 7] }).host).toBeNull();
    expect(read({ host: 7 }).host).toBeNull();
    expect(read({}).host).toBeUndefined();
  });

  it("read a raw list in one pass: names case-insensitively, repeated lines joined in order, non-text values fail closed", () => {
    const raw = ["HOST", "a", "Origin", "o", "X-Real-IP", "r", "Forwarded", "f", "x-forwarded-for", "1", "X-FORWARDED-FOR", "2", "Date", "d", "Hosts", "h"];
    expect(read(raw)).toEqual({ host: "a", origin: "o", believed: "1, 2" });
    expect(read(raw, "forwarded").believed).toBe("f");
    expect(read(raw, "x-real-ip").believed).toBe("r");
    expect(read(["CF-Connecting-IP", "203.0.113.7", "X-Forwarded-For", "1"], "cf-connecting-ip").believed).toBe("203.0.113.7");
    expect(read(["Host", 7, "Host", "b"]).host).toBeNull(); // once unreadable, the joined value stays unreadable
    expect(read(["Host", "a", "Host", 7]).host).toBeNull();
    expect(read([7, "localhost", "Host", "b"]).host).toBe("b"); // a name that is not text names nothing
    expect(read(["Host"]).host).toBeNull(); // a name without a value
    expect(read(["Hos", "x", "Origins", "y", "Forwarde", "z", "X-Real-IP2", "w", "X-Forwarded-Fo", "v"])).toEqual({ host: undefined, origin: undefined, believed: undefined });
  });

  it("read a WHATWG Headers (its get joins repeated values), and fail closed if get throws", () => {
    const headers = new Headers([["Host", "a"], ["X-Forwarded-For", "1"], ["X-Forwarded-For", "2"]]);
    expect(read(headers)).toMatchObject({ host: "a", believed: "1, 2", origin: undefined });
    expect(read({ get: () => { throw new Error("boom"); } }).host).toBeNull();
  });

  it("read nothing from anything else", () => {
    for (const input of [undefined, null, "host: a", 7]) expect(read(input)).toEqual({ host: undefined, origin: undefined, believed: undefined });
  });
});

describe("proxy headers and Fetch Metadata", () => {
  const bits = (input: unknown) => {
    const headers = blank("x-forwarded-for", undefined);
    readHeaders(input, headers);
    return { site: headers.secFetchSite, names: PROXY_HEADERS.filter((_, i) => (headers.proxyHeaders & (1 << i)) !== 0).map((row) => row.name) };
  };

  it("sets one bit per proxy header present, in every shape, whatever the case of its name", () => {
    const expected = { site: "cross-site", names: ["x-forwarded-for", "x-forwarded-proto", "via", "tailscale-user-login"] };
    const raw = ["VIA", "1.1 a", "Sec-Fetch-Site", "cross-site", "X-Forwarded-Proto", "https", "tailscale-user-login", "u@example.com", "X-Forwarded-For", "1.2.3.4", "Via", "1.1 b"];
    expect(bits(raw)).toEqual(expected);
    expect(bits({ via: "1.1 a", "sec-fetch-site": "cross-site", "x-forwarded-proto": ["https"], "Tailscale-User-Login": "u", "x-forwarded-for": "1.2.3.4" })).toEqual(expected);
    expect(bits(new Headers(raw.reduce<[string, string][]>((pairs, item, i) => (i % 2 === 0 ? [...pairs, [item, raw[i + 1]!]] : pairs), [])))).toEqual(expected);
  });

  it("counts a proxy header whose value is not text as present, and ignores an absent (undefined) one", () => {
    expect(bits(["Via", 7]).names).toEqual(["via"]);
    expect(bits({ via: 7, "x-forwarded-host": undefined }).names).toEqual(["via"]);
    expect(bits({}).names).toEqual([]);
  });

  it("joins repeated Sec-Fetch-Site lines, so that two never read as one allowed value", () => {
    expect(bits(["Sec-Fetch-Site", "same-origin", "sec-fetch-site", "same-origin"]).site).toBe("same-origin, same-origin");
  });

  it("ignores names that only look like the table's", () => {
    expect(bits(["Vias", "x", "Via2", "y", "CF-Connecting-IP6", "z", "Sec-Fetch-Sites", "none", "Sec-Fetch-Mode", "navigate", "sec-fetch-DEST", "image", "X-Forwarded", "a", "X-Forwardedfor", "b", "X-Forwarded-", "c"])).toEqual({ site: undefined, names: [] });
  });

  it("folds the case of ASCII letters only, A to Z: every row's name in capitals is read, and a control character is no hyphen", () => {
    for (const row of PROXY_HEADERS) {
      const name = row.name === "x-forwarded-" ? "X-FORWARDED-ZONE" : row.name.toUpperCase();
      expect(bits([name, "1.2.3.4"]).names, name).toEqual([row.name]);
      expect(bits({ [name]: "1.2.3.4" }).names, name).toEqual([row.name]);
    }
    // CR is 0x0d and a hyphen 0x2d: setting the case bit of any character would read this name as X-Forwarded-For.
    for (const input of [["X\rForwarded\rFor", "127.0.0.1"], { "X\rFORWARDED\rFOR": "127.0.0.1" }, { "x\rforwarded\rfor": "127.0.0.1" }]) {
      expect(read(input).believed, JSON.stringify(input)).toBeUndefined();
      expect(bits(input).names, JSON.stringify(input)).toEqual([]);
    }
  });

  it("reads any other X-Forwarded-* name, however long, as the prefix row, and its value nowhere", () => {
    for (const name of ["X-Forwarded-Protocol", "X-Forwarded-Fot", `X-Forwarded-For${"-".repeat(60)}`, "x-forwarded-user"]) {
      expect(bits([name, "1.2.3.4"]), name).toEqual({ site: undefined, names: ["x-forwarded-"] });
      expect(read([name, "1.2.3.4"]), name).toEqual({ host: undefined, origin: undefined, forwarded: undefined, xff: undefined, xRealIp: undefined });
    }
    // A WHATWG Headers lists its names; one whose listing throws is read as carrying the prefix row (fail closed).
    expect(bits(new Headers([["X-Forwarded-User", "alice"]])).names).toEqual(["x-forwarded-"]);
    const broken = { get: () => null, keys: () => { throw new Error("boom"); } };
    expect(bits(broken).names).toEqual(["x-forwarded-"]);
    expect(bits({ get: () => null, keys: () => [7, "accept"] }).names).toEqual([]);
  });
});
