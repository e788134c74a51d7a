#!/usr/bin/env bash
# Runs every suite and prints one closing line "N passed, N failed" (totals over all suites).
# Exit status is non-zero if any suite failed or could not run.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-results
rm -f test-results/*.json test-results/*.xml test-results/*.jsonl
status=0

echo "== TypeScript (vitest)"
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json || status=1

if [ -d clients/python/tests ]; then
  echo "== Python client (pytest)"
  (cd clients/python && "$PWD/../../.venv/bin/python" -m pytest -q --junitxml=../../test-results/pytest.xml tests) || status=1
fi

echo "== Serverless example (Python handler) and deployment recipes (pytest)"
"$PWD/.venv/bin/python" -m pytest -q --junitxml=test-results/pytest-deploy.xml examples/serverless/python deploy/tests || status=1

if [ -f clients/go/go.mod ]; then
  echo "== Go client (go test)"
  (cd clients/go && go test -count=1 -json ./... > ../../test-results/gotest.jsonl; rc=$?; grep -E '"Action":"(pass|fail)"' ../../test-results/gotest.jsonl | grep -v '"Test"' || true; exit $rc) || status=1
fi

echo "== generated code is reproducible (scripts/check-generated.sh)"
if ./scripts/check-generated.sh; then
  echo '{"name":"generated-code-drift","passed":1,"failed":0}' > test-results/checks-generated.json
else
  echo '{"name":"generated-code-drift","passed":0,"failed":1}' > test-results/checks-generated.json
  status=1
fi

node scripts/test-summary.mjs test-results || status=1
exit $status
