/**
 * Offline verification of trace log segments (`gait trace verify <segment>`) and of whole log directories.
 *
 * Checked: every line's layout; the hash chain (seq +1, prev = previous hash, hash recomputed from the stored record
 * bytes); every record's Gait signature (verifyDocument over the record minus `signature`); every checkpoint's
 * signature and that it names the chain head at its position; the segment's first line is an `anchor` checkpoint
 * matching its file name. A log directory additionally needs each segment's anchor to equal the previous segment's
 * last entry. See docs/trace-log.md for what each tampering case looks like.
 */
import { promises as fsp } from "node:fs";
import { basename, join } from "node:path";
import { SignatureError, verifyDocument, type Verifier } from "../engine/signature.js";
import {
  GENESIS_HASH,
  RECORD_SCHEMA_IDS,
  checkpointSignable,
  entryHash,
  isCheckpointLine,
  parseCheckpointLine,
  parseEntryLine,
  parseSegmentName,
  type Checkpoint,
} from "./format.js";
import { LineReader, firstNonZero } from "./lines.js";
import { HeadMarker } from "../infra/marker.js";

/** The head marker's file name in a log directory (kept in step with log.ts HEAD_FILE). */
const HEAD_FILE_NAME = "HEAD";

/** One public key, or several (a log written across key changes has one key per segment); chosen by key_id. */
export type VerifierSet = Verifier | readonly Verifier[];

/** Options of {@link verifySegmentFile} / {@link verifyLogDir}. */
export interface VerifyOptions {
  /** (directory) Fail when the head marker (HEAD) is missing. @defaultValue false */
  requireHead?: boolean;
  /** Fail when the (last) segment does not end with a `close`/`seal` checkpoint covering its last entry, i.e. when
   * its tail could have been cut. Use it on logs that were closed cleanly (the server writes `close` at shutdown).
   * @defaultValue false */
  requireSealed?: boolean;
}

/** Result of verifying one segment file. */
export interface SegmentVerifyResult {
  ok: boolean;
  path: string;
  /** Entries that passed every check before the first error. */
  entries: number;
  checkpoints: number;
  first_seq?: number;
  last_seq?: number;
  /** Hash of the last valid entry (or of the anchor when the segment holds no entry). */
  last_hash?: string;
  /** The chain head this segment continues from (seq 0 = the start of the log). */
  anchor?: { seq: number; hash: string };
  /** Seq covered by the last signed checkpoint. */
  last_checkpoint_seq?: number;
  /** Entries after the last signed checkpoint: a cut there is not detectable from this file alone. */
  unsealed_entries: number;
  /** True when the file ends with a `close` or `seal` checkpoint covering its last entry (a cleanly closed or
   * rotated segment). A cut right after a `periodic` checkpoint leaves this false. */
  sealed: boolean;
  /** key_ids seen on records and checkpoints. */
  key_ids: string[];
  /** `replica_id`s named by the segment's signed checkpoints (a fleet's replicas, `--replica-id`); empty for a
   * log written by a server without shared state. */
  replica_ids: string[];
  /** First problem found, with its line number. */
  error?: string;
}

/** Result of verifying a log directory. */
export interface LogVerifyResult {
  ok: boolean;
  dir: string;
  segments: SegmentVerifyResult[];
  entries: number;
  checkpoints: number;
  first_seq?: number;
  last_seq?: number;
  /** True when the log starts at its genesis (seq 1); false when retention removed its beginning, in which case
   * the first remaining segment's signed anchor checkpoint is the trust root for its first `prev`. */
  from_genesis: boolean;
  /** The head marker (HEAD) the server keeps: "ok" (the log reaches it, through the same chain, and starts no later
   * than its retention floor), "missing", or "mismatch" (then `error` says how). */
  head_marker: "ok" | "missing" | "mismatch";
  /** Every `replica_id` the checkpoints name: one for a replica's log (more means one directory was written by
   * several replicas in turn, e.g. after a rename). */
  replica_ids: string[];
  /** Seq recorded in the head marker. */
  head_marker_seq?: number;
  /** Hash of the last entry (the head), when the log has entries. */
  last_hash?: string;
  error?: string;
}

function verifierFor(set: VerifierSet, keyId: string | undefined): Verifier | undefined {
  const list: readonly Verifier[] = Array.isArray(set) ? (set as readonly Verifier[]) : [set as Verifier];
  if (!keyId) return list.length === 1 ? list[0] : undefined;
  const k = keyId.toLowerCase();
  return list.find((v) => v.keyId === k);
}

function checkSignature(doc: unknown, sig: unknown, set: VerifierSet): string | undefined {
  const keyId = (sig as { key_id?: unknown } | null)?.key_id;
  const v = verifierFor(set, typeof keyId === "string" ? keyId : undefined);
  if (!v) return `no verification key for key_id ${String(keyId)}`;
  try {
    verifyDocument(doc, sig as Parameters<typeof verifyDocument>[1], v);
    return undefined;
  } catch (e) {
    if (e instanceof SignatureError || (e as Error).name === "SignatureError") return (e as Error).message;
    return `signature check failed: ${(e as Error).message}`;
  }
}

/**
 * Verify one segment file. Resolves `{ok:false, error}` for any content problem (tampering, truncation, bad
 * signature); rejects only when the file cannot be read (the CLI maps that to a read error, not a failed check).
 */
export async function verifySegmentFile(path: string, verifier: VerifierSet, options: VerifyOptions = {}): Promise<SegmentVerifyResult> {
  const res: SegmentVerifyResult = { ok: false, path, entries: 0, checkpoints: 0, unsealed_entries: 0, sealed: false, key_ids: [], replica_ids: [] };
  const keyIds = new Set<string>();
  const replicaIds = new Set<string>();
  const nameSeq = parseSegmentName(basename(path));
  const fh = await fsp.open(path, "r");
  let headSeq = -1;
  let headHash = "";
  let lastCheckpointSeq = -1;
  let lastWasCheckpoint = false;
  let lastCheckpointKind = "";
  let lineNo = 0;
  const fail = (msg: string): SegmentVerifyResult => {
    res.error = `line ${lineNo}: ${msg}`;
    return finish();
  };
  const finish = (): SegmentVerifyResult => {
    res.key_ids = [...keyIds].sort();
    res.replica_ids = [...replicaIds].sort();
    if (headSeq >= 0) res.last_hash = headHash;
    if (lastCheckpointSeq >= 0) res.last_checkpoint_seq = lastCheckpointSeq;
    res.unsealed_entries = lastCheckpointSeq >= 0 ? Math.max(0, headSeq - lastCheckpointSeq) : res.entries;
    res.sealed = lastWasCheckpoint && lastCheckpointSeq === headSeq && (lastCheckpointKind === "close" || lastCheckpointKind === "seal");
    return res;
  };
  try {
    const reader = new LineReader(fh, 0);
    for (let lines = await reader.readBatch(); lines.length; lines = await reader.readBatch()) {
      for (const l of lines) {
        lineNo++;
        const text = l.text;
        if (lineNo === 1) {
          const cp = parseCheckpointLine(text);
          if (typeof cp === "string") return fail(`a segment must start with an anchor checkpoint: ${cp}`);
          if (cp.kind !== "anchor") return fail(`first checkpoint kind is ${cp.kind}, expected anchor`);
          if (nameSeq !== undefined && cp.seq !== nameSeq - 1) {
            return fail(`anchor seq ${cp.seq} does not match the file name (expected ${nameSeq - 1}): the file was renamed or its beginning removed`);
          }
          if (cp.seq === 0 && cp.hash !== GENESIS_HASH) return fail("genesis anchor hash must be 64 zeros");
          const bad = checkCheckpoint(cp, verifier, keyIds, replicaIds);
          if (bad) return fail(bad);
          headSeq = cp.seq;
          headHash = cp.hash;
          lastCheckpointSeq = cp.seq;
          lastWasCheckpoint = true;
          res.anchor = { seq: cp.seq, hash: cp.hash };
          res.checkpoints++;
          continue;
        }
        if (isCheckpointLine(text)) {
          const cp = parseCheckpointLine(text);
          if (typeof cp === "string") return fail(cp);
          if (cp.kind === "anchor") return fail("anchor checkpoint in the middle of a segment");
          if (cp.seq !== headSeq || cp.hash !== headHash) {
            return fail(`checkpoint names seq ${cp.seq} but the chain head here is seq ${headSeq}${cp.seq === headSeq ? " with a different hash" : ""}: entries were removed, inserted or reordered`);
          }
          const bad = checkCheckpoint(cp, verifier, keyIds, replicaIds);
          if (bad) return fail(bad);
          lastCheckpointSeq = cp.seq;
          lastWasCheckpoint = true;
          lastCheckpointKind = cp.kind;
          res.checkpoints++;
          continue;
        }
        const e = parseEntryLine(text);
        if (typeof e === "string") return fail(e);
        if (e.seq !== headSeq + 1) {
          return fail(`entry seq ${e.seq}, expected ${headSeq + 1}: entries were removed, inserted or reordered`);
        }
        if (e.prev !== headHash) return fail(`entry ${e.seq} prev does not match the hash of entry ${headSeq}`);
        if (entryHash(e.prev, e.seq, e.recordText) !== e.hash) return fail(`entry ${e.seq} hash mismatch: the record or the entry was modified`);
        let record: unknown;
        try {
          record = JSON.parse(e.recordText);
        } catch {
          return fail(`entry ${e.seq} record is not valid JSON`);
        }
        if (!record || typeof record !== "object" || Array.isArray(record)) return fail(`entry ${e.seq} record is not an object`);
        const { signature, ...signable } = record as { signature?: unknown; schema_id?: unknown };
        if (!RECORD_SCHEMA_IDS.has(signable.schema_id as string)) return fail(`entry ${e.seq} record schema_id is not one of ${[...RECORD_SCHEMA_IDS].join(", ")}`);
        const sigErr = checkSignature(signable, signature, verifier);
        if (sigErr) return fail(`entry ${e.seq} record signature: ${sigErr}`);
        const kid = (signature as { key_id?: unknown }).key_id;
        if (typeof kid === "string" && kid) keyIds.add(kid.toLowerCase());
        if (res.first_seq === undefined) res.first_seq = e.seq;
        res.last_seq = e.seq;
        headSeq = e.seq;
        headHash = e.hash;
        lastWasCheckpoint = false;
        res.entries++;
      }
    }
    if (reader.atZero) {
      // a preallocated (zero-filled) tail ends the data; anything but zeros after it was written there otherwise
      const zeroAt = reader.offset + reader.pendingBytes;
      const stray = await firstNonZero(fh, zeroAt);
      if (stray >= 0) {
        lineNo++;
        return fail(`non-zero bytes at offset ${stray} after the zero-filled tail that starts at offset ${zeroAt}: a zero byte inside the data, or data written after its end`);
      }
    }
    if (lineNo === 0) {
      res.error = reader.pendingBytes ? "partial first line: the segment was cut while being created" : "empty segment file";
      return finish();
    }
    if (reader.pendingBytes > 0) {
      lineNo++;
      return fail(`partial line of ${reader.pendingBytes} bytes at the end of the file (a torn write or truncation)`);
    }
    finish();
    if (options.requireSealed && !res.sealed) {
      res.error = res.unsealed_entries
        ? `segment ends with ${res.unsealed_entries} entr${res.unsealed_entries === 1 ? "y" : "ies"} after the last signed checkpoint (seq ${lastCheckpointSeq}): its tail may have been truncated`
        : `segment does not end with a close or seal checkpoint (last checkpoint: ${lastCheckpointKind} at seq ${lastCheckpointSeq}): it was not closed cleanly, or its tail was truncated`;
      return res;
    }
    res.ok = true;
    return res;
  } finally {
    await fh.close();
  }
}

function checkCheckpoint(cp: Checkpoint, verifier: VerifierSet, keyIds: Set<string>, replicaIds: Set<string>): string | undefined {
  if (cp.signature.key_id && cp.key_id !== cp.signature.key_id) return "checkpoint key_id differs from its signature's key_id";
  const err = checkSignature(checkpointSignable(cp), cp.signature, verifier);
  if (err) return `checkpoint (seq ${cp.seq}) signature: ${err}`;
  keyIds.add(cp.key_id.toLowerCase());
  if (typeof cp.replica_id === "string" && cp.replica_id) replicaIds.add(cp.replica_id);
  return undefined;
}

/**
 * Verify every segment of a log directory in order, and that each segment's anchor continues the previous
 * segment's chain. `requireSealed` applies to the last segment (earlier ones are covered by their successor's
 * anchor). Rejects only when the directory or a file cannot be read.
 */
export async function verifyLogDir(dir: string, verifier: VerifierSet, options: VerifyOptions = {}): Promise<LogVerifyResult> {
  const names = (await fsp.readdir(dir)).filter((n) => parseSegmentName(n) !== undefined).sort();
  const out: LogVerifyResult = { ok: false, dir, segments: [], entries: 0, checkpoints: 0, from_genesis: false, head_marker: "missing", replica_ids: [] };
  if (names.length === 0) {
    out.error = `no segment files (segment-<seq>.jsonl) in ${dir}`;
    return out;
  }
  let prev: SegmentVerifyResult | undefined;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const isLast = i === names.length - 1;
    const r = await verifySegmentFile(join(dir, name), verifier, { requireSealed: isLast && options.requireSealed === true });
    out.segments.push(r);
    out.entries += r.entries;
    out.checkpoints += r.checkpoints;
    out.replica_ids = [...new Set([...out.replica_ids, ...r.replica_ids])].sort();
    if (!r.ok) {
      out.error = `${name}: ${r.error}`;
      return out;
    }
    if (i === 0) out.from_genesis = r.anchor?.seq === 0;
    if (prev && (r.anchor?.seq !== headOf(prev).seq || r.anchor?.hash !== headOf(prev).hash)) {
      out.error = `${name}: its anchor (seq ${r.anchor?.seq}) does not continue ${names[i - 1]} (which ends at seq ${headOf(prev).seq}): a segment was truncated, removed or replaced`;
      return out;
    }
    if (r.first_seq !== undefined) out.first_seq ??= r.first_seq;
    if (r.last_seq !== undefined) out.last_seq = r.last_seq;
    prev = r;
  }
  if (prev) out.last_hash = headOf(prev).hash;
  // the head marker: the log must reach the head it records (a cut at a line boundary, or a deleted newest segment,
  // leaves the log behind it) and must not start after its retention floor (a deleted oldest segment)
  const marker = await HeadMarker.open(join(dir, HEAD_FILE_NAME), { create: false }).catch(() => undefined);
  const mark = marker?.mark;
  await marker?.close();
  if (!mark) {
    if (options.requireHead) {
      out.error = `no head marker (${HEAD_FILE_NAME}) in ${dir}: a cut of the newest entries could not be detected`;
      return out;
    }
  } else {
    out.head_marker_seq = mark.seq;
    const head = prev ? headOf(prev) : { seq: 0, hash: GENESIS_HASH };
    const floor = typeof mark.oldest_seq === "number" ? mark.oldest_seq : 1;
    const first = parseSegmentName(names[0]!)!;
    let why: string | undefined;
    if (head.seq < mark.seq) why = `the log ends at entry ${head.seq}, behind its head marker (entry ${mark.seq}): entries were removed (cut at a line boundary, or the newest segment deleted)`;
    else if (head.seq === mark.seq && head.hash !== mark.hash) why = `the entry the head marker records (entry ${mark.seq}) is not the log's: the log was replaced or rewritten`;
    else if (first > Math.max(floor, 1)) why = `entries ${floor}..${first - 1} are missing below the first segment (deleted, not by retention)`;
    if (why) {
      out.head_marker = "mismatch";
      out.error = why;
      return out;
    }
    out.head_marker = "ok";
  }
  out.ok = true;
  return out;
}

function headOf(r: SegmentVerifyResult): { seq: number; hash: string | undefined } {
  return { seq: r.last_seq ?? r.anchor?.seq ?? -1, hash: r.last_hash };
}
