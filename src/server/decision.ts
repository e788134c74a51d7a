/**
 * One decision, end to end, shared by the gRPC and HTTP surfaces: decode -> the whole `gate eval` pipeline (rate
 * limits, budgets, delegation, approvals, broker, kill switch) -> single-use token consumption -> pending approval
 * request -> signed trace appended to the durable log -> (optional) runpack. The caller gets a verdict only after the
 * trace entry is durable; every failure is a thrown GrpcError (never a verdict, never allow).
 */
import { join } from "node:path";
import { mkdir, writeFile, rename } from "node:fs/promises";
import type { Logger } from "pino";
import * as grpc from "@grpc/grpc-js";
import { KillSwitchStateError } from "../engine/killswitch.js";
import { evaluateGate, GateConfigError } from "../engine/gate.js";
import { decodeToolCall } from "../engine/adapters.js";
import { parseApprovalToken, requiredApprovalScopes } from "../engine/approval.js";
import { parseDelegationToken } from "../engine/delegation.js";
import { buildTraceRecord, computeTraceId, signTraceRecordWithText, type SignedTraceText, type TraceRecord } from "../engine/trace.js";
import { delegationDigest } from "../engine/intent.js";
import {
  IntentError,
  PolicyError,
  VERDICT_RANK,
  type ApprovalToken,
  type CounterStore,
  type CredentialBroker,
  type DelegationToken,
  type GateResult,
  type KillSwitchState,
  type Verdict,
} from "../engine/types.js";
import { buildSingleCallRunpack, normalizeRunId } from "../runpack/runpack.js";
import type { Verifier } from "../engine/signature.js";
import { ErrorReason, gateError, invalidArgument, internalError, unavailable } from "./errors.js";
import { GrpcError } from "./grpc-adapter.js";
import type { ServeConfig } from "./config.js";
import type { ServerKeys } from "./keys.js";
import type { PolicyHolder } from "./policy-holder.js";
import type { ServerMetrics } from "./metrics.js";
import type { TraceLogPort } from "./ports.js";
import { isApprovalStoreError, type ApprovalRequest, type ApprovalStore, type ConsumeRef, type NewApprovalRequest, type TokenBlock } from "../state/approvals.js";
import type { SignedTraceRecord } from "../tracelog/format.js";

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

/** Kill-switch state loaded from `--kill-switch-state` at start and on file change / SIGHUP. */
export interface KillSwitchSource {
  current(): KillSwitchState | { unavailable: string } | undefined;
}

export interface DecisionDeps {
  cfg: ServeConfig;
  policy: PolicyHolder;
  keys: ServerKeys;
  killSwitch: KillSwitchSource;
  counters: CounterStore;
  broker?: CredentialBroker;
  traceLog: TraceLogPort;
  approvals: ApprovalStore;
  metrics: ServerMetrics;
  log: Logger;
  producerVersion: string;
}

export interface EvaluateInput {
  transport: "grpc" | "http";
  /** a raw intent JSON (Gait's IntentRequest) ... */
  intent?: unknown;
  /** ... or a raw tool call in one adapter's format */
  toolCall?: { adapter: string; payload: unknown };
  runId?: string;
  sessionId?: string;
  /** approval token JSON documents */
  approvalTokens: string[];
  approvalRequestId?: string;
  delegationTokens: string[];
  emitRunpack: boolean;
  /** true once the caller went away (cancel / deadline): checked before irreversible steps */
  cancelled?: () => boolean;
}

export interface EvaluateOutput {
  result: GateResult;
  /** Gait's reason codes plus the service's own (SERVICE_REASON), sorted and unique */
  reasonCodes: string[];
  verdict: Verdict;
  record: TraceRecord;
  seq: number;
  adapter: string;
  runId: string;
  sessionId: string;
  jobId: string;
  warnings: string[];
  approvalRequestId?: string;
  runpackPath?: string;
  tracePath?: string;
  latencyMs: number;
  policyId: string;
  policyVersion: string;
}

/** Gait's reason code for a decision the approval stage turned into allow. */
const APPROVAL_GRANTED = "approval_granted";
/** Gait's reason codes of the approval stage for "no tokens" and "fewer valid tokens than required". */
const APPROVAL_TOKEN_MISSING = "approval_token_missing";
const APPROVAL_CHAIN_INSUFFICIENT = "approval_chain_insufficient";

const uniqueSorted = (xs: Iterable<string>): string[] => [...new Set([...xs].filter(Boolean))].sort();

/**
 * The approval verify key for one decision. With `--approval-public-key` configured, tokens minted by Approve (all
 * carrying the server's key id) verify with the server's own key and any other token with the configured key.
 * Without one, the standard profile falls back to the server's signing key (Gait: the gate's own key); oss-prod gets
 * no key, so the engine refuses the approval stage (GateConfigError: an explicit verify key is required).
 */
export function approvalVerifierFor(
  keys: ServerKeys,
  profile: ServeConfig["profile"],
  tokens: readonly { signature?: { key_id?: string } }[],
): Verifier | undefined {
  const configured = keys.approvalVerifier;
  if (!configured) return profile === "oss-prod" ? undefined : keys.signer;
  const allServer = tokens.length > 0 && tokens.every((t) => t.signature?.key_id === keys.signer.keyId);
  return allServer ? keys.signer : configured;
}

/**
 * The delegation verify key, in Gait's order: the delegation key, else the approval key, else the gate's own signing
 * key. oss-prod never falls back to the signing key: without an explicit key the engine refuses the delegation stage.
 */
export function delegationVerifierFor(keys: ServerKeys, profile: ServeConfig["profile"]): Verifier | undefined {
  const explicit = keys.delegationVerifier ?? keys.approvalVerifier;
  return explicit ?? (profile === "oss-prod" ? undefined : keys.signer);
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

function parseJsonDocs(texts: string[], what: string): unknown[] {
  return texts.map((t, i) => {
    try {
      return JSON.parse(t) as unknown;
    } catch (e) {
      throw invalidArgument(ErrorReason.INVALID_TOKEN_DOCUMENT, `${what} #${i + 1} is not valid JSON: ${(e as Error).message}`);
    }
  });
}

export class DecisionService {
  constructor(private readonly d: DecisionDeps) {}

  /** Run one decision. Throws GrpcError on every non-verdict outcome. */
  async evaluate(input: EvaluateInput): Promise<EvaluateOutput> {
    const started = performance.now();
    const d = this.d;
    const cfg = d.cfg;
    const { policy, digest: policyDigest } = d.policy.current;

    if (input.emitRunpack && !cfg.runpackDir) {
      throw invalidArgument(ErrorReason.INVALID_ARGUMENT, "emit_runpack requires the server to run with --runpack-dir");
    }

    // 1. input -> raw intent JSON
    let rawIntent: unknown;
    let adapter = "";
    const warnings: string[] = [];
    let runId = input.runId ?? "";
    let sessionId = input.sessionId ?? "";
    let jobId = "";
    if (input.toolCall) {
      adapter = (input.toolCall.adapter || cfg.adapter).trim().toLowerCase();
      try {
        const decoded = decodeToolCall(adapter, input.toolCall.payload, { profile: cfg.profile });
        rawIntent = decoded.intent;
        adapter = decoded.adapter ?? adapter;
        warnings.push(...(decoded.warnings ?? []));
        if (!runId && decoded.runId) runId = decoded.runId;
        if (!sessionId && decoded.sessionId) sessionId = decoded.sessionId;
        jobId = decoded.jobId ?? "";
      } catch (e) {
        if (e instanceof IntentError) {
          const unsupported = /unsupported adapter/i.test(e.message);
          throw invalidArgument(unsupported ? ErrorReason.UNSUPPORTED_ADAPTER : ErrorReason.INVALID_TOOL_CALL, e.message);
        }
        throw e;
      }
    } else if (input.intent !== undefined) {
      rawIntent = input.intent;
    } else {
      throw invalidArgument(ErrorReason.MISSING_INPUT, "set either intent or tool_call");
    }

    // 2. tokens: inline and/or from an approval request
    const serviceReasons: string[] = [];
    const approvalDocs = parseJsonDocs(input.approvalTokens, "approval token");
    const delegationDocs = parseJsonDocs(input.delegationTokens, "delegation token");
    let approvalTokens: ApprovalToken[];
    let delegationTokens: DelegationToken[];
    try {
      approvalTokens = approvalDocs.map((j) => parseApprovalToken(j));
      delegationTokens = delegationDocs.map((j) => parseDelegationToken(j));
    } catch (e) {
      throw invalidArgument(ErrorReason.INVALID_TOKEN_DOCUMENT, (e as Error).message);
    }
    let namedRequest: ApprovalRequest | undefined;
    const now = new Date();
    if (input.approvalRequestId) {
      namedRequest = await this.approvalsCall(() => d.approvals.get(input.approvalRequestId!));
      if (!namedRequest) {
        throw gateError(grpc.status.NOT_FOUND, ErrorReason.APPROVAL_REQUEST_NOT_FOUND, `approval request ${input.approvalRequestId} not found`);
      }
      switch (namedRequest.state) {
        case "granted":
          approvalTokens.push(...namedRequest.tokens);
          break;
        case "pending":
          approvalTokens.push(...namedRequest.tokens); // partial quorum still counts
          serviceReasons.push(SERVICE_REASON.requestPending);
          break;
        case "denied":
          serviceReasons.push(SERVICE_REASON.requestDenied);
          break;
        case "expired":
          serviceReasons.push(SERVICE_REASON.requestExpired);
          break;
        case "consumed":
          serviceReasons.push(SERVICE_REASON.tokenConsumed);
          break;
      }
    }
    if (approvalTokens.length > 1) {
      // dedupe by token id (the same token inline and via the request counts once)
      const seenTokens = new Set<string>();
      approvalTokens = approvalTokens.filter((t) => {
        const id = typeof t.token_id === "string" ? t.token_id : "";
        if (!id) return true;
        if (seenTokens.has(id)) return false;
        seenTokens.add(id);
        return true;
      });
    }
    // single use and revocation: a token an earlier decision already used, or one revoked by a deny (or issued
    // before a ledger reset), is invalid for this one (approval_token_consumed / approval_token_revoked), so the
    // quorum below counts only usable tokens. This read is advisory; consumeTokens (step 4) decides.
    let unusablePresented = 0;
    if (approvalTokens.length) {
      const refs = tokenRefs(approvalTokens);
      const blocked = refs.length ? await this.approvalsCall(() => d.approvals.tokenStatus(refs)) : new Map<string, TokenBlock>();
      const keep = (t: ApprovalToken) => {
        const b = typeof t.token_id === "string" ? blocked.get(t.token_id) : undefined;
        if (b === "revoked") return false; // revocation holds even with --approval-reuse
        return cfg.approvalReuse || b === undefined;
      };
      const before = approvalTokens.length;
      approvalTokens = approvalTokens.filter(keep);
      unusablePresented = before - approvalTokens.length;
      const kinds = new Set(blocked.values());
      if (kinds.has("revoked")) serviceReasons.push(SERVICE_REASON.tokenRevoked);
      if (kinds.has("consumed") && !cfg.approvalReuse) serviceReasons.push(SERVICE_REASON.tokenConsumed);
    }
    this.checkCancelled(input);

    // 3. the whole gate pipeline
    const ks = d.killSwitch.current();
    let result: GateResult;
    try {
      result = await evaluateGate(policy, rawIntent, {
        now,
        profile: cfg.profile,
        killSwitch: ks,
        counters: d.counters,
        approvalTokens,
        approvalVerifier: approvalVerifierFor(d.keys, cfg.profile, approvalTokens),
        delegationTokens,
        delegationVerifier: delegationVerifierFor(d.keys, cfg.profile),
        broker: d.broker,
        brokerReference: cfg.credentialRef,
        brokerScopes: cfg.credentialScopes,
        producerVersion: d.producerVersion,
      });
    } catch (e) {
      if (e instanceof IntentError) throw invalidArgument(ErrorReason.INVALID_INTENT, e.message);
      // the kill-switch state file could not be read and the call is not high-risk (a high-risk call is blocked with
      // kill_switch_state_unavailable instead): the server's state is at fault, not the caller's input
      if (e instanceof KillSwitchStateError) throw unavailable(ErrorReason.STATE_UNAVAILABLE, e.message);
      if (e instanceof PolicyError) throw invalidArgument(ErrorReason.INVALID_INTENT, e.message);
      if (e instanceof GateConfigError) throw gateError(grpc.status.FAILED_PRECONDITION, ErrorReason.PROFILE_VIOLATION, e.message);
      if (e instanceof GrpcError) throw e;
      d.log.error({ err: e }, "gate evaluation failed");
      throw unavailable(ErrorReason.STATE_UNAVAILABLE, `evaluation failed: ${(e as Error).message}`);
    }
    let verdict: Verdict = result.verdict;
    if (result.warnings?.length) warnings.push(...result.warnings);
    // used tokens count as presented-but-invalid (Gait: each invalid token adds its code and, short of the quorum,
    // approval_chain_insufficient), not as "no token presented"
    if (unusablePresented > 0 && result.reason_codes.includes(APPROVAL_TOKEN_MISSING)) {
      result = { ...result, reason_codes: uniqueSorted(result.reason_codes.map((c) => (c === APPROVAL_TOKEN_MISSING ? APPROVAL_CHAIN_INSUFFICIENT : c))) };
    }

    // a denied request never turns into allow: escalate to block (more restrictive is always safe)
    if (namedRequest?.state === "denied" && VERDICT_RANK[verdict] < VERDICT_RANK.block) verdict = "block";

    // 4. single use: atomically consume exactly the tokens that turned this decision into allow (approval_ref: the
    // valid, unconsumed ones). The store's all-or-nothing consumeTokens is the authority: of concurrent calls
    // presenting one token exactly one wins; a loser (its token was used between the read above and here) requires a
    // fresh approval. A store error is an error reply (approvalsCall), never a verdict.
    if (verdict === "allow" && !cfg.approvalReuse && result.approval_ref) {
      this.checkCancelled(input);
      const refs: ConsumeRef[] = [];
      for (const id of result.approval_ref.split(",")) {
        if (!id) continue;
        const t = approvalTokens.find((x) => x.token_id === id);
        refs.push({ token_id: id, ...(t?.expires_at ? { expires_at: t.expires_at } : {}), ...(t?.created_at ? { created_at: t.created_at } : {}) });
      }
      const ok = await this.approvalsCall(() => d.approvals.consumeTokens(refs, result.intent_digest));
      if (!ok) {
        // the approval no longer holds: report it as a fresh require_approval (the gate's grant is withdrawn)
        verdict = "require_approval";
        serviceReasons.push(SERVICE_REASON.tokenConsumed);
        result = {
          ...result,
          verdict,
          reason_codes: result.reason_codes.filter((c) => c !== APPROVAL_GRANTED),
          required_approval_scopes: result.required_approval_scopes ?? requiredApprovalScopes(result.intent),
        };
      }
    }
    if (verdict !== result.verdict) result = { ...result, verdict };

    // 5. an approval request an operator can answer, for require_approval (idempotent per intent + policy digest
    // while one is open; the named request is reused when it is still pending for this very call)
    let approvalRequestId: string | undefined;
    if (verdict === "require_approval" && !result.intent_invalid && result.intent_digest) {
      if (namedRequest?.state === "pending" && namedRequest.intent_digest === result.intent_digest && namedRequest.policy_digest === result.policy_digest) {
        approvalRequestId = namedRequest.approval_request_id;
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
          run_id: runId || undefined,
          session_id: sessionId || intent.context?.session_id || undefined,
          reason_codes: result.reason_codes,
          trace_id: computeTraceId(result.policy_digest, result.intent_digest, verdict),
          ttl_ms: cfg.approvalRequestTtlMs,
        };
        // a delegated call needs tokens bound to its delegation (gate.md §5): Approve mints them with this digest
        if (intent.delegation) req.delegation_binding_digest = delegationDigest(intent.delegation);
        const made = await this.approvalsCall(() => d.approvals.create(req), true);
        if (made) {
          approvalRequestId = made.request.approval_request_id;
          if (made.created) d.metrics.approvalsCreated.inc();
        } else {
          // too many open requests: the call still needs approval (it does not run); the operator sees no request
          serviceReasons.push(SERVICE_REASON.requestCapacity);
          warnings.push("approval request not created: too many open requests; answer or let some expire");
        }
      }
    }

    // 6. signed trace, durable before the reply
    let signed: SignedTraceText;
    try {
      signed = signTraceRecordWithText(
        buildTraceRecord(result, {
          observedAt: new Date(),
          producerVersion: d.producerVersion,
          policyId: policy.schema_id,
          policyVersion: policy.schema_version,
          policyDigest,
          delegationTokenRef: result.delegation_ref,
        }),
        d.keys.signer,
      );
    } catch (e) {
      d.log.error({ err: e }, "trace signing failed");
      throw internalError(ErrorReason.SIGNING_FAILED, `sign trace record: ${(e as Error).message}`);
    }
    const record = signed.record;
    const t0 = performance.now();
    let seq: number;
    try {
      ({ seq } = await d.traceLog.append(record as TraceRecord & SignedTraceRecord, signed.text));
    } catch (e) {
      d.log.error({ err: e }, "trace append failed");
      throw unavailable(ErrorReason.TRACE_WRITE_FAILED, `trace record could not be made durable: ${(e as Error).message}`);
    }
    d.metrics.traceAppend.observe((performance.now() - t0) / 1000);

    const reasonCodes = uniqueSorted([...result.reason_codes, ...serviceReasons]);
    if (!runId) runId = `run_mcp_${result.intent_digest.slice(0, 12)}`;
    runId = normalizeRunId(runId);

    // 7. runpack (after the trace, as Gait)
    let runpackPath: string | undefined;
    if (input.emitRunpack && cfg.runpackDir) {
      try {
        runpackPath = await this.writeRunpack(cfg.runpackDir, runId, result, verdict, reasonCodes, record.trace_id, seq);
      } catch (e) {
        d.log.error({ err: e, seq }, "runpack write failed");
        throw internalError(ErrorReason.RUNPACK_WRITE_FAILED, `write runpack: ${(e as Error).message}`);
      }
    }

    return {
      result,
      reasonCodes,
      verdict,
      record,
      seq,
      adapter,
      runId,
      sessionId: sessionId || result.intent?.context?.session_id || "",
      jobId: jobId || result.intent?.context?.job_id || "",
      warnings: uniqueSorted(warnings),
      approvalRequestId,
      runpackPath,
      tracePath: cfg.traceDir,
      latencyMs: performance.now() - started,
      policyId: policy.schema_id,
      policyVersion: policy.schema_version,
    };
  }

  private checkCancelled(input: EvaluateInput): void {
    if (input.cancelled?.()) throw new GrpcError(grpc.status.CANCELLED, "call cancelled or deadline exceeded before a decision was recorded");
  }

  /** Approval-store calls fail closed as UNAVAILABLE (STATE_UNAVAILABLE), never as a verdict. With `full`, a store
   * that is at capacity answers undefined instead (the caller keeps its restrictive verdict). */
  private async approvalsCall<T>(fn: () => Promise<T>): Promise<T>;
  private async approvalsCall<T>(fn: () => Promise<T>, full: true): Promise<T | undefined>;
  private async approvalsCall<T>(fn: () => Promise<T>, full?: true): Promise<T | undefined> {
    try {
      return await fn();
    } catch (e) {
      if (full && isApprovalStoreError(e) && e.code === "full") {
        this.d.log.warn({ err: e.message }, "approval request not created");
        return undefined;
      }
      if (e instanceof GrpcError) throw e;
      this.d.log.error({ err: e }, "approval state unavailable");
      throw unavailable(ErrorReason.STATE_UNAVAILABLE, `approval state unavailable: ${(e as Error).message}`);
    }
  }

  private async writeRunpack(
    dir: string,
    runId: string,
    result: GateResult,
    verdict: Verdict,
    reasonCodes: string[],
    traceId: string,
    seq: number,
  ): Promise<string> {
    const built = buildSingleCallRunpack({
      runId,
      createdAt: result.created_at,
      producerVersion: this.d.producerVersion,
      toolName: result.tool_name,
      args: result.intent.args,
      argsDigest: result.args_digest,
      verdict,
      reasonCodes,
      violations: result.violations,
      traceId,
    });
    await mkdir(dir, { recursive: true, mode: 0o750 });
    // one file per decision: the sequence number keeps concurrent decisions of one run apart
    const path = join(dir, `runpack_${runId}_${String(seq).padStart(12, "0")}.zip`);
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, built.zip, { mode: 0o600, flush: true });
    await rename(tmp, path);
    return path;
  }
}
