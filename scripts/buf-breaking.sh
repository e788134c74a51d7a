#!/usr/bin/env bash
# buf breaking against the main branch (works offline). Skipped with a note when there is no main to compare with.
set -euo pipefail
if git rev-parse --verify -q main >/dev/null && git cat-file -e main:buf.yaml 2>/dev/null; then
  buf breaking --against '.git#branch=main'
else
  echo "buf breaking: no committed main with buf.yaml to compare against; skipped"
fi
