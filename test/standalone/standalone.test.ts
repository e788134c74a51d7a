/**
 * The self-contained executable (`make dist`) copied ALONE into an empty directory and run from there with an empty
 * environment (no PATH, so no Node, no node_modules, no project tree): the one-shot commands, trace verification and
 * the service. The CLI suites (test/unit/cli) also run against it (vitest.config.ts).
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { copyFileSync, chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EvaluateRequestSchema, EvaluateResponseSchema } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { DIST_EXE } from "./exe.js";
import { unary, waitServing } from "./grpc.js";

const POLICY = `schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: require_approval
rules:
  - name: allow-read
    priority: 10
    effect: allow
    match:
      tool_names: [tool.read]
  - name: block-delete
    priority: 20
    effect: block
    match:
      tool_names: [tool.delete]
`;

const call = (name: string, op: string) =>
  JSON.stringify({
    name,
    args: { path: "/work/a.txt" },
    targets: [{ kind: "path", value: "/work/a.txt", operation: op }],
    context: { identity: "agent", workspace: "/work", risk_class: "low" },
  });

let dir: string;
let gait: string;

/** Run the lone executable in `dir` with exactly `env` (empty by default: no PATH). */
function exe(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(gait, args, { cwd: dir, input: opts.input ?? "", env: opts.env ?? {}, encoding: "utf8", timeout: 30_000 });
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(r.stdout);
  } catch {
    // human output
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gait-alone-"));
  gait = join(dir, "gait");
  copyFileSync(DIST_EXE, gait);
  chmodSync(gait, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the executable alone in an empty directory", () => {
  it("is the only file there, and its .sha256 file names its digest", () => {
    expect(readdirSync(dir)).toEqual(["gait"]);
    const [hex, name] = readFileSync(`${DIST_EXE}.sha256`, "utf8").trim().split(/\s+/);
    expect(name).toBe(basename(DIST_EXE));
    expect(createHash("sha256").update(readFileSync(gait)).digest("hex")).toBe(hex);
  });

  it("runs with an empty environment; help and version come from inside it", () => {
    const help = exe(["--help"]);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain("mcp proxy");
    // policy init reads its template from the executable (there is no policies/ directory here)
    const init = exe(["policy", "init", "baseline-highrisk", "--out", "init.yaml", "--json"]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.json).toMatchObject({ ok: true, template: "baseline-highrisk", policy_path: "init.yaml" });
    expect(exe(["policy", "validate", "init.yaml"]).code).toBe(0);
  });

  it("mcp proxy: the call on stdin, the verdict in the exit code and the JSON, a signed trace", () => {
    writeFileSync(join(dir, "policy.yaml"), POLICY);
    const allow = exe(["mcp", "proxy", "--policy", "policy.yaml", "--call", "-", "--adapter", "mcp", "--json", "--trace-out", "allow.json"], { input: call("tool.read", "read") });
    expect(allow.code, allow.stderr).toBe(0);
    expect(allow.json).toMatchObject({ ok: true, executed: false, verdict: "allow", trace_path: "allow.json" });
    const version = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;
    expect(JSON.parse(readFileSync(join(dir, "allow.json"), "utf8")).producer_version).toBe(version);
    const block = exe(["mcp", "proxy", "--policy", "policy.yaml", "--call", "-", "--json", "--trace-out", "block.json"], { input: call("tool.delete", "delete") });
    expect(block.code).toBe(3);
    expect(block.json.verdict).toBe("block");
    const garbage = exe(["mcp", "proxy", "--policy", "policy.yaml", "--call", "-", "--json"], { input: "{not json" });
    expect(garbage.code).toBe(6);
    expect(garbage.json.verdict).toBeUndefined();
  });

  it("gate eval with a prod key, then trace verify (and a tampered trace fails with exit 2)", () => {
    writeFileSync(join(dir, "policy.yaml"), POLICY);
    writeFileSync(join(dir, "intent.json"), JSON.stringify({ tool_name: "tool.read", args: { path: "/work/a.txt" }, targets: [{ kind: "path", value: "/work/a.txt", operation: "read" }], context: { identity: "agent", workspace: "/work", risk_class: "low" } }));
    expect(exe(["keys", "init", "--json"]).code).toBe(0);
    const key = ["--key-mode", "prod", "--private-key", "gait-out/keys/gait_private.key"];
    const ev = exe(["gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json", ...key, "--trace-out", "eval.json", "--json"]);
    expect(ev.code, ev.stderr).toBe(0);
    expect(ev.json.verdict).toBe("allow");
    const ok = exe(["trace", "verify", "eval.json", "--public-key", "gait-out/keys/gait_public.key", "--json"]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.json.signature_status).toBe("verified");
    const t = JSON.parse(readFileSync(join(dir, "eval.json"), "utf8"));
    writeFileSync(join(dir, "tampered.json"), JSON.stringify({ ...t, verdict: "block" }));
    const bad = exe(["trace", "verify", "tampered.json", "--public-key", "gait-out/keys/gait_public.key", "--json"]);
    expect(bad.code).toBe(2);
  });

  it("reads no .env or bunfig.toml from its working directory", () => {
    writeFileSync(join(dir, "policy.yaml"), POLICY);
    writeFileSync(join(dir, "intent.json"), JSON.stringify({ tool_name: "tool.read", args: {}, targets: [], context: { identity: "a", workspace: "/w", risk_class: "low" } }));
    exe(["keys", "init", "--prefix", "envkey", "--json"]);
    const keyText = readFileSync(join(dir, "gait-out/keys/envkey_private.key"), "utf8").trim();
    const args = ["gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json", "--key-mode", "prod", "--private-key-env", "GAIT_KEY_FROM_DOTENV", "--json"];
    // control: the variable works when the caller sets it
    expect(exe(args, { env: { GAIT_KEY_FROM_DOTENV: keyText } }).code).toBe(0);
    writeFileSync(join(dir, ".env"), `GAIT_KEY_FROM_DOTENV=${keyText}\n`);
    writeFileSync(join(dir, "bunfig.toml"), `preload = ["./preload.js"]\n`);
    writeFileSync(join(dir, "preload.js"), `process.env.GAIT_KEY_FROM_DOTENV = ${JSON.stringify(keyText)};\n`);
    try {
      const r = exe(args);
      expect(r.code).toBe(6);
      expect(r.json.error).toContain("GAIT_KEY_FROM_DOTENV is empty or unset");
    } finally {
      for (const f of [".env", "bunfig.toml", "preload.js"]) rmSync(join(dir, f), { force: true });
    }
  });

  it("mcp serve: starts on a socket, answers Evaluate, stops on SIGTERM", async () => {
    writeFileSync(join(dir, "policy.yaml"), POLICY);
    const socket = join(dir, "gate.sock");
    const child = spawn(gait, ["mcp", "serve", "--policy", "policy.yaml", "--listen", `unix://${socket}`, "--json"], { cwd: dir, env: {}, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = once(child, "exit");
    try {
      await waitServing(socket, () => child.exitCode === null && child.signalCode === null, () => out);
      const r = await unary(socket, "/gait.gate.v1.GateService/Evaluate", EvaluateRequestSchema, EvaluateResponseSchema, {
        input: { case: "intent", value: { toolName: "tool.read", targets: [{ kind: "path", value: "/work/a.txt", operation: "read" }], context: { identity: "agent", workspace: "/work", riskClass: "low" } } },
      });
      expect(r.verdict).toBe(Verdict.ALLOW);
      expect(r.traceId).toMatch(/^[0-9a-f]{24}$/);
      const blocked = await unary(socket, "/gait.gate.v1.GateService/Evaluate", EvaluateRequestSchema, EvaluateResponseSchema, {
        input: { case: "intent", value: { toolName: "tool.delete", targets: [{ kind: "path", value: "/work/a.txt", operation: "delete" }], context: { identity: "agent", workspace: "/work", riskClass: "low" } } },
      });
      expect(blocked.verdict).toBe(Verdict.BLOCK);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    expect(child.exitCode, out).toBe(0);
    // the decisions are in the service's trace log, which the same executable verifies
    const segments = readdirSync(join(dir, "gait-out/serve/traces")).filter((n) => n.endsWith(".jsonl"));
    expect(segments.length).toBeGreaterThan(0);
    const v = exe(["trace", "verify", `gait-out/serve/traces/${segments[0]}`, "--public-key", "gait-out/serve/keys/dev_public.key", "--json"]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });
});
