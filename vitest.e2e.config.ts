import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The end-to-end suite: real proxies, network namespaces and a real browser. Files run one at a time (they
// start servers and namespaces), with generous per-test limits; each test bounds its own waits.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^clientaddr$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
      { find: /^clientaddr\/(node|express|fastify|hono)$/, replacement: fileURLToPath(new URL("./src/adapters/$1/index.ts", import.meta.url)) },
      { find: /^clientaddr\/proxy-protocol$/, replacement: fileURLToPath(new URL("./src/proxy-protocol/index.ts", import.meta.url)) },
    ],
  },
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
