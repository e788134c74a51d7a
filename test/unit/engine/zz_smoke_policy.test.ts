import { test, expect } from "vitest";
import { parsePolicy } from "../../../src/engine/policy.js";
import { evaluatePolicy } from "../../../src/engine/evaluate.js";
test("smoke", () => {
  const p = parsePolicy("default_verdict: allow\n");
  console.log(p.policy_digest);
  const p2 = parsePolicy(`
fail_closed:
  enabled: true
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
  const o = evaluatePolicy(p2, intent, { evaluationTime: new Date("2026-01-01T00:00:00Z") });
  console.log(JSON.stringify({ ...o, intent: undefined }));
  expect(p.policy_digest).toBe("65819d9cf07c7619aa8aaf2bd4e8d6f8e3f86b139b49a68c535fd14d77a5009f");
});
