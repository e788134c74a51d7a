/**
 * The decision object every `evaluate()` returns, and the one place that turns a failure into a fail-closed `block`.
 *
 * Rule: only a well-formed answer whose verdict is VERDICT_ALLOW may execute. Everything else (a gRPC error, a
 * deadline, a response that does not decode, VERDICT_UNSPECIFIED or a number this client does not know) becomes
 * `verdict: "block"` with `failClosed: true` and exactly one reason code `fail_closed_<cause>`.
 */
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { fromBinary } from "@bufbuild/protobuf";
import type { EvaluateResponse } from "./gen/gait/gate/v1/gate_service_pb.js";
import { Verdict } from "./gen/gait/gate/v1/verdict_pb.js";
import { ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "./gen/google/rpc/status_pb.js";

/** Gait's verdict names. Only `allow` executes. */
export type VerdictName = "allow" | "block" | "require_approval" | "dry_run";

/**
 * Why a call failed closed; the reason code is `fail_closed_<cause>`. gRPC status codes map to their lowercase
 * name (`deadline_exceeded`, `unavailable`, `cancelled`, `invalid_argument`, `internal`, `permission_denied`, ...).
 */
export type FailClosedCause =
  | "deadline_exceeded"
  | "unavailable"
  | "cancelled"
  | "unknown"
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "data_loss"
  | "unauthenticated"
  | "malformed_response"
  | "unspecified_verdict"
  | "unknown_verdict";

/** The fields of a {@link Decision}. */
export interface DecisionFields {
  readonly verdict: VerdictName;
  readonly reasonCodes: readonly string[];
  readonly violations?: readonly string[];
  readonly failClosed?: boolean;
  readonly cause?: FailClosedCause;
  readonly statusCode?: string;
  readonly errorReason?: string;
  readonly message?: string;
  readonly approvalRequestId?: string;
  readonly traceId?: string;
  readonly intentDigest?: string;
  readonly policyDigest?: string;
}

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/**
 * The outcome of one `evaluate()`. Never thrown: failures are decisions too. Immutable.
 *
 * Printing is readable: `String(d)` is one line (`allow [read_ok] trace=...`, or `block (fail closed: unavailable)
 * [fail_closed_unavailable]: cannot connect ...`), `console.log(d)` shows that line, and `JSON.stringify(d)` gives
 * the plain fields. The server's raw answer stays reachable as {@link Decision.response} but is never printed.
 */
export class Decision {
  readonly verdict: VerdictName;
  /** True only for a well-formed VERDICT_ALLOW answer. The one field a runtime needs to check. */
  readonly allowed: boolean;
  /** Sorted reason codes from the server, or `["fail_closed_<cause>"]`. */
  readonly reasonCodes: readonly string[];
  readonly violations: readonly string[];
  /** True when the client produced this `block` itself because the call failed. */
  readonly failClosed: boolean;
  /** Set when `failClosed`: what went wrong. */
  declare readonly cause?: FailClosedCause;
  /** gRPC status code name (e.g. "DEADLINE_EXCEEDED") when the call failed with a status. */
  declare readonly statusCode?: string;
  /** google.rpc.ErrorInfo.reason sent by the server (an ErrorReason name such as "INVALID_INTENT"). */
  declare readonly errorReason?: string;
  /** Human-readable error message when `failClosed`. */
  declare readonly message?: string;
  /** The pending approval request when `verdict` is `require_approval`. */
  readonly approvalRequestId: string;
  readonly traceId: string;
  readonly intentDigest: string;
  readonly policyDigest: string;
  readonly #response: EvaluateResponse | undefined;

  constructor(fields: DecisionFields, response?: EvaluateResponse) {
    const failClosed = fields.failClosed ?? false;
    this.verdict = fields.verdict;
    // allow is decided here, once: a fail-closed decision is never allowed whatever its verdict field says
    this.allowed = fields.verdict === "allow" && !failClosed;
    this.reasonCodes = Object.freeze([...fields.reasonCodes]);
    this.violations = Object.freeze([...(fields.violations ?? [])]);
    this.failClosed = failClosed;
    if (fields.cause !== undefined) (this as { cause?: FailClosedCause }).cause = fields.cause;
    if (fields.statusCode !== undefined) (this as { statusCode?: string }).statusCode = fields.statusCode;
    if (fields.errorReason !== undefined) (this as { errorReason?: string }).errorReason = fields.errorReason;
    if (fields.message !== undefined) (this as { message?: string }).message = fields.message;
    this.approvalRequestId = fields.approvalRequestId ?? "";
    this.traceId = fields.traceId ?? "";
    this.intentDigest = fields.intentDigest ?? "";
    this.policyDigest = fields.policyDigest ?? "";
    this.#response = response;
    Object.freeze(this);
  }

  /** The full server answer (a protobuf message), when there was one. Not printed and not in `toJSON()`. */
  get response(): EvaluateResponse | undefined {
    return this.#response;
  }

  /**
   * One line, the same in the three clients: `<verdict>[ (fail closed: <cause>[, <error reason>])] [<reasons>]
   * [violations=[...]][ approval_request=<id>][ trace=<id>][: <message>]`.
   */
  toString(): string {
    let s: string = this.verdict;
    if (this.failClosed) s += ` (fail closed: ${this.cause ?? "unknown"}${this.errorReason ? `, ${this.errorReason}` : ""})`;
    s += ` [${this.reasonCodes.join(", ")}]`;
    if (this.violations.length) s += ` violations=[${this.violations.join(", ")}]`;
    if (this.approvalRequestId) s += ` approval_request=${this.approvalRequestId}`;
    if (this.traceId) s += ` trace=${this.traceId}`;
    if (this.message) s += `: ${this.message}`;
    return s;
  }

  /** The plain fields (what `JSON.stringify` writes). */
  toJSON(): DecisionFields & { allowed: boolean } {
    const { verdict, allowed, reasonCodes, violations, failClosed, approvalRequestId, traceId, intentDigest, policyDigest } = this;
    return {
      verdict,
      allowed,
      reasonCodes,
      violations,
      failClosed,
      ...(this.cause !== undefined ? { cause: this.cause } : {}),
      ...(this.statusCode !== undefined ? { statusCode: this.statusCode } : {}),
      ...(this.errorReason !== undefined ? { errorReason: this.errorReason } : {}),
      ...(this.message !== undefined ? { message: this.message } : {}),
      approvalRequestId,
      traceId,
      intentDigest,
      policyDigest,
    };
  }

  /** What `console.log` and `util.inspect` show in Node. */
  [INSPECT](): string {
    return `Decision(${this.toString()})`;
  }
}

const VERDICTS: ReadonlyMap<number, VerdictName> = new Map([
  [Verdict.ALLOW, "allow"],
  [Verdict.BLOCK, "block"],
  [Verdict.REQUIRE_APPROVAL, "require_approval"],
  [Verdict.DRY_RUN, "dry_run"],
]);

/** gRPC status numbers -> lowercase names (grpc-js is not imported here so this file also runs outside Node). */
const STATUS_NAMES = [
  "ok", "cancelled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
  "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented",
  "internal", "unavailable", "data_loss", "unauthenticated",
] as const;

/** The fail-closed cause for a gRPC status code (an unknown or OK code is `unknown`). */
export function causeOfStatus(code: number): FailClosedCause {
  const name = STATUS_NAMES[code];
  return name && name !== "ok" ? name : "unknown";
}

/** Builds the fail-closed `block` decision for a cause. */
export function failClosedDecision(
  cause: FailClosedCause,
  message: string,
  extra: { statusCode?: string; errorReason?: string; response?: EvaluateResponse } = {},
): Decision {
  return new Decision(
    {
      verdict: "block",
      reasonCodes: [`fail_closed_${cause}`],
      failClosed: true,
      cause,
      message,
      traceId: extra.response?.traceId ?? "",
      intentDigest: extra.response?.intentDigest ?? "",
      policyDigest: extra.response?.policyDigest ?? "",
      ...(extra.statusCode !== undefined ? { statusCode: extra.statusCode } : {}),
      ...(extra.errorReason !== undefined ? { errorReason: extra.errorReason } : {}),
    },
    extra.response,
  );
}

/** Turns a decoded answer into a decision; an unspecified or unknown verdict fails closed. */
export function decisionFromResponse(res: EvaluateResponse): Decision {
  const name = VERDICTS.get(res.verdict);
  if (res.verdict === Verdict.UNSPECIFIED) {
    return failClosedDecision("unspecified_verdict", "the server answered VERDICT_UNSPECIFIED; treated as block", { response: res });
  }
  if (name === undefined) {
    return failClosedDecision("unknown_verdict", `the server answered an unknown verdict (${res.verdict}); treated as block`, { response: res });
  }
  return new Decision(
    {
      verdict: name,
      reasonCodes: res.reasonCodes,
      violations: res.violations,
      approvalRequestId: res.approvalRequestId,
      traceId: res.traceId,
      intentDigest: res.intentDigest,
      policyDigest: res.policyDigest,
    },
    res,
  );
}

/**
 * Reads google.rpc.ErrorInfo.reason from a `grpc-status-details-bin` trailer value. Returns undefined when the
 * trailer is absent or unreadable (the decision still fails closed; only the detail is lost).
 */
export function errorReasonFromStatusDetails(bin: Uint8Array | undefined): string | undefined {
  if (!bin || bin.length === 0) return undefined;
  try {
    const status = fromBinary(StatusSchema, bin);
    for (const any of status.details) {
      const info = anyUnpack(any, ErrorInfoSchema);
      if (info) return info.reason;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
