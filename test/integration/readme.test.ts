/**
 * The README's operator round trip runs as written, against the service `make run` starts (scripts/run.sh, the
 * same script, with its socket rule pointed at a fresh temp dir through XDG_RUNTIME_DIR and its state dir there too).
 *
 * The two `sh` blocks of "Approving, stopping and watching calls" run in order as ONE bash script from the checkout,
 * with only what a reader fills in by hand substituted: `apr_...` is the approval request id the latest
 * VERDICT_REQUIRE_APPROVAL answer printed, `<entry_id>` the id `killswitch set` printed, and `gait-out/serve` the
 * temp state dir. Every line whose comment names a verdict (`# ... VERDICT_X ...`) must print that verdict, and every
 * command must succeed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanup, ROOT, tempDir } from "./harness.js";

/** The fenced `sh` blocks of one README section, in order. */
function sectionBlocks(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no section "${heading}"`);
  const rest = markdown.slice(start + heading.length + 2);
  const section = rest.slice(0, rest.search(/\n## /) >= 0 ? rest.search(/\n## /) : undefined);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** Turn the blocks into one script: capture what the reader would copy, check each verdict the comments promise. */
export function roundTripScript(blocks: string[], stateDir: string): string {
  const out = ["set -euo pipefail", 'APR=""', 'ENTRY=""'];
  const lines = blocks.join("\n").split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    // a quoted value continued over several lines (CALL='...') is one statement
    while ((line.split("'").length - 1) % 2 === 1 && i + 1 < lines.length) line += "\n" + lines[++i]!;
    if (!line.trim()) continue;
    const hash = line.search(/\s#\s/);
    const cmd = (hash >= 0 ? line.slice(0, hash) : line).trimEnd().replaceAll("apr_...", "$APR").replaceAll("<entry_id>", "$ENTRY").replaceAll("gait-out/serve", stateDir);
    const comment = hash >= 0 ? line.slice(hash) : "";
    const verdict = /VERDICT_[A-Z_]+/.exec(comment)?.[0];
    out.push(`echo "@@ ${cmd.split("\n")[0]!.replace(/["$`\\]/g, "\\$&").slice(0, 120)}"`);
    if (verdict) {
      out.push(`OUT=$(${cmd})`, 'echo "$OUT"', `grep -q '"verdict": "${verdict}"' <<<"$OUT" || { echo "expected ${verdict}" >&2; exit 1; }`);
      if (verdict === "VERDICT_REQUIRE_APPROVAL") out.push(`APR=$(grep -o 'apr_[0-9a-f]*' <<<"$OUT" | head -1)`);
    } else if (/^bin\/gait killswitch set /.test(cmd)) {
      out.push(`OUT=$(${cmd})`, 'echo "$OUT"', `ENTRY=$(awk '$1 == "set" {print $2}' <<<"$OUT")`);
    } else {
      out.push(cmd);
    }
  }
  return out.join("\n") + "\n";
}

let server: ChildProcess | undefined;
const dirs: string[] = [];
afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await new Promise((r) => server!.once("exit", r));
  }
  dirs.forEach(cleanup);
});

describe("README", () => {
  it("the approval round trip and the kill switch run as written against make run's service", async () => {
    const dir = tempDir("gait-readme-");
    dirs.push(dir);
    const rt = join(dir, "rt");
    mkdirSync(rt);
    chmodSync(rt, 0o700);
    const state = join(dir, "state");
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: rt, GAIT_STATE_DIR: state, GAIT_CONSOLE_LISTEN: "127.0.0.1:0" };
    delete env.GAIT_SOCKET;
    delete env.GAIT_OPERATOR_SOCKET;
    server = spawn(join(ROOT, "scripts", "run.sh"), [], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    server.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
    server.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    const deadline = Date.now() + 30_000;
    while (!/console:\s+http:\/\/127\.0\.0\.1:\d+\/#token=/.test(stdout)) {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`make run's service did not start:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(stdout).toContain(`listening on unix://${rt}/gait/gate.sock`);
    expect(stderr).toContain(`operator socket: ${rt}/gait/operator.sock`);

    const blocks = sectionBlocks(readFileSync(join(ROOT, "README.md"), "utf8"), "## Approving, stopping and watching calls");
    expect(blocks).toHaveLength(2);
    const script = roundTripScript(blocks, state);
    const r = spawnSync("bash", ["-c", script], { cwd: ROOT, env, encoding: "utf8", timeout: 120_000 });
    expect(r.status, `script:\n${script}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
    // what each step shows a reader
    expect(r.stdout).toMatch(/apr_[0-9a-f]+\s+pending\s+tool\.write\s+from alice/); // approvals list
    expect(r.stdout).toMatch(/granted apr_[0-9a-f]+ \(tool\.write\)/);
    expect(r.stdout).toMatch(/approval_request_denied/);
    expect(r.stdout).toMatch(/block\s+tool\.write.*kill_switch_active/); // trace tail
    expect(r.stdout).toMatch(/removed kill-switch entry [0-9a-f]+/);
    expect(r.stdout).toMatch(/trace verify: directory .*\/traces verified \(1 segments, entries 1\.\.\d+, key_id=[0-9a-f]{64}\)/);
  }, 180_000);
});
