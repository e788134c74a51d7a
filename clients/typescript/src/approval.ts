/**
 * Approvals as plain values: what an operator passes to `approve()` / `deny()` (seconds and strings, no protobuf
 * Duration) and what approval reads return (state names, numbers and Dates, no bigints or `$typeName`).
 */
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  ApprovalDecision,
  ApprovalState,
  ApprovalRequestInfoSchema,
  ApproveRequestSchema,
  type ApprovalRequestInfo,
  type ApproveRequest,
  type ApproveResponse,
  type GetApprovalResponse,
} from "./gen/gait/gate/v1/gate_service_pb.js";

/** The life cycle of an approval request. `unspecified` is what an unknown or missing state reads as. */
export type ApprovalStateName = "pending" | "granted" | "denied" | "expired" | "consumed" | "unspecified";

/** What an operator grants. */
export interface Grant {
  /** Who approves (the token's `approver_identity`). */
  approver: string;
  /** Why (the token's `reason_code`), e.g. a change ticket. */
  reasonCode: string;
  /** Token lifetime in seconds; must be positive. */
  ttlSeconds: number;
  /** Token scopes. @defaultValue the request's required scopes (required when approving bare digests) */
  scopes?: readonly string[];
  /** Most targets one use of the token may cover. @defaultValue 0 (no limit) */
  maxTargets?: number;
  /** Most operations one use of the token may cover. @defaultValue 0 (no limit) */
  maxOps?: number;
}

/** What an operator denies with. */
export interface Denial {
  /** Who denies. */
  approver: string;
  /** Why; recorded as the request's `deny_reason`. @defaultValue "" */
  reason?: string;
}

/** A call named by its digests (`gait approve --intent-digest ... --policy-digest ...`), without a pending request. */
export interface DigestBinding {
  intentDigest: string;
  policyDigest: string;
  delegationBindingDigest?: string;
}

/** One approval request, as plain values. */
export interface ApprovalRequest {
  readonly approvalRequestId: string;
  readonly state: ApprovalStateName;
  readonly toolName: string;
  readonly intentDigest: string;
  readonly policyDigest: string;
  readonly argsDigest: string;
  readonly requiredScopes: readonly string[];
  readonly requiredApprovals: number;
  readonly grantedApprovals: number;
  readonly approvers: readonly string[];
  readonly identity: string;
  readonly runId: string;
  readonly sessionId: string;
  readonly reasonCodes: readonly string[];
  readonly traceId: string;
  readonly createdAt?: Date;
  /** The request expires after this time if not granted. */
  readonly expiresAt?: Date;
  readonly deniedBy: string;
  readonly denyReason: string;
}

/** The answer to `approve()` / `deny()`: the request's new state and, for a grant, the signed token. */
export interface Approval {
  /** The request after the answer (absent when a token was minted for bare digests). */
  readonly request?: ApprovalRequest;
  /** The `gait.gate.approval_token` JSON document; "" for a denial. */
  readonly tokenJson: string;
  readonly tokenId: string;
  readonly tokenExpiresAt?: Date;
}

/** The answer to `getApproval()` / `waitForApproval()`. */
export interface ApprovalStatus {
  readonly request: ApprovalRequest;
  /** The granted token documents, once granted. */
  readonly tokenJsons: readonly string[];
}

const STATE_NAMES: ReadonlyMap<ApprovalState, ApprovalStateName> = new Map([
  [ApprovalState.PENDING, "pending"],
  [ApprovalState.GRANTED, "granted"],
  [ApprovalState.DENIED, "denied"],
  [ApprovalState.EXPIRED, "expired"],
  [ApprovalState.CONSUMED, "consumed"],
]);

/** The plain form of an ApprovalRequestInfo message. */
export function approvalRequestFrom(m: ApprovalRequestInfo): ApprovalRequest {
  return {
    approvalRequestId: m.approvalRequestId,
    state: STATE_NAMES.get(m.state) ?? "unspecified",
    toolName: m.toolName,
    intentDigest: m.intentDigest,
    policyDigest: m.policyDigest,
    argsDigest: m.argsDigest,
    requiredScopes: [...m.requiredScopes],
    requiredApprovals: m.requiredApprovals,
    grantedApprovals: m.grantedApprovals,
    approvers: [...m.approvers],
    identity: m.identity,
    runId: m.runId,
    sessionId: m.sessionId,
    reasonCodes: [...m.reasonCodes],
    traceId: m.traceId,
    ...(m.createdAt ? { createdAt: timestampDate(m.createdAt) } : {}),
    ...(m.expiresAt ? { expiresAt: timestampDate(m.expiresAt) } : {}),
    deniedBy: m.deniedBy,
    denyReason: m.denyReason,
  };
}

/** The plain form of an ApproveResponse. */
export function approvalFrom(m: ApproveResponse): Approval {
  return {
    ...(m.request ? { request: approvalRequestFrom(m.request) } : {}),
    tokenJson: m.tokenJson,
    tokenId: m.tokenId,
    ...(m.expiresAt ? { tokenExpiresAt: timestampDate(m.expiresAt) } : {}),
  };
}

/**
 * The plain form of a GetApprovalResponse. A response without a request reads as state `unspecified` (never as
 * granted), so a waiter stops and the caller does not run anything on it.
 */
export function approvalStatusFrom(m: GetApprovalResponse, approvalRequestId: string): ApprovalStatus {
  const request = m.request
    ? approvalRequestFrom(m.request)
    : approvalRequestFrom(create(ApprovalRequestInfoSchema, { approvalRequestId, state: ApprovalState.UNSPECIFIED }));
  return { request, tokenJsons: [...m.tokenJsons] };
}

function seconds(ttlSeconds: number): { seconds: bigint; nanos: number } {
  if (typeof ttlSeconds !== "number" || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`ttlSeconds must be a positive number of seconds, got ${String(ttlSeconds)}`);
  }
  const whole = Math.floor(ttlSeconds);
  return { seconds: BigInt(whole), nanos: Math.round((ttlSeconds - whole) * 1e9) };
}

function uint32(name: string, v: number | undefined): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${name} must be a whole number >= 0, got ${String(v)}`);
  return v;
}

/** The ApproveRequest for a grant of a pending request or of bare digests. Throws a RangeError for a bad ttl. */
export function grantRequest(target: string | DigestBinding, grant: Grant): ApproveRequest {
  return create(ApproveRequestSchema, {
    target: typeof target === "string"
      ? { case: "approvalRequestId", value: target }
      : { case: "digests", value: { intentDigest: target.intentDigest, policyDigest: target.policyDigest, delegationBindingDigest: target.delegationBindingDigest ?? "" } },
    decision: ApprovalDecision.GRANT,
    approver: grant.approver,
    reasonCode: grant.reasonCode,
    ttl: seconds(grant.ttlSeconds),
    scopes: [...(grant.scopes ?? [])],
    maxTargets: uint32("maxTargets", grant.maxTargets),
    maxOps: uint32("maxOps", grant.maxOps),
  });
}

/** The ApproveRequest for a denial of a pending request. */
export function denyRequest(approvalRequestId: string, denial: Denial): ApproveRequest {
  return create(ApproveRequestSchema, {
    target: { case: "approvalRequestId", value: approvalRequestId },
    decision: ApprovalDecision.DENY,
    approver: denial.approver,
    reasonCode: denial.reason ?? "",
  });
}
