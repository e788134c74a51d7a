/**
 * Unknown keys in an intent: names the normalizer never reads (gate.md §2.1-§2.3). Gait's JSON decoder drops them
 * without a word, and so does {@link normalizeIntent}, so a misspelt `toolname` surfaces as "tool_name is required"
 * and a misspelt `context.enviroment` silently escapes every environment-scoped freeze window. This check runs
 * beside the normalizer (it never changes what is evaluated or digested); callers report its findings as warnings,
 * or refuse the intent in strict mode.
 *
 * The key lists mirror the normalizer's reads; `test/unit/engine/intent-keys.test.ts` pins them against it.
 */
import { closestMatch } from "./suggest.js";

/** Top-level keys the normalizer reads, plus the three outputs Gait's schema lists (their caller values are ignored). */
export const INTENT_KEYS: readonly string[] = [
  "schema_id", "schema_version", "created_at", "producer_version", "tool_name", "args", "targets", "arg_provenance",
  "skill_provenance", "context", "delegation", "script", "relationship", "args_digest", "intent_digest", "script_hash",
];

/** `context` keys (gate.md §2.2). */
export const CONTEXT_KEYS: readonly string[] = [
  "identity", "workspace", "risk_class", "phase", "auth_context", "sandbox", "agent_identity", "credential_scopes",
  "context_refs", "context_set_digest", "credential_ttl_seconds", "credential_source", "credential_access_type",
  "context_evidence_mode", "agent_action_bom_ref", "agent_id", "approval_ref", "credential_issuer",
  "credential_job_binding", "credential_owner", "credential_ref", "credential_run_binding", "credential_subject",
  "credential_target_binding", "environment", "environment_fingerprint", "job_id", "repo", "request_id", "run_id",
  "session_id", "workflow_id", "wrkr_inventory_ref",
];

/** Keys of one `targets[]` entry (gate.md §2.3). */
export const TARGET_KEYS: readonly string[] = [
  "kind", "value", "operation", "sensitivity", "endpoint_class", "endpoint_domain", "discovery_method", "destructive",
  "read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint",
];

export interface UnknownIntentKey {
  /** JSON path of the key, e.g. `toolname`, `context.enviroment`, `targets[1].endpoint_clas` */
  path: string;
  key: string;
  /** the closest known key at that level, if one is plausibly meant */
  suggestion?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function check(obj: Record<string, unknown>, known: readonly string[], prefix: string, out: UnknownIntentKey[]): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const finding: UnknownIntentKey = { path: prefix + key, key };
    const s = closestMatch(key, known);
    if (s !== undefined) finding.suggestion = s;
    out.push(finding);
  }
}

/**
 * Keys of a raw intent (parsed JSON) that no part of the evaluation reads: at the top level, in `context` and in each
 * `targets[]` entry (free-form objects such as `args`, `auth_context` and `relationship` are not checked). Keys are
 * matched exactly, as our decoder matches them: a re-cased `Tool_Name` is unknown here (Gait's decoder would read it;
 * docs/compatibility.md R2), and the suggestion names the spelling both tools read. Returns findings in document
 * order; an intent that is not an object has none (the normalizer reports that).
 */
export function unknownIntentKeys(raw: unknown): UnknownIntentKey[] {
  const out: UnknownIntentKey[] = [];
  if (!isRecord(raw)) return out;
  check(raw, INTENT_KEYS, "", out);
  if (isRecord(raw.context)) check(raw.context, CONTEXT_KEYS, "context.", out);
  if (Array.isArray(raw.targets)) {
    raw.targets.forEach((t, i) => {
      if (isRecord(t)) check(t, TARGET_KEYS, `targets[${i}].`, out);
    });
  }
  return out;
}

/** One finding as text: `unknown intent key "toolname" (did you mean "tool_name"?)`. */
export function describeUnknownIntentKey(k: UnknownIntentKey): string {
  const hint = k.suggestion !== undefined ? ` (did you mean "${k.suggestion}"?)` : "";
  return `unknown intent key "${k.path}"${hint}`;
}
