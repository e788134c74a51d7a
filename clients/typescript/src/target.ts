/**
 * Where the client connects. One rule in all three clients (TypeScript, Python, Go), the same rule the server uses
 * for its own default socket (src/infra/socket-path.ts):
 *
 *   explicit `target` argument  >  `GAIT_SOCKET` environment variable  >  the per-user default socket
 *
 * The default is absolute and the same from every working directory: `$XDG_RUNTIME_DIR/gait/gate.sock` when
 * XDG_RUNTIME_DIR is set to an absolute path, else `/tmp/gait-<uid>/gate.sock` — what `gait mcp serve` binds when
 * started without `--listen` and without `GAIT_SOCKET`.
 *
 * The client talks to whichever socket it is given. The operator calls (`approve`, `deny`, `listApprovals`) go over
 * the same channel, so an operator tool passes the operator socket as `target` (for example from
 * `GAIT_OPERATOR_SOCKET`), or runs with `GAIT_SOCKET` set to it.
 */
import { isAbsolute, join, resolve } from "node:path";

/** Environment variable that overrides the default target. */
export const SOCKET_ENV = "GAIT_SOCKET";

/** How a target was chosen: the `target` argument, `$GAIT_SOCKET`, or the per-user default rule. */
export type TargetSource = "explicit" | "env" | "default";

/** A resolved connection target. */
export interface Target {
  /** The gRPC target string handed to the channel (`unix:///abs/path` or `host:port`). */
  readonly uri: string;
  /** The absolute socket path for a Unix socket target. */
  readonly socketPath?: string;
  /** How the target was chosen (named in "cannot connect" messages). */
  readonly source: TargetSource;
}

type Env = Record<string, string | undefined>;

/**
 * The per-user default agent socket: `$XDG_RUNTIME_DIR/gait/gate.sock` when XDG_RUNTIME_DIR is set and absolute
 * (a relative value is ignored), else `/tmp/gait-<uid>/gate.sock`. Never relative to the working directory.
 */
export function defaultSocketPath(env: Env = process.env, uid: number = process.getuid?.() ?? 0): string {
  const xdg = env.XDG_RUNTIME_DIR;
  const dir = xdg && isAbsolute(xdg) ? join(xdg, "gait") : `/tmp/gait-${uid}`;
  return join(dir, "gate.sock");
}

/**
 * Resolves a target: `explicit`, else `$GAIT_SOCKET`, else {@link defaultSocketPath}. Accepted forms: `unix:///abs/path`,
 * `unix:/abs/path`, `unix:rel/path`, a filesystem path (absolute, or starting with `.`), which are Unix sockets;
 * anything else (`host:port`, `dns:///host:port`) is TCP. Relative socket paths given explicitly or in `GAIT_SOCKET`
 * resolve against `cwd`.
 */
export function resolveTarget(explicit?: string, env: Env = process.env, cwd = process.cwd(), uid?: number): Target {
  let raw = explicit?.trim();
  let source: TargetSource = "explicit";
  if (!raw) {
    raw = env[SOCKET_ENV]?.trim();
    source = "env";
  }
  if (!raw) {
    const path = defaultSocketPath(env, uid);
    return { uri: `unix://${path}`, socketPath: path, source: "default" };
  }
  let path: string | undefined;
  if (raw.startsWith("unix://")) path = raw.slice("unix://".length);
  else if (raw.startsWith("unix:")) path = raw.slice("unix:".length);
  else if (raw.startsWith("/") || raw.startsWith(".")) path = raw;
  if (path === undefined) return { uri: raw, source };
  if (path === "") throw new Error(`invalid gait target ${JSON.stringify(raw)}: empty socket path`);
  const abs = isAbsolute(path) ? path : resolve(cwd, path);
  return { uri: `unix://${abs}`, socketPath: abs, source };
}

/** How a target was chosen, in words, for error messages. */
export function describeTargetSource(source: TargetSource): string {
  switch (source) {
    case "explicit":
      return "passed as the target argument";
    case "env":
      return `from $${SOCKET_ENV}`;
    default:
      return `the default socket: no target argument and ${SOCKET_ENV} unset`;
  }
}

/**
 * The message of a failed connection (the call then fails closed with `fail_closed_unavailable`): names the socket
 * path (or TCP address), how it was chosen, and how to fix it. The same wording in the three clients.
 */
export function cannotConnectMessage(target: Target, detail: string): string {
  const where = target.socketPath !== undefined ? `socket ${target.socketPath}` : `at ${target.uri}`;
  return (
    `cannot connect to the gate server ${where} (${describeTargetSource(target.source)}): ${detail} ` +
    `(is \`gait mcp serve\` running? start it, or set ${SOCKET_ENV} or pass the target to name the socket it listens on)`
  );
}
