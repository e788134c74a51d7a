/**
 * The full `gait gate eval` decision (gate.md §1, stages 4-13): rule evaluation, then the runtime controls in
 * Gait's order: rate limit, destructive budget, delegation, approvals, credential broker, and finally the simulate
 * rewrite. Pure apart from the injected counter store and broker; the caller owns files, keys and traces.
 *
 * Fail-closed contract: every error here (unavailable counter state, profile violations, input errors) is thrown,
 * so the caller produces no verdict; a broker failure is a `block`. Nothing on an error path returns `allow`.
 */
import { evaluatePolicy } from "./evaluate.js";
import { delegationDigest, targetsDigest } from "./intent.js";
import { approvalContext, compareStrings, evaluateApprovals, requiredApprovalScopes, type ApprovalAudit } from "./approval.js";
import { evaluateDelegation } from "./delegation.js";
import { enforceDestructiveBudget, enforceRateLimit, type RateLimitDecision } from "./ratelimit.js";
import { BrokerError, buildBrokerRequest, issueBrokerCredential, validateBrokerReceipt } from "./broker.js";
import type { ApprovalAuditEntry, GateOptions, GateResult, Policy, PolicyOutcome, PolicyRule, Verdict } from "./types.js";

/**
 * The request cannot be evaluated under the chosen profile or options (e.g. `--simulate` with oss-prod, no broker
 * for a high-risk policy, no explicit approval verify key in oss-prod). A usage/input error: CLI exit 6, gRPC
 * FAILED_PRECONDITION or INVALID_ARGUMENT. Never a verdict.
 */
export class GateConfigError extends Error {
  override name = "GateConfigError";
}

export { verdictExitCode } from "./exit-codes.js";

/** A rule Gait calls "high-risk action": not a block rule, and its match lists risk class high or critical. */
function isHighRiskActionRule(rule: PolicyRule): boolean {
  return rule.effect !== "block" && rule.match.risk_classes.some((r) => r === "high" || r === "critical");
}

/**
 * The oss-prod checks of gate.md §7.4 that depend only on the policy and options (the CLI runs its own key-mode and
 * signing-key checks). Throws {@link GateConfigError}; does nothing for the standard profile.
 */
export function checkProfile(policy: Policy, opts: Pick<GateOptions, "profile" | "simulate" | "broker">): void {
  if (opts.profile !== "oss-prod") return;
  if (opts.simulate) throw new GateConfigError("oss-prod profile does not allow --simulate");
  if (policy.default_verdict === "allow") {
    throw new GateConfigError("oss-prod profile rejects default_verdict: allow (use block or require_approval)");
  }
  const highRisk = policy.rules.filter(isHighRiskActionRule);
  if (highRisk.some((r) => !r.require_broker_credential)) {
    throw new GateConfigError("oss-prod profile requires high-risk allow/approval rules to set require_broker_credential: true");
  }
  if (highRisk.some((r) => r.require_broker_credential) && !opts.broker) {
    throw new GateConfigError("oss-prod profile requires --credential-broker for high-risk policies");
  }
}

/** Merge codes into a sorted unique list. */
function merge(into: Set<string>, codes: readonly string[]): void {
  for (const c of codes) if (c) into.add(c);
}
const sorted = (s: Set<string>) => [...s].sort(compareStrings);

/**
 * The rules a broker receipt is checked against: every rule named in `matched_rule` (Gait validates the receipt
 * against all tier matches, which is at least the verdict-setting rules); the verdict-setting rules when the
 * names cannot be resolved.
 */
function brokerRules(policy: Policy, outcome: PolicyOutcome): PolicyRule[] {
  const names = new Set((outcome.matched_rule ?? "").split(",").map((n) => n.trim()).filter(Boolean));
  const byName = policy.rules.filter((r) => names.has(r.name));
  return byName.length ? byName : outcome.verdict_rules;
}

/**
 * Evaluate one intent through stages 4-13. `opts.now` is the wall clock (rate-limit buckets, token expiry);
 * `opts.evaluationTime` (default `now`) drives freeze windows, kill-switch and agent expiry inside the rule
 * evaluation. Rate limits run only when `opts.counters` is given.
 *
 * Throws: IntentError / PolicyError from evaluation (input errors), {@link GateConfigError} for profile violations,
 * and any CounterStore error unchanged (the caller fails closed, e.g. lock contention => exit 1).
 */
export async function evaluateGate(policy: Policy, rawIntent: unknown, opts: GateOptions): Promise<GateResult> {
  checkProfile(policy, opts);
  const now = opts.now;
  const outcome = evaluatePolicy(policy, rawIntent, {
    evaluationTime: opts.evaluationTime ?? now,
    ...(opts.killSwitch ? { killSwitch: opts.killSwitch } : {}),
    ...(opts.contextEnvelope ? { envelope: opts.contextEnvelope } : {}),
    ...(opts.profile ? { profile: opts.profile } : {}),
  });
  const intent = outcome.intent;
  const intentInvalid = outcome.intent_invalid === true;
  let verdict: Verdict = outcome.verdict;
  const reasons = new Set<string>(outcome.reason_codes);
  const violations = new Set<string>(outcome.violations);
  const block = (codes: readonly string[], viols: readonly string[]) => {
    verdict = "block";
    merge(reasons, codes);
    merge(violations, viols);
  };

  const warnings: string[] = [];

  // Stage 9: rate limit, then destructive budget (wall clock; counted whatever the verdict).
  let rate: RateLimitDecision | undefined;
  let budget: RateLimitDecision | undefined;
  if (opts.counters && !intentInvalid) {
    if (outcome.rate_limit && outcome.rate_limit.requests > 0) {
      rate = await enforceRateLimit(opts.counters, outcome.rate_limit, intent, now);
      if (!rate.allowed) block(["rate_limit_exceeded"], ["rate_limit_exceeded"]);
    }
    if (outcome.destructive_budget && outcome.destructive_budget.requests > 0) {
      budget = await enforceDestructiveBudget(opts.counters, outcome.destructive_budget, intent, now);
      if (budget && !budget.allowed) block(["destructive_budget_exceeded"], ["destructive_budget_exceeded"]);
    }
  }

  // Stage 10: delegation, when a verdict-setting rule requires it.
  const delegationRequired = outcome.require_delegation && !intentInvalid;
  let delegation: GateResult["delegation_audit"];
  if (delegationRequired) {
    // Gait (gate eval): the delegation verify key, else the approval verify key, else the gate's own signing key.
    // Callers pass the signing-key fallback as approvalVerifier (never in oss-prod), so this covers all three.
    const verifier = opts.delegationVerifier ?? opts.approvalVerifier;
    if (opts.profile === "oss-prod" && !verifier) {
      throw new GateConfigError(
        "oss-prod profile requires explicit delegation verify key (--delegation-public-key/--delegation-public-key-env or private key source)",
      );
    }
    const ev = evaluateDelegation({
      ...(intent.delegation ? { delegation: intent.delegation } : {}),
      tokens: opts.delegationTokens ?? [],
      requiredScope: outcome.delegation_scopes,
      intentDigest: intent.intent_digest,
      policyDigest: policy.policy_digest,
      verifier,
      now,
    });
    if (ev.granted) merge(reasons, ev.reasons);
    else block(ev.reasons, ev.violations);
    delegation = {
      delegation_required: true,
      valid_delegations: ev.validCount,
      delegated: ev.granted,
      ...(ev.delegationRef ? { delegation_ref: ev.delegationRef } : {}),
      entries: ev.entries,
    };
  }

  // Stage 11: approvals, when the verdict is require_approval.
  let requiredApprovals = outcome.min_approvals;
  let approvalEntries: ApprovalAuditEntry[] = [];
  let approvalRef: string | undefined;
  let approvalAudit: ApprovalAudit | undefined;
  const approvalStage = verdict === "require_approval";
  if (approvalStage) {
    if (requiredApprovals <= 0) requiredApprovals = 1;
    if (opts.profile === "oss-prod" && !opts.approvalVerifier) {
      throw new GateConfigError(
        "oss-prod profile requires explicit approval verify key (--approval-public-key/--approval-public-key-env or approval private key source)",
      );
    }
    const ev = evaluateApprovals({
      tokens: opts.approvalTokens ?? [],
      requiredApprovals,
      requireDistinctApprovers: outcome.require_distinct_approvers,
      context: approvalContext(intent, policy.policy_digest, intent.delegation ? delegationDigest(intent.delegation) : undefined),
      verifier: opts.approvalVerifier,
      now,
    });
    merge(reasons, ev.reasons);
    merge(violations, ev.violations);
    if (ev.granted) verdict = "allow"; // rule violations are kept on grant (Gait QUIRK)
    approvalRef = ev.approvalRef;
    approvalEntries = ev.audit.entries;
    approvalAudit = ev.audit;
  }
  if (!approvalAudit && (requiredApprovals > 0 || approvalEntries.length > 0)) {
    approvalAudit = { required_approvals: requiredApprovals, valid_approvals: 0, approved: requiredApprovals <= 0, approvers: [], entries: [] };
  }

  // Stage 12: credential broker, when the (possibly approved) verdict is allow and a rule requires it.
  let brokerOut: GateResult["broker"];
  if (outcome.require_broker_credential && verdict === "allow") {
    if (!opts.broker) {
      block(["broker_credential_required"], ["broker_credential_missing"]);
    } else {
      let issued: Awaited<ReturnType<typeof issueBrokerCredential>> | undefined;
      try {
        const request = buildBrokerRequest({
          tool_name: intent.tool_name,
          identity: intent.context.identity,
          workspace: intent.context.workspace,
          session_id: intent.context.session_id,
          request_id: intent.context.request_id,
          run_id: intent.context.run_id,
          job_id: intent.context.job_id,
          referenceOverride: opts.brokerReference,
          ruleReference: outcome.broker_reference,
          ruleScopes: outcome.broker_scopes,
          extraScopes: opts.brokerScopes,
          target_binding: targetsDigest(intent.targets),
        });
        issued = await issueBrokerCredential(opts.broker, request, now);
      } catch (err) {
        block(["broker_credential_missing"], ["broker_credential_missing"]);
        // Only our own broker errors are echoed (their texts name variables/commands, never credential values);
        // anything else a custom broker throws might carry secrets and stays out of the result.
        if (err instanceof BrokerError) warnings.push(`credential broker ${opts.broker.name}: ${err.message}`);
        else warnings.push(`credential broker ${opts.broker.name} failed`);
      }
      if (issued) {
        const binding = {
          expectedCredentialRef: intent.context.credential_ref ?? "",
          targetBinding: issued.request.target_binding,
          runBinding: intent.context.run_id ?? "",
          jobBinding: intent.context.job_id ?? "",
        };
        const codes = new Set<string>();
        for (const rule of brokerRules(policy, outcome)) merge(codes, validateBrokerReceipt(rule, issued.request, issued.receipt, binding).reasons);
        if (codes.size) block([...codes], [...codes]);
        else merge(reasons, ["broker_credential_present"]);
        brokerOut = {
          receipt: issued.receipt,
          request_digest: issued.requestDigest,
          ...(issued.request.reference ? { reference: issued.request.reference } : {}),
          scope: issued.request.scope,
          broker: opts.broker.name,
        };
      }
    }
  }

  const finalVerdict: Verdict = verdict;
  const result: GateResult = {
    verdict: finalVerdict,
    reason_codes: sorted(reasons),
    violations: sorted(violations),
    policy_digest: policy.policy_digest,
    intent_digest: intent.intent_digest,
    args_digest: intent.args_digest,
    tool_name: intent.tool_name,
    created_at: intent.created_at,
    intent,
  };
  if (outcome.matched_rule) result.matched_rule = outcome.matched_rule;
  if (requiredApprovals > 0) result.required_approvals = requiredApprovals;
  if (approvalAudit) {
    result.approval_audit = approvalAudit;
    if (approvalAudit.valid_approvals > 0) result.valid_approvals = approvalAudit.valid_approvals;
  }
  if (approvalRef) result.approval_ref = approvalRef;
  if (finalVerdict === "require_approval") result.required_approval_scopes = requiredApprovalScopes(intent);
  if (delegation) {
    result.delegation_required = true;
    result.delegation_audit = delegation;
    if (delegation.valid_delegations > 0) result.valid_delegations = delegation.valid_delegations;
    if (delegation.delegation_ref) result.delegation_ref = delegation.delegation_ref;
  }
  fillCounter(result, "rate_limit", rate);
  fillCounter(result, "destructive_budget", budget);
  if (brokerOut) result.broker = brokerOut;
  if (outcome.kill_switch) result.kill_switch = outcome.kill_switch;
  if (outcome.freeze_window) result.freeze_window = outcome.freeze_window;
  if (outcome.sandbox) result.sandbox = outcome.sandbox;
  if (outcome.script) result.script = true;
  if (outcome.step_count) result.step_count = outcome.step_count;
  // Gait's gate eval output takes script_hash from the script evaluation's outcome, so a fail-closed early return
  // (which never evaluates the steps) reports none; the trace still records the intent's (issue 9 #16).
  if (outcome.script && intent.script_hash) result.script_hash = intent.script_hash;
  if (outcome.composite_risk_class) result.composite_risk_class = outcome.composite_risk_class;
  if (outcome.step_verdicts?.length) result.step_verdicts = outcome.step_verdicts;
  if (intent.context?.phase) result.phase = intent.context.phase;
  if (intentInvalid) result.intent_invalid = true;
  if (warnings.length) result.warnings = warnings;

  // Stage 13: simulate (observe mode) rewrites an enforcing verdict into allow and records what it would have been.
  if (opts.simulate) applySimulate(result);
  return result;
}

function fillCounter(result: GateResult, prefix: "rate_limit" | "destructive_budget", d: RateLimitDecision | undefined): void {
  if (!d) return;
  if (d.scope) result[`${prefix}_scope`] = d.scope;
  if (d.key) result[`${prefix}_key`] = d.key;
  if (d.used) result[`${prefix}_used`] = d.used;
  if (d.remaining) result[`${prefix}_remaining`] = d.remaining;
}

/**
 * gate.md §4.15: record `simulated_verdict`/`simulated_reason_codes`, add `simulate_mode_non_enforcing`; a block or
 * require_approval becomes `allow` with no violations, `simulated_<verdict>` and `would_have_blocked`. Exported for
 * callers that run the pipeline in pieces; evaluateGate applies it when `opts.simulate` is set.
 */
export function applySimulate(result: GateResult): void {
  const original = result.verdict;
  const reasons = new Set(result.reason_codes);
  result.simulate_mode = true;
  result.simulated_verdict = original;
  if (result.reason_codes.length) result.simulated_reason_codes = [...result.reason_codes];
  reasons.add("simulate_mode_non_enforcing");
  if (original === "block" || original === "require_approval") {
    result.verdict = "allow";
    result.violations = [];
    result.would_have_blocked = true;
    reasons.add(`simulated_${original}`);
  }
  result.reason_codes = sorted(reasons);
}
