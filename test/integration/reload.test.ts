/**
 * Policy reload on the real server: a good new file is picked up (file watch and SIGHUP), a broken file and a
 * digest-pin mismatch keep the last good policy and are reported (GetServerInfo, health, logs); start-up refuses a
 * pinned digest that does not match.
 */
import { afterAll, describe, expect, it } from "vitest";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { HealthCheckResponse_ServingStatus as S } from "../../src/gen/grpc/health/v1/health_pb.js";
import { parsePolicy } from "../../src/engine/policy.js";
import { BASE_POLICY, cleanup, intent, startServer, tempDir, type Server } from "./harness.js";

const STRICT = BASE_POLICY.replace("effect: allow", "effect: block");
const digestOf = (yaml: string) => parsePolicy(yaml).policy_digest;

/** Poll until `fn` returns true (file-watch reloads are asynchronous). */
async function until(fn: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Replace a file atomically (write + rename), as deploy tools and editors do. */
function replaceFile(path: string, text: string): void {
  const tmp = join(path + ".tmp");
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    await s.stop();
    cleanup(s.dir);
  }
});

const read = () => ({ input: { case: "intent" as const, value: intent("tool.read") } });

describe("policy reload", () => {
  it("picks up a good file on change, keeps the last good policy on a broken file, and SIGHUP reloads", async () => {
    const s = await startServer({ policy: BASE_POLICY });
    servers.push(s);
    const d0 = digestOf(BASE_POLICY);
    expect((await s.gate.getServerInfo({})).policyDigest).toBe(d0);
    expect((await s.gate.evaluate(read())).verdict).toBe(Verdict.ALLOW);

    // good file: decisions follow the new policy
    replaceFile(s.policyPath, STRICT);
    await until(async () => (await s.gate.getServerInfo({})).policyDigest === digestOf(STRICT), "reload of the good file");
    const r = await s.gate.evaluate(read());
    expect(r.verdict).toBe(Verdict.BLOCK);
    expect(r.policyDigest).toBe(digestOf(STRICT));

    // broken file: the last good policy stays, the error is reported
    replaceFile(s.policyPath, "schema_id: gait.gate.policy\nrules: [ {name: x, effect: nonsense} ]\n");
    await until(async () => (await s.gate.getServerInfo({})).policyReloadError !== "", "the reload error");
    const info = await s.gate.getServerInfo({});
    expect(info.policyDigest).toBe(digestOf(STRICT));
    expect(info.policyReloadError).toMatch(/parse policy/);
    expect((await s.health.check({ service: "gait.gate.v1.PolicyReload" })).status).toBe(S.NOT_SERVING);
    expect((await s.health.check({ service: "" })).status).toBe(S.SERVING); // still deciding with the good policy
    expect((await s.gate.evaluate(read())).verdict).toBe(Verdict.BLOCK);
    expect(s.stderr()).toContain("policy reload failed");

    // SIGHUP after fixing the file in place without a watcher event being needed
    writeFileSync(s.policyPath, BASE_POLICY);
    s.child.kill("SIGHUP");
    await until(async () => (await s.gate.getServerInfo({})).policyDigest === d0, "SIGHUP reload");
    expect((await s.gate.getServerInfo({})).policyReloadError).toBe("");
    expect((await s.health.check({ service: "gait.gate.v1.PolicyReload" })).status).toBe(S.SERVING);
    expect((await s.gate.evaluate(read())).verdict).toBe(Verdict.ALLOW);
  });

  it("a pinned digest: start refuses a mismatch; reload keeps the pinned policy on a mismatching file", async () => {
    const d0 = digestOf(BASE_POLICY);
    const refused = await startServer({ policy: STRICT, extraArgs: ["--policy-digest", `sha256:${d0}`], expectFailure: true });
    expect(refused.child.exitCode).toBe(6);
    expect(refused.stderr()).toContain(`--policy-digest pins sha256:${d0}`);
    cleanup(refused.dir);

    const s = await startServer({ policy: BASE_POLICY, extraArgs: ["--policy-digest", `sha256:${d0}`] });
    servers.push(s);
    replaceFile(s.policyPath, STRICT);
    await until(async () => (await s.gate.getServerInfo({})).policyReloadError !== "", "the pin mismatch report");
    const info = await s.gate.getServerInfo({});
    expect(info.policyDigest).toBe(d0);
    expect(info.policyReloadError).toContain("--policy-digest pins");
    expect((await s.gate.evaluate(read())).verdict).toBe(Verdict.ALLOW);
  });

  it("start refuses an unreadable or invalid policy with exit 6 and a clear message", async () => {
    const dir = tempDir();
    const bad = await startServer({ policy: "rules: [ {name: x, effect: maybe} ]\n", dir, expectFailure: true });
    expect(bad.child.exitCode).toBe(6);
    expect(bad.stderr()).toMatch(/parse policy .*policy\.yaml/);
    cleanup(dir);
  });
});
