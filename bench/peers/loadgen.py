"""Side-by-side load for `make bench-peers`: ours (gait.gate.v1.GateService/Evaluate) and Cerbos
(cerbos.svc.v1.CerbosService/CheckResources), both already running on Unix sockets, driven by the same client.

The client is Python grpcio asyncio (C core), one channel per server, closed loop: N calls in flight, each worker
sends the next pre-encoded request as soon as its reply arrives. Requests are encoded once before the load and sent
as bytes, replies are taken as bytes (no per-call (de)serialization in the client, identical client work for both).

Before any load, the same four intents go to both servers and their verdicts must agree (the policies are meant to be
equivalent: bench/server/policy.yaml and bench/peers/cerbos/policies/tool.yaml); a disagreement or an error stops
the run. Then, per in-flight level and per run, a window for ours and a window for Cerbos, alternating, so that a
change in the machine's load hits both sides alike; each window is preceded by its own warm-up. Per window: decisions/s,
client-observed p50/p99, server CPU per decision (utime+stime of the server pid, all threads, from /proc/<pid>/stat,
over the window / decisions answered), server cores used, RSS at the end of the window. The figure per level is the
median of the runs, metric by metric; ratios are ours / Cerbos of those medians.

Stubs (ours from proto/, Cerbos' request/response from bench/peers/cerbos_wire.proto) are generated into --stubs by
scripts/bench-peers.sh with the venv's grpc_tools.protoc.
"""
import argparse
import asyncio
import json
import os
import statistics
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
OURS_METHOD = "/gait.gate.v1.GateService/Evaluate"
CERBOS_METHOD = "/cerbos.svc.v1.CerbosService/CheckResources"
WORKSPACE_FILE = "/workspace/app/config.yaml"


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads


def proc_status_mb(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def host_busy_cores() -> tuple[int, int]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v)  # idle + iowait, total (jiffies, all cores)


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---- the intents, said to each server --------------------------------------------------------------------------
def intents():
    """(name, fields) pairs: the benchmark intent first (allowed), then three the policies must block."""
    base = dict(
        tool_name="tool.write",
        args={"path": WORKSPACE_FILE, "content": "key: value"},
        targets=[{"kind": "path", "value": WORKSPACE_FILE, "operation": "write"}],
        arg_provenance=[{"arg_path": "content", "source": "user"}],
        identity="agent-bench",
        workspace="/workspace",
        risk_class="low",
        session_id="s0",
    )
    return [
        ("bench intent (tool.write, risk low)", base),
        ("target /etc/shadow", {**base, "targets": [{"kind": "path", "value": "/etc/shadow", "operation": "write"}]}),
        ("risk high without provenance", {**base, "risk_class": "high", "arg_provenance": []}),
        ("tool.read (no rule allows it)", {**base, "tool_name": "tool.read"}),
    ]


def ours_request(svc, pb, it) -> bytes:
    from google.protobuf import struct_pb2

    args = struct_pb2.Struct()
    args.update(it["args"])
    intent = pb.IntentRequest(
        tool_name=it["tool_name"],
        args=args,
        targets=[pb.Target(**t) for t in it["targets"]],
        arg_provenance=[pb.ArgProvenance(**p) for p in it["arg_provenance"]],
        context=pb.IntentContext(identity=it["identity"], workspace=it["workspace"], risk_class=it["risk_class"], session_id=it["session_id"]),
    )
    return svc.EvaluateRequest(intent=intent).SerializeToString()


def cerbos_request(cw, it, request_id: str) -> bytes:
    from google.protobuf import json_format

    req = cw.CheckResourcesRequest(request_id=request_id)
    req.principal.id = it["identity"]
    req.principal.roles.append("agent")
    entry = req.resources.add()
    entry.actions.append(it["tool_name"])
    entry.resource.kind = "tool"
    entry.resource.id = it["tool_name"]
    attr = {k: it[k] for k in ("tool_name", "args", "targets", "arg_provenance", "workspace", "risk_class", "session_id")}
    for k, v in attr.items():
        json_format.ParseDict(v, entry.resource.attr[k])  # a JSON value into google.protobuf.Value
    return req.SerializeToString()


def ours_verdict(svc, reply: bytes) -> str:
    r = svc.EvaluateResponse.FromString(reply)
    return {1: "allow", 2: "block", 3: "require_approval"}.get(r.verdict, f"verdict {r.verdict}")


def cerbos_verdict(cw, reply: bytes, action: str) -> str:
    r = cw.CheckResourcesResponse.FromString(reply)
    if len(r.results) != 1 or action not in r.results[0].actions:
        return f"malformed reply {r}"
    e = r.results[0].actions[action]
    return {1: "allow", 2: "block"}.get(e, f"effect {e}")


# ---- load -------------------------------------------------------------------------------------------------------
async def window(call, payloads, pid: int, in_flight: int, warmup: float, seconds: float) -> dict:
    import grpc

    lat: list[float] = []
    st = {"measuring": False, "stop": False, "errors": 0, "first_error": None, "i": 0, "last": None}

    async def worker():
        while not st["stop"]:
            p = payloads[st["i"] % len(payloads)]
            st["i"] += 1
            t0 = time.perf_counter()
            try:
                reply = await call(p, timeout=10)
            except grpc.aio.AioRpcError as e:
                st["errors"] += 1
                st["first_error"] = st["first_error"] or f"{e.code()}: {e.details()}"
                await asyncio.sleep(0.01)
                continue
            if st["measuring"]:
                lat.append(time.perf_counter() - t0)
                st["last"] = reply

    tasks = [asyncio.create_task(worker()) for _ in range(in_flight)]
    await asyncio.sleep(warmup)
    cpu0, host0, clk0 = proc_cpu_s(pid), host_busy_cores(), time.process_time()
    t0 = time.perf_counter()
    st["measuring"] = True
    await asyncio.sleep(seconds)
    st["measuring"] = False
    t1 = time.perf_counter()
    cpu1, host1, clk1 = proc_cpu_s(pid), host_busy_cores(), time.process_time()
    rss = proc_status_mb(pid, "VmRSS")
    st["stop"] = True
    await asyncio.gather(*tasks)
    n = len(lat)
    lat.sort()
    pct = lambda q: lat[min(n - 1, int(q * n))] * 1000 if n else float("nan")
    el = t1 - t0
    idle, total = host1[0] - host0[0], host1[1] - host0[1]
    return {
        "decisions": n,
        "decisions_per_s": n / el,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "server_cpu_us_per_decision": (cpu1 - cpu0) / n * 1e6 if n else float("nan"),
        "server_cores": (cpu1 - cpu0) / el,
        "server_rss_mb": rss,
        "client_cores": (clk1 - clk0) / el,
        "host_busy_cores": (1 - idle / total) * os.cpu_count() if total else float("nan"),
        "errors": st["errors"],
        "first_error": st["first_error"],
        "last_reply": st["last"],
    }


METRICS = ("decisions_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_decision", "server_cores", "server_rss_mb", "client_cores", "host_busy_cores")


def median_of(runs):
    return {k: statistics.median(r[k] for r in runs) for k in METRICS}


def fmt_int(x):
    return f"{x:,.0f}"


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stubs", required=True)
    ap.add_argument("--ours-socket", required=True)
    ap.add_argument("--ours-pid", type=int, required=True)
    ap.add_argument("--cerbos-socket", required=True)
    ap.add_argument("--cerbos-pid", type=int, required=True)
    ap.add_argument("--levels", default="1,8,64")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--window", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--settle", type=float, default=5.0, help="load at 64 in flight on each side before the first level (s)")
    ap.add_argument("--meta", default="{}", help="JSON object merged into the output document (versions, commit)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.stubs)
    import grpc
    from gait.gate.v1 import gate_service_pb2 as svc, intent_pb2 as pb
    import cerbos_wire_pb2 as cw

    load_before = loadavg()
    async with grpc.aio.insecure_channel(f"unix://{a.ours_socket}") as ours_ch, grpc.aio.insecure_channel(f"unix://{a.cerbos_socket}") as cerbos_ch:
        ours_call = ours_ch.unary_unary(OURS_METHOD)  # bytes in, bytes out
        cerbos_call = cerbos_ch.unary_unary(CERBOS_METHOD)

        # 1. same intents, same verdicts
        bad = 0
        for name, it in intents():
            o = ours_verdict(svc, await ours_call(ours_request(svc, pb, it), timeout=10))
            c = cerbos_verdict(cw, await cerbos_call(cerbos_request(cw, it, "check"), timeout=10), it["tool_name"])
            ok = o == c and o in ("allow", "block")
            bad += not ok
            print(f"  {'ok  ' if ok else 'FAIL'} {name:<38} ours {o:<6} cerbos {c}", flush=True)
        if bad:
            print(f"bench-peers: the two servers disagree on {bad} intent(s); the policies are not equivalent", file=sys.stderr)
            return 1

        # 2. the load: 8 requests per side (sessions s0..s7), the allowed benchmark intent
        bench = intents()[0][1]
        ours_payloads = [ours_request(svc, pb, {**bench, "session_id": f"s{i}"}) for i in range(8)]
        cerbos_payloads = [cerbos_request(cw, {**bench, "session_id": f"s{i}"}, f"r{i}") for i in range(8)]
        sides = {
            "ours": (ours_call, ours_payloads, a.ours_pid, lambda r: ours_verdict(svc, r)),
            "cerbos": (cerbos_call, cerbos_payloads, a.cerbos_pid, lambda r: cerbos_verdict(cw, r, "tool.write")),
        }
        # settle both before the first measured level: ours runs on V8, whose optimizing compiler needs some thousands
        # of decisions before the hot path is compiled (at 1 in flight, a 1 s warm-up alone would measure ours
        # half-compiled); Cerbos is compiled ahead of time. Same load on both sides.
        for side, (call, payloads, pid, _) in sides.items():
            await window(call, payloads, pid, 64, a.settle, 0.01)
        levels = []
        for level in [int(x) for x in a.levels.split(",")]:
            runs = {"ours": [], "cerbos": []}
            for _ in range(a.runs):
                for side, (call, payloads, pid, verdict) in sides.items():
                    w = await window(call, payloads, pid, level, a.warmup, a.window)
                    last = w.pop("last_reply")
                    if w["errors"] or last is None or verdict(last) != "allow":
                        print(f"bench-peers: {side} at {level} in flight: {w['errors']} errors ({w['first_error']}), last verdict "
                              f"{verdict(last) if last is not None else 'none'}", file=sys.stderr)
                        return 1
                    runs[side].append(w)
            row = {"in_flight": level}
            for side in ("ours", "cerbos"):
                row[side] = {**median_of(runs[side]), "runs": runs[side]}
                row[side]["peak_rss_mb"] = proc_status_mb(sides[side][2], "VmHWM")
            o, c = row["ours"], row["cerbos"]
            row["ratio_ours_over_cerbos"] = {k: o[k] / c[k] for k in ("decisions_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_decision", "server_rss_mb")}
            levels.append(row)
            print(f"  {level:>3} in flight: ours {fmt_int(o['decisions_per_s'])}/s, Cerbos {fmt_int(c['decisions_per_s'])}/s", flush=True)
    load_after = loadavg()

    # 3. one table
    head = ["in flight", "ours dec/s", "Cerbos dec/s", "ours/Cerbos", "ours p50 / p99 ms", "Cerbos p50 / p99 ms", "p50 ratio",
            "ours CPU us/dec (cores)", "Cerbos CPU us/dec (cores)", "CPU ratio", "ours / Cerbos RSS MB"]
    lines = [f"| {' | '.join(head)} |", f"|{'|'.join('---' for _ in head)}|"]
    for r in levels:
        o, c, q = r["ours"], r["cerbos"], r["ratio_ours_over_cerbos"]
        lines.append(
            f"| {r['in_flight']} | {fmt_int(o['decisions_per_s'])} | {fmt_int(c['decisions_per_s'])} | {q['decisions_per_s']:.2f}x"
            f" | {o['p50_ms']:.2f} / {o['p99_ms']:.2f} | {c['p50_ms']:.2f} / {c['p99_ms']:.2f} | {q['p50_ms']:.2f}x"
            f" | {o['server_cpu_us_per_decision']:.0f} ({o['server_cores']:.2f}) | {c['server_cpu_us_per_decision']:.0f} ({c['server_cores']:.2f})"
            f" | {q['server_cpu_us_per_decision']:.2f}x | {o['server_rss_mb']:.0f} / {c['server_rss_mb']:.0f} |"
        )
    print()
    print("\n".join(lines))
    print(f"\n  medians of {a.runs} x {a.window:g} s windows (each after a {a.warmup:g} s warm-up), ours and Cerbos alternating;"
          f" {os.cpu_count()} cores; load average (1/5/15 min) before {load_before}, after {load_after}")
    for r in levels:
        o, c = r["ours"], r["cerbos"]
        print(f"  {r['in_flight']:>3} in flight: machine busy {o['host_busy_cores']:.2f} / {c['host_busy_cores']:.2f} cores of {os.cpu_count()} "
              f"during ours' / Cerbos' windows (load generator {o['client_cores']:.2f} / {c['client_cores']:.2f}); peak RSS {o['peak_rss_mb']:.0f} / {c['peak_rss_mb']:.0f} MB")
    print("  only ratios within one run count: absolute figures move with the machine's load")

    doc = {
        "benchmark": "peers",
        "what": "ours (gait mcp serve: every decision signed and its trace record fsynced before the reply) vs Cerbos (audit log off) "
                "over Unix sockets, equivalent policies, same Python grpcio (C core) asyncio client, closed loop, one channel per server",
        "window_s": a.window, "warmup_s": a.warmup, "settle_s_at_64_in_flight": a.settle, "runs_per_level": a.runs, "cpu_count": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": load_after,
        **json.loads(a.meta),
        "levels": levels,
        "table_markdown": "\n".join(lines),
    }
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
