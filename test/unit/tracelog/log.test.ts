import { constants as fsConstants } from "node:fs";
import { appendFile, copyFile, mkdir, open, readdir, readFile, readlink, rm, stat, utimes, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { verifyDocument } from "../../../src/engine/signature.js";
import { GENESIS_HASH, TraceLog, entryHash, isTraceLogError, verifyLogDir, type SignedTraceRecord } from "../../../src/tracelog/index.js";
import { HeadMarker } from "../../../src/infra/marker.js";
import { collect, makeRecord, readLines, segmentFiles, tempDir, writeLines } from "./helpers.js";

const key = Ed25519KeyPair.generate();

/** The prototype shared by every fs.promises FileHandle, to inject write/fsync failures. */
async function fileHandleProto(dir: string): Promise<{ datasync: () => Promise<void>; write: (...a: unknown[]) => Promise<unknown> }> {
  const fh = await open(join(dir, "probe"), "w");
  const proto = Object.getPrototypeOf(fh);
  await fh.close();
  return proto;
}

function eio(): NodeJS.ErrnoException {
  return Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
}

let dir: string;
let cleanup: () => Promise<void>;
const opened: TraceLog[] = [];
/** Point the head marker at the entry `line` (as if the last write had never been acknowledged). */
async function rewindMarker(dir: string, line: string): Promise<void> {
  const e = JSON.parse(line) as { seq: number; hash: string };
  const m = (await HeadMarker.open(join(dir, "HEAD"), { create: false }))!;
  await m.write({ ...m.mark!, seq: e.seq, hash: e.hash }, { sync: true });
  await m.close();
}

async function openLog(opts: Partial<Parameters<typeof TraceLog.open>[0]> = {}): Promise<TraceLog> {
  const log = await TraceLog.open({ dir, signer: key, checkpointIntervalMs: 0, retentionIntervalMs: 0, ...opts });
  opened.push(log);
  return log;
}

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  vi.restoreAllMocks();
  for (const l of opened.splice(0)) await l.close();
  await cleanup();
});

describe("append and read", () => {
  it("creates a log whose entries chain from genesis and read back in order", async () => {
    const log = await openLog();
    expect(log.recovery.created).toBe(true);
    expect(log.head()).toEqual({ seq: 0, hash: GENESIS_HASH });
    const recs = [0, 1, 2].map((i) => makeRecord(key, i));
    const r1 = await log.append(recs[0]!);
    const r2 = await log.append(recs[1]!);
    const r3 = await log.append(recs[2]!);
    expect([r1.seq, r2.seq, r3.seq]).toEqual([1, 2, 3]);
    expect(log.head()).toEqual(r3);

    const entries = await collect(log.readFrom(1));
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(entries[0]!.prev).toBe(GENESIS_HASH);
    expect(entries[1]!.prev).toBe(entries[0]!.hash);
    expect(entries[2]!.hash).toBe(r3.hash);
    for (const [i, e] of entries.entries()) {
      expect(e.record()).toEqual(recs[i]);
      expect(e.hash).toBe(entryHash(e.prev, e.seq, e.recordText()));
      // the stored record verifies on its own, exactly as Gait's verifier would check it
      const { signature, ...signable } = JSON.parse(e.recordText()) as SignedTraceRecord;
      expect(() => verifyDocument(signable, signature, key)).not.toThrow();
    }
    expect((await collect(log.readFrom(3))).map((e) => e.seq)).toEqual([3]);
    expect(await collect(log.readFrom(4))).toEqual([]);
  });

  it("group-commits concurrent appends: strictly increasing seqs, all readable, fewer fsyncs than appends", async () => {
    const log = await openLog();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(makeRecord(key, i))));
    expect(results.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const st = log.stats();
    expect(st.appends).toBe(200);
    expect(st.commits).toBeLessThan(200);
    expect(st.fsyncs).toBeLessThan(200);
    const entries = await collect(log.readFrom(1));
    expect(entries.map((e) => e.seq)).toEqual(results.map((r) => r.seq));
    expect(entries.map((e) => e.record().trace_id)).toEqual(
      Array.from({ length: 200 }, (_, i) => makeRecord(key, i).trace_id),
    );
  });

  it("rejects values that are not signed gait.gate.trace records", async () => {
    const log = await openLog();
    const unsigned = { ...makeRecord(key, 1) } as Partial<SignedTraceRecord>;
    delete unsigned.signature;
    for (const bad of [{}, { schema_id: "gait.gate.other", signature: makeRecord(key, 1).signature }, unsigned, null, [1]]) {
      const err = await log.append(bad as SignedTraceRecord).catch((e: unknown) => e);
      expect(isTraceLogError(err) && err.code).toBe("invalid_record");
    }
    expect(log.head().seq).toBe(0);
    // a rejected record does not consume a seq
    expect((await log.append(makeRecord(key, 1))).seq).toBe(1);
  });

  it("refuses a second open of the same directory while the first is open", async () => {
    await openLog();
    const err = await TraceLog.open({ dir, signer: key }).catch((e: unknown) => e);
    expect(isTraceLogError(err) && err.code).toBe("locked");
  });

  it("rejects appends after close", async () => {
    const log = await openLog();
    await log.close();
    const err = await log.append(makeRecord(key, 1)).catch((e: unknown) => e);
    expect(isTraceLogError(err) && err.code).toBe("closed");
  });
});

describe("follow mode and cursors", () => {
  it("a follower receives entries appended after it started, then ends on abort", async () => {
    const log = await openLog();
    await log.append(makeRecord(key, 0));
    const ac = new AbortController();
    const got: number[] = [];
    const done = (async () => {
      for await (const e of log.readFrom(1, { follow: true, signal: ac.signal })) {
        got.push(e.seq);
        if (got.length === 6) ac.abort();
      }
    })();
    for (let i = 1; i < 6; i++) await log.append(makeRecord(key, i));
    await done;
    expect(got).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("a follower ends when the log closes", async () => {
    const log = await openLog();
    const done = collect(log.readFrom(1, { follow: true }));
    await log.append(makeRecord(key, 0));
    await log.close();
    expect((await done).map((e) => e.seq)).toEqual([1]);
  });

  it("readers never see an entry before its durable write returned", async () => {
    const log = await openLog();
    await log.append(makeRecord(key, 0));
    const proto = await fileHandleProto(dir);
    const original = proto.write;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // the commit's write reaches the file, and is held before it returns (an O_DSYNC write returns once durable)
    vi.spyOn(proto, "write").mockImplementation(async function (this: unknown, ...a: unknown[]) {
      const r = await original.apply(this, a);
      if (Buffer.isBuffer(a[0]) && a[0].includes('{"seq":2,')) await gate;
      return r;
    });
    const pending = log.append(makeRecord(key, 1));
    const seg = (await segmentFiles(dir))[0]!;
    for (let i = 0; i < 500 && !(await readLines(seg)).some((l) => l.startsWith('{"seq":2,')); i++) await new Promise((r) => setTimeout(r, 2));
    expect((await readLines(seg)).some((l) => l.startsWith('{"seq":2,'))).toBe(true); // written...
    expect((await collect(log.readFrom(1))).map((e) => e.seq)).toEqual([1]); // ...but not exposed
    expect(log.head().seq).toBe(1);
    release();
    expect((await pending).seq).toBe(2);
    expect((await collect(log.readFrom(1))).map((e) => e.seq)).toEqual([1, 2]);
  });

  it("writes the active segment through an O_DSYNC descriptor: a commit is durable when its write returns", async () => {
    const log = await openLog({ maxSegmentBytes: 4096 });
    const flagsOfActive = async (): Promise<number> => {
      const segs = await segmentFiles(dir);
      const active = segs[segs.length - 1]!;
      for (const fd of await readdir("/proc/self/fd")) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => "");
        if (target !== active) continue;
        const info = await readFile(`/proc/self/fdinfo/${fd}`, "utf8").catch(() => "");
        const m = /^flags:\s*([0-7]+)/m.exec(info);
        if (m && (parseInt(m[1]!, 8) & 3) === fsConstants.O_RDWR) return parseInt(m[1]!, 8); // 3: O_ACCMODE
      }
      throw new Error(`no read-write descriptor of ${active} is open`);
    };
    expect((await flagsOfActive()) & fsConstants.O_DSYNC).toBe(fsConstants.O_DSYNC);
    // after a rotation (a new segment) too
    for (let i = 0; i < 20; i++) await log.append(makeRecord(key, i));
    expect((await segmentFiles(dir)).length).toBeGreaterThan(1);
    expect((await flagsOfActive()) & fsConstants.O_DSYNC).toBe(fsConstants.O_DSYNC);
    await log.close();
    // and after a reopen (the existing active segment is continued)
    const again = await openLog({ maxSegmentBytes: 1 << 20 });
    expect((await flagsOfActive()) & fsConstants.O_DSYNC).toBe(fsConstants.O_DSYNC);
    await again.close();
  });

  it("resuming from any cursor yields every entry exactly once across segment rotations", async () => {
    const log = await openLog({ maxSegmentBytes: 4096 });
    const ac = new AbortController();
    const followed: number[] = [];
    const follower = (async () => {
      for await (const e of log.readFrom(1, { follow: true, signal: ac.signal })) {
        followed.push(e.seq);
        if (e.seq === 60) ac.abort();
      }
    })();
    for (let i = 0; i < 30; i++) await log.append(makeRecord(key, i));
    await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(makeRecord(key, 30 + i))));
    await follower;
    expect(followed).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect((await segmentFiles(dir)).length).toBeGreaterThan(3);
    expect(log.stats().rotations).toBeGreaterThan(2);
    for (const from of [1, 2, 7, 13, 29, 30, 31, 44, 59, 60]) {
      const seqs = (await collect(log.readFrom(from))).map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: 61 - from }, (_, i) => from + i));
    }
    await log.close();
    const v = await verifyLogDir(dir, key, { requireSealed: true });
    expect(v.error).toBeUndefined();
    expect(v).toMatchObject({ ok: true, entries: 60, first_seq: 1, last_seq: 60, from_genesis: true });
  });

  it("a reopened log rebuilds its cursor positions (entries before the active segment are found)", async () => {
    let log = await openLog({ maxSegmentBytes: 4096 });
    for (let i = 0; i < 40; i++) await log.append(makeRecord(key, i));
    await log.close();
    log = await openLog({ maxSegmentBytes: 4096 });
    expect(log.head().seq).toBe(40);
    expect((await collect(log.readFrom(5))).map((e) => e.seq)).toEqual(Array.from({ length: 36 }, (_, i) => i + 5));
  });
});

describe("checkpoints", () => {
  it("writes signed checkpoints every N entries and at close", async () => {
    const log = await openLog({ checkpointEveryEntries: 10 });
    for (let i = 0; i < 25; i++) await log.append(makeRecord(key, i));
    await log.close();
    const lines = await readLines((await segmentFiles(dir))[0]!);
    const kinds = lines.filter((l) => l.startsWith('{"checkpoint"')).map((l) => JSON.parse(l).checkpoint as { kind: string; seq: number });
    expect(kinds.map((c) => `${c.kind}@${c.seq}`)).toEqual(["anchor@0", "periodic@10", "periodic@20", "close@25"]);
    const v = await verifyLogDir(dir, key, { requireSealed: true });
    expect(v.ok).toBe(true);
    expect(v.checkpoints).toBe(4);
  });

  it("writes a periodic checkpoint on the timer when entries were added", async () => {
    const log = await openLog({ checkpointIntervalMs: 10, checkpointEveryEntries: 1_000_000 });
    await log.append(makeRecord(key, 0));
    for (let i = 0; i < 100 && log.stats().checkpoints < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(log.stats().checkpoints).toBe(2); // anchor + one periodic; no further ones without new entries
    const lines = await readLines((await segmentFiles(dir))[0]!);
    expect(JSON.parse(lines[lines.length - 1]!).checkpoint).toMatchObject({ kind: "periodic", seq: 1 });
  });
});

describe("reopen and torn-tail recovery", () => {
  it("continues the chain after a clean reopen", async () => {
    let log = await openLog();
    await log.append(makeRecord(key, 0));
    const h = await log.append(makeRecord(key, 1));
    await log.close();
    log = await openLog();
    expect(log.recovery).toMatchObject({ created: false, head_seq: 2, head_hash: h.hash, truncated_bytes: 0, dropped_lines: 0 });
    expect((await log.append(makeRecord(key, 2))).seq).toBe(3);
    await log.close();
    expect((await verifyLogDir(dir, key, { requireSealed: true })).ok).toBe(true);
  });

  it("cuts and reports a partial final line, never dropping complete entries", async () => {
    let log = await openLog();
    for (let i = 0; i < 3; i++) await log.append(makeRecord(key, i));
    await log.close();
    const seg = (await segmentFiles(dir))[0]!;
    const before = (await stat(seg)).size;
    await appendFile(seg, '{"seq":4,"prev":"ab');
    log = await openLog();
    expect(log.recovery).toMatchObject({ head_seq: 3, truncated_bytes: 19, dropped_lines: 0 });
    expect(log.recovery.reason).toMatch(/partial line of 19 bytes/);
    expect((await stat(seg)).size).toBe(before);
    expect((await collect(log.readFrom(1))).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await log.append(makeRecord(key, 3))).seq).toBe(4);
    await log.close();
    expect((await verifyLogDir(dir, key, { requireSealed: true })).ok).toBe(true);
  });

  it("cuts and reports a complete final line with a bad hash", async () => {
    let log = await openLog({ checkpointEveryEntries: 1_000_000 });
    for (let i = 0; i < 3; i++) await log.append(makeRecord(key, i));
    await log.close();
    const seg = (await segmentFiles(dir))[0]!;
    const lines = await readLines(seg);
    lines.pop(); // close checkpoint
    lines[lines.length - 1] = lines[lines.length - 1]!.replace('"verdict":"allow"', '"verdict":"block"');
    await writeLines(seg, lines);
    // a torn final write was never acknowledged, so the head marker (written after each fsync) does not include it
    await rewindMarker(dir, lines[lines.length - 2]!);
    log = await openLog();
    expect(log.recovery).toMatchObject({ head_seq: 2, dropped_lines: 1 });
    expect(log.recovery.reason).toMatch(/line 4 .*entry hash mismatch/);
    expect((await collect(log.readFrom(1))).map((e) => e.seq)).toEqual([1, 2]);
  });

  it("refuses to open when an invalid line is followed by complete lines, unless repairTail is set", async () => {
    let log = await openLog({ checkpointEveryEntries: 1_000_000 });
    for (let i = 0; i < 5; i++) await log.append(makeRecord(key, i));
    await log.close();
    const seg = (await segmentFiles(dir))[0]!;
    const lines = await readLines(seg);
    lines[2] = lines[2]!.replace('"verdict":"allow"', '"verdict":"block"'); // entry 2 of 5
    await writeLines(seg, lines);
    const err = await TraceLog.open({ dir, signer: key }).catch((e: unknown) => e);
    expect(isTraceLogError(err) && err.code).toBe("corrupt");
    expect((err as Error).message).toMatch(/line 3 .*entry hash mismatch.*4 complete line\(s\) follow/);
    expect(await readFile(seg, "utf8")).toBe(lines.map((l) => l + "\n").join("")); // untouched
    log = await openLog({ repairTail: true });
    expect(log.recovery).toMatchObject({ head_seq: 1, dropped_lines: 5 });
  });

  it("removes an empty segment left by an interrupted rotation and continues the previous one", async () => {
    let log = await openLog();
    for (let i = 0; i < 3; i++) await log.append(makeRecord(key, i));
    await log.close();
    await writeFile(join(dir, "segment-00000000000000000004.jsonl"), '{"checkpoint":{"schema_id":"gait.trace');
    log = await openLog();
    expect(log.recovery.removed_segments).toEqual(["segment-00000000000000000004.jsonl"]);
    expect(log.recovery.head_seq).toBe(3);
    expect((await log.append(makeRecord(key, 3))).seq).toBe(4);
    await log.close();
    expect((await verifyLogDir(dir, key, { requireSealed: true })).ok).toBe(true);
  });

  it("starts a new segment when the signing key changed, so each segment verifies with one key", async () => {
    let log = await openLog();
    await log.append(makeRecord(key, 0));
    await log.close();
    const key2 = Ed25519KeyPair.generate();
    log = await TraceLog.open({ dir, signer: key2, checkpointIntervalMs: 0 });
    opened.push(log);
    expect(log.recovery.new_segment_for_key).toBe(true);
    expect((await log.append(makeRecord(key2, 1))).seq).toBe(2);
    await log.close();
    expect((await segmentFiles(dir)).map((p) => basename(p))).toEqual(["segment-00000000000000000001.jsonl", "segment-00000000000000000002.jsonl"]);
    expect(await verifyLogDir(dir, [key, key2], { requireSealed: true })).toMatchObject({ ok: true, entries: 2 });
    const oneKey = await verifyLogDir(dir, key);
    expect(oneKey.ok).toBe(false);
    expect(oneKey.error).toMatch(/no verification key for key_id/);
  });
});

describe("head marker", () => {
  async function readMark(d: string): Promise<{ seq: number; hash: string } | undefined> {
    const m = await HeadMarker.open(join(d, "HEAD"), { create: false });
    const mark = m?.mark;
    await m?.close();
    return mark;
  }

  it("follows the durable head after the replies, never ahead of it; a crash's older marker is accepted, a cut below it refused", async () => {
    const log = await openLog({ checkpointEveryEntries: 5 });
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await log.append(makeRecord(key, i)));
    // the marker write runs after the replies; wait until it has caught up with entry 10 at least (bounded)
    let mark = await readMark(dir);
    for (let i = 0; i < 200 && (mark?.seq ?? 0) < 10; i++) {
      await new Promise((r) => setTimeout(r, 5));
      mark = await readMark(dir);
    }
    expect(mark!.seq).toBeGreaterThanOrEqual(10);
    expect(mark!.hash).toBe(results[mark!.seq - 1]!.hash);
    expect(mark!.seq).toBeLessThanOrEqual(log.head().seq);
    // the files as a kill -9 now would leave them (no close checkpoint, marker at the last checkpoint)
    const crashed = join(dir, "crashed");
    await mkdir(crashed);
    for (const f of [...(await segmentFiles(dir)), join(dir, "HEAD")]) await copyFile(f, join(crashed, basename(f)));
    const reopened = await TraceLog.open({ dir: crashed, signer: key, checkpointIntervalMs: 0, retentionIntervalMs: 0 });
    expect(reopened.head()).toEqual(results[11]);
    expect((await reopened.append(makeRecord(key, 12))).seq).toBe(13);
    await reopened.close();
    expect(await readMark(crashed)).toMatchObject({ seq: 13 }); // close records the exact head
    // a cut below what the (older) marker records is still refused
    await rm(join(crashed, "HEAD"));
    await copyFile(join(dir, "HEAD"), join(crashed, "HEAD"));
    const seg = (await segmentFiles(crashed))[0]!;
    const lines = await readLines(seg);
    const keep = lines.findIndex((l) => l.startsWith('{"seq":9,'));
    await writeLines(seg, lines.slice(0, keep));
    const err = await TraceLog.open({ dir: crashed, signer: key }).catch((e: unknown) => e);
    expect(isTraceLogError(err) && err.code).toBe("rolled_back");
  });

  it("records an anchor with the next commit after it changes", async () => {
    const log = await openLog({ checkpointEveryEntries: 1000 });
    await log.append(makeRecord(key, 0));
    log.setAnchor("approvals_seq", 7);
    await log.append(makeRecord(key, 1));
    let mark = (await readMark(dir)) as Record<string, unknown> | undefined;
    for (let i = 0; i < 200 && mark?.approvals_seq !== 7; i++) {
      await new Promise((r) => setTimeout(r, 5));
      mark = (await readMark(dir)) as Record<string, unknown> | undefined;
    }
    expect(mark).toMatchObject({ approvals_seq: 7, seq: 2 });
  });

  it("a failed marker write fails the log, which recovers by itself", async () => {
    const log = await openLog({ checkpointEveryEntries: 2, recoverIntervalMs: 20 });
    vi.spyOn(HeadMarker.prototype, "write").mockRejectedValueOnce(eio());
    await log.append(makeRecord(key, 0));
    await log.append(makeRecord(key, 1)); // durable and acknowledged; its checkpoint's marker write fails after the reply
    for (let i = 0; i < 200 && !log.failedWith; i++) await new Promise((r) => setTimeout(r, 5));
    expect(log.failedWith?.message).toMatch(/EIO/);
    for (let i = 0; i < 200 && log.failedWith; i++) await new Promise((r) => setTimeout(r, 10));
    expect(log.failedWith).toBeUndefined();
    expect((await log.append(makeRecord(key, 2))).seq).toBe(3);
    await log.close();
    expect(await readMark(dir)).toMatchObject({ seq: 3 });
  });
});

describe("write failures fail closed", () => {
  it("a failed durable write (EIO) rejects every pending append and every later one until the log has recovered by itself", async () => {
    // preallocation off: its background writes go through the same FileHandle methods the fault is injected into.
    // The active segment is O_DSYNC: a disk that cannot make data durable fails the write itself.
    let log = await openLog({ recoverIntervalMs: 20, preallocateBytes: 0 });
    await log.append(makeRecord(key, 0));
    const proto = await fileHandleProto(dir);
    vi.spyOn(proto, "write").mockRejectedValueOnce(eio());
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => log.append(makeRecord(key, 1 + i))));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    const first = (results[0] as PromiseRejectedResult).reason;
    expect(isTraceLogError(first) && first.code).toBe("io");
    expect((first as Error).message).toMatch(/EIO/);
    const later = await log.append(makeRecord(key, 99)).catch((e: unknown) => e);
    expect(isTraceLogError(later) && later.code).toBe("failed");
    expect(log.failedWith).toBeDefined();
    expect(log.head().seq).toBe(1);
    vi.restoreAllMocks();
    // no reopen: the log retries by itself (reopens its tail, writes a fsynced checkpoint) and takes appends again
    for (let i = 0; i < 200 && log.failedWith; i++) await new Promise((r) => setTimeout(r, 10));
    expect(log.failedWith).toBeUndefined();
    const next = await log.append(makeRecord(key, 100));
    expect(next.seq).toBe(2); // the refused appends never happened: no sequence numbers were skipped
    await log.close();
    expect((await verifyLogDir(dir, key)).ok).toBe(true);
    log = await openLog();
    expect(log.head().seq).toBe(2);
    await log.close();
  });

  it("a failed write rejects the pending append; followers wait it out and resume after recovery", async () => {
    const health: boolean[] = [];
    const log = await openLog({ recoverIntervalMs: 20, onHealth: (ok) => health.push(ok), preallocateBytes: 0 }); // as above
    await log.append(makeRecord(key, 0));
    const ac = new AbortController();
    const seen: number[] = [];
    const follower = (async () => {
      for await (const e of log.readFrom(1, { follow: true, signal: ac.signal })) {
        seen.push(e.seq);
        if (e.seq === 2) ac.abort();
      }
    })();
    const proto = await fileHandleProto(dir);
    vi.spyOn(proto, "write").mockRejectedValueOnce(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }));
    const err = await log.append(makeRecord(key, 1)).catch((e: unknown) => e);
    expect(isTraceLogError(err) && err.code).toBe("io");
    expect((err as Error).message).toMatch(/ENOSPC/);
    for (let i = 0; i < 200 && log.failedWith; i++) await new Promise((r) => setTimeout(r, 10));
    expect(health).toEqual([false, true]);
    expect((await log.append(makeRecord(key, 2))).seq).toBe(2);
    await follower;
    expect(seen).toEqual([1, 2]);
    await log.close();
  });
});

describe("retention", () => {
  it("deletes whole old segments by count, never the active one, and the rest still verifies", async () => {
    const log = await openLog({ maxSegmentBytes: 4096, maxCount: 10 });
    for (let i = 0; i < 60; i++) await log.append(makeRecord(key, i));
    const segsBefore = await segmentFiles(dir);
    const r = await log.sweepRetention();
    expect(r.removed_segments.length).toBeGreaterThan(0);
    const segsAfter = await segmentFiles(dir);
    expect(segsAfter.length).toBe(segsBefore.length - r.removed_segments.length);
    expect(segsAfter[segsAfter.length - 1]).toBe(segsBefore[segsBefore.length - 1]);
    const oldest = log.oldestSeq();
    expect(oldest).toBeGreaterThan(1);
    expect(oldest).toBeLessThanOrEqual(51); // at least the newest 10 entries are kept
    expect(r.removed_entries).toBe(oldest - 1);
    // a cursor older than the oldest retained entry starts at the oldest one
    expect((await collect(log.readFrom(1)))[0]!.seq).toBe(oldest);
    await log.close();
    const v = await verifyLogDir(dir, key, { requireSealed: true });
    expect(v).toMatchObject({ ok: true, from_genesis: false, first_seq: oldest, last_seq: 60 });
  });

  it("deletes segments by age using their last write time", async () => {
    let now = Date.now();
    const log = await openLog({ maxSegmentBytes: 4096, maxAgeMs: 60_000, now: () => now });
    for (let i = 0; i < 30; i++) await log.append(makeRecord(key, i));
    expect((await log.sweepRetention()).removed_segments).toEqual([]);
    const segs = await segmentFiles(dir);
    const old = new Date(now - 120_000);
    await utimes(segs[0]!, old, old);
    await utimes(segs[1]!, old, old);
    now += 1000;
    const r = await log.sweepRetention();
    expect(r.removed_segments).toEqual([basename(segs[0]!), basename(segs[1]!)]);
    // with every segment "old", the active one still stays
    for (const s of await segmentFiles(dir)) await utimes(s, old, old);
    await log.sweepRetention();
    expect(await segmentFiles(dir)).toEqual([segs[segs.length - 1]]);
    expect((await collect(log.readFrom(1))).at(-1)!.seq).toBe(30);
  });
});
