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
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	gait "github.com/gait-gate/gait-gate/clients/go"
	gatev1 "github.com/gait-gate/gait-gate/clients/go/gen/gait/gate/v1"
)

var readCall = gait.Call{Intent: map[string]any{"tool_name": "tool.read", "args": map[string]any{},
	"context": map[string]any{"identity": "a", "workspace": "/w", "risk_class": "low"}}}

type socketRuleCase struct {
	Name     string            `yaml:"name"`
	Explicit string            `yaml:"explicit"`
	Env      map[string]string `yaml:"env"`
	UID      int               `yaml:"uid"`
	Cwd      string            `yaml:"cwd"`
	Want     struct {
		URI        string `yaml:"uri"`
		SocketPath string `yaml:"socket_path"`
		Source     string `yaml:"source"`
	} `yaml:"want"`
}

// explicit > $GAIT_SOCKET > $XDG_RUNTIME_DIR/gait/gate.sock (absolute only) > /tmp/gait-<uid>/gate.sock, from the
// table the three clients share (test/conformance/clients/socket-rule.yaml).
func TestResolveTargetRule(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(conformance, "socket-rule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int              `yaml:"version"`
		Cases   []socketRuleCase `yaml:"cases"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 || len(doc.Cases) < 10 {
		t.Fatalf("socket-rule.yaml: want version 1 and cases")
	}
	for _, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			getenv := func(k string) string { return c.Env[k] }
			got, err := gait.ResolveTargetFrom(c.Explicit, getenv, c.Cwd, c.UID)
			want := gait.Target{URI: c.Want.URI, SocketPath: c.Want.SocketPath, Source: c.Want.Source}
			if err != nil || got != want {
				t.Fatalf("got %+v, %v; want %+v", got, err, want)
			}
			if c.Want.Source == gait.SourceDefault {
				if p := gait.DefaultSocketPathFrom(getenv, c.UID); p != c.Want.SocketPath {
					t.Fatalf("DefaultSocketPath %q, want %q", p, c.Want.SocketPath)
				}
			}
		})
	}
}

func TestResolveTargetFromTheProcess(t *testing.T) {
	t.Setenv(gait.SocketEnv, "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Chdir(t.TempDir())
	want := fmt.Sprintf("/tmp/gait-%d/gate.sock", os.Getuid())
	if p := gait.DefaultSocketPath(); p != want {
		t.Fatalf("DefaultSocketPath() = %q, want %q (never the working directory)", p, want)
	}
	if def, _ := gait.ResolveTarget(""); def != (gait.Target{URI: "unix://" + want, SocketPath: want, Source: gait.SourceDefault}) {
		t.Fatalf("default target %+v", def)
	}
	t.Setenv("XDG_RUNTIME_DIR", "relative/dir")
	if p := gait.DefaultSocketPath(); p != want {
		t.Fatalf("relative XDG_RUNTIME_DIR not ignored: %q", p)
	}
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/4242")
	if p := gait.DefaultSocketPath(); p != "/run/user/4242/gait/gate.sock" {
		t.Fatalf("XDG default %q", p)
	}
	t.Setenv(gait.SocketEnv, "/run/g.sock")
	if env, _ := gait.ResolveTarget(""); env != (gait.Target{URI: "unix:///run/g.sock", SocketPath: "/run/g.sock", Source: gait.SourceEnv}) {
		t.Fatalf("env target %+v", env)
	}
	if arg, _ := gait.ResolveTarget("unix:///a/b.sock"); arg.SocketPath != "/a/b.sock" || arg.Source != gait.SourceExplicit {
		t.Fatalf("explicit target %+v", arg)
	}
	wd, _ := os.Getwd()
	if rel, _ := gait.ResolveTarget("./rel.sock"); rel.SocketPath != filepath.Join(wd, "rel.sock") {
		t.Fatalf("relative target %+v", rel)
	}
	if _, err := gait.ResolveTarget("unix://"); err == nil {
		t.Fatal("empty socket path accepted")
	}
}

const cannotConnectHint = "(is `gait mcp serve` running? start it, or set GAIT_SOCKET or pass the target to name the socket it listens on)"

// unreachable evaluates and reads server info against a target nobody serves: a fail-closed block with the
// unchanged reason code, and the same message from both.
func unreachable(t *testing.T, opts ...gait.Option) (gait.Decision, gait.Target) {
	t.Helper()
	c, err := gait.New(append([]gait.Option{gait.WithTimeout(5 * time.Second), gait.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := c.Evaluate(context.Background(), readCall)
	if d.Verdict != "block" || !d.FailClosed || len(d.ReasonCodes) != 1 || d.ReasonCodes[0] != "fail_closed_unavailable" ||
		d.Cause != "unavailable" || d.StatusCode != "UNAVAILABLE" || d.Allowed() {
		t.Fatalf("decision %+v", d)
	}
	_, err = c.GetServerInfo(context.Background())
	var ge *gait.GateError
	if !errors.As(err, &ge) || ge.Cause != "unavailable" || !strings.HasSuffix(ge.Message, cannotConnectHint) {
		t.Fatalf("GetServerInfo: %v", err)
	}
	if !strings.HasSuffix(d.Message, cannotConnectHint) {
		t.Fatalf("message %q", d.Message)
	}
	return d, c.Target()
}

func TestCannotConnectNamesTheSocketAndItsSource(t *testing.T) {
	dir := t.TempDir()
	t.Run("explicit", func(t *testing.T) {
		sock := filepath.Join(dir, "explicit.sock")
		d, _ := unreachable(t, gait.WithTarget("unix://"+sock))
		if want := "cannot connect to the gate server socket " + sock + " (passed as the target argument): "; !strings.HasPrefix(d.Message, want) {
			t.Fatalf("message %q, want prefix %q", d.Message, want)
		}
	})
	t.Run("env", func(t *testing.T) {
		sock := filepath.Join(dir, "env.sock")
		t.Setenv(gait.SocketEnv, sock)
		d, _ := unreachable(t)
		if want := "cannot connect to the gate server socket " + sock + " (from $GAIT_SOCKET): "; !strings.HasPrefix(d.Message, want) {
			t.Fatalf("message %q, want prefix %q", d.Message, want)
		}
	})
	t.Run("default", func(t *testing.T) {
		t.Setenv(gait.SocketEnv, "")
		t.Setenv("XDG_RUNTIME_DIR", dir)
		sock := filepath.Join(dir, "gait", "gate.sock")
		d, target := unreachable(t)
		if target != (gait.Target{URI: "unix://" + sock, SocketPath: sock, Source: gait.SourceDefault}) {
			t.Fatalf("target %+v", target)
		}
		want := "cannot connect to the gate server socket " + sock + " (the default socket: no target argument and GAIT_SOCKET unset): "
		if !strings.HasPrefix(d.Message, want) {
			t.Fatalf("message %q, want prefix %q", d.Message, want)
		}
	})
	t.Run("tcp", func(t *testing.T) {
		d, _ := unreachable(t, gait.WithTarget("127.0.0.1:1"))
		if want := "cannot connect to the gate server at 127.0.0.1:1 (passed as the target argument): "; !strings.HasPrefix(d.Message, want) {
			t.Fatalf("message %q, want prefix %q", d.Message, want)
		}
	})
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
	if sv := gait.VerifyTraceSegment(append([]byte("{\"seq\":1}\n\x00\x00"), []byte("x\n")...), key); sv.OK || !strings.Contains(sv.Error, "zero-filled tail") {
		t.Fatalf("data after a zero-filled tail accepted: %+v", sv)
	}
	if sv := gait.VerifyTraceSegment([]byte("{\"seq\":1}\x00\x00\x00"), key); sv.OK || !strings.Contains(sv.Error, "incomplete") {
		t.Fatalf("torn line before a zero-filled tail accepted: %+v", sv)
	}
	if sv := gait.VerifyTraceSegment([]byte(`{"seq":1}`), key); sv.OK {
		t.Fatal("torn segment accepted")
	}
}
