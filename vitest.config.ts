import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Examples import the package by name, as a user would; tests run them against the source.
    alias: [
      { find: /^clientaddr$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
      { find: /^clientaddr\/(node|express|fastify|hono)$/, replacement: fileURLToPath(new URL("./src/adapters/$1/index.ts", import.meta.url)) },
      { find: /^clientaddr\/proxy-protocol$/, replacement: fileURLToPath(new URL("./src/proxy-protocol/index.ts", import.meta.url)) },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // The end-to-end suite has its own command (npm run test:e2e) and config.
    exclude: ["test/e2e/**", "node_modules/**"],
    // The property tests run thousands of cases each: about 4 s alone for the largest, more beside other files on
    // two cores or under Stryker's instrumentation. A limit is for a hung test, not a slow machine.
    testTimeout: 30_000,
    coverage: {
      provider: "v8",
      // The rules: everything in src/core, the pure code that decides who is local.
      include: ["src/core/**/*.ts"],
      exclude: ["src/core/index.ts"], // re-exports only
      reporter: ["text", "json-summary"],
      thresholds: { branches: 100, functions: 100, lines: 100, statements: 100 },
    },
  },
});
