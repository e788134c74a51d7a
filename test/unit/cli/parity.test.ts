/**
 * CLI behaviour settled against Gait's source for issue 9 ("Gait parity on the last mile"). Each test names the
 * item and the Gait fact; docs/compatibility.md lists the differences we keep on purpose.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { intent, POLICY, readJsonFile, run, SPAWNED, tempDir, write } from "./helpers.js";

const PROD = ["--key-mode", "prod", "--private-key", "gait-out/keys/gait_private.key"];

let dir: string;
beforeAll(async () => {
  dir = tempDir();
  write(dir, "p.yaml", POLICY);
  const k = await run(dir, ["keys", "init"]);
  expect(k.code).toBe(0);
});

async function evalJson(file: string, extra: string[] = []) {
  return run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", file, ...PROD, "--json", ...extra]);
}

describe("item 3: invalid UTF-8 in an intent file is repaired with Go's rule", () => {
  it("E2 82 41 becomes two U+FFFD (Go utf8.DecodeRune), not one (WHATWG)", async () => {
    const body = JSON.stringify(intent("tool.read", "read", { args: { note: "x@@" } }));
    const [before, after] = body.split("@@") as [string, string];
    const raw = Buffer.concat([Buffer.from(before), Buffer.from([0xe2, 0x82, 0x41]), Buffer.from(after)]);
    writeFileSync(join(dir, "bad-utf8.json"), raw);
    write(dir, "go-repaired.json", intent("tool.read", "read", { args: { note: "x\uFFFD\uFFFDA" } }));
    write(dir, "whatwg-repaired.json", intent("tool.read", "read", { args: { note: "x\uFFFDA" } }));
    const [bad, go, whatwg] = [await evalJson("bad-utf8.json"), await evalJson("go-repaired.json"), await evalJson("whatwg-repaired.json")];
    expect(bad.code).toBe(0);
    expect(bad.json.intent_digest).toBe(go.json.intent_digest);
    expect(bad.json.intent_digest).not.toBe(whatwg.json.intent_digest);
  });

  it("bytes that are invalid outside a string are still a JSON error (exit 6)", async () => {
    writeFileSync(join(dir, "bad-syntax.json"), Buffer.from([0x7b, 0xff, 0x7d]));
    const r = await evalJson("bad-syntax.json");
    expect(r.code).toBe(6);
  });
});

describe("item 4 + 16: policy test prints Gait's policytest result", () => {
  const claims = (digest: string) =>
    intent("tool.read", "read", {
      context: {
        identity: "alice", workspace: "/repo", risk_class: "low",
        context_set_digest: digest, context_evidence_mode: "required", context_refs: ["ref-b", "ref-a"],
        auth_context: { context_age_seconds: 5, team: "x" },
      },
    });

  it("intent_digest includes context-evidence claims (policytest.Run: NormalizeIntent alone); gate eval strips them", async () => {
    write(dir, "claims-a.json", claims("a".repeat(64)));
    write(dir, "claims-b.json", claims("b".repeat(64)));
    const testA = await run(dir, ["policy", "test", "p.yaml", "claims-a.json", "--json"]);
    const testB = await run(dir, ["policy", "test", "p.yaml", "claims-b.json", "--json"]);
    const evalA = await evalJson("claims-a.json");
    const evalB = await evalJson("claims-b.json");
    expect(testA.code).toBe(0);
    expect(testA.json.intent_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(testA.json.intent_digest).not.toBe(testB.json.intent_digest); // the claim is in policy test's digest
    expect(evalA.json.intent_digest).toBe(evalB.json.intent_digest); // and stripped before evaluation
    expect(testA.json.intent_digest).not.toBe(evalA.json.intent_digest);
  });

  it("without claims both commands print the same intent_digest", async () => {
    write(dir, "plain.json", intent("tool.read", "read"));
    const t = await run(dir, ["policy", "test", "p.yaml", "plain.json", "--json"]);
    const e = await evalJson("plain.json");
    expect(t.json.intent_digest).toBe(e.json.intent_digest);
  });

  it("has Gait's key set (cmd/gait/policy.go policyTestOutput), Go omitempty included", async () => {
    write(dir, "w.json", intent("tool.write", "write", { created_at: "2026-03-04T05:06:07.5+01:00" }));
    const r = await run(dir, ["policy", "test", "p.yaml", "w.json", "--json"]);
    expect(r.code).toBe(4);
    expect(Object.keys(r.json).sort()).toEqual(
      // correlation_id: added to every JSON output by Gait's writeJSONOutput envelope (cmd/gait/error_output.go)
      ["correlation_id", "created_at", "intent_digest", "matched_rule", "ok", "policy_digest", "reason_codes", "schema_id", "schema_version", "summary", "verdict"],
    );
    expect(r.json).toMatchObject({
      schema_id: "gait.policytest.result", schema_version: "1.0.0", created_at: "2026-03-04T04:06:07.5Z",
      verdict: "require_approval", matched_rule: "approve-write",
      summary: `policy test verdict=require_approval reasons=${r.json.reason_codes.join(",")} violations=none`,
    });
    write(dir, "r.json", intent("tool.read", "read"));
    const ok = await run(dir, ["policy", "test", "p.yaml", "r.json"]);
    expect(ok.stdout).toBe("policy test verdict=allow reasons=read_allowed violations=none\n");
    const j = await run(dir, ["policy", "test", "p.yaml", "r.json", "--json"]);
    expect(j.json.created_at).toBe("1980-01-01T00:00:00Z"); // Gait's default decision time
    expect(j.json.violations).toBeUndefined();
  });
});

describe("item 8: approval audit record", () => {
  it("has Gait's shape: no empty approvers, a relationship, entries null when none", async () => {
    write(dir, "w8.json", intent("tool.write", "write"));
    const r = await evalJson("w8.json");
    expect(r.code).toBe(4);
    const audit = readJsonFile(dir, r.json.approval_audit_path);
    expect(Object.keys(audit)).toEqual([
      "schema_id", "schema_version", "created_at", "producer_version", "trace_id", "tool_name", "intent_digest",
      "policy_digest", "required_approvals", "valid_approvals", "approved", "relationship", "entries",
    ]);
    expect(audit.entries).toBeNull();
    expect(audit.relationship).toEqual({
      parent_ref: { kind: "trace", id: r.json.trace_id },
      entity_refs: [
        { kind: "policy", id: r.json.policy_digest },
        { kind: "tool", id: "tool.write" },
        { kind: "trace", id: r.json.trace_id },
      ],
      policy_ref: { policy_digest: r.json.policy_digest },
      edges: [{ kind: "governed_by", from: { kind: "tool", id: "tool.write" }, to: { kind: "policy", id: r.json.policy_digest } }],
      parent_record_id: r.json.trace_id,
      related_entity_ids: [r.json.policy_digest, r.json.trace_id, "tool.write"].sort(),
    });
  });

  it("is still written when a decision that needed approval ends in block (a script step blocks)", async () => {
    write(dir, "script8.json", {
      tool_name: "script",
      args: {},
      script: { steps: [{ tool_name: "tool.write", args: {} }, { tool_name: "tool.delete", args: {}, targets: [{ kind: "path", value: "/repo/x", operation: "delete" }] }] },
      context: { identity: "alice", workspace: "/repo", risk_class: "low" },
    });
    const r = await evalJson("script8.json");
    expect(r.code).toBe(3);
    expect(r.json.verdict).toBe("block");
    expect(r.json.approval_audit_path).toBe(`approval_audit_${r.json.trace_id}.json`);
    const audit = readJsonFile(dir, r.json.approval_audit_path);
    expect(audit).toMatchObject({ required_approvals: 1, valid_approvals: 0, approved: false, entries: null });
    expect(audit.approvers).toBeUndefined();
  });
});

describe("item 9: key files", () => {
  it("a private key whose base64 is wrapped over lines (base64's default 76 columns, CRLF) signs as in Gait", async () => {
    const { readFileSync } = await import("node:fs");
    const one = readFileSync(join(dir, "gait-out/keys/gait_private.key"), "utf8").trim();
    expect(one.length).toBeGreaterThan(76);
    write(dir, "wrapped.key", `${one.slice(0, 76)}\n${one.slice(76)}\n`);
    write(dir, "wrapped-crlf.key", `${one.slice(0, 40)}\r\n${one.slice(40)}\r\n`);
    write(dir, "spaced.key", `${one.slice(0, 40)} ${one.slice(40)}\n`);
    write(dir, "k9.json", intent("tool.read", "read"));
    const ref = await evalJson("k9.json");
    for (const key of ["wrapped.key", "wrapped-crlf.key"]) {
      const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "k9.json", "--key-mode", "prod", "--private-key", key, "--json"]);
      expect(r.code, key).toBe(0);
      const trace = readJsonFile(dir, r.json.trace_path);
      expect(trace.signature.key_id).toBe(readJsonFile(dir, ref.json.trace_path).signature.key_id);
      const v = await run(dir, ["trace", "verify", r.json.trace_path, "--public-key", "gait-out/keys/gait_public.key", "--json"]);
      expect(v.code, key).toBe(0);
    }
    // Go's decoder skips only CR and LF: a space inside the base64 is still an error (exit 6), as in Gait
    const bad = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "k9.json", "--key-mode", "prod", "--private-key", "spaced.key", "--json"]);
    expect(bad.code).toBe(6);
  });

  it("S6: a private key whose public half does not match its seed is refused (Gait signs unverifiable traces)", async () => {
    const { Ed25519KeyPair } = await import("../../../src/crypto/keys.js");
    const a = Ed25519KeyPair.generate();
    const b = Ed25519KeyPair.generate();
    const mixed = Buffer.concat([Buffer.from(a.seed), Buffer.from(b.publicKey)]).toString("base64");
    write(dir, "mixed.key", mixed + "\n");
    write(dir, "k9b.json", intent("tool.read", "read"));
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "k9b.json", "--key-mode", "prod", "--private-key", "mixed.key", "--json"]);
    expect(r.code).toBe(6);
    expect(r.json.ok).toBe(false);
    expect(r.json.error).toMatch(/does not match/);
    expect(r.json.verdict).toBeUndefined();
  });
});

describe("item 11: integer fields of an intent file", () => {
  const withTtl = (ttl: string) =>
    `{"tool_name":"tool.read","args":{},"targets":[],"context":{"identity":"alice","workspace":"/repo","risk_class":"low","credential_ttl_seconds":${ttl}}}`;

  it("refuses values Go keeps exactly but a JS number cannot (2^53+1, 2^63-1), never rounding them (R10)", async () => {
    for (const ttl of ["9007199254740993", "9223372036854775807"]) {
      write(dir, "ttl.json", withTtl(ttl));
      const r = await evalJson("ttl.json");
      expect(r.code, ttl).toBe(6);
      expect(r.json.error).toMatch(/credential_ttl_seconds must be an integer between -\(2\^53-1\) and 2\^53-1/);
    }
  });

  it("accepts 60.0 and 6e1 as 60 (R9: Go refuses them); the digest is that of 60", async () => {
    write(dir, "ttl60.json", withTtl("60"));
    const ref = await evalJson("ttl60.json");
    for (const ttl of ["60.0", "6e1"]) {
      write(dir, "ttlf.json", withTtl(ttl));
      const r = await evalJson("ttlf.json");
      expect(r.code, ttl).toBe(0);
      expect(r.json.intent_digest).toBe(ref.json.intent_digest);
    }
  });
});

describe("item 14: trace verify", () => {
  it("an unparseable timestamp makes the trace unreadable: exit 6, as Gait (its struct decode fails first)", async () => {
    write(dir, "t14.json", intent("tool.read", "read"));
    const r = await evalJson("t14.json");
    const trace = readJsonFile(dir, r.json.trace_path);
    const verify = (name: string) => run(dir, ["trace", "verify", name, "--public-key", "gait-out/keys/gait_public.key", "--json"]);
    expect((await verify(r.json.trace_path)).code).toBe(0);
    for (const [field, bad] of [["created_at", "yesterday"], ["observed_at", "2026-01-02t03:04:05Z"], ["created_at", 5]] as const) {
      write(dir, "t14-bad.json", { ...trace, [field]: bad });
      const v = await verify("t14-bad.json");
      expect(v.code, `${field}=${bad}`).toBe(6);
      expect(v.json.error).toContain(field);
    }
    write(dir, "t14-fw.json", { ...trace, freeze_window: { status: "inactive", evaluated_at: "not a time" } });
    expect((await verify("t14-fw.json")).code).toBe(6);
    // a parseable but altered time is a verification failure (exit 2)
    write(dir, "t14-alt.json", { ...trace, created_at: "2000-01-01T00:00:00Z" });
    expect((await verify("t14-alt.json")).code).toBe(2);
  });

  it("S7: a re-cased key (Policy_Digest) fails verification (exit 2); Gait's case-insensitive decoder accepts it", async () => {
    write(dir, "t14b.json", intent("tool.read", "read"));
    const r = await evalJson("t14b.json");
    const { policy_digest, ...rest } = readJsonFile(dir, r.json.trace_path);
    write(dir, "t14-recased.json", { ...rest, Policy_Digest: policy_digest });
    const v = await run(dir, ["trace", "verify", "t14-recased.json", "--public-key", "gait-out/keys/gait_public.key", "--json"]);
    expect(v.code).toBe(2);
    expect(v.json.ok).toBe(false);
  });
});

describe("item 15: exit codes", () => {
  it("R11: an input error whose text contains 'lock' or 'timeout' is still exit 6 (Gait's exitCodeForError makes it 1)", async () => {
    write(dir, "p15.yaml", "rules:\n  - {name: block-writes, effect: blocked}\n");
    write(dir, "i15.json", intent("tool.write", "write"));
    const r = await run(dir, ["policy", "test", "p15.yaml", "i15.json", "--json"]);
    expect(r.json.error).toMatch(/block-writes/);
    expect(r.code).toBe(6);
    expect(r.json.error_category).toBe("invalid_input");
    write(dir, "p15b.yaml", "rules:\n  - {name: timeout-guard, effect: maybe}\n");
    const t = await run(dir, ["policy", "validate", "p15b.yaml", "--json"]);
    expect(t.json.error).toMatch(/timeout-guard/);
    expect(t.code).toBe(6);
  });
});

describe("item 16: gate eval and approve print Gait's shapes", () => {
  const script = (steps: object[]) => ({
    tool_name: "script", args: {}, script: { steps }, context: { identity: "alice", workspace: "/repo", risk_class: "low" },
  });

  it("step_verdicts omit empty violations / reason codes / matched rule (TraceStepVerdict omitempty)", async () => {
    write(dir, "s16.json", script([{ tool_name: "tool.read", args: {} }, { tool_name: "tool.other", args: {} }]));
    const r = await evalJson("s16.json");
    expect(r.json.step_verdicts).toEqual([
      { index: 0, tool_name: "tool.read", verdict: "allow", reason_codes: ["read_allowed"], matched_rule: "allow-read" },
      { index: 1, tool_name: "tool.other", verdict: "require_approval", reason_codes: ["default_require_approval"] },
    ]);
  });

  it("a script's matched_rule joins the steps' own matched_rule strings, uniqueSorted (Gait keeps 'a,c' as one entry)", async () => {
    write(dir, "p16.yaml", `default_verdict: allow
rules:
  - {name: b-rule, effect: allow, match: {tool_names: [tool.b]}}
  - {name: a-rule, effect: allow, match: {tool_names: [tool.ac]}}
  - {name: c-rule, effect: allow, match: {tool_names: [tool.ac]}}
`);
    write(dir, "s16b.json", script([{ tool_name: "tool.b", args: {} }, { tool_name: "tool.ac", args: {} }]));
    const r = await run(dir, ["gate", "eval", "--policy", "p16.yaml", "--intent", "s16b.json", ...PROD, "--json"]);
    expect(r.json.step_verdicts.map((s: { matched_rule: string }) => s.matched_rule)).toEqual(["b-rule", "a-rule,c-rule"]);
    expect(r.json.matched_rule).toBe("a-rule,c-rule,b-rule");
    const trace = readJsonFile(dir, r.json.trace_path);
    expect(trace.matched_rule_ids).toEqual(["a-rule", "b-rule", "c-rule"]); // the trace splits them (matchedRuleIDsFromStepVerdicts)
  });

  it("script_hash is printed only when the script was evaluated (not on a fail-closed early return); the trace keeps it", async () => {
    write(dir, "p16c.yaml", "default_verdict: allow\nfail_closed: {enabled: true, required_fields: [targets]}\n");
    const high = { ...script([{ tool_name: "tool.read", args: {} }]), context: { identity: "alice", workspace: "/repo", risk_class: "high" } };
    write(dir, "s16c.json", high);
    const r = await run(dir, ["gate", "eval", "--policy", "p16c.yaml", "--intent", "s16c.json", ...PROD, "--json"]);
    expect(r.json.verdict).toBe("block");
    expect(r.json.reason_codes).toContain("fail_closed_missing_targets");
    expect(r.json.script_hash).toBeUndefined();
    expect(readJsonFile(dir, r.json.trace_path).script_hash).toMatch(/^[0-9a-f]{64}$/);
    write(dir, "s16d.json", { ...high, context: { ...high.context, risk_class: "low" } });
    const low = await run(dir, ["gate", "eval", "--policy", "p16c.yaml", "--intent", "s16d.json", ...PROD, "--json"]);
    expect(low.json.script_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("freeze_window prints Go's zero times for unset time fields", async () => {
    write(dir, "p16e.yaml", `default_verdict: allow
rules:
  - name: f
    effect: allow
    freeze_window:
      timezone: UTC
      windows: [{name: later, start: "2099-01-01T00:00:00", end: "2099-01-02T00:00:00"}]
`);
    write(dir, "i16e.json", intent("tool.read", "read"));
    const r = await run(dir, ["gate", "eval", "--policy", "p16e.yaml", "--intent", "i16e.json", ...PROD, "--json", "--evaluation-time", "2026-01-15T12:00:00Z"]);
    expect(r.json.freeze_window).toEqual({
      status: "inactive", effect: "block", timezone: "UTC", evaluated_at: "2026-01-15T12:00:00Z",
      window_start: "0001-01-01T00:00:00Z", window_end: "0001-01-01T00:00:00Z",
    });
  });

  it("approve --json has Gait's approveOutput keys", async () => {
    const r = await run(dir, [
      "approve", "--intent-digest", "a".repeat(64), "--policy-digest", "b".repeat(64), "--ttl", "90m", "--scope", "tool:tool.write",
      "--approver", "secops", "--reason-code", "change_ok", "--max-targets", "2", "--key-mode", "prod",
      "--private-key", "gait-out/keys/gait_private.key", "--json",
    ], SPAWNED ? {} : { now: () => new Date("2026-01-15T12:00:00.750Z") }); // a spawned CLI reads the real clock
    expect(r.code).toBe(0);
    expect(Object.keys(r.json).sort()).toEqual(
      ["correlation_id", "description", "expires_at", "key_id", "max_targets", "ok", "reason_code", "scope", "token_id", "token_path"],
    );
    expect(r.json).toMatchObject({ reason_code: "change_ok", scope: ["tool:tool.write"], max_targets: 2, description: "signed approval token created" });
    // Gait prints expires_at at second precision
    if (!SPAWNED) expect(r.json.expires_at).toBe("2026-01-15T13:30:00Z");
    else expect(r.json.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});

describe("item 18: version", () => {
  it("gait version / --version / -v print 'gait <version>'; --json prints Gait's versionOutput", async () => {
    const { version: pkgVersion } = JSON.parse((await import("node:fs")).readFileSync(join(__dirname, "../../../package.json"), "utf8"));
    for (const argv of [["version"], ["--version"], ["-v"]]) {
      const r = await run(dir, argv);
      expect(r.code, argv.join(" ")).toBe(0);
      expect(r.stdout).toBe(`gait ${pkgVersion}\n`);
    }
    for (const argv of [["version", "--json"], ["--version", "--json"], ["-v", "-json"]]) {
      const r = await run(dir, argv);
      expect(r.code).toBe(0);
      expect(Object.keys(r.json).sort()).toEqual(["correlation_id", "ok", "version"]);
      expect(r.json).toMatchObject({ ok: true, version: pkgVersion });
    }
    expect((await run(dir, ["version", "extra"])).code).toBe(6);
  });
});

describe("item 8 (delegation): the delegation audit record carries Gait's relationship envelope", () => {
  it("is written with the relationship before the entries", async () => {
    write(dir, "pd.yaml", "default_verdict: block\nrules:\n  - {name: deleg, effect: allow, match: {require_delegation: true}}\n");
    write(dir, "id.json", {
      tool_name: "tool.deploy", args: {}, targets: [],
      delegation: { requester_identity: "alice", chain: [{ delegator_identity: "bob", delegate_identity: "alice" }] },
      context: { identity: "alice", workspace: "/repo", risk_class: "low" },
    });
    const r = await run(dir, ["gate", "eval", "--policy", "pd.yaml", "--intent", "id.json", ...PROD, "--json"]);
    expect(r.json.verdict).toBe("block");
    expect(r.json.reason_codes).toContain("delegation_token_missing");
    const audit = readJsonFile(dir, r.json.delegation_audit_path);
    const keys = Object.keys(audit);
    expect(keys.slice(-2)).toEqual(["relationship", "entries"]);
    expect(audit.relationship).toMatchObject({
      parent_ref: { kind: "trace", id: r.json.trace_id },
      policy_ref: { policy_digest: r.json.policy_digest },
      parent_record_id: r.json.trace_id,
    });
    expect(audit.relationship.edges).toContainEqual({ kind: "governed_by", from: { kind: "tool", id: "tool.deploy" }, to: { kind: "policy", id: r.json.policy_digest } });
    for (const e of audit.entries as { delegator_identity?: string; delegate_identity?: string }[]) {
      if (e.delegator_identity && e.delegate_identity) {
        expect(audit.relationship.edges).toContainEqual({ kind: "delegates_to", from: { kind: "agent", id: e.delegator_identity }, to: { kind: "agent", id: e.delegate_identity } });
      }
    }
  });
});
