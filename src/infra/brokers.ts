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
import { BrokerError, brokerRequestPayload, normalizeBrokerScope, stubBroker } from "../engine/broker.js";
import { goToLower, goTrimSpace } from "../engine/intent.js";
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

/** Read `<name>` from `env`, trimmed like Go's strings.TrimSpace; "" when unset. */
function envText(env: NodeJS.ProcessEnv, name: string): string {
  return goTrimSpace(env[name] ?? "");
}

/**
 * Gait's strconv.ParseInt(s, 10, 64) for `_TTL_SECONDS`: optional sign, decimal digits only. Values past
 * Number.MAX_SAFE_INTEGER (far beyond any real TTL) are treated as unparseable rather than silently rounded.
 */
function parseEnvTTL(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The `env` broker (Gait's EnvBroker.Issue). The credential lives in `<prefix><REF>` where REF is the request
 * reference (or the tool name when there is none), normalized by {@link envKeyFor}; an unset or blank variable is
 * an error naming the variable (never its value). The receipt's credential_ref is
 * `env:<VAR>:<first 8 bytes hex of sha256(value)>`, so it identifies the value without revealing it.
 *
 * An environment variable says nothing about how the credential was minted, so by default the receipt is
 * source `env`, issuer `env`, access type `unknown` (a rule with `require_jit_credential` or
 * `block_standing_credentials` refuses it), subject and owner = the requesting identity, and it echoes the
 * request's scope and target/run/job bindings. Whoever provisions the variable can describe it with companion
 * variables `<VAR>_<SUFFIX>` (each trimmed; blank = default):
 *
 * | suffix | receipt field | default |
 * |---|---|---|
 * | `_SOURCE` | source (lowercased) | `env` |
 * | `_ACCESS_TYPE` | access_type (lowercased), e.g. `jit` | `unknown` |
 * | `_ISSUER` | issuer | `env` |
 * | `_SUBJECT`, `_OWNER` | subject, owner | request identity |
 * | `_SCOPE` | scopes (comma-separated; replaces the request's scope) | request scope |
 * | `_TARGET_BINDING`, `_RUN_BINDING`, `_JOB_BINDING` | the bindings | request target binding / run id / job id |
 * | `_ISSUED_AT`, `_EXPIRES_AT` | RFC 3339; unparseable values are ignored | none |
 * | `_TTL_SECONDS` | integer > 0; anything else is ignored | none |
 *
 * Overrides can only narrow what passes: the gate still checks every receipt field against the rule and the intent
 * (a `_TARGET_BINDING` naming another target fails `broker_target_binding_mismatch`).
 */
export function createEnvBroker(options: EnvBrokerOptions = {}): CredentialBroker {
  const prefix = options.prefix?.trim() || DEFAULT_ENV_PREFIX;
  const env = options.env ?? process.env;
  return {
    name: "env",
    async issue(request: BrokerRequest): Promise<BrokerReceipt> {
      const varName = prefix + envKeyFor(request.reference || request.tool_name);
      const value = envText(env, varName);
      if (!value) throw new BrokerError(`credential unavailable: environment variable ${varName} is unset or empty`);
      const meta = (suffix: string) => envText(env, varName + suffix);
      const receipt: BrokerReceipt = {
        issued_by: "env",
        credential_ref: `env:${varName}:${sha256Hex(value).slice(0, 16)}`,
        source: goToLower(meta("_SOURCE")) || "env",
        access_type: goToLower(meta("_ACCESS_TYPE")) || "unknown",
        issuer: meta("_ISSUER") || "env",
        subject: meta("_SUBJECT") || request.identity,
        owner: meta("_OWNER") || request.identity,
      };
      const scopeText = meta("_SCOPE");
      const scopes = normalizeBrokerScope(scopeText ? scopeText.split(",") : request.scope);
      if (scopes.length) receipt.scopes = scopes;
      const target = meta("_TARGET_BINDING") || request.target_binding;
      if (target) receipt.target_binding = target;
      const run = meta("_RUN_BINDING") || request.run_id;
      if (run) receipt.run_binding = run;
      const job = meta("_JOB_BINDING") || request.job_id;
      if (job) receipt.job_binding = job;
      const issued = parseRFC3339(meta("_ISSUED_AT"));
      if (issued) receipt.issued_at = formatGoTime(issued);
      const expires = parseRFC3339(meta("_EXPIRES_AT"));
      if (expires) receipt.expires_at = formatGoTime(expires);
      const ttl = parseEnvTTL(meta("_TTL_SECONDS"));
      if (ttl !== undefined && ttl > 0) receipt.ttl_seconds = ttl;
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
 * The `command` broker (Gait's CommandBroker.Issue): runs `command args...` with execFile (no shell), writes the
 * request as JSON on stdin (Gait's Go field names: ToolName, Identity, Workspace, SessionID, RequestID, RunID,
 * JobID, Reference, Scope, TargetBinding) and reads a JSON receipt from stdout with {@link parseCommandReceipt}.
 * Timeout (5 s), output over 16 KiB, a non-zero exit or an unreadable receipt are errors. stderr is discarded (it
 * may carry secrets; Gait merges it into the output it parses, which only ever makes a receipt unreadable).
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
              resolve(parseCommandReceipt(stdout, request));
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

/** Fields of Gait's provider receipt that only identify the provider-side credential (never its value). */
const PROVIDER_ID_FIELDS = [
  "provider",
  "assumed_role_arn",
  "session_arn",
  "repository",
  "workflow_ref",
  "lease_id",
  "principal",
  "workload_identity_provider",
  "service_principal_id",
  "federated_credential_id",
  "broker_session_id",
] as const;

/** Gait's provider aliases (normalizeProviderName); anything else is not a provider receipt. */
const PROVIDER_ALIASES: Readonly<Record<string, string>> = {
  aws: "aws_sts",
  aws_sts: "aws_sts",
  sts: "aws_sts",
  github: "github_oidc",
  github_oidc: "github_oidc",
  oidc: "github_oidc",
  vault: "vault_dynamic",
  vault_dynamic: "vault_dynamic",
  gcp: "gcp_sts",
  gcp_sts: "gcp_sts",
  azure: "azure_federated",
  azure_federated: "azure_federated",
  okta: "okta_cyberark",
  cyberark: "okta_cyberark",
  okta_cyberark: "okta_cyberark",
  command: "command",
  file: "file",
};

/** Default issuer per provider (Gait's defaultProviderIssuer). */
const PROVIDER_ISSUERS: Readonly<Record<string, string>> = {
  aws_sts: "sts.amazonaws.com",
  github_oidc: "token.actions.githubusercontent.com",
  vault_dynamic: "vault",
  gcp_sts: "sts.googleapis.com",
  azure_federated: "login.microsoftonline.com",
  okta_cyberark: "okta-cyberark",
};

/** Reference prefixes that mark a value as a reference, not a raw secret. */
const REFERENCE_PREFIXES = ["ref:", "stub:", "cmd:", "env:", "aws_sts:", "github_oidc:", "vault_dynamic:", "gcp_sts:", "azure_federated:", "okta_cyberark:", "file:"];
/** Well-known raw token shapes (GitHub PATs, OpenAI-style keys, AWS access key ids). */
const SECRET_PREFIXES = ["ghp_", "gho_", "github_pat_", "sk-", "AKIA", "ASIA"];

function looksLikeRawSecret(value: string): boolean {
  const lower = value.toLowerCase();
  if (REFERENCE_PREFIXES.some((p) => lower.startsWith(p))) return false;
  return SECRET_PREFIXES.some((p) => value.startsWith(p));
}

/** Provider receipt fields that must never carry a raw token (Gait's rejectProviderSecretLikeFields). */
const SECRET_CHECKED_FIELDS = ["credential_ref", "federated_credential_id", "session_arn", "lease_id", "broker_session_id"] as const;

/** Gait's deriveProviderCredentialRef: a provider receipt may omit credential_ref and name the credential instead. */
function deriveProviderCredentialRef(provider: string, f: (k: string) => string): string {
  const first = (...keys: string[]) => keys.map(f).find((v) => v) ?? "";
  switch (provider) {
    case "aws_sts": {
      const v = first("assumed_role_arn", "session_arn");
      if (v) return `aws_sts:${v}`;
      throw new BrokerError("aws_sts provider receipt requires assumed_role_arn or session_arn when credential_ref is omitted");
    }
    case "github_oidc": {
      const repo = f("repository");
      if (!repo) throw new BrokerError("github_oidc provider receipt requires repository when credential_ref is omitted");
      return f("workflow_ref") ? `github_oidc:${repo}:${f("workflow_ref")}` : `github_oidc:${repo}`;
    }
    case "vault_dynamic":
      if (f("lease_id")) return `vault_dynamic:${f("lease_id")}`;
      throw new BrokerError("vault_dynamic provider receipt requires lease_id when credential_ref is omitted");
    case "gcp_sts": {
      const v = first("principal", "workload_identity_provider");
      if (v) return `gcp_sts:${v}`;
      throw new BrokerError("gcp_sts provider receipt requires principal or workload_identity_provider when credential_ref is omitted");
    }
    case "azure_federated": {
      const sp = f("service_principal_id");
      if (!sp) throw new BrokerError("azure_federated provider receipt requires service_principal_id when credential_ref is omitted");
      return f("federated_credential_id") ? `azure_federated:${sp}:${f("federated_credential_id")}` : `azure_federated:${sp}`;
    }
    case "okta_cyberark":
      if (f("broker_session_id")) return `okta_cyberark:${f("broker_session_id")}`;
      throw new BrokerError("okta_cyberark provider receipt requires broker_session_id when credential_ref is omitted");
    default: // command, file
      throw new BrokerError(`${provider} provider receipt requires credential_ref`);
  }
}

/**
 * Parse and check a command broker's stdout for `request` (the normalized request the command was sent). Gait's
 * newest CommandBroker reads two receipt shapes, and so do we:
 *
 * - **Provider receipt** (`provider` names a known provider: aws/aws_sts/sts, github/github_oidc/oidc,
 *   vault/vault_dynamic, gcp/gcp_sts, azure/azure_federated, okta/cyberark/okta_cyberark, command, file). Defaults
 *   as Gait's NormalizeProviderReceipt: issued_by and source = the provider, access_type `jit`, issuer = the
 *   provider's token service (e.g. `sts.amazonaws.com`), subject/owner = the request identity, scope and
 *   target/run/job bindings from the request when omitted; credential_ref may be omitted and derived from the
 *   provider's identifiers (`aws_sts:<assumed_role_arn>` ...). Identifier fields holding a raw token
 *   (`ghp_`, `sk-`, `AKIA` ... not prefixed by a reference scheme) and non-RFC 3339 timestamps are errors.
 * - **Plain receipt** (no or an unknown `provider`): the Response fields as sent; like Gait, a receipt that omits
 *   scope or a binding gets the request's value (the command was given them on stdin and made no contrary claim;
 *   a binding it does state is still checked, and one that differs fails the matching `*_mismatch` check).
 *
 * Filling omitted fields from the request only changes how a receipt is read: the command could as well have echoed
 * the request back, so it gains no power it did not have. Two checks stay stricter than Gait on purpose: every field
 * must have its JSON type (Gait's decoder fails on most mismatches too), and the credential_ref limits (non-empty,
 * at most 256 characters, no CR/LF/TAB) apply to provider receipts as well, where Gait skips them, because the
 * reference is written into traces and logs.
 *
 * The request digest is left to {@link issueBrokerCredential}, which fills it when the receipt omits it (as Gait
 * does in both paths). Exported for tests.
 */
export function parseCommandReceipt(stdout: string, request: BrokerRequest): BrokerReceipt {
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
  const strings: Record<string, string> = {};
  for (const k of [...RECEIPT_STRING_FIELDS, ...PROVIDER_ID_FIELDS]) {
    const v = d[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") throw new BrokerError(`command broker receipt field ${k} must be a string`);
    strings[k] = v;
  }
  let scope: string[] | undefined;
  if (d.scope !== undefined && d.scope !== null) {
    if (!Array.isArray(d.scope) || !d.scope.every((s) => typeof s === "string")) throw new BrokerError("command broker receipt field scope must be an array of strings");
    scope = d.scope as string[];
  }
  let ttl: number | undefined;
  if (d.ttl_seconds !== undefined && d.ttl_seconds !== null) {
    if (typeof d.ttl_seconds !== "number" || !Number.isSafeInteger(d.ttl_seconds)) throw new BrokerError("command broker receipt field ttl_seconds must be an integer");
    ttl = d.ttl_seconds;
  }
  for (const f of ["issued_at", "expires_at"] as const) {
    const v = goTrimSpace(strings[f] ?? "");
    if (v && !parseRFC3339(v)) throw new BrokerError(`command broker receipt field ${f} must be RFC 3339`);
  }

  const alias = goToLower(goTrimSpace(strings.provider ?? ""));
  const provider = Object.hasOwn(PROVIDER_ALIASES, alias) ? PROVIDER_ALIASES[alias] : undefined;
  const receipt = provider ? readProviderReceipt(provider, strings, scope, request) : readPlainReceipt(strings, scope, request);
  if (ttl !== undefined && ttl !== 0) receipt.ttl_seconds = ttl;

  const ref = goTrimSpace(receipt.credential_ref);
  if (!ref) throw new BrokerError("command broker returned empty credential_ref");
  if (ref.length > MAX_CREDENTIAL_REF_LENGTH) throw new BrokerError("command broker credential_ref too long (max 256 characters)");
  if (/[\r\n\t]/.test(ref)) throw new BrokerError("command broker credential_ref contains invalid whitespace");
  receipt.credential_ref = ref;
  return receipt;
}

/** Gait's legacy Response path: fields as sent, omitted scope/bindings taken from the request. */
function readPlainReceipt(strings: Record<string, string>, scope: string[] | undefined, request: BrokerRequest): BrokerReceipt {
  const receipt: BrokerReceipt = { credential_ref: strings.credential_ref ?? "" };
  for (const f of RECEIPT_STRING_FIELDS) if (f !== "credential_ref" && strings[f] !== undefined) (receipt as unknown as Record<string, string>)[f] = strings[f]!;
  // Gait fills only what is absent or exactly empty; a whitespace-only value is kept (and then trims to a mismatch).
  const requestScope = request.scope ?? [];
  if (scope?.length) receipt.scopes = scope;
  else if (requestScope.length) receipt.scopes = [...requestScope];
  if (!receipt.target_binding && request.target_binding) receipt.target_binding = request.target_binding;
  if (!receipt.run_binding && request.run_id) receipt.run_binding = request.run_id;
  if (!receipt.job_binding && request.job_id) receipt.job_binding = request.job_id;
  receipt.issued_by = goTrimSpace(receipt.issued_by ?? "") || "command";
  return receipt;
}

/** Gait's NormalizeProviderReceipt for a resolved provider name. */
function readProviderReceipt(provider: string, strings: Record<string, string>, scope: string[] | undefined, request: BrokerRequest): BrokerReceipt {
  const f = (k: string) => goTrimSpace(strings[k] ?? "");
  for (const k of SECRET_CHECKED_FIELDS) {
    if (f(k) && looksLikeRawSecret(f(k))) throw new BrokerError(`command broker provider receipt field ${k} must not contain raw credential material`);
  }
  const receipt: BrokerReceipt = {
    issued_by: provider,
    credential_ref: f("credential_ref") || deriveProviderCredentialRef(provider, f),
    source: goToLower(f("source")) || provider,
    access_type: goToLower(f("access_type")) || "jit",
    issuer: f("issuer") || PROVIDER_ISSUERS[provider] || provider,
    subject: f("subject") || goTrimSpace(request.identity),
    owner: f("owner") || goTrimSpace(request.identity),
  };
  const scopes = normalizeBrokerScope(scope);
  const filledScopes = scopes.length ? scopes : normalizeBrokerScope(request.scope);
  if (filledScopes.length) receipt.scopes = filledScopes;
  const bind = (k: "target_binding" | "run_binding" | "job_binding", fallback: string | undefined) => {
    const v = f(k) || goTrimSpace(fallback ?? "");
    if (v) receipt[k] = v;
  };
  bind("target_binding", request.target_binding);
  bind("run_binding", request.run_id);
  bind("job_binding", request.job_id);
  if (f("request_digest")) receipt.request_digest = f("request_digest");
  if (f("issued_at")) receipt.issued_at = f("issued_at");
  if (f("expires_at")) receipt.expires_at = f("expires_at");
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
