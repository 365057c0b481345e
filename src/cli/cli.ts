// The `clientaddr` command: replay fixtures, explain one request's decision to a person, or check how a
// gateway here should be configured. `run` returns the exit code and writes only through `io`, and takes the
// machine's facts from `deps`, so tests call it directly with any topology.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { type DoctorReport, type Facts, checkConfig, diagnose, formatReport, readFacts } from "./doctor/index.js";
import { BUNDLED_FIXTURES, FixtureError, loadFixtures, replayFixture } from "./fixture.js";
import {
  type ClientAddress,
  ClientAddressConfigError,
  DEFAULT_FORWARDING_HEADER,
  DEFAULT_MAX_HOPS,
  FORWARDING_HEADERS,
  type ForwardingHeader,
  type LocalityChecks,
  parseLocalHosts,
  parseLocalOrigins,
  parseTrustedProxies,
  resolveClientAddress,
  splitList,
} from "../core/index.js";

/** Where the command writes; each call is one or more whole lines, without the final newline. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** Where `doctor` gets the machine's interfaces, routes and container evidence. */
export interface Deps {
  readFacts(): Promise<Facts>;
}

export const USAGE = `Usage:
  clientaddr replay [FILE|FOLDER]...
  clientaddr explain [--peer ADDR] [--secure] [--trusted LIST] [-H "Name: value"]...
                     [--header ${FORWARDING_HEADERS.join("|")}] [--max-hops N]
                     [--local-host NAME]... [--local-origin ORIGIN]... [--json]
  clientaddr doctor [--config FILE] [--json]
  clientaddr --help | --version

replay    Replays request fixtures (default: the fixtures bundled with clientaddr;
          folders are searched for *.json recursively) and checks each answer.
explain   Resolves one request and shows the whole decision: the answer, each hop,
          the four locality conditions and the diagnostics.
doctor    Run where the gateway runs (inside its container): shows the container
          evidence, the interfaces and default gateways, the trustedProxies entry
          to use (the gateway's single address) and how to publish the port;
          with --config, checks the file's trustedProxies against this machine.

explain options:
  --peer ADDR              the socket's remote address; omit it for a socket without one
  --secure                 the connection was TLS (an https server's; default: plain http)
  --trusted LIST           trusted proxies, comma or space separated: addresses, CIDRs,
                           loopback, linklocal, uniquelocal (default: none)
  -H, --request-header "Name: value"
                           a request header line; repeat it, the order is kept
  --header NAME            the forwarding header to believe (default: ${DEFAULT_FORWARDING_HEADER})
  --max-hops N             how many header entries to examine at most (default: ${DEFAULT_MAX_HOPS})
  --local-host NAME        another name of this machine in Host and Origin; repeatable
  --local-origin ORIGIN    an origin other than the gateway's own whose pages count as
                           local, exactly as browsers send it (http://localhost:5173);
                           repeatable
  --json                   print the request and the whole result as JSON

doctor options:
  --config FILE            a gateway config: { "gateway": { "trustedProxies": [...] } },
                           { "trustedProxies": [...] } or a JSON array
  --json                   print the facts, the recommendation and the findings as JSON

Exit status: 0 success (explain: whatever the verdict), 1 a replayed case did not
match or doctor's config check found an error, 2 a usage error (bare clientaddr
included), an unreadable or invalid fixture or config file, or a bad trusted list.
With --json, explain and doctor report such an error as JSON on stdout:
{ "error": "usage" | "trusted-proxies" | "config-file" | ..., "message": "..." }.`;


/** A problem with the command line: reported in one line, with a hint where to read the usage. */
class UsageError extends Error {}

/** A `--config` file that cannot be read or is not JSON. */
class ConfigFileError extends Error {}

/** What went wrong, for a person (one line) or, under `--json`, for a program. */
interface Failure {
  readonly error: "usage" | "trusted-proxies" | "fixture" | "config-file" | "unexpected";
  readonly message: string;
  /** The bad trustedProxies entry and its index, when that is the failure. */
  readonly entry?: unknown;
  readonly index?: number;
}

export async function run(argv: readonly string[], io: Io, deps: Deps = { readFacts }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "replay") return await replay(rest, io);
    if (command === "explain") return explain(rest, io);
    if (command === "doctor") return await doctor(rest, io, deps);
    if (command === "help") return help(io);
    // Bare `clientaddr` is a usage error (it does nothing), so the usage goes where errors go.
    if (command === undefined) {
      io.err(USAGE);
      return 2;
    }
    if (command.startsWith("-")) {
      const { values } = parseArgs({ args: [...argv], strict: true, options: { help: { type: "boolean" }, version: { type: "boolean" } } });
      return values.version && !values.help ? await version(io) : help(io);
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (error) {
    const failure = describeFailure(error);
    // A program that asked for JSON gets the failure as JSON too, on stdout where it reads the answer.
    if (rest.includes("--json") && (command === "explain" || command === "doctor")) {
      io.out(JSON.stringify(failure, null, 2));
    } else {
      const known = command === "replay" || command === "explain" || command === "doctor";
      const hint = failure.error === "usage" ? `\nTry "clientaddr ${known ? `${command} ` : ""}--help" for the usage.` : "";
      io.err(`clientaddr: ${failure.message}${hint}`);
    }
    return 2;
  }
}

function describeFailure(error: unknown): Failure {
  // parseArgs reports bad arguments as errors with an ERR_PARSE_ARGS_* code.
  const code = (error as { code?: unknown } | null)?.code;
  // Node's message can run to several lines; the error stays on one.
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ");
  if (error instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_"))) return { error: "usage", message };
  if (error instanceof ClientAddressConfigError) return { error: "trusted-proxies", message, entry: error.entry, index: error.index };
  if (error instanceof FixtureError) return { error: "fixture", message };
  if (error instanceof ConfigFileError) return { error: "config-file", message };
  return { error: "unexpected", message: `unexpected error: ${message}` };
}

function help(io: Io): number {
  io.out(USAGE);
  return 0;
}

async function version(io: Io): Promise<number> {
  const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  io.out(pkg.version);
  return 0;
}

async function replay(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, strict: true, allowPositionals: true, options: { help: { type: "boolean" } } });
  if (values.help) return help(io);
  // Load (and so validate) every file before replaying any: a bad file is exit 2, not a partial run.
  const cases = await loadFixtures(positionals.length > 0 ? positionals : [BUNDLED_FIXTURES]);
  let failed = 0;
  for (const { file, fixture } of cases) {
    const { result, mismatches } = replayFixture(fixture);
    if (mismatches.length > 0) failed++;
    const { peer, declaredSource, rawHeaders } = fixture.request;
    const { trustedProxies } = fixture.options;
    const believed = fixture.options.header ?? DEFAULT_FORWARDING_HEADER;
    const believedLines = rawHeaders.filter((_, i) => i % 2 === 1 && rawHeaders[i - 1]!.toLowerCase() === believed);
    io.out(
      [
        `${mismatches.length > 0 ? "MISMATCH" : "OK      "}  ${fixture.name}  (${shortPath(file)})`,
        `          peer ${peer?.address ?? "(none)"}${declaredSource === undefined ? "" : ` declared ${declaredSource ?? "(unknown)"} (PROXY protocol)`}  trusted ${trustedProxies.length > 0 ? trustedProxies.join(", ") : "(none)"}  ${believed} ${believedLines.length > 0 ? JSON.stringify(believedLines.join(", ")) : "(absent)"}`,
        `          answer ${result.address ?? "(unknown)"}  local ${result.loopbackEquivalent ? "yes" : "no"}  basis ${result.basis}`,
        ...mismatches.map((line) => `          ! ${line}`),
      ].join("\n"),
    );
  }
  io.out(`${cases.length - failed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

function explain(args: string[], io: Io): number {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      peer: { type: "string" },
      secure: { type: "boolean" },
      trusted: { type: "string", multiple: true },
      "request-header": { type: "string", short: "H", multiple: true },
      header: { type: "string" },
      "max-hops": { type: "string" },
      "local-host": { type: "string", multiple: true },
      "local-origin": { type: "string", multiple: true },
      json: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return help(io);

  const rawHeaders = (values["request-header"] ?? []).flatMap(headerLine);
  // Repeated --trusted lists add up rather than the last one silently winning.
  const trustedProxies = (values.trusted ?? []).flatMap(splitList);
  const header = values.header === undefined ? undefined : forwardingHeader(values.header);
  const maxHops = values["max-hops"] === undefined ? undefined : hopCount(values["max-hops"]);
  // A bad --local-host or --local-origin entry is a TypeError naming the flag and the entry: a usage error.
  const asUsage = <T>(read: () => T): T => {
    try {
      return read();
    } catch (error) {
      throw error instanceof TypeError ? new UsageError(error.message) : error;
    }
  };
  const localHosts = asUsage(() => (values["local-host"] ?? []).flatMap((text) => parseLocalHosts(text, "--local-host")));
  const localOrigins = asUsage(() => (values["local-origin"] ?? []).flatMap((text) => parseLocalOrigins(text, "--local-origin")));
  // Compiled here (not inside the resolver) so that its warnings can be shown; a bad entry throws.
  const trust = parseTrustedProxies(trustedProxies.join(","), "--trusted");

  const secure = values.secure === true;
  const result = resolveClientAddress({ remoteAddress: values.peer, secure, headers: rawHeaders, trustedProxies: trust, header, maxHops, localHosts, localOrigins });
  const request = { peer: values.peer ?? null, secure, rawHeaders, trustedProxies, header, maxHops, localHosts, localOrigins };
  const trustDiagnostics = trust.diagnostics;
  if (values.json) {
    io.out(JSON.stringify({ request, result, trustDiagnostics }, null, 2));
    return 0;
  }

  const lines = ["Request", `  peer        ${values.peer ?? "(none: the socket has no remote address)"}`, `  scheme      ${secure ? "https (--secure)" : "http"}`];
  lines.push(`  trusted     ${trustedProxies.length > 0 ? trustedProxies.join(", ") : "(none)"}`);
  lines.push(`  believes    ${header ?? DEFAULT_FORWARDING_HEADER}${header === undefined ? " (default)" : ""}`);
  if (maxHops !== undefined) lines.push(`  max hops    ${maxHops}`);
  if (localHosts.length > 0) lines.push(`  local hosts ${localHosts.join(", ")}`);
  if (localOrigins.length > 0) lines.push(`  local origins ${localOrigins.join(", ")}`);
  for (let i = 0; i < rawHeaders.length; i += 2) lines.push(`  header      ${rawHeaders[i]}: ${rawHeaders[i + 1]}`);
  if (rawHeaders.length === 0) lines.push("  header      (none)");

  lines.push("", "Answer");
  lines.push(`  client      ${result.address ?? "(unknown)"}`);
  lines.push(`  local       ${result.loopbackEquivalent ? "yes" : "no"}`);
  lines.push(`  basis       ${result.basis}`);

  lines.push("", "Path, nearest first", ...hopLines(result));

  lines.push("", "Locality conditions (all four must pass)");
  for (const [letter, key, text] of CONDITIONS) {
    lines.push(`  ${letter}. ${result.checks[key] ? "PASS" : "FAIL"}  ${text}`);
  }

  lines.push("", "Diagnostics");
  if (result.diagnostics.length === 0) lines.push("  (none)");
  for (const { code, message } of result.diagnostics) lines.push(`  [${code}] ${message}`);

  if (trustDiagnostics.length > 0) {
    lines.push("", "Trusted proxies list");
    for (const { code, message } of trustDiagnostics) lines.push(`  [${code}] ${message}`);
  }
  io.out(lines.join("\n"));
  return 0;
}

async function doctor(args: string[], io: Io, deps: Deps): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { config: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean" } },
  });
  if (values.help) return help(io);
  // The file first: an unreadable or invalid one is exit 2, before anything is reported.
  const file = values.config;
  const config = file === undefined ? undefined : await readConfig(file);
  const facts = await deps.readFacts();
  const report: DoctorReport = {
    ...diagnose(facts),
    config: file === undefined ? null : { file, findings: checkConfig(config, facts) },
  };
  io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.config?.findings.some((finding) => finding.severity === "error") ? 1 : 0;
}

async function readConfig(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ConfigFileError(`cannot read config ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConfigFileError(`config ${file} is not valid JSON: ${(error as Error).message}`);
  }
}

const CONDITIONS: ReadonlyArray<readonly [string, keyof LocalityChecks, string]> = [
  ["a", "client", "the client is loopback, or every address on the path is trusted"],
  ["b", "forwarding", "no forwarding header that the walk did not read names a client"],
  ["c", "host", "the request the browser made (Host, and what trusted proxies say of it) names this machine"],
  ["d", "origin", "no other page caused it: Origin is this server's page, or Fetch Metadata says so"],
];

function hopLines(result: ClientAddress): string[] {
  const { hops } = result;
  if (hops.length === 0) return ["  (none)"];
  const shown = hops.map((hop) => (hop.address === null ? `${JSON.stringify(hop.raw)} (not an address)` : hop.address));
  const width = Math.max(...shown.map((text) => text.length));
  return hops.map((hop, i) => {
    // The walk stops at the client, so a known client is the last hop.
    const isClient = result.address !== null && i === hops.length - 1 && hop.address === result.address;
    const trusted = hop.trusted ? "trusted" : "untrusted";
    return `  ${i + 1}. ${hop.source.padEnd(15)}  ${shown[i]!.padEnd(width)}  ${trusted.padEnd(9)}${isClient ? "  <- client" : ""}`.trimEnd();
  });
}

/** `Name: value`, split at the first colon (values such as `127.0.0.1:80` keep theirs). */
function headerLine(line: string): [string, string] {
  const colon = line.indexOf(":");
  const name = colon === -1 ? "" : line.slice(0, colon).trim();
  if (name === "") throw new UsageError(`-H ${JSON.stringify(line)} is not a header line of the form "Name: value"`);
  return [name, line.slice(colon + 1).trim()];
}

function forwardingHeader(value: string): ForwardingHeader {
  const header = FORWARDING_HEADERS.find((name) => name === value.toLowerCase());
  if (header === undefined) throw new UsageError(`--header must be one of ${FORWARDING_HEADERS.join(", ")}, got ${JSON.stringify(value)}`);
  return header;
}

function hopCount(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--max-hops must be a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** The path relative to the working folder when it lies below it, so that rows stay short. */
function shortPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
}
