import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// The engine is pure (docs/architecture.md): it may hash with node:crypto but must not do I/O, talk gRPC or import
// generated code. This test keeps that boundary from eroding.
const ENGINE = join(__dirname, "..", "..", "src", "engine");
const FORBIDDEN = [/from\s+["']node:(fs|net|http|https|child_process|dgram|worker_threads|os)(\/promises)?["']/, /from\s+["']@grpc\//, /from\s+["']\.\.\/(gen|server|state|cli|crypto|tracelog|runpack)\//, /\bprocess\.env\b/];

describe("engine purity", () => {
  const files = readdirSync(ENGINE).filter((f) => f.endsWith(".ts"));
  it("has engine sources to check", () => {
    expect(files.length).toBeGreaterThan(3);
  });
  for (const f of files) {
    it(`${f} imports no I/O, gRPC or generated code`, () => {
      const src = readFileSync(join(ENGINE, f), "utf8");
      for (const re of FORBIDDEN) expect(src, `${f} matches ${re}`).not.toMatch(re);
    });
  }
});
