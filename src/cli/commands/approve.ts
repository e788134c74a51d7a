/**
 * `gait approve`: mint a signed approval token bound to one intent digest and one policy digest (gate.md §5,
 * evidence.md §7). The token is a bearer artifact: `gait gate eval --approval-token` turns a matching
 * `require_approval` into `allow` until the token expires.
 */
import { mintApprovalToken, TokenMintError } from "../../engine/approval.js";
import { formatGoTimeSeconds, parseGoDuration, parseRFC3339 } from "../../engine/time.js";
import { csv, str, type CommandSpec, type Parsed } from "../args.js";
import { EXIT, usageError, type CommandContext } from "../io.js";
import { parseDigestPin, prettyJson, producerVersion, signingKey, writeEvidence } from "../inputs.js";

export const approveSpec: CommandSpec = {
  name: "approve",
  summary: "mint a signed approval token for one intent digest and policy digest",
  usage: [
    "approve --intent-digest <sha256> --policy-digest <sha256> [--delegation-binding-digest <sha256>] --ttl <duration>",
    "    --scope <csv> --approver <identity> --reason-code <code> [--max-targets <n>] [--max-ops <n>] [--out token.json]",
    "    [--key-mode dev|prod] [--private-key <path>|--private-key-env <VAR>] [--json]",
  ],
  flags: {
    "intent-digest": { type: "string", value: "<sha256>", help: "intent_digest from 'gait gate eval' (required)" },
    "policy-digest": { type: "string", value: "<sha256>", help: "policy_digest from 'gait gate eval' (required)" },
    "delegation-binding-digest": { type: "string", value: "<sha256>", help: "digest of the intent's delegation, when it has one" },
    ttl: { type: "string", value: "<duration>", help: "lifetime, Go syntax: 15m, 1h, 90s (required)" },
    scope: { type: "string", value: "<csv>", help: "scopes, e.g. tool:tool.write,phase:apply,destructive:apply or * (required)" },
    approver: { type: "string", value: "<identity>", help: "who approves (required)" },
    "reason-code": { type: "string", value: "<code>", help: "why (required)" },
    "max-targets": { type: "string", value: "<n>", help: "refuse intents with more targets (0 = no limit)" },
    "max-ops": { type: "string", value: "<n>", help: "refuse intents with more operations (0 = no limit)" },
    out: { type: "string", value: "<path>", help: "token file (default approval_<token_id>.json)" },
    "key-mode": { type: "string", value: "dev|prod", help: "dev: ephemeral key (the token cannot be verified later); prod: --private-key", default: "dev" },
    "private-key": { type: "string", value: "<path>", help: "signing key file (prod)" },
    "private-key-env": { type: "string", value: "<VAR>", help: "signing key from an environment variable (prod)" },
    json: { type: "boolean", help: "print JSON: ok, token_id, token_path, expires_at, scope, key_id, warnings" },
  },
  positionals: { min: 0, max: 0 },
  notes: [
    "gate eval verifies tokens with --approval-public-key, else with its own signing key: sign with a key the gate",
    "trusts (--key-mode prod --private-key ...). A dev-mode token is signed by a throwaway key and never verifies.",
  ],
};

function count(flag: string, v: string | boolean | undefined): number | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw usageError(`--${flag} must be a non-negative integer, got ${JSON.stringify(s)}`);
  return Number(s);
}

function required(f: Parsed["flags"], name: string): string {
  const v = str(f[name]);
  if (!v) throw usageError(`--${name} is required`, "run 'gait approve --help'");
  return v;
}

export async function approve(ctx: CommandContext, args: Parsed): Promise<number> {
  const f = args.flags;
  const intentDigest = parseDigestPin("intent-digest", required(f, "intent-digest"));
  const policyDigest = parseDigestPin("policy-digest", required(f, "policy-digest"));
  const binding = str(f["delegation-binding-digest"]);
  const ttlText = required(f, "ttl");
  let ttlMs: number;
  try {
    ttlMs = parseGoDuration(ttlText);
  } catch (e) {
    throw usageError(`--ttl: ${(e as Error).message}`);
  }
  if (!(ttlMs > 0)) throw usageError(`--ttl must be greater than 0, got ${JSON.stringify(ttlText)}`);
  const scope = csv(required(f, "scope"));
  const approver = required(f, "approver");
  const reasonCode = required(f, "reason-code");
  const signer = signingKey(ctx, f, "dev");
  if (str(f["key-mode"]) === undefined || str(f["key-mode"])!.toLowerCase() === "dev") {
    ctx.warn("dev mode approval token: signed by an ephemeral key, so no gate can verify it; use --key-mode prod --private-key <path>");
  }
  let token;
  try {
    token = mintApprovalToken(
      {
        intentDigest,
        policyDigest,
        ...(binding ? { delegationBindingDigest: parseDigestPin("delegation-binding-digest", binding) } : {}),
        ttlMs,
        scope,
        approver,
        reasonCode,
        maxTargets: count("max-targets", f["max-targets"]),
        maxOps: count("max-ops", f["max-ops"]),
        producerVersion: producerVersion(),
      },
      signer,
      ctx.io.now(),
    );
  } catch (e) {
    if (e instanceof TokenMintError) throw usageError(`approve: ${e.message}`);
    throw e;
  }
  const tokenPath = str(f.out) ?? `approval_${token.token_id}.json`;
  await writeEvidence(ctx, tokenPath, prettyJson(token), "approval token");
  // Gait's approveOutput, key for key (cmd/gait/approve.go): expires_at at second precision (time.RFC3339), the
  // token's reason code and limits (omitted when zero), and the fixed description (issue 9 #16).
  const expires = parseRFC3339(token.expires_at);
  const out = {
    ok: true,
    token_id: token.token_id,
    token_path: tokenPath,
    expires_at: expires ? formatGoTimeSeconds(expires.ms) : token.expires_at,
    reason_code: token.reason_code,
    scope: token.scope,
    ...(token.max_targets ? { max_targets: token.max_targets } : {}),
    ...(token.max_ops ? { max_ops: token.max_ops } : {}),
    key_id: signer.keyId,
    ...(ctx.warnings.length ? { warnings: [...ctx.warnings].sort() } : {}),
    description: "signed approval token created",
  };
  if (ctx.json) return ctx.printJson(out, EXIT.OK);
  return ctx.printHuman(
    [
      `approve: token ${token.token_id} written to ${tokenPath}`,
      `expires_at: ${token.expires_at}`,
      `scope: ${token.scope.join(",")}`,
      `key_id: ${signer.keyId}`,
      `use: gait gate eval ... --approval-token ${tokenPath}`,
    ],
    EXIT.OK,
  );
}
