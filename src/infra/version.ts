/**
 * The package version (`producer_version` of every artifact, `gait version`), read once from the package.json that
 * ships with this build, found by walking up from this module (dist/src/infra, src/infra, or the bundle's folder).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Find a file shipped with the project (templates, package.json) by walking up from this module. */
export function findProjectFile(rel: string): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, rel);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

let cachedVersion: string | undefined;

/** `producer_version` of everything this build writes: the package version. */
export function producerVersion(): string {
  if (cachedVersion) return cachedVersion;
  try {
    const p = findProjectFile("package.json");
    cachedVersion = p ? (JSON.parse(readFileSync(p, "utf8")) as { version?: string }).version || "0.0.0-dev" : "0.0.0-dev";
  } catch {
    cachedVersion = "0.0.0-dev";
  }
  return cachedVersion;
}
