/**
 * The kill-switch store contract, run against the file store (a shared store runs the same cases): set, list,
 * clear, the state the decision path reads, Gait's file format, and failing closed on a broken file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { matchKillSwitch, parseKillSwitchState } from "../../../src/engine/killswitch.js";
import { normalizeIntent } from "../../../src/engine/intent.js";
import type { KillSwitchState } from "../../../src/engine/types.js";
import { FileKillSwitchStore, type KillSwitchStore } from "../../../src/state/killswitch-store.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const NOW = new Date("2026-01-15T12:00:00Z");
const intent = (tool: string) => normalizeIntent({ tool_name: tool, args: {}, targets: [], context: { identity: "agent-1", workspace: "/w", risk_class: "low" } });

/** The contract every KillSwitchStore implementation passes. */
export function killSwitchContract(name: string, make: () => Promise<{ store: KillSwitchStore; path?: string }>): void {
  describe(`KillSwitchStore contract: ${name}`, () => {
    it("starts empty, set adds an enabled entry that blocks matching calls, clear removes it", async () => {
      const { store } = await make();
      await store.refresh();
      expect(await store.list()).toEqual([]);
      const e = await store.set({ tool_name: "Tool.Exec", reason: "incident 7" }, "ops@example.com");
      expect(e).toMatchObject({ enabled: true, tool_name: "tool.exec", reason: "incident 7", actor: "ops@example.com", created_at: "2026-01-15T12:00:00Z" });
      expect(e.entry_id).toMatch(/^[0-9a-f]{24}$/);
      const cur = store.current() as KillSwitchState;
      expect(matchKillSwitch(cur, intent("tool.exec"), NOW).status).toBe("active");
      expect(matchKillSwitch(cur, intent("tool.read"), NOW).status).toBe("inactive");
      expect((await store.list()).map((x) => x.entry_id)).toEqual([e.entry_id]);
      expect(await store.clear(e.entry_id, "ops@example.com")).toMatchObject({ entry_id: e.entry_id });
      expect(await store.clear(e.entry_id, "ops@example.com")).toBeUndefined();
      expect(matchKillSwitch(store.current() as KillSwitchState, intent("tool.exec"), NOW).status).toBe("inactive");
      await store.close();
    });

    it("refuses an entry without a selector, with the engine's message, and changes nothing", async () => {
      const { store } = await make();
      await expect(store.set({ reason: "everything" }, "ops")).rejects.toThrow(/at least one scope selector/);
      expect(await store.list()).toEqual([]);
      await store.close();
    });

    it("an entry with an expiry stops matching after it", async () => {
      const { store } = await make();
      await store.set({ tool_name: "tool.exec", expires_at: "2026-01-15T12:30:00Z" }, "ops");
      const cur = store.current() as KillSwitchState;
      expect(matchKillSwitch(cur, intent("tool.exec"), NOW).status).toBe("active");
      expect(matchKillSwitch(cur, intent("tool.exec"), new Date("2026-01-15T13:00:00Z")).status).toBe("inactive");
      await store.close();
    });

    it("concurrent sets all land", async () => {
      const { store } = await make();
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.set({ tool_name: `tool.t${i}` }, "ops")));
      expect((await store.list()).length).toBe(20);
      await store.close();
    });
  });
}

function fileStore(): Promise<{ store: KillSwitchStore; path: string }> {
  const d = mkdtempSync(join(tmpdir(), "gait-ks-"));
  dirs.push(d);
  const path = join(d, "ks.json");
  return Promise.resolve({ store: new FileKillSwitchStore(path, () => NOW), path });
}

killSwitchContract("file", fileStore);

describe("FileKillSwitchStore", () => {
  it("writes Gait's state file format, readable by the engine's parser", async () => {
    const { store, path } = await fileStore();
    const e = await store.set({ identity: "agent-9", reason: "compromised" }, "ops");
    const doc = JSON.parse(readFileSync(path, "utf8"));
    expect(doc).toMatchObject({ schema_id: "gait.gate.kill_switch_state", schema_version: "1.0.0", updated_at: "2026-01-15T12:00:00Z" });
    expect(parseKillSwitchState(doc).entries[0]).toEqual(e);
  });

  it("a broken state file is unavailable (the gate blocks what requires it) and is never overwritten", async () => {
    const { store, path } = await fileStore();
    writeFileSync(path, "{ not json");
    await store.refresh();
    expect(store.current()).toMatchObject({ unavailable: expect.stringMatching(/kill switch state/) });
    await expect(store.set({ tool_name: "tool.x" }, "ops")).rejects.toThrow(/not overwritten/);
    expect(readFileSync(path, "utf8")).toBe("{ not json");
  });

  it("sees a file rewritten by another process on refresh", async () => {
    const { store, path } = await fileStore();
    await store.refresh();
    const other = new FileKillSwitchStore(path, () => NOW);
    await other.set({ tool_name: "tool.other" }, "ops");
    await store.refresh();
    expect((store.current() as KillSwitchState).entries.map((e) => e.tool_name)).toEqual(["tool.other"]);
  });

  it("without a path it is empty and refuses changes", async () => {
    const store = new FileKillSwitchStore(undefined);
    await store.refresh();
    expect(store.current()).toBeUndefined();
    await expect(store.set({ tool_name: "tool.x" }, "ops")).rejects.toThrow(/--kill-switch-state/);
  });
});
