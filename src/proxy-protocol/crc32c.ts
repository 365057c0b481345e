// CRC32C (Castagnoli, RFC 4960 appendix B), the checksum a v2 PROXY header may carry. Written here, table
// driven, so that forwarded-parse stays the package's one runtime dependency; held to the crc-32 package
// (SheetJS, a development dependency) and to a bitwise reference by test/proxy-protocol/crc32c.test.ts.

const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  TABLE[n] = c >>> 0;
}

/** The running value (start from `CRC32C_START`) over bytes[start, end), read in place. */
export function crc32cUpdate(crc: number, bytes: ArrayLike<number>, start: number, end: number): number {
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

export const CRC32C_START = 0xffffffff;

/** The checksum of a running value. */
export function crc32cFinish(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0;
}
