/**
 * A per-directory lock file for single-writer stores (the trace log and the approval journal): two processes
 * appending to the same files would interleave writes and break the hash chain or double-spend approval tokens.
 *
 * The lock file (`<dir>/LOCK` for the trace log) holds the owner's pid. A lock whose process is gone is taken over (after a crash). A lock holding our
 * own pid is stale too unless this process registered the directory (containers restart as pid 1).
 */
import { promises as fsp } from "node:fs";
import { resolve } from "node:path";

const openDirs = new Set<string>();

/**
 * Take the lock file `path` (its directory must exist). `what` names the store and `flag` the option that picks its
 * directory, for the error message; `makeError` builds the caller's error type.
 */
export async function acquireLockFile(path: string, what: string, flag: string, makeError: (message: string) => Error): Promise<void> {
  const key = resolve(path);
  if (openDirs.has(key)) throw makeError(`${what} (${path}) is already open in this process; close it first`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fsp.writeFile(path, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      openDirs.add(key);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const pid = Number((await fsp.readFile(path, "utf8").catch(() => "")).trim());
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) break;
    await fsp.rm(path, { force: true }); // stale: its process is gone
  }
  throw makeError(`${what} is locked by another running process (${path}); stop it or use another ${flag}`);
}

/** Release a lock taken with {@link acquireLockFile}. */
export async function releaseLockFile(path: string): Promise<void> {
  openDirs.delete(resolve(path));
  await fsp.rm(path, { force: true }).catch(() => undefined);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
