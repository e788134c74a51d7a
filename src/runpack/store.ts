/**
 * The service's runpack directory (`--runpack-dir`): one zip per decision that asked for one, written atomically,
 * and the retention sweep.
 */
import { readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { EVIDENCE_DIR_MODE, ensureDir, writeFileAtomic } from "../infra/fs.js";

/**
 * Write a decision's runpack as `runpack_<run_id>_<seq>.zip` in `dir` (atomic, 0600, directory fsynced): the trace
 * sequence number keeps concurrent decisions of one run apart. Returns the path.
 */
export async function writeRunpackFile(dir: string, runId: string, seq: number, zip: Uint8Array): Promise<string> {
  await ensureDir(dir, EVIDENCE_DIR_MODE);
  const path = join(dir, `runpack_${runId}_${String(seq).padStart(12, "0")}.zip`);
  await writeFileAtomic(path, zip);
  return path;
}

/**
 * Runpack retention (evidence.md §5.8 rules, run in the background): runpack zips sorted newest first by mtime
 * (ties by name, descending); keep the first `maxCount`, delete those older than `maxAgeMs` or beyond the count.
 */
export async function sweepRunpacks(dir: string, maxAgeMs: number, maxCount: number, now = Date.now()): Promise<number> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".zip") && (n.startsWith("runpack_") || n.includes("_cp_")));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw e;
  }
  const files = await Promise.all(names.map(async (n) => ({ path: join(dir, n), mtime: (await stat(join(dir, n))).mtimeMs })));
  files.sort((a, b) => b.mtime - a.mtime || (a.path < b.path ? 1 : a.path > b.path ? -1 : 0));
  let removed = 0;
  for (let i = 0; i < files.length; i++) {
    const tooOld = maxAgeMs > 0 && now - files[i]!.mtime > maxAgeMs;
    const beyond = maxCount > 0 && i >= maxCount;
    if (tooOld || beyond) {
      await unlink(files[i]!.path).catch(() => undefined);
      removed++;
    }
  }
  return removed;
}
