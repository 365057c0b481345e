#!/usr/bin/env node
// The executable: everything but the process wiring lives in cli.ts.
import { run } from "./cli.js";

// A reader that stops early (`clientaddr replay | head`) closes the pipe: the rest is not wanted, which is no
// error of ours. Anything else on stdout is.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

// exitCode rather than process.exit(), so that output still being written to a pipe is not cut off.
process.exitCode = await run(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
