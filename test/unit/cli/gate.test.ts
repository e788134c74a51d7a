import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as ed from "@noble/ed25519";
import { beforeAll, describe, expect, it } from "vitest";
import { jcs } from "../../../src/engine/canon.js";
import { POLICY, intent, readJsonFile, run, tempDir, write } from "./helpers.js";

ed.hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash("sha512").update(m).digest());

const PROD = ["--key-mode", "prod", "--private-key", "gait-out/keys/gait_private.key"];

/** A temp dir with the test policy, a prod key pair and a few intents. */
async function setup(): Promise<string> {
  const dir = tempDir();
  write(dir, "p.yaml", POLICY);
  write(dir, "read.json", intent("tool.read", "read"));
  write(dir, "write.json", intent("tool.write", "write", { args: { content: "v1" } }));
  write(dir, "write2.json", intent("tool.write", "write", { args: { content: "v2" } }));
  write(dir, "delete.json", intent("tool.delete", "delete"));
  const k = await run(dir, ["keys", "init"]);
  expect(k.code).toBe(0);
  return dir;
}

describe("gate eval", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await setup();
  });

  it("exit codes follow the verdict: allow 0, require_approval 4, block 3", async () => {
    const cases: [string, string, number][] = [
      ["read.json", "allow", 0],
      ["write.json", "require_approval", 4],
      ["delete.json", "block", 3],
    ];
    for (const [file, verdict, code] of cases) {
      const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", file, ...PROD, "--json"]);
      expect(r.code, file).toBe(code);
      expect(r.json).toMatchObject({ ok: true, profile: "standard", verdict });
      expect(r.json.trace_path).toBe(`trace_${r.json.trace_id}.json`);
      expect(r.json.intent_digest).toMatch(/^[0-9a-f]{64}$/);
      expect(r.json.policy_digest).toMatch(/^[0-9a-f]{64}$/);
      expect(r.json.warnings).toBeUndefined(); // prod key: no dev warning
    }
  });

  it("writes the signed trace 0600, atomically, and trace verify accepts it", async () => {
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", ...PROD, "--json"]);
    const path = join(dir, r.json.trace_path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
    const text = readFileSync(path, "utf8");
    expect(text.endsWith("}\n")).toBe(true);
    expect(text).toContain('\n  "schema_id": "gait.gate.trace"');
    const trace = JSON.parse(text);
    expect(trace).toMatchObject({ trace_id: r.json.trace_id, verdict: "allow", intent_digest: r.json.intent_digest, policy_digest: r.json.policy_digest });
    expect(trace.correlation_id).toMatch(/^[0-9a-f]{24}$/);
    expect(trace.latency_ms).toBeGreaterThan(0);
    expect(trace).not.toHaveProperty("reason_codes");

    const v = await run(dir, ["trace", "verify", r.json.trace_path, "--public-key", "gait-out/keys/gait_public.key", "--json"]);
    expect(v.code).toBe(0);
    expect(v.json).toMatchObject({ ok: true, trace_id: trace.trace_id, verdict: "allow", signature_status: "verified", key_id: trace.signature.key_id });
    const viaPriv = await run(dir, ["trace", "verify", r.json.trace_path, "--private-key", "gait-out/keys/gait_private.key"]);
    expect(viaPriv.code).toBe(0);
    expect(viaPriv.stdout).toContain("trace verify: ok");
    const env = { PUB: readFileSync(join(dir, "gait-out/keys/gait_public.key"), "utf8") };
    expect((await run(dir, ["trace", "verify", r.json.trace_path, "--public-key-env", "PUB"], { env })).code).toBe(0);

    // independent check: @noble/ed25519 over sha256(JCS(trace without signature))
    const { signature, ...signable } = trace;
    const digest = createHash("sha256").update(jcs(signable)).digest();
    expect(digest.toString("hex")).toBe(signature.signed_digest);
    const pub = Buffer.from(readFileSync(join(dir, "gait-out/keys/gait_public.key"), "utf8").trim(), "base64");
    expect(ed.verify(new Uint8Array(Buffer.from(signature.sig, "base64")), new Uint8Array(digest), new Uint8Array(pub))).toBe(true);
  });

  it("trace verify exits 2 for a trace with ANY altered field", async () => {
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "write.json", ...PROD, "--json", "--trace-out", "t/orig.json"]);
    expect(r.code).toBe(4);
    const trace = readJsonFile(dir, "t/orig.json") as Record<string, unknown>;
    const fields = Object.keys(trace).filter((k) => k !== "signature");
    expect(fields).toEqual(expect.arrayContaining(["trace_id", "verdict", "intent_digest", "policy_digest", "created_at", "observed_at", "event_id", "relationship"]));
    for (const field of fields) {
      const altered = JSON.parse(JSON.stringify(trace));
      const v = altered[field];
      // time fields get another valid time: an unparseable one is unreadable input (exit 6, as Gait; parity.test.ts)
      const timeField = field === "created_at" || field === "observed_at";
      altered[field] = timeField ? "2000-01-02T03:04:05Z" : typeof v === "string" ? (field === "verdict" ? "allow" : v + "0") : typeof v === "number" ? v + 1 : typeof v === "boolean" ? !v : { tampered: true };
      writeFileSync(join(dir, "t/altered.json"), JSON.stringify(altered, null, 2));
      const res = await run(dir, ["trace", "verify", "t/altered.json", "--public-key", "gait-out/keys/gait_public.key", "--json"]);
      expect(res.code, `altered ${field}`).toBe(2);
      expect(res.json).toMatchObject({ ok: false, signature_status: "failed", error_code: "verification_failed" });
    }
    // a signature field altered, and no signature at all
    const badSig = JSON.parse(JSON.stringify(trace));
    badSig.signature.sig = Buffer.alloc(64, 7).toString("base64");
    writeFileSync(join(dir, "t/badsig.json"), JSON.stringify(badSig));
    expect((await run(dir, ["trace", "verify", "t/badsig.json", "--public-key", "gait-out/keys/gait_public.key"])).code).toBe(2);
    const { signature: _s, ...unsigned } = trace;
    writeFileSync(join(dir, "t/unsigned.json"), JSON.stringify(unsigned));
    const u = await run(dir, ["trace", "verify", "t/unsigned.json", "--public-key", "gait-out/keys/gait_public.key", "--json"]);
    expect(u.code).toBe(2);
    expect(u.json.error).toBe("trace signature missing");
    // wrong key
    await run(dir, ["keys", "init", "--prefix", "other"]);
    const w = await run(dir, ["trace", "verify", "t/orig.json", "--public-key", "gait-out/keys/other_public.key", "--json"]);
    expect(w.code).toBe(2);
    expect(w.json.error).toBe("key id mismatch");
  });

  it("trace verify: missing key or unreadable trace is exit 6", async () => {
    const r = await run(dir, ["trace", "verify", "whatever.json", "--json"]);
    expect(r.code).toBe(6);
    expect(r.json.error).toBe("public key not configured");
    const m = await run(dir, ["trace", "verify", "missing.json", "--public-key", "gait-out/keys/gait_public.key"]);
    expect(m.code).toBe(6);
    writeFileSync(join(dir, "junk.json"), "{ nope");
    expect((await run(dir, ["trace", "verify", "junk.json", "--public-key", "gait-out/keys/gait_public.key"])).code).toBe(6);
  });

  it("dev key mode warns (stderr, or warnings with --json); the trace cannot be verified with another key", async () => {
    const d = await setup();
    const r = await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json.warnings).toEqual(["dev mode: ephemeral keypair generated; signatures will not verify across machines"]);
    const h = await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json"]);
    expect(h.stderr).toContain("warning: dev mode: ephemeral keypair generated");
    expect(h.stdout).toMatch(/^gate eval: verdict=allow/);
    const v = await run(d, ["trace", "verify", r.json.trace_path, "--public-key", "gait-out/keys/gait_public.key"]);
    expect(v.code).toBe(2);
    // dev mode refuses explicit key sources, prod mode requires one
    expect((await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--private-key", "gait-out/keys/gait_private.key"])).code).toBe(6);
    const noKey = await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--key-mode", "prod", "--json"]);
    expect(noKey.code).toBe(6);
    expect(noKey.json.error).toContain("prod mode requires");
  });

  it("oss-prod requires prod keys", async () => {
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--profile", "oss-prod", "--json"]);
    expect(r.code).toBe(6);
    expect(r.json.error).toContain("oss-prod profile requires --key-mode prod");
  });

  it("refuses a trace path that traverses parent directories, without a verdict", async () => {
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", ...PROD, "--trace-out", "../escape.json", "--json"]);
    expect(r.code).toBe(6);
    expect(r.json).not.toHaveProperty("verdict");
    expect(r.json.error).toContain("must not traverse parent directories");
  });

  it("--simulate reports what would have been blocked", async () => {
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "delete.json", ...PROD, "--simulate", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ verdict: "allow", simulate_mode: true, would_have_blocked: true, simulated_verdict: "block" });
  });

  it("rate limits persist in the default state file and block when exceeded", async () => {
    const d = tempDir();
    write(d, "p.yaml", POLICY.replace("    reason_codes: [read_allowed]\n", "    reason_codes: [read_allowed]\n    rate_limit:\n      requests: 2\n      window: hour\n      scope: tool\n"));
    write(d, "read.json", intent("tool.read", "read"));
    const verdicts: string[] = [];
    for (let i = 0; i < 3; i++) verdicts.push((await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--json"])).json.verdict);
    expect(verdicts).toEqual(["allow", "allow", "block"]);
    expect(existsSync(join(d, ".gait-out/gate_rate_limits.json"))).toBe(true);
    const last = await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--json"]);
    expect(last.code).toBe(3);
    expect(last.json.reason_codes).toContain("rate_limit_exceeded");
    // a corrupt state file fails closed without a verdict
    writeFileSync(join(d, "broken.json"), "{ not json");
    const broken = await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--rate-limit-state", "broken.json", "--json"]);
    expect([1, 6]).toContain(broken.code);
    expect(broken.json.ok).toBe(false);
    expect(broken.json).not.toHaveProperty("verdict");
  });

  it("kill switch state blocks matching intents; a broken file is an input error for low risk", async () => {
    const d = await setup();
    write(d, "ks.json", {
      schema_id: "gait.gate.kill_switch_state",
      schema_version: "1.0.0",
      created_at: "2026-01-01T00:00:00Z",
      updated_at: "2026-01-01T00:00:00Z",
      entries: [{ entry_id: "e1", enabled: true, tool_name: "tool.read", reason: "incident", actor: "ops", created_at: "2026-01-01T00:00:00Z" }],
    });
    const r = await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--kill-switch-state", "ks.json", "--json"]);
    expect(r.code).toBe(3);
    expect(r.json.reason_codes).toContain("kill_switch_active");
    write(d, "bad-ks.json", "{");
    const b = await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--kill-switch-state", "bad-ks.json", "--json"]);
    expect(b.code).toBe(6);
    expect(b.json).not.toHaveProperty("verdict");
  });

  it("the stub broker issues a credential and writes credential evidence", async () => {
    const d = tempDir();
    write(d, "p.yaml", POLICY.replace("    reason_codes: [read_allowed]\n", "    reason_codes: [read_allowed]\n    require_broker_credential: true\n"));
    write(d, "read.json", intent("tool.read", "read"));
    const off = await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--json"]);
    expect(off.code).toBe(3);
    expect(off.json.reason_codes).toContain("broker_credential_required");
    const stub = await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--credential-broker", "stub", "--json"]);
    expect(stub.code).toBe(0);
    expect(stub.json.credential_ref).toMatch(/^stub:/);
    expect(stub.json.credential_evidence_path).toBe(`credential_evidence_${stub.json.trace_id}.json`);
    expect(readJsonFile(d, stub.json.credential_evidence_path)).toMatchObject({ schema_id: "gait.gate.broker_credential_record", credential_ref: stub.json.credential_ref });
    const trace = readJsonFile(d, stub.json.trace_path);
    expect(trace.broker_credential_ref).toBe(stub.json.credential_ref);
    expect((await run(d, ["gate", "eval", "--policy", "p.yaml", "--intent", "read.json", "--credential-broker", "command"])).code).toBe(6);
  });
});

describe("approval round trip", () => {
  it("require_approval -> approve -> allow; changed args and expired tokens do not pass", async () => {
    const dir = await setup();
    const first = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "write.json", ...PROD, "--json"]);
    expect(first.code).toBe(4);
    expect(first.json).toMatchObject({ verdict: "require_approval", required_approvals: 1 });
    expect(first.json.reason_codes).toContain("approval_token_missing");
    expect(first.json.required_approval_scopes).toEqual(["tool:tool.write"]);
    const { intent_digest: intentDigest, policy_digest: policyDigest } = first.json;
    expect(first.json.approval_audit_path).toBe(`approval_audit_${first.json.trace_id}.json`);

    const minted = await run(dir, [
      "approve",
      "--intent-digest", intentDigest,
      "--policy-digest", `sha256:${policyDigest}`,
      "--ttl", "1h",
      "--scope", "tool:tool.write",
      "--approver", "bob",
      "--reason-code", "change_ok",
      ...PROD,
      "--json",
    ]);
    expect(minted.code).toBe(0);
    expect(minted.json).toMatchObject({ ok: true, token_path: `approval_${minted.json.token_id}.json`, scope: ["tool:tool.write"] });
    expect(minted.json.token_id).toMatch(/^[0-9a-f]{24}$/);
    expect(statSync(join(dir, minted.json.token_path)).mode & 0o777).toBe(0o600);
    const token = readJsonFile(dir, minted.json.token_path);
    expect(token).toMatchObject({ schema_id: "gait.gate.approval_token", intent_digest: intentDigest, policy_digest: policyDigest, approver_identity: "bob" });
    expect(token.signature.key_id).toBe(minted.json.key_id);

    const granted = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "write.json", ...PROD, "--approval-token", minted.json.token_path, "--json"]);
    expect(granted.code).toBe(0);
    expect(granted.json).toMatchObject({ verdict: "allow", approval_ref: minted.json.token_id, valid_approvals: 1, required_approvals: 1 });
    expect(granted.json.reason_codes).toContain("approval_granted");
    const audit = readJsonFile(dir, granted.json.approval_audit_path);
    expect(audit).toMatchObject({ schema_id: "gait.gate.approval_audit_record", approved: true, valid_approvals: 1, approvers: ["bob"] });
    const trace = readJsonFile(dir, granted.json.trace_path);
    expect(trace).toMatchObject({ verdict: "allow", approval_token_ref: minted.json.token_id });

    // same token, different args => different intent digest
    const changed = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "write2.json", ...PROD, "--approval-token", minted.json.token_path, "--json"]);
    expect(changed.code).toBe(4);
    expect(changed.json.verdict).toBe("require_approval");
    expect(changed.json.reason_codes).toContain("approval_token_intent_mismatch");

    // a token signed by a key the gate does not trust (dev mode: ephemeral)
    const devTok = await run(dir, ["approve", "--intent-digest", intentDigest, "--policy-digest", policyDigest, "--ttl", "1h", "--scope", "tool:tool.write", "--approver", "eve", "--reason-code", "x", "--out", "dev_token.json", "--json"]);
    expect(devTok.code).toBe(0);
    expect(devTok.json.warnings.join(" ")).toContain("dev mode");
    const untrusted = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "write.json", ...PROD, "--approval-token", "dev_token.json", "--json"]);
    expect(untrusted.code).toBe(4);
    expect(untrusted.json.reason_codes).toContain("approval_token_signature_invalid");

    // expired: mint with a 1 ms ttl, then evaluate with a clock 1 s later
    const mintedAt = new Date();
    const expired = await run(
      dir,
      ["approve", "--intent-digest", intentDigest, "--policy-digest", policyDigest, "--ttl", "1ms", "--scope", "tool:tool.write", "--approver", "bob", "--reason-code", "x", "--out", "expired.json", ...PROD],
      { now: () => mintedAt },
    );
    expect(expired.code).toBe(0);
    const later = new Date(mintedAt.getTime() + 1000);
    const stale = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "write.json", ...PROD, "--approval-token", "expired.json", "--json"], { now: () => later });
    expect(stale.code).toBe(4);
    expect(stale.json.reason_codes).toContain("approval_token_expired");

    // scope must cover the required scope
    const wrongScope = await run(dir, ["approve", "--intent-digest", intentDigest, "--policy-digest", policyDigest, "--ttl", "1h", "--scope", "tool:other", "--approver", "bob", "--reason-code", "x", "--out", "scope.json", ...PROD]);
    expect(wrongScope.code).toBe(0);
    const sc = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "write.json", ...PROD, "--approval-token", "scope.json", "--json"]);
    expect(sc.json.reason_codes).toContain("approval_token_scope_mismatch");

    // an explicit approval public key that did not sign the token
    await run(dir, ["keys", "init", "--prefix", "approver"]);
    const otherKey = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "write.json", ...PROD, "--approval-token", minted.json.token_path, "--approval-public-key", "gait-out/keys/approver_public.key", "--json"]);
    expect(otherKey.code).toBe(4);
  });

  it("approve validates its inputs", async () => {
    const dir = await setup();
    const base = ["approve", "--intent-digest", "a".repeat(64), "--policy-digest", "b".repeat(64), "--scope", "tool:x", "--approver", "bob", "--reason-code", "r"];
    expect((await run(dir, [...base, "--ttl", "0s"])).code).toBe(6);
    expect((await run(dir, [...base, "--ttl", "soon"])).code).toBe(6);
    expect((await run(dir, [...base])).code).toBe(6); // no ttl
    expect((await run(dir, [...base, "--ttl", "1h", "--max-ops", "-1"])).code).toBe(6);
    const badDigest = await run(dir, ["approve", "--intent-digest", "xyz", "--policy-digest", "b".repeat(64), "--ttl", "1h", "--scope", "s", "--approver", "a", "--reason-code", "r", "--json"]);
    expect(badDigest.code).toBe(6);
    expect(badDigest.json.error).toContain("--intent-digest");
    const ok = await run(dir, [...base, "--ttl", "15m", "--max-targets", "2", "--max-ops", "3", ...PROD, "--json"]);
    expect(ok.code).toBe(0);
    expect(readJsonFile(dir, ok.json.token_path)).toMatchObject({ max_targets: 2, max_ops: 3 });
  });
});
