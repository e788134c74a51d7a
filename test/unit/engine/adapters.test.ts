import { describe, expect, it } from "vitest";
import {
  decodeToolCall,
  FALLBACK_CONTEXT_WARNING,
  normalizeClaudeCodeToolName,
  type DecodedCall,
} from "../../../src/engine/adapters.js";
import { IntentDecodeError, normalizeIntent } from "../../../src/engine/intent.js";
import { IntentError } from "../../../src/engine/types.js";

type Raw = Record<string, unknown>;
const FULL_CTX = { identity: "alice", workspace: "/repo", risk_class: "low", session_id: "s1" };

function errOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(IntentError);
    return e as Error;
  }
  throw new Error("expected an IntentError");
}
const ctx = (d: DecodedCall): Raw => d.intent.context as Raw;
const targets = (d: DecodedCall): Raw[] => d.intent.targets as Raw[];

describe("adapter selection", () => {
  it("rejects unknown adapters with the raw name", () => {
    expect(errOf(() => decodeToolCall(" Gemini ", {})).message).toBe("unsupported adapter:  Gemini ");
    expect(errOf(() => decodeToolCall("toString", {})).message).toBe("unsupported adapter: toString");
  });

  it("accepts names case-insensitively and all claude_code aliases", () => {
    const payload = { tool_name: "Read", tool_input: { file_path: "/a" } };
    for (const a of ["claude_code", "claude-code", "ClaudeCode", " CLAUDE_CODE "]) {
      const d = decodeToolCall(a, payload);
      expect(d.intent.tool_name).toBe("tool.read");
      expect(d.adapter).toBe(a.trim().toLowerCase());
    }
    expect(decodeToolCall("", { name: "t" }).adapter).toBe("mcp");
    expect(decodeToolCall("MCP", { name: "t" }).adapter).toBe("mcp");
  });

  it("accepts JSON text and UTF-8 bytes, and reports parse errors per adapter", () => {
    expect(decodeToolCall("mcp", '{"name":"tool.x"}').intent.tool_name).toBe("tool.x");
    expect(decodeToolCall("openai", new TextEncoder().encode('{"function":{"name":"f"}}')).intent.tool_name).toBe("f");
    for (const [adapter, prefix] of [
      ["mcp", "parse mcp tool call: invalid JSON"],
      ["openai", "parse openai tool call: invalid JSON"],
      ["anthropic", "parse anthropic tool call: invalid JSON"],
      ["langchain", "parse langchain tool call: invalid JSON"],
      ["claude-code", "parse claude code tool call: invalid JSON"],
    ]) {
      const e = errOf(() => decodeToolCall(adapter!, "{nope"));
      expect(e).toBeInstanceOf(IntentDecodeError);
      expect(e.message.startsWith(prefix!)).toBe(true);
    }
  });

  it("rejects a non-object payload and wrong JSON types", () => {
    expect(errOf(() => decodeToolCall("mcp", "[1]")).message).toBe("parse mcp tool call: payload must be a JSON object");
    expect(errOf(() => decodeToolCall("mcp", { name: 3 })).message).toBe("parse mcp tool call: name must be a string");
    expect(errOf(() => decodeToolCall("mcp", { name: "t", args: [] })).message).toBe("parse mcp tool call: args must be a JSON object");
    expect(errOf(() => decodeToolCall("mcp", { name: "t", targets: [{ kind: "path", value: "/x", readOnlyHint: "yes" }] })).message).toBe(
      "parse mcp tool call: targets[0].readOnlyHint must be a boolean",
    );
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { auth_context: [] } })).message).toBe(
      "parse mcp tool call: context.auth_context must be a JSON object",
    );
    expect(errOf(() => decodeToolCall("mcp", { name: "t", created_at: "yesterday" })).message).toBe(
      "parse mcp tool call: created_at must be an RFC 3339 timestamp",
    );
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { oauth_evidence: { audience: "x" } } })).message).toBe(
      "parse mcp tool call: context.oauth_evidence.audience must be an array",
    );
  });

  it("rejects an unknown profile", () => {
    expect(errOf(() => decodeToolCall("mcp", { name: "t" }, { profile: "prod" as never })).message).toContain("unsupported profile");
  });
});

describe("mcp adapter", () => {
  it("maps a full call and leaves run_id out of the intent", () => {
    const d = decodeToolCall("mcp", {
      name: " tool.write ",
      args: { path: "/repo/a", " content ": " hi " },
      targets: [{ kind: " path ", value: " /repo/a ", operation: " Write ", sensitivity: "PII", endpoint_class: "fs.delete" }],
      arg_provenance: [{ arg_path: " content ", source: " user ", source_ref: " r ", integrity_digest: ` ${"D".repeat(64)} ` }],
      server: { server_id: "srv", server_name: "Server", publisher: "acme", source: "registry", endpoint: "https://x" },
      context: {
        identity: " alice ", workspace: " /repo ", risk_class: " Low ", phase: " plan ", job_id: " j ", session_id: " s ",
        request_id: " q ", run_id: " run-1 ", credential_scopes: ["b", "a"], environment_fingerprint: " fp ",
        agent_id: "dropped", environment: "dropped",
      },
      delegation: { requester_identity: " alice ", scope_class: " Write ", token_refs: ["t1"], chain: [{ delegator_identity: " bob ", delegate_identity: " alice ", scope_class: "w", token_ref: "t1" }] },
      created_at: "2026-03-01T10:00:00+01:00",
    });
    expect(d.intent).toEqual({
      schema_id: "gait.gate.intent_request",
      schema_version: "1.0.0",
      created_at: "2026-03-01T09:00:00Z",
      producer_version: "0.0.0-dev",
      tool_name: "tool.write",
      args: { path: "/repo/a", " content ": " hi " },
      // MCP targets carry no endpoint_class: Gait's ToolCall target has no such field, the class is always inferred
      targets: [{ kind: "path", value: "/repo/a", operation: "Write", sensitivity: "PII" }],
      arg_provenance: [{ arg_path: "content", source: "user", source_ref: "r", integrity_digest: "D".repeat(64) }],
      delegation: { requester_identity: "alice", scope_class: "Write", token_refs: ["t1"], chain: [{ delegator_identity: "bob", delegate_identity: "alice", scope_class: "w", token_ref: "t1" }] },
      context: {
        identity: "alice", workspace: "/repo", risk_class: "Low", phase: "plan", job_id: "j", session_id: "s",
        request_id: "q", environment_fingerprint: "fp", credential_scopes: ["b", "a"],
      },
    });
    expect(d.runId).toBe("run-1");
    expect(d.sessionId).toBe("s");
    expect(d.jobId).toBe("j");
    expect(d.rawRiskClass).toBe("low");
    expect(d.warnings).toEqual([]);
    expect(d.server).toEqual({ server_id: "srv", server_name: "Server", publisher: "acme", source: "registry", endpoint: "https://x" });
    const n = normalizeIntent(d.intent);
    expect(n.context.run_id).toBeUndefined();
    expect(n.targets[0]).toMatchObject({ endpoint_class: "fs.write", operation: "write", sensitivity: "pii" });
    expect(n.delegation!.chain![0]!.issued_at).toBe("0001-01-01T00:00:00Z");
    expect(n.arg_provenance![0]!.integrity_digest).toBe("d".repeat(64));
  });

  it("applies the standard-profile context defaults with a warning", () => {
    const d = decodeToolCall("mcp", { name: "tool.x" });
    expect(ctx(d)).toEqual({ identity: "mcp-proxy", workspace: ".", risk_class: "high" });
    expect(d.rawRiskClass).toBe("");
    expect(d.warnings).toEqual([FALLBACK_CONTEXT_WARNING]);
    expect(d.intent.created_at).toBe("1980-01-01T00:00:00Z");
    expect(d.intent.args).toEqual({});
    expect(d.intent.targets).toEqual([]);
    // a missing session id alone triggers the warning too
    expect(decodeToolCall("mcp", { name: "t", context: { identity: "a", workspace: "w" } }).warnings).toEqual([FALLBACK_CONTEXT_WARNING]);
    expect(decodeToolCall("mcp", { name: "t", context: FULL_CTX }).warnings).toEqual([]);
  });

  it("enforces explicit context in the oss-prod profile", () => {
    const strict = { profile: "oss-prod" as const };
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { workspace: "w", session_id: "s" } }, strict)).message).toBe("context.identity is required in strict profile");
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { identity: "a", session_id: "s" } }, strict)).message).toBe("context.workspace is required in strict profile");
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { identity: "a", workspace: "w" } }, strict)).message).toBe("context.session_id is required in strict profile");
    const d = decodeToolCall("mcp", { name: "t", context: { identity: "a", workspace: "w", session_id: "s" } }, strict);
    expect(ctx(d)).toMatchObject({ identity: "a", workspace: "w", risk_class: "high" });
    expect(d.warnings).toEqual([]);
    // the non-MCP adapters carry no context: strict profile rejects them
    expect(errOf(() => decodeToolCall("openai", { function: { name: "f" } }, strict)).message).toBe("context.identity is required in strict profile");
  });

  it("requires a name unless a script is given", () => {
    expect(errOf(() => decodeToolCall("mcp", { name: "  " })).message).toBe("tool call name is required");
    expect(errOf(() => decodeToolCall("mcp", { script: { steps: [] } })).message).toBe("tool call name is required");
  });

  it("maps scripts: tool 'script', args {}, step names required", () => {
    const d = decodeToolCall("mcp", {
      name: "ignored",
      args: { a: 1 },
      script: { steps: [{ name: " tool.read ", args: { p: 1 }, targets: [{ kind: "path", value: "/a", readOnlyHint: true }], arg_provenance: [{ arg_path: "p", source: "user" }] }, { name: "tool.write" }] },
    });
    expect(d.intent.tool_name).toBe("script");
    expect(d.intent.args).toEqual({});
    expect(d.intent.script).toEqual({
      steps: [
        { tool_name: "tool.read", args: { p: 1 }, targets: [{ kind: "path", value: "/a", read_only_hint: true }], arg_provenance: [{ arg_path: "p", source: "user" }] },
        { tool_name: "tool.write", args: {}, targets: [], arg_provenance: [] },
      ],
    });
    const n = normalizeIntent(d.intent);
    expect(n.tool_name).toBe("script");
    expect(n.script_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(errOf(() => decodeToolCall("mcp", { script: { steps: [{ name: "a" }, { name: " " }] } })).message).toBe("script.steps[1].name is required");
  });

  it("infers a legacy target only when targets are empty", () => {
    const kindOf = (target: string): unknown => targets(decodeToolCall("mcp", { name: "t", target }))[0];
    expect(kindOf(" https://api.example.com/x ")).toEqual({ kind: "url", value: "https://api.example.com/x" });
    expect(kindOf("/etc/passwd")).toEqual({ kind: "path", value: "/etc/passwd" });
    expect(kindOf("db.internal")).toEqual({ kind: "host", value: "db.internal" });
    expect(targets(decodeToolCall("mcp", { name: "t", target: "  " }))).toEqual([]);
    expect(targets(decodeToolCall("mcp", { name: "t", target: "/x", targets: [{ kind: "host", value: "h" }] }))).toEqual([{ kind: "host", value: "h" }]);
  });

  it("merges hint aliases and lets annotations override them", () => {
    const [t] = targets(
      decodeToolCall("mcp", {
        name: "t",
        targets: [
          {
            kind: "path",
            value: "/x",
            readOnlyHint: true,
            destructive_hint: true,
            idempotentHint: true,
            discoveryMethod: "dynamic-mcp",
            annotations: { destructiveHint: "FALSE", openWorldHint: " true ", idempotent_hint: 1, discovery_method: "webmcp" },
          },
        ],
      }),
    );
    expect(t).toEqual({ kind: "path", value: "/x", discovery_method: "webmcp", read_only_hint: true, idempotent_hint: true, open_world_hint: true });
    const [u] = targets(decodeToolCall("mcp", { name: "t", targets: [{ kind: "path", value: "/x", discovery_method: "mcp", discoveryMethod: "a2a", annotations: { read_only_hint: "maybe", readOnlyHint: false } }] }));
    // explicit snake_case discovery wins over the alias; an unusable snake annotation falls through to camelCase
    expect(u).toEqual({ kind: "path", value: "/x", discovery_method: "mcp" });
  });

  it("copies auth_mode and oauth_evidence (Go omitempty struct) into auth_context", () => {
    const d = decodeToolCall("mcp", {
      name: "t",
      context: { ...FULL_CTX, auth_mode: " token ", auth_context: { k: "v" }, oauth_evidence: { issuer: "iss", audience: ["a"], subject: "", extra: "dropped" } },
    });
    expect(ctx(d).auth_context).toEqual({ k: "v", auth_mode: "token", oauth_evidence: { issuer: "iss", audience: ["a"] } });
  });

  it("validates auth_mode (standard profile) and OAuth evidence (oss-prod)", () => {
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { auth_mode: "basic" } })).message).toBe("context.auth_mode must be one of off|none|token|oauth|oauth_dcr");
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { auth_context: { oauth_mode: "saml" } } })).message).toBe("context.auth_mode must be one of off|none|token|oauth|oauth_dcr");
    for (const mode of ["off", "none", "token", "oauth", "OAuth_DCR"]) {
      expect(() => decodeToolCall("mcp", { name: "t", context: { auth_mode: mode } })).not.toThrow();
    }
    const strict = { profile: "oss-prod" as const };
    const c = { ...FULL_CTX };
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { ...c, auth_mode: "oauth" } }, strict)).message).toBe("oss-prod with OAuth auth mode requires context.oauth_evidence");
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { ...c, oauth_evidence: { issuer: "i" } } }, strict)).message).toBe(
      "missing OAuth evidence fields: audience, subject, client_id, token_type, scopes, redirect_uri, evidence_ref, auth_time",
    );
    const full = { issuer: "i", audience: ["a"], subject: "s", client_id: "c", token_type: "bearer", scopes: ["x"], redirect_uri: "https://r", evidence_ref: "ref:e", auth_time: "2026-01-01T00:00:00Z" };
    expect(() => decodeToolCall("mcp", { name: "t", context: { ...c, auth_mode: "oauth", oauth_evidence: full } }, strict)).not.toThrow();
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { ...c, auth_mode: "oauth_dcr", oauth_evidence: full } }, strict)).message).toBe("missing OAuth evidence fields: dcr_client_id, token_binding");
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { ...c, oauth_evidence: { ...full, auth_time: "noon" } } }, strict)).message).toBe("context.oauth_evidence.auth_time must be RFC3339");
    // evidence may also come from auth_context.oauth_evidence
    expect(() => decodeToolCall("mcp", { name: "t", context: { ...c, auth_mode: "oauth", auth_context: { oauth_evidence: full } } }, strict)).not.toThrow();
    // an undecodable auth_context copy counts as missing
    expect(errOf(() => decodeToolCall("mcp", { name: "t", context: { ...c, auth_mode: "oauth", auth_context: { oauth_evidence: "x" } } }, strict)).message).toBe("oss-prod with OAuth auth mode requires context.oauth_evidence");
  });

  it("produces the same digest as the equivalent hand-written intent", () => {
    const call = { name: "tool.write", args: { path: "/r/a" }, targets: [{ kind: "path", value: "/r/a", operation: "write" }], context: FULL_CTX };
    const viaAdapter = normalizeIntent(decodeToolCall("mcp", call).intent);
    const direct = normalizeIntent({ tool_name: "tool.write", args: { path: "/r/a" }, targets: call.targets, context: FULL_CTX });
    expect(viaAdapter.intent_digest).toBe(direct.intent_digest);
  });
});

describe("openai adapter", () => {
  const call = (fn: unknown): DecodedCall => decodeToolCall("openai", { type: "function", id: "call_1", function: fn });
  it("parses string arguments, objects, blanks and null", () => {
    expect(call({ name: "get_weather", arguments: '{"city":"Paris"}' }).intent.args).toEqual({ city: "Paris" });
    expect(call({ name: "f", arguments: { a: 1 } }).intent.args).toEqual({ a: 1 });
    expect(call({ name: "f", arguments: "  " }).intent.args).toEqual({});
    expect(call({ name: "f", arguments: "null" }).intent.args).toEqual({});
    expect(call({ name: "f", arguments: null }).intent.args).toEqual({});
    expect(call({ name: "f" }).intent).toMatchObject({ tool_name: "f", targets: [], context: { identity: "mcp-proxy", workspace: ".", risk_class: "high" } });
    expect(call({ name: "f" }).warnings).toEqual([FALLBACK_CONTEXT_WARNING]);
  });
  it("rejects non-object arguments", () => {
    expect(errOf(() => call({ name: "f", arguments: "[1,2]" })).message).toBe("decode openai arguments: arguments must be a JSON object, got an array");
    expect(errOf(() => call({ name: "f", arguments: 5 })).message).toBe("decode openai arguments: arguments must be a JSON object, got a number");
    expect(errOf(() => call({ name: "f", arguments: "{bad" })).message.startsWith("decode openai arguments: invalid JSON")).toBe(true);
    expect(errOf(() => call({ name: 1 })).message).toBe("parse openai tool call: function.name must be a string");
  });
  it("requires a function name", () => {
    expect(errOf(() => call({ arguments: "{}" })).message).toBe("tool call name is required");
    expect(errOf(() => decodeToolCall("openai", {})).message).toBe("tool call name is required");
  });
});

describe("anthropic adapter", () => {
  it("maps name and input", () => {
    const d = decodeToolCall("anthropic", { type: "tool_use", id: "toolu_1", name: "search", input: { q: "x" } });
    expect(d.intent).toMatchObject({ tool_name: "search", args: { q: "x" } });
    expect(decodeToolCall("anthropic", { name: "s" }).intent.args).toEqual({});
  });
  it("rejects a non-object input", () => {
    expect(errOf(() => decodeToolCall("anthropic", { name: "s", input: "x" })).message).toBe("parse anthropic tool call: input must be a JSON object");
    expect(errOf(() => decodeToolCall("anthropic", { input: {} })).message).toBe("tool call name is required");
  });
});

describe("langchain adapter", () => {
  it("accepts object, JSON string and null tool_input", () => {
    expect(decodeToolCall("langchain", { tool: "calc", tool_input: { n: 1 } }).intent).toMatchObject({ tool_name: "calc", args: { n: 1 } });
    expect(decodeToolCall("langchain", { tool: "calc", tool_input: '{"n":2}' }).intent.args).toEqual({ n: 2 });
    expect(decodeToolCall("langchain", { tool: "calc", tool_input: null }).intent.args).toEqual({});
    expect(decodeToolCall("langchain", { tool: "calc", tool_input: "" }).intent.args).toEqual({});
  });
  it("rejects non-object tool_input", () => {
    expect(errOf(() => decodeToolCall("langchain", { tool: "calc", tool_input: "plain text" })).message.startsWith("decode langchain tool_input: invalid JSON")).toBe(true);
    expect(errOf(() => decodeToolCall("langchain", { tool: "calc", tool_input: [1] })).message).toBe("decode langchain tool_input: arguments must be a JSON object, got an array");
    expect(errOf(() => decodeToolCall("langchain", { tool: "calc", tool_input: true })).message).toBe("decode langchain tool_input: arguments must be a JSON object, got a boolean");
  });
});

describe("claude_code adapter", () => {
  it.each([
    ["Read", "tool.read"],
    ["grep", "tool.read"],
    ["Glob", "tool.read"],
    ["WebFetch", "tool.read"],
    ["web_search", "tool.read"],
    ["Web-Search", "tool.read"],
    ["Write", "tool.write"],
    ["Edit", "tool.write"],
    ["Notebook Edit", "tool.write"],
    ["BASH", "tool.exec"],
    ["Task", "tool.delegate"],
    ["mcp.Server.Tool", "mcp.server.tool"],
    ["My Tool-Name", "tool.my_tool_name"],
    ["TodoWrite", "tool.todowrite"],
    ["  ", ""],
  ])("maps %s to %s", (raw, mapped) => {
    expect(normalizeClaudeCodeToolName(raw)).toBe(mapped);
  });

  it("prefers tool_name/tool_input over name/input and copies session and hook", () => {
    const d = decodeToolCall("claude_code", {
      session_id: " sess ",
      hook_event_name: " PreToolUse ",
      tool_name: "Read",
      name: "Bash",
      tool_input: { file_path: " /repo/a ", url: "https://docs.example.com" },
      input: { command: "rm -rf /" },
    });
    expect(d.intent.tool_name).toBe("tool.read");
    expect(d.sessionId).toBe("sess");
    expect(ctx(d)).toMatchObject({ session_id: "sess", auth_context: { hook_event_name: "PreToolUse", adapter: "claude_code" } });
    expect(targets(d)).toEqual([
      { kind: "path", value: "/repo/a", operation: "read" },
      { kind: "url", value: "https://docs.example.com", operation: "read" },
    ]);
    const fallback = decodeToolCall("claude_code", { name: "Bash", input: { command: "ls" } });
    expect(fallback.intent.tool_name).toBe("tool.exec");
    expect(targets(fallback)).toEqual([{ kind: "other", value: "ls", operation: "execute" }]);
  });

  it("infers write/exec/delegate targets with Gait's key precedence", () => {
    expect(targets(decodeToolCall("claude_code", { tool_name: "Edit", tool_input: { filepath: "/b", file: "/c" } }))).toEqual([{ kind: "path", value: "/b", operation: "write" }]);
    expect(targets(decodeToolCall("claude_code", { tool_name: "Bash", tool_input: { cmd: " ", script: "make" } }))).toEqual([{ kind: "other", value: "make", operation: "execute" }]);
    expect(targets(decodeToolCall("claude_code", { tool_name: "Task", tool_input: { description: "d", prompt: "p" } }))).toEqual([{ kind: "other", value: "p", operation: "delegate" }]);
    expect(targets(decodeToolCall("claude_code", { tool_name: "TodoWrite", tool_input: { path: "/x" } }))).toEqual([]);
    expect(targets(decodeToolCall("claude_code", { tool_name: "Read", tool_input: { path: 5 } }))).toEqual([]);
  });

  it("normalizes to proc.exec (destructive) for Bash and 'other' for Task", () => {
    const exec = normalizeIntent(decodeToolCall("claude_code", { tool_name: "Bash", tool_input: '{"command":"ls"}' }).intent);
    expect(exec.targets[0]).toMatchObject({ kind: "other", endpoint_class: "proc.exec", destructive: true, operation: "execute" });
    const task = normalizeIntent(decodeToolCall("claude_code", { tool_name: "Task", tool_input: { task: "t" } }).intent);
    expect(task.targets[0]).toMatchObject({ endpoint_class: "other" });
    expect(task.targets[0]!.destructive).toBeUndefined();
  });

  it("errors on a missing name or bad input", () => {
    expect(errOf(() => decodeToolCall("claude_code", { tool_input: {} })).message).toBe("claude code tool call name is required");
    expect(errOf(() => decodeToolCall("claude_code", { tool_name: "Read", tool_input: 3 })).message).toBe("decode claude code tool_input: arguments must be a JSON object, got a number");
    expect(errOf(() => decodeToolCall("claude_code", { tool_name: 1 })).message).toBe("parse claude code tool call: tool_name must be a string");
  });
});
