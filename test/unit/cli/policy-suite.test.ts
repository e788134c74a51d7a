import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { compareExpectation, mergeIntent } from "../../../src/cli/policy-suite.js";
import { xmlEscape } from "../../../src/cli/suite-report.js";
import { POLICY, run, tempDir, write } from "./helpers.js";

const ROOT = join(__dirname, "..", "..", "..");
const EXAMPLE_SUITE = join(ROOT, "examples", "policy.suite.yaml");

/** A copy of the example suite and policy in a temp dir, optionally edited. */
function exampleCopy(edit?: (text: string) => string): string {
  const dir = tempDir("gait-suite-");
  copyFileSync(join(ROOT, "examples", "policy.yaml"), join(dir, "policy.yaml"));
  const text = readFileSync(EXAMPLE_SUITE, "utf8");
  writeFileSync(join(dir, "suite.yaml"), edit ? edit(text) : text);
  return dir;
}

const SUITE_HEAD = `schema_id: gait.gate.policy_suite
schema_version: 1.0.0
policy: p.yaml
defaults:
  now: "2026-03-02T09:00:00Z"
  intent:
    args: {path: /repo/file.txt}
    targets: [{kind: path, value: /repo/file.txt, operation: read}]
    context: {identity: alice, workspace: /repo, risk_class: low}
cases:
`;

describe("the example policy's suite", () => {
  it("has at least 30 cases, all passing, covering every rule, through the CLI (exit 0)", async () => {
    const doc = parseYaml(readFileSync(EXAMPLE_SUITE, "utf8")) as { cases: unknown[] };
    expect(doc.cases.length).toBeGreaterThanOrEqual(30);
    const r = await run(ROOT, ["policy", "test", "--suite", "examples/policy.suite.yaml", "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, schema_id: "gait.gate.policy_suite_result", total: doc.cases.length, passed: doc.cases.length, failed: 0 });
    expect(r.json.coverage).toEqual({ rules_total: 3, rules_reached: 3, not_reached: [], default_verdict_cases: 3 });
  });

  it("a deliberately wrong expectation fails (exit 2) with a readable diff naming the case and its line", async () => {
    const dir = exampleCopy((t) =>
      t.replace(
        "    intent: {tool_name: tool.read}\n    expect: {verdict: allow, reason_codes: [read_allowed], violations: [], matched_rule: allow-read}",
        "    intent: {tool_name: tool.read}\n    expect: {verdict: block, reason_codes: [delete_blocked], violations: [], matched_rule: block-delete}",
      ),
    );
    const r = await run(dir, ["policy", "test", "--suite", "suite.yaml"]);
    expect(r.code).toBe(2);
    const line = readFileSync(join(dir, "suite.yaml"), "utf8").split("\n").findIndex((l) => l.includes("- name: a read is allowed")) + 1;
    expect(r.stdout).toContain(`  FAIL  a read is allowed  (suite.yaml:${line})`);
    const block = r.stdout.slice(r.stdout.indexOf("FAIL  a read is allowed"));
    expect(block).toMatch(/verdict\s+want block\n\s+got  allow/);
    expect(block).toMatch(/reason_codes\s+- delete_blocked\s+\(expected, not in the decision\)\n\s+\+ read_allowed\s+\(in the decision, not expected\)/);
    expect(block).toMatch(/matched_rule\s+want block-delete\n\s+got  allow-read/);
    expect(r.stdout).toMatch(/suite result: (\d+) of \1 cases passed|suite result: \d+ of \d+ cases passed, 1 failed/);
    expect(r.stdout).toContain(", 1 failed");
    expect(r.stdout).not.toMatch(/^\d+ passed, \d+ failed$/m); // never the closing-line shape of `make test`

    const j = await run(dir, ["policy", "test", "--suite", "suite.yaml", "--json", "--junit", "out/report.xml"]);
    expect(j.code).toBe(2);
    expect(j.json).toMatchObject({ ok: false, failed: 1, error: expect.stringMatching(/^1 of \d+ cases failed$/), error_code: "policy_test_failed", junit_path: "out/report.xml" });
    const failed = j.json.cases.find((c: { status: string }) => c.status === "failed");
    expect(failed.mismatches).toEqual([
      { field: "verdict", want: "block", got: "allow" },
      { field: "reason_codes", want: ["delete_blocked"], got: ["read_allowed"], missing: ["delete_blocked"], unexpected: ["read_allowed"] },
      { field: "matched_rule", want: "block-delete", got: "allow-read" },
    ]);
    const xml = readFileSync(join(dir, "out", "report.xml"), "utf8");
    expect(xml).toMatch(/<testsuites name="gait policy test" tests="\d+" failures="1" errors="0"/);
    expect(xml).toContain('<failure message="verdict: want block, got allow" type="expectation">');
    expect(xml).toContain(`name="a read is allowed" file="suite.yaml" line="${line}"`);
  });

  it("the JUnit report of a passing run has one testcase per case and no failure", async () => {
    const dir = exampleCopy();
    const r = await run(dir, ["policy", "test", "--suite", "suite.yaml", "--junit", "report.xml"]);
    expect(r.code).toBe(0);
    const xml = readFileSync(join(dir, "report.xml"), "utf8");
    const n = (parseYaml(readFileSync(join(dir, "suite.yaml"), "utf8")) as { cases: unknown[] }).cases.length;
    expect(xml.match(/<testcase /g)!.length).toBe(n);
    expect(xml).not.toContain("<failure");
    expect(xml).toContain('<property name="rules_reached" value="3/3"/>');
  });

  it("a suite file given as the only argument runs as a suite; the single-intent form keeps needing two", async () => {
    const r = await run(ROOT, ["policy", "test", "examples/policy.suite.yaml"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("suite result:");
    const one = await run(ROOT, ["policy", "test", "examples/policy.yaml"]);
    expect(one.code).toBe(6);
    expect(one.stderr).toContain("'gait policy test' expects 2 positional argument(s) (<policy.yaml> <intent.json>), got 1");
  });

  it("a positional policy replaces the suite's, and --policy-digest pins it", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "other.yaml", "default_verdict: allow\n");
    write(dir, "s.yaml", SUITE_HEAD + "  - name: read\n    intent: {tool_name: tool.read}\n    expect: {verdict: allow, reason_codes: [read_allowed]}\n");
    expect((await run(dir, ["policy", "test", "--suite", "s.yaml"])).code).toBe(0);
    const swapped = await run(dir, ["policy", "test", "--suite", "s.yaml", "other.yaml"]);
    expect(swapped.code).toBe(2);
    expect(swapped.stdout).toContain("policy other.yaml sha256:");
    const pinned = await run(dir, ["policy", "test", "--suite", "s.yaml", "--policy-digest", "sha256:" + "0".repeat(64)]);
    expect(pinned.code).toBe(6);
    expect(pinned.stderr).toContain("policy digest mismatch");
  });

  it("rate-limit preload, kill-switch state, tokens and time decide as gate eval would", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY + "    rate_limit: {requests: 2, window: minute}\n".replace(/^/, ""));
    // the rate limit sits on approve-write (the last rule of POLICY)
    write(
      dir,
      "s.yaml",
      SUITE_HEAD +
        `  - name: third write in a minute is blocked
    intent: {tool_name: tool.write, targets: [{kind: path, value: /repo/file.txt, operation: write}]}
    preload: [{times: 2}]
    expect: {verdict: block, reason_codes_include: [rate_limit_exceeded]}
  - name: approved write
    intent: {tool_name: tool.write, targets: [{kind: path, value: /repo/file.txt, operation: write}]}
    approval_tokens: [{approver: bob}]
    expect: {verdict: allow, reason_codes_include: [approval_granted]}
  - name: token expired by now
    intent: {tool_name: tool.write, targets: [{kind: path, value: /repo/file.txt, operation: write}]}
    approval_tokens: [{approver: bob, minted_at: "2026-03-02T07:00:00Z", ttl: 30m}]
    expect: {verdict: require_approval, reason_codes_include: [approval_token_expired]}
`,
    );
    const r = await run(dir, ["policy", "test", "--suite", "s.yaml", "--json"]);
    expect(r.code, JSON.stringify(r.json)).toBe(0);
    expect(r.json.passed).toBe(3);
  });
});

describe("malformed suites are input errors (exit 6) that point at the line", () => {
  async function fails(suite: string): Promise<string> {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "s.yaml", suite);
    const r = await run(dir, ["policy", "test", "--suite", "s.yaml"]);
    expect(r.code, r.stdout + r.stderr).toBe(6);
    expect(r.stdout).toBe(""); // no case ran
    return r.stderr;
  }

  it("an unknown key gets its position and the closest known key", async () => {
    const err = await fails(SUITE_HEAD + "  - name: x\n    intent: {tool_name: tool.read}\n    expct: {verdict: allow}\n");
    expect(err).toContain('s.yaml:13:5: unknown key "cases[0].expct" (did you mean "expect"?)');
    expect(err).toContain('s.yaml:11:5: cases[0] is missing "expect"');
  });

  it("a bad verdict, a bad time, both intent and tool_call, error with a verdict", async () => {
    const err = await fails(
      SUITE_HEAD +
        "  - name: a\n    intent: {tool_name: tool.read}\n    expect: {verdict: alow}\n" +
        "  - name: b\n    now: yesterday\n    intent: {tool_name: tool.read}\n    tool_call: {adapter: mcp, payload: {name: tool.read}}\n    expect: {verdict: allow}\n" +
        "  - name: c\n    intent: {tool_name: tool.read}\n    expect: {verdict: allow, error: boom}\n",
    );
    expect(err).toContain('s.yaml:13:23: cases[0].expect.verdict must be one of allow, block, require_approval, dry_run, got "alow" (did you mean "allow"?)');
    expect(err).toContain('s.yaml:15:10: cases[1].now must be an RFC 3339 time such as 2026-01-15T12:00:00Z, got "yesterday"');
    expect(err).toContain('cases[1] needs exactly one of "intent" and "tool_call"');
    expect(err).toContain('cases[2].expect: "error" expects no verdict');
  });

  it("wrong schema_id, duplicate case names, YAML syntax, a missing policy, an invalid policy", async () => {
    expect(await fails(SUITE_HEAD.replace("gait.gate.policy_suite", "gait.gate.policy") + "  - {name: a, intent: {}, expect: {verdict: allow}}\n")).toContain(
      's.yaml:1:12: schema_id must be "gait.gate.policy_suite", got "gait.gate.policy"',
    );
    expect(await fails(SUITE_HEAD + "  - {name: a, intent: {}, expect: {verdict: allow}}\n  - {name: a, intent: {}, expect: {verdict: allow}}\n")).toContain(
      's.yaml:12:12: case name "a" is used twice (first by cases[0])',
    );
    expect(await fails(SUITE_HEAD + "  - {name: a, intent: {tool_name: [}\n")).toMatch(/s\.yaml:\d+:\d+: /);
    expect(await fails(SUITE_HEAD.replace("policy: p.yaml", "policy: nope.yaml") + "  - {name: a, intent: {}, expect: {verdict: allow}}\n")).toContain(
      "read policy nope.yaml: file not found",
    );
    const dir = tempDir();
    write(dir, "p.yaml", "rules:\n  - name: r\n    efect: allow\n");
    write(dir, "s.yaml", SUITE_HEAD + "  - {name: a, intent: {}, expect: {verdict: allow}}\n");
    const r = await run(dir, ["policy", "test", "--suite", "s.yaml"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('p.yaml:3:5: parse policy yaml: unknown field "rules[0].efect" (did you mean "effect"?)');
  });

  it("unknown intent keys in a case: warning with position, error with --strict", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "s.yaml", SUITE_HEAD + "  - name: a\n    intent: {tool_name: tool.read, context: {enviroment: prod}}\n    expect: {verdict: allow}\n");
    const warn = await run(dir, ["policy", "test", "--suite", "s.yaml"]);
    expect(warn.code).toBe(0);
    expect(warn.stderr).toContain('warning: s.yaml:12:46: unknown intent key "context.enviroment" (did you mean "environment"?); ignored');
    const strict = await run(dir, ["policy", "test", "--suite", "s.yaml", "--strict"]);
    expect(strict.code).toBe(6);
    expect(strict.stderr).toContain('s.yaml:12:46: unknown intent key "context.enviroment" (did you mean "environment"?)');
  });

  it("--junit without --suite and extra positionals with --suite are usage errors", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "i.json", { tool_name: "tool.read", args: {}, targets: [], context: { identity: "a", workspace: "/", risk_class: "low" } });
    expect((await run(dir, ["policy", "test", "p.yaml", "i.json", "--junit", "x.xml"])).code).toBe(6);
    expect(existsSync(join(dir, "x.xml"))).toBe(false);
    expect((await run(dir, ["policy", "test", "--suite", "s.yaml", "a", "b"])).code).toBe(6);
  });
});

describe("suite building blocks", () => {
  it("the schema compiles in strict mode and accepts every shipped suite", () => {
    const schema = JSON.parse(readFileSync(join(ROOT, "schemas", "policy-suite.schema.json"), "utf8"));
    const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(schema);
    for (const f of ["examples/policy.suite.yaml", ...["low", "medium", "high"].map((t) => `policies/templates/baseline-${t}risk.suite.yaml`)]) {
      expect(validate(parseYaml(readFileSync(join(ROOT, f), "utf8"))), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect(validate({ schema_id: "gait.gate.policy_suite", schema_version: "1.0.0", policy: "p", cases: [] })).toBe(false);
  });

  it("intent defaults merge key by key; null removes a key", () => {
    expect(mergeIntent({ a: 1, context: { x: 1, y: 2 }, targets: [1] }, { context: { y: 3, x: null }, targets: [] })).toEqual({ a: 1, context: { y: 3 }, targets: [] });
    expect(mergeIntent(undefined, { a: 1 })).toEqual({ a: 1 });
  });

  it("compareExpectation: exact lists ignore order, include checks subsets, error expectations", () => {
    const result = { verdict: "block", reason_codes: ["b", "a"], violations: [], matched_rule: "r" } as never;
    expect(compareExpectation({ verdict: "block", reason_codes: ["a", "b"], matched_rule: "r" }, { result })).toEqual([]);
    expect(compareExpectation({ reason_codes_include: ["a", "c"] }, { result })).toEqual([
      { field: "reason_codes_include", want: ["a", "c"], got: ["a", "b"], missing: ["c"] },
    ]);
    expect(compareExpectation({ matched_rule: null }, { result })).toEqual([{ field: "matched_rule", want: null, got: "r" }]);
    expect(compareExpectation({ error: "boom" }, { result })).toEqual([{ field: "error", want: "boom", got: "verdict block (no error)" }]);
    expect(compareExpectation({ error: "boom" }, { error: "it went boom" })).toEqual([]);
    expect(compareExpectation({ error: "boom" }, { error: "other" })).toEqual([{ field: "error", want: "boom", got: "other" }]);
    expect(compareExpectation({ verdict: "allow" }, { error: "bad intent" })).toEqual([{ field: "evaluation", want: "a decision", got: "error: bad intent" }]);
  });

  it("XML escaping covers markup and characters XML cannot carry", () => {
    expect(xmlEscape(`<a href="x">&'\u0001\uD800`)).toBe("&lt;a href=&quot;x&quot;&gt;&amp;&apos;\uFFFD\uFFFD");
  });
});

describe("policy init writes a template's suite, which passes against the written policy", () => {
  for (const t of ["low", "medium", "high"]) {
    it(t, async () => {
      const dir = tempDir();
      const init = await run(dir, ["policy", "init", t, "--out", "policies/gait.policy.yaml", "--suite-out", "tests/gait.suite.yaml", "--json"]);
      expect(init.code, init.stdout).toBe(0);
      expect(init.json.suite_path).toBe("tests/gait.suite.yaml");
      const suite = readFileSync(join(dir, "tests", "gait.suite.yaml"), "utf8");
      expect(suite).toContain("policy: ../policies/gait.policy.yaml");
      expect(suite).toContain("# Test suite of the baseline-"); // comments kept
      const r = await run(dir, ["policy", "test", "--suite", "tests/gait.suite.yaml", "--json"]);
      expect(r.code, JSON.stringify(r.json)).toBe(0);
      expect(r.json.failed).toBe(0);
      expect(r.json.total).toBeGreaterThanOrEqual(10);
      expect(r.json.coverage.not_reached).toEqual([]);
      // refuses to overwrite the suite without --force
      const again = await run(dir, ["policy", "init", t, "--out", "other.yaml", "--suite-out", "tests/gait.suite.yaml"]);
      expect(again.code).toBe(6);
      expect(again.stderr).toContain("refusing to overwrite existing tests/gait.suite.yaml");
      expect(existsSync(join(dir, "other.yaml"))).toBe(false);
    });
  }
});
