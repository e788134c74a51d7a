/**
 * The independent decoding oracle: Python's protobuf (upb) decoding a batch of requests through
 * oracle/decode_oracle.py in one process. Used by the decode differential tests and `make fuzz`.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export type OracleAnswer = { ok: true; json: unknown } | { ok: false; error: string };

const ROOT = join(__dirname, "..", "..");
export const PYTHON = join(ROOT, ".venv", "bin", "python");

/** Whether the oracle can run (the project venv exists: `make setup`). */
export function oracleAvailable(): boolean {
  return existsSync(PYTHON);
}

/** Decode every `[messageType, bytes]` with Python's protobuf. */
export function pythonDecode(inputs: readonly (readonly [string, Uint8Array])[]): OracleAnswer[] {
  const text = inputs.map(([t, b]) => `${t} ${Buffer.from(b).toString("hex")}`).join("\n") + "\n";
  const r = spawnSync(PYTHON, [join(__dirname, "oracle", "decode_oracle.py")], { input: text, maxBuffer: 1 << 30, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`decode oracle failed (${r.status}): ${r.stderr}`);
  const lines = r.stdout.split("\n").filter(Boolean);
  if (lines.length !== inputs.length) throw new Error(`decode oracle answered ${lines.length} of ${inputs.length} inputs`);
  return lines.map((l) => JSON.parse(l) as OracleAnswer);
}

/** How many cases a resilience test runs: its default in `make test`, scaled by GAIT_FUZZ_SCALE in `make fuzz`. */
export function runs(base: number): number {
  const scale = Number(process.env.GAIT_FUZZ_SCALE ?? "1");
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}
