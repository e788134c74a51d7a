import { describe, expect, it } from "vitest";
import { targetsDigest, normalizeIntent } from "../../../src/engine/intent.js";
import { evaluatePolicy, type PolicyEvalOptions } from "../../../src/engine/evaluate.js";
import { parsePolicy } from "../../../src/engine/policy.js";
import type { Policy, VerifiedContextEnvelope } from "../../../src/engine/types.js";

const NOW = new Date("2026-03-10T14:30:00Z");
type Raw = Record<string, unknown>;

function intent(over: Raw = {}, ctx: Raw = {}): Raw {
  return {
    tool_name: "tool.write",
    args: { path: "/repo/a.txt" },
    targets: [{ kind: "path", value: "/repo/a.txt", operation: "write" }],
    arg_provenance: [{ arg_path: "path", source: "user" }],
    ...over,
    context: { identity: "alice", workspace: "/repo", risk_class: "low", ...ctx },
  };
}

function evaluate(policy: Policy | string, raw: Raw, opts: Partial<PolicyEvalOptions> = {}) {
  const p = typeof policy === "string" ? parsePolicy(policy) : policy;
  return evaluatePolicy(p, raw, { evaluationTime: NOW, ...opts });
}

/** A one-rule policy: `effect` rule with `body` (YAML lines under the rule), default verdict allow. */
function policy(body: string, effect = "allow"): Policy {
  const lines = body.trim().split("\n").map((l) => "    " + l).join("\n");
  return parsePolicy(`default_verdict: allow\nrules:\n  - name: r\n    effect: ${effect}\n${lines}\n`);
}

const url = (value: string, operation?: string) => ({ kind: "url", value, ...(operation ? { operation } : {}) });

describe("dataflow (gate.md §4.14) and the escalate-only deviation", () => {
  const tainted = { arg_provenance: [{ arg_path: "url", source: "external" }] };

  it("escalates an allow rule when tainted input reaches a default egress target", () => {
    const o = evaluate(policy("dataflow: {enabled: true}"), intent({ ...tainted, targets: [url("https://x.example")] }));
    expect(o.verdict).toBe("require_approval");
    expect(o.reason_codes).toEqual(["dataflow_tainted_destination", "matched_rule_r"]);
    expect(o.violations).toEqual(["tainted_dataflow"]);
  });

  it("does not trigger without tainted provenance or without a matching destination", () => {
    const p = policy("dataflow: {enabled: true, action: block}");
    expect(evaluate(p, intent({ targets: [url("https://x.example")] })).verdict).toBe("allow");
    expect(evaluate(p, intent(tainted)).verdict).toBe("allow"); // a path target is not a default egress kind
    const filtered = policy("dataflow: {destination_kinds: [url], destination_operations: [post], tainted_sources: [tool_output], reason_code: exfil, violation: exfil_v}");
    expect(evaluate(filtered, intent({ arg_provenance: [{ arg_path: "u", source: "tool_output" }], targets: [url("https://x.example", "get")] })).verdict).toBe("allow");
    const hit = evaluate(filtered, intent({ arg_provenance: [{ arg_path: "u", source: "tool_output" }], targets: [url("https://x.example", "post")] }));
    expect(hit.verdict).toBe("require_approval");
    expect(hit.reason_codes).toContain("exfil");
    expect(hit.violations).toEqual(["exfil_v"]);
  });

  it("DEVIATION: never downgrades a block rule (Gait would replace block with the dataflow action)", () => {
    // Gait: effect := dataflow.action, so this block rule would come out as require_approval. Ours: max(block, require_approval).
    const o = evaluate(policy("dataflow: {enabled: true, action: require_approval}", "block"), intent({ ...tainted, targets: [url("https://x.example")] }));
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toContain("dataflow_tainted_destination");
    expect(o.violations).toContain("tainted_dataflow");
  });
});

describe("endpoint constraint (gate.md §4.14)", () => {
  it("path denylist and allowlist (prefix/** and single-segment globs)", () => {
    const p = policy("endpoint: {path_denylist: ['/repo/secrets/**'], path_allowlist: ['/repo/*.txt', '/repo/secrets/**']}");
    expect(evaluate(p, intent()).verdict).toBe("allow");
    const denied = evaluate(p, intent({ targets: [{ kind: "path", value: "/repo/secrets/k", operation: "write" }] }));
    expect(denied.verdict).toBe("block");
    expect(denied.reason_codes).toEqual(["endpoint_constraint_violation", "endpoint_path_denied", "matched_rule_r"]);
    expect(denied.violations).toEqual(["endpoint_constraint_violation", "endpoint_path_denied"]);
    const nested = evaluate(p, intent({ targets: [{ kind: "path", value: "/repo/sub/a.txt", operation: "write" }] }));
    expect(nested.reason_codes).toContain("endpoint_path_not_allowlisted"); // * does not cross /
  });

  it("domain lists: *.example.com covers sub-domains but not the apex", () => {
    const p = policy("endpoint: {domain_allowlist: ['*.example.com'], domain_denylist: [evil.example.com]}");
    expect(evaluate(p, intent({ targets: [url("https://api.example.com/x")] })).verdict).toBe("allow");
    const apex = evaluate(p, intent({ targets: [url("https://example.com/")] }));
    expect(apex.verdict).toBe("block");
    expect(apex.reason_codes).toContain("endpoint_domain_not_allowlisted");
    expect(evaluate(p, intent({ targets: [url("https://evil.example.com")] })).reason_codes).toContain("endpoint_domain_denied");
  });

  it("egress classes apply to net.* targets only", () => {
    const p = policy("endpoint: {egress_classes: [net.dns], action: require_approval, reason_code: egress_custom, violation: egress_v}");
    const o = evaluate(p, intent({ targets: [url("https://x.example")] }));
    expect(o.verdict).toBe("require_approval");
    expect(o.reason_codes).toEqual(["egress_custom", "endpoint_egress_class_not_allowed", "matched_rule_r"]);
    expect(o.violations).toEqual(["egress_v", "endpoint_egress_class_not_allowed"]);
    expect(evaluate(p, intent()).verdict).toBe("allow");
  });

  it("QUIRK: destructive_action require_approval alone blocks, because action defaults to block", () => {
    const o = evaluate(policy("endpoint: {destructive_action: require_approval}"), intent({ targets: [{ kind: "path", value: "/repo/a", operation: "delete" }] }));
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toEqual(["destructive_apply_requires_approval", "endpoint_constraint_violation", "endpoint_destructive_operation", "matched_rule_r"]);
    expect(o.violations).toEqual(["destructive_operation", "endpoint_constraint_violation"]);
  });
});

describe("context evidence (gate.md §4.10)", () => {
  const env = (over: Partial<VerifiedContextEnvelope> = {}): VerifiedContextEnvelope => ({
    context_set_digest: "c".repeat(64), context_evidence_mode: "required", context_age_seconds: 30, ...over,
  });

  it("without a verified envelope, caller claims are stripped and the rule blocks", () => {
    const o = evaluate(policy("require_context_evidence: true"), intent({}, { context_set_digest: "a".repeat(64), context_evidence_mode: "required" }));
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toEqual(["context_evidence_missing", "context_evidence_mode_mismatch", "context_set_digest_missing", "matched_rule_r"]);
    expect(o.violations).toEqual(["context_evidence_mode_violation", "missing_context_evidence"]);
  });

  it("passes with a fresh, required-mode envelope; flags mode and freshness", () => {
    const p = policy("require_context_evidence: true\nmax_context_age_seconds: 60");
    expect(evaluate(p, intent(), { envelope: env() }).verdict).toBe("allow");
    const stale = evaluate(p, intent(), { envelope: env({ context_age_seconds: 61 }) });
    expect(stale.verdict).toBe("block");
    expect(stale.reason_codes).toEqual(["context_freshness_exceeded", "matched_rule_r"]);
    expect(stale.violations).toEqual(["context_freshness_violation"]);
    const mode = evaluate(p, intent(), { envelope: env({ context_evidence_mode: "best_effort" }) });
    expect(mode.reason_codes).toEqual(["context_evidence_mode_mismatch", "matched_rule_r"]);
  });
});

describe("agent identity (gate.md §4.8)", () => {
  const identity = (over: Raw = {}) => ({
    owner: "team-a", lifecycle_states: ["approved", "active"], manifest_digest: "d".repeat(64), publisher: "Acme", source: "registry",
    issued_at: "2026-01-01T00:00:00Z", expires_at: "2026-12-31T00:00:00Z", ...over,
  });
  const full = `require_declared_agent: true
allowed_agent_ids: [agent-1]
denied_agent_ids: [agent-9]
require_agent_owner: true
required_agent_lifecycle_states: [Approved]
require_unexpired_agent: true
required_agent_manifest_digest: ${"d".repeat(64)}
allowed_agent_manifest_publishers: [acme]
allowed_agent_manifest_sources: [registry]`;

  it("allows a declared, owned, unexpired, approved agent", () => {
    expect(evaluate(policy(full), intent({}, { agent_id: "agent-1", agent_identity: identity() })).verdict).toBe("allow");
  });

  it("reports every failed condition", () => {
    const o = evaluate(policy(full), intent());
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toEqual(["agent_expired", "agent_lifecycle_state_invalid", "agent_manifest_mismatch", "agent_owner_missing", "agent_unknown", "matched_rule_r"]);
    expect(o.violations).toEqual(["agent_expired", "agent_identity_missing", "agent_lifecycle_state_invalid", "agent_manifest_mismatch", "agent_not_declared", "agent_owner_missing"]);
  });

  const rows: Array<[string, string, Raw, string[]]> = [
    ["denied id", "denied_agent_ids: [agent-9]", { agent_id: "agent-9" }, ["agent_revoked"]],
    ["revoked identity", "require_agent_owner: true", { agent_identity: identity({ revoked: true }) }, ["agent_revoked"]],
    ["not in allowed ids", "allowed_agent_ids: [agent-1]", { agent_id: "agent-2" }, ["agent_not_declared"]],
    ["expired at evaluation time", "require_unexpired_agent: true", { agent_identity: identity({ expires_at: "2026-03-10T14:30:00Z" }) }, ["agent_expired"]],
    ["lifecycle state missing", "required_agent_lifecycle_states: [retired]", { agent_identity: identity() }, ["agent_lifecycle_state_invalid"]],
    ["publisher not allowed", "allowed_agent_manifest_publishers: [other]", { agent_identity: identity() }, ["agent_manifest_mismatch"]],
  ];
  for (const [label, body, ctx, violations] of rows) {
    it(label, () => {
      const o = evaluate(policy(body), intent({}, ctx));
      expect(o.verdict).toBe("block");
      expect(o.violations).toEqual(violations);
    });
  }
});

describe("credential posture (gate.md §4.9)", () => {
  const good = { credential_ref: "ref:vault/x", credential_source: "vault_dynamic", credential_access_type: "jit", credential_issuer: "vault.internal", credential_ttl_seconds: 300 };
  const all = `block_standing_credentials: true
allowed_credential_sources: [vault_dynamic]
allowed_credential_issuers: [vault.internal]
allowed_credential_access_types: [jit]
max_credential_ttl_seconds: 600
require_jit_credential: true`;

  it("allows a JIT credential that satisfies every allowlist", () => {
    expect(evaluate(policy(all), intent({}, good)).verdict).toBe("allow");
  });

  it("blocks missing credential evidence with every applicable code", () => {
    const o = evaluate(policy(all), intent());
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toEqual([
      "credential_access_type_disallowed", "credential_access_type_unknown", "credential_evidence_missing", "credential_issuer_disallowed",
      "credential_source_disallowed", "credential_source_unknown", "matched_rule_r", "standing_credential_disallowed",
    ]);
  });

  const rows: Array<[string, string, Raw, string]> = [
    ["standing credential", "block_standing_credentials: true", { ...good, credential_access_type: "standing" }, "standing_credential_disallowed"],
    ["not jit", "require_jit_credential: true", { ...good, credential_access_type: "static" }, "credential_not_jit"],
    ["source not allowed", "allowed_credential_sources: [stub]", good, "credential_source_disallowed"],
    ["issuer not allowed (case-sensitive)", "allowed_credential_issuers: [Vault.Internal]", good, "credential_issuer_disallowed"],
    ["access type not allowed", "allowed_credential_access_types: [inherited]", good, "credential_access_type_disallowed"],
    ["ttl exceeded", "max_credential_ttl_seconds: 60", good, "credential_ttl_exceeded"],
    ["run binding", "require_jit_credential: true", { ...good, run_id: "run-1", credential_run_binding: "run-2" }, "credential_run_binding_mismatch"],
    ["job binding", "require_jit_credential: true", { ...good, job_id: "job-1", credential_job_binding: "job-2" }, "credential_job_binding_mismatch"],
    ["target binding", "require_jit_credential: true", { ...good, credential_target_binding: "e".repeat(64) }, "credential_target_binding_mismatch"],
  ];
  for (const [label, body, ctx, code] of rows) {
    it(label, () => {
      const o = evaluate(policy(body), intent({}, ctx));
      expect(o.verdict).toBe("block");
      expect(o.reason_codes).toEqual([code, "matched_rule_r"].sort());
      expect(o.violations).toEqual([code]);
    });
  }

  it("accepts a target binding equal to the digest of the normalized targets", () => {
    const raw = intent({}, good);
    const binding = targetsDigest(normalizeIntent(raw).targets);
    expect(evaluate(policy("require_jit_credential: true"), intent({}, { ...good, credential_target_binding: binding })).verdict).toBe("allow");
  });

  it("ignores bindings when the rule has no credential policy", () => {
    expect(evaluate(policy("reason_codes: [ok]"), intent({}, { run_id: "a", credential_run_binding: "b" })).verdict).toBe("allow");
  });
});

describe("freeze windows (gate.md §4.5)", () => {
  const deploy = (ctx: Raw = {}) =>
    intent({ tool_name: "tool.deploy", targets: [{ kind: "host", value: "deploy.internal.example", operation: "deploy" }] }, { environment: "prod", risk_class: "high", ...ctx });
  const freeze = (extra: string, start = "2026-03-10T09:00:00", end = "2026-03-10T12:00:00") =>
    policy(`freeze_window:
  timezone: America/Toronto
  environments: [prod]
  risk_classes: [high]
${extra}
  windows:
    - {name: quarter-end, start: "${start}", end: "${end}"}`);

  it("blocks inside the window (local wall clock in the zone) with a full decision", () => {
    // 09:00-12:00 EDT on 2026-03-10 = 13:00-16:00 UTC; NOW is 14:30 UTC
    const o = evaluate(freeze("  reason: quarter-end freeze"), deploy());
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toEqual(["freeze_window_active_block", "matched_rule_r"]);
    expect(o.violations).toEqual(["freeze_window_active_block"]);
    expect(o.freeze_window).toEqual({
      status: "active", effect: "block", timezone: "America/Toronto", evaluated_at: "2026-03-10T14:30:00Z", window_name: "quarter-end",
      window_start: "2026-03-10T13:00:00Z", window_end: "2026-03-10T16:00:00Z", reason: "quarter-end freeze", reason_code: "freeze_window_active_block",
    });
  });

  it("requires approval when the window effect says so; reason defaults to the window name", () => {
    const o = evaluate(freeze("  effect: require_approval"), deploy());
    expect(o.verdict).toBe("require_approval");
    expect(o.reason_codes).toContain("freeze_window_active_require_approval");
    expect(o.freeze_window?.reason).toBe("quarter-end");
  });

  it("is inactive outside the window and when environment or risk filters do not apply", () => {
    const after = evaluate(freeze(""), deploy(), { evaluationTime: new Date("2026-03-10T16:00:00Z") }); // end is exclusive
    expect(after.verdict).toBe("allow");
    expect(after.freeze_window).toEqual({ status: "inactive", effect: "block", timezone: "America/Toronto", evaluated_at: "2026-03-10T16:00:00Z" });
    expect(evaluate(freeze(""), deploy({ environment: "staging" })).verdict).toBe("allow");
    expect(evaluate(freeze(""), deploy({ risk_class: "low" })).verdict).toBe("allow");
    expect(evaluate(freeze(""), deploy(), { evaluationTime: new Date("2026-03-10T13:00:00Z") }).verdict).toBe("block"); // start inclusive
  });

  it("handles the DST change (01:00-04:00 local on 2026-03-08 spans the spring-forward gap)", () => {
    const p = freeze("", "2026-03-08T01:00:00", "2026-03-08T04:00:00");
    const o = evaluate(p, deploy(), { evaluationTime: new Date("2026-03-08T07:30:00Z") }); // 03:30 EDT
    expect(o.verdict).toBe("block");
    expect(o.freeze_window?.window_start).toBe("2026-03-08T06:00:00Z"); // 01:00 EST
    expect(o.freeze_window?.window_end).toBe("2026-03-08T08:00:00Z"); // 04:00 EDT
    expect(evaluate(p, deploy(), { evaluationTime: new Date("2026-03-08T08:00:00Z") }).verdict).toBe("allow");
  });

  it("fails closed on an invalid timezone", () => {
    const p = parsePolicy(`default_verdict: allow
rules:
  - name: r
    effect: allow
    freeze_window: {timezone: Mars/Olympus, windows: [{name: w, start: "2026-03-10T09:00:00", end: "2026-03-10T12:00:00"}]}
`);
    const o = evaluate(p, deploy(), { evaluationTime: new Date("2027-01-01T00:00:00Z") });
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toEqual(["freeze_window_invalid_timezone", "matched_rule_r"]);
    expect(o.freeze_window).toMatchObject({ status: "invalid", reason_code: "freeze_window_invalid_timezone" });
  });

  it("fails closed on an unparsable or empty window", () => {
    for (const [start, end] of [["not-a-window", "2026-03-10T12:00:00"], ["2026-03-10T12:00:00", "2026-03-10T12:00:00"], ["2026-02-30T00:00:00", "2026-03-01T00:00:00"], ["2026-03-10 09:00:00", "2026-03-10T12:00:00"]]) {
      const o = evaluate(freeze("", start, end), deploy());
      expect(o.verdict).toBe("block");
      expect(o.reason_codes).toContain("freeze_window_invalid_window");
      expect(o.freeze_window).toMatchObject({ status: "invalid", window_name: "quarter-end", reason_code: "freeze_window_invalid_window" });
    }
  });
});

describe("sandbox (gate.md §4.6) and the read-only-roots deviation", () => {
  const sandbox = (over: Raw = {}) => ({
    network_mode: "disabled", env_exposure_mode: "none", timeout_seconds: 60, filesystem_isolation: "container", user_mode: "unprivileged",
    evidence_ref: "sandbox:run-1", evidence_digest: "f".repeat(64), writable_paths: ["/work/out"], read_only_roots: ["/usr", "/etc"], ...over,
  });
  // Gait evaluateSandboxConstraint: the metadata's modes, timeout and evidence are copied into the decision first.
  const seen = (over: Raw = {}) => {
    const m = sandbox(over) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of ["network_mode", "env_exposure_mode", "timeout_seconds", "filesystem_isolation", "user_mode", "evidence_ref", "evidence_digest"]) {
      if (m[k]) out[k] = m[k];
    }
    return out;
  };
  const strict = policy(`sandbox:
  allowed_network_modes: [disabled]
  allowed_env_exposure_modes: [none]
  max_timeout_seconds: 120
  allowed_filesystem_isolations: [container]
  allowed_user_modes: [unprivileged]
  allowed_writable_path_prefixes: [/work]
  required_read_only_roots: [/usr]`);

  it("accepts conforming metadata with a valid decision", () => {
    const o = evaluate(strict, intent({}, { sandbox: sandbox() }));
    expect(o.verdict).toBe("allow");
    expect(o.sandbox).toEqual({ status: "valid", ...seen() });
  });

  it("blocks when metadata is missing", () => {
    const o = evaluate(strict, intent());
    expect(o.verdict).toBe("block");
    expect(o.sandbox).toEqual({ status: "missing", reason_codes: ["sandbox_metadata_missing"] });
    expect(o.violations).toEqual(["sandbox_metadata_missing"]);
  });

  it("reports missing fields (status missing wins over disallowed)", () => {
    const o = evaluate(strict, intent({}, { sandbox: { network_mode: "full", writable_paths: ["/tmp"] } }));
    expect(o.sandbox).toEqual({
      status: "missing",
      network_mode: "full", // issue 9 #7: kept with status missing, as in Gait
      reason_codes: [
        "sandbox_env_exposure_mode_missing", "sandbox_evidence_missing", "sandbox_filesystem_isolation_missing", "sandbox_network_mode_disallowed",
        "sandbox_read_only_root_missing", "sandbox_timeout_missing", "sandbox_user_mode_missing", "sandbox_writable_path_disallowed",
      ],
    });
  });

  it("reports disallowed values and an exceeded timeout", () => {
    const o = evaluate(strict, intent({}, { sandbox: sandbox({ network_mode: "full", user_mode: "root", timeout_seconds: 600, writable_paths: ["/work/out", "/home/x"] }) }));
    expect(o.verdict).toBe("block");
    expect(o.sandbox).toEqual({
      status: "disallowed", ...seen({ network_mode: "full", user_mode: "root", timeout_seconds: 600 }),
      reason_codes: ["sandbox_network_mode_disallowed", "sandbox_timeout_exceeded", "sandbox_user_mode_disallowed", "sandbox_writable_path_disallowed"],
    });
  });

  it("DEVIATION: every required read-only root must be present; extra roots are fine", () => {
    // Gait checks the inverse subset: it would pass an intent without /usr (if its roots were a subset) and flag
    // the extra /etc root below. Ours: /usr present => valid despite the extra /etc; /usr absent => missing.
    expect(evaluate(strict, intent({}, { sandbox: sandbox({ read_only_roots: ["/usr", "/etc"] }) })).sandbox).toEqual({ status: "valid", ...seen() });
    const missing = evaluate(strict, intent({}, { sandbox: sandbox({ read_only_roots: ["/etc"] }) }));
    expect(missing.verdict).toBe("block");
    expect(missing.sandbox).toEqual({ status: "missing", ...seen(), reason_codes: ["sandbox_read_only_root_missing"] });
    const none = evaluate(strict, intent({}, { sandbox: sandbox({ read_only_roots: [] }) }));
    expect(none.reason_codes).toContain("sandbox_read_only_root_missing");
  });

  it("a valid sandbox suppresses the destructive escalation for proc.exec-only intents", () => {
    const exec = { tool_name: "tool.exec", targets: [{ kind: "other", value: "make test", operation: "exec" }] };
    const o = evaluate(strict, intent(exec, { sandbox: sandbox() }));
    expect(o.verdict).toBe("allow");
    expect(o.reason_codes).toEqual(["matched_rule_r"]);
    const noSandboxRule = evaluate(policy("reason_codes: [ok]"), intent(exec));
    expect(noSandboxRule.verdict).toBe("require_approval");
    expect(noSandboxRule.reason_codes).toEqual(["destructive_apply_requires_approval", "ok"]);
  });
});

describe("phase and destructive escalation (gate.md §3.7 step 8, §4.4)", () => {
  const destructive = { targets: [{ kind: "path", value: "/repo/a", operation: "delete" }] };

  it("apply phase: destructive targets require approval", () => {
    const o = evaluate(policy("reason_codes: [ok]"), intent(destructive));
    expect(o.verdict).toBe("require_approval");
    expect(o.reason_codes).toEqual(["destructive_apply_requires_approval", "ok"]);
    expect(o.violations).toEqual([]);
    expect(o.min_approvals).toBe(1);
  });

  it("plan phase: destructive targets become dry_run", () => {
    const o = evaluate(policy("reason_codes: [ok]"), intent(destructive, { phase: "plan" }));
    expect(o.verdict).toBe("dry_run");
    expect(o.reason_codes).toEqual(["ok", "plan_phase_non_destructive"]);
  });

  it("adds the reason even when the effect is already more restrictive", () => {
    const o = evaluate(policy("reason_codes: [no]", "block"), intent(destructive));
    expect(o.verdict).toBe("block");
    expect(o.reason_codes).toEqual(["destructive_apply_requires_approval", "no"]);
  });

  it("non-destructive targets are not escalated", () => {
    expect(evaluate(policy("reason_codes: [ok]"), intent()).verdict).toBe("allow");
  });
});
