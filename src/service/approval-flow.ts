/**
 * The approval ledger's part in a service decision (the pipeline's {@link ApprovalLedgerFlow}): before the engine,
 * the tokens of a named request are pulled in and tokens that were used, revoked or issued before a ledger reset are
 * dropped (so the quorum counts only usable tokens); after it, the tokens that turned the decision into allow are
 * spent atomically (of concurrent calls presenting one token exactly one wins), and a require_approval decision
 * opens (or reuses) a request an operator can answer. Ledger failures are GateErrors (STATE_UNAVAILABLE), never
 * verdicts; a denied request never turns into allow.
 */
import { requiredApprovalScopes } from "../engine/approval.js";
import { computeTraceId } from "../engine/trace.js";
import { delegationDigest } from "../engine/intent.js";
import { VERDICT_RANK, type ApprovalToken, type GateResult } from "../engine/types.js";
import { isApprovalStoreError, type ApprovalRequest, type ApprovalStore, type ConsumeRef, type NewApprovalRequest, type TokenBlock } from "../state/approvals.js";
import type { ApprovalLedgerFlow, DecisionRequest } from "./decide.js";
import { asGateError, GateError } from "./errors.js";

/** Reason codes the service adds on top of Gait's catalogue (documented in docs/service.md). */
export const SERVICE_REASON = {
  /** a supplied approval token was already used by an allowed decision (single use) */
  tokenConsumed: "approval_token_consumed",
  /** a supplied approval token was revoked: its request was denied, or it predates a reset of the approval ledger */
  tokenRevoked: "approval_token_revoked",
  /** the approval request named by approval_request_id was denied by an operator */
  requestDenied: "approval_request_denied",
  /** the approval request named by approval_request_id expired before it was granted */
  requestExpired: "approval_request_expired",
  /** the approval request named by approval_request_id is still waiting for an operator */
  requestPending: "approval_request_pending",
  /** no approval request was created for this require_approval: too many are open (the call still does not run) */
  requestCapacity: "approval_request_capacity_exceeded",
} as const;

/** Gait's reason code for a decision the approval stage turned into allow. */
const APPROVAL_GRANTED = "approval_granted";
/** Gait's reason codes of the approval stage for "no tokens" and "fewer valid tokens than required". */
const APPROVAL_TOKEN_MISSING = "approval_token_missing";
const APPROVAL_CHAIN_INSUFFICIENT = "approval_chain_insufficient";

const uniqueSorted = (xs: Iterable<string>): string[] => [...new Set([...xs].filter(Boolean))].sort();

export interface LedgerFlowOptions {
  store: ApprovalStore;
  /** Gait behaviour: tokens reusable until they expire (revocation still holds). */
  reuse: boolean;
  /** How long a new request stays answerable. */
  requestTtlMs: number;
  /** Called when a new request was opened (metrics). */
  onCreated?: () => void;
  /** Called when a request could not be opened because the ledger is at capacity (logs). */
  onFull?: (message: string) => void;
}

interface BeforeState {
  named?: ApprovalRequest;
}

/** Store calls fail closed as STATE_UNAVAILABLE (or their own reason: not found, ...). */
async function ledger<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw asGateError(e, (x) => new GateError("STATE_UNAVAILABLE", `approval state unavailable: ${(x as Error).message}`, { cause: x }));
  }
}

/** Ledger references of parsed approval tokens (tokens without an id are left to the engine, which refuses them). */
function tokenRefs(tokens: readonly ApprovalToken[]): ConsumeRef[] {
  const out = new Map<string, ConsumeRef>();
  for (const t of tokens) {
    if (typeof t.token_id !== "string" || t.token_id === "" || out.has(t.token_id)) continue;
    out.set(t.token_id, { token_id: t.token_id, ...(typeof t.created_at === "string" ? { created_at: t.created_at } : {}) });
  }
  return [...out.values()];
}

/** The service's {@link ApprovalLedgerFlow} over an {@link ApprovalStore}. */
export function ledgerFlow(o: LedgerFlowOptions): ApprovalLedgerFlow {
  return {
    async before(req: DecisionRequest, tokens: ApprovalToken[]) {
      const reasons: string[] = [];
      let named: ApprovalRequest | undefined;
      if (req.approvalRequestId) {
        named = await ledger(() => o.store.get(req.approvalRequestId!));
        if (!named) throw new GateError("APPROVAL_REQUEST_NOT_FOUND", `approval request ${req.approvalRequestId} not found`);
        switch (named.state) {
          case "granted":
            tokens = [...tokens, ...named.tokens];
            break;
          case "pending":
            tokens = [...tokens, ...named.tokens]; // a partial quorum still counts
            reasons.push(SERVICE_REASON.requestPending);
            break;
          case "denied":
            reasons.push(SERVICE_REASON.requestDenied);
            break;
          case "expired":
            reasons.push(SERVICE_REASON.requestExpired);
            break;
          case "consumed":
            reasons.push(SERVICE_REASON.tokenConsumed);
            break;
        }
        const seen = new Set<string>();
        tokens = tokens.filter((t) => !(typeof t.token_id === "string" && t.token_id) || (!seen.has(t.token_id) && seen.add(t.token_id)));
      }
      // single use and revocation: a used token, one revoked by a deny, or one issued before a ledger reset is
      // invalid for this decision; the quorum counts only usable tokens. Advisory: spend() below decides.
      let unusable = 0;
      if (tokens.length) {
        const refs = tokenRefs(tokens);
        const blocked = refs.length ? await ledger(() => o.store.tokenStatus(refs)) : new Map<string, TokenBlock>();
        const keep = (t: ApprovalToken) => {
          const b = typeof t.token_id === "string" ? blocked.get(t.token_id) : undefined;
          if (b === "revoked") return false; // revocation holds even with --approval-reuse
          return o.reuse || b === undefined;
        };
        const before = tokens.length;
        tokens = tokens.filter(keep);
        unusable = before - tokens.length;
        const kinds = new Set(blocked.values());
        if (kinds.has("revoked")) reasons.push(SERVICE_REASON.tokenRevoked);
        if (kinds.has("consumed") && !o.reuse) reasons.push(SERVICE_REASON.tokenConsumed);
      }
      return { tokens, reasons, unusable, state: { named } satisfies BeforeState };
    },

    async after(input: GateResult, ctx) {
      let result = input;
      const reasons: string[] = [];
      const warnings: string[] = [];
      const named = (ctx.state as BeforeState | undefined)?.named;
      // used tokens count as presented-but-invalid (Gait: each invalid token adds its code and, short of the quorum,
      // approval_chain_insufficient), not as "no token presented"
      if (ctx.unusable > 0 && result.reason_codes.includes(APPROVAL_TOKEN_MISSING)) {
        result = { ...result, reason_codes: uniqueSorted(result.reason_codes.map((c) => (c === APPROVAL_TOKEN_MISSING ? APPROVAL_CHAIN_INSUFFICIENT : c))) };
      }
      let verdict = result.verdict;
      // a denied request never turns into allow: escalate to block (more restrictive is always safe)
      if (named?.state === "denied" && VERDICT_RANK[verdict] < VERDICT_RANK.block) verdict = "block";

      // spend exactly the tokens that turned this decision into allow (approval_ref), all or nothing; a loser of a
      // race (its token was used between the read and here) requires a fresh approval
      if (verdict === "allow" && !o.reuse && result.approval_ref) {
        if (ctx.req.cancelled?.()) throw new GateError("INTERNAL", "call cancelled or deadline exceeded before a decision was recorded", { kind: "cancelled" });
        const refs: ConsumeRef[] = [];
        for (const id of result.approval_ref.split(",")) {
          if (!id) continue;
          const t = ctx.tokens.find((x) => x.token_id === id);
          refs.push({ token_id: id, ...(t?.expires_at ? { expires_at: t.expires_at } : {}), ...(t?.created_at ? { created_at: t.created_at } : {}) });
        }
        const ok = await ledger(() => o.store.consumeTokens(refs, result.intent_digest));
        if (!ok) {
          verdict = "require_approval";
          reasons.push(SERVICE_REASON.tokenConsumed);
          result = {
            ...result,
            verdict,
            reason_codes: result.reason_codes.filter((c) => c !== APPROVAL_GRANTED),
            required_approval_scopes: result.required_approval_scopes ?? requiredApprovalScopes(result.intent),
          };
        }
      }
      if (verdict !== result.verdict) result = { ...result, verdict };

      // a request an operator can answer (idempotent per intent + policy digest while one is open; the named request
      // is reused when it is still pending for this very call)
      let approvalRequestId: string | undefined;
      if (verdict === "require_approval" && !result.intent_invalid && result.intent_digest) {
        if (named?.state === "pending" && named.intent_digest === result.intent_digest && named.policy_digest === result.policy_digest) {
          approvalRequestId = named.approval_request_id;
        } else {
          const intent = result.intent;
          const req: NewApprovalRequest = {
            tool_name: result.tool_name,
            intent_digest: result.intent_digest,
            policy_digest: result.policy_digest,
            args_digest: result.args_digest,
            required_scopes: result.required_approval_scopes ?? requiredApprovalScopes(intent),
            required_approvals: Math.max(1, result.required_approvals ?? 1),
            identity: intent.context?.identity ?? "",
            run_id: ctx.runId || undefined,
            session_id: ctx.sessionId || intent.context?.session_id || undefined,
            reason_codes: result.reason_codes,
            trace_id: computeTraceId(result.policy_digest, result.intent_digest, verdict),
            ttl_ms: o.requestTtlMs,
          };
          // a delegated call needs tokens bound to its delegation (gate.md §5): Approve mints them with this digest
          if (intent.delegation) req.delegation_binding_digest = delegationDigest(intent.delegation);
          try {
            const made = await o.store.create(req);
            approvalRequestId = made.request.approval_request_id;
            if (made.created) o.onCreated?.();
          } catch (e) {
            if (!(isApprovalStoreError(e) && e.code === "full")) throw asGateError(e, (x) => new GateError("STATE_UNAVAILABLE", `approval state unavailable: ${(x as Error).message}`, { cause: x }));
            // too many open requests: the call still needs approval (it does not run); the operator sees no request
            o.onFull?.(e.message);
            reasons.push(SERVICE_REASON.requestCapacity);
            warnings.push("approval request not created: too many open requests; answer or let some expire");
          }
        }
      }
      return { result, reasons, warnings, approvalRequestId };
    },
  };
}
