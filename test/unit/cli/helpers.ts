/** In-process CLI runner for tests: a temp cwd, captured stdout/stderr, injectable stdin/env/clock. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** parsed stdout when it is one JSON line */
  json: Record<string, any>;
}

export function tempDir(prefix = "gait-cli-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function run(
  cwd: string,
  argv: string[],
  opts: { stdin?: string; env?: NodeJS.ProcessEnv; now?: () => Date } = {},
): Promise<RunResult> {
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
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(stdout);
  } catch {
    // not JSON output
  }
  return { code, stdout, stderr, json };
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
