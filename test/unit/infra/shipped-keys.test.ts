/**
 * The list of published keys (src/infra/shipped-keys.ts) is complete: every key git tracks in this repository is on
 * it, found three ways: a key file (Gait's private or public key text in a file whose name says key), a private key
 * embedded in any tracked text file (base64 of seed || public key, checked to be a real pair), and a seed written
 * into a test as a filled 32-byte array (`new Uint8Array(32).fill(7)`, `Buffer.alloc(32, 7)`).
 */
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { Ed25519KeyPair, KeyError } from "../../../src/infra/keys.js";
import { assertNotShippedKey, shippedKey, SHIPPED_KEYS } from "../../../src/infra/shipped-keys.js";

const ROOT = resolve(__dirname, "..", "..", "..");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function publicOfSeed(seed: Buffer): Buffer {
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  return createPublicKey(priv).export({ format: "der", type: "spki" }).subarray(12);
}

const keyId = (pub: Buffer) => createHash("sha256").update(pub).digest("hex");

/** Key ids (with where they were found) in one file's text. */
export function keysIn(path: string, text: string): { keyId: string; where: string }[] {
  const found: { keyId: string; where: string }[] = [];
  // a key file: the whole content is Gait's key text
  if (/key/i.test(path)) {
    const raw = /^[A-Za-z0-9+/\r\n]+={0,2}\s*$/.test(text) ? Buffer.from(text.replace(/\s/g, ""), "base64") : Buffer.alloc(0);
    if (raw.length === 64) found.push({ keyId: keyId(raw.subarray(32)), where: `${path} (private key file)` });
    if (raw.length === 32) found.push({ keyId: keyId(raw), where: `${path} (public key file)` });
    if (found.length) return found;
  }
  // a private key embedded anywhere: 88 base64 characters that decode to a seed and ITS public key
  for (const m of text.matchAll(/(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==/g)) {
    const raw = Buffer.from(m[0], "base64");
    if (raw.length === 64 && publicOfSeed(raw.subarray(0, 32)).equals(raw.subarray(32))) found.push({ keyId: keyId(raw.subarray(32)), where: `${path} (embedded private key)` });
  }
  // a seed filled with one byte
  for (const m of text.matchAll(/new Uint8Array\(32\)\.fill\((\d+)\)|Buffer\.alloc\(32,\s*(\d+)\)|bytes\(\[(\d+)\]\)\s*\*\s*32/g)) {
    const byte = Number(m[1] ?? m[2] ?? m[3]);
    found.push({ keyId: keyId(publicOfSeed(Buffer.alloc(32, byte))), where: `${path} (seed of 32 bytes 0x${byte.toString(16).padStart(2, "0")})` });
  }
  return found;
}

function trackedFiles(): string[] {
  return execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
}

describe("published keys", () => {
  it("every key tracked by git is on the list (a new fixture key cannot slip through)", () => {
    const found: { keyId: string; where: string }[] = [];
    for (const f of trackedFiles()) {
      const p = join(ROOT, f);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue; // deleted in the work tree
      }
      if (!st.isFile() || st.size > 4_000_000) continue;
      const buf = readFileSync(p);
      if (buf.includes(0)) continue; // binary
      found.push(...keysIn(f, buf.toString("utf8")));
    }
    const listed = new Set(SHIPPED_KEYS.map((k) => k.keyId));
    expect(found.filter((k) => !listed.has(k.keyId)).map((k) => `${k.where}: key id ${k.keyId} is not in src/infra/shipped-keys.ts`)).toEqual([]);
    // the scan sees what it must see: the fixture key file (both halves) and the seed written into a client test
    expect(found.map((k) => k.where)).toEqual(
      expect.arrayContaining([
        "test/fixtures/published-key/gait_private.key (private key file)",
        "test/fixtures/published-key/gait_public.key (public key file)",
        "test/integration/clients-ts-unit.test.ts (seed of 32 bytes 0x07)",
      ]),
    );
  });

  it("the scan finds a key in every form it looks for (control)", () => {
    const k = Ed25519KeyPair.generate();
    expect(keysIn("x/new_private.key", k.privateKeyText()).map((f) => f.keyId)).toEqual([k.keyId]);
    expect(keysIn("x/new_public.key", k.publicKeyText()).map((f) => f.keyId)).toEqual([k.keyId]);
    expect(keysIn("x/test.ts", `const K = "${k.privateKeyText().trim()}";`).map((f) => f.keyId)).toEqual([k.keyId]);
    expect(keysIn("x/test.py", "seed = bytes([9]) * 32")).toHaveLength(1);
    // 64 random bytes that are not a key pair are not reported, nor is a non-key file's base64
    expect(keysIn("x/test.ts", Buffer.alloc(64, 1).toString("base64"))).toEqual([]);
    expect(keysIn("x/data.json", k.publicKeyText())).toEqual([]);
  });

  it("looks up by key id and refuses with a message that says what the key is and how to make a real one", () => {
    const fixture = Ed25519KeyPair.fromPrivateKeyText(readFileSync(join(ROOT, "test/fixtures/published-key/gait_private.key"), "utf8"));
    expect(shippedKey(fixture.keyId)?.source).toContain("test/fixtures/published-key");
    expect(shippedKey(fixture.keyId.toUpperCase())).toBeDefined();
    expect(shippedKey(Ed25519KeyPair.generate().keyId)).toBeUndefined();
    expect(() => assertNotShippedKey(fixture.keyId, "signing key", "path:k")).toThrow(KeyError);
    expect(() => assertNotShippedKey(fixture.keyId, "signing key", "path:k")).toThrow(/signing key path:k .* is a published demo\/test key .*gait keys init/);
    expect(() => assertNotShippedKey(Ed25519KeyPair.generate().keyId, "signing key", "path:k")).not.toThrow();
  });
});
