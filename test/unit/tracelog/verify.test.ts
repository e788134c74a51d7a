import { rename, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { signDocument } from "../../../src/engine/signature.js";
import { TraceLog, entryHash, verifyLogDir, verifySegmentFile } from "../../../src/tracelog/index.js";
import { makeRecord, readLines, segmentFiles, tempDir, writeLines } from "./helpers.js";

const key = Ed25519KeyPair.generate();
let dir: string;
let cleanup: () => Promise<void>;
let seg: string;
let lines: string[];

/** 12 entries, checkpoints every 5: lines = anchor@0, e1..e5, cp@5, e6..e10, cp@10, e11, e12, close@12. */
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("tracelog-verify-"));
  const log = await TraceLog.open({ dir, signer: key, checkpointEveryEntries: 5, checkpointIntervalMs: 0 });
  for (let i = 0; i < 12; i++) await log.append(makeRecord(key, i));
  await log.close();
  seg = (await segmentFiles(dir))[0]!;
  lines = await readLines(seg);
});
afterEach(() => cleanup());

const lineOfSeq = (seq: number): number => lines.findIndex((l) => l.startsWith(`{"seq":${seq},`));

describe("verifySegmentFile", () => {
  it("accepts an untouched, cleanly closed segment", async () => {
    expect(lines).toHaveLength(16);
    const r = await verifySegmentFile(seg, key, { requireSealed: true });
    expect(r).toMatchObject({ ok: true, entries: 12, checkpoints: 4, first_seq: 1, last_seq: 12, sealed: true, unsealed_entries: 0 });
    expect(r.anchor).toEqual({ seq: 0, hash: "0".repeat(64) });
    expect(r.key_ids).toEqual([key.keyId]);
  });

  it("detects a modified record field", async () => {
    const i = lineOfSeq(4);
    lines[i] = lines[i]!.replace('"verdict":"allow"', '"verdict":"block"');
    await writeLines(seg, lines);
    const r = await verifySegmentFile(seg, key);
    expect(r.ok).toBe(false);
    expect(r.error).toBe(`line ${i + 1}: entry 4 hash mismatch: the record or the entry was modified`);
    expect(r.entries).toBe(3);
  });

  it("detects a modified record even when the attacker recomputes the whole hash chain (no key)", async () => {
    // rewrite entry 4 and re-chain every later entry; checkpoints can't be re-signed, the record signature fails first
    let prev = "";
    const out: string[] = [];
    for (const l of lines) {
      if (!l.startsWith('{"seq":')) {
        out.push(l);
        continue;
      }
      const e = JSON.parse(l) as { seq: number; prev: string; hash: string; record: Record<string, unknown> };
      const recText = l.slice(l.indexOf('"record":') + 9, -1);
      const text = e.seq === 4 ? recText.replace('"verdict":"allow"', '"verdict":"block"') : recText;
      const p = e.seq === 1 ? e.prev : prev;
      const h = entryHash(p, e.seq, text);
      out.push(`{"seq":${e.seq},"prev":"${p}","hash":"${h}","record":${text}}`);
      prev = h;
    }
    await writeLines(seg, out);
    const r = await verifySegmentFile(seg, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/entry 4 record signature: signed_digest mismatch/);
  });

  it("detects a deleted middle line", async () => {
    lines.splice(lineOfSeq(7), 1);
    await writeLines(seg, lines);
    const r = await verifySegmentFile(seg, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/entry seq 8, expected 7: entries were removed, inserted or reordered/);
  });

  it("detects two swapped lines", async () => {
    const a = lineOfSeq(2);
    const b = lineOfSeq(3);
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    await writeLines(seg, lines);
    const r = await verifySegmentFile(seg, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/entry seq 3, expected 2/);
  });

  it("detects an inserted (duplicated) entry", async () => {
    lines.splice(lineOfSeq(9), 0, lines[lineOfSeq(8)]!);
    await writeLines(seg, lines);
    const r = await verifySegmentFile(seg, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/entry seq 8, expected 9/);
  });

  it("detects entries removed together with the checkpoint after them (checkpoint no longer matches)", async () => {
    // delete e6..e10 and the checkpoint at 10: the remaining checkpoint chain breaks at the close checkpoint
    const from = lineOfSeq(6);
    lines.splice(from, 6);
    await writeLines(seg, lines);
    const r = await verifySegmentFile(seg, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/entry seq 11, expected 6/);
  });

  it("detects truncation after a periodic checkpoint when the segment must be sealed", async () => {
    await writeLines(seg, lines.slice(0, lineOfSeq(10) + 2)); // ends with periodic@10
    const loose = await verifySegmentFile(seg, key);
    expect(loose).toMatchObject({ ok: true, last_seq: 10, last_checkpoint_seq: 10, sealed: false, unsealed_entries: 0 });
    const strict = await verifySegmentFile(seg, key, { requireSealed: true });
    expect(strict.ok).toBe(false);
    expect(strict.error).toMatch(/does not end with a close or seal checkpoint \(last checkpoint: periodic at seq 10\)/);
  });

  it("reports entries after the last checkpoint when the tail was cut between checkpoints", async () => {
    await writeLines(seg, lines.slice(0, lineOfSeq(8) + 1));
    const r = await verifySegmentFile(seg, key, { requireSealed: true });
    expect(r.ok).toBe(false);
    expect(r.unsealed_entries).toBe(3);
    expect(r.error).toMatch(/ends with 3 entries after the last signed checkpoint \(seq 5\)/);
  });

  it("detects a cut in the middle of a line", async () => {
    const text = lines.map((l) => l + "\n").join("");
    await writeFile(seg, text);
    await truncate(seg, text.length - 30);
    const r = await verifySegmentFile(seg, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/partial line of \d+ bytes at the end/);
  });

  it("detects a forged checkpoint signature and a wrong verification key", async () => {
    const i = lines.findIndex((l) => l.includes('"kind":"periodic"'));
    lines[i] = lines[i]!.replace(/"created_at":"[^"]+"/, '"created_at":"2000-01-01T00:00:00Z"');
    await writeLines(seg, lines);
    const r = await verifySegmentFile(seg, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/checkpoint \(seq 5\) signature: signed_digest mismatch/);

    const other = Ed25519KeyPair.generate();
    const r2 = await verifySegmentFile(seg, other);
    expect(r2.ok).toBe(false);
    expect(r2.error).toBe(`line 1: checkpoint (seq 0) signature: no verification key for key_id ${key.keyId}`);
  });

  it("detects a checkpoint re-signed by another key over a forged head", async () => {
    const other = Ed25519KeyPair.generate();
    const i = lines.findIndex((l) => l.includes('"kind":"close"'));
    const cp = JSON.parse(lines[i]!).checkpoint as Record<string, unknown>;
    const body = { ...cp, key_id: other.keyId, signature: undefined };
    delete body.signature;
    lines[i] = JSON.stringify({ checkpoint: { ...body, signature: signDocument(body, other) } });
    await writeLines(seg, lines);
    const r = await verifySegmentFile(seg, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/no verification key for key_id/);
  });

  it("requires the anchor as the first line (entries cut from the beginning)", async () => {
    await writeLines(seg, lines.slice(1));
    const r = await verifySegmentFile(seg, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/^line 1: a segment must start with an anchor checkpoint/);
  });

  it("rejects (does not resolve) when the file cannot be read", async () => {
    await expect(verifySegmentFile(join(dir, "missing.jsonl"), key)).rejects.toThrow(/ENOENT/);
  });
});

describe("verifyLogDir", () => {
  async function multiSegmentLog(): Promise<string[]> {
    await rm(dir, { recursive: true, force: true });
    const log = await TraceLog.open({ dir, signer: key, maxSegmentBytes: 3000, checkpointIntervalMs: 0 });
    for (let i = 0; i < 30; i++) await log.append(makeRecord(key, i));
    await log.close();
    return segmentFiles(dir);
  }

  it("verifies segments that continue each other", async () => {
    const segs = await multiSegmentLog();
    expect(segs.length).toBeGreaterThan(3);
    const r = await verifyLogDir(dir, key, { requireSealed: true });
    expect(r).toMatchObject({ ok: true, entries: 30, first_seq: 1, last_seq: 30, from_genesis: true });
    expect(r.segments.slice(0, -1).every((s) => s.sealed)).toBe(true);
  });

  it("detects a removed middle segment", async () => {
    const segs = await multiSegmentLog();
    await rm(segs[1]!);
    const r = await verifyLogDir(dir, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/does not continue .*a segment was truncated, removed or replaced/);
  });

  it("detects a sealed segment whose tail was cut (the next anchor no longer matches)", async () => {
    const segs = await multiSegmentLog();
    const l = await readLines(segs[0]!);
    await writeLines(segs[0]!, l.slice(0, -2)); // drop the last entry and the seal
    const r = await verifyLogDir(dir, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/its anchor \(seq \d+\) does not continue/);
  });

  it("accepts a log whose oldest segments were removed by retention, anchored by a signed checkpoint", async () => {
    await rm(dir, { recursive: true, force: true });
    const log = await TraceLog.open({ dir, signer: key, maxSegmentBytes: 3000, checkpointIntervalMs: 0, maxCount: 15, retentionIntervalMs: 0 });
    for (let i = 0; i < 30; i++) await log.append(makeRecord(key, i));
    expect((await log.sweepRetention()).removed_segments.length).toBeGreaterThan(0);
    await log.close();
    const r = await verifyLogDir(dir, key, { requireSealed: true, requireHead: true });
    expect(r).toMatchObject({ ok: true, from_genesis: false, head_marker: "ok", last_seq: 30 });
    expect(r.first_seq).toBeGreaterThan(1);
  });

  it("detects oldest segments removed by hand (below the retention floor the head marker records)", async () => {
    const segs = await multiSegmentLog();
    await rm(segs[0]!);
    const r = await verifyLogDir(dir, key, { requireSealed: true });
    expect(r).toMatchObject({ ok: false, head_marker: "mismatch" });
    expect(r.error).toMatch(/missing below the first segment/);
  });

  it("detects a log cut at a line boundary, which the head marker still remembers", async () => {
    const segs = await multiSegmentLog();
    const last = segs[segs.length - 1]!;
    const l = await readLines(last);
    await writeLines(last, l.slice(0, -3)); // the close checkpoint and two entries
    expect((await verifySegmentFile(last, key)).ok).toBe(true); // the file alone looks fine ...
    expect((await verifySegmentFile(last, key, { requireSealed: true })).ok).toBe(false); // ... unless a seal is required
    const r = await verifyLogDir(dir, key);
    expect(r).toMatchObject({ ok: false, head_marker: "mismatch" });
    expect(r.error).toMatch(/behind its head marker \(entry 30\)/);
  });

  it("detects the newest segment deleted", async () => {
    const segs = await multiSegmentLog();
    await rm(segs[segs.length - 1]!);
    const r = await verifyLogDir(dir, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/behind its head marker/);
  });

  it("detects a renamed segment (its name and its anchor disagree)", async () => {
    const segs = await multiSegmentLog();
    const renamed = join(dir, "segment-00000000000000000999.jsonl");
    await rename(segs[2]!, renamed);
    const r = await verifySegmentFile(renamed, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/does not match the file name/);
  });

  it("fails on a directory with no segments", async () => {
    await rm(seg);
    const r = await verifyLogDir(dir, key);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/no segment files/);
  });
});
