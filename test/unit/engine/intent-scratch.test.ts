import { test } from "vitest";
import { normalizeIntent } from "../../../src/engine/intent.js";
import { decodeToolCall } from "../../../src/engine/adapters.js";
const INTENT = {
  schema_id: "gait.gate.intent_request", schema_version: "1.0.0", created_at: "2026-01-01T00:00:00Z", producer_version: "bench",
  tool_name: "tool.write", args: { path: "/repo/out/report.md", content: "hello" },
  targets: [{ kind: "path", value: "/repo/out/report.md", operation: "write" }],
  arg_provenance: [{ arg_path: "$.content", source: "user" }],
  context: { identity: "alice", workspace: "/repo", risk_class: "high", session_id: "s1" },
};
const MCP = { name: "tool.write", args: INTENT.args, targets: INTENT.targets, arg_provenance: INTENT.arg_provenance, context: INTENT.context };
function bench(name: string, fn: () => unknown) {
  for (let i = 0; i < 100000; i++) fn();
  const res: number[] = [];
  for (let r = 0; r < 5; r++) { const N = 200000; const t = process.hrtime.bigint(); for (let i = 0; i < N; i++) fn(); res.push(Number(process.hrtime.bigint() - t) / N); }
  res.sort((a, b) => a - b); console.log(name, Math.round(res[2]!), "ns");
}
test("perf", () => {
  bench("normalize", () => normalizeIntent(INTENT));
  bench("decode+normalize", () => normalizeIntent(decodeToolCall("mcp", MCP).intent));
});
