#!/usr/bin/env bash
# Runs every suite and prints one closing line "N passed, N failed" (totals over all suites).
# Exit status is non-zero if any suite failed or could not run.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-results
rm -f test-results/*.json test-results/*.xml test-results/*.jsonl test-results/*.txt
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

echo "== policy suites (bin/gait policy test --suite, JUnit reports in test-results/)"
# The bundled example policy's suite and every template's suite, through the real CLI; each writes a JUnit report
# that scripts/test-summary.mjs counts case by case. A suite that cannot run at all writes no report and fails here.
for suite in examples/policy.suite.yaml policies/templates/*.suite.yaml; do
  name=$(basename "$suite" .yaml)
  bin/gait policy test --suite "$suite" --junit "test-results/policy-suite-$name.xml" > "test-results/policy-suite-$name.txt" 2>&1
  rc=$?
  tail -n 2 "test-results/policy-suite-$name.txt"
  if [ $rc -ne 0 ]; then cat "test-results/policy-suite-$name.txt"; status=1; fi
  [ -f "test-results/policy-suite-$name.xml" ] || { echo "no JUnit report from $suite"; status=1; }
done

echo "== generated code is reproducible (scripts/check-generated.sh)"
if ./scripts/check-generated.sh; then
  echo '{"name":"generated-code-drift","passed":1,"failed":0}' > test-results/checks-generated.json
else
  echo '{"name":"generated-code-drift","passed":0,"failed":1}' > test-results/checks-generated.json
  status=1
fi

echo "== type check of sources and tests (tsc --noEmit; vitest strips types, so a test's type error shows only here)"
if npx tsc -p tsconfig.json --noEmit; then
  echo '{"name":"typecheck","passed":1,"failed":0}' > test-results/checks-typecheck.json
else
  echo '{"name":"typecheck","passed":0,"failed":1}' > test-results/checks-typecheck.json
  status=1
fi

node scripts/test-summary.mjs test-results || status=1
exit $status
