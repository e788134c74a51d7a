package gait_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	gait "github.com/gait-gate/gait-gate/clients/go"
	gatev1 "github.com/gait-gate/gait-gate/clients/go/gen/gait/gate/v1"
)

var readCall = gait.Call{Intent: map[string]any{"tool_name": "tool.read", "args": map[string]any{},
	"context": map[string]any{"identity": "a", "workspace": "/w", "risk_class": "low"}}}

func TestResolveTargetPrecedence(t *testing.T) {
	t.Setenv(gait.SocketEnv, "")
	def, _ := gait.ResolveTarget("")
	wantDef, _ := filepath.Abs(gait.DefaultSocketPath)
	if def.SocketPath != wantDef || def.URI != "unix://"+wantDef {
		t.Fatalf("default target %+v", def)
	}
	t.Setenv(gait.SocketEnv, "/run/g.sock")
	if env, _ := gait.ResolveTarget(""); env.URI != "unix:///run/g.sock" {
		t.Fatalf("env target %+v", env)
	}
	if arg, _ := gait.ResolveTarget("unix:///a/b.sock"); arg.SocketPath != "/a/b.sock" {
		t.Fatalf("explicit target %+v", arg)
	}
	if tcp, _ := gait.ResolveTarget("127.0.0.1:8787"); tcp.URI != "127.0.0.1:8787" || tcp.SocketPath != "" {
		t.Fatalf("tcp target %+v", tcp)
	}
	if _, err := gait.ResolveTarget("unix://"); err == nil {
		t.Fatal("empty socket path accepted")
	}
}

func TestVerdictMapping(t *testing.T) {
	if d := gait.DecisionFromResponse(&gatev1.EvaluateResponse{}); !d.FailClosed || d.ReasonCodes[0] != "fail_closed_unspecified_verdict" || d.Allowed() {
		t.Fatalf("unspecified: %+v", d)
	}
	if d := gait.DecisionFromResponse(&gatev1.EvaluateResponse{Verdict: 42}); d.ReasonCodes[0] != "fail_closed_unknown_verdict" || d.Allowed() {
		t.Fatalf("unknown: %+v", d)
	}
	if d := gait.DecisionFromResponse(&gatev1.EvaluateResponse{Verdict: gatev1.Verdict_VERDICT_DRY_RUN}); d.Verdict != "dry_run" || d.Allowed() || d.FailClosed {
		t.Fatalf("dry_run: %+v", d)
	}
	if d := gait.DecisionFromResponse(&gatev1.EvaluateResponse{Verdict: gatev1.Verdict_VERDICT_ALLOW}); !d.Allowed() {
		t.Fatalf("allow: %+v", d)
	}
}

func TestInvalidCallBlocksLocallyAndIsCounted(t *testing.T) {
	c, err := gait.New(gait.WithTarget("unix:///nonexistent/x.sock"), gait.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, call := range []gait.Call{{}, {Intent: map[string]any{"bogus": 1}}, {Intent: map[string]any{}, ToolCall: "{}"}} {
		if d := c.Evaluate(ctx, call); d.ReasonCodes[0] != "fail_closed_invalid_argument" || d.Allowed() {
			t.Fatalf("%+v: %+v", call, d)
		}
	}
	if c.FailClosedCounts()["fail_closed_invalid_argument"] != 3 {
		t.Fatalf("counts %v", c.FailClosedCounts())
	}
}

func TestDeadlineOverrideAndCancellation(t *testing.T) {
	f := startFake(t, "hang", shortTempDir(t), false, nil)
	defer f.stop()
	c, err := gait.New(gait.WithTarget(f.target), gait.WithLogger(quiet), gait.WithTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := c.Evaluate(context.Background(), readCall, gait.CallTimeout(50*time.Millisecond)); d.Cause != "deadline_exceeded" || d.StatusCode != "DEADLINE_EXCEEDED" {
		t.Fatalf("deadline: %+v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	ran := false
	_, d, err := gait.Guard(ctx, c, readCall, func(context.Context, gait.Decision) (int, error) { ran = true; return 1, nil }, gait.CallTimeout(0))
	if ran || d.ReasonCodes[0] != "fail_closed_cancelled" || !errors.Is(err, gait.ErrNotAllowed) {
		t.Fatalf("cancel: ran=%v %+v %v", ran, d, err)
	}
}

func signRecord(t *testing.T, priv ed25519.PrivateKey, rec map[string]any) []byte {
	t.Helper()
	body, _ := json.Marshal(rec)
	digest, err := gait.DigestJCS(body)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := hex.DecodeString(digest)
	pub := priv.Public().(ed25519.PublicKey)
	kid := sha256.Sum256(pub)
	rec["signature"] = map[string]any{"alg": "ed25519", "key_id": hex.EncodeToString(kid[:]), "sig": base64.StdEncoding.EncodeToString(ed25519.Sign(priv, d)), "signed_digest": digest}
	out, _ := json.Marshal(rec)
	return out
}

func TestVerifyRecordAndChain(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	rec := signRecord(t, priv, map[string]any{"schema_id": "gait.gate.trace", "trace_id": "t1", "verdict": "allow", "latency_ms": 1.5})
	key, err := gait.DecodePublicKey([]byte(base64.StdEncoding.EncodeToString(pub)))
	if err != nil {
		t.Fatal(err)
	}
	if rv := gait.VerifyTraceRecord(rec, key); !rv.OK || rv.TraceID != "t1" || rv.Verdict != "allow" {
		t.Fatalf("good record: %+v", rv)
	}
	var m map[string]any
	_ = json.Unmarshal(rec, &m)
	m["verdict"] = "block"
	bad, _ := json.Marshal(m)
	if rv := gait.VerifyTraceRecord(bad, key); rv.Error != "signed_digest mismatch" {
		t.Fatalf("tampered: %+v", rv)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if rv := gait.VerifyTraceRecord(rec, other); rv.Error != "key id mismatch" {
		t.Fatalf("other key: %+v", rv)
	}
	prev := "0000000000000000000000000000000000000000000000000000000000000000"
	var entries []gait.ChainEntry
	for i := uint64(1); i <= 3; i++ {
		text := string(signRecord(t, priv, map[string]any{"schema_id": "gait.gate.trace", "trace_id": "t"}))
		h := gait.EntryHashOf(prev, i, []byte(text))
		entries = append(entries, gait.ChainEntry{Sequence: i, RecordJSON: text, PrevHash: prev, EntryHash: h})
		prev = h
	}
	if cv := gait.VerifyTraceEntries(entries, key, ""); !cv.OK || cv.Count != 3 || cv.HeadHash != prev {
		t.Fatalf("chain: %+v", cv)
	}
	if cv := gait.VerifyTraceEntries([]gait.ChainEntry{entries[0], entries[2]}, key, ""); cv.OK {
		t.Fatalf("gap accepted: %+v", cv)
	}
	if sv := gait.VerifyTraceSegment([]byte(`{"seq":1}`), key); sv.OK {
		t.Fatal("torn segment accepted")
	}
}
