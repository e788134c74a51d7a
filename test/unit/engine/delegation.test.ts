import { describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { sha256Hex } from "../../../src/engine/canon.js";
import { signDocument } from "../../../src/engine/signature.js";
import { TokenMintError } from "../../../src/engine/approval.js";
import {
  DELEGATION_TOKEN_CODES,
  evaluateDelegation,
  mintDelegationToken,
  parseDelegationToken,
  validateDelegationChain,
  validateDelegationToken,
  type DelegationValidationContext,
} from "../../../src/engine/delegation.js";
import { GO_ZERO_TIME } from "../../../src/engine/time.js";
import type { Delegation, DelegationToken } from "../../../src/engine/types.js";

const key = Ed25519KeyPair.generate();
const other = Ed25519KeyPair.generate();
const NOW = new Date("2026-03-01T12:00:00Z");
const INTENT = "a".repeat(64);
const POLICY = "b".repeat(64);
const HOUR = 3_600_000;

function mint(over: Partial<Parameters<typeof mintDelegationToken>[0]> = {}, signer = key): DelegationToken {
  return mintDelegationToken({ delegator: "alice", delegate: "agent-1", scope: ["write"], ttlMs: HOUR, ...over }, signer, NOW);
}
function resign(t: DelegationToken): DelegationToken {
  const { signature: _s, ...rest } = t;
  return { ...rest, signature: signDocument(rest, key) };
}
const ctx: DelegationValidationContext = { expectedDelegator: "alice", expectedDelegate: "agent-1", requiredScope: ["write"], intentDigest: INTENT, policyDigest: POLICY };

describe("mintDelegationToken", () => {
  it("computes Gait's token id and signs the token", () => {
    const t = mint({ scope: ["Write", "read"], scopeClass: " Ops ", intentDigest: INTENT });
    expect(t.scope).toEqual(["read", "write"]);
    expect(t.scope_class).toBe("ops");
    expect(t.policy_digest).toBeUndefined();
    expect(t.expires_at).toBe("2026-03-01T13:00:00Z");
    expect(t.token_id).toBe(sha256Hex(["alice", "agent-1", "read,write", "ops", INTENT, "", "2026-03-01T13:00:00Z"].join(":")).slice(0, 24));
    expect(validateDelegationToken(t, ctx, key, NOW)).toBeUndefined();
  });
  it.each([
    [{ ttlMs: -1 }, "ttl must be greater than 0"],
    [{ delegate: " " }, "delegator and delegate identities are required"],
    [{ scope: [] }, "scope must include at least one value"],
    [{ intentDigest: "x" }, "intent_digest must be sha256 hex when set"],
    [{ policyDigest: "y" }, "policy_digest must be sha256 hex when set"],
  ])("refuses %o", (over, msg) => {
    expect(() => mint(over)).toThrow(TokenMintError);
    expect(() => mint(over)).toThrow(msg);
  });
});

describe("validateDelegationToken: codes in Gait's order", () => {
  const good = mint({ intentDigest: INTENT, policyDigest: POLICY });

  it("lists the codes", () => {
    expect(DELEGATION_TOKEN_CODES).toHaveLength(10);
    expect(DELEGATION_TOKEN_CODES[0]).toBe("delegation_token_invalid");
  });
  it("invalid shape first (even without a key)", () => {
    expect(validateDelegationToken({ ...good, delegate_identity: "" }, ctx, undefined, NOW)).toBe("delegation_token_invalid");
    expect(validateDelegationToken({ ...good, scope: [] }, ctx, key, NOW)).toBe("delegation_token_invalid");
    expect(validateDelegationToken({ ...good, schema_id: "x" }, ctx, key, NOW)).toBe("delegation_token_invalid");
    expect(validateDelegationToken(parseDelegationToken({ ...good, bogus: 1 }), ctx, key, NOW)).toBe("delegation_token_invalid");
    expect(() => parseDelegationToken("nope")).toThrow(TypeError);
  });
  it("missing key => signature_invalid; no signature => signature_missing; bad => signature_invalid", () => {
    expect(validateDelegationToken(good, ctx, undefined, NOW)).toBe("delegation_token_signature_invalid");
    const { signature: _s, ...unsigned } = good;
    expect(validateDelegationToken(unsigned, ctx, key, NOW)).toBe("delegation_token_signature_missing");
    expect(validateDelegationToken(good, ctx, other, NOW)).toBe("delegation_token_signature_invalid");
    expect(validateDelegationToken({ ...good, delegator_identity: "mallory" }, ctx, key, NOW)).toBe("delegation_token_signature_invalid");
  });
  it("expired (now >= expires_at) before identity checks", () => {
    const at = new Date(NOW.getTime() + HOUR);
    expect(validateDelegationToken(good, { ...ctx, expectedDelegator: "zed" }, key, at)).toBe("delegation_token_expired");
    expect(validateDelegationToken(good, ctx, key, new Date(at.getTime() - 1))).toBeUndefined();
  });
  it("delegator, then delegate, then intent, then policy, then scope", () => {
    const all = { expectedDelegator: "zed", expectedDelegate: "zz", requiredScope: ["admin"], intentDigest: "c".repeat(64), policyDigest: "d".repeat(64) };
    expect(validateDelegationToken(good, all, key, NOW)).toBe("delegation_token_delegator_mismatch");
    expect(validateDelegationToken(good, { ...all, expectedDelegator: "alice" }, key, NOW)).toBe("delegation_token_delegate_mismatch");
    expect(validateDelegationToken(good, { ...all, expectedDelegator: "alice", expectedDelegate: "agent-1" }, key, NOW)).toBe("delegation_token_intent_mismatch");
    expect(validateDelegationToken(good, { ...all, expectedDelegator: "alice", expectedDelegate: "agent-1", intentDigest: INTENT }, key, NOW)).toBe(
      "delegation_token_policy_mismatch",
    );
    expect(validateDelegationToken(good, { ...all, expectedDelegator: "alice", expectedDelegate: "agent-1", intentDigest: INTENT, policyDigest: POLICY }, key, NOW)).toBe(
      "delegation_token_scope_mismatch",
    );
  });
  it("digests are checked only when the token carries them; sha256: prefix tolerated", () => {
    const unbound = mint();
    expect(validateDelegationToken(unbound, { ...ctx, intentDigest: "c".repeat(64), policyDigest: "d".repeat(64) }, key, NOW)).toBeUndefined();
    expect(validateDelegationToken(good, { ...ctx, intentDigest: `sha256:${INTENT}` }, key, NOW)).toBeUndefined();
  });
  it("scope is any-of, scope_class counts, `*` matches", () => {
    expect(validateDelegationToken(mint({ scope: ["read"] }), { ...ctx, requiredScope: ["write", "read"] }, key, NOW)).toBeUndefined();
    expect(validateDelegationToken(mint({ scope: ["read"] }), { ...ctx, requiredScope: ["write"] }, key, NOW)).toBe("delegation_token_scope_mismatch");
    expect(validateDelegationToken(mint({ scope: ["read"], scopeClass: "write" }), { ...ctx, requiredScope: ["write"] }, key, NOW)).toBeUndefined();
    expect(validateDelegationToken(mint({ scope: ["*"] }), { ...ctx, requiredScope: ["anything"] }, key, NOW)).toBeUndefined();
    expect(validateDelegationToken(mint({ scope: ["read"] }), { ...ctx, requiredScope: [] }, key, NOW)).toBeUndefined();
  });
  it("verifies over the normalized token: presentation differences do not matter, content changes do", () => {
    expect(validateDelegationToken({ ...good, scope: [" WRITE", "write"], delegate_identity: " agent-1 " }, ctx, key, NOW)).toBeUndefined();
    const widened = resign({ ...good, scope: ["extra", "write"] });
    expect(validateDelegationToken(widened, ctx, key, NOW)).toBeUndefined();
    expect(validateDelegationToken({ ...widened, scope: ["write"] }, ctx, key, NOW)).toBe("delegation_token_signature_invalid");
  });
});

const link = (delegator: string, delegate: string) => ({ delegator_identity: delegator, delegate_identity: delegate, issued_at: GO_ZERO_TIME, expires_at: GO_ZERO_TIME });
const chainDelegation: Delegation = {
  requester_identity: "agent-2",
  chain: [link("alice", "agent-1"), link("agent-1", "agent-2")],
  issued_at: GO_ZERO_TIME,
  expires_at: GO_ZERO_TIME,
};
const base = { requiredScope: ["write"], intentDigest: INTENT, policyDigest: POLICY, verifier: key, now: NOW };

describe("validateDelegationChain / evaluateDelegation", () => {
  it("no chain: one token delegating to the requester", () => {
    const d: Delegation = { requester_identity: "agent-1", issued_at: GO_ZERO_TIME, expires_at: GO_ZERO_TIME };
    const t = mint();
    const ev = evaluateDelegation({ ...base, delegation: d, tokens: [t] });
    expect(ev).toMatchObject({ granted: true, reasons: ["delegation_granted"], violations: [], validCount: 1, delegationRef: t.token_id });
    expect(ev.entries).toEqual([{ token_id: t.token_id, delegator_identity: "alice", delegate_identity: "agent-1", scope: ["write"], expires_at: "2026-03-01T13:00:00Z", valid: true }]);
  });

  it("each link needs a distinct token, in any order", () => {
    const t1 = mint({ delegator: "alice", delegate: "agent-1" });
    const t2 = mint({ delegator: "agent-1", delegate: "agent-2" });
    const r = validateDelegationChain({ ...base, delegation: chainDelegation, tokens: [t2, t1] });
    expect(r.complete).toBe(true);
    expect(r.requiredDelegations).toBe(2);
    expect(r.validTokenIds).toEqual([t1.token_id, t2.token_id].sort());
  });

  it("a missing link is audited as delegation_token_missing and the unused token gets its code", () => {
    const t1 = mint({ delegator: "alice", delegate: "agent-1" });
    const wrong = mint({ delegator: "bob", delegate: "agent-2" });
    const ev = evaluateDelegation({ ...base, delegation: chainDelegation, tokens: [t1, wrong] });
    expect(ev.granted).toBe(false);
    expect(ev.reasons).toEqual(["delegation_chain_insufficient", "delegation_token_delegator_mismatch", "delegation_token_missing"]);
    expect(ev.violations).toEqual(["delegation_not_granted"]);
    expect(ev.validCount).toBe(1);
    expect(ev.delegationRef).toBeUndefined();
    expect(ev.entries.map((e) => [e.valid, e.error_code ?? ""])).toEqual([
      [true, ""],
      [false, "delegation_token_missing"],
      [false, "delegation_token_delegator_mismatch"],
    ]);
    // Go marshals the zero expiry of a missing link (time.Time is never omitted by omitempty)
    expect(ev.entries[1]).toEqual({ delegator_identity: "agent-1", delegate_identity: "agent-2", expires_at: GO_ZERO_TIME, valid: false, error_code: "delegation_token_missing" });
  });

  it("an extra token after a complete chain is chain_mismatch but does not block", () => {
    const d: Delegation = { requester_identity: "agent-1", issued_at: GO_ZERO_TIME, expires_at: GO_ZERO_TIME };
    const ev = evaluateDelegation({ ...base, delegation: d, tokens: [mint(), mint({ delegator: "zed" })] });
    expect(ev.granted).toBe(true);
    expect(ev.entries[1]).toMatchObject({ valid: false, error_code: "delegation_token_chain_mismatch" });
  });

  it("the same token cannot satisfy two links", () => {
    const d: Delegation = { requester_identity: "agent-1", chain: [link("", "agent-1"), link("", "agent-1")], issued_at: GO_ZERO_TIME, expires_at: GO_ZERO_TIME };
    const ev = evaluateDelegation({ ...base, delegation: d, tokens: [mint()] });
    expect(ev.granted).toBe(false);
    expect(ev.reasons).toEqual(["delegation_chain_insufficient", "delegation_token_missing"]);
  });

  it("no tokens => delegation_token_missing; no intent delegation => chain insufficient", () => {
    expect(evaluateDelegation({ ...base, delegation: chainDelegation, tokens: [] })).toMatchObject({
      granted: false,
      reasons: ["delegation_token_missing"],
      violations: ["delegation_not_granted"],
    });
    const ev = evaluateDelegation({ ...base, tokens: [mint()] });
    expect(ev.granted).toBe(false);
    expect(ev.reasons).toEqual(["delegation_chain_insufficient"]);
  });

  it("expired and unsigned tokens block the chain with their codes", () => {
    const d: Delegation = { requester_identity: "agent-1", issued_at: GO_ZERO_TIME, expires_at: GO_ZERO_TIME };
    const { signature: _s, ...unsigned } = mint();
    const ev = evaluateDelegation({ ...base, delegation: d, tokens: [unsigned], now: NOW });
    expect(ev.reasons).toEqual(["delegation_chain_insufficient", "delegation_token_missing", "delegation_token_signature_missing"]);
    const ev2 = evaluateDelegation({ ...base, delegation: d, tokens: [mint()], now: new Date("2027-01-01T00:00:00Z") });
    expect(ev2.reasons).toContain("delegation_token_expired");
    expect(ev2.granted).toBe(false);
  });
});
