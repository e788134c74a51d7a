/**
 * Engine micro-benchmark: ns per typical evaluation (performance.md "engine ns/op").
 * Shape (Gait's EvaluatePolicyTypical): a 2-rule policy with high-risk fail-closed; a tool.write intent with one
 * path target and one provenance entry. Each iteration normalizes the raw intent and computes both digests.
 * Prints the figures and writes bench/results/engine.json. Not a test: no thresholds.
 */
import { writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parsePolicy } from "../src/engine/policy.js";
import { evaluatePolicy } from "../src/engine/evaluate.js";
import { decodeToolCall } from "../src/engine/adapters.js";

const POLICY = `
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
fail_closed:
  enabled: true
  risk_classes: [high]
  required_fields: [targets, arg_provenance]
rules:
  - name: allow-write-workspace
    priority: 10
    effect: allow
    match:
      tool_names: [tool.write]
      risk_classes: [high]
      target_kinds: [path]
  - name: block-delete
    priority: 20
    effect: block
    match:
      endpoint_classes: [fs.delete]
`;

const INTENT = {
  schema_id: "gait.gate.intent_request",
  schema_version: "1.0.0",
  created_at: "2026-01-01T00:00:00Z",
  producer_version: "bench",
  tool_name: "tool.write",
  args: { path: "/repo/out/report.md", content: "hello" },
  targets: [{ kind: "path", value: "/repo/out/report.md", operation: "write" }],
  arg_provenance: [{ arg_path: "$.content", source: "user" }],
  context: { identity: "alice", workspace: "/repo", risk_class: "high", session_id: "s1" },
};

const MCP_CALL = {
  name: "tool.write",
  args: { path: "/repo/out/report.md", content: "hello" },
  targets: [{ kind: "path", value: "/repo/out/report.md", operation: "write" }],
  arg_provenance: [{ arg_path: "$.content", source: "user" }],
  context: { identity: "alice", workspace: "/repo", risk_class: "high", session_id: "s1" },
};

function measure(name: string, fn: () => unknown, runs = 7, seconds = 0.6): { name: string; ns_per_op: number; runs_ns: number[] } {
  for (let i = 0; i < 20_000; i++) fn(); // warm-up (JIT)
  const perRun: number[] = [];
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(Math.round(seconds * 1e9));
    let now = start;
    while (now < deadline) {
      for (let i = 0; i < 1000; i++) fn();
      n += 1000;
      now = process.hrtime.bigint();
    }
    perRun.push(Number(now - start) / n);
  }
  const sorted = [...perRun].sort((a, b) => a - b);
  return { name, ns_per_op: Math.round(sorted[Math.floor(sorted.length / 2)]!), runs_ns: perRun.map(Math.round) };
}

const policy = parsePolicy(POLICY);
const evaluationTime = new Date("2026-01-01T00:00:00Z");
const check = evaluatePolicy(policy, INTENT, { evaluationTime });
if (check.verdict !== "allow") throw new Error(`bench intent should be allowed, got ${check.verdict} ${check.reason_codes}`);

const results = [
  measure("evaluate_policy_typical", () => evaluatePolicy(policy, INTENT, { evaluationTime })),
  measure("evaluate_tool_call_typical", () => evaluatePolicy(policy, decodeToolCall("mcp", MCP_CALL).intent, { evaluationTime })),
  measure("parse_policy", () => parsePolicy(POLICY), 3, 0.3),
];
for (const r of results) console.log(`${r.name.padEnd(28)} ${String(r.ns_per_op).padStart(8)} ns/op   (runs: ${r.runs_ns.join(", ")})`);

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bench", "results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "engine.json"),
  JSON.stringify({ benchmark: "engine", node: process.version, date: new Date().toISOString(), target_ns_per_op: 3000, results }, null, 2) + "\n",
);
console.log(`wrote ${join(out, "engine.json")}`);
