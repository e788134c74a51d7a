/**
 * @gait-gate/client: fail-closed TypeScript client for the gait gate service (gait.gate.v1.GateService).
 *
 * Only `allow` executes. Every failure is a `block` decision with `failClosed: true` and a `fail_closed_<cause>`
 * reason; every call has a 250 ms deadline unless told otherwise.
 */
export {
  DEFAULT_CLIENT_OPTIONS,
  DEFAULT_TIMEOUT_MS,
  GateClient,
  GateError,
  buildEvaluateRequest,
  isGateError,
  type CallOptions,
  type FailClosedEvent,
  type GateCall,
  type GateClientOptions,
  type GuardOutcome,
  type TraceEntry,
} from "./client.js";
export {
  Decision,
  causeOfStatus,
  decisionFromResponse,
  failClosedDecision,
  type DecisionFields,
  type FailClosedCause,
  type VerdictName,
} from "./decision.js";
export {
  checkIntentJson,
  intent,
  intentToJson,
  target,
  type AgentIdentity,
  type ArgProvenance,
  type ContextEvidenceMode,
  type CredentialAccessType,
  type CredentialSource,
  type Delegation,
  type DelegationLink,
  type DiscoveryMethod,
  type EndpointClass,
  type Intent,
  type IntentContext,
  type IntentTarget,
  type JsonObjectInput,
  type KnownOperation,
  type Phase,
  type ProvenanceSource,
  type RiskClass,
  type Sandbox,
  type SandboxEnvExposureMode,
  type SandboxFilesystemIsolation,
  type SandboxNetworkMode,
  type SandboxUserMode,
  type Script,
  type ScriptStep,
  type SkillProvenance,
  type TargetKind,
  type TargetOperation,
  type Timestamp,
} from "./intent.js";
export {
  type Approval,
  type ApprovalRequest,
  type ApprovalStateName,
  type ApprovalStatus,
  type Denial,
  type DigestBinding,
  type Grant,
} from "./approval.js";
export { SOCKET_ENV, defaultSocketPath, resolveTarget, type Target, type TargetSource } from "./target.js";
export {
  decodePublicKey,
  digestJCS,
  entryHashOf,
  keyIdOf,
  verifyTraceEntries,
  verifyTraceRecord,
  verifyTraceSegment,
  type ChainEntry,
  type SegmentVerification,
  type ChainVerification,
  type RecordVerification,
} from "./verify.js";
export * as gen from "./gen/gait/gate/v1/gate_service_pb.js";
export { ApprovalDecision, ApprovalState } from "./gen/gait/gate/v1/gate_service_pb.js";
export { Verdict } from "./gen/gait/gate/v1/verdict_pb.js";
export { ErrorReason } from "./gen/gait/gate/v1/error_reason_pb.js";
