/**
 * kill -9 under load, repeated (issue 7): in every round clients decide reads and spend approval tokens while the
 * server is killed at a random moment. After each restart: the trace log verifies, every allow a client was told
 * about is in the log at its sequence (durable before the reply), no sequence number was used twice, and no token
 * that earned an allow before the kill earns another after it (no replay).
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ApprovalDecision } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { BASE_POLICY, ROOT, cleanup, intent, startServer, tempDir, type Server } from "../integration/harness.js";
import { runs } from "./oracle.js";
import { report } from "./report.js";

const dir = tempDir("gait-crash-");
afterAll(() => cleanup(dir));
// one agent identity per token: the open requests a round leaves behind (granted, not spent before the kill) stay
// below the per-identity cap however many rounds run
const write = (n: number) => ({ input: { case: "intent" as const, value: intent("tool.write", { n }, { identity: `agent-${n}` }) } });

describe("kill -9 rounds", () => {
  it("every acknowledged allow durable, no duplicate sequence, no token replay", async () => {
    const rounds = runs(3);
    const acked = new Map<bigint, string>(); // seq -> event id of every allow a client saw
    const spent: { token: string; n: number }[] = [];
    let replaysAllowed = 0;
    let tokenCounter = 0;
    for (let round = 0; round < rounds; round++) {
      const s: Server = await startServer({ policy: BASE_POLICY, dir, operator: true, extraArgs: ["--max-in-flight", "1024"] });
      // every token spent before an earlier kill stays spent
      for (const t of spent) {
        const r = await s.gate.evaluate({ ...write(t.n), approvalTokens: [t.token] });
        if (r.verdict === Verdict.ALLOW) replaysAllowed++;
      }
      // tokens for this round
      const tokens: { token: string; n: number }[] = [];
      for (let i = 0; i < 10; i++) {
        const n = tokenCounter++;
        const r = await s.gate.evaluate(write(n));
        const g = await s.op.approve({ target: { case: "approvalRequestId", value: r.approvalRequestId }, decision: ApprovalDecision.GRANT, approver: "ops", reasonCode: "ok", ttl: { seconds: 3600n } });
        tokens.push({ token: g.tokenJson, n });
      }
      let stop = false;
      const worker = async (w: number) => {
        for (let i = 0; !stop; i++) {
          try {
            if (w === 0 && tokens.length) {
              const t = tokens.shift()!;
              const r = await s.gate.evaluate({ ...write(t.n), approvalTokens: [t.token] }, { timeoutMs: 5000 });
              if (r.verdict === Verdict.ALLOW) {
                spent.push(t);
                acked.set(r.traceSequence, r.eventId);
              }
              continue;
            }
            const r = await s.gate.evaluate({ input: { case: "intent", value: intent("tool.read", { round, w, i }) } }, { timeoutMs: 5000 });
            if (r.verdict === Verdict.ALLOW) acked.set(r.traceSequence, r.eventId);
          } catch {
            return; // the kill: a client treats it as block
          }
        }
      };
      const workers = Array.from({ length: 16 }, (_, w) => worker(w));
      await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 700)));
      await s.kill9();
      stop = true;
      await Promise.all(workers);
    }
    // final restart: the log verifies and holds every acknowledged allow, each sequence once
    const s = await startServer({ policy: BASE_POLICY, dir, operator: true });
    for (const t of spent) if ((await s.gate.evaluate({ ...write(t.n), approvalTokens: [t.token] })).verdict === Verdict.ALLOW) replaysAllowed++;
    await s.stop();
    const traces = join(dir, "traces");
    const v = spawnSync(process.execPath, [join(ROOT, "bin", "gait"), "trace", "verify", traces, "--private-key", join(dir, "state", "keys", "dev_private.key"), "--json"], { encoding: "utf8" });
    expect(v.status, v.stdout + v.stderr).toBe(0);
    const bySeq = new Map<bigint, string[]>();
    for (const name of readdirSync(traces).filter((n) => n.startsWith("segment-")).sort()) {
      for (const line of readFileSync(join(traces, name), "utf8").split("\n")) {
        if (!line.startsWith('{"seq":')) continue;
        const e = JSON.parse(line) as { seq: number; record: { event_id?: string } };
        const list = bySeq.get(BigInt(e.seq)) ?? [];
        list.push(e.record.event_id ?? "");
        bySeq.set(BigInt(e.seq), list);
      }
    }
    const duplicates = [...bySeq.values()].filter((l) => l.length > 1).length;
    const missing = [...acked].filter(([seq, ev]) => !(bySeq.get(seq) ?? []).includes(ev)).length;
    report("crash-rounds", { kill9_rounds: rounds, acknowledged_allows: acked.size, missing_acknowledged: missing, duplicate_sequences: duplicates, tokens_spent: spent.length, replays_allowed: replaysAllowed });
    expect(missing).toBe(0);
    expect(duplicates).toBe(0);
    expect(replaysAllowed).toBe(0);
    expect(spent.length).toBeGreaterThan(0);
  }, 300_000);
});
