// The hand-written CRC32C against the crc-32 package (SheetJS) and a bitwise reference, in one run and split
// into pieces the way the parser feeds it.
import crc32c from "crc-32/crc32c.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CRC32C_START, crc32cFinish, crc32cUpdate } from "../../src/proxy-protocol/crc32c.js";
import { crc32cBitwise } from "./support.js";

describe("CRC32C", () => {
  it("gives RFC 3720's check value for 32 bytes of zeros, and the standard one for 123456789", () => {
    expect(crc32cFinish(crc32cUpdate(CRC32C_START, new Uint8Array(32), 0, 32))).toBe(0x8a9136aa);
    const digits = new TextEncoder().encode("123456789");
    expect(crc32cFinish(crc32cUpdate(CRC32C_START, digits, 0, digits.length))).toBe(0xe3069283);
  });

  it("agrees with crc-32 and the bitwise reference on any bytes, whole or in two pieces", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), (bytes, cut) => {
        const at = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
        const pieces = crc32cFinish(crc32cUpdate(crc32cUpdate(CRC32C_START, bytes, 0, at), bytes, at, bytes.length));
        expect(pieces).toBe(crc32c.buf(bytes, 0) >>> 0);
        expect(pieces).toBe(crc32cBitwise(bytes));
      }),
      { seed: 20261201, numRuns: 300 },
    );
  });
});
