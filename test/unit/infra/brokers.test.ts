import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../../src/engine/canon.js";
import { BrokerError, issueBrokerCredential, normalizeBrokerRequest, stubBroker, validateBrokerReceipt } from "../../../src/engine/broker.js";
import {
  createCommandBroker,
  createEnvBroker,
  envKeyFor,
  isCommandAllowed,
  parseCommandAllowlist,
  parseCommandReceipt,
  resolveBroker,
} from "../../../src/infra/brokers.js";
import type { BrokerRequest, PolicyRule } from "../../../src/engine/types.js";

const NOW = new Date("2026-03-01T12:00:00Z");
const req = (over: Partial<BrokerRequest> = {}): BrokerRequest =>
  normalizeBrokerRequest({ tool_name: "tool.write", identity: "alice", workspace: "/repo", scope: ["write"], target_binding: "e".repeat(64), ...over });

const dir = mkdtempSync(join(tmpdir(), "gait-brokers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write an executable node script used as a command broker. */
function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!${process.execPath}\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

describe("env broker", () => {
  it("normalizes the variable name like Gait", () => {
    expect(envKeyFor("deploy.prod-eu")).toBe("DEPLOY_PROD_EU");
    expect(envKeyFor("a..b")).toBe("A__B");
    expect(envKeyFor(" x/y z ")).toBe("X_Y_Z");
    expect(envKeyFor("__")).toBe("DEFAULT");
  });
  it("returns a reference derived from the value, never the value", async () => {
    const secret = "super-secret-value";
    const b = createEnvBroker({ env: { GAIT_BROKER_TOKEN_DEPLOY: secret, GAIT_BROKER_TOKEN_DEPLOY_TTL_SECONDS: "120" } });
    const { receipt } = await issueBrokerCredential(b, req({ reference: "deploy" }), NOW);
    expect(receipt.credential_ref).toBe(`env:GAIT_BROKER_TOKEN_DEPLOY:${sha256Hex(secret).slice(0, 16)}`);
    expect(JSON.stringify(receipt)).not.toContain(secret);
    expect(receipt).toMatchObject({ issued_by: "env", source: "env", ttl_seconds: 120 });
  });
  it("falls back to the tool name and honours a custom prefix", async () => {
    const b = createEnvBroker({ prefix: "MY_", env: { MY_TOOL_WRITE: "v" } });
    expect((await b.issue(req(), "d")).credential_ref).toMatch(/^env:MY_TOOL_WRITE:/);
  });
  it("an unset or blank variable is an error naming the variable", async () => {
    const b = createEnvBroker({ env: { GAIT_BROKER_TOKEN_DEPLOY: "   " } });
    await expect(b.issue(req({ reference: "deploy" }), "d")).rejects.toThrow("GAIT_BROKER_TOKEN_DEPLOY is unset or empty");
  });
});

describe("command broker", () => {
  it("sends Gait's request JSON on stdin and parses the receipt", async () => {
    const p = script(
      "echo-broker",
      `let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);` +
        `process.stderr.write("noise on stderr\\n");` +
        `process.stdout.write(JSON.stringify({credential_ref:"cmd:"+r.Identity+":"+r.ToolName,access_type:"jit",ttl_seconds:60,scope:r.Scope,target_binding:r.TargetBinding}))})`,
    );
    const b = createCommandBroker({ command: p });
    const r = req();
    const { receipt, request } = await issueBrokerCredential(b, r, NOW);
    expect(receipt).toMatchObject({ credential_ref: "cmd:alice:tool.write", issued_by: "command", source: "command", access_type: "jit", ttl_seconds: 60, scopes: ["write"] });
    expect(validateBrokerReceipt(
        { max_credential_ttl_seconds: 300, require_jit_credential: true, block_standing_credentials: true, allowed_credential_sources: [], allowed_credential_issuers: [], allowed_credential_access_types: [] } as unknown as PolicyRule,
        request, receipt, { targetBinding: r.target_binding }).reasons).toEqual([]);
  });
  it("passes args", async () => {
    const p = script("args-broker", `process.stdout.write(JSON.stringify({credential_ref:"cmd:"+process.argv.slice(2).join("+")}))`);
    expect((await createCommandBroker({ command: p, args: ["a", " b ", ""] }).issue(req(), "d")).credential_ref).toBe("cmd:a+b");
  });
  it.each([
    ["non-zero exit", `process.exit(3)`, "command broker failed"],
    ["non-JSON", `process.stdout.write("hello")`, "must return a JSON receipt"],
    ["empty output", ``, "empty output"],
    ["empty ref", `process.stdout.write(JSON.stringify({credential_ref:" "}))`, "empty credential_ref"],
    ["long ref", `process.stdout.write(JSON.stringify({credential_ref:"x".repeat(300)}))`, "too long"],
    ["control chars", `process.stdout.write(JSON.stringify({credential_ref:"a\\tb"}))`, "invalid whitespace"],
    ["too much output", `process.stdout.write("x".repeat(20000))`, "exceeded 16384 bytes"],
    ["wrong field type", `process.stdout.write(JSON.stringify({credential_ref:"r",ttl_seconds:"60"}))`, "ttl_seconds must be an integer"],
  ])("%s is an error", async (_n, body, msg) => {
    const b = createCommandBroker({ command: script(`bad-${_n.replace(/\W/g, "")}`, body) });
    await expect(b.issue(req(), "d")).rejects.toThrow(BrokerError);
    await expect(b.issue(req(), "d")).rejects.toThrow(msg);
  });
  it("a hung command is killed at the timeout", async () => {
    const b = createCommandBroker({ command: script("hang", `setInterval(()=>{},1000)`), timeoutMs: 300 });
    await expect(b.issue(req(), "d")).rejects.toThrow("timed out");
  });
  it("a missing executable is an error", async () => {
    await expect(createCommandBroker({ command: join(dir, "nope") }).issue(req(), "d")).rejects.toThrow("cannot run command broker");
  });
  it("refuses commands with whitespace", () => {
    expect(() => createCommandBroker({ command: "/bin/sh -c x" })).toThrow("must not contain whitespace");
  });
  it("parseCommandReceipt keeps only known string fields", () => {
    const r = req({ scope: [] });
    expect(parseCommandReceipt(`{"credential_ref":"r","issuer":"i","unknown":1}`, r)).toEqual({ credential_ref: "r", issuer: "i", issued_by: "command", target_binding: r.target_binding });
    expect(() => parseCommandReceipt(`[1]`, r)).toThrow("must be a JSON object");
    expect(() => parseCommandReceipt(`{"credential_ref":"r","expires_at":"soon"}`, r)).toThrow("RFC 3339");
  });
});

describe("resolveBroker", () => {
  it("off/none/empty => no broker; stub; env; unknown => error", () => {
    expect(resolveBroker("off")).toBeUndefined();
    expect(resolveBroker(" NONE ")).toBeUndefined();
    expect(resolveBroker(undefined)).toBeUndefined();
    expect(resolveBroker("stub")).toBe(stubBroker);
    expect(resolveBroker("env", { env: {} })!.name).toBe("env");
    expect(() => resolveBroker("vault")).toThrow("unsupported credential broker: vault");
  });
  it("command needs a path, and one on the allowlist when it is set", () => {
    expect(() => resolveBroker("command", { env: {} })).toThrow("requires --credential-command");
    expect(() => resolveBroker("command", { command: "broker", env: {} })).toThrow("must be a path");
    expect(resolveBroker("command", { command: "/opt/bin/broker", env: {} })!.name).toBe("command");
    const env = { GAIT_CREDENTIAL_COMMAND_ALLOWLIST: " /usr/bin/other , broker ,," };
    expect(resolveBroker("command", { command: "/opt/bin/broker", env })!.name).toBe("command");
    expect(() => resolveBroker("command", { command: "/opt/bin/evil", env })).toThrow("not in allowlist");
  });
  it("allowlist parsing and matching", () => {
    expect(parseCommandAllowlist("a, ./b ,a,,/x/../y")).toEqual(["a", "b", "/y"]);
    expect(isCommandAllowed("/usr/local/bin/tool", ["tool"])).toBe(true);
    expect(isCommandAllowed("/usr/local/bin/tool", ["/usr/local/bin/tool"])).toBe(true);
    expect(isCommandAllowed("/usr/local/bin/tool", ["/usr/bin/tool"])).toBe(false);
  });
});
