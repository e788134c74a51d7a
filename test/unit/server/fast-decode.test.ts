/**
 * src/server/fast-decode.ts against protobuf-es: for generated EvaluateRequests, and for the same bytes mangled
 * (duplicated fields, truncation, flipped bytes, non-finite numbers, bad UTF-8, out-of-range timestamps), the fast
 * decoder returns exactly `toJson(fromBinary(bytes), { useProtoFieldName: true })`, or throws when protobuf-es does.
 */
import { describe, expect, it } from "vitest";
import { create, fromBinary, toBinary, toJson, type JsonObject, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { EvaluateRequestSchema, EvaluateResponseSchema } from "../../../src/gen/gait/gate/v1/gate_service_pb.js";
import { jsonDecoder } from "../../../src/server/fast-decode.js";
import { decodeEvaluateRequest } from "../../../src/server/service.js";

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

function check(bytes: Uint8Array): void {
  const want = reference(bytes);
  if (want.ok) {
    const got = decodeEvaluateRequest(bytes);
    expect(got).toStrictEqual(want.json);
    // member order follows field numbers like protobuf-es (JSON consumers may print it)
    expect(JSON.stringify(got)).toBe(JSON.stringify(want.json));
  } else {
    expect(() => decodeEvaluateRequest(bytes)).toThrow(want.error);
  }
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
  it("covers EvaluateRequest with the fast path, and not messages outside its coverage", () => {
    expect(jsonDecoder(EvaluateRequestSchema).fast).toBe(true);
    expect(jsonDecoder(EvaluateResponseSchema).fast).toBe(false); // enum, uint64, Duration
  });

  it("matches protobuf-es on 1500 generated requests, all on the fast path", () => {
    const rnd = rng(3);
    const { fastOnly } = jsonDecoder(EvaluateRequestSchema);
    for (let i = 0; i < 1500; i++) {
      const bytes = toBinary(EvaluateRequestSchema, create(EvaluateRequestSchema, gen(rnd)));
      check(bytes);
      const fast = fastOnly(bytes);
      expect(fast, `request ${i} fell back`).toBeDefined();
      expect(fast).toStrictEqual(reference(bytes).ok ? (reference(bytes) as { json: JsonValue }).json : undefined);
    }
  });

  it("matches protobuf-es (result or error) on mangled bytes", () => {
    const rnd = rng(5);
    let duplicated = 0;
    let fastDup = 0;
    for (let i = 0; i < 1500; i++) {
      const good = toBinary(EvaluateRequestSchema, create(EvaluateRequestSchema, gen(rnd)));
      if (good.length === 0) continue;
      const r = rnd();
      let bad: Uint8Array;
      if (r < 0.3) {
        bad = good.slice(0, Math.floor(rnd() * good.length)); // truncated
      } else if (r < 0.6) {
        bad = good.slice();
        for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) bad[Math.floor(rnd() * bad.length)] = Math.floor(rnd() * 256); // flipped bytes
      } else {
        bad = new Uint8Array([...good, ...good]); // every field twice: last-wins scalars, merged messages, appended lists
      }
      check(bad);
      if (r >= 0.6) duplicated++;
      if (r >= 0.6 && jsonDecoder(EvaluateRequestSchema).fastOnly(bad) !== undefined) fastDup++;
    }
    // doubled requests whose only singular message is a Struct-free oneof still fall back (merge); most do
    expect(duplicated).toBeGreaterThan(100);
    expect(fastDup).toBeLessThan(duplicated);
  });

  it("hands inputs it does not decode identically to protobuf-es", () => {
    const intent = (extra: MessageInitShape<typeof EvaluateRequestSchema>["input"]) => toBinary(EvaluateRequestSchema, create(EvaluateRequestSchema, { input: extra }));
    // non-finite numbers in a Struct: protobuf-es refuses them in JSON
    check(intent({ case: "intent", value: { toolName: "t", args: { n: Number.NaN } } }));
    check(intent({ case: "intent", value: { toolName: "t", args: { n: Infinity } } }));
    // out-of-range timestamp
    check(intent({ case: "intent", value: { toolName: "t", createdAt: { seconds: 253402300800n } } }));
    check(intent({ case: "intent", value: { toolName: "t", createdAt: { seconds: 1n, nanos: -1 } } }));
    // invalid UTF-8 in a string field (tool_name inside intent): 0x0a (field 1, LEN) 0x02 0xc3 0x28
    check(new Uint8Array([0x0a, 0x04, 0x0a, 0x02, 0xc3, 0x28]));
    // a group wire type and field number 0
    check(new Uint8Array([0x0b, 0x0c]));
    check(new Uint8Array([0x00, 0x01]));
    // a bool varint whose only set bit is past bit 63 (10th byte 0x02): protobuf-es drops it and reads false
    const overflowBool = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02];
    check(new Uint8Array([0x40, ...overflowBool])); // emit_runpack (field 8)
    expect(decodeEvaluateRequest(new Uint8Array([0x40, ...overflowBool]))).toStrictEqual({});
    // Target.destructive (field 8 of Target, in intent.targets field 3) and a Struct bool_value
    check(new Uint8Array([0x0a, 0x0d, 0x1a, 0x0b, 0x40, ...overflowBool]));
    check(new Uint8Array([0x0a, 0x14, 0x12, 0x12, 0x0a, 0x10, 0x0a, 0x01, 0x62, 0x12, 0x0b, 0x20, ...overflowBool]));
    expect(decodeEvaluateRequest(new Uint8Array([0x0a, 0x0d, 0x1a, 0x0b, 0x40, ...overflowBool]))).toStrictEqual({ intent: { targets: [{}] } });
    expect(decodeEvaluateRequest(new Uint8Array([0x0a, 0x14, 0x12, 0x12, 0x0a, 0x10, 0x0a, 0x01, 0x62, 0x12, 0x0b, 0x20, ...overflowBool]))).toStrictEqual({ intent: { args: { b: false } } });
    // over-long tags naming run_id (field 3, LEN) in their low 32 bits: protobuf-es rejects them ("illegal tag")
    check(new Uint8Array([0x9a, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x78])); // 6-byte tag
    check(new Uint8Array([0x9a, 0x80, 0x80, 0x80, 0x10, 0x01, 0x78])); // 5-byte tag over 32 bits
    check(new Uint8Array([0x0a, 0x08, 0x8a, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x74])); // inside intent, naming tool_name
    expect(() => decodeEvaluateRequest(new Uint8Array([0x9a, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x78]))).toThrow(/illegal tag/);
    // a Struct member without a value, and a __proto__ key
    check(intent({ case: "intent", value: { toolName: "t", args: { ["__proto__"]: 1 } as JsonObject } }));
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
