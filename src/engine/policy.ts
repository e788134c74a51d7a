/**
 * Gait policy YAML (gate.md §3): strict parsing, validation, normalization and `policy_digest`.
 *
 * Strictness follows Gait (goccy/go-yaml `Strict` + `DisallowUnknownField`): an unknown key anywhere, a duplicate
 * mapping key or a value of the wrong type rejects the whole policy. Unlike Gait, which stops at the first problem,
 * every problem found is reported at once (one per line) so an operator can fix a policy in one pass.
 *
 * The digest (§3.8) is computed over the *normalized* policy in the shape Go's `json.Marshal` gives Gait's digest
 * payload (Go struct field names as keys), so it is byte-compatible with Gait and approval tokens minted against a
 * policy by either implementation verify against the other.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node as YamlNode } from "yaml";
import { digestJCS, isHex64 } from "./canon.js";
import { goPathClean, MAX_SCRIPT_STEPS } from "./intent.js";
import { closestMatch } from "./suggest.js";
import { compilePolicy, sanitizeRuleName } from "./match.js";
import {
  describeScalar,
  isNullScalar,
  PolicyScalar,
  readBoolScalar,
  readFloatScalar,
  readIntScalar,
  readStrScalar,
  type ScalarRead,
} from "./yaml-scalars.js";
import type {
  DataflowPolicy,
  EndpointPolicy,
  FreezeWindowPolicy,
  JsonValue,
  Policy,
  PolicyMatch,
  PolicyRule,
  RateLimitPolicy,
  SandboxPolicy,
  Verdict,
} from "./types.js";
import { PolicyError } from "./types.js";

export { PolicyError };

export const POLICY_SCHEMA_ID = "gait.gate.policy";
export const POLICY_SCHEMA_VERSION = "1.0.0";
/** Gait's default when a policy names no default verdict (gotcha §10.1: not `block`). */
export const DEFAULT_VERDICT: Verdict = "require_approval";

/**
 * One problem of a rejected policy: the text (Gait's wording where Gait has one), where it is in the YAML source
 * (1-based line and column of the offending key or value; absent when the problem has no single place, e.g. a
 * missing key is reported at the mapping that lacks it) and, for a misspelt key or value, the closest valid one.
 */
export interface PolicyIssue {
  message: string;
  /** key path in the document, e.g. `["rules", 0, "match", "tool_nmae"]` */
  path?: readonly (string | number)[];
  line?: number;
  column?: number;
  /** the closest known key or value ("did you mean ...") */
  suggestion?: string;
}

/** An issue as one line: `<message> (did you mean "x"?) at line L, column C`. */
export function formatPolicyIssue(issue: PolicyIssue): string {
  const hint = issue.suggestion !== undefined ? ` (did you mean "${issue.suggestion}"?)` : "";
  const at = issue.line !== undefined ? ` at line ${issue.line}, column ${issue.column ?? 1}` : "";
  return issue.message + hint + at;
}

/**
 * A policy rejected for one or more reasons. `message` lists every problem, one per line, each with its suggestion
 * and source position; `problems` has the bare texts (stable, comparable with Gait's) and `issues` the structured
 * form. It is a {@link PolicyError}, so callers map it to an input error (exit 6 / INVALID_ARGUMENT).
 */
export class PolicyValidationError extends PolicyError {
  readonly problems: readonly string[];
  readonly issues: readonly PolicyIssue[];
  constructor(problems: readonly (string | PolicyIssue)[]) {
    const issues = problems.map((p) => (typeof p === "string" ? { message: p } : p));
    super(issues.map(formatPolicyIssue).join("\n"));
    this.issues = issues;
    this.problems = issues.map((i) => i.message);
  }
}

type Path = readonly (string | number)[];

/** Where a problem is: a document path; `key` points at the key (unknown keys) instead of the value. */
interface At {
  path: Path;
  key?: boolean;
  /** in a list at `path`, point at the first item whose text (trimmed, lowercased) is this */
  item?: string;
  /** suggest the closest of these for `input` */
  input?: string;
  candidates?: Iterable<string>;
}

/** The problems found so far, each with the place it will be located at once the whole document was checked. */
class Problems {
  readonly list: { message: string; at?: At }[] = [];
  get length(): number {
    return this.list.length;
  }
  push(message: string, at?: At): void {
    this.list.push(at ? { message, at } : { message });
  }
  addAll(other: Problems): void {
    this.list.push(...other.list);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Vocabularies
// ---------------------------------------------------------------------------------------------------------------

const VERDICTS: ReadonlySet<string> = new Set(["allow", "block", "dry_run", "require_approval"]);
const CONSTRAINT_ACTIONS: ReadonlySet<string> = new Set(["block", "require_approval"]);
const REQUIRED_FIELDS: ReadonlySet<string> = new Set(["targets", "arg_provenance", "endpoint_class", "delegation", "context_evidence"]);
const HIGH_RISK_FIELDS: ReadonlySet<string> = new Set([
  "agent_id", "agent_identity", "run_id", "workflow_id", "repo", "environment", "credential_ref", "credential_source",
  "credential_access_type", "credential_issuer", "credential_ttl_seconds", "approval_ref", "wrkr_inventory_ref",
  "agent_action_bom_ref",
]);
const ENDPOINT_CLASSES: ReadonlySet<string> = new Set([
  "fs.read", "fs.write", "fs.delete", "proc.exec", "net.http", "net.dns", "ui.click", "ui.type", "ui.navigate", "other",
]);
const DISCOVERY_METHODS: ReadonlySet<string> = new Set(["webmcp", "dynamic_mcp", "a2a", "mcp", "static_mcp", "manual", "unknown"]);
const CREDENTIAL_SOURCES: ReadonlySet<string> = new Set([
  "aws_iam_user", "aws_sts", "azure_federated", "command", "env", "gcp_sts", "github_oidc", "github_pat",
  "kubernetes_service_account", "stub", "unknown", "vault_dynamic",
]);
const CREDENTIAL_ACCESS_TYPES: ReadonlySet<string> = new Set(["cloud_admin", "inherited", "jit", "standing", "static", "unknown"]);
const RATE_WINDOWS: ReadonlySet<string> = new Set(["minute", "hour"]);
const RATE_SCOPES: ReadonlySet<string> = new Set(["tool", "identity", "tool_identity"]);
const SANDBOX_NETWORK_MODES: ReadonlySet<string> = new Set(["disabled", "egress_allowlist", "full"]);
const SANDBOX_ENV_MODES: ReadonlySet<string> = new Set(["allowlist", "full", "none"]);
const SANDBOX_FS_ISOLATIONS: ReadonlySet<string> = new Set(["container", "none", "workspace"]);
const SANDBOX_USER_MODES: ReadonlySet<string> = new Set(["default", "root", "unprivileged"]);
/** `NAME=value`: an environment assignment pasted into a path list (could leak a secret into policy files). */
const ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** Gait's legacy proposal keys and their migration hints (order as Gait reports them). */
const LEGACY_FIELDS: ReadonlyArray<{ field: string; replacement: string[]; note?: string }> = [
  { field: "version", replacement: ["schema_id", "schema_version"], note: "set schema_id=gait.gate.policy and schema_version=1.0.0" },
  { field: "name", replacement: [], note: "remove the top-level policy name; rule names remain under rules[].name when needed" },
  { field: "boundaries", replacement: ["rules", "mcp_trust"] },
  { field: "defaults", replacement: ["default_verdict", "fail_closed"] },
  { field: "trust_sources", replacement: ["mcp_trust.snapshot"], note: "render external trust data to a local snapshot before evaluation" },
  { field: "unknown_server", replacement: ["mcp_trust.action"], note: "enforce unknown servers through local snapshot coverage and a fail-closed action" },
];

/**
 * Gait policy keys for features this implementation leaves out: rejected by name, never silently ignored, unless the
 * block configures nothing. Gait treats a block whose every field is a zero value as not configured (normalizePolicy
 * `mcpTrustConfigured`): the feature is off and the block is not in the policy digest, so we accept exactly that.
 */
const UNSUPPORTED_FEATURE_KEYS: Readonly<Record<string, { feature: string; schema: Schema }>> = {
  mcp_trust: {
    feature: "MCP server trust snapshots (gate.md §4.16)",
    schema: {
      enabled: "bool", snapshot: "str", action: "str", required_risk_classes: "strs", min_score: "num",
      max_age: "str", publisher_allowlist: "strs", require_registry: "bool",
    },
  },
};

/** Every field of a typed block is Go's zero value (lists count empty once blank entries are dropped, as in Gait). */
function allZero(d: Doc): boolean {
  return Object.values(d).every((v) =>
    v === false || v === 0 || (typeof v === "string" && v.trim() === "") ||
    (Array.isArray(v) && v.every((x) => typeof x === "string" && x.trim() === "")),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Strict structural reading: the YAML document is walked against the schema below. Unknown keys and wrong types
// are collected as problems with their key path; a wrongly typed value is dropped so later checks do not cascade.
// ---------------------------------------------------------------------------------------------------------------

type Spec = "str" | "int" | "num" | "bool" | "strs" | { obj: Schema } | { list: Schema };
type Schema = { readonly [key: string]: Spec };

const RATE: Schema = { requests: "int", window: "str", scope: "str" };
const MATCH: Schema = {
  tool_name: "str", tool_names: "strs", risk_classes: "strs", identities: "strs", workspace_prefixes: "strs",
  target_kinds: "strs", target_values: "strs", destination_kinds: "strs", destination_values: "strs",
  destination_operations: "strs", endpoint_class: "strs", endpoint_classes: "strs", discovery_method: "strs",
  tool_annotations: { obj: { readOnlyHint: "bool", destructiveHint: "bool", idempotentHint: "bool", openWorldHint: "bool" } },
  data_classes: "strs", provenance_sources: "strs", skill_publishers: "strs", skill_sources: "strs",
  context_tool_names: "strs", context_data_classes: "strs", context_endpoint_classes: "strs",
  context_autonomy_levels: "strs", require_delegation: "bool", allowed_delegator_identities: "strs",
  allowed_delegate_identities: "strs", delegation_scopes: "strs", max_delegation_depth: "int",
};
const RULE: Schema = {
  name: "str", priority: "int", effect: "str", action: "str", match: { obj: MATCH }, reason_codes: "strs",
  violations: "strs", min_approvals: "int", require_distinct_approvers: "bool", require_broker_credential: "bool",
  broker_reference: "str", broker_scopes: "strs", require_declared_agent: "bool", allowed_agent_ids: "strs",
  denied_agent_ids: "strs", required_agent_manifest_digest: "str", allowed_agent_manifest_publishers: "strs",
  allowed_agent_manifest_sources: "strs", required_agent_lifecycle_states: "strs", require_agent_owner: "bool",
  require_unexpired_agent: "bool", block_standing_credentials: "bool", allowed_credential_sources: "strs",
  allowed_credential_issuers: "strs", allowed_credential_access_types: "strs", max_credential_ttl_seconds: "int",
  require_jit_credential: "bool", require_context_evidence: "bool", required_context_evidence_mode: "str",
  max_context_age_seconds: "int",
  freeze_window: {
    obj: {
      enabled: "bool", timezone: "str", effect: "str", reason: "str", environments: "strs", risk_classes: "strs",
      windows: { list: { name: "str", start: "str", end: "str" } },
    },
  },
  sandbox: {
    obj: {
      enabled: "bool", allowed_network_modes: "strs", allowed_writable_path_prefixes: "strs",
      required_read_only_roots: "strs", allowed_env_exposure_modes: "strs", max_timeout_seconds: "int",
      allowed_filesystem_isolations: "strs", allowed_user_modes: "strs",
    },
  },
  rate_limit: { obj: RATE },
  destructive_budget: { obj: RATE },
  dataflow: {
    obj: {
      enabled: "bool", tainted_sources: "strs", destination_kinds: "strs", destination_values: "strs",
      destination_operations: "strs", action: "str", reason_code: "str", violation: "str",
    },
  },
  endpoint: {
    obj: {
      enabled: "bool", path_allowlist: "strs", path_denylist: "strs", domain_allowlist: "strs", domain_denylist: "strs",
      egress_classes: "strs", action: "str", destructive_action: "str", reason_code: "str", violation: "str",
    },
  },
};
const TOP: Schema = {
  schema_id: "str", schema_version: "str", default_verdict: "str", default_action: "str",
  fail_closed: { obj: { enabled: "bool", risk_classes: "strs", required_fields: "strs", required_high_risk_fields: "strs" } },
  scripts: { obj: { max_steps: "int", require_approval_above: "int", block_mixed_risk: "bool" } },
  rules: { list: RULE },
};

/** A document value after structural checks: plain object with only known keys and well-typed values. */
type Doc = { [k: string]: unknown };

function isPlainObject(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof PolicyScalar);
}

/** YAML null, written or implied: the field keeps its Go zero value, as in Gait. */
function isNull(v: unknown): boolean {
  return v === null || v === undefined || (v instanceof PolicyScalar && isNullScalar(v));
}

function describe(v: unknown): string {
  if (v instanceof PolicyScalar) return describeScalar(v);
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function readObject(value: unknown, schema: Schema, path: string, at: Path, problems: Problems): Doc | undefined {
  if (!isPlainObject(value)) {
    problems.push(`parse policy yaml: field "${path}" must be a mapping, got ${describe(value)}`, { path: at });
    return undefined;
  }
  const out: Doc = {};
  for (const [key, raw] of Object.entries(value)) {
    const keyPath = path === "" ? key : `${path}.${key}`;
    const keyAt = [...at, key];
    const spec = schema[key];
    if (spec === undefined) {
      problems.push(`parse policy yaml: unknown field "${keyPath}"`, { path: keyAt, key: true, input: key, candidates: Object.keys(schema) });
      continue;
    }
    if (isNull(raw)) continue; // YAML null == Go zero value
    const read = readValue(raw, spec, keyPath, keyAt, problems);
    if (read !== undefined) out[key] = read;
  }
  return out;
}

function readValue(raw: unknown, spec: Spec, path: string, at: Path, problems: Problems): unknown {
  const bad = (what: string) => {
    problems.push(`parse policy yaml: field "${path}" must be ${what}, got ${describe(raw)}`, { path: at });
    return undefined;
  };
  // Scalars resolve by the Go type of the field they land in (yaml-scalars.ts); a collection where a scalar belongs
  // (or the reverse) is a type error, as in Gait.
  if (spec === "str") return raw instanceof PolicyScalar ? scalar(readStrScalar(raw), path, at, problems) : bad("a string");
  if (spec === "bool") {
    return raw instanceof PolicyScalar ? scalar(readBoolScalar(raw), path, at, problems) : bad("a boolean (true or false)");
  }
  if (spec === "int") return raw instanceof PolicyScalar ? scalar(readIntScalar(raw), path, at, problems) : bad("an integer");
  if (spec === "num") return raw instanceof PolicyScalar ? scalar(readFloatScalar(raw), path, at, problems) : bad("a number");
  if (spec === "strs") {
    if (!Array.isArray(raw)) return bad("a list of strings");
    const out: string[] = [];
    let ok = true;
    raw.forEach((item, i) => {
      if (isNull(item)) return;
      const read = item instanceof PolicyScalar ? scalar(readStrScalar(item), `${path}[${i}]`, [...at, i], problems) : undefined;
      if (read === undefined) {
        if (!(item instanceof PolicyScalar)) {
          problems.push(`parse policy yaml: field "${path}[${i}]" must be a string, got ${describe(item)}`, { path: [...at, i] });
        }
        ok = false;
      } else out.push(read);
    });
    return ok ? out : undefined;
  }
  if ("obj" in spec) return readObject(raw, spec.obj, path, at, problems);
  if (!Array.isArray(raw)) return bad("a list");
  const items: Doc[] = [];
  raw.forEach((item, i) => {
    const read = readObject(isNull(item) ? {} : item, spec.list, `${path}[${i}]`, [...at, i], problems);
    items.push(read ?? {});
  });
  return items;
}

function scalar<T>(read: ScalarRead<T>, path: string, at: Path, problems: Problems): T | undefined {
  if (read.ok) return read.value;
  const sep = read.problem.startsWith("must ") ? " " : ": ";
  problems.push(`parse policy yaml: field "${path}"${sep}${read.problem}`, { path: at });
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Source positions: a problem's document path is looked up in the parsed YAML (nodes keep their source ranges) and
// turned into a line and column with the parser's LineCounter. A path that does not exist as written (a value that
// came in through a merge key, a missing key) points at its closest ancestor that does.
// ---------------------------------------------------------------------------------------------------------------

type YamlDoc = Document.Parsed;

/** The node (or, with `key`, the key node) at `path`; undefined when the path does not exist as written. */
function nodeAt(doc: YamlDoc, path: Path, key: boolean): YamlNode | undefined {
  let node: unknown = doc.contents;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (typeof seg === "number") {
      if (!isSeq(node)) return undefined;
      node = node.items[seg];
      continue;
    }
    if (!isMap(node)) return undefined;
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
    if (!pair) return undefined;
    if (last && key) return pair.key as YamlNode;
    // `key: ` with no value: point at the key
    node = pair.value ?? pair.key;
  }
  return node as YamlNode | undefined;
}

function textOf(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  const v = node.value;
  if (v instanceof PolicyScalar) return v.text;
  return v === null || v === undefined ? undefined : String(v);
}

function locate(doc: YamlDoc, lines: LineCounter, at: At): { line: number; column: number } | undefined {
  for (let n = at.path.length; n >= 0; n--) {
    let node = nodeAt(doc, at.path.slice(0, n), at.key === true && n === at.path.length);
    if (!node) continue;
    if (at.item !== undefined && n === at.path.length && isSeq(node)) {
      const want = at.item;
      const hit = node.items.find((x) => (textOf(x) ?? "").trim().toLowerCase() === want);
      if (hit) node = hit as YamlNode;
    }
    const offset = node.range?.[0];
    if (offset === undefined) continue;
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  }
  return undefined;
}

function toIssues(problems: Problems, doc: YamlDoc, lines: LineCounter): PolicyIssue[] {
  return problems.list.map(({ message, at }) => {
    const issue: PolicyIssue = { message };
    if (!at) return issue;
    issue.path = at.path;
    const pos = locate(doc, lines, at);
    if (pos) {
      issue.line = pos.line;
      issue.column = pos.column;
    }
    if (at.input !== undefined && at.candidates) {
      const s = closestMatch(at.input, at.candidates);
      if (s !== undefined) issue.suggestion = s;
    }
    return issue;
  });
}

/**
 * Keep every scalar in a value position as written ({@link PolicyScalar}); the field it lands in decides what it
 * means. Mapping keys stay resolved by the YAML library (they name fields, and `<<` merge keys must keep working).
 */
function deferScalars(doc: ReturnType<typeof parseDocument>): void {
  visit(doc, {
    Scalar(key, node) {
      if (key === "key") return;
      const tag = node.tag;
      let style: "plain" | "quoted" | "block";
      let text: string;
      if (node.type === "QUOTE_SINGLE" || node.type === "QUOTE_DOUBLE") {
        style = "quoted";
        text = String(node.value);
      } else if (node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED") {
        style = "block";
        text = String(node.value);
      } else {
        style = "plain";
        text = node.source ?? (node.value === null ? "" : String(node.value));
      }
      node.value = new PolicyScalar(style, text, tag);
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Normalization helpers
// ---------------------------------------------------------------------------------------------------------------

/** Gait's uniqueSorted: trim, drop empty, dedupe, byte-order sort. */
export function uniqueSorted(values: Iterable<string>): string[] {
  const set = new Set<string>();
  for (const v of values) {
    const t = v.trim();
    if (t !== "") set.add(t);
  }
  return [...set].sort();
}

function trimList(values: unknown): string[] {
  return uniqueSorted((values as string[] | undefined) ?? []);
}

function lowerList(values: unknown): string[] {
  return uniqueSorted(((values as string[] | undefined) ?? []).map((v) => v.toLowerCase()));
}

function raw(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function str(v: unknown): string {
  return typeof v === "string" ? v.trim() : "";
}

function lower(v: unknown): string {
  return str(v).toLowerCase();
}

function int(v: unknown): number {
  return typeof v === "number" ? v : 0;
}

function obj(v: unknown): Doc {
  return isPlainObject(v) ? v : {};
}

// ---------------------------------------------------------------------------------------------------------------
// parsePolicy
// ---------------------------------------------------------------------------------------------------------------

/**
 * Parse, validate and normalize a Gait policy YAML document.
 *
 * Throws {@link PolicyError} (a {@link PolicyValidationError} listing every problem) for YAML syntax errors,
 * duplicate keys, unknown keys (message names the key path), legacy proposal keys (with migration hints), keys of
 * features this implementation leaves out, and every validation error of gate.md §3.9. The returned policy is
 * normalized (lowercased, trimmed, lists deduped and sorted, rules sorted by (priority, name)) and carries its
 * `policy_digest`; its compiled form is cached for {@link evaluatePolicy}.
 */
export function parsePolicy(yamlText: string): Policy {
  const lines = new LineCounter();
  // merge: `<<: *anchor` merge keys, which goccy/go-yaml (Gait) supports.
  const doc = parseDocument(yamlText, { uniqueKeys: true, merge: true, prettyErrors: false, strict: true, lineCounter: lines });
  const at = (offset: number | undefined): { line?: number; column?: number } => {
    if (offset === undefined) return {};
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  const syntax = [...doc.errors].map((e): PolicyIssue => ({
    message:
      e.code === "MULTIPLE_DOCS"
        ? "parse policy yaml: a policy file must hold exactly one YAML document (Gait reads the first and silently " +
          "ignores the rest, so rules in a later document would never apply); remove the extra '---' document"
        : `parse policy yaml: ${e.message.split("\n")[0]}`,
    ...at(e.pos?.[0]),
  }));
  if (syntax.length > 0) throw new PolicyValidationError(syntax);
  deferScalars(doc);
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new PolicyValidationError([`parse policy yaml: ${(err as Error).message}`]);
  }
  if (isNull(root)) root = {};
  if (!isPlainObject(root)) {
    throw new PolicyValidationError([{ message: `parse policy yaml: a policy must be a YAML mapping, got ${describe(root)}`, ...at(doc.contents?.range?.[0]) }]);
  }

  // Legacy proposal keys come first, with Gait's message and migration hints.
  const legacy = LEGACY_FIELDS.filter((f) => Object.prototype.hasOwnProperty.call(root, f.field));
  if (legacy.length > 0) {
    const details = legacy.map((f) => {
      if (f.replacement.length === 0) return `${f.field}->${f.note ?? "remove"}`;
      return `${f.field}->${f.replacement.join("|")}` + (f.note ? ` (${f.note})` : "");
    });
    const problems = new Problems();
    problems.push(`legacy policy proposal fields are not supported [${legacy.map((f) => f.field).join(", ")}]: ${details.join("; ")}`, {
      path: [legacy[0]!.field],
      key: true,
    });
    throw new PolicyValidationError(toIssues(problems, doc, lines));
  }

  const problems = new Problems();
  const rootDoc: Doc = { ...root };
  for (const [key, { feature, schema }] of Object.entries(UNSUPPORTED_FEATURE_KEYS)) {
    if (!Object.prototype.hasOwnProperty.call(rootDoc, key)) continue;
    const block = rootDoc[key];
    delete rootDoc[key];
    if (isNull(block)) continue; // `mcp_trust:` / `mcp_trust: null`: not configured (Go zero value)
    const blockProblems = new Problems();
    const typed = readObject(block, schema, key, [key], blockProblems);
    if (typed && blockProblems.length === 0 && allZero(typed)) continue; // `{}`, `{enabled: false}`: off, as in Gait
    problems.addAll(blockProblems);
    problems.push(
      `parse policy yaml: field "${key}" configures ${feature}, which this implementation does not support; remove the "${key}" block`,
      { path: [key], key: true },
    );
  }
  const typed = readObject(rootDoc, TOP, "", [], problems) ?? {};
  const policy = normalizePolicyDoc(typed, problems);
  if (problems.length > 0) throw new PolicyValidationError(toIssues(problems, doc, lines));
  compilePolicy(policy); // warm the evaluation cache
  return policy;
}

function normalizePolicyDoc(d: Doc, problems: Problems): Policy {
  // Compared as written, untrimmed (Gait normalizePolicy): "1.0.0 " is an unsupported version, not 1.0.0.
  const schemaId = raw(d.schema_id) || POLICY_SCHEMA_ID;
  if (schemaId !== POLICY_SCHEMA_ID) problems.push(`unsupported policy schema_id: ${schemaId}`, { path: ["schema_id"] });
  const schemaVersion = raw(d.schema_version) || POLICY_SCHEMA_VERSION;
  if (schemaVersion !== POLICY_SCHEMA_VERSION) problems.push(`unsupported policy schema_version: ${schemaVersion}`, { path: ["schema_version"] });

  let defaultVerdict = lower(d.default_verdict);
  const defaultAction = lower(d.default_action);
  if (defaultVerdict === "") defaultVerdict = defaultAction;
  if (defaultAction !== "" && defaultVerdict !== defaultAction) {
    problems.push("default_action must match default_verdict when both are set", { path: ["default_action"] });
  }
  if (defaultVerdict === "") defaultVerdict = DEFAULT_VERDICT;
  if (!VERDICTS.has(defaultVerdict)) {
    const key = d.default_verdict !== undefined ? "default_verdict" : "default_action";
    problems.push(`invalid default_verdict: ${defaultVerdict}`, { path: [key], input: defaultVerdict, candidates: VERDICTS });
  }

  const fc = obj(d.fail_closed);
  const fcEnabled = fc.enabled === true;
  let riskClasses = lowerList(fc.risk_classes);
  if (fcEnabled && riskClasses.length === 0) riskClasses = ["critical", "high"];
  const requiredFields = lowerList(fc.required_fields);
  for (const f of requiredFields) {
    if (!REQUIRED_FIELDS.has(f)) {
      problems.push(`unsupported fail_closed required_field: ${f}`, { path: ["fail_closed", "required_fields"], item: f, input: f, candidates: REQUIRED_FIELDS });
    }
  }
  const highRiskFields = lowerList(fc.required_high_risk_fields);
  for (const f of highRiskFields) {
    if (!HIGH_RISK_FIELDS.has(f)) {
      const at = { path: ["fail_closed", "required_high_risk_fields"], item: f, input: f, candidates: HIGH_RISK_FIELDS };
      problems.push(`unsupported fail_closed required_high_risk_field: ${f}`, at);
    }
  }

  const sc = obj(d.scripts);
  const maxSteps = int(sc.max_steps);
  const approvalAbove = int(sc.require_approval_above);
  if (maxSteps < 0) problems.push("scripts.max_steps must be >= 0", { path: ["scripts", "max_steps"] });
  if (approvalAbove < 0) problems.push("scripts.require_approval_above must be >= 0", { path: ["scripts", "require_approval_above"] });

  const rawRules = (d.rules as Doc[] | undefined) ?? [];
  const rules = rawRules.map((r, i) => normalizeRule(r, i, problems));
  // Stable sort by (priority, name) with byte-order names, like Go's string comparison.
  const indexed = rules.map((rule, i) => ({ rule, i }));
  indexed.sort((a, b) =>
    a.rule.priority !== b.rule.priority
      ? a.rule.priority - b.rule.priority
      : a.rule.name < b.rule.name ? -1 : a.rule.name > b.rule.name ? 1 : a.i - b.i,
  );

  const policy: Policy = {
    schema_id: schemaId,
    schema_version: schemaVersion,
    default_verdict: defaultVerdict as Verdict,
    fail_closed: { enabled: fcEnabled, risk_classes: riskClasses, required_fields: requiredFields, required_high_risk_fields: highRiskFields },
    scripts: { max_steps: maxSteps, require_approval_above: approvalAbove, block_mixed_risk: sc.block_mixed_risk === true },
    rules: indexed.map((x) => x.rule),
    policy_digest: "",
  };
  if (problems.length === 0) policy.policy_digest = computePolicyDigest(policy);
  return policy;
}

function normalizeRule(r: Doc, index: number, problems: Problems): PolicyRule {
  const name = str(r.name);
  const label = name || `rules[${index}]`;
  const at = (...rest: (string | number)[]): Path => ["rules", index, ...rest];
  if (name === "") problems.push(`rule name is required (rules[${index}])`, { path: at("name") });

  let effect = lower(r.effect);
  const action = lower(r.action);
  if (effect === "") effect = action;
  if (action !== "" && effect !== action) problems.push(`rule action must match effect for ${label}`, { path: at("action") });
  if (effect === "") problems.push(`rule effect is required for ${label}`, { path: at() });
  else if (!VERDICTS.has(effect)) {
    problems.push(`invalid rule effect "${effect}" for ${label}`, { path: at(r.effect !== undefined ? "effect" : "action"), input: effect, candidates: VERDICTS });
  }

  const match = normalizeMatch(obj(r.match), label, at("match"), problems);

  const minApprovals = int(r.min_approvals);
  if (minApprovals < 0) problems.push(`min_approvals must be >= 0 for ${label}`, { path: at("min_approvals") });

  const manifestDigest = lower(r.required_agent_manifest_digest);
  if (manifestDigest !== "" && !isHex64(manifestDigest)) {
    problems.push(`required_agent_manifest_digest must be sha256 hex for ${label}`, { path: at("required_agent_manifest_digest") });
  }
  const credentialSources = lowerList(r.allowed_credential_sources);
  for (const s of credentialSources) {
    if (!CREDENTIAL_SOURCES.has(s)) {
      const where = { path: at("allowed_credential_sources"), item: s, input: s, candidates: CREDENTIAL_SOURCES };
      problems.push(`unsupported allowed_credential_source "${s}" for ${label}`, where);
    }
  }
  const accessTypes = lowerList(r.allowed_credential_access_types);
  for (const s of accessTypes) {
    if (!CREDENTIAL_ACCESS_TYPES.has(s)) {
      const where = { path: at("allowed_credential_access_types"), item: s, input: s, candidates: CREDENTIAL_ACCESS_TYPES };
      problems.push(`unsupported allowed_credential_access_type "${s}" for ${label}`, where);
    }
  }
  const maxTtl = int(r.max_credential_ttl_seconds);
  if (maxTtl < 0) problems.push(`max_credential_ttl_seconds must be >= 0 for ${label}`, { path: at("max_credential_ttl_seconds") });

  let evidenceMode = lower(r.required_context_evidence_mode);
  if (evidenceMode !== "" && evidenceMode !== "required") {
    problems.push(`required_context_evidence_mode must be required for ${label}`, { path: at("required_context_evidence_mode") });
  }
  const requireContextEvidence = r.require_context_evidence === true;
  if (requireContextEvidence && evidenceMode === "") evidenceMode = "required";
  const maxContextAge = int(r.max_context_age_seconds);
  if (maxContextAge < 0) problems.push(`max_context_age_seconds must be >= 0 for ${label}`, { path: at("max_context_age_seconds") });

  const rule: PolicyRule = {
    name,
    priority: int(r.priority),
    effect: effect as Verdict,
    match,
    reason_codes: trimList(r.reason_codes),
    violations: trimList(r.violations),
    min_approvals: minApprovals,
    require_distinct_approvers: r.require_distinct_approvers === true || minApprovals > 1,
    require_broker_credential: r.require_broker_credential === true,
    broker_scopes: lowerList(r.broker_scopes),
    require_declared_agent: r.require_declared_agent === true,
    allowed_agent_ids: trimList(r.allowed_agent_ids),
    denied_agent_ids: trimList(r.denied_agent_ids),
    allowed_agent_manifest_publishers: lowerList(r.allowed_agent_manifest_publishers),
    allowed_agent_manifest_sources: lowerList(r.allowed_agent_manifest_sources),
    required_agent_lifecycle_states: lowerList(r.required_agent_lifecycle_states),
    require_agent_owner: r.require_agent_owner === true,
    require_unexpired_agent: r.require_unexpired_agent === true,
    block_standing_credentials: r.block_standing_credentials === true,
    allowed_credential_sources: credentialSources,
    allowed_credential_issuers: trimList(r.allowed_credential_issuers),
    allowed_credential_access_types: accessTypes,
    max_credential_ttl_seconds: maxTtl,
    require_jit_credential: r.require_jit_credential === true,
    require_context_evidence: requireContextEvidence,
    max_context_age_seconds: maxContextAge,
  };
  const brokerReference = str(r.broker_reference);
  if (brokerReference !== "") rule.broker_reference = brokerReference;
  if (manifestDigest !== "") rule.required_agent_manifest_digest = manifestDigest;
  if (evidenceMode !== "") rule.required_context_evidence_mode = evidenceMode;

  const freeze = normalizeFreezeWindow(r.freeze_window, label, at("freeze_window"), problems);
  if (freeze) rule.freeze_window = freeze;
  const sandbox = normalizeSandbox(r.sandbox, label, at("sandbox"), problems);
  if (sandbox) rule.sandbox = sandbox;
  const rate = normalizeRateLimit(r.rate_limit, label, at("rate_limit"), problems);
  if (rate) rule.rate_limit = rate;
  const budget = normalizeDestructiveBudget(r.destructive_budget, label, at("destructive_budget"), problems);
  if (budget) rule.destructive_budget = budget;
  const dataflow = normalizeDataflow(r.dataflow, label, at("dataflow"), problems);
  if (dataflow) rule.dataflow = dataflow;
  const endpoint = normalizeEndpoint(r.endpoint, label, at("endpoint"), problems);
  if (endpoint) rule.endpoint = endpoint;
  return rule;
}

function normalizeMatch(m: Doc, label: string, at: Path, problems: Problems): PolicyMatch {
  const toolNames = [...((m.tool_names as string[] | undefined) ?? [])];
  const alias = str(m.tool_name);
  if (alias !== "") toolNames.push(alias);
  const endpointClasses = lowerList([...((m.endpoint_classes as string[] | undefined) ?? []), ...((m.endpoint_class as string[] | undefined) ?? [])]);
  for (const c of endpointClasses) {
    if (!ENDPOINT_CLASSES.has(c)) {
      const key = ((m.endpoint_classes as string[] | undefined) ?? []).some((x) => x.trim().toLowerCase() === c) ? "endpoint_classes" : "endpoint_class";
      problems.push(`unsupported match endpoint_class "${c}" for ${label}`, { path: [...at, key], item: c, input: c, candidates: ENDPOINT_CLASSES });
    }
  }
  const discovery = lowerList(m.discovery_method);
  for (const c of discovery) {
    if (!DISCOVERY_METHODS.has(c)) {
      problems.push(`unsupported match discovery_method "${c}" for ${label}`, { path: [...at, "discovery_method"], item: c, input: c, candidates: DISCOVERY_METHODS });
    }
  }

  const out: PolicyMatch = {
    tool_names: lowerList(toolNames),
    risk_classes: lowerList(m.risk_classes),
    identities: trimList(m.identities),
    workspace_prefixes: trimList(m.workspace_prefixes),
    target_kinds: lowerList(m.target_kinds),
    target_values: trimList(m.target_values),
    destination_kinds: lowerList(m.destination_kinds),
    destination_values: trimList(m.destination_values),
    destination_operations: lowerList(m.destination_operations),
    endpoint_classes: endpointClasses,
    discovery_methods: discovery,
    data_classes: lowerList(m.data_classes),
    provenance_sources: lowerList(m.provenance_sources),
    skill_publishers: lowerList(m.skill_publishers),
    skill_sources: lowerList(m.skill_sources),
    context_tool_names: lowerList(m.context_tool_names),
    context_data_classes: lowerList(m.context_data_classes),
    context_endpoint_classes: lowerList(m.context_endpoint_classes),
    context_autonomy_levels: lowerList(m.context_autonomy_levels),
    require_delegation: m.require_delegation === true,
    allowed_delegator_identities: trimList(m.allowed_delegator_identities),
    allowed_delegate_identities: trimList(m.allowed_delegate_identities),
    delegation_scopes: lowerList(m.delegation_scopes),
  };
  const ann = obj(m.tool_annotations);
  const annotations: NonNullable<PolicyMatch["tool_annotations"]> = {};
  for (const k of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const) {
    if (typeof ann[k] === "boolean") annotations[k] = ann[k] as boolean;
  }
  if (Object.keys(annotations).length > 0) out.tool_annotations = annotations;
  if (typeof m.max_delegation_depth === "number") {
    if (m.max_delegation_depth < 0) problems.push(`max_delegation_depth must be >= 0 for ${label}`, { path: [...at, "max_delegation_depth"] });
    out.max_delegation_depth = m.max_delegation_depth;
  }
  return out;
}

function normalizeFreezeWindow(v: unknown, label: string, at: Path, problems: Problems): FreezeWindowPolicy | undefined {
  if (!isPlainObject(v)) return undefined;
  const windowsRaw = (v.windows as Doc[] | undefined) ?? [];
  const fw: FreezeWindowPolicy = {
    enabled: true,
    timezone: str(v.timezone),
    effect: (lower(v.effect) || "block") as Verdict,
    environments: lowerList(v.environments),
    risk_classes: lowerList(v.risk_classes),
    // Gait default window name; 1-based to read naturally in decisions ("window-1" is the first window).
    windows: windowsRaw.map((w, i) => ({ name: str(w.name) || `window-${i + 1}`, start: str(w.start), end: str(w.end) })),
  };
  const reason = str(v.reason);
  if (reason !== "") fw.reason = reason;
  const configured =
    v.enabled === true || fw.timezone !== "" || lower(v.effect) !== "" || reason !== "" ||
    fw.environments.length > 0 || fw.risk_classes.length > 0 || fw.windows.length > 0;
  if (!configured) return undefined;
  if (fw.timezone === "") problems.push(`freeze_window.timezone is required for ${label}`, { path: [...at, "timezone"] });
  if (fw.windows.length === 0) problems.push(`freeze_window.windows must not be empty for ${label}`, { path: [...at, "windows"] });
  fw.windows.forEach((w, i) => {
    if (w.start === "" || w.end === "") problems.push(`freeze_window.windows[${i}] requires start and end for ${label}`, { path: [...at, "windows", i] });
  });
  if (!CONSTRAINT_ACTIONS.has(fw.effect)) {
    problems.push(`unsupported freeze_window.effect "${fw.effect}" for ${label}`, { path: [...at, "effect"], input: fw.effect, candidates: CONSTRAINT_ACTIONS });
  }
  return fw;
}

function sandboxEnum(v: Doc, key: string, allowed: ReadonlySet<string>, label: string, at: Path, problems: Problems): string[] {
  const values = lowerList(v[key]);
  for (const x of values) {
    if (!allowed.has(x)) problems.push(`unsupported sandbox.${key} value "${x}" for ${label}`, { path: [...at, key], item: x, input: x, candidates: allowed });
  }
  return values;
}

function sandboxPaths(v: Doc, key: string, label: string, at: Path, problems: Problems): string[] {
  // trimmed and path-cleaned like the intent's sandbox paths, so the two sides compare equal
  const cleaned = ((v[key] as string[] | undefined) ?? []).map((p) => (p.trim() === "" ? "" : goPathClean(p.trim())));
  const values = uniqueSorted(cleaned.filter((p) => p !== "."));
  for (const x of values) {
    if (ENV_ASSIGNMENT.test(x)) problems.push(`sandbox.${key} must not contain raw env assignments for ${label}`, { path: [...at, key] });
  }
  return values;
}

function normalizeSandbox(v: unknown, label: string, at: Path, problems: Problems): SandboxPolicy | undefined {
  if (!isPlainObject(v)) return undefined;
  const sb: SandboxPolicy = {
    enabled: true,
    allowed_network_modes: sandboxEnum(v, "allowed_network_modes", SANDBOX_NETWORK_MODES, label, at, problems),
    allowed_writable_path_prefixes: sandboxPaths(v, "allowed_writable_path_prefixes", label, at, problems),
    required_read_only_roots: sandboxPaths(v, "required_read_only_roots", label, at, problems),
    allowed_env_exposure_modes: sandboxEnum(v, "allowed_env_exposure_modes", SANDBOX_ENV_MODES, label, at, problems),
    max_timeout_seconds: int(v.max_timeout_seconds),
    allowed_filesystem_isolations: sandboxEnum(v, "allowed_filesystem_isolations", SANDBOX_FS_ISOLATIONS, label, at, problems),
    allowed_user_modes: sandboxEnum(v, "allowed_user_modes", SANDBOX_USER_MODES, label, at, problems),
  };
  if (sb.max_timeout_seconds < 0) problems.push(`sandbox.max_timeout_seconds must be >= 0 for ${label}`, { path: [...at, "max_timeout_seconds"] });
  const configured =
    v.enabled === true || sb.allowed_network_modes.length > 0 || sb.allowed_writable_path_prefixes.length > 0 ||
    sb.required_read_only_roots.length > 0 || sb.allowed_env_exposure_modes.length > 0 || sb.max_timeout_seconds !== 0 ||
    sb.allowed_filesystem_isolations.length > 0 || sb.allowed_user_modes.length > 0;
  return configured ? sb : undefined;
}

function normalizeRateLimit(v: unknown, label: string, at: Path, problems: Problems): RateLimitPolicy | undefined {
  if (!isPlainObject(v)) return undefined;
  const requests = int(v.requests);
  if (requests < 0) problems.push(`rate_limit.requests must be >= 0 for ${label}`, { path: [...at, "requests"] });
  if (requests <= 0) return undefined; // window/scope are only checked when the limit is on (Gait)
  const window = lower(v.window) || "minute";
  const scope = lower(v.scope) || "tool_identity";
  if (!RATE_WINDOWS.has(window)) problems.push(`unsupported rate_limit.window "${window}" for ${label}`, { path: [...at, "window"], input: window, candidates: RATE_WINDOWS });
  if (!RATE_SCOPES.has(scope)) problems.push(`unsupported rate_limit.scope "${scope}" for ${label}`, { path: [...at, "scope"], input: scope, candidates: RATE_SCOPES });
  return { requests, window, scope };
}

function normalizeDestructiveBudget(v: unknown, label: string, at: Path, problems: Problems): RateLimitPolicy | undefined {
  if (!isPlainObject(v)) return undefined;
  const requests = int(v.requests);
  const rawWindow = lower(v.window);
  const rawScope = lower(v.scope);
  if (requests === 0 && rawWindow === "" && rawScope === "") return undefined;
  if (requests <= 0) problems.push(`destructive_budget.requests must be >= 1 for ${label}`, { path: [...at, "requests"] });
  const window = rawWindow || "minute";
  const scope = rawScope || "tool_identity";
  if (!RATE_WINDOWS.has(window)) {
    problems.push(`unsupported destructive_budget.window "${window}" for ${label}`, { path: [...at, "window"], input: window, candidates: RATE_WINDOWS });
  }
  if (!RATE_SCOPES.has(scope)) {
    problems.push(`unsupported destructive_budget.scope "${scope}" for ${label}`, { path: [...at, "scope"], input: scope, candidates: RATE_SCOPES });
  }
  return { requests, window, scope };
}

function normalizeDataflow(v: unknown, label: string, at: Path, problems: Problems): DataflowPolicy | undefined {
  if (!isPlainObject(v)) return undefined;
  const df: DataflowPolicy = {
    enabled: true,
    tainted_sources: lowerList(v.tainted_sources),
    destination_kinds: lowerList(v.destination_kinds),
    destination_values: trimList(v.destination_values),
    destination_operations: lowerList(v.destination_operations),
    action: (lower(v.action) || "require_approval") as Verdict,
    reason_code: str(v.reason_code) || "dataflow_tainted_destination",
    violation: str(v.violation) || "tainted_dataflow",
  };
  const configured =
    v.enabled === true || df.tainted_sources.length > 0 || df.destination_kinds.length > 0 ||
    df.destination_values.length > 0 || df.destination_operations.length > 0;
  if (!configured) return undefined;
  if (df.tainted_sources.length === 0) df.tainted_sources = ["external", "tool_output"];
  if (!CONSTRAINT_ACTIONS.has(df.action)) {
    problems.push(`unsupported dataflow.action "${df.action}" for ${label}`, { path: [...at, "action"], input: df.action, candidates: CONSTRAINT_ACTIONS });
  }
  return df;
}

function normalizeEndpoint(v: unknown, label: string, at: Path, problems: Problems): EndpointPolicy | undefined {
  if (!isPlainObject(v)) return undefined;
  const ep: EndpointPolicy = {
    enabled: true,
    path_allowlist: trimList(v.path_allowlist),
    path_denylist: trimList(v.path_denylist),
    domain_allowlist: lowerList(v.domain_allowlist),
    domain_denylist: lowerList(v.domain_denylist),
    egress_classes: lowerList(v.egress_classes),
    action: (lower(v.action) || "block") as Verdict,
    reason_code: str(v.reason_code) || "endpoint_constraint_violation",
    violation: str(v.violation) || "endpoint_constraint_violation",
  };
  const destructiveAction = lower(v.destructive_action);
  const configured =
    v.enabled === true || ep.path_allowlist.length > 0 || ep.path_denylist.length > 0 || ep.domain_allowlist.length > 0 ||
    ep.domain_denylist.length > 0 || ep.egress_classes.length > 0 || destructiveAction !== "";
  for (const c of ep.egress_classes) {
    const where = { path: [...at, "egress_classes"], item: c };
    if (!ENDPOINT_CLASSES.has(c)) problems.push(`unsupported endpoint.egress_class "${c}" for ${label}`, { ...where, input: c, candidates: ENDPOINT_CLASSES });
    else if (!c.startsWith("net.")) problems.push(`endpoint.egress_class must be network class for ${label} (got "${c}")`, where);
  }
  if (!configured) return undefined;
  if (!CONSTRAINT_ACTIONS.has(ep.action)) {
    problems.push(`unsupported endpoint.action "${ep.action}" for ${label}`, { path: [...at, "action"], input: ep.action, candidates: CONSTRAINT_ACTIONS });
  }
  if (destructiveAction !== "") {
    if (!CONSTRAINT_ACTIONS.has(destructiveAction)) {
      const where = { path: [...at, "destructive_action"], input: destructiveAction, candidates: CONSTRAINT_ACTIONS };
      problems.push(`unsupported endpoint.destructive_action "${destructiveAction}" for ${label}`, where);
    }
    ep.destructive_action = destructiveAction as Verdict;
  }
  return ep;
}

// ---------------------------------------------------------------------------------------------------------------
// policy_digest (gate.md §3.8)
// ---------------------------------------------------------------------------------------------------------------

type Payload = { [k: string]: JsonValue };

/**
 * The Go-shaped digest payload of a normalized policy. Keys are Gait's Go struct field names. Go's `json.Marshal`
 * writes an empty-but-allocated slice as `[]` and a nil slice as `null`; Gait's list normalizers always allocate,
 * except the sandbox path-list normalizer, which returns nil for an empty list, hence `null` there.
 * Optional keys appear only when "non-zero" (non-empty list/string, true, > 0) exactly as Gait adds them.
 */
export function policyDigestPayload(policy: Policy): Payload {
  const failClosed: Payload = {
    Enabled: policy.fail_closed.enabled,
    RiskClasses: policy.fail_closed.risk_classes,
    RequiredFields: policy.fail_closed.required_fields,
  };
  if (policy.fail_closed.required_high_risk_fields.length > 0) {
    failClosed.RequiredHighRiskFields = policy.fail_closed.required_high_risk_fields;
  }
  const payload: Payload = {
    SchemaID: policy.schema_id,
    SchemaVersion: policy.schema_version,
    DefaultVerdict: policy.default_verdict,
    FailClosed: failClosed,
    Rules: policy.rules.map(ruleDigestPayload),
  };
  const s = policy.scripts;
  if (s.max_steps > 0 || s.require_approval_above > 0 || s.block_mixed_risk) {
    // raw configured values (0 = built-in default), as Gait digests them
    payload.Scripts = { MaxSteps: s.max_steps, RequireApprovalAbove: s.require_approval_above, BlockMixedRisk: s.block_mixed_risk };
  }
  return payload;
}

function ruleDigestPayload(rule: PolicyRule): Payload {
  const m = rule.match;
  const match: Payload = {
    ToolNames: m.tool_names,
    RiskClasses: m.risk_classes,
    TargetKinds: m.target_kinds,
    TargetValues: m.target_values,
    ProvenanceSources: m.provenance_sources,
    Identities: m.identities,
    WorkspacePrefixes: m.workspace_prefixes,
  };
  const optList = (target: Payload, key: string, values: string[]) => {
    if (values.length > 0) target[key] = values;
  };
  optList(match, "EndpointClasses", m.endpoint_classes);
  optList(match, "DiscoveryMethods", m.discovery_methods);
  if (m.tool_annotations) {
    const a: Payload = {};
    if (m.tool_annotations.readOnlyHint !== undefined) a.ReadOnlyHint = m.tool_annotations.readOnlyHint;
    if (m.tool_annotations.destructiveHint !== undefined) a.DestructiveHint = m.tool_annotations.destructiveHint;
    if (m.tool_annotations.idempotentHint !== undefined) a.IdempotentHint = m.tool_annotations.idempotentHint;
    if (m.tool_annotations.openWorldHint !== undefined) a.OpenWorldHint = m.tool_annotations.openWorldHint;
    if (Object.keys(a).length > 0) match.ToolAnnotations = a;
  }
  optList(match, "SkillPublishers", m.skill_publishers);
  optList(match, "SkillSources", m.skill_sources);
  optList(match, "DataClasses", m.data_classes);
  optList(match, "DestinationKinds", m.destination_kinds);
  optList(match, "DestinationValues", m.destination_values);
  optList(match, "DestinationOps", m.destination_operations);
  optList(match, "ContextToolNames", m.context_tool_names);
  optList(match, "ContextDataClasses", m.context_data_classes);
  optList(match, "ContextEndpointClasses", m.context_endpoint_classes);
  optList(match, "ContextAutonomyLevels", m.context_autonomy_levels);
  if (m.require_delegation) match.RequireDelegation = true;
  optList(match, "AllowedDelegatorIdentities", m.allowed_delegator_identities);
  optList(match, "AllowedDelegateIdentities", m.allowed_delegate_identities);
  optList(match, "DelegationScopes", m.delegation_scopes);
  // a pointer in Go: present whenever set, including an explicit 0
  if (m.max_delegation_depth !== undefined) match.MaxDelegationDepth = m.max_delegation_depth;

  const p: Payload = {
    Name: rule.name,
    Priority: rule.priority,
    Effect: rule.effect,
    Match: match,
    ReasonCodes: rule.reason_codes,
    Violations: rule.violations,
  };
  const optInt = (key: string, v: number) => { if (v > 0) p[key] = v; };
  const optBool = (key: string, v: boolean) => { if (v) p[key] = true; };
  const optStr = (key: string, v: string | undefined) => { if (v) p[key] = v; };
  optInt("MinApprovals", rule.min_approvals);
  optBool("RequireDeclaredAgent", rule.require_declared_agent);
  optList(p, "AllowedAgentIDs", rule.allowed_agent_ids);
  optList(p, "DeniedAgentIDs", rule.denied_agent_ids);
  optStr("RequiredAgentManifestDigest", rule.required_agent_manifest_digest);
  optList(p, "AllowedAgentManifestPublishers", rule.allowed_agent_manifest_publishers);
  optList(p, "AllowedAgentManifestSources", rule.allowed_agent_manifest_sources);
  optList(p, "RequiredAgentLifecycleStates", rule.required_agent_lifecycle_states);
  optBool("RequireAgentOwner", rule.require_agent_owner);
  optBool("RequireUnexpiredAgent", rule.require_unexpired_agent);
  optBool("BlockStandingCredentials", rule.block_standing_credentials);
  optList(p, "AllowedCredentialSources", rule.allowed_credential_sources);
  optList(p, "AllowedCredentialIssuers", rule.allowed_credential_issuers);
  optList(p, "AllowedCredentialAccessTypes", rule.allowed_credential_access_types);
  optInt("MaxCredentialTTLSeconds", rule.max_credential_ttl_seconds);
  optBool("RequireJITCredential", rule.require_jit_credential);
  optBool("RequireDistinctApprovers", rule.require_distinct_approvers);
  optBool("RequireContextEvidence", rule.require_context_evidence);
  optStr("RequiredContextEvidenceMode", rule.required_context_evidence_mode);
  optInt("MaxContextAgeSeconds", rule.max_context_age_seconds);
  optBool("RequireBrokerCredential", rule.require_broker_credential);
  optStr("BrokerReference", rule.broker_reference);
  optList(p, "BrokerScopes", rule.broker_scopes);
  const fw = rule.freeze_window;
  if (fw?.enabled) {
    // The freeze-window struct as Go marshals it: every field, Reason "" included.
    p.FreezeWindow = {
      Enabled: true,
      Timezone: fw.timezone,
      Effect: fw.effect,
      Reason: fw.reason ?? "",
      Environments: fw.environments,
      RiskClasses: fw.risk_classes,
      Windows: fw.windows.map((w) => ({ Name: w.name, Start: w.start, End: w.end })),
    };
  }
  const sb = rule.sandbox;
  if (sb?.enabled) {
    const nullIfEmpty = (v: string[]): JsonValue => (v.length > 0 ? v : null);
    p.Sandbox = {
      Enabled: true,
      AllowedNetworkModes: sb.allowed_network_modes,
      AllowedWritablePathPrefixes: nullIfEmpty(sb.allowed_writable_path_prefixes),
      RequiredReadOnlyRoots: nullIfEmpty(sb.required_read_only_roots),
      AllowedEnvExposureModes: sb.allowed_env_exposure_modes,
      MaxTimeoutSeconds: sb.max_timeout_seconds,
      AllowedFilesystemIsolations: sb.allowed_filesystem_isolations,
      AllowedUserModes: sb.allowed_user_modes,
    };
  }
  const rate = (r: RateLimitPolicy): Payload => ({ Requests: r.requests, Window: r.window, Scope: r.scope });
  if (rule.rate_limit && rule.rate_limit.requests > 0) p.RateLimit = rate(rule.rate_limit);
  if (rule.destructive_budget && rule.destructive_budget.requests > 0) p.DestructiveBudget = rate(rule.destructive_budget);
  const df = rule.dataflow;
  if (df?.enabled) {
    const d: Payload = {
      Enabled: true,
      TaintedSources: df.tainted_sources,
      Action: df.action,
      ReasonCode: df.reason_code,
      Violation: df.violation,
    };
    optList(d, "DestinationKinds", df.destination_kinds);
    optList(d, "DestinationValues", df.destination_values);
    optList(d, "DestinationOperations", df.destination_operations);
    p.Dataflow = d;
  }
  const ep = rule.endpoint;
  if (ep?.enabled) {
    p.Endpoint = {
      Enabled: true,
      PathAllowlist: ep.path_allowlist,
      PathDenylist: ep.path_denylist,
      DomainAllowlist: ep.domain_allowlist,
      DomainDenylist: ep.domain_denylist,
      EgressClasses: ep.egress_classes,
      Action: ep.action,
      DestructiveAction: ep.destructive_action ?? "",
      ReasonCode: ep.reason_code,
      Violation: ep.violation,
    };
  }
  return p;
}

/** `policy_digest`: lowercase hex SHA-256 of the JCS of {@link policyDigestPayload}. */
export function computePolicyDigest(policy: Policy): string {
  return digestJCS(policyDigestPayload(policy));
}

// ---------------------------------------------------------------------------------------------------------------
// Summary for `gait policy validate --json`
// ---------------------------------------------------------------------------------------------------------------

export interface PolicyRuleSummary {
  name: string;
  priority: number;
  effect: Verdict;
  /** `match` keys that constrain the rule (empty = matches every intent) */
  match_keys: string[];
  /** attached constraints and runtime controls, e.g. `endpoint`, `freeze_window`, `rate_limit`, `broker_credential` */
  constraints: string[];
  /** reason code emitted when the rule decides and lists none of its own */
  fallback_reason_code?: string;
}

export interface PolicySummary {
  schema_id: string;
  schema_version: string;
  policy_digest: string;
  default_verdict: Verdict;
  rule_count: number;
  summary: {
    fail_closed: { enabled: boolean; risk_classes: string[]; required_fields: string[]; required_high_risk_fields: string[] };
    /** effective script limits (`max_steps` 0 in the file means Gait's built-in 64) */
    scripts: { max_steps: number; require_approval_above: number; block_mixed_risk: boolean };
    /** rule count per effect */
    effects: Record<Verdict, number>;
    /** priorities in evaluation order (lower first; only the first matching tier counts) */
    priority_tiers: number[];
    rules: PolicyRuleSummary[];
  };
}

const MATCH_LIST_KEYS = [
  "tool_names", "risk_classes", "identities", "workspace_prefixes", "target_kinds", "target_values", "destination_kinds",
  "destination_values", "destination_operations", "endpoint_classes", "discovery_methods", "data_classes",
  "provenance_sources", "skill_publishers", "skill_sources", "context_tool_names", "context_data_classes",
  "context_endpoint_classes", "context_autonomy_levels", "allowed_delegator_identities", "allowed_delegate_identities",
  "delegation_scopes",
] as const;

/** A compact, stable description of a parsed policy for `gait policy validate --json`. */
export function policySummary(policy: Policy): PolicySummary {
  const effects: Record<Verdict, number> = { allow: 0, dry_run: 0, require_approval: 0, block: 0 };
  const rules = policy.rules.map((rule): PolicyRuleSummary => {
    effects[rule.effect] += 1;
    const m = rule.match;
    const matchKeys: string[] = MATCH_LIST_KEYS.filter((k) => m[k].length > 0);
    if (m.tool_annotations) matchKeys.push("tool_annotations");
    if (m.require_delegation) matchKeys.push("require_delegation");
    if (m.max_delegation_depth !== undefined) matchKeys.push("max_delegation_depth");
    const compiled = compilePolicy(policy).rules.find((c) => c.rule === rule);
    const constraints: string[] = [];
    if (rule.dataflow) constraints.push("dataflow");
    if (rule.endpoint) constraints.push("endpoint");
    if (compiled?.contextRequired) constraints.push("context_evidence");
    if (compiled?.agentEnabled) constraints.push("agent_identity");
    if (compiled?.credentialEnabled) constraints.push("credential_posture");
    if (rule.freeze_window) constraints.push("freeze_window");
    if (rule.sandbox) constraints.push("sandbox");
    if (rule.rate_limit) constraints.push("rate_limit");
    if (rule.destructive_budget) constraints.push("destructive_budget");
    if (rule.require_broker_credential) constraints.push("broker_credential");
    if (rule.min_approvals > 0) constraints.push(`min_approvals:${rule.min_approvals}`);
    const s: PolicyRuleSummary = { name: rule.name, priority: rule.priority, effect: rule.effect, match_keys: matchKeys.sort(), constraints: constraints.sort() };
    if (rule.reason_codes.length === 0) s.fallback_reason_code = "matched_rule_" + sanitizeRuleName(rule.name);
    return s;
  });
  return {
    schema_id: policy.schema_id,
    schema_version: policy.schema_version,
    policy_digest: policy.policy_digest,
    default_verdict: policy.default_verdict,
    rule_count: policy.rules.length,
    summary: {
      fail_closed: {
        enabled: policy.fail_closed.enabled,
        risk_classes: [...policy.fail_closed.risk_classes],
        required_fields: [...policy.fail_closed.required_fields],
        required_high_risk_fields: [...policy.fail_closed.required_high_risk_fields],
      },
      scripts: {
        max_steps: policy.scripts.max_steps > 0 ? policy.scripts.max_steps : MAX_SCRIPT_STEPS,
        require_approval_above: policy.scripts.require_approval_above,
        block_mixed_risk: policy.scripts.block_mixed_risk,
      },
      effects,
      priority_tiers: [...new Set(policy.rules.map((r) => r.priority))],
      rules,
    },
  };
}
