/**
 * RFC 8785 (JCS) canonical JSON and the SHA-256 digests Gait derives from it.
 *
 * `jcs()` runs a fast emitter for the values the engine and the service canonicalize on every decision (plain JSON
 * data: objects, arrays, strings, finite numbers, booleans, null). It produces exactly what the `canonicalize`
 * package (an RFC 8785 implementation by one of the RFC's authors, the reference here) produces; anything outside
 * that shape (a `toJSON` method, a non-finite number, a lone surrogate, a function, symbol or bigint, very deep or
 * circular nesting) is handed to the package for the whole value, so its output or its error is what callers get.
 * test/unit/engine/canon-fast.test.ts cross-checks both on generated values.
 *
 * Why a second emitter: the package sorts through `Array.prototype.map/join` and re-validates every string, which
 * made canonicalization the largest single cost of signing a trace record after Ed25519 itself.
 */
import canonicalize from "canonicalize";
import { createHash } from "node:crypto";
import * as nodeCrypto from "node:crypto";

/** Thrown inside the fast path for a value it leaves to the reference implementation. */
const UNSUPPORTED: unique symbol = Symbol("jcs-unsupported");
/** Deeper nesting goes to the reference (which also detects cycles). */
const MAX_DEPTH = 256;

/**
 * JSON string literal of `s` as RFC 8785 writes it (ECMAScript JSON.stringify escaping). Throws like the reference
 * on a lone surrogate (RFC 8785 requires well-formed Unicode).
 */
export function jcsString(s: string): string {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) return jcsEscaped(s);
    if (c >= 0xd800 && c <= 0xdfff) return jcsEscaped(s);
  }
  return `"${s}"`;
}

function jcsEscaped(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff) throw new Error("Lone surrogate is not allowed");
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      throw new Error("Lone surrogate is not allowed");
    }
  }
  return JSON.stringify(s);
}

function emit(v: unknown, depth: number): string {
  switch (typeof v) {
    case "string":
      return jcsString(v);
    case "number":
      if (!Number.isFinite(v)) throw UNSUPPORTED;
      return `${v}`; // ECMAScript Number::toString, as RFC 8785 §3.2.2.3 requires (-0 -> "0", 1e21 -> "1e+21")
    case "boolean":
      return v ? "true" : "false";
    case "object": {
      if (v === null) return "null";
      if (depth > MAX_DEPTH || typeof (v as { toJSON?: unknown }).toJSON === "function") throw UNSUPPORTED;
      if (Array.isArray(v)) {
        const n = v.length;
        if (n === 0) return "[]";
        let out = "[";
        for (let i = 0; i < n; i++) {
          const item: unknown = v[i];
          if (i > 0) out += ",";
          out += item === undefined ? "null" : emit(item, depth + 1);
        }
        return out + "]";
      }
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      // Objects built in key order (most of ours) skip the sort; `<` on strings compares UTF-16 code units (§3.2.3).
      for (let i = 1; i < keys.length; i++) {
        if (keys[i - 1]! > keys[i]!) {
          keys.sort();
          break;
        }
      }
      let out = "{";
      let first = true;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const item = o[k];
        if (item === undefined) continue;
        if (typeof item === "symbol" || typeof item === "function") throw UNSUPPORTED;
        out += (first ? "" : ",") + jcsString(k) + ":" + emit(item, depth + 1);
        first = false;
      }
      return out + "}";
    }
    default:
      throw UNSUPPORTED; // undefined, function, symbol, bigint
  }
}

/** Canonical JSON text of a JSON-compatible value. Throws on values JSON cannot carry (NaN, Infinity, undefined). */
export function jcs(value: unknown): string {
  try {
    return emit(value, 0);
  } catch (e) {
    if (e !== UNSUPPORTED) throw e;
  }
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("value cannot be canonicalized as JSON");
  return text;
}

// node >= 20.12 has the one-shot crypto.hash(); it avoids a Hash object per call.
const oneShot = (nodeCrypto as unknown as { hash?: (alg: string, data: string | Uint8Array, enc: "hex") => string }).hash;

/** Lowercase hex SHA-256 of a string (UTF-8) or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return oneShot ? oneShot("sha256", data, "hex") : createHash("sha256").update(data).digest("hex");
}

/** Raw SHA-256 bytes. */
export function sha256Bytes(data: string | Uint8Array): Uint8Array {
  // the one-shot hex digest plus a hex decode is cheaper than a Hash object (measured on Node 20)
  return oneShot ? Buffer.from(oneShot("sha256", data, "hex"), "hex") : createHash("sha256").update(data).digest();
}

/** Gait's `DigestJCS`: lowercase hex SHA-256 of the JCS text of `value`. */
export function digestJCS(value: unknown): string {
  return sha256Hex(jcs(value));
}

const HEX64 = /^[0-9a-f]{64}$/;
/** True for a 64-character lowercase hex string (a SHA-256 digest as Gait writes it). */
export function isHex64(s: string): boolean {
  return HEX64.test(s);
}

/**
 * Go's `json.Marshal` of a string (HTML escaping on, as by default): `"` and `\\` escaped, `\b \f \n \r \t` short
 * forms, other controls as `\u00xx`, `<` `>` `&` as `\u003c` `\u003e` `\u0026`, U+2028/U+2029 as `\u2028`/`\u2029`.
 * A lone surrogate (which a Go string cannot hold) is written as `\ufffd`, as Go writes an invalid byte.
 */
export function goJsonQuote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0x22 || c === 0x5c) out += "\\" + s[i];
      else if (c === 0x08) out += "\\b";
      else if (c === 0x0c) out += "\\f";
      else if (c === 0x0a) out += "\\n";
      else if (c === 0x0d) out += "\\r";
      else if (c === 0x09) out += "\\t";
      else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) out += "\\u00" + c.toString(16).padStart(2, "0");
      else out += s[i];
    } else if (c === 0x2028 || c === 0x2029) out += "\\u" + c.toString(16);
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      out += s[i]! + s[i + 1]!;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) out += "\\ufffd";
    else out += s[i];
  }
  return out + '"';
}

