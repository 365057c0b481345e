// What the namespace-lab recorders (record-nat.ts, record-docker.ts, record-podman.ts) share around their
// runs: the facts every fixture's provenance states, the one JSON line a client run in a namespace prints as
// its outcome, and the log line of each capture.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Handshake } from "../../examples/gateway/gateway.js";
import type { Fixture } from "./write-fixture.js";

/** The day of the recording, the ws package that served and dialled, and the kernel that did the NAT. */
export interface LabFacts {
  readonly date: string;
  readonly wsVersion: string;
  readonly kernel: string;
}

export function labFacts(): LabFacts {
  return {
    date: new Date().toISOString().slice(0, 10),
    wsVersion: wsVersion(),
    kernel: execFileSync("uname", ["-r"], { encoding: "utf8", timeout: 3_000 }).trim(),
  };
}

/** The version of the ws package installed here. */
export function wsVersion(): string {
  return (JSON.parse(readFileSync(new URL("../../node_modules/ws/package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/** The last line of `stdout` as JSON, or undefined when there is none or it is not JSON. */
export function lastJsonLine(stdout: string): unknown {
  const line = stdout.trim().split("\n").at(-1);
  if (line === undefined || line === "") return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * Logs one capture (its peer and the client's outcome) and returns whether the gateway's live answer is the
 * expected one; when it is not, the line says so (the fixture, written as derived, will then fail).
 */
export function logCapture(name: string, captured: Handshake, outcome: unknown, expected: Fixture["expected"]): boolean {
  const live = captured.result;
  const agrees = live.address === expected.address && live.loopbackEquivalent === expected.loopbackEquivalent && live.basis === expected.basis;
  console.log(`  ${name}: peer ${captured.request.peer?.address}, ${JSON.stringify(outcome)}${agrees ? "" : `  (the gateway said ${live.address} ${live.basis}: the fixture will fail)`}`);
  return agrees;
}
