// The `clientaddr` command: replay fixtures, explain one request's decision to a person, or check how a
// gateway here should be configured. `run` returns the exit code and writes only through `io`, and takes the
// machine's facts from `deps`, so tests call it directly with any topology. It reads the environment only for
// `doctor --trusted-env NAME`, and then only the variable named.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { type CheckedSource, type DoctorReport, type Facts, checkConfig, diagnose, formatReport, readFacts } from "./doctor/index.js";
import { BUNDLED_FIXTURES, FixtureError, loadFixtures, replayFixture } from "./fixture.js";
import {
  type ClientAddress,
  ClientAddressConfigError,
  DEFAULT_FORWARDING_HEADER,
  DEFAULT_MAX_HOPS,
  FORWARDING_HEADERS,
  type ForwardingHeader,
  type LocalityChecks,
  PRESETS,
  PRESET_NAMES,
  type PresetName,
  canonicalAddress,
  parseLocalHosts,
  parseLocalOrigins,
  parseTrustedProxies,
  resolveClientAddress,
  splitList,
} from "../index.js";

/** Where the command writes; each call is one or more whole lines, without the final newline. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/** Where `doctor` gets the machine's interfaces, routes and container evidence. */
export interface Deps {
  readFacts(): Promise<Facts>;
}

const COMMANDS = ["replay", "explain", "doctor"] as const;
type Command = (typeof COMMANDS)[number];

/** `clientaddr --help`: the commands, one line each. */
export const USAGE = `Usage:
  clientaddr COMMAND [OPTION]... [ARGUMENT]...
  clientaddr --help | --version

Commands:
  replay    replays request fixtures and checks each answer (default: the bundled ones)
  explain   resolves one request and shows the whole decision, hop by hop
  doctor    shows which trustedProxies a gateway run here needs, and checks a given list

Run "clientaddr COMMAND --help" for a command's usage, options and examples.

Exit status: 0 success, 1 a replayed case did not match or doctor's check found an
error, 2 a usage error or an input that cannot be used.`;

/** `clientaddr COMMAND --help`: the command's usage, options and examples. */
export const COMMAND_HELP: Readonly<Record<Command, string>> = {
  replay: `Usage:
  clientaddr replay [FILE|FOLDER]...

Replays request fixtures through the resolver and checks each answer: a block per
case (the peer, the believed header, the answer, OK or MISMATCH), then "N passed,
M failed". Without arguments it replays the fixtures bundled with clientaddr; a
folder is searched for *.json recursively (*.schema.json files excepted). Every
file is checked against the fixture format before any is replayed: the package's
fixtures/fixture.schema.json (JSON Schema) describes it.

Options:
  --help                   show this help

Examples:
  clientaddr replay
  clientaddr replay my-fixtures/
  clientaddr replay my-fixtures/docker-bridge.json more-fixtures/

Exit status: 0 every case matched, 1 a case did not match, 2 a usage error, or a
path or file that cannot be read or is not a valid fixture.`,

  explain: `Usage:
  clientaddr explain [--peer ADDR] [--secure] [--preset NAME] [--trusted LIST]
                     [-H "Name: value"]... [--header NAME] [--max-hops N]
                     [--local-host NAME]... [--local-origin ORIGIN]... [--json]

Resolves one request and shows the whole decision: the answer, each hop, the four
locality conditions and the diagnostics.

Options:
  --peer ADDR              the socket's remote address, an IP address (127.0.0.1, ::1);
                           omit it for a socket without one
  --secure                 the connection was TLS (an https server's; default: plain http)
  --preset NAME            the front in one word: its trust and believed header, and the
                           headers it also writes:
${wrapped(PRESET_NAMES.join(", "), 27, 84)}
  --trusted LIST           trusted proxies, comma or space separated: addresses, CIDRs,
                           loopback, linklocal, uniquelocal (default: none, or the
                           preset's, to which these add); repeatable
  -H, --request-header "Name: value"
                           a request header line; repeat it, the order is kept
  --header NAME            the forwarding header to believe (default: ${DEFAULT_FORWARDING_HEADER}):
${wrapped(FORWARDING_HEADERS.join(", "), 27, 84)}
  --max-hops N             how many header entries to examine at most (default: ${DEFAULT_MAX_HOPS})
  --local-host NAME        another name of this machine in Host and Origin; repeatable
  --local-origin ORIGIN    an origin other than the gateway's own whose pages count as
                           local, exactly as browsers send it (http://localhost:5173);
                           repeatable
  --json                   print the request and the whole result as JSON
  --help                   show this help

Examples:
  # A Docker bridge gateway, untrusted: not local, and the diagnostic names it
  clientaddr explain --peer 172.18.0.1 -H "Host: 127.0.0.1:18789"
  # The same gateway trusted: local
  clientaddr explain --peer 172.18.0.1 --trusted 172.18.0.1 -H "Host: 127.0.0.1:18789"
  # A remote client behind a proxy on this machine, as JSON
  clientaddr explain --peer 127.0.0.1 --trusted loopback -H "X-Forwarded-For: 203.0.113.7" --json

Exit status: 0 whatever the verdict, 2 a usage error or a bad --trusted list. With
--json such an error is JSON on stdout: { "error": "usage" | "trusted-proxies", "message": "..." }.`,

  doctor: `Usage:
  clientaddr doctor [--config FILE | --trusted LIST | --trusted-env NAME] [--preset NAME]
                    [--json]

Run where the gateway runs (inside its container): shows the container evidence,
the interfaces and default gateways, the trustedProxies entry to use (the gateway's
single address) and how to publish the port. Given a trusted proxies list, checks
it against this machine.

Options:
  --config FILE            check the list in a gateway config file:
                           { "gateway": { "preset": ..., "trustedProxies": [...] } },
                           { "trustedProxies": [...] } or a JSON array
  --trusted LIST           check this list, comma or space separated (as explain's --trusted)
  --trusted-env NAME       check the list in the environment variable NAME, comma or space
                           separated (TRUSTED_PROXIES for the example gateway)
  --preset NAME            the gateway's preset, whose entries the list adds to:
${wrapped(PRESET_NAMES.join(", "), 27, 84)}
  --json                   print the facts, the recommendation and the findings as JSON
  --help                   show this help
At most one of --config, --trusted and --trusted-env.

Examples:
  # Inside the gateway's container: what to trust, and the list it was started with
  clientaddr doctor --trusted-env TRUSTED_PROXIES
  clientaddr doctor --config gateway.json
  clientaddr doctor --preset caddy --trusted proxy,172.18.0.1 --json

Exit status: 0 no error found, 1 the check found an error in the list, 2 a usage
error, a config file that cannot be read or is not JSON, or an unset --trusted-env
variable. With --json such an error is JSON on stdout:
{ "error": "usage" | "config-file" | "environment", "message": "..." }.`,
};

/** A problem with the command line: reported in one line, with a hint where to read the usage. */
class UsageError extends Error {}

/** A `--config` file that cannot be read or is not JSON. */
class ConfigFileError extends Error {}

/** A `--trusted-env` variable that is not set. */
class EnvironmentError extends Error {}

/** What went wrong, for a person (one line) or, under `--json`, for a program. */
interface Failure {
  readonly error: "usage" | "trusted-proxies" | "fixture" | "config-file" | "environment" | "unexpected";
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
    if (command === "help") return help(io, USAGE);
    // Bare `clientaddr` is a usage error (it does nothing), so the usage goes where errors go.
    if (command === undefined) {
      io.err(USAGE);
      return 2;
    }
    if (command.startsWith("-")) {
      const { values } = parseCommand({ args: [...argv], strict: true, options: { help: { type: "boolean" }, version: { type: "boolean" } } });
      return values.version && !values.help ? await version(io) : help(io, USAGE);
    }
    throw new UsageError(`unknown command "${command}"`);
  } catch (error) {
    const failure = describeFailure(error);
    // A program that asked for JSON gets the failure as JSON too, on stdout where it reads the answer.
    if (rest.includes("--json") && (command === "explain" || command === "doctor")) {
      io.out(JSON.stringify(failure, null, 2));
    } else {
      const known = COMMANDS.find((name) => name === command);
      const hint = failure.error === "usage" ? `\nTry "clientaddr ${known === undefined ? "" : `${known} `}--help" for the usage.` : "";
      io.err(`clientaddr: ${failure.message}${hint}`);
    }
    return 2;
  }
}

function describeFailure(error: unknown): Failure {
  // Node's message can run to several lines; the error stays on one.
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ");
  if (error instanceof UsageError || isParseArgsError(error)) return { error: "usage", message };
  if (error instanceof ClientAddressConfigError) return { error: "trusted-proxies", message, entry: error.entry, index: error.index };
  if (error instanceof FixtureError) return { error: "fixture", message };
  if (error instanceof ConfigFileError) return { error: "config-file", message };
  if (error instanceof EnvironmentError) return { error: "environment", message };
  return { error: "unexpected", message: `unexpected error: ${message}` };
}

/** parseArgs reports bad arguments as errors with an ERR_PARSE_ARGS_* code. */
function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_");
}

/**
 * parseArgs (strict), with its refusal of an argument as a usage error in this command's words: Node's own
 * messages quote its API ("argument is ambiguous", "positional arguments") and can run over several lines.
 */
function parseCommand<T extends ParseArgsConfig & { strict: true }>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    const problem = isParseArgsError(error) ? argumentProblem(config) : undefined;
    // A refusal this does not know (a later Node's) keeps Node's words; it is still a usage error.
    throw problem === undefined ? error : new UsageError(problem);
  }
}

/** The first argument strict parseArgs refuses, read from its tokens (which do not depend on strictness). */
function argumentProblem({ args = [], options = {}, allowPositionals = false }: ParseArgsConfig): string | undefined {
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === "positional" && !allowPositionals) return `unexpected argument ${JSON.stringify(token.value)}: this command takes options only`;
    if (token.kind !== "option") continue;
    const { rawName, value, inlineValue } = token;
    const type = Object.hasOwn(options, token.name) ? options[token.name]!.type : undefined;
    if (type === undefined) return `unknown option ${rawName}`;
    if (type === "boolean" && value !== undefined) return `option ${rawName} takes no value, got ${JSON.stringify(value)}`;
    if (type === "string" && value === undefined) return `option ${rawName} needs a value`;
    // What follows a string option is its value, unless it looks like another option: then it was most likely left out.
    if (type === "string" && !inlineValue && value !== undefined && value.length > 1 && value.startsWith("-")) {
      return `option ${rawName} needs a value, and ${JSON.stringify(value)} after it looks like an option (write ${rawName}=${value} if it is the value)`;
    }
  }
  return undefined;
}

function help(io: Io, text: string): number {
  io.out(text);
  return 0;
}

async function version(io: Io): Promise<number> {
  const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  io.out(pkg.version);
  return 0;
}

async function replay(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand({ args, strict: true, allowPositionals: true, options: { help: { type: "boolean" } } });
  if (values.help) return help(io, COMMAND_HELP.replay);
  // Load (and so validate) every file before replaying any: a bad file is exit 2, not a partial run.
  const cases = await loadFixtures(positionals.length > 0 ? positionals : [BUNDLED_FIXTURES]);
  let failed = 0;
  for (const { file, fixture } of cases) {
    const { result, mismatches } = replayFixture(fixture);
    if (mismatches.length > 0) failed++;
    const { peer, declaredSource, rawHeaders } = fixture.request;
    const row = PRESETS.find((candidate) => candidate.name === fixture.options.preset);
    const trustedProxies = [...(row?.trustedProxies ?? []), ...fixture.options.trustedProxies];
    const believed = fixture.options.header ?? row?.header ?? DEFAULT_FORWARDING_HEADER;
    const believedLines = rawHeaders.filter((_, i) => i % 2 === 1 && rawHeaders[i - 1]!.toLowerCase() === believed);
    io.out(
      [
        `${mismatches.length > 0 ? "MISMATCH" : "OK      "}  ${fixture.name}  (${shortPath(file)})`,
        `          peer ${peer?.address ?? "(none)"}${declaredSource === undefined ? "" : ` declared ${declaredSource ?? "(unknown)"} (PROXY protocol)`}${row === undefined ? "" : `  preset ${row.name}`}  trusted ${trustedProxies.length > 0 ? trustedProxies.join(", ") : "(none)"}  ${believed} ${believedLines.length > 0 ? JSON.stringify(believedLines.join(", ")) : "(absent)"}`,
        `          answer ${result.address ?? "(unknown)"}  local ${result.loopbackEquivalent ? "yes" : "no"}  basis ${result.basis}`,
        ...mismatches.map((line) => `          ! ${line}`),
      ].join("\n"),
    );
  }
  io.out(`${cases.length - failed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

function explain(args: string[], io: Io): number {
  const { values } = parseCommand({
    args,
    strict: true,
    options: {
      peer: { type: "string" },
      secure: { type: "boolean" },
      preset: { type: "string" },
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
  if (values.help) return help(io, COMMAND_HELP.explain);

  // Strictly an address, as the resolver reads one: a host name would only be answered "not local".
  const peer = values.peer;
  if (peer !== undefined && canonicalAddress(peer) === null) {
    throw new UsageError(`--peer ${JSON.stringify(peer)} is not an IP address: give one such as 127.0.0.1 or ::1, or omit --peer for a socket without a peer`);
  }
  const rawHeaders = (values["request-header"] ?? []).flatMap(headerLine);
  // Repeated --trusted lists add up rather than the last one silently winning.
  const trustedProxies = (values.trusted ?? []).flatMap(splitList);
  const preset = values.preset === undefined ? undefined : presetName(values.preset);
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
  const result = resolveClientAddress({ remoteAddress: peer, secure, headers: rawHeaders, preset, trustedProxies: trust, header, maxHops, localHosts, localOrigins });
  const request = { peer: peer ?? null, secure, rawHeaders, preset, trustedProxies, header, maxHops, localHosts, localOrigins };
  const trustDiagnostics = trust.diagnostics;
  if (values.json) {
    io.out(JSON.stringify({ request, result, trustDiagnostics }, null, 2));
    return 0;
  }

  const lines = ["Request", `  peer        ${peer ?? "(none: the socket has no remote address)"}`, `  scheme      ${secure ? "https (--secure)" : "http"}`];
  const row = PRESETS.find((candidate) => candidate.name === preset);
  if (row !== undefined) lines.push(`  preset      ${row.name} (trusts ${row.trustedProxies.join(", ")}; believes ${row.header}${row.alsoWrites.length > 0 ? `; also writes ${row.alsoWrites.join(", ")}` : ""})`);
  const listed = [...(row === undefined ? [] : row.trustedProxies.map((entry) => `${entry} (the preset's)`)), ...trustedProxies];
  lines.push(`  trusted     ${listed.length > 0 ? listed.join(", ") : "(none)"}`);
  const believed = header ?? row?.header;
  lines.push(`  believes    ${believed ?? DEFAULT_FORWARDING_HEADER}${believed === undefined ? " (default)" : header === undefined ? " (the preset's)" : ""}`);
  if (maxHops !== undefined) lines.push(`  max hops    ${maxHops}`);
  if (localHosts.length > 0) lines.push(`  local hosts ${localHosts.join(", ")}`);
  if (localOrigins.length > 0) lines.push(`  local origins ${localOrigins.join(", ")}`);
  for (let i = 0; i < rawHeaders.length; i += 2) lines.push(`  header      ${rawHeaders[i]}: ${rawHeaders[i + 1]}`);
  if (rawHeaders.length === 0) lines.push("  header      (none)");

  lines.push("", "Answer");
  lines.push(`  client      ${result.address ?? "(unknown)"}`);
  lines.push(`  local       ${result.loopbackEquivalent ? "yes" : "no"}`);
  lines.push(`  basis       ${result.basis}`);
  lines.push(`  attribution ${result.attribution}${result.attributionReason === null ? "" : ` (${result.attributionReason})`}${result.preset === null ? "" : `, by preset ${result.preset}`}`);
  if (result.claims !== null) lines.push(`  claims      ${Object.entries(result.claims).map(([name, value]) => `${name}: ${value}`).join("; ")} (not checked; never local)`);

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
  const { values } = parseCommand({
    args,
    strict: true,
    options: {
      config: { type: "string" },
      preset: { type: "string" },
      trusted: { type: "string", multiple: true },
      "trusted-env": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return help(io, COMMAND_HELP.doctor);
  const sources = (["config", "trusted", "trusted-env"] as const).filter((name) => values[name] !== undefined);
  if (sources.length > 1) throw new UsageError(`give one list to check, not ${sources.map((name) => `--${name}`).join(" and ")}`);
  if (values.preset !== undefined && values.config !== undefined) throw new UsageError("give --preset with --trusted or --trusted-env (or alone), not with --config: a config names its own preset");
  const preset = values.preset === undefined ? undefined : presetName(values.preset);
  // The list first: an unreadable file or an unset variable is exit 2, before anything is reported.
  const listed = await listToCheck(values.config, values.trusted ?? (preset === undefined ? undefined : []), values["trusted-env"]);
  const checked = listed === null || preset === undefined ? listed : { source: { ...listed.source, preset }, config: { preset, trustedProxies: listed.config } };
  const facts = await deps.readFacts();
  const report: DoctorReport = {
    ...diagnose(facts),
    config: checked === null ? null : { ...checked.source, findings: checkConfig(checked.config, facts) },
  };
  io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.config?.findings.some((finding) => finding.severity === "error") ? 1 : 0;
}

/**
 * What doctor is to check, from the one of --config, --trusted and --trusted-env given (null for none): a
 * config as checkConfig takes it, and where it came from. A list in text is split as explain's --trusted is.
 */
async function listToCheck(file: string | undefined, trusted: string[] | undefined, variable: string | undefined): Promise<{ source: CheckedSource; config: unknown } | null> {
  if (file !== undefined) return { source: { file }, config: await readConfig(file) };
  if (trusted !== undefined) {
    const list = trusted.flatMap(splitList);
    return { source: { trusted: list }, config: list };
  }
  if (variable === undefined) return null;
  const text = process.env[variable];
  // Set and empty is an empty list, as the example gateway reads it; unset is a mistake worth stopping for.
  if (text === undefined) throw new EnvironmentError(`--trusted-env ${variable}: the environment variable ${variable} is not set`);
  const list = splitList(text);
  return { source: { env: variable, trusted: list }, config: list };
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

function presetName(value: string): PresetName {
  const name = PRESET_NAMES.find((candidate) => candidate === value.toLowerCase());
  if (name === undefined) throw new UsageError(`--preset must be one of ${PRESET_NAMES.join(", ")}, got ${JSON.stringify(value)}`);
  return name;
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

/** A comma-separated list broken into lines no wider than `width`, each indented by `indent` spaces. */
function wrapped(list: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const item of list.split(" ")) {
    if (line !== "" && indent + line.length + 1 + item.length > width) {
      lines.push(line);
      line = item;
    } else {
      line = line === "" ? item : `${line} ${item}`;
    }
  }
  lines.push(line);
  return lines.map((text) => `${" ".repeat(indent)}${text}`).join("\n");
}
