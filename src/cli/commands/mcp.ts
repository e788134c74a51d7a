/**
 * `gait mcp proxy` (alias `mcp bridge`): decide one tool call in an agent framework's format (gate.md §6, §7.2;
 * evidence.md §6.1). Like Gait, the proxy runs the rules and kill switch only (no rate limits, approvals, delegation
 * or broker: `require_approval` is final here) and never executes the tool (`executed` is always false).
 */
import { performance } from "node:perf_hooks";
import { decodeToolCall } from "../../engine/adapters.js";
import { evaluatePolicy } from "../../engine/evaluate.js";
import { verdictExitCode } from "../../engine/gate.js";
import { buildTraceRecord, signTraceRecord } from "../../engine/trace.js";
import type { PolicyOutcome } from "../../engine/types.js";
import { normalizeRunId } from "../../runpack/run-id.js";
import { loadKillSwitchForGate } from "../../state/killswitch-file.js";
import { oneOf, str, type CommandSpec, type Parsed } from "../args.js";
import { EXIT, omitEmpty, usageError, type CommandContext } from "../io.js";
import { loadPolicy, prettyJson, producerVersion, readJson, signingKey, writeEvidence } from "../inputs.js";
import { engineError } from "./gate.js";

export const ADAPTERS = ["mcp", "openai", "anthropic", "langchain", "claude_code"] as const;

export const mcpProxySpec: CommandSpec = {
  name: "mcp proxy",
  summary: "decide one tool call (MCP/OpenAI/Anthropic/LangChain/Claude Code format) without executing it",
  usage: [
    "mcp proxy --policy <policy.yaml> --call <tool_call.json|-> [--adapter mcp|openai|anthropic|langchain|claude_code]",
    "    [--profile standard|oss-prod] [--kill-switch-state <state.json>] [--trace-out trace.json] [--run-id run_...]",
    "    [--runpack-out runpack.zip] [--policy-digest sha256:<hex>] [--key-mode dev|prod] [--private-key <path>|--private-key-env <VAR>] [--json]",
  ],
  flags: {
    policy: { type: "string", value: "<policy.yaml>", help: "policy file (required)" },
    call: { type: "string", value: "<file|->", help: "tool call JSON file, or - for stdin (required)" },
    adapter: { type: "string", value: "<name>", help: "payload format: mcp, openai, anthropic, langchain, claude_code", default: "mcp" },
    profile: { type: "string", value: "standard|oss-prod", help: "oss-prod: prod keys and explicit identity/workspace/session", default: "standard" },
    "kill-switch-state": { type: "string", value: "<state.json>", help: "kill-switch state file" },
    "trace-out": { type: "string", value: "<path>", help: "signed trace file (default trace_<run_id>_<UTC timestamp>.json)" },
    "run-id": { type: "string", value: "<run_id>", help: "run id for artifacts (default call.context.run_id, else run_mcp_<intent digest prefix>)" },
    "runpack-out": { type: "string", value: "<path>", help: "also write a single-call runpack zip (unsigned, reference capture)" },
    "policy-digest": { type: "string", value: "sha256:<hex>", help: "refuse to run unless the policy file has this digest" },
    "key-mode": { type: "string", value: "dev|prod", help: "dev: ephemeral signing key; prod: --private-key/--private-key-env", default: "dev" },
    "private-key": { type: "string", value: "<path>", help: "signing key file (prod)" },
    "private-key-env": { type: "string", value: "<VAR>", help: "signing key from an environment variable (prod)" },
    json: { type: "boolean", help: "print JSON" },
  },
  positionals: { min: 0, max: 0 },
  notes: [
    "Exit codes: 0 allow/dry_run, 3 block, 4 require_approval, 6 invalid input. The tool is never executed;",
    "approvals are not accepted here (use 'gait gate eval --approval-token').",
  ],
};

/** `yyyyMMddTHHmmss.nnnnnnnnn` in UTC, nanoseconds from the high-resolution clock for uniqueness within a ms. */
function traceStamp(d: Date): string {
  const iso = d.toISOString(); // 2026-01-02T03:04:05.678Z
  const base = iso.slice(0, 19).replace(/[-:]/g, "");
  const nanos = String(d.getUTCMilliseconds() * 1_000_000 + Number(process.hrtime.bigint() % 1_000_000n)).padStart(9, "0");
  return `${base}.${nanos}`;
}

export async function mcpProxy(ctx: CommandContext, args: Parsed): Promise<number> {
  const f = args.flags;
  const profile = oneOf("profile", f.profile, ["standard", "oss-prod"] as const, "standard");
  const keyMode = oneOf("key-mode", f["key-mode"], ["dev", "prod"] as const, "dev");
  if (profile === "oss-prod" && keyMode !== "prod") throw usageError("oss-prod profile requires --key-mode prod");
  const adapter = (str(f.adapter) ?? "mcp").toLowerCase();
  if (!str(f.policy)) throw usageError("--policy is required", "run 'gait mcp proxy --help'");
  const callPath = str(f.call);
  if (!callPath) throw usageError("--call is required (a file, or - for stdin)", "run 'gait mcp proxy --help'");

  const policy = await loadPolicy(ctx, str(f.policy), f["policy-digest"]);
  const payload = await readJson(ctx, callPath, "tool call", true);
  const signer = signingKey(ctx, f, "dev");
  const ksPath = str(f["kill-switch-state"]);
  const killSwitch = ksPath ? await loadKillSwitchForGate(ctx.path(ksPath), ksPath) : undefined;

  const started = performance.now();
  let decoded: ReturnType<typeof decodeToolCall>;
  let outcome: PolicyOutcome;
  try {
    decoded = decodeToolCall(adapter, payload, { profile });
    // Gait decides whether an unreadable kill switch is fatal from the caller's own risk class (before the `high`
    // default): required for oss-prod and high/critical => block; otherwise the broken file is an input error.
    if (killSwitch && "unavailable" in killSwitch && profile !== "oss-prod" && !["high", "critical"].includes(decoded.rawRiskClass)) {
      throw usageError(killSwitch.unavailable);
    }
    outcome = evaluatePolicy(policy, decoded.intent, {
      evaluationTime: ctx.io.now(),
      profile,
      ...(killSwitch ? { killSwitch } : {}),
    });
  } catch (e) {
    throw engineError(e);
  }
  const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
  for (const w of decoded.warnings ?? []) ctx.warn(w);

  const intent = outcome.intent;
  const runId = normalizeRunId(str(f["run-id"]) ?? decoded.runId) || (intent?.intent_digest ? `run_mcp_${intent.intent_digest.slice(0, 12)}` : "");
  let trace;
  try {
    trace = signTraceRecord(
      buildTraceRecord(
        { ...outcome, policy_digest: policy.policy_digest },
        { observedAt: ctx.io.now(), producerVersion: producerVersion(), policyId: policy.schema_id, policyVersion: policy.schema_version, correlationId: ctx.correlationId },
      ),
      signer,
    );
  } catch (e) {
    throw usageError(`emit trace: ${(e as Error).message}`);
  }
  const tracePath = str(f["trace-out"]) ?? `trace_${runId}_${traceStamp(ctx.io.now())}.json`;
  await writeEvidence(ctx, tracePath, prettyJson(trace), "trace");

  let runpackPath: string | undefined;
  const runpackOut = str(f["runpack-out"]);
  if (runpackOut) {
    // loaded only when asked for: the zip writer (fflate) builds its tables when it loads
    const { buildSingleCallRunpack } = await import("../../runpack/runpack.js");
    const { zip } = buildSingleCallRunpack({
      runId,
      createdAt: trace.created_at,
      producerVersion: producerVersion(),
      toolName: intent.tool_name,
      args: intent.args,
      argsDigest: intent.args_digest,
      verdict: outcome.verdict,
      reasonCodes: outcome.reason_codes,
      violations: outcome.violations,
      traceId: trace.trace_id,
    });
    await writeEvidence(ctx, runpackOut, zip, "runpack");
    runpackPath = runpackOut;
  }

  const exit = verdictExitCode(outcome.verdict);
  const out = omitEmpty(
    {
      ok: true,
      executed: false,
      adapter: decoded.adapter,
      run_id: runId,
      job_id: decoded.jobId,
      phase: intent.context?.phase,
      session_id: decoded.sessionId ?? intent.context?.session_id,
      tool_name: intent.tool_name,
      verdict: outcome.verdict,
      reason_codes: outcome.reason_codes,
      violations: outcome.violations,
      policy_digest: policy.policy_digest,
      policy_id: policy.schema_id,
      policy_version: policy.schema_version,
      matched_rule_ids: trace.matched_rule_ids,
      intent_digest: intent.intent_digest,
      decision_latency_ms: latencyMs,
      trace_id: trace.trace_id,
      trace_path: tracePath,
      runpack_path: runpackPath,
      kill_switch: outcome.kill_switch,
      warnings: [...ctx.warnings].sort(),
      relationship: trace.relationship,
    },
    ["ok", "executed"],
  );
  if (ctx.json) return ctx.printJson(out, exit);
  return ctx.printHuman(
    [
      `mcp proxy: verdict=${outcome.verdict} tool=${intent.tool_name} (not executed)`,
      outcome.reason_codes.length ? `reasons: ${outcome.reason_codes.join(",")}` : undefined,
      outcome.violations.length ? `violations: ${outcome.violations.join(",")}` : undefined,
      `intent_digest: ${intent.intent_digest}`,
      `policy_digest: ${policy.policy_digest}`,
      `trace: ${tracePath} (trace_id ${trace.trace_id})`,
      runpackPath ? `runpack: ${runpackPath}` : undefined,
    ],
    exit,
  );
}
