/**
 * Source positions in JSON text: where each object key is, and where the first syntax error is. `JSON.parse` gives
 * neither on Node 20 (its messages carry no position), so error messages about an intent file could not point at a
 * line otherwise. A small scanner that follows RFC 8259 exactly; it never decides what the document means (the
 * caller still uses `JSON.parse`), it only answers "where". Pure.
 */

export interface JsonPosition {
  /** 0-based offset into the text */
  offset: number;
  /** 1-based */
  line: number;
  /** 1-based, in UTF-16 code units like editors count them */
  column: number;
}

export interface JsonScan {
  /** key path (`a`, `a.b`, `a[2].c`) -> position of the key's opening quote; the last one wins, as in JSON.parse */
  keys: Map<string, JsonPosition>;
  /** the first syntax error, when the text is not JSON */
  error?: JsonPosition & { message: string };
}

/** Line and column (1-based) of an offset. */
export function positionAt(text: string, offset: number): JsonPosition {
  return positioner(text)(offset);
}

/** A position function over `text` that finds lines by binary search (many lookups stay linear overall). */
function positioner(text: string): (offset: number) => JsonPosition {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 0x0a) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { offset, line: lo + 1, column: offset - starts[lo]! + 1 };
  };
}

class ScanError extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
  }
}

/** Scan JSON text; never throws. */
export function scanJson(text: string): JsonScan {
  const keyOffsets = new Map<string, number>();
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const describeAt = (at: number) => (at >= n ? "end of input" : `${JSON.stringify(text[at])}`);
  const fail = (what: string): never => {
    throw new ScanError(i, `expected ${what}, found ${describeAt(i)}`);
  };
  const str = (): void => {
    i++; // opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) throw new ScanError(i, "control character in string (escape it)");
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new ScanError(i, "invalid \\u escape in string");
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new ScanError(i, "invalid escape in string");
        i += 2;
        continue;
      }
      i++;
    }
    throw new ScanError(i, "unterminated string");
  };
  const num = (): void => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === "" || m[0] === "-") fail("a value");
    i += m![0].length;
  };
  const value = (path: string, depth: number): void => {
    if (depth > 10_000) throw new ScanError(i, "nesting too deep");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("a string key");
        const keyStart = i;
        str();
        const key = JSON.parse(text.slice(keyStart, i)) as string;
        const keyPath = path === "" ? key : `${path}.${key}`;
        keyOffsets.set(keyPath, keyStart);
        ws();
        if (text[i] !== ":") fail('":"');
        i++;
        value(keyPath, depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        fail('"," or "}"');
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (let idx = 0; ; idx++) {
        value(`${path}[${idx}]`, depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        fail('"," or "]"');
      }
    }
    if (c === '"') return str();
    for (const lit of ["true", "false", "null"]) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return num();
    fail("a value");
  };
  const keys = new Map<string, JsonPosition>();
  const pos = positioner(text);
  try {
    value("", 0);
    ws();
    if (i < n) throw new ScanError(i, `unexpected ${describeAt(i)} after the JSON value`);
  } catch (e) {
    if (!(e instanceof ScanError)) throw e;
    for (const [k, off] of keyOffsets) keys.set(k, pos(off));
    return { keys, error: { ...pos(e.offset), message: e.message } };
  }
  for (const [k, off] of keyOffsets) keys.set(k, pos(off));
  return { keys };
}
