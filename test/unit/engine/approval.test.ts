import { describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { sha256Hex } from "../../../src/engine/canon.js";
import { signDocument } from "../../../src/engine/signature.js";
import {
  APPROVAL_TOKEN_CODES,
  TokenMintError,
  approvalContext,
  approvalOpCount,
  approvalTargetCount,
  buildApprovalAudit,
  evaluateApprovals,
  mintApprovalToken,
  parseApprovalToken,
  requiredApprovalScopes,
  tokenTime,
  validateApprovalToken,
  type ApprovalValidationContext,
} from "../../../src/engine/approval.js";
import type { ApprovalToken, IntentRequest, Target } from "../../../src/engine/types.js";

const key = Ed25519KeyPair.generate();
const otherKey = Ed25519KeyPair.generate();
const INTENT = "a".repeat(64);
const POLICY = "b".repeat(64);
const DELEG = "c".repeat(64);
const NOW = new Date("2026-03-01T12:00:00Z");
const HOUR = 3_600_000;

function mint(over: Partial<Parameters<typeof mintApprovalToken>[0]> = {}, signer = key, now = NOW): ApprovalToken {
  return mintApprovalToken(
    { intentDigest: INTENT, policyDigest: POLICY, ttlMs: HOUR, scope: ["tool:tool.write"], approver: "alice", reasonCode: "change_approved", ...over },
    signer,
    now,
  );
}

const ctx: ApprovalValidationContext = { intentDigest: INTENT, policyDigest: POLICY, requiredScope: ["tool:tool.write"], targetCount: 1, opCount: 1 };

/** Re-sign a (modified) token so only the intended check fails. */
function resign(t: ApprovalToken, signer = key): ApprovalToken {
  const { signature: _s, ...rest } = t;
  return { ...rest, signature: signDocument(rest, signer) };
}

function intent(targets: Partial<Target>[] = [], phase = "apply", extra: Partial<IntentRequest> = {}): IntentRequest {
  return {
    schema_id: "gait.gate.intent_request",
    schema_version: "1.0.0",
    created_at: "1980-01-01T00:00:00Z",
    tool_name: "tool.write",
    args: {},
    args_digest: "d".repeat(64),
    intent_digest: INTENT,
    targets: targets.map((t) => ({ kind: "path", value: "/tmp/x", ...t })),
    context: { identity: "bob", workspace: "/repo", risk_class: "high", phase },
    ...extra,
  };
}

describe("mintApprovalToken", () => {
  it("builds Gait's token: id formula, expiry, Go times, signature over the token without signature", () => {
    const t = mint({ scope: ["Tool:Tool.Write", " tool:tool.write", "phase:apply"], maxTargets: 3 });
    expect(t.schema_id).toBe("gait.gate.approval_token");
    expect(t.schema_version).toBe("1.0.0");
    expect(t.created_at).toBe("2026-03-01T12:00:00Z");
    expect(t.expires_at).toBe("2026-03-01T13:00:00Z");
    expect(t.scope).toEqual(["phase:apply", "tool:tool.write"]);
    expect(t.producer_version).toBe("0.0.0-dev");
    expect(t.max_targets).toBe(3);
    expect(t.max_ops).toBeUndefined();
    const idSrc = `${INTENT}:${POLICY}:alice:change_approved:phase:apply,tool:tool.write:3:0:2026-03-01T13:00:00Z`;
    expect(t.token_id).toBe(sha256Hex(idSrc).slice(0, 24));
    const { signature, ...rest } = t;
    expect(signature).toEqual(signDocument(rest, key));
    expect(signature!.key_id).toBe(key.keyId);
  });

  it("keeps nanosecond precision of the ttl in expires_at", () => {
    expect(mint({ ttlMs: 1.5e-3 }).expires_at).toBe("2026-03-01T12:00:00.0000015Z");
  });

  it.each([
    [{ ttlMs: 0 }, "ttl must be greater than 0"],
    [{ intentDigest: "xyz" }, "intent_digest must be sha256 hex"],
    [{ policyDigest: "" }, "policy_digest must be sha256 hex"],
    [{ delegationBindingDigest: "nothex" }, "delegation_binding_digest must be sha256 hex when set"],
    [{ approver: "  " }, "approver identity is required"],
    [{ reasonCode: "" }, "reason code is required"],
    [{ scope: [" ", ""] }, "scope must include at least one value"],
    [{ maxTargets: -1 }, "max_targets must be >= 0"],
    [{ maxOps: -2 }, "max_ops must be >= 0"],
  ])("refuses %o", (over, message) => {
    expect(() => mint(over)).toThrow(TokenMintError);
    expect(() => mint(over)).toThrow(message);
  });
});

describe("parseApprovalToken", () => {
  it("throws only for non-objects", () => {
    for (const bad of [null, 1, "x", [], true]) expect(() => parseApprovalToken(bad)).toThrow(TypeError);
  });
  it("round-trips a minted token through JSON and validates", () => {
    const t = parseApprovalToken(JSON.parse(JSON.stringify(mint())));
    expect(validateApprovalToken(t, ctx, key, NOW)).toBeUndefined();
  });
  it.each([
    ["wrong field type", { max_targets: "3" }],
    ["fractional integer", { max_ops: 1.5 }],
    ["unknown field", { extra_field: true }],
    ["scope not strings", { scope: [1] }],
    ["signature not an object", { signature: "abc" }],
  ])("a %s yields approval_token_invalid (no throw)", (_n, patch) => {
    const t = parseApprovalToken({ ...JSON.parse(JSON.stringify(mint())), ...patch });
    expect(validateApprovalToken(t, ctx, key, NOW)).toBe("approval_token_invalid");
  });
});

describe("validateApprovalToken: every code, in Gait's order", () => {
  const good = mint({ maxTargets: 2, maxOps: 2 });

  it("accepts a valid token", () => {
    expect(validateApprovalToken(good, ctx, key, NOW)).toBeUndefined();
    expect(validateApprovalToken(good, ctx, key.verifier(), NOW)).toBeUndefined();
  });

  it("lists the ten codes in order", () => {
    expect(APPROVAL_TOKEN_CODES).toEqual([
      "approval_token_invalid",
      "approval_token_signature_missing",
      "approval_token_signature_invalid",
      "approval_token_intent_mismatch",
      "approval_token_policy_mismatch",
      "approval_token_delegation_binding_mismatch",
      "approval_token_expired",
      "approval_token_scope_mismatch",
      "approval_token_max_targets_exceeded",
      "approval_token_max_ops_exceeded",
    ]);
  });

  it.each([
    ["schema_id", { schema_id: "gait.gate.other" }],
    ["schema_version", { schema_version: "2.0.0" }],
    ["token_id", { token_id: "  " }],
    ["approver", { approver_identity: "" }],
    ["reason", { reason_code: "" }],
    ["intent digest not hex", { intent_digest: "abc" }],
    ["policy digest not hex", { policy_digest: "z".repeat(64) }],
    ["delegation digest not hex", { delegation_binding_digest: "12" }],
    ["empty scope", { scope: [] }],
    ["negative max_targets", { max_targets: -1 }],
    ["negative max_ops", { max_ops: -1 }],
    ["missing created_at", { created_at: "" }],
    ["zero expires_at", { expires_at: "0001-01-01T00:00:00Z" }],
    ["unparsable expires_at", { expires_at: "tomorrow" }],
  ])("invalid: %s (checked before the signature)", (_n, patch) => {
    const t = { ...good, ...patch } as ApprovalToken;
    expect(validateApprovalToken(t, ctx, key, NOW)).toBe("approval_token_invalid");
    expect(validateApprovalToken(t, ctx, undefined, NOW)).toBe("approval_token_invalid");
  });

  it("no verify key => signature_invalid, even for an unsigned token", () => {
    expect(validateApprovalToken(good, ctx, undefined, NOW)).toBe("approval_token_signature_invalid");
    const { signature: _s, ...unsigned } = good;
    expect(validateApprovalToken(unsigned, ctx, undefined, NOW)).toBe("approval_token_signature_invalid");
  });

  it("signature missing", () => {
    const { signature: _s, ...unsigned } = good;
    // also expired and mismatched: the signature check comes first
    expect(validateApprovalToken({ ...unsigned, intent_digest: "e".repeat(64) }, ctx, key, new Date("2030-01-01T00:00:00Z"))).toBe(
      "approval_token_signature_missing",
    );
  });

  it("signature invalid: tampered field, wrong key, bad encoding, wrong alg", () => {
    expect(validateApprovalToken({ ...good, approver_identity: "mallory" }, ctx, key, NOW)).toBe("approval_token_signature_invalid");
    expect(validateApprovalToken(good, ctx, otherKey, NOW)).toBe("approval_token_signature_invalid");
    expect(validateApprovalToken(mint({}, otherKey), ctx, key, NOW)).toBe("approval_token_signature_invalid");
    expect(validateApprovalToken({ ...good, signature: { ...good.signature!, sig: "AAAA" } }, ctx, key, NOW)).toBe("approval_token_signature_invalid");
    expect(validateApprovalToken({ ...good, signature: { ...good.signature!, alg: "rsa" } }, ctx, key, NOW)).toBe("approval_token_signature_invalid");
  });

  it("verifies over the normalized token (Gait re-marshals before verifying)", () => {
    const t = { ...good, scope: [" TOOL:tool.write", "tool:tool.write"], intent_digest: INTENT.toUpperCase(), token_id: ` ${good.token_id} ` };
    expect(validateApprovalToken(t, ctx, key, NOW)).toBeUndefined();
  });

  it("intent mismatch before policy mismatch before binding before expiry", () => {
    const expired = new Date("2030-01-01T00:00:00Z");
    const wrongAll = resign({ ...good, intent_digest: "e".repeat(64), policy_digest: "f".repeat(64) });
    expect(validateApprovalToken(wrongAll, { ...ctx, delegationBindingDigest: DELEG }, key, expired)).toBe("approval_token_intent_mismatch");
    const wrongPolicy = resign({ ...good, policy_digest: "f".repeat(64) });
    expect(validateApprovalToken(wrongPolicy, { ...ctx, delegationBindingDigest: DELEG }, key, expired)).toBe("approval_token_policy_mismatch");
    expect(validateApprovalToken(good, { ...ctx, delegationBindingDigest: DELEG }, key, expired)).toBe("approval_token_delegation_binding_mismatch");
    expect(validateApprovalToken(good, ctx, key, expired)).toBe("approval_token_expired");
  });

  it("delegation binding is checked only when the intent has a delegation", () => {
    const bound = mint({ delegationBindingDigest: DELEG });
    expect(validateApprovalToken(bound, { ...ctx, delegationBindingDigest: DELEG }, key, NOW)).toBeUndefined();
    expect(validateApprovalToken(bound, ctx, key, NOW)).toBeUndefined();
    expect(validateApprovalToken(bound, { ...ctx, delegationBindingDigest: "9".repeat(64) }, key, NOW)).toBe(
      "approval_token_delegation_binding_mismatch",
    );
  });

  it("expiry boundary: now >= expires_at is expired", () => {
    const expires = new Date(NOW.getTime() + HOUR);
    expect(validateApprovalToken(good, ctx, key, new Date(expires.getTime() - 1))).toBeUndefined();
    expect(validateApprovalToken(good, ctx, key, expires)).toBe("approval_token_expired");
    // sub-millisecond expiry: expires at .0000015 => still valid at the exact millisecond, expired 1 ms later
    const tiny = mint({ ttlMs: 1.5e-3 });
    expect(validateApprovalToken(tiny, ctx, key, NOW)).toBeUndefined();
    expect(validateApprovalToken(tiny, ctx, key, new Date(NOW.getTime() + 1))).toBe("approval_token_expired");
  });

  it("expiry before scope", () => {
    const t = mint({ scope: ["tool:other"] });
    expect(validateApprovalToken(t, ctx, key, new Date("2030-01-01T00:00:00Z"))).toBe("approval_token_expired");
    expect(validateApprovalToken(t, ctx, key, NOW)).toBe("approval_token_scope_mismatch");
  });

  it("scope is all-of; `*` matches everything", () => {
    const need = { ...ctx, requiredScope: ["tool:tool.write", "phase:apply", "destructive:apply"] };
    expect(validateApprovalToken(mint({ scope: ["tool:tool.write", "phase:apply"] }), need, key, NOW)).toBe("approval_token_scope_mismatch");
    expect(validateApprovalToken(mint({ scope: ["tool:tool.write", "phase:apply", "destructive:apply"] }), need, key, NOW)).toBeUndefined();
    expect(validateApprovalToken(mint({ scope: ["*"] }), need, key, NOW)).toBeUndefined();
    // the runbook's `tool.write` form does not satisfy `tool:tool.write`
    expect(validateApprovalToken(mint({ scope: ["tool.write"] }), ctx, key, NOW)).toBe("approval_token_scope_mismatch");
  });

  it("scope before max_targets before max_ops; 0 means unlimited", () => {
    const t = mint({ maxTargets: 1, maxOps: 1, scope: ["tool:x"] });
    const big = { ...ctx, targetCount: 5, opCount: 5 };
    expect(validateApprovalToken(t, big, key, NOW)).toBe("approval_token_scope_mismatch");
    expect(validateApprovalToken(mint({ maxTargets: 1, maxOps: 1 }), big, key, NOW)).toBe("approval_token_max_targets_exceeded");
    expect(validateApprovalToken(mint({ maxTargets: 5, maxOps: 1 }), big, key, NOW)).toBe("approval_token_max_ops_exceeded");
    expect(validateApprovalToken(mint({ maxTargets: 5, maxOps: 5 }), big, key, NOW)).toBeUndefined();
    expect(validateApprovalToken(mint(), big, key, NOW)).toBeUndefined();
  });
});

describe("token time encoding", () => {
  it("re-encodes like Go: trailing zeros trimmed, offset kept, zero offset => Z", () => {
    expect(tokenTime("2026-01-01T10:00:00.500000000+02:00")!.json).toBe("2026-01-01T10:00:00.5+02:00");
    expect(tokenTime("2026-01-01T10:00:00+00:00")!.json).toBe("2026-01-01T10:00:00Z");
    expect(tokenTime("2026-01-01T10:00:00.120Z")!.json).toBe("2026-01-01T10:00:00.12Z");
    expect(tokenTime("0001-01-01T00:00:00Z")).toBeUndefined();
    expect(tokenTime("nope")).toBeUndefined();
  });
  it("a token signed with an offset timestamp verifies and expires at the right instant", () => {
    const base = mint();
    const t = resign({ ...base, expires_at: "2026-03-01T14:00:00+02:00" }); // == 12:00Z
    expect(validateApprovalToken(t, ctx, key, new Date("2026-03-01T11:59:59.999Z"))).toBeUndefined();
    expect(validateApprovalToken(t, ctx, key, NOW)).toBe("approval_token_expired");
  });
});

describe("required scope and counts", () => {
  it("tool scope only without a destructive target", () => {
    expect(requiredApprovalScopes(intent([{ destructive: false }]))).toEqual(["tool:tool.write"]);
  });
  it("adds phase/destructive for a destructive apply", () => {
    expect(requiredApprovalScopes(intent([{ destructive: true }]))).toEqual(["destructive:apply", "phase:apply", "tool:tool.write"]);
  });
  it("plan phase never adds them", () => {
    expect(requiredApprovalScopes(intent([{ destructive: true }], "plan"))).toEqual(["tool:tool.write"]);
  });
  it("counts targets and operations like Gait", () => {
    expect(approvalTargetCount(intent())).toBe(0);
    expect(approvalOpCount(intent())).toBe(1);
    expect(approvalOpCount(intent([{}, {}, {}]))).toBe(3);
    const script = intent([], "apply", {
      script: {
        steps: [
          { tool_name: "a", args: {}, targets: [{ kind: "path", value: "/a" }, { kind: "path", value: "/b" }] },
          { tool_name: "b", args: {} },
        ],
      },
    });
    expect(approvalTargetCount(script)).toBe(2);
    expect(approvalOpCount(script)).toBe(2);
    const scriptNoTargets = intent([{}], "apply", { script: { steps: [{ tool_name: "a", args: {} }] } });
    expect(approvalTargetCount(scriptNoTargets)).toBe(1);
  });
  it("approvalContext binds intent, policy and optional delegation digest", () => {
    const c = approvalContext(intent([{ destructive: true }]), POLICY, DELEG);
    expect(c).toEqual({
      intentDigest: INTENT,
      policyDigest: POLICY,
      delegationBindingDigest: DELEG,
      requiredScope: ["destructive:apply", "phase:apply", "tool:tool.write"],
      targetCount: 1,
      opCount: 1,
    });
  });
});

describe("evaluateApprovals (quorum)", () => {
  const base = { requireDistinctApprovers: false, context: ctx, verifier: key, now: NOW };

  it("no tokens => approval_token_missing / approval_not_granted", () => {
    const ev = evaluateApprovals({ ...base, tokens: [], requiredApprovals: 1 });
    expect(ev.granted).toBe(false);
    expect(ev.reasons).toEqual(["approval_token_missing"]);
    expect(ev.violations).toEqual(["approval_not_granted"]);
    expect(ev.audit).toEqual({ required_approvals: 1, valid_approvals: 0, approved: false, approvers: [], entries: [] });
  });

  it("one valid token grants a single required approval; min_approvals 0 means 1", () => {
    const t = mint();
    const ev = evaluateApprovals({ ...base, tokens: [t], requiredApprovals: 0 });
    expect(ev.granted).toBe(true);
    expect(ev.required).toBe(1);
    expect(ev.reasons).toEqual(["approval_granted"]);
    expect(ev.violations).toEqual([]);
    expect(ev.approvalRef).toBe(t.token_id);
    expect(ev.audit.approved).toBe(true);
    expect(ev.audit.approvers).toEqual(["alice"]);
    expect(ev.audit.entries).toEqual([
      { token_id: t.token_id, approver_identity: "alice", reason_code: "change_approved", scope: ["tool:tool.write"], expires_at: "2026-03-01T13:00:00Z", valid: true },
    ]);
  });

  it("invalid tokens add their codes; too few valid => approval_chain_insufficient", () => {
    const expired = mint({ ttlMs: 1 }, key, new Date("2026-01-01T00:00:00Z"));
    const wrongScope = mint({ scope: ["tool:other"], approver: "carol" });
    const ev = evaluateApprovals({ ...base, tokens: [expired, wrongScope, mint()], requiredApprovals: 2 });
    expect(ev.granted).toBe(false);
    expect(ev.reasons).toEqual(["approval_chain_insufficient", "approval_token_expired", "approval_token_scope_mismatch"]);
    expect(ev.violations).toEqual(["approval_not_granted"]);
    expect(ev.validCount).toBe(1);
    expect(ev.approvalRef).toBeUndefined();
    expect(ev.audit.entries.map((e) => e.error_code ?? "ok").sort()).toEqual(["approval_token_expired", "approval_token_scope_mismatch", "ok"]);
  });

  it("two valid tokens from one approver fail a distinct-approver quorum of 2", () => {
    const a1 = mint({ reasonCode: "r1" });
    const a2 = mint({ reasonCode: "r2" });
    const ev = evaluateApprovals({ ...base, tokens: [a1, a2], requiredApprovals: 2, requireDistinctApprovers: true });
    expect(ev.granted).toBe(false);
    expect(ev.reasons).toEqual(["approval_distinct_approvers_required"]);
    expect(ev.violations).toEqual(["approval_not_granted"]);
    expect(ev.validCount).toBe(2);
    // without the distinct requirement the same tokens satisfy the quorum
    expect(evaluateApprovals({ ...base, tokens: [a1, a2], requiredApprovals: 2 }).granted).toBe(true);
  });

  it("distinct approvers grant; approval_ref is the sorted token ids", () => {
    const a = mint({ approver: "alice" });
    const b = mint({ approver: "bob" });
    const ev = evaluateApprovals({ ...base, tokens: [b, a], requiredApprovals: 2, requireDistinctApprovers: true });
    expect(ev.granted).toBe(true);
    expect(ev.approvalRef).toBe([a.token_id, b.token_id].sort().join(","));
    expect(ev.audit.approvers).toEqual(["alice", "bob"]);
    expect(ev.audit.entries.map((e) => e.token_id)).toEqual([a.token_id, b.token_id].sort());
  });

  it("a malformed token in the chain is audited, not thrown; its code stays even when the quorum is met (Gait)", () => {
    const bad = parseApprovalToken({ token_id: 7, approver_identity: "x" });
    const ev = evaluateApprovals({ ...base, tokens: [bad, mint()], requiredApprovals: 1 });
    expect(ev.granted).toBe(true);
    expect(ev.reasons).toEqual(["approval_granted", "approval_token_invalid"]);
    expect(evaluateApprovals({ ...base, tokens: [bad], requiredApprovals: 1 }).granted).toBe(false);
    expect(ev.audit.entries.find((e) => !e.valid)).toMatchObject({ token_id: "", approver_identity: "x", expires_at: "0001-01-01T00:00:00Z" });
  });

  it("audit entries sort by token id, approver, reason, expiry, scope", () => {
    const entries = [
      { token_id: "b", approver_identity: "x", reason_code: "r", scope: ["s"], expires_at: "2026-01-01T00:00:00Z", valid: true },
      { token_id: "a", approver_identity: "y", reason_code: "r", scope: ["s"], expires_at: "2026-01-02T00:00:00Z", valid: false, error_code: "approval_token_expired" },
      { token_id: "a", approver_identity: "y", reason_code: "r", scope: ["s"], expires_at: "2026-01-01T00:00:00Z", valid: true },
    ];
    const audit = buildApprovalAudit(2, entries);
    expect(audit.entries.map((e) => `${e.token_id}${e.expires_at.slice(8, 10)}`)).toEqual(["a01", "a02", "b01"]);
    expect(audit).toMatchObject({ required_approvals: 2, valid_approvals: 2, approved: true, approvers: ["x", "y"] });
  });
});
