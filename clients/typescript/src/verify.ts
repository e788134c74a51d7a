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
