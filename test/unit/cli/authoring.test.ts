import { describe, expect, it } from "vitest";
import { scanJson } from "../../../src/engine/json-positions.js";
import { CONTEXT_KEYS, INTENT_KEYS, TARGET_KEYS, unknownIntentKeys } from "../../../src/engine/intent-keys.js";
import { normalizeIntent } from "../../../src/engine/intent.js";
import { POLICY, intent, run, tempDir, write } from "./helpers.js";

describe("policy errors point at file, line and column", () => {
  it("policy validate: each problem as <file>:<line>:<col> with a suggestion; the hint does not name the command itself", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", "default_verdict: alow\nrules:\n  - name: r\n    efect: allow\n    match: {tool_nmae: [x]}\n");
    const r = await run(dir, ["policy", "validate", "p.yaml"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('p.yaml:4:5: parse policy yaml: unknown field "rules[0].efect" (did you mean "effect"?)');
    expect(r.stderr).toContain('p.yaml:5:13: parse policy yaml: unknown field "rules[0].match.tool_nmae" (did you mean "tool_name"?)');
    expect(r.stderr).toContain('p.yaml:1:18: invalid default_verdict: alow (did you mean "allow"?)');
    expect(r.stderr).toContain("p.yaml:3:5: rule effect is required for r");
    const hint = r.stderr.split("\n").find((l) => l.startsWith("hint: "))!;
    expect(hint).toBe("hint: fix the 4 problems at the positions shown, then run 'gait policy validate p.yaml' again");
    expect(hint).not.toContain("reports the problem");

    const j = await run(dir, ["policy", "validate", "p.yaml", "--json"]);
    expect(j.code).toBe(6);
    expect(j.json.ok).toBe(false);
    expect(j.json.problems).toContainEqual({ file: "p.yaml", line: 4, column: 5, message: 'parse policy yaml: unknown field "rules[0].efect"', suggestion: "effect" });
    expect(j.json.hint).toBe(hint.slice("hint: ".length));
  });

  it("other commands point too, and their hint sends you to policy validate", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", "rule:\n  - name: r\n");
    write(dir, "i.json", intent("tool.read", "read"));
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "i.json"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('p.yaml:1:1: parse policy yaml: unknown field "rule" (did you mean "rules"?)');
    expect(r.stderr).toContain("hint: fix the problem at the positions shown; 'gait policy validate p.yaml' checks the file without evaluating anything");
  });
});

describe("intent files: unknown keys and JSON errors carry line and column", () => {
  const typo = `{
  "tool_name": "tool.read",
  "args": {"path": "/repo/file.txt"},
  "targets": [{"kind": "path", "value": "/repo/file.txt", "operation": "read", "endpoint_clas": "fs.read"}],
  "context": {"identity": "alice", "workspace": "/repo", "risk_class": "low", "enviroment": "prod"},
  "Tool_Name": "tool.write"
}`;

  for (const argv of [["gate", "eval", "--policy", "p.yaml", "--intent", "i.json"], ["policy", "test", "p.yaml", "i.json"], ["policy", "explain", "p.yaml", "i.json"]]) {
    it(`${argv.slice(0, 2).join(" ")}: a warning by default (same decision), an error with --strict (no decision)`, async () => {
      const dir = tempDir();
      write(dir, "p.yaml", POLICY);
      write(dir, "i.json", typo);
      const r = await run(dir, argv);
      expect(r.code, r.stderr).toBe(0); // the read is allowed: unknown keys are ignored, as Gait ignores them
      expect(r.stderr).toContain('warning: i.json:4:80: unknown intent key "targets[0].endpoint_clas" (did you mean "endpoint_class"?); ignored');
      expect(r.stderr).toContain('warning: i.json:5:79: unknown intent key "context.enviroment" (did you mean "environment"?); ignored');
      expect(r.stderr).toContain('warning: i.json:6:3: unknown intent key "Tool_Name" (did you mean "tool_name"?); ignored');
      const s = await run(dir, [...argv, "--strict", "--json"]);
      expect(s.code).toBe(6);
      expect(s.json).not.toHaveProperty("verdict");
      expect(s.json.error).toContain("intent has 3 unknown keys (--strict)");
      expect(s.json.error).toContain('i.json:6:3: unknown intent key "Tool_Name" (did you mean "tool_name"?)');
      const clean = await run(dir, [...argv, "--strict"].map((a) => (a === "i.json" ? "ok.json" : a)));
      expect(clean.code).toBe(6); // ok.json does not exist yet
      write(dir, "ok.json", intent("tool.read", "read"));
      const ok = await run(dir, [...argv, "--strict"].map((a) => (a === "i.json" ? "ok.json" : a)));
      expect(ok.code).toBe(0);
      expect(ok.stderr).not.toContain("unknown intent key");
    });
  }

  it("policy test --json reports the warnings, and only when there are some (Gait's output otherwise)", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "i.json", typo);
    const r = await run(dir, ["policy", "test", "p.yaml", "i.json", "--json"]);
    expect(r.json.warnings).toHaveLength(3);
    write(dir, "ok.json", intent("tool.read", "read"));
    const ok = await run(dir, ["policy", "test", "p.yaml", "ok.json", "--json"]);
    expect(Object.keys(ok.json).sort()).toEqual(
      ["correlation_id", "created_at", "intent_digest", "matched_rule", "ok", "policy_digest", "reason_codes", "schema_id", "schema_version", "summary", "verdict"].sort(),
    );
  });

  it("a JSON syntax error is located", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "i.json", '{\n  "tool_name": "tool.read",\n  "args": {"path": }\n}');
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json"]);
    expect(r.code).toBe(6);
    expect(r.json.error).toMatch(/^parse intent i\.json: invalid JSON at line 3, column 20: expected a value, found "}"/);
  });

  it("an intent error that names a field points at it (policy test)", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "i.json", '{"tool_name": "tool.read",\n "args": {},\n "targets": [],\n "context": {"identity": 7, "workspace": "/", "risk_class": "low"}}');
    const r = await run(dir, ["policy", "test", "p.yaml", "i.json"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/i\.json: context\.identity must be a string.* at line 4, column 14/);
  });
});

describe("intent key lists match what the normalizer reads", () => {
  it("every listed context and target key is read (a value of the wrong type is refused naming it)", () => {
    const base = { tool_name: "t", args: {}, targets: [{ kind: "path", value: "/a" }], context: { identity: "a", workspace: "/", risk_class: "low" } };
    for (const k of CONTEXT_KEYS) {
      expect(() => normalizeIntent({ ...base, context: { ...base.context, [k]: 12.5 } }), k).toThrow(k);
    }
    for (const k of TARGET_KEYS) {
      expect(() => normalizeIntent({ ...base, targets: [{ ...base.targets[0], [k]: 12.5 }] }), k).toThrow(k);
    }
    const outputs = ["args_digest", "intent_digest", "script_hash", "relationship"];
    for (const k of INTENT_KEYS.filter((k) => !outputs.includes(k))) {
      expect(() => normalizeIntent({ ...base, [k]: 12.5 }), k).toThrow();
    }
    // and an unlisted key is ignored by the normalizer, which is why it must be reported
    expect(normalizeIntent({ ...base, toolname: 12.5, context: { ...base.context, enviroment: 12.5 } }).intent_digest).toBe(normalizeIntent(base).intent_digest);
  });

  it("finds unknown keys at the top level, in context and in targets, with suggestions", () => {
    expect(unknownIntentKeys({ toolname: 1, args: { anything: 1 }, context: { identty: "a", auth_context: { x: 1 } }, targets: [{ kind: "x", valeu: 1 }, 3] })).toEqual([
      { path: "toolname", key: "toolname", suggestion: "tool_name" },
      { path: "context.identty", key: "identty", suggestion: "identity" },
      { path: "targets[0].valeu", key: "valeu", suggestion: "value" },
    ]);
    expect(unknownIntentKeys({ zzz_custom: 1 })).toEqual([{ path: "zzz_custom", key: "zzz_custom" }]);
    expect(unknownIntentKeys([1, 2])).toEqual([]);
  });

  it("scanJson locates keys and the first syntax error", () => {
    const s = scanJson('{"a": {"b": [1, {"c": true}]},\n "d": "x\\"y"}');
    expect(s.error).toBeUndefined();
    expect(s.keys.get("a.b[1].c")).toMatchObject({ line: 1, column: 18 });
    expect(s.keys.get("d")).toMatchObject({ line: 2, column: 2 });
    expect(scanJson('{"a": 1,}').error).toMatchObject({ line: 1, column: 9, message: 'expected a string key, found "}"' });
    expect(scanJson('{"a": 01}').error).toMatchObject({ column: 8 });
    expect(scanJson('"\\x"').error?.message).toBe("invalid escape in string");
    expect(scanJson("[1] 2").error?.message).toContain("after the JSON value");
    expect(scanJson("").error?.message).toBe("expected a value, found end of input");
    // agrees with JSON.parse on what is JSON
    for (const t of ["{}", "[]", '{"a":[1,2,{"b":null}]}', "-0.5e+3", '"\\u00e9"', "{", '{"a" 1}', "[1,]", "tru", "\u00a0{}"]) {
      let ok = true;
      try {
        JSON.parse(t);
      } catch {
        ok = false;
      }
      expect(scanJson(t).error === undefined, t).toBe(ok);
    }
  });
});

describe("policy explain (CLI)", () => {
  it("prints the verdict, what decided it and each rule's conditions; --json is the engine's explanation", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "i.json", intent("tool.write", "write"));
    const r = await run(dir, ["policy", "explain", "p.yaml", "i.json"]);
    expect(r.code).toBe(0); // explaining is not deciding: no verdict exit code
    expect(r.stdout).toContain("verdict: require_approval (write_requires_approval)");
    expect(r.stdout).toContain("decided by: rules approve-write");
    expect(r.stdout).toMatch(/NOT MATCHED\s+block-delete \(priority 10, block\): does not match: endpoint_classes wants fs\.delete, the intent has fs\.write/);
    expect(r.stdout).toContain("FAIL tool_names: wants tool.read; intent has tool.write");
    const j = await run(dir, ["policy", "explain", "p.yaml", "i.json", "--json"]);
    expect(j.json).toMatchObject({ ok: true, schema_id: "gait.gate.policy_explanation", verdict: "require_approval", decided_by: { stage: "rules", rules: ["approve-write"] } });
    const t = await run(dir, ["policy", "test", "p.yaml", "i.json", "--json"]);
    expect(j.json.verdict).toBe(t.json.verdict);
    expect(j.json.reason_codes).toEqual(t.json.reason_codes);
  });

  it("an invalid intent is an input error; --evaluation-time is checked", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "bad.json", { tool_name: "", context: { identity: "a", workspace: "/", risk_class: "low" } });
    const r = await run(dir, ["policy", "explain", "p.yaml", "bad.json"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("tool_name is required");
    write(dir, "i.json", intent("tool.read", "read"));
    expect((await run(dir, ["policy", "explain", "p.yaml", "i.json", "--evaluation-time", "soon"])).code).toBe(6);
    expect((await run(dir, ["policy", "explain", "p.yaml", "i.json", "--evaluation-time", "2026-01-02T15:04:05Z"])).code).toBe(0);
  });
});
