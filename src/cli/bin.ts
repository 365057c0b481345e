#!/usr/bin/env node
// The executable: everything but the process wiring lives in cli.ts.
import { run } from "./cli.js";

// exitCode rather than process.exit(), so that output still being written to a pipe is not cut off.
process.exitCode = await run(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
