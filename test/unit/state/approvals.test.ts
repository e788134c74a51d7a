import { appendFile, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { sha256Hex } from "../../../src/engine/canon.js";
import { FileApprovalStore, isApprovalStoreError } from "../../../src/state/approvals.js";
import { T0, newRequest, runApprovalStoreContract, tokenFor } from "./approvals.contract.js";

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

runApprovalStoreContract("file", async (now) => FileApprovalStore.open({ dir: await freshDir(), now, sweepIntervalMs: 0 }));

describe("FileApprovalStore durability", () => {
  let dir: string;
  let clock: number;
  const stores: FileApprovalStore[] = [];
  const openStore = async (): Promise<FileApprovalStore> => {
    const s = await FileApprovalStore.open({ dir, now: () => clock, sweepIntervalMs: 0 });
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
    expect(await s.consumeToken(t4.token_id, consumed.intent_digest, t4.expires_at)).toBe(true);
    await s.close();

    s = await openStore();
    expect(s.recovery).toMatchObject({ requests: 4, consumed_tokens: 1, torn_bytes: 0 });
    expect((await s.get(pending.approval_request_id))!.state).toBe("pending");
    expect(await s.get(granted.approval_request_id)).toMatchObject({ state: "granted", approvers: ["alice"] });
    expect((await s.get(granted.approval_request_id))!.tokens[0]).toEqual(t);
    expect(await s.get(denied.approval_request_id)).toMatchObject({ state: "denied", denied_by: "bob" });
    expect((await s.get(consumed.approval_request_id))!.state).toBe("consumed");
    // the single-use mark survived: no replay after restart
    expect(await s.consumeToken(t4.token_id, consumed.intent_digest)).toBe(false);
    // idempotent create still finds the open request after restart
    expect((await s.create(newRequest(1))).request.approval_request_id).toBe(pending.approval_request_id);
    expect(await s.consumeToken(t.token_id, granted.intent_digest)).toBe(true);
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

  it("compacts the journal on open", async () => {
    let s = await openStore();
    const { request } = await s.create(newRequest(1));
    for (let i = 0; i < 3; i++) await s.grant(request.approval_request_id, tokenFor(request.intent_digest, request.policy_digest, `a${i}`, clock + i));
    await s.close();
    const before = (await readFile(join(dir, "approvals.jsonl"), "utf8")).trim().split("\n").length;
    expect(before).toBe(4);
    s = await openStore();
    expect(s.recovery.journal_lines).toBe(4);
    const after = (await readFile(join(dir, "approvals.jsonl"), "utf8")).trim().split("\n").length;
    expect(after).toBe(1);
    expect((await s.get(request.approval_request_id))!.tokens).toHaveLength(3);
  });

  it("drops terminal requests and expired consumed-token marks older than the retention at compaction", async () => {
    let s = await openStore();
    const { request } = await s.create(newRequest(1));
    await s.deny(request.approval_request_id, "bob", "no");
    await s.consumeToken("old-token", "d", "2026-03-01T12:05:00Z");
    await s.consumeToken("forever-token", "d");
    await s.close();
    clock = T0 + 8 * 86_400_000;
    s = await openStore();
    expect(await s.get(request.approval_request_id)).toBeUndefined();
    expect(s.recovery).toMatchObject({ requests: 0, consumed_tokens: 1 });
    expect(await s.consumeToken("forever-token", "d")).toBe(false);
  });

  it("ignores a torn final line (an interrupted write) and reports it", async () => {
    let s = await openStore();
    const { request } = await s.create(newRequest(1));
    await s.close();
    await appendFile(join(dir, "approvals.jsonl"), '{"op":"consume","at":"2026');
    s = await openStore();
    expect(s.recovery.torn_bytes).toBe(26);
    expect((await s.get(request.approval_request_id))!.state).toBe("pending");
    expect(await s.consumeToken("t", "d")).toBe(true);
  });

  it("refuses to open when a middle journal line is unreadable (fails closed)", async () => {
    const s = await openStore();
    await s.consumeToken("t1", "d");
    await s.consumeToken("t2", "d");
    await s.close();
    stores.pop();
    const path = join(dir, "approvals.jsonl");
    const lines = (await readFile(path, "utf8")).split("\n");
    lines[0] = "garbage";
    await writeFile(path, lines.join("\n"));
    const err = await FileApprovalStore.open({ dir, sweepIntervalMs: 0 }).catch((e: unknown) => e);
    expect(isApprovalStoreError(err) && err.code).toBe("corrupt");
    expect((err as Error).message).toMatch(/line 1 is unreadable/);
  });

  it("a failed fsync rejects the consumption (never true or false) and every later mutation until reopened", async () => {
    let s = await openStore();
    const probe = await open(join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    vi.spyOn(proto, "datasync").mockRejectedValueOnce(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    const err = await s.consumeToken("t1", "d").catch((e: unknown) => e);
    expect(isApprovalStoreError(err) && err.code).toBe("io");
    expect((err as Error).message).toMatch(/EIO/);
    const later = await s.create(newRequest(1)).catch((e: unknown) => e);
    expect(isApprovalStoreError(later) && later.code).toBe("failed");
    const later2 = await s.consumeToken("t2", "d").catch((e: unknown) => e);
    expect(isApprovalStoreError(later2) && later2.code).toBe("failed");
    await s.close();
    vi.restoreAllMocks();
    s = await openStore();
    // the errored consumption's line reached the file (only its fsync failed): after restart the token counts as
    // used, the safe direction (the caller denied that decision, and the token cannot let a later one through)
    expect(await s.consumeToken("t1", "d")).toBe(false);
    // t2 was refused before anything was written
    expect(await s.consumeToken("t2", "d")).toBe(true);
  });

  it("a failed write rejects the mutation and leaves memory unchanged", async () => {
    const s = await openStore();
    const probe = await open(join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { write: () => Promise<unknown> };
    await probe.close();
    vi.spyOn(proto, "write").mockRejectedValueOnce(Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" }));
    const err = await s.create(newRequest(1)).catch((e: unknown) => e);
    expect(isApprovalStoreError(err) && err.code).toBe("io");
    expect((await s.list()).requests).toEqual([]);
  });

  it("refuses a second open of the same directory", async () => {
    await openStore();
    const err = await FileApprovalStore.open({ dir, sweepIntervalMs: 0 }).catch((e: unknown) => e);
    expect(isApprovalStoreError(err) && err.code).toBe("locked");
  });

  it("the background sweep persists expiry", async () => {
    const s = await FileApprovalStore.open({ dir, now: () => clock, sweepIntervalMs: 5 });
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
});
