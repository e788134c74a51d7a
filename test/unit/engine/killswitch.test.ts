import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../../src/engine/canon.js";
import { normalizeIntent } from "../../../src/engine/intent.js";
import { killSwitchEntryId, KillSwitchStateError, matchKillSwitch, parseKillSwitchState } from "../../../src/engine/killswitch.js";
import { PolicyError } from "../../../src/engine/types.js";

const T0 = "2026-01-01T00:00:00Z";
const NOW = new Date("2026-03-10T14:30:00Z");

function state(entries: Record<string, unknown>[], over: Record<string, unknown> = {}) {
  return { schema_id: "gait.gate.kill_switch_state", schema_version: "1.0.0", created_at: T0, updated_at: T0, entries, ...over };
}
const entry = (e: Record<string, unknown>) => ({ enabled: true, created_at: T0, ...e });

const intent = normalizeIntent({
  tool_name: "tool.write",
  args: {},
  targets: [
    { kind: "path", value: "/srv/data/../app/config.yaml", operation: "write" },
    { kind: "url", value: "https://api.example.com/v1" },
  ],
  context: { identity: "alice", workspace: "/repo/gait", risk_class: "high", agent_id: "agent-7", environment: "Prod" },
});

describe("parseKillSwitchState", () => {
  it("normalizes entries: trim, lowercase selectors, clean prefixes, sort by entry_id", () => {
    const s = parseKillSwitchState(
      state([
        entry({ entry_id: "b", tool_name: " Tool.Write ", target_kind: "PATH", environment: "PROD", identity: " alice " }),
        entry({ entry_id: "a", path_prefixes: ["/srv//app/", "/srv/app", " ", "/x/./y/.."], workspace_prefixes: ["/repo/"] }),
      ]),
    );
    expect(s.entries.map((e) => e.entry_id)).toEqual(["a", "b"]);
    expect(s.entries[0]).toMatchObject({ path_prefixes: ["/srv/app", "/x"], workspace_prefixes: ["/repo"] });
    expect(s.entries[1]).toMatchObject({ tool_name: "tool.write", target_kind: "path", environment: "prod", identity: "alice", enabled: true, created_at: T0 });
  });

  it("derives a deterministic default entry_id (12 bytes of sha256 over selectors, reason, created_at)", () => {
    const s = parseKillSwitchState(state([entry({ tool_name: "tool.write", reason: "incident 42", created_at: "2026-01-01T00:00:00.500+00:00" })]));
    const id = s.entries[0]!.entry_id;
    expect(id).toMatch(/^[0-9a-f]{24}$/);
    expect(id).toBe(sha256Hex(["", "", "tool.write", "", "", "", "", "", "incident 42", "2026-01-01T00:00:00.5Z"].join("\u0000")).slice(0, 24));
    expect(killSwitchEntryId(s.entries[0]!)).toBe(id);
    expect(parseKillSwitchState(state([entry({ tool_name: "tool.write", reason: "incident 42", created_at: "2026-01-01T00:00:00.5Z" })])).entries[0]!.entry_id).toBe(id);
  });

  it("defaults schema id/version and treats missing entries as none", () => {
    const s = parseKillSwitchState({ created_at: T0, updated_at: T0 });
    expect(s).toEqual({ schema_id: "gait.gate.kill_switch_state", schema_version: "1.0.0", created_at: T0, updated_at: T0, entries: [] });
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ["not an object", [], /must be a JSON object/],
    ["wrong schema", state([], { schema_id: "x" }), /schema_id must be gait.gate.kill_switch_state/],
    ["wrong version", state([], { schema_version: "2.0.0" }), /schema_version must be 1.0.0/],
    ["missing created_at", state([], { created_at: undefined }), /state created_at is required/],
    ["missing updated_at", state([], { updated_at: "" }), /state updated_at is required/],
    ["entries not a list", state([], { entries: {} }), /entries must be a list/],
    ["entry without selector", state([entry({ entry_id: "only-id", reason: "x" })]), /requires at least one scope selector/],
    ["entry without created_at", state([{ enabled: true, tool_name: "t" }]), /entries\[0\] created_at is required/],
    ["bad target kind", state([entry({ target_kind: "planet" })]), /target_kind is unsupported: planet/],
    ["bad expires_at", state([entry({ tool_name: "t", expires_at: "tomorrow" })]), /expires_at must be an RFC 3339 timestamp/],
    ["bad enabled type", state([entry({ tool_name: "t", enabled: "yes" })]), /enabled must be a boolean/],
    ["bad prefix list", state([entry({ path_prefixes: "/srv" })]), /path_prefixes must be a list of strings/],
    ["bad selector type", state([entry({ identity: 7 })]), /identity must be a string/],
  ];
  for (const [label, doc, message] of bad) {
    it(`rejects: ${label}`, () => {
      expect(() => parseKillSwitchState(doc)).toThrow(KillSwitchStateError);
      expect(() => parseKillSwitchState(doc)).toThrow(PolicyError);
      expect(() => parseKillSwitchState(doc)).toThrow(message);
    });
  }
});

describe("matchKillSwitch", () => {
  const match = (e: Record<string, unknown>, now = NOW) => matchKillSwitch(parseKillSwitchState(state([entry({ entry_id: "e1", ...e })])), intent, now);

  const selectors: Array<[string, Record<string, unknown>, Record<string, unknown>, string]> = [
    ["agent_id", { agent_id: "agent-7" }, { agent_id: "agent-8" }, "kill_switch_agent_id_active"],
    ["identity (case-sensitive)", { identity: "alice" }, { identity: "Alice" }, "kill_switch_identity_active"],
    ["tool_name", { tool_name: "TOOL.WRITE" }, { tool_name: "tool.read" }, "kill_switch_tool_name_active"],
    ["environment (lowercased)", { environment: "prod" }, { environment: "staging" }, "kill_switch_environment_active"],
    ["target kind", { target_kind: "url" }, { target_kind: "bucket" }, "kill_switch_target_active"],
    ["target kind+value on one target", { target_kind: "url", target_value: "https://api.example.com/v1" }, { target_kind: "path", target_value: "https://api.example.com/v1" }, "kill_switch_target_active"],
    ["path prefix (cleaned path)", { path_prefixes: ["/srv/app"] }, { path_prefixes: ["/srv/ap"] }, "kill_switch_path_active"],
    ["path prefix equal to the path", { path_prefixes: ["/srv/app/config.yaml"] }, { path_prefixes: ["/srv/data"] }, "kill_switch_path_active"],
    ["workspace prefix", { workspace_prefixes: ["/repo"] }, { workspace_prefixes: ["/rep"] }, "kill_switch_workspace_active"],
  ];
  for (const [label, hit, miss, code] of selectors) {
    it(`selector ${label}`, () => {
      const d = match(hit);
      expect(d.status).toBe("active");
      expect(d.reason_codes).toEqual(["kill_switch_active", code].sort());
      expect(d.reason_code).toBe(code);
      expect(d.matched_entry_ids).toEqual(["e1"]);
      expect(d.evaluated_at).toBe("2026-03-10T14:30:00Z");
      expect(match(miss)).toEqual({ status: "inactive", evaluated_at: "2026-03-10T14:30:00Z" });
    });
  }

  it("requires every set selector to match (AND) and reports each", () => {
    const d = match({ identity: "alice", tool_name: "tool.write", environment: "prod" });
    expect(d.reason_codes).toEqual(["kill_switch_active", "kill_switch_environment_active", "kill_switch_identity_active", "kill_switch_tool_name_active"]);
    expect(d.reason_code).toBe("kill_switch_environment_active");
    expect(match({ identity: "alice", tool_name: "tool.read" }).status).toBe("inactive");
  });

  it("ignores disabled and expired entries; expiry is exclusive at evaluation time", () => {
    expect(match({ identity: "alice", enabled: false }).status).toBe("inactive");
    expect(match({ identity: "alice", expires_at: "2026-03-10T14:30:00Z" }).status).toBe("inactive");
    expect(match({ identity: "alice", expires_at: "2026-03-10T14:30:00.000000001Z" }).status).toBe("active");
    expect(match({ identity: "alice", expires_at: "2026-03-10T14:30:00Z" }, new Date("2026-03-10T14:29:59.999Z")).status).toBe("active");
  });

  it("prefixes match on path-segment boundaries; a (hand-built) prefix ending in / is a plain string prefix", () => {
    expect(match({ workspace_prefixes: ["/repo/ga"] }).status).toBe("inactive");
    const s = parseKillSwitchState(state([entry({ entry_id: "w", workspace_prefixes: ["/repo/"] })]));
    expect(s.entries[0]!.workspace_prefixes).toEqual(["/repo"]); // cleaned on parse, like Gait
    expect(matchKillSwitch(s, intent, NOW).status).toBe("active");
    const handBuilt = { schema_id: "gait.gate.kill_switch_state", schema_version: "1.0.0", entries: [{ entry_id: "h", enabled: true, workspace_prefixes: ["/repo/ga/"] }] };
    expect(matchKillSwitch(handBuilt, intent, NOW).status).toBe("inactive");
    handBuilt.entries[0]!.workspace_prefixes = ["/repo/"];
    expect(matchKillSwitch(handBuilt, intent, NOW).status).toBe("active");
  });

  it("merges several matching entries", () => {
    const s = parseKillSwitchState(state([entry({ entry_id: "z", identity: "alice" }), entry({ entry_id: "a", agent_id: "agent-7" }), entry({ entry_id: "m", identity: "bob" })]));
    const d = matchKillSwitch(s, intent, NOW);
    expect(d.matched_entry_ids).toEqual(["a", "z"]);
    expect(d.reason_codes).toEqual(["kill_switch_active", "kill_switch_agent_id_active", "kill_switch_identity_active"]);
  });
});
