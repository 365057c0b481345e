// One request as the rules see it: the facts a server has of it (the peer, what a balancer declared, the
// headers, the scheme), the compiled options, and what the decision found, which the explanation reads; and,
// apart, what the rules read of its headers, made only for a request whose rules need them (a request is
// made on every call, and in a server what it allocates costs more than what it computes:
// docs/performance.md).
import type { HopSource } from "./answer.js";
import { type HeaderValue, type HeaderValues, type HeadersInput, readHeader, readHeaders } from "./headers.js";
import type { CompiledOptions } from "./options.js";

/** What a server knows of one request. */
export interface RequestFacts {
  /** The socket's peer, as Node gives it (`req.socket.remoteAddress`); undefined once the socket closed. */
  readonly remoteAddress: string | undefined;
  /**
   * The source a trusted TCP load balancer declared for this connection with the PROXY protocol, as
   * clientaddr/proxy-protocol records it on the socket (read it with `declaredSource(req.socket)`;
   * clientaddr/node does). Given, it takes the socket peer's place: the rules (the walk, trust, locality)
   * apply to it as they would to a peer, and `remoteAddress` is the balancer, the nearest hop, trusted because
   * the listener's own list let it declare. `null`: the balancer declared a connection whose source is
   * unknown (an UNSPEC or UNIX address family, or v1's UNKNOWN): not local. Absent: the peer is the socket's.
   */
  readonly declaredSource?: string | null | undefined;
  /** Node's `req.headers` or `req.rawHeaders`, or a WHATWG `Headers`. */
  readonly headers?: HeadersInput | undefined;
  /**
   * Whether the connection was TLS (https, wss), as the socket says or a trusted balancer declared it
   * (`connectionSecure(req.socket)`; clientaddr/node and its adapters fill it). Default false. It is the
   * scheme of the request the browser made, unless a trusted proxy says otherwise (X-Forwarded-Proto,
   * Forwarded proto=): an Origin must have that scheme, and a port left out is that scheme's default.
   */
  readonly secure?: boolean | undefined;
}

/**
 * Why the request the browser made does not name this machine, beside a missing or foreign Host: a
 * Host-bearing value a proxy passed on names another machine, or what a trusted proxy says of the scheme,
 * host or port cannot be read or contradicts itself.
 */
export type AskedProblem =
  | { readonly kind: "foreign"; readonly header: "X-Forwarded-Host" | "Forwarded host="; readonly value: string }
  | { readonly kind: "unclear"; readonly header: string; readonly value: string; readonly why: string };

/**
 * What the rules read of a request's headers (Host, Origin, Sec-Fetch-Site, the believed header, the three
 * that describe the browser's request to a proxy, the values a preset keeps, and a bit for every proxy
 * header present), and the request the browser made as they show it (describeAsked). Made when a rule first
 * needs more than the believed header: a request the first rules settle (a public peer talking directly, a
 * client on the internet named by a trusted proxy) never makes one.
 */
export class RequestHeaders implements HeaderValues {
  host: HeaderValue = undefined;
  origin: HeaderValue = undefined;
  secFetchSite: HeaderValue = undefined;
  believed: HeaderValue = undefined;
  kept: Map<number, HeaderValue> | null = null;
  xForwardedHost: HeaderValue = undefined;
  xForwardedProto: HeaderValue = undefined;
  xForwardedPort: HeaderValue = undefined;
  proxyHeaders = 0;
  /** The request the browser made, as this request shows it: its Host, its scheme, and what is wrong with it. */
  askedHost: HeaderValue = undefined;
  askedSecure = false;
  /** A port a trusted proxy gave for it (X-Forwarded-Port), or NO_PORT (-1). */
  askedPort = -1;
  askedProblem: AskedProblem | null = null;
  /** The host= of the Forwarded elements the walk read, to check; null when there are none to check. */
  forwardedHosts: readonly string[] | null = null;
  readonly #options: CompiledOptions;

  constructor(options: CompiledOptions) {
    this.#options = options;
  }

  // The options' bits, read through rather than copied.
  get believedBit(): number {
    return this.#options.believedBit;
  }

  get keptBits(): number {
    return this.#options.keptBits;
  }
}

/** The request's facts, the compiled options, and what the decision found besides the verdict. */
export class RequestState {
  readonly remoteAddress: unknown;
  readonly declared: unknown;
  readonly secure: boolean;
  readonly options: CompiledOptions;
  #input: unknown;
  #headers: RequestHeaders | null = null;
  #believed: HeaderValue | typeof UNREAD = UNREAD;

  /** The client's canonical text (null when unknown), and where it came from. */
  client: string | null = null;
  source: HopSource = "socket";
  /** Whether the peer (the declared source, when a balancer declared one) is trusted, and loopback. */
  peerTrusted = false;
  peerLoopback = false;
  /** The host= and proto= of the believed Forwarded element that named the client. */
  elementHost: string | undefined = undefined;
  elementProto: string | undefined = undefined;
  /** How many entries of the believed header the walk read. */
  examined = 0;

  constructor(facts: RequestFacts, options: CompiledOptions) {
    this.remoteAddress = facts.remoteAddress;
    this.declared = facts.declaredSource;
    this.secure = facts.secure === true;
    this.options = options;
    this.#input = facts.headers;
  }

  /**
   * The headers the rules need, read once, when a rule first needs them. One explained later reads them then,
   * so its explanation sees the headers as they are at that time, with the believed header as the decision
   * read it: its verdict, which needed no other, cannot change.
   */
  readHeaders(): RequestHeaders {
    if (this.#headers !== null) return this.#headers;
    const headers = (this.#headers = new RequestHeaders(this.options));
    readHeaders(this.#input, headers);
    this.#input = undefined;
    if (this.#believed !== UNREAD) headers.believed = this.#believed;
    return headers;
  }

  /**
   * The believed forwarding header's value, reading that header alone if the others are not read yet (the
   * fast run asks once; an explained run has read them all first).
   */
  believedHeader(): HeaderValue {
    if (this.#headers !== null) return this.#headers.believed;
    return (this.#believed = readHeader(this.#input, this.options.believed));
  }
}

const UNREAD: unique symbol = Symbol("unread");
