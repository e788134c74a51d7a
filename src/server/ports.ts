/**
 * What the decision service needs from the durable trace log, as a narrow interface (implemented by
 * src/tracelog `TraceLog`). Approval state needs no port of its own: the service uses the project's
 * `ApprovalStore` contract (src/state/approvals.ts) directly, so there is one approval store and one format.
 */
import type { SignedTraceRecord } from "../tracelog/format.js";

/** One durable trace log entry (src/tracelog TraceEntry). `recordText()` is the signed record's JSON as stored. */
export interface TraceEntry {
  readonly seq: number;
  readonly prev: string;
  readonly hash: string;
  recordText(): string;
}

export interface TraceLogPort {
  /** Resolves once the entry is durable (fsynced, group commit). `recordText`: the record's JSON, if already built. */
  append(record: SignedTraceRecord, recordText?: string): Promise<{ seq: number; hash: string }>;
  /** Entries from `fromSeq` (>= 1) in order; with `follow`, waits for new durable entries until `signal` aborts. */
  readFrom(fromSeq: number, opts: { follow: boolean; signal: AbortSignal }): AsyncIterable<TraceEntry>;
  /** The durable head (seq 0 and the genesis hash for an empty log). */
  head(): { seq: number; hash: string };
  /** Seq of the oldest entry retention has kept (head + 1 when empty). */
  oldestSeq(): number;
  /** Flush, write a final checkpoint, close. */
  close(): Promise<void>;
}
