/**
 * The real `gait mcp serve` on a temp socket: every GateService RPC, health, error details, trace export with cursor
 * resume, the operator-only methods, deadlines and cancellation, shutdown.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { existsSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { ApprovalDecision, ApprovalState } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { HealthCheckResponse_ServingStatus as S } from "../../src/gen/grpc/health/v1/health_pb.js";
import { Ed25519PublicKey } from "../../src/infra/keys.js";
import { verifyTraceRecord } from "../../src/engine/trace.js";
import { BASE_POLICY, cleanup, errorReason, intent, rejects, startServer, type Server } from "./harness.js";

let s: Server;
beforeAll(async () => {
  s = await startServer({ policy: BASE_POLICY, operator: true });
});
afterAll(async () => {
  await s?.stop();
  if (s) cleanup(s.dir);
});

describe("Evaluate", () => {
  it("allows a read with a durable, verifiable signed trace", async () => {
    const r = await s.gate.evaluate({ input: { case: "intent", value: intent("tool.read", { path: "/tmp/x" }) } }, { timeoutMs: 5000 });
    expect(r.verdict).toBe(Verdict.ALLOW);
    expect(r.matchedRule).toBe("allow-read");
    expect(r.intentDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(r.traceId).toMatch(/^[0-9a-f]{24}$/);
    expect(r.traceSequence).toBeGreaterThan(0n);
    const info = await s.gate.getServerInfo({});
    expect(info.traceHeadSequence).toBeGreaterThanOrEqual(r.traceSequence);
    // the record exported for that sequence verifies on its own with the server's public key
    const entries = [];
    for await (const e of s.gate.exportTraces({ fromSequence: r.traceSequence, maxEntries: 1n })) entries.push(e);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.traceId).toBe(r.traceId);
    expect(entries[0]!.eventId).toBe(r.eventId);
    const pub = new Ed25519PublicKey(Buffer.from(info.publicKey, "base64"));
    expect(verifyTraceRecord(JSON.parse(entries[0]!.recordJson), pub).ok).toBe(true);
  });

  it("blocks a delete and requires approval for a write (with a pending request id)", async () => {
    const b = await s.gate.evaluate({ input: { case: "intent", value: intent("tool.delete") } });
    expect(b.verdict).toBe(Verdict.BLOCK);
    expect(b.approvalRequestId).toBe("");
    const w = await s.gate.evaluate({ input: { case: "intent", value: intent("tool.write", { path: "/a" }) } });
    expect(w.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(w.reasonCodes).toContain("approval_token_missing");
    expect(w.approvalRequestId).toMatch(/^apr_/);
    expect(w.requiredApprovalScopes).toContain("tool:tool.write");
  });

  it("decodes raw tool calls (struct and JSON text) with the adapter", async () => {
    const a = await s.gate.evaluate({
      input: { case: "toolCall", value: { adapter: "mcp", payload: { case: "call", value: { name: "tool.read", args: { path: "/x" }, context: { identity: "a", workspace: "/w", risk_class: "low" } } } } },
    });
    expect(a.verdict).toBe(Verdict.ALLOW);
    const o = await s.gate.evaluate({
      input: { case: "toolCall", value: { adapter: "openai", payload: { case: "callJson", value: JSON.stringify({ function: { name: "tool.delete", arguments: "{}" } }) } } },
    });
    expect(o.verdict).toBe(Verdict.BLOCK);
    expect(o.warnings.length).toBeGreaterThan(0); // fallback context warning
  });

  it("answers invalid input with INVALID_ARGUMENT + ErrorInfo, never a verdict", async () => {
    const cases: [Parameters<typeof s.gate.evaluate>[0], string][] = [
      [{}, "MISSING_INPUT"],
      [{ input: { case: "intent", value: { toolName: "", context: { identity: "a", workspace: "/w", riskClass: "low" } } } }, "INVALID_INTENT"],
      [{ input: { case: "toolCall", value: { adapter: "nope", payload: { case: "call", value: { name: "x" } } } } }, "UNSUPPORTED_ADAPTER"],
      [{ input: { case: "toolCall", value: { adapter: "mcp", payload: { case: "callJson", value: "{not json" } } } }, "INVALID_TOOL_CALL"],
      [{ input: { case: "intent", value: intent("tool.write") }, approvalTokens: ["{bad"] }, "INVALID_TOKEN_DOCUMENT"],
      [{ input: { case: "intent", value: intent("tool.read") }, emitRunpack: true }, "INVALID_ARGUMENT"],
    ];
    for (const [req, reason] of cases) {
      const e = await rejects(s.gate.evaluate(req, { timeoutMs: 5000 }));
      expect(e.code, reason).toBe(grpc.status.INVALID_ARGUMENT);
      expect(errorReason(e)).toBe(reason);
    }
    const nf = await rejects(s.gate.evaluate({ input: { case: "intent", value: intent("tool.write") }, approvalRequestId: "apr_missing" }));
    expect(nf.code).toBe(grpc.status.NOT_FOUND);
    expect(errorReason(nf)).toBe("APPROVAL_REQUEST_NOT_FOUND");
  });
});

describe("health and server info", () => {
  it("reports SERVING for the server and the service, and the policy reload status", async () => {
    expect((await s.health.check({ service: "" })).status).toBe(S.SERVING);
    expect((await s.health.check({ service: "gait.gate.v1.GateService" })).status).toBe(S.SERVING);
    const list = await s.health.list({});
    expect(Object.keys(list.statuses).sort()).toEqual(["", "gait.gate.v1.GateService", "gait.gate.v1.PolicyReload", "gait.gate.v1.TraceLog"]);
    const e = await rejects(s.health.check({ service: "nope" }));
    expect(e.code).toBe(grpc.status.NOT_FOUND);
  });

  it("publishes the key id, the public key and the dev key file it reuses", async () => {
    const info = await s.gate.getServerInfo({});
    expect(info.keyMode).toBe("dev");
    const pubFile = readFileSync(join(s.stateDir, "keys", "dev_public.key"), "utf8").trim();
    expect(info.publicKey).toBe(pubFile);
    expect(new Ed25519PublicKey(Buffer.from(pubFile, "base64")).keyId).toBe(info.keyId);
    expect(info.policyPath).toBe(s.policyPath);
    expect(info.policyReloadError).toBe("");
  });
});

describe("operator-only methods", () => {
  it("refuses Approve and ListApprovals on the agent socket", async () => {
    const w = await s.gate.evaluate({ input: { case: "intent", value: intent("tool.write", { self: "approve" }) } });
    const e = await rejects(
      s.gate.approve({
        target: { case: "approvalRequestId", value: w.approvalRequestId },
        decision: ApprovalDecision.GRANT,
        approver: "agent-1",
        reasonCode: "self",
        ttl: { seconds: 60n },
      }),
    );
    expect(e.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(errorReason(e)).toBe("OPERATOR_ONLY");
    const l = await rejects(s.gate.listApprovals({}));
    expect(l.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(errorReason(l)).toBe("OPERATOR_ONLY");
    // the request is untouched and still pending
    const g = await s.gate.getApproval({ approvalRequestId: w.approvalRequestId });
    expect(g.request?.state).toBe(ApprovalState.PENDING);
    expect(g.tokenJsons).toEqual([]);
  });

  it("lists pending requests on the operator socket", async () => {
    const w = await s.gate.evaluate({ input: { case: "intent", value: intent("tool.write", { list: 1 }) } });
    const page = await s.op.listApprovals({});
    expect(page.requests.map((r) => r.approvalRequestId)).toContain(w.approvalRequestId);
    const one = await s.op.listApprovals({ pageSize: 1 });
    expect(one.requests).toHaveLength(1);
    expect(one.nextPageToken).not.toBe("");
    const bad = await rejects(s.op.listApprovals({ pageToken: "zzz" }));
    expect(errorReason(bad)).toBe("INVALID_CURSOR");
  });
});

describe("ExportTraces", () => {
  it("resumes from a cursor with every record exactly once, in order, and follows live", async () => {
    for (let i = 0; i < 20; i++) await s.gate.evaluate({ input: { case: "intent", value: intent("tool.read", { i }) } });
    const head = Number((await s.gate.getServerInfo({})).traceHeadSequence);
    // read part, "disconnect", resume from last+1
    const seen: number[] = [];
    let prevHash = "";
    const first = s.gate.exportTraces({ fromSequence: 0n });
    for await (const e of first) {
      seen.push(Number(e.sequence));
      if (prevHash) expect(e.prevHash).toBe(prevHash);
      prevHash = e.entryHash;
      if (seen.length === 7) break; // cancels the stream
    }
    for await (const e of s.gate.exportTraces({ fromSequence: BigInt(seen[seen.length - 1]! + 1) })) {
      expect(e.prevHash).toBe(prevHash);
      prevHash = e.entryHash;
      seen.push(Number(e.sequence));
    }
    expect(seen).toEqual(Array.from({ length: head }, (_, i) => i + 1));

    // follow: new decisions arrive on an open stream
    const ac = new AbortController();
    const stream = s.gate.exportTraces({ fromSequence: BigInt(head + 1), follow: true }, { signal: ac.signal });
    const got: bigint[] = [];
    const reader = (async () => {
      try {
        for await (const e of stream) {
          got.push(e.sequence);
          if (got.length === 3) ac.abort();
        }
      } catch (e) {
        expect((e as grpc.ServiceError).code).toBe(grpc.status.CANCELLED);
      }
    })();
    const seqs: bigint[] = [];
    for (let i = 0; i < 3; i++) seqs.push((await s.gate.evaluate({ input: { case: "intent", value: intent("tool.read", { f: i }) } })).traceSequence);
    await reader;
    expect(got).toEqual(seqs);
  });

  it("rejects a cursor beyond the head", async () => {
    const e = await rejects((async () => {
      for await (const _ of s.gate.exportTraces({ fromSequence: 1_000_000n })) void _;
    })());
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(errorReason(e)).toBe("INVALID_CURSOR");
  });
});

describe("deadlines and cancellation", () => {
  let slow: Server;
  beforeAll(async () => {
    const dir = (await import("./harness.js")).tempDir();
    // a command broker that takes 1.5 s: decisions needing a broker credential are slow
    const broker = join(dir, "slow-broker.sh");
    writeFileSync(broker, '#!/bin/sh\nsleep 1.5\necho \'{"credential_ref":"ref-1","source":"broker","access_type":"jit","issuer":"test","ttl_seconds":60,"request_digest":"' + "0".repeat(64) + '"}\'\n');
    chmodSync(broker, 0o755);
    const policy = `${BASE_POLICY}  - name: brokered
    priority: 5
    effect: allow
    require_broker_credential: true
    match:
      tool_names: [tool.slow]
`;
    slow = await startServer({ policy, dir, extraArgs: ["--credential-broker", "command", "--credential-command", broker] });
  });
  afterAll(async () => {
    await slow?.stop();
    if (slow) cleanup(slow.dir);
  });

  it("a deadline shorter than the decision yields DEADLINE_EXCEEDED (no verdict), the server stays healthy", async () => {
    const e = await rejects(slow.gate.evaluate({ input: { case: "intent", value: intent("tool.slow") } }, { timeoutMs: 200 }));
    expect(e.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const ok = await slow.gate.evaluate({ input: { case: "intent", value: intent("tool.read") } }, { timeoutMs: 5000 });
    expect(ok.verdict).toBe(Verdict.ALLOW);
  });

  it("a cancelled call yields CANCELLED on the client; the slot is released", async () => {
    const ac = new AbortController();
    const p = slow.gate.evaluate({ input: { case: "intent", value: intent("tool.slow") } }, { signal: ac.signal, timeoutMs: 10_000 });
    setTimeout(() => ac.abort(), 100);
    const e = await rejects(p);
    expect(e.code).toBe(grpc.status.CANCELLED);
    // a full decision through the (slow) broker still completes afterwards; the test broker's receipt names another
    // request digest, so the gate blocks it with broker_request_digest_mismatch
    const r = await slow.gate.evaluate({ input: { case: "intent", value: intent("tool.slow") } }, { timeoutMs: 10_000 });
    expect(r.verdict).toBe(Verdict.BLOCK);
    expect(r.reasonCodes, r.reasonCodes.join(",")).toContain("broker_request_digest_mismatch");
  });

  it("SIGTERM drains an in-flight decision, then removes the socket and exits 0", async () => {
    const p = slow.gate.evaluate({ input: { case: "intent", value: intent("tool.slow", { drain: 1 }) } }, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300)); // the call is inside the broker now
    slow.child.kill("SIGTERM");
    const r = await p;
    expect(r.verdict).toBe(Verdict.BLOCK);
    expect(r.reasonCodes, r.reasonCodes.join(",")).toContain("broker_request_digest_mismatch");
    await slow.exited;
    expect(slow.child.exitCode).toBe(0);
    expect(existsSync(slow.socket)).toBe(false);
    expect(slow.stderr()).toContain('"msg":"stopped"');
  });
});
