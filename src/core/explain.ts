// The explanation: the path, the four checks and a diagnostic for every failed condition, in words an
// operator reads in a log. The rules (rules.ts) decide and call these when explaining; nothing here decides.
import { type Address, formatAddress, isPrivateUse } from "./address.js";
import type { Diagnostic, DiagnosticCode, Fix, Hop, LocalityChecks } from "./answer.js";
import { type LocalOrigin, NOT_THIS_MACHINE, NO_PORT, askedOrigin, browserOrigin, hostPort, isLocalHostEntry } from "./locality.js";
import { ADDRESS_BITS, FORWARDING_HEADERS, type ForwardingHeader, PROXY_HEADERS, bitOf, displayName } from "./proxy-headers.js";
import type { RequestState } from "./request.js";

const NO_CHECKS: LocalityChecks = { client: false, forwarding: false, host: false, origin: false };
const DISPLAY = Object.fromEntries(FORWARDING_HEADERS.map((name) => [name, displayName(name)])) as Readonly<Record<ForwardingHeader, string>>;

/** What an explained run of the rules collects. */
export class Explanation {
  readonly hops: Hop[] = [];
  readonly diagnostics: Diagnostic[] = [];
  checks: LocalityChecks = NO_CHECKS;

  #note(code: DiagnosticCode, message: string, fix?: Fix): void {
    this.diagnostics.push(fix === undefined ? { code, message } : { code, message, fix });
  }

  invalidPeer(remote: unknown): void {
    if (typeof remote === "string") this.hops.push({ address: null, raw: remote, trusted: false, source: "socket" });
    const shown = typeof remote === "string" ? `"${remote.slice(0, 60)}"` : String(remote);
    this.#note("invalid-peer", `remoteAddress ${shown} is not an IP address (a closed socket, or not a TCP socket): the client is unknown and not local`);
  }

  invalidDeclared(balancer: string, declared: unknown): void {
    if (typeof declared === "string") {
      this.hops.push({ address: null, raw: declared, trusted: false, source: "proxy-protocol" });
      this.#note("invalid-peer", `the source declared by load balancer ${balancer} (${JSON.stringify(declared.slice(0, 60))}) is not an IP address: the client is unknown and not local`);
    } else {
      this.#note("unknown-declared-source", `load balancer ${balancer} declared a connection whose source is unknown (a PROXY protocol header with an UNSPEC or UNIX address family, or UNKNOWN): the client is unknown and not local`);
    }
  }

  // The walk stopped without a client: the entry as written (when there is one) and why. `request.examined`
  // counts the entries read, this one included.

  walkNotText(request: RequestState, peer: string): void {
    this.hops.push({ address: null, raw: "", trusted: false, source: request.options.believed });
    this.#note("invalid-entry", `${DISPLAY[request.options.believed]} from trusted proxy ${peer} is not text: the client is unknown`);
  }

  hopLimit(request: RequestState): void {
    const { believed, maxHops } = request.options;
    this.#note("hop-limit", `${DISPLAY[believed]} holds more than maxHops (${maxHops}) entries, all from trusted proxies so far: the walk stops and the client is unknown; raise maxHops if your proxy chain is really that long`);
  }

  malformedEntry(request: RequestState, raw: string, why: string): void {
    const believed = request.options.believed;
    this.hops.push({ address: null, raw, trusted: false, source: believed });
    this.#note("malformed-header", `${DISPLAY[believed]} entry ${request.examined} from the right (${JSON.stringify(raw)}) is ${why}: the client is unknown`);
  }

  notAnAddress(request: RequestState, written: string): void {
    const believed = request.options.believed;
    this.hops.push({ address: null, raw: written, trusted: false, source: believed });
    this.#note("invalid-entry", `${DISPLAY[believed]} entry ${request.examined} from the right (${JSON.stringify(written.slice(0, 60))}) is not an IP address: the walk stops there and the client is unknown (strict addresses only: no "unknown", obfuscated identifiers or legacy forms such as 127.1 or 0177.0.0.1)`);
  }

  clientNotLocal(request: RequestState, peer: Address, peerText: string, balancer: string): void {
    const text = request.client!;
    if (request.source === "socket") {
      const nat = isPrivateUse(peer);
      this.#note(
        "client-not-loopback",
        `peer ${text} is neither loopback nor a trusted proxy: not local.${nat ? ` If it is the gateway of a Docker bridge or another NAT in front of this server, add "${text}" to trustedProxies (that one address, not its whole subnet)` : ""}`,
        nat ? { add: "trustedProxies", entry: text } : undefined,
      );
    } else if (request.source === "proxy-protocol") {
      this.#note("client-not-loopback", `client ${text}, declared by the PROXY protocol header of trusted load balancer ${balancer}, is neither loopback nor a trusted proxy: not local`);
    } else {
      this.#note("client-not-loopback", `client ${text}, named by ${DISPLAY[request.options.believed]} from trusted proxy ${peerText}, is not loopback and not trusted: not local`);
    }
  }

  /** Why condition b fails: each proxy header the walk did not read, naming who writes it. */
  unreadHeaders(request: RequestState, unread: number, peer: Address | null, peerTrusted: boolean): void {
    PROXY_HEADERS.forEach((row, index) => {
      if ((unread & (1 << index)) === 0) return;
      const header = `${row.display} (written by ${row.writers})`;
      if (peerTrusted) this.#unbelieved(request, row, header, formatAddress(peer!));
      else if (peer === null) this.#note("untrusted-forwarding-header", `${header} is present but the peer is unknown: not local`);
      else this.#undeclared(request, header, peer);
    });
  }

  #unbelieved(request: RequestState, row: (typeof PROXY_HEADERS)[number], header: string, peer: string): void {
    const believed = request.options.believed;
    const preset = request.options.preset;
    const seen = request.readHeaders();
    if (preset !== null && (request.options.alsoBits & bitOf(row.name)) !== 0) {
      // The front writes it; nothing to drop. It disagrees, so something else wrote it or changed it.
      this.#note("unbelieved-forwarding-header", `trusted proxy ${peer} passed on ${header}, which ${preset.name} writes about the peer it saw, but it names no address the walk read in ${DISPLAY[believed]} (or ${DISPLAY[believed]} is absent): a hop the walk cannot see, so not local`);
      return;
    }
    // Switching the believed header is advised only while the believed one is absent, and only to the first
    // walkable header present: once a header the proxy sends is believed, every other is one for it to drop,
    // so no advice is undone by the answer after it (nginx's X-Real-IP beside X-Forwarded-For is dropped).
    const switchTo = (seen.proxyHeaders & bitOf(believed)) === 0 ? FORWARDING_HEADERS.find((name) => (seen.proxyHeaders & bitOf(name)) !== 0) : undefined;
    const drop = `make it drop ${row.display} from client requests${row.name === "x-real-ip" ? " (nginx: remove the proxy_set_header X-Real-IP line)" : ""}`;
    if (switchTo === row.name) {
      this.#note("unbelieved-forwarding-header", `trusted proxy ${peer} passed on ${header}, but only ${DISPLAY[believed]} is believed, and it is absent: a hop the walk cannot see, so not local. If that proxy writes ${row.display}, set header: "${row.name}"; otherwise ${drop}`, { set: "header", to: switchTo });
    } else {
      this.#note("unbelieved-forwarding-header", `trusted proxy ${peer} passed on ${header}, but only ${DISPLAY[believed]} is believed: a hop the walk cannot see, so not local. Make the proxy send only ${DISPLAY[believed]}: ${drop}`, { proxyDrops: row.display });
    }
  }

  #undeclared(request: RequestState, header: string, peer: Address): void {
    const peerText = formatAddress(peer);
    const who = request.source === "proxy-protocol" ? "declared source" : "peer";
    const message = `${who} ${peerText} is not a trusted proxy, yet the request carries ${header}: a proxy or tunnel forwards for someone else, so not local.`;
    // Only a proxy on this machine, or one whose every process may act as a local user (the trust model):
    // doctor warns of any other trusted entry, so advising it here would be undone there.
    if (isPrivateUse(peer)) this.#note("untrusted-forwarding-header", `${message} If ${peerText} is a reverse proxy or tunnel you run on this machine (or on one whose every process you would let in as a local user), add "${peerText}" to trustedProxies so that its headers are read`, { add: "trustedProxies", entry: peerText });
    else this.#note("untrusted-forwarding-header", message);
  }

  /** Why condition c fails: no Host, a foreign one, or what a trusted proxy said of the browser's request. */
  hostNotLocal(request: RequestState, peer: Address | null): void {
    const seen = request.readHeaders();
    const problem = seen.askedProblem;
    const proxy = peer === null ? "the proxy" : `trusted proxy ${formatAddress(peer)}`;
    if (problem?.kind === "foreign") {
      this.#note(
        "forwarded-host-not-local",
        `${problem.header} ${JSON.stringify(problem.value.slice(0, 80))} from ${proxy} does not name this machine: the browser asked the proxy for another name (a DNS-rebinding page reaches a proxy on this host as well as the gateway), so not local. If it is this machine's own name, add it to localHosts`,
        localHostFix(problem.value),
      );
    } else if (problem?.kind === "unclear") {
      this.#note("forwarded-request-unclear", `${problem.header} ${JSON.stringify(problem.value.slice(0, 80))} from ${proxy} is ${problem.why}: the request the browser made cannot be told, so not local`);
    } else if (seen.host === undefined) {
      this.#note("host-missing", "no Host header: a local client must name this machine (localhost, 127.0.0.1, [::1] or a name in localHosts), so not local");
    } else {
      const host = seen.host;
      this.#note("host-not-local", `Host ${JSON.stringify(String(host).slice(0, 80))} does not name this machine: a page loaded under another name (DNS rebinding) must not borrow a local client's standing, so not local. If it is this machine's own name, add it to localHosts`, host === null ? undefined : localHostFix(host));
    }
  }

  /** Why condition d fails: a foreign page, another application on this machine, or Fetch Metadata. */
  originNotLocal(request: RequestState, page: LocalOrigin | null, port: number): void {
    const seen = request.readHeaders();
    const originValue = seen.origin;
    if (originValue === undefined) {
      if (seen.secFetchSite === undefined) {
        const name = JSON.stringify(String(seen.askedHost).slice(0, 80));
        this.#note("no-fetch-metadata", `no Origin and no Sec-Fetch-Site, to ${name} over http: browsers send neither to such a name on a cross-site navigation or image, so a page elsewhere may have caused this request: not local. Use a loopback name (localhost, 127.0.0.1, [::1]) or https, or send Origin from your client`);
      } else {
        const site = JSON.stringify(String(seen.secFetchSite).slice(0, 40));
        this.#note("fetch-site-not-local", `no Origin, and Sec-Fetch-Site is ${site}: a page elsewhere made the user's browser send this request (a link, an image, a form, a no-cors fetch), so not local`);
      }
      return;
    }
    const shown = JSON.stringify(String(originValue).slice(0, 80));
    if (page === null) {
      // The page of the very name the request was made to: condition c already says that name is not this machine.
      const own = typeof seen.askedHost === "string" && seen.askedProblem === null ? askedOrigin(seen.askedHost, seen.askedSecure, seen.askedPort) : null;
      if (own !== null && own === originValue) {
        this.#note("origin-not-local", `Origin ${shown} is the page of the name the request was made to, which is not this machine (see Host): a page served under another name, so not local`);
      } else {
        this.#note("origin-not-local", `Origin ${shown} is not this machine: a page from another site (or an opaque origin) opened this connection in the user's browser, so not local`);
      }
      return;
    }
    const asked = `${seen.askedSecure ? "https" : "http"}, ${port === NO_PORT ? "no port" : `port ${port}`}`;
    // Through a proxy that names no other host, Host may be the proxy's rewrite: nginx's `$host` drops the port
    // the browser wrote, its default `$proxy_host` (and Apache's ProxyPreserveHost Off) writes the upstream's.
    const proxied = seen.askedHost === seen.host && (seen.proxyHeaders & ADDRESS_BITS) !== 0;
    const rewrite = port === NO_PORT ? "without its port (nginx's $host)" : "to the gateway's own address (nginx's default $proxy_host, Apache's ProxyPreserveHost Off)";
    const dropped = proxied ? `. If a proxy in front rewrote Host ${rewrite}, make it pass the Host the browser sent (nginx: proxy_set_header Host $http_host; Apache: ProxyPreserveHost On)` : "";
    const entry = browserOrigin(originValue!);
    this.#note(
      "origin-not-local",
      `Origin ${shown} is this machine but another scheme or port than the request (${asked}): a page of another application here (a dev server, another local service) opened this connection, so not local${dropped}. If that page is yours, add ${shown} to localOrigins`,
      entry === null ? undefined : { add: "localOrigins", entry },
    );
  }
}

/**
 * The localHosts entry that would name a Host-bearing value (its whole name, without the port), offered only
 * where it works: with that entry, the reader of condition c must find the value names this machine. A value
 * no entry can make local (too long to be a name, an unclosed bracket, IPv6 without brackets) gets none.
 */
function localHostFix(value: string): Fix | undefined {
  let name = value;
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close !== -1) name = value.slice(0, close + 1);
  } else {
    const colon = value.indexOf(":");
    if (colon !== -1 && value.indexOf(":", colon + 1) === -1) name = value.slice(0, colon);
  }
  return isLocalHostEntry(name) && hostPort(value, [name]) !== NOT_THIS_MACHINE ? { add: "localHosts", entry: name } : undefined;
}
