#!/usr/bin/env bash
# Drift check: regenerate everything from proto/ and fail if any generated file differs from what was in the tree
# before (a proto change that was not regenerated, or a hand edit of generated code). Works on a dirty tree too.
set -euo pipefail
cd "$(dirname "$0")/.."
GEN_DIRS=(src/gen clients/typescript/src/gen clients/go/gen clients/python/gait_client/gen)
snapshot() { find "${GEN_DIRS[@]}" -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum; }
before=$(mktemp); after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
snapshot > "$before"
./scripts/generate.sh >/dev/null
snapshot > "$after"
if ! diff -u "$before" "$after"; then
  echo "generated code is out of date: run 'make generate' and commit the result" >&2
  exit 1
fi
echo "generated code is up to date (${#GEN_DIRS[@]} trees)"
