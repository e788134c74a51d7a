/**
 * `gait doctor`: the pre-flight check of a deployment of `gait mcp serve`. It takes exactly the settings the service
 * takes (the same parser, config/serve.ts: flags, `GAIT_*` environment variables, `--config file.yaml`) and checks
 * what the service would meet at start-up and later, without starting it and without writing anything: the policy
 * and its pin, the key mode and the key (ownership, mode, not a published key), the trace, runpack and approval-state
 * directories (writable, trusted, on a durable file system), retention, the sockets and their directories.
 *
 * Each check is ok, warn or fail with a one-line fix. Exit codes: 0 no check failed (warnings allowed), 2 at least
 * one check failed (Gait's "verification failed", the code its own `gait doctor --production-readiness` exits with
 * on a failed check), 6 the settings themselves are invalid (as `gait mcp serve` exits on them).
 *
 * Nothing here creates a directory, a key or a socket: a directory that does not exist yet is judged by the nearest
 * existing parent the service would create it in.
 */
import { accessSync, constants, existsSync, lstatSync, realpathSync, statfsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { checkProfile } from "../../engine/gate.js";
import { DEV_PRIVATE_KEY_FILE } from "../../infra/server-keys.js";
import { resolveBroker } from "../../infra/brokers.js";
import { loadSigningKey, loadVerifyKey } from "../../infra/keys.js";
import { mountOf, parseMountInfo, readMountInfo, VOLATILE_FS_TYPES } from "../../infra/mounts.js";
import { loadOperatorTokens } from "../../infra/operator-tokens.js";
import { shippedKey } from "../../infra/shipped-keys.js";
import { socketAnswers } from "../../infra/socket-path.js";
import { trustProblems, type TrustKind } from "../../infra/trust.js";
import { loadPolicyFile } from "../../state/policy-file.js";
import { ConfigError, parseServeArgs, type ListenAddr, type ServeConfig } from "../../config/serve.js";
import { renderHelp, type CommandSpec, type Parsed } from "../args.js";
import { EXIT, type CommandContext } from "../io.js";
import { serveFlagSpecs } from "../serve-flags.js";

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  name: string;
  status: CheckStatus;
  /** what was found, one line */
  detail: string;
  /** what to do about it, one line ("" when ok) */
  fix: string;
}

/** What the checks read from outside the configuration; tests inject a mount table and a user. */
export interface DoctorDeps {
  env: NodeJS.ProcessEnv;
  /** the process's effective uid (owner checks) */
  euid: number;
  /** `/proc/self/mountinfo` text, undefined when unavailable */
  mountInfo: () => string | undefined;
  /** free bytes for an unprivileged user on the file system of an existing path, undefined when unknown */
  freeBytes: (path: string) => number | undefined;
  /** whether a server answers on a Unix socket */
  socketAnswers: (path: string) => Promise<boolean>;
}

/** Below this much free space a directory the gate writes to is a warning. */
export const LOW_SPACE_BYTES = 256 * 1024 * 1024;

/** Exit code when a check failed (see the module comment). */
export const DOCTOR_FAILED = EXIT.VERIFY_FAILED;

export const doctorSpec: CommandSpec = {
  name: "doctor",
  summary: "check a deployment of 'gait mcp serve' (same settings) before starting it: keys, policy pin, storage, sockets",
  usage: ["doctor [<policy.yaml>] [--config <file.yaml>] [serve flags] [--json]"],
  // --json is the service's own setting (its start-up line as JSON); here it prints the checks as JSON
  flags: { ...serveFlagSpecs(), json: { type: "boolean", help: "print the checks as one JSON document [GAIT_JSON]" } },
  positionals: { min: 0, max: 1, names: "<policy.yaml>" },
  notes: [
    "Takes every setting of 'gait mcp serve' (flags, GAIT_* environment variables, --config file; same precedence)",
    "and checks it without starting the service or writing anything. --json prints one document:",
    '{"ok", "status", "checks": [{"name", "status": "ok|warn|fail", "detail", "fix"}]}.',
    "Checks: config, credential-broker, policy, policy-pin, key-mode, signing-key, verify-keys, trace-dir,",
    "trace-retention, runpack-dir, runpack-retention, approval-state, agent-socket, operator-socket, kill-switch,",
    "operator-tokens, shared-state (credential-broker, verify-keys and the last three when set). Fails on: a policy that does not parse or does not match its pin, a key readable by all users, owned",
    "by another user or published (a demo/test key of this repository or Gait's), a trace/state/runpack directory",
    "that is not writable, not trusted or on tmpfs/ramfs, an unsafe socket directory, an operator socket the agents'",
    "group can reach without --operator-tokens-file, a --state Redis that does not answer or may evict keys.",
    "Exit codes: 0 no check failed (warnings allowed), 2 a check failed, 6 invalid settings or usage.",
  ],
};

const FIX_KEYS = "make a key pair with 'gait keys init --out-dir <dir>' and pass --key-mode prod --private-key <dir>/gait_private.key";

function defaultFreeBytes(path: string): number | undefined {
  try {
    const s = statfsSync(path);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

export function defaultDoctorDeps(env: NodeJS.ProcessEnv): DoctorDeps {
  return {
    env,
    euid: typeof process.geteuid === "function" ? process.geteuid() : 0,
    mountInfo: readMountInfo,
    freeBytes: defaultFreeBytes,
    socketAnswers: (p) => socketAnswers(p),
  };
}

const ok = (name: string, detail: string): Check => ({ name, status: "ok", detail, fix: "" });
const warn = (name: string, detail: string, fix: string): Check => ({ name, status: "warn", detail, fix });
const fail = (name: string, detail: string, fix: string): Check => ({ name, status: "fail", detail, fix });

function mib(n: number): string {
  return `${Math.floor(n / (1024 * 1024))} MiB`;
}

function duration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

/** The nearest existing path at or above `path`. */
function nearestExisting(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

interface DirFindings {
  problems: string[];
  warnings: string[];
  notes: string[];
}

/**
 * A directory the service writes to (or creates): trusted (infra/trust.ts rules, the ones `gait mcp serve` refuses
 * to start without), writable, and, when `durable`, not on a memory-backed file system.
 */
function inspectDir(path: string, what: string, kind: TrustKind, durable: boolean, deps: DoctorDeps): DirFindings {
  const f: DirFindings = { problems: [], warnings: [], notes: [] };
  let anchor = path;
  if (existsSync(path)) {
    f.problems.push(...trustProblems(path, kind, what));
  } else {
    anchor = nearestExisting(path);
    f.notes.push(`does not exist yet; gait mcp serve creates it in ${anchor}`);
    let st;
    try {
      st = statSync(anchor);
    } catch (e) {
      f.problems.push(`${what} ${path}: cannot inspect ${anchor}: ${(e as Error).message}`);
      return f;
    }
    if (!st.isDirectory()) {
      f.problems.push(`${what} ${path}: ${anchor} is not a directory, so it cannot be created`);
      return f;
    }
    // the directory will be made by us with a safe mode; its parents must not belong to another user
    for (let d = realpathSync(anchor); ; d = dirname(d)) {
      const ds = statSync(d);
      if (ds.uid !== deps.euid && ds.uid !== 0) {
        f.problems.push(`${what} ${path}: parent directory ${d} is owned by uid ${ds.uid}, who could replace it. Fix: use a path whose parents belong to you or root`);
      }
      if (d === dirname(d)) break;
    }
  }
  try {
    accessSync(anchor, constants.W_OK | constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    f.problems.push(`${what} ${path}: ${anchor} is not writable by this user (${code === "EROFS" ? "read-only file system" : (code ?? (e as Error).message)})`);
  }
  if (durable) {
    const table = deps.mountInfo();
    if (table === undefined) f.warnings.push("cannot tell which file system it is on (no /proc/self/mountinfo)");
    else {
      let real = anchor;
      try {
        real = realpathSync(anchor);
      } catch {
        // keep the path as given
      }
      const m = mountOf(real, parseMountInfo(table));
      if (m && VOLATILE_FS_TYPES.has(m.fsType)) {
        f.problems.push(
          `${what} ${path} is on ${m.fsType} (mounted at ${m.mountPoint}): memory only, so everything written there is lost on a reboot or a pod restart`,
        );
      } else if (m) f.notes.push(`on ${m.fsType} (${m.mountPoint})`);
    }
  }
  const free = deps.freeBytes(anchor);
  if (free !== undefined) {
    if (free < LOW_SPACE_BYTES) f.warnings.push(`only ${mib(free)} free: when the disk fills the gate refuses decisions (fail closed)`);
    else f.notes.push(`${mib(free)} free`);
  }
  return f;
}

function dirCheck(name: string, path: string, what: string, kind: TrustKind, durable: boolean, deps: DoctorDeps, fix: string): Check {
  const f = inspectDir(path, what, kind, durable, deps);
  const notes = f.notes.length ? ` (${f.notes.join("; ")})` : "";
  if (f.problems.length) return fail(name, f.problems.join("; "), fix);
  if (f.warnings.length) return warn(name, `${path}${notes}: ${f.warnings.join("; ")}`, fix);
  return ok(name, `${path}${notes}`);
}

function checkPolicy(cfg: ServeConfig, deps: DoctorDeps, checks: Check[]): void {
  const problems = trustProblems(cfg.policyPath, "file", "policy file");
  let digest: string | undefined;
  // the broker the profile rules are checked against; one that cannot be set up keeps the service from starting
  let broker: ReturnType<typeof resolveBroker>;
  try {
    broker = resolveBroker(cfg.credentialBroker, { envPrefix: cfg.credentialEnvPrefix, command: cfg.credentialCommand, commandArgs: cfg.credentialCommandArgs, env: deps.env });
    if (cfg.credentialBroker === "command") accessSync(cfg.credentialCommand!, constants.X_OK);
    if (broker) checks.push(ok("credential-broker", cfg.credentialBroker === "command" ? `command ${cfg.credentialCommand}` : cfg.credentialBroker));
  } catch (e) {
    checks.push(fail("credential-broker", (e as Error).message, "fix --credential-broker and its --credential-command (an absolute path; see GAIT_CREDENTIAL_COMMAND_ALLOWLIST)"));
  }
  try {
    const loaded = loadPolicyFile(cfg.policyPath, undefined, (p) => checkProfile(p, { profile: cfg.profile, broker }));
    digest = loaded.digest;
    if (problems.length) checks.push(fail("policy", problems.join("; "), `give the policy file to the gate's user or root and make it writable by its owner only (chmod go-w ${cfg.policyPath})`));
    else checks.push(ok("policy", `${cfg.policyPath}: ${loaded.policy.rules.length} rules, default ${loaded.policy.default_verdict}, sha256:${digest}`));
  } catch (e) {
    checks.push(fail("policy", (e as Error).message, `fix the policy, then check it with 'gait policy validate ${cfg.policyPath}'`));
  }
  const pinFix = `pin the released policy: --policy-digest ${digest ? `sha256:${digest}` : "sha256:<hex>"} (printed by 'gait policy digest ${cfg.policyPath}')`;
  if (!cfg.policyDigestPin) {
    checks.push(warn("policy-pin", "no --policy-digest: whatever policy file is deployed, or edited later, is loaded (on start and on every reload)", pinFix));
  } else if (digest === undefined) {
    checks.push(fail("policy-pin", `pinned sha256:${cfg.policyDigestPin}, but the policy did not load, so it cannot be compared`, "fix the policy check above first"));
  } else if (digest !== cfg.policyDigestPin) {
    checks.push(
      fail("policy-pin", `${cfg.policyPath} has digest sha256:${digest}, but --policy-digest pins sha256:${cfg.policyDigestPin}: the service refuses to start`, "deploy the pinned policy, or update the pin to the released one"),
    );
  } else checks.push(ok("policy-pin", `sha256:${digest} matches --policy-digest`));
}

function checkKeys(cfg: ServeConfig, deps: DoctorDeps, checks: Check[]): void {
  if (cfg.keyMode === "dev") {
    // --profile oss-prod with dev keys is a configuration error (parseServeArgs), reported by the config check
    checks.push(
      warn("key-mode", "dev: the service signs with a key pair it generated into its state directory; its traces and tokens prove nothing to anyone else", FIX_KEYS),
    );
    const priv = join(cfg.stateDir, "keys", DEV_PRIVATE_KEY_FILE);
    if (existsSync(priv)) {
      const p = trustProblems(priv, "secret-file", "dev signing key");
      checks.push(p.length ? fail("signing-key", p.join("; "), `remove ${priv} (a new pair is generated) or fix its owner and mode (chmod 600)`) : ok("signing-key", `dev key ${priv} (reused)`));
    } else checks.push(ok("signing-key", `dev key: generated into ${dirname(priv)} at the first start`));
  } else {
    checks.push(ok("key-mode", `prod: the signing key comes from ${cfg.privateKeyPath ? `--private-key ${cfg.privateKeyPath}` : `--private-key-env ${cfg.privateKeyEnv}`}`));
    checks.push(checkSigningKey(cfg, deps));
  }
  if (cfg.approvalPublicKeyPath || cfg.approvalPublicKeyEnv || cfg.delegationPublicKeyPath || cfg.delegationPublicKeyEnv) {
    const problems: string[] = [];
    const found: string[] = [];
    for (const [what, path, env] of [
      ["approval public key", cfg.approvalPublicKeyPath, cfg.approvalPublicKeyEnv],
      ["delegation public key", cfg.delegationPublicKeyPath, cfg.delegationPublicKeyEnv],
    ] as const) {
      if (!path && !env) continue;
      const label = path ?? `env:${env}`;
      if (path) problems.push(...trustProblems(path, "file", what));
      try {
        const k = loadVerifyKey({ path, env }, {}, deps.env);
        const s = k && shippedKey(k.keyId);
        if (s && cfg.keyMode === "prod") problems.push(`${what} ${label} (key id ${s.keyId}) is a published demo/test key (${s.source}): anyone can mint tokens it accepts`);
        else if (k) found.push(`${what} ${label} (key id ${k.keyId})`);
      } catch (e) {
        problems.push(`${what} ${label}: ${(e as Error).message}`);
      }
    }
    checks.push(problems.length ? fail("verify-keys", problems.join("; "), "use the public key of the approvers' own key pair (gait keys init), owned by the gate's user or root, writable by its owner only") : ok("verify-keys", found.join("; ")));
  }
}

function checkSigningKey(cfg: ServeConfig, deps: DoctorDeps): Check {
  const problems: string[] = [];
  const warnings: string[] = [];
  const path = cfg.privateKeyPath;
  if (path) {
    problems.push(...trustProblems(path, "secret-file", "signing key"));
    try {
      const st = statSync(path);
      if (st.mode & 0o040 && !(st.mode & 0o004)) {
        warnings.push(`${path} is readable by its group (gid ${st.gid}, mode 0${(st.mode & 0o777).toString(8)}): fine only when no agent is in that group (a Kubernetes Secret mounted with fsGroup is)`);
      }
    } catch {
      // reported by trustProblems
    }
  }
  let keyId: string | undefined;
  try {
    const r = loadSigningKey("prod", { path: cfg.privateKeyPath, env: cfg.privateKeyEnv }, {}, deps.env);
    keyId = r.key.keyId;
    const s = shippedKey(keyId);
    if (s) problems.push(`signing key ${r.label} (key id ${keyId}) is a published demo/test key (${s.source}): anyone can sign with it, so its traces and tokens are no evidence; gait mcp serve refuses it`);
  } catch (e) {
    problems.push(`signing key ${path ?? `env:${cfg.privateKeyEnv}`}: ${(e as Error).message}`);
  }
  if (problems.length) return fail("signing-key", problems.join("; "), FIX_KEYS + (path ? `; chmod 600 ${path}, owned by the gate's user` : ""));
  if (warnings.length) return warn("signing-key", `key id ${keyId}: ${warnings.join("; ")}`, `chmod 600 ${path} (or 0400), owned by the gate's user`);
  return ok("signing-key", `key id ${keyId} from ${path ?? `env:${cfg.privateKeyEnv}`}`);
}

function checkStorage(cfg: ServeConfig, deps: DoctorDeps, checks: Check[]): void {
  const durableFix = (flag: string) => `put ${flag} on a persistent disk or volume (not tmpfs, ramfs or an in-memory emptyDir), writable by the gate's user only`;
  checks.push(dirCheck("trace-dir", cfg.traceDir, "trace directory", "dir", true, deps, durableFix("--trace-dir")));
  if (cfg.traceMaxAgeMs === 0 && cfg.traceMaxCount === 0) {
    checks.push(warn("trace-retention", "unbounded: sealed trace segments are never deleted, so the trace directory grows until its disk is full, and then the gate refuses decisions", "set --trace-max-age (e.g. 2160h) or --trace-max-count, after shipping traces elsewhere (ExportTraces)"));
  } else {
    const parts = [cfg.traceMaxAgeMs ? `segments older than ${duration(cfg.traceMaxAgeMs)}` : "", cfg.traceMaxCount ? `beyond the newest ${cfg.traceMaxCount} entries` : ""].filter(Boolean);
    checks.push(ok("trace-retention", `sealed segments ${parts.join(" or ")} are deleted`));
  }
  if (cfg.runpackDir) {
    checks.push(dirCheck("runpack-dir", cfg.runpackDir, "runpack directory", "dir", true, deps, durableFix("--runpack-dir")));
    if (cfg.runpackMaxAgeMs === 0 && cfg.runpackMaxCount === 0) {
      checks.push(warn("runpack-retention", "unbounded: runpacks are never deleted, so the runpack directory grows until its disk is full", "set --runpack-max-age or --runpack-max-count"));
    } else {
      const parts = [cfg.runpackMaxAgeMs ? `older than ${duration(cfg.runpackMaxAgeMs)}` : "", cfg.runpackMaxCount ? `beyond the newest ${cfg.runpackMaxCount}` : ""].filter(Boolean);
      checks.push(ok("runpack-retention", `runpacks ${parts.join(" or ")} are deleted`));
    }
  } else checks.push(ok("runpack-dir", "not set: decisions that ask for a runpack (emit_runpack) are refused"));
  checks.push(
    dirCheck("approval-state", join(cfg.stateDir, "approvals"), "approval state directory", "dir", true, deps, durableFix("--state") + "; approval state that is lost lets spent approval tokens be used again, so the service refuses to start without it"),
  );
}

async function socketCheck(name: string, flag: string, addr: ListenAddr, deps: DoctorDeps): Promise<Check> {
  if (addr.kind === "tcp") {
    return warn(name, `${flag} ${addr.host}:${addr.port} is TCP: every process that can reach it may call it (bearer token required)`, `prefer a Unix socket (${flag} unix:///run/gait/<name>.sock) whose directory only the gate and its callers can enter`);
  }
  const dir = dirname(addr.path);
  const f = inspectDir(dir, `socket directory (${flag})`, "socket-dir", false, { ...deps, freeBytes: () => undefined });
  const fix = `use a directory owned by the gate's user (or root), not writable by others, e.g. $XDG_RUNTIME_DIR/gait or systemd's RuntimeDirectory=`;
  if (f.problems.length) return fail(name, f.problems.join("; "), fix);
  let st;
  try {
    st = lstatSync(addr.path);
  } catch {
    // no socket yet: the usual case before the first start
  }
  if (st && !st.isSocket()) return fail(name, `${addr.path} exists and is not a socket: the service refuses to replace it`, `remove ${addr.path} or choose another path with ${flag}`);
  if (st && (await deps.socketAnswers(addr.path))) {
    return warn(name, `a server already answers on ${addr.path}: a second gate with these settings would refuse to start`, "stop the running gate first, or give this one another socket path");
  }
  return ok(name, `unix://${addr.path} (${Buffer.byteLength(addr.path)} of 107 bytes${st ? "; a stale socket is there and will be replaced" : ""}${f.notes.length ? `; directory ${f.notes.join("; ")}` : ""})`);
}

async function checkSockets(cfg: ServeConfig, deps: DoctorDeps, checks: Check[]): Promise<void> {
  checks.push(await socketCheck("agent-socket", "--listen", cfg.listen, deps));
  if (!cfg.operatorListen) {
    checks.push(
      warn("operator-socket", "no --operator-listen: nobody can grant or deny approval requests, so require_approval calls wait until they expire; adding one later needs a restart", "add --operator-listen unix:///<dir only operators can enter>/operator.sock"),
    );
    return;
  }
  const c = await socketCheck("operator-socket", "--operator-listen", cfg.operatorListen, deps);
  // --socket-mode applies to every socket: with group access the agents' group can reach the operator socket too
  if (c.status !== "fail" && cfg.operatorListen.kind === "unix" && cfg.socketMode & 0o060 && !cfg.operatorTokensPath) {
    checks.push(
      fail(
        "operator-socket",
        `--socket-mode 0${cfg.socketMode.toString(8)} gives the group access to every socket, the operator socket ${cfg.operatorListen.path} included, and no --operator-tokens-file authenticates operators: an agent in that group could approve its own calls`,
        "set --operator-tokens-file (operators then present a token), or use --socket-mode 0600 and reach the agent socket another way",
      ),
    );
    return;
  }
  checks.push(c);
}

function checkOtherFiles(cfg: ServeConfig, checks: Check[]): void {
  if (cfg.killSwitchStatePath) {
    const p = trustProblems(cfg.killSwitchStatePath, "file", "kill-switch state file", { mustExist: false });
    checks.push(p.length ? fail("kill-switch", p.join("; "), `give ${cfg.killSwitchStatePath} to the gate's user or root, writable by its owner only`) : ok("kill-switch", `${cfg.killSwitchStatePath}${existsSync(cfg.killSwitchStatePath) ? "" : " (absent: no tool is switched off)"}`));
  }
  if (cfg.operatorTokensPath) {
    try {
      const tokens = loadOperatorTokens(cfg.operatorTokensPath);
      checks.push(ok("operator-tokens", `${cfg.operatorTokensPath}: ${tokens.size} operator(s)`));
    } catch (e) {
      checks.push(fail("operator-tokens", (e as Error).message, "one '<identity> sha256:<hex of the token's SHA-256>' per line, file owned by the gate's user, not writable by others"));
    }
  }
}

/**
 * `--state redis://...`: the shared state answers within --state-timeout and keeps what the approval ledger needs
 * (the refusal the service makes at start: an evicting Redis). Read-only: nothing is created in Redis.
 */
async function checkSharedState(cfg: ServeConfig, checks: Check[]): Promise<void> {
  const sh = cfg.sharedState;
  if (!sh) return;
  const { SharedState } = await import("../../state/redis/connection.js");
  try {
    const r = await SharedState.probe(sh.address, { timeoutMs: sh.timeoutMs, prefix: sh.prefix });
    if (r.problem) checks.push(fail("shared-state", `${sh.address.label}: ${r.problem}`, "fix the Redis settings named above; the service refuses this Redis at start"));
    else if (r.warnings.length) checks.push(warn("shared-state", `${sh.address.label}: ${r.warnings.join("; ")}`, "set appendonly yes, appendfsync always and maxmemory-policy noeviction on this Redis"));
    else checks.push(ok("shared-state", `${sh.address.label} reachable (prefix ${sh.prefix}; ${r.exists ? "store in use" : "new store, created at first start"})`));
  } catch (e) {
    checks.push(fail("shared-state", (e as Error).message, "start redis-server or fix --state (redis://host:port/db, rediss://, unix:///path/redis.sock)"));
  }
}

/** Every check of a parsed configuration, in a stable order. */
export async function diagnose(cfg: ServeConfig, deps: DoctorDeps): Promise<Check[]> {
  const checks: Check[] = [];
  checkPolicy(cfg, deps, checks);
  checkKeys(cfg, deps, checks);
  checkStorage(cfg, deps, checks);
  await checkSockets(cfg, deps, checks);
  checkOtherFiles(cfg, checks);
  await checkSharedState(cfg, checks);
  return checks;
}

function overall(checks: readonly Check[]): CheckStatus {
  return checks.some((c) => c.status === "fail") ? "fail" : checks.some((c) => c.status === "warn") ? "warn" : "ok";
}

function report(ctx: CommandContext, json: boolean, checks: Check[], exit: number): number {
  const status = overall(checks);
  if (json) {
    ctx.io.stdout(JSON.stringify({ ok: status !== "fail", status, checks }) + "\n");
    return exit;
  }
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines = checks.map((c) => `${c.status.toUpperCase().padEnd(4)} ${c.name.padEnd(width)}  ${c.detail}${c.fix ? ` -> fix: ${c.fix}` : ""}`);
  const n = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  lines.push(`doctor: ${status} (${n("fail")} failed, ${n("warn")} warnings, ${n("ok")} ok)`);
  ctx.io.stdout(lines.join("\n") + "\n");
  return exit;
}

/** `gait doctor` with injectable dependencies (tests pass a mount table and a uid). */
export async function runDoctor(ctx: CommandContext, argv: string[], deps: DoctorDeps): Promise<number> {
  const json = ctx.json;
  let parsed;
  try {
    parsed = parseServeArgs(argv, ctx.io.env, ctx.io.cwd);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const detail = e.message.split("\n").filter((l) => !l.startsWith("run 'gait mcp serve --help'")).join("; ");
    return report(ctx, json, [fail("config", detail, "fix the settings above; 'gait doctor --help' lists every flag, its GAIT_* variable and config key")], EXIT.INVALID_INPUT);
  }
  if (parsed.help) {
    ctx.io.stdout(renderHelp(doctorSpec));
    return EXIT.OK;
  }
  if (parsed.printConfig) {
    return report(ctx, json, [fail("config", "--print-config belongs to 'gait mcp serve'; gait doctor prints its checks", "drop --print-config, or run 'gait mcp serve --print-config' with these settings")], EXIT.INVALID_INPUT);
  }
  const cfg = parsed.config;
  const from = [...new Set(Object.values(parsed.sources))].filter((s) => s !== "default");
  const checks = [ok("config", `settings valid (from ${from.length ? from.join(", ") + " and " : ""}defaults)`), ...(await diagnose(cfg, deps))];
  return report(ctx, json || cfg.json, checks, checks.some((c) => c.status === "fail") ? DOCTOR_FAILED : EXIT.OK);
}

export async function doctor(ctx: CommandContext, args: Parsed): Promise<number> {
  return runDoctor(ctx, args.positionals, defaultDoctorDeps(ctx.io.env));
}
