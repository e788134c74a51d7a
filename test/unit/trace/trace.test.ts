import { createHash } from "node:crypto";
import * as ed from "@noble/ed25519";
import { describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { digestJCS, jcs, sha256Hex } from "../../../src/engine/canon.js";
import { normalizeIntent } from "../../../src/engine/intent.js";
import {
  buildTraceRecord,
  computeEventId,
  computeTraceId,
  correlationIdFromArgv,
  signTraceRecord,
  verifyTraceRecord,
  type TraceDecision,
  type TraceRecord,
} from "../../../src/engine/trace.js";

ed.hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash("sha512").update(m).digest());

const POLICY_DIGEST = "65819d9cf07c7619aa8aaf2bd4e8d6f8e3f86b139b49a68c535fd14d77a5009f";
const OBSERVED = new Date("2026-03-04T05:06:07.123Z");

function baseIntent(extra: Record<string, unknown> = {}) {
  return normalizeIntent({
    tool_name: "tool.demo",
    args: { x: "y" },
    targets: [],
    context: { identity: "alice", workspace: "/repo/gait", risk_class: "low" },
    ...extra,
  });
}

function decision(extra: Partial<TraceDecision> = {}): TraceDecision {
  return { verdict: "allow", violations: [], intent: baseIntent(), policy_digest: POLICY_DIGEST, ...extra };
}

describe("buildTraceRecord", () => {
  it("derives the ids and the deterministic fields of evidence.md 2.1", () => {
    const rec = buildTraceRecord(decision(), { observedAt: OBSERVED, policyId: "gait.gate.policy", policyVersion: "1.0.0" });
    // golden digests of gate.md 2.5 (the base intent)
    expect(rec.intent_digest).toBe("26d417d6bd17aa59e0c3db111de2e3f851cc08f360bc57a54003dc7c468c71b5");
    expect(rec.args_digest).toBe("0466c472ba1be6a35700b1867dea252bc914e46ebb68522cf0a2e3b9c6e8693e");
    expect(rec.trace_id).toBe(sha256Hex(`${POLICY_DIGEST}:${rec.intent_digest}:allow`).slice(0, 24));
    expect(rec.trace_id).toBe(computeTraceId(POLICY_DIGEST, rec.intent_digest, "allow"));
    expect(rec.observed_at).toBe("2026-03-04T05:06:07.123Z");
    expect(rec.event_id).toBe(computeEventId(rec.trace_id, "2026-03-04T05:06:07.123Z"));
    expect(rec.created_at).toBe("1980-01-01T00:00:00Z"); // intent without created_at
    expect(rec.producer_version).toBe("0.0.0-dev");
    expect(rec.schema_id).toBe("gait.gate.trace");
    expect(rec.schema_version).toBe("1.0.0");
    expect(rec.policy_id).toBe("gait.gate.policy");
    expect(rec).not.toHaveProperty("reason_codes");
    // omitempty: nothing empty is serialized
    for (const k of ["violations", "matched_rule_ids", "latency_ms", "correlation_id", "delegation_ref", "script", "step_count", "approval_token_ref"]) {
      expect(rec).not.toHaveProperty(k);
    }
    expect(JSON.stringify(rec)).not.toMatch(/:""|:\[\]|:null/);
  });

  it("the same decision gets the same trace_id but a different event_id per emission", () => {
    const a = buildTraceRecord(decision(), { observedAt: OBSERVED });
    const b = buildTraceRecord(decision(), { observedAt: new Date(OBSERVED.getTime() + 1) });
    expect(a.trace_id).toBe(b.trace_id);
    expect(a.event_id).not.toBe(b.event_id);
    const blocked = buildTraceRecord(decision({ verdict: "block" }), { observedAt: OBSERVED });
    expect(blocked.trace_id).not.toBe(a.trace_id);
  });

  it("uses the decision created_at, then the intent's", () => {
    const withIntentTime = decision({ intent: baseIntent({ created_at: "2026-01-02T03:04:05.500+01:00" }) });
    expect(buildTraceRecord(withIntentTime, { observedAt: OBSERVED }).created_at).toBe("2026-01-02T02:04:05.5Z");
    const explicit = { ...withIntentTime, created_at: "2026-02-02T00:00:00Z" };
    expect(buildTraceRecord(explicit, { observedAt: OBSERVED }).created_at).toBe("2026-02-02T00:00:00Z");
  });

  it("splits matched rules of step verdicts, sorts violations and fills meta fields", () => {
    const rec = buildTraceRecord(
      decision({
        verdict: "block",
        violations: ["z_v", "a_v", "a_v"],
        step_verdicts: [
          { index: 0, tool_name: "tool.a", verdict: "allow", reason_codes: [], violations: [], matched_rule: "r2,r1" },
          { index: 1, tool_name: "tool.b", verdict: "block", reason_codes: ["x"], violations: ["y"], matched_rule: "r1" },
        ],
        approval_ref: "tok1,tok2",
      }),
      { observedAt: OBSERVED, latencyMs: 1.5, correlationId: "abc", producerVersion: "9.9.9" },
    );
    expect(rec.matched_rule_ids).toEqual(["r1", "r2"]);
    expect(rec.relationship?.policy_ref?.matched_rule_ids).toEqual(["r1", "r2"]);
    expect(rec.violations).toEqual(["a_v", "z_v"]);
    expect(rec.latency_ms).toBe(1.5);
    expect(rec.correlation_id).toBe("abc");
    expect(rec.producer_version).toBe("9.9.9");
    expect(rec.approval_token_ref).toBe("tok1,tok2");
    expect(rec.step_verdicts?.[0]).toEqual({ index: 0, tool_name: "tool.a", verdict: "allow", matched_rule: "r2,r1" });
  });

  it("builds the relationship envelope and the delegation_ref", () => {
    const intent = baseIntent({
      context: { identity: "alice", workspace: "/repo", risk_class: "low", session_id: "s-1" },
      delegation: {
        requester_identity: "alice",
        scope_class: "Write",
        token_refs: ["dtok-1"],
        chain: [{ delegator_identity: "bob", delegate_identity: "alice", scope_class: "write" }],
      },
    });
    const rec = buildTraceRecord(decision({ intent }), { observedAt: OBSERVED, delegationReasonCodes: ["delegation_granted"] });
    expect(rec.relationship?.parent_ref).toEqual({ kind: "session", id: "s-1" });
    expect(rec.relationship?.entity_refs).toEqual([
      { kind: "agent", id: "alice" },
      { kind: "policy", id: POLICY_DIGEST },
      { kind: "tool", id: "tool.demo" },
      { kind: "trace", id: rec.trace_id },
    ]);
    expect(rec.relationship?.agent_chain).toEqual([
      { identity: "alice", role: "delegate" },
      { identity: "bob", role: "delegator" },
      { identity: "alice", role: "requester" },
    ]);
    expect(rec.relationship?.edges?.map((e) => e.kind)).toEqual(["calls", "delegates_to", "governed_by"]);
    expect(rec.delegation_ref).toEqual({
      delegation_token_ref: "dtok-1",
      requester_identity: "alice",
      delegation_depth: 1,
      scope_class: intent.delegation!.scope_class,
      chain_digest: digestJCS(intent.delegation),
      reason_codes: ["delegation_granted"],
    });
  });

  it("refuses to build a trace without a policy digest or intent digest", () => {
    expect(() => buildTraceRecord({ ...decision(), policy_digest: undefined }, { observedAt: OBSERVED })).toThrow(/policy digest/);
    const broken = { ...decision(), intent: { ...baseIntent(), intent_digest: "" } };
    expect(() => buildTraceRecord(broken, { observedAt: OBSERVED })).toThrow(/intent digest/);
  });

  it("correlation id is sha256 over the trimmed argv joined by 0x1F", () => {
    expect(correlationIdFromArgv([" gate", "eval "])).toBe(sha256Hex("gate\x1feval").slice(0, 24));
  });
});

describe("signTraceRecord / verifyTraceRecord", () => {
  const key = Ed25519KeyPair.generate();
  const other = Ed25519KeyPair.generate();
  const signed = signTraceRecord(
    buildTraceRecord(
      decision({
        verdict: "require_approval",
        violations: ["approval_not_granted"],
        intent: baseIntent({ context: { identity: "alice", workspace: "/repo", risk_class: "high", session_id: "s" } }),
      }),
      { observedAt: OBSERVED, latencyMs: 2.25, policyId: "gait.gate.policy", policyVersion: "1.0.0", correlationId: "c0ffee" },
    ),
    key,
  );

  it("signs sha256(JCS(record without signature)) with the key's id", () => {
    const { signature, ...signable } = signed;
    expect(signature?.alg).toBe("ed25519");
    expect(signature?.key_id).toBe(key.keyId);
    expect(signature?.signed_digest).toBe(sha256Hex(jcs(signable)));
    expect(verifyTraceRecord(JSON.parse(JSON.stringify(signed)), key.verifier())).toMatchObject({ ok: true, trace_id: signed.trace_id, key_id: key.keyId });
  });

  it("an independent Ed25519 implementation (@noble/ed25519) accepts the signature", () => {
    const { signature, ...signable } = signed;
    const digest = createHash("sha256").update(jcs(signable)).digest();
    const sig = Buffer.from(signature!.sig, "base64");
    expect(ed.verify(new Uint8Array(sig), new Uint8Array(digest), key.publicKey)).toBe(true);
    expect(ed.verify(new Uint8Array(sig), new Uint8Array(digest), other.publicKey)).toBe(false);
  });

  it("fails for ANY altered, removed or added field", () => {
    const doc = JSON.parse(JSON.stringify(signed)) as Record<string, unknown>;
    const fields = Object.keys(doc).filter((k) => k !== "signature");
    expect(fields.length).toBeGreaterThan(12);
    for (const field of fields) {
      const altered = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
      const v = altered[field];
      altered[field] = typeof v === "string" ? v + "x" : typeof v === "number" ? v + 1 : typeof v === "boolean" ? !v : { changed: true };
      const res = verifyTraceRecord(altered, key.verifier());
      expect(res.ok, `altered ${field}`).toBe(false);
      const removed = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
      delete removed[field];
      expect(verifyTraceRecord(removed, key.verifier()).ok, `removed ${field}`).toBe(false);
    }
    expect(verifyTraceRecord({ ...doc, extra_field: 1 }, key.verifier()).ok).toBe(false);
  });

  it("reports Gait's reasons for broken signatures", () => {
    const doc = JSON.parse(JSON.stringify(signed)) as TraceRecord;
    expect(verifyTraceRecord({ ...doc, verdict: "allow" }, key.verifier()).error).toBe("signed_digest mismatch");
    expect(verifyTraceRecord(doc, other.verifier()).error).toBe("key id mismatch");
    const { signature: _s, ...unsigned } = doc;
    expect(verifyTraceRecord(unsigned, key.verifier()).error).toBe("trace signature missing");
    const badSig = { ...doc, signature: { ...doc.signature!, sig: Buffer.alloc(64, 1).toString("base64") } };
    expect(verifyTraceRecord(badSig, key.verifier()).error).toBe("signature verification failed");
    const noDigest = { ...doc, signature: { ...doc.signature!, signed_digest: "" } };
    expect(verifyTraceRecord(noDigest, key.verifier()).error).toBe("missing signed_digest");
    const wrongAlg = { ...doc, signature: { ...doc.signature!, alg: "rsa" } };
    expect(verifyTraceRecord(wrongAlg, key.verifier()).ok).toBe(false);
    expect(verifyTraceRecord({ ...doc, schema_id: "other" }, key.verifier()).error).toMatch(/not a gait.gate.trace/);
    expect(verifyTraceRecord([1], key.verifier()).ok).toBe(false);
    expect(verifyTraceRecord(null, key.verifier()).ok).toBe(false);
    expect(verifyTraceRecord({ ...doc, signature: { sig: 5 } }, key.verifier()).ok).toBe(false);
  });
});

describe("Go struct serialization of sub-decisions", () => {
  it("kill switch and freeze window keep their time fields (zero time when unset) and drop empty values", () => {
    const rec = buildTraceRecord(
      decision({
        verdict: "block",
        kill_switch: { status: "active", reason_codes: ["kill_switch_active"], matched_entry_ids: [] },
        freeze_window: { status: "active", effect: "block", evaluated_at: "2026-01-01T01:00:00+01:00", reason: "" },
        sandbox: { status: "valid", reason_codes: [] },
      }),
      { observedAt: OBSERVED },
    );
    expect(rec.kill_switch).toEqual({ status: "active", reason_codes: ["kill_switch_active"], evaluated_at: "0001-01-01T00:00:00Z" });
    expect(rec.freeze_window).toEqual({
      status: "active",
      effect: "block",
      evaluated_at: "2026-01-01T00:00:00Z",
      window_start: "0001-01-01T00:00:00Z",
      window_end: "0001-01-01T00:00:00Z",
    });
    expect(rec.sandbox).toEqual({ status: "valid" });
  });
});
