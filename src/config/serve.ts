/**
 * `gait mcp serve` configuration: flags, `GAIT_*` environment variables and an optional YAML file (`--config`,
 * `GAIT_CONFIG`) merged over frozen defaults, all declared once in options.ts. Precedence: flags over environment
 * over file over defaults. Every problem is collected and reported at once, each saying what was wrong, where it came
 * from and how to fix it; a start-up configuration error exits 6 like Gait's.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseArgs } from "node:util";
import YAML from "yaml";
import { parseGoDuration } from "../engine/time.js";
import { resolveSocketPath } from "../infra/socket-path.js";
import { isSharedStateUrl, parseSharedStateUrl, redactUrl, type SharedStateAddress } from "../state/redis/connection.js";
import { envOf, fileKeyOf, SERVE_OPTIONS, type OptionDef } from "./options.js";

/** Longest usable socket path in bytes (sun_path minus the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** A listener address: a Unix socket path or a TCP host:port. */
export type ListenAddr = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

/** The validated configuration (frozen). Components receive slices of it (see main/serve.ts). */
export interface ServeConfig {
  policyPath: string;
  /** The only policy digest this server accepts (hex, lowercase). */
  policyDigestPin?: string;
  listen: ListenAddr;
  operatorListen?: ListenAddr;
  httpListen?: { host: string; port: number };
  metricsListen?: { host: string; port: number };
  socketMode: number;
  adapter: string;
  profile: "standard" | "oss-prod";
  killSwitchStatePath?: string;
  authMode: "off" | "token";
  /** The bearer token, read once at startup from `--auth-token-env` (a secret: never printed). */
  authToken?: string;
  authTokenEnv?: string;
  operatorTokensPath?: string;
  maxRequestBytes: number;
  httpVerdictStatus: "compat" | "strict";
  /** The local directory: dev keys, the approval ledger (unless shared), the trace log by default. */
  stateDir: string;
  /** `--state redis://...`: the counters, approval ledger and kill switch shared by replicas. */
  sharedState?: { address: SharedStateAddress; prefix: string; timeoutMs: number };
  /** This replica's name (`--replica-id`, default the host name): in trace log checkpoints and logs. */
  replicaId: string;
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
  approvalReuse: boolean;
  approvalRequestTtlMs: number;
  resetApprovalState: boolean;
  maxInFlight: number;
  signingWorker: "on" | "off";
  maxExportStreams: number;
  exportStallTimeoutMs: number;
  drainTimeoutMs: number;
  json: boolean;
  /** The operator web console (transport/http/console.ts). */
  consoleListen?: { host: string; port: number };
  consoleTokenPath?: string;
  decisionLog: "off" | "info" | "debug";
  decisionLogSample: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Where a setting's value came from. */
export type Source = "flag" | "env" | "file" | "default";

/** Result of parsing: help, or a configuration (and whether to print it instead of serving). */
export type ParsedServeArgs = { help: true } | { help: false; printConfig: boolean; config: ServeConfig; sources: Readonly<Record<string, Source>> };

const META = { config: { type: "string" }, "print-config": { type: "boolean" }, help: { type: "boolean", short: "h" } } as const;

/** `host:port` with a numeric port (0 = any free port). */
function parseHostPort(where: string, v: string, errs: string[]): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:\s]*):(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    errs.push(`${where} ${JSON.stringify(v)}: expected host:port (e.g. 127.0.0.1:8787)`);
    return undefined;
  }
  const host = m[1]!.replace(/^\[|\]$/g, "") || "127.0.0.1";
  return { host, port };
}

/** `unix:///abs`, `unix:/abs`, `/abs` or `host:port`. */
export function parseListen(where: string, v: string, errs: string[]): ListenAddr | undefined {
  const s = v.trim();
  let path: string | undefined;
  if (s.startsWith("unix://")) path = s.slice("unix://".length);
  else if (s.startsWith("unix:")) path = s.slice("unix:".length);
  else if (s.startsWith("/")) path = s;
  if (path !== undefined) {
    if (!path.startsWith("/")) {
      errs.push(`${where} ${JSON.stringify(v)}: the socket path must be absolute (unix:///abs/path.sock)`);
      return undefined;
    }
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
      errs.push(`${where}: socket path too long (${Buffer.byteLength(path)} > ${MAX_SOCKET_PATH_BYTES} bytes): ${path}`);
      return undefined;
    }
    return { kind: "unix", path };
  }
  const hp = parseHostPort(where, s, errs);
  return hp ? { kind: "tcp", ...hp } : undefined;
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h === "::1" || /^127\./.test(h);
}

/** The closest option name to a misspelt one, for "did you mean". */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

type Raw = { value: unknown; source: Source; where: string; base: string };

/** Convert one raw value by its option's kind; pushes an error and returns undefined when it is not valid. */
function convert(o: OptionDef, raw: Raw, errs: string[]): unknown {
  const v = raw.value;
  const where = raw.where;
  const bad = (why: string) => {
    errs.push(`${where} ${JSON.stringify(v)}: ${why}`);
    return undefined;
  };
  if (raw.source === "default") return v;
  switch (o.kind) {
    case "boolean":
      if (typeof v === "boolean") return v;
      if (typeof v === "string" && /^(true|1|t|yes)$/i.test(v.trim())) return true;
      if (typeof v === "string" && /^(false|0|f|no|)$/i.test(v.trim())) return false;
      return bad("expected true or false");
    case "int": {
      const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
      if (!Number.isSafeInteger(n) || n < (o.min ?? 0)) return bad(`expected an integer >= ${o.min ?? 0}`);
      return n;
    }
    case "duration": {
      if (typeof v === "number" && v === 0) return 0;
      if (typeof v !== "string") return bad('expected a duration such as "30s", "15m", "1h"');
      try {
        const ms = parseGoDuration(v);
        if (ms < 0) return bad("a duration must not be negative");
        return ms;
      } catch (e) {
        return bad((e as Error).message);
      }
    }
    case "enum": {
      const s = typeof v === "string" ? v.trim().toLowerCase() : "";
      if (!o.values!.includes(s)) return bad(`expected ${o.values!.join("|")}`);
      return s;
    }
    case "csv":
      if (Array.isArray(v) && v.every((x) => typeof x === "string")) return (v as string[]).map((x) => x.trim()).filter(Boolean);
      if (typeof v === "string") return v.split(",").map((x) => x.trim()).filter(Boolean);
      return bad("expected a comma-separated list");
    case "path":
      if (typeof v !== "string" || !v.trim()) return bad("expected a path");
      // a relative path is relative to the working directory, or to the config file that names it
      return resolve(raw.base, v.trim());
    default:
      if (typeof v !== "string" && typeof v !== "number") return bad("expected a string");
      return String(v).trim();
  }
}

/**
 * Parse and validate `gait mcp serve` arguments with the environment and the config file. Throws {@link ConfigError}
 * listing every problem.
 */
export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ParsedServeArgs {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { ...META };
  for (const o of SERVE_OPTIONS) options[o.flag] = { type: o.kind === "boolean" ? "boolean" : "string" };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const flag = /'(--?[^' =]+)/.exec((e as Error).message)?.[1]?.replace(/^--?/, "");
    const near = flag ? closest(flag, SERVE_OPTIONS.map((o) => o.flag)) : undefined;
    throw new ConfigError(`${(e as Error).message}${near ? ` (did you mean --${near}?)` : ""}\nrun 'gait mcp serve --help' for every flag`);
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  if (flags.help) return { help: true };
  const errs: string[] = [];

  // the config file
  let file: Record<string, unknown> = {};
  let fileBase = cwd;
  const configPath = typeof flags.config === "string" ? resolve(cwd, flags.config) : env.GAIT_CONFIG ? resolve(cwd, env.GAIT_CONFIG) : undefined;
  if (configPath) {
    fileBase = dirname(configPath);
    try {
      const doc = YAML.parse(readFileSync(configPath, "utf8")) as unknown;
      if (doc === null || doc === undefined) file = {};
      else if (typeof doc !== "object" || Array.isArray(doc)) errs.push(`config file ${configPath}: expected a mapping of settings (e.g. "trace_dir: /var/lib/gait/traces")`);
      else file = doc as Record<string, unknown>;
    } catch (e) {
      errs.push(`config file ${configPath}: ${(e as Error).message}`);
    }
    const known = SERVE_OPTIONS.map(fileKeyOf);
    for (const k of Object.keys(file)) {
      if (!known.includes(k)) {
        const near = closest(k, known);
        errs.push(`config file ${configPath}: unknown setting "${k}"${near ? ` (did you mean "${near}"?)` : ""}`);
      }
    }
  }

  // every option: flag > env > file > default
  const positional = parsed.positionals;
  if (positional.length > 1) errs.push(`unexpected arguments: ${positional.slice(1).join(" ")}`);
  if (typeof flags.policy === "string" && positional[0] && flags.policy !== positional[0]) errs.push("give the policy once: --policy or a positional path, not both");
  const values: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  for (const o of SERVE_OPTIONS) {
    let raw: Raw | undefined;
    const f = o.flag === "policy" ? (flags.policy ?? positional[0]) : flags[o.flag];
    const e = envOf(o);
    if (f !== undefined) raw = { value: f, source: "flag", where: `--${o.flag}`, base: cwd };
    else if (e && env[e] !== undefined && env[e] !== "") raw = { value: env[e], source: "env", where: e, base: cwd };
    else if (Object.prototype.hasOwnProperty.call(file, fileKeyOf(o))) raw = { value: file[fileKeyOf(o)], source: "file", where: `config ${fileKeyOf(o)}`, base: fileBase };
    else if (o.default !== undefined) raw = { value: o.default, source: "default", where: `--${o.flag}`, base: cwd };
    if (!raw) continue;
    const c = convert(o, raw, errs);
    if (c !== undefined) {
      values[o.flag] = c;
      sources[o.flag] = raw.source;
    }
  }
  const where = (flag: string): string =>
    (sources[flag] === "env" ? envOf(SERVE_OPTIONS.find((o) => o.flag === flag)!) : undefined) ?? (sources[flag] === "file" ? `config ${flag.replace(/-/g, "_")}` : `--${flag}`);
  const str = (flag: string) => values[flag] as string | undefined;

  const policyPath = str("policy");
  if (!policyPath) errs.push("--policy is required (the policy YAML file the server decides with)");

  const stateRaw = str("state")!;
  let sharedState: ServeConfig["sharedState"];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(stateRaw.trim())) {
    if (!isSharedStateUrl(stateRaw)) errs.push(`${where("state")} ${redactUrl(stateRaw)}: unsupported store; expected a directory, redis://host:port/db, rediss://host:port/db or unix:///path/redis.sock`);
    else {
      try {
        const address = parseSharedStateUrl(stateRaw);
        const prefix = str("state-prefix")!;
        if (!/^[A-Za-z0-9_.:{}-]{1,64}$/.test(prefix)) errs.push(`${where("state-prefix")} ${JSON.stringify(prefix)}: use 1 to 64 letters, digits and _ . : { } -`);
        sharedState = { address, prefix, timeoutMs: values["state-timeout"] as number };
        if (sharedState.timeoutMs <= 0) errs.push("--state-timeout must be positive");
      } catch (e) {
        errs.push(`${where("state")} ${(e as Error).message}`);
      }
    }
  } else if (str("local-dir") !== undefined) errs.push("--local-dir is only meaningful with a shared --state (redis://...); with a directory, --state is the local directory");
  const stateDir = resolve(sources.state === "file" ? fileBase : cwd, sharedState || /^[a-z][a-z0-9+.-]*:\/\//i.test(stateRaw.trim()) ? (str("local-dir") ?? "gait-out/serve") : stateRaw);

  // the agent socket: flag, GAIT_SOCKET, config file, else the per-user default (infra/socket-path.ts)
  let listen: ListenAddr | undefined;
  if (str("listen") !== undefined) listen = parseListen(where("listen"), str("listen")!, errs);
  else {
    listen = parseListen("the default socket path", resolveSocketPath("agent", undefined, env).path, errs);
    sources.listen = "default";
  }
  const operatorListen = str("operator-listen") !== undefined ? parseListen(where("operator-listen"), str("operator-listen")!, errs) : undefined;
  if (listen && operatorListen && JSON.stringify(listen) === JSON.stringify(operatorListen)) {
    errs.push("--operator-listen must differ from --listen (the operator socket is what keeps agents from approving their own calls)");
  }
  const httpListen = str("http-listen") !== undefined ? parseHostPort(where("http-listen"), str("http-listen")!, errs) : undefined;
  const metricsListen = str("metrics-listen") !== undefined ? parseHostPort(where("metrics-listen"), str("metrics-listen")!, errs) : undefined;
  const consoleListen = str("console-listen") !== undefined ? parseHostPort(where("console-listen"), str("console-listen")!, errs) : undefined;
  // a console any other machine can reach approves calls: it needs a login token the operator chose
  if (consoleListen && !isLoopback(consoleListen.host) && !str("console-token-file")) {
    errs.push(`--console-listen ${consoleListen.host}:${consoleListen.port} is not loopback: it requires --console-token-file <path> (the login token), or listen on 127.0.0.1`);
  }
  if (str("console-token-file") && !consoleListen) errs.push("--console-token-file needs --console-listen");

  let socketMode = 0o600;
  {
    const s = str("socket-mode")!;
    if (!/^0?[0-7]{3}$/.test(s)) errs.push(`${where("socket-mode")} ${JSON.stringify(s)}: expected an octal mode such as 0600 or 0660`);
    else {
      socketMode = parseInt(s, 8);
      if (socketMode & 0o007) errs.push(`${where("socket-mode")} ${s}: refusing a socket open to all users; use 0600 or 0660 (group access)`);
      if ((socketMode & 0o600) !== 0o600) errs.push(`${where("socket-mode")} ${s}: the owner needs read and write (0600 or 0660)`);
    }
  }

  const authMode = str("auth-mode") as ServeConfig["authMode"];
  let authToken: string | undefined;
  const tokenEnv = str("auth-token-env");
  if (authMode === "token") {
    if (!tokenEnv) errs.push("--auth-mode token requires --auth-token-env <VAR> (the env var holding the bearer token)");
    else if (!env[tokenEnv] || !env[tokenEnv]!.trim()) errs.push(`${where("auth-token-env")} ${tokenEnv}: the variable is empty or unset`);
    else authToken = env[tokenEnv]!.trim();
  } else if (tokenEnv !== undefined) errs.push("--auth-token-env is only meaningful with --auth-mode token");
  for (const [flag, addr] of [["listen", listen], ["operator-listen", operatorListen]] as const) {
    if (addr?.kind === "tcp" && authMode !== "token") {
      errs.push(`--${flag} ${addr.host}:${addr.port} is TCP: it requires --auth-mode token --auth-token-env <VAR> (or use a unix:/// socket)`);
    }
  }
  if (httpListen && !isLoopback(httpListen.host) && authMode !== "token") {
    errs.push(`--http-listen ${httpListen.host}:${httpListen.port} is not loopback: it requires --auth-mode token --auth-token-env <VAR>`);
  }

  const keyMode = str("key-mode") as ServeConfig["keyMode"];
  if (keyMode === "dev" && (str("private-key") || str("private-key-env"))) {
    errs.push("dev mode does not accept explicit key sources (use --key-mode prod with --private-key or --private-key-env)");
  }
  if (keyMode === "prod" && !str("private-key") && !str("private-key-env")) errs.push("--key-mode prod requires --private-key or --private-key-env");
  if (str("private-key") && str("private-key-env")) errs.push("set either --private-key or --private-key-env, not both");
  const profile = str("profile") as ServeConfig["profile"];
  if (profile === "oss-prod" && keyMode !== "prod") errs.push("--profile oss-prod requires --key-mode prod");
  if (str("approval-public-key") && str("approval-public-key-env")) errs.push("set either --approval-public-key or --approval-public-key-env, not both");
  if (str("delegation-public-key") && str("delegation-public-key-env")) errs.push("set either --delegation-public-key or --delegation-public-key-env, not both");

  let policyDigestPin: string | undefined;
  if (str("policy-digest") !== undefined) {
    const m = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(str("policy-digest")!);
    if (!m) errs.push(`${where("policy-digest")} ${JSON.stringify(str("policy-digest"))}: expected sha256:<64 hex>`);
    else policyDigestPin = m[1]!.toLowerCase();
  }
  const credentialBroker = str("credential-broker") as ServeConfig["credentialBroker"];
  if (credentialBroker === "command" && !str("credential-command")) errs.push("--credential-broker command requires --credential-command <path>");

  const num = (flag: string) => values[flag] as number;
  const config: ServeConfig = {
    policyPath: policyPath ?? "",
    ...(policyDigestPin ? { policyDigestPin } : {}),
    listen: listen ?? { kind: "unix", path: "" },
    ...(operatorListen ? { operatorListen } : {}),
    ...(httpListen ? { httpListen } : {}),
    ...(metricsListen ? { metricsListen } : {}),
    socketMode,
    adapter: str("adapter")!,
    profile,
    ...(str("kill-switch-state") ? { killSwitchStatePath: str("kill-switch-state") } : {}),
    authMode,
    ...(authToken ? { authToken } : {}),
    ...(tokenEnv ? { authTokenEnv: tokenEnv } : {}),
    ...(str("operator-tokens-file") ? { operatorTokensPath: str("operator-tokens-file") } : {}),
    maxRequestBytes: num("max-request-bytes"),
    httpVerdictStatus: str("http-verdict-status") as ServeConfig["httpVerdictStatus"],
    stateDir,
    ...(sharedState ? { sharedState } : {}),
    replicaId: str("replica-id")?.trim() || hostname(),
    traceDir: str("trace-dir") ?? resolve(stateDir, "traces"),
    ...(str("runpack-dir") ? { runpackDir: str("runpack-dir") } : {}),
    traceMaxAgeMs: num("trace-max-age"),
    traceMaxCount: num("trace-max-count"),
    runpackMaxAgeMs: num("runpack-max-age"),
    runpackMaxCount: num("runpack-max-count"),
    keyMode,
    ...(str("private-key") ? { privateKeyPath: str("private-key") } : {}),
    ...(str("private-key-env") ? { privateKeyEnv: str("private-key-env") } : {}),
    ...(str("approval-public-key") ? { approvalPublicKeyPath: str("approval-public-key") } : {}),
    ...(str("approval-public-key-env") ? { approvalPublicKeyEnv: str("approval-public-key-env") } : {}),
    ...(str("delegation-public-key") ? { delegationPublicKeyPath: str("delegation-public-key") } : {}),
    ...(str("delegation-public-key-env") ? { delegationPublicKeyEnv: str("delegation-public-key-env") } : {}),
    credentialBroker,
    credentialEnvPrefix: str("credential-env-prefix")!,
    ...(str("credential-command") ? { credentialCommand: str("credential-command") } : {}),
    credentialCommandArgs: [...((values["credential-command-args"] as string[]) ?? [])],
    ...(str("credential-ref") ? { credentialRef: str("credential-ref") } : {}),
    credentialScopes: [...((values["credential-scopes"] as string[]) ?? [])],
    approvalReuse: values["approval-reuse"] as boolean,
    approvalRequestTtlMs: num("approval-request-ttl"),
    resetApprovalState: values["reset-approval-state"] as boolean,
    maxInFlight: num("max-in-flight"),
    signingWorker: str("signing-worker") as ServeConfig["signingWorker"],
    maxExportStreams: num("max-export-streams"),
    exportStallTimeoutMs: num("export-stall-timeout"),
    drainTimeoutMs: num("drain-timeout"),
    json: values.json as boolean,
    ...(consoleListen ? { consoleListen } : {}),
    ...(str("console-token-file") ? { consoleTokenPath: str("console-token-file") } : {}),
    decisionLog: str("decision-log") as ServeConfig["decisionLog"],
    decisionLogSample: num("decision-log-sample"),
  };
  if (config.approvalRequestTtlMs <= 0) errs.push("--approval-request-ttl must be positive");
  if (config.exportStallTimeoutMs <= 0) errs.push("--export-stall-timeout must be positive");
  if (config.operatorTokensPath && !config.operatorListen) errs.push("--operator-tokens-file needs --operator-listen (the tokens authenticate operators there)");
  if ((config.runpackMaxAgeMs > 0 || config.runpackMaxCount > 0) && !config.runpackDir) errs.push("--runpack-max-age/--runpack-max-count need --runpack-dir");
  if (errs.length) throw new ConfigError(errs.join("\n"));
  return { help: false, printConfig: flags["print-config"] === true, config: Object.freeze(config), sources: Object.freeze(sources) };
}

/** The `--print-config` document: every setting with its effective value and source; secrets redacted. */
export function printableConfig(p: Extract<ParsedServeArgs, { help: false }>): Record<string, unknown> {
  const c = p.config as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const show = (a: unknown): unknown => (a && typeof a === "object" && "kind" in (a as object) ? ((a as ListenAddr).kind === "unix" ? `unix://${(a as { path: string }).path}` : `${(a as { host: string }).host}:${(a as { port: number }).port}`) : a);
  for (const [k, v] of Object.entries(c)) {
    if (k === "sharedState") {
      const sh = v as NonNullable<ServeConfig["sharedState"]>;
      out[k] = { url: sh.address.label, auth: sh.address.password ? "<redacted>" : "none", prefix: sh.prefix, timeoutMs: sh.timeoutMs };
    } else out[k] = k === "authToken" ? "<redacted>" : show(v);
  }
  return { config: out, sources: p.sources };
}

/** Absolute paths only, for messages. */
export const isAbsPath = isAbsolute;
