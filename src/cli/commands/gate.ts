/**
 * `gait gate eval`: the authoritative one-shot boundary check (gate.md §1 stages 1-14, §7.1; evidence.md §6.2).
 *
 * Order: inputs and keys are loaded first (any problem => exit 6, no verdict), then the one decision pipeline
 * (src/service/decide.ts) decides and its sink writes the signed trace BEFORE anything is printed; if the trace
 * cannot be written the command fails without a verdict. Audit files (approval, delegation, credential evidence)
 * follow, as Gait writes them. Failures are GateErrors, mapped to exit codes in one table (io.ts).
 */
import { isAbsolute } from "node:path";
import { parseApprovalToken } from "../../engine/approval.js";
import { BrokerError } from "../../engine/broker.js";
import { parseDelegationToken } from "../../engine/delegation.js";
import { verdictExitCode } from "../../engine/exit-codes.js";
import { goTrimSpace } from "../../engine/intent.js";
import { normalizeGoTime, parseRFC3339 } from "../../engine/time.js";
import { approvalAuditRelationship, delegationAuditRelationship, cleanStepVerdict, goSubDecisions } from "../../engine/trace.js";
import type { ApprovalToken, CredentialBroker, DelegationToken } from "../../engine/types.js";
import { DEFAULT_ENV_PREFIX, resolveBroker } from "../../infra/brokers.js";
import { decide, type Decision } from "../../service/decide.js";
import { isGateError } from "../../service/errors.js";
import { FileCounterStore } from "../../state/counters-file.js";
import { loadKillSwitchForGate } from "../../state/killswitch-file.js";
import { csv, oneOf, str, type CommandSpec, type Parsed } from "../args.js";
import { CliError, EXIT, omitEmpty, toCliError, usageError, type CommandContext } from "../io.js";
import { loadPolicy, prettyJson, producerVersion, readIntent, readJson, refusePublishedKey, signingKey, verifyKey, writeEvidence } from "../inputs.js";

const s = (value: string, help: string, dflt?: string) => ({ type: "string" as const, value, help, ...(dflt !== undefined ? { default: dflt } : {}) });
const b = (help: string) => ({ type: "boolean" as const, help });

export const gateEvalSpec: CommandSpec = {
  name: "gate eval",
  summary: "decide one tool-call intent against a policy and write a signed trace",
  usage: [
    "gate eval --policy <policy.yaml> --intent <intent.json> [--profile standard|oss-prod] [--simulate]",
    "    [--approval-token <token.json>] [--approval-token-chain <csv>] [--approval-public-key <path>|--approval-public-key-env <VAR>]",
    "    [--delegation-token <token.json>] [--delegation-token-chain <csv>] [--delegation-public-key <path>|--delegation-public-key-env <VAR>]",
    "    [--approval-audit-out audit.json] [--delegation-audit-out audit.json] [--rate-limit-state state.json]",
    "    [--credential-broker off|stub|env|command] [--credential-env-prefix GAIT_BROKER_TOKEN_] [--credential-command <path>]",
    "    [--credential-command-args csv] [--credential-ref ref] [--credential-scopes csv] [--credential-evidence-out path]",
    "    [--evaluation-time <rfc3339>] [--kill-switch-state <state.json>] [--trace-out trace.json] [--policy-digest sha256:<hex>]",
    "    [--key-mode dev|prod] [--private-key <path>|--private-key-env <VAR>] [--strict] [--json]",
  ],
  flags: {
    policy: s("<policy.yaml>", "policy file (required)"),
    intent: s("<intent.json>", "intent request JSON (required)"),
    profile: s("standard|oss-prod", "oss-prod: prod keys, no simulate, broker and explicit verify keys required", "standard"),
    simulate: b("observe mode: report what would have been blocked, verdict becomes allow"),
    "approval-token": s("<token.json>", "signed approval token"),
    "approval-token-chain": s("<csv>", "more approval token files (comma-separated)"),
    "approval-public-key": s("<path>", "approval verify key (default: the signing key's public key)"),
    "approval-public-key-env": s("<VAR>", "approval verify key from an environment variable"),
    "delegation-token": s("<token.json>", "signed delegation token"),
    "delegation-token-chain": s("<csv>", "more delegation token files (comma-separated)"),
    "delegation-public-key": s("<path>", "delegation verify key (default: the approval verify key)"),
    "delegation-public-key-env": s("<VAR>", "delegation verify key from an environment variable"),
    "approval-audit-out": s("<path>", "approval audit file (default approval_audit_<trace_id>.json when approvals apply)"),
    "delegation-audit-out": s("<path>", "delegation audit file (default delegation_audit_<trace_id>.json when delegation applies)"),
    "rate-limit-state": s("<path>", "rate-limit counter file (locked)", ".gait-out/gate_rate_limits.json"),
    "credential-broker": s("off|stub|env|command", "credential broker for rules with require_broker_credential", "off"),
    "credential-env-prefix": s("<prefix>", "env broker: variable prefix", "GAIT_BROKER_TOKEN_"),
    "credential-command": s("<path>", "command broker: executable"),
    "credential-command-args": s("<csv>", "command broker: arguments (comma-separated)"),
    "credential-ref": s("<ref>", "credential reference requested from the broker"),
    "credential-scopes": s("<csv>", "extra scopes requested from the broker"),
    "credential-evidence-out": s("<path>", "credential evidence file (default credential_evidence_<trace_id>.json when a credential is issued)"),
    "evaluation-time": s("<rfc3339>", "time for freeze windows, kill-switch and agent expiry (default now)"),
    "kill-switch-state": s("<state.json>", "kill-switch state file"),
    "trace-out": s("<path>", "signed trace file (default trace_<trace_id>.json)"),
    "policy-digest": s("sha256:<hex>", "refuse to run unless the policy file has this digest"),
    "key-mode": s("dev|prod", "dev: ephemeral signing key; prod: --private-key/--private-key-env", "dev"),
    "private-key": s("<path>", "signing key file (prod)"),
    "private-key-env": s("<VAR>", "signing key from an environment variable (prod)"),
    strict: b("an unknown intent key is an error (exit 6) instead of a warning"),
    json: b("print JSON"),
  },
  positionals: { min: 0, max: 0 },
  notes: [
    "Exit codes: 0 allow/dry_run, 3 block, 4 require_approval, 6 invalid input, 1 internal/I-O failure.",
    "Only 'allow' may execute. Approval round trip: gait approve --intent-digest <d> --policy-digest <d> --scope tool:<name> ...",
    "then re-run with --approval-token <token.json> (tokens verify against --approval-public-key, else the signing key).",
  ],
};

/** Token files: the primary flag plus the CSV chain, de-duplicated by path and sorted (Gait). */
function tokenPaths(primary: string | undefined, chain: string | boolean | undefined): string[] {
  return [...new Set([...(primary ? [primary] : []), ...csv(chain)])].sort();
}

async function readTokens<T>(ctx: CommandContext, paths: string[], what: string, parse: (j: unknown) => T): Promise<T[]> {
  const out: T[] = [];
  for (const p of paths) {
    const json = await readJson(ctx, p, what);
    try {
      out.push(parse(json));
    } catch (e) {
      throw usageError(`${what} ${p}: ${(e as Error).message}`);
    }
  }
  return out;
}

function makeBroker(ctx: CommandContext, f: Parsed["flags"]): CredentialBroker | undefined {
  const kind = oneOf("credential-broker", f["credential-broker"], ["off", "stub", "env", "command"] as const, "off");
  const command = str(f["credential-command"]);
  try {
    return resolveBroker(kind, {
      envPrefix: str(f["credential-env-prefix"]) ?? DEFAULT_ENV_PREFIX,
      // a relative path (./broker) is relative to the invocation directory
      ...(command ? { command: command.includes("/") && !isAbsolute(command) ? ctx.path(command) : command } : {}),
      commandArgs: csv(f["credential-command-args"]),
      env: ctx.io.env,
    });
  } catch (e) {
    if (e instanceof BrokerError) throw usageError(e.message);
    throw e;
  }
}

export async function gateEval(ctx: CommandContext, args: Parsed): Promise<number> {
  const f = args.flags;
  const profile = oneOf("profile", f.profile, ["standard", "oss-prod"] as const, "standard");
  const keyMode = oneOf("key-mode", f["key-mode"], ["dev", "prod"] as const, "dev");
  if (profile === "oss-prod") {
    if (keyMode !== "prod") throw usageError("oss-prod profile requires --key-mode prod");
    if (!str(f["private-key"]) && !str(f["private-key-env"])) throw usageError("oss-prod profile requires --private-key or --private-key-env");
  }
  const intentPath = str(f.intent);
  if (!str(f.policy)) throw usageError("--policy is required", "run 'gait gate eval --help'");
  if (!intentPath) throw usageError("--intent is required", "run 'gait gate eval --help'");

  const policy = await loadPolicy(ctx, str(f.policy), f["policy-digest"]);
  const rawIntent = (await readIntent(ctx, intentPath, f.strict === true)).raw; // unknown keys: warning, or error with --strict
  let evaluationTime: Date | undefined;
  const evalFlag = str(f["evaluation-time"]);
  if (evalFlag) {
    const t = parseRFC3339(goTrimSpace(evalFlag)); // Gait: time.Parse(time.RFC3339, strings.TrimSpace(flag))
    if (!t) throw usageError(`--evaluation-time must be RFC 3339 (e.g. 2026-01-02T15:04:05Z), got ${JSON.stringify(evalFlag)}`);
    evaluationTime = new Date(t.ms);
  }
  const signer = signingKey(ctx, f, "dev");

  const approvalTokens = await readTokens<ApprovalToken>(ctx, tokenPaths(str(f["approval-token"]), f["approval-token-chain"]), "approval token", parseApprovalToken);
  const delegationTokens = await readTokens<DelegationToken>(
    ctx,
    tokenPaths(str(f["delegation-token"]), f["delegation-token-chain"]),
    "delegation token",
    parseDelegationToken,
  );
  const explicitApprovalKey = verifyKey(ctx, { path: str(f["approval-public-key"]), env: str(f["approval-public-key-env"]) }, {}, "approval public key");
  // Gait: without an explicit key, tokens are verified with the gate's own signing key (never in oss-prod).
  const approvalVerifier = explicitApprovalKey ?? (profile === "oss-prod" ? undefined : signer.verifier());
  const delegationVerifier = verifyKey(ctx, { path: str(f["delegation-public-key"]), env: str(f["delegation-public-key-env"]) }, {}, "delegation public key");
  refusePublishedKey(keyMode, explicitApprovalKey?.keyId, "approval public key", str(f["approval-public-key"]) ?? `env:${str(f["approval-public-key-env"])}`);
  refusePublishedKey(keyMode, delegationVerifier?.keyId, "delegation public key", str(f["delegation-public-key"]) ?? `env:${str(f["delegation-public-key-env"])}`);
  const ksPath = str(f["kill-switch-state"]);
  const killSwitch = ksPath ? await loadKillSwitchForGate(ctx.path(ksPath), ksPath) : undefined;
  const broker = makeBroker(ctx, f);
  const counters = new FileCounterStore(ctx.path(str(f["rate-limit-state"]) ?? ".gait-out/gate_rate_limits.json"));
  const version = producerVersion();

  // the one pipeline (src/service/decide.ts); this surface's sink writes the signed trace file, then Gait's audit
  // and credential evidence files
  const d = await decide(
    { intent: rawIntent, approvalTokens, delegationTokens },
    {
      mode: "gate",
      policy,
      profile,
      signer,
      producerVersion: version,
      now: () => ctx.io.now(),
      gate: {
        counters,
        simulate: f.simulate === true,
        ...(evaluationTime ? { evaluationTime } : {}),
        ...(killSwitch ? { killSwitch } : {}),
        ...(approvalVerifier ? { approvalVerifier } : {}),
        ...(delegationVerifier ? { delegationVerifier } : {}),
        ...(broker ? { broker } : {}),
        ...(str(f["credential-ref"]) ? { brokerReference: str(f["credential-ref"]) } : {}),
        ...(csv(f["credential-scopes"]).length ? { brokerScopes: csv(f["credential-scopes"]) } : {}),
      },
      traceMeta: (result, latencyMs) => ({
        correlationId: ctx.correlationId,
        latencyMs,
        delegationReasonCodes: result.reason_codes.filter((c) => c.startsWith("delegation_")),
      }),
      sink: {
        record: async (record, text) => {
          const path = str(f["trace-out"]) ?? `trace_${record.trace_id}.json`;
          await writeEvidence(ctx, path, prettyJson(record), "trace");
          return { path };
        },
        artifacts: (dec) => writeGateArtifacts(ctx, f, dec, version),
      },
    },
  ).catch((e: unknown) => {
    // the kill-switch file is this command's input: unusable for a call that does not require it is an input
    // error (Gait), where the service reports its own state unavailable
    if (isGateError(e) && e.metadata.state === "kill_switch") throw usageError(e.message);
    throw e;
  });
  const result = d.result;
  for (const w of d.warnings) ctx.warn(w);
  const tracePath = d.recorded.path!;
  const trace = d.record;
  const { approval: approvalAuditPath, delegation: delegationAuditPath, credential: credentialEvidencePath } = d.artifacts;
  const receipt = result.broker?.receipt;

  const exit = verdictExitCode(result.verdict);
  const ctxIntent = result.intent.context;
  const out = omitEmpty({
    ok: true,
    profile,
    verdict: result.verdict,
    reason_codes: result.reason_codes,
    violations: result.violations,
    approval_ref: result.approval_ref,
    required_approvals: result.required_approvals,
    valid_approvals: result.valid_approvals,
    required_approval_scopes: result.required_approval_scopes,
    approval_audit_path: approvalAuditPath,
    delegation_ref: result.delegation_ref,
    delegation_required: result.delegation_required,
    valid_delegations: result.valid_delegations,
    delegation_audit_path: delegationAuditPath,
    trace_id: trace.trace_id,
    trace_path: tracePath,
    policy_digest: result.policy_digest,
    intent_digest: result.intent_digest,
    context_set_digest: ctxIntent?.context_set_digest,
    context_evidence_mode: ctxIntent?.context_evidence_mode,
    context_ref_count: ctxIntent?.context_refs?.length,
    script: result.script,
    step_count: result.step_count,
    script_hash: result.script_hash,
    composite_risk_class: result.composite_risk_class,
    // Go's marshalling of Gait's gateEvalOutput: empty step fields omitted, zero times printed (issue 9 #16)
    step_verdicts: result.step_verdicts?.map(cleanStepVerdict),
    matched_rule: result.matched_rule,
    ...goSubDecisions(result),
    phase: result.phase,
    rate_limit_scope: result.rate_limit_scope,
    rate_limit_key: result.rate_limit_key,
    rate_limit_used: result.rate_limit_used,
    rate_limit_remaining: result.rate_limit_remaining,
    destructive_budget_scope: result.destructive_budget_scope,
    destructive_budget_key: result.destructive_budget_key,
    destructive_budget_used: result.destructive_budget_used,
    destructive_budget_remaining: result.destructive_budget_remaining,
    credential_issuer: receipt?.issuer ?? receipt?.issued_by,
    credential_source: receipt?.source,
    credential_access_type: receipt?.access_type,
    credential_ref: receipt?.credential_ref,
    credential_ttl_seconds: receipt?.ttl_seconds,
    credential_evidence_path: credentialEvidencePath,
    simulate_mode: result.simulate_mode,
    would_have_blocked: result.would_have_blocked,
    simulated_verdict: result.simulated_verdict,
    simulated_reason_codes: result.simulated_reason_codes,
    warnings: [...ctx.warnings].sort(),
  });
  if (ctx.json) return ctx.printJson(out, exit);

  const lines: (string | undefined)[] = [
    `gate eval: verdict=${result.verdict}${result.verdict === "allow" ? "" : " (do not execute)"}`,
    result.reason_codes.length ? `reasons: ${result.reason_codes.join(",")}` : undefined,
    result.violations.length ? `violations: ${result.violations.join(",")}` : undefined,
    result.matched_rule ? `matched rule: ${result.matched_rule}` : undefined,
    `intent_digest: ${result.intent_digest}`,
    `policy_digest: ${result.policy_digest}`,
    `trace: ${tracePath} (trace_id ${trace.trace_id})`,
  ];
  if (result.simulate_mode) lines.push(`simulate: would_have_blocked=${!!result.would_have_blocked} simulated_verdict=${result.simulated_verdict}`);
  if (result.required_approvals) lines.push(`approvals: ${result.valid_approvals ?? 0}/${result.required_approvals}`);
  if (result.verdict === "require_approval") {
    const scope = (result.required_approval_scopes ?? [`tool:${result.tool_name}`]).join(",");
    lines.push(
      `approve with: gait approve --intent-digest ${result.intent_digest} --policy-digest ${result.policy_digest} --scope ${scope} --ttl 1h --approver <you> --reason-code <code> --key-mode prod --private-key <key>`,
    );
  }
  if (approvalAuditPath) lines.push(`approval audit: ${approvalAuditPath}`);
  if (delegationAuditPath) lines.push(`delegation audit: ${delegationAuditPath}`);
  if (receipt?.credential_ref) lines.push(`credential: ${receipt.credential_ref}`);
  if (credentialEvidencePath) lines.push(`credential evidence: ${credentialEvidencePath}`);
  return ctx.printHuman(lines, exit);
}

/**
 * Gait's evidence files after the trace: approval and delegation audit records (unsigned, named after the trace)
 * and the credential evidence record. Returns their paths by kind.
 */
async function writeGateArtifacts(ctx: CommandContext, f: Parsed["flags"], d: Decision, version: string): Promise<Record<string, string>> {
  const result = d.result;
  const trace = d.record;
  const createdAt = trace.created_at;
  const paths: Record<string, string> = {};
  const writeAudit = async (kind: "approval" | "delegation", body: object | undefined): Promise<void> => {
    if (!body) return;
    const path = str(f[`${kind}-audit-out`]) ?? `${kind}_audit_${trace.trace_id}.json`;
    const record = {
      schema_id: `gait.gate.${kind}_audit_record`,
      schema_version: "1.0.0",
      created_at: createdAt,
      producer_version: version,
      trace_id: trace.trace_id,
      tool_name: trace.tool_name,
      intent_digest: result.intent_digest,
      policy_digest: result.policy_digest,
      ...body,
    };
    await writeEvidence(ctx, path, prettyJson(record), `${kind} audit`);
    paths[kind] = path;
  };
  // Gait's ApprovalAuditRecord: approvers omitted when empty, a relationship envelope, and `entries` written as
  // null when there are none (a nil Go slice without omitempty).
  const approval = result.approval_audit;
  await writeAudit(
    "approval",
    approval && {
      required_approvals: approval.required_approvals,
      valid_approvals: approval.valid_approvals,
      approved: approval.approved,
      ...(approval.approvers.length ? { approvers: approval.approvers } : {}),
      ...optionalRelationship(approvalAuditRelationship(trace.trace_id, trace.tool_name, result.policy_digest, approval.approvers)),
      entries: approval.entries.length ? approval.entries : null,
    },
  );
  // Gait's DelegationAuditRecord carries a relationship envelope before its entries (relationship.go).
  const delegation = result.delegation_audit;
  await writeAudit(
    "delegation",
    delegation && (() => {
      const { entries, ...head } = delegation;
      return {
        ...head,
        ...optionalRelationship(delegationAuditRelationship(trace.trace_id, trace.tool_name, result.policy_digest, entries)),
        entries,
      };
    })(),
  );
  const receipt = result.broker?.receipt;
  if (result.broker && receipt?.credential_ref) {
    const path = str(f["credential-evidence-out"]) ?? `credential_evidence_${trace.trace_id}.json`;
    await writeEvidence(
      ctx,
      path,
      prettyJson(
        omitEmpty({
          schema_id: "gait.gate.broker_credential_record",
          schema_version: "1.0.0",
          created_at: createdAt,
          producer_version: version,
          trace_id: trace.trace_id,
          tool_name: trace.tool_name,
          identity: result.intent.context.identity,
          // Gait records who actually issued the credential (e.g. aws_sts behind a command broker)
          broker: receipt.issued_by ?? result.broker.broker,
          reference: result.broker.reference,
          scope: result.broker.scope,
          credential_ref: receipt.credential_ref,
          credential_source: receipt.source,
          credential_access_type: receipt.access_type,
          credential_issuer: receipt.issuer?.trim() ? receipt.issuer : receipt.issued_by,
          credential_subject: receipt.subject,
          credential_owner: receipt.owner,
          request_digest: result.broker.request_digest,
          target_binding: receipt.target_binding,
          run_binding: receipt.run_binding,
          job_binding: receipt.job_binding,
          issued_at: receipt.issued_at && normalizeGoTime(receipt.issued_at),
          expires_at: receipt.expires_at && normalizeGoTime(receipt.expires_at),
          ttl_seconds: receipt.ttl_seconds,
        }),
      ),
      "credential evidence",
    );
    paths.credential = path;
  }
  return paths;
}

function optionalRelationship<T>(relationship: T | undefined): { relationship?: T } {
  return relationship ? { relationship } : {};
}
