/**
 * Pins for the differences from Gait listed in docs/compatibility.md that no other test names directly.
 * Each test states Gait's behaviour and ours.
 */
import { describe, expect, it } from "vitest";
import { evaluatePolicy } from "../../../src/engine/evaluate.js";
import { normalizeIntent } from "../../../src/engine/intent.js";
import { parseKillSwitchState } from "../../../src/engine/killswitch.js";
import { parsePolicy } from "../../../src/engine/policy.js";

const CTX = { identity: "alice", workspace: "/repo", risk_class: "high", environment: "prod" };

describe("docs/compatibility.md pins", () => {
  it("R2: field names match exactly (Go's decoder would also accept Tool_Name; we treat it as an unknown field)", () => {
    expect(() => normalizeIntent({ Tool_Name: "tool.read", args: {}, targets: [], context: CTX })).toThrow("tool_name is required");
    expect(normalizeIntent({ tool_name: "tool.read", args: {}, targets: [], context: CTX }).tool_name).toBe("tool.read");
  });

  it("S2: a kill-switch entry with no selector is rejected (Gait accepts it and it then matches every intent)", () => {
    const state = {
      schema_id: "gait.gate.kill_switch_state",
      schema_version: "1.0.0",
      created_at: "2026-01-01T00:00:00Z",
      updated_at: "2026-01-01T00:00:00Z",
      entries: [{ entry_id: "only-an-id", enabled: true, reason: "x", actor: "ops", created_at: "2026-01-01T00:00:00Z" }],
    };
    expect(() => parseKillSwitchState(state)).toThrow(/selector/);
  });

  describe("R4: freeze-window time zones come from Intl (ICU), not Go's tz database", () => {
    const policyWith = (tz: string) =>
      parsePolicy(`default_verdict: allow
rules:
  - name: r
    effect: allow
    match: {tool_names: [tool.deploy]}
    freeze_window:
      timezone: ${tz}
      windows:
        - {name: w, start: "2026-03-10T09:00:00", end: "2026-03-10T12:00:00"}
`);
    const intent = { tool_name: "tool.deploy", args: {}, targets: [{ kind: "host", value: "h.example", operation: "deploy" }], context: CTX };
    const at = new Date("2026-03-10T14:30:00Z"); // 10:30 in Toronto (EDT)

    it("accepts a lower-case zone name (Go would fail to load it and block with freeze_window_invalid_timezone)", () => {
      const o = evaluatePolicy(policyWith("america/toronto"), intent, { evaluationTime: at });
      expect(o.reason_codes).toContain("freeze_window_active_block");
      expect(o.verdict).toBe("block");
    });
    it("refuses Go's `Local` zone: it fails closed with freeze_window_invalid_timezone", () => {
      const o = evaluatePolicy(policyWith("Local"), intent, { evaluationTime: at });
      expect(o.verdict).toBe("block");
      expect(o.reason_codes).toContain("freeze_window_invalid_timezone");
    });
  });
});
