/**
 * `gait mcp serve --key-mode prod` refuses a published demo/test key (src/infra/shipped-keys.ts) as its signing key
 * and as an approval verify key: exit 6, saying what the key is and how to make a real one. A fresh key starts.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { chmodSync, copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BASE_POLICY, cleanup, ROOT, startServer, tempDir, type Server } from "./harness.js";
import { Ed25519KeyPair } from "../../src/infra/keys.js";

const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    await s.stop();
    cleanup(s.dir);
  }
});

describe("serve refuses published keys in prod mode", () => {
  it("as the signing key (file or environment variable), and as the approval public key", async () => {
    const dir = tempDir();
    copyFileSync(join(ROOT, "test/fixtures/published-key/gait_private.key"), join(dir, "k.key"));
    chmodSync(join(dir, "k.key"), 0o600);
    const file = await startServer({ policy: BASE_POLICY, dir, extraArgs: ["--key-mode", "prod", "--private-key", join(dir, "k.key")], expectFailure: true });
    expect(file.child.exitCode).toBe(6);
    expect(file.stderr()).toContain("is a published demo/test key (gait-gate: test/fixtures/published-key/gait_private.key)");
    expect(file.stderr()).toContain("gait keys init");
    cleanup(dir);

    const envKey = await startServer({
      policy: BASE_POLICY,
      extraArgs: ["--key-mode", "prod", "--private-key-env", "GATE_KEY"],
      env: { GATE_KEY: seven() },
      expectFailure: true,
    });
    expect(envKey.child.exitCode).toBe(6);
    expect(envKey.stderr()).toContain("signing key env:GATE_KEY");
    expect(envKey.stderr()).toContain("seed of 32 bytes 0x07");
    cleanup(envKey.dir);

    const good = Ed25519KeyPair.generate();
    const d2 = tempDir();
    writeFileSync(join(d2, "good.key"), good.privateKeyText(), { mode: 0o600 });
    const approval = await startServer({
      policy: BASE_POLICY,
      dir: d2,
      extraArgs: ["--key-mode", "prod", "--private-key", join(d2, "good.key"), "--approval-public-key", join(ROOT, "test/fixtures/published-key/gait_public.key")],
      expectFailure: true,
    });
    expect(approval.child.exitCode).toBe(6);
    expect(approval.stderr()).toContain("approval public key");
    expect(approval.stderr()).toContain("is a published demo/test key");

    const ok = await startServer({ policy: BASE_POLICY, dir: d2, extraArgs: ["--key-mode", "prod", "--private-key", join(d2, "good.key")] });
    servers.push(ok);
    expect((await ok.gate.getServerInfo({})).keyId).toBe(good.keyId);
  });
});

/** The private key text of the seed 0x07 x 32 that a client test publishes. */
function seven(): string {
  const seed = Buffer.alloc(32, 7);
  const priv = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]), format: "der", type: "pkcs8" });
  const pub = createPublicKey(priv).export({ format: "der", type: "spki" }).subarray(12);
  return Buffer.concat([seed, pub]).toString("base64");
}
