/**
 * The kill-switch store contract (killswitch-store.contract.ts) run against the file store, and the file store's own
 * cases: Gait's file format, and failing closed on a broken file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseKillSwitchState } from "../../../src/engine/killswitch.js";
import type { KillSwitchState } from "../../../src/engine/types.js";
import { FileKillSwitchStore, type KillSwitchStore } from "../../../src/state/killswitch-store.js";
import { killSwitchContract, KS_NOW } from "./killswitch-store.contract.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const NOW = KS_NOW;

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
