/**
 * src/server/fast-encode.ts against protobuf-es: byte-identical output for EvaluateResponse (and the other messages
 * it covers), protobuf-es decodes it back to the same message, and messages outside its coverage get no plan.
 */
import { describe, expect, it } from "vitest";
import { create, equals, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import {
  ApprovalRequestInfoSchema,
  EvaluateRequestSchema,
  EvaluateResponseSchema,
  GetServerInfoResponseSchema,
  ListApprovalsRequestSchema,
} from "../../../src/gen/gait/gate/v1/gate_service_pb.js";
import { Verdict } from "../../../src/gen/gait/gate/v1/verdict_pb.js";
import { fastEncoder } from "../../../src/transport/grpc/fast-encode.js";

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const STRINGS = ["", "a", "allow", "é", "😀 emoji", "\u0000nul", "x".repeat(200), "ü".repeat(70), "lone \ud800 surrogate", "日本語"];

function randomResponse(rnd: () => number): MessageInitShape<typeof EvaluateResponseSchema> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const list = (): string[] => Array.from({ length: Math.floor(rnd() * 4) }, () => pick(STRINGS));
  const maybe = <T>(v: T): T | undefined => (rnd() < 0.3 ? undefined : v);
  return {
    verdict: pick([Verdict.UNSPECIFIED, Verdict.ALLOW, Verdict.BLOCK, Verdict.REQUIRE_APPROVAL, Verdict.DRY_RUN, -1 as Verdict, 77 as Verdict]),
    reasonCodes: maybe(list()),
    violations: list(),
    matchedRule: pick(STRINGS),
    toolName: maybe(pick(STRINGS)),
    intentDigest: "a".repeat(64),
    policyDigest: pick(STRINGS),
    argsDigest: pick(STRINGS),
    requiredApprovals: pick([0, 1, 2, 127, 128, 300, 2 ** 31, 2 ** 32 - 1]),
    validApprovals: pick([0, 1, 16384]),
    requiredApprovalScopes: list(),
    approvalRequestId: pick(STRINGS),
    approvalRef: pick(STRINGS),
    traceId: pick(STRINGS),
    eventId: pick(STRINGS),
    traceSequence: pick([0n, 1n, 127n, 128n, 2n ** 35n, 2n ** 64n - 1n]),
    runId: pick(STRINGS),
    policyId: pick(STRINGS),
    policyVersion: pick(STRINGS),
    runpackPath: pick(STRINGS),
    warnings: list(),
    createdAt: maybe(
      pick([
        create(TimestampSchema, { seconds: 1767225600n, nanos: 123456789 }),
        create(TimestampSchema, {}),
        create(TimestampSchema, { seconds: -62135596800n, nanos: 0 }), // Go's zero time: a negative int64
        { seconds: 315532800n, nanos: 5 },
      ]),
    ),
    decisionLatency: maybe(pick([create(DurationSchema, { seconds: 0n, nanos: 41234 }), { seconds: 3n, nanos: 0 }, { seconds: -2n, nanos: -5 }])),
  };
}

function sameBytes<D extends DescMessage>(schema: D, init: MessageInitShape<D>): void {
  const enc = fastEncoder(schema)!;
  const want = toBinary(schema, create(schema, init));
  const got = enc(init as object);
  expect(Buffer.from(got).toString("hex")).toBe(Buffer.from(want).toString("hex"));
  // and from a message (what handlers may return) as well as from an init object
  expect(Buffer.from(enc(create(schema, init) as object)).toString("hex")).toBe(Buffer.from(want).toString("hex"));
  // protobuf-es reads it back (lone surrogates come back as U+FFFD either way, so compare with its own round trip)
  expect(equals(schema, fromBinary(schema, got), fromBinary(schema, want))).toBe(true);
}

describe("fastEncoder", () => {
  it("has plans for EvaluateResponse and other flat response messages", () => {
    expect(fastEncoder(EvaluateResponseSchema)).toBeTypeOf("function");
    expect(fastEncoder(ApprovalRequestInfoSchema)).toBeTypeOf("function");
    expect(fastEncoder(GetServerInfoResponseSchema)).toBeTypeOf("function");
  });

  it("gives no plan for messages outside its coverage (oneof), so protobuf-es encodes them", () => {
    expect(fastEncoder(EvaluateRequestSchema)).toBeUndefined();
  });

  it("encodes 2000 generated EvaluateResponses byte for byte like protobuf-es", () => {
    const rnd = rng(11);
    for (let i = 0; i < 2000; i++) sameBytes(EvaluateResponseSchema, randomResponse(rnd));
  });

  it("encodes an empty response as zero bytes and a set-but-empty timestamp as a present field", () => {
    expect(fastEncoder(EvaluateResponseSchema)!({}).length).toBe(0);
    sameBytes(EvaluateResponseSchema, { createdAt: {} });
    expect(fromBinary(EvaluateResponseSchema, fastEncoder(EvaluateResponseSchema)!({ createdAt: {} })).createdAt).toBeDefined();
  });

  it("encodes the other covered messages like protobuf-es", () => {
    sameBytes(ApprovalRequestInfoSchema, { approvalRequestId: "apr_1", state: 2, requiredScopes: ["tool:x", "é"], requiredApprovals: 2, createdAt: { seconds: 5n } });
    sameBytes(GetServerInfoResponseSchema, { keyId: "k", traceHeadSequence: 12345678901234n, policyReloadError: "bad ✗" });
    // packed repeated enums are not covered: protobuf-es keeps them
    expect(fastEncoder(ListApprovalsRequestSchema)).toBeUndefined();
  });
});
