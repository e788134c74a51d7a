package gait_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gait "github.com/gait-gate/gait-gate/clients/go"
)

// Approvals with plain values against the real server: list, deny, get, wait, approve, approve digests, and the
// agent socket refusing to approve.
func TestApprovalsWithPlainValues(t *testing.T) {
	s := sharedServer(t)
	ctx := context.Background()
	agent, err := gait.New(gait.WithTarget("unix://"+s.socket), gait.WithTimeout(5*time.Second), gait.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	op, err := gait.New(gait.WithTarget("unix://"+s.operatorSocket), gait.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	write := func(path string) gait.Call {
		return gait.Call{Intent: gait.Intent{
			ToolName: "tool.write",
			Args:     map[string]any{"path": path, "content": "x"},
			Targets:  []gait.IntentTarget{{Kind: gait.KindPath, Value: path, Operation: gait.OpWrite}},
			Context:  gait.IntentContext{Identity: "carol-go", Workspace: "/workspace", RiskClass: gait.RiskLow},
		}}
	}
	d1 := agent.Evaluate(ctx, write("/workspace/deny-go.txt"))
	d2 := agent.Evaluate(ctx, write("/workspace/grant-go.txt"))
	if d1.Verdict != "require_approval" || d2.Verdict != "require_approval" {
		t.Fatalf("%v / %v", d1, d2)
	}

	page, err := op.ListApprovals(ctx, gait.ListApprovalsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(page.Requests, func(r gait.ApprovalRequest) bool { return r.ApprovalRequestID == d1.ApprovalRequestID })
	if i < 0 {
		t.Fatalf("pending list lacks %s: %+v", d1.ApprovalRequestID, page)
	}
	r1 := page.Requests[i]
	if r1.State != gait.ApprovalPending || r1.ToolName != "tool.write" || r1.Identity != "carol-go" || r1.IntentDigest != d1.IntentDigest || r1.CreatedAt.IsZero() {
		t.Fatalf("%+v", r1)
	}

	denied, err := op.Deny(ctx, d1.ApprovalRequestID, gait.Denial{Approver: "ops@example.com", Reason: "not on a Friday"})
	if err != nil || denied.Request == nil || denied.Request.State != gait.ApprovalDenied || denied.Request.DenyReason != "not on a Friday" || denied.TokenJSON != "" {
		t.Fatalf("deny: %+v %v", denied, err)
	}
	if s, want := fmt.Sprintf("%v", denied), d1.ApprovalRequestID+` denied tool=tool.write identity=carol-go approvals=0/1 denied_by=ops@example.com reason="not on a Friday" expires=`; !strings.HasPrefix(s, want) {
		t.Fatalf("denial prints %q, want prefix %q", s, want)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if after := agent.EvaluateAfterApproval(wctx, write("/workspace/deny-go.txt"), d1, 10*time.Millisecond); after.Allowed() || after.String() != d1.String() {
		t.Fatalf("after a denial: %v", after)
	}
	if st, err := agent.GetApproval(ctx, d1.ApprovalRequestID); err != nil || st.Request.State != gait.ApprovalDenied {
		t.Fatalf("%+v %v", st, err)
	}
	deniedPage, err := op.ListApprovals(ctx, gait.ListApprovalsOptions{States: []gait.ApprovalState{gait.ApprovalDenied}})
	if err != nil || !slices.ContainsFunc(deniedPage.Requests, func(r gait.ApprovalRequest) bool { return r.ApprovalRequestID == d1.ApprovalRequestID }) {
		t.Fatalf("%+v %v", deniedPage, err)
	}

	granted, err := op.Approve(ctx, d2.ApprovalRequestID, gait.Grant{Approver: "ops@example.com", ReasonCode: "ticket_7", TTL: 2 * time.Minute})
	if err != nil || granted.Request == nil || granted.Request.State != gait.ApprovalGranted || granted.TokenExpiresAt.IsZero() {
		t.Fatalf("approve: %+v %v", granted, err)
	}
	var token map[string]any
	if err := json.Unmarshal([]byte(granted.TokenJSON), &token); err != nil || token["reason_code"] != "ticket_7" || token["intent_digest"] != d2.IntentDigest {
		t.Fatalf("token %v %v", token, err)
	}
	if st, err := agent.GetApproval(ctx, d2.ApprovalRequestID); err != nil || st.Request.State != gait.ApprovalGranted || !slices.Equal(st.TokenJSONs, []string{granted.TokenJSON}) {
		t.Fatalf("%+v %v", st, err)
	}
	if allowed := agent.EvaluateAfterApproval(wctx, write("/workspace/grant-go.txt"), d2, 10*time.Millisecond); !allowed.Allowed() || !slices.Contains(allowed.ReasonCodes, "approval_granted") {
		t.Fatalf("after a grant: %v", allowed)
	}

	minted, err := op.ApproveDigests(ctx, gait.DigestBinding{IntentDigest: d1.IntentDigest, PolicyDigest: d1.PolicyDigest},
		gait.Grant{Approver: "ops@example.com", ReasonCode: "cli", TTL: time.Minute, Scopes: []string{"tool:tool.write"}})
	if err != nil || minted.Request != nil || !strings.Contains(minted.TokenJSON, d1.IntentDigest) {
		t.Fatalf("mint: %+v %v", minted, err)
	}

	_, err = agent.Approve(ctx, d2.ApprovalRequestID, gait.Grant{Approver: "agent", ReasonCode: "self", TTL: time.Minute})
	var ge *gait.GateError
	if !errors.As(err, &ge) || ge.Cause != "permission_denied" || ge.ErrorReason != "OPERATOR_ONLY" {
		t.Fatalf("agent socket approve: %v", err)
	}
}
