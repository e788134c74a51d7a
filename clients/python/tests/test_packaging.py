"""The Python client as a user gets it: a wheel built from a fresh clone of clients/python (tracked files only, copied
outside the repository), installed into a fresh virtualenv, and there the README examples run against the real
server and against a missing socket."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List

import pytest

from conftest import ROOT

README = ROOT / "clients" / "python" / "README.md"


def fresh_copy(rel_dir: str, dest: Path) -> Path:
    """What a fresh clone has under rel_dir (tracked files plus new files git does not ignore) copied to dest."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", rel_dir],
                         cwd=ROOT, capture_output=True, check=True).stdout.decode()
    files = [f for f in out.split("\0") if f and (ROOT / f).exists()]
    assert files, f"git lists no files under {rel_dir}"
    for f in files:
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dest / f)
    return dest / rel_dir


def python_blocks(markdown: Path) -> List[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown.read_text(), flags=re.M | re.S)


@dataclass
class Installed:
    wheel: Path
    python: Path
    work: Path


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    d = Path(tempfile.mkdtemp(prefix="gait-pypkg-"))
    try:
        clone = fresh_copy("clients/python", d / "clone")
        assert not list(clone.glob("*.egg-info")) and not (clone / "build").exists()
        # the build `make clients` runs: no build isolation, so the pinned setuptools of requirements-dev.txt builds it
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                        "--disable-pip-version-check", "-w", str(d / "dist"), str(clone)], check=True, cwd=d)
        (wheel,) = (d / "dist").glob("gait_client-*.whl")
        subprocess.run([sys.executable, "-m", "venv", str(d / "venv")], check=True)
        py = d / "venv" / "bin" / "python"
        # constrained to the versions the repository tests with, so the run is repeatable
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--constraint", str(ROOT / "requirements-dev.txt"), str(wheel)], check=True, cwd=d)
        work = d / "work"
        work.mkdir()
        yield Installed(wheel=wheel, python=py, work=work)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run_in_venv(inst: Installed, code: str, socket_target: str) -> subprocess.CompletedProcess:
    script = inst.work / "example.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["GAIT_SOCKET"] = socket_target
    return subprocess.run([str(inst.python), str(script)], cwd=inst.work, env=env, capture_output=True, text=True, timeout=120)


def test_wheel_contents(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    for f in ["gait_client/__init__.py", "gait_client/aio.py", "gait_client/intent.py", "gait_client/approval.py",
              "gait_client/py.typed", "gait_client/gen/gait/gate/v1/intent_pb2.py", "gait_client/gen/gait/gate/v1/intent_pb2.pyi"]:
        assert f in names
    assert not [n for n in names if n.startswith("tests/")]


def test_installed_package_is_the_wheel_not_the_checkout(installed: Installed) -> None:
    r = run_in_venv(installed, "import gait_client, sys; print(gait_client.__file__); print(sys.prefix)", "unix:///nonexistent.sock")
    assert r.returncode == 0, r.stderr
    location, prefix = r.stdout.split()
    assert location.startswith(prefix) and "site-packages" in location
    assert not location.startswith(str(ROOT))


def test_readme_examples_run_against_the_real_server(installed: Installed, real_server) -> None:
    sync_block, async_block = python_blocks(README)
    r = run_in_venv(installed, sync_block, f"unix://{real_server.socket}")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "<contents of /workspace/README.md>"
    assert re.fullmatch(r"block \[(.+, )?exec_blocked(, .+)?\] violations=\[exec_not_allowed\] trace=[0-9a-f]+", lines[1]), lines
    assert len(lines) == 2
    r = run_in_venv(installed, async_block, f"unix://{real_server.socket}")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"allow \[read_ok\] trace=[0-9a-f]+", r.stdout.strip()), r.stdout


def test_readme_examples_run_nothing_when_the_gate_is_down(installed: Installed) -> None:
    sync_block, async_block = python_blocks(README)
    target = f"unix://{installed.work}/absent.sock"
    r = run_in_venv(installed, sync_block, target)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("not run: block (fail closed: unavailable) [fail_closed_unavailable]: "), lines
    assert lines[1].startswith("block (fail closed: unavailable) [fail_closed_unavailable]: "), lines
    r = run_in_venv(installed, async_block, target)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("block (fail closed: unavailable) [fail_closed_unavailable]: "), r.stdout
