/**
 * Test harness shared by the TypeScript client suites: loads cases.yaml, starts the real server (bin/gait mcp serve,
 * compiled under dist/) with policy.yaml on temp sockets, and starts fake-server.mjs in a fault mode.
 * The Python and Go runners have their own copies of this small logic in their own languages.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import type { JsonObject } from "@bufbuild/protobuf";
import { GateClient, type GateCall, type Intent } from "../../../clients/typescript/src/index.js";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, "../../..");
export const POLICY = join(HERE, "policy.yaml");
export const FAKE_SERVER = join(HERE, "fake-server.mjs");

export interface CaseWant {
  verdict: string;
  fail_closed: boolean;
  reason_codes?: string[];
  reason_codes_include?: string[];
  error_reason?: string;
  executed: boolean;
}

export interface ConformanceCase {
  name: string;
  note?: string;
  call: { intent?: JsonObject; tool_call?: { adapter?: string; call: JsonObject | string }; run_id?: string; session_id?: string };
  fault?: "absent_socket";
  fake?: string;
  tcp?: boolean;
  server_token?: string;
  token?: string;
  want: CaseWant;
  then?: "grant_approval";
  want_after?: CaseWant;
}

export function loadCases(): ConformanceCase[] {
  const doc = parse(readFileSync(join(HERE, "cases.yaml"), "utf8")) as { version: number; cases: ConformanceCase[] };
  if (doc.version !== 1 || !Array.isArray(doc.cases)) throw new Error("cases.yaml: want version 1 and a cases list");
  return doc.cases;
}

/**
 * The YAML call (Gait snake_case) as the TS client's GateCall. The YAML intents are well-formed intents, so they go
 * through the typed `intent` field (the cast stands in for the compile-time check a literal would get); the raw
 * `intentJson` path has its own tests in clients-ts-unit.test.ts.
 */
export function toGateCall(c: ConformanceCase["call"]): GateCall {
  return {
    ...(c.intent !== undefined ? { intent: c.intent as unknown as Intent } : {}),
    ...(c.tool_call !== undefined ? { toolCall: { ...(c.tool_call.adapter !== undefined ? { adapter: c.tool_call.adapter } : {}), call: c.tool_call.call } } : {}),
    ...(c.run_id !== undefined ? { runId: c.run_id } : {}),
    ...(c.session_id !== undefined ? { sessionId: c.session_id } : {}),
  };
}

/**
 * Copies what a fresh clone of the repository has under `relDir` (tracked files plus new files git does not ignore;
 * no node_modules, dist or other build output) to `<dest>/<relDir>`, and returns that path. Packaging tests build
 * from such a copy, outside the repository, so nothing installed in the working tree can help them.
 */
export function freshCopy(relDir: string, dest: string): string {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", relDir], { cwd: ROOT, encoding: "utf8" })
    .split("\0")
    .filter((f) => f !== "" && existsSync(join(ROOT, f))); // a deleted but not yet committed file is not in a clone
  if (files.length === 0) throw new Error(`git lists no files under ${relDir}`);
  for (const f of files) {
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    copyFileSync(join(ROOT, f), join(dest, f));
  }
  return join(dest, relDir);
}

/** The first fenced code block of `lang` in a Markdown file (README examples are run by the tests). */
export function firstCodeBlock(markdownPath: string, lang: string): string {
  const m = new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```", "m").exec(readFileSync(markdownPath, "utf8"));
  if (!m) throw new Error(`${markdownPath} has no \`\`\`${lang} block`);
  return m[1]!;
}

/** A short temp dir: socket paths must stay under 107 bytes. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

async function waitForLine(child: ChildProcess, prefix: string, what: string, timeoutMs: number): Promise<string> {
  let out = "";
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not become ready in ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith(prefix));
      if (line) {
        clearTimeout(timer);
        resolveLine(line.slice(prefix.length).trim());
      }
    });
    child.once("exit", (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (code ${code}, signal ${sig}) before it was ready; stderr:\n${err}`));
    });
  });
}

export interface Fake {
  /** The client target (`unix:///...` or `127.0.0.1:port`). */
  target: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts fake-server.mjs in `mode`; resolves once it printed READY (for `stale`, once it has died). */
export async function startFake(mode: string, dir: string, opts: { tcp?: boolean; token?: string } = {}): Promise<Fake> {
  const listen = opts.tcp ? "127.0.0.1:0" : `unix://${join(dir, `${mode}.sock`)}`;
  const args = [FAKE_SERVER, "--mode", mode, "--listen", listen, ...(opts.token !== undefined ? ["--token", opts.token] : [])];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const exited = once(child, "exit");
  let target: string;
  if (mode === "stale") {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    await exited;
    const line = out.split("\n").find((l) => l.startsWith("READY "));
    if (!line) throw new Error("fake server (stale) died before binding");
    target = line.slice("READY ".length).trim();
  } else {
    target = await waitForLine(child, "READY ", `fake server (${mode})`, 10_000);
  }
  return {
    target,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}

export interface RealServer {
  socket: string;
  operatorSocket: string;
  dir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts the real server (`bin/gait mcp serve`) with policy.yaml on temp sockets and waits until GetServerInfo
 * answers. Throws (so the suite FAILS, never skips) when it cannot start.
 */
export async function startRealServer(): Promise<RealServer> {
  const entry = join(ROOT, "dist", "src", "cli", "main.js");
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build the server first (make build / npx tsc -p tsconfig.build.json)`);
  const dir = tempDir("gait-cc-");
  const socket = join(dir, "gate.sock");
  const operatorSocket = join(dir, "op.sock");
  const child = spawn(
    process.execPath,
    [join(ROOT, "bin", "gait"), "mcp", "serve", "--policy", POLICY, "--listen", `unix://${socket}`,
      "--operator-listen", `unix://${operatorSocket}`, "--state", join(dir, "state"), "--trace-dir", join(dir, "traces")],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const exited = once(child, "exit");
  const client = new GateClient({ target: `unix://${socket}`, onFailClosed: () => {} });
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`gait mcp serve exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready; stderr:\n${stderr}`);
      }
      try {
        await client.getServerInfo({ timeoutMs: 1000 });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`gait mcp serve did not answer within 20 s (${String(e)}); stderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    client.close();
    child.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  client.close();
  return {
    socket,
    operatorSocket,
    dir,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
