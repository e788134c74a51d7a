/**
 * `gait policy validate|test|init`: check a policy file, dry-run one intent through the rules (stages 4-8: rules and
 * kill switch only; no rate limits, approvals or broker, and no trace), and start from a baseline template.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, relative } from "node:path";
import { parse as parseYaml, parseDocument } from "yaml";
import { evaluatePolicy } from "../../engine/evaluate.js";
import { ExplanationMismatchError, explainPolicy, type PolicyExplanation } from "../../engine/explain.js";
import { goTrimSpace, normalizeIntent } from "../../engine/intent.js";
import { GAIT_EPOCH, normalizeGoTime, parseRFC3339 } from "../../engine/time.js";
import { decodeUtf8Go } from "../../engine/utf8.js";
import { verdictExitCode } from "../../engine/gate.js";
import { parsePolicy, policySummary, PolicyValidationError } from "../../engine/policy.js";
import { IntentError, type Policy, type PolicyOutcome } from "../../engine/types.js";
import { str, type CommandSpec, type Parsed } from "../args.js";
import { CliError, EXIT, omitEmpty, toCliError, usageError, type CommandContext } from "../io.js";
import { policyTemplate } from "../assets.js";
import {
  loadPolicy, locateIntentError, parseDigestPin, policyFileError, readIntent, readText, writeEvidence, type IntentInput,
} from "../inputs.js";
import { loadSuite, runSuite, SUITE_SCHEMA_ID } from "../policy-suite.js";
import { renderJunit, renderSuiteText, suiteJson } from "../suite-report.js";

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
  summary: "evaluate one intent against a policy (rules only), or run a suite of named cases (--suite)",
  usage: [
    "policy test <policy.yaml> <intent.json> [--policy-digest sha256:<hex>] [--strict] [--json]",
    "policy test --suite <suite.yaml> [<policy.yaml>] [--junit <report.xml>] [--policy-digest sha256:<hex>] [--strict] [--json]",
  ],
  flags: {
    suite: { type: "string", value: "<suite.yaml>", help: "run the cases of a suite file (schema_id gait.gate.policy_suite) instead of one intent" },
    junit: { type: "string", value: "<report.xml>", help: "with --suite: also write a JUnit XML report for CI" },
    "policy-digest": { type: "string", value: "sha256:<hex>", help: "refuse to run unless the policy file has this digest" },
    strict: { type: "boolean", help: "an unknown intent key is an error (exit 6) instead of a warning" },
    json: { type: "boolean", help: "print JSON" },
  },
  positionals: { min: 0, max: 2, names: "<policy.yaml> <intent.json>" },
  notes: [
    "One intent: rules and fail-closed checks only (no kill switch, rate limits, approvals or broker) and no trace, as Gait's;",
    "  exit codes follow the verdict: 0 allow/dry_run, 3 block, 4 require_approval; 6 for invalid input.",
    "A suite (--suite, or a suite file as the only argument): every case decides as 'gait gate eval' would (an in-memory",
    "  rate-limit store per case, tokens minted by a key made for the run, no trace); a positional policy replaces the",
    "  suite's. Prints each case, a diff for every failing expectation and the rules no case reached.",
    "  Exit 0 when every case passes, 2 when any case fails, 6 when the suite or its policy is invalid.",
    "Unknown intent keys are reported with their line and column (a warning; an error with --strict).",
    "Suite format: schemas/policy-suite.schema.json; guide: docs/policy-authoring.md.",
  ],
};

export const policyExplainSpec: CommandSpec = {
  name: "policy explain",
  summary: "explain one intent's decision: which rules matched, which constraint decided, why the others did not",
  usage: ["policy explain <policy.yaml> <intent.json> [--evaluation-time <rfc3339>] [--strict] [--json]"],
  flags: {
    "evaluation-time": { type: "string", value: "<rfc3339>", help: "time for freeze windows and agent expiry (default now)" },
    strict: { type: "boolean", help: "an unknown intent key is an error (exit 6) instead of a warning" },
    json: { type: "boolean", help: "print the explanation as JSON (schema_id gait.gate.policy_explanation)" },
  },
  positionals: { min: 2, max: 2, names: "<policy.yaml> <intent.json>" },
  notes: [
    "Explains the rules stage, as 'gait policy test' evaluates it (rules and fail-closed checks; no rate limits,",
    "approvals or broker). The verdict it states is the one 'gait policy test' returns. Exit 0 unless the input is",
    "invalid (6): explaining a block is not a failure.",
  ],
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
  usage: ["policy init <baseline-lowrisk|baseline-mediumrisk|baseline-highrisk> [--out gait.policy.yaml] [--suite-out <suite.yaml>] [--force] [--json]"],
  flags: {
    out: { type: "string", value: "<path>", help: "where to write the policy", default: "gait.policy.yaml" },
    "suite-out": { type: "string", value: "<path>", help: "also write the template's test suite (it passes against the policy as written)" },
    force: { type: "boolean", help: "overwrite existing files" },
    json: { type: "boolean", help: "print JSON" },
  },
  positionals: { min: 1, max: 1, names: "<template>" },
  notes: ["Run the suite with 'gait policy test --suite <suite.yaml>'; extend it as you change the policy."],
};

export async function policyValidate(ctx: CommandContext, args: Parsed): Promise<number> {
  const path = args.positionals[0]!;
  const text = await readText(ctx, path, "policy");
  let policy: Policy;
  try {
    policy = parsePolicy(text);
  } catch (e) {
    const err = policyFileError(ctx, path, e);
    if (!(e instanceof PolicyValidationError)) throw err;
    // --json: every problem as data too, for editors and CI annotations
    const problems = e.issues.map((i) => omitEmpty({ file: path, line: i.line, column: i.column, message: i.message, suggestion: i.suggestion }));
    return ctx.fail(err, { problems });
  }
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

/** True when `path` holds a policy suite document (its `schema_id`), so `policy test <suite.yaml>` runs it. */
async function isSuiteFile(ctx: CommandContext, path: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(ctx.path(path), "utf8");
  } catch {
    return false; // the normal path reports the unreadable file
  }
  try {
    const doc = parseYaml(text) as unknown;
    return typeof doc === "object" && doc !== null && (doc as Record<string, unknown>).schema_id === SUITE_SCHEMA_ID;
  } catch {
    return false;
  }
}

export async function policyTest(ctx: CommandContext, args: Parsed): Promise<number> {
  const suitePath = str(args.flags.suite);
  const pos = args.positionals;
  if (suitePath) {
    if (pos.length > 1) {
      throw usageError(`'gait policy test --suite' takes at most one positional argument (<policy.yaml>), got ${pos.length}`, "run 'gait policy test --help'");
    }
    return policyTestSuite(ctx, args, suitePath, pos[0]);
  }
  if (pos.length === 1 && (await isSuiteFile(ctx, pos[0]!))) return policyTestSuite(ctx, args, pos[0]!, undefined);
  if (pos.length !== 2) {
    throw usageError(`'gait policy test' expects 2 positional argument(s) (<policy.yaml> <intent.json>), got ${pos.length}`, "run 'gait policy test --help'");
  }
  if (str(args.flags.junit)) throw usageError("--junit needs --suite (a JUnit report has one entry per suite case)", "run 'gait policy test --help'");
  const [policyPath, intentPath] = pos as [string, string];
  const policy = await loadPolicy(ctx, policyPath, args.flags["policy-digest"]);
  const input = await readIntent(ctx, intentPath, args.flags.strict === true);
  const rawIntent = input.raw;
  let outcome: PolicyOutcome;
  try {
    outcome = evaluatePolicy(policy, rawIntent, { evaluationTime: ctx.io.now() });
  } catch (e) {
    throw intentOrEngineError(e, input);
  }
  const exit = verdictExitCode(outcome.verdict);
  // Gait's policyTestOutput, key for key (cmd/gait/policy.go): the policytest result envelope plus a bounded summary.
  // Details (steps, freeze window, sandbox, approvals) are `gate eval --json`'s. `warnings` (unknown intent keys) is
  // ours and only present when there are some (docs/compatibility.md R13).
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
    warnings: [...ctx.warnings].sort(),
  });
  if (ctx.json) return ctx.printJson(out, exit);
  return ctx.printHuman([summary], exit);
}

export async function policyExplain(ctx: CommandContext, args: Parsed): Promise<number> {
  const [policyPath, intentPath] = args.positionals as [string, string];
  const policy = await loadPolicy(ctx, policyPath);
  const input = await readIntent(ctx, intentPath, args.flags.strict === true);
  let evaluationTime = ctx.io.now();
  const evalFlag = str(args.flags["evaluation-time"]);
  if (evalFlag) {
    const t = parseRFC3339(goTrimSpace(evalFlag));
    if (!t) throw usageError(`--evaluation-time must be RFC 3339 (e.g. 2026-01-02T15:04:05Z), got ${JSON.stringify(evalFlag)}`);
    evaluationTime = new Date(t.ms);
  }
  let explanation: PolicyExplanation;
  try {
    explanation = explainPolicy(policy, input.raw, { evaluationTime });
  } catch (e) {
    if (e instanceof ExplanationMismatchError) throw new CliError(e.message, EXIT.INTERNAL);
    throw intentOrEngineError(e, input);
  }
  if (ctx.json) return ctx.printJson({ ok: true, ...explanation, warnings: ctx.warnings.length ? [...ctx.warnings].sort() : undefined }, EXIT.OK);
  return ctx.printHuman(renderExplanation(explanation, policyPath, input.name), EXIT.OK);
}

/** The explanation as text: the verdict first, then the stages in evaluation order, condition by condition. */
export function renderExplanation(x: PolicyExplanation, policyPath: string, intentName: string): string[] {
  const lines = [
    `policy explain: ${intentName} against ${policyPath}`,
    `verdict: ${x.verdict}${x.reason_codes.length ? ` (${x.reason_codes.join(", ")})` : ""}`,
    `decided by: ${x.decided_by.stage.replace(/_/g, " ")}` +
      (x.decided_by.rules?.length ? ` ${x.decided_by.rules.join(", ")}` : "") +
      (x.decided_by.constraints?.length ? ` (constraint: ${x.decided_by.constraints.join(", ")})` : "") +
      (x.decided_by.reason_codes?.length && !x.decided_by.rules?.length ? ` (${x.decided_by.reason_codes.join(", ")})` : ""),
    `fail-closed: ${x.fail_closed.applies ? `applies to risk class ${x.fail_closed.risk_class}` : "does not apply"}${x.fail_closed.findings.length ? `; failed: ${x.fail_closed.findings.join(", ")}` : ""}`,
  ];
  const ruleLines = (rules: PolicyExplanation["rules"], indent: string) => {
    for (const r of rules) {
      lines.push(`${indent}${r.status.toUpperCase().replace("_", " ").padEnd(12)} ${r.name} (priority ${r.priority}, ${r.effect}): ${r.why}`);
      if (r.status === "decided" || r.status === "outranked" || r.status === "not_matched") {
        for (const c of r.conditions) lines.push(`${indent}    ${c.ok ? "ok  " : "FAIL"} ${c.key}: wants ${c.want.join(" | ")}; intent has ${c.have.length ? c.have.join(", ") : "nothing"}`);
        for (const c of r.constraints ?? []) lines.push(`${indent}    constraint ${c.constraint} -> ${c.effect} (${c.reason_codes.join(", ")})`);
      }
    }
  };
  if (x.steps) {
    for (const st of x.steps) {
      lines.push(`step ${st.index + 1} ${st.tool_name}: ${st.verdict}${st.matched_rule ? ` (matched ${st.matched_rule})` : ""}`);
      ruleLines(st.rules, "  ");
    }
  } else {
    lines.push(x.rules.length ? "rules (in evaluation order):" : "rules: (the policy has none)");
    ruleLines(x.rules, "  ");
  }
  if (x.kill_switch) lines.push(`kill switch: ${x.kill_switch.status}${x.kill_switch.reason_codes.length ? ` (${x.kill_switch.reason_codes.join(", ")})` : ""}`);
  return lines;
}

/** An intent error with the line and column of the field it names; other errors keep gate eval's mapping. */
function intentOrEngineError(e: unknown, input: IntentInput): CliError {
  if (e instanceof IntentError) return usageError(`${input.name}: ${locateIntentError(e.message, input)}`);
  return toCliError(e);
}

async function policyTestSuite(ctx: CommandContext, args: Parsed, suitePath: string, policyOverride: string | undefined): Promise<number> {
  const junit = str(args.flags.junit);
  const suite = await loadSuite(ctx, suitePath, policyOverride, args.flags.strict === true);
  const pin = str(args.flags["policy-digest"]);
  if (pin) {
    const want = parseDigestPin("policy-digest", pin);
    if (suite.policy.policy_digest !== want) {
      throw usageError(
        `policy digest mismatch: ${suite.policyPath} has sha256:${suite.policy.policy_digest}, --policy-digest pins sha256:${want}`,
        "use the policy file the pin was made for, or update the pin",
      );
    }
  }
  const result = await runSuite(suite, ctx.io.now());
  if (junit) await writeEvidence(ctx, junit, renderJunit(result), "junit report", 0o644);
  const exit = result.failed > 0 ? EXIT.VERIFY_FAILED : EXIT.OK;
  const failure = result.failed > 0
    ? new CliError(`${result.failed} of ${result.cases.length} cases failed`, EXIT.VERIFY_FAILED, {
        code: "policy_test_failed",
        hint: "each failing case shows what it expected and what the policy decided: fix the policy or the expectation",
      })
    : undefined;
  if (ctx.json) {
    const warnings = ctx.warnings.length ? { warnings: [...ctx.warnings].sort() } : {};
    return ctx.printJson({ ...suiteJson(result, junit), ...warnings }, exit, failure);
  }
  return ctx.printHuman([...renderSuiteText(result), junit ? `junit report: ${junit}` : undefined], exit);
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
  const suiteOut = str(args.flags["suite-out"]);
  let suiteText: string | undefined;
  if (suiteOut) {
    if (existsSync(ctx.path(suiteOut)) && args.flags.force !== true) {
      throw usageError(`refusing to overwrite existing ${suiteOut}`, "pass --force to replace it, or choose another --suite-out");
    }
    suiteText = await templateSuite(ctx, template, out, suiteOut);
  }
  await writeEvidence(ctx, out, text, "policy", 0o644);
  if (suiteOut && suiteText !== undefined) await writeEvidence(ctx, suiteOut, suiteText, "policy suite", 0o644);
  const result = omitEmpty({
    ok: true, template, policy_path: out, policy_digest: digest, default_verdict: defaultVerdict, rule_count: ruleCount, suite_path: suiteOut,
  });
  if (ctx.json) return ctx.printJson(result, EXIT.OK);
  return ctx.printHuman(
    [
      `policy init: wrote ${out} from ${template}`,
      suiteOut ? `policy init: wrote its test suite ${suiteOut}` : undefined,
      `policy_digest: sha256:${digest}`,
      suiteOut
        ? `next: gait policy test --suite ${suiteOut}, then add a case for every rule you add or change`
        : `next: gait policy validate ${out} && gait gate eval --policy ${out} --intent <intent.json> (--suite-out <file> writes the template's test suite)`,
    ],
    EXIT.OK,
  );
}

/**
 * The template's suite with its `policy:` pointing at the written policy (relative to the suite's folder), comments
 * kept. A missing or broken suite template is a packaging bug (exit 1), never handed to the user.
 */
async function templateSuite(ctx: CommandContext, template: string, policyOut: string, suiteOut: string): Promise<string> {
  const text = policyTemplate(`${template}.suite`); // embedded in the executable like the templates (scripts/build-dist.mjs)
  if (text === undefined) throw new CliError(`the test suite of template ${template} is missing from this installation (policies/templates/${template}.suite.yaml)`, EXIT.INTERNAL);
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || doc.get("schema_id") !== SUITE_SCHEMA_ID) {
    throw new CliError(`the test suite of template ${template} is invalid`, EXIT.INTERNAL);
  }
  doc.set("policy", relative(dirname(ctx.path(suiteOut)), ctx.path(policyOut)));
  return String(doc);
}
