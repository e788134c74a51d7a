/**
 * Files shipped with the build: the package version (`producer_version` of every artifact, `gait version`) and the
 * `policy init` templates. Run from the tsc output or the Node bundle, they are read from the project tree, found by
 * walking up from this module. The self-contained executable (`make dist`) has no project tree beside it, so its
 * build (scripts/build-dist.mjs) puts their contents into the code through the bundler's `define` of
 * `GAIT_EMBEDDED_ASSETS`; that global exists nowhere else.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface EmbeddedAssets {
  version: string;
  /** template name (e.g. baseline-lowrisk) -> YAML text */
  templates: Record<string, string>;
  /** the web console's bundled page (dist/console) */
  console?: { html: string; js: string; css: string };
}

declare const GAIT_EMBEDDED_ASSETS: EmbeddedAssets | undefined;

/** The assets built into this executable, or undefined when running from the project tree. */
export function embeddedAssets(): EmbeddedAssets | undefined {
  return typeof GAIT_EMBEDDED_ASSETS === "undefined" ? undefined : GAIT_EMBEDDED_ASSETS;
}

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
  const embedded = embeddedAssets();
  if (embedded) return (cachedVersion = embedded.version);
  try {
    const p = findProjectFile("package.json");
    cachedVersion = p ? (JSON.parse(readFileSync(p, "utf8")) as { version?: string }).version || "0.0.0-dev" : "0.0.0-dev";
  } catch {
    cachedVersion = "0.0.0-dev";
  }
  return cachedVersion;
}
