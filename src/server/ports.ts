/**
 * What the decision service needs from the durable stores, as narrow interfaces. The concrete implementations are
 * the trace log (src/tracelog) and the approval store (src/state/approvals.ts), adapted in `stores.ts`; tests and
 * the service code depend only on these shapes.
 */
import type { ApprovalToken } from "../engine/types.js";
import type { SignedTraceRecord } from "../tracelog/format.js";

/** One durable trace log entry (src/tracelog TraceEntry). `recordText()` is the signed record's JSON as stored. */
export interface TraceEntry {
  readonly seq: number;
  readonly prev: string;
  readonly hash: string;
  recordText(): string;
}

export interface TraceLogPort {
  /** Resolves once the entry is durable (fsynced, group commit). */
  append(record: SignedTraceRecord): Promise<{ seq: number; hash: string }>;
  /** Entries from `fromSeq` (>= 1) in order; with `follow`, waits for new durable entries until `signal` aborts. */
  readFrom(fromSeq: number, opts: { follow: boolean; signal: AbortSignal }): AsyncIterable<TraceEntry>;
  /** The durable head (seq 0 and the genesis hash for an empty log). */
  head(): { seq: number; hash: string };
  /** Seq of the oldest entry retention has kept (head + 1 when empty). */
  oldestSeq(): number;
  /** Flush, write a final checkpoint, close. */
  close(): Promise<void>;
}

export type ApprovalStateName = "pending" | "granted" | "denied" | "expired" | "consumed";

/** A durable approval request (created on require_approval). */
export interface ApprovalRecord {
  id: string;
  state: ApprovalStateName;
  tool_name: string;
  intent_digest: string;
  policy_digest: string;
  args_digest: string;
  delegation_binding_digest?: string;
  required_scopes: string[];
  required_approvals: number;
  identity: string;
  run_id?: string;
  session_id?: string;
  reason_codes: string[];
  trace_id: string;
  created_at: string;
  expires_at: string;
  /** Granted tokens (one per approver). */
  tokens: ApprovalToken[];
  denied_by?: string;
  deny_reason?: string;
}

export type NewApprovalRequest = Omit<ApprovalRecord, "id" | "state" | "tokens" | "denied_by" | "deny_reason">;

export interface ApprovalStorePort {
  /** Create a pending request, or return the existing pending one for the same intent + policy digests. */
  createOrGetPending(req: NewApprovalRequest, now: Date): Promise<{ record: ApprovalRecord; created: boolean }>;
  /** A request with its state as of `now` (pending requests past expires_at read as expired). */
  get(id: string, now: Date): Promise<ApprovalRecord | undefined>;
  /** Oldest first. */
  list(states: ApprovalStateName[], now: Date): Promise<ApprovalRecord[]>;
  /** Add a granted token; the state becomes granted once `required_approvals` tokens are held. Throws ApprovalStateError. */
  grant(id: string, token: ApprovalToken, now: Date): Promise<ApprovalRecord>;
  /** Throws ApprovalStateError when the request is not pending. */
  deny(id: string, approver: string, reason: string, now: Date): Promise<ApprovalRecord>;
  /** Whether this token id was already used by an allowed decision. */
  isConsumed(tokenId: string): Promise<boolean>;
  /** Record the single use; false when the token was already consumed (by anyone). */
  consumeToken(tokenId: string, intentDigest: string, now: Date): Promise<boolean>;
  close(): Promise<void>;
}

/** The request is missing or not in a state that allows the operation. */
export class ApprovalStateError extends Error {
  override name = "ApprovalStateError";
  constructor(
    readonly kind: "not_found" | "not_pending",
    message: string,
  ) {
    super(message);
  }
}
