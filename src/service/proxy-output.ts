/**
 * Gait's `mcpProxyOutput`: the answer of `gait mcp proxy --json` and, with `exit_code`, of the HTTP `/v1/evaluate`
 * (evidence.md §5.4, gate.md §7.2). One function so both surfaces print the same fields the same way. Fields are Go
 * `omitempty` except `ok` and `executed`; `decision_latency_ms` is whole milliseconds, truncated (Go's
 * `Duration.Milliseconds()`), so a decision faster than 1 ms leaves it out, as Gait does.
 */
import type { Decision } from "./decide.js";

export interface ProxyOutputOptions {
  /** Warnings to print instead of the decision's (the CLI adds its own, e.g. about keys). */
  warnings?: readonly string[];
}

const isEmpty = (v: unknown): boolean =>
  v === undefined || v === null || v === "" || v === 0 || v === false || (Array.isArray(v) && v.length === 0);

export function proxyOutput(d: Decision, o: ProxyOutputOptions = {}): Record<string, unknown> {
  const r = d.result;
  const fields: Record<string, unknown> = {
    adapter: d.adapter,
    run_id: d.runId,
    job_id: d.jobId,
    phase: r.phase ?? r.intent?.context?.phase,
    session_id: d.sessionId,
    tool_name: r.tool_name ?? r.intent?.tool_name,
    verdict: d.verdict,
    reason_codes: d.reasonCodes,
    violations: r.violations,
    policy_digest: r.policy_digest,
    policy_id: d.policyId,
    policy_version: d.policyVersion,
    matched_rule_ids: d.record.matched_rule_ids,
    intent_digest: r.intent_digest ?? r.intent?.intent_digest,
    decision_latency_ms: Math.trunc(d.latencyMs),
    trace_id: d.record.trace_id,
    trace_path: d.recorded.path,
    runpack_path: d.artifacts.runpack,
    kill_switch: r.kill_switch,
    warnings: [...(o.warnings ?? d.warnings)].sort(),
    relationship: d.record.relationship,
  };
  const out: Record<string, unknown> = { ok: true, executed: false };
  for (const [k, v] of Object.entries(fields)) if (!isEmpty(v)) out[k] = v;
  return out;
}
