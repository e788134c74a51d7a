/**
 * The approval ledger shared by every replica (`--state redis://...`): pending requests an operator can find from any
 * replica, grant/deny as one transition, single-use tokens spent once across the fleet, revocation by deny. Same
 * contract as the file ledger ({@link ApprovalStore}, test/unit/state/approvals.contract.ts runs against both).
 *
 * Layout (every key under the prefix, default `gait:`):
 * - `req:<id>` hash: `doc` (the request JSON as last written), `state`, `ver` (bumped by every change), `toks` (the
 *   request's token ids and expiries, one `id expiry_ms` per line), `who` (hashed identity), `exp`, `dk` (the
 *   intent:policy digest key), `consumed_at` (set by a spend, which never rewrites the JSON);
 * - `reqs` (all ids, lexical = creation order, for list), `open` and `openid:<who>` (open requests by expiry: the
 *   capacity caps), `exp` (open requests by expiry: the sweep), `dig:<intent>:<policy>` (the open request of a call:
 *   create is idempotent);
 * - `tok:<token id>` = `c` (consumed) or `r` (revoked), kept until a week after the token expired; `tokreq:<token id>`
 *   = the request that holds it (so spending one token spends its siblings).
 *
 * Atomicity: a spend is one Lua script (check every token unmarked and not before the reset floor, mark them and
 * their siblings, mark the holding requests consumed: all or nothing, one round trip). A grant or deny reads the
 * request, decides in TypeScript (the same rules as the file ledger: identities compared as identities, one token per
 * approver, self-approval refused) and commits with a compare-and-set script on the request's `ver`, which also
 * checks the token is not spent and writes the revocations of a deny in the same step; a concurrent change makes it
 * re-read and decide again. Every script checks the store identity and bumps the ledger `seq` (connection.ts): a
 * store that lost its data or went backwards is refused.
 *
 * Durability is Redis's: run it with `appendonly yes` and `appendfsync always` (docs/deployment.md), or a spend
 * acknowledged just before a Redis crash can be forgotten.
 */
import { sha256Hex } from "../../engine/canon.js";
import { identityKey } from "../../engine/identity.js";
import { formatGoTime, parseRFC3339 } from "../../engine/time.js";
import type { ApprovalToken } from "../../engine/types.js";
import {
  ApprovalStoreError,
  dedupe,
  grantingApprover,
  grantStep,
  newRequest,
  validateNew,
  type ApprovalRequest,
  type ApprovalState,
  type ApprovalStore,
  type ConsumeRef,
  type CreateResult,
  type GrantResult,
  type LedgerHead,
  type ListPage,
  type ListQuery,
  type NewApprovalRequest,
  type TokenBlock,
} from "../approvals.js";
import { isSharedStateError, Script, type SharedState } from "./connection.js";

export interface RedisApprovalStoreOptions {
  /** Period of the background expiry sweep; 0 = none (call expireDue()). @defaultValue 60000 */
  sweepIntervalMs?: number;
  /** Terminal requests and the marks of expired tokens are kept this long. @defaultValue 7 days */
  retainMs?: number;
  /** @defaultValue 10000 */
  maxOpen?: number;
  /** @defaultValue 100 */
  maxOpenPerIdentity?: number;
  /** Clock (ms). @defaultValue the connection's */
  now?: () => number;
  /** Called with the ledger head after every change this replica made. */
  onChange?: (head: LedgerHead) => void;
  onWarning?: (message: string) => void;
}

const DAY_MS = 86_400_000;
const OPEN_STATES: ReadonlySet<ApprovalState> = new Set(["pending", "granted"]);
/** Compare-and-set attempts before a grant/deny gives up (each retry means another replica changed the request). */
const CAS_ATTEMPTS = 8;

const timeMs = (s: string | undefined): number | undefined => (s ? parseRFC3339(s)?.ms : undefined);

// ARGV[3] id, [4] doc, [5] who, [6] exp, [7] dk, [8] now, [9] max open, [10] max open per identity
const CREATE = new Script(`
local id, who, dk, now = ARGV[3], ARGV[5], ARGV[7], tonumber(ARGV[8])
local ex = redis.call('GET', P .. 'dig:' .. dk)
if ex then
  local h = redis.call('HMGET', P .. 'req:' .. ex, 'state', 'exp', 'consumed_at')
  if (h[1] == 'pending' or h[1] == 'granted') and not h[3] and h[2] and tonumber(h[2]) > now then return {'exists', ex} end
end
redis.call('ZREMRANGEBYSCORE', P .. 'open', '-inf', now)
redis.call('ZREMRANGEBYSCORE', P .. 'openid:' .. who, '-inf', now)
local open = redis.call('ZCARD', P .. 'open')
if open >= tonumber(ARGV[9]) then return {'full_total', tostring(open)} end
local mine = redis.call('ZCARD', P .. 'openid:' .. who)
if mine >= tonumber(ARGV[10]) then return {'full_mine', tostring(mine)} end
redis.call('HSET', P .. 'req:' .. id, 'doc', ARGV[4], 'state', 'pending', 'who', who, 'ver', '1', 'toks', '', 'exp', ARGV[6], 'dk', dk)
redis.call('ZADD', P .. 'reqs', 0, id)
redis.call('ZADD', P .. 'open', ARGV[6], id)
redis.call('ZADD', P .. 'openid:' .. who, ARGV[6], id)
redis.call('ZADD', P .. 'exp', ARGV[6], id)
redis.call('SET', P .. 'dig:' .. dk, id)
return {'ok', tostring(redis.call('HINCRBY', P .. 'meta', 'seq', 1))}
`);

// ARGV[3] id, [4] expected ver, [5] doc, [6] state, [7] toks, [8] token that must be unmarked ('' = none),
// [9] ttl of a terminal request, [10] ttl of token->request links, [11] n revocations, then (token id, ttl) pairs
const UPDATE = new Script(`
local id = ARGV[3]
local key = P .. 'req:' .. id
local h = redis.call('HMGET', key, 'ver', 'consumed_at', 'who', 'dk')
if not h[1] then return {'gone', '0'} end
if h[1] ~= ARGV[4] or h[2] then return {'retry', '0'} end
if ARGV[8] ~= '' and redis.call('EXISTS', P .. 'tok:' .. ARGV[8]) == 1 then return {'tokused', '0'} end
local state = ARGV[6]
redis.call('HSET', key, 'doc', ARGV[5], 'state', state, 'toks', ARGV[7], 'ver', tostring(tonumber(h[1]) + 1))
for t in string.gmatch(ARGV[7], '([^ \\n]+) [0-9]*') do redis.call('SET', P .. 'tokreq:' .. t, id, 'PX', ARGV[10]) end
if state ~= 'pending' and state ~= 'granted' then
  redis.call('ZREM', P .. 'open', id)
  redis.call('ZREM', P .. 'openid:' .. h[3], id)
  redis.call('ZREM', P .. 'exp', id)
  if redis.call('GET', P .. 'dig:' .. h[4]) == id then redis.call('DEL', P .. 'dig:' .. h[4]) end
  redis.call('PEXPIRE', key, ARGV[9])
end
local n = tonumber(ARGV[11])
for i = 0, n - 1 do
  local tk = P .. 'tok:' .. ARGV[12 + 2 * i]
  if redis.call('SET', tk, 'r', 'NX') then
    local ttl = tonumber(ARGV[13 + 2 * i])
    if ttl > 0 then redis.call('PEXPIRE', tk, ttl) end
  end
end
return {'ok', tostring(redis.call('HINCRBY', P .. 'meta', 'seq', 1))}
`);

// ARGV[3] now (RFC 3339), [4] now ms, [5] retain ms, [6] n, then (token id, created ms or '', ttl) triples
const CONSUME = new Script(`
local nb = meta[3] and tonumber(meta[3])
local now, retain, n = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
for i = 0, n - 1 do
  local cr = ARGV[8 + 3 * i]
  if redis.call('EXISTS', P .. 'tok:' .. ARGV[7 + 3 * i]) == 1 then return {0, '0'} end
  if nb and (cr == '' or tonumber(cr) < nb) then return {0, '0'} end
end
local mark = {}
for i = 0, n - 1 do mark[ARGV[7 + 3 * i]] = tonumber(ARGV[9 + 3 * i]) end
for i = 0, n - 1 do
  local rid = redis.call('GET', P .. 'tokreq:' .. ARGV[7 + 3 * i])
  if rid then
    local key = P .. 'req:' .. rid
    local h = redis.call('HMGET', key, 'state', 'consumed_at', 'toks', 'who', 'dk', 'ver')
    if h[1] then
      for t, e in string.gmatch(h[3] or '', '([^ \\n]+) ([0-9]*)') do
        if not mark[t] then
          if e == '' then mark[t] = 0 else mark[t] = math.max(1, tonumber(e) - now + retain) end
        end
      end
      if (h[1] == 'pending' or h[1] == 'granted') and not h[2] then
        redis.call('HSET', key, 'consumed_at', ARGV[3], 'ver', tostring(tonumber(h[6]) + 1))
        redis.call('ZREM', P .. 'open', rid)
        redis.call('ZREM', P .. 'openid:' .. h[4], rid)
        redis.call('ZREM', P .. 'exp', rid)
        if redis.call('GET', P .. 'dig:' .. h[5]) == rid then redis.call('DEL', P .. 'dig:' .. h[5]) end
        redis.call('PEXPIRE', key, retain)
      end
    end
  end
end
for t, ttl in pairs(mark) do
  local tk = P .. 'tok:' .. t
  if redis.call('SET', tk, 'c', 'NX') and ttl > 0 then redis.call('PEXPIRE', tk, ttl) end
end
return {1, tostring(redis.call('HINCRBY', P .. 'meta', 'seq', 1))}
`);

// ARGV[3] n, then (token id, created ms or '') pairs; returns one of '', 'consumed', 'revoked' per token
const STATUS = new Script(`
local nb = meta[3] and tonumber(meta[3])
local out = {}
for i = 0, tonumber(ARGV[3]) - 1 do
  local v = redis.call('GET', P .. 'tok:' .. ARGV[4 + 2 * i])
  local cr = ARGV[5 + 2 * i]
  if v == 'c' then out[i + 1] = 'consumed'
  elseif v == 'r' then out[i + 1] = 'revoked'
  elseif nb and (cr == '' or tonumber(cr) < nb) then out[i + 1] = 'revoked'
  else out[i + 1] = '' end
end
return out
`);

// ARGV[3..] request ids; returns (doc, consumed_at, ver) per id (false when missing)
const READ = new Script(`
local out = {}
for i = 3, #ARGV do
  local h = redis.call('HMGET', P .. 'req:' .. ARGV[i], 'doc', 'consumed_at', 'ver')
  out[#out + 1] = h[1] or ''
  out[#out + 1] = h[2] or ''
  out[#out + 1] = h[3] or ''
end
return out
`);

/** The request as stored, with a spend applied (a spend marks `consumed_at` without rewriting the JSON). */
function fromStored(doc: string, consumedAt: string): ApprovalRequest {
  const r = JSON.parse(doc) as ApprovalRequest;
  if (consumedAt && OPEN_STATES.has(r.state)) return { ...r, state: "consumed", consumed_at: consumedAt, updated_at: consumedAt };
  return r;
}

/** Token ids go into keys and the `toks` list: no whitespace or control characters (ours are hex). */
function checkTokenId(id: string): void {
  if (/[\s\u0000-\u001f\u007f]/.test(id) || id.length > 200) throw new ApprovalStoreError("invalid", `approval token id ${JSON.stringify(id.slice(0, 40))} is not usable (no spaces or control characters, at most 200 characters)`);
}

export class RedisApprovalStore implements ApprovalStore {
  private readonly now: () => number;
  private readonly retainMs: number;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly state: SharedState,
    private readonly opts: RedisApprovalStoreOptions = {},
  ) {
    this.now = opts.now ?? state.now;
    this.retainMs = opts.retainMs ?? 7 * DAY_MS;
    const every = opts.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => {
        this.expireDue().catch((e: Error) => opts.onWarning?.(`approval expiry sweep failed: ${e.message}`));
      }, every);
      this.timer.unref();
    }
  }

  head(): LedgerHead {
    return { seq: this.state.seq, hash: `redis:${this.state.meta.id}` };
  }

  async create(input: NewApprovalRequest): Promise<CreateResult> {
    this.usable();
    validateNew(input);
    const now = this.now();
    const req = newRequest(input, now);
    const maxOpen = this.opts.maxOpen ?? 10_000;
    const maxMine = this.opts.maxOpenPerIdentity ?? 100;
    const exp = now + input.ttl_ms;
    const [status, value] = (await this.call(() =>
      this.state.run(CREATE, [], [req.approval_request_id, JSON.stringify(req), whoKey(input.identity), exp, digestKey(input.intent_digest, input.policy_digest), now, maxOpen, maxMine]),
    )) as [string, string];
    if (status === "exists") {
      const existing = await this.get(value);
      if (existing && OPEN_STATES.has(existing.state)) return { request: existing, created: false };
      // it ended between the two reads: try again once (a new request)
      return this.create(input);
    }
    if (status === "full_total") throw new ApprovalStoreError("full", `${value} approval requests are open (limit ${maxOpen}); answer or let some expire`);
    if (status === "full_mine") throw new ApprovalStoreError("full", `identity ${JSON.stringify(input.identity)} has ${value} open approval requests (limit ${maxMine})`);
    this.changed(Number(value));
    return { request: req, created: true };
  }

  async get(id: string): Promise<ApprovalRequest | undefined> {
    this.usable();
    const got = await this.read([id]);
    const r = got[0];
    return r ? this.view(r.request, this.now()) : undefined;
  }

  async list(query: ListQuery = {}): Promise<ListPage> {
    this.usable();
    const size = Math.min(Math.max(1, Math.floor(query.page_size ?? 100)), 1000);
    const states = query.states?.length ? new Set(query.states) : undefined;
    let after = query.page_token ?? "";
    const now = this.now();
    const out: ApprovalRequest[] = [];
    for (;;) {
      const ids = (await this.call(() => this.state.pipeline([["ZRANGEBYLEX", `${this.state.prefix}reqs`, after ? `(${after}` : "-", "+", "LIMIT", 0, 200]])))[0] as string[];
      if (!ids.length) return { requests: out };
      const got = await this.read(ids);
      const gone: string[] = [];
      for (let i = 0; i < ids.length; i++) {
        after = ids[i]!;
        const r = got[i];
        if (!r) {
          gone.push(ids[i]!);
          continue;
        }
        const v = this.view(r.request, now);
        if (states && !states.has(v.state)) continue;
        if (out.length === size) return { requests: out, next_page_token: out[out.length - 1]!.approval_request_id };
        out.push(v);
      }
      // ids of requests Redis expired (retention): drop them from the index
      if (gone.length) await this.call(() => this.state.pipeline([["ZREM", `${this.state.prefix}reqs`, ...gone]])).catch(() => undefined);
    }
  }

  async grant(id: string, token: ApprovalToken): Promise<GrantResult> {
    this.usable();
    const who = grantingApprover(token);
    checkTokenId(token.token_id);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = (await this.read([id]))[0];
      if (!cur) throw new ApprovalStoreError("not_found", `approval request ${id} not found`);
      const r = cur.request;
      const now = this.now();
      // spent or revoked: checked atomically by the update below ("tokused")
      const step = grantStep(id, r, this.effectiveState(r, now), token, who, now, () => false);
      if (step.kind === "existing") return { request: r, token: structuredClone(step.token), added: false };
      const res = await this.update(id, cur.ver, step.next, now, token.token_id, []);
      if (res === "retry") continue;
      if (res === "gone") throw new ApprovalStoreError("not_found", `approval request ${id} not found`);
      if (res === "tokused") throw new ApprovalStoreError("conflict", `approval token ${token.token_id} was already used or revoked; mint a new one`);
      return { request: step.next, token: structuredClone(token), added: true };
    }
    throw new ApprovalStoreError("io", `approval request ${id} kept changing under concurrent updates; retry`);
  }

  async deny(id: string, deniedBy: string, reason: string): Promise<ApprovalRequest> {
    this.usable();
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = (await this.read([id]))[0];
      if (!cur) throw new ApprovalStoreError("not_found", `approval request ${id} not found`);
      const r = cur.request;
      const now = this.now();
      const state = this.effectiveState(r, now);
      if (state === "denied") return r;
      if (state !== "pending" && state !== "granted") throw new ApprovalStoreError("conflict", `approval request ${id} is ${state}; it can no longer be denied`);
      const next: ApprovalRequest = { ...structuredClone(r), state: "denied", denied_by: deniedBy, deny_reason: reason, updated_at: formatGoTime(now) };
      // the tokens already minted for it are revoked in the same step: the agent may hold them (bearer artifacts)
      const res = await this.update(id, cur.ver, next, now, "", r.tokens);
      if (res === "retry") continue;
      if (res === "gone") throw new ApprovalStoreError("not_found", `approval request ${id} not found`);
      return next;
    }
    throw new ApprovalStoreError("io", `approval request ${id} kept changing under concurrent updates; retry`);
  }

  async expireDue(): Promise<number> {
    this.usable();
    const now = this.now();
    const ids = (await this.call(() => this.state.pipeline([["ZRANGEBYSCORE", `${this.state.prefix}exp`, "-inf", now, "LIMIT", 0, 1000]])))[0] as string[];
    let n = 0;
    for (const id of ids) {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const cur = (await this.read([id]))[0];
        if (!cur) {
          await this.call(() => this.state.pipeline([["ZREM", `${this.state.prefix}exp`, id]]));
          break;
        }
        const r = cur.request;
        if (!OPEN_STATES.has(r.state) || this.effectiveState(r, now) !== "expired") break;
        const res = await this.update(id, cur.ver, { ...structuredClone(r), state: "expired", updated_at: formatGoTime(now) }, now, "", []);
        if (res === "retry") continue;
        if (res === "ok") n++;
        break;
      }
    }
    return n;
  }

  async consumeTokens(tokens: readonly ConsumeRef[], intentDigest: string): Promise<boolean> {
    if (!tokens.length || tokens.some((t) => !t || typeof t.token_id !== "string" || !t.token_id)) {
      throw new ApprovalStoreError("invalid", "consumeTokens needs at least one token id");
    }
    if (!intentDigest) throw new ApprovalStoreError("invalid", "consumeTokens needs the intent digest");
    this.usable();
    const refs = dedupe(tokens);
    const now = this.now();
    const args: (string | number)[] = [formatGoTime(now), now, this.retainMs, refs.length];
    for (const t of refs) args.push(t.token_id, timeMs(t.created_at) ?? "", this.markTtl(t.expires_at, now));
    const [ok, seq] = (await this.call(() => this.state.run(CONSUME, [], args))) as [number, string];
    if (ok !== 1) return false;
    this.changed(Number(seq));
    return true;
  }

  async tokenStatus(tokens: readonly ConsumeRef[]): Promise<ReadonlyMap<string, TokenBlock>> {
    if (!Array.isArray(tokens) || tokens.some((t) => !t || typeof t.token_id !== "string" || !t.token_id)) {
      throw new ApprovalStoreError("invalid", "tokenStatus needs a list of non-empty token ids");
    }
    this.usable();
    const out = new Map<string, TokenBlock>();
    if (!tokens.length) return out;
    const args: (string | number)[] = [tokens.length];
    for (const t of tokens) args.push(t.token_id, timeMs(t.created_at) ?? "");
    const res = (await this.call(() => this.state.run(STATUS, [], args))) as string[];
    tokens.forEach((t, i) => {
      const b = res[i];
      if (b === "consumed" || b === "revoked") out.set(t.token_id, b);
    });
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
  }

  // ---- internals --------------------------------------------------------------------------------------------------

  private usable(): void {
    if (this.closed) throw new ApprovalStoreError("closed", "approval store is closed");
  }

  /** Shared-state failures become ApprovalStoreErrors (`io`: unavailable; `rolled_back`; `closed`). */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    this.usable();
    try {
      return await fn();
    } catch (e) {
      if (isSharedStateError(e)) throw new ApprovalStoreError(e.code === "unavailable" ? "io" : e.code, e.message, { cause: e });
      throw e;
    }
  }

  private changed(seq: number): void {
    this.state.observeSeq(seq);
    this.opts.onChange?.(this.head());
  }

  /** How long to keep a token's spent/revoked mark: until a retention period after it expires (0 = forever). */
  private markTtl(expiresAt: string | undefined, now: number): number {
    const exp = timeMs(expiresAt);
    return exp === undefined ? 0 : Math.max(1, exp - now + this.retainMs);
  }

  private async read(ids: readonly string[]): Promise<({ request: ApprovalRequest; ver: string } | undefined)[]> {
    const flat = (await this.call(() => this.state.run(READ, [], ids))) as string[];
    return ids.map((_, i) => {
      const doc = flat[3 * i]!;
      if (!doc) return undefined;
      try {
        return { request: fromStored(doc, flat[3 * i + 1]!), ver: flat[3 * i + 2]! };
      } catch (e) {
        throw new ApprovalStoreError("corrupt", `approval request ${ids[i]} in the shared state is not valid JSON (${(e as Error).message})`);
      }
    });
  }

  /** Compare-and-set one request (and revoke `revoke`'s tokens in the same step). */
  private async update(id: string, ver: string, next: ApprovalRequest, now: number, unmarked: string, revoke: readonly ApprovalToken[]): Promise<"ok" | "retry" | "gone" | "tokused"> {
    const toks = next.tokens.map((t) => `${t.token_id} ${timeMs(t.expires_at) ?? ""}`).join("\n");
    const reqTtl = Math.max(1, (timeMs(next.expires_at) ?? now) - now) + this.retainMs;
    const args: (string | number)[] = [id, ver, JSON.stringify(next), next.state, toks, unmarked, this.retainMs, reqTtl, revoke.length];
    for (const t of revoke) args.push(t.token_id, this.markTtl(t.expires_at, now));
    const [status, seq] = (await this.call(() => this.state.run(UPDATE, [], args))) as [string, string];
    if (status === "ok") this.changed(Number(seq));
    return status as "ok" | "retry" | "gone" | "tokused";
  }

  private effectiveState(r: ApprovalRequest, now: number): ApprovalState {
    if (OPEN_STATES.has(r.state)) {
      const exp = timeMs(r.expires_at);
      if (exp === undefined || now >= exp) return "expired";
    }
    return r.state;
  }

  private view(r: ApprovalRequest, now: number): ApprovalRequest {
    const state = this.effectiveState(r, now);
    return state === r.state ? r : { ...r, state };
  }
}

/** The identity's key part: a hash of the identity as compared (one person, one key; bounded key length). */
function whoKey(identity: string): string {
  return sha256Hex(identityKey(identity)).slice(0, 32);
}

function digestKey(intentDigest: string, policyDigest: string): string {
  return sha256Hex(`${intentDigest}:${policyDigest}`).slice(0, 40);
}
