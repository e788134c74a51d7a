/**
 * Go's UTF-8 replacement rule (issue 9 item 3): Gait decodes intents with encoding/json, which repairs strings one
 * rune at a time with utf8.DecodeRune, and DecodeRune returns (RuneError, 1) for ANY invalid encoding: one U+FFFD
 * per byte it skips. Node's WHATWG decoder replaces a maximal subpart with a single U+FFFD instead.
 */
import { describe, expect, it } from "vitest";
import { decodeUtf8Go } from "../../../src/engine/utf8.js";

const F = "\uFFFD";
const bytes = (...b: number[]) => Uint8Array.from(b);

describe("decodeUtf8Go", () => {
  it.each([
    ["truncated 3-byte sequence before ASCII (E2 82 41)", [0xe2, 0x82, 0x41], `${F}${F}A`],
    ["truncated 4-byte sequence (F0 9F 98 41)", [0xf0, 0x9f, 0x98, 0x41], `${F}${F}${F}A`],
    ["truncated at the end (E2 82)", [0x61, 0xe2, 0x82], `a${F}${F}`],
    ["overlong 2-byte NUL (C0 80)", [0xc0, 0x80], `${F}${F}`],
    ["overlong 3-byte (E0 80 80)", [0xe0, 0x80, 0x80], `${F}${F}${F}`],
    ["UTF-16 surrogate encoded (ED A0 80)", [0xed, 0xa0, 0x80], `${F}${F}${F}`],
    ["above U+10FFFF (F4 90 80 80)", [0xf4, 0x90, 0x80, 0x80], `${F}${F}${F}${F}`],
    ["lone continuation bytes", [0x80, 0xbf], `${F}${F}`],
    ["invalid lead bytes", [0xff, 0xfe, 0xf8], `${F}${F}${F}`],
    ["valid text around an invalid byte", [0xc3, 0xa9, 0xff, 0xe2, 0x82, 0xac], `é${F}€`],
  ])("%s", (_, input, want) => {
    expect(decodeUtf8Go(bytes(...(input as number[])))).toBe(want);
  });

  it("differs from the WHATWG decoder exactly where a maximal subpart is longer than one byte", () => {
    const input = bytes(0xe2, 0x82, 0x41);
    expect(new TextDecoder().decode(input)).toBe(`${F}A`);
    expect(decodeUtf8Go(input)).toBe(`${F}${F}A`);
  });

  it("keeps valid text byte for byte, including a leading byte-order mark and 4-byte characters", () => {
    const text = "\uFEFF{\"a\":\"😀 é €\"}";
    expect(decodeUtf8Go(new TextEncoder().encode(text))).toBe(text);
  });
});
