import { describe, expect, it } from "vitest";
import { normalizeIntent } from "../../../src/engine/intent.js";
import { parsePolicy } from "../../../src/engine/policy.js";
import { buildTraceRecord, type TraceDecision } from "../../../src/engine/trace.js";
import type { BrokerReceipt } from "../../../src/engine/types.js";

const POLICY_DIGEST = "65819d9cf07c7619aa8aaf2bd4e8d6f8e3f86b139b49a68c535fd14d77a5009f";
const OBSERVED = new Date("2026-03-04T05:06:07Z");
const intent = normalizeIntent({
  tool_name: "tool.demo",
  args: {},
  targets: [],
  context: { identity: "alice", workspace: "/repo/gait", risk_class: "low" },
});

function withReceipt(receipt: BrokerReceipt): TraceDecision {
  return { verdict: "allow", violations: [], intent, policy_digest: POLICY_DIGEST, broker: { receipt, request_digest: "d".repeat(64) } };
}

describe("trace broker_credential_issuer", () => {
  it("is the receipt's issuer when it names one", () => {
    const rec = buildTraceRecord(withReceipt({ credential_ref: "env:X:00", issuer: "vault.example", issued_by: "env" }), { observedAt: OBSERVED });
    expect(rec.broker_credential_issuer).toBe("vault.example");
  });
  it("falls back to issued_by when the receipt's issuer is empty or blank (Gait runGateEval)", () => {
    for (const issuer of [undefined, "", "   "]) {
      const receipt: BrokerReceipt = { credential_ref: "cmd:1", issued_by: "command", ...(issuer === undefined ? {} : { issuer }) };
      expect(buildTraceRecord(withReceipt(receipt), { observedAt: OBSERVED }).broker_credential_issuer).toBe("command");
    }
  });
  it("is omitted when the receipt names neither, and without a broker stage", () => {
    expect(buildTraceRecord(withReceipt({ credential_ref: "cmd:1" }), { observedAt: OBSERVED })).not.toHaveProperty("broker_credential_issuer");
    const none = buildTraceRecord({ verdict: "allow", violations: [], intent, policy_digest: POLICY_DIGEST }, { observedAt: OBSERVED });
    for (const k of ["broker_credential_issuer", "broker_credential_ref", "broker_request_digest"]) expect(none).not.toHaveProperty(k);
  });
  it("other broker fields come from the receipt unchanged", () => {
    const rec = buildTraceRecord(
      withReceipt({ credential_ref: "env:X:00", issued_by: "env", source: "env", access_type: "unknown", target_binding: "t", run_binding: "r", job_binding: "j" }),
      { observedAt: OBSERVED },
    );
    expect(rec).toMatchObject({
      broker_credential_ref: "env:X:00",
      broker_credential_source: "env",
      broker_credential_access_type: "unknown",
      broker_credential_issuer: "env",
      broker_request_digest: "d".repeat(64),
      broker_target_binding: "t",
      broker_run_binding: "r",
      broker_job_binding: "j",
    });
  });
});

describe("trace policy_id / policy_version", () => {
  it("are the policy's schema_id / schema_version, defaulted by the policy parser (Gait EmitSignedTrace)", () => {
    const policy = parsePolicy("default_verdict: block\n");
    expect([policy.schema_id, policy.schema_version]).toEqual(["gait.gate.policy", "1.0.0"]);
    const rec = buildTraceRecord(
      { verdict: "block", violations: [], intent, policy_digest: policy.policy_digest },
      { observedAt: OBSERVED, policyId: policy.schema_id, policyVersion: policy.schema_version },
    );
    expect(rec.policy_id).toBe("gait.gate.policy");
    expect(rec.policy_version).toBe("1.0.0");
    expect(rec.relationship?.policy_ref).toMatchObject({ policy_id: "gait.gate.policy", policy_version: "1.0.0", policy_digest: policy.policy_digest });
  });
});
