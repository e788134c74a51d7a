import { describe, expect, it } from "vitest";
import canonicalize from "canonicalize";
import { createHash } from "node:crypto";
import {
  computeIntentDigest,
  delegationDigest,
  goPathClean,
  goToLower,
  goTrimSpace,
  goUrlHostname,
  IntentDecodeError,
  intentDigestPayload,
  isDestructiveTarget,
  jcsFast,
  normalizeIntent,
  normalizeTargets,
  rawRiskClass,
  scriptHash,
  targetsDigest,
} from "../../../src/engine/intent.js";
import { IntentError, type Target } from "../../../src/engine/types.js";

const sha = (s: string): string => createHash("sha256").update(s).digest("hex");
const HEX_A = "a".repeat(64);
const HEX_B = "b".repeat(64);

type Raw = Record<string, unknown>;
function base(extra: Raw = {}, ctx: Raw = {}): Raw {
  return {
    tool_name: "tool.demo",
    args: { x: "y" },
    targets: [],
    context: { identity: "alice", workspace: "/repo/gait", risk_class: "low", ...ctx },
    ...extra,
  };
}
function err(raw: unknown): string {
  try {
    normalizeIntent(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(IntentError);
    return (e as Error).message;
  }
  throw new Error("expected normalizeIntent to throw");
}
function target(t: Raw, tool = "tool.demo"): Target {
  return normalizeIntent(base({ tool_name: tool, targets: [t] })).targets[0]!;
}

describe("digests (gate.md §2.5 goldens)", () => {
  it("reproduces the base intent golden", () => {
    const i = normalizeIntent(base());
    expect(intentDigestPayload(i)).toBe(
      '{"args":{"x":"y"},"context":{"identity":"alice","phase":"apply","risk_class":"low","workspace":"/repo/gait"},"targets":[],"tool_name":"tool.demo"}',
    );
    expect(i.intent_digest).toBe("26d417d6bd17aa59e0c3db111de2e3f851cc08f360bc57a54003dc7c468c71b5");
    expect(i.args_digest).toBe("0466c472ba1be6a35700b1867dea252bc914e46ebb68522cf0a2e3b9c6e8693e");
  });

  it("digests empty/absent/null args as {}", () => {
    const golden = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    expect(normalizeIntent(base({ args: {} })).args_digest).toBe(golden);
    expect(normalizeIntent(base({ args: null })).args_digest).toBe(golden);
    const noArgs = base();
    delete noArgs.args;
    expect(normalizeIntent(noArgs).args_digest).toBe(golden);
  });

  it("intent_digest is sha256 of the payload and computeIntentDigest recomputes it", () => {
    const i = normalizeIntent(base({ targets: [{ kind: "path", value: "/a", operation: "write" }] }, { session_id: "s" }));
    expect(i.intent_digest).toBe(sha(intentDigestPayload(i)));
    expect(computeIntentDigest(i)).toBe(i.intent_digest);
    i.context.auth_context = { "wrkr.tool_name": "x" };
    expect(computeIntentDigest(i)).not.toBe(i.intent_digest);
  });

  it("applies Go omitempty inside targets and context, keeps phase and targets, excludes metadata", () => {
    const i = normalizeIntent({
      schema_id: "custom",
      schema_version: "9",
      created_at: "2026-02-03T04:05:06Z",
      producer_version: "p",
      relationship: { parent: 1 },
      tool_name: "Tool.Write",
      args: {},
      targets: [{ kind: "PATH", value: " /w ", operation: "Write", sensitivity: "", destructive: false }],
      arg_provenance: [{ arg_path: "a", source: "USER", source_ref: "", integrity_digest: "" }],
      context: { identity: "i", workspace: "w", risk_class: "High", credential_ttl_seconds: 0, credential_scopes: [] },
    });
    expect(intentDigestPayload(i)).toBe(
      '{"arg_provenance":[{"arg_path":"a","source":"user"}],"args":{},"context":{"identity":"i","phase":"apply","risk_class":"high","workspace":"w"},' +
        '"targets":[{"discovery_method":"unknown","endpoint_class":"fs.write","kind":"path","operation":"write","value":"/w"}],"tool_name":"tool.write"}',
    );
    expect(i.schema_id).toBe("custom");
    expect(i.producer_version).toBe("p");
    expect(i.relationship).toEqual({ parent: 1 });
  });

  it("includes every present context field and nested structs", () => {
    const i = normalizeIntent(
      base(
        {},
        {
          agent_id: "ag",
          run_id: "r",
          workflow_id: "wf",
          repo: "rp",
          environment: "Prod",
          job_id: "j",
          session_id: "s",
          request_id: "q",
          credential_ref: "ref:x",
          credential_source: "STUB",
          credential_access_type: "JIT",
          credential_issuer: "iss",
          credential_subject: "sub",
          credential_owner: "own",
          credential_target_binding: "tb",
          credential_run_binding: "rb",
          credential_job_binding: "jb",
          credential_ttl_seconds: 60,
          credential_scopes: [" b", "a", "b", ""],
          approval_ref: "ap",
          wrkr_inventory_ref: "wr",
          agent_action_bom_ref: "bom",
          environment_fingerprint: "fp",
          auth_context: { k: " v " },
          sandbox: { network_mode: "Disabled", timeout_seconds: 5 },
        },
      ),
    );
    expect(intentDigestPayload(i)).toBe(
      '{"args":{"x":"y"},"context":{"agent_action_bom_ref":"bom","agent_id":"ag","approval_ref":"ap","auth_context":{"k":"v"},' +
        '"credential_access_type":"jit","credential_issuer":"iss","credential_job_binding":"jb","credential_owner":"own","credential_ref":"ref:x",' +
        '"credential_run_binding":"rb","credential_scopes":["a","b"],"credential_source":"stub","credential_subject":"sub",' +
        '"credential_target_binding":"tb","credential_ttl_seconds":60,"environment":"Prod","environment_fingerprint":"fp","identity":"alice",' +
        '"job_id":"j","phase":"apply","repo":"rp","request_id":"q","risk_class":"low","run_id":"r","sandbox":{"network_mode":"disabled","timeout_seconds":5},' +
        '"session_id":"s","workflow_id":"wf","workspace":"/repo/gait","wrkr_inventory_ref":"wr"},"targets":[],"tool_name":"tool.demo"}',
    );
    expect(i.intent_digest).toBe(sha(intentDigestPayload(i)));
  });

  it("serializes unset agent_identity and delegation times as Go zero time (not omitted)", () => {
    const i = normalizeIntent(
      base(
        { delegation: { requester_identity: "alice", chain: [{ delegator_identity: "bob", delegate_identity: "alice" }] } },
        { agent_identity: {} },
      ),
    );
    const z = '"0001-01-01T00:00:00Z"';
    const payload = intentDigestPayload(i);
    expect(payload).toContain(`"agent_identity":{"approved_at":${z},"expires_at":${z},"issued_at":${z}}`);
    expect(payload).toContain(
      `"delegation":{"chain":[{"delegate_identity":"alice","delegator_identity":"bob","expires_at":${z},"issued_at":${z}}],"expires_at":${z},"issued_at":${z},"requester_identity":"alice"}`,
    );
    expect(i.context.agent_identity).toEqual({
      approved_at: "0001-01-01T00:00:00Z",
      expires_at: "0001-01-01T00:00:00Z",
      issued_at: "0001-01-01T00:00:00Z",
    });
  });

  it("normalizes times to Go's UTC RFC3339Nano form", () => {
    const i = normalizeIntent(
      base({}, { agent_identity: { issued_at: "2026-01-01T02:00:00.500000000+02:00", expires_at: "2027-01-01T00:00:00Z" } }),
    );
    expect(i.context.agent_identity!.issued_at).toBe("2026-01-01T00:00:00.5Z");
    expect(i.context.agent_identity!.expires_at).toBe("2027-01-01T00:00:00Z");
  });

  it("targetsDigest, delegationDigest and scriptHash digest the Go JSON of the normalized parts", () => {
    const i = normalizeIntent(
      base({
        targets: [{ kind: "host", value: "api.example.com" }],
        delegation: { requester_identity: "alice", scope_class: "Write", token_refs: ["t2", "t1", "t1"] },
      }),
    );
    expect(targetsDigest(i.targets)).toBe(
      sha('[{"discovery_method":"unknown","endpoint_class":"net.http","endpoint_domain":"api.example.com","kind":"host","value":"api.example.com"}]'),
    );
    expect(targetsDigest([])).toBe(sha("[]"));
    expect(delegationDigest(i.delegation!)).toBe(
      sha('{"expires_at":"0001-01-01T00:00:00Z","issued_at":"0001-01-01T00:00:00Z","requester_identity":"alice","scope_class":"write","token_refs":["t1","t2"]}'),
    );
    const s = normalizeIntent(base({ script: { steps: [{ tool_name: "tool.a", args: { q: 1 } }] } }));
    expect(scriptHash(s.script!)).toBe(s.script_hash);
  });

  it("targetsDigest applies omitempty to hand-built targets too", () => {
    const hand: Target = { kind: "path", value: "/x", operation: "", destructive: false, endpoint_class: "fs.read", discovery_method: "unknown" };
    expect(targetsDigest([hand])).toBe(sha('[{"discovery_method":"unknown","endpoint_class":"fs.read","kind":"path","value":"/x"}]'));
  });
});

describe("determinism", () => {
  it("is independent of key order, target order, duplicates and whitespace", () => {
    const a = normalizeIntent({
      tool_name: "tool.write",
      args: { b: [1, { z: "1", a: "2" }], a: "x" },
      targets: [
        { kind: "path", value: "/b", operation: "write" },
        { kind: "path", value: "/a", operation: "write" },
        { kind: "path", value: "/a", operation: "write" },
      ],
      arg_provenance: [
        { arg_path: "b", source: "user" },
        { arg_path: "a", source: "external", source_ref: "r" },
        { arg_path: "b", source: "user" },
      ],
      context: { identity: "alice", workspace: "/w", risk_class: "high", credential_scopes: ["y", "x"] },
    });
    const b = normalizeIntent({
      context: { credential_scopes: ["x", "y", "x"], risk_class: " HIGH ", workspace: "/w", identity: "alice" },
      arg_provenance: [
        { source: "EXTERNAL", arg_path: "a", source_ref: "r" },
        { source: "user", arg_path: "b" },
      ],
      targets: [
        { operation: "WRITE", kind: "path", value: "/a" },
        { value: "/b", kind: "Path", operation: "write" },
      ],
      args: { a: " x ", " b ": [1, { a: "2", z: "1" }] },
      tool_name: " TOOL.WRITE ",
    });
    expect(b.intent_digest).toBe(a.intent_digest);
    expect(b.args_digest).toBe(a.args_digest);
    expect(a.targets.map((t) => t.value)).toEqual(["/a", "/b"]);
    expect(a.arg_provenance!.map((p) => p.arg_path)).toEqual(["a", "b"]);
  });

  it("sorts targets on the full tuple with false before true", () => {
    const i = normalizeIntent(
      base({
        targets: [
          { kind: "url", value: "https://b" },
          { kind: "path", value: "/x", operation: "read", destructive: true },
          { kind: "path", value: "/x", operation: "read" },
          { kind: "path", value: "/x", operation: "read", read_only_hint: true },
          { kind: "host", value: "a" },
        ],
      }),
    );
    expect(i.targets.map((t) => [t.kind, t.destructive ?? false, t.read_only_hint ?? false])).toEqual([
      ["host", false, false],
      ["path", false, false],
      ["path", false, true],
      ["path", true, false],
      ["url", false, false],
    ]);
  });

  it("does not mutate its input", () => {
    const raw = base({ targets: [{ kind: " PATH ", value: " /a " }] }, { auth_context: { context_age_seconds: 3, k: " v " } });
    const copy = JSON.parse(JSON.stringify(raw)) as unknown;
    normalizeIntent(raw);
    expect(raw).toEqual(copy);
  });
});

describe("jcsFast matches canonicalize (RFC 8785)", () => {
  it("on a deterministic sample of JSON values", () => {
    let seed = 42;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const strs = ["", "a", "é", "\u2028", '"q"', "back\\slash", "\u0001ctl", "😀", "z\u00e9\u00e8", "B", "aa", "ab"];
    const nums = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789012345680000, 5e-324, 2 ** 53, -3.5];
    const gen = (depth: number): unknown => {
      const r = rnd();
      if (depth > 3 || r < 0.3) return strs[Math.floor(rnd() * strs.length)];
      if (r < 0.45) return nums[Math.floor(rnd() * nums.length)];
      if (r < 0.5) return rnd() < 0.5;
      if (r < 0.55) return null;
      if (r < 0.75) return Array.from({ length: Math.floor(rnd() * 4) }, () => gen(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = 0; i < Math.floor(rnd() * 5); i++) o[strs[Math.floor(rnd() * strs.length)]! + (rnd() < 0.5 ? "" : "k")] = gen(depth + 1);
      return o;
    };
    for (let i = 0; i < 500; i++) {
      const v = gen(0);
      expect(jcsFast(v)).toBe(canonicalize(v));
    }
  });

  it("rejects non-finite numbers", () => {
    expect(() => jcsFast(Number.NaN)).toThrow(IntentError);
  });
});

describe("error catalogue (gate.md §2.7)", () => {
  const cases: [string, Raw, string][] = [
    ["missing tool_name", { ...base(), tool_name: "  " }, "tool_name is required"],
    ["args not an object", { ...base(), args: [1] }, "args must be a JSON object"],
    ["empty args key", { ...base(), args: { " ": 1 } }, "normalize args: args contains empty key"],
    ["nested empty args key", { ...base(), args: { a: { "": 1 } } }, "normalize args: args contains empty key"],
    ["target without value", base({ targets: [{ kind: "path", value: " " }] }), "targets require kind and value"],
    ["target without kind", base({ targets: [{ value: "/x" }] }), "targets require kind and value"],
    ["bad target kind", base({ targets: [{ kind: "File", value: "/x" }] }), "unsupported target kind: file"],
    ["bad endpoint class", base({ targets: [{ kind: "path", value: "/x", endpoint_class: "fs.Move" }] }), "unsupported endpoint class: fs.move"],
    ["bad discovery", base({ targets: [{ kind: "path", value: "/x", discovery_method: "Auto Magic" }] }), "unsupported discovery method: auto_magic"],
    ["provenance missing path", base({ arg_provenance: [{ source: "user" }] }), "arg provenance requires arg_path and source"],
    ["provenance bad source", base({ arg_provenance: [{ arg_path: "a", source: "Web" }] }), "unsupported provenance source: web"],
    ["provenance bad digest", base({ arg_provenance: [{ arg_path: "a", source: "user", integrity_digest: "XYZ" }] }), "invalid provenance integrity_digest: xyz"],
    ["skill missing publisher", base({ skill_provenance: { skill_name: "s", source: "r" } }), "skill provenance requires skill_name, source, and publisher"],
    ["skill bad digest", base({ skill_provenance: { skill_name: "s", source: "r", publisher: "p", digest: "12" } }), "invalid skill provenance digest: 12"],
    ["missing context", { tool_name: "t" }, "context.identity is required"],
    ["missing identity", base({}, { identity: " " }), "context.identity is required"],
    ["missing workspace", base({}, { workspace: "" }), "context.workspace is required"],
    ["missing risk", base({}, { risk_class: null }), "context.risk_class is required"],
    ["bad context digest", base({}, { context_set_digest: "abc" }), "context.context_set_digest must be sha256 hex"],
    ["negative ttl", base({}, { credential_ttl_seconds: -1 }), "context.credential_ttl_seconds must be >= 0"],
    ["bad credential source", base({}, { credential_source: "Vault" }), "context.credential_source is unsupported: vault"],
    ["bad access type", base({}, { credential_access_type: "root" }), "context.credential_access_type is unsupported: root"],
    ["bad evidence mode", base({}, { context_evidence_mode: "strict" }), "context.context_evidence_mode must be best_effort or required"],
    ["bad phase", base({}, { phase: "Execute" }), "context.phase must be plan or apply"],
    ["auth_context not object", base({}, { auth_context: "x" }), "context.auth_context must be a JSON object"],
    ["auth_context empty key", base({}, { auth_context: { " ": 1 } }), "normalize context.auth_context: args contains empty key"],
    ["sandbox network", base({}, { sandbox: { network_mode: "open" } }), "context.sandbox.network_mode is unsupported: open"],
    ["sandbox env", base({}, { sandbox: { env_exposure_mode: "some" } }), "context.sandbox.env_exposure_mode is unsupported: some"],
    ["sandbox fs", base({}, { sandbox: { filesystem_isolation: "vm" } }), "context.sandbox.filesystem_isolation is unsupported: vm"],
    ["sandbox user", base({}, { sandbox: { user_mode: "admin" } }), "context.sandbox.user_mode is unsupported: admin"],
    ["sandbox timeout", base({}, { sandbox: { timeout_seconds: -5 } }), "context.sandbox.timeout_seconds must be >= 0"],
    ["sandbox digest", base({}, { sandbox: { evidence_digest: "zz" } }), "context.sandbox.evidence_digest must be sha256 hex"],
    ["sandbox env path", base({}, { sandbox: { writable_paths: ["/ok", "HOME=/root"] } }), "context.sandbox.writable_paths[1] must not contain raw environment variable assignments"],
    ["sandbox env root", base({}, { sandbox: { read_only_roots: ["TOKEN=abc"] } }), "context.sandbox.read_only_roots[0] must not contain raw environment variable assignments"],
    ["sandbox env evidence", base({}, { sandbox: { evidence_ref: "SECRET=1" } }), "context.sandbox.evidence_ref must not contain raw environment variable assignments"],
    ["sandbox secret evidence", base({}, { sandbox: { evidence_ref: "abcd1234efgh5678ijkl" } }), "context.sandbox.evidence_ref must not contain secret-like sandbox material; use sandbox evidence refs or digests instead"],
    ["agent digest", base({}, { agent_identity: { manifest_digest: "nothex" } }), "context.agent_identity.manifest_digest must be sha256 hex"],
    ["agent approved before issued", base({}, { agent_identity: { issued_at: "2026-01-02T00:00:00Z", approved_at: "2026-01-01T00:00:00Z" } }), "context.agent_identity.approved_at must be on or after issued_at"],
    ["agent expires at issue", base({}, { agent_identity: { issued_at: "2026-01-02T00:00:00Z", expires_at: "2026-01-02T00:00:00Z" } }), "context.agent_identity.expires_at must be after issued_at"],
    ["agent expires before approval", base({}, { agent_identity: { approved_at: "2026-01-03T00:00:00Z", expires_at: "2026-01-02T00:00:00Z" } }), "context.agent_identity.expires_at must be after approved_at"],
    ["delegation requester", base({ delegation: { requester_identity: " " } }), "delegation.requester_identity is required"],
    ["delegation link identities", base({ delegation: { requester_identity: "a", chain: [{ delegator_identity: "b" }] } }), "delegation.chain[0] requires delegator_identity and delegate_identity"],
    ["delegation link continuity", base({ delegation: { requester_identity: "c", chain: [{ delegator_identity: "a", delegate_identity: "b" }, { delegator_identity: "x", delegate_identity: "c" }] } }), "delegation.chain[1] delegator_identity must match delegation.chain[0].delegate_identity"],
    ["delegation link time", base({ delegation: { requester_identity: "b", chain: [{ delegator_identity: "a", delegate_identity: "b", issued_at: "2026-01-02T00:00:00Z", expires_at: "2026-01-01T00:00:00Z" }] } }), "delegation.chain[0] expires_at must be after issued_at"],
    ["delegation time", base({ delegation: { requester_identity: "a", issued_at: "2026-01-02T00:00:00Z", expires_at: "2026-01-02T00:00:00Z" } }), "delegation.expires_at must be after issued_at"],
    ["delegation last delegate", base({ delegation: { requester_identity: "z", chain: [{ delegator_identity: "a", delegate_identity: "b" }] } }), "delegation.chain last delegate_identity must match delegation.requester_identity"],
    ["script empty", base({ script: { steps: [] } }), "script.steps must not be empty"],
    ["script null steps", base({ script: {} }), "script.steps must not be empty"],
    ["script too long", base({ script: { steps: Array.from({ length: 65 }, () => ({ tool_name: "t" })) } }), "script.steps exceeds max supported steps (64)"],
    ["script step name", base({ script: { steps: [{ tool_name: "a" }, { tool_name: "" }] } }), "script.steps[1].tool_name is required"],
    ["script step args", base({ script: { steps: [{ tool_name: "a", args: "x" }] } }), "script.steps[0].args must be a JSON object"],
    ["script step empty key", base({ script: { steps: [{ tool_name: "a", args: { "": 1 } }] } }), "normalize script.steps[0].args: args contains empty key"],
    ["script step target", base({ script: { steps: [{ tool_name: "a", targets: [{ kind: "disk", value: "x" }] }] } }), "normalize script.steps[0].targets: unsupported target kind: disk"],
    ["script step provenance", base({ script: { steps: [{ tool_name: "a", arg_provenance: [{ arg_path: "x" }] }] } }), "normalize script.steps[0].arg_provenance: arg provenance requires arg_path and source"],
  ];
  it.each(cases)("%s", (_name, raw, message) => {
    expect(err(raw)).toBe(message);
  });

  it("reports a non-object intent and JSON type errors as decode errors", () => {
    for (const [raw, msg] of [
      [null, "intent must be a JSON object"],
      ["{}", "intent must be a JSON object"],
      [{ ...base(), tool_name: 5 }, "tool_name must be a string"],
      [{ ...base(), targets: {} }, "targets must be an array"],
      [base({ targets: [{ kind: "path", value: "/x", destructive: "yes" }] }), "targets[0].destructive must be a boolean"],
      [base({ targets: ["x"] }), "targets[0] must be a JSON object"],
      [base({}, { identity: 7 }), "context.identity must be a string"],
      [base({}, { credential_ttl_seconds: 1.5 }), "context.credential_ttl_seconds must be an integer"],
      [base({}, { credential_scopes: [1] }), "context.credential_scopes[0] must be a string"],
      [base({}, { agent_identity: { issued_at: "yesterday" } }), "context.agent_identity.issued_at must be an RFC 3339 timestamp"],
      [base({ created_at: "2026-13-01T00:00:00Z" }), "created_at must be an RFC 3339 timestamp"],
      [{ ...base(), context: [] }, "context must be a JSON object"],
      [base({ delegation: { requester_identity: "a", chain: {} } }), "delegation.chain must be an array"],
      [{ ...base(), args: { n: Number.POSITIVE_INFINITY } }, "JSON numbers must be finite"],
    ] as [unknown, string][]) {
      let caught: unknown;
      try {
        normalizeIntent(raw);
      } catch (e) {
        caught = e;
      }
      expect(caught, msg).toBeInstanceOf(IntentDecodeError);
      expect((caught as Error).message).toBe(msg);
      expect((caught as Error).name).toBe("IntentError");
    }
  });

  it("treats null fields as zero values like Go's decoder", () => {
    const i = normalizeIntent(base({ targets: null, arg_provenance: null, script: null, delegation: null }, { phase: null, sandbox: null }));
    expect(i.targets).toEqual([]);
    expect(i.context.phase).toBe("apply");
    expect(i.script).toBeUndefined();
  });
});

describe("endpoint class inference (gate.md §2.4)", () => {
  const rows: [string, string, string, string][] = [
    // kind, operation, tool, expected class
    ...["read", "get", "list", "open", "cat", "head", "download", "stat"].map((op): [string, string, string, string] => ["path", op, "tool.x", "fs.read"]),
    ...["write", "append", "put", "create", "update", "save", "copy", "move", "rename"].map((op): [string, string, string, string] => ["path", op, "tool.x", "fs.write"]),
    ...["delete", "remove", "rm", "unlink", "rmdir", "drop", "truncate"].map((op): [string, string, string, string] => ["path", op, "tool.x", "fs.delete"]),
    ["path", "", "tool.read_file", "fs.read"],
    ["path", "", "tool.list", "fs.read"],
    ["path", "", "tool.fetch", "fs.read"],
    ["path", "", "tool.search", "fs.read"],
    ["path", "", "tool.write", "fs.write"],
    ["path", "", "tool.update", "fs.write"],
    ["path", "", "tool.save", "fs.write"],
    ["path", "", "tool.create", "fs.write"],
    ["path", "", "tool.delete", "fs.delete"],
    ["path", "", "tool.remove", "fs.delete"],
    ["path", "", "tool.drop", "fs.delete"],
    ["path", "", "tool.noop", "other"],
    ["path", "frobnicate", "tool.noop", "other"],
    // QUIRK: substring hints
    ["path", "", "tool.format", "fs.delete"], // "format" contains "rm"
    ["path", "", "tool.thread_delete", "fs.read"], // "thread" contains "read", checked before delete
    ["path", "", "tool.spread", "fs.read"], // "spread" contains "read"
    // hint uses the basename after the last '/'
    ["path", "", "reader/tool.noop", "other"],
    ["path", "", "ns/tool.reader", "fs.read"],
    ["host", "", "tool.x", "net.http"],
    ["url", "post", "tool.x", "net.http"],
    ["host", "dns", "tool.x", "net.dns"],
    ["url", "resolve", "tool.x", "net.dns"],
    ["host", "lookup", "tool.x", "net.dns"],
    ...["exec", "spawn", "run", "shell", "command"].map((op): [string, string, string, string] => ["other", op, "tool.x", "proc.exec"]),
    ["other", "", "tool.exec", "proc.exec"],
    ["other", "", "tool.shell", "proc.exec"],
    ["other", "", "tool.command", "proc.exec"],
    ["other", "", "tool.spawn", "proc.exec"],
    ["other", "", "tool.prune", "proc.exec"], // QUIRK: "prune" contains "run"
    ["other", "execute", "tool.exec", "proc.exec"],
    ["other", "delegate", "tool.delegate", "other"],
    ["other", "", "tool.noop", "other"],
    ["repo", "exec", "tool.exec", "other"],
    ["bucket", "delete", "tool.delete", "other"],
    ["table", "read", "tool.read", "other"],
    ["queue", "", "tool.x", "other"],
    ["topic", "", "tool.x", "other"],
    ["path", "exec", "tool.prune", "other"], // exec hints only apply to kind other
  ];
  it.each(rows)("%s op=%s tool=%s => %s", (kind, operation, tool, cls) => {
    expect(target({ kind, value: "v", operation }, tool).endpoint_class).toBe(cls);
  });

  it("keeps an explicit class (lowercased) and does not infer", () => {
    expect(target({ kind: "path", value: "/x", endpoint_class: " UI.Click ", operation: "delete" }).endpoint_class).toBe("ui.click");
  });

  it("infers destructive from class, operation (even with explicit class), destructive and destructive_hint", () => {
    expect(target({ kind: "path", value: "/x", operation: "rm" }).destructive).toBe(true);
    expect(target({ kind: "other", value: "x" }, "tool.exec").destructive).toBe(true);
    expect(target({ kind: "path", value: "/x", operation: "spawn", endpoint_class: "fs.read" }).destructive).toBe(true);
    expect(target({ kind: "repo", value: "x", operation: "exec" }).destructive).toBe(true);
    expect(target({ kind: "path", value: "/x", operation: "read", destructive: true }).destructive).toBe(true);
    const hinted = target({ kind: "path", value: "/x", operation: "read", destructive_hint: true });
    expect(hinted.destructive).toBe(true);
    expect(hinted.destructive_hint).toBe(true);
    expect(target({ kind: "path", value: "/x", operation: "read" }).destructive).toBeUndefined();
    expect(target({ kind: "path", value: "/x" }, "tool.format").destructive).toBe(true); // substring quirk
  });

  it("isDestructiveTarget reads the flag and the destructive classes", () => {
    expect(isDestructiveTarget(target({ kind: "path", value: "/x", operation: "delete" }))).toBe(true);
    expect(isDestructiveTarget(target({ kind: "path", value: "/x", operation: "read" }))).toBe(false);
    expect(isDestructiveTarget({ kind: "other", value: "x", endpoint_class: "proc.exec" })).toBe(true);
  });

  it("normalizes discovery methods", () => {
    expect(target({ kind: "path", value: "/x" }).discovery_method).toBe("unknown");
    expect(target({ kind: "path", value: "/x", discovery_method: " Dynamic-MCP " }).discovery_method).toBe("dynamic_mcp");
    expect(target({ kind: "path", value: "/x", discovery_method: "static mcp" }).discovery_method).toBe("static_mcp");
    expect(target({ kind: "path", value: "/x", discovery_method: "A2A" }).discovery_method).toBe("a2a");
  });

  it("keeps value case, lowercases operation/sensitivity, keeps hint booleans", () => {
    const t = target({ kind: "Path", value: " /Repo/File ", operation: " READ ", sensitivity: "PII", read_only_hint: true, idempotent_hint: true, open_world_hint: true });
    expect(t).toEqual({
      discovery_method: "unknown",
      endpoint_class: "fs.read",
      idempotent_hint: true,
      kind: "path",
      open_world_hint: true,
      operation: "read",
      read_only_hint: true,
      sensitivity: "pii",
      value: "/Repo/File",
    });
  });

  it("normalizeTargets is exported for targets outside an intent", () => {
    expect(normalizeTargets("tool.format", [{ kind: "path", value: "/x" }])[0]!.endpoint_class).toBe("fs.delete");
    expect(normalizeTargets("t", undefined)).toEqual([]);
    expect(() => normalizeTargets("t", [{ kind: "nope", value: "x" }])).toThrow("unsupported target kind: nope");
  });
});

describe("endpoint domain inference", () => {
  const rows: [string, string, string][] = [
    ["host", "API.Example.com", "api.example.com"],
    ["host", "https://api.example.com/v1", "api.example.com"],
    ["host", "http://api.example.com:8443", "api.example.com"],
    ["host", "api.example.com:443/x", "api.example.com"],
    ["url", "https://User:pw@API.Example.com:8443/path?q=1#f", "api.example.com"],
    ["url", "http://[::1]:8080/x", "::1"],
    ["url", "//cdn.example.com/lib.js", "cdn.example.com"],
    ["url", "example.com/path", ""], // no scheme, no authority
    ["url", "mailto:a@b.c", ""], // opaque
    ["url", "https://bad host/", ""], // Go url.Parse error
    ["url", "https://host:abc/", ""], // invalid port
    ["url", "https://h/%zz", ""], // bad escape
    ["url", ":nope", ""], // missing protocol scheme
    ["url", "https://xn--bcher-kva.example/", "xn--bcher-kva.example"],
    ["path", "/x", ""],
    ["other", "https://a.b", ""],
  ];
  it.each(rows)("%s %s => %s", (kind, value, domain) => {
    expect(target({ kind, value }).endpoint_domain ?? "").toBe(domain);
  });

  it("keeps an explicit domain (lowercased)", () => {
    expect(target({ kind: "url", value: "https://a.example", endpoint_domain: "B.Example" }).endpoint_domain).toBe("b.example");
  });

  it("goUrlHostname follows Go's url.Parse + Hostname", () => {
    expect(goUrlHostname("https://[fe80::1%25en0]:80/")).toBe("fe80::1%en0");
    expect(goUrlHostname("https://host:/")).toBe("host");
    expect(goUrlHostname("https://a%41.com/")).toBe(""); // %-escapes of ASCII are invalid in hosts
    expect(goUrlHostname("https://\u00fc.example/")).toBe("\u00fc.example");
    expect(goUrlHostname("ht\ttp://x/")).toBe("");
    expect(goUrlHostname("///x")).toBe("");
  });
});

describe("context normalization", () => {
  it("trims, lowercases risk/phase, rewrites workspace backslashes, keeps identity case", () => {
    const i = normalizeIntent(base({}, { identity: " Alice ", workspace: " C:\\repo\\gait ", risk_class: " CRITICAL ", phase: " PLAN " }));
    expect(i.context).toMatchObject({ identity: "Alice", workspace: "C:/repo/gait", risk_class: "critical", phase: "plan" });
  });

  it("accepts any risk class text", () => {
    expect(normalizeIntent(base({}, { risk_class: "Spicy" })).context.risk_class).toBe("spicy");
  });

  it("deep-trims auth_context and omits it when empty", () => {
    const i = normalizeIntent(base({}, { auth_context: { " a ": [" x ", { " b ": " y " }], "wrkr.tool_name": " t " } }));
    expect(i.context.auth_context).toEqual({ a: ["x", { b: "y" }], "wrkr.tool_name": "t" });
    expect(normalizeIntent(base({}, { auth_context: {} })).context.auth_context).toBeUndefined();
  });

  it("keeps a '__proto__' key as data without touching prototypes", () => {
    const raw = JSON.parse('{"tool_name":"t","args":{"__proto__":{"polluted":1}},"context":{"identity":"a","workspace":"w","risk_class":"low"}}') as unknown;
    const i = normalizeIntent(raw);
    expect(Object.keys(i.args)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(intentDigestPayload(i)).toContain('"args":{"__proto__":{"polluted":1}}');
  });

  it("cleans sandbox paths (Go filepath.Clean), dedupes and sorts; all-empty sandbox is absent", () => {
    const i = normalizeIntent(base({}, { sandbox: { writable_paths: ["/tmp/a/../b/", "/tmp/b", " ", "."], read_only_roots: ["/usr//lib"], evidence_ref: "ref:sbx-1" } }));
    expect(i.context.sandbox).toEqual({ evidence_ref: "ref:sbx-1", read_only_roots: ["/usr/lib"], writable_paths: ["/tmp/b"] });
    expect(normalizeIntent(base({}, { sandbox: { writable_paths: ["."], timeout_seconds: 0 } })).context.sandbox).toBeUndefined();
    for (const prefix of ["receipt:", "proof:", "sandbox:", "sha256:", "REF:"]) {
      expect(normalizeIntent(base({}, { sandbox: { evidence_ref: `${prefix}abcd1234efgh5678ijkl` } })).context.sandbox!.evidence_ref).toBe(`${prefix}abcd1234efgh5678ijkl`);
    }
  });

  it("normalizes agent identity fields", () => {
    const i = normalizeIntent(base({}, { agent_identity: { lifecycle_states: ["b", " a", "b", ""], owner: " o ", manifest_digest: HEX_A.toUpperCase(), publisher: "P", source: "GitHub", revoked: true } }));
    expect(i.context.agent_identity).toMatchObject({ lifecycle_states: ["a", "b"], owner: "o", manifest_digest: HEX_A, publisher: "P", source: "github", revoked: true });
  });

  it("normalizes skill provenance", () => {
    const i = normalizeIntent(base({ skill_provenance: { skill_name: " s ", skill_version: " 1 ", source: "Registry", publisher: "Acme", digest: HEX_B.toUpperCase(), signature_key_id: " k " } }));
    expect(i.skill_provenance).toEqual({ digest: HEX_B, publisher: "Acme", signature_key_id: "k", skill_name: "s", skill_version: "1", source: "registry" });
  });

  it("defaults created_at to 1980 (also for the zero time) and normalizes it to UTC", () => {
    expect(normalizeIntent(base()).created_at).toBe("1980-01-01T00:00:00Z");
    expect(normalizeIntent(base({ created_at: "0001-01-01T00:00:00Z" })).created_at).toBe("1980-01-01T00:00:00Z");
    expect(normalizeIntent(base({ created_at: "2026-05-01T12:00:00+02:00" })).created_at).toBe("2026-05-01T10:00:00Z");
    expect(normalizeIntent(base({ created_at: "2026-05-01T12:00:00Z" })).created_at).toBe("2026-05-01T12:00:00Z");
    const i = normalizeIntent(base());
    expect(i.schema_id).toBe("gait.gate.intent_request");
    expect(i.schema_version).toBe("1.0.0");
  });

  it("created_at does not change the intent digest", () => {
    expect(normalizeIntent(base({ created_at: "2026-05-01T12:00:00Z" })).intent_digest).toBe(normalizeIntent(base()).intent_digest);
  });
});

describe("raw credential rejection (gate.md §2.6)", () => {
  const msg = (p: string): string => `${p} must not contain raw credential material; use credential references or digests instead`;
  it.each([
    ["api_key", "sk-live"],
    ["token", "ghp_abc"],
    ["password", "hunter2hunter2hunter2x9"],
    ["AccessKey", "AKIAxyz"],
    ["client_secret", "abcdefgh12345678"],
    ["credential", "gho_x"],
    ["session-token", "github_pat_123"],
    ["apikey", "ASIAfoo"],
  ])("rejects %s=%s", (key, value) => {
    expect(err({ ...base(), args: { [key]: value } })).toBe(msg(`args.${key}`));
  });

  it.each([
    ["api_key", "env:OPENAI_KEY"],
    ["token", "stub:demo"],
    ["password", "cmd:pass show x"],
    ["secret", "REF:vault/path"],
    ["token", "sha256:abc"],
    ["token", HEX_A],
    ["password", "short1"],
    ["password", "has space 1234567890"],
    ["password", "onlylettersnodigits"],
    ["password", "1234567890123456789"],
    ["token_ref", "abcdefgh12345678"],
    ["token_id", "abcdefgh12345678"],
    ["api_key_name", "abcdefgh12345678"],
    ["credential_scopes", "abcdefgh12345678"],
    ["token_ttl_seconds", "abcdefgh12345678"],
    ["access_key_digest", "abcdefgh12345678"],
    ["note", "abcdefgh12345678"],
  ])("accepts %s=%s", (key, value) => {
    expect(() => normalizeIntent({ ...base(), args: { [key]: value } })).not.toThrow();
  });

  it("walks nested objects and arrays, reports the first hit in sorted-key order", () => {
    expect(err({ ...base(), args: { z: { token: "ghp_1" }, a: [{ x: 1 }, { password: "sk-9" }] } })).toBe(msg("args.a[1].password"));
    expect(err({ ...base(), args: { b: { token: "ghp_1" }, a: { c: { secret: "sk-1" } } } })).toBe(msg("args.a.c.secret"));
  });

  it("checks trimmed keys and values", () => {
    expect(err({ ...base(), args: { " token ": "  ghp_x  " } })).toBe(msg("args.token"));
  });

  it("checks auth_context", () => {
    expect(err(base({}, { auth_context: { oauth: { access_token: "abcdefgh12345678" } } }))).toBe(msg("context.auth_context.oauth.access_token"));
  });

  it("does not check script step args (Gait behaviour)", () => {
    expect(() => normalizeIntent(base({ script: { steps: [{ tool_name: "a", args: { token: "ghp_x" } }] } }))).not.toThrow();
  });
});

describe("context evidence (gate.md §4.10)", () => {
  const claims = { context_set_digest: HEX_A.toUpperCase(), context_evidence_mode: "Required", context_refs: ["b", "a"], auth_context: { context_age_seconds: 1, keep: "x" } };

  it("strips caller claims without an envelope (digest equals the claim-free intent)", () => {
    const stripped = normalizeIntent(base({}, claims));
    expect(stripped.context.context_set_digest).toBeUndefined();
    expect(stripped.context.context_evidence_mode).toBeUndefined();
    expect(stripped.context.context_refs).toBeUndefined();
    expect(stripped.context.auth_context).toEqual({ keep: "x" });
    expect(stripped.intent_digest).toBe(normalizeIntent(base({}, { auth_context: { keep: "x" } })).intent_digest);
    expect(normalizeIntent(base({}, { auth_context: { context_age_seconds: 5 } })).context.auth_context).toBeUndefined();
  });

  it("still validates claims it strips", () => {
    expect(err(base({}, { context_set_digest: "nope" }))).toBe("context.context_set_digest must be sha256 hex");
  });

  it("binds digest, mode, refs and age from a verified envelope", () => {
    const envelope = { context_set_digest: HEX_A, context_evidence_mode: "required", context_refs: ["r2", "r1", "r1"], context_age_seconds: 42 };
    const i = normalizeIntent(base({}, claims), { envelope });
    expect(i.context).toMatchObject({ context_set_digest: HEX_A, context_evidence_mode: "required", context_refs: ["r1", "r2"], auth_context: { keep: "x", context_age_seconds: 42 } });
    expect(intentDigestPayload(i)).toContain(`"auth_context":{"context_age_seconds":42,"keep":"x"},"context_evidence_mode":"required","context_refs":["r1","r2"],"context_set_digest":"${HEX_A}"`);
    const noClaims = normalizeIntent(base(), { envelope: { context_set_digest: HEX_A, context_age_seconds: 0 } });
    expect(noClaims.context.auth_context).toEqual({ context_age_seconds: 0 });
    expect(noClaims.context.context_evidence_mode).toBeUndefined();
  });

  it("rejects claims that disagree with the envelope", () => {
    const envelope = { context_set_digest: HEX_B, context_evidence_mode: "best_effort", context_age_seconds: 1 };
    expect(() => normalizeIntent(base({}, { context_set_digest: HEX_A }), { envelope })).toThrow("context envelope digest does not match context.context_set_digest");
    expect(() => normalizeIntent(base({}, { context_evidence_mode: "required" }), { envelope })).toThrow("context envelope evidence mode does not match context.context_evidence_mode");
    expect(() => normalizeIntent(base({}, { context_set_digest: HEX_B.toUpperCase(), context_evidence_mode: "BEST_EFFORT" }), { envelope })).not.toThrow();
  });

  it("rejects a malformed envelope", () => {
    expect(() => normalizeIntent(base(), { envelope: { context_set_digest: "x", context_age_seconds: 1 } })).toThrow("verify context envelope: context_set_digest must be sha256 hex");
    expect(() => normalizeIntent(base(), { envelope: { context_set_digest: HEX_A, context_age_seconds: -1 } })).toThrow("verify context envelope");
  });
});

describe("scripts (gate.md §4.13)", () => {
  const script = {
    steps: [
      { tool_name: " Tool.Read ", args: { p: " /a " }, targets: [{ kind: "path", value: "/a" }], arg_provenance: [{ arg_path: "p", source: "user" }] },
      { tool_name: "tool.write", args: {}, targets: [{ kind: "path", value: "/b", operation: "write" }] },
    ],
  };

  it("forces tool_name to script, empties nothing else, and hashes the normalized steps", () => {
    const i = normalizeIntent(base({ tool_name: "ignored", script }));
    expect(i.tool_name).toBe("script");
    expect(i.script!.steps[0]).toEqual({
      arg_provenance: [{ arg_path: "p", source: "user" }],
      args: { p: "/a" },
      targets: [{ discovery_method: "unknown", endpoint_class: "fs.read", kind: "path", value: "/a" }],
      tool_name: "tool.read",
    });
    const expectedScript =
      '{"steps":[{"arg_provenance":[{"arg_path":"p","source":"user"}],"args":{"p":"/a"},"targets":[{"discovery_method":"unknown","endpoint_class":"fs.read","kind":"path","value":"/a"}],"tool_name":"tool.read"},' +
      '{"args":{},"targets":[{"discovery_method":"unknown","endpoint_class":"fs.write","kind":"path","operation":"write","value":"/b"}],"tool_name":"tool.write"}]}';
    expect(i.script_hash).toBe(sha(expectedScript));
    expect(intentDigestPayload(i)).toContain(`"script":${expectedScript},"script_hash":"${i.script_hash}"`);
  });

  it("inherits the steps' normalized targets/provenance at top level (class inferred from the step's tool name)", () => {
    const i = normalizeIntent(base({ targets: [], script }));
    // Gait normalizeIntent appends the *normalized* step targets: /a has no operation and keeps the fs.read its
    // step's tool name (tool.read) inferred; re-inferring with the tool name "script" would give "other" (issue 9 #1).
    expect(i.targets.map((t) => [t.value, t.endpoint_class])).toEqual([
      ["/a", "fs.read"],
      ["/b", "fs.write"],
    ]);
    expect(i.arg_provenance).toEqual([{ arg_path: "p", source: "user" }]);
  });

  it("keeps explicit top-level targets", () => {
    const i = normalizeIntent(base({ targets: [{ kind: "host", value: "h" }], script }));
    expect(i.targets.map((t) => t.value)).toEqual(["h"]);
  });

  it("omits empty step targets/provenance from the script hash", () => {
    const i = normalizeIntent(base({ script: { steps: [{ tool_name: "a" }] } }));
    expect(i.script!.steps[0]).toEqual({ args: {}, tool_name: "a" });
    expect(i.script_hash).toBe(sha('{"steps":[{"args":{},"tool_name":"a"}]}'));
  });

  it("accepts exactly 64 steps", () => {
    const i = normalizeIntent(base({ script: { steps: Array.from({ length: 64 }, (_, n) => ({ tool_name: `t${n}` })) } }));
    expect(i.script!.steps).toHaveLength(64);
  });
});

describe("rawRiskClass", () => {
  it("returns the trimmed lowercase raw value or empty", () => {
    expect(rawRiskClass({ context: { risk_class: " HIGH " } })).toBe("high");
    expect(rawRiskClass({ context: {} })).toBe("");
    expect(rawRiskClass({ context: { risk_class: 3 } })).toBe("");
    expect(rawRiskClass(null)).toBe("");
    expect(rawRiskClass("x")).toBe("");
  });
});

describe("Go string helpers", () => {
  it("goTrimSpace uses Go's space set", () => {
    expect(goTrimSpace("\u0085 a \u00a0")).toBe("a");
    expect(goTrimSpace("\ufeffa")).toBe("\ufeffa"); // JS trim() would remove U+FEFF, Go does not
    expect(goTrimSpace("\u3000x\u2029")).toBe("x");
    expect(goTrimSpace("plain")).toBe("plain");
  });

  it("goToLower uses simple per-rune mapping", () => {
    expect(goToLower("ABC")).toBe("abc");
    expect(goToLower("\u0130")).toBe("i");
    expect(goToLower("\u03a3\u03a3")).toBe("\u03c3\u03c3");
    expect(goToLower("ÄÖ")).toBe("äö");
  });

  it("goPathClean matches Go path.Clean", () => {
    const cases: [string, string][] = [["", "."], ["/", "/"], ["a/b/../c/", "a/c"], ["/../x", "/x"], ["../../a", "../../a"], ["a//b/./c", "a/b/c"], ["/a/b/..", "/a"]];
    for (const [i, o] of cases) expect(goPathClean(i)).toBe(o);
  });

  it("repairs lone surrogates like Go's JSON decoder", () => {
    const i = normalizeIntent({ ...base(), args: { k: "a\ud800b" } });
    expect(i.args.k).toBe("a\ufffdb");
  });
});
