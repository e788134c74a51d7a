/**
 * The one error model of the service layer. Everything that is not a verdict is a {@link GateError}: a stable
 * `reason` (the names of the proto `ErrorReason` values, without their prefix), a `kind` (what class of failure it is,
 * which each transport maps to its own status in one table), a human message, and the `cause` kept for logging (it is
 * never sent). An error never carries a verdict: every caller treats it as block.
 *
 * Lower layers raise their own errors (the engine's IntentError/PolicyError, the stores' ApprovalStoreError and
 * TraceLogError, ...); {@link asGateError} turns any of them into a GateError by name and code (no `instanceof`, no
 * matching on message text). Anything unknown is INTERNAL: a bug is never reported as the caller's invalid input.
 */

/** Machine-readable reasons (proto `gait.gate.v1.ErrorReason` without `ERROR_REASON_`). */
export type Reason =
  | "INVALID_INTENT"
  | "INVALID_TOOL_CALL"
  | "UNSUPPORTED_ADAPTER"
  | "MISSING_INPUT"
  | "INVALID_TOKEN_DOCUMENT"
  | "APPROVAL_REQUEST_NOT_FOUND"
  | "APPROVAL_REQUEST_NOT_PENDING"
  | "OPERATOR_ONLY"
  | "TRACE_WRITE_FAILED"
  | "STATE_UNAVAILABLE"
  | "POLICY_UNAVAILABLE"
  | "OVERLOADED"
  | "INVALID_CURSOR"
  | "UNAUTHENTICATED"
  | "SHUTTING_DOWN"
  | "INVALID_ARGUMENT"
  | "INTERNAL"
  | "SIGNING_FAILED"
  | "RUNPACK_WRITE_FAILED"
  | "PROFILE_VIOLATION"
  | "INVALID_REQUEST"
  | "EXPORT_STALLED"
  | "APPROVER_NOT_ALLOWED"
  | "KILL_SWITCH_ENTRY_NOT_FOUND";

/**
 * The class of a failure: what the caller can do about it. Each transport maps kinds to its statuses in one table
 * (grpc/errors.ts, http/errors.ts, the CLI's exit codes).
 */
export type ErrorKind =
  | "invalid" // fix the input
  | "not_found"
  | "precondition" // the server's state or configuration does not allow it; retrying does not help
  | "permission"
  | "unauthenticated"
  | "exhausted" // too much at once: retry later
  | "unavailable" // a dependency failed: retry later, elsewhere
  | "out_of_range"
  | "cancelled"
  | "internal";

/** The kind each reason has unless the error says otherwise. */
export const REASON_KIND: Readonly<Record<Reason, ErrorKind>> = Object.freeze({
  INVALID_INTENT: "invalid",
  INVALID_TOOL_CALL: "invalid",
  UNSUPPORTED_ADAPTER: "invalid",
  MISSING_INPUT: "invalid",
  INVALID_TOKEN_DOCUMENT: "invalid",
  APPROVAL_REQUEST_NOT_FOUND: "not_found",
  APPROVAL_REQUEST_NOT_PENDING: "precondition",
  OPERATOR_ONLY: "permission",
  TRACE_WRITE_FAILED: "unavailable",
  STATE_UNAVAILABLE: "unavailable",
  POLICY_UNAVAILABLE: "unavailable",
  OVERLOADED: "exhausted",
  INVALID_CURSOR: "invalid",
  UNAUTHENTICATED: "unauthenticated",
  SHUTTING_DOWN: "unavailable",
  INVALID_ARGUMENT: "invalid",
  INTERNAL: "internal",
  SIGNING_FAILED: "internal",
  RUNPACK_WRITE_FAILED: "internal",
  PROFILE_VIOLATION: "precondition",
  INVALID_REQUEST: "invalid",
  EXPORT_STALLED: "exhausted",
  APPROVER_NOT_ALLOWED: "permission",
  KILL_SWITCH_ENTRY_NOT_FOUND: "not_found",
});

export interface GateErrorOptions {
  /** The underlying error, kept for the server log (never sent to the caller). */
  cause?: unknown;
  /** Overrides the reason's kind (e.g. INVALID_CURSOR as out_of_range for a cursor retention removed). */
  kind?: ErrorKind;
  /** Machine-readable extras (ErrorInfo.metadata on gRPC). */
  metadata?: Readonly<Record<string, string>>;
}

/** A failure that is not a verdict. */
export class GateError extends Error {
  override name = "GateError";
  readonly kind: ErrorKind;
  readonly metadata: Readonly<Record<string, string>>;
  constructor(
    readonly reason: Reason,
    message: string,
    options: GateErrorOptions = {},
  ) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.kind = options.kind ?? REASON_KIND[reason];
    this.metadata = options.metadata ?? {};
  }
}

/** Name-based guard (survives duplicated module copies). */
export function isGateError(e: unknown): e is GateError {
  return typeof e === "object" && e !== null && (e as Error).name === "GateError" && typeof (e as GateError).reason === "string";
}

/** Shorthand constructor. */
export const gateError = (reason: Reason, message: string, options?: GateErrorOptions): GateError => new GateError(reason, message, options);

type Coded = Error & { code?: unknown; reason?: unknown };

/**
 * Any thrown value as a GateError. Known error types of the lower layers are recognised by `name` (and `code`);
 * `fallback` decides what an unknown error is (INTERNAL by default; a store call passes STATE_UNAVAILABLE).
 */
export function asGateError(e: unknown, fallback: (e: unknown) => GateError = (x) => new GateError("INTERNAL", "internal error (see server log)", { cause: x })): GateError {
  if (isGateError(e)) return e;
  if (typeof e !== "object" || e === null) return fallback(e);
  const err = e as Coded;
  switch (err.name) {
    case "IntentError":
      return new GateError("INVALID_INTENT", err.message, { cause: e });
    case "PolicyError":
      return new GateError("INVALID_INTENT", err.message, { cause: e });
    case "GateConfigError":
      return new GateError("PROFILE_VIOLATION", err.message, { cause: e });
    case "KillSwitchStateError":
      return new GateError("STATE_UNAVAILABLE", err.message, { cause: e, metadata: { state: "kill_switch" } });
    case "RequestDecodeError":
      return new GateError("INVALID_REQUEST", err.message, { cause: e });
    case "TokenMintError":
      return new GateError("INVALID_ARGUMENT", err.message, { cause: e });
    case "ApprovalStoreError":
      switch (err.code) {
        case "not_found":
          return new GateError("APPROVAL_REQUEST_NOT_FOUND", err.message, { cause: e });
        case "conflict":
          return new GateError("APPROVAL_REQUEST_NOT_PENDING", err.message, { cause: e });
        case "invalid":
          return new GateError("INVALID_ARGUMENT", err.message, { cause: e });
        case "forbidden":
          return new GateError("APPROVER_NOT_ALLOWED", err.message, { cause: e });
        default:
          return new GateError("STATE_UNAVAILABLE", `approval state unavailable: ${err.message}`, { cause: e });
      }
    case "TraceLogError":
      return new GateError("TRACE_WRITE_FAILED", `trace record could not be made durable: ${err.message}`, { cause: e });
    case "CounterStateError":
      return new GateError("STATE_UNAVAILABLE", err.message, { cause: e });
    case "SharedStateError":
      // the shared state of replicas (--state redis://): unreachable, too slow, or refused as rolled back
      return new GateError("STATE_UNAVAILABLE", err.message, { cause: e, metadata: { state: "shared" } });
    case "CounterLockTimeoutError":
      // another process holds the counter file: busy, retry (CLI: state_contention, retryable)
      return new GateError("STATE_UNAVAILABLE", err.message, { cause: e, kind: "exhausted" });
    default:
      return fallback(e);
  }
}
