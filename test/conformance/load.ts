/**
 * Loader and assertion helpers for the portable conformance cases in `test/conformance/cases/*.yaml`
 * (format: `cases.schema.json`, explained in `README.md`).
 *
 * Why a module of its own: the same case files are meant to run against the engine (`engine.test.ts`) and, later,
 * through the server and every client. Every runner must read the files the same way and give `want` the same
 * meaning, so the file parsing, the structural validation and the subset matcher live here and carry no engine
 * imports. Runners only add "how to produce a result".
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";

/** Directory of the checked-in case files. */
export const CASES_DIR = join(dirname(fileURLToPath(import.meta.url)), "cases");

/** Wall clock used when a case sets no `options.now` (fixed so every case is deterministic). */
export const DEFAULT_NOW = "2026-01-15T12:00:00Z";

/** A tool call to decode with an adapter (gate.md §6) instead of a raw intent. */
export interface ToolCallSpec {
  adapter: string;
  payload: unknown;
  profile?: "standard" | "oss-prod";
}

/** How the runner mints an approval token (all fields optional; defaults in README.md). */
export interface ApprovalTokenSpec {
  approver?: string;
  reason_code?: string;
  scope?: string[];
  ttl?: string;
  minted_at?: string;
  intent_digest?: string | { of_intent: unknown };
  policy_digest?: string;
  delegation_binding_digest?: string;
  max_targets?: number;
  max_ops?: number;
  key?: "test" | "other";
  unsigned?: boolean;
  tamper?: Record<string, unknown>;
}

/** How the runner mints a delegation token. */
export interface DelegationTokenSpec {
  delegator: string;
  delegate: string;
  scope: string[];
  scope_class?: string;
  intent_digest?: string;
  policy_digest?: string;
  ttl?: string;
  minted_at?: string;
  key?: "test" | "other";
  unsigned?: boolean;
  tamper?: Record<string, unknown>;
}

/** A prior evaluation against the same counter store (rate limits, budgets, token reuse). */
export interface PreloadSpec {
  times: number;
  intent?: unknown;
  tool_call?: ToolCallSpec;
  now?: string;
  evaluation_time?: string;
}

export interface CaseOptions {
  now?: string;
  evaluation_time?: string;
  profile?: "standard" | "oss-prod";
  simulate?: boolean;
  kill_switch?: unknown;
  context_envelope?: {
    context_set_digest: string;
    context_evidence_mode?: string;
    context_refs?: string[];
    context_age_seconds: number;
  };
  counters?: "memory" | "none";
  preload?: PreloadSpec[];
  approval_tokens?: ApprovalTokenSpec[];
  approval_verifier?: "test" | "none";
  delegation_tokens?: DelegationTokenSpec[];
  delegation_verifier?: "test" | "none";
  broker?: "off" | "stub" | { receipt: Record<string, unknown> } | { error: string };
}

/** One case, with the file-level `policy` / `options` defaults already applied. */
export interface ConformanceCase {
  /** case file name, e.g. `precedence.yaml` */
  file: string;
  /** unique id, `topic/what` */
  note: string;
  description?: string;
  policy?: string;
  intent?: unknown;
  tool_call?: ToolCallSpec;
  options: CaseOptions;
  want?: Record<string, unknown>;
  /** What the service layer answers instead of `want`, where it deliberately differs (single-use tokens). */
  want_service?: Record<string, unknown>;
  /** substring of the thrown error's message, or `true` for "any error" */
  want_error?: string | true;
}

export interface CaseFile {
  file: string;
  description?: string;
  cases: ConformanceCase[];
}

const FILE_KEYS = new Set(["$schema", "description", "policy", "options", "cases"]);
const CASE_KEYS = new Set(["note", "description", "policy", "intent", "tool_call", "options", "want", "want_service", "want_error"]);
const OPTION_KEYS = new Set([
  "now", "evaluation_time", "profile", "simulate", "kill_switch", "context_envelope", "counters", "preload",
  "approval_tokens", "approval_verifier", "delegation_tokens", "delegation_verifier", "broker",
]);
/** Every `want` key a runner must understand (see README.md for the meaning of each). */
export const WANT_KEYS = new Set([
  // decision
  "verdict", "reason_codes", "reason_codes_include", "violations", "violations_include", "matched_rule",
  // digests
  "intent_digest", "args_digest", "policy_digest", "script_hash", "script_hash_not",
  "intent_digest_same_as", "intent_digest_differs_from", "policy_digest_same_as", "policy_digest_differs_from",
  // engine-level observations (client runners may skip these three)
  "intent", "policy", "policy_parses",
  // other result fields, compared with the subset rules
  "required_approvals", "valid_approvals", "approval_ref", "required_approval_scopes",
  "delegation_required", "valid_delegations",
  "rate_limit_scope", "rate_limit_key", "rate_limit_used", "rate_limit_remaining",
  "destructive_budget_key", "destructive_budget_used", "destructive_budget_remaining",
  "kill_switch", "freeze_window", "sandbox",
  "step_count", "step_verdicts",
  "simulate_mode", "would_have_blocked", "simulated_verdict", "simulated_reason_codes",
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkKeys(where: string, obj: Record<string, unknown>, allowed: Set<string>): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) throw new Error(`${where}: unknown key "${k}" (allowed: ${[...allowed].join(", ")})`);
  }
}

/**
 * Parse and validate one case file. Throws with the file name and the case note on any structural problem, so a
 * typo in a case can never turn into a silently passing or silently skipped test.
 */
export function parseCaseFile(file: string, text: string): CaseFile {
  const doc: unknown = parseYaml(text, { merge: true, uniqueKeys: true });
  if (!isRecord(doc)) throw new Error(`${file}: top level must be a mapping with a "cases" list`);
  checkKeys(file, doc, FILE_KEYS);
  if (!Array.isArray(doc.cases) || doc.cases.length === 0) throw new Error(`${file}: "cases" must be a non-empty list`);
  if (doc.policy !== undefined && typeof doc.policy !== "string") throw new Error(`${file}: "policy" must be YAML text`);
  if (doc.options !== undefined && !isRecord(doc.options)) throw new Error(`${file}: "options" must be a mapping`);
  const fileOptions = (doc.options ?? {}) as Record<string, unknown>;
  checkKeys(`${file} options`, fileOptions, OPTION_KEYS);

  const cases = doc.cases.map((raw, i): ConformanceCase => {
    if (!isRecord(raw)) throw new Error(`${file}: case #${i} must be a mapping`);
    const note = raw.note;
    if (typeof note !== "string" || !note.trim()) throw new Error(`${file}: case #${i} needs a "note"`);
    const where = `${file} ${note}`;
    checkKeys(where, raw, CASE_KEYS);
    if (raw.options !== undefined && !isRecord(raw.options)) throw new Error(`${where}: "options" must be a mapping`);
    const options = { ...fileOptions, ...((raw.options ?? {}) as Record<string, unknown>) };
    checkKeys(`${where} options`, options, OPTION_KEYS);
    const policy = raw.policy ?? doc.policy;
    if (policy !== undefined && typeof policy !== "string") throw new Error(`${where}: "policy" must be YAML text`);
    if (policy === undefined) throw new Error(`${where}: no policy (set one on the case or the file)`);
    if (raw.intent !== undefined && raw.tool_call !== undefined) throw new Error(`${where}: set "intent" or "tool_call", not both`);
    if (raw.tool_call !== undefined) {
      if (!isRecord(raw.tool_call) || typeof raw.tool_call.adapter !== "string" || !("payload" in raw.tool_call)) {
        throw new Error(`${where}: "tool_call" needs "adapter" (string) and "payload"`);
      }
      checkKeys(`${where} tool_call`, raw.tool_call, new Set(["adapter", "payload", "profile"]));
    }
    const hasWant = raw.want !== undefined;
    const hasError = raw.want_error !== undefined;
    if (hasWant === hasError) throw new Error(`${where}: set exactly one of "want" and "want_error"`);
    if (hasWant) {
      if (!isRecord(raw.want) || Object.keys(raw.want).length === 0) throw new Error(`${where}: "want" must be a non-empty mapping`);
      checkKeys(`${where} want`, raw.want, WANT_KEYS);
    }
    if (raw.want_service !== undefined) {
      if (!hasWant) throw new Error(`${where}: "want_service" needs a "want" (it is the service's answer where it differs)`);
      if (!isRecord(raw.want_service) || Object.keys(raw.want_service).length === 0) throw new Error(`${where}: "want_service" must be a non-empty mapping`);
      checkKeys(`${where} want_service`, raw.want_service, WANT_KEYS);
    }
    if (hasError && raw.want_error !== true && (typeof raw.want_error !== "string" || raw.want_error === "")) {
      throw new Error(`${where}: "want_error" must be a non-empty message substring or true`);
    }
    return {
      file,
      note,
      ...(typeof raw.description === "string" ? { description: raw.description } : {}),
      policy,
      ...(raw.intent !== undefined ? { intent: raw.intent } : {}),
      ...(raw.tool_call !== undefined ? { tool_call: raw.tool_call as unknown as ToolCallSpec } : {}),
      options: options as CaseOptions,
      ...(hasWant ? { want: raw.want as Record<string, unknown> } : {}),
      ...(raw.want_service !== undefined ? { want_service: raw.want_service as Record<string, unknown> } : {}),
      ...(hasError ? { want_error: raw.want_error as string | true } : {}),
    };
  });
  return { file, ...(typeof doc.description === "string" ? { description: doc.description } : {}), cases };
}

/** Load every `*.yaml` case file of `dir` (sorted by name); notes must be unique across all files. */
export function loadCaseFiles(dir: string = CASES_DIR): CaseFile[] {
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();
  const loaded = files.map((f) => parseCaseFile(f, readFileSync(join(dir, f), "utf8")));
  const seen = new Map<string, string>();
  for (const cf of loaded) {
    for (const c of cf.cases) {
      const prev = seen.get(c.note);
      if (prev) throw new Error(`duplicate case note "${c.note}" in ${prev} and ${cf.file}`);
      seen.set(c.note, cf.file);
    }
  }
  return loaded;
}

/** Read a one-item-per-line list (blank lines and `#` comments ignored), e.g. `reason-codes.txt`. */
export function readList(path: string): string[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
}

/** The canonical adapter name a tool call uses (gate.md §6: trimmed, lowercased, aliases folded). */
export function canonicalAdapter(name: string): string {
  const n = name.trim().toLowerCase();
  if (n === "") return "mcp";
  if (n === "claude-code" || n === "claudecode") return "claude_code";
  return n;
}

/** Reason codes a case claims, through `reason_codes` or `reason_codes_include` (used by the coverage check). */
export function assertedReasonCodes(c: ConformanceCase): string[] {
  const out: string[] = [];
  for (const want of [c.want, c.want_service]) {
    for (const key of ["reason_codes", "reason_codes_include", "simulated_reason_codes"]) {
      const v = want?.[key];
      if (Array.isArray(v)) out.push(...v.filter((x): x is string => typeof x === "string"));
    }
  }
  return out;
}

function isEmpty(v: unknown): boolean {
  return (
    v === undefined || v === null || v === "" || v === false || v === 0 ||
    (Array.isArray(v) && v.length === 0) || (isRecord(v) && Object.keys(v).length === 0)
  );
}

/**
 * Compare `actual` against the expectation `want` and return human-readable mismatches (empty = match).
 *
 * Rules (Go `omitempty` thinking, since Gait omits empty fields): `null` in want means "absent or empty"; a zero
 * value (0, false, "", []) also matches an absent field; mappings match when every key in want matches (extra keys
 * in actual are fine); lists must have the same length and match element by element; scalars are compared
 * with `===`.
 */
export function subsetMismatches(want: unknown, actual: unknown, path = "$"): string[] {
  if (want === null) return isEmpty(actual) ? [] : [`${path}: want empty/absent, got ${JSON.stringify(actual)}`];
  if (isEmpty(want) && actual === undefined) return [];
  if (Array.isArray(want)) {
    if (!Array.isArray(actual)) return [`${path}: want a list ${JSON.stringify(want)}, got ${JSON.stringify(actual)}`];
    if (actual.length !== want.length) {
      return [`${path}: want ${want.length} items ${JSON.stringify(want)}, got ${actual.length} ${JSON.stringify(actual)}`];
    }
    return want.flatMap((w, i) => subsetMismatches(w, actual[i], `${path}[${i}]`));
  }
  if (isRecord(want)) {
    if (!isRecord(actual)) return [`${path}: want a mapping, got ${JSON.stringify(actual)}`];
    return Object.entries(want).flatMap(([k, w]) => subsetMismatches(w, actual[k], `${path}.${k}`));
  }
  return want === actual ? [] : [`${path}: want ${JSON.stringify(want)}, got ${JSON.stringify(actual)}`];
}
