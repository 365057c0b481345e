// What an open connection keeps of its PROXY protocol header, counted in the heap: v8.queryObjects (Node 20.13
// or later) counts the objects alive after a full collection, with a constructor's prototype in their chain.
// Counted before the connections and once every header is kept and the data after it consumed: the sockets'
// own objects are in the difference too, which the bounds allow for (the listener that kept an object and a
// copied Uint8Array per TLV kept 4,068 objects a connection here).
import net, { type AddressInfo } from "node:net";
import v8 from "node:v8";
import { afterEach, expect, it } from "vitest";
import { acceptProxyProtocol, proxyHeader } from "../../src/proxy-protocol/index.js";
import { v2 } from "./support.js";

const CONNECTIONS = 8;
const open: net.Socket[] = [];
let server: net.Server | undefined;

afterEach(async () => {
  for (const socket of open.splice(0)) socket.destroy();
  await new Promise((resolve) => server?.close(resolve));
});

function heap() {
  // Every ArrayBuffer's size is in its summary (util.inspect's text).
  const bytes = v8.queryObjects(ArrayBuffer, { format: "summary" }).reduce((sum, text) => sum + Number(/byteLength: (\d+)/.exec(text)?.[1] ?? 0), 0);
  return { objects: v8.queryObjects(Object, { format: "count" }), typedArrays: v8.queryObjects(Uint8Array, { format: "count" }), bytes };
}

it("a 4 KiB header of empty TLVs keeps one copy of their bytes and a few objects, until its tlvs are read", async () => {
  const tlvs = Array.from({ length: 1356 }, (_, i) => ({ type: 0xe0 + (i % 16), value: Buffer.alloc(0) }));
  const header = v2({ tlvs });
  expect(header.length).toBe(4096);
  // Sent with the header, in its segment: the kept header must not keep that alive either. (Made before the
  // count, as the test keeps it.)
  const data = Buffer.alloc(48 * 1024, 0x61);
  const sent = Buffer.concat([header, data]);
  const sockets: net.Socket[] = [];
  let consumed!: () => void;
  const allConsumed = new Promise<void>((resolve) => (consumed = resolve));
  let remaining = CONNECTIONS * data.length;
  server = acceptProxyProtocol(
    net.createServer((socket) => {
      sockets.push(socket);
      socket.on("data", (chunk: Buffer) => (remaining -= chunk.length) === 0 && consumed());
    }),
    { trustedProxies: ["127.0.0.1"] },
  );
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  const before = heap();
  for (let i = 0; i < CONNECTIONS; i++) {
    const client = net.connect({ host: "127.0.0.1", port });
    client.write(sent);
    open.push(client);
  }
  await allConsumed;
  const after = heap();

  expect(after.objects - before.objects).toBeLessThan(CONNECTIONS * 100);
  expect(after.typedArrays - before.typedArrays).toBeLessThan(CONNECTIONS * 8);
  // The TLVs' 4,068 bytes a connection, not the segment they came in; the slack is for what the process
  // allocated meanwhile (Node keeps a read's chunk of its own, listener or not).
  expect(after.bytes - before.bytes).toBeLessThan(CONNECTIONS * (4096 + 1024) + 2 * sent.length + 16 * 1024);

  const kept = proxyHeader(sockets[0]!)!;
  expect(kept.tlvs.map(({ type, value }) => [type, value.length])).toEqual(tlvs.map(({ type }) => [type, 0]));
});
