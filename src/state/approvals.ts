/**
 * Durable pending approval requests and single-use approval tokens.
 *
 * Gait's approval tokens are bearer artifacts with no replay store (evidence.md §7.4). The service adds two things
 * on top: a pending request an approver can find (list/get) and answer (grant with a signed token, or deny), and
 * single-use consumption, so a token lets exactly one decision through.
 *
 * {@link ApprovalStore} is the contract (a Redis-backed implementation can be added later; the shared contract tests
 * are `runApprovalStoreContract` in test/unit/state/approvals.contract.ts). {@link FileApprovalStore} is the durable
 * default: an append-only JSONL journal, one fsync per mutation, loaded into memory at open and compacted there,
 * with all writes serialized through one queue. It fails closed: a mutation whose journal write fails rejects (a
 * failed consumption is an error, never a `true`), and the store then refuses mutations until reopened.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp, constants as fsc } from "node:fs";
import { join } from "node:path";
import type { ApprovalToken } from "../engine/types.js";
import { formatGoTime, parseRFC3339 } from "../engine/time.js";
import { acquireLockFile, releaseLockFile } from "../tracelog/lock.js";
import { writeFileAtomic } from "./fsx.js";

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
  /** Policy `min_approvals` (at least 1). */
  required_approvals: number;
  /** Count distinct approver identities instead of tokens (policy `require_distinct_approvers`). */
  require_distinct_approvers?: boolean;
  /** Approver identities of the tokens granted so far, in grant order, without duplicates. */
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
  /** Signed approval tokens granted for this request (validated by the caller before grant()). */
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
  /** Add a validated token; the request becomes `granted` when the approvals reach `required_approvals`.
   * Idempotent for a token already added. Rejects `not_found`, `conflict` (denied/expired/consumed, or the token
   * was already used), `invalid` (token bound to another intent or policy). */
  grant(id: string, token: ApprovalToken): Promise<ApprovalRequest>;
  /** Deny a pending or granted request (idempotent for a denied one). Rejects `not_found`, `conflict`. */
  deny(id: string, deniedBy: string, reason: string): Promise<ApprovalRequest>;
  /** Persist expiry of every pending/granted request past `expires_at`; returns how many changed. */
  expireDue(): Promise<number>;
  /** {@link consumeTokens} for one token. */
  consumeToken(tokenId: string, intentDigest: string, expiresAt?: string): Promise<boolean>;
  /** Atomically mark all tokens used: true only if none was used before (then all are, durably, and granted
   * requests for `intentDigest` holding one of them become `consumed`); false, changing nothing, otherwise.
   * Rejects when the change cannot be made durable: the caller must then not allow. */
  consumeTokens(tokens: readonly ConsumeRef[], intentDigest: string): Promise<boolean>;
  /** The subset of `tokenIds` already consumed (a read: nothing changes). Lets a decision drop used tokens before
   * the quorum is counted; it is advisory only, since a concurrent call may consume a token right after this read:
   * {@link consumeTokens} stays the single authority that makes a token's use count. Rejects `invalid` for an empty
   * or non-string id and `closed` after close(). */
  isConsumed(tokenIds: readonly string[]): Promise<ReadonlySet<string>>;
  /** Stop background work and release files. */
  close(): Promise<void>;
}

/** Error of an approval store; `code` is stable for mapping to gRPC codes at the edge. */
export class ApprovalStoreError extends Error {
  override name = "ApprovalStoreError";
  constructor(
    /** `not_found`, `conflict` (wrong state), `invalid` (bad input), `io` (this write failed), `failed` (an earlier
     * write failed; reopen), `closed`, `corrupt` (journal unreadable), `locked` (another process has it). */
    readonly code: "not_found" | "conflict" | "invalid" | "io" | "failed" | "closed" | "corrupt" | "locked",
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
  /** Directory of the journal (`approvals.jsonl`); created 0750 when missing. */
  dir: string;
  /** Clock in ms since the epoch. @defaultValue Date.now */
  now?: () => number;
  /** Period of the background expiry sweep; 0 = none (call expireDue()). @defaultValue 60000 */
  sweepIntervalMs?: number;
  /** Terminal requests (denied/expired/consumed) and expired consumed-token marks are dropped at compaction
   * (open) once older than this. @defaultValue 7 days */
  retainMs?: number;
  /** Receives background sweep problems. @defaultValue ignore */
  onWarning?: (message: string) => void;
}

/** What open() loaded; log it. */
export interface ApprovalStoreRecovery {
  requests: number;
  consumed_tokens: number;
  /** Journal lines read before compaction. */
  journal_lines: number;
  /** Bytes of a torn final line (an interrupted, unacknowledged write) that were dropped. */
  torn_bytes: number;
}

type JournalOp =
  | { op: "put"; request: ApprovalRequest }
  | { op: "consume"; at: string; intent_digest: string; tokens: ConsumeRef[] };

interface ConsumedMark {
  intent_digest: string;
  at: string;
  expires_at?: string;
}

const JOURNAL = "approvals.jsonl";
const LOCK = "approvals.lock";
const DAY_MS = 86_400_000;
const OPEN_STATES: ReadonlySet<ApprovalState> = new Set(["pending", "granted"]);

function timeMs(s: string | undefined): number | undefined {
  return s ? parseRFC3339(s)?.ms : undefined;
}

function clone(r: ApprovalRequest): ApprovalRequest {
  return structuredClone(r);
}

/** The durable file-backed {@link ApprovalStore}. */
export class FileApprovalStore implements ApprovalStore {
  private readonly requests = new Map<string, ApprovalRequest>();
  private readonly consumed = new Map<string, ConsumedMark>();
  private fh!: fsp.FileHandle;
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

  /** Open (or create) the store: take the lock, load and compact the journal, start the expiry sweep. Rejects
   * `corrupt` when a journal line other than a torn final one cannot be read (consumption state would be lost). */
  static async open(options: FileApprovalStoreOptions): Promise<FileApprovalStore> {
    if (!options.dir) throw new TypeError("approval store directory is required");
    const store = new FileApprovalStore(options.dir, options);
    await fsp.mkdir(options.dir, { recursive: true, mode: 0o750 });
    const lock = join(options.dir, LOCK);
    await acquireLockFile(lock, `approval store ${options.dir}`, "state directory", (m) => new ApprovalStoreError("locked", m));
    try {
      await store.load();
      store.fh = await fsp.open(join(options.dir, JOURNAL), fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o600);
    } catch (e) {
      await releaseLockFile(lock);
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

  async create(input: NewApprovalRequest): Promise<CreateResult> {
    validateNew(input);
    return this.mutate(async () => {
      const now = this.now();
      for (const r of this.requests.values()) {
        if (r.intent_digest === input.intent_digest && r.policy_digest === input.policy_digest && this.isOpen(r, now)) {
          return { request: clone(r), created: false };
        }
      }
      const at = formatGoTime(now);
      const req: ApprovalRequest = {
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
      await this.write({ op: "put", request: req });
      this.requests.set(req.approval_request_id, req);
      return { request: clone(req), created: true };
    });
  }

  async get(id: string): Promise<ApprovalRequest | undefined> {
    const r = this.requests.get(id);
    return r ? this.view(r, this.now()) : undefined;
  }

  async list(query: ListQuery = {}): Promise<ListPage> {
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

  async grant(id: string, token: ApprovalToken): Promise<ApprovalRequest> {
    if (!token || typeof token.token_id !== "string" || !token.token_id) throw new ApprovalStoreError("invalid", "approval token has no token_id");
    return this.mutate(async () => {
      const r = this.mustGet(id);
      const now = this.now();
      const state = this.effectiveState(r, now);
      if (state !== "pending" && state !== "granted") {
        throw new ApprovalStoreError("conflict", `approval request ${id} is ${state}; it can no longer be granted`);
      }
      if (token.intent_digest?.toLowerCase() !== r.intent_digest || token.policy_digest?.toLowerCase() !== r.policy_digest) {
        throw new ApprovalStoreError("invalid", `approval token ${token.token_id} is bound to another intent or policy than request ${id}`);
      }
      if (r.delegation_binding_digest && token.delegation_binding_digest?.toLowerCase() !== r.delegation_binding_digest) {
        throw new ApprovalStoreError(
          "invalid",
          `approval token ${token.token_id} does not carry request ${id}'s delegation_binding_digest ${r.delegation_binding_digest} (the waiting call is delegated)`,
        );
      }
      if (r.tokens.some((t) => t.token_id === token.token_id)) return clone(r);
      if (this.consumed.has(token.token_id)) {
        throw new ApprovalStoreError("conflict", `approval token ${token.token_id} was already used; mint a new one`);
      }
      const next = clone(r);
      next.tokens.push(structuredClone(token));
      if (token.approver_identity && !next.approvers.includes(token.approver_identity)) next.approvers.push(token.approver_identity);
      const count = next.require_distinct_approvers ? next.approvers.length : next.tokens.length;
      if (count >= next.required_approvals) next.state = "granted";
      next.updated_at = formatGoTime(now);
      await this.write({ op: "put", request: next });
      this.requests.set(id, next);
      return clone(next);
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
      const next: ApprovalRequest = { ...clone(r), state: "denied", denied_by: deniedBy, deny_reason: reason, updated_at: formatGoTime(now) };
      await this.write({ op: "put", request: next });
      this.requests.set(id, next);
      return clone(next);
    });
  }

  async expireDue(): Promise<number> {
    return this.mutate(async () => {
      const now = this.now();
      let n = 0;
      for (const r of [...this.requests.values()]) {
        if (!OPEN_STATES.has(r.state) || this.effectiveState(r, now) !== "expired") continue;
        const next: ApprovalRequest = { ...clone(r), state: "expired", updated_at: formatGoTime(now) };
        await this.write({ op: "put", request: next });
        this.requests.set(r.approval_request_id, next);
        n++;
      }
      return n;
    });
  }

  consumeToken(tokenId: string, intentDigest: string, expiresAt?: string): Promise<boolean> {
    return this.consumeTokens([{ token_id: tokenId, ...(expiresAt ? { expires_at: expiresAt } : {}) }], intentDigest);
  }

  async consumeTokens(tokens: readonly ConsumeRef[], intentDigest: string): Promise<boolean> {
    if (!tokens.length || tokens.some((t) => !t || typeof t.token_id !== "string" || !t.token_id)) {
      throw new ApprovalStoreError("invalid", "consumeTokens needs at least one token id");
    }
    if (!intentDigest) throw new ApprovalStoreError("invalid", "consumeTokens needs the intent digest");
    const refs = dedupe(tokens);
    return this.mutate(async () => {
      if (refs.some((t) => this.consumed.has(t.token_id))) return false;
      const op: JournalOp = { op: "consume", at: formatGoTime(this.now()), intent_digest: intentDigest, tokens: refs };
      await this.write(op);
      this.apply(op);
      return true;
    });
  }

  async isConsumed(tokenIds: readonly string[]): Promise<ReadonlySet<string>> {
    if (!Array.isArray(tokenIds) || tokenIds.some((id) => typeof id !== "string" || !id)) {
      throw new ApprovalStoreError("invalid", "isConsumed needs a list of non-empty token ids");
    }
    if (this.closed) throw new ApprovalStoreError("closed", "approval store is closed");
    return new Set(tokenIds.filter((id) => this.consumed.has(id)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.queue.catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    await releaseLockFile(join(this.dir, LOCK));
  }

  // ---- internals --------------------------------------------------------------------------------------------------

  /** Run `fn` after every earlier mutation (one writer), failing fast when closed or failed. */
  private mutate<T>(fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new ApprovalStoreError("closed", "approval store is closed");
      if (this.failure) {
        throw new ApprovalStoreError("failed", `approval store refuses changes after a journal write failed (${this.failure.message}); reopen it`, { cause: this.failure });
      }
      return fn();
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Append one journal line and fdatasync it; on failure the store fails closed. */
  private async write(op: JournalOp): Promise<void> {
    const buf = Buffer.from(JSON.stringify(op) + "\n");
    try {
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
        if (bytesWritten <= 0) throw new Error("write returned 0 bytes");
        off += bytesWritten;
      }
      await this.fh.datasync();
    } catch (e) {
      this.failure = e as Error;
      throw new ApprovalStoreError("io", `approval journal write failed (${(e as Error).message}); the change was not made`, { cause: e });
    }
  }

  private apply(op: JournalOp): void {
    if (op.op === "put") {
      this.requests.set(op.request.approval_request_id, op.request);
      return;
    }
    const ids = new Set(op.tokens.map((t) => t.token_id));
    for (const t of op.tokens) {
      this.consumed.set(t.token_id, { intent_digest: op.intent_digest, at: op.at, ...(t.expires_at ? { expires_at: t.expires_at } : {}) });
    }
    for (const [id, r] of this.requests) {
      if (r.state === "granted" && r.intent_digest === op.intent_digest && r.tokens.some((t) => ids.has(t.token_id))) {
        this.requests.set(id, { ...r, state: "consumed", consumed_at: op.at, updated_at: op.at });
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

  /** Read the journal, replay it, then rewrite it compacted (atomic replace). */
  private async load(): Promise<void> {
    const path = join(this.dir, JOURNAL);
    let text = "";
    try {
      text = await fsp.readFile(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const parts = text.split("\n");
    const tail = parts.pop() ?? ""; // text after the last newline: a torn, unacknowledged write
    let tornBytes = Buffer.byteLength(tail);
    for (let i = 0; i < parts.length; i++) {
      const line = parts[i]!;
      if (!line) continue;
      let op: JournalOp | undefined;
      try {
        op = JSON.parse(line) as JournalOp;
      } catch {
        op = undefined;
      }
      if (!op || (op.op !== "put" && op.op !== "consume") || (op.op === "put" && !op.request?.approval_request_id) || (op.op === "consume" && !Array.isArray(op.tokens))) {
        if (i === parts.length - 1) {
          tornBytes += Buffer.byteLength(line) + 1; // a complete but damaged final line: also an interrupted write
          continue;
        }
        throw new ApprovalStoreError(
          "corrupt",
          `approval journal ${path} line ${i + 1} is unreadable and later lines follow; refusing to start without the consumed-token state (inspect or restore the file)`,
        );
      }
      this.apply(op);
    }
    this.recovery = { requests: 0, consumed_tokens: 0, journal_lines: parts.filter(Boolean).length, torn_bytes: tornBytes };
    // compaction: drop old terminal requests and consumed marks of long-expired tokens
    const now = this.now();
    const retain = this.opts.retainMs ?? 7 * DAY_MS;
    for (const [id, r] of this.requests) {
      const st = this.effectiveState(r, now);
      if (!OPEN_STATES.has(st) && now - (timeMs(r.updated_at) ?? 0) > retain && now - (timeMs(r.expires_at) ?? 0) > retain) this.requests.delete(id);
    }
    for (const [id, c] of this.consumed) {
      const exp = timeMs(c.expires_at);
      if (exp !== undefined && now - exp > retain) this.consumed.delete(id);
    }
    const lines: string[] = [];
    for (const r of [...this.requests.values()].sort((a, b) => (a.approval_request_id < b.approval_request_id ? -1 : 1))) {
      lines.push(JSON.stringify({ op: "put", request: r } satisfies JournalOp));
    }
    for (const [token_id, c] of this.consumed) {
      const op: JournalOp = { op: "consume", at: c.at, intent_digest: c.intent_digest, tokens: [{ token_id, ...(c.expires_at ? { expires_at: c.expires_at } : {}) }] };
      lines.push(JSON.stringify(op));
    }
    if (text || lines.length) await writeFileAtomic(path, lines.map((l) => l + "\n").join(""), 0o600);
    this.recovery.requests = this.requests.size;
    this.recovery.consumed_tokens = this.consumed.size;
  }
}

function validateNew(input: NewApprovalRequest): void {
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

function dedupe(tokens: readonly ConsumeRef[]): ConsumeRef[] {
  const seen = new Map<string, ConsumeRef>();
  for (const t of tokens) if (!seen.has(t.token_id)) seen.set(t.token_id, { token_id: t.token_id, ...(t.expires_at ? { expires_at: t.expires_at } : {}) });
  return [...seen.values()];
}
