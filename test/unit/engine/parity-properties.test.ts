/**
 * Differential properties of our own (issue 9): invariants that must hold for Gait compatibility and can be stated
 * without running Gait. Seeded, so a failure reproduces; fast-check prints the shrunk counterexample.
 *
 * - JCS: our two canonicalizers agree with a reference written from RFC 8785 (keys sorted by UTF-16 code units,
 *   ECMAScript serialization of strings and numbers) and are idempotent through a parse.
 * - Digests: key order and JSON spacing never change an intent's or a policy's digest, nor the verdict.
 * - Unicode: like Go, no normalization form is applied (NFC and NFD text differ), lone surrogates are U+FFFD (Go's
 *   decoder), UTF-8 bytes decode as Go's utf8.DecodeRune loop does, and ASCII case / Go white space around a tool
 *   name do not matter.
 * - YAML scalars: every written form of an integer that goccy/go-yaml (Gait's YAML library) resolves to n resolves
 *   to n here too or is refused, never to another value; its table (token.toNumber) is restated here.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jcs } from "../../../src/engine/canon.js";
import { evaluatePolicy } from "../../../src/engine/evaluate.js";
import { jcsFast, normalizeIntent } from "../../../src/engine/intent.js";
import { parsePolicy } from "../../../src/engine/policy.js";
import { decodeUtf8Go } from "../../../src/engine/utf8.js";
import { PolicyScalar, readBoolScalar, readIntScalar, readStrScalar } from "../../../src/engine/yaml-scalars.js";

const RUNS = { seed: 0x6a17, numRuns: 300 } as const;
const NOW = new Date("2026-01-15T12:00:00Z");

// ---- helpers ---------------------------------------------------------------------------------------------------

/** RFC 8785 written out plainly: sorted keys (UTF-16 code units), JSON.stringify for strings and numbers. */
function jcsReference(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(jcsReference).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${jcsReference((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** The same JSON value with every object's keys in another order (a seeded Fisher-Yates per object). */
function reorder(v: unknown, seed: number): unknown {
  let s = seed >>> 0 || 1;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  const walk = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(walk);
    if (x === null || typeof x !== "object") return x;
    const keys = Object.keys(x);
    for (let i = keys.length - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [keys[i], keys[j]] = [keys[j]!, keys[i]!];
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) Object.defineProperty(out, k, { value: walk((x as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
    return out;
  };
  return walk(v);
}

const keyArb = fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k.trim() !== "" && k !== "__proto__");
const jsonArb = fc.jsonValue({ maxDepth: 3 });
const argsArb = fc.dictionary(keyArb, jsonArb, { maxKeys: 5 });
const toolArb = fc.constantFrom("tool.read", "tool.write", "tool.delete", "fs.list_dir", "net.fetch", "tool.exec_shell");
const targetArb = fc.record({
  kind: fc.constantFrom("path", "host", "url", "other"),
  value: fc.constantFrom("/repo/a.txt", "example.com", "https://api.example.com/v1", "cmd", "/tmp/x"),
  operation: fc.constantFrom("read", "write", "delete", "", "exec", "get"),
});
const intentArb = fc.record({
  tool_name: toolArb,
  args: argsArb,
  targets: fc.array(targetArb, { maxLength: 3 }),
  context: fc.record({
    identity: fc.constantFrom("alice", "bob"),
    workspace: fc.constantFrom("/repo", "/srv/app"),
    risk_class: fc.constantFrom("low", "medium", "high"),
    session_id: fc.constantFrom("s-1", ""),
  }),
});
const POLICY = parsePolicy(`default_verdict: require_approval
rules:
  - {name: allow-read, priority: 10, effect: allow, match: {tool_names: [tool.read, fs.list_dir]}}
  - {name: block-delete, priority: 20, effect: block, match: {endpoint_classes: [fs.delete]}}
  - {name: approve-high, priority: 30, effect: require_approval, match: {risk_classes: [high]}}
`);

// ---- JCS ------------------------------------------------------------------------------------------------------

describe("JCS (RFC 8785)", () => {
  it("jcs and jcsFast agree with the reference for any JSON value", () => {
    fc.assert(
      fc.property(jsonArb, (v) => {
        const want = jcsReference(v);
        expect(jcs(v)).toBe(want);
        expect(jcsFast(v)).toBe(want);
      }),
      RUNS,
    );
  });

  it("round-trips: canonical text parses back to a value with the same canonical text", () => {
    fc.assert(
      fc.property(jsonArb, (v) => {
        const text = jcs(v);
        expect(jcs(JSON.parse(text))).toBe(text);
      }),
      RUNS,
    );
  });
});

// ---- digests and decisions --------------------------------------------------------------------------------------

describe("digests and decisions do not depend on key order or JSON spacing", () => {
  it("intent_digest, args_digest and the verdict are stable under key reordering and re-serialization", () => {
    fc.assert(
      fc.property(intentArb, fc.integer(), (raw, seed) => {
        const shuffled = reorder(raw, seed);
        const reparsed = JSON.parse(JSON.stringify(shuffled, null, seed % 3)) as unknown;
        const attempt = (v: unknown) => {
          try {
            return normalizeIntent(v);
          } catch (e) {
            return e as Error;
          }
        };
        const a = attempt(raw);
        const b = attempt(reparsed);
        if (a instanceof Error || b instanceof Error) {
          // an input error (e.g. an empty key inside args, refused as by Gait) is refused whatever the key order
          expect(b instanceof Error && a instanceof Error && b.name === a.name).toBe(true);
          return;
        }
        expect(b.intent_digest).toBe(a.intent_digest);
        expect(b.args_digest).toBe(a.args_digest);
        expect(evaluatePolicy(POLICY, shuffled, { evaluationTime: NOW }).verdict).toBe(
          evaluatePolicy(POLICY, raw, { evaluationTime: NOW }).verdict,
        );
      }),
      RUNS,
    );
  });

  it("policy_digest is stable under the order of mapping keys in the YAML", () => {
    const ruleArb = fc.record({
      name: fc.constantFrom("r-a", "r-b", "r-c"),
      priority: fc.integer({ min: -5, max: 50 }),
      effect: fc.constantFrom("allow", "block", "require_approval"),
      tool_names: fc.uniqueArray(toolArb, { minLength: 1, maxLength: 3 }),
    });
    const policyArb = fc.record({
      default_verdict: fc.constantFrom("allow", "block", "require_approval"),
      rules: fc.uniqueArray(ruleArb, { maxLength: 3, selector: (r) => r.name }),
    });
    const yaml = (p: { default_verdict: string; rules: { name: string; priority: number; effect: string; tool_names: string[] }[] }, seed: number) =>
      JSON.stringify(reorder({ default_verdict: p.default_verdict, rules: p.rules.map((r) => ({ name: r.name, priority: r.priority, effect: r.effect, match: { tool_names: r.tool_names } })) }, seed));
    fc.assert(
      fc.property(policyArb, fc.integer(), fc.integer(), (p, s1, s2) => {
        // JSON is YAML: the same policy with its keys in two random orders
        expect(parsePolicy(yaml(p, s1)).policy_digest).toBe(parsePolicy(yaml(p, s2)).policy_digest);
      }),
      RUNS,
    );
  });
});

// ---- Unicode ------------------------------------------------------------------------------------------------------

describe("Unicode, as Go handles it", () => {
  const composed = fc.constantFrom("é", "ñ", "Å", "ö", "ǅ", "ḱ", "ệ");
  const asciiArb = fc.string({ maxLength: 6 });

  it("applies no normalization form: NFC and NFD spellings of the same text give different args digests", () => {
    fc.assert(
      fc.property(asciiArb, composed, asciiArb, (a, c, b) => {
        const nfc = `${a}${c}${b}`.normalize("NFC");
        const nfd = nfc.normalize("NFD");
        fc.pre(nfc !== nfd);
        const base = { tool_name: "tool.read", context: { identity: "alice", workspace: "/repo", risk_class: "low" } };
        expect(normalizeIntent({ ...base, args: { v: nfc } }).args_digest).not.toBe(normalizeIntent({ ...base, args: { v: nfd } }).args_digest);
      }),
      RUNS,
    );
  });

  it("reads a lone surrogate as U+FFFD (Go's JSON decoder)", () => {
    fc.assert(
      fc.property(asciiArb, fc.integer({ min: 0xd800, max: 0xdfff }), asciiArb, (a, unit, b) => {
        const base = { tool_name: "tool.read", context: { identity: "alice", workspace: "/repo", risk_class: "low" } };
        const lone = normalizeIntent({ ...base, args: { v: `${a}${String.fromCharCode(unit)}${b}` } });
        const repaired = normalizeIntent({ ...base, args: { v: `${a}\uFFFD${b}` } });
        expect(lone.args_digest).toBe(repaired.args_digest);
      }),
      RUNS,
    );
  });

  it("decodes valid UTF-8 exactly and writes one U+FFFD per byte that starts no valid sequence", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 12 }), (s) => {
        const wellFormed = (s as unknown as { toWellFormed(): string }).toWellFormed();
        expect(decodeUtf8Go(new TextEncoder().encode(wellFormed))).toBe(wellFormed);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 16 }), (bytes) => {
        const out = decodeUtf8Go(bytes);
        const replacements = [...out].filter((c) => c === "\uFFFD").length - countOriginalFffd(bytes);
        // every replacement stands for exactly one input byte (1 byte -> 3 bytes re-encoded), valid text is kept
        expect(new TextEncoder().encode(out).length).toBe(bytes.length + 2 * replacements);
        // and Go never merges bytes, so it replaces at least as often as the WHATWG (maximal subpart) rule
        const whatwg = [...new TextDecoder().decode(bytes)].filter((c) => c === "\uFFFD").length - countOriginalFffd(bytes);
        expect(replacements).toBeGreaterThanOrEqual(whatwg);
      }),
      RUNS,
    );
  });

  it("tool names: ASCII case and Go white space around them do not change the digest", () => {
    fc.assert(
      fc.property(fc.mixedCase(toolArb), fc.constantFrom("", " ", "\t", "\n", "\u00a0", "\u2003"), (name, pad) => {
        const base = { args: {}, context: { identity: "alice", workspace: "/repo", risk_class: "low" } };
        expect(normalizeIntent({ ...base, tool_name: `${pad}${name}${pad}` }).intent_digest).toBe(
          normalizeIntent({ ...base, tool_name: name.toLowerCase() }).intent_digest,
        );
      }),
      RUNS,
    );
  });
});

/** U+FFFD already present in the input (EF BF BD), which both decoders keep. */
function countOriginalFffd(bytes: Uint8Array): number {
  let n = 0;
  for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xef && bytes[i + 1] === 0xbf && bytes[i + 2] === 0xbd) n++;
  return n;
}

// ---- YAML scalar resolution ---------------------------------------------------------------------------------------

/**
 * goccy/go-yaml's plain-scalar integer forms of n (token.toNumber): optional sign, `_` anywhere after the first
 * character, and the 0x / 0o / 0b prefixes. Leading-zero decimal forms (YAML 1.1 octal) are generated separately.
 */
const intFormArb = fc
  .record({
    n: fc.integer({ min: -1_000_000, max: 1_000_000 }),
    base: fc.constantFrom(10, 16, 8, 2),
    plus: fc.boolean(),
    underscores: fc.array(fc.nat(), { maxLength: 3 }),
    upperHex: fc.boolean(),
  })
  .map(({ n, base, plus, underscores, upperHex }) => {
    let digits = Math.abs(n).toString(base);
    if (upperHex) digits = digits.toUpperCase();
    for (const u of underscores) {
      const at = 1 + (u % Math.max(1, digits.length));
      if (at < digits.length) digits = `${digits.slice(0, at)}_${digits.slice(at)}`;
    }
    const prefix = base === 16 ? "0x" : base === 8 ? "0o" : base === 2 ? "0b" : "";
    const sign = n < 0 ? "-" : plus ? "+" : "";
    return { n, text: `${sign}${prefix}${digits}` };
  });

describe("YAML scalars in policies (goccy/go-yaml resolution, refusing where it rewrites)", () => {
  it("every integer form goccy reads as n is read as n, in a scalar and through parsePolicy", () => {
    fc.assert(
      fc.property(intFormArb, ({ n, text }) => {
        const r = readIntScalar(new PolicyScalar("plain", text));
        expect(r).toEqual({ ok: true, value: n === 0 ? 0 : n });
        const p = parsePolicy(`rules:\n  - {name: r, effect: allow, priority: ${text}}\n`);
        expect(p.rules[0]!.priority).toBe(n === 0 ? 0 : n);
        expect(p.policy_digest).toBe(parsePolicy(`rules:\n  - {name: r, effect: allow, priority: ${n}}\n`).policy_digest);
      }),
      RUNS,
    );
  });

  it("a leading-zero integer (YAML 1.1 octal for goccy) is always refused, never read as decimal or octal", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[+-]?0[0-9_]{1,6}$/), (text) => {
        expect(readIntScalar(new PolicyScalar("plain", text)).ok).toBe(false);
        expect(() => parsePolicy(`rules:\n  - {name: r, effect: allow, priority: ${text}}\n`)).toThrow(/leading zero|ambiguous/);
      }),
      RUNS,
    );
  });

  it("a number with a fraction is refused in an integer field; a whole float is its integer", () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 100_000 }), fc.integer({ min: 1, max: 999 }), (whole, frac) => {
        const fraction = `${whole}.${String(frac).padStart(3, "0").replace(/0+$/, "")}`;
        expect(readIntScalar(new PolicyScalar("plain", fraction)).ok).toBe(false);
        expect(readIntScalar(new PolicyScalar("plain", `${whole}.0`))).toEqual({ ok: true, value: whole === 0 ? 0 : whole });
      }),
      RUNS,
    );
  });

  it("a string field keeps any text goccy keeps and refuses text goccy would rewrite", () => {
    fc.assert(
      fc.property(fc.oneof(intFormArb.map((f) => f.text), fc.integer().map(String), fc.stringMatching(/^[a-z][a-z0-9._-]{0,10}$/)), (text) => {
        const r = readStrScalar(new PolicyScalar("plain", text));
        if (r.ok) expect(r.value).toBe(text); // never a rewritten value
        const canonicalDecimal = /^-?(0|[1-9][0-9]*)$/.test(text) && text !== "-0";
        const numberLike = /^[+-]?(0x|0o|0b)?[0-9a-fA-F_]+$/.test(text) && /[0-9]/.test(text[0] === "-" || text[0] === "+" ? text.slice(1, 2) : text[0]!);
        if (canonicalDecimal) expect(r.ok).toBe(true);
        else if (numberLike && !r.ok) expect(r.problem).toMatch(/quote it/);
        // quoting always keeps the text
        expect(readStrScalar(new PolicyScalar("quoted", text))).toEqual({ ok: true, value: text });
      }),
      RUNS,
    );
  });

  it("booleans: exactly the six YAML 1.2 keywords, unquoted", () => {
    fc.assert(
      fc.property(fc.mixedCase(fc.constantFrom("true", "false", "yes", "no", "on", "off", "y", "n")), (text) => {
        const r = readBoolScalar(new PolicyScalar("plain", text));
        const keyword = ["true", "True", "TRUE", "false", "False", "FALSE"].includes(text);
        expect(r.ok).toBe(keyword);
        if (r.ok) expect(r.value).toBe(text.toLowerCase() === "true");
        expect(readBoolScalar(new PolicyScalar("quoted", text)).ok).toBe(false);
      }),
      RUNS,
    );
  });
});
