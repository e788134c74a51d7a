"""Unit tests of the Python client that need no real server: target rule, decisions, error details, guards,
and offline verification (records signed here with a throwaway key)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from conftest import load_socket_rule, start_fake
from gait_client import (
    DEFAULT_TIMEOUT, AsyncGateClient, Decision, GateClient, GateError, NotAllowed, Target, build_evaluate_request,
    decision_from_response, default_socket_path, entry_hash_of, pb, resolve_target, verify_trace_entries,
    verify_trace_record,
)
from gait_client._status import error_reason_from_status_details

CALL = {"intent": {"tool_name": "tool.read", "args": {}, "context": {"identity": "a", "workspace": "/w", "risk_class": "low"}}}


@pytest.mark.parametrize("case", load_socket_rule(), ids=lambda c: c["name"])
def test_target_rule(case: dict) -> None:
    """explicit > $GAIT_SOCKET > $XDG_RUNTIME_DIR/gait/gate.sock (absolute only) > /tmp/gait-<uid>/gate.sock."""
    t = resolve_target(case.get("explicit"), env=case["env"], cwd=case["cwd"], uid=case["uid"])
    want = case["want"]
    assert t == Target(uri=want["uri"], socket_path=want.get("socket_path"), source=want["source"])
    if want["source"] == "default":
        assert default_socket_path(case["env"], case["uid"]) == want["socket_path"]


def test_default_socket_path_uses_this_process_and_never_the_cwd(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_socket_path() == f"/tmp/gait-{os.getuid()}/gate.sock"
    assert resolve_target().socket_path == default_socket_path()
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative")
    assert default_socket_path() == f"/tmp/gait-{os.getuid()}/gate.sock"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/4242")
    assert default_socket_path() == "/run/user/4242/gait/gate.sock"
    assert default_socket_path({"XDG_RUNTIME_DIR": "//run/user/1"}, 1) == "/run/user/1/gait/gate.sock"
    with pytest.raises(ValueError):
        resolve_target("unix://", env={})


HINT = "(is `gait mcp serve` running? start it, or set GAIT_SOCKET or pass the target to name the socket it listens on)"


def _unreachable(target: object) -> Decision:
    """Evaluates (sync and asyncio) and reads server info against a target nobody serves: the same fail-closed block
    and the same message from each; returns the sync decision."""
    c = GateClient(target, timeout=5)  # type: ignore[arg-type]
    try:
        d = c.evaluate(CALL)
        with pytest.raises(GateError) as e:
            c.get_server_info()
    finally:
        c.close()
    assert (d.verdict, d.fail_closed, d.reason_codes, d.cause, d.status_code) == (
        "block", True, ("fail_closed_unavailable",), "unavailable", "UNAVAILABLE")
    assert (e.value.cause, e.value.status_code) == ("unavailable", "UNAVAILABLE")

    async def run() -> Decision:
        async with AsyncGateClient(target, timeout=5) as a:  # type: ignore[arg-type]
            return await a.evaluate(CALL)

    ad = asyncio.run(run())
    assert ad.reason_codes == ("fail_closed_unavailable",)
    prefix = d.message.split(": ", 1)[0]
    for m in (str(e.value), ad.message):
        assert m.startswith(prefix + ": ") and m.endswith(HINT), m
    assert d.message.endswith(HINT), d.message
    return d


def test_cannot_connect_names_the_explicit_socket(tmpdir_short: str) -> None:
    sock = os.path.join(tmpdir_short, "explicit.sock")
    d = _unreachable(f"unix://{sock}")
    assert d.message.startswith(f"cannot connect to the gate server socket {sock} (passed as the target argument): "), d.message


def test_cannot_connect_names_gait_socket(tmpdir_short: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sock = os.path.join(tmpdir_short, "env.sock")
    monkeypatch.setenv("GAIT_SOCKET", sock)
    d = _unreachable(None)
    assert d.message.startswith(f"cannot connect to the gate server socket {sock} (from $GAIT_SOCKET): "), d.message


def test_cannot_connect_names_the_default_rule(tmpdir_short: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", tmpdir_short)
    sock = os.path.join(tmpdir_short, "gait", "gate.sock")
    assert resolve_target() == Target(uri=f"unix://{sock}", socket_path=sock, source="default")
    d = _unreachable(None)
    assert d.message.startswith(
        f"cannot connect to the gate server socket {sock} (the default socket: no target argument and GAIT_SOCKET unset): "
    ), d.message


def test_cannot_connect_over_tcp_names_the_address() -> None:
    d = _unreachable("127.0.0.1:1")
    assert d.message.startswith("cannot connect to the gate server at 127.0.0.1:1 (passed as the target argument): "), d.message


def test_default_deadline_and_explicit_opt_out() -> None:
    assert DEFAULT_TIMEOUT == 0.25
    c = GateClient("unix:///nonexistent/x.sock")
    try:
        assert c._deadline(None) == 0.25  # per call, None (the default) is the client's timeout
        assert c._deadline(0.1) == 0.1
        assert c._deadline(0) is None and c._deadline(-1) is None  # <= 0: the explicit opt-out
    finally:
        c.close()
    c = GateClient("unix:///nonexistent/x.sock", timeout=0)  # explicit opt-out for every call
    try:
        assert c._deadline(None) is None and c._deadline(2.0) == 2.0
    finally:
        c.close()
    c = GateClient("unix:///nonexistent/x.sock", timeout=None)  # None never means "no deadline"
    try:
        assert c._deadline(None) == 0.25
    finally:
        c.close()


def test_unspecified_and_unknown_verdicts_fail_closed() -> None:
    d = decision_from_response(pb.EvaluateResponse())
    assert (d.verdict, d.fail_closed, d.reason_codes, d.allowed) == ("block", True, ("fail_closed_unspecified_verdict",), False)
    d = decision_from_response(pb.EvaluateResponse(verdict=42))
    assert d.reason_codes == ("fail_closed_unknown_verdict",) and not d.allowed
    d = decision_from_response(pb.EvaluateResponse(verdict=4, reason_codes=["x"]))
    assert d.verdict == "dry_run" and not d.allowed and not d.fail_closed


def test_invalid_call_blocks_locally_and_is_counted() -> None:
    with GateClient("unix:///nonexistent/x.sock") as c:
        d = c.evaluate({"intent": {"tool_name": "x", "bogus_field": 1}})
        assert d.reason_codes == ("fail_closed_invalid_argument",)
        assert d.message == 'invalid call: intent: unknown field "bogus_field"'
        d = c.evaluate({})
        assert d.reason_codes == ("fail_closed_invalid_argument",)
        assert c.fail_closed_counts() == {"fail_closed_invalid_argument": 2}
    with pytest.raises(ValueError):
        build_evaluate_request({"intent": {}, "tool_call": {"call": {}}})
    req = build_evaluate_request({"tool_call": {"adapter": "openai", "call": {"a": 1}}, "run_id": "r"})
    assert req.tool_call.call_json == '{"a":1}' and req.run_id == "r"


def test_error_info_reason_decoding() -> None:
    info = b"\x0a\x0eINVALID_INTENT\x12\x0cgate.gait.v1"
    any_ = b"\x0a" + bytes([len("type.googleapis.com/google.rpc.ErrorInfo")]) + b"type.googleapis.com/google.rpc.ErrorInfo" + b"\x12" + bytes([len(info)]) + info
    status = b"\x08\x03\x12\x03bad\x1a" + bytes([len(any_)]) + any_
    assert error_reason_from_status_details(status) == "INVALID_INTENT"
    assert error_reason_from_status_details(b"") is None
    assert error_reason_from_status_details(b"\x1a\x64ab") is None  # truncated: ignored, never raises


def test_guards_never_run_the_tool_unless_allowed(tmpdir_short: str) -> None:
    calls = []
    with GateClient(f"unix://{tmpdir_short}/absent.sock") as c:
        @c.guarded("tool.read", context={"identity": "a", "workspace": "/w", "risk_class": "low"})
        def tool(path: str) -> str:
            calls.append(path)
            return "ran"

        with pytest.raises(NotAllowed) as e:
            tool("/etc/passwd")
        assert e.value.decision.reason_codes == ("fail_closed_unavailable",)

        @c.guarded(on_blocked=lambda d: f"refused:{d.verdict}")
        def other(x: int) -> str:
            calls.append(x)
            return "ran"

        assert other(1) == "refused:block"
        with pytest.raises(NotAllowed):
            c.guard(CALL, calls.append, "x")
        with pytest.raises(NotAllowed):
            with c.gate(CALL):
                calls.append("body")
    assert calls == []


def test_dry_run_is_not_executed_and_allow_is(tmpdir_short: str) -> None:
    for mode, runs in (("dry_run", False), ("allow", True)):
        f = start_fake(mode, tmpdir_short)
        try:
            with GateClient(f.target) as c:
                ran = []
                try:
                    with c.gate(CALL) as d:
                        ran.append(d)
                except NotAllowed as e:
                    assert e.decision.verdict == "dry_run"
                assert bool(ran) is runs
                assert c.guard(CALL, lambda: "v") == "v" if runs else True
        finally:
            f.stop()


def test_hang_fails_closed_at_the_deadline(tmpdir_short: str) -> None:
    f = start_fake("hang", tmpdir_short)
    try:
        with GateClient(f.target, timeout=0.1) as c:
            d = c.evaluate(CALL)
            assert d.reason_codes == ("fail_closed_deadline_exceeded",) and d.status_code == "DEADLINE_EXCEEDED"
            d = c.evaluate(CALL, timeout=0.05)  # per-call override
            assert d.cause == "deadline_exceeded"
    finally:
        f.stop()


# ---- offline verification with a key made here ----
KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
KID = hashlib.sha256(PUB).hexdigest()


def sign(record: dict) -> dict:
    digest = hashlib.sha256(rfc8785.dumps(record)).hexdigest()
    sig = base64.b64encode(KEY.sign(bytes.fromhex(digest))).decode()
    return {**record, "signature": {"alg": "ed25519", "key_id": KID, "sig": sig, "signed_digest": digest}}


def test_verify_record_accepts_good_and_names_each_failure() -> None:
    rec = sign({"schema_id": "gait.gate.trace", "trace_id": "t1", "verdict": "allow", "latency_ms": 1.5})
    ok = verify_trace_record(json.dumps(rec), base64.b64encode(PUB).decode())
    assert ok.ok and ok.key_id == KID and ok.trace_id == "t1" and ok.verdict == "allow"
    assert verify_trace_record({**rec, "verdict": "block"}, PUB).error == "signed_digest mismatch"
    assert verify_trace_record({k: v for k, v in rec.items() if k != "signature"}, PUB).error == "missing signature"
    assert verify_trace_record({**rec, "signature": {**rec["signature"], "key_id": "ab" * 32}}, PUB).error == "key id mismatch"
    assert verify_trace_record({**rec, "signature": {**rec["signature"], "alg": "rsa"}}, PUB).error == "unsupported signature algorithm"
    assert verify_trace_record({**rec, "signature": {**rec["signature"], "sig": "AAAA"}}, PUB).error == "invalid signature encoding"
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    res = verify_trace_record({**rec, "signature": {**rec["signature"], "key_id": ""}}, other)
    assert res.error == "signature verification failed"
    with pytest.raises(ValueError):
        verify_trace_record(rec, b"short")


class E:
    def __init__(self, sequence: int, record_json: str, prev_hash: str, entry_hash: str):
        self.sequence, self.record_json, self.prev_hash, self.entry_hash = sequence, record_json, prev_hash, entry_hash


def test_verify_entries_chain() -> None:
    prev = "0" * 64
    entries = []
    for i in range(1, 4):
        text = json.dumps(sign({"schema_id": "gait.gate.trace", "trace_id": f"t{i}", "verdict": "allow"}), separators=(",", ":"))
        h = entry_hash_of(prev, i, text)
        entries.append(E(i, text, prev, h))
        prev = h
    ok = verify_trace_entries(entries, PUB)
    assert ok.ok and ok.count == 3 and ok.head_hash == prev and ok.last_sequence == 3
    assert verify_trace_entries(entries[1:], PUB, prev_hash=entries[0].entry_hash).ok
    gap = verify_trace_entries([entries[0], entries[2]], PUB)
    assert not gap.ok and "sequence gap" in (gap.error or "")
    bad = E(2, entries[1].record_json, entries[1].prev_hash, "f" * 64)
    assert "entry_hash mismatch" in (verify_trace_entries([entries[0], bad], PUB).error or "")
