import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { CounterLockTimeoutError, CounterStateError, FileCounterStore } from "../../../src/state/counters-file.js";
import { MemoryCounterStore } from "../../../src/state/counters-memory.js";
import { counterContract, key, T } from "./counters.contract.js";


counterContract("memory", () => new MemoryCounterStore());

describe("MemoryCounterStore", () => {
  it("prunes buckets whose window ended", async () => {
    const s = new MemoryCounterStore();
    const a = key();
    await s.consume(a.counterKey, 5, a.bucketExpiresAtMs, T.getTime());
    const b = key("tool.read|alice", new Date("2026-03-01T12:40:00Z"));
    await s.consume(b.counterKey, 5, b.bucketExpiresAtMs, b.bucketStartMs);
    expect(s.size).toBe(1);
  });
});

describe("FileCounterStore", () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "gait-counters-"));
    path = join(dir, "nested", "gate_rate_limits.json");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const contractDirs: string[] = [];
  afterAll(() => contractDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  counterContract("file", () => {
    const d = mkdtempSync(join(tmpdir(), "gait-counters-c-"));
    contractDirs.push(d);
    return new FileCounterStore(join(d, "state.json"));
  });

  it("writes Gait's state file shape, mode 0600, and removes its lock", async () => {
    const s = new FileCounterStore(path);
    const k = key();
    await s.consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime());
    await s.consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime());
    const text = readFileSync(path, "utf8");
    expect(JSON.parse(text)).toEqual({
      schema_id: "gait.gate.rate_limit_state",
      schema_version: "1.0.0",
      counters: [{ key: "minute|tool_identity|2026-03-01T12:34:00Z|tool.write|alice", count: 2 }],
    });
    expect(text.endsWith("}\n")).toBe(true);
    expect(text).toContain('\n  "counters": [');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(existsSync(`${path}.lock`)).toBe(false);
    expect(readdirSync(join(dir, "nested")).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("reads a Gait-written file and keeps counting; prunes ended and malformed keys", async () => {
    const k = key();
    writeFileSync(
      path.replace("nested/", ""),
      JSON.stringify({
        schema_id: "gait.gate.rate_limit_state",
        schema_version: "1.0.0",
        counters: [
          { key: k.counterKey, count: 4 },
          { key: "minute|tool|2026-03-01T11:00:00Z|old", count: 9 },
          { key: "hour|tool|2026-03-01T12:00:00Z|tool.x", count: 1 },
          { key: "garbage", count: 3 },
        ],
      }),
    );
    const s = new FileCounterStore(path.replace("nested/", ""));
    expect(await s.consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: true, used: 5 });
    expect(await s.consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: false, used: 5 });
    expect([...(await s.snapshot()).keys()]).toEqual(["hour|tool|2026-03-01T12:00:00Z|tool.x", k.counterKey]);
  });

  it("an unreadable state file is an error, never a silent reset", async () => {
    writeFileSync(join(dir, "bad.json"), "{not json");
    const s = new FileCounterStore(join(dir, "bad.json"));
    const k = key();
    await expect(s.consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime())).rejects.toThrow(CounterStateError);
    await expect(s.consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime())).rejects.toThrow(/parse rate limit state .*remove it to reset/);
    writeFileSync(join(dir, "bad2.json"), JSON.stringify({ counters: [{ key: 1, count: "x" }] }));
    await expect(new FileCounterStore(join(dir, "bad2.json")).consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime())).rejects.toThrow(CounterStateError);
    expect(existsSync(join(dir, "bad.json.lock"))).toBe(false);
  });

  it("lock contention times out with a retryable state_contention error", async () => {
    const state = join(dir, "state.json");
    const meta = { schema_id: "gait.gate.rate_limit_lock", schema_version: "1.0.0", pid: 99999, created_at: new Date().toISOString() };
    writeFileSync(`${state}.lock`, JSON.stringify(meta));
    const s = new FileCounterStore(state, { lockTimeoutMs: 60, lockRetryMs: 5 });
    const k = key();
    const err = await s.consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CounterLockTimeoutError);
    expect((err as CounterLockTimeoutError).message).toContain("lock contention");
    expect(err).toMatchObject({ code: "rate_limit_lock_timeout", category: "state_contention", retryable: true });
    expect(existsSync(state)).toBe(false); // nothing counted
    expect(existsSync(`${state}.lock`)).toBe(true); // someone else's lock is left alone
  });

  it("takes over a stale lock (old created_at)", async () => {
    const state = join(dir, "state.json");
    const meta = { schema_id: "gait.gate.rate_limit_lock", schema_version: "1.0.0", pid: 99999, created_at: "2020-01-01T00:00:00Z" };
    writeFileSync(`${state}.lock`, JSON.stringify(meta));
    const k = key();
    const s = new FileCounterStore(state, { lockTimeoutMs: 60, lockRetryMs: 5 });
    expect(await s.consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: true, used: 1 });
    expect(existsSync(`${state}.lock`)).toBe(false);
  });

  it("takes over a stale lock (old mtime, unreadable metadata)", async () => {
    const state = join(dir, "state.json");
    writeFileSync(`${state}.lock`, "garbage");
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${state}.lock`, old, old);
    const k = key();
    const s = new FileCounterStore(state, { lockTimeoutMs: 60, lockRetryMs: 5 });
    expect((await s.consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime())).allowed).toBe(true);
  });

  it("two store instances on one file serialize through the lock file", async () => {
    const state = join(dir, "shared.json");
    const a = new FileCounterStore(state);
    const b = new FileCounterStore(state);
    const k = key();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).consume(k.counterKey, 100, k.bucketExpiresAtMs, T.getTime())));
    expect(results.map((r) => r.used).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await a.snapshot()).get(k.counterKey)).toBe(10);
  });

  it("refuses an empty path", () => {
    expect(() => new FileCounterStore("  ")).toThrow(CounterStateError);
  });
});

describe("MemoryCounterStore bound", () => {
  it("denies a new key once maxBuckets live buckets exist (fail closed), and admits it after they expire", async () => {
    const m = new MemoryCounterStore(3);
    for (const k of ["a", "b", "c"]) expect((await m.consume(k, 10, 1000, 0)).allowed).toBe(true);
    expect((await m.consume("d", 10, 1000, 1)).allowed).toBe(false);
    expect((await m.consume("a", 10, 1000, 1)).allowed).toBe(true); // existing keys keep counting
    expect((await m.consume("d", 10, 2000, 1000)).allowed).toBe(true);
  });
});
