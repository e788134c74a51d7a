/**
 * Which file system a path lives on, from the mount table (`/proc/self/mountinfo`, Linux). `gait doctor` uses it to
 * refuse trace, runpack and state directories on memory-backed file systems (tmpfs, ramfs): what is written there is
 * gone after a reboot or a pod restart, and the trace log is the evidence.
 *
 * The table is read as text and parsed by a pure function, so the checks are testable with any table (no root, no
 * real tmpfs mount needed).
 */
import { readFileSync } from "node:fs";

export interface Mount {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** File systems whose content lives in memory only. */
export const VOLATILE_FS_TYPES: ReadonlySet<string> = new Set(["tmpfs", "ramfs"]);

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Parse `/proc/self/mountinfo` (proc(5)): `id parent major:minor root mountpoint options [optional...] - fstype
 * source superoptions`. Lines that do not have that shape are skipped.
 */
export function parseMountInfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0 || sep + 2 >= f.length) continue;
    out.push({ mountPoint: unescape(f[4]!), fsType: f[sep + 1] ?? "", source: unescape(f[sep + 2] ?? "") });
  }
  return out;
}

/**
 * The mount that holds absolute path `real` (resolve symbolic links first): the longest mount point that is `real`
 * or one of its ancestors; of several mounts at one point, the last one listed (the one on top).
 */
export function mountOf(real: string, mounts: readonly Mount[]): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const covers = mp === "/" || real === mp || real.startsWith(mp.endsWith("/") ? mp : mp + "/");
    if (covers && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** The process's mount table as text, or undefined where there is none (not Linux, /proc not mounted). */
export function readMountInfo(): string | undefined {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return undefined;
  }
}
