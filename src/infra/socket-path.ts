/**
 * The one socket rule, shared by the server, the CLI and the clients (each client repeats these few lines in its own
 * language): an explicit path (flag), else `GAIT_SOCKET` (`GAIT_OPERATOR_SOCKET` for the operator socket), else a
 * well-known absolute default that works from any working directory:
 *
 *   $XDG_RUNTIME_DIR/gait/<name>.sock     when XDG_RUNTIME_DIR is set (a per-user 0700 directory, systemd/logind)
 *   /tmp/gait-<uid>/<name>.sock           otherwise (created 0700; refused when another user owns it, as tmux does)
 *
 * Never a path relative to the current directory.
 */
import { connect } from "node:net";
import { isAbsolute, join } from "node:path";

export type SocketKind = "agent" | "operator";

const FILE: Record<SocketKind, string> = { agent: "gate.sock", operator: "operator.sock" };
const ENV: Record<SocketKind, string> = { agent: "GAIT_SOCKET", operator: "GAIT_OPERATOR_SOCKET" };

/** The directory of the default sockets for this user. */
export function runtimeSocketDir(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && isAbsolute(xdg)) return join(xdg, "gait");
  return `/tmp/gait-${uid}`;
}

/** The environment variable that names a socket of this kind. */
export function socketEnv(kind: SocketKind): string {
  return ENV[kind];
}

/** Where a socket of this kind is: `explicit`, else its environment variable, else the per-user default. */
export function resolveSocketPath(kind: SocketKind, explicit?: string, env: NodeJS.ProcessEnv = process.env, uid?: number): { path: string; from: "flag" | "env" | "default" } {
  if (explicit) return { path: explicit, from: "flag" };
  const e = env[ENV[kind]];
  if (e && e.trim()) return { path: e.trim(), from: "env" };
  return { path: join(runtimeSocketDir(env, uid), FILE[kind]), from: "default" };
}

/**
 * Whether something answers on the Unix socket `path`: true when it accepts, and also when it accepts but says nothing
 * within `timeoutMs` (still somebody's socket: never steal it); false when the connection is refused or the path is
 * no socket. Used before replacing a socket file (transport) and by `gait doctor`.
 */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect(path);
    const t = setTimeout(() => {
      s.destroy();
      resolve(true);
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      clearTimeout(t);
      resolve(false); // ECONNREFUSED, ENOENT: nobody listening
    });
  });
}
