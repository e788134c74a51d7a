/**
 * The gate service (src/service/gate-service.ts) with the approval ledger, in process: single use with a mix of used
 * and fresh tokens, fail-closed behaviour on approval-store errors, the delegation binding of approval requests,
 * the verify-key fallbacks (delegation key -> approval key -> signing key) and oss-prod's explicit-key requirement.
 * The real engine and FileApprovalStore; the trace log is an in-memory fake that records what was appended.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { mintApprovalToken } from "../../../src/engine/approval.js";
import { mintDelegationToken } from "../../../src/engine/delegation.js";
import { delegationDigest, normalizeIntent } from "../../../src/engine/intent.js";
import type { ApprovalToken, Profile } from "../../../src/engine/types.js";
import { GateError } from "../../../src/service/errors.js";
import {
  approvalVerifierFor,
  delegationVerifierFor,
  GateService,
  type EvaluateInput,
  type ServiceKeys,
} from "../../../src/service/gate-service.js";
import { ServerMetrics } from "../../../src/service/metrics.js";
import { PolicyHolder } from "../../../src/state/policy-file.js";
import { FileApprovalStore, ApprovalStoreError, type ApprovalStore, type ConsumeRef } from "../../../src/state/approvals.js";
import { MemoryCounterStore } from "../../../src/state/counters-memory.js";
import { memoryTraceLog } from "./memory-trace-log.js";

const POLICY = `schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: approve-write
    priority: 20
    effect: require_approval
    match:
      tool_names: [tool.write]
  - name: approve-deploy
    priority: 30
    effect: require_approval
    min_approvals: 2
    match:
      tool_names: [tool.deploy]
  - name: delegated-run
    priority: 40
    effect: allow
    match:
      tool_names: [tool.delegated]
      require_delegation: true
`;

const DELEGATION = { requester_identity: "agent-1", chain: [{ delegator_identity: "alice", delegate_identity: "agent-1" }] };

function rawIntent(tool: string, args: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    tool_name: tool,
    args,
    targets: [{ kind: "path", value: "/tmp/x", operation: "write" }],
    context: { identity: "agent-1", workspace: "/work", risk_class: "low" },
    ...extra,
  };
}

interface Harness {
  svc: GateService;
  store: ApprovalStore;
  keys: ServiceKeys;
  appended: unknown[];
  consumeCalls: ConsumeRef[][];
  eval(intent: unknown, more?: Partial<EvaluateInput>): ReturnType<GateService["evaluate"]>;
  token(intentDigest: string, policyDigest: string, approver: string, scope?: string[], binding?: string): ApprovalToken;
}

const dirs: string[] = [];
const stores: FileApprovalStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A store that delegates to `inner` except for the overridden methods (fault injection). */
function wrap(inner: ApprovalStore, over: Partial<ApprovalStore>): ApprovalStore {
  return {
    create: (x) => inner.create(x),
    get: (id) => inner.get(id),
    list: (q) => inner.list(q),
    grant: (id, t) => inner.grant(id, t),
    deny: (id, by, r) => inner.deny(id, by, r),
    expireDue: () => inner.expireDue(),
    consumeTokens: (t, d) => inner.consumeTokens(t, d),
    tokenStatus: (t) => inner.tokenStatus(t),
    head: () => inner.head(),
    close: () => inner.close(),
    ...over,
  };
}

async function harness(
  opts: { profile?: Profile; approvalKey?: Ed25519KeyPair; delegationKey?: Ed25519KeyPair; over?: Partial<ApprovalStore> } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "decision-"));
  dirs.push(dir);
  const policyPath = join(dir, "policy.yaml");
  writeFileSync(policyPath, POLICY);
  const file = await FileApprovalStore.open({ dir: join(dir, "approvals"), sweepIntervalMs: 0, signer: Ed25519KeyPair.generate() });
  stores.push(file);
  const consumeCalls: ConsumeRef[][] = [];
  const store = wrap(file, {
    consumeTokens: (t, d) => {
      consumeCalls.push([...t]);
      return file.consumeTokens(t, d);
    },
    ...opts.over,
  });
  const keys: ServiceKeys = {
    signer: Ed25519KeyPair.generate(),
    mode: "dev",
    ...(opts.approvalKey ? { approvalVerifier: opts.approvalKey.verifier() } : {}),
    ...(opts.delegationKey ? { delegationVerifier: opts.delegationKey.verifier() } : {}),
  };
  const { traceLog, appended } = memoryTraceLog();
  const svc = new GateService({
    settings: {
      profile: opts.profile ?? "standard",
      adapter: "mcp",
      approvalReuse: false,
      approvalRequestTtlMs: 3_600_000,
      credentialScopes: [],
      traceDir: join(dir, "traces"),
    },
    policy: new PolicyHolder(policyPath),
    keys,
    killSwitch: { current: () => undefined },
    counters: new MemoryCounterStore(),
    traceLog,
    approvals: store,
    metrics: new ServerMetrics(),
    log: () => undefined,
    producerVersion: "test",
  });
  return {
    svc,
    store,
    keys,
    appended,
    consumeCalls,
    eval: (intent, more = {}) => svc.evaluate({ intent, approvalTokens: [], delegationTokens: [], emitRunpack: false, ...more }),
    token: (intentDigest, policyDigest, approver, scope = ["tool:tool.write"], binding) =>
      mintApprovalToken(
        { intentDigest, policyDigest, delegationBindingDigest: binding, ttlMs: 60_000, scope, approver, reasonCode: "ticket" },
        keys.signer,
        new Date(),
      ),
  };
}

async function gateErrorOf(p: Promise<unknown>): Promise<GateError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof GateError) return e;
    throw e;
  }
  throw new Error("expected a GateError, but the call produced a verdict");
}

const json = (t: ApprovalToken) => JSON.stringify(t);

describe("single use with used and fresh tokens", () => {
  it("a used token beside a fresh valid one: allow, and only the fresh one is consumed", async () => {
    const h = await harness();
    const call = rawIntent("tool.write", { path: "/mixed" });
    const first = await h.eval(call);
    expect(first.verdict).toBe("require_approval");
    const used = h.token(first.result.intent_digest, first.result.policy_digest, "alice");
    expect((await h.eval(call, { approvalTokens: [json(used)] })).verdict).toBe("allow");
    const fresh = h.token(first.result.intent_digest, first.result.policy_digest, "bob");

    const mixed = await h.eval(call, { approvalTokens: [json(used), json(fresh)] });
    expect(mixed.verdict).toBe("allow");
    expect(mixed.result.approval_ref).toBe(fresh.token_id);
    expect(mixed.reasonCodes).toEqual(expect.arrayContaining(["approval_granted", "approval_token_consumed"]));
    expect(h.consumeCalls.at(-1)).toEqual([{ token_id: fresh.token_id, expires_at: fresh.expires_at, created_at: fresh.created_at }]);
    expect([...(await h.store.tokenStatus([{ token_id: used.token_id }, { token_id: fresh.token_id }])).keys()].sort()).toEqual([used.token_id, fresh.token_id].sort());

    // only used tokens: treated as invalid tokens (not as "no token"), and nothing is consumed
    const calls = h.consumeCalls.length;
    const replay = await h.eval(call, { approvalTokens: [json(used), json(fresh)] });
    expect(replay.verdict).toBe("require_approval");
    expect(replay.reasonCodes).toEqual(expect.arrayContaining(["approval_token_consumed", "approval_chain_insufficient"]));
    expect(replay.reasonCodes).not.toContain("approval_token_missing");
    expect(replay.reasonCodes).not.toContain("approval_granted");
    expect(h.consumeCalls.length).toBe(calls);
  });

  it("unconsumed tokens short of the quorum: require_approval and nothing is consumed", async () => {
    const h = await harness();
    const call = rawIntent("tool.deploy", { env: "prod" });
    const first = await h.eval(call);
    expect(first.verdict).toBe("require_approval");
    expect(first.result.required_approvals).toBe(2);
    const { intent_digest: i, policy_digest: p } = first.result;
    const scope = ["tool:tool.deploy"];
    const [a, b, c, d] = ["alice", "bob", "carol", "dave"].map((who) => h.token(i, p, who, scope));
    expect((await h.eval(call, { approvalTokens: [json(a!), json(b!)] })).verdict).toBe("allow");

    const short = await h.eval(call, { approvalTokens: [json(a!), json(c!)] });
    expect(short.verdict).toBe("require_approval");
    expect(short.reasonCodes).toEqual(expect.arrayContaining(["approval_token_consumed", "approval_chain_insufficient"]));
    expect([...(await h.store.tokenStatus([{ token_id: c!.token_id }])).keys()]).toEqual([]); // c was not burned

    const ok = await h.eval(call, { approvalTokens: [json(c!), json(d!), json(b!)] });
    expect(ok.verdict).toBe("allow");
    expect(ok.result.approval_ref).toBe([c!.token_id, d!.token_id].sort().join(","));
  });

  it("a used token presented again with whitespace around its token_id (still validly signed) is not replayable", async () => {
    const h = await harness();
    const call = rawIntent("tool.write", { path: "/respace" });
    const first = await h.eval(call);
    const t = h.token(first.result.intent_digest, first.result.policy_digest, "alice");
    expect((await h.eval(call, { approvalTokens: [json(t)] })).verdict).toBe("allow");
    // the signature covers the trimmed token_id, so these are the same, already used token: the advisory tokenStatus
    // read misses them, but consumeTokens (which gets the engine's normalized approval_ref) refuses the replay
    for (const variant of [` ${t.token_id}`, `${t.token_id}\n`, `\t${t.token_id} `]) {
      const again = await h.eval(call, { approvalTokens: [json({ ...t, token_id: variant })] });
      expect(again.verdict, JSON.stringify(variant)).toBe("require_approval");
      expect(again.reasonCodes).toContain("approval_token_consumed");
    }
  });

  it("a token consumed between the read and the consumption (a lost race) is require_approval, never allow", async () => {
    const h = await harness({ over: { consumeTokens: async () => false } });
    const call = rawIntent("tool.write", { path: "/race" });
    const first = await h.eval(call);
    const t = h.token(first.result.intent_digest, first.result.policy_digest, "alice");
    const out = await h.eval(call, { approvalTokens: [json(t)] });
    expect(out.verdict).toBe("require_approval");
    expect(out.reasonCodes).toContain("approval_token_consumed");
    expect(out.reasonCodes).not.toContain("approval_granted");
    expect((out.record as { verdict: string }).verdict).toBe("require_approval");
  });
});

describe("approval store errors fail closed (an error, never a verdict)", () => {
  const failing = (what: string) => async () => {
    throw new ApprovalStoreError("io", `${what}: EIO`);
  };

  it("tokenStatus fails: UNAVAILABLE / STATE_UNAVAILABLE and no trace record", async () => {
    const h = await harness({ over: { tokenStatus: failing("tokenStatus") } });
    const call = rawIntent("tool.write", { path: "/x" });
    const first = await h.eval(call); // no tokens: the store read is not needed
    expect(first.verdict).toBe("require_approval");
    const before = h.appended.length;
    const t = h.token(first.result.intent_digest, first.result.policy_digest, "alice");
    const e = await gateErrorOf(h.eval(call, { approvalTokens: [json(t)] }));
    expect(e.kind).toBe("unavailable");
    expect(e.reason).toBe("STATE_UNAVAILABLE");
    expect(e.message).toMatch(/approval state unavailable: tokenStatus: EIO/);
    expect(h.appended.length).toBe(before);
  });

  it("consumeTokens fails on a call the approval would allow: UNAVAILABLE and no trace record", async () => {
    const h = await harness({ over: { consumeTokens: failing("consumeTokens") } });
    const call = rawIntent("tool.write", { path: "/y" });
    const first = await h.eval(call);
    const before = h.appended.length;
    const t = h.token(first.result.intent_digest, first.result.policy_digest, "alice");
    const e = await gateErrorOf(h.eval(call, { approvalTokens: [json(t)] }));
    expect(e.kind).toBe("unavailable");
    expect(e.reason).toBe("STATE_UNAVAILABLE");
    expect(h.appended.length).toBe(before);
  });

  it("the store cannot create the pending request: UNAVAILABLE, not require_approval", async () => {
    const h = await harness({ over: { create: failing("create") } });
    const e = await gateErrorOf(h.eval(rawIntent("tool.write", { path: "/z" })));
    expect(e.kind).toBe("unavailable");
    expect(h.appended).toEqual([]);
  });
});

describe("delegated calls and approval requests", () => {
  it("a delegated require_approval stores the delegation binding; a token carrying it allows", async () => {
    const h = await harness();
    const call = rawIntent("tool.write", { path: "/d" }, { delegation: DELEGATION });
    const first = await h.eval(call);
    expect(first.verdict).toBe("require_approval");
    const binding = delegationDigest(normalizeIntent(call).delegation!);
    const req = (await h.store.get(first.approvalRequestId!))!;
    expect(req.delegation_binding_digest).toBe(binding);
    const { intent_digest: i, policy_digest: p } = first.result;

    const unbound = await h.eval(call, { approvalTokens: [json(h.token(i, p, "alice"))] });
    expect(unbound.verdict).toBe("require_approval");
    expect(unbound.reasonCodes).toContain("approval_token_delegation_binding_mismatch");

    const ok = await h.eval(call, { approvalTokens: [json(h.token(i, p, "bob", undefined, binding))] });
    expect(ok.verdict).toBe("allow");
  });

  it("an undelegated call's request has no binding", async () => {
    const h = await harness();
    const first = await h.eval(rawIntent("tool.write", { path: "/plain" }));
    expect((await h.store.get(first.approvalRequestId!))!.delegation_binding_digest).toBeUndefined();
  });
});

describe("verify keys", () => {
  const signer = Ed25519KeyPair.generate();
  const approval = Ed25519KeyPair.generate().verifier();
  const delegation = Ed25519KeyPair.generate().verifier();
  const k = (over: Partial<ServiceKeys>): ServiceKeys => ({ signer, mode: "prod", ...over });

  it("delegation: the delegation key, else the approval key, else the signing key (none in oss-prod)", () => {
    expect(delegationVerifierFor(k({ approvalVerifier: approval, delegationVerifier: delegation }), "standard")).toBe(delegation);
    expect(delegationVerifierFor(k({ approvalVerifier: approval }), "standard")).toBe(approval);
    expect(delegationVerifierFor(k({}), "standard")).toBe(signer);
    expect(delegationVerifierFor(k({ approvalVerifier: approval }), "oss-prod")).toBe(approval);
    expect(delegationVerifierFor(k({}), "oss-prod")).toBeUndefined();
  });

  it("approval: server-minted tokens with the server key, others with the configured key; no fallback in oss-prod", () => {
    const own = [{ signature: { key_id: signer.keyId } }];
    const foreign = [{ signature: { key_id: "other" } }];
    expect(approvalVerifierFor(k({ approvalVerifier: approval }), "standard", own)).toBe(signer);
    expect(approvalVerifierFor(k({ approvalVerifier: approval }), "oss-prod", foreign)).toBe(approval);
    expect(approvalVerifierFor(k({}), "standard", foreign)).toBe(signer);
    expect(approvalVerifierFor(k({}), "oss-prod", own)).toBeUndefined();
  });

  it("a delegation token signed with the approval key verifies when no delegation key is configured", async () => {
    const approvalKey = Ed25519KeyPair.generate();
    const h = await harness({ approvalKey });
    const call = rawIntent("tool.delegated", { job: 1 }, { delegation: DELEGATION });
    const token = mintDelegationToken({ delegator: "alice", delegate: "agent-1", scope: ["run"], ttlMs: 60_000 }, approvalKey, new Date());
    const ok = await h.eval(call, { delegationTokens: [JSON.stringify(token)] });
    expect(ok.verdict).toBe("allow");
    expect(ok.reasonCodes).toContain("delegation_granted");
    // the gate's own key is only the last fallback: with an approval key configured, a signer-signed token fails
    const bySigner = mintDelegationToken({ delegator: "alice", delegate: "agent-1", scope: ["run"], ttlMs: 60_000 }, h.keys.signer, new Date());
    const bad = await h.eval(call, { delegationTokens: [JSON.stringify(bySigner)] });
    expect(bad.verdict).toBe("block");
    expect(bad.reasonCodes).toContain("delegation_token_signature_invalid");
  });

  describe("oss-prod", () => {
    let approvalKey: Ed25519KeyPair;
    beforeEach(() => {
      approvalKey = Ed25519KeyPair.generate();
    });

    it("without explicit verify keys the approval and delegation stages are FAILED_PRECONDITION / PROFILE_VIOLATION", async () => {
      const h = await harness({ profile: "oss-prod" });
      const a = await gateErrorOf(h.eval(rawIntent("tool.write", { path: "/p" })));
      expect(a.kind).toBe("precondition");
      expect(a.reason).toBe("PROFILE_VIOLATION");
      expect(a.message).toMatch(/explicit approval verify key/);
      const d = await gateErrorOf(h.eval(rawIntent("tool.delegated", { job: 1 }, { delegation: DELEGATION })));
      expect(d.kind).toBe("precondition");
      expect(d.reason).toBe("PROFILE_VIOLATION");
      expect(d.message).toMatch(/explicit delegation verify key/);
      expect(h.appended).toEqual([]);
    });

    it("with an approval key both stages run (delegation falls back to the approval key)", async () => {
      const h = await harness({ profile: "oss-prod", approvalKey });
      expect((await h.eval(rawIntent("tool.write", { path: "/p" }))).verdict).toBe("require_approval");
      const token = mintDelegationToken({ delegator: "alice", delegate: "agent-1", scope: ["run"], ttlMs: 60_000 }, approvalKey, new Date());
      const ok = await h.eval(rawIntent("tool.delegated", { job: 1 }, { delegation: DELEGATION }), { delegationTokens: [JSON.stringify(token)] });
      expect(ok.verdict).toBe("allow");
    });
  });
});
