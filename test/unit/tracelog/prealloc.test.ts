/**
 * The active segment's preallocated, zero-filled tail (docs/trace-log.md "Preallocation"): every reader treats the
 * first zero byte as the end of the data; recovery cuts a torn line followed by zeros; sealed and closed segments
 * are exactly their content.
 */
import { copyFile, mkdir, open, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../../src/infra/keys.js";
import { TraceLog, verifyLogDir, verifySegmentFile, type TraceLogOptions } from "../../../src/tracelog/index.js";
import { collect, makeRecord, readLines, segmentFiles, tempDir } from "./helpers.js";

const key = Ed25519KeyPair.generate();
let dir: string;
let cleanup: () => Promise<void>;
const opened: TraceLog[] = [];

async function openLog(d: string, opts: Partial<TraceLogOptions> = {}): Promise<TraceLog> {
  const log = await TraceLog.open({ dir: d, signer: key, checkpointIntervalMs: 0, retentionIntervalMs: 0, preallocateBytes: 64 * 1024, ...opts });
  opened.push(log);
  return log;
}

/** Data size of a segment file: up to its first zero byte. */
async function dataSize(path: string): Promise<number> {
  const buf = await readFile(path);
  const z = buf.indexOf(0);
  return z < 0 ? buf.length : z;
}

/** Wait (polling, no time limit assumed) until the active segment has a zero-filled tail past its data. */
async function untilPreallocated(path: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const buf = await readFile(path);
    const z = buf.indexOf(0);
    if (z >= 0 && buf.subarray(z).every((b) => b === 0) && buf.length - z >= 32 * 1024) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${path} was not preallocated`);
}

/** What a kill -9 leaves: a copy of the directory's files as they are now (the page cache). */
async function snapshot(from: string): Promise<string> {
  const to = join(from, "crash");
  await mkdir(to, { mode: 0o750 });
  for (const n of await readdir(from)) if (n.startsWith("segment-") || n === "HEAD") await copyFile(join(from, n), join(to, n));
  return to;
}

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir("tracelog-prealloc-"));
});
afterEach(async () => {
  for (const l of opened.splice(0)) await l.close();
  await cleanup();
});

describe("preallocated active segment", () => {
  it("is zero-filled ahead of its data; readFrom, followers and verify stop at the data end", async () => {
    const log = await openLog(dir);
    for (let i = 0; i < 20; i++) await log.append(makeRecord(key, i));
    const [seg] = await segmentFiles(dir);
    await untilPreallocated(seg!);
    const size = (await stat(seg!)).size;
    expect(size).toBeGreaterThan(await dataSize(seg!));
    // export reads up to the data end, and a follower picks up entries written into the zeros
    expect((await collect(log.readFrom(1))).map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const ac = new AbortController();
    const seen: number[] = [];
    const follower = (async () => {
      for await (const e of log.readFrom(19, { follow: true, signal: ac.signal })) {
        seen.push(e.seq);
        if (e.seq === 22) ac.abort();
      }
    })();
    await log.append(makeRecord(key, 20));
    await log.append(makeRecord(key, 21));
    await follower;
    expect(seen).toEqual([19, 20, 21, 22]);
    expect((await stat(seg!)).size).toBe(size); // the appends overwrote preallocated space
    // verify of the running segment and of the directory
    const v = await verifySegmentFile(seg!, key);
    expect(v).toMatchObject({ ok: true, entries: 22, last_seq: 22 });
    expect((await verifyLogDir(dir, key)).ok).toBe(true);
    // close cuts the tail: a closed segment is exactly its content
    await log.close();
    const buf = await readFile(seg!);
    expect(buf.indexOf(0)).toBe(-1);
    expect((await verifyLogDir(dir, key, { requireSealed: true })).ok).toBe(true);
  });

  it("rotation cuts the sealed segment to its content; the new segment is preallocated", async () => {
    const log = await openLog(dir, { maxSegmentBytes: 16 * 1024, preallocateBytes: 8 * 1024 });
    for (let i = 0; i < 40; i++) await log.append(makeRecord(key, i));
    expect(log.stats().rotations).toBeGreaterThan(1);
    const segs = await segmentFiles(dir);
    for (const s of segs.slice(0, -1)) {
      const buf = await readFile(s);
      expect(buf.indexOf(0), basename(s)).toBe(-1);
      expect((await verifySegmentFile(s, key, { requireSealed: true })).ok).toBe(true);
      // data size, not file size, decides the rotation: a sealed segment holds about maxSegmentBytes of entries
      expect(buf.length).toBeGreaterThan(8 * 1024);
    }
    expect((await collect(log.readFrom(1))).length).toBe(40);
    await log.close();
    for (const s of await segmentFiles(dir)) expect((await readFile(s)).indexOf(0)).toBe(-1);
    expect((await verifyLogDir(dir, key, { requireSealed: true })).ok).toBe(true);
  });

  it("a crash leaves data and zeros: reopening continues exactly at the data end", async () => {
    const log = await openLog(dir);
    for (let i = 0; i < 10; i++) await log.append(makeRecord(key, i));
    const [seg] = await segmentFiles(dir);
    await untilPreallocated(seg!);
    const crashed = await snapshot(dir);
    const copy = join(crashed, basename(seg!));
    const before = (await stat(copy)).size;
    const again = await openLog(crashed);
    expect(again.recovery).toMatchObject({ truncated_bytes: 0, dropped_lines: 0, head_seq: 10 });
    expect(again.head()).toEqual(log.head());
    expect((await stat(copy)).size).toBeLessThanOrEqual(before);
    expect((await again.append(makeRecord(key, 10))).seq).toBe(11);
    await again.close();
    expect((await verifyLogDir(crashed, key, { requireSealed: true })).ok).toBe(true);
  });

  it("a line torn mid-write into preallocated space (a partial line, then zeros) is a torn tail and is cut", async () => {
    const log = await openLog(dir);
    for (let i = 0; i < 10; i++) await log.append(makeRecord(key, i));
    const [seg] = await segmentFiles(dir);
    await untilPreallocated(seg!);
    const lines = await readLines(seg!);
    const crashed = await snapshot(dir);
    const copy = join(crashed, basename(seg!));
    const end = await dataSize(copy);
    // the next entry, half written over the zeros (as an interrupted write leaves it)
    const torn = lines[lines.length - 1]!.replace('"seq":10', '"seq":11').slice(0, 300);
    const fh = await open(copy, "r+");
    await fh.write(Buffer.from(torn), 0, torn.length, end);
    await fh.close();
    const again = await openLog(crashed);
    expect(again.recovery).toMatchObject({ truncated_bytes: torn.length, head_seq: 10 });
    expect(again.recovery.reason).toMatch(/partial line of 300 bytes/);
    expect((await again.append(makeRecord(key, 10))).seq).toBe(11);
    expect((await collect(again.readFrom(1))).map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    await again.close();
    expect((await verifyLogDir(crashed, key, { requireSealed: true })).ok).toBe(true);
  });

  it("a complete but invalid last line followed by zeros is a torn tail; a write torn across pages (data after a zero gap) too", async () => {
    const log = await openLog(dir);
    for (let i = 0; i < 10; i++) await log.append(makeRecord(key, i));
    const [seg] = await segmentFiles(dir);
    await untilPreallocated(seg!);
    const lines = await readLines(seg!);
    const crashed = await snapshot(dir);
    const copy = join(crashed, basename(seg!));
    const end = await dataSize(copy);
    const bad = lines[lines.length - 1]!.replace('"seq":10', '"seq":11') + "\n"; // wrong prev and hash
    const fh = await open(copy, "r+");
    await fh.write(Buffer.from(bad), 0, bad.length, end);
    // a later page of the same write reached the disk, the one before it did not
    await fh.write(Buffer.from("tail of the torn write\n"), 0, 23, end + bad.length + 5000);
    await fh.close();
    const again = await openLog(crashed);
    expect(again.recovery.head_seq).toBe(10);
    expect(again.recovery.dropped_lines).toBe(1);
    expect(again.recovery.reason).toMatch(/line 12 .*entry prev does not match.*non-zero bytes at offset \d+ after the data end/);
    expect((await again.append(makeRecord(key, 10))).seq).toBe(11);
    await again.close();
    expect((await verifyLogDir(crashed, key, { requireSealed: true })).ok).toBe(true);
  });

  it("verify refuses data after a zero byte (zeros inside the data, or bytes written past its end)", async () => {
    const log = await openLog(dir);
    for (let i = 0; i < 5; i++) await log.append(makeRecord(key, i));
    await log.close();
    const [seg] = await segmentFiles(dir);
    const text = await readFile(seg!);
    await writeFile(seg!, Buffer.concat([text, Buffer.alloc(100), Buffer.from("x\n")]));
    const v = await verifySegmentFile(seg!, key);
    expect(v.ok).toBe(false);
    expect(v.error).toMatch(/non-zero bytes at offset \d+ after the zero-filled tail/);
    // zeros alone after the data are a preallocated tail: fine
    await writeFile(seg!, Buffer.concat([text, Buffer.alloc(4096)]));
    expect((await verifySegmentFile(seg!, key, { requireSealed: true })).ok).toBe(true);
  });

  it("preallocateBytes 0 keeps the file exactly its data", async () => {
    const log = await openLog(dir, { preallocateBytes: 0 });
    for (let i = 0; i < 5; i++) await log.append(makeRecord(key, i));
    const [seg] = await segmentFiles(dir);
    expect((await readFile(seg!)).indexOf(0)).toBe(-1);
    await log.close();
  });
});
