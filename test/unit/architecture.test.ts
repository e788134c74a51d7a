/**
 * The layers of docs/architecture.md, enforced on every import of every source file (static, dynamic and
 * re-exports):
 *
 *   engine (pure) < infra < state, tracelog, runpack < service, config < transport < cli, main
 *
 * A module may import its own folder and lower layers, never a higher one and never a neighbour of its own layer
 * (unless the exception is listed below with its reason). Generated code is for the transports and the composition
 * root only; each layer's third-party and Node imports are listed; and there is no import cycle between modules.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(__dirname, "..", "..", "src");

/** Folder (top-level under src/, or transport/<name>) -> rank. */
const LAYERS: Record<string, number> = {
  engine: 0,
  infra: 1,
  state: 2,
  tracelog: 2,
  runpack: 2,
  service: 3,
  config: 3,
  transport: 4, // transport/auth.ts, shared by the transports
  "transport/grpc": 4,
  "transport/http": 4,
  cli: 5,
  main: 5,
};

/** Imports across folders of one rank, each with why it is allowed. */
const SAME_RANK_ALLOWED: Record<string, string> = {
  "transport/grpc -> transport": "the transports share authentication (transport/auth.ts)",
  "transport/http -> transport": "the transports share authentication (transport/auth.ts)",
  "cli -> main": "`gait mcp serve` loads the composition root on demand (dynamic import only)",
  "main -> cli": "`gait mcp serve --help` is rendered by the CLI's help renderer (cli/args.ts), like every command",
};

/** Only these may import generated protobuf code. */
const GEN_ALLOWED = new Set(["transport/grpc", "main"]);

/** Third-party and Node modules each layer may use (anything else fails). */
const EXTERNAL_ALLOWED: Record<string, RegExp> = {
  engine: /^(yaml|canonicalize|node:crypto)$/,
  infra: /^node:(child_process|crypto|fs|fs\/promises|net|os|path|url|worker_threads)$/,
  // ioredis: the shared state of replicas (--state redis://), src/state/redis/
  state: /^(ioredis|node:(crypto|fs|fs\/promises|path))$/,
  tracelog: /^node:(events|fs|fs\/promises|path)$/,
  runpack: /^(fflate|node:(fs\/promises|path))$/,
  // the service does no I/O of its own (stores, logs and files come in as ports): no node:fs, no transport
  service: /^(prom-client|node:path)$/,
  // node:os: the default --replica-id is the host name
  config: /^(yaml|node:(fs|os|path|util))$/,
  transport: /^node:crypto$/,
  "transport/grpc": /^(@grpc\/grpc-js|@bufbuild\/protobuf(\/wkt|\/codegenv2)?|node:(crypto|events|fs|http2|net|worker_threads))$/,
  // node:crypto: the web console's session and CSRF tokens and constant-time token checks (transport/http/console.ts)
  "transport/http": /^(prom-client|node:(http|events|crypto))$/,
  // yaml and ajv: policy test suites are YAML validated against schemas/policy-suite.schema.json
  // node:net: `gait doctor` asks whether a server already answers on the configured socket
  cli: /^(yaml|ajv\/dist\/2020\.js|node:(fs|fs\/promises|path|url|util|perf_hooks|child_process|os|net))$/,
  // node:crypto: a loopback web console's login token, new per start (main/serve.ts)
  main: /^(@grpc\/grpc-js|pino|node:(crypto|fs|http|path))$/,
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === "gen" && dir === SRC ? [] : walk(p);
    return n.endsWith(".ts") ? [p] : [];
  });
}

/** The layer folder of a source file (src-relative path). */
function folderOf(rel: string): string {
  const parts = rel.split("/");
  if (parts[0] === "transport" && parts.length > 2) return `transport/${parts[1]}`;
  return parts.length > 1 ? parts[0]! : "";
}

interface Import {
  spec: string;
  dynamic: boolean;
  line: number;
}

/** Module specifiers of static imports, re-exports and dynamic imports (comments and strings elsewhere ignored). */
function importsOf(text: string): Import[] {
  const out: Import[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " ")).replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
  const lineAt = (i: number) => code.slice(0, i).split("\n").length;
  for (const m of code.matchAll(/^\s*import\s[^;]*?\bfrom\s*["']([^"']+)["']/gm)) out.push({ spec: m[1]!, dynamic: false, line: lineAt(m.index!) });
  for (const m of code.matchAll(/^\s*export\s+(?:type\s+)?(?:\*(?:\s+as\s+\w+)?|\{[^}]*\})\s*from\s*["']([^"']+)["']/gm)) out.push({ spec: m[1]!, dynamic: false, line: lineAt(m.index!) });
  for (const m of code.matchAll(/(?:^|;)\s*import\s*["']([^"']+)["']/gm)) out.push({ spec: m[1]!, dynamic: false, line: lineAt(m.index!) });
  for (const m of code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) out.push({ spec: m[1]!, dynamic: true, line: lineAt(m.index!) });
  return out;
}

const files = walk(SRC);
const graph = new Map<string, { rel: string; imports: (Import & { target?: string })[] }>();
for (const f of files) {
  const rel = relative(SRC, f);
  const imports = importsOf(readFileSync(f, "utf8")).map((i) => {
    if (!i.spec.startsWith(".")) return i;
    return { ...i, target: relative(SRC, resolve(dirname(f), i.spec)).replace(/\.js$/, ".ts") };
  });
  graph.set(rel, { rel, imports });
}

describe("layers", () => {
  it("every source folder has a layer", () => {
    const folders = new Set([...graph.keys()].map(folderOf));
    expect([...folders].filter((f) => !(f in LAYERS)), "folders missing from LAYERS").toEqual([]);
    expect(files.length).toBeGreaterThan(50);
  });

  it("no module imports a higher layer or a neighbour of its own", () => {
    const bad: string[] = [];
    for (const { rel, imports } of graph.values()) {
      const from = folderOf(rel);
      for (const i of imports) {
        if (!i.target || i.target.startsWith("gen/")) continue;
        // data outside src: only JSON Schemas from schemas/ (bundled into the executable as JSON imports)
        if (i.target.startsWith("../")) {
          if (!/^\.\.\/schemas\/[\w.-]+\.schema\.json$/.test(i.target)) bad.push(`${rel}:${i.line} imports ${i.spec} (outside src; only schemas/*.schema.json may be imported)`);
          continue;
        }
        const to = folderOf(i.target);
        if (to === from) continue;
        const key = `${from} -> ${to}`;
        if (LAYERS[to]! < LAYERS[from]!) continue;
        if (LAYERS[to] === LAYERS[from] && SAME_RANK_ALLOWED[key]) {
          if (key === "cli -> main" && !i.dynamic) bad.push(`${rel}:${i.line} imports ${i.spec} statically (${key} must be a dynamic import)`);
          continue;
        }
        bad.push(`${rel}:${i.line} imports ${i.spec} (${key}: layer ${LAYERS[from]} may not import layer ${LAYERS[to]})`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("only the gRPC transport and the composition root import generated code", () => {
    const bad = [...graph.values()].flatMap(({ rel, imports }) =>
      imports.filter((i) => i.target?.startsWith("gen/") && !GEN_ALLOWED.has(folderOf(rel))).map((i) => `${rel}:${i.line} imports ${i.spec}`),
    );
    expect(bad).toEqual([]);
  });

  it("each layer uses only its listed third-party and Node modules", () => {
    const bad = [...graph.values()].flatMap(({ rel, imports }) => {
      const allowed = EXTERNAL_ALLOWED[folderOf(rel)]!;
      return imports.filter((i) => !i.spec.startsWith(".") && !allowed.test(i.spec)).map((i) => `${rel}:${i.line} imports ${i.spec}`);
    });
    expect(bad).toEqual([]);
  });

  it("the engine reads no environment and the service no process state", () => {
    const bad: string[] = [];
    for (const rel of graph.keys()) {
      const layer = folderOf(rel);
      const text = readFileSync(join(SRC, rel), "utf8");
      if (layer === "engine" && /\bprocess\.(env|cwd|argv|exit)\b/.test(text)) bad.push(`${rel} touches process state`);
      if (layer === "service" && /\bprocess\.(env|cwd|argv|exit|on)\b/.test(text)) bad.push(`${rel} touches process state`);
    }
    expect(bad).toEqual([]);
  });

  it("the table itself is checked: a forbidden import would be caught", () => {
    // guards against a matcher that finds nothing: the service really imports the engine and the state layer
    const svc = [...graph.values()].filter((g) => folderOf(g.rel) === "service").flatMap((g) => g.imports.map((i) => i.target ?? i.spec));
    expect(svc.some((t) => t.startsWith("engine/"))).toBe(true);
    expect(svc.some((t) => t.startsWith("state/"))).toBe(true);
    expect(importsOf('import x from "./a.js";\nconst y = await import("../b.js");\nexport { z } from "./c.js";').map((i) => i.spec)).toEqual(["./a.js", "./c.js", "../b.js"]);
  });
});

describe("no import cycles", () => {
  it("the module graph (static and dynamic imports) is acyclic", () => {
    // Tarjan's strongly connected components; a component of more than one module is a cycle
    let index = 0;
    const idx = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const on = new Set<string>();
    const cycles: string[][] = [];
    const edges = (n: string) => (graph.get(n)?.imports ?? []).map((i) => i.target).filter((t): t is string => !!t && graph.has(t));
    const visit = (v: string) => {
      idx.set(v, index);
      low.set(v, index++);
      stack.push(v);
      on.add(v);
      for (const w of edges(v)) {
        if (!idx.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
      if (low.get(v) === idx.get(v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          on.delete(w);
          comp.push(w);
        } while (w !== v);
        if (comp.length > 1 || edges(v).includes(v)) cycles.push(comp.sort());
      }
    };
    for (const n of graph.keys()) if (!idx.has(n)) visit(n);
    expect(cycles, "modules that import each other (directly or through others)").toEqual([]);
  });
});
