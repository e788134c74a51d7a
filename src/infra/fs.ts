/**
 * Atomic file writes for evidence and state (Gait ADR-0002, evidence.md §8.4): a reader sees either the old file or
 * the complete new one, never a torn write, and a crash after return cannot lose the data.
 *
 * Steps: temp file `.<base>.tmp-<random>` in the destination directory (same filesystem, so rename is atomic) →
 * write → fsync → chmod (explicit, so the umask cannot widen evidence files) → close → rename over the target →
 * fsync the directory (best effort). The temp file is removed on any failure.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp, constants as fsc } from "node:fs";
import { basename, dirname, isAbsolute, join, normalize, sep } from "node:path";

/** Mode for evidence files (traces, tokens, audits, keys). */
export const EVIDENCE_FILE_MODE = 0o600;
/** Mode for directories the CLI creates for evidence. */
export const EVIDENCE_DIR_MODE = 0o750;

/** A path rule violation (exit 6 in the CLI: invalid input). */
export class OutputPathError extends Error {
  override name = "OutputPathError";
}

/**
 * Gait's output path rule: a relative path must not traverse parent directories (`..`). Absolute paths are the
 * caller's explicit choice and are accepted. `what` names the artifact in the message ("trace", "runpack", ...).
 */
export function checkOutputPath(path: string, what = "output"): string {
  const trimmed = path.trim();
  if (!trimmed) throw new OutputPathError(`${what} path is required`);
  const cleaned = normalize(trimmed);
  if (cleaned === "." || cleaned === sep) throw new OutputPathError(`${what} path is required`);
  if (!isAbsolute(cleaned) && cleaned.split(/[\\/]/).includes("..")) {
    throw new OutputPathError(`relative ${what} path must not traverse parent directories: ${path}`);
  }
  return cleaned;
}

/** Create `dir` (and parents) with {@link EVIDENCE_DIR_MODE} when missing. */
export async function ensureDir(dir: string, mode = EVIDENCE_DIR_MODE): Promise<void> {
  if (!dir || dir === ".") return;
  await fsp.mkdir(dir, { recursive: true, mode });
}

/**
 * Write `data` to `path` atomically with `mode` (default 0600). Parent directories are created (0750).
 * Rejects with the underlying fs error (its `code` is kept) prefixed with the path.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = EVIDENCE_FILE_MODE): Promise<void> {
  const dir = dirname(path);
  await ensureDir(dir);
  const tmp = join(dir, `.${basename(path)}.tmp-${randomBytes(6).toString("hex")}`);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, mode);
    await handle.writeFile(data);
    await handle.sync();
    await handle.chmod(mode);
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, path);
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    const wrapped = new Error(`write ${path}: ${err.message}`) as NodeJS.ErrnoException;
    wrapped.code = err.code;
    throw wrapped;
  }
  await syncDir(dir);
}

/** fsync a directory so a created, renamed or removed name in it is durable. Best effort: some filesystems refuse. */
export async function syncDir(dir: string): Promise<void> {
  let h: fsp.FileHandle | undefined;
  try {
    h = await fsp.open(dir || ".", fsc.O_RDONLY);
    await h.sync();
  } catch {
    // best effort: some filesystems refuse fsync on a directory
  } finally {
    await h?.close().catch(() => undefined);
  }
}
