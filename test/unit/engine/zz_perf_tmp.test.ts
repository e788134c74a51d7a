import { test } from "vitest";
import { parsePolicy } from "../../../src/engine/policy.js";
import { evaluatePolicy } from "../../../src/engine/evaluate.js";
import { normalizeIntent } from "../../../src/engine/intent.js";
test("perf", () => {
  const p2 = parsePolicy(`
fail_closed:
  enabled: true
  risk_classes: [high]
  required_fields: [targets, arg_provenance]
rules:
  - name: allow-write
    priority: 10
    effect: allow
    match:
      tool_names: [tool.write]
  - name: block-delete
    priority: 20
    effect: block
    match:
      endpoint_classes: [fs.delete]
`);
  const intent = { tool_name: "tool.write", args: { path: "/tmp/x" }, targets: [{ kind: "path", value: "/tmp/x", operation: "write" }],
    arg_provenance: [{ arg_path: "path", source: "user" }], context: { identity: "alice", workspace: "/repo", risk_class: "high" } };
  const opts = { evaluationTime: new Date("2026-01-01T00:00:00Z") };
  for (let r = 0; r < 12; r++) {
    let t = process.hrtime.bigint();
    const N = 200000;
    for (let i = 0; i < N; i++) evaluatePolicy(p2, intent, opts);
    const a = Number(process.hrtime.bigint() - t) / N;
    t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) normalizeIntent(intent);
    const b = Number(process.hrtime.bigint() - t) / N;
    console.log(`evaluatePolicy ${a.toFixed(0)} ns/op; normalizeIntent alone ${b.toFixed(0)} ns/op`);
  }
});
