/**
 * The approval flow end to end on the real server: require_approval -> pending request -> operator grant -> allow
 * once (single use) -> replay refused; a used token presented beside fresh ones (only the fresh ones count and are
 * consumed); delegated calls (tokens bound to the delegation); denial, token expiry, request expiry, minting for
 * digests, Gait's reuse behaviour behind --approval-reuse, and durability of requests and consumed tokens across a
 * restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { ApprovalDecision, ApprovalState } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { delegationDigest, normalizeIntent } from "../../src/engine/intent.js";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BASE_POLICY, ROOT, cleanup, errorReason, intent, rejects, startServer, type Server } from "./harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const write = (args: Record<string, unknown>) => ({ input: { case: "intent" as const, value: intent("tool.write", args) } });
/** BASE_POLICY plus a two-approver rule (require_distinct_approvers is implied by min_approvals > 1). */
const POLICY = `${BASE_POLICY}  - name: approve-deploy
    priority: 40
    effect: require_approval
    min_approvals: 2
    match:
      tool_names: [tool.deploy]
`;
/** Mint a token for bare digests (Approve's `digests` target). */
const mintFor = (r: { intentDigest: string; policyDigest: string }, approver: string, scopes: string[], delegationBindingDigest = "") => ({
  target: { case: "digests" as const, value: { intentDigest: r.intentDigest, policyDigest: r.policyDigest, delegationBindingDigest } },
  decision: ApprovalDecision.GRANT,
  approver,
  reasonCode: "cli",
  ttl: { seconds: 60n },
  scopes,
});
const grant = (id: string, ttlSeconds = 60n) => ({
  target: { case: "approvalRequestId" as const, value: id },
  decision: ApprovalDecision.GRANT,
  approver: "ops@example.com",
  reasonCode: "change_ticket_42",
  ttl: { seconds: ttlSeconds },
});

let s: Server;
beforeAll(async () => {
  s = await startServer({ policy: POLICY, operator: true, extraArgs: ["--approval-request-ttl", "3s"] });
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

  it("a used token beside a fresh one: the fresh one alone decides, and only it is consumed", async () => {
    const call = write({ path: "/mixed" });
    const r1 = await s.gate.evaluate(call);
    const g1 = await s.op.approve(grant(r1.approvalRequestId));
    expect((await s.gate.evaluate({ ...call, approvalTokens: [g1.tokenJson] })).verdict).toBe(Verdict.ALLOW);
    const r2 = await s.gate.evaluate(call);
    expect(r2.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    const g2 = await s.op.approve(grant(r2.approvalRequestId));

    const mixed = await s.gate.evaluate({ ...call, approvalTokens: [g1.tokenJson, g2.tokenJson] });
    expect(mixed.verdict).toBe(Verdict.ALLOW);
    expect(mixed.approvalRef).toBe(g2.tokenId);
    expect(mixed.reasonCodes).toEqual(expect.arrayContaining(["approval_granted", "approval_token_consumed"]));
    expect((await s.gate.getApproval({ approvalRequestId: r2.approvalRequestId })).request?.state).toBe(ApprovalState.CONSUMED);

    // both used now: refused, reported as used (invalid) tokens rather than as no token at all
    const again = await s.gate.evaluate({ ...call, approvalTokens: [g1.tokenJson, g2.tokenJson] });
    expect(again.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(again.reasonCodes).toEqual(expect.arrayContaining(["approval_token_consumed", "approval_chain_insufficient"]));
    expect(again.reasonCodes).not.toContain("approval_token_missing");
  });

  it("unconsumed tokens short of the quorum are not consumed", async () => {
    const call = { input: { case: "intent" as const, value: intent("tool.deploy", { env: "prod" }) } };
    const r = await s.gate.evaluate(call);
    expect(r.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(r.requiredApprovals).toBe(2);
    const scopes = ["tool:tool.deploy"];
    const [a, b, c, d] = await Promise.all(["alice", "bob", "carol", "dave"].map((who) => s.op.approve(mintFor(r, who, scopes))));
    expect((await s.gate.evaluate({ ...call, approvalTokens: [a!.tokenJson, b!.tokenJson] })).verdict).toBe(Verdict.ALLOW);

    const short = await s.gate.evaluate({ ...call, approvalTokens: [a!.tokenJson, c!.tokenJson] });
    expect(short.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(short.validApprovals).toBe(1);
    expect(short.reasonCodes).toEqual(expect.arrayContaining(["approval_token_consumed", "approval_chain_insufficient"]));

    // c was not burned by the refused call: with d it meets the quorum
    const ok = await s.gate.evaluate({ ...call, approvalTokens: [c!.tokenJson, d!.tokenJson] });
    expect(ok.verdict).toBe(Verdict.ALLOW);
    expect(ok.approvalRef).toBe([c!.tokenId, d!.tokenId].sort().join(","));
  });

  it("a delegated call granted by request id gets allow once (the token carries the delegation binding)", async () => {
    const delegation = { requester_identity: "agent-1", chain: [{ delegator_identity: "alice", delegate_identity: "agent-1" }] };
    const value = {
      ...intent("tool.write", { path: "/delegated" }),
      delegation: { requesterIdentity: delegation.requester_identity, chain: [{ delegatorIdentity: "alice", delegateIdentity: "agent-1" }] },
    };
    const call = { input: { case: "intent" as const, value } };
    const first = await s.gate.evaluate(call);
    expect(first.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    const binding = delegationDigest(
      normalizeIntent({
        tool_name: "tool.write",
        args: { path: "/delegated" },
        targets: [{ kind: "path", value: "/tmp/x", operation: "write" }],
        context: { identity: "agent-1", workspace: "/work", risk_class: "low" },
        delegation,
      }).delegation!,
    );

    // a token without the binding is refused for a delegated call
    const unbound = await s.op.approve(mintFor(first, "ops", ["tool:tool.write"]));
    const refused = await s.gate.evaluate({ ...call, approvalTokens: [unbound.tokenJson] });
    expect(refused.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(refused.reasonCodes).toContain("approval_token_delegation_binding_mismatch");
    expect(refused.approvalRequestId).toBe(first.approvalRequestId);

    const g = await s.op.approve(grant(first.approvalRequestId));
    expect((JSON.parse(g.tokenJson) as { delegation_binding_digest?: string }).delegation_binding_digest).toBe(binding);
    const allowed = await s.gate.evaluate({ ...call, approvalRequestId: first.approvalRequestId });
    expect(allowed.verdict).toBe(Verdict.ALLOW);
    expect(allowed.approvalRef).toBe(g.tokenId);
    const replay = await s.gate.evaluate({ ...call, approvalRequestId: first.approvalRequestId });
    expect(replay.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(replay.reasonCodes).toContain("approval_token_consumed");
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

  it("grants and denials are signed operator_action records in the trace log, exported with their summary", async () => {
    const r = await s.gate.evaluate(write({ path: "/audited" }));
    const g = await s.op.approve(grant(r.approvalRequestId));
    await s.op.approve({ ...grant(r.approvalRequestId), decision: ApprovalDecision.DENY, reasonCode: "changed_my_mind" });
    const head = (await s.gate.getServerInfo({})).traceHeadSequence;
    const entries = [];
    for await (const e of s.gate.exportTraces({ fromSequence: head - 1n })) entries.push(e);
    expect(entries.map((e) => [e.kind, e.action, e.identity])).toEqual([
      ["operator_action", "approval_grant", "ops@example.com"],
      ["operator_action", "approval_deny", "ops@example.com"],
    ]);
    const [grantRec, denyRec] = entries.map((e) => JSON.parse(e.recordJson) as Record<string, unknown>);
    expect(grantRec).toMatchObject({ schema_id: "gait.gate.operator_action", action: "approval_grant", approval_request_id: r.approvalRequestId, token_id: g.tokenId, intent_digest: r.intentDigest });
    expect(denyRec).toMatchObject({ action: "approval_deny", reason_code: "changed_my_mind", revoked_token_ids: [g.tokenId] });
    expect(entries[1]!.reasonCodes).toEqual(["changed_my_mind"]);
    // decisions carry kind "decision" and the agent's identity
    const dec = [];
    for await (const e of s.gate.exportTraces({ fromSequence: r.traceSequence, maxEntries: 1n })) dec.push(e);
    expect([dec[0]!.kind, dec[0]!.toolName, dec[0]!.identity, dec[0]!.verdict]).toEqual(["decision", "tool.write", "agent-1", Verdict.REQUIRE_APPROVAL]);
    // verifiable offline like decisions: `gait trace verify <dir>` checks every record's signature
    const v = spawnSync(process.execPath, [join(ROOT, "bin", "gait"), "trace", "verify", s.traceDir, "--public-key", join(s.stateDir, "keys", "dev_public.key"), "--json"], { encoding: "utf8" });
    expect(v.status, v.stderr + v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true });
  });

  it("pending requests and consumed tokens survive a restart", async () => {
    const r = await s.gate.evaluate(write({ path: "/durable" }));
    const used = await s.gate.evaluate(write({ path: "/used" }));
    const g = await s.op.approve(grant(used.approvalRequestId));
    expect((await s.gate.evaluate({ ...write({ path: "/used" }), approvalTokens: [g.tokenJson] })).verdict).toBe(Verdict.ALLOW);
    expect(await s.stop()).toBe(0);
    s = await startServer({ policy: POLICY, operator: true, dir: s.dir, extraArgs: ["--approval-request-ttl", "3s"] });
    // it survived (still pending, or expired if the restart outlasted --approval-request-ttl 3s on a loaded machine)
    const kept = await s.gate.getApproval({ approvalRequestId: r.approvalRequestId });
    expect([ApprovalState.PENDING, ApprovalState.EXPIRED]).toContain(kept.request?.state);
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
