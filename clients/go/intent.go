package gait

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	gatev1 "github.com/gait-gate/gait-gate/clients/go/gen/gait/gate/v1"
)

// Typed intents: Gait's gait.gate.intent_request JSON as Go structs, so a misspelt field is a compile error
// ("unknown field ToolNmae in struct literal of type gait.Intent") instead of a fail-closed block at run time.
//
// The JSON tags are Gait's snake_case names (the keys of an intent file for `gait gate eval --intent`, and the field
// names of the TypeScript and Python clients' intent types). The field set is the proto message
// gait.gate.v1.IntentRequest (proto/gait/gate/v1/intent.proto, which mirrors shared/spec/gate.md section 2); a test
// keeps the two equal. The output-only fields of that table (args_digest, intent_digest, script_hash) are computed
// by the server.
//
// Closed value sets the server enforces (target kind, endpoint class, discovery method, provenance source, phase,
// credential source and access type, context evidence mode, sandbox modes) have a named string type with constants
// and are checked before a call is sent (Validate), with the closest allowed value as a suggestion. Free-text values
// that policies match verbatim (operation, sensitivity, risk class) are plain strings; the Op* and Risk* constants
// name the known ones.

// TargetKind is what a target is; the server accepts only these.
type TargetKind string

const (
	KindPath   TargetKind = "path"
	KindURL    TargetKind = "url"
	KindHost   TargetKind = "host"
	KindRepo   TargetKind = "repo"
	KindBucket TargetKind = "bucket"
	KindTable  TargetKind = "table"
	KindQueue  TargetKind = "queue"
	KindTopic  TargetKind = "topic"
	KindOther  TargetKind = "other"
)

// Operations with a built-in meaning (endpoint class and destructiveness inference, gate.md 2.4). An operation is
// free text: any other lowercase word a policy's destination_operations names is fine.
const (
	// fs.read
	OpRead, OpGet, OpList, OpOpen, OpCat, OpHead, OpDownload, OpStat = "read", "get", "list", "open", "cat", "head", "download", "stat"
	// fs.write
	OpWrite, OpAppend, OpPut, OpCreate, OpUpdate, OpSave, OpCopy, OpMove, OpRename = "write", "append", "put", "create", "update", "save", "copy", "move", "rename"
	// fs.delete (destructive)
	OpDelete, OpRemove, OpRm, OpUnlink, OpRmdir, OpDrop, OpTruncate = "delete", "remove", "rm", "unlink", "rmdir", "drop", "truncate"
	// net.dns
	OpDNS, OpResolve, OpLookup = "dns", "resolve", "lookup"
	// proc.exec (exec and spawn are destructive)
	OpExec, OpSpawn, OpRun, OpShell, OpCommand = "exec", "spawn", "run", "shell", "command"
)

// Risk classes with a built-in meaning (only high and critical change the pipeline); any other string is allowed.
const (
	RiskLow, RiskMedium, RiskHigh, RiskCritical = "low", "medium", "high", "critical"
)

// EndpointClass is inferred from kind and operation when empty.
type EndpointClass string

const (
	EndpointFSRead     EndpointClass = "fs.read"
	EndpointFSWrite    EndpointClass = "fs.write"
	EndpointFSDelete   EndpointClass = "fs.delete"
	EndpointProcExec   EndpointClass = "proc.exec"
	EndpointNetHTTP    EndpointClass = "net.http"
	EndpointNetDNS     EndpointClass = "net.dns"
	EndpointUIClick    EndpointClass = "ui.click"
	EndpointUIType     EndpointClass = "ui.type"
	EndpointUINavigate EndpointClass = "ui.navigate"
	EndpointOther      EndpointClass = "other"
)

// DiscoveryMethod is how the tool was discovered ("unknown" when empty).
type DiscoveryMethod string

const (
	DiscoveryWebMCP     DiscoveryMethod = "webmcp"
	DiscoveryDynamicMCP DiscoveryMethod = "dynamic_mcp"
	DiscoveryA2A        DiscoveryMethod = "a2a"
	DiscoveryMCP        DiscoveryMethod = "mcp"
	DiscoveryStaticMCP  DiscoveryMethod = "static_mcp"
	DiscoveryManual     DiscoveryMethod = "manual"
	DiscoveryUnknown    DiscoveryMethod = "unknown"
)

// ProvenanceSource is where an argument's value came from.
type ProvenanceSource string

const (
	SourceUser       ProvenanceSource = "user"
	SourceToolOutput ProvenanceSource = "tool_output"
	SourceExternal   ProvenanceSource = "external"
	SourceSystem     ProvenanceSource = "system"
)

// Phase is plan or apply (the server's default).
type Phase string

const (
	PhasePlan  Phase = "plan"
	PhaseApply Phase = "apply"
)

// CredentialSource names where a credential came from.
type CredentialSource string

// CredentialAccessType names how a credential is held.
type CredentialAccessType string

// ContextEvidenceMode is best_effort or required.
type ContextEvidenceMode string

// Sandbox modes.
type (
	SandboxNetworkMode         string
	SandboxEnvExposureMode     string
	SandboxFilesystemIsolation string
	SandboxUserMode            string
)

// IntentTarget is one resource the call touches; Kind and Value are required.
type IntentTarget struct {
	Kind      TargetKind `json:"kind"`
	Value     string     `json:"value"`
	Operation string     `json:"operation,omitempty"`
	// Sensitivity is the data class matched by a rule's match.data_classes (free text, compared lowercased).
	Sensitivity     string          `json:"sensitivity,omitempty"`
	EndpointClass   EndpointClass   `json:"endpoint_class,omitempty"`
	EndpointDomain  string          `json:"endpoint_domain,omitempty"`
	DiscoveryMethod DiscoveryMethod `json:"discovery_method,omitempty"`
	Destructive     bool            `json:"destructive,omitempty"`
	ReadOnlyHint    bool            `json:"read_only_hint,omitempty"`
	DestructiveHint bool            `json:"destructive_hint,omitempty"`
	IdempotentHint  bool            `json:"idempotent_hint,omitempty"`
	OpenWorldHint   bool            `json:"open_world_hint,omitempty"`
}

// ArgProvenance says where one argument's value came from.
type ArgProvenance struct {
	ArgPath         string           `json:"arg_path"`
	Source          ProvenanceSource `json:"source"`
	SourceRef       string           `json:"source_ref,omitempty"`
	IntegrityDigest string           `json:"integrity_digest,omitempty"`
}

// SkillProvenance identifies the skill that produced the call; SkillName, Source and Publisher are required.
type SkillProvenance struct {
	SkillName      string `json:"skill_name"`
	SkillVersion   string `json:"skill_version,omitempty"`
	Source         string `json:"source"`
	Publisher      string `json:"publisher"`
	Digest         string `json:"digest,omitempty"`
	SignatureKeyID string `json:"signature_key_id,omitempty"`
}

// DelegationLink is one hop of a delegation chain.
type DelegationLink struct {
	DelegatorIdentity string    `json:"delegator_identity,omitempty"`
	DelegateIdentity  string    `json:"delegate_identity,omitempty"`
	ScopeClass        string    `json:"scope_class,omitempty"`
	TokenRef          string    `json:"token_ref,omitempty"`
	IssuedAt          time.Time `json:"issued_at,omitzero"`
	ExpiresAt         time.Time `json:"expires_at,omitzero"`
}

// Delegation describes who asked for the call on whose behalf.
type Delegation struct {
	RequesterIdentity string           `json:"requester_identity"`
	ScopeClass        string           `json:"scope_class,omitempty"`
	TokenRefs         []string         `json:"token_refs,omitempty"`
	Chain             []DelegationLink `json:"chain,omitempty"`
	IssuedAt          time.Time        `json:"issued_at,omitzero"`
	ExpiresAt         time.Time        `json:"expires_at,omitzero"`
}

// AgentIdentity is the declared identity of the calling agent.
type AgentIdentity struct {
	LifecycleStates []string  `json:"lifecycle_states,omitempty"`
	Owner           string    `json:"owner,omitempty"`
	ManifestDigest  string    `json:"manifest_digest,omitempty"`
	Publisher       string    `json:"publisher,omitempty"`
	Source          string    `json:"source,omitempty"`
	IssuedAt        time.Time `json:"issued_at,omitzero"`
	ApprovedAt      time.Time `json:"approved_at,omitzero"`
	ExpiresAt       time.Time `json:"expires_at,omitzero"`
	Revoked         bool      `json:"revoked,omitempty"`
}

// Sandbox describes the execution sandbox of the call.
type Sandbox struct {
	NetworkMode         SandboxNetworkMode         `json:"network_mode,omitempty"`
	WritablePaths       []string                   `json:"writable_paths,omitempty"`
	ReadOnlyRoots       []string                   `json:"read_only_roots,omitempty"`
	EnvExposureMode     SandboxEnvExposureMode     `json:"env_exposure_mode,omitempty"`
	TimeoutSeconds      int32                      `json:"timeout_seconds,omitempty"`
	FilesystemIsolation SandboxFilesystemIsolation `json:"filesystem_isolation,omitempty"`
	UserMode            SandboxUserMode            `json:"user_mode,omitempty"`
	EvidenceRef         string                     `json:"evidence_ref,omitempty"`
	EvidenceDigest      string                     `json:"evidence_digest,omitempty"`
}

// IntentContext is who calls, where, and at what risk. Identity, Workspace and RiskClass are required.
type IntentContext struct {
	Identity  string `json:"identity"`
	Workspace string `json:"workspace"`
	// RiskClass is free text; see the Risk* constants.
	RiskClass               string               `json:"risk_class"`
	Phase                   Phase                `json:"phase,omitempty"`
	AgentID                 string               `json:"agent_id,omitempty"`
	AgentIdentity           *AgentIdentity       `json:"agent_identity,omitempty"`
	RunID                   string               `json:"run_id,omitempty"`
	WorkflowID              string               `json:"workflow_id,omitempty"`
	Repo                    string               `json:"repo,omitempty"`
	Environment             string               `json:"environment,omitempty"`
	JobID                   string               `json:"job_id,omitempty"`
	SessionID               string               `json:"session_id,omitempty"`
	RequestID               string               `json:"request_id,omitempty"`
	CredentialRef           string               `json:"credential_ref,omitempty"`
	CredentialSource        CredentialSource     `json:"credential_source,omitempty"`
	CredentialAccessType    CredentialAccessType `json:"credential_access_type,omitempty"`
	CredentialIssuer        string               `json:"credential_issuer,omitempty"`
	CredentialSubject       string               `json:"credential_subject,omitempty"`
	CredentialOwner         string               `json:"credential_owner,omitempty"`
	CredentialTargetBinding string               `json:"credential_target_binding,omitempty"`
	CredentialRunBinding    string               `json:"credential_run_binding,omitempty"`
	CredentialJobBinding    string               `json:"credential_job_binding,omitempty"`
	CredentialTTLSeconds    int32                `json:"credential_ttl_seconds,omitempty"`
	CredentialScopes        []string             `json:"credential_scopes,omitempty"`
	ApprovalRef             string               `json:"approval_ref,omitempty"`
	WrkrInventoryRef        string               `json:"wrkr_inventory_ref,omitempty"`
	AgentActionBOMRef       string               `json:"agent_action_bom_ref,omitempty"`
	AuthContext             map[string]any       `json:"auth_context,omitempty"`
	Sandbox                 *Sandbox             `json:"sandbox,omitempty"`
	EnvironmentFingerprint  string               `json:"environment_fingerprint,omitempty"`
	// Context-evidence claims are stripped by the server unless it holds a verified envelope (gate.md 4.10).
	ContextSetDigest    string              `json:"context_set_digest,omitempty"`
	ContextEvidenceMode ContextEvidenceMode `json:"context_evidence_mode,omitempty"`
	ContextRefs         []string            `json:"context_refs,omitempty"`
}

// ScriptStep is one step of a multi-step intent.
type ScriptStep struct {
	ToolName      string          `json:"tool_name"`
	Args          map[string]any  `json:"args,omitempty"`
	Targets       []IntentTarget  `json:"targets,omitempty"`
	ArgProvenance []ArgProvenance `json:"arg_provenance,omitempty"`
}

// Script is a multi-step intent (1 to 64 steps); the server then names the tool "script".
type Script struct {
	Steps []ScriptStep `json:"steps"`
}

// Intent is a Gait intent (gait.gate.intent_request). ToolName and Context are required. Pass it (or a pointer to
// it) as Call.Intent.
type Intent struct {
	ToolName string `json:"tool_name"`
	// Args are the tool arguments (a JSON object); nil means {}.
	Args            map[string]any   `json:"args,omitempty"`
	Targets         []IntentTarget   `json:"targets,omitempty"`
	ArgProvenance   []ArgProvenance  `json:"arg_provenance,omitempty"`
	SkillProvenance *SkillProvenance `json:"skill_provenance,omitempty"`
	Delegation      *Delegation      `json:"delegation,omitempty"`
	Context         IntentContext    `json:"context"`
	Script          *Script          `json:"script,omitempty"`
	// CreatedAt is copied into the trace record's created_at; not part of the intent digest.
	CreatedAt       time.Time `json:"created_at,omitzero"`
	ProducerVersion string    `json:"producer_version,omitempty"`
	// Relationship is pass-through metadata; not part of the intent digest.
	Relationship  map[string]any `json:"relationship,omitempty"`
	SchemaID      string         `json:"schema_id,omitempty"`
	SchemaVersion string         `json:"schema_version,omitempty"`
}

var (
	targetKinds         = []string{"path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other"}
	endpointClasses     = []string{"fs.read", "fs.write", "fs.delete", "proc.exec", "net.http", "net.dns", "ui.click", "ui.type", "ui.navigate", "other"}
	discoveryMethods    = []string{"webmcp", "dynamic_mcp", "a2a", "mcp", "static_mcp", "manual", "unknown"}
	provenanceSources   = []string{"user", "tool_output", "external", "system"}
	phases              = []string{"plan", "apply"}
	credentialSources   = []string{"aws_iam_user", "aws_sts", "azure_federated", "command", "env", "gcp_sts", "github_oidc", "github_pat", "kubernetes_service_account", "stub", "unknown", "vault_dynamic"}
	credentialAccess    = []string{"cloud_admin", "inherited", "jit", "standing", "static", "unknown"}
	evidenceModes       = []string{"best_effort", "required"}
	sandboxNetworkModes = []string{"disabled", "egress_allowlist", "full"}
	sandboxEnvExposure  = []string{"allowlist", "full", "none"}
	sandboxFSIsolation  = []string{"container", "none", "workspace"}
	sandboxUserModes    = []string{"default", "root", "unprivileged"}
)

func checkChoice(where, value string, allowed []string) error {
	if value == "" {
		return nil
	}
	v := strings.ToLower(strings.TrimSpace(value)) // the server trims and lowercases before checking
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	msg := fmt.Sprintf("%s: unsupported value %q", where, value)
	if near := Closest(strings.TrimSpace(value), allowed); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return fmt.Errorf("%s; allowed: %s", msg, strings.Join(allowed, ", "))
}

func validateTargets(where string, ts []IntentTarget) error {
	for i, t := range ts {
		at := fmt.Sprintf("%s[%d]", where, i)
		if err := checkChoice(at+".kind", string(t.Kind), targetKinds); err != nil {
			return err
		}
		if err := checkChoice(at+".endpoint_class", string(t.EndpointClass), endpointClasses); err != nil {
			return err
		}
		if err := checkChoice(at+".discovery_method", string(t.DiscoveryMethod), discoveryMethods); err != nil {
			return err
		}
	}
	return nil
}

func validateProvenance(where string, ps []ArgProvenance) error {
	for i, p := range ps {
		if err := checkChoice(fmt.Sprintf("%s[%d].source", where, i), string(p.Source), provenanceSources); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks the values of the closed sets the server enforces, so a typo such as Kind: "pth" is named (with
// the closest allowed value) before anything is sent. Required fields and the rest are the server's to check.
func (i Intent) Validate() error {
	if err := validateTargets("targets", i.Targets); err != nil {
		return err
	}
	if err := validateProvenance("arg_provenance", i.ArgProvenance); err != nil {
		return err
	}
	c := i.Context
	for _, ch := range []struct {
		where, value string
		allowed      []string
	}{
		{"context.phase", string(c.Phase), phases},
		{"context.credential_source", string(c.CredentialSource), credentialSources},
		{"context.credential_access_type", string(c.CredentialAccessType), credentialAccess},
		{"context.context_evidence_mode", string(c.ContextEvidenceMode), evidenceModes},
	} {
		if err := checkChoice(ch.where, ch.value, ch.allowed); err != nil {
			return err
		}
	}
	if s := c.Sandbox; s != nil {
		for _, ch := range []struct {
			where, value string
			allowed      []string
		}{
			{"context.sandbox.network_mode", string(s.NetworkMode), sandboxNetworkModes},
			{"context.sandbox.env_exposure_mode", string(s.EnvExposureMode), sandboxEnvExposure},
			{"context.sandbox.filesystem_isolation", string(s.FilesystemIsolation), sandboxFSIsolation},
			{"context.sandbox.user_mode", string(s.UserMode), sandboxUserModes},
		} {
			if err := checkChoice(ch.where, ch.value, ch.allowed); err != nil {
				return err
			}
		}
	}
	if i.Script != nil {
		for n, st := range i.Script.Steps {
			if err := validateTargets(fmt.Sprintf("script.steps[%d].targets", n), st.Targets); err != nil {
				return err
			}
			if err := validateProvenance(fmt.Sprintf("script.steps[%d].arg_provenance", n), st.ArgProvenance); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckIntentJSON checks the keys of raw intent JSON against the intent's field set (the IntentRequest descriptor:
// field names and their camelCase JSON names) and names the first unknown one with its path and the closest field:
// unknown field "context.identiy" (did you mean "identity"?). Free-form objects (args, auth_context, relationship)
// and values are left to the proto decoder and the server.
func CheckIntentJSON(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("intent is not JSON: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("intent must be a JSON object")
	}
	return checkKeys((&gatev1.IntentRequest{}).ProtoReflect().Descriptor(), obj, "")
}

func checkKeys(md protoreflect.MessageDescriptor, obj map[string]any, path string) error {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first unknown key is reported, so make "first" stable
	for _, k := range keys {
		fd := md.Fields().ByName(protoreflect.Name(k))
		if fd == nil {
			fd = md.Fields().ByJSONName(k)
		}
		if fd == nil {
			names := make([]string, 0, md.Fields().Len())
			for i := 0; i < md.Fields().Len(); i++ {
				names = append(names, string(md.Fields().Get(i).Name()))
			}
			msg := fmt.Sprintf("unknown field %q", path+k)
			if near := Closest(k, names); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			return fmt.Errorf("%s", msg)
		}
		sub := fd.Message()
		if sub == nil || strings.HasPrefix(string(sub.FullName()), "google.protobuf.") {
			continue
		}
		switch val := obj[k].(type) {
		case []any:
			if !fd.IsList() {
				continue
			}
			for i, el := range val {
				if m, ok := el.(map[string]any); ok {
					if err := checkKeys(sub, m, fmt.Sprintf("%s%s[%d].", path, k, i)); err != nil {
						return err
					}
				}
			}
		case map[string]any:
			if err := checkKeys(sub, val, path+k+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

// Closest returns the candidate nearest to word when it is near enough to be a plausible misspelling, else "".
func Closest(word string, candidates []string) string {
	best, bestD := "", 1<<30
	lw := strings.ToLower(word)
	for _, c := range candidates {
		if d := editDistance(lw, c); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= max(2, len([]rune(word))/3) {
		return best
	}
	return ""
}

// editDistance is the optimal string alignment distance: Levenshtein plus adjacent transpositions, so "nmae" is
// one edit from "name".
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			v := min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				v = min(v, d[i-2][j-2]+1)
			}
			d[i][j] = v
		}
	}
	return d[len(ra)][len(rb)]
}
