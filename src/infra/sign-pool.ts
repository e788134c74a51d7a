/**
 * Ed25519 signing on a second core (issue 14; `gait mcp serve --signing-worker`, on by default). At 64 calls in flight the
 * server's main thread is its bottleneck, and the trace record's Ed25519 signature is the largest single piece of its
 * work (~28 us of ~210 us of CPU per decision). A {@link SignPool} hands the 32-byte digests to one worker thread in
 * batches (one message per event-loop turn, however many digests it carries) and gets the 64-byte signatures back.
 *
 * It never fails a decision that signing inline would not fail, and never signs with another key: the worker holds a
 * copy of the same seed, and at start its signature of a probe digest must verify with the key pair's public key, or
 * the pool is not used. When the worker dies, errs, answers without the signatures or does not answer within
 * {@link SignPoolOptions.stallMs}, every digest it holds is signed inline on the main thread and the pool turns itself
 * off (signing goes on inline; `onWarning` says why, once). Each digest has its own promise; the trace log, not the
 * signer, orders records.
 *
 * Why not node:crypto's callback form (libuv's thread pool)? Measured: one thread-pool job per signature, queued
 * with the trace log's durable writes, delayed the commits and gained nothing at 64 in flight and lost 9% at 8.
 */
import { Worker } from "node:worker_threads";
import type { Ed25519KeyPair } from "./keys.js";

/** The worker (CommonJS, an `eval` worker; node:crypto only). In: {id, digests: n*32 bytes}; out: {id, sigs: n*64 bytes} or {id, error}. */
const WORKER_SOURCE = `
"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const { createPrivateKey, sign } = require("node:crypto");
const key = createPrivateKey({ key: Buffer.from(workerData.pkcs8), format: "der", type: "pkcs8" });
parentPort.on("message", (m) => {
  try {
    const n = m.digests.length / 32;
    const sigs = new Uint8Array(n * 64);
    for (let i = 0; i < n; i++) sigs.set(sign(null, m.digests.subarray(i * 32, i * 32 + 32), key), i * 64);
    parentPort.postMessage({ id: m.id, sigs }, [sigs.buffer]);
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

export interface SignPoolOptions {
  /** A batch unanswered for this long is signed inline and the pool turns itself off. @defaultValue 2000 */
  stallMs?: number;
  /** Why the pool turned itself off (said once). */
  onWarning?: (message: string) => void;
  /** Tests: the worker's source (the default signs with the key). */
  workerSource?: string;
}

interface Waiter {
  digest: Uint8Array;
  resolve: (sig: Uint8Array) => void;
  reject: (e: Error) => void;
}

export interface SignPoolStats {
  /** Messages sent to the worker. */
  batches: number;
  /** Digests signed by the worker. */
  offloaded: number;
  /** Digests signed on the main thread by the pool (after it turned off). */
  inline: number;
  active: boolean;
}

export class SignPool {
  readonly keyId: string;
  private worker: Worker | undefined;
  private queue: Waiter[] = [];
  private scheduled = false;
  private readonly inFlight = new Map<number, { waiters: Waiter[]; sentAt: number }>();
  private nextId = 1;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly stallMs: number;
  private onWarning: (message: string) => void;
  private offReason = "";
  private closed = false;
  private counters = { batches: 0, offloaded: 0, inline: 0 };

  private constructor(
    private readonly keys: Ed25519KeyPair,
    worker: Worker,
    options: SignPoolOptions,
  ) {
    this.keyId = keys.keyId;
    this.worker = worker;
    this.stallMs = options.stallMs ?? 2000;
    this.onWarning = options.onWarning ?? (() => undefined);
    worker.on("message", (m: { id: number; sigs?: Uint8Array; error?: string }) => this.onMessage(m));
    worker.on("error", (e) => this.turnOff(`signing worker failed: ${e.message}`));
    worker.on("exit", (code) => this.turnOff(`signing worker exited (code ${code})`));
    worker.unref(); // never keeps the process alive on its own
  }

  /**
   * Start the worker and prove that it signs with `keys` (a probe signature verified with the public key).
   * Resolves undefined, after `onWarning`, when the worker cannot start or its probe fails: the caller signs inline.
   */
  static async start(keys: Ed25519KeyPair, options: SignPoolOptions = {}): Promise<SignPool | undefined> {
    const warn = options.onWarning ?? (() => undefined);
    let worker: Worker;
    try {
      // a small heap: the worker allocates a few buffers per batch
      worker = new Worker(options.workerSource ?? WORKER_SOURCE, {
        eval: true,
        workerData: { pkcs8: keys.pkcs8() },
        resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
      });
    } catch (e) {
      warn(`signing worker not started (signing on the main thread): ${(e as Error).message}`);
      return undefined;
    }
    const pool = new SignPool(keys, worker, { ...options, onWarning: () => undefined });
    try {
      const probe = new Uint8Array(32).fill(0x5a);
      const sig = await withTimeout(pool.sign(probe), 10_000, "no answer to its probe within 10 s");
      if (pool.offReason) throw new Error(pool.offReason);
      if (!keys.verify(probe, sig)) throw new Error("its probe signature does not verify with the server's public key");
    } catch (e) {
      await pool.close();
      warn(`signing worker not used (signing on the main thread): ${(e as Error).message}`);
      return undefined;
    }
    pool.onWarning = warn;
    pool.counters = { batches: 0, offloaded: 0, inline: 0 };
    return pool;
  }

  /** True while the worker takes digests. */
  get active(): boolean {
    return this.worker !== undefined;
  }

  stats(): SignPoolStats {
    return { ...this.counters, active: this.active };
  }

  /** Sign `digest` (32 bytes) in the worker, batched with the other digests of this event-loop turn; inline once the pool is off. */
  sign(digest: Uint8Array): Promise<Uint8Array> {
    if (!this.worker || digest.length !== 32) {
      try {
        return Promise.resolve(this.signInline(digest));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      this.queue.push({ digest, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // every digest asked for by the I/O callbacks of this loop turn goes in one message
        setImmediate(() => this.send());
      }
    });
  }

  /** Stop the worker; digests it holds are signed inline. */
  async close(): Promise<void> {
    const w = this.worker;
    this.closed = true;
    this.turnOff("");
    if (w) await w.terminate().catch(() => undefined);
  }

  private signInline(digest: Uint8Array): Uint8Array {
    this.counters.inline++;
    return this.keys.sign(digest);
  }

  private send(): void {
    this.scheduled = false;
    const waiters = this.queue;
    this.queue = [];
    if (waiters.length === 0) return;
    const w = this.worker;
    if (!w) return this.signAllInline(waiters);
    const digests = new Uint8Array(waiters.length * 32);
    for (let i = 0; i < waiters.length; i++) digests.set(waiters[i]!.digest, i * 32);
    const id = this.nextId++;
    this.inFlight.set(id, { waiters, sentAt: Date.now() });
    try {
      w.postMessage({ id, digests }, [digests.buffer]);
    } catch (e) {
      this.turnOff(`signing worker refused a batch: ${(e as Error).message}`);
      return;
    }
    this.counters.batches++;
    this.counters.offloaded += waiters.length;
    this.armWatchdog();
  }

  private onMessage(m: { id: number; sigs?: Uint8Array; error?: string }): void {
    const batch = this.inFlight.get(m.id);
    if (!batch) return; // signed inline already (the pool turned off meanwhile)
    this.inFlight.delete(m.id);
    const { waiters } = batch;
    if (!(m.sigs instanceof Uint8Array) || m.sigs.length !== waiters.length * 64) {
      // a worker that cannot sign is of no use: this batch, and everything after it, is signed here
      this.signAllInline(waiters);
      this.turnOff(`signing worker answered a batch without its signatures (${m.error ?? "wrong length"})`);
      return;
    }
    for (let i = 0; i < waiters.length; i++) waiters[i]!.resolve(m.sigs.subarray(i * 64, i * 64 + 64));
  }

  private armWatchdog(): void {
    if (this.watchdog || this.inFlight.size === 0) return;
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      const now = Date.now();
      for (const b of this.inFlight.values()) {
        if (now - b.sentAt >= this.stallMs) return this.turnOff(`signing worker did not answer within ${this.stallMs} ms`);
      }
      this.armWatchdog();
    }, this.stallMs);
    this.watchdog.unref();
  }

  /** Stop using the worker; sign what it held and what is queued inline. `reason` "" = a close. */
  private turnOff(reason: string): void {
    const w = this.worker;
    this.worker = undefined;
    if (reason && !this.offReason && !this.closed) {
      this.offReason = reason;
      this.onWarning(`${reason}; signing on the main thread from now on`);
    }
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
    const held = [...this.inFlight.values()].flatMap((b) => b.waiters);
    this.inFlight.clear();
    const queued = this.queue;
    this.queue = [];
    this.signAllInline([...held, ...queued]);
    if (w && reason && !this.closed) void w.terminate().catch(() => undefined);
  }

  private signAllInline(waiters: Waiter[]): void {
    for (const x of waiters) {
      try {
        x.resolve(this.signInline(x.digest));
      } catch (e) {
        x.reject(e as Error);
      }
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(what)), ms)))]).finally(() => clearTimeout(t));
}
