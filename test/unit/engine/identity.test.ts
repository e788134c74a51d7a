import { describe, expect, it } from "vitest";
import { identityKey, sameIdentity } from "../../../src/engine/identity.js";
import { evaluateApprovals } from "../../../src/engine/approval.js";
import { mintApprovalToken } from "../../../src/engine/approval.js";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";

describe("identityKey", () => {
  it("folds case, compatibility forms, invisible characters and surrounding space", () => {
    for (const s of ["Bob", "BOB", " bob ", "bob\u200b", "b\u00adob", "\uff42\uff4f\uff42", "b\u202eob", "bo\u200db"]) expect(identityKey(s), JSON.stringify(s)).toBe("bob");
    expect(identityKey("stra\u00dfe")).toBe(identityKey("STRASSE"));
    expect(identityKey("\u200b\u200c")).toBe("");
  });
  it("keeps different names and different scripts apart", () => {
    expect(sameIdentity("bob", "rob")).toBe(false);
    expect(sameIdentity("bob", "b\u043eb")).toBe(false); // Cyrillic o: confusable, not the same identity
    expect(sameIdentity("alice smith", "alice  smith")).toBe(true);
  });
});

describe("require_distinct_approvers counts identities, not spellings (deviation from Gait)", () => {
  const key = Ed25519KeyPair.generate();
  const now = new Date("2026-01-01T00:00:00Z");
  const ctx = { intentDigest: "a".repeat(64), policyDigest: "b".repeat(64), requiredScope: ["tool:tool.deploy"], targetCount: 1, opCount: 1 };
  const token = (who: string) =>
    mintApprovalToken({ intentDigest: ctx.intentDigest, policyDigest: ctx.policyDigest, ttlMs: 60_000, scope: ["tool:tool.deploy"], approver: who, reasonCode: "ok" }, key, now);
  const evaluate = (...who: string[]) => evaluateApprovals({ tokens: who.map(token), requiredApprovals: 2, requireDistinctApprovers: true, context: ctx, verifier: key, now });
  it("bob + Bob (or bob + bob with a zero-width space) is one approver", () => {
    for (const pair of [["bob", "Bob"], ["bob", "bob\u200b"], ["bob", "\uff42\uff4f\uff42"]]) {
      const r = evaluate(...pair);
      expect(r.validCount).toBe(2); // both tokens are valid: only the identity count fails the quorum
      expect(r.reasons).toContain("approval_distinct_approvers_required");
      expect(r.granted).toBe(false);
    }
    expect(evaluate("bob", "alice").granted).toBe(true);
  });
});
