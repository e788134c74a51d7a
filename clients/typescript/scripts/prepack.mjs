#!/usr/bin/env node
// `npm pack` / `npm publish` run this first (the package's "prepack" script): it compiles src/ to dist/ so the
// tarball carries JavaScript and type declarations.
//
// It must work on a fresh clone, where nothing is installed in this folder. So: when every dependency this build
// needs already resolves from here at the pinned version (inside the repository after `make setup`, through the
// root node_modules), use those; otherwise install this package's own locked dependencies first (`npm ci` from
// package-lock.json in this folder, no install scripts). Either way the compiler is the pinned typescript.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const wanted = { ...pkg.dependencies, ...pkg.devDependencies };
const require = createRequire(join(here, "package.json"));

function resolvedVersion(name) {
  try {
    return JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
  } catch {
    return undefined;
  }
}

const missing = Object.entries(wanted).filter(([name, version]) => resolvedVersion(name) !== version);
if (missing.length > 0) {
  console.error(`prepack: installing locked dependencies (${missing.map(([n, v]) => `${n}@${v}`).join(", ")} not resolvable here)`);
  // explicit flags: the outer `npm pack` exports its own config (dry-run, json, ...) to this process's environment
  execFileSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--dry-run=false", "--json=false", "--workspaces=false"], {
    cwd: here,
    stdio: ["ignore", "inherit", "inherit"],
  });
}

rmSync(join(here, "dist"), { recursive: true, force: true });
const tsc = createRequire(join(here, "package.json")).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", join(here, "tsconfig.json")], { cwd: here, stdio: "inherit" });
