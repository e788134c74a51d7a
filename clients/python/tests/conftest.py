"""Fixtures for the Python client tests: the shared cases.yaml and socket-rule.yaml, the fake server (test/conformance/clients/
fake-server.mjs, run with node) and the real server (bin/gait mcp serve with the fixed conformance policy).

If the real server cannot start, the tests that need it FAIL with the reason; they are never skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CONFORMANCE = ROOT / "test" / "conformance" / "clients"
FAKE_SERVER = CONFORMANCE / "fake-server.mjs"
POLICY = CONFORMANCE / "policy.yaml"
NODE = shutil.which("node") or "node"


def load_cases() -> list:
    doc = yaml.safe_load((CONFORMANCE / "cases.yaml").read_text())
    assert doc["version"] == 1
    return doc["cases"]


def load_socket_rule() -> list:
    """The shared target-rule table (test/conformance/clients/socket-rule.yaml)."""
    doc = yaml.safe_load((CONFORMANCE / "socket-rule.yaml").read_text())
    assert doc["version"] == 1
    return doc["cases"]


@dataclass
class Fake:
    target: str
    proc: subprocess.Popen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        if self.proc.stderr:
            self.proc.stderr.close()


def start_fake(mode: str, directory: str, *, tcp: bool = False, token: Optional[str] = None) -> Fake:
    listen = "127.0.0.1:0" if tcp else f"unix://{directory}/{mode}.sock"
    args = [NODE, str(FAKE_SERVER), "--mode", mode, "--listen", listen] + (["--token", token] if token is not None else [])
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("READY "):
        proc.kill()
        err = proc.stderr.read() if proc.stderr else ""  # type: ignore[union-attr]
        raise RuntimeError(f"fake server ({mode}) did not start: {line!r} {err}")
    if mode == "stale":
        proc.wait(timeout=10)
    return Fake(target=line[len("READY "):].strip(), proc=proc)


@pytest.fixture
def tmpdir_short() -> Iterator[str]:
    """A short temp dir (socket paths must stay under 107 bytes)."""
    d = tempfile.mkdtemp(prefix="gait-py-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@dataclass
class RealServer:
    socket: str
    operator_socket: str
    directory: str


@pytest.fixture(scope="session")
def real_server() -> Iterator[RealServer]:
    entry = ROOT / "dist" / "src" / "cli" / "main.js"
    if not entry.exists():
        pytest.fail(f"{entry} is missing: build the server first (make build)")
    d = tempfile.mkdtemp(prefix="gait-pys-")
    sock, op = f"{d}/gate.sock", f"{d}/op.sock"
    log = open(f"{d}/server.log", "w+")
    proc = subprocess.Popen(
        [NODE, str(ROOT / "bin" / "gait"), "mcp", "serve", "--policy", str(POLICY), "--listen", f"unix://{sock}",
         "--operator-listen", f"unix://{op}", "--state", f"{d}/state", "--trace-dir", f"{d}/traces"],
        cwd=d, stdout=subprocess.DEVNULL, stderr=log)
    from gait_client import GateClient, GateError

    client = GateClient(f"unix://{sock}", timeout=1.0)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"gait mcp serve exited with {proc.returncode} before it was ready:\n{log.read()}")
            try:
                client.get_server_info()
                break
            except GateError as e:
                if time.monotonic() > deadline:
                    proc.kill()
                    log.seek(0)
                    pytest.fail(f"gait mcp serve did not answer within 20 s ({e}):\n{log.read()}")
                time.sleep(0.1)
    finally:
        client.close()
    yield RealServer(socket=sock, operator_socket=op, directory=d)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_gait_socket_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # tests choose their targets explicitly; a GAIT_SOCKET from the developer's shell must not leak in
    monkeypatch.delenv("GAIT_SOCKET", raising=False)
    os.environ.pop("GAIT_SOCKET", None)
