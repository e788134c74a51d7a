/**
 * CLI plumbing shared by every command: injectable I/O (so tests run `main()` in-process), exit codes, the typed
 * command error, and Gait's JSON error envelope (evidence.md §6.3).
 */
import { resolve } from "node:path";
import { EXIT } from "../engine/exit-codes.js";
import { decodeUtf8Go } from "../engine/utf8.js";
import { asGateError, GateError, type ErrorKind } from "../service/errors.js";

export { EXIT };

export type ErrorCategory =
  | "invalid_input"
  | "verification_failed"
  | "policy_blocked"
  | "approval_required"
  | "dependency_missing"
  | "io_failure"
  | "state_contention"
  | "network_transient"
  | "network_permanent"
  | "internal_failure";

/** Everything a command touches outside its own memory. Defaults are the real process. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  /** directory relative paths are resolved against (tests pass a temp dir instead of chdir) */
  cwd: string;
  env: NodeJS.ProcessEnv;
  now: () => Date;
}

export function defaultIO(): CliIO {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return decodeUtf8Go(Buffer.concat(chunks)); // Go's replacement rule, as for files (inputs.ts readJson)
    },
    cwd: process.cwd(),
    env: process.env,
    now: () => new Date(),
  };
}

/**
 * A command failure with the exit code it maps to. `category`, `code`, `hint` and `retryable` default from the
 * exit code (Gait's defaults), so most call sites only say what went wrong.
 */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = EXIT.INVALID_INPUT,
    readonly opts: { category?: ErrorCategory; code?: string; hint?: string; retryable?: boolean } = {},
  ) {
    super(message);
  }
}

/** Usage/input error (exit 6). */
export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, EXIT.INVALID_INPUT, { hint });
}

function defaultCategory(exit: number): ErrorCategory {
  switch (exit) {
    case EXIT.INVALID_INPUT:
      return "invalid_input";
    case EXIT.VERIFY_FAILED:
      return "verification_failed";
    case EXIT.BLOCKED:
      return "policy_blocked";
    case EXIT.APPROVAL_REQUIRED:
      return "approval_required";
    case 7:
      return "dependency_missing";
    default:
      return "internal_failure";
  }
}

function defaultCode(exit: number): string {
  return exit === 1 ? "internal_failure" : defaultCategory(exit);
}

function defaultHint(exit: number): string {
  switch (exit) {
    case EXIT.INVALID_INPUT:
      return "check command usage and input schema";
    case EXIT.VERIFY_FAILED:
      return "re-run verify after checking artifact integrity";
    case EXIT.BLOCKED:
      return "inspect reason_codes and adjust policy or intent";
    case EXIT.APPROVAL_REQUIRED:
      return "provide a valid approval token and retry";
    default:
      return "retry after checking local environment and logs";
  }
}

/**
 * Add Gait's error envelope fields to a JSON output that carries `error`: error_code, error_category, retryable,
 * hint (explicit values win), plus correlation_id on every output.
 */
export function withEnvelope(output: Record<string, unknown>, exitCode: number, correlationId: string, err?: CliError): Record<string, unknown> {
  const out: Record<string, unknown> = { ...output };
  if (!out.correlation_id && correlationId) out.correlation_id = correlationId;
  if (typeof out.error === "string" && out.error.trim()) {
    const category = err?.opts.category ?? (out.error_category as ErrorCategory | undefined) ?? defaultCategory(exitCode);
    out.error_code ??= err?.opts.code ?? defaultCode(exitCode);
    out.error_category ??= category;
    out.retryable ??= err?.opts.retryable ?? (category === "network_transient" || category === "state_contention");
    out.hint ??= err?.opts.hint ?? defaultHint(exitCode);
  }
  return out;
}

/**
 * The CLI's one table from the error model's kinds (service/errors.ts) to Gait's exit codes and error categories.
 * What the caller must fix is invalid input (6); a dependency that failed or is busy is a runtime failure (1).
 */
export const CLI_EXIT: Readonly<Record<ErrorKind, { exit: number; category: ErrorCategory; retryable?: true }>> = Object.freeze({
  invalid: { exit: EXIT.INVALID_INPUT, category: "invalid_input" },
  not_found: { exit: EXIT.INVALID_INPUT, category: "invalid_input" },
  out_of_range: { exit: EXIT.INVALID_INPUT, category: "invalid_input" },
  precondition: { exit: EXIT.INVALID_INPUT, category: "invalid_input" },
  permission: { exit: EXIT.INVALID_INPUT, category: "invalid_input" },
  unauthenticated: { exit: EXIT.INVALID_INPUT, category: "invalid_input" },
  exhausted: { exit: EXIT.INTERNAL, category: "state_contention", retryable: true },
  unavailable: { exit: EXIT.INTERNAL, category: "io_failure" },
  cancelled: { exit: EXIT.INTERNAL, category: "internal_failure" },
  internal: { exit: EXIT.INTERNAL, category: "internal_failure" },
});

/**
 * Any error as a CliError. Errors of the lower layers are recognised by name and code (asGateError) and mapped by
 * {@link CLI_EXIT}; an operating-system error on a file is an I/O failure (exit 1), a missing file invalid input
 * (exit 6); anything else is an internal failure (exit 1), never "invalid input".
 */
export function toCliError(e: unknown, context?: string): CliError {
  if (e instanceof CliError) return e;
  const g = asGateError(e, (x) => {
    const err = x as NodeJS.ErrnoException;
    const message = err?.message ?? String(x);
    if (err && typeof err.code === "string" && /^E[A-Z]+$/.test(err.code)) {
      return err.code === "ENOENT" ? new GateError("MISSING_INPUT", message, { cause: x }) : new GateError("STATE_UNAVAILABLE", message, { cause: x });
    }
    return new GateError("INTERNAL", `internal error: ${message}`, { cause: x });
  });
  const row = CLI_EXIT[g.kind];
  return new CliError((context ? `${context}: ` : "") + g.message, row.exit, { category: row.category, ...(row.retryable ? { retryable: true } : {}) });
}

/** Per-invocation context handed to commands. */
export class CommandContext {
  readonly warnings: string[] = [];
  constructor(
    readonly io: CliIO,
    /** e.g. "gate eval" */
    readonly command: string,
    readonly correlationId: string,
    readonly json: boolean,
  ) {}

  /** Absolute path for a user-supplied path (relative to the invocation's cwd). */
  path(p: string): string {
    return resolve(this.io.cwd, p);
  }

  warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  /** Print a JSON document (one line, like Gait) with the envelope rules applied. */
  printJson(output: Record<string, unknown>, exitCode: number, err?: CliError): number {
    this.io.stdout(JSON.stringify(withEnvelope(output, exitCode, this.correlationId, err)) + "\n");
    return exitCode;
  }

  /** Human output lines to stdout; warnings go to stderr. */
  printHuman(lines: (string | undefined | false)[], exitCode: number): number {
    const text = lines.filter((l): l is string => typeof l === "string").join("\n");
    if (text) this.io.stdout(text + "\n");
    for (const w of this.warnings) this.io.stderr(`warning: ${w}\n`);
    return exitCode;
  }

  /** Report a failure: JSON envelope on stdout with --json, else a message (and hint) on stderr. */
  fail(err: CliError, extra: Record<string, unknown> = {}): number {
    if (this.json) {
      const warnings = this.warnings.length ? { warnings: [...this.warnings].sort() } : {};
      return this.printJson({ ok: false, ...extra, ...warnings, error: err.message }, err.exitCode, err);
    }
    for (const w of this.warnings) this.io.stderr(`warning: ${w}\n`);
    this.io.stderr(`gait ${this.command}: ${err.message}\n`);
    if (err.opts.hint) this.io.stderr(`hint: ${err.opts.hint}\n`);
    return err.exitCode;
  }
}

/**
 * Go `omitempty` for output objects: drop undefined, null, "", 0, false and empty arrays, except the keys listed in
 * `keep` (e.g. `ok`, `executed`).
 */
export function omitEmpty(obj: Record<string, unknown>, keep: readonly string[] = ["ok"]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (!keep.includes(k)) {
      if (v === undefined || v === null || v === "" || v === 0 || v === false) continue;
      if (Array.isArray(v) && v.length === 0) continue;
    } else if (v === undefined) continue;
    out[k] = v;
  }
  return out;
}
