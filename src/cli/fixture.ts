// Request fixtures: a request as a server saw it (recorded where possible) and the answer the resolver
// must give. This is the only place the package touches files; the resolver itself stays pure.
//
// The format is fixtures/fixture.schema.json (JSON Schema 2020-12, shipped for users' own fixtures). The checks
// here accept exactly what it accepts, with a message naming the field, plus three it cannot express: rawHeaders
// of even length, trustedProxies entries the library compiles, and localHosts and localOrigins entries the
// resolver takes. test/fixture.test.ts holds the two to the same verdicts with a JSON Schema validator, and the
// schema's enums (believed headers, presets, attributions) to the lists below.
import type { Dirent, Stats } from "node:fs";
import { readFile, readdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Attribution,
  type Basis,
  type Claims,
  type ClientAddress,
  type ForwardingHeader,
  type PresetName,
  ClientAddressConfigError,
  FORWARDING_HEADERS,
  PRESET_NAMES,
  compileTrustedProxies,
  resolveClientAddress,
} from "../index.js";

/** Every attribution an answer can carry (answer.ts's `Attribution`; a record, so that none can be left out). */
const ATTRIBUTION_SET: Readonly<Record<Attribution, true>> = { "direct-local": true, "nat-local": true, "direct-remote": true, proxied: true, unattributable: true };
/** The attributions an expected answer may name: the format's `expected.attribution` enum. */
export const ATTRIBUTIONS: readonly Attribution[] = Object.keys(ATTRIBUTION_SET) as Attribution[];

export interface FixtureEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface Fixture {
  readonly name: string;
  /** One sentence: what this case shows. */
  readonly description: string;
  readonly provenance: {
    readonly kind: "recorded" | "hand-written";
    /** Who or what recorded it: versions, topology, date. */
    readonly source: string;
    /** Hand-written only: why the case could not be recorded. */
    readonly why?: string;
  };
  readonly request: {
    /** The socket's remote end (with `declaredSource`, the load balancer); null when the socket had no remote address. */
    readonly peer: FixtureEndpoint | null;
    /**
     * What a trusted load balancer declared with the PROXY protocol for this connection, as the listener
     * recorded it on the socket: the source address, or null for a source it declared unknown. Absent: nothing
     * was declared (no balancer, or its LOCAL command), and the peer is the client's side of the socket.
     */
    readonly declaredSource?: string | null;
    /** Whether the connection was TLS (an https server's, or declared TLS by a trusted balancer). Absent: false. */
    readonly secure?: boolean;
    readonly local: FixtureEndpoint | null;
    readonly method: string;
    readonly url: string;
    /** Node's flat [name, value, ...] list in wire order, repeated lines kept. */
    readonly rawHeaders: readonly string[];
  };
  readonly options: {
    readonly trustedProxies: readonly string[];
    readonly header?: ForwardingHeader;
    readonly maxHops?: number;
    readonly localHosts?: readonly string[];
    readonly localOrigins?: readonly string[];
    /** A front in one word (`nginx`, `cloudflared`...): its trust and believed header; trustedProxies add to its own. */
    readonly preset?: PresetName;
  };
  readonly expected: {
    readonly address: string | null;
    readonly loopbackEquivalent: boolean;
    readonly basis: Basis;
    /** How the client was identified; compared only when given. */
    readonly attribution?: Attribution;
    /** The preset whose front named the client, or null; compared only when given. */
    readonly preset?: PresetName | null;
    /** What the preset's front says of the user, or null; compared only when given (key order aside). */
    readonly claims?: Claims | null;
  };
}

export interface LoadedFixture {
  readonly file: string;
  readonly fixture: Fixture;
}

/** The fixtures shipped with the package; `..` from both `src/` and `dist/` is the package root. */
export const BUNDLED_FIXTURES = path.resolve(fileURLToPath(new URL("../../fixtures/", import.meta.url)));

/** A fixture file that cannot be read or does not have the fixture shape. */
export class FixtureError extends Error {
  override readonly name = "FixtureError";
  constructor(
    readonly file: string,
    /** The bad field as a path (`request.peer.port`), or undefined when the file itself is the problem. */
    readonly field: string | undefined,
    problem: string,
  ) {
    super(`${file}: ${field === undefined ? "" : `${field} `}${problem}`);
  }
}

/**
 * Loads fixtures from files and folders (every `*.json` below a folder but `*.schema.json`, sorted by path),
 * in argument order. Throws {@link FixtureError} naming the file, and the field, of the first bad one.
 */
export async function loadFixtures(paths: readonly string[]): Promise<LoadedFixture[]> {
  const loaded: LoadedFixture[] = [];
  for (const given of paths) {
    for (const file of await filesOf(given)) {
      loaded.push({ file, fixture: await loadFile(file) });
    }
  }
  return loaded;
}

/**
 * Replays one fixture through the public resolver and lists each expected field it got wrong: address,
 * loopbackEquivalent and basis always, attribution, preset and claims when the fixture states them.
 */
export function replayFixture(fixture: Fixture): { result: ClientAddress; mismatches: string[] } {
  const { request, options, expected } = fixture;
  const result = resolveClientAddress({
    remoteAddress: request.peer?.address,
    declaredSource: request.declaredSource,
    headers: request.rawHeaders,
    secure: request.secure,
    trustedProxies: options.trustedProxies,
    header: options.header,
    maxHops: options.maxHops,
    localHosts: options.localHosts,
    localOrigins: options.localOrigins,
    preset: options.preset,
  });
  const mismatches: string[] = [];
  for (const key of ["address", "loopbackEquivalent", "basis", "attribution", "preset"] as const) {
    if (expected[key] !== undefined && result[key] !== expected[key]) {
      mismatches.push(`${key}: expected ${JSON.stringify(expected[key])}, got ${JSON.stringify(result[key])}`);
    }
  }
  if (expected.claims !== undefined && !sameClaims(result.claims, expected.claims)) {
    mismatches.push(`claims: expected ${JSON.stringify(expected.claims)}, got ${JSON.stringify(result.claims)}`);
  }
  return { result, mismatches };
}

/** The same claims, whatever the order of their keys; null only equals null. */
function sameClaims(got: Claims | null, want: Claims | null): boolean {
  if (got === null || want === null) return got === want;
  const keys = Object.keys(want);
  return Object.keys(got).length === keys.length && keys.every((key) => Object.hasOwn(got, key) && got[key] === want[key]);
}

async function filesOf(given: string): Promise<string[]> {
  let isFolder: boolean;
  try {
    isFolder = (await stat(given)).isDirectory();
  } catch (error) {
    throw new FixtureError(given, undefined, `cannot be read (${(error as Error).message})`);
  }
  if (!isFolder) return [given];
  const files = (await jsonFilesUnder(given, [await realpath(given)])).sort();
  // An empty folder is almost always a wrong path; replaying nothing must not look like a pass.
  if (files.length === 0) throw new FixtureError(given, undefined, "holds no .json fixture files");
  return files;
}

/**
 * Every `*.json` below `folder` but a schema (`*.schema.json`, as the bundled folder's own). Symbolic links are
 * followed, to files and to folders alike, since a fixture silently left out would look like a pass: a link that
 * leads nowhere is an error naming it, and so is a link back to a folder being walked (`ancestors` holds their
 * real paths), which would otherwise never end.
 */
async function jsonFilesUnder(folder: string, ancestors: readonly string[]): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    throw new FixtureError(folder, undefined, `cannot be read (${(error as Error).message})`);
  }
  const found: string[] = [];
  for (const entry of entries) {
    const full = path.join(folder, entry.name);
    let target: Dirent | Stats = entry;
    if (entry.isSymbolicLink()) {
      try {
        target = await stat(full);
      } catch (error) {
        throw new FixtureError(full, undefined, `is a symbolic link that cannot be followed (${(error as Error).message})`);
      }
    }
    if (target.isDirectory()) {
      const real = await realpath(full);
      if (ancestors.includes(real)) throw new FixtureError(full, undefined, `leads back to ${real}, a folder it is in: a cycle of symbolic links`);
      found.push(...(await jsonFilesUnder(full, [...ancestors, real])));
    } else if (entry.name.endsWith(".json") && !entry.name.endsWith(".schema.json")) {
      if (!target.isFile()) throw new FixtureError(full, undefined, "is not a regular file");
      found.push(full);
    }
  }
  return found;
}

async function loadFile(file: string): Promise<Fixture> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new FixtureError(file, undefined, `cannot be read (${(error as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new FixtureError(file, undefined, `is not valid JSON (${(error as Error).message})`);
  }
  return parseFixture(data, file);
}

/** A fixture file's parsed JSON checked and typed; throws {@link FixtureError} naming `file` and the bad field. */
export function parseFixture(data: unknown, file: string): Fixture {
  try {
    return toFixture(data);
  } catch (error) {
    if (error instanceof ShapeError) throw new FixtureError(file, error.field, error.message);
    throw error;
  }
}

class ShapeError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(problem);
  }
}

function toFixture(data: unknown): Fixture {
  const root = record(data, "(top level)", ["name", "description", "provenance", "request", "options", "expected"]);

  const provenance = record(root.provenance, "provenance", ["kind", "source"], ["why"]);
  const kind = oneOf(provenance.kind, "provenance.kind", ["recorded", "hand-written"] as const);
  // A hand-written case is a claim about a topology nobody could record; it must say why.
  if (kind === "hand-written" && provenance.why === undefined) {
    throw new ShapeError("provenance.why", "is missing: a hand-written fixture must say why it could not be recorded");
  }
  if (kind === "recorded" && provenance.why !== undefined) {
    throw new ShapeError("provenance.why", "is only for hand-written fixtures");
  }

  const request = record(root.request, "request", ["peer", "local", "method", "url", "rawHeaders"], ["declaredSource", "secure"]);
  const rawHeaders = strings(request.rawHeaders, "request.rawHeaders");
  if (rawHeaders.length % 2 !== 0) {
    throw new ShapeError("request.rawHeaders", "must alternate names and values (its length is odd)");
  }

  const options = record(root.options, "options", ["trustedProxies"], ["header", "maxHops", "localHosts", "localOrigins", "preset"]);
  const trustedProxies = strings(options.trustedProxies, "options.trustedProxies");
  try {
    compileTrustedProxies(trustedProxies);
  } catch (error) {
    if (error instanceof ClientAddressConfigError) {
      throw new ShapeError(`options.trustedProxies[${error.index}]`, `is invalid: ${error.message}`);
    }
    throw error;
  }
  const maxHops = options.maxHops;
  if (maxHops !== undefined && !(Number.isInteger(maxHops) && (maxHops as number) >= 0)) {
    throw new ShapeError("options.maxHops", `must be a non-negative integer, got ${JSON.stringify(maxHops)}`);
  }

  const expected = record(root.expected, "expected", ["address", "loopbackEquivalent", "basis"], ["attribution", "preset", "claims"]);
  const loopbackEquivalent = flag(expected.loopbackEquivalent, "expected.loopbackEquivalent");

  const fixture: Fixture = {
    name: text(root.name, "name"),
    description: text(root.description, "description"),
    provenance: {
      kind,
      source: text(provenance.source, "provenance.source"),
      ...(provenance.why === undefined ? {} : { why: text(provenance.why, "provenance.why") }),
    },
    request: {
      peer: endpoint(request.peer, "request.peer"),
      ...(request.declaredSource === undefined ? {} : { declaredSource: request.declaredSource === null ? null : string(request.declaredSource, "request.declaredSource") }),
      ...(request.secure === undefined ? {} : { secure: flag(request.secure, "request.secure") }),
      local: endpoint(request.local, "request.local"),
      method: text(request.method, "request.method"),
      url: text(request.url, "request.url"),
      rawHeaders,
    },
    options: {
      trustedProxies,
      ...(options.header === undefined ? {} : { header: oneOf(options.header, "options.header", FORWARDING_HEADERS) }),
      ...(maxHops === undefined ? {} : { maxHops: maxHops as number }),
      ...(options.localHosts === undefined ? {} : { localHosts: strings(options.localHosts, "options.localHosts") }),
      ...(options.localOrigins === undefined ? {} : { localOrigins: strings(options.localOrigins, "options.localOrigins") }),
      ...(options.preset === undefined ? {} : { preset: oneOf(options.preset, "options.preset", PRESET_NAMES) }),
    },
    expected: {
      address: expected.address === null ? null : string(expected.address, "expected.address"),
      loopbackEquivalent,
      // Not checked against the Basis names: a wrong one shows up as a replay mismatch naming both.
      basis: text(expected.basis, "expected.basis") as Basis,
      ...(expected.attribution === undefined ? {} : { attribution: oneOf(expected.attribution, "expected.attribution", ATTRIBUTIONS) }),
      ...(expected.preset === undefined ? {} : { preset: expected.preset === null ? null : oneOf(expected.preset, "expected.preset", PRESET_NAMES, "or null") }),
      ...(expected.claims === undefined ? {} : { claims: expected.claims === null ? null : claims(expected.claims, "expected.claims") }),
    },
  };
  checkOptions(fixture.options);
  return fixture;
}

/**
 * Asks the resolver, with an empty request, whether it takes the options (it validates localHosts and
 * localOrigins entries itself), so that a bad one is a load error naming the file rather than an exception
 * in the middle of a replay.
 */
function checkOptions(options: Fixture["options"]): void {
  try {
    resolveClientAddress({ remoteAddress: undefined, headers: [], ...options });
  } catch (error) {
    if (error instanceof TypeError) throw new ShapeError("options", `are refused by the resolver: ${error.message}`);
    throw error;
  }
}

/** An object with exactly these fields: an unknown one is most likely a misspelt optional field. */
function record(value: unknown, field: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ShapeError(field, `must be an object, got ${describe(value)}`);
  }
  const prefix = field === "(top level)" ? "" : `${field}.`;
  for (const key of required) {
    if (!Object.hasOwn(value, key)) throw new ShapeError(prefix + key, "is missing");
  }
  for (const key of Object.keys(value)) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw new ShapeError(prefix + key, `is not a fixture field (expected ${[...required, ...optional].join(", ")})`);
    }
  }
  return value as Record<string, unknown>;
}

function endpoint(value: unknown, field: string): FixtureEndpoint | null {
  if (value === null) return null;
  const fields = record(value, field, ["address", "port"]);
  const port = fields.port;
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
    throw new ShapeError(`${field}.port`, `must be an integer from 0 to 65535, got ${JSON.stringify(port)}`);
  }
  // Any string: a fixture may record a peer that is deliberately not an address.
  return { address: string(fields.address, `${field}.address`), port: port as number };
}

function string(value: unknown, field: string): string {
  if (typeof value !== "string") throw new ShapeError(field, `must be a string, got ${describe(value)}`);
  return value;
}

function text(value: unknown, field: string): string {
  const result = string(value, field);
  if (result.trim() === "") throw new ShapeError(field, "must not be empty");
  return result;
}

function flag(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") throw new ShapeError(field, `must be true or false, got ${describe(value)}`);
  return value;
}

function strings(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw new ShapeError(field, `must be an array of strings, got ${describe(value)}`);
  return value.map((item, index) => string(item, `${field}[${index}]`));
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[], orElse = ""): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw new ShapeError(field, `must be one of ${allowed.map((item) => `"${item}"`).join(", ")}${orElse === "" ? "" : ` ${orElse}`}, got ${JSON.stringify(value)}`);
}

/** An object of strings by name (the claims a front makes: header name to value). */
function claims(value: unknown, field: string): Claims {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ShapeError(field, `must be an object of strings or null, got ${describe(value)}`);
  }
  // fromEntries defines each key as data, so that a "__proto__" claim stays a claim.
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, string(item, `${field}.${key}`)]));
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return JSON.stringify(value) ?? typeof value;
}
