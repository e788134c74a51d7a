/**
 * TypeScript client ergonomics (issue 13): typed intents that reject a misspelt field at compile time and stay in
 * step with the proto, raw intent JSON checked at run time with a suggestion, readable decisions, and plain-value
 * approval helpers.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { inspect } from "node:util";
import ts from "typescript";
import { create, type DescMessage } from "@bufbuild/protobuf";
import {
  ApprovalState,
  Decision,
  GateClient,
  Verdict,
  buildEvaluateRequest,
  checkIntentJson,
  decisionFromResponse,
  failClosedDecision,
  gen,
  intentToJson,
  isGateError,
  type Intent,
} from "../../clients/typescript/src/index.js";
import { approvalFrom, approvalStatusFrom, denyRequest, grantRequest } from "../../clients/typescript/src/approval.js";
import { IntentRequestSchema } from "../../clients/typescript/src/gen/gait/gate/v1/intent_pb.js";
import { ROOT } from "../conformance/clients/harness.js";

const CLIENT = join(ROOT, "clients", "typescript");
const FIXTURES = join(CLIENT, "test-types");
// Loaded by URL, not imported: the fixture imports "@gait-gate/client" like a user's file, which only the type check
// below (and the package test) resolves; the repository's own type check must not pull it in.
const { FULL_INTENT } = (await import(pathToFileURL(join(FIXTURES, "full-intent.ts")).href)) as { FULL_INTENT: Intent };

/** Type-checks files against the client's sources, as a user's project that imports "@gait-gate/client" would. */
function typeCheck(files: string[]): readonly ts.Diagnostic[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2023.d.ts"],
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
    typeRoots: [join(ROOT, "node_modules", "@types")],
    baseUrl: ROOT,
    paths: { "@gait-gate/client": [join(CLIENT, "src", "index.ts")] },
  };
  const program = ts.createProgram(files, options);
  return ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error);
}

const where = (d: ts.Diagnostic) => (d.file ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : "?");
const text = (d: ts.Diagnostic) => ts.flattenDiagnosticMessageText(d.messageText, "\n");

/** Field names of a message and, recursively, of its non-opaque message fields, as "a.b.c" paths. */
function protoPaths(desc: DescMessage, prefix = ""): string[] {
  const out: string[] = [];
  for (const f of desc.fields) {
    out.push(prefix + f.name);
    const msg = f.fieldKind === "message" ? f.message : f.fieldKind === "list" && f.listKind === "message" ? f.message : undefined;
    if (msg && !msg.typeName.startsWith("google.protobuf.")) out.push(...protoPaths(msg, `${prefix}${f.name}.`));
  }
  return out;
}

/** The same paths for a JSON-like value; free-form objects (args, auth_context, relationship) are leaves. */
function valuePaths(v: unknown, desc: DescMessage, prefix = ""): string[] {
  const out: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    out.push(prefix + k);
    const f = desc.fields.find((y) => y.name === k);
    const msg = f?.fieldKind === "message" ? f.message : f?.fieldKind === "list" && f.listKind === "message" ? f.message : undefined;
    if (!msg || msg.typeName.startsWith("google.protobuf.")) continue;
    const el = Array.isArray(x) ? x[0] : x;
    if (el !== undefined) out.push(...valuePaths(el, msg, `${prefix}${k}.`));
  }
  return out;
}

describe("typed intents", () => {
  it("compile-time: correct intents compile, and each misspelt field or unknown value is the expected error", () => {
    // engine-parity.ts: the field sets equal the engine's intent types (src/engine/types.ts), level by level
    const ok = [join(FIXTURES, "full-intent.ts"), join(FIXTURES, "intent-ok.ts"), join(FIXTURES, "engine-parity.ts")];
    const bad = join(FIXTURES, "intent-misspelt.ts");
    const diags = typeCheck([...ok, bad]);
    const okDiags = diags.filter((d) => d.file && ok.includes(d.file.fileName));
    expect(okDiags.map((d) => `${where(d)} ${text(d)}`)).toEqual([]);

    const lines = readFileSync(bad, "utf8").split("\n");
    const want = new Map<number, { code: number; word: string }>();
    lines.forEach((l, i) => {
      const m = /\/\/ expect-error TS(\d+) (.+)$/.exec(l);
      if (m) want.set(i + 1, { code: Number(m[1]), word: m[2]!.trim() });
    });
    expect(want.size).toBeGreaterThanOrEqual(9);
    const got = new Map<number, ts.Diagnostic[]>();
    for (const d of diags.filter((x) => x.file?.fileName === bad)) {
      const line = d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line + 1;
      got.set(line, [...(got.get(line) ?? []), d]);
    }
    for (const [line, w] of want) {
      const ds = got.get(line) ?? [];
      expect(ds.map((d) => `TS${d.code} ${text(d)}`), `line ${line}: ${lines[line - 1]}`).toEqual([expect.stringMatching(new RegExp(`^TS${w.code} [^]*${w.word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`))]);
    }
    expect([...got.keys()].filter((l) => !want.has(l)).map((l) => `${l}: ${got.get(l)!.map(text).join("; ")}`)).toEqual([]);
  }, 60_000);

  it("the typed field set is the proto's IntentRequest field set, at every level", () => {
    // full-intent.ts is type-checked above as DeepRequired<Intent>, so its keys are exactly the types' keys
    expect(valuePaths(FULL_INTENT, IntentRequestSchema).sort()).toEqual(protoPaths(IntentRequestSchema).sort());
  });

  it("a fully populated typed intent encodes (every field and value the types allow reaches the proto)", () => {
    const req = buildEvaluateRequest({ intent: FULL_INTENT });
    if (req.input.case !== "intent") throw new Error(`input is ${req.input.case}`);
    const m = req.input.value;
    expect(m.context?.sandbox?.networkMode).toBe("disabled");
    expect(m.context?.credentialTtlSeconds).toBe(60);
    expect(m.targets[0]?.readOnlyHint).toBe(true);
    expect(m.script?.steps[0]?.targets[0]?.endpointClass).toBe("fs.read");
    expect(m.createdAt?.seconds).toBe(BigInt(Date.parse("2026-01-02T03:04:05Z") / 1000));
    expect(m.args).toEqual({ path: "/workspace/a.txt" });
    expect(m.context?.authContext).toEqual({ "wrkr.tool_name": "reader" });
  });

  it("Dates become RFC 3339 strings", () => {
    const j = intentToJson({ tool_name: "t", context: { identity: "a", workspace: "/w", risk_class: "low" }, created_at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) });
    expect(j.created_at).toBe("2026-01-02T03:04:05.000Z");
  });
});

describe("raw intent JSON (intentJson) is checked at run time", () => {
  it("names an unknown key with its path and the closest field", () => {
    expect(checkIntentJson({ tool_nmae: "x" })).toBe('unknown field "tool_nmae" (did you mean "tool_name"?)');
    expect(checkIntentJson({ tool_name: "x", context: { identiy: "a" } })).toBe('unknown field "context.identiy" (did you mean "identity"?)');
    expect(checkIntentJson({ targets: [{ kind: "path", value: "/a" }, { kind: "path", vaule: "/b" }] })).toBe('unknown field "targets[1].vaule" (did you mean "value"?)');
    expect(checkIntentJson({ script: { steps: [{ tool_nam: "x" }] } })).toBe('unknown field "script.steps[0].tool_nam" (did you mean "tool_name"?)');
    expect(checkIntentJson({ zzzzzz: 1 })).toBe('unknown field "zzzzzz"');
    // free-form objects are not checked; camelCase JSON names are the proto's own aliases and accepted
    expect(checkIntentJson({ args: { anything: { at: ["all"] } }, context: { auth_context: { x: 1 } }, toolName: "x" })).toBeUndefined();
    expect(checkIntentJson([])).toBe("intent must be a JSON object");
  });

  it("a misspelt key fails closed before anything is sent, with the suggestion in the decision", async () => {
    const c = new GateClient({ target: "unix:///nonexistent/x.sock", onFailClosed: () => {} });
    try {
      const d = await c.evaluate({ intentJson: '{"tool_nmae":"tool.read","context":{"identity":"a","workspace":"/w","risk_class":"low"}}' });
      expect([d.verdict, d.failClosed, d.reasonCodes]).toEqual(["block", true, ["fail_closed_invalid_argument"]]);
      expect(d.message).toBe('invalid call: intent: unknown field "tool_nmae" (did you mean "tool_name"?)');
      const notJson = await c.evaluate({ intentJson: "{tool_name:" });
      expect(notJson.message).toMatch(/^invalid call: intentJson is not JSON/);
      // a typed intent forced past the compiler (a cast, or plain JS) is checked the same way
      const cast = await c.evaluate({ intent: { tool_name: "x", contxt: {} } as unknown as Intent });
      expect(cast.message).toBe('invalid call: intent: unknown field "contxt" (did you mean "context"?)');
      // a value JSON cannot carry (the types allow any value in args) fails closed too
      const big = await c.evaluate({ intent: { tool_name: "x", args: { n: 1n }, context: { identity: "a", workspace: "/w", risk_class: "low" } } });
      expect([big.reasonCodes, big.message]).toEqual([["fail_closed_invalid_argument"], "invalid call: Do not know how to serialize a BigInt"]);
      expect(c.failClosedCounts()).toEqual({ fail_closed_invalid_argument: 4 });
    } finally {
      c.close();
    }
  });
});

describe("decisions print readably", () => {
  const allow = decisionFromResponse(
    create(gen.EvaluateResponseSchema, { verdict: Verdict.ALLOW, reasonCodes: ["read_ok"], traceId: "0a1b2c", traceSequence: 7n, decisionLatency: { seconds: 0n, nanos: 1000 } }),
  );
  const failed = failClosedDecision("invalid_argument", "context.identity is required", { statusCode: "INVALID_ARGUMENT", errorReason: "INVALID_INTENT" });
  const pending = decisionFromResponse(
    create(gen.EvaluateResponseSchema, { verdict: Verdict.REQUIRE_APPROVAL, reasonCodes: ["write_needs_approval"], violations: ["approval_not_granted"], approvalRequestId: "apr_1", traceId: "ff" }),
  );

  it("String(), console.log and JSON show the decision, never bigints, $typeName or the raw response", () => {
    expect(String(allow)).toBe("allow [read_ok] trace=0a1b2c");
    expect(`${failed}`).toBe("block (fail closed: invalid_argument, INVALID_INTENT) [fail_closed_invalid_argument]: context.identity is required");
    expect(pending.toString()).toBe("require_approval [write_needs_approval] violations=[approval_not_granted] approval_request=apr_1 trace=ff");
    expect(inspect(allow)).toBe("Decision(allow [read_ok] trace=0a1b2c)");
    expect(inspect({ d: allow })).toBe("{ d: Decision(allow [read_ok] trace=0a1b2c) }");
    const json = JSON.stringify(allow);
    expect(JSON.parse(json)).toEqual({
      verdict: "allow", allowed: true, reasonCodes: ["read_ok"], violations: [], failClosed: false,
      approvalRequestId: "", traceId: "0a1b2c", intentDigest: "", policyDigest: "",
    });
    for (const s of [String(allow), inspect(allow), json, inspect(failed), JSON.stringify(failed), inspect(pending)]) {
      expect(s).not.toMatch(/\$typeName|\d+n\b|EvaluateResponse/);
    }
    // the raw answer is still there for whoever asks for it
    expect(allow.response?.traceSequence).toBe(7n);
  });

  it("is immutable, and a fail-closed decision is never allowed", () => {
    expect(Object.isFrozen(allow)).toBe(true);
    expect(() => ((allow as { verdict: string }).verdict = "block")).toThrow(TypeError);
    expect(new Decision({ verdict: "allow", reasonCodes: [], failClosed: true }).allowed).toBe(false);
    expect(new Decision({ verdict: "dry_run", reasonCodes: [] }).allowed).toBe(false);
  });
});

describe("approval helpers take plain values", () => {
  it("seconds become a protobuf Duration; scopes and limits pass through", () => {
    const g = grantRequest("apr_1", { approver: "ops", reasonCode: "ticket_1", ttlSeconds: 90.5, scopes: ["tool:tool.write"], maxTargets: 2 });
    expect(g.target).toEqual({ case: "approvalRequestId", value: "apr_1" });
    expect([g.decision, g.approver, g.reasonCode, g.ttl?.seconds, g.ttl?.nanos, g.scopes, g.maxTargets, g.maxOps]).toEqual([
      gen.ApprovalDecision.GRANT, "ops", "ticket_1", 90n, 500_000_000, ["tool:tool.write"], 2, 0,
    ]);
    const dg = grantRequest({ intentDigest: "a".repeat(64), policyDigest: "b".repeat(64) }, { approver: "ops", reasonCode: "r", ttlSeconds: 60, scopes: ["s"] });
    expect(dg.target.case).toBe("digests");
    const d = denyRequest("apr_2", { approver: "ops", reason: "not today" });
    expect([d.decision, d.reasonCode, d.ttl]).toEqual([gen.ApprovalDecision.DENY, "not today", undefined]);
  });

  it("a bad ttl or limit is invalid_argument before anything is sent", async () => {
    const c = new GateClient({ target: "unix:///nonexistent/x.sock" });
    try {
      for (const ttlSeconds of [0, -5, Number.NaN, Infinity]) {
        const e = await c.approve("apr_1", { approver: "ops", reasonCode: "r", ttlSeconds }).catch((x: unknown) => x);
        expect(isGateError(e) && [e.cause, e.message]).toEqual(["invalid_argument", `ttlSeconds must be a positive number of seconds, got ${ttlSeconds}`]);
      }
      const e = await c.approve("apr_1", { approver: "ops", reasonCode: "r", ttlSeconds: 5, maxOps: 1.5 }).catch((x: unknown) => x);
      expect(isGateError(e) && e.cause).toBe("invalid_argument");
      // a well-formed call does go out, and fails closed on the missing socket
      const u = await c.deny("apr_1", { approver: "ops" }).catch((x: unknown) => x);
      expect(isGateError(u) && u.cause).toBe("unavailable");
    } finally {
      c.close();
    }
  });

  it("answers read as plain values: state names, numbers and Dates", () => {
    const res = create(gen.ApproveResponseSchema, {
      request: { approvalRequestId: "apr_1", state: ApprovalState.GRANTED, requiredApprovals: 1, grantedApprovals: 1, createdAt: { seconds: 1_700_000_000n } },
      tokenJson: "{}",
      tokenId: "tok",
      expiresAt: { seconds: 1_700_000_600n },
    });
    const a = approvalFrom(res);
    expect(a.request?.state).toBe("granted");
    expect(a.request?.createdAt).toEqual(new Date(1_700_000_000_000));
    expect(a.tokenExpiresAt).toEqual(new Date(1_700_000_600_000));
    expect(inspect(a)).not.toMatch(/\$typeName|\d+n\b/);
    // an answer without a request never reads as granted
    expect(approvalStatusFrom(create(gen.GetApprovalResponseSchema, {}), "apr_9").request).toMatchObject({ approvalRequestId: "apr_9", state: "unspecified" });
    expect(approvalFrom(create(gen.ApproveResponseSchema, { request: { state: 42 as ApprovalState } })).request?.state).toBe("unspecified");
  });
});
