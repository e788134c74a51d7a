// `make dist`: the self-contained executable dist/gait-<os>-<arch> (nothing else needed to run it: no Node, no
// node_modules, no project tree) and its SHA-256 file dist/gait-<os>-<arch>.sha256 (`sha256sum -c` format).
//
// Two steps:
//  1. esbuild bundles src/cli/standalone.ts (the CLI and the service) into one file, with the package version and
//     the `policy init` templates embedded (src/infra/version.ts reads them from GAIT_EMBEDDED_ASSETS).
//  2. A compiler turns that file into an executable. The default is `bun build --compile --bytecode`, chosen by
//     measurement (bench/dist-startup.sh, docs/deployment.md): its executable starts in a few milliseconds, while
//     Node's single executable application cannot start faster than Node itself. `--tool sea` builds Node's SEA
//     instead (node --experimental-sea-config + postject), for comparison.
//
// usage: node scripts/build-dist.mjs [--tool bun|sea] [--out <path>]
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { tool: { type: "string", default: "bun" }, out: { type: "string" } } });
const tool = values.tool;
if (tool !== "bun" && tool !== "sea") throw new Error(`--tool must be bun or sea, got ${tool}`);

const os = process.platform; // linux, darwin
const arch = process.arch; // x64, arm64
const out = values.out ? resolve(root, values.out) : join(root, "dist", `gait-${os}-${arch}`);
const work = join(root, "dist", "standalone");
mkdirSync(work, { recursive: true });
mkdirSync(dirname(out), { recursive: true });

function embeddedAssets() {
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const dir = join(root, "policies", "templates");
  const templates = {};
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".yaml")).sort()) templates[basename(f, ".yaml")] = readFileSync(join(dir, f), "utf8");
  // the web console's page (`--console-listen`), bundled fresh from console/ by scripts/bundle-console.mjs
  run(process.execPath, [join(root, "scripts", "bundle-console.mjs")]);
  const ui = join(root, "dist", "console");
  const console = { html: readFileSync(join(ui, "index.html"), "utf8"), js: readFileSync(join(ui, "app.js"), "utf8"), css: readFileSync(join(ui, "app.css"), "utf8") };
  return { version, templates, console };
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
}

/** The bun executable of the `bun` npm package (its platform binary, linked by the package's postinstall). */
function bunBinary() {
  const candidates = [join(root, "node_modules", "bun", "bin", "bun.exe"), join(root, "node_modules", "@oven", `bun-${os}-${arch === "arm64" ? "aarch64" : arch}`, "bin", "bun")];
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    const r = spawnSync(c, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return c;
  }
  throw new Error("bun is not installed (run 'make setup'; it comes from the npm package 'bun')");
}

// 1. one file, everything in it, as CommonJS: esbuild keeps the service's modules lazy either way, but in an ES
//    module it hoists their `node:*` imports (node:http, node:net, ...) to the top of the file, where they load on
//    every run; in CommonJS they become require() calls inside the lazily initialized modules (measured: ~10% less
//    CPU per `mcp proxy`). Node 20's SEA needs CommonJS too.
const bundle = join(work, "gait.cjs");
await build({
  entryPoints: [join(root, "src", "cli", "standalone.ts")],
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  outfile: bundle,
  logLevel: "warning",
  define: { GAIT_EMBEDDED_ASSETS: JSON.stringify(embeddedAssets()) },
});

// 2. compile
rmSync(out, { force: true });
if (tool === "bun") {
  // --bytecode: ship JavaScriptCore bytecode, so start-up skips parsing (measured: the largest single gain).
  // --compile-jit-policy=16: JavaScriptCore tiers code up 16x later, so the run-once code of a one-shot command stays
  // in the interpreter instead of paying for JIT compiles it never gets back (measured: about a quarter less CPU per
  // `mcp proxy`; 64 and 1000 gave no more). `mcp serve` resets it to 1 (src/cli/standalone.ts).
  // --no-compile-autoload-*: a bun executable otherwise reads .env and bunfig.toml from the directory it runs in,
  // which would let a file next to the agent's work change the gate's environment (keys, flags). Never.
  run(bunBinary(), [
    "build", "--compile", "--bytecode", "--format=cjs", "--compile-jit-policy=16",
    "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
    bundle, "--outfile", out,
  ], {
    env: { ...process.env, BUN_INSTALL_CACHE_DIR: join(work, ".bun-cache") },
  });
} else {
  const blob = join(work, "sea-prep.blob");
  const config = join(work, "sea-config.json");
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }, null, 2));
  run(process.execPath, ["--experimental-sea-config", config]);
  copyFileSync(process.execPath, out);
  chmodSync(out, 0o755);
  run(process.execPath, [
    join(root, "node_modules", "postject", "dist", "cli.js"),
    out, "NODE_SEA_BLOB", blob, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2",
  ]);
}

const hex = createHash("sha256").update(readFileSync(out)).digest("hex");
writeFileSync(`${out}.sha256`, `${hex}  ${basename(out)}\n`);
console.log(`${out} (${tool}) sha256:${hex}`);
