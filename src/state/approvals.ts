/**
 * Durable pending approval requests and single-use, revocable approval tokens (the approval ledger).
 *
 * Gait's approval tokens are bearer artifacts with no replay store (evidence.md §7.4). The service adds on top:
 * - a pending request an operator can find (list/get) and answer: grant (a signed token) or deny;
 * - one token per approver per request: a second grant by the same approver (identities compared as identities,
 *   engine/identity.ts) returns the token already granted, so one approval is never two executions; the quorum of a
 *   request counts distinct approvers; the agent whose call waits cannot approve it;
 * - revocation: denying a request revokes every token granted for it, wherever the agent presents it;
 * - single use: a token lets exactly one decision through, and spending any token of a request spends the request
 *   (all of its tokens);
 * - a reset floor (`not_before`): after an operator resets lost state, every token created before the reset is
 *   refused, so losing the ledger can never make a spent token good again.
 *
 * {@link ApprovalStore} is the contract (run by test/unit/state/approvals.contract.ts for every implementation).
 * {@link FileApprovalStore} is the durable local implementation, protected like the trace log:
 * - `approvals.jsonl`: a hash-chained journal (`{"seq","prev","hash","op"}` lines, hash =
 *   sha256(prev:seq:sha256(op JSON))), starting with a signed anchor line that names the chain head it continues
 *   from (compaction rewrites the journal as anchor + snapshot, continuing the same chain);
 * - `approvals.head`: a signed head marker (durable/marker.ts) rewritten after every change, with the trace log
 *   head of the time (`trace_seq`, for the cross-check at start-up);
 * - open() refuses a journal that went backwards (behind its marker, a marker without a journal or a journal without
 *   a marker, a broken chain) with a message that says what was found and how to recover; `reset` starts a fresh
 *   ledger whose floor refuses every earlier token.
 * One fsync per mutation (journal) plus one for the marker; all writes are serialized through one queue. It fails
 * closed: a mutation whose write fails rejects (a failed consumption is an error, never a `true`), and the store then
 * refuses mutations until reopened.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp, constants as fsc } from "node:fs";
import { join } from "node:path";
import type { ApprovalToken } from "../engine/types.js";
import { formatGoTime, parseRFC3339 } from "../engine/time.js";
import { identityKey } from "../engine/identity.js";
import { sha256Hex } from "../engine/canon.js";
import { signDocument, verifyDocument, type SignatureObject, type Signer, type Verifier } from "../engine/signature.js";
import { lockDir, type DirLock } from "../infra/lock.js";
import { writeFileAtomic } from "../infra/fs.js";
import { HeadMarker, type HeadMark } from "../infra/marker.js";

/** Lifecycle: pending → granted (quorum reached) → consumed (a decision used it); pending|granted → denied|expired. */
export type ApprovalState = "pending" | "granted" | "denied" | "expired" | "consumed";

/** All states, for list filters. */
export const APPROVAL_STATES: readonly ApprovalState[] = ["pending", "granted", "denied", "expired", "consumed"];

/** A stored approval request. Times are Go RFC 3339 strings (UTC). */
export interface ApprovalRequest {
  /** `apr_` + 12 hex of the creation time in ms + 10 random hex: unique and sortable by creation. */
  approval_request_id: string;
  state: ApprovalState;
  tool_name: string;
  intent_digest: string;
  policy_digest: string;
  args_digest: string;
  /** Digest of the intent's normalized delegation (gate.md §5), present when the waiting call is delegated: a token
   * for this request must carry the same `delegation_binding_digest`, or the engine refuses it
   * (`approval_token_delegation_binding_mismatch`). Lowercase sha256 hex. */
  delegation_binding_digest?: string;
  /** Scopes a token must carry (`tool:<name>`, `phase:apply`, ...), lowercase and sorted. */
  required_scopes: string[];
  /** Distinct approvers needed (policy `min_approvals`, at least 1). */
  required_approvals: number;
  /** The policy asked for distinct approvers (`require_distinct_approvers`); the ledger always counts distinct
   * approver identities, so this is informational. */
  require_distinct_approvers?: boolean;
  /** Approver identities of the tokens granted so far, in grant order, one per distinct identity. */
  approvers: string[];
  /** Identity of the agent whose call is waiting. */
  identity: string;
  run_id?: string;
  session_id?: string;
  /** Reason codes of the `require_approval` decision. */
  reason_codes: string[];
  /** trace_id of the `require_approval` decision. */
  trace_id: string;
  created_at: string;
  expires_at: string;
  updated_at: string;
  /** Signed approval tokens granted for this request, one per distinct approver. */
  tokens: ApprovalToken[];
  denied_by?: string;
  deny_reason?: string;
  consumed_at?: string;
}

/** Input of {@link ApprovalStore.create}. */
export interface NewApprovalRequest {
  tool_name: string;
  intent_digest: string;
  policy_digest: string;
  args_digest: string;
  /** `delegationDigest(intent.delegation)` when the intent has a delegation (64 hex); omit otherwise. */
  delegation_binding_digest?: string;
  required_scopes: string[];
  required_approvals: number;
  require_distinct_approvers?: boolean;
  identity: string;
  run_id?: string;
  session_id?: string;
  reason_codes: string[];
  trace_id: string;
  /** How long the request stays answerable, in ms (> 0). */
  ttl_ms: number;
}

/** Result of {@link ApprovalStore.create}. */
export interface CreateResult {
  request: ApprovalRequest;
  /** False when an open request for the same intent and policy digest already existed and was returned. */
  created: boolean;
}

/** Result of {@link ApprovalStore.grant}. */
export interface GrantResult {
  request: ApprovalRequest;
  /** The token this approver holds for the request: the one passed in, or the one granted earlier. */
  token: ApprovalToken;
  /** False when the approver had already granted (idempotent: nothing changed). */
  added: boolean;
}

/** Query of {@link ApprovalStore.list}. */
export interface ListQuery {
  /** Only these states (after lazy expiry). @defaultValue every state */
  states?: readonly ApprovalState[];
  /** @defaultValue 100 (at most 1000) */
  page_size?: number;
  /** `next_page_token` of the previous page. */
  page_token?: string;
}

/** One page of {@link ApprovalStore.list}, oldest first. */
export interface ListPage {
  requests: ApprovalRequest[];
  /** Present when more requests may follow. */
  next_page_token?: string;
}

/** A token to consume: its id and, when known, its expiry (lets compaction forget it after it expired). */
export interface ConsumeRef {
  token_id: string;
  expires_at?: string;
  /** The token's created_at: a token created before the ledger's reset floor is refused. */
  created_at?: string;
}

/** Why a token may not be used. */
export type TokenBlock = "consumed" | "revoked";

/** The ledger's head, for cross-checks with the trace log. */
export interface LedgerHead {
  seq: number;
  hash: string;
}

/**
 * Storage contract for approval requests and single-use tokens. Every method may reject with
 * {@link ApprovalStoreError}; a rejection must be treated as "not approved".
 */
export interface ApprovalStore {
  /** Create a pending request; idempotent while an open (pending or granted, unexpired) request exists for the same
   * intent_digest + policy_digest: that one is returned with `created: false`. */
  create(input: NewApprovalRequest): Promise<CreateResult>;
  /** A request by id (state reflects expiry even before the sweep persisted it), or undefined. */
  get(id: string): Promise<ApprovalRequest | undefined>;
  /** Requests oldest first, filtered by state, paginated. */
  list(query?: ListQuery): Promise<ListPage>;
  /** Add a validated token. One token per approver identity: when the same approver already holds an unexpired
   * token for the request, that token is returned and nothing changes (`added: false`); an expired one is replaced.
   * The request becomes `granted` when its distinct approvers reach `required_approvals`. Rejects `not_found`,
   * `conflict` (denied/expired/consumed, or the token was already used or revoked), `invalid` (token bound to
   * another intent or policy), `forbidden` (the approver is the agent whose call waits). */
  grant(id: string, token: ApprovalToken): Promise<GrantResult>;
  /** Deny a pending or granted request (idempotent for a denied one) and revoke every token granted for it.
   * Rejects `not_found`, `conflict`. */
  deny(id: string, deniedBy: string, reason: string): Promise<ApprovalRequest>;
  /** Persist expiry of every pending/granted request past `expires_at`; returns how many changed. */
  expireDue(): Promise<number>;
  /** Atomically mark all tokens used: true only if none was used or revoked before and none predates the reset
   * floor (then all are, durably, and every request holding one of them becomes `consumed` with all its tokens);
   * false, changing nothing, otherwise. Rejects when the change cannot be made durable: the caller must then not
   * allow. */
  consumeTokens(tokens: readonly ConsumeRef[], intentDigest: string): Promise<boolean>;
  /** Which of `tokens` may not be used, and why (a read: nothing changes). Advisory: {@link consumeTokens} stays
   * the single authority. Rejects `invalid` for an empty id and `closed` after close(). */
  tokenStatus(tokens: readonly ConsumeRef[]): Promise<ReadonlyMap<string, TokenBlock>>;
  /** The ledger head (seq 0 when empty). */
  head(): LedgerHead;
  /** Stop background work and release files. */
  close(): Promise<void>;
}

/** Error of an approval store; `code` is stable for mapping to statuses at the edge. */
export class ApprovalStoreError extends Error {
  override name = "ApprovalStoreError";
  constructor(
    /** `not_found`, `conflict` (wrong state), `invalid` (bad input), `forbidden` (self-approval), `io` (this write
     * failed), `failed` (an earlier write failed; reopen), `closed`, `corrupt` (journal unreadable), `rolled_back`
     * (state went backwards), `locked` (another process has it), `full` (too many open requests: a flood of distinct
     * calls must not grow the ledger without bound). */
    readonly code: "not_found" | "conflict" | "invalid" | "forbidden" | "full" | "io" | "failed" | "closed" | "corrupt" | "rolled_back" | "locked",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Name-based guard (survives duplicated module copies). */
export function isApprovalStoreError(e: unknown): e is ApprovalStoreError {
  return typeof e === "object" && e !== null && (e as Error).name === "ApprovalStoreError" && typeof (e as ApprovalStoreError).code === "string";
}

/** Options of {@link FileApprovalStore.open}. */
export interface FileApprovalStoreOptions {
  /** Directory of the journal (`approvals.jsonl`) and marker (`approvals.head`); created 0700 when missing. */
  dir: string;
  /** Signs the journal anchor and the head marker (the server's signing key). */
  signer: Signer & Verifier;
  /** Clock in ms since the epoch. @defaultValue Date.now */
  now?: () => number;
  /** Period of the background expiry sweep; 0 = none (call expireDue()). @defaultValue 60000 */
  sweepIntervalMs?: number;
  /** Terminal requests (denied/expired/consumed) and spent/revoked marks of expired tokens are dropped at compaction
   * (open) once older than this. @defaultValue 7 days */
  retainMs?: number;
  /** Start a new, empty ledger whatever the directory holds (an operator's recovery after lost or rolled-back
   * state): the old files are moved aside and every token created before now is refused from then on. */
  reset?: boolean;
  /** The trace log's durable head, recorded in the marker with every change (`trace_seq`). */
  traceSeq?: () => number;
  /** Called with the new head after every durable change (the server records it in the trace log's marker). */
  onChange?: (head: LedgerHead) => void;
  /** Open (pending or granted) requests kept at most; create() beyond it rejects `full`. @defaultValue 10000 */
  maxOpen?: number;
  /** Open requests one identity may have at most; create() beyond it rejects `full`. @defaultValue 100 */
  maxOpenPerIdentity?: number;
  /** Receives background sweep problems and key-rotation notices. @defaultValue ignore */
  onWarning?: (message: string) => void;
}

/** What open() loaded; log it. */
export interface ApprovalStoreRecovery {
  requests: number;
  spent_tokens: number;
  revoked_tokens: number;
  /** Journal lines read before compaction. */
  journal_lines: number;
  /** Bytes of a torn final line (an interrupted, unacknowledged write) that were dropped. */
  torn_bytes: number;
  /** The trace log head recorded in the marker (0 when none): the trace log must not be behind it. */
  marker_trace_seq: number;
  /** The reset floor, when the ledger was reset. */
  not_before?: string;
  /** Where the old files went when `reset` was used. */
  reset_moved_to?: string;
}

type JournalOp =
  | { op: "put"; request: ApprovalRequest }
  | { op: "consume"; at: string; intent_digest: string; tokens: ConsumeRef[] }
  | { op: "revoke"; at: string; request_id: string; tokens: ConsumeRef[] };

interface Mark {
  /** the op that set it */
  at: string;
  expires_at?: string;
}

/** The signed first line of a journal: the chain head it continues from, and the reset floor. */
interface Anchor {
  schema_id: "gait.approvals.anchor";
  seq: number;
  hash: string;
  not_before?: string;
  created_at: string;
  key_id: string;
  signature?: SignatureObject;
}

const JOURNAL = "approvals.jsonl";
const MARKER = "approvals.head";
const LOCK = "approvals.lock";
const DAY_MS = 86_400_000;
const GENESIS = "0".repeat(64);
const OPEN_STATES: ReadonlySet<ApprovalState> = new Set(["pending", "granted"]);

function timeMs(s: string | undefined): number | undefined {
  return s ? parseRFC3339(s)?.ms : undefined;
}

function clone<T>(r: T): T {
  return structuredClone(r);
}

const opHash = (prev: string, seq: number, opText: string): string => sha256Hex(`${prev}:${seq}:${sha256Hex(opText)}`);

/** The durable file-backed {@link ApprovalStore}. */
export class FileApprovalStore implements ApprovalStore {
  private readonly requests = new Map<string, ApprovalRequest>();
  private readonly spent = new Map<string, Mark>();
  private readonly revoked = new Map<string, Mark>();
  private notBefore: string | undefined;
  private notBeforeMs: number | undefined;
  private seq = 0;
  private hash = GENESIS;
  private fh!: fsp.FileHandle;
  private marker!: HeadMarker;
  private lock!: DirLock;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** What open() loaded. */
  recovery!: ApprovalStoreRecovery;

  private constructor(
    readonly dir: string,
    private readonly opts: FileApprovalStoreOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Open (or create) the store: take the lock, load and verify the journal against its marker, compact it, start
   * the expiry sweep. Rejects `corrupt` (an unreadable line other than a torn final one, a broken chain) and
   * `rolled_back` (the journal is behind its marker, or one of the two is missing): spent tokens would be lost.
   */
  static async open(options: FileApprovalStoreOptions): Promise<FileApprovalStore> {
    if (!options.dir) throw new TypeError("approval store directory is required");
    if (!options.signer) throw new TypeError("approval store needs the server's signer");
    const store = new FileApprovalStore(options.dir, options);
    await fsp.mkdir(options.dir, { recursive: true, mode: 0o700 });
    store.lock = await lockDir(options.dir, `approval ledger ${options.dir}`, "--state directory", (m) => new ApprovalStoreError("locked", m), { lockName: LOCK });
    try {
      let moved: string | undefined;
      if (options.reset) moved = await store.moveAside();
      await store.load(options.reset === true);
      if (moved) store.recovery.reset_moved_to = moved;
      store.fh = await fsp.open(join(options.dir, JOURNAL), fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o600);
    } catch (e) {
      await store.marker?.close();
      await store.lock.release();
      throw e;
    }
    const every = options.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      store.timer = setInterval(() => {
        store.expireDue().catch((e: Error) => options.onWarning?.(`approval expiry sweep failed: ${e.message}`));
      }, every);
      store.timer.unref();
    }
    return store;
  }

  head(): LedgerHead {
    return { seq: this.seq, hash: this.hash };
  }

  async create(input: NewApprovalRequest): Promise<CreateResult> {
    validateNew(input);
    return this.mutate(async () => {
      const now = this.now();
      const existingId = this.openByDigest.get(`${input.intent_digest}:${input.policy_digest}`);
      const existing = existingId ? this.requests.get(existingId) : undefined;
      if (existing && this.isOpen(existing, now)) return { request: clone(existing), created: false };
      const who = identityKey(input.identity);
      const maxOpen = this.opts.maxOpen ?? 10_000;
      const maxMine = this.opts.maxOpenPerIdentity ?? 100;
      // the counts include requests that expired since the last sweep: recount exactly only when they say "full" and
      // a counted request may have expired since (else every call of an identity at its cap would scan all requests)
      if ((this.openCount >= maxOpen || (this.openPerIdentity.get(who) ?? 0) >= maxMine) && now >= this.earliestOpenExpiry) this.recountOpen(now);
      const open = this.openCount;
      const mine = this.openPerIdentity.get(who) ?? 0;
      if (open >= maxOpen || mine >= maxMine) {
        throw new ApprovalStoreError("full", open >= maxOpen ? `${open} approval requests are open (limit ${maxOpen}); answer or let some expire` : `identity ${JSON.stringify(input.identity)} has ${mine} open approval requests (limit ${maxMine})`);
      }
      const req = newRequest(input, now);
      this.stage({ op: "put", request: req });
      return { request: clone(req), created: true };
    });
  }

  /** After a failed commit the in-memory state may hold changes that never became durable: answer nothing. */
  private readable(): void {
    if (this.closed) throw new ApprovalStoreError("closed", "approval store is closed");
    if (this.failure) throw new ApprovalStoreError("failed", `approval store is unavailable after a journal write failed (${this.failure.message}); reopen it`, { cause: this.failure });
  }

  async get(id: string): Promise<ApprovalRequest | undefined> {
    this.readable();
    const r = this.requests.get(id);
    return r ? this.view(r, this.now()) : undefined;
  }

  async list(query: ListQuery = {}): Promise<ListPage> {
    this.readable();
    const size = Math.min(Math.max(1, Math.floor(query.page_size ?? 100)), 1000);
    const states = query.states?.length ? new Set(query.states) : undefined;
    const after = query.page_token ?? "";
    const now = this.now();
    const ids = [...this.requests.keys()].filter((id) => id > after).sort();
    const out: ApprovalRequest[] = [];
    let more = false;
    for (const id of ids) {
      const v = this.view(this.requests.get(id)!, now);
      if (states && !states.has(v.state)) continue;
      if (out.length === size) {
        more = true;
        break;
      }
      out.push(v);
    }
    return more ? { requests: out, next_page_token: out[out.length - 1]!.approval_request_id } : { requests: out };
  }

  async grant(id: string, token: ApprovalToken): Promise<GrantResult> {
    const who = grantingApprover(token);
    return this.mutate(async () => {
      const r = this.mustGet(id);
      const now = this.now();
      const step = grantStep(id, r, this.effectiveState(r, now), token, who, now, (t) => this.spent.has(t) || this.revoked.has(t));
      if (step.kind === "existing") return { request: clone(r), token: clone(step.token), added: false };
      this.stage({ op: "put", request: step.next });
      return { request: clone(step.next), token: clone(token), added: true };
    });
  }

  async deny(id: string, deniedBy: string, reason: string): Promise<ApprovalRequest> {
    return this.mutate(async () => {
      const r = this.mustGet(id);
      const now = this.now();
      const state = this.effectiveState(r, now);
      if (state === "denied") return clone(r);
      if (state !== "pending" && state !== "granted") {
        throw new ApprovalStoreError("conflict", `approval request ${id} is ${state}; it can no longer be denied`);
      }
      const at = formatGoTime(now);
      const next: ApprovalRequest = { ...clone(r), state: "denied", denied_by: deniedBy, deny_reason: reason, updated_at: at };
      this.stage({ op: "put", request: next });
      // the tokens already minted for it are revoked: the agent may hold them (bearer artifacts)
      if (r.tokens.length) this.stage({ op: "revoke", at, request_id: id, tokens: r.tokens.map(refOf) });
      return clone(next);
    });
  }

  async expireDue(): Promise<number> {
    return this.mutate(async () => {
      const now = this.now();
      let n = 0;
      for (const r of [...this.requests.values()]) {
        if (!OPEN_STATES.has(r.state) || this.effectiveState(r, now) !== "expired") continue;
        this.stage({ op: "put", request: { ...clone(r), state: "expired", updated_at: formatGoTime(now) } });
        n++;
      }
      return n;
    });
  }

  async consumeTokens(tokens: readonly ConsumeRef[], intentDigest: string): Promise<boolean> {
    if (!tokens.length || tokens.some((t) => !t || typeof t.token_id !== "string" || !t.token_id)) {
      throw new ApprovalStoreError("invalid", "consumeTokens needs at least one token id");
    }
    if (!intentDigest) throw new ApprovalStoreError("invalid", "consumeTokens needs the intent digest");
    const refs = dedupe(tokens);
    return this.mutate(async () => {
      if (refs.some((t) => this.blocked(t) !== undefined)) return false;
      // spending one token of a request spends the request: all of its tokens go with it
      const ids = new Set(refs.map((t) => t.token_id));
      const all = new Map(refs.map((t) => [t.token_id, t]));
      for (const r of this.requests.values()) {
        if (r.tokens.some((t) => ids.has(t.token_id))) for (const t of r.tokens) if (!all.has(t.token_id)) all.set(t.token_id, refOf(t));
      }
      this.stage({ op: "consume", at: formatGoTime(this.now()), intent_digest: intentDigest, tokens: [...all.values()] });
      return true;
    });
  }

  async tokenStatus(tokens: readonly ConsumeRef[]): Promise<ReadonlyMap<string, TokenBlock>> {
    if (!Array.isArray(tokens) || tokens.some((t) => !t || typeof t.token_id !== "string" || !t.token_id)) {
      throw new ApprovalStoreError("invalid", "tokenStatus needs a list of non-empty token ids");
    }
    this.readable();
    const out = new Map<string, TokenBlock>();
    for (const t of tokens) {
      const b = this.blocked(t);
      if (b) out.set(t.token_id, b);
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.queue.catch(() => undefined);
    await this.durable(this.seq).catch(() => undefined);
    await this.fh?.close().catch(() => undefined);
    if (!this.failure) await this.marker?.sync().catch(() => undefined);
    await this.marker?.close();
    await this.lock.release();
  }

  // ---- internals --------------------------------------------------------------------------------------------------

  /** Open requests by `intent:policy` digest (the idempotency key of create), and open counts in total and per
   * identity key, maintained as requests change (expiry is lazy: see recountOpen). */
  private readonly openByDigest = new Map<string, string>();
  private openCount = 0;
  private readonly openPerIdentity = new Map<string, number>();
  /** No counted request expires before this (ms): until then the counts are exact. Lowered as requests are counted,
   * never raised but by recountOpen (a request no longer counted may keep it low: one recount too many, no harm). */
  private earliestOpenExpiry = Infinity;

  private countOpen(r: ApprovalRequest, delta: 1 | -1): void {
    this.openCount += delta;
    if (delta > 0) this.earliestOpenExpiry = Math.min(this.earliestOpenExpiry, timeMs(r.expires_at) ?? -Infinity);
    const k = identityKey(r.identity);
    const n = (this.openPerIdentity.get(k) ?? 0) + delta;
    if (n > 0) this.openPerIdentity.set(k, n);
    else this.openPerIdentity.delete(k);
    const key = `${r.intent_digest}:${r.policy_digest}`;
    if (delta > 0) this.openByDigest.set(key, r.approval_request_id);
    else if (this.openByDigest.get(key) === r.approval_request_id) this.openByDigest.delete(key);
  }

  private setRequest(r: ApprovalRequest): void {
    const prev = this.requests.get(r.approval_request_id);
    if (prev && OPEN_STATES.has(prev.state)) this.countOpen(prev, -1);
    this.requests.set(r.approval_request_id, r);
    if (OPEN_STATES.has(r.state)) this.countOpen(r, 1);
  }

  private deleteRequest(id: string): void {
    const prev = this.requests.get(id);
    if (prev && OPEN_STATES.has(prev.state)) this.countOpen(prev, -1);
    this.requests.delete(id);
  }

  /** Recompute the open counts with expiry applied (a scan; used only when the counts say "full" and a counted
   * request may have expired). */
  private recountOpen(now: number): void {
    this.openCount = 0;
    this.openPerIdentity.clear();
    this.openByDigest.clear();
    this.earliestOpenExpiry = Infinity;
    for (const r of this.requests.values()) if (this.isOpen(r, now)) this.countOpen(r, 1);
  }

  /** Why `t` may not be used, or undefined. */
  private blocked(t: ConsumeRef): TokenBlock | undefined {
    if (this.spent.has(t.token_id)) return "consumed";
    if (this.revoked.has(t.token_id)) return "revoked";
    if (this.notBeforeMs !== undefined) {
      // after a reset, only tokens created after it count (an unknown creation time is refused)
      const c = timeMs(t.created_at);
      if (c === undefined || c < this.notBeforeMs) return "revoked";
    }
    return undefined;
  }

  /**
   * Run `fn` after every earlier mutation (one writer), failing fast when closed or failed. `fn` decides on the
   * in-memory state and stages its journal ops (stage()); the next mutation may run at once, while the caller's
   * promise resolves only after a group commit has made everything staged so far durable (one write and one fdatasync
   * for all the mutations staged meanwhile). A failed commit rejects every waiting caller and fails the store.
   */
  private mutate<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = async (): Promise<{ value: T; seq: number }> => {
      if (this.closed) throw new ApprovalStoreError("closed", "approval store is closed");
      if (this.failure) {
        throw new ApprovalStoreError("failed", `approval store refuses changes after a journal write failed (${this.failure.message}); reopen it`, { cause: this.failure });
      }
      const value = await fn();
      return { value, seq: this.seq };
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p.then(async ({ value, seq }) => {
      await this.durable(seq);
      return value;
    });
  }

  /** Apply `op` in memory and queue its chained journal line for the next group commit. */
  private stage(op: JournalOp): void {
    const seq = this.seq + 1;
    const opText = JSON.stringify(op);
    const hash = opHash(this.hash, seq, opText);
    this.staged.push(`{"seq":${seq},"prev":"${this.hash}","hash":"${hash}","op":${opText}}\n`);
    this.seq = seq;
    this.hash = hash;
    this.apply(op);
  }

  private staged: string[] = [];
  private durableSeq = 0;
  private flushing = false;
  private waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  /** Resolves once every journal line up to `seq` is durable. */
  private durable(seq: number): Promise<void> {
    if (seq <= this.durableSeq) return Promise.resolve();
    if (this.failure && !this.flushing && !this.staged.length) return Promise.reject(this.ioError(this.failure));
    return new Promise((resolve, reject) => {
      this.waiters.push({ seq, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private ioError(cause: Error): ApprovalStoreError {
    return new ApprovalStoreError("io", `approval journal write failed (${cause.message}); the change was not made durable, and the store refuses further changes until reopened`, { cause });
  }

  /** Group commit: write every staged line, fdatasync once, then release the waiters it covers; repeat. */
  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.staged.length && !this.failure) {
        const lines = this.staged;
        this.staged = [];
        // the head these lines end at (stage() is synchronous: the last staged line is the current head)
        const last = this.seq;
        const lastHash = this.hash;
        try {
          const buf = Buffer.from(lines.join(""));
          let off = 0;
          while (off < buf.length) {
            const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
            if (bytesWritten <= 0) throw new Error("write returned 0 bytes");
            off += bytesWritten;
          }
          await this.fh.datasync();
        } catch (e) {
          this.failure = e as Error;
          break;
        }
        this.durableSeq = last;
        this.opts.onChange?.({ seq: last, hash: lastHash });
        try {
          // not fsynced per commit (the journal is): a process crash keeps it (page cache), an OS crash can leave it
          // behind the journal, which only weakens the next start's check. It is fsynced at close and compaction.
          await this.writeMarker(false, last, lastHash);
        } catch (e) {
          this.failure = e as Error; // the journal is durable; the marker lags (accepted at the next open)
        }
        this.release();
      }
    } finally {
      this.flushing = false;
    }
    if (this.failure) {
      const err = this.ioError(this.failure);
      for (const w of this.waiters.splice(0)) w.reject(err);
    } else this.release();
  }

  private release(): void {
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) (w.seq <= this.durableSeq ? w.resolve : () => keep.push(w))();
    this.waiters = keep;
  }

  /** Rewrite the marker for the head (seq, hash): never a head whose lines are not durable yet. */
  private async writeMarker(sync = true, seq = this.seq, hash = this.hash): Promise<void> {
    const body = { seq, hash, ...(this.notBefore ? { not_before: this.notBefore } : {}) };
    const mark: HeadMark = {
      ...body,
      trace_seq: this.opts.traceSeq?.() ?? 0,
      key_id: this.opts.signer.keyId,
      signature: signDocument({ schema_id: "gait.approvals.head", ...body }, this.opts.signer),
    };
    await this.marker.write(mark, { sync });
  }

  private apply(op: JournalOp): void {
    if (op.op === "put") {
      this.setRequest(op.request);
      return;
    }
    const target = op.op === "consume" ? this.spent : this.revoked;
    for (const t of op.tokens) target.set(t.token_id, { at: op.at, ...(t.expires_at ? { expires_at: t.expires_at } : {}) });
    if (op.op === "consume") {
      const ids = new Set(op.tokens.map((t) => t.token_id));
      for (const [id, r] of this.requests) {
        if ((r.state === "granted" || r.state === "pending") && r.tokens.some((t) => ids.has(t.token_id))) {
          this.setRequest({ ...r, state: "consumed", consumed_at: op.at, updated_at: op.at });
        }
      }
    }
  }

  private mustGet(id: string): ApprovalRequest {
    const r = this.requests.get(id);
    if (!r) throw new ApprovalStoreError("not_found", `approval request ${id} not found`);
    return r;
  }

  private effectiveState(r: ApprovalRequest, now: number): ApprovalState {
    if (OPEN_STATES.has(r.state)) {
      const exp = timeMs(r.expires_at);
      if (exp === undefined || now >= exp) return "expired";
    }
    return r.state;
  }

  private isOpen(r: ApprovalRequest, now: number): boolean {
    return OPEN_STATES.has(this.effectiveState(r, now));
  }

  private view(r: ApprovalRequest, now: number): ApprovalRequest {
    const v = clone(r);
    v.state = this.effectiveState(r, now);
    return v;
  }

  /** `reset`: move the journal and marker aside (kept for inspection). Returns where they went. */
  private async moveAside(): Promise<string | undefined> {
    const stamp = new Date(this.now()).toISOString().replace(/[:.]/g, "-");
    const to = join(this.dir, `reset-${stamp}`);
    let moved = false;
    for (const f of [JOURNAL, MARKER]) {
      try {
        await fsp.mkdir(to, { recursive: true, mode: 0o700 });
        await fsp.rename(join(this.dir, f), join(to, f));
        moved = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
    }
    if (!moved) await fsp.rm(to, { recursive: true, force: true });
    return moved ? to : undefined;
  }

  /** Read and verify the journal against the marker, replay it, then rewrite it compacted (atomic replace). */
  private async load(reset: boolean): Promise<void> {
    const path = join(this.dir, JOURNAL);
    let text = "";
    try {
      text = await fsp.readFile(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const markerExisted = await fsp.stat(join(this.dir, MARKER)).then(() => true, () => false);
    this.marker = (await HeadMarker.open(join(this.dir, MARKER), { create: true }))!;
    const mark = this.marker.mark;
    const recover = `inspect ${this.dir} (or restore it from a backup); to start over with an empty ledger that refuses every token issued before now, restart once with --reset-approval-state`;

    const parts = text.split("\n");
    const tail = parts.pop() ?? ""; // text after the last newline: a torn, unacknowledged write
    let tornBytes = Buffer.byteLength(tail);
    const lines = parts.filter((l, i) => l !== "" || i < parts.length - 1);
    /** chain hash at each seq from the anchor on (to check the marker against) */
    const hashAt = new Map<number, string>();
    let anchored = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const last = i === lines.length - 1;
      const problem = anchored ? this.replayLine(line) : this.readAnchor(line);
      if (problem === undefined) {
        if (!anchored) anchored = true;
        hashAt.set(this.seq, this.hash);
        continue;
      }
      if (last && anchored) {
        tornBytes += Buffer.byteLength(line) + 1; // a complete but damaged final line: also an interrupted write
        continue;
      }
      throw new ApprovalStoreError("corrupt", `approval journal ${path} line ${i + 1}: ${problem}; refusing to start without the spent-token state (${recover})`);
    }
    const empty = !anchored;
    // the marker: the journal must have reached at least the head it names, through the same chain
    if (!reset) {
      if (this.marker.unreadable) {
        throw new ApprovalStoreError("corrupt", `approval head marker ${this.marker.path} is unreadable; ${recover}`);
      }
      if (!mark && !empty) {
        throw new ApprovalStoreError("rolled_back", `approval journal ${path} has entries but its head marker ${MARKER} is missing (deleted, or the journal was copied in from elsewhere); ${recover}`);
      }
      if (mark && empty) {
        throw new ApprovalStoreError(
          "rolled_back",
          `approval journal ${path} is ${text ? "unreadable" : markerExisted ? "missing or empty" : "missing"} but the head marker records ${mark.seq} entries: the ledger went backwards and spent tokens could be used again; ${recover}`,
        );
      }
      if (mark) {
        const at = hashAt.get(mark.seq);
        if (this.seq < mark.seq) {
          throw new ApprovalStoreError("rolled_back", `approval journal ${path} ends at entry ${this.seq}, behind its head marker (entry ${mark.seq}): entries were removed and spent tokens could be used again; ${recover}`);
        }
        if (at !== mark.hash) {
          throw new ApprovalStoreError("rolled_back", `approval journal ${path} does not contain the head its marker records (entry ${mark.seq}): it was replaced or rewritten; ${recover}`);
        }
        this.verifyMark(mark);
      }
    }
    if (reset) this.notBefore = formatGoTime(this.now());
    this.notBeforeMs = timeMs(this.notBefore);
    this.recovery = {
      requests: 0,
      spent_tokens: 0,
      revoked_tokens: 0,
      journal_lines: lines.length,
      torn_bytes: tornBytes,
      marker_trace_seq: !reset && typeof mark?.trace_seq === "number" ? mark.trace_seq : 0,
      ...(this.notBefore ? { not_before: this.notBefore } : {}),
    };
    // rewrite the journal (a new ledger gets its anchor and a marker at seq 0)
    await this.compact();
    this.recovery.requests = this.requests.size;
    this.recovery.spent_tokens = this.spent.size;
    this.recovery.revoked_tokens = this.revoked.size;
  }

  /** Check the marker's signature with our key (a marker from another key is reported, not trusted more). */
  private verifyMark(mark: HeadMark): void {
    const body = { seq: mark.seq, hash: mark.hash, ...(typeof mark.not_before === "string" ? { not_before: mark.not_before } : {}) };
    if (mark.key_id !== this.opts.signer.keyId) {
      this.opts.onWarning?.(`approval head marker was signed by key ${String(mark.key_id)}, not the current key ${this.opts.signer.keyId} (key rotated?); its chain position was checked, its signature was not`);
      return;
    }
    try {
      verifyDocument({ schema_id: "gait.approvals.head", ...body }, mark.signature as SignatureObject, this.opts.signer);
    } catch (e) {
      throw new ApprovalStoreError("corrupt", `approval head marker ${this.marker.path} has an invalid signature (${(e as Error).message}); it was not written by this server`);
    }
  }

  /** Parse the anchor line; returns a problem or undefined. */
  private readAnchor(line: string): string | undefined {
    let doc: { anchor?: Anchor };
    try {
      doc = JSON.parse(line) as { anchor?: Anchor };
    } catch {
      return "the first line is not an anchor (not JSON)";
    }
    const a = doc.anchor;
    if (!a || a.schema_id !== "gait.approvals.anchor" || !Number.isSafeInteger(a.seq) || a.seq < 0 || typeof a.hash !== "string" || !/^[0-9a-f]{64}$/.test(a.hash)) {
      return "the first line is not an approvals anchor";
    }
    if (a.key_id === this.opts.signer.keyId) {
      const { signature, ...body } = a;
      try {
        verifyDocument(body, signature, this.opts.signer);
      } catch (e) {
        return `the anchor's signature is invalid (${(e as Error).message})`;
      }
    }
    this.seq = a.seq;
    this.hash = a.hash;
    if (typeof a.not_before === "string") this.notBefore = a.not_before;
    return undefined;
  }

  /** Verify and apply one chained op line; returns a problem or undefined. */
  private replayLine(line: string): string | undefined {
    let doc: { seq?: unknown; prev?: unknown; hash?: unknown; op?: JournalOp };
    try {
      doc = JSON.parse(line) as typeof doc;
    } catch {
      return "not JSON";
    }
    const op = doc.op;
    if (doc.seq !== this.seq + 1) return `entry seq ${String(doc.seq)}, expected ${this.seq + 1} (entries missing or reordered)`;
    if (doc.prev !== this.hash) return "prev does not match the previous entry's hash (the chain is broken)";
    if (!op || (op.op !== "put" && op.op !== "consume" && op.op !== "revoke")) return "unknown operation";
    if (op.op === "put" && !op.request?.approval_request_id) return "put without a request";
    if (op.op !== "put" && !Array.isArray(op.tokens)) return `${op.op} without tokens`;
    if (opHash(this.hash, this.seq + 1, JSON.stringify(op)) !== doc.hash) return "entry hash mismatch (the entry was altered)";
    this.seq += 1;
    this.hash = doc.hash as string;
    this.apply(op);
    return undefined;
  }

  /**
   * Drop old terminal requests and marks of long-expired tokens, and rewrite the journal as a signed anchor (the
   * current head and reset floor) plus the surviving state, continuing the chain; then point the marker at the new
   * head. A crash between the rename and the marker write leaves the marker at the anchor: accepted next time.
   */
  private async compact(): Promise<void> {
    const now = this.now();
    const retain = this.opts.retainMs ?? 7 * DAY_MS;
    for (const [id, r] of this.requests) {
      const st = this.effectiveState(r, now);
      if (!OPEN_STATES.has(st) && now - (timeMs(r.updated_at) ?? 0) > retain && now - (timeMs(r.expires_at) ?? 0) > retain) this.deleteRequest(id);
    }
    for (const marks of [this.spent, this.revoked]) {
      for (const [id, c] of marks) {
        const exp = timeMs(c.expires_at);
        if (exp !== undefined && now - exp > retain) marks.delete(id);
      }
    }
    // the marker must name the current head before the journal is replaced (so it is the new anchor)
    if (this.marker.mark?.seq !== this.seq || this.marker.mark?.hash !== this.hash || this.marker.mark?.not_before !== this.notBefore) await this.writeMarker();
    const body: Anchor = {
      schema_id: "gait.approvals.anchor",
      seq: this.seq,
      hash: this.hash,
      ...(this.notBefore ? { not_before: this.notBefore } : {}),
      created_at: formatGoTime(now),
      key_id: this.opts.signer.keyId,
    };
    const out: string[] = [JSON.stringify({ anchor: { ...body, signature: signDocument(body, this.opts.signer) } })];
    const ops: JournalOp[] = [];
    for (const r of [...this.requests.values()].sort((a, b) => (a.approval_request_id < b.approval_request_id ? -1 : 1))) ops.push({ op: "put", request: r });
    const at = formatGoTime(now);
    if (this.spent.size) ops.push({ op: "consume", at, intent_digest: "compacted", tokens: [...this.spent].map(([token_id, m]) => ({ token_id, ...(m.expires_at ? { expires_at: m.expires_at } : {}) })) });
    if (this.revoked.size) ops.push({ op: "revoke", at, request_id: "compacted", tokens: [...this.revoked].map(([token_id, m]) => ({ token_id, ...(m.expires_at ? { expires_at: m.expires_at } : {}) })) });
    let seq = this.seq;
    let hash = this.hash;
    for (const op of ops) {
      const opText = JSON.stringify(op);
      seq += 1;
      const h = opHash(hash, seq, opText);
      out.push(`{"seq":${seq},"prev":"${hash}","hash":"${h}","op":${opText}}`);
      hash = h;
    }
    await writeFileAtomic(join(this.dir, JOURNAL), out.map((l) => l + "\n").join(""), 0o600);
    this.seq = seq;
    this.hash = hash;
    this.durableSeq = seq;
    await this.writeMarker();
  }
}

export function refOf(t: ApprovalToken): ConsumeRef {
  return { token_id: t.token_id, ...(t.expires_at ? { expires_at: t.expires_at } : {}), ...(t.created_at ? { created_at: t.created_at } : {}) };
}

/** One entry per distinct approver identity, in grant order (the first spelling is kept). */
export function distinctApprovers(tokens: readonly ApprovalToken[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const t of tokens) {
    const k = identityKey(t.approver_identity ?? "");
    if (!k || seen.has(k)) continue;
    seen.add(k);
    out.push(t.approver_identity!);
  }
  return out;
}

/** The approver identity key of a token offered to grant(); refuses a token without id or approver. */
export function grantingApprover(token: ApprovalToken): string {
  if (!token || typeof token.token_id !== "string" || !token.token_id) throw new ApprovalStoreError("invalid", "approval token has no token_id");
  const who = typeof token.approver_identity === "string" ? identityKey(token.approver_identity) : "";
  if (!who) throw new ApprovalStoreError("invalid", "approval token has no approver identity");
  return who;
}

/** What granting does to a request: it already holds a token that stands, or here is the request with the new one. */
export type GrantStep = { kind: "existing"; token: ApprovalToken } | { kind: "add"; next: ApprovalRequest };

/**
 * The one grant rule of every ApprovalStore, given request `r` as it stands (`state`: its effective state at `now`)
 * and the approver key `who` of `token` ({@link grantingApprover}). Throws ApprovalStoreError when the token may not
 * grant: the request is no longer open, the token is bound to another intent, policy or delegation, or its approver
 * is the identity whose call waits. `isUsed` says whether a token id was spent or revoked (a store that checks that
 * atomically when it writes passes `() => false`). One token per approver: the same token again, or an unexpired
 * earlier grant by the same identity, stands as it is; an expired one is replaced.
 */
export function grantStep(id: string, r: ApprovalRequest, state: ApprovalState, token: ApprovalToken, who: string, now: number, isUsed: (tokenId: string) => boolean): GrantStep {
  if (state !== "pending" && state !== "granted") throw new ApprovalStoreError("conflict", `approval request ${id} is ${state}; it can no longer be granted`);
  if (token.intent_digest?.toLowerCase() !== r.intent_digest || token.policy_digest?.toLowerCase() !== r.policy_digest) {
    throw new ApprovalStoreError("invalid", `approval token ${token.token_id} is bound to another intent or policy than request ${id}`);
  }
  if (r.delegation_binding_digest && token.delegation_binding_digest?.toLowerCase() !== r.delegation_binding_digest) {
    throw new ApprovalStoreError(
      "invalid",
      `approval token ${token.token_id} does not carry request ${id}'s delegation_binding_digest ${r.delegation_binding_digest} (the waiting call is delegated)`,
    );
  }
  if (r.identity && identityKey(r.identity) === who) {
    throw new ApprovalStoreError("forbidden", `approver ${JSON.stringify(token.approver_identity)} is the identity whose call is waiting; an agent cannot approve its own call`);
  }
  const same = r.tokens.find((t) => t.token_id === token.token_id);
  if (same) return { kind: "existing", token: same };
  if (isUsed(token.token_id)) throw new ApprovalStoreError("conflict", `approval token ${token.token_id} was already used or revoked; mint a new one`);
  const mine = r.tokens.findIndex((t) => identityKey(t.approver_identity ?? "") === who);
  if (mine >= 0) {
    const held = r.tokens[mine]!;
    const exp = timeMs(held.expires_at);
    if (exp !== undefined && now < exp) return { kind: "existing", token: held };
  }
  const next = clone(r);
  if (mine >= 0) next.tokens.splice(mine, 1);
  next.tokens.push(clone(token));
  next.approvers = distinctApprovers(next.tokens);
  if (next.approvers.length >= next.required_approvals) next.state = "granted";
  next.updated_at = formatGoTime(now);
  return { kind: "add", next };
}

/** A new pending request for `input` created at `now` (ms): the one shape every ApprovalStore stores. */
export function newRequest(input: NewApprovalRequest, now: number): ApprovalRequest {
  const at = formatGoTime(now);
  return {
    approval_request_id: `apr_${now.toString(16).padStart(12, "0")}${randomBytes(5).toString("hex")}`,
    state: "pending",
    tool_name: input.tool_name,
    intent_digest: input.intent_digest,
    policy_digest: input.policy_digest,
    args_digest: input.args_digest,
    ...(input.delegation_binding_digest ? { delegation_binding_digest: input.delegation_binding_digest.toLowerCase() } : {}),
    required_scopes: [...input.required_scopes],
    required_approvals: input.required_approvals,
    ...(input.require_distinct_approvers ? { require_distinct_approvers: true } : {}),
    approvers: [],
    identity: input.identity,
    ...(input.run_id ? { run_id: input.run_id } : {}),
    ...(input.session_id ? { session_id: input.session_id } : {}),
    reason_codes: [...input.reason_codes],
    trace_id: input.trace_id,
    created_at: at,
    expires_at: formatGoTime(now + input.ttl_ms),
    updated_at: at,
    tokens: [],
  };
}

export function validateNew(input: NewApprovalRequest): void {
  const problems: string[] = [];
  if (!input || typeof input !== "object") throw new ApprovalStoreError("invalid", "approval request input is required");
  for (const f of ["tool_name", "intent_digest", "policy_digest", "trace_id"] as const) {
    if (typeof input[f] !== "string" || !input[f]) problems.push(`${f} is required`);
  }
  const binding = input.delegation_binding_digest;
  if (binding !== undefined && (typeof binding !== "string" || !/^[0-9a-fA-F]{64}$/.test(binding))) {
    problems.push("delegation_binding_digest must be 64 hex characters (sha256) when set");
  }
  if (!Number.isSafeInteger(input.required_approvals) || input.required_approvals < 1) problems.push("required_approvals must be an integer >= 1");
  if (!Number.isFinite(input.ttl_ms) || input.ttl_ms <= 0) problems.push("ttl_ms must be > 0");
  if (!Array.isArray(input.required_scopes)) problems.push("required_scopes must be a list");
  if (!Array.isArray(input.reason_codes)) problems.push("reason_codes must be a list");
  if (problems.length) throw new ApprovalStoreError("invalid", `invalid approval request: ${problems.join("; ")}`);
}

export function dedupe(tokens: readonly ConsumeRef[]): ConsumeRef[] {
  const seen = new Map<string, ConsumeRef>();
  for (const t of tokens) {
    if (!seen.has(t.token_id)) seen.set(t.token_id, { token_id: t.token_id, ...(t.expires_at ? { expires_at: t.expires_at } : {}), ...(t.created_at ? { created_at: t.created_at } : {}) });
  }
  return [...seen.values()];
}
