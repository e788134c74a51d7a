/**
 * signTraceRecordWithText: the returned text is the signed record's JSON (its JCS text plus the signature), it
 * verifies on its own like any Gait trace file, and it equals what signTraceRecord returns.
 */
import { describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { jcs } from "../../../src/engine/canon.js";
import { buildTraceRecord, signTraceRecord, signTraceRecordWithText, verifyTraceRecord, type TraceDecision } from "../../../src/engine/trace.js";

const key = Ed25519KeyPair.generate();
const decision = {
  verdict: "block",
  violations: ["b", "a"],
  policy_digest: "b".repeat(64),
  intent: {
    tool_name: "tool.write",
    intent_digest: "a".repeat(64),
    args_digest: "c".repeat(64),
    args: {},
    targets: [],
    context: { identity: "agent ü 😀", workspace: "/w", risk_class: "high", session_id: "s1" },
  },
} as unknown as TraceDecision;

describe("signTraceRecordWithText", () => {
  const record = buildTraceRecord(decision, { observedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), policyId: "gait.gate.policy" });

  it("returns the signed record and its JSON text, which verifies standalone", () => {
    const { record: signed, text } = signTraceRecordWithText(record, key);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(parsed).toEqual(signed);
    expect(verifyTraceRecord(parsed, key)).toMatchObject({ ok: true, key_id: key.keyId });
    const { signature, ...signable } = signed;
    expect(text).toBe(`${jcs(signable).slice(0, -1)},"signature":${JSON.stringify(signature)}}`);
    expect(signature!.signed_digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it("signs exactly like signTraceRecord (Ed25519 is deterministic), also when re-signing a signed record", () => {
    const a = signTraceRecord(record, key);
    const b = signTraceRecordWithText(record, key).record;
    expect(b).toEqual(a);
    const again = signTraceRecordWithText(a, key);
    expect(again.record).toEqual(a);
    expect(JSON.parse(again.text)).toEqual(a);
  });

  it("a changed byte in the text fails verification", () => {
    const { text } = signTraceRecordWithText(record, key);
    const tampered = JSON.parse(text.replace('"verdict":"block"', '"verdict":"allow"')) as Record<string, unknown>;
    expect(verifyTraceRecord(tampered, key).ok).toBe(false);
  });
});
