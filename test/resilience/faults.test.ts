/**
 * Faults of the host, against the real server (issue 7 items 3, 5, 6, 7, 8): untrusted directories and files, a
 * full disk under the log output and under the trace log (a real size-limited tmpfs, mounted where the machine
 * allows), state that went backwards (approval journal, trace segments, head markers), a policy rewritten in place,
 * a restart right after kill -9, and an approval TTL past year 9999. None of them may yield allow; each must end in a
 * refusal with a message that says what was found, or in recovery by itself.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chmodSync, chownSync, closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ApprovalDecision } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { Ed25519KeyPair } from "../../src/infra/keys.js";
import { BASE_POLICY, ROOT, cleanup, errorReason, intent, rejects, startServer, tempDir, type Server } from "../integration/harness.js";
import { report } from "./report.js";

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const GAIT = join(ROOT, "bin", "gait");
const dirs: string[] = [];
const servers: Server[] = [];
const fresh = () => {
  const d = tempDir("gait-rs-");
  dirs.push(d);
  return d;
};
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop().catch(() => undefined);
});
afterAll(() => {
  for (const d of dirs) {
    spawnSync("umount", ["-l", join(d, "traces")], { stdio: "ignore" });
    cleanup(d);
  }
});
const start = async (o: Parameters<typeof startServer>[0]) => {
  const s = await startServer(o);
  servers.push(s);
  return s;
};
const read = (tool: string, args: Record<string, unknown> = {}) => ({ input: { case: "intent" as const, value: intent(tool, args) } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start expecting a refusal; returns stderr. */
async function refusedStart(o: Parameters<typeof startServer>[0]): Promise<string> {
  const s = await startServer({ ...o, expectFailure: true });
  expect(s.child.exitCode, s.stderr()).not.toBe(0);
  return s.stderr();
}

describe.skipIf(!isRoot)("item 3: untrusted directories and files are refused (root: the test chowns to nobody)", () => {
  it("a world-writable state directory owned by nobody, with a planted dev key", async () => {
    const dir = fresh();
    const state = join(dir, "state");
    mkdirSync(join(state, "keys"), { recursive: true });
    writeFileSync(join(state, "keys", "dev_private.key"), Ed25519KeyPair.generate().privateKeyText(), { mode: 0o600 });
    for (const p of [state, join(state, "keys"), join(state, "keys", "dev_private.key")]) chownSync(p, NOBODY, NOBODY);
    chmodSync(state, 0o777);
    const err = await refusedStart({ policy: BASE_POLICY, dir });
    expect(err).toMatch(/refusing to start with untrusted paths/);
    expect(err).toMatch(/state directory .* owned by uid 65534/);
    expect(err).toMatch(/writable by all users \(mode 0777\)/);
  });

  it("a trusted state directory with a key file someone else owns or everyone can read", async () => {
    const dir = fresh();
    const keys = join(dir, "state", "keys");
    mkdirSync(keys, { recursive: true, mode: 0o700 });
    const key = join(keys, "dev_private.key");
    writeFileSync(key, Ed25519KeyPair.generate().privateKeyText(), { mode: 0o600 });
    chownSync(key, NOBODY, NOBODY);
    expect(await refusedStart({ policy: BASE_POLICY, dir })).toMatch(/dev signing key .* owned by uid 65534/);
    chownSync(key, 0, 0);
    chmodSync(key, 0o644);
    expect(await refusedStart({ policy: BASE_POLICY, dir })).toMatch(/dev signing key .* readable by all users/);
    chmodSync(key, 0o600);
    const s = await start({ policy: BASE_POLICY, dir });
    expect((await s.gate.evaluate(read("tool.read"))).verdict).toBe(Verdict.ALLOW);
  });

  it("a prod key readable by all, a group-writable policy, a socket or trace directory others can write", async () => {
    const dir = fresh();
    const keyPath = join(dir, "prod.key");
    writeFileSync(keyPath, Ed25519KeyPair.generate().privateKeyText(), { mode: 0o644 });
    chmodSync(keyPath, 0o644);
    expect(await refusedStart({ policy: BASE_POLICY, dir, extraArgs: ["--key-mode", "prod", "--private-key", keyPath] })).toMatch(/signing key .* readable by all users/);
    chmodSync(keyPath, 0o600);
    writeFileSync(join(dir, "policy.yaml"), BASE_POLICY);
    chmodSync(join(dir, "policy.yaml"), 0o664);
    expect(await refusedStart({ policy: BASE_POLICY, dir })).toMatch(/policy file .* writable by its group/);
    chmodSync(join(dir, "policy.yaml"), 0o644);
    const sockDir = join(dir, "sock");
    mkdirSync(sockDir, { mode: 0o777 });
    chmodSync(sockDir, 0o777);
    expect(await refusedStart({ policy: BASE_POLICY, dir, extraArgs: ["--operator-listen", `unix://${join(sockDir, "op.sock")}`] })).toMatch(/socket directory \(--operator-listen\) .* writable by all users/);
    chmodSync(sockDir, 0o1777); // sticky, like /tmp: others cannot remove our socket
    const traces = join(dir, "traces");
    mkdirSync(traces, { recursive: true });
    chownSync(traces, NOBODY, NOBODY);
    expect(await refusedStart({ policy: BASE_POLICY, dir, extraArgs: ["--operator-listen", `unix://${join(sockDir, "op.sock")}`] })).toMatch(/trace directory .* owned by uid 65534/);
    chownSync(traces, 0, 0);
    const s = await start({ policy: BASE_POLICY, dir, extraArgs: ["--operator-listen", `unix://${join(sockDir, "op.sock")}`] });
    expect((await s.gate.evaluate(read("tool.read"))).verdict).toBe(Verdict.ALLOW);
  });
});

describe("item 5: full disks", () => {
  it("log output on a full file system (/dev/full): the gate keeps deciding through nesting errors and SIGHUPs", async () => {
    const dir = fresh();
    const policy = join(dir, "policy.yaml");
    writeFileSync(policy, BASE_POLICY);
    const sock = join(dir, "gate.sock");
    const full = openSync("/dev/full", "w");
    const child: ChildProcess = spawn(process.execPath, [GAIT, "mcp", "serve", "--policy", policy, "--listen", `unix://${sock}`, "--state", join(dir, "state"), "--json"], {
      cwd: dir,
      stdio: ["ignore", "pipe", full],
    });
    closeSync(full);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = once(child, "exit");
    try {
      for (let i = 0; i < 200 && !out.includes('"ok":true'); i++) await sleep(50);
      expect(out).toContain('"ok":true');
      const { channel } = await import("../integration/harness.js");
      const { createClient } = await import("../../src/transport/grpc/adapter.js");
      const { GateService } = await import("../../src/gen/gait/gate/v1/gate_service_pb.js");
      const ch = channel(sock);
      const gate = createClient(GateService, ch);
      let deep: unknown = "x";
      for (let i = 0; i < 1500; i++) deep = [deep];
      const tc = (json: string) => ({ input: { case: "toolCall" as const, value: { adapter: "mcp", payload: { case: "callJson" as const, value: json } } } });
      for (let i = 0; i < 50; i++) {
        const e = await rejects(gate.evaluate(tc(JSON.stringify({ name: "tool.read", args: { deep } }))));
        expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
      }
      for (let i = 0; i < 20; i++) {
        child.kill("SIGHUP");
        await sleep(20);
      }
      await sleep(500);
      expect(child.exitCode).toBeNull();
      expect((await gate.evaluate(read("tool.read"))).verdict).toBe(Verdict.ALLOW);
      ch.close();
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    expect(child.exitCode).toBe(0);
  });

  it.skipIf(!isRoot)("trace volume full (a 1 MiB tmpfs): allows only into space already allocated and durable, then TRACE_WRITE_FAILED and NOT_SERVING, then recovery by itself once space is freed; no acknowledged allow missing", async () => {
    const dir = fresh();
    const traces = join(dir, "traces");
    mkdirSync(traces, { recursive: true, mode: 0o750 });
    const m = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0750", "tmpfs", traces], { encoding: "utf8" });
    if (m.status !== 0) {
      console.log(`[resilience] cannot mount tmpfs here (${m.stderr.trim()}); skipping the trace-volume test`);
      return;
    }
    const s = await start({ policy: BASE_POLICY, dir });
    const acked = new Set<bigint>();
    for (let i = 0; i < 20; i++) acked.add((await s.gate.evaluate(read("tool.read", { i }))).traceSequence);
    // fill the volume
    const filler = join(traces, "filler");
    const fd = openSync(filler, "w");
    try {
      for (;;) writeSync(fd, Buffer.alloc(4096, 1));
    } catch {
      /* ENOSPC: full */
    }
    closeSync(fd);
    let allows = 0;
    let errors = 0;
    let reasons = new Set<string>();
    for (let i = 0; i < 200; i++) {
      try {
        const r = await s.gate.evaluate(read("tool.read", { full: i }), { timeoutMs: 5000 });
        if (r.verdict === Verdict.ALLOW) {
          allows++;
          acked.add(r.traceSequence);
        }
      } catch (e) {
        errors++;
        reasons.add(`${(e as grpc.ServiceError).code}:${errorReason(e)}`);
        if (errors > 5) break;
      }
    }
    expect(errors).toBeGreaterThan(0);
    expect([...reasons].every((r) => r === `${grpc.status.UNAVAILABLE}:TRACE_WRITE_FAILED`), [...reasons].join(",")).toBe(true);
    for (let i = 0; i < 100 && (await s.health.check({ service: "" })).status === 1; i++) await sleep(20);
    expect((await s.health.check({ service: "" })).status).toBe(2); // NOT_SERVING
    expect((await s.health.check({ service: "gait.gate.v1.TraceLog" })).status).toBe(2);
    // free the space: the server recovers by itself
    const freed = Date.now();
    rmSync(filler);
    let recoveredMs = -1;
    for (let i = 0; i < 300; i++) {
      if ((await s.health.check({ service: "" })).status === 1) {
        recoveredMs = Date.now() - freed;
        break;
      }
      await sleep(20);
    }
    expect(recoveredMs).toBeGreaterThanOrEqual(0);
    const after = await s.gate.evaluate(read("tool.read", { after: true }));
    expect(after.verdict).toBe(Verdict.ALLOW);
    acked.add(after.traceSequence);
    await s.stop();
    servers.pop();
    // every acknowledged allow is in the log, which verifies
    const v = spawnSync(process.execPath, [GAIT, "trace", "verify", traces, "--private-key", join(dir, "state", "keys", "dev_private.key"), "--json"], { encoding: "utf8" });
    expect(v.status, v.stdout + v.stderr).toBe(0);
    const lines = readdirSync(traces).filter((n) => n.startsWith("segment-")).flatMap((n) => readFileSync(join(traces, n), "utf8").split("\n"));
    const seqs = new Set(lines.filter((l) => l.startsWith('{"seq":')).map((l) => BigInt(JSON.parse(l).seq as number)));
    const missing = [...acked].filter((q) => !seqs.has(q)).length;
    report("fault-trace-volume-full", { acknowledged_before_and_after: acked.size, allows_while_full: allows, refused_while_full: errors, recovery_ms_after_space_freed: recoveredMs, missing_acknowledged: missing });
    expect(missing).toBe(0);
  });
});

describe("item 6: state that went backwards is noticed", () => {
  async function withToken(dir: string): Promise<{ token: string; call: ReturnType<typeof read> }> {
    const s = await start({ policy: BASE_POLICY, dir, operator: true });
    const call = read("tool.write", { path: "/state" });
    const r = await s.gate.evaluate(call);
    const g = await s.op.approve({ target: { case: "approvalRequestId", value: r.approvalRequestId }, decision: ApprovalDecision.GRANT, approver: "bob", reasonCode: "ok", ttl: { seconds: 600n } });
    expect((await s.gate.evaluate({ ...call, approvalTokens: [g.tokenJson] })).verdict).toBe(Verdict.ALLOW);
    for (let i = 0; i < 5; i++) await s.gate.evaluate(read("tool.read", { i }));
    await s.stop();
    servers.pop();
    return { token: g.tokenJson, call };
  }

  it("an emptied approval journal: start refused; --reset-approval-state starts over and the spent token stays refused", async () => {
    const dir = fresh();
    const { token, call } = await withToken(dir);
    writeFileSync(join(dir, "state", "approvals", "approvals.jsonl"), "");
    const err = await refusedStart({ policy: BASE_POLICY, dir, operator: true });
    expect(err).toMatch(/approval journal .* head marker records .* spent tokens could be used again/);
    expect(err).toMatch(/--reset-approval-state/);
    const s = await start({ policy: BASE_POLICY, dir, operator: true, extraArgs: ["--reset-approval-state"] });
    const replay = await s.gate.evaluate({ ...call, approvalTokens: [token] });
    expect(replay.verdict).not.toBe(Verdict.ALLOW);
    expect(replay.reasonCodes).toContain("approval_token_revoked");
  });

  it("a wiped approval directory (journal and marker): the trace log remembers the ledger and start is refused", async () => {
    const dir = fresh();
    await withToken(dir);
    rmSync(join(dir, "state", "approvals"), { recursive: true, force: true });
    expect(await refusedStart({ policy: BASE_POLICY, dir, operator: true })).toMatch(/the trace log recorded it at entry \d+: the approval state went backwards/);
  });

  it("deleted consume line: start refused", async () => {
    const dir = fresh();
    await withToken(dir);
    const path = join(dir, "state", "approvals", "approvals.jsonl");
    const lines = readFileSync(path, "utf8").trim().split("\n");
    writeFileSync(path, lines.filter((l) => !l.includes('"op":"consume"')).join("\n") + "\n");
    expect(await refusedStart({ policy: BASE_POLICY, dir, operator: true })).toMatch(/approval journal .*(behind its head marker|entries missing)/);
  });

  it("a trace log cut at a line boundary, a deleted segment, a deleted HEAD: start refused; trace verify --dir fails; --write-head accepts", async () => {
    const dir = fresh();
    await withToken(dir);
    const traces = join(dir, "traces");
    const seg = join(traces, readdirSync(traces).filter((n) => n.startsWith("segment-")).sort().at(-1)!);
    const original = readFileSync(seg, "utf8");
    const lines = original.trim().split("\n");
    writeFileSync(seg, lines.slice(0, -3).join("\n") + "\n"); // close checkpoint + 2 entries
    expect(await refusedStart({ policy: BASE_POLICY, dir, operator: true })).toMatch(/trace log .* behind its head marker/);
    const key = join(dir, "state", "keys", "dev_private.key");
    const v = spawnSync(process.execPath, [GAIT, "trace", "verify", traces, "--private-key", key], { encoding: "utf8" });
    expect(v.status).toBe(2);
    expect(v.stderr).toMatch(/behind its head marker/);
    const seg1 = spawnSync(process.execPath, [GAIT, "trace", "verify", seg, "--private-key", key, "--require-sealed"], { encoding: "utf8" });
    expect(seg1.status).toBe(2); // the cut segment alone passes only without --require-sealed
    writeFileSync(seg, original);
    // the newest segment deleted: the head marker still remembers its entries
    rmSync(seg);
    expect(await refusedStart({ policy: BASE_POLICY, dir, operator: true })).toMatch(/trace log .* behind its head marker .*a segment deleted/);
    const d = spawnSync(process.execPath, [GAIT, "trace", "verify", traces, "--private-key", key], { encoding: "utf8" });
    expect(d.status).toBe(2);
    // a refused start leaves the directory as it found it (no fresh genesis segment)
    expect(readdirSync(traces).filter((n) => n.startsWith("segment-"))).toEqual([]);
    // refused again: a refused start does not make the loss look like a fresh log
    expect(await refusedStart({ policy: BASE_POLICY, dir, operator: true })).toMatch(/trace log .* behind its head marker .*a segment deleted/);
    writeFileSync(seg, original, { mode: 0o600 });
    rmSync(join(traces, "HEAD"));
    expect(await refusedStart({ policy: BASE_POLICY, dir, operator: true })).toMatch(/no head marker \(HEAD\)/);
    const w = spawnSync(process.execPath, [GAIT, "trace", "verify", traces, "--private-key", key, "--write-head"], { encoding: "utf8" });
    expect(w.status, w.stderr).toBe(0);
    const s = await start({ policy: BASE_POLICY, dir, operator: true });
    expect((await s.gate.evaluate(read("tool.read"))).verdict).toBe(Verdict.ALLOW);
  });
});

describe("item 7: a policy rewritten in place is not loaded while it is being written", () => {
  it("the half-written prefix (which would allow tool.delete) never takes effect", async () => {
    const dir = fresh();
    const s = await start({ policy: BASE_POLICY, dir });
    expect((await s.gate.evaluate(read("tool.delete"))).verdict).toBe(Verdict.BLOCK);
    const prefix = "schema_id: gait.gate.policy\nschema_version: 1.0.0\ndefault_verdict: allow\n";
    const rest = "rules:\n  - name: block-delete\n    priority: 1\n    effect: block\n    match:\n      tool_names: [tool.delete]\n";
    const fd = openSync(s.policyPath, "r+");
    let allowed = 0;
    let tries = 0;
    try {
      ftruncateSync(fd, 0);
      writeSync(fd, prefix, 0);
      const until = Date.now() + 2500;
      while (Date.now() < until) {
        tries++;
        if ((await s.gate.evaluate(read("tool.delete", { tries }))).verdict === Verdict.ALLOW) allowed++;
        await sleep(25);
      }
      writeSync(fd, rest, Buffer.byteLength(prefix));
    } finally {
      closeSync(fd);
    }
    report("fault-policy-rewrite-in-place", { decisions_during_write: tries, allows_during_write: allowed });
    expect(allowed).toBe(0);
    // once the writer is done, the complete new policy loads (tool.read now allowed by its default, delete blocked)
    for (let i = 0; i < 100 && (await s.gate.getServerInfo({})).policyDigest === ""; i++) await sleep(20);
    let digest = "";
    for (let i = 0; i < 150; i++) {
      const info = await s.gate.getServerInfo({});
      if (info.policyReloadError === "" && (await s.gate.evaluate(read("tool.other"))).verdict === Verdict.ALLOW) {
        digest = info.policyDigest;
        break;
      }
      await sleep(20);
    }
    expect(digest).not.toBe("");
    expect((await s.gate.evaluate(read("tool.delete"))).verdict).toBe(Verdict.BLOCK);
  });
});

describe("item 8: locks and limits", () => {
  it("a restart right after kill -9 is not refused as locked; a LOCK file naming an unrelated live pid does not block", async () => {
    const dir = fresh();
    let s = await start({ policy: BASE_POLICY, dir });
    await s.gate.evaluate(read("tool.read"));
    s.child.kill("SIGKILL"); // no wait for the exit
    servers.pop();
    s = await start({ policy: BASE_POLICY, dir });
    expect((await s.gate.evaluate(read("tool.read"))).verdict).toBe(Verdict.ALLOW);
    await s.stop();
    servers.pop();
    writeFileSync(join(dir, "traces", "LOCK"), `${process.pid}\n`); // our own (live) test process
    writeFileSync(join(dir, "state", "approvals", "approvals.lock"), JSON.stringify({ pid: 1, start_time: "1", boot_id: "x", host: "other" }));
    s = await start({ policy: BASE_POLICY, dir });
    expect((await s.gate.evaluate(read("tool.read"))).verdict).toBe(Verdict.ALLOW);
    // and a second server on the same state is still refused
    const err = await refusedStart({ policy: BASE_POLICY, dir, extraArgs: ["--listen", `unix://${join(dir, "second.sock")}`] });
    expect(err).toMatch(/locked by a running process \(pid \d+/);
  });

  it("an approval TTL past year 9999 is refused, not minted with a broken expires_at", async () => {
    const dir = fresh();
    const s = await start({ policy: BASE_POLICY, dir, operator: true });
    const r = await s.gate.evaluate(read("tool.write", { ttl: 1 }));
    const e = await rejects(s.op.approve({ target: { case: "approvalRequestId", value: r.approvalRequestId }, decision: ApprovalDecision.GRANT, approver: "bob", reasonCode: "ok", ttl: { seconds: 315_576_000_000n } }));
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.details).toMatch(/9999/);
    const cli = spawnSync(process.execPath, [GAIT, "approve", "--intent-digest", r.intentDigest, "--policy-digest", r.policyDigest, "--ttl", "87660000h", "--scope", "tool:tool.write", "--approver", "bob", "--reason-code", "x"], { cwd: dir, encoding: "utf8" });
    expect(cli.status).toBe(6);
    expect(cli.stderr).toMatch(/9999/);
    expect(statSync(dir).isDirectory()).toBe(true);
  });
});
