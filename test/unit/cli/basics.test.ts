import { describe, expect, it } from "vitest";
import { POLICY, intent, run, tempDir, write } from "./helpers.js";

const COMMANDS = [
  ["gate", "eval"],
  ["policy", "validate"],
  ["policy", "test"],
  ["policy", "digest"],
  ["policy", "init"],
  ["mcp", "proxy"],
  ["mcp", "bridge"],
  ["approve"],
  ["keys", "init"],
  ["keys", "rotate"],
  ["keys", "verify"],
  ["trace", "verify"],
  ["verify"],
];

describe("help", () => {
  it("top-level help lists every command", async () => {
    const dir = tempDir();
    for (const argv of [[], ["--help"], ["help"], ["-h"]]) {
      const r = await run(dir, argv);
      expect(r.code).toBe(0);
      for (const c of COMMANDS) expect(r.stdout).toContain(c.join(" "));
      expect(r.stdout).toContain("mcp serve");
    }
  });

  it("every command has a --help that shows its usage and exits 0", async () => {
    const dir = tempDir();
    for (const c of COMMANDS) {
      for (const h of ["--help", "-h", "-help"]) {
        const r = await run(dir, [...c, h]);
        expect(r.code, `${c.join(" ")} ${h}`).toBe(0);
        expect(r.stdout).toContain(`gait ${c.join(" ")}`);
        expect(r.stdout).toContain("--help");
      }
      const viaHelp = await run(dir, ["help", ...c]);
      expect(viaHelp.code).toBe(0);
      expect(viaHelp.stdout).toContain("Flags:");
    }
  });

  it("the help of gate eval lists exactly its working flags", async () => {
    const r = await run(tempDir(), ["gate", "eval", "--help"]);
    for (const f of ["--policy", "--intent", "--approval-token", "--rate-limit-state", "--credential-broker", "--policy-digest", "--key-mode", "--json"]) {
      expect(r.stdout).toContain(f);
    }
    for (const f of ["--explain", "--wrkr-inventory", "--context-envelope", "--config"]) expect(r.stdout).not.toContain(f);
  });

  it("unknown commands and subcommands are usage errors (exit 6)", async () => {
    const dir = tempDir();
    const r = await run(dir, ["frobnicate"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
    const sub = await run(dir, ["keys", "frob", "--json"]);
    expect(sub.code).toBe(6);
    expect(sub.json).toMatchObject({ ok: false, error_code: "invalid_input", error_category: "invalid_input", retryable: false });
    expect((await run(dir, ["keys"])).code).toBe(6);
  });
});

describe("flag parsing", () => {
  it("an unknown flag names the flag and the command; --json gives the error envelope", async () => {
    const dir = tempDir();
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--bogus", "1"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("unknown flag --bogus for 'gait gate eval'");
    expect(r.stdout).toBe("");
    const j = await run(dir, ["gate", "eval", "--bogus", "--json"]);
    expect(j.code).toBe(6);
    expect(j.json).toMatchObject({
      ok: false,
      error: "unknown flag --bogus for 'gait gate eval'",
      error_code: "invalid_input",
      error_category: "invalid_input",
      retryable: false,
    });
    expect(j.json.hint).toContain("--help");
    expect(j.json.correlation_id).toMatch(/^[0-9a-f]{24}$/);
    expect(j.json).not.toHaveProperty("verdict");
  });

  it("a flag without its value is a usage error", async () => {
    const r = await run(tempDir(), ["gate", "eval", "--policy"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("flag --policy needs a value");
  });

  it("accepts Go-style -flag, --flag=value, --bool=true/false and flags after positionals", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "i.json", intent("tool.read", "read"));
    const a = await run(dir, ["policy", "test", "-json", "p.yaml", "i.json"]);
    expect(a.code).toBe(0);
    expect(a.json.verdict).toBe("allow");
    const b = await run(dir, ["policy", "test", "p.yaml", "i.json", "--json=true"]);
    expect(b.json.verdict).toBe("allow");
    const c = await run(dir, ["policy", "test", "p.yaml", "i.json", "--json=false"]);
    expect(c.stdout).toMatch(/^policy test verdict=allow reasons=/); // Gait prints the summary line only
    const d = await run(dir, ["gate", "eval", "-policy=p.yaml", "--intent=i.json", "-json"]);
    expect(d.code).toBe(0);
    expect(d.json.verdict).toBe("allow");
  });

  it("wrong positional counts are usage errors", async () => {
    const dir = tempDir();
    expect((await run(dir, ["policy", "validate"])).code).toBe(6);
    expect((await run(dir, ["policy", "test", "only-one.yaml"])).code).toBe(6);
    const r = await run(dir, ["gate", "eval", "extra"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("takes no positional arguments");
  });

  it("enumerated flags reject unknown values", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "i.json", intent("tool.read", "read"));
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--profile", "lax", "--json"]);
    expect(r.code).toBe(6);
    expect(r.json.error).toContain("unsupported --profile value");
    const k = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--key-mode", "test"]);
    expect(k.code).toBe(6);
  });
});

describe("bad inputs never produce a verdict", () => {
  it("missing files", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    const r = await run(dir, ["gate", "eval", "--policy", "nope.yaml", "--intent", "i.json", "--json"]);
    expect(r.code).toBe(6);
    expect(r.json.error).toBe("read policy nope.yaml: file not found");
    expect(r.json).not.toHaveProperty("verdict");
    const i = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "missing.json"]);
    expect(i.code).toBe(6);
    expect(i.stderr).toContain("read intent missing.json: file not found");
    expect(i.stdout).toBe("");
  });

  it("bad JSON", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "i.json", "{ not json");
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json"]);
    expect(r.code).toBe(6);
    expect(r.json.error).toMatch(/^parse intent i.json: invalid JSON/);
    expect(r.json).not.toHaveProperty("verdict");
  });

  it("bad YAML and invalid policies", async () => {
    const dir = tempDir();
    write(dir, "bad.yaml", "rules: [unterminated\n  - :");
    write(dir, "unknown.yaml", "default_verdict: allow\nbogus_key: 1\n");
    write(dir, "i.json", intent("tool.read", "read"));
    for (const p of ["bad.yaml", "unknown.yaml"]) {
      const r = await run(dir, ["gate", "eval", "--policy", p, "--intent", "i.json", "--json"]);
      expect(r.code, p).toBe(6);
      expect(r.json.error).toContain(`policy ${p}:`);
      expect(r.json).not.toHaveProperty("verdict");
      const v = await run(dir, ["policy", "validate", p]);
      expect(v.code).toBe(6);
      expect(v.stderr).toContain(`policy ${p}:`);
    }
  });

  it("an invalid intent is an input error (exit 6)", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "i.json", { tool_name: "", args: {}, targets: [], context: { identity: "a", workspace: "/", risk_class: "low" } });
    const r = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json"]);
    expect(r.code).toBe(6);
    expect(r.json.error).toContain("tool_name is required");
  });

  it("a policy digest pin that does not match refuses to run", async () => {
    const dir = tempDir();
    write(dir, "p.yaml", POLICY);
    write(dir, "i.json", intent("tool.read", "read"));
    const ok = await run(dir, ["policy", "validate", "p.yaml", "--json"]);
    const digest = ok.json.policy_digest as string;
    const pinned = await run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--policy-digest", `sha256:${digest}`, "--json"]);
    expect(pinned.code).toBe(0);
    const wrong = "0".repeat(64);
    for (const cmd of [
      ["gate", "eval", "--policy", "p.yaml", "--intent", "i.json"],
      ["policy", "test", "p.yaml", "i.json"],
      ["mcp", "proxy", "--policy", "p.yaml", "--call", "i.json"],
    ]) {
      const r = await run(dir, [...cmd, "--policy-digest", `sha256:${wrong}`, "--json"]);
      expect(r.code, cmd.join(" ")).toBe(6);
      expect(r.json.error).toContain("policy digest mismatch");
      expect(r.json).not.toHaveProperty("verdict");
    }
    const malformed = await run(dir, ["policy", "test", "p.yaml", "i.json", "--policy-digest", "sha256:xyz"]);
    expect(malformed.code).toBe(6);
  });

  it("mcp serve is routed to the service module (clear error when it is absent)", async () => {
    const r = await run(tempDir(), ["help", "mcp"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("mcp serve");
  });
});
