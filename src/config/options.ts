/**
 * Every setting of `gait mcp serve`, declared once. The same table drives flag parsing, the environment variables
 * (`GAIT_*`), the optional YAML config file, the frozen defaults, `--help` and `--print-config` (with secrets
 * redacted), so a setting cannot exist in one of them and not in the others.
 *
 * Precedence, highest first: flags, environment, config file, defaults. Every problem is collected and reported at
 * once (serve.ts).
 */
import { ADAPTER_NAMES } from "../engine/adapters.js";

/** How a raw value is turned into a config value. */
export type OptionKind = "string" | "path" | "boolean" | "int" | "duration" | "enum" | "csv";

export interface OptionDef {
  /** The flag, without `--` (also the YAML key with `-` as `_`). */
  flag: string;
  kind: OptionKind;
  /** Environment variable; every option has one (`GAIT_` + the flag in upper case, `-` as `_`) unless `env: false`. */
  env?: string | false;
  /** Placeholder in help, e.g. `<path>`. */
  value?: string;
  help: string;
  /** Allowed values (enum). */
  values?: readonly string[];
  /** Default in the config's own units (ms for durations); `undefined` = unset. */
  default?: string | number | boolean | readonly string[];
  /** Minimum for ints. */
  min?: number;
  /** Redacted in --print-config. */
  secret?: boolean;
  /** Help group. */
  group: "policy" | "listen" | "keys" | "state" | "limits" | "approvals" | "broker" | "output";
}

const DUR = (ms: number) => ms;

/** The table. Order is the order of `--help` and `--print-config`. */
export const SERVE_OPTIONS: readonly OptionDef[] = Object.freeze([
  // policy
  { flag: "policy", kind: "path", value: "<policy.yaml>", help: "the policy the server decides with (also the first positional argument)", group: "policy" },
  { flag: "policy-digest", kind: "string", value: "sha256:<hex>", help: "refuse any policy file whose digest differs (start and reload)", group: "policy" },
  { flag: "profile", kind: "enum", values: ["standard", "oss-prod"], default: "standard", help: "oss-prod: prod keys, explicit verify keys, no default allow", group: "policy" },
  { flag: "adapter", kind: "enum", values: ADAPTER_NAMES, default: "mcp", help: "format of a tool call that names no adapter", group: "policy" },
  { flag: "kill-switch-state", kind: "path", value: "<state.json>", help: "kill-switch state file (watched; SIGHUP re-reads it)", group: "policy" },
  // listeners
  { flag: "listen", kind: "string", env: "GAIT_SOCKET", value: "unix:///abs/path.sock|host:port", help: "agent listener (default $XDG_RUNTIME_DIR/gait/gate.sock, else /tmp/gait-<uid>/gate.sock)", group: "listen" },
  { flag: "operator-listen", kind: "string", env: "GAIT_OPERATOR_SOCKET", value: "unix:///abs/op.sock|host:port", help: "operator listener: adds Approve, ListApprovals, the kill-switch methods and WatchDecisions (never the agent's socket)", group: "listen" },
  { flag: "console-listen", kind: "string", value: "host:port", help: "the operator web console (loopback unless --console-token-file; operator plane only)", group: "listen" },
  { flag: "console-token-file", kind: "path", value: "<path>", help: "the console's login token (first line); without it a loopback console makes a new one per start and prints its login URL", group: "listen" },
  { flag: "http-listen", kind: "string", value: "host:port", help: "Gait's HTTP JSON /v1/evaluate (loopback unless --auth-mode token)", group: "listen" },
  { flag: "metrics-listen", kind: "string", value: "host:port", help: "Prometheus GET /metrics", group: "listen" },
  { flag: "socket-mode", kind: "string", value: "<octal>", default: "0600", help: "mode of every Unix socket (0600, or 0660 for group access)", group: "listen" },
  { flag: "auth-mode", kind: "enum", values: ["off", "token"], default: "off", help: "token: every call needs the bearer token from --auth-token-env", group: "listen" },
  { flag: "auth-token-env", kind: "string", value: "<VAR>", help: "environment variable holding the bearer token", group: "listen" },
  { flag: "operator-tokens-file", kind: "path", value: "<path>", help: "operators' token digests (`<identity> sha256:<hex>` per line): authenticates operators and names the approver", group: "listen" },
  // keys
  { flag: "key-mode", kind: "enum", values: ["dev", "prod"], default: "dev", help: "dev: a key pair generated once into <state>/keys; prod: --private-key or --private-key-env", group: "keys" },
  { flag: "private-key", kind: "path", value: "<path>", help: "signing key file (prod)", group: "keys" },
  { flag: "private-key-env", kind: "string", value: "<VAR>", help: "signing key from an environment variable (prod)", group: "keys" },
  { flag: "approval-public-key", kind: "path", value: "<path>", help: "verify key for approval tokens not minted by this server", group: "keys" },
  { flag: "approval-public-key-env", kind: "string", value: "<VAR>", help: "approval verify key from an environment variable", group: "keys" },
  { flag: "delegation-public-key", kind: "path", value: "<path>", help: "verify key for delegation tokens (default: the approval key, then the server's)", group: "keys" },
  { flag: "delegation-public-key-env", kind: "string", value: "<VAR>", help: "delegation verify key from an environment variable", group: "keys" },
  // state and evidence
  { flag: "state", kind: "string", value: "<dir|url>", default: "gait-out/serve", help: "state directory (dev keys, approval ledger), or the shared state of replicas: redis://host:port/db, rediss://... (TLS), unix:///path/redis.sock?db=N (a password in the URL: pass it as GAIT_STATE, not in argv)", group: "state" },
  { flag: "local-dir", kind: "path", value: "<dir>", help: "with a shared --state: the local directory for the dev key pair and the trace log (default gait-out/serve)", group: "state" },
  { flag: "state-prefix", kind: "string", value: "<prefix>", default: "gait:", help: "with a shared --state: key prefix in Redis (fleets sharing one Redis use different prefixes)", group: "state" },
  { flag: "state-timeout", kind: "duration", value: "<dur>", default: DUR(500), help: "with a shared --state: bound on each call to it; slower or unreachable = the decision fails closed (STATE_UNAVAILABLE)", group: "state" },
  { flag: "replica-id", kind: "string", value: "<id>", help: "this replica's name in its log lines and, with a shared --state, in its trace log checkpoints (default: the host name)", group: "state" },
  { flag: "trace-dir", kind: "path", value: "<dir>", help: "trace log directory (default <state>/traces; with a shared --state, <local-dir>/traces)", group: "state" },
  { flag: "trace-max-age", kind: "duration", value: "<dur>", default: DUR(0), help: "retention: delete sealed trace segments older than this (0 = keep)", group: "state" },
  { flag: "trace-max-count", kind: "int", value: "<n>", default: 0, min: 0, help: "retention: keep at least the newest n entries, delete older sealed segments (0 = keep)", group: "state" },
  { flag: "runpack-dir", kind: "path", value: "<dir>", help: "where emit_runpack writes (unset: emit_runpack is refused)", group: "state" },
  { flag: "runpack-max-age", kind: "duration", value: "<dur>", default: DUR(0), help: "retention of runpacks by age (0 = keep)", group: "state" },
  { flag: "runpack-max-count", kind: "int", value: "<n>", default: 0, min: 0, help: "retention of runpacks by count (0 = keep)", group: "state" },
  { flag: "reset-approval-state", kind: "boolean", default: false, env: false, help: "start a fresh approval ledger that refuses every token issued before now (after lost state; with a shared --state, for every replica)", group: "state" },
  // approvals
  { flag: "approval-request-ttl", kind: "duration", value: "<dur>", default: DUR(3_600_000), help: "how long a pending approval request waits for an operator", group: "approvals" },
  { flag: "approval-reuse", kind: "boolean", default: false, help: "Gait behaviour: approval tokens reusable until they expire (default: single use)", group: "approvals" },
  // broker
  { flag: "credential-broker", kind: "enum", values: ["off", "stub", "env", "command"], default: "off", help: "credential broker for rules with require_broker_credential", group: "broker" },
  { flag: "credential-env-prefix", kind: "string", value: "<prefix>", default: "GAIT_BROKER_TOKEN_", help: "env broker: variable prefix", group: "broker" },
  { flag: "credential-command", kind: "path", value: "<path>", help: "command broker: executable", group: "broker" },
  { flag: "credential-command-args", kind: "csv", value: "<csv>", default: [], help: "command broker: arguments", group: "broker" },
  { flag: "credential-ref", kind: "string", value: "<ref>", help: "credential reference requested from the broker", group: "broker" },
  { flag: "credential-scopes", kind: "csv", value: "<csv>", default: [], help: "extra scopes requested from the broker", group: "broker" },
  // limits
  { flag: "max-in-flight", kind: "int", value: "<n>", default: 256, min: 1, help: "decisions in flight beyond which calls are refused (RESOURCE_EXHAUSTED / 503)", group: "limits" },
  { flag: "signing-worker", kind: "enum", values: ["on", "off"], default: "on", help: "on: sign trace records on a worker thread (a second core) while more than 16 decisions are in flight; off: always on the main thread (saves the worker's ~10-16 MB)", group: "limits" },
  { flag: "max-request-bytes", kind: "int", value: "<bytes>", default: 1 << 20, min: 1, help: "largest request (gRPC message, HTTP body)", group: "limits" },
  { flag: "max-export-streams", kind: "int", value: "<n>", default: 32, min: 1, help: "streaming calls (ExportTraces, health Watch) open at once", group: "limits" },
  { flag: "export-stall-timeout", kind: "duration", value: "<dur>", default: DUR(30_000), help: "a stream whose client reads nothing this long is cut off", group: "limits" },
  { flag: "drain-timeout", kind: "duration", value: "<dur>", default: DUR(10_000), help: "how long SIGTERM waits for calls in flight", group: "limits" },
  { flag: "http-verdict-status", kind: "enum", values: ["compat", "strict"], default: "compat", help: "compat: HTTP 200 for every verdict (Gait); strict: 403 block, 409 require_approval", group: "limits" },
  // output
  { flag: "json", kind: "boolean", default: false, help: "print the start-up line as JSON", group: "output" },
  { flag: "decision-log", kind: "enum", values: ["off", "info", "debug"], default: "off", help: "one structured log line per decision (verdict, tool, identity, reason codes, latency; never arguments) at this level", group: "output" },
  { flag: "decision-log-sample", kind: "int", value: "<n>", default: 1, min: 1, help: "log 1 decision in every n (with --decision-log); blocks and approvals are sampled like the rest", group: "output" },
] satisfies OptionDef[]);

/** The environment variable of an option (undefined when it has none). */
export function envOf(o: OptionDef): string | undefined {
  if (o.env === false) return undefined;
  return o.env ?? `GAIT_${o.flag.toUpperCase().replace(/-/g, "_")}`;
}

/** The YAML config file key of an option. */
export function fileKeyOf(o: OptionDef): string {
  return o.flag.replace(/-/g, "_");
}
