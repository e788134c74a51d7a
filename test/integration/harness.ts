/**
 * Integration harness: start the REAL compiled server (`node bin/gait mcp serve`) on sockets in a fresh mkdtemp dir,
 * typed clients over grpc-js, and small helpers. The build runs once (test/integration/setup.ts as vitest
 * globalSetup, or lazily here under a lock when the setup is not registered).
 */
import * as grpc from "@grpc/grpc-js";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { createClient, type PromiseClient } from "../../src/transport/grpc/adapter.js";
import { GateService } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import { ErrorInfoSchema } from "../../src/gen/google/rpc/error_details_pb.js";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI_ENTRY = join(ROOT, "dist", "src", "cli", "main.js");
export const SERVER_ENTRY = join(ROOT, "dist", "src", "main", "serve.js");

function newestMtime(dir: string, files: RegExp = /\.ts$/): number {
  let m = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) m = Math.max(m, newestMtime(p, files));
    else if (files.test(name)) m = Math.max(m, st.mtimeMs);
  }
  return m;
}

/** Build dist/ with tsc when it is missing or older than src/ (one builder at a time, via a lock dir). */
export function ensureBuilt(): void {
  const BUNDLE = join(ROOT, "dist", "gait.mjs"); // bin/gait runs one-shot commands from the bundle
  const CONSOLE = join(ROOT, "dist", "console", "app.js"); // the web console's bundle (scripts/bundle-console.mjs)
  const fresh = () => {
    if (!existsSync(SERVER_ENTRY) || !existsSync(CLI_ENTRY) || !existsSync(BUNDLE) || !existsSync(CONSOLE)) return false;
    const src = newestMtime(join(ROOT, "src"));
    const ui = newestMtime(join(ROOT, "console"), /\.(tsx?|css|html)$/);
    return statSync(SERVER_ENTRY).mtimeMs >= src && statSync(BUNDLE).mtimeMs >= src && statSync(CONSOLE).mtimeMs >= ui;
  };
  if (fresh()) return;
  const lock = join(ROOT, "dist.build-lock");
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (remove it if no build is running)`);
      spawnSync("sleep", ["0.2"]);
      if (fresh()) return;
    }
  }
  try {
    if (fresh()) return;
    const r = spawnSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    if (!existsSync(SERVER_ENTRY)) throw new Error(`build failed (tsc exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    const b = spawnSync(process.execPath, [join(ROOT, "scripts", "bundle-cli.mjs")], { cwd: ROOT, encoding: "utf8" });
    if (b.status !== 0) throw new Error(`CLI bundle failed (exit ${b.status}):\n${b.stdout}\n${b.stderr}`);
    const c = spawnSync(process.execPath, [join(ROOT, "scripts", "bundle-console.mjs")], { cwd: ROOT, encoding: "utf8" });
    if (c.status !== 0) throw new Error(`console bundle failed (exit ${c.status}):\n${c.stdout}\n${c.stderr}`);
  } finally {
    rmdirSync(lock);
  }
}

/** A fresh temp dir; short, so socket paths stay under 107 bytes. */
export function tempDir(prefix = "gait-it-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export const CHANNEL_OPTIONS = { "grpc.initial_reconnect_backoff_ms": 50, "grpc.max_reconnect_backoff_ms": 200 };

export interface StartOptions {
  /** policy YAML text (written to <dir>/policy.yaml) */
  policy: string;
  extraArgs?: string[];
  operator?: boolean;
  http?: boolean;
  metrics?: boolean;
  env?: NodeJS.ProcessEnv;
  /** reuse a dir (restart) */
  dir?: string;
  /** do not wait for readiness (startup failure tests) */
  expectFailure?: boolean;
  /** `--state` (default <dir>/state): e.g. a redis:// URL for replicas sharing state */
  state?: string;
}

export interface Server {
  dir: string;
  socket: string;
  operatorSocket: string;
  policyPath: string;
  traceDir: string;
  stateDir: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  httpPort?: number;
  metricsPort?: number;
  /** agent-socket GateService client */
  gate: PromiseClient<typeof GateService>;
  /** operator-socket GateService client (when started with operator) */
  op: PromiseClient<typeof GateService>;
  health: PromiseClient<typeof Health>;
  channels: grpc.Client[];
  /** SIGTERM and wait; returns the exit code */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
  exited: Promise<unknown>;
}

export function channel(socket: string): grpc.Client {
  return new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

/** Start `gait mcp serve` and wait until health says SERVING. */
export async function startServer(o: StartOptions): Promise<Server> {
  ensureBuilt();
  const dir = o.dir ?? tempDir();
  const socket = join(dir, "gate.sock");
  const operatorSocket = join(dir, "op.sock");
  const policyPath = join(dir, "policy.yaml");
  if (!o.dir || !existsSync(policyPath)) writeFileSync(policyPath, o.policy);
  const traceDir = join(dir, "traces");
  const stateDir = join(dir, "state");
  const args = [join(ROOT, "bin", "gait"), "mcp", "serve", "--policy", policyPath, "--listen", `unix://${socket}`, "--state", o.state ?? stateDir, "--trace-dir", traceDir, "--json"];
  if (o.operator) args.push("--operator-listen", `unix://${operatorSocket}`);
  if (o.http) args.push("--http-listen", "127.0.0.1:0");
  if (o.metrics) args.push("--metrics-listen", "127.0.0.1:0");
  args.push(...(o.extraArgs ?? []));
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...o.env } });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = once(child, "exit");
  const channels: grpc.Client[] = [];
  const agentCh = channel(socket);
  channels.push(agentCh);
  const opCh = channel(operatorSocket);
  channels.push(opCh);
  const server: Server = {
    dir,
    socket,
    operatorSocket,
    policyPath,
    traceDir,
    stateDir,
    child,
    stdout: () => out,
    stderr: () => err,
    gate: createClient(GateService, agentCh),
    op: createClient(GateService, opCh),
    health: createClient(Health, agentCh),
    channels,
    exited,
    async stop() {
      channels.forEach((c) => c.close());
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(t);
      }
      return child.exitCode;
    },
    async kill9() {
      channels.forEach((c) => c.close());
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
  if (o.expectFailure) {
    await exited;
    return server;
  }
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited early (code ${child.exitCode}, signal ${child.signalCode}); stderr:\n${err}`);
    }
    const line = out.split("\n").find((l) => l.startsWith("{"));
    if (line) {
      const s = JSON.parse(line) as { http_listen?: string; metrics_listen?: string };
      if (s.http_listen) server.httpPort = Number(s.http_listen.split(":").pop());
      if (s.metrics_listen) server.metricsPort = Number(s.metrics_listen.split(":").pop());
      try {
        const h = await server.health.check({ service: "" }, { timeoutMs: 1000 });
        if (h.status === 1) return server;
      } catch {
        /* not yet */
      }
    }
    if (Date.now() > deadline) {
      await server.kill9();
      throw new Error(`server not ready within 20 s; stderr:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The ErrorInfo reason in a gRPC error's grpc-status-details-bin trailer. */
export function errorReason(e: unknown): string | undefined {
  const md = (e as grpc.ServiceError).metadata;
  const bin = md?.get("grpc-status-details-bin")[0];
  if (!bin || typeof bin === "string") return undefined;
  const st = fromBinary(StatusSchema, bin);
  for (const a of st.details) {
    const info = anyUnpack(a, ErrorInfoSchema);
    if (info) return info.reason;
  }
  return undefined;
}

/** Await a rejected promise and return the error (fails when it resolves). */
export async function rejects(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The policy used by most tests: allow reads, approval for writes, block deletes; a rate-limited tool. */
export const BASE_POLICY = `schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: allow-read
    priority: 10
    effect: allow
    match:
      tool_names: [tool.read]
  - name: approve-write
    priority: 20
    effect: require_approval
    match:
      tool_names: [tool.write]
  - name: block-delete
    priority: 30
    effect: block
    match:
      tool_names: [tool.delete]
`;

/** A structured intent init shape for Evaluate. */
export function intent(tool: string, args: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    toolName: tool,
    args: args as never,
    targets: [{ kind: "path", value: "/tmp/x", operation: tool === "tool.read" ? "read" : "write" }],
    context: { identity: "agent-1", workspace: "/work", riskClass: "low", ...extra },
  };
}
