import { describe, expect, it } from "vitest";
import { matchesWatch, watchFilterProblem, type WatchedSummary } from "../../../src/service/watch.js";

const d = (over: Partial<WatchedSummary> = {}): WatchedSummary => ({ kind: "decision", verdict: "block", tool_name: "tool.write", identity: "agent-1", reason_codes: ["kill_switch_active"], ...over });
const op: WatchedSummary = { kind: "operator_action", tool_name: "tool.write", identity: "ops", reason_codes: [] };

describe("decision watch filter", () => {
  it("an empty filter passes decisions, not operator actions or unknown records", () => {
    expect(matchesWatch(d(), {})).toBe(true);
    expect(matchesWatch(op, {})).toBe(false);
    expect(matchesWatch(op, { includeOperatorActions: true })).toBe(true);
    expect(matchesWatch(d({ kind: "unknown" }), { includeOperatorActions: true })).toBe(false);
  });

  it("filters combine with AND; values inside one filter with OR", () => {
    expect(matchesWatch(d(), { verdicts: ["allow", "block"], toolNames: ["tool.write"] })).toBe(true);
    expect(matchesWatch(d(), { verdicts: ["allow"] })).toBe(false);
    expect(matchesWatch(d(), { verdicts: ["block"], identities: ["agent-2"] })).toBe(false);
    expect(matchesWatch(d(), { reasonCodes: ["x", "kill_switch_active"] })).toBe(true);
    expect(matchesWatch(d({ reason_codes: [] }), { reasonCodes: ["kill_switch_active"] })).toBe(false);
    expect(matchesWatch(d({ verdict: undefined }), { verdicts: ["block"] })).toBe(false);
  });

  it("a verdict filter leaves operator actions out (they have no verdict)", () => {
    expect(matchesWatch(op, { includeOperatorActions: true, verdicts: ["block"] })).toBe(false);
    expect(matchesWatch(op, { includeOperatorActions: true, identities: ["ops"] })).toBe(true);
  });

  it("refuses oversized or empty filter values", () => {
    expect(watchFilterProblem({ toolNames: Array(65).fill("t") })).toContain("at most 64");
    expect(watchFilterProblem({ identities: [""] })).toContain("empty value");
    expect(watchFilterProblem({ reasonCodes: ["x".repeat(257)] })).toContain("longer than 256");
    expect(watchFilterProblem({ toolNames: ["tool.write"] })).toBeUndefined();
  });
});
