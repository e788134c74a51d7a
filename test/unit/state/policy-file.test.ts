import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkProfile } from "../../../src/engine/gate.js";
import { PolicyHolder } from "../../../src/state/policy-file.js";

const GOOD = "default_verdict: block\nrules:\n  - name: allow-read\n    effect: allow\n    match: {tool_names: [tool.read]}\n";
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
function policyFile(text: string): string {
  const d = mkdtempSync(join(tmpdir(), "gait-holder-"));
  dirs.push(d);
  const p = join(d, "policy.yaml");
  writeFileSync(p, text);
  return p;
}

describe("PolicyHolder reload keeps the last good policy", () => {
  it("refuses a blank file on reload (a truncated or half-written policy), keeping the last good one", () => {
    const path = policyFile(GOOD);
    const h = new PolicyHolder(path);
    const before = h.current.digest;
    writeFileSync(path, "  \n");
    const out = h.reload();
    expect(out.ok).toBe(false);
    expect(out.ok ? "" : out.error).toMatch(/is empty/);
    expect(h.current.digest).toBe(before);
    expect(h.reloadError).toMatch(/is empty/);
  });

  it("runs the profile check on reload: an oss-prod violation is refused and the last good policy stays", () => {
    const path = policyFile(GOOD);
    const check = (p: Parameters<typeof checkProfile>[0]) => checkProfile(p, { profile: "oss-prod", broker: undefined });
    const h = new PolicyHolder(path, undefined, check);
    const before = h.current.digest;
    writeFileSync(path, "default_verdict: allow\n"); // oss-prod rejects default allow
    const out = h.reload();
    expect(out.ok).toBe(false);
    expect(out.ok ? "" : out.error).toMatch(/not acceptable/);
    expect(h.current.digest).toBe(before);
  });

  it("refuses to start on a policy the profile check rejects", () => {
    const path = policyFile("default_verdict: allow\n");
    const check = (p: Parameters<typeof checkProfile>[0]) => checkProfile(p, { profile: "oss-prod", broker: undefined });
    expect(() => new PolicyHolder(path, undefined, check)).toThrow(/not acceptable/);
  });

  it("a good reload replaces the policy and clears the error", () => {
    const path = policyFile(GOOD);
    const h = new PolicyHolder(path);
    writeFileSync(path, "");
    expect(h.reload().ok).toBe(false);
    writeFileSync(path, GOOD.replace("allow-read", "allow-read-2"));
    const out = h.reload();
    expect(out.ok && out.changed).toBe(true);
    expect(h.reloadError).toBeUndefined();
  });
});
