/**
 * The kill switch in force when there are two sources: the shared store's entries (set by operators through any
 * replica) and the `--kill-switch-state` file (Gait's file, e.g. shipped by configuration management). A call is
 * stopped when an entry of either matches; when either source is unavailable the whole state is (fail closed: an
 * entry of the unavailable source could be the one that matches).
 *
 * Operators change the shared store (SetKillSwitch and ClearKillSwitch reach every replica); the file's entries are
 * listed with the shared ones but are changed by editing the file, so clearing one through the operator plane is
 * refused with that fix.
 */
import type { KillSwitchEntry, KillSwitchState } from "../engine/types.js";
import type { KillSwitchEntryInput } from "./killswitch-store.js";

type State = KillSwitchState | { unavailable: string } | undefined;
type Source = { current(): State };
/** The shared store: operators' changes go here. */
type Store = Source & {
  list(): Promise<KillSwitchEntry[]>;
  set(entry: KillSwitchEntryInput, actor: string): Promise<KillSwitchEntry>;
  clear(entryId: string, actor: string): Promise<KillSwitchEntry | undefined>;
};

export class CombinedKillSwitch {
  private lastA: State;
  private lastB: State;
  private merged: State;

  constructor(
    private readonly a: Store,
    private readonly b: Source & { readonly path?: string | undefined },
  ) {}

  /** Synchronous, like each source; the merged state is rebuilt only when a source's state changed. */
  current(): State {
    const a = this.a.current();
    const b = this.b.current();
    if (a === this.lastA && b === this.lastB && (a !== undefined || b !== undefined)) return this.merged;
    this.lastA = a;
    this.lastB = b;
    if (a && "unavailable" in a) this.merged = a;
    else if (b && "unavailable" in b) this.merged = b;
    else if (!a) this.merged = b;
    else if (!b) this.merged = a;
    else this.merged = { ...b, entries: [...a.entries, ...b.entries] };
    return this.merged;
  }

  /** The shared entries, then the file's (throws when the file's state cannot be read: nothing is hidden). */
  async list(): Promise<KillSwitchEntry[]> {
    const shared = await this.a.list();
    const b = this.b.current();
    if (b && "unavailable" in b) throw new Error(b.unavailable);
    return [...shared, ...(b?.entries ?? [])];
  }

  async set(entry: KillSwitchEntryInput, actor: string): Promise<KillSwitchEntry> {
    if (entry.entry_id) await this.refuseFileEntry(entry.entry_id);
    return this.a.set(entry, actor);
  }

  async clear(entryId: string, actor: string): Promise<KillSwitchEntry | undefined> {
    await this.refuseFileEntry(entryId);
    return this.a.clear(entryId, actor);
  }

  /** An entry of the file alone cannot be changed here: a shared copy would not lift the file's entry. */
  private async refuseFileEntry(entryId: string): Promise<void> {
    const b = this.b.current();
    if (!b || "unavailable" in b || !b.entries.some((e) => e.entry_id === entryId)) return;
    if ((await this.a.list()).some((e) => e.entry_id === entryId)) return;
    const err = new Error(`kill-switch entry ${entryId} comes from the state file ${this.b.path ?? "(--kill-switch-state)"}, not the shared state: change it in that file (the server re-reads it on change)`);
    err.name = "KillSwitchStateError"; // the request is refused as invalid; nothing changed
    throw err;
  }
}
