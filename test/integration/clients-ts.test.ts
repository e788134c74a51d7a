/**
 * TypeScript client conformance: every case of test/conformance/clients/cases.yaml through GateClient.guard(),
 * against the real server (started here with the fixed policy) or the fake server for fault cases; then trace export
 * and offline verification of the decisions this suite made.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { inspect } from "node:util";
import {
  GateClient,
  intent,
  target,
  type GateCall,
  keyIdOf,
  verifyTraceEntries,
  verifyTraceRecord,
  verifyTraceSegment,
  type Decision,
  type FailClosedEvent,
  type TraceEntry,
} from "../../clients/typescript/src/index.js";
import { loadCases, startFake, startRealServer, tempDir, toGateCall, type CaseWant, type ConformanceCase, type Fake, type RealServer } from "../conformance/clients/harness.js";

const cases = loadCases();

function checkWant(d: Decision, executed: boolean, want: CaseWant): void {
  expect(d.verdict).toBe(want.verdict);
  expect(d.failClosed).toBe(want.fail_closed);
  expect(d.allowed).toBe(want.verdict === "allow" && !want.fail_closed);
  if (want.reason_codes) expect([...d.reasonCodes]).toEqual(want.reason_codes);
  for (const r of want.reason_codes_include ?? []) expect(d.reasonCodes).toContain(r);
  if (want.error_reason !== undefined) expect(d.errorReason).toBe(want.error_reason);
  expect(executed).toBe(want.executed);
}

async function runCase(c: ConformanceCase, target: string, operatorTarget?: string): Promise<void> {
  const events: FailClosedEvent[] = [];
  const client = new GateClient({ target, ...(c.token !== undefined ? { token: c.token } : {}), onFailClosed: (e) => events.push(e) });
  try {
    let ran = 0;
    const t0 = performance.now();
    const out = await client.guard(toGateCall(c.call), () => {
      ran++;
      return "tool result";
    });
    const ms = performance.now() - t0;
    // Reported, never asserted (no timing thresholds in tests): how fast a fault became a block.
    if (c.fault !== undefined || c.fake === "stale") console.log(`[fail-closed latency] ts ${c.name}: first call ${ms.toFixed(2)} ms`);
    checkWant(out.decision, ran > 0, c.want);
    if (out.executed) expect(out.value).toBe("tool result");
    // fail-closed decisions are counted and logged exactly once; real answers are not
    expect(client.failClosedTotal).toBe(c.want.fail_closed ? 1 : 0);
    expect(events.length).toBe(c.want.fail_closed ? 1 : 0);
    if (c.want.fail_closed) expect(client.failClosedCounts()).toEqual({ [c.want.reason_codes?.[0] ?? ""]: 1 });

    if (c.then === "grant_approval") {
      expect(out.decision.approvalRequestId).not.toBe("");
      const operator = new GateClient({ target: operatorTarget!, timeoutMs: 2000 });
      try {
        const granted = await operator.approve(out.decision.approvalRequestId, {
          approver: "ops@example.com",
          reasonCode: "conformance_grant",
          ttlSeconds: 600,
        });
        expect(granted.tokenJson).not.toBe("");
        expect(granted.request?.state).toBe("granted");
      } finally {
        operator.close();
      }
      const after = await client.evaluateAfterApproval(toGateCall(c.call), out.decision, { intervalMs: 20, waitMs: 5000 });
      let ranAfter = false;
      if (after.allowed) ranAfter = true;
      checkWant(after, ranAfter, c.want_after!);
    }
  } finally {
    client.close();
  }
}

describe("TypeScript client conformance: fakes and faults", () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir("gait-ct-");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const c of cases.filter((x) => x.fake !== undefined || x.fault !== undefined)) {
    it(c.name, async () => {
      if (c.fault === "absent_socket") {
        await runCase(c, `unix://${join(dir, "absent.sock")}`);
        return;
      }
      const fake: Fake = await startFake(c.fake!, dir, { ...(c.tcp ? { tcp: true } : {}), ...(c.server_token !== undefined ? { token: c.server_token } : {}) });
      try {
        await runCase(c, fake.target);
      } finally {
        await fake.stop();
      }
    });
  }
});

describe("TypeScript client conformance: real server", () => {
  let server: RealServer;
  let startError: unknown;
  beforeAll(async () => {
    try {
      server = await startRealServer();
    } catch (e) {
      startError = e; // every test below then FAILS with this error (a missing server is never a skip)
    }
  });
  afterAll(async () => {
    await server?.stop();
  });

  for (const c of cases.filter((x) => x.fake === undefined && x.fault === undefined)) {
    it(c.name, async () => {
      if (startError) throw startError;
      await runCase(c, `unix://${server.socket}`, `unix://${server.operatorSocket}`);
    });
  }

  it("approvals with plain values: list, deny, get, approve, approveDigests (and the agent socket cannot approve)", async () => {
    if (startError) throw startError;
    const agent = new GateClient({ target: `unix://${server.socket}`, timeoutMs: 5000 });
    const op = new GateClient({ target: `unix://${server.operatorSocket}`, timeoutMs: 5000 });
    const write = (path: string): GateCall => ({
      intent: intent({
        tool_name: "tool.write",
        args: { path, content: "x" },
        targets: [target("path", path, "write")],
        context: { identity: "carol", workspace: "/workspace", risk_class: "low" },
      }),
    });
    try {
      const d1 = await agent.evaluate(write("/workspace/deny-me.txt"));
      const d2 = await agent.evaluate(write("/workspace/grant-me.txt"));
      expect([d1.verdict, d2.verdict]).toEqual(["require_approval", "require_approval"]);

      const pending = await op.listApprovals();
      const r1 = pending.requests.find((r) => r.approvalRequestId === d1.approvalRequestId);
      expect(r1).toMatchObject({ state: "pending", toolName: "tool.write", identity: "carol", intentDigest: d1.intentDigest, requiredApprovals: 1, grantedApprovals: 0 });
      expect(r1!.createdAt).toBeInstanceOf(Date);
      expect(pending.requests.some((r) => r.approvalRequestId === d2.approvalRequestId)).toBe(true);

      const denied = await op.deny(d1.approvalRequestId, { approver: "ops@example.com", reason: "not on a Friday" });
      expect(denied.request).toMatchObject({ state: "denied", deniedBy: "ops@example.com", denyReason: "not on a Friday" });
      expect(denied.tokenJson).toBe("");
      expect(inspect(denied)).not.toMatch(/\$typeName|\d+n\b/);
      // the agent's waiter sees the denial and keeps the original, unexecutable decision
      const after = await agent.evaluateAfterApproval(write("/workspace/deny-me.txt"), d1, { intervalMs: 10, waitMs: 2000 });
      expect(after).toBe(d1);
      expect(after.allowed).toBe(false);
      expect((await agent.getApproval(d1.approvalRequestId)).request.state).toBe("denied");
      expect((await op.listApprovals({ states: ["denied"] })).requests.map((r) => r.approvalRequestId)).toContain(d1.approvalRequestId);

      const granted = await op.approve(d2.approvalRequestId, { approver: "ops@example.com", reasonCode: "ticket_7", ttlSeconds: 120 });
      expect(granted.request?.state).toBe("granted");
      expect(JSON.parse(granted.tokenJson)).toMatchObject({ approver_identity: "ops@example.com", reason_code: "ticket_7", intent_digest: d2.intentDigest });
      expect(granted.tokenExpiresAt).toBeInstanceOf(Date);
      const status = await agent.getApproval(d2.approvalRequestId);
      expect([status.request.state, status.tokenJsons]).toEqual(["granted", [granted.tokenJson]]);
      const allowed = await agent.evaluateAfterApproval(write("/workspace/grant-me.txt"), d2, { intervalMs: 10, waitMs: 2000 });
      expect([allowed.verdict, allowed.reasonCodes.includes("approval_granted")]).toEqual(["allow", true]);

      const minted = await op.approveDigests(
        { intentDigest: d1.intentDigest, policyDigest: d1.policyDigest },
        { approver: "ops@example.com", reasonCode: "cli", ttlSeconds: 60, scopes: ["tool:tool.write"] },
      );
      expect(minted.request).toBeUndefined();
      expect(JSON.parse(minted.tokenJson)).toMatchObject({ intent_digest: d1.intentDigest, policy_digest: d1.policyDigest });

      const refused = await agent.approve(d2.approvalRequestId, { approver: "agent", reasonCode: "self", ttlSeconds: 60 }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ name: "GateError", cause: "permission_denied", errorReason: "OPERATOR_ONLY" });
    } finally {
      agent.close();
      op.close();
    }
  });

  it("exports the trace log from a cursor and verifies it offline with the server's public key", async () => {
    if (startError) throw startError;
    const client = new GateClient({ target: `unix://${server.socket}`, timeoutMs: 5000 });
    try {
      const d = await client.evaluate({ intent: { tool_name: "tool.read", args: { path: "/x" }, context: { identity: "v", workspace: "/w", risk_class: "low" } } });
      expect(d.verdict).toBe("allow");
      const info = await client.getServerInfo();
      expect(info.keyId).toBe(await keyIdOf(info.publicKey));
      const entries: TraceEntry[] = [];
      for await (const e of client.exportTraces({ fromSequence: 0 })) entries.push(e);
      expect(entries.length).toBeGreaterThan(0);
      expect(entries.some((e) => e.traceId === d.traceId)).toBe(true);
      const chain = await verifyTraceEntries(entries, info.publicKey);
      expect(chain.error).toBeUndefined();
      expect(chain.ok).toBe(true);
      expect(chain.count).toBe(entries.length);

      // resume from a cursor: only the later entries, still verifiable against the previous head
      const cursor = entries[entries.length - 1]!.sequence;
      const tail: TraceEntry[] = [];
      for await (const e of client.exportTraces({ fromSequence: cursor })) tail.push(e);
      expect(tail.map((e) => e.sequence)).toEqual([cursor]);
      expect((await verifyTraceEntries(tail, info.publicKey, { prevHash: entries[entries.length - 1]!.prevHash })).ok).toBe(true);

      // a tampered record fails
      const rec = JSON.parse(entries[0]!.recordJson) as Record<string, unknown>;
      rec.verdict = rec.verdict === "allow" ? "block" : "allow";
      const bad = await verifyTraceRecord(rec, info.publicKey);
      expect(bad.ok).toBe(false);
      expect(bad.error).toBe("signed_digest mismatch");

      // the server's segment file verifies offline; a changed byte in a record does not
      const segName = readdirSync(join(server.dir, "traces")).find((n) => /^segment-\d{20}\.jsonl$/.test(n));
      expect(segName).toBeDefined();
      const segText = readFileSync(join(server.dir, "traces", segName!), "utf8");
      const seg = await verifyTraceSegment(segText, info.publicKey);
      expect(seg.error).toBeUndefined();
      expect(seg.ok).toBe(true);
      expect(seg.anchor).toEqual({ sequence: 0, hash: "0".repeat(64) });
      expect(seg.entries).toBeGreaterThanOrEqual(entries.length);
      const tampered = segText.replace('"tool_name":"tool.read"', '"tool_name":"tool.reed"');
      expect(tampered).not.toBe(segText);
      const segBad = await verifyTraceSegment(tampered, info.publicKey);
      expect(segBad.ok).toBe(false);
      expect(segBad.error).toMatch(/hash mismatch/);
    } finally {
      client.close();
    }
  });
});
