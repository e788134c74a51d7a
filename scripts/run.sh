#!/usr/bin/env bash
# `make run`: start the decision service on the embedded defaults and keep it in the foreground (Ctrl-C stops it
# gracefully). Defaults: the bundled example policy, dev keys kept in the state dir (the same key id on every start),
# local file state, and the server's default agent socket gait-out/serve/gate.sock (mode 0600) -- the socket the
# TypeScript, Python and Go clients use by default (the one socket rule, src/infra/socket-path.ts). The server prints
# the socket path, the policy digest and the key id on start-up.
#
#   GAIT_STATE_DIR   state dir (default gait-out/serve, the server's default; removed by `make clean`)
#   GAIT_POLICY      policy file (default examples/policy.yaml)
#   extra arguments are passed to `gait mcp serve`, e.g. ./scripts/run.sh --operator-listen unix:///tmp/op.sock
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${GAIT_STATE_DIR:-gait-out/serve}"
POLICY="${GAIT_POLICY:-$ROOT/examples/policy.yaml}"
if [ ! -f "$ROOT/dist/src/main/serve.js" ]; then
  echo "run.sh: $ROOT/dist is missing; run 'make build' first" >&2
  exit 1
fi
cd "$ROOT"
mkdir -p "$STATE"
case "$STATE" in /*) ABS="$STATE" ;; *) ABS="$ROOT/$STATE" ;; esac
echo "run.sh: try it:  $ROOT/.tools/bin/grpcurl -plaintext unix://$ABS/gate.sock list" >&2
exec node "$ROOT/bin/gait" mcp serve --policy "$POLICY" --state "$STATE" "$@"
