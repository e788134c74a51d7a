/**
 * Serverless (Pattern B) handler: the gate's self-contained executable ships inside the function and runs once per
 * request as a subprocess. The tool runs only when the gate says allow; every other outcome means DO NOT EXECUTE:
 * a block, require_approval or dry_run verdict, a non-zero exit, a timeout, a crash, output that is not the expected
 * JSON, or a missing binary.
 *
 * Lambda-style entry point: `handler(event)` with `event = { tool_call: {...MCP tool call...} }`.
 * Configuration (environment):
 *
 *   GAIT_BIN             the executable (default: ./gait next to this file)
 *   GAIT_POLICY          the policy file (default: ./policy.yaml next to this file)
 *   GAIT_POLICY_DIGEST   the pinned policy digest, sha256:<hex> (default: policy_digest from ./release.json)
 *   GAIT_TIMEOUT_MS      how long the gate may take (default 5000); on expiry the process is killed
 *   GAIT_TRACE_DIR       where signed trace records go (default /tmp/gait-traces; ship them to durable storage)
 *   GAIT_KEY_ENV         name of the variable that holds the prod signing key (unset: dev mode, ephemeral key)
 *
 * Node's standard library only; plain JavaScript, so it runs as shipped (node handler.mjs, or a Lambda Node runtime).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const MAX_OUTPUT = 1 << 20; // a decision is a few KiB; anything larger is not one

function config() {
  let pin = process.env.GAIT_POLICY_DIGEST;
  const release = join(HERE, "release.json");
  if (!pin && existsSync(release)) pin = JSON.parse(readFileSync(release, "utf8")).policy_digest;
  return {
    bin: process.env.GAIT_BIN ?? join(HERE, "gait"),
    policy: process.env.GAIT_POLICY ?? join(HERE, "policy.yaml"),
    pin,
    timeoutMs: Number(process.env.GAIT_TIMEOUT_MS ?? 5000),
    traceDir: process.env.GAIT_TRACE_DIR ?? "/tmp/gait-traces",
    keyEnv: process.env.GAIT_KEY_ENV,
  };
}

const deny = (reason, decision = null) => ({ allow: false, reason, decision });

/** Run the gate once: resolves { code, signal, stdout } or { error }; never rejects. */
function runGate(argv0, args, input, opts) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(argv0, args, { cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"], timeout: opts.timeoutMs, killSignal: "SIGKILL" });
    } catch (error) {
      resolve({ error });
      return;
    }
    let stdout = "";
    let tooLarge = false;
    let timedOut = false;
    const timer = setTimeout(() => (timedOut = true), opts.timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d) => {
      stdout += d;
      if (stdout.length > MAX_OUTPUT) {
        tooLarge = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr.resume();
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ error });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, tooLarge, timedOut });
    });
    child.stdin.on("error", () => {}); // the gate may exit before reading its input
    child.stdin.end(input);
  });
}

/** Ask the gate about one MCP tool call. Resolves { allow, reason, decision }. */
export async function decide(toolCall) {
  const cfg = config();
  mkdirSync(cfg.traceDir, { recursive: true });
  const trace = join(cfg.traceDir, `trace_${randomUUID().replaceAll("-", "")}.json`);
  const args = ["mcp", "proxy", "--policy", cfg.policy, "--call", "-", "--adapter", "mcp", "--json", "--trace-out", trace];
  if (cfg.pin) args.push("--policy-digest", cfg.pin);
  if (cfg.keyEnv) args.push("--key-mode", "prod", "--private-key-env", cfg.keyEnv);
  const r = await runGate(cfg.bin, args, JSON.stringify(toolCall), { cwd: cfg.traceDir, timeoutMs: cfg.timeoutMs });
  if (r.error) return deny(`gate could not run: ${r.error.message}`);
  if (r.timedOut) return deny(`gate timed out after ${cfg.timeoutMs} ms`);
  if (r.tooLarge) return deny("gate output too large");
  let decision;
  try {
    decision = JSON.parse(r.stdout);
  } catch {
    return deny(`gate output is not JSON (exit ${r.code ?? r.signal})`);
  }
  if (decision === null || typeof decision !== "object" || Array.isArray(decision)) return deny("gate output is not a JSON object");
  if (r.code !== 0) return deny(`gate said ${decision.verdict ?? decision.error ?? "nothing"} (exit ${r.code ?? r.signal})`, decision);
  // exit 0 is allow or dry_run; only an explicit, well-formed allow executes
  if (decision.ok !== true || decision.verdict !== "allow" || decision.executed !== false) return deny(`gate said ${decision.verdict ?? "nothing"}`, decision);
  return { allow: true, reason: "allow", decision };
}

export const TOOLS = {
  "tool.read": async (args) => readFile(String(args.path), "utf8"),
};

/** Gate one tool call and run it only on allow. */
export async function handle(event, tools = TOOLS) {
  const call = event && typeof event === "object" ? event.tool_call : undefined;
  if (!call || typeof call !== "object") return { executed: false, reason: "event has no tool_call object" };
  const d = await decide(call);
  const out = { executed: false, reason: d.reason };
  if (d.decision) for (const k of ["verdict", "reason_codes", "trace_id", "trace_path"]) out[k] = d.decision[k];
  if (!d.allow) return out;
  const tool = tools[String(call.name)];
  if (!tool) return { ...out, reason: `no tool named ${call.name}` };
  return { ...out, executed: true, result: await tool(call.args ?? {}) };
}

export const handler = (event) => handle(event);

// Run directly: node handler.mjs '<event JSON>'  (prints the result; exit 0 only when the tool ran)
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await handle(JSON.parse(process.argv[2] ?? "{}"));
  console.log(JSON.stringify(out));
  process.exitCode = out.executed ? 0 : 1;
}
