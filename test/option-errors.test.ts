// A bad option stops the gateway at start-up with one error type, naming the option at fault, the entry as
// given and, for an option that is not a list, index -1.
import { describe, expect, it } from "vitest";
import { ClientAddressConfigError, type ResolverOptions, createResolver } from "../src/core/index.js";

function errorOf(options: unknown): ClientAddressConfigError {
  try {
    createResolver(options as ResolverOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(ClientAddressConfigError);
    return error as ClientAddressConfigError;
  }
  throw new Error("createResolver did not throw");
}

describe("option errors name the option, the value and what was expected", () => {
  it.each([
    [null, "options must be an object, got null"],
    ["trust me", "options must be an object, got string"],
  ])("options themselves: %j", (options, message) => {
    const error = errorOf(options);
    expect(error).toMatchObject({ name: "ClientAddressConfigError", option: "options", entry: options, index: -1, message });
  });

  it("verify that is not a function", () => {
    expect(errorOf({ verify: "whois" })).toMatchObject({ option: "verify", entry: "whois", index: -1, message: "verify must be a function, got string" });
  });

  it("unattributable that is neither warn nor reject", () => {
    expect(errorOf({ unattributable: "deny" })).toMatchObject({ option: "unattributable", entry: "deny", index: -1, message: 'unattributable must be "warn" or "reject", got "deny"' });
  });
});
