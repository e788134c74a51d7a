/**
 * Offline verification of signed trace records and of exported trace log entries (hash chain + signatures).
 *
 * This module imports nothing from Node: hashing is WebCrypto (`globalThis.crypto.subtle`), Ed25519 is
 * @noble/ed25519 and canonical JSON is the `canonicalize` RFC 8785 implementation, so the same code verifies
 * evidence in a browser, a worker or Deno.
 *
 * Rule (Gait, evidence.md §1.2): digest = sha256(JCS(record without `signature`)); `signature.signed_digest` must
 * equal it; `alg` must be ed25519; a non-empty `key_id` must equal hex(sha256(public key)); the Ed25519 signature is
 * over the 32 raw digest bytes.
 */
import * as ed from "@noble/ed25519";
import canonicalize from "canonicalize";

/** The outcome of verifying one record. `ok` is the only field to branch on. */
export interface RecordVerification {
  readonly ok: boolean;
  /** Gait's error text when not ok ("signed_digest mismatch", "signature verification failed", ...). */
  readonly error?: string;
  readonly keyId: string;
  readonly traceId?: string;
  readonly verdict?: string;
  readonly signedDigest?: string;
}

/** The outcome of verifying a run of exported entries. */
export interface ChainVerification {
  readonly ok: boolean;
  readonly error?: string;
  /** Sequence of the first entry that failed, when not ok. */
  readonly failedSequence?: bigint;
  /** Entries checked (all of them when ok). */
  readonly count: number;
  readonly firstSequence?: bigint;
  readonly lastSequence?: bigint;
  /** `entry_hash` of the last entry: the cursor hash to continue verifying from. */
  readonly headHash?: string;
}

/** The fields of an exported trace log entry that verification reads (an ExportTracesResponse fits). */
export interface ChainEntry {
  readonly sequence: bigint | number;
  readonly recordJson: string;
  readonly prevHash: string;
  readonly entryHash: string;
}

const enc = new TextEncoder();

function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function fromHex(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function fromBase64(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function sha256(data: Uint8Array | string): Promise<Uint8Array> {
  const bytes = typeof data === "string" ? enc.encode(data) : data;
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** hex(sha256(JCS(value))): Gait's DigestJCS. */
export async function digestJCS(value: unknown): Promise<string> {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("value cannot be canonicalized as JSON");
  return toHex(await sha256(text));
}

/**
 * Accepts a raw 32-byte Ed25519 public key, or Gait's public key file text (one line of base64 of the 32 bytes,
 * which is also GetServerInfo's `public_key`). Throws when it is neither.
 */
export function decodePublicKey(key: Uint8Array | string): Uint8Array {
  const raw = typeof key === "string" ? fromBase64(key.trim()) : key;
  if (!raw || raw.length !== 32) throw new Error("invalid public key: want 32 raw bytes or their base64 text");
  return raw;
}

/** key_id of a public key: hex(sha256(raw 32 bytes)). */
export async function keyIdOf(publicKey: Uint8Array | string): Promise<string> {
  return toHex(await sha256(decodePublicKey(publicKey)));
}

/**
 * Verifies one signed `gait.gate.trace` record (JSON text exactly as stored, or the parsed object) against a public
 * key. Never throws for a bad record: the answer says what is wrong. Throws only for an unusable public key.
 */
export async function verifyTraceRecord(record: string | object, publicKey: Uint8Array | string): Promise<RecordVerification> {
  const pub = decodePublicKey(publicKey);
  const keyId = await keyIdOf(pub);
  let doc: unknown;
  try {
    doc = typeof record === "string" ? JSON.parse(record) : record;
  } catch (e) {
    return { ok: false, keyId, error: `record is not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return { ok: false, keyId, error: "record is not a JSON object" };
  const { signature, ...signable } = doc as Record<string, unknown>;
  const meta = {
    keyId,
    ...(typeof signable.trace_id === "string" ? { traceId: signable.trace_id } : {}),
    ...(typeof signable.verdict === "string" ? { verdict: signable.verdict } : {}),
  };
  if (signature === null || typeof signature !== "object") return { ok: false, ...meta, error: "missing signature" };
  const sig = signature as Record<string, unknown>;
  const signed = typeof sig.signed_digest === "string" ? sig.signed_digest : "";
  if (!signed) return { ok: false, ...meta, error: "missing signed_digest" };
  let digestHex: string;
  try {
    digestHex = await digestJCS(signable);
  } catch (e) {
    return { ok: false, ...meta, error: `record cannot be canonicalized: ${e instanceof Error ? e.message : String(e)}` };
  }
  const withDigest = { ...meta, signedDigest: digestHex };
  if (signed.toLowerCase() !== digestHex) return { ok: false, ...withDigest, error: "signed_digest mismatch" };
  if (String(sig.alg ?? "").toLowerCase() !== "ed25519") return { ok: false, ...withDigest, error: "unsupported signature algorithm" };
  if (typeof sig.key_id === "string" && sig.key_id !== "" && sig.key_id.toLowerCase() !== keyId) {
    return { ok: false, ...withDigest, error: "key id mismatch" };
  }
  const sigBytes = typeof sig.sig === "string" ? fromBase64(sig.sig) : undefined;
  if (!sigBytes || sigBytes.length !== 64) return { ok: false, ...withDigest, error: "invalid signature encoding" };
  let valid = false;
  try {
    // zip215: false = RFC 8032 rules, the same acceptance as Go's crypto/ed25519 and OpenSSL.
    valid = await ed.verifyAsync(sigBytes, fromHex(digestHex), pub, { zip215: false });
  } catch {
    valid = false;
  }
  return valid ? { ok: true, ...withDigest } : { ok: false, ...withDigest, error: "signature verification failed" };
}

/**
 * entry_hash = hex(sha256(prev_hash ":" sequence ":" hex(sha256(record_text)))), where record_text is the record's
 * JSON exactly as stored (ExportTracesResponse.record_json; the `record` bytes of a segment line), not re-encoded.
 */
export async function entryHashOf(prevHash: string, sequence: bigint | number, recordText: string): Promise<string> {
  return toHex(await sha256(`${prevHash}:${BigInt(sequence).toString()}:${toHex(await sha256(recordText))}`));
}

/**
 * Verifies exported trace entries in order: every record's signature, consecutive sequence numbers, each
 * `prev_hash` equal to the previous `entry_hash` (or to `options.prevHash` for the first entry, when given), and
 * each `entry_hash` recomputed. Stops at the first failure.
 */
export async function verifyTraceEntries(
  entries: Iterable<ChainEntry> | AsyncIterable<ChainEntry>,
  publicKey: Uint8Array | string,
  options: { prevHash?: string } = {},
): Promise<ChainVerification> {
  const pub = decodePublicKey(publicKey);
  let count = 0;
  let first: bigint | undefined;
  let last: bigint | undefined;
  let head: string | undefined = options.prevHash;
  const fail = (seq: bigint, error: string): ChainVerification => ({
    ok: false, error, failedSequence: seq, count,
    ...(first !== undefined ? { firstSequence: first } : {}),
    ...(last !== undefined ? { lastSequence: last } : {}),
    ...(head !== undefined ? { headHash: head } : {}),
  });
  for await (const e of entries as AsyncIterable<ChainEntry>) {
    const seq = BigInt(e.sequence);
    if (last !== undefined && seq !== last + 1n) return fail(seq, `sequence gap: ${last} then ${seq}`);
    if (head !== undefined && e.prevHash !== head) return fail(seq, `prev_hash mismatch at sequence ${seq}`);
    const rv = await verifyTraceRecord(e.recordJson, pub);
    if (!rv.ok) return fail(seq, `record ${seq}: ${rv.error}`);
    const want = await entryHashOf(e.prevHash, seq, e.recordJson);
    if (want !== e.entryHash) return fail(seq, `entry_hash mismatch at sequence ${seq}`);
    if (first === undefined) first = seq;
    last = seq;
    head = e.entryHash;
    count++;
  }
  return {
    ok: true, count,
    ...(first !== undefined ? { firstSequence: first } : {}),
    ...(last !== undefined ? { lastSequence: last } : {}),
    ...(head !== undefined ? { headHash: head } : {}),
  };
}

/** The outcome of verifying one trace log segment file (`segment-<first seq>.jsonl`, see docs/trace-log.md). */
export interface SegmentVerification {
  readonly ok: boolean;
  readonly error?: string;
  /** Entries that passed every check before the first error. */
  readonly entries: number;
  readonly checkpoints: number;
  readonly firstSequence?: number;
  readonly lastSequence?: number;
  /** Hash of the last good entry (or of the anchor when the segment has no entry). */
  readonly lastHash?: string;
  /** The chain head this segment continues from (sequence 0 = the start of the log). */
  readonly anchor?: { readonly sequence: number; readonly hash: string };
  /** True when the segment ends with a `close` or `seal` checkpoint covering its last entry (its tail was not cut). */
  readonly sealed: boolean;
}

const ENTRY_LINE = /^\{"seq":(0|[1-9][0-9]{0,15}),"prev":"([0-9a-f]{64})","hash":"([0-9a-f]{64})","record":(.*)\}$/s;

/**
 * Verifies one trace log segment offline: the first line is a signed `anchor` checkpoint; every entry line
 * `{"seq":N,"prev":P,"hash":H,"record":R}` continues the chain (N = previous + 1, P = previous hash,
 * H = sha256(P ":" N ":" sha256(R)) over R's stored bytes) and R is a validly signed trace record; every checkpoint
 * is signed and names the chain head at its position. Stops at the first problem.
 */
export async function verifyTraceSegment(text: string, publicKey: Uint8Array | string): Promise<SegmentVerification> {
  const pub = decodePublicKey(publicKey);
  const keyId = await keyIdOf(pub);
  let entries = 0;
  let checkpoints = 0;
  let first: number | undefined;
  let anchor: { sequence: number; hash: string } | undefined;
  let headSeq = -1;
  let headHash = "";
  let sealed = false;
  const result = (error?: string): SegmentVerification => ({
    ok: error === undefined, entries, checkpoints, sealed: error === undefined && sealed,
    ...(error !== undefined ? { error } : {}),
    ...(first !== undefined ? { firstSequence: first, lastSequence: headSeq } : {}),
    ...(anchor !== undefined ? { anchor, lastHash: headHash } : {}),
  });
  // a running server's active segment is preallocated: a zero-filled tail follows its data and ends it
  const zero = text.indexOf("\0");
  if (zero >= 0) {
    if (/[^\0]/.test(text.slice(zero))) return result("non-zero bytes after the zero-filled tail (a zero byte inside the data, or data written after its end)");
    text = text.slice(0, zero);
  }
  if (text.length > 0 && !text.endsWith("\n")) return result("the last line is incomplete (torn write or cut file)");
  const lines = text.split("\n");
  lines.pop(); // after the final newline
  if (lines.length === 0) return result("the segment is empty (no anchor checkpoint)");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const at = `line ${i + 1}`;
    if (line.startsWith('{"checkpoint":')) {
      let cp: Record<string, unknown>;
      try {
        cp = (JSON.parse(line) as { checkpoint: Record<string, unknown> }).checkpoint;
      } catch {
        return result(`${at}: checkpoint line is not valid JSON`);
      }
      if (cp === null || typeof cp !== "object" || cp.schema_id !== "gait.tracelog.checkpoint") return result(`${at}: not a gait.tracelog.checkpoint`);
      const v = await verifySignedDocument(cp, pub, keyId);
      if (v !== undefined) return result(`${at}: checkpoint ${v}`);
      const seq = cp.seq;
      const hash = cp.hash;
      if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0 || typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash)) {
        return result(`${at}: checkpoint seq/hash malformed`);
      }
      if (i === 0) {
        if (cp.kind !== "anchor") return result(`${at}: a segment must start with an anchor checkpoint`);
        anchor = { sequence: seq, hash };
        headSeq = seq;
        headHash = hash;
      } else {
        if (cp.kind === "anchor") return result(`${at}: anchor checkpoint after the first line`);
        if (seq !== headSeq || hash !== headHash) return result(`${at}: checkpoint does not name the chain head (seq ${headSeq})`);
      }
      checkpoints++;
      sealed = cp.kind === "close" || cp.kind === "seal";
      continue;
    }
    if (i === 0) return result(`${at}: a segment must start with an anchor checkpoint`);
    const m = ENTRY_LINE.exec(line);
    if (!m) return result(`${at}: not an entry line in the {seq,prev,hash,record} layout`);
    const seq = Number(m[1]);
    const [prev, hash, recordText] = [m[2]!, m[3]!, m[4]!];
    if (seq !== headSeq + 1) return result(`${at}: sequence ${seq} does not follow ${headSeq}`);
    if (prev !== headHash) return result(`${at}: prev does not match the previous hash`);
    if ((await entryHashOf(prev, seq, recordText)) !== hash) return result(`${at}: entry ${seq} hash mismatch: the record or the entry was modified`);
    const rv = await verifyTraceRecord(recordText, pub);
    if (!rv.ok) return result(`${at}: record ${seq}: ${rv.error}`);
    if (first === undefined) first = seq;
    headSeq = seq;
    headHash = hash;
    entries++;
    sealed = false;
  }
  return result();
}

/** Checks a Gait signature object on a document (without its signature); undefined when valid, else the error. */
async function verifySignedDocument(doc: Record<string, unknown>, pub: Uint8Array, keyId: string): Promise<string | undefined> {
  const { signature, ...signable } = doc;
  if (signature === null || typeof signature !== "object") return "missing signature";
  const sig = signature as Record<string, unknown>;
  const signed = typeof sig.signed_digest === "string" ? sig.signed_digest : "";
  if (!signed) return "missing signed_digest";
  const digestHex = await digestJCS(signable);
  if (signed.toLowerCase() !== digestHex) return "signed_digest mismatch";
  if (String(sig.alg ?? "").toLowerCase() !== "ed25519") return "unsupported signature algorithm";
  if (typeof sig.key_id === "string" && sig.key_id !== "" && sig.key_id.toLowerCase() !== keyId) return "key id mismatch";
  const sigBytes = typeof sig.sig === "string" ? fromBase64(sig.sig) : undefined;
  if (!sigBytes || sigBytes.length !== 64) return "invalid signature encoding";
  try {
    if (await ed.verifyAsync(sigBytes, fromHex(digestHex), pub, { zip215: false })) return undefined;
  } catch {
    // fall through
  }
  return "signature verification failed";
}
