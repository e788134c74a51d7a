/**
 * Gait's exit codes (cli.md §exit codes), in one place: the CLI exits with them, `gait mcp serve` exits with them at
 * start-up, and the HTTP surface reports a verdict's code as `exit_code`. The verdict travels in the exit code so a
 * script can gate on it: only 0 after `allow` (or `dry_run`) means "may run".
 */
import type { Verdict } from "./types.js";

export const EXIT = Object.freeze({
  OK: 0,
  INTERNAL: 1,
  VERIFY_FAILED: 2,
  BLOCKED: 3,
  APPROVAL_REQUIRED: 4,
  INVALID_INPUT: 6,
  DEPENDENCY_MISSING: 7,
} as const);

/** Gait's exit code for a verdict: block 3, require_approval 4, allow and dry_run 0. */
export function verdictExitCode(verdict: Verdict): 0 | 3 | 4 {
  if (verdict === "block") return EXIT.BLOCKED;
  if (verdict === "require_approval") return EXIT.APPROVAL_REQUIRED;
  return EXIT.OK;
}
