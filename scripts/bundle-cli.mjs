// Bundles the one-shot CLI into dist/gait.mjs (one file: Node's ESM loader resolves ~100 modules otherwise, which is
// about a third of a one-shot `gait mcp proxy` run on this machine). `gait mcp serve` keeps using the tsc output
// (dist/src/...), see bin/gait. esbuild is used because it is the standard, maintained bundler for this job.
import { build } from "esbuild";

await build({
  entryPoints: ["src/cli/main.ts"],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outfile: "dist/gait.mjs",
  logLevel: "warning",
  // the server is loaded from the tsc output at run time, never bundled
  external: ["../main/serve.js"],
  // CommonJS dependencies (yaml) call require(); give the ESM bundle one
  banner: { js: "import { createRequire as __gaitCreateRequire } from 'node:module'; const require = __gaitCreateRequire(import.meta.url);" },
});
