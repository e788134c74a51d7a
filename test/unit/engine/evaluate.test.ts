import { describe, expect, it } from "vitest";
import { digestJCS } from "../../../src/engine/canon.js";
import { evaluatePolicy, type PolicyEvalOptions } from "../../../src/engine/evaluate.js";
import { KillSwitchStateError, parseKillSwitchState } from "../../../src/engine/killswitch.js";
import { parsePolicy } from "../../../src/engine/policy.js";
import { IntentError, PolicyError, type Policy } from "../../../src/engine/types.js";

const NOW = new Date("2026-03-10T14:30:00Z");
type Raw = Record<string, unknown>;

/** A valid raw intent; `over` replaces top-level keys, `ctx` is merged into context. */
function intent(over: Raw = {}, ctx: Raw = {}): Raw {
  return {
    tool_name: "tool.write",
    args: { path: "/repo/a.txt" },
    targets: [{ kind: "path", value: "/repo/a.txt", operation: "write" }],
    arg_provenance: [{ arg_path: "path", source: "user" }],
    ...over,
    context: { identity: "alice", workspace: "/repo", risk_class: "low", ...ctx, ...((over.context as Raw) ?? {}) },
  };
}

function evaluate(policy: Policy | string, raw: Raw, opts: Partial<PolicyEvalOptions> = {}) {
  const p = typeof policy === "string" ? parsePolicy(policy) : policy;
  return evaluatePolicy(p, raw, { evaluationTime: NOW, ...opts });
}

describe("precedence and combination (gate.md §3.5)", () => {
  it("lower priority number wins", () => {
    const o = evaluate(
      `
rules:
  - {name: block-all, priority: 20, effect: block}
  - {name: allow-writes, priority: 10, effect: allow, match: {tool_names: [tool.write]}}
`,
      intent(),
    );
    expect(o.verdict).toBe("allow");
    expect(o.matched_rule).toBe("allow-writes");
    expect(o.reason_codes).toEqual(["matched_rule_allow_writes"]);
  });

  it("only the first matching tier counts: a block rule in a later tier never fires", () => {
    const policy = `
rules:
  - {name: allow-writes, priority: 10, effect: allow, match: {tool_names: [tool.write]}}
  - {name: block-writes, priority: 20, effect: block, match: {tool_names: [tool.write]}}
  - {name: allow-reads, priority: 5, effect: allow, match: {tool_names: [tool.read]}}
`;
    const o = evaluate(policy, intent());
    expect(o.verdict).toBe("allow");
    expect(o.matched_rule).toBe("allow-writes");
    // a non-matching earlier rule does not fix the tier
    expect(evaluate(policy, intent({ tool_name: "tool.delete" })).verdict).toBe("require_approval");
  });

  it("within the tier the most restrictive effect wins; only verdict-setting rules contribute codes", () => {
    const o = evaluate(
      `
rules:
  - name: a-allow
    priority: 10
    effect: allow
    reason_codes: [allow_reason]
    violations: [allow_violation]
    require_broker_credential: true
  - name: b-approve
    priority: 10
    effect: require_approval
    reason_codes: [approve_reason]
    violations: [approve_violation]
    min_approvals: 2
  - name: c-approve
    priority: 10
    effect: require_approval
    min_approvals: 3
    broker_reference: ref-c
    broker_scopes: [Scope.B, scope.a]
  - {name: d-later, priority: 11, effect: block}
`,
      intent(),
    );
    expect(o.verdict).toBe("require_approval");
    expect(o.matched_rule).toBe("a-allow,b-approve,c-approve");
    expect(o.reason_codes).toEqual(["approve_reason", "matched_rule_c_approve"]);
    expect(o.violations).toEqual(["approve_violation"]);
    expect(o.min_approvals).toBe(3);
    expect(o.require_distinct_approvers).toBe(true);
    expect(o.require_broker_credential).toBe(false); // a-allow did not set the verdict
    expect(o.broker_reference).toBe("ref-c");
    expect(o.broker_scopes).toEqual(["scope.a", "scope.b"]);
    expect(o.verdict_rules.map((r) => r.name)).toEqual(["b-approve", "c-approve"]);
  });

  it("ORs flags and joins broker references of all verdict-setting rules", () => {
    const o = evaluate(
      `
rules:
  - {name: x, effect: allow, require_broker_credential: true, broker_reference: zeta, match: {require_delegation: true, delegation_scopes: [Deploy]}}
  - {name: y, effect: allow, broker_reference: alpha, broker_scopes: [s1]}
`,
      intent({ delegation: { requester_identity: "alice", scope_class: "deploy" } }),
    );
    expect(o.verdict).toBe("allow");
    expect(o.require_broker_credential).toBe(true);
    expect(o.broker_reference).toBe("alpha,zeta");
    expect(o.require_delegation).toBe(true);
    expect(o.delegation_scopes).toEqual(["deploy"]);
    expect(o.min_approvals).toBe(0);
  });

  it("picks the most restrictive rate limit and destructive budget among verdict-setting rules", () => {
    const o = evaluate(
      `
rules:
  - {name: a, effect: allow, rate_limit: {requests: 10, window: minute}, destructive_budget: {requests: 5, window: hour, scope: tool}}
  - {name: b, effect: allow, rate_limit: {requests: 10, window: hour}, destructive_budget: {requests: 5, window: hour, scope: identity}}
  - {name: c, effect: allow, rate_limit: {requests: 3, window: hour, scope: tool}}
  - {name: d, priority: 1, effect: allow, rate_limit: {requests: 1}}
`,
      intent(),
    );
    expect(o.rate_limit).toEqual({ requests: 3, window: "hour", scope: "tool" });
    expect(o.destructive_budget).toEqual({ requests: 5, window: "hour", scope: "identity" });
  });

  it("min_approvals defaults to 1 for require_approval and resets to 0 for other verdicts", () => {
    expect(evaluate("rules:\n  - {name: a, effect: require_approval}\n", intent()).min_approvals).toBe(1);
    expect(evaluate("rules:\n  - {name: a, effect: block, min_approvals: 4}\n", intent()).min_approvals).toBe(0);
  });

  it("no match: default verdict, default_<verdict> reason, no destructive escalation", () => {
    const destructive = intent({ targets: [{ kind: "path", value: "/repo/a", operation: "delete" }] });
    const allow = evaluate("default_verdict: allow\nrules:\n  - {name: r, effect: block, match: {tool_names: [x]}}\n", destructive);
    expect(allow.verdict).toBe("allow");
    expect(allow.reason_codes).toEqual(["default_allow"]);
    expect(allow.violations).toEqual([]);
    expect(allow.matched_rule).toBeUndefined();
    expect(allow.min_approvals).toBe(0);
    const dflt = evaluate("", intent());
    expect(dflt.verdict).toBe("require_approval");
    expect(dflt.reason_codes).toEqual(["default_require_approval"]);
    expect(dflt.min_approvals).toBe(1);
    expect(evaluate("default_verdict: dry_run\n", intent()).reason_codes).toEqual(["default_dry_run"]);
    expect(evaluate("default_verdict: block\n", intent()).reason_codes).toEqual(["default_block"]);
  });

  it("falls back to matched_rule_<sanitized name> when a rule lists no reason codes", () => {
    const o = evaluate("rules:\n  - {name: 'Allow Git-Push now', effect: allow}\n", intent());
    expect(o.reason_codes).toEqual(["matched_rule_allow_git_push_now"]);
  });

  it("returns the normalized intent with digests", () => {
    const o = evaluate("default_verdict: allow\n", intent());
    expect(o.intent.tool_name).toBe("tool.write");
    expect(o.intent.intent_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(o.fail_closed_early).toBe(false);
  });
});

describe("match keys (gate.md §3.4)", () => {
  const delegation = {
    requester_identity: "carol",
    scope_class: "Deploy",
    chain: [
      { delegator_identity: "alice", delegate_identity: "bob", scope_class: "build" },
      { delegator_identity: "bob", delegate_identity: "carol", scope_class: "release" },
    ],
  };
  const cases: Array<[string, string, Raw, Raw]> = [
    ["tool_names", "tool_names: [Tool.Write]", intent(), intent({ tool_name: "tool.read" })],
    ["tool_name alias", "tool_name: tool.write", intent(), intent({ tool_name: "tool.read" })],
    ["risk_classes", "risk_classes: [LOW]", intent(), intent({}, { risk_class: "medium" })],
    ["identities (case-sensitive)", "identities: [alice]", intent(), intent({}, { identity: "Alice" })],
    ["workspace_prefixes (raw prefix quirk)", "workspace_prefixes: [/rep]", intent({}, { workspace: "/repository" }), intent({}, { workspace: "/other" })],
    ["target_kinds", "target_kinds: [path]", intent(), intent({ targets: [{ kind: "url", value: "https://x.example" }] })],
    ["target_values (case-sensitive)", "target_values: [/repo/a.txt]", intent(), intent({ targets: [{ kind: "path", value: "/repo/A.txt", operation: "write" }] })],
    ["destination_kinds", "destination_kinds: [url]", intent({ targets: [{ kind: "url", value: "https://x.example" }] }), intent()],
    ["destination_values", "destination_values: [https://x.example]", intent({ targets: [{ kind: "url", value: "https://x.example" }] }), intent()],
    ["destination_operations", "destination_operations: [Write]", intent(), intent({ targets: [{ kind: "path", value: "/repo/a", operation: "read" }] })],
    ["endpoint_classes", "endpoint_classes: [fs.write]", intent(), intent({ targets: [{ kind: "path", value: "/repo/a", operation: "read" }] })],
    ["endpoint_class alias", "endpoint_class: [fs.write]", intent(), intent({ targets: [{ kind: "path", value: "/repo/a", operation: "read" }] })],
    ["discovery_method (omitted = unknown)", "discovery_method: [unknown]", intent(), intent({ targets: [{ kind: "path", value: "/a", operation: "write", discovery_method: "mcp" }] })],
    ["tool_annotations", "tool_annotations: {readOnlyHint: true}", intent({ targets: [{ kind: "path", value: "/a", operation: "read", read_only_hint: true }] }), intent()],
    ["tool_annotations false matches an unset hint", "tool_annotations: {destructiveHint: false}", intent(), intent({ targets: [] })],
    ["data_classes", "data_classes: [PII]", intent({ targets: [{ kind: "path", value: "/a", operation: "write", sensitivity: "pii" }] }), intent()],
    ["provenance_sources", "provenance_sources: [external]", intent({ arg_provenance: [{ arg_path: "path", source: "external" }] }), intent()],
    ["skill_publishers", "skill_publishers: [Acme]", intent({ skill_provenance: { skill_name: "s", source: "registry", publisher: "ACME" } }), intent()],
    ["skill_sources", "skill_sources: [registry]", intent({ skill_provenance: { skill_name: "s", source: "Registry", publisher: "acme" } }), intent({ skill_provenance: { skill_name: "s", source: "local", publisher: "acme" } })],
    ["context_tool_names", "context_tool_names: [deployer]", intent({}, { auth_context: { "wrkr.tool_name": "Deployer" } }), intent()],
    ["context_data_classes", "context_data_classes: [pii]", intent({}, { auth_context: { "wrkr.data_class": "pii" } }), intent({}, { auth_context: { "wrkr.data_class": "public" } })],
    ["context_endpoint_classes", "context_endpoint_classes: [net.http]", intent({}, { auth_context: { "wrkr.endpoint_class": "net.http" } }), intent()],
    ["context_autonomy_levels", "context_autonomy_levels: [high]", intent({}, { auth_context: { "wrkr.autonomy_level": "high" } }), intent({}, { auth_context: { "wrkr.autonomy_level": 3 } })],
    ["require_delegation", "require_delegation: true", intent({ delegation }), intent()],
    ["allowed_delegator_identities", "allowed_delegator_identities: [bob]", intent({ delegation }), intent({ delegation: { requester_identity: "carol" } })],
    ["allowed_delegate_identities (requester)", "allowed_delegate_identities: [carol]", intent({ delegation: { requester_identity: "carol" } }), intent({ delegation: { requester_identity: "dave" } })],
    ["allowed_delegate_identities (chain)", "allowed_delegate_identities: [bob]", intent({ delegation }), intent({ delegation: { requester_identity: "carol" } })],
    ["delegation_scopes", "delegation_scopes: [release]", intent({ delegation }), intent({ delegation: { requester_identity: "carol", scope_class: "other" } })],
    ["max_delegation_depth", "max_delegation_depth: 2", intent({ delegation }), intent()],
    ["max_delegation_depth exceeded", "max_delegation_depth: 1", intent({ delegation: { requester_identity: "carol" } }), intent({ delegation })],
  ];
  for (const [label, matchYaml, hit, miss] of cases) {
    it(label, () => {
      const policy = parsePolicy(`default_verdict: block\nrules:\n  - name: m\n    effect: allow\n    match: {${matchYaml}}\n`);
      const a = evaluate(policy, hit);
      expect(a.verdict).toBe("allow");
      expect(a.matched_rule).toBe("m");
      const b = evaluate(policy, miss);
      expect(b.verdict).toBe("block");
      expect(b.reason_codes).toEqual(["default_block"]);
    });
  }

  it("ANDs across keys", () => {
    const policy = parsePolicy("default_verdict: block\nrules:\n  - {name: m, effect: allow, match: {tool_names: [tool.write], risk_classes: [high]}}\n");
    expect(evaluate(policy, intent()).verdict).toBe("block");
    expect(evaluate(policy, intent({}, { risk_class: "high" })).verdict).toBe("allow");
  });

  it("evaluates target conditions independently (kind from one target, value from another)", () => {
    const policy = parsePolicy("default_verdict: block\nrules:\n  - {name: m, effect: allow, match: {target_kinds: [url], target_values: [/repo/a.txt]}}\n");
    const two = intent({ targets: [{ kind: "url", value: "https://x.example" }, { kind: "path", value: "/repo/a.txt", operation: "read" }] });
    expect(evaluate(policy, two).verdict).toBe("allow");
  });
});

describe("fail-closed (gate.md §3.6)", () => {
  const fc = (fields: string) => `
fail_closed:
  enabled: true
  ${fields}
default_verdict: allow
`;

  it("turns an invalid intent into block when fail-closed applies to the raw risk class", () => {
    const raw = { tool_name: "  Tool.Write ", args: { a: 1 }, targets: [{ kind: "teleport", value: "x" }], context: { identity: " alice ", workspace: "/repo", risk_class: " HIGH " } };
    const o = evaluate(fc(""), raw);
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toEqual(["fail_closed_intent_invalid"]);
    expect(o.violations).toEqual(["intent_not_evaluable"]);
    expect(o.fail_closed_early).toBe(true);
    expect(o.intent_invalid).toBe(true);
    expect(o.intent.tool_name).toBe("tool.write");
    expect(o.intent.context).toEqual({ identity: "alice", workspace: "/repo", risk_class: "high", phase: "apply" });
    expect(o.intent.intent_digest).toBe(digestJCS(raw));
    expect(o.intent.args_digest).toBe(digestJCS({ a: 1 }));
    expect(o.kill_switch).toBeUndefined();
  });

  it("rethrows the IntentError when fail-closed does not apply", () => {
    const raw = intent({ targets: [{ kind: "teleport", value: "x" }] });
    expect(() => evaluate(fc(""), raw)).toThrow(IntentError);
    expect(() => evaluate(fc(""), raw)).toThrow(/unsupported target kind: teleport/);
    expect(() => evaluate("", { ...raw, context: { ...(raw.context as Raw), risk_class: "high" } })).toThrow(IntentError);
  });

  it("reports every missing required field together and returns before rules and kill switch", () => {
    const ks = parseKillSwitchState({ created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", entries: [{ identity: "alice", enabled: true, created_at: "2026-01-01T00:00:00Z" }] });
    const o = evaluate(
      fc("required_fields: [targets, arg_provenance, delegation, context_evidence, endpoint_class]\n  required_high_risk_fields: [run_id, credential_ttl_seconds, agent_identity]"),
      intent({ targets: [], arg_provenance: [] }, { risk_class: "critical" }),
      { killSwitch: ks },
    );
    expect(o.verdict).toBe("block");
    expect(o.fail_closed_early).toBe(true);
    expect(o.reason_codes).toEqual([
      "context_evidence_missing",
      "fail_closed_missing_agent_identity",
      "fail_closed_missing_arg_provenance",
      "fail_closed_missing_credential_ttl_seconds",
      "fail_closed_missing_delegation",
      "fail_closed_missing_run_id",
      "fail_closed_missing_targets",
    ]);
    expect(o.violations).toEqual([
      "missing_agent_identity", "missing_arg_provenance", "missing_context_evidence", "missing_credential_ttl_seconds",
      "missing_delegation", "missing_run_id", "missing_targets",
    ]);
    expect(o.kill_switch).toBeUndefined();
    expect(o.intent_invalid).toBeUndefined();
  });

  it("always blocks an unknown endpoint class for fail-closed risk classes, even without required fields", () => {
    const o = evaluate(fc("required_fields: [endpoint_class]"), intent({ targets: [{ kind: "repo", value: "gait" }] }, { risk_class: "high" }));
    expect(o.reason_codes).toEqual(["fail_closed_endpoint_class_unknown", "fail_closed_missing_endpoint_class"]);
    expect(o.violations).toEqual(["endpoint_class_unknown", "missing_endpoint_class"]);
    const plain = evaluate(fc(""), intent({ targets: [{ kind: "repo", value: "gait" }] }, { risk_class: "high" }));
    expect(plain.reason_codes).toEqual(["fail_closed_endpoint_class_unknown"]);
  });

  it("passes to the rules when all required fields are present or the risk class is not covered", () => {
    const policy = fc("required_fields: [targets, arg_provenance]\n  required_high_risk_fields: [run_id]");
    expect(evaluate(policy, intent({}, { risk_class: "high", run_id: "run-1" })).verdict).toBe("allow");
    expect(evaluate(policy, intent({ targets: [] }, { risk_class: "low" })).verdict).toBe("allow");
    expect(evaluate("fail_closed: {enabled: false, required_fields: [targets]}\ndefault_verdict: allow\n", intent({ targets: [] }, { risk_class: "high" })).verdict).toBe("allow");
  });
});

describe("kill switch in the pipeline (gate.md §4.3, stages 6 and 8)", () => {
  const state = (entry: Raw) =>
    parseKillSwitchState({ created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", entries: [{ enabled: true, created_at: "2026-01-01T00:00:00Z", ...entry }] });

  it("an active entry overrides an allow verdict", () => {
    const o = evaluate("default_verdict: allow\nrules:\n  - {name: ok, effect: allow, min_approvals: 2, reason_codes: [ok]}\n", intent(), { killSwitch: state({ tool_name: "Tool.Write", entry_id: "e1" }) });
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toEqual(["kill_switch_active", "kill_switch_tool_name_active", "ok"]);
    expect(o.violations).toEqual(["kill_switch_active"]);
    expect(o.kill_switch).toEqual({ status: "active", reason_code: "kill_switch_tool_name_active", reason_codes: ["kill_switch_active", "kill_switch_tool_name_active"], matched_entry_ids: ["e1"], evaluated_at: "2026-03-10T14:30:00Z" });
    expect(o.min_approvals).toBe(0);
  });

  it("reports an inactive decision when nothing matches", () => {
    const o = evaluate("default_verdict: allow\n", intent(), { killSwitch: state({ identity: "mallory" }) });
    expect(o.verdict).toBe("allow");
    expect(o.kill_switch).toEqual({ status: "inactive", evaluated_at: "2026-03-10T14:30:00Z" });
  });

  it("blocks with kill_switch_state_unavailable when the state is required (high/critical raw risk, or oss-prod)", () => {
    const high = evaluate("default_verdict: allow\n", intent({}, { risk_class: " High " }), { killSwitch: { unavailable: "read failed" } });
    expect(high.verdict).toBe("block");
    expect(high.reason_codes).toEqual(["kill_switch_state_unavailable"]);
    expect(high.violations).toEqual(["kill_switch_state_unavailable"]);
    expect(high.fail_closed_early).toBe(true);
    expect(high.kill_switch).toMatchObject({ status: "unavailable", reason_code: "kill_switch_state_unavailable" });
    const prod = evaluate("default_verdict: allow\n", intent(), { killSwitch: { unavailable: "read failed" }, profile: "oss-prod" });
    expect(prod.verdict).toBe("block");
    expect(prod.reason_codes).toEqual(["kill_switch_state_unavailable"]);
  });

  it("fail-closed field checks run before the unavailable kill switch", () => {
    const o = evaluate("fail_closed: {enabled: true, required_fields: [targets]}\n", intent({ targets: [] }, { risk_class: "high" }), { killSwitch: { unavailable: "x" } });
    expect(o.reason_codes).toEqual(["fail_closed_missing_targets"]);
    expect(o.kill_switch).toBeUndefined();
  });

  it("throws an input error when the state is unavailable but not required", () => {
    const run = () => evaluate("default_verdict: allow\n", intent(), { killSwitch: { unavailable: "parse kill switch state: bad json" } });
    expect(run).toThrow(KillSwitchStateError);
    expect(run).toThrow(PolicyError);
    expect(run).toThrow("kill switch state unavailable: parse kill switch state: bad json");
  });
});

describe("scripts (gate.md §4.13)", () => {
  const step = (tool: string, targets: Raw[]) => ({ tool_name: tool, args: {}, targets });
  const read = step("tool.read", [{ kind: "path", value: "/repo/a", operation: "read" }]);
  const write = step("tool.write", [{ kind: "path", value: "/repo/b", operation: "write" }]);
  const del = step("tool.delete", [{ kind: "path", value: "/repo/c", operation: "delete" }]);
  const script = (steps: Raw[]) => intent({ tool_name: "script", targets: [], arg_provenance: [], script: { steps } });
  const rules = `
rules:
  - {name: reads, effect: allow, match: {tool_names: [tool.read]}, reason_codes: [read_ok]}
  - {name: writes, effect: allow, match: {tool_names: [tool.write]}, reason_codes: [write_ok]}
  - {name: deletes, effect: block, match: {tool_names: [tool.delete]}, violations: [no_deletes]}
`;

  it("evaluates each step; verdict is the most restrictive; codes are the union over all steps", () => {
    const o = evaluate("default_verdict: allow\n" + rules, script([read, del]));
    expect(o.verdict).toBe("block");
    expect(o.script).toBe(true);
    expect(o.step_count).toBe(2);
    expect(o.reason_codes).toEqual(["destructive_apply_requires_approval", "matched_rule_deletes", "read_ok"]);
    expect(o.violations).toEqual(["no_deletes"]);
    expect(o.matched_rule).toBe("deletes,reads");
    expect(o.composite_risk_class).toBe("high");
    expect(o.step_verdicts).toEqual([
      { index: 0, tool_name: "tool.read", verdict: "allow", reason_codes: ["read_ok"], violations: [], matched_rule: "reads" },
      { index: 1, tool_name: "tool.delete", verdict: "block", reason_codes: ["destructive_apply_requires_approval", "matched_rule_deletes"], violations: ["no_deletes"], matched_rule: "deletes" },
    ]);
  });

  it("blocks scripts over scripts.max_steps", () => {
    const o = evaluate("default_verdict: allow\nscripts: {max_steps: 2}\n" + rules, script([read, read, read]));
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toContain("script_max_steps_exceeded");
    expect(o.violations).toContain("script_max_steps_exceeded");
  });

  it("requires approval above the step threshold", () => {
    const o = evaluate("default_verdict: allow\nscripts: {require_approval_above: 1}\n" + rules, script([read, write]));
    expect(o.verdict).toBe("require_approval");
    expect(o.reason_codes).toEqual(["read_ok", "script_step_threshold_approval", "write_ok"]);
    expect(o.min_approvals).toBe(1);
    expect(evaluate("default_verdict: allow\nscripts: {require_approval_above: 2}\n" + rules, script([read, write])).verdict).toBe("allow");
  });

  it("blocks mixed-risk scripts when block_mixed_risk is set", () => {
    const o = evaluate("default_verdict: allow\nscripts: {block_mixed_risk: true}\n" + rules, script([read, write]));
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toContain("script_mixed_risk_blocked");
    expect(o.violations).toEqual(["script_mixed_risk"]);
    expect(o.composite_risk_class).toBe("medium");
    expect(evaluate("default_verdict: allow\nscripts: {block_mixed_risk: true}\n" + rules, script([read, read])).verdict).toBe("allow");
  });

  it("kill switch targets include script step targets", () => {
    const ks = parseKillSwitchState({ created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", entries: [{ enabled: true, path_prefixes: ["/repo/b"], created_at: "2026-01-01T00:00:00Z" }] });
    const o = evaluate("default_verdict: allow\n" + rules, script([read, write]), { killSwitch: ks });
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toContain("kill_switch_path_active");
  });
});
