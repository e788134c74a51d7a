"""Approvals with plain values against the real server, through both clients: list, deny, get, wait, approve,
approve_digests, and the agent socket refusing to approve."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import json

import pytest

from gait_client import AsyncGateClient, GateClient, GateError, Intent, IntentContext, target


async def maybe(x):
    """Awaits what the async client returns; passes the sync client's values through (one flow for both)."""
    return await x if inspect.isawaitable(x) else x


def write_call(path: str, who: str) -> dict:
    return {"intent": Intent(tool_name="tool.write", args={"path": path, "content": "x"},
                             targets=[target("path", path, "write")],
                             context=IntentContext(identity=who, workspace="/workspace", risk_class="low"))}


async def flow(agent, op, kind: str) -> None:
    who = f"carol-{kind}"
    deny_call, grant_call = write_call(f"/workspace/deny-{kind}.txt", who), write_call(f"/workspace/grant-{kind}.txt", who)
    d1 = await maybe(agent.evaluate(deny_call))
    d2 = await maybe(agent.evaluate(grant_call))
    assert (d1.verdict, d2.verdict) == ("require_approval", "require_approval")

    page = await maybe(op.list_approvals())
    r1 = next(r for r in page.requests if r.approval_request_id == d1.approval_request_id)
    assert (r1.state, r1.tool_name, r1.identity, r1.intent_digest) == ("pending", "tool.write", who, d1.intent_digest)
    assert (r1.required_approvals, r1.granted_approvals) == (1, 0)
    assert isinstance(r1.created_at, dt.datetime) and r1.created_at.tzinfo is not None
    assert any(r.approval_request_id == d2.approval_request_id for r in page.requests)

    denied = await maybe(op.deny(d1.approval_request_id, approver="ops@example.com", reason="not on a Friday"))
    assert denied.request is not None
    assert (denied.request.state, denied.request.denied_by, denied.request.deny_reason) == ("denied", "ops@example.com", "not on a Friday")
    assert denied.token_json == ""
    assert "seconds:" not in repr(denied) and "pb2" not in repr(denied)
    # the agent's waiter sees the denial and keeps the original, unexecutable decision
    after = await maybe(agent.evaluate_after_approval(deny_call, d1, interval=0.01, wait=2.0))
    assert after is d1 and not after.allowed
    assert (await maybe(agent.get_approval(d1.approval_request_id))).request.state == "denied"
    denied_page = await maybe(op.list_approvals(states=["denied"]))
    assert d1.approval_request_id in [r.approval_request_id for r in denied_page.requests]

    granted = await maybe(op.approve(d2.approval_request_id, approver="ops@example.com", reason_code="ticket_7",
                                     ttl=dt.timedelta(minutes=2)))
    assert granted.request is not None and granted.request.state == "granted"
    token = json.loads(granted.token_json)
    assert (token["approver_identity"], token["reason_code"], token["intent_digest"]) == ("ops@example.com", "ticket_7", d2.intent_digest)
    assert isinstance(granted.token_expires_at, dt.datetime)
    status = await maybe(agent.get_approval(d2.approval_request_id))
    assert (status.request.state, status.token_jsons) == ("granted", (granted.token_json,))
    allowed = await maybe(agent.evaluate_after_approval(grant_call, d2, interval=0.01, wait=2.0))
    assert allowed.verdict == "allow" and allowed.allowed and "approval_granted" in allowed.reason_codes

    minted = await maybe(op.approve_digests(d1.intent_digest, d1.policy_digest, approver="ops@example.com",
                                            reason_code="cli", ttl=60, scopes=["tool:tool.write"]))
    assert minted.request is None
    assert json.loads(minted.token_json)["intent_digest"] == d1.intent_digest

    with pytest.raises(GateError) as e:
        await maybe(agent.approve(d2.approval_request_id, approver="agent", reason_code="self", ttl=60))
    assert (e.value.cause, e.value.status_code, e.value.error_reason) == ("permission_denied", "PERMISSION_DENIED", "OPERATOR_ONLY")


def test_approvals_sync(real_server) -> None:
    with GateClient(f"unix://{real_server.socket}", timeout=5.0) as agent, \
            GateClient(f"unix://{real_server.operator_socket}", timeout=5.0) as op:
        asyncio.run(flow(agent, op, "sync"))


def test_approvals_async(real_server) -> None:
    async def main() -> None:
        async with AsyncGateClient(f"unix://{real_server.socket}", timeout=5.0) as agent, \
                AsyncGateClient(f"unix://{real_server.operator_socket}", timeout=5.0) as op:
            await flow(agent, op, "async")

    asyncio.run(main())
