/**
 * Directory and file trust checks, the ones ssh (StrictModes) and tmux make before they believe a key file or a
 * socket directory: whoever else owns or can write a state, key, socket or trace directory, or a key file, can plant
 * a signing key (and mint approval tokens the gate accepts), swap the socket, or rewrite evidence.
 *
 * Rules (`euid` is this process's effective uid; "root" is uid 0):
 * - the directory or file itself is owned by euid or root, and nobody else can write it (no group/other write bit),
 *   except that a socket directory may be a sticky directory (like /tmp: others cannot remove our socket there);
 * - a secret file (a private key) is also not readable by others (group read is allowed: Kubernetes mounts Secrets
 *   root-owned and group-readable through fsGroup);
 * - every ancestor directory is owned by euid or root (a directory owned by another user can rename ours away and
 *   put its own in place).
 * Symbolic links are followed; the checks apply to the real path.
 */
import { realpathSync, statSync, type Stats } from "node:fs";
import { dirname } from "node:path";

export class TrustError extends Error {
  override name = "TrustError";
}

export type TrustKind = "dir" | "socket-dir" | "secret-file" | "file";

function euid(): number {
  return typeof process.geteuid === "function" ? process.geteuid() : 0;
}

function who(uid: number): string {
  return uid === 0 ? "root (uid 0)" : `uid ${uid}`;
}

function octal(mode: number): string {
  return "0" + (mode & 0o7777).toString(8).padStart(3, "0");
}

/**
 * Problems with trusting `path` as `kind` ("" when fine). `what` names it in messages ("state directory",
 * "signing key", ...). A missing path is a problem only with `mustExist`.
 */
export function trustProblems(path: string, kind: TrustKind, what: string, { mustExist = true }: { mustExist?: boolean } = {}): string[] {
  if (process.platform === "win32") return [];
  let real: string;
  let st: Stats;
  try {
    real = realpathSync(path);
    st = statSync(real);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && !mustExist) return [];
    return [`${what} ${path}: ${(e as Error).message}`];
  }
  const me = euid();
  const problems: string[] = [];
  const at = real === path ? path : `${path} (-> ${real})`;
  const isDir = kind === "dir" || kind === "socket-dir";
  if (isDir && !st.isDirectory()) problems.push(`${what} ${at} is not a directory`);
  if (!isDir && !st.isFile()) problems.push(`${what} ${at} is not a regular file`);
  if (st.uid !== me && st.uid !== 0) {
    problems.push(`${what} ${at} is owned by ${who(st.uid)}, not by this process's user (${who(me)}) or root: its owner could plant keys or swap files. Fix: chown ${me} ${path} (or use a directory you own)`);
  }
  const sticky = (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o022) !== 0 && !(kind === "socket-dir" && sticky)) {
    problems.push(`${what} ${at} is writable by ${st.mode & 0o002 ? "all users" : "its group"} (mode ${octal(st.mode)}): anyone who can write it can plant keys or swap files. Fix: chmod go-w ${path}`);
  }
  if (kind === "secret-file" && (st.mode & 0o004) !== 0) {
    problems.push(`${what} ${at} is readable by all users (mode ${octal(st.mode)}). Fix: chmod 600 ${path}`);
  }
  // ancestors: owned by us or root
  for (let d = dirname(real); ; d = dirname(d)) {
    let ds: Stats;
    try {
      ds = statSync(d);
    } catch (e) {
      problems.push(`${what} ${at}: cannot check parent ${d}: ${(e as Error).message}`);
      break;
    }
    if (ds.uid !== me && ds.uid !== 0) {
      problems.push(`${what} ${at}: parent directory ${d} is owned by ${who(ds.uid)}, who could replace ${path}. Fix: use a path whose parents belong to you or root`);
    }
    if (d === dirname(d)) break;
  }
  return problems;
}

/** Throw a {@link TrustError} listing every problem with `path`. */
export function assertTrusted(path: string, kind: TrustKind, what: string, opts?: { mustExist?: boolean }): void {
  const p = trustProblems(path, kind, what, opts);
  if (p.length) throw new TrustError(`refusing to use an untrusted ${what}:\n  ${p.join("\n  ")}`);
}
