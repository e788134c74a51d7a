"""Tests of the Python serverless handler, run from the package that package.sh builds (handler + the real
self-contained executable + policy + release.json). Every way the gate can fail must end in "not executed".

Run: .venv/bin/python -m pytest examples/serverless/python   (needs `make dist`; `make test` runs it)
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "examples" / "serverless" / "package.sh"

DRY_RUN_POLICY = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: plan-deploys
    priority: 10
    effect: dry_run
    match:
      tool_names: [tool.deploy]
"""


def call(name: str, op: str, path: str = "/workspace/README.md") -> dict:
    return {"name": name, "args": {"path": path}, "targets": [{"kind": "path", "value": path, "operation": op}],
            "context": {"identity": "fn", "workspace": "/workspace", "risk_class": "low"}}


@pytest.fixture(scope="module")
def fn(tmp_path_factory):
    """The packed function, unzipped like a function runtime would (mode bits kept), and its handler module."""
    work = tmp_path_factory.mktemp("fn")
    subprocess.run([str(PACKAGE), "python", str(work / "build")], check=True, capture_output=True)
    unpacked = work / "unpacked"
    with zipfile.ZipFile(str(work / "build") + ".zip") as z:
        for info in z.infolist():
            z.extract(info, unpacked)
            os.chmod(unpacked / info.filename, (info.external_attr >> 16) & 0o777)
    assert sorted(os.listdir(unpacked)) == ["gait", "handler.py", "policy.yaml", "release.json"]
    spec = importlib.util.spec_from_file_location("packed_handler", unpacked / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {"dir": unpacked, "mod": module}


@pytest.fixture()
def env(monkeypatch, tmp_path):
    for k in ("GAIT_BIN", "GAIT_POLICY", "GAIT_POLICY_DIGEST", "GAIT_TIMEOUT_MS", "GAIT_KEY_ENV"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("GAIT_TRACE_DIR", str(tmp_path / "traces"))
    return monkeypatch


def recording_tools(ran: list) -> dict:
    return {name: (lambda args, n=name: ran.append(n) or f"ran {n}") for name in
            ("tool.read", "tool.write", "tool.delete", "tool.deploy")}


def fake_gait(tmp_path: Path, body: str) -> str:
    p = tmp_path / "fake-gait"
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(0o755)
    return str(p)


def test_allow_executes_and_leaves_a_verifiable_signed_trace(fn, env, tmp_path):
    keys = tmp_path / "keys"
    subprocess.run([str(fn["dir"] / "gait"), "keys", "init", "--out-dir", str(keys), "--json"], check=True,
                   capture_output=True, cwd=tmp_path)
    env.setenv("GAIT_SIGNING_KEY", (keys / "gait_private.key").read_text().strip())
    env.setenv("GAIT_KEY_ENV", "GAIT_SIGNING_KEY")
    ran: list = []
    out = fn["mod"].handle({"tool_call": call("tool.read", "read")}, tools=recording_tools(ran))
    assert out["executed"] is True and out["verdict"] == "allow" and ran == ["tool.read"]
    v = subprocess.run([str(fn["dir"] / "gait"), "trace", "verify", out["trace_path"], "--public-key",
                        str(keys / "gait_public.key"), "--json"], capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr
    assert json.loads(v.stdout)["signature_status"] == "verified"


def test_release_json_pins_the_packed_policy(fn):
    release = json.loads((fn["dir"] / "release.json").read_text())
    digest = subprocess.run([str(fn["dir"] / "gait"), "policy", "digest", str(fn["dir"] / "policy.yaml")],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert release["policy_digest"] == digest


@pytest.mark.parametrize("name,op,verdict,code", [
    ("tool.delete", "delete", "block", 3),
    ("tool.write", "write", "require_approval", 4),
])
def test_block_and_require_approval_do_not_execute(fn, env, name, op, verdict, code):
    ran: list = []
    out = fn["mod"].handle({"tool_call": call(name, op)}, tools=recording_tools(ran))
    assert ran == [] and out["executed"] is False
    assert out["verdict"] == verdict and f"exit {code}" in out["reason"]


def test_dry_run_exits_0_but_does_not_execute(fn, env, tmp_path):
    (tmp_path / "dry.yaml").write_text(DRY_RUN_POLICY)
    env.setenv("GAIT_POLICY", str(tmp_path / "dry.yaml"))
    pin = subprocess.run([str(fn["dir"] / "gait"), "policy", "digest", str(tmp_path / "dry.yaml")],
                         capture_output=True, text=True, check=True).stdout.strip()
    env.setenv("GAIT_POLICY_DIGEST", pin)  # overrides release.json, which pins the packed policy
    ran: list = []
    out = fn["mod"].handle({"tool_call": call("tool.deploy", "apply")}, tools=recording_tools(ran))
    assert ran == [] and out["executed"] is False and out["verdict"] == "dry_run"


def test_a_policy_that_is_not_the_pinned_one_does_not_execute(fn, env, tmp_path):
    (tmp_path / "other.yaml").write_text(DRY_RUN_POLICY.replace("dry_run", "allow").replace("tool.deploy", "tool.read"))
    env.setenv("GAIT_POLICY", str(tmp_path / "other.yaml"))  # the pin still comes from release.json
    ran: list = []
    out = fn["mod"].handle({"tool_call": call("tool.read", "read")}, tools=recording_tools(ran))
    assert ran == [] and out["executed"] is False
    assert "exit 6" in out["reason"] and "policy digest mismatch" in out["reason"]


def test_invalid_tool_call_does_not_execute(fn, env):
    ran: list = []
    out = fn["mod"].handle({"tool_call": {"name": "", "args": "not an object"}}, tools=recording_tools(ran))
    assert ran == [] and out["executed"] is False and "exit 6" in out["reason"]
    assert fn["mod"].handle({"no": "call"}, tools=recording_tools(ran))["executed"] is False


def test_missing_or_unrunnable_binary_does_not_execute(fn, env, tmp_path):
    ran: list = []
    env.setenv("GAIT_BIN", str(tmp_path / "absent" / "gait"))
    out = fn["mod"].handle({"tool_call": call("tool.read", "read")}, tools=recording_tools(ran))
    assert ran == [] and out["executed"] is False and "could not run" in out["reason"]
    not_exec = tmp_path / "gait-noexec"
    not_exec.write_bytes((fn["dir"] / "gait").read_bytes()[:4096])
    env.setenv("GAIT_BIN", str(not_exec))
    out = fn["mod"].handle({"tool_call": call("tool.read", "read")}, tools=recording_tools(ran))
    assert ran == [] and out["executed"] is False and "could not run" in out["reason"]


def test_the_real_binary_killed_mid_run_does_not_execute(fn, env, tmp_path):
    # the gate process is SIGKILLed while it runs (an OOM kill, a runtime shutting down)
    env.setenv("GAIT_BIN", fake_gait(tmp_path, f'"{fn["dir"] / "gait"}" "$@" & pid=$!\nkill -9 $pid\nwait $pid'))
    ran: list = []
    out = fn["mod"].handle({"tool_call": call("tool.read", "read")}, tools=recording_tools(ran))
    assert ran == [] and out["executed"] is False


def test_an_allow_that_ends_in_a_crash_does_not_execute(fn, env, tmp_path):
    # a complete allow document, then the process dies by a signal: the exit status decides
    env.setenv("GAIT_BIN", fake_gait(tmp_path, 'cat >/dev/null\necho \'{"ok":true,"executed":false,"verdict":"allow"}\'\nkill -9 $$'))
    ran: list = []
    out = fn["mod"].handle({"tool_call": call("tool.read", "read")}, tools=recording_tools(ran))
    assert ran == [] and out["executed"] is False and "exit -9" in out["reason"]


@pytest.mark.parametrize("output", [
    "garbage",
    '{"ok":true,"verdict":"al',  # cut off mid-document
    '["allow"]',
    '{"ok":true,"executed":false,"verdict":"block"}',  # exit 0 that contradicts its verdict
    '{"ok":false,"executed":false,"verdict":"allow"}',
    '{"ok":true,"executed":true,"verdict":"allow"}',
    "",
])
def test_unparseable_or_inconsistent_output_with_exit_0_does_not_execute(fn, env, tmp_path, output):
    env.setenv("GAIT_BIN", fake_gait(tmp_path, f"cat >/dev/null\nprintf '%s' '{output}'\nexit 0"))
    ran: list = []
    out = fn["mod"].handle({"tool_call": call("tool.read", "read")}, tools=recording_tools(ran))
    assert ran == [] and out["executed"] is False


def test_timeout_kills_the_gate_and_does_not_execute(fn, env, tmp_path):
    pidfile = tmp_path / "pid"
    env.setenv("GAIT_BIN", fake_gait(tmp_path, f"echo $$ > {pidfile}\nexec sleep 60"))
    env.setenv("GAIT_TIMEOUT_MS", "300")
    ran: list = []
    out = fn["mod"].handle({"tool_call": call("tool.read", "read")}, tools=recording_tools(ran))
    assert ran == [] and out["executed"] is False and "timed out" in out["reason"]
    with pytest.raises(ProcessLookupError):  # the gate process was killed, not left running
        os.kill(int(pidfile.read_text()), 0)


def test_runs_as_a_script(fn, tmp_path):
    target = tmp_path / "hello.txt"
    target.write_text("hello")
    env = {"PATH": os.environ.get("PATH", ""), "GAIT_TRACE_DIR": str(tmp_path / "traces")}
    ok = subprocess.run([sys.executable, str(fn["dir"] / "handler.py"),
                         json.dumps({"tool_call": call("tool.read", "read", str(target))})],
                        capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["result"] == "hello"
    no = subprocess.run([sys.executable, str(fn["dir"] / "handler.py"),
                         json.dumps({"tool_call": call("tool.delete", "delete", str(target))})],
                        capture_output=True, text=True, env=env)
    assert no.returncode == 1 and json.loads(no.stdout)["executed"] is False
    assert target.exists()
