"""Closed-loop Evaluate load over a Unix socket with grpcio (C core) asyncio, against a running `gait mcp serve`.

For each concurrency level: warm up, then for a fixed window keep N calls in flight on one channel, and report
decisions/s, client-observed p50/p99 latency, and the SERVER's CPU per decision (utime+stime of the server pid from
/proc over the window / decisions answered) plus its RSS. Each level runs `--runs` times; the median run is reported.
The stubs are generated into a temp dir at run time by bench-server.sh (grpc_tools.protoc), passed as --stubs.
"""
import argparse
import asyncio
import json
import os
import statistics
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> tuple[float, float]:
    """(utime, stime) of the whole process (all threads, incl. the libuv pool doing fsync), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime is field 14, stime field 15 -> indexes 11, 12
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def make_intent(pb, i: int):
    from google.protobuf import struct_pb2

    args = struct_pb2.Struct()
    args.update({"path": "/workspace/app/config.yaml", "content": "key: value"})
    intent = pb.IntentRequest(
        tool_name="tool.write",
        args=args,
        targets=[pb.Target(kind="path", value="/workspace/app/config.yaml", operation="write")],
        arg_provenance=[pb.ArgProvenance(arg_path="content", source="user")],
        context=pb.IntentContext(identity="agent-bench", workspace="/workspace", risk_class="low", session_id=f"s{i % 8}"),
    )
    return intent


async def run_level(stub, pb_svc, pb_intent, pid: int, concurrency: int, warmup: float, window: float, aux_pid: int = 0):
    import grpc

    req = pb_svc.EvaluateRequest(intent=make_intent(pb_intent, 0))
    lat: list[float] = []
    state = {"measuring": False, "stop": False, "done": 0, "errors": 0, "allow": 0}

    async def worker():
        while not state["stop"]:
            t0 = time.perf_counter()
            try:
                r = await stub.Evaluate(req, timeout=10)
                ok = r.verdict == 1
            except grpc.aio.AioRpcError:
                ok = False
                state["errors"] += 1
            dt = time.perf_counter() - t0
            if state["measuring"]:
                lat.append(dt)
                state["done"] += 1
                if ok:
                    state["allow"] += 1

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    cpu0 = proc_cpu_s(pid)
    aux0 = proc_cpu_s(aux_pid) if aux_pid else (0.0, 0.0)
    t0 = time.perf_counter()
    state["measuring"] = True
    await asyncio.sleep(window)
    state["measuring"] = False
    t1 = time.perf_counter()
    cpu1 = proc_cpu_s(pid)
    aux1 = proc_cpu_s(aux_pid) if aux_pid else (0.0, 0.0)
    rss = proc_rss_mb(pid)
    state["stop"] = True
    await asyncio.gather(*tasks)
    n = state["done"]
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
    return {
        "in_flight": concurrency,
        "decisions": n,
        "errors": state["errors"],
        "non_allow": n - state["allow"],
        "decisions_per_s": n / (t1 - t0),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "server_cpu_us_per_decision": (sum(cpu1) - sum(cpu0)) / n * 1e6 if n else float("nan"),
        "server_user_us_per_decision": (cpu1[0] - cpu0[0]) / n * 1e6 if n else float("nan"),
        "server_sys_us_per_decision": (cpu1[1] - cpu0[1]) / n * 1e6 if n else float("nan"),
        "server_cpu_cores": (sum(cpu1) - sum(cpu0)) / (t1 - t0),
        "server_rss_mb": rss,
        **({"aux_cpu_us_per_decision": (sum(aux1) - sum(aux0)) / n * 1e6 if n else float("nan")} if aux_pid else {}),
    }


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--stubs", required=True)
    ap.add_argument("--levels", default="1,8,64")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--window", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", required=True)
    ap.add_argument("--aux-pid", type=int, default=0, help="another process whose CPU per decision is reported too (redis-server)")
    a = ap.parse_args()
    sys.path.insert(0, a.stubs)
    import grpc
    from gait.gate.v1 import gate_service_pb2 as svc, gate_service_pb2_grpc as svc_grpc, intent_pb2

    results = []
    async with grpc.aio.insecure_channel(f"unix://{a.socket}") as ch:
        stub = svc_grpc.GateServiceStub(ch)
        first = await stub.Evaluate(svc.EvaluateRequest(intent=make_intent(intent_pb2, 0)), timeout=10)
        if first.verdict != 1:
            print(f"loadgen: the benchmark intent is not allowed (verdict {first.verdict}, {list(first.reason_codes)})", file=sys.stderr)
            return 1
        for level in [int(x) for x in a.levels.split(",")]:
            runs = [await run_level(stub, svc, intent_pb2, a.pid, level, a.warmup, a.window, a.aux_pid) for _ in range(a.runs)]
            runs.sort(key=lambda r: r["decisions_per_s"])
            med = dict(runs[len(runs) // 2])
            med["runs"] = [{k: r[k] for k in ("decisions_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_decision")} for r in runs]
            results.append(med)
            print(
                f"  in flight {level:>3}: {med['decisions_per_s']:>8.0f} decisions/s  p50 {med['p50_ms']:.2f} ms  p99 {med['p99_ms']:.2f} ms  "
                f"server CPU {med['server_cpu_us_per_decision']:.0f} us/decision (user {med['server_user_us_per_decision']:.0f} sys {med['server_sys_us_per_decision']:.0f}; {med['server_cpu_cores']:.2f} cores)  RSS {med['server_rss_mb']:.0f} MB"
                f"  errors {med['errors']}  non-allow {med['non_allow']}"
                + (f"  redis-server CPU {med['aux_cpu_us_per_decision']:.0f} us/decision" if a.aux_pid else ""),
                flush=True,
            )
    doc = {
        "benchmark": "server",
        "what": "Evaluate over a Unix socket, grpcio asyncio client (C core), one channel, closed loop; signed traces fsynced (group commit) before each reply",
        "window_s": a.window,
        "warmup_s": a.warmup,
        "runs_per_level": a.runs,
        "cpu_count": os.cpu_count(),
        "levels": results,
        "target": "server CPU <= 150 us/decision at 64 in flight (spec/performance.md)",
    }
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
