// The pure parts of `npm run soak` (soak/): the mix's expected verdicts, held to the library's answers here so
// that a wrong intent is found without running the soak; the generator's reading of an answer; percentiles,
// the failure checks and the last line's shape.
import net from "node:net";
import { describe, expect, it } from "vitest";
import { isCrossSite, resolveClientAddress } from "../src/core/index.js";
import { parseProxyHeader } from "../src/proxy-protocol/index.js";
import { readAnswer, run as runJob } from "../soak/load.js";
import { FAULTS, HANDSHAKES, type Intent, type MixItem, STALLED, TRUST_LISTS, expectedVerdict, mixer } from "../soak/mix.js";
import { HEAP_BOUND_MIB, MiB, type ServerRun, failures, lastLine, percentile, totals } from "../soak/report.js";

const PORT = 18789;

/** The header lines of a request head, as Node's rawHeaders gives them. */
function rawHeaders(head: string): string[] {
  const lines = head.split("\r\n");
  const end = lines.indexOf("");
  return lines.slice(1, end).flatMap((line) => {
    const colon = line.indexOf(": ");
    return [line.slice(0, colon), line.slice(colon + 2)];
  });
}

describe("the soak's request mix", () => {
  it("admits whoever is local or paired, and refuses everyone else", () => {
    const cases: Array<[Intent, string]> = [
      [{ local: true, credentials: "none", crossSite: false }, "admit"],
      [{ local: true, credentials: "wrong-token", crossSite: false }, "admit"],
      [{ local: false, credentials: "paired", crossSite: false }, "admit"],
      [{ local: false, credentials: "paired", crossSite: true }, "refuse"],
      [{ local: false, credentials: "none", crossSite: false }, "refuse"],
      [{ local: false, credentials: "wrong-token", crossSite: false }, "refuse"],
      [{ local: false, credentials: "unpaired-device", crossSite: false }, "refuse"],
    ];
    for (const [intent, verdict] of cases) expect(expectedVerdict(intent), JSON.stringify(intent)).toBe(verdict);
  });

  it("says local and cross-site exactly where the library does, under either trust list the gateway swaps between", () => {
    for (const kind of HANDSHAKES) {
      for (const n of [0, 7, 300]) {
        const connection = kind.connection(PORT, n);
        let declaredSource: string | null | undefined;
        if (connection.proxy !== undefined) {
          const parsed = parseProxyHeader(connection.proxy);
          if (parsed.status !== "header") throw new Error(`${kind.name}: the PROXY header does not parse`);
          expect(parsed.header.length, kind.name).toBe(connection.proxy.length);
          declaredSource = parsed.header.command === "local" ? undefined : (parsed.header.source?.address ?? null);
        }
        for (const list of TRUST_LISTS) {
          const answer = resolveClientAddress({ remoteAddress: connection.from, declaredSource, headers: rawHeaders(connection.head), trustedProxies: [...list] });
          expect(answer.loopbackEquivalent, `${kind.name} #${n} under ${JSON.stringify(list)}: ${answer.basis}`).toBe(kind.intent.local);
          expect(isCrossSite(answer), `${kind.name} #${n}: ${JSON.stringify(answer.origin)}`).toBe(kind.intent.crossSite);
        }
      }
    }
  });

  it("holds both verdicts, local and remote clients, and every way of arriving", () => {
    const verdicts = new Set(HANDSHAKES.map((kind) => expectedVerdict(kind.intent)));
    expect([...verdicts].sort()).toEqual(["admit", "refuse"]);
    const sources = new Set(HANDSHAKES.map((kind) => `${kind.connection(PORT, 1).from} ${kind.connection(PORT, 1).proxy === undefined ? "direct" : "proxy"}`));
    expect([...sources].sort()).toEqual(["127.0.0.1 direct", "127.0.0.2 direct", "127.0.0.3 proxy", "127.0.0.4 direct"]);
    expect(new Set(HANDSHAKES.map((kind) => kind.name)).size).toBe(HANDSHAKES.length);
  });

  it("a stalled client stops halfway through a request or PROXY header that, whole, would be admitted", () => {
    for (const kind of STALLED) {
      const connection = kind.connection(PORT, 3);
      const whole = Buffer.from(connection.head, "latin1");
      let declaredSource: string | undefined;
      if (connection.proxy === undefined) {
        // What it sends never ends its headers: only the server's headers timeout ends it.
        expect(whole.subarray(0, whole.length >> 1).includes("\r\n\r\n"), kind.name).toBe(false);
      } else {
        expect(parseProxyHeader(connection.proxy.subarray(0, connection.proxy.length >> 1)).status, kind.name).toBe("incomplete");
        const parsed = parseProxyHeader(connection.proxy);
        declaredSource = parsed.status === "header" ? parsed.header.source?.address : "not a header";
      }
      const answer = resolveClientAddress({ remoteAddress: connection.from, declaredSource, headers: rawHeaders(connection.head), trustedProxies: [...TRUST_LISTS[0]!] });
      expect(answer.loopbackEquivalent, `${kind.name}: ${answer.basis}`).toBe(true);
    }
  });

  it("picks the same sequence from the same seed, every item at about its weight", () => {
    const name = (item: MixItem) => ("handshake" in item ? item.handshake.name : item.fault.name);
    const sequence = (seed: number, length: number) => Array.from({ length }, mixer(seed)).map(name);
    const drawn = sequence(42, 50_000);
    expect(sequence(42, 1_000)).toEqual(drawn.slice(0, 1_000));
    expect(sequence(43, 1_000)).not.toEqual(drawn.slice(0, 1_000));
    const seen = new Map<string, number>();
    for (const item of drawn) seen.set(item, (seen.get(item) ?? 0) + 1);
    const weights = [...HANDSHAKES, ...FAULTS].map((kind) => [kind.name, kind.weight] as const);
    const total = weights.reduce((sum, [, weight]) => sum + weight, 0);
    for (const [item, weight] of weights) expect(Math.abs((seen.get(item) ?? 0) / drawn.length - weight / total), item).toBeLessThan(0.01);
  });
});

describe("the generator's reading of an answer", () => {
  const upgraded = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const frame = (opcode: number, payload: Buffer) => Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);

  it("admitted: a text frame saying connected; refused: a close frame 1008", () => {
    const text = frame(1, Buffer.from(JSON.stringify({ connected: true, local: true })));
    expect(readAnswer(Buffer.concat([Buffer.from(upgraded), text]))).toBe("admitted");
    const close = frame(8, Buffer.concat([Buffer.from([0x03, 0xf0]), Buffer.from("pairing required")]));
    expect(readAnswer(Buffer.concat([Buffer.from(upgraded), close]))).toBe("refused");
    expect(readAnswer(Buffer.concat([Buffer.from(upgraded), frame(8, Buffer.from([0x03, 0xe8]))]))).toBe("close 1000");
    expect(readAnswer(Buffer.concat([Buffer.from(upgraded), frame(1, Buffer.from('{"connected":false}'))]))).toBe("text");
  });

  it("waits for the whole frame, and reads an HTTP refusal by its status", () => {
    const text = frame(1, Buffer.from(JSON.stringify({ connected: true })));
    expect(readAnswer(Buffer.from(upgraded.slice(0, 20)))).toBeUndefined();
    expect(readAnswer(Buffer.concat([Buffer.from(upgraded), text.subarray(0, 5)]))).toBeUndefined();
    expect(readAnswer(Buffer.from("HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n"))).toBe("http 431");
    // clientaddr's unattributable: "reject" answers before the upgrade: a refusal as much as a close 1008.
    expect(readAnswer(Buffer.from("HTTP/1.1 403 Forbidden\r\nx-clientaddr-refusal: undeclared-proxy\r\n\r\n"))).toBe("refused");
  });
});

describe("the soak's report", () => {
  it("percentile: nearest rank over ascending values", () => {
    const values = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([3], 99)).toBe(3);
    expect(percentile(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 95)).toBe(10);
    expect(percentile([], 50)).toBeNaN();
  });

  const run = (over: Partial<ServerRun> = {}): ServerRun => ({
    name: "gateway",
    description: "",
    handshakes: 12_000,
    measured: 9_800,
    measuredMs: 5_000,
    loadCpuMs: 5_000,
    latencies: Float64Array.from([0.5, 1, 2, 4]),
    wrongAdmissions: 0,
    wrongRefusals: 0,
    unexpected: 0,
    faultAdmissions: 0,
    outcomes: Object.fromEntries(STALLED.map((kind) => [kind.name, { [kind.answer]: 4 }])),
    examples: [],
    figures: {
      start: { rss: 100 * MiB, heapUsed: 10 * MiB },
      end: { rss: 101 * MiB, heapUsed: 10.25 * MiB },
      loopDelayP99: 1,
      loopDelayMax: 2,
      cpuMs: 4_000,
      profile: { samples: 100, clientaddr: 5, byFolder: { core: 5 } },
      swaps: 10,
      refusals: 0,
      balancerErrors: {},
    },
    crashed: false,
    ...over,
  });

  it("the last line has exactly the issue's shape; a heap that shrank prints as +0.0", () => {
    const line = lastLine(totals([run(), run({ name: "fastify", latencies: Float64Array.from([3, 5]) })]));
    expect(line).toBe("soak: 24000 handshakes, 0 wrong admissions, 0 wrong refusals, heap +0.3 MiB, p99 5.0 ms");
    const shrank = run({ figures: { ...run().figures, end: { rss: 0, heapUsed: 9 * MiB } } });
    expect(lastLine(totals([shrank]))).toMatch(/^soak: \d+ handshakes, \d+ wrong admissions, \d+ wrong refusals, heap \+0\.0 MiB, p99 \d+\.\d ms$/);
  });

  it("fails the run on a wrong admission, a wrong refusal, heap growth above the bound, a crash or too few handshakes", () => {
    expect(failures([run()], 12_000)).toEqual([]);
    expect(failures([run({ wrongAdmissions: 1 })], 12_000)).toEqual([expect.stringContaining("1 wrong admissions")]);
    expect(failures([run({ wrongRefusals: 2 })], 12_000)).toEqual([expect.stringContaining("2 wrong refusals")]);
    expect(failures([run({ unexpected: 1 })], 12_000)).toHaveLength(1);
    expect(failures([run({ faultAdmissions: 1 })], 12_000)).toHaveLength(1);
    expect(failures([run({ crashed: true })], 12_000)).toHaveLength(1);
    expect(failures([run()], 12_001)).toEqual([expect.stringContaining("fewer than")]);
    const grown = (mib: number) => run({ figures: { ...run().figures, end: { rss: 0, heapUsed: 10 * MiB + mib * MiB } } });
    expect(failures([grown(HEAP_BOUND_MIB - 0.1)], 12_000)).toEqual([]);
    expect(failures([grown(HEAP_BOUND_MIB + 0.1)], 12_000)).toEqual([expect.stringContaining("above the")]);
  });

  it("fails the run when the server never ends a stalled client, or something else does", () => {
    const [first] = STALLED;
    const outcomes = (byOutcome: Record<string, number>) => run({ outcomes: { ...run().outcomes, [first!.name]: byOutcome } });
    expect(failures([outcomes({})], 12_000)).toEqual([expect.stringContaining(`no ${first!.name} connection was ended by the server`)]);
    expect(failures([outcomes({ timeout: 4 })], 12_000)).toEqual([
      expect.stringContaining(`no ${first!.name} connection was ended by the server`),
      expect.stringContaining("ended otherwise than by the server: timeout"),
    ]);
    expect(failures([outcomes({ [first!.answer]: 3, timeout: 1 })], 12_000)).toEqual([expect.stringContaining("ended otherwise than by the server: timeout")]);
  });
});

describe("the load generator's job", () => {
  /**
   * A server that answers every whole request with a 400 at once, and ends the stalled ones (a 408 for a cut-off
   * request, a close for a cut-off PROXY header) only after every handshake of the job has been answered and
   * closed by its client: a machine as fast as can be, where the handshakes are done long before any stall
   * timeout would fire.
   */
  function stallAfterHandshakes(handshakes: number): Promise<net.Server> {
    let closedAnswered = 0;
    const pending = new Set<() => void>();
    const server = net.createServer((socket) => {
      let data = Buffer.alloc(0);
      let answered = false;
      const endStalled = () => {
        pending.delete(endStalled);
        if (parseProxyHeader(data).status === "incomplete") socket.destroy();
        else socket.end("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
      };
      socket.on("error", () => {});
      socket.on("close", () => {
        pending.delete(endStalled);
        if (answered && ++closedAnswered === handshakes) for (const end of [...pending]) end();
      });
      socket.on("data", (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        const proxy = parseProxyHeader(data);
        const head = proxy.status === "header" ? data.subarray(proxy.header.length) : proxy.status === "incomplete" ? Buffer.alloc(0) : data;
        if (!answered && head.includes("\r\n\r\n")) {
          answered = true;
          pending.delete(endStalled);
          socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        } else if (!answered) {
          if (closedAnswered >= handshakes) endStalled();
          else pending.add(endStalled);
        }
      });
    });
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
  }

  it("waits for the server to end each stalled client, however soon the handshakes are done", async () => {
    const handshakes = 40;
    const server = await stallAfterHandshakes(handshakes);
    try {
      const port = (server.address() as net.AddressInfo).port;
      const result = await runJob({ port, handshakes, concurrency: 4, slow: 0, stalled: 1, faults: false, seed: 7 });
      expect(result.handshakes).toBe(handshakes);
      for (const kind of STALLED) {
        const outcomes = result.outcomes[kind.name] ?? {};
        // Every stalled client ended the way this server ends it, none by the generator.
        expect(Object.keys(outcomes), kind.name).toEqual([kind.answer]);
        expect(outcomes[kind.answer], kind.name).toBeGreaterThan(0);
      }
    } finally {
      server.close();
    }
  }, 30_000);
});
