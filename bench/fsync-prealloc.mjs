#!/usr/bin/env node
/**
 * Does preallocating the trace log's active segment pay on this disk? (issue 14)
 *
 * Times one durable record write (writeSync + fdatasyncSync of a ~2 KB record) in four ways, each into its own file:
 *   append      - to a growing file (size changes on every write: the inode's size must be flushed too)
 *   zeroed      - overwrite into a file preallocated by writing zeros and fsyncing beforehand (written extents)
 *   fallocate   - overwrite into a file preallocated with `fallocate -l` (unwritten extents on ext4: converting
 *                 them on first write is a metadata change too)
 *   sparse      - overwrite into a file extended by ftruncate (holes: blocks allocated on write)
 * Each mode writes N records in total, in blocks of BLOCK, the modes alternating block by block (the machine is
 * shared, so load drifts; alternation spreads it over all modes). Prints median, p90, p99 and mean per mode in us,
 * and each overwrite mode's median gain against append. Not a test: no thresholds.
 *
 *   node bench/fsync-prealloc.mjs [dir]     (env: N=3000 BLOCK=100 RECORD=2048; dir defaults to a temp dir
 *                                            under the OS temp dir, which must be on the disk being measured)
 */
import { execFileSync } from "node:child_process";
import { closeSync, fdatasyncSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync, ftruncateSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const N = Number(process.env.N ?? 3000);
const BLOCK = Number(process.env.BLOCK ?? 100);
const RECORD = Number(process.env.RECORD ?? 2048);
const base = process.argv[2] ?? tmpdir();
const dir = mkdtempSync(join(base, "fsync-prealloc-"));

const record = Buffer.alloc(RECORD, "x");
record[RECORD - 1] = 0x0a;
const size = N * RECORD;

function prepare(mode) {
  const path = join(dir, `${mode}.log`);
  if (mode === "fallocate") {
    execFileSync("fallocate", ["-l", String(size), path]);
    const fd = openSync(path, "r+");
    fsyncSync(fd);
    return fd;
  }
  const fd = openSync(path, mode === "append" ? "a" : "w+");
  if (mode === "zeroed") {
    const chunk = Buffer.alloc(1 << 20);
    for (let off = 0; off < size; off += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, size - off), off);
    fsyncSync(fd);
  } else if (mode === "sparse") {
    ftruncateSync(fd, size);
    fsyncSync(fd);
  }
  return fd;
}

const modes = ["append", "zeroed", "fallocate", "sparse"];
const fds = Object.fromEntries(modes.map((m) => [m, prepare(m)]));
const pos = Object.fromEntries(modes.map((m) => [m, 0]));
const samples = Object.fromEntries(modes.map((m) => [m, []]));

for (let done = 0; done < N; done += BLOCK) {
  const n = Math.min(BLOCK, N - done);
  // rotate the order of modes each block, so none is always first after another's burst
  const order = modes.map((_, i) => modes[(i + done / BLOCK) % modes.length]);
  for (const m of order) {
    const fd = fds[m];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      if (m === "append") writeSync(fd, record, 0, RECORD);
      else writeSync(fd, record, 0, RECORD, pos[m]);
      fdatasyncSync(fd);
      const t1 = process.hrtime.bigint();
      pos[m] += RECORD;
      samples[m].push(Number(t1 - t0) / 1000);
    }
  }
}

function q(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}
const stats = {};
for (const m of modes) {
  const s = [...samples[m]].sort((a, b) => a - b);
  stats[m] = { median: q(s, 0.5), p90: q(s, 0.9), p99: q(s, 0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}
const sizes = Object.fromEntries(modes.map((m) => [m, statSync(join(dir, `${m}.log`)).size]));
for (const m of modes) closeSync(fds[m]);
rmSync(dir, { recursive: true, force: true });

console.log(`write+fdatasync of ${RECORD} B records, N=${N} per mode, alternating blocks of ${BLOCK}, dir ${base}`);
console.log("mode        median_us   p90_us   p99_us  mean_us   median vs append");
for (const m of modes) {
  const s = stats[m];
  const gain = m === "append" ? "" : `${(((stats.append.median - s.median) / stats.append.median) * 100).toFixed(1)}% faster`;
  console.log(
    `${m.padEnd(10)} ${s.median.toFixed(0).padStart(9)} ${s.p90.toFixed(0).padStart(8)} ${s.p99.toFixed(0).padStart(8)} ${s.mean
      .toFixed(0)
      .padStart(8)}   ${gain}`,
  );
}
console.log(JSON.stringify({ N, BLOCK, RECORD, stats, file_sizes: sizes }));
