/**
 * Durable approval state for the service ({@link ApprovalStorePort}): approval requests (pending -> granted |
 * denied | expired -> consumed) and the single-use register of consumed token ids.
 *
 * Storage: one append-only JSONL journal `<dir>/approvals.jsonl` (mode 0600), one event per line, each write
 * fdatasync'ed before the call resolves, replayed at open. A torn final line (crash mid-write) is ignored and cut.
 * Writes are rare (require_approval answers, operator actions, token consumption), so one fsync per write is fine.
 *
 * NOTE: the project plan puts durable approval state in src/state/approvals.ts (another engineer's module). Until it
 * lands this file is the implementation; switching means re-implementing `openApprovalStore` on top of it.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp, constants as fsc } from "node:fs";
import { join } from "node:path";
import { parseRFC3339 } from "../engine/time.js";
import type { ApprovalToken } from "../engine/types.js";
import { ApprovalStateError, type ApprovalRecord, type ApprovalStateName, type ApprovalStorePort, type NewApprovalRequest } from "./ports.js";

type Event =
  | { op: "create"; rec: ApprovalRecord }
  | { op: "grant"; id: string; token: ApprovalToken; at: string }
  | { op: "deny"; id: string; approver: string; reason: string; at: string }
  | { op: "consume"; token_id: string; intent_digest: string; at: string };

const JOURNAL = "approvals.jsonl";

function expired(rec: ApprovalRecord, now: Date): boolean {
  const p = parseRFC3339(rec.expires_at);
  return !!p && now.getTime() >= p.ms;
}

class JournalApprovalStore implements ApprovalStorePort {
  private readonly recs = new Map<string, ApprovalRecord>();
  /** pending request id by `intent_digest:policy_digest` */
  private readonly pendingByDigest = new Map<string, string>();
  private readonly consumed = new Map<string, string>();
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly fh: fsp.FileHandle) {}

  static async open(dir: string): Promise<JournalApprovalStore> {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, JOURNAL);
    const fh = await fsp.open(path, fsc.O_CREAT | fsc.O_RDWR | fsc.O_APPEND, 0o600);
    const store = new JournalApprovalStore(fh);
    const text = (await fh.readFile()).toString("utf8");
    let good = 0;
    let off = 0;
    for (;;) {
      const nl = text.indexOf("\n", off);
      if (nl < 0) break;
      const line = text.slice(off, nl);
      try {
        store.apply(JSON.parse(line) as Event);
      } catch (e) {
        await fh.close();
        throw new Error(`${path}: line at byte ${Buffer.byteLength(text.slice(0, off))} is not a valid approval event (${(e as Error).message})`);
      }
      off = nl + 1;
      good = Buffer.byteLength(text.slice(0, off));
    }
    if (off < text.length) {
      // torn final line from a crash: cut it so the next append starts on a line boundary
      await fh.truncate(good);
      await fh.datasync();
    }
    return store;
  }

  private apply(ev: Event): void {
    switch (ev.op) {
      case "create":
        this.recs.set(ev.rec.id, { ...ev.rec, tokens: [...ev.rec.tokens] });
        if (ev.rec.state === "pending") this.pendingByDigest.set(`${ev.rec.intent_digest}:${ev.rec.policy_digest}`, ev.rec.id);
        break;
      case "grant": {
        const r = this.recs.get(ev.id);
        if (!r) throw new Error(`grant for unknown request ${ev.id}`);
        r.tokens.push(ev.token);
        if (r.tokens.length >= r.required_approvals) {
          r.state = "granted";
          this.pendingByDigest.delete(`${r.intent_digest}:${r.policy_digest}`);
        }
        break;
      }
      case "deny": {
        const r = this.recs.get(ev.id);
        if (!r) throw new Error(`deny for unknown request ${ev.id}`);
        r.state = "denied";
        r.denied_by = ev.approver;
        r.deny_reason = ev.reason || undefined;
        this.pendingByDigest.delete(`${r.intent_digest}:${r.policy_digest}`);
        break;
      }
      case "consume": {
        this.consumed.set(ev.token_id, ev.intent_digest);
        for (const r of this.recs.values()) {
          if (r.state === "granted" && r.tokens.some((t) => t.token_id === ev.token_id)) r.state = "consumed";
        }
        break;
      }
      default:
        throw new Error(`unknown op ${(ev as { op?: unknown }).op as string}`);
    }
  }

  /** Append + fdatasync, then apply; serialized so the journal order is the apply order. */
  private write(ev: Event): Promise<void> {
    const run = async () => {
      if (this.closed) throw new Error("approval store is closed");
      await this.fh.appendFile(JSON.stringify(ev) + "\n");
      await this.fh.datasync();
      this.apply(ev);
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** A copy with the time-dependent state (expired) applied. */
  private view(r: ApprovalRecord, now: Date): ApprovalRecord {
    const state: ApprovalStateName = r.state === "pending" && expired(r, now) ? "expired" : r.state;
    return { ...r, state, tokens: [...r.tokens] };
  }

  async createOrGetPending(req: NewApprovalRequest, now: Date): Promise<{ record: ApprovalRecord; created: boolean }> {
    const key = `${req.intent_digest}:${req.policy_digest}`;
    await this.chain; // see every earlier write
    const existing = this.pendingByDigest.get(key);
    if (existing) {
      const r = this.recs.get(existing)!;
      if (r.state === "pending" && !expired(r, now)) return { record: this.view(r, now), created: false };
    }
    const rec: ApprovalRecord = { ...req, id: `apr_${randomBytes(12).toString("hex")}`, state: "pending", tokens: [] };
    await this.write({ op: "create", rec });
    return { record: this.view(this.recs.get(rec.id)!, now), created: true };
  }

  async get(id: string, now: Date): Promise<ApprovalRecord | undefined> {
    const r = this.recs.get(id);
    return r ? this.view(r, now) : undefined;
  }

  async list(states: ApprovalStateName[], now: Date): Promise<ApprovalRecord[]> {
    const want = new Set(states);
    return [...this.recs.values()]
      .map((r) => this.view(r, now))
      .filter((r) => want.has(r.state))
      .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : 1));
  }

  private pendingOrThrow(id: string, now: Date): ApprovalRecord {
    const r = this.recs.get(id);
    if (!r) throw new ApprovalStateError("not_found", `approval request ${id} not found`);
    const v = this.view(r, now);
    if (v.state !== "pending") throw new ApprovalStateError("not_pending", `approval request ${id} is ${v.state}, not pending`);
    return r;
  }

  async grant(id: string, token: ApprovalToken, now: Date): Promise<ApprovalRecord> {
    await this.chain;
    this.pendingOrThrow(id, now);
    await this.write({ op: "grant", id, token, at: now.toISOString() });
    return this.view(this.recs.get(id)!, now);
  }

  async deny(id: string, approver: string, reason: string, now: Date): Promise<ApprovalRecord> {
    await this.chain;
    this.pendingOrThrow(id, now);
    await this.write({ op: "deny", id, approver, reason, at: now.toISOString() });
    return this.view(this.recs.get(id)!, now);
  }

  async isConsumed(tokenId: string): Promise<boolean> {
    return this.consumed.has(tokenId);
  }

  async consumeToken(tokenId: string, intentDigest: string, now: Date): Promise<boolean> {
    let ok = false;
    const run = async () => {
      if (this.consumed.has(tokenId)) return;
      if (this.closed) throw new Error("approval store is closed");
      const ev: Event = { op: "consume", token_id: tokenId, intent_digest: intentDigest, at: now.toISOString() };
      await this.fh.appendFile(JSON.stringify(ev) + "\n");
      await this.fh.datasync();
      this.apply(ev);
      ok = true;
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    await p;
    return ok;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.chain;
    this.closed = true;
    await this.fh.close();
  }
}

/** Open (or create) the approval state in `dir`. */
export function openApprovalStore(dir: string): Promise<ApprovalStorePort> {
  return JournalApprovalStore.open(dir);
}
