/**
 * The kill switch the service decides with, as a store: the decision path reads the state in force synchronously
 * (`current()`), operators change it (`set`, `clear`), and every change is visible to every reader of the same store
 * (one process, or every replica of a shared store) promptly.
 *
 * The state is Gait's `gait.gate.kill_switch_state` document (engine/killswitch.ts parses and matches it), so a state
 * file written by Gait and one written by us are interchangeable. Implementations: {@link FileKillSwitchStore} (the
 * state file, written atomically, re-read when it changes); a shared store (Redis) implements the same interface.
 *
 * Fail closed: a store that cannot read its state reports `{unavailable}` (the gate then blocks calls that require
 * the kill switch, as Gait does); a failed `set`/`clear` throws and changes nothing.
 */
import { readFile, stat } from "node:fs/promises";
import { killSwitchEntryId, parseKillSwitchState, KILL_SWITCH_SCHEMA_ID, KILL_SWITCH_SCHEMA_VERSION } from "../engine/killswitch.js";
import { formatGoTime } from "../engine/time.js";
import type { KillSwitchEntry, KillSwitchState } from "../engine/types.js";
import { writeFileAtomic } from "../infra/fs.js";

/** What an operator sets: the selectors, reason and expiry of an entry (the store fills id, actor and times). */
export type KillSwitchEntryInput = Omit<KillSwitchEntry, "entry_id" | "enabled" | "actor" | "created_at"> & { entry_id?: string };

export interface KillSwitchStore {
  /** The state in force for the next decision (synchronous: the decision path must not wait). */
  current(): KillSwitchState | { unavailable: string } | undefined;
  /** Every entry, enabled or not (expired entries included until cleared). Throws when the state cannot be read. */
  list(): Promise<KillSwitchEntry[]>;
  /** Add an enabled entry (or replace the entry with the same id). Validated by the engine's parser. */
  set(entry: KillSwitchEntryInput, actor: string): Promise<KillSwitchEntry>;
  /** Remove an entry; undefined when there was none with that id. */
  clear(entryId: string, actor: string): Promise<KillSwitchEntry | undefined>;
  /** Re-read the state now (a file changed, SIGHUP). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/** Build a validated entry from operator input (throws KillSwitchStateError with the engine's message). */
export function makeEntry(input: KillSwitchEntryInput, actor: string, now: Date): KillSwitchEntry {
  const created_at = formatGoTime(now);
  const draft = { ...input, enabled: true, actor, created_at };
  const entry_id = input.entry_id?.trim() || killSwitchEntryId(draft);
  // the engine's parser is the one validator (selectors required, target kinds, times)
  const parsed = parseKillSwitchState({ schema_id: KILL_SWITCH_SCHEMA_ID, schema_version: KILL_SWITCH_SCHEMA_VERSION, created_at, updated_at: created_at, entries: [{ ...draft, entry_id }] });
  return parsed.entries[0]!;
}

/**
 * The kill-switch state file (`--kill-switch-state`), Gait's format. Without a path the store is empty and refuses
 * changes (there is nowhere to keep them). Writes are atomic (temp file, fsync, rename, directory fsync) and
 * serialized within the process; the state is re-read when the file's size or mtime changes (`refresh`).
 */
export class FileKillSwitchStore implements KillSwitchStore {
  private state: KillSwitchState | { unavailable: string } | undefined;
  private seen = "";
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string | undefined,
    private readonly now: () => Date = () => new Date(),
  ) {}

  current(): KillSwitchState | { unavailable: string } | undefined {
    return this.state;
  }

  async refresh(): Promise<void> {
    if (!this.path) return;
    let text: string;
    try {
      const st = await stat(this.path);
      const sig = `${st.size}:${st.mtimeMs}:${st.ino}`;
      if (sig === this.seen && this.state !== undefined) return;
      text = await readFile(this.path, "utf8");
      this.seen = sig;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      // no file yet: no entries (the first `set` creates it); anything else is unavailable
      if (err.code === "ENOENT") {
        this.state = emptyState(this.now());
        this.seen = "";
        return;
      }
      this.state = { unavailable: `read kill switch state ${this.path}: ${err.message}` };
      return;
    }
    try {
      this.state = parseKillSwitchState(JSON.parse(text));
    } catch (e) {
      this.state = { unavailable: `kill switch state ${this.path}: ${(e as Error).message}` };
    }
  }

  async list(): Promise<KillSwitchEntry[]> {
    await this.refresh();
    const s = this.state;
    if (!s) return [];
    if ("unavailable" in s) throw new Error(s.unavailable);
    return [...s.entries];
  }

  set(input: KillSwitchEntryInput, actor: string): Promise<KillSwitchEntry> {
    return this.mutate((entries) => {
      const entry = makeEntry(input, actor, this.now());
      return { entries: [...entries.filter((e) => e.entry_id !== entry.entry_id), entry], result: entry };
    });
  }

  clear(entryId: string, _actor: string): Promise<KillSwitchEntry | undefined> {
    return this.mutate((entries) => {
      const hit = entries.find((e) => e.entry_id === entryId);
      return { entries: entries.filter((e) => e.entry_id !== entryId), result: hit };
    });
  }

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
  }

  /** Read-modify-write under the in-process queue; a broken state file is never overwritten. */
  private mutate<T>(fn: (entries: KillSwitchEntry[]) => { entries: KillSwitchEntry[]; result: T }): Promise<T> {
    const run = async (): Promise<T> => {
      if (!this.path) throw new Error("no kill-switch state file is configured (--kill-switch-state): there is nowhere to keep entries");
      this.seen = ""; // always read the file as it is now
      await this.refresh();
      const s = this.state!;
      if ("unavailable" in s) throw new Error(`${s.unavailable} (fix or remove the file; it is not overwritten)`);
      const { entries, result } = fn(s.entries);
      const now = formatGoTime(this.now());
      const next: KillSwitchState = {
        schema_id: KILL_SWITCH_SCHEMA_ID,
        schema_version: KILL_SWITCH_SCHEMA_VERSION,
        created_at: s.created_at ?? now,
        updated_at: now,
        entries: [...entries].sort((a, b) => (a.entry_id < b.entry_id ? -1 : a.entry_id > b.entry_id ? 1 : 0)),
      };
      await writeFileAtomic(this.path, JSON.stringify(next, null, 2) + "\n");
      this.seen = "";
      await this.refresh();
      return result;
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }
}

function emptyState(now: Date): KillSwitchState {
  const t = formatGoTime(now);
  return { schema_id: KILL_SWITCH_SCHEMA_ID, schema_version: KILL_SWITCH_SCHEMA_VERSION, created_at: t, updated_at: t, entries: [] };
}
