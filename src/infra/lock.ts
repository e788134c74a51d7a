/**
 * Single-writer locks for state directories (the trace log, the approval ledger): two processes appending to the
 * same files would interleave writes, break the hash chain, or spend one approval token twice.
 *
 * The lock is a kernel object, so it is released the instant its holder dies (kill -9 included; no stale-lock
 * guessing, no waiting for a parent to reap a zombie): a Linux abstract Unix socket named after the directory's
 * device and inode. Node has no flock(2); binding an abstract socket is the kernel-released mutex it does have.
 * Its scope is the network namespace, so the lock file `<dir>/LOCK` also records the holder (pid, process start
 * time, boot id, host) for a second check across namespaces on one host and for the error message. A LOCK file whose
 * holder is not running (or is another process that reuses the pid) is simply taken over.
 *
 * Scope: one host. Do not share a state directory between hosts; replicas share state through Redis.
 */
import { createServer, type Server } from "node:net";
import { createHash } from "node:crypto";
import { readFileSync, statSync, realpathSync } from "node:fs";
import { promises as fsp } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "./fs.js";

/** What the LOCK file says about its holder. */
export interface LockHolder {
  pid: number;
  /** process start time in clock ticks since boot (/proc/<pid>/stat field 22): tells a reused pid apart */
  start_time: string;
  boot_id: string;
  host: string;
  created_at: string;
}

/** A held lock; release() is idempotent. */
export interface DirLock {
  readonly dir: string;
  release(): Promise<void>;
}

const held = new Set<string>();

function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may contain spaces and parentheses: fields after the last ')'
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (rest[0] === "Z" || rest[0] === "X") return undefined; // a zombie is dead: its fds (and locks) are gone
    return rest[19];
  } catch {
    return undefined;
  }
}

function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

/** The holder recorded in a LOCK file is a live process other than us (same host and boot, same start time). */
function holderAlive(h: Partial<LockHolder>): boolean {
  if (!h || typeof h.pid !== "number" || h.pid === process.pid) return false;
  if (h.host !== hostname() || h.boot_id !== bootId()) return false;
  const st = procStartTime(h.pid);
  return st !== undefined && st === h.start_time;
}

function describe(h: Partial<LockHolder> | undefined): string {
  if (!h || typeof h.pid !== "number") return "another process";
  return `pid ${h.pid}${h.host && h.host !== hostname() ? ` on host ${h.host}` : ""}${h.created_at ? ` (since ${h.created_at})` : ""}`;
}

async function readHolder(path: string): Promise<Partial<LockHolder> | undefined> {
  try {
    const text = await fsp.readFile(path, "utf8");
    const t = text.trim();
    if (/^\d+$/.test(t)) return { pid: Number(t) }; // the previous format: a bare pid
    return JSON.parse(t) as Partial<LockHolder>;
  } catch {
    return undefined;
  }
}

function bindAbstract(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EADDRINUSE") resolve(undefined);
      else reject(e);
    });
    srv.listen({ path: name, exclusive: true }, () => {
      srv.unref();
      resolve(srv);
    });
  });
}

/**
 * Take the lock on `dir` (which must exist), or throw `makeError(message)` naming the holder and the fix. `what`
 * names the store ("trace log /x"), `flag` the option that picks its directory.
 */
export async function lockDir(
  dir: string,
  what: string,
  flag: string,
  makeError: (message: string) => Error,
  { lockName = "LOCK", retryMs = 1000 }: { lockName?: string; retryMs?: number } = {},
): Promise<DirLock> {
  const real = realpathSync(dir);
  const key = `${real}\0${lockName}`;
  if (held.has(key)) throw makeError(`${what} is already open in this process; close it first`);
  const st = statSync(real);
  const id = createHash("sha256").update(`${st.dev}:${st.ino}:${lockName}`).digest("hex").slice(0, 40);
  const path = join(dir, lockName);
  // a holder that was just killed releases within milliseconds, once the kernel has torn it down: wait that long
  let srv: Server | undefined;
  for (const deadline = Date.now() + retryMs; process.platform === "linux"; ) {
    srv = await bindAbstract(`\0gait-lock-${id}`);
    if (srv || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (process.platform === "linux" && !srv) {
    throw makeError(`${what} is locked by a running process (${describe(await readHolder(path))}); stop it or use another ${flag}`);
  }
  const prev = await readHolder(path);
  if (prev && holderAlive(prev)) {
    srv?.close();
    throw makeError(`${what} is locked by a running process (${describe(prev)}); stop it or use another ${flag}`);
  }
  const me: LockHolder = {
    pid: process.pid,
    start_time: procStartTime(process.pid) ?? "",
    boot_id: bootId(),
    host: hostname(),
    created_at: new Date().toISOString(),
  };
  try {
    await writeFileAtomic(path, JSON.stringify(me) + "\n", 0o600);
  } catch (e) {
    srv?.close();
    throw e;
  }
  held.add(key);
  let released = false;
  return {
    dir,
    async release() {
      if (released) return;
      released = true;
      held.delete(key);
      const cur = await readHolder(path);
      if (cur?.pid === process.pid) await fsp.rm(path, { force: true }).catch(() => undefined);
      await new Promise<void>((r) => (srv ? srv.close(() => r()) : r()));
    },
  };
}
