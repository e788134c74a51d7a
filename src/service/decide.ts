/**
 * The one decision pipeline, shared by every surface: the gRPC and HTTP service, `gait gate eval` and `gait mcp
 * proxy`. A call goes through the same steps everywhere:
 *
 *   input (an intent, or a tool call decoded by its adapter)
 *   -> approval ledger, before (service only: drop used or revoked tokens)
 *   -> the engine (`gate`: the whole `gate eval` pipeline; `proxy`: Gait's `mcp proxy` subset)
 *   -> approval ledger, after (service only: spend tokens, open a request for require_approval)
 *   -> a signed `gait.gate.trace` record
 *   -> the evidence sink records it (the trace log, or a trace file) BEFORE any verdict is returned
 *   -> the sink's artifacts (runpack, audit files)
 *
 * The surfaces differ only in their inputs, their sink and how they print the {@link Decision}. Every failure is a
 * thrown {@link GateError}, never a verdict.
 */
import { decodeToolCall } from "../engine/adapters.js";
import { evaluatePolicy } from "../engine/evaluate.js";
import { evaluateGate } from "../engine/gate.js";
import type { Signer } from "../engine/signature.js";
import { buildTraceRecord, finishTraceSignature, prepareTraceSignature, type TraceRecord } from "../engine/trace.js";
import type { ApprovalToken, DelegationToken, GateOptions, GateResult, IntentRequest, Policy, Profile, Verdict } from "../engine/types.js";
import { normalizeRunId } from "../runpack/run-id.js";
import { asGateError, GateError } from "./errors.js";

/** One call to decide. */
export interface DecisionRequest {
  /** A raw intent (Gait's intent JSON) ... */
  intent?: unknown;
  /** ... or a tool call in one adapter's format (adapter "" = the surface's default). */
  toolCall?: { adapter: string; payload: unknown };
  runId?: string;
  sessionId?: string;
  /** Parsed approval and delegation tokens. */
  approvalTokens?: ApprovalToken[];
  delegationTokens?: DelegationToken[];
  /** Service: the approval request whose tokens (and state) this call presents. */
  approvalRequestId?: string;
  /** True once the caller went away (cancel, deadline): checked before irreversible steps. */
  cancelled?: () => boolean;
}

/** The signed record and where the sink put it. */
export interface Recorded {
  /** Trace log sequence (service). */
  seq?: number;
  /** Trace file or log directory. */
  path?: string;
}

/** Where the evidence of a decision goes. */
export interface EvidenceSink {
  /** Make the signed record durable; resolves only when it is (the verdict is returned after this). */
  record(record: TraceRecord, text: string, call: { runId: string; latencyMs?: number; approvalRequestId?: string; reasonCodes?: string[]; intent?: IntentRequest }): Promise<Recorded>;
  /** Artifacts written after the record (runpack, audit files); their paths go into the decision. */
  artifacts?(d: Decision): Promise<Record<string, string>>;
}

/** The approval ledger's two steps in the pipeline (service only; the CLI keeps Gait's bearer-token semantics). */
export interface ApprovalLedgerFlow {
  /** Drop tokens that may not be used (and say why); pull in the tokens of a named request. */
  before(req: DecisionRequest, tokens: ApprovalToken[]): Promise<{ tokens: ApprovalToken[]; reasons: string[]; unusable: number; state?: unknown }>;
  /** Spend the tokens that turned the decision into allow; open a request for require_approval. */
  after(result: GateResult, ctx: { req: DecisionRequest; tokens: ApprovalToken[]; unusable: number; state?: unknown; runId: string; sessionId: string }): Promise<{
    result: GateResult;
    reasons: string[];
    warnings: string[];
    approvalRequestId?: string;
  }>;
}

/** What a surface needs to run the pipeline. */
export interface DecisionEnv {
  /** `gate`: stages 1-14 (rate limits, approvals, delegation, broker, kill switch); `proxy`: rules and kill switch. */
  mode: "gate" | "proxy";
  policy: Policy;
  profile: Profile;
  /** Adapter for a tool call that names none. @defaultValue "mcp" */
  defaultAdapter?: string;
  signer: Signer;
  /** Sign the record's digest elsewhere (the service's signing worker, while it is busy); must sign with `signer`'s
   * key. Unset: `signer.sign`, inline. */
  signAsync?: (digest: Uint8Array) => Promise<Uint8Array>;
  producerVersion: string;
  now: () => Date;
  /** Engine options besides the tokens (counters, kill switch, verify keys, broker, simulate, evaluation time). */
  gate?: Omit<GateOptions, "now" | "profile" | "producerVersion" | "approvalTokens" | "delegationTokens">;
  ledger?: ApprovalLedgerFlow;
  sink: EvidenceSink;
  /** Extra trace metadata of a surface (the CLI's correlation id, latency, delegation reason codes). */
  traceMeta?: (result: GateResult, latencyMs: number) => Partial<Parameters<typeof buildTraceRecord>[1]>;
}

/** A decision, as every surface prints it. */
export interface Decision {
  verdict: Verdict;
  result: GateResult;
  /** Gait's reason codes plus the service's own, sorted and unique. */
  reasonCodes: string[];
  record: TraceRecord;
  recorded: Recorded;
  adapter: string;
  runId: string;
  sessionId: string;
  jobId: string;
  warnings: string[];
  /** The approval request opened (or reused) for a require_approval decision (service). */
  approvalRequestId?: string;
  /** Paths of the sink's artifacts (runpack, audits). */
  artifacts: Record<string, string>;
  /** Engine time, ms (fractional). */
  latencyMs: number;
  policyId: string;
  policyVersion: string;
}

const uniqueSorted = (xs: Iterable<string>): string[] => [...new Set([...xs].filter(Boolean))].sort();

/** Run one call through the pipeline. */
export async function decide(req: DecisionRequest, env: DecisionEnv): Promise<Decision> {
  const started = performance.now();
  const { policy } = env;

  // 1. input -> raw intent
  let rawIntent: unknown;
  let adapter = "";
  // Gait's run id: the caller's override, else the call's own, each normalized; else run_mcp_<digest prefix> (below)
  let runId = normalizeRunId(req.runId);
  let sessionId = req.sessionId ?? "";
  let jobId = "";
  let rawRiskClass = "";
  const warnings: string[] = [];
  if (req.toolCall) {
    adapter = (req.toolCall.adapter || env.defaultAdapter || "mcp").trim().toLowerCase();
    try {
      const decoded = decodeToolCall(adapter, req.toolCall.payload, { profile: env.profile });
      rawIntent = decoded.intent;
      adapter = decoded.adapter ?? adapter;
      rawRiskClass = decoded.rawRiskClass;
      warnings.push(...(decoded.warnings ?? []));
      if (!runId) runId = normalizeRunId(decoded.runId);
      if (!sessionId && decoded.sessionId) sessionId = decoded.sessionId;
      jobId = decoded.jobId ?? "";
    } catch (e) {
      if ((e as Error).name === "IntentError") {
        throw new GateError((e as { code?: string }).code === "unsupported_adapter" ? "UNSUPPORTED_ADAPTER" : "INVALID_TOOL_CALL", (e as Error).message, { cause: e });
      }
      throw asGateError(e);
    }
  } else if (req.intent !== undefined) rawIntent = req.intent;
  else throw new GateError("MISSING_INPUT", "set either intent or tool_call");

  // 2. the ledger's view of the tokens
  let approvalTokens = dedupeTokens(req.approvalTokens ?? []);
  const serviceReasons: string[] = [];
  let before: Awaited<ReturnType<ApprovalLedgerFlow["before"]>> | undefined;
  if (env.ledger) {
    before = await env.ledger.before(req, approvalTokens);
    approvalTokens = before.tokens;
    serviceReasons.push(...before.reasons);
  }
  checkCancelled(req);

  // 3. the engine
  const now = env.now();
  let result: GateResult;
  try {
    if (env.mode === "gate") {
      // one literal of a fixed shape, no spread: a spread of the surface's options built a dictionary-mode object
      // here, which made this call and every option read in the engine slow (measured: ~25 us per decision)
      const g = env.gate;
      result = await evaluateGate(policy, rawIntent, {
        now,
        evaluationTime: g?.evaluationTime,
        profile: env.profile,
        killSwitch: g?.killSwitch,
        contextEnvelope: g?.contextEnvelope,
        counters: g?.counters,
        approvalTokens,
        approvalVerifier: g?.approvalVerifier,
        delegationTokens: req.delegationTokens ?? [],
        delegationVerifier: g?.delegationVerifier,
        broker: g?.broker,
        brokerReference: g?.brokerReference,
        brokerScopes: g?.brokerScopes,
        simulate: g?.simulate,
        producerVersion: env.producerVersion,
      });
    } else {
      const ks = env.gate?.killSwitch;
      // Gait decides whether an unreadable kill switch is fatal from the caller's own risk class (before the `high`
      // default): required for oss-prod and high/critical => block; otherwise the broken file is an input error.
      if (ks && "unavailable" in ks && env.profile !== "oss-prod" && !["high", "critical"].includes(rawRiskClass)) {
        throw new GateError("INVALID_INTENT", ks.unavailable);
      }
      const outcome = evaluatePolicy(policy, rawIntent, { evaluationTime: env.gate?.evaluationTime ?? now, profile: env.profile, ...(ks ? { killSwitch: ks } : {}) });
      // the proxy subset decides without the gate's later stages: its outcome carries the digests in `intent`
      result = { ...outcome, policy_digest: policy.policy_digest } as unknown as GateResult;
    }
  } catch (e) {
    throw asGateError(e, (x) => new GateError("STATE_UNAVAILABLE", `evaluation failed: ${(x as Error).message}`, { cause: x }));
  }
  if (result.warnings?.length) warnings.push(...result.warnings);

  // 4. the ledger: spend, open a request
  let approvalRequestId: string | undefined;
  if (env.ledger && before) {
    checkCancelled(req);
    const after = await env.ledger.after(result, { req, tokens: approvalTokens, unusable: before.unusable, state: before.state, runId, sessionId });
    result = after.result;
    serviceReasons.push(...after.reasons);
    warnings.push(...after.warnings);
    approvalRequestId = after.approvalRequestId;
  }
  const latencyMs = performance.now() - started;

  // 5. the signed record, durable before the reply
  let signed;
  try {
    const prepared = prepareTraceSignature(
      buildTraceRecord(result, {
        observedAt: env.now(),
        producerVersion: env.producerVersion,
        policyId: policy.schema_id,
        policyVersion: policy.schema_version,
        policyDigest: policy.policy_digest,
        delegationTokenRef: result.delegation_ref,
        ...env.traceMeta?.(result, latencyMs),
      }),
    );
    const sig = env.signAsync ? await env.signAsync(prepared.digest) : env.signer.sign(prepared.digest);
    signed = finishTraceSignature(prepared, env.signer.keyId, sig);
  } catch (e) {
    throw new GateError("SIGNING_FAILED", `sign trace record: ${(e as Error).message}`, { cause: e });
  }
  const intent = result.intent;
  if (!runId) runId = intent?.intent_digest ? `run_mcp_${intent.intent_digest.slice(0, 12)}` : "";
  // the decision's reason codes (a Gait trace record carries none): the service's watchers filter on them
  const reasonCodes = uniqueSorted([...result.reason_codes, ...serviceReasons]);
  let recorded: Recorded;
  try {
    recorded = await env.sink.record(signed.record, signed.text, { runId, latencyMs, reasonCodes, ...(approvalRequestId ? { approvalRequestId, intent: result.intent } : {}) });
  } catch (e) {
    throw asGateError(e, (x) => new GateError("TRACE_WRITE_FAILED", `trace record could not be made durable: ${(x as Error).message}`, { cause: x }));
  }

  const decision: Decision = {
    verdict: result.verdict,
    result,
    reasonCodes,
    record: signed.record,
    recorded,
    adapter,
    runId,
    sessionId: sessionId || intent?.context?.session_id || "",
    jobId: jobId || intent?.context?.job_id || "",
    warnings: uniqueSorted(warnings),
    approvalRequestId,
    artifacts: {},
    latencyMs,
    policyId: policy.schema_id,
    policyVersion: policy.schema_version,
  };

  // 6. artifacts (after the record, as Gait)
  if (env.sink.artifacts) decision.artifacts = await env.sink.artifacts(decision);
  return decision;
}

function checkCancelled(req: DecisionRequest): void {
  if (req.cancelled?.()) throw new GateError("INTERNAL", "call cancelled or deadline exceeded before a decision was recorded", { kind: "cancelled" });
}

/** The same token presented twice (inline and through its request) counts once. */
function dedupeTokens(tokens: ApprovalToken[]): ApprovalToken[] {
  if (tokens.length < 2) return [...tokens];
  const seen = new Set<string>();
  return tokens.filter((t) => {
    const id = typeof t.token_id === "string" ? t.token_id : "";
    if (!id) return true;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
