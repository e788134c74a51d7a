// Bundles the operator web console (console/: Preact + TSX) into dist/console/{index.html,app.js,app.css}, which
// `gait mcp serve --console-listen` serves from memory (no CDN, nothing fetched at run time). Called by `make build`
// and by the test harness when dist/console is stale. Output is deterministic for the same sources and versions.
// Preact was chosen as the UI library: small (~4 kB), maintained, no runtime code generation (works under a
// Content-Security-Policy without 'unsafe-eval'); esbuild (already the CLI bundler) compiles the TSX.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "console");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, "console", "app.tsx")],
  bundle: true,
  format: "esm",
  target: "es2020",
  platform: "browser",
  minify: true,
  jsx: "automatic",
  jsxImportSource: "preact",
  outfile: join(out, "app.js"),
  legalComments: "none",
  logLevel: "warning",
});
copyFileSync(join(root, "console", "index.html"), join(out, "index.html"));
copyFileSync(join(root, "console", "app.css"), join(out, "app.css"));
