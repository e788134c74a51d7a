/**
 * Gait's signature object (`evidence.md` §1.2): Ed25519 over the 32 raw bytes of sha256(JCS(signable)).
 * The engine stays pure: the actual key operations are behind the {@link Signer} / {@link Verifier} interfaces,
 * implemented with node:crypto in `src/crypto/` (server, CLI) and with @noble/ed25519 in the TypeScript client.
 */
import { jcs, sha256Hex } from "./canon.js";

export interface SignatureObject {
  alg: "ed25519" | string;
  key_id: string;
  sig: string; // standard base64 with padding
  signed_digest: string; // lowercase hex sha256 of the JCS of the signable document
}

/** Signs a 32-byte digest. `keyId` = hex(sha256(raw 32-byte public key)). */
export interface Signer {
  readonly keyId: string;
  sign(digest: Uint8Array): Uint8Array;
}

/** Verifies an Ed25519 signature over a 32-byte digest with one public key. */
export interface Verifier {
  readonly keyId: string;
  verify(digest: Uint8Array, signature: Uint8Array): boolean;
}

export class SignatureError extends Error {
  override name = "SignatureError";
}

/** Sign a JSON document: the caller passes the document *without* its signature field. */
export function signDocument(signable: unknown, signer: Signer): SignatureObject {
  const digestHex = sha256Hex(jcs(signable));
  const sig = signer.sign(Buffer.from(digestHex, "hex"));
  return { alg: "ed25519", key_id: signer.keyId, sig: Buffer.from(sig).toString("base64"), signed_digest: digestHex };
}

/**
 * Verify a signature object against a document (without its signature field). Throws {@link SignatureError} with
 * Gait's messages: "missing signed_digest", "signed_digest mismatch", "unsupported signature algorithm",
 * "key id mismatch", "invalid signature encoding", "signature verification failed".
 */
export function verifyDocument(signable: unknown, signature: SignatureObject | undefined | null, verifier: Verifier): void {
  if (!signature) throw new SignatureError("missing signature");
  if (!signature.signed_digest) throw new SignatureError("missing signed_digest");
  const digestHex = sha256Hex(jcs(signable));
  if (signature.signed_digest.toLowerCase() !== digestHex) throw new SignatureError("signed_digest mismatch");
  if ((signature.alg ?? "").toLowerCase() !== "ed25519") throw new SignatureError("unsupported signature algorithm");
  if (signature.key_id && signature.key_id.toLowerCase() !== verifier.keyId) throw new SignatureError("key id mismatch");
  const sig = Buffer.from(signature.sig ?? "", "base64");
  if (sig.length !== 64) throw new SignatureError("invalid signature encoding");
  if (!verifier.verify(Buffer.from(digestHex, "hex"), sig)) throw new SignatureError("signature verification failed");
}
