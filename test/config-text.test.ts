// Lists as environment variables hold them: read once at start-up, blank means empty, errors say where.
import { describe, expect, it } from "vitest";
import { ClientAddressConfigError, parseLocalHosts, parseLocalOrigins, parseTrustedProxies, resolveClientAddress, splitList } from "../src/core/index.js";

describe("lists written as text", () => {
  it("split on commas or whitespace, blank entries dropped; unset, empty or blank text is the empty list", () => {
    expect(splitList("172.18.0.1, fd18::1\t10.0.0.0/8\n,,loopback ")).toEqual(["172.18.0.1", "fd18::1", "10.0.0.0/8", "loopback"]);
    for (const text of [undefined, "", " ", ",", " , \n"]) expect(splitList(text), JSON.stringify(text)).toEqual([]);
  });

  it("parseTrustedProxies compiles what it read, so a gateway compiles once", () => {
    const trusted = parseTrustedProxies("172.18.0.1, loopback");
    expect(trusted.ranges).toEqual(["172.18.0.1/32", "127.0.0.0/8", "::1/128"]);
    expect(resolveClientAddress({ remoteAddress: "172.18.0.1", headers: { host: "localhost" }, trustedProxies: trusted }).loopbackEquivalent).toBe(true);
    expect(parseTrustedProxies(process.env["CLIENTADDR_TEST_UNSET_VARIABLE"]).ranges).toEqual([]);
    expect(parseTrustedProxies("").ranges).toEqual([]);
  });

  it("names the entry and where the text came from", () => {
    let error: unknown;
    try {
      parseTrustedProxies("172.18.0.1, 10.0.0.0/33", "TRUSTED_PROXIES");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ClientAddressConfigError);
    expect(error).toMatchObject({ entry: "10.0.0.0/33", index: 1 });
    expect((error as Error).message).toMatch(/^TRUSTED_PROXIES: trustedProxies\[1\] "10\.0\.0\.0\/33" has an invalid prefix length/);
    expect(() => parseTrustedProxies("nope!")).toThrow(/^trustedProxies: trustedProxies\[0\] "nope!" is not an IP address/);
  });

  it("reads localHosts and localOrigins the same way, each error naming its source", () => {
    expect(parseLocalHosts("mybox, [fd18::2]")).toEqual(["mybox", "[fd18::2]"]);
    expect(parseLocalHosts(undefined)).toEqual([]);
    expect(() => parseLocalHosts("my/box", "LOCAL_HOSTS")).toThrow(/^LOCAL_HOSTS: localHosts\[0\] must be a host name/);
    expect(parseLocalOrigins("http://localhost:5173 https://dash.example")).toEqual(["http://localhost:5173", "https://dash.example"]);
    expect(parseLocalOrigins(" ")).toEqual([]);
    expect(() => parseLocalOrigins("http://localhost:5173/app", "LOCAL_ORIGINS")).toThrow(/^LOCAL_ORIGINS: localOrigins\[0\] must be an http or https origin/);
    expect(() => parseLocalOrigins("null")).toThrow(TypeError);
    // Without a source, an error names the option itself.
    expect(() => parseLocalHosts("my/box")).toThrow(/^localHosts: localHosts\[0\]/);
    expect(() => parseLocalOrigins("null")).toThrow(/^localOrigins: localOrigins\[0\]/);
  });
});
