"""GateClient: a small fail-closed client for gait.gate.v1.GateService on grpcio (``gait_client.aio`` has the asyncio
twin, AsyncGateClient, with the same rules).

Safe defaults: every call has a deadline (0.25 s unless set; ``timeout <= 0`` is the explicit opt-out),
``evaluate()`` never raises and turns every failure into a ``block`` decision marked ``fail_closed``, and the guards
(``guarded`` decorator, ``gate`` context manager, ``guard``) run a tool only on ``allow``. There is deliberately no
option that turns a failure into ``allow``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import (
    Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Tuple, TypedDict, TypeVar, Union,
)

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from gait_client._status import error_reason_from_status_details
from gait_client.approval import (
    Approval, ApprovalPage, ApprovalStateName, ApprovalStatus, approval_from, approval_request_from,
    approval_status_from, deny_request, grant_request, list_request,
)
from gait_client.gen.gait.gate.v1 import gate_service_pb2 as pb
from gait_client.gen.gait.gate.v1 import verdict_pb2
from gait_client.intent import Intent, check_intent_json, closest

log = logging.getLogger("gait_client")

#: Default deadline of every call, in seconds (250 ms: the same in the TypeScript and Go clients).
DEFAULT_TIMEOUT = 0.25
#: Environment variable that overrides the default target (see :func:`resolve_target`).
SOCKET_ENV = "GAIT_SOCKET"
#: grpc channel options the ``channel_options`` argument is merged over: short reconnect backoffs suit a local
#: socket (a restarted server is reachable again within ~50 ms instead of grpc's default 1 s).
DEFAULT_CHANNEL_OPTIONS: Mapping[str, Any] = MappingProxyType({
    "grpc.initial_reconnect_backoff_ms": 50,
    "grpc.max_reconnect_backoff_ms": 1000,
})

_SERVICE = "/gait.gate.v1.GateService/"

_VERDICTS = {
    verdict_pb2.VERDICT_ALLOW: "allow",
    verdict_pb2.VERDICT_BLOCK: "block",
    verdict_pb2.VERDICT_REQUIRE_APPROVAL: "require_approval",
    verdict_pb2.VERDICT_DRY_RUN: "dry_run",
}


class ToolCall(TypedDict, total=False):
    """A raw tool call the server decodes: ``adapter`` is mcp, openai, anthropic, langchain or claude_code."""

    adapter: str
    call: Union[Mapping[str, Any], str]


class Call(TypedDict, total=False):
    """One call to decide on: exactly one of ``intent`` (a typed :class:`~gait_client.intent.Intent`, or raw
    ``gait.gate.intent_request`` JSON as a dict) or ``tool_call``, plus the optional rest. Unknown keys are rejected."""

    intent: Union[Intent, Mapping[str, Any]]
    tool_call: ToolCall
    run_id: str
    session_id: str
    approval_tokens: Sequence[str]
    approval_request_id: str
    delegation_tokens: Sequence[str]
    emit_runpack: bool


_CALL_KEYS = tuple(Call.__annotations__)


@dataclass(frozen=True)
class Target:
    """A resolved connection target: the gRPC target string, for a Unix socket its absolute path, and how it was
    chosen: ``"explicit"`` (the target argument), ``"env"`` (``$GAIT_SOCKET``) or ``"default"`` (the default rule)."""

    uri: str
    socket_path: Optional[str] = None
    source: str = "explicit"


def default_socket_path(env: Optional[Mapping[str, str]] = None, uid: Optional[int] = None) -> str:
    """The per-user default agent socket, the one ``gait mcp serve`` binds by default: ``$XDG_RUNTIME_DIR/gait/gate.sock``
    when XDG_RUNTIME_DIR is set to an absolute path (a relative value is ignored), else ``/tmp/gait-<uid>/gate.sock``.
    Never relative to the working directory. ``env`` defaults to ``os.environ``, ``uid`` to this process's."""
    env = os.environ if env is None else env
    if uid is None:
        uid = os.getuid() if hasattr(os, "getuid") else 0
    xdg = env.get("XDG_RUNTIME_DIR") or ""
    directory = os.path.join(xdg, "gait") if os.path.isabs(xdg) else f"/tmp/gait-{uid}"
    path = os.path.normpath(os.path.join(directory, "gate.sock"))
    return "/" + path.lstrip("/")  # normpath keeps a leading "//"; the server's (and Go's) cleaning does not


def resolve_target(explicit: Optional[str] = None, env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
                   uid: Optional[int] = None) -> Target:
    """Explicit argument > ``$GAIT_SOCKET`` > :func:`default_socket_path` (the same rule as the server's and the
    TypeScript and Go clients').

    ``unix:///abs``, ``unix:/abs``, ``unix:rel`` and filesystem paths (absolute or starting with ``.``) are Unix
    sockets (relative ones resolve against ``cwd``); anything else (``host:port``) is TCP. The operator calls
    (approve, deny, list_approvals) use the same target: an operator passes the operator socket explicitly (for example
    ``os.environ["GAIT_OPERATOR_SOCKET"]``) or sets ``GAIT_SOCKET`` to it.
    """
    env = os.environ if env is None else env
    raw, source = (explicit or "").strip(), "explicit"
    if not raw:
        raw, source = (env.get(SOCKET_ENV) or "").strip(), "env"
    if not raw:
        default = default_socket_path(env, uid)
        return Target(uri=f"unix://{default}", socket_path=default, source="default")
    path: Optional[str] = None
    if raw.startswith("unix://"):
        path = raw[len("unix://") :]
    elif raw.startswith("unix:"):
        path = raw[len("unix:") :]
    elif raw.startswith("/") or raw.startswith("."):
        path = raw
    if path is None:
        return Target(uri=raw, source=source)
    if not path:
        raise ValueError(f"invalid gait target {raw!r}: empty socket path")
    abs_path = os.path.normpath(os.path.join(cwd or os.getcwd(), path))
    return Target(uri=f"unix://{abs_path}", socket_path=abs_path, source=source)


_SOURCES = {
    "explicit": "passed as the target argument",
    "env": f"from ${SOCKET_ENV}",
    "default": f"the default socket: no target argument and {SOCKET_ENV} unset",
}


def cannot_connect_message(target: Target, detail: str) -> str:
    """The message of a failed connection (the call fails closed with ``fail_closed_unavailable``): the socket path (or
    TCP address), how it was chosen and how to fix it. The same wording in the three clients."""
    where = f"socket {target.socket_path}" if target.socket_path is not None else f"at {target.uri}"
    return (f"cannot connect to the gate server {where} ({_SOURCES.get(target.source, target.source)}): {detail} "
            f"(is `gait mcp serve` running? start it, or set {SOCKET_ENV} or pass the target to name the socket it "
            "listens on)")


@dataclass(frozen=True, repr=False)
class Decision:
    """The outcome of one ``evaluate()``. Never raised: failures are decisions too. Only ``allowed`` executes.

    ``str(d)`` is one line, the same in the three clients (``allow [read_ok] trace=...``, ``block (fail closed:
    unavailable) [fail_closed_unavailable]: cannot connect ...``); ``repr(d)`` shows only the fields that are set.
    """

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
    #: The full server answer (a protobuf message), when there was one. Not in ``repr``.
    response: Optional[pb.EvaluateResponse] = field(default=None, compare=False)

    @property
    def allowed(self) -> bool:
        """True only for a well-formed VERDICT_ALLOW answer."""
        return self.verdict == "allow" and not self.fail_closed

    def __str__(self) -> str:
        s = self.verdict
        if self.fail_closed:
            s += f" (fail closed: {self.cause or 'unknown'}{', ' + self.error_reason if self.error_reason else ''})"
        s += f" [{', '.join(self.reason_codes)}]"
        if self.violations:
            s += f" violations=[{', '.join(self.violations)}]"
        if self.approval_request_id:
            s += f" approval_request={self.approval_request_id}"
        if self.trace_id:
            s += f" trace={self.trace_id}"
        if self.message:
            s += f": {self.message}"
        return s

    def __repr__(self) -> str:
        parts = [f"verdict={self.verdict!r}", f"reason_codes={self.reason_codes!r}"]
        for f in fields(self):
            if f.name in ("verdict", "reason_codes", "response"):
                continue
            v = getattr(self, f.name)
            if v != f.default:
                parts.append(f"{f.name}={v!r}")
        return f"Decision({', '.join(parts)})"


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
    """A failed non-evaluate call (approvals, traces, server info). ``cause`` is the fail-closed cause it corresponds
    to (``unavailable``, ``deadline_exceeded``, ``invalid_argument``, ...)."""

    def __init__(self, cause: str, message: str, status_code: Optional[str] = None, error_reason: Optional[str] = None):
        super().__init__(message)
        self.cause = cause
        self.status_code = status_code
        self.error_reason = error_reason

    def __repr__(self) -> str:
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in ("status_code", "error_reason") if getattr(self, k))
        return f"GateError(cause={self.cause!r}, message={str(self)!r}{extra})"


class NotAllowed(Exception):
    """Raised by the guards when the gate did not answer ``allow``: the tool did not run. ``decision`` says why."""

    def __init__(self, decision: Decision):
        super().__init__(f"tool call not allowed: {decision}")
        self.decision = decision


def build_evaluate_request(call: Union[Call, Mapping[str, Any], pb.EvaluateRequest]) -> pb.EvaluateRequest:
    """Builds the EvaluateRequest for a call; raises ValueError (or TypeError) naming what is wrong with the input."""
    if isinstance(call, pb.EvaluateRequest):
        return call
    if not isinstance(call, Mapping):
        raise ValueError("call must be a mapping with 'intent' or 'tool_call'")
    for key in call:
        if key not in _CALL_KEYS:
            near = closest(str(key), _CALL_KEYS)
            raise ValueError(f"unknown call key {key!r}" + (f" (did you mean {near!r}?)" if near else ""))
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
        if isinstance(intent, Intent):
            doc: Any = intent.to_json()
        elif isinstance(intent, Mapping):
            doc = dict(intent)
        else:
            raise ValueError(f"intent must be an Intent or a JSON object, got {type(intent).__name__}")
        # checked here as well as by the proto parser, so an unknown key is named with its path and the closest field
        problem = check_intent_json(doc)
        if problem:
            raise ValueError(f"intent: {problem}")
        try:
            json_format.ParseDict(doc, req.intent)
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


def rpc_error_parts(err: grpc.RpcError) -> Tuple[str, str, str, Optional[str]]:
    """(cause, message, status name, ErrorInfo reason) of a failed call (grpc and grpc.aio errors alike)."""
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


class ClientBase:
    """What the sync and asyncio clients share: target, deadline rule, token, fail-closed counting and logging, and
    the one place a raw answer becomes a decision. Not used on its own."""

    def __init__(self, target: Optional[str] = None, *, timeout: Optional[float] = DEFAULT_TIMEOUT,
                 token: Optional[str] = None, on_fail_closed: Optional[Callable[[Decision], None]] = None,
                 channel_options: Mapping[str, Any] = MappingProxyType({})):
        self.target = resolve_target(target)
        # None means "the default" here as it does per call; <= 0 is the explicit opt-out
        self._timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self._metadata: Tuple[Tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        self._on_fail_closed = on_fail_closed
        self._channel_options = list({**DEFAULT_CHANNEL_OPTIONS, **dict(channel_options)}.items())
        self._lock = threading.Lock()
        self._counts: Dict[str, int] = {}
        self._total = 0

    @property
    def fail_closed_total(self) -> int:
        """Number of fail-closed decisions this client produced."""
        with self._lock:
            return self._total

    def fail_closed_counts(self) -> Dict[str, int]:
        """Fail-closed decisions by reason code, e.g. ``{"fail_closed_unavailable": 2}``."""
        with self._lock:
            return dict(self._counts)

    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        """Seconds until the deadline of one call, or None for no deadline."""
        t = self._timeout if timeout is None else timeout
        return t if t > 0 else None

    def _request_or_block(self, call: Any) -> Union[pb.EvaluateRequest, Decision]:
        try:
            return build_evaluate_request(call)
        except (ValueError, TypeError) as e:
            return self._record(fail_closed_decision("invalid_argument", f"invalid call: {e}"), "Evaluate")

    def _decide(self, ok: bool, payload: Any) -> Decision:
        if not ok:
            cause, message, status, reason = payload
            return fail_closed_decision(cause, message, status_code=status, error_reason=reason)
        try:
            res = pb.EvaluateResponse.FromString(payload)
        except Exception as e:  # noqa: BLE001 - any decode failure blocks
            return fail_closed_decision("malformed_response", f"the server's answer does not decode: {e}")
        return decision_from_response(res)

    @staticmethod
    def _decoded(ok: bool, payload: Any, out: Any) -> Any:
        if not ok:
            cause, message, status, reason = payload
            raise GateError(cause, message, status, reason)
        try:
            return out.FromString(payload)
        except DecodeError as e:
            raise GateError("malformed_response", f"the server's answer does not decode: {e}") from e

    def _failure(self, err: grpc.RpcError) -> Tuple[str, str, str, Optional[str]]:
        """:func:`rpc_error_parts` of a failed call. UNAVAILABLE without the server's ErrorInfo is the transport's (no
        connection, or it was lost): its message then names the target, how it was chosen and how to fix it. Cause,
        status and reason are unchanged."""
        cause, message, status, reason = rpc_error_parts(err)
        if cause == "unavailable" and reason is None:
            message = cannot_connect_message(self.target, message)
        return cause, message, status, reason

    @staticmethod
    def _built(build: Callable[[], T]) -> T:
        """A request built from the caller's plain values; a bad value is GateError(invalid_argument), unsent."""
        try:
            return build()
        except (ValueError, TypeError) as e:
            raise GateError("invalid_argument", str(e)) from None

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

    @staticmethod
    def _intent_of(tool_name: str, sig: inspect.Signature, context: Optional[Mapping[str, Any]],
                   args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Call:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        intent: Dict[str, Any] = {"tool_name": tool_name, "args": dict(bound.arguments)}
        if context is not None:
            intent["context"] = dict(context)
        return {"intent": intent}


class GateClient(ClientBase):
    """A fail-closed client for one gate server. Thread-safe; create one per target and reuse it.

    Args:
        target: ``unix:///abs/path.sock``, a socket path, or ``host:port`` for TCP. None: ``$GAIT_SOCKET``, else the
            per-user default socket ``$XDG_RUNTIME_DIR/gait/gate.sock`` or ``/tmp/gait-<uid>/gate.sock`` (what
            ``gait mcp serve`` binds by default; :func:`default_socket_path`). The operator calls need the server's
            operator socket here (e.g. ``os.environ["GAIT_OPERATOR_SOCKET"]``).
        timeout: deadline of every call in seconds, unless a call says otherwise; ``<= 0`` is the explicit opt-out.
        token: bearer token sent as ``authorization: Bearer <token>`` (servers run with ``--auth-mode token``).
        on_fail_closed: called with every fail-closed decision after it was counted and logged.
        channel_options: grpc channel options, merged over :data:`DEFAULT_CHANNEL_OPTIONS`.

    Per call, ``timeout=None`` (the default) means the client's timeout and ``<= 0`` means no deadline.
    """

    def __init__(self, target: Optional[str] = None, *, timeout: Optional[float] = DEFAULT_TIMEOUT,
                 token: Optional[str] = None, on_fail_closed: Optional[Callable[[Decision], None]] = None,
                 channel_options: Mapping[str, Any] = MappingProxyType({})):
        super().__init__(target, timeout=timeout, token=token, on_fail_closed=on_fail_closed, channel_options=channel_options)
        self._channel = grpc.insecure_channel(self.target.uri, options=self._channel_options)

    # ---- lifecycle ----
    def close(self) -> None:
        """Closes the channel; later calls fail closed."""
        self._channel.close()

    def __enter__(self) -> "GateClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- evaluate and guards ----
    def evaluate(self, call: Union[Call, Mapping[str, Any], pb.EvaluateRequest], *, timeout: Optional[float] = None) -> Decision:
        """Asks the gate whether a call may run. Never raises: every failure is a ``block`` with ``fail_closed=True``."""
        try:
            req = self._request_or_block(call)
            if isinstance(req, Decision):
                return req
            ok, payload = self._unary("Evaluate", req, timeout)
            decision = self._decide(ok, payload)
        except Exception as e:  # noqa: BLE001 - a client bug must still block
            decision = fail_closed_decision("unknown", f"client error: {e}")
        return self._record(decision, "Evaluate")

    def guard(self, call: Union[Call, Mapping[str, Any], pb.EvaluateRequest], fn: Callable[..., T], *args: Any,
              timeout: Optional[float] = None, **kwargs: Any) -> T:
        """Runs ``fn(*args, **kwargs)`` only when the gate answers ``allow``; else raises :class:`NotAllowed`."""
        decision = self.evaluate(call, timeout=timeout)
        if not decision.allowed:
            raise NotAllowed(decision)
        return fn(*args, **kwargs)

    def gate(self, call: Union[Call, Mapping[str, Any], pb.EvaluateRequest], *, timeout: Optional[float] = None) -> "_Gate":
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

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> T:
                call = to_call(*args, **kwargs) if to_call is not None else self._intent_of(name, sig, context, args, kwargs)
                decision = self.evaluate(call)
                if not decision.allowed:
                    if on_blocked is not None:
                        return on_blocked(decision)  # type: ignore[no-any-return]
                    raise NotAllowed(decision)
                return fn(*args, **kwargs)

            wrapper.gait_tool_name = name  # type: ignore[attr-defined]
            return wrapper

        return decorate

    # ---- approvals ----
    def get_approval(self, approval_request_id: str, *, timeout: Optional[float] = None) -> ApprovalStatus:
        """One approval request and, once granted, its token documents. Raises :class:`GateError`."""
        ok, payload = self._unary("GetApproval", pb.GetApprovalRequest(approval_request_id=approval_request_id), timeout)
        return approval_status_from(self._decoded(ok, payload, pb.GetApprovalResponse), approval_request_id)

    def wait_for_approval(self, approval_request_id: str, *, interval: float = 0.5, wait: float = 300.0,
                          timeout: Optional[float] = None) -> ApprovalStatus:
        """Polls :meth:`get_approval` every ``interval`` seconds until the request leaves ``pending`` and returns its
        last state. ``wait`` bounds the whole wait (GateError cause ``deadline_exceeded``); each poll has the per-call
        deadline."""
        end = time.monotonic() + wait
        while True:
            status = self.get_approval(approval_request_id, timeout=timeout)
            if status.request.state != "pending":
                return status
            left = end - time.monotonic()
            if left <= 0:
                raise GateError("deadline_exceeded", f"approval {approval_request_id} still pending after {wait} s")
            time.sleep(min(interval, left))

    def evaluate_after_approval(self, call: Union[Call, Mapping[str, Any]], decision: Decision, *, interval: float = 0.5,
                                wait: float = 300.0, timeout: Optional[float] = None) -> Decision:
        """For a ``require_approval`` decision: waits for its approval request, then evaluates ``call`` again with that
        request's granted tokens. Returns the original decision when it was denied or expired. Never raises."""
        if decision.verdict != "require_approval" or not decision.approval_request_id:
            return decision
        try:
            status = self.wait_for_approval(decision.approval_request_id, interval=interval, wait=wait, timeout=timeout)
        except GateError as e:
            return self._record(fail_closed_decision(e.cause, str(e), status_code=e.status_code, error_reason=e.error_reason), "GetApproval")
        if status.request.state != "granted":
            return decision
        again = dict(call)
        again["approval_request_id"] = decision.approval_request_id
        return self.evaluate(again, timeout=timeout)

    def approve(self, approval_request_id: str, *, approver: str, reason_code: str,
                ttl: Union[float, _dt.timedelta], scopes: Sequence[str] = (), max_targets: int = 0, max_ops: int = 0,
                timeout: Optional[float] = None) -> Approval:
        """Grants a pending approval request (operator socket only). ``ttl`` is the token lifetime in seconds (or a
        timedelta); empty ``scopes`` means the request's required scopes; ``max_targets``/``max_ops`` 0 = no limit.
        Returns the request's new state and the signed token. Raises :class:`GateError` (cause ``invalid_argument``
        for a bad ttl or limit, before anything is sent)."""
        req = self._built(lambda: grant_request(approval_request_id, approver=approver, reason_code=reason_code,
                                                          ttl=ttl, scopes=scopes, max_targets=max_targets, max_ops=max_ops))
        ok, payload = self._unary("Approve", req, timeout)
        return approval_from(self._decoded(ok, payload, pb.ApproveResponse))

    def approve_digests(self, intent_digest: str, policy_digest: str, *, approver: str, reason_code: str,
                        ttl: Union[float, _dt.timedelta], scopes: Sequence[str], delegation_binding_digest: str = "",
                        max_targets: int = 0, max_ops: int = 0, timeout: Optional[float] = None) -> Approval:
        """Mints an approval token for a call named by its digests, without a pending request (the ``gait approve
        --intent-digest --policy-digest`` form; operator socket only). Raises :class:`GateError`."""
        req = self._built(lambda: grant_request(
            None, approver=approver, reason_code=reason_code, ttl=ttl, scopes=scopes, max_targets=max_targets,
            max_ops=max_ops, intent_digest=intent_digest, policy_digest=policy_digest,
            delegation_binding_digest=delegation_binding_digest))
        ok, payload = self._unary("Approve", req, timeout)
        return approval_from(self._decoded(ok, payload, pb.ApproveResponse))

    def deny(self, approval_request_id: str, *, approver: str, reason: str = "", timeout: Optional[float] = None) -> Approval:
        """Denies a pending approval request (operator socket only). Raises :class:`GateError`."""
        ok, payload = self._unary("Approve", deny_request(approval_request_id, approver=approver, reason=reason), timeout)
        return approval_from(self._decoded(ok, payload, pb.ApproveResponse))

    def list_approvals(self, *, states: Sequence[ApprovalStateName] = ("pending",), page_size: int = 0,
                       page_token: str = "", timeout: Optional[float] = None) -> ApprovalPage:
        """Approval requests in these states, oldest first (operator socket only; ``page_size`` 0 = the server's
        default). Raises :class:`GateError`."""
        req = self._built(lambda: list_request(states, page_size, page_token))
        ok, payload = self._unary("ListApprovals", req, timeout)
        res = self._decoded(ok, payload, pb.ListApprovalsResponse)
        return ApprovalPage(requests=tuple(approval_request_from(r) for r in res.requests), next_page_token=res.next_page_token)

    # ---- traces and server info ----
    def get_server_info(self, *, timeout: Optional[float] = None) -> pb.GetServerInfoResponse:
        """The server's signing key, policy digest and trace head. Raises :class:`GateError`."""
        ok, payload = self._unary("GetServerInfo", pb.GetServerInfoRequest(), timeout)
        return self._decoded(ok, payload, pb.GetServerInfoResponse)

    def export_traces(self, from_sequence: int = 0, *, follow: bool = False, max_entries: int = 0,
                      timeout: Optional[float] = None) -> Iterator[pb.ExportTracesResponse]:
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
            cause, message, status, reason = self._failure(e)
            raise GateError(cause, message, status, reason) from None
        finally:
            stream.cancel()

    # ---- internals ----
    def _unary(self, method: str, req: Any, timeout: Optional[float]) -> Tuple[bool, Any]:
        stub = self._channel.unary_unary(_SERVICE + method, request_serializer=type(req).SerializeToString, response_deserializer=None)
        try:
            return True, stub(req, timeout=self._deadline(timeout), metadata=self._metadata)
        except grpc.RpcError as e:
            return False, self._failure(e)
        except ValueError as e:  # e.g. the channel was closed
            return False, ("unavailable", f"channel unusable: {e}", "UNAVAILABLE", None)


class _Gate:
    def __init__(self, client: GateClient, call: Union[Call, Mapping[str, Any], pb.EvaluateRequest], timeout: Optional[float]):
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
    "Call", "ClientBase", "DEFAULT_CHANNEL_OPTIONS", "DEFAULT_TIMEOUT", "Decision", "GateClient", "GateError",
    "NotAllowed", "SOCKET_ENV", "Target", "ToolCall", "build_evaluate_request", "cannot_connect_message",
    "decision_from_response", "default_socket_path", "fail_closed_decision", "resolve_target", "rpc_error_parts",
]
