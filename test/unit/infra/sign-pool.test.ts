/**
 * The signing worker (src/infra/sign-pool.ts, `gait mcp serve --signing-worker`, on by default): it signs with the server's key
 * and batches, and every way it can go wrong (a wrong key, death, silence, garbage, a close) ends with each digest
 * signed inline or its promise rejected, never with a signature that does not verify.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { SignPool } from "../../../src/infra/sign-pool.js";

const key = Ed25519KeyPair.generate();
const pools: SignPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

/** A worker that signs correctly for its first `good` messages (the probe is the first), then does `then`. */
function workerThat(good: number, then: string): string {
  return `
const { parentPort, workerData } = require("node:worker_threads");
const { createPrivateKey, sign } = require("node:crypto");
const key = createPrivateKey({ key: Buffer.from(workerData.pkcs8), format: "der", type: "pkcs8" });
let n = 0;
parentPort.on("message", (m) => {
  if (n++ >= ${good}) { ${then}; return; }
  const k = m.digests.length / 32, sigs = new Uint8Array(k * 64);
  for (let i = 0; i < k; i++) sigs.set(sign(null, m.digests.subarray(i * 32, i * 32 + 32), key), i * 64);
  parentPort.postMessage({ id: m.id, sigs });
});`;
}

const digests = (n: number, seed = 0): Uint8Array[] => Array.from({ length: n }, (_, i) => new Uint8Array(32).fill((i + seed) % 256));

async function start(opts: Parameters<typeof SignPool.start>[1] = {}): Promise<{ pool: SignPool | undefined; warnings: string[] }> {
  const warnings: string[] = [];
  const pool = await SignPool.start(key, { onWarning: (m) => warnings.push(m), ...opts });
  if (pool) pools.push(pool);
  return { pool, warnings };
}

describe("signing worker", () => {
  it("signs with the server's key, one message per event-loop turn for every digest asked for in it", async () => {
    const { pool, warnings } = await start();
    expect(pool).toBeDefined();
    expect(pool!.keyId).toBe(key.keyId);
    const ds = digests(200);
    const sigs = await Promise.all(ds.map((d) => pool!.sign(d)));
    for (let i = 0; i < ds.length; i++) {
      expect(sigs[i]!.length).toBe(64);
      expect(key.verify(ds[i]!, sigs[i]!)).toBe(true);
      // Ed25519 is deterministic: the worker's signature is the one the main thread would make
      expect(Buffer.from(sigs[i]!).equals(Buffer.from(key.sign(ds[i]!)))).toBe(true);
    }
    expect(pool!.stats()).toMatchObject({ batches: 1, offloaded: 200, inline: 0, active: true });
    expect(warnings).toEqual([]);
  });

  it("is not used when its probe signature does not verify (a worker with another key)", async () => {
    const other = Ed25519KeyPair.generate();
    const src = `
const { parentPort } = require("node:worker_threads");
const { createPrivateKey, sign } = require("node:crypto");
const key = createPrivateKey({ key: Buffer.from(${JSON.stringify(Array.from(other.pkcs8()))}), format: "der", type: "pkcs8" });
parentPort.on("message", (m) => parentPort.postMessage({ id: m.id, sigs: new Uint8Array(sign(null, m.digests.subarray(0, 32), key)) }));`;
    const { pool, warnings } = await start({ workerSource: src });
    expect(pool).toBeUndefined();
    expect(warnings.join("\n")).toMatch(/probe signature does not verify/);
  });

  it("is not used when the worker cannot start (a syntax error)", async () => {
    const { pool, warnings } = await start({ workerSource: "this is not javascript(" });
    expect(pool).toBeUndefined();
    expect(warnings.join("\n")).toMatch(/signing worker not used/);
  });

  it("a worker that dies with digests in hand: they are signed inline, and so is everything after", async () => {
    const { pool, warnings } = await start({ workerSource: workerThat(1, "process.exit(3)") });
    const ds = digests(50, 7);
    const sigs = await Promise.all(ds.map((d) => pool!.sign(d)));
    ds.forEach((d, i) => expect(key.verify(d, sigs[i]!)).toBe(true));
    expect(pool!.active).toBe(false);
    const later = new Uint8Array(32).fill(0xee);
    expect(key.verify(later, await pool!.sign(later))).toBe(true);
    expect(pool!.stats().inline).toBe(51);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/exited \(code 3\).*main thread/);
  });

  it("a worker that stops answering: after stallMs its digests are signed inline", async () => {
    const { pool, warnings } = await start({ workerSource: workerThat(1, "/* silence */"), stallMs: 100 });
    const t0 = Date.now();
    const ds = digests(10, 3);
    const sigs = await Promise.all(ds.map((d) => pool!.sign(d)));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    ds.forEach((d, i) => expect(key.verify(d, sigs[i]!)).toBe(true));
    expect(pool!.active).toBe(false);
    expect(warnings.join("\n")).toMatch(/did not answer within 100 ms/);
  });

  it("an answer without the signatures (an error, or the wrong length) turns the pool off; the batch is signed inline", async () => {
    for (const then of [`parentPort.postMessage({ id: m.id, error: "boom" })`, `parentPort.postMessage({ id: m.id, sigs: new Uint8Array(64) })`]) {
      const { pool, warnings } = await start({ workerSource: workerThat(1, then) });
      const ds = digests(5, 11);
      const sigs = await Promise.all(ds.map((d) => pool!.sign(d)));
      ds.forEach((d, i) => expect(key.verify(d, sigs[i]!)).toBe(true));
      expect(pool!.active).toBe(false);
      expect(warnings.join("\n")).toMatch(/without its signatures/);
    }
  });

  it("a signature that fails inline rejects that digest's promise (never a made-up signature)", async () => {
    const { pool } = await start({ workerSource: workerThat(1, "process.exit(1)") });
    // the pool signs inline with the key it was given: make that key fail for one digest
    const bad = new Uint8Array(32).fill(0x42);
    const original = key.sign.bind(key);
    (key as { sign: (d: Uint8Array) => Uint8Array }).sign = (d) => {
      if (d[0] === 0x42) throw new Error("sign failed");
      return original(d);
    };
    try {
      const results = await Promise.allSettled([pool!.sign(bad), pool!.sign(digests(1, 1)[0]!)]);
      expect(results[0]!.status).toBe("rejected");
      expect((results[0] as PromiseRejectedResult).reason.message).toBe("sign failed");
      expect(results[1]!.status).toBe("fulfilled");
    } finally {
      delete (key as { sign?: unknown }).sign;
    }
  });

  it("close(): what is queued is signed inline, with no warning", async () => {
    const { pool, warnings } = await start();
    const ds = digests(20, 5);
    const pending = ds.map((d) => pool!.sign(d));
    await pool!.close();
    const sigs = await Promise.all(pending);
    ds.forEach((d, i) => expect(key.verify(d, sigs[i]!)).toBe(true));
    expect(warnings).toEqual([]);
  });

  it("a digest that is not 32 bytes is signed inline", async () => {
    const { pool } = await start();
    const odd = new Uint8Array(48).fill(9);
    expect(key.verify(odd, await pool!.sign(odd))).toBe(true);
    expect(pool!.stats()).toMatchObject({ offloaded: 0, inline: 1 });
  });
});
