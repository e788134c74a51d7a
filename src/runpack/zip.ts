/**
 * Deterministic zip archives (evidence.md §3.1): the same files always give the same bytes, so an archive's digest
 * is a stable identity. Entries are sorted by path (byte order), stamped 1980-01-01T00:00:00, deflated, mode 0644
 * (0755 when any exec bit is set), with no directory entries.
 *
 * The reader is our own small central-directory walker rather than fflate's `unzipSync`, because verification must
 * see duplicate entry names (a classic way to smuggle a second `manifest.json` past a verifier), which a name-keyed
 * object silently collapses.
 */
import { inflateSync, zipSync, type Zippable } from "fflate";

export interface ZipFileInput {
  /** forward-slash path inside the archive */
  path: string;
  data: Uint8Array;
  /** Unix permission bits; 0 or absent means 0644 */
  mode?: number;
}

/** Max uncompressed size of one entry accepted by the reader (Gait's limit). */
export const MAX_ENTRY_BYTES = 100 * 1024 * 1024;

const EXT_TIMESTAMP_ID = 0x5455;
/** 1980-01-01T00:00:00Z in Unix seconds, for the extended-timestamp extra field (as Go's writer adds it). */
const EPOCH_1980_UNIX = 315532800;

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/**
 * Write a deterministic zip. An empty file list gives zero bytes (Gait's behaviour). Throws on invalid or duplicate
 * paths: the writer never produces an archive its own verifier would reject.
 */
export function writeDeterministicZip(files: readonly ZipFileInput[]): Uint8Array {
  if (files.length === 0) return new Uint8Array(0);
  const sorted = [...files].sort((a, b) => byteCompare(a.path, b.path));
  // DOS timestamps are written from local-time getters, so build 1980-01-01 00:00:00 in local time.
  const mtime = new Date(1980, 0, 1, 0, 0, 0);
  const ts = new Uint8Array(5);
  ts[0] = 1;
  new DataView(ts.buffer).setUint32(1, EPOCH_1980_UNIX, true);
  const zippable: Zippable = {};
  let prev: string | undefined;
  for (const f of sorted) {
    const path = f.path.replace(/\\/g, "/");
    if (!path || path.startsWith("/") || path.endsWith("/") || path.split("/").includes("..")) {
      throw new Error(`invalid zip entry path: ${JSON.stringify(f.path)}`);
    }
    if (path === prev) throw new Error(`duplicate zip entry path: ${path}`);
    prev = path;
    const perm = (f.mode ?? 0) & 0o777;
    const mode = perm === 0 ? 0o644 : perm & 0o111 ? 0o755 : 0o644;
    zippable[path] = [f.data, { level: 6, mtime, os: 3, attrs: ((0o100000 | mode) << 16) >>> 0, extra: { [EXT_TIMESTAMP_ID]: ts } }];
  }
  return zipSync(zippable);
}

export interface ZipEntry {
  path: string;
  data: Uint8Array;
}

/** The archive is not a zip we can read (corrupt, zip64, encrypted, unsupported compression, entry too large). */
export class ZipFormatError extends Error {
  override name = "ZipFormatError";
}

/**
 * Read every entry of a zip in central-directory order, duplicates included. Directory entries are skipped.
 * Throws {@link ZipFormatError} on a malformed archive.
 */
export function readZipEntries(zip: Uint8Array): ZipEntry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  if (zip.length < 22) throw new ZipFormatError("not a zip archive (too short)");
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (u32(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipFormatError("not a zip archive (no end of central directory)");
  const count = u16(eocd + 10);
  const cdSize = u32(eocd + 12);
  const cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) throw new ZipFormatError("zip64 archives are not supported");
  if (cdOffset + cdSize > eocd) throw new ZipFormatError("corrupt zip: central directory out of range");
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  const decoder = new TextDecoder("utf-8", { fatal: false });
  for (let n = 0; n < count; n++) {
    if (p + 46 > zip.length || u32(p) !== 0x02014b50) throw new ZipFormatError("corrupt zip: bad central directory entry");
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const compSize = u32(p + 20);
    const size = u32(p + 24);
    const nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32);
    const localOffset = u32(p + 42);
    const name = decoder.decode(zip.subarray(p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith("/")) continue;
    if (flags & 1) throw new ZipFormatError(`encrypted zip entry not supported: ${name}`);
    if (size > MAX_ENTRY_BYTES) throw new ZipFormatError(`zip entry ${name} exceeds ${MAX_ENTRY_BYTES} bytes`);
    if (localOffset + 30 > zip.length || u32(localOffset) !== 0x04034b50) throw new ZipFormatError(`corrupt zip: bad local header for ${name}`);
    const start = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28);
    if (start + compSize > zip.length) throw new ZipFormatError(`corrupt zip: data of ${name} out of range`);
    const raw = zip.subarray(start, start + compSize);
    let data: Uint8Array;
    if (method === 0) data = raw.slice();
    else if (method === 8) {
      try {
        // one spare byte: a stream that inflates past the declared size is caught instead of silently truncated
        data = inflateSync(raw, { out: new Uint8Array(size + 1) });
      } catch (e) {
        throw new ZipFormatError(`corrupt zip: cannot inflate ${name}: ${(e as Error).message}`);
      }
    } else throw new ZipFormatError(`unsupported compression method ${method} for ${name}`);
    if (data.length !== size) throw new ZipFormatError(`corrupt zip: size mismatch for ${name}`);
    entries.push({ path: name, data });
  }
  return entries;
}
