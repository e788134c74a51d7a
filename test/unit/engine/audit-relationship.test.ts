/**
 * Relationship envelopes of the audit records (issue 9 item 8), written from Gait's buildApprovalAuditRelationship
 * and buildDelegationAuditRelationship (core/gate/relationship.go): refs normalized (kind, then id), agent chain by
 * (role, identity), edges by (kind, from, to), related_entity_ids the sorted unique ids, empty parts omitted.
 */
import { describe, expect, it } from "vitest";
import { approvalAuditRelationship, delegationAuditRelationship } from "../../../src/engine/trace.js";

const T = "0123456789abcdef01234567";
const P = "A".repeat(64);
const p = P.toLowerCase();

describe("approvalAuditRelationship", () => {
  it("trace parent, trace/tool/policy/approver refs, tool governed_by policy", () => {
    expect(approvalAuditRelationship(T, " tool.write ", P, ["zed", "amy", "amy", " "])).toEqual({
      parent_ref: { kind: "trace", id: T },
      entity_refs: [
        { kind: "agent", id: "amy" }, { kind: "agent", id: "zed" }, { kind: "policy", id: p },
        { kind: "tool", id: "tool.write" }, { kind: "trace", id: T },
      ],
      policy_ref: { policy_digest: p },
      edges: [{ kind: "governed_by", from: { kind: "tool", id: "tool.write" }, to: { kind: "policy", id: p } }],
      parent_record_id: T,
      related_entity_ids: [p, T, "amy", "tool.write", "zed"].sort(),
    });
  });

  it("omits what it has no value for, and is absent when nothing is known", () => {
    expect(approvalAuditRelationship("", "tool.x", "", [])).toEqual({ entity_refs: [{ kind: "tool", id: "tool.x" }], related_entity_ids: ["tool.x"] });
    expect(approvalAuditRelationship("", "", "", [])).toBeUndefined();
  });
});

describe("delegationAuditRelationship", () => {
  it("adds delegator/delegate agents, their roles and a delegates_to edge per complete entry", () => {
    const rel = delegationAuditRelationship(T, "tool.deploy", P, [
      { delegator_identity: "bob", delegate_identity: "alice" },
      { delegator_identity: "carol" },
      { delegator_identity: "bob", delegate_identity: "alice" },
    ]);
    expect(rel).toEqual({
      parent_ref: { kind: "trace", id: T },
      entity_refs: [
        { kind: "agent", id: "alice" }, { kind: "agent", id: "bob" }, { kind: "agent", id: "carol" },
        { kind: "policy", id: p }, { kind: "tool", id: "tool.deploy" }, { kind: "trace", id: T },
      ],
      policy_ref: { policy_digest: p },
      agent_chain: [
        { identity: "alice", role: "delegate" }, { identity: "bob", role: "delegator" }, { identity: "carol", role: "delegator" },
      ],
      edges: [
        { kind: "delegates_to", from: { kind: "agent", id: "bob" }, to: { kind: "agent", id: "alice" } },
        { kind: "governed_by", from: { kind: "tool", id: "tool.deploy" }, to: { kind: "policy", id: p } },
      ],
      parent_record_id: T,
      related_entity_ids: [p, T, "alice", "bob", "carol", "tool.deploy"].sort(),
    });
  });
});
