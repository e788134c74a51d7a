"""Approvals as plain values: what an operator passes to ``approve()`` / ``deny()`` (seconds or a ``timedelta``, and
strings; no protobuf ``Duration``) and what approval reads return (state names, ints, ``datetime``s)."""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Literal, Optional, Sequence, Tuple, Union

from gait_client.gen.gait.gate.v1 import gate_service_pb2 as pb

#: The life cycle of an approval request; ``unspecified`` is what a missing or unknown state reads as.
ApprovalStateName = Literal["pending", "granted", "denied", "expired", "consumed", "unspecified"]

_STATE_NAMES = {
    pb.APPROVAL_STATE_PENDING: "pending",
    pb.APPROVAL_STATE_GRANTED: "granted",
    pb.APPROVAL_STATE_DENIED: "denied",
    pb.APPROVAL_STATE_EXPIRED: "expired",
    pb.APPROVAL_STATE_CONSUMED: "consumed",
}
_STATE_VALUES = {v: k for k, v in _STATE_NAMES.items()}


@dataclass(frozen=True)
class ApprovalRequest:
    """One approval request."""

    approval_request_id: str
    state: ApprovalStateName
    tool_name: str = ""
    intent_digest: str = ""
    policy_digest: str = ""
    args_digest: str = ""
    required_scopes: Tuple[str, ...] = ()
    required_approvals: int = 0
    granted_approvals: int = 0
    approvers: Tuple[str, ...] = ()
    identity: str = ""
    run_id: str = ""
    session_id: str = ""
    reason_codes: Tuple[str, ...] = ()
    trace_id: str = ""
    created_at: Optional[_dt.datetime] = None
    #: The request expires after this time if not granted.
    expires_at: Optional[_dt.datetime] = None
    denied_by: str = ""
    deny_reason: str = ""


@dataclass(frozen=True)
class Approval:
    """The answer to ``approve()`` / ``deny()``: the request's new state and, for a grant, the signed token."""

    #: The request after the answer (None when a token was minted for bare digests).
    request: Optional[ApprovalRequest]
    #: The ``gait.gate.approval_token`` JSON document; "" for a denial.
    token_json: str = ""
    token_id: str = ""
    token_expires_at: Optional[_dt.datetime] = None


@dataclass(frozen=True)
class ApprovalStatus:
    """The answer to ``get_approval()`` / ``wait_for_approval()``."""

    request: ApprovalRequest
    #: The granted token documents, once granted.
    token_jsons: Tuple[str, ...] = ()


@dataclass(frozen=True)
class ApprovalPage:
    """One page of ``list_approvals()``, oldest first; pass ``next_page_token`` as ``page_token`` for the next."""

    requests: Tuple[ApprovalRequest, ...]
    next_page_token: str = ""


def _time(msg: pb.ApprovalRequestInfo, name: str) -> Optional[_dt.datetime]:
    if not msg.HasField(name):
        return None
    ts = getattr(msg, name)
    return _dt.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=_dt.timezone.utc)


def approval_request_from(m: pb.ApprovalRequestInfo) -> ApprovalRequest:
    """The plain form of an ApprovalRequestInfo message."""
    return ApprovalRequest(
        approval_request_id=m.approval_request_id,
        state=_STATE_NAMES.get(m.state, "unspecified"),  # type: ignore[arg-type]
        tool_name=m.tool_name,
        intent_digest=m.intent_digest,
        policy_digest=m.policy_digest,
        args_digest=m.args_digest,
        required_scopes=tuple(m.required_scopes),
        required_approvals=m.required_approvals,
        granted_approvals=m.granted_approvals,
        approvers=tuple(m.approvers),
        identity=m.identity,
        run_id=m.run_id,
        session_id=m.session_id,
        reason_codes=tuple(m.reason_codes),
        trace_id=m.trace_id,
        created_at=_time(m, "created_at"),
        expires_at=_time(m, "expires_at"),
        denied_by=m.denied_by,
        deny_reason=m.deny_reason,
    )


def approval_from(m: pb.ApproveResponse) -> Approval:
    """The plain form of an ApproveResponse."""
    expires = None
    if m.HasField("expires_at"):
        expires = _dt.datetime.fromtimestamp(m.expires_at.seconds + m.expires_at.nanos / 1e9, tz=_dt.timezone.utc)
    return Approval(
        request=approval_request_from(m.request) if m.HasField("request") else None,
        token_json=m.token_json,
        token_id=m.token_id,
        token_expires_at=expires,
    )


def approval_status_from(m: pb.GetApprovalResponse, approval_request_id: str) -> ApprovalStatus:
    """The plain form of a GetApprovalResponse; one without a request reads as ``unspecified``, never as granted."""
    if m.HasField("request"):
        request = approval_request_from(m.request)
    else:
        request = ApprovalRequest(approval_request_id=approval_request_id, state="unspecified")
    return ApprovalStatus(request=request, token_jsons=tuple(m.token_jsons))


def _seconds(ttl: Union[float, int, _dt.timedelta]) -> Tuple[int, int]:
    secs = ttl.total_seconds() if isinstance(ttl, _dt.timedelta) else ttl
    if isinstance(secs, bool) or not isinstance(secs, (int, float)) or not math.isfinite(secs) or secs <= 0:
        raise ValueError(f"ttl must be a positive number of seconds or a timedelta, got {ttl!r}")
    whole = math.floor(secs)
    return int(whole), int(round((secs - whole) * 1e9))


def _uint32(name: str, v: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > 0xFFFFFFFF:
        raise ValueError(f"{name} must be a whole number >= 0, got {v!r}")
    return v


def grant_request(approval_request_id: Optional[str], *, approver: str, reason_code: str,
                  ttl: Union[float, int, _dt.timedelta], scopes: Sequence[str] = (), max_targets: int = 0,
                  max_ops: int = 0, intent_digest: str = "", policy_digest: str = "",
                  delegation_binding_digest: str = "") -> pb.ApproveRequest:
    """The ApproveRequest for a grant of a pending request (``approval_request_id``) or of bare digests."""
    seconds, nanos = _seconds(ttl)
    req = pb.ApproveRequest(
        decision=pb.APPROVAL_DECISION_GRANT,
        approver=approver,
        reason_code=reason_code,
        scopes=list(scopes),
        max_targets=_uint32("max_targets", max_targets),
        max_ops=_uint32("max_ops", max_ops),
    )
    req.ttl.seconds, req.ttl.nanos = seconds, nanos
    if approval_request_id is not None:
        req.approval_request_id = approval_request_id
    else:
        req.digests.intent_digest = intent_digest
        req.digests.policy_digest = policy_digest
        req.digests.delegation_binding_digest = delegation_binding_digest
    return req


def deny_request(approval_request_id: str, *, approver: str, reason: str = "") -> pb.ApproveRequest:
    """The ApproveRequest for a denial of a pending request."""
    return pb.ApproveRequest(approval_request_id=approval_request_id, decision=pb.APPROVAL_DECISION_DENY,
                             approver=approver, reason_code=reason)


def list_request(states: Sequence[str], page_size: int, page_token: str) -> pb.ListApprovalsRequest:
    unknown = [s for s in states if s not in _STATE_VALUES]
    if unknown:
        raise ValueError(f"unknown approval state {unknown[0]!r}; states are {', '.join(_STATE_VALUES)}")
    return pb.ListApprovalsRequest(states=[_STATE_VALUES[s] for s in states], page_size=_uint32("page_size", page_size),
                                   page_token=page_token)


__all__ = [
    "Approval", "ApprovalPage", "ApprovalRequest", "ApprovalStateName", "ApprovalStatus", "approval_from",
    "approval_request_from", "approval_status_from", "deny_request", "grant_request", "list_request",
]
