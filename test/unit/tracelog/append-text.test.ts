/**
 * TraceLog.append(record, recordText): the caller's serialization is stored as is (no second JSON.stringify), the
 * chain hash covers exactly those bytes, and a text that would break the JSONL framing is refused.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { buildTraceRecord, signTraceRecordWithText } from "../../../src/engine/trace.js";
import { TraceLog, entryHash, isTraceLogError, verifyLogDir } from "../../../src/tracelog/index.js";
import type { SignedTraceRecord } from "../../../src/tracelog/index.js";
import type { TraceDecision } from "../../../src/engine/trace.js";
import { collect, makeRecord, tempDir } from "./helpers.js";

const key = Ed25519KeyPair.generate();
let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

const decision = {
  verdict: "allow",
  violations: [],
  policy_digest: "b".repeat(64),
  intent: {
    tool_name: "tool.write",
    intent_digest: "a".repeat(64),
    args_digest: "c".repeat(64),
    args: {},
    targets: [],
    context: { identity: "agent-é", workspace: "/w", risk_class: "low", session_id: "s1" },
  },
} as unknown as TraceDecision;

describe("append with the record's text", () => {
  it("stores the signed text as is; it verifies standalone and the chain covers its bytes", async () => {
    const log = await TraceLog.open({ dir, signer: key, checkpointIntervalMs: 0, retentionIntervalMs: 0 });
    const signed = signTraceRecordWithText(buildTraceRecord(decision, { observedAt: new Date(0) }), key);
    expect(JSON.parse(signed.text)).toEqual(signed.record);
    const { seq, hash } = await log.append(signed.record as unknown as SignedTraceRecord, signed.text);
    const [entry] = await collect(log.readFrom(seq));
    expect(entry!.recordText()).toBe(signed.text);
    expect(hash).toBe(entryHash(entry!.prev, seq, signed.text));
    await log.close();
    const report = await verifyLogDir(dir, key);
    expect(report.ok, JSON.stringify(report)).toBe(true);
  });

  it("refuses a text with a line feed or that is not an object, and keeps working", async () => {
    const log = await TraceLog.open({ dir, signer: key, checkpointIntervalMs: 0, retentionIntervalMs: 0 });
    const rec = makeRecord(key, 1);
    for (const bad of [JSON.stringify(rec, null, 2), "[1]", "", `${JSON.stringify(rec)}\n`]) {
      const e = await log.append(rec, bad).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isTraceLogError(e) && e.code).toBe("invalid_record");
    }
    expect((await log.append(rec)).seq).toBe(1);
    await log.close();
  });
});
