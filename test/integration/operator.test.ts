/**
 * The operator plane end to end on the real server: kill-switch RPCs (set/list/clear/expire, in force for the next
 * decision), the filtered decision stream, the operator CLI (`gait approvals|killswitch|trace tail`) finding the
 * socket by the socket rule, the agent socket refused every operator method, and every operator action a signed
 * record that `gait trace verify` accepts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { BASE_POLICY, ROOT, cleanup, errorReason, intent, rejects, startServer, type Server } from "./harness.js";

const write = (path: string, identity = "agent-1") => ({ input: { case: "intent" as const, value: { ...intent("tool.write", { path }), context: { identity, workspace: "/work", riskClass: "low" } } } });
const read = (identity = "agent-1") => ({ input: { case: "intent" as const, value: { ...intent("tool.read", {}), context: { identity, workspace: "/work", riskClass: "low" } } } });

let s: Server;
/** Run `bin/gait` with the operator socket from the environment (the socket rule), as a user would. */
function gait(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "gait"), ...args], { encoding: "utf8", env: { ...process.env, GAIT_OPERATOR_SOCKET: s.operatorSocket, ...env }, cwd: s.dir });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const json = (args: string[]) => {
  const r = gait([...args, "--json"]);
  if (r.code !== 0) throw new Error(`gait ${args.join(" ")} exited ${r.code}: ${r.out}${r.err}`);
  return JSON.parse(r.out) as Record<string, any>;
};

beforeAll(async () => {
  s = await startServer({ policy: BASE_POLICY, operator: true, extraArgs: ["--kill-switch-state", "ks.json", "--decision-log", "info"] });
});
afterAll(async () => {
  await s?.stop();
  if (s) cleanup(s.dir);
});

describe("operator plane", () => {
  it("the agent socket refuses every operator method (OPERATOR_ONLY)", async () => {
    const calls: [string, () => Promise<unknown>][] = [
      ["setKillSwitch", () => s.gate.setKillSwitch({ toolName: "tool.read", reason: "x", actor: "agent-1" })],
      ["listKillSwitches", () => s.gate.listKillSwitches({})],
      ["clearKillSwitch", () => s.gate.clearKillSwitch({ entryId: "x", actor: "agent-1" })],
      ["approve", () => s.gate.approve({ target: { case: "approvalRequestId", value: "apr_1" }, decision: 1, approver: "agent-2", reasonCode: "x", ttl: { seconds: 60n } })],
      ["listApprovals", () => s.gate.listApprovals({})],
    ];
    for (const [name, call] of calls) {
      const e = await rejects(call());
      expect(e.code, name).toBe(grpc.status.PERMISSION_DENIED);
      expect(errorReason(e), name).toBe("OPERATOR_ONLY");
    }
    // the stream too
    const stream = s.gate.watchDecisions({ follow: false }) as AsyncIterable<unknown>;
    let err: unknown;
    try {
      for await (const _ of stream) expect.unreachable("an agent received a decision from WatchDecisions");
    } catch (e) {
      err = e;
    }
    expect((err as grpc.ServiceError).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(errorReason(err)).toBe("OPERATOR_ONLY");
  });

  it("approval round trip through the CLI: list, grant -> allow once; deny -> stays blocked", async () => {
    const first = await s.gate.evaluate(write("/etc/a.conf"));
    expect(first.verdict).toBe(Verdict.REQUIRE_APPROVAL);
    const other = await s.gate.evaluate(write("/etc/b.conf"));
    const listed = gait(["approvals", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(first.approvalRequestId);
    expect(listed.out).toMatch(new RegExp(`${first.approvalRequestId}\\s+pending\\s+tool.write\\s+from agent-1\\s+0/1 approvals`));
    const shown = json(["approvals", "show", first.approvalRequestId]);
    expect(shown.request).toMatchObject({ approval_request_id: first.approvalRequestId, state: "pending", tool_name: "tool.write", identity: "agent-1", intent_digest: first.intentDigest });

    const g = gait(["approvals", "grant", first.approvalRequestId, "--approver", "ops@example.com", "--reason", "change_42", "--ttl", "5m"]);
    expect(g.code, g.err).toBe(0);
    expect(g.out).toContain(`granted ${first.approvalRequestId}`);
    expect(g.out).toContain("is allowed (once)");
    const allowed = await s.gate.evaluate({ ...write("/etc/a.conf"), approvalRequestId: first.approvalRequestId });
    expect(allowed.verdict).toBe(Verdict.ALLOW);

    const d = json(["approvals", "deny", other.approvalRequestId, "--approver", "ops@example.com", "--reason", "not today"]);
    expect(d.request).toMatchObject({ state: "denied", denied_by: "ops@example.com", deny_reason: "not today" });
    const still = await s.gate.evaluate({ ...write("/etc/b.conf"), approvalRequestId: other.approvalRequestId });
    expect(still.verdict).toBe(Verdict.BLOCK);
    expect(still.reasonCodes).toContain("approval_request_denied");
    expect(gait(["approvals", "list"]).out).not.toContain(other.approvalRequestId);
    expect(json(["approvals", "list", "--all"]).approvals.map((a: { approval_request_id: string }) => a.approval_request_id)).toEqual(expect.arrayContaining([first.approvalRequestId, other.approvalRequestId]));

    // the agent cannot approve its own call, even from the operator socket
    const own = await s.gate.evaluate(write("/etc/c.conf"));
    const self = gait(["approvals", "grant", own.approvalRequestId, "--approver", "agent-1", "--reason", "me"]);
    expect(self.code).toBe(6);
    expect(self.err).toContain("an agent cannot approve its own call");
  });

  it("a kill switch set from the CLI blocks the next call; clear lifts it; expire keeps it listed", async () => {
    expect((await s.gate.evaluate(read())).verdict).toBe(Verdict.ALLOW);
    const set = json(["killswitch", "set", "--tool-name", "tool.read", "--reason", "incident 7", "--actor", "oncall@example.com", "--ttl", "1h"]);
    expect(set.entry).toMatchObject({ tool_name: "tool.read", reason: "incident 7", actor: "oncall@example.com", active: true, enabled: true });
    const id = set.entry.entry_id as string;
    const blocked = await s.gate.evaluate(read());
    expect(blocked.verdict).toBe(Verdict.BLOCK);
    expect(blocked.reasonCodes).toEqual(expect.arrayContaining(["kill_switch_active", "kill_switch_tool_name_active"]));
    // other tools and other entries are untouched; the state file is Gait's format
    expect(JSON.parse(readFileSync(join(s.dir, "ks.json"), "utf8"))).toMatchObject({ schema_id: "gait.gate.kill_switch_state", entries: [{ entry_id: id, tool_name: "tool.read", enabled: true }] });
    const listed = gait(["killswitch", "list"]);
    expect(listed.out).toMatch(new RegExp(`${id}\\s+active\\s+tool_name=tool.read\\s+expires \\S+\\s+by oncall@example.com: incident 7`));

    const expired = json(["killswitch", "clear", id, "--expire", "--actor", "oncall@example.com"]);
    expect(expired.entry).toMatchObject({ entry_id: id, active: false });
    expect((await s.gate.evaluate(read())).verdict).toBe(Verdict.ALLOW);
    expect(gait(["killswitch", "list"]).out).toContain("no active kill-switch entries");
    expect(gait(["killswitch", "list", "--all"]).out).toMatch(new RegExp(`${id}\\s+expired`));

    const again = json(["killswitch", "set", "--identity", "agent-9", "--reason", "rogue", "--actor", "oncall@example.com"]);
    expect((await s.gate.evaluate(read("agent-9"))).verdict).toBe(Verdict.BLOCK);
    expect((await s.gate.evaluate(read("agent-1"))).verdict).toBe(Verdict.ALLOW);
    const removed = gait(["killswitch", "clear", again.entry.entry_id, "--actor", "oncall@example.com", "--reason", "contained"]);
    expect(removed.code, removed.err).toBe(0);
    expect(removed.out).toContain(`removed kill-switch entry ${again.entry.entry_id}`);
    expect((await s.gate.evaluate(read("agent-9"))).verdict).toBe(Verdict.ALLOW);
  });

  it("kill-switch input errors say what is wrong (exit 6), nothing changes", async () => {
    const before = readFileSync(join(s.dir, "ks.json"), "utf8");
    const noSel = gait(["killswitch", "set", "--reason", "x", "--actor", "me"]);
    expect(noSel.code).toBe(6);
    expect(noSel.err).toContain("at least one selector");
    const noReason = gait(["killswitch", "set", "--tool-name", "tool.read", "--actor", "me"]);
    expect(noReason.code).toBe(6);
    expect(noReason.err).toContain("--reason is required");
    const past = await rejects(s.op.setKillSwitch({ toolName: "tool.read", reason: "x", actor: "me", expiresAt: { seconds: 1000n } }));
    expect(errorReason(past)).toBe("INVALID_ARGUMENT");
    expect(past.details).toContain("not in the future");
    const kind = await rejects(s.op.setKillSwitch({ targetKind: "planet", reason: "x", actor: "me" }));
    expect(errorReason(kind)).toBe("INVALID_ARGUMENT");
    expect(kind.details).toContain("target_kind is unsupported");
    const noActor = await rejects(s.op.setKillSwitch({ toolName: "tool.read", reason: "x" }));
    expect(noActor.details).toContain("actor is required");
    const unknown = gait(["killswitch", "clear", "nope", "--actor", "me"]);
    expect(unknown.code).toBe(6);
    expect(unknown.err).toContain("kill-switch entry nope not found");
    const e = await rejects(s.op.clearKillSwitch({ entryId: "nope", actor: "me" }));
    expect(e.code).toBe(grpc.status.NOT_FOUND);
    expect(errorReason(e)).toBe("KILL_SWITCH_ENTRY_NOT_FOUND");
    expect(readFileSync(join(s.dir, "ks.json"), "utf8")).toBe(before);
  });

  it("WatchDecisions filters by verdict, tool, identity and reason; trace tail prints one line per decision", async () => {
    const r7 = await s.gate.evaluate(read("agent-7"));
    const del = await s.gate.evaluate({ input: { case: "intent", value: intent("tool.delete") } });
    const lines = (args: string[]) => {
      const r = gait(["trace", "tail", "--from", "0", "--no-follow", "--json", ...args]);
      expect(r.code, r.err).toBe(0);
      return r.out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
    };
    const blocks = lines(["--verdict", "block"]);
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.every((e) => e.verdict === "block" && e.kind === "decision")).toBe(true);
    expect(blocks.map((e) => e.sequence)).toContain(Number(del.traceSequence));
    const mine = lines(["--identity", "agent-7"]);
    expect(mine.map((e) => e.sequence)).toEqual([Number(r7.traceSequence)]);
    expect(mine[0]).toMatchObject({ verdict: "allow", tool_name: "tool.read", identity: "agent-7", trace_id: r7.traceId });
    expect(mine[0]!.latency_ms).toBeGreaterThan(0);
    const ks = lines(["--reason", "kill_switch_active"]);
    expect(ks.length).toBeGreaterThanOrEqual(2);
    expect(ks.every((e) => e.reason_codes.includes("kill_switch_active"))).toBe(true);
    const pending = lines(["--verdict", "require_approval", "--tool", "tool.write"]);
    expect(pending.every((e) => e.approval_request_id?.startsWith("apr_"))).toBe(true);
    // operator actions only on request, and then every kind of action is there
    expect(lines([]).some((e) => e.kind === "operator_action")).toBe(false);
    const actions = lines(["--operator-actions", "--identity", "ops@example.com,oncall@example.com"]).filter((e) => e.kind === "operator_action").map((e) => e.action);
    expect(new Set(actions)).toEqual(new Set(["approval_grant", "approval_deny", "kill_switch_set", "kill_switch_clear"]));
    // human form: one line per decision
    const human = gait(["trace", "tail", "--from", "0", "--no-follow", "--identity", "agent-7"]);
    expect(human.out).toMatch(new RegExp(`^#${r7.traceSequence} \\S+ allow\\s+tool.read agent-7 \\[[a-z_,]*\\] \\d+\\.\\d+ms\\n$`));
    // bad filters are input errors
    expect(gait(["trace", "tail", "--verdict", "maybe"]).code).toBe(6);
  });

  it("trace tail follows: a decision made after it started appears", async () => {
    const child = spawn(process.execPath, [join(ROOT, "bin", "gait"), "trace", "tail", "--last", "0", "--identity", "agent-follow", "--max", "1", "--json"], {
      env: { ...process.env, GAIT_OPERATOR_SOCKET: s.operatorSocket },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    // keep deciding until the follower, whenever it is connected, has seen one (no timing assumption)
    let code: number | null | undefined;
    void exited.then((c) => (code = c));
    let made = 0;
    while (code === undefined && made < 200) {
      await s.gate.evaluate(read("agent-follow"));
      made++;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(await exited).toBe(0);
    const e = JSON.parse(out.trim().split("\n")[0]!) as Record<string, unknown>;
    expect(e).toMatchObject({ identity: "agent-follow", verdict: "allow", kind: "decision" });
  });

  it("the decision log line (--decision-log info) names verdict, tool, identity and reasons, never arguments", () => {
    const lines = s.stderr().split("\n").filter((l) => l.includes('"msg":"decision"'));
    expect(lines.length).toBeGreaterThan(0);
    const l = JSON.parse(lines.find((x) => x.includes("agent-7"))!) as Record<string, unknown>;
    expect(l).toMatchObject({ level: 30, verdict: "allow", tool_name: "tool.read", identity: "agent-7" });
    expect(l.latency_ms).toEqual(expect.any(Number));
    expect(s.stderr()).not.toContain("/etc/a.conf"); // arguments are never logged
  });

  it("every operator action is a signed record that gait trace verify accepts", () => {
    const v = spawnSync(process.execPath, [join(ROOT, "bin", "gait"), "trace", "verify", s.traceDir, "--public-key", join(s.stateDir, "keys", "dev_public.key"), "--json"], { encoding: "utf8" });
    expect(v.status, v.stdout + v.stderr).toBe(0);
    // the server is running: its active segment has a preallocated zero-filled tail, which ends the data
    const records = readFileSync(join(s.traceDir, "segment-00000000000000000001.jsonl"), "utf8")
      .split("\0")[0]!
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { record?: Record<string, unknown> })
      .map((e) => e.record)
      .filter((r) => r?.schema_id === "gait.gate.operator_action");
    const kinds = records.map((r) => r!.action);
    expect(kinds.filter((k) => k === "kill_switch_set").length).toBe(2);
    expect(kinds.filter((k) => k === "kill_switch_clear").length).toBe(2);
    expect(records.every((r) => typeof (r!.signature as { sig?: unknown })?.sig === "string" || typeof r!.signature === "object")).toBe(true);
    const set = records.find((r) => r!.action === "kill_switch_set")!;
    expect(set).toMatchObject({ actor: "oncall@example.com", tool_name: "tool.read", entry: { tool_name: "tool.read", reason: "incident 7" } });
  });
});

describe("decision log sampling", () => {
  it("logs 1 decision in every n, the same ones every run", async () => {
    const { decisionLogger } = await import("../../src/main/serve.js");
    const lines: unknown[] = [];
    const fake = { info: (f: unknown) => lines.push(f), debug: () => expect.unreachable("wrong level") } as unknown as Parameters<typeof decisionLogger>[0];
    const log = decisionLogger(fake, "info", 3);
    for (let i = 1; i <= 7; i++) log({ seq: i, tool_name: "t", identity: "a", reason_codes: [], trace_id: "" });
    expect(lines.map((l) => (l as { seq: number }).seq)).toEqual([1, 4, 7]);
  });
});

describe("without --kill-switch-state", () => {
  it("kill-switch changes are refused with the fix, listing works (empty)", async () => {
    const t = await startServer({ policy: BASE_POLICY, operator: true });
    try {
      const e = await rejects(t.op.setKillSwitch({ toolName: "tool.read", reason: "x", actor: "me" }));
      expect(e.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(e.details).toContain("--kill-switch-state");
      expect((await t.op.listKillSwitches({})).entries).toEqual([]);
      // the CLI finds the socket from a config file's operator_listen too
      writeFileSync(join(t.dir, "serve.yaml"), `operator_listen: unix://${t.operatorSocket}\n`);
      const r = spawnSync(process.execPath, [join(ROOT, "bin", "gait"), "killswitch", "list", "--config", join(t.dir, "serve.yaml")], { encoding: "utf8", env: { ...process.env, GAIT_OPERATOR_SOCKET: "" } });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain("no active kill-switch entries");
      // and says where it looked when nothing listens there
      const none = spawnSync(process.execPath, [join(ROOT, "bin", "gait"), "approvals", "list", "--operator-socket", join(t.dir, "missing.sock")], { encoding: "utf8" });
      expect(none.status).toBe(1);
      expect(none.stderr).toContain(`no operator socket at ${join(t.dir, "missing.sock")} (from --operator-socket)`);
    } finally {
      await t.stop();
      cleanup(t.dir);
    }
  });
});
