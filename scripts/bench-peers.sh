#!/usr/bin/env bash
# Peer benchmark (`make bench-peers`): ours against Cerbos on this machine, in one run, same client, same protocol, over
# gRPC and (unless BENCH_HTTP=0) HTTP/1.1 JSON.
#  1. Installs Cerbos on demand from npm at the version pinned in bench/peers/package-lock.json (with its integrity
#     hash) into .cache/peers/ (ignored by git; reinstalled only when the lock file changes). Not part of `make setup`.
#  2. Starts both servers in a fresh temp dir: ours as `gait mcp serve` with its default settings (dev key, every
#     decision signed and its trace record fsynced before the reply) and a trace dir, serving bench/server/policy.yaml,
#     gRPC on a Unix socket and Gait's HTTP JSON API (`--http-listen`) on a free TCP port of 127.0.0.1 (that listener
#     takes host:port only); Cerbos (decision log off) serving the same policy in its terms
#     (bench/peers/cerbos/policies/tool.yaml), gRPC and HTTP each on a Unix socket (bench/peers/cerbos/config.yaml).
#  3. bench/peers/loadgen.py (from the project venv) checks that both give the same verdicts on four intents over each
#     protocol, then drives both at 1, 8 and 64 in flight, alternating windows, and prints one table per protocol with
#     ours/Cerbos ratios: gRPC (ours Evaluate, Cerbos CheckResources; Python grpcio asyncio, C core, one channel per
#     server), then HTTP (ours POST /v1/evaluate, Cerbos POST /api/check/resources; Python asyncio streams, one
#     keep-alive HTTP/1.1 connection per call in flight); writes bench/results/peers.json (HTTP under "http").
# Knobs: BENCH_WINDOW (s, default 4), BENCH_RUNS (default 3), BENCH_LEVELS (default 1,8,64), BENCH_WARMUP (s, default 1),
# BENCH_SETTLE (s at 64 in flight per side before the first level, default 5), BENCH_HTTP (0: gRPC only, default 1),
# BENCH_OURS_NODE_FLAGS (node flags for our server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it),
# BENCH_OURS_ARGS (extra `gait mcp serve` flags, e.g. "--signing-worker off"; recorded in the JSON)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "bench-peers: $PY missing; run 'make setup'" >&2; exit 1; }
[ -f "$ROOT/dist/src/main/serve.js" ] || { echo "bench-peers: dist missing; run 'make build'" >&2; exit 1; }

# ---- 1. Cerbos, on demand --------------------------------------------------------------------------------------
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "bench-peers: the pinned Cerbos package is its linux-x64 build; this is $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
CACHE="$ROOT/.cache/peers"
if ! cmp -s "$ROOT/bench/peers/package-lock.json" "$CACHE/package-lock.json" || [ ! -d "$CACHE/node_modules" ]; then
  echo "bench-peers: installing Cerbos (pinned in bench/peers/package-lock.json) into .cache/peers" >&2
  rm -rf "$CACHE" && mkdir -p "$CACHE"
  cp "$ROOT/bench/peers/package.json" "$ROOT/bench/peers/package-lock.json" "$CACHE/"
  (cd "$CACHE" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
CERBOS="$CACHE/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64"
[ -x "$CERBOS" ] || { echo "bench-peers: $CERBOS missing after the install; remove .cache/peers and retry" >&2; exit 1; }

TMP="$(mktemp -d /tmp/gait-bench-peers-XXXXXX)"
OURS_PID=""
CERBOS_PID=""
stop() { # pid: TERM, then KILL after 5 s
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() { stop "$OURS_PID"; stop "$CERBOS_PID"; rm -rf "$TMP"; }
trap cleanup EXIT

# ---- stubs: ours from proto/, Cerbos' request/response subset (generated at bench time, never committed) ----------
mkdir -p "$TMP/stubs"
"$PY" -m grpc_tools.protoc -I "$ROOT/proto" --python_out="$TMP/stubs" "$ROOT"/proto/gait/gate/v1/*.proto
"$PY" -m grpc_tools.protoc -I "$ROOT/bench/peers" --python_out="$TMP/stubs" "$ROOT/bench/peers/cerbos_wire.proto"
touch "$TMP/stubs/gait/__init__.py" "$TMP/stubs/gait/gate/__init__.py" "$TMP/stubs/gait/gate/v1/__init__.py"

wait_sock() { # socket pid log label
  for _ in $(seq 1 200); do [ -S "$1" ] && return 0; kill -0 "$2" 2>/dev/null || break; sleep 0.05; done
  echo "bench-peers: $4 did not start:" >&2; cat "$3" >&2; exit 1
}

# ---- 2. the servers ----------------------------------------------------------------------------------------------
BENCH_HTTP="${BENCH_HTTP:-1}"
HTTP_ARGS=()
if [ "$BENCH_HTTP" != 0 ]; then
  # a free loopback port (the kernel's pick; released just before ours binds it)
  OURS_HTTP="127.0.0.1:$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  HTTP_ARGS=(--http-listen "$OURS_HTTP")
fi
# ours: default serve settings (no GAIT_* variable from the caller's environment leaks in), its own state and trace dir
mkdir -p "$TMP/ours"
OURS_SOCK="$TMP/ours/gate.sock"
(cd "$TMP/ours" && exec env $(env | sed -n 's/^\(GAIT_[A-Za-z0-9_]*\)=.*/-u \1/p') \
  node ${BENCH_OURS_NODE_FLAGS:-} "$ROOT/bin/gait" mcp serve --policy "$ROOT/bench/server/policy.yaml" --listen "unix://$OURS_SOCK" \
  "${HTTP_ARGS[@]}" ${BENCH_OURS_ARGS:-} --state "$TMP/ours/state" --trace-dir "$TMP/ours/traces" --json >"$TMP/ours/server.out" 2>"$TMP/ours/server.err") &
OURS_PID=$!
wait_sock "$OURS_SOCK" "$OURS_PID" "$TMP/ours/server.err" "gait mcp serve"
for _ in $(seq 1 100); do grep -q '"ok":true' "$TMP/ours/server.out" 2>/dev/null && break; sleep 0.05; done
if [ "$BENCH_HTTP" != 0 ] && ! grep -q "\"http_listen\":\"$OURS_HTTP\"" "$TMP/ours/server.out"; then
  echo "bench-peers: gait mcp serve is not serving HTTP on $OURS_HTTP:" >&2; cat "$TMP/ours/server.out" "$TMP/ours/server.err" >&2; exit 1
fi

# Cerbos: the config reads these two from the environment
export BENCH_PEERS_RUN="$TMP/cerbos" BENCH_PEERS_POLICIES="$ROOT/bench/peers/cerbos/policies"
mkdir -p "$BENCH_PEERS_RUN"
(cd "$TMP/cerbos" && exec "$CERBOS" server --config="$ROOT/bench/peers/cerbos/config.yaml" --log-level=warn \
  >"$TMP/cerbos/server.log" 2>&1) &
CERBOS_PID=$!
wait_sock "$BENCH_PEERS_RUN/cerbos.grpc.sock" "$CERBOS_PID" "$TMP/cerbos/server.log" "cerbos server"
[ "$BENCH_HTTP" = 0 ] || wait_sock "$BENCH_PEERS_RUN/cerbos.http.sock" "$CERBOS_PID" "$TMP/cerbos/server.log" "cerbos server (HTTP)"

CERBOS_VERSION="$("$CERBOS" --version 2>/dev/null | head -1)"
OURS_COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo -dirty)"
GRPCIO="$("$PY" -c 'import grpc; print(grpc.__version__)')"
PYV="$("$PY" -c 'import platform; print(platform.python_version())')"
echo "bench-peers: ours ($OURS_COMMIT, node $(node -v)) vs Cerbos ($CERBOS_VERSION); client grpcio $GRPCIO$([ "$BENCH_HTTP" = 0 ] || echo ", HTTP asyncio (Python $PYV)"); $(nproc) cores"
echo "  uptime before: $(uptime)"

# ---- 3. the load -------------------------------------------------------------------------------------------------
mkdir -p "$ROOT/bench/results"
META="$("$PY" -c 'import json,sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' \
  ours_commit "$OURS_COMMIT" node "$(node -v)" cerbos "$CERBOS_VERSION" grpcio "$GRPCIO" python "$PYV" \
  ours_policy bench/server/policy.yaml cerbos_policy bench/peers/cerbos/policies/tool.yaml \
  ours_settings "gait mcp serve defaults (dev key; signed, fsynced trace record per decision), --trace-dir in a temp dir${BENCH_OURS_ARGS:+; extra flags: $BENCH_OURS_ARGS}" \
  cerbos_settings "bench/peers/cerbos/config.yaml (disk store, audit log off)" uptime_before "$(uptime)")"
if [ "$BENCH_HTTP" = 0 ]; then LOAD_HTTP=(--no-http); else LOAD_HTTP=(--ours-http "$OURS_HTTP" --cerbos-http "unix:$BENCH_PEERS_RUN/cerbos.http.sock"); fi
"$PY" "$ROOT/bench/peers/loadgen.py" --stubs "$TMP/stubs" \
  --ours-socket "$OURS_SOCK" --ours-pid "$OURS_PID" \
  --cerbos-socket "$BENCH_PEERS_RUN/cerbos.grpc.sock" --cerbos-pid "$CERBOS_PID" "${LOAD_HTTP[@]}" \
  --levels "${BENCH_LEVELS:-1,8,64}" --window "${BENCH_WINDOW:-4}" --runs "${BENCH_RUNS:-3}" --warmup "${BENCH_WARMUP:-1}" \
  --settle "${BENCH_SETTLE:-5}" \
  --meta "$META" --out "$ROOT/bench/results/peers.json"
echo "  uptime after: $(uptime)"
stop "$OURS_PID"; OURS_PID=""
echo "  ours' trace log after the run: $(grep -o '"trace_head_seq":[0-9]*' "$TMP/ours/server.err" | tail -1)"
echo "  wrote bench/results/peers.json"
