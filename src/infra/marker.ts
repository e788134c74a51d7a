/**
 * A durable head marker: a small file that remembers how far an append-only store has come (its last sequence number
 * and chain hash, plus whatever the store adds), so that on the next start a store that went backwards (a file
 * emptied, lines cut at a boundary, a segment deleted, an old backup restored) is noticed instead of silently
 * reusing sequence numbers or forgetting spent approval tokens.
 *
 * Layout: two fixed slots (offsets 0 and 4096), written alternately with one pwrite each, every slot carrying a
 * generation number and a checksum. A crash in the middle of a write tears at most the slot being written; the other
 * one still holds the previous mark, so a reader always finds a valid mark that is at most one write old. The store
 * writes the mark only after the data it describes is durable, so the mark never runs ahead of the data.
 */
import { createHash } from "node:crypto";
import { promises as fsp, constants as fsc } from "node:fs";

const SLOT = 4096;
const SLOT_BYTES = 2048;

/** The mark: the store's head plus its own extra fields. */
export interface HeadMark {
  seq: number;
  hash: string;
  [field: string]: unknown;
}

interface Slot {
  gen: number;
  mark: HeadMark;
}

function checksum(gen: number, markText: string): string {
  return createHash("sha256").update(`${gen}:${markText}`).digest("hex");
}

function parseSlot(buf: Buffer): Slot | undefined {
  const text = buf.toString("utf8").replace(/[\0 \n]+$/, "");
  if (!text) return undefined;
  try {
    const doc = JSON.parse(text) as { gen?: unknown; mark?: unknown; sum?: unknown };
    if (typeof doc.gen !== "number" || !doc.mark || typeof doc.mark !== "object" || typeof doc.sum !== "string") return undefined;
    const markText = JSON.stringify(doc.mark);
    if (checksum(doc.gen, markText) !== doc.sum) return undefined;
    const m = doc.mark as HeadMark;
    if (!Number.isSafeInteger(m.seq) || m.seq < 0 || typeof m.hash !== "string") return undefined;
    return { gen: doc.gen, mark: m };
  } catch {
    return undefined;
  }
}

/** An open marker file. */
export class HeadMarker {
  private gen = 0;
  private current: HeadMark | undefined;

  private constructor(
    readonly path: string,
    private readonly fh: fsp.FileHandle,
    /** The file existed before open (false: created now, empty). */
    readonly existed: boolean,
    /** The file existed but neither slot held a valid mark. */
    readonly unreadable: boolean,
  ) {}

  /** Open (creating when `create`) the marker at `path` and read its newest valid mark. */
  static async open(path: string, { create }: { create: boolean }): Promise<HeadMarker | undefined> {
    let fh: fsp.FileHandle;
    let existed = true;
    try {
      fh = await fsp.open(path, fsc.O_RDWR);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || !create) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw e;
      }
      fh = await fsp.open(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      existed = false;
    }
    const buf = Buffer.alloc(SLOT * 2);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const slots = [parseSlot(buf.subarray(0, Math.min(bytesRead, SLOT_BYTES))), bytesRead > SLOT ? parseSlot(buf.subarray(SLOT, Math.min(bytesRead, SLOT + SLOT_BYTES))) : undefined];
    const best = slots.filter((s): s is Slot => !!s).sort((a, b) => b.gen - a.gen)[0];
    const m = new HeadMarker(path, fh, existed, existed && bytesRead > 0 && !best);
    if (best) {
      m.gen = best.gen;
      m.current = best.mark;
    }
    return m;
  }

  /** The newest valid mark, or undefined (new or unreadable file). */
  get mark(): HeadMark | undefined {
    return this.current;
  }

  /**
   * Write `mark` into the older slot. With `sync`, fdatasync after (the caller decides how durable the mark must be:
   * a mark lost in a crash only makes the next start's check weaker, never a false alarm).
   */
  async write(mark: HeadMark, { sync }: { sync: boolean }): Promise<void> {
    const gen = this.gen + 1;
    const markText = JSON.stringify(mark);
    const text = JSON.stringify({ gen, mark: JSON.parse(markText) as HeadMark, sum: checksum(gen, markText) });
    const bytes = Buffer.byteLength(text);
    if (bytes > SLOT_BYTES - 1) throw new Error(`head mark too large (${bytes} bytes)`);
    const buf = Buffer.alloc(SLOT_BYTES, 0x20);
    buf.write(text, 0, "utf8");
    buf[SLOT_BYTES - 1] = 0x0a;
    await this.fh.write(buf, 0, buf.length, (gen % 2) * SLOT);
    if (sync) await this.fh.datasync();
    this.gen = gen;
    this.current = JSON.parse(markText) as HeadMark;
  }

  async sync(): Promise<void> {
    await this.fh.datasync();
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
