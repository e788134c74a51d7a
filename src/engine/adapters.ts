/**
 * Tool-call adapters (gate.md §6): decode an agent framework's tool-call payload into raw intent JSON, the way
 * Gait's `mcp.DecodeToolCall` + `mcp.ToIntentRequest` do. The result is fed to `normalizeIntent()` (directly or
 * through the policy evaluator), which applies all intent validation; this module only maps shapes, applies the
 * MCP proxy context defaults and the profile's context/OAuth requirements.
 *
 * Decoding follows Go's `encoding/json` into Gait's structs: unknown fields are ignored, `null` means "zero value",
 * and a value of the wrong JSON type for a declared field is a parse error (`parse <adapter> tool call: ...`).
 *
 * Pure: no I/O.
 */
import { decodeUtf8Go } from "./utf8.js";
import { IntentDecodeError, assertJsonDepth, goToLower, goTrimSpace, setJsonProperty, INTENT_SCHEMA_ID, INTENT_SCHEMA_VERSION } from "./intent.js";
import { GAIT_EPOCH, GO_ZERO_TIME, formatGoTime, parseRFC3339 } from "./time.js";
import { IntentError, type Profile } from "./types.js";

/** Server identity carried by an MCP call (`call.server`), used by the MCP trust check (gate.md §4.16). */
export interface McpServerInfo {
  server_id: string;
  server_name?: string;
  publisher?: string;
  source?: string;
  endpoint?: string;
}

/** A decoded tool call. */
export interface DecodedCall {
  /** adapter name as used (trimmed, lowercased; `""` becomes `mcp`; aliases are kept as given, e.g. `claude-code`) */
  adapter: string;
  /** raw intent JSON ready for `normalizeIntent()` (not yet normalized: no digests) */
  intent: Record<string, unknown>;
  /** e.g. the fallback-context warning of the standard profile */
  warnings: string[];
  /** `call.context.run_id` (trimmed) — used for artifact naming only; deliberately NOT copied into the intent */
  runId?: string;
  /** `call.context.session_id` (or the Claude Code hook's `session_id`), trimmed */
  sessionId?: string;
  /** `call.context.job_id` (trimmed): the proxy's emergency-stop check keys on it */
  jobId?: string;
  /**
   * The caller's own `context.risk_class` (trimmed, lowercased; "" when absent) before the `high` default is applied.
   * Gait's MCP trust enforcement and kill-switch "required" decision use this raw value (QUIRK, gate.md §4.16).
   */
  rawRiskClass: string;
  /** `call.server` (MCP adapter only) */
  server?: McpServerInfo;
}

/** Options of {@link decodeToolCall}. */
export interface DecodeToolCallOptions {
  /**
   * `oss-prod` requires an explicit identity, workspace and session id and full OAuth evidence for OAuth auth modes.
   * @defaultValue "standard"
   */
  profile?: Profile;
}

/** Gait's warning when the standard profile filled in a missing identity, workspace or session id. */
export const FALLBACK_CONTEXT_WARNING =
  "standard profile applied fallback intent context; use --profile oss-prod for strict context enforcement";

/** MCP proxy context defaults (standard profile). */
export const MCP_DEFAULT_IDENTITY = "mcp-proxy";
export const MCP_DEFAULT_WORKSPACE = ".";
export const MCP_DEFAULT_RISK_CLASS = "high";
const ADAPTER_PRODUCER_VERSION = "0.0.0-dev";

// ---------------------------------------------------------------------------------------------------------------
// Go-like decoding helpers. `fail()` errors carry the adapter's parse prefix.
// ---------------------------------------------------------------------------------------------------------------

type Rec = Record<string, unknown>;
const EMPTY: Rec = Object.freeze({}) as Rec;

function isRec(v: unknown): v is Rec {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// Callers read the property themselves (`d.str(o.kind, at, "kind")`): a literal property name at each site gets its own
// fast inline cache, where a shared `o[key]` would be one slow megamorphic keyed load for every field.
class Decoder {
  constructor(private readonly prefix: string) {}

  fail(path: string, want: string): never {
    throw new IntentDecodeError(`${this.prefix}: ${path} must be ${want}`);
  }

  /** Raw (untrimmed) string field `at.key` with value `v`; "" when absent/null. */
  str(v: unknown, at: string, key: string): string {
    if (typeof v === "string") return v;
    if (v === undefined || v === null) return "";
    return this.fail(at ? `${at}.${key}` : key, "a string");
  }

  bool(v: unknown, at: string, key: string): boolean {
    if (typeof v === "boolean") return v;
    if (v === undefined || v === null) return false;
    return this.fail(`${at}.${key}`, "a boolean");
  }

  obj(v: unknown, at: string, key: string): Rec | undefined {
    if (isRec(v)) return v;
    if (v === undefined || v === null) return undefined;
    return this.fail(at ? `${at}.${key}` : key, "a JSON object");
  }

  arr(v: unknown, at: string, key: string): readonly unknown[] {
    if (Array.isArray(v)) return v;
    if (v === undefined || v === null) return [];
    return this.fail(at ? `${at}.${key}` : key, "an array");
  }

  /** Array element that must be an object (null element => zero struct). */
  elem(v: unknown, at: string): Rec {
    if (isRec(v)) return v;
    if (v === undefined || v === null) return EMPTY;
    return this.fail(at, "a JSON object");
  }

  strList(v: unknown, at: string, key: string): string[] {
    const arr = this.arr(v, at, key);
    return arr.map((item, i) => {
      if (typeof item === "string") return item;
      if (item === null) return "";
      return this.fail(`${at ? `${at}.` : ""}${key}[${i}]`, "a string");
    });
  }

  /** Go time.Time: RFC 3339 string; "" for absent/null (zero). */
  time(v: unknown, at: string, key: string): string {
    if (v === undefined || v === null) return "";
    if (typeof v === "string") {
      const p = parseRFC3339(v);
      if (p) return formatGoTime(p);
    }
    return this.fail(at ? `${at}.${key}` : key, "an RFC 3339 timestamp");
  }
}

/** Accept an already decoded value, JSON text, or UTF-8 bytes of JSON text. */
function parsePayload(payload: unknown, prefix: string): unknown {
  let text: string | undefined;
  if (typeof payload === "string") text = payload;
  else if (payload instanceof Uint8Array) text = decodeUtf8Go(payload); // Go's U+FFFD rule (utf8.ts)
  if (text === undefined) return payload;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new IntentDecodeError(`${prefix}: invalid JSON: ${(e as Error).message}`);
  }
}

/** The top-level payload must be a JSON object (Go: `null` decodes to an empty struct). */
function topObject(value: unknown, d: Decoder): Rec {
  if (isRec(value)) return value;
  if (value === null) return EMPTY;
  return d.fail("payload", "a JSON object");
}

// ---------------------------------------------------------------------------------------------------------------
// The MCP ToolCall model (Gait core/mcp ToolCall), decoded with Go semantics
// ---------------------------------------------------------------------------------------------------------------

interface CallTarget {
  kind: string;
  value: string;
  operation: string;
  sensitivity: string;
  discovery_method: string;
  read_only_hint: boolean;
  destructive_hint: boolean;
  idempotent_hint: boolean;
  open_world_hint: boolean;
}

interface CallProvenance {
  arg_path: string;
  source: string;
  source_ref: string;
  integrity_digest: string;
}

interface CallStep {
  name: string;
  args?: Rec;
  targets: CallTarget[];
  arg_provenance: CallProvenance[];
}

interface OAuthEvidence {
  issuer: string;
  audience: string[];
  subject: string;
  client_id: string;
  token_type: string;
  scopes: string[];
  dcr_client_id: string;
  redirect_uri: string;
  token_binding: string;
  auth_time: string;
  evidence_ref: string;
}

interface CallContext {
  identity: string;
  workspace: string;
  risk_class: string;
  phase: string;
  job_id: string;
  session_id: string;
  request_id: string;
  run_id: string;
  auth_mode: string;
  oauth_evidence?: OAuthEvidence;
  auth_context?: Rec;
  credential_scopes: string[];
  environment_fingerprint: string;
}

interface CallDelegation {
  requester_identity: string;
  scope_class: string;
  token_refs: string[];
  chain: { delegator_identity: string; delegate_identity: string; scope_class: string; token_ref: string }[];
}

interface ToolCall {
  name: string;
  args?: Rec;
  script?: { steps: CallStep[] };
  target: string;
  targets: CallTarget[];
  arg_provenance: CallProvenance[];
  server?: McpServerInfo;
  context: CallContext;
  delegation?: CallDelegation;
  created_at: string; // "" == zero
}

function emptyContext(): CallContext {
  return {
    identity: "", workspace: "", risk_class: "", phase: "", job_id: "", session_id: "", request_id: "", run_id: "",
    auth_mode: "", credential_scopes: [], environment_fingerprint: "",
  };
}

function emptyCall(name: string, args: Rec | undefined): ToolCall {
  return { name, args, target: "", targets: [], arg_provenance: [], context: emptyContext(), created_at: "" };
}

/**
 * Boolean annotation value: a JSON bool, or the strings "true"/"false" (any case, trimmed); other types are
 * ignored (`ok == false`). Keys are tried in order (snake_case first, then camelCase).
 */
function annotationBool(ann: Rec | undefined, snake: string, camel: string): boolean | undefined {
  if (!ann) return undefined;
  for (const key of [snake, camel]) {
    if (!Object.prototype.hasOwnProperty.call(ann, key)) continue;
    const v = ann[key];
    if (typeof v === "boolean") return v;
    if (typeof v === "string") {
      const s = goToLower(goTrimSpace(v));
      if (s === "true") return true;
      if (s === "false") return false;
    }
  }
  return undefined;
}

function annotationString(ann: Rec | undefined, snake: string, camel: string): string | undefined {
  if (!ann) return undefined;
  for (const key of [snake, camel]) {
    if (!Object.prototype.hasOwnProperty.call(ann, key)) continue;
    const v = ann[key];
    if (typeof v === "string") return v;
  }
  return undefined;
}

/** Decode one MCP target: explicit hints OR'ed with their camelCase aliases, then the annotation map overrides. */
function decodeTarget(raw: unknown, at: string, d: Decoder): CallTarget {
  const o = d.elem(raw, at);
  const kind = d.str(o.kind, at, "kind");
  const value = d.str(o.value, at, "value");
  const operation = d.str(o.operation, at, "operation");
  const sensitivity = d.str(o.sensitivity, at, "sensitivity");
  const dm = d.str(o.discovery_method, at, "discovery_method");
  const dmAlias = d.str(o.discoveryMethod, at, "discoveryMethod");
  let readOnly = d.bool(o.read_only_hint, at, "read_only_hint") || d.bool(o.readOnlyHint, at, "readOnlyHint");
  let destructive = d.bool(o.destructive_hint, at, "destructive_hint") || d.bool(o.destructiveHint, at, "destructiveHint");
  let idempotent = d.bool(o.idempotent_hint, at, "idempotent_hint") || d.bool(o.idempotentHint, at, "idempotentHint");
  let openWorld = d.bool(o.open_world_hint, at, "open_world_hint") || d.bool(o.openWorldHint, at, "openWorldHint");
  const ann = d.obj(o.annotations, at, "annotations");

  let discovery = goTrimSpace(dm);
  if (discovery === "") discovery = goTrimSpace(dmAlias);
  const annDiscovery = annotationString(ann, "discovery_method", "discoveryMethod");
  if (annDiscovery !== undefined) discovery = goTrimSpace(annDiscovery);
  readOnly = annotationBool(ann, "read_only_hint", "readOnlyHint") ?? readOnly;
  destructive = annotationBool(ann, "destructive_hint", "destructiveHint") ?? destructive;
  idempotent = annotationBool(ann, "idempotent_hint", "idempotentHint") ?? idempotent;
  openWorld = annotationBool(ann, "open_world_hint", "openWorldHint") ?? openWorld;
  return {
    kind: goTrimSpace(kind), value: goTrimSpace(value), operation: goTrimSpace(operation),
    sensitivity: goTrimSpace(sensitivity), discovery_method: discovery, read_only_hint: readOnly,
    destructive_hint: destructive, idempotent_hint: idempotent, open_world_hint: openWorld,
  };
}

function decodeTargets(o: Rec, at: string, d: Decoder): CallTarget[] {
  const prefix = at ? `${at}.targets` : "targets";
  return d.arr(o.targets, at, "targets").map((t, i) => decodeTarget(t, `${prefix}[${i}]`, d));
}

function decodeProvenance(o: Rec, at: string, d: Decoder): CallProvenance[] {
  const prefix = at ? `${at}.arg_provenance` : "arg_provenance";
  return d.arr(o.arg_provenance, at, "arg_provenance").map((raw, i) => {
    const here = `${prefix}[${i}]`;
    const p = d.elem(raw, here);
    return {
      arg_path: goTrimSpace(d.str(p.arg_path, here, "arg_path")),
      source: goTrimSpace(d.str(p.source, here, "source")),
      source_ref: goTrimSpace(d.str(p.source_ref, here, "source_ref")),
      integrity_digest: goTrimSpace(d.str(p.integrity_digest, here, "integrity_digest")),
    };
  });
}

function decodeOAuthEvidence(o: Rec, at: string, d: Decoder): OAuthEvidence {
  return {
    issuer: d.str(o.issuer, at, "issuer"),
    audience: d.strList(o.audience, at, "audience"),
    subject: d.str(o.subject, at, "subject"),
    client_id: d.str(o.client_id, at, "client_id"),
    token_type: d.str(o.token_type, at, "token_type"),
    scopes: d.strList(o.scopes, at, "scopes"),
    dcr_client_id: d.str(o.dcr_client_id, at, "dcr_client_id"),
    redirect_uri: d.str(o.redirect_uri, at, "redirect_uri"),
    token_binding: d.str(o.token_binding, at, "token_binding"),
    auth_time: d.str(o.auth_time, at, "auth_time"),
    evidence_ref: d.str(o.evidence_ref, at, "evidence_ref"),
  };
}

/** Go marshals OAuthEvidence with `omitempty` on every field: only non-empty fields survive into auth_context. */
function oauthEvidenceJson(e: OAuthEvidence): Rec {
  const out: Rec = {};
  if (e.issuer !== "") out.issuer = e.issuer;
  if (e.audience.length > 0) out.audience = [...e.audience];
  if (e.subject !== "") out.subject = e.subject;
  if (e.client_id !== "") out.client_id = e.client_id;
  if (e.token_type !== "") out.token_type = e.token_type;
  if (e.scopes.length > 0) out.scopes = [...e.scopes];
  if (e.dcr_client_id !== "") out.dcr_client_id = e.dcr_client_id;
  if (e.redirect_uri !== "") out.redirect_uri = e.redirect_uri;
  if (e.token_binding !== "") out.token_binding = e.token_binding;
  if (e.auth_time !== "") out.auth_time = e.auth_time;
  if (e.evidence_ref !== "") out.evidence_ref = e.evidence_ref;
  return out;
}

function decodeContext(o: Rec | undefined, d: Decoder): CallContext {
  const ctx = emptyContext();
  if (!o) return ctx;
  const at = "context";
  ctx.identity = d.str(o.identity, at, "identity");
  ctx.workspace = d.str(o.workspace, at, "workspace");
  ctx.risk_class = d.str(o.risk_class, at, "risk_class");
  ctx.phase = d.str(o.phase, at, "phase");
  ctx.job_id = d.str(o.job_id, at, "job_id");
  ctx.session_id = d.str(o.session_id, at, "session_id");
  ctx.request_id = d.str(o.request_id, at, "request_id");
  ctx.run_id = d.str(o.run_id, at, "run_id");
  ctx.auth_mode = d.str(o.auth_mode, at, "auth_mode");
  const ev = d.obj(o.oauth_evidence, at, "oauth_evidence");
  if (ev) ctx.oauth_evidence = decodeOAuthEvidence(ev, "context.oauth_evidence", d);
  ctx.auth_context = d.obj(o.auth_context, at, "auth_context");
  ctx.credential_scopes = d.strList(o.credential_scopes, at, "credential_scopes");
  ctx.environment_fingerprint = d.str(o.environment_fingerprint, at, "environment_fingerprint");
  // Gait refuses a call that names a context envelope file (cmd/gait/mcp.go evaluateMCPProxyPayload; only `mcp serve
  // --allow-client-artifact-paths` reads one, which we refuse too: R6). Deciding the call without the envelope would
  // silently drop the evidence it asks to be bound (issue 9 #12).
  if (goTrimSpace(d.str(o.context_envelope_path, at, "context_envelope_path")) !== "") {
    throw new IntentError("call.context.context_envelope_path is not supported; use --context-envelope at the boundary");
  }
  return ctx;
}

function decodeMcpCall(payload: unknown): ToolCall {
  const d = new Decoder("parse mcp tool call");
  const o = topObject(payload, d);
  const call = emptyCall(d.str(o.name, "", "name"), d.obj(o.args, "", "args"));
  const script = d.obj(o.script, "", "script");
  if (script) {
    const steps = d.arr(script.steps, "script", "steps").map((raw, i): CallStep => {
      const at = `script.steps[${i}]`;
      const s = d.elem(raw, at);
      return {
        name: d.str(s.name, at, "name"),
        args: d.obj(s.args, at, "args"),
        targets: decodeTargets(s, at, d),
        arg_provenance: decodeProvenance(s, at, d),
      };
    });
    call.script = { steps };
  }
  call.target = d.str(o.target, "", "target");
  call.targets = decodeTargets(o, "", d);
  call.arg_provenance = decodeProvenance(o, "", d);
  const server = d.obj(o.server, "", "server");
  if (server) {
    const s: McpServerInfo = { server_id: d.str(server.server_id, "server", "server_id") };
    const name = d.str(server.server_name, "server", "server_name");
    const publisher = d.str(server.publisher, "server", "publisher");
    const source = d.str(server.source, "server", "source");
    const endpoint = d.str(server.endpoint, "server", "endpoint");
    if (name !== "") s.server_name = name;
    if (publisher !== "") s.publisher = publisher;
    if (source !== "") s.source = source;
    if (endpoint !== "") s.endpoint = endpoint;
    call.server = s;
  }
  call.context = decodeContext(d.obj(o.context, "", "context"), d);
  const del = d.obj(o.delegation, "", "delegation");
  if (del) {
    call.delegation = {
      requester_identity: d.str(del.requester_identity, "delegation", "requester_identity"),
      scope_class: d.str(del.scope_class, "delegation", "scope_class"),
      token_refs: d.strList(del.token_refs, "delegation", "token_refs"),
      chain: d.arr(del.chain, "delegation", "chain").map((raw, i) => {
        const at = `delegation.chain[${i}]`;
        const l = d.elem(raw, at);
        return {
          delegator_identity: d.str(l.delegator_identity, at, "delegator_identity"),
          delegate_identity: d.str(l.delegate_identity, at, "delegate_identity"),
          scope_class: d.str(l.scope_class, at, "scope_class"),
          token_ref: d.str(l.token_ref, at, "token_ref"),
        };
      }),
    };
  }
  call.created_at = d.time(o.created_at, "", "created_at");
  return call;
}

// ---------------------------------------------------------------------------------------------------------------
// Framework adapters
// ---------------------------------------------------------------------------------------------------------------

/** Arguments given as an object, a JSON string holding an object, or null/absent/blank (=> `{}`). */
function decodeArguments(raw: unknown, errPrefix: string): Rec | undefined {
  if (raw === undefined || raw === null) return {};
  if (isRec(raw)) return raw;
  if (typeof raw === "string") {
    if (goTrimSpace(raw) === "") return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw) as unknown;
    } catch (e) {
      throw new IntentDecodeError(`${errPrefix}: invalid JSON: ${(e as Error).message}`);
    }
    if (parsed === null) return undefined; // Go: `null` into a map leaves it nil (=> {} later)
    if (isRec(parsed)) return parsed;
    throw new IntentDecodeError(`${errPrefix}: arguments must be a JSON object, got ${jsonTypeName(parsed)}`);
  }
  throw new IntentDecodeError(`${errPrefix}: arguments must be a JSON object, got ${jsonTypeName(raw)}`);
}

function jsonTypeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  switch (typeof v) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    default:
      return typeof v;
  }
}

function decodeOpenAI(payload: unknown): ToolCall {
  const d = new Decoder("parse openai tool call");
  const o = topObject(payload, d);
  const fn = d.obj(o.function, "", "function") ?? EMPTY;
  const name = d.str(fn.name, "function", "name");
  const args = decodeArguments(fn.arguments, "decode openai arguments");
  return emptyCall(name, args);
}

function decodeAnthropic(payload: unknown): ToolCall {
  const d = new Decoder("parse anthropic tool call");
  const o = topObject(payload, d);
  d.str(o.type, "", "type"); // declared by Gait's envelope (type-checked, otherwise unused)
  const name = d.str(o.name, "", "name");
  const input = d.obj(o.input, "", "input");
  return emptyCall(name, input);
}

function decodeLangChain(payload: unknown): ToolCall {
  const d = new Decoder("parse langchain tool call");
  const o = topObject(payload, d);
  const name = d.str(o.tool, "", "tool");
  const args = decodeArguments(o.tool_input, "decode langchain tool_input");
  return emptyCall(name, args);
}

const CLAUDE_CODE_TOOL_NAMES: Readonly<Record<string, string>> = {
  read: "tool.read",
  grep: "tool.read",
  glob: "tool.read",
  webfetch: "tool.read",
  websearch: "tool.read",
  write: "tool.write",
  edit: "tool.write",
  notebookedit: "tool.write",
  bash: "tool.exec",
  task: "tool.delegate",
};

/**
 * Claude Code tool name => Gait tool name: known tools map to `tool.read|write|exec|delegate` (case, space, `_`
 * and `-` insensitive); names containing `.` are lowercased as is; anything else becomes `tool.<lower, space/- => _>`.
 */
export function normalizeClaudeCodeToolName(rawName: string): string {
  const trimmed = goTrimSpace(rawName);
  if (trimmed === "") return "";
  const canonical = goToLower(trimmed).replace(/[ _-]/g, "");
  const mapped = Object.prototype.hasOwnProperty.call(CLAUDE_CODE_TOOL_NAMES, canonical)
    ? CLAUDE_CODE_TOOL_NAMES[canonical]
    : undefined;
  if (mapped) return mapped;
  if (trimmed.includes(".")) return goToLower(trimmed);
  return "tool." + goToLower(trimmed).replace(/[ -]/g, "_");
}

function firstNonEmptyString(args: Rec, keys: readonly string[]): string {
  for (const k of keys) {
    if (!Object.prototype.hasOwnProperty.call(args, k)) continue;
    const v = args[k];
    if (typeof v === "string") {
      const t = goTrimSpace(v);
      if (t !== "") return t;
    }
  }
  return "";
}

function plainTarget(kind: string, value: string, operation: string): CallTarget {
  return {
    kind, value, operation, sensitivity: "", discovery_method: "", read_only_hint: false, destructive_hint: false,
    idempotent_hint: false, open_world_hint: false,
  };
}

/** Targets Gait infers from a Claude Code tool input (gate.md §6). */
function inferClaudeCodeTargets(toolName: string, args: Rec): CallTarget[] {
  switch (toolName) {
    case "tool.read": {
      const out: CallTarget[] = [];
      const path = firstNonEmptyString(args, ["path", "file_path", "filepath", "file"]);
      if (path !== "") out.push(plainTarget("path", path, "read"));
      const url = firstNonEmptyString(args, ["url", "uri"]);
      if (url !== "") out.push(plainTarget("url", url, "read"));
      return out;
    }
    case "tool.write": {
      const path = firstNonEmptyString(args, ["path", "file_path", "filepath", "file"]);
      return path !== "" ? [plainTarget("path", path, "write")] : [];
    }
    case "tool.exec": {
      const command = firstNonEmptyString(args, ["command", "cmd", "script"]);
      return command !== "" ? [plainTarget("other", command, "execute")] : [];
    }
    case "tool.delegate": {
      const task = firstNonEmptyString(args, ["task", "prompt", "description"]);
      return task !== "" ? [plainTarget("other", task, "delegate")] : [];
    }
    default:
      return [];
  }
}

function decodeClaudeCode(payload: unknown): ToolCall {
  const d = new Decoder("parse claude code tool call");
  const o = topObject(payload, d);
  d.str(o.type, "", "type");
  const name = d.str(o.name, "", "name");
  const sessionId = d.str(o.session_id, "", "session_id");
  const toolName = d.str(o.tool_name, "", "tool_name");
  const hookEventName = d.str(o.hook_event_name, "", "hook_event_name");

  let rawName = goTrimSpace(toolName);
  if (rawName === "") rawName = goTrimSpace(name);
  const mapped = normalizeClaudeCodeToolName(rawName);
  if (mapped === "") throw new IntentError("claude code tool call name is required");
  const rawArgs = o.tool_input === undefined || o.tool_input === null ? o.input : o.tool_input;
  const args = decodeArguments(rawArgs, "decode claude code tool_input");

  const call = emptyCall(mapped, args);
  const session = goTrimSpace(sessionId);
  if (session !== "") call.context.session_id = session;
  const hook = goTrimSpace(hookEventName);
  if (hook !== "") call.context.auth_context = { hook_event_name: hook, adapter: "claude_code" };
  call.targets = inferClaudeCodeTargets(mapped, args ?? EMPTY);
  return call;
}

// ---------------------------------------------------------------------------------------------------------------
// OAuth boundary validation (Gait validateMCPBoundaryOAuthEvidence)
// ---------------------------------------------------------------------------------------------------------------

/** Lenient re-decode of `auth_context.oauth_evidence` (Gait ignores it when it does not decode). */
function oauthEvidenceFromAuthContext(auth: Rec | undefined): OAuthEvidence | undefined {
  if (!auth || !Object.prototype.hasOwnProperty.call(auth, "oauth_evidence")) return undefined;
  const raw = auth.oauth_evidence;
  if (raw !== null && !isRec(raw)) return undefined;
  try {
    return decodeOAuthEvidence(raw ?? EMPTY, "", new Decoder("oauth"));
  } catch {
    return undefined;
  }
}

function nonEmptyCount(values: readonly string[]): number {
  let n = 0;
  for (const v of values) if (goTrimSpace(v) !== "") n++;
  return n;
}

function validateOAuthEvidence(call: ToolCall, profile: Profile): void {
  let mode = goToLower(goTrimSpace(call.context.auth_mode));
  if (mode === "" && call.context.auth_context) {
    const v = call.context.auth_context.oauth_mode;
    if (typeof v === "string") mode = goToLower(goTrimSpace(v));
  }
  if (mode === "") {
    if (!call.context.oauth_evidence) return;
    mode = "oauth";
  }
  if (mode === "off" || mode === "none" || mode === "token") return;
  if (mode !== "oauth" && mode !== "oauth_dcr") {
    throw new IntentError("context.auth_mode must be one of off|none|token|oauth|oauth_dcr");
  }
  if (profile !== "oss-prod") return;
  const ev = call.context.oauth_evidence ?? oauthEvidenceFromAuthContext(call.context.auth_context);
  if (!ev) throw new IntentError("oss-prod with OAuth auth mode requires context.oauth_evidence");
  const missing: string[] = [];
  if (goTrimSpace(ev.issuer) === "") missing.push("issuer");
  if (nonEmptyCount(ev.audience) === 0) missing.push("audience");
  if (goTrimSpace(ev.subject) === "") missing.push("subject");
  if (goTrimSpace(ev.client_id) === "") missing.push("client_id");
  if (goTrimSpace(ev.token_type) === "") missing.push("token_type");
  if (nonEmptyCount(ev.scopes) === 0) missing.push("scopes");
  if (goTrimSpace(ev.redirect_uri) === "") missing.push("redirect_uri");
  if (goTrimSpace(ev.evidence_ref) === "") missing.push("evidence_ref");
  if (mode === "oauth_dcr") {
    if (goTrimSpace(ev.dcr_client_id) === "") missing.push("dcr_client_id");
    if (goTrimSpace(ev.token_binding) === "") missing.push("token_binding");
  }
  const authTime = goTrimSpace(ev.auth_time);
  if (authTime === "") missing.push("auth_time");
  else if (!parseRFC3339(authTime)) throw new IntentError("context.oauth_evidence.auth_time must be RFC3339");
  if (missing.length > 0) throw new IntentError(`missing OAuth evidence fields: ${missing.join(", ")}`);
}

// ---------------------------------------------------------------------------------------------------------------
// ToolCall => raw intent (Gait ToIntentRequest)
// ---------------------------------------------------------------------------------------------------------------

function targetJson(t: CallTarget): Rec {
  const out: Rec = { kind: t.kind, value: t.value };
  if (t.operation !== "") out.operation = t.operation;
  if (t.sensitivity !== "") out.sensitivity = t.sensitivity;
  if (t.discovery_method !== "") out.discovery_method = t.discovery_method;
  if (t.read_only_hint) out.read_only_hint = true;
  if (t.destructive_hint) out.destructive_hint = true;
  if (t.idempotent_hint) out.idempotent_hint = true;
  if (t.open_world_hint) out.open_world_hint = true;
  return out;
}

function provenanceJson(p: CallProvenance): Rec {
  const out: Rec = { arg_path: p.arg_path, source: p.source };
  if (p.source_ref !== "") out.source_ref = p.source_ref;
  if (p.integrity_digest !== "") out.integrity_digest = p.integrity_digest;
  return out;
}

/** Legacy `target` string: `url` if it contains `://`, `path` if it contains `/`, else `host`. */
function legacyTarget(raw: string): CallTarget {
  const value = goTrimSpace(raw);
  const kind = value.includes("://") ? "url" : value.includes("/") ? "path" : value !== "" ? "host" : "other";
  return plainTarget(kind, value, "");
}

/** `o[key] = trimmed value` unless the value is blank. */
function setTrimmed(o: Rec, key: string, value: string): void {
  const t = goTrimSpace(value);
  if (t !== "") o[key] = t;
}

function toIntent(call: ToolCall, profile: Profile): Record<string, unknown> {
  let name = goTrimSpace(call.name);
  const hasScript = call.script !== undefined && call.script.steps.length > 0;
  if (name === "" && !hasScript) throw new IntentError("tool call name is required");

  let targets = call.targets;
  if (targets.length === 0 && goTrimSpace(call.target) !== "") targets = [legacyTarget(call.target)];

  let args: Rec = call.args ?? {};
  let script: Rec | undefined;
  if (hasScript) {
    const steps = call.script!.steps.map((step, i) => {
      const stepName = goTrimSpace(step.name);
      if (stepName === "") throw new IntentError(`script.steps[${i}].name is required`);
      return {
        tool_name: stepName,
        args: step.args ?? {},
        targets: step.targets.map(targetJson),
        arg_provenance: step.arg_provenance.map(provenanceJson),
      };
    });
    script = { steps };
    name = "script";
    args = {};
  }

  const createdAt = call.created_at === "" || call.created_at === GO_ZERO_TIME ? GAIT_EPOCH : call.created_at;

  const c = call.context;
  const identityIn = goTrimSpace(c.identity);
  const workspaceIn = goTrimSpace(c.workspace);
  const riskIn = goTrimSpace(c.risk_class);
  if (profile === "oss-prod") {
    if (identityIn === "") throw new IntentError("context.identity is required in strict profile");
    if (workspaceIn === "") throw new IntentError("context.workspace is required in strict profile");
    if (goTrimSpace(c.session_id) === "") throw new IntentError("context.session_id is required in strict profile");
  }

  // auth_context: caller's map, plus auth_mode / oauth_evidence copied in (Gait ToIntentRequest).
  let authContext: Rec | undefined;
  const authMode = goTrimSpace(c.auth_mode);
  if (c.auth_context || authMode !== "" || c.oauth_evidence) {
    authContext = {};
    if (c.auth_context) for (const k of Object.keys(c.auth_context)) setJsonProperty(authContext, k, c.auth_context[k]);
    if (authMode !== "") authContext.auth_mode = authMode;
    if (c.oauth_evidence) authContext.oauth_evidence = oauthEvidenceJson(c.oauth_evidence);
  }

  const context: Rec = {
    identity: identityIn === "" ? MCP_DEFAULT_IDENTITY : identityIn,
    workspace: workspaceIn === "" ? MCP_DEFAULT_WORKSPACE : workspaceIn,
    risk_class: riskIn === "" ? MCP_DEFAULT_RISK_CLASS : riskIn,
  };
  // run_id is deliberately not copied (Gait uses it for artifact naming only).
  setTrimmed(context, "phase", c.phase);
  setTrimmed(context, "job_id", c.job_id);
  setTrimmed(context, "session_id", c.session_id);
  setTrimmed(context, "request_id", c.request_id);
  setTrimmed(context, "environment_fingerprint", c.environment_fingerprint);
  if (authContext && Object.keys(authContext).length > 0) context.auth_context = authContext;
  if (c.credential_scopes.length > 0) context.credential_scopes = [...c.credential_scopes];

  const intent: Record<string, unknown> = {
    schema_id: INTENT_SCHEMA_ID,
    schema_version: INTENT_SCHEMA_VERSION,
    created_at: createdAt,
    producer_version: ADAPTER_PRODUCER_VERSION,
    tool_name: name,
    args,
    targets: targets.map(targetJson),
    context,
  };
  if (script) intent.script = script;
  if (call.arg_provenance.length > 0) intent.arg_provenance = call.arg_provenance.map(provenanceJson);
  if (call.delegation) {
    const del = call.delegation;
    const delegation: Rec = {
      requester_identity: goTrimSpace(del.requester_identity),
    };
    const scope = goTrimSpace(del.scope_class);
    if (scope !== "") delegation.scope_class = scope;
    if (del.token_refs.length > 0) delegation.token_refs = [...del.token_refs];
    if (del.chain.length > 0) {
      delegation.chain = del.chain.map((l) => {
        const link: Rec = {
          delegator_identity: goTrimSpace(l.delegator_identity),
          delegate_identity: goTrimSpace(l.delegate_identity),
        };
        const ls = goTrimSpace(l.scope_class);
        const tr = goTrimSpace(l.token_ref);
        if (ls !== "") link.scope_class = ls;
        if (tr !== "") link.token_ref = tr;
        return link;
      });
    }
    intent.delegation = delegation;
  }
  return intent;
}

// ---------------------------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------------------------

/** The adapters' canonical names (aliases: "" = mcp, claude-code and claudecode = claude_code). */
export const ADAPTER_NAMES = ["mcp", "openai", "anthropic", "langchain", "claude_code"] as const;

const DECODERS: Readonly<Record<string, { prefix: string; decode: (payload: unknown) => ToolCall }>> = {
  "": { prefix: "parse mcp tool call", decode: decodeMcpCall },
  mcp: { prefix: "parse mcp tool call", decode: decodeMcpCall },
  openai: { prefix: "parse openai tool call", decode: decodeOpenAI },
  anthropic: { prefix: "parse anthropic tool call", decode: decodeAnthropic },
  langchain: { prefix: "parse langchain tool call", decode: decodeLangChain },
  claude_code: { prefix: "parse claude code tool call", decode: decodeClaudeCode },
  "claude-code": { prefix: "parse claude code tool call", decode: decodeClaudeCode },
  claudecode: { prefix: "parse claude code tool call", decode: decodeClaudeCode },
};

/**
 * Decode a tool-call payload of the named adapter (`""`/`mcp`, `openai`, `anthropic`, `langchain`, `claude_code`
 * with aliases `claude-code`/`claudecode`) into raw intent JSON, as `gait mcp proxy` does before evaluation.
 *
 * `payload` may be the decoded JSON value, JSON text, or UTF-8 bytes of JSON text. Throws {@link IntentError}
 * (`unsupported adapter: X`, parse errors, `tool call name is required`, strict-profile and OAuth errors); never
 * returns a partially decoded call.
 */
export function decodeToolCall(adapter: string, payload: unknown, opts?: DecodeToolCallOptions): DecodedCall {
  const key = goToLower(goTrimSpace(adapter));
  const entry = Object.prototype.hasOwnProperty.call(DECODERS, key) ? DECODERS[key] : undefined;
  if (!entry) throw Object.assign(new IntentError(`unsupported adapter: ${adapter}`), { code: "unsupported_adapter" });
  const profile: Profile = opts?.profile ?? "standard";
  if (profile !== "standard" && profile !== "oss-prod") {
    throw new IntentError(`unsupported profile: ${String(profile)} (use standard or oss-prod)`);
  }

  const parsed = parsePayload(payload, entry.prefix);
  assertJsonDepth(parsed, "tool call payload");
  const call = entry.decode(parsed);
  validateOAuthEvidence(call, profile);
  const intent = toIntent(call, profile);

  const c = call.context;
  const warnings: string[] = [];
  if (
    profile === "standard" &&
    (goTrimSpace(c.identity) === "" || goTrimSpace(c.workspace) === "" || goTrimSpace(c.session_id) === "")
  ) {
    warnings.push(FALLBACK_CONTEXT_WARNING);
  }
  const out: DecodedCall = {
    adapter: key === "" ? "mcp" : key,
    intent,
    warnings,
    rawRiskClass: goToLower(goTrimSpace(c.risk_class)),
  };
  const runId = goTrimSpace(c.run_id);
  const sessionId = goTrimSpace(c.session_id);
  const jobId = goTrimSpace(c.job_id);
  if (runId !== "") out.runId = runId;
  if (sessionId !== "") out.sessionId = sessionId;
  if (jobId !== "") out.jobId = jobId;
  if (call.server) out.server = call.server;
  return out;
}
