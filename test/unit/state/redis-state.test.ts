/**
 * The shared (Redis) state: the same contract suites as the local stores (counters, approval ledger, kill switch),
 * then what only a shared store has: two replicas' views of one store, a store that lost its data or went backwards,
 * Redis stopped and started again. A private redis-server runs on a Unix socket in a temp dir (test/support).
 */
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../../src/engine/canon.js";
import type { KillSwitchState } from "../../../src/engine/types.js";
import { isApprovalStoreError } from "../../../src/state/approvals.js";
import { RedisApprovalStore } from "../../../src/state/redis/approvals.js";
import { isSharedStateUrl, parseSharedStateUrl, redactUrl, SharedState, isSharedStateError } from "../../../src/state/redis/connection.js";
import { RedisCounterStore } from "../../../src/state/redis/counters.js";
import { RedisKillSwitchStore } from "../../../src/state/redis/killswitch.js";
import { startTestRedis, type TestRedis } from "../../support/redis-server.js";
import { runApprovalStoreContract, newRequest, tokenFor, T0 } from "./approvals.contract.js";
import { counterContract, key, T } from "./counters.contract.js";
import { killSwitchContract, KS_NOW } from "./killswitch-store.contract.js";

let redis: TestRedis;
const conns: SharedState[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const c of conns.splice(0)) await c.close();
  await redis?.dispose();
});

/** A connection under a fresh key prefix: each case sees an empty store. */
async function connect(prefix = `t${randomBytes(4).toString("hex")}:`, over: Partial<Parameters<typeof SharedState.open>[0]> = {}): Promise<SharedState> {
  const s = await SharedState.open({ address: parseSharedStateUrl(redis.url), prefix, timeoutMs: 500, ...over });
  conns.push(s);
  return s;
}

const cli = (...args: string[]) => spawnSync("redis-cli", ["-s", redis.socket, ...args], { encoding: "utf8" }).stdout.trim();

counterContract("redis", async () => new RedisCounterStore(await connect()));
runApprovalStoreContract("redis", async (now) => new RedisApprovalStore(await connect(undefined, { now }), { now, sweepIntervalMs: 0 }));
killSwitchContract("redis", async () => {
  const store = new RedisKillSwitchStore(await connect(), { now: () => KS_NOW });
  await store.start();
  return { store };
});

describe("--state URLs", () => {
  it("parses redis://, rediss:// and unix:// addresses, and says what is expected otherwise", () => {
    expect(parseSharedStateUrl("redis://cache.internal:6380/2")).toMatchObject({ kind: "tcp", host: "cache.internal", port: 6380, db: 2, label: "redis://cache.internal:6380/2" });
    expect(parseSharedStateUrl("rediss://u:s3cret@cache:6379")).toMatchObject({ kind: "tls", username: "u", password: "s3cret", db: 0, label: "rediss://cache:6379/0" });
    expect(parseSharedStateUrl("unix:///run/redis/redis.sock?db=3")).toMatchObject({ kind: "unix", path: "/run/redis/redis.sock", db: 3 });
    expect(() => parseSharedStateUrl("redis://host/abc")).toThrow(/database "abc" .* must be a number/);
    expect(() => parseSharedStateUrl("unix://relative.sock")).toThrow(/absolute path/);
    expect(() => parseSharedStateUrl("memcached://h")).toThrow(/unsupported scheme memcached/);
    expect(isSharedStateUrl("redis://h")).toBe(true);
    expect(isSharedStateUrl("gait-out/serve")).toBe(false);
    expect(redactUrl("redis://u:s3cret@h:1/0")).toBe("redis://u:***@h:1/0");
  });
});

describe("connecting", () => {
  it("an unreachable Redis at start fails within the bound with what was tried and how to fix it", async () => {
    const err = await SharedState.open({ address: parseSharedStateUrl(`unix://${redis.dir}/nobody.sock`), timeoutMs: 300 }).catch((e: unknown) => e);
    expect(isSharedStateError(err) && err.code).toBe("unavailable");
    expect((err as Error).message).toMatch(/cannot connect to the shared state at unix:\/\/.*nobody\.sock: .* \(is redis-server running and reachable\? check --state\)/);
  });

  it("two replicas starting at once agree on one store identity", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const both = await Promise.all([connect(prefix), connect(prefix), connect(prefix)]);
    expect(new Set(both.map((s) => s.meta.id)).size).toBe(1);
    expect(both.filter((s) => s.meta.created)).toHaveLength(1);
  });
});

describe("two replicas on one Redis", () => {
  it("share one counter: a limit of N allows exactly N in total under concurrent load", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const a = new RedisCounterStore(await connect(prefix));
    const b = new RedisCounterStore(await connect(prefix));
    const k = key();
    const calls = Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).consume(k.counterKey, 25, k.bucketExpiresAtMs, T.getTime()));
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.allowed)).toHaveLength(25);
  });

  it("a token spent through one is refused through the other; a deny through one revokes on the other", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const now = () => T0;
    const a = new RedisApprovalStore(await connect(prefix, { now }), { now, sweepIntervalMs: 0 });
    const b = new RedisApprovalStore(await connect(prefix, { now }), { now, sweepIntervalMs: 0 });
    const { request } = await a.create(newRequest(1));
    expect((await b.list({ states: ["pending"] })).requests.map((r) => r.approval_request_id)).toEqual([request.approval_request_id]);
    const t = tokenFor(request.intent_digest, request.policy_digest, "alice", T0);
    expect((await b.grant(request.approval_request_id, t)).request.state).toBe("granted");
    const both = await Promise.all([a.consumeTokens([{ token_id: t.token_id }], request.intent_digest), b.consumeTokens([{ token_id: t.token_id }], request.intent_digest)]);
    expect(both.filter(Boolean)).toHaveLength(1);
    expect(Object.fromEntries(await a.tokenStatus([{ token_id: t.token_id }]))).toEqual({ [t.token_id]: "consumed" });

    const { request: r2 } = await b.create(newRequest(2));
    const t2 = tokenFor(r2.intent_digest, r2.policy_digest, "alice", T0);
    await a.grant(r2.approval_request_id, t2);
    await b.deny(r2.approval_request_id, "carol", "no");
    expect(Object.fromEntries(await a.tokenStatus([{ token_id: t2.token_id }]))).toEqual({ [t2.token_id]: "revoked" });
    expect(await a.consumeTokens([{ token_id: t2.token_id }], r2.intent_digest)).toBe(false);
    expect((await a.get(r2.approval_request_id))!.state).toBe("denied");
  });

  it("concurrent grant and deny of one request: one transition wins, a denied request never ends granted", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const now = () => T0;
    const a = new RedisApprovalStore(await connect(prefix, { now }), { now, sweepIntervalMs: 0 });
    const b = new RedisApprovalStore(await connect(prefix, { now }), { now, sweepIntervalMs: 0 });
    for (let i = 0; i < 10; i++) {
      const { request } = await a.create(newRequest(100 + i));
      const t = tokenFor(request.intent_digest, request.policy_digest, "alice", T0);
      const [g, d] = await Promise.allSettled([a.grant(request.approval_request_id, t), b.deny(request.approval_request_id, "carol", "no")]);
      expect(d.status).toBe("fulfilled");
      const final = (await a.get(request.approval_request_id))!;
      expect(final.state).toBe("denied");
      // if the grant landed first, its token was revoked by the deny
      if (g.status === "fulfilled") expect(Object.fromEntries(await b.tokenStatus([{ token_id: t.token_id }]))).toEqual({ [t.token_id]: "revoked" });
    }
  });

  it("a kill switch set through one is in force on the other at its next poll", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const a = new RedisKillSwitchStore(await connect(prefix), { pollMs: 50 });
    const b = new RedisKillSwitchStore(await connect(prefix), { pollMs: 50 });
    await a.start();
    await b.start();
    const seen = new Promise<KillSwitchState>((resolve) => {
      const t = setInterval(() => {
        const s = b.current();
        if (s && !("unavailable" in s) && s.entries.length) {
          clearInterval(t);
          resolve(s);
        }
      }, 10);
    });
    const e = await a.set({ tool_name: "tool.exec", reason: "incident" }, "ops");
    expect((await seen).entries.map((x) => x.entry_id)).toEqual([e.entry_id]);
    await a.close();
    await b.close();
  });
});

describe("a store that lost its data or went backwards is refused", () => {
  it("flushed (restarted without persistence): every call fails rolled_back, never allows", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const s = await connect(prefix);
    const ledger = new RedisApprovalStore(s, { sweepIntervalMs: 0 });
    const counters = new RedisCounterStore(s);
    expect(await ledger.consumeTokens([{ token_id: "tok-1" }], sha256Hex("i"))).toBe(true);
    cli("DEL", `${prefix}meta`);
    const err = await ledger.consumeTokens([{ token_id: "tok-1" }], sha256Hex("i")).catch((e: unknown) => e);
    expect(isApprovalStoreError(err) && err.code).toBe("rolled_back");
    expect((err as Error).message).toMatch(/lost its data .* --reset-approval-state/);
    const k = key();
    await expect(counters.consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime())).rejects.toThrow(/lost its data|refusing/);
    expect(s.ok).toBe(false);
  });

  it("restored from an older copy (ledger seq lower than seen): refused", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const s = await connect(prefix);
    const ledger = new RedisApprovalStore(s, { sweepIntervalMs: 0 });
    await ledger.consumeTokens([{ token_id: "a" }], "d");
    await ledger.consumeTokens([{ token_id: "b" }], "d");
    expect(ledger.head().seq).toBe(2);
    cli("HSET", `${prefix}meta`, "seq", "0");
    cli("DEL", `${prefix}tok:b`);
    // the next change reports seq 1 < 2: refused from then on
    await ledger.consumeTokens([{ token_id: "c" }], "d").catch(() => undefined);
    const err = await ledger.consumeTokens([{ token_id: "b" }], "d").catch((e: unknown) => e);
    expect(isApprovalStoreError(err) && err.code).toBe("rolled_back");
    expect((err as Error).message).toMatch(/went backwards/);
  });

  it("reset sets a floor: tokens created before it are refused by every replica", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const before = tokenFor(sha256Hex("i"), sha256Hex("p"), "alice", Date.now() - 60_000);
    await connect(prefix);
    const s = await connect(prefix, { reset: true });
    const ledger = new RedisApprovalStore(s, { sweepIntervalMs: 0 });
    expect(Object.fromEntries(await ledger.tokenStatus([{ token_id: before.token_id, created_at: before.created_at }]))).toEqual({ [before.token_id]: "revoked" });
    expect(await ledger.consumeTokens([{ token_id: before.token_id, created_at: before.created_at }], "d")).toBe(false);
    const fresh = tokenFor(sha256Hex("i"), sha256Hex("p"), "alice", Date.now() + 1000);
    expect(await ledger.consumeTokens([{ token_id: fresh.token_id, created_at: fresh.created_at }], "d")).toBe(true);
  });
});

describe("Redis settings that would undo the ledger", () => {
  it("an eviction policy is refused at connect (a spent-token mark could be evicted); noeviction is accepted", async () => {
    cli("CONFIG", "SET", "maxmemory-policy", "volatile-lru");
    try {
      const err = await connect().catch((e: unknown) => e);
      expect(isSharedStateError(err) && err.code).toBe("unavailable");
      expect((err as Error).message).toMatch(/maxmemory-policy is volatile-lru: .* set maxmemory-policy noeviction/);
    } finally {
      cli("CONFIG", "SET", "maxmemory-policy", "noeviction");
    }
    expect((await connect()).warnings).toEqual([]);
  });

  it("a long counter key (a long client-asserted identity) is stored under its digest and still counts", async () => {
    const s = new RedisCounterStore(await connect());
    const k = key(`tool.write|${"x".repeat(5000)}`);
    expect(await s.consume(k.counterKey, 2, k.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: true, used: 1 });
    expect(await s.consume(k.counterKey, 2, k.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: true, used: 2 });
    expect(await s.consume(k.counterKey, 2, k.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: false, used: 2 });
  });
});

describe("Redis stopped and started again", () => {
  it("calls fail at once with a clear reason while it is down, the kill switch goes unavailable, and all recovers by itself", async () => {
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const health: boolean[] = [];
    const s = await connect(prefix, { onHealth: (ok) => health.push(ok) });
    const counters = new RedisCounterStore(s);
    const ledger = new RedisApprovalStore(s, { sweepIntervalMs: 0 });
    const ks = new RedisKillSwitchStore(s, { pollMs: 50, staleMs: 200 });
    await ks.start();
    const k = key();
    expect((await counters.consume(k.counterKey, 100, k.bucketExpiresAtMs, T.getTime())).allowed).toBe(true);
    await redis.stop();
    try {
      const err = await counters.consume(k.counterKey, 100, k.bucketExpiresAtMs, T.getTime()).catch((e: unknown) => e);
      expect(isSharedStateError(err) && err.code).toBe("unavailable");
      expect((err as Error).message).toMatch(/shared state at unix:\/\/.* (unavailable|unreachable|did not answer)/);
      const lerr = await ledger.consumeTokens([{ token_id: "x" }], "d").catch((e: unknown) => e);
      expect(isApprovalStoreError(lerr) && lerr.code).toBe("io");
      await waitUntil(() => ks.current() !== undefined && "unavailable" in ks.current()!);
      expect((ks.current() as { unavailable: string }).unavailable).toMatch(/not confirmed for \d+ ms/);
      expect(health).toContain(false);
    } finally {
      await redis.start();
    }
    await waitUntil(() => s.ok);
    await waitUntil(() => ks.current() !== undefined && !("unavailable" in ks.current()!));
    // the data survived (append-only file): the counter continues, nothing was forgotten
    expect(await counters.consume(k.counterKey, 100, k.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: true, used: 2 });
    expect(health[health.length - 1]).toBe(true);
    await ks.close();
  });
});

async function waitUntil(cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 20));
  }
}
