"""Shared helpers for the recipe tests: the executable of `make dist`, the pinned tools of `make setup`
(grpc-health-probe, grpcurl), and running the gate the way a recipe starts it."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARCH = {"x86_64": "x64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
EXE = ROOT / "dist" / f"gait-{platform.system().lower()}-{ARCH}"
PROBE = ROOT / ".tools" / "bin" / "grpc-health-probe"
GRPCURL = ROOT / ".tools" / "bin" / "grpcurl"


@pytest.fixture(scope="session", autouse=True)
def tools_present():
    for p in (EXE, PROBE, GRPCURL):
        assert p.exists(), f"{p} is missing: run `make setup dist`"


def run_probe(argv: list) -> int:
    return subprocess.run(argv, capture_output=True, timeout=30).returncode


def wait_until(check, what: str, proc: subprocess.Popen, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the gate exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def evaluate(socket_url: str, tool: str, op: str) -> dict:
    """Evaluate one intent over the gate's socket with grpcurl (what an agent's client does)."""
    body = {"intent": {"tool_name": tool, "args": {"path": "/workspace/a.txt"},
                       "targets": [{"kind": "path", "value": "/workspace/a.txt", "operation": op}],
                       "context": {"identity": "agent", "workspace": "/workspace", "risk_class": "low"}}}
    r = subprocess.run([str(GRPCURL), "-plaintext", "-d", json.dumps(body), socket_url,
                        "gait.gate.v1.GateService/Evaluate"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def make_key(out_dir: Path) -> Path:
    """A fresh prod signing key (gait keys init); returns the private key file."""
    subprocess.run([str(EXE), "keys", "init", "--out-dir", str(out_dir), "--json"], check=True, capture_output=True,
                   cwd=out_dir.parent)
    return out_dir / "gait_private.key"


def policy_digest(path: Path) -> str:
    return subprocess.run([str(EXE), "policy", "digest", str(path)], check=True, capture_output=True,
                          text=True).stdout.strip()


def stop(proc: subprocess.Popen, sig=15) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def socket_path(url: str) -> str:
    assert url.startswith("unix://"), url
    return url[len("unix://"):]


def mode_of(path: str) -> int:
    return os.stat(path).st_mode & 0o777


PUBLISHED_KEY = ROOT / "test" / "fixtures" / "published-key" / "gait_private.key"


def doctor(serve_argv: list) -> tuple:
    """`gait doctor --json` with the settings of a `gait mcp serve` command line: (exit code, {name: check})."""
    i = serve_argv.index("serve")
    r = subprocess.run([str(EXE), "doctor", *serve_argv[i + 1:], "--json"], capture_output=True, text=True, timeout=60)
    doc = json.loads(r.stdout)
    return r.returncode, {c["name"]: c for c in doc["checks"]}
