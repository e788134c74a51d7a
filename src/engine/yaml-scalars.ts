/**
 * YAML scalar resolution for policy files, as Gait's YAML library (goccy/go-yaml v1.19, `Strict` decoding into Go
 * struct fields) resolves them, with one rule of our own on top: **we never silently change what a policy author
 * wrote.** Where Gait's library would turn the written text into a different value (`012` is octal 10, `10.9` is
 * truncated to 10, a rule named `0x1F` becomes "31", `True` becomes "true"), we refuse the scalar with a message
 * that says how Gait reads it and how to write it unambiguously. Everything else resolves exactly as in Gait, so a
 * policy that loads in both tools has the same values, the same digest and the same rule order.
 *
 * The facts (goccy/go-yaml `token.New`, `token.toNumber`, `Decoder.decodeValue`, `Decoder.convertValue`):
 * - a plain scalar is a keyword first: `null`/`Null`/`NULL`/`~` (and the empty scalar) are null;
 *   `true`/`True`/`TRUE`/`false`/`False`/`FALSE` are booleans (the YAML 1.1 words `yes`/`on`/`y`... are strings);
 *   `.inf`/`.Inf`/`.INF` (optionally `-`) are infinities and `.nan`/`.NaN`/`.NAN` NaN;
 * - then a number: one leading `+` then one leading `-` are dropped and every `_` removed; a `0x`/`0o`/`0b` prefix
 *   gives base 16/8/2, a leading `0` with more digits and no dot gives base 8 (YAML 1.1 octal), exactly one dot gives
 *   a float, anything else base 10; a text that does not then parse (bad digit, out of 64-bit range) is a string;
 * - into an integer field: integers must fit int64, floats are truncated toward zero, strings (quoted ones too) go
 *   through Go's `strconv.ParseFloat` and must be >= 0, booleans are an error, `!!int` is an error, `!!str` is
 *   ignored (the text is still resolved as a number);
 * - into a string field: integers are printed in decimal, floats with `strconv.FormatFloat(f, 'g', -1, 64)`,
 *   booleans as `true`/`false`, null as "";
 * - into a boolean field: only the boolean keywords (`!!bool` allowed); a quoted `"true"` is an error.
 *
 * Our refusals (admitted in docs/compatibility.md, pinned by `test/unit/engine/yaml-scalars.test.ts` and the
 * `policy-yaml/*` conformance cases): explicit tags; a leading-zero integer (`012`, `-012`, `09`, `0_12`); a value
 * that is not a whole number, or not within +/-(2^53-1), in an integer field; a number, a non-lowercase boolean, an
 * infinity or NaN written plain in a string field unless Gait keeps its text unchanged (a canonical decimal integer
 * such as `123` or `-5`, or `true`/`false`).
 */

/** How a scalar was written in the YAML source. */
export type ScalarStyle = "plain" | "quoted" | "block";

/**
 * A scalar of a policy document, kept as written until the field it lands in is known (its meaning depends on the
 * Go type of that field in Gait). `text` is the source text of a plain scalar and the value of a quoted or block one.
 */
export class PolicyScalar {
  constructor(
    readonly style: ScalarStyle,
    readonly text: string,
    /** The explicit tag (`!!int`, `!custom`), if any. */
    readonly tag?: string,
  ) {}
}

/** What goccy/go-yaml makes of a plain scalar before it looks at the destination field. */
export type PlainClass =
  | { kind: "null" }
  | { kind: "bool"; value: boolean }
  | { kind: "inf"; negative: boolean }
  | { kind: "nan" }
  | { kind: "int"; value: bigint; base: 2 | 8 | 10 | 16; legacyOctal: boolean }
  | { kind: "float"; value: number }
  | { kind: "str" };

const NULL_WORDS: ReadonlySet<string> = new Set(["null", "Null", "NULL", "~", ""]);
const TRUE_WORDS: ReadonlySet<string> = new Set(["true", "True", "TRUE"]);
const FALSE_WORDS: ReadonlySet<string> = new Set(["false", "False", "FALSE"]);
const INF_WORDS: ReadonlySet<string> = new Set([".inf", ".Inf", ".INF"]);
const NAN_WORDS: ReadonlySet<string> = new Set([".nan", ".NaN", ".NAN"]);

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const INT64_MAX = 2n ** 63n - 1n;
const DIGITS: Readonly<Record<2 | 8 | 10 | 16, RegExp>> = {
  2: /^[01]+$/,
  8: /^[0-7]+$/,
  10: /^[0-9]+$/,
  16: /^[0-9a-fA-F]+$/,
};
/** Go `strconv.ParseFloat` decimal syntax (digits may be separated by single underscores, as in Go literals). */
const GO_DECIMAL_FLOAT = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
/** A plain float after goccy's sign/underscore stripping (exactly one dot; Go `ParseFloat` syntax). */
const PLAIN_FLOAT = /^-?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Classify a plain scalar's text the way goccy/go-yaml's scanner does (keywords, then numbers, else string). */
export function classifyPlain(text: string): PlainClass {
  if (NULL_WORDS.has(text)) return { kind: "null" };
  if (TRUE_WORDS.has(text)) return { kind: "bool", value: true };
  if (FALSE_WORDS.has(text)) return { kind: "bool", value: false };
  if (INF_WORDS.has(text)) return { kind: "inf", negative: false };
  if (text.startsWith("-") && INF_WORDS.has(text.slice(1))) return { kind: "inf", negative: true };
  if (NAN_WORDS.has(text)) return { kind: "nan" };
  if (text.startsWith("_")) return { kind: "str" };
  const dots = text.split(".").length - 1;
  if (dots > 1) return { kind: "str" };
  const negative = text.startsWith("-");
  let norm = text;
  if (norm.startsWith("+")) norm = norm.slice(1);
  if (norm.startsWith("-")) norm = norm.slice(1);
  norm = norm.replaceAll("_", "");
  let base: 2 | 8 | 10 | 16;
  let digits = norm;
  let legacyOctal = false;
  if (norm.startsWith("0x")) [base, digits] = [16, norm.slice(2)];
  else if (norm.startsWith("0o")) [base, digits] = [8, norm.slice(2)];
  else if (norm.startsWith("0b")) [base, digits] = [2, norm.slice(2)];
  else if (norm.startsWith("0") && norm.length > 1 && dots === 0) [base, legacyOctal] = [8, true];
  else if (dots === 1) {
    const t = (negative ? "-" : "") + norm;
    if (!PLAIN_FLOAT.test(t)) return { kind: "str" };
    const value = Number(t);
    // Go's ParseFloat reports a range error (and goccy then keeps a string) past the float64 range.
    return Number.isFinite(value) ? { kind: "float", value } : { kind: "str" };
  } else base = 10;
  if (!DIGITS[base].test(digits)) return { kind: "str" };
  const prefix = base === 16 ? "0x" : base === 8 ? "0o" : base === 2 ? "0b" : "";
  let value = BigInt(prefix + digits);
  if (negative) value = -value;
  if (negative ? value < INT64_MIN : value > UINT64_MAX) return { kind: "str" };
  return { kind: "int", value, base, legacyOctal };
}

/** A scalar read into a field: its value, or the problem that refuses it. */
export type ScalarRead<T> = { ok: true; value: T } | { ok: false; problem: string };

const ok = <T>(value: T): ScalarRead<T> => ({ ok: true, value });
const refuse = (problem: string): ScalarRead<never> => ({ ok: false, problem });

/** Whether a scalar is YAML null (the field then keeps its zero value, as in Gait). Tagged scalars never are. */
export function isNullScalar(s: PolicyScalar): boolean {
  return s.tag === undefined && s.style === "plain" && classifyPlain(s.text).kind === "null";
}

function tagProblem(s: PolicyScalar): string {
  return (
    `the explicit tag ${s.tag} on ${JSON.stringify(s.text)} is not accepted (Gait's YAML library ignores !!str ` +
    `and refuses !!int in integer fields); remove the tag and quote the value if it must stay text`
  );
}

/** Describe a scalar for an error message ("integer 10", "string \"abc\"", "boolean true"). */
export function describeScalar(s: PolicyScalar): string {
  if (s.style !== "plain" || s.tag !== undefined) return `string ${JSON.stringify(s.text)}`;
  const c = classifyPlain(s.text);
  switch (c.kind) {
    case "null": return "null";
    case "bool": return `boolean ${s.text}`;
    case "int": case "float": case "inf": case "nan": return `number ${s.text}`;
    default: return `string ${JSON.stringify(s.text)}`;
  }
}

/** A whole number from Gait's string route (`strconv.ParseFloat`, then >= 0 and truncation). */
function intFromText(s: PolicyScalar): ScalarRead<number> {
  if (!GO_DECIMAL_FLOAT.test(s.text)) return refuse(`must be an integer, got ${describeScalar(s)}`);
  return wholeNumber(s, Number(s.text.replaceAll("_", "")), true);
}

function wholeNumber(s: PolicyScalar, value: number, nonNegative: boolean): ScalarRead<number> {
  if (!Number.isFinite(value)) return refuse(`must be an integer, got ${describeScalar(s)}`);
  if (nonNegative && value < 0) {
    return refuse(`must be an integer, got ${describeScalar(s)} (a negative number is accepted only unquoted)`);
  }
  if (!Number.isInteger(value)) {
    return refuse(
      `must be a whole number, got ${s.text} (Gait's YAML library truncates it to ${Math.trunc(value)}); ` +
        `write the integer you mean`,
    );
  }
  if (!Number.isSafeInteger(value)) {
    return refuse(`must be an integer between -(2^53-1) and 2^53-1, got ${s.text}`);
  }
  return ok(value === 0 ? 0 : value);
}

/** Read a scalar into an integer field (Go `int`). Null must be handled by the caller ({@link isNullScalar}). */
export function readIntScalar(s: PolicyScalar): ScalarRead<number> {
  if (s.tag !== undefined) return refuse(tagProblem(s));
  if (s.style !== "plain") return intFromText(s);
  if (/^[+-]?0[0-9_]/.test(s.text)) {
    return refuse(
      `${s.text} is ambiguous: Gait's YAML library reads a leading zero as an octal number (012 is 10); ` +
        `write the number without leading zeros, or 0o12 for octal`,
    );
  }
  const c = classifyPlain(s.text);
  switch (c.kind) {
    case "int":
      if (c.value > INT64_MAX) return refuse(`must be an integer, got ${s.text} (out of range)`);
      if (c.value > BigInt(Number.MAX_SAFE_INTEGER) || c.value < -BigInt(Number.MAX_SAFE_INTEGER)) {
        return refuse(`must be an integer between -(2^53-1) and 2^53-1, got ${s.text}`);
      }
      return ok(Number(c.value));
    case "float":
      return wholeNumber(s, c.value, false);
    case "str":
      return intFromText(s);
    default:
      return refuse(`must be an integer, got ${describeScalar(s)}`);
  }
}

/** Read a scalar into a string field (Go `string`). Null must be handled by the caller ({@link isNullScalar}). */
export function readStrScalar(s: PolicyScalar): ScalarRead<string> {
  if (s.tag !== undefined) return refuse(tagProblem(s));
  if (s.style !== "plain") return ok(s.text);
  const c = classifyPlain(s.text);
  switch (c.kind) {
    case "str":
      return ok(s.text);
    case "bool":
      if (s.text === "true" || s.text === "false") return ok(s.text);
      return refuse(
        `${s.text} is read as the boolean ${c.value} by Gait's YAML library (it becomes "${c.value}"); ` +
          `quote it to keep the text as written`,
      );
    case "int":
      // Go prints an integer in decimal: only a canonical decimal keeps its text.
      if (/^-?(?:0|[1-9][0-9]*)$/.test(s.text) && s.text !== "-0") return ok(s.text);
      return refuse(
        `${s.text} is read as the integer ${c.value} by Gait's YAML library (it becomes "${c.value}"); ` +
          `quote it to keep the text as written`,
      );
    default:
      return refuse(
        `${s.text} is read as a number by Gait's YAML library, which rewrites it as text; quote it to keep the ` +
          `text as written`,
      );
  }
}

/** Read a scalar into a boolean field (Go `bool`). Null must be handled by the caller ({@link isNullScalar}). */
export function readBoolScalar(s: PolicyScalar): ScalarRead<boolean> {
  if (s.tag !== undefined) return refuse(tagProblem(s));
  if (s.style === "plain") {
    const c = classifyPlain(s.text);
    if (c.kind === "bool") return ok(c.value);
  }
  return refuse(`must be a boolean (true or false), got ${describeScalar(s)}`);
}

/**
 * Read a scalar into a float field (Go `float64`, e.g. `mcp_trust.min_score`): integers and floats as numbers, and a
 * string through `strconv.ParseFloat` (goccy's convertValue). Tags and leading-zero integers are refused as above.
 */
export function readFloatScalar(s: PolicyScalar): ScalarRead<number> {
  if (s.tag !== undefined) return refuse(tagProblem(s));
  if (s.style === "plain") {
    if (/^[+-]?0[0-9_]/.test(s.text)) return readIntScalar(s) as ScalarRead<never>;
    const c = classifyPlain(s.text);
    if (c.kind === "int") return ok(Number(c.value));
    if (c.kind === "float") return ok(c.value);
    if (c.kind !== "str") return refuse(`must be a number, got ${describeScalar(s)}`);
  }
  if (!GO_DECIMAL_FLOAT.test(s.text)) return refuse(`must be a number, got ${describeScalar(s)}`);
  return ok(Number(s.text.replaceAll("_", "")));
}

