/**
 * UTF-8 decoding with Go's replacement rule, for JSON documents whose bytes feed digests.
 *
 * Gait reads intents with `json.Unmarshal`, whose string decoding takes one rune at a time with
 * `utf8.DecodeRune`: an invalid sequence yields one U+FFFD **per byte** it skips (DecodeRune returns
 * `(RuneError, 1)` for any invalid encoding). The WHATWG decoder behind `TextDecoder` and `Buffer#toString` replaces
 * a *maximal subpart* with one U+FFFD instead, so `E2 82 41` is "\uFFFD\uFFFDA" in Go and "\uFFFDA" in Node, and the
 * args digest would differ. A leading byte-order mark is kept (Go's decoder does not skip it; JSON parsing then
 * fails in both tools).
 */

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decode UTF-8 bytes as Go's `utf8.DecodeRune` loop does: every byte of an invalid sequence becomes one U+FFFD. */
export function decodeUtf8Go(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes); // valid input (the common case): both rules agree
  } catch {
    return decodeSlow(bytes);
  }
}

function cont(b: number | undefined): boolean {
  return b !== undefined && (b & 0xc0) === 0x80;
}

function decodeSlow(bytes: Uint8Array): string {
  const parts: string[] = [];
  let run = 0; // start of the pending valid run
  let i = 0;
  const n = bytes.length;
  const flush = (end: number) => {
    if (end > run) parts.push(strict.decode(bytes.subarray(run, end)));
  };
  while (i < n) {
    const b0 = bytes[i]!;
    let size = 0;
    if (b0 < 0x80) size = 1;
    else if (b0 >= 0xc2 && b0 <= 0xdf) {
      if (cont(bytes[i + 1])) size = 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      const b1 = bytes[i + 1];
      // E0 needs A0..BF (no overlong), ED needs 80..9F (no surrogates): Go's acceptRanges.
      const lo = b0 === 0xe0 ? 0xa0 : 0x80;
      const hi = b0 === 0xed ? 0x9f : 0xbf;
      if (b1 !== undefined && b1 >= lo && b1 <= hi && cont(bytes[i + 2])) size = 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      const b1 = bytes[i + 1];
      const lo = b0 === 0xf0 ? 0x90 : 0x80;
      const hi = b0 === 0xf4 ? 0x8f : 0xbf;
      if (b1 !== undefined && b1 >= lo && b1 <= hi && cont(bytes[i + 2]) && cont(bytes[i + 3])) size = 4;
    }
    if (size === 0) {
      flush(i);
      parts.push("\uFFFD");
      i += 1;
      run = i;
    } else i += size;
  }
  flush(n);
  return parts.join("");
}
