"""Offline verification of signed trace records and exported trace log entries (hash chain + signatures).

Rule (Gait, evidence.md 1.2): digest = sha256(JCS(record without ``signature``)); ``signature.signed_digest`` must
equal it; ``alg`` must be ed25519; a non-empty ``key_id`` must equal hex(sha256(public key)); the Ed25519 signature is
over the 32 raw digest bytes. JCS is RFC 8785 (the ``rfc8785`` package); Ed25519 is ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Union

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass(frozen=True)
class RecordVerification:
    """``ok`` is the only field to branch on; ``error`` is Gait's text ("signed_digest mismatch", ...)."""

    ok: bool
    key_id: str
    error: Optional[str] = None
    trace_id: Optional[str] = None
    verdict: Optional[str] = None
    signed_digest: Optional[str] = None


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    count: int
    error: Optional[str] = None
    failed_sequence: Optional[int] = None
    first_sequence: Optional[int] = None
    last_sequence: Optional[int] = None
    #: ``entry_hash`` of the last good entry: continue verifying from here.
    head_hash: Optional[str] = None


def decode_public_key(key: Union[bytes, str]) -> bytes:
    """A raw 32-byte Ed25519 public key, or Gait's public key text (base64 of the 32 bytes, as in GetServerInfo)."""
    if isinstance(key, str):
        try:
            raw = base64.b64decode(key.strip(), validate=True)
        except (binascii.Error, ValueError) as e:
            raise ValueError("invalid public key: not base64") from e
    else:
        raw = bytes(key)
    if len(raw) != 32:
        raise ValueError("invalid public key: want 32 raw bytes or their base64 text")
    return raw


def key_id_of(public_key: Union[bytes, str]) -> str:
    """key_id = hex(sha256(raw public key))."""
    return hashlib.sha256(decode_public_key(public_key)).hexdigest()


def digest_jcs(value: Any) -> str:
    """Gait's DigestJCS: hex(sha256(RFC 8785 JCS of value))."""
    return hashlib.sha256(rfc8785.dumps(value)).hexdigest()


def verify_trace_record(record: Union[str, bytes, Mapping[str, Any]], public_key: Union[bytes, str]) -> RecordVerification:
    """Verifies one signed ``gait.gate.trace`` record (JSON text as stored, or the parsed object). Never raises for a
    bad record; raises ValueError only for an unusable public key."""
    pub = decode_public_key(public_key)
    kid = hashlib.sha256(pub).hexdigest()
    try:
        doc = json.loads(record) if isinstance(record, (str, bytes)) else dict(record)
    except ValueError as e:
        return RecordVerification(ok=False, key_id=kid, error=f"record is not JSON: {e}")
    if not isinstance(doc, dict):
        return RecordVerification(ok=False, key_id=kid, error="record is not a JSON object")
    signable = {k: v for k, v in doc.items() if k != "signature"}
    meta = dict(key_id=kid, trace_id=signable.get("trace_id") if isinstance(signable.get("trace_id"), str) else None,
                verdict=signable.get("verdict") if isinstance(signable.get("verdict"), str) else None)
    sig = doc.get("signature")
    if not isinstance(sig, dict):
        return RecordVerification(ok=False, error="missing signature", **meta)
    signed = sig.get("signed_digest") if isinstance(sig.get("signed_digest"), str) else ""
    if not signed:
        return RecordVerification(ok=False, error="missing signed_digest", **meta)
    try:
        digest = digest_jcs(signable)
    except Exception as e:  # noqa: BLE001 - values JCS cannot carry
        return RecordVerification(ok=False, error=f"record cannot be canonicalized: {e}", **meta)
    meta["signed_digest"] = digest
    if signed.lower() != digest:
        return RecordVerification(ok=False, error="signed_digest mismatch", **meta)
    if str(sig.get("alg", "")).lower() != "ed25519":
        return RecordVerification(ok=False, error="unsupported signature algorithm", **meta)
    key_id = sig.get("key_id")
    if isinstance(key_id, str) and key_id and key_id.lower() != kid:
        return RecordVerification(ok=False, error="key id mismatch", **meta)
    try:
        sig_bytes = base64.b64decode(sig.get("sig", ""), validate=True)
    except (binascii.Error, ValueError, TypeError):
        sig_bytes = b""
    if len(sig_bytes) != 64:
        return RecordVerification(ok=False, error="invalid signature encoding", **meta)
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig_bytes, bytes.fromhex(digest))
    except InvalidSignature:
        return RecordVerification(ok=False, error="signature verification failed", **meta)
    return RecordVerification(ok=True, **meta)


def entry_hash_of(prev_hash: str, sequence: int, record_text: Union[str, bytes]) -> str:
    """entry_hash = hex(sha256(prev_hash ":" sequence ":" hex(sha256(record_text)))), where record_text is the record's
    JSON exactly as stored (ExportTracesResponse.record_json; a segment line's ``record`` bytes), not re-encoded."""
    raw = record_text.encode("utf-8") if isinstance(record_text, str) else record_text
    return hashlib.sha256(f"{prev_hash}:{sequence}:{hashlib.sha256(raw).hexdigest()}".encode()).hexdigest()


def verify_trace_entries(entries: Iterable[Any], public_key: Union[bytes, str], *, prev_hash: Optional[str] = None) -> ChainVerification:
    """Verifies exported entries (objects with ``sequence``, ``record_json``, ``prev_hash``, ``entry_hash``, e.g.
    ExportTracesResponse) in order: signatures, consecutive sequences, the hash chain. Stops at the first failure."""
    pub = decode_public_key(public_key)
    count = 0
    first = last = None
    head = prev_hash

    def fail(seq: int, error: str) -> ChainVerification:
        return ChainVerification(ok=False, count=count, error=error, failed_sequence=seq, first_sequence=first,
                                 last_sequence=last, head_hash=head)

    for e in entries:
        seq = int(e.sequence)
        if last is not None and seq != last + 1:
            return fail(seq, f"sequence gap: {last} then {seq}")
        if head is not None and e.prev_hash != head:
            return fail(seq, f"prev_hash mismatch at sequence {seq}")
        rv = verify_trace_record(e.record_json, pub)
        if not rv.ok:
            return fail(seq, f"record {seq}: {rv.error}")
        if entry_hash_of(e.prev_hash, seq, e.record_json) != e.entry_hash:
            return fail(seq, f"entry_hash mismatch at sequence {seq}")
        if first is None:
            first = seq
        last = seq
        head = e.entry_hash
        count += 1
    return ChainVerification(ok=True, count=count, first_sequence=first, last_sequence=last, head_hash=head)


@dataclass(frozen=True)
class SegmentVerification:
    ok: bool
    entries: int
    checkpoints: int
    error: Optional[str] = None
    first_sequence: Optional[int] = None
    last_sequence: Optional[int] = None
    last_hash: Optional[str] = None
    anchor_sequence: Optional[int] = None
    anchor_hash: Optional[str] = None
    #: True when the segment ends with a ``close`` or ``seal`` checkpoint covering its last entry.
    sealed: bool = False


_ENTRY_LINE = re.compile(r'^\{"seq":(0|[1-9][0-9]{0,15}),"prev":"([0-9a-f]{64})","hash":"([0-9a-f]{64})","record":(.*)\}$', re.S)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _signature_error(doc: Mapping[str, Any], pub: bytes) -> Optional[str]:
    """Checks a Gait signature object on a document; None when valid, else Gait's error text."""
    sig = doc.get("signature")
    if not isinstance(sig, dict):
        return "missing signature"
    signed = sig.get("signed_digest") if isinstance(sig.get("signed_digest"), str) else ""
    if not signed:
        return "missing signed_digest"
    digest = digest_jcs({k: v for k, v in doc.items() if k != "signature"})
    if signed.lower() != digest:
        return "signed_digest mismatch"
    if str(sig.get("alg", "")).lower() != "ed25519":
        return "unsupported signature algorithm"
    kid = sig.get("key_id")
    if isinstance(kid, str) and kid and kid.lower() != hashlib.sha256(pub).hexdigest():
        return "key id mismatch"
    try:
        sig_bytes = base64.b64decode(sig.get("sig", ""), validate=True)
    except (binascii.Error, ValueError, TypeError):
        sig_bytes = b""
    if len(sig_bytes) != 64:
        return "invalid signature encoding"
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig_bytes, bytes.fromhex(digest))
    except InvalidSignature:
        return "signature verification failed"
    return None


def verify_trace_segment(text: Union[str, bytes], public_key: Union[bytes, str]) -> SegmentVerification:
    """Verifies one trace log segment file (``segment-<first seq>.jsonl``) offline: a signed ``anchor`` checkpoint
    first; each entry line continues the chain (hash recomputed over the stored record bytes) with a validly signed
    record; each checkpoint is signed and names the chain head at its position. Stops at the first problem."""
    pub = decode_public_key(public_key)
    data = text.decode("utf-8") if isinstance(text, bytes) else text
    st: dict = {"entries": 0, "checkpoints": 0, "sealed": False}

    def result(error: Optional[str] = None) -> SegmentVerification:
        if error is not None:
            st["sealed"] = False
        return SegmentVerification(ok=error is None, error=error, **st)

    # a running server's active segment is preallocated: a zero-filled tail follows its data and ends it
    zero = data.find("\0")
    if zero >= 0:
        if data[zero:].strip("\0"):
            return result("non-zero bytes after the zero-filled tail (a zero byte inside the data, or data written after its end)")
        data = data[:zero]
    if data and not data.endswith("\n"):
        return result("the last line is incomplete (torn write or cut file)")
    lines = data.split("\n")[:-1]
    if not lines:
        return result("the segment is empty (no anchor checkpoint)")
    head_seq, head_hash = -1, ""
    for i, line in enumerate(lines):
        at = f"line {i + 1}"
        if line.startswith('{"checkpoint":'):
            try:
                cp = json.loads(line)["checkpoint"]
            except (ValueError, KeyError, TypeError):
                return result(f"{at}: checkpoint line is not valid JSON")
            if not isinstance(cp, dict) or cp.get("schema_id") != "gait.tracelog.checkpoint":
                return result(f"{at}: not a gait.tracelog.checkpoint")
            err = _signature_error(cp, pub)
            if err:
                return result(f"{at}: checkpoint {err}")
            seq, h = cp.get("seq"), cp.get("hash")
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(h, str) or not _HEX64.match(h):
                return result(f"{at}: checkpoint seq/hash malformed")
            if i == 0:
                if cp.get("kind") != "anchor":
                    return result(f"{at}: a segment must start with an anchor checkpoint")
                st.update(anchor_sequence=seq, anchor_hash=h, last_hash=h)
                head_seq, head_hash = seq, h
            else:
                if cp.get("kind") == "anchor":
                    return result(f"{at}: anchor checkpoint after the first line")
                if seq != head_seq or h != head_hash:
                    return result(f"{at}: checkpoint does not name the chain head (seq {head_seq})")
            st["checkpoints"] += 1
            st["sealed"] = cp.get("kind") in ("close", "seal")
            continue
        if i == 0:
            return result(f"{at}: a segment must start with an anchor checkpoint")
        m = _ENTRY_LINE.match(line)
        if not m:
            return result(f"{at}: not an entry line in the {{seq,prev,hash,record}} layout")
        seq, prev, h, record = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        if seq != head_seq + 1:
            return result(f"{at}: sequence {seq} does not follow {head_seq}")
        if prev != head_hash:
            return result(f"{at}: prev does not match the previous hash")
        if entry_hash_of(prev, seq, record) != h:
            return result(f"{at}: entry {seq} hash mismatch: the record or the entry was modified")
        rv = verify_trace_record(record, pub)
        if not rv.ok:
            return result(f"{at}: record {seq}: {rv.error}")
        if st["entries"] == 0:
            st["first_sequence"] = seq
        head_seq, head_hash = seq, h
        st.update(last_sequence=seq, last_hash=h, sealed=False)
        st["entries"] += 1
    return result()


__all__ = ["ChainVerification", "SegmentVerification", "verify_trace_segment", "RecordVerification", "decode_public_key", "digest_jcs", "entry_hash_of", "key_id_of",
           "verify_trace_entries", "verify_trace_record"]
