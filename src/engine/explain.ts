/**
 * Why a policy decides what it decides for one intent (`gait policy explain`, later the operator console): which
 * rules matched and which did not (condition by condition), which priority tier counted, which constraint of a
 * matched rule set its effect, and what the fail-closed checks and the kill switch did.
 *
 * Built from the engine's own pieces, never from a second implementation of them: each match condition is tested
 * with the engine's matcher on a rule that has only that condition; a matched rule's effective effect is the
 * engine's verdict for a policy holding only that rule; the stages come from the real evaluation. The explanation
 * then *derives* the verdict from those parts (tier, most restrictive effect, default verdict, script limits, kill
 * switch) and refuses to explain when the derivation disagrees with the real decision, so an explanation can never
 * tell a story the engine did not act on. `test/unit/engine/explain.test.ts` checks the agreement over every
 * conformance case. Pure: time and state come in through the options, as for {@link evaluatePolicy}.
 */
import { evaluatePolicy, type PolicyEvalOptions } from "./evaluate.js";
import { compilePolicy, maxVerdict, ruleMatches } from "./match.js";
import type { IntentRequest, Policy, PolicyMatch, PolicyOutcome, PolicyRule, Target, Verdict } from "./types.js";
import { VERDICT_RANK } from "./types.js";

export const EXPLANATION_SCHEMA_ID = "gait.gate.policy_explanation";

/** One condition of a rule's `match` block, tested on its own. */
export interface ConditionCheck {
  /** the policy key, e.g. `tool_names`, `endpoint_classes`, `tool_annotations.readOnlyHint` */
  key: string;
  /** what the rule accepts */
  want: string[];
  /** what the intent has for it */
  have: string[];
  ok: boolean;
}

/** A constraint of a matched rule that changed its outcome (gate.md §3.7). */
export interface ConstraintHit {
  constraint: "dataflow" | "endpoint" | "context_evidence" | "agent_identity" | "credential_posture" | "freeze_window" | "sandbox" | "destructive";
  /** the effect the constraint asks for */
  effect: Verdict;
  reason_codes: string[];
}

export type RuleStatus =
  /** matched, in the tier that counted, and its effect is the verdict */
  | "decided"
  /** matched in the tier that counted, but another rule of the tier was more restrictive */
  | "outranked"
  /** a condition does not hold */
  | "not_matched"
  /** a rule with a lower priority number matched first: this tier was never looked at */
  | "not_reached"
  /** evaluation stopped before the rules (fail-closed checks, invalid intent, unavailable kill switch) */
  | "skipped";

export interface RuleExplanation {
  name: string;
  priority: number;
  effect: Verdict;
  status: RuleStatus;
  /** every condition of the rule's match block (empty: the rule matches every intent) */
  conditions: ConditionCheck[];
  /** whether every condition holds (also for rules that were not reached) */
  matches: boolean;
  /** for a matched rule: its effect after its constraints, and the constraints that changed it */
  effective_effect?: Verdict;
  constraints?: ConstraintHit[];
  /** one sentence */
  why: string;
}

export interface StepExplanation {
  index: number;
  tool_name: string;
  verdict: Verdict;
  matched_rule?: string;
  rules: RuleExplanation[];
}

export type DecidingStage = "intent_invalid" | "fail_closed" | "kill_switch_unavailable" | "rules" | "default_verdict" | "script" | "kill_switch";

export interface PolicyExplanation {
  schema_id: typeof EXPLANATION_SCHEMA_ID;
  schema_version: "1.0.0";
  policy_digest: string;
  intent_digest?: string;
  tool_name?: string;
  /** the verdict, derived from the parts below (and checked against the real decision) */
  verdict: Verdict;
  reason_codes: string[];
  violations: string[];
  matched_rule?: string;
  /** the stage whose outcome is the verdict */
  decided_by: { stage: DecidingStage; rules?: string[]; constraints?: ConstraintHit["constraint"][]; reason_codes?: string[] };
  /** the fail-closed checks: whether they apply to this risk class, and what they found */
  fail_closed: { applies: boolean; risk_class: string; findings: string[] };
  /** the priority tier that counted (the lowest priority number with a matching rule) */
  tier?: number;
  rules: RuleExplanation[];
  /** scripts: each step explained on its own */
  steps?: StepExplanation[];
  kill_switch?: { status: string; reason_codes: string[] };
  /** the explanation in sentences, in evaluation order */
  summary: string[];
}

/** The derived verdict disagrees with the engine: never show such an explanation (report it as a bug). */
export class ExplanationMismatchError extends Error {
  override name = "ExplanationMismatchError";
}

// ---------------------------------------------------------------------------------------------------------------
// Conditions: each tested with the engine's matcher on a rule holding only that condition
// ---------------------------------------------------------------------------------------------------------------

const LIST_KEYS = [
  "tool_names", "risk_classes", "identities", "workspace_prefixes", "context_tool_names", "context_data_classes",
  "context_endpoint_classes", "context_autonomy_levels", "target_kinds", "target_values", "endpoint_classes",
  "discovery_methods", "skill_publishers", "skill_sources", "data_classes", "destination_kinds", "destination_values",
  "destination_operations", "provenance_sources", "allowed_delegator_identities", "allowed_delegate_identities",
  "delegation_scopes",
] as const;
type ListKey = (typeof LIST_KEYS)[number];

function emptyMatch(): PolicyMatch {
  const m: Record<string, unknown> = { require_delegation: false };
  for (const k of LIST_KEYS) m[k] = [];
  return m as unknown as PolicyMatch;
}

function isolatedRule(rule: PolicyRule, match: PolicyMatch): Policy {
  return soloPolicy({ ...rule, match });
}

/** A policy holding only `rule`, with no fail-closed checks and no script limits (the stages before are known). */
function soloPolicy(rule: PolicyRule): Policy {
  return {
    schema_id: "gait.gate.policy",
    schema_version: "1.0.0",
    default_verdict: "allow",
    fail_closed: { enabled: false, risk_classes: [], required_fields: [], required_high_risk_fields: [] },
    scripts: { max_steps: 0, require_approval_above: 0, block_mixed_risk: false },
    rules: [rule],
    policy_digest: "",
  };
}

function conditionHolds(rule: PolicyRule, match: PolicyMatch, intent: IntentRequest): boolean {
  return ruleMatches(compilePolicy(isolatedRule(rule, match)).rules[0]!.match, intent);
}

const uniq = (xs: Iterable<string>) => [...new Set(xs)].sort();
const targetValues = (ts: readonly Target[], pick: (t: Target) => string | undefined) => uniq(ts.map((t) => pick(t) ?? "").filter((v) => v !== ""));

/** What the intent has for a match key, in the form the matcher compares. */
function intentHas(key: string, intent: IntentRequest): string[] {
  const ctx = intent.context;
  const ts = intent.targets;
  const auth = (k: string) => {
    const v = ctx.auth_context?.[k];
    return typeof v === "string" && v.trim() ? [v.trim().toLowerCase()] : [];
  };
  switch (key) {
    case "tool_names": return [intent.tool_name];
    case "risk_classes": return [ctx.risk_class];
    case "identities": return [ctx.identity];
    case "workspace_prefixes": return [ctx.workspace];
    case "context_tool_names": return auth("wrkr.tool_name");
    case "context_data_classes": return auth("wrkr.data_class");
    case "context_endpoint_classes": return auth("wrkr.endpoint_class");
    case "context_autonomy_levels": return auth("wrkr.autonomy_level");
    case "target_kinds":
    case "destination_kinds": return targetValues(ts, (t) => t.kind);
    case "target_values":
    case "destination_values": return targetValues(ts, (t) => t.value);
    case "destination_operations": return targetValues(ts, (t) => t.operation);
    case "endpoint_classes": return targetValues(ts, (t) => t.endpoint_class);
    case "discovery_methods": return targetValues(ts, (t) => t.discovery_method ?? "unknown");
    case "data_classes": return targetValues(ts, (t) => t.sensitivity);
    case "skill_publishers": return intent.skill_provenance ? [intent.skill_provenance.publisher.trim().toLowerCase()] : [];
    case "skill_sources": return intent.skill_provenance ? [intent.skill_provenance.source.trim().toLowerCase()] : [];
    case "provenance_sources": return uniq((intent.arg_provenance ?? []).map((p) => p.source));
    case "allowed_delegator_identities": return uniq((intent.delegation?.chain ?? []).map((l) => (l.delegator_identity ?? "").trim()).filter(Boolean));
    case "allowed_delegate_identities":
      return intent.delegation ? uniq([intent.delegation.requester_identity.trim(), ...(intent.delegation.chain ?? []).map((l) => (l.delegate_identity ?? "").trim())].filter(Boolean)) : [];
    case "delegation_scopes":
      return intent.delegation ? uniq([intent.delegation.scope_class ?? "", ...(intent.delegation.chain ?? []).map((l) => l.scope_class ?? "")].map((s) => s.trim().toLowerCase()).filter(Boolean)) : [];
    case "require_delegation": return intent.delegation ? ["delegation present"] : [];
    case "max_delegation_depth": return intent.delegation ? [`depth ${(intent.delegation.chain ?? []).length}`] : [];
    default: {
      const hint = /^tool_annotations\.(\w+)$/.exec(key)?.[1];
      if (!hint) return [];
      const field = { readOnlyHint: "read_only_hint", destructiveHint: "destructive_hint", idempotentHint: "idempotent_hint", openWorldHint: "open_world_hint" }[hint] as keyof Target;
      return targetValues(ts, (t) => String(t[field] ?? false));
    }
  }
}

/** Every condition of the rule, each checked alone. */
function checkConditions(rule: PolicyRule, intent: IntentRequest): ConditionCheck[] {
  const m = rule.match;
  const out: ConditionCheck[] = [];
  const add = (key: string, want: string[], only: PolicyMatch) => {
    out.push({ key, want, have: intentHas(key, intent), ok: conditionHolds(rule, only, intent) });
  };
  for (const k of LIST_KEYS) {
    const values = m[k as ListKey];
    if (values.length === 0) continue;
    add(k, [...values], { ...emptyMatch(), [k]: values });
  }
  for (const [hint, value] of Object.entries(m.tool_annotations ?? {})) {
    if (value === undefined) continue;
    add(`tool_annotations.${hint}`, [String(value)], { ...emptyMatch(), tool_annotations: { [hint]: value } });
  }
  if (m.require_delegation) add("require_delegation", ["delegation present"], { ...emptyMatch(), require_delegation: true });
  if (m.max_delegation_depth !== undefined) {
    add("max_delegation_depth", [`depth <= ${m.max_delegation_depth}`], { ...emptyMatch(), max_delegation_depth: m.max_delegation_depth });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// A matched rule's effect: the engine's verdict for a policy holding only that rule
// ---------------------------------------------------------------------------------------------------------------

/** Which constraint a reason code comes from (gate.md §3.7, §8), for a rule's own configuration. */
function constraintOf(code: string, rule: PolicyRule): ConstraintHit["constraint"] | undefined {
  if (rule.dataflow && code === rule.dataflow.reason_code) return "dataflow";
  if (rule.endpoint && (code === rule.endpoint.reason_code || code.startsWith("endpoint_"))) return "endpoint";
  if (/^context_(evidence_missing|set_digest_missing|evidence_mode_mismatch|freshness_exceeded)$/.test(code)) return "context_evidence";
  if (code.startsWith("agent_")) return "agent_identity";
  if (code.startsWith("credential_") || code === "standing_credential_disallowed") return "credential_posture";
  if (code.startsWith("freeze_window_")) return "freeze_window";
  if (code.startsWith("sandbox_")) return "sandbox";
  if (code === "destructive_apply_requires_approval" || code === "plan_phase_non_destructive") return "destructive";
  return undefined;
}

function constraintEffect(c: ConstraintHit["constraint"], codes: string[], rule: PolicyRule): Verdict {
  switch (c) {
    case "dataflow": return rule.dataflow!.action;
    case "endpoint": return codes.includes("endpoint_destructive_operation") && rule.endpoint!.destructive_action ? maxVerdict(rule.endpoint!.action, rule.endpoint!.destructive_action) : rule.endpoint!.action;
    case "freeze_window": return codes.includes("freeze_window_active_require_approval") ? "require_approval" : "block";
    case "destructive": return codes.includes("plan_phase_non_destructive") ? "dry_run" : "require_approval";
    default: return "block";
  }
}

function ruleOutcome(rule: PolicyRule, raw: unknown, opts: PolicyEvalOptions): { effect: Verdict; constraints: ConstraintHit[] } {
  const { killSwitch: _ks, ...rest } = opts;
  const o = evaluatePolicy(soloPolicy(rule), raw, rest);
  const own = new Set(rule.reason_codes.length ? rule.reason_codes : []);
  const byConstraint = new Map<ConstraintHit["constraint"], string[]>();
  for (const code of o.reason_codes) {
    if (own.has(code)) continue;
    const c = constraintOf(code, rule);
    if (!c) continue;
    byConstraint.set(c, [...(byConstraint.get(c) ?? []), code]);
  }
  const constraints = [...byConstraint].map(([constraint, codes]) => ({ constraint, effect: constraintEffect(constraint, codes, rule), reason_codes: codes }));
  return { effect: o.verdict, constraints };
}

// ---------------------------------------------------------------------------------------------------------------
// Tiers (gate.md §3.5)
// ---------------------------------------------------------------------------------------------------------------

function describeCondition(c: ConditionCheck): string {
  const have = c.have.length ? c.have.join(", ") : "nothing";
  return `${c.key} wants ${c.want.join(" | ")}, the intent has ${have}`;
}

interface TierResult {
  rules: RuleExplanation[];
  tier?: number;
  /** derived: most restrictive effective effect of the tier, or the default verdict */
  verdict: Verdict;
  matched: string[];
}

function explainTiers(policy: Policy, intent: IntentRequest, raw: unknown, opts: PolicyEvalOptions): TierResult {
  const rules: RuleExplanation[] = [];
  let tier: number | undefined;
  for (const rule of policy.rules) {
    const conditions = checkConditions(rule, intent);
    const matches = ruleMatches(compilePolicy(soloPolicy(rule)).rules[0]!.match, intent);
    const base = { name: rule.name, priority: rule.priority, effect: rule.effect, conditions, matches };
    const failed = conditions.filter((c) => !c.ok);
    if (tier !== undefined && rule.priority !== tier) {
      rules.push({ ...base, status: "not_reached", why: `not looked at: priority ${tier} already matched${matches ? " (it would have matched)" : ""}` });
      continue;
    }
    if (!matches) {
      const why = failed.length
        ? `does not match: ${failed.map(describeCondition).join("; ")}`
        : "does not match"; // every condition holds alone but not together cannot happen; kept for safety
      rules.push({ ...base, status: "not_matched", why });
      continue;
    }
    tier = rule.priority;
    const { effect, constraints } = ruleOutcome(rule, raw, opts);
    rules.push({ ...base, status: "decided", effective_effect: effect, constraints, why: "" });
  }
  const inTier = rules.filter((r) => r.effective_effect !== undefined);
  if (inTier.length === 0) return { rules, verdict: policy.default_verdict, matched: [] };
  let verdict: Verdict = "allow";
  for (const r of inTier) verdict = maxVerdict(verdict, r.effective_effect!);
  for (const r of inTier) {
    const raised = (r.constraints ?? []).filter((c) => VERDICT_RANK[c.effect] > VERDICT_RANK[r.effect] && c.effect === r.effective_effect);
    const how = raised.length
      ? `its ${raised.map((c) => c.constraint.replace(/_/g, " ")).join(" and ")} constraint raised ${r.effect} to ${r.effective_effect}`
      : `its effect is ${r.effective_effect}${r.matches && r.conditions.length === 0 ? " (an empty match block matches every intent)" : ""}`;
    if (r.effective_effect === verdict) {
      r.status = "decided";
      r.why = `matched (priority ${r.priority}); ${how}`;
    } else {
      r.status = "outranked";
      r.why = `matched (priority ${r.priority}), but ${r.effective_effect} is less restrictive than ${verdict} from another rule of the tier`;
    }
  }
  return { rules, tier, verdict, matched: inTier.map((r) => r.name) };
}

// ---------------------------------------------------------------------------------------------------------------
// explainPolicy
// ---------------------------------------------------------------------------------------------------------------

function skippedRules(policy: Policy, why: string): RuleExplanation[] {
  return policy.rules.map((r) => ({ name: r.name, priority: r.priority, effect: r.effect, status: "skipped" as const, conditions: [], matches: false, why }));
}

/**
 * Explain the rules stage of one decision (stages 4-8 of gate.md §1, as `gait policy test` and {@link evaluatePolicy}
 * run them). Throws what {@link evaluatePolicy} throws for an intent it cannot evaluate, and
 * {@link ExplanationMismatchError} if the derived verdict or matched rules differ from the engine's (a bug: no
 * explanation is better than a wrong one).
 */
export function explainPolicy(policy: Policy, rawIntent: unknown, opts: PolicyEvalOptions): PolicyExplanation {
  const real: PolicyOutcome = evaluatePolicy(policy, rawIntent, opts);
  const intent = real.intent;
  const riskClass = intent.context.risk_class;
  const failClosedApplies = policy.fail_closed.enabled && policy.fail_closed.risk_classes.includes(riskClass);
  const out: PolicyExplanation = {
    schema_id: EXPLANATION_SCHEMA_ID,
    schema_version: "1.0.0",
    policy_digest: policy.policy_digest,
    intent_digest: intent.intent_digest,
    tool_name: intent.tool_name,
    verdict: "block",
    reason_codes: real.reason_codes,
    violations: real.violations,
    ...(real.matched_rule ? { matched_rule: real.matched_rule } : {}),
    decided_by: { stage: "rules" },
    fail_closed: { applies: failClosedApplies, risk_class: riskClass, findings: [] },
    rules: [],
    summary: [],
  };
  const s = out.summary;
  s.push(
    failClosedApplies
      ? `Fail-closed checks apply: risk class ${riskClass} is one of ${policy.fail_closed.risk_classes.join(", ")}.`
      : policy.fail_closed.enabled
        ? `Fail-closed checks do not apply: risk class ${riskClass || "(none)"} is not one of ${policy.fail_closed.risk_classes.join(", ")}.`
        : "The policy has no fail-closed checks.",
  );

  // Stages that end before the rules: their verdict is block by definition.
  if (real.intent_invalid) {
    out.decided_by = { stage: "intent_invalid", reason_codes: real.reason_codes };
    out.rules = skippedRules(policy, "not evaluated: the intent is invalid and fail-closed blocks it");
    s.push(`The intent is not valid, and fail-closed applies to its risk class, so it is blocked before any rule (${real.reason_codes.join(", ")}).`);
    return finish(out, "block", real);
  }
  if (real.fail_closed_early) {
    const unavailable = real.reason_codes.includes("kill_switch_state_unavailable");
    out.decided_by = { stage: unavailable ? "kill_switch_unavailable" : "fail_closed", reason_codes: real.reason_codes };
    if (!unavailable) out.fail_closed.findings = real.reason_codes;
    out.rules = skippedRules(policy, unavailable ? "not evaluated: the kill-switch state is unavailable" : "not evaluated: a fail-closed check failed first");
    s.push(
      unavailable
        ? "The kill-switch state is unavailable and required for this intent, so it is blocked before any rule."
        : `Fail-closed checks failed (${real.reason_codes.join(", ")}), so the intent is blocked before any rule is evaluated.`,
    );
    return finish(out, "block", real);
  }
  if (failClosedApplies) s.push("Every fail-closed check passed.");

  let verdict: Verdict;
  if (intent.script && intent.script.steps.length > 0) {
    const { script: _s, script_hash: _h, arg_provenance: _p, ...shared } = intent;
    const { script: _rs, arg_provenance: _rp, ...rawShared } = (rawIntent ?? {}) as Record<string, unknown>;
    const steps: StepExplanation[] = intent.script.steps.map((step, index) => {
      const stepIntent: IntentRequest = { ...shared, tool_name: step.tool_name, args: step.args, targets: step.targets ?? [] };
      if (step.arg_provenance) stepIntent.arg_provenance = step.arg_provenance;
      const stepRaw = { ...rawShared, tool_name: step.tool_name, args: step.args, targets: step.targets ?? [], ...(step.arg_provenance ? { arg_provenance: step.arg_provenance } : {}) };
      const t = explainTiers(policy, stepIntent, stepRaw, opts);
      return { index, tool_name: step.tool_name, verdict: t.verdict, ...(t.matched.length ? { matched_rule: [...t.matched].sort().join(",") } : {}), rules: t.rules };
    });
    out.steps = steps;
    verdict = "allow";
    for (const st of steps) verdict = maxVerdict(verdict, st.verdict);
    for (const st of steps) {
      s.push(`Step ${st.index + 1} (${st.tool_name}): ${st.verdict}${st.matched_rule ? ` by ${st.matched_rule}` : ` by default_verdict ${policy.default_verdict}`}.`);
    }
    const limits: string[] = [];
    if (real.reason_codes.includes("script_max_steps_exceeded")) { verdict = "block"; limits.push("script_max_steps_exceeded"); }
    if (real.reason_codes.includes("script_step_threshold_approval")) { verdict = maxVerdict(verdict, "require_approval"); limits.push("script_step_threshold_approval"); }
    if (real.reason_codes.includes("script_mixed_risk_blocked")) { verdict = "block"; limits.push("script_mixed_risk_blocked"); }
    out.decided_by = { stage: "script", rules: uniq(steps.flatMap((st) => (st.matched_rule ? st.matched_rule.split(",") : []))), ...(limits.length ? { reason_codes: limits } : {}) };
    s.push(`A script is as strict as its strictest step${limits.length ? ` and its limits (${limits.join(", ")})` : ""}: ${verdict}.`);
  } else {
    const t = explainTiers(policy, intent, rawIntent, opts);
    out.rules = t.rules;
    verdict = t.verdict;
    for (const r of t.rules) s.push(`Rule ${r.name} (priority ${r.priority}, ${r.effect}): ${r.why}.`);
    if (t.tier === undefined) {
      out.decided_by = { stage: "default_verdict", reason_codes: [`default_${policy.default_verdict}`] };
      s.push(`No rule matched, so the default verdict applies: ${policy.default_verdict}.`);
    } else {
      out.tier = t.tier;
      const deciders = t.rules.filter((r) => r.status === "decided");
      const constraints = uniq(deciders.flatMap((r) => (r.constraints ?? []).filter((c) => c.effect === verdict && VERDICT_RANK[c.effect] > VERDICT_RANK[r.effect]).map((c) => c.constraint)));
      out.decided_by = { stage: "rules", rules: deciders.map((r) => r.name), ...(constraints.length ? { constraints: constraints as ConstraintHit["constraint"][] } : {}) };
      s.push(`Priority ${t.tier} is the first tier with a match; its most restrictive effect is ${verdict} (${deciders.map((r) => r.name).join(", ")}).`);
    }
  }

  if (real.kill_switch) {
    out.kill_switch = { status: real.kill_switch.status, reason_codes: real.kill_switch.reason_codes ?? [] };
    if (real.kill_switch.status === "active") {
      verdict = "block";
      out.decided_by = { stage: "kill_switch", reason_codes: real.kill_switch.reason_codes ?? ["kill_switch_active"] };
      s.push(`An active kill-switch entry matches (${(real.kill_switch.reason_codes ?? []).join(", ")}): block, whatever the rules said.`);
    } else {
      s.push("No active kill-switch entry matches.");
    }
  }
  return finish(out, verdict, real);
}

function finish(out: PolicyExplanation, derived: Verdict, real: PolicyOutcome): PolicyExplanation {
  out.verdict = derived;
  if (derived !== real.verdict) {
    throw new ExplanationMismatchError(`explanation derived ${derived} but the engine decided ${real.verdict}; this is a bug, please report it with the policy and intent`);
  }
  const derivedRules = out.steps ? undefined : uniq(out.rules.filter((r) => r.status === "decided" || r.status === "outranked").map((r) => r.name)).join(",");
  if (derivedRules !== undefined && (derivedRules || undefined) !== real.matched_rule) {
    throw new ExplanationMismatchError(`explanation matched ${derivedRules || "no rule"} but the engine matched ${real.matched_rule ?? "no rule"}; this is a bug, please report it`);
  }
  out.summary.push(`Verdict: ${derived}${real.reason_codes.length ? ` (${real.reason_codes.join(", ")})` : ""}.`);
  return out;
}
