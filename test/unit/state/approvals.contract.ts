/**
 * The contract every {@link ApprovalStore} implementation must pass (conventions item 10): call
 * `runApprovalStoreContract("file", factory)` from a test file. The factory gets a controllable clock and returns a
 * fresh, empty store; the suite closes it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../../../src/engine/canon.js";
import type { ApprovalToken } from "../../../src/engine/types.js";
import { formatGoTime } from "../../../src/engine/time.js";
import { isApprovalStoreError, type ApprovalStore, type NewApprovalRequest } from "../../../src/state/approvals.js";

export interface ContractClock {
  ms: number;
}

export const T0 = Date.parse("2026-03-01T12:00:00Z");

export function newRequest(n: number, over: Partial<NewApprovalRequest> = {}): NewApprovalRequest {
  return {
    tool_name: "tool.write",
    intent_digest: sha256Hex(`intent-${n}`),
    policy_digest: sha256Hex("policy"),
    args_digest: sha256Hex(`args-${n}`),
    required_scopes: ["tool:tool.write"],
    required_approvals: 1,
    identity: "agent-1",
    run_id: "run_1",
    session_id: "s1",
    reason_codes: ["approval_required"],
    trace_id: sha256Hex(`trace-${n}`).slice(0, 24),
    ttl_ms: 60_000,
    ...over,
  };
}

/** A token bound to a request's digests. The store does not check signatures (the engine does before grant()). */
export function tokenFor(
  intentDigest: string,
  policyDigest: string,
  approver: string,
  nowMs: number,
  ttlMs = 60_000,
  delegationBindingDigest?: string,
): ApprovalToken {
  const expires = formatGoTime(nowMs + ttlMs);
  return {
    schema_id: "gait.gate.approval_token",
    schema_version: "1.0.0",
    created_at: formatGoTime(nowMs),
    token_id: sha256Hex(`${intentDigest}:${policyDigest}:${approver}:${expires}`).slice(0, 24),
    approver_identity: approver,
    reason_code: "ok",
    intent_digest: intentDigest,
    policy_digest: policyDigest,
    ...(delegationBindingDigest ? { delegation_binding_digest: delegationBindingDigest } : {}),
    scope: ["tool:tool.write"],
    expires_at: expires,
  };
}

/** Consume one token by id. */
function consume1(s: ApprovalStore, tokenId: string, intentDigest: string, expiresAt?: string): Promise<boolean> {
  return s.consumeTokens([{ token_id: tokenId, ...(expiresAt ? { expires_at: expiresAt } : {}) }], intentDigest);
}

async function statusOf(s: ApprovalStore, ids: string[]): Promise<Record<string, string>> {
  return Object.fromEntries(await s.tokenStatus(ids.map((token_id) => ({ token_id }))));
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return isApprovalStoreError(e) ? e.code : `non-store error: ${(e as Error).message}`;
  }
}

export function runApprovalStoreContract(name: string, factory: (clock: () => number) => Promise<ApprovalStore>): void {
  describe(`ApprovalStore contract: ${name}`, () => {
    const clock: ContractClock = { ms: T0 };
    let store: ApprovalStore | undefined;
    const open = async (): Promise<ApprovalStore> => {
      clock.ms = T0;
      store = await factory(() => clock.ms);
      return store;
    };
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });

    it("creates a pending request and returns it by id", async () => {
      const s = await open();
      const { request, created } = await s.create(newRequest(1));
      expect(created).toBe(true);
      expect(request).toMatchObject({
        state: "pending",
        tool_name: "tool.write",
        required_approvals: 1,
        approvers: [],
        tokens: [],
        created_at: "2026-03-01T12:00:00Z",
        expires_at: "2026-03-01T12:01:00Z",
      });
      expect(request.approval_request_id).toMatch(/^apr_[0-9a-f]{22}$/);
      expect(await s.get(request.approval_request_id)).toEqual(request);
      expect(await s.get("apr_missing")).toBeUndefined();
    });

    it("create is idempotent for the same intent+policy digest while the request is open", async () => {
      const s = await open();
      const a = await s.create(newRequest(1));
      const b = await s.create(newRequest(1, { trace_id: "other" }));
      expect(b.created).toBe(false);
      expect(b.request.approval_request_id).toBe(a.request.approval_request_id);
      const c = await s.create(newRequest(1, { policy_digest: sha256Hex("policy-2") }));
      expect(c.created).toBe(true);
      // once the first one is denied, the same intent gets a new request
      await s.deny(a.request.approval_request_id, "bob", "no");
      const d = await s.create(newRequest(1));
      expect(d.created).toBe(true);
      expect(d.request.approval_request_id).not.toBe(a.request.approval_request_id);
    });

    it("rejects invalid create input with every problem named", async () => {
      const s = await open();
      const p = s.create(newRequest(1, { intent_digest: "", required_approvals: 0, ttl_ms: 0 }));
      await expect(p).rejects.toThrow(/intent_digest is required; required_approvals must be an integer >= 1; ttl_ms must be > 0/);
      expect(await codeOf(s.create(newRequest(1, { ttl_ms: -1 })))).toBe("invalid");
    });

    it("grants when the distinct approvers reach the quorum, idempotently per token", async () => {
      const s = await open();
      const { request } = await s.create(newRequest(1, { required_approvals: 2 }));
      const id = request.approval_request_id;
      const t1 = tokenFor(request.intent_digest, request.policy_digest, "alice", clock.ms);
      const g1 = await s.grant(id, t1);
      expect(g1.added).toBe(true);
      expect(g1.request).toMatchObject({ state: "pending", approvers: ["alice"] });
      const again = await s.grant(id, t1); // same token again: no change
      expect(again.added).toBe(false);
      expect(again.request.tokens).toHaveLength(1);
      const t2 = tokenFor(request.intent_digest, request.policy_digest, "carol", clock.ms + 1);
      const g2 = await s.grant(id, t2);
      expect(g2.request).toMatchObject({ state: "granted", approvers: ["alice", "carol"] });
      expect(g2.request.tokens.map((t) => t.token_id)).toEqual([t1.token_id, t2.token_id]);
    });

    it("one token per approver identity: a repeated grant (any spelling of the name) returns the first token", async () => {
      const s = await open();
      const { request } = await s.create(newRequest(1, { required_approvals: 2 }));
      const id = request.approval_request_id;
      const first = tokenFor(request.intent_digest, request.policy_digest, "bob", clock.ms);
      await s.grant(id, first);
      for (const [i, spelling] of ["bob", "Bob", "bob\u200b", "\uff42\uff4f\uff42", " BOB "].entries()) {
        const g = await s.grant(id, tokenFor(request.intent_digest, request.policy_digest, spelling, clock.ms + 5 + i));
        expect(g.added, spelling).toBe(false);
        expect(g.token.token_id).toBe(first.token_id);
        expect(g.request.state).toBe("pending"); // one person is one approver: no quorum of two
        expect(g.request.tokens).toHaveLength(1);
      }
      const other = await s.grant(id, tokenFor(request.intent_digest, request.policy_digest, "alice", clock.ms + 9));
      expect(other.request.state).toBe("granted");
      expect(other.request.approvers).toEqual(["bob", "alice"]);
    });

    it("an approver's expired token is replaced by a new grant", async () => {
      const s = await open();
      const { request } = await s.create(newRequest(1, { ttl_ms: 3_600_000 }));
      const id = request.approval_request_id;
      const short = tokenFor(request.intent_digest, request.policy_digest, "bob", clock.ms, 1000);
      await s.grant(id, short);
      clock.ms += 2000;
      const fresh = tokenFor(request.intent_digest, request.policy_digest, "bob", clock.ms);
      const g = await s.grant(id, fresh);
      expect(g.added).toBe(true);
      expect(g.request.tokens.map((t) => t.token_id)).toEqual([fresh.token_id]);
    });

    it("the agent whose call waits cannot approve it", async () => {
      const s = await open();
      const { request } = await s.create(newRequest(1, { identity: "agent-1" }));
      for (const who of ["agent-1", "Agent-1", "agent-1\u200d"]) {
        expect(await codeOf(s.grant(request.approval_request_id, tokenFor(request.intent_digest, request.policy_digest, who, clock.ms)))).toBe("forbidden");
      }
      expect((await s.get(request.approval_request_id))!.state).toBe("pending");
    });

    it("refuses a token bound to another intent or policy, and unknown ids", async () => {
      const s = await open();
      const { request } = await s.create(newRequest(1));
      const wrongIntent = tokenFor(sha256Hex("other"), request.policy_digest, "alice", clock.ms);
      expect(await codeOf(s.grant(request.approval_request_id, wrongIntent))).toBe("invalid");
      const wrongPolicy = tokenFor(request.intent_digest, sha256Hex("p2"), "alice", clock.ms);
      expect(await codeOf(s.grant(request.approval_request_id, wrongPolicy))).toBe("invalid");
      expect((await s.get(request.approval_request_id))!.state).toBe("pending");
      expect(await codeOf(s.grant("apr_nope", wrongIntent))).toBe("not_found");
      expect(await codeOf(s.deny("apr_nope", "bob", "x"))).toBe("not_found");
    });

    it("deny is final: no later grant", async () => {
      const s = await open();
      const { request } = await s.create(newRequest(1));
      const id = request.approval_request_id;
      const denied = await s.deny(id, "bob", "not today");
      expect(denied).toMatchObject({ state: "denied", denied_by: "bob", deny_reason: "not today" });
      expect((await s.deny(id, "bob", "again")).deny_reason).toBe("not today"); // idempotent
      expect(await codeOf(s.grant(id, tokenFor(request.intent_digest, request.policy_digest, "alice", clock.ms)))).toBe("conflict");
      expect((await s.get(id))!.state).toBe("denied");
    });

    it("a deny after a grant revokes the token already minted, wherever it is presented", async () => {
      const s = await open();
      const { request } = await s.create(newRequest(1));
      const id = request.approval_request_id;
      const t = tokenFor(request.intent_digest, request.policy_digest, "alice", clock.ms);
      expect((await s.grant(id, t)).request.state).toBe("granted");
      await s.deny(id, "carol", "changed my mind");
      expect(await statusOf(s, [t.token_id])).toEqual({ [t.token_id]: "revoked" });
      expect(await consume1(s, t.token_id, request.intent_digest)).toBe(false);
      expect((await s.get(id))!.state).toBe("denied");
    });

    it("expires lazily on read and durably on the sweep; expired requests cannot be granted or denied", async () => {
      const s = await open();
      const { request } = await s.create(newRequest(1, { ttl_ms: 1000 }));
      const id = request.approval_request_id;
      clock.ms += 999;
      expect((await s.get(id))!.state).toBe("pending");
      clock.ms += 1;
      expect((await s.get(id))!.state).toBe("expired");
      expect((await s.list({ states: ["pending"] })).requests).toEqual([]);
      expect(await codeOf(s.grant(id, tokenFor(request.intent_digest, request.policy_digest, "alice", clock.ms)))).toBe("conflict");
      expect(await codeOf(s.deny(id, "bob", "late"))).toBe("conflict");
      expect(await s.expireDue()).toBe(1);
      expect(await s.expireDue()).toBe(0);
      expect((await s.get(id))!.state).toBe("expired");
      // a new request for the same intent can be created after expiry
      expect((await s.create(newRequest(1))).created).toBe(true);
    });

    it("lists oldest first, filtered by state, in pages", async () => {
      const s = await open();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push((await s.create(newRequest(i))).request.approval_request_id);
        clock.ms += 10;
      }
      await s.deny(ids[1]!, "bob", "no");
      const p1 = await s.list({ page_size: 2 });
      expect(p1.requests.map((r) => r.approval_request_id)).toEqual(ids.slice(0, 2));
      expect(p1.next_page_token).toBeDefined();
      const p2 = await s.list({ page_size: 2, page_token: p1.next_page_token });
      expect(p2.requests.map((r) => r.approval_request_id)).toEqual(ids.slice(2, 4));
      const p3 = await s.list({ page_size: 2, page_token: p2.next_page_token });
      expect(p3.requests.map((r) => r.approval_request_id)).toEqual(ids.slice(4));
      expect(p3.next_page_token).toBeUndefined();
      const pending = await s.list({ states: ["pending"] });
      expect(pending.requests.map((r) => r.approval_request_id)).toEqual([ids[0], ids[2], ids[3], ids[4]]);
      expect((await s.list({ states: ["denied"] })).requests.map((r) => r.approval_request_id)).toEqual([ids[1]]);
    });

    it("consumes a token once: true the first time, false after; the granted request becomes consumed", async () => {
      const s = await open();
      const { request } = await s.create(newRequest(1));
      const t = tokenFor(request.intent_digest, request.policy_digest, "alice", clock.ms);
      await s.grant(request.approval_request_id, t);
      expect(await consume1(s, t.token_id, request.intent_digest, t.expires_at)).toBe(true);
      expect(await consume1(s, t.token_id, request.intent_digest, t.expires_at)).toBe(false);
      expect(await consume1(s, t.token_id, sha256Hex("another intent"))).toBe(false);
      const after = (await s.get(request.approval_request_id))!;
      expect(after.state).toBe("consumed");
      expect(after.consumed_at).toBe("2026-03-01T12:00:00Z");
      // a used token cannot be granted onto another request
      const { request: r2 } = await s.create(newRequest(2));
      const reuse = { ...t, intent_digest: r2.intent_digest };
      expect(await codeOf(s.grant(r2.approval_request_id, reuse))).toBe("conflict");
    });

    it("spending one token of a request spends the request: its other tokens are used up too", async () => {
      const s = await open();
      const { request } = await s.create(newRequest(1, { required_approvals: 2 }));
      const id = request.approval_request_id;
      const a = tokenFor(request.intent_digest, request.policy_digest, "alice", clock.ms);
      const b = tokenFor(request.intent_digest, request.policy_digest, "carol", clock.ms + 1);
      await s.grant(id, a);
      await s.grant(id, b);
      expect(await s.consumeTokens([{ token_id: a.token_id }, { token_id: b.token_id }], request.intent_digest)).toBe(true);
      const { request: r1 } = await s.create(newRequest(3));
      const x = tokenFor(r1.intent_digest, r1.policy_digest, "alice", clock.ms);
      const y = tokenFor(r1.intent_digest, r1.policy_digest, "carol", clock.ms + 1);
      await s.grant(r1.approval_request_id, x);
      await s.grant(r1.approval_request_id, y);
      expect(await consume1(s, x.token_id, r1.intent_digest)).toBe(true); // one token (e.g. a quorum of one) ...
      expect(await statusOf(s, [y.token_id])).toEqual({ [y.token_id]: "consumed" }); // ... spends its sibling
      expect(await consume1(s, y.token_id, r1.intent_digest)).toBe(false);
    });

    it("concurrent consumption of one token: exactly one true", async () => {
      const s = await open();
      const results = await Promise.all(Array.from({ length: 20 }, () => consume1(s, "tok-1", sha256Hex("i"))));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("consumeTokens is all-or-nothing", async () => {
      const s = await open();
      expect(await s.consumeTokens([{ token_id: "a" }], "d")).toBe(true);
      expect(await s.consumeTokens([{ token_id: "b" }, { token_id: "a" }], "d")).toBe(false);
      // "b" was not burned by the failed attempt
      expect(await s.consumeTokens([{ token_id: "b" }, { token_id: "c" }], "d")).toBe(true);
      expect(await consume1(s, "c", "d")).toBe(false);
      expect(await codeOf(s.consumeTokens([], "d"))).toBe("invalid");
      expect(await codeOf(consume1(s, "", "d"))).toBe("invalid");
    });

    it("tokens consumed out of band (no request) are single-use too", async () => {
      const s = await open();
      expect(await consume1(s, "cli-minted", sha256Hex("x"))).toBe(true);
      expect(await consume1(s, "cli-minted", sha256Hex("x"))).toBe(false);
    });

    it("keeps a delegated request's delegation_binding_digest and grants only tokens that carry it", async () => {
      const s = await open();
      const binding = sha256Hex("delegation");
      const { request } = await s.create(newRequest(1, { delegation_binding_digest: binding.toUpperCase() }));
      expect(request.delegation_binding_digest).toBe(binding); // stored lowercase, like the token's digests
      expect((await s.get(request.approval_request_id))!.delegation_binding_digest).toBe(binding);
      const id = request.approval_request_id;
      const unbound = tokenFor(request.intent_digest, request.policy_digest, "alice", clock.ms);
      expect(await codeOf(s.grant(id, unbound))).toBe("invalid");
      const other = tokenFor(request.intent_digest, request.policy_digest, "alice", clock.ms + 1, 60_000, sha256Hex("other"));
      expect(await codeOf(s.grant(id, other))).toBe("invalid");
      expect((await s.get(id))!.state).toBe("pending");
      const bound = tokenFor(request.intent_digest, request.policy_digest, "alice", clock.ms + 2, 60_000, binding);
      expect((await s.grant(id, bound)).request.state).toBe("granted");
      // an undelegated request has no binding field at all
      expect("delegation_binding_digest" in (await s.create(newRequest(2))).request).toBe(false);
    });

    it("rejects a delegation_binding_digest that is not sha256 hex", async () => {
      const s = await open();
      const p = s.create(newRequest(1, { delegation_binding_digest: "sha256:abc" }));
      await expect(p).rejects.toThrow(/delegation_binding_digest must be 64 hex characters/);
      expect(await codeOf(s.create(newRequest(1, { delegation_binding_digest: "" })))).toBe("invalid");
    });

    it("tokenStatus reports used and revoked tokens and changes nothing", async () => {
      const s = await open();
      expect(await statusOf(s, ["a", "b"])).toEqual({});
      expect(await s.consumeTokens([{ token_id: "a" }], "d")).toBe(true);
      expect(await statusOf(s, ["a", "b", "a"])).toEqual({ a: "consumed" });
      expect(await statusOf(s, [])).toEqual({});
      // the read burned nothing: "b" is still usable once
      expect(await s.consumeTokens([{ token_id: "b" }], "d")).toBe(true);
      expect(await statusOf(s, ["a", "b", "c"])).toEqual({ a: "consumed", b: "consumed" });
      expect(await codeOf(s.tokenStatus([{ token_id: "" }]))).toBe("invalid");
      expect(await codeOf(s.tokenStatus([{ token_id: 1 as unknown as string }]))).toBe("invalid");
    });

    it("rejects every operation after close", async () => {
      const s = await open();
      await s.close();
      expect(await codeOf(s.create(newRequest(1)))).toBe("closed");
      expect(await codeOf(consume1(s, "t", "d"))).toBe("closed");
      expect(await codeOf(s.tokenStatus([{ token_id: "t" }]))).toBe("closed");
    });
  });
}
