#!/usr/bin/env bash
# Fail when the working tree differs from what is committed (run after `make generate`).
set -euo pipefail
if [ -n "$(git status --porcelain -- src/gen clients)" ]; then
  git status --porcelain -- src/gen clients
  echo "generated code is out of date: run 'make generate' and commit the result" >&2
  exit 1
fi
echo "generated code is up to date"
