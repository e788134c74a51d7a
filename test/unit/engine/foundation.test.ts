import * as ed from "@noble/ed25519";
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { digestJCS, isHex64, jcs, sha256Hex } from "../../../src/engine/canon.js";
import { signDocument, verifyDocument, SignatureError } from "../../../src/engine/signature.js";
import { formatGoTime, normalizeGoTime, parseGoDuration, parseRFC3339, GO_ZERO_TIME } from "../../../src/engine/time.js";
import { Ed25519KeyPair, Ed25519PublicKey, loadSigningKey, KeyError } from "../../../src/infra/keys.js";

ed.hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash("sha512").update(m).digest());

describe("JCS and digests", () => {
  it("sorts keys and formats numbers as RFC 8785 requires", () => {
    expect(jcs({ b: 1, a: [true, null, "x"], c: { z: 1e21, y: 0.000001, x: -0 } })).toBe(
      '{"a":[true,null,"x"],"b":1,"c":{"x":0,"y":0.000001,"z":1e+21}}',
    );
    expect(jcs({ "\u00e9": 1, e: 2, "\ud83d\ude00": 3 })).toBe('{"e":2,"é":1,"😀":3}');
  });
  it("rejects values JSON cannot carry", () => {
    expect(() => jcs(NaN)).toThrow();
    expect(() => jcs(Infinity)).toThrow();
    expect(() => jcs(undefined)).toThrow(/cannot be canonicalized/);
  });
  it("reproduces the golden digests of gate.md 2.5 and 3.8 from their JCS texts", () => {
    expect(digestJCS({ x: "y" })).toBe("0466c472ba1be6a35700b1867dea252bc914e46ebb68522cf0a2e3b9c6e8693e");
    expect(digestJCS({})).toBe("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    expect(
      digestJCS({ tool_name: "tool.demo", args: { x: "y" }, targets: [], context: { identity: "alice", workspace: "/repo/gait", risk_class: "low", phase: "apply" } }),
    ).toBe("26d417d6bd17aa59e0c3db111de2e3f851cc08f360bc57a54003dc7c468c71b5");
    expect(
      digestJCS({ SchemaID: "gait.gate.policy", SchemaVersion: "1.0.0", DefaultVerdict: "allow", FailClosed: { Enabled: false, RiskClasses: [], RequiredFields: [] }, Rules: [] }),
    ).toBe("65819d9cf07c7619aa8aaf2bd4e8d6f8e3f86b139b49a68c535fd14d77a5009f");
  });
  it("hex helpers", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(isHex64("a".repeat(64))).toBe(true);
    expect(isHex64("A".repeat(64))).toBe(false);
    expect(isHex64("a".repeat(63))).toBe(false);
  });
});

describe("Go time encodings", () => {
  it("formats RFC3339Nano with trailing zeros trimmed, in UTC", () => {
    expect(formatGoTime(new Date("2026-01-02T03:04:05.000Z"))).toBe("2026-01-02T03:04:05Z");
    expect(formatGoTime(new Date("2026-01-02T03:04:05.500Z"))).toBe("2026-01-02T03:04:05.5Z");
    expect(normalizeGoTime("2026-01-02T04:04:05.123456789+01:00")).toBe("2026-01-02T03:04:05.123456789Z");
    expect(normalizeGoTime("0001-01-01T00:00:00Z")).toBe(GO_ZERO_TIME);
  });
  it("rejects non-RFC3339 text and impossible dates", () => {
    expect(parseRFC3339("2026-02-31T00:00:00Z")).toBeUndefined();
    expect(parseRFC3339("yesterday")).toBeUndefined();
    expect(parseRFC3339("2026-01-01 00:00:00")).toBeUndefined();
  });
  it("parses Go durations", () => {
    expect(parseGoDuration("90s")).toBe(90_000);
    expect(parseGoDuration("1h30m")).toBe(5_400_000);
    expect(parseGoDuration("1.5h")).toBe(5_400_000);
    expect(parseGoDuration("250ms")).toBe(250);
    expect(parseGoDuration("0")).toBe(0);
    expect(() => parseGoDuration("10")).toThrow(/invalid duration "10"/);
    expect(() => parseGoDuration("1d")).toThrow(/Go syntax/);
  });
});

describe("Ed25519 keys and signature objects", () => {
  const key = Ed25519KeyPair.generate();
  it("round-trips Gait's key file formats", () => {
    const again = Ed25519KeyPair.fromPrivateKeyText(key.privateKeyText());
    expect(again.keyId).toBe(key.keyId);
    expect(Buffer.from(key.privateKeyText().trim(), "base64")).toHaveLength(64);
    expect(Ed25519PublicKey.fromText(key.publicKeyText()).keyId).toBe(key.keyId);
    expect(key.keyId).toBe(sha256Hex(key.publicKey));
  });
  it("rejects malformed key text", () => {
    expect(() => Ed25519KeyPair.fromPrivateKeyText("AAAA")).toThrow(KeyError);
    expect(() => Ed25519PublicKey.fromText("not base64!")).toThrow(/invalid public key length/);
    const mismatched = Buffer.concat([Buffer.from(key.seed), Buffer.from(Ed25519KeyPair.generate().publicKey)]).toString("base64");
    expect(() => Ed25519KeyPair.fromPrivateKeyText(mismatched)).toThrow(/does not match/);
  });
  it("signs sha256(JCS(doc)) and verifies; noble agrees independently", () => {
    const doc = { b: 2, a: "x" };
    const sig = signDocument(doc, key);
    expect(sig.signed_digest).toBe(digestJCS(doc));
    expect(sig.key_id).toBe(key.keyId);
    expect(() => verifyDocument(doc, sig, key.verifier())).not.toThrow();
    expect(ed.verify(Buffer.from(sig.sig, "base64"), Buffer.from(sig.signed_digest, "hex"), key.publicKey)).toBe(true);
  });
  it("fails verification on any change, with Gait's messages", () => {
    const doc = { a: "x" };
    const sig = signDocument(doc, key);
    expect(() => verifyDocument({ a: "y" }, sig, key)).toThrow("signed_digest mismatch");
    expect(() => verifyDocument(doc, { ...sig, signed_digest: "" }, key)).toThrow("missing signed_digest");
    expect(() => verifyDocument(doc, { ...sig, alg: "rsa" }, key)).toThrow("unsupported signature algorithm");
    expect(() => verifyDocument(doc, sig, Ed25519KeyPair.generate())).toThrow("key id mismatch");
    const other = Ed25519KeyPair.generate();
    expect(() => verifyDocument(doc, { ...sig, key_id: "" }, other)).toThrow("signature verification failed");
    expect(() => verifyDocument(doc, { ...sig, sig: "AAAA" }, key)).toThrow(SignatureError);
    expect(() => verifyDocument(doc, undefined, key)).toThrow("missing signature");
  });
  it("loadSigningKey follows Gait's dev/prod rules", () => {
    expect(loadSigningKey("dev", {}).warning).toMatch(/ephemeral/);
    expect(() => loadSigningKey("dev", { path: "/x" })).toThrow("dev mode does not accept explicit key sources");
    expect(() => loadSigningKey("prod", {})).toThrow(/requires --private-key/);
    expect(() => loadSigningKey("weird", {})).toThrow(/unsupported key mode/);
    const env = { K: key.privateKeyText(), P: key.publicKeyText(), Q: Ed25519KeyPair.generate().publicKeyText() };
    expect(loadSigningKey("prod", { env: "K" }, { env: "P" }, env).key.keyId).toBe(key.keyId);
    expect(() => loadSigningKey("prod", { env: "K" }, { env: "Q" }, env)).toThrow("public key does not match private key");
    expect(() => loadSigningKey("prod", { env: "MISSING" }, {}, env)).toThrow(/empty or unset/);
    expect(() => loadSigningKey("prod", { env: "K", path: "/k" }, {}, env)).toThrow(/not both/);
  });
});
