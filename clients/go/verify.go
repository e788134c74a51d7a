package gait

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gowebpki/jcs"
)

// Offline verification of signed trace records, exported trace entries and trace log segments.
//
// Rule (Gait, evidence.md 1.2): digest = sha256(JCS(record without "signature")); signature.signed_digest must
// equal it; alg must be ed25519; a non-empty key_id must equal hex(sha256(public key)); the Ed25519 signature is
// over the 32 raw digest bytes.

// RecordVerification is the outcome of verifying one record. OK is the only field to branch on.
type RecordVerification struct {
	OK bool
	// Error is Gait's text when not OK ("signed_digest mismatch", "signature verification failed", ...).
	Error        string
	KeyID        string
	TraceID      string
	Verdict      string
	SignedDigest string
}

// DecodePublicKey accepts a raw 32-byte Ed25519 public key or Gait's public key text (base64 of the 32 bytes, as in
// GetServerInfo.public_key).
func DecodePublicKey(key []byte) (ed25519.PublicKey, error) {
	raw := key
	if len(key) != ed25519.PublicKeySize {
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(key)))
		if err != nil {
			return nil, fmt.Errorf("invalid public key: want 32 raw bytes or their base64 text")
		}
		raw = dec
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("invalid public key: want 32 raw bytes or their base64 text")
	}
	return ed25519.PublicKey(raw), nil
}

// KeyIDOf is hex(sha256(raw public key)).
func KeyIDOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// DigestJCS is Gait's DigestJCS: hex(sha256(RFC 8785 JCS of the JSON text)).
func DigestJCS(jsonText []byte) (string, error) {
	canon, err := jcs.Transform(jsonText)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// VerifyTraceRecord verifies one signed gait.gate.trace record (JSON text as stored) against a public key.
func VerifyTraceRecord(recordJSON []byte, pub ed25519.PublicKey) RecordVerification {
	kid := KeyIDOf(pub)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(recordJSON, &doc); err != nil {
		return RecordVerification{KeyID: kid, Error: "record is not a JSON object: " + err.Error()}
	}
	rv := RecordVerification{KeyID: kid}
	_ = json.Unmarshal(doc["trace_id"], &rv.TraceID)
	_ = json.Unmarshal(doc["verdict"], &rv.Verdict)
	digest, errText := verifySigned(doc, pub, kid)
	rv.SignedDigest = digest
	if errText != "" {
		rv.Error = errText
		return rv
	}
	rv.OK = true
	return rv
}

type signatureObject struct {
	Alg          string `json:"alg"`
	KeyID        string `json:"key_id"`
	Sig          string `json:"sig"`
	SignedDigest string `json:"signed_digest"`
}

// verifySigned checks the Gait signature object of doc; it returns the recomputed digest and "" when valid.
func verifySigned(doc map[string]json.RawMessage, pub ed25519.PublicKey, kid string) (string, string) {
	rawSig, ok := doc["signature"]
	if !ok || bytes.Equal(bytes.TrimSpace(rawSig), []byte("null")) {
		return "", "missing signature"
	}
	var sig signatureObject
	if err := json.Unmarshal(rawSig, &sig); err != nil {
		return "", "missing signature"
	}
	if sig.SignedDigest == "" {
		return "", "missing signed_digest"
	}
	signable := make(map[string]json.RawMessage, len(doc))
	for k, v := range doc {
		if k != "signature" {
			signable[k] = v
		}
	}
	text, err := json.Marshal(signable)
	if err != nil {
		return "", "record cannot be canonicalized: " + err.Error()
	}
	digest, err := DigestJCS(text)
	if err != nil {
		return "", "record cannot be canonicalized: " + err.Error()
	}
	if strings.ToLower(sig.SignedDigest) != digest {
		return digest, "signed_digest mismatch"
	}
	if strings.ToLower(sig.Alg) != "ed25519" {
		return digest, "unsupported signature algorithm"
	}
	if sig.KeyID != "" && strings.ToLower(sig.KeyID) != kid {
		return digest, "key id mismatch"
	}
	sigBytes, err := base64.StdEncoding.DecodeString(sig.Sig)
	if err != nil || len(sigBytes) != ed25519.SignatureSize {
		return digest, "invalid signature encoding"
	}
	d, _ := hex.DecodeString(digest)
	if !ed25519.Verify(pub, d, sigBytes) {
		return digest, "signature verification failed"
	}
	return digest, ""
}

// EntryHashOf is hex(sha256(prev ":" sequence ":" hex(sha256(recordText)))), with recordText the record's JSON
// exactly as stored (ExportTracesResponse.record_json; a segment line's record bytes), not re-encoded.
func EntryHashOf(prev string, sequence uint64, recordText []byte) string {
	inner := sha256.Sum256(recordText)
	outer := sha256.Sum256([]byte(prev + ":" + strconv.FormatUint(sequence, 10) + ":" + hex.EncodeToString(inner[:])))
	return hex.EncodeToString(outer[:])
}

// ChainEntry is what chain verification reads from an exported entry (ExportTracesResponse fits via EntryOf).
type ChainEntry struct {
	Sequence   uint64
	RecordJSON string
	PrevHash   string
	EntryHash  string
}

// ChainVerification is the outcome of verifying a run of exported entries.
type ChainVerification struct {
	OK             bool
	Error          string
	FailedSequence uint64
	Count          int
	FirstSequence  uint64
	LastSequence   uint64
	// HeadHash is the entry_hash of the last good entry: the hash to continue verifying from.
	HeadHash string
}

// VerifyTraceEntries verifies exported entries in order: signatures, consecutive sequences, prev_hash links (the
// first one against prevHash when it is not empty) and recomputed entry hashes. It stops at the first failure.
func VerifyTraceEntries(entries []ChainEntry, pub ed25519.PublicKey, prevHash string) ChainVerification {
	cv := ChainVerification{HeadHash: prevHash}
	for i, e := range entries {
		fail := func(msg string) ChainVerification {
			cv.Error, cv.FailedSequence = msg, e.Sequence
			return cv
		}
		if i > 0 && e.Sequence != cv.LastSequence+1 {
			return fail(fmt.Sprintf("sequence gap: %d then %d", cv.LastSequence, e.Sequence))
		}
		if cv.HeadHash != "" && e.PrevHash != cv.HeadHash {
			return fail(fmt.Sprintf("prev_hash mismatch at sequence %d", e.Sequence))
		}
		if rv := VerifyTraceRecord([]byte(e.RecordJSON), pub); !rv.OK {
			return fail(fmt.Sprintf("record %d: %s", e.Sequence, rv.Error))
		}
		if EntryHashOf(e.PrevHash, e.Sequence, []byte(e.RecordJSON)) != e.EntryHash {
			return fail(fmt.Sprintf("entry_hash mismatch at sequence %d", e.Sequence))
		}
		if i == 0 {
			cv.FirstSequence = e.Sequence
		}
		cv.LastSequence, cv.HeadHash = e.Sequence, e.EntryHash
		cv.Count++
	}
	cv.OK = true
	return cv
}

// SegmentVerification is the outcome of verifying one trace log segment file.
type SegmentVerification struct {
	OK          bool
	Error       string
	Entries     int
	Checkpoints int
	FirstSeq    uint64
	LastSeq     uint64
	LastHash    string
	AnchorSeq   uint64
	AnchorHash  string
	// Sealed is true when the segment ends with a close or seal checkpoint covering its last entry.
	Sealed bool
}

var entryLine = regexp.MustCompile(`(?s)^\{"seq":(0|[1-9][0-9]{0,15}),"prev":"([0-9a-f]{64})","hash":"([0-9a-f]{64})","record":(.*)\}$`)
var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// VerifyTraceSegment verifies a segment file (segment-<first seq>.jsonl, docs/trace-log.md) offline: a signed
// anchor checkpoint first; every entry continues the chain with a recomputed hash over the stored record bytes and a
// validly signed record; every checkpoint is signed and names the chain head at its position.
func VerifyTraceSegment(text []byte, pub ed25519.PublicKey) SegmentVerification {
	kid := KeyIDOf(pub)
	sv := SegmentVerification{}
	fail := func(msg string) SegmentVerification {
		sv.Error, sv.Sealed = msg, false
		return sv
	}
	// a running server's active segment is preallocated: a zero-filled tail follows its data and ends it
	if zero := bytes.IndexByte(text, 0); zero >= 0 {
		if len(bytes.Trim(text[zero:], "\x00")) > 0 {
			return fail("non-zero bytes after the zero-filled tail (a zero byte inside the data, or data written after its end)")
		}
		text = text[:zero]
	}
	if len(text) > 0 && text[len(text)-1] != '\n' {
		return fail("the last line is incomplete (torn write or cut file)")
	}
	lines := strings.Split(string(text), "\n")
	lines = lines[:len(lines)-1]
	if len(lines) == 0 {
		return fail("the segment is empty (no anchor checkpoint)")
	}
	var headSeq uint64
	var headHash string
	for i, line := range lines {
		at := fmt.Sprintf("line %d", i+1)
		if strings.HasPrefix(line, `{"checkpoint":`) {
			var wrap struct {
				Checkpoint map[string]json.RawMessage `json:"checkpoint"`
			}
			if err := json.Unmarshal([]byte(line), &wrap); err != nil || wrap.Checkpoint == nil {
				return fail(at + ": checkpoint line is not valid JSON")
			}
			cp := wrap.Checkpoint
			var schema, kind, hash string
			var seq uint64
			_ = json.Unmarshal(cp["schema_id"], &schema)
			_ = json.Unmarshal(cp["kind"], &kind)
			if schema != "gait.tracelog.checkpoint" {
				return fail(at + ": not a gait.tracelog.checkpoint")
			}
			if _, errText := verifySigned(cp, pub, kid); errText != "" {
				return fail(at + ": checkpoint " + errText)
			}
			if json.Unmarshal(cp["seq"], &seq) != nil || json.Unmarshal(cp["hash"], &hash) != nil || !hex64.MatchString(hash) {
				return fail(at + ": checkpoint seq/hash malformed")
			}
			if i == 0 {
				if kind != "anchor" {
					return fail(at + ": a segment must start with an anchor checkpoint")
				}
				sv.AnchorSeq, sv.AnchorHash, headSeq, headHash = seq, hash, seq, hash
			} else {
				if kind == "anchor" {
					return fail(at + ": anchor checkpoint after the first line")
				}
				if seq != headSeq || hash != headHash {
					return fail(fmt.Sprintf("%s: checkpoint does not name the chain head (seq %d)", at, headSeq))
				}
			}
			sv.Checkpoints++
			sv.Sealed = kind == "close" || kind == "seal"
			sv.LastHash = headHash
			continue
		}
		if i == 0 {
			return fail(at + ": a segment must start with an anchor checkpoint")
		}
		m := entryLine.FindStringSubmatch(line)
		if m == nil {
			return fail(at + ": not an entry line in the {seq,prev,hash,record} layout")
		}
		seq, _ := strconv.ParseUint(m[1], 10, 64)
		prev, hash, record := m[2], m[3], m[4]
		if seq != headSeq+1 {
			return fail(fmt.Sprintf("%s: sequence %d does not follow %d", at, seq, headSeq))
		}
		if prev != headHash {
			return fail(at + ": prev does not match the previous hash")
		}
		if EntryHashOf(prev, seq, []byte(record)) != hash {
			return fail(fmt.Sprintf("%s: entry %d hash mismatch: the record or the entry was modified", at, seq))
		}
		if rv := VerifyTraceRecord([]byte(record), pub); !rv.OK {
			return fail(fmt.Sprintf("%s: record %d: %s", at, seq, rv.Error))
		}
		if sv.Entries == 0 {
			sv.FirstSeq = seq
		}
		headSeq, headHash = seq, hash
		sv.LastSeq, sv.LastHash = seq, hash
		sv.Entries++
		sv.Sealed = false
	}
	sv.OK = true
	return sv
}
