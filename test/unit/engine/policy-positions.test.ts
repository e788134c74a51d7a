import { describe, expect, it } from "vitest";
import { parsePolicy, PolicyValidationError, type PolicyIssue } from "../../../src/engine/policy.js";
import { closestMatch, didYouMean, editDistance } from "../../../src/engine/suggest.js";

function issues(yaml: string): PolicyIssue[] {
  try {
    parsePolicy(yaml);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyValidationError);
    return [...(e as PolicyValidationError).issues];
  }
  throw new Error("expected the policy to be rejected");
}

/** Line and column of the first occurrence of `needle` in `text` (1-based), to state expectations readably. */
function posOf(text: string, needle: string, nth = 0): { line: number; column: number } {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = text.indexOf(needle, at + 1);
  if (at < 0) throw new Error(`${needle} not in text`);
  const before = text.slice(0, at).split("\n");
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}

describe("suggestions", () => {
  it("edit distance counts a swap of adjacent letters as one edit", () => {
    expect(editDistance("tool_nmae", "tool_name")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  it("suggests the closest known key, folding case and separators", () => {
    const keys = ["tool_name", "tool_names", "risk_classes", "identities"];
    expect(closestMatch("tool_nmae", keys)).toBe("tool_name");
    expect(closestMatch("toolName", keys)).toBe("tool_name");
    expect(closestMatch("Tool_Names", keys)).toBe("tool_names");
    expect(closestMatch("risk_class", keys)).toBe("risk_classes");
    expect(didYouMean("identites", keys)).toBe(' (did you mean "identities"?)');
  });

  it("suggests nothing when no key is plausibly meant", () => {
    expect(closestMatch("zzz", ["tool_name", "args"])).toBeUndefined();
    expect(closestMatch("colour_scheme", ["tool_name", "args"])).toBeUndefined();
    expect(closestMatch("", ["a"])).toBeUndefined();
    expect(didYouMean("zzz", ["tool_name"])).toBe("");
  });
});

describe("policy problems carry line, column and a suggestion", () => {
  it("an unknown key points at the key and suggests the closest known one", () => {
    const yaml = "rules:\n  - name: r\n    effect: allow\n    match:\n      tool_nmae: [x]\n";
    const [i] = issues(yaml);
    expect(i).toMatchObject({
      message: 'parse policy yaml: unknown field "rules[0].match.tool_nmae"',
      path: ["rules", 0, "match", "tool_nmae"],
      suggestion: "tool_name",
      ...posOf(yaml, "tool_nmae"),
    });
  });

  it("unknown keys at every level get suggestions from their own level", () => {
    const yaml = "defualt_verdict: allow\nfail_closed:\n  enabeld: true\nrules:\n  - name: r\n    efect: allow\n    rate_limit: {requets: 3}\n";
    const got = issues(yaml).map((i) => [i.path?.join("."), i.suggestion, i.line, i.column]);
    expect(got).toEqual([
      ["defualt_verdict", "default_verdict", 1, 1],
      ["fail_closed.enabeld", "enabled", 3, 3],
      ["rules.0.efect", "effect", 6, 5],
      ["rules.0.rate_limit.requets", "requests", 7, 18],
      // the rule has no effect at all (efect is unknown): reported at the rule
      ["rules.0", undefined, 5, 5],
    ]);
  });

  it("a key nothing resembles gets no suggestion, but still its position", () => {
    const yaml = "default_verdict: allow\ncompletely_unrelated: 1\n";
    const [i] = issues(yaml);
    expect(i!.suggestion).toBeUndefined();
    expect(i).toMatchObject({ line: 2, column: 1 });
  });

  it("a bad value points at the value and suggests a valid one", () => {
    const yaml = "default_verdict: alow\nrules:\n  - name: r\n    effect: requre_approval\n    match: {endpoint_classes: [fs.read, FS.Raed]}\n";
    expect(issues(yaml).map((i) => [i.message, i.suggestion, i.line, i.column])).toEqual([
      ["invalid default_verdict: alow", "allow", 1, 18],
      ['invalid rule effect "requre_approval" for r', "require_approval", 4, 13],
      // the list item itself, found by its normalized text
      ['unsupported match endpoint_class "fs.raed" for r', "fs.read", ...Object.values(posOf(yaml, "FS.Raed"))],
    ]);
  });

  it("type errors, constraint blocks and list items are located", () => {
    const yaml = [
      "rules:",
      "  - name: r",
      "    effect: block",
      "    priority: high",
      "    freeze_window:",
      "      timezone: UTC",
      "      windows: [{start: a}]",
      "    endpoint: {enabled: true, action: blok}",
      "    sandbox: {allowed_network_modes: [ful]}",
      "",
    ].join("\n");
    const got = issues(yaml).map((i) => [i.path?.join("."), i.suggestion, i.line]);
    expect(got).toEqual([
      ["rules.0.priority", undefined, 4],
      ["rules.0.freeze_window.windows.0", undefined, 7],
      ["rules.0.sandbox.allowed_network_modes", "full", 9],
      ["rules.0.endpoint.action", "block", 8],
    ]);
  });

  it("YAML syntax errors and duplicate keys carry the parser's position", () => {
    const dup = "rules:\n  - name: a\n    name: b\n    effect: allow\n";
    expect(issues(dup)[0]).toMatchObject({ message: expect.stringContaining("unique"), ...posOf(dup, "name: b") });
    const broken = "rules: [a, b\n";
    expect(issues(broken)[0]!.line).toBeGreaterThanOrEqual(1);
  });

  it("a value that came in through a merge key is reported at the closest written ancestor", () => {
    const yaml = "base: &b {effect: alow}\n".replace("base", "x-base");
    // x-base is itself unknown; the rule's merged effect has no node of its own under rules[0]
    const withRule = `${yaml}rules:\n  - name: r\n    <<: *b\n`;
    const got = issues(withRule);
    const effect = got.find((i) => i.message.startsWith("invalid rule effect"))!;
    expect(effect.suggestion).toBe("allow");
    expect(effect.line).toBe(3); // the rule (rules[0]) that holds the merge
  });

  it("the message lists every issue with suggestion and position; problems keep the bare texts", () => {
    try {
      parsePolicy("defualt_verdict: allow\n");
      throw new Error("not rejected");
    } catch (e) {
      const err = e as PolicyValidationError;
      expect(err.message).toBe('parse policy yaml: unknown field "defualt_verdict" (did you mean "default_verdict"?) at line 1, column 1');
      expect(err.problems).toEqual(['parse policy yaml: unknown field "defualt_verdict"']);
    }
  });
});
