// A load-generator worker of `npm run soak`, forked by soak/run.ts (`node --import tsx soak/load.ts`, IPC with
// structured-clone serialization). For each job it receives it opens raw TCP connections on loopback, from the
// address the request's kind names, keeping `concurrency` in flight: it writes the PROXY header (if any) and
// the upgrade request, reads the 101 answer and the first WebSocket frame (a text frame saying
// {connected: true} is an admission, a close frame 1008 or a 403 answer a refusal), sends a close frame of its own and waits
// for the server to close the connection, so that the TIME_WAIT sockets are the server's and the client's
// ports are free for the next connection. Faults, slow clients and stalled clients run beside the handshakes;
// a job ends when every connection it opened has ended by itself (the stalled ones when the server ends them,
// or ANSWER_TIMEOUT_MS, well past the servers' stall timeout, whichever is first), however fast the handshakes
// went. It sends back the outcome of every kind and the latency of every handshake.
import net from "node:net";
import { type Connection, type FaultKind, type HandshakeKind, SLOW, STALLED, expectedVerdict, mixer } from "./mix.js";

export interface Job {
  port: number;
  /** Handshakes to complete (faults and slow clients come on top). */
  handshakes: number;
  concurrency: number;
  /** Slow clients kept in flight beside the others (0: none). */
  slow: number;
  /** Stalled clients of each STALLED kind kept in flight beside the others (0: none). */
  stalled: number;
  /** Whether faults are mixed in. */
  faults: boolean;
  seed: number;
}

export interface JobResult {
  handshakes: number;
  /** Outcomes by kind name: "admitted", "refused", or what else happened ("http 400", "closed", "timeout"...). */
  outcomes: Record<string, Record<string, number>>;
  wrongAdmissions: number;
  wrongRefusals: number;
  /** Handshakes expected refused that ended otherwise than with a refusal, not admitted either. */
  unexpected: number;
  /** Fault, slow and stalled connections that ended admitted. */
  faultAdmissions: number;
  /** The first few wrong answers, for the report. */
  examples: string[];
  /** Milliseconds from connect to the verdict, one per handshake. */
  latencies: Float64Array;
  wallMs: number;
  /** This worker's CPU time (user + system) over the job, in milliseconds. */
  cpuMs: number;
}

/** How long any connection may wait for its answer or its end: past it, the outcome is "timeout" (a failure for a stalled kind). */
const ANSWER_TIMEOUT_MS = 15_000;
// A slow client's request (about 500 bytes) takes about two seconds to arrive.
const SLOW_CHUNK = 8;
const SLOW_EVERY_MS = 30;
/** The client's close frame: FIN + close, masked, code 1000 (masked with a zero key, which leaves it as is). */
const CLOSE_FRAME = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
const HEADER_END = Buffer.from("\r\n\r\n");

/** Reads the answer in `data`: undefined while incomplete. */
export function readAnswer(data: Buffer): string | undefined {
  const end = data.indexOf(HEADER_END);
  if (end === -1) return data.length > 65_536 ? "garbage" : undefined;
  const status = /^HTTP\/1\.1 (\d{3})/.exec(data.toString("latin1", 0, Math.min(end, 32)))?.[1];
  // A 403 is a refusal before the upgrade (clientaddr's unattributable: "reject").
  if (status !== "101") return status === undefined ? "garbage" : status === "403" ? "refused" : `http ${status}`;
  let at = end + 4;
  if (data.length < at + 2) return undefined;
  const opcode = data[at]! & 0x0f;
  let length = data[at + 1]! & 0x7f;
  at += 2;
  if (length === 126) {
    if (data.length < at + 2) return undefined;
    length = data.readUInt16BE(at);
    at += 2;
  } else if (length === 127) return "frame too long";
  if (data.length < at + length) return undefined;
  const payload = data.subarray(at, at + length);
  if (opcode === 0x8) {
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    return code === 1008 ? "refused" : `close ${code}`;
  }
  if (opcode === 0x1) {
    try {
      return (JSON.parse(payload.toString("utf8")) as { connected?: unknown }).connected === true ? "admitted" : "text";
    } catch {
      return "text";
    }
  }
  return `opcode ${opcode}`;
}

type Action = "send" | "slow" | "stall" | FaultKind["action"];

/** One connection to its end: the answer (or how it ended) and when the answer came. */
function exchange(port: number, connection: Connection, action: Action): Promise<{ outcome: string; latency: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const request = connection.proxy === undefined ? Buffer.from(connection.head, "latin1") : Buffer.concat([connection.proxy, Buffer.from(connection.head, "latin1")]);
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: connection.from });
    socket.setNoDelay(true);
    let received: Buffer | null = null;
    let outcome: string | undefined;
    let latency = 0;
    let drip: NodeJS.Timeout | undefined;
    let failure: string | undefined;
    const timer = setTimeout(() => {
      outcome ??= "timeout";
      socket.destroy();
    }, ANSWER_TIMEOUT_MS);
    socket.on("connect", () => {
      if (action === "reset-midway") {
        socket.write(request.subarray(0, request.length >> 1), () => socket.resetAndDestroy());
      } else if (action === "close-after-sending") {
        socket.write(request, () => socket.destroy());
      } else if (action === "stall") {
        socket.write(request.subarray(0, (connection.proxy ?? request).length >> 1));
      } else if (action === "slow") {
        let sent = 0;
        drip = setInterval(() => {
          socket.write(request.subarray(sent, sent + SLOW_CHUNK));
          sent += SLOW_CHUNK;
          if (sent >= request.length) clearInterval(drip);
        }, SLOW_EVERY_MS);
      } else {
        socket.write(request);
      }
    });
    socket.on("data", (chunk: Buffer) => {
      if (outcome !== undefined) return;
      received = received === null ? chunk : Buffer.concat([received, chunk]);
      outcome = readAnswer(received);
      if (outcome === undefined) return;
      latency = performance.now() - started;
      // The closing handshake: the server, having both close frames, closes first (and keeps the TIME_WAIT);
      // this socket ends when it sees the server's FIN (allowHalfOpen is off).
      if (outcome === "admitted" || outcome === "refused") socket.write(CLOSE_FRAME);
      else socket.destroy();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => void (failure ??= error.code ?? error.message));
    socket.on("close", () => {
      clearTimeout(timer);
      clearInterval(drip);
      if (outcome === undefined) {
        if (action === "reset-midway" || action === "close-after-sending") outcome = "cut";
        else outcome = failure === undefined ? "closed" : `error ${failure}`;
      }
      resolve({ outcome, latency });
    });
  });
}

export async function run(job: Job): Promise<JobResult> {
  const next = mixer(job.seed);
  const outcomes: JobResult["outcomes"] = {};
  const result: Omit<JobResult, "latencies" | "wallMs" | "cpuMs"> = { handshakes: 0, outcomes, wrongAdmissions: 0, wrongRefusals: 0, unexpected: 0, faultAdmissions: 0, examples: [] };
  let latencies = new Float64Array(1024);
  const note = (name: string, outcome: string) => {
    const byOutcome = (outcomes[name] ??= {});
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
  };
  const wrong = (text: string) => void (result.examples.length < 10 && result.examples.push(text));
  const checkHandshake = (kind: HandshakeKind, n: number, outcome: string, latency: number) => {
    note(kind.name, outcome);
    if (result.handshakes === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[result.handshakes++] = latency;
    const expected = expectedVerdict(kind.intent);
    if (expected === "refuse" && outcome === "admitted") result.wrongAdmissions++;
    else if (expected === "admit" && outcome !== "admitted") result.wrongRefusals++;
    else if (expected === "refuse" && outcome !== "refused") result.unexpected++;
    else return;
    wrong(`${kind.name} #${n}: expected ${expected}, got ${outcome} (${kind.why})`);
  };

  const started = performance.now();
  let cpu = process.cpuUsage();
  /** When the last handshake ended (the job's time; slow and stalled clients still in flight run to their end). */
  let ended: number | undefined;
  let launched = 0;
  let n = 0;
  let inFlight = 0;
  // Slow and stalled clients in flight, by the name they are reported under.
  const backgroundInFlight = new Map<string, number>();
  /** A fault's, slow or stalled client's outcome: anything but an admission is the server surviving it. */
  const noteFault = (name: string, index: number, outcome: string) => {
    note(name, outcome);
    if (outcome !== "admitted") return;
    result.faultAdmissions++;
    wrong(`${name} #${index}: admitted`);
  };
  await new Promise<void>((resolve) => {
    /** Keeps `wanted` connections of one background kind in flight while handshakes are still to be launched. */
    const keepInFlight = (name: string, wanted: number, connection: (index: number) => Connection, action: "slow" | "stall") => {
      while ((backgroundInFlight.get(name) ?? 0) < wanted && launched < job.handshakes) {
        backgroundInFlight.set(name, (backgroundInFlight.get(name) ?? 0) + 1);
        const index = n++;
        void exchange(job.port, connection(index), action).then(({ outcome }) => {
          noteFault(name, index, outcome);
          backgroundInFlight.set(name, backgroundInFlight.get(name)! - 1);
          settle();
        });
      }
    };
    const fill = () => {
      while (inFlight < job.concurrency && launched < job.handshakes) {
        const item = next();
        const index = n++;
        inFlight++;
        if ("fault" in item) {
          if (!job.faults) {
            inFlight--;
            continue;
          }
          const fault = item.fault;
          void exchange(job.port, fault.connection(job.port, index), fault.action).then(({ outcome }) => {
            noteFault(fault.name, index, outcome);
            inFlight--;
            settle();
          });
        } else {
          launched++;
          const kind = item.handshake;
          void exchange(job.port, kind.connection(job.port, index), "send").then(({ outcome, latency }) => {
            checkHandshake(kind, index, outcome, latency);
            inFlight--;
            settle();
          });
        }
      }
      keepInFlight(`slow-client (${SLOW.name})`, job.slow, (index) => SLOW.connection(job.port, index), "slow");
      for (const kind of STALLED) keepInFlight(kind.name, job.stalled, (index) => kind.connection(job.port, index), "stall");
    };
    const settle = () => {
      fill();
      if (inFlight > 0 || launched < job.handshakes) return;
      if (ended === undefined) {
        ended = performance.now();
        cpu = process.cpuUsage(cpu);
      }
      if ([...backgroundInFlight.values()].every((count) => count === 0)) resolve();
    };
    fill();
  });
  return { ...result, latencies: latencies.slice(0, result.handshakes), wallMs: ended! - started, cpuMs: (cpu.user + cpu.system) / 1000 };
}

// Forked by soak/run.ts with this argument; imported (by the unit tests) it does nothing.
if (process.argv[2] === "--worker" && process.send !== undefined) {
  process.on("message", (job: Job) => void run(job).then((result) => process.send!(result)));
  process.on("disconnect", () => process.exit(0));
}
