/**
 * `gait mcp proxy` (alias `mcp bridge`): decide one tool call in an agent framework's format (gate.md §6, §7.2;
 * evidence.md §6.1). Like Gait, the proxy runs the rules and kill switch only (no rate limits, approvals, delegation
 * or broker: `require_approval` is final here) and never executes the tool (`executed` is always false).
 */
import { ADAPTER_NAMES } from "../../engine/adapters.js";
import { verdictExitCode } from "../../engine/exit-codes.js";
import { decide, type Decision } from "../../service/decide.js";
import { proxyOutput } from "../../service/proxy-output.js";
import { loadKillSwitchForGate } from "../../state/killswitch-file.js";
import { oneOf, str, type CommandSpec, type Parsed } from "../args.js";
import { usageError, type CommandContext } from "../io.js";
import { loadPolicy, prettyJson, producerVersion, readJson, signingKey, writeEvidence } from "../inputs.js";


export const mcpProxySpec: CommandSpec = {
  name: "mcp proxy",
  summary: "decide one tool call (MCP/OpenAI/Anthropic/LangChain/Claude Code format) without executing it",
  usage: [
    `mcp proxy --policy <policy.yaml> --call <tool_call.json|-> [--adapter ${ADAPTER_NAMES.join("|")}]`,
    "    [--profile standard|oss-prod] [--kill-switch-state <state.json>] [--trace-out trace.json] [--run-id run_...]",
    "    [--runpack-out runpack.zip] [--policy-digest sha256:<hex>] [--key-mode dev|prod] [--private-key <path>|--private-key-env <VAR>] [--json]",
  ],
  flags: {
    policy: { type: "string", value: "<policy.yaml>", help: "policy file (required)" },
    call: { type: "string", value: "<file|->", help: "tool call JSON file, or - for stdin (required)" },
    adapter: { type: "string", value: "<name>", help: `payload format: ${ADAPTER_NAMES.join(", ")}`, default: "mcp" },
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
  const version = producerVersion();
  const runpackOut = str(f["runpack-out"]);

  // the one pipeline (src/service/decide.ts) in Gait's proxy mode (rules and kill switch); this surface's sink
  // writes the signed trace file and, when asked, a single-call runpack
  const d = await decide(
    { toolCall: { adapter, payload }, ...(str(f["run-id"]) ? { runId: str(f["run-id"]) } : {}) },
    {
      mode: "proxy",
      policy,
      profile,
      signer,
      producerVersion: version,
      now: () => ctx.io.now(),
      gate: killSwitch ? { killSwitch } : {},
      traceMeta: () => ({ correlationId: ctx.correlationId }),
      sink: {
        record: async (record, _text, call) => {
          const path = str(f["trace-out"]) ?? `trace_${call.runId}_${traceStamp(ctx.io.now())}.json`;
          await writeEvidence(ctx, path, prettyJson(record), "trace");
          return { path };
        },
        ...(runpackOut
          ? {
              artifacts: async (dec: Decision) => {
                // loaded only when asked for: the zip writer (fflate) builds its tables when it loads
                const { buildSingleCallRunpack } = await import("../../runpack/runpack.js");
                const intent = dec.result.intent;
                const { zip } = buildSingleCallRunpack({
                  runId: dec.runId,
                  createdAt: dec.record.created_at,
                  producerVersion: version,
                  toolName: intent.tool_name,
                  args: intent.args,
                  argsDigest: intent.args_digest,
                  verdict: dec.verdict,
                  reasonCodes: dec.result.reason_codes,
                  violations: dec.result.violations,
                  traceId: dec.record.trace_id,
                });
                await writeEvidence(ctx, runpackOut, zip, "runpack");
                return { runpack: runpackOut };
              },
            }
          : {}),
      },
    },
  );
  for (const w of d.warnings) ctx.warn(w);

  const exit = verdictExitCode(d.verdict);
  if (ctx.json) return ctx.printJson(proxyOutput(d, { warnings: ctx.warnings }), exit);
  const r = d.result;
  return ctx.printHuman(
    [
      `mcp proxy: verdict=${d.verdict} tool=${r.intent.tool_name} (not executed)`,
      d.reasonCodes.length ? `reasons: ${d.reasonCodes.join(",")}` : undefined,
      r.violations.length ? `violations: ${r.violations.join(",")}` : undefined,
      `intent_digest: ${r.intent.intent_digest}`,
      `policy_digest: ${policy.policy_digest}`,
      `trace: ${d.recorded.path} (trace_id ${d.record.trace_id})`,
      d.artifacts.runpack ? `runpack: ${d.artifacts.runpack}` : undefined,
    ],
    exit,
  );
}
