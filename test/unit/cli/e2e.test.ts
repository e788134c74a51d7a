/**
 * End-to-end: spawn the real `bin/gait` (the compiled CLI under dist/), or the CLI under test when GAIT_CLI names one
 * (helpers.ts). Skipped when dist/ is missing, because these tests check the shipped entry point (exit codes set
 * through process.exitCode, stdin, stdout flushing), not the TypeScript sources the in-process tests already cover.
 * Run `make build` first to include them.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CLI_LABEL, POLICY, cliCommand, intent, tempDir, write } from "./helpers.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const command = cliCommand() ?? [process.execPath, join(root, "bin", "gait")];
const built = existsSync(join(root, "dist", "src", "cli", "main.js")) && existsSync(command[command.length - 1]!);

function gait(cwd: string, args: string[], input?: string) {
  const r = spawnSync(command[0]!, [...command.slice(1), ...args], { cwd, input, encoding: "utf8", env: { PATH: process.env.PATH ?? "" }, timeout: 20_000 });
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(r.stdout);
  } catch {
    // human output
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

describe.skipIf(!built)(`${CLI_LABEL === "in-process" ? "bin/gait" : CLI_LABEL} end to end (needs \`make build\`; skipped when dist/ is missing)`, () => {
  it("help and usage errors", () => {
    const dir = tempDir();
    expect(gait(dir, ["--help"]).code).toBe(0);
    const bad = gait(dir, ["gate", "eval", "--nope", "--json"]);
    expect(bad.code).toBe(6);
    expect(bad.json).toMatchObject({ ok: false, error_code: "invalid_input" });
  });

  it("keys init, gate eval (exit 4), approve, gate eval with the token (exit 0), trace verify", () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "w.json", intent("tool.write", "write"));
    expect(gait(dir, ["keys", "init", "--json"]).code).toBe(0);
    const key = ["--key-mode", "prod", "--private-key", "gait-out/keys/gait_private.key"];
    const first = gait(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "w.json", ...key, "--json"]);
    expect(first.code).toBe(4);
    const tok = gait(dir, [
      "approve", "--intent-digest", first.json.intent_digest, "--policy-digest", first.json.policy_digest,
      "--ttl", "10m", "--scope", "tool:tool.write", "--approver", "bob", "--reason-code", "ok", ...key, "--json",
    ]);
    expect(tok.code).toBe(0);
    const second = gait(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "w.json", ...key, "--approval-token", tok.json.token_path, "--json"]);
    expect(second.code).toBe(0);
    expect(second.json.verdict).toBe("allow");
    const v = gait(dir, ["trace", "verify", second.json.trace_path, "--public-key", "gait-out/keys/gait_public.key", "--json"]);
    expect(v.code).toBe(0);
    expect(v.json.signature_status).toBe("verified");
  });

  it("mcp proxy reads the call from stdin and exits by verdict", () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    const call = JSON.stringify({ name: "tool.delete", targets: [{ kind: "path", value: "/x", operation: "delete" }], context: { identity: "a", workspace: "/", risk_class: "low" } });
    const r = gait(dir, ["mcp", "proxy", "--policy", "p.yaml", "--call", "-", "--json"], call);
    expect(r.code).toBe(3);
    expect(r.json).toMatchObject({ ok: true, executed: false, verdict: "block" });
  });
});
