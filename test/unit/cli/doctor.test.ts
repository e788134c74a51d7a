/**
 * `gait doctor` against good and bad deployments, through the CLI under test (in-process, bin/gait and the
 * executable): real files, the real mount table. The tmpfs cases with an injected mount table (no root needed) are in
 * test/unit/doctor/doctor.test.ts; the refusal of a published key by `gait mcp serve` is in
 * test/integration/doctor-serve.test.ts.
 */
import { chmodSync, copyFileSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mountOf, parseMountInfo, readMountInfo, VOLATILE_FS_TYPES } from "../../../src/infra/mounts.js";
import { ROOT, run, tempDir } from "./helpers.js";

const PUBLISHED_KEY = join(ROOT, "test/fixtures/published-key/gait_private.key");

/** A temp dir on a durable file system: the system's, unless it is tmpfs (then one under the checkout). */
function deployDir(): string {
  const table = readMountInfo();
  const m = table ? mountOf(realpathSync(tmpdir()), parseMountInfo(table)) : undefined;
  if (m && VOLATILE_FS_TYPES.has(m.fsType)) {
    const base = join(ROOT, "test-results", "doctor");
    mkdirSync(base, { recursive: true });
    return tempDir(join(base, "d-"));
  }
  return tempDir("gait-doctor-");
}

interface Deployment {
  dir: string;
  key: string;
  digest: string;
  args: string[];
}

/** A deployment that passes every check: prod key 0600, pinned policy, retention, private socket dirs. */
async function goodDeployment(): Promise<Deployment> {
  const dir = deployDir();
  chmodSync(dir, 0o700);
  copyFileSync(join(ROOT, "examples/policy.yaml"), join(dir, "policy.yaml"));
  expect((await run(dir, ["keys", "init", "--out-dir", "keys"])).code).toBe(0);
  const digest = (await run(dir, ["policy", "digest", "policy.yaml"])).stdout.trim();
  mkdirSync(join(dir, "run"), { mode: 0o700 });
  mkdirSync(join(dir, "op"), { mode: 0o700 });
  const key = join(dir, "keys/gait_private.key");
  const args = [
    "--policy", join(dir, "policy.yaml"), "--policy-digest", digest,
    "--key-mode", "prod", "--private-key", key,
    "--state", join(dir, "state"), "--trace-dir", join(dir, "traces"), "--trace-max-age", "2160h",
    "--listen", `unix://${join(dir, "run/gate.sock")}`, "--operator-listen", `unix://${join(dir, "op/operator.sock")}`,
  ];
  return { dir, key, digest, args };
}

type CheckRow = { name: string; status: string; detail: string; fix: string };
const byName = (json: Record<string, any>): Record<string, CheckRow> => Object.fromEntries((json.checks as CheckRow[]).map((c) => [c.name, c]));

describe("gait doctor", () => {
  it("a good deployment: every check ok, exit 0, one JSON document with name/status/detail/fix", async () => {
    const d = await goodDeployment();
    const r = await run(d.dir, ["doctor", ...d.args, "--json"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, status: "ok" });
    const names = (r.json.checks as CheckRow[]).map((c) => c.name);
    expect(names).toEqual(["config", "policy", "policy-pin", "key-mode", "signing-key", "trace-dir", "trace-retention", "runpack-dir", "approval-state", "agent-socket", "operator-socket"]);
    for (const c of r.json.checks as CheckRow[]) expect(Object.keys(c).sort()).toEqual(["detail", "fix", "name", "status"]);
    expect((r.json.checks as CheckRow[]).filter((c) => c.status !== "ok")).toEqual([]);
    expect(byName(r.json)["policy-pin"]!.detail).toContain(d.digest);
    // human output: one line per check, then the summary
    const h = await run(d.dir, ["doctor", ...d.args]);
    expect(h.code).toBe(0);
    const lines = h.stdout.trim().split("\n");
    expect(lines).toHaveLength(names.length + 1);
    expect(lines[1]).toMatch(/^OK\s+policy\s/);
    expect(lines.at(-1)).toBe(`doctor: ok (0 failed, 0 warnings, ${names.length} ok)`);
  });

  it("the same settings from a --config file and GAIT_* environment variables", async () => {
    const d = await goodDeployment();
    const flags = Object.fromEntries(Array.from({ length: d.args.length / 2 }, (_, i) => [d.args[2 * i]!.slice(2).replace(/-/g, "_"), d.args[2 * i + 1]!]));
    const { trace_dir, ...rest } = flags;
    writeFileSync(join(d.dir, "gate.yaml"), Object.entries(rest).map(([k, v]) => `${k}: "${v}"`).join("\n") + "\n");
    const r = await run(d.dir, ["doctor", "--config", "gate.yaml", "--json"], { env: { ...process.env, GAIT_TRACE_DIR: join(d.dir, "traces-env") } });
    expect(r.code, r.stdout).toBe(0);
    expect(byName(r.json)["trace-dir"]!.detail).toContain("traces-env");
    expect(byName(r.json).config!.detail).toMatch(/env.*file|file.*env/);
  });

  it("a world-readable key fails; a group-readable one warns; a key owned by the user and 0600 is ok", async () => {
    const d = await goodDeployment();
    chmodSync(d.key, 0o644);
    const r = await run(d.dir, ["doctor", ...d.args, "--json"]);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ ok: false, status: "fail" });
    expect(byName(r.json)["signing-key"]).toMatchObject({ status: "fail" });
    expect(byName(r.json)["signing-key"]!.detail).toContain("readable by all users");
    expect(byName(r.json)["signing-key"]!.fix).toContain(`chmod 600 ${d.key}`);
    chmodSync(d.key, 0o640);
    const g = await run(d.dir, ["doctor", ...d.args, "--json"]);
    expect(g.code).toBe(0);
    expect(byName(g.json)["signing-key"]).toMatchObject({ status: "warn" });
    expect(byName(g.json)["signing-key"]!.detail).toContain("readable by its group");
  });

  it("a published demo/test key fails, saying so and how to make a real one", async () => {
    const d = await goodDeployment();
    copyFileSync(PUBLISHED_KEY, d.key);
    chmodSync(d.key, 0o600);
    const r = await run(d.dir, ["doctor", ...d.args, "--json"]);
    expect(r.code).toBe(2);
    const c = byName(r.json)["signing-key"]!;
    expect(c.status).toBe("fail");
    expect(c.detail).toContain("is a published demo/test key (gait-gate: test/fixtures/published-key/gait_private.key)");
    expect(c.fix).toContain("gait keys init");
    // from an environment variable too
    const env = { ...process.env, GATE_KEY: (await import("node:fs")).readFileSync(PUBLISHED_KEY, "utf8") };
    const e = await run(d.dir, ["doctor", ...d.args.filter((a, i) => a !== "--private-key" && d.args[i - 1] !== "--private-key"), "--private-key-env", "GATE_KEY", "--json"], { env });
    expect(e.code).toBe(2);
    expect(byName(e.json)["signing-key"]!.detail).toContain("env:GATE_KEY");
  });

  it("no pin warns with the pin to add; a wrong pin fails", async () => {
    const d = await goodDeployment();
    const unpinned = d.args.filter((a, i) => a !== "--policy-digest" && d.args[i - 1] !== "--policy-digest");
    const r = await run(d.dir, ["doctor", ...unpinned, "--json"]);
    expect(r.code).toBe(0);
    expect(r.json.status).toBe("warn");
    expect(byName(r.json)["policy-pin"]).toMatchObject({ status: "warn" });
    expect(byName(r.json)["policy-pin"]!.fix).toContain(`--policy-digest ${d.digest}`);
    const wrong = await run(d.dir, ["doctor", ...unpinned, "--policy-digest", `sha256:${"0".repeat(64)}`, "--json"]);
    expect(wrong.code).toBe(2);
    expect(byName(wrong.json)["policy-pin"]).toMatchObject({ status: "fail" });
    expect(byName(wrong.json)["policy-pin"]!.detail).toContain("the service refuses to start");
  });

  it("a policy that does not parse fails the policy check (and the pin cannot be compared)", async () => {
    const d = await goodDeployment();
    writeFileSync(join(d.dir, "policy.yaml"), "rules: [ {name: x, effect: maybe} ]\n");
    const r = await run(d.dir, ["doctor", ...d.args, "--json"]);
    expect(r.code).toBe(2);
    expect(byName(r.json).policy).toMatchObject({ status: "fail" });
    expect(byName(r.json)["policy-pin"]!.detail).toContain("did not load");
  });

  it("unbounded retention warns; a runpack dir without retention warns too", async () => {
    const d = await goodDeployment();
    const noRetention = d.args.filter((a, i) => a !== "--trace-max-age" && d.args[i - 1] !== "--trace-max-age");
    const r = await run(d.dir, ["doctor", ...noRetention, "--runpack-dir", join(d.dir, "runpacks"), "--json"]);
    expect(r.code).toBe(0);
    expect(byName(r.json)["trace-retention"]).toMatchObject({ status: "warn" });
    expect(byName(r.json)["runpack-dir"]).toMatchObject({ status: "ok" });
    expect(byName(r.json)["runpack-retention"]).toMatchObject({ status: "warn" });
  });

  it("dev keys warn (and are refused with --profile oss-prod, a configuration error: exit 6)", async () => {
    const d = await goodDeployment();
    const dev = d.args.filter((a, i) => !["--key-mode", "--private-key"].includes(a) && !["--key-mode", "--private-key"].includes(d.args[i - 1]!));
    const r = await run(d.dir, ["doctor", ...dev, "--json"]);
    expect(r.code).toBe(0);
    expect(byName(r.json)["key-mode"]).toMatchObject({ status: "warn" });
    const oss = await run(d.dir, ["doctor", ...dev, "--profile", "oss-prod", "--json"]);
    expect(oss.code).toBe(6);
    expect(oss.json.checks).toEqual([expect.objectContaining({ name: "config", status: "fail", detail: expect.stringContaining("--profile oss-prod requires --key-mode prod") })]);
  });

  it("the same socket for agent and operator, a missing operator socket, a group-reachable operator socket", async () => {
    const d = await goodDeployment();
    const agent = d.args[d.args.indexOf("--listen") + 1]!;
    const same = await run(d.dir, ["doctor", ...d.args.slice(0, -2), "--operator-listen", agent, "--json"]);
    expect(same.code).toBe(6);
    expect(same.json.checks[0].detail).toContain("--operator-listen must differ from --listen");
    const none = await run(d.dir, ["doctor", ...d.args.slice(0, -2), "--json"]);
    expect(none.code).toBe(0);
    expect(byName(none.json)["operator-socket"]).toMatchObject({ status: "warn" });
    expect(byName(none.json)["operator-socket"]!.detail).toContain("nobody can grant or deny");
    const group = await run(d.dir, ["doctor", ...d.args, "--socket-mode", "0660", "--json"]);
    expect(group.code).toBe(2);
    expect(byName(group.json)["operator-socket"]!.detail).toContain("could approve its own calls");
    writeFileSync(join(d.dir, "operators"), `alice sha256:${"a".repeat(64)}\n`, { mode: 0o600 });
    const tokens = await run(d.dir, ["doctor", ...d.args, "--socket-mode", "0660", "--operator-tokens-file", join(d.dir, "operators"), "--json"]);
    expect(tokens.code, tokens.stdout).toBe(0);
    expect(byName(tokens.json)["operator-tokens"]).toMatchObject({ status: "ok" });
  });

  it("untrusted directories fail: a world-writable trace dir, a socket dir another user owns, a file where a socket goes", async () => {
    const d = await goodDeployment();
    mkdirSync(join(d.dir, "traces"), { mode: 0o700 });
    chmodSync(join(d.dir, "traces"), 0o777);
    const r = await run(d.dir, ["doctor", ...d.args, "--json"]);
    expect(r.code).toBe(2);
    expect(byName(r.json)["trace-dir"]).toMatchObject({ status: "fail" });
    expect(byName(r.json)["trace-dir"]!.detail).toContain("writable by all users");
    chmodSync(join(d.dir, "traces"), 0o700);
    writeFileSync(join(d.dir, "run/gate.sock"), "not a socket");
    const f = await run(d.dir, ["doctor", ...d.args, "--json"]);
    expect(byName(f.json)["agent-socket"]).toMatchObject({ status: "fail" });
    expect(byName(f.json)["agent-socket"]!.detail).toContain("is not a socket");
  });

  it("a shared state that does not answer is a failed check (exit 2); bad flags are exit 6", async () => {
    const d = await goodDeployment();
    const r = await run(d.dir, ["doctor", ...d.args, "--state", `unix://${d.dir}/no-redis.sock`, "--json"]);
    expect(r.code).toBe(2);
    const shared = r.json.checks.find((c: { name: string }) => c.name === "shared-state");
    expect(shared.status).toBe("fail");
    expect(shared.detail).toContain(`cannot connect to the shared state at unix://${d.dir}/no-redis.sock`);
    const bad = await run(d.dir, ["doctor", "--polcy", "x.yaml"]);
    expect(bad.code).toBe(6);
    expect(bad.stdout).toContain("did you mean --policy?");
    expect((await run(d.dir, ["doctor", ...d.args, "--print-config"])).code).toBe(6);
    const relative = await run(d.dir, ["doctor", ...d.args, "--listen", "unix://run/gate.sock", "--json"]);
    expect(relative.code).toBe(6);
    expect(relative.json.checks[0].detail).toContain("the socket path must be absolute");
    const long = await run(d.dir, ["doctor", ...d.args, "--listen", `unix:///${"x".repeat(120)}.sock`, "--json"]);
    expect(long.code).toBe(6);
    expect(long.json.checks[0].detail).toContain("socket path too long");
  });

  it("--help lists the serve settings with their environment variables, the checks and the exit codes", async () => {
    const r = await run(tempDir(), ["doctor", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--trace-max-age <dur>");
    expect(r.stdout).toContain("[GAIT_SOCKET]");
    expect(r.stdout).toContain("print the checks as one JSON document");
    expect(r.stdout).toContain("Exit codes: 0 no check failed (warnings allowed), 2 a check failed, 6 invalid settings or usage.");
    expect((await run(tempDir(), ["--help"])).stdout).toMatch(/\n {2}doctor\s+check a deployment/);
  });
});

describe("gait doctor: the credential broker", () => {
  it("a command broker that is not an executable fails; one that is passes", async () => {
    const d = await goodDeployment();
    const r = await run(d.dir, ["doctor", ...d.args, "--credential-broker", "command", "--credential-command", join(d.dir, "nope"), "--json"]);
    expect(r.code).toBe(2);
    expect(byName(r.json)["credential-broker"]).toMatchObject({ status: "fail" });
    writeFileSync(join(d.dir, "broker"), "#!/bin/sh\necho '{}'\n", { mode: 0o700 });
    const okRun = await run(d.dir, ["doctor", ...d.args, "--credential-broker", "command", "--credential-command", join(d.dir, "broker"), "--json"]);
    expect(okRun.code, okRun.stdout).toBe(0);
    expect(byName(okRun.json)["credential-broker"]).toMatchObject({ status: "ok" });
  });
});

describe("published keys in the one-shot CLI (prod mode)", () => {
  it("mcp proxy, gate eval and approve refuse a published signing key (exit 6, no trace); dev mode is unaffected", async () => {
    const dir = tempDir();
    copyFileSync(join(ROOT, "examples/policy.yaml"), join(dir, "policy.yaml"));
    copyFileSync(join(ROOT, "examples/calls/mcp_read.json"), join(dir, "call.json"));
    const prod = ["--key-mode", "prod", "--private-key", PUBLISHED_KEY, "--json"];
    const p = await run(dir, ["mcp", "proxy", "--policy", "policy.yaml", "--call", "call.json", "--trace-out", "t.json", ...prod]);
    expect(p.code).toBe(6);
    expect(p.json.error).toContain("is a published demo/test key");
    expect(p.json.hint).toContain("gait keys init");
    expect((await import("node:fs")).existsSync(join(dir, "t.json"))).toBe(false);
    writeFileSync(join(dir, "intent.json"), JSON.stringify({ tool_name: "tool.read", args: {}, targets: [{ kind: "path", value: "/a", operation: "read" }], context: { identity: "a", workspace: "/w", risk_class: "low" } }));
    const g = await run(dir, ["gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json", ...prod]);
    expect(g.code).toBe(6);
    expect(g.json.error).toContain("is a published demo/test key");
    const a = await run(dir, ["approve", "--intent-digest", "a".repeat(64), "--policy-digest", "b".repeat(64), "--ttl", "1h", "--scope", "tool:tool.read", "--approver", "alice", "--reason-code", "ok", ...prod]);
    expect(a.code).toBe(6);
    expect(a.json.error).toContain("is a published demo/test key");
    expect((await run(dir, ["mcp", "proxy", "--policy", "policy.yaml", "--call", "call.json", "--trace-out", "t.json", "--json"])).code).toBe(0);
  });

  it("gate eval in prod mode refuses a published key as the approval verify key", async () => {
    const dir = tempDir();
    copyFileSync(join(ROOT, "examples/policy.yaml"), join(dir, "policy.yaml"));
    expect((await run(dir, ["keys", "init", "--out-dir", "keys"])).code).toBe(0);
    writeFileSync(join(dir, "intent.json"), JSON.stringify({ tool_name: "tool.read", args: {}, targets: [{ kind: "path", value: "/a", operation: "read" }], context: { identity: "a", workspace: "/w", risk_class: "low" } }));
    const g = await run(dir, ["gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json", "--key-mode", "prod", "--private-key", "keys/gait_private.key", "--approval-public-key", join(ROOT, "test/fixtures/published-key/gait_public.key"), "--json"]);
    expect(g.code).toBe(6);
    expect(g.json.error).toContain("approval public key");
    expect(g.json.error).toContain("is a published demo/test key");
  });
});
