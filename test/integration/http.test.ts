/**
 * Gait's HTTP JSON surface (evidence.md §5) on the real server: the request from §5.3 returns Gait's response
 * fields; SSE / NDJSON framing; the error mapping of §5.5; strict verdict statuses; bearer auth; and /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_POLICY, cleanup, startServer, type Server } from "./harness.js";

const POLICY = BASE_POLICY.replace("tool_names: [tool.read]", "tool_names: [tool.read, tool.search]");

async function post(port: number, path: string, body: string | Uint8Array, headers: Record<string, string> = { "content-type": "application/json" }) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", body, headers });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

const GAIT_REQUEST = {
  adapter: "openai",
  call: { function: { name: "tool.search", arguments: '{"q":"quarterly report"}' } },
  run_id: "run_x",
  session_id: "sess-1",
};

let s: Server;
let strict: Server;
beforeAll(async () => {
  s = await startServer({ policy: POLICY, http: true, metrics: true, extraArgs: ["--max-request-bytes", "4096"] });
  strict = await startServer({
    policy: POLICY,
    http: true,
    extraArgs: ["--http-verdict-status", "strict", "--auth-mode", "token", "--auth-token-env", "GATE_TOKEN"],
    env: { GATE_TOKEN: "s3cret-token" },
  });
});
afterAll(async () => {
  for (const x of [s, strict]) {
    await x?.stop();
    if (x) cleanup(x.dir);
  }
});

describe("POST /v1/evaluate", () => {
  it("answers Gait's request with Gait's response fields", async () => {
    const r = await post(s.httpPort!, "/v1/evaluate", JSON.stringify(GAIT_REQUEST));
    expect(r.status).toBe(200);
    const b = JSON.parse(r.text) as Record<string, unknown>;
    for (const k of ["ok", "executed", "adapter", "run_id", "phase", "session_id", "tool_name", "verdict", "reason_codes",
      "policy_digest", "policy_id", "policy_version", "intent_digest", "trace_id", "trace_path", "exit_code"]) {
      expect(b, k).toHaveProperty(k);
    }
    // Gait's mcpProxyOutput fields are omitempty: no job id, no violations and (not a script) no matched rule ids
    // here, so no keys (issue 9 #17)
    for (const k of ["job_id", "violations", "matched_rule_ids", "runpack_path"]) expect(b, k).not.toHaveProperty(k);
    expect(b).toMatchObject({ ok: true, executed: false, adapter: "openai", run_id: "run_x", session_id: "sess-1", tool_name: "tool.search", verdict: "allow", exit_code: 0, policy_id: "gait.gate.policy" });
    expect(b.intent_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(b.trace_id).toMatch(/^[0-9a-f]{24}$/);
    expect(b.warnings).toEqual(expect.arrayContaining([expect.stringContaining("fallback")]));
    // the decision is in the trace log like any gRPC decision
    const seq = BigInt(b.trace_sequence as number);
    for await (const e of s.gate.exportTraces({ fromSequence: seq, maxEntries: 1n })) expect(e.traceId).toBe(b.trace_id);
  });

  it("maps verdicts to exit codes and keeps status 200 in compat mode", async () => {
    const block = JSON.parse((await post(s.httpPort!, "/v1/evaluate", JSON.stringify({ call: { name: "tool.delete", args: {} } }))).text);
    expect(block).toMatchObject({ verdict: "block", exit_code: 3 });
    const ra = await post(s.httpPort!, "/v1/evaluate", JSON.stringify({ call: { name: "tool.write", args: { p: 1 } } }));
    expect(ra.status).toBe(200);
    expect(JSON.parse(ra.text)).toMatchObject({ verdict: "require_approval", exit_code: 4 });
    expect(JSON.parse(ra.text).approval_request_id).toMatch(/^apr_/);
  });

  it("frames /v1/evaluate/sse as one event and /v1/evaluate/stream as one NDJSON line", async () => {
    const sse = await post(s.httpPort!, "/v1/evaluate/sse", JSON.stringify(GAIT_REQUEST));
    expect(sse.headers.get("content-type")).toBe("text/event-stream");
    expect(sse.headers.get("cache-control")).toBe("no-cache");
    expect(sse.text.startsWith("event: evaluate\ndata: ")).toBe(true);
    expect(sse.text.endsWith("\n\n")).toBe(true);
    expect(JSON.parse(sse.text.slice("event: evaluate\ndata: ".length)).verdict).toBe("allow");
    const nd = await post(s.httpPort!, "/v1/evaluate/stream", JSON.stringify(GAIT_REQUEST));
    expect(nd.headers.get("content-type")).toBe("application/x-ndjson");
    const lines = nd.text.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).verdict).toBe("allow");
  });

  it("maps errors like Gait: 405, 415, 413, 400 (unknown field, trailing data, empty call, decode errors), 404", async () => {
    const get = await fetch(`http://127.0.0.1:${s.httpPort}/v1/evaluate`);
    expect(get.status).toBe(405);
    expect(await get.json()).toEqual({ ok: false, error: "expected POST" });
    expect((await post(s.httpPort!, "/v1/evaluate", "{}", { "content-type": "text/plain" })).status).toBe(415);
    expect((await post(s.httpPort!, "/v1/evaluate", JSON.stringify(GAIT_REQUEST), { "content-type": "application/json; charset=utf-8" })).status).toBe(200);
    // no content type at all is allowed (a byte body makes fetch send none)
    expect((await post(s.httpPort!, "/v1/evaluate", new TextEncoder().encode(JSON.stringify(GAIT_REQUEST)), {})).status).toBe(200);
    const big = await post(s.httpPort!, "/v1/evaluate", JSON.stringify({ call: { name: "tool.read", args: { pad: "x".repeat(5000) } } }));
    expect(big.status).toBe(413);
    expect(JSON.parse(big.text).error).toBe("request body exceeds max-request-bytes");
    const unknown = await post(s.httpPort!, "/v1/evaluate", JSON.stringify({ ...GAIT_REQUEST, bogus: 1 }));
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text).error).toContain('unknown field "bogus"');
    expect((await post(s.httpPort!, "/v1/evaluate", JSON.stringify(GAIT_REQUEST) + " {}")).status).toBe(400);
    expect(JSON.parse((await post(s.httpPort!, "/v1/evaluate", JSON.stringify({ call: {} }))).text).ok).toBe(false);
    const badAdapter = await post(s.httpPort!, "/v1/evaluate", JSON.stringify({ adapter: "nope", call: { name: "x" } }));
    expect(badAdapter.status).toBe(400);
    expect(JSON.parse(badAdapter.text)).toMatchObject({ ok: false, error_reason: "UNSUPPORTED_ADAPTER" });
    expect((await post(s.httpPort!, "/v1/evaluate", JSON.stringify({ ...GAIT_REQUEST, trace_path: "/tmp/x.json" }))).status).toBe(400);
    // R12: emit_runpack on a server without --runpack-dir is refused (Gait answers 200 and writes no runpack)
    const noDir = await post(s.httpPort!, "/v1/evaluate", JSON.stringify({ ...GAIT_REQUEST, emit_runpack: true }));
    expect(noDir.status).toBe(400);
    expect(JSON.parse(noDir.text)).toMatchObject({ ok: false });
    expect((await fetch(`http://127.0.0.1:${s.httpPort}/nope`)).status).toBe(404);
  });

  it("serves /healthz like Gait (plus the policy digest)", async () => {
    const h = await fetch(`http://127.0.0.1:${s.httpPort}/healthz`);
    expect(h.status).toBe(200);
    const b = (await h.json()) as Record<string, unknown>;
    expect(b).toMatchObject({ ok: true, service: "gait.mcp.serve" });
    expect(b.policy_digest).toBe((await s.gate.getServerInfo({})).policyDigest);
    expect((await post(s.httpPort!, "/healthz", "")).status).toBe(405);
  });
});

describe("strict verdict status and bearer auth", () => {
  const auth = { "content-type": "application/json", authorization: "Bearer s3cret-token" };
  it("refuses missing and wrong tokens with 401", async () => {
    const none = await post(strict.httpPort!, "/v1/evaluate", JSON.stringify(GAIT_REQUEST));
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).error).toBe("missing bearer authorization");
    const wrong = await post(strict.httpPort!, "/v1/evaluate", JSON.stringify(GAIT_REQUEST), { ...auth, authorization: "Bearer nope" });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text).error).toBe("invalid bearer authorization");
    // R12: the auth scheme is case-insensitive (RFC 7235 §2.1); Gait answers 401 to "bearer"
    const lower = await post(strict.httpPort!, "/v1/evaluate", JSON.stringify(GAIT_REQUEST), { ...auth, authorization: "bearer s3cret-token" });
    expect(lower.status).toBe(200);
  });
  it("maps block to 403 and require_approval to 409 with the full body", async () => {
    expect((await post(strict.httpPort!, "/v1/evaluate", JSON.stringify(GAIT_REQUEST), auth)).status).toBe(200);
    const b = await post(strict.httpPort!, "/v1/evaluate", JSON.stringify({ call: { name: "tool.delete" } }), auth);
    expect(b.status).toBe(403);
    expect(JSON.parse(b.text).verdict).toBe("block");
    const a = await post(strict.httpPort!, "/v1/evaluate", JSON.stringify({ call: { name: "tool.write" } }), auth);
    expect(a.status).toBe(409);
    expect(JSON.parse(a.text).verdict).toBe("require_approval");
  });
  it("requires the token on gRPC too (UNAUTHENTICATED without it)", async () => {
    const grpc = await import("@grpc/grpc-js");
    const { rejects, errorReason } = await import("./harness.js");
    const e = await rejects(strict.gate.getServerInfo({}));
    expect(e.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(errorReason(e)).toBe("UNAUTHENTICATED");
    const md = new grpc.Metadata();
    md.set("authorization", "Bearer s3cret-token");
    expect((await strict.gate.getServerInfo({}, { metadata: md })).keyId).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("/metrics", () => {
  it("exposes decisions by verdict, latency, trace fsync latency and fail-closed errors", async () => {
    const text = await (await fetch(`http://127.0.0.1:${s.metricsPort}/metrics`)).text();
    expect(text).toMatch(/gait_gate_decisions_total\{verdict="allow",transport="http"\} [1-9]/);
    expect(text).toContain("gait_gate_decision_duration_seconds_bucket");
    expect(text).toMatch(/gait_gate_trace_fsync_duration_seconds_count [1-9]/);
    expect(text).toMatch(/gait_gate_fail_closed_errors_total\{reason="UNSUPPORTED_ADAPTER"\} 1/);
  });
});
