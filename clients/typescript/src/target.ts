/**
 * Where the client connects. One rule in all three clients (TypeScript, Python, Go):
 * explicit argument > `GAIT_SOCKET` environment variable > the server's default socket,
 * `<current working directory>/gait-out/serve/gate.sock` (what `gait mcp serve` binds when started without
 * `--listen` in the same directory).
 */
import { isAbsolute, resolve } from "node:path";

/** The server's default agent socket, relative to the working directory (`gait mcp serve` without --listen). */
export const DEFAULT_SOCKET_PATH = "gait-out/serve/gate.sock";
/** Environment variable that overrides the default target. */
export const SOCKET_ENV = "GAIT_SOCKET";

/** A resolved connection target. */
export interface Target {
  /** The gRPC target string handed to the channel (`unix:///abs/path` or `host:port`). */
  readonly uri: string;
  /** The absolute socket path for a Unix socket target. */
  readonly socketPath?: string;
}

/**
 * Resolves a target string. Accepted forms: `unix:///abs/path`, `unix:/abs/path`, `unix:rel/path`, a filesystem path
 * (absolute, or starting with `.`), which are Unix sockets; anything else (`host:port`, `dns:///host:port`) is TCP.
 * Relative socket paths resolve against `cwd`.
 */
export function resolveTarget(explicit?: string, env: Record<string, string | undefined> = process.env, cwd = process.cwd()): Target {
  const raw = explicit?.trim() || env[SOCKET_ENV]?.trim() || DEFAULT_SOCKET_PATH;
  let path: string | undefined;
  if (raw.startsWith("unix://")) path = raw.slice("unix://".length);
  else if (raw.startsWith("unix:")) path = raw.slice("unix:".length);
  else if (raw.startsWith("/") || raw.startsWith(".") || raw === DEFAULT_SOCKET_PATH) path = raw;
  if (path === undefined) return { uri: raw };
  if (path === "") throw new Error(`invalid gait target ${JSON.stringify(raw)}: empty socket path`);
  const abs = isAbsolute(path) ? path : resolve(cwd, path);
  return { uri: `unix://${abs}`, socketPath: abs };
}
