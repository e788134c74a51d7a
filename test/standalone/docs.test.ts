/**
 * The guides are tested: every runnable step of docs/deployment.md and docs/integration.md runs here, and every code
 * excerpt is checked against the file it is taken from.
 *
 * - A fenced block whose info string is `sh doctest` is a step. All steps of one guide run in order as ONE bash
 *   script (`set -euo pipefail`) in a fresh temp dir, with `gait` on PATH being the self-contained executable
 *   (`make dist`), plus the pinned tools of `make setup` (grpcurl, grpc-health-probe). `GAIT_REPO` is the checkout.
 *   `127.0.0.1:8787` is replaced by a free port. Background processes the steps start are killed at the end.
 * - A block with info string `text output` right after a step is what that step prints on stdout: the same number of
 *   lines, each equal to the printed one, where `...` in an expected line matches any text.
 * - A block preceded by `<!-- excerpt: path/in/repo -->` must appear verbatim (leading indentation aside) in that file.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DIST_EXE, ROOT } from "./exe.js";

interface Block {
  info: string;
  body: string;
  line: number;
  excerpt?: string;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!.slice(indent));
    const prev = lines.slice(0, start).reverse().find((l) => l.trim() !== "");
    const excerpt = prev && /^<!-- excerpt: (\S+) -->$/.exec(prev.trim())?.[1];
    out.push({ info: open[2]!.trim(), body: body.join("\n"), line: start + 1, ...(excerpt ? { excerpt } : {}) });
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function matches(expected: string, actual: string): boolean {
  const re = new RegExp("^" + expected.split("...").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$");
  return re.test(actual);
}

async function runGuide(file: string): Promise<void> {
  const all = blocks(readFileSync(join(ROOT, file), "utf8"));
  const steps: { block: Block; expected?: Block }[] = [];
  all.forEach((b, i) => {
    if (b.info === "sh doctest") steps.push({ block: b, ...(all[i + 1]?.info === "text output" ? { expected: all[i + 1] } : {}) });
  });
  expect(steps.length, `${file} has runnable steps`).toBeGreaterThan(0);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "gait-doc-"));
  const bin = join(dir, ".bin");
  mkdirSync(bin);
  symlinkSync(DIST_EXE, join(bin, "gait"));
  const marker = (n: number) => `@@doctest-step-${n}@@`;
  const script = ["set -euo pipefail"];
  steps.forEach((s, n) => script.push(`echo '${marker(n)}'`, s.block.body.replaceAll("127.0.0.1:8787", `127.0.0.1:${port}`)));
  script.push(`echo '${marker(steps.length)}'`);
  const child = spawn("bash", ["-c", script.join("\n")], {
    cwd: dir,
    detached: true, // its own process group, so the servers a step starts are stopped with it
    env: { PATH: `${bin}:${join(ROOT, ".tools", "bin")}:${process.env.PATH}`, HOME: dir, GAIT_REPO: ROOT, LANG: "C.UTF-8" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    // the group is gone already
  }
  await new Promise((r) => setTimeout(r, 200));
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    // gone
  }
  rmSync(dir, { recursive: true, force: true });
  const parts = stdout.split(/@@doctest-step-(\d+)@@\n/);
  const outputs = new Map<number, string>();
  for (let i = 1; i < parts.length; i += 2) outputs.set(Number(parts[i]), parts[i + 1] ?? "");
  const failedAt = [...outputs.keys()].length - 1;
  if (code !== 0) {
    const step = steps[Math.min(failedAt, steps.length - 1)]!;
    throw new Error(`${file}:${step.block.line}: step failed (exit ${code})\n--- step\n${step.block.body}\n--- stdout\n${outputs.get(failedAt) ?? ""}\n--- stderr\n${stderr}`);
  }
  steps.forEach((s, n) => {
    if (!s.expected) return;
    const want = s.expected.body.split("\n").filter((l) => l.trim() !== "");
    const got = (outputs.get(n) ?? "").split("\n").filter((l) => l.trim() !== "");
    const ok = want.length === got.length && want.every((w, i) => matches(w, got[i]!));
    expect(ok, `${file}:${s.expected.line}: output differs\n--- expected\n${want.join("\n")}\n--- printed\n${got.join("\n")}`).toBe(true);
  });
}

function checkExcerpts(file: string): number {
  let n = 0;
  for (const b of blocks(readFileSync(join(ROOT, file), "utf8"))) {
    if (!b.excerpt) continue;
    const source = readFileSync(join(ROOT, b.excerpt), "utf8").split("\n").map((l) => l.trim()).join("\n");
    const shown = b.body.split("\n").map((l) => l.trim()).join("\n");
    expect(source.includes(shown), `${file}:${b.line}: excerpt is not in ${b.excerpt}:\n${b.body}`).toBe(true);
    n++;
  }
  return n;
}

describe("the guides run as written", () => {
  for (const file of ["docs/deployment.md", "docs/integration.md"]) {
    it(`${file}: every step runs and prints what the guide shows`, async () => {
      await runGuide(file);
    }, 120_000);
    it(`${file}: every excerpt is in the file it names`, () => {
      expect(checkExcerpts(file)).toBeGreaterThan(0);
    });
  }
});
