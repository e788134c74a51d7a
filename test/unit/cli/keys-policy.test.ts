import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/crypto/keys.js";
import { parsePolicy } from "../../../src/engine/policy.js";
import { POLICY, SPAWNED, intent, run, tempDir, write } from "./helpers.js";

describe("keys", () => {
  it("init writes a 0600 key pair in Gait's format and refuses to overwrite without --force", async () => {
    const dir = tempDir();
    const r = await run(dir, ["keys", "init", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, prefix: "gait", public_key_path: "gait-out/keys/gait_public.key", private_key_path: "gait-out/keys/gait_private.key" });
    const privText = readFileSync(join(dir, "gait-out/keys/gait_private.key"), "utf8");
    const pubText = readFileSync(join(dir, "gait-out/keys/gait_public.key"), "utf8");
    expect(Buffer.from(privText.trim(), "base64")).toHaveLength(64);
    expect(Buffer.from(pubText.trim(), "base64")).toHaveLength(32);
    expect(privText.endsWith("\n")).toBe(true);
    expect(Ed25519KeyPair.fromPrivateKeyText(privText).keyId).toBe(r.json.key_id);
    expect(statSync(join(dir, "gait-out/keys/gait_private.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "gait-out/keys/gait_public.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "gait-out/keys")).mode & 0o777).toBe(0o750);

    const again = await run(dir, ["keys", "init", "--json"]);
    expect(again.code).toBe(6);
    expect(again.json.error).toContain("refusing to overwrite existing key file");
    expect(readFileSync(join(dir, "gait-out/keys/gait_private.key"), "utf8")).toBe(privText);
    const forced = await run(dir, ["keys", "init", "--force", "--json"]);
    expect(forced.code).toBe(0);
    expect(forced.json.key_id).not.toBe(r.json.key_id);

    const custom = await run(dir, ["keys", "init", "--out-dir", "k", "--prefix", "ops"]);
    expect(custom.code).toBe(0);
    expect(custom.stdout).toContain("k/ops_private.key");
    expect((await run(dir, ["keys", "init", "--prefix", "../evil"])).code).toBe(6);
  });

  it("rotate writes a new pair named by the UTC second and keeps the old one", async () => {
    const dir = tempDir();
    await run(dir, ["keys", "init"]);
    const stamp = (d: Date) => d.toISOString().slice(0, 19).replace(/[-:]/g, "") + "Z";
    const before = stamp(new Date());
    const r = await run(dir, ["keys", "rotate", "--json"]);
    const after = stamp(new Date());
    expect(r.code).toBe(0);
    const ts = /^gait_(\d{8}T\d{6}Z)$/.exec(r.json.prefix)?.[1];
    expect(ts && ts >= before && ts <= after, `${r.json.prefix} within ${before}..${after}`).toBe(true);
    expect(existsSync(join(dir, `gait-out/keys/${r.json.prefix}_private.key`))).toBe(true);
    expect(existsSync(join(dir, `gait-out/keys/${r.json.prefix}_public.key`))).toBe(true);
    expect(existsSync(join(dir, "gait-out/keys/gait_private.key"))).toBe(true);
  });

  // needs a clock set to a fixed past instant, so in-process only (a spawned CLI reads the real clock)
  it.skipIf(SPAWNED)("rotate refuses to overwrite a pair of the same second", async () => {
    const dir = tempDir();
    await run(dir, ["keys", "init"]);
    const now = () => new Date("2026-05-06T07:08:09.123Z");
    const r = await run(dir, ["keys", "rotate", "--json"], { now });
    expect(r.code).toBe(0);
    expect(r.json.prefix).toBe("gait_20260506T070809Z");
    expect(existsSync(join(dir, "gait-out/keys/gait_20260506T070809Z_private.key"))).toBe(true);
    expect(existsSync(join(dir, "gait-out/keys/gait_private.key"))).toBe(true);
    const clash = await run(dir, ["keys", "rotate"], { now });
    expect(clash.code).toBe(6);
  });

  it("verify checks that the pair matches (exit 2 when it does not)", async () => {
    const dir = tempDir();
    await run(dir, ["keys", "init", "--prefix", "a"]);
    await run(dir, ["keys", "init", "--prefix", "b"]);
    const ok = await run(dir, ["keys", "verify", "--private-key", "gait-out/keys/a_private.key", "--public-key", "gait-out/keys/a_public.key", "--json"]);
    expect(ok.code).toBe(0);
    expect(ok.json).toMatchObject({ ok: true, private_key_source: "path:gait-out/keys/a_private.key", public_key_source: "path:gait-out/keys/a_public.key" });
    const mismatch = await run(dir, ["keys", "verify", "--private-key", "gait-out/keys/a_private.key", "--public-key", "gait-out/keys/b_public.key", "--json"]);
    expect(mismatch.code).toBe(2);
    expect(mismatch.json).toMatchObject({ ok: false, error: "public key does not match private key", error_category: "verification_failed" });

    const env = { GAIT_KEY: readFileSync(join(dir, "gait-out/keys/a_private.key"), "utf8") };
    const viaEnv = await run(dir, ["keys", "verify", "--private-key-env", "GAIT_KEY", "--json"], { env });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.json.key_id).toBe(ok.json.key_id);
    expect((await run(dir, ["keys", "verify"])).code).toBe(6);
    expect((await run(dir, ["keys", "verify", "--private-key-env", "UNSET_VAR"])).code).toBe(6);
    writeFileSync(join(dir, "short.key"), "AAAA\n");
    const bad = await run(dir, ["keys", "verify", "--private-key", "short.key"]);
    expect(bad.code).toBe(6);
    expect(bad.stderr).toContain("invalid private key length");
    const both = await run(dir, ["keys", "verify", "--private-key", "short.key", "--private-key-env", "GAIT_KEY"], { env });
    expect(both.code).toBe(6);
  });
});

describe("policy", () => {
  it("validate prints the digest and summary", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    const r = await run(dir, ["policy", "validate", "p.yaml", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, schema_id: "gait.gate.policy", schema_version: "1.0.0", default_verdict: "require_approval", rule_count: 3 });
    expect(r.json.policy_digest).toBe(parsePolicy(POLICY).policy_digest);
    expect(r.json.summary.rules.map((x: { name: string }) => x.name)).toEqual(["block-delete", "allow-read", "approve-write"]);
    const human = await run(dir, ["policy", "validate", "p.yaml"]);
    expect(human.stdout).toContain(`policy_digest: sha256:${r.json.policy_digest}`);
  });

  it("digest prints the pin for release metadata; comments and layout do not change it; the pin is enforced", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    const want = parsePolicy(POLICY).policy_digest;
    const human = await run(dir, ["policy", "digest", "p.yaml"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toBe(`sha256:${want}\n`);
    const j = await run(dir, ["policy", "digest", "p.yaml", "--json"]);
    expect(j.code).toBe(0);
    expect(j.json).toMatchObject({ ok: true, policy_path: "p.yaml", policy_digest: want, schema_id: "gait.gate.policy", schema_version: "1.0.0" });
    // the digest is over the normalized policy: a comment and re-indentation keep it, a changed rule does not
    write(dir, "same.yaml", "# release 2026-12\n" + POLICY.replace(/^  /gm, "    "));
    expect((await run(dir, ["policy", "digest", "same.yaml"])).stdout).toBe(human.stdout);
    write(dir, "changed.yaml", POLICY.replace("priority: 20", "priority: 25"));
    const changed = await run(dir, ["policy", "digest", "changed.yaml"]);
    expect(changed.code).toBe(0);
    expect(changed.stdout).not.toBe(human.stdout);
    // the printed line is what --policy-digest takes
    write(dir, "i.json", intent("tool.read", "read"));
    const pin = human.stdout.trim();
    expect((await run(dir, ["policy", "test", "p.yaml", "i.json", "--policy-digest", pin])).code).toBe(0);
    expect((await run(dir, ["policy", "test", "changed.yaml", "i.json", "--policy-digest", pin])).code).toBe(6);
    // an invalid or missing policy is an input error with no digest
    write(dir, "bad.yaml", "rules: [{name: x, effect: maybe}]\n");
    const bad = await run(dir, ["policy", "digest", "bad.yaml", "--json"]);
    expect(bad.code).toBe(6);
    expect(bad.json).not.toHaveProperty("policy_digest");
    expect((await run(dir, ["policy", "digest", "missing.yaml"])).code).toBe(6);
    expect((await run(dir, ["policy", "digest"])).code).toBe(6);
  });

  it("test evaluates rules only and exits by verdict", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    const cases: [string, string, string, number][] = [
      ["tool.read", "read", "allow", 0],
      ["tool.write", "write", "require_approval", 4],
      ["tool.delete", "delete", "block", 3],
    ];
    for (const [tool, op, verdict, code] of cases) {
      write(dir, "i.json", intent(tool, op));
      const r = await run(dir, ["policy", "test", "p.yaml", "i.json", "--json"]);
      expect(r.code, tool).toBe(code);
      expect(r.json).toMatchObject({ ok: true, verdict, schema_id: "gait.policytest.result", schema_version: "1.0.0" });
      expect(r.json.intent_digest).toMatch(/^[0-9a-f]{64}$/);
    }
    const files = (await import("node:fs")).readdirSync(dir);
    expect(files.filter((f) => f.startsWith("trace_"))).toEqual([]); // policy test writes no trace
  });

  it("init writes each template (and alias), which validates; refuses to overwrite without --force", async () => {
    const dir = tempDir();
    for (const [name, template] of [
      ["low", "baseline-lowrisk"],
      ["medium", "baseline-mediumrisk"],
      ["high", "baseline-highrisk"],
      ["baseline-highrisk", "baseline-highrisk"],
    ]) {
      const out = `${name}.yaml`;
      const r = await run(dir, ["policy", "init", name, "--out", out, "--json"]);
      expect(r.code, name).toBe(0);
      expect(r.json).toMatchObject({ ok: true, template, policy_path: out });
      const v = await run(dir, ["policy", "validate", out, "--json"]);
      expect(v.code).toBe(0);
      expect(v.json.policy_digest).toBe(r.json.policy_digest);
    }
    const def = await run(dir, ["policy", "init", "medium"]);
    expect(def.code).toBe(0);
    expect(existsSync(join(dir, "gait.policy.yaml"))).toBe(true);
    const again = await run(dir, ["policy", "init", "low", "--json"]);
    expect(again.code).toBe(6);
    expect(again.json.error).toContain("refusing to overwrite existing gait.policy.yaml");
    expect((await run(dir, ["policy", "init", "low", "--force"])).code).toBe(0);
    expect((await run(dir, ["policy", "init", "extreme"])).code).toBe(6);
  });

  it("the templates decide as documented", async () => {
    const dir = tempDir();
    await run(dir, ["policy", "init", "high", "--out", "high.yaml"]);
    write(dir, "del.json", intent("tool.delete", "delete", { arg_provenance: [{ arg_path: "path", source: "user" }] }));
    const del = await run(dir, ["policy", "test", "high.yaml", "del.json", "--json"]);
    expect(del.json.verdict).toBe("block");
    write(dir, "hi.json", { ...(intent("tool.read", "read") as object), context: { identity: "a", workspace: "/repo", risk_class: "high" } });
    const hi = await run(dir, ["policy", "test", "high.yaml", "hi.json", "--json"]);
    expect(hi.json.verdict).toBe("block"); // fail-closed: no arg_provenance
    expect(hi.json.reason_codes).toContain("fail_closed_missing_arg_provenance");
    await run(dir, ["policy", "init", "low", "--out", "low.yaml"]);
    write(dir, "w.json", intent("tool.write", "write"));
    expect((await run(dir, ["policy", "test", "low.yaml", "w.json", "--json"])).json.verdict).toBe("allow");
    write(dir, "d.json", intent("tool.delete", "delete"));
    expect((await run(dir, ["policy", "test", "low.yaml", "d.json", "--json"])).json.verdict).toBe("require_approval");
  });
});
