"""AsyncGateClient behaviour the shared cases do not cover: deadlines, cancellation, the async guards and decorator,
a closed client, and trace export as an async iterator (verified offline)."""

from __future__ import annotations

import asyncio

import pytest

from conftest import start_fake
from gait_client import AsyncGateClient, GateClient, NotAllowed, verify_trace_entries

CALL = {"intent": {"tool_name": "tool.read", "args": {}, "context": {"identity": "a", "workspace": "/w", "risk_class": "low"}}}


def test_deadlines_fail_closed_and_per_call_override(tmpdir_short: str) -> None:
    f = start_fake("hang", tmpdir_short)

    async def main() -> None:
        async with AsyncGateClient(f.target, timeout=0.1) as c:
            d = await c.evaluate(CALL)
            assert d.reason_codes == ("fail_closed_deadline_exceeded",) and d.status_code == "DEADLINE_EXCEEDED"
            d = await c.evaluate(CALL, timeout=0.05)
            assert d.cause == "deadline_exceeded"
            assert c.fail_closed_counts() == {"fail_closed_deadline_exceeded": 2}

    try:
        asyncio.run(main())
    finally:
        f.stop()


def test_cancelling_the_task_propagates_and_the_tool_does_not_run(tmpdir_short: str) -> None:
    f = start_fake("hang", tmpdir_short)
    ran = []

    async def tool() -> str:
        ran.append(True)
        return "ran"

    async def main() -> None:
        async with AsyncGateClient(f.target, timeout=0) as c:  # no deadline: only the cancellation ends the call
            task = asyncio.ensure_future(c.guard(CALL, tool))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert c.fail_closed_total == 0  # not a decision: the caller cancelled

    try:
        asyncio.run(main())
    finally:
        f.stop()
    assert ran == []


def test_async_guards_run_only_on_allow(tmpdir_short: str) -> None:
    ran = []

    async def main(target: str, expect_allow: bool) -> None:
        async with AsyncGateClient(target) as c:
            @c.guarded("tool.read", context={"identity": "a", "workspace": "/w", "risk_class": "low"})
            async def read(path: str) -> str:
                ran.append(path)
                return f"<{path}>"

            @c.guarded(on_blocked=lambda d: f"refused: {d}")
            async def other(x: int) -> str:
                ran.append(x)
                return "ran"

            if expect_allow:
                assert await read("/a") == "</a>"
                assert await c.guard(CALL, lambda: "sync fn") == "sync fn"
                assert await c.guard(CALL, read, "/b") == "</b>"
            else:
                with pytest.raises(NotAllowed) as e:
                    await read("/a")
                assert e.value.decision.reason_codes == ("fail_closed_unavailable",)
                assert (await other(1)).startswith("refused: block (fail closed: unavailable) [fail_closed_unavailable]")
                with pytest.raises(NotAllowed):
                    async with c.gate(CALL):
                        ran.append("body")

    asyncio.run(main(f"unix://{tmpdir_short}/absent.sock", False))
    assert ran == []
    f = start_fake("allow", tmpdir_short)
    try:
        asyncio.run(main(f.target, True))
    finally:
        f.stop()
    assert ran == ["/a", "/b"]

    async def not_async() -> None:
        async with AsyncGateClient(f"unix://{tmpdir_short}/absent.sock") as c:
            with pytest.raises(TypeError, match="wraps async functions"):
                c.guarded()(lambda: None)

    asyncio.run(not_async())


def test_a_closed_client_fails_closed(tmpdir_short: str) -> None:
    f = start_fake("allow", tmpdir_short)

    async def main() -> None:
        c = AsyncGateClient(f.target)
        assert (await c.evaluate(CALL)).allowed
        await c.close()
        d = await c.evaluate(CALL)
        assert d.reason_codes == ("fail_closed_unavailable",) and not d.allowed

    try:
        asyncio.run(main())
        s = GateClient(f.target)
        assert s.evaluate(CALL).allowed
        s.close()
        assert s.evaluate(CALL).reason_codes == ("fail_closed_unavailable",)
    finally:
        f.stop()


def test_client_made_outside_the_loop_opens_its_channel_in_the_loop_that_uses_it(tmpdir_short: str) -> None:
    f = start_fake("allow", tmpdir_short)
    c = AsyncGateClient(f.target)  # e.g. at import time, before any event loop runs

    async def main() -> None:
        try:
            assert (await c.evaluate(CALL)).allowed
        finally:
            await c.close()
        assert (await c.evaluate(CALL)).reason_codes == ("fail_closed_unavailable",)

    try:
        asyncio.run(main())
    finally:
        f.stop()


def test_export_traces_async_and_verify(real_server) -> None:
    async def main() -> None:
        async with AsyncGateClient(f"unix://{real_server.socket}", timeout=5.0) as c:
            d = await c.evaluate(CALL)
            assert d.verdict == "allow"
            info = await c.get_server_info()
            entries = [e async for e in c.export_traces(0)]
            assert any(e.trace_id == d.trace_id for e in entries)
            chain = verify_trace_entries(entries, info.public_key)
            assert chain.ok and chain.count == len(entries), chain.error
            tail = [e async for e in c.export_traces(entries[-1].sequence)]
            assert [e.sequence for e in tail] == [entries[-1].sequence]

    asyncio.run(main())
