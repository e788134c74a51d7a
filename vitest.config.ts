import { defineConfig } from "vitest/config";

// One config for every TypeScript suite. Unit tests are fast and deterministic; integration tests start the
// real server (compiled under dist/) on a socket in a fresh temp dir. No timing thresholds anywhere.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // builds dist/ once (the integration suites spawn the compiled server and CLI)
    globalSetup: ["test/integration/setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
