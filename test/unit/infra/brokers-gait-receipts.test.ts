/**
 * Receipt shapes of Gait's newest brokers: EnvBroker.Issue (companion `<VAR>_*` variables) and
 * CommandBroker.Issue (plain receipts filled from the request, provider receipts via NormalizeProviderReceipt).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../../src/engine/canon.js";
import { BrokerError, issueBrokerCredential, normalizeBrokerRequest, validateBrokerReceipt } from "../../../src/engine/broker.js";
import { evaluateGate } from "../../../src/engine/gate.js";
import { parsePolicy } from "../../../src/engine/policy.js";
import { createCommandBroker, createEnvBroker, parseCommandReceipt } from "../../../src/infra/brokers.js";
import type { BrokerRequest, PolicyRule } from "../../../src/engine/types.js";

const NOW = new Date("2026-03-01T12:00:00Z");
const TARGET = "e".repeat(64);
const req = (over: Partial<BrokerRequest> = {}): BrokerRequest =>
  normalizeBrokerRequest({ tool_name: "tool.write", identity: "alice", workspace: "/repo", scope: ["write"], target_binding: TARGET, run_id: "run-1", job_id: "job-1", ...over });

/** A rule as the policy parser produces it, with the broker posture fields overridable. */
const rule = (over: Partial<PolicyRule> = {}): PolicyRule =>
  ({
    max_credential_ttl_seconds: 0,
    require_jit_credential: false,
    block_standing_credentials: false,
    allowed_credential_sources: [],
    allowed_credential_issuers: [],
    allowed_credential_access_types: [],
    ...over,
  }) as unknown as PolicyRule;
const binding = (r: BrokerRequest) => ({ targetBinding: r.target_binding, runBinding: r.run_id, jobBinding: r.job_id });

const SECRET = "s3cr3t-value-never-logged";
const VAR = "GAIT_BROKER_TOKEN_DEPLOY";

describe("env broker receipt (Gait EnvBroker.Issue)", () => {
  it("defaults: issuer/source env, access type unknown, subject/owner = identity, request scope and bindings echoed", async () => {
    const r = req({ reference: "deploy", scope: ["write", "read"] });
    const { receipt, requestDigest } = await issueBrokerCredential(createEnvBroker({ env: { [VAR]: SECRET } }), r, NOW);
    expect(receipt).toMatchObject({
      issued_by: "env",
      source: "env",
      access_type: "unknown",
      issuer: "env",
      subject: "alice",
      owner: "alice",
      scopes: ["write", "read"],
      target_binding: TARGET,
      run_binding: "run-1",
      job_binding: "job-1",
      request_digest: requestDigest,
    });
    expect(JSON.stringify(receipt)).not.toContain(SECRET);
    // the echoed scope and bindings pass the binding checks; the default posture is refused where a rule asks for more
    expect(validateBrokerReceipt(rule(), r, receipt, binding(r)).reasons).toEqual([]);
    expect(validateBrokerReceipt(rule({ require_jit_credential: true }), r, receipt, binding(r)).reasons).toEqual(["credential_not_jit"]);
    expect(validateBrokerReceipt(rule({ block_standing_credentials: true }), r, receipt, binding(r)).reasons).toEqual(["standing_credential_disallowed"]);
  });

  it("companion variables describe the credential, so require_jit_credential can be satisfied", async () => {
    const env = {
      [VAR]: SECRET,
      [`${VAR}_SOURCE`]: " Vault_Dynamic ",
      [`${VAR}_ACCESS_TYPE`]: "JIT",
      [`${VAR}_ISSUER`]: " https://vault.example ",
      [`${VAR}_SUBJECT`]: "svc-deploy",
      [`${VAR}_OWNER`]: "team-infra",
      [`${VAR}_SCOPE`]: "Write, read,,write",
      [`${VAR}_ISSUED_AT`]: "2026-03-01T11:59:00Z",
      [`${VAR}_EXPIRES_AT`]: "2026-03-01T12:04:00Z",
    };
    const r = req({ reference: "deploy" });
    const { receipt } = await issueBrokerCredential(createEnvBroker({ env }), r, NOW);
    expect(receipt).toMatchObject({
      source: "vault_dynamic",
      access_type: "jit",
      issuer: "https://vault.example",
      subject: "svc-deploy",
      owner: "team-infra",
      scopes: ["write", "read"],
      issued_at: "2026-03-01T11:59:00Z",
      expires_at: "2026-03-01T12:04:00Z",
      ttl_seconds: 300, // derived from the two timestamps by the engine, as Gait's credential.Issue does
    });
    const strict = rule({
      require_jit_credential: true,
      block_standing_credentials: true,
      max_credential_ttl_seconds: 600,
      allowed_credential_sources: ["vault_dynamic"],
      allowed_credential_issuers: ["https://vault.example"],
      allowed_credential_access_types: ["jit"],
    });
    expect(validateBrokerReceipt(strict, r, receipt, binding(r)).reasons).toEqual([]);
  });

  it("binding overrides replace the request's, and a wrong one fails the gate's binding check", async () => {
    const env = { [VAR]: SECRET, [`${VAR}_TARGET_BINDING`]: "f".repeat(64), [`${VAR}_RUN_BINDING`]: "run-9", [`${VAR}_JOB_BINDING`]: "job-9" };
    const r = req({ reference: "deploy" });
    const { receipt } = await issueBrokerCredential(createEnvBroker({ env }), r, NOW);
    expect(receipt).toMatchObject({ target_binding: "f".repeat(64), run_binding: "run-9", job_binding: "job-9" });
    expect(validateBrokerReceipt(rule(), r, receipt, binding(r)).reasons).toEqual([
      "broker_job_binding_mismatch",
      "broker_run_binding_mismatch",
      "broker_target_binding_mismatch",
    ]);
  });

  it("a _SCOPE narrower than the request fails broker_scope_mismatch", async () => {
    const r = req({ reference: "deploy", scope: ["write", "admin"] });
    const { receipt } = await issueBrokerCredential(createEnvBroker({ env: { [VAR]: SECRET, [`${VAR}_SCOPE`]: "write" } }), r, NOW);
    expect(receipt.scopes).toEqual(["write"]);
    expect(validateBrokerReceipt(rule(), r, receipt, binding(r)).reasons).toEqual(["broker_scope_mismatch"]);
  });

  it("blank overrides mean the default; unparseable lifetimes are ignored; TTL parses like Go's ParseInt", async () => {
    const env = {
      [VAR]: SECRET,
      [`${VAR}_ACCESS_TYPE`]: "   ",
      [`${VAR}_ISSUER`]: "",
      [`${VAR}_ISSUED_AT`]: "yesterday",
      [`${VAR}_EXPIRES_AT`]: "2026-13-01T00:00:00Z",
      [`${VAR}_TTL_SECONDS`]: "+90",
    };
    const raw = await createEnvBroker({ env }).issue(req({ reference: "deploy" }), "d");
    expect(raw).toMatchObject({ access_type: "unknown", issuer: "env", ttl_seconds: 90 });
    expect(raw).not.toHaveProperty("issued_at");
    expect(raw).not.toHaveProperty("expires_at");
    for (const bad of ["-5", "0", "1.5", "1e3", "12abc", "99999999999999999999"]) {
      const r2 = await createEnvBroker({ env: { [VAR]: SECRET, [`${VAR}_TTL_SECONDS`]: bad } }).issue(req({ reference: "deploy" }), "d");
      expect(r2, bad).not.toHaveProperty("ttl_seconds");
    }
  });

  it("without request scope or run/job ids the receipt carries none", async () => {
    const raw = await createEnvBroker({ env: { [VAR]: SECRET } }).issue(req({ reference: "deploy", scope: [], run_id: undefined, job_id: undefined }), "d");
    for (const k of ["scopes", "run_binding", "job_binding"]) expect(raw).not.toHaveProperty(k);
    expect(raw.target_binding).toBe(TARGET);
  });

  it("the error for a missing credential names the variable, never a value", async () => {
    const env = { [`${VAR}_ACCESS_TYPE`]: "jit", OTHER: SECRET };
    const err = await createEnvBroker({ env }).issue(req({ reference: "deploy" }), "d").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect((err as Error).message).toContain(VAR);
    expect((err as Error).message).not.toContain(SECRET);
  });

  it("through the full gate: require_jit_credential blocks the default env credential and allows a declared jit one", async () => {
    const policy = parsePolicy(
      "default_verdict: block\nrules:\n  - name: brokered\n    effect: allow\n    require_broker_credential: true\n    require_jit_credential: true\n    broker_reference: deploy\n",
    );
    // the intent's own credential posture (gate.md 4.9) must pass first, so the broker stage is what decides
    const credentialRef = `env:${VAR}:${sha256Hex(SECRET).slice(0, 16)}`;
    const intent = {
      tool_name: "tool.deploy",
      args: {},
      targets: [],
      context: { identity: "alice", workspace: "/repo", risk_class: "low", credential_ref: credentialRef, credential_source: "env", credential_access_type: "jit" },
    };
    const standing = await evaluateGate(policy, intent, { now: NOW, broker: createEnvBroker({ env: { [VAR]: SECRET } }) });
    expect(standing.verdict).toBe("block");
    expect(standing.reason_codes).toEqual(["credential_not_jit", "matched_rule_brokered"]);
    const jit = await evaluateGate(policy, intent, { now: NOW, broker: createEnvBroker({ env: { [VAR]: SECRET, [`${VAR}_ACCESS_TYPE`]: "jit" } }) });
    expect(jit.verdict).toBe("allow");
    expect(jit.reason_codes).toEqual(["broker_credential_present", "matched_rule_brokered"]);
    expect(jit.broker?.receipt.credential_ref).toBe(credentialRef);
    expect(JSON.stringify(jit)).not.toContain(SECRET);
  });
});

describe("command broker plain receipt (Gait CommandBroker.Issue legacy path)", () => {
  it("fills omitted scope and bindings from the request, so a ref-only receipt passes the binding checks", async () => {
    const r = req();
    const parsed = parseCommandReceipt(`{"credential_ref":"cmd:1"}`, r);
    expect(parsed).toEqual({ credential_ref: "cmd:1", issued_by: "command", scopes: ["write"], target_binding: TARGET, run_binding: "run-1", job_binding: "job-1" });
    expect(validateBrokerReceipt(rule(), r, { ...parsed, request_digest: "x" }, binding(r)).reasons).toEqual(["broker_request_digest_mismatch"]);
  });

  it("keeps what the receipt states, so a differing binding or narrower scope still fails", async () => {
    const r = req({ scope: ["write", "admin"] });
    const parsed = parseCommandReceipt(JSON.stringify({ credential_ref: "cmd:1", scope: ["write"], target_binding: "f".repeat(64), run_binding: "run-2" }), r);
    expect(parsed).toMatchObject({ scopes: ["write"], target_binding: "f".repeat(64), run_binding: "run-2", job_binding: "job-1" });
    const { receipt, request } = await issueBrokerCredential({ name: "command", issue: async () => parsed }, r, NOW);
    expect(validateBrokerReceipt(rule(), request, receipt, binding(request)).reasons).toEqual([
      "broker_run_binding_mismatch",
      "broker_scope_mismatch",
      "broker_target_binding_mismatch",
    ]);
  });

  it("a whitespace-only binding is not filled (Gait fills only empty values) and trims to a mismatch", async () => {
    const r = req();
    const parsed = parseCommandReceipt(`{"credential_ref":"cmd:1","target_binding":"  "}`, r);
    const { receipt, request } = await issueBrokerCredential({ name: "command", issue: async () => parsed }, r, NOW);
    expect(receipt.target_binding).toBeUndefined();
    expect(validateBrokerReceipt(rule(), request, receipt, binding(request)).reasons).toEqual(["broker_target_binding_mismatch"]);
  });

  it("a plain receipt gets no jit default: access type stays unset and require_jit_credential refuses it", async () => {
    const r = req();
    const { receipt, request } = await issueBrokerCredential({ name: "command", issue: async () => parseCommandReceipt(`{"credential_ref":"cmd:1"}`, r) }, r, NOW);
    expect(receipt.access_type).toBeUndefined();
    expect(receipt.source).toBe("command");
    expect(validateBrokerReceipt(rule({ require_jit_credential: true, block_standing_credentials: true }), request, receipt, binding(request)).reasons).toEqual([
      "credential_not_jit",
      "standing_credential_disallowed",
    ]);
  });

  it("an unknown provider name is read as a plain receipt (Gait falls back on errUnsupportedProviderReceipt)", () => {
    const parsed = parseCommandReceipt(`{"provider":"acme","credential_ref":"cmd:1","issuer":"acme"}`, req());
    expect(parsed).toMatchObject({ issued_by: "command", issuer: "acme" });
    expect(parsed).not.toHaveProperty("access_type");
  });
});

describe("command broker provider receipt (Gait NormalizeProviderReceipt)", () => {
  it("aws: derives the ref, defaults jit / provider issuer / identity, fills scope and bindings", async () => {
    const r = req();
    const stdout = JSON.stringify({ provider: "AWS", assumed_role_arn: "arn:aws:iam::1:role/deploy", issued_at: "2026-03-01T12:00:00Z", expires_at: "2026-03-01T12:15:00Z" });
    const parsed = parseCommandReceipt(stdout, r);
    expect(parsed).toEqual({
      issued_by: "aws_sts",
      credential_ref: "aws_sts:arn:aws:iam::1:role/deploy",
      source: "aws_sts",
      access_type: "jit",
      issuer: "sts.amazonaws.com",
      subject: "alice",
      owner: "alice",
      scopes: ["write"],
      target_binding: TARGET,
      run_binding: "run-1",
      job_binding: "job-1",
      issued_at: "2026-03-01T12:00:00Z",
      expires_at: "2026-03-01T12:15:00Z",
    });
    const { receipt, request } = await issueBrokerCredential({ name: "command", issue: async () => parsed }, r, NOW);
    expect(receipt.ttl_seconds).toBe(900);
    const strict = rule({ require_jit_credential: true, block_standing_credentials: true, max_credential_ttl_seconds: 900, allowed_credential_issuers: ["sts.amazonaws.com"] });
    expect(validateBrokerReceipt(strict, request, receipt, binding(request)).reasons).toEqual([]);
  });

  it.each([
    [{ provider: "github", repository: "org/repo", workflow_ref: "deploy.yml@main" }, "github_oidc:org/repo:deploy.yml@main", "token.actions.githubusercontent.com"],
    [{ provider: "oidc", repository: "org/repo" }, "github_oidc:org/repo", "token.actions.githubusercontent.com"],
    [{ provider: "vault", lease_id: "database/creds/ro/abc" }, "vault_dynamic:database/creds/ro/abc", "vault"],
    [{ provider: "gcp", workload_identity_provider: "projects/1/pools/p" }, "gcp_sts:projects/1/pools/p", "sts.googleapis.com"],
    [{ provider: "azure_federated", service_principal_id: "sp-1", federated_credential_id: "fc-1" }, "azure_federated:sp-1:fc-1", "login.microsoftonline.com"],
    [{ provider: "cyberark", broker_session_id: "sess-1" }, "okta_cyberark:sess-1", "okta-cyberark"],
    [{ provider: "command", credential_ref: "cmd:x" }, "cmd:x", "command"],
  ])("%j => %s", (doc, ref, issuer) => {
    expect(parseCommandReceipt(JSON.stringify(doc), req())).toMatchObject({ credential_ref: ref, issuer, access_type: "jit" });
  });

  it("stated values win over the defaults (and are normalized)", () => {
    const parsed = parseCommandReceipt(
      JSON.stringify({ provider: "vault", credential_ref: " ref:db ", source: " Vault_Dynamic ", access_type: "STANDING", issuer: " vault.corp ", subject: "svc", owner: "ops", scope: [" Write ", "write", "READ"], target_binding: "t", run_binding: "r", job_binding: "j", ttl_seconds: 60 }),
      req(),
    );
    expect(parsed).toMatchObject({ credential_ref: "ref:db", source: "vault_dynamic", access_type: "standing", issuer: "vault.corp", subject: "svc", owner: "ops", scopes: ["write", "read"], target_binding: "t", run_binding: "r", job_binding: "j", ttl_seconds: 60 });
  });

  it.each([
    [{ provider: "aws" }, "requires assumed_role_arn or session_arn"],
    [{ provider: "github" }, "requires repository"],
    [{ provider: "vault" }, "requires lease_id"],
    [{ provider: "gcp" }, "requires principal or workload_identity_provider"],
    [{ provider: "azure" }, "requires service_principal_id"],
    [{ provider: "okta" }, "requires broker_session_id"],
    [{ provider: "file" }, "file provider receipt requires credential_ref"],
    [{ provider: "command" }, "command provider receipt requires credential_ref"],
    [{ provider: "github", credential_ref: "ghp_abcdefghijklmnop" }, "credential_ref must not contain raw credential material"],
    [{ provider: "aws", session_arn: "ASIAXXXXXXXX" }, "session_arn must not contain raw credential material"],
    [{ provider: "vault", lease_id: "sk-live-123" }, "lease_id must not contain raw credential material"],
    [{ provider: "aws", credential_ref: "ref:x", issued_at: "now" }, "issued_at must be RFC 3339"],
    [{ provider: "aws", credential_ref: "x".repeat(300) }, "too long"],
    [{ provider: "aws", credential_ref: "a\nb" }, "invalid whitespace"],
    [{ provider: "aws", assumed_role_arn: 7 }, "assumed_role_arn must be a string"],
  ])("%j is refused: %s", (doc, msg) => {
    expect(() => parseCommandReceipt(JSON.stringify(doc), req())).toThrow(BrokerError);
    expect(() => parseCommandReceipt(JSON.stringify(doc), req())).toThrow(msg);
  });

  it("a reference-scheme prefix marks a value as a reference, not a secret", () => {
    expect(parseCommandReceipt(JSON.stringify({ provider: "github", credential_ref: "github_oidc:ghp_repo" }), req()).credential_ref).toBe("github_oidc:ghp_repo");
  });

  it("a __proto__ provider is not a provider", () => {
    expect(parseCommandReceipt(`{"provider":"__proto__","credential_ref":"cmd:1"}`, req())).toMatchObject({ issued_by: "command" });
  });
});

describe("command broker end to end", () => {
  const dir = mkdtempSync(join(tmpdir(), "gait-brokers-gait-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it("a legacy ref-only command satisfies the bindings; a provider receipt satisfies require_jit_credential", async () => {
    const write = (name: string, out: string) => {
      const p = join(dir, name);
      writeFileSync(p, `#!${process.execPath}\nprocess.stdout.write(${JSON.stringify(out)})\n`);
      chmodSync(p, 0o755);
      return p;
    };
    const r = req();
    const legacy = await issueBrokerCredential(createCommandBroker({ command: write("legacy", `{"credential_ref":"cmd:legacy"}`) }), r, NOW);
    expect(validateBrokerReceipt(rule(), legacy.request, legacy.receipt, binding(legacy.request)).reasons).toEqual([]);
    const provider = await issueBrokerCredential(createCommandBroker({ command: write("provider", `{"provider":"vault","lease_id":"db/creds/1","ttl_seconds":120}`) }), r, NOW);
    expect(provider.receipt).toMatchObject({ credential_ref: "vault_dynamic:db/creds/1", access_type: "jit", issuer: "vault", ttl_seconds: 120 });
    expect(validateBrokerReceipt(rule({ require_jit_credential: true, max_credential_ttl_seconds: 300 }), provider.request, provider.receipt, binding(provider.request)).reasons).toEqual([]);
  });
});
