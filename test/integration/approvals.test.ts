/**
 * The approval flow end to end on the real server: require_approval -> pending request -> operator grant -> allow
 * once (single use) -> replay refused; denial, token expiry, request expiry, minting for digests, Gait's reuse
 * behaviour behind --approval-reuse, and durability of requests and consumed tokens across a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { ApprovalDecision, ApprovalState } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { BASE_POLICY, cleanup, errorReason, intent, rejects, startServer, type Server } from "./harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const write = (args: Record<string, unknown>) => ({ input: { case: "intent" as const, value: intent("tool.write", args) } });
const grant = (id: string, ttlSeconds = 60n) => ({
  target: { case: "approvalRequestId" as const, value: id },
  decision: ApprovalDecision.GRANT,
  approver: "ops@example.com",
  reasonCode: "change_ticket_42",
  ttl: { seconds: ttlSeconds },
});

let s: Server;
beforeAll(async () => {
  s = await startServer({ policy: BASE_POLICY, operator: true, extraArgs: ["--approval-request-ttl", "3s"] });
});
afterAll(async () => {
  await s?.stop();
  if (s) cleanup(s.dir);
});

describe("approval flow", () => {
  it("grant -> allow once -> replay refused (by request id and by inline token)", async () => {
    const first = await s.gate.evaluate(write({ path: "/etc/app.conf" }));
    expect(first.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    const id = first.approvalRequestId;
    // the same call again while pending reuses the pending request
    expect((await s.gate.evaluate(write({ path: "/etc/app.conf" }))).approvalRequestId).toBe(id);

    const pending = await s.op.listApprovals({});
    const info = pending.requests.find((r) => r.approvalRequestId === id)!;
    expect(info.state).toBe(ApprovalState.PENDING);
    expect(info.intentDigest).toBe(first.intentDigest);
    expect(info.requiredScopes).toContain("tool:tool.write");

    const g = await s.op.approve(grant(id));
    expect(g.request?.state).toBe(ApprovalState.GRANTED);
    const token = JSON.parse(g.tokenJson) as { token_id: string; intent_digest: string; scope: string[]; signature: { key_id: string } };
    expect(token.token_id).toBe(g.tokenId);
    expect(token.intent_digest).toBe(first.intentDigest);
    expect(token.signature.key_id).toBe((await s.gate.getServerInfo({})).keyId);
    expect((await s.gate.getApproval({ approvalRequestId: id })).tokenJsons).toEqual([g.tokenJson]);

    const allowed = await s.gate.evaluate({ ...write({ path: "/etc/app.conf" }), approvalRequestId: id });
    expect(allowed.verdict).toBe(Verdict.ALLOW);
    expect(allowed.reasonCodes).toContain("approval_granted");
    expect(allowed.approvalRef).toBe(g.tokenId);
    expect((await s.gate.getApproval({ approvalRequestId: id })).request?.state).toBe(ApprovalState.CONSUMED);

    const replay = await s.gate.evaluate({ ...write({ path: "/etc/app.conf" }), approvalRequestId: id });
    expect(replay.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(replay.reasonCodes).toContain("approval_token_consumed");
    expect(replay.approvalRequestId).not.toBe(id); // a fresh request for the operator

    const inline = await s.gate.evaluate({ ...write({ path: "/etc/app.conf" }), approvalTokens: [g.tokenJson] });
    expect(inline.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(inline.reasonCodes).toContain("approval_token_consumed");
  });

  it("concurrent calls presenting one token: exactly one allow", async () => {
    const r = await s.gate.evaluate(write({ path: "/race" }));
    const g = await s.op.approve(grant(r.approvalRequestId));
    const results = await Promise.all(
      Array.from({ length: 8 }, () => s.gate.evaluate({ ...write({ path: "/race" }), approvalTokens: [g.tokenJson] })),
    );
    expect(results.filter((x) => x.verdict === Verdict.ALLOW)).toHaveLength(1);
    expect(results.filter((x) => x.verdict === Verdict.REQUIRE_APPROVAL)).toHaveLength(7);
  });

  it("a token is bound to its call: different args do not get allow", async () => {
    const r = await s.gate.evaluate(write({ path: "/bound" }));
    const g = await s.op.approve(grant(r.approvalRequestId));
    const other = await s.gate.evaluate({ ...write({ path: "/other" }), approvalTokens: [g.tokenJson] });
    expect(other.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(other.reasonCodes).toContain("approval_token_intent_mismatch");
  });

  it("denial never turns into allow", async () => {
    const r = await s.gate.evaluate(write({ path: "/deny" }));
    const d = await s.op.approve({ target: { case: "approvalRequestId", value: r.approvalRequestId }, decision: ApprovalDecision.DENY, approver: "ops", reasonCode: "no" });
    expect(d.request?.state).toBe(ApprovalState.DENIED);
    expect(d.request?.deniedBy).toBe("ops");
    expect(d.tokenJson).toBe("");
    const after = await s.gate.evaluate({ ...write({ path: "/deny" }), approvalRequestId: r.approvalRequestId });
    expect(after.verdict).toBe(Verdict.BLOCK);
    expect(after.reasonCodes).toContain("approval_request_denied");
    const again = await rejects(s.op.approve(grant(r.approvalRequestId)));
    expect(again.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(errorReason(again)).toBe("APPROVAL_REQUEST_NOT_PENDING");
  });

  it("an expired token never turns into allow", async () => {
    const r = await s.gate.evaluate(write({ path: "/expire" }));
    await s.op.approve(grant(r.approvalRequestId, 1n));
    await sleep(1200);
    const after = await s.gate.evaluate({ ...write({ path: "/expire" }), approvalRequestId: r.approvalRequestId });
    expect(after.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(after.reasonCodes).toContain("approval_token_expired");
  });

  it("a request nobody answered expires and cannot be granted", async () => {
    const r = await s.gate.evaluate(write({ path: "/stale" }));
    await sleep(3200); // --approval-request-ttl 3s
    expect((await s.gate.getApproval({ approvalRequestId: r.approvalRequestId })).request?.state).toBe(ApprovalState.EXPIRED);
    const e = await rejects(s.op.approve(grant(r.approvalRequestId)));
    expect(errorReason(e)).toBe("APPROVAL_REQUEST_NOT_PENDING");
    const after = await s.gate.evaluate({ ...write({ path: "/stale" }), approvalRequestId: r.approvalRequestId });
    expect(after.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(after.reasonCodes).toContain("approval_request_expired");
    expect(after.approvalRequestId).not.toBe(r.approvalRequestId);
  });

  it("Approve validates its input", async () => {
    const r = await s.gate.evaluate(write({ path: "/validate" }));
    const noTtl = await rejects(s.op.approve({ ...grant(r.approvalRequestId), ttl: undefined }));
    expect(noTtl.code).toBe(grpc.status.INVALID_ARGUMENT);
    const noApprover = await rejects(s.op.approve({ ...grant(r.approvalRequestId), approver: " " }));
    expect(noApprover.code).toBe(grpc.status.INVALID_ARGUMENT);
    const noDecision = await rejects(s.op.approve({ ...grant(r.approvalRequestId), decision: ApprovalDecision.UNSPECIFIED }));
    expect(noDecision.code).toBe(grpc.status.INVALID_ARGUMENT);
    const missing = await rejects(s.op.approve(grant("apr_nope")));
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
    expect(errorReason(missing)).toBe("APPROVAL_REQUEST_NOT_FOUND");
  });

  it("mints a token for bare digests (the gait approve form)", async () => {
    const r = await s.gate.evaluate(write({ path: "/digests" }));
    const m = await s.op.approve({
      target: { case: "digests", value: { intentDigest: r.intentDigest, policyDigest: r.policyDigest } },
      decision: ApprovalDecision.GRANT,
      approver: "ops",
      reasonCode: "cli",
      ttl: { seconds: 60n },
      scopes: ["tool:tool.write"],
    });
    expect(m.request).toBeUndefined();
    const ok = await s.gate.evaluate({ ...write({ path: "/digests" }), approvalTokens: [m.tokenJson] });
    expect(ok.verdict).toBe(Verdict.ALLOW);
  });

  it("pending requests and consumed tokens survive a restart", async () => {
    const r = await s.gate.evaluate(write({ path: "/durable" }));
    const used = await s.gate.evaluate(write({ path: "/used" }));
    const g = await s.op.approve(grant(used.approvalRequestId));
    expect((await s.gate.evaluate({ ...write({ path: "/used" }), approvalTokens: [g.tokenJson] })).verdict).toBe(Verdict.ALLOW);
    expect(await s.stop()).toBe(0);
    s = await startServer({ policy: BASE_POLICY, operator: true, dir: s.dir, extraArgs: ["--approval-request-ttl", "3s"] });
    expect((await s.op.listApprovals({})).requests.map((x) => x.approvalRequestId)).toContain(r.approvalRequestId);
    const replay = await s.gate.evaluate({ ...write({ path: "/used" }), approvalTokens: [g.tokenJson] });
    expect(replay.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(replay.reasonCodes).toContain("approval_token_consumed");
  });
});

describe("--approval-reuse (Gait behaviour)", () => {
  it("lets a granted token allow the same call until it expires", async () => {
    const r = await startServer({ policy: BASE_POLICY, operator: true, extraArgs: ["--approval-reuse"] });
    try {
      const first = await r.gate.evaluate(write({ path: "/reuse" }));
      const g = await r.op.approve(grant(first.approvalRequestId));
      for (let i = 0; i < 3; i++) {
        const x = await r.gate.evaluate({ ...write({ path: "/reuse" }), approvalTokens: [g.tokenJson] });
        expect(x.verdict).toBe(Verdict.ALLOW);
      }
    } finally {
      await r.stop();
      cleanup(r.dir);
    }
  });
});
