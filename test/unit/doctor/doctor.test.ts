/**
 * `gait doctor`'s durability checks with an injected mount table (no root, no real tmpfs needed), and once with a real
 * tmpfs mount when the tests run as root (skipped otherwise, saying why).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defaultDoctorDeps, runDoctor, type Check, type DoctorDeps } from "../../../src/cli/commands/doctor.js";
import { CommandContext, defaultIO } from "../../../src/cli/io.js";
import { main } from "../../../src/cli/main.js";

const ROOT = resolve(__dirname, "..", "..", "..");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function setup(): { dir: string; args: string[] } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "gait-doctor-")));
  dirs.push(dir);
  chmodSync(dir, 0o700);
  const args = ["--policy", join(ROOT, "examples/policy.yaml"), "--state", join(dir, "state"), "--trace-dir", join(dir, "traces"), "--trace-max-count", "100000", "--listen", `unix://${join(dir, "gate.sock")}`, "--json"];
  return { dir, args };
}

/** Run doctor in-process with `deps` and return its exit code and checks. */
async function doctor(args: string[], deps: Partial<DoctorDeps>): Promise<{ code: number; checks: Record<string, Check> }> {
  let out = "";
  const io = { ...defaultIO(), stdout: (t: string) => void (out += t), stderr: () => undefined };
  const ctx = new CommandContext(io, "doctor", "", true);
  const code = await runDoctor(ctx, args, { ...defaultDoctorDeps(process.env), ...deps });
  const doc = JSON.parse(out) as { checks: Check[] };
  return { code, checks: Object.fromEntries(doc.checks.map((c) => [c.name, c])) };
}

const table = (...lines: string[]) => () => ["27 1 254:0 / / rw,relatime - ext4 /dev/vda rw", ...lines].join("\n");

describe("durable storage (injected mount table)", () => {
  it("a trace dir on tmpfs fails, explaining why; on a disk it is ok", async () => {
    const { dir, args } = setup();
    const onDisk = await doctor(args, { mountInfo: table() });
    expect(onDisk.checks["trace-dir"]).toMatchObject({ status: "ok" });
    expect(onDisk.checks["trace-dir"]!.detail).toContain("on ext4 (/)");
    const r = await doctor(args, { mountInfo: table(`40 27 0:40 / ${dir} rw - tmpfs none rw`) });
    expect(r.code).toBe(2);
    expect(r.checks["trace-dir"]).toMatchObject({ status: "fail" });
    expect(r.checks["trace-dir"]!.detail).toContain(`is on tmpfs (mounted at ${dir}): memory only, so everything written there is lost on a reboot or a pod restart`);
    expect(r.checks["trace-dir"]!.fix).toContain("persistent disk");
    // the approval state too: losing it would let spent tokens be used again
    expect(r.checks["approval-state"]).toMatchObject({ status: "fail" });
  });

  it("an existing runpack dir on ramfs fails; a socket dir on tmpfs is fine (sockets are not evidence)", async () => {
    const { dir, args } = setup();
    mkdirSync(join(dir, "runpacks"), { mode: 0o700 });
    const r = await doctor([...args, "--runpack-dir", join(dir, "runpacks"), "--runpack-max-count", "10"], { mountInfo: table(`41 27 0:41 / ${join(dir, "runpacks")} rw - ramfs ramfs rw`) });
    expect(r.checks["runpack-dir"]).toMatchObject({ status: "fail" });
    expect(r.checks["runpack-dir"]!.detail).toContain("is on ramfs");
    expect(r.checks["trace-dir"]).toMatchObject({ status: "ok" });
    expect(r.checks["agent-socket"]).toMatchObject({ status: "ok" });
  });

  it("no mount table: a warning that the file system is unknown, not a pass", async () => {
    const { args } = setup();
    const r = await doctor(args, { mountInfo: () => undefined });
    expect(r.checks["trace-dir"]).toMatchObject({ status: "warn" });
    expect(r.checks["trace-dir"]!.detail).toContain("cannot tell which file system");
  });

  it("little free space warns (the gate refuses decisions when the disk fills)", async () => {
    const { args } = setup();
    const r = await doctor(args, { mountInfo: table(), freeBytes: () => 10 * 1024 * 1024 });
    expect(r.checks["trace-dir"]).toMatchObject({ status: "warn" });
    expect(r.checks["trace-dir"]!.detail).toContain("only 10 MiB free");
  });

  it("a directory another user owns fails (injected uid)", async () => {
    const { args } = setup();
    const r = await doctor(args, { mountInfo: table(), euid: 4242 });
    // the temp dir's parents belong to root, but the temp dir itself to the real user: refused for uid 4242
    if (process.geteuid?.() !== 0) expect(r.checks["trace-dir"]).toMatchObject({ status: "fail" });
    else expect(r.checks["trace-dir"]!.status).toBe("ok"); // everything is root's here, and root is trusted
  });

  it("a live server on the socket is a warning (a second gate would refuse to start)", async () => {
    const { args } = setup();
    const net = await import("node:net");
    const sock = args[args.indexOf("--listen") + 1]!.slice("unix://".length);
    const srv = net.createServer(() => undefined);
    await new Promise<void>((r) => srv.listen(sock, r));
    try {
      const r = await doctor(args, { mountInfo: table() });
      expect(r.checks["agent-socket"]).toMatchObject({ status: "warn" });
      expect(r.checks["agent-socket"]!.detail).toContain("a server already answers");
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});

const isRoot = process.geteuid?.() === 0;

describe("durable storage (a real tmpfs mount)", () => {
  it.skipIf(!isRoot)("a trace dir on a real tmpfs fails through the CLI (needs root to mount tmpfs; skipped otherwise)", async () => {
    const { dir, args } = setup();
    const mnt = join(dir, "mnt");
    mkdirSync(mnt, { mode: 0o700 });
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "gait-doctor-test", mnt]);
    } catch (e) {
      // root without CAP_SYS_ADMIN (an unprivileged container): the injected-table tests above cover the logic
      console.warn(`skipping the real tmpfs check: mount failed: ${(e as Error).message}`);
      return;
    }
    try {
      let out = "";
      const code = await main(["doctor", ...args.filter((a, i) => a !== "--trace-dir" && args[i - 1] !== "--trace-dir"), "--trace-dir", join(mnt, "traces")], {
        stdout: (t) => void (out += t),
        stderr: () => undefined,
      });
      expect(code).toBe(2);
      const trace = (JSON.parse(out).checks as Check[]).find((c) => c.name === "trace-dir")!;
      expect(trace.status).toBe("fail");
      expect(trace.detail).toContain(`is on tmpfs (mounted at ${mnt})`);
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
  if (!isRoot) it("real tmpfs check skipped: not root (mounting tmpfs needs root); the injected mount table covers the logic", () => undefined);
});

describe("shared state (--state redis://)", () => {
  it("a reachable Redis is ok and nothing is created in it; an evicting one and an absent one fail with the fix", async () => {
    const { startTestRedis } = await import("../../support/redis-server.js");
    const { spawnSync } = await import("node:child_process");
    const redis = await startTestRedis();
    const cli = (...a: string[]) => spawnSync("redis-cli", ["-s", redis.socket, ...a], { encoding: "utf8" }).stdout.trim();
    try {
      const { args } = setup();
      const withState = (url: string) => args.map((a, i) => (args[i - 1] === "--state" ? url : a)).concat(["--local-dir", join(args[args.indexOf("--state") + 1]!)]);
      const good = await doctor(withState(redis.url), { mountInfo: table() });
      expect(good.checks["shared-state"], JSON.stringify(good.checks["shared-state"])).toMatchObject({ status: "ok" });
      expect(good.checks["shared-state"]!.detail).toContain("new store, created at first start");
      expect(cli("DBSIZE")).toBe("0"); // doctor writes nothing

      cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
      const evicting = await doctor(withState(redis.url), { mountInfo: table() });
      expect(evicting.code).toBe(2);
      expect(evicting.checks["shared-state"]).toMatchObject({ status: "fail" });
      expect(evicting.checks["shared-state"]!.detail).toMatch(/maxmemory-policy is allkeys-lru/);
      cli("CONFIG", "SET", "maxmemory-policy", "noeviction");

      const absent = await doctor(withState(`unix://${redis.dir}/nobody.sock`), { mountInfo: table() });
      expect(absent.code).toBe(2);
      expect(absent.checks["shared-state"]).toMatchObject({ status: "fail" });
      expect(absent.checks["shared-state"]!.detail).toMatch(/cannot connect to the shared state at unix:\/\/.*nobody\.sock/);
      expect(absent.checks["shared-state"]!.fix).toContain("start redis-server");
    } finally {
      await redis.dispose();
    }
  });
});
