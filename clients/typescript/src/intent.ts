/**
 * Typed intents: Gait's `gait.gate.intent_request` JSON as TypeScript types, so a misspelt field (`tool_nmae`) or an
 * unknown target kind is a compile error instead of a fail-closed `block` at run time.
 *
 * Field names are Gait's snake_case JSON names (the same keys as an intent file for `gait gate eval --intent` and as
 * the Python and Go clients' intent types). The field set is the proto message `gait.gate.v1.IntentRequest`
 * (proto/gait/gate/v1/intent.proto), which mirrors `shared/spec/gate.md` §2; the output-only fields of that table
 * (`args_digest`, `intent_digest`, `script_hash`) are computed by the server and cannot be sent. A test keeps these
 * types and the generated descriptor in step.
 *
 * Value sets: where the server rejects anything outside a fixed list (target kind, endpoint class, discovery
 * method, provenance source, phase, credential source and access type, context evidence mode, sandbox modes) the
 * type is a closed literal union. Where the value is free text that policies match verbatim (operation,
 * sensitivity, risk class) the type is the known values plus any string: the editor offers the known ones, and a
 * policy's own `destination_operations: [deploy]` still works.
 *
 * Raw JSON (an intent read from a file, or built by code that does not know the shape) goes in
 * `GateCall.intentJson` instead; it is checked against the same field set at run time (see {@link checkIntentJson}).
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { IntentRequestSchema } from "./gen/gait/gate/v1/intent_pb.js";

/** Target kinds the server accepts (gate.md §2.3); anything else is `unsupported target kind`. */
export type TargetKind = "path" | "url" | "host" | "repo" | "bucket" | "table" | "queue" | "topic" | "other";

/**
 * Operations with a built-in meaning (gate.md §2.4: they infer the endpoint class and whether the call is
 * destructive). Operations are free text, so {@link TargetOperation} also accepts any other string.
 */
export type KnownOperation =
  // fs.read
  | "read" | "get" | "list" | "open" | "cat" | "head" | "download" | "stat"
  // fs.write
  | "write" | "append" | "put" | "create" | "update" | "save" | "copy" | "move" | "rename"
  // fs.delete (destructive)
  | "delete" | "remove" | "rm" | "unlink" | "rmdir" | "drop" | "truncate"
  // net.dns
  | "dns" | "resolve" | "lookup"
  // proc.exec (exec and spawn are destructive)
  | "exec" | "spawn" | "run" | "shell" | "command";

// `string & {}` keeps the literal members visible to the editor while still admitting any string.
type OpenString = string & {};

/** A target's operation: a {@link KnownOperation} or any other lowercase word a policy matches. */
export type TargetOperation = KnownOperation | OpenString;

/** Endpoint classes (gate.md §2.3); inferred from kind and operation when omitted. */
export type EndpointClass =
  | "fs.read" | "fs.write" | "fs.delete" | "proc.exec" | "net.http" | "net.dns" | "ui.click" | "ui.type" | "ui.navigate" | "other";

/** How the tool was discovered; `unknown` when omitted. */
export type DiscoveryMethod = "webmcp" | "dynamic_mcp" | "a2a" | "mcp" | "static_mcp" | "manual" | "unknown";

/** Where an argument's value came from. */
export type ProvenanceSource = "user" | "tool_output" | "external" | "system";

/** `plan` or `apply` (the server's default). */
export type Phase = "plan" | "apply";

/** Free text; only `high` and `critical` have a built-in meaning (fail-closed pre-checks). */
export type RiskClass = "low" | "medium" | "high" | "critical" | OpenString;

export type CredentialSource =
  | "aws_iam_user" | "aws_sts" | "azure_federated" | "command" | "env" | "gcp_sts" | "github_oidc" | "github_pat"
  | "kubernetes_service_account" | "stub" | "unknown" | "vault_dynamic";

export type CredentialAccessType = "cloud_admin" | "inherited" | "jit" | "standing" | "static" | "unknown";

export type ContextEvidenceMode = "best_effort" | "required";

export type SandboxNetworkMode = "disabled" | "egress_allowlist" | "full";
export type SandboxEnvExposureMode = "allowlist" | "full" | "none";
export type SandboxFilesystemIsolation = "container" | "none" | "workspace";
export type SandboxUserMode = "default" | "root" | "unprivileged";

/** An RFC 3339 time: a `Date` or its string form (`2026-01-02T03:04:05Z`). */
export type Timestamp = Date | string;

/** A JSON object (tool arguments, auth context, relationship metadata). Values must be JSON values. */
export type JsonObjectInput = { readonly [key: string]: unknown };

/** One resource the call touches. `kind` and `value` are required. */
export interface IntentTarget {
  kind: TargetKind;
  value: string;
  operation?: TargetOperation;
  /** The data class matched by a rule's `match.data_classes` (free text, compared lowercased). */
  sensitivity?: string;
  endpoint_class?: EndpointClass;
  endpoint_domain?: string;
  discovery_method?: DiscoveryMethod;
  destructive?: boolean;
  read_only_hint?: boolean;
  destructive_hint?: boolean;
  idempotent_hint?: boolean;
  open_world_hint?: boolean;
}

/** Where one argument's value came from. */
export interface ArgProvenance {
  arg_path: string;
  source: ProvenanceSource;
  source_ref?: string;
  integrity_digest?: string;
}

/** The skill that produced the call; `skill_name`, `source` and `publisher` are required. */
export interface SkillProvenance {
  skill_name: string;
  skill_version?: string;
  source: string;
  publisher: string;
  digest?: string;
  signature_key_id?: string;
}

/** One hop of a delegation chain. */
export interface DelegationLink {
  delegator_identity?: string;
  delegate_identity?: string;
  scope_class?: string;
  token_ref?: string;
  issued_at?: Timestamp;
  expires_at?: Timestamp;
}

/** Who asked for the call on whose behalf. */
export interface Delegation {
  requester_identity: string;
  scope_class?: string;
  token_refs?: readonly string[];
  chain?: readonly DelegationLink[];
  issued_at?: Timestamp;
  expires_at?: Timestamp;
}

/** The declared identity of the calling agent. */
export interface AgentIdentity {
  lifecycle_states?: readonly string[];
  owner?: string;
  manifest_digest?: string;
  publisher?: string;
  source?: string;
  issued_at?: Timestamp;
  approved_at?: Timestamp;
  expires_at?: Timestamp;
  revoked?: boolean;
}

/** The execution sandbox of the call. */
export interface Sandbox {
  network_mode?: SandboxNetworkMode;
  writable_paths?: readonly string[];
  read_only_roots?: readonly string[];
  env_exposure_mode?: SandboxEnvExposureMode;
  timeout_seconds?: number;
  filesystem_isolation?: SandboxFilesystemIsolation;
  user_mode?: SandboxUserMode;
  evidence_ref?: string;
  evidence_digest?: string;
}

/** Who calls, where, and at what risk. `identity`, `workspace` and `risk_class` are required. */
export interface IntentContext {
  identity: string;
  workspace: string;
  risk_class: RiskClass;
  phase?: Phase;
  agent_id?: string;
  agent_identity?: AgentIdentity;
  run_id?: string;
  workflow_id?: string;
  repo?: string;
  environment?: string;
  job_id?: string;
  session_id?: string;
  request_id?: string;
  credential_ref?: string;
  credential_source?: CredentialSource;
  credential_access_type?: CredentialAccessType;
  credential_issuer?: string;
  credential_subject?: string;
  credential_owner?: string;
  credential_target_binding?: string;
  credential_run_binding?: string;
  credential_job_binding?: string;
  credential_ttl_seconds?: number;
  credential_scopes?: readonly string[];
  approval_ref?: string;
  wrkr_inventory_ref?: string;
  agent_action_bom_ref?: string;
  auth_context?: JsonObjectInput;
  sandbox?: Sandbox;
  environment_fingerprint?: string;
  /** Context-evidence claims are stripped by the server unless it holds a verified envelope (gate.md §4.10). */
  context_set_digest?: string;
  context_evidence_mode?: ContextEvidenceMode;
  context_refs?: readonly string[];
}

/** One step of a multi-step intent. */
export interface ScriptStep {
  tool_name: string;
  args?: JsonObjectInput;
  targets?: readonly IntentTarget[];
  arg_provenance?: readonly ArgProvenance[];
}

/** A multi-step intent (1 to 64 steps); the server then names the tool `script`. */
export interface Script {
  steps: readonly ScriptStep[];
}

/** A Gait intent (`gait.gate.intent_request`). `tool_name` and `context` are required. */
export interface Intent {
  tool_name: string;
  /** Tool arguments (a JSON object); absent means `{}`. */
  args?: JsonObjectInput;
  targets?: readonly IntentTarget[];
  arg_provenance?: readonly ArgProvenance[];
  skill_provenance?: SkillProvenance;
  delegation?: Delegation;
  context: IntentContext;
  script?: Script;
  /** Copied into the trace record's `created_at`; not part of the intent digest. */
  created_at?: Timestamp;
  producer_version?: string;
  /** Pass-through metadata; not part of the intent digest. */
  relationship?: JsonObjectInput;
  schema_id?: string;
  schema_version?: string;
}

/**
 * Builds an intent. The identity at run time; its value is the type check at the point the intent is written
 * (`const i = intent({...})` rejects a misspelt key there, not later where it is used).
 */
export function intent(value: Intent): Intent {
  return value;
}

/** Builds one target: `target("path", "/workspace/a.txt", "read")`. */
export function target(kind: TargetKind, value: string, operation?: TargetOperation, extra: Omit<IntentTarget, "kind" | "value" | "operation"> = {}): IntentTarget {
  return { ...extra, kind, value, ...(operation !== undefined ? { operation } : {}) };
}

/** The intent as plain JSON (Dates become RFC 3339 strings). Throws a TypeError for values JSON cannot carry. */
export function intentToJson(value: Intent): Record<string, unknown> {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError("intent is not a JSON object");
  return JSON.parse(text) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------------
// Run-time check of raw intent JSON: every key must be a field of the proto message at that place.
// ---------------------------------------------------------------------------------------------------------------

/** Messages whose JSON form is not an object of their fields (free-form or well-known types): not descended into. */
const OPAQUE = /^google\.protobuf\./;

/**
 * Checks raw intent JSON against the intent's field set and returns the first problem, or undefined. A key that is
 * not a field gets the closest field name as a suggestion: `unknown field "context.identiy" (did you mean
 * "identity"?)`. Only keys are checked here; values are checked by the proto decoder and the server.
 */
export function checkIntentJson(json: unknown): string | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return "intent must be a JSON object";
  return checkKeys(IntentRequestSchema, json as Record<string, unknown>, "");
}

function checkKeys(desc: DescMessage, obj: Record<string, unknown>, path: string): string | undefined {
  for (const [key, value] of Object.entries(obj)) {
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    if (!field) {
      const near = closest(key, desc.fields.map((f) => f.name));
      return `unknown field "${path}${key}"${near ? ` (did you mean "${near}"?)` : ""}`;
    }
    if (value === null || typeof value !== "object") continue;
    if (field.fieldKind === "message" && !OPAQUE.test(field.message.typeName) && !Array.isArray(value)) {
      const err = checkKeys(field.message, value as Record<string, unknown>, `${path}${key}.`);
      if (err) return err;
    } else if (field.fieldKind === "list" && field.listKind === "message" && !OPAQUE.test(field.message.typeName) && Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const el: unknown = value[i];
        if (el === null || typeof el !== "object" || Array.isArray(el)) continue;
        const err = checkKeys(field.message, el as Record<string, unknown>, `${path}${key}[${i}].`);
        if (err) return err;
      }
    }
  }
  return undefined;
}

/** The candidate nearest to `word` by edit distance, when it is near enough to be a plausible misspelling. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions, so `nmae` is one edit from `name`). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
