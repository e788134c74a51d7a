/**
 * Unix domain socket hygiene for the gRPC listeners (spec/stack.md §3): sun_path is 108 bytes and libuv silently
 * truncates longer paths (the bind then "succeeds" somewhere else), a socket file left by a killed server makes bind
 * fail with EADDRINUSE, and a freshly bound socket is 0755. We refuse long paths, remove a stale socket only when
 * nobody answers on it, and create the socket with the requested mode (0600 by default) with no wider window.
 */
import * as grpc from "@grpc/grpc-js";
import { socketAnswers } from "../../infra/socket-path.js";
import { isMainThread } from "node:worker_threads";
import { chmodSync, lstatSync, unlinkSync } from "node:fs";

/** Longest usable socket path in bytes (sun_path minus the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

export class SocketError extends Error {
  override name = "SocketError";
}

/** Throws when `path` cannot be a Unix socket path (relative, or too long for sun_path). */
export function checkSocketPath(path: string): void {
  if (!path.startsWith("/")) throw new SocketError(`socket path must be absolute: ${path}`);
  const n = Buffer.byteLength(path);
  if (n > MAX_SOCKET_PATH_BYTES) {
    throw new SocketError(
      `socket path too long (${n} > ${MAX_SOCKET_PATH_BYTES} bytes): ${path}; choose a shorter --listen path or --state dir`,
    );
  }
}

/** Remove a stale socket file; refuse if it is not a socket or a live server answers on it. */
export async function clearStaleSocket(path: string): Promise<"absent" | "removed-stale"> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return "absent";
  }
  if (!st.isSocket()) throw new SocketError(`${path} exists and is not a socket; refusing to replace it`);
  if (await socketAnswers(path)) throw new SocketError(`another server is listening on ${path}; stop it or choose another --listen path`);
  unlinkSync(path);
  return "removed-stale";
}

/**
 * Bind `server` on `path` with the socket created with `mode` (umask around the bind, then chmod), after the path
 * checks and stale-socket removal. Returns what was found at the path before binding.
 */
export async function bindUds(server: grpc.Server, path: string, mode = 0o600): Promise<"absent" | "removed-stale"> {
  checkSocketPath(path);
  const found = await clearStaleSocket(path);
  // process.umask(mask) throws in worker threads: fall back to chmod only there
  const old = isMainThread ? process.umask(0o777 & ~mode) : undefined;
  try {
    await new Promise<number>((res, rej) =>
      server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
  } finally {
    if (old !== undefined) process.umask(old);
  }
  chmodSync(path, mode);
  return found;
}

/** Remove our socket file at shutdown (ignores a missing file). */
export function removeSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    /* already gone */
  }
}
