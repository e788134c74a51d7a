"""`make soak`: a long closed-loop load at 64 in flight against a running `gait mcp serve`, watching the server's RSS
and open file descriptors. Mixed calls: allows, blocks, require_approval (each a durable signed record), and a few
malformed frames. Prints a sample line every --every seconds and a summary; writes JSON; exits 1 when RSS or the fd
count kept growing (the second half's median above the first half's by more than the allowed margin) or any call
got an unexpected error.
"""
import argparse
import asyncio
import json
import os
import statistics
import sys
import time

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))

import grpc  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402
from gait_client.gen.gait.gate.v1 import gate_service_pb2 as svc, gate_service_pb2_grpc as svc_grpc, intent_pb2 as ipb  # noqa: E402


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def request(i):
    tool = ("tool.read", "tool.delete", "tool.write")[i % 3]
    args = struct_pb2.Struct()
    args.update({"path": f"/w/{i % 1000}", "n": i % 7})
    return svc.EvaluateRequest(intent=ipb.IntentRequest(
        tool_name=tool, args=args,
        targets=[ipb.Target(kind="path", value=f"/w/{i % 1000}", operation="read" if tool == "tool.read" else "write")],
        context=ipb.IntentContext(identity=f"soak-{i % 50}", workspace="/w", risk_class="low")))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--every", type=float, default=10)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rss-margin", type=float, default=0.15)
    ap.add_argument("--fd-margin", type=int, default=8)
    a = ap.parse_args()
    ch = grpc.aio.insecure_channel(f"unix://{a.socket}")
    stub = svc_grpc.GateServiceStub(ch)
    raw = ch.unary_unary("/gait.gate.v1.GateService/Evaluate", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    st = {"calls": 0, "allow": 0, "block": 0, "require_approval": 0, "invalid_argument": 0, "errors": 0, "stop": False}
    samples = []

    async def worker(w):
        i = w
        while not st["stop"]:
            i += a.concurrency
            try:
                if i % 97 == 0:
                    try:
                        await raw(b"\x0a\x05\x0a", timeout=5)  # a truncated frame
                    except grpc.aio.AioRpcError as e:
                        if e.code() == grpc.StatusCode.INVALID_ARGUMENT:
                            st["invalid_argument"] += 1
                        else:
                            st["errors"] += 1
                    continue
                r = await stub.Evaluate(request(i), timeout=10)
                st["calls"] += 1
                st[{1: "allow", 2: "block", 3: "require_approval"}.get(r.verdict, "errors")] += 1
            except grpc.aio.AioRpcError as e:
                st["errors"] += 1
                print(f"error: {e.code()} {e.details()}", file=sys.stderr)

    tasks = [asyncio.create_task(worker(w)) for w in range(a.concurrency)]
    t0 = time.time()
    while time.time() - t0 < a.seconds:
        await asyncio.sleep(a.every)
        s = {"t": round(time.time() - t0), "calls": st["calls"], "rss_mb": round(rss_mb(a.pid), 1), "fds": fds(a.pid)}
        samples.append(s)
        print(f"  t={s['t']:>5}s calls={s['calls']:>9} rss={s['rss_mb']:>7} MB fds={s['fds']}", flush=True)
    st["stop"] = True
    await asyncio.gather(*tasks)
    await ch.close()
    # the first quarter is warm-up (JIT, buffers, approval requests up to their caps); compare the second quarter
    # with the last quarter
    q = max(1, len(samples) // 4)
    first, second = samples[q:2 * q] or samples[:1], samples[-q:]
    rss1 = statistics.median(x["rss_mb"] for x in first)
    rss2 = statistics.median(x["rss_mb"] for x in second)
    fd1 = statistics.median(x["fds"] for x in first)
    fd2 = max(x["fds"] for x in second)
    flat_rss = rss2 <= rss1 * (1 + a.rss_margin)
    flat_fds = fd2 <= fd1 + a.fd_margin
    out = {"seconds": a.seconds, "concurrency": a.concurrency, **{k: v for k, v in st.items() if k != "stop"},
           "decisions_per_s": round(st["calls"] / a.seconds), "rss_mb_second_quarter_median": rss1, "rss_mb_last_quarter_median": rss2,
           "rss_mb_max": max(x["rss_mb"] for x in samples), "fds_second_quarter_median": fd1, "fds_last_quarter_max": fd2,
           "rss_flat": flat_rss, "fds_flat": flat_fds, "samples": samples}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)
    print(f"soak: {st['calls']} decisions in {a.seconds:.0f}s ({out['decisions_per_s']}/s) at {a.concurrency} in flight; "
          f"allow {st['allow']} block {st['block']} require_approval {st['require_approval']} invalid frames {st['invalid_argument']} errors {st['errors']}")
    print(f"soak: RSS median {rss1:.1f} MB (second quarter) -> {rss2:.1f} MB (last quarter), max {out['rss_mb_max']} MB; fds {fd1:.0f} -> max {fd2}")
    ok = flat_rss and flat_fds and st["errors"] == 0
    print("soak: " + ("PASS (flat RSS, no fd growth, no errors)" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
