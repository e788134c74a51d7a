/**
 * Credential broker stage (gate.md §4.11, stage 12): an `allow` from a rule with `require_broker_credential` is
 * valid only if a just-in-time credential can be brokered for exactly this call.
 *
 * This module is pure: request building and its digest, receipt normalization and validation, and the
 * deterministic `stub` broker. The `env` and `command` brokers do I/O and live in `src/infra/brokers.ts`.
 * Receipts carry references to credentials (`credential_ref`), never credential values.
 */
import { digestJCS, sha256Hex } from "./canon.js";
import { goToLower, goTrimSpace } from "./intent.js";
import { formatGoTime, parseRFC3339 } from "./time.js";
import type { BrokerReceipt, BrokerRequest, CredentialBroker, PolicyRule } from "./types.js";

/** The broker could not issue a credential (unset env var, failing command, empty credential_ref ...). */
export class BrokerError extends Error {
  override name = "BrokerError";
}

/** Gait's scope normalization for broker requests and receipts: trim, lowercase, drop empties, dedupe, keep order. */
export function normalizeBrokerScope(scope: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const s of scope ?? []) {
    const t = goToLower(goTrimSpace(s));
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

/** Normalize a request (Gait's normalizeRequest). Throws {@link BrokerError} when tool_name or identity is empty. */
export function normalizeBrokerRequest(request: BrokerRequest): BrokerRequest {
  const tool = goToLower(goTrimSpace(request.tool_name));
  if (!tool) throw new BrokerError("broker request tool_name is required");
  const identity = goTrimSpace(request.identity);
  if (!identity) throw new BrokerError("broker request identity is required");
  const opt = (v: string | undefined) => goTrimSpace(v ?? "");
  const out: BrokerRequest = {
    tool_name: tool,
    identity,
    workspace: goTrimSpace(request.workspace),
    scope: normalizeBrokerScope(request.scope),
    target_binding: goTrimSpace(request.target_binding),
  };
  if (opt(request.session_id)) out.session_id = opt(request.session_id);
  if (opt(request.request_id)) out.request_id = opt(request.request_id);
  if (opt(request.run_id)) out.run_id = opt(request.run_id);
  if (opt(request.job_id)) out.job_id = opt(request.job_id);
  if (opt(request.reference)) out.reference = opt(request.reference);
  return out;
}

/**
 * The request as Gait's Go struct marshals it (exported field names, no omitempty). This is the document the
 * request digest covers and what the `command` broker receives on stdin, so Gait broker commands work unchanged.
 */
export function brokerRequestPayload(request: BrokerRequest): Record<string, unknown> {
  const r = normalizeBrokerRequest(request);
  return {
    ToolName: r.tool_name,
    Identity: r.identity,
    Workspace: r.workspace,
    SessionID: r.session_id ?? "",
    RequestID: r.request_id ?? "",
    RunID: r.run_id ?? "",
    JobID: r.job_id ?? "",
    Reference: r.reference ?? "",
    Scope: r.scope,
    TargetBinding: r.target_binding,
  };
}

/** `request_digest` = digest(JCS of the Go-shaped normalized request). */
export function brokerRequestDigest(request: BrokerRequest): string {
  return digestJCS(brokerRequestPayload(request));
}

export interface BuildBrokerRequestInput {
  tool_name: string;
  identity: string;
  workspace: string;
  session_id?: string;
  request_id?: string;
  run_id?: string;
  job_id?: string;
  /** CLI `--credential-ref` override; wins over the rule reference */
  referenceOverride?: string;
  /** the verdict-setting rules' broker_reference (sorted, comma-joined by the evaluator) */
  ruleReference?: string;
  ruleScopes?: readonly string[];
  /** CLI `--credential-scopes` */
  extraScopes?: readonly string[];
  /** digest(normalized targets) */
  target_binding: string;
}

/** Build the normalized request: reference = override || rule reference; scope = rule ∪ extra, sorted, lowercased. */
export function buildBrokerRequest(input: BuildBrokerRequestInput): BrokerRequest {
  const merged = new Set<string>();
  for (const s of [...(input.ruleScopes ?? []), ...(input.extraScopes ?? [])]) if (goTrimSpace(s)) merged.add(goTrimSpace(s));
  const reference = goTrimSpace(input.referenceOverride ?? "") || goTrimSpace(input.ruleReference ?? "");
  return normalizeBrokerRequest({
    tool_name: input.tool_name,
    identity: input.identity,
    workspace: input.workspace,
    session_id: input.session_id,
    request_id: input.request_id,
    run_id: input.run_id,
    job_id: input.job_id,
    reference,
    scope: [...merged].sort(),
    target_binding: input.target_binding,
  });
}

/**
 * Ask `broker` for a credential and normalize its receipt the way Gait's credential.Issue does: trims, lowercases
 * source/access_type/request_digest, defaults issued_by and source to the broker name, fills request_digest with the
 * computed one when the broker left it empty, derives ttl/expiry from issued/expires. Throws {@link BrokerError}
 * for an empty credential_ref; any error from the broker propagates (the gate turns it into block).
 *
 * Because the digest is filled here, a receipt reaching {@link validateBrokerReceipt} through the gate always has
 * one: `broker_request_digest_missing` cannot occur in the pipeline, exactly as in Gait (only a wrong digest can).
 */
export async function issueBrokerCredential(
  broker: CredentialBroker,
  request: BrokerRequest,
  now: Date,
): Promise<{ request: BrokerRequest; requestDigest: string; receipt: BrokerReceipt }> {
  const normalized = normalizeBrokerRequest(request);
  const requestDigest = brokerRequestDigest(normalized);
  const raw = await broker.issue(normalized, requestDigest, now);
  if (raw === null || typeof raw !== "object") throw new BrokerError(`broker ${broker.name} returned no receipt`);
  const t = (v: unknown) => (typeof v === "string" ? goTrimSpace(v) : "");
  const receipt: BrokerReceipt = { credential_ref: t(raw.credential_ref) };
  if (!receipt.credential_ref) throw new BrokerError(`broker ${broker.name} returned an empty credential reference`);
  receipt.issued_by = t(raw.issued_by) || broker.name;
  receipt.source = goToLower(t(raw.source)) || broker.name;
  const put = (k: "access_type" | "issuer" | "subject" | "owner" | "target_binding" | "run_binding" | "job_binding", v: string) => {
    if (v) receipt[k] = v;
  };
  put("access_type", goToLower(t(raw.access_type)));
  put("issuer", t(raw.issuer));
  put("subject", t(raw.subject));
  put("owner", t(raw.owner));
  const scope = normalizeBrokerScope(Array.isArray(raw.scopes) ? raw.scopes.filter((s): s is string => typeof s === "string") : []);
  if (scope.length) receipt.scopes = scope;
  put("target_binding", t(raw.target_binding));
  put("run_binding", t(raw.run_binding));
  put("job_binding", t(raw.job_binding));
  receipt.request_digest = goToLower(t(raw.request_digest)) || requestDigest;

  let ttl = typeof raw.ttl_seconds === "number" && Number.isFinite(raw.ttl_seconds) ? Math.trunc(raw.ttl_seconds) : 0;
  let issued = raw.issued_at ? parseRFC3339(raw.issued_at) : undefined;
  let expires = raw.expires_at ? parseRFC3339(raw.expires_at) : undefined;
  if (!issued && expires) issued = { ms: now.getTime(), subMsNanos: 0 };
  if (issued && expires && ttl === 0) {
    const diffMs = expires.ms - issued.ms + (expires.subMsNanos - issued.subMsNanos) / 1e6;
    if (diffMs > 0) ttl = Math.trunc(diffMs / 1000);
  }
  if (ttl > 0 && issued && !expires) expires = { ms: issued.ms + ttl * 1000, subMsNanos: issued.subMsNanos };
  if (issued) receipt.issued_at = formatGoTime(issued);
  if (expires) receipt.expires_at = formatGoTime(expires);
  if (ttl !== 0) receipt.ttl_seconds = ttl;
  return { request: normalized, requestDigest, receipt };
}

/** Access types a rule with `block_standing_credentials` refuses. */
const STANDING_ACCESS_TYPES = new Set(["", "cloud_admin", "inherited", "standing", "static", "unknown"]);

/** What the receipt must be bound to, from the normalized intent. Empty values are not checked. */
export interface BrokerIntentBinding {
  /** intent context.credential_ref */
  expectedCredentialRef?: string;
  /** digest(targets) */
  targetBinding?: string;
  runBinding?: string;
  jobBinding?: string;
}

/**
 * Check a receipt against one rule (Gait's ValidateBrokerCredentialReceipt). Returns sorted unique reasons and
 * violations (equal for every code); empty lists mean the receipt satisfies this rule.
 */
export function validateBrokerReceipt(
  rule: PolicyRule,
  request: BrokerRequest,
  receipt: BrokerReceipt,
  binding: BrokerIntentBinding,
): { reasons: string[]; violations: string[] } {
  const codes = new Set<string>();
  const source = goToLower(goTrimSpace(receipt.source ?? ""));
  const accessType = goToLower(goTrimSpace(receipt.access_type ?? ""));
  const issuer = goTrimSpace(receipt.issuer ?? "");
  const given = receipt.request_digest ?? "";
  if (!given) codes.add("broker_request_digest_missing");
  else {
    let expected = "";
    try {
      expected = brokerRequestDigest(request);
    } catch {
      expected = "";
    }
    if (!expected || given !== expected) codes.add("broker_request_digest_mismatch");
  }
  const requested = normalizeBrokerScope(request.scope);
  const returned = new Set(receipt.scopes ?? []);
  if (requested.length && !requested.every((s) => returned.has(s))) codes.add("broker_scope_mismatch");
  if (rule.max_credential_ttl_seconds > 0) {
    const ttl = receipt.ttl_seconds ?? 0;
    if (ttl <= 0 || ttl > rule.max_credential_ttl_seconds) codes.add("broker_ttl_exceeded");
  }
  if (rule.require_jit_credential && accessType !== "jit") codes.add("credential_not_jit");
  if (rule.block_standing_credentials && STANDING_ACCESS_TYPES.has(accessType)) codes.add("standing_credential_disallowed");
  if (rule.allowed_credential_sources.length && (!source || !rule.allowed_credential_sources.includes(source))) codes.add("credential_source_disallowed");
  if (rule.allowed_credential_issuers.length && (!issuer || !rule.allowed_credential_issuers.includes(issuer))) codes.add("credential_issuer_disallowed");
  if (rule.allowed_credential_access_types.length && (!accessType || !rule.allowed_credential_access_types.includes(accessType))) {
    codes.add("credential_access_type_disallowed");
  }
  const expectRef = goTrimSpace(binding.expectedCredentialRef ?? "");
  if (expectRef && goTrimSpace(receipt.credential_ref ?? "") !== expectRef) codes.add("broker_credential_ref_mismatch");
  const expectTarget = goTrimSpace(binding.targetBinding ?? "");
  if (expectTarget && goTrimSpace(receipt.target_binding ?? "") !== expectTarget) codes.add("broker_target_binding_mismatch");
  const expectRun = goTrimSpace(binding.runBinding ?? "");
  if (expectRun && goTrimSpace(receipt.run_binding ?? "") !== expectRun) codes.add("broker_run_binding_mismatch");
  const expectJob = goTrimSpace(binding.jobBinding ?? "");
  if (expectJob && goTrimSpace(receipt.job_binding ?? "") !== expectJob) codes.add("broker_job_binding_mismatch");
  const list = [...codes].sort();
  return { reasons: list, violations: [...list] };
}

/** Lifetime of a stub credential. */
export const STUB_TTL_SECONDS = 300;

/**
 * The pure development broker, shaped like Gait's stub: a deterministic reference `stub:<24 hex>` = first 12 bytes
 * of sha256(`tool|identity|workspace|session|request|reference|scopeCSV`); source, issuer and issued_by `stub`;
 * access type `jit`; subject and owner = the requesting identity; issued now, valid 300 s; and the request's scope,
 * target/run/job bindings echoed back so the receipt satisfies the binding checks. The request digest is left to
 * {@link issueBrokerCredential}, which fills it. It proves the pipeline end to end; it brokers nothing real.
 */
export const stubBroker: CredentialBroker = {
  name: "stub",
  async issue(request: BrokerRequest, _requestDigest: string, now?: Date): Promise<BrokerReceipt> {
    const raw = [
      request.tool_name,
      request.identity,
      request.workspace,
      request.session_id ?? "",
      request.request_id ?? "",
      request.reference ?? "",
      normalizeBrokerScope(request.scope).join(","),
    ].join("|");
    const receipt: BrokerReceipt = {
      issued_by: "stub",
      credential_ref: `stub:${sha256Hex(raw).slice(0, 24)}`,
      source: "stub",
      access_type: "jit",
      issuer: "stub",
      subject: request.identity,
      owner: request.identity,
      ttl_seconds: STUB_TTL_SECONDS,
      target_binding: request.target_binding,
    };
    const scope = normalizeBrokerScope(request.scope);
    if (scope.length) receipt.scopes = scope;
    if (request.run_id) receipt.run_binding = request.run_id;
    if (request.job_id) receipt.job_binding = request.job_id;
    if (now) {
      receipt.issued_at = formatGoTime(now);
      receipt.expires_at = formatGoTime(now.getTime() + STUB_TTL_SECONDS * 1000);
    }
    return receipt;
  },
};
