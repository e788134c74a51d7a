"""Side-by-side load for `make bench-peers`: ours and Cerbos, both already running, driven by the same client, over
two transports measured in the same run:
- gRPC: ours gait.gate.v1.GateService/Evaluate (the intent as is) and Cerbos cerbos.svc.v1.CerbosService/CheckResources,
  both on Unix sockets. Client: Python grpcio asyncio (C core), one channel per server (all calls in flight multiplexed
  on it).
- HTTP/1.1 JSON (skipped with --no-http): ours POST /v1/evaluate of `gait mcp serve --http-listen` (TCP loopback: the
  listener takes host:port only; Gait's body {"adapter": "mcp", "call": <MCP tool call>}, which the server decodes into
  the same intent) and Cerbos POST /api/check/resources (its JSON API, on its HTTP Unix socket; the JSON form of the
  same CheckResourcesRequest; Cerbos serves it through grpc-gateway, which calls its own gRPC listener). Client: Python
  asyncio streams, one keep-alive connection per call in flight (asyncio.open_connection / open_unix_connection),
  requests encoded once (head and body) and written as bytes, each reply's head read up to the blank line and its body
  by Content-Length (a chunked reply or a status other than 200 is an error).

Closed loop: N calls in flight, each worker sends the next pre-encoded request as soon as its reply arrives. Replies
are taken as bytes (no per-call (de)serialization in the client, identical client work for both servers of a
transport); only the last reply of a window is decoded, to check its verdict.

Before any load, the same four intents go to both servers over each transport and their verdicts must all agree (the
policies are meant to be equivalent: bench/server/policy.yaml and bench/peers/cerbos/policies/tool.yaml); a
disagreement or an error stops the run. Each side (server x transport) is first settled at 64 in flight (--settle s).
Then, per in-flight level and per run, one window per side, alternating (gRPC ours, gRPC Cerbos, HTTP ours, HTTP
Cerbos), so that a change in the machine's load hits all alike; each window is preceded by its own warm-up. Per window:
decisions/s, client-observed p50/p99, server CPU per decision (utime+stime of the server pid, all threads, from
/proc/<pid>/stat, over the window / decisions answered), server cores used, RSS at the end of the window. The figure
per level is the median of the runs, metric by metric; ratios are ours / Cerbos of those medians, within one transport.
One table per transport (gRPC, then HTTP); the JSON document holds the gRPC levels at the top level (as before) and
the HTTP ones under "http".

Stubs (ours from proto/, Cerbos' request/response from bench/peers/cerbos_wire.proto) are generated into --stubs by
scripts/bench-peers.sh with the venv's grpc_tools.protoc.
"""
import argparse
import asyncio
import functools
import json
import os
import statistics
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
OURS_METHOD = "/gait.gate.v1.GateService/Evaluate"
CERBOS_METHOD = "/cerbos.svc.v1.CerbosService/CheckResources"
OURS_HTTP_PATH = "/v1/evaluate"
CERBOS_HTTP_PATH = "/api/check/resources"
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


# ---- the same intents over HTTP/1.1 JSON ------------------------------------------------------------------------
def http_host(addr: str) -> str:
    """The Host header for an address: "unix:/path" (Host is required, its value unused) or "host:port"."""
    return "localhost" if addr.startswith("unix:") else addr


def http_request(path: str, host: str, doc: dict) -> bytes:
    """A whole HTTP/1.1 POST (head and compact JSON body), encoded once; the connection stays open (keep-alive)."""
    body = json.dumps(doc, separators=(",", ":")).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def ours_http_request(it, host: str) -> bytes:
    """Gait's /v1/evaluate body: an MCP tool call (adapter "mcp") that the server decodes into the same intent as the
    gRPC request (tool name, args, targets, provenance, context)."""
    call = {
        "name": it["tool_name"],
        "args": it["args"],
        "targets": it["targets"],
        "arg_provenance": it["arg_provenance"],
        "context": {k: it[k] for k in ("identity", "workspace", "risk_class", "session_id")},
    }
    return http_request(OURS_HTTP_PATH, host, {"adapter": "mcp", "call": call})


def cerbos_http_request(cw, it, request_id: str, host: str) -> bytes:
    """Cerbos' /api/check/resources body: the JSON form (protojson names) of the gRPC request above, field for field."""
    from google.protobuf import json_format

    req = cw.CheckResourcesRequest.FromString(cerbos_request(cw, it, request_id))
    return http_request(CERBOS_HTTP_PATH, host, json_format.MessageToDict(req))


def ours_http_verdict(body: bytes) -> str:
    v = json.loads(body).get("verdict")
    return v if v in ("allow", "block", "require_approval") else f"verdict {v!r}"


def cerbos_http_verdict(body: bytes, action: str) -> str:
    r = json.loads(body)
    results = r.get("results") or []
    if len(results) != 1 or action not in (results[0].get("actions") or {}):
        return f"malformed reply {body[:200]!r}"
    e = results[0]["actions"][action]
    return {"EFFECT_ALLOW": "allow", "EFFECT_DENY": "block"}.get(e, f"effect {e}")


class HttpError(Exception):
    pass


class HttpConn:
    """One keep-alive HTTP/1.1 connection, one call at a time (one per call in flight). A reply's head is read up to
    the blank line, its body by Content-Length; a chunked reply is refused (neither server is expected to send one for
    a reply this small), a status other than 200 is an error (the body read, so the connection stays usable). After a
    failure mid-reply the connection is closed and the next call opens a new one."""

    def __init__(self, addr: str):
        self.addr = addr
        self.r = self.w = None

    async def open(self):
        if self.addr.startswith("unix:"):
            self.r, self.w = await asyncio.open_unix_connection(self.addr[5:])
        else:  # asyncio sets TCP_NODELAY on TCP connections
            host, port = self.addr.rsplit(":", 1)
            self.r, self.w = await asyncio.open_connection(host, int(port))
        return self

    def close(self):
        if self.w is not None:
            self.w.close()
            self.r = self.w = None

    async def call(self, request: bytes) -> bytes:
        if self.w is None:
            await self.open()
        try:
            self.w.write(request)  # closed loop, one request per connection outstanding: nothing to drain
            head = await self.r.readuntil(b"\r\n\r\n")
            h = head.lower()
            if b"\r\ntransfer-encoding:" in h:
                raise HttpError(f"chunked reply (Transfer-Encoding), which this client does not read: {head[:300]!r}")
            i = h.find(b"\r\ncontent-length:")
            if i < 0:
                raise HttpError(f"reply without Content-Length: {head[:300]!r}")
            body = await self.r.readexactly(int(h[i + 17 : h.index(b"\r\n", i + 17)]))
        except BaseException:
            self.close()
            raise
        if b"\r\nconnection: close" in h:
            self.close()
        if head[9:12] != b"200":
            raise HttpError(f"HTTP {head[9:12].decode()}: {body[:300].decode(errors='replace').strip()}")
        return body


class GrpcSlot:
    """A call in flight on the shared channel (grpcio multiplexes them on one connection): nothing to open or close."""

    def __init__(self, multicallable):
        self.call = functools.partial(multicallable, timeout=10)  # bytes in, bytes out

    def close(self):
        pass


def grpc_slots(multicallable):
    async def open_slot():
        return GrpcSlot(multicallable)

    return open_slot


def http_slots(addr: str):
    async def open_slot():
        return await HttpConn(addr).open()

    return open_slot


def error_text(e: BaseException) -> str:
    if callable(getattr(e, "code", None)) and callable(getattr(e, "details", None)):  # grpc.aio.AioRpcError
        return f"{e.code()}: {e.details()}"
    return f"{type(e).__name__}: {e}"


# ---- load -------------------------------------------------------------------------------------------------------
async def window(open_slot, payloads, pid: int, in_flight: int, warmup: float, seconds: float) -> dict:
    """One window: `in_flight` workers, each on its own slot (gRPC: the shared channel; HTTP: its own connection,
    opened before the warm-up), closed loop."""
    lat: list[float] = []
    st = {"measuring": False, "stop": False, "errors": 0, "first_error": None, "i": 0, "last": None}
    slots = await asyncio.gather(*(open_slot() for _ in range(in_flight)))

    async def worker(slot):
        call = slot.call
        while not st["stop"]:
            p = payloads[st["i"] % len(payloads)]
            st["i"] += 1
            t0 = time.perf_counter()
            try:
                reply = await call(p)
            except Exception as e:
                st["errors"] += 1
                st["first_error"] = st["first_error"] or error_text(e)
                await asyncio.sleep(0.01)
                continue
            if st["measuring"]:
                lat.append(time.perf_counter() - t0)
                st["last"] = reply

    tasks = [asyncio.create_task(worker(s)) for s in slots]
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
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), 15)  # a reply that never comes fails the window
    except asyncio.TimeoutError:
        st["errors"] += 1
        st["first_error"] = st["first_error"] or "calls still unanswered 15 s after the window"
    finally:
        for s in slots:
            s.close()
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
LABEL = {"grpc": "gRPC", "http": "HTTP"}


def median_of(runs):
    return {k: statistics.median(r[k] for r in runs) for k in METRICS}


def fmt_int(x):
    return f"{x:,.0f}"


def table(levels) -> list[str]:
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
    return lines


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stubs", required=True)
    ap.add_argument("--ours-socket", required=True, help="ours' gRPC Unix socket")
    ap.add_argument("--ours-pid", type=int, required=True)
    ap.add_argument("--cerbos-socket", required=True, help="Cerbos' gRPC Unix socket")
    ap.add_argument("--cerbos-pid", type=int, required=True)
    ap.add_argument("--ours-http", help="ours' HTTP listener: host:port or unix:/path")
    ap.add_argument("--cerbos-http", help="Cerbos' HTTP listener: host:port or unix:/path")
    ap.add_argument("--no-http", action="store_true", help="gRPC only")
    ap.add_argument("--levels", default="1,8,64")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--window", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--settle", type=float, default=5.0, help="load at 64 in flight on each side before the first level (s)")
    ap.add_argument("--meta", default="{}", help="JSON object merged into the output document (versions, commit)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    http = not a.no_http
    if http and not (a.ours_http and a.cerbos_http):
        ap.error("--ours-http and --cerbos-http are required unless --no-http")
    sys.path.insert(0, a.stubs)
    import grpc
    from gait.gate.v1 import gate_service_pb2 as svc, intent_pb2 as pb
    import cerbos_wire_pb2 as cw

    load_before = loadavg()
    async with grpc.aio.insecure_channel(f"unix://{a.ours_socket}") as ours_ch, grpc.aio.insecure_channel(f"unix://{a.cerbos_socket}") as cerbos_ch:
        ours_call = ours_ch.unary_unary(OURS_METHOD)  # bytes in, bytes out
        cerbos_call = cerbos_ch.unary_unary(CERBOS_METHOD)
        ours_host, cerbos_host = (http_host(a.ours_http), http_host(a.cerbos_http)) if http else ("", "")

        # 1. same intents, same verdicts, over each transport
        async def verdict_of(send, decode) -> str:
            try:
                return decode(await send())
            except Exception as e:
                return f"error ({error_text(e)})"

        bad = 0
        if http:
            ours_conn, cerbos_conn = await HttpConn(a.ours_http).open(), await HttpConn(a.cerbos_http).open()
        for name, it in intents():
            act = it["tool_name"]
            v = {
                "gRPC": (await verdict_of(lambda: ours_call(ours_request(svc, pb, it), timeout=10), lambda r: ours_verdict(svc, r)),
                         await verdict_of(lambda: cerbos_call(cerbos_request(cw, it, "check"), timeout=10), lambda r: cerbos_verdict(cw, r, act))),
            }
            if http:
                v["HTTP"] = (await verdict_of(lambda: ours_conn.call(ours_http_request(it, ours_host)), ours_http_verdict),
                             await verdict_of(lambda: cerbos_conn.call(cerbos_http_request(cw, it, "check", cerbos_host)),
                                              lambda r: cerbos_http_verdict(r, act)))
            seen = {x for pair in v.values() for x in pair}
            ok = len(seen) == 1 and seen <= {"allow", "block"}
            bad += not ok
            said = " | ".join(f"{t} ours {o:<6} cerbos {c:<6}" for t, (o, c) in v.items())
            print(f"  {'ok  ' if ok else 'FAIL'} {name:<38} {said}", flush=True)
        if http:
            ours_conn.close()
            cerbos_conn.close()
        if bad:
            print(f"bench-peers: the servers disagree on {bad} intent(s) (or a call failed); the policies are not equivalent", file=sys.stderr)
            return 1

        # 2. the load: 8 requests per side (sessions s0..s7), the allowed benchmark intent
        bench = intents()[0][1]
        sessions = [{**bench, "session_id": f"s{i}"} for i in range(8)]
        transports = {
            "grpc": {
                "ours": (grpc_slots(ours_call), [ours_request(svc, pb, it) for it in sessions], a.ours_pid, lambda r: ours_verdict(svc, r)),
                "cerbos": (grpc_slots(cerbos_call), [cerbos_request(cw, it, f"r{i}") for i, it in enumerate(sessions)], a.cerbos_pid,
                           lambda r: cerbos_verdict(cw, r, "tool.write")),
            },
        }
        if http:
            transports["http"] = {
                "ours": (http_slots(a.ours_http), [ours_http_request(it, ours_host) for it in sessions], a.ours_pid, ours_http_verdict),
                "cerbos": (http_slots(a.cerbos_http), [cerbos_http_request(cw, it, f"r{i}", cerbos_host) for i, it in enumerate(sessions)],
                           a.cerbos_pid, lambda r: cerbos_http_verdict(r, "tool.write")),
            }
        # settle every side before the first measured level: ours runs on V8, whose optimizing compiler needs some
        # thousands of decisions before a hot path is compiled (at 1 in flight, a 1 s warm-up alone would measure ours
        # half-compiled), and the HTTP path is a hot path of its own; Cerbos is compiled ahead of time. Same load on
        # every side.
        for sides in transports.values():
            for open_slot, payloads, pid, _ in sides.values():
                await window(open_slot, payloads, pid, 64, a.settle, 0.01)
        levels = {t: [] for t in transports}
        for level in [int(x) for x in a.levels.split(",")]:
            runs = {t: {"ours": [], "cerbos": []} for t in transports}
            for _ in range(a.runs):
                for t, sides in transports.items():
                    for side, (open_slot, payloads, pid, verdict) in sides.items():
                        w = await window(open_slot, payloads, pid, level, a.warmup, a.window)
                        last = w.pop("last_reply")
                        if w["errors"] or last is None or verdict(last) != "allow":
                            print(f"bench-peers: {LABEL[t]} {side} at {level} in flight: {w['errors']} errors ({w['first_error']}), last verdict "
                                  f"{verdict(last) if last is not None else 'none'}", file=sys.stderr)
                            return 1
                        runs[t][side].append(w)
            for t, sides in transports.items():
                row = {"in_flight": level}
                for side in ("ours", "cerbos"):
                    row[side] = {**median_of(runs[t][side]), "runs": runs[t][side]}
                    row[side]["peak_rss_mb"] = proc_status_mb(sides[side][2], "VmHWM")
                o, c = row["ours"], row["cerbos"]
                row["ratio_ours_over_cerbos"] = {k: o[k] / c[k] for k in ("decisions_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_decision", "server_rss_mb")}
                levels[t].append(row)
                print(f"  {level:>3} in flight, {LABEL[t]}: ours {fmt_int(o['decisions_per_s'])}/s, Cerbos {fmt_int(c['decisions_per_s'])}/s", flush=True)
    load_after = loadavg()

    # 3. one table per transport
    where = lambda addr: "a Unix socket" if addr.startswith("unix:") else f"TCP {addr.rsplit(':', 1)[0]}"
    what = {
        "grpc": "ours Evaluate and Cerbos CheckResources, both on Unix sockets; Python grpcio (C core) asyncio, one channel per server",
        "http": f"HTTP/1.1 JSON, ours POST {OURS_HTTP_PATH} on {where(a.ours_http or '')}, Cerbos POST {CERBOS_HTTP_PATH} on "
                f"{where(a.cerbos_http or '')}; Python asyncio streams, one keep-alive connection per call in flight",
    }
    tables = {t: table(levels[t]) for t in transports}
    for t in transports:
        print(f"\n{LABEL[t]}: {what[t]}\n")
        print("\n".join(tables[t]))
    order = ", ".join(f"{LABEL[t]} ours, {LABEL[t]} Cerbos" for t in transports)
    print(f"\n  medians of {a.runs} x {a.window:g} s windows (each after a {a.warmup:g} s warm-up), alternating ({order});"
          f" {os.cpu_count()} cores; load average (1/5/15 min) before {load_before}, after {load_after}")
    for t in transports:
        for r in levels[t]:
            o, c = r["ours"], r["cerbos"]
            print(f"  {LABEL[t]} {r['in_flight']:>3} in flight: machine busy {o['host_busy_cores']:.2f} / {c['host_busy_cores']:.2f} cores of {os.cpu_count()} "
                  f"during ours' / Cerbos' windows (load generator {o['client_cores']:.2f} / {c['client_cores']:.2f}); peak RSS {o['peak_rss_mb']:.0f} / {c['peak_rss_mb']:.0f} MB")
    print("  only ratios within one run count: absolute figures move with the machine's load (peak RSS is the process' peak so far)")

    doc = {
        "benchmark": "peers",
        "what": "ours (gait mcp serve: every decision signed and its trace record fsynced before the reply) vs Cerbos (audit log off), "
                "equivalent policies, same client, closed loop; gRPC over Unix sockets, same Python grpcio (C core) asyncio client, one "
                "channel per server (levels, table_markdown)" + ("; HTTP/1.1 JSON in the same run (http)" if http else ""),
        "window_s": a.window, "warmup_s": a.warmup, "settle_s_at_64_in_flight": a.settle, "runs_per_level": a.runs, "cpu_count": os.cpu_count(),
        "load_average_before": load_before, "load_average_after": load_after,
        **json.loads(a.meta),
        "levels": levels["grpc"],
        "table_markdown": "\n".join(tables["grpc"]),
    }
    if http:
        doc["http"] = {"what": what["http"], "levels": levels["http"], "table_markdown": "\n".join(tables["http"])}
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
