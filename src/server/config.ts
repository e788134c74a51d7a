/**
 * `gait mcp serve` flags (spec/cli.md) -> a validated {@link ServeConfig}. Every problem is collected and reported at
 * once, each saying what was wrong and how to fix it; startup validation errors exit 6 like Gait's.
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { parseGoDuration } from "../engine/time.js";
import { MAX_SOCKET_PATH_BYTES } from "./uds.js";

/** A listener address: a Unix socket path or a TCP host:port. */
export type ListenAddr = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

export interface ServeConfig {
  policyPath: string;
  /** `--policy-digest sha256:<hex>`: the only policy digest this server accepts (hex, lowercase). */
  policyDigestPin?: string;
  /** Agent listener (Evaluate, GetApproval, ExportTraces, GetServerInfo). */
  listen: ListenAddr;
  /** Operator listener (adds Approve, ListApprovals). */
  operatorListen?: ListenAddr;
  httpListen?: { host: string; port: number };
  metricsListen?: { host: string; port: number };
  /** Mode of every Unix socket we create. @defaultValue 0o600 */
  socketMode: number;
  adapter: string;
  profile: "standard" | "oss-prod";
  killSwitchStatePath?: string;
  authMode: "off" | "token";
  /** The bearer token, read once at startup from `--auth-token-env`. */
  authToken?: string;
  authTokenEnv?: string;
  /** HTTP body cap and gRPC max receive message size. @defaultValue 1 MiB */
  maxRequestBytes: number;
  httpVerdictStatus: "compat" | "strict";
  stateDir: string;
  traceDir: string;
  runpackDir?: string;
  traceMaxAgeMs: number;
  traceMaxCount: number;
  runpackMaxAgeMs: number;
  runpackMaxCount: number;
  keyMode: "dev" | "prod";
  privateKeyPath?: string;
  privateKeyEnv?: string;
  approvalPublicKeyPath?: string;
  approvalPublicKeyEnv?: string;
  delegationPublicKeyPath?: string;
  delegationPublicKeyEnv?: string;
  credentialBroker: "off" | "stub" | "env" | "command";
  credentialEnvPrefix: string;
  credentialCommand?: string;
  credentialCommandArgs: string[];
  credentialRef?: string;
  credentialScopes: string[];
  /** Gait behaviour: approval tokens reusable until expiry. @defaultValue false (single use) */
  approvalReuse: boolean;
  /** How long a pending approval request waits for an operator. @defaultValue 1h */
  approvalRequestTtlMs: number;
  /** Decisions in flight beyond which Evaluate answers RESOURCE_EXHAUSTED (OVERLOADED). @defaultValue 256 */
  maxInFlight: number;
  /** How long SIGTERM waits for in-flight calls before forcing. @defaultValue 10s */
  drainTimeoutMs: number;
  /** `--operator-tokens-file`: lines `<identity> sha256:<hex of the token>`. When set, every operator call needs one
   * of these bearer tokens, and it names the approver. */
  operatorTokensPath?: string;
  /** Loaded from {@link operatorTokensPath} at start: sha256 hex of a token -> operator identity. */
  operatorTokens?: ReadonlyMap<string, string>;
  /** `--reset-approval-state`: start a fresh approval ledger that refuses every token issued before now. */
  resetApprovalState: boolean;
  /** ExportTraces streams open at once per server. @defaultValue 32 */
  maxExportStreams: number;
  /** An ExportTraces stream whose client reads nothing for this long is ended (RESOURCE_EXHAUSTED). @defaultValue 30s */
  exportStallTimeoutMs: number;
  json: boolean;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Default state dir (relative to the working directory): keys, approvals, the default socket and traces live here. */
export const DEFAULT_STATE_DIR = "gait-out/serve";
export const DEFAULT_SOCKET_NAME = "gate.sock";

export const SERVE_USAGE = `usage: gait mcp serve --policy <policy.yaml> [--listen unix:///abs/path.sock | host:port]
    [--operator-listen unix:///abs/op.sock | host:port] [--http-listen host:port] [--metrics-listen host:port]
    [--adapter mcp|openai|anthropic|langchain|claude_code] [--profile standard|oss-prod] [--kill-switch-state <state.json>]
    [--auth-mode off|token] [--auth-token-env <VAR>] [--max-request-bytes <bytes>] [--http-verdict-status compat|strict]
    [--state <dir>] [--trace-dir <dir>] [--runpack-dir <dir>] [--trace-max-age <dur>] [--trace-max-count <n>]
    [--runpack-max-age <dur>] [--runpack-max-count <n>] [--key-mode dev|prod] [--private-key <path>|--private-key-env <VAR>]
    [--policy-digest sha256:<hex>] [--approval-reuse] [--approval-request-ttl <dur>] [--socket-mode <octal>]
    [--approval-public-key <path>|--approval-public-key-env <VAR>] [--delegation-public-key <path>|--delegation-public-key-env <VAR>]
    [--credential-broker off|stub|env|command] [--credential-env-prefix <prefix>] [--credential-command <path>]
    [--credential-command-args <csv>] [--credential-ref <ref>] [--credential-scopes <csv>]
    [--max-in-flight <n>] [--drain-timeout <dur>] [--operator-tokens-file <path>] [--reset-approval-state]
    [--max-export-streams <n>] [--export-stall-timeout <dur>] [--json]

Defaults: state dir ./${DEFAULT_STATE_DIR}, agent socket <state>/${DEFAULT_SOCKET_NAME} (mode 0600), traces <state>/traces,
dev keys kept in <state>/keys. Approve/ListApprovals are served only on --operator-listen.`;

const OPTIONS = {
  policy: { type: "string" },
  listen: { type: "string" },
  "operator-listen": { type: "string" },
  "http-listen": { type: "string" },
  "metrics-listen": { type: "string" },
  "socket-mode": { type: "string" },
  adapter: { type: "string" },
  profile: { type: "string" },
  "kill-switch-state": { type: "string" },
  "auth-mode": { type: "string" },
  "auth-token-env": { type: "string" },
  "max-request-bytes": { type: "string" },
  "http-verdict-status": { type: "string" },
  state: { type: "string" },
  "trace-dir": { type: "string" },
  "runpack-dir": { type: "string" },
  "trace-max-age": { type: "string" },
  "trace-max-count": { type: "string" },
  "runpack-max-age": { type: "string" },
  "runpack-max-count": { type: "string" },
  "key-mode": { type: "string" },
  "private-key": { type: "string" },
  "private-key-env": { type: "string" },
  "approval-public-key": { type: "string" },
  "approval-public-key-env": { type: "string" },
  "delegation-public-key": { type: "string" },
  "delegation-public-key-env": { type: "string" },
  "credential-broker": { type: "string" },
  "credential-env-prefix": { type: "string" },
  "credential-command": { type: "string" },
  "credential-command-args": { type: "string" },
  "credential-ref": { type: "string" },
  "credential-scopes": { type: "string" },
  "policy-digest": { type: "string" },
  "approval-reuse": { type: "boolean" },
  "approval-request-ttl": { type: "string" },
  "max-in-flight": { type: "string" },
  "drain-timeout": { type: "string" },
  "operator-tokens-file": { type: "string" },
  "reset-approval-state": { type: "boolean" },
  "max-export-streams": { type: "string" },
  "export-stall-timeout": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const ADAPTERS = ["mcp", "openai", "anthropic", "langchain", "claude_code"];

/** `host:port` with a numeric port (0 = any free port). */
function parseHostPort(flag: string, v: string, errs: string[]): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:\s]*):(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    errs.push(`--${flag} ${JSON.stringify(v)}: expected host:port (e.g. 127.0.0.1:8787)`);
    return undefined;
  }
  const host = m[1]!.replace(/^\[|\]$/g, "") || "127.0.0.1";
  return { host, port };
}

/** `unix:///abs`, `unix:/abs`, `/abs` or `host:port`. */
export function parseListen(flag: string, v: string, errs: string[]): ListenAddr | undefined {
  const s = v.trim();
  let path: string | undefined;
  if (s.startsWith("unix://")) path = s.slice("unix://".length);
  else if (s.startsWith("unix:")) path = s.slice("unix:".length);
  else if (s.startsWith("/")) path = s;
  if (path !== undefined) {
    if (!path.startsWith("/")) {
      errs.push(`--${flag} ${JSON.stringify(v)}: the socket path must be absolute (unix:///abs/path.sock)`);
      return undefined;
    }
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
      errs.push(`--${flag}: socket path too long (${Buffer.byteLength(path)} > ${MAX_SOCKET_PATH_BYTES} bytes): ${path}`);
      return undefined;
    }
    return { kind: "unix", path };
  }
  const hp = parseHostPort(flag, s, errs);
  return hp ? { kind: "tcp", ...hp } : undefined;
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h === "::1" || /^127\./.test(h);
}

function nonNegInt(flag: string, v: string | undefined, def: number, errs: string[], min = 0): number {
  if (v === undefined) return def;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) {
    errs.push(`--${flag} ${JSON.stringify(v)}: expected an integer >= ${min}`);
    return def;
  }
  return Number(v);
}

function duration(flag: string, v: string | undefined, def: number, errs: string[]): number {
  if (v === undefined) return def;
  try {
    const ms = parseGoDuration(v);
    if (ms < 0) throw new Error(`negative duration "${v}"`);
    return ms;
  } catch (e) {
    errs.push(`--${flag}: ${(e as Error).message}`);
    return def;
  }
}

function oneOf<T extends string>(flag: string, v: string | undefined, allowed: readonly T[], def: T, errs: string[]): T {
  if (v === undefined) return def;
  const x = v.trim().toLowerCase();
  if (!(allowed as readonly string[]).includes(x)) {
    errs.push(`--${flag} ${JSON.stringify(v)}: expected ${allowed.join("|")}`);
    return def;
  }
  return x as T;
}

const csv = (v: string | undefined): string[] => (v ? v.split(",").map((s) => s.trim()).filter(Boolean) : []);

/** Result of parsing argv: a config, or a request for help. */
export type ParsedServeArgs = { help: true } | { help: false; config: ServeConfig };

/**
 * Parse and validate `gait mcp serve` arguments. Throws {@link ConfigError} listing every problem.
 * `env` supplies `--auth-token-env` (read once here).
 */
export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ParsedServeArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}\n${SERVE_USAGE}`);
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  const errs: string[] = [];

  const positional = parsed.positionals;
  if (positional.length > 1) errs.push(`unexpected arguments: ${positional.slice(1).join(" ")}`);
  const policyPath = v.policy ?? positional[0];
  if (!policyPath) errs.push("--policy is required (the policy YAML file the server decides with)");
  if (v.policy && positional[0] && v.policy !== positional[0]) errs.push("give the policy once: --policy or a positional path, not both");

  if (v.state !== undefined && /^[a-z]+:\/\//i.test(v.state)) {
    errs.push(`--state ${v.state}: only a local directory is supported by this build (shared stores such as redis:// are not implemented)`);
  }
  const stateDir = resolve(cwd, v.state && !/^[a-z]+:\/\//i.test(v.state) ? v.state : DEFAULT_STATE_DIR);

  const listen = v.listen !== undefined ? parseListen("listen", v.listen, errs) : ({ kind: "unix", path: resolve(stateDir, DEFAULT_SOCKET_NAME) } as ListenAddr);
  if (listen?.kind === "unix" && v.listen === undefined && Buffer.byteLength(listen.path) > MAX_SOCKET_PATH_BYTES) {
    errs.push(`default socket path too long (${Buffer.byteLength(listen.path)} > ${MAX_SOCKET_PATH_BYTES} bytes): ${listen.path}; pass --listen unix:///short/path.sock`);
  }
  const operatorListen = v["operator-listen"] !== undefined ? parseListen("operator-listen", v["operator-listen"], errs) : undefined;
  if (listen && operatorListen && JSON.stringify(listen) === JSON.stringify(operatorListen)) {
    errs.push("--operator-listen must differ from --listen (the operator socket is what keeps agents from approving their own calls)");
  }
  const httpListen = v["http-listen"] !== undefined ? parseHostPort("http-listen", v["http-listen"], errs) : undefined;
  const metricsListen = v["metrics-listen"] !== undefined ? parseHostPort("metrics-listen", v["metrics-listen"], errs) : undefined;

  let socketMode = 0o600;
  if (v["socket-mode"] !== undefined) {
    const s = v["socket-mode"].trim();
    if (!/^0?[0-7]{3}$/.test(s)) errs.push(`--socket-mode ${JSON.stringify(s)}: expected an octal mode such as 0600 or 0660`);
    else {
      socketMode = parseInt(s, 8);
      if (socketMode & 0o007) errs.push(`--socket-mode ${s}: refusing a socket open to all users; use 0600 or 0660 (group access)`);
      if ((socketMode & 0o600) !== 0o600) errs.push(`--socket-mode ${s}: the owner needs read and write (0600 or 0660)`);
    }
  }

  const adapter = oneOf("adapter", v.adapter, ADAPTERS, "mcp", errs);
  const profile = oneOf("profile", v.profile, ["standard", "oss-prod"] as const, "standard", errs);
  const authMode = oneOf("auth-mode", v["auth-mode"], ["off", "token"] as const, "off", errs);
  let authToken: string | undefined;
  if (authMode === "token") {
    const name = v["auth-token-env"];
    if (!name) errs.push("--auth-mode token requires --auth-token-env <VAR> (the env var holding the bearer token)");
    else if (!env[name] || !env[name]!.trim()) errs.push(`--auth-token-env ${name}: the variable is empty or unset`);
    else authToken = env[name]!.trim();
  } else if (v["auth-token-env"] !== undefined) {
    errs.push("--auth-token-env is only meaningful with --auth-mode token");
  }
  for (const [flag, addr] of [["listen", listen], ["operator-listen", operatorListen]] as const) {
    if (addr?.kind === "tcp" && authMode !== "token") {
      errs.push(`--${flag} ${addr.host}:${addr.port} is TCP: it requires --auth-mode token --auth-token-env <VAR> (or use a unix:/// socket)`);
    }
  }
  if (httpListen && !isLoopback(httpListen.host) && authMode !== "token") {
    errs.push(`--http-listen ${httpListen.host}:${httpListen.port} is not loopback: it requires --auth-mode token --auth-token-env <VAR>`);
  }

  const maxRequestBytes = nonNegInt("max-request-bytes", v["max-request-bytes"], 1 << 20, errs, 1);
  const httpVerdictStatus = oneOf("http-verdict-status", v["http-verdict-status"], ["compat", "strict"] as const, "compat", errs);
  const keyMode = oneOf("key-mode", v["key-mode"], ["dev", "prod"] as const, "dev", errs);
  if (keyMode === "dev" && (v["private-key"] || v["private-key-env"])) {
    errs.push("dev mode does not accept explicit key sources (use --key-mode prod with --private-key or --private-key-env)");
  }
  if (keyMode === "prod" && !v["private-key"] && !v["private-key-env"]) errs.push("--key-mode prod requires --private-key or --private-key-env");
  if (v["private-key"] && v["private-key-env"]) errs.push("set either --private-key or --private-key-env, not both");
  if (profile === "oss-prod" && keyMode !== "prod") errs.push("--profile oss-prod requires --key-mode prod");
  if (v["approval-public-key"] && v["approval-public-key-env"]) errs.push("set either --approval-public-key or --approval-public-key-env, not both");
  if (v["delegation-public-key"] && v["delegation-public-key-env"]) errs.push("set either --delegation-public-key or --delegation-public-key-env, not both");

  let policyDigestPin: string | undefined;
  if (v["policy-digest"] !== undefined) {
    const m = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(v["policy-digest"].trim());
    if (!m) errs.push(`--policy-digest ${JSON.stringify(v["policy-digest"])}: expected sha256:<64 hex>`);
    else policyDigestPin = m[1]!.toLowerCase();
  }

  const credentialBroker = oneOf("credential-broker", v["credential-broker"], ["off", "stub", "env", "command"] as const, "off", errs);
  if (credentialBroker === "command" && !v["credential-command"]) errs.push("--credential-broker command requires --credential-command <path>");

  const config: ServeConfig = {
    policyPath: policyPath ? resolve(cwd, policyPath) : "",
    policyDigestPin,
    listen: listen ?? { kind: "unix", path: "" },
    operatorListen,
    httpListen,
    metricsListen,
    socketMode,
    adapter,
    profile,
    killSwitchStatePath: v["kill-switch-state"] ? resolve(cwd, v["kill-switch-state"]) : undefined,
    authMode,
    authToken,
    authTokenEnv: v["auth-token-env"],
    maxRequestBytes,
    httpVerdictStatus,
    stateDir,
    traceDir: resolve(cwd, v["trace-dir"] ?? resolve(stateDir, "traces")),
    runpackDir: v["runpack-dir"] ? resolve(cwd, v["runpack-dir"]) : undefined,
    traceMaxAgeMs: duration("trace-max-age", v["trace-max-age"], 0, errs),
    traceMaxCount: nonNegInt("trace-max-count", v["trace-max-count"], 0, errs),
    runpackMaxAgeMs: duration("runpack-max-age", v["runpack-max-age"], 0, errs),
    runpackMaxCount: nonNegInt("runpack-max-count", v["runpack-max-count"], 0, errs),
    keyMode,
    privateKeyPath: v["private-key"] ? resolve(cwd, v["private-key"]) : undefined,
    privateKeyEnv: v["private-key-env"],
    approvalPublicKeyPath: v["approval-public-key"] ? resolve(cwd, v["approval-public-key"]) : undefined,
    approvalPublicKeyEnv: v["approval-public-key-env"],
    delegationPublicKeyPath: v["delegation-public-key"] ? resolve(cwd, v["delegation-public-key"]) : undefined,
    delegationPublicKeyEnv: v["delegation-public-key-env"],
    credentialBroker,
    credentialEnvPrefix: v["credential-env-prefix"] ?? "GAIT_BROKER_TOKEN_",
    credentialCommand: v["credential-command"],
    credentialCommandArgs: csv(v["credential-command-args"]),
    credentialRef: v["credential-ref"],
    credentialScopes: csv(v["credential-scopes"]),
    approvalReuse: v["approval-reuse"] ?? false,
    approvalRequestTtlMs: duration("approval-request-ttl", v["approval-request-ttl"], 3_600_000, errs),
    maxInFlight: nonNegInt("max-in-flight", v["max-in-flight"], 256, errs, 1),
    drainTimeoutMs: duration("drain-timeout", v["drain-timeout"], 10_000, errs),
    operatorTokensPath: v["operator-tokens-file"] ? resolve(cwd, v["operator-tokens-file"]) : undefined,
    resetApprovalState: v["reset-approval-state"] ?? false,
    maxExportStreams: nonNegInt("max-export-streams", v["max-export-streams"], 32, errs, 1),
    exportStallTimeoutMs: duration("export-stall-timeout", v["export-stall-timeout"], 30_000, errs),
    json: v.json ?? false,
  };
  if (config.approvalRequestTtlMs <= 0) errs.push("--approval-request-ttl must be positive");
  if (config.exportStallTimeoutMs <= 0) errs.push("--export-stall-timeout must be positive");
  if (config.operatorTokensPath && !config.operatorListen) errs.push("--operator-tokens-file needs --operator-listen (the tokens authenticate operators there)");
  if ((config.runpackMaxAgeMs > 0 || config.runpackMaxCount > 0) && !config.runpackDir) {
    errs.push("--runpack-max-age/--runpack-max-count need --runpack-dir");
  }
  if (errs.length) throw new ConfigError(errs.join("\n"));
  return { help: false, config };
}
