import { describe, expect, it } from "vitest";
import { decodeToolCall } from "../../../src/engine/adapters.js";
import { evaluatePolicy, type PolicyEvalOptions } from "../../../src/engine/evaluate.js";
import { explainPolicy, type PolicyExplanation } from "../../../src/engine/explain.js";
import { parseKillSwitchState } from "../../../src/engine/killswitch.js";
import { parsePolicy } from "../../../src/engine/policy.js";
import type { VerifiedContextEnvelope } from "../../../src/engine/types.js";
import { DEFAULT_NOW, loadCaseFiles, type ConformanceCase } from "../../conformance/load.js";

const NOW = new Date("2026-01-15T12:00:00Z");
const ctx = { identity: "alice", workspace: "/repo", risk_class: "low" };
const intent = (tool: string, targets: object[] = [], extra: object = {}) => ({ tool_name: tool, args: {}, targets, context: ctx, ...extra });
const path = (op: string, extra: object = {}) => ({ kind: "path", value: "/repo/a", operation: op, ...extra });
const explain = (yaml: string, raw: unknown, opts: Partial<PolicyEvalOptions> = {}) => explainPolicy(parsePolicy(yaml), raw, { evaluationTime: NOW, ...opts });
const byName = (x: PolicyExplanation, name: string) => x.rules.find((r) => r.name === name)!;

const POLICY = `
default_verdict: require_approval
fail_closed: {enabled: true, risk_classes: [critical], required_fields: [targets]}
rules:
  - {name: block-delete, priority: 10, effect: block, match: {endpoint_classes: [fs.delete]}, reason_codes: [delete_blocked]}
  - {name: allow-read, priority: 20, effect: allow, match: {tool_names: [tool.read, tool.search]}, reason_codes: [read_allowed]}
  - {name: dry-read, priority: 20, effect: dry_run, match: {tool_names: [tool.read], risk_classes: [high]}}
  - {name: approve-write, priority: 30, effect: require_approval, match: {tool_names: [tool.write]}}
`;

describe("explainPolicy: what it says", () => {
  it("names the deciding rule, the conditions of the others and the tiers never looked at", () => {
    const x = explain(POLICY, intent("tool.read", [path("read")]));
    expect(x).toMatchObject({ verdict: "allow", decided_by: { stage: "rules", rules: ["allow-read"] }, tier: 20, matched_rule: "allow-read" });
    expect(byName(x, "block-delete")).toMatchObject({
      status: "not_matched",
      conditions: [{ key: "endpoint_classes", want: ["fs.delete"], have: ["fs.read"], ok: false }],
    });
    expect(byName(x, "dry-read")).toMatchObject({
      status: "not_matched",
      conditions: [
        { key: "tool_names", ok: true },
        { key: "risk_classes", want: ["high"], have: ["low"], ok: false },
      ],
    });
    expect(byName(x, "approve-write")).toMatchObject({ status: "not_reached", matches: false });
    expect(byName(x, "approve-write").why).toContain("priority 20 already matched");
  });

  it("shows a rule of the counting tier that a more restrictive one outranked", () => {
    const x = explain(POLICY, intent("tool.read", [path("read")], { context: { ...ctx, risk_class: "high" } }));
    expect(x.verdict).toBe("dry_run");
    expect(byName(x, "allow-read")).toMatchObject({ status: "outranked", effective_effect: "allow" });
    expect(byName(x, "dry-read")).toMatchObject({ status: "decided", effective_effect: "dry_run" });
    expect(x.matched_rule).toBe("allow-read,dry-read");
  });

  it("says which constraint raised a rule's effect", () => {
    const yaml = `
rules:
  - name: writes
    effect: allow
    match: {tool_names: [tool.write]}
    endpoint: {path_denylist: [/etc/**], action: block}
    freeze_window: {timezone: UTC, effect: require_approval, windows: [{start: "2026-01-15T00:00:00", end: "2026-01-16T00:00:00"}]}
`;
    const x = explain(yaml, intent("tool.write", [{ kind: "path", value: "/etc/passwd", operation: "write" }]));
    expect(x.verdict).toBe("block");
    expect(x.decided_by).toEqual({ stage: "rules", rules: ["writes"], constraints: ["endpoint"] });
    const r = byName(x, "writes");
    expect(r.effective_effect).toBe("block");
    expect(r.constraints).toEqual(
      expect.arrayContaining([
        { constraint: "endpoint", effect: "block", reason_codes: ["endpoint_constraint_violation", "endpoint_path_denied"] },
        { constraint: "freeze_window", effect: "require_approval", reason_codes: ["freeze_window_active_require_approval"] },
      ]),
    );
    expect(r.why).toContain("endpoint constraint raised allow to block");
    // outside the window and the denylist, the rule's own effect decides and no constraint is named
    const calm = explain(yaml, intent("tool.write", [path("write")]), { evaluationTime: new Date("2026-02-01T00:00:00Z") });
    expect(calm).toMatchObject({ verdict: "allow", decided_by: { stage: "rules", rules: ["writes"] } });
    expect(calm.decided_by.constraints).toBeUndefined();
  });

  it("explains the default verdict, fail-closed and the kill switch", () => {
    const none = explain(POLICY, intent("tool.deploy"));
    expect(none).toMatchObject({ verdict: "require_approval", decided_by: { stage: "default_verdict" } });
    expect(none.rules.every((r) => r.status === "not_matched")).toBe(true);
    expect(none.summary).toContain("No rule matched, so the default verdict applies: require_approval.");

    const fc = explain(POLICY, intent("tool.read", [], { context: { ...ctx, risk_class: "critical" } }));
    expect(fc).toMatchObject({
      verdict: "block",
      decided_by: { stage: "fail_closed" },
      fail_closed: { applies: true, risk_class: "critical", findings: ["fail_closed_missing_targets"] },
    });
    expect(fc.rules.every((r) => r.status === "skipped")).toBe(true);

    const killSwitch = parseKillSwitchState({
      schema_id: "gait.gate.kill_switch_state", schema_version: "1.0.0", created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z",
      entries: [{ entry_id: "k1", enabled: true, identity: "alice", reason: "x", actor: "y", created_at: "2026-01-01T00:00:00Z" }],
    });
    const ks = explain(POLICY, intent("tool.read", [path("read")]), { killSwitch });
    expect(ks).toMatchObject({ verdict: "block", decided_by: { stage: "kill_switch" }, kill_switch: { status: "active" } });
    expect(byName(ks, "allow-read").status).toBe("decided"); // the rules still explain what they decided
  });

  it("explains a script step by step", () => {
    const raw = {
      tool_name: "script",
      args: {},
      context: ctx,
      script: { steps: [{ tool_name: "tool.read", args: {}, targets: [path("read")] }, { tool_name: "tool.delete", args: {}, targets: [path("delete")] }] },
    };
    const x = explain(POLICY, raw);
    expect(x.verdict).toBe("block");
    expect(x.steps!.map((s) => [s.tool_name, s.verdict, s.matched_rule])).toEqual([
      ["tool.read", "allow", "allow-read"],
      ["tool.delete", "block", "block-delete"],
    ]);
    expect(x.decided_by).toMatchObject({ stage: "script", rules: ["allow-read", "block-delete"] });
  });

  it("throws what evaluation throws for an intent it cannot evaluate", () => {
    expect(() => explain(POLICY, intent(""))).toThrow("tool_name is required");
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Agreement with the engine over every conformance case
// ---------------------------------------------------------------------------------------------------------------

function rawIntentOf(c: ConformanceCase): unknown {
  if (c.tool_call) {
    const profile = c.tool_call.profile ?? c.options.profile;
    return decodeToolCall(c.tool_call.adapter, c.tool_call.payload, profile ? { profile } : {}).intent;
  }
  return c.intent;
}

function optionsOf(c: ConformanceCase): PolicyEvalOptions {
  const o = c.options;
  const ks = o.kill_switch;
  return {
    evaluationTime: new Date(o.evaluation_time ?? o.now ?? DEFAULT_NOW),
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.context_envelope ? { envelope: o.context_envelope as VerifiedContextEnvelope } : {}),
    ...(ks !== undefined ? { killSwitch: ks && typeof ks === "object" && "unavailable" in ks ? (ks as { unavailable: string }) : parseKillSwitchState(ks) } : {}),
  };
}

describe("explainPolicy agrees with the engine on every conformance case", () => {
  const cases = loadCaseFiles()
    .flatMap((f) => f.cases)
    .filter((c) => c.intent !== undefined || c.tool_call !== undefined);

  it("covers a meaningful share of the suite", () => {
    expect(cases.length).toBeGreaterThan(300);
  });

  let explained = 0;
  for (const c of cases) {
    it(c.note, () => {
      let policy, raw;
      try {
        policy = parsePolicy(c.policy!);
        raw = JSON.parse(JSON.stringify(rawIntentOf(c) ?? null).replaceAll('"$targets"', '""'));
      } catch {
        return; // cases about invalid policies or tool calls: nothing is evaluated, nothing to explain
      }
      const opts = optionsOf(c);
      let engineError: string | undefined;
      let verdict: string | undefined;
      let matched: string | undefined;
      try {
        const o = evaluatePolicy(policy, raw, opts);
        verdict = o.verdict;
        matched = o.matched_rule;
      } catch (e) {
        engineError = (e as Error).message;
      }
      if (engineError !== undefined) {
        expect(() => explainPolicy(policy, raw, opts)).toThrow(engineError);
        return;
      }
      // explainPolicy derives its verdict and rules from its parts and throws when they disagree with the engine
      const x = explainPolicy(policy, raw, opts);
      expect(x.verdict).toBe(verdict);
      expect(x.matched_rule).toBe(matched);
      explained++;
    });
  }

  it("explained most of them (not a vacuous pass)", () => {
    expect(explained).toBeGreaterThan(250);
  });
});
