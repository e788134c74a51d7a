/**
 * The durable, tamper-evident trace log of the decision service (docs/trace-log.md).
 *
 * Every decision's signed `gait.gate.trace` record is appended as one hash-chained JSONL entry, and the append
 * resolves only after the entry is on disk, so the server can reply only with evidence already durable. The active
 * segment is open with O_DSYNC: a commit is one write that returns once its data is durable (as write + fdatasync
 * would, in one system call). Appends that arrive while a commit is in flight are batched into the next one (group
 * commit): one durable write covers many concurrent decisions. Any write error rejects every pending append and
 * puts the log into a failed state, from which it recovers by itself (or on reopen, which cuts the torn tail).
 */
import { EventEmitter } from "node:events";
import { promises as fsp, constants as fsc } from "node:fs";
import { join } from "node:path";
import type { Signer } from "../engine/signature.js";
import { formatGoTime } from "../engine/time.js";
import { TraceEntry, entrySeqOf } from "./entry.js";
import {
  GENESIS_HASH,
  RECORD_SCHEMA_IDS,
  TraceLogError,
  entryHash,
  formatCheckpointLine,
  formatEntryLine,
  isCheckpointLine,
  makeCheckpoint,
  parseCheckpointLine,
  parseEntryLine,
  parseSegmentName,
  segmentName,
  type CheckpointKind,
  type SignedTraceRecord,
} from "./format.js";
import { LineReader, firstNonZero } from "./lines.js";
import { lockDir, type DirLock } from "../infra/lock.js";
import { syncDir } from "../infra/fs.js";
import { HeadMarker, type HeadMark } from "../infra/marker.js";

/** Options of {@link TraceLog.open}. Every optional field has a default in {@link TRACE_LOG_DEFAULTS}. */
export interface TraceLogOptions {
  /** Directory holding the segment files (`--trace-dir`); created 0750 when missing. */
  dir: string;
  /** Signs checkpoints. Use the same key that signs the trace records. */
  signer: Signer;
  /** Rotate to a new segment when the active one would grow past this size. @defaultValue 64 MiB */
  maxSegmentBytes?: number;
  /** Write a signed checkpoint after this many entries. @defaultValue 1000 */
  checkpointEveryEntries?: number;
  /** Write a signed checkpoint this often when entries were added since the last one; 0 = off. @defaultValue 1000 */
  checkpointIntervalMs?: number;
  /** Retention (`--trace-max-age`): delete whole sealed segments last written longer ago than this; 0 = off. @defaultValue 0 */
  maxAgeMs?: number;
  /** Retention (`--trace-max-count`): delete whole sealed segments whose entries are all older than the newest
   * `maxCount` entries (so at least `maxCount` entries are kept); 0 = off. @defaultValue 0 */
  maxCount?: number;
  /** Period of the background retention sweep; 0 = no background sweep (call sweepRetention()). @defaultValue 60000 */
  retentionIntervalMs?: number;
  /** Cut a damaged tail even when complete lines follow the first bad line (an operator decision after
   * inspecting the segment with `gait trace verify`). Without it, open() refuses such a segment. @defaultValue false */
  repairTail?: boolean;
  /** Clock for checkpoint times and retention ages (ms since epoch). @defaultValue Date.now */
  now?: () => number;
  /** Receives retention problems (they never fail a decision). @defaultValue ignore */
  onWarning?: (message: string) => void;
  /** After a write failure, how often to try to recover (reopen the tail and write a checkpoint). @defaultValue 1000 */
  recoverIntervalMs?: number;
  /** Called when the log fails (a write or fsync error: appends are refused) and when it recovers by itself. */
  onHealth?: (healthy: boolean, error?: Error) => void;
  /** Written into every checkpoint (`replica_id`, signed) when not empty: which replica of a fleet wrote this log.
   * @defaultValue "" */
  replicaId?: string;
  /** Keep this many bytes of the active segment zero-filled and fsynced ahead of its data (in the background), so
   * a commit overwrites allocated space instead of growing the file; 0 = off. @defaultValue 8 MiB */
  preallocateBytes?: number;
}

/** Defaults merged under {@link TraceLogOptions}. */
export const TRACE_LOG_DEFAULTS: Readonly<Required<Omit<TraceLogOptions, "dir" | "signer">>> = Object.freeze({
  maxSegmentBytes: 64 * 1024 * 1024,
  checkpointEveryEntries: 1000,
  checkpointIntervalMs: 1000,
  maxAgeMs: 0,
  maxCount: 0,
  retentionIntervalMs: 60_000,
  repairTail: false,
  now: Date.now,
  onWarning: () => undefined,
  recoverIntervalMs: 1000,
  onHealth: () => undefined,
  replicaId: "",
  preallocateBytes: 8 * 1024 * 1024,
});

/** What open() found and did; the server should log it (a non-empty `truncated_bytes` means a crash cut a write). */
export interface RecoveryReport {
  /** True when the directory held no log and a new one was started. */
  created: boolean;
  /** Segment file the tail check ran on. */
  segment: string;
  /** Chain head the log continues from. */
  head_seq: number;
  head_hash: string;
  /** Bytes cut from the end of `segment` (0 when the tail was clean). */
  truncated_bytes: number;
  /** Complete-but-invalid lines cut (1 for a torn final entry; more only with `repairTail`). */
  dropped_lines: number;
  /** Why the tail was cut, e.g. "line 7 (offset 1234): entry hash mismatch" or "partial line of 37 bytes". */
  reason?: string;
  /** Empty segment files (left by an interrupted rotation) that were deleted. */
  removed_segments: string[];
  /** A new segment was started because the signing key differs from the active segment's (one key per segment). */
  new_segment_for_key: boolean;
}

/** Result of an append: the entry's position and chain hash. */
export interface AppendResult {
  seq: number;
  hash: string;
}

/** Counters for benchmarks and metrics. */
export interface TraceLogStats {
  appends: number;
  /** Durable writes carrying entries (group commits). */
  commits: number;
  /** Durable rounds on segment files: commits (each one O_DSYNC write) and fdatasync calls (seals, anchors, close). */
  fsyncs: number;
  checkpoints: number;
  rotations: number;
  bytes_written: number;
}

/** Result of {@link TraceLog.sweepRetention}. */
export interface RetentionResult {
  removed_segments: string[];
  removed_entries: number;
}

/** Options of {@link TraceLog.readFrom}. */
export interface ReadOptions {
  /** Keep waiting for new durable entries after the current head (until close, failure or abort). */
  follow?: boolean;
  /** Ends the iteration (quietly, without an error) when aborted. */
  signal?: AbortSignal;
  /** Read size (bytes held per reader). @defaultValue 1 MiB (64 KiB with `follow`: followers are many and long-lived) */
  chunkBytes?: number;
}

interface Segment {
  firstSeq: number;
  name: string;
  path: string;
  /** Sparse index: flat pairs [seq, byteOffset, ...] of entry lines, ascending. */
  index: number[];
}

interface Pending {
  seq: number;
  hash: string;
  line: string;
  resolve: (r: AppendResult) => void;
  reject: (e: Error) => void;
}

/** Add an index point every this many entries (memory: 2 numbers per stride). */
const INDEX_STRIDE = 256;
const SEGMENT_FILE_MODE = 0o600;
const LOCK_FILE = "LOCK";
/** The head marker (durable/marker.ts): the durable head, the retention floor and the cross-store anchors. */
export const HEAD_FILE = "HEAD";
const DIR_MODE = 0o750;
/** The active segment's descriptor: every write is durable when it returns (O_DSYNC: data, and the file size when
 * it changes), so a commit is one write instead of write + fdatasync. */
const ACTIVE_SEGMENT_FLAGS = fsc.O_RDWR | fsc.O_DSYNC;

/** Preallocation writes zeros in pieces of this size, each fsynced (a commit's fdatasync never carries more). */
const FILL_PIECE = 1 << 20;
/** While less than this lies zero-filled ahead of the data, pieces are small (FILL_FIRST_PIECE): a commit that
 * catches up with the piece in flight waits for it, so the first pieces after a segment starts are short. */
const FILL_HEADROOM = 256 * 1024;
const FILL_FIRST_PIECE = 64 * 1024;

/** The trace log. Create with {@link TraceLog.open}; one instance per directory (a LOCK file enforces it). */
export class TraceLog {
  private readonly opts: Required<Omit<TraceLogOptions, "dir" | "signer">>;
  private readonly events = new EventEmitter();
  private segments: Segment[] = [];
  private fh!: fsp.FileHandle;
  /** Data size of the active segment (acknowledged content; a zero-filled preallocated tail may follow). */
  private activeSize = 0;
  /** The active segment's file size as far as this process extended it (data or preallocated zeros). */
  private allocEnd = 0;
  /** End of the furthest write of the commit path started in the active segment. */
  private writeEnd = 0;
  /** The preallocation piece being written (a commit writing past `start` waits for it). */
  private filling: { start: number; done: Promise<void> } | undefined;
  private fillLoop: Promise<void> | undefined;
  private fillStop = false;
  /** Preallocation failed for this segment (e.g. the volume is full): it is not tried again for it. */
  private fillFailedFor: Segment | undefined;
  private activeHasEntries = false;
  /** Seq of the last checkpoint line written in the active segment (anchor included). */
  private segmentCheckpointSeq = 0;
  /** The active segment's last line is a `close` checkpoint of the head (no need to write another at close). */
  private endsWithClose = false;
  /** Head assigned to appends (may be ahead of the durable head). */
  private tailSeq = 0;
  private tailHash = GENESIS_HASH;
  private durableSeq = 0;
  private durableHash = GENESIS_HASH;
  private lastCheckpointSeq = 0;
  private pending: Pending[] = [];
  private flushing = false;
  private flushScheduled = false;
  private checkpointWanted = false;
  private failure: Error | undefined;
  private closing = false;
  private closed = false;
  private timers: NodeJS.Timeout[] = [];
  private sweeping: Promise<RetentionResult> | undefined;
  private readonly counters: TraceLogStats = { appends: 0, commits: 0, fsyncs: 0, checkpoints: 0, rotations: 0, bytes_written: 0 };
  /** Report of what open() found; log it. */
  recovery!: RecoveryReport;
  private lock!: DirLock;
  private marker!: HeadMarker;
  /** Extra fields recorded in the head marker (e.g. the approval ledger's head); see {@link TraceLog.setAnchor}. */
  private anchors: Record<string, number> = {};
  /** Every marker write, in order: one at a time (two in flight could land in one slot out of order). */
  private markerQueue: Promise<void> = Promise.resolve();
  /** A commit's marker write is queued and has not started yet (later commits join it: it records the head then). */
  private markerQueued = false;
  private markerQueuedSync = false;
  /** A queued marker write failed while a commit was in flight: the flush loop fails the log (see markerFailed). */
  private markerError: Error | undefined;
  /** Oldest retained entry as recorded in the marker (retention moves it forward before deleting). */
  private floor = 1;
  private recovering: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    private readonly signer: Signer,
    options: Omit<TraceLogOptions, "dir" | "signer">,
  ) {
    this.opts = { ...TRACE_LOG_DEFAULTS, ...stripUndefined(options) };
    this.events.setMaxListeners(0);
  }

  /**
   * Open (or create) the log in `options.dir`: take the directory lock, check the tail of the last segment, cut and
   * report a torn final entry, and continue the chain from the last good entry. Rejects with a
   * {@link TraceLogError} `corrupt` when the damage is more than a torn tail (see `repairTail`).
   */
  static async open(options: TraceLogOptions): Promise<TraceLog> {
    if (!options.dir) throw new TypeError("trace log directory is required (--trace-dir)");
    const { dir, signer, ...rest } = options;
    const log = new TraceLog(dir, signer, rest);
    await fsp.mkdir(dir, { recursive: true, mode: DIR_MODE });
    log.lock = await lockDir(dir, `trace log ${dir}`, "--trace-dir", (m) => new TraceLogError("locked", m), { lockName: LOCK_FILE });
    try {
      log.marker = (await HeadMarker.open(join(dir, HEAD_FILE), { create: true }))!;
      await log.recover();
      await log.checkAgainstMarker();
    } catch (e) {
      await log.marker?.close();
      await log.fh?.close().catch(() => undefined);
      await log.lock.release();
      throw e;
    }
    log.startTimers();
    log.maybePreallocate();
    return log;
  }

  /** Durable chain head: the last fsynced entry (seq 0 and 64 zeros for an empty log). */
  head(): AppendResult {
    return { seq: this.durableSeq, hash: this.durableHash };
  }

  /** Seq of the oldest entry still on disk (retention may have removed older ones); head().seq + 1 when empty. */
  oldestSeq(): number {
    return this.segments[0]?.firstSeq ?? this.durableSeq + 1;
  }

  /** The error that put the log into the failed state, if any (the log retries by itself; see onHealth). */
  get failedWith(): Error | undefined {
    return this.failure;
  }

  /** The anchors the head marker recorded at the last run (e.g. `approvals_seq`), for cross-store checks at start. */
  get markedAnchors(): Readonly<Record<string, number>> {
    const m = this.marker.mark ?? { seq: 0, hash: GENESIS_HASH };
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(m)) if (k.endsWith("_seq") && typeof v === "number") out[k] = v;
    return out;
  }

  /** Record `name` (e.g. "approvals_seq") in the head marker with the next commit. */
  setAnchor(name: string, value: number): void {
    if (!/_seq$/.test(name)) throw new TypeError("anchor names end in _seq");
    this.anchors[name] = value;
  }

  /** A snapshot of the counters. */
  stats(): TraceLogStats {
    return { ...this.counters };
  }

  /**
   * Append one signed trace record. Resolves with its seq and chain hash only after the entry is fsynced; rejects
   * with {@link TraceLogError} (`io` for this write, `failed` after an earlier failure, `closed`, `invalid_record`),
   * in which case the caller must not return a verdict.
   *
   * `recordText`, when given, is stored instead of `JSON.stringify(record)`: the caller's compact JSON of this very
   * record (e.g. the text trace.ts `signTraceRecordWithText` built from the canonical form it signed), which saves a
   * second serialization per decision. It must be one line of JSON whose value is `record`; a text with a line
   * feed, or not shaped as an object, is refused (`invalid_record`) since it would break the JSONL framing.
   */
  append(record: SignedTraceRecord, recordText?: string): Promise<AppendResult> {
    if (this.closing) return Promise.reject(new TraceLogError("closed", "trace log is closed"));
    if (this.failure) return Promise.reject(this.failedError());
    if (!record || typeof record !== "object" || Array.isArray(record) || !RECORD_SCHEMA_IDS.has(record.schema_id)) {
      return Promise.reject(new TraceLogError("invalid_record", `trace log accepts only ${[...RECORD_SCHEMA_IDS].join(" and ")} records`));
    }
    const sig = record.signature;
    if (!sig || typeof sig !== "object" || typeof sig.sig !== "string" || typeof sig.signed_digest !== "string") {
      return Promise.reject(new TraceLogError("invalid_record", "trace record is not signed: sign it before appending"));
    }
    let text: string;
    if (recordText !== undefined) {
      if (recordText.charCodeAt(0) !== 0x7b || recordText.charCodeAt(recordText.length - 1) !== 0x7d || recordText.includes("\n")) {
        return Promise.reject(new TraceLogError("invalid_record", "trace record text must be one line of compact JSON (an object)"));
      }
      text = recordText;
    } else {
      try {
        text = JSON.stringify(record);
      } catch (e) {
        return Promise.reject(new TraceLogError("invalid_record", `trace record is not serializable: ${(e as Error).message}`));
      }
    }
    const seq = this.tailSeq + 1;
    const prev = this.tailHash;
    const hash = entryHash(prev, seq, text);
    const line = formatEntryLine(seq, prev, hash, text) + "\n";
    this.tailSeq = seq;
    this.tailHash = hash;
    this.counters.appends++;
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ seq, hash, line, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Write a signed checkpoint of the current head now (if entries were added since the last one). */
  async checkpoint(): Promise<void> {
    if (this.closing) throw new TraceLogError("closed", "trace log is closed");
    if (this.failure) throw this.failedError();
    this.checkpointWanted = true;
    this.scheduleFlush();
    await this.drain();
    if (this.failure) throw this.failedError();
  }

  /**
   * Durable entries with seq >= `from`, in order, across segments, without gaps or duplicates. With `follow`, waits
   * for new entries after the head. If retention removed entries at or after `from`, iteration starts at the oldest
   * retained entry: compare the first `seq` with `from` to notice. Throws {@link TraceLogError} `corrupt` on a gap
   * in the files and `failed` if the log fails while following.
   */
  async *readFrom(from = 1, options: ReadOptions = {}): AsyncGenerator<TraceEntry, void, undefined> {
    const { follow = false, signal } = options;
    let next = Math.max(1, Math.floor(from));
    while (!signal?.aborted) {
      const seg = this.segmentFor(next);
      if (!seg) return;
      if (next < seg.firstSeq) next = seg.firstSeq;
      let fh: fsp.FileHandle;
      try {
        fh = await fsp.open(seg.path, "r");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT" && !this.segments.includes(seg)) continue; // removed by retention
        throw e;
      }
      try {
        const start = indexFloor(seg, next);
        const reader = new LineReader(fh, start.offset, options.chunkBytes ?? (follow ? 64 * 1024 : undefined));
        for (;;) {
          const hadNext = this.segments.indexOf(seg) < this.segments.length - 1;
          const lines = await reader.readBatch();
          if (lines.length === 0) {
            if (hadNext) break; // this segment is sealed and fully read: continue in the next one
            if (!follow || this.closed) return;
            if (!(await this.waitDurable(next, signal))) return;
            continue;
          }
          for (const l of lines) {
            if (isCheckpointLine(l.text)) continue;
            const seq = entrySeqOf(l.text);
            if (seq < 0) throw new TraceLogError("corrupt", `${seg.path} offset ${l.offset}: not an entry or checkpoint line`);
            if (seq < next) continue;
            if (seq !== next) throw new TraceLogError("corrupt", `${seg.path} offset ${l.offset}: expected entry ${next}, found ${seq}`);
            if (seq > this.durableSeq) {
              if (!follow || this.closed) return;
              if (!(await this.waitDurable(seq, signal))) return;
            }
            const idx = seg.index;
            if (idx.length === 0 || seq >= idx[idx.length - 2]! + INDEX_STRIDE) idx.push(seq, l.offset);
            yield new TraceEntry(seq, l.text);
            next = seq + 1;
            if (signal?.aborted) return;
          }
        }
      } finally {
        await fh.close();
      }
    }
  }

  /**
   * Delete whole old segments per `maxAgeMs` / `maxCount` (never the active one, only from the oldest end so the
   * remaining log stays contiguous). Runs in the background every `retentionIntervalMs`; never per request.
   */
  sweepRetention(): Promise<RetentionResult> {
    this.sweeping ??= this.sweep().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /**
   * Flush pending appends, write a `close` checkpoint of the head, and close the files. Followers end. Idempotent;
   * never rejects (a write failure during close was already reported to the appends it affected).
   */
  async close(): Promise<void> {
    if (this.closing) {
      while (!this.closed) await new Promise((r) => this.events.once("closed", r));
      return;
    }
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    this.checkpointWanted = true;
    this.scheduleFlush();
    await this.drain();
    await this.sweeping?.catch(() => undefined);
    await this.recovering?.catch(() => undefined);
    await this.stopPreallocation();
    // a closed segment is exactly its content: cut the preallocated tail (a failed log is cut at its next open)
    if (!this.failure) await this.cutTail().catch(() => undefined);
    if (!this.failure) await this.writeMarker(true).catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    await this.marker.close();
    await this.lock.release();
    this.closed = true;
    this.events.emit("closed");
    this.events.emit("commit");
  }

  // ---- write path -------------------------------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushing || this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate (not a microtask): appends issued by every I/O callback of this loop turn join the same batch.
    setImmediate(() => void this.runFlush());
  }

  private async runFlush(): Promise<void> {
    this.flushScheduled = false;
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (!this.failure && !this.markerError && (this.pending.length > 0 || this.checkpointWanted)) {
        const batch = this.pending;
        this.pending = [];
        try {
          await this.commit(batch);
        } catch (e) {
          this.fail(e as Error, batch);
        }
      }
    } finally {
      // a marker write that failed during a commit fails the log now, with no batch in flight
      const markerError = this.markerError;
      this.markerError = undefined;
      if (markerError && !this.failure) this.fail(markerError, []);
      this.flushing = false;
      this.events.emit("idle");
    }
  }

  private async commit(batch: Pending[]): Promise<void> {
    const last = batch[batch.length - 1];
    const headSeq = last ? last.seq : this.durableSeq;
    const headHash = last ? last.hash : this.durableHash;
    let text = "";
    for (const p of batch) text += p.line;
    const wantCheckpoint = this.checkpointWanted || headSeq - this.lastCheckpointSeq >= this.opts.checkpointEveryEntries;
    this.checkpointWanted = false;
    let cpLine = "";
    if (wantCheckpoint && (headSeq > this.segmentCheckpointSeq || (this.closing && !this.endsWithClose))) {
      cpLine = this.checkpointLine(this.closing ? "close" : "periodic", headSeq, headHash);
    }
    if (!text && !cpLine) return;
    let prefix = "";
    if (batch.length > 0 && this.activeHasEntries && this.activeSize + Buffer.byteLength(text) > this.opts.maxSegmentBytes) {
      prefix = await this.rotate();
    }
    const buf = Buffer.from(prefix + text + cpLine);
    const base = this.activeSize;
    // never write where a preallocation piece is being zero-filled (rare: it starts ahead of the data)
    while (this.filling && base + buf.length > this.filling.start) await this.filling.done;
    if (base + buf.length > this.writeEnd) this.writeEnd = base + buf.length;
    // the active segment is open with O_DSYNC: each write returns once its data (and the size, when it grows) is on
    // disk, as write + fdatasync would, in one system call and one thread-pool round trip instead of two
    await writeAll(this.fh, buf, base);
    this.counters.fsyncs++;
    if (prefix) await syncDir(this.dir);
    // durable: publish
    const seg = this.segments[this.segments.length - 1]!;
    let off = base + Buffer.byteLength(prefix);
    for (const p of batch) {
      const idx = seg.index;
      if (idx.length === 0 || p.seq >= idx[idx.length - 2]! + INDEX_STRIDE) idx.push(p.seq, off);
      off += Buffer.byteLength(p.line);
    }
    this.activeSize = base + buf.length;
    if (this.activeSize > this.allocEnd) this.allocEnd = this.activeSize;
    this.counters.bytes_written += buf.length;
    if (batch.length) {
      this.counters.commits++;
      this.activeHasEntries = true;
      this.durableSeq = headSeq;
      this.durableHash = headHash;
    }
    if (cpLine) {
      this.lastCheckpointSeq = headSeq;
      this.segmentCheckpointSeq = headSeq;
    }
    this.endsWithClose = cpLine !== "" && this.closing;
    this.events.emit("commit");
    for (const p of batch) p.resolve({ seq: p.seq, hash: p.hash });
    // The head marker: after the replies, and without holding up the next commit (see requestMarker).
    //
    // Never ahead of the data: a marker write records durableSeq when it starts, and it is queued only after the
    // fsync that made that head durable.
    //
    // Requested after every commit; commits that end while a write is queued join it (at 64 in flight one write
    // covers several commits). It is fsynced with checkpoints and rotations only: after a process crash (kill -9)
    // the page cache still holds the latest write, so the start-up check (checkAgainstMarker, `gait trace verify
    // --dir`) detects a cut of the log down to the last commit or two; after a power loss, down to the last
    // checkpoint. A marker behind the head only weakens that check, it never raises a false alarm. The retention
    // sweep writes and fsyncs the marker itself (new floor) before it deletes a segment; anchors (approvals_seq) go
    // out with the next write.
    this.requestMarker(cpLine !== "" || prefix !== "");
    this.maybePreallocate();
  }

  /**
   * Keep `preallocateBytes` of zero-filled, fsynced space ahead of the active segment's data, so that a commit's
   * write+fdatasync overwrites allocated blocks and does not change the file size (no inode flush). Runs in the
   * background, in 1 MiB pieces, each written and fsynced through its own file descriptor: a write error the disk
   * reports for a piece is then still reported to the commit path's own fdatasync (Linux reports a writeback error
   * once per open file). It never touches bytes a commit writes: a commit that would write past the piece in flight
   * waits for it. A piece that fails (e.g. the volume is full) is cut off again, so preallocation never holds the
   * last free space of a volume, and preallocation ends for this segment (commits then append as without it).
   */
  private maybePreallocate(): void {
    const ahead = this.opts.preallocateBytes;
    if (ahead <= 0 || this.fillLoop || this.fillStop || this.failure || this.closing) return;
    if (this.allocEnd - this.activeSize > ahead / 2) return;
    const target = Math.min(this.opts.maxSegmentBytes, this.activeSize + ahead);
    if (this.allocEnd >= target) return;
    const seg = this.segments[this.segments.length - 1];
    if (!seg || seg === this.fillFailedFor) return;
    this.fillLoop = this.preallocate(seg, target)
      .catch((e: Error) => {
        this.fillFailedFor = seg;
        this.opts.onWarning(`trace log preallocation of ${seg.name} failed (commits append instead): ${e.message}`);
      })
      .finally(() => (this.fillLoop = undefined));
  }

  private async preallocate(seg: Segment, target: number): Promise<void> {
    const fh = await fsp.open(seg.path, "r+");
    try {
      const zeros = Buffer.alloc(FILL_PIECE);
      while (!this.fillStop && this.segments[this.segments.length - 1] === seg && !this.failure) {
        // contiguous with the file's end (no hole: a hole would need blocks when a commit reaches it)
        const start = Math.max(this.allocEnd, this.writeEnd, this.activeSize);
        if (start >= target) return;
        const len = Math.min(this.allocEnd - this.writeEnd < FILL_HEADROOM ? FILL_FIRST_PIECE : FILL_PIECE, target - start);
        const done = (async () => {
          try {
            await writeAll(fh, zeros.subarray(0, len), start);
            await fh.datasync();
          } catch (e) {
            // give the space back (no commit wrote at or past `start` meanwhile: they wait for this piece)
            await fh.truncate(start).catch(() => undefined);
            throw e;
          }
        })();
        this.filling = { start, done: done.catch(() => undefined) };
        try {
          await done;
        } finally {
          this.filling = undefined;
        }
        if (start + len > this.allocEnd) this.allocEnd = start + len;
      }
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /** Stop preallocating and wait for the piece in flight. */
  private async stopPreallocation(): Promise<void> {
    this.fillStop = true;
    try {
      while (this.fillLoop) await this.fillLoop;
    } finally {
      this.fillStop = false;
    }
  }

  /** Cut the active segment's preallocated tail (the file becomes exactly its data), fsynced. */
  private async cutTail(): Promise<void> {
    if ((await this.fh.stat()).size > this.activeSize) {
      await this.fh.truncate(this.activeSize);
      await this.fh.datasync();
      this.counters.fsyncs++;
    }
    this.allocEnd = this.writeEnd = this.activeSize;
  }

  private checkpointLine(kind: CheckpointKind, seq: number, hash: string): string {
    this.counters.checkpoints++;
    return formatCheckpointLine(makeCheckpoint(kind, seq, hash, formatGoTime(this.opts.now()), this.signer, this.opts.replicaId)) + "\n";
  }

  /**
   * Seal the active segment (a `seal` checkpoint of the durable head, fsynced), close it, and create the next
   * segment. Returns the new segment's `anchor` line, which the caller writes together with the batch.
   */
  private async rotate(): Promise<string> {
    // a sealed segment is exactly its content: cut the preallocated tail first (the seal's fdatasync makes the new
    // size durable with it; a crash in between leaves an unsealed segment of acknowledged entries, which open continues)
    await this.stopPreallocation();
    const cut = (await this.fh.stat()).size > this.activeSize;
    if (cut) await this.fh.truncate(this.activeSize);
    if (this.segmentCheckpointSeq !== this.durableSeq) {
      const seal = Buffer.from(this.checkpointLine("seal", this.durableSeq, this.durableHash));
      await writeAll(this.fh, seal, this.activeSize);
      await this.fh.datasync();
      this.counters.fsyncs++;
      this.activeSize += seal.length;
      this.counters.bytes_written += seal.length;
      this.lastCheckpointSeq = this.durableSeq;
    } else if (cut) {
      await this.fh.datasync();
      this.counters.fsyncs++;
    }
    await this.fh.close();
    const firstSeq = this.durableSeq + 1;
    const seg: Segment = { firstSeq, name: segmentName(firstSeq), path: join(this.dir, segmentName(firstSeq)), index: [] };
    this.fh = await fsp.open(seg.path, fsc.O_CREAT | fsc.O_EXCL | ACTIVE_SEGMENT_FLAGS, SEGMENT_FILE_MODE);
    this.segments.push(seg);
    this.activeSize = this.allocEnd = this.writeEnd = 0;
    this.activeHasEntries = false;
    this.segmentCheckpointSeq = this.durableSeq;
    this.counters.rotations++;
    return this.checkpointLine("anchor", this.durableSeq, this.durableHash);
  }

  private fail(cause: Error, batch: Pending[]): void {
    const first = !this.failure;
    this.failure = cause;
    if (first) this.opts.onHealth(false, cause);
    this.scheduleRecovery();
    const err = new TraceLogError(
      "io",
      `trace log write failed (${cause.message}); no decision may be returned for these records, and the log refuses appends until it is reopened`,
      { cause },
    );
    const rest = this.pending;
    this.pending = [];
    for (const p of batch) p.reject(err);
    for (const p of rest) p.reject(err);
    // the rejected appends never happened: their sequence numbers are free again
    this.tailSeq = this.durableSeq;
    this.tailHash = this.durableHash;
  }

  private scheduleRecovery(): void {
    if (this.recovering || this.closing) return;
    const t = setTimeout(() => {
      this.recovering = this.tryRecover().finally(() => {
        this.recovering = undefined;
        if (this.failure && !this.closing) this.scheduleRecovery();
      });
    }, this.opts.recoverIntervalMs);
    t.unref();
  }

  /**
   * Recover from a write failure in place, as a restart would: reopen the tail (cut whatever the failed write left,
   * finish or undo an interrupted rotation), then prove the disk takes writes again with a fsynced checkpoint of the
   * durable head. Only then are appends accepted again.
   */
  private async tryRecover(): Promise<void> {
    if (!this.failure || this.closing) return;
    while (this.flushing) await new Promise((r) => this.events.once("idle", r));
    try {
      await this.stopPreallocation();
      await this.fh?.close().catch(() => undefined);
      // cut what the failed commit may have left: its appends were refused, so their lines must not appear later
      // (activeSize is the acknowledged length of the active segment)
      const active = this.segments[this.segments.length - 1];
      if (active) {
        const h = await fsp.open(active.path, "r+");
        try {
          if ((await h.stat()).size > this.activeSize) {
            await h.truncate(this.activeSize);
            await h.datasync();
          }
        } finally {
          await h.close();
        }
      }
      await this.recover();
      const cp = Buffer.from(this.checkpointLine("periodic", this.durableSeq, this.durableHash));
      await writeAll(this.fh, cp, this.activeSize);
      await this.fh.datasync();
      this.counters.fsyncs++;
      this.activeSize += cp.length;
      this.allocEnd = this.writeEnd = this.activeSize;
      this.counters.bytes_written += cp.length;
      this.lastCheckpointSeq = this.segmentCheckpointSeq = this.durableSeq;
      this.endsWithClose = false;
      await this.writeMarker(true);
    } catch (e) {
      this.failure = e as Error;
      return;
    }
    this.failure = undefined;
    this.opts.onWarning(`trace log recovered after a write failure; head ${this.durableSeq}`);
    this.opts.onHealth(true);
    this.events.emit("commit");
    this.maybePreallocate();
  }

  /** Write the head marker (the durable head when the write starts) after any marker write already queued. */
  private writeMarker(sync: boolean): Promise<void> {
    const run = this.markerQueue.then(() => this.writeMarkerNow(sync));
    this.markerQueue = run.catch(() => undefined);
    return run;
  }

  /**
   * A commit's marker write: queued behind any marker write in flight, and started only after the current I/O
   * callback's microtasks (the reply continuations of the appends just resolved) and the native immediates that send
   * their replies have run (setImmediate), so its setup (serializing, checksum, the pool job) is not on the reply path.
   * Commits that arrive before it starts join it. The flush loop does not wait for it; a failure fails the log.
   */
  private requestMarker(sync: boolean): void {
    this.markerQueuedSync ||= sync;
    if (this.markerQueued) return;
    this.markerQueued = true;
    const run = this.markerQueue
      .then(() => new Promise<void>((r) => setImmediate(r)))
      .then(() => {
        const s = this.markerQueuedSync;
        this.markerQueued = this.markerQueuedSync = false;
        return this.writeMarkerNow(s);
      });
    this.markerQueue = run.catch((e: Error) => this.markerFailed(e));
  }

  private markerFailed(e: Error): void {
    if (this.failure) return;
    if (this.flushing) this.markerError = e; // the flush loop fails the log when its commit in flight ends
    else this.fail(e, []);
  }

  /** The head marker's content for the current durable head. */
  private async writeMarkerNow(sync: boolean): Promise<void> {
    await this.marker.write({ seq: this.durableSeq, hash: this.durableHash, oldest_seq: this.floor, ...this.anchors }, { sync });
  }

  private failedError(): TraceLogError {
    return new TraceLogError(
      "failed",
      `trace log cannot record right now (${this.failure?.message}); it retries by itself every ${this.opts.recoverIntervalMs} ms and no decision is returned until it can`,
      { cause: this.failure },
    );
  }

  /** Wait until every queued append is committed (or failed) and the marker writes they queued are done. */
  private async drain(): Promise<void> {
    for (;;) {
      while (this.flushing || this.flushScheduled || (this.pending.length > 0 && !this.failure)) {
        await new Promise((r) => this.events.once("idle", r));
      }
      const q = this.markerQueue;
      await q;
      if (q === this.markerQueue && !this.flushing && !this.flushScheduled && (this.pending.length === 0 || this.failure)) return;
    }
  }

  // ---- read path --------------------------------------------------------------------------------------------------

  private segmentFor(seq: number): Segment | undefined {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    if (hi < 0) return undefined;
    if (seq <= segs[0]!.firstSeq) return segs[0];
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]!.firstSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    return segs[lo];
  }

  /** Wait until entry `seq` is durable. False when the wait ends without it (close or abort); throws on failure. */
  private async waitDurable(seq: number, signal?: AbortSignal): Promise<boolean> {
    while (this.durableSeq < seq) {
      // a failed log is waited out: it recovers by itself (tryRecover), and followers resume from where they were
      if (this.closed || signal?.aborted) return false;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.events.off("commit", done);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        this.events.on("commit", done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
    return true;
  }

  // ---- retention ----------------------------------------------------------------------------------------------------

  private async sweep(): Promise<RetentionResult> {
    const result: RetentionResult = { removed_segments: [], removed_entries: 0 };
    const { maxAgeMs, maxCount } = this.opts;
    if (maxAgeMs <= 0 && maxCount <= 0) return result;
    while (this.segments.length > 1 && !this.failure) {
      const seg = this.segments[0]!;
      const lastSeq = this.segments[1]!.firstSeq - 1;
      let expired = maxCount > 0 && this.durableSeq - lastSeq >= maxCount;
      if (!expired && maxAgeMs > 0) {
        const st = await fsp.stat(seg.path);
        expired = this.opts.now() - st.mtimeMs > maxAgeMs;
      }
      if (!expired) break;
      // the marker learns the new floor first: a segment missing below the floor at start-up is then retention's
      // doing, one missing above it is not
      this.floor = this.segments[1]!.firstSeq;
      await this.writeMarker(true);
      await fsp.rm(seg.path, { force: true });
      this.segments.shift();
      result.removed_segments.push(seg.name);
      result.removed_entries += Math.max(0, lastSeq - seg.firstSeq + 1);
    }
    if (result.removed_segments.length) await syncDir(this.dir);
    return result;
  }

  private startTimers(): void {
    const { checkpointIntervalMs, retentionIntervalMs, maxAgeMs, maxCount } = this.opts;
    if (checkpointIntervalMs > 0) {
      const t = setInterval(() => {
        if (this.failure || this.closing || this.tailSeq <= this.lastCheckpointSeq) return;
        this.checkpointWanted = true;
        this.scheduleFlush();
      }, checkpointIntervalMs);
      t.unref();
      this.timers.push(t);
    }
    if (retentionIntervalMs > 0 && (maxAgeMs > 0 || maxCount > 0)) {
      const t = setInterval(() => {
        this.sweepRetention().then(
          (r) => {
            if (r.removed_segments.length) {
              this.opts.onWarning(`trace retention removed ${r.removed_segments.length} segment(s), ${r.removed_entries} entries`);
            }
          },
          (e: Error) => this.opts.onWarning(`trace retention failed: ${e.message}`),
        );
      }, retentionIntervalMs);
      t.unref();
      this.timers.push(t);
    }
  }

  // ---- open / recovery ----------------------------------------------------------------------------------------------

  private async recover(): Promise<void> {
    const names = (await fsp.readdir(this.dir)).filter((n) => parseSegmentName(n) !== undefined).sort();
    this.segments = names.map((name) => {
      const firstSeq = parseSegmentName(name)!;
      return { firstSeq, name, path: join(this.dir, name), index: [] };
    });
    const report: RecoveryReport = {
      created: false,
      segment: "",
      head_seq: 0,
      head_hash: GENESIS_HASH,
      truncated_bytes: 0,
      dropped_lines: 0,
      removed_segments: [],
      new_segment_for_key: false,
    };
    this.recovery = report;
    for (;;) {
      const seg = this.segments[this.segments.length - 1];
      if (!seg) {
        // no segment, but the head marker remembers entries: refuse before creating anything, so a refused start
        // leaves the directory as it found it (checkAgainstMarker words the same refusal for a shorter log)
        const mark = this.marker?.mark;
        if (mark && mark.seq > 0 && !this.opts.repairTail) {
          throw new TraceLogError(
            "rolled_back",
            `trace log ${this.dir} ends at entry 0, behind its head marker (entry ${mark.seq}): entries were removed (a segment deleted or cut at a line boundary); sequence numbers would be reused. verify the directory with \`gait trace verify --dir ${this.dir}\`; restore the missing segments from your export or backup`,
          );
        }
        // new log: genesis segment with an anchor at seq 0
        report.created = true;
        await this.createSegment(1, 0, GENESIS_HASH);
        report.segment = this.segments[0]!.name;
        return;
      }
      report.segment = seg.name;
      const scan = await scanSegment(seg.path, seg.firstSeq);
      if (!scan.anchored) {
        // No valid first line: an interrupted rotation (or creation) left this file. It holds no entries.
        if (scan.completeLines > 1 && !this.opts.repairTail) {
          throw new TraceLogError("corrupt", `${seg.path}: first line is not a valid anchor checkpoint (${scan.badReason}) and ${scan.completeLines - 1} more line(s) follow; inspect it with \`gait trace verify\`, then move it aside or reopen with repairTail`);
        }
        if (this.segments.length > 1) {
          await fsp.rm(seg.path, { force: true });
          this.segments.pop();
          report.removed_segments.push(seg.name);
          report.dropped_lines += scan.completeLines;
          continue; // continue the previous segment
        }
        if (seg.firstSeq !== 1) {
          throw new TraceLogError("corrupt", `${seg.path}: no valid anchor checkpoint and no earlier segment to continue the chain from; move the directory aside to start a new log`);
        }
        report.truncated_bytes += scan.size;
        report.dropped_lines += scan.completeLines;
        if (scan.size) report.reason = `segment had no valid anchor (${scan.badReason})`;
        await fsp.rm(seg.path, { force: true });
        this.segments = [];
        continue; // recreate genesis
      }
      let goodEnd = scan.goodEnd;
      if (scan.bad) {
        if (scan.bad.linesAfter > 0 && !this.opts.repairTail) {
          throw new TraceLogError(
            "corrupt",
            `${seg.path}: line ${scan.bad.line} (offset ${scan.bad.offset}) is invalid (${scan.bad.reason}) but ${scan.bad.linesAfter} complete line(s) follow it, so this is not a torn write; inspect it with \`gait trace verify\`, then reopen with repairTail to cut the log at that line`,
          );
        }
        report.dropped_lines += 1 + scan.bad.linesAfter;
        report.reason = `line ${scan.bad.line} (offset ${scan.bad.offset}): ${scan.bad.reason}`;
      } else if (scan.size > goodEnd) {
        report.reason = `partial line of ${scan.size - goodEnd} bytes at the end`;
      }
      if (scan.strayAt >= 0) {
        // bytes after a zero gap in the preallocated tail: a write torn across pages (a power loss), never acknowledged
        report.reason = `${report.reason ? report.reason + "; " : ""}non-zero bytes at offset ${scan.strayAt} after the data end (${scan.size}): a torn write into preallocated space`;
      }
      if (scan.fileSize > goodEnd) {
        report.truncated_bytes += (scan.strayAt >= 0 ? scan.fileSize : scan.size) - goodEnd;
        const fh = await fsp.open(seg.path, "r+");
        try {
          await fh.truncate(goodEnd);
          await fh.datasync();
        } finally {
          await fh.close();
        }
      }
      seg.index = scan.index;
      this.durableSeq = this.tailSeq = scan.headSeq;
      this.durableHash = this.tailHash = scan.headHash;
      this.lastCheckpointSeq = this.segmentCheckpointSeq = scan.lastCheckpointSeq;
      report.head_seq = scan.headSeq;
      report.head_hash = scan.headHash;
      if (scan.lastKeyId !== this.signer.keyId) {
        // One signing key per segment, so each segment verifies with one public key.
        report.new_segment_for_key = true;
        if (scan.entries === 0) {
          await fsp.rm(seg.path, { force: true });
          this.segments.pop();
        }
        await this.createSegment(scan.headSeq + 1, scan.headSeq, scan.headHash);
        return;
      }
      this.fh = await fsp.open(seg.path, ACTIVE_SEGMENT_FLAGS);
      this.activeSize = this.allocEnd = this.writeEnd = goodEnd;
      this.activeHasEntries = scan.entries > 0;
      this.endsWithClose = scan.endsWithClose;
      return;
    }
  }

  /**
   * Start-up check against the head marker and across segments: refuse a log that went backwards (entries cut at a
   * line boundary, the newest segment deleted, an older copy restored), a segment missing in the middle or at the
   * start (above the retention floor), or a log without its marker. Then record the current head.
   */
  private async checkAgainstMarker(): Promise<void> {
    const dir = this.dir;
    const fix = `verify the directory with \`gait trace verify --dir ${dir}\`; if the log is intact and you accept it as it is (for example a log copied from elsewhere), record its head with \`gait trace verify --dir ${dir} --write-head\`, else restore the missing segments from your export or backup`;
    if (this.marker.unreadable) throw new TraceLogError("corrupt", `trace log head marker ${join(dir, HEAD_FILE)} is unreadable; ${fix}`);
    const mark = this.marker.mark;
    if (!mark) {
      if (this.durableSeq > 0 || this.segments.length > 1) {
        throw new TraceLogError("rolled_back", `trace log ${dir} holds entries up to ${this.durableSeq} but has no head marker (${HEAD_FILE}): it was deleted, or the log was written by an older version or copied in; ${fix}`);
      }
    } else {
      if (this.durableSeq < mark.seq && this.opts.repairTail) {
        // the operator chose to cut the log at a damaged line: entries after it are gone, and their numbers reused
        this.opts.onWarning(`trace log ${dir} cut at entry ${this.durableSeq} (repairTail) below its head marker (entry ${mark.seq}): entries ${this.durableSeq + 1}..${mark.seq} are lost`);
      } else if (this.durableSeq < mark.seq) {
        throw new TraceLogError(
          "rolled_back",
          `trace log ${dir} ends at entry ${this.durableSeq}, behind its head marker (entry ${mark.seq}): entries were removed (a segment deleted or cut at a line boundary); sequence numbers would be reused. ${fix}`,
        );
      }
      const at = this.durableSeq < mark.seq ? undefined : await this.hashAt(mark.seq);
      if (at !== undefined && at !== mark.hash) {
        throw new TraceLogError("rolled_back", `trace log ${dir} does not contain the entry its head marker records (entry ${mark.seq}): the log was replaced or rewritten; ${fix}`);
      }
      const floor = typeof mark.oldest_seq === "number" ? mark.oldest_seq : 1;
      if (this.segments[0] && this.segments[0].firstSeq > Math.max(floor, 1)) {
        throw new TraceLogError("rolled_back", `trace log ${dir}: entries ${floor}..${this.segments[0].firstSeq - 1} are missing (their segment was deleted, not by retention); ${fix}`);
      }
      this.floor = Math.max(1, Math.min(floor, this.segments[0]?.firstSeq ?? floor));
      for (const [k, v] of Object.entries(mark)) if (k.endsWith("_seq") && k !== "oldest_seq" && typeof v === "number") this.anchors[k] = v;
    }
    // every segment continues the one before it
    for (let i = 0; i + 1 < this.segments.length; i++) {
      const a = this.segments[i]!;
      const b = this.segments[i + 1]!;
      const end = await lastChainPoint(a.path);
      const start = await firstAnchor(b.path);
      if (!end || !start || end.seq !== b.firstSeq - 1 || end.seq !== start.seq || end.hash !== start.hash) {
        throw new TraceLogError("corrupt", `trace log ${dir}: segment ${b.name} does not continue ${a.name} (a segment is missing or was replaced); ${fix}`);
      }
    }
    await this.writeMarker(true);
  }

  /** The chain hash at entry `seq` (the anchor's for a segment's seq firstSeq-1), or undefined when not on disk. */
  private async hashAt(seq: number): Promise<string | undefined> {
    if (seq === this.durableSeq) return this.durableHash;
    if (seq === 0) return GENESIS_HASH;
    const seg = this.segments.find((g, i) => seq >= g.firstSeq - 1 && (i === this.segments.length - 1 || seq < this.segments[i + 1]!.firstSeq));
    if (!seg) return undefined;
    const fh = await fsp.open(seg.path, "r");
    try {
      const reader = new LineReader(fh, 0);
      for (let lines = await reader.readBatch(); lines.length; lines = await reader.readBatch()) {
        for (const l of lines) {
          if (isCheckpointLine(l.text)) {
            const cp = parseCheckpointLine(l.text);
            if (typeof cp !== "string" && cp.kind === "anchor" && cp.seq === seq) return cp.hash;
            continue;
          }
          const e = parseEntryLine(l.text);
          if (typeof e !== "string" && e.seq === seq) return e.hash;
        }
      }
    } finally {
      await fh.close();
    }
    return undefined;
  }

  private async createSegment(firstSeq: number, headSeq: number, headHash: string): Promise<void> {
    const seg: Segment = { firstSeq, name: segmentName(firstSeq), path: join(this.dir, segmentName(firstSeq)), index: [] };
    const fh = await fsp.open(seg.path, fsc.O_CREAT | fsc.O_EXCL | ACTIVE_SEGMENT_FLAGS, SEGMENT_FILE_MODE);
    try {
      const anchor = Buffer.from(this.checkpointLine("anchor", headSeq, headHash));
      await writeAll(fh, anchor, 0);
      await fh.datasync();
      this.counters.fsyncs++;
      this.activeSize = this.allocEnd = this.writeEnd = anchor.length;
    } catch (e) {
      await fh.close();
      throw e;
    }
    await syncDir(this.dir);
    this.fh = fh;
    this.segments.push(seg);
    this.activeHasEntries = false;
    this.durableSeq = this.tailSeq = headSeq;
    this.durableHash = this.tailHash = headHash;
    this.segmentCheckpointSeq = headSeq;
  }
}

interface ScanResult {
  /** Data size: up to the end of the file or the first zero byte (a preallocated tail), whichever comes first. */
  size: number;
  /** File size (data and any zero-filled tail). */
  fileSize: number;
  /** Offset of a non-zero byte after the data end (a write torn across pages in preallocated space), or -1. */
  strayAt: number;
  anchored: boolean;
  completeLines: number;
  badReason?: string;
  goodEnd: number;
  headSeq: number;
  headHash: string;
  entries: number;
  lastCheckpointSeq: number;
  lastKeyId: string;
  /** The last good line is a `close` checkpoint of the head. */
  endsWithClose: boolean;
  index: number[];
  bad?: { line: number; offset: number; reason: string; linesAfter: number };
}

/**
 * Check a segment's structure and chain (not signatures: those are the verifier's job, and the key may have
 * changed since the segment was written) and find where its valid prefix ends.
 */
async function scanSegment(path: string, firstSeq: number): Promise<ScanResult> {
  const fh = await fsp.open(path, "r");
  const r: ScanResult = {
    size: 0,
    fileSize: 0,
    strayAt: -1,
    anchored: false,
    completeLines: 0,
    goodEnd: 0,
    headSeq: firstSeq - 1,
    headHash: GENESIS_HASH,
    entries: 0,
    lastCheckpointSeq: 0,
    lastKeyId: "",
    endsWithClose: false,
    index: [],
  };
  try {
    r.fileSize = r.size = (await fh.stat()).size;
    const reader = new LineReader(fh, 0);
    for (let lines = await reader.readBatch(); lines.length; lines = await reader.readBatch()) {
      for (const l of lines) {
        r.completeLines++;
        if (r.bad) {
          r.bad.linesAfter++;
          continue;
        }
        const problem = scanLine(r, l.text, firstSeq, l.offset);
        if (problem) {
          if (!r.anchored) r.badReason = problem;
          r.bad = { line: r.completeLines, offset: l.offset, reason: problem, linesAfter: 0 };
          continue;
        }
        r.goodEnd = l.end;
      }
    }
    if (reader.atZero) {
      r.size = reader.offset + reader.pendingBytes;
      r.strayAt = await firstNonZero(fh, r.size);
    }
    if (!r.anchored && !r.badReason) r.badReason = r.size ? "partial first line" : "empty file";
  } finally {
    await fh.close();
  }
  return r;
}

function scanLine(r: ScanResult, text: string, firstSeq: number, offset: number): string | undefined {
  if (!r.anchored) {
    const cp = parseCheckpointLine(text);
    if (typeof cp === "string") return `first line must be an anchor checkpoint: ${cp}`;
    if (cp.kind !== "anchor") return `first checkpoint kind is ${cp.kind}, expected anchor`;
    if (cp.seq !== firstSeq - 1) return `anchor seq ${cp.seq} does not match the segment name (expected ${firstSeq - 1})`;
    if (cp.seq === 0 && cp.hash !== GENESIS_HASH) return "genesis anchor hash must be 64 zeros";
    r.anchored = true;
    r.headHash = cp.hash;
    r.lastCheckpointSeq = cp.seq;
    r.lastKeyId = cp.key_id;
    return undefined;
  }
  if (isCheckpointLine(text)) {
    const cp = parseCheckpointLine(text);
    if (typeof cp === "string") return cp;
    if (cp.seq !== r.headSeq || cp.hash !== r.headHash) return `checkpoint (seq ${cp.seq}) does not match the chain head (seq ${r.headSeq})`;
    r.lastCheckpointSeq = cp.seq;
    r.lastKeyId = cp.key_id;
    r.endsWithClose = cp.kind === "close";
    return undefined;
  }
  r.endsWithClose = false;
  const e = parseEntryLine(text);
  if (typeof e === "string") return e;
  if (e.seq !== r.headSeq + 1) return `entry seq ${e.seq}, expected ${r.headSeq + 1}`;
  if (e.prev !== r.headHash) return "entry prev does not match the previous entry's hash";
  if (entryHash(e.prev, e.seq, e.recordText) !== e.hash) return "entry hash mismatch";
  r.headSeq = e.seq;
  r.headHash = e.hash;
  r.entries++;
  const idx = r.index;
  if (idx.length === 0 || e.seq >= idx[idx.length - 2]! + INDEX_STRIDE) idx.push(e.seq, offset);
  return undefined;
}

function indexFloor(seg: Segment, seq: number): { offset: number } {
  const idx = seg.index;
  let lo = 0;
  let hi = idx.length / 2 - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (idx[mid * 2]! <= seq) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return { offset: best < 0 ? 0 : idx[best * 2 + 1]! };
}

async function writeAll(fh: fsp.FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
    if (bytesWritten <= 0) throw new Error("write returned 0 bytes");
    off += bytesWritten;
  }
}


function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The (seq, hash) a sealed segment ends at: its last line (a checkpoint, or an entry). Reads the file's tail. */
async function lastChainPoint(path: string): Promise<{ seq: number; hash: string } | undefined> {
  const fh = await fsp.open(path, "r");
  try {
    // the data ends at the file's end, or where a preallocated zero tail starts (a crash before the rotation cut it)
    const size = await dataEndFromBack(fh, (await fh.stat()).size);
    const n = Math.min(size, 1 << 20);
    const buf = Buffer.alloc(n);
    await fh.read(buf, 0, n, size - n);
    const text = buf.toString("utf8").replace(/\n$/, "");
    const line = text.slice(text.lastIndexOf("\n") + 1);
    if (isCheckpointLine(line)) {
      const cp = parseCheckpointLine(line);
      return typeof cp === "string" ? undefined : { seq: cp.seq, hash: cp.hash };
    }
    const e = parseEntryLine(line);
    return typeof e === "string" ? undefined : { seq: e.seq, hash: e.hash };
  } finally {
    await fh.close();
  }
}

/** The offset after the last non-zero byte of the file (its size when it does not end with zeros). */
async function dataEndFromBack(fh: fsp.FileHandle, size: number): Promise<number> {
  const buf = Buffer.alloc(1 << 20);
  for (let end = size; end > 0; ) {
    const n = Math.min(end, buf.length);
    await fh.read(buf, 0, n, end - n);
    for (let i = n - 1; i >= 0; i--) if (buf[i] !== 0) return end - n + i + 1;
    end -= n;
  }
  return 0;
}

/** A segment's anchor (its first line). */
async function firstAnchor(path: string): Promise<{ seq: number; hash: string } | undefined> {
  const fh = await fsp.open(path, "r");
  try {
    const lines = await new LineReader(fh, 0, 64 * 1024).readBatch();
    const cp = lines[0] ? parseCheckpointLine(lines[0].text) : "empty";
    return typeof cp === "string" || cp.kind !== "anchor" ? undefined : { seq: cp.seq, hash: cp.hash };
  } finally {
    await fh.close();
  }
}
