import { describe, expect, it } from "vitest";
import { formatPolicyIssue, parsePolicy, policySummary, PolicyValidationError } from "../../../src/engine/policy.js";
import { PolicyError } from "../../../src/engine/types.js";

/** Parse and return the list of problems (fails the test when parsing succeeds). */
function problems(yaml: string): string[] {
  try {
    parsePolicy(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    expect(err).toBeInstanceOf(PolicyValidationError);
    const e = err as PolicyValidationError;
    // the message is every issue with its suggestion and position; `problems` keeps the bare texts
    expect(e.message).toBe(e.issues.map(formatPolicyIssue).join("\n"));
    expect(e.problems).toEqual(e.issues.map((i) => i.message));
    return [...e.problems];
  }
  throw new Error("expected the policy to be rejected");
}

function rule(body: string, name = "r1", effect = "allow"): string {
  const indented = body
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => "    " + l)
    .join("\n");
  return `rules:\n  - name: ${name}\n    effect: ${effect}\n${indented}\n`;
}

describe("parsePolicy: defaults and normalization", () => {
  it("fills Gait's defaults for an empty document", () => {
    const p = parsePolicy("");
    expect(p.schema_id).toBe("gait.gate.policy");
    expect(p.schema_version).toBe("1.0.0");
    expect(p.default_verdict).toBe("require_approval");
    expect(p.fail_closed).toEqual({ enabled: false, risk_classes: [], required_fields: [], required_high_risk_fields: [] });
    expect(p.scripts).toEqual({ max_steps: 0, require_approval_above: 0, block_mixed_risk: false });
    expect(p.rules).toEqual([]);
    expect(p.policy_digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it("defaults fail_closed.risk_classes to [critical, high] when enabled", () => {
    expect(parsePolicy("fail_closed:\n  enabled: true\n").fail_closed.risk_classes).toEqual(["critical", "high"]);
    expect(parsePolicy("fail_closed:\n  enabled: true\n  risk_classes: [' HIGH ', high]\n").fail_closed.risk_classes).toEqual(["high"]);
  });

  it("lowercases verdicts and accepts default_action as an alias", () => {
    expect(parsePolicy("default_verdict: ' BLOCK '\n").default_verdict).toBe("block");
    expect(parsePolicy("default_action: dry_run\n").default_verdict).toBe("dry_run");
    expect(parsePolicy("default_action: allow\ndefault_verdict: Allow\n").default_verdict).toBe("allow");
  });

  it("accepts action as an alias of effect and lowercases it", () => {
    const p = parsePolicy("rules:\n  - name: a\n    action: BLOCK\n  - name: b\n    effect: Allow\n    action: allow\n");
    expect(p.rules.map((r) => [r.name, r.effect])).toEqual([["a", "block"], ["b", "allow"]]);
  });

  it("sorts rules by (priority, name)", () => {
    const p = parsePolicy(`
rules:
  - {name: zeta, effect: allow, priority: 5}
  - {name: beta, effect: allow, priority: 10}
  - {name: alpha, effect: allow, priority: 10}
  - {name: omega, effect: allow}
  - {name: neg, effect: allow, priority: -3}
`);
    expect(p.rules.map((r) => r.name)).toEqual(["neg", "omega", "zeta", "alpha", "beta"]);
  });

  it("normalizes match lists: lowercase where Gait does, trim/dedupe/sort, and the aliases", () => {
    const p = parsePolicy(
      rule(`
match:
  tool_name: Tool.Write
  tool_names: [tool.read, ' TOOL.READ ', '']
  risk_classes: [High, high]
  identities: [' Alice ', alice, Bob]
  workspace_prefixes: [/repo, ' /repo ']
  target_kinds: [PATH]
  target_values: [' /Tmp/X ']
  endpoint_class: [FS.Write]
  endpoint_classes: [fs.read]
  discovery_method: [MCP]
  data_classes: [PII]
  provenance_sources: [External]
  delegation_scopes: [Deploy]
`),
    );
    const m = p.rules[0]!.match;
    expect(m.tool_names).toEqual(["tool.read", "tool.write"]);
    expect(m.risk_classes).toEqual(["high"]);
    expect(m.identities).toEqual(["Alice", "Bob", "alice"]); // case-sensitive
    expect(m.workspace_prefixes).toEqual(["/repo"]);
    expect(m.target_kinds).toEqual(["path"]);
    expect(m.target_values).toEqual(["/Tmp/X"]); // case kept
    expect(m.endpoint_classes).toEqual(["fs.read", "fs.write"]);
    expect(m.discovery_methods).toEqual(["mcp"]);
    expect(m.data_classes).toEqual(["pii"]);
    expect(m.provenance_sources).toEqual(["external"]);
    expect(m.delegation_scopes).toEqual(["deploy"]);
  });

  it("trims, dedupes and sorts reason_codes and violations", () => {
    const p = parsePolicy(rule("reason_codes: [' b ', a, b]\nviolations: [z, ' z', y]"));
    expect(p.rules[0]!.reason_codes).toEqual(["a", "b"]);
    expect(p.rules[0]!.violations).toEqual(["y", "z"]);
  });

  it("forces require_distinct_approvers when min_approvals > 1", () => {
    const p = parsePolicy(rule("min_approvals: 2", "two", "require_approval") + "  - {name: one, effect: require_approval, min_approvals: 1}\n");
    expect(p.rules.find((r) => r.name === "two")!.require_distinct_approvers).toBe(true);
    expect(p.rules.find((r) => r.name === "one")!.require_distinct_approvers).toBe(false);
    expect(p.rules.find((r) => r.name === "two")!.min_approvals).toBe(2);
  });

  it("require_context_evidence implies mode required", () => {
    const r = parsePolicy(rule("require_context_evidence: true")).rules[0]!;
    expect(r.required_context_evidence_mode).toBe("required");
  });

  it("applies rate limit / budget / dataflow / endpoint defaults", () => {
    const r = parsePolicy(
      rule(`
rate_limit: {requests: 5}
destructive_budget: {requests: 2, window: HOUR}
dataflow: {enabled: true}
endpoint: {destructive_action: require_approval}
`),
    ).rules[0]!;
    expect(r.rate_limit).toEqual({ requests: 5, window: "minute", scope: "tool_identity" });
    expect(r.destructive_budget).toEqual({ requests: 2, window: "hour", scope: "tool_identity" });
    expect(r.dataflow).toEqual({
      enabled: true, tainted_sources: ["external", "tool_output"], destination_kinds: [], destination_values: [],
      destination_operations: [], action: "require_approval", reason_code: "dataflow_tainted_destination", violation: "tainted_dataflow",
    });
    expect(r.endpoint).toMatchObject({ enabled: true, action: "block", destructive_action: "require_approval", reason_code: "endpoint_constraint_violation", violation: "endpoint_constraint_violation" });
  });

  it("leaves constraints off when not configured (rate_limit with 0 requests is off, bad window ignored)", () => {
    const r = parsePolicy(rule("rate_limit: {requests: 0, window: fortnight}\ndataflow: {enabled: false}\nendpoint: {}")).rules[0]!;
    expect(r.rate_limit).toBeUndefined();
    expect(r.dataflow).toBeUndefined();
    expect(r.endpoint).toBeUndefined();
  });

  it("normalizes freeze windows (default effect block, default window names) and sandbox (paths cleaned)", () => {
    const r = parsePolicy(
      rule(`
freeze_window:
  timezone: America/Toronto
  environments: [PROD]
  windows:
    - {start: "2026-03-10T09:00:00", end: "2026-03-10T12:00:00"}
    - {name: second, start: "2026-04-10T09:00:00", end: "2026-04-10T12:00:00"}
sandbox:
  allowed_network_modes: [Disabled]
  allowed_writable_path_prefixes: [/tmp/, /work/./out]
  max_timeout_seconds: 30
`),
    ).rules[0]!;
    expect(r.freeze_window).toMatchObject({ enabled: true, effect: "block", environments: ["prod"] });
    expect(r.freeze_window!.windows.map((w) => w.name)).toEqual(["window-1", "second"]);
    expect(r.sandbox).toMatchObject({ enabled: true, allowed_network_modes: ["disabled"], allowed_writable_path_prefixes: ["/tmp", "/work/out"], max_timeout_seconds: 30 });
  });

  it("accepts YAML anchors and flow style", () => {
    const p = parsePolicy(`rules:
  - name: x
    effect: allow
    match: &shared {tool_names: [tool.a]}
  - name: y
    effect: block
    match: *shared
`);
    expect(p.rules[1]!.match.tool_names).toEqual(["tool.a"]);
  });

  it("supports << merge keys", () => {
    const p = parsePolicy(`rules:
  - &base {name: x, effect: block, priority: 5}
  - <<: *base
    name: y
`);
    expect(p.rules.map((r) => [r.name, r.effect, r.priority])).toEqual([["x", "block", 5], ["y", "block", 5]]);
  });
});

describe("parsePolicy: strict YAML", () => {
  it("rejects an unknown key and names its path", () => {
    expect(problems(rule("match:\n  tool_nam: [x]"))).toEqual(['parse policy yaml: unknown field "rules[0].match.tool_nam"']);
    expect(problems("defualt_verdict: allow\n")).toEqual(['parse policy yaml: unknown field "defualt_verdict"']);
    expect(problems("fail_closed:\n  enable: true\n")).toEqual(['parse policy yaml: unknown field "fail_closed.enable"']);
    expect(problems(rule("freeze_window:\n  timezone: UTC\n  windows:\n    - {start: a, end: b, label: x}"))).toEqual([
      'parse policy yaml: unknown field "rules[0].freeze_window.windows[0].label"',
    ]);
  });

  it("rejects duplicate mapping keys", () => {
    const p = problems("default_verdict: allow\ndefault_verdict: block\n");
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^parse policy yaml: Map keys must be unique/);
  });

  it("rejects YAML syntax errors", () => {
    expect(problems("rules: [\n")[0]).toMatch(/^parse policy yaml: /);
  });

  it("rejects a non-mapping document and wrongly typed values", () => {
    expect(problems("- a\n- b\n")).toEqual(["parse policy yaml: a policy must be a YAML mapping, got a list"]);
    expect(problems(rule("priority: high"))).toEqual(['parse policy yaml: field "rules[0].priority" must be an integer, got string "high"']);
    expect(problems(rule("priority: 1.5"))).toEqual([
      `parse policy yaml: field "rules[0].priority" must be a whole number, got 1.5 (Gait's YAML library truncates it to 1); write the integer you mean`,
    ]);
    expect(problems(rule("match:\n  tool_names: tool.a"))).toEqual(['parse policy yaml: field "rules[0].match.tool_names" must be a list of strings, got string "tool.a"']);
    expect(problems(rule("match:\n  tool_names: [[a]]"))).toEqual(['parse policy yaml: field "rules[0].match.tool_names[0]" must be a string, got a list']);
    // Gait's match.endpoint_class / discovery_method are Go []string: a lone string is a type error there too.
    expect(problems(rule("match:\n  endpoint_class: fs.read"))).toEqual(['parse policy yaml: field "rules[0].match.endpoint_class" must be a list of strings, got string "fs.read"']);
    expect(problems(rule("match:\n  discovery_method: mcp"))).toEqual(['parse policy yaml: field "rules[0].match.discovery_method" must be a list of strings, got string "mcp"']);
    expect(problems("fail_closed:\n  enabled: 'yes'\n")).toEqual(['parse policy yaml: field "fail_closed.enabled" must be a boolean (true or false), got string "yes"']);
    expect(problems("rules: {name: a}\n")).toEqual(['parse policy yaml: field "rules" must be a list, got a mapping']);
  });

  it("rejects legacy proposal keys with Gait's migration hints", () => {
    const p = problems("version: 1\nboundaries: []\nname: x\n");
    expect(p).toEqual([
      "legacy policy proposal fields are not supported [version, name, boundaries]: version->schema_id|schema_version (set schema_id=gait.gate.policy and schema_version=1.0.0); name->remove the top-level policy name; rule names remain under rules[].name when needed; boundaries->rules|mcp_trust",
    ]);
    expect(problems("defaults: {}\ntrust_sources: []\nunknown_server: block\n")[0]).toBe(
      "legacy policy proposal fields are not supported [defaults, trust_sources, unknown_server]: defaults->default_verdict|fail_closed; trust_sources->mcp_trust.snapshot (render external trust data to a local snapshot before evaluation); unknown_server->mcp_trust.action (enforce unknown servers through local snapshot coverage and a fail-closed action)",
    );
  });

  it("rejects mcp_trust (a left-out feature) by name instead of ignoring it", () => {
    const p = problems("mcp_trust:\n  snapshot: ./trust.json\n");
    expect(p).toHaveLength(1);
    expect(p[0]).toContain('"mcp_trust"');
    expect(p[0]).toContain("does not support");
  });
});

describe("parsePolicy: validation errors of gate.md §3.9 (all reported together)", () => {
  const cases: Array<[string, string, string]> = [
    ["bad schema id", "schema_id: other\n", "unsupported policy schema_id: other"],
    ["bad schema version", "schema_version: 2.0.0\n", "unsupported policy schema_version: 2.0.0"],
    ["invalid default_verdict", "default_verdict: maybe\n", "invalid default_verdict: maybe"],
    ["default_action mismatch", "default_verdict: allow\ndefault_action: block\n", "default_action must match default_verdict when both are set"],
    ["empty rule name", "rules:\n  - {name: ' ', effect: allow}\n", "rule name is required (rules[0])"],
    ["missing effect", "rules:\n  - {name: a}\n", "rule effect is required for a"],
    ["invalid effect", "rules:\n  - {name: a, effect: deny}\n", 'invalid rule effect "deny" for a'],
    ["action != effect", "rules:\n  - {name: a, effect: allow, action: block}\n", "rule action must match effect for a"],
    ["unsupported required_field", "fail_closed:\n  required_fields: [targets, nonsense]\n", "unsupported fail_closed required_field: nonsense"],
    ["unsupported high-risk field", "fail_closed:\n  required_high_risk_fields: [run_id, shoe_size]\n", "unsupported fail_closed required_high_risk_field: shoe_size"],
    ["scripts.max_steps < 0", "scripts:\n  max_steps: -1\n", "scripts.max_steps must be >= 0"],
    ["scripts.require_approval_above < 0", "scripts:\n  require_approval_above: -2\n", "scripts.require_approval_above must be >= 0"],
    ["match endpoint_class", rule("match:\n  endpoint_classes: [fs.teleport]"), 'unsupported match endpoint_class "fs.teleport" for r1'],
    ["match discovery_method", rule("match:\n  discovery_method: [carrier_pigeon]"), 'unsupported match discovery_method "carrier_pigeon" for r1'],
    ["max_delegation_depth < 0", rule("match:\n  max_delegation_depth: -1"), "max_delegation_depth must be >= 0 for r1"],
    ["manifest digest", rule("required_agent_manifest_digest: abc"), "required_agent_manifest_digest must be sha256 hex for r1"],
    ["credential source", rule("allowed_credential_sources: [carrier]"), 'unsupported allowed_credential_source "carrier" for r1'],
    ["credential access type", rule("allowed_credential_access_types: [forever]"), 'unsupported allowed_credential_access_type "forever" for r1'],
    ["max credential ttl", rule("max_credential_ttl_seconds: -5"), "max_credential_ttl_seconds must be >= 0 for r1"],
    ["min_approvals < 0", rule("min_approvals: -1"), "min_approvals must be >= 0 for r1"],
    ["evidence mode", rule("required_context_evidence_mode: best_effort"), "required_context_evidence_mode must be required for r1"],
    ["max context age", rule("max_context_age_seconds: -1"), "max_context_age_seconds must be >= 0 for r1"],
    ["freeze without timezone", rule("freeze_window:\n  windows:\n    - {start: '2026-01-01T00:00:00', end: '2026-01-02T00:00:00'}"), "freeze_window.timezone is required for r1"],
    ["freeze without windows", rule("freeze_window:\n  timezone: UTC"), "freeze_window.windows must not be empty for r1"],
    ["freeze window without end", rule("freeze_window:\n  timezone: UTC\n  windows:\n    - {start: '2026-01-01T00:00:00'}"), "freeze_window.windows[0] requires start and end for r1"],
    ["freeze effect", rule("freeze_window:\n  timezone: UTC\n  effect: allow\n  windows:\n    - {start: a, end: b}"), 'unsupported freeze_window.effect "allow" for r1'],
    ["sandbox network enum", rule("sandbox:\n  allowed_network_modes: [wide_open]"), 'unsupported sandbox.allowed_network_modes value "wide_open" for r1'],
    ["sandbox env enum", rule("sandbox:\n  allowed_env_exposure_modes: [some]"), 'unsupported sandbox.allowed_env_exposure_modes value "some" for r1'],
    ["sandbox fs enum", rule("sandbox:\n  allowed_filesystem_isolations: [vm]"), 'unsupported sandbox.allowed_filesystem_isolations value "vm" for r1'],
    ["sandbox user enum", rule("sandbox:\n  allowed_user_modes: [admin]"), 'unsupported sandbox.allowed_user_modes value "admin" for r1'],
    ["sandbox timeout", rule("sandbox:\n  max_timeout_seconds: -1"), "sandbox.max_timeout_seconds must be >= 0 for r1"],
    ["sandbox env assignment", rule("sandbox:\n  allowed_writable_path_prefixes: ['AWS_SECRET=abc']"), "sandbox.allowed_writable_path_prefixes must not contain raw env assignments for r1"],
    ["rate_limit.requests < 0", rule("rate_limit: {requests: -1}"), "rate_limit.requests must be >= 0 for r1"],
    ["rate_limit window", rule("rate_limit: {requests: 1, window: day}"), 'unsupported rate_limit.window "day" for r1'],
    ["rate_limit scope", rule("rate_limit: {requests: 1, scope: world}"), 'unsupported rate_limit.scope "world" for r1'],
    ["budget requests", rule("destructive_budget: {window: hour}"), "destructive_budget.requests must be >= 1 for r1"],
    ["budget window", rule("destructive_budget: {requests: 1, window: day}"), 'unsupported destructive_budget.window "day" for r1'],
    ["budget scope", rule("destructive_budget: {requests: 1, scope: world}"), 'unsupported destructive_budget.scope "world" for r1'],
    ["dataflow action", rule("dataflow: {enabled: true, action: allow}"), 'unsupported dataflow.action "allow" for r1'],
    ["endpoint action", rule("endpoint: {enabled: true, action: dry_run}"), 'unsupported endpoint.action "dry_run" for r1'],
    ["endpoint destructive_action", rule("endpoint: {destructive_action: allow}"), 'unsupported endpoint.destructive_action "allow" for r1'],
    ["egress class unknown", rule("endpoint: {egress_classes: [net.smtp]}"), 'unsupported endpoint.egress_class "net.smtp" for r1'],
    ["egress class not net", rule("endpoint: {egress_classes: [fs.read]}"), 'endpoint.egress_class must be network class for r1 (got "fs.read")'],
  ];
  for (const [label, yaml, message] of cases) {
    it(label, () => {
      expect(problems(yaml)).toContain(message);
    });
  }

  it("reports every problem, one per line, not only the first", () => {
    const p = problems(`
schema_version: "9"
default_verdict: maybe
fail_closed:
  required_fields: [nonsense]
rules:
  - name: a
    effect: deny
    min_approvals: -1
    match:
      tool_nam: [x]
  - effect: allow
`);
    expect(p).toEqual([
      'parse policy yaml: unknown field "rules[0].match.tool_nam"',
      "unsupported policy schema_version: 9",
      "invalid default_verdict: maybe",
      "unsupported fail_closed required_field: nonsense",
      'invalid rule effect "deny" for a',
      "min_approvals must be >= 0 for a",
      "rule name is required (rules[1])",
    ]);
  });
});

describe("policySummary", () => {
  it("summarizes rules, tiers and effective script limits", () => {
    const p = parsePolicy(`
default_verdict: block
fail_closed: {enabled: true, required_fields: [targets]}
rules:
  - name: Allow Reads
    priority: 10
    effect: allow
    match: {tool_names: [tool.read], risk_classes: [low]}
  - name: gate-writes
    priority: 20
    effect: require_approval
    min_approvals: 2
    rate_limit: {requests: 3}
    endpoint: {path_denylist: [/etc/**]}
    reason_codes: [writes_need_approval]
`);
    const s = policySummary(p);
    expect(s).toMatchObject({ schema_id: "gait.gate.policy", schema_version: "1.0.0", policy_digest: p.policy_digest, default_verdict: "block", rule_count: 2 });
    expect(s.summary.scripts.max_steps).toBe(64);
    expect(s.summary.fail_closed).toEqual({ enabled: true, risk_classes: ["critical", "high"], required_fields: ["targets"], required_high_risk_fields: [] });
    expect(s.summary.effects).toEqual({ allow: 1, dry_run: 0, require_approval: 1, block: 0 });
    expect(s.summary.priority_tiers).toEqual([10, 20]);
    expect(s.summary.rules[0]).toEqual({ name: "Allow Reads", priority: 10, effect: "allow", match_keys: ["risk_classes", "tool_names"], constraints: [], fallback_reason_code: "matched_rule_allow_reads" });
    expect(s.summary.rules[1]).toEqual({ name: "gate-writes", priority: 20, effect: "require_approval", match_keys: [], constraints: ["endpoint", "min_approvals:2", "rate_limit"] });
  });
});
