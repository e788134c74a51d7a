import { appendFile, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { sha256Hex } from "../../../src/engine/canon.js";
import { FileApprovalStore, isApprovalStoreError, type ApprovalStore, type FileApprovalStoreOptions } from "../../../src/state/approvals.js";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { T0, newRequest, runApprovalStoreContract, tokenFor } from "./approvals.contract.js";

const signer = Ed25519KeyPair.generate();
const openAt = (o: Omit<FileApprovalStoreOptions, "signer">) => FileApprovalStore.open({ signer, ...o });
const consume1 = (s: ApprovalStore, id: string, d: string, exp?: string) => s.consumeTokens([{ token_id: id, ...(exp ? { expires_at: exp } : {}) }], d);
const codeOf = (e: unknown) => (isApprovalStoreError(e) ? e.code : `not a store error: ${String(e)}`);

const dirs: string[] = [];
async function freshDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "approvals-"));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

runApprovalStoreContract("file", async (now) => openAt({ dir: await freshDir(), now, sweepIntervalMs: 0 }));

describe("FileApprovalStore durability", () => {
  let dir: string;
  let clock: number;
  const stores: FileApprovalStore[] = [];
  const openStore = async (): Promise<FileApprovalStore> => {
    const s = await openAt({ dir, now: () => clock, sweepIntervalMs: 0 });
    stores.push(s);
    return s;
  };
  beforeEach(async () => {
    dir = await freshDir();
    clock = T0;
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });

  it("survives a restart: pending, granted, denied requests and consumed tokens", async () => {
    let s = await openStore();
    const pending = (await s.create(newRequest(1))).request;
    const granted = (await s.create(newRequest(2))).request;
    const t = tokenFor(granted.intent_digest, granted.policy_digest, "alice", clock);
    await s.grant(granted.approval_request_id, t);
    const denied = (await s.create(newRequest(3))).request;
    await s.deny(denied.approval_request_id, "bob", "no");
    const consumed = (await s.create(newRequest(4))).request;
    const t4 = tokenFor(consumed.intent_digest, consumed.policy_digest, "alice", clock);
    await s.grant(consumed.approval_request_id, t4);
    expect(await consume1(s, t4.token_id, consumed.intent_digest, t4.expires_at)).toBe(true);
    await s.close();

    s = await openStore();
    expect(s.recovery).toMatchObject({ requests: 4, spent_tokens: 1, torn_bytes: 0 });
    expect((await s.get(pending.approval_request_id))!.state).toBe("pending");
    expect(await s.get(granted.approval_request_id)).toMatchObject({ state: "granted", approvers: ["alice"] });
    expect((await s.get(granted.approval_request_id))!.tokens[0]).toEqual(t);
    expect(await s.get(denied.approval_request_id)).toMatchObject({ state: "denied", denied_by: "bob" });
    expect((await s.get(consumed.approval_request_id))!.state).toBe("consumed");
    // the single-use mark survived: no replay after restart
    expect(await consume1(s, t4.token_id, consumed.intent_digest)).toBe(false);
    // idempotent create still finds the open request after restart
    expect((await s.create(newRequest(1))).request.approval_request_id).toBe(pending.approval_request_id);
    expect(await consume1(s, t.token_id, granted.intent_digest)).toBe(true);
  });

  it("a delegated request keeps its delegation_binding_digest across a restart and compaction", async () => {
    let s = await openStore();
    const binding = sha256Hex("delegation");
    const { request } = await s.create(newRequest(1, { delegation_binding_digest: binding }));
    await s.grant(request.approval_request_id, tokenFor(request.intent_digest, request.policy_digest, "alice", clock, 60_000, binding));
    await s.close();
    s = await openStore(); // replays the journal, then rewrites it compacted
    expect(await s.get(request.approval_request_id)).toMatchObject({ state: "granted", delegation_binding_digest: binding });
    await s.close();
    s = await openStore(); // reads the compacted journal
    expect((await s.get(request.approval_request_id))!.delegation_binding_digest).toBe(binding);
    const unbound = tokenFor(request.intent_digest, request.policy_digest, "bob", clock);
    expect(await s.grant(request.approval_request_id, unbound).catch((e: unknown) => isApprovalStoreError(e) && e.code)).toBe("invalid");
  });

  it("compacts the journal on open: a signed anchor plus the surviving state, continuing the chain", async () => {
    let s = await openStore();
    const { request } = await s.create(newRequest(1, { required_approvals: 3 }));
    for (let i = 0; i < 3; i++) await s.grant(request.approval_request_id, tokenFor(request.intent_digest, request.policy_digest, `a${i}`, clock + i));
    const head = s.head();
    await s.close();
    const before = (await readFile(join(dir, "approvals.jsonl"), "utf8")).trim().split("\n").length;
    s = await openStore();
    expect(s.recovery.journal_lines).toBe(before);
    const lines = (await readFile(join(dir, "approvals.jsonl"), "utf8")).trim().split("\n");
    expect(lines).toHaveLength(2); // anchor + one put
    const anchor = JSON.parse(lines[0]!).anchor;
    expect(anchor).toMatchObject({ schema_id: "gait.approvals.anchor", seq: head.seq, hash: head.hash, key_id: signer.keyId });
    expect(JSON.parse(lines[1]!)).toMatchObject({ seq: head.seq + 1, prev: head.hash });
    expect((await s.get(request.approval_request_id))!.tokens).toHaveLength(3);
  });

  it("drops terminal requests and expired spent-token marks older than the retention at compaction", async () => {
    let s = await openStore();
    const { request } = await s.create(newRequest(1));
    await s.deny(request.approval_request_id, "bob", "no");
    await consume1(s, "old-token", "d", "2026-03-01T12:05:00Z");
    await consume1(s, "forever-token", "d");
    await s.close();
    clock = T0 + 8 * 86_400_000;
    s = await openStore();
    expect(await s.get(request.approval_request_id)).toBeUndefined();
    expect(s.recovery).toMatchObject({ requests: 0, spent_tokens: 1 });
    expect(await consume1(s, "forever-token", "d")).toBe(false);
  });

  it("ignores a torn final line (an interrupted write) and reports it", async () => {
    let s = await openStore();
    const { request } = await s.create(newRequest(1));
    await s.close();
    const torn = '{"seq":9,"prev":"00","op":{"op":"consume","at":"2026';
    await appendFile(join(dir, "approvals.jsonl"), torn);
    s = await openStore();
    expect(s.recovery.torn_bytes).toBe(Buffer.byteLength(torn));
    expect((await s.get(request.approval_request_id))!.state).toBe("pending");
    expect(await consume1(s, "t", "d")).toBe(true);
  });

  it("refuses to open when a middle journal line is unreadable (fails closed)", async () => {
    const s = await openStore();
    await consume1(s, "t1", "d");
    await consume1(s, "t2", "d");
    await s.close();
    stores.pop();
    const path = join(dir, "approvals.jsonl");
    const lines = (await readFile(path, "utf8")).split("\n");
    lines[1] = "garbage";
    await writeFile(path, lines.join("\n"));
    const err = await openAt({ dir, sweepIntervalMs: 0 }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe("corrupt");
    expect((err as Error).message).toMatch(/line 2: not JSON/);
  });

  it("a failed fsync rejects the consumption (never true or false) and every later mutation until reopened", async () => {
    let s = await openStore();
    const probe = await open(join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    vi.spyOn(proto, "datasync").mockRejectedValueOnce(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    const err = await consume1(s, "t1", "d").catch((e: unknown) => e);
    expect(isApprovalStoreError(err) && err.code).toBe("io");
    expect((err as Error).message).toMatch(/EIO/);
    const later = await s.create(newRequest(1)).catch((e: unknown) => e);
    expect(isApprovalStoreError(later) && later.code).toBe("failed");
    const later2 = await consume1(s, "t2", "d").catch((e: unknown) => e);
    expect(isApprovalStoreError(later2) && later2.code).toBe("failed");
    await s.close();
    vi.restoreAllMocks();
    s = await openStore();
    // the errored consumption's line reached the file (only its fsync failed): after restart the token counts as
    // used, the safe direction (the caller denied that decision, and the token cannot let a later one through)
    expect(await consume1(s, "t1", "d")).toBe(false);
    // t2 was refused before anything was written
    expect(await consume1(s, "t2", "d")).toBe(true);
  });

  it("a failed write rejects the mutation, and the store answers nothing (reads included) until reopened", async () => {
    const s = await openStore();
    const probe = await open(join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { write: () => Promise<unknown> };
    await probe.close();
    vi.spyOn(proto, "write").mockRejectedValueOnce(Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" }));
    const err = await s.create(newRequest(1)).catch((e: unknown) => e);
    expect(isApprovalStoreError(err) && err.code).toBe("io");
    expect(codeOf(await s.list().catch((e: unknown) => e))).toBe("failed");
    expect(codeOf(await s.tokenStatus([{ token_id: "t" }]).catch((e: unknown) => e))).toBe("failed");
  });

  it("refuses a second open of the same directory", async () => {
    await openStore();
    const err = await openAt({ dir, sweepIntervalMs: 0 }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe("locked");
  });

  it("the background sweep persists expiry", async () => {
    const s = await openAt({ dir, now: () => clock, sweepIntervalMs: 5 });
    stores.push(s);
    const { request } = await s.create(newRequest(1, { ttl_ms: 1000 }));
    clock += 5000;
    for (let i = 0; i < 200; i++) {
      const text = await readFile(join(dir, "approvals.jsonl"), "utf8");
      if (text.includes('"state":"expired"')) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await readFile(join(dir, "approvals.jsonl"), "utf8")).toContain('"state":"expired"');
    expect((await s.get(request.approval_request_id))!.state).toBe("expired");
  });

  // ---- issue 7 item 6: lost state is noticed ------------------------------------------------------------------

  /** A ledger with one spent token (the replay a rollback would enable) and a few more entries. */
  async function spentLedger(): Promise<{ spent: string; intent: string }> {
    const s = await openStore();
    const { request } = await s.create(newRequest(1));
    const t = tokenFor(request.intent_digest, request.policy_digest, "alice", clock);
    await s.grant(request.approval_request_id, t);
    await s.create(newRequest(2));
    expect(await consume1(s, t.token_id, request.intent_digest, t.expires_at)).toBe(true);
    await s.close();
    stores.pop();
    return { spent: t.token_id, intent: request.intent_digest };
  }
  const refused = async (why: RegExp, code = "rolled_back") => {
    const err = await openAt({ dir, now: () => clock, sweepIntervalMs: 0 }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(code);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toMatch(/--reset-approval-state/); // says how to recover
  };

  it("refuses to start on an emptied journal (spent tokens would be good again)", async () => {
    await spentLedger();
    await writeFile(join(dir, "approvals.jsonl"), "");
    await refused(/missing or empty but the head marker records/);
  });

  it("refuses to start when the consume line was deleted", async () => {
    await spentLedger();
    {
      // a consume line in the middle: the chain is broken
      const s = await openStore();
      await consume1(s, "mid", "d");
      await s.create(newRequest(9));
      await s.close();
      stores.pop();
      const path = join(dir, "approvals.jsonl");
      const lines = (await readFile(path, "utf8")).trim().split("\n");
      await writeFile(path, lines.filter((l) => !l.includes('"mid"')).join("\n") + "\n");
      const err = await openAt({ dir, now: () => clock, sweepIntervalMs: 0 }).catch((e: unknown) => e);
      // the line after the gap is the last one, so it reads as a torn tail: either way the ledger is refused
      expect(["corrupt", "rolled_back"]).toContain(codeOf(err));
      expect((err as Error).message).toMatch(/entries missing or reordered|behind its head marker/);
      await writeFile(path, lines.join("\n") + "\n"); // put it back
    }
    const path = join(dir, "approvals.jsonl");
    const lines = (await readFile(path, "utf8")).trim().split("\n");
    await writeFile(path, lines.filter((l) => !l.includes('"op":"consume"')).join("\n") + "\n");
    // the consume op was the newest line: the journal now ends behind its marker
    await refused(/behind its head marker/);
  });

  it("refuses to start when the journal was cut at a line boundary", async () => {
    const { spent, intent } = await spentLedger();
    let s = await openStore(); // compacts: anchor + snapshot
    await consume1(s, "later", intent);
    await s.close();
    stores.pop();
    const path = join(dir, "approvals.jsonl");
    const lines = (await readFile(path, "utf8")).trim().split("\n");
    await writeFile(path, lines.slice(0, -1).join("\n") + "\n");
    await refused(/behind its head marker/);
    expect(spent).toBeTruthy();
  });

  it("refuses to start when the head marker was deleted but the journal has entries", async () => {
    await spentLedger();
    await rm(join(dir, "approvals.head"));
    await refused(/head marker approvals.head is missing/);
  });

  it("refuses a journal whose entry was altered, or replaced by an older copy", async () => {
    await spentLedger();
    const path = join(dir, "approvals.jsonl");
    const text = await readFile(path, "utf8");
    await writeFile(path, text.replace('"tool_name":"tool.write"', '"tool_name":"tool.read"'));
    const err = await openAt({ dir, now: () => clock, sweepIntervalMs: 0 }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe("corrupt");
    expect((err as Error).message).toMatch(/hash mismatch/);
  });

  it("--reset-approval-state starts a fresh ledger that refuses every token issued before the reset", async () => {
    const { spent, intent } = await spentLedger();
    await writeFile(join(dir, "approvals.jsonl"), ""); // lost
    clock += 1000;
    const s = await openAt({ dir, now: () => clock, sweepIntervalMs: 0, reset: true });
    stores.push(s);
    expect(s.recovery.not_before).toBe("2026-03-01T12:00:01Z");
    expect(s.recovery.reset_moved_to).toMatch(/reset-/);
    // the spent token (created before the reset) is refused although the ledger forgot it
    expect(await s.tokenStatus([{ token_id: spent, created_at: "2026-03-01T12:00:00Z" }])).toEqual(new Map([[spent, "revoked"]]));
    expect(await s.consumeTokens([{ token_id: spent, created_at: "2026-03-01T12:00:00Z" }], intent)).toBe(false);
    // a token without a creation time is refused too; a token minted after the reset works
    expect(await s.consumeTokens([{ token_id: "no-time" }], intent)).toBe(false);
    expect(await s.consumeTokens([{ token_id: "fresh", created_at: "2026-03-01T12:00:02Z" }], intent)).toBe(true);
    await s.close();
    stores.pop();
    // the floor is durable (in the anchor and the marker)
    const again = await openStore();
    expect(again.recovery.not_before).toBe("2026-03-01T12:00:01Z");
    expect(await again.consumeTokens([{ token_id: "other-old", created_at: "2026-03-01T12:00:00Z" }], intent)).toBe(false);
  });

  it("bounds open requests, per identity and in total: a flood of distinct calls cannot grow the ledger", async () => {
    const s = await openAt({ dir, now: () => clock, sweepIntervalMs: 0, maxOpen: 3, maxOpenPerIdentity: 2 });
    stores.push(s);
    await s.create(newRequest(1, { identity: "a" }));
    await s.create(newRequest(2, { identity: "A" })); // the same identity
    expect(codeOf(await s.create(newRequest(3, { identity: "a\u200b" })).catch((e: unknown) => e))).toBe("full");
    expect((await s.create(newRequest(1, { identity: "a" }))).created).toBe(false); // an existing one is still found
    await s.create(newRequest(4, { identity: "b" }));
    expect(codeOf(await s.create(newRequest(5, { identity: "c" })).catch((e: unknown) => e))).toBe("full");
    clock += 120_000; // they expire: room again
    expect((await s.create(newRequest(5, { identity: "c" }))).created).toBe(true);
  });

  it("an identity at its cap is refused without a scan of every request until one of its requests can have expired (found by make soak)", async () => {
    // the soak ran 10x slower while identities sat at their cap: each refused create rescanned the whole ledger
    const s = await openAt({ dir, now: () => clock, sweepIntervalMs: 0, maxOpenPerIdentity: 2 });
    stores.push(s);
    await s.create(newRequest(1, { identity: "a" })); // expires at T0 + 60 s
    clock += 10_000;
    await s.create(newRequest(2, { identity: "a" })); // expires at T0 + 70 s
    for (let i = 0; i < 100; i++) await s.create(newRequest(100 + i, { identity: `other-${i}` }));
    const scans = vi.spyOn(FileApprovalStore.prototype as unknown as { recountOpen(now: number): void }, "recountOpen");
    try {
      for (let i = 0; i < 20; i++) expect(codeOf(await s.create(newRequest(10 + i, { identity: "a" })).catch((e: unknown) => e))).toBe("full");
      expect(scans).not.toHaveBeenCalled();
      clock += 50_000; // T0 + 60 s: the first one expired, so its slot is free again (one scan)
      expect((await s.create(newRequest(30, { identity: "a" }))).created).toBe(true);
      expect(scans).toHaveBeenCalledTimes(1);
      // full again, and nothing else expires before T0 + 70 s: refused without another scan
      expect(codeOf(await s.create(newRequest(31, { identity: "a" })).catch((e: unknown) => e))).toBe("full");
      expect(scans).toHaveBeenCalledTimes(1);
      clock += 10_000; // T0 + 70 s: the second one expired
      expect((await s.create(newRequest(32, { identity: "a" }))).created).toBe(true);
    } finally {
      scans.mockRestore();
    }
  });

  it("group commit: concurrent changes share fdatasyncs, and each caller hears back only once its change is durable", async () => {
    let s = await openStore();
    const probe = await open(join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const spy = vi.spyOn(proto, "datasync");
    const made = await Promise.all(Array.from({ length: 50 }, (_, i) => s.create(newRequest(100 + i, { identity: `id-${i}` }))));
    const syncs = spy.mock.calls.length;
    vi.restoreAllMocks();
    expect(made.every((m) => m.created)).toBe(true);
    expect(syncs).toBeLessThan(50);
    await s.close();
    stores.pop();
    s = await openStore();
    for (const m of made) expect((await s.get(m.request.approval_request_id))?.state).toBe("pending");
  });
});
