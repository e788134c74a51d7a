/**
 * In-process {@link CounterStore}: one Map, atomic because Node runs each `consume` to completion without
 * interleaving. Right for a single server process and for tests; counters vanish on restart and are not shared
 * across replicas (use the file store for the one-shot CLI, a shared store for replicated servers).
 */
import type { CounterStore } from "../engine/types.js";

interface Bucket {
  count: number;
  expiresAtMs: number;
}

export class MemoryCounterStore implements CounterStore {
  private readonly buckets = new Map<string, Bucket>();
  /**
   * @param maxBuckets live buckets kept at most: a flood of distinct keys (identities are client-asserted) cannot grow
   * memory without bound. A new key beyond it is denied (the engine blocks the call as rate-limited): fail closed.
   */
  constructor(private readonly maxBuckets = 1_000_000) {}
  /** earliest expiry among stored buckets: pruning scans only once something can have expired */
  private nextExpiryMs = Number.POSITIVE_INFINITY;

  /**
   * Read the counter; deny without incrementing when `used >= limit`, else increment. Buckets whose window ended at
   * or before `nowMs` (default Date.now()) are dropped first, so memory stays bounded by the live windows.
   */
  async consume(key: string, limit: number, bucketExpiresAtMs: number, nowMs: number = Date.now()): Promise<{ allowed: boolean; used: number }> {
    this.prune(nowMs, key);
    const bucket = this.buckets.get(key);
    if (!bucket && this.buckets.size >= this.maxBuckets) return { allowed: false, used: 0 };
    const used = bucket?.count ?? 0;
    if (used >= limit) return { allowed: false, used };
    const next = used + 1;
    const expiresAtMs = Math.max(bucket?.expiresAtMs ?? 0, bucketExpiresAtMs);
    this.buckets.set(key, { count: next, expiresAtMs });
    if (expiresAtMs < this.nextExpiryMs) this.nextExpiryMs = expiresAtMs;
    return { allowed: true, used: next };
  }

  /** Number of live buckets (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private prune(nowMs: number, keep: string): void {
    if (nowMs < this.nextExpiryMs) return;
    let next = Number.POSITIVE_INFINITY;
    for (const [k, b] of this.buckets) {
      if (b.expiresAtMs <= nowMs && k !== keep) this.buckets.delete(k);
      else if (b.expiresAtMs < next) next = b.expiresAtMs;
    }
    this.nextExpiryMs = next;
  }
}
