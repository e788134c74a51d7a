/**
 * Gait's signed decision record, `gait.gate.trace` 1.0.0 (evidence.md §2): build, sign, verify.
 *
 * Pure: the caller passes the wall-clock time and the signer; writing the file is the caller's job (the record is
 * written as pretty JSON, but only the signed digest over JCS is normative, so the file layout does not matter).
 *
 * Field rules follow Go `omitempty`: empty strings, zero numbers, false booleans, empty lists and absent objects are
 * left out, so that `sha256(JCS(record without signature))` matches what Gait signs for the same decision.
 */
import { digestJCS, jcs, sha256Bytes, sha256Hex } from "./canon.js";
import { goToLower, goTrimSpace } from "./intent.js";
import { verifyDocument, SignatureError, type SignatureObject, type Signer, type Verifier } from "./signature.js";
import { formatGoTime, GAIT_EPOCH, GO_ZERO_TIME, normalizeGoTime } from "./time.js";
import type {
  AgentIdentity,
  BrokerReceipt,
  FreezeWindowDecision,
  IntentRequest,
  JsonObject,
  KillSwitchDecision,
  SandboxDecision,
  SkillProvenance,
  StepVerdict,
  Verdict,
} from "./types.js";

export const TRACE_SCHEMA_ID = "gait.gate.trace";
export const TRACE_SCHEMA_VERSION = "1.0.0";
/** Producer version used when neither the caller nor the decision names one (Gait's default). */
export const DEFAULT_PRODUCER_VERSION = "0.0.0-dev";

/** A node in the relationship graph (`{kind, id}`). */
export interface RelationshipRef {
  kind: string;
  id: string;
}

/** Relationship envelope of a trace: which agent called which tool under which policy, and the delegation chain. */
export interface TraceRelationship {
  parent_ref?: RelationshipRef;
  entity_refs?: RelationshipRef[];
  policy_ref?: { policy_id?: string; policy_version?: string; policy_digest?: string; matched_rule_ids?: string[] };
  agent_chain?: { identity: string; role: "requester" | "delegator" | "delegate" }[];
  edges?: { kind: string; from: RelationshipRef; to: RelationshipRef }[];
  related_entity_ids?: string[];
}

/** `delegation_ref` of a trace: a digest-bound summary of the intent's delegation chain. */
export interface TraceDelegationRef {
  delegation_token_ref?: string;
  requester_identity?: string;
  delegation_depth?: number;
  scope_class?: string;
  chain_digest?: string;
  reason_codes?: string[];
}

/** One `gait.gate.trace` record. Optional fields are absent when empty (Go omitempty). */
export interface TraceRecord {
  schema_id: typeof TRACE_SCHEMA_ID;
  schema_version: typeof TRACE_SCHEMA_VERSION;
  created_at: string;
  observed_at?: string;
  producer_version: string;
  trace_id: string;
  event_id?: string;
  correlation_id?: string;
  tool_name: string;
  args_digest: string;
  intent_digest: string;
  policy_digest: string;
  agent_id?: string;
  agent_identity?: AgentIdentity;
  run_id?: string;
  workflow_id?: string;
  repo?: string;
  environment?: string;
  credential_ref?: string;
  credential_source?: string;
  credential_access_type?: string;
  credential_issuer?: string;
  credential_subject?: string;
  credential_owner?: string;
  credential_target_binding?: string;
  credential_run_binding?: string;
  credential_job_binding?: string;
  credential_ttl_seconds?: number;
  broker_credential_ref?: string;
  broker_credential_source?: string;
  broker_credential_access_type?: string;
  broker_credential_issuer?: string;
  broker_request_digest?: string;
  broker_target_binding?: string;
  broker_run_binding?: string;
  broker_job_binding?: string;
  approval_ref?: string;
  wrkr_inventory_ref?: string;
  agent_action_bom_ref?: string;
  policy_id?: string;
  policy_version?: string;
  matched_rule_ids?: string[];
  verdict: Verdict;
  context_set_digest?: string;
  context_evidence_mode?: string;
  context_ref_count?: number;
  context_source?: string;
  script?: boolean;
  step_count?: number;
  script_hash?: string;
  composite_risk_class?: string;
  step_verdicts?: StepVerdict[];
  violations?: string[];
  latency_ms?: number;
  approval_token_ref?: string;
  freeze_window?: FreezeWindowDecision;
  sandbox?: SandboxDecision;
  kill_switch?: KillSwitchDecision;
  mcp_trust?: JsonObject;
  delegation_ref?: TraceDelegationRef;
  skill_provenance?: SkillProvenance;
  relationship?: TraceRelationship;
  signature?: SignatureObject;
}

/**
 * The decision a trace records. Both `GateResult` (gate eval) and a `PolicyOutcome` (mcp proxy, policy test) fit:
 * fields missing from a PolicyOutcome (policy_digest, broker, approval_ref) come from {@link TraceMeta} or stay empty.
 */
export interface TraceDecision {
  verdict: Verdict;
  violations: string[];
  /** the normalized intent the decision was made on (digests filled in) */
  intent: IntentRequest;
  policy_digest?: string;
  created_at?: string;
  producer_version?: string;
  step_verdicts?: StepVerdict[];
  composite_risk_class?: string;
  /** gate eval: comma-joined ids of the valid approval tokens (becomes `approval_token_ref`) */
  approval_ref?: string;
  freeze_window?: FreezeWindowDecision;
  sandbox?: SandboxDecision;
  kill_switch?: KillSwitchDecision;
  broker?: { receipt: BrokerReceipt; request_digest: string; reference?: string };
}

/** Emission metadata that is not part of the decision itself. */
export interface TraceMeta {
  /** wall clock at emission (`observed_at`, and the input of `event_id`) */
  observedAt: Date;
  producerVersion?: string;
  /** policy `schema_id` / `schema_version` */
  policyId?: string;
  policyVersion?: string;
  /** used when the decision carries no policy_digest (PolicyOutcome) */
  policyDigest?: string;
  /** CLI only: see {@link correlationIdFromArgv} */
  correlationId?: string;
  /** evaluation latency; gate eval only (proxy/serve leave it 0, so it is omitted) */
  latencyMs?: number;
  contextSource?: string;
  /** overrides `delegation.token_refs[0]` as `delegation_ref.delegation_token_ref` */
  delegationTokenRef?: string;
  delegationReasonCodes?: string[];
  mcpTrust?: JsonObject;
}

/** `hex(sha256(policy_digest:intent_digest:verdict)[:12])`: the same decision always gets the same id. */
export function computeTraceId(policyDigest: string, intentDigest: string, verdict: string): string {
  return sha256Hex(`${policyDigest}:${intentDigest}:${verdict}`).slice(0, 24);
}

/** `hex(sha256(trace_id:observed_at)[:12])`: one id per emission, so many events can share a trace_id. */
export function computeEventId(traceId: string, observedAt: string): string {
  return sha256Hex(`${traceId}:${observedAt}`).slice(0, 24);
}

/** CLI correlation id: `hex(sha256(argv trimmed, joined by 0x1F)[:12])`. */
export function correlationIdFromArgv(argv: readonly string[]): string {
  return sha256Hex(argv.map((a) => a.trim()).join("\x1f")).slice(0, 24);
}

function uniqueSorted(values: readonly (string | undefined)[] | undefined): string[] {
  if (!values || values.length === 0) return [];
  if (values.length === 1) {
    const t = (values[0] ?? "").trim();
    return t ? [t] : [];
  }
  const set = new Set<string>();
  for (const v of values ?? []) {
    const t = (v ?? "").trim();
    if (t) set.add(t);
  }
  return [...set].sort();
}

function str(v: string | undefined): string | undefined {
  const t = (v ?? "").trim();
  return t ? t : undefined;
}

// One-entry memos of pure time conversions: consecutive records mostly share the decision time (often Gait's epoch)
// and, under load, the emission millisecond; parsing and formatting were a fifth of the cost of building a record.
let memoTimeIn: string | undefined;
let memoTimeOut: string | undefined;
let memoObservedMs = Number.NaN;
let memoObserved = "";

/** `s` in Go's UTC encoding: GO_ZERO_TIME when absent or zero, undefined when unparsable. */
function goTimeOf(s: string | undefined): string | undefined {
  if (!s || s === GO_ZERO_TIME) return GO_ZERO_TIME;
  if (s !== memoTimeIn) {
    memoTimeOut = normalizeGoTime(s);
    memoTimeIn = s;
  }
  return memoTimeOut;
}

/** formatGoTime of a wall-clock Date (millisecond precision). */
function goTimeOfDate(d: Date): string {
  const ms = d.getTime();
  if (ms !== memoObservedMs) {
    memoObserved = formatGoTime(ms);
    memoObservedMs = ms;
  }
  return memoObserved;
}

/**
 * A copy of `obj` without its `undefined` members, so it serializes exactly as Go omitempty would. Copying (rather
 * than `delete`) keeps V8's fast object layout: a record with dozens of deleted keys turns into a hash map, which
 * made every later read of it (canonicalization, serialization) several times slower.
 */
function defined<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const k in obj) {
    const v = obj[k];
    if (v !== undefined) out[k] = v;
  }
  return out as T;
}

function nonEmpty<T>(list: T[] | undefined): T[] | undefined {
  return list && list.length > 0 ? list : undefined;
}

function matchedRuleIds(steps: readonly StepVerdict[] | undefined): string[] {
  const ids: string[] = [];
  for (const s of steps ?? []) for (const part of (s.matched_rule ?? "").split(",")) ids.push(part);
  return uniqueSorted(ids);
}

const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const cmpRef = (a: RelationshipRef, b: RelationshipRef): number => cmpStr(a.kind, b.kind) || cmpStr(a.id, b.id);

/** Sort by `cmp` and drop items equal to their predecessor (cmp covers every field, so equal items are identical). */
function sortedUnique<T>(items: T[], cmp: (a: T, b: T) => number): T[] {
  if (items.length < 2) return items;
  items.sort(cmp);
  const out = [items[0]!];
  for (let i = 1; i < items.length; i++) if (cmp(items[i]!, out[out.length - 1]!) !== 0) out.push(items[i]!);
  return out;
}

/** Build the relationship envelope (entity refs, policy ref, agent chain, edges), each list deduplicated and sorted. */
export function buildTraceRelationship(
  intent: IntentRequest,
  traceId: string,
  policyId: string | undefined,
  policyVersion: string | undefined,
  policyDigest: string,
  matchedRules: string[],
): TraceRelationship | undefined {
  const tool = intent.tool_name.trim();
  const identity = (intent.context?.identity ?? "").trim();
  const digest = policyDigest.trim().toLowerCase();
  const rel: TraceRelationship = {};

  const session = (intent.context?.session_id ?? "").trim();
  if (session) rel.parent_ref = { kind: "session", id: session };

  const refs: RelationshipRef[] = [];
  if (traceId) refs.push({ kind: "trace", id: traceId });
  if (tool) refs.push({ kind: "tool", id: tool });
  if (identity) refs.push({ kind: "agent", id: identity });
  if (digest) refs.push({ kind: "policy", id: digest });
  const entityRefs = sortedUnique(refs, cmpRef);
  if (entityRefs.length) rel.entity_refs = entityRefs;

  const pid = str(policyId), pver = str(policyVersion);
  if (pid || pver || digest || matchedRules.length) {
    rel.policy_ref = defined({ policy_id: pid, policy_version: pver, policy_digest: digest || undefined, matched_rule_ids: nonEmpty(matchedRules) });
  }

  const chain: { identity: string; role: "requester" | "delegator" | "delegate" }[] = [];
  const delegation = intent.delegation;
  if (delegation) {
    const requester = (delegation.requester_identity ?? "").trim();
    if (requester) chain.push({ identity: requester, role: "requester" });
    for (const link of delegation.chain ?? []) {
      const from = (link.delegator_identity ?? "").trim(), to = (link.delegate_identity ?? "").trim();
      if (from) chain.push({ identity: from, role: "delegator" });
      if (to) chain.push({ identity: to, role: "delegate" });
    }
  } else if (identity) {
    chain.push({ identity, role: "requester" });
  }
  const agentChain = sortedUnique(chain, (a, b) => cmpStr(a.role, b.role) || cmpStr(a.identity, b.identity));
  if (agentChain.length) rel.agent_chain = agentChain;

  const edges: { kind: string; from: RelationshipRef; to: RelationshipRef }[] = [];
  if (identity && tool) edges.push({ kind: "calls", from: { kind: "agent", id: identity }, to: { kind: "tool", id: tool } });
  if (tool && digest) edges.push({ kind: "governed_by", from: { kind: "tool", id: tool }, to: { kind: "policy", id: digest } });
  for (const link of delegation?.chain ?? []) {
    const from = (link.delegator_identity ?? "").trim(), to = (link.delegate_identity ?? "").trim();
    if (from && to) edges.push({ kind: "delegates_to", from: { kind: "agent", id: from }, to: { kind: "agent", id: to } });
  }
  const sortedEdges = sortedUnique(edges, (a, b) => cmpStr(a.kind, b.kind) || cmpRef(a.from, b.from) || cmpRef(a.to, b.to));
  if (sortedEdges.length) rel.edges = sortedEdges;

  const ids = uniqueSorted(entityRefs.map((r) => r.id));
  if (ids.length) rel.related_entity_ids = ids;
  return Object.keys(rel).length ? rel : undefined;
}

/**
 * Build an unsigned trace record (evidence.md §2.1). `created_at` is the deterministic decision time (decision →
 * intent → 1980-01-01), `observed_at` the emission wall clock. `reason_codes` are deliberately not part of a trace.
 * Throws when the decision lacks what every trace must carry (verdict, digests): emission must fail, not guess.
 */
export function buildTraceRecord(decision: TraceDecision, meta: TraceMeta): TraceRecord {
  const intent = decision.intent;
  if (!intent || !intent.intent_digest) throw new Error("trace: intent digest missing after normalization");
  const verdict = decision.verdict;
  if (!verdict) throw new Error("trace: gate result verdict is required for trace emission");
  const policyDigest = (decision.policy_digest || meta.policyDigest || "").trim().toLowerCase();
  if (!policyDigest) throw new Error("trace: policy digest is required for trace emission");

  // the decision time, else (when zero) the intent's; Gait's epoch when that is zero too, or unparsable
  let decided = goTimeOf(decision.created_at);
  if (decided === GO_ZERO_TIME) decided = goTimeOf(intent.created_at);
  const createdAt = decided === undefined || decided === GO_ZERO_TIME ? GAIT_EPOCH : decided;
  const observedAt = goTimeOfDate(meta.observedAt);
  const producerVersion = str(meta.producerVersion) ?? str(decision.producer_version) ?? DEFAULT_PRODUCER_VERSION;
  const traceId = computeTraceId(policyDigest, intent.intent_digest, verdict);
  const ctx = intent.context ?? ({} as IntentRequest["context"]);
  const rules = matchedRuleIds(decision.step_verdicts);
  const receipt = decision.broker?.receipt;
  const latency = meta.latencyMs && meta.latencyMs > 0 ? meta.latencyMs : undefined;

  let delegationRef: TraceDelegationRef | undefined;
  if (intent.delegation) {
    const d = intent.delegation;
    delegationRef = defined({
      delegation_token_ref: str(meta.delegationTokenRef) ?? str(d.token_refs?.[0]),
      requester_identity: str(d.requester_identity),
      delegation_depth: d.chain?.length ? d.chain.length : undefined,
      scope_class: str(d.scope_class),
      chain_digest: digestJCS(d),
      reason_codes: nonEmpty(uniqueSorted(meta.delegationReasonCodes)),
    });
  }

  const record: TraceRecord = defined({
    schema_id: TRACE_SCHEMA_ID,
    schema_version: TRACE_SCHEMA_VERSION,
    created_at: createdAt,
    observed_at: observedAt,
    producer_version: producerVersion,
    trace_id: traceId,
    event_id: computeEventId(traceId, observedAt),
    correlation_id: str(meta.correlationId),
    tool_name: intent.tool_name,
    args_digest: intent.args_digest,
    intent_digest: intent.intent_digest,
    policy_digest: policyDigest,
    agent_id: str(ctx.agent_id),
    agent_identity: ctx.agent_identity,
    run_id: str(ctx.run_id),
    workflow_id: str(ctx.workflow_id),
    repo: str(ctx.repo),
    environment: str(ctx.environment),
    credential_ref: str(ctx.credential_ref),
    credential_source: str(ctx.credential_source),
    credential_access_type: str(ctx.credential_access_type),
    credential_issuer: str(ctx.credential_issuer),
    credential_subject: str(ctx.credential_subject),
    credential_owner: str(ctx.credential_owner),
    credential_target_binding: str(ctx.credential_target_binding),
    credential_run_binding: str(ctx.credential_run_binding),
    credential_job_binding: str(ctx.credential_job_binding),
    credential_ttl_seconds: ctx.credential_ttl_seconds && ctx.credential_ttl_seconds > 0 ? ctx.credential_ttl_seconds : undefined,
    broker_credential_ref: str(receipt?.credential_ref),
    broker_credential_source: str(receipt?.source),
    broker_credential_access_type: str(receipt?.access_type),
    // Gait's runGateEval records the receipt's issuer, or the broker that issued it when the receipt names none.
    broker_credential_issuer: str(receipt?.issuer) ?? str(receipt?.issued_by),
    broker_request_digest: str(decision.broker?.request_digest),
    broker_target_binding: str(receipt?.target_binding),
    broker_run_binding: str(receipt?.run_binding),
    broker_job_binding: str(receipt?.job_binding),
    approval_ref: str(ctx.approval_ref),
    wrkr_inventory_ref: str(ctx.wrkr_inventory_ref),
    agent_action_bom_ref: str(ctx.agent_action_bom_ref),
    policy_id: str(meta.policyId),
    policy_version: str(meta.policyVersion),
    matched_rule_ids: nonEmpty(rules),
    verdict,
    context_set_digest: str(ctx.context_set_digest),
    context_evidence_mode: str(ctx.context_evidence_mode),
    context_ref_count: ctx.context_refs?.length ? ctx.context_refs.length : undefined,
    context_source: str(meta.contextSource),
    script: intent.script ? true : undefined,
    step_count: intent.script?.steps.length ? intent.script.steps.length : undefined,
    script_hash: str(intent.script_hash),
    composite_risk_class: str(decision.composite_risk_class)?.toLowerCase(),
    step_verdicts: nonEmpty(decision.step_verdicts?.map(cleanStepVerdict)),
    violations: nonEmpty(uniqueSorted(decision.violations)),
    latency_ms: latency,
    approval_token_ref: str(decision.approval_ref),
    freeze_window: decision.freeze_window && goDecision(decision.freeze_window, ["evaluated_at", "window_start", "window_end"]),
    sandbox: decision.sandbox && goDecision(decision.sandbox, []),
    kill_switch: decision.kill_switch && goDecision(decision.kill_switch, ["evaluated_at"]),
    mcp_trust: meta.mcpTrust,
    delegation_ref: delegationRef,
    skill_provenance: intent.skill_provenance,
    relationship: buildTraceRelationship(intent, traceId, meta.policyId, meta.policyVersion, policyDigest, rules),
  });
  return record;
}

/** Relationship envelope of an audit record (adds `parent_record_id`, which a trace's never has). */
export interface AuditRelationship {
  parent_ref?: RelationshipRef;
  entity_refs?: RelationshipRef[];
  policy_ref?: { policy_digest: string };
  agent_chain?: { identity: string; role: "delegator" | "delegate" }[];
  edges?: { kind: string; from: RelationshipRef; to: RelationshipRef }[];
  parent_record_id?: string;
  related_entity_ids?: string[];
}

/**
 * The relationship of an approval audit record, as Gait's buildApprovalAuditRelationship makes it: the trace as
 * parent, entity refs for the trace, the tool, the policy and every valid approver (kind `agent`), a `governed_by`
 * edge from the tool to the policy, and the sorted entity ids. Keys in Go's field order; empty parts omitted.
 */
export function approvalAuditRelationship(
  traceId: string,
  toolName: string,
  policyDigest: string,
  approvers: readonly string[],
): AuditRelationship | undefined {
  const trace = goTrimSpace(traceId);
  const tool = goTrimSpace(toolName);
  const digest = goToLower(goTrimSpace(policyDigest));
  const refs: RelationshipRef[] = [];
  if (trace) refs.push({ kind: "trace", id: trace });
  if (tool) refs.push({ kind: "tool", id: tool });
  if (digest) refs.push({ kind: "policy", id: digest });
  for (const a of approvers) {
    const id = goTrimSpace(a);
    if (id) refs.push({ kind: "agent", id });
  }
  const entityRefs = sortedUnique(refs, cmpRef);
  const rel: AuditRelationship = {};
  if (trace) rel.parent_ref = { kind: "trace", id: trace };
  if (entityRefs.length) rel.entity_refs = entityRefs;
  if (digest) rel.policy_ref = { policy_digest: digest };
  if (tool && digest) rel.edges = [{ kind: "governed_by", from: { kind: "tool", id: tool }, to: { kind: "policy", id: digest } }];
  if (trace) rel.parent_record_id = trace;
  const ids = uniqueSorted(entityRefs.map((r) => r.id));
  if (ids.length) rel.related_entity_ids = ids;
  return Object.keys(rel).length ? rel : undefined;
}

/**
 * The relationship of a delegation audit record, as Gait's buildDelegationAuditRelationship makes it: like the
 * approval audit's, with every entry's delegator and delegate as `agent` refs, an agent chain of their roles and a
 * `delegates_to` edge per entry that names both.
 */
export function delegationAuditRelationship(
  traceId: string,
  toolName: string,
  policyDigest: string,
  entries: readonly { delegator_identity?: string; delegate_identity?: string }[],
): AuditRelationship | undefined {
  const trace = goTrimSpace(traceId);
  const tool = goTrimSpace(toolName);
  const digest = goToLower(goTrimSpace(policyDigest));
  const refs: RelationshipRef[] = [];
  if (trace) refs.push({ kind: "trace", id: trace });
  if (tool) refs.push({ kind: "tool", id: tool });
  if (digest) refs.push({ kind: "policy", id: digest });
  const chain: { identity: string; role: "delegator" | "delegate" }[] = [];
  const edges: { kind: string; from: RelationshipRef; to: RelationshipRef }[] = [];
  for (const e of entries) {
    const from = goTrimSpace(e.delegator_identity ?? "");
    const to = goTrimSpace(e.delegate_identity ?? "");
    if (from) {
      refs.push({ kind: "agent", id: from });
      chain.push({ identity: from, role: "delegator" });
    }
    if (to) {
      refs.push({ kind: "agent", id: to });
      chain.push({ identity: to, role: "delegate" });
    }
    if (from && to) edges.push({ kind: "delegates_to", from: { kind: "agent", id: from }, to: { kind: "agent", id: to } });
  }
  if (tool && digest) edges.push({ kind: "governed_by", from: { kind: "tool", id: tool }, to: { kind: "policy", id: digest } });
  const entityRefs = sortedUnique(refs, cmpRef);
  const agentChain = sortedUnique(chain, (a, b) => cmpStr(a.role, b.role) || cmpStr(a.identity, b.identity));
  const sortedEdges = sortedUnique(edges, (a, b) => cmpStr(a.kind, b.kind) || cmpRef(a.from, b.from) || cmpRef(a.to, b.to));
  const rel: AuditRelationship = {};
  if (trace) rel.parent_ref = { kind: "trace", id: trace };
  if (entityRefs.length) rel.entity_refs = entityRefs;
  if (digest) rel.policy_ref = { policy_digest: digest };
  if (agentChain.length) rel.agent_chain = agentChain;
  if (sortedEdges.length) rel.edges = sortedEdges;
  if (trace) rel.parent_record_id = trace;
  const ids = uniqueSorted(entityRefs.map((r) => r.id));
  if (ids.length) rel.related_entity_ids = ids;
  return Object.keys(rel).length ? rel : undefined;
}

/**
 * Serialize a sub-decision the way Go marshals it: empty values dropped (omitempty), but `time.Time` fields always
 * present, as `0001-01-01T00:00:00Z` when unset (Go's omitempty never omits a struct), and in Go's UTC encoding.
 * Gait's verifier re-marshals the record through its structs, so this keeps our signed bytes equal to its bytes.
 */
function goDecision<T extends object>(obj: T, timeFields: readonly string[]): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === null || v === "" || v === 0 || v === false) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = timeFields.includes(k) && typeof v === "string" ? (normalizeGoTime(v) ?? v) : v;
  }
  for (const k of timeFields) if (out[k] === undefined) out[k] = GO_ZERO_TIME;
  return out as T;
}

/** A step verdict as Go marshals Gait's TraceStepVerdict (empty reason codes, violations and matched rule omitted). */
export function cleanStepVerdict(s: StepVerdict): StepVerdict {
  return defined({
    index: s.index,
    tool_name: s.tool_name,
    verdict: s.verdict,
    reason_codes: nonEmpty(s.reason_codes) as string[],
    violations: nonEmpty(s.violations) as string[],
    matched_rule: str(s.matched_rule),
  });
}

/** Sign a record: Ed25519 over sha256(JCS(record without `signature`)). Returns a new record with `signature`. */
export function signTraceRecord(record: TraceRecord, signer: Signer): TraceRecord {
  return signTraceRecordWithText(record, signer).record;
}

/** A signed record and its compact JSON text. */
export interface SignedTraceText {
  record: TraceRecord;
  /**
   * Compact JSON of `record`: its JCS text with `signature` appended as the last member. Any JSON layout of a record
   * verifies (only the digest over JCS is normative); this one costs no second serialization, so a trace log can
   * store it as is.
   */
  text: string;
}

/**
 * {@link signTraceRecord} that also returns the signed record's JSON text, built from the canonical text the
 * signature was computed over (one canonicalization per record instead of one to sign and one to store).
 */
export function signTraceRecordWithText(record: TraceRecord, signer: Signer): SignedTraceText {
  const prepared = prepareTraceSignature(record);
  return finishTraceSignature(prepared, signer.keyId, signer.sign(prepared.digest));
}

/** A trace record ready to be signed: its canonical form and the sha256 digest its Ed25519 signature covers. */
export interface PreparedTraceSignature {
  signable: Omit<TraceRecord, "signature">;
  canonical: string;
  digest: Uint8Array;
}

/** The first half of {@link signTraceRecordWithText}: canonicalize and digest (the signature may be made elsewhere). */
export function prepareTraceSignature(record: TraceRecord): PreparedTraceSignature {
  let signable: Omit<TraceRecord, "signature"> = record;
  if (record.signature !== undefined) {
    const { signature: _drop, ...rest } = record;
    signable = rest;
  }
  const canonical = jcs(signable);
  return { signable, canonical, digest: sha256Bytes(canonical) };
}

/** The second half: attach `sig`, the Ed25519 signature of `prepared.digest` by the key `keyId` names. */
export function finishTraceSignature(prepared: PreparedTraceSignature, keyId: string, sig: Uint8Array): SignedTraceText {
  const { signable, canonical, digest } = prepared;
  const signature: SignatureObject = {
    alg: "ed25519",
    key_id: keyId,
    sig: Buffer.from(sig).toString("base64"),
    signed_digest: Buffer.from(digest).toString("hex"),
  };
  const sigJson = JSON.stringify(signature);
  const text = canonical === "{}" ? `{"signature":${sigJson}}` : `${canonical.slice(0, -1)},"signature":${sigJson}}`;
  return { record: { ...signable, signature }, text };
}

/** Result of {@link verifyTraceRecord}: `error` carries the reason (Gait's texts for signature failures). */
export interface TraceVerifyResult {
  ok: boolean;
  error?: string;
  trace_id?: string;
  verdict?: string;
  key_id?: string;
}

/**
 * Verify a parsed trace file against one public key (evidence.md §1.2): recompute sha256(JCS(doc without
 * signature)), compare with `signed_digest`, check alg, key id and the Ed25519 signature. Every field present in
 * the file is covered, so any altered, added or removed field fails. Never throws.
 */
export function verifyTraceRecord(doc: unknown, verifier: Verifier): TraceVerifyResult {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return { ok: false, error: "trace record must be a JSON object" };
  const rec = doc as Record<string, unknown>;
  const out: TraceVerifyResult = {
    ok: false,
    trace_id: typeof rec.trace_id === "string" ? rec.trace_id : undefined,
    verdict: typeof rec.verdict === "string" ? rec.verdict : undefined,
  };
  const sig = rec.signature as Partial<SignatureObject> | undefined | null;
  if (sig && typeof sig === "object" && typeof sig.key_id === "string" && sig.key_id) out.key_id = sig.key_id;
  if (rec.schema_id !== TRACE_SCHEMA_ID) return { ...out, error: `not a ${TRACE_SCHEMA_ID} record (schema_id ${JSON.stringify(rec.schema_id ?? null)})` };
  if (!sig || typeof sig !== "object" || Array.isArray(sig)) return { ...out, error: "trace signature missing" };
  const { signature: _drop, ...signable } = rec;
  try {
    verifyDocument(signable, sig as SignatureObject, verifier);
  } catch (e) {
    return { ...out, error: e instanceof SignatureError ? e.message : `verify trace: ${(e as Error).message}` };
  }
  return { ...out, ok: true, key_id: out.key_id ?? verifier.keyId };
}

/**
 * The sub-decisions of a gate result as Go marshals them (gate eval `--json` and traces): omitempty fields dropped,
 * `time.Time` fields always present (zero time when unset) in Go's UTC encoding.
 */
export function goSubDecisions(d: { freeze_window?: FreezeWindowDecision; sandbox?: SandboxDecision; kill_switch?: KillSwitchDecision }): {
  freeze_window?: FreezeWindowDecision;
  sandbox?: SandboxDecision;
  kill_switch?: KillSwitchDecision;
} {
  return {
    ...(d.freeze_window ? { freeze_window: goDecision(d.freeze_window, ["evaluated_at", "window_start", "window_end"]) } : {}),
    ...(d.sandbox ? { sandbox: goDecision(d.sandbox, []) } : {}),
    ...(d.kill_switch ? { kill_switch: goDecision(d.kill_switch, ["evaluated_at"]) } : {}),
  };
}

