#!/usr/bin/env bash
# `make soak`: SOAK_SECONDS (default 600) of Evaluate at 64 in flight against a real server (trace signing and fsync
# on); prints RSS and fd samples, writes test-results/resilience/soak.json, fails on growth or errors.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
TMP="$(mktemp -d /tmp/gait-soak-XXXXXX)"
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
cat > "$TMP/policy.yaml" <<'YAML'
default_verdict: block
rules:
  - name: allow-read
    effect: allow
    match: {tool_names: [tool.read]}
  - name: approve-write
    effect: require_approval
    match: {tool_names: [tool.write]}
YAML
SOCK="$TMP/gate.sock"
node "$ROOT/bin/gait" mcp serve --policy "$TMP/policy.yaml" --listen "unix://$SOCK" --state "$TMP/state" --json \
  --trace-max-count 200000 --max-in-flight 1024 >"$TMP/out" 2>"$TMP/err" &
PID=$!
for _ in $(seq 1 200); do grep -q '"ok":true' "$TMP/out" 2>/dev/null && break; sleep 0.05; done
grep -q '"ok":true' "$TMP/out" || { cat "$TMP/err" >&2; exit 1; }
mkdir -p "$ROOT/test-results/resilience"
echo "== soak: ${SOAK_SECONDS:-600}s at 64 in flight (server pid $PID)"
"$PY" "$ROOT/test/resilience/soak.py" --socket "$SOCK" --pid "$PID" --seconds "${SOAK_SECONDS:-600}" \
  --out "$ROOT/test-results/resilience/soak.json"
