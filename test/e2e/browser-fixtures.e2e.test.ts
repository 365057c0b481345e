// Re-runs the browser recording live (scripts/record-browser.ts: headless Debian Chromium, pages on loopback, the
// example gateway in capture mode) without writing anything, and checks that Chromium still sends what the
// committed fixtures in fixtures/recorded/browser/ document, and that the library judges the live requests as
// the rules say. A difference after a Chromium update means: re-record with `npx tsx scripts/record-browser.ts`
// and review the diff.
import { existsSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { type Fixture, loadFixtures, replayFixture } from "../../src/cli/fixture.js";
import { JUDGED_HEADERS, OUT_DIR, type Recording, headerLines, recordBrowser, toFixtures } from "../../scripts/record-browser.js";
import { CHROMIUM } from "./browser.js";

/** The request's judged headers and its header names, with the run's ports replaced by placeholders. */
function shape(request: Fixture["request"]) {
  const gateway = request.local?.port;
  const normalize = (value: string) => value.replaceAll(`127.0.0.1:${gateway}`, "127.0.0.1:GATEWAY").replace(/:\d+(?=\/|$)/g, ":PORT");
  const names = [...new Set(request.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase()))].sort();
  return {
    method: request.method,
    path: new URL(request.url, "http://gateway.invalid").pathname,
    judged: Object.fromEntries(JUDGED_HEADERS.map((name) => [name, headerLines(request, name).map(normalize)])),
    names,
  };
}

describe.skipIf(!existsSync(CHROMIUM))("Chromium's requests to a gateway on loopback, live", () => {
  let recording: Recording;
  let live: Map<string, Fixture>;

  beforeAll(async () => {
    // Throws if any captured request differs from what its case says Chromium sends.
    recording = await recordBrowser();
    live = new Map(toFixtures(recording).map((fixture) => [fixture.name, fixture]));
  });

  it("records every case: five requests from each of three pages, the typed navigation and the dashboard's WebSocket", () => {
    expect(recording.cases).toHaveLength(17);
    for (const recorded of recording.cases) {
      expect(recorded.request.peer?.address, recorded.name).toBe("127.0.0.1");
      expect(headerLines(recorded.request, "host"), recorded.name).toEqual([`127.0.0.1:${recording.gatewayPort}`]);
      for (const name of ["origin", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest", "sec-fetch-user"] as const) {
        expect(headerLines(recorded.request, name), `${recorded.name}: ${name}`).toEqual(recorded.sent[name] === null ? [] : [recorded.sent[name]]);
      }
    }
  });

  it("sends what the committed fixtures record (ports aside)", async () => {
    const committed = await loadFixtures([OUT_DIR]);
    expect(committed.map(({ fixture }) => fixture.name).sort(), "re-record: npx tsx scripts/record-browser.ts").toEqual([...live.keys()].sort());
    for (const { fixture } of committed) {
      expect(shape(live.get(fixture.name)!.request), fixture.name).toEqual(shape(fixture.request));
      expect(live.get(fixture.name)!.expected, fixture.name).toEqual(fixture.expected);
    }
  });

  it("is judged by the library as the rules say", () => {
    for (const fixture of live.values()) {
      expect(replayFixture(fixture).mismatches, fixture.name).toEqual([]);
    }
  });
});
