/**
 * `gait policy validate|test|init`: check a policy file, dry-run one intent through the rules (stages 4-8: rules and
 * kill switch only; no rate limits, approvals or broker, and no trace), and start from a baseline template.
 */
import { existsSync } from "node:fs";
import { evaluatePolicy } from "../../engine/evaluate.js";
import { normalizeIntent } from "../../engine/intent.js";
import { GAIT_EPOCH, normalizeGoTime } from "../../engine/time.js";
import { decodeUtf8Go } from "../../engine/utf8.js";
import { verdictExitCode } from "../../engine/gate.js";
import { parsePolicy, policySummary } from "../../engine/policy.js";
import type { PolicyOutcome } from "../../engine/types.js";
import { str, type CommandSpec, type Parsed } from "../args.js";
import { CliError, EXIT, omitEmpty, toCliError, usageError, type CommandContext } from "../io.js";
import { policyTemplate } from "../assets.js";
import { loadPolicy, readJson, writeEvidence } from "../inputs.js";

export const policyValidateSpec: CommandSpec = {
  name: "policy validate",
  summary: "parse and validate a policy file; print its digest and a summary",
  usage: ["policy validate <policy.yaml> [--json]"],
  flags: { json: { type: "boolean", help: "print JSON: ok, schema_id, schema_version, policy_digest, default_verdict, rule_count, summary" } },
  positionals: { min: 1, max: 1, names: "<policy.yaml>" },
};

export const policyDigestSpec: CommandSpec = {
  name: "policy digest",
  summary: "print a policy's digest (sha256:<hex>) for release metadata and --policy-digest pins",
  usage: ["policy digest <policy.yaml> [--json]"],
  flags: { json: { type: "boolean", help: "print JSON: ok, policy_path, policy_digest (hex), schema_id, schema_version" } },
  positionals: { min: 1, max: 1, names: "<policy.yaml>" },
  notes: [
    "The digest is over the normalized policy (Gait's policy_digest), so comments and formatting do not change it.",
    "Pin it where the policy is used: gait mcp serve|mcp proxy|gate eval|policy test --policy-digest sha256:<hex>.",
  ],
};

export const policyTestSpec: CommandSpec = {
  name: "policy test",
  summary: "evaluate one intent against a policy (rules only: no rate limits, approvals, broker, no trace)",
  usage: ["policy test <policy.yaml> <intent.json> [--policy-digest sha256:<hex>] [--json]"],
  flags: {
    "policy-digest": { type: "string", value: "sha256:<hex>", help: "refuse to run unless the policy file has this digest" },
    json: { type: "boolean", help: "print JSON" },
  },
  positionals: { min: 2, max: 2, names: "<policy.yaml> <intent.json>" },
  notes: ["Exit codes follow the verdict: 0 allow/dry_run, 3 block, 4 require_approval; 6 for invalid input."],
};

/** Template names and their aliases. The templates ship in policies/templates/. */
export const POLICY_TEMPLATES: Record<string, string> = {
  "baseline-lowrisk": "baseline-lowrisk",
  "baseline-mediumrisk": "baseline-mediumrisk",
  "baseline-highrisk": "baseline-highrisk",
  low: "baseline-lowrisk",
  medium: "baseline-mediumrisk",
  high: "baseline-highrisk",
};

export const policyInitSpec: CommandSpec = {
  name: "policy init",
  summary: "write a baseline policy template (baseline-lowrisk|baseline-mediumrisk|baseline-highrisk; aliases low|medium|high)",
  usage: ["policy init <baseline-lowrisk|baseline-mediumrisk|baseline-highrisk> [--out gait.policy.yaml] [--force] [--json]"],
  flags: {
    out: { type: "string", value: "<path>", help: "where to write the policy", default: "gait.policy.yaml" },
    force: { type: "boolean", help: "overwrite an existing file" },
    json: { type: "boolean", help: "print JSON" },
  },
  positionals: { min: 1, max: 1, names: "<template>" },
};

export async function policyValidate(ctx: CommandContext, args: Parsed): Promise<number> {
  const path = args.positionals[0]!;
  const policy = await loadPolicy(ctx, path);
  const summary = policySummary(policy);
  if (ctx.json) return ctx.printJson({ ok: true, ...summary }, EXIT.OK);
  return ctx.printHuman(
    [
      `policy validate: ok ${path}`,
      `policy_digest: sha256:${policy.policy_digest}`,
      `default_verdict: ${policy.default_verdict}`,
      `rules: ${policy.rules.length}${policy.rules.length ? ` (${policy.rules.map((r) => `${r.name}:${r.effect}@${r.priority}`).join(", ")})` : ""}`,
      `fail_closed: ${policy.fail_closed.enabled ? `on for ${policy.fail_closed.risk_classes.join(",")}` : "off"}`,
    ],
    EXIT.OK,
  );
}

export async function policyDigest(ctx: CommandContext, args: Parsed): Promise<number> {
  const path = args.positionals[0]!;
  const policy = await loadPolicy(ctx, path);
  if (ctx.json) {
    return ctx.printJson(
      { ok: true, policy_path: path, policy_digest: policy.policy_digest, schema_id: policy.schema_id, schema_version: policy.schema_version },
      EXIT.OK,
    );
  }
  // one line, the form --policy-digest takes: PIN=$(gait policy digest policy.yaml)
  return ctx.printHuman([`sha256:${policy.policy_digest}`], EXIT.OK);
}

export async function policyTest(ctx: CommandContext, args: Parsed): Promise<number> {
  const [policyPath, intentPath] = args.positionals as [string, string];
  const policy = await loadPolicy(ctx, policyPath, args.flags["policy-digest"]);
  const rawIntent = await readJson(ctx, intentPath, "intent");
  let outcome: PolicyOutcome;
  try {
    outcome = evaluatePolicy(policy, rawIntent, { evaluationTime: ctx.io.now() });
  } catch (e) {
    throw toCliError(e);
  }
  const exit = verdictExitCode(outcome.verdict);
  // Gait's policyTestOutput, key for key (cmd/gait/policy.go): the policytest result envelope plus a bounded summary.
  // Details (steps, freeze window, sandbox, approvals) are `gate eval --json`'s.
  const summary = boundedSummary(outcome.verdict, outcome.reason_codes, outcome.violations);
  const out = omitEmpty({
    ok: true,
    schema_id: "gait.policytest.result",
    schema_version: "1.0.0",
    created_at: outcome.intent ? normalizeGoTime(outcome.intent.created_at) ?? GAIT_EPOCH : GAIT_EPOCH,
    policy_digest: policy.policy_digest,
    intent_digest: reportedIntentDigest(rawIntent, outcome.intent?.intent_digest),
    verdict: outcome.verdict,
    reason_codes: outcome.reason_codes,
    violations: outcome.violations,
    matched_rule: outcome.matched_rule,
    summary,
  });
  if (ctx.json) return ctx.printJson(out, exit);
  return ctx.printHuman([summary], exit);
}

/**
 * Gait's policytest summary line, cut to 240 bytes with a `...(+N)` suffix (core/policytest boundedSummary). The cut
 * is byte-wise as in Go; a rune it splits becomes U+FFFD per byte, as Go's JSON encoder writes it.
 */
export function boundedSummary(verdict: string, reasons: readonly string[], violations: readonly string[], max = 240): string {
  const raw = `policy test verdict=${verdict} reasons=${reasons.length ? reasons.join(",") : "none"} violations=${violations.length ? violations.join(",") : "none"}`;
  const bytes = Buffer.from(raw, "utf8");
  if (bytes.length <= max) return raw;
  const suffix = `...(+${bytes.length - max})`;
  return decodeUtf8Go(bytes.subarray(0, Math.max(0, max - suffix.length))) + suffix;
}

/**
 * The `intent_digest` `policy test` reports: Gait's policytest.Run takes it from NormalizeIntent alone, i.e. with
 * the intent's context-evidence claims kept, while the evaluation (and `gate eval`) strips unverified claims first.
 * Both digests are Gait's; only the evaluated intent is the stripped one.
 */
function reportedIntentDigest(rawIntent: unknown, evaluated: string | undefined): string | undefined {
  if (evaluated === undefined) return undefined;
  try {
    return normalizeIntent(rawIntent, { keepContextClaims: true }).intent_digest;
  } catch {
    return evaluated; // the evaluation normalized it, so this cannot fail; never hide the evaluated digest
  }
}

export async function policyInit(ctx: CommandContext, args: Parsed): Promise<number> {
  const requested = args.positionals[0]!.trim().toLowerCase();
  const template = POLICY_TEMPLATES[requested];
  if (!template) {
    throw usageError(
      `unknown policy template ${JSON.stringify(args.positionals[0])}`,
      "use baseline-lowrisk, baseline-mediumrisk or baseline-highrisk (aliases low, medium, high)",
    );
  }
  const text = policyTemplate(template);
  if (text === undefined) throw new CliError(`policy template ${template} is missing from this installation (policies/templates/${template}.yaml)`, EXIT.INTERNAL);
  // a template that does not parse would be a packaging bug; never hand it to the user
  let digest: string;
  let ruleCount: number;
  let defaultVerdict: string;
  try {
    const policy = parsePolicy(text);
    digest = policy.policy_digest;
    ruleCount = policy.rules.length;
    defaultVerdict = policy.default_verdict;
  } catch (e) {
    throw new CliError(`policy template ${template} is invalid: ${(e as Error).message}`, EXIT.INTERNAL);
  }
  const out = str(args.flags.out) ?? "gait.policy.yaml";
  if (existsSync(ctx.path(out)) && args.flags.force !== true) {
    throw usageError(`refusing to overwrite existing ${out}`, "pass --force to replace it, or choose another --out");
  }
  await writeEvidence(ctx, out, text, "policy", 0o644);
  const result = omitEmpty({ ok: true, template, policy_path: out, policy_digest: digest, default_verdict: defaultVerdict, rule_count: ruleCount });
  if (ctx.json) return ctx.printJson(result, EXIT.OK);
  return ctx.printHuman(
    [
      `policy init: wrote ${out} from ${template}`,
      `policy_digest: sha256:${digest}`,
      `next: gait policy validate ${out} && gait gate eval --policy ${out} --intent <intent.json>`,
    ],
    EXIT.OK,
  );
}
