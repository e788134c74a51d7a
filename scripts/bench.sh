#!/usr/bin/env bash
# `make bench`: every benchmark prints its figures and writes bench/results/<name>.json. No thresholds.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
echo "== engine (in-process ns per typical evaluation)"
node dist/bench/engine.bench.js
if [ -f dist/bench/tracelog.bench.js ]; then
  echo "== trace log (group-commit appends)"
  node dist/bench/tracelog.bench.js
fi
if [ -f dist/bench/server/hotpath.bench.js ]; then
  echo "== service hot path in-process (decode, decide, sign, durable append, encode; no transport)"
  node dist/bench/server/hotpath.bench.js
fi
if [ -x scripts/bench-server.sh ]; then
  echo "== service (Evaluate over the Unix socket, C-core load generator)"
  ./scripts/bench-server.sh
fi
echo "== one-shot CLI wall time per way of shipping it (hyperfine)"
./scripts/ensure-apt.sh hyperfine
./bench/dist-startup.sh
echo "results in bench/results/"
