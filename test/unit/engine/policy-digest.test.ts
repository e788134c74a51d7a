import { describe, expect, it } from "vitest";
import { digestJCS, jcs } from "../../../src/engine/canon.js";
import { computePolicyDigest, parsePolicy, policyDigestPayload } from "../../../src/engine/policy.js";

const digest = (yaml: string) => parsePolicy(yaml).policy_digest;

describe("policy_digest (gate.md §3.8)", () => {
  it("reproduces the golden of §3.8", () => {
    const p = parsePolicy("default_verdict: allow\n");
    expect(jcs(policyDigestPayload(p))).toBe(
      '{"DefaultVerdict":"allow","FailClosed":{"Enabled":false,"RequiredFields":[],"RiskClasses":[]},"Rules":[],"SchemaID":"gait.gate.policy","SchemaVersion":"1.0.0"}',
    );
    expect(p.policy_digest).toBe("65819d9cf07c7619aa8aaf2bd4e8d6f8e3f86b139b49a68c535fd14d77a5009f");
    expect(computePolicyDigest(p)).toBe(p.policy_digest);
  });

  it("emits a rule in Gait's Go shape: base match lists always present, optional keys only when non-zero", () => {
    const p = parsePolicy(`
rules:
  - name: gate-writes
    priority: 10
    effect: require_approval
    match:
      tool_names: [tool.write]
`);
    expect(jcs(policyDigestPayload(p).Rules)).toBe(
      '[{"Effect":"require_approval","Match":{"Identities":[],"ProvenanceSources":[],"RiskClasses":[],"TargetKinds":[],"TargetValues":[],"ToolNames":["tool.write"],"WorkspacePrefixes":[]},"Name":"gate-writes","Priority":10,"ReasonCodes":[],"Violations":[]}]',
    );
  });

  it("serializes optional sections the way Go's json.Marshal of Gait's payload does", () => {
    const p = parsePolicy(`
fail_closed:
  enabled: true
  required_high_risk_fields: [run_id]
scripts:
  max_steps: 0
  block_mixed_risk: true
rules:
  - name: r
    effect: allow
    min_approvals: 2
    match:
      max_delegation_depth: 0
      tool_annotations: {readOnlyHint: false}
    sandbox:
      allowed_network_modes: [disabled]
    freeze_window:
      timezone: UTC
      windows: [{start: "2026-01-01T00:00:00", end: "2026-01-02T00:00:00"}]
    endpoint:
      path_denylist: [/etc/**]
    dataflow:
      destination_kinds: [url]
`);
    const payload = policyDigestPayload(p);
    expect(payload.FailClosed).toEqual({ Enabled: true, RiskClasses: ["critical", "high"], RequiredFields: [], RequiredHighRiskFields: ["run_id"] });
    expect(payload.Scripts).toEqual({ MaxSteps: 0, RequireApprovalAbove: 0, BlockMixedRisk: true });
    const r = (payload.Rules as Record<string, unknown>[])[0]!;
    expect(r.MinApprovals).toBe(2);
    expect(r.RequireDistinctApprovers).toBe(true); // forced by min_approvals > 1
    expect((r.Match as Record<string, unknown>).MaxDelegationDepth).toBe(0); // a set pointer, even when 0
    expect((r.Match as Record<string, unknown>).ToolAnnotations).toEqual({ ReadOnlyHint: false });
    // empty path lists are nil slices in Go => null; enum lists are allocated => []
    expect(r.Sandbox).toEqual({
      Enabled: true, AllowedNetworkModes: ["disabled"], AllowedWritablePathPrefixes: null, RequiredReadOnlyRoots: null,
      AllowedEnvExposureModes: [], MaxTimeoutSeconds: 0, AllowedFilesystemIsolations: [], AllowedUserModes: [],
    });
    expect(r.FreezeWindow).toEqual({
      Enabled: true, Timezone: "UTC", Effect: "block", Reason: "", Environments: [], RiskClasses: [],
      Windows: [{ Name: "window-1", Start: "2026-01-01T00:00:00", End: "2026-01-02T00:00:00" }],
    });
    expect(r.Endpoint).toEqual({
      Enabled: true, PathAllowlist: [], PathDenylist: ["/etc/**"], DomainAllowlist: [], DomainDenylist: [], EgressClasses: [],
      Action: "block", DestructiveAction: "", ReasonCode: "endpoint_constraint_violation", Violation: "endpoint_constraint_violation",
    });
    expect(r.Dataflow).toEqual({
      Enabled: true, TaintedSources: ["external", "tool_output"], Action: "require_approval",
      ReasonCode: "dataflow_tainted_destination", Violation: "tainted_dataflow", DestinationKinds: ["url"],
    });
    for (const absent of ["RateLimit", "DestructiveBudget", "BrokerReference", "RequireBrokerCredential", "AllowedAgentIDs"]) {
      expect(r).not.toHaveProperty(absent);
    }
    expect(p.policy_digest).toBe(digestJCS(payload));
  });

  it("omits Scripts and RequiredHighRiskFields when zero", () => {
    const payload = policyDigestPayload(parsePolicy("scripts: {max_steps: 0, require_approval_above: 0, block_mixed_risk: false}\n"));
    expect(payload).not.toHaveProperty("Scripts");
    expect(payload.FailClosed).not.toHaveProperty("RequiredHighRiskFields");
  });

  const base = `
default_verdict: block
rules:
  - name: allow-reads
    priority: 10
    effect: allow
    match:
      tool_names: [tool.read, tool.list]
      risk_classes: [low]
      endpoint_classes: [fs.read]
    reason_codes: [read_ok]
  - name: gate-writes
    priority: 20
    effect: require_approval
    match:
      tool_names: [tool.write]
`;

  it("is invariant under key order, list order, case, duplicates and aliases", () => {
    const expected = digest(base);
    const variant = `
rules:
  - priority: 20
    action: REQUIRE_APPROVAL
    name: gate-writes
    match:
      tool_name: Tool.Write
  - match:
      endpoint_class: [FS.Read]
      risk_classes: [LOW, low]
      tool_names: [TOOL.LIST, tool.read, ' tool.read ']
    reason_codes: [read_ok, ' read_ok']
    effect: Allow
    name: allow-reads
    priority: 10
default_action: Block
`;
    expect(digest(variant)).toBe(expected);
    // explicit defaults equal implicit ones
    expect(digest("schema_id: gait.gate.policy\nschema_version: 1.0.0\n" + base)).toBe(expected);
  });

  it("changes when a rule is renamed, re-prioritized or its effect changes", () => {
    const expected = digest(base);
    expect(digest(base.replace("name: gate-writes", "name: gate-writes-2"))).not.toBe(expected);
    expect(digest(base.replace("priority: 20", "priority: 21"))).not.toBe(expected);
    expect(digest(base.replace("effect: require_approval", "effect: block"))).not.toBe(expected);
    expect(digest(base.replace("default_verdict: block", "default_verdict: allow"))).not.toBe(expected);
    expect(digest(base.replace("[tool.write]", "[tool.write, tool.edit]"))).not.toBe(expected);
  });
});
