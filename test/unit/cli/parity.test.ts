/**
 * CLI behaviour settled against Gait's source for issue 9 ("Gait parity on the last mile"). Each test names the
 * item and the Gait fact; docs/compatibility.md lists the differences we keep on purpose.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { intent, POLICY, run, tempDir, write } from "./helpers.js";

const PROD = ["--key-mode", "prod", "--private-key", "gait-out/keys/gait_private.key"];

let dir: string;
beforeAll(async () => {
  dir = tempDir();
  write(dir, "p.yaml", POLICY);
  const k = await run(dir, ["keys", "init"]);
  expect(k.code).toBe(0);
});

async function evalJson(file: string, extra: string[] = []) {
  return run(dir, ["gate", "eval", "--policy", "p.yaml", "--intent", file, ...PROD, "--json", ...extra]);
}

describe("item 3: invalid UTF-8 in an intent file is repaired with Go's rule", () => {
  it("E2 82 41 becomes two U+FFFD (Go utf8.DecodeRune), not one (WHATWG)", async () => {
    const body = JSON.stringify(intent("tool.read", "read", { args: { note: "x@@" } }));
    const [before, after] = body.split("@@") as [string, string];
    const raw = Buffer.concat([Buffer.from(before), Buffer.from([0xe2, 0x82, 0x41]), Buffer.from(after)]);
    writeFileSync(join(dir, "bad-utf8.json"), raw);
    write(dir, "go-repaired.json", intent("tool.read", "read", { args: { note: "x\uFFFD\uFFFDA" } }));
    write(dir, "whatwg-repaired.json", intent("tool.read", "read", { args: { note: "x\uFFFDA" } }));
    const [bad, go, whatwg] = [await evalJson("bad-utf8.json"), await evalJson("go-repaired.json"), await evalJson("whatwg-repaired.json")];
    expect(bad.code).toBe(0);
    expect(bad.json.intent_digest).toBe(go.json.intent_digest);
    expect(bad.json.intent_digest).not.toBe(whatwg.json.intent_digest);
  });

  it("bytes that are invalid outside a string are still a JSON error (exit 6)", async () => {
    writeFileSync(join(dir, "bad-syntax.json"), Buffer.from([0x7b, 0xff, 0x7d]));
    const r = await evalJson("bad-syntax.json");
    expect(r.code).toBe(6);
  });
});
