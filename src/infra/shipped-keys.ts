/**
 * Keys whose private half is published: committed to this repository (test fixtures, key material written into
 * tests) or to Gait's (its examples). Anyone can sign with them, so a trace or an approval token signed with one proves
 * nothing. In prod key mode the service, `gait doctor` and the one-shot CLI refuse them as signing keys, and refuse
 * their public halves as approval or delegation verify keys (whoever holds the private half could mint tokens).
 *
 * `test/unit/infra/shipped-keys.test.ts` recomputes the key id of every key file and every embedded private key that
 * git tracks and fails when one is missing here, so a new fixture key cannot slip through. Entries are never removed:
 * a key stays published in the history after its file is deleted.
 */
import { KeyError } from "./keys.js";

export interface ShippedKey {
  /** hex(sha256(raw public key)), Gait's key_id */
  keyId: string;
  /** where its private half is published */
  source: string;
}

export const SHIPPED_KEYS: readonly ShippedKey[] = Object.freeze([
  { keyId: "8226551a3c78232a955f11921306f44feaf53d55e6dbf9769ea78ca5478f3701", source: "gait-gate: test/fixtures/published-key/gait_private.key" },
  { keyId: "fe812c12f3ab4ce6ac5db69ac352f906cb1b11ef43fb33e252ef7ff552263889", source: "gait-gate: test/integration/clients-ts-unit.test.ts (seed of 32 bytes 0x07)" },
  { keyId: "dbc298251c51321b7266e78d1c151c2b62aff8cb95b293096d3463018544face", source: "gait-gate: test/integration/clients-ts-unit.test.ts (seed of 32 bytes 0x09)" },
  { keyId: "8393424682c702d59a923d26924b2d4827711e6c585117077766645e22efeb52", source: "Gait: examples/scenarios/keys/approval_private.key" },
]);

const BY_ID: ReadonlyMap<string, ShippedKey> = new Map(SHIPPED_KEYS.map((k) => [k.keyId, k]));

/** The published key with this key id, if any. */
export function shippedKey(keyId: string): ShippedKey | undefined {
  return BY_ID.get(keyId.toLowerCase());
}

/** The refusal message for a published key used as `what` ("signing key", "approval public key", ...). */
export function shippedKeyMessage(what: string, label: string, k: ShippedKey): string {
  return (
    `${what} ${label} (key id ${k.keyId}) is a published demo/test key (${k.source}): anyone can sign with it, so ` +
    `nothing it signs or verifies is evidence. Make a real key pair with 'gait keys init --out-dir <dir>' and keep ` +
    `gait_private.key readable by the gate only`
  );
}

/** Throw a {@link KeyError} when `keyId` belongs to a published key. */
export function assertNotShippedKey(keyId: string, what: string, label: string): void {
  const k = shippedKey(keyId);
  if (k) throw new KeyError(shippedKeyMessage(what, label, k));
}
