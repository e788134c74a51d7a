/**
 * vitest globalSetup for the integration suites: build dist/ once (tsc -p tsconfig.build.json) when it is missing or
 * older than src/, before any test file spawns the compiled server. Register it in vitest.config.ts:
 * `test: { globalSetup: ["test/integration/setup.ts"] }`. Without it, each suite builds lazily under a lock.
 */
import { ensureBuilt } from "./harness.js";

export default function setup(): void {
  ensureBuilt();
}
