/**
 * src/server/wire-decode.ts: canonical encodings (protobuf-es toBinary of generated EvaluateRequests) decode to exactly
 * `toJson(fromBinary(bytes), { useProtoFieldName: true })`; the encodings on which parsers disagree are refused; the
 * misaligned-skip attack (issue 7, item 1) decodes as the call every standard parser sees. The randomized
 * differential against protobuf-es and Python's protobuf is test/resilience/decode-differential.test.ts.
 */
import { describe, expect, it } from "vitest";
import { create, fromBinary, toBinary, toJson, type JsonObject, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { EvaluateRequestSchema, EvaluateResponseSchema } from "../../../src/gen/gait/gate/v1/gate_service_pb.js";
import { jsonDecoder, strictDecoder, RequestDecodeError } from "../../../src/transport/grpc/wire-decode.js";
import { ApproveRequestSchema } from "../../../src/gen/gait/gate/v1/gate_service_pb.js";
import { encodeWire, varintBytes } from "../../resilience/gen/wire.js";
import { decodeEvaluateRequest } from "../../../src/transport/grpc/handlers.js";

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const STRINGS = ["", "a", "tool.write", "/workspace/app/config.yaml", "é", "😀", "日本語", "\u0000", "x".repeat(300), "__proto__x", "10", "9"];
const NUMBERS = [0, -0, 1, -1, 0.5, 1e21, 5e-324, 2 ** 53 + 2, -123.456];

function reference(bytes: Uint8Array): { ok: true; json: JsonValue } | { ok: false; error: string } {
  try {
    return { ok: true, json: toJson(EvaluateRequestSchema, fromBinary(EvaluateRequestSchema, bytes), { useProtoFieldName: true }) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/** A canonical encoding: decoded exactly as protobuf-es decodes it. */
function same(bytes: Uint8Array): void {
  const want = reference(bytes);
  expect(want.ok).toBe(true);
  const got = decodeEvaluateRequest(bytes);
  expect(got).toStrictEqual((want as { json: JsonValue }).json);
  // member order follows field numbers like protobuf-es (JSON consumers may print it)
  expect(JSON.stringify(got)).toBe(JSON.stringify((want as { json: JsonValue }).json));
}

/** Refused with a RequestDecodeError whose message matches `why`. */
function refused(bytes: Uint8Array, why: RegExp): void {
  expect(() => decodeEvaluateRequest(bytes)).toThrow(RequestDecodeError);
  expect(() => decodeEvaluateRequest(bytes)).toThrow(why);
}

function gen(rnd: () => number): MessageInitShape<typeof EvaluateRequestSchema> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const maybe = <T>(v: () => T): T | undefined => (rnd() < 0.4 ? undefined : v());
  const json = (depth: number): JsonValue => {
    const r = rnd();
    if (depth > 3 || r < 0.3) return pick(STRINGS);
    if (r < 0.45) return pick(NUMBERS);
    if (r < 0.5) return rnd() < 0.5;
    if (r < 0.55) return null;
    if (r < 0.75) return Array.from({ length: Math.floor(rnd() * 4) }, () => json(depth + 1));
    return obj(depth + 1);
  };
  const obj = (depth: number): JsonObject => {
    const o: JsonObject = {};
    for (let i = 0; i < Math.floor(rnd() * 4); i++) o[pick(STRINGS)] = json(depth);
    return o;
  };
  const strs = () => Array.from({ length: Math.floor(rnd() * 3) }, () => pick(STRINGS));
  const ts = () => ({ seconds: pick([0n, 1767225600n, -62135596800n, 253402300799n]), nanos: pick([0, 1, 1000, 1000000, 999999999, 120000000]) });
  const target = () => ({ kind: pick(STRINGS), value: pick(STRINGS), operation: pick(STRINGS), destructive: rnd() < 0.3, readOnlyHint: rnd() < 0.3 });
  const intent = () => ({
    toolName: pick(STRINGS),
    args: maybe(() => obj(0)),
    targets: Array.from({ length: Math.floor(rnd() * 3) }, target),
    argProvenance: Array.from({ length: Math.floor(rnd() * 2) }, () => ({ argPath: pick(STRINGS), source: pick(STRINGS) })),
    skillProvenance: maybe(() => ({ skillName: pick(STRINGS), digest: pick(STRINGS) })),
    delegation: maybe(() => ({
      requesterIdentity: pick(STRINGS),
      tokenRefs: strs(),
      chain: [{ delegatorIdentity: pick(STRINGS), delegateIdentity: pick(STRINGS), issuedAt: maybe(ts) }],
      expiresAt: maybe(ts),
    })),
    context: maybe(() => ({
      identity: pick(STRINGS),
      workspace: pick(STRINGS),
      riskClass: pick(["low", "high", ""]),
      sessionId: pick(STRINGS),
      credentialTtlSeconds: pick([0, 60, -5, 2147483647, -2147483648]),
      credentialScopes: strs(),
      authContext: maybe(() => obj(0)),
      agentIdentity: maybe(() => ({ lifecycleStates: strs(), revoked: rnd() < 0.5, issuedAt: maybe(ts) })),
      sandbox: maybe(() => ({ networkMode: pick(STRINGS), timeoutSeconds: pick([0, 30, -1]), writablePaths: strs() })),
      contextRefs: strs(),
    })),
    script: maybe(() => ({ steps: [{ toolName: pick(STRINGS), args: maybe(() => obj(0)), targets: [target()] }] })),
    createdAt: maybe(ts),
    producerVersion: pick(STRINGS),
    relationship: maybe(() => obj(0)),
    schemaId: pick(["", "gait.gate.intent_request"]),
  });
  const r = rnd();
  const input =
    r < 0.6
      ? { case: "intent" as const, value: intent() }
      : r < 0.8
        ? { case: "toolCall" as const, value: { adapter: pick(["mcp", "openai", ""]), payload: rnd() < 0.5 ? { case: "call" as const, value: obj(0) } : { case: "callJson" as const, value: pick(["", "{}", '{"a":1}']) } } }
        : { case: undefined };
  return {
    input,
    runId: pick(STRINGS),
    sessionId: pick(STRINGS),
    approvalTokens: strs(),
    approvalRequestId: pick(STRINGS),
    delegationTokens: strs(),
    emitRunpack: rnd() < 0.3,
  };
}

describe("jsonDecoder(EvaluateRequest)", () => {
  it("decodes EvaluateRequest in one pass, and other messages through strict validation + protobuf-es", () => {
    expect(jsonDecoder(EvaluateRequestSchema).onePass).toBe(true);
    expect(jsonDecoder(EvaluateResponseSchema).onePass).toBe(false); // enum, uint64, Duration
  });

  it("decodes 1500 canonical requests exactly as protobuf-es", () => {
    const rnd = rng(3);
    for (let i = 0; i < 1500; i++) {
      const init = gen(rnd);
      same(toBinary(EvaluateRequestSchema, create(EvaluateRequestSchema, init)));
    }
  });

  it("issue 7 item 1: an unknown length-delimited field is skipped exactly (no hidden tool_call)", () => {
    const u = (s: string) => Array.from(new TextEncoder().encode(s));
    // what every standard parser reads: intent tool.delete, an unknown field 99, session_id = C (33 ASCII bytes).
    // A reader that skips field 99 one byte short lands on its last byte 0x12 (tool_call, LEN), takes session_id's
    // tag 0x22 as length 34, and finds in C a ToolCall {call_json: {"name":"tool.read"}}: a different call.
    const json = '{"name":"tool.read"}   ';
    const c = [...u("AAAAAAAA"), 0x1a, json.length, ...u(json)];
    expect(c.length).toBe(33);
    const intentBytes = encodeWire([
      { no: 1, wire: 2, body: new TextEncoder().encode("tool.delete") },
      { no: 3, wire: 2, body: [{ no: 1, wire: 2, body: new TextEncoder().encode("path") }, { no: 2, wire: 2, body: new TextEncoder().encode("/repo/x") }, { no: 3, wire: 2, body: new TextEncoder().encode("delete") }] },
    ]);
    const bytes = Uint8Array.from([
      ...varintBytes(1n * 8n + 2n), ...varintBytes(BigInt(intentBytes.length)), ...intentBytes,
      ...varintBytes(99n * 8n + 2n), 3, 0x41, 0x41, 0x12, // unknown field 99: 3 bytes, the last one 0x12
      0x22, c.length, ...c, // session_id (field 4)
    ]);
    const want = reference(bytes);
    expect(want.ok && (want.json as JsonObject).intent).toBeTruthy();
    same(bytes);
    const got = decodeEvaluateRequest(bytes);
    expect(got.intent?.tool_name).toBe("tool.delete");
    expect(got.tool_call).toBeUndefined();
    expect(got.session_id).toBe(String.fromCharCode(...c));
  });

  it("refuses encodings on which parsers disagree or that they reject", () => {
    const u = (s: string) => new TextEncoder().encode(s);
    // a known field with the wrong wire type: protobuf-es reads tool_name (field 1, LEN) sent as a varint as a string
    // of whatever follows; Go and Python keep it as an unknown field
    refused(encodeWire([{ no: 1, wire: 2, body: [{ no: 1, wire: 0, varint: [5] }, { no: 2, wire: 2, body: [] }] }]), /tool_name has wire type 0/);
    refused(encodeWire([{ no: 8, wire: 2, body: u("x") }]), /emit_runpack has wire type 2/);
    // a singular message sent twice (merged by the parsers)
    refused(encodeWire([{ no: 1, wire: 2, body: [{ no: 1, wire: 2, body: u("tool.read") }] }, { no: 1, wire: 2, body: [{ no: 7, wire: 2, body: [] }] }]), /intent appears twice/);
    // but a oneof member replacing another is fine (last wins in every parser)
    same(encodeWire([{ no: 1, wire: 2, body: [{ no: 1, wire: 2, body: u("tool.read") }] }, { no: 2, wire: 2, body: [{ no: 3, wire: 2, body: u("{}") }] }]));
    // an unknown field inside a Struct entry (protobuf-es does not skip it; Go and Python do)
    refused(encodeWire([{ no: 1, wire: 2, body: [{ no: 2, wire: 2, body: [{ no: 1, wire: 2, body: [{ no: 1, wire: 2, body: u("k") }, { no: 3, wire: 0, varint: [1] }, { no: 2, wire: 2, body: [{ no: 4, wire: 0, varint: [1] }] }] }] }] }]), /Struct entry has an unknown/);
    // groups, invalid wire types, field number 0, truncation, over-long and overflowing varints
    refused(Uint8Array.from([0x7b, 0x7c]), /groups/); // an unknown field 15 as a group
    refused(Uint8Array.from([0x0b, 0x0c]), /intent has wire type 3/);
    refused(Uint8Array.from([0x7f]), /invalid wire type 7/); // unknown field 15
    refused(Uint8Array.from([0x00, 0x01]), /field number 0/);
    refused(Uint8Array.from([0x1a, 0x05, 0x61]), /length past the end/);
    refused(Uint8Array.from([0x40, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]), /overflows 64 bits/);
    refused(Uint8Array.from([0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /longer than 10 bytes|overflows/);
    refused(Uint8Array.from([0x9a, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x78]), /tag out of range|overflows|field number/);
    // int32 out of range (credential_ttl_seconds is int32: field 23 of IntentContext, field 7 of IntentRequest)
    refused(encodeWire([{ no: 1, wire: 2, body: [{ no: 7, wire: 2, body: [{ no: 23, wire: 0, varint: varintBytes(2n ** 32n + 5n) }] }] }]), /int32 value out of range/);
    same(encodeWire([{ no: 1, wire: 2, body: [{ no: 7, wire: 2, body: [{ no: 23, wire: 0, varint: varintBytes(-5n) }] }] }]));
    // invalid UTF-8, non-finite numbers, a Value without a kind, out-of-range timestamps
    refused(Uint8Array.from([0x0a, 0x04, 0x0a, 0x02, 0xc3, 0x28]), /UTF-8/);
    const intent = (extra: MessageInitShape<typeof EvaluateRequestSchema>["input"]) => toBinary(EvaluateRequestSchema, create(EvaluateRequestSchema, { input: extra }));
    refused(intent({ case: "intent", value: { toolName: "t", args: { n: Number.NaN } } }), /NaN or infinite/);
    refused(intent({ case: "intent", value: { toolName: "t", args: { n: Infinity } } }), /NaN or infinite/);
    refused(intent({ case: "intent", value: { toolName: "t", createdAt: { seconds: 253402300800n } } }), /Timestamp is outside/);
    refused(intent({ case: "intent", value: { toolName: "t", createdAt: { seconds: 1n, nanos: -1 } } }), /nanos out of range/);
    refused(encodeWire([{ no: 1, wire: 2, body: [{ no: 2, wire: 2, body: [{ no: 1, wire: 2, body: [{ no: 1, wire: 2, body: u("k") }, { no: 2, wire: 2, body: [] }] }] }] }]), /Value has no kind/);
  });

  it("keeps a Struct key named __proto__ as an ordinary member (protobuf-es drops it; Go and Python keep it)", () => {
    const u = (s: string) => new TextEncoder().encode(s);
    const entry = (k: string, v: string) => ({ no: 1, wire: 2 as const, body: [{ no: 1, wire: 2 as const, body: u(k) }, { no: 2, wire: 2 as const, body: [{ no: 3, wire: 2 as const, body: u(v) }] }] });
    const bytes = encodeWire([{ no: 1, wire: 2, body: [{ no: 1, wire: 2, body: u("tool.write") }, { no: 2, wire: 2, body: [entry("path", "/a"), entry("__proto__", "x")] }] }]);
    const got = decodeEvaluateRequest(bytes);
    const args = got.intent!.args as Record<string, unknown>;
    expect(Object.keys(args)).toStrictEqual(["path", "__proto__"]);
    expect(Object.getPrototypeOf(args)).toBe(Object.prototype);
    expect(JSON.stringify(args)).toBe('{"path":"/a","__proto__":"x"}');
    // protobuf-es loses it: this is why the Evaluate decoder does not go through protobuf-es
    expect(Object.keys((reference(bytes) as unknown as { json: { intent: { args: object } } }).json.intent.args)).toStrictEqual(["path"]);
  });

  it("the TypeScript client refuses an intent whose Struct has a key named __proto__ (protobuf-es would drop it), and keeps it in tool-call JSON", async () => {
    const { buildEvaluateRequest } = await import("../../../clients/typescript/src/client.js");
    const { EvaluateRequestSchema: ClientSchema } = await import("../../../clients/typescript/src/gen/gait/gate/v1/gate_service_pb.js");
    const args = JSON.parse('{"path":"/a","nested":{"__proto__":1}}') as JsonObject;
    expect(() => buildEvaluateRequest({ intentJson: { tool_name: "tool.write", args } })).toThrow(/"args.nested.__proto__" cannot be encoded/);
    const msg = buildEvaluateRequest({ toolCall: { adapter: "mcp", call: { name: "tool.write", args } } });
    const got = decodeEvaluateRequest(toBinary(ClientSchema, msg));
    expect(got.tool_call!.call_json).toContain('"__proto__":1');
  });

  it("refuses nesting deeper than the limit", () => {
    let v: unknown = "leaf";
    for (let i = 0; i < 60; i++) v = { a: v };
    const bytes = toBinary(EvaluateRequestSchema, create(EvaluateRequestSchema, { input: { case: "intent", value: { toolName: "t", args: v as JsonObject } } }));
    refused(bytes, /nesting deeper/);
  });

  it("other request messages: validated, then decoded by protobuf-es", () => {
    const strict = strictDecoder(ApproveRequestSchema);
    // approver (field 4, string) sent as a varint: protobuf-es would read garbage
    expect(() => strict(encodeWire([{ no: 4, wire: 0, varint: [7] }]))).toThrow(/approver has wire type 0/);
    const ok = toBinary(ApproveRequestSchema, create(ApproveRequestSchema, { approver: "bob", reasonCode: "ok", ttl: { seconds: 60n } }));
    expect(strict(ok).approver).toBe("bob");
    expect(() => strict(toBinary(ApproveRequestSchema, create(ApproveRequestSchema, { ttl: { seconds: 400000000000n } })))).toThrow(/Duration/);
  });

  it("decodes the benchmark request to Gait's intent JSON", () => {
    const bytes = toBinary(
      EvaluateRequestSchema,
      create(EvaluateRequestSchema, {
        input: {
          case: "intent",
          value: {
            toolName: "tool.write",
            args: { path: "/w/a.yaml", content: "key: value", n: 2, nested: { ok: true, list: [1, "x", null] } },
            targets: [{ kind: "path", value: "/w/a.yaml", operation: "write" }],
            argProvenance: [{ argPath: "content", source: "user" }],
            context: { identity: "agent", workspace: "/w", riskClass: "low", sessionId: "s0" },
            createdAt: { seconds: 1767225600n, nanos: 500000000 },
          },
        },
        approvalTokens: ["{}"],
      }),
    );
    expect(decodeEvaluateRequest(bytes)).toStrictEqual({
      intent: {
        tool_name: "tool.write",
        args: { path: "/w/a.yaml", content: "key: value", n: 2, nested: { ok: true, list: [1, "x", null] } },
        targets: [{ kind: "path", value: "/w/a.yaml", operation: "write" }],
        arg_provenance: [{ arg_path: "content", source: "user" }],
        context: { identity: "agent", workspace: "/w", risk_class: "low", session_id: "s0" },
        created_at: "2026-01-01T00:00:00.500Z",
      },
      approval_tokens: ["{}"],
    });
  });
});
