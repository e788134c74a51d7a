/**
 * File-backed {@link CounterStore} for the one-shot CLI (`gait gate eval --rate-limit-state`), compatible with
 * Gait's `.gait-out/gate_rate_limits.json`: the same JSON shape, the same lock file protocol, the same counter keys,
 * so Gait and this implementation can share one state file.
 *
 * State file (`gait.gate.rate_limit_state` 1.0.0), written with 2-space indentation and a trailing newline, counters
 * sorted by key, zero counts dropped:
 *
 * ```json
 * { "schema_id": "gait.gate.rate_limit_state", "schema_version": "1.0.0",
 *   "counters": [ { "key": "minute|tool_identity|2026-01-02T03:04:00Z|tool.write|alice", "count": 2 } ] }
 * ```
 *
 * Key = `window|scope|bucketStartRFC3339|scopeKey` (see engine/ratelimit.ts). Buckets whose window has ended are
 * pruned on every write, and keys without the four parts are dropped (as Gait does).
 *
 * Locking (evidence.md §8.4, ADR 0003): `<state>.lock` created with O_CREAT|O_EXCL holding
 * `{"schema_id":"gait.gate.rate_limit_lock","schema_version":"1.0.0","pid":N,"created_at":"…"}`; retried every
 * 15 ms for up to 3 s, then {@link CounterLockTimeoutError} (state_contention, retryable, CLI exit 1). A lock whose
 * file mtime or created_at is older than 15 s is stale (its owner died) and is removed. Writes are atomic
 * (ADR 0002): temp file in the same directory, fsync, chmod 0600, rename, fsync of the directory.
 */
import { mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { CounterStore } from "../engine/types.js";
import { writeFileAtomic } from "../infra/fs.js";
import { formatGoTime, parseRFC3339 } from "../engine/time.js";

export const RATE_LIMIT_STATE_SCHEMA_ID = "gait.gate.rate_limit_state";
export const RATE_LIMIT_LOCK_SCHEMA_ID = "gait.gate.rate_limit_lock";
const SCHEMA_VERSION = "1.0.0";
const WINDOW_MS: Readonly<Record<string, number>> = { minute: 60_000, hour: 3_600_000 };

export interface FileCounterStoreOptions {
  /** @defaultValue 3000 */
  lockTimeoutMs?: number;
  /** @defaultValue 15 */
  lockRetryMs?: number;
  /** @defaultValue 15000 */
  lockStaleAfterMs?: number;
}

const DEFAULTS: Readonly<Required<FileCounterStoreOptions>> = { lockTimeoutMs: 3000, lockRetryMs: 15, lockStaleAfterMs: 15_000 };

/** Another process held the state lock for the whole timeout. Retryable; the CLI exits 1 (state_contention). */
export class CounterLockTimeoutError extends Error {
  override name = "CounterLockTimeoutError";
  readonly code = "rate_limit_lock_timeout";
  readonly category = "state_contention";
  readonly retryable = true;
}

/** The state file or its lock could not be read, parsed or written. Not retryable; fix the file or permissions. */
export class CounterStateError extends Error {
  override name = "CounterStateError";
  readonly category = "io_failure";
  readonly retryable = false;
  constructor(message: string, readonly code: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class FileCounterStore implements CounterStore {
  private readonly opts: Readonly<Required<FileCounterStoreOptions>>;
  readonly lockPath: string;

  constructor(readonly statePath: string, options: FileCounterStoreOptions = {}) {
    if (!statePath.trim()) throw new CounterStateError("rate limit state path is empty", "rate_limit_state_path_invalid");
    this.opts = { ...DEFAULTS, ...options };
    this.lockPath = `${statePath}.lock`;
  }

  /**
   * Under the lock: load, prune ended buckets (relative to `nowMs`, default Date.now()), deny when
   * `used >= limit` (nothing written) or increment and write atomically. Throws on lock timeout or bad state.
   */
  async consume(key: string, limit: number, _bucketExpiresAtMs: number, nowMs: number = Date.now()): Promise<{ allowed: boolean; used: number }> {
    await mkdir(dirname(this.statePath), { recursive: true, mode: 0o750 }).catch((e: unknown) => {
      throw new CounterStateError(`create rate limit state directory ${dirname(this.statePath)}: ${errText(e)}`, "rate_limit_state_dir_failed", { cause: e });
    });
    const release = await this.acquireLock();
    try {
      const counters = await this.load();
      prune(counters, nowMs, key);
      const used = counters.get(key) ?? 0;
      if (used >= limit) return { allowed: false, used };
      counters.set(key, used + 1);
      await this.write(counters);
      return { allowed: true, used: used + 1 };
    } finally {
      await release();
    }
  }

  /** Read the current counters (no lock; for inspection and tests). Missing file = empty. */
  async snapshot(): Promise<Map<string, number>> {
    return this.load();
  }

  private async acquireLock(): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.opts.lockTimeoutMs;
    for (;;) {
      let handle;
      try {
        handle = await open(this.lockPath, "wx", 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new CounterStateError(
            `acquire rate limit lock ${this.lockPath}: ${errText(e)} (check write permissions for the state directory)`,
            "rate_limit_lock_acquire_failed",
            { cause: e },
          );
        }
      }
      if (handle) {
        try {
          const meta = { schema_id: RATE_LIMIT_LOCK_SCHEMA_ID, schema_version: SCHEMA_VERSION, pid: process.pid, created_at: formatGoTime(new Date()) };
          await handle.writeFile(JSON.stringify(meta) + "\n");
          await handle.sync();
          await handle.close();
        } catch (e) {
          await handle.close().catch(() => undefined);
          await unlink(this.lockPath).catch(() => undefined);
          throw new CounterStateError(`write rate limit lock metadata ${this.lockPath}: ${errText(e)}`, "rate_limit_lock_write_failed", { cause: e });
        }
        return async () => {
          await unlink(this.lockPath).catch(() => undefined);
        };
      }
      if (await this.lockIsStale()) {
        await unlink(this.lockPath).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) {
        throw new CounterLockTimeoutError(
          `rate limit state lock contention: ${this.lockPath} is held by another process (waited ${this.opts.lockTimeoutMs} ms); retry after contention subsides`,
        );
      }
      await sleep(this.opts.lockRetryMs);
    }
  }

  private async lockIsStale(): Promise<boolean> {
    const now = Date.now();
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(this.lockPath)).mtimeMs;
    } catch {
      return false; // gone (released) or unreadable: just retry
    }
    const staleAfter = this.opts.lockStaleAfterMs;
    if (now - mtimeMs > staleAfter) return true;
    try {
      const meta = JSON.parse(await readFile(this.lockPath, "utf8")) as { created_at?: unknown };
      const created = typeof meta.created_at === "string" ? parseRFC3339(meta.created_at) : undefined;
      if (!created) return false;
      return now - created.ms > staleAfter;
    } catch {
      return false; // being written right now, or not JSON: the mtime rule decides
    }
  }

  private async load(): Promise<Map<string, number>> {
    let text: string;
    try {
      text = await readFile(this.statePath, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw new CounterStateError(`read rate limit state ${this.statePath}: ${errText(e)}`, "rate_limit_state_read_failed", { cause: e });
    }
    const bad = (why: string) =>
      new CounterStateError(`parse rate limit state ${this.statePath}: ${why} (fix the file or remove it to reset the counters)`, "rate_limit_state_invalid");
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw bad(errText(e));
    }
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw bad("not a JSON object");
    const { schema_id, counters } = doc as { schema_id?: unknown; counters?: unknown };
    if (schema_id !== undefined && schema_id !== "" && schema_id !== RATE_LIMIT_STATE_SCHEMA_ID) throw bad(`unexpected schema_id ${JSON.stringify(schema_id)}`);
    const out = new Map<string, number>();
    if (counters === undefined || counters === null) return out;
    if (!Array.isArray(counters)) throw bad("counters must be an array");
    for (const c of counters as unknown[]) {
      const { key, count } = (c ?? {}) as { key?: unknown; count?: unknown };
      if (typeof key !== "string" || typeof count !== "number" || !Number.isSafeInteger(count)) throw bad("each counter needs a string key and an integer count");
      if (key.trim() && count > 0) out.set(key.trim(), count);
    }
    return out;
  }

  private async write(counters: Map<string, number>): Promise<void> {
    const entries = [...counters.entries()]
      .filter(([k, n]) => k.trim() && n > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, count]) => ({ key, count }));
    const text = JSON.stringify({ schema_id: RATE_LIMIT_STATE_SCHEMA_ID, schema_version: SCHEMA_VERSION, counters: entries }, null, 2) + "\n";
    try {
      await writeFileAtomic(this.statePath, text);
    } catch (e) {
      throw new CounterStateError(`write rate limit state ${this.statePath}: ${errText(e)}`, "rate_limit_state_write_failed", { cause: e });
    }
  }
}

/** Drop ended buckets (window known, bucket end <= now) and malformed keys; never the key being consumed. */
function prune(counters: Map<string, number>, nowMs: number, keep: string): void {
  for (const key of [...counters.keys()]) {
    if (key === keep) continue;
    const parts = splitN(key, "|", 4);
    if (parts.length !== 4) {
      counters.delete(key);
      continue;
    }
    const windowMs = WINDOW_MS[parts[0]!];
    const start = parseRFC3339(parts[2]!);
    if (!windowMs || !start) continue;
    if (start.ms + windowMs <= nowMs) counters.delete(key);
  }
}

/** Go's strings.SplitN: at most n parts, the last one keeps the remaining separators. */
function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err?.code ? `${err.code}: ${err.message}` : String((e as Error)?.message ?? e);
}
