/**
 * TypeScript client behaviour that the YAML cases do not cover: target rule (and its agreement with the server's),
 * "cannot connect" messages, local input errors, per-call deadline, cancellation, verdict mapping, error-detail
 * decoding and offline verification with a key made here.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import * as ed from "@noble/ed25519";
import canonicalize from "canonicalize";
import { createHash } from "node:crypto";
import {
  DEFAULT_TIMEOUT_MS,
  Decision,
  GateClient,
  Verdict,
  decisionFromResponse,
  defaultSocketPath,
  entryHashOf,
  gen,
  isGateError,
  resolveTarget,
  verifyTraceEntries,
  verifyTraceRecord,
  verifyTraceSegment,
} from "../../clients/typescript/src/index.js";
import { errorReasonFromStatusDetails } from "../../clients/typescript/src/decision.js";
import { ErrorInfoSchema } from "../../clients/typescript/src/gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../clients/typescript/src/gen/google/rpc/status_pb.js";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { parse } from "yaml";
import { HERE, startFake, tempDir, type Fake } from "../conformance/clients/harness.js";
import { resolveSocketPath } from "../../src/infra/socket-path.js";

const CALL = { intent: { tool_name: "tool.read", args: {}, context: { identity: "a", workspace: "/w", risk_class: "low" } } };
const quiet = { onFailClosed: () => {} };

interface SocketRuleCase {
  name: string;
  explicit?: string;
  env: Record<string, string>;
  uid: number;
  cwd: string;
  want: { uri: string; socket_path?: string; source: "explicit" | "env" | "default" };
}
const SOCKET_RULE = parse(readFileSync(join(HERE, "socket-rule.yaml"), "utf8")) as { version: number; cases: SocketRuleCase[] };

describe("target and defaults (test/conformance/clients/socket-rule.yaml, shared with the Python and Go clients)", () => {
  it("the table is there", () => {
    expect(SOCKET_RULE.version).toBe(1);
    expect(SOCKET_RULE.cases.length).toBeGreaterThan(10);
  });

  for (const c of SOCKET_RULE.cases) {
    it(c.name, () => {
      const t = resolveTarget(c.explicit, c.env, c.cwd, c.uid);
      expect(t).toEqual({ uri: c.want.uri, ...(c.want.socket_path !== undefined ? { socketPath: c.want.socket_path } : {}), source: c.want.source });
      if (c.want.source === "default") expect(defaultSocketPath(c.env, c.uid)).toBe(c.want.socket_path);
    });
  }

  it("the client's default is the server's default agent socket (src/infra/socket-path.ts resolveSocketPath)", () => {
    const defaults = SOCKET_RULE.cases.filter((c) => c.want.source === "default");
    expect(defaults.length).toBeGreaterThan(3);
    for (const c of defaults) {
      for (const uid of [c.uid, 0, 65534]) {
        const server = resolveSocketPath("agent", undefined, c.env, uid);
        expect(server.from, c.name).toBe("default");
        expect(defaultSocketPath(c.env, uid), `${c.name} uid=${uid}`).toBe(server.path);
        expect(resolveTarget(undefined, c.env, "/elsewhere", uid).socketPath, c.name).toBe(server.path);
      }
    }
    // and an absolute GAIT_SOCKET is the same socket to both
    const env = { GAIT_SOCKET: "/run/g.sock", XDG_RUNTIME_DIR: "/run/user/1" };
    expect(resolveTarget(undefined, env, "/", 1).socketPath).toBe(resolveSocketPath("agent", undefined, env, 1).path);
  });

  it("without arguments: this process's environment and uid; an empty socket path is refused", () => {
    expect(defaultSocketPath()).toBe(defaultSocketPath(process.env, process.getuid!()));
    expect(() => resolveTarget("unix://", {})).toThrow(/empty socket path/);
    expect(DEFAULT_TIMEOUT_MS).toBe(250);
  });
});

describe("cannot connect: the message names the socket, where it came from and the fix", () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir("gait-tc-");
  });
  afterAll(() => {
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });

  const blockOf = async (target?: string) => {
    const c = new GateClient({ ...(target !== undefined ? { target } : {}), timeoutMs: 5000, ...quiet });
    const d = await c.evaluate(CALL);
    const e = await c.getServerInfo().catch((x: unknown) => x);
    c.close();
    expect([d.verdict, d.failClosed, d.reasonCodes, d.cause, d.statusCode]).toEqual(["block", true, ["fail_closed_unavailable"], "unavailable", "UNAVAILABLE"]);
    expect(isGateError(e) && [e.cause, e.message]).toEqual(["unavailable", d.message]);
    return { d, target: c.target };
  };

  it("explicit target", async () => {
    const sock = join(dir, "explicit.sock");
    const { d } = await blockOf(`unix://${sock}`);
    expect(d.message).toBe(
      `cannot connect to the gate server socket ${sock} (passed as the target argument): ENOENT ` +
        "(is `gait mcp serve` running? start it, or set GAIT_SOCKET or pass the target to name the socket it listens on)",
    );
  });

  it("$GAIT_SOCKET", async () => {
    const sock = join(dir, "env.sock");
    vi.stubEnv("GAIT_SOCKET", sock);
    try {
      const { d, target } = await blockOf();
      expect(target.source).toBe("env");
      expect(d.message).toContain(`cannot connect to the gate server socket ${sock} (from $GAIT_SOCKET): ENOENT`);
      expect(d.message).toMatch(/gait mcp serve/);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("the default rule", async () => {
    vi.stubEnv("GAIT_SOCKET", undefined);
    vi.stubEnv("XDG_RUNTIME_DIR", dir);
    try {
      const { d, target } = await blockOf();
      expect(target).toEqual({ uri: `unix://${join(dir, "gait", "gate.sock")}`, socketPath: join(dir, "gait", "gate.sock"), source: "default" });
      expect(d.message).toContain(
        `cannot connect to the gate server socket ${join(dir, "gait", "gate.sock")} (the default socket: no target argument and GAIT_SOCKET unset): ENOENT`,
      );
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("a TCP address nobody listens on (the transport's own error, same wording)", async () => {
    const { d } = await blockOf("127.0.0.1:1");
    expect(d.message).toMatch(/^cannot connect to the gate server at 127\.0\.0\.1:1 \(passed as the target argument\): .+ \(is `gait mcp serve` running\?/);
  });

  it("a closed client says so instead", async () => {
    const c = new GateClient({ target: `unix://${join(dir, "closed.sock")}`, ...quiet });
    c.close();
    const d = await c.evaluate(CALL);
    expect([d.reasonCodes, d.message]).toEqual([["fail_closed_unavailable"], "the client was closed"]);
  });
});

describe("decisions", () => {
  it("unspecified and unknown verdicts fail closed; dry_run is not allowed", () => {
    const u = decisionFromResponse(create(gen.EvaluateResponseSchema, {}));
    expect([u.verdict, u.failClosed, u.allowed, u.reasonCodes]).toEqual(["block", true, false, ["fail_closed_unspecified_verdict"]]);
    const k = decisionFromResponse(create(gen.EvaluateResponseSchema, { verdict: 42 as Verdict }));
    expect(k.reasonCodes).toEqual(["fail_closed_unknown_verdict"]);
    const d = decisionFromResponse(create(gen.EvaluateResponseSchema, { verdict: Verdict.DRY_RUN }));
    expect([d.verdict, d.allowed, d.failClosed]).toEqual(["dry_run", false, false]);
  });

  it("reads the ErrorInfo reason from grpc-status-details-bin and ignores garbage", () => {
    const info = create(ErrorInfoSchema, { reason: "INVALID_INTENT", domain: "gate.gait.v1" });
    const bin = toBinary(StatusSchema, create(StatusSchema, { code: 3, message: "bad", details: [anyPack(ErrorInfoSchema, info)] }));
    expect(errorReasonFromStatusDetails(bin)).toBe("INVALID_INTENT");
    expect(errorReasonFromStatusDetails(new Uint8Array([0x1a, 0x64, 0x61]))).toBeUndefined();
    expect(errorReasonFromStatusDetails(undefined)).toBeUndefined();
  });

  it("invalid input blocks locally, is counted, and never calls the guarded function", async () => {
    const c = new GateClient({ target: "unix:///nonexistent/x.sock", ...quiet });
    let ran = false;
    const a = await c.guard({ intentJson: { tool_name: "x", bogus_field: 1 } }, () => (ran = true));
    const b = await c.evaluate({} as never);
    const both = await c.evaluate({ intentJson: {}, toolCall: { call: {} } });
    c.close();
    expect(ran).toBe(false);
    for (const d of [a.decision, b, both]) expect(d.reasonCodes).toEqual(["fail_closed_invalid_argument"]);
    expect(a.decision.message).toMatch(/unknown field "bogus_field"/);
    expect(c.failClosedCounts()).toEqual({ fail_closed_invalid_argument: 3 });
  });
});

describe("deadlines and cancellation against a server that never answers", () => {
  let dir: string;
  let fake: Fake;
  beforeAll(async () => {
    dir = tempDir("gait-tu-");
    fake = await startFake("hang", dir);
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("per-call timeoutMs overrides the client default", async () => {
    const c = new GateClient({ target: fake.target, timeoutMs: 5000, ...quiet });
    const d = await c.evaluate(CALL, { timeoutMs: 50 });
    c.close();
    expect([d.cause, d.statusCode]).toEqual(["deadline_exceeded", "DEADLINE_EXCEEDED"]);
  });

  it("aborting the signal cancels the call: block fail_closed_cancelled, tool not run", async () => {
    const c = new GateClient({ target: fake.target, timeoutMs: 0, ...quiet }); // no deadline: only the abort ends it
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    let ran = false;
    const out = await c.guard(CALL, () => (ran = true), { signal: ac.signal });
    const pre = await c.evaluate(CALL, { signal: AbortSignal.abort() });
    c.close();
    expect(ran).toBe(false);
    expect(out.decision.reasonCodes).toEqual(["fail_closed_cancelled"]);
    expect(pre.reasonCodes).toEqual(["fail_closed_cancelled"]);
  });

  it("approval helpers fail closed when the server cannot answer them (GetApproval is UNIMPLEMENTED here)", async () => {
    const c = new GateClient({ target: fake.target, timeoutMs: 50, ...quiet });
    const waiting = new Decision({ verdict: "require_approval", reasonCodes: [], approvalRequestId: "apr_1" });
    const d = await c.evaluateAfterApproval(CALL, waiting, { waitMs: 200, intervalMs: 10 });
    await expect(c.getApproval("apr_1")).rejects.toMatchObject({ name: "GateError", cause: "unimplemented", statusCode: "UNIMPLEMENTED" });
    c.close();
    expect([d.verdict, d.failClosed, d.reasonCodes]).toEqual(["block", true, ["fail_closed_unimplemented"]]);
  });
});

describe("offline verification (pure JS)", () => {
  const seed = new Uint8Array(32).fill(7);
  ed.hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash("sha512").update(m).digest());
  const pub = ed.getPublicKey(seed);
  const kid = createHash("sha256").update(pub).digest("hex");
  const sign = (doc: Record<string, unknown>) => {
    const digest = createHash("sha256").update(canonicalize(doc)!).digest("hex");
    const sig = Buffer.from(ed.sign(Buffer.from(digest, "hex"), seed)).toString("base64");
    return { ...doc, signature: { alg: "ed25519", key_id: kid, sig, signed_digest: digest } };
  };

  it("accepts a good record and names each failure", async () => {
    const rec = sign({ schema_id: "gait.gate.trace", trace_id: "t1", verdict: "allow", latency_ms: 1.5 });
    const ok = await verifyTraceRecord(JSON.stringify(rec), Buffer.from(pub).toString("base64"));
    expect(ok).toMatchObject({ ok: true, keyId: kid, traceId: "t1", verdict: "allow" });
    expect((await verifyTraceRecord({ ...rec, verdict: "block" }, pub)).error).toBe("signed_digest mismatch");
    expect((await verifyTraceRecord({ ...rec, signature: { ...rec.signature, alg: "rsa" } }, pub)).error).toBe("unsupported signature algorithm");
    expect((await verifyTraceRecord({ ...rec, signature: { ...rec.signature, sig: "AAAA" } }, pub)).error).toBe("invalid signature encoding");
    const other = ed.getPublicKey(new Uint8Array(32).fill(9));
    expect((await verifyTraceRecord(rec, other)).error).toBe("key id mismatch");
    expect((await verifyTraceRecord({ ...rec, signature: { ...rec.signature, key_id: "" } }, other)).error).toBe("signature verification failed");
    await expect(verifyTraceRecord(rec, new Uint8Array(5))).rejects.toThrow(/invalid public key/);
  });

  it("checks the hash chain of entries and segments", async () => {
    let prev = "0".repeat(64);
    const entries = [];
    const lines = [JSON.stringify({ checkpoint: sign({ schema_id: "gait.tracelog.checkpoint", schema_version: "1.0.0", kind: "anchor", seq: 0, hash: prev, created_at: "2026-01-01T00:00:00Z", key_id: kid }) })];
    for (let i = 1; i <= 3; i++) {
      const text = JSON.stringify(sign({ schema_id: "gait.gate.trace", trace_id: `t${i}`, verdict: "allow" }));
      const hash = await entryHashOf(prev, i, text);
      entries.push({ sequence: BigInt(i), recordJson: text, prevHash: prev, entryHash: hash });
      lines.push(`{"seq":${i},"prev":"${prev}","hash":"${hash}","record":${text}}`);
      prev = hash;
    }
    lines.push(JSON.stringify({ checkpoint: sign({ schema_id: "gait.tracelog.checkpoint", schema_version: "1.0.0", kind: "close", seq: 3, hash: prev, created_at: "2026-01-01T00:00:01Z", key_id: kid }) }));
    expect(await verifyTraceEntries(entries, pub)).toMatchObject({ ok: true, count: 3, headHash: prev });
    expect((await verifyTraceEntries([entries[0]!, entries[2]!], pub)).error).toMatch(/sequence gap/);
    const text = lines.join("\n") + "\n";
    expect(await verifyTraceSegment(text, pub)).toMatchObject({ ok: true, entries: 3, checkpoints: 2, sealed: true, lastSequence: 3 });
    expect((await verifyTraceSegment(text.slice(0, -1), pub)).error).toMatch(/incomplete/);
    expect((await verifyTraceSegment(lines.slice(1).join("\n") + "\n", pub)).error).toMatch(/anchor/);
    const dropped = [lines[0], lines[1], lines[3]].join("\n") + "\n";
    expect((await verifyTraceSegment(dropped, pub)).error).toMatch(/does not follow/);
    // a running server's active segment: a preallocated zero-filled tail ends the data; anything after a zero fails
    expect(await verifyTraceSegment(text + "\0".repeat(4096), pub)).toMatchObject({ ok: true, entries: 3, sealed: true });
    expect((await verifyTraceSegment(text.slice(0, -40) + "\0".repeat(100), pub)).error).toMatch(/incomplete/);
    expect((await verifyTraceSegment(text + "\0\0" + lines[3] + "\n", pub)).error).toMatch(/non-zero bytes after the zero-filled tail/);
  });
});
