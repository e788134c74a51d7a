/**
 * The TypeScript client as a user gets it: `npm pack` on a fresh clone of clients/typescript (nothing installed in
 * that folder, and outside the repository so no node_modules above it helps), the tarball installed into an empty
 * project, and there the README example compiled and run against the real server and against a missing socket,
 * and the typed-intent fixtures compiled against the installed declarations.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, firstCodeBlock, freshCopy, startRealServer, tempDir, type RealServer } from "../conformance/clients/harness.js";

const CLIENT = join(ROOT, "clients", "typescript");
const clientPkg = JSON.parse(readFileSync(join(CLIENT, "package.json"), "utf8")) as { name: string; version: string; devDependencies: Record<string, string> };

const npm = (args: string[], cwd: string): string =>
  execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });

/** Compiles `files` in the app with the app's own typescript; returns tsc's exit status and output. */
function tsc(app: string, files: string[], extra: string[] = []): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(app, "node_modules", "typescript", "bin", "tsc"),
    "--strict", "--skipLibCheck", "--target", "ES2022", "--module", "NodeNext", "--moduleResolution", "NodeNext", "--types", "node", ...extra, ...files], { cwd: app, encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("packaging: clients/typescript from a fresh clone", () => {
  let dir: string;
  let clone: string;
  let tarball: string;
  let packedFiles: string[];
  let app: string;
  let server: RealServer | undefined;
  let setupError: unknown;

  beforeAll(async () => {
    try {
      dir = tempDir("gait-tspkg-");
      clone = freshCopy("clients/typescript", join(dir, "clone"));
      const out = npm(["pack", "--json", "--pack-destination", dir], clone);
      const [info] = JSON.parse(out.slice(out.indexOf("["))) as Array<{ filename: string; files: Array<{ path: string }> }>;
      tarball = join(dir, info!.filename);
      packedFiles = info!.files.map((f) => f.path);

      app = join(dir, "app");
      execFileSync("mkdir", ["-p", app]);
      writeFileSync(join(app, "package.json"), JSON.stringify({ name: "empty-app", private: true, type: "module" }, null, 2));
      npm(["install", "--no-audit", "--no-fund", "--prefer-offline", tarball,
        `typescript@${clientPkg.devDependencies.typescript}`, `@types/node@${clientPkg.devDependencies["@types/node"]}`], app);
      server = await startRealServer();
    } catch (e) {
      setupError = e; // every test FAILS with it; never skipped
    }
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("npm pack builds the tarball with JS and declarations, though nothing was installed in the clone's folder", () => {
    if (setupError) throw setupError;
    expect(existsSync(join(ROOT, "clients", "typescript", "package-lock.json"))).toBe(true);
    for (const f of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/intent.d.ts", "dist/approval.d.ts", "dist/verify.js", "dist/verify.d.ts", "dist/gen/gait/gate/v1/intent_pb.d.ts"]) {
      expect(packedFiles).toContain(f);
    }
    expect(packedFiles.filter((f) => f.startsWith("test-types/") || f.startsWith("node_modules/"))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(app, "node_modules", "@gait-gate", "client", "package.json"), "utf8")) as { version: string };
    expect(installed.version).toBe(clientPkg.version);
  });

  let readmeBuilt = false;
  function runReadme(target: string): string[] {
    if (!readmeBuilt) {
      writeFileSync(join(app, "readme-example.ts"), firstCodeBlock(join(CLIENT, "README.md"), "ts"));
      const built = tsc(app, ["readme-example.ts"], ["--outDir", "out"]);
      expect(built.out).toBe("");
      expect(built.status).toBe(0);
      readmeBuilt = true;
    }
    const r = spawnSync(process.execPath, [join(app, "out", "readme-example.js")], { cwd: app, encoding: "utf8", env: { ...process.env, GAIT_SOCKET: target } });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim().split("\n");
  }

  it("the README example compiles against the installed package and runs against the real server", () => {
    if (setupError) throw setupError;
    const lines = runReadme(`unix://${server!.socket}`);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe("<contents of /workspace/README.md>");
    expect(lines[1]).toMatch(/^block \[(.+, )?exec_blocked(, .+)?\] violations=\[exec_not_allowed\] trace=[0-9a-f]+$/);
  }, 180_000);

  it("the README example runs nothing when the gate is down: every line is a fail-closed block", () => {
    if (setupError) throw setupError;
    const lines = runReadme(`unix://${join(dir, "absent.sock")}`);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^not run: block \(fail closed: unavailable\) \[fail_closed_unavailable\]: cannot connect to the gate server socket /);
    expect(lines[1]).toMatch(/^block \(fail closed: unavailable\) \[fail_closed_unavailable\]: /);
  }, 180_000);

  it("typed intents check against the installed declarations: correct code compiles, a misspelt field does not", () => {
    if (setupError) throw setupError;
    for (const f of ["full-intent.ts", "intent-ok.ts", "intent-misspelt.ts"]) copyFileSync(join(CLIENT, "test-types", f), join(app, f));
    // one compiler run: the two correct files must have no diagnostics, the misspelt one the expected ones
    const r = tsc(app, ["full-intent.ts", "intent-ok.ts", "intent-misspelt.ts"], ["--noEmit", "--pretty", "false"]);
    expect(r.status).not.toBe(0);
    const errors = r.out.split("\n").filter((l) => / error TS\d+:/.test(l));
    expect(errors.filter((l) => !l.startsWith("intent-misspelt.ts("))).toEqual([]);
    expect(errors).toHaveLength(9);
    const bad = r;
    expect(bad.out).toContain("error TS2561: Object literal may only specify known properties, but 'tool_nmae' does not exist in type 'Intent'. Did you mean to write 'tool_name'?");
    expect(bad.out).toContain(`error TS2820: Type '"pth"' is not assignable to type 'TargetKind'. Did you mean '"path"'?`);
  }, 180_000);

  it("the ./verify subpath imports on its own", () => {
    if (setupError) throw setupError;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", 'const v = await import("@gait-gate/client/verify"); console.log(typeof v.verifyTraceRecord, typeof v.verifyTraceSegment)'], { cwd: app, encoding: "utf8" });
    expect([r.status, r.stdout.trim()], r.stderr).toEqual([0, "function function"]);
  });
});
