"""Python client conformance: every case of test/conformance/clients/cases.yaml through both clients' context manager
guards (``with client.gate(call)`` on GateClient, ``async with client.gate(call)`` on AsyncGateClient), against the
real server or the fake server; plus trace export + verification."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from conftest import load_cases, start_fake
import glob

from gait_client import (
    AsyncGateClient, GateClient, NotAllowed, key_id_of, verify_trace_entries, verify_trace_record, verify_trace_segment,
)

CASES = load_cases()
FAULTS = [c for c in CASES if "fake" in c or "fault" in c]
REAL = [c for c in CASES if "fake" not in c and "fault" not in c]


def check(decision, executed: bool, want: dict) -> None:
    assert decision.verdict == want["verdict"], decision
    assert decision.fail_closed == want["fail_closed"], decision
    assert decision.allowed == (want["verdict"] == "allow" and not want["fail_closed"])
    if "reason_codes" in want:
        assert list(decision.reason_codes) == want["reason_codes"], decision
    for r in want.get("reason_codes_include", []):
        assert r in decision.reason_codes, decision
    if "error_reason" in want:
        assert decision.error_reason == want["error_reason"], decision
    assert executed == want["executed"]


def check_counters(client, seen: list, case: dict) -> None:
    # fail-closed decisions are counted and reported exactly once; real answers are not
    assert client.fail_closed_total == (1 if case["want"]["fail_closed"] else 0)
    assert len(seen) == client.fail_closed_total
    if case["want"]["fail_closed"]:
        assert client.fail_closed_counts() == {case["want"]["reason_codes"][0]: 1}


def run_case_sync(case: dict, target: str, operator_target: str = "") -> None:
    """The case through GateClient's context manager guard; the "tool" is the body of the with block."""
    seen = []
    client = GateClient(target, token=case.get("token"), on_fail_closed=seen.append)
    try:
        ran = []
        t0 = time.perf_counter()
        try:
            with client.gate(case["call"]) as decision:
                ran.append(True)
        except NotAllowed as e:
            decision = e.decision
        ms = (time.perf_counter() - t0) * 1000
        if case.get("fault") or case.get("fake") == "stale":
            print(f"[fail-closed latency] python {case['name']}: first call {ms:.2f} ms")
        check(decision, bool(ran), case["want"])
        check_counters(client, seen, case)

        if case.get("then") == "grant_approval":
            assert decision.approval_request_id
            with GateClient(operator_target, timeout=2.0) as operator:
                granted = operator.approve(decision.approval_request_id, approver="ops@example.com",
                                           reason_code="conformance_grant", ttl=600)
                assert granted.token_json and granted.request is not None and granted.request.state == "granted"
            after = client.evaluate_after_approval(case["call"], decision, interval=0.02, wait=5.0)
            check(after, after.allowed, case["want_after"])
    finally:
        client.close()


async def _run_case_async(case: dict, target: str, operator_target: str) -> None:
    """The same case through AsyncGateClient: ``async with client.gate(call)``, the "tool" a coroutine."""
    seen = []
    async with AsyncGateClient(target, token=case.get("token"), on_fail_closed=seen.append) as client:
        ran = []

        async def tool() -> None:
            ran.append(True)

        try:
            async with client.gate(case["call"]) as decision:
                await tool()
        except NotAllowed as e:
            decision = e.decision
        check(decision, bool(ran), case["want"])
        check_counters(client, seen, case)

        if case.get("then") == "grant_approval":
            assert decision.approval_request_id
            async with AsyncGateClient(operator_target, timeout=2.0) as operator:
                granted = await operator.approve(decision.approval_request_id, approver="ops@example.com",
                                                 reason_code="conformance_grant", ttl=600)
                assert granted.token_json and granted.request is not None and granted.request.state == "granted"
            after = await client.evaluate_after_approval(case["call"], decision, interval=0.02, wait=5.0)
            check(after, after.allowed, case["want_after"])


def run_case_async(case: dict, target: str, operator_target: str = "") -> None:
    asyncio.run(_run_case_async(case, target, operator_target))


RUNNERS = {"sync": run_case_sync, "async": run_case_async}


@pytest.mark.parametrize("case", FAULTS, ids=[c["name"] for c in FAULTS])
@pytest.mark.parametrize("kind", list(RUNNERS))
def test_fault_and_fake_cases(kind: str, case: dict, tmpdir_short: str) -> None:
    run = RUNNERS[kind]
    if case.get("fault") == "absent_socket":
        run(case, f"unix://{tmpdir_short}/absent.sock")
        return
    fake = start_fake(case["fake"], tmpdir_short, tcp=bool(case.get("tcp")), token=case.get("server_token"))
    try:
        run(case, fake.target)
    finally:
        fake.stop()


@pytest.mark.parametrize("case", REAL, ids=[c["name"] for c in REAL])
@pytest.mark.parametrize("kind", list(RUNNERS))
def test_real_server_cases(kind: str, case: dict, real_server) -> None:
    RUNNERS[kind](case, f"unix://{real_server.socket}", f"unix://{real_server.operator_socket}")


def test_export_and_verify_traces(real_server) -> None:
    with GateClient(f"unix://{real_server.socket}", timeout=5.0) as client:
        d = client.evaluate({"intent": {"tool_name": "tool.read", "args": {"path": "/x"},
                                        "context": {"identity": "v", "workspace": "/w", "risk_class": "low"}}})
        assert d.verdict == "allow"
        info = client.get_server_info()
        assert info.key_id == key_id_of(info.public_key)
        entries = list(client.export_traces(0))
        assert entries and any(e.trace_id == d.trace_id for e in entries)
        chain = verify_trace_entries(entries, info.public_key)
        assert chain.error is None and chain.ok and chain.count == len(entries)
        tail = list(client.export_traces(entries[-1].sequence))
        assert [e.sequence for e in tail] == [entries[-1].sequence]
        rec = json.loads(entries[0].record_json)
        rec["verdict"] = "block" if rec["verdict"] == "allow" else "allow"
        bad = verify_trace_record(rec, info.public_key)
        assert not bad.ok and bad.error == "signed_digest mismatch"
        segs = sorted(glob.glob(f"{real_server.directory}/traces/segment-*.jsonl"))
        assert segs
        text = open(segs[0], encoding="utf-8").read()
        seg = verify_trace_segment(text, info.public_key)
        assert seg.error is None and seg.ok and seg.anchor_sequence == 0 and seg.entries >= len(entries)
        # a running server's active segment has a preallocated zero-filled tail, which ends the data
        data = text.split("\0")[0]
        assert verify_trace_segment(data + "\0" * 4096, info.public_key).ok
        after = verify_trace_segment(data + "\0\0" + data.split("\n")[1] + "\n", info.public_key)
        assert not after.ok and "zero-filled tail" in (after.error or "")
        tampered = text.replace('"tool_name":"tool.read"', '"tool_name":"tool.reed"', 1)
        assert tampered != text
        bad_seg = verify_trace_segment(tampered, info.public_key)
        assert not bad_seg.ok and "hash mismatch" in (bad_seg.error or "")
