"""Python client ergonomics (issue 13): typed intents that reject a misspelt field and stay in step with the proto,
raw intent JSON checked with a suggestion, readable decisions, signatures that show their real defaults, and
plain-value approval helpers (unit level; the real-server round trips are in test_approvals.py)."""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime as dt
import inspect
import typing

import pytest

import gait_client
from gait_client import (
    AsyncGateClient, Decision, GateClient, GateError, Intent, IntentContext, IntentTarget, build_evaluate_request,
    check_intent_json, decision_from_response, fail_closed_decision, pb, target,
)
from gait_client import intent as intent_mod
from gait_client.approval import approval_from, approval_status_from, deny_request, grant_request
from gait_client.gen.gait.gate.v1 import intent_pb2

CTX = IntentContext(identity="alice", workspace="/workspace", risk_class="low")


# ---- typed intents ----

def dataclass_paths(cls: type, prefix: str = "") -> set:
    """Field paths of an intent dataclass and, recursively, of the intent dataclasses its fields hold."""
    hints = typing.get_type_hints(cls, vars(intent_mod))
    out = set()
    for f in dataclasses.fields(cls):
        out.add(prefix + f.name)
        nested = [a for a in _flatten(hints[f.name]) if dataclasses.is_dataclass(a)]
        for n in nested:
            out |= dataclass_paths(n, f"{prefix}{f.name}.")
    return out


def _flatten(tp: object) -> list:
    args = typing.get_args(tp)
    return [tp] if not args else [x for a in args for x in _flatten(a)]


def proto_paths(desc, prefix: str = "") -> set:
    out = set()
    for f in desc.fields:
        out.add(prefix + f.name)
        if f.message_type is not None and not f.message_type.full_name.startswith("google.protobuf."):
            out |= proto_paths(f.message_type, f"{prefix}{f.name}.")
    return out


def test_typed_field_set_is_the_proto_field_set_at_every_level() -> None:
    assert dataclass_paths(Intent) == proto_paths(intent_pb2.IntentRequest.DESCRIPTOR)


def test_misspelt_field_is_a_type_error_naming_the_closest_field() -> None:
    with pytest.raises(TypeError, match=r"^Intent\(\) got an unexpected keyword argument 'tool_nmae' \(did you mean 'tool_name'\?\)$"):
        Intent(tool_nmae="tool.read", context=CTX)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"'identiy' \(did you mean 'identity'\?\)"):
        IntentContext(identiy="a", workspace="/w", risk_class="low")  # type: ignore[call-arg]
    # nested values given as mappings are checked the same way
    with pytest.raises(TypeError, match=r"IntentTarget\(\) got an unexpected keyword argument 'opration' \(did you mean 'operation'\?\)"):
        Intent(tool_name="t", context=CTX, targets=[{"kind": "path", "value": "/a", "opration": "read"}])
    with pytest.raises(TypeError, match=r"missing 1 required keyword-only argument: 'context'"):
        Intent(tool_name="t")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"Intent.context must be a IntentContext or a mapping"):
        Intent(tool_name="t", context="alice")  # type: ignore[arg-type]


def test_values_outside_a_closed_set_are_rejected_with_the_closest_value() -> None:
    with pytest.raises(ValueError, match=r"IntentTarget.kind: unsupported value 'pth' \(did you mean 'path'\?\)"):
        IntentTarget(kind="pth", value="/a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^IntentContext.phase: unsupported value 'applied'; allowed: plan, apply$"):
        IntentContext(identity="a", workspace="/w", risk_class="low", phase="applied")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Sandbox.network_mode"):
        IntentContext(identity="a", workspace="/w", risk_class="low", sandbox={"network_mode": "offline"})
    with pytest.raises(ValueError, match=r"ArgProvenance.source: unsupported value 'usr' \(did you mean 'user'\?\)"):
        Intent(tool_name="t", context=CTX, arg_provenance=[{"arg_path": "a", "source": "usr"}])
    # the server lowercases these, so the check does too; free text stays free
    assert IntentTarget(kind="PATH", value="/a", operation="deploy").kind == "PATH"
    assert IntentContext(identity="a", workspace="/w", risk_class="elevated").risk_class == "elevated"


def test_typed_intent_to_json_and_request() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    i = Intent(tool_name="tool.read", args={"path": "/workspace/a"}, targets=[target("path", "/workspace/a", "read")],
               context={"identity": "alice", "workspace": "/workspace", "risk_class": "low", "sandbox": {"network_mode": "disabled"}},
               created_at=when)
    assert isinstance(i.context, IntentContext) and isinstance(i.targets, tuple)
    assert i.to_json() == {
        "tool_name": "tool.read", "args": {"path": "/workspace/a"},
        "targets": [{"kind": "path", "value": "/workspace/a", "operation": "read"}],
        "context": {"identity": "alice", "workspace": "/workspace", "risk_class": "low", "sandbox": {"network_mode": "disabled"}},
        "created_at": "2026-01-02T03:04:05+00:00",
    }
    req = build_evaluate_request({"intent": i, "run_id": "r1"})
    assert req.intent.tool_name == "tool.read" and req.intent.targets[0].operation == "read"
    assert req.intent.context.sandbox.network_mode == "disabled" and req.run_id == "r1"
    assert req.intent.created_at.seconds == int(when.timestamp())
    with pytest.raises(ValueError, match="timezone-aware"):
        Intent(tool_name="t", context=CTX, created_at=dt.datetime(2026, 1, 1)).to_json()


def _sample(tp: object) -> object:
    """A non-default value for the type hint of an intent field."""
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        return _sample(next(a for a in typing.get_args(tp) if a is not type(None)))
    if origin is typing.Literal:
        return typing.get_args(tp)[0]
    if origin in (collections.abc.Sequence, list, tuple):
        return [_sample(typing.get_args(tp)[0])]
    if origin in (collections.abc.Mapping, dict):
        return {"k": "v"}
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp, vars(intent_mod))
        return tp(**{f.name: _sample(hints[f.name]) for f in dataclasses.fields(tp)})  # type: ignore[operator]
    samples = {str: "x", bool: True, int: 7, dt.datetime: dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)}
    return samples[tp]  # type: ignore[index]


def _assert_all_set(value: object, msg) -> None:
    """Every dataclass field is set in the message, at every level."""
    assert {f.name for f, _ in msg.ListFields()} == {f.name for f in dataclasses.fields(value)}, type(value).__name__
    for f in dataclasses.fields(value):
        v = getattr(value, f.name)
        if dataclasses.is_dataclass(v):
            _assert_all_set(v, getattr(msg, f.name))
        elif isinstance(v, tuple) and v and dataclasses.is_dataclass(v[0]):
            _assert_all_set(v[0], getattr(msg, f.name)[0])


def test_every_typed_field_reaches_the_proto() -> None:
    """One value for every field of every intent dataclass, made from the type hints, encodes without loss."""
    full = _sample(Intent)
    assert check_intent_json(full.to_json()) is None  # type: ignore[attr-defined]
    req = build_evaluate_request({"intent": full})  # type: ignore[typeddict-item]
    _assert_all_set(full, req.intent)


def test_raw_json_intents_are_checked_key_by_key() -> None:
    assert check_intent_json({"tool_nmae": "x"}) == 'unknown field "tool_nmae" (did you mean "tool_name"?)'
    assert check_intent_json({"tool_name": "x", "context": {"identiy": "a"}}) == 'unknown field "context.identiy" (did you mean "identity"?)'
    assert check_intent_json({"targets": [{"kind": "path", "value": "/a"}, {"vaule": "/b"}]}) == 'unknown field "targets[1].vaule" (did you mean "value"?)'
    assert check_intent_json({"script": {"steps": [{"tool_nam": "x"}]}}) == 'unknown field "script.steps[0].tool_nam" (did you mean "tool_name"?)'
    assert check_intent_json({"args": {"anything": {"at": ["all"]}}, "context": {"auth_context": {"x": 1}}, "toolName": "x"}) is None
    assert check_intent_json([]) == "intent must be a JSON object"
    with GateClient("unix:///nonexistent/x.sock") as c:
        d = c.evaluate({"intent": {"tool_nmae": "tool.read", "context": {"identity": "a", "workspace": "/w", "risk_class": "low"}}})
        assert d.reason_codes == ("fail_closed_invalid_argument",)
        assert d.message == 'invalid call: intent: unknown field "tool_nmae" (did you mean "tool_name"?)'
        # a misspelt key of the call itself is named too
        d = c.evaluate({"intnet": {"tool_name": "x"}})
        assert d.message == "invalid call: unknown call key 'intnet' (did you mean 'intent'?)"
        assert c.fail_closed_counts() == {"fail_closed_invalid_argument": 2}


# ---- decisions ----

def test_decisions_print_readably() -> None:
    allow = decision_from_response(pb.EvaluateResponse(verdict=1, reason_codes=["read_ok"], trace_id="0a1b2c", trace_sequence=7))
    assert str(allow) == "allow [read_ok] trace=0a1b2c"
    assert repr(allow) == "Decision(verdict='allow', reason_codes=('read_ok',), trace_id='0a1b2c')"
    failed = fail_closed_decision("invalid_argument", "context.identity is required", status_code="INVALID_ARGUMENT",
                                  error_reason="INVALID_INTENT")
    assert str(failed) == ("block (fail closed: invalid_argument, INVALID_INTENT) [fail_closed_invalid_argument]: "
                           "context.identity is required")
    assert repr(failed) == ("Decision(verdict='block', reason_codes=('fail_closed_invalid_argument',), fail_closed=True, "
                            "cause='invalid_argument', status_code='INVALID_ARGUMENT', error_reason='INVALID_INTENT', "
                            "message='context.identity is required')")
    pending = decision_from_response(pb.EvaluateResponse(verdict=3, reason_codes=["write_needs_approval"],
                                                         violations=["approval_not_granted"], approval_request_id="apr_1"))
    assert str(pending) == "require_approval [write_needs_approval] violations=[approval_not_granted] approval_request=apr_1"
    # the raw answer is reachable but never printed
    assert allow.response is not None and allow.response.trace_sequence == 7
    assert "trace_sequence" not in repr(allow)
    assert Decision(verdict="allow", reason_codes=(), fail_closed=True).allowed is False


# ---- signatures ----

PUBLIC_CLASSES = (GateClient, AsyncGateClient)


def test_signatures_show_real_defaults() -> None:
    seen = 0
    for cls in PUBLIC_CLASSES:
        for name, member in [("__init__", cls.__init__)] + inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") and name != "__init__":
                continue
            sig = inspect.signature(member)
            seen += 1
            assert " object at 0x" not in str(sig), f"{cls.__name__}.{name}{sig}"
            for p in sig.parameters.values():
                if p.default is not inspect.Parameter.empty:
                    assert type(p.default).__repr__ is not object.__repr__, f"{cls.__name__}.{name}: {p.name}={p.default!r}"
    assert seen >= 30
    assert "timeout: 'Optional[float]' = None" in str(inspect.signature(GateClient.evaluate))
    assert "timeout: 'Optional[float]' = 0.25" in str(inspect.signature(GateClient))
    assert "ttl: 'Union[float, _dt.timedelta]'" in str(inspect.signature(GateClient.approve))
    for obj in vars(gait_client).values():
        if inspect.isclass(obj) and obj.__module__.startswith("gait_client") and dataclasses.is_dataclass(obj):
            assert " object at 0x" not in str(inspect.signature(obj)), obj


# ---- approvals, plain values ----

def test_grant_and_deny_requests_from_plain_values() -> None:
    g = grant_request("apr_1", approver="ops", reason_code="ticket_1", ttl=90.5, scopes=["tool:tool.write"], max_targets=2)
    assert (g.WhichOneof("target"), g.approval_request_id, g.decision) == ("approval_request_id", "apr_1", pb.APPROVAL_DECISION_GRANT)
    assert (g.ttl.seconds, g.ttl.nanos, list(g.scopes), g.max_targets, g.max_ops) == (90, 500_000_000, ["tool:tool.write"], 2, 0)
    assert grant_request("apr_1", approver="o", reason_code="r", ttl=dt.timedelta(minutes=10)).ttl.seconds == 600
    dg = grant_request(None, approver="o", reason_code="r", ttl=60, scopes=["s"], intent_digest="a" * 64, policy_digest="b" * 64)
    assert dg.WhichOneof("target") == "digests" and dg.digests.intent_digest == "a" * 64
    d = deny_request("apr_2", approver="ops", reason="not today")
    assert (d.decision, d.reason_code, d.HasField("ttl")) == (pb.APPROVAL_DECISION_DENY, "not today", False)


def test_bad_ttl_or_limit_is_invalid_argument_before_anything_is_sent() -> None:
    with GateClient("unix:///nonexistent/x.sock") as c:
        for ttl in (0, -5, float("nan"), float("inf"), "60", True):
            with pytest.raises(GateError) as e:
                c.approve("apr_1", approver="ops", reason_code="r", ttl=ttl)  # type: ignore[arg-type]
            assert e.value.cause == "invalid_argument" and "ttl must be a positive number of seconds" in str(e.value)
        with pytest.raises(GateError) as e:
            c.approve("apr_1", approver="ops", reason_code="r", ttl=5, max_ops=-1)
        assert e.value.cause == "invalid_argument"
        with pytest.raises(GateError) as e:
            c.list_approvals(states=["pendng"])  # type: ignore[list-item]
        assert e.value.cause == "invalid_argument" and "pendng" in str(e.value)
        # a well-formed call does go out, and fails on the missing socket
        with pytest.raises(GateError) as e:
            c.deny("apr_1", approver="ops")
        assert e.value.cause == "unavailable"
        assert repr(e.value).startswith("GateError(cause='unavailable', message=")


def test_approval_answers_are_plain_values() -> None:
    res = pb.ApproveResponse(token_json="{}", token_id="tok")
    res.request.approval_request_id = "apr_1"
    res.request.state = pb.APPROVAL_STATE_GRANTED
    res.request.created_at.seconds = 1_700_000_000
    res.expires_at.seconds = 1_700_000_600
    a = approval_from(res)
    assert a.request is not None and a.request.state == "granted"
    assert a.request.created_at == dt.datetime.fromtimestamp(1_700_000_000, tz=dt.timezone.utc)
    assert a.token_expires_at == dt.datetime.fromtimestamp(1_700_000_600, tz=dt.timezone.utc)
    assert "pb2" not in repr(a) and "seconds" not in repr(a)
    # an answer without a request never reads as granted
    assert approval_status_from(pb.GetApprovalResponse(), "apr_9").request.state == "unspecified"
    unknown = pb.ApproveResponse()
    unknown.request.state = 42  # type: ignore[assignment]
    assert approval_from(unknown).request.state == "unspecified"  # type: ignore[union-attr]
