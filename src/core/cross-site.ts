// The WebSocket check a gateway makes of a remote client, in one call: cross-site WebSocket hijacking is a
// page on another site opening a WebSocket with the user's credentials (a paired device's cookie).
import type { ClientAddress } from "./answer.js";

/**
 * Whether a page on another origin caused the request: it sent an Origin that is not the gateway's own (as
 * the request the browser made shows it, through trusted proxies, or one of `publicOrigins`); an opaque
 * origin (`null`, RFC 6454 section 7.3: a sandboxed frame can send it) is never the gateway's own. A client
 * that sends no Origin (a script, a CLI) is not a page: false.
 */
export function isCrossSite(answer: ClientAddress): boolean {
  return answer.origin.sent !== null && !answer.origin.same;
}
