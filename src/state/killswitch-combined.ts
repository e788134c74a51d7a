/**
 * The kill switch in force when there are two sources: the shared store's entries (set by operators through any
 * replica) and the `--kill-switch-state` file (Gait's file, e.g. shipped by configuration management). A call is
 * stopped when an entry of either matches; when either source is unavailable the whole state is (fail closed: an
 * entry of the unavailable source could be the one that matches).
 */
import type { KillSwitchState } from "../engine/types.js";

type Source = { current(): KillSwitchState | { unavailable: string } | undefined };
type State = KillSwitchState | { unavailable: string } | undefined;

export class CombinedKillSwitch {
  private lastA: State;
  private lastB: State;
  private merged: State;

  constructor(
    private readonly a: Source,
    private readonly b: Source,
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
}
