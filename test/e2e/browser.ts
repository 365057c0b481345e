// Browser-side helpers for the end-to-end tests, each run inside a namespace with `ip netns exec`:
//
//   node --import tsx test/e2e/browser.ts '{"url":"http://127.0.0.1:18789/","screenshot":"out.png"}'
//     Headless Debian Chromium (playwright-core, no browser download), fresh profile, background networking
//     off. Opens the page, waits (bounded) until #status no longer reads "connecting…", saves a screenshot and
//     prints one JSON line: {"status": "...", "url": "..."} or {"error": "..."}. Optional fields:
//     "hostResolverRules" (Chromium's --host-resolver-rules, e.g. "MAP evil.example 127.0.0.2": names resolve
//     inside the browser, no DNS) and "timeoutMs" (default 20000).
//
//   node --import tsx test/e2e/browser.ts --serve-page HOST PORT WS_URL
//     Another site: serves one page whose script opens a WebSocket to WS_URL and shows the outcome in #status
//     the way the gateway's dashboard does. Prints "page server: listening" once ready; exits on SIGTERM.
//
// Imported (scripts/record-browser.ts does), it only exports the launcher: the command line runs when this
// file is the program.
import { mkdirSync, realpathSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";

/**
 * What the page's #status said, from the one JSON line the command line above printed (`stdout`, `stderr`: its
 * output); throws with that output when it printed no answer or an error.
 */
export function browserStatus(stdout: string, stderr: string): string {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let answer: { status?: string; error?: string };
  try {
    answer = JSON.parse(line) as typeof answer;
  } catch {
    throw new Error(`the browser driver printed no answer: ${stdout}${stderr}`);
  }
  if (answer.status === undefined) throw new Error(`the browser driver failed: ${answer.error ?? line}\n${stderr}`);
  return answer.status;
}

/** Debian's Chromium: never a downloaded browser. */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Headless Debian Chromium with a fresh temporary profile (playwright's default) and nothing that phones out
 * on its own. `hostResolverRules` is Chromium's --host-resolver-rules ("MAP evil.example 127.0.0.2"): names
 * resolve inside the browser, no DNS.
 */
export function launchChromium(options: { timeoutMs: number; hostResolverRules?: string; extraArgs?: readonly string[] }): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: options.timeoutMs,
    args: [
      "--no-sandbox", // root in CI
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--no-proxy-server",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-default-apps",
      "--disable-domain-reliability",
      "--disable-client-side-phishing-detection",
      "--metrics-recording-only",
      // Keep http:// as typed: no HTTPS-Upgrades attempt on the test's addresses.
      "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
      ...(options.hostResolverRules === undefined ? [] : [`--host-resolver-rules=${options.hostResolverRules}`]),
      ...(options.extraArgs ?? []),
    ],
  });
}

interface DriveArgs {
  url: string;
  screenshot: string;
  hostResolverRules?: string;
  timeoutMs?: number;
}

async function drive(args: DriveArgs): Promise<void> {
  const timeout = args.timeoutMs ?? 20_000;
  const browser = await launchChromium({ timeoutMs: timeout, hostResolverRules: args.hostResolverRules });
  try {
    const page = await browser.newPage({ viewport: { width: 720, height: 240 } });
    await page.goto(args.url, { waitUntil: "load", timeout });
    await page.waitForFunction(`document.getElementById("status")?.textContent !== "connecting…"`, undefined, { timeout });
    const status = (await page.locator("#status").textContent({ timeout })) ?? "";
    mkdirSync(path.dirname(args.screenshot), { recursive: true });
    await page.screenshot({ path: args.screenshot, timeout });
    console.log(JSON.stringify({ status, url: page.url() }));
  } finally {
    await browser.close();
  }
}

function servePage(host: string, port: number, wsUrl: string): void {
  const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Another site</title>
<style>
  body { font: 16px system-ui, sans-serif; margin: 3em; }
  #status { font: 20px ui-monospace, monospace; padding: .6em 1em; border-radius: .4em; display: inline-block; }
  .connected { background: #d9f7d9; } .disconnected { background: #fbdada; } .connecting { background: #eee; }
</style>
</head>
<body>
<h1>A page from another site</h1>
<p>This page: <code id="origin"></code></p>
<p>WebSocket to ${wsUrl.replace(/[?].*/, "")}: <span id="status" class="connecting">connecting…</span></p>
<script>
  // Cross-site WebSocket hijacking: the user's browser, a page from elsewhere, the gateway on loopback.
  document.getElementById("origin").textContent = location.origin;
  const status = document.getElementById("status");
  const show = (text, state) => { status.textContent = text; status.className = state; };
  const ws = new WebSocket(${JSON.stringify(wsUrl)});
  ws.onmessage = (event) => {
    const hello = JSON.parse(event.data);
    show(hello.local ? \`connected as a local client (\${hello.address})\` : \`connected as a paired device (\${hello.address})\`, "connected");
  };
  ws.onclose = (event) => show(\`disconnected (\${event.code}): \${event.reason}\`, "disconnected");
</script>
</body>
</html>
`;
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/" || req.url?.startsWith("/?"))) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(page);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  server.listen(port, host, () => console.log(`page server: listening on ${host}:${port}`));
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      server.closeAllConnections();
      server.close(() => process.exit(0));
    });
  }
}

function isProgram(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

const argv = process.argv.slice(2);
if (!isProgram()) {
  // Imported: the exports only.
} else if (argv[0] === "--serve-page" && argv.length === 4) {
  servePage(argv[1]!, Number(argv[2]), argv[3]!);
} else if (argv.length === 1) {
  // Whatever happens, one JSON line on stdout: the test reads it, not the exit code.
  const watchdog = setTimeout(() => {
    console.log(JSON.stringify({ error: "browser driver: gave up after 60 s" }));
    process.exit(1);
  }, 60_000);
  drive(JSON.parse(argv[0]!) as DriveArgs).then(
    () => clearTimeout(watchdog),
    (error: unknown) => {
      clearTimeout(watchdog);
      console.log(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
      process.exitCode = 1;
    },
  );
} else {
  console.error("usage: browser.ts JSON | browser.ts --serve-page HOST PORT WS_URL");
  process.exit(2);
}
