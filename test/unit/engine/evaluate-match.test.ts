import { describe, expect, it } from "vitest";
import { compileDomainPattern, compilePathPattern, goGlobToRegExp, sanitizeRuleName } from "../../../src/engine/match.js";

describe("Go path.Match globs used by endpoint patterns", () => {
  const cases: Array<[string, string, boolean]> = [
    ["/repo/*.txt", "/repo/a.txt", true],
    ["/repo/*.txt", "/repo/sub/a.txt", false], // * does not cross /
    ["/repo/?.txt", "/repo/a.txt", true],
    ["/repo/?.txt", "/repo/ab.txt", false],
    ["/repo/[abc].md", "/repo/b.md", true],
    ["/repo/[^abc].md", "/repo/b.md", false],
    ["/repo/[a-c]x", "/repo/bx", true],
    ["/repo/[a-c]x", "/repo/dx", false],
    ["/repo/\\*", "/repo/*", true],
    ["/repo/\\*", "/repo/a", false],
    ["/a.b", "/aXb", false], // regex metacharacters are literal
    ["/tmp/(x)+", "/tmp/(x)+", true],
  ];
  for (const [pattern, value, want] of cases) {
    it(`${pattern} ~ ${value} => ${want}`, () => {
      expect(compilePathPattern(pattern)(value)).toBe(want);
    });
  }

  it("treats malformed patterns as never matching as a glob (Go ErrBadPattern)", () => {
    expect(goGlobToRegExp("/repo/[abc")).toBeNull();
    expect(goGlobToRegExp("/repo/[]")).toBeNull();
    expect(goGlobToRegExp("/repo/\\")).toBeNull();
    expect(goGlobToRegExp("/repo/[z-a]")).toBeNull();
    expect(compilePathPattern("/repo/[abc")("/repo/a")).toBe(false);
    expect(compilePathPattern("/repo/[abc")("/repo/[abc")).toBe(true); // exact match still counts
  });

  it("prefix/** covers the prefix and its descendants only", () => {
    const m = compilePathPattern("/etc/**");
    expect(m("/etc")).toBe(true);
    expect(m("/etc/ssh/sshd_config")).toBe(true);
    expect(m("/etcetera")).toBe(false);
  });

  it("domain patterns: exact, *.suffix (not the apex), glob", () => {
    const wild = compileDomainPattern("*.Example.com");
    expect(wild("api.example.com")).toBe(true);
    expect(wild("a.b.example.com")).toBe(true);
    expect(wild("example.com")).toBe(false);
    expect(compileDomainPattern("api-?.example.com")("api-1.example.com")).toBe(true);
    expect(compileDomainPattern("")("")).toBe(false);
  });
});

describe("sanitizeRuleName", () => {
  it("lowercases and maps spaces and dashes to underscores", () => {
    // names reach it trimmed (policy normalization); Gait's sanitizeName itself does not trim
    expect(sanitizeRuleName("Block Prod-Deploys")).toBe("block_prod_deploys");
  });

  it("escapes like Go's json.Marshal (issue 9 #5): HTML characters, controls, backslash, U+2028", () => {
    expect(sanitizeRuleName("A<b>&c")).toBe("a\\u003cb\\u003e\\u0026c");
    expect(sanitizeRuleName("a\tb\\c\u2028\u0001\b\f")).toBe("a\\tb\\\\c\\u2028\\u0001\\b\\f");
    expect(sanitizeRuleName('"quoted"')).toBe("\\\"quoted\\"); // strings.Trim eats the JSON quotes and the escaped ones
    expect(sanitizeRuleName("ÄÖ")).toBe("äö"); // non-ASCII is not escaped, then lower-cased
    expect(sanitizeRuleName("")).toBe("rule");
  });
});
