package gait_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	gait "github.com/gait-gate/gait-gate/clients/go"
	gatev1 "github.com/gait-gate/gait-gate/clients/go/gen/gait/gate/v1"
)

// Typed intents, raw intent JSON checks, readable decisions and plain-value approval helpers (issue 13). The
// compile-time rejection of a misspelt field is in packaging_test.go (it needs a separate module to compile).

// structPaths lists the JSON field paths of a struct type and, recursively, of the intent structs it holds.
func structPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		out = append(out, prefix+name)
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft.PkgPath() == t.PkgPath() {
			out = append(out, structPaths(ft, prefix+name+".")...)
		}
	}
	return out
}

func protoPaths(md protoreflect.MessageDescriptor, prefix string) []string {
	var out []string
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		out = append(out, prefix+string(fd.Name()))
		if sub := fd.Message(); sub != nil && !strings.HasPrefix(string(sub.FullName()), "google.protobuf.") {
			out = append(out, protoPaths(sub, prefix+string(fd.Name())+".")...)
		}
	}
	return out
}

func TestTypedFieldSetIsTheProtoFieldSetAtEveryLevel(t *testing.T) {
	got := structPaths(reflect.TypeOf(gait.Intent{}), "")
	want := protoPaths((&gatev1.IntentRequest{}).ProtoReflect().Descriptor(), "")
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("typed intent fields differ from IntentRequest:\n got %v\nwant %v", got, want)
	}
}

// fill sets every field of a struct (recursively) to a non-zero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i))
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Map:
		v.Set(reflect.ValueOf(map[string]any{"k": "v"}))
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32:
		v.SetInt(7)
	default:
		panic(fmt.Sprintf("fill: %s", v.Type()))
	}
}

// valid replaces the closed-set values fill left as "x" with allowed ones.
func valid(i *gait.Intent) {
	fix := func(ts []gait.IntentTarget, ps []gait.ArgProvenance) {
		for n := range ts {
			ts[n].Kind, ts[n].EndpointClass, ts[n].DiscoveryMethod = gait.KindPath, gait.EndpointFSRead, gait.DiscoveryMCP
		}
		for n := range ps {
			ps[n].Source = gait.SourceUser
		}
	}
	fix(i.Targets, i.ArgProvenance)
	for n := range i.Script.Steps {
		fix(i.Script.Steps[n].Targets, i.Script.Steps[n].ArgProvenance)
	}
	c := &i.Context
	c.Phase, c.CredentialSource, c.CredentialAccessType, c.ContextEvidenceMode = gait.PhaseApply, "env", "jit", "required"
	c.Sandbox.NetworkMode, c.Sandbox.EnvExposureMode, c.Sandbox.FilesystemIsolation, c.Sandbox.UserMode = "disabled", "none", "workspace", "default"
}

// assertAllSet checks that every field of the message is populated, at every level (lists: the first element).
func assertAllSet(t *testing.T, m protoreflect.Message, path string) {
	t.Helper()
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !m.Has(fd) {
			t.Errorf("%s%s is not set", path, fd.Name())
			continue
		}
		sub := fd.Message()
		if sub == nil || strings.HasPrefix(string(sub.FullName()), "google.protobuf.") {
			continue
		}
		if fd.IsList() {
			assertAllSet(t, m.Get(fd).List().Get(0).Message(), path+string(fd.Name())+"[0].")
		} else {
			assertAllSet(t, m.Get(fd).Message(), path+string(fd.Name())+".")
		}
	}
}

func TestEveryTypedFieldReachesTheProto(t *testing.T) {
	var full gait.Intent
	fill(reflect.ValueOf(&full).Elem())
	valid(&full)
	req, err := gait.BuildEvaluateRequest(gait.Call{Intent: full})
	if err != nil {
		t.Fatal(err)
	}
	assertAllSet(t, req.GetIntent().ProtoReflect(), "")
	if got := req.GetIntent().GetCreatedAt().AsTime(); !got.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("created_at %v", got)
	}
	// a pointer works the same
	if _, err := gait.BuildEvaluateRequest(gait.Call{Intent: &full}); err != nil {
		t.Fatal(err)
	}
}

func TestTypedIntentJSONIsGaitsIntentJSON(t *testing.T) {
	i := gait.Intent{
		ToolName: "tool.read",
		Args:     map[string]any{"path": "/workspace/a"},
		Targets:  []gait.IntentTarget{{Kind: gait.KindPath, Value: "/workspace/a", Operation: gait.OpRead}},
		Context:  gait.IntentContext{Identity: "alice", Workspace: "/workspace", RiskClass: gait.RiskLow},
	}
	b, _ := json.Marshal(i)
	want := `{"tool_name":"tool.read","args":{"path":"/workspace/a"},"targets":[{"kind":"path","value":"/workspace/a","operation":"read"}],"context":{"identity":"alice","workspace":"/workspace","risk_class":"low"}}`
	if string(b) != want {
		t.Fatalf("json\n got %s\nwant %s", b, want)
	}
	req, err := gait.BuildEvaluateRequest(gait.Call{Intent: i, RunID: "r1"})
	if err != nil || req.GetIntent().GetTargets()[0].GetOperation() != "read" || req.GetRunId() != "r1" {
		t.Fatalf("%v %v", req, err)
	}
}

func TestClosedSetValuesAreCheckedBeforeSending(t *testing.T) {
	ctx := gait.IntentContext{Identity: "a", Workspace: "/w", RiskClass: "low"}
	cases := []struct {
		intent gait.Intent
		want   string
	}{
		{gait.Intent{ToolName: "t", Context: ctx, Targets: []gait.IntentTarget{{Kind: "pth", Value: "/a"}}},
			`targets[0].kind: unsupported value "pth" (did you mean "path"?); allowed: path, url, host, repo, bucket, table, queue, topic, other`},
		{gait.Intent{ToolName: "t", Context: gait.IntentContext{Identity: "a", Workspace: "/w", RiskClass: "low", Phase: "applied"}},
			`context.phase: unsupported value "applied"; allowed: plan, apply`},
		{gait.Intent{ToolName: "t", Context: ctx, ArgProvenance: []gait.ArgProvenance{{ArgPath: "a", Source: "usr"}}},
			`arg_provenance[0].source: unsupported value "usr" (did you mean "user"?)`},
		{gait.Intent{ToolName: "t", Context: gait.IntentContext{Identity: "a", Workspace: "/w", RiskClass: "low", Sandbox: &gait.Sandbox{NetworkMode: "egress-allowlist"}}},
			`context.sandbox.network_mode: unsupported value "egress-allowlist" (did you mean "egress_allowlist"?)`},
		{gait.Intent{ToolName: "t", Context: ctx, Script: &gait.Script{Steps: []gait.ScriptStep{{ToolName: "s", Targets: []gait.IntentTarget{{Kind: "bukket", Value: "b"}}}}}},
			`script.steps[0].targets[0].kind: unsupported value "bukket" (did you mean "bucket"?)`},
	}
	c, err := gait.New(gait.WithTarget("unix:///nonexistent/x.sock"), gait.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range cases {
		d := c.Evaluate(context.Background(), gait.Call{Intent: tc.intent})
		if d.ReasonCodes[0] != "fail_closed_invalid_argument" || !strings.HasPrefix(d.Message, "invalid call: intent: "+tc.want) {
			t.Errorf("got %q, want prefix %q", d.Message, "invalid call: intent: "+tc.want)
		}
	}
	// the server lowercases these, so the check does too; free text stays free
	ok := gait.Intent{ToolName: "t", Context: gait.IntentContext{Identity: "a", Workspace: "/w", RiskClass: "elevated"},
		Targets: []gait.IntentTarget{{Kind: "PATH", Value: "/a", Operation: "deploy"}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestRawIntentJSONIsCheckedKeyByKey(t *testing.T) {
	for raw, want := range map[string]string{
		`{"tool_nmae":"x"}`:                                         `unknown field "tool_nmae" (did you mean "tool_name"?)`,
		`{"tool_name":"x","context":{"identiy":"a"}}`:               `unknown field "context.identiy" (did you mean "identity"?)`,
		`{"targets":[{"kind":"path","value":"/a"},{"vaule":"/b"}]}`: `unknown field "targets[1].vaule" (did you mean "value"?)`,
		`{"script":{"steps":[{"tool_nam":"x"}]}}`:                   `unknown field "script.steps[0].tool_nam" (did you mean "tool_name"?)`,
		`{"zzzzzz":1}`: `unknown field "zzzzzz"`,
		`[]`:           `intent must be a JSON object`,
	} {
		if err := gait.CheckIntentJSON([]byte(raw)); err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", raw, err, want)
		}
	}
	if err := gait.CheckIntentJSON([]byte(`{"args":{"anything":{"at":["all"]}},"context":{"auth_context":{"x":1}},"toolName":"x"}`)); err != nil {
		t.Fatal(err)
	}
	c, _ := gait.New(gait.WithTarget("unix:///nonexistent/x.sock"), gait.WithLogger(quiet))
	defer c.Close()
	d := c.Evaluate(context.Background(), gait.Call{Intent: map[string]any{"tool_nmae": "tool.read"}})
	if d.Message != `invalid call: intent: unknown field "tool_nmae" (did you mean "tool_name"?)` {
		t.Fatalf("%q", d.Message)
	}
}

func TestDecisionsPrintReadably(t *testing.T) {
	allow := gait.DecisionFromResponse(&gatev1.EvaluateResponse{Verdict: gatev1.Verdict_VERDICT_ALLOW, ReasonCodes: []string{"read_ok"}, TraceId: "0a1b2c", TraceSequence: 7})
	if s := allow.String(); s != "allow [read_ok] trace=0a1b2c" {
		t.Fatalf("%q", s)
	}
	for _, format := range []string{"%v", "%+v", "%s"} {
		if s := fmt.Sprintf(format, allow); s != "allow [read_ok] trace=0a1b2c" {
			t.Fatalf("%s: %q", format, s)
		}
	}
	failed := gait.FailClosedDecision("invalid_argument", "context.identity is required")
	failed.ErrorReason = "INVALID_INTENT"
	if s := fmt.Sprint(failed); s != "block (fail closed: invalid_argument, INVALID_INTENT) [fail_closed_invalid_argument]: context.identity is required" {
		t.Fatalf("%q", s)
	}
	pending := gait.DecisionFromResponse(&gatev1.EvaluateResponse{Verdict: gatev1.Verdict_VERDICT_REQUIRE_APPROVAL, ReasonCodes: []string{"write_needs_approval"},
		Violations: []string{"approval_not_granted"}, ApprovalRequestId: "apr_1"})
	if s := fmt.Sprint(pending); s != "require_approval [write_needs_approval] violations=[approval_not_granted] approval_request=apr_1" {
		t.Fatalf("%q", s)
	}
	if allow.Response.GetTraceSequence() != 7 {
		t.Fatal("raw response lost")
	}
	// in a slice or a struct, too
	if s := fmt.Sprintf("%v", []gait.Decision{allow}); s != "[allow [read_ok] trace=0a1b2c]" {
		t.Fatalf("%q", s)
	}
}

func TestApprovalHelpersTakePlainValues(t *testing.T) {
	req, err := gait.GrantRequest("apr_1", gait.Grant{Approver: "ops", ReasonCode: "ticket_1", TTL: 90*time.Second + 500*time.Millisecond, Scopes: []string{"tool:tool.write"}, MaxTargets: 2})
	if err != nil {
		t.Fatal(err)
	}
	if req.GetApprovalRequestId() != "apr_1" || req.GetDecision() != gatev1.ApprovalDecision_APPROVAL_DECISION_GRANT ||
		req.GetTtl().GetSeconds() != 90 || req.GetTtl().GetNanos() != 500_000_000 || req.GetMaxTargets() != 2 {
		t.Fatalf("%v", protojson.Format(req))
	}
	c, _ := gait.New(gait.WithTarget("unix:///nonexistent/x.sock"), gait.WithLogger(quiet))
	defer c.Close()
	ctx := context.Background()
	for _, ttl := range []time.Duration{0, -time.Second} {
		_, err := c.Approve(ctx, "apr_1", gait.Grant{Approver: "ops", ReasonCode: "r", TTL: ttl})
		var ge *gait.GateError
		if !errors.As(err, &ge) || ge.Cause != "invalid_argument" {
			t.Fatalf("ttl %v: %v", ttl, err)
		}
	}
	if _, err := c.ListApprovals(ctx, gait.ListApprovalsOptions{States: []gait.ApprovalState{"pendng"}}); err == nil || !strings.Contains(err.Error(), `unknown approval state "pendng"`) {
		t.Fatalf("%v", err)
	}
	_, err = c.Deny(ctx, "apr_1", gait.Denial{Approver: "ops"})
	var ge *gait.GateError
	if !errors.As(err, &ge) || ge.Cause != "unavailable" {
		t.Fatalf("deny to a missing socket: %v", err)
	}
	a := gait.ApprovalFrom(&gatev1.ApproveResponse{Request: &gatev1.ApprovalRequestInfo{ApprovalRequestId: "apr_1", State: 42}})
	if a.Request.State != gait.ApprovalUnspecified {
		t.Fatalf("unknown state read as %q", a.Request.State)
	}
}
