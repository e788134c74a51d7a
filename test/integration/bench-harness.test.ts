/**
 * The benchmark harness does not rot: `scripts/bench-floor.sh` (make bench-floor) with tiny windows starts the floor
 * server in each mode and ours, drives each with bench/server/loadgen.py and writes its JSON. What it checks is that
 * every side answered (decisions, no errors, every answer ALLOW), never how fast: timings are not asserted.
 * (`make bench-peers` needs Cerbos from npm and is checked by hand; its client is the same loadgen family.)
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "bench-harness-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("benchmark harness", () => {
  it.skipIf(!existsSync(join(ROOT, ".venv", "bin", "python")))("make bench-floor runs every side end to end and writes its JSON", () => {
    const out = join(dir, "floor.json");
    const r = spawnSync("bash", [join(ROOT, "scripts", "bench-floor.sh")], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 180_000,
      env: { ...process.env, BENCH_RUNS: "1", BENCH_LEVELS: "1,4", BENCH_WINDOW: "0.3", BENCH_WARMUP: "0.1", BENCH_OUT: out },
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| in flight \| server \| decisions\/s/);
    const doc = JSON.parse(readFileSync(out, "utf8")) as { sides: Record<string, Record<string, { decisions: number; errors: number; non_allow: number }>> };
    expect(Object.keys(doc.sides).sort()).toEqual(["floor-async", "floor-none", "floor-sync", "ours"]);
    for (const [side, levels] of Object.entries(doc.sides)) {
      expect(Object.keys(levels).sort(), side).toEqual(["1", "4"]);
      for (const [level, m] of Object.entries(levels)) {
        expect(m.decisions, `${side} at ${level}`).toBeGreaterThan(0);
        expect(m.errors, `${side} at ${level}`).toBe(0);
        expect(m.non_allow, `${side} at ${level}`).toBe(0);
      }
    }
  });
});
