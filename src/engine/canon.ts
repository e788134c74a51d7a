/**
 * RFC 8785 (JCS) canonical JSON and the SHA-256 digests Gait derives from it.
 *
 * Canonicalization uses the `canonicalize` package (an RFC 8785 implementation by one of the RFC's authors) rather
 * than a hand-rolled serializer: number formatting and string escaping follow ECMAScript exactly, which is what the
 * RFC specifies and what Gait's Go JCS library produces.
 */
import canonicalize from "canonicalize";
import { createHash } from "node:crypto";
import * as nodeCrypto from "node:crypto";

/** Canonical JSON text of a JSON-compatible value. Throws on values JSON cannot carry (NaN, Infinity, undefined). */
export function jcs(value: unknown): string {
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
  return createHash("sha256").update(data).digest();
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
