/**
 * The kill switch shared by every replica (`--state redis://...`), as a {@link KillSwitchStore}: entries in one Redis
 * hash (`ks`: entry id -> Gait's entry JSON) with a version counter (`ksver`) that every change bumps in the same
 * script. Each replica polls the version every `pollMs` (one small round trip) and re-reads the entries when it
 * moved, so an entry set through any replica blocks on every replica within `pollMs` plus one round trip (default
 * 250 ms; the bound is one second).
 *
 * Fail closed: the decision path reads {@link current} synchronously from the last confirmed state, and that state
 * is only trusted while it is fresh. When no poll succeeded for `staleMs` (Redis unreachable, slow, replaced or
 * rolled back), current() reports `{unavailable}`: a stop set meanwhile through another replica cannot be known,
 * so the gate treats the kill switch as unavailable (Gait: block for oss-prod and high/critical risk, an error
 * otherwise), and recovers by itself at the next successful poll.
 */
import { parseKillSwitchState, KILL_SWITCH_SCHEMA_ID, KILL_SWITCH_SCHEMA_VERSION } from "../../engine/killswitch.js";
import { formatGoTime } from "../../engine/time.js";
import type { KillSwitchEntry, KillSwitchState } from "../../engine/types.js";
import { makeEntry, type KillSwitchEntryInput, type KillSwitchStore } from "../killswitch-store.js";
import { Script, type SharedState } from "./connection.js";

export interface RedisKillSwitchOptions {
  /** How often each replica checks for changes. @defaultValue 250 */
  pollMs?: number;
  /** The last confirmed state is trusted this long without a successful poll. @defaultValue 1000 */
  staleMs?: number;
  /** Clock for entry times. @defaultValue () => new Date() */
  now?: () => Date;
  /** Called when the state in force changed (entries) or became (un)available. */
  onChange?: (state: KillSwitchState | { unavailable: string }) => void;
  /** Called after every poll, successful or not (the server re-evaluates its health: the poll is the shared state's
   * heartbeat). */
  onPoll?: () => void;
}

// ARGV[3] entry id, [4] entry JSON ('' = remove), [5] now (RFC 3339); returns the previous JSON ('' when none)
const WRITE = new Script(`
local prev = redis.call('HGET', P .. 'ks', ARGV[3]) or ''
if ARGV[4] == '' then
  if prev == '' then return prev end
  redis.call('HDEL', P .. 'ks', ARGV[3])
else
  redis.call('HSET', P .. 'ks', ARGV[3], ARGV[4])
end
redis.call('HINCRBY', P .. 'ksmeta', 'ver', 1)
redis.call('HSETNX', P .. 'ksmeta', 'created_at', ARGV[5])
redis.call('HSET', P .. 'ksmeta', 'updated_at', ARGV[5])
return prev
`);

// returns {ver, created_at, updated_at, seq}
const VERSION = new Script(`
local m = redis.call('HMGET', P .. 'ksmeta', 'ver', 'created_at', 'updated_at')
return {m[1] or '0', m[2] or '', m[3] or '', meta[2] or '0'}
`);

const READ_ALL = new Script(`
local m = redis.call('HMGET', P .. 'ksmeta', 'ver', 'created_at', 'updated_at')
return {m[1] or '0', m[2] or '', m[3] or '', redis.call('HVALS', P .. 'ks')}
`);

export class RedisKillSwitchStore implements KillSwitchStore {
  private state: KillSwitchState | undefined;
  private version = "";
  private confirmedAt = 0;
  private lastError = "not read yet";
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;
  private readonly pollMs: number;
  private readonly staleMs: number;
  private readonly now: () => Date;
  /** Availability last reported through onChange. */
  private reported: boolean | undefined;

  constructor(
    private readonly shared: SharedState,
    private readonly opts: RedisKillSwitchOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 250;
    this.staleMs = opts.staleMs ?? 1000;
    this.now = opts.now ?? (() => new Date());
  }

  /** Read the state once, then keep polling. Rejects when the first read fails (the server does not start). */
  async start(): Promise<void> {
    await this.refresh();
    if (!this.state) throw new Error(this.lastError);
    this.timer = setInterval(() => void this.refresh(), this.pollMs);
    this.timer.unref();
  }

  current(): KillSwitchState | { unavailable: string } | undefined {
    if (!this.state) return { unavailable: `shared kill switch state at ${this.shared.label} was never read: ${this.lastError}` };
    const age = Date.now() - this.confirmedAt;
    if (age > this.staleMs) {
      return { unavailable: `shared kill switch state at ${this.shared.label} not confirmed for ${age} ms (limit ${this.staleMs} ms): ${this.lastError}` };
    }
    return this.state;
  }

  /** Poll now: the version, and the entries when it moved. Never throws; a failure leaves the state to go stale. */
  refresh(): Promise<void> {
    this.polling ??= this.poll().finally(() => (this.polling = undefined));
    return this.polling;
  }

  async list(): Promise<KillSwitchEntry[]> {
    const s = await this.readAll();
    return [...s.entries];
  }

  async set(input: KillSwitchEntryInput, actor: string): Promise<KillSwitchEntry> {
    const entry = makeEntry(input, actor, this.now());
    await this.shared.run(WRITE, [], [entry.entry_id, JSON.stringify(entry), formatGoTime(this.now())]);
    await this.refresh();
    return entry;
  }

  async clear(entryId: string, _actor: string): Promise<KillSwitchEntry | undefined> {
    const prev = (await this.shared.run(WRITE, [], [entryId, "", formatGoTime(this.now())])) as string;
    await this.refresh();
    return prev ? (JSON.parse(prev) as KillSwitchEntry) : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling;
  }

  private async poll(): Promise<void> {
    if (this.closed) return;
    try {
      const [ver, , , seq] = (await this.shared.run(VERSION, [], [])) as string[];
      this.shared.observeSeq(Number(seq));
      if (ver !== this.version || !this.state) await this.readAll();
      this.confirmedAt = Date.now();
      this.lastError = "";
    } catch (e) {
      this.lastError = (e as Error).message;
    }
    // availability is a function of time (the last confirmation's age): re-derive it after every poll, whatever
    // happened before, so no sequence of events can leave a stale report behind
    const cur = this.current();
    const available = cur !== undefined && !("unavailable" in cur);
    if (available !== this.reported) {
      this.reported = available;
      if (cur) this.opts.onChange?.(cur);
    }
    this.opts.onPoll?.();
  }

  /** Read every entry and validate them with the engine's parser (a bad entry makes the whole state unavailable). */
  private async readAll(): Promise<KillSwitchState> {
    const [ver, created, updated, values] = (await this.shared.run(READ_ALL, [], [])) as [string, string, string, string[]];
    const now = formatGoTime(this.now());
    let entries: unknown[];
    try {
      entries = values.map((v) => JSON.parse(v) as unknown);
    } catch (e) {
      throw new Error(`shared kill switch state at ${this.shared.label} holds an entry that is not JSON (${(e as Error).message})`);
    }
    const state = parseKillSwitchState({ schema_id: KILL_SWITCH_SCHEMA_ID, schema_version: KILL_SWITCH_SCHEMA_VERSION, created_at: created || now, updated_at: updated || now, entries });
    state.entries.sort((a, b) => (a.entry_id < b.entry_id ? -1 : a.entry_id > b.entry_id ? 1 : 0));
    const changed = ver !== this.version;
    this.state = state;
    this.version = ver;
    if (changed && this.reported) this.opts.onChange?.(state);
    return state;
  }
}
