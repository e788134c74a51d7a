/**
 * Unix socket hygiene on the real server: created 0600 (another user gets EACCES), --socket-mode for group access,
 * a stale socket left by kill -9 is replaced, a live server's socket is not, over-long paths and unauthenticated TCP
 * listeners are refused at start-up.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { BASE_POLICY, cleanup, intent, startServer, tempDir, type Server } from "./harness.js";

/** Run a tiny node program as user `nobody` that connects to `socket` and prints "connected" or the error code. */
function connectAsNobody(socket: string): { ran: boolean; out: string; why?: string } {
  if (process.getuid?.() !== 0) return { ran: false, out: "", why: "not running as root: cannot switch to user nobody" };
  const tool = ["/usr/bin/setpriv", "/usr/sbin/runuser"].find((p) => existsSync(p));
  if (!tool) return { ran: false, out: "", why: "neither setpriv nor runuser is installed" };
  const prog = `require("net").connect(${JSON.stringify(socket)}).on("connect",function(){console.log("connected");this.destroy()}).on("error",e=>console.log(e.code))`;
  const args = tool.endsWith("setpriv")
    ? ["--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, "-e", prog]
    : ["-u", "nobody", "--", process.execPath, "-e", prog];
  const r = spawnSync(tool, args, { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0 && !r.stdout) return { ran: false, out: "", why: `${tool} failed: ${r.stderr || r.error?.message}` };
  return { ran: true, out: r.stdout.trim() };
}

let s: Server;
beforeAll(async () => {
  s = await startServer({ policy: BASE_POLICY, operator: true });
  chmodSync(s.dir, 0o755); // let other users reach the directory, so only the socket's own mode protects it
});
afterAll(async () => {
  await s?.stop();
  if (s) cleanup(s.dir);
});

describe("socket permissions", () => {
  it("creates agent and operator sockets 0600", () => {
    expect(statSync(s.socket).mode & 0o777).toBe(0o600);
    expect(statSync(s.operatorSocket).mode & 0o777).toBe(0o600);
  });

  it("another user gets EACCES (and can connect once the mode allows it: the mode is what refused)", (ctx) => {
    const denied = connectAsNobody(s.socket);
    if (!denied.ran) ctx.skip(denied.why);
    expect(denied.out).toBe("EACCES");
    chmodSync(s.socket, 0o666);
    try {
      expect(connectAsNobody(s.socket).out).toBe("connected");
    } finally {
      chmodSync(s.socket, 0o600);
    }
  });

  it("--socket-mode 0660 grants group access; world-open modes are refused", async () => {
    const g = await startServer({ policy: BASE_POLICY, extraArgs: ["--socket-mode", "0660"] });
    try {
      expect(statSync(g.socket).mode & 0o777).toBe(0o660);
    } finally {
      await g.stop();
      cleanup(g.dir);
    }
    const w = await startServer({ policy: BASE_POLICY, extraArgs: ["--socket-mode", "0666"], expectFailure: true });
    expect(w.child.exitCode).toBe(6);
    expect(w.stderr()).toContain("refusing a socket open to all users");
    cleanup(w.dir);
  });
});

describe("socket life cycle", () => {
  it("replaces a stale socket after kill -9, refuses a live one, removes its socket on shutdown", async () => {
    const dir = tempDir();
    const a = await startServer({ policy: BASE_POLICY, dir });
    // a second server on the same live socket must refuse and leave it alone
    const b = await startServer({
      policy: BASE_POLICY,
      dir,
      extraArgs: ["--state", join(dir, "state-b"), "--trace-dir", join(dir, "traces-b")],
      expectFailure: true,
    });
    expect(b.child.exitCode).not.toBe(0);
    expect(b.stderr()).toContain("another server is listening");
    expect((await a.gate.evaluate({ input: { case: "intent", value: intent("tool.read") } })).verdict).toBe(Verdict.ALLOW);
    await a.kill9();
    expect(existsSync(a.socket)).toBe(true); // left behind by the crash
    const c = await startServer({ policy: BASE_POLICY, dir });
    expect(c.stderr()).toContain("removed a stale socket");
    expect((await c.gate.evaluate({ input: { case: "intent", value: intent("tool.read") } })).verdict).toBe(Verdict.ALLOW);
    expect(await c.stop()).toBe(0);
    expect(existsSync(c.socket)).toBe(false);
    cleanup(dir);
  });

  it("refuses a socket path over 107 bytes and a TCP listener without token auth", async () => {
    const dir = tempDir();
    const long = join(dir, "x".repeat(120) + ".sock");
    const l = await startServer({ policy: BASE_POLICY, dir, extraArgs: ["--listen", `unix://${long}`], expectFailure: true });
    expect(l.child.exitCode).toBe(6);
    expect(l.stderr()).toContain("socket path too long");
    const t = await startServer({ policy: BASE_POLICY, dir, extraArgs: ["--listen", "127.0.0.1:0"], expectFailure: true });
    expect(t.child.exitCode).toBe(6);
    expect(t.stderr()).toContain("requires --auth-mode token");
    cleanup(dir);
  });
});
