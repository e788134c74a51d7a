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

/** The outcome of one `evaluate()`. Never thrown: failures are decisions too. */
export interface Decision {
  readonly verdict: VerdictName;
  /** True only for a well-formed VERDICT_ALLOW answer. The one field a runtime needs to check. */
  readonly allowed: boolean;
  /** Sorted reason codes from the server, or `["fail_closed_<cause>"]`. */
  readonly reasonCodes: readonly string[];
  readonly violations: readonly string[];
  /** True when the client produced this `block` itself because the call failed. */
  readonly failClosed: boolean;
  /** Set when `failClosed`: what went wrong. */
  readonly cause?: FailClosedCause;
  /** gRPC status code name (e.g. "DEADLINE_EXCEEDED") when the call failed with a status. */
  readonly statusCode?: string;
  /** google.rpc.ErrorInfo.reason sent by the server (an ErrorReason name such as "INVALID_INTENT"). */
  readonly errorReason?: string;
  /** Human-readable error message when `failClosed`. */
  readonly message?: string;
  /** The pending approval request when `verdict` is `require_approval`. */
  readonly approvalRequestId: string;
  readonly traceId: string;
  readonly intentDigest: string;
  readonly policyDigest: string;
  /** The full server answer, when there was one. */
  readonly response?: EvaluateResponse;
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
  return {
    verdict: "block",
    allowed: false,
    reasonCodes: [`fail_closed_${cause}`],
    violations: [],
    failClosed: true,
    cause,
    message,
    approvalRequestId: "",
    traceId: extra.response?.traceId ?? "",
    intentDigest: extra.response?.intentDigest ?? "",
    policyDigest: extra.response?.policyDigest ?? "",
    ...(extra.statusCode !== undefined ? { statusCode: extra.statusCode } : {}),
    ...(extra.errorReason !== undefined ? { errorReason: extra.errorReason } : {}),
    ...(extra.response !== undefined ? { response: extra.response } : {}),
  };
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
  return {
    verdict: name,
    allowed: name === "allow",
    reasonCodes: [...res.reasonCodes],
    violations: [...res.violations],
    failClosed: false,
    approvalRequestId: res.approvalRequestId,
    traceId: res.traceId,
    intentDigest: res.intentDigest,
    policyDigest: res.policyDigest,
    response: res,
  };
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
