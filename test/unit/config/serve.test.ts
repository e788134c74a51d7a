import { describe, expect, it } from "vitest";
import { ConfigError, parseServeArgs, printableConfig } from "../../../src/config/serve.js";

const cfgOf = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = parseServeArgs(argv, env, "/srv");
  if (r.help) throw new Error("help");
  return r.config;
};
const errOf = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  try {
    parseServeArgs(argv, env, "/srv");
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("gait mcp serve flags", () => {
  it("applies the documented defaults", () => {
    const c = cfgOf(["--policy", "p.yaml"]);
    expect(c.policyPath).toBe("/srv/p.yaml");
    expect(c.stateDir).toBe("/srv/gait-out/serve");
    // the socket rule (infra/socket-path.ts): never relative to the working directory
    expect(c.listen).toEqual({ kind: "unix", path: `/tmp/gait-${process.getuid!()}/gate.sock` });
    expect(cfgOf(["--policy", "p.yaml"], { XDG_RUNTIME_DIR: "/run/user/7" }).listen).toEqual({ kind: "unix", path: "/run/user/7/gait/gate.sock" });
    expect(cfgOf(["--policy", "p.yaml"], { GAIT_SOCKET: "/run/x.sock" }).listen).toEqual({ kind: "unix", path: "/run/x.sock" });
    expect(c.traceDir).toBe("/srv/gait-out/serve/traces");
    expect(c.socketMode).toBe(0o600);
    expect(c.keyMode).toBe("dev");
    expect(c.maxRequestBytes).toBe(1 << 20);
    expect(c.httpVerdictStatus).toBe("compat");
    expect(c.approvalReuse).toBe(false);
    expect(c.approvalRequestTtlMs).toBe(3_600_000);
  });

  it("accepts the policy as a positional argument and unix:/ forms", () => {
    expect(cfgOf(["p.yaml", "--listen", "unix:/tmp/a.sock"]).listen).toEqual({ kind: "unix", path: "/tmp/a.sock" });
    expect(cfgOf(["p.yaml", "--listen", "unix:///tmp/a.sock"]).listen).toEqual({ kind: "unix", path: "/tmp/a.sock" });
  });

  it("reads the bearer token once from the named env var", () => {
    const c = cfgOf(["p.yaml", "--listen", "127.0.0.1:9000", "--auth-mode", "token", "--auth-token-env", "T"], { T: " tok " });
    expect(c.listen).toEqual({ kind: "tcp", host: "127.0.0.1", port: 9000 });
    expect(c.authToken).toBe("tok");
  });

  it("refuses unsafe or inconsistent settings, all reported at once", () => {
    const m = errOf(["--listen", "127.0.0.1:9000", "--socket-mode", "0666", "--key-mode", "dev", "--private-key", "k"]);
    expect(m).toContain("--policy is required");
    expect(m).toContain("requires --auth-mode token");
    expect(m).toContain("refusing a socket open to all users");
    expect(m).toContain("dev mode does not accept explicit key sources");
  });

  it("refuses bad values with the fix in the message", () => {
    expect(errOf(["p", "--listen", "unix://relative.sock"])).toContain("must be absolute");
    expect(errOf(["p", "--listen", `unix:///${"x".repeat(120)}`])).toContain("socket path too long");
    expect(errOf(["p", "--policy-digest", "abc"])).toContain("expected sha256:<64 hex>");
    expect(errOf(["p", "--auth-mode", "token", "--auth-token-env", "NOPE"])).toContain("empty or unset");
    expect(errOf(["p", "--http-listen", "0.0.0.0:80"])).toContain("not loopback");
    expect(errOf(["p", "--trace-max-age", "soon"])).toContain("invalid duration");
    expect(errOf(["p", "--state", "memcached://x"])).toContain("unsupported store");
    expect(errOf(["p", "--state", "redis://x/abc"])).toContain("must be a number");
    expect(errOf(["p", "--state", "unix://relative.sock"])).toContain("absolute path");
    expect(errOf(["p", "--state", "redis://x", "--state-prefix", "a b"])).toContain("--state-prefix");
    expect(errOf(["p", "--local-dir", "/tmp/x"])).toContain("only meaningful with a shared --state");
    expect(errOf(["p", "--operator-listen", `unix:///tmp/gait-${process.getuid!()}/gate.sock`])).toContain("must differ");
    expect(errOf(["p", "--profile", "oss-prod"])).toContain("requires --key-mode prod");
    expect(errOf(["p", "--bogus"])).toContain("bogus");
  });

  it("takes a shared --state: the address, a local directory for keys and traces, the replica id; no password printed", () => {
    const p = parseServeArgs(["p", "--state", "redis://u:s3cret@cache:6380/2", "--local-dir", "/srv/gait", "--replica-id", "pod-7"], {}, "/w");
    if (p.help) throw new Error("unexpected help");
    expect(p.config.sharedState).toMatchObject({ address: { kind: "tcp", host: "cache", port: 6380, db: 2, password: "s3cret" }, prefix: "gait:", timeoutMs: 500 });
    expect(p.config.stateDir).toBe("/srv/gait");
    expect(p.config.traceDir).toBe("/srv/gait/traces");
    expect(p.config.replicaId).toBe("pod-7");
    const printed = JSON.stringify(printableConfig(p));
    expect(printed).not.toContain("s3cret");
    expect(printed).toContain("redis://cache:6380/2");
    const env = parseServeArgs(["p"], { GAIT_STATE: "unix:///run/redis.sock?db=1" }, "/w");
    if (env.help) throw new Error("unexpected help");
    expect(env.config.sharedState?.address).toMatchObject({ kind: "unix", path: "/run/redis.sock", db: 1 });
    expect(env.config.stateDir).toBe("/w/gait-out/serve");
  });

  it("normalizes a pinned digest", () => {
    const d = "A".repeat(64);
    expect(cfgOf(["p", "--policy-digest", `sha256:${d}`]).policyDigestPin).toBe(d.toLowerCase());
  });

  it("answers --help without validating", () => {
    expect(parseServeArgs(["--help"], {}, "/").help).toBe(true);
  });
});
