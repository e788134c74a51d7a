/**
 * Rule evaluation: pipeline stages 4-8 of gate.md §1 (Gait's `EvaluatePolicyDetailed` with the kill switch applied).
 *
 *   4  normalize the intent; an invalid intent under fail-closed (raw risk class) becomes block
 *   5  fail-closed field checks (all reported together; early return, no kill switch)
 *   6  kill-switch state unavailable and required => block
 *   7  rules (first matching priority tier, most restrictive effect) with per-rule constraints, or script steps
 *   8  kill-switch match
 *
 * Synchronous and pure: time (`evaluationTime`), kill-switch state and the verified context envelope are inputs.
 * No path here can produce `allow` from an error: invalid input either blocks (fail-closed) or throws.
 */
import { digestJCS } from "./canon.js";
import { goTrimSpace, IntentDecodeError, MAX_SCRIPT_STEPS, normalizeIntent, rawRiskClass, targetsDigest } from "./intent.js";
import { KillSwitchStateError, matchKillSwitch } from "./killswitch.js";
import type { CompiledPolicy, CompiledRule } from "./match.js";
import { anyPattern, compilePolicy, maxVerdict, ruleMatches } from "./match.js";
import { formatGoTime, GAIT_EPOCH, normalizeGoTime, parseRFC3339 } from "./time.js";
import type {
  FreezeWindowDecision,
  FreezeWindowPolicy,
  IntentRequest,
  KillSwitchDecision,
  KillSwitchState,
  Policy,
  PolicyOutcome,
  PolicyRule,
  Profile,
  RateLimitPolicy,
  SandboxDecision,
  StepVerdict,
  Target,
  Verdict,
  VerifiedContextEnvelope,
} from "./types.js";
import { IntentError, VERDICT_RANK } from "./types.js";

/** Inputs of {@link evaluatePolicy} besides the policy and the raw intent. */
export interface PolicyEvalOptions {
  /** drives freeze windows, kill-switch expiry and agent expiry (`--evaluation-time`, else the wall clock) */
  evaluationTime: Date;
  /** parsed kill-switch state, or the text of the error that made it unavailable; absent = no kill switch configured */
  killSwitch?: KillSwitchState | { unavailable: string };
  /** verified context envelope (the only source of context-evidence claims, gate.md §4.10) */
  envelope?: VerifiedContextEnvelope;
  /** `oss-prod` makes an unavailable kill switch block regardless of risk class */
  profile?: Profile;
}

// ---------------------------------------------------------------------------------------------------------------
// Result accumulation
// ---------------------------------------------------------------------------------------------------------------

/** What one (single-intent) evaluation decided, before the kill switch. */
interface Decision {
  verdict: Verdict;
  // lists may hold duplicates until the outcome is assembled (sortUnique): cheaper than sets on the hot path
  reasons: string[];
  violations: string[];
  matchedRule?: string;
  minApprovals: number;
  distinct: boolean;
  broker: boolean;
  brokerRefs: string[];
  brokerScopes: string[];
  requireDelegation: boolean;
  delegationScopes: string[];
  rateLimit?: RateLimitPolicy;
  destructiveBudget?: RateLimitPolicy;
  verdictRules: PolicyRule[];
  freeze?: FreezeWindowDecision;
  sandbox?: SandboxDecision;
}

function emptyDecision(verdict: Verdict): Decision {
  return {
    verdict,
    reasons: [],
    violations: [],
    minApprovals: 0,
    distinct: false,
    broker: false,
    brokerRefs: [],
    brokerScopes: [],
    requireDelegation: false,
    delegationScopes: [],
    verdictRules: [],
  };
}

/** Sort (byte order for ASCII, like Go's sort.Strings) and drop duplicates; returns a new array. */
function sortUnique(values: readonly string[]): string[] {
  return sortUniqueInPlace(values.slice());
}

/**
 * {@link sortUnique} in place, for arrays this module built and owns (a Decision's lists become the outcome's):
 * saves a copy per list on every evaluation.
 */
function sortUniqueInPlace(values: string[]): string[] {
  const n = values.length;
  if (n < 2) return values; // the usual sizes: nothing to sort or drop
  values.sort();
  let w = 1;
  for (let i = 1; i < n; i++) if (values[i] !== values[w - 1]) values[w++] = values[i]!;
  if (w < n) values.length = w; // assigning `length` is a slow builtin call even when it does not change
  return values;
}

function addAll(list: string[], values: readonly string[]): void {
  for (let i = 0; i < values.length; i++) list.push(values[i]!);
}

function windowRank(w: string): number {
  return w === "minute" ? 0 : w === "hour" ? 1 : 2;
}

/** Most restrictive of two limits: fewer requests, then minute < hour, then scope in byte order (Gait). */
function mergeRateLimit(current: RateLimitPolicy | undefined, candidate: RateLimitPolicy | undefined): RateLimitPolicy | undefined {
  if (!candidate || candidate.requests <= 0) return current;
  if (!current || current.requests <= 0) return candidate;
  if (candidate.requests !== current.requests) return candidate.requests < current.requests ? candidate : current;
  const cw = windowRank(candidate.window), kw = windowRank(current.window);
  if (cw !== kw) return cw < kw ? candidate : current;
  return candidate.scope < current.scope ? candidate : current;
}

// ---------------------------------------------------------------------------------------------------------------
// Per-rule constraints (gate.md §3.7, in order)
// ---------------------------------------------------------------------------------------------------------------

interface RuleEval {
  compiled: CompiledRule;
  effect: Verdict;
  reasons: string[];
  violations: string[];
  freeze?: FreezeWindowDecision;
  sandbox?: SandboxDecision;
}

const DEFAULT_EGRESS_KINDS: ReadonlySet<string> = new Set(["host", "url", "bucket", "queue", "topic"]);

function anyDestructive(targets: readonly Target[]): boolean {
  for (const t of targets) if (t.destructive) return true;
  return false;
}

function dataflowTriggered(cr: CompiledRule, intent: IntentRequest): boolean {
  const df = cr.dataflow!;
  let tainted = false;
  for (const p of intent.arg_provenance ?? []) if (df.taintedSources.has(p.source)) { tainted = true; break; }
  if (!tainted) return false;
  const targets = intent.targets;
  if (!df.kinds && !df.values && !df.operations) {
    for (const t of targets) if (DEFAULT_EGRESS_KINDS.has(t.kind)) return true;
    return false;
  }
  for (const t of targets) {
    if (df.kinds && !df.kinds.has(t.kind)) continue;
    if (df.values && !df.values.has(t.value)) continue;
    if (df.operations && !df.operations.has(t.operation ?? "")) continue;
    return true;
  }
  return false;
}

/** Endpoint constraint: per-target path/domain/egress checks plus the destructive action (§4.14); null = not triggered. */
function evaluateEndpoint(cr: CompiledRule, intent: IntentRequest): { effect: Verdict; reasons: string[]; violations: string[] } | null {
  const ep = cr.endpoint!;
  const policy = cr.rule.endpoint!;
  const reasons: string[] = [];
  for (const t of intent.targets) {
    if (t.kind === "path") {
      const value = t.value.trim();
      if (ep.pathDeny.length > 0 && anyPattern(ep.pathDeny, value)) reasons.push("endpoint_path_denied");
      if (ep.pathAllow.length > 0 && !anyPattern(ep.pathAllow, value)) reasons.push("endpoint_path_not_allowlisted");
    }
    const domain = (t.endpoint_domain ?? "").trim().toLowerCase();
    if (domain !== "") {
      if (ep.domainDeny.length > 0 && anyPattern(ep.domainDeny, domain)) reasons.push("endpoint_domain_denied");
      if (ep.domainAllow.length > 0 && !anyPattern(ep.domainAllow, domain)) reasons.push("endpoint_domain_not_allowlisted");
    }
    const cls = t.endpoint_class ?? "";
    if (ep.egress && cls.startsWith("net.") && !ep.egress.has(cls)) reasons.push("endpoint_egress_class_not_allowed");
  }
  const violations = [...reasons]; // each specific code is both reason and violation
  let effect: Verdict = policy.action;
  if (policy.destructive_action && anyDestructive(intent.targets)) {
    // QUIRK (Gait): `action` defaults to block, so `destructive_action: require_approval` alone yields block.
    effect = maxVerdict(effect, policy.destructive_action);
    reasons.push("endpoint_destructive_operation");
    violations.push("destructive_operation");
  }
  if (reasons.length === 0) return null;
  reasons.push(policy.reason_code);
  violations.push(policy.violation);
  return { effect, reasons, violations };
}

function contextAgeSeconds(intent: IntentRequest): number | undefined {
  const v = intent.context.auth_context?.["context_age_seconds"];
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? Math.trunc(v) : undefined;
  if (typeof v === "string" && /^[+-]?\d+$/.test(v.trim())) {
    const n = Number(v.trim());
    return n >= 0 ? n : undefined;
  }
  return undefined;
}

function timeAfter(raw: string | undefined, nowMs: number): boolean {
  const p = raw ? parseRFC3339(raw) : undefined;
  if (!p || raw === "0001-01-01T00:00:00Z") return false; // unset (Go zero time) or unreadable: not after
  return p.ms > nowMs || (p.ms === nowMs && p.subMsNanos > 0);
}

const STANDING_ACCESS: ReadonlySet<string> = new Set(["", "cloud_admin", "inherited", "standing", "static", "unknown"]);

/** Freeze-window conversions (local wall clock in the policy's zone -> UTC ms), cached per policy object. */
interface FreezeWindowTimes {
  tzValid: boolean;
  windows: ({ start: number; end: number } | null)[];
}
const freezeCache = new WeakMap<FreezeWindowPolicy, FreezeWindowTimes>();
const tzFormatters = new Map<string, Intl.DateTimeFormat | null>();
/** IANA zone names as Go's LoadLocation finds them under zoneinfo; rejects offsets and other Intl-only spellings. */
const TZ_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

function tzFormatter(tz: string): Intl.DateTimeFormat | null {
  let f = tzFormatters.get(tz);
  if (f === undefined) {
    f = null;
    if (TZ_NAME.test(tz)) {
      try {
        f = new Intl.DateTimeFormat("en-US", {
          timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
          hour: "numeric", minute: "numeric", second: "numeric",
        });
      } catch {
        f = null;
      }
    }
    tzFormatters.set(tz, f);
  }
  return f;
}

/** Offset (local - UTC) in ms of zone `f` at instant `ms`. */
function tzOffset(f: Intl.DateTimeFormat, ms: number): number {
  const fields: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(ms))) if (p.type !== "literal") fields[p.type] = Number(p.value);
  const local = Date.UTC(fields.year!, fields.month! - 1, fields.day!, fields.hour! % 24, fields.minute!, fields.second!);
  return local - (ms - (((ms % 1000) + 1000) % 1000));
}

const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?$/;

/**
 * Go's `time.ParseInLocation("2006-01-02T15:04:05", s, loc)`: strict fields (fractional seconds allowed, as Go
 * accepts them after the seconds), then local -> UTC with Go's `time.Date` rule for DST gaps and overlaps (take
 * the offset in force at local-as-UTC; if the result falls outside that period, use the offset in force there).
 */
function localToUtc(f: Intl.DateTimeFormat, s: string): number | null {
  const m = LOCAL_TIME.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, se] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (mo! < 1 || mo! > 12 || h! > 23 || mi! > 59 || se! > 59 || d! < 1) return null;
  const daysInMonth = new Date(Date.UTC(y!, mo!, 0)).getUTCDate();
  if (d! > daysInMonth) return null;
  const fracMs = m[7] ? Math.floor(Number("0." + m[7]) * 1000) : 0;
  const wall = Date.UTC(y!, mo! - 1, d!, h!, mi!, se!) + fracMs;
  const first = tzOffset(f, wall);
  let utc = wall - first;
  const second = tzOffset(f, utc);
  if (second !== first) utc = wall - second;
  return utc;
}

function freezeTimes(fw: FreezeWindowPolicy): FreezeWindowTimes {
  let t = freezeCache.get(fw);
  if (!t) {
    const f = tzFormatter(fw.timezone.trim());
    t = {
      tzValid: f !== null,
      windows: fw.windows.map((w) => {
        if (!f) return null;
        const start = localToUtc(f, w.start.trim());
        const end = localToUtc(f, w.end.trim());
        return start !== null && end !== null && end > start ? { start, end } : null;
      }),
    };
    freezeCache.set(fw, t);
  }
  return t;
}

function evaluateFreezeWindow(fw: FreezeWindowPolicy, intent: IntentRequest, now: Date): { effect?: Verdict; code?: string; decision: FreezeWindowDecision } {
  const decision: FreezeWindowDecision = { status: "inactive", effect: fw.effect, timezone: fw.timezone, evaluated_at: formatGoTime(now) };
  const env = (intent.context.environment ?? "").trim().toLowerCase();
  if (fw.environments.length > 0 && !fw.environments.includes(env)) return { decision };
  const risk = intent.context.risk_class.trim().toLowerCase();
  if (fw.risk_classes.length > 0 && !fw.risk_classes.includes(risk)) return { decision };
  const times = freezeTimes(fw);
  if (!times.tzValid) {
    decision.status = "invalid";
    decision.reason_code = "freeze_window_invalid_timezone";
    decision.reason = "freeze window timezone could not be loaded";
    return { effect: "block", code: decision.reason_code, decision };
  }
  const nowMs = now.getTime();
  for (let i = 0; i < fw.windows.length; i++) {
    const w = fw.windows[i]!;
    const range = times.windows[i];
    if (!range) {
      decision.status = "invalid";
      decision.window_name = w.name;
      decision.reason_code = "freeze_window_invalid_window";
      decision.reason = "freeze window has an invalid range";
      return { effect: "block", code: decision.reason_code, decision };
    }
    if (nowMs >= range.start && nowMs < range.end) {
      decision.status = "active";
      decision.window_name = w.name;
      decision.window_start = formatGoTime(range.start);
      decision.window_end = formatGoTime(range.end);
      decision.reason = fw.reason || w.name;
      if (fw.effect === "require_approval") {
        decision.reason_code = "freeze_window_active_require_approval";
        return { effect: "require_approval", code: decision.reason_code, decision };
      }
      decision.reason_code = "freeze_window_active_block";
      return { effect: "block", code: decision.reason_code, decision };
    }
  }
  return { decision };
}

function freezeRank(d: FreezeWindowDecision): number {
  return d.status === "invalid" ? 3 : d.status === "active" ? 2 : d.status === "inactive" ? 1 : 0;
}
function freezeEffectRank(e: string | undefined): number {
  return e === "block" ? 2 : e === "require_approval" ? 1 : 0;
}
/** Gait's choice among several rules' freeze decisions: invalid > active > inactive, then block first, then name. */
function pickFreeze(current: FreezeWindowDecision | undefined, candidate: FreezeWindowDecision | undefined): FreezeWindowDecision | undefined {
  if (!candidate) return current;
  if (!current) return candidate;
  const a = freezeRank(candidate), b = freezeRank(current);
  if (a !== b) return a > b ? candidate : current;
  const ea = freezeEffectRank(candidate.effect), eb = freezeEffectRank(current.effect);
  if (ea !== eb) return ea > eb ? candidate : current;
  return (candidate.window_name ?? "") < (current.window_name ?? "") ? candidate : current;
}

function sandboxRank(d: SandboxDecision): number {
  return d.status === "missing" ? 4 : d.status === "disallowed" ? 3 : d.status === "valid" ? 1 : 0;
}
/** Gait's pickSandboxDecision: the most severe status (missing > disallowed > valid), then the smaller evidence digest. */
function pickSandbox(current: SandboxDecision | undefined, candidate: SandboxDecision | undefined): SandboxDecision | undefined {
  if (!candidate) return current;
  if (!current) return candidate;
  const a = sandboxRank(candidate), b = sandboxRank(current);
  if (a !== b) return a > b ? candidate : current;
  return goTrimSpace(candidate.evidence_digest ?? "") < goTrimSpace(current.evidence_digest ?? "") ? candidate : current;
}

function sandboxPathHasPrefix(path: string, prefix: string): boolean {
  const p = path.trim(), x = prefix.trim();
  return p === x || x === "/" || p.startsWith(x + "/");
}

function evaluateSandbox(cr: CompiledRule, intent: IntentRequest): SandboxDecision {
  const policy = cr.rule.sandbox!;
  const sets = cr.sandbox!;
  const sb = intent.context.sandbox;
  if (!sb) return { status: "missing", reason_codes: ["sandbox_metadata_missing"] };
  // Gait's evaluateSandboxConstraint copies the metadata into the decision before checking it, so a trace keeps the
  // modes and timeout whatever the status (issue 9 #7).
  const seen: SandboxDecision = { status: "valid" };
  if (sb.network_mode) seen.network_mode = sb.network_mode;
  if (sb.env_exposure_mode) seen.env_exposure_mode = sb.env_exposure_mode;
  if (sb.timeout_seconds) seen.timeout_seconds = sb.timeout_seconds;
  if (sb.filesystem_isolation) seen.filesystem_isolation = sb.filesystem_isolation;
  if (sb.user_mode) seen.user_mode = sb.user_mode;
  if (sb.evidence_ref) seen.evidence_ref = sb.evidence_ref;
  if (sb.evidence_digest) seen.evidence_digest = sb.evidence_digest;
  const codes: string[] = [];
  if (!sb.evidence_ref || !sb.evidence_digest) codes.push("sandbox_evidence_missing");
  const enumCheck = (value: string | undefined, allowed: ReadonlySet<string> | null, name: string) => {
    if (!value) codes.push(`sandbox_${name}_missing`);
    else if (allowed && !allowed.has(value)) codes.push(`sandbox_${name}_disallowed`);
  };
  enumCheck(sb.network_mode, sets.networkModes, "network_mode");
  enumCheck(sb.env_exposure_mode, sets.envModes, "env_exposure_mode");
  const timeout = sb.timeout_seconds ?? 0;
  if (timeout <= 0) codes.push("sandbox_timeout_missing");
  else if (policy.max_timeout_seconds > 0 && timeout > policy.max_timeout_seconds) codes.push("sandbox_timeout_exceeded");
  enumCheck(sb.filesystem_isolation, sets.fsIsolations, "filesystem_isolation");
  enumCheck(sb.user_mode, sets.userModes, "user_mode");
  const allowedPrefixes = policy.allowed_writable_path_prefixes;
  if (allowedPrefixes.length > 0) {
    for (const w of sb.writable_paths ?? []) {
      if (!allowedPrefixes.some((p) => sandboxPathHasPrefix(w, p))) { codes.push("sandbox_writable_path_disallowed"); break; }
    }
  }
  const required = policy.required_read_only_roots;
  if (required.length > 0) {
    // DEVIATION (docs/compatibility.md): every required root must be present in the intent's read_only_roots;
    // extra roots are fine. Gait checks the inverse subset (every intent root must be in the required list), so it
    // misses a required root that is absent and flags harmless extra roots; an intent with no roots passes there.
    const roots = new Set(sb.read_only_roots ?? []);
    if (!required.every((r) => roots.has(r))) codes.push("sandbox_read_only_root_missing");
  }
  if (codes.length === 0) return seen;
  const reasonCodes = sortUnique(codes);
  seen.status = reasonCodes.some((c) => c.endsWith("_missing")) ? "missing" : "disallowed";
  seen.reason_codes = reasonCodes;
  return seen;
}

/** Evaluate one matched rule and its attached constraints (gate.md §3.7) into an effective effect + codes. */
function evaluateMatchedRule(cr: CompiledRule, intent: IntentRequest, now: Date): RuleEval {
  const rule = cr.rule;
  let effect: Verdict = rule.effect;
  const reasons = rule.reason_codes.length > 0 ? rule.reason_codes.slice() : [cr.fallbackReason];
  const violations = rule.violations.slice();
  const out: RuleEval = { compiled: cr, effect, reasons, violations };

  // 1. dataflow
  if (cr.dataflow && dataflowTriggered(cr, intent)) {
    const df = rule.dataflow!;
    // DEVIATION (docs/compatibility.md): dataflow escalates only, effect = max(rule effect, dataflow action).
    // Gait *replaces* the rule effect with the dataflow action, so a tainted flow can downgrade a `block` rule
    // to `require_approval`.
    effect = maxVerdict(effect, df.action);
    reasons.push(df.reason_code);
    violations.push(df.violation);
  }
  // 2. endpoint
  if (cr.endpoint) {
    const ep = evaluateEndpoint(cr, intent);
    if (ep) {
      effect = maxVerdict(effect, ep.effect);
      reasons.push(...ep.reasons);
      violations.push(...ep.violations);
    }
  }
  const ctx = intent.context;
  // 3. context evidence
  if (cr.contextRequired) {
    let hit = false;
    if (!(ctx.context_set_digest ?? "").trim()) {
      reasons.push("context_evidence_missing", "context_set_digest_missing");
      violations.push("missing_context_evidence");
      hit = true;
    }
    if (rule.required_context_evidence_mode === "required" && (ctx.context_evidence_mode ?? "").trim() !== "required") {
      reasons.push("context_evidence_mode_mismatch");
      violations.push("context_evidence_mode_violation");
      hit = true;
    }
    if (rule.max_context_age_seconds > 0) {
      const age = contextAgeSeconds(intent);
      if (age === undefined || age > rule.max_context_age_seconds) {
        reasons.push("context_freshness_exceeded");
        violations.push("context_freshness_violation");
        hit = true;
      }
    }
    if (hit) effect = "block";
  }
  // 4. agent identity
  if (cr.agentEnabled) {
    const start = reasons.length;
    const agentId = (ctx.agent_id ?? "").trim();
    const identity = ctx.agent_identity;
    const add = (reason: string, violation: string) => { reasons.push(reason); violations.push(violation); };
    if (rule.require_declared_agent && (agentId === "" || !identity)) add("agent_unknown", "agent_identity_missing");
    if (cr.agent.deniedIds && agentId !== "" && cr.agent.deniedIds.has(agentId)) add("agent_revoked", "agent_revoked");
    if (identity?.revoked) add("agent_revoked", "agent_revoked");
    if (cr.agent.allowedIds && (agentId === "" || !cr.agent.allowedIds.has(agentId))) add("agent_unknown", "agent_not_declared");
    if (rule.require_agent_owner && !(identity?.owner ?? "").trim()) add("agent_owner_missing", "agent_owner_missing");
    if (rule.required_agent_lifecycle_states.length > 0) {
      const states = new Set(identity?.lifecycle_states ?? []);
      if (!identity || !rule.required_agent_lifecycle_states.every((s) => states.has(s))) {
        add("agent_lifecycle_state_invalid", "agent_lifecycle_state_invalid");
      }
    }
    if (rule.require_unexpired_agent && (!identity || !timeAfter(identity.expires_at, now.getTime()))) add("agent_expired", "agent_expired");
    if (rule.required_agent_manifest_digest && (identity?.manifest_digest ?? "").trim() !== rule.required_agent_manifest_digest) {
      add("agent_manifest_mismatch", "agent_manifest_mismatch");
    }
    if (cr.agent.publishers && !(identity && cr.agent.publishers.has((identity.publisher ?? "").trim().toLowerCase()))) {
      add("agent_manifest_mismatch", "agent_manifest_mismatch");
    }
    if (cr.agent.sources && !(identity && cr.agent.sources.has((identity.source ?? "").trim().toLowerCase()))) {
      add("agent_manifest_mismatch", "agent_manifest_mismatch");
    }
    if (reasons.length > start) effect = "block";
  }
  // 5. credential posture (incl. bindings)
  if (cr.credentialEnabled) {
    const start = reasons.length;
    const add = (code: string) => { reasons.push(code); violations.push(code); };
    const source = (ctx.credential_source ?? "").trim().toLowerCase();
    const access = (ctx.credential_access_type ?? "").trim().toLowerCase();
    const issuer = (ctx.credential_issuer ?? "").trim();
    if (!(ctx.credential_ref ?? "").trim()) add("credential_evidence_missing");
    if (source === "") add("credential_source_unknown");
    if (access === "") add("credential_access_type_unknown");
    if (rule.require_jit_credential) {
      if (access === "") add("credential_evidence_missing");
      else if (access !== "jit") add("credential_not_jit");
    }
    if (rule.block_standing_credentials && STANDING_ACCESS.has(access)) add("standing_credential_disallowed");
    if (cr.credential.sources && (source === "" || !cr.credential.sources.has(source))) add("credential_source_disallowed");
    if (cr.credential.issuers && (issuer === "" || !cr.credential.issuers.has(issuer))) add("credential_issuer_disallowed");
    if (cr.credential.accessTypes && (access === "" || !cr.credential.accessTypes.has(access))) add("credential_access_type_disallowed");
    if (rule.max_credential_ttl_seconds > 0) {
      const ttl = ctx.credential_ttl_seconds ?? 0;
      if (ttl <= 0) add("credential_evidence_missing");
      else if (ttl > rule.max_credential_ttl_seconds) add("credential_ttl_exceeded");
    }
    const targetBinding = (ctx.credential_target_binding ?? "").trim();
    if (targetBinding !== "" && targetBinding !== targetsDigest(intent.targets)) add("credential_target_binding_mismatch");
    const runId = (ctx.run_id ?? "").trim(), runBinding = (ctx.credential_run_binding ?? "").trim();
    if (runId !== "" && runBinding !== "" && runBinding !== runId) add("credential_run_binding_mismatch");
    const jobId = (ctx.job_id ?? "").trim(), jobBinding = (ctx.credential_job_binding ?? "").trim();
    if (jobId !== "" && jobBinding !== "" && jobBinding !== jobId) add("credential_job_binding_mismatch");
    if (reasons.length > start) effect = "block";
  }
  // 6. freeze window
  if (rule.freeze_window?.enabled) {
    const fw = evaluateFreezeWindow(rule.freeze_window, intent, now);
    out.freeze = fw.decision;
    if (fw.effect && fw.code) {
      effect = maxVerdict(effect, fw.effect);
      reasons.push(fw.code);
      violations.push(fw.code);
    }
  }
  // 7. sandbox
  if (cr.sandbox) {
    const decision = evaluateSandbox(cr, intent);
    out.sandbox = decision;
    if (decision.reason_codes) {
      effect = "block";
      for (const c of decision.reason_codes) { reasons.push(c); violations.push(c); }
    }
  }
  // 8. phase / destructive
  let destructive = anyDestructive(intent.targets);
  if (destructive && out.sandbox?.status === "valid" && intent.targets.every((t) => t.endpoint_class === "proc.exec")) {
    destructive = false; // a valid sandbox contains process execution
  }
  if (destructive) {
    if (ctx.phase === "plan") {
      effect = maxVerdict(effect, "dry_run");
      reasons.push("plan_phase_non_destructive");
    } else {
      effect = maxVerdict(effect, "require_approval");
      reasons.push("destructive_apply_requires_approval");
    }
  }
  out.effect = effect;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Single intent and scripts
// ---------------------------------------------------------------------------------------------------------------

/** Rules over one (normalized) intent: first matching priority tier, most restrictive effect wins (§3.5). */
function evaluateSingle(cp: CompiledPolicy, policy: Policy, intent: IntentRequest, now: Date): Decision {
  const evals: RuleEval[] = [];
  let tier: number | undefined;
  for (const cr of cp.rules) {
    if (tier !== undefined && cr.rule.priority !== tier) break; // rules are sorted: the tier is over
    if (!ruleMatches(cr.match, intent)) continue;
    tier = cr.rule.priority;
    evals.push(evaluateMatchedRule(cr, intent, now));
  }
  if (evals.length === 0) {
    // No match: default verdict, no destructive/phase escalation on this path (gotcha §10.1).
    const d = emptyDecision(policy.default_verdict);
    d.reasons.push("default_" + policy.default_verdict);
    d.minApprovals = policy.default_verdict === "require_approval" ? 1 : 0;
    return d;
  }
  let verdict: Verdict = "allow";
  for (const e of evals) if (VERDICT_RANK[e.effect] > VERDICT_RANK[verdict]) verdict = e.effect;
  const d = emptyDecision(verdict);
  for (const e of evals) {
    // Only the rules that set the verdict contribute, their freeze window and sandbox decisions included (Gait
    // EvaluatePolicyDetailed skips every evaluation whose effect is not the verdict; issue 9 #6).
    if (e.effect !== verdict) continue;
    d.freeze = pickFreeze(d.freeze, e.freeze);
    d.sandbox = pickSandbox(d.sandbox, e.sandbox);
    const rule = e.compiled.rule;
    d.verdictRules.push(rule);
    addAll(d.reasons, e.reasons);
    addAll(d.violations, e.violations);
    const min = rule.min_approvals === 0 && e.effect === "require_approval" ? 1 : rule.min_approvals;
    if (min > d.minApprovals) d.minApprovals = min;
    if (rule.require_distinct_approvers) d.distinct = true;
    if (rule.require_broker_credential) d.broker = true;
    if (rule.broker_reference) d.brokerRefs.push(rule.broker_reference);
    addAll(d.brokerScopes, rule.broker_scopes);
    if (rule.match.require_delegation) d.requireDelegation = true;
    addAll(d.delegationScopes, rule.match.delegation_scopes);
    d.rateLimit = mergeRateLimit(d.rateLimit, rule.rate_limit);
    d.destructiveBudget = mergeRateLimit(d.destructiveBudget, rule.destructive_budget);
  }
  if (evals.length === 1) {
    d.matchedRule = evals[0]!.compiled.rule.name; // the usual case
  } else {
    const names: string[] = [];
    for (const e of evals) names.push(e.compiled.rule.name);
    d.matchedRule = sortUnique(names).join(",");
  }
  if (verdict !== "require_approval") d.minApprovals = 0;
  return d;
}

/** Step risk for `block_mixed_risk` (§4.13): high (delete/exec/destructive) > medium (write/network) > low. */
function stepRisk(targets: readonly Target[]): "high" | "medium" | "low" {
  let risk: "medium" | "low" = "low";
  for (const t of targets) {
    const c = t.endpoint_class;
    if (c === "fs.delete" || c === "proc.exec" || t.destructive) return "high";
    if (c === "fs.write" || c === "net.http" || c === "net.dns") risk = "medium";
  }
  return risk;
}

interface ScriptResult {
  decision: Decision;
  stepVerdicts: StepVerdict[];
  compositeRisk: string;
}

/** Each step as a standalone intent sharing the context; verdict = most restrictive, codes = union (§4.13). */
function evaluateScript(cp: CompiledPolicy, policy: Policy, intent: IntentRequest, now: Date): ScriptResult {
  const steps = intent.script!.steps;
  const agg = emptyDecision("allow");
  const stepVerdicts: StepVerdict[] = [];
  const matched = new Set<string>();
  const risks = new Set<string>();
  const verdictRules = new Set<PolicyRule>();
  const { script: _script, script_hash: _hash, arg_provenance: _prov, ...shared } = intent;
  steps.forEach((step, index) => {
    const stepIntent: IntentRequest = { ...shared, tool_name: step.tool_name, args: step.args, targets: step.targets ?? [] };
    if (step.arg_provenance) stepIntent.arg_provenance = step.arg_provenance;
    const d = evaluateSingle(cp, policy, stepIntent, now);
    const sv: StepVerdict = { index, tool_name: step.tool_name, verdict: d.verdict, reason_codes: sortUnique(d.reasons), violations: sortUnique(d.violations) };
    if (d.matchedRule) sv.matched_rule = d.matchedRule;
    stepVerdicts.push(sv);
    agg.verdict = maxVerdict(agg.verdict, d.verdict);
    addAll(agg.reasons, d.reasons);
    addAll(agg.violations, d.violations);
    // Gait joins uniqueSorted(step matched_rule strings): a step's own "a,c" stays one entry, so steps "b" and
    // "a,c" give "a,c,b" (evaluateScriptPolicyDetailed; issue 9 #16). The trace's matched_rule_ids split them.
    if (d.matchedRule) matched.add(d.matchedRule.trim());
    if (d.minApprovals > agg.minApprovals) agg.minApprovals = d.minApprovals;
    agg.distinct ||= d.distinct;
    agg.broker ||= d.broker;
    agg.requireDelegation ||= d.requireDelegation;
    addAll(agg.brokerRefs, d.brokerRefs);
    addAll(agg.brokerScopes, d.brokerScopes);
    addAll(agg.delegationScopes, d.delegationScopes);
    agg.rateLimit = mergeRateLimit(agg.rateLimit, d.rateLimit);
    agg.destructiveBudget = mergeRateLimit(agg.destructiveBudget, d.destructiveBudget);
    for (const r of d.verdictRules) verdictRules.add(r);
    agg.freeze = pickFreeze(agg.freeze, d.freeze);
    agg.sandbox = pickSandbox(agg.sandbox, d.sandbox);
    risks.add(stepRisk(step.targets ?? []));
  });
  // Every step's verdict-setting rules: the gate checks broker receipts and delegation against all of them.
  agg.verdictRules = [...verdictRules];
  if (matched.size > 0) agg.matchedRule = [...matched].sort().join(",");

  const maxSteps = policy.scripts.max_steps > 0 ? policy.scripts.max_steps : MAX_SCRIPT_STEPS;
  if (steps.length > maxSteps) {
    agg.verdict = "block";
    agg.reasons.push("script_max_steps_exceeded");
    agg.violations.push("script_max_steps_exceeded");
  }
  const above = policy.scripts.require_approval_above;
  if (above > 0 && steps.length > above) {
    agg.verdict = maxVerdict(agg.verdict, "require_approval");
    agg.reasons.push("script_step_threshold_approval");
    if (agg.minApprovals === 0) agg.minApprovals = 1;
  }
  if (policy.scripts.block_mixed_risk && risks.size > 1) {
    agg.verdict = "block";
    agg.reasons.push("script_mixed_risk_blocked");
    agg.violations.push("script_mixed_risk");
  }
  const compositeRisk = risks.has("high") ? "high" : risks.has("medium") ? "medium" : "low";
  return { decision: agg, stepVerdicts, compositeRisk };
}

// ---------------------------------------------------------------------------------------------------------------
// Fail-closed pre-checks (§3.6)
// ---------------------------------------------------------------------------------------------------------------

/** An endpoint class the fail-closed checks treat as unknown: empty or `other` (after trimming). */
function isUnknownClass(endpointClass: string | undefined): boolean {
  const c = (endpointClass ?? "").trim();
  return c === "" || c === "other";
}

interface FailClosedFindings {
  reasons: string[];
  violations: string[];
}

function addFinding(f: FailClosedFindings | null, reason: string, violation: string): FailClosedFindings {
  const out = f ?? { reasons: [], violations: [] };
  out.reasons.push(reason);
  out.violations.push(violation);
  return out;
}

/** The fail-closed field checks; null when nothing is missing (the usual case, so nothing is allocated for it). */
function failClosedChecks(cp: CompiledPolicy, intent: IntentRequest): FailClosedFindings | null {
  let out: FailClosedFindings | null = null;
  const f = cp.failClosedRequires;
  const targets = intent.targets;
  let unknownClass = false;
  for (let i = 0; i < targets.length; i++) {
    if (isUnknownClass(targets[i]!.endpoint_class)) {
      unknownClass = true;
      break;
    }
  }
  if (f.targets && targets.length === 0) out = addFinding(out, "fail_closed_missing_targets", "missing_targets");
  if (f.argProvenance && (intent.arg_provenance ?? []).length === 0) {
    out = addFinding(out, "fail_closed_missing_arg_provenance", "missing_arg_provenance");
  }
  if (f.endpointClass && unknownClass) {
    out = addFinding(out, "fail_closed_missing_endpoint_class", "missing_endpoint_class");
  }
  if (f.delegation && !intent.delegation) out = addFinding(out, "fail_closed_missing_delegation", "missing_delegation");
  if (f.contextEvidence && !(intent.context.context_set_digest ?? "").trim()) {
    out = addFinding(out, "context_evidence_missing", "missing_context_evidence");
  }
  const ctx = intent.context as unknown as Record<string, unknown>;
  for (const field of cp.failClosedHighRiskFields) {
    const v = ctx[field];
    const missing =
      field === "credential_ttl_seconds" ? !(typeof v === "number" && v > 0)
      : field === "agent_identity" ? v === undefined || v === null
      : typeof v !== "string" || v.trim() === "";
    if (missing) out = addFinding(out, `fail_closed_missing_${field}`, `missing_${field}`);
  }
  // always, with no configuration needed
  if (unknownClass) out = addFinding(out, "fail_closed_endpoint_class_unknown", "endpoint_class_unknown");
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// evaluatePolicy
// ---------------------------------------------------------------------------------------------------------------

function baseOutcome(intent: IntentRequest, verdict: Verdict): PolicyOutcome {
  return {
    verdict,
    reason_codes: [],
    violations: [],
    min_approvals: 0,
    require_distinct_approvers: false,
    require_broker_credential: false,
    broker_scopes: [],
    require_delegation: false,
    delegation_scopes: [],
    verdict_rules: [],
    fail_closed_early: false,
    intent,
  };
}

function earlyBlock(intent: IntentRequest, reasons: string[], violations: string[]): PolicyOutcome {
  const o = baseOutcome(intent, "block");
  o.reason_codes = sortUnique(reasons);
  o.violations = sortUnique(violations);
  o.fail_closed_early = true;
  return o;
}

/**
 * Stand-in for the intent when normalization failed under fail-closed. There is no normalized intent, yet the
 * outcome (and the trace built from it) needs one. Choice: schema defaults; `tool_name` trimmed+lowercased from the
 * raw value (or ""); `args` {}; `targets` []; context identity/workspace trimmed from the raw value, risk_class =
 * the raw risk class (trim+lower) that triggered fail-closed, phase "apply"; `intent_digest` = DigestJCS of the raw
 * intent and `args_digest` = DigestJCS of the raw `args` (or {}), so the record still binds to exactly what was
 * submitted. A raw value JCS cannot encode falls back to the digest of `null`.
 */
function placeholderIntent(raw: unknown, riskClass: string): IntentRequest {
  const o = typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const ctx = typeof o.context === "object" && o.context !== null ? (o.context as Record<string, unknown>) : {};
  const s = (v: unknown) => (typeof v === "string" ? v.trim() : "");
  const safeDigest = (v: unknown) => {
    try {
      return digestJCS(v);
    } catch {
      return digestJCS(null);
    }
  };
  const createdAt = typeof o.created_at === "string" ? normalizeGoTime(o.created_at) : undefined;
  return {
    schema_id: "gait.gate.intent_request",
    schema_version: "1.0.0",
    created_at: createdAt && createdAt !== "0001-01-01T00:00:00Z" ? createdAt : GAIT_EPOCH,
    tool_name: s(o.tool_name).toLowerCase(),
    args: {},
    args_digest: safeDigest(o.args === undefined || o.args === null ? {} : o.args),
    intent_digest: safeDigest(raw ?? null),
    targets: [],
    context: { identity: s(ctx.identity), workspace: s(ctx.workspace), risk_class: riskClass, phase: "apply" },
  };
}

const KILL_SWITCH_REQUIRED_RISK: ReadonlySet<string> = new Set(["high", "critical"]);

/**
 * Evaluate a raw intent against a parsed policy: stages 4-8 of gate.md §1.
 *
 * Throws {@link IntentError} (Gait's text) for an invalid intent when fail-closed does not apply to its raw risk
 * class, and {@link KillSwitchStateError} (a PolicyError) when the kill-switch state is unavailable but not
 * required; callers map both to input errors (exit 6 / INVALID_ARGUMENT). Every other path returns an outcome;
 * `reason_codes` and `violations` are sorted and unique. Synchronous and pure.
 */
export function evaluatePolicy(policy: Policy, rawIntent: unknown, opts: PolicyEvalOptions): PolicyOutcome {
  const cp = compilePolicy(policy);
  const now = opts.evaluationTime;
  const ks = opts.killSwitch;
  const ksUnavailable = ks !== undefined && "unavailable" in ks ? ks.unavailable : undefined;

  // Stage 3 deferred: a kill switch that is unavailable but not required is an input error before anything else.
  let rawRisk: string | undefined;
  if (ksUnavailable !== undefined) {
    rawRisk = rawRiskClass(rawIntent);
    if (opts.profile !== "oss-prod" && !KILL_SWITCH_REQUIRED_RISK.has(rawRisk)) {
      throw new KillSwitchStateError(`kill switch state unavailable: ${ksUnavailable}`);
    }
  }

  // Stage 4 (+4b inside normalizeIntent): normalize; fail-closed turns an invalid intent into block.
  let intent: IntentRequest;
  try {
    intent = normalizeIntent(rawIntent, opts.envelope ? { envelope: opts.envelope } : undefined);
  } catch (err) {
    if (!(err instanceof IntentError)) throw err;
    // Gait decodes the intent JSON into its struct before normalizing (pipeline stage 2): a type error there is an
    // input error (exit 6) even when fail-closed applies; only normalization errors become a fail-closed block.
    if (err instanceof IntentDecodeError) throw err;
    rawRisk ??= rawRiskClass(rawIntent);
    if (!cp.failClosedRiskClasses.has(rawRisk)) throw err;
    const o = earlyBlock(placeholderIntent(rawIntent, rawRisk), ["fail_closed_intent_invalid"], ["intent_not_evaluable"]);
    o.intent_invalid = true;
    return o;
  }

  // Stage 5: fail-closed field checks on the normalized risk class; all reported together, early return.
  if (cp.failClosedRiskClasses.has(intent.context.risk_class)) {
    const fc = failClosedChecks(cp, intent);
    if (fc) return earlyBlock(intent, fc.reasons, fc.violations);
  }

  // Stage 6: kill-switch state unavailable and required.
  if (ksUnavailable !== undefined) {
    const code = "kill_switch_state_unavailable";
    const o = earlyBlock(intent, [code], [code]);
    o.kill_switch = { status: "unavailable", reason_code: code, reason_codes: [code], evaluated_at: formatGoTime(now) };
    return o;
  }

  // Stage 7: scripts step by step, else the single intent.
  let d: Decision;
  let script: ScriptResult | undefined;
  if (intent.script && intent.script.steps.length > 0) {
    script = evaluateScript(cp, policy, intent, now);
    d = script.decision;
  } else {
    d = evaluateSingle(cp, policy, intent, now);
  }

  // Stage 8: kill switch (overrides everything but the fail-closed early returns above).
  let killSwitch: KillSwitchDecision | undefined;
  if (ks !== undefined && !("unavailable" in ks)) {
    killSwitch = matchKillSwitch(ks, intent, now);
    if (killSwitch.status === "active") {
      d.verdict = "block";
      addAll(d.reasons, killSwitch.reason_codes ?? ["kill_switch_active"]);
      d.violations.push("kill_switch_active");
    }
  }

  // Built in one go (same key order as baseOutcome + the optional keys below).
  const o: PolicyOutcome = {
    verdict: d.verdict,
    reason_codes: sortUniqueInPlace(d.reasons),
    violations: sortUniqueInPlace(d.violations),
    // Kept when a later stage (kill switch, a script's block rules or blocked step) turns a decision that needed
    // approval into block: Gait's outcome keeps MinApprovals there, so gate eval still writes the approval audit.
    min_approvals: d.verdict === "require_approval" ? Math.max(d.minApprovals, 1) : d.minApprovals,
    require_distinct_approvers: d.distinct,
    require_broker_credential: d.broker,
    broker_scopes: sortUniqueInPlace(d.brokerScopes),
    require_delegation: d.requireDelegation,
    delegation_scopes: sortUniqueInPlace(d.delegationScopes),
    verdict_rules: d.verdictRules,
    fail_closed_early: false,
    intent,
  };
  if (script) {
    o.script = true;
    o.step_count = intent.script!.steps.length;
    o.step_verdicts = script.stepVerdicts;
    o.composite_risk_class = script.compositeRisk;
  }
  if (d.matchedRule) o.matched_rule = d.matchedRule;
  if (d.brokerRefs.length > 0) o.broker_reference = sortUnique(d.brokerRefs).join(",");
  if (d.rateLimit) o.rate_limit = d.rateLimit;
  if (d.destructiveBudget) o.destructive_budget = d.destructiveBudget;
  if (killSwitch) o.kill_switch = killSwitch;
  if (d.freeze) o.freeze_window = d.freeze;
  if (d.sandbox) o.sandbox = d.sandbox;
  return o;
}
