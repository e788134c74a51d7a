#!/usr/bin/env bash
# Service benchmark (run by `make bench`): start `gait mcp serve` on a temp socket (dev key, trace signing and fsync
# on, as in production), drive Evaluate with a C-core load generator (Python grpcio asyncio from the project venv) at
# 1, 8 and 64 in flight, print decisions/s, p50/p99, server CPU per decision and RSS, write bench/results/server.json.
#   BENCH_WINDOW (s, default 4), BENCH_RUNS (default 3), BENCH_LEVELS (default 1,8,64)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "bench-server: $PY missing; run 'make setup'" >&2; exit 1; }
[ -f "$ROOT/dist/src/main/serve.js" ] || { echo "bench-server: dist missing; run 'make build'" >&2; exit 1; }
TMP="$(mktemp -d /tmp/gait-bench-XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; fi
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
