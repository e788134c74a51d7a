// Print the counts each resilience test recorded (test-results/resilience/*.json), one line per test.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2] ?? "test-results/resilience";
let files = [];
try {
  files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
} catch {
  console.log(`no resilience results in ${dir}`);
  process.exit(0);
}
console.log("== resilience counts");
for (const f of files) {
  const doc = JSON.parse(readFileSync(join(dir, f), "utf8"));
  const { name, at, scale, samples, ...rest } = doc;
  console.log(`  ${(name ?? f).padEnd(36)} ${Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ")}`);
}
