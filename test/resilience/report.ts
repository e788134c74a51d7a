/**
 * Counts of what each resilience test tried and saw, written to test-results/resilience/<name>.json and printed, so
 * `make fuzz` / `make soak` can print their totals and docs/reliability.md can quote the last run.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const DIR = join(__dirname, "..", "..", "test-results", "resilience");

export function report(name: string, counts: Record<string, number | string>): void {
  mkdirSync(DIR, { recursive: true });
  const doc = { name, at: new Date().toISOString(), scale: Number(process.env.GAIT_FUZZ_SCALE ?? "1"), ...counts };
  writeFileSync(join(DIR, `${name}.json`), JSON.stringify(doc, null, 2) + "\n");
  console.log(`[resilience] ${name}: ${Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(" ")}`);
}
