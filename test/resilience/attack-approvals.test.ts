/**
 * Attacks on the approval binding (issue 7 item 2), against the real server: a deny after a grant, a request granted
 * twice, an args key named `__proto__`, a quorum met by one person under two spellings, an approver who is not the
 * authenticated operator, self-approval, and forged, tampered, expired, replayed, revoked and double-granted tokens
 * (property-based: no mutation of a valid token yields allow).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { EvaluateResponseSchema, ApprovalDecision, ApprovalState, type EvaluateResponse } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { BASE_POLICY, ROOT, channel, cleanup, errorReason, rejects, startServer, tempDir, type Server } from "../integration/harness.js";
import { evaluateRequestBytes } from "./gen/wire.js";
import { runs } from "./oracle.js";
import { report } from "./report.js";

const POLICY = `${BASE_POLICY}  - name: approve-deploy
    priority: 40
    effect: require_approval
    min_approvals: 2
    require_distinct_approvers: true
    match:
      tool_names: [tool.deploy]
`;
const CONTEXT = { identity: "agent-1", workspace: "/work", risk_class: "low" };
const call = (tool: string, args: Record<string, unknown>) => ({ tool_name: tool, args, targets: [{ kind: "path", value: "/tmp/x", operation: "write" }], context: CONTEXT });

let s: Server;
let raw: grpc.Client;
beforeAll(async () => {
  s = await startServer({ policy: POLICY, operator: true, http: true });
  raw = channel(s.socket);
});
afterAll(async () => {
  raw?.close();
  await s?.stop();
  if (s) cleanup(s.dir);
});

function evaluateRaw(bytes: Uint8Array): Promise<EvaluateResponse> {
  return new Promise((resolve, reject) => {
    raw.makeUnaryRequest("/gait.gate.v1.GateService/Evaluate", (b: Buffer) => b, (b: Buffer) => fromBinary(EvaluateResponseSchema, b), Buffer.from(bytes), new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (e, r) => (e ? reject(e) : resolve(r!)));
  });
}
const evaluate = (c: ReturnType<typeof call>, tokens: string[] = []) => evaluateRaw(evaluateRequestBytes(c, tokens));
const grant = (id: string, approver: string) =>
  s.op.approve({ target: { case: "approvalRequestId", value: id }, decision: ApprovalDecision.GRANT, approver, reasonCode: "ok", ttl: { seconds: 300n } });

describe("approval binding attacks", () => {
  it("a deny after the grant revokes the token the agent already holds", async () => {
    const c = call("tool.write", { path: "/a", n: 1 });
    const first = await evaluate(c);
    expect(first.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    const g = await grant(first.approvalRequestId, "bob");
    await s.op.approve({ target: { case: "approvalRequestId", value: first.approvalRequestId }, decision: ApprovalDecision.DENY, approver: "carol", reasonCode: "no" });
    const presented = await evaluate(c, [g.tokenJson]);
    expect(presented.verdict).not.toBe(Verdict.ALLOW);
    expect(presented.reasonCodes).toContain("approval_token_revoked");
    const byId = await s.gate.evaluate({ input: { case: "intent", value: { toolName: "tool.write", args: { path: "/a", n: 1 }, targets: [{ kind: "path", value: "/tmp/x", operation: "write" }], context: { identity: "agent-1", workspace: "/work", riskClass: "low" } } }, approvalRequestId: first.approvalRequestId });
    expect(byId.verdict).toBe(Verdict.BLOCK);
  });

  it("one request granted twice yields one token and one execution", async () => {
    const c = call("tool.write", { path: "/b" });
    const first = await evaluate(c);
    const g1 = await grant(first.approvalRequestId, "bob");
    const g2 = await grant(first.approvalRequestId, "bob");
    const g3 = await grant(first.approvalRequestId, "Bob\u200b");
    expect(g2.tokenId).toBe(g1.tokenId);
    expect(g3.tokenId).toBe(g1.tokenId);
    const results = [await evaluate(c, [g1.tokenJson]), await evaluate(c, [g2.tokenJson]), await evaluate(c, [g3.tokenJson])];
    expect(results.filter((r) => r.verdict === Verdict.ALLOW)).toHaveLength(1);
  });

  it("a token approved for {path, a} does not allow {path, a, __proto__: ...} (gRPC Struct, tool_call JSON, HTTP, CLI)", async () => {
    const plain = call("tool.write", { path: "/c", a: 1 });
    const polluted = call("tool.write", JSON.parse('{"path":"/c","a":1,"__proto__":{"admin":true}}') as Record<string, unknown>);
    expect(Object.keys(polluted.args)).toEqual(["path", "a", "__proto__"]);
    const first = await evaluate(plain);
    const g = await grant(first.approvalRequestId, "bob");
    const p = await evaluate(polluted, [g.tokenJson]);
    expect(p.intentDigest).not.toBe(first.intentDigest);
    expect(p.verdict).not.toBe(Verdict.ALLOW);
    expect(p.reasonCodes).toContain("approval_token_intent_mismatch");
    // through an adapter: the payload is JSON text
    const viaAdapter = await s.gate.evaluate({
      input: { case: "toolCall", value: { adapter: "mcp", payload: { case: "callJson", value: JSON.stringify({ name: "tool.write", args: JSON.parse('{"path":"/c","a":1,"__proto__":{"admin":true}}'), targets: [{ kind: "path", value: "/tmp/x", operation: "write" }], context: CONTEXT }).replace('"__proto__"', '"__proto__"') } } },
      approvalTokens: [g.tokenJson],
    });
    expect(viaAdapter.verdict).not.toBe(Verdict.ALLOW);
    // over HTTP (Gait's /v1/evaluate, an MCP call): the key is part of the digested args too
    const http = async (args: string) => {
      const res = await fetch(`http://127.0.0.1:${s.httpPort}/v1/evaluate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `{"adapter":"mcp","call":{"name":"tool.write","args":${args},"targets":[{"kind":"path","value":"/tmp/x","operation":"write"}],"context":{"identity":"agent-1","workspace":"/work","risk_class":"low"}}}`,
      });
      return ((await res.json()) as { intent_digest: string; verdict: string });
    };
    const h1 = await http('{"path":"/c","a":1}');
    const h2 = await http('{"path":"/c","a":1,"__proto__":{"admin":true}}');
    expect(h1.intent_digest).toBe(first.intentDigest);
    expect(h2.intent_digest).toBe(p.intentDigest);
    // the token itself still allows the call it was granted for, once
    expect((await evaluate(plain, [g.tokenJson])).verdict).toBe(Verdict.ALLOW);
  });

  it("the CLI digests an args key named __proto__ like any other key", () => {
    const dir = tempDir();
    try {
      const policy = join(dir, "policy.yaml");
      writeFileSync(policy, POLICY);
      const digest = (args: string) => {
        const f = join(dir, "intent.json");
        writeFileSync(f, `{"tool_name":"tool.read","args":${args},"targets":[{"kind":"path","value":"/tmp/x","operation":"read"}],"context":{"identity":"a","workspace":"/w","risk_class":"low"}}`);
        const r = spawnSync(process.execPath, [join(ROOT, "bin", "gait"), "gate", "eval", "--policy", policy, "--intent", f, "--json"], { cwd: dir, encoding: "utf8" });
        return (JSON.parse(r.stdout) as { intent_digest: string }).intent_digest;
      };
      const a = digest('{"a":1}');
      const b = digest('{"a":1,"__proto__":{"x":1}}');
      expect(b).not.toBe(a);
      expect(digest('{"__proto__":{"x":1},"a":1}')).toBe(b); // key order does not matter (JCS)
    } finally {
      cleanup(dir);
    }
  });

  it("a quorum of two distinct approvers is not met by one person under two spellings", async () => {
    const c = call("tool.deploy", { env: "prod" });
    const first = await evaluate(c);
    expect(first.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    const mint = (who: string) =>
      s.op.approve({ target: { case: "digests", value: { intentDigest: first.intentDigest, policyDigest: first.policyDigest, delegationBindingDigest: "" } }, decision: ApprovalDecision.GRANT, approver: who, reasonCode: "ok", ttl: { seconds: 300n }, scopes: ["tool:tool.deploy"] });
    for (const [x, y] of [["bob", "Bob"], ["bob", "bob\u200b"], ["bob", "\uff42\uff4f\uff42"], ["bob", " BOB "]]) {
      const r = await evaluate(c, [(await mint(x!)).tokenJson, (await mint(y!)).tokenJson]);
      expect(r.verdict, `${x} + ${JSON.stringify(y)}`).not.toBe(Verdict.ALLOW);
      expect(r.reasonCodes).toContain("approval_distinct_approvers_required");
    }
    expect((await evaluate(c, [(await mint("bob")).tokenJson, (await mint("alice")).tokenJson])).verdict).toBe(Verdict.ALLOW);
    // through the request flow: one token per approver identity, so the request stays pending after bob and Bob
    const again = await evaluate(call("tool.deploy", { env: "staging" }));
    await grant(again.approvalRequestId, "bob");
    const second = await grant(again.approvalRequestId, "BOB");
    expect(second.request?.grantedApprovals).toBe(1);
  });

  it("a flood of distinct calls needing approval does not grow the ledger: beyond 100 open requests per identity none is created", async () => {
    const flood = await Promise.all(Array.from({ length: 130 }, (_, i) => evaluate({ ...call("tool.write", { flood: i }), context: { ...CONTEXT, identity: "flooder" } })));
    expect(flood.every((r) => r.verdict === Verdict.REQUIRE_APPROVAL)).toBe(true);
    expect(flood.filter((r) => r.approvalRequestId !== "")).toHaveLength(100);
    expect(flood.filter((r) => r.reasonCodes.includes("approval_request_capacity_exceeded"))).toHaveLength(30);
  });

  it("the agent whose call waits cannot approve it", async () => {
    const first = await evaluate(call("tool.write", { path: "/self" }));
    const e = await rejects(grant(first.approvalRequestId, "Agent-1"));
    expect(e.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(errorReason(e)).toBe("APPROVER_NOT_ALLOWED");
  });

  it("no mutation of a valid token (forged, tampered, expired, replayed, revoked) yields allow", async () => {
    const c = call("tool.write", { path: "/fuzz" });
    const first = await evaluate(c);
    const g = await grant(first.approvalRequestId, "bob");
    const token = JSON.parse(g.tokenJson) as Record<string, unknown>;
    const mutation = fc.oneof(
      fc.record({ field: fc.constantFrom("token_id", "intent_digest", "policy_digest", "approver_identity", "expires_at", "created_at", "reason_code"), value: fc.oneof(fc.string(), fc.constantFrom("0".repeat(64), "2000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "")) }).map(({ field, value }) => ({ ...token, [field]: value })),
      fc.constantFrom("sig", "signed_digest", "key_id").map((k) => ({ ...token, signature: { ...(token.signature as object), [k]: k === "sig" ? Buffer.alloc(64, 1).toString("base64") : "0".repeat(64) } })),
      fc.constant({ ...token, scope: ["tool:*"] }),
      fc.constant({ ...token, max_targets: 99 }),
      fc.constant(JSON.parse(JSON.stringify(token).replace(/"bob"/, '"mallory"'))),
    );
    const docs = fc.sample(mutation, { numRuns: runs(60), seed: 5 });
    let allows = 0;
    for (const d of docs) {
      const r = await evaluate(c, [JSON.stringify(d)]).catch((e: grpc.ServiceError) => e);
      if (!(r instanceof Error) && r.verdict === Verdict.ALLOW && JSON.stringify(d) !== g.tokenJson) allows++;
    }
    // replayed: the genuine token allows once, then never again
    const once = await evaluate(c, [g.tokenJson]);
    const replay = await evaluate(c, [g.tokenJson]);
    report("attack-approval-tokens", { mutated_tokens: docs.length, allows_from_mutated_tokens: allows, genuine_first: Verdict[once.verdict], genuine_replay: Verdict[replay.verdict] });
    expect(allows).toBe(0);
    expect(once.verdict).toBe(Verdict.ALLOW);
    expect(replay.verdict).not.toBe(Verdict.ALLOW);
  }, 120_000);
});

describe("approvers authenticated by operator tokens", () => {
  let t: Server;
  const token = (who: string) => `op-token-for-${who}`;
  const md = (who: string) => {
    const m = new grpc.Metadata();
    m.set("authorization", `Bearer ${token(who)}`);
    return m;
  };
  beforeAll(async () => {
    const dir = tempDir();
    const f = join(dir, "operators.txt");
    writeFileSync(f, ["# identity sha256:<token digest>", ...["bob", "alice"].map((w) => `${w} sha256:${createHash("sha256").update(token(w)).digest("hex")}`)].join("\n") + "\n", { mode: 0o600 });
    t = await startServer({ policy: POLICY, operator: true, dir, extraArgs: ["--operator-tokens-file", f] });
  });
  afterAll(async () => {
    await t?.stop();
    if (t) cleanup(t.dir);
  });
  const req = (id: string, approver: string) => ({ target: { case: "approvalRequestId" as const, value: id }, decision: ApprovalDecision.GRANT, approver, reasonCode: "ok", ttl: { seconds: 60n } });

  it("takes the approver from the token, refuses a different claimed approver and calls without a token", async () => {
    const first = await t.gate.evaluate({ input: { case: "intent", value: { toolName: "tool.write", args: { p: 1 }, targets: [{ kind: "path", value: "/x", operation: "write" }], context: { identity: "agent-1", workspace: "/w", riskClass: "low" } } } });
    const id = first.approvalRequestId;
    expect((await rejects(t.op.approve(req(id, "bob")))).code).toBe(grpc.status.UNAUTHENTICATED);
    const wrong = await rejects(t.op.approve(req(id, "alice"), { metadata: md("bob") }));
    expect(wrong.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(errorReason(wrong)).toBe("APPROVER_NOT_ALLOWED");
    const ok = await t.op.approve(req(id, ""), { metadata: md("bob") });
    expect(JSON.parse(ok.tokenJson).approver_identity).toBe("bob");
    expect((await rejects(t.op.listApprovals({}))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await t.op.listApprovals({ states: [ApprovalState.GRANTED] }, { metadata: md("alice") })).requests.map((r) => r.approvalRequestId)).toContain(id);
    // the agent socket still cannot approve, token or not
    expect((await rejects(t.gate.approve(req(id, ""), { metadata: md("bob") }))).code).toBe(grpc.status.PERMISSION_DENIED);
  });
});
