/**
 * `gait mcp serve`: the composition root of the decision service. It reads the configuration (config/serve.ts), builds
 * the stores, keys, engine inputs and the service (src/service), hands each component its slice of the
 * configuration, starts the transports (src/transport: gRPC on Unix sockets, Gait's HTTP JSON, metrics), reloads the
 * policy and kill switch on change or SIGHUP, and drains on SIGTERM/SIGINT. See docs/service.md.
 */
import type * as grpc from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeSync, type FSWatcher } from "node:fs";
import { dirname, join } from "node:path";
import type { Server as HttpServer } from "node:http";
import { pino, type Logger } from "pino";
import { GateService as GateServiceDesc } from "../gen/gait/gate/v1/gate_service_pb.js";
import { EXIT } from "../engine/exit-codes.js";
import { checkProfile } from "../engine/gate.js";
import { resolveBroker } from "../infra/brokers.js";
import { loadOperatorTokens } from "../infra/operator-tokens.js";
import { loadServerKeys } from "../infra/server-keys.js";
import { SignPool } from "../infra/sign-pool.js";
import { trustProblems } from "../infra/trust.js";
import { embeddedAssets, findProjectFile, producerVersion } from "../infra/version.js";
import { sweepRunpacks } from "../runpack/store.js";
import { FileApprovalStore, type ApprovalStore } from "../state/approvals.js";
import { MemoryCounterStore } from "../state/counters-memory.js";
import { CombinedKillSwitch } from "../state/killswitch-combined.js";
import { RedisApprovalStore } from "../state/redis/approvals.js";
import { SharedState } from "../state/redis/connection.js";
import { RedisCounterStore } from "../state/redis/counters.js";
import { RedisKillSwitchStore } from "../state/redis/killswitch.js";
import { FileKillSwitchStore } from "../state/killswitch-store.js";
import { PolicyHolder, watchFile } from "../state/policy-file.js";
import { TraceLog } from "../tracelog/log.js";
import { ConfigError, parseServeArgs, printableConfig, type ListenAddr, type ServeConfig } from "../config/serve.js";
import { Admission } from "../service/admission.js";
import { GateError } from "../service/errors.js";
import { GateService, OFFLOAD_SIGNING_ABOVE, type DecisionLogFields } from "../service/gate-service.js";
import { ServerMetrics } from "../service/metrics.js";
import type { AuthSettings, ListenerRole } from "../transport/auth.js";
import { StreamLimits } from "../transport/grpc/adapter.js";
import { toGrpcError } from "../transport/grpc/errors.js";
import { HealthStatus, ServingStatus } from "../transport/grpc/health.js";
import { bindGrpc, createGrpcServer } from "../transport/grpc/server.js";
import { removeSocket } from "../transport/grpc/uds.js";
import { startConsole, type ConsoleAssets } from "../transport/http/console.js";
import { startHttp } from "../transport/http/gait.js";
import { listenMetrics } from "../transport/http/metrics.js";
import { serveHelp } from "./serve-help.js";

/** Health service name that reports the last policy reload (NOT_SERVING while the last reload failed). */
export const POLICY_RELOAD_HEALTH = "gait.gate.v1.PolicyReload";
/** Health service name of the trace log (NOT_SERVING while it cannot record; the whole server is then NOT_SERVING). */
export const TRACE_LOG_HEALTH = "gait.gate.v1.TraceLog";
/** Health service name of the shared state (`--state redis://`): NOT_SERVING while it is unreachable, too slow or
 * refused; decisions that need it fail closed meanwhile (the server as a whole keeps its own status). */
export const SHARED_STATE_HEALTH = "gait.gate.v1.SharedState";


function listenLabel(a: ListenAddr): string {
  return a.kind === "unix" ? `unix://${a.path}` : `${a.host}:${a.port}`;
}

/** A running server, for tests that start it in-process and for serveMain. */
export interface RunningServer {
  config: ServeConfig;
  /** Resolves with the exit code once the server has stopped. */
  done: Promise<number>;
  /** Begin a graceful shutdown (idempotent). */
  shutdown(reason: string): Promise<void>;
  /** Re-read policy and kill-switch state (what SIGHUP does). */
  reload(): void;
  httpPort?: number;
  metricsPort?: number;
}

/** Parse argv, start, and run until SIGTERM/SIGINT. Returns the process exit code. */
export async function serveMain(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseServeArgs(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`gait mcp serve: ${e.message.split("\n").join("\ngait mcp serve: ")}\n`);
      return EXIT.INVALID_INPUT;
    }
    throw e;
  }
  if (parsed.help) {
    process.stdout.write(serveHelp());
    return EXIT.OK;
  }
  if (parsed.printConfig) {
    process.stdout.write(JSON.stringify(printableConfig(parsed), null, 2) + "\n");
    return EXIT.OK;
  }
  const cfg = parsed.config;
  // --decision-log debug writes its lines at debug, so the logger must let debug through
  const log = pino({ base: { service: "gait.mcp.serve", pid: process.pid, replica_id: cfg.replicaId }, level: cfg.decisionLog === "debug" ? "debug" : "info" }, safeLogDestination(2));
  let running: RunningServer;
  try {
    running = await startServer(cfg, log);
  } catch (e) {
    const err = e as Error & { exitCode?: number };
    log.error({ err: { name: err.name, message: err.message } }, "startup failed");
    process.stderr.write(`gait mcp serve: ${err.message}\n`);
    return err.exitCode ?? EXIT.INVALID_INPUT;
  }
  const onTerm = (sig: NodeJS.Signals) => void running.shutdown(sig);
  const onHup = () => running.reload();
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onTerm);
  process.on("SIGHUP", onHup);
  try {
    return await running.done;
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onTerm);
    process.off("SIGHUP", onHup);
  }
}

/**
 * The opt-in decision log (`--decision-log info|debug`): one structured line per decision, 1 in every
 * `--decision-log-sample` (a counter, not a random draw: the same decisions are logged on every run).
 */
export function decisionLogger(log: Logger, level: "info" | "debug", every: number): (fields: DecisionLogFields) => void {
  let n = 0;
  return (fields) => {
    if (n++ % every !== 0) return;
    log[level](fields, "decision");
  };
}

/**
 * The console's bundled page (console/, built by `make build` into dist/console/; embedded in the self-contained
 * executable): read once at start. A build without it cannot serve the console, and says so.
 */
function loadConsoleAssets(): ConsoleAssets {
  const embedded = embeddedAssets()?.console;
  if (embedded) return { html: Buffer.from(embedded.html), js: Buffer.from(embedded.js), css: Buffer.from(embedded.css) };
  const read = (name: string) => {
    const p = findProjectFile(`dist/console/${name}`);
    if (!p) throw new StartupError(`the web console is not built (dist/console/${name} is missing); run 'make build'`, EXIT.INTERNAL);
    return readFileSync(p);
  };
  return { html: read("index.html"), js: read("app.js"), css: read("app.css") };
}

/** The console login token from its file: the first line, at least 16 characters. */
function readConsoleToken(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new StartupError(`--console-token-file ${path}: ${(e as Error).message}`, EXIT.INVALID_INPUT);
  }
  const token = (text.split("\n")[0] ?? "").trim();
  if (token.length < 16) throw new StartupError(`--console-token-file ${path}: the token (first line) must be at least 16 characters (e.g. openssl rand -base64 24)`, EXIT.INVALID_INPUT);
  return token;
}

class StartupError extends Error {
  override name = "StartupError";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Start every listener on `cfg`. Rejects (after cleaning up) with a StartupError carrying the exit code. */
export async function startServer(cfg: ServeConfig, log: Logger): Promise<RunningServer> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    return await start(cfg, log, cleanups);
  } catch (e) {
    await cleanup();
    if (e instanceof StartupError) throw e;
    throw new StartupError((e as Error).message, EXIT.INVALID_INPUT);
  }
}

/**
 * The log destination: synchronous writes to `fd` that never throw. A log line that cannot be written (stderr on a
 * full file system, a closed pipe) is dropped and counted; the gate keeps deciding (pino's own destination throws,
 * and an uncaught write error would end the process on the next log line).
 */
export function safeLogDestination(fd: number): { write(line: string): void; dropped(): number } {
  let dropped = 0;
  return {
    write(line: string) {
      const buf = Buffer.from(line);
      let off = 0;
      try {
        for (let tries = 0; off < buf.length && tries < 100; tries++) off += writeSync(fd, buf, off, buf.length - off);
        if (off < buf.length) dropped++;
      } catch {
        dropped++;
      }
    },
    dropped: () => dropped,
  };
}

/**
 * Refuse directories and files another user owns or can write (infra/trust.ts): the state dir (keys, approval
 * ledger), the trace and runpack dirs, the socket directories, the policy, kill-switch and operator-token files.
 */
function checkTrust(cfg: ServeConfig): void {
  const problems: string[] = [];
  const dir = (path: string, what: string, kind: "dir" | "socket-dir" = "dir", mode = 0o750) => {
    mkdirSync(path, { recursive: true, mode });
    problems.push(...trustProblems(path, kind, what));
  };
  dir(cfg.stateDir, cfg.sharedState ? "local directory (--local-dir)" : "state directory");
  dir(cfg.traceDir, "trace directory");
  if (cfg.runpackDir) dir(cfg.runpackDir, "runpack directory");
  for (const [flag, addr] of [["--listen", cfg.listen], ["--operator-listen", cfg.operatorListen]] as const) {
    // a socket directory the server creates is private (0700, as tmux does), or group-traversable (0750) when
    // --socket-mode grants the group access to the socket (the agent runs as another user of that group)
    if (addr?.kind === "unix") dir(dirname(addr.path), `socket directory (${flag})`, "socket-dir", cfg.socketMode & 0o060 ? 0o750 : 0o700);
  }
  problems.push(...trustProblems(cfg.policyPath, "file", "policy file"));
  if (cfg.killSwitchStatePath) problems.push(...trustProblems(cfg.killSwitchStatePath, "file", "kill-switch state file", { mustExist: false }));
  if (cfg.consoleTokenPath) problems.push(...trustProblems(cfg.consoleTokenPath, "file", "console token file"));
  if (problems.length) throw new StartupError(`refusing to start with untrusted paths:\n  ${problems.join("\n  ")}`, EXIT.INVALID_INPUT);
}

async function start(cfg: ServeConfig, log: Logger, cleanups: (() => Promise<void> | void)[]): Promise<RunningServer> {
  const version = producerVersion();
  checkTrust(cfg);
  const auth: AuthSettings = { mode: cfg.authMode, ...(cfg.authToken ? { token: cfg.authToken } : {}) };
  if (cfg.operatorTokensPath) {
    try {
      auth.operatorTokens = loadOperatorTokens(cfg.operatorTokensPath);
    } catch (e) {
      throw new StartupError(`--operator-tokens-file: ${(e as Error).message}`, EXIT.INVALID_INPUT);
    }
    log.info({ operators: [...auth.operatorTokens.values()] }, "operator tokens loaded: approvers are authenticated on the operator listener");
  }

  const keys = loadServerKeys({
    keyMode: cfg.keyMode,
    stateDir: cfg.stateDir,
    privateKeyPath: cfg.privateKeyPath,
    privateKeyEnv: cfg.privateKeyEnv,
    approvalPublicKeyPath: cfg.approvalPublicKeyPath,
    approvalPublicKeyEnv: cfg.approvalPublicKeyEnv,
    delegationPublicKeyPath: cfg.delegationPublicKeyPath,
    delegationPublicKeyEnv: cfg.delegationPublicKeyEnv,
  });
  log.info({ key_id: keys.signer.keyId, key_mode: keys.mode, key_source: keys.label }, "signing key loaded");
  // --signing-worker (on by default): trace-record signatures on a second core while decisions queue for the main thread
  const signPool = cfg.signingWorker === "on" ? await SignPool.start(keys.signer, { onWarning: (m) => log.warn({ component: "signing_worker" }, m) }) : undefined;
  if (signPool) {
    cleanups.push(() => signPool.close());
    log.info({ component: "signing_worker", offload_above_in_flight: OFFLOAD_SIGNING_ABOVE }, "signing worker started: trace records are signed on a worker thread while many decisions are in flight");
  }

  const broker = resolveBroker(cfg.credentialBroker, { envPrefix: cfg.credentialEnvPrefix, command: cfg.credentialCommand, commandArgs: cfg.credentialCommandArgs });
  // the profile rules (e.g. oss-prod) are checked on start AND on every reload: a reloaded policy that breaks them is
  // refused and the last good policy stays active
  const policy = new PolicyHolder(cfg.policyPath, cfg.policyDigestPin, (p) => checkProfile(p, { profile: cfg.profile, broker }));
  log.info({ policy_path: cfg.policyPath, policy_digest: policy.current.digest, pinned: !!cfg.policyDigestPin }, "policy loaded");

  // the store the decisions read and the operator RPCs change (a change is in force for the next decision)
  const killSwitch = new FileKillSwitchStore(cfg.killSwitchStatePath);
  await killSwitch.refresh();
  cleanups.push(() => killSwitch.close());
  const ks = killSwitch.current();
  if (ks && "unavailable" in ks) log.warn({ path: cfg.killSwitchStatePath, error: ks.unavailable }, "kill switch state unavailable");

  const metrics = new ServerMetrics();
  let traceHealthy = true;
  let updateHealth = (): void => undefined;
  let traceLog: TraceLog;
  try {
    traceLog = await TraceLog.open({
      dir: cfg.traceDir,
      signer: keys.signer,
      maxAgeMs: cfg.traceMaxAgeMs,
      maxCount: cfg.traceMaxCount,
      ...(cfg.sharedState ? { replicaId: cfg.replicaId } : {}),
      onWarning: (m) => log.warn({ component: "tracelog" }, m),
      // a log that cannot record makes the whole server NOT_SERVING until it recovers by itself
      onHealth: (ok, err) => {
        traceHealthy = ok;
        metrics.traceLogFailing.set(ok ? 0 : 1);
        if (ok) log.info({ component: "tracelog" }, "trace log recovered: serving again");
        else log.error({ component: "tracelog", err: err?.message }, "trace log cannot record: refusing decisions (NOT_SERVING) until it recovers");
        updateHealth();
      },
    });
  } catch (e) {
    throw new StartupError(`open trace log ${cfg.traceDir}: ${(e as Error).message}`, EXIT.INTERNAL);
  }
  cleanups.push(() => traceLog.close());
  const rec = traceLog.recovery;
  if (rec.truncated_bytes > 0 || rec.dropped_lines > 0) log.warn({ recovery: rec }, "trace log: torn tail cut at start-up (a previous run crashed mid-write)");
  else log.info({ head_seq: rec.head_seq, created: rec.created }, "trace log opened");

  // the shared state of replicas (--state redis://...): counters, approval ledger and kill switch in one Redis
  let shared: SharedState | undefined;
  let sharedKillSwitch: RedisKillSwitchStore | undefined;
  let sharedHealthy = true;
  if (cfg.sharedState) {
    const sh = cfg.sharedState;
    try {
      shared = await SharedState.open({
        address: sh.address,
        prefix: sh.prefix,
        timeoutMs: sh.timeoutMs,
        reset: cfg.resetApprovalState,
        onHealth: () => updateHealth(),
      });
    } catch (e) {
      throw new StartupError(`--state ${sh.address.label}: ${(e as Error).message}`, EXIT.INTERNAL);
    }
    cleanups.push(() => shared!.close());
    log.info({ state: shared.label, prefix: sh.prefix, store_id: shared.meta.id, ledger_seq: shared.meta.seq, created: shared.meta.created, reset: cfg.resetApprovalState }, "shared state connected");
    for (const w of shared.warnings) log.warn({ component: "shared_state", state: shared.label }, w);
    // every poll (250 ms) re-evaluates the shared state's health: it is the heartbeat, so the health service cannot
    // stay behind whatever order connection events arrive in
    sharedKillSwitch = new RedisKillSwitchStore(shared, { onPoll: () => updateHealth() });
    try {
      await sharedKillSwitch.start();
    } catch (e) {
      throw new StartupError(`--state ${sh.address.label}: read the shared kill switch: ${(e as Error).message}`, EXIT.INTERNAL);
    }
    cleanups.push(() => sharedKillSwitch!.close());
  }

  let approvals: ApprovalStore;
  let ledgerTraceSeq = 0;
  const approvalsDir = join(cfg.stateDir, "approvals");
  if (shared) {
    approvals = new RedisApprovalStore(shared, {
      onChange: (h) => traceLog.setAnchor("approvals_seq", h.seq),
      onWarning: (m) => log.warn({ component: "approvals" }, m),
    });
    cleanups.push(() => approvals.close());
    if (cfg.resetApprovalState) log.warn({ state: shared.label }, "shared approval ledger reset (--reset-approval-state): every token issued before now is refused by every replica");
  } else {
    let file: FileApprovalStore;
    try {
      file = await FileApprovalStore.open({
        dir: approvalsDir,
        signer: keys.signer,
        reset: cfg.resetApprovalState,
        traceSeq: () => traceLog.head().seq,
        onChange: (h) => traceLog.setAnchor("approvals_seq", h.seq),
        onWarning: (m) => log.warn({ component: "approvals" }, m),
      });
    } catch (e) {
      throw new StartupError(`open approval state in ${approvalsDir}: ${(e as Error).message}`, EXIT.INTERNAL);
    }
    approvals = file;
    cleanups.push(() => file.close());
    if (file.recovery.torn_bytes > 0) log.warn({ recovery: file.recovery }, "approval state: torn final journal line dropped (a previous run crashed mid-write)");
    if (file.recovery.reset_moved_to || cfg.resetApprovalState) log.warn({ recovery: file.recovery }, "approval ledger reset (--reset-approval-state): every token issued before now is refused");
    ledgerTraceSeq = file.recovery.marker_trace_seq;
  }
  const ledgerWhere = shared ? `shared state ${shared.label}` : approvalsDir;
  // each store remembers the other's head: one that went backwards while the other did not is refused
  const ledgerMarked = traceLog.markedAnchors.approvals_seq ?? 0;
  if (!cfg.resetApprovalState && approvals.head().seq < ledgerMarked) {
    throw new StartupError(
      `approval ledger in ${ledgerWhere} is at entry ${approvals.head().seq}, but the trace log recorded it at entry ${ledgerMarked}: the approval state went backwards (${shared ? "Redis lost its data or was restored from an older copy" : "deleted or restored from an older copy"}) and spent tokens could be used again; restore it, or restart once with --reset-approval-state (every token issued before the reset is then refused)`,
      EXIT.INTERNAL,
    );
  }
  if (traceLog.head().seq < ledgerTraceSeq) {
    throw new StartupError(
      `trace log in ${cfg.traceDir} ends at entry ${traceLog.head().seq}, but the approval ledger recorded it at entry ${ledgerTraceSeq}: the trace log went backwards (deleted or restored from an older copy); restore it from your export or backup`,
      EXIT.INTERNAL,
    );
  }
  traceLog.setAnchor("approvals_seq", approvals.head().seq);

  const service = new GateService({
    settings: {
      profile: cfg.profile,
      adapter: cfg.adapter,
      approvalReuse: cfg.approvalReuse,
      approvalRequestTtlMs: cfg.approvalRequestTtlMs,
      ...(cfg.runpackDir ? { runpackDir: cfg.runpackDir } : {}),
      ...(cfg.credentialRef ? { credentialRef: cfg.credentialRef } : {}),
      credentialScopes: cfg.credentialScopes,
      traceDir: cfg.traceDir,
    },
    policy,
    keys,
    ...(signPool ? { signPool } : {}),
    // shared: the Redis kill switch and the --kill-switch-state file both apply
    killSwitch: sharedKillSwitch ? new CombinedKillSwitch(sharedKillSwitch, killSwitch) : killSwitch,
    // local: one server process owns a state directory (the approval ledger's lock), so counters in memory are
    // exact for it; shared: every replica counts in Redis (docs/service.md, "State")
    counters: shared ? new RedisCounterStore(shared) : new MemoryCounterStore(),
    ...(broker ? { broker } : {}),
    traceLog,
    approvals,
    metrics,
    producerVersion: version,
    log: (level, msg, fields) => log[level](fields ?? {}, msg),
    ...(cfg.decisionLog !== "off" ? { decisionLog: decisionLogger(log, cfg.decisionLog, cfg.decisionLogSample) } : {}),
  });
  const admission = new Admission(cfg.maxInFlight);
  metrics.inFlightSource = () => admission.inFlight;
  const shutdownAc = new AbortController();
  const health = new HealthStatus();
  health.set("", ServingStatus.NOT_SERVING);
  health.set(GateServiceDesc.typeName, ServingStatus.NOT_SERVING);
  health.set(TRACE_LOG_HEALTH, ServingStatus.SERVING);
  health.set(POLICY_RELOAD_HEALTH, ServingStatus.SERVING);
  let ready = false;
  updateHealth = () => {
    health.set(TRACE_LOG_HEALTH, traceHealthy ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    if (shared) {
      const ks = sharedKillSwitch?.current();
      const ok = shared.ok && !(ks && "unavailable" in ks);
      if (ok !== sharedHealthy) {
        sharedHealthy = ok;
        if (ok) log.info({ component: "shared_state", state: shared.label }, "shared state reachable again: decisions that need it are served");
        else log.error({ component: "shared_state", state: shared.label, problem: shared.problem || (ks && "unavailable" in ks ? ks.unavailable : "") }, "shared state unavailable: decisions that need it fail closed (STATE_UNAVAILABLE) until it returns");
      }
      health.set(SHARED_STATE_HEALTH, ok ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }
    const serving = ready && traceHealthy && !admission.shuttingDown ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    health.set("", serving);
    health.set(GateServiceDesc.typeName, serving);
  };
  const onInternal = (e: GateError) => log.error({ err: e.cause ?? e, reason: e.reason }, "internal error");

  // one budget of streaming calls (ExportTraces, health Watch) for every listener: an idle subscriber cannot hold
  // buffers forever, and a flood of subscribers is refused instead of taking the process's memory
  const streams = new StreamLimits(
    cfg.maxExportStreams,
    cfg.exportStallTimeoutMs,
    (method) => {
      metrics.failClosed.inc({ reason: "EXPORT_STALLED" });
      return toGrpcError(new GateError("EXPORT_STALLED", `${method}: too many streams open (limit ${cfg.maxExportStreams}, --max-export-streams); retry later`));
    },
    (method) => {
      metrics.failClosed.inc({ reason: "EXPORT_STALLED" });
      log.warn({ method, stall_ms: cfg.exportStallTimeoutMs }, "streaming call ended: its client stopped reading");
      return toGrpcError(new GateError("EXPORT_STALLED", `${method}: the client read nothing for ${cfg.exportStallTimeoutMs} ms; resume from the last received sequence + 1`));
    },
  );
  const grpcServers: { server: grpc.Server; addr: ListenAddr }[] = [];
  const listen = async (role: ListenerRole, addr: ListenAddr, what: string): Promise<void> => {
    const server = createGrpcServer({
      role,
      handlers: { service, auth, admission, metrics, version, shutdownSignal: shutdownAc.signal, onInternal },
      health,
      streams,
      maxRequestBytes: cfg.maxRequestBytes,
    });
    try {
      const found = await bindGrpc(server, addr, cfg.socketMode);
      if (found === "removed-stale") log.warn({ socket: listenLabel(addr) }, `${what}: removed a stale socket left by a previous run`);
      if (addr.kind === "unix") cleanups.push(() => removeSocket(addr.path));
    } catch (e) {
      throw new StartupError(`${what} ${listenLabel(addr)}: ${(e as Error).message}`, EXIT.INTERNAL);
    }
    cleanups.push(() => server.forceShutdown());
    grpcServers.push({ server, addr });
  };
  await listen("agent", cfg.listen, "--listen");
  if (cfg.operatorListen) await listen("operator", cfg.operatorListen, "--operator-listen");

  let httpServer: HttpServer | undefined;
  let httpPort: number | undefined;
  if (cfg.httpListen) {
    try {
      const h = await startHttp(
        { settings: { adapter: cfg.adapter, maxRequestBytes: cfg.maxRequestBytes, verdictStatus: cfg.httpVerdictStatus }, auth, service, admission, metrics, policy, onInternal },
        cfg.httpListen.host,
        cfg.httpListen.port,
      );
      httpServer = h.server;
      httpPort = h.port;
    } catch (e) {
      throw new StartupError(`--http-listen ${cfg.httpListen.host}:${cfg.httpListen.port}: ${(e as Error).message}`, EXIT.INTERNAL);
    }
    cleanups.push(() => void httpServer!.closeAllConnections());
  }
  let consoleServer: HttpServer | undefined;
  let consoleUrl: string | undefined;
  if (cfg.consoleListen) {
    const { host, port } = cfg.consoleListen;
    let loginToken: string | undefined;
    let printToken = false;
    if (auth.operatorTokens) {
      // operators log in with their own tokens (the approver is the token's identity); no shared login token
    } else if (cfg.consoleTokenPath) {
      loginToken = readConsoleToken(cfg.consoleTokenPath);
    } else {
      // loopback only (config/serve.ts refuses any other address without a token file): a new token per start
      loginToken = randomBytes(24).toString("base64url");
      printToken = true;
    }
    try {
      const c = await startConsole(
        {
          service,
          assets: loadConsoleAssets(),
          ...(loginToken ? { loginToken } : {}),
          ...(auth.operatorTokens ? { operatorTokens: auth.operatorTokens } : {}),
          version,
          shutdownSignal: shutdownAc.signal,
          onInternal,
          log: (level, msg, fields) => log[level]({ component: "console", ...fields }, msg),
        },
        host,
        port,
      );
      consoleServer = c.server;
      const h = host.includes(":") ? `[${host}]` : host;
      consoleUrl = `http://${h}:${c.port}/` + (printToken ? `#token=${loginToken}` : "");
    } catch (e) {
      throw new StartupError(`--console-listen ${host}:${port}: ${(e as Error).message}`, EXIT.INTERNAL);
    }
    cleanups.push(() => void consoleServer!.closeAllConnections());
  }
  let metricsServer: HttpServer | undefined;
  let metricsPort: number | undefined;
  if (cfg.metricsListen) {
    try {
      const m = await listenMetrics(metrics, cfg.metricsListen.host, cfg.metricsListen.port);
      metricsServer = m.server;
      metricsPort = m.port;
    } catch (e) {
      throw new StartupError(`--metrics-listen ${cfg.metricsListen.host}:${cfg.metricsListen.port}: ${(e as Error).message}`, EXIT.INTERNAL);
    }
    cleanups.push(() => void metricsServer!.close());
  }

  // reload: policy file and kill-switch file, on change and SIGHUP
  policy.onReload((o) => {
    metrics.policyReloads.inc({ result: o.ok ? "ok" : "error" });
    metrics.policyReloadFailing.set(o.ok ? 0 : 1);
    health.set(POLICY_RELOAD_HEALTH, o.ok ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    if (o.ok) log.info({ policy_digest: o.digest, previous_digest: o.previousDigest, changed: o.changed }, "policy reloaded");
    else log.error({ error: o.error, active_policy_digest: o.digest }, "policy reload failed; keeping the last good policy");
  });
  const reloadKillSwitch = () => {
    void killSwitch.refresh().then(() => {
      const s = killSwitch.current();
      if (s && "unavailable" in s) log.error({ path: cfg.killSwitchStatePath, error: s.unavailable }, "kill switch state unavailable after reload");
      else log.info({ path: cfg.killSwitchStatePath, entries: s?.entries.length ?? 0 }, "kill switch state reloaded");
    });
  };
  const watchers: FSWatcher[] = [];
  try {
    watchers.push(watchFile(cfg.policyPath, () => void policy.reloadWhenSettled()));
    if (cfg.killSwitchStatePath) watchers.push(watchFile(cfg.killSwitchStatePath, reloadKillSwitch));
  } catch (e) {
    log.warn({ err: (e as Error).message }, "file watching unavailable; reload with SIGHUP");
  }
  cleanups.push(() => watchers.forEach((w) => w.close()));

  // runpack retention in the background, never per request
  const timers: NodeJS.Timeout[] = [];
  if (cfg.runpackDir && (cfg.runpackMaxAgeMs > 0 || cfg.runpackMaxCount > 0)) {
    const sweep = () =>
      void sweepRunpacks(cfg.runpackDir!, cfg.runpackMaxAgeMs, cfg.runpackMaxCount).then(
        (n) => n > 0 && log.info({ removed: n, dir: cfg.runpackDir }, "runpack retention"),
        (e) => log.warn({ err: (e as Error).message }, "runpack retention failed"),
      );
    sweep();
    const t = setInterval(sweep, 60_000);
    t.unref();
    timers.push(t);
  }
  cleanups.push(() => timers.forEach((t) => clearInterval(t)));

  // ready
  ready = true;
  updateHealth();
  const startup = {
    ok: true,
    listen: listenLabel(cfg.listen),
    operator_listen: cfg.operatorListen ? listenLabel(cfg.operatorListen) : undefined,
    http_listen: cfg.httpListen ? `${cfg.httpListen.host}:${httpPort}` : undefined,
    metrics_listen: cfg.metricsListen ? `${cfg.metricsListen.host}:${metricsPort}` : undefined,
    // the login link (with a generated token in its #fragment: stdout only, never the log)
    console_url: consoleUrl,
    policy: cfg.policyPath,
    policy_digest: policy.current.digest,
    key_id: keys.signer.keyId,
    key_mode: keys.mode,
    adapter: cfg.adapter,
    profile: cfg.profile,
    trace_dir: cfg.traceDir,
    state_dir: cfg.stateDir,
    ...(shared ? { shared_state: shared.label, replica_id: cfg.replicaId } : {}),
  };
  log.info({ ...startup, console_url: consoleUrl?.replace(/#token=.*$/, "#token=<printed on stdout>") }, "serving");
  if (cfg.json) process.stdout.write(JSON.stringify(startup) + "\n");
  else {
    process.stdout.write(
      `gait mcp serve: listening on ${startup.listen}\n` +
        (startup.operator_listen ? `  operator:      ${startup.operator_listen}\n` : "") +
        (startup.http_listen ? `  http:          http://${startup.http_listen}/v1/evaluate\n` : "") +
        (startup.metrics_listen ? `  metrics:       http://${startup.metrics_listen}/metrics\n` : "") +
        (consoleUrl ? `  console:       ${consoleUrl}\n` : "") +
        `  policy:        ${cfg.policyPath} (sha256:${startup.policy_digest})\n` +
        `  key id:        ${startup.key_id} (${keys.mode})\n` +
        `  traces:        ${cfg.traceDir}\n` +
        (shared ? `  shared state:  ${shared.label} (replica ${cfg.replicaId})\n` : ""),
    );
  }

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason, in_flight: admission.inFlight }, "shutting down: draining in-flight calls");
      admission.shuttingDown = true;
      updateHealth();
      shutdownAc.abort();
      watchers.forEach((w) => w.close());
      timers.forEach((t) => clearInterval(t));
      const drained = Promise.all([
        ...grpcServers.map(({ server }) => new Promise<void>((r) => server.tryShutdown(() => r()))),
        httpServer ? new Promise<void>((r) => httpServer!.close(() => r())) : Promise.resolve(),
        consoleServer ? new Promise<void>((r) => consoleServer!.close(() => r())) : Promise.resolve(),
        admission.idle(),
      ]);
      let forced = false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(() => ((forced = true), r()), cfg.drainTimeoutMs)))]);
      clearTimeout(timer);
      if (forced) log.warn({ in_flight: admission.inFlight }, "drain timeout: forcing remaining calls closed");
      grpcServers.forEach(({ server }) => server.forceShutdown());
      httpServer?.closeAllConnections();
      consoleServer?.closeAllConnections();
      await admission.idle(); // decisions past the point of no return finish their durable append
      await traceLog.close(); // final checkpoint
      const head = traceLog.head();
      await approvals.close().catch((e) => log.error({ err: (e as Error).message }, "closing approval state failed"));
      await sharedKillSwitch?.close();
      await shared?.close();
      for (const { addr } of grpcServers) if (addr.kind === "unix") removeSocket(addr.path);
      await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
      log.info({ trace_head_seq: head.seq, trace_head_hash: head.hash }, "stopped");
      resolveDone(EXIT.OK);
    })();
    return stopping;
  };

  return {
    config: cfg,
    done,
    shutdown,
    reload: () => {
      log.info("reload requested");
      void policy.reloadWhenSettled();
      if (cfg.killSwitchStatePath) reloadKillSwitch();
    },
    httpPort,
    metricsPort,
  };
}
