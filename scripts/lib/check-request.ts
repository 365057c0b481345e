// What the engine and NAT recorders (record-nat.ts, record-docker.ts, record-podman.ts) check of every request
// before it becomes a fixture: it came from the peer the scenario's topology makes, carries the Host and
// Origin the client sent, and no forwarding header (nothing on the way writes one). A capture that does not
// fit is never written: the expected answer was derived for the request the scenario describes.
import type { Handshake } from "../../examples/gateway/gateway.js";

export interface RequestShape {
  /** The scenario, named in the error. */
  readonly name: string;
  readonly peer: string;
  readonly host: string;
  /** Absent: a script-like client that sends none. */
  readonly origin?: string | undefined;
  /** The gateway's own address and port the connection must arrive at, where the topology decides it. */
  readonly local?: { readonly address: string; readonly port: number };
}

/** Throws, naming every difference, unless the request fits `shape`. */
export function checkRequest(shape: RequestShape, request: Handshake["request"]): void {
  const want: Record<string, string | undefined> = {
    host: shape.host,
    origin: shape.origin,
    forwarded: undefined,
    "x-forwarded-for": undefined,
    "x-real-ip": undefined,
  };
  const problems: string[] = [];
  if (request.peer?.address !== shape.peer) problems.push(`peer ${JSON.stringify(request.peer?.address)}, expected ${shape.peer}`);
  const { local } = shape;
  if (local !== undefined && (request.local?.address !== local.address || request.local.port !== local.port)) {
    problems.push(`local ${JSON.stringify(request.local)}, expected ${local.address}:${local.port}`);
  }
  for (const [name, value] of Object.entries(want)) {
    const lines = request.rawHeaders.filter((_, i) => i % 2 === 1 && request.rawHeaders[i - 1]!.toLowerCase() === name);
    const got = lines.length === 0 ? undefined : lines.join(", ");
    if (got !== value) problems.push(`${name}: ${JSON.stringify(got)}, expected ${JSON.stringify(value)}`);
  }
  if (problems.length > 0) throw new Error(`${shape.name}: the recorded request does not fit the scenario: ${problems.join("; ")}`);
}
