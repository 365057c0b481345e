// Shared by the PROXY protocol tests: headers built by hand from the specification (never by the parser under
// test), a bitwise CRC32C written from RFC 4960 appendix B independently of the crc-32 package the parser uses,
// and a raw loopback client that sends bytes exactly as segmented and collects what comes back.
import net from "node:net";

/** CRC32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: slow and obviously right. */
export function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export function v1(source: string, destination: string, sourcePort = 5555, destinationPort = 80): Buffer {
  return Buffer.from(`PROXY ${source.includes(":") ? "TCP6" : "TCP4"} ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`, "latin1");
}

function ipBytes(address: string): Buffer {
  if (!address.includes(":")) return Buffer.from(address.split(".").map(Number));
  const [head, tail] = address.split("::") as [string, string | undefined];
  const groups = (text: string | undefined) => (text === undefined || text === "" ? [] : text.split(":").map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

export interface V2Spec {
  command?: number; // 0 LOCAL, 1 PROXY (default)
  version?: number; // default 2
  family?: number; // the byte: 0x11 TCP4 (default from the addresses), 0x21 TCP6, 0x00, 0x31...
  source?: string;
  destination?: string;
  sourcePort?: number;
  destinationPort?: number;
  /** Raw address block instead of source/destination (UNIX, UNSPEC). */
  block?: Buffer;
  tlvs?: Array<{ type: number; value: Buffer }>;
  /** Append a CRC32C TLV: "good", or "bad" (a wrong value). */
  crc?: "good" | "bad";
  /** Override the 16-bit length. */
  length?: number;
}

export function v2(spec: V2Spec = {}): Buffer {
  const source = spec.source ?? "203.0.113.7";
  const destination = spec.destination ?? "127.0.0.1";
  let block = spec.block;
  let family = spec.family;
  if (block === undefined) {
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(spec.sourcePort ?? 5555, 0);
    ports.writeUInt16BE(spec.destinationPort ?? 80, 2);
    block = Buffer.concat([ipBytes(source), ipBytes(destination), ports]);
    family ??= source.includes(":") ? 0x21 : 0x11;
  }
  const tlvs = [...(spec.tlvs ?? [])];
  if (spec.crc !== undefined) tlvs.push({ type: 0x03, value: Buffer.alloc(4) });
  const tlvBytes = Buffer.concat(tlvs.map(({ type, value }) => Buffer.concat([Buffer.from([type, value.length >> 8, value.length & 0xff]), value])));
  const body = Buffer.concat([block, tlvBytes]);
  const fixed = Buffer.from([((spec.version ?? 2) << 4) | (spec.command ?? 1), family ?? 0x00, 0, 0]);
  fixed.writeUInt16BE(spec.length ?? body.length, 2);
  const header = Buffer.concat([V2_SIGNATURE, fixed, body]);
  if (spec.crc !== undefined) {
    const crc = crc32cBitwise(header);
    header.writeUInt32BE(spec.crc === "good" ? crc : (crc ^ 1) >>> 0, header.length - 4);
  }
  return header;
}

export interface Exchange {
  /** Everything the server sent back. */
  readonly received: string;
  /** How the connection ended: closed by the server with nothing sent, or after an answer. */
  readonly closed: boolean;
}

/**
 * Connects from `localAddress` to 127.0.0.1:port, writes each segment (with `gapMs` between them, Nagle off so
 * each is its own TCP segment), and collects the answer until the server closes or `waitMs` passes: a bound for a
 * server that never closes, not for a slow machine (every caller waits for the close).
 */
export function exchange(port: number, segments: readonly Uint8Array[], { localAddress = "127.0.0.1", gapMs = 0, waitMs = 10_000, end = false } = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress });
    socket.setNoDelay(true);
    let received = "";
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received, closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on("data", (data) => (received += data.toString("latin1")));
    socket.on("close", () => finish(true));
    socket.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNRESET" || error.code === "EPIPE" ? finish(true) : reject(error)));
    socket.on("connect", async () => {
      for (const segment of segments) {
        if (socket.destroyed) return;
        socket.write(segment);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
      if (end) socket.end();
    });
  });
}

/** A GET whose answer ends the connection. */
export function get(path = "/", host = "127.0.0.1:18789", extra = ""): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`, "latin1");
}

/** The JSON body of an HTTP answer. */
export function body(received: string): unknown {
  const at = received.indexOf("\r\n\r\n");
  if (!received.startsWith("HTTP/1.1 200")) throw new Error(`not a 200 answer: ${JSON.stringify(received.slice(0, 200))}`);
  return JSON.parse(received.slice(at + 4));
}
