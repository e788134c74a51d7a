#!/usr/bin/env bash
# Packs a serverless function: the handler, the gate's self-contained executable, the policy, and release.json
# (the policy digest the handler pins, and the executable's SHA-256) into DIR and DIR.zip (the zip keeps the
# executable bit, as function runtimes need).
#
# usage: examples/serverless/package.sh python|node DIR [POLICY]
#   POLICY defaults to examples/policy.yaml; the executable is dist/gait-<os>-<arch> (`make dist`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../.." && pwd)
lang=${1:?usage: package.sh python|node DIR [POLICY]}; out=${2:?usage: package.sh python|node DIR [POLICY]}
policy=${3:-$root/examples/policy.yaml}
case "$lang" in
  python) handler="$here/python/handler.py" ;;
  node) handler="$here/node/handler.mjs" ;;
  *) echo "package.sh: language must be python or node" >&2; exit 2 ;;
esac
exe="$root/dist/gait-$(uname -s | tr A-Z a-z)-$(uname -m | sed -e s/x86_64/x64/ -e s/aarch64/arm64/)"
[ -x "$exe" ] || { echo "package.sh: $exe not found; run 'make dist' first" >&2; exit 1; }
# the build's own checksum file must match: never ship an executable that differs from the one built
(cd "$(dirname "$exe")" && sha256sum --quiet -c "$(basename "$exe").sha256")

rm -rf "$out"; mkdir -p "$out"
cp "$handler" "$out/"
cp "$exe" "$out/gait"; chmod 0755 "$out/gait"
cp "$policy" "$out/policy.yaml"
digest=$("$out/gait" policy digest "$out/policy.yaml")          # sha256:<hex>, the pin
version=$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' "$root/package.json")
sum=$(cut -d' ' -f1 "$exe.sha256")
printf '{\n  "policy_digest": "%s",\n  "gait_sha256": "%s",\n  "gait_version": "%s"\n}\n' "$digest" "$sum" "$version" > "$out/release.json"
python3 - "$out" <<'PY'
import os, sys, zipfile
out = sys.argv[1]
with zipfile.ZipFile(out + ".zip", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:  # fast; size differs little
    for name in sorted(os.listdir(out)):
        z.write(os.path.join(out, name), name)  # keeps the mode bits (external_attr)
PY
echo "packed $out and $out.zip (policy $digest)"
