/**
 * The examples' documented "run directly" commands, run as documented against the executable's service:
 * examples/openai-ts/handler.ts with `npx bun` (bun is a pinned dev dependency; Node 20 cannot run TypeScript).
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIST_EXE, ROOT } from "./exe.js";
import { waitServing } from "./grpc.js";

let dir: string;
let server: ReturnType<typeof spawn>;
let log = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gait-ex-"));
  server = spawn(DIST_EXE, ["mcp", "serve", "--policy", join(ROOT, "examples/policy.yaml"), "--listen", `unix://${dir}/gate.sock`], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  server.stdout!.on("data", (d) => (log += d));
  server.stderr!.on("data", (d) => (log += d));
  await waitServing(join(dir, "gate.sock"), () => server.exitCode === null, () => log);
});
afterAll(async () => {
  server.kill("SIGTERM");
  if (server.exitCode === null) await once(server, "exit");
  rmSync(dir, { recursive: true, force: true });
});

describe("examples run as their comments say", () => {
  it("GAIT_SOCKET=... npx bun examples/openai-ts/handler.ts runs the allowed call only", () => {
    const r = spawnSync("npx", ["bun", "examples/openai-ts/handler.ts"], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, GAIT_SOCKET: `unix://${dir}/gate.sock` },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const [read, exec] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(read).toEqual({ role: "tool", tool_call_id: "call_1", content: "<contents of /workspace/README.md>" });
    expect(JSON.parse(exec.content)).toMatchObject({ refused: true });
  });
});
