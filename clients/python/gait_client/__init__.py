"""gait-client: fail-closed Python client for the gait gate service (gait.gate.v1.GateService).

Only ``allow`` executes. Every failure is a ``block`` decision with ``fail_closed=True`` and a
``fail_closed_<cause>`` reason; every call has a 0.25 s deadline unless told otherwise.
"""

from gait_client.client import (
    DEFAULT_SOCKET_PATH,
    DEFAULT_TIMEOUT,
    SOCKET_ENV,
    Call,
    Decision,
    GateClient,
    GateError,
    NotAllowed,
    Target,
    build_evaluate_request,
    decision_from_response,
    fail_closed_decision,
    resolve_target,
)
from gait_client.gen.gait.gate.v1 import gate_service_pb2 as pb
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
    "Call", "ChainVerification", "DEFAULT_SOCKET_PATH", "DEFAULT_TIMEOUT", "Decision", "GateClient", "GateError",
    "NotAllowed", "RecordVerification", "SOCKET_ENV", "Target", "build_evaluate_request", "decision_from_response",
    "decode_public_key", "digest_jcs", "entry_hash_of", "fail_closed_decision", "key_id_of", "pb", "resolve_target",
    "verify_trace_entries", "verify_trace_record", "SegmentVerification", "verify_trace_segment",
]
