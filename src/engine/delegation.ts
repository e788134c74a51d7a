/**
 * Delegation tokens (`gait.gate.delegation_token` 1.0.0) and delegation-chain validation (gate.md §4.7, stage 10).
 *
 * A verdict-setting rule with `match.require_delegation` needs one distinct valid token per link of the intent's
 * delegation chain (or, with no chain, one token delegating to the requester). Tokens are signed like approval
 * tokens. Unlike approvals, scope is any-of: one required scope (or `*`, or the token's scope_class) suffices.
 */
import { sha256Hex, isHex64 } from "./canon.js";
import { goToLower, goTrimSpace } from "./intent.js";
import { signDocument, verifyDocument, type Signer, type Verifier } from "./signature.js";
import { formatGoTime, GO_ZERO_TIME, type Instant } from "./time.js";
import {
  TokenMintError,
  DEFAULT_PRODUCER_VERSION,
  addTtl,
  compareStrings,
  isExpired,
  malformedReason,
  normalizeListLower,
  parseTokenShape,
  tokenTime,
  uniqueSorted,
} from "./approval.js";
import type { Delegation, DelegationAuditEntry, DelegationLink, DelegationToken } from "./types.js";

export const DELEGATION_TOKEN_SCHEMA_ID = "gait.gate.delegation_token";
export const DELEGATION_TOKEN_SCHEMA_VERSION = "1.0.0";

/** Per-token error codes in Gait's check order (chain_mismatch is assigned by the chain walk, not per token). */
export const DELEGATION_TOKEN_CODES = [
  "delegation_token_invalid",
  "delegation_token_signature_missing",
  "delegation_token_signature_invalid",
  "delegation_token_expired",
  "delegation_token_delegator_mismatch",
  "delegation_token_delegate_mismatch",
  "delegation_token_intent_mismatch",
  "delegation_token_policy_mismatch",
  "delegation_token_scope_mismatch",
  "delegation_token_chain_mismatch",
] as const;
export type DelegationTokenCode = (typeof DELEGATION_TOKEN_CODES)[number];

const DELEGATION_FIELDS = {
  schema_id: "string",
  schema_version: "string",
  created_at: "string",
  producer_version: "string",
  token_id: "string",
  delegator_identity: "string",
  delegate_identity: "string",
  scope: "strings",
  scope_class: "string",
  intent_digest: "string",
  policy_digest: "string",
  expires_at: "string",
  signature: "signature",
} as const;

/**
 * Read a delegation token JSON document. Like {@link parseApprovalToken}: shape problems make the token fail with
 * `delegation_token_invalid` at validation; only a non-object throws (TypeError).
 */
export function parseDelegationToken(json: unknown): DelegationToken {
  return parseTokenShape<DelegationToken>(json, DELEGATION_FIELDS, "delegation token");
}

interface NormalizedDelegation {
  token: DelegationToken;
  signable: Record<string, unknown>;
  expires: Instant;
}

function normalizeDelegationToken(token: DelegationToken): NormalizedDelegation | string {
  const bad = malformedReason(token);
  if (bad) return bad;
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const schemaId = str(token.schema_id) || DELEGATION_TOKEN_SCHEMA_ID;
  if (schemaId !== DELEGATION_TOKEN_SCHEMA_ID) return `unsupported schema_id: ${schemaId}`;
  const schemaVersion = str(token.schema_version) || DELEGATION_TOKEN_SCHEMA_VERSION;
  if (schemaVersion !== DELEGATION_TOKEN_SCHEMA_VERSION) return `unsupported schema_version: ${schemaVersion}`;
  const tokenId = goTrimSpace(str(token.token_id));
  if (!tokenId) return "token_id is required";
  const delegator = goTrimSpace(str(token.delegator_identity));
  const delegate = goTrimSpace(str(token.delegate_identity));
  if (!delegator || !delegate) return "delegator_identity and delegate_identity are required";
  const scope = Array.isArray(token.scope) ? normalizeListLower(token.scope) : [];
  if (!scope.length) return "scope is required";
  const scopeClass = goToLower(goTrimSpace(str(token.scope_class)));
  const intentDigest = goToLower(goTrimSpace(str(token.intent_digest)));
  if (intentDigest && !isHex64(intentDigest)) return "intent_digest must be sha256 hex when set";
  const policyDigest = goToLower(goTrimSpace(str(token.policy_digest)));
  if (policyDigest && !isHex64(policyDigest)) return "policy_digest must be sha256 hex when set";
  const created = tokenTime(str(token.created_at));
  if (!created) return "created_at is required (RFC 3339)";
  const expires = tokenTime(str(token.expires_at));
  if (!expires) return "expires_at is required (RFC 3339)";
  const normalized: DelegationToken = {
    schema_id: schemaId,
    schema_version: schemaVersion,
    created_at: created.json,
    producer_version: str(token.producer_version),
    token_id: tokenId,
    delegator_identity: delegator,
    delegate_identity: delegate,
    scope,
    ...(scopeClass ? { scope_class: scopeClass } : {}),
    ...(intentDigest ? { intent_digest: intentDigest } : {}),
    ...(policyDigest ? { policy_digest: policyDigest } : {}),
    expires_at: expires.json,
    ...(token.signature ? { signature: token.signature } : {}),
  };
  const { signature: _omit, ...signable } = normalized;
  return { token: normalized, signable, expires: expires.instant };
}

/** Parameters of `gait delegate`. */
export interface MintDelegationParams {
  delegator: string;
  delegate: string;
  scope: string[];
  scopeClass?: string;
  intentDigest?: string;
  policyDigest?: string;
  /** time to live in milliseconds (> 0) */
  ttlMs: number;
  producerVersion?: string;
}

/**
 * Mint and sign a delegation token as Gait does: token_id = first 12 bytes (24 hex) of
 * sha256(`delegator:delegate:scopeCSV:scopeClass:intent:policy:expiresRFC3339Nano`). Throws {@link TokenMintError}.
 */
export function mintDelegationToken(params: MintDelegationParams, signer: Signer, now: Date): DelegationToken {
  if (!(params.ttlMs > 0) || !Number.isFinite(params.ttlMs)) throw new TokenMintError("ttl must be greater than 0");
  const delegator = goTrimSpace(params.delegator);
  const delegate = goTrimSpace(params.delegate);
  if (!delegator || !delegate) throw new TokenMintError("delegator and delegate identities are required");
  const scope = normalizeListLower(params.scope);
  if (!scope.length) throw new TokenMintError("scope must include at least one value");
  const intentDigest = goToLower(goTrimSpace(params.intentDigest ?? ""));
  if (intentDigest && !isHex64(intentDigest)) throw new TokenMintError("intent_digest must be sha256 hex when set");
  const policyDigest = goToLower(goTrimSpace(params.policyDigest ?? ""));
  if (policyDigest && !isHex64(policyDigest)) throw new TokenMintError("policy_digest must be sha256 hex when set");
  const scopeClass = goToLower(goTrimSpace(params.scopeClass ?? ""));
  const createdAt = formatGoTime(now);
  const expiresAt = formatGoTime(addTtl(now, params.ttlMs));
  const idSource = [delegator, delegate, scope.join(","), scopeClass, intentDigest, policyDigest, expiresAt].join(":");
  const token: DelegationToken = {
    schema_id: DELEGATION_TOKEN_SCHEMA_ID,
    schema_version: DELEGATION_TOKEN_SCHEMA_VERSION,
    created_at: createdAt,
    producer_version: goTrimSpace(params.producerVersion ?? "") || DEFAULT_PRODUCER_VERSION,
    token_id: sha256Hex(idSource).slice(0, 24),
    delegator_identity: delegator,
    delegate_identity: delegate,
    scope,
    ...(scopeClass ? { scope_class: scopeClass } : {}),
    ...(intentDigest ? { intent_digest: intentDigest } : {}),
    ...(policyDigest ? { policy_digest: policyDigest } : {}),
    expires_at: expiresAt,
  };
  return { ...token, signature: signDocument(token, signer) };
}

/** What one token is checked against. Empty expectations are not checked. */
export interface DelegationValidationContext {
  expectedDelegator?: string;
  expectedDelegate?: string;
  /** any-of: the token must carry one of these (or `*`, or have it as scope_class); empty = no scope check */
  requiredScope: string[];
  /** checked only when the token carries an intent_digest */
  intentDigest?: string;
  /** checked only when the token carries a policy_digest */
  policyDigest?: string;
}

/** Validate one delegation token; returns the first failing code in Gait's order, or undefined when valid. */
export function validateDelegationToken(
  token: DelegationToken,
  ctx: DelegationValidationContext,
  verifier: Verifier | undefined,
  now: Date,
): DelegationTokenCode | undefined {
  const n = normalizeDelegationToken(token);
  if (typeof n === "string") return "delegation_token_invalid";
  if (!verifier) return "delegation_token_signature_invalid";
  if (!n.token.signature) return "delegation_token_signature_missing";
  try {
    verifyDocument(n.signable, n.token.signature, verifier);
  } catch {
    return "delegation_token_signature_invalid";
  }
  if (isExpired(now, n.expires)) return "delegation_token_expired";
  const delegator = goTrimSpace(ctx.expectedDelegator ?? "");
  if (delegator && n.token.delegator_identity !== delegator) return "delegation_token_delegator_mismatch";
  const delegate = goTrimSpace(ctx.expectedDelegate ?? "");
  if (delegate && n.token.delegate_identity !== delegate) return "delegation_token_delegate_mismatch";
  const intent = stripSha(goToLower(goTrimSpace(ctx.intentDigest ?? "")));
  if (intent && n.token.intent_digest && n.token.intent_digest !== intent) return "delegation_token_intent_mismatch";
  const policy = stripSha(goToLower(goTrimSpace(ctx.policyDigest ?? "")));
  if (policy && n.token.policy_digest && n.token.policy_digest !== policy) return "delegation_token_policy_mismatch";
  const required = normalizeListLower(ctx.requiredScope);
  if (required.length) {
    const have = new Set(n.token.scope);
    if (n.token.scope_class) have.add(n.token.scope_class);
    if (!have.has("*") && !required.some((s) => have.has(s))) return "delegation_token_scope_mismatch";
  }
  return undefined;
}

function stripSha(s: string): string {
  return s.startsWith("sha256:") ? s.slice(7) : s;
}

export interface DelegationChainResult {
  complete: boolean;
  requiredDelegations: number;
  validDelegations: number;
  /** unique sorted token ids of the tokens that satisfied a link */
  validTokenIds: string[];
  entries: DelegationAuditEntry[];
}

export interface DelegationChainInput {
  /** the normalized intent delegation; absent => the chain can never be complete */
  delegation?: Delegation;
  tokens: readonly DelegationToken[];
  /** `match.delegation_scopes` of the verdict-setting rules */
  requiredScope: string[];
  intentDigest: string;
  policyDigest: string;
  verifier: Verifier | undefined;
  now: Date;
}

/**
 * Gait's ValidateDelegationChain. Required links are the intent's chain, or `[{delegate: requester}]` when the chain
 * is empty. Each link takes the first unused token that validates against it. Unmatched links are audited with
 * `delegation_token_missing`; every unused token is audited with the code it fails against the first unmatched
 * link (or `delegation_token_chain_mismatch` when every link was matched).
 */
export function validateDelegationChain(input: DelegationChainInput): DelegationChainResult {
  if (!input.delegation) return { complete: false, requiredDelegations: 0, validDelegations: 0, validTokenIds: [], entries: [] };
  const links: DelegationLink[] = input.delegation.chain?.length
    ? input.delegation.chain
    : [{ delegate_identity: input.delegation.requester_identity, scope_class: input.delegation.scope_class, issued_at: GO_ZERO_TIME, expires_at: GO_ZERO_TIME }];
  const ctxFor = (link: DelegationLink): DelegationValidationContext => ({
    expectedDelegator: link.delegator_identity ?? "",
    expectedDelegate: link.delegate_identity ?? "",
    requiredScope: input.requiredScope,
    intentDigest: input.intentDigest,
    policyDigest: input.policyDigest,
  });
  const used = new Array<boolean>(input.tokens.length).fill(false);
  const matchedLinks = new Array<boolean>(links.length).fill(false);
  const entries: DelegationAuditEntry[] = [];
  const validIds: string[] = [];
  let valid = 0;

  links.forEach((link, li) => {
    for (let ti = 0; ti < input.tokens.length; ti++) {
      if (used[ti]) continue;
      const token = input.tokens[ti]!;
      if (validateDelegationToken(token, ctxFor(link), input.verifier, input.now) !== undefined) continue;
      used[ti] = true;
      matchedLinks[li] = true;
      valid++;
      if (typeof token.token_id === "string" && token.token_id) validIds.push(token.token_id);
      entries.push(tokenEntry(token, undefined));
      return;
    }
    const linkDelegator = goTrimSpace(link.delegator_identity ?? "");
    const linkDelegate = goTrimSpace(link.delegate_identity ?? "");
    // Go's omitempty never drops a time.Time, so Gait's audit entry for a missing link carries the zero expiry.
    entries.push({
      ...(linkDelegator ? { delegator_identity: linkDelegator } : {}),
      ...(linkDelegate ? { delegate_identity: linkDelegate } : {}),
      expires_at: GO_ZERO_TIME,
      valid: false,
      error_code: "delegation_token_missing",
    });
  });

  input.tokens.forEach((token, ti) => {
    if (used[ti]) return;
    let code: DelegationTokenCode = "delegation_token_chain_mismatch";
    for (let li = 0; li < links.length; li++) {
      if (matchedLinks[li]) continue;
      code = validateDelegationToken(token, ctxFor(links[li]!), input.verifier, input.now) ?? "delegation_token_chain_mismatch";
      break;
    }
    entries.push(tokenEntry(token, code));
  });

  return {
    complete: valid === links.length,
    requiredDelegations: links.length,
    validDelegations: valid,
    validTokenIds: uniqueSorted(validIds),
    entries,
  };
}

function tokenEntry(token: DelegationToken, code: DelegationTokenCode | undefined): DelegationAuditEntry {
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const expires = tokenTime(str(token.expires_at));
  const scope = uniqueSorted(Array.isArray(token.scope) ? token.scope : []);
  return {
    ...(str(token.token_id) ? { token_id: str(token.token_id) } : {}),
    ...(str(token.delegator_identity) ? { delegator_identity: str(token.delegator_identity) } : {}),
    ...(str(token.delegate_identity) ? { delegate_identity: str(token.delegate_identity) } : {}),
    ...(scope.length ? { scope } : {}),
    expires_at: expires ? formatGoTime(expires.instant) : GO_ZERO_TIME,
    valid: code === undefined,
    ...(code ? { error_code: code } : {}),
  };
}

export interface DelegationEvaluation {
  granted: boolean;
  reasons: string[];
  violations: string[];
  validCount: number;
  /** valid token ids joined by "," (only when granted) */
  delegationRef?: string;
  entries: DelegationAuditEntry[];
}

/**
 * Stage 10 outcome. No tokens: `delegation_token_missing` + violation `delegation_not_granted`. Incomplete chain:
 * every invalid audit entry's code + `delegation_chain_insufficient` + `delegation_not_granted`. Complete:
 * `delegation_granted` (the caller keeps its verdict). Not granted means the caller sets the verdict to block.
 */
export function evaluateDelegation(input: DelegationChainInput): DelegationEvaluation {
  if (input.tokens.length === 0) {
    return { granted: false, reasons: ["delegation_token_missing"], violations: ["delegation_not_granted"], validCount: 0, entries: [] };
  }
  const chain = validateDelegationChain(input);
  if (!chain.complete) {
    const reasons = new Set<string>(["delegation_chain_insufficient"]);
    for (const e of chain.entries) if (!e.valid && goTrimSpace(e.error_code ?? "")) reasons.add(goTrimSpace(e.error_code ?? ""));
    return {
      granted: false,
      reasons: [...reasons].sort(compareStrings),
      violations: ["delegation_not_granted"],
      validCount: chain.validDelegations,
      entries: chain.entries,
    };
  }
  return {
    granted: true,
    reasons: ["delegation_granted"],
    violations: [],
    validCount: chain.validDelegations,
    ...(chain.validTokenIds.length ? { delegationRef: chain.validTokenIds.join(",") } : {}),
    entries: chain.entries,
  };
}
