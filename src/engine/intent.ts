/**
 * Intent normalization and digests (gate.md §2, §4.10).
 *
 * `normalizeIntent()` turns caller JSON into the normalized {@link IntentRequest} exactly as Gait's Go code does:
 * the same trims, lowercasing, de-duplication, sort orders, endpoint inference (including the substring tool-name
 * hint quirk), raw-credential rejection, context-evidence stripping/binding and the same error texts. It then
 * computes `args_digest` and `intent_digest` byte for byte like Gait (SHA-256 of RFC 8785 JCS over what Go's
 * `encoding/json` would emit for the normalized structs, i.e. with Go `omitempty` semantics).
 *
 * How Go-compatibility is achieved:
 * - The normalized objects carry an optional field only when Go would emit it (`omitempty`: empty string, 0, false,
 *   nil/empty slice or map are left out). Go `time.Time` is a struct, which `omitempty` never omits, so the time
 *   fields of `agent_identity`, `delegation` and delegation chain links are always present and are
 *   `"0001-01-01T00:00:00Z"` when unset. Fields Go declares without `omitempty` (`identity`, `workspace`,
 *   `risk_class`, target `kind`/`value`, provenance `arg_path`/`source`, ...) are required non-empty anyway.
 * - Because the normalized objects are already Go-shaped, JCS of the digest projection is the digest input. The
 *   intent digest text is assembled from the JCS of its parts, so the args JCS computed for `args_digest` is reused
 *   verbatim (JCS of a parent object embeds the JCS of each child unchanged).
 * - Strings are cleaned like Go's decoder and `strings` package would: lone UTF-16 surrogates become U+FFFD (Go's
 *   JSON decoder does that), `TrimSpace` uses Go's Unicode space set (which differs from `String.prototype.trim`),
 *   `ToLower` uses Go's simple per-rune case mapping.
 *
 * Pure: no I/O; hashing through canon.ts only.
 */
import { jcs, jcsString, sha256Hex } from "./canon.js";
import { GAIT_EPOCH, GO_ZERO_TIME, formatGoTime, parseRFC3339 } from "./time.js";
import {
  IntentError,
  type AgentIdentity,
  type ArgProvenance,
  type Delegation,
  type DelegationLink,
  type IntentContext,
  type IntentRequest,
  type IntentScript,
  type JsonObject,
  type JsonValue,
  type SandboxMetadata,
  type ScriptStep,
  type SkillProvenance,
  type Target,
  type VerifiedContextEnvelope,
} from "./types.js";

export const INTENT_SCHEMA_ID = "gait.gate.intent_request";
export const INTENT_SCHEMA_VERSION = "1.0.0";
/** Gait's maximum number of script steps (`script.steps`). */
export const MAX_SCRIPT_STEPS = 64;

/**
 * An input error that Gait reports while *decoding* the intent JSON (a value of the wrong JSON type, an unparsable
 * timestamp), before normalization proper. Gait returns these as invalid input (exit 6) even when the policy's
 * fail-closed block would otherwise apply, so callers that convert normalization errors into a fail-closed `block`
 * can tell the two apart. Its `name` stays `IntentError` so name-based guards keep working.
 */
export class IntentDecodeError extends IntentError {
  readonly stage = "decode" as const;
}

// ---------------------------------------------------------------------------------------------------------------
// Enumerations (gate.md §2.2-§2.4)
// ---------------------------------------------------------------------------------------------------------------

const TARGET_KINDS = new Set(["path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other"]);
const PROVENANCE_SOURCES = new Set(["user", "tool_output", "external", "system"]);
const ENDPOINT_CLASSES = new Set([
  "fs.read", "fs.write", "fs.delete", "proc.exec", "net.http", "net.dns", "ui.click", "ui.type", "ui.navigate", "other",
]);
const DISCOVERY_METHODS = new Set(["webmcp", "dynamic_mcp", "a2a", "mcp", "static_mcp", "manual", "unknown"]);
const CREDENTIAL_SOURCES = new Set([
  "aws_iam_user", "aws_sts", "azure_federated", "command", "env", "gcp_sts", "github_oidc", "github_pat",
  "kubernetes_service_account", "stub", "unknown", "vault_dynamic",
]);
const CREDENTIAL_ACCESS_TYPES = new Set(["cloud_admin", "inherited", "jit", "standing", "static", "unknown"]);
const SANDBOX_NETWORK_MODES = new Set(["disabled", "egress_allowlist", "full"]);
const SANDBOX_ENV_EXPOSURE_MODES = new Set(["allowlist", "full", "none"]);
const SANDBOX_FILESYSTEM_ISOLATIONS = new Set(["container", "none", "workspace"]);
const SANDBOX_USER_MODES = new Set(["default", "root", "unprivileged"]);

const FS_READ_OPS = new Set(["read", "get", "list", "open", "cat", "head", "download", "stat"]);
const FS_WRITE_OPS = new Set(["write", "append", "put", "create", "update", "save", "copy", "move", "rename"]);
const FS_DELETE_OPS = new Set(["delete", "remove", "rm", "unlink", "rmdir", "drop", "truncate"]);
const NET_DNS_OPS = new Set(["dns", "resolve", "lookup"]);
const PROC_EXEC_OPS = new Set(["exec", "spawn", "run", "shell", "command"]);
const DESTRUCTIVE_OPS = new Set(["delete", "remove", "rm", "unlink", "rmdir", "drop", "truncate", "exec", "spawn"]);

const HEX64_LOWER = /^[a-f0-9]{64}$/;
const RAW_ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const CREDENTIAL_KEY = /(token|secret|api[_-]?key|access[_-]?key|password|credential)/i;
const CREDENTIAL_KEY_EXEMPT_SUFFIXES = [
  "_ref", "_refs", "_digest", "_digests", "_hash", "_issuer", "_source", "_type", "_ttl", "_ttl_seconds", "_id", "_ids",
  "_name", "_names", "_scope", "_scopes",
];
const CREDENTIAL_VALUE_SAFE_PREFIXES = ["env:", "stub:", "cmd:", "ref:", "sha256:"];
const CREDENTIAL_VALUE_PREFIXES = ["ghp_", "gho_", "github_pat_", "sk-", "AKIA", "ASIA"];
const SANDBOX_EVIDENCE_SAFE_PREFIXES = ["ref:", "receipt:", "proof:", "sandbox:", "sha256:"];

// ---------------------------------------------------------------------------------------------------------------
// Go-compatible string helpers
// ---------------------------------------------------------------------------------------------------------------

type WellFormedString = string & { isWellFormed(): boolean; toWellFormed(): string };

/** Go's `unicode.IsSpace` for BMP code units (every Go space is in the BMP). */
function isGoSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x85) return false;
  return (
    c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 ||
    c === 0x202f || c === 0x205f || c === 0x3000
  );
}

/**
 * Go's `strings.TrimSpace`. Differs from `String.prototype.trim` (Go trims U+0085 and keeps U+FEFF), which matters
 * because trimmed values end up inside digests.
 */
export function goTrimSpace(s: string): string {
  const n = s.length;
  if (n === 0) return s;
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(n - 1);
  if (first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f) return s; // common fast path
  let a = 0;
  let b = n;
  while (a < b && isGoSpace(s.charCodeAt(a))) a++;
  while (b > a && isGoSpace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === n ? s : s.slice(a, b);
}

/** Go's `strings.ToLower`: simple per-rune mapping (no context-sensitive final sigma, `İ` -> `i`). */
export function goToLower(s: string): string {
  // Fast path: most values are lowercase already. If JS lowercasing leaves the string unchanged, so does Go's: the
  // two mappings differ only for U+0130 and U+03A3, and JS lowercasing would have changed either of them.
  const lower = s.toLowerCase();
  if (lower === s) return s;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return goToLowerUnicode(s);
  }
  return lower;
}

function goToLowerUnicode(s: string): string {
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x130) out += "i";
    else if (cp === 0x3a3) out += "\u03c3";
    else out += ch.toLowerCase();
  }
  return out;
}

/** Replace lone surrogates with U+FFFD, as Go's JSON decoder does for invalid `\uD8xx` escapes. */
function wellFormed(s: string): string {
  const w = s as WellFormedString;
  return w.isWellFormed() ? s : w.toWellFormed();
}

/** Go `path.Base`. */
function goPathBase(p: string): string {
  if (p === "") return ".";
  let end = p.length;
  while (end > 0 && p.charCodeAt(end - 1) === 0x2f) end--;
  if (end === 0) return "/";
  const trimmed = end === p.length ? p : p.slice(0, end);
  const i = trimmed.lastIndexOf("/");
  return i >= 0 ? trimmed.slice(i + 1) : trimmed;
}

/** Go `path.Clean` (and `filepath.Clean` on Unix). */
export function goPathClean(p: string): string {
  if (p === "") return ".";
  const rooted = p.charCodeAt(0) === 0x2f;
  const parts: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!rooted) parts.push("..");
      continue;
    }
    parts.push(seg);
  }
  const joined = parts.join("/");
  if (rooted) return "/" + joined;
  return joined === "" ? "." : joined;
}

// ---------------------------------------------------------------------------------------------------------------
// Typed readers over decoded JSON. Type errors are decode errors in Gait (its JSON decoder rejects them).
// `null` is accepted everywhere and means "zero value", as for Go's decoder. Callers read the property themselves
// (`vStr(o.kind, at, "kind")`): a literal property name at each site gets its own fast inline cache, where a shared
// `o[key]` helper would turn into one slow megamorphic keyed load for every field of every object.
// ---------------------------------------------------------------------------------------------------------------

type Rec = Record<string, unknown>;
const EMPTY_REC: Rec = Object.freeze({}) as Rec;

function isRec(v: unknown): v is Rec {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function decodeFail(path: string, want: string): never {
  throw new IntentDecodeError(`${path} must be ${want}`);
}

function fieldPath(at: string, key: string): string {
  return at === "" ? key : `${at}.${key}`;
}

/** A string value: `undefined`/`null` => "", otherwise must be a string; lone surrogates repaired, Go-trimmed. */
function vStr(v: unknown, at: string, key: string): string {
  if (typeof v === "string") return goTrimSpace(wellFormed(v));
  if (v === undefined || v === null) return "";
  return decodeFail(fieldPath(at, key), "a string");
}

function vBool(v: unknown, at: string, key: string): boolean {
  if (typeof v === "boolean") return v;
  if (v === undefined || v === null) return false;
  return decodeFail(fieldPath(at, key), "a boolean");
}

/** A Go int64 field. */
function vInt(v: unknown, at: string, key: string): number {
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  if (v === undefined || v === null) return 0;
  // Go decodes up to 2^63-1 exactly; a JS number cannot hold an integer past 2^53-1 exactly, so it is refused
  // rather than rounded into a different value (and a different digest). docs/compatibility.md R10.
  if (typeof v === "number" && Number.isInteger(v)) {
    return decodeFail(fieldPath(at, key), "an integer between -(2^53-1) and 2^53-1 (larger values cannot be kept exactly)");
  }
  return decodeFail(fieldPath(at, key), "an integer");
}

function vArr(v: unknown, at: string, key: string): readonly unknown[] {
  if (Array.isArray(v)) return v;
  if (v === undefined || v === null) return EMPTY_ARR;
  return decodeFail(fieldPath(at, key), "an array");
}

const EMPTY_ARR: readonly unknown[] = Object.freeze([]);

/** An object field: `undefined` when absent or null. */
function vObj(v: unknown, at: string, key: string): Rec | undefined {
  if (isRec(v)) return v;
  if (v === undefined || v === null) return undefined;
  return decodeFail(fieldPath(at, key), "a JSON object");
}

/** A Go []string: elements must be strings (null elements decode to ""). Returned raw (not trimmed). */
function vStrList(value: unknown, at: string, key: string): string[] {
  const arr = vArr(value, at, key);
  if (arr.length === 0) return [];
  const out: string[] = new Array(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    if (typeof v === "string") out[i] = wellFormed(v);
    else if (v === null) out[i] = "";
    else decodeFail(`${fieldPath(at, key)}[${i}]`, "a string");
  }
  return out;
}

/**
 * A Go `time.Time` field, returned as Go's UTC RFC3339Nano text (zero time when absent/null). Go's decoder accepts
 * only RFC 3339 strings.
 */
function vTime(v: unknown, at: string, key: string): string {
  if (v === undefined || v === null) return GO_ZERO_TIME;
  if (typeof v === "string") {
    if (isCanonicalUtcSeconds(v)) return v; // already Go's UTC encoding (hot path)
    const p = parseRFC3339(v);
    if (p) return formatGoTime(p);
  }
  return decodeFail(at === "" ? key : `${at}.${key}`, "an RFC 3339 timestamp");
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 0x30;
  const b = s.charCodeAt(i + 1) - 0x30;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** `YYYY-MM-DDTHH:MM:SSZ` with valid calendar values: exactly what Go emits for a UTC time without fraction. */
function isCanonicalUtcSeconds(s: string): boolean {
  if (s.length !== 20 || s.charCodeAt(19) !== 0x5a || s.charCodeAt(10) !== 0x54) return false;
  if (s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d || s.charCodeAt(13) !== 0x3a || s.charCodeAt(16) !== 0x3a) {
    return false;
  }
  const y1 = twoDigits(s, 0);
  const y2 = twoDigits(s, 2);
  const mo = twoDigits(s, 5);
  const d = twoDigits(s, 8);
  const h = twoDigits(s, 11);
  const mi = twoDigits(s, 14);
  const se = twoDigits(s, 17);
  if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59) {
    return false;
  }
  const y = y1 * 100 + y2;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1]!);
}

function isZeroTime(t: string): boolean {
  return t === GO_ZERO_TIME;
}

/** Compare two Go-formatted UTC times. Returns <0, 0, >0. */
function compareTimes(a: string, b: string): number {
  const pa = parseRFC3339(a)!;
  const pb = parseRFC3339(b)!;
  return pa.ms !== pb.ms ? pa.ms - pb.ms : pa.subMsNanos - pb.subMsNanos;
}

/** Trim, drop empty, dedupe, sort (Go: credential scopes, lifecycle states, context refs, token refs). */
function normalizeStringSet(values: readonly string[]): string[] | undefined {
  if (values.length === 0) return undefined;
  if (values.length === 1) {
    const v = goTrimSpace(values[0]!);
    return v === "" ? undefined : [v];
  }
  const seen = new Set<string>();
  for (const raw of values) {
    const v = goTrimSpace(raw);
    if (v !== "") seen.add(v);
  }
  if (seen.size === 0) return undefined;
  return [...seen].sort();
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 8785 JCS: the fast emitter lives in canon.ts (`jcs`, `jcsString`)
// ---------------------------------------------------------------------------------------------------------------

/**
 * canon.ts `jcs()` with this module's error type: a value that cannot be canonicalized is an intent error.
 *
 * @internal exported for tests and for engine modules that digest normalized intent parts.
 */
export function jcsFast(v: unknown): string {
  try {
    return jcs(v);
  } catch (e) {
    throw new IntentError(`cannot canonicalize intent JSON: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Free-form JSON (args, auth_context): deep trim + raw-credential rejection (gate.md §2.1, §2.6)
// ---------------------------------------------------------------------------------------------------------------

const credentialKeyCache = new Map<string, boolean>();

/** Whether a (trimmed) object key names secret material (`api_key`, `password`, ...) rather than a reference. */
function keySuggestsCredentialMaterial(key: string): boolean {
  const cached = credentialKeyCache.get(key);
  if (cached !== undefined) return cached;
  const k = goToLower(goTrimSpace(key));
  let result = false;
  if (k !== "" && CREDENTIAL_KEY.test(k)) {
    result = true;
    for (const suffix of CREDENTIAL_KEY_EXEMPT_SUFFIXES) {
      if (k.endsWith(suffix)) {
        result = false;
        break;
      }
    }
  }
  if (credentialKeyCache.size < 4096) credentialKeyCache.set(key, result);
  return result;
}

/** Whether a string value looks like a raw secret (gate.md §2.6). */
function looksLikeCredentialMaterial(value: string): boolean {
  const s = goTrimSpace(value);
  if (s === "") return false;
  const lower = goToLower(s);
  for (const p of CREDENTIAL_VALUE_SAFE_PREFIXES) if (lower.startsWith(p)) return false;
  if (HEX64_LOWER.test(lower)) return false;
  for (const p of CREDENTIAL_VALUE_PREFIXES) if (s.startsWith(p)) return true;
  if (!utf8LengthAtLeast16(s)) return false; // Go's len() counts UTF-8 bytes
  let alpha = false;
  let digit = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) return false;
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) alpha = true;
    else if (c >= 0x30 && c <= 0x39) digit = true;
  }
  return alpha && digit;
}

/** `len(s) >= 16` in Go terms (UTF-8 bytes). */
function utf8LengthAtLeast16(s: string): boolean {
  if (s.length >= 16) return true;
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes >= 16;
}

/**
 * Deepest JSON nesting accepted in an intent or tool-call payload (objects and arrays). The walks that follow are
 * recursive; without a bound a deeply nested body (1 MiB of `[`) overflows the stack, an internal error instead of
 * an input error. Go's encoding/json stops at 10000; 1000 levels is beyond any real tool argument.
 */
export const MAX_JSON_DEPTH = 1000;

/** Throws an input error (IntentDecodeError) when `v` nests deeper than {@link MAX_JSON_DEPTH}. Iterative. */
export function assertJsonDepth(v: unknown, what: string): void {
  if (v === null || typeof v !== "object") return;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (d > MAX_JSON_DEPTH) throw new IntentDecodeError(`${what} nests deeper than ${MAX_JSON_DEPTH} levels`);
    if (Array.isArray(x)) {
      for (const e of x) if (e !== null && typeof e === "object") stack.push([e, d + 1]);
    } else {
      for (const k of Object.keys(x as object)) {
        const e = (x as Record<string, unknown>)[k];
        if (e !== null && typeof e === "object") stack.push([e, d + 1]);
      }
    }
  }
}

/** Set an own data property, also for the key `__proto__` (which plain assignment would treat as the prototype). */
export function setJsonProperty(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  else o[key] = value;
}

interface JsonWalk {
  /** set when some key/value pair looks like raw credential material (resolved after the walk, keys sorted) */
  credentialHit: boolean;
}

/**
 * Go's `normalizeJSONValue`: strings trimmed, keys trimmed (empty key => error), numbers/bools/null kept. Returns a
 * fresh value (the caller's input is never mutated).
 */
function normalizeJsonValue(v: unknown, walk: JsonWalk, emptyKeyError: string): JsonValue {
  switch (typeof v) {
    case "string":
      return goTrimSpace(wellFormed(v));
    case "number":
      if (!Number.isFinite(v)) throw new IntentDecodeError("JSON numbers must be finite");
      return v;
    case "boolean":
      return v;
    case "object": {
      if (v === null) return null;
      if (Array.isArray(v)) {
        const out: JsonValue[] = new Array(v.length);
        for (let i = 0; i < v.length; i++) out[i] = normalizeJsonValue(v[i] ?? null, walk, emptyKeyError);
        return out;
      }
      const out: JsonObject = {};
      for (const rawKey in v as Rec) {
        if (!Object.prototype.hasOwnProperty.call(v, rawKey)) continue;
        const rawVal = (v as Rec)[rawKey];
        if (rawVal === undefined) continue;
        const key = goTrimSpace(wellFormed(rawKey));
        if (key === "") throw new IntentError(emptyKeyError);
        const val = normalizeJsonValue(rawVal, walk, emptyKeyError);
        if (
          !walk.credentialHit && typeof val === "string" && val.length > 0 && keySuggestsCredentialMaterial(key) &&
          looksLikeCredentialMaterial(val)
        ) {
          walk.credentialHit = true;
        }
        setJsonProperty(out, key, val);
      }
      return out;
    }
    default:
      throw new IntentDecodeError(`unsupported value of type ${typeof v} (only JSON values are allowed)`);
  }
}

/** Find the first raw-credential hit in Go's order (keys sorted at every level) and throw Gait's error. */
function throwFirstCredentialHit(path: string, v: JsonValue): void {
  if (v === null || typeof v !== "object") return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) throwFirstCredentialHit(`${path}[${i}]`, v[i]!);
    return;
  }
  for (const key of Object.keys(v).sort()) {
    const child = `${path}.${key}`;
    const val = v[key]!;
    if (typeof val === "string" && keySuggestsCredentialMaterial(key) && looksLikeCredentialMaterial(val)) {
      throw new IntentError(
        `${child} must not contain raw credential material; use credential references or digests instead`,
      );
    }
    throwFirstCredentialHit(child, val);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Targets (gate.md §2.3, §2.4)
// ---------------------------------------------------------------------------------------------------------------

/** Whether basename(lower(trim(tool))) contains any hint as a SUBSTRING (Gait QUIRK: `tool.format` contains `rm`). */
function hasToolHint(toolBase: string, hints: readonly string[]): boolean {
  for (const h of hints) if (toolBase.includes(h)) return true;
  return false;
}
const HINT_READ = ["read", "list", "fetch", "search"];
const HINT_WRITE = ["write", "update", "save", "create"];
const HINT_DELETE = ["delete", "remove", "rm", "drop"];
const HINT_EXEC = ["exec", "shell", "command", "spawn", "run"];

/** The tool-name hint base: basename of the trimmed, lowercased tool name. */
function toolHintBase(toolName: string): string {
  return goPathBase(goToLower(goTrimSpace(toolName)));
}

/** Endpoint class inferred when the caller gave none (gate.md §2.4); the tool name is only consulted as a hint. */
function inferEndpointClass(kind: string, operation: string, toolName: string): string {
  switch (kind) {
    case "path": {
      if (FS_READ_OPS.has(operation)) return "fs.read";
      if (FS_WRITE_OPS.has(operation)) return "fs.write";
      if (FS_DELETE_OPS.has(operation)) return "fs.delete";
      const toolBase = toolHintBase(toolName);
      if (hasToolHint(toolBase, HINT_READ)) return "fs.read";
      if (hasToolHint(toolBase, HINT_WRITE)) return "fs.write";
      if (hasToolHint(toolBase, HINT_DELETE)) return "fs.delete";
      return "other";
    }
    case "host":
    case "url":
      return NET_DNS_OPS.has(operation) ? "net.dns" : "net.http";
    case "other":
      if (PROC_EXEC_OPS.has(operation)) return "proc.exec";
      if (hasToolHint(toolHintBase(toolName), HINT_EXEC)) return "proc.exec";
      return "other";
    default:
      return "other";
  }
}

function inferEndpointDomain(kind: string, value: string): string {
  if (kind === "host") {
    let host = goTrimSpace(value);
    if (host.startsWith("http://")) host = host.slice(7);
    if (host.startsWith("https://")) host = host.slice(8);
    const slash = host.indexOf("/");
    if (slash >= 0) host = host.slice(0, slash);
    const colon = host.indexOf(":");
    if (colon >= 0) host = host.slice(0, colon);
    return goToLower(goTrimSpace(host));
  }
  if (kind === "url") return goToLower(goTrimSpace(goUrlHostname(goTrimSpace(value))));
  return "";
}

function inferDestructive(endpointClass: string, operation: string): boolean {
  return endpointClass === "fs.delete" || endpointClass === "proc.exec" || DESTRUCTIVE_OPS.has(operation);
}

/**
 * Whether a normalized target counts as destructive (phase escalation, destructive budget, script step risk).
 * After normalization `destructive` already folds in the class/operation inference and `destructive_hint`; the class
 * check keeps the answer right for targets built by hand.
 */
export function isDestructiveTarget(target: Target): boolean {
  return target.destructive === true || target.endpoint_class === "fs.delete" || target.endpoint_class === "proc.exec";
}

function normalizeDiscoveryMethod(raw: string): string {
  const m = goToLower(raw);
  if (m === "") return "unknown";
  return m.includes("-") || m.includes(" ") ? m.replace(/[- ]/g, "_") : m;
}

function normalizeTarget(raw: unknown, toolName: string, at: string): Target {
  let o: Rec;
  if (isRec(raw)) o = raw;
  else if (raw === null || raw === undefined) o = EMPTY_REC;
  else return decodeFail(at, "a JSON object");
  // Visit the keys present (usually 2-4) instead of probing all twelve fields.
  let kind = "";
  let value = "";
  let operation = "";
  let sensitivity = "";
  let endpointClass = "";
  let endpointDomain = "";
  let discoveryRaw = "";
  let destructiveIn = false;
  let readOnlyHint = false;
  let destructiveHint = false;
  let idempotentHint = false;
  let openWorldHint = false;
  for (const k in o) {
    const v = o[k];
    switch (k) {
      case "kind": kind = goToLower(vStr(v, at, k)); break;
      case "value": value = vStr(v, at, k); break;
      case "operation": operation = goToLower(vStr(v, at, k)); break;
      case "sensitivity": sensitivity = goToLower(vStr(v, at, k)); break;
      case "endpoint_class": endpointClass = goToLower(vStr(v, at, k)); break;
      case "endpoint_domain": endpointDomain = goToLower(vStr(v, at, k)); break;
      case "discovery_method": discoveryRaw = vStr(v, at, k); break;
      case "destructive": destructiveIn = vBool(v, at, k); break;
      case "read_only_hint": readOnlyHint = vBool(v, at, k); break;
      case "destructive_hint": destructiveHint = vBool(v, at, k); break;
      case "idempotent_hint": idempotentHint = vBool(v, at, k); break;
      case "open_world_hint": openWorldHint = vBool(v, at, k); break;
    }
  }
  const discoveryMethod = normalizeDiscoveryMethod(discoveryRaw);

  if (kind === "" || value === "") throw new IntentError("targets require kind and value");
  if (!TARGET_KINDS.has(kind)) throw new IntentError(`unsupported target kind: ${kind}`);
  if (endpointClass === "") endpointClass = inferEndpointClass(kind, operation, toolName);
  if (!ENDPOINT_CLASSES.has(endpointClass)) throw new IntentError(`unsupported endpoint class: ${endpointClass}`);
  if (endpointDomain === "") endpointDomain = inferEndpointDomain(kind, value);
  if (!DISCOVERY_METHODS.has(discoveryMethod)) throw new IntentError(`unsupported discovery method: ${discoveryMethod}`);
  const destructive = destructiveIn || destructiveHint || inferDestructive(endpointClass, operation);

  // Go omitempty: only non-empty strings / true booleans appear. Keys are inserted in JCS order (see jcsFast).
  const t = {} as Target;
  if (destructive) t.destructive = true;
  if (destructiveHint) t.destructive_hint = true;
  t.discovery_method = discoveryMethod; // never empty ("unknown" default)
  t.endpoint_class = endpointClass; // never empty after inference
  if (endpointDomain !== "") t.endpoint_domain = endpointDomain;
  if (idempotentHint) t.idempotent_hint = true;
  t.kind = kind;
  if (openWorldHint) t.open_world_hint = true;
  if (operation !== "") t.operation = operation;
  if (readOnlyHint) t.read_only_hint = true;
  if (sensitivity !== "") t.sensitivity = sensitivity;
  t.value = value;
  return t;
}

function boolKey(b: boolean | undefined): string {
  return b ? "1" : "0";
}

function targetKey(t: Target): string {
  return [
    t.kind, t.value, t.operation ?? "", t.sensitivity ?? "", t.endpoint_class ?? "", t.endpoint_domain ?? "",
    boolKey(t.destructive), t.discovery_method ?? "", boolKey(t.read_only_hint), boolKey(t.destructive_hint),
    boolKey(t.idempotent_hint), boolKey(t.open_world_hint),
  ].join("\u0000");
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmpBool(a: boolean | undefined, b: boolean | undefined): number {
  return (a ? 1 : 0) - (b ? 1 : 0);
}

/** Gait's target order: (kind, value, operation, sensitivity, endpoint_class, endpoint_domain, destructive, ...). */
function compareTargets(a: Target, b: Target): number {
  return (
    cmpStr(a.kind, b.kind) || cmpStr(a.value, b.value) || cmpStr(a.operation ?? "", b.operation ?? "") ||
    cmpStr(a.sensitivity ?? "", b.sensitivity ?? "") || cmpStr(a.endpoint_class ?? "", b.endpoint_class ?? "") ||
    cmpStr(a.endpoint_domain ?? "", b.endpoint_domain ?? "") || cmpBool(a.destructive, b.destructive) ||
    cmpStr(a.discovery_method ?? "", b.discovery_method ?? "") || cmpBool(a.read_only_hint, b.read_only_hint) ||
    cmpBool(a.destructive_hint, b.destructive_hint) || cmpBool(a.idempotent_hint, b.idempotent_hint) ||
    cmpBool(a.open_world_hint, b.open_world_hint)
  );
}

function normalizeTargetList(toolName: string, raw: readonly unknown[], at: string): Target[] {
  if (raw.length === 0) return [];
  if (raw.length === 1) return [normalizeTarget(raw[0], toolName, `${at}[0]`)];
  const seen = new Set<string>();
  const out: Target[] = [];
  for (let i = 0; i < raw.length; i++) {
    const t = normalizeTarget(raw[i], toolName, `${at}[${i}]`);
    const key = targetKey(t);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(t);
  }
  return out.sort(compareTargets);
}

/**
 * Normalize a raw `targets` array as Gait does for the given tool name (kind/enum validation, endpoint class and
 * domain inference, destructive flag, discovery method default, dedupe, sort). Throws {@link IntentError}.
 * Useful for callers that build targets outside an intent (e.g. the credential target binding).
 */
export function normalizeTargets(toolName: string, targets: unknown): Target[] {
  if (targets === undefined || targets === null) return [];
  if (!Array.isArray(targets)) return decodeFail("targets", "an array");
  return normalizeTargetList(toolName, targets, "targets");
}

// ---------------------------------------------------------------------------------------------------------------
// Provenance (gate.md §2.1)
// ---------------------------------------------------------------------------------------------------------------

function normalizeProvenanceList(raw: readonly unknown[], at: string): ArgProvenance[] {
  if (raw.length === 0) return [];
  const seen = raw.length > 1 ? new Set<string>() : undefined;
  const out: ArgProvenance[] = [];
  for (let i = 0; i < raw.length; i++) {
    const item = raw[i];
    const here = `${at}[${i}]`;
    let o: Rec;
    if (isRec(item)) o = item;
    else if (item === null || item === undefined) o = EMPTY_REC;
    else return decodeFail(here, "a JSON object");
    const argPath = vStr(o.arg_path, here, "arg_path");
    const source = goToLower(vStr(o.source, here, "source"));
    const sourceRef = vStr(o.source_ref, here, "source_ref");
    const integrity = goToLower(vStr(o.integrity_digest, here, "integrity_digest"));
    if (argPath === "" || source === "") throw new IntentError("arg provenance requires arg_path and source");
    if (!PROVENANCE_SOURCES.has(source)) throw new IntentError(`unsupported provenance source: ${source}`);
    if (integrity !== "" && !HEX64_LOWER.test(integrity)) {
      throw new IntentError(`invalid provenance integrity_digest: ${integrity}`);
    }
    const p = { arg_path: argPath } as ArgProvenance;
    if (integrity !== "") p.integrity_digest = integrity;
    p.source = source;
    if (sourceRef !== "") p.source_ref = sourceRef;
    if (seen) {
      const key = `${argPath}\u0000${source}\u0000${sourceRef}\u0000${integrity}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(p);
  }
  if (out.length > 1) {
    out.sort(
      (a, b) =>
        cmpStr(a.arg_path, b.arg_path) || cmpStr(a.source, b.source) ||
        cmpStr(a.source_ref ?? "", b.source_ref ?? "") || cmpStr(a.integrity_digest ?? "", b.integrity_digest ?? ""),
    );
  }
  return out;
}

function normalizeSkillProvenance(o: Rec | undefined): SkillProvenance | undefined {
  if (!o) return undefined;
  const at = "skill_provenance";
  const skillName = vStr(o.skill_name, at, "skill_name");
  const skillVersion = vStr(o.skill_version, at, "skill_version");
  const source = goToLower(vStr(o.source, at, "source"));
  const publisher = vStr(o.publisher, at, "publisher");
  const digest = goToLower(vStr(o.digest, at, "digest"));
  const signatureKeyId = vStr(o.signature_key_id, at, "signature_key_id");
  if (skillName === "" || source === "" || publisher === "") {
    throw new IntentError("skill provenance requires skill_name, source, and publisher");
  }
  if (digest !== "" && !HEX64_LOWER.test(digest)) throw new IntentError(`invalid skill provenance digest: ${digest}`);
  const s = {} as SkillProvenance;
  if (digest !== "") s.digest = digest;
  s.publisher = publisher;
  if (signatureKeyId !== "") s.signature_key_id = signatureKeyId;
  s.skill_name = skillName;
  if (skillVersion !== "") s.skill_version = skillVersion;
  s.source = source;
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// Delegation (gate.md §4.7)
// ---------------------------------------------------------------------------------------------------------------

function normalizeDelegation(o: Rec | undefined): Delegation | undefined {
  if (!o) return undefined;
  const at = "delegation";
  const requester = vStr(o.requester_identity, at, "requester_identity");
  const scopeClass = goToLower(vStr(o.scope_class, at, "scope_class"));
  const tokenRefs = normalizeStringSet(vStrList(o.token_refs, at, "token_refs"));
  const rawChain = vArr(o.chain, at, "chain");
  const issuedAt = vTime(o.issued_at, at, "issued_at");
  const expiresAt = vTime(o.expires_at, at, "expires_at");
  if (requester === "") throw new IntentError("delegation.requester_identity is required");

  const chain: DelegationLink[] = [];
  for (let i = 0; i < rawChain.length; i++) {
    const item = rawChain[i];
    const here = `delegation.chain[${i}]`;
    let l: Rec;
    if (isRec(item)) l = item;
    else if (item === null || item === undefined) l = EMPTY_REC;
    else return decodeFail(here, "a JSON object");
    const delegator = vStr(l.delegator_identity, here, "delegator_identity");
    const delegate = vStr(l.delegate_identity, here, "delegate_identity");
    const linkScope = goToLower(vStr(l.scope_class, here, "scope_class"));
    const tokenRef = vStr(l.token_ref, here, "token_ref");
    const linkIssued = vTime(l.issued_at, here, "issued_at");
    const linkExpires = vTime(l.expires_at, here, "expires_at");
    if (delegator === "" || delegate === "") {
      throw new IntentError(`delegation.chain[${i}] requires delegator_identity and delegate_identity`);
    }
    if (i > 0 && chain[i - 1]!.delegate_identity !== delegator) {
      throw new IntentError(
        `delegation.chain[${i}] delegator_identity must match delegation.chain[${i - 1}].delegate_identity`,
      );
    }
    if (!isZeroTime(linkIssued) && !isZeroTime(linkExpires) && compareTimes(linkExpires, linkIssued) <= 0) {
      throw new IntentError(`delegation.chain[${i}] expires_at must be after issued_at`);
    }
    // Go: identities have no omitempty; issued_at/expires_at are time.Time (never omitted, zero time when unset).
    const link: DelegationLink = {
      delegate_identity: delegate,
      delegator_identity: delegator,
      expires_at: linkExpires,
      issued_at: linkIssued,
    };
    if (linkScope !== "") link.scope_class = linkScope;
    if (tokenRef !== "") link.token_ref = tokenRef;
    chain.push(link);
  }
  if (!isZeroTime(issuedAt) && !isZeroTime(expiresAt) && compareTimes(expiresAt, issuedAt) <= 0) {
    throw new IntentError("delegation.expires_at must be after issued_at");
  }
  if (chain.length > 0 && chain[chain.length - 1]!.delegate_identity !== requester) {
    throw new IntentError("delegation.chain last delegate_identity must match delegation.requester_identity");
  }
  const d = {} as Delegation;
  if (chain.length > 0) d.chain = chain;
  d.expires_at = expiresAt;
  d.issued_at = issuedAt;
  d.requester_identity = requester;
  if (scopeClass !== "") d.scope_class = scopeClass;
  if (tokenRefs) d.token_refs = tokenRefs;
  return d;
}

// ---------------------------------------------------------------------------------------------------------------
// Context (gate.md §2.2, §4.6, §4.8)
// ---------------------------------------------------------------------------------------------------------------

function normalizeAuthContext(v: Rec | undefined): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  let empty = true;
  for (const _ in v) {
    empty = false;
    break;
  }
  if (empty) return undefined;
  const walk: JsonWalk = { credentialHit: false };
  const normalized = normalizeJsonValue(v, walk, "normalize context.auth_context: args contains empty key") as JsonObject;
  if (Object.keys(normalized).length === 0) return undefined;
  if (walk.credentialHit) throwFirstCredentialHit("context.auth_context", normalized);
  return normalized;
}

function rejectSandboxString(path: string, value: string, isEvidenceRef: boolean): void {
  const s = goTrimSpace(value);
  if (s === "") return;
  if (RAW_ENV_ASSIGNMENT.test(s)) throw new IntentError(`${path} must not contain raw environment variable assignments`);
  if (!isEvidenceRef) return;
  const lower = goToLower(s);
  for (const p of SANDBOX_EVIDENCE_SAFE_PREFIXES) if (lower.startsWith(p)) return;
  if (looksLikeCredentialMaterial(s)) {
    throw new IntentError(
      `${path} must not contain secret-like sandbox material; use sandbox evidence refs or digests instead`,
    );
  }
}

function normalizeSandboxPaths(path: string, values: readonly string[]): string[] | undefined {
  if (values.length === 0) return undefined;
  const seen = new Set<string>();
  for (let i = 0; i < values.length; i++) {
    const v = goPathClean(goTrimSpace(values[i]!));
    if (v === "." || v === "") continue;
    rejectSandboxString(`${path}[${i}]`, v, false);
    seen.add(v);
  }
  if (seen.size === 0) return undefined;
  return [...seen].sort();
}

function normalizeSandbox(o: Rec | undefined): SandboxMetadata | undefined {
  if (!o) return undefined;
  const at = "context.sandbox";
  const networkMode = goToLower(vStr(o.network_mode, at, "network_mode"));
  const rawWritable = vStrList(o.writable_paths, at, "writable_paths");
  const rawReadOnly = vStrList(o.read_only_roots, at, "read_only_roots");
  const envExposure = goToLower(vStr(o.env_exposure_mode, at, "env_exposure_mode"));
  const timeout = vInt(o.timeout_seconds, at, "timeout_seconds");
  const fsIsolation = goToLower(vStr(o.filesystem_isolation, at, "filesystem_isolation"));
  const userMode = goToLower(vStr(o.user_mode, at, "user_mode"));
  const evidenceRef = vStr(o.evidence_ref, at, "evidence_ref");
  const evidenceDigest = goToLower(vStr(o.evidence_digest, at, "evidence_digest"));

  if (networkMode !== "" && !SANDBOX_NETWORK_MODES.has(networkMode)) {
    throw new IntentError(`context.sandbox.network_mode is unsupported: ${networkMode}`);
  }
  if (envExposure !== "" && !SANDBOX_ENV_EXPOSURE_MODES.has(envExposure)) {
    throw new IntentError(`context.sandbox.env_exposure_mode is unsupported: ${envExposure}`);
  }
  if (fsIsolation !== "" && !SANDBOX_FILESYSTEM_ISOLATIONS.has(fsIsolation)) {
    throw new IntentError(`context.sandbox.filesystem_isolation is unsupported: ${fsIsolation}`);
  }
  if (userMode !== "" && !SANDBOX_USER_MODES.has(userMode)) {
    throw new IntentError(`context.sandbox.user_mode is unsupported: ${userMode}`);
  }
  if (timeout < 0) throw new IntentError("context.sandbox.timeout_seconds must be >= 0");
  const writable = normalizeSandboxPaths("context.sandbox.writable_paths", rawWritable);
  const readOnly = normalizeSandboxPaths("context.sandbox.read_only_roots", rawReadOnly);
  if (evidenceDigest !== "" && !HEX64_LOWER.test(evidenceDigest)) {
    throw new IntentError("context.sandbox.evidence_digest must be sha256 hex");
  }
  rejectSandboxString("context.sandbox.evidence_ref", evidenceRef, true);

  const s: SandboxMetadata = {};
  if (envExposure !== "") s.env_exposure_mode = envExposure;
  if (evidenceDigest !== "") s.evidence_digest = evidenceDigest;
  if (evidenceRef !== "") s.evidence_ref = evidenceRef;
  if (fsIsolation !== "") s.filesystem_isolation = fsIsolation;
  if (networkMode !== "") s.network_mode = networkMode;
  if (readOnly) s.read_only_roots = readOnly;
  if (timeout !== 0) s.timeout_seconds = timeout;
  if (userMode !== "") s.user_mode = userMode;
  if (writable) s.writable_paths = writable;
  return Object.keys(s).length > 0 ? s : undefined; // all-empty sandbox == absent
}

function normalizeAgentIdentity(o: Rec | undefined): AgentIdentity | undefined {
  if (!o) return undefined;
  const at = "context.agent_identity";
  const lifecycle = normalizeStringSet(vStrList(o.lifecycle_states, at, "lifecycle_states"));
  const owner = vStr(o.owner, at, "owner");
  const manifestDigest = goToLower(vStr(o.manifest_digest, at, "manifest_digest"));
  const publisher = vStr(o.publisher, at, "publisher");
  const source = goToLower(vStr(o.source, at, "source"));
  const issuedAt = vTime(o.issued_at, at, "issued_at");
  const approvedAt = vTime(o.approved_at, at, "approved_at");
  const expiresAt = vTime(o.expires_at, at, "expires_at");
  const revoked = vBool(o.revoked, at, "revoked");
  if (manifestDigest !== "" && !HEX64_LOWER.test(manifestDigest)) {
    throw new IntentError("context.agent_identity.manifest_digest must be sha256 hex");
  }
  const issued = !isZeroTime(issuedAt);
  const approved = !isZeroTime(approvedAt);
  if (issued && approved && compareTimes(approvedAt, issuedAt) < 0) {
    throw new IntentError("context.agent_identity.approved_at must be on or after issued_at");
  }
  if (!isZeroTime(expiresAt)) {
    if (issued && compareTimes(expiresAt, issuedAt) <= 0) {
      throw new IntentError("context.agent_identity.expires_at must be after issued_at");
    }
    if (approved && compareTimes(expiresAt, approvedAt) <= 0) {
      throw new IntentError("context.agent_identity.expires_at must be after approved_at");
    }
  }
  // Present object (even `{}`) => emitted with all three Go zero times (QUIRK, gate.md §2.5).
  const a: AgentIdentity = { approved_at: approvedAt, expires_at: expiresAt, issued_at: issuedAt };
  if (lifecycle) a.lifecycle_states = lifecycle;
  if (manifestDigest !== "") a.manifest_digest = manifestDigest;
  if (owner !== "") a.owner = owner;
  if (publisher !== "") a.publisher = publisher;
  if (revoked) a.revoked = true;
  if (source !== "") a.source = source;
  return a;
}

interface EvidenceClaims {
  digest: string;
  mode: string;
  refs: string[] | undefined;
}

/**
 * Context normalization (Go `normalizeContext`) followed by stage 4b: caller-supplied context-evidence claims are
 * validated, then stripped, or replaced by a verified envelope's values (claims must agree with it).
 */
function normalizeContext(
  o: Rec | undefined,
  envelope: VerifiedContextEnvelope | undefined,
  keepClaims = false,
): IntentContext {
  const at = "context";
  // Decode: visit the keys present (type errors are decode errors, reported before any validation, as in Go).
  let identity = "";
  let workspace = "";
  let riskClass = "";
  let phase = "";
  let rawAuth: unknown;
  let rawSandbox: Rec | undefined;
  let rawAgentIdentity: Rec | undefined;
  let rawScopes: string[] = [];
  let rawRefs: string[] = [];
  let contextSetDigest = "";
  let ttl = 0;
  let credentialSource = "";
  let accessType = "";
  let evidenceMode = "";
  const plain = {} as Record<OptionalStringKey, string>;
  if (o) {
    for (const k in o) {
      const v = o[k];
      switch (k) {
        case "identity": identity = vStr(v, at, k); break;
        case "workspace": workspace = vStr(v, at, k); break;
        case "risk_class": riskClass = goToLower(vStr(v, at, k)); break;
        case "phase": phase = goToLower(vStr(v, at, k)); break;
        case "auth_context":
          if (v !== undefined && v !== null && !isRec(v)) decodeFail(`${at}.${k}`, "a JSON object");
          rawAuth = v;
          break;
        case "sandbox": rawSandbox = vObj(v, at, k); break;
        case "agent_identity": rawAgentIdentity = vObj(v, at, k); break;
        case "credential_scopes": rawScopes = vStrList(v, at, k); break;
        case "context_refs": rawRefs = vStrList(v, at, k); break;
        case "context_set_digest": contextSetDigest = goToLower(vStr(v, at, k)); break;
        case "credential_ttl_seconds": ttl = vInt(v, at, k); break;
        case "credential_source": credentialSource = goToLower(vStr(v, at, k)); break;
        case "credential_access_type": accessType = goToLower(vStr(v, at, k)); break;
        case "context_evidence_mode": evidenceMode = goToLower(vStr(v, at, k)); break;
        case "agent_action_bom_ref":
        case "agent_id":
        case "approval_ref":
        case "credential_issuer":
        case "credential_job_binding":
        case "credential_owner":
        case "credential_ref":
        case "credential_run_binding":
        case "credential_subject":
        case "credential_target_binding":
        case "environment":
        case "environment_fingerprint":
        case "job_id":
        case "repo":
        case "request_id":
        case "run_id":
        case "session_id":
        case "workflow_id":
        case "wrkr_inventory_ref": {
          const t = vStr(v, at, k);
          if (t !== "") plain[k] = t;
          break;
        }
      }
    }
  }

  // Validate in Go's order (normalizeContext).
  if (identity === "") throw new IntentError("context.identity is required");
  if (workspace === "") throw new IntentError("context.workspace is required");
  if (riskClass === "") throw new IntentError("context.risk_class is required");
  let authContext = normalizeAuthContext(rawAuth as Rec | undefined);
  const sandbox = normalizeSandbox(rawSandbox);
  const agentIdentity = normalizeAgentIdentity(rawAgentIdentity);
  const credentialScopes = normalizeStringSet(rawScopes);
  if (contextSetDigest !== "" && !HEX64_LOWER.test(contextSetDigest)) {
    throw new IntentError("context.context_set_digest must be sha256 hex");
  }
  if (ttl < 0) throw new IntentError("context.credential_ttl_seconds must be >= 0");
  if (credentialSource !== "" && !CREDENTIAL_SOURCES.has(credentialSource)) {
    throw new IntentError(`context.credential_source is unsupported: ${credentialSource}`);
  }
  if (accessType !== "" && !CREDENTIAL_ACCESS_TYPES.has(accessType)) {
    throw new IntentError(`context.credential_access_type is unsupported: ${accessType}`);
  }
  if (evidenceMode !== "" && evidenceMode !== "best_effort" && evidenceMode !== "required") {
    throw new IntentError("context.context_evidence_mode must be best_effort or required");
  }
  if (phase === "") phase = "apply";
  if (phase !== "plan" && phase !== "apply") throw new IntentError("context.phase must be plan or apply");
  const contextRefs = normalizeStringSet(rawRefs);

  // Stage 4b (gate.md §4.10): claims are never trusted on their own.
  let evidence: EvidenceClaims | undefined;
  if (keepClaims && !envelope) {
    // Gait's NormalizeIntent alone (what `policy test` reports): the claims are validated but neither stripped nor bound.
    evidence = { digest: contextSetDigest, mode: evidenceMode, refs: contextRefs };
  } else authContext = stripContextAge(authContext);
  if (envelope) {
    evidence = bindContextEnvelope({ digest: contextSetDigest, mode: evidenceMode, refs: contextRefs }, envelope);
    const bound: JsonObject = authContext ? { ...authContext } : {};
    bound.context_age_seconds = envelope.context_age_seconds;
    authContext = bound;
  }

  // Empty values omitted (Go omitempty); keys inserted in sorted order for readable, stable output.
  const ctx = {} as IntentContext;
  if (plain.agent_action_bom_ref) ctx.agent_action_bom_ref = plain.agent_action_bom_ref;
  if (plain.agent_id) ctx.agent_id = plain.agent_id;
  if (agentIdentity) ctx.agent_identity = agentIdentity;
  if (plain.approval_ref) ctx.approval_ref = plain.approval_ref;
  if (authContext) ctx.auth_context = authContext;
  if (evidence) {
    if (evidence.mode !== "") ctx.context_evidence_mode = evidence.mode;
    if (evidence.refs) ctx.context_refs = evidence.refs;
    if (evidence.digest !== "") ctx.context_set_digest = evidence.digest;
  }
  if (accessType !== "") ctx.credential_access_type = accessType;
  if (plain.credential_issuer) ctx.credential_issuer = plain.credential_issuer;
  if (plain.credential_job_binding) ctx.credential_job_binding = plain.credential_job_binding;
  if (plain.credential_owner) ctx.credential_owner = plain.credential_owner;
  if (plain.credential_ref) ctx.credential_ref = plain.credential_ref;
  if (plain.credential_run_binding) ctx.credential_run_binding = plain.credential_run_binding;
  if (credentialScopes) ctx.credential_scopes = credentialScopes;
  if (credentialSource !== "") ctx.credential_source = credentialSource;
  if (plain.credential_subject) ctx.credential_subject = plain.credential_subject;
  if (plain.credential_target_binding) ctx.credential_target_binding = plain.credential_target_binding;
  if (ttl !== 0) ctx.credential_ttl_seconds = ttl;
  if (plain.environment) ctx.environment = plain.environment;
  if (plain.environment_fingerprint) ctx.environment_fingerprint = plain.environment_fingerprint;
  ctx.identity = identity;
  if (plain.job_id) ctx.job_id = plain.job_id;
  ctx.phase = phase;
  if (plain.repo) ctx.repo = plain.repo;
  if (plain.request_id) ctx.request_id = plain.request_id;
  ctx.risk_class = riskClass;
  if (plain.run_id) ctx.run_id = plain.run_id;
  if (sandbox) ctx.sandbox = sandbox;
  if (plain.session_id) ctx.session_id = plain.session_id;
  if (plain.workflow_id) ctx.workflow_id = plain.workflow_id;
  // Go: filepath.ToSlash(strings.ReplaceAll(workspace, "\\", "/")) -- no Clean.
  ctx.workspace = workspace.includes("\\") ? workspace.replace(/\\/g, "/") : workspace;
  if (plain.wrkr_inventory_ref) ctx.wrkr_inventory_ref = plain.wrkr_inventory_ref;
  return ctx;
}

type OptionalStringKey = {
  [K in keyof IntentContext]-?: IntentContext[K] extends string | undefined ? K : never;
}[keyof IntentContext];


// ---------------------------------------------------------------------------------------------------------------
// Context evidence (gate.md §4.10)
// ---------------------------------------------------------------------------------------------------------------

/** auth_context without a caller-supplied `context_age_seconds` (undefined when nothing else is left). */
function stripContextAge(auth: JsonObject | undefined): JsonObject | undefined {
  if (!auth || !Object.prototype.hasOwnProperty.call(auth, "context_age_seconds")) return auth;
  const copy: JsonObject = {};
  for (const k of Object.keys(auth)) if (k !== "context_age_seconds") setJsonProperty(copy, k, auth[k]);
  return Object.keys(copy).length > 0 ? copy : undefined;
}

/** Evidence values from a verified envelope; the caller's (validated) claims must agree with it. */
function bindContextEnvelope(claims: EvidenceClaims, env: VerifiedContextEnvelope): EvidenceClaims {
  const digest = goToLower(goTrimSpace(typeof env.context_set_digest === "string" ? env.context_set_digest : ""));
  if (!HEX64_LOWER.test(digest)) throw new IntentError("verify context envelope: context_set_digest must be sha256 hex");
  const mode = goToLower(goTrimSpace(typeof env.context_evidence_mode === "string" ? env.context_evidence_mode : ""));
  if (mode !== "" && mode !== "best_effort" && mode !== "required") {
    throw new IntentError("verify context envelope: context_evidence_mode must be best_effort or required");
  }
  const age = env.context_age_seconds;
  if (typeof age !== "number" || !Number.isSafeInteger(age) || age < 0) {
    throw new IntentError("verify context envelope: context_age_seconds must be an integer >= 0");
  }
  if (claims.digest !== "" && claims.digest !== digest) {
    throw new IntentError("context envelope digest does not match context.context_set_digest");
  }
  if (claims.mode !== "" && claims.mode !== mode) {
    throw new IntentError("context envelope evidence mode does not match context.context_evidence_mode");
  }
  const refs = Array.isArray(env.context_refs)
    ? normalizeStringSet(env.context_refs.filter((r): r is string => typeof r === "string"))
    : undefined;
  return { digest, mode, refs };
}

// ---------------------------------------------------------------------------------------------------------------
// Script (gate.md §4.13)
// ---------------------------------------------------------------------------------------------------------------

function normalizeScript(o: Rec | undefined): IntentScript | undefined {
  if (!o) return undefined;
  const steps = vArr(o.steps, "script", "steps");
  if (steps.length === 0) throw new IntentError("script.steps must not be empty");
  if (steps.length > MAX_SCRIPT_STEPS) {
    throw new IntentError(`script.steps exceeds max supported steps (${MAX_SCRIPT_STEPS})`);
  }
  const out: ScriptStep[] = [];
  for (let i = 0; i < steps.length; i++) {
    const at = `script.steps[${i}]`;
    const item = steps[i];
    let s: Rec;
    if (isRec(item)) s = item;
    else if (item === null || item === undefined) s = EMPTY_REC;
    else return decodeFail(at, "a JSON object");
    const toolName = goToLower(vStr(s.tool_name, at, "tool_name"));
    if (toolName === "") throw new IntentError(`script.steps[${i}].tool_name is required`);
    const rawArgs = s.args;
    if (rawArgs !== undefined && rawArgs !== null && !isRec(rawArgs)) {
      throw new IntentDecodeError(`script.steps[${i}].args must be a JSON object`);
    }
    // Gait does not run the raw-credential check on step args (only on top-level args); kept as is.
    const args = (rawArgs ? normalizeJsonValue(rawArgs, { credentialHit: false }, `normalize script.steps[${i}].args: args contains empty key`) : {}) as JsonObject;
    const rawTargets = vArr(s.targets, at, "targets");
    const rawProv = vArr(s.arg_provenance, at, "arg_provenance");
    let targets: Target[];
    let provenance: ArgProvenance[];
    try {
      targets = normalizeTargetList(toolName, rawTargets, `${at}.targets`);
    } catch (e) {
      throw wrapError(`normalize script.steps[${i}].targets: `, e);
    }
    try {
      provenance = normalizeProvenanceList(rawProv, `${at}.arg_provenance`);
    } catch (e) {
      throw wrapError(`normalize script.steps[${i}].arg_provenance: `, e);
    }
    const step = {} as ScriptStep;
    if (provenance.length > 0) step.arg_provenance = provenance;
    step.args = args;
    if (targets.length > 0) step.targets = targets;
    step.tool_name = toolName;
    out.push(step);
  }
  return { steps: out };
}

function wrapError(prefix: string, e: unknown): unknown {
  if (e instanceof IntentDecodeError) return new IntentDecodeError(prefix + e.message);
  if (e instanceof IntentError) return new IntentError(prefix + e.message);
  return e;
}

// ---------------------------------------------------------------------------------------------------------------
// Digests (gate.md §2.5)
// ---------------------------------------------------------------------------------------------------------------

// Emitters for Gait's Go structs. Each writes the keys in JCS (sorted) order and applies Go's encoding rules:
// `omitempty` fields are left out when "", 0, false, nil or empty; fields without `omitempty` (target kind/value,
// provenance arg_path/source, context identity/workspace/risk_class, ...) are always written; time.Time fields are
// always written (zero time when unset). Free-form maps (args, auth_context) go through jcsFast.
//
// Speed (this text is built and hashed on every decision): V8 concatenates strings into ropes, and hashing a rope
// first flattens it, at a cost that grows with the number of pieces. So fields are assembled from few pieces and no
// temporary strings: a constant fragment holding separator, key and opening quote (`,"kind":"`), then the escaped
// value with its closing quote (`str`: the value string itself plus `"`, which V8 copies into one flat piece when
// short). Fields that follow an object's first always-present key start with `,`; those before it (the `...T`
// variants) end with `",` instead, so no comma ever needs removing afterwards (which would also force a flatten).

/** Body of the JCS string literal of `v` (no quotes): `v` itself unless it needs escaping (canon.ts `jcsString`). */
function esc(v: string): string {
  const n = v.length;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return jcsString(v).slice(1, -1);
  }
  return v;
}
/** The rest of a string literal after its opening quote (which the caller's constant fragment carries). */
function str(v: string | undefined): string {
  return esc(v ?? "") + '"';
}
/** {@link str} for a Go time.Time field (never omitted): the zero time when unset. */
function time(v: string | undefined): string {
  return esc(v || GO_ZERO_TIME) + '"';
}
/** Optional string field after the first always-present key: `open` is `,"key":"`. */
function optStr(open: string, v: string | undefined): string {
  return v ? open + (esc(v) + '"') : "";
}
/** Optional string field before the first always-present key: `open` is `"key":"`. */
function optStrT(open: string, v: string | undefined): string {
  return v ? open + (esc(v) + '",') : "";
}
/** Optional `true` flag (Go omitempty drops false): `text` is the whole constant field, e.g. `,"revoked":true`. */
function optBool(v: boolean | undefined, text: string): string {
  return v === true ? text : "";
}
/** Optional non-zero integer: `open` is `,"key":`. */
function optInt(open: string, v: number | undefined): string {
  return typeof v === "number" && v !== 0 ? open + jcsFast(v) : "";
}
/** Optional non-empty string list: `open` is `,"key":`. */
function optStrList(open: string, v: readonly string[] | undefined): string {
  return v && v.length > 0 ? open + jcsFast(v) : "";
}
/** Optional non-empty string list before the first always-present key: `open` is `"key":`. */
function optStrListT(open: string, v: readonly string[] | undefined): string {
  return v && v.length > 0 ? open + jcsFast(v) + "," : "";
}
/** The elements of a JSON array without the brackets (the callers' constant fragments carry those). */
function items<T>(values: readonly T[] | undefined, emit: (item: T) => string): string {
  if (!values || values.length === 0) return "";
  let out = emit(values[0]!);
  for (let i = 1; i < values.length; i++) out += "," + emit(values[i]!);
  return out;
}

function jcsTarget(t: Target): string {
  return (
    "{" + optBool(t.destructive, '"destructive":true,') + optBool(t.destructive_hint, '"destructive_hint":true,') +
    optStrT('"discovery_method":"', t.discovery_method) + optStrT('"endpoint_class":"', t.endpoint_class) +
    optStrT('"endpoint_domain":"', t.endpoint_domain) + optBool(t.idempotent_hint, '"idempotent_hint":true,') +
    '"kind":"' + str(t.kind) + optBool(t.open_world_hint, ',"open_world_hint":true') +
    optStr(',"operation":"', t.operation) + optBool(t.read_only_hint, ',"read_only_hint":true') +
    optStr(',"sensitivity":"', t.sensitivity) + ',"value":"' + (esc(t.value ?? "") + '"}')
  );
}

function jcsProvenance(p: ArgProvenance): string {
  return (
    '{"arg_path":"' + str(p.arg_path) + optStr(',"integrity_digest":"', p.integrity_digest) + ',"source":"' +
    str(p.source) + optStr(',"source_ref":"', p.source_ref) + "}"
  );
}

function jcsSkill(s: SkillProvenance): string {
  return (
    "{" + optStrT('"digest":"', s.digest) + '"publisher":"' + str(s.publisher) +
    optStr(',"signature_key_id":"', s.signature_key_id) + ',"skill_name":"' + str(s.skill_name) +
    optStr(',"skill_version":"', s.skill_version) + ',"source":"' + str(s.source) + "}"
  );
}

function jcsLink(l: DelegationLink): string {
  return (
    '{"delegate_identity":"' + str(l.delegate_identity) + ',"delegator_identity":"' + str(l.delegator_identity) +
    ',"expires_at":"' + time(l.expires_at) + ',"issued_at":"' + time(l.issued_at) +
    optStr(',"scope_class":"', l.scope_class) + optStr(',"token_ref":"', l.token_ref) + "}"
  );
}

function jcsDelegation(d: Delegation): string {
  return (
    "{" + (d.chain && d.chain.length > 0 ? '"chain":[' + items(d.chain, jcsLink) + "]," : "") +
    '"expires_at":"' + time(d.expires_at) + ',"issued_at":"' + time(d.issued_at) +
    ',"requester_identity":"' + str(d.requester_identity) + optStr(',"scope_class":"', d.scope_class) +
    optStrList(',"token_refs":', d.token_refs) + "}"
  );
}

function jcsAgentIdentity(a: AgentIdentity): string {
  return (
    '{"approved_at":"' + time(a.approved_at) + ',"expires_at":"' + time(a.expires_at) + ',"issued_at":"' +
    time(a.issued_at) + optStrList(',"lifecycle_states":', a.lifecycle_states) +
    optStr(',"manifest_digest":"', a.manifest_digest) + optStr(',"owner":"', a.owner) +
    optStr(',"publisher":"', a.publisher) + optBool(a.revoked, ',"revoked":true') + optStr(',"source":"', a.source) + "}"
  );
}

function jcsSandbox(s: SandboxMetadata): string {
  // every field is optional: emit them all with a leading comma, then drop the first one (rare path)
  const fields =
    optStr(',"env_exposure_mode":"', s.env_exposure_mode) + optStr(',"evidence_digest":"', s.evidence_digest) +
    optStr(',"evidence_ref":"', s.evidence_ref) + optStr(',"filesystem_isolation":"', s.filesystem_isolation) +
    optStr(',"network_mode":"', s.network_mode) + optStrList(',"read_only_roots":', s.read_only_roots) +
    optInt(',"timeout_seconds":', s.timeout_seconds) + optStr(',"user_mode":"', s.user_mode) +
    optStrList(',"writable_paths":', s.writable_paths);
  return "{" + fields.substring(1) + "}";
}

function jcsContext(c: IntentContext): string {
  return (
    "{" + optStrT('"agent_action_bom_ref":"', c.agent_action_bom_ref) + optStrT('"agent_id":"', c.agent_id) +
    (c.agent_identity ? '"agent_identity":' + jcsAgentIdentity(c.agent_identity) + "," : "") +
    optStrT('"approval_ref":"', c.approval_ref) +
    (c.auth_context && Object.keys(c.auth_context).length > 0 ? '"auth_context":' + jcsFast(c.auth_context) + "," : "") +
    optStrT('"context_evidence_mode":"', c.context_evidence_mode) + optStrListT('"context_refs":', c.context_refs) +
    optStrT('"context_set_digest":"', c.context_set_digest) +
    optStrT('"credential_access_type":"', c.credential_access_type) +
    optStrT('"credential_issuer":"', c.credential_issuer) + optStrT('"credential_job_binding":"', c.credential_job_binding) +
    optStrT('"credential_owner":"', c.credential_owner) + optStrT('"credential_ref":"', c.credential_ref) +
    optStrT('"credential_run_binding":"', c.credential_run_binding) +
    optStrListT('"credential_scopes":', c.credential_scopes) + optStrT('"credential_source":"', c.credential_source) +
    optStrT('"credential_subject":"', c.credential_subject) +
    optStrT('"credential_target_binding":"', c.credential_target_binding) +
    (typeof c.credential_ttl_seconds === "number" && c.credential_ttl_seconds !== 0
      ? '"credential_ttl_seconds":' + jcsFast(c.credential_ttl_seconds) + ","
      : "") +
    optStrT('"environment":"', c.environment) + optStrT('"environment_fingerprint":"', c.environment_fingerprint) +
    '"identity":"' + str(c.identity) + optStr(',"job_id":"', c.job_id) + optStr(',"phase":"', c.phase) +
    optStr(',"repo":"', c.repo) + optStr(',"request_id":"', c.request_id) + ',"risk_class":"' + str(c.risk_class) +
    optStr(',"run_id":"', c.run_id) + (c.sandbox ? ',"sandbox":' + jcsSandbox(c.sandbox) : "") +
    optStr(',"session_id":"', c.session_id) + optStr(',"workflow_id":"', c.workflow_id) +
    ',"workspace":"' + str(c.workspace) + optStr(',"wrkr_inventory_ref":"', c.wrkr_inventory_ref) + "}"
  );
}

function jcsStep(s: ScriptStep): string {
  return (
    (s.arg_provenance && s.arg_provenance.length > 0
      ? '{"arg_provenance":[' + items(s.arg_provenance, jcsProvenance) + '],"args":'
      : '{"args":') +
    jcsFast(s.args ?? {}) +
    (s.targets && s.targets.length > 0 ? ',"targets":[' + items(s.targets, jcsTarget) + "]" : "") +
    ',"tool_name":"' + (esc(s.tool_name ?? "") + '"}')
  );
}

function jcsScript(s: IntentScript): string {
  return '{"steps":[' + items(s.steps, jcsStep) + "]}";
}

/**
 * JCS text of Gait's `normalizedIntent` struct. Keys in sorted order: arg_provenance, args, context, delegation,
 * script, script_hash, skill_provenance, targets, tool_name. `targets` is always present (`[]` when empty);
 * `arg_provenance` is omitted when empty; created_at, schema_*, producer_version, relationship are not part of it.
 * `argsJcs` (and `scriptJcs`) are the texts already computed for `args_digest` (`script_hash`), embedded verbatim.
 */
function intentDigestText(intent: IntentRequest, argsJcs: string, scriptJcs: string | undefined): string {
  return (
    (intent.arg_provenance && intent.arg_provenance.length > 0
      ? '{"arg_provenance":[' + items(intent.arg_provenance, jcsProvenance) + '],"args":'
      : '{"args":') +
    argsJcs + ',"context":' + jcsContext(intent.context) +
    (intent.delegation ? ',"delegation":' + jcsDelegation(intent.delegation) : "") +
    (intent.script ? ',"script":' + (scriptJcs ?? jcsScript(intent.script)) : "") +
    optStr(',"script_hash":"', intent.script_hash) +
    (intent.skill_provenance ? ',"skill_provenance":' + jcsSkill(intent.skill_provenance) : "") +
    ',"targets":[' + items(intent.targets, jcsTarget) + '],"tool_name":"' + (esc(intent.tool_name ?? "") + '"}')
  );
}

/**
 * Recompute `intent_digest` of an already normalized intent (e.g. after Wrkr enrichment added `auth_context` keys).
 * The intent must be in normalized form (as returned by {@link normalizeIntent}); it is not re-validated.
 */
export function computeIntentDigest(intent: IntentRequest): string {
  return sha256Hex(intentDigestText(intent, jcsFast(intent.args), undefined));
}

/** The exact JCS text hashed into `intent_digest` (debugging and golden tests). */
export function intentDigestPayload(intent: IntentRequest): string {
  return intentDigestText(intent, jcsFast(intent.args), undefined);
}

/**
 * Credential target binding (gate.md §4.9): digest of the normalized targets array (`[]` when there are none).
 * Callers compare it with `context.credential_target_binding`.
 */
export function targetsDigest(targets: readonly Target[]): string {
  return sha256Hex("[" + items(targets, jcsTarget) + "]");
}

/** Delegation binding digest (approval tokens' `delegation_binding_digest`): digest of the normalized delegation. */
export function delegationDigest(delegation: Delegation): string {
  return sha256Hex(jcsDelegation(delegation));
}

/** `script_hash` of a normalized script: digest of `{steps:[{tool_name,args,targets?,arg_provenance?}]}`. */
export function scriptHash(script: IntentScript): string {
  return sha256Hex(jcsScript(script));
}

// ---------------------------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------------------------

/**
 * The caller's raw `context.risk_class`, trimmed and lowercased ("" when absent or not a string). The policy
 * evaluator needs the RAW value to decide whether fail-closed applies to an intent that failed normalization, and
 * the MCP trust / kill-switch "required" checks use it too (gate.md §1 stage 3-4, §4.16).
 */
export function rawRiskClass(raw: unknown): string {
  if (!isRec(raw)) return "";
  const ctx = raw.context;
  if (!isRec(ctx)) return "";
  const rc = ctx.risk_class;
  return typeof rc === "string" ? goToLower(goTrimSpace(wellFormed(rc))) : "";
}

/** Options of {@link normalizeIntent}. */
export interface NormalizeIntentOptions {
  /**
   * A context envelope already verified by the trusted boundary. Without it, caller-supplied context-evidence
   * claims are stripped; with it, digest/mode/refs/age come from the envelope and conflicting claims are an error.
   */
  envelope?: VerifiedContextEnvelope;
  /**
   * Keep caller-supplied context-evidence claims (digest, mode, refs, `auth_context.context_age_seconds`) as
   * validated, instead of stripping them: the intent as Gait's `NormalizeIntent` alone returns it, whose digest
   * `gait policy test` reports. Never evaluate such an intent: the claims are unverified. Ignored with `envelope`.
   */
  keepContextClaims?: boolean;
}

/**
 * Validate and normalize a raw intent (decoded JSON) the way Gait does (gate.md §2), bind or strip context evidence
 * (§4.10), and fill `args_digest`, `intent_digest` and (for scripts) `script_hash`.
 *
 * The input is never mutated. Throws {@link IntentError} with Gait's message for every invalid input
 * ({@link IntentDecodeError} for JSON type errors that Gait reports while decoding).
 */
export function normalizeIntent(raw: unknown, opts?: NormalizeIntentOptions): IntentRequest {
  if (!isRec(raw)) return decodeFail("intent", "a JSON object");
  assertJsonDepth(raw, "intent");

  // Go order: script first, then tool_name, args, targets, provenance, skill provenance, context, delegation.
  const script = normalizeScript(vObj(raw.script, "", "script"));

  let toolName = goToLower(vStr(raw.tool_name, "", "tool_name"));
  if (script) toolName = "script";
  if (toolName === "") throw new IntentError("tool_name is required");

  const rawArgs = raw.args;
  let args: JsonObject;
  if (rawArgs === undefined || rawArgs === null) {
    args = {};
  } else if (isRec(rawArgs)) {
    const walk: JsonWalk = { credentialHit: false };
    args = normalizeJsonValue(rawArgs, walk, "normalize args: args contains empty key") as JsonObject;
    if (walk.credentialHit) throwFirstCredentialHit("args", args);
  } else {
    throw new IntentDecodeError("args must be a JSON object");
  }

  // A script without top-level targets takes its steps' targets *as normalized per step* (Gait normalizeIntent
  // appends the normalized steps' targets): an endpoint class left to inference comes from the step's own tool name,
  // never from "script". Normalizing them again is idempotent apart from the cross-step dedupe and sort.
  let rawTargets: readonly unknown[] = vArr(raw.targets, "", "targets");
  if (script && rawTargets.length === 0) rawTargets = script.steps.flatMap((s) => s.targets ?? []);
  const targets = normalizeTargetList(toolName, rawTargets, "targets");
  let rawProv: readonly unknown[] = vArr(raw.arg_provenance, "", "arg_provenance");
  if (script && rawProv.length === 0) rawProv = script.steps.flatMap((s) => s.arg_provenance ?? []);
  const provenance = normalizeProvenanceList(rawProv, "arg_provenance");
  const skill = normalizeSkillProvenance(vObj(raw.skill_provenance, "", "skill_provenance"));
  const context = normalizeContext(vObj(raw.context, "", "context"), opts?.envelope, opts?.keepContextClaims === true);
  const delegation = normalizeDelegation(vObj(raw.delegation, "", "delegation"));

  const schemaId = vStr(raw.schema_id, "", "schema_id");
  const schemaVersion = vStr(raw.schema_version, "", "schema_version");
  const producerVersion = vStr(raw.producer_version, "", "producer_version");
  let createdAt = GAIT_EPOCH;
  const rawCreated = raw.created_at;
  if (rawCreated !== undefined && rawCreated !== null) {
    const t = vTime(raw.created_at, "", "created_at");
    if (!isZeroTime(t)) createdAt = t;
  }
  const relationship = vObj(raw.relationship, "", "relationship");

  const argsJcs = jcsFast(args);
  const intent: IntentRequest = {
    schema_id: schemaId === "" ? INTENT_SCHEMA_ID : schemaId,
    schema_version: schemaVersion === "" ? INTENT_SCHEMA_VERSION : schemaVersion,
    created_at: createdAt,
    tool_name: toolName,
    args,
    args_digest: sha256Hex(argsJcs),
    intent_digest: "",
    targets,
    context,
  };
  if (producerVersion !== "") intent.producer_version = producerVersion;
  let scriptJcs: string | undefined;
  if (script) {
    scriptJcs = jcsScript(script);
    intent.script_hash = sha256Hex(scriptJcs);
    intent.script = script;
  }
  if (provenance.length > 0) intent.arg_provenance = provenance;
  if (skill) intent.skill_provenance = skill;
  if (delegation) intent.delegation = delegation;
  if (relationship) intent.relationship = relationship as JsonObject;
  intent.intent_digest = sha256Hex(intentDigestText(intent, argsJcs, scriptJcs));
  return intent;
}

// ---------------------------------------------------------------------------------------------------------------
// Go net/url hostname extraction (endpoint_domain of `url` targets)
// ---------------------------------------------------------------------------------------------------------------

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return c - 0x41 + 10;
}

/** Go `shouldEscape(c, encodeHost)` for ASCII bytes. */
function hostCharNeedsEscape(c: number): boolean {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39)) return false;
  return !"!$&'()*+,;=:[]<>\"-_.~".includes(String.fromCharCode(c));
}

/** Go `unescape` validity for the given mode; returns the decoded text or undefined on error. */
function goUnescape(s: string, mode: "host" | "zone" | "path" | "fragment" | "userinfo"): string | undefined {
  let hasPercent = false;
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      hasPercent = true;
      if (i + 2 >= s.length || !isHexDigit(s.charCodeAt(i + 1)) || !isHexDigit(s.charCodeAt(i + 2))) return undefined;
      const hi = hexVal(s.charCodeAt(i + 1));
      if (mode === "host" && hi < 8 && s.slice(i, i + 3) !== "%25") return undefined;
      if (mode === "zone") {
        const v = hi * 16 + hexVal(s.charCodeAt(i + 2));
        if (s.slice(i, i + 3) !== "%25" && v !== 0x20 && v < 0x80 && hostCharNeedsEscape(v)) return undefined;
      }
      i += 3;
      continue;
    }
    if ((mode === "host" || mode === "zone") && c < 0x80 && hostCharNeedsEscape(c)) return undefined;
    i++;
  }
  if (!hasPercent || (mode !== "host" && mode !== "zone")) return s; // only the host value is used afterwards
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      bytes.push(hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2)));
      i += 3;
    } else {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of enc.encode(ch)) bytes.push(b);
      i += ch.length;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

function validOptionalPort(port: string): boolean {
  if (port === "") return true;
  if (port.charCodeAt(0) !== 0x3a) return false;
  for (let i = 1; i < port.length; i++) {
    const c = port.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function goParseHost(host: string): string | undefined {
  if (host.startsWith("[")) {
    const i = host.lastIndexOf("]");
    if (i < 0) return undefined;
    if (!validOptionalPort(host.slice(i + 1))) return undefined;
    const zone = host.slice(0, i).indexOf("%25");
    if (zone >= 0) {
      const h1 = goUnescape(host.slice(0, zone), "host");
      const h2 = goUnescape(host.slice(zone, i), "zone");
      const h3 = goUnescape(host.slice(i), "host");
      if (h1 === undefined || h2 === undefined || h3 === undefined) return undefined;
      return h1 + h2 + h3;
    }
  } else {
    const i = host.lastIndexOf(":");
    if (i >= 0 && !validOptionalPort(host.slice(i))) return undefined;
  }
  return goUnescape(host, "host");
}

const USERINFO_OK = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

/**
 * Go `url.Parse(raw).Hostname()`, returning "" where Go's parser returns an error (so the endpoint domain stays
 * empty, exactly as in Gait). Covers scheme detection, opaque URLs, authority/userinfo/port/IPv6 rules and percent
 * escape validation.
 */
export function goUrlHostname(raw: string): string {
  let rest = raw;
  const hash = rest.indexOf("#");
  if (hash >= 0) {
    if (goUnescape(rest.slice(hash + 1), "fragment") === undefined) return "";
    rest = rest.slice(0, hash);
  }
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return "";
  }
  // scheme
  let scheme = "";
  for (let i = 0; i < rest.length; i++) {
    const c = rest.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) continue;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) {
      if (i === 0) break;
      continue;
    }
    if (c === 0x3a) {
      if (i === 0) return ""; // missing protocol scheme
      scheme = rest.slice(0, i);
      rest = rest.slice(i + 1);
    }
    break;
  }
  // query
  const q = rest.indexOf("?");
  if (q >= 0) rest = rest.slice(0, q);
  // Without a leading "/" there is no authority: an opaque URL (with scheme) or a relative path; both have no host
  // (and Go's errors for such inputs also end as "").
  if (!rest.startsWith("/")) return "";
  let host = "";
  if ((scheme !== "" || !rest.startsWith("///")) && rest.startsWith("//")) {
    let authority = rest.slice(2);
    const slash = authority.indexOf("/");
    let path = "";
    if (slash >= 0) {
      path = authority.slice(slash);
      authority = authority.slice(0, slash);
    }
    const at = authority.lastIndexOf("@");
    let hostPart = authority;
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      if (!USERINFO_OK.test(userinfo) || goUnescape(userinfo, "userinfo") === undefined) return "";
      hostPart = authority.slice(at + 1);
    }
    const parsed = goParseHost(hostPart);
    if (parsed === undefined) return "";
    if (goUnescape(path, "path") === undefined) return "";
    host = parsed;
  } else if (goUnescape(rest, "path") === undefined) {
    return "";
  }
  // Hostname(): strip a valid port, then IPv6 brackets
  const colon = host.lastIndexOf(":");
  if (colon >= 0 && validOptionalPort(host.slice(colon))) host = host.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return host;
}

