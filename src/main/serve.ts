/**
 * `gait mcp serve`: the long-running decision service (composition root). Loads policy and keys once, opens the
 * durable trace log and approval state, serves gait.gate.v1.GateService + grpc.health.v1 + reflection on a Unix
 * socket (and optionally an operator socket, Gait's HTTP JSON endpoint and Prometheus metrics), reloads the policy on
 * change or SIGHUP, and drains gracefully on SIGTERM/SIGINT. See docs/service.md.
 */
import * as grpc from "@grpc/grpc-js";
import { mkdirSync, writeSync, type FSWatcher } from "node:fs";
import { readdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Server as HttpServer } from "node:http";
import { pino, type Logger } from "pino";
import { GateService } from "../gen/gait/gate/v1/gate_service_pb.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { file_google_rpc_error_details } from "../gen/google/rpc/error_details_pb.js";
import { file_gait_gate_v1_error_reason } from "../gen/gait/gate/v1/error_reason_pb.js";
import { checkProfile } from "../engine/gate.js";
import { MemoryCounterStore } from "../state/counters-memory.js";
import { resolveBroker } from "../infra/brokers.js";
import { loadKillSwitchForGate } from "../state/killswitch-file.js";
import type { KillSwitchState } from "../engine/types.js";
import { TraceLog } from "../tracelog/log.js";
import { producerVersion } from "../infra/version.js";
import { ConfigError, parseServeArgs, SERVE_USAGE, type ListenAddr, type ServeConfig } from "./config.js";
import { loadServerKeys } from "./keys.js";
import { PolicyHolder, watchFile } from "./policy-holder.js";
import { HealthStatus, ServingStatus } from "./health.js";
import { addReflection } from "./reflection.js";
import { addService, StreamLimits, type GrpcError } from "./grpc-adapter.js";
import { bindUds, removeSocket } from "./uds.js";
import { ServerMetrics } from "./metrics.js";
import { DecisionService, type KillSwitchSource } from "./decision.js";
import { Admission, GATE_REQUEST_DECODERS, gateServiceImpl, type ListenerRole } from "./service.js";
import { startHttp } from "./http.js";
import { FileApprovalStore } from "../state/approvals.js";
import { ErrorReason, gateError, invalidArgument } from "./errors.js";
import { trustProblems } from "../infra/trust.js";
import { loadOperatorTokens } from "./operator-tokens.js";

/** Health service name that reports the last policy reload (NOT_SERVING while the last reload failed). */
export const POLICY_RELOAD_HEALTH = "gait.gate.v1.PolicyReload";
/** Health service name of the trace log (NOT_SERVING while it cannot record; the whole server is then NOT_SERVING). */
export const TRACE_LOG_HEALTH = "gait.gate.v1.TraceLog";

const EXIT_OK = 0;
const EXIT_INTERNAL = 1;
const EXIT_INVALID = 6;

/** Kill-switch file holder: loaded at start, re-read on change and SIGHUP. */
class KillSwitchFile implements KillSwitchSource {
  private state: KillSwitchState | { unavailable: string } | undefined;
  constructor(readonly path: string | undefined) {}
  async load(): Promise<void> {
    if (this.path) this.state = await loadKillSwitchForGate(this.path);
  }
  current() {
    return this.state;
  }
}

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
  let cfg: ServeConfig;
  try {
    const parsed = parseServeArgs(argv);
    if (parsed.help) {
      process.stdout.write(SERVE_USAGE + "\n");
      return EXIT_OK;
    }
    cfg = parsed.config;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`gait mcp serve: ${e.message.split("\n").join("\ngait mcp serve: ")}\n`);
      return EXIT_INVALID;
    }
    throw e;
  }
  const log = pino({ base: { service: "gait.mcp.serve", pid: process.pid } }, safeLogDestination(2));
  let running: RunningServer;
  try {
    running = await startServer(cfg, log);
  } catch (e) {
    const err = e as Error & { exitCode?: number };
    log.error({ err: { name: err.name, message: err.message } }, "startup failed");
    process.stderr.write(`gait mcp serve: ${err.message}\n`);
    return err.exitCode ?? EXIT_INVALID;
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
    throw new StartupError((e as Error).message, EXIT_INVALID);
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
 * Refuse directories and files another user owns or can write (durable/trust.ts): the state dir (keys, approval
 * ledger), the trace and runpack dirs, the socket directories, the policy, kill-switch and operator-token files.
 */
function checkTrust(cfg: ServeConfig): void {
  const problems: string[] = [];
  const dir = (path: string, what: string, kind: "dir" | "socket-dir" = "dir") => {
    mkdirSync(path, { recursive: true, mode: 0o750 });
    problems.push(...trustProblems(path, kind, what));
  };
  dir(cfg.stateDir, "state directory");
  dir(cfg.traceDir, "trace directory");
  if (cfg.runpackDir) dir(cfg.runpackDir, "runpack directory");
  for (const [flag, addr] of [["--listen", cfg.listen], ["--operator-listen", cfg.operatorListen]] as const) {
    if (addr?.kind === "unix") dir(dirname(addr.path), `socket directory (${flag})`, "socket-dir");
  }
  problems.push(...trustProblems(cfg.policyPath, "file", "policy file"));
  if (cfg.killSwitchStatePath) problems.push(...trustProblems(cfg.killSwitchStatePath, "file", "kill-switch state file", { mustExist: false }));
  if (problems.length) throw new StartupError(`refusing to start with untrusted paths:\n  ${problems.join("\n  ")}`, EXIT_INVALID);
}

async function start(cfg: ServeConfig, log: Logger, cleanups: (() => Promise<void> | void)[]): Promise<RunningServer> {
  const version = producerVersion();
  checkTrust(cfg);
  if (cfg.operatorTokensPath) {
    try {
      cfg = { ...cfg, operatorTokens: loadOperatorTokens(cfg.operatorTokensPath) };
    } catch (e) {
      throw new StartupError(`--operator-tokens-file: ${(e as Error).message}`, EXIT_INVALID);
    }
    log.info({ operators: [...cfg.operatorTokens!.values()] }, "operator tokens loaded: approvers are authenticated on the operator listener");
  }

  const keys = loadServerKeys(cfg);
  log.info({ key_id: keys.signer.keyId, key_mode: keys.mode, key_source: keys.label }, "signing key loaded");

  const broker = resolveBroker(cfg.credentialBroker, {
    envPrefix: cfg.credentialEnvPrefix,
    command: cfg.credentialCommand,
    commandArgs: cfg.credentialCommandArgs,
  });
  // the profile rules (e.g. oss-prod) are checked on start AND on every reload: a reloaded policy that breaks them is
  // refused and the last good policy stays active
  const policy = new PolicyHolder(cfg.policyPath, cfg.policyDigestPin, (p) => checkProfile(p, { profile: cfg.profile, broker }));
  log.info({ policy_path: cfg.policyPath, policy_digest: policy.current.digest, pinned: !!cfg.policyDigestPin }, "policy loaded");

  const killSwitch = new KillSwitchFile(cfg.killSwitchStatePath);
  await killSwitch.load();
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
    throw new StartupError(`open trace log ${cfg.traceDir}: ${(e as Error).message}`, EXIT_INTERNAL);
  }
  cleanups.push(() => traceLog.close());
  const rec = traceLog.recovery;
  if (rec.truncated_bytes > 0 || rec.dropped_lines > 0) {
    log.warn({ recovery: rec }, "trace log: torn tail cut at start-up (a previous run crashed mid-write)");
  } else {
    log.info({ head_seq: rec.head_seq, created: rec.created }, "trace log opened");
  }

  let approvals: FileApprovalStore;
  const approvalsDir = join(cfg.stateDir, "approvals");
  try {
    approvals = await FileApprovalStore.open({
      dir: approvalsDir,
      signer: keys.signer,
      reset: cfg.resetApprovalState,
      traceSeq: () => traceLog.head().seq,
      onChange: (h) => traceLog.setAnchor("approvals_seq", h.seq),
      onWarning: (m) => log.warn({ component: "approvals" }, m),
    });
  } catch (e) {
    throw new StartupError(`open approval state in ${approvalsDir}: ${(e as Error).message}`, EXIT_INTERNAL);
  }
  cleanups.push(() => approvals.close());
  if (approvals.recovery.torn_bytes > 0) {
    log.warn({ recovery: approvals.recovery }, "approval state: torn final journal line dropped (a previous run crashed mid-write)");
  }
  if (approvals.recovery.reset_moved_to || cfg.resetApprovalState) {
    log.warn({ recovery: approvals.recovery }, "approval ledger reset (--reset-approval-state): every token issued before now is refused");
  }
  // each store remembers the other's head: one that went backwards while the other did not is refused
  const ledgerMarked = traceLog.markedAnchors.approvals_seq ?? 0;
  if (!cfg.resetApprovalState && approvals.head().seq < ledgerMarked) {
    throw new StartupError(
      `approval ledger in ${approvalsDir} is at entry ${approvals.head().seq}, but the trace log recorded it at entry ${ledgerMarked}: the approval state went backwards (deleted or restored from an older copy) and spent tokens could be used again; restore it, or restart once with --reset-approval-state (every token issued before the reset is then refused)`,
      EXIT_INTERNAL,
    );
  }
  if (traceLog.head().seq < approvals.recovery.marker_trace_seq) {
    throw new StartupError(
      `trace log in ${cfg.traceDir} ends at entry ${traceLog.head().seq}, but the approval ledger recorded it at entry ${approvals.recovery.marker_trace_seq}: the trace log went backwards (deleted or restored from an older copy); restore it from your export or backup`,
      EXIT_INTERNAL,
    );
  }
  traceLog.setAnchor("approvals_seq", approvals.head().seq);

  const decisions = new DecisionService({
    cfg,
    policy,
    keys,
    killSwitch,
    counters: new MemoryCounterStore(),
    broker,
    traceLog,
    approvals,
    metrics,
    log,
    producerVersion: version,
  });
  const admission = new Admission(cfg.maxInFlight, metrics);
  const shutdownAc = new AbortController();
  const health = new HealthStatus();
  health.set("", ServingStatus.NOT_SERVING);
  health.set(GateService.typeName, ServingStatus.NOT_SERVING);
  health.set(TRACE_LOG_HEALTH, traceHealthy ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  let ready = false;
  updateHealth = () => {
    health.set(TRACE_LOG_HEALTH, traceHealthy ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    const serving = ready && traceHealthy && !admission.shuttingDown ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    health.set("", serving);
    health.set(GateService.typeName, serving);
  };
  health.set(POLICY_RELOAD_HEALTH, ServingStatus.SERVING);

  const onUnexpected = (e: unknown): GrpcError => {
    log.error({ err: e }, "unexpected handler error");
    metrics.failClosed.inc({ reason: "INTERNAL" });
    return gateError(grpc.status.INTERNAL, ErrorReason.INTERNAL, "internal error (see server log)");
  };
  // one budget of streaming calls (ExportTraces, health Watch) for every listener: an idle subscriber cannot hold
  // buffers forever, and a flood of subscribers is refused instead of taking the process's memory
  const streams = new StreamLimits(
    cfg.maxExportStreams,
    cfg.exportStallTimeoutMs,
    (method) => {
      metrics.failClosed.inc({ reason: "EXPORT_STALLED" });
      return gateError(grpc.status.RESOURCE_EXHAUSTED, ErrorReason.EXPORT_STALLED, `${method}: too many streams open (limit ${cfg.maxExportStreams}, --max-export-streams); retry later`);
    },
    (method) => {
      metrics.failClosed.inc({ reason: "EXPORT_STALLED" });
      log.warn({ method, stall_ms: cfg.exportStallTimeoutMs }, "streaming call ended: its client stopped reading");
      return gateError(grpc.status.RESOURCE_EXHAUSTED, ErrorReason.EXPORT_STALLED, `${method}: the client read nothing for ${cfg.exportStallTimeoutMs} ms; resume from the last received sequence + 1`);
    },
  );
  const grpcServers: { server: grpc.Server; addr: ListenAddr }[] = [];
  const makeServer = (role: ListenerRole): grpc.Server => {
    const server = new grpc.Server({
      "grpc.max_receive_message_length": cfg.maxRequestBytes,
      "grpc.keepalive_permit_without_calls": 1,
      // channelz bookkeeping costs two Date.now() calls, closures and counters per call; nothing here reads channelz
      "grpc.enable_channelz": 0,
    });
    health.addTo(server, streams);
    addReflection(server, [GateService, Health], [file_google_rpc_error_details, file_gait_gate_v1_error_reason]);
    addService(
      server,
      GateService,
      gateServiceImpl(role, {
        cfg,
        decisions,
        approvals,
        traceLog,
        keys,
        policy,
        metrics,
        admission,
        log,
        version,
        producerVersion: version,
        shutdownSignal: shutdownAc.signal,
      }),
      {
        onUnexpected,
        requestDecoders: GATE_REQUEST_DECODERS,
        onDecodeError: (e) => {
          metrics.failClosed.inc({ reason: "INVALID_REQUEST" });
          return invalidArgument(ErrorReason.INVALID_REQUEST, e.message);
        },
        streams,
      },
    );
    return server;
  };
  const bind = async (server: grpc.Server, addr: ListenAddr, what: string): Promise<void> => {
    try {
      if (addr.kind === "unix") {
        const found = await bindUds(server, addr.path, cfg.socketMode);
        if (found === "removed-stale") log.warn({ socket: addr.path }, `${what}: removed a stale socket left by a previous run`);
        cleanups.push(() => removeSocket(addr.path));
      } else {
        await new Promise<number>((res, rej) =>
          server.bindAsync(`${addr.host}:${addr.port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
        );
      }
    } catch (e) {
      throw new StartupError(`${what} ${listenLabel(addr)}: ${(e as Error).message}`, EXIT_INTERNAL);
    }
    cleanups.push(() => server.forceShutdown());
    grpcServers.push({ server, addr });
  };
  await bind(makeServer("agent"), cfg.listen, "--listen");
  if (cfg.operatorListen) await bind(makeServer("operator"), cfg.operatorListen, "--operator-listen");

  let httpServer: HttpServer | undefined;
  let httpPort: number | undefined;
  if (cfg.httpListen) {
    try {
      const h = await startHttp({ cfg, decisions, admission, metrics, policy, log }, cfg.httpListen.host, cfg.httpListen.port);
      httpServer = h.server;
      httpPort = h.port;
    } catch (e) {
      throw new StartupError(`--http-listen ${cfg.httpListen.host}:${cfg.httpListen.port}: ${(e as Error).message}`, EXIT_INTERNAL);
    }
    cleanups.push(() => void httpServer!.closeAllConnections());
  }
  let metricsServer: HttpServer | undefined;
  let metricsPort: number | undefined;
  if (cfg.metricsListen) {
    try {
      const m = await metrics.listen(cfg.metricsListen.host, cfg.metricsListen.port);
      metricsServer = m.server;
      metricsPort = m.port;
    } catch (e) {
      throw new StartupError(`--metrics-listen ${cfg.metricsListen.host}:${cfg.metricsListen.port}: ${(e as Error).message}`, EXIT_INTERNAL);
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
    void killSwitch.load().then(() => {
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
    policy: cfg.policyPath,
    policy_digest: policy.current.digest,
    key_id: keys.signer.keyId,
    key_mode: keys.mode,
    adapter: cfg.adapter,
    profile: cfg.profile,
    trace_dir: cfg.traceDir,
    state_dir: cfg.stateDir,
  };
  log.info(startup, "serving");
  if (cfg.json) process.stdout.write(JSON.stringify(startup) + "\n");
  else {
    process.stdout.write(
      `gait mcp serve: listening on ${startup.listen}\n` +
        (startup.operator_listen ? `  operator:      ${startup.operator_listen}\n` : "") +
        (startup.http_listen ? `  http:          http://${startup.http_listen}/v1/evaluate\n` : "") +
        (startup.metrics_listen ? `  metrics:       http://${startup.metrics_listen}/metrics\n` : "") +
        `  policy:        ${cfg.policyPath} (sha256:${startup.policy_digest})\n` +
        `  key id:        ${startup.key_id} (${keys.mode})\n` +
        `  traces:        ${cfg.traceDir}\n`,
    );
  }

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason, in_flight: admission.inFlight }, "shutting down: draining in-flight calls");
      admission.shuttingDown = true;
      health.set("", ServingStatus.NOT_SERVING);
      health.set(GateService.typeName, ServingStatus.NOT_SERVING);
      shutdownAc.abort();
      watchers.forEach((w) => w.close());
      timers.forEach((t) => clearInterval(t));
      const drained = Promise.all([
        ...grpcServers.map(({ server }) => new Promise<void>((r) => server.tryShutdown(() => r()))),
        httpServer ? new Promise<void>((r) => httpServer!.close(() => r())) : Promise.resolve(),
        admission.idle(),
      ]);
      let forced = false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(() => ((forced = true), r()), cfg.drainTimeoutMs)))]);
      clearTimeout(timer);
      if (forced) log.warn({ in_flight: admission.inFlight }, "drain timeout: forcing remaining calls closed");
      grpcServers.forEach(({ server }) => server.forceShutdown());
      httpServer?.closeAllConnections();
      await admission.idle(); // decisions past the point of no return finish their durable append
      await traceLog.close(); // final checkpoint
      const head = traceLog.head();
      await approvals.close().catch((e) => log.error({ err: (e as Error).message }, "closing approval state failed"));
      for (const { addr } of grpcServers) if (addr.kind === "unix") removeSocket(addr.path);
      await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
      log.info({ trace_head_seq: head.seq, trace_head_hash: head.hash }, "stopped");
      resolveDone(EXIT_OK);
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

/**
 * Runpack retention (evidence.md §5.8 rules, run in the background): runpack zips sorted newest first by mtime
 * (ties by name, descending); keep the first `maxCount`, delete those older than `maxAgeMs` or beyond the count.
 */
export async function sweepRunpacks(dir: string, maxAgeMs: number, maxCount: number, now = Date.now()): Promise<number> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".zip") && (n.startsWith("runpack_") || n.includes("_cp_")));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw e;
  }
  const files = await Promise.all(names.map(async (n) => ({ path: join(dir, n), mtime: (await stat(join(dir, n))).mtimeMs })));
  files.sort((a, b) => b.mtime - a.mtime || (a.path < b.path ? 1 : a.path > b.path ? -1 : 0));
  let removed = 0;
  for (let i = 0; i < files.length; i++) {
    const tooOld = maxAgeMs > 0 && now - files[i]!.mtime > maxAgeMs;
    const beyond = maxCount > 0 && i >= maxCount;
    if (tooOld || beyond) {
      await unlink(files[i]!.path).catch(() => undefined);
      removed++;
    }
  }
  return removed;
}
