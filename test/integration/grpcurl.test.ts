/**
 * grpcurl (pinned, installed by `make setup` into .tools/bin) against the real server through reflection only:
 * list and describe the services, call Evaluate and Health/Check, and see a structured error.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BASE_POLICY, ROOT, cleanup, startServer, type Server } from "./harness.js";

const GRPCURL = join(ROOT, ".tools", "bin", "grpcurl");
const have = existsSync(GRPCURL);

let s: Server;
beforeAll(async () => {
  if (have) s = await startServer({ policy: BASE_POLICY });
});
afterAll(async () => {
  await s?.stop();
  if (s) cleanup(s.dir);
});

/** Run grpcurl; the address form `unix:///abs` (grpcurl 1.9's `-unix` flag dials TCP). */
function grpcurl(...args: string[]): { code: number | null; out: string; err: string } {
  const addr = `unix://${s.socket}`;
  const i = args.findIndex((a) => !a.startsWith("-") && args[args.indexOf(a) - 1] !== "-d");
  const withAddr = i < 0 ? [...args, addr] : [...args.slice(0, i), addr, ...args.slice(i)];
  const r = spawnSync(GRPCURL, ["-plaintext", ...withAddr], { encoding: "utf8", timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(!have)("grpcurl through reflection", () => {
  it("lists the services and describes GateService", () => {
    const l = grpcurl("list");
    expect(l.code, l.err).toBe(0);
    expect(l.out.trim().split("\n").sort()).toEqual([
      "gait.gate.v1.GateService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
    const d = grpcurl("describe", "gait.gate.v1.GateService");
    expect(d.code, d.err).toBe(0);
    for (const m of ["Evaluate", "Approve", "ListApprovals", "GetApproval", "ExportTraces", "GetServerInfo"]) expect(d.out).toContain(`rpc ${m}`);
    const m = grpcurl("describe", "gait.gate.v1.IntentRequest");
    expect(m.code, m.err).toBe(0);
    expect(m.out).toContain("google.protobuf.Struct args");
  });

  it("calls Evaluate and Health/Check", () => {
    const body = JSON.stringify({
      intent: { tool_name: "tool.read", args: { path: "/tmp/a" }, targets: [{ kind: "path", value: "/tmp/a", operation: "read" }], context: { identity: "a", workspace: "/w", risk_class: "low" } },
    });
    const r = grpcurl("-d", body, "gait.gate.v1.GateService/Evaluate");
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as { verdict: string; traceId: string; intentDigest: string };
    expect(out.verdict).toBe("VERDICT_ALLOW");
    expect(out.traceId).toMatch(/^[0-9a-f]{24}$/);
    const h = grpcurl("-d", "{}", "grpc.health.v1.Health/Check");
    expect(h.code, h.err).toBe(0);
    expect(JSON.parse(h.out)).toEqual({ status: "SERVING" });
  });

  it("shows INVALID_ARGUMENT with the ErrorInfo reason for a bad intent", () => {
    const r = grpcurl("-d", '{"intent":{"tool_name":""}}', "gait.gate.v1.GateService/Evaluate");
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("InvalidArgument");
    expect(r.err).toContain("INVALID_INTENT");
  });
});
