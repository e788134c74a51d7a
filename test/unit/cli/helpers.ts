/**
 * CLI runner for tests: a temp cwd, captured stdout/stderr, injectable stdin/env/clock.
 *
 * The same tests run against three builds of the CLI, chosen by the GAIT_CLI environment variable (vitest.config.ts
 * sets it per project), so the builds can never drift apart:
 * - unset: in-process, `main()` from the TypeScript sources;
 * - `bin/gait`: the Node entry point, spawned with this Node;
 * - any other value: the path of an executable to spawn, e.g. the self-contained `dist/gait-<os>-<arch>`.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../../src/cli/main.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** parsed stdout when it is one JSON line */
  json: Record<string, any>;
}

/** The command line that starts the CLI under test, or undefined for in-process. */
export function cliCommand(target = process.env.GAIT_CLI): string[] | undefined {
  if (!target) return undefined;
  if (target === "bin/gait") return [process.execPath, join(ROOT, "bin", "gait")];
  return [resolve(ROOT, target)];
}

/** True when the CLI under test is a spawned process (it reads the real clock). */
export const SPAWNED = cliCommand() !== undefined;

/** Label of the CLI under test, for test names. */
export const CLI_LABEL = process.env.GAIT_CLI ?? "in-process";

export function tempDir(prefix = "gait-cli-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function parseJson(stdout: string): Record<string, any> {
  try {
    return JSON.parse(stdout);
  } catch {
    return {}; // not JSON output
  }
}

/** Spawn the CLI: stdin is the given text (closed), the environment is exactly `env` (as in-process). */
export function spawnCli(command: string[], cwd: string, argv: string[], stdin: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command[0]!, [...command.slice(1), ...argv], { cwd, env, stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => void (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => void (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === null) reject(new Error(`${command.join(" ")} ${argv.join(" ")}: killed by ${signal}\n${stderr}`));
      else resolvePromise({ code, stdout, stderr, json: parseJson(stdout) });
    });
    child.stdin.on("error", () => {}); // the CLI may exit before reading stdin
    child.stdin.end(stdin);
  });
}

export async function run(
  cwd: string,
  argv: string[],
  opts: { stdin?: string; env?: NodeJS.ProcessEnv; now?: () => Date } = {},
): Promise<RunResult> {
  const command = cliCommand();
  if (command) {
    // A spawned CLI reads the real clock. `now` is honoured as "not before": wait until the real clock reaches it,
    // which keeps the meaning of the tests that move the clock forward (e.g. past a token's expiry). A clock set
    // back cannot be honoured: such a test must run in-process only (`it.skipIf(SPAWNED)`).
    if (opts.now) {
      const wait = opts.now().getTime() - Date.now();
      if (wait < -1000) throw new Error("a spawned CLI reads the real clock: a clock in the past needs the in-process runner");
      if (wait > 0) await new Promise((r) => setTimeout(r, wait + 5));
    }
    return spawnCli(command, cwd, argv, opts.stdin ?? "", opts.env ?? {});
  }
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    cwd,
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    readStdin: async () => opts.stdin ?? "",
    env: opts.env ?? {},
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { code, stdout, stderr, json: parseJson(stdout) };
}

export function write(dir: string, name: string, content: string | object): string {
  writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content, null, 2));
  return name;
}

export function readJsonFile(dir: string, name: string): any {
  return JSON.parse(readFileSync(join(dir, name), "utf8"));
}

/** A small policy: reads allowed, writes need approval, deletes blocked, default require_approval. */
export const POLICY = `schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: require_approval
rules:
  - name: block-delete
    priority: 10
    effect: block
    match:
      endpoint_classes: [fs.delete]
    reason_codes: [delete_blocked]
    violations: [destructive_operation]
  - name: allow-read
    priority: 20
    effect: allow
    match:
      tool_names: [tool.read]
    reason_codes: [read_allowed]
  - name: approve-write
    priority: 30
    effect: require_approval
    match:
      tool_names: [tool.write]
    reason_codes: [write_requires_approval]
`;

export function intent(tool: string, op: string, extra: Record<string, unknown> = {}): object {
  const { args, ...rest } = extra;
  return {
    tool_name: tool,
    args: { path: "/repo/file.txt", ...(args as object | undefined) },
    targets: [{ kind: "path", value: "/repo/file.txt", operation: op }],
    context: { identity: "alice", workspace: "/repo", risk_class: "low" },
    ...rest,
  };
}
