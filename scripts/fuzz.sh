#!/usr/bin/env bash
# `make fuzz`: the resilience suite (test/resilience) with every randomized test scaled up by GAIT_FUZZ_SCALE
# (default 20: ~0.5 M decoder differential cases, 60 kill -9 rounds, ...), then the counts of the run.
set -uo pipefail
cd "$(dirname "$0")/.."
export GAIT_FUZZ_SCALE="${GAIT_FUZZ_SCALE:-20}"
rm -rf test-results/resilience
echo "== fuzz: test/resilience at scale $GAIT_FUZZ_SCALE"
npx vitest run test/resilience --testTimeout 3600000 --hookTimeout 600000
rc=$?
node scripts/resilience-summary.mjs test-results/resilience
exit $rc
