/**
 * Kill switch / emergency stop state (gate.md §4.3): parsing, validation and matching.
 *
 * The state document is Gait's `gait.gate.kill_switch_state` 1.0.0. Parsing follows Gait's loader (a malformed
 * document is an error, never an empty state: the caller turns it into `kill_switch_state_unavailable` when the
 * kill switch is required, or an input error otherwise). Matching runs after rule evaluation and overrides every
 * verdict except the fail-closed early returns.
 */
import { sha256Hex } from "./canon.js";
import { goPathClean as cleanPath } from "./intent.js";
import { formatGoTime, normalizeGoTime, parseRFC3339 } from "./time.js";
import type { IntentRequest, KillSwitchDecision, KillSwitchEntry, KillSwitchState, Target } from "./types.js";
import { PolicyError } from "./types.js";

export const KILL_SWITCH_SCHEMA_ID = "gait.gate.kill_switch_state";
export const KILL_SWITCH_SCHEMA_VERSION = "1.0.0";

const TARGET_KINDS: ReadonlySet<string> = new Set(["path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other"]);

/**
 * The kill-switch state could not be read or is malformed. A {@link PolicyError} subclass so every caller maps it to
 * an input error (exit 6 / INVALID_ARGUMENT) when the kill switch is not required; when it is required the gate
 * blocks with `kill_switch_state_unavailable` instead.
 */
export class KillSwitchStateError extends PolicyError {
  override name = "KillSwitchStateError";
}

function cleanPrefixes(values: unknown, field: string): string[] | undefined {
  if (values === undefined || values === null) return undefined;
  if (!Array.isArray(values)) throw new KillSwitchStateError(`kill switch entry ${field} must be a list of strings`);
  const set = new Set<string>();
  for (const v of values) {
    if (typeof v !== "string") throw new KillSwitchStateError(`kill switch entry ${field} must be a list of strings`);
    const cleaned = cleanPath(v.trim());
    if (cleaned !== "" && cleaned !== ".") set.add(cleaned);
  }
  return set.size > 0 ? [...set].sort() : undefined;
}

function optString(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new KillSwitchStateError(`${where} ${key} must be a string`);
  return v.trim();
}

function requiredTime(o: Record<string, unknown>, key: string, where: string): string {
  const raw = optString(o, key, where);
  const t = raw === "" ? undefined : normalizeGoTime(raw);
  if (t === undefined || t === "0001-01-01T00:00:00Z") {
    throw new KillSwitchStateError(`${where} ${key} is required (RFC 3339 timestamp)`);
  }
  return t;
}

/**
 * Default entry id: the first 12 bytes (24 hex chars) of sha256 over the entry's selectors, reason and creation
 * time joined by NUL, in this order: agent_id, identity, tool_name, target_kind, target_value, environment,
 * path_prefixes (comma-joined), workspace_prefixes (comma-joined), reason, created_at (Go RFC3339Nano UTC).
 * This is the derivation Gait uses when it creates an entry, so ids agree for entries created by either tool.
 */
export function killSwitchEntryId(e: Omit<KillSwitchEntry, "entry_id" | "enabled">): string {
  const parts = [
    e.agent_id ?? "", e.identity ?? "", e.tool_name ?? "", e.target_kind ?? "", e.target_value ?? "", e.environment ?? "",
    (e.path_prefixes ?? []).join(","), (e.workspace_prefixes ?? []).join(","), e.reason ?? "", e.created_at ?? "",
  ];
  return sha256Hex(parts.join("\u0000")).slice(0, 24);
}

function parseEntry(raw: unknown, index: number): KillSwitchEntry {
  const where = `kill switch entries[${index}]`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new KillSwitchStateError(`${where} must be an object`);
  const o = raw as Record<string, unknown>;
  if (o.enabled !== undefined && o.enabled !== null && typeof o.enabled !== "boolean") {
    throw new KillSwitchStateError(`${where} enabled must be a boolean`);
  }
  const entry: KillSwitchEntry = { entry_id: optString(o, "entry_id", where), enabled: o.enabled === true };
  const set = (key: "agent_id" | "identity" | "tool_name" | "target_kind" | "target_value" | "environment" | "reason" | "actor", lower: boolean) => {
    let v = optString(o, key, where);
    if (lower) v = v.toLowerCase();
    if (v !== "") entry[key] = v;
  };
  set("agent_id", false);
  set("identity", false);
  set("tool_name", true);
  set("target_kind", true);
  set("target_value", false);
  set("environment", true);
  if (entry.target_kind !== undefined && !TARGET_KINDS.has(entry.target_kind)) {
    throw new KillSwitchStateError(`kill switch entry target_kind is unsupported: ${entry.target_kind}`);
  }
  const paths = cleanPrefixes(o.path_prefixes, "path_prefixes");
  if (paths) entry.path_prefixes = paths;
  const workspaces = cleanPrefixes(o.workspace_prefixes, "workspace_prefixes");
  if (workspaces) entry.workspace_prefixes = workspaces;
  const hasSelector =
    entry.agent_id !== undefined || entry.identity !== undefined || entry.tool_name !== undefined ||
    entry.target_kind !== undefined || entry.target_value !== undefined || entry.environment !== undefined ||
    paths !== undefined || workspaces !== undefined;
  if (!hasSelector) {
    // Stricter than Gait, which also accepts an entry carrying only an entry_id (it then matches every intent).
    throw new KillSwitchStateError(
      `${where} requires at least one scope selector (agent_id, identity, tool_name, target_kind, target_value, environment, path_prefixes or workspace_prefixes)`,
    );
  }
  set("reason", false);
  set("actor", false);
  entry.created_at = requiredTime(o, "created_at", where);
  const expires = optString(o, "expires_at", where);
  if (expires !== "") {
    const t = normalizeGoTime(expires);
    if (t === undefined) throw new KillSwitchStateError(`${where} expires_at must be an RFC 3339 timestamp`);
    if (t !== "0001-01-01T00:00:00Z") entry.expires_at = t;
  }
  if (entry.entry_id === "") entry.entry_id = killSwitchEntryId(entry);
  return entry;
}

/**
 * Validate and normalize a kill-switch state document (already JSON-decoded). Throws {@link KillSwitchStateError}
 * naming the problem: wrong schema id/version, missing created_at/updated_at (state and entries, as Gait requires),
 * an entry without any selector, an unsupported target_kind, malformed timestamps or field types.
 * Normalization: trims; tool_name/target_kind/environment lowercased; prefixes path-cleaned, deduped, sorted;
 * missing entry ids derived ({@link killSwitchEntryId}); entries sorted by entry_id.
 */
export function parseKillSwitchState(json: unknown): KillSwitchState {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new KillSwitchStateError("kill switch state must be a JSON object");
  }
  const o = json as Record<string, unknown>;
  const where = "kill switch state";
  const schemaId = optString(o, "schema_id", where) || KILL_SWITCH_SCHEMA_ID;
  if (schemaId !== KILL_SWITCH_SCHEMA_ID) throw new KillSwitchStateError(`kill switch state schema_id must be ${KILL_SWITCH_SCHEMA_ID}`);
  const schemaVersion = optString(o, "schema_version", where) || KILL_SWITCH_SCHEMA_VERSION;
  if (schemaVersion !== KILL_SWITCH_SCHEMA_VERSION) {
    throw new KillSwitchStateError(`kill switch state schema_version must be ${KILL_SWITCH_SCHEMA_VERSION}`);
  }
  const createdAt = requiredTime(o, "created_at", where);
  const updatedAt = requiredTime(o, "updated_at", where);
  const rawEntries = o.entries ?? [];
  if (!Array.isArray(rawEntries)) throw new KillSwitchStateError("kill switch state entries must be a list");
  const entries = rawEntries.map(parseEntry);
  entries.sort((a, b) => (a.entry_id < b.entry_id ? -1 : a.entry_id > b.entry_id ? 1 : 0));
  return { schema_id: schemaId, schema_version: schemaVersion, created_at: createdAt, updated_at: updatedAt, entries };
}

// ---------------------------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------------------------

const expiryCache = new WeakMap<KillSwitchEntry, number | null>();

/**
 * Expiry instant in ms (rounded up when the timestamp has sub-millisecond digits, so `expiry > now` stays exact),
 * or null when the entry never expires. parseKillSwitchState rejects unparsable values; in a hand-built state an
 * unparsable expiry counts as "never expires", which keeps the entry active (fail closed).
 */
function expiryMs(entry: KillSwitchEntry): number | null {
  let v = expiryCache.get(entry);
  if (v === undefined) {
    const raw = entry.expires_at?.trim() ?? "";
    const p = raw === "" ? undefined : parseRFC3339(raw);
    v = p === undefined || raw === "0001-01-01T00:00:00Z" ? null : p.ms + (p.subMsNanos > 0 ? 1 : 0);
    expiryCache.set(entry, v);
  }
  return v;
}

function allTargets(intent: IntentRequest): readonly Target[] {
  const steps = intent.script?.steps;
  if (!steps || steps.length === 0) return intent.targets;
  const out = [...intent.targets];
  for (const s of steps) if (s.targets) out.push(...s.targets);
  return out;
}

function prefixMatches(value: string, prefix: string): boolean {
  if (prefix === "") return false;
  if (value === prefix) return true;
  if (prefix.endsWith("/")) return value.startsWith(prefix);
  return value.startsWith(prefix + "/");
}

/** Selector codes for an entry that matches (all set selectors must match), or null. */
function entryMatches(e: KillSwitchEntry, intent: IntentRequest): string[] | null {
  const codes: string[] = [];
  const ctx = intent.context;
  if (e.agent_id) {
    if ((ctx.agent_id ?? "").trim() !== e.agent_id) return null;
    codes.push("kill_switch_agent_id_active");
  }
  if (e.identity) {
    if (ctx.identity.trim() !== e.identity) return null;
    codes.push("kill_switch_identity_active");
  }
  if (e.tool_name) {
    if (intent.tool_name.trim().toLowerCase() !== e.tool_name) return null;
    codes.push("kill_switch_tool_name_active");
  }
  if (e.environment) {
    if ((ctx.environment ?? "").trim().toLowerCase() !== e.environment) return null;
    codes.push("kill_switch_environment_active");
  }
  if (e.target_kind || e.target_value) {
    let hit = false;
    for (const t of allTargets(intent)) {
      if (e.target_kind && t.kind.trim().toLowerCase() !== e.target_kind) continue;
      if (e.target_value && t.value.trim() !== e.target_value) continue;
      hit = true;
      break;
    }
    if (!hit) return null;
    codes.push("kill_switch_target_active");
  }
  if (e.path_prefixes && e.path_prefixes.length > 0) {
    let hit = false;
    outer: for (const t of allTargets(intent)) {
      if (t.kind.trim().toLowerCase() !== "path") continue;
      const value = cleanPath(t.value.trim());
      for (const p of e.path_prefixes) if (prefixMatches(value, p)) { hit = true; break outer; }
    }
    if (!hit) return null;
    codes.push("kill_switch_path_active");
  }
  if (e.workspace_prefixes && e.workspace_prefixes.length > 0) {
    const ws = cleanPath(ctx.workspace.trim());
    let hit = false;
    for (const p of e.workspace_prefixes) if (prefixMatches(ws, p)) { hit = true; break; }
    if (!hit) return null;
    codes.push("kill_switch_workspace_active");
  }
  return codes;
}

/**
 * Match a (normalized) intent against the kill-switch state at `now` (the evaluation time).
 * An entry is active when `enabled` and not expired (`expires_at` unset or after `now`); all of its selectors must
 * match. The decision is `active` with `kill_switch_active` plus one code per matched selector
 * (`kill_switch_{agent_id,identity,tool_name,target,path,workspace,environment}_active`), `reason_code` = the first
 * selector code in sorted order, and the sorted matched entry ids; otherwise `inactive`.
 */
export function matchKillSwitch(state: KillSwitchState, intent: IntentRequest, now: Date): KillSwitchDecision {
  const nowMs = now.getTime();
  const evaluatedAt = formatGoTime(now);
  const codes = new Set<string>();
  const ids = new Set<string>();
  for (const entry of state.entries) {
    if (!entry.enabled) continue;
    const exp = expiryMs(entry);
    if (exp !== null && !(exp > nowMs)) continue;
    const matched = entryMatches(entry, intent);
    if (!matched) continue;
    codes.add("kill_switch_active");
    for (const c of matched) codes.add(c);
    ids.add(entry.entry_id);
  }
  if (codes.size === 0) return { status: "inactive", evaluated_at: evaluatedAt };
  const reasonCodes = [...codes].sort();
  return {
    status: "active",
    reason_code: reasonCodes.find((c) => c !== "kill_switch_active") ?? "kill_switch_active",
    reason_codes: reasonCodes,
    matched_entry_ids: [...ids].sort(),
    evaluated_at: evaluatedAt,
  };
}
