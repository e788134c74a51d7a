/**
 * The gate service with a signing worker (`--signing-worker`, on by default): alone, a decision signs inline; with more than
 * OFFLOAD_SIGNING_ABOVE decisions in flight, signatures go to the worker. Either way every record the service hands
 * the trace log verifies with the server's key, and a worker that fails changes no verdict.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { verifyTraceRecord } from "../../../src/engine/trace.js";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { SignPool } from "../../../src/infra/sign-pool.js";
import { GateService, OFFLOAD_SIGNING_ABOVE } from "../../../src/service/gate-service.js";
import { ServerMetrics } from "../../../src/service/metrics.js";
import { FileApprovalStore } from "../../../src/state/approvals.js";
import { MemoryCounterStore } from "../../../src/state/counters-memory.js";
import { memoryTraceLog } from "./memory-trace-log.js";
import { PolicyHolder } from "../../../src/state/policy-file.js";

const POLICY = `schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: allow-write
    priority: 10
    effect: allow
    match:
      tool_names: [tool.write]
`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function service(signPool: { readonly keyId: string; sign(d: Uint8Array): Promise<Uint8Array> } | undefined, signer: Ed25519KeyPair) {
  const dir = mkdtempSync(join(tmpdir(), "signing-worker-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "policy.yaml"), POLICY);
  const approvals = await FileApprovalStore.open({ dir: join(dir, "approvals"), sweepIntervalMs: 0, signer });
  cleanups.push(() => approvals.close());
  const { traceLog, appended } = memoryTraceLog(2);
  const svc = new GateService({
    settings: { profile: "standard", adapter: "mcp", approvalReuse: false, approvalRequestTtlMs: 3_600_000, credentialScopes: [], traceDir: join(dir, "traces") },
    policy: new PolicyHolder(join(dir, "policy.yaml")),
    keys: { signer, mode: "dev" },
    killSwitch: { current: () => undefined },
    counters: new MemoryCounterStore(),
    traceLog,
    approvals,
    metrics: new ServerMetrics(),
    log: () => undefined,
    producerVersion: "test",
    ...(signPool ? { signPool } : {}),
  });
  const evaluate = (i: number) =>
    svc.evaluate({
      intent: { tool_name: i % 2 ? "tool.write" : "tool.delete", args: { n: i }, targets: [{ kind: "path", value: `/tmp/${i}`, operation: "write" }], context: { identity: "agent", workspace: "/w", risk_class: "low" } },
      approvalTokens: [],
      delegationTokens: [],
    });
  return { svc, appended, evaluate };
}

describe("gate service with a signing worker", () => {
  it("signs inline alone and on the worker under load; every record verifies and the verdicts are the policy's", async () => {
    const key = Ed25519KeyPair.generate();
    const pool = (await SignPool.start(key))!;
    cleanups.push(() => pool.close());
    const { appended, evaluate } = await service(pool, key);

    const alone = await evaluate(1);
    expect(alone.verdict).toBe("allow");
    expect(pool.stats().offloaded).toBe(0);

    // a burst of OFFLOAD_SIGNING_ABOVE in flight: still inline
    const few = await Promise.all(Array.from({ length: OFFLOAD_SIGNING_ABOVE }, (_, i) => evaluate(i)));
    expect(few.map((d) => d.verdict)).toEqual(Array.from({ length: OFFLOAD_SIGNING_ABOVE }, (_, i) => (i % 2 ? "allow" : "block")));
    expect(pool.stats().offloaded).toBe(0);

    // one more in flight: every decision of the burst signs on the worker (all are in flight when they sign)
    const n = OFFLOAD_SIGNING_ABOVE * 4;
    const many = await Promise.all(Array.from({ length: n }, (_, i) => evaluate(i)));
    expect(many.map((d) => d.verdict)).toEqual(Array.from({ length: n }, (_, i) => (i % 2 ? "allow" : "block")));
    expect(pool.stats().offloaded).toBe(n);
    expect(pool.stats().batches).toBeLessThan(n);
    expect(appended).toHaveLength(1 + OFFLOAD_SIGNING_ABOVE + n);
    for (const rec of appended) expect(verifyTraceRecord(rec, key.verifier())).toMatchObject({ ok: true });
  });

  it("a pool whose key is not the server's is refused at construction", async () => {
    const key = Ed25519KeyPair.generate();
    const other = Ed25519KeyPair.generate();
    await expect(service({ keyId: other.keyId, sign: async (d) => other.sign(d) }, key)).rejects.toThrow(/is not the server's key/);
  });

  it("a signer that fails under load fails those decisions (SIGNING_FAILED), never a verdict", async () => {
    const key = Ed25519KeyPair.generate();
    const failing = { keyId: key.keyId, sign: () => Promise.reject(new Error("worker gone and inline failed")) };
    const { appended, evaluate } = await service(failing, key);
    expect((await evaluate(1)).verdict).toBe("allow"); // alone: inline, the failing signer is not asked
    const results = await Promise.allSettled(Array.from({ length: OFFLOAD_SIGNING_ABOVE + 8 }, (_, i) => evaluate(2 * i + 1)));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    for (const r of results as PromiseRejectedResult[]) expect(r.reason).toMatchObject({ reason: "SIGNING_FAILED" });
    expect(appended).toHaveLength(1); // nothing unsigned reached the log
  });
});
