/**
 * Buffered line reading from a file position: large reads, byte offsets kept exact (entries are located by byte
 * offset in the sparse index), and a trailing partial line held back until its newline arrives, so a reader that
 * follows a growing file never sees half a line.
 *
 * A zero byte ends the data, as the end of the file does: the active segment is preallocated with zeros ahead of its
 * data (docs/trace-log.md), and no line ever holds a zero byte (JSON escapes control characters). Bytes before the
 * first zero are final (the log never rewrites them); a zero read may still be overwritten by a later write, so a
 * follower reads again from there.
 */
import type { promises as fsp } from "node:fs";

/** Default read size: large enough that export is bounded by JSON work, not syscalls. */
export const READ_CHUNK_BYTES = 1 << 20;

/** One complete line: its text (no newline) and the byte offsets of its start and of the byte after its newline. */
export interface Line {
  offset: number;
  end: number;
  text: string;
}

/** Reads complete lines from `fh`, starting at byte `offset`. Not thread-safe; one consumer. */
export class LineReader {
  private carry: Buffer = Buffer.alloc(0);
  /** File offset of the first byte of `carry` (== offset of the next line to return). */
  private pos: number;

  constructor(
    private readonly fh: fsp.FileHandle,
    offset: number,
    private readonly chunkBytes = READ_CHUNK_BYTES,
  ) {
    this.pos = offset;
  }

  /** Offset of the next unreturned line. */
  get offset(): number {
    return this.pos;
  }

  /** Bytes read past the last complete line (a partial line, or nothing). */
  get pendingBytes(): number {
    return this.carry.length;
  }

  /** The last read stopped at a zero byte (a preallocated tail) rather than at the end of the file; the zero is at
   * offset + pendingBytes. */
  get atZero(): boolean {
    return this.zero;
  }

  private zero = false;

  /**
   * The next batch of complete lines. An empty array means the end of the file was reached (any partial line stays
   * buffered and is returned once completed by a later write).
   */
  async readBatch(): Promise<Line[]> {
    for (;;) {
      const readAt = this.pos + this.carry.length;
      const chunk = Buffer.allocUnsafe(this.chunkBytes);
      const { bytesRead } = await this.fh.read(chunk, 0, chunk.length, readAt);
      if (bytesRead === 0) {
        this.zero = false;
        return [];
      }
      const z = chunk.subarray(0, bytesRead).indexOf(0);
      this.zero = z >= 0;
      const got = z >= 0 ? z : bytesRead;
      const buf = this.carry.length ? Buffer.concat([this.carry, chunk.subarray(0, got)]) : chunk.subarray(0, got);
      const lines: Line[] = [];
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0) break;
        lines.push({ offset: this.pos + start, end: this.pos + nl + 1, text: buf.toString("utf8", start, nl) });
        start = nl + 1;
      }
      // Copy the remainder so the large chunk can be collected.
      this.carry = start < buf.length ? Buffer.from(buf.subarray(start)) : Buffer.alloc(0);
      this.pos += start;
      if (lines.length || this.zero) return lines;
      // no newline in this chunk: a long line; keep reading
    }
  }
}

/** Offset of the first non-zero byte of `fh` at or after `from`, or -1 when the rest of the file is zeros. */
export async function firstNonZero(fh: fsp.FileHandle, from: number, chunkBytes = READ_CHUNK_BYTES): Promise<number> {
  const buf = Buffer.allocUnsafe(chunkBytes);
  for (let pos = from; ; ) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return -1;
    for (let i = 0; i < bytesRead; i++) if (buf[i] !== 0) return pos + i;
    pos += bytesRead;
  }
}
