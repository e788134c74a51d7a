/**
 * How the operator commands (`gait approvals`, `gait killswitch`, `gait trace tail`) reach a running service: the
 * operator socket by the server's own rule (infra/socket-path.ts) -- `--operator-socket`, else GAIT_OPERATOR_SOCKET,
 * else the `operator_listen` key of the config file (`--config`, else GAIT_CONFIG), else the per-user default
 * ($XDG_RUNTIME_DIR/gait/operator.sock or /tmp/gait-<uid>/operator.sock) -- and the operator's bearer token from an
 * environment variable (`--token-env`, default GAIT_OPERATOR_TOKEN; needed when the server has
 * --operator-tokens-file). The gRPC client is loaded on demand, from the files beside this module (the one-shot
 * bundle never contains gRPC) or, in the self-contained executable, from its bundle.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { resolveSocketPath } from "../infra/socket-path.js";
import type { FlagSpec, ParsedFlags } from "./args.js";
import { CliError, usageError, EXIT, type CommandContext } from "./io.js";
import type { OperatorClient } from "../transport/grpc/operator-client.js";

export const OPERATOR_FLAGS: Record<string, FlagSpec> = {
  "operator-socket": { type: "string", value: "<path>", help: "the server's operator socket (default: $GAIT_OPERATOR_SOCKET, the config file's operator_listen, then $XDG_RUNTIME_DIR/gait/operator.sock or /tmp/gait-<uid>/operator.sock)" },
  config: { type: "string", value: "<serve.yaml>", help: "the server's config file, for its operator_listen (default $GAIT_CONFIG)" },
  "token-env": { type: "string", value: "<VAR>", help: "environment variable holding your operator token (default GAIT_OPERATOR_TOKEN)" },
  json: { type: "boolean", help: "print JSON" },
};

/** The operator socket path and where it came from. */
export function operatorSocket(ctx: CommandContext, flags: ParsedFlags): { path: string; from: string } {
  const flag = typeof flags["operator-socket"] === "string" ? (flags["operator-socket"] as string) : undefined;
  const env = ctx.io.env;
  const strip = (v: string, where: string): string => {
    const p = v.trim().replace(/^unix:\/\//, "");
    if (/^[^/]+:\d+$/.test(p)) throw usageError(`${where} ${JSON.stringify(v)} is a TCP address; the operator commands talk to a Unix socket (unix:///abs/path.sock)`);
    if (!isAbsolute(p)) throw usageError(`${where} ${JSON.stringify(v)} must be an absolute socket path`);
    return p;
  };
  if (flag) return { path: strip(flag, "--operator-socket"), from: "--operator-socket" };
  if (env.GAIT_OPERATOR_SOCKET?.trim()) return { path: strip(env.GAIT_OPERATOR_SOCKET, "GAIT_OPERATOR_SOCKET"), from: "GAIT_OPERATOR_SOCKET" };
  const cfg = typeof flags.config === "string" ? ctx.path(flags.config as string) : env.GAIT_CONFIG?.trim() ? ctx.path(env.GAIT_CONFIG.trim()) : undefined;
  if (cfg) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(cfg, "utf8"));
    } catch (e) {
      throw usageError(`config file ${cfg}: ${(e as Error).message}`);
    }
    const v = doc && typeof doc === "object" ? (doc as Record<string, unknown>).operator_listen : undefined;
    if (typeof v === "string" && v.trim()) return { path: strip(v, `${cfg} operator_listen`), from: cfg };
  }
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
  return { path: resolveSocketPath("operator", undefined, { ...(env.XDG_RUNTIME_DIR ? { XDG_RUNTIME_DIR: env.XDG_RUNTIME_DIR } : {}) }, uid).path, from: "default" };
}

type ClientModule = typeof import("../transport/grpc/operator-client.js");

async function loadFromFiles(): Promise<ClientModule> {
  const here = import.meta.url;
  // from dist/src/cli/operator-target.js, and from the one-shot bundle dist/gait.mjs
  const candidates = [new URL("../transport/grpc/operator-client.js", here), new URL("./src/transport/grpc/operator-client.js", here)];
  const found = candidates.find((u) => existsSync(fileURLToPath(u)));
  return (await import((found ?? candidates[0]!).href)) as ClientModule;
}

let loader: () => Promise<ClientModule> = loadFromFiles;

/** The self-contained executable bundles the client (src/cli/standalone.ts). */
export function setOperatorClientLoader(l: () => Promise<ClientModule>): void {
  loader = l;
}

/** A client on the operator socket; the caller closes it. */
export async function connectOperator(ctx: CommandContext, flags: ParsedFlags): Promise<OperatorClient> {
  const { path, from } = operatorSocket(ctx, flags);
  if (!existsSync(path)) {
    throw new CliError(`no operator socket at ${path} (from ${from}); start the server with --operator-listen unix://${path} ('make run' does), or point --operator-socket / GAIT_OPERATOR_SOCKET at its socket`, EXIT.INTERNAL, { category: "io_failure" });
  }
  const tokenVar = typeof flags["token-env"] === "string" ? (flags["token-env"] as string) : "GAIT_OPERATOR_TOKEN";
  const token = ctx.io.env[tokenVar]?.trim();
  if (typeof flags["token-env"] === "string" && !token) throw usageError(`--token-env ${tokenVar}: the variable is not set or empty`);
  let mod: ClientModule;
  try {
    mod = await loader();
  } catch (e) {
    throw new CliError(`the operator client is not available in this build (${(e as Error).message}); run 'make build'`, EXIT.INTERNAL);
  }
  return new mod.OperatorClient(path, token || undefined);
}
