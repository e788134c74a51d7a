/**
 * Approval tokens (`gait.gate.approval_token` 1.0.0, gate.md §5, evidence.md §7): minting, per-token validation in
 * Gait's check order, the required scope of an intent, and quorum evaluation with its audit record.
 *
 * Tokens are Gait's signed JSON documents, so a token minted by `gait approve` verifies here and vice versa: the
 * signable form is the *normalized* token without `signature`, serialized with Go's field rules (`producer_version`
 * always present, `max_targets`/`max_ops`/`delegation_binding_digest` omitted when empty, times in Go's encoding).
 */
import { identityKey } from "./identity.js";
import { sha256Hex, isHex64 } from "./canon.js";
import { goToLower, goTrimSpace } from "./intent.js";
import { signDocument, verifyDocument, type Signer, type Verifier } from "./signature.js";
import { formatGoTime, parseRFC3339, GO_ZERO_TIME, type Instant } from "./time.js";
import type { ApprovalAuditEntry, ApprovalToken, IntentRequest, SignatureObject } from "./types.js";

export const APPROVAL_TOKEN_SCHEMA_ID = "gait.gate.approval_token";
export const APPROVAL_TOKEN_SCHEMA_VERSION = "1.0.0";
/** Gait's producer_version when none is given. */
export const DEFAULT_PRODUCER_VERSION = "0.0.0-dev";

/** Per-token error codes, in the order Gait checks them (the first failure is the token's code). */
export const APPROVAL_TOKEN_CODES = [
  "approval_token_invalid",
  "approval_token_signature_missing",
  "approval_token_signature_invalid",
  "approval_token_intent_mismatch",
  "approval_token_policy_mismatch",
  "approval_token_delegation_binding_mismatch",
  "approval_token_expired",
  "approval_token_scope_mismatch",
  "approval_token_max_targets_exceeded",
  "approval_token_max_ops_exceeded",
] as const;
export type ApprovalTokenCode = (typeof APPROVAL_TOKEN_CODES)[number];

/** Minting refused (bad digest, empty scope, ttl <= 0 ...). An input error: CLI exit 6. */
export class TokenMintError extends Error {
  override name = "TokenMintError";
}

// ---------------------------------------------------------------------------------------------------------------
// Shared token helpers (also used by delegation.ts)
// ---------------------------------------------------------------------------------------------------------------

/** Gait's normalizeStringListLower: trim, lowercase, drop empties, dedupe, sort. @internal */
export function normalizeListLower(values: readonly string[] | undefined): string[] {
  const out = new Set<string>();
  for (const v of values ?? []) {
    if (typeof v !== "string") continue;
    const t = goToLower(goTrimSpace(v));
    if (t) out.add(t);
  }
  return [...out].sort(compareStrings);
}

/** Trim, drop empties, dedupe, sort (case kept). @internal */
export function uniqueSorted(values: readonly string[] | undefined): string[] {
  const out = new Set<string>();
  for (const v of values ?? []) {
    if (typeof v !== "string") continue;
    const t = goTrimSpace(v);
    if (t) out.add(t);
  }
  return [...out].sort(compareStrings);
}

/** Byte-order string comparison (Go's sort.Strings on ASCII/UTF-8 agrees with UTF-16 order for BMP text). @internal */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const ZERO_TIME = /^0001-01-01[Tt]00:00:00(\.0+)?([Zz]|[+-]00:00)$/;

/**
 * A token timestamp as Go re-marshals it after decoding: RFC3339Nano with trailing zeros trimmed, the original UTC
 * offset kept (offset zero prints `Z`). Returns undefined for an unparsable or zero time (Gait rejects both).
 * @internal
 */
export function tokenTime(value: string): { json: string; instant: Instant } | undefined {
  const s = goTrimSpace(value);
  if (ZERO_TIME.test(s)) return undefined;
  const instant = parseRFC3339(s);
  if (!instant) return undefined;
  const tz = /([Zz]|[+-]\d{2}:\d{2})$/.exec(s)![1]!;
  const offsetMin = tz === "Z" || tz === "z" ? 0 : (tz[0] === "-" ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6)));
  if (offsetMin === 0) return { json: formatGoTime(instant), instant };
  const local = formatGoTime({ ms: instant.ms + offsetMin * 60_000, subMsNanos: instant.subMsNanos });
  return { json: local.slice(0, -1) + tz, instant };
}

/** True when the wall clock `now` is at or after `expires` (Gait: `!now.Before(expires_at)`). @internal */
export function isExpired(now: Date, expires: Instant): boolean {
  const n = now.getTime();
  return n > expires.ms || (n === expires.ms && expires.subMsNanos === 0);
}

/** Instant = now + ttl with nanosecond precision (ttl in milliseconds, possibly fractional). @internal */
/** The last instant RFC 3339 (four-digit years) can express. */
const MAX_RFC3339_MS = Date.parse("9999-12-31T23:59:59.999Z");

export function addTtl(now: Date, ttlMs: number): Instant {
  const ttlNanos = Math.round(ttlMs * 1_000_000);
  const ms = now.getTime() + Math.floor(ttlNanos / 1_000_000);
  return { ms, subMsNanos: ttlNanos % 1_000_000 };
}

/** Token documents whose JSON shape was wrong (wrong types, unknown fields). Validation reports them as invalid. */
const malformed = new WeakMap<object, string>();

/** Why a parsed token document was malformed, if it was. @internal */
export function malformedReason(token: object): string | undefined {
  return malformed.get(token);
}

/** Record that a parsed token was malformed. @internal */
export function markMalformed<T extends object>(token: T, reason: string): T {
  if (!malformed.has(token)) malformed.set(token, reason);
  return token;
}

type FieldKind = "string" | "int" | "strings" | "signature";

/**
 * Shape-check a token JSON object against its field list. Fields of the wrong type are dropped and the token is
 * marked malformed (so it fails with `*_invalid` at validation, never earlier). @internal
 */
export function parseTokenShape<T extends object>(json: unknown, fields: Readonly<Record<string, FieldKind>>, what: string): T {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new TypeError(`${what} must be a JSON object`);
  }
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const kind = fields[key];
    if (!kind) {
      problems.push(`unknown field "${key}"`);
      continue;
    }
    if (value === null || value === undefined) continue; // Go decodes null as the zero value
    switch (kind) {
      case "string":
        if (typeof value === "string") out[key] = value;
        else problems.push(`${key} must be a string`);
        break;
      case "int":
        if (typeof value === "number" && Number.isInteger(value)) out[key] = value;
        else problems.push(`${key} must be an integer`);
        break;
      case "strings":
        if (Array.isArray(value) && value.every((v) => typeof v === "string")) out[key] = [...value];
        else problems.push(`${key} must be an array of strings`);
        break;
      case "signature": {
        const sig = value as Record<string, unknown>;
        const ok =
          typeof value === "object" &&
          !Array.isArray(value) &&
          Object.keys(sig).every((k) => ["alg", "key_id", "sig", "signed_digest"].includes(k)) &&
          Object.values(sig).every((v) => v === null || typeof v === "string");
        if (ok) {
          out[key] = {
            alg: (sig.alg as string | null) ?? "",
            key_id: (sig.key_id as string | null) ?? "",
            sig: (sig.sig as string | null) ?? "",
            signed_digest: (sig.signed_digest as string | null) ?? "",
          } satisfies SignatureObject;
        } else problems.push(`${key} must be a signature object {alg, key_id, sig, signed_digest}`);
        break;
      }
    }
  }
  const token = out as T;
  if (problems.length) markMalformed(token, problems.join("; "));
  return token;
}

// ---------------------------------------------------------------------------------------------------------------
// Approval tokens
// ---------------------------------------------------------------------------------------------------------------

const APPROVAL_FIELDS: Readonly<Record<string, FieldKind>> = {
  schema_id: "string",
  schema_version: "string",
  created_at: "string",
  producer_version: "string",
  token_id: "string",
  approver_identity: "string",
  reason_code: "string",
  intent_digest: "string",
  policy_digest: "string",
  delegation_binding_digest: "string",
  scope: "strings",
  max_targets: "int",
  max_ops: "int",
  expires_at: "string",
  signature: "signature",
};

/**
 * Read an approval token JSON document. Shape problems (wrong field types, unknown fields, missing fields) never
 * throw: the token is returned and fails validation with `approval_token_invalid`, so one bad token in a chain is
 * reported like any other invalid token. Throws a TypeError only when the document is not a JSON object.
 */
export function parseApprovalToken(json: unknown): ApprovalToken {
  return parseTokenShape<ApprovalToken>(json, APPROVAL_FIELDS, "approval token");
}

interface NormalizedApproval {
  token: ApprovalToken;
  /** the Go-serialized signable document */
  signable: Record<string, unknown>;
  expires: Instant;
}

/** Gait's normalizeApprovalToken; returns an error text when the token is not a valid approval token. */
function normalizeApproval(token: ApprovalToken): NormalizedApproval | string {
  const bad = malformedReason(token);
  if (bad) return bad;
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const schemaId = str(token.schema_id) || APPROVAL_TOKEN_SCHEMA_ID;
  if (schemaId !== APPROVAL_TOKEN_SCHEMA_ID) return `unsupported schema_id: ${schemaId}`;
  const schemaVersion = str(token.schema_version) || APPROVAL_TOKEN_SCHEMA_VERSION;
  if (schemaVersion !== APPROVAL_TOKEN_SCHEMA_VERSION) return `unsupported schema_version: ${schemaVersion}`;
  const tokenId = goTrimSpace(str(token.token_id));
  if (!tokenId) return "token_id is required";
  const approver = goTrimSpace(str(token.approver_identity));
  if (!approver) return "approver_identity is required";
  const reasonCode = goTrimSpace(str(token.reason_code));
  if (!reasonCode) return "reason_code is required";
  const intentDigest = goToLower(goTrimSpace(str(token.intent_digest)));
  if (!isHex64(intentDigest)) return "intent_digest must be sha256 hex";
  const policyDigest = goToLower(goTrimSpace(str(token.policy_digest)));
  if (!isHex64(policyDigest)) return "policy_digest must be sha256 hex";
  const delegationBinding = goToLower(goTrimSpace(str(token.delegation_binding_digest)));
  if (delegationBinding && !isHex64(delegationBinding)) return "delegation_binding_digest must be sha256 hex when set";
  const scope = Array.isArray(token.scope) ? normalizeListLower(token.scope) : [];
  if (!scope.length) return "scope is required";
  const maxTargets = token.max_targets ?? 0;
  if (!Number.isSafeInteger(maxTargets) || maxTargets < 0) return "max_targets must be >= 0";
  const maxOps = token.max_ops ?? 0;
  if (!Number.isSafeInteger(maxOps) || maxOps < 0) return "max_ops must be >= 0";
  const created = tokenTime(str(token.created_at));
  if (!created) return "created_at is required (RFC 3339)";
  const expires = tokenTime(str(token.expires_at));
  if (!expires) return "expires_at is required (RFC 3339)";

  const normalized: ApprovalToken = {
    schema_id: schemaId,
    schema_version: schemaVersion,
    created_at: created.json,
    producer_version: str(token.producer_version),
    token_id: tokenId,
    approver_identity: approver,
    reason_code: reasonCode,
    intent_digest: intentDigest,
    policy_digest: policyDigest,
    ...(delegationBinding ? { delegation_binding_digest: delegationBinding } : {}),
    scope,
    ...(maxTargets ? { max_targets: maxTargets } : {}),
    ...(maxOps ? { max_ops: maxOps } : {}),
    expires_at: expires.json,
    ...(token.signature ? { signature: token.signature } : {}),
  };
  const { signature: _omit, ...signable } = normalized;
  return { token: normalized, signable, expires: expires.instant };
}

/** Parameters of `gait approve`. */
export interface MintApprovalParams {
  intentDigest: string;
  policyDigest: string;
  delegationBindingDigest?: string;
  /** time to live in milliseconds (> 0); `parseGoDuration("1h")` gives it from Go syntax */
  ttlMs: number;
  scope: string[];
  approver: string;
  reasonCode: string;
  maxTargets?: number;
  maxOps?: number;
  producerVersion?: string;
}

/**
 * Mint and sign an approval token exactly as `gait approve` does: token_id is the first 12 bytes (24 hex) of
 * sha256(`intent:policy:approver:reason:scopeCSV:maxTargets:maxOps:expiresRFC3339Nano`), expires_at = now + ttl,
 * and the signature covers the token without `signature`. Throws {@link TokenMintError} with Gait's messages.
 */
export function mintApprovalToken(params: MintApprovalParams, signer: Signer, now: Date): ApprovalToken {
  if (!(params.ttlMs > 0) || !Number.isFinite(params.ttlMs)) throw new TokenMintError("ttl must be greater than 0");
  const intentDigest = goToLower(goTrimSpace(params.intentDigest));
  if (!isHex64(intentDigest)) throw new TokenMintError("intent_digest must be sha256 hex");
  const policyDigest = goToLower(goTrimSpace(params.policyDigest));
  if (!isHex64(policyDigest)) throw new TokenMintError("policy_digest must be sha256 hex");
  const delegationBinding = goToLower(goTrimSpace(params.delegationBindingDigest ?? ""));
  if (delegationBinding && !isHex64(delegationBinding)) throw new TokenMintError("delegation_binding_digest must be sha256 hex when set");
  const approver = goTrimSpace(params.approver);
  if (!approver) throw new TokenMintError("approver identity is required");
  const reasonCode = goTrimSpace(params.reasonCode);
  if (!reasonCode) throw new TokenMintError("reason code is required");
  const scope = normalizeListLower(params.scope);
  if (!scope.length) throw new TokenMintError("scope must include at least one value");
  const maxTargets = params.maxTargets ?? 0;
  if (!Number.isSafeInteger(maxTargets) || maxTargets < 0) throw new TokenMintError("max_targets must be >= 0");
  const maxOps = params.maxOps ?? 0;
  if (!Number.isSafeInteger(maxOps) || maxOps < 0) throw new TokenMintError("max_ops must be >= 0");

  const createdAt = formatGoTime(now);
  const expiry = addTtl(now, params.ttlMs);
  // RFC 3339 has four-digit years: a later expiry would be written without its seconds and refused when read back
  if (!(expiry.ms <= MAX_RFC3339_MS)) throw new TokenMintError("ttl is too long: the token would expire after 9999-12-31T23:59:59Z");
  const expiresAt = formatGoTime(expiry);
  const idSource = `${intentDigest}:${policyDigest}:${approver}:${reasonCode}:${scope.join(",")}:${maxTargets}:${maxOps}:${expiresAt}`;
  const token: ApprovalToken = {
    schema_id: APPROVAL_TOKEN_SCHEMA_ID,
    schema_version: APPROVAL_TOKEN_SCHEMA_VERSION,
    created_at: createdAt,
    producer_version: goTrimSpace(params.producerVersion ?? "") || DEFAULT_PRODUCER_VERSION,
    token_id: sha256Hex(idSource).slice(0, 24),
    approver_identity: approver,
    reason_code: reasonCode,
    intent_digest: intentDigest,
    policy_digest: policyDigest,
    ...(delegationBinding ? { delegation_binding_digest: delegationBinding } : {}),
    scope,
    ...(maxTargets ? { max_targets: maxTargets } : {}),
    ...(maxOps ? { max_ops: maxOps } : {}),
    expires_at: expiresAt,
  };
  return { ...token, signature: signDocument(token, signer) };
}

/** What a token must be bound to for one decision (Gait's ApprovalValidationOptions). */
export interface ApprovalValidationContext {
  intentDigest: string;
  policyDigest: string;
  /** digest(normalized delegation) when the intent carries a delegation; otherwise empty/undefined (not checked) */
  delegationBindingDigest?: string;
  /** scopes every token must carry (see {@link requiredApprovalScopes}); `*` in a token matches all */
  requiredScope: string[];
  targetCount: number;
  opCount: number;
}

/**
 * Validate one approval token. Returns the FIRST failing code in Gait's order (see {@link APPROVAL_TOKEN_CODES})
 * or undefined when the token is valid. A missing verifier fails with `approval_token_signature_invalid` (after
 * the shape check), as Gait does when no verify key can be loaded.
 */
export function validateApprovalToken(
  token: ApprovalToken,
  ctx: ApprovalValidationContext,
  verifier: Verifier | undefined,
  now: Date,
): ApprovalTokenCode | undefined {
  const n = normalizeApproval(token);
  if (typeof n === "string") return "approval_token_invalid";
  if (!verifier) return "approval_token_signature_invalid";
  if (!n.token.signature) return "approval_token_signature_missing";
  try {
    verifyDocument(n.signable, n.token.signature, verifier);
  } catch {
    return "approval_token_signature_invalid";
  }
  const expectedIntent = goToLower(goTrimSpace(ctx.intentDigest));
  if (expectedIntent && n.token.intent_digest !== expectedIntent) return "approval_token_intent_mismatch";
  const expectedPolicy = goToLower(goTrimSpace(ctx.policyDigest));
  if (expectedPolicy && n.token.policy_digest !== expectedPolicy) return "approval_token_policy_mismatch";
  const expectedBinding = goToLower(goTrimSpace(ctx.delegationBindingDigest ?? ""));
  if (expectedBinding && (n.token.delegation_binding_digest ?? "") !== expectedBinding) return "approval_token_delegation_binding_mismatch";
  if (isExpired(now, n.expires)) return "approval_token_expired";
  const required = normalizeListLower(ctx.requiredScope);
  if (required.length && !n.token.scope.includes("*") && !required.every((s) => n.token.scope.includes(s))) {
    return "approval_token_scope_mismatch";
  }
  const maxTargets = n.token.max_targets ?? 0;
  if (maxTargets > 0 && ctx.targetCount > maxTargets) return "approval_token_max_targets_exceeded";
  const maxOps = n.token.max_ops ?? 0;
  if (maxOps > 0 && ctx.opCount > maxOps) return "approval_token_max_ops_exceeded";
  return undefined;
}

/**
 * The scopes an approval token must carry for this intent: `tool:<tool_name>`, plus `phase:apply` and
 * `destructive:apply` when the phase is apply and a top-level target is destructive. Lowercased and sorted.
 */
export function requiredApprovalScopes(intent: IntentRequest): string[] {
  const phase = goToLower(goTrimSpace(intent.context.phase ?? "")) || "apply";
  const scope = [`tool:${intent.tool_name}`];
  if (phase === "apply" && intent.targets.some((t) => t.destructive === true)) scope.push("phase:apply", "destructive:apply");
  return normalizeListLower(scope);
}

/** Target count checked against max_targets: total script-step targets when there are any, else len(targets). */
export function approvalTargetCount(intent: IntentRequest): number {
  const steps = intent.script?.steps ?? [];
  if (steps.length) {
    const total = steps.reduce((n, s) => n + (s.targets?.length ?? 0), 0);
    if (total > 0) return total;
  }
  return intent.targets.length;
}

/** Operation count checked against max_ops: number of script steps, else len(targets), at least 1. */
export function approvalOpCount(intent: IntentRequest): number {
  const steps = intent.script?.steps ?? [];
  if (steps.length) return steps.length;
  return Math.max(1, intent.targets.length);
}

/** Everything validation needs for one decision, derived from the normalized intent and the policy digest. */
export function approvalContext(intent: IntentRequest, policyDigest: string, delegationBindingDigest?: string): ApprovalValidationContext {
  return {
    intentDigest: intent.intent_digest,
    policyDigest,
    ...(delegationBindingDigest ? { delegationBindingDigest } : {}),
    requiredScope: requiredApprovalScopes(intent),
    targetCount: approvalTargetCount(intent),
    opCount: approvalOpCount(intent),
  };
}

export interface ApprovalAudit {
  required_approvals: number;
  valid_approvals: number;
  approved: boolean;
  approvers: string[];
  entries: ApprovalAuditEntry[];
}

export interface ApprovalEvaluation {
  /** all required approvals present: the caller turns require_approval into allow */
  granted: boolean;
  /** codes to merge into reason_codes (per-token codes, missing/insufficient/distinct, or approval_granted) */
  reasons: string[];
  /** `approval_not_granted` when not granted */
  violations: string[];
  required: number;
  validCount: number;
  /** sorted valid token ids joined by "," (only when granted) */
  approvalRef?: string;
  audit: ApprovalAudit;
}

export interface EvaluateApprovalsInput {
  tokens: readonly ApprovalToken[];
  /** the verdict-setting rules' min_approvals; values below 1 mean 1 */
  requiredApprovals: number;
  requireDistinctApprovers: boolean;
  context: ApprovalValidationContext;
  verifier: Verifier | undefined;
  now: Date;
}

/**
 * Gait's quorum over the supplied tokens (stage 11). No tokens: `approval_token_missing`. Otherwise every invalid
 * token contributes its code; fewer valid tokens than required adds `approval_chain_insufficient`; with
 * require_distinct_approvers (and required > 1) fewer distinct valid approvers than required adds
 * `approval_distinct_approvers_required`. Any of these also yields violation `approval_not_granted`. Otherwise the
 * approval is granted with `approval_granted`.
 */
export function evaluateApprovals(input: EvaluateApprovalsInput): ApprovalEvaluation {
  const required = input.requiredApprovals >= 1 ? Math.floor(input.requiredApprovals) : 1;
  const reasons = new Set<string>();
  const entries: ApprovalAuditEntry[] = [];
  const validIds: string[] = [];
  const approvers = new Set<string>();
  let valid = 0;
  let blocked = false;

  if (input.tokens.length === 0) {
    reasons.add("approval_token_missing");
    blocked = true;
  }
  for (const token of input.tokens) {
    const code = validateApprovalToken(token, input.context, input.verifier, input.now);
    entries.push(auditEntry(token, code));
    if (code) {
      reasons.add(code);
      continue;
    }
    valid++;
    if (token.token_id) validIds.push(token.token_id);
    // distinct approvers are distinct identities: "bob", "Bob" and "bob"+U+200B are one person (identity.ts)
    const who = typeof token.approver_identity === "string" ? identityKey(token.approver_identity) : "";
    if (who) approvers.add(who);
  }
  if (input.tokens.length > 0) {
    if (valid < required) {
      reasons.add("approval_chain_insufficient");
      blocked = true;
    }
    if (input.requireDistinctApprovers && required > 1 && approvers.size < required) {
      reasons.add("approval_distinct_approvers_required");
      blocked = true;
    }
  }
  if (!blocked) reasons.add("approval_granted");
  const audit = buildApprovalAudit(required, entries);
  return {
    granted: !blocked,
    reasons: [...reasons].sort(compareStrings),
    violations: blocked ? ["approval_not_granted"] : [],
    required,
    validCount: valid,
    ...(!blocked && validIds.length ? { approvalRef: uniqueSorted(validIds).join(",") } : {}),
    audit,
  };
}

function auditEntry(token: ApprovalToken, code: ApprovalTokenCode | undefined): ApprovalAuditEntry {
  const str = (v: unknown) => (typeof v === "string" ? goTrimSpace(v) : "");
  const expires = tokenTime(str(token.expires_at));
  return {
    token_id: str(token.token_id),
    approver_identity: str(token.approver_identity),
    reason_code: str(token.reason_code),
    scope: uniqueSorted(Array.isArray(token.scope) ? token.scope : []),
    expires_at: expires ? formatGoTime(expires.instant) : GO_ZERO_TIME,
    valid: code === undefined,
    ...(code ? { error_code: code } : {}),
  };
}

/**
 * The approval audit record body (`gait.gate.approval_audit_record`, without schema/trace fields): entries sorted by
 * token_id, approver, reason, expires_at, scope; approved = valid >= required; approvers = sorted valid identities.
 */
export function buildApprovalAudit(requiredApprovals: number, entries: readonly ApprovalAuditEntry[]): ApprovalAudit {
  const required = Math.max(0, requiredApprovals);
  const sorted = entries.map((e) => ({ ...e, scope: uniqueSorted(e.scope) }));
  sorted.sort(
    (a, b) =>
      compareStrings(a.token_id, b.token_id) ||
      compareStrings(a.approver_identity, b.approver_identity) ||
      compareStrings(a.reason_code, b.reason_code) ||
      compareInstants(a.expires_at, b.expires_at) ||
      compareStrings(a.scope.join(","), b.scope.join(",")),
  );
  const validEntries = sorted.filter((e) => e.valid);
  return {
    required_approvals: required,
    valid_approvals: validEntries.length,
    approved: validEntries.length >= required,
    approvers: uniqueSorted(validEntries.map((e) => e.approver_identity)),
    entries: sorted,
  };
}

function compareInstants(a: string, b: string): number {
  const pa = parseRFC3339(a);
  const pb = parseRFC3339(b);
  if (!pa || !pb) return compareStrings(a, b);
  return pa.ms - pb.ms || pa.subMsNanos - pb.subMsNanos;
}
