import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IntentRequest(_message.Message):
    __slots__ = ("tool_name", "args", "targets", "arg_provenance", "skill_provenance", "delegation", "context", "script", "created_at", "producer_version", "relationship", "schema_id", "schema_version")
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    ARG_PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    SKILL_PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    DELEGATION_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_VERSION_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    tool_name: str
    args: _struct_pb2.Struct
    targets: _containers.RepeatedCompositeFieldContainer[Target]
    arg_provenance: _containers.RepeatedCompositeFieldContainer[ArgProvenance]
    skill_provenance: SkillProvenance
    delegation: Delegation
    context: IntentContext
    script: Script
    created_at: _timestamp_pb2.Timestamp
    producer_version: str
    relationship: _struct_pb2.Struct
    schema_id: str
    schema_version: str
    def __init__(self, tool_name: _Optional[str] = ..., args: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., targets: _Optional[_Iterable[_Union[Target, _Mapping]]] = ..., arg_provenance: _Optional[_Iterable[_Union[ArgProvenance, _Mapping]]] = ..., skill_provenance: _Optional[_Union[SkillProvenance, _Mapping]] = ..., delegation: _Optional[_Union[Delegation, _Mapping]] = ..., context: _Optional[_Union[IntentContext, _Mapping]] = ..., script: _Optional[_Union[Script, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., producer_version: _Optional[str] = ..., relationship: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., schema_id: _Optional[str] = ..., schema_version: _Optional[str] = ...) -> None: ...

class Target(_message.Message):
    __slots__ = ("kind", "value", "operation", "sensitivity", "endpoint_class", "endpoint_domain", "discovery_method", "destructive", "read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_CLASS_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    DISCOVERY_METHOD_FIELD_NUMBER: _ClassVar[int]
    DESTRUCTIVE_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_HINT_FIELD_NUMBER: _ClassVar[int]
    DESTRUCTIVE_HINT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_HINT_FIELD_NUMBER: _ClassVar[int]
    OPEN_WORLD_HINT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    value: str
    operation: str
    sensitivity: str
    endpoint_class: str
    endpoint_domain: str
    discovery_method: str
    destructive: bool
    read_only_hint: bool
    destructive_hint: bool
    idempotent_hint: bool
    open_world_hint: bool
    def __init__(self, kind: _Optional[str] = ..., value: _Optional[str] = ..., operation: _Optional[str] = ..., sensitivity: _Optional[str] = ..., endpoint_class: _Optional[str] = ..., endpoint_domain: _Optional[str] = ..., discovery_method: _Optional[str] = ..., destructive: _Optional[bool] = ..., read_only_hint: _Optional[bool] = ..., destructive_hint: _Optional[bool] = ..., idempotent_hint: _Optional[bool] = ..., open_world_hint: _Optional[bool] = ...) -> None: ...

class ArgProvenance(_message.Message):
    __slots__ = ("arg_path", "source", "source_ref", "integrity_digest")
    ARG_PATH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REF_FIELD_NUMBER: _ClassVar[int]
    INTEGRITY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    arg_path: str
    source: str
    source_ref: str
    integrity_digest: str
    def __init__(self, arg_path: _Optional[str] = ..., source: _Optional[str] = ..., source_ref: _Optional[str] = ..., integrity_digest: _Optional[str] = ...) -> None: ...

class SkillProvenance(_message.Message):
    __slots__ = ("skill_name", "skill_version", "source", "publisher", "digest", "signature_key_id")
    SKILL_NAME_FIELD_NUMBER: _ClassVar[int]
    SKILL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHER_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    skill_name: str
    skill_version: str
    source: str
    publisher: str
    digest: str
    signature_key_id: str
    def __init__(self, skill_name: _Optional[str] = ..., skill_version: _Optional[str] = ..., source: _Optional[str] = ..., publisher: _Optional[str] = ..., digest: _Optional[str] = ..., signature_key_id: _Optional[str] = ...) -> None: ...

class DelegationLink(_message.Message):
    __slots__ = ("delegator_identity", "delegate_identity", "scope_class", "token_ref", "issued_at", "expires_at")
    DELEGATOR_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    DELEGATE_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    SCOPE_CLASS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_REF_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    delegator_identity: str
    delegate_identity: str
    scope_class: str
    token_ref: str
    issued_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, delegator_identity: _Optional[str] = ..., delegate_identity: _Optional[str] = ..., scope_class: _Optional[str] = ..., token_ref: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Delegation(_message.Message):
    __slots__ = ("requester_identity", "scope_class", "token_refs", "chain", "issued_at", "expires_at")
    REQUESTER_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    SCOPE_CLASS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_REFS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    requester_identity: str
    scope_class: str
    token_refs: _containers.RepeatedScalarFieldContainer[str]
    chain: _containers.RepeatedCompositeFieldContainer[DelegationLink]
    issued_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, requester_identity: _Optional[str] = ..., scope_class: _Optional[str] = ..., token_refs: _Optional[_Iterable[str]] = ..., chain: _Optional[_Iterable[_Union[DelegationLink, _Mapping]]] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AgentIdentity(_message.Message):
    __slots__ = ("lifecycle_states", "owner", "manifest_digest", "publisher", "source", "issued_at", "approved_at", "expires_at", "revoked")
    LIFECYCLE_STATES_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_DIGEST_FIELD_NUMBER: _ClassVar[int]
    PUBLISHER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    APPROVED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    lifecycle_states: _containers.RepeatedScalarFieldContainer[str]
    owner: str
    manifest_digest: str
    publisher: str
    source: str
    issued_at: _timestamp_pb2.Timestamp
    approved_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    revoked: bool
    def __init__(self, lifecycle_states: _Optional[_Iterable[str]] = ..., owner: _Optional[str] = ..., manifest_digest: _Optional[str] = ..., publisher: _Optional[str] = ..., source: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., approved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked: _Optional[bool] = ...) -> None: ...

class Sandbox(_message.Message):
    __slots__ = ("network_mode", "writable_paths", "read_only_roots", "env_exposure_mode", "timeout_seconds", "filesystem_isolation", "user_mode", "evidence_ref", "evidence_digest")
    NETWORK_MODE_FIELD_NUMBER: _ClassVar[int]
    WRITABLE_PATHS_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_ROOTS_FIELD_NUMBER: _ClassVar[int]
    ENV_EXPOSURE_MODE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FILESYSTEM_ISOLATION_FIELD_NUMBER: _ClassVar[int]
    USER_MODE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_REF_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    network_mode: str
    writable_paths: _containers.RepeatedScalarFieldContainer[str]
    read_only_roots: _containers.RepeatedScalarFieldContainer[str]
    env_exposure_mode: str
    timeout_seconds: int
    filesystem_isolation: str
    user_mode: str
    evidence_ref: str
    evidence_digest: str
    def __init__(self, network_mode: _Optional[str] = ..., writable_paths: _Optional[_Iterable[str]] = ..., read_only_roots: _Optional[_Iterable[str]] = ..., env_exposure_mode: _Optional[str] = ..., timeout_seconds: _Optional[int] = ..., filesystem_isolation: _Optional[str] = ..., user_mode: _Optional[str] = ..., evidence_ref: _Optional[str] = ..., evidence_digest: _Optional[str] = ...) -> None: ...

class IntentContext(_message.Message):
    __slots__ = ("identity", "workspace", "risk_class", "phase", "agent_id", "agent_identity", "run_id", "workflow_id", "repo", "environment", "job_id", "session_id", "request_id", "credential_ref", "credential_source", "credential_access_type", "credential_issuer", "credential_subject", "credential_owner", "credential_target_binding", "credential_run_binding", "credential_job_binding", "credential_ttl_seconds", "credential_scopes", "approval_ref", "wrkr_inventory_ref", "agent_action_bom_ref", "auth_context", "sandbox", "environment_fingerprint", "context_set_digest", "context_evidence_mode", "context_refs")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    RISK_CLASS_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    REPO_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_REF_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ACCESS_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_ISSUER_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_OWNER_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_TARGET_BINDING_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_RUN_BINDING_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_JOB_BINDING_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_SCOPES_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REF_FIELD_NUMBER: _ClassVar[int]
    WRKR_INVENTORY_REF_FIELD_NUMBER: _ClassVar[int]
    AGENT_ACTION_BOM_REF_FIELD_NUMBER: _ClassVar[int]
    AUTH_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_SET_DIGEST_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_EVIDENCE_MODE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_REFS_FIELD_NUMBER: _ClassVar[int]
    identity: str
    workspace: str
    risk_class: str
    phase: str
    agent_id: str
    agent_identity: AgentIdentity
    run_id: str
    workflow_id: str
    repo: str
    environment: str
    job_id: str
    session_id: str
    request_id: str
    credential_ref: str
    credential_source: str
    credential_access_type: str
    credential_issuer: str
    credential_subject: str
    credential_owner: str
    credential_target_binding: str
    credential_run_binding: str
    credential_job_binding: str
    credential_ttl_seconds: int
    credential_scopes: _containers.RepeatedScalarFieldContainer[str]
    approval_ref: str
    wrkr_inventory_ref: str
    agent_action_bom_ref: str
    auth_context: _struct_pb2.Struct
    sandbox: Sandbox
    environment_fingerprint: str
    context_set_digest: str
    context_evidence_mode: str
    context_refs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, identity: _Optional[str] = ..., workspace: _Optional[str] = ..., risk_class: _Optional[str] = ..., phase: _Optional[str] = ..., agent_id: _Optional[str] = ..., agent_identity: _Optional[_Union[AgentIdentity, _Mapping]] = ..., run_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., repo: _Optional[str] = ..., environment: _Optional[str] = ..., job_id: _Optional[str] = ..., session_id: _Optional[str] = ..., request_id: _Optional[str] = ..., credential_ref: _Optional[str] = ..., credential_source: _Optional[str] = ..., credential_access_type: _Optional[str] = ..., credential_issuer: _Optional[str] = ..., credential_subject: _Optional[str] = ..., credential_owner: _Optional[str] = ..., credential_target_binding: _Optional[str] = ..., credential_run_binding: _Optional[str] = ..., credential_job_binding: _Optional[str] = ..., credential_ttl_seconds: _Optional[int] = ..., credential_scopes: _Optional[_Iterable[str]] = ..., approval_ref: _Optional[str] = ..., wrkr_inventory_ref: _Optional[str] = ..., agent_action_bom_ref: _Optional[str] = ..., auth_context: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., sandbox: _Optional[_Union[Sandbox, _Mapping]] = ..., environment_fingerprint: _Optional[str] = ..., context_set_digest: _Optional[str] = ..., context_evidence_mode: _Optional[str] = ..., context_refs: _Optional[_Iterable[str]] = ...) -> None: ...

class ScriptStep(_message.Message):
    __slots__ = ("tool_name", "args", "targets", "arg_provenance")
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    ARG_PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    tool_name: str
    args: _struct_pb2.Struct
    targets: _containers.RepeatedCompositeFieldContainer[Target]
    arg_provenance: _containers.RepeatedCompositeFieldContainer[ArgProvenance]
    def __init__(self, tool_name: _Optional[str] = ..., args: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., targets: _Optional[_Iterable[_Union[Target, _Mapping]]] = ..., arg_provenance: _Optional[_Iterable[_Union[ArgProvenance, _Mapping]]] = ...) -> None: ...

class Script(_message.Message):
    __slots__ = ("steps",)
    STEPS_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[ScriptStep]
    def __init__(self, steps: _Optional[_Iterable[_Union[ScriptStep, _Mapping]]] = ...) -> None: ...
