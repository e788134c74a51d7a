import { describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { mintApprovalToken } from "../../../src/engine/approval.js";
import { mintDelegationToken } from "../../../src/engine/delegation.js";
import { GateConfigError, applySimulate, checkProfile, evaluateGate, verdictExitCode } from "../../../src/engine/gate.js";
import { delegationDigest, targetsDigest } from "../../../src/engine/intent.js";
import { parsePolicy } from "../../../src/engine/policy.js";
import { BrokerError, stubBroker, brokerRequestDigest } from "../../../src/engine/broker.js";
import { MemoryCounterStore } from "../../../src/state/counters-memory.js";
import type { BrokerReceipt, CounterStore, CredentialBroker, GateOptions, GateResult, Policy } from "../../../src/engine/types.js";

const NOW = new Date("2026-03-01T12:00:30Z");
const approver = Ed25519KeyPair.generate();
const delegator = Ed25519KeyPair.generate();
const HOUR = 3_600_000;

function policy(rules: string, head = "default_verdict: block"): Policy {
  return parsePolicy(`schema_id: gait.gate.policy\nschema_version: 1.0.0\n${head}\nrules:\n${rules}`);
}

function rawIntent(over: Record<string, unknown> = {}, ctx: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tool_name: "tool.write",
    args: { path: "/repo/a.txt" },
    targets: [{ kind: "path", value: "/repo/a.txt", operation: "write", endpoint_class: "fs.write" }],
    context: { identity: "alice", workspace: "/repo", risk_class: "low", ...ctx },
    ...over,
  };
}
const destructiveIntent = (ctx: Record<string, unknown> = {}) =>
  rawIntent({ targets: [{ kind: "path", value: "/repo/a.txt", operation: "delete", endpoint_class: "fs.delete", destructive: true }] }, ctx);

const opts = (over: Partial<GateOptions> = {}): GateOptions => ({ now: NOW, approvalVerifier: approver.verifier(), ...over });

const ALLOW = `  - name: allow-write\n    effect: allow\n    match:\n      tool_names: [tool.write]\n`;
const APPROVE = `  - name: approve-write\n    effect: require_approval\n    match:\n      tool_names: [tool.write]\n`;

function approve(result: GateResult, over: Partial<Parameters<typeof mintApprovalToken>[0]> = {}, now = NOW) {
  return mintApprovalToken(
    {
      intentDigest: result.intent_digest,
      policyDigest: result.policy_digest,
      ttlMs: HOUR,
      scope: result.required_approval_scopes ?? ["*"],
      approver: "bob",
      reasonCode: "ok",
      ...over,
    },
    approver,
    now,
  );
}

describe("verdictExitCode", () => {
  it("maps verdicts to Gait exit codes", () => {
    expect([verdictExitCode("block"), verdictExitCode("require_approval"), verdictExitCode("allow"), verdictExitCode("dry_run")]).toEqual([3, 4, 0, 0]);
  });
});

describe("evaluateGate: rule stage passthrough", () => {
  it("allow fills the identity fields of the result", async () => {
    const p = policy(ALLOW);
    const r = await evaluateGate(p, rawIntent(), opts());
    expect(r.verdict).toBe("allow");
    expect(r.reason_codes).toEqual(["matched_rule_allow_write"]);
    expect(r.violations).toEqual([]);
    expect(r.matched_rule).toBe("allow-write");
    expect(r.policy_digest).toBe(p.policy_digest);
    expect(r.intent_digest).toBe(r.intent.intent_digest);
    expect(r.args_digest).toBe(r.intent.args_digest);
    expect(r.tool_name).toBe("tool.write");
    expect(r.created_at).toBe("1980-01-01T00:00:00Z");
    expect(r.phase).toBe("apply");
    expect(r.required_approvals).toBeUndefined();
    expect(r.approval_audit).toBeUndefined();
    expect(r.required_approval_scopes).toBeUndefined();
  });
  it("default block has no rule fields", async () => {
    const r = await evaluateGate(policy(ALLOW), rawIntent({ tool_name: "tool.other" }), opts());
    expect(r).toMatchObject({ verdict: "block", reason_codes: ["default_block"] });
    expect(r.matched_rule).toBeUndefined();
  });
});

describe("evaluateGate: approvals (stage 11)", () => {
  it("require_approval without tokens: approval_token_missing, scopes and audit", async () => {
    const r = await evaluateGate(policy(APPROVE), destructiveIntent(), opts());
    expect(r.verdict).toBe("require_approval");
    expect(r.reason_codes).toContain("approval_token_missing");
    expect(r.violations).toContain("approval_not_granted");
    expect(r.required_approvals).toBe(1);
    expect(r.valid_approvals).toBeUndefined();
    expect(r.required_approval_scopes).toEqual(["destructive:apply", "phase:apply", "tool:tool.write"]);
    expect(r.approval_audit).toEqual({ required_approvals: 1, valid_approvals: 0, approved: false, approvers: [], entries: [] });
  });

  it("a valid token turns require_approval into allow; rule violations survive (Gait QUIRK)", async () => {
    const p = policy(`  - name: approve-write\n    effect: require_approval\n    violations: [approval_required]\n    match:\n      tool_names: [tool.write]\n`);
    const first = await evaluateGate(p, rawIntent(), opts());
    const token = approve(first);
    const r = await evaluateGate(p, rawIntent(), opts({ approvalTokens: [token] }));
    expect(r.verdict).toBe("allow");
    expect(r.reason_codes).toContain("approval_granted");
    expect(r.violations).toEqual(["approval_required"]);
    expect(r.approval_ref).toBe(token.token_id);
    expect(r.valid_approvals).toBe(1);
    expect(r.approval_audit).toMatchObject({ approved: true, approvers: ["bob"] });
    expect(r.required_approval_scopes).toBeUndefined();
    expect(verdictExitCode(r.verdict)).toBe(0);
  });

  it("a token for different args does not match (intent digest binding)", async () => {
    const p = policy(APPROVE);
    const token = approve(await evaluateGate(p, rawIntent(), opts()));
    const r = await evaluateGate(p, rawIntent({ args: { path: "/repo/b.txt" } }), opts({ approvalTokens: [token] }));
    expect(r.verdict).toBe("require_approval");
    expect(r.reason_codes).toEqual(expect.arrayContaining(["approval_token_intent_mismatch", "approval_chain_insufficient"]));
  });

  it("without a verify key every token is signature_invalid (never allow)", async () => {
    const p = policy(APPROVE);
    const token = approve(await evaluateGate(p, rawIntent(), opts()));
    const r = await evaluateGate(p, rawIntent(), { now: NOW, approvalTokens: [token] });
    expect(r.verdict).toBe("require_approval");
    expect(r.reason_codes).toContain("approval_token_signature_invalid");
  });

  it("min_approvals 2 needs two distinct approvers", async () => {
    const p = policy(`  - name: two-man\n    effect: require_approval\n    min_approvals: 2\n    match:\n      tool_names: [tool.write]\n`);
    const first = await evaluateGate(p, rawIntent(), opts());
    expect(first.required_approvals).toBe(2);
    const same = await evaluateGate(p, rawIntent(), opts({ approvalTokens: [approve(first, { reasonCode: "a" }), approve(first, { reasonCode: "b" })] }));
    expect(same.verdict).toBe("require_approval");
    expect(same.reason_codes).toContain("approval_distinct_approvers_required");
    const two = await evaluateGate(p, rawIntent(), opts({ approvalTokens: [approve(first), approve(first, { approver: "carol" })] }));
    expect(two.verdict).toBe("allow");
    expect(two.approval_audit!.approvers).toEqual(["bob", "carol"]);
  });

  it("expired tokens are rejected against the wall clock, not the evaluation time", async () => {
    const p = policy(APPROVE);
    const first = await evaluateGate(p, rawIntent(), opts());
    const token = approve(first, { ttlMs: 1000 }, new Date(NOW.getTime() - 5000));
    const r = await evaluateGate(p, rawIntent(), opts({ approvalTokens: [token], evaluationTime: new Date(NOW.getTime() - 10_000) }));
    expect(r.reason_codes).toContain("approval_token_expired");
    expect(r.verdict).toBe("require_approval");
  });
});

describe("evaluateGate: rate limits (stage 9)", () => {
  const RATE = `  - name: allow-write\n    effect: allow\n    match:\n      tool_names: [tool.write]\n    rate_limit:\n      requests: 2\n      window: minute\n`;

  it("blocks the third call in a minute and reports the counter fields", async () => {
    const p = policy(RATE);
    const counters = new MemoryCounterStore();
    const r1 = await evaluateGate(p, rawIntent(), opts({ counters }));
    expect(r1).toMatchObject({ verdict: "allow", rate_limit_scope: "tool_identity", rate_limit_key: "tool.write|alice", rate_limit_used: 1, rate_limit_remaining: 1 });
    const r2 = await evaluateGate(p, rawIntent(), opts({ counters }));
    expect(r2.rate_limit_remaining).toBeUndefined(); // 0 is omitted like Go omitempty
    const r3 = await evaluateGate(p, rawIntent(), opts({ counters }));
    expect(r3.verdict).toBe("block");
    expect(r3.reason_codes).toContain("rate_limit_exceeded");
    expect(r3.violations).toContain("rate_limit_exceeded");
    expect(r3.rate_limit_used).toBe(2);
    const next = await evaluateGate(p, rawIntent(), opts({ counters, now: new Date("2026-03-01T12:01:00Z") }));
    expect(next.verdict).toBe("allow");
  });

  it("uses the wall clock, not --evaluation-time", async () => {
    const p = policy(RATE);
    const counters = new MemoryCounterStore();
    for (let i = 0; i < 2; i++) await evaluateGate(p, rawIntent(), opts({ counters, evaluationTime: new Date(`2020-01-01T00:0${i}:00Z`) }));
    const r = await evaluateGate(p, rawIntent(), opts({ counters, evaluationTime: new Date("2020-01-01T05:00:00Z") }));
    expect(r.verdict).toBe("block");
  });

  it("skips limits when no counter store is given", async () => {
    const r = await evaluateGate(policy(RATE), rawIntent(), opts());
    expect(r.rate_limit_key).toBeUndefined();
  });

  it("a pending approval consumes a slot; a rate-limited approval is blocked before approvals run", async () => {
    const p = policy(`  - name: approve-write\n    effect: require_approval\n    match:\n      tool_names: [tool.write]\n    rate_limit:\n      requests: 1\n`);
    const counters = new MemoryCounterStore();
    const first = await evaluateGate(p, rawIntent(), opts({ counters }));
    expect(first.verdict).toBe("require_approval");
    const r = await evaluateGate(p, rawIntent(), opts({ counters, approvalTokens: [approve(first)] }));
    expect(r.verdict).toBe("block");
    expect(r.reason_codes).not.toContain("approval_granted");
    expect(r.required_approvals).toBe(1);
    expect(r.approval_audit).toMatchObject({ required_approvals: 1, entries: [] });
  });

  it("destructive budget counts only destructive intents", async () => {
    const p = policy(
      `  - name: allow-write\n    effect: allow\n    match:\n      tool_names: [tool.write]\n    destructive_budget:\n      requests: 1\n      window: hour\n      scope: tool\n`,
    );
    const counters = new MemoryCounterStore();
    const nd = await evaluateGate(p, rawIntent(), opts({ counters }));
    expect(nd.destructive_budget_key).toBeUndefined();
    const d1 = await evaluateGate(p, destructiveIntent(), opts({ counters, approvalTokens: [] }));
    expect(d1.destructive_budget_key).toBe("destructive_budget|tool.write");
    expect(d1.destructive_budget_used).toBe(1);
    const d2 = await evaluateGate(p, destructiveIntent(), opts({ counters }));
    expect(d2.verdict).toBe("block");
    expect(d2.reason_codes).toContain("destructive_budget_exceeded");
    expect(d2.violations).toContain("destructive_budget_exceeded");
  });

  it("a throwing counter store rejects: never a verdict, never allow", async () => {
    const failing: CounterStore = { consume: async () => Promise.reject(new Error("rate limit state lock contention")) };
    await expect(evaluateGate(policy(RATE), rawIntent(), opts({ counters: failing }))).rejects.toThrow("lock contention");
  });
});

describe("evaluateGate: delegation (stage 10)", () => {
  const DELEG = `  - name: delegated-write\n    effect: allow\n    match:\n      tool_names: [tool.write]\n      require_delegation: true\n      delegation_scopes: [write]\n`;
  const withDelegation = () => rawIntent({ delegation: { requester_identity: "alice", scope_class: "write" } });
  const dopts = (over: Partial<GateOptions> = {}) => opts({ delegationVerifier: delegator.verifier(), ...over });

  it("no tokens => block delegation_token_missing", async () => {
    const r = await evaluateGate(policy(DELEG), withDelegation(), dopts());
    expect(r.verdict).toBe("block");
    expect(r.reason_codes).toContain("delegation_token_missing");
    expect(r.violations).toContain("delegation_not_granted");
    expect(r.delegation_required).toBe(true);
    expect(r.delegation_audit).toEqual({ delegation_required: true, valid_delegations: 0, delegated: false, entries: [] });
  });

  it("a valid token grants and keeps the verdict", async () => {
    const t = mintDelegationToken({ delegator: "root", delegate: "alice", scope: ["write"], ttlMs: HOUR }, delegator, NOW);
    const r = await evaluateGate(policy(DELEG), withDelegation(), dopts({ delegationTokens: [t] }));
    expect(r.verdict).toBe("allow");
    expect(r.reason_codes).toContain("delegation_granted");
    expect(r).toMatchObject({ delegation_ref: t.token_id, valid_delegations: 1 });
  });

  it("a wrong-scope token => chain insufficient + per-token code", async () => {
    const t = mintDelegationToken({ delegator: "root", delegate: "alice", scope: ["read"], ttlMs: HOUR }, delegator, NOW);
    const r = await evaluateGate(policy(DELEG), withDelegation(), dopts({ delegationTokens: [t] }));
    expect(r.verdict).toBe("block");
    expect(r.reason_codes).toEqual(expect.arrayContaining(["delegation_chain_insufficient", "delegation_token_scope_mismatch", "delegation_token_missing"]));
  });

  it("an approval for a delegated intent must carry the delegation binding digest", async () => {
    const p = policy(`  - name: approve-write\n    effect: require_approval\n    match:\n      tool_names: [tool.write]\n`);
    const first = await evaluateGate(p, withDelegation(), opts());
    const unbound = approve(first);
    const r1 = await evaluateGate(p, withDelegation(), opts({ approvalTokens: [unbound] }));
    expect(r1.reason_codes).toContain("approval_token_delegation_binding_mismatch");
    const bound = approve(first, { delegationBindingDigest: delegationDigest(first.intent.delegation!) });
    expect((await evaluateGate(p, withDelegation(), opts({ approvalTokens: [bound] }))).verdict).toBe("allow");
  });
});

describe("evaluateGate: broker (stage 12)", () => {
  const BROKER = `  - name: brokered-write\n    effect: allow\n    require_broker_credential: true\n    broker_reference: deploy\n    broker_scopes: [write]\n    match:\n      tool_names: [tool.write]\n`;

  it("no broker configured => block broker_credential_required", async () => {
    const r = await evaluateGate(policy(BROKER), rawIntent(), opts());
    expect(r.verdict).toBe("block");
    expect(r.reason_codes).toContain("broker_credential_required");
    expect(r.violations).toContain("broker_credential_missing");
  });

  it("stub broker => allow with broker_credential_present and the receipt", async () => {
    const r = await evaluateGate(policy(BROKER), rawIntent(), opts({ broker: stubBroker }));
    expect(r.verdict).toBe("allow");
    expect(r.reason_codes).toContain("broker_credential_present");
    expect(r.broker!.receipt.credential_ref).toMatch(/^stub:[0-9a-f]{24}$/);
    expect(r.broker).toMatchObject({ reference: "deploy", scope: ["write"], broker: "stub" });
    expect(r.broker!.receipt.target_binding).toBe(targetsDigest(r.intent.targets));
  });

  it("a throwing broker => block broker_credential_missing (never allow)", async () => {
    const boom: CredentialBroker = { name: "env", issue: async () => Promise.reject(new Error("GAIT_BROKER_TOKEN_DEPLOY unset")) };
    const r = await evaluateGate(policy(BROKER), rawIntent(), opts({ broker: boom }));
    expect(r.verdict).toBe("block");
    expect(r.reason_codes).toContain("broker_credential_missing");
    expect(r.violations).toContain("broker_credential_missing");
    expect(r.broker).toBeUndefined();
    // a foreign error's text could carry a secret: only a generic warning
    expect(r.warnings).toEqual(["credential broker env failed"]);
    const own: CredentialBroker = { name: "env", issue: async () => Promise.reject(new BrokerError("credential unavailable: environment variable X is unset or empty")) };
    const r2 = await evaluateGate(policy(BROKER), rawIntent(), opts({ broker: own }));
    expect(r2.verdict).toBe("block");
    expect(r2.warnings).toEqual(["credential broker env: credential unavailable: environment variable X is unset or empty"]);
  });

  it("receipt checks run against the rule: a standing credential is blocked", async () => {
    const p = policy(`  - name: brokered-write\n    effect: allow\n    require_broker_credential: true\n    require_jit_credential: true\n    match:\n      tool_names: [tool.write]\n`);
    const standing: CredentialBroker = {
      name: "command",
      issue: async (req, digest): Promise<BrokerReceipt> => ({ credential_ref: "ref:x", access_type: "static", request_digest: digest, target_binding: req.target_binding }),
    };
    // the intent's own credential evidence satisfies the rule; the brokered receipt does not
    const evidence = { credential_ref: "ref:x", credential_source: "vault_dynamic", credential_access_type: "jit" };
    const r = await evaluateGate(p, rawIntent({}, evidence), opts({ broker: standing }));
    expect(r.verdict).toBe("block");
    expect(r.reason_codes).toContain("credential_not_jit");
    expect(r.reason_codes).not.toContain("credential_evidence_missing");
    const jit: CredentialBroker = { ...standing, issue: async (req, d) => ({ ...(await standing.issue(req, d)), access_type: "jit" }) };
    expect((await evaluateGate(p, rawIntent({}, evidence), opts({ broker: jit }))).verdict).toBe("allow");
    const otherRef: CredentialBroker = { ...standing, issue: async (req, d) => ({ ...(await jit.issue(req, d)), credential_ref: "ref:y" }) };
    const mism = await evaluateGate(p, rawIntent({}, evidence), opts({ broker: otherRef }));
    expect(mism.reason_codes).toContain("broker_credential_ref_mismatch");
    expect(r.broker!.receipt.access_type).toBe("static");
  });

  it("a receipt bound to another request is blocked", async () => {
    const liar: CredentialBroker = {
      name: "command",
      issue: async (req): Promise<BrokerReceipt> => ({ credential_ref: "ref:x", request_digest: brokerRequestDigest({ ...req, identity: "mallory" }), target_binding: req.target_binding, scopes: req.scope }),
    };
    const r = await evaluateGate(policy(BROKER), rawIntent(), opts({ broker: liar }));
    expect(r.verdict).toBe("block");
    expect(r.reason_codes).toContain("broker_request_digest_mismatch");
  });

  it("an allow produced by an approval also needs the broker", async () => {
    const p = policy(`  - name: approve-brokered\n    effect: require_approval\n    require_broker_credential: true\n    match:\n      tool_names: [tool.write]\n`);
    const first = await evaluateGate(p, rawIntent(), opts());
    const r = await evaluateGate(p, rawIntent(), opts({ approvalTokens: [approve(first)] }));
    expect(r.verdict).toBe("block");
    expect(r.reason_codes).toEqual(expect.arrayContaining(["approval_granted", "broker_credential_required"]));
    const ok = await evaluateGate(p, rawIntent(), opts({ approvalTokens: [approve(first)], broker: stubBroker }));
    expect(ok.verdict).toBe("allow");
  });

  it("require_approval skips the broker", async () => {
    const p = policy(`  - name: approve-brokered\n    effect: require_approval\n    require_broker_credential: true\n    match:\n      tool_names: [tool.write]\n`);
    const r = await evaluateGate(p, rawIntent(), opts());
    expect(r.verdict).toBe("require_approval");
    expect(r.reason_codes).not.toContain("broker_credential_required");
  });
});

describe("evaluateGate: simulate (stage 13)", () => {
  it("rewrites block to allow and records what would have happened", async () => {
    const r = await evaluateGate(policy(ALLOW), rawIntent({ tool_name: "tool.other" }), opts({ simulate: true }));
    expect(r).toMatchObject({
      verdict: "allow",
      violations: [],
      simulate_mode: true,
      would_have_blocked: true,
      simulated_verdict: "block",
      simulated_reason_codes: ["default_block"],
    });
    expect(r.reason_codes).toEqual(["default_block", "simulate_mode_non_enforcing", "simulated_block"]);
  });
  it("require_approval is rewritten too; allow only gets the marker", async () => {
    const ra = await evaluateGate(policy(APPROVE), rawIntent(), opts({ simulate: true }));
    expect(ra.verdict).toBe("allow");
    expect(ra.reason_codes).toContain("simulated_require_approval");
    expect(ra.required_approval_scopes).toEqual(["tool:tool.write"]);
    const al = await evaluateGate(policy(ALLOW), rawIntent(), opts({ simulate: true }));
    expect(al.reason_codes).toEqual(["matched_rule_allow_write", "simulate_mode_non_enforcing"]);
    expect(al.would_have_blocked).toBeUndefined();
  });
  it("applySimulate leaves dry_run alone apart from the marker", () => {
    const r = { verdict: "dry_run", reason_codes: ["x"], violations: ["v"] } as unknown as GateResult;
    applySimulate(r);
    expect(r).toMatchObject({ verdict: "dry_run", violations: ["v"], simulated_verdict: "dry_run", reason_codes: ["simulate_mode_non_enforcing", "x"] });
  });
});

describe("oss-prod profile", () => {
  const HIGH = `  - name: high-allow\n    effect: allow\n    match:\n      risk_classes: [high]\n`;
  const HIGH_BROKERED = `  - name: high-allow\n    effect: allow\n    require_broker_credential: true\n    match:\n      risk_classes: [high]\n`;

  it("forbids simulate", async () => {
    await expect(evaluateGate(policy(ALLOW), rawIntent(), opts({ profile: "oss-prod", simulate: true }))).rejects.toThrow(GateConfigError);
  });
  it("rejects default_verdict allow", () => {
    expect(() => checkProfile(policy(ALLOW, "default_verdict: allow"), { profile: "oss-prod" })).toThrow("default_verdict: allow");
    expect(() => checkProfile(policy(ALLOW, "default_verdict: allow"), { profile: "standard" })).not.toThrow();
  });
  it("requires broker credentials on high-risk allow/approval rules, and a broker", () => {
    expect(() => checkProfile(policy(HIGH), { profile: "oss-prod" })).toThrow("require_broker_credential: true");
    expect(() => checkProfile(policy(HIGH_BROKERED), { profile: "oss-prod" })).toThrow("requires --credential-broker");
    expect(() => checkProfile(policy(HIGH_BROKERED), { profile: "oss-prod", broker: stubBroker })).not.toThrow();
    const blockHigh = `  - name: high-block\n    effect: block\n    match:\n      risk_classes: [high]\n`;
    expect(() => checkProfile(policy(blockHigh), { profile: "oss-prod" })).not.toThrow();
  });
  it("requires an explicit approval verify key when approvals are evaluated", async () => {
    await expect(evaluateGate(policy(APPROVE), rawIntent(), { now: NOW, profile: "oss-prod" })).rejects.toThrow("explicit approval verify key");
  });
});

describe("evaluateGate: fail-closed invalid intent", () => {
  it("blocks, marks intent_invalid and runs no runtime controls", async () => {
    const p = parsePolicy(
      `schema_id: gait.gate.policy\nschema_version: 1.0.0\ndefault_verdict: allow\nfail_closed:\n  enabled: true\n  risk_classes: [high]\nrules:\n  - name: any\n    effect: allow\n    rate_limit:\n      requests: 1\n`,
    );
    const counters = new MemoryCounterStore();
    const r = await evaluateGate(p, { tool_name: "", args: {}, context: { identity: "a", workspace: "/w", risk_class: "high" } }, opts({ counters, simulate: false }));
    expect(r.verdict).toBe("block");
    expect(r.reason_codes).toContain("fail_closed_intent_invalid");
    expect(r.intent_invalid).toBe(true);
    expect(r.rate_limit_key).toBeUndefined();
    expect(counters.size).toBe(0);
  });
});
