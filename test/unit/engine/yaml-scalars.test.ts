/**
 * The policy YAML scalar table (issue 9 item 2). Rows marked "Gait" are goccy/go-yaml v1.19 facts (token.New /
 * toNumber, Decoder.decodeValue / convertValue: what a scalar becomes in a Go int, string or bool field); rows
 * marked "refused" are where that library would change the written value and we refuse instead
 * (docs/compatibility.md P1).
 */
import { describe, expect, it } from "vitest";
import {
  classifyPlain,
  isNullScalar,
  PolicyScalar,
  readBoolScalar,
  readIntScalar,
  readStrScalar,
} from "../../../src/engine/yaml-scalars.js";

const plain = (t: string) => new PolicyScalar("plain", t);
const quoted = (t: string) => new PolicyScalar("quoted", t);
const value = <T>(r: { ok: true; value: T } | { ok: false; problem: string }) => (r.ok ? r.value : `ERR ${r.problem}`);

describe("classifyPlain (goccy/go-yaml token.New)", () => {
  it.each([
    ["null", "null"], ["Null", "null"], ["NULL", "null"], ["~", "null"], ["", "null"], ["nULL", "str"],
    ["true", "bool"], ["True", "bool"], ["TRUE", "bool"], ["tRue", "str"], ["yes", "str"], ["on", "str"], ["y", "str"],
    [".inf", "inf"], ["-.Inf", "inf"], ["+.inf", "str"], [".NaN", "nan"], [".nAn", "str"],
    ["10", "int"], ["+10", "int"], ["-10", "int"], ["1_0", "int"], ["0x1A", "int"], ["0X1A", "str"], ["0o17", "int"],
    ["0b101", "int"], ["012", "int"], ["09", "str"], ["0o18", "str"], ["_10", "str"], ["1e3", "str"], ["1.5", "float"],
    [".5", "float"], ["5.", "float"], ["1.2.3", "str"], ["1.0e3", "float"], ["1.0e400", "str"], ["18446744073709551615", "int"],
    ["18446744073709551616", "str"], ["-9223372036854775808", "int"], ["-9223372036854775809", "str"], ["0x", "str"],
  ])("%j is %s", (text, kind) => {
    expect(classifyPlain(text).kind).toBe(kind);
  });

  it("reads a leading zero as octal and records it", () => {
    expect(classifyPlain("012")).toEqual({ kind: "int", value: 10n, base: 8, legacyOctal: true });
    expect(classifyPlain("0o12")).toEqual({ kind: "int", value: 10n, base: 8, legacyOctal: false });
    expect(classifyPlain("-0x1A")).toEqual({ kind: "int", value: -26n, base: 16, legacyOctal: false });
    expect(classifyPlain("+-5")).toEqual({ kind: "int", value: 5n, base: 10, legacyOctal: false }); // goccy drops "+" then "-"
  });
});

describe("integer fields", () => {
  it.each([
    // Gait, kept
    ["10", 10], ["+10", 10], ["-10", -10], ["1_0", 10], ["1__0", 10], ["0x1A", 26], ["-0x1A", -26], ["0o12", 10],
    ["0b101", 5], ["10.0", 10], ["-10.0", -10], ["1e3", 1000], ["1E3", 1000], ["10.", 10], ["-0", 0], ["0", 0],
  ])("plain %j -> %d (Gait)", (text, want) => {
    expect(value(readIntScalar(plain(text)))).toBe(want);
  });

  it.each([
    // Gait's ParseFloat route for strings: decimal, >= 0, truncated
    ["10", 10], ["012", 12], ["+10", 10], ["1e1", 10], ["1_0", 10], ["10.0", 10],
  ])("quoted %j -> %d (Gait)", (text, want) => {
    expect(value(readIntScalar(quoted(text)))).toBe(want);
  });

  it.each([
    // refused where Gait errors too
    ["plain", "true", /must be an integer, got boolean/], ["plain", "abc", /must be an integer/],
    ["plain", "1:20", /must be an integer/], ["plain", ".inf", /must be an integer/], ["plain", ".nan", /must be an integer/],
    ["plain", "9223372036854775808", /out of range/], ["quoted", "-5", /negative/], ["quoted", "0x1A", /must be an integer/],
    ["quoted", " 10", /must be an integer/], ["quoted", "", /must be an integer/],
    // refused where Gait would change the value
    ["plain", "012", /leading zero/], ["plain", "-012", /leading zero/], ["plain", "09", /leading zero/],
    ["plain", "0_12", /leading zero/], ["plain", "00", /leading zero/], ["plain", "10.9", /truncates it to 10/],
    ["plain", "-10.9", /truncates it to -10/], ["quoted", "10.9", /truncates it to 10/],
    ["plain", "9007199254740993", /2\^53-1/], ["plain", "-9007199254740993", /2\^53-1/], ["plain", "1e16", /2\^53-1/],
  ])("%s %j is refused", (style, text, problem) => {
    const r = readIntScalar(new PolicyScalar(style as "plain" | "quoted", text));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toMatch(problem);
  });

  it("refuses every explicit tag (Gait refuses !!int and ignores !!str)", () => {
    for (const tag of ["tag:yaml.org,2002:int", "tag:yaml.org,2002:str", "!custom"]) {
      const r = readIntScalar(new PolicyScalar("plain", "10", tag));
      expect(r.ok).toBe(false);
    }
  });
});

describe("string fields", () => {
  it.each([
    ["tool.read", "tool.read"], ["123", "123"], ["-5", "-5"], ["0", "0"], ["true", "true"], ["false", "false"],
    ["yes", "yes"], ["on", "on"], ["1e3", "1e3"], ["09", "09"], ["0x", "0x"], ["18446744073709551616", "18446744073709551616"],
    ["1.2.3", "1.2.3"], ["2026-01-01", "2026-01-01"],
  ])("plain %j keeps its text %j (Gait)", (text, want) => {
    expect(value(readStrScalar(plain(text)))).toBe(want);
  });

  it.each([
    ["012", /integer 10/], ["0x1F", /integer 31/], ["0o17", /integer 15/], ["1_000", /integer 1000/], ["+5", /integer 5/],
    ["-0", /integer 0/], ["True", /boolean true/], ["FALSE", /boolean false/], ["1.5", /quote it/], ["1.50", /quote it/],
    [".inf", /quote it/], [".nan", /quote it/],
  ])("plain %j is refused (Gait rewrites it)", (text, problem) => {
    const r = readStrScalar(plain(text));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toMatch(problem);
  });

  it("keeps quoted and block text exactly", () => {
    expect(value(readStrScalar(quoted("012")))).toBe("012");
    expect(value(readStrScalar(new PolicyScalar("block", "a\n")))).toBe("a\n");
  });
});

describe("boolean fields and null", () => {
  it("accepts the six YAML 1.2 keywords only, unquoted (Gait)", () => {
    for (const t of ["true", "True", "TRUE"]) expect(value(readBoolScalar(plain(t)))).toBe(true);
    for (const t of ["false", "False", "FALSE"]) expect(value(readBoolScalar(plain(t)))).toBe(false);
    for (const s of [plain("yes"), plain("on"), plain("1"), quoted("true"), plain("tRue")]) {
      expect(readBoolScalar(s).ok).toBe(false);
    }
    expect(readBoolScalar(new PolicyScalar("plain", "true", "tag:yaml.org,2002:bool")).ok).toBe(false);
  });

  it("treats only untagged plain null keywords as null", () => {
    expect(["null", "Null", "NULL", "~", ""].every((t) => isNullScalar(plain(t)))).toBe(true);
    expect(isNullScalar(quoted("null"))).toBe(false);
    expect(isNullScalar(plain("nil"))).toBe(false);
    expect(isNullScalar(new PolicyScalar("plain", "null", "tag:yaml.org,2002:null"))).toBe(false);
  });
});
