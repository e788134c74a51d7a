"""GateClient: a small fail-closed client for gait.gate.v1.GateService on grpcio.

Safe defaults: every call has a deadline (0.25 s unless set; ``timeout <= 0`` is the explicit opt-out),
``evaluate()`` never raises and turns every failure into a ``block`` decision marked ``fail_closed``, and the guards
(``guarded`` decorator, ``gate`` context manager, ``guard``) run a tool only on ``allow``. There is deliberately no
option that turns a failure into ``allow``.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Tuple, TypeVar, Union

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from gait_client._status import error_reason_from_status_details
from gait_client.gen.gait.gate.v1 import gate_service_pb2 as pb
from gait_client.gen.gait.gate.v1 import verdict_pb2

log = logging.getLogger("gait_client")

#: Default deadline of every call, in seconds (250 ms: the same in the TypeScript and Go clients).
DEFAULT_TIMEOUT = 0.25
#: The server's default agent socket, relative to the working directory (``gait mcp serve`` without --listen).
DEFAULT_SOCKET_PATH = "gait-out/serve/gate.sock"
#: Environment variable that overrides the default target.
SOCKET_ENV = "GAIT_SOCKET"

_SERVICE = "/gait.gate.v1.GateService/"

_VERDICTS = {
    verdict_pb2.VERDICT_ALLOW: "allow",
    verdict_pb2.VERDICT_BLOCK: "block",
    verdict_pb2.VERDICT_REQUIRE_APPROVAL: "require_approval",
    verdict_pb2.VERDICT_DRY_RUN: "dry_run",
}

Call = Mapping[str, Any]
"""One call to decide on, with Gait's snake_case keys: exactly one of ``intent`` (a ``gait.gate.intent_request``
JSON object) or ``tool_call`` (``{"adapter": "openai", "call": {...} | "json text"}``), plus optional ``run_id``,
``session_id``, ``approval_tokens``, ``approval_request_id``, ``delegation_tokens``, ``emit_runpack``."""


@dataclass(frozen=True)
class Target:
    """A resolved connection target: the gRPC target string and, for a Unix socket, its absolute path."""

    uri: str
    socket_path: Optional[str] = None


def resolve_target(explicit: Optional[str] = None, env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None) -> Target:
    """Explicit argument > ``$GAIT_SOCKET`` > ``<cwd>/gait-out/serve/gate.sock``.

    ``unix:///abs``, ``unix:/abs``, ``unix:rel`` and filesystem paths (absolute or starting with ``.``) are Unix
    sockets (relative ones resolve against ``cwd``); anything else (``host:port``) is TCP.
    """
    env = os.environ if env is None else env
    raw = (explicit or "").strip() or (env.get(SOCKET_ENV) or "").strip() or DEFAULT_SOCKET_PATH
    path: Optional[str] = None
    if raw.startswith("unix://"):
        path = raw[len("unix://") :]
    elif raw.startswith("unix:"):
        path = raw[len("unix:") :]
    elif raw.startswith("/") or raw.startswith(".") or raw == DEFAULT_SOCKET_PATH:
        path = raw
    if path is None:
        return Target(uri=raw)
    if not path:
        raise ValueError(f"invalid gait target {raw!r}: empty socket path")
    abs_path = os.path.normpath(os.path.join(cwd or os.getcwd(), path))
    return Target(uri=f"unix://{abs_path}", socket_path=abs_path)


@dataclass(frozen=True)
class Decision:
    """The outcome of one ``evaluate()``. Never raised: failures are decisions too. Only ``allowed`` executes."""

    verdict: str
    reason_codes: Tuple[str, ...]
    violations: Tuple[str, ...] = ()
    #: True when the client produced this ``block`` itself because the call failed.
    fail_closed: bool = False
    #: Why it failed closed (``deadline_exceeded``, ``unavailable``, ``malformed_response``, ...).
    cause: Optional[str] = None
    #: gRPC status code name (``DEADLINE_EXCEEDED``) when the call failed with a status.
    status_code: Optional[str] = None
    #: google.rpc.ErrorInfo.reason sent by the server (an ErrorReason name such as ``INVALID_INTENT``).
    error_reason: Optional[str] = None
    message: Optional[str] = None
    #: The pending approval request when ``verdict`` is ``require_approval``.
    approval_request_id: str = ""
    trace_id: str = ""
    intent_digest: str = ""
    policy_digest: str = ""
    #: The full server answer, when there was one.
    response: Optional[pb.EvaluateResponse] = field(default=None, compare=False, repr=False)

    @property
    def allowed(self) -> bool:
        """True only for a well-formed VERDICT_ALLOW answer."""
        return self.verdict == "allow" and not self.fail_closed


def fail_closed_decision(cause: str, message: str, *, status_code: Optional[str] = None, error_reason: Optional[str] = None,
                         response: Optional[pb.EvaluateResponse] = None) -> Decision:
    """The fail-closed ``block`` for a cause: reason code ``fail_closed_<cause>``."""
    return Decision(
        verdict="block",
        reason_codes=(f"fail_closed_{cause}",),
        fail_closed=True,
        cause=cause,
        status_code=status_code,
        error_reason=error_reason,
        message=message,
        trace_id=response.trace_id if response is not None else "",
        intent_digest=response.intent_digest if response is not None else "",
        policy_digest=response.policy_digest if response is not None else "",
        response=response,
    )


def decision_from_response(res: pb.EvaluateResponse) -> Decision:
    """A decoded answer as a decision; VERDICT_UNSPECIFIED or an unknown number fails closed."""
    if res.verdict == verdict_pb2.VERDICT_UNSPECIFIED:
        return fail_closed_decision("unspecified_verdict", "the server answered VERDICT_UNSPECIFIED; treated as block", response=res)
    name = _VERDICTS.get(res.verdict)
    if name is None:
        return fail_closed_decision("unknown_verdict", f"the server answered an unknown verdict ({res.verdict}); treated as block", response=res)
    return Decision(
        verdict=name,
        reason_codes=tuple(res.reason_codes),
        violations=tuple(res.violations),
        approval_request_id=res.approval_request_id,
        trace_id=res.trace_id,
        intent_digest=res.intent_digest,
        policy_digest=res.policy_digest,
        response=res,
    )


class GateError(Exception):
    """A failed non-evaluate call (approval, export, server info)."""

    def __init__(self, cause: str, message: str, status_code: Optional[str] = None, error_reason: Optional[str] = None):
        super().__init__(message)
        self.cause = cause
        self.status_code = status_code
        self.error_reason = error_reason


class NotAllowed(Exception):
    """Raised by the guards when the gate did not answer ``allow``: the tool did not run. ``decision`` says why."""

    def __init__(self, decision: Decision):
        super().__init__(f"tool call not allowed: verdict {decision.verdict} ({', '.join(decision.reason_codes)})")
        self.decision = decision


def build_evaluate_request(call: Union[Call, pb.EvaluateRequest]) -> pb.EvaluateRequest:
    """Builds the EvaluateRequest for a call; raises ValueError naming what is wrong with the input."""
    if isinstance(call, pb.EvaluateRequest):
        return call
    if not isinstance(call, Mapping):
        raise ValueError("call must be a mapping with 'intent' or 'tool_call'")
    has_intent = call.get("intent") is not None
    has_tool = call.get("tool_call") is not None
    if has_intent == has_tool:
        raise ValueError("call must have exactly one of 'intent' or 'tool_call'")
    req = pb.EvaluateRequest(
        run_id=call.get("run_id", "") or "",
        session_id=call.get("session_id", "") or "",
        approval_tokens=list(call.get("approval_tokens") or ()),
        approval_request_id=call.get("approval_request_id", "") or "",
        delegation_tokens=list(call.get("delegation_tokens") or ()),
        emit_runpack=bool(call.get("emit_runpack", False)),
    )
    if has_intent:
        intent = call["intent"]
        if not isinstance(intent, Mapping):
            raise ValueError("intent must be a JSON object")
        try:
            json_format.ParseDict(dict(intent), req.intent)
        except json_format.ParseError as e:
            raise ValueError(f"intent does not match gait.gate.intent_request: {e}") from e
    else:
        tc = call["tool_call"]
        if not isinstance(tc, Mapping) or tc.get("call") is None:
            raise ValueError("tool_call must be {'adapter': ..., 'call': <JSON object or text>}")
        payload = tc["call"]
        req.tool_call.adapter = tc.get("adapter", "") or ""
        req.tool_call.call_json = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return req


def _status_name(code: Optional[grpc.StatusCode]) -> str:
    return code.name if code is not None else "UNKNOWN"


def _rpc_error_parts(err: grpc.RpcError) -> Tuple[str, str, str, Optional[str]]:
    """(cause, message, status name, ErrorInfo reason) of a failed call."""
    code = err.code() if hasattr(err, "code") else None
    name = _status_name(code)
    cause = name.lower() if code is not None and code != grpc.StatusCode.OK else "unknown"
    details = err.details() if hasattr(err, "details") else str(err)
    reason = None
    trailers = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    for k, v in trailers or ():
        if k == "grpc-status-details-bin":
            reason = error_reason_from_status_details(v if isinstance(v, bytes) else None)
    return cause, details or name, name, reason


T = TypeVar("T")
_UNSET: Any = object()


class GateClient:
    """A fail-closed client for one gate server. Thread-safe; create one per target and reuse it.

    Args:
        target: ``unix:///abs/path.sock``, a socket path, or ``host:port`` for TCP. Defaults to ``$GAIT_SOCKET``, else
            ``<cwd>/gait-out/serve/gate.sock`` (the server's default socket).
        timeout: deadline of every call in seconds unless overridden per call; ``<= 0`` or ``None`` is the explicit
            opt-out. Default 0.25.
        token: bearer token sent as ``authorization: Bearer <token>`` (servers run with ``--auth-mode token``).
        on_fail_closed: called with every fail-closed decision after it was counted and logged.
    """

    def __init__(self, target: Optional[str] = None, *, timeout: Optional[float] = DEFAULT_TIMEOUT, token: Optional[str] = None,
                 on_fail_closed: Optional[Callable[[Decision], None]] = None,
                 channel_options: Sequence[Tuple[str, Any]] = ()):
        self.target = resolve_target(target)
        self._timeout = timeout
        self._metadata: Tuple[Tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        self._on_fail_closed = on_fail_closed
        opts = {"grpc.initial_reconnect_backoff_ms": 50, "grpc.max_reconnect_backoff_ms": 1000}
        opts.update(dict(channel_options))
        self._channel = grpc.insecure_channel(self.target.uri, options=list(opts.items()))
        self._lock = threading.Lock()
        self._counts: Dict[str, int] = {}
        self._total = 0

    # ---- lifecycle and counters ----
    def close(self) -> None:
        """Closes the channel; later calls fail closed."""
        self._channel.close()

    def __enter__(self) -> "GateClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def fail_closed_total(self) -> int:
        """Number of fail-closed decisions this client produced."""
        with self._lock:
            return self._total

    def fail_closed_counts(self) -> Dict[str, int]:
        """Fail-closed decisions by reason code, e.g. ``{"fail_closed_unavailable": 2}``."""
        with self._lock:
            return dict(self._counts)

    # ---- evaluate and guards ----
    def evaluate(self, call: Union[Call, pb.EvaluateRequest], *, timeout: Optional[float] = _UNSET) -> Decision:
        """Asks the gate whether a call may run. Never raises: every failure is a ``block`` with ``fail_closed=True``."""
        try:
            try:
                req = build_evaluate_request(call)
            except ValueError as e:
                return self._record(fail_closed_decision("invalid_argument", f"invalid call: {e}"), "Evaluate")
            ok, payload = self._unary("Evaluate", req, timeout)
            if not ok:
                cause, message, status, reason = payload  # type: ignore[misc]
                decision = fail_closed_decision(cause, message, status_code=status, error_reason=reason)
            else:
                try:
                    res = pb.EvaluateResponse.FromString(payload)  # type: ignore[arg-type]
                except Exception as e:  # noqa: BLE001 - any decode failure blocks
                    decision = fail_closed_decision("malformed_response", f"the server's answer does not decode: {e}")
                else:
                    decision = decision_from_response(res)
        except Exception as e:  # noqa: BLE001 - a client bug must still block
            decision = fail_closed_decision("unknown", f"client error: {e}")
        return self._record(decision, "Evaluate")

    def guard(self, call: Union[Call, pb.EvaluateRequest], fn: Callable[..., T], *args: Any, timeout: Optional[float] = _UNSET, **kwargs: Any) -> T:
        """Runs ``fn(*args, **kwargs)`` only when the gate answers ``allow``; else raises :class:`NotAllowed`."""
        decision = self.evaluate(call, timeout=timeout)
        if not decision.allowed:
            raise NotAllowed(decision)
        return fn(*args, **kwargs)

    def gate(self, call: Union[Call, pb.EvaluateRequest], *, timeout: Optional[float] = _UNSET) -> "_Gate":
        """Context manager: ``with client.gate(call) as decision: run_tool()``. Raises :class:`NotAllowed` on entry
        (so the body never runs) unless the verdict is ``allow``."""
        return _Gate(self, call, timeout)

    def guarded(self, tool_name: Optional[str] = None, *, context: Optional[Mapping[str, Any]] = None,
                to_call: Optional[Callable[..., Call]] = None,
                on_blocked: Optional[Callable[[Decision], Any]] = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator for a tool function: each call is evaluated first and the function runs only on ``allow``.

        By default the intent is ``{"tool_name": tool_name or fn.__name__, "args": <the bound arguments>,
        "context": context}``; pass ``to_call(*args, **kwargs) -> call`` to build it yourself (targets, provenance).
        When not allowed, raises :class:`NotAllowed`, or returns ``on_blocked(decision)`` if given (handy for
        LangChain-style tools that report a refusal back to the model instead of raising).
        """

        def decorate(fn: Callable[..., T]) -> Callable[..., T]:
            sig = inspect.signature(fn)
            name = tool_name or fn.__name__

            def build(*args: Any, **kwargs: Any) -> Call:
                if to_call is not None:
                    return to_call(*args, **kwargs)
                bound = sig.bind(*args, **kwargs)
                bound.apply_defaults()
                intent: Dict[str, Any] = {"tool_name": name, "args": dict(bound.arguments)}
                if context is not None:
                    intent["context"] = dict(context)
                return {"intent": intent}

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> T:
                decision = self.evaluate(build(*args, **kwargs))
                if not decision.allowed:
                    if on_blocked is not None:
                        return on_blocked(decision)  # type: ignore[no-any-return]
                    raise NotAllowed(decision)
                return fn(*args, **kwargs)

            wrapper.gait_tool_name = name  # type: ignore[attr-defined]
            return wrapper

        return decorate

    # ---- approvals ----
    def get_approval(self, approval_request_id: str, *, timeout: Optional[float] = _UNSET) -> pb.GetApprovalResponse:
        """One approval request (and its token documents once granted). Raises :class:`GateError`."""
        return self._unary_decoded("GetApproval", pb.GetApprovalRequest(approval_request_id=approval_request_id), pb.GetApprovalResponse, timeout)

    def wait_for_approval(self, approval_request_id: str, *, interval: float = 0.5, wait: float = 300.0,
                          timeout: Optional[float] = _UNSET) -> pb.GetApprovalResponse:
        """Polls GetApproval until the request leaves PENDING and returns its last state. ``wait`` bounds the whole
        wait (GateError cause ``deadline_exceeded``); each poll has the per-call deadline."""
        end = time.monotonic() + wait
        while True:
            res = self.get_approval(approval_request_id, timeout=timeout)
            if res.request.state != pb.APPROVAL_STATE_PENDING:
                return res
            left = end - time.monotonic()
            if left <= 0:
                raise GateError("deadline_exceeded", f"approval {approval_request_id} still pending after {wait} s")
            time.sleep(min(interval, left))

    def evaluate_after_approval(self, call: Call, decision: Decision, *, interval: float = 0.5, wait: float = 300.0,
                                timeout: Optional[float] = _UNSET) -> Decision:
        """For a ``require_approval`` decision: waits for its approval request, then evaluates ``call`` again with that
        request's granted tokens. Returns the original decision when it was denied or expired. Never raises."""
        if decision.verdict != "require_approval" or not decision.approval_request_id:
            return decision
        try:
            res = self.wait_for_approval(decision.approval_request_id, interval=interval, wait=wait, timeout=timeout)
        except GateError as e:
            return self._record(fail_closed_decision(e.cause, str(e), status_code=e.status_code, error_reason=e.error_reason), "GetApproval")
        if res.request.state != pb.APPROVAL_STATE_GRANTED:
            return decision
        again = dict(call)
        again["approval_request_id"] = decision.approval_request_id
        return self.evaluate(again, timeout=timeout)

    def approve(self, request: pb.ApproveRequest, *, timeout: Optional[float] = _UNSET) -> pb.ApproveResponse:
        """Grants or denies an approval (operator socket only). Raises :class:`GateError`."""
        return self._unary_decoded("Approve", request, pb.ApproveResponse, timeout)

    def list_approvals(self, request: Optional[pb.ListApprovalsRequest] = None, *, timeout: Optional[float] = _UNSET) -> pb.ListApprovalsResponse:
        """Lists approval requests (operator socket only). Raises :class:`GateError`."""
        return self._unary_decoded("ListApprovals", request or pb.ListApprovalsRequest(), pb.ListApprovalsResponse, timeout)

    # ---- traces and server info ----
    def get_server_info(self, *, timeout: Optional[float] = _UNSET) -> pb.GetServerInfoResponse:
        """The server's signing key, policy digest and trace head. Raises :class:`GateError`."""
        return self._unary_decoded("GetServerInfo", pb.GetServerInfoRequest(), pb.GetServerInfoResponse, timeout)

    def export_traces(self, from_sequence: int = 0, *, follow: bool = False, max_entries: int = 0,
                      timeout: Optional[float] = _UNSET) -> Iterator[pb.ExportTracesResponse]:
        """Trace log entries in sequence order from a cursor (0 = the beginning). The deadline covers the whole
        stream: pass ``timeout=0`` with ``follow=True`` to keep following. Raises :class:`GateError`."""
        stub = self._channel.unary_stream(_SERVICE + "ExportTraces", request_serializer=pb.ExportTracesRequest.SerializeToString,
                                          response_deserializer=None)
        stream = stub(pb.ExportTracesRequest(from_sequence=from_sequence, follow=follow, max_entries=max_entries),
                      timeout=self._deadline(timeout), metadata=self._metadata)
        try:
            for raw in stream:
                try:
                    yield pb.ExportTracesResponse.FromString(raw)
                except DecodeError as e:
                    raise GateError("malformed_response", f"trace entry does not decode: {e}") from e
        except grpc.RpcError as e:
            cause, message, status, reason = _rpc_error_parts(e)
            raise GateError(cause, message, status, reason) from None
        finally:
            stream.cancel()

    # ---- internals ----
    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        t = self._timeout if timeout is _UNSET else timeout
        return t if t is not None and t > 0 else None

    def _unary(self, method: str, req: Any, timeout: Optional[float]) -> Tuple[bool, Any]:
        stub = self._channel.unary_unary(_SERVICE + method, request_serializer=type(req).SerializeToString, response_deserializer=None)
        try:
            return True, stub(req, timeout=self._deadline(timeout), metadata=self._metadata)
        except grpc.RpcError as e:
            return False, _rpc_error_parts(e)
        except ValueError as e:  # e.g. the channel was closed
            return False, ("unavailable", f"channel unusable: {e}", "UNAVAILABLE", None)

    def _unary_decoded(self, method: str, req: Any, out: Any, timeout: Optional[float]) -> Any:
        ok, payload = self._unary(method, req, timeout)
        if not ok:
            cause, message, status, reason = payload
            raise GateError(cause, message, status, reason)
        try:
            return out.FromString(payload)
        except DecodeError as e:
            raise GateError("malformed_response", f"the server's answer does not decode: {e}") from e

    def _record(self, decision: Decision, method: str) -> Decision:
        if decision.fail_closed:
            reason = decision.reason_codes[0]
            with self._lock:
                self._counts[reason] = self._counts.get(reason, 0) + 1
                self._total += 1
            log.warning("gait-client: fail closed (%s) on %s to %s: %s", reason, method, self.target.uri, decision.message)
            if self._on_fail_closed is not None:
                try:
                    self._on_fail_closed(decision)
                except Exception:  # noqa: BLE001 - a broken hook must not change the decision
                    log.exception("gait-client: on_fail_closed hook failed")
        return decision


class _Gate:
    def __init__(self, client: GateClient, call: Union[Call, pb.EvaluateRequest], timeout: Optional[float]):
        self._client = client
        self._call = call
        self._timeout = timeout

    def __enter__(self) -> Decision:
        decision = self._client.evaluate(self._call, timeout=self._timeout)
        if not decision.allowed:
            raise NotAllowed(decision)
        return decision

    def __exit__(self, *exc: object) -> None:
        return None


__all__ = [
    "Call", "DEFAULT_SOCKET_PATH", "DEFAULT_TIMEOUT", "Decision", "GateClient", "GateError", "NotAllowed", "SOCKET_ENV",
    "Target", "build_evaluate_request", "decision_from_response", "fail_closed_decision", "resolve_target",
]
