/**
 * One connection to the shared state of a fleet of replicas (`--state redis://...`): the counters, the approval
 * ledger and the kill switch all go through it (redis/counters.ts, redis/approvals.ts, redis/killswitch.ts).
 *
 * Fail closed, never wait:
 * - every command has a time bound (`timeoutMs`); a slower answer is an error, so a decision that needs shared state
 *   fails (STATE_UNAVAILABLE) instead of hanging;
 * - no offline queue: while the connection is down a command fails at once (ioredis would otherwise queue it and
 *   send it later, after the caller was told something); the client reconnects by itself in the background;
 * - the store has an identity: the `meta` hash holds a random store id (created with the store) and `seq`, a counter
 *   every ledger change increments. Every script checks the store id, so a Redis that lost its data (restarted
 *   without persistence, flushed, replaced) is refused instead of quietly forgetting spent tokens; a `seq` lower than
 *   one this process already saw means the data was restored from an older copy: the connection then refuses
 *   everything until the server is restarted (see docs/service.md, "Shared state").
 *
 * Scripts are sent as EVALSHA (EVAL once after a Redis restart flushed its script cache): one round trip each.
 */
import { createHash, randomBytes } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";

/** A shared-state call failed: unreachable, too slow, refused, or the store was replaced or rolled back. */
export class SharedStateError extends Error {
  override name = "SharedStateError";
  constructor(
    /** `unavailable` (connection down, timeout, Redis error), `rolled_back` (data lost or restored from an older
     * copy), `closed`. */
    readonly code: "unavailable" | "rolled_back" | "closed",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Name-based guard (survives duplicated module copies). */
export function isSharedStateError(e: unknown): e is SharedStateError {
  return typeof e === "object" && e !== null && (e as Error).name === "SharedStateError";
}

/** Where the shared store is: parsed from `--state`. */
export interface SharedStateAddress {
  /** `redis://host:port/db`, `rediss://...` (TLS), or a Unix socket. */
  kind: "tcp" | "tls" | "unix";
  host?: string;
  port?: number;
  path?: string;
  db: number;
  username?: string;
  password?: string;
  /** The address without credentials, for logs and messages. */
  label: string;
}

/** True when `--state` names a shared store rather than a directory. */
export function isSharedStateUrl(s: string): boolean {
  return /^(redis|rediss|unix):\/\//i.test(s.trim());
}

/**
 * Parse `redis://[user:password@]host[:port][/db]`, `rediss://...` (TLS) or `unix://[user:password@]/abs/redis.sock[?db=N]`.
 * Throws an Error saying what is wrong and what is expected.
 */
export function parseSharedStateUrl(raw: string): SharedStateAddress {
  const s = raw.trim();
  const expected = "expected redis://host:port/db, rediss://host:port/db (TLS) or unix:///path/to/redis.sock?db=N";
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`${JSON.stringify(redactUrl(s))} is not a URL; ${expected}`);
  }
  const scheme = u.protocol.replace(/:$/, "").toLowerCase();
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  const auth = { ...(username ? { username } : {}), ...(password ? { password } : {}) };
  const dbOf = (text: string, where: string): number => {
    if (text === "") return 0;
    if (!/^\d{1,2}$/.test(text)) throw new Error(`${JSON.stringify(redactUrl(s))}: database ${JSON.stringify(text)} in the ${where} must be a number (0 to 15 on a default Redis); ${expected}`);
    return Number(text);
  };
  if (scheme === "unix") {
    const path = decodeURIComponent(u.pathname);
    if (u.hostname || !path.startsWith("/") || path === "/") throw new Error(`${JSON.stringify(redactUrl(s))}: a Unix socket needs an absolute path (unix:///run/redis/redis.sock); ${expected}`);
    const db = dbOf(u.searchParams.get("db") ?? "", "db= parameter");
    return { kind: "unix", path, db, ...auth, label: `unix://${path}${db ? `?db=${db}` : ""}` };
  }
  if (scheme !== "redis" && scheme !== "rediss") throw new Error(`${JSON.stringify(redactUrl(s))}: unsupported scheme ${scheme}; ${expected}`);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (!host) throw new Error(`${JSON.stringify(redactUrl(s))}: the host is missing; ${expected}`);
  const port = u.port ? Number(u.port) : 6379;
  const db = dbOf(u.pathname.replace(/^\//, ""), "path");
  return { kind: scheme === "rediss" ? "tls" : "tcp", host, port, db, ...auth, label: `${scheme}://${u.host}/${db}` };
}

/** The URL with any password replaced by `***` (for --print-config and messages). */
export function redactUrl(s: string): string {
  return s.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, "$1***@");
}

/** Options of {@link SharedState.open}. */
export interface SharedStateOptions {
  address: SharedStateAddress;
  /** Key prefix (a namespace: several fleets may share one Redis). @defaultValue "gait:" */
  prefix?: string;
  /** Bound on each command (and on connecting at start). @defaultValue 500 */
  timeoutMs?: number;
  /** Start a new ledger identity if the store has none, or keep it; see {@link SharedState.open}. */
  reset?: boolean;
  /** Clock (ms). @defaultValue Date.now */
  now?: () => number;
  /** Connection health changes (reconnects are logged by the caller). */
  onHealth?: (ok: boolean, reason?: string) => void;
}

const META_CHECK = `
local P = ARGV[1]
local meta = redis.call('HMGET', P .. 'meta', 'id', 'seq', 'nb')
if meta[1] ~= ARGV[2] then
  if meta[1] then return redis.error_reply('GAITSTATE replaced') end
  return redis.error_reply('GAITSTATE missing')
end
`;

/** A Lua script run with EVALSHA. Every script starts with the store check (ARGV[1] prefix, ARGV[2] store id). */
export class Script {
  readonly lua: string;
  readonly sha: string;
  constructor(body: string) {
    this.lua = META_CHECK + body;
    this.sha = createHash("sha1").update(this.lua).digest("hex");
  }
}

/** What the store's `meta` hash held when the connection opened. */
export interface StoreMeta {
  id: string;
  seq: number;
  /** Reset floor: tokens created before it are refused (ms; undefined when never reset). */
  notBeforeMs?: number;
  /** True when this open created the store (first replica, or after data loss). */
  created: boolean;
}

/** The shared connection (one per server process). */
export class SharedState {
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly now: () => number;
  private failure: SharedStateError | undefined;
  private closed = false;
  private maxSeq = 0;
  private healthy = false;
  private lastError = "";

  private constructor(
    readonly client: Redis,
    readonly address: SharedStateAddress,
    readonly meta: StoreMeta,
    private readonly opts: SharedStateOptions,
  ) {
    this.prefix = opts.prefix ?? "gait:";
    this.timeoutMs = opts.timeoutMs ?? 500;
    this.now = opts.now ?? Date.now;
    this.maxSeq = meta.seq;
  }

  /**
   * Connect (within the time bound), then read or create the store's identity. With `reset`, the reset floor is set
   * to now: every approval token created before it is refused from then on (an operator's recovery after data loss).
   * Rejects SharedStateError `unavailable` when Redis cannot be reached.
   */
  static async open(opts: SharedStateOptions): Promise<SharedState> {
    const a = opts.address;
    const prefix = opts.prefix ?? "gait:";
    const { client, lastError } = await SharedState.connectClient(a, opts.timeoutMs ?? 500);
    let meta: StoreMeta;
    const warnings: string[] = [];
    try {
      const problem = await SharedState.checkConfig(client, warnings);
      if (problem) {
        client.disconnect();
        throw new SharedStateError("unavailable", `shared state at ${a.label}: ${problem}`);
      }
      meta = await SharedState.readMeta(client, prefix, opts.reset === true, (opts.now ?? Date.now)());
    } catch (e) {
      client.disconnect();
      if (isSharedStateError(e)) throw e;
      throw new SharedStateError("unavailable", `shared state at ${a.label}: ${(e as Error).message}`, { cause: e });
    }
    const s = new SharedState(client, a, meta, opts);
    s.warnings = warnings;
    s.lastError = lastError;
    s.healthy = true;
    client.on("error", (e: Error) => {
      s.lastError = e.message;
      s.setHealth(false, e.message);
    });
    client.on("close", () => s.setHealth(false, s.lastError || "connection closed"));
    client.on("ready", () => s.setHealth(true));
    return s;
  }

  /**
   * A read-only look at a shared state (`gait doctor`): reachable within the bound, settings that keep the ledger
   * (the same refusal as {@link open}), and whether the store already has an identity. Writes nothing.
   */
  static async probe(address: SharedStateAddress, opts: { timeoutMs?: number; prefix?: string } = {}): Promise<{ problem?: string; warnings: string[]; exists: boolean }> {
    const { client } = await SharedState.connectClient(address, opts.timeoutMs ?? 500);
    try {
      const warnings: string[] = [];
      const problem = await SharedState.checkConfig(client, warnings);
      const exists = (await client.exists(`${opts.prefix ?? "gait:"}meta`)) === 1;
      return { ...(problem ? { problem } : {}), warnings, exists };
    } finally {
      client.disconnect();
    }
  }

  /** A connected client within the time bound; rejects SharedStateError `unavailable` naming the address and the fix. */
  private static async connectClient(a: SharedStateAddress, timeoutMs: number): Promise<{ client: Redis; lastError: string }> {
    const base: RedisOptions = {
      lazyConnect: true,
      db: a.db,
      ...(a.username ? { username: a.username } : {}),
      ...(a.password ? { password: a.password } : {}),
      connectTimeout: Math.max(timeoutMs, 1000),
      commandTimeout: timeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // reconnect forever, quickly at first, at most once a second
      retryStrategy: (times: number) => Math.min(50 * times, 1000),
      ...(a.kind === "unix" ? { path: a.path! } : { host: a.host!, port: a.port! }),
      ...(a.kind === "tls" ? { tls: { servername: a.host! } } : {}),
    };
    const client = new Redis(base);
    // connection errors are reported through health, never as unhandled 'error' events
    let lastError = "";
    client.on("error", (e: Error) => (lastError = e.message));
    try {
      await client.connect();
    } catch (e) {
      client.disconnect();
      throw new SharedStateError("unavailable", `cannot connect to the shared state at ${a.label}: ${(e as Error).message || lastError} (is redis-server running and reachable? check --state)`, { cause: e });
    }
    return { client, lastError };
  }

  /**
   * Redis settings that would silently undo the ledger: an eviction policy may drop a spent-token mark (a spent token
   * becomes usable again) or a counter, so anything but `noeviction` is refused. No append-only file only warns (a dev
   * Redis); a Redis that does not allow CONFIG GET (managed services) is taken with a warning.
   */
  private static async checkConfig(client: Redis, warnings: string[]): Promise<string | undefined> {
    let policy: string | undefined;
    let aof: string | undefined;
    try {
      const p = (await client.config("GET", "maxmemory-policy")) as string[];
      const f = (await client.config("GET", "appendonly")) as string[];
      policy = p[1];
      aof = f[1];
    } catch (e) {
      warnings.push(`could not read the Redis settings (CONFIG GET: ${(e as Error).message}); make sure maxmemory-policy is noeviction and appendonly is yes with appendfsync always`);
      return undefined;
    }
    if (policy !== undefined && policy !== "noeviction") {
      return `maxmemory-policy is ${policy}: Redis may evict spent-token marks and counters, which would make spent tokens usable again; set maxmemory-policy noeviction (a full Redis then refuses writes and the gate fails closed)`;
    }
    if (aof === "no") warnings.push("appendonly is no: a Redis restart loses the shared state (the gate then refuses it as rolled back); set appendonly yes and appendfsync always");
    return undefined;
  }

  /** Problems with the Redis settings found at start (log them). */
  warnings: string[] = [];

  private static async readMeta(client: Redis, prefix: string, reset: boolean, nowMs: number): Promise<StoreMeta> {
    const key = `${prefix}meta`;
    const id = `st_${randomBytes(8).toString("hex")}`;
    // create the identity if there is none (HSETNX: of two replicas starting at once, one wins)
    const created = (await client.hsetnx(key, "id", id)) === 1;
    if (created) await client.hset(key, "seq", "0", "created_ms", String(nowMs));
    if (reset) await client.hset(key, "nb", String(nowMs));
    const [gotId, seq, nb] = await client.hmget(key, "id", "seq", "nb");
    if (!gotId) throw new Error("the store identity vanished while it was being read");
    return { id: gotId, seq: Number(seq ?? 0) || 0, ...(nb ? { notBeforeMs: Number(nb) } : {}), created };
  }

  /** Address without credentials, for messages. */
  get label(): string {
    return this.address.label;
  }

  /** The connection is up (as the client reports it now, not as events last said) and the store was not found
   * rolled back. */
  get ok(): boolean {
    return this.client.status === "ready" && !this.failure && !this.closed;
  }

  /** Why the store is not usable now ('' when it is). */
  get problem(): string {
    if (this.closed) return "closed";
    if (this.failure) return this.failure.message;
    return this.client.status === "ready" ? "" : `shared state at ${this.label} unreachable (${this.client.status}): ${this.lastError || "not connected"}`;
  }

  /** The highest ledger seq seen (the ledger head). */
  get seq(): number {
    return this.maxSeq;
  }

  /** Record a seq returned by a script; a lower one than seen before means the store went backwards. */
  observeSeq(seq: number): void {
    if (!Number.isFinite(seq)) return;
    if (seq < this.maxSeq) {
      this.fail(
        new SharedStateError(
          "rolled_back",
          `shared state at ${this.label} went backwards (ledger entry ${seq}, this server already saw ${this.maxSeq}): it was restored from an older copy and spent tokens could be used again; refusing it until a restart with --reset-approval-state`,
        ),
      );
      return;
    }
    this.maxSeq = seq;
  }

  /** Run a script; Redis and connection errors become SharedStateError. */
  async run(script: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    this.usable();
    const argv = [this.prefix, this.meta.id, ...args.map(String)];
    try {
      try {
        return await this.client.evalsha(script.sha, keys.length, ...keys, ...argv);
      } catch (e) {
        if (!/NOSCRIPT/.test((e as Error).message)) throw e;
        return await this.client.eval(script.lua, keys.length, ...keys, ...argv);
      }
    } catch (e) {
      throw this.mapError(e);
    }
  }

  /** Run plain commands in one pipeline (reads); each failed command fails the whole call. */
  async pipeline(cmds: (string | number)[][]): Promise<unknown[]> {
    this.usable();
    try {
      const res = await this.client.pipeline(cmds.map(([name, ...args]) => [String(name).toLowerCase(), ...args.map(String)])).exec();
      if (!res) throw new Error("pipeline was not executed");
      return res.map(([err, v]) => {
        if (err) throw err;
        return v;
      });
    } catch (e) {
      throw this.mapError(e);
    }
  }

  /** Check the store identity (and report its seq): the kill switch's poll and the health probe call this. */
  async checkMeta(): Promise<number> {
    const res = (await this.pipeline([["HMGET", `${this.prefix}meta`, "id", "seq"]]))[0] as (string | null)[];
    if (res[0] !== this.meta.id) throw this.mapError(new Error(res[0] ? "GAITSTATE replaced" : "GAITSTATE missing"));
    const seq = Number(res[1] ?? 0);
    this.observeSeq(seq);
    this.usable();
    return seq;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  private usable(): void {
    if (this.closed) throw new SharedStateError("closed", "shared state connection is closed");
    if (this.failure) throw this.failure;
  }

  private fail(e: SharedStateError): void {
    if (!this.failure) {
      this.failure = e;
      this.opts.onHealth?.(false, e.message);
    }
  }

  private setHealth(ok: boolean, reason?: string): void {
    if (this.closed || ok === this.healthy) return;
    this.healthy = ok;
    if (!this.failure) this.opts.onHealth?.(ok, reason);
  }

  private mapError(e: unknown): SharedStateError {
    if (isSharedStateError(e)) return e;
    const msg = (e as Error)?.message ?? String(e);
    const m = /GAITSTATE (missing|replaced)/.exec(msg);
    if (m) {
      const err = new SharedStateError(
        "rolled_back",
        m[1] === "missing"
          ? `shared state at ${this.label} lost its data (the store identity ${this.meta.id} is gone: Redis restarted without persistence or was flushed) and spent tokens could be used again; refusing it until a restart with --reset-approval-state`
          : `shared state at ${this.label} was replaced by another store (identity ${this.meta.id} is no longer there); refusing it until a restart with --reset-approval-state`,
        { cause: e },
      );
      this.fail(err);
      return err;
    }
    if (/timed out/i.test(msg)) return new SharedStateError("unavailable", `shared state at ${this.label} did not answer within ${this.timeoutMs} ms (--state-timeout)`, { cause: e });
    return new SharedStateError("unavailable", `shared state at ${this.label} unavailable: ${msg}`, { cause: e });
  }
}
