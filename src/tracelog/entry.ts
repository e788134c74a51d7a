/**
 * A durable log entry as readers see it: the line text and its seq, with everything else derived lazily, so an
 * exporter that forwards line or record text never pays for JSON.parse.
 */
import type { SignedTraceRecord } from "./format.js";

const SEQ_PREFIX_LEN = '{"seq":'.length;

/** Fast seq extraction from an entry line (`{"seq":123,...`); -1 when the line does not start like an entry. */
export function entrySeqOf(line: string): number {
  if (line.charCodeAt(0) !== 0x7b || line.charCodeAt(2) !== 0x73) return -1; // '{' and 's' of "seq"
  let n = 0;
  let i = SEQ_PREFIX_LEN;
  for (; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 0x2c) break; // ','
    if (c < 0x30 || c > 0x39 || i - SEQ_PREFIX_LEN > 15) return -1;
    n = n * 10 + (c - 0x30);
  }
  return i === SEQ_PREFIX_LEN || i === line.length ? -1 : n;
}

/** One entry of the trace log. Only durable (fsynced) entries are ever handed out. */
export class TraceEntry {
  private cached?: SignedTraceRecord;
  constructor(
    /** Sequence number: 1 for the first entry of a log, +1 per entry, no gaps. */
    readonly seq: number,
    /** The exact entry line as stored, without its newline. */
    readonly line: string,
  ) {}

  private get prevAt(): number {
    return this.line.indexOf(",", SEQ_PREFIX_LEN) + ',"prev":"'.length;
  }
  /** Hash of the previous entry (64 zeros for seq 1). */
  get prev(): string {
    const at = this.prevAt;
    return this.line.slice(at, at + 64);
  }
  /** This entry's chain hash. */
  get hash(): string {
    const at = this.prevAt + 64 + '","hash":"'.length;
    return this.line.slice(at, at + 64);
  }
  /** The signed trace record's JSON text exactly as stored (verifies standalone with Gait's verifier). */
  recordText(): string {
    return this.line.slice(this.prevAt + 128 + '","hash":"'.length + '","record":'.length, this.line.length - 1);
  }
  /** The parsed signed trace record (parsed once, then cached). */
  record(): SignedTraceRecord {
    return (this.cached ??= JSON.parse(this.recordText()) as SignedTraceRecord);
  }
}
