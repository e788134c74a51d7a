/**
 * Credential brokers that do I/O (gate.md §4.11): `env` reads a credential from an environment variable and
 * `command` runs an explicitly configured executable. The pure `stub` broker lives in engine/broker.ts.
 *
 * Both return only a *reference* to the credential (`credential_ref`), never its value, and never log it. Every
 * failure is an Error: the gate turns it into `block` with `broker_credential_missing`.
 */
import { execFile } from "node:child_process";
import { basename, isAbsolute, normalize } from "node:path";
import { sha256Hex } from "../engine/canon.js";
import { BrokerError, brokerRequestPayload, stubBroker } from "../engine/broker.js";
import { formatGoTime, parseRFC3339 } from "../engine/time.js";
import type { BrokerReceipt, BrokerRequest, CredentialBroker } from "../engine/types.js";

/** Gait's default env broker prefix. */
export const DEFAULT_ENV_PREFIX = "GAIT_BROKER_TOKEN_";
/** Env var holding a comma-separated allowlist of broker commands (full paths or base names). */
export const COMMAND_ALLOWLIST_ENV = "GAIT_CREDENTIAL_COMMAND_ALLOWLIST";

/** `REF` part of the env var: uppercase, `.`/`-`/other non [A-Z0-9_] become `_`, trimmed of `_`; empty => DEFAULT. */
export function envKeyFor(reference: string): string {
  const upper = reference
    .trim()
    .toUpperCase()
    .replace(/[.-]/g, "_")
    .replace(/[^A-Z0-9_]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return upper || "DEFAULT";
}

export interface EnvBrokerOptions {
  /** @defaultValue "GAIT_BROKER_TOKEN_" */
  prefix?: string;
  /** @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * The `env` broker: the credential lives in `<prefix><REF>` where REF is the request reference (or the tool name
 * when there is none), normalized by {@link envKeyFor}. The receipt's credential_ref is
 * `env:<VAR>:<first 8 bytes hex of sha256(value)>`, so it identifies the value without revealing it. Optional
 * `<VAR>_ISSUED_AT`, `<VAR>_EXPIRES_AT` (RFC 3339) and `<VAR>_TTL_SECONDS` describe its lifetime.
 * An unset or blank variable is an error naming the variable (not its value).
 */
export function createEnvBroker(options: EnvBrokerOptions = {}): CredentialBroker {
  const prefix = options.prefix?.trim() || DEFAULT_ENV_PREFIX;
  const env = options.env ?? process.env;
  return {
    name: "env",
    async issue(request: BrokerRequest): Promise<BrokerReceipt> {
      const varName = prefix + envKeyFor(request.reference || request.tool_name);
      const value = (env[varName] ?? "").trim();
      if (!value) throw new BrokerError(`credential unavailable: environment variable ${varName} is unset or empty`);
      const receipt: BrokerReceipt = {
        issued_by: "env",
        credential_ref: `env:${varName}:${sha256Hex(value).slice(0, 16)}`,
        target_binding: request.target_binding,
      };
      if (request.scope.length) receipt.scopes = [...request.scope];
      if (request.run_id) receipt.run_binding = request.run_id;
      if (request.job_id) receipt.job_binding = request.job_id;
      const issued = parseRFC3339((env[`${varName}_ISSUED_AT`] ?? "").trim());
      if (issued) receipt.issued_at = formatGoTime(issued);
      const expires = parseRFC3339((env[`${varName}_EXPIRES_AT`] ?? "").trim());
      if (expires) receipt.expires_at = formatGoTime(expires);
      const ttlText = (env[`${varName}_TTL_SECONDS`] ?? "").trim();
      if (/^\d+$/.test(ttlText) && Number(ttlText) > 0) receipt.ttl_seconds = Number(ttlText);
      return receipt;
    },
  };
}

export interface CommandBrokerOptions {
  /** executable path; run directly (no shell), must not contain whitespace */
  command: string;
  args?: readonly string[];
  /** @defaultValue 5000 */
  timeoutMs?: number;
  /** stdout cap; more output is an error. @defaultValue 16384 */
  maxOutputBytes?: number;
  /** extra environment for the child (merged over process.env) */
  env?: NodeJS.ProcessEnv;
}

const MAX_CREDENTIAL_REF_LENGTH = 256;

const RECEIPT_STRING_FIELDS = [
  "issued_by",
  "credential_ref",
  "source",
  "access_type",
  "issuer",
  "subject",
  "owner",
  "target_binding",
  "run_binding",
  "job_binding",
  "request_digest",
  "issued_at",
  "expires_at",
] as const;

/**
 * The `command` broker: runs `command args...` with execFile (no shell), writes the request as JSON on stdin (Gait's
 * Go field names: ToolName, Identity, Workspace, SessionID, RequestID, RunID, JobID, Reference, Scope,
 * TargetBinding) and expects a JSON receipt on stdout: `{credential_ref, issued_by?, source?, access_type?, issuer?,
 * subject?, owner?, scope?, target_binding?, run_binding?, job_binding?, request_digest?, issued_at?, expires_at?,
 * ttl_seconds?}`. Timeout (5 s), output over 16 KiB, a non-zero exit, non-JSON output or an empty / over-long /
 * control-character credential_ref are errors. Bindings are not filled in for the command: a receipt that omits
 * target_binding fails `broker_target_binding_mismatch`. stderr is discarded (it may carry secrets).
 */
export function createCommandBroker(options: CommandBrokerOptions): CredentialBroker {
  const command = options.command.trim();
  if (!command) throw new BrokerError("command broker requires --credential-command");
  if (/\s/.test(command)) throw new BrokerError("command broker command must not contain whitespace");
  const args = (options.args ?? []).map((a) => a.trim()).filter(Boolean);
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxOutputBytes = options.maxOutputBytes ?? 16 * 1024;
  return {
    name: "command",
    issue(request: BrokerRequest): Promise<BrokerReceipt> {
      const payload = JSON.stringify(brokerRequestPayload(request));
      return new Promise<BrokerReceipt>((resolve, reject) => {
        const child = execFile(
          command,
          args,
          {
            timeout: timeoutMs,
            killSignal: "SIGKILL",
            maxBuffer: maxOutputBytes,
            encoding: "utf8",
            windowsHide: true,
            ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
          },
          (err, stdout) => {
            if (err) {
              const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string; code?: string | number };
              if (e.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER") {
                return reject(new BrokerError(`credential unavailable: command broker output exceeded ${maxOutputBytes} bytes`));
              }
              if (e.killed || e.signal === "SIGKILL") return reject(new BrokerError(`credential unavailable: command broker timed out after ${timeoutMs} ms`));
              if (e.code === "ENOENT" || e.code === "EACCES") return reject(new BrokerError(`credential unavailable: cannot run command broker ${command} (${e.code})`));
              return reject(new BrokerError(`credential unavailable: command broker failed (exit ${String(e.code ?? e.signal ?? "unknown")})`));
            }
            try {
              resolve(parseCommandReceipt(stdout));
            } catch (parseErr) {
              reject(parseErr);
            }
          },
        );
        child.stdin?.on("error", () => undefined); // the command may exit without reading stdin
        child.stdin?.end(payload);
      });
    },
  };
}

/** Parse and check a command broker's stdout. Exported for tests. */
export function parseCommandReceipt(stdout: string): BrokerReceipt {
  const text = stdout.trim();
  if (!text) throw new BrokerError("command broker returned empty output");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BrokerError("credential unavailable: command broker must return a JSON receipt on stdout");
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new BrokerError("command broker receipt must be a JSON object");
  const d = doc as Record<string, unknown>;
  const receipt: BrokerReceipt = { credential_ref: "" };
  for (const f of RECEIPT_STRING_FIELDS) {
    const v = d[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") throw new BrokerError(`command broker receipt field ${f} must be a string`);
    (receipt as unknown as Record<string, string>)[f] = v;
  }
  if (d.scope !== undefined && d.scope !== null) {
    if (!Array.isArray(d.scope) || !d.scope.every((s) => typeof s === "string")) throw new BrokerError("command broker receipt field scope must be an array of strings");
    receipt.scopes = d.scope as string[];
  }
  if (d.ttl_seconds !== undefined && d.ttl_seconds !== null) {
    if (typeof d.ttl_seconds !== "number" || !Number.isSafeInteger(d.ttl_seconds)) throw new BrokerError("command broker receipt field ttl_seconds must be an integer");
    receipt.ttl_seconds = d.ttl_seconds;
  }
  for (const f of ["issued_at", "expires_at"] as const) {
    if (receipt[f] && !parseRFC3339(receipt[f]!)) throw new BrokerError(`command broker receipt field ${f} must be RFC 3339`);
  }
  const ref = receipt.credential_ref.trim();
  if (!ref) throw new BrokerError("command broker returned empty credential_ref");
  if (ref.length > MAX_CREDENTIAL_REF_LENGTH) throw new BrokerError("command broker credential_ref too long (max 256 characters)");
  if (/[\r\n\t]/.test(ref)) throw new BrokerError("command broker credential_ref contains invalid whitespace");
  receipt.credential_ref = ref;
  receipt.issued_by = receipt.issued_by?.trim() || "command";
  return receipt;
}

/** Parse the allowlist env value: comma-separated, trimmed, path-normalized, deduped. */
export function parseCommandAllowlist(value: string | undefined): string[] {
  const out: string[] = [];
  for (const part of (value ?? "").split(",")) {
    const t = part.trim();
    if (!t) continue;
    const n = normalize(t);
    if (n !== "." && !out.includes(n)) out.push(n);
  }
  return out;
}

/** A command is allowed when its normalized path or its base name is on the list. */
export function isCommandAllowed(command: string, allowlist: readonly string[]): boolean {
  const n = normalize(command.trim());
  return allowlist.includes(n) || allowlist.includes(basename(n));
}

export interface ResolveBrokerOptions {
  /** `--credential-env-prefix` */
  envPrefix?: string;
  /** `--credential-command` */
  command?: string;
  /** `--credential-command-args` (already split) */
  commandArgs?: readonly string[];
  /** @defaultValue process.env (env broker values and the command allowlist) */
  env?: NodeJS.ProcessEnv;
}

/**
 * Gait's ResolveBroker for `--credential-broker`: `off`/`none`/empty => undefined (the gate then blocks with
 * `broker_credential_required` where a broker is needed); `stub`, `env`, `command`. `command` requires a command
 * and, when GAIT_CREDENTIAL_COMMAND_ALLOWLIST is set, one on that list. Throws BrokerError for unknown names and
 * refused commands (a usage error: exit 6).
 */
export function resolveBroker(name: string | undefined, options: ResolveBrokerOptions = {}): CredentialBroker | undefined {
  const env = options.env ?? process.env;
  switch ((name ?? "").trim().toLowerCase()) {
    case "":
    case "off":
    case "none":
      return undefined;
    case "stub":
      return stubBroker;
    case "env":
      return createEnvBroker({ ...(options.envPrefix ? { prefix: options.envPrefix } : {}), env });
    case "command": {
      const command = (options.command ?? "").trim();
      if (!command) throw new BrokerError("command broker requires --credential-command");
      const allowlist = parseCommandAllowlist(env[COMMAND_ALLOWLIST_ENV]);
      if (allowlist.length && !isCommandAllowed(command, allowlist)) {
        throw new BrokerError(`command broker command is not in allowlist ${COMMAND_ALLOWLIST_ENV}`);
      }
      if (!isAbsolute(command) && !command.includes("/")) {
        // execFile would search PATH; an explicit path keeps the executed binary unambiguous.
        throw new BrokerError(`command broker command must be a path to an executable (got ${JSON.stringify(command)}); use e.g. ./broker or /usr/local/bin/broker`);
      }
      return createCommandBroker({ command, args: options.commandArgs ?? [] });
    }
    default:
      throw new BrokerError(`unsupported credential broker: ${name} (use off, stub, env or command)`);
  }
}
