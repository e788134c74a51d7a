/**
 * Rate-limit and destructive-budget counters shared by every replica (`--state redis://...`): the engine's
 * {@link CounterStore} over one Lua script, so check-and-increment is atomic across replicas and costs one round trip
 * per counter.
 *
 * Gait's semantics, unchanged (gate.md §4.1): fixed windows on the wall clock, the key names the bucket
 * (`window|scope|bucketStartRFC3339|scopeKey`, so a new window is a new key that starts at zero), and
 * `used >= limit` denies without incrementing. A bucket expires in Redis a minute after its window ended (clean-up
 * only: its key is never used again). Replicas' clocks decide the bucket: keep them in sync (NTP).
 *
 * Memory: buckets expire with their window, and Redis must run with `maxmemory-policy noeviction` (checked at
 * start, connection.ts): a full Redis refuses the increment and the decision fails closed.
 *
 * Fail closed: an unreachable, slow, replaced or rolled-back store throws SharedStateError (the decision fails with
 * STATE_UNAVAILABLE, never allow).
 */
import { sha256Hex } from "../../engine/canon.js";
import type { CounterStore } from "../../engine/types.js";
import { Script, type SharedState } from "./connection.js";

/** Counter keys longer than this are stored under their digest (identities are client-asserted: a long one must not
 * make a long Redis key). */
const MAX_KEY = 200;

/** Kept after a window ends before Redis drops the bucket (the key is never read again; clean-up slack). */
const AFTER_WINDOW_MS = 60_000;

// ARGV[3] limit, ARGV[4] ttl ms; KEYS[1] the counter
const CONSUME = new Script(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[3]) then return {0, n} end
n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return {1, n}
`);

export class RedisCounterStore implements CounterStore {
  constructor(private readonly state: SharedState) {}

  async consume(key: string, limit: number, bucketExpiresAtMs: number, nowMs: number = Date.now()): Promise<{ allowed: boolean; used: number }> {
    // relative expiry from the caller's clock: the bucket's remaining window plus slack (never 0: PEXPIRE 0 deletes)
    const ttl = Math.max(0, bucketExpiresAtMs - nowMs) + AFTER_WINDOW_MS;
    const name = key.length <= MAX_KEY ? key : `sha256:${sha256Hex(key)}`;
    const [ok, used] = (await this.state.run(CONSUME, [`${this.state.prefix}rl:${name}`], [Math.max(0, Math.floor(limit)), Math.ceil(ttl)])) as [number, number];
    return { allowed: ok === 1, used: Number(used) };
  }
}
