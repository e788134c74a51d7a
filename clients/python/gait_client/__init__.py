"""gait-client: fail-closed Python client for the gait gate service (gait.gate.v1.GateService).

Only ``allow`` executes. Every failure is a ``block`` decision with ``fail_closed=True`` and a
``fail_closed_<cause>`` reason; every call has a 0.25 s deadline unless told otherwise. ``GateClient`` is the
blocking client, ``AsyncGateClient`` (``gait_client.aio``) its asyncio twin; intents can be written as the typed
dataclasses of ``gait_client.intent`` or as raw JSON dicts.
"""

from gait_client.aio import AsyncGateClient
from gait_client.approval import Approval, ApprovalPage, ApprovalRequest, ApprovalStateName, ApprovalStatus
from gait_client.client import (
    DEFAULT_CHANNEL_OPTIONS,
    DEFAULT_TIMEOUT,
    SOCKET_ENV,
    Call,
    Decision,
    GateClient,
    GateError,
    NotAllowed,
    Target,
    ToolCall,
    build_evaluate_request,
    decision_from_response,
    default_socket_path,
    fail_closed_decision,
    resolve_target,
)
from gait_client.gen.gait.gate.v1 import gate_service_pb2 as pb
from gait_client.intent import (
    AgentIdentity,
    ArgProvenance,
    Delegation,
    DelegationLink,
    Intent,
    IntentContext,
    IntentTarget,
    Sandbox,
    Script,
    ScriptStep,
    SkillProvenance,
    check_intent_json,
    target,
)
from gait_client.verify import (
    ChainVerification,
    RecordVerification,
    SegmentVerification,
    decode_public_key,
    digest_jcs,
    entry_hash_of,
    key_id_of,
    verify_trace_entries,
    verify_trace_record,
    verify_trace_segment,
)

__version__ = "0.1.0"

__all__ = [
    "AgentIdentity", "ArgProvenance", "Approval", "ApprovalPage", "ApprovalRequest", "ApprovalStateName",
    "ApprovalStatus", "AsyncGateClient", "Call", "ChainVerification", "DEFAULT_CHANNEL_OPTIONS", "DEFAULT_TIMEOUT",
    "Decision", "Delegation", "DelegationLink", "GateClient", "GateError", "Intent", "IntentContext", "IntentTarget",
    "NotAllowed", "RecordVerification", "SOCKET_ENV", "Sandbox", "Script", "ScriptStep", "SegmentVerification",
    "SkillProvenance", "Target", "ToolCall", "build_evaluate_request", "check_intent_json", "decision_from_response",
    "decode_public_key", "default_socket_path", "digest_jcs", "entry_hash_of", "fail_closed_decision", "key_id_of",
    "pb", "resolve_target", "target", "verify_trace_entries", "verify_trace_record", "verify_trace_segment",
]
