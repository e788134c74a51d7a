#!/usr/bin/env bash
# `make run`: start the decision service on the embedded defaults and keep it in the foreground (Ctrl-C stops it
# gracefully). Defaults: the bundled example policy, dev keys kept in the state dir (the same key id on every start),
# local file state, and the default sockets of the socket rule (mode 0600), which the clients and the `gait` operator
# commands use by default from any directory:
#   agent socket     $GAIT_SOCKET, else $XDG_RUNTIME_DIR/gait/gate.sock, else /tmp/gait-<uid>/gate.sock
#   operator socket  $GAIT_OPERATOR_SOCKET, else $XDG_RUNTIME_DIR/gait/operator.sock, else /tmp/gait-<uid>/operator.sock
# plus the kill-switch state file <state>/kill_switch_state.json and the web console on loopback (a new login link on
# every start). It prints both socket paths, the console link and the one-line commands to approve and to tail.
#
#   GAIT_STATE_DIR       state dir (default gait-out/serve, the server's default; removed by `make clean`)
#   GAIT_POLICY          policy file (default examples/policy.yaml)
#   GAIT_CONSOLE_LISTEN  web console address (default 127.0.0.1:8765; `off` for none)
#   extra arguments are passed to `gait mcp serve`, e.g. ./scripts/run.sh --decision-log info
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${GAIT_STATE_DIR:-gait-out/serve}"
POLICY="${GAIT_POLICY:-$ROOT/examples/policy.yaml}"
CONSOLE="${GAIT_CONSOLE_LISTEN:-127.0.0.1:8765}"
if [ ! -f "$ROOT/dist/src/main/serve.js" ]; then
  echo "run.sh: $ROOT/dist is missing; run 'make build' first" >&2
  exit 1
fi
cd "$ROOT"
mkdir -p "$STATE"
# the socket rule (src/infra/socket-path.ts), to print commands that work
if [ -n "${XDG_RUNTIME_DIR:-}" ] && [ "${XDG_RUNTIME_DIR#/}" != "$XDG_RUNTIME_DIR" ]; then DIR="$XDG_RUNTIME_DIR/gait"; else DIR="/tmp/gait-$(id -u)"; fi
if [ -n "${GAIT_SOCKET:-}" ]; then SOCK="${GAIT_SOCKET#unix://}"; else SOCK="$DIR/gate.sock"; fi
if [ -n "${GAIT_OPERATOR_SOCKET:-}" ]; then OPSOCK="${GAIT_OPERATOR_SOCKET#unix://}"; else OPSOCK="$DIR/operator.sock"; fi
ARGS=(--policy "$POLICY" --state "$STATE" --listen "unix://$SOCK" --operator-listen "unix://$OPSOCK" --kill-switch-state "$STATE/kill_switch_state.json")
[ "$CONSOLE" != "off" ] && ARGS+=(--console-listen "$CONSOLE")
cat >&2 <<MSG
run.sh: agent socket:    $SOCK   (agents and clients; try: $ROOT/.tools/bin/grpcurl -plaintext unix://$SOCK list)
run.sh: operator socket: $OPSOCK   (operators only: approvals, kill switch, decision stream)
run.sh: approve:         bin/gait approvals list    then    bin/gait approvals grant <apr_id> --approver you@example.com --reason <ticket>
run.sh: tail:            bin/gait trace tail        (add --verdict block, --tool <name>, --json)
run.sh: stop a tool:     bin/gait killswitch set --tool-name <tool> --reason <why> --actor you@example.com --ttl 1h
MSG
[ "$CONSOLE" != "off" ] && echo "run.sh: web console:     the 'console:' link below (it logs you in)" >&2
exec node "$ROOT/bin/gait" mcp serve "${ARGS[@]}" "$@"
