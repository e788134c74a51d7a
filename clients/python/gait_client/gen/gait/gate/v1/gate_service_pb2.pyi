import datetime

from gait_client.gen.gait.gate.v1 import intent_pb2 as _intent_pb2
from gait_client.gen.gait.gate.v1 import verdict_pb2 as _verdict_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApprovalDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_DECISION_UNSPECIFIED: _ClassVar[ApprovalDecision]
    APPROVAL_DECISION_GRANT: _ClassVar[ApprovalDecision]
    APPROVAL_DECISION_DENY: _ClassVar[ApprovalDecision]

class ApprovalState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_STATE_UNSPECIFIED: _ClassVar[ApprovalState]
    APPROVAL_STATE_PENDING: _ClassVar[ApprovalState]
    APPROVAL_STATE_GRANTED: _ClassVar[ApprovalState]
    APPROVAL_STATE_DENIED: _ClassVar[ApprovalState]
    APPROVAL_STATE_EXPIRED: _ClassVar[ApprovalState]
    APPROVAL_STATE_CONSUMED: _ClassVar[ApprovalState]
APPROVAL_DECISION_UNSPECIFIED: ApprovalDecision
APPROVAL_DECISION_GRANT: ApprovalDecision
APPROVAL_DECISION_DENY: ApprovalDecision
APPROVAL_STATE_UNSPECIFIED: ApprovalState
APPROVAL_STATE_PENDING: ApprovalState
APPROVAL_STATE_GRANTED: ApprovalState
APPROVAL_STATE_DENIED: ApprovalState
APPROVAL_STATE_EXPIRED: ApprovalState
APPROVAL_STATE_CONSUMED: ApprovalState

class ToolCall(_message.Message):
    __slots__ = ("adapter", "call", "call_json")
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    CALL_JSON_FIELD_NUMBER: _ClassVar[int]
    adapter: str
    call: _struct_pb2.Struct
    call_json: str
    def __init__(self, adapter: _Optional[str] = ..., call: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., call_json: _Optional[str] = ...) -> None: ...

class EvaluateRequest(_message.Message):
    __slots__ = ("intent", "tool_call", "run_id", "session_id", "approval_tokens", "approval_request_id", "delegation_tokens", "emit_runpack")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DELEGATION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    EMIT_RUNPACK_FIELD_NUMBER: _ClassVar[int]
    intent: _intent_pb2.IntentRequest
    tool_call: ToolCall
    run_id: str
    session_id: str
    approval_tokens: _containers.RepeatedScalarFieldContainer[str]
    approval_request_id: str
    delegation_tokens: _containers.RepeatedScalarFieldContainer[str]
    emit_runpack: bool
    def __init__(self, intent: _Optional[_Union[_intent_pb2.IntentRequest, _Mapping]] = ..., tool_call: _Optional[_Union[ToolCall, _Mapping]] = ..., run_id: _Optional[str] = ..., session_id: _Optional[str] = ..., approval_tokens: _Optional[_Iterable[str]] = ..., approval_request_id: _Optional[str] = ..., delegation_tokens: _Optional[_Iterable[str]] = ..., emit_runpack: _Optional[bool] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ("verdict", "reason_codes", "violations", "matched_rule", "tool_name", "intent_digest", "policy_digest", "args_digest", "required_approvals", "valid_approvals", "required_approval_scopes", "approval_request_id", "approval_ref", "trace_id", "event_id", "trace_sequence", "run_id", "policy_id", "policy_version", "runpack_path", "warnings", "created_at", "decision_latency")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    MATCHED_RULE_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    INTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    POLICY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ARGS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    VALID_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVAL_SCOPES_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REF_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    RUNPACK_PATH_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_LATENCY_FIELD_NUMBER: _ClassVar[int]
    verdict: _verdict_pb2.Verdict
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    violations: _containers.RepeatedScalarFieldContainer[str]
    matched_rule: str
    tool_name: str
    intent_digest: str
    policy_digest: str
    args_digest: str
    required_approvals: int
    valid_approvals: int
    required_approval_scopes: _containers.RepeatedScalarFieldContainer[str]
    approval_request_id: str
    approval_ref: str
    trace_id: str
    event_id: str
    trace_sequence: int
    run_id: str
    policy_id: str
    policy_version: str
    runpack_path: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    decision_latency: _duration_pb2.Duration
    def __init__(self, verdict: _Optional[_Union[_verdict_pb2.Verdict, str]] = ..., reason_codes: _Optional[_Iterable[str]] = ..., violations: _Optional[_Iterable[str]] = ..., matched_rule: _Optional[str] = ..., tool_name: _Optional[str] = ..., intent_digest: _Optional[str] = ..., policy_digest: _Optional[str] = ..., args_digest: _Optional[str] = ..., required_approvals: _Optional[int] = ..., valid_approvals: _Optional[int] = ..., required_approval_scopes: _Optional[_Iterable[str]] = ..., approval_request_id: _Optional[str] = ..., approval_ref: _Optional[str] = ..., trace_id: _Optional[str] = ..., event_id: _Optional[str] = ..., trace_sequence: _Optional[int] = ..., run_id: _Optional[str] = ..., policy_id: _Optional[str] = ..., policy_version: _Optional[str] = ..., runpack_path: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision_latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class DigestBinding(_message.Message):
    __slots__ = ("intent_digest", "policy_digest", "delegation_binding_digest")
    INTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    POLICY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    DELEGATION_BINDING_DIGEST_FIELD_NUMBER: _ClassVar[int]
    intent_digest: str
    policy_digest: str
    delegation_binding_digest: str
    def __init__(self, intent_digest: _Optional[str] = ..., policy_digest: _Optional[str] = ..., delegation_binding_digest: _Optional[str] = ...) -> None: ...

class ApproveRequest(_message.Message):
    __slots__ = ("approval_request_id", "digests", "decision", "approver", "reason_code", "ttl", "scopes", "max_targets", "max_ops")
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DIGESTS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    APPROVER_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    MAX_TARGETS_FIELD_NUMBER: _ClassVar[int]
    MAX_OPS_FIELD_NUMBER: _ClassVar[int]
    approval_request_id: str
    digests: DigestBinding
    decision: ApprovalDecision
    approver: str
    reason_code: str
    ttl: _duration_pb2.Duration
    scopes: _containers.RepeatedScalarFieldContainer[str]
    max_targets: int
    max_ops: int
    def __init__(self, approval_request_id: _Optional[str] = ..., digests: _Optional[_Union[DigestBinding, _Mapping]] = ..., decision: _Optional[_Union[ApprovalDecision, str]] = ..., approver: _Optional[str] = ..., reason_code: _Optional[str] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., scopes: _Optional[_Iterable[str]] = ..., max_targets: _Optional[int] = ..., max_ops: _Optional[int] = ...) -> None: ...

class ApproveResponse(_message.Message):
    __slots__ = ("request", "token_json", "token_id", "expires_at")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TOKEN_JSON_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    request: ApprovalRequestInfo
    token_json: str
    token_id: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, request: _Optional[_Union[ApprovalRequestInfo, _Mapping]] = ..., token_json: _Optional[str] = ..., token_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApprovalRequestInfo(_message.Message):
    __slots__ = ("approval_request_id", "state", "tool_name", "intent_digest", "policy_digest", "required_scopes", "required_approvals", "granted_approvals", "approvers", "identity", "run_id", "session_id", "reason_codes", "trace_id", "created_at", "expires_at", "args_digest", "denied_by", "deny_reason")
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    INTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    POLICY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SCOPES_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    GRANTED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    APPROVERS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ARGS_DIGEST_FIELD_NUMBER: _ClassVar[int]
    DENIED_BY_FIELD_NUMBER: _ClassVar[int]
    DENY_REASON_FIELD_NUMBER: _ClassVar[int]
    approval_request_id: str
    state: ApprovalState
    tool_name: str
    intent_digest: str
    policy_digest: str
    required_scopes: _containers.RepeatedScalarFieldContainer[str]
    required_approvals: int
    granted_approvals: int
    approvers: _containers.RepeatedScalarFieldContainer[str]
    identity: str
    run_id: str
    session_id: str
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    trace_id: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    args_digest: str
    denied_by: str
    deny_reason: str
    def __init__(self, approval_request_id: _Optional[str] = ..., state: _Optional[_Union[ApprovalState, str]] = ..., tool_name: _Optional[str] = ..., intent_digest: _Optional[str] = ..., policy_digest: _Optional[str] = ..., required_scopes: _Optional[_Iterable[str]] = ..., required_approvals: _Optional[int] = ..., granted_approvals: _Optional[int] = ..., approvers: _Optional[_Iterable[str]] = ..., identity: _Optional[str] = ..., run_id: _Optional[str] = ..., session_id: _Optional[str] = ..., reason_codes: _Optional[_Iterable[str]] = ..., trace_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., args_digest: _Optional[str] = ..., denied_by: _Optional[str] = ..., deny_reason: _Optional[str] = ...) -> None: ...

class ListApprovalsRequest(_message.Message):
    __slots__ = ("states", "page_size", "page_token")
    STATES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[ApprovalState]
    page_size: int
    page_token: str
    def __init__(self, states: _Optional[_Iterable[_Union[ApprovalState, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListApprovalsResponse(_message.Message):
    __slots__ = ("requests", "next_page_token")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[ApprovalRequestInfo]
    next_page_token: str
    def __init__(self, requests: _Optional[_Iterable[_Union[ApprovalRequestInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetApprovalRequest(_message.Message):
    __slots__ = ("approval_request_id",)
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    approval_request_id: str
    def __init__(self, approval_request_id: _Optional[str] = ...) -> None: ...

class GetApprovalResponse(_message.Message):
    __slots__ = ("request", "token_jsons")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TOKEN_JSONS_FIELD_NUMBER: _ClassVar[int]
    request: ApprovalRequestInfo
    token_jsons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request: _Optional[_Union[ApprovalRequestInfo, _Mapping]] = ..., token_jsons: _Optional[_Iterable[str]] = ...) -> None: ...

class ExportTracesRequest(_message.Message):
    __slots__ = ("from_sequence", "follow", "max_entries")
    FROM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    from_sequence: int
    follow: bool
    max_entries: int
    def __init__(self, from_sequence: _Optional[int] = ..., follow: _Optional[bool] = ..., max_entries: _Optional[int] = ...) -> None: ...

class ExportTracesResponse(_message.Message):
    __slots__ = ("sequence", "record_json", "prev_hash", "entry_hash", "trace_id", "event_id", "verdict", "kind", "tool_name", "identity", "reason_codes", "action")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RECORD_JSON_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    ENTRY_HASH_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    record_json: str
    prev_hash: str
    entry_hash: str
    trace_id: str
    event_id: str
    verdict: _verdict_pb2.Verdict
    kind: str
    tool_name: str
    identity: str
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    action: str
    def __init__(self, sequence: _Optional[int] = ..., record_json: _Optional[str] = ..., prev_hash: _Optional[str] = ..., entry_hash: _Optional[str] = ..., trace_id: _Optional[str] = ..., event_id: _Optional[str] = ..., verdict: _Optional[_Union[_verdict_pb2.Verdict, str]] = ..., kind: _Optional[str] = ..., tool_name: _Optional[str] = ..., identity: _Optional[str] = ..., reason_codes: _Optional[_Iterable[str]] = ..., action: _Optional[str] = ...) -> None: ...

class GetServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetServerInfoResponse(_message.Message):
    __slots__ = ("key_id", "public_key", "key_mode", "policy_digest", "policy_path", "trace_head_sequence", "trace_head_hash", "version", "policy_reload_error")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_MODE_FIELD_NUMBER: _ClassVar[int]
    POLICY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    POLICY_PATH_FIELD_NUMBER: _ClassVar[int]
    TRACE_HEAD_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TRACE_HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    POLICY_RELOAD_ERROR_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    public_key: str
    key_mode: str
    policy_digest: str
    policy_path: str
    trace_head_sequence: int
    trace_head_hash: str
    version: str
    policy_reload_error: str
    def __init__(self, key_id: _Optional[str] = ..., public_key: _Optional[str] = ..., key_mode: _Optional[str] = ..., policy_digest: _Optional[str] = ..., policy_path: _Optional[str] = ..., trace_head_sequence: _Optional[int] = ..., trace_head_hash: _Optional[str] = ..., version: _Optional[str] = ..., policy_reload_error: _Optional[str] = ...) -> None: ...

class KillSwitchEntry(_message.Message):
    __slots__ = ("entry_id", "enabled", "agent_id", "identity", "tool_name", "target_kind", "target_value", "environment", "path_prefixes", "workspace_prefixes", "reason", "actor", "created_at", "expires_at", "active")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    TARGET_KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_VALUE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    PATH_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    enabled: bool
    agent_id: str
    identity: str
    tool_name: str
    target_kind: str
    target_value: str
    environment: str
    path_prefixes: _containers.RepeatedScalarFieldContainer[str]
    workspace_prefixes: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    actor: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    active: bool
    def __init__(self, entry_id: _Optional[str] = ..., enabled: _Optional[bool] = ..., agent_id: _Optional[str] = ..., identity: _Optional[str] = ..., tool_name: _Optional[str] = ..., target_kind: _Optional[str] = ..., target_value: _Optional[str] = ..., environment: _Optional[str] = ..., path_prefixes: _Optional[_Iterable[str]] = ..., workspace_prefixes: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., active: _Optional[bool] = ...) -> None: ...

class SetKillSwitchRequest(_message.Message):
    __slots__ = ("entry_id", "agent_id", "identity", "tool_name", "target_kind", "target_value", "environment", "path_prefixes", "workspace_prefixes", "reason", "actor", "ttl", "expires_at")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    TARGET_KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_VALUE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    PATH_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_PREFIXES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    agent_id: str
    identity: str
    tool_name: str
    target_kind: str
    target_value: str
    environment: str
    path_prefixes: _containers.RepeatedScalarFieldContainer[str]
    workspace_prefixes: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    actor: str
    ttl: _duration_pb2.Duration
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, entry_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., identity: _Optional[str] = ..., tool_name: _Optional[str] = ..., target_kind: _Optional[str] = ..., target_value: _Optional[str] = ..., environment: _Optional[str] = ..., path_prefixes: _Optional[_Iterable[str]] = ..., workspace_prefixes: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetKillSwitchResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: KillSwitchEntry
    def __init__(self, entry: _Optional[_Union[KillSwitchEntry, _Mapping]] = ...) -> None: ...

class ListKillSwitchesRequest(_message.Message):
    __slots__ = ("include_inactive",)
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    include_inactive: bool
    def __init__(self, include_inactive: _Optional[bool] = ...) -> None: ...

class ListKillSwitchesResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[KillSwitchEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[KillSwitchEntry, _Mapping]]] = ...) -> None: ...

class ClearKillSwitchRequest(_message.Message):
    __slots__ = ("entry_id", "expire", "actor", "reason")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    expire: bool
    actor: str
    reason: str
    def __init__(self, entry_id: _Optional[str] = ..., expire: _Optional[bool] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ClearKillSwitchResponse(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: KillSwitchEntry
    def __init__(self, entry: _Optional[_Union[KillSwitchEntry, _Mapping]] = ...) -> None: ...

class WatchDecisionsRequest(_message.Message):
    __slots__ = ("from_sequence", "follow", "max_entries", "verdicts", "tool_names", "identities", "reason_codes", "include_operator_actions")
    FROM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    VERDICTS_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAMES_FIELD_NUMBER: _ClassVar[int]
    IDENTITIES_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_OPERATOR_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    from_sequence: int
    follow: bool
    max_entries: int
    verdicts: _containers.RepeatedScalarFieldContainer[_verdict_pb2.Verdict]
    tool_names: _containers.RepeatedScalarFieldContainer[str]
    identities: _containers.RepeatedScalarFieldContainer[str]
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    include_operator_actions: bool
    def __init__(self, from_sequence: _Optional[int] = ..., follow: _Optional[bool] = ..., max_entries: _Optional[int] = ..., verdicts: _Optional[_Iterable[_Union[_verdict_pb2.Verdict, str]]] = ..., tool_names: _Optional[_Iterable[str]] = ..., identities: _Optional[_Iterable[str]] = ..., reason_codes: _Optional[_Iterable[str]] = ..., include_operator_actions: _Optional[bool] = ...) -> None: ...

class WatchDecisionsResponse(_message.Message):
    __slots__ = ("sequence", "kind", "verdict", "tool_name", "identity", "reason_codes", "action", "trace_id", "event_id", "created_at", "decision_latency", "approval_request_id", "record_json", "entry_hash", "observed_at")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_LATENCY_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RECORD_JSON_FIELD_NUMBER: _ClassVar[int]
    ENTRY_HASH_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    kind: str
    verdict: _verdict_pb2.Verdict
    tool_name: str
    identity: str
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    action: str
    trace_id: str
    event_id: str
    created_at: _timestamp_pb2.Timestamp
    decision_latency: _duration_pb2.Duration
    approval_request_id: str
    record_json: str
    entry_hash: str
    observed_at: _timestamp_pb2.Timestamp
    def __init__(self, sequence: _Optional[int] = ..., kind: _Optional[str] = ..., verdict: _Optional[_Union[_verdict_pb2.Verdict, str]] = ..., tool_name: _Optional[str] = ..., identity: _Optional[str] = ..., reason_codes: _Optional[_Iterable[str]] = ..., action: _Optional[str] = ..., trace_id: _Optional[str] = ..., event_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision_latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., approval_request_id: _Optional[str] = ..., record_json: _Optional[str] = ..., entry_hash: _Optional[str] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
