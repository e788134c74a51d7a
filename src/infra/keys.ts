/**
 * Ed25519 keys in Gait's file formats (evidence.md §4.1) with node:crypto signing (7x faster than a pure-JS
 * implementation on this machine; see spec/stack.md). Keys are turned into KeyObjects once and reused.
 *
 * Private key file: one line of base64 of 64 bytes (32-byte seed || 32-byte public key), mode 0600. Reading, we
 * accept what Gait's reader accepts: the base64 may be wrapped over several lines.
 * Public key file: one line of base64 of the raw 32-byte public key, mode 0600.
 * key_id: hex(sha256(raw public key)).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { sha256Hex } from "../engine/canon.js";
import type { Signer, Verifier } from "../engine/signature.js";

const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export class KeyError extends Error {
  override name = "KeyError";
}

export function keyIdOf(publicKey: Uint8Array): string {
  return sha256Hex(publicKey);
}

/** A loaded key pair: signs with node:crypto; also a Verifier for its own public key. */
export class Ed25519KeyPair implements Signer, Verifier {
  readonly keyId: string;
  private readonly priv: KeyObject;
  private readonly pub: KeyObject;
  constructor(readonly seed: Uint8Array, readonly publicKey: Uint8Array) {
    if (seed.length !== 32 || publicKey.length !== 32) throw new KeyError("invalid private key length");
    this.priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
    const derived = createPublicKey(this.priv).export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length);
    // Gait signs with such a key (Go's ed25519 takes the public half as stored), producing signatures nobody can
    // verify and a key_id that names a different key. We refuse it (docs/compatibility.md S6).
    if (!Buffer.from(derived).equals(Buffer.from(publicKey))) throw new KeyError("private key seed does not match its public key half");
    this.pub = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
    this.keyId = keyIdOf(publicKey);
  }
  static generate(): Ed25519KeyPair {
    const { privateKey } = generateKeyPairSync("ed25519");
    const der = privateKey.export({ format: "der", type: "pkcs8" });
    const seed = der.subarray(der.length - 32);
    const pub = createPublicKey(privateKey).export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length);
    return new Ed25519KeyPair(new Uint8Array(seed), new Uint8Array(pub));
  }
  /** Parse Gait's private key text (base64 of seed||pub, whitespace trimmed). */
  static fromPrivateKeyText(text: string): Ed25519KeyPair {
    const raw = decodeBase64Strict(text.trim());
    if (!raw || raw.length !== 64) throw new KeyError("invalid private key length");
    return new Ed25519KeyPair(raw.subarray(0, 32), raw.subarray(32));
  }
  /** The seed as PKCS#8 DER (the signing worker's own copy of the key). */
  pkcs8(): Uint8Array {
    return new Uint8Array(Buffer.concat([PKCS8_PREFIX, this.seed]));
  }
  sign(digest: Uint8Array): Uint8Array {
    return edSign(null, digest, this.priv);
  }
  verify(digest: Uint8Array, signature: Uint8Array): boolean {
    return edVerify(null, digest, this.pub, signature);
  }
  verifier(): Ed25519PublicKey {
    return new Ed25519PublicKey(this.publicKey);
  }
  /** Gait private key file content (with trailing newline). */
  privateKeyText(): string {
    return Buffer.concat([Buffer.from(this.seed), Buffer.from(this.publicKey)]).toString("base64") + "\n";
  }
  publicKeyText(): string {
    return Buffer.from(this.publicKey).toString("base64") + "\n";
  }
}

/** A public key only. */
export class Ed25519PublicKey implements Verifier {
  readonly keyId: string;
  private readonly pub: KeyObject;
  constructor(readonly publicKey: Uint8Array) {
    if (publicKey.length !== 32) throw new KeyError("invalid public key length");
    this.pub = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
    this.keyId = keyIdOf(publicKey);
  }
  static fromText(text: string): Ed25519PublicKey {
    const raw = decodeBase64Strict(text.trim());
    if (!raw || raw.length !== 32) throw new KeyError("invalid public key length");
    return new Ed25519PublicKey(raw);
  }
  verify(digest: Uint8Array, signature: Uint8Array): boolean {
    try {
      return edVerify(null, digest, this.pub, signature);
    } catch {
      return false;
    }
  }
  publicKeyText(): string {
    return Buffer.from(this.publicKey).toString("base64") + "\n";
  }
}

/**
 * Go's `base64.StdEncoding.DecodeString`, which Gait's key loaders use: padded standard alphabet, and every CR and
 * LF is skipped wherever it appears, so a key wrapped by `base64` (76 columns) or pasted with CRLF line ends loads.
 * Any other character, a space or tab inside included, is an error.
 */
function decodeBase64Strict(text: string): Uint8Array | undefined {
  const s = text.replace(/[\r\n]/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  return new Uint8Array(Buffer.from(s, "base64"));
}

/** Where a key comes from: a file path or an environment variable, never both (Gait's rule). */
export interface KeySource {
  path?: string;
  env?: string;
}

function readSource(src: KeySource, kind: "private" | "public", env: NodeJS.ProcessEnv): { text: string; label: string } | undefined {
  if (src.path && src.env) throw new KeyError(`set either --${kind}-key or --${kind}-key-env, not both`);
  if (src.path) {
    try {
      return { text: readFileSync(src.path, "utf8"), label: `path:${src.path}` };
    } catch (e) {
      throw new KeyError(`read ${kind} key ${src.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  if (src.env) {
    const v = env[src.env];
    if (!v || !v.trim()) throw new KeyError(`${kind} key env var ${src.env} is empty or unset`);
    return { text: v, label: `env:${src.env}` };
  }
  return undefined;
}

export type KeyMode = "dev" | "prod";

/**
 * Gait's LoadSigningKey. dev: a fresh throwaway key pair, and any explicit key source is refused
 * ("dev mode does not accept explicit key sources"). prod: a private key source is required; an optional public
 * source must match it.
 */
export function loadSigningKey(
  mode: string,
  priv: KeySource,
  pub: KeySource = {},
  env: NodeJS.ProcessEnv = process.env,
): { key: Ed25519KeyPair; warning?: string; label: string } {
  const m = (mode || "prod").trim().toLowerCase();
  if (m === "dev") {
    if (priv.path || priv.env || pub.path || pub.env) throw new KeyError("dev mode does not accept explicit key sources");
    return {
      key: Ed25519KeyPair.generate(),
      warning: "dev mode: ephemeral keypair generated; signatures will not verify across machines",
      label: "dev:ephemeral",
    };
  }
  if (m !== "prod") throw new KeyError(`unsupported key mode: ${mode} (use dev or prod)`);
  const ps = readSource(priv, "private", env);
  if (!ps) throw new KeyError("prod mode requires --private-key or --private-key-env");
  const key = Ed25519KeyPair.fromPrivateKeyText(ps.text);
  const pubs = readSource(pub, "public", env);
  if (pubs) {
    const p = Ed25519PublicKey.fromText(pubs.text);
    if (p.keyId !== key.keyId) throw new KeyError("public key does not match private key");
  }
  return { key, label: ps.label };
}

/** Gait's LoadVerifyKey: a public source wins; otherwise derive from a private source. */
export function loadVerifyKey(pub: KeySource, priv: KeySource = {}, env: NodeJS.ProcessEnv = process.env): Ed25519PublicKey | undefined {
  const pubs = readSource(pub, "public", env);
  if (pubs) return Ed25519PublicKey.fromText(pubs.text);
  const ps = readSource(priv, "private", env);
  if (ps) return Ed25519KeyPair.fromPrivateKeyText(ps.text).verifier();
  return undefined;
}
