import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { readZipEntries, writeDeterministicZip } from "../../../src/runpack/zip.js";
import { TraceLog, segmentName } from "../../../src/tracelog/index.js";
import { POLICY, readJsonFile, run, tempDir, write } from "./helpers.js";

const PROD = ["--key-mode", "prod", "--private-key", "gait-out/keys/gait_private.key"];
const PUB = ["--public-key", "gait-out/keys/gait_public.key"];

async function setup(): Promise<string> {
  const dir = tempDir();
  write(dir, "p.yaml", POLICY);
  expect((await run(dir, ["keys", "init"])).code).toBe(0);
  return dir;
}

const MCP_READ = {
  name: "tool.read",
  args: { path: "/repo/a.txt" },
  targets: [{ kind: "path", value: "/repo/a.txt", operation: "read" }],
  context: { identity: "alice", workspace: "/repo", risk_class: "low", run_id: "my run", session_id: "s-9" },
};

describe("mcp proxy", () => {
  it("decides each adapter format and never executes; exit codes follow the verdict", async () => {
    const dir = await setup();
    write(dir, "mcp.json", MCP_READ);
    write(dir, "openai.json", { type: "function", function: { name: "tool.write", arguments: JSON.stringify({ path: "/repo/x" }) } });
    write(dir, "anthropic.json", { type: "tool_use", name: "tool.read", input: { path: "/repo/y" } });
    write(dir, "langchain.json", { tool: "tool.write", tool_input: { path: "/repo/z" } });
    write(dir, "delete.json", { ...MCP_READ, name: "tool.delete", targets: [{ kind: "path", value: "/repo/a.txt", operation: "delete" }] });
    const cases: [string, string, string, number][] = [
      ["mcp.json", "mcp", "allow", 0],
      ["openai.json", "openai", "require_approval", 4],
      ["anthropic.json", "anthropic", "allow", 0],
      ["langchain.json", "langchain", "require_approval", 4],
      ["delete.json", "mcp", "block", 3],
    ];
    for (const [file, adapter, verdict, code] of cases) {
      const r = await run(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", file, "--adapter", adapter, ...PROD, "--json"]);
      expect(r.code, file).toBe(code);
      expect(r.json).toMatchObject({ ok: true, executed: false, adapter, verdict, policy_id: "gait.gate.policy", policy_version: "1.0.0" });
      expect(r.json.trace_path).toMatch(/^trace_run_[A-Za-z0-9_-]+_\d{8}T\d{6}\.\d{9}\.json$/);
      // whole milliseconds, truncated, omitted when 0 (Gait's int64 Duration.Milliseconds() with omitempty)
      if (r.json.decision_latency_ms !== undefined) expect(Number.isInteger(r.json.decision_latency_ms)).toBe(true);
      expect(r.json.relationship.policy_ref.policy_digest).toBe(r.json.policy_digest);
      const v = await run(dir, ["trace", "verify", r.json.trace_path, ...PUB]);
      expect(v.code, `verify ${file}`).toBe(0);
    }
  });

  it("run_id: flag, else call.context.run_id, else run_mcp_<digest prefix>; fallback-context warning for non-MCP adapters", async () => {
    const dir = await setup();
    write(dir, "mcp.json", MCP_READ);
    const a = await run(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", "mcp.json", ...PROD, "--json"]);
    expect(a.json.run_id).toBe("run_my_run");
    expect(a.json.session_id).toBe("s-9");
    const b = await run(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", "mcp.json", "--run-id", "run_fixed", ...PROD, "--json"]);
    expect(b.json.run_id).toBe("run_fixed");
    write(dir, "anthropic.json", { type: "tool_use", name: "tool.read", input: {} });
    const c = await run(dir, ["mcp", "bridge", "--policy", "p.yaml", "--call", "anthropic.json", "--adapter", "anthropic", ...PROD, "--json"]);
    expect(c.code).toBe(0);
    expect(c.json.run_id).toBe(`run_mcp_${c.json.intent_digest.slice(0, 12)}`);
    expect(c.json.warnings?.length).toBeGreaterThan(0);
  });

  it("reads the call from stdin with --call -", async () => {
    const dir = await setup();
    const r = await run(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", "-", ...PROD, "--json"], { stdin: JSON.stringify(MCP_READ) });
    expect(r.code).toBe(0);
    expect(r.json.verdict).toBe("allow");
    const empty = await run(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", "-", "--json"], { stdin: "" });
    expect(empty.code).toBe(6);
    expect(empty.json.error).toContain("stdin");
  });

  it("bad calls and adapters are input errors without a verdict", async () => {
    const dir = await setup();
    write(dir, "mcp.json", MCP_READ);
    const u = await run(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", "mcp.json", "--adapter", "smoke-signals", "--json"]);
    expect(u.code).toBe(6);
    expect(u.json.error).toContain("unsupported adapter");
    expect(u.json).not.toHaveProperty("verdict");
    write(dir, "bad.json", "[1,");
    expect((await run(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", "bad.json"])).code).toBe(6);
    write(dir, "noname.json", { args: {} });
    const n = await run(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", "noname.json", "--json"]);
    expect(n.code).toBe(6);
    expect((await run(dir, ["mcp", "proxy", "--policy", "p.yaml"])).code).toBe(6);
    expect(readdirSync(dir).filter((f) => f.startsWith("trace_"))).toEqual([]);
  });

  it("--runpack-out writes a deterministic runpack that gait verify accepts and tamper-checks", async () => {
    const dir = await setup();
    write(dir, "mcp.json", MCP_READ);
    const args = ["mcp", "proxy", "--policy", "p.yaml", "--call", "mcp.json", ...PROD, "--json"];
    const a = await run(dir, [...args, "--runpack-out", "out/a.zip"]);
    const b = await run(dir, [...args, "--runpack-out", "out/b.zip"]);
    expect(a.json.runpack_path).toBe("out/a.zip");
    expect(statSync(join(dir, "out/a.zip")).mode & 0o777).toBe(0o600);
    // same decision => same runpack bytes (the trace's observed_at differs; the runpack does not carry it)
    expect(readFileSync(join(dir, "out/a.zip")).equals(readFileSync(join(dir, "out/b.zip")))).toBe(true);

    const v = await run(dir, ["verify", "out/a.zip", "--json"]);
    expect(v.code).toBe(0);
    expect(v.json).toMatchObject({ ok: true, run_id: "run_my_run", signature_status: "missing", missing_files: [], hash_mismatches: [] });
    expect(v.json.note).toContain("unsigned");
    const human = await run(dir, ["verify", "out/a.zip"]);
    expect(human.stdout).toContain("verify: ok run_id=run_my_run");

    const req = await run(dir, ["verify", "out/a.zip", "--require-signature", "--json"]);
    expect(req.code).toBe(2);
    const strictNoKey = await run(dir, ["verify", "out/a.zip", "--profile", "strict"]);
    expect(strictNoKey.code).toBe(6);
    const strict = await run(dir, ["verify", "out/a.zip", "--profile", "strict", ...PUB, "--json"]);
    expect(strict.code).toBe(2);
    expect(strict.json.error).toContain("signature required but missing");

    const entries = readZipEntries(readFileSync(join(dir, "out/a.zip")));
    const tampered = writeDeterministicZip(
      entries.map((e) => ({ path: e.path, data: e.path === "intents.jsonl" ? Buffer.from(Buffer.from(e.data).toString().replace("tool.read", "tool.evil")) : e.data })),
    );
    writeFileSync(join(dir, "out/t.zip"), tampered);
    const t = await run(dir, ["verify", "out/t.zip", "--json"]);
    expect(t.code).toBe(2);
    expect(t.json).toMatchObject({ ok: false, hash_mismatches: ["intents.jsonl"], error_code: "verification_failed" });
    writeFileSync(join(dir, "out/junk.zip"), "PK junk");
    expect((await run(dir, ["verify", "out/junk.zip"])).code).toBe(2);
    expect((await run(dir, ["verify", "out/missing.zip"])).code).toBe(6);
  });

  it("an unreadable kill switch blocks high-risk calls and is an input error for low risk", async () => {
    const dir = await setup();
    write(dir, "low.json", MCP_READ);
    write(dir, "high.json", { ...MCP_READ, context: { ...MCP_READ.context, risk_class: "high" } });
    write(dir, "ks.json", "not json");
    const low = await run(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", "low.json", "--kill-switch-state", "ks.json", "--json"]);
    expect(low.code).toBe(6);
    expect(low.json).not.toHaveProperty("verdict");
    const high = await run(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", "high.json", "--kill-switch-state", "ks.json", "--json"]);
    expect(high.code).toBe(3);
    expect(high.json.reason_codes).toContain("kill_switch_state_unavailable");
  });
});

describe("trace verify on a trace-log segment", () => {
  it("verifies a segment, and fails (exit 2) when a byte is changed", async () => {
    const dir = await setup();
    write(dir, "mcp.json", MCP_READ);
    const r = await run(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", "mcp.json", ...PROD, "--json"]);
    const trace = readJsonFile(dir, r.json.trace_path);
    const key = Ed25519KeyPair.fromPrivateKeyText(readFileSync(join(dir, "gait-out/keys/gait_private.key"), "utf8"));
    const log = await TraceLog.open({ dir: join(dir, "log"), signer: key, retentionIntervalMs: 0, checkpointIntervalMs: 0 });
    await log.append(trace);
    await log.append(trace);
    await log.close();
    const seg = join("log", segmentName(1));
    const v = await run(dir, ["trace", "verify", seg, ...PUB, "--json"]);
    expect(v.code).toBe(0);
    expect(v.json).toMatchObject({ ok: true, kind: "segment", entries: 2, path: seg, signature_status: "verified" });

    const text = readFileSync(join(dir, seg), "utf8");
    writeFileSync(join(dir, seg), text.replace('"verdict":"allow"', '"verdict":"block"'));
    const bad = await run(dir, ["trace", "verify", seg, ...PUB, "--json"]);
    expect(bad.code).toBe(2);
    expect(bad.json.ok).toBe(false);
    expect(bad.json.error).toBeTruthy();
  });
});
