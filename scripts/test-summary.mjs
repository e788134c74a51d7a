// Sums the results of every suite's machine-readable report and prints "N passed, N failed".
// Exits 1 when a report that should exist is missing or unreadable (a suite that did not run is not a pass).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2] ?? "test-results";
let passed = 0, failed = 0, broken = false;

const vitest = join(dir, "vitest.json");
if (existsSync(vitest)) {
  const r = JSON.parse(readFileSync(vitest, "utf8"));
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0);
  if ((r.numTotalTestSuites ?? 0) > 0 && r.success === false && (r.numFailedTests ?? 0) === 0) failed += 1; // a file that failed to load
} else { console.error("missing vitest report"); broken = true; }

/** Add a pytest junit report's counts; false when it cannot be read. */
function addPytest(file) {
  const x = readFileSync(file, "utf8");
  const m = /<testsuite [^>]*?errors="(\d+)"[^>]*?failures="(\d+)"[^>]*?skipped="(\d+)"[^>]*?tests="(\d+)"/.exec(x);
  if (!m) return false;
  const [e, f, s, t] = m.slice(1).map(Number);
  failed += e + f;
  passed += t - e - f - s;
  return true;
}
// each pytest run writes its report; a run whose tests exist must have one
const pytestRuns = [
  ["clients/python/tests", "pytest.xml"],
  ["examples/serverless/python", "pytest-deploy.xml"],
];
for (const [tests, report] of pytestRuns) {
  if (!existsSync(tests)) continue;
  const file = join(dir, report);
  if (!existsSync(file)) { console.error(`missing pytest report ${report}`); broken = true; }
  else if (!addPytest(file)) { console.error(`unreadable pytest report ${report}`); broken = true; }
}

const gotest = join(dir, "gotest.jsonl");
if (existsSync("clients/go/go.mod")) {
  if (existsSync(gotest)) {
    for (const line of readFileSync(gotest, "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      const ev = JSON.parse(line);
      if (!ev.Test) { if (ev.Action === "fail" && ev.Package) failed += 0; continue; }
      if (ev.Action === "pass") passed++;
      else if (ev.Action === "fail") failed++;
    }
  } else { console.error("missing go test report"); broken = true; }
}

// policy suites run through `gait policy test --suite --junit` (scripts/test-all.sh): count their cases
for (const f of readdirSync(dir).filter((n) => n.startsWith("policy-suite-") && n.endsWith(".xml"))) {
  const x = readFileSync(join(dir, f), "utf8");
  const m = /<testsuites [^>]*?tests="(\d+)" failures="(\d+)" errors="(\d+)"/.exec(x);
  if (m) { const [t, fl, e] = m.slice(1).map(Number); failed += fl + e; passed += t - fl - e; }
  else { console.error(`unreadable policy suite report ${f}`); broken = true; }
}

// project checks that are not test runners (e.g. generated-code drift): test-results/checks-*.json
for (const f of readdirSync(dir).filter((n) => n.startsWith("checks-") && n.endsWith(".json"))) {
  const r = JSON.parse(readFileSync(join(dir, f), "utf8"));
  passed += r.passed ?? 0;
  failed += r.failed ?? 0;
}

if (broken) failed += 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
