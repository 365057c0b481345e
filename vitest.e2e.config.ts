import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The end-to-end suite: real proxies, network namespaces and a real browser. Files run one at a time (they
// start servers and namespaces), with generous per-test limits; each test bounds its own waits.
export default defineConfig({
  resolve: {
    alias: { clientaddr: fileURLToPath(new URL("./src/core/index.ts", import.meta.url)) },
  },
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
