/**
 * canon.ts `jcs()` (the fast RFC 8785 emitter) against the reference `canonicalize` package: same text for every
 * JSON value, and the reference's result or error for everything the fast path hands over to it.
 */
import { describe, expect, it } from "vitest";
import canonicalize from "canonicalize";
import { digestJCS, jcs, jcsString, sha256Hex } from "../../../src/engine/canon.js";

/** Deterministic PRNG (LCG) so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const STRINGS = [
  "",
  "a",
  "A",
  "aa",
  "ab",
  "é",
  "\u00e9\u00e8z",
  "\u2028\u2029",
  '"quoted"',
  "back\\slash",
  "\u0001ctl\u001f",
  "tab\tnl\ncr\rff\fbs\b",
  "\u007f",
  "😀",
  "a😀b",
  "\ud83d\ude00\ud83d\ude01",
  "€",
  "\ufeff",
  "10",
  "9",
  "_",
  "ʸ",
  "x".repeat(100),
  "y".repeat(70) + '"' + "z".repeat(10),
];
const NUMBERS = [
  0, -0, 1, -1, 0.1, 0.2 + 0.1, 1e21, 1e20, 1e-6, 1e-7, -1e-7, 123456789012345680000, 5e-324, -5e-324, 2 ** 53, -(2 ** 53), 1.7976931348623157e308,
  -3.5, 333333333.3333333, 4.35, 0.000001, 1e300, 295147905179352830000,
];

function gen(rnd: () => number, depth: number): unknown {
  const r = rnd();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  if (depth > 4 || r < 0.25) return pick(STRINGS);
  if (r < 0.4) return pick(NUMBERS);
  if (r < 0.45) return rnd() < 0.5;
  if (r < 0.5) return null;
  if (r < 0.7) {
    return Array.from({ length: Math.floor(rnd() * 5) }, () => (rnd() < 0.2 ? Array.from({ length: 2 }, () => gen(rnd, depth + 2)) : gen(rnd, depth + 1)));
  }
  const o: Record<string, unknown> = {};
  const n = Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) o[pick(STRINGS) + (rnd() < 0.3 ? pick(STRINGS) : "")] = rnd() < 0.1 ? undefined : gen(rnd, depth + 1);
  return o;
}

describe("jcs() fast path matches the canonicalize reference", () => {
  it("on 3000 generated JSON values (unicode keys, tricky numbers, nested arrays, undefined members)", () => {
    const rnd = rng(7);
    for (let i = 0; i < 3000; i++) {
      const v = gen(rnd, 0);
      expect(jcs(v)).toBe(canonicalize(v));
    }
  });

  it("sorts keys by UTF-16 code units, including integer-like keys and astral characters", () => {
    const v = { b: 1, a: 2, "10": 3, "9": 4, "\ud83d\ude00": 5, "\uff61": 6, é: 7, "": 8, A: 9 };
    expect(jcs(v)).toBe(canonicalize(v));
    expect(jcs(v)).toBe('{"":8,"10":3,"9":4,"A":9,"a":2,"b":1,"é":7,"😀":5,"｡":6}');
  });

  it("writes numbers as ECMAScript does (RFC 8785 §3.2.2.3)", () => {
    expect(jcs([1e21, -0, 0.1, 1e-7, 100, 5e-324])).toBe("[1e+21,0,0.1,1e-7,100,5e-324]");
    for (const n of NUMBERS) expect(jcs(n)).toBe(canonicalize(n));
  });

  it("escapes strings as JSON.stringify does and keeps well-formed surrogate pairs", () => {
    for (const s of STRINGS) {
      expect(jcsString(s)).toBe(canonicalize(s));
      expect(jcs(s)).toBe(JSON.stringify(s));
    }
  });

  it("leaves undefined array items as null and drops undefined members, like the reference", () => {
    const v = { a: [undefined, 1], b: undefined, c: { d: undefined } };
    expect(jcs(v)).toBe(canonicalize(v));
    expect(jcs(v)).toBe('{"a":[null,1],"c":{}}');
  });

  it("hands toJSON, symbols and functions to the reference and returns its text", () => {
    const when = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const cases: unknown[] = [
      { when },
      [when],
      { n: { toJSON: () => ({ z: 1, a: [2] }) } },
      { s: Symbol("x"), keep: 1 },
      [Symbol("y"), 2],
    ];
    for (const v of cases) expect(jcs(v)).toBe(canonicalize(v));
  });

  it("fails like the reference on non-finite numbers, lone surrogates, cycles and non-JSON top-level values", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const bad: [unknown, RegExp][] = [
      [Number.NaN, /NaN is not allowed/],
      [{ x: [Infinity] }, /Infinity is not allowed/],
      ["lone \ud800 high", /Lone surrogate/],
      [{ "\udc00": 1 }, /Lone surrogate/],
      [["ok", "x\ud83d"], /Lone surrogate/],
      [cyclic, /Circular reference/],
      [undefined, /cannot be canonicalized/],
      [() => 1, /cannot be canonicalized/],
      [10n, /BigInt/],
    ];
    for (const [v, msg] of bad) expect(() => jcs(v), String(msg)).toThrow(msg);
  });

  it("handles nesting deeper than the fast path's limit through the reference", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 400; i++) deep = i % 2 ? [deep] : { k: deep };
    expect(jcs(deep)).toBe(canonicalize(deep));
  });

  it("digestJCS is sha256 of the canonical text", () => {
    const v = { z: "é", a: [1, 0.5, null, true] };
    expect(digestJCS(v)).toBe(sha256Hex(canonicalize(v)!));
  });
});
