/**
 * The self-contained executable under test (`make dist`): its path, and a build-once helper for vitest's
 * globalSetup, so `vitest run` works on a fresh clone without `make dist` first.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** dist/gait-<os>-<arch>, the name `make dist` gives it (os and arch as Node names them: linux-x64, darwin-arm64) */
export const DIST_EXE_REL = `dist/gait-${process.platform}-${process.arch}`;
export const DIST_EXE = join(ROOT, DIST_EXE_REL);

function newestInput(dir: string): number {
  let m = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) m = Math.max(m, newestInput(p));
    else if (/\.(ts|yaml)$/.test(name)) m = Math.max(m, st.mtimeMs);
  }
  return m;
}

function fresh(): boolean {
  if (!existsSync(DIST_EXE) || !existsSync(`${DIST_EXE}.sha256`)) return false;
  const inputs = Math.max(
    newestInput(join(ROOT, "src")),
    newestInput(join(ROOT, "policies")),
    statSync(join(ROOT, "package.json")).mtimeMs,
    statSync(join(ROOT, "scripts", "build-dist.mjs")).mtimeMs,
  );
  return statSync(DIST_EXE).mtimeMs >= inputs;
}

/** Build the executable when it is missing or older than its inputs (one builder at a time, via a lock dir). */
export function ensureDistBuilt(): void {
  if (fresh()) return;
  const lock = join(ROOT, "dist.exe-build-lock");
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock, { recursive: false });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (remove it if no build is running)`);
      spawnSync("sleep", ["0.5"]);
      if (fresh()) return;
    }
  }
  try {
    if (fresh()) return;
    const r = spawnSync(process.execPath, [join(ROOT, "scripts", "build-dist.mjs"), "--out", DIST_EXE_REL], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0 || !existsSync(DIST_EXE)) throw new Error(`make dist failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmdirSync(lock);
  }
}
