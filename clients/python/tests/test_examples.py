"""examples/agent-python runs against the real server: only the allowed tool executes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT


def run_agent(socket_target: str) -> list:
    env = dict(os.environ, GAIT_SOCKET=socket_target)
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "agent-python" / "agent.py")], env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_agent_example_against_real_server(real_server) -> None:
    lines = run_agent(f"unix://{real_server.socket}")
    steps = {s["tool"]: s for s in lines if "tool" in s}
    assert steps["tool.read"]["executed"] is True
    assert steps["tool.read"]["result"] == "<contents of /workspace/README.md>"
    assert steps["tool.exec"]["executed"] is False
    assert steps["tool.exec"]["result"].startswith("REFUSED by policy: block")
    assert steps["tool.write"]["executed"] is False
    assert "require_approval" in steps["tool.write"]["result"]
    assert lines[-1] == {"fail_closed_total": 0}


def test_agent_example_with_gate_down_runs_nothing(tmpdir_short: str) -> None:
    lines = run_agent(f"unix://{tmpdir_short}/nobody.sock")
    steps = [s for s in lines if "tool" in s]
    assert steps and all(s["executed"] is False for s in steps)
    assert all("fail_closed_unavailable" in s["result"] for s in steps)
    assert lines[-1] == {"fail_closed_total": 3}
