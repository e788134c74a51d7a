/**
 * The contract every {@link CounterStore} meets (memory, file, Redis): Gait's check-and-increment in fixed windows.
 * Call `counterContract(name, make)` from a test file; `make` returns a fresh, empty store.
 */
import { describe, expect, it } from "vitest";
import { rateLimitKey } from "../../../src/engine/ratelimit.js";
import type { CounterStore } from "../../../src/engine/types.js";

export const T = new Date("2026-03-01T12:34:56Z");
export const key = (scopeKey = "tool.write|alice", now = T) => rateLimitKey({ requests: 1, window: "minute", scope: "tool_identity" }, scopeKey.split("|")[0]!, scopeKey.split("|")[1]!, now);

/** The contract every CounterStore must meet. */
export function counterContract(name: string, make: () => CounterStore | Promise<CounterStore>) {
  describe(`${name}: CounterStore contract`, () => {
    it("increments to the limit, then denies without incrementing", async () => {
      const s = await make();
      const k = key();
      expect(await s.consume(k.counterKey, 2, k.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: true, used: 1 });
      expect(await s.consume(k.counterKey, 2, k.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: true, used: 2 });
      expect(await s.consume(k.counterKey, 2, k.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: false, used: 2 });
      expect(await s.consume(k.counterKey, 3, k.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: true, used: 3 });
    });
    it("keys are independent", async () => {
      const s = await make();
      const a = key("tool.write|alice");
      const b = key("tool.write|bob");
      await s.consume(a.counterKey, 1, a.bucketExpiresAtMs, T.getTime());
      expect(await s.consume(b.counterKey, 1, b.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: true, used: 1 });
      expect(await s.consume(a.counterKey, 1, a.bucketExpiresAtMs, T.getTime())).toEqual({ allowed: false, used: 1 });
    });
    it("a new window starts at zero", async () => {
      const s = await make();
      const now = key();
      const later = key(undefined, new Date("2026-03-01T12:35:00Z"));
      await s.consume(now.counterKey, 1, now.bucketExpiresAtMs, T.getTime());
      expect(await s.consume(later.counterKey, 1, later.bucketExpiresAtMs, later.bucketStartMs)).toEqual({ allowed: true, used: 1 });
    });
    it("concurrent consumers never exceed the limit", async () => {
      const s = await make();
      const k = key();
      const results = await Promise.all(Array.from({ length: 12 }, () => s.consume(k.counterKey, 5, k.bucketExpiresAtMs, T.getTime())));
      expect(results.filter((r) => r.allowed)).toHaveLength(5);
      expect(results.filter((r) => r.allowed).map((r) => r.used).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
    });
  });
}
