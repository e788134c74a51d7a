#!/usr/bin/env bash
# The floor (`make bench-floor`): what the transport and one durable write cost on this machine, beside ours, with the
# same client (bench/server/loadgen.py, Python grpcio asyncio, one channel) at 1, 8 and 64 in flight:
#   floor none   a grpc-js server answering a fixed ALLOW (bench/server/floor.ts): the transport alone
#   floor async  the same, each call first makes a 2 KB write durable (O_DSYNC) through libuv's thread pool
#   floor sync   the same write, blocking the event loop
#   ours         gait mcp serve with its defaults (dev key; signed record, group-committed durable write per decision)
# One window per side per run, sides alternating; medians of the runs. Prints a table, writes bench/results/floor.json.
# Knobs: BENCH_WINDOW (s, default 4), BENCH_WARMUP (s, default 1), BENCH_RUNS (default 3), BENCH_LEVELS (default
# 1,8,64), BENCH_OUT (default bench/results/floor.json)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "bench-floor: $PY missing; run 'make setup'" >&2; exit 1; }
[ -f "$ROOT/dist/bench/server/floor.js" ] || { echo "bench-floor: dist missing; run 'make build'" >&2; exit 1; }
TMP="$(mktemp -d /tmp/gait-bench-floor-XXXXXX)"
PID=""
cleanup() { if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; fi; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -p "$TMP/stubs"
"$PY" -m grpc_tools.protoc -I "$ROOT/proto" --python_out="$TMP/stubs" --grpc_python_out="$TMP/stubs" "$ROOT"/proto/gait/gate/v1/*.proto
touch "$TMP/stubs/gait/__init__.py" "$TMP/stubs/gait/gate/__init__.py" "$TMP/stubs/gait/gate/v1/__init__.py"

start() { # side -> sets PID, SOCK
  local side="$1" d="$TMP/$1-$RANDOM"
  mkdir -p "$d"; SOCK="$d/gate.sock"
  case "$side" in
    ours) env $(env | sed -n 's/^\(GAIT_[A-Za-z0-9_]*\)=.*/-u \1/p') node "$ROOT/bin/gait" mcp serve --policy "$ROOT/bench/server/policy.yaml" \
            --listen "unix://$SOCK" --state "$d/state" --trace-dir "$d/traces" --json >"$d/out" 2>"$d/err" & ;;
    *) node "$ROOT/dist/bench/server/floor.js" "$SOCK" "${side#floor-}" >"$d/out" 2>"$d/err" & ;;
  esac
  PID=$!
  for _ in $(seq 1 200); do [ -S "$SOCK" ] && break; kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
  [ -S "$SOCK" ] || { echo "bench-floor: $side did not start:" >&2; cat "$d/err" >&2; exit 1; }
}

SIDES=(floor-none floor-async floor-sync ours)
echo "bench-floor: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null), node $(node -v), $(nproc) cores; uptime: $(uptime)"
for run in $(seq 1 "${BENCH_RUNS:-3}"); do
  for side in "${SIDES[@]}"; do
    start "$side"
    "$PY" "$ROOT/bench/server/loadgen.py" --socket "$SOCK" --pid "$PID" --stubs "$TMP/stubs" --levels "${BENCH_LEVELS:-1,8,64}" \
      --window "${BENCH_WINDOW:-4}" --warmup "${BENCH_WARMUP:-1}" --runs 1 --out "$TMP/$side-$run.json" >/dev/null
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  done
done
OUT="${BENCH_OUT:-$ROOT/bench/results/floor.json}"
mkdir -p "$(dirname "$OUT")"
"$PY" - "$TMP" "$OUT" "${BENCH_RUNS:-3}" "${SIDES[@]}" <<'PY'
import json, statistics, sys
tmp, out, runs, sides = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
doc = {"benchmark": "floor", "runs": runs, "sides": {}}
rows = []
for side in sides:
    per_level = {}
    for r in range(1, runs + 1):
        for lv in json.load(open(f"{tmp}/{side}-{r}.json"))["levels"]:
            per_level.setdefault(lv["in_flight"], []).append(lv)
    doc["sides"][side] = {}
    for level, ws in sorted(per_level.items()):
        med = {k: statistics.median(w[k] for w in ws) for k in ("decisions_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_decision", "server_rss_mb")}
        med.update({k: sum(w[k] for w in ws) for k in ("decisions", "errors", "non_allow")})
        doc["sides"][side][str(level)] = med
        rows.append((level, side, med))
print("\n| in flight | server | decisions/s | p50 / p99 ms | server CPU us/decision | RSS MB |\n|---|---|---|---|---|---|")
for level, side, m in sorted(rows, key=lambda x: (x[0], sides.index(x[1]))):
    print(f"| {level} | {side} | {m['decisions_per_s']:,.0f} | {m['p50_ms']:.2f} / {m['p99_ms']:.2f} | {m['server_cpu_us_per_decision']:.0f} | {m['server_rss_mb']:.0f} |")
json.dump(doc, open(out, "w"), indent=2)
print(f"\n  medians of {runs} runs; wrote {out}")
PY
