#!/usr/bin/env bash
# Service benchmark (run by `make bench`): start `gait mcp serve` on a temp socket (dev key, trace signing and fsync
# on, as in production), drive Evaluate with a C-core load generator (Python grpcio asyncio from the project venv) at
# 1, 8 and 64 in flight, print decisions/s, p50/p99, server CPU per decision and RSS, write bench/results/server.json.
# Then the state stores in the same run (bench/results/server-state.json): a policy whose allowed rule carries a rate
# limit (one counter per decision), served with the local store and with --state redis:// (a private redis-server on
# a Unix socket, append-only file fsynced on every write, as docs/deployment.md asks), redis-server's CPU reported too.
#   BENCH_WINDOW (s, default 4), BENCH_RUNS (default 3), BENCH_LEVELS (default 1,8,64), BENCH_STATE_LEVELS (default 1,64)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "bench-server: $PY missing; run 'make setup'" >&2; exit 1; }
[ -f "$ROOT/dist/src/main/serve.js" ] || { echo "bench-server: dist missing; run 'make build'" >&2; exit 1; }
TMP="$(mktemp -d /tmp/gait-bench-XXXXXX)"
SERVER_PID=""
REDIS_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then kill -TERM "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# Python stubs for the contract, generated at bench time (never committed)
mkdir -p "$TMP/stubs"
"$PY" -m grpc_tools.protoc -I "$ROOT/proto" --python_out="$TMP/stubs" --grpc_python_out="$TMP/stubs" \
  "$ROOT"/proto/gait/gate/v1/*.proto
touch "$TMP/stubs/gait/__init__.py" "$TMP/stubs/gait/gate/__init__.py" "$TMP/stubs/gait/gate/v1/__init__.py"

SOCK="$TMP/gate.sock"
node "$ROOT/bin/gait" mcp serve --policy "$ROOT/bench/server/policy.yaml" --listen "unix://$SOCK" --state "$TMP/state" \
  --json >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
for _ in $(seq 1 200); do [ -S "$SOCK" ] && grep -q '"ok":true' "$TMP/server.out" 2>/dev/null && break; sleep 0.05; done
[ -S "$SOCK" ] || { echo "bench-server: server did not start:" >&2; cat "$TMP/server.err" >&2; exit 1; }

mkdir -p "$ROOT/bench/results"
"$PY" "$ROOT/bench/server/loadgen.py" --socket "$SOCK" --pid "$SERVER_PID" --stubs "$TMP/stubs" \
  --levels "${BENCH_LEVELS:-1,8,64}" --window "${BENCH_WINDOW:-4}" --runs "${BENCH_RUNS:-3}" --out "$ROOT/bench/results/server.json"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
echo "  trace log after the run: $(grep -o '"trace_head_seq":[0-9]*' "$TMP/server.err" | tail -1)"
echo "  wrote bench/results/server.json"

# ---- the state stores, local vs Redis, same policy, same run ----------------------------------------------------
command -v redis-server >/dev/null || { echo "bench-server: redis-server missing; run 'make setup'" >&2; exit 1; }
start_server() { # $1 = label, $2.. = extra args
  local label="$1"; shift
  SOCK="$TMP/$label.sock"
  node "$ROOT/bin/gait" mcp serve --policy "$ROOT/bench/server/policy-state.yaml" --listen "unix://$SOCK" --json "$@" \
    >"$TMP/$label.out" 2>"$TMP/$label.err" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do [ -S "$SOCK" ] && grep -q '"ok":true' "$TMP/$label.out" 2>/dev/null && break; sleep 0.05; done
  [ -S "$SOCK" ] || { echo "bench-server: server ($label) did not start:" >&2; cat "$TMP/$label.err" >&2; exit 1; }
}
stop_server() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

echo "  state stores (policy with a rate limit: one counter per decision)"
echo "  -- local (--state <dir>: counters in memory)"
start_server local --state "$TMP/state-local"
"$PY" "$ROOT/bench/server/loadgen.py" --socket "$SOCK" --pid "$SERVER_PID" --stubs "$TMP/stubs" \
  --levels "${BENCH_STATE_LEVELS:-1,64}" --window "${BENCH_WINDOW:-4}" --runs "${BENCH_RUNS:-3}" --out "$TMP/state-local.json"
stop_server

mkdir -p "$TMP/redis"
redis-server --port 0 --unixsocket "$TMP/redis/redis.sock" --unixsocketperm 700 --dir "$TMP/redis" \
  --appendonly yes --appendfsync always --save "" --loglevel warning >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do [ -S "$TMP/redis/redis.sock" ] && break; sleep 0.05; done
[ -S "$TMP/redis/redis.sock" ] || { echo "bench-server: redis-server did not start:" >&2; cat "$TMP/redis.log" >&2; exit 1; }
echo "  -- redis (--state unix://.../redis.sock, appendfsync always)"
start_server redis --state "unix://$TMP/redis/redis.sock" --local-dir "$TMP/state-redis"
"$PY" "$ROOT/bench/server/loadgen.py" --socket "$SOCK" --pid "$SERVER_PID" --aux-pid "$REDIS_PID" --stubs "$TMP/stubs" \
  --levels "${BENCH_STATE_LEVELS:-1,64}" --window "${BENCH_WINDOW:-4}" --runs "${BENCH_RUNS:-3}" --out "$TMP/state-redis.json"
stop_server
kill -TERM "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=""

"$PY" - "$TMP/state-local.json" "$TMP/state-redis.json" "$ROOT/bench/results/server-state.json" <<'PYEOF'
import json, sys
local, redis = (json.load(open(p)) for p in sys.argv[1:3])
doc = {
    "benchmark": "server-state",
    "what": "Evaluate over a Unix socket (as the server benchmark) with a rate-limited allow rule: one counter check-and-increment per decision; local store (memory) vs --state redis:// (Unix socket, appendfsync always), same run",
    "window_s": local["window_s"], "runs_per_level": local["runs_per_level"], "cpu_count": local["cpu_count"],
    "local": local["levels"], "redis": redis["levels"],
    "note": "aux_cpu_us_per_decision is redis-server's own CPU per decision; both processes share the machine's cores with the load generator",
}
json.dump(doc, open(sys.argv[3], "w"), indent=2)
open(sys.argv[3], "a").write("\n")
PYEOF
echo "  wrote bench/results/server-state.json"
