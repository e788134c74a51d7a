/**
 * A private redis-server for tests: started on a Unix socket in a fresh temp dir (no TCP port), with the append-only
 * file fsynced on every write (as docs/deployment.md asks for production), so a stop and a restart keep the data.
 * `make setup` installs redis-server (scripts/ensure-apt.sh); a missing binary fails the test with that hint.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestRedis {
  dir: string;
  socket: string;
  /** `unix://<socket>` for --state. */
  url: string;
  /** Stop the server (SIGTERM; it writes nothing more). */
  stop(): Promise<void>;
  /** Start it again on the same socket and data directory. */
  start(): Promise<void>;
  /** Stop it and remove the directory. */
  dispose(): Promise<void>;
}

export function redisServerBinary(): string {
  const r = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error("redis-server is not installed: run `make setup` (it installs the Debian package redis-server)");
  return "redis-server";
}

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startTestRedis(): Promise<TestRedis> {
  const bin = redisServerBinary();
  const dir = mkdtempSync(join(tmpdir(), "gait-redis-"));
  const socket = join(dir, "redis.sock");
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const start = async () => {
    child = spawn(
      bin,
      ["--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", "--loglevel", "warning"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let err = "";
    child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
    const c = child;
    exited = new Promise((r) => c.once("exit", () => r()));
    let dead = false;
    void exited.then(() => (dead = true));
    await waitFor(() => existsSync(socket) || dead, "redis-server to listen");
    if (dead) throw new Error(`redis-server did not start: ${err}`);
  };
  const stop = async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    child = undefined;
    rmSync(socket, { force: true });
  };
  await start();
  return {
    dir,
    socket,
    url: `unix://${socket}`,
    stop,
    start,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
