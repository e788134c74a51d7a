/**
 * On-disk format of the durable trace log (docs/trace-log.md is the normative description).
 *
 * A log is a directory of JSONL segment files `segment-<20-digit first seq>.jsonl`. Every line is one of:
 *
 * - an **entry**, exactly `{"seq":N,"prev":"<64 hex>","hash":"<64 hex>","record":R}` where `R` is the compact JSON
 *   of one signed `gait.gate.trace` record, untouched (so `R` on its own verifies with Gait's verifier);
 * - a **checkpoint**, `{"checkpoint":C}` where `C` is a signed `gait.tracelog.checkpoint` object naming a chain head.
 *
 * Hash rule: `hash = sha256hex(prev + ":" + seq + ":" + sha256hex(R))`, with `R` the exact bytes stored in the line.
 * Hashing the stored bytes (not a re-canonicalization) keeps the append path cheap and makes any byte change
 * detectable without a key. The first entry of a log has `prev` = 64 zeros and `seq` = 1.
 */
import { sha256Hex } from "../engine/canon.js";
import { signDocument, type SignatureObject, type Signer } from "../engine/signature.js";

/** `prev` of the first entry of a log (seq 1), and the `hash` of the genesis anchor checkpoint (seq 0). */
export const GENESIS_HASH = "0".repeat(64);

/** `schema_id` of checkpoint objects. */
export const CHECKPOINT_SCHEMA_ID = "gait.tracelog.checkpoint";
/** `schema_version` of checkpoint objects. */
export const CHECKPOINT_SCHEMA_VERSION = "1.0.0";
/** `schema_id` of a decision record (Gait's signed trace record). */
export const TRACE_SCHEMA_ID = "gait.gate.trace";
/** `schema_id` of an operator action record (a grant, a deny, a kill-switch change), signed like a decision. */
export const OPERATOR_ACTION_SCHEMA_ID = "gait.gate.operator_action";
/** The record kinds the log holds. */
export const RECORD_SCHEMA_IDS: ReadonlySet<string> = new Set([TRACE_SCHEMA_ID, OPERATOR_ACTION_SCHEMA_ID]);

/**
 * Why a checkpoint was written. `anchor` is always the first line of a segment and names the chain head the segment
 * continues from (seq 0 / genesis for the first segment), which is what lets a segment be verified on its own after
 * older segments were removed by retention. `seal` ends a segment at rotation. `periodic` is written every N entries
 * or T ms, `close` at a clean shutdown.
 */
export type CheckpointKind = "anchor" | "seal" | "periodic" | "close";

/** A signed statement "the chain head at `seq` has hash `hash`". */
export interface Checkpoint {
  schema_id: typeof CHECKPOINT_SCHEMA_ID;
  schema_version: typeof CHECKPOINT_SCHEMA_VERSION;
  kind: CheckpointKind;
  seq: number;
  hash: string;
  created_at: string;
  key_id: string;
  /** The replica that wrote the log (`--replica-id`), when the server runs as one of several sharing state: every
   * entry of a segment was written by the replica its anchor checkpoint names. Covered by the signature. */
  replica_id?: string;
  signature: SignatureObject;
}

/** A signed `gait.gate.trace` record as the log stores it (the log never looks inside beyond these fields). */
export interface SignedTraceRecord {
  schema_id: string;
  signature: SignatureObject;
  [field: string]: unknown;
}

/** Error raised by the trace log. `code` is stable for callers; `cause` carries the underlying fs error. */
export class TraceLogError extends Error {
  override name = "TraceLogError";
  constructor(
    /** `closed`: used after close(); `failed`: a write/fsync failed earlier (reopen the log); `io`: this write/fsync
     * failed; `corrupt`: a segment is damaged beyond a torn tail; `invalid_record`: append() got a non-trace value;
     * `locked`: another process (or instance) has the directory open; `rolled_back`: the log went backwards (entries
     * or segments missing behind its head marker). */
    readonly code: "closed" | "failed" | "io" | "corrupt" | "invalid_record" | "locked" | "rolled_back",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Name-based guard (survives duplicated module copies, unlike instanceof). */
export function isTraceLogError(e: unknown): e is TraceLogError {
  return typeof e === "object" && e !== null && (e as Error).name === "TraceLogError" && typeof (e as TraceLogError).code === "string";
}

/** `hash` of an entry: sha256hex(prev ":" seq ":" sha256hex(recordText)). */
export function entryHash(prev: string, seq: number, recordText: string): string {
  return sha256Hex(`${prev}:${seq}:${sha256Hex(recordText)}`);
}

/** The exact entry line (without its trailing newline). */
export function formatEntryLine(seq: number, prev: string, hash: string, recordText: string): string {
  return `{"seq":${seq},"prev":"${prev}","hash":"${hash}","record":${recordText}}`;
}

const SEQ_PREFIX = '{"seq":';
const CHECKPOINT_PREFIX = '{"checkpoint":';
const HEX64 = /^[0-9a-f]{64}$/;

/** The parts of an entry line, with the record left as text (parse it only when needed). */
export interface ParsedEntryLine {
  seq: number;
  prev: string;
  hash: string;
  recordText: string;
}

/**
 * Parse an entry line that must be in the exact layout {@link formatEntryLine} writes. Returns an error string
 * (not an exception) so scanners can report the line; the hash is not checked here.
 */
export function parseEntryLine(line: string): ParsedEntryLine | string {
  if (!line.startsWith(SEQ_PREFIX)) return "not an entry line";
  const comma = line.indexOf(",", SEQ_PREFIX.length);
  if (comma < 0) return "entry line has no seq";
  const seqText = line.slice(SEQ_PREFIX.length, comma);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(seqText)) return `entry seq ${JSON.stringify(seqText)} is not a non-negative integer`;
  const seq = Number(seqText);
  const prevAt = comma + ',"prev":"'.length;
  const hashAt = prevAt + 64 + '","hash":"'.length;
  const recAt = hashAt + 64 + '","record":'.length;
  if (
    line.slice(comma, prevAt) !== ',"prev":"' ||
    line.slice(prevAt + 64, hashAt) !== '","hash":"' ||
    line.slice(hashAt + 64, recAt) !== '","record":' ||
    !line.endsWith("}")
  ) {
    return "entry line is not in the {seq,prev,hash,record} layout";
  }
  const prev = line.slice(prevAt, prevAt + 64);
  const hash = line.slice(hashAt, hashAt + 64);
  if (!HEX64.test(prev) || !HEX64.test(hash)) return "entry prev/hash is not 64 lowercase hex characters";
  return { seq, prev, hash, recordText: line.slice(recAt, line.length - 1) };
}

/** True when a line is a checkpoint line (cheap prefix test; parse with {@link parseCheckpointLine}). */
export function isCheckpointLine(line: string): boolean {
  return line.startsWith(CHECKPOINT_PREFIX);
}

/** Parse and structurally check a checkpoint line; the signature is not verified here. Returns an error string. */
export function parseCheckpointLine(line: string): Checkpoint | string {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return "checkpoint line is not valid JSON";
  }
  const cp = (doc as { checkpoint?: unknown } | null)?.checkpoint as Partial<Checkpoint> | undefined;
  if (!cp || typeof cp !== "object" || Array.isArray(cp)) return "checkpoint line has no checkpoint object";
  if (cp.schema_id !== CHECKPOINT_SCHEMA_ID) return `checkpoint schema_id must be ${CHECKPOINT_SCHEMA_ID}`;
  if (!Number.isSafeInteger(cp.seq) || (cp.seq as number) < 0) return "checkpoint seq must be a non-negative integer";
  if (typeof cp.hash !== "string" || !HEX64.test(cp.hash)) return "checkpoint hash must be 64 lowercase hex characters";
  if (!["anchor", "seal", "periodic", "close"].includes(cp.kind as string)) return `checkpoint kind ${JSON.stringify(cp.kind)} is unknown`;
  if (!cp.signature || typeof cp.signature !== "object") return "checkpoint is not signed";
  return cp as Checkpoint;
}

/** Build and sign a checkpoint. `createdAt` is a Go RFC 3339 time string; `replicaId` is written when not empty. */
export function makeCheckpoint(kind: CheckpointKind, seq: number, hash: string, createdAt: string, signer: Signer, replicaId = ""): Checkpoint {
  const body = {
    schema_id: CHECKPOINT_SCHEMA_ID,
    schema_version: CHECKPOINT_SCHEMA_VERSION,
    kind,
    seq,
    hash,
    created_at: createdAt,
    key_id: signer.keyId,
    ...(replicaId ? { replica_id: replicaId } : {}),
  } as const;
  return { ...body, signature: signDocument(body, signer) };
}

/** The checkpoint object without its signature: what the signature covers. */
export function checkpointSignable(cp: Checkpoint): Omit<Checkpoint, "signature"> {
  const { signature: _sig, ...body } = cp;
  return body;
}

/** The checkpoint line (without its trailing newline). */
export function formatCheckpointLine(cp: Checkpoint): string {
  return JSON.stringify({ checkpoint: cp });
}

const SEGMENT_RE = /^segment-(\d{20})\.jsonl$/;

/** File name of the segment whose first entry is `firstSeq`; names sort by first seq. */
export function segmentName(firstSeq: number): string {
  return `segment-${String(firstSeq).padStart(20, "0")}.jsonl`;
}

/** First seq encoded in a segment file name, or undefined when the name is not a segment name. */
export function parseSegmentName(name: string): number | undefined {
  const m = SEGMENT_RE.exec(name);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}
