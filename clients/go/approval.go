package gait

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatev1 "github.com/gait-gate/gait-gate/clients/go/gen/gait/gate/v1"
)

// Approvals as plain values: what an operator passes to Approve / Deny (a time.Duration and strings, no protobuf
// Duration) and what approval reads return (state names and time.Time).

// ApprovalState is the life cycle of an approval request; ApprovalUnspecified is what a missing or unknown state
// reads as (never as granted).
type ApprovalState string

const (
	ApprovalPending     ApprovalState = "pending"
	ApprovalGranted     ApprovalState = "granted"
	ApprovalDenied      ApprovalState = "denied"
	ApprovalExpired     ApprovalState = "expired"
	ApprovalConsumed    ApprovalState = "consumed"
	ApprovalUnspecified ApprovalState = "unspecified"
)

var stateNames = map[gatev1.ApprovalState]ApprovalState{
	gatev1.ApprovalState_APPROVAL_STATE_PENDING:  ApprovalPending,
	gatev1.ApprovalState_APPROVAL_STATE_GRANTED:  ApprovalGranted,
	gatev1.ApprovalState_APPROVAL_STATE_DENIED:   ApprovalDenied,
	gatev1.ApprovalState_APPROVAL_STATE_EXPIRED:  ApprovalExpired,
	gatev1.ApprovalState_APPROVAL_STATE_CONSUMED: ApprovalConsumed,
}

// Grant is what an operator grants.
type Grant struct {
	// Approver is who approves (the token's approver_identity).
	Approver string
	// ReasonCode is why (the token's reason_code), e.g. a change ticket.
	ReasonCode string
	// TTL is the token lifetime; it must be positive.
	TTL time.Duration
	// Scopes of the token; empty means the request's required scopes (required when approving bare digests).
	Scopes []string
	// MaxTargets and MaxOps limit one use of the token; 0 means no limit.
	MaxTargets, MaxOps uint32
}

// Denial is what an operator denies with.
type Denial struct {
	Approver string
	// Reason is recorded as the request's deny_reason.
	Reason string
}

// DigestBinding names a call by its digests (the `gait approve --intent-digest --policy-digest` form).
type DigestBinding struct {
	IntentDigest, PolicyDigest, DelegationBindingDigest string
}

// ApprovalRequest is one approval request.
type ApprovalRequest struct {
	ApprovalRequestID string
	State             ApprovalState
	ToolName          string
	IntentDigest      string
	PolicyDigest      string
	ArgsDigest        string
	RequiredScopes    []string
	RequiredApprovals uint32
	GrantedApprovals  uint32
	Approvers         []string
	Identity          string
	RunID             string
	SessionID         string
	ReasonCodes       []string
	TraceID           string
	CreatedAt         time.Time
	// ExpiresAt is when the request expires if not granted.
	ExpiresAt  time.Time
	DeniedBy   string
	DenyReason string
}

// Approval is the answer to Approve / Deny: the request's new state and, for a grant, the signed token.
type Approval struct {
	// Request is the request after the answer (nil when a token was minted for bare digests).
	Request *ApprovalRequest
	// TokenJSON is the gait.gate.approval_token JSON document; "" for a denial.
	TokenJSON      string
	TokenID        string
	TokenExpiresAt time.Time
}

// ApprovalStatus is the answer to GetApproval / WaitForApproval.
type ApprovalStatus struct {
	Request ApprovalRequest
	// TokenJSONs are the granted token documents, once granted.
	TokenJSONs []string
}

// ApprovalPage is one page of ListApprovals, oldest first.
type ApprovalPage struct {
	Requests      []ApprovalRequest
	NextPageToken string
}

// ListApprovalsOptions filters ListApprovals. The zero value lists pending requests with the server's page size.
type ListApprovalsOptions struct {
	States    []ApprovalState
	PageSize  uint32
	PageToken string
}

func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// ApprovalRequestFrom is the plain form of an ApprovalRequestInfo message.
func ApprovalRequestFrom(m *gatev1.ApprovalRequestInfo) ApprovalRequest {
	state, ok := stateNames[m.GetState()]
	if !ok {
		state = ApprovalUnspecified
	}
	return ApprovalRequest{
		ApprovalRequestID: m.GetApprovalRequestId(),
		State:             state,
		ToolName:          m.GetToolName(),
		IntentDigest:      m.GetIntentDigest(),
		PolicyDigest:      m.GetPolicyDigest(),
		ArgsDigest:        m.GetArgsDigest(),
		RequiredScopes:    append([]string(nil), m.GetRequiredScopes()...),
		RequiredApprovals: m.GetRequiredApprovals(),
		GrantedApprovals:  m.GetGrantedApprovals(),
		Approvers:         append([]string(nil), m.GetApprovers()...),
		Identity:          m.GetIdentity(),
		RunID:             m.GetRunId(),
		SessionID:         m.GetSessionId(),
		ReasonCodes:       append([]string(nil), m.GetReasonCodes()...),
		TraceID:           m.GetTraceId(),
		CreatedAt:         timeOf(m.GetCreatedAt()),
		ExpiresAt:         timeOf(m.GetExpiresAt()),
		DeniedBy:          m.GetDeniedBy(),
		DenyReason:        m.GetDenyReason(),
	}
}

// ApprovalFrom is the plain form of an ApproveResponse.
func ApprovalFrom(m *gatev1.ApproveResponse) Approval {
	a := Approval{TokenJSON: m.GetTokenJson(), TokenID: m.GetTokenId(), TokenExpiresAt: timeOf(m.GetExpiresAt())}
	if m.GetRequest() != nil {
		r := ApprovalRequestFrom(m.GetRequest())
		a.Request = &r
	}
	return a
}

func approvalStatusFrom(m *gatev1.GetApprovalResponse, id string) ApprovalStatus {
	st := ApprovalStatus{TokenJSONs: append([]string(nil), m.GetTokenJsons()...)}
	if m.GetRequest() != nil {
		st.Request = ApprovalRequestFrom(m.GetRequest())
	} else {
		st.Request = ApprovalRequest{ApprovalRequestID: id, State: ApprovalUnspecified}
	}
	return st
}

func (g Grant) request() (*gatev1.ApproveRequest, error) {
	if g.TTL <= 0 {
		return nil, &GateError{Cause: "invalid_argument", Message: fmt.Sprintf("TTL must be a positive duration, got %s", g.TTL)}
	}
	return &gatev1.ApproveRequest{
		Decision:   gatev1.ApprovalDecision_APPROVAL_DECISION_GRANT,
		Approver:   g.Approver,
		ReasonCode: g.ReasonCode,
		Ttl:        durationpb.New(g.TTL),
		Scopes:     g.Scopes,
		MaxTargets: g.MaxTargets,
		MaxOps:     g.MaxOps,
	}, nil
}

// GrantRequest is the ApproveRequest Approve sends for a grant of a pending request.
func GrantRequest(approvalRequestID string, g Grant) (*gatev1.ApproveRequest, error) {
	req, err := g.request()
	if err != nil {
		return nil, err
	}
	req.Target = &gatev1.ApproveRequest_ApprovalRequestId{ApprovalRequestId: approvalRequestID}
	return req, nil
}

// Approve grants a pending approval request (operator socket only) and returns its new state and the signed token.
// A TTL <= 0 is a *GateError with cause invalid_argument before anything is sent.
func (c *Client) Approve(ctx context.Context, approvalRequestID string, g Grant, opts ...CallOption) (Approval, error) {
	req, err := GrantRequest(approvalRequestID, g)
	if err != nil {
		return Approval{}, err
	}
	return c.answer(ctx, req, opts)
}

// ApproveDigests mints an approval token for a call named by its digests, without a pending request (operator
// socket only); g.Scopes is required here.
func (c *Client) ApproveDigests(ctx context.Context, d DigestBinding, g Grant, opts ...CallOption) (Approval, error) {
	req, err := g.request()
	if err != nil {
		return Approval{}, err
	}
	req.Target = &gatev1.ApproveRequest_Digests{Digests: &gatev1.DigestBinding{
		IntentDigest: d.IntentDigest, PolicyDigest: d.PolicyDigest, DelegationBindingDigest: d.DelegationBindingDigest,
	}}
	return c.answer(ctx, req, opts)
}

// Deny denies a pending approval request (operator socket only).
func (c *Client) Deny(ctx context.Context, approvalRequestID string, d Denial, opts ...CallOption) (Approval, error) {
	return c.answer(ctx, &gatev1.ApproveRequest{
		Target:     &gatev1.ApproveRequest_ApprovalRequestId{ApprovalRequestId: approvalRequestID},
		Decision:   gatev1.ApprovalDecision_APPROVAL_DECISION_DENY,
		Approver:   d.Approver,
		ReasonCode: d.Reason,
	}, opts)
}

func (c *Client) answer(ctx context.Context, req *gatev1.ApproveRequest, opts []CallOption) (Approval, error) {
	out := &gatev1.ApproveResponse{}
	if err := c.unaryDecoded(ctx, "Approve", req, out, opts); err != nil {
		return Approval{}, err
	}
	return ApprovalFrom(out), nil
}

// ListApprovals lists approval requests, oldest first (operator socket only).
func (c *Client) ListApprovals(ctx context.Context, o ListApprovalsOptions, opts ...CallOption) (ApprovalPage, error) {
	req := &gatev1.ListApprovalsRequest{PageSize: o.PageSize, PageToken: o.PageToken}
	for _, s := range o.States {
		v, ok := stateValue(s)
		if !ok {
			return ApprovalPage{}, &GateError{Cause: "invalid_argument", Message: fmt.Sprintf("unknown approval state %q", s)}
		}
		req.States = append(req.States, v)
	}
	out := &gatev1.ListApprovalsResponse{}
	if err := c.unaryDecoded(ctx, "ListApprovals", req, out, opts); err != nil {
		return ApprovalPage{}, err
	}
	page := ApprovalPage{NextPageToken: out.GetNextPageToken()}
	for _, r := range out.GetRequests() {
		page.Requests = append(page.Requests, ApprovalRequestFrom(r))
	}
	return page, nil
}

func stateValue(s ApprovalState) (gatev1.ApprovalState, bool) {
	for v, name := range stateNames {
		if name == s {
			return v, true
		}
	}
	return 0, false
}

// GetApproval reads one approval request and, once granted, its token documents.
func (c *Client) GetApproval(ctx context.Context, approvalRequestID string, opts ...CallOption) (ApprovalStatus, error) {
	out := &gatev1.GetApprovalResponse{}
	if err := c.unaryDecoded(ctx, "GetApproval", &gatev1.GetApprovalRequest{ApprovalRequestId: approvalRequestID}, out, opts); err != nil {
		return ApprovalStatus{}, err
	}
	return approvalStatusFrom(out, approvalRequestID), nil
}

// WaitForApproval polls GetApproval every interval (500 ms when <= 0) until the request leaves pending and returns
// its last state. ctx bounds the whole wait (each poll also has the per-call deadline).
func (c *Client) WaitForApproval(ctx context.Context, approvalRequestID string, interval time.Duration, opts ...CallOption) (ApprovalStatus, error) {
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	for {
		st, err := c.GetApproval(ctx, approvalRequestID, opts...)
		if err != nil {
			return ApprovalStatus{}, err
		}
		if st.Request.State != ApprovalPending {
			return st, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ApprovalStatus{}, &GateError{Cause: causeOfContext(ctx.Err()), Message: "waiting for approval " + approvalRequestID + ": " + ctx.Err().Error()}
		case <-t.C:
		}
	}
}

// String is one line: "<id> <state> tool=<name> identity=<who> approvals=<granted>/<required>[ denied_by=<who>
// reason=<why>][ expires=<RFC 3339>]".
func (r ApprovalRequest) String() string {
	s := fmt.Sprintf("%s %s tool=%s identity=%s approvals=%d/%d", r.ApprovalRequestID, r.State, r.ToolName, r.Identity, r.GrantedApprovals, r.RequiredApprovals)
	if r.DeniedBy != "" {
		s += fmt.Sprintf(" denied_by=%s reason=%q", r.DeniedBy, r.DenyReason)
	}
	if !r.ExpiresAt.IsZero() {
		s += " expires=" + r.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return s
}

// String is the request's line (or "minted for digests") plus the token id and expiry when a token was granted.
func (a Approval) String() string {
	s := "minted for digests"
	if a.Request != nil {
		s = a.Request.String()
	}
	if a.TokenID != "" {
		s += " token=" + a.TokenID
		if !a.TokenExpiresAt.IsZero() {
			s += " token_expires=" + a.TokenExpiresAt.UTC().Format(time.RFC3339)
		}
	}
	return s
}
