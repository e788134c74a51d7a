/**
 * Reports of a policy suite run: the readable text (every case, and for a failing one what it wanted and what it got,
 * code by code), the `--json` document and the JUnit XML file CI systems read. Pure functions of the result, so the
 * three always agree.
 */
import { SUITE_RESULT_SCHEMA_ID, type CaseResult, type Mismatch, type SuiteResult } from "./policy-suite.js";

const list = (xs: readonly string[] | undefined) => (xs && xs.length ? xs.join(", ") : "(none)");

function show(v: unknown): string {
  if (v === null) return "(no rule matched)";
  if (Array.isArray(v)) return `[${v.join(", ")}]`;
  return String(v);
}

/** The lines explaining one mismatch, indented under the case. */
export function mismatchLines(m: Mismatch): string[] {
  const pad = (s: string) => s.padEnd(22);
  switch (m.field) {
    case "evaluation":
      return [`${pad("evaluation failed")}${String(m.got).replace(/^error: /, "")}`];
    case "reason_codes":
    case "violations":
    case "reason_codes_include":
    case "violations_include": {
      const out: string[] = [];
      const label = m.field;
      if (m.missing?.length) out.push(`${pad(label)}- ${m.missing.join(", ")}    (expected, not in the decision)`);
      if (m.unexpected?.length) out.push(`${pad(out.length ? "" : label)}+ ${m.unexpected.join(", ")}    (in the decision, not expected)`);
      out.push(`${pad("")}got ${show(m.got)}`);
      return out;
    }
    default:
      return [`${pad(m.field)}want ${show(m.want)}`, `${pad("")}got  ${show(m.got)}`];
  }
}

function caseLines(c: CaseResult, file: string): string[] {
  const tag = c.status === "passed" ? "PASS " : c.status === "failed" ? "FAIL " : "ERROR";
  const head = `  ${tag} ${c.name}`;
  if (c.status === "passed") return [head];
  const out = [`${head}  (${file}:${c.line})`];
  for (const m of c.mismatches) for (const l of mismatchLines(m)) out.push(`          ${l}`);
  return out;
}

/** The readable report: a line per case, the diff of each failing one, coverage and the totals. */
export function renderSuiteText(r: SuiteResult): string[] {
  const s = r.suite;
  const cov = r.coverage;
  const lines = [
    `policy test suite ${s.file}${s.name !== s.file ? ` (${s.name})` : ""}`,
    `policy ${s.policyPath} sha256:${s.policy.policy_digest}`,
    ...r.cases.flatMap((c) => caseLines(c, s.file)),
    `coverage: ${cov.rules_reached} of ${cov.rules_total} rules reached by some case` +
      (cov.default_verdict_cases ? `; ${cov.default_verdict_cases} case(s) fell through to default_verdict ${s.policy.default_verdict}` : ""),
  ];
  if (cov.not_reached.length) lines.push(`  not reached: ${cov.not_reached.join(", ")}`);
  // not the "N passed, N failed" closing-line shape on purpose: `make test` prints that once, for every suite
  lines.push(`suite result: ${r.passed} of ${r.cases.length} cases passed, ${r.failed} failed`);
  return lines;
}

/** The `--json` document (one line). */
export function suiteJson(r: SuiteResult, junitPath?: string): Record<string, unknown> {
  const s = r.suite;
  return {
    ok: r.failed === 0,
    schema_id: SUITE_RESULT_SCHEMA_ID,
    schema_version: "1.0.0",
    suite: s.file,
    name: s.name,
    policy_path: s.policyPath,
    policy_digest: s.policy.policy_digest,
    total: r.cases.length,
    passed: r.passed,
    failed: r.failed,
    cases: r.cases.map((c) => ({
      name: c.name,
      line: c.line,
      status: c.status,
      ...(c.verdict !== undefined ? { verdict: c.verdict, reason_codes: c.reason_codes, violations: c.violations } : {}),
      ...(c.matched_rule !== undefined ? { matched_rule: c.matched_rule } : {}),
      ...(c.error !== undefined ? { error_message: c.error } : {}),
      ...(c.mismatches.length ? { mismatches: c.mismatches } : {}),
    })),
    coverage: r.coverage,
    ...(junitPath ? { junit_path: junitPath } : {}),
    ...(r.failed ? { error: `${r.failed} of ${r.cases.length} cases failed` } : {}),
  };
}

/** Text for an XML attribute or element: escaped, with characters XML 1.0 cannot carry replaced by U+FFFD. */
export function xmlEscape(s: string): string {
  return s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "\uFFFD")
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/**
 * JUnit XML in the shape Jenkins, GitLab and GitHub reporters read: one `<testsuite>` per suite file, one
 * `<testcase>` per case (classname = the suite name), `<failure>` for a wrong expectation and `<error>` for a case
 * that could not be evaluated, each with the same diff as the text report.
 */
export function renderJunit(r: SuiteResult): string {
  const s = r.suite;
  const failures = r.cases.filter((c) => c.status === "failed").length;
  const errors = r.cases.filter((c) => c.status === "error").length;
  const total = seconds(r.cases.reduce((t, c) => t + c.duration_ms, 0));
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="gait policy test" tests="${r.cases.length}" failures="${failures}" errors="${errors}" time="${total}">`,
    `  <testsuite name="${xmlEscape(s.name)}" file="${xmlEscape(s.file)}" tests="${r.cases.length}" failures="${failures}" errors="${errors}" skipped="0" time="${total}">`,
    "    <properties>",
    `      <property name="policy" value="${xmlEscape(s.policyPath)}"/>`,
    `      <property name="policy_digest" value="sha256:${s.policy.policy_digest}"/>`,
    `      <property name="rules_reached" value="${r.coverage.rules_reached}/${r.coverage.rules_total}"/>`,
    `      <property name="rules_not_reached" value="${xmlEscape(list(r.coverage.not_reached))}"/>`,
    "    </properties>",
  ];
  for (const c of r.cases) {
    const open = `    <testcase classname="${xmlEscape(s.name)}" name="${xmlEscape(c.name)}" file="${xmlEscape(s.file)}" line="${c.line}" time="${seconds(c.duration_ms)}"`;
    if (c.status === "passed") {
      out.push(`${open}/>`);
      continue;
    }
    const detail = c.mismatches.flatMap(mismatchLines).join("\n");
    const first = c.mismatches[0]!;
    const summary = first.field === "evaluation" ? `evaluation failed: ${String(first.got).replace(/^error: /, "")}` : `${first.field}: want ${show(first.want)}, got ${show(first.got)}`;
    const tag = c.status === "error" ? "error" : "failure";
    out.push(`${open}>`);
    out.push(`      <${tag} message="${xmlEscape(summary)}" type="${c.status === "error" ? "evaluation_error" : "expectation"}">${xmlEscape(detail)}</${tag}>`);
    out.push("    </testcase>");
  }
  out.push("  </testsuite>", "</testsuites>");
  return out.join("\n") + "\n";
}
