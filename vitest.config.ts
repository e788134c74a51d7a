import { defineConfig } from "vitest/config";

// One config for every TypeScript suite. Unit tests are fast and deterministic; integration tests start the
// real server (compiled under dist/) on a socket in a fresh temp dir. No timing thresholds anywhere.
//
// The CLI suites (test/unit/cli) run three times: in-process from the sources, through bin/gait (Node), and through
// the self-contained executable of `make dist`, so the builds cannot drift (GAIT_CLI, see test/unit/cli/helpers.ts).
const DIST_EXE = `dist/gait-${process.platform}-${process.arch}`;
const CLI_SUITES = ["test/unit/cli/**/*.test.ts"];

export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        // builds dist/ once (the integration suites spawn the compiled server and CLI)
        test: { name: "main", include: ["test/**/*.test.ts"], exclude: ["test/standalone/**"], globalSetup: ["test/integration/setup.ts"] },
      },
      {
        extends: true,
        test: { name: "cli:bin/gait", include: CLI_SUITES, env: { GAIT_CLI: "bin/gait" }, globalSetup: ["test/integration/setup.ts"] },
      },
      {
        extends: true,
        // the executable alone, and the CLI suites against it; builds it once when missing or stale
        test: { name: `cli:${DIST_EXE}`, include: [...CLI_SUITES, "test/standalone/**/*.test.ts"], env: { GAIT_CLI: DIST_EXE }, globalSetup: ["test/integration/setup.ts", "test/standalone/setup.ts"] },
      },
    ],
  },
});
