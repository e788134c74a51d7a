/**
 * Two real server processes sharing one Redis (`--state unix://.../redis.sock`), as replicas of one fleet: one rate
 * limit across both under concurrent load, a token spent on one refused on the other, a deny on one revoking on the
 * other, a kill switch set in the shared store in force on both, and Redis stopped mid-load (no allow for what needs
 * shared state, STATE_UNAVAILABLE, health NOT_SERVING for gait.gate.v1.SharedState, recovery by itself). Each replica
 * keeps its own signed trace log whose checkpoints name it.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApprovalDecision, ApprovalState } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { parseSharedStateUrl, SharedState } from "../../src/state/redis/connection.js";
import { RedisKillSwitchStore } from "../../src/state/redis/killswitch.js";
import { startTestRedis, type TestRedis } from "../support/redis-server.js";
import { BASE_POLICY, ROOT, cleanup, errorReason, intent, startServer, tempDir, type Server } from "./harness.js";

const LIMIT = 20;
const POLICY = `${BASE_POLICY}  - name: limited
    priority: 5
    effect: allow
    rate_limit:
      requests: ${LIMIT}
      window: hour
      scope: tool
    match:
      tool_names: [tool.limited]
  - name: counted
    priority: 6
    effect: allow
    rate_limit:
      requests: 1000000
      window: hour
      scope: tool
    match:
      tool_names: [tool.counted]
`;
const SHARED_HEALTH = "gait.gate.v1.SharedState";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const call = (tool: string, args: Record<string, unknown> = {}) => ({ input: { case: "intent" as const, value: intent(tool, args) } });
const grant = (id: string) => ({
  target: { case: "approvalRequestId" as const, value: id },
  decision: ApprovalDecision.GRANT,
  approver: "ops@example.com",
  reasonCode: "ticket_7",
  ttl: { seconds: 120n },
});

let redis: TestRedis;
let keyDir: string;
let a: Server;
let b: Server;

function replica(id: string, more: { dir?: string; extraArgs?: string[]; expectFailure?: boolean } = {}): Promise<Server> {
  return startServer({
    policy: POLICY,
    operator: true,
    state: redis.url,
    ...(more.dir ? { dir: more.dir } : {}),
    ...(more.expectFailure ? { expectFailure: true } : {}),
    extraArgs: ["--key-mode", "prod", "--private-key", join(keyDir, "gait_private.key"), "--replica-id", id, "--local-dir", "local", ...(more.extraArgs ?? [])],
  });
}

beforeAll(async () => {
  redis = await startTestRedis();
  keyDir = tempDir("gait-keys-");
  // one signing key for the fleet: a token minted by one replica verifies on the other
  const k = spawnSync(process.execPath, [join(ROOT, "bin", "gait"), "keys", "init", "--out-dir", keyDir, "--json"], { encoding: "utf8" });
  if (k.status !== 0) throw new Error(`keys init failed: ${k.stderr}`);
  a = await replica("replica-a");
  b = await replica("replica-b");
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  for (const s of [a, b]) if (s) cleanup(s.dir);
  if (keyDir) cleanup(keyDir);
  await redis?.dispose();
});

/** Evaluate, turning an error into its reason (so concurrent load can be tallied). */
async function outcome(s: Server, req: ReturnType<typeof call>): Promise<{ verdict?: Verdict; reasons?: string[]; error?: string }> {
  try {
    const r = await s.gate.evaluate(req);
    return { verdict: r.verdict, reasons: r.reasonCodes };
  } catch (e) {
    return { error: errorReason(e) ?? (e as Error).message };
  }
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not reached; last value ${JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x))}`);
    await sleep(25);
  }
}

describe("two replicas sharing one Redis", () => {
  it("start up naming the shared state and their replica id", () => {
    for (const [s, id] of [[a, "replica-a"], [b, "replica-b"]] as const) {
      const line = JSON.parse(s.stdout().split("\n").find((l) => l.startsWith("{"))!) as Record<string, string>;
      expect(line.shared_state).toBe(`unix://${redis.socket}`);
      expect(line.replica_id).toBe(id);
    }
  });

  it("a limit of N per window allows exactly N decisions in total across both under concurrent load", async () => {
    // the window is the wall-clock hour: do not straddle its end
    const msIntoHour = Date.now() % 3_600_000;
    if (msIntoHour > 3_600_000 - 10_000) await sleep(3_600_000 - msIntoHour + 100);
    const results = await Promise.all(Array.from({ length: 3 * LIMIT }, (_, i) => outcome(i % 2 ? a : b, call("tool.limited", { i }))));
    expect(results.filter((r) => r.error)).toEqual([]);
    expect(results.filter((r) => r.verdict === Verdict.ALLOW)).toHaveLength(LIMIT);
    const blocked = results.filter((r) => r.verdict === Verdict.BLOCK);
    expect(blocked).toHaveLength(2 * LIMIT);
    for (const r of blocked) expect(r.reasons).toContain("rate_limit_exceeded");
  });

  it("a pending request is visible on both; a token granted on one and spent on it is refused on the other", async () => {
    const first = await a.gate.evaluate(call("tool.write", { path: "/shared" }));
    expect(first.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    const id = first.approvalRequestId;
    const onB = await b.op.listApprovals({});
    expect(onB.requests.map((r) => r.approvalRequestId)).toContain(id);
    const g = await b.op.approve(grant(id));
    expect(g.request?.state).toBe(ApprovalState.GRANTED);
    const spent = await a.gate.evaluate({ ...call("tool.write", { path: "/shared" }), approvalTokens: [g.tokenJson] });
    expect(spent.verdict).toBe(Verdict.ALLOW);
    expect((await b.gate.getApproval({ approvalRequestId: id })).request?.state).toBe(ApprovalState.CONSUMED);
    const replay = await b.gate.evaluate({ ...call("tool.write", { path: "/shared" }), approvalTokens: [g.tokenJson] });
    expect(replay.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    expect(replay.reasonCodes).toContain("approval_token_consumed");
  });

  it("concurrent spends of one token on both replicas: exactly one allow", async () => {
    const r = await b.gate.evaluate(call("tool.write", { path: "/race" }));
    const g = await a.op.approve(grant(r.approvalRequestId));
    const req = { ...call("tool.write", { path: "/race" }), approvalTokens: [g.tokenJson] };
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => outcome(i % 2 ? a : b, req)));
    expect(results.filter((x) => x.verdict === Verdict.ALLOW)).toHaveLength(1);
    expect(results.filter((x) => x.verdict === Verdict.REQUIRE_APPROVAL)).toHaveLength(9);
  });

  it("a deny on one revokes the token on the other", async () => {
    const r = await a.gate.evaluate(call("tool.write", { path: "/deny" }));
    const g = await a.op.approve(grant(r.approvalRequestId));
    await b.op.approve({ target: { case: "approvalRequestId", value: r.approvalRequestId }, decision: ApprovalDecision.DENY, approver: "ops2@example.com", reasonCode: "no" });
    const after = await a.gate.evaluate({ ...call("tool.write", { path: "/deny" }), approvalTokens: [g.tokenJson] });
    expect(after.verdict).not.toBe(Verdict.ALLOW);
    expect(after.reasonCodes).toContain("approval_token_revoked");
  });

  it("a kill switch set in the shared store blocks on both replicas (propagation time is printed)", async () => {
    expect((await a.gate.evaluate(call("tool.read"))).verdict).toBe(Verdict.ALLOW);
    const conn = await SharedState.open({ address: parseSharedStateUrl(redis.url) });
    const ks = new RedisKillSwitchStore(conn);
    try {
      const t0 = Date.now();
      const entry = await ks.set({ tool_name: "tool.read", reason: "incident 9" }, "ops@example.com");
      const seen = await Promise.all(
        [a, b].map(async (s) => {
          const r = await until(() => s.gate.evaluate(call("tool.read")), (x) => x.verdict === Verdict.BLOCK);
          expect(r.reasonCodes).toContain("kill_switch_active");
          return Date.now() - t0;
        }),
      );
      console.log(`kill switch in force on replica-a after ${seen[0]} ms, replica-b after ${seen[1]} ms (poll 250 ms)`);
      await ks.clear(entry.entry_id, "ops@example.com");
      for (const s of [a, b]) await until(() => s.gate.evaluate(call("tool.read")), (x) => x.verdict === Verdict.ALLOW);
    } finally {
      await ks.close();
      await conn.close();
    }
  });

  it("the operator plane of either replica changes the shared kill switch: set on one, in force on both, cleared from the other", async () => {
    expect((await b.gate.evaluate(call("tool.read"))).verdict).toBe(Verdict.ALLOW);
    const set = await a.op.setKillSwitch({ toolName: "tool.read", reason: "incident 11", actor: "ops@example.com" });
    const id = set.entry!.entryId;
    for (const s of [a, b]) {
      const r = await until(() => s.gate.evaluate(call("tool.read")), (x) => x.verdict === Verdict.BLOCK);
      expect(r.reasonCodes).toContain("kill_switch_active");
    }
    // both replicas list it; the other one clears it
    expect((await b.op.listKillSwitches({})).entries.map((e) => e.entryId)).toContain(id);
    await b.op.clearKillSwitch({ entryId: id, actor: "ops@example.com", reason: "contained" });
    for (const s of [a, b]) await until(() => s.gate.evaluate(call("tool.read")), (x) => x.verdict === Verdict.ALLOW);
    expect((await a.op.listKillSwitches({})).entries.map((e) => e.entryId)).not.toContain(id);
  });

  it("Redis stopped mid-load: no allow for what needs shared state, STATE_UNAVAILABLE, NOT_SERVING; recovery by itself", async () => {
    const pending = await a.gate.evaluate(call("tool.write", { path: "/survives" }));
    expect(pending.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    for (const s of [a, b]) expect((await s.health.check({ service: SHARED_HEALTH })).status).toBe(1);

    let stopped = false;
    let load = true;
    const duringOutage: { verdict?: Verdict; error?: string; tool: string }[] = [];
    const worker = async (s: Server, tool: string) => {
      while (load) {
        const wasStopped = stopped;
        const r = await outcome(s, call(tool));
        if (wasStopped && stopped) duringOutage.push({ ...r, tool });
        await sleep(5);
      }
    };
    const workers = [worker(a, "tool.counted"), worker(b, "tool.counted"), worker(a, "tool.read"), worker(b, "tool.read")];
    await sleep(200);
    await redis.stop();
    stopped = true;
    try {
      for (const s of [a, b]) await until(() => s.health.check({ service: SHARED_HEALTH }), (h) => h.status === 2);
      // the kill switch goes unavailable once it was not confirmed for a second: then even calls that need no
      // counter or token fail closed (the stop set through another replica cannot be known)
      for (const s of [a, b]) await until(() => outcome(s, call("tool.read")), (r) => r.error === "STATE_UNAVAILABLE");
      // the process as a whole stays up (the trace log is fine)
      expect((await a.health.check({ service: "gait.gate.v1.TraceLog" })).status).toBe(1);
    } finally {
      stopped = false;
      await redis.start();
    }
    for (const s of [a, b]) await until(() => s.health.check({ service: SHARED_HEALTH }), (h) => h.status === 1);
    load = false;
    await Promise.all(workers);

    const counted = duringOutage.filter((r) => r.tool === "tool.counted");
    expect(counted.length).toBeGreaterThan(0);
    expect(counted.filter((r) => r.verdict === Verdict.ALLOW)).toEqual([]);
    expect(new Set(counted.map((r) => r.error ?? `verdict ${r.verdict}`))).toEqual(new Set(["STATE_UNAVAILABLE"]));
    // reads may be allowed only while the kill switch state was still fresh; every failure is STATE_UNAVAILABLE
    for (const r of duringOutage) if (r.error) expect(r.error).toBe("STATE_UNAVAILABLE");

    // recovered: counters, kill switch and the ledger (the pending request survived Redis's restart)
    for (const s of [a, b]) {
      expect((await s.gate.evaluate(call("tool.counted"))).verdict).toBe(Verdict.ALLOW);
      await until(() => outcome(s, call("tool.read")), (r) => r.verdict === Verdict.ALLOW);
    }
    expect((await b.gate.getApproval({ approvalRequestId: pending.approvalRequestId })).request?.state).toBe(ApprovalState.PENDING);
  });

  it("each replica keeps its own signed trace log, its checkpoints naming the replica; each verifies on its own", async () => {
    await a.stop();
    await b.stop();
    for (const [s, id] of [[a, "replica-a"], [b, "replica-b"]] as const) {
      const traces = join(s.dir, "traces");
      const ids = new Set<string>();
      for (const f of readdirSync(traces).filter((n) => n.endsWith(".jsonl"))) {
        for (const line of readFileSync(join(traces, f), "utf8").split("\n")) {
          if (line.startsWith('{"checkpoint"')) ids.add((JSON.parse(line) as { checkpoint: { replica_id?: string } }).checkpoint.replica_id ?? "");
        }
      }
      expect([...ids]).toEqual([id]);
      const v = spawnSync(process.execPath, [join(ROOT, "bin", "gait"), "trace", "verify", traces, "--private-key", join(keyDir, "gait_private.key"), "--json"], { encoding: "utf8" });
      expect(v.status, v.stdout + v.stderr).toBe(0);
      expect((JSON.parse(v.stdout) as { replica_ids: string[] }).replica_ids).toEqual([id]);
    }
  });

  it("Redis that lost its data: a replica refuses to start until --reset-approval-state, which refuses older tokens", async () => {
    // a token granted before the loss
    const again = await replica("replica-a", { dir: a.dir });
    const r = await again.gate.evaluate(call("tool.write", { path: "/lost" }));
    const g = await again.op.approve(grant(r.approvalRequestId));
    await again.stop();
    spawnSync("redis-cli", ["-s", redis.socket, "FLUSHALL"]);
    const refused = await replica("replica-a", { dir: a.dir, expectFailure: true });
    expect(refused.child.exitCode).not.toBe(0);
    expect(refused.stderr()).toMatch(/approval ledger in shared state unix:\/\/.* went backwards \(Redis lost its data .*--reset-approval-state/);
    const reset = await replica("replica-a", { dir: a.dir, extraArgs: ["--reset-approval-state"] });
    try {
      const after = await reset.gate.evaluate({ ...call("tool.write", { path: "/lost" }), approvalTokens: [g.tokenJson] });
      expect(after.verdict).toBe(Verdict.REQUIRE_APPROVAL);
      expect(after.reasonCodes).toContain("approval_token_revoked");
    } finally {
      await reset.stop();
    }
  });
});
