/**
 * Signing key for the service, loaded ONCE at start (a deliberate deviation from Gait's `mcp serve`, which loads a
 * key per request so its dev-mode traces can never be verified; gate.md top table).
 *
 * dev mode: the first start generates an Ed25519 pair and keeps it in `<state>/keys/dev_{private,public}.key` (Gait's
 * file format, 0600, directory 0700); later starts reuse it, so every trace the server ever signed in that state dir
 * verifies with the same public key. prod mode: Gait's LoadSigningKey rules (a private key path or env var).
 */
import { mkdirSync, readFileSync, writeFileSync, renameSync, existsSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { Ed25519KeyPair, loadSigningKey, loadVerifyKey, KeyError, type Ed25519PublicKey } from "./keys.js";
/** The key settings of the server (its slice of the configuration). */
export interface KeySettings {
  keyMode: "dev" | "prod";
  stateDir: string;
  privateKeyPath?: string;
  privateKeyEnv?: string;
  approvalPublicKeyPath?: string;
  approvalPublicKeyEnv?: string;
  delegationPublicKeyPath?: string;
  delegationPublicKeyEnv?: string;
}
import { assertNotShippedKey } from "./shipped-keys.js";
import { assertTrusted } from "./trust.js";

export interface ServerKeys {
  signer: Ed25519KeyPair;
  /** "dev:state:<path>", "dev:generated:<path>", "path:<file>" or "env:<VAR>" */
  label: string;
  mode: "dev" | "prod";
  /** Verifies approval tokens not signed by `signer` (--approval-public-key[-env]). */
  approvalVerifier?: Ed25519PublicKey;
  /** Verifies delegation tokens (--delegation-public-key[-env]); defaults to the signer's key. */
  delegationVerifier?: Ed25519PublicKey;
}

export const DEV_PRIVATE_KEY_FILE = "dev_private.key";
export const DEV_PUBLIC_KEY_FILE = "dev_public.key";

/** Load (or, in dev mode, load-or-create) the server's keys. Throws KeyError with a message naming the source. */
export function loadServerKeys(cfg: KeySettings, env: NodeJS.ProcessEnv = process.env): ServerKeys {
  let signer: Ed25519KeyPair;
  let label: string;
  if (cfg.keyMode === "dev") {
    const dir = join(cfg.stateDir, "keys");
    const privPath = join(dir, DEV_PRIVATE_KEY_FILE);
    // a key someone else could have planted signs tokens the gate accepts: check before reading or creating
    if (existsSync(dir)) assertTrusted(dir, "dir", "dev key directory");
    if (existsSync(privPath)) {
      assertTrusted(privPath, "secret-file", "dev signing key");
      try {
        signer = Ed25519KeyPair.fromPrivateKeyText(readFileSync(privPath, "utf8"));
      } catch (e) {
        throw new KeyError(`dev key ${privPath} is unreadable (${(e as Error).message}); remove it to generate a new pair`);
      }
      label = `dev:state:${privPath}`;
    } else {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      assertTrusted(dir, "dir", "dev key directory");
      signer = Ed25519KeyPair.generate();
      const tmp = `${privPath}.tmp-${process.pid}`;
      writeFileSync(tmp, signer.privateKeyText(), { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, privPath);
      writeFileSync(join(dir, DEV_PUBLIC_KEY_FILE), signer.publicKeyText(), { mode: 0o600 });
      label = `dev:generated:${privPath}`;
    }
  } else {
    if (cfg.privateKeyPath) assertTrusted(cfg.privateKeyPath, "secret-file", "signing key");
    const r = loadSigningKey("prod", { path: cfg.privateKeyPath, env: cfg.privateKeyEnv }, {}, env);
    signer = r.key;
    label = r.label;
    // a key whose private half is published (a fixture of this repository or Gait's) signs nothing worth verifying
    assertNotShippedKey(signer.keyId, "signing key", label);
  }
  // a swapped verify key would let its owner mint accepted tokens
  if (cfg.approvalPublicKeyPath) assertTrusted(cfg.approvalPublicKeyPath, "file", "approval public key");
  if (cfg.delegationPublicKeyPath) assertTrusted(cfg.delegationPublicKeyPath, "file", "delegation public key");
  const approvalVerifier = loadVerifyKey({ path: cfg.approvalPublicKeyPath, env: cfg.approvalPublicKeyEnv }, {}, env);
  const delegationVerifier = loadVerifyKey({ path: cfg.delegationPublicKeyPath, env: cfg.delegationPublicKeyEnv }, {}, env);
  if (cfg.keyMode === "prod") {
    // whoever holds a published private key could mint approval or delegation tokens this server accepts
    if (approvalVerifier) assertNotShippedKey(approvalVerifier.keyId, "approval public key", cfg.approvalPublicKeyPath ?? `env:${cfg.approvalPublicKeyEnv}`);
    if (delegationVerifier) assertNotShippedKey(delegationVerifier.keyId, "delegation public key", cfg.delegationPublicKeyPath ?? `env:${cfg.delegationPublicKeyEnv}`);
  }
  return { signer, label, mode: cfg.keyMode, approvalVerifier, delegationVerifier };
}
