package gait_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gait "github.com/gait-gate/gait-gate/clients/go"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func checkWant(t *testing.T, d gait.Decision, executed bool, want caseWant) {
	t.Helper()
	if d.Verdict != want.Verdict || d.FailClosed != want.FailClosed {
		t.Fatalf("decision %+v: want verdict %s fail_closed %v", d, want.Verdict, want.FailClosed)
	}
	if d.Allowed() != (want.Verdict == "allow" && !want.FailClosed) {
		t.Fatalf("Allowed() = %v for %+v", d.Allowed(), d)
	}
	if want.ReasonCodes != nil && !slices.Equal(d.ReasonCodes, want.ReasonCodes) {
		t.Fatalf("reason codes %v, want %v", d.ReasonCodes, want.ReasonCodes)
	}
	for _, r := range want.ReasonCodesInclude {
		if !slices.Contains(d.ReasonCodes, r) {
			t.Fatalf("reason codes %v lack %s", d.ReasonCodes, r)
		}
	}
	if want.ErrorReason != nil && d.ErrorReason != *want.ErrorReason {
		t.Fatalf("error reason %q, want %q (%+v)", d.ErrorReason, *want.ErrorReason, d)
	}
	if executed != want.Executed {
		t.Fatalf("executed = %v, want %v", executed, want.Executed)
	}
}

func runCase(t *testing.T, c conformanceCase, target, operatorTarget string) {
	var hooked []gait.Decision
	opts := []gait.Option{gait.WithTarget(target), gait.WithLogger(quiet), gait.WithFailClosedHook(func(d gait.Decision) { hooked = append(hooked, d) })}
	if c.Token != "" {
		opts = append(opts, gait.WithToken(c.Token))
	}
	client, err := gait.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	ran := false
	start := time.Now()
	v, d, err := gait.Guard(ctx, client, c.Call.toCall(t), func(context.Context, gait.Decision) (string, error) {
		ran = true
		return "tool result", nil
	})
	elapsed := time.Since(start)
	if c.Fault != "" || c.Fake == "stale" {
		t.Logf("[fail-closed latency] go %s: first call %.2f ms", c.Name, float64(elapsed.Microseconds())/1000)
	}
	checkWant(t, d, ran, c.Want)
	if ran {
		if err != nil || v != "tool result" {
			t.Fatalf("guard returned %q, %v", v, err)
		}
	} else if !errors.Is(err, gait.ErrNotAllowed) {
		t.Fatalf("guard error %v, want ErrNotAllowed", err)
	}
	wantFC := uint64(0)
	if c.Want.FailClosed {
		wantFC = 1
	}
	if client.FailClosedTotal() != wantFC || uint64(len(hooked)) != wantFC {
		t.Fatalf("fail-closed total %d, hooked %d, want %d", client.FailClosedTotal(), len(hooked), wantFC)
	}
	if c.Want.FailClosed && client.FailClosedCounts()[c.Want.ReasonCodes[0]] != 1 {
		t.Fatalf("counts %v", client.FailClosedCounts())
	}
	if c.Then == "grant_approval" {
		if d.ApprovalRequestID == "" {
			t.Fatal("require_approval decision without approval_request_id")
		}
		op, err := gait.New(gait.WithTarget(operatorTarget), gait.WithTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer op.Close()
		granted, err := op.Approve(ctx, d.ApprovalRequestID, gait.Grant{Approver: "ops@example.com", ReasonCode: "conformance_grant", TTL: 10 * time.Minute})
		if err != nil || granted.TokenJSON == "" || granted.Request == nil || granted.Request.State != gait.ApprovalGranted {
			t.Fatalf("approve: %+v %v", granted, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		after := client.EvaluateAfterApproval(wctx, c.Call.toCall(t), d, 20*time.Millisecond)
		checkWant(t, after, after.Allowed(), *c.WantAfter)
	}
}

func TestConformanceFaultsAndFakes(t *testing.T) {
	for _, c := range loadCases(t) {
		if c.Fake == "" && c.Fault == "" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			dir := shortTempDir(t)
			if c.Fault == "absent_socket" {
				runCase(t, c, "unix://"+filepath.Join(dir, "absent.sock"), "")
				return
			}
			f := startFake(t, c.Fake, dir, c.TCP, c.ServerToken)
			defer f.stop()
			runCase(t, c, f.target, "")
		})
	}
}

func TestConformanceRealServer(t *testing.T) {
	for _, c := range loadCases(t) {
		if c.Fake != "" || c.Fault != "" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			s := sharedServer(t)
			runCase(t, c, "unix://"+s.socket, "unix://"+s.operatorSocket)
		})
	}
}

func TestExportAndVerifyTraces(t *testing.T) {
	s := sharedServer(t)
	ctx := context.Background()
	c, err := gait.New(gait.WithTarget("unix://"+s.socket), gait.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := c.Evaluate(ctx, gait.Call{Intent: map[string]any{"tool_name": "tool.read", "args": map[string]any{"path": "/x"},
		"context": map[string]any{"identity": "v", "workspace": "/w", "risk_class": "low"}}})
	if d.Verdict != "allow" {
		t.Fatalf("%+v", d)
	}
	info, err := c.GetServerInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := gait.DecodePublicKey([]byte(info.GetPublicKey()))
	if err != nil || gait.KeyIDOf(pub) != info.GetKeyId() {
		t.Fatalf("public key: %v", err)
	}
	it, err := c.ExportTraces(ctx, 0, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var entries []gait.ChainEntry
	found := false
	for {
		e, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		found = found || e.GetTraceId() == d.TraceID
		entries = append(entries, gait.ChainEntry{Sequence: e.GetSequence(), RecordJSON: e.GetRecordJson(), PrevHash: e.GetPrevHash(), EntryHash: e.GetEntryHash()})
	}
	if len(entries) == 0 || !found {
		t.Fatalf("export: %d entries, decision trace found %v", len(entries), found)
	}
	if cv := gait.VerifyTraceEntries(entries, pub, ""); !cv.OK || cv.Count != len(entries) {
		t.Fatalf("chain: %+v", cv)
	}
	tampered := strings.Replace(entries[0].RecordJSON, `"verdict":"`, `"verdict":"x`, 1)
	if rv := gait.VerifyTraceRecord([]byte(tampered), pub); rv.OK || rv.Error != "signed_digest mismatch" {
		t.Fatalf("tampered record: %+v", rv)
	}
	names, _ := os.ReadDir(filepath.Join(s.dir, "traces"))
	var seg string
	for _, n := range names {
		if regexp.MustCompile(`^segment-\d{20}\.jsonl$`).MatchString(n.Name()) {
			seg = filepath.Join(s.dir, "traces", n.Name())
		}
	}
	text, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	if sv := gait.VerifyTraceSegment(text, pub); !sv.OK || sv.AnchorSeq != 0 || sv.Entries < len(entries) {
		t.Fatalf("segment: %+v", sv)
	}
	// the segment as written, without the preallocated zero tail a running server's active segment has
	if zero := bytes.IndexByte(text, 0); zero >= 0 {
		text = text[:zero]
	}
	if sv := gait.VerifyTraceSegment(append(append([]byte{}, text...), make([]byte, 4096)...), pub); !sv.OK {
		t.Fatalf("segment with a zero-filled tail: %+v", sv)
	}
	bad := []byte(strings.Replace(string(text), `"tool_name":"tool.read"`, `"tool_name":"tool.reed"`, 1))
	if sv := gait.VerifyTraceSegment(bad, pub); sv.OK || !strings.Contains(sv.Error, "hash mismatch") {
		t.Fatalf("tampered segment: %+v", sv)
	}
}
