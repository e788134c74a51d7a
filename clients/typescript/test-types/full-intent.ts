/**
 * Every field of a typed intent, at every level, set once. Two tests use it:
 *   - the type check (test/integration/clients-ts-types.test.ts) compiles it, so the object has exactly the fields
 *     of the `Intent` types (DeepRequired: none missing; object literal: none extra);
 *   - the same test imports it and compares its keys with the generated descriptor of gait.gate.v1.IntentRequest,
 *     so the types cannot drift from the proto (and thus from gate.md §2) without a test failing.
 */
import type { Intent } from "@gait-gate/client";

type DeepRequired<T> = T extends readonly (infer U)[]
  ? readonly DeepRequired<U>[]
  : T extends Date
    ? T
    : T extends object
      ? { [K in keyof T]-?: DeepRequired<T[K]> }
      : T;

const T0 = "2026-01-02T03:04:05Z";
const target = {
  kind: "path",
  value: "/workspace/a.txt",
  operation: "read",
  sensitivity: "internal",
  endpoint_class: "fs.read",
  endpoint_domain: "",
  discovery_method: "mcp",
  destructive: false,
  read_only_hint: true,
  destructive_hint: false,
  idempotent_hint: true,
  open_world_hint: false,
} as const;
const provenance = { arg_path: "path", source: "user", source_ref: "msg-1", integrity_digest: "a".repeat(64) } as const;

export const FULL_INTENT: DeepRequired<Intent> = {
  tool_name: "tool.read",
  args: { path: "/workspace/a.txt" },
  targets: [target],
  arg_provenance: [provenance],
  skill_provenance: { skill_name: "reader", skill_version: "1.0.0", source: "registry", publisher: "acme", digest: "b".repeat(64), signature_key_id: "k1" },
  delegation: {
    requester_identity: "alice",
    scope_class: "read",
    token_refs: ["tok-1"],
    chain: [{ delegator_identity: "alice", delegate_identity: "agent", scope_class: "read", token_ref: "tok-1", issued_at: T0, expires_at: T0 }],
    issued_at: T0,
    expires_at: T0,
  },
  context: {
    identity: "alice",
    workspace: "/workspace",
    risk_class: "low",
    phase: "apply",
    agent_id: "agent-1",
    agent_identity: { lifecycle_states: ["approved"], owner: "team", manifest_digest: "c".repeat(64), publisher: "acme", source: "registry", issued_at: T0, approved_at: T0, expires_at: T0, revoked: false },
    run_id: "run-1",
    workflow_id: "wf-1",
    repo: "acme/repo",
    environment: "dev",
    job_id: "job-1",
    session_id: "sess-1",
    request_id: "req-1",
    credential_ref: "cred-1",
    credential_source: "env",
    credential_access_type: "jit",
    credential_issuer: "issuer",
    credential_subject: "subject",
    credential_owner: "owner",
    credential_target_binding: "target",
    credential_run_binding: "run",
    credential_job_binding: "job",
    credential_ttl_seconds: 60,
    credential_scopes: ["read"],
    approval_ref: "appr-1",
    wrkr_inventory_ref: "inv-1",
    agent_action_bom_ref: "bom-1",
    auth_context: { "wrkr.tool_name": "reader" },
    sandbox: {
      network_mode: "disabled",
      writable_paths: ["/workspace/out"],
      read_only_roots: ["/workspace"],
      env_exposure_mode: "none",
      timeout_seconds: 30,
      filesystem_isolation: "workspace",
      user_mode: "unprivileged",
      evidence_ref: "ref:sandbox-1",
      evidence_digest: "d".repeat(64),
    },
    environment_fingerprint: "fp-1",
    context_set_digest: "e".repeat(64),
    context_evidence_mode: "best_effort",
    context_refs: ["ctx-1"],
  },
  script: { steps: [{ tool_name: "tool.read", args: { path: "/workspace/a.txt" }, targets: [target], arg_provenance: [provenance] }] },
  created_at: T0,
  producer_version: "test",
  relationship: { parent: "run-0" },
  schema_id: "gait.gate.intent_request",
  schema_version: "1.0.0",
};
