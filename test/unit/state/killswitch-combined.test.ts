/**
 * The kill switch of a replica with shared state and a --kill-switch-state file: either source stops a call, an
 * unavailable source makes the whole state unavailable, operators change the shared store, and an entry that lives
 * only in the file cannot be changed through the operator plane (a shared copy would not lift it).
 */
import { describe, expect, it } from "vitest";
import { KILL_SWITCH_SCHEMA_ID, KILL_SWITCH_SCHEMA_VERSION } from "../../../src/engine/killswitch.js";
import type { KillSwitchEntry, KillSwitchState } from "../../../src/engine/types.js";
import { CombinedKillSwitch } from "../../../src/state/killswitch-combined.js";
import { makeEntry, type KillSwitchEntryInput } from "../../../src/state/killswitch-store.js";

const NOW = new Date("2026-12-01T00:00:00Z");
const state = (entries: KillSwitchEntry[]): KillSwitchState => ({ schema_id: KILL_SWITCH_SCHEMA_ID, schema_version: KILL_SWITCH_SCHEMA_VERSION, created_at: "2026-12-01T00:00:00Z", updated_at: "2026-12-01T00:00:00Z", entries });

class FakeShared {
  entries: KillSwitchEntry[] = [];
  unavailable = "";
  current() {
    return this.unavailable ? { unavailable: this.unavailable } : state(this.entries);
  }
  async list() {
    return [...this.entries];
  }
  async set(input: KillSwitchEntryInput, actor: string) {
    const e = makeEntry(input, actor, NOW);
    this.entries = [...this.entries.filter((x) => x.entry_id !== e.entry_id), e];
    return e;
  }
  async clear(id: string) {
    const hit = this.entries.find((x) => x.entry_id === id);
    this.entries = this.entries.filter((x) => x.entry_id !== id);
    return hit;
  }
}

function setup() {
  const shared = new FakeShared();
  const fileEntry = makeEntry({ tool_name: "tool.delete", reason: "from config management" } as KillSwitchEntryInput, "cm", NOW);
  let file: KillSwitchState | { unavailable: string } | undefined = state([fileEntry]);
  const combined = new CombinedKillSwitch(shared, { path: "/etc/gait/ks.json", current: () => file });
  return { shared, fileEntry, combined, setFile: (f: typeof file) => (file = f) };
}

describe("CombinedKillSwitch", () => {
  it("in force: the entries of both sources; unavailable when either is", async () => {
    const { shared, fileEntry, combined, setFile } = setup();
    const op = await combined.set({ tool_name: "tool.read", reason: "incident" } as KillSwitchEntryInput, "ops");
    const cur = combined.current() as KillSwitchState;
    expect(cur.entries.map((e) => e.entry_id).sort()).toEqual([op.entry_id, fileEntry.entry_id].sort());
    expect(shared.entries.map((e) => e.entry_id)).toEqual([op.entry_id]); // the change went to the shared store
    shared.unavailable = "redis down";
    expect(combined.current()).toEqual({ unavailable: "redis down" });
    shared.unavailable = "";
    setFile({ unavailable: "parse error" });
    expect(combined.current()).toEqual({ unavailable: "parse error" });
    await expect(combined.list()).rejects.toThrow("parse error"); // nothing is hidden from an operator
  });

  it("lists both; clears and re-sets shared entries; refuses to change an entry of the file alone, naming the file", async () => {
    const { shared, fileEntry, combined } = setup();
    const op = await combined.set({ tool_name: "tool.read", reason: "incident" } as KillSwitchEntryInput, "ops");
    expect((await combined.list()).map((e) => e.entry_id)).toEqual([op.entry_id, fileEntry.entry_id]);
    const err = await combined.clear(fileEntry.entry_id, "ops").catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe("KillSwitchStateError");
    expect((err as Error).message).toContain("/etc/gait/ks.json");
    // expiring it would write a shared copy that does not lift the file's entry: refused too
    await expect(combined.set({ entry_id: fileEntry.entry_id, tool_name: "tool.delete", reason: "x" } as KillSwitchEntryInput, "ops")).rejects.toThrow(/comes from the state file/);
    expect(shared.entries.map((e) => e.entry_id)).toEqual([op.entry_id]);
    expect(await combined.clear(op.entry_id, "ops")).toMatchObject({ entry_id: op.entry_id });
    expect(shared.entries).toEqual([]);
  });
});
