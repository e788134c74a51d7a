/**
 * The contract every {@link KillSwitchStore} implementation passes: call `killSwitchContract(name, make)` from a test
 * file (the file store in killswitch-store.test.ts, Redis in redis-state.test.ts). `make` returns a fresh, empty store
 * whose clock reads {@link KS_NOW}.
 */
import { describe, expect, it } from "vitest";
import { matchKillSwitch } from "../../../src/engine/killswitch.js";
import { normalizeIntent } from "../../../src/engine/intent.js";
import type { KillSwitchState } from "../../../src/engine/types.js";
import type { KillSwitchStore } from "../../../src/state/killswitch-store.js";

export const KS_NOW = new Date("2026-01-15T12:00:00Z");
const NOW = KS_NOW;
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
