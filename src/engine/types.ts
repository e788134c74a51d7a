/**
 * Shared domain types of the decision engine (`shared/spec/gate.md`). Field names are Gait's JSON names so that
 * intents, tokens, traces and CLI output serialize exactly as Gait's do. Optional fields follow Go `omitempty`:
 * absent (undefined) when empty, so JCS digests match Gait byte for byte.
 *
 * The engine is pure: no file, network or process I/O. Time, state stores, keys and brokers are passed in.
 */
import type { SignatureObject, Signer, Verifier } from "./signature.js";

export type Verdict = "allow" | "dry_run" | "require_approval" | "block";
/** Restrictiveness order used for verdict combination: allow < dry_run < require_approval < block. */
export const VERDICT_RANK: Readonly<Record<Verdict, number>> = { allow: 0, dry_run: 1, require_approval: 2, block: 3 };

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

// ---------------------------------------------------------------------------------------------------------------
// Intent (gate.md §2). `IntentRequest` is the normalized form; raw input is `unknown` JSON until normalizeIntent().
// ---------------------------------------------------------------------------------------------------------------

export interface Target {
  kind: string;
  value: string;
  operation?: string;
  sensitivity?: string;
  endpoint_class?: string;
  endpoint_domain?: string;
  discovery_method?: string; // normalized: never empty (defaults to "unknown")
  destructive?: boolean;
  read_only_hint?: boolean;
  destructive_hint?: boolean;
  idempotent_hint?: boolean;
  open_world_hint?: boolean;
}

export interface ArgProvenance {
  arg_path: string;
  source: string;
  source_ref?: string;
  integrity_digest?: string;
}

export interface SkillProvenance {
  skill_name: string;
  skill_version?: string;
  source: string;
  publisher: string;
  digest?: string;
  signature_key_id?: string;
}

export interface DelegationLink {
  delegator_identity?: string;
  delegate_identity?: string;
  scope_class?: string;
  token_ref?: string;
  issued_at: string; // RFC 3339; Go zero time "0001-01-01T00:00:00Z" when unset (kept in digests)
  expires_at: string;
}

export interface Delegation {
  requester_identity: string;
  scope_class?: string;
  token_refs?: string[];
  chain?: DelegationLink[];
  issued_at: string; // Go zero time when unset
  expires_at: string;
}

export interface AgentIdentity {
  lifecycle_states?: string[];
  owner?: string;
  manifest_digest?: string;
  publisher?: string;
  source?: string;
  issued_at: string; // Go zero time when unset
  approved_at: string;
  expires_at: string;
  revoked?: boolean;
}

export interface SandboxMetadata {
  network_mode?: string;
  writable_paths?: string[];
  read_only_roots?: string[];
  env_exposure_mode?: string;
  timeout_seconds?: number;
  filesystem_isolation?: string;
  user_mode?: string;
  evidence_ref?: string;
  evidence_digest?: string;
}

export interface IntentContext {
  identity: string;
  workspace: string;
  risk_class: string;
  phase: string; // always present after normalization ("apply" default)
  agent_id?: string;
  agent_identity?: AgentIdentity;
  run_id?: string;
  workflow_id?: string;
  repo?: string;
  environment?: string;
  job_id?: string;
  session_id?: string;
  request_id?: string;
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
  credential_scopes?: string[];
  approval_ref?: string;
  wrkr_inventory_ref?: string;
  agent_action_bom_ref?: string;
  auth_context?: JsonObject;
  sandbox?: SandboxMetadata;
  environment_fingerprint?: string;
  context_set_digest?: string;
  context_evidence_mode?: string;
  context_refs?: string[];
}

export interface ScriptStep {
  tool_name: string;
  args: JsonObject;
  targets?: Target[];
  arg_provenance?: ArgProvenance[];
}

export interface IntentScript {
  steps: ScriptStep[];
}

/** A normalized intent with its digests filled in. */
export interface IntentRequest {
  schema_id: string;
  schema_version: string;
  created_at: string; // RFC 3339 (Go style); "1980-01-01T00:00:00Z" when absent
  producer_version?: string;
  tool_name: string;
  args: JsonObject;
  args_digest: string;
  intent_digest: string;
  script_hash?: string;
  script?: IntentScript;
  targets: Target[];
  arg_provenance?: ArgProvenance[];
  skill_provenance?: SkillProvenance;
  delegation?: Delegation;
  relationship?: JsonObject;
  context: IntentContext;
}

/**
 * A verified context envelope (gate.md §4.10): the only source of context-evidence claims. Without one, the
 * caller's context_set_digest / context_evidence_mode / context_refs / auth_context.context_age_seconds are stripped.
 */
export interface VerifiedContextEnvelope {
  context_set_digest: string;
  context_evidence_mode?: string;
  context_refs?: string[];
  /** Age in seconds at evaluation time (max over records of now - retrieved_at; future => 0). */
  context_age_seconds: number;
}

/** Input errors (Gait's INVALID_INPUT, exit 6). `message` is Gait's error text. */
export class IntentError extends Error {
  override name = "IntentError";
}

// ---------------------------------------------------------------------------------------------------------------
// Policy (gate.md §3). Normalized, validated form.
// ---------------------------------------------------------------------------------------------------------------

export interface RateLimitPolicy {
  requests: number;
  window: "minute" | "hour" | string;
  scope: "tool" | "identity" | "tool_identity" | string;
}

export interface FreezeWindowPolicy {
  enabled: boolean;
  timezone: string;
  effect: Verdict;
  reason?: string;
  environments: string[];
  risk_classes: string[];
  windows: { name: string; start: string; end: string }[];
}

export interface SandboxPolicy {
  enabled: boolean;
  allowed_network_modes: string[];
  allowed_writable_path_prefixes: string[];
  required_read_only_roots: string[];
  allowed_env_exposure_modes: string[];
  max_timeout_seconds: number;
  allowed_filesystem_isolations: string[];
  allowed_user_modes: string[];
}

export interface DataflowPolicy {
  enabled: boolean;
  tainted_sources: string[];
  destination_kinds: string[];
  destination_values: string[];
  destination_operations: string[];
  action: Verdict;
  reason_code: string;
  violation: string;
}

export interface EndpointPolicy {
  enabled: boolean;
  path_allowlist: string[];
  path_denylist: string[];
  domain_allowlist: string[];
  domain_denylist: string[];
  egress_classes: string[];
  action: Verdict;
  destructive_action?: Verdict;
  reason_code: string;
  violation: string;
}

export interface PolicyMatch {
  tool_names: string[];
  risk_classes: string[];
  identities: string[];
  workspace_prefixes: string[];
  target_kinds: string[];
  target_values: string[];
  destination_kinds: string[];
  destination_values: string[];
  destination_operations: string[];
  endpoint_classes: string[];
  discovery_methods: string[];
  tool_annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean };
  data_classes: string[];
  provenance_sources: string[];
  skill_publishers: string[];
  skill_sources: string[];
  context_tool_names: string[];
  context_data_classes: string[];
  context_endpoint_classes: string[];
  context_autonomy_levels: string[];
  require_delegation: boolean;
  allowed_delegator_identities: string[];
  allowed_delegate_identities: string[];
  delegation_scopes: string[];
  max_delegation_depth?: number;
}

export interface PolicyRule {
  name: string;
  priority: number;
  effect: Verdict;
  match: PolicyMatch;
  reason_codes: string[];
  violations: string[];
  min_approvals: number;
  require_distinct_approvers: boolean;
  require_broker_credential: boolean;
  broker_reference?: string;
  broker_scopes: string[];
  require_declared_agent: boolean;
  allowed_agent_ids: string[];
  denied_agent_ids: string[];
  required_agent_manifest_digest?: string;
  allowed_agent_manifest_publishers: string[];
  allowed_agent_manifest_sources: string[];
  required_agent_lifecycle_states: string[];
  require_agent_owner: boolean;
  require_unexpired_agent: boolean;
  block_standing_credentials: boolean;
  allowed_credential_sources: string[];
  allowed_credential_issuers: string[];
  allowed_credential_access_types: string[];
  max_credential_ttl_seconds: number;
  require_jit_credential: boolean;
  require_context_evidence: boolean;
  required_context_evidence_mode?: string;
  max_context_age_seconds: number;
  freeze_window?: FreezeWindowPolicy;
  sandbox?: SandboxPolicy;
  rate_limit?: RateLimitPolicy;
  destructive_budget?: RateLimitPolicy;
  dataflow?: DataflowPolicy;
  endpoint?: EndpointPolicy;
}

export interface Policy {
  schema_id: string;
  schema_version: string;
  default_verdict: Verdict;
  fail_closed: { enabled: boolean; risk_classes: string[]; required_fields: string[]; required_high_risk_fields: string[] };
  scripts: { max_steps: number; require_approval_above: number; block_mixed_risk: boolean };
  rules: PolicyRule[]; // sorted by (priority, name)
  /** sha256 hex of the Go-style normalized payload (§3.8). */
  policy_digest: string;
}

/** Policy parse/validation failure (exit 6 / INVALID_ARGUMENT). `message` is Gait's text where Gait has one. */
export class PolicyError extends Error {
  override name = "PolicyError";
}

// ---------------------------------------------------------------------------------------------------------------
// Kill switch (gate.md §4.3)
// ---------------------------------------------------------------------------------------------------------------

export interface KillSwitchEntry {
  entry_id: string;
  enabled: boolean;
  agent_id?: string;
  identity?: string;
  tool_name?: string;
  target_kind?: string;
  target_value?: string;
  environment?: string;
  path_prefixes?: string[];
  workspace_prefixes?: string[];
  reason?: string;
  actor?: string;
  created_at?: string;
  expires_at?: string;
}

export interface KillSwitchState {
  schema_id: "gait.gate.kill_switch_state" | string;
  schema_version: string;
  created_at?: string;
  updated_at?: string;
  entries: KillSwitchEntry[];
}

export interface KillSwitchDecision {
  status: "active" | "inactive" | "unavailable";
  reason_code?: string;
  reason_codes?: string[];
  matched_entry_ids?: string[];
  evaluated_at?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Policy evaluation result (stages 4-8) and the full gate result (stages 1-13)
// ---------------------------------------------------------------------------------------------------------------

export interface StepVerdict {
  index: number;
  tool_name: string;
  verdict: Verdict;
  reason_codes: string[];
  violations: string[];
  matched_rule?: string;
}

export interface FreezeWindowDecision {
  status: "inactive" | "active" | "invalid";
  effect?: string;
  timezone?: string;
  evaluated_at?: string;
  window_name?: string;
  window_start?: string;
  window_end?: string;
  reason?: string;
  reason_code?: string;
}

export interface SandboxDecision {
  status: "missing" | "disallowed" | "valid";
  /** The intent's sandbox metadata as evaluated (Gait records them whenever the metadata is present). */
  network_mode?: string;
  env_exposure_mode?: string;
  timeout_seconds?: number;
  filesystem_isolation?: string;
  user_mode?: string;
  evidence_ref?: string;
  evidence_digest?: string;
  reason_codes?: string[];
}

/** What the rule evaluation (`evaluatePolicy`) decided, before runtime controls (rate limits, tokens, broker). */
export interface PolicyOutcome {
  verdict: Verdict;
  reason_codes: string[]; // sorted, unique
  violations: string[]; // sorted, unique
  matched_rule?: string; // comma-joined sorted names of all tier matches
  min_approvals: number;
  require_distinct_approvers: boolean;
  require_broker_credential: boolean;
  broker_reference?: string;
  broker_scopes: string[];
  require_delegation: boolean;
  delegation_scopes: string[];
  rate_limit?: RateLimitPolicy;
  destructive_budget?: RateLimitPolicy;
  /** the verdict-setting rules' credential posture (for broker receipt checks) */
  verdict_rules: PolicyRule[];
  fail_closed_early: boolean; // true when a fail-closed pre-check returned early
  /** true when the intent failed normalization and fail-closed turned that into block (`intent` is a placeholder) */
  intent_invalid?: boolean;
  kill_switch?: KillSwitchDecision;
  freeze_window?: FreezeWindowDecision;
  sandbox?: SandboxDecision;
  script?: boolean;
  step_count?: number;
  step_verdicts?: StepVerdict[];
  composite_risk_class?: string;
  /** the normalized intent the decision was made on (digests included) */
  intent: IntentRequest;
}

/** Approval token (`gait.gate.approval_token` 1.0.0, gate.md §5). */
export interface ApprovalToken {
  schema_id: "gait.gate.approval_token" | string;
  schema_version: string;
  created_at: string;
  producer_version?: string;
  token_id: string;
  approver_identity: string;
  reason_code: string;
  intent_digest: string;
  policy_digest: string;
  delegation_binding_digest?: string;
  scope: string[];
  max_targets?: number;
  max_ops?: number;
  expires_at: string;
  signature?: SignatureObject;
}

/** Delegation token (`gait.gate.delegation_token` 1.0.0, gate.md §4.7). */
export interface DelegationToken {
  schema_id: "gait.gate.delegation_token" | string;
  schema_version: string;
  created_at: string;
  producer_version?: string;
  token_id: string;
  delegator_identity: string;
  delegate_identity: string;
  scope: string[];
  scope_class?: string;
  intent_digest?: string;
  policy_digest?: string;
  expires_at: string;
  signature?: SignatureObject;
}

/** Counter store for rate limits and destructive budgets. Implementations: in-memory, file (locked), Redis. */
export interface CounterStore {
  /**
   * Atomically: read counter `key`; if used >= limit, deny without incrementing; else increment.
   * `bucketExpiresAt` lets the store prune stale buckets; `nowMs` (the decision's wall clock, default Date.now())
   * says which buckets have expired. Throws on unavailable state (the caller fails closed).
   */
  consume(key: string, limit: number, bucketExpiresAtMs: number, nowMs?: number): Promise<{ allowed: boolean; used: number }>;
}

/** Broker receipt (gate.md §4.11). */
export interface BrokerReceipt {
  credential_ref: string;
  source?: string;
  access_type?: string;
  issuer?: string;
  scopes?: string[];
  ttl_seconds?: number;
  request_digest?: string;
  target_binding?: string;
  run_binding?: string;
  job_binding?: string;
  /** broker name that issued the credential (defaults to the broker's name) */
  issued_by?: string;
  subject?: string;
  owner?: string;
  /** RFC 3339 (Go UTC encoding) when known */
  issued_at?: string;
  expires_at?: string;
}

export interface BrokerRequest {
  tool_name: string;
  identity: string;
  workspace: string;
  session_id?: string;
  request_id?: string;
  run_id?: string;
  job_id?: string;
  reference?: string;
  scope: string[];
  target_binding: string;
}

/** A credential broker: `stub` is pure; `env` and `command` are implemented outside the engine (they do I/O). */
export interface CredentialBroker {
  readonly name: "stub" | "env" | "command" | string;
  /** `now` is the gate's wall clock, for brokers that stamp issued_at/expires_at (the stub does). */
  issue(request: BrokerRequest, requestDigest: string, now?: Date): Promise<BrokerReceipt>;
}

export type Profile = "standard" | "oss-prod";

/** Everything the full gate pipeline needs besides the policy and the intent. */
export interface GateOptions {
  /** wall clock (rate limits, token expiry) */
  now: Date;
  /** `--evaluation-time`: drives freeze windows, kill-switch expiry, agent expiry; defaults to `now` */
  evaluationTime?: Date;
  profile?: Profile;
  killSwitch?: KillSwitchState | { unavailable: string }; // parsed state, or the load error text
  contextEnvelope?: VerifiedContextEnvelope;
  counters?: CounterStore; // rate limits and budgets are skipped when absent (policy test, mcp proxy)
  approvalTokens?: ApprovalToken[]; // already parsed (CLI dedupes by path)
  approvalVerifier?: Verifier;
  delegationTokens?: DelegationToken[];
  delegationVerifier?: Verifier;
  broker?: CredentialBroker; // undefined == "off"
  brokerReference?: string;
  brokerScopes?: string[];
  simulate?: boolean;
  producerVersion?: string;
}

export interface ApprovalAuditEntry {
  token_id: string;
  approver_identity: string;
  reason_code: string;
  scope: string[];
  expires_at: string;
  valid: boolean;
  error_code?: string;
}

/** One delegation token's audit line (`gait.gate.delegation_audit_record` entries). */
export interface DelegationAuditEntry {
  token_id?: string;
  delegator_identity?: string;
  delegate_identity?: string;
  scope?: string[];
  expires_at?: string;
  valid: boolean;
  error_code?: string;
}

/** Output of the full pipeline (`gate eval`): the JSON fields of gate.md §7.1 that the engine owns. */
export interface GateResult {
  verdict: Verdict;
  reason_codes: string[];
  violations: string[];
  policy_digest: string;
  intent_digest: string;
  args_digest: string;
  tool_name: string;
  created_at: string;
  matched_rule?: string;
  required_approvals?: number;
  valid_approvals?: number;
  approval_ref?: string;
  approval_audit?: { required_approvals: number; valid_approvals: number; approved: boolean; approvers: string[]; entries: ApprovalAuditEntry[] };
  /** scopes a token must carry for this call: ["tool:<name>", + "phase:apply","destructive:apply"] */
  required_approval_scopes?: string[];
  delegation_ref?: string;
  delegation_required?: boolean;
  valid_delegations?: number;
  /** present when delegation was required or any delegation token was evaluated */
  delegation_audit?: { delegation_required: boolean; valid_delegations: number; delegated: boolean; delegation_ref?: string; entries: DelegationAuditEntry[] };
  rate_limit_scope?: string;
  rate_limit_key?: string;
  rate_limit_used?: number;
  rate_limit_remaining?: number;
  destructive_budget_scope?: string;
  destructive_budget_key?: string;
  destructive_budget_used?: number;
  destructive_budget_remaining?: number;
  broker?: { receipt: BrokerReceipt; request_digest: string; reference?: string; scope?: string[]; broker?: string };
  kill_switch?: KillSwitchDecision;
  freeze_window?: FreezeWindowDecision;
  sandbox?: SandboxDecision;
  script?: boolean;
  step_count?: number;
  script_hash?: string;
  composite_risk_class?: string;
  step_verdicts?: StepVerdict[];
  phase?: string;
  simulate_mode?: boolean;
  would_have_blocked?: boolean;
  simulated_verdict?: Verdict;
  simulated_reason_codes?: string[];
  warnings?: string[];
  /** the normalized intent (digests filled) */
  intent: IntentRequest;
  /** true when the decision was produced by a fail-closed pre-check on an invalid intent (no normalized intent) */
  intent_invalid?: boolean;
}

export type { SignatureObject, Signer, Verifier };
