// Package gait is a small fail-closed client for the gait gate decision service (gait.gate.v1.GateService).
//
// Safe defaults: every call has a deadline (250 ms unless set; WithTimeout(d <= 0) is the explicit opt-out),
// Evaluate never returns an error and turns every failure into a "block" Decision marked FailClosed, and Guard runs
// a tool only on "allow". There is deliberately no option that turns a failure into "allow".
package gait

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	gatev1 "github.com/gait-gate/gait-gate/clients/go/gen/gait/gate/v1"
)

const (
	// DefaultTimeout is the deadline of every call unless WithTimeout says otherwise (the same in the TypeScript
	// and Python clients).
	DefaultTimeout = 250 * time.Millisecond
	// SocketEnv overrides the default target (see ResolveTarget).
	SocketEnv = "GAIT_SOCKET"
)

// How a Target was chosen (Target.Source).
const (
	// SourceExplicit: the target given to WithTarget / ResolveTarget.
	SourceExplicit = "explicit"
	// SourceEnv: $GAIT_SOCKET.
	SourceEnv = "env"
	// SourceDefault: the per-user default socket, DefaultSocketPath.
	SourceDefault = "default"
)

const servicePrefix = "/gait.gate.v1.GateService/"

// Decision is the outcome of one Evaluate. Only Allowed() executes.
type Decision struct {
	// Verdict is allow, block, require_approval or dry_run.
	Verdict     string
	ReasonCodes []string
	Violations  []string
	// FailClosed is true when the client produced this block itself because the call failed.
	FailClosed bool
	// Cause says why it failed closed: deadline_exceeded, unavailable, cancelled, malformed_response,
	// unspecified_verdict, unknown_verdict, invalid_argument, internal, ... (reason code "fail_closed_<cause>").
	Cause string
	// StatusCode is the gRPC status code name (e.g. DEADLINE_EXCEEDED) when the call failed with a status.
	StatusCode string
	// ErrorReason is google.rpc.ErrorInfo.reason from the server (an ErrorReason name such as INVALID_INTENT).
	ErrorReason string
	Message     string
	// ApprovalRequestID names the pending approval request when Verdict is require_approval.
	ApprovalRequestID string
	TraceID           string
	IntentDigest      string
	PolicyDigest      string
	// Response is the full server answer, when there was one.
	Response *gatev1.EvaluateResponse
}

// Allowed reports whether the tool may run: only for a well-formed VERDICT_ALLOW answer.
func (d Decision) Allowed() bool { return d.Verdict == "allow" && !d.FailClosed }

// String is one line, the same in the three clients: `<verdict>[ (fail closed: <cause>[, <error reason>])]
// [<reasons>][ violations=[...]][ approval_request=<id>][ trace=<id>][: <message>]`, e.g. "allow [read_ok]
// trace=0a1b2c" or "block (fail closed: unavailable) [fail_closed_unavailable]: ...". fmt's %v and %+v use it, so
// a printed Decision never dumps the raw protobuf Response.
func (d Decision) String() string {
	var b strings.Builder
	b.WriteString(d.Verdict)
	if d.FailClosed {
		cause := d.Cause
		if cause == "" {
			cause = "unknown"
		}
		b.WriteString(" (fail closed: " + cause)
		if d.ErrorReason != "" {
			b.WriteString(", " + d.ErrorReason)
		}
		b.WriteString(")")
	}
	b.WriteString(" [" + strings.Join(d.ReasonCodes, ", ") + "]")
	if len(d.Violations) > 0 {
		b.WriteString(" violations=[" + strings.Join(d.Violations, ", ") + "]")
	}
	if d.ApprovalRequestID != "" {
		b.WriteString(" approval_request=" + d.ApprovalRequestID)
	}
	if d.TraceID != "" {
		b.WriteString(" trace=" + d.TraceID)
	}
	if d.Message != "" {
		b.WriteString(": " + d.Message)
	}
	return b.String()
}

// Call is one tool call to decide on: exactly one of Intent or ToolCall.
type Call struct {
	// Intent is a Gait intent: a typed Intent or *Intent (a misspelt field does not compile), or raw
	// gait.gate.intent_request JSON as a map, []byte, json.RawMessage or string (its keys are checked before the
	// call is sent; an unknown key fails closed naming the closest field).
	Intent any
	// ToolCall is a raw tool call the server decodes with Adapter (mcp, openai, anthropic, langchain, claude_code):
	// a map or JSON ([]byte / json.RawMessage / string).
	ToolCall any
	Adapter  string
	// RunID names the run in artifact names; not part of the intent digest.
	RunID     string
	SessionID string
	// ApprovalTokens are gait.gate.approval_token JSON documents.
	ApprovalTokens []string
	// ApprovalRequestID uses the tokens granted on this approval request.
	ApprovalRequestID string
	DelegationTokens  []string
	EmitRunpack       bool
}

// Option configures a Client.
type Option func(*config)

type config struct {
	target       string
	timeout      time.Duration
	token        string
	logger       *slog.Logger
	onFailClosed func(Decision)
	dialOptions  []grpc.DialOption
}

// WithTarget sets where to connect: unix:///abs/path.sock, a socket path, or host:port (TCP). Without it:
// $GAIT_SOCKET, else DefaultSocketPath() (what `gait mcp serve` binds by default). The operator calls (Approve, Deny,
// ListApprovals) need the server's operator socket here, e.g. os.Getenv("GAIT_OPERATOR_SOCKET").
func WithTarget(target string) Option { return func(c *config) { c.target = target } }

// WithTimeout sets the deadline of every call (default 250 ms). d <= 0 is the explicit opt-out: no deadline.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithToken sends "authorization: Bearer <token>" on every call (servers run with --auth-mode token).
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithLogger sets the logger of fail-closed events (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithFailClosedHook is called with every fail-closed decision after it was counted and logged.
func WithFailClosedHook(fn func(Decision)) Option { return func(c *config) { c.onFailClosed = fn } }

// WithDialOptions adds grpc dial options (after the client's own).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *config) { c.dialOptions = append(c.dialOptions, opts...) }
}

// Target is a resolved connection target.
type Target struct {
	// URI is the gRPC target (unix:///abs/path or host:port).
	URI string
	// SocketPath is the absolute socket path for a Unix socket target.
	SocketPath string
	// Source says how the target was chosen: SourceExplicit, SourceEnv or SourceDefault.
	Source string
}

// DefaultSocketPath is the per-user default agent socket, the one `gait mcp serve` binds by default (the same rule
// as the server's): $XDG_RUNTIME_DIR/gait/gate.sock when XDG_RUNTIME_DIR is set to an absolute path (a relative
// value is ignored), else /tmp/gait-<uid>/gate.sock. Never relative to the working directory.
func DefaultSocketPath() string { return defaultSocketPath(os.Getenv, os.Getuid()) }

func defaultSocketPath(getenv func(string) string, uid int) string {
	if uid < 0 { // no uids on this platform (os.Getuid is -1 on Windows); the server uses 0 there too
		uid = 0
	}
	dir := fmt.Sprintf("/tmp/gait-%d", uid)
	if xdg := getenv("XDG_RUNTIME_DIR"); xdg != "" && filepath.IsAbs(xdg) {
		dir = filepath.Join(xdg, "gait")
	}
	return filepath.Join(dir, "gate.sock")
}

// ResolveTarget applies the rule explicit > $GAIT_SOCKET > DefaultSocketPath() (the same rule as the server's and
// the TypeScript and Python clients'). unix:///abs, unix:/abs, unix:rel and filesystem paths (absolute, or starting
// with ".") are Unix sockets, relative ones resolved against the working directory; anything else is TCP.
func ResolveTarget(explicit string) (Target, error) {
	return resolveTarget(explicit, os.Getenv, "", os.Getuid())
}

// resolveTarget is ResolveTarget with its inputs given: the environment, the directory relative socket paths resolve
// against ("" = the working directory) and the uid of the default socket.
func resolveTarget(explicit string, getenv func(string) string, cwd string, uid int) (Target, error) {
	raw, source := strings.TrimSpace(explicit), SourceExplicit
	if raw == "" {
		raw, source = strings.TrimSpace(getenv(SocketEnv)), SourceEnv
	}
	if raw == "" {
		p := defaultSocketPath(getenv, uid)
		return Target{URI: "unix://" + p, SocketPath: p, Source: SourceDefault}, nil
	}
	var path string
	isUnix := true
	switch {
	case strings.HasPrefix(raw, "unix://"):
		path = strings.TrimPrefix(raw, "unix://")
	case strings.HasPrefix(raw, "unix:"):
		path = strings.TrimPrefix(raw, "unix:")
	case strings.HasPrefix(raw, "/"), strings.HasPrefix(raw, "."):
		path = raw
	default:
		isUnix = false
	}
	if !isUnix {
		return Target{URI: raw, Source: source}, nil
	}
	if path == "" {
		return Target{}, fmt.Errorf("invalid gait target %q: empty socket path", raw)
	}
	var abs string
	if filepath.IsAbs(path) {
		abs = filepath.Clean(path)
	} else if cwd != "" {
		abs = filepath.Join(cwd, path)
	} else {
		a, err := filepath.Abs(path)
		if err != nil {
			return Target{}, fmt.Errorf("invalid gait target %q: %w", raw, err)
		}
		abs = a
	}
	return Target{URI: "unix://" + abs, SocketPath: abs, Source: source}, nil
}

var targetSources = map[string]string{
	SourceExplicit: "passed as the target argument",
	SourceEnv:      "from $" + SocketEnv,
	SourceDefault:  "the default socket: no target argument and " + SocketEnv + " unset",
}

// cannotConnectMessage is the message of a failed connection (the call fails closed with fail_closed_unavailable):
// the socket path (or TCP address), how it was chosen and how to fix it. The same wording in the three clients.
func cannotConnectMessage(t Target, detail string) string {
	where := "at " + t.URI
	if t.SocketPath != "" {
		where = "socket " + t.SocketPath
	}
	how, ok := targetSources[t.Source]
	if !ok {
		how = t.Source
	}
	return fmt.Sprintf("cannot connect to the gate server %s (%s): %s (is `gait mcp serve` running? start it, or set %s or pass the target to name the socket it listens on)",
		where, how, detail, SocketEnv)
}

// Client is a fail-closed client for one gate server. Safe for concurrent use; create one per target and reuse it.
type Client struct {
	target Target
	cfg    config
	conn   *grpc.ClientConn
	mu     sync.Mutex
	counts map[string]uint64
	total  uint64
	logger *slog.Logger
}

// New creates a client. Connecting is lazy: New fails only for an unusable target.
func New(opts ...Option) (*Client, error) {
	cfg := config{timeout: DefaultTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	t, err := ResolveTarget(cfg.target)
	if err != nil {
		return nil, err
	}
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})),
	}, cfg.dialOptions...)
	conn, err := grpc.NewClient(t.URI, dial...)
	if err != nil {
		return nil, fmt.Errorf("gait client for %s: %w", t.URI, err)
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	c := &Client{target: t, cfg: cfg, conn: conn, counts: map[string]uint64{}, logger: logger}
	return c, nil
}

// Target returns where the client connects.
func (c *Client) Target() Target { return c.target }

// Close closes the connection; later calls fail closed.
func (c *Client) Close() error { return c.conn.Close() }

// FailClosedTotal is the number of fail-closed decisions this client produced.
func (c *Client) FailClosedTotal() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// FailClosedCounts returns fail-closed decisions by reason code (e.g. {"fail_closed_unavailable": 2}).
func (c *Client) FailClosedCounts() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// CallOption changes one call.
type CallOption func(*callConfig)

type callConfig struct {
	timeout    time.Duration
	hasTimeout bool
}

// CallTimeout overrides the client's deadline for one call; d <= 0 means no deadline from the client (the
// context's own deadline, if any, still applies).
func CallTimeout(d time.Duration) CallOption {
	return func(cc *callConfig) { cc.timeout, cc.hasTimeout = d, true }
}

func (c *Client) callContext(ctx context.Context, opts []CallOption) (context.Context, context.CancelFunc) {
	cc := callConfig{}
	for _, o := range opts {
		o(&cc)
	}
	timeout := c.cfg.timeout
	if cc.hasTimeout {
		timeout = cc.timeout
	}
	if c.cfg.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.cfg.token)
	}
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return context.WithCancel(ctx)
}

// BuildEvaluateRequest builds the EvaluateRequest for a call, or says what is wrong with it.
func BuildEvaluateRequest(call Call) (*gatev1.EvaluateRequest, error) {
	hasIntent, hasTool := call.Intent != nil, call.ToolCall != nil
	if hasIntent == hasTool {
		return nil, errors.New("call must have exactly one of Intent or ToolCall")
	}
	req := &gatev1.EvaluateRequest{
		RunId:             call.RunID,
		SessionId:         call.SessionID,
		ApprovalTokens:    call.ApprovalTokens,
		ApprovalRequestId: call.ApprovalRequestID,
		DelegationTokens:  call.DelegationTokens,
		EmitRunpack:       call.EmitRunpack,
	}
	if hasIntent {
		switch i := call.Intent.(type) {
		case Intent:
			if err := i.Validate(); err != nil {
				return nil, fmt.Errorf("intent: %w", err)
			}
		case *Intent:
			if i == nil {
				return nil, errors.New("intent is a nil *Intent")
			}
			if err := i.Validate(); err != nil {
				return nil, fmt.Errorf("intent: %w", err)
			}
		}
		raw, err := jsonOf(call.Intent)
		if err != nil {
			return nil, fmt.Errorf("intent: %w", err)
		}
		// checked here as well as by protojson, so an unknown key is named with its path and the closest field
		if err := CheckIntentJSON(raw); err != nil {
			return nil, fmt.Errorf("intent: %w", err)
		}
		intent := &gatev1.IntentRequest{}
		if err := protojson.Unmarshal(raw, intent); err != nil {
			return nil, fmt.Errorf("intent does not match gait.gate.intent_request: %w", err)
		}
		req.Input = &gatev1.EvaluateRequest_Intent{Intent: intent}
	} else {
		raw, err := jsonOf(call.ToolCall)
		if err != nil {
			return nil, fmt.Errorf("tool call: %w", err)
		}
		req.Input = &gatev1.EvaluateRequest_ToolCall{ToolCall: &gatev1.ToolCall{
			Adapter: call.Adapter,
			Payload: &gatev1.ToolCall_CallJson{CallJson: string(raw)},
		}}
	}
	return req, nil
}

func jsonOf(v any) ([]byte, error) {
	switch x := v.(type) {
	case json.RawMessage:
		return x, nil
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	default:
		return json.Marshal(x)
	}
}

// Evaluate asks the gate whether a call may run. It never fails: every failure is a block Decision with
// FailClosed set and reason "fail_closed_<cause>", counted and logged.
func (c *Client) Evaluate(ctx context.Context, call Call, opts ...CallOption) Decision {
	req, err := BuildEvaluateRequest(call)
	if err != nil {
		return c.record(FailClosedDecision("invalid_argument", "invalid call: "+err.Error()), "Evaluate")
	}
	var raw []byte
	if ferr := c.invoke(ctx, "Evaluate", req, &raw, opts); ferr != nil {
		return c.record(failFromError(c.errorOf(ferr)), "Evaluate")
	}
	res := &gatev1.EvaluateResponse{}
	if err := proto.Unmarshal(raw, res); err != nil {
		return c.record(FailClosedDecision("malformed_response", "the server's answer does not decode: "+err.Error()), "Evaluate")
	}
	return c.record(DecisionFromResponse(res), "Evaluate")
}

// ErrNotAllowed is matched (errors.Is) by the error Guard returns when the tool did not run.
var ErrNotAllowed = errors.New("gait: tool call not allowed")

// NotAllowedError carries the decision that stopped a guarded call.
type NotAllowedError struct{ Decision Decision }

func (e *NotAllowedError) Error() string {
	return fmt.Sprintf("gait: tool call not allowed: verdict %s (%s)", e.Decision.Verdict, strings.Join(e.Decision.ReasonCodes, ", "))
}

// Is makes errors.Is(err, ErrNotAllowed) true.
func (e *NotAllowedError) Is(target error) bool { return target == ErrNotAllowed }

// Guard runs fn only when the gate answers allow for call. For every other verdict, including dry_run,
// require_approval and every fail-closed block, fn is not called and the error is a *NotAllowedError
// (errors.Is(err, ErrNotAllowed)). Errors from fn itself are returned as they are.
func Guard[T any](ctx context.Context, c *Client, call Call, fn func(context.Context, Decision) (T, error), opts ...CallOption) (T, Decision, error) {
	var zero T
	d := c.Evaluate(ctx, call, opts...)
	if !d.Allowed() {
		return zero, d, &NotAllowedError{Decision: d}
	}
	v, err := fn(ctx, d)
	return v, d, err
}

// GateError is a failed non-evaluate call (approvals, traces, server info).
type GateError struct {
	// Cause is the fail-closed cause this corresponds to (deadline_exceeded, unavailable, malformed_response, ...).
	Cause       string
	StatusCode  string
	ErrorReason string
	Message     string
}

func (e *GateError) Error() string {
	if e.ErrorReason != "" {
		return fmt.Sprintf("gait: %s (%s): %s", e.Cause, e.ErrorReason, e.Message)
	}
	return fmt.Sprintf("gait: %s: %s", e.Cause, e.Message)
}

// EvaluateAfterApproval waits (bounded by ctx) for the approval request of a require_approval decision, then
// evaluates call again with that request's granted tokens. It returns the original decision when the request was
// denied or expired, and a fail-closed block when waiting fails. It never returns allow on an error.
func (c *Client) EvaluateAfterApproval(ctx context.Context, call Call, d Decision, interval time.Duration, opts ...CallOption) Decision {
	if d.Verdict != "require_approval" || d.ApprovalRequestID == "" {
		return d
	}
	st, err := c.WaitForApproval(ctx, d.ApprovalRequestID, interval, opts...)
	if err != nil {
		var ge *GateError
		if errors.As(err, &ge) {
			fd := FailClosedDecision(ge.Cause, ge.Message)
			fd.StatusCode, fd.ErrorReason = ge.StatusCode, ge.ErrorReason
			return c.record(fd, "GetApproval")
		}
		return c.record(FailClosedDecision("unknown", err.Error()), "GetApproval")
	}
	if st.Request.State != ApprovalGranted {
		return d
	}
	call.ApprovalRequestID = d.ApprovalRequestID
	return c.Evaluate(ctx, call, opts...)
}

// GetServerInfo returns the server's signing key, policy digest and trace head.
func (c *Client) GetServerInfo(ctx context.Context, opts ...CallOption) (*gatev1.GetServerInfoResponse, error) {
	out := &gatev1.GetServerInfoResponse{}
	return out, c.unaryDecoded(ctx, "GetServerInfo", &gatev1.GetServerInfoRequest{}, out, opts)
}

// TraceIterator reads ExportTraces entries in sequence order.
type TraceIterator struct {
	client *Client
	stream grpc.ClientStream
	cancel context.CancelFunc
	err    error
	done   bool
}

// Next returns the next entry, or io.EOF at the end of the export; any other error is a *GateError.
func (it *TraceIterator) Next() (*gatev1.ExportTracesResponse, error) {
	if it.done {
		if it.err != nil {
			return nil, it.err
		}
		return nil, io.EOF
	}
	var raw []byte
	if err := it.stream.RecvMsg(&raw); err != nil {
		it.done = true
		it.cancel()
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		it.err = it.client.errorOf(err)
		return nil, it.err
	}
	entry := &gatev1.ExportTracesResponse{}
	if err := proto.Unmarshal(raw, entry); err != nil {
		it.done = true
		it.cancel()
		it.err = &GateError{Cause: "malformed_response", Message: "trace entry does not decode: " + err.Error()}
		return nil, it.err
	}
	return entry, nil
}

// Close stops the export early.
func (it *TraceIterator) Close() {
	it.done = true
	it.cancel()
}

// ExportTraces streams trace log entries from a cursor (fromSequence 0 = the beginning). The client deadline
// covers the whole stream: use CallTimeout(0) with follow to keep following.
func (c *Client) ExportTraces(ctx context.Context, fromSequence uint64, follow bool, maxEntries uint64, opts ...CallOption) (*TraceIterator, error) {
	cctx, cancel := c.callContext(ctx, opts)
	stream, err := c.conn.NewStream(cctx, &grpc.StreamDesc{ServerStreams: true}, servicePrefix+"ExportTraces")
	if err != nil {
		cancel()
		return nil, c.errorOf(err)
	}
	req := &gatev1.ExportTracesRequest{FromSequence: fromSequence, Follow: follow, MaxEntries: maxEntries}
	if err := stream.SendMsg(req); err != nil {
		cancel()
		return nil, c.errorOf(err)
	}
	if err := stream.CloseSend(); err != nil {
		cancel()
		return nil, c.errorOf(err)
	}
	return &TraceIterator{client: c, stream: stream, cancel: cancel}, nil
}

func (c *Client) invoke(ctx context.Context, method string, req proto.Message, out *[]byte, opts []CallOption) error {
	cctx, cancel := c.callContext(ctx, opts)
	defer cancel()
	return c.conn.Invoke(cctx, servicePrefix+method, req, out)
}

func (c *Client) unaryDecoded(ctx context.Context, method string, req proto.Message, out proto.Message, opts []CallOption) error {
	var raw []byte
	if err := c.invoke(ctx, method, req, &raw, opts); err != nil {
		return c.errorOf(err)
	}
	if err := proto.Unmarshal(raw, out); err != nil {
		return &GateError{Cause: "malformed_response", Message: "the server's answer does not decode: " + err.Error()}
	}
	return nil
}

func (c *Client) record(d Decision, method string) Decision {
	if !d.FailClosed {
		return d
	}
	reason := d.ReasonCodes[0]
	c.mu.Lock()
	c.counts[reason]++
	c.total++
	c.mu.Unlock()
	c.logger.Warn("gait-client: fail closed", "reason", reason, "method", method, "target", c.target.URI, "error", d.Message)
	if c.cfg.onFailClosed != nil {
		func() {
			defer func() { _ = recover() }() // a broken hook must not change the decision
			c.cfg.onFailClosed(d)
		}()
	}
	return d
}

var verdictNames = map[gatev1.Verdict]string{
	gatev1.Verdict_VERDICT_ALLOW:            "allow",
	gatev1.Verdict_VERDICT_BLOCK:            "block",
	gatev1.Verdict_VERDICT_REQUIRE_APPROVAL: "require_approval",
	gatev1.Verdict_VERDICT_DRY_RUN:          "dry_run",
}

// DecisionFromResponse turns a decoded answer into a decision; VERDICT_UNSPECIFIED or an unknown number fails closed.
func DecisionFromResponse(res *gatev1.EvaluateResponse) Decision {
	if res.GetVerdict() == gatev1.Verdict_VERDICT_UNSPECIFIED {
		d := FailClosedDecision("unspecified_verdict", "the server answered VERDICT_UNSPECIFIED; treated as block")
		d.Response = res
		return d
	}
	name, ok := verdictNames[res.GetVerdict()]
	if !ok {
		d := FailClosedDecision("unknown_verdict", fmt.Sprintf("the server answered an unknown verdict (%d); treated as block", int32(res.GetVerdict())))
		d.Response = res
		return d
	}
	return Decision{
		Verdict:           name,
		ReasonCodes:       append([]string(nil), res.GetReasonCodes()...),
		Violations:        append([]string(nil), res.GetViolations()...),
		ApprovalRequestID: res.GetApprovalRequestId(),
		TraceID:           res.GetTraceId(),
		IntentDigest:      res.GetIntentDigest(),
		PolicyDigest:      res.GetPolicyDigest(),
		Response:          res,
	}
}

// FailClosedDecision is the block a failure turns into: reason code "fail_closed_<cause>".
func FailClosedDecision(cause, message string) Decision {
	return Decision{Verdict: "block", ReasonCodes: []string{"fail_closed_" + cause}, Violations: []string{}, FailClosed: true, Cause: cause, Message: message}
}

var codeNames = map[codes.Code]string{
	codes.Canceled: "cancelled", codes.Unknown: "unknown", codes.InvalidArgument: "invalid_argument",
	codes.DeadlineExceeded: "deadline_exceeded", codes.NotFound: "not_found", codes.AlreadyExists: "already_exists",
	codes.PermissionDenied: "permission_denied", codes.ResourceExhausted: "resource_exhausted",
	codes.FailedPrecondition: "failed_precondition", codes.Aborted: "aborted", codes.OutOfRange: "out_of_range",
	codes.Unimplemented: "unimplemented", codes.Internal: "internal", codes.Unavailable: "unavailable",
	codes.DataLoss: "data_loss", codes.Unauthenticated: "unauthenticated",
}

// CauseOfCode is the fail-closed cause of a gRPC status code (OK or an unknown code is "unknown").
func CauseOfCode(code codes.Code) string {
	if n, ok := codeNames[code]; ok {
		return n
	}
	return "unknown"
}

func causeOfContext(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "deadline_exceeded"
	}
	return "cancelled"
}

func gateErrorOf(err error) *GateError {
	st, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return &GateError{Cause: causeOfContext(err), Message: err.Error()}
		}
		return &GateError{Cause: "unknown", Message: err.Error()}
	}
	cause := CauseOfCode(st.Code())
	ge := &GateError{Cause: cause, StatusCode: strings.ToUpper(cause), Message: st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			ge.ErrorReason = info.GetReason()
			break
		}
	}
	return ge
}

// errorOf is the GateError of a failed call. UNAVAILABLE without the server's ErrorInfo is the transport's (no
// connection, or it was lost): its message then names the target, how it was chosen and how to fix it. Cause,
// status code and reason are unchanged.
func (c *Client) errorOf(err error) *GateError {
	ge := gateErrorOf(err)
	if ge.Cause == "unavailable" && ge.ErrorReason == "" {
		ge.Message = cannotConnectMessage(c.target, ge.Message)
	}
	return ge
}

func failFromError(ge *GateError) Decision {
	d := FailClosedDecision(ge.Cause, ge.Message)
	d.StatusCode, d.ErrorReason = ge.StatusCode, ge.ErrorReason
	return d
}

// rawCodec marshals requests as protobuf and hands responses back as raw bytes, so the client decodes them itself
// and can tell a malformed answer (fail_closed_malformed_response) from a transport failure.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("gait: cannot marshal %T", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("gait: cannot unmarshal into %T", v)
	}
	*p = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }
