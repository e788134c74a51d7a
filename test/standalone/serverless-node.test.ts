/**
 * The Node serverless handler (examples/serverless/node/handler.mjs), run from the package that
 * examples/serverless/package.sh builds (handler + the real self-contained executable + policy + release.json).
 * Every way the gate can fail must end in "not executed". The Python handler has the same cases in pytest
 * (examples/serverless/python/test_handler.py).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./exe.js";

const ENV_KEYS = ["GAIT_BIN", "GAIT_POLICY", "GAIT_POLICY_DIGEST", "GAIT_TIMEOUT_MS", "GAIT_KEY_ENV", "GAIT_TRACE_DIR", "GAIT_SIGNING_KEY"];

const DRY_RUN_POLICY = `schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: plan-deploys
    priority: 10
    effect: dry_run
    match:
      tool_names: [tool.deploy]
`;

const call = (name: string, op: string, path = "/workspace/README.md") => ({
  name,
  args: { path },
  targets: [{ kind: "path", value: path, operation: op }],
  context: { identity: "fn", workspace: "/workspace", risk_class: "low" },
});

interface Handler {
  handle(event: unknown, tools?: Record<string, (args: Record<string, unknown>) => unknown>): Promise<Record<string, any>>;
}

let work: string;
let pkg: string;
let mod: Handler;
let ran: string[];
const tools = () => Object.fromEntries(["tool.read", "tool.write", "tool.delete", "tool.deploy"].map((n) => [n, () => (ran.push(n), `ran ${n}`)]));

function fakeGait(body: string): string {
  const p = join(work, `fake-${Math.random().toString(36).slice(2)}`);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gait-fn-node-"));
  pkg = join(work, "build");
  execFileSync(join(ROOT, "examples/serverless/package.sh"), ["node", pkg], { stdio: "pipe" });
  expect(readdirSync(pkg).sort()).toEqual(["gait", "handler.mjs", "policy.yaml", "release.json"]);
  expect(existsSync(`${pkg}.zip`)).toBe(true);
  mod = (await import(pathToFileURL(join(pkg, "handler.mjs")).href)) as Handler;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));
let saved: Record<string, string | undefined> = {};
beforeAll(() => {
  saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
});
afterEach(() => {
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

function reset(): void {
  ran = [];
  for (const k of ENV_KEYS) delete process.env[k];
  process.env.GAIT_TRACE_DIR = mkdtempSync(join(work, "traces-"));
}

describe("serverless Node handler (packed with the executable)", () => {
  it("allow executes the tool and leaves a signed trace that verifies", async () => {
    reset();
    const keys = join(work, "keys");
    execFileSync(join(pkg, "gait"), ["keys", "init", "--out-dir", keys, "--json"], { cwd: work });
    process.env.GAIT_SIGNING_KEY = readFileSync(join(keys, "gait_private.key"), "utf8").trim();
    process.env.GAIT_KEY_ENV = "GAIT_SIGNING_KEY";
    const out = await mod.handle({ tool_call: call("tool.read", "read") }, tools());
    expect(out).toMatchObject({ executed: true, verdict: "allow", result: "ran tool.read" });
    expect(ran).toEqual(["tool.read"]);
    const v = spawnSync(join(pkg, "gait"), ["trace", "verify", out.trace_path, "--public-key", join(keys, "gait_public.key"), "--json"], { encoding: "utf8" });
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).signature_status).toBe("verified");
  });

  it("block and require_approval do not execute", async () => {
    for (const [name, op, verdict, code] of [["tool.delete", "delete", "block", 3], ["tool.write", "write", "require_approval", 4]] as const) {
      reset();
      const out = await mod.handle({ tool_call: call(name, op) }, tools());
      expect(ran).toEqual([]);
      expect(out).toMatchObject({ executed: false, verdict });
      expect(out.reason).toContain(`exit ${code}`);
    }
  });

  it("dry_run exits 0 but does not execute", async () => {
    reset();
    writeFileSync(join(work, "dry.yaml"), DRY_RUN_POLICY);
    process.env.GAIT_POLICY = join(work, "dry.yaml");
    process.env.GAIT_POLICY_DIGEST = execFileSync(join(pkg, "gait"), ["policy", "digest", join(work, "dry.yaml")], { encoding: "utf8" }).trim();
    const out = await mod.handle({ tool_call: call("tool.deploy", "apply") }, tools());
    expect(ran).toEqual([]);
    expect(out).toMatchObject({ executed: false, verdict: "dry_run" });
  });

  it("a policy that is not the pinned one (release.json) does not execute", async () => {
    reset();
    writeFileSync(join(work, "other.yaml"), DRY_RUN_POLICY.replace("dry_run", "allow").replace("tool.deploy", "tool.read"));
    process.env.GAIT_POLICY = join(work, "other.yaml");
    const out = await mod.handle({ tool_call: call("tool.read", "read") }, tools());
    expect(ran).toEqual([]);
    expect(out.executed).toBe(false);
    expect(out.reason).toContain("policy digest mismatch");
  });

  it("an invalid tool call or event does not execute", async () => {
    reset();
    expect((await mod.handle({ tool_call: { name: "", args: "nope" } }, tools())).reason).toContain("exit 6");
    expect((await mod.handle({ nothing: true }, tools())).executed).toBe(false);
    expect(ran).toEqual([]);
  });

  it("a missing or unrunnable binary does not execute", async () => {
    reset();
    process.env.GAIT_BIN = join(work, "absent", "gait");
    expect((await mod.handle({ tool_call: call("tool.read", "read") }, tools())).reason).toContain("could not run");
    const noexec = join(work, "gait-noexec");
    writeFileSync(noexec, readFileSync(join(pkg, "gait")).subarray(0, 4096));
    process.env.GAIT_BIN = noexec;
    expect((await mod.handle({ tool_call: call("tool.read", "read") }, tools())).reason).toContain("could not run");
    expect(ran).toEqual([]);
  });

  it("the real binary killed mid-run does not execute", async () => {
    reset();
    process.env.GAIT_BIN = fakeGait(`"${join(pkg, "gait")}" "$@" & pid=$!\nkill -9 $pid\nwait $pid`);
    const out = await mod.handle({ tool_call: call("tool.read", "read") }, tools());
    expect(out.executed).toBe(false);
    expect(ran).toEqual([]);
  });

  it("an allow that ends in a crash does not execute", async () => {
    reset();
    process.env.GAIT_BIN = fakeGait(`cat >/dev/null\necho '{"ok":true,"executed":false,"verdict":"allow"}'\nkill -9 $$`);
    const out = await mod.handle({ tool_call: call("tool.read", "read") }, tools());
    expect(out.executed).toBe(false);
    expect(out.reason).toContain("SIGKILL");
    expect(ran).toEqual([]);
  });

  it("unparseable or inconsistent output with exit 0 does not execute", async () => {
    for (const output of [
      "garbage",
      '{"ok":true,"verdict":"al',
      '["allow"]',
      "null",
      '{"ok":true,"executed":false,"verdict":"block"}',
      '{"ok":false,"executed":false,"verdict":"allow"}',
      '{"ok":true,"executed":true,"verdict":"allow"}',
      "",
    ]) {
      reset();
      process.env.GAIT_BIN = fakeGait(`cat >/dev/null\nprintf '%s' '${output}'\nexit 0`);
      const out = await mod.handle({ tool_call: call("tool.read", "read") }, tools());
      expect(out.executed, output).toBe(false);
    }
    expect(ran).toEqual([]);
  });

  it("a timeout kills the gate and does not execute", async () => {
    reset();
    const pidfile = join(work, "pid");
    process.env.GAIT_BIN = fakeGait(`echo $$ > ${pidfile}\nexec sleep 60`);
    process.env.GAIT_TIMEOUT_MS = "300";
    const out = await mod.handle({ tool_call: call("tool.read", "read") }, tools());
    expect(out.executed).toBe(false);
    expect(out.reason).toContain("timed out");
    expect(ran).toEqual([]);
    expect(() => process.kill(Number(readFileSync(pidfile, "utf8")), 0)).toThrow(/ESRCH/);
  });

  it("runs as a script: exit 0 only when the tool ran", () => {
    const target = join(work, "hello.txt");
    writeFileSync(target, "hello");
    const env = { PATH: process.env.PATH ?? "", GAIT_TRACE_DIR: join(work, "script-traces") };
    const ok = spawnSync(process.execPath, [join(pkg, "handler.mjs"), JSON.stringify({ tool_call: call("tool.read", "read", target) })], { encoding: "utf8", env });
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).result).toBe("hello");
    const no = spawnSync(process.execPath, [join(pkg, "handler.mjs"), JSON.stringify({ tool_call: call("tool.delete", "delete", target) })], { encoding: "utf8", env });
    expect(no.status).toBe(1);
    expect(JSON.parse(no.stdout).executed).toBe(false);
  });
});
