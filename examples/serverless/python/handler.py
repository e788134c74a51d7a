"""Serverless (Pattern B) handler: the gate's self-contained executable ships inside the function and runs once per
request as a subprocess. The tool runs only when the gate says allow; every other outcome means DO NOT EXECUTE:
a block, require_approval or dry_run verdict, a non-zero exit, a timeout, a crash, output that is not the expected
JSON, or a missing binary.

Lambda-style entry point: ``handler(event, context)`` with ``event = {"tool_call": {...MCP tool call...}}``.
Configuration (environment):

    GAIT_BIN             the executable (default: ./gait next to this file)
    GAIT_POLICY          the policy file (default: ./policy.yaml next to this file)
    GAIT_POLICY_DIGEST   the pinned policy digest, sha256:<hex> (default: policy_digest from ./release.json)
    GAIT_TIMEOUT_MS      how long the gate may take (default 5000); on expiry the process is killed
    GAIT_TRACE_DIR       where signed trace records go (default /tmp/gait-traces; ship them to durable storage)
    GAIT_KEY_ENV         name of the variable that holds the prod signing key (unset: dev mode, ephemeral key)

Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Optional

HERE = Path(__file__).resolve().parent
MAX_OUTPUT = 1 << 20  # a decision is a few KiB; anything larger is not one


def _config() -> Dict[str, Any]:
    pin = os.environ.get("GAIT_POLICY_DIGEST")
    release = HERE / "release.json"
    if not pin and release.is_file():
        pin = json.loads(release.read_text()).get("policy_digest")
    return {
        "bin": os.environ.get("GAIT_BIN", str(HERE / "gait")),
        "policy": os.environ.get("GAIT_POLICY", str(HERE / "policy.yaml")),
        "pin": pin,
        "timeout": int(os.environ.get("GAIT_TIMEOUT_MS", "5000")) / 1000,
        "trace_dir": os.environ.get("GAIT_TRACE_DIR", "/tmp/gait-traces"),
        "key_env": os.environ.get("GAIT_KEY_ENV"),
    }


def decide(tool_call: Dict[str, Any]) -> Dict[str, Any]:
    """Ask the gate about one MCP tool call. Returns {"allow": bool, "reason": str, "decision": dict | None}."""
    cfg = _config()
    os.makedirs(cfg["trace_dir"], exist_ok=True)
    trace = os.path.join(cfg["trace_dir"], f"trace_{uuid.uuid4().hex}.json")
    argv = [cfg["bin"], "mcp", "proxy", "--policy", cfg["policy"], "--call", "-", "--adapter", "mcp", "--json",
            "--trace-out", trace]
    if cfg["pin"]:
        argv += ["--policy-digest", cfg["pin"]]
    if cfg["key_env"]:
        argv += ["--key-mode", "prod", "--private-key-env", cfg["key_env"]]
    try:
        # run() kills the process when the timeout expires
        proc = subprocess.run(argv, input=json.dumps(tool_call).encode(), capture_output=True,
                              timeout=cfg["timeout"], cwd=cfg["trace_dir"], check=False)
    except subprocess.TimeoutExpired:
        return _deny(f"gate timed out after {cfg['timeout']} s")
    except OSError as e:  # missing or not executable
        return _deny(f"gate could not run: {e}")
    if len(proc.stdout) > MAX_OUTPUT:
        return _deny("gate output too large")
    try:
        decision = json.loads(proc.stdout)
    except ValueError:
        return _deny(f"gate output is not JSON (exit {proc.returncode})")
    if not isinstance(decision, dict):
        return _deny("gate output is not a JSON object")
    verdict = decision.get("verdict")
    if proc.returncode != 0:
        why = verdict or decision.get("error") or f"exit {proc.returncode}"
        return _deny(f"gate said {why} (exit {proc.returncode})", decision)
    # exit 0 is allow or dry_run; only an explicit, well-formed allow executes
    if decision.get("ok") is not True or verdict != "allow" or decision.get("executed") is not False:
        return _deny(f"gate said {verdict or 'nothing'}", decision)
    return {"allow": True, "reason": "allow", "decision": decision}


def _deny(reason: str, decision: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    return {"allow": False, "reason": reason, "decision": decision}


def read_file(args: Dict[str, Any]) -> str:
    with open(str(args["path"]), encoding="utf-8") as f:
        return f.read()


TOOLS: Dict[str, Callable[[Dict[str, Any]], Any]] = {"tool.read": read_file}


def handle(event: Dict[str, Any], tools: Optional[Dict[str, Callable[[Dict[str, Any]], Any]]] = None) -> Dict[str, Any]:
    """Gate one tool call and run it only on allow."""
    tools = TOOLS if tools is None else tools
    call = event.get("tool_call") if isinstance(event, dict) else None
    if not isinstance(call, dict):
        return {"executed": False, "reason": "event has no tool_call object"}
    d = decide(call)
    out: Dict[str, Any] = {"executed": False, "reason": d["reason"]}
    if d["decision"]:
        out.update({k: d["decision"].get(k) for k in ("verdict", "reason_codes", "trace_id", "trace_path")})
    if not d["allow"]:
        return out
    tool = tools.get(str(call.get("name")))
    if tool is None:
        out["reason"] = f"no tool named {call.get('name')}"
        return out
    out["result"] = tool(call.get("args") or {})
    out["executed"] = True
    return out


def handler(event: Dict[str, Any], context: Any = None) -> Dict[str, Any]:
    return handle(event)


if __name__ == "__main__":  # python handler.py '<event JSON>'  (prints the result; exit 0 only when the tool ran)
    import sys

    result = handle(json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}"))
    print(json.dumps(result))
    sys.exit(0 if result["executed"] else 1)
