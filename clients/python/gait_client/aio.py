"""AsyncGateClient: the asyncio twin of :class:`gait_client.GateClient`, on ``grpc.aio``.

The same rules, the same decisions: every call has a deadline (0.25 s unless set; ``timeout <= 0`` is the explicit
opt-out), ``await evaluate()`` never raises and turns every failure into a ``block`` decision marked ``fail_closed``,
and the guards (``guarded`` decorator, ``async with client.gate(call)``, ``await client.guard(call, fn)``) run a tool
only on ``allow``. Cancelling the task that awaits a call (``asyncio.CancelledError``) is not turned into a decision:
it propagates as asyncio expects, so the guarded tool does not run either.

The channel is opened on the first call, in the event loop that makes it, so the client may be created anywhere
(at import time too); use it from one event loop only (a grpc.aio channel belongs to one loop)::

    async with AsyncGateClient() as gate:
        decision = await gate.evaluate({"intent": intent})
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import functools
import inspect
from types import MappingProxyType
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping, Optional, Sequence, Tuple, TypeVar, Union

import grpc
import grpc.aio
from google.protobuf.message import DecodeError

from gait_client.approval import (
    Approval, ApprovalPage, ApprovalStateName, ApprovalStatus, approval_from, approval_request_from,
    approval_status_from, deny_request, grant_request, list_request,
)
from gait_client.client import (
    _SERVICE, DEFAULT_TIMEOUT, Call, ClientBase, Decision, GateError, NotAllowed, fail_closed_decision,
)
from gait_client.gen.gait.gate.v1 import gate_service_pb2 as pb

T = TypeVar("T")


class AsyncGateClient(ClientBase):
    """A fail-closed asyncio client for one gate server; create one per target (inside its event loop) and reuse it.

    Arguments and defaults are those of :class:`gait_client.GateClient`. Per call, ``timeout=None`` (the default)
    means the client's timeout and ``<= 0`` means no deadline. The channel opens on the first call, in the event
    loop that makes it; use the client from that loop only.
    """

    def __init__(self, target: Optional[str] = None, *, timeout: Optional[float] = DEFAULT_TIMEOUT,
                 token: Optional[str] = None, on_fail_closed: Optional[Callable[[Decision], None]] = None,
                 channel_options: Mapping[str, Any] = MappingProxyType({})):
        super().__init__(target, timeout=timeout, token=token, on_fail_closed=on_fail_closed, channel_options=channel_options)
        self._chan: Optional[grpc.aio.Channel] = None
        self._closed = False

    @property
    def _channel(self) -> grpc.aio.Channel:
        if self._closed:
            raise grpc.aio.UsageError("the client is closed")
        if self._chan is None:
            self._chan = grpc.aio.insecure_channel(self.target.uri, options=self._channel_options)
        return self._chan

    # ---- lifecycle ----
    async def close(self) -> None:
        """Closes the channel; later calls fail closed."""
        self._closed = True
        if self._chan is not None:
            await self._chan.close()

    async def __aenter__(self) -> "AsyncGateClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- evaluate and guards ----
    async def evaluate(self, call: Union[Call, Mapping[str, Any], pb.EvaluateRequest], *, timeout: Optional[float] = None) -> Decision:
        """Asks the gate whether a call may run. Never raises (except cancellation of the awaiting task): every
        failure is a ``block`` with ``fail_closed=True``."""
        try:
            req = self._request_or_block(call)
            if isinstance(req, Decision):
                return req
            ok, payload = await self._unary("Evaluate", req, timeout)
            decision = self._decide(ok, payload)
        except Exception as e:  # noqa: BLE001 - a client bug must still block
            decision = fail_closed_decision("unknown", f"client error: {e}")
        return self._record(decision, "Evaluate")

    async def guard(self, call: Union[Call, Mapping[str, Any], pb.EvaluateRequest], fn: Callable[..., Union[T, Awaitable[T]]],
                    *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> T:
        """Runs ``fn(*args, **kwargs)`` (awaited when it is a coroutine function or returns an awaitable) only when the
        gate answers ``allow``; else raises :class:`NotAllowed`."""
        decision = await self.evaluate(call, timeout=timeout)
        if not decision.allowed:
            raise NotAllowed(decision)
        out = fn(*args, **kwargs)
        return await out if inspect.isawaitable(out) else out  # type: ignore[return-value]

    def gate(self, call: Union[Call, Mapping[str, Any], pb.EvaluateRequest], *, timeout: Optional[float] = None) -> "_AsyncGate":
        """Async context manager: ``async with client.gate(call) as decision: await run_tool()``. Raises
        :class:`NotAllowed` on entry (so the body never runs) unless the verdict is ``allow``."""
        return _AsyncGate(self, call, timeout)

    def guarded(self, tool_name: Optional[str] = None, *, context: Optional[Mapping[str, Any]] = None,
                to_call: Optional[Callable[..., Call]] = None,
                on_blocked: Optional[Callable[[Decision], Any]] = None) -> Callable[[Callable[..., Awaitable[T]]], Callable[..., Awaitable[T]]]:
        """Decorator for an ``async def`` tool: each call is evaluated first and the tool runs only on ``allow``.
        Arguments as :meth:`gait_client.GateClient.guarded`."""

        def decorate(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
            if not inspect.iscoroutinefunction(fn):
                raise TypeError(f"AsyncGateClient.guarded wraps async functions; {fn.__name__} is not one (use GateClient.guarded)")
            sig = inspect.signature(fn)
            name = tool_name or fn.__name__

            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> T:
                call = to_call(*args, **kwargs) if to_call is not None else self._intent_of(name, sig, context, args, kwargs)
                decision = await self.evaluate(call)
                if not decision.allowed:
                    if on_blocked is not None:
                        out = on_blocked(decision)
                        return await out if inspect.isawaitable(out) else out  # type: ignore[no-any-return]
                    raise NotAllowed(decision)
                return await fn(*args, **kwargs)

            wrapper.gait_tool_name = name  # type: ignore[attr-defined]
            return wrapper

        return decorate

    # ---- approvals ----
    async def get_approval(self, approval_request_id: str, *, timeout: Optional[float] = None) -> ApprovalStatus:
        """One approval request and, once granted, its token documents. Raises :class:`GateError`."""
        ok, payload = await self._unary("GetApproval", pb.GetApprovalRequest(approval_request_id=approval_request_id), timeout)
        return approval_status_from(self._decoded(ok, payload, pb.GetApprovalResponse), approval_request_id)

    async def wait_for_approval(self, approval_request_id: str, *, interval: float = 0.5, wait: float = 300.0,
                                timeout: Optional[float] = None) -> ApprovalStatus:
        """Polls :meth:`get_approval` until the request leaves ``pending``; ``wait`` bounds the whole wait (GateError
        cause ``deadline_exceeded``)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + wait
        while True:
            status = await self.get_approval(approval_request_id, timeout=timeout)
            if status.request.state != "pending":
                return status
            left = end - loop.time()
            if left <= 0:
                raise GateError("deadline_exceeded", f"approval {approval_request_id} still pending after {wait} s")
            await asyncio.sleep(min(interval, left))

    async def evaluate_after_approval(self, call: Union[Call, Mapping[str, Any]], decision: Decision, *, interval: float = 0.5,
                                      wait: float = 300.0, timeout: Optional[float] = None) -> Decision:
        """For a ``require_approval`` decision: waits for its approval request, then evaluates ``call`` again with that
        request's granted tokens. Returns the original decision when it was denied or expired. Never raises."""
        if decision.verdict != "require_approval" or not decision.approval_request_id:
            return decision
        try:
            status = await self.wait_for_approval(decision.approval_request_id, interval=interval, wait=wait, timeout=timeout)
        except GateError as e:
            return self._record(fail_closed_decision(e.cause, str(e), status_code=e.status_code, error_reason=e.error_reason), "GetApproval")
        if status.request.state != "granted":
            return decision
        again = dict(call)
        again["approval_request_id"] = decision.approval_request_id
        return await self.evaluate(again, timeout=timeout)

    async def approve(self, approval_request_id: str, *, approver: str, reason_code: str,
                      ttl: Union[float, _dt.timedelta], scopes: Sequence[str] = (), max_targets: int = 0, max_ops: int = 0,
                      timeout: Optional[float] = None) -> Approval:
        """Grants a pending approval request (operator socket only); see :meth:`gait_client.GateClient.approve`."""
        req = self._built(lambda: grant_request(approval_request_id, approver=approver, reason_code=reason_code,
                                                ttl=ttl, scopes=scopes, max_targets=max_targets, max_ops=max_ops))
        ok, payload = await self._unary("Approve", req, timeout)
        return approval_from(self._decoded(ok, payload, pb.ApproveResponse))

    async def approve_digests(self, intent_digest: str, policy_digest: str, *, approver: str, reason_code: str,
                              ttl: Union[float, _dt.timedelta], scopes: Sequence[str], delegation_binding_digest: str = "",
                              max_targets: int = 0, max_ops: int = 0, timeout: Optional[float] = None) -> Approval:
        """Mints an approval token for bare digests (operator socket only)."""
        req = self._built(lambda: grant_request(
            None, approver=approver, reason_code=reason_code, ttl=ttl, scopes=scopes, max_targets=max_targets,
            max_ops=max_ops, intent_digest=intent_digest, policy_digest=policy_digest,
            delegation_binding_digest=delegation_binding_digest))
        ok, payload = await self._unary("Approve", req, timeout)
        return approval_from(self._decoded(ok, payload, pb.ApproveResponse))

    async def deny(self, approval_request_id: str, *, approver: str, reason: str = "", timeout: Optional[float] = None) -> Approval:
        """Denies a pending approval request (operator socket only). Raises :class:`GateError`."""
        ok, payload = await self._unary("Approve", deny_request(approval_request_id, approver=approver, reason=reason), timeout)
        return approval_from(self._decoded(ok, payload, pb.ApproveResponse))

    async def list_approvals(self, *, states: Sequence[ApprovalStateName] = ("pending",), page_size: int = 0,
                             page_token: str = "", timeout: Optional[float] = None) -> ApprovalPage:
        """Approval requests in these states, oldest first (operator socket only). Raises :class:`GateError`."""
        req = self._built(lambda: list_request(states, page_size, page_token))
        ok, payload = await self._unary("ListApprovals", req, timeout)
        res = self._decoded(ok, payload, pb.ListApprovalsResponse)
        return ApprovalPage(requests=tuple(approval_request_from(r) for r in res.requests), next_page_token=res.next_page_token)

    # ---- traces and server info ----
    async def get_server_info(self, *, timeout: Optional[float] = None) -> pb.GetServerInfoResponse:
        """The server's signing key, policy digest and trace head. Raises :class:`GateError`."""
        ok, payload = await self._unary("GetServerInfo", pb.GetServerInfoRequest(), timeout)
        return self._decoded(ok, payload, pb.GetServerInfoResponse)

    async def export_traces(self, from_sequence: int = 0, *, follow: bool = False, max_entries: int = 0,
                            timeout: Optional[float] = None) -> AsyncIterator[pb.ExportTracesResponse]:
        """Trace log entries in sequence order from a cursor (0 = the beginning), as an async iterator. The deadline
        covers the whole stream: pass ``timeout=0`` with ``follow=True`` to keep following. Raises :class:`GateError`."""
        try:
            channel = self._channel
        except grpc.aio.UsageError as e:
            raise GateError("unavailable", f"channel unusable: {e}", "UNAVAILABLE") from None
        stub = channel.unary_stream(_SERVICE + "ExportTraces", request_serializer=pb.ExportTracesRequest.SerializeToString,
                                    response_deserializer=None)
        stream = stub(pb.ExportTracesRequest(from_sequence=from_sequence, follow=follow, max_entries=max_entries),
                      timeout=self._deadline(timeout), metadata=self._metadata)
        try:
            async for raw in stream:
                try:
                    entry = pb.ExportTracesResponse.FromString(raw)
                except DecodeError as e:
                    raise GateError("malformed_response", f"trace entry does not decode: {e}") from e
                yield entry
        except grpc.RpcError as e:
            cause, message, status, reason = self._failure(e)
            raise GateError(cause, message, status, reason) from None
        finally:
            stream.cancel()

    # ---- internals ----
    async def _unary(self, method: str, req: Any, timeout: Optional[float]) -> Tuple[bool, Any]:
        try:
            stub = self._channel.unary_unary(_SERVICE + method, request_serializer=type(req).SerializeToString, response_deserializer=None)
            return True, await stub(req, timeout=self._deadline(timeout), metadata=self._metadata)
        except grpc.RpcError as e:  # grpc.aio.AioRpcError is one
            return False, self._failure(e)
        except grpc.aio.UsageError as e:  # e.g. the channel was closed
            return False, ("unavailable", f"channel unusable: {e}", "UNAVAILABLE", None)


class _AsyncGate:
    def __init__(self, client: AsyncGateClient, call: Union[Call, Mapping[str, Any], pb.EvaluateRequest], timeout: Optional[float]):
        self._client = client
        self._call = call
        self._timeout = timeout

    async def __aenter__(self) -> Decision:
        decision = await self._client.evaluate(self._call, timeout=self._timeout)
        if not decision.allowed:
            raise NotAllowed(decision)
        return decision

    async def __aexit__(self, *exc: object) -> None:
        return None


__all__ = ["AsyncGateClient"]
