import { describe, expect, it } from "vitest";
import { digestJCS, sha256Hex } from "../../../src/engine/canon.js";
import {
  BrokerError,
  brokerRequestDigest,
  brokerRequestPayload,
  buildBrokerRequest,
  issueBrokerCredential,
  normalizeBrokerRequest,
  stubBroker,
  validateBrokerReceipt,
} from "../../../src/engine/broker.js";
import type { BrokerReceipt, BrokerRequest, CredentialBroker, PolicyRule } from "../../../src/engine/types.js";

const NOW = new Date("2026-03-01T12:00:00Z");
const BINDING = "e".repeat(64);

function request(over: Partial<BrokerRequest> = {}): BrokerRequest {
  return { tool_name: "tool.write", identity: "alice", workspace: "/repo", scope: ["write"], target_binding: BINDING, run_id: "run-1", ...over };
}

function rule(over: Partial<PolicyRule> = {}): PolicyRule {
  return {
    name: "r",
    priority: 0,
    effect: "allow",
    match: {} as PolicyRule["match"],
    reason_codes: [],
    violations: [],
    min_approvals: 0,
    require_distinct_approvers: false,
    require_broker_credential: true,
    broker_scopes: [],
    require_declared_agent: false,
    allowed_agent_ids: [],
    denied_agent_ids: [],
    allowed_agent_manifest_publishers: [],
    allowed_agent_manifest_sources: [],
    required_agent_lifecycle_states: [],
    require_agent_owner: false,
    require_unexpired_agent: false,
    block_standing_credentials: false,
    allowed_credential_sources: [],
    allowed_credential_issuers: [],
    allowed_credential_access_types: [],
    max_credential_ttl_seconds: 0,
    require_jit_credential: false,
    require_context_evidence: false,
    max_context_age_seconds: 0,
    ...over,
  };
}

describe("request building and digest", () => {
  it("digests Gait's Go-shaped request (exported field names, all present)", () => {
    const r = request({ tool_name: " Tool.Write ", scope: ["Write", "write", " read"] });
    expect(brokerRequestPayload(r)).toEqual({
      ToolName: "tool.write",
      Identity: "alice",
      Workspace: "/repo",
      SessionID: "",
      RequestID: "",
      RunID: "run-1",
      JobID: "",
      Reference: "",
      Scope: ["write", "read"],
      TargetBinding: BINDING,
    });
    expect(brokerRequestDigest(r)).toBe(
      sha256Hex(
        `{"Identity":"alice","JobID":"","Reference":"","RequestID":"","RunID":"run-1","Scope":["write","read"],"SessionID":"","TargetBinding":"${BINDING}","ToolName":"tool.write","Workspace":"/repo"}`,
      ),
    );
  });
  it("rejects empty tool name or identity", () => {
    expect(() => normalizeBrokerRequest(request({ tool_name: " " }))).toThrow(BrokerError);
    expect(() => normalizeBrokerRequest(request({ identity: "" }))).toThrow("identity is required");
  });
  it("CLI reference overrides the rule's; scopes are merged, sorted, lowercased", () => {
    const r = buildBrokerRequest({
      tool_name: "tool.write",
      identity: "alice",
      workspace: "/repo",
      ruleReference: "rule-ref",
      referenceOverride: "cli-ref",
      ruleScopes: ["write", "deploy"],
      extraScopes: ["Admin", "write"],
      target_binding: BINDING,
    });
    expect(r.reference).toBe("cli-ref");
    expect(r.scope).toEqual(["admin", "deploy", "write"]);
    expect(buildBrokerRequest({ tool_name: "t", identity: "i", workspace: "", ruleReference: "rule-ref", target_binding: "" }).reference).toBe("rule-ref");
  });
});

describe("stub broker", () => {
  it("is deterministic: stub:<sha256(tool|identity|workspace|session|request|reference|scope)[:12]>, jit, 300 s", async () => {
    const r = normalizeBrokerRequest(request({ reference: "ref", session_id: "s1" }));
    const { receipt, requestDigest } = await issueBrokerCredential(stubBroker, r, NOW);
    expect(receipt.credential_ref).toBe(`stub:${sha256Hex("tool.write|alice|/repo|s1||ref|write").slice(0, 24)}`);
    expect(receipt).toMatchObject({ issued_by: "stub", source: "stub", access_type: "jit", ttl_seconds: 300, request_digest: requestDigest, target_binding: BINDING, run_binding: "run-1", scopes: ["write"] });
    // Gait's stub also names itself as issuer, echoes the identity as subject/owner and stamps a 5-minute lifetime
    expect(receipt).toMatchObject({ issuer: "stub", subject: "alice", owner: "alice", issued_at: "2026-03-01T12:00:00Z", expires_at: "2026-03-01T12:05:00Z" });
    expect(validateBrokerReceipt(rule({ allowed_credential_issuers: ["stub"], allowed_credential_sources: ["stub"], allowed_credential_access_types: ["jit"] }), r, receipt, {}).reasons).toEqual([]);
    expect(validateBrokerReceipt(rule({ allowed_credential_issuers: ["vault"] }), r, receipt, {}).reasons).toEqual(["credential_issuer_disallowed"]);
    expect((await issueBrokerCredential(stubBroker, r, NOW)).receipt.credential_ref).toBe(receipt.credential_ref);
    expect(validateBrokerReceipt(rule({ require_jit_credential: true, max_credential_ttl_seconds: 600 }), r, receipt, { targetBinding: BINDING, runBinding: "run-1" })).toEqual({
      reasons: [],
      violations: [],
    });
  });
});

describe("issueBrokerCredential normalization", () => {
  const fake = (receipt: Partial<BrokerReceipt> | null, name = "fake"): CredentialBroker => ({ name, issue: async () => receipt as BrokerReceipt });

  it("fills issued_by/source/request_digest, lowercases, derives ttl from issued/expires", async () => {
    const { receipt, requestDigest } = await issueBrokerCredential(
      fake({ credential_ref: " ref:1 ", source: " Vault ", access_type: "JIT", issued_at: "2026-03-01T12:00:00Z", expires_at: "2026-03-01T12:10:00Z" }),
      request(),
      NOW,
    );
    expect(receipt).toMatchObject({ credential_ref: "ref:1", issued_by: "fake", source: "vault", access_type: "jit", request_digest: requestDigest, ttl_seconds: 600 });
  });
  it("derives expires_at from ttl and issued_at; issued_at defaults to now when only expires_at is given", async () => {
    const a = (await issueBrokerCredential(fake({ credential_ref: "r", issued_at: "2026-03-01T11:00:00Z", ttl_seconds: 60 }), request(), NOW)).receipt;
    expect(a.expires_at).toBe("2026-03-01T11:01:00Z");
    const b = (await issueBrokerCredential(fake({ credential_ref: "r", expires_at: "2026-03-01T12:05:00Z" }), request(), NOW)).receipt;
    expect(b).toMatchObject({ issued_at: "2026-03-01T12:00:00Z", ttl_seconds: 300 });
  });
  it("fills a missing request_digest (Gait credential.Issue), so broker_request_digest_missing cannot reach the pipeline", async () => {
    for (const given of [undefined, "", "  "]) {
      const { receipt, requestDigest } = await issueBrokerCredential(fake({ credential_ref: "ref:1", request_digest: given as string }), request(), NOW);
      expect(receipt.request_digest).toBe(requestDigest);
      expect(validateBrokerReceipt(rule(), normalizeBrokerRequest(request()), receipt, {}).reasons).not.toContain("broker_request_digest_missing");
    }
    // a digest the broker did set is kept (lowercased) and checked, never overwritten
    const upper = brokerRequestDigest(request()).toUpperCase();
    expect((await issueBrokerCredential(fake({ credential_ref: "ref:1", request_digest: upper }), request(), NOW)).receipt.request_digest).toBe(upper.toLowerCase());
    const wrong = (await issueBrokerCredential(fake({ credential_ref: "ref:1", scopes: ["write"], request_digest: "a".repeat(64) }), request(), NOW)).receipt;
    expect(validateBrokerReceipt(rule(), normalizeBrokerRequest(request()), wrong, {}).reasons).toEqual(["broker_request_digest_mismatch"]);
  });
  it("empty credential_ref or no receipt is an error; broker errors propagate", async () => {
    await expect(issueBrokerCredential(fake({ credential_ref: "  " }), request(), NOW)).rejects.toThrow(BrokerError);
    await expect(issueBrokerCredential(fake(null), request(), NOW)).rejects.toThrow("returned no receipt");
    const boom: CredentialBroker = { name: "x", issue: async () => Promise.reject(new Error("boom")) };
    await expect(issueBrokerCredential(boom, request(), NOW)).rejects.toThrow("boom");
  });
});

describe("validateBrokerReceipt", () => {
  const r = normalizeBrokerRequest(request({ job_id: "job-1" }));
  const digest = brokerRequestDigest(r);
  const good: BrokerReceipt = {
    credential_ref: "ref:1",
    source: "vault",
    access_type: "jit",
    issuer: "vault.example",
    scopes: ["write", "extra"],
    ttl_seconds: 300,
    request_digest: digest,
    target_binding: BINDING,
    run_binding: "run-1",
    job_binding: "job-1",
  };
  const binding = { expectedCredentialRef: "ref:1", targetBinding: BINDING, runBinding: "run-1", jobBinding: "job-1" };
  const strict = rule({
    max_credential_ttl_seconds: 600,
    require_jit_credential: true,
    block_standing_credentials: true,
    allowed_credential_sources: ["vault"],
    allowed_credential_issuers: ["vault.example"],
    allowed_credential_access_types: ["jit"],
  });

  it("passes a matching receipt", () => {
    expect(validateBrokerReceipt(strict, r, good, binding)).toEqual({ reasons: [], violations: [] });
  });
  it.each([
    ["broker_request_digest_missing", { request_digest: "" }],
    ["broker_request_digest_mismatch", { request_digest: "f".repeat(64) }],
    ["broker_scope_mismatch", { scopes: ["read"] }],
    ["broker_ttl_exceeded", { ttl_seconds: 601 }],
    ["broker_ttl_exceeded", { ttl_seconds: 0 }],
    ["credential_issuer_disallowed", { issuer: "other" }],
    ["credential_source_disallowed", { source: "env" }],
    ["broker_credential_ref_mismatch", { credential_ref: "ref:2" }],
    ["broker_target_binding_mismatch", { target_binding: "0".repeat(64) }],
    ["broker_run_binding_mismatch", { run_binding: "run-2" }],
    ["broker_job_binding_mismatch", { job_binding: undefined }],
  ])("%s", (code, patch) => {
    const out = validateBrokerReceipt(strict, r, { ...good, ...patch } as BrokerReceipt, binding);
    expect(out.reasons).toEqual([code]);
    expect(out.violations).toEqual([code]);
  });
  it("standing access types: not jit, disallowed type and standing all reported", () => {
    const out = validateBrokerReceipt(strict, r, { ...good, access_type: "static" }, binding);
    expect(out.reasons).toEqual(["credential_access_type_disallowed", "credential_not_jit", "standing_credential_disallowed"]);
  });
  it("an empty access type is standing for block_standing_credentials", () => {
    const out = validateBrokerReceipt(rule({ block_standing_credentials: true }), r, { ...good, access_type: undefined }, binding);
    expect(out.reasons).toEqual(["standing_credential_disallowed"]);
  });
  it("bindings the intent does not set are not checked", () => {
    const loose = { ...good, run_binding: undefined, job_binding: undefined, credential_ref: "other" };
    expect(validateBrokerReceipt(rule(), r, loose, { targetBinding: BINDING }).reasons).toEqual([]);
  });
  it("the request digest is recomputed from the request, not trusted", () => {
    expect(digestJCS(brokerRequestPayload(r))).toBe(digest);
    const other = normalizeBrokerRequest(request({ job_id: "job-1", identity: "mallory" }));
    expect(validateBrokerReceipt(rule(), other, good, {}).reasons).toEqual(["broker_request_digest_mismatch"]);
  });
});
