#!/usr/bin/env bash
# One-shot CLI wall time, whole process (spec/performance.md "one-shot CLI wall time"): the median of RUNS runs of
#   gait mcp proxy --policy policy.yaml --call call.json --adapter mcp --json
# for each way of shipping the CLI, timed by hyperfine (-N: no shell in between), with examples/policy.yaml and
# examples/calls/mcp_read.json (allow: a trace is signed and written each run). Prints a table and writes
# bench/results/dist-startup.json. The ratio is to Gait's Go binary: its median measured here when GAIT_BIN names
# one, else the 9 ms that performance.md records for it on a machine of this kind.
#
# Candidates: node-bundle (bin/gait, Node 20 + the esbuild bundle), node-sea (Node's single executable application,
# built here with --tool sea), bun-compile (dist/gait-<os>-<arch>, what `make dist` ships), plus any label=path given
# as arguments (e.g. an older build: before=/tmp/gait-old). Each runs twice: with this machine's environment, and with
# an empty one (env -i): Node reads NODE_EXTRA_CA_CERTS at start-up, which costs ~100 ms here when it is set (as it
# is on this machine).
#
# usage: bench/dist-startup.sh [label=/path/to/gait ...]     (RUNS=30 by default; needs hyperfine: make bench-dist)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=${RUNS:-30}
exe="dist/gait-$(uname -s | tr A-Z a-z)-$(uname -m | sed -e s/x86_64/x64/ -e s/aarch64/arm64/)"
command -v hyperfine >/dev/null || { echo "hyperfine not found: run 'make bench-dist' (installs it)" >&2; exit 1; }
[ -x "$exe" ] || { echo "$exe not found: run 'make dist'" >&2; exit 1; }
[ -x dist/candidates/gait-sea ] && [ dist/candidates/gait-sea -nt "$exe" ] || node scripts/build-dist.mjs --tool sea --out dist/candidates/gait-sea >/dev/null

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp examples/policy.yaml "$work/policy.yaml"; cp examples/calls/mcp_read.json "$work/call.json"
mkdir -p bench/results "$work/out"
args="mcp proxy --policy policy.yaml --call call.json --adapter mcp --json"

declare -a labels=(node-bundle node-sea bun-compile) cmds=("$(command -v node) $root/bin/gait" "$root/dist/candidates/gait-sea" "$root/$exe")
[ -n "${GAIT_BIN:-}" ] && { labels+=(gait-go); cmds+=("$GAIT_BIN"); }
for extra in "$@"; do labels+=("${extra%%=*}"); cmds+=("${extra#*=}"); done

# the decision must be the same everywhere before anything is timed
for i in "${!labels[@]}"; do
  (cd "$work" && ${cmds[$i]} $args > "out/${labels[$i]}.json") || true
  grep -q '"verdict":"allow"' "$work/out/${labels[$i]}.json" || { echo "${labels[$i]} did not answer allow:"; cat "$work/out/${labels[$i]}.json"; exit 1; }
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for envname in machine empty; do
  for i in "${!labels[@]}"; do
    prefix=""; [ "$envname" = empty ] && prefix="env -i"
    (cd "$work" && hyperfine -N --warmup 3 --runs "$runs" --style none \
      --export-json "out/${labels[$i]}.$envname.hf.json" "$prefix ${cmds[$i]} $args" >/dev/null 2>&1)
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

node - "$work/out" "$runs" "$load_before" "$load_after" "${GAIT_BIN:-}" "${labels[@]}" <<'JS'
const [dir, runs, loadBefore, loadAfter, gaitBin, ...labels] = process.argv.slice(2);
const fs = require("node:fs");
const GAIT_REFERENCE_MS = 9; // spec/performance.md: Gait's Go binary, median of 20, same command and inputs
const rows = [];
for (const env of ["machine", "empty"]) {
  for (const label of labels) {
    const r = JSON.parse(fs.readFileSync(`${dir}/${label}.${env}.hf.json`, "utf8")).results[0];
    const ms = (s) => Math.round(s * 10000) / 10;
    rows.push({ candidate: label, env, runs: r.times.length, median_ms: ms(r.median), mean_ms: ms(r.mean), min_ms: ms(r.min), stddev_ms: ms(r.stddev), cpu_ms: ms(r.user + r.system) });
  }
}
const gaitMeasured = gaitBin ? rows.find((r) => r.candidate === "gait-go" && r.env === "empty")?.median_ms : undefined;
const gaitMs = gaitMeasured ?? GAIT_REFERENCE_MS;
for (const r of rows) r.ratio_to_gait = Math.round((r.median_ms / gaitMs) * 100) / 100;
console.log(`one-shot 'gait ${"mcp proxy --call F --adapter mcp --json"}', ${runs} runs each; load ${loadBefore} -> ${loadAfter}`);
console.log(`ratio to Gait = median / ${gaitMs} ms (${gaitMeasured ? "Gait measured in this run" : "Gait's figure in spec/performance.md"})`);
console.log("candidate        env      median    mean     min  stddev  cpu/run  x Gait");
for (const r of rows) console.log(`${r.candidate.padEnd(16)} ${r.env.padEnd(7)} ${String(r.median_ms).padStart(7)} ${String(r.mean_ms).padStart(7)} ${String(r.min_ms).padStart(7)} ${String(r.stddev_ms).padStart(7)} ${String(r.cpu_ms).padStart(8)} ${String(r.ratio_to_gait).padStart(7)}`);
const out = { benchmark: "dist-startup", command: "gait mcp proxy --policy policy.yaml --call call.json --adapter mcp --json", inputs: ["examples/policy.yaml", "examples/calls/mcp_read.json"], runs: Number(runs), gait_ms: gaitMs, gait_measured: Boolean(gaitMeasured), loadavg_before: loadBefore, loadavg_after: loadAfter, date: new Date().toISOString(), results: rows };
fs.writeFileSync("bench/results/dist-startup.json", JSON.stringify(out, null, 2) + "\n");
console.log("wrote bench/results/dist-startup.json");
JS
