/**
 * Raw gRPC frames against the real server (issue 7 items 1 and 8): the misaligned-skip attack decides on the call
 * every standard parser sees; malformed or ambiguous bytes answer INVALID_ARGUMENT (never INTERNAL or UNAVAILABLE,
 * never a verdict); and over mutated frames, every verdict the server gives is the verdict of the request as
 * protobuf-es and Python decode it (no allow on an input any reference refuses).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { create, fromBinary, toBinary, toJson, type JsonObject } from "@bufbuild/protobuf";
import { EvaluateRequestSchema, EvaluateResponseSchema, type EvaluateResponse } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { BASE_POLICY, channel, cleanup, errorReason, startServer, type Server } from "../integration/harness.js";
import { encodeWire, requestBytes, varintBytes } from "./gen/wire.js";
import { oracleAvailable, pythonDecode, runs } from "./oracle.js";
import { report } from "./report.js";

let srv: Server;
let raw: grpc.Client;

beforeAll(async () => {
  srv = await startServer({ policy: BASE_POLICY, http: true, extraArgs: ["--max-in-flight", "1024"] });
  raw = channel(srv.socket);
});
afterAll(async () => {
  raw?.close();
  await srv?.stop();
  cleanup(srv.dir);
});

/** Evaluate with raw request bytes. */
function evaluateRaw(bytes: Uint8Array): Promise<EvaluateResponse> {
  return new Promise((resolve, reject) => {
    raw.makeUnaryRequest(
      "/gait.gate.v1.GateService/Evaluate",
      (b: Buffer) => b,
      (b: Buffer) => fromBinary(EvaluateResponseSchema, b),
      Buffer.from(bytes),
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (err, res) => (err ? reject(err) : resolve(res!)),
    );
  });
}

const u = (s: string) => new TextEncoder().encode(s);

describe("raw Evaluate frames", () => {
  it("item 1: the hidden tool_call behind a misaligned skip is not what the gate decides on", async () => {
    const json = '{"name":"tool.read"}   ';
    const c = [...u("AAAAAAAA"), 0x1a, json.length, ...u(json)];
    const intentBytes = encodeWire([
      { no: 1, wire: 2, body: u("tool.delete") },
      { no: 3, wire: 2, body: [{ no: 1, wire: 2, body: u("path") }, { no: 2, wire: 2, body: u("/tmp/x") }, { no: 3, wire: 2, body: u("delete") }] },
      { no: 7, wire: 2, body: [{ no: 1, wire: 2, body: u("agent-1") }, { no: 2, wire: 2, body: u("/work") }, { no: 3, wire: 2, body: u("low") }] },
    ]);
    const bytes = Uint8Array.from([...varintBytes(10n), ...varintBytes(BigInt(intentBytes.length)), ...intentBytes, ...varintBytes(99n * 8n + 2n), 3, 0x41, 0x41, 0x12, 0x22, c.length, ...c]);
    const res = await evaluateRaw(bytes);
    expect(res.toolName).toBe("tool.delete");
    expect(res.verdict).toBe(Verdict.BLOCK);
  });

  it("item 8: malformed and ambiguous requests answer INVALID_ARGUMENT / INVALID_REQUEST", async () => {
    const cases = [
      Uint8Array.from([0x0a, 0x05, 0x0a]), // truncated
      encodeWire([{ no: 1, wire: 2, body: [{ no: 1, wire: 0, varint: [5] }] }]), // tool_name with the wrong wire type
      Uint8Array.from([0x7b, 0x7c]), // a group
      Uint8Array.from([0x40, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]), // varint overflow
      encodeWire([{ no: 1, wire: 2, body: [{ no: 1, wire: 2, body: u("tool.read") }] }, { no: 1, wire: 2, body: [{ no: 1, wire: 2, body: u("tool.read") }] }]), // merged message
    ];
    for (const b of cases) {
      const e = await evaluateRaw(b).then(
        () => undefined,
        (err: grpc.ServiceError) => err,
      );
      expect(e, Buffer.from(b).toString("hex")).toBeDefined();
      expect(e!.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(errorReason(e)).toBe("INVALID_REQUEST");
    }
  });

  it("an error message that quotes client input cut mid-character does not drop the connection (found by make fuzz)", async () => {
    // approval_tokens: ["🀘"]: JSON.parse's message slices the text and leaves a lone surrogate, which grpc-js'
    // encodeURIComponent of the grpc-message header threw on, dropping the connection
    const bytes = Buffer.from("0a380a09746f6f6c2e726561641a140a047061746812062f746d702f781a04726561643a150a076167656e742d3112052f776f726b1a036c6f772a04f09f8098804001", "hex");
    const e = await evaluateRaw(bytes).then(
      () => undefined,
      (err: grpc.ServiceError) => err,
    );
    expect(e?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(errorReason(e)).toBe("INVALID_TOKEN_DOCUMENT");
    const ok = await evaluateRaw(toBinary(EvaluateRequestSchema, create(EvaluateRequestSchema, { input: { case: "intent", value: { toolName: "tool.read", targets: [{ kind: "path", value: "/tmp/x", operation: "read" }], context: { identity: "a", workspace: "/w", riskClass: "low" } } } })));
    expect(ok.verdict).toBe(Verdict.ALLOW);
  });

  it("item 8: over-deep nesting answers INVALID_ARGUMENT, over gRPC and HTTP alike", async () => {
    let v: unknown = "leaf";
    for (let i = 0; i < 80; i++) v = { a: v };
    const bytes = toBinary(EvaluateRequestSchema, create(EvaluateRequestSchema, { input: { case: "intent", value: { toolName: "tool.read", args: v as JsonObject } } }));
    const e = await evaluateRaw(bytes).then(
      () => undefined,
      (err: grpc.ServiceError) => err,
    );
    expect(e?.code).toBe(grpc.status.INVALID_ARGUMENT);
    // over HTTP the body is JSON, whose limit is 1,000 levels: 1,500 levels of args answer 400, not a 5xx
    const deep = '{"a":'.repeat(1500) + '"leaf"' + "}".repeat(1500);
    const res = await fetch(`http://127.0.0.1:${srv.httpPort}/v1/evaluate`, { method: "POST", headers: { "content-type": "application/json" }, body: `{"adapter":"mcp","call":{"name":"tool.read","args":${deep}}}` });
    expect(res.status, await res.text()).toBe(400);
  });

  it.skipIf(!oracleAvailable())("mutated frames: every verdict is the verdict of the request every parser sees; no allow on refused input", async () => {
    const samples = fc.sample(requestBytes(EvaluateRequestSchema, { hostile: true, maxDepth: 6 }), { numRuns: runs(400), seed: 77 });
    // bias towards decisions: half of the inputs are intents for the three tools with hostile extras appended
    const tools = ["tool.read", "tool.write", "tool.delete"];
    const inputs = samples.map((b, i) => {
      if (i % 2) return b;
      const intent = encodeWire([
        { no: 1, wire: 2, body: u(tools[i % 3]!) },
        { no: 3, wire: 2, body: [{ no: 1, wire: 2, body: u("path") }, { no: 2, wire: 2, body: u("/tmp/x") }, { no: 3, wire: 2, body: u(i % 3 ? "write" : "read") }] },
        { no: 7, wire: 2, body: [{ no: 1, wire: 2, body: u("agent-1") }, { no: 2, wire: 2, body: u("/work") }, { no: 3, wire: 2, body: u("low") }] },
      ]);
      return Uint8Array.from([0x0a, ...varintBytes(BigInt(intent.length)), ...intent, ...b]);
    });
    const py = pythonDecode(inputs.map((b) => ["EvaluateRequest", b] as const));
    const counts = { frames: inputs.length, verdicts: 0, allows: 0, invalid_argument: 0, other_errors: 0, allows_on_refused_input: 0, verdict_mismatches: 0 };
    for (let i = 0; i < inputs.length; i++) {
      const b = inputs[i]!;
      let esOk = true;
      let canonical: Uint8Array | undefined;
      try {
        const m = fromBinary(EvaluateRequestSchema, b);
        toJson(EvaluateRequestSchema, m);
        canonical = toBinary(EvaluateRequestSchema, m);
      } catch {
        esOk = false;
      }
      const refusedByReference = !esOk || !py[i]!.ok;
      try {
        const res = await evaluateRaw(b);
        counts.verdicts++;
        if (res.verdict === Verdict.ALLOW) counts.allows++;
        if (refusedByReference && res.verdict === Verdict.ALLOW) counts.allows_on_refused_input++;
        expect(refusedByReference, `${Buffer.from(b).toString("hex")}: a verdict for an input a reference refuses`).toBe(false);
        // the same request re-encoded canonically gets the same decision on the same intent
        const again = await evaluateRaw(canonical!);
        if (again.verdict !== res.verdict || again.intentDigest !== res.intentDigest) counts.verdict_mismatches++;
        expect(again.intentDigest, Buffer.from(b).toString("hex")).toBe(res.intentDigest);
        expect(again.verdict).toBe(res.verdict);
      } catch (e) {
        const err = e as grpc.ServiceError;
        if (err.code === undefined) throw e; // an assertion failure
        if (err.code === grpc.status.INVALID_ARGUMENT) counts.invalid_argument++;
        else counts.other_errors++;
        // input errors only (NOT_FOUND: an approval_request_id that names nothing); never INTERNAL or UNAVAILABLE
        expect([grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND], `${Buffer.from(b).toString("hex")}: ${err.message}`).toContain(err.code);
      }
    }
    report("attack-decode-frames", counts);
    expect(counts.allows_on_refused_input).toBe(0);
    expect(counts.verdicts).toBeGreaterThan(0);
    expect(counts.allows).toBeGreaterThan(0);
  }, 300_000);
});
