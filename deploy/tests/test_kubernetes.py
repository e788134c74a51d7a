"""The Kubernetes recipe (deploy/kubernetes/gait-gate.yaml): valid against the Kubernetes schemas (offline, with the
schemas kubernetes-validate ships), consistent (the pin is the ConfigMap policy's digest, agent and gate share the
socket volume), and the gate container's exact command and probes work: they are run against the real executable
with each volume mapped to a temporary directory."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import EXE, PROBE, PUBLISHED_KEY, ROOT, doctor, evaluate, make_key, mode_of, policy_digest, run_probe, socket_path, stop, wait_until

MANIFEST = ROOT / "deploy" / "kubernetes" / "gait-gate.yaml"
VALIDATE = Path(__import__("sys").executable).parent / "kubernetes-validate"


def docs() -> list:
    return [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def find(kind: str, name: str) -> dict:
    return next(d for d in docs() if d["kind"] == kind and d["metadata"]["name"] == name)


def pod_spec() -> dict:
    return find("StatefulSet", "agent")["spec"]["template"]["spec"]


def gate() -> dict:
    return next(c for c in pod_spec()["initContainers"] if c["name"] == "gait")


def agent() -> dict:
    return next(c for c in pod_spec()["containers"] if c["name"] == "agent")


def flag(args: list, name: str) -> str:
    return args[args.index(name) + 1]


def test_valid_against_the_kubernetes_schemas(tmp_path):
    ok = subprocess.run([str(VALIDATE), "--strict", str(MANIFEST)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count("passed") == len(docs())
    # control: the same check rejects a misspelt field, so a pass means something
    bad = copy.deepcopy(docs())
    sts = next(d for d in bad if d["kind"] == "StatefulSet")
    c = sts["spec"]["template"]["spec"]["initContainers"][0]
    c["volumeMount"] = c.pop("volumeMounts")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump_all(bad))
    assert subprocess.run([str(VALIDATE), "--strict", str(tmp_path / "bad.yaml")], capture_output=True).returncode != 0


def test_the_pin_is_the_configmap_policy_digest(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(find("ConfigMap", "gait-policy")["data"]["policy.yaml"])
    assert flag(gate()["args"], "--policy-digest") == policy_digest(policy)
    # the ConfigMap carries the repository's example policy
    assert policy_digest(policy) == policy_digest(ROOT / "examples" / "policy.yaml")


def test_shape_sidecar_socket_keys_storage_limits():
    spec = pod_spec()
    g, a = gate(), agent()
    assert g.get("restartPolicy") == "Always"  # a native sidecar: up before the agent, down after it
    vols = {v["name"]: v for v in spec["volumes"]}
    mounts = lambda c: {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    # the socket volume: an emptyDir mounted at the same path in both containers, and nothing else of the gate's
    assert "emptyDir" in vols["gait-socket"]
    assert mounts(g)["gait-socket"] == mounts(a)["gait-socket"]
    assert set(mounts(a)) == {"gait-socket"}
    listen = flag(g["args"], "--listen")
    assert socket_path(listen).startswith(mounts(g)["gait-socket"] + "/")
    assert {"name": "GAIT_SOCKET", "value": listen} in a["env"]
    assert flag(g["args"], "--socket-mode") == "0660" and "fsGroup" in spec["securityContext"]
    # the socket sits one directory below the emptyDir (the gate refuses a world-writable socket directory), and
    # the gate's group is the fsGroup the agent's container has too
    assert os.path.dirname(socket_path(listen)) != mounts(g)["gait-socket"]
    assert g["securityContext"]["runAsGroup"] == spec["securityContext"]["fsGroup"]
    # policy from the ConfigMap, key from a Secret in prod mode, data on the claim template
    assert vols["gait-policy"]["configMap"]["name"] == "gait-policy"
    assert flag(g["args"], "--policy").startswith(mounts(g)["gait-policy"] + "/")
    assert "secretName" in vols["gait-signing-key"]["secret"]
    assert flag(g["args"], "--key-mode") == "prod"
    assert flag(g["args"], "--private-key").startswith(mounts(g)["gait-signing-key"] + "/")
    claims = {t["metadata"]["name"] for t in find("StatefulSet", "agent")["spec"]["volumeClaimTemplates"]}
    assert "gait-data" in claims and "gait-data" not in vols
    for f in ("--trace-dir", "--state"):
        assert flag(g["args"], f).startswith(mounts(g)["gait-data"] + "/")
    assert "--trace-max-age" in g["args"]
    for c in (g, a):
        assert set(c["resources"]["limits"]) >= {"cpu", "memory"} and set(c["resources"]["requests"]) >= {"cpu", "memory"}
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        cmd = g[probe]["exec"]["command"]
        assert cmd[0] == "/usr/local/bin/grpc-health-probe" and f"-addr={listen}" in cmd


# The modes Kubernetes gives these volumes with a pod fsGroup: an emptyDir is world-writable (setgid, group fsGroup),
# a persistent volume's root is group-writable (setgid), ConfigMap files are 0644 (defaultMode) and Secret files take
# the volume's defaultMode. The gate refuses group- or world-writable state, trace and socket directories, so the
# recipe must work with exactly these.
VOLUME_DIR_MODES = {"gait-socket": 0o2777, "gait-data": 0o2775, "gait-policy": 0o755, "gait-signing-key": 0o755}


@pytest.fixture()
def mapped(tmp_path):
    """The gate container's volumes as temporary directories, filled as Kubernetes would fill them."""
    g = gate()
    vols = {v["name"]: v for v in pod_spec()["volumes"]}
    dirs = {}
    for m in g["volumeMounts"]:
        d = tmp_path / m["name"]
        d.mkdir()
        os.chmod(d, VOLUME_DIR_MODES[m["name"]])
        dirs[m["mountPath"]] = d
    byname = {m["name"]: dirs[m["mountPath"]] for m in g["volumeMounts"]}
    for name, text in find("ConfigMap", "gait-policy")["data"].items():
        (byname["gait-policy"] / name).write_text(text)
        os.chmod(byname["gait-policy"] / name, 0o644)
    key = make_key(tmp_path / "keys")
    shutil.copy(key, byname["gait-signing-key"] / "gait_private.key")
    os.chmod(byname["gait-signing-key"] / "gait_private.key", vols["gait-signing-key"]["secret"]["defaultMode"])

    def rewrite(s: str) -> str:
        for mount in sorted(dirs, key=len, reverse=True):
            s = s.replace(mount, str(dirs[mount]))
        return s.replace("/usr/local/bin/gait", str(EXE)).replace("/usr/local/bin/grpc-health-probe", str(PROBE))

    return {"rewrite": rewrite, "dirs": byname, "public_key": tmp_path / "keys" / "gait_public.key"}


def test_the_gate_command_and_probes_run_against_the_executable(mapped):
    g, rw = gate(), mapped["rewrite"]
    argv = [rw(x) for x in g["command"] + g["args"]]
    probe = {p: [rw(x) for x in g[p]["exec"]["command"]] for p in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert run_probe(probe["livenessProbe"]) != 0  # nothing listens yet
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: run_probe(probe["startupProbe"]) == 0, "the startup probe", proc)
        assert run_probe(probe["readinessProbe"]) == 0
        assert run_probe(probe["livenessProbe"]) == 0
        sock = rw(socket_path(flag(g["args"], "--listen")))
        assert mode_of(sock) == 0o660
        assert mode_of(os.path.dirname(sock)) & 0o777 == 0o750  # made by the gate inside the world-writable emptyDir
        # the agent's view: GAIT_SOCKET names the same socket on the shared volume
        agent_url = rw(next(e["value"] for e in agent()["env"] if e["name"] == "GAIT_SOCKET"))
        assert evaluate(agent_url, "tool.read", "read")["verdict"] == "VERDICT_ALLOW"
        assert evaluate(agent_url, "tool.delete", "delete")["verdict"] == "VERDICT_BLOCK"
    finally:
        code = stop(proc)
    assert code == 0
    assert run_probe(probe["livenessProbe"]) != 0  # down means not live
    traces = Path(rw(flag(g["args"], "--trace-dir")))
    segment = sorted(traces.glob("*.jsonl"))[0]
    v = subprocess.run([str(EXE), "trace", "verify", str(segment), "--public-key", str(mapped["public_key"]), "--json"],
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr


def test_a_policy_that_is_not_the_pinned_one_keeps_the_gate_from_starting(mapped):
    g, rw = gate(), mapped["rewrite"]
    policy = mapped["dirs"]["gait-policy"] / "policy.yaml"
    policy.write_text(policy.read_text().replace("priority: 20", "priority: 25"))
    r = subprocess.run([rw(x) for x in g["command"] + g["args"]], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "--policy-digest" in r.stdout + r.stderr


def test_doctor_passes_the_gate_settings_before_the_pod_starts(mapped):
    """The pre-flight: `gait doctor` with the gate container's exact arguments finds no failure. What it warns about
    is what the recipe accepts on purpose: the Secret is group-readable (0440, so the gate's fsGroup can read it; the
    agent mounts no Secret) and there is no operator socket (approvals are not granted in this pod)."""
    g, rw = gate(), mapped["rewrite"]
    code, checks = doctor([rw(x) for x in g["command"] + g["args"]])
    assert code == 0, checks
    assert {n for n, c in checks.items() if c["status"] == "fail"} == set()
    assert {n for n, c in checks.items() if c["status"] == "warn"} == {"signing-key", "operator-socket"}
    assert "readable by its group" in checks["signing-key"]["detail"]
    for name in ("policy-pin", "key-mode", "trace-dir", "trace-retention", "approval-state", "agent-socket"):
        assert checks[name]["status"] == "ok", checks[name]


def test_a_published_key_in_the_secret_fails_doctor_and_keeps_the_gate_from_starting(mapped):
    g, rw = gate(), mapped["rewrite"]
    key = mapped["dirs"]["gait-signing-key"] / "gait_private.key"
    key.write_bytes(PUBLISHED_KEY.read_bytes())
    code, checks = doctor([rw(x) for x in g["command"] + g["args"]])
    assert code == 2 and checks["signing-key"]["status"] == "fail"
    assert "published demo/test key" in checks["signing-key"]["detail"]
    r = subprocess.run([rw(x) for x in g["command"] + g["args"]], capture_output=True, text=True, timeout=60)
    assert r.returncode == 6
    assert "published demo/test key" in r.stderr and "gait keys init" in r.stderr
