/**
 * Mutation fuzzing (fast-check) of every input the gate parses, seeded from the portable conformance cases: intent
 * JSON, every adapter's tool-call payloads, policy YAML, and HTTP /v1/evaluate bodies against the real server.
 * Properties: an input is either decided or refused as an input error (never a crash, never another error type);
 * digests do not depend on member order; over HTTP no input earns a 5xx; counts are reported for make fuzz.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { evaluateGate } from "../../src/engine/gate.js";
import { decodeToolCall } from "../../src/engine/adapters.js";
import { normalizeIntent } from "../../src/engine/intent.js";
import { parsePolicy } from "../../src/engine/policy.js";
import type { GateResult, Policy } from "../../src/engine/types.js";
import { MemoryCounterStore } from "../../src/state/counters-memory.js";
import { loadCaseFiles } from "../conformance/load.js";
import { cleanup, startServer, type Server } from "../integration/harness.js";
import { runs } from "./oracle.js";
import { report } from "./report.js";

type J = null | boolean | number | string | J[] | { [k: string]: J };

const files = loadCaseFiles();
const intents: J[] = [];
const calls: { adapter: string; payload: J }[] = [];
const policies: string[] = [];
for (const f of files) {
  for (const c of f.cases) {
    if (c.policy && !policies.includes(c.policy)) policies.push(c.policy); // the file's policy is merged into each case
    if (c.intent !== undefined) intents.push(c.intent as J);
    if (c.tool_call) calls.push({ adapter: c.tool_call.adapter, payload: c.tool_call.payload as J });
  }
}
const POLICY = parsePolicy(policies.find((p) => p.includes("rules:")) ?? "default_verdict: block\n");
/** Half of the cases run under an allow-by-default policy, so the allow path is fuzzed too. */
const ALLOW_ALL = parsePolicy("default_verdict: allow\n");

/** Input errors the engine may raise for bad input (by name: survives module copies). */
const INPUT_ERRORS = new Set(["IntentError", "PolicyError"]);

const KEYS = ["__proto__", "constructor", "prototype", "tool_name", "args", "targets", "context", "script", "steps", "name", "arguments", "input", "kind", "value", "operation", "identity", "risk_class", "delegation", "chain", ""];

/** A mutation of `v`: replace, delete or add members, change types, nest deeper, at a random path. */
function mutate(v: J, rnd: () => number, depth = 0): J {
  const r = rnd();
  const leaf = (): J => {
    const k = Math.floor(rnd() * 9);
    return [null, true, 0, -1.5, 1e308, "", "x".repeat(Math.floor(rnd() * 40)), "\u0000\ud800", [], {}][k] ?? "y";
  };
  if (depth > 6 || v === null || typeof v !== "object") return r < 0.5 ? leaf() : r < 0.6 ? [v] : r < 0.7 ? { v } : r < 0.8 ? JSON.stringify(v) : v;
  if (Array.isArray(v)) {
    const a = [...v];
    if (a.length && r < 0.5) a[Math.floor(rnd() * a.length)] = mutate(a[Math.floor(rnd() * a.length)] as J, rnd, depth + 1);
    else if (r < 0.7) a.push(leaf());
    else if (a.length) a.splice(Math.floor(rnd() * a.length), 1);
    return a;
  }
  const o: { [k: string]: J } = {};
  for (const k of Object.keys(v)) Object.defineProperty(o, k, { value: v[k], enumerable: true, writable: true, configurable: true });
  const keys = Object.keys(o);
  if (keys.length && r < 0.55) {
    const k = keys[Math.floor(rnd() * keys.length)]!;
    o[k] = mutate(o[k] as J, rnd, depth + 1);
  } else if (r < 0.8) {
    Object.defineProperty(o, KEYS[Math.floor(rnd() * KEYS.length)]!, { value: leaf(), enumerable: true, writable: true, configurable: true });
  } else if (keys.length) delete o[keys[Math.floor(rnd() * keys.length)]!];
  return o;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Deep copy with every object's members in reverse order (JSON round trip keeps own `__proto__` members). */
function reorder(v: unknown): unknown {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(reorder);
  const o = {};
  for (const k of Object.keys(v).reverse()) Object.defineProperty(o, k, { value: reorder((v as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
  return o;
}

async function decide(policy: Policy, raw: unknown): Promise<{ result?: GateResult; error?: string }> {
  try {
    return { result: await evaluateGate(policy, raw, { now: new Date("2026-01-15T12:00:00Z"), counters: new MemoryCounterStore() }) };
  } catch (e) {
    return { error: (e as Error).name };
  }
}

describe("mutation fuzzing of inputs", () => {
  it("intent JSON: decided or an input error; digests independent of member order", async () => {
    const seeds = fc.sample(fc.tuple(fc.nat({ max: intents.length - 1 }), fc.nat(), fc.integer({ min: 1, max: 4 })), { numRuns: runs(3000), seed: 11 });
    const counts = { cases: 0, decided: 0, allows: 0, input_errors: 0, other_errors: 0, reorder_checked: 0 };
    for (const [i, seed, times] of seeds) {
      const rnd = rng(seed);
      let v: J = intents[i] as J;
      for (let t = 0; t < times; t++) v = mutate(v, rnd);
      counts.cases++;
      const out = await decide(seed % 2 ? POLICY : ALLOW_ALL, v);
      if (out.result) {
        counts.decided++;
        if (out.result.verdict === "allow") counts.allows++;
        if (!out.result.intent_invalid && out.result.intent_digest) {
          const again = normalizeIntent(reorder(v));
          expect(again.intent_digest).toBe(out.result.intent_digest);
          counts.reorder_checked++;
        }
      } else if (INPUT_ERRORS.has(out.error!)) counts.input_errors++;
      else {
        counts.other_errors++;
        expect.fail(`${out.error} on ${JSON.stringify(v).slice(0, 300)}`);
      }
    }
    report("fuzz-intents", counts);
    expect(counts.decided).toBeGreaterThan(0);
    expect(counts.input_errors).toBeGreaterThan(0);
  }, 120_000);

  it("every adapter's tool-call payloads: decoded and decided, or an input error", async () => {
    const seeds = fc.sample(fc.tuple(fc.nat({ max: calls.length - 1 }), fc.nat(), fc.integer({ min: 1, max: 4 })), { numRuns: runs(3000), seed: 12 });
    const counts: Record<string, number> = { cases: 0, decided: 0, input_errors: 0 };
    for (const [i, seed, times] of seeds) {
      const rnd = rng(seed);
      const seedCall = calls[i]!;
      let p: J = seedCall.payload;
      for (let t = 0; t < times; t++) p = mutate(p, rnd);
      counts.cases!++;
      const adapter = seedCall.adapter || "mcp";
      counts[`adapter_${adapter.trim().toLowerCase() || "mcp"}`] = (counts[`adapter_${adapter.trim().toLowerCase() || "mcp"}`] ?? 0) + 1;
      let raw: unknown;
      try {
        raw = decodeToolCall(adapter, rnd() < 0.2 ? JSON.stringify(p) : p).intent;
      } catch (e) {
        if (!INPUT_ERRORS.has((e as Error).name)) expect.fail(`${(e as Error).name}: ${(e as Error).message} on ${adapter} ${JSON.stringify(p).slice(0, 300)}`);
        counts.input_errors!++;
        continue;
      }
      const out = await decide(seed % 2 ? POLICY : ALLOW_ALL, raw);
      if (out.result) counts.decided!++;
      else if (INPUT_ERRORS.has(out.error!)) counts.input_errors!++;
      else expect.fail(`${out.error} on ${adapter} ${JSON.stringify(p).slice(0, 300)}`);
    }
    report("fuzz-adapter-payloads", counts);
    expect(counts.decided).toBeGreaterThan(0);
  }, 120_000);

  it("policy YAML: parsed or a policy error; a parsed policy decides every seed intent or refuses it as input", async () => {
    const mutations = [
      (t: string, r: () => number) => t.split("\n").filter(() => r() > 0.1).join("\n"), // lines dropped
      (t: string, r: () => number) => t.split("\n").flatMap((l) => (r() < 0.1 ? [l, l] : [l])).join("\n"), // lines doubled
      (t: string, r: () => number) => t.split("\n").map((l) => (r() < 0.1 ? " " + l : l)).join("\n"), // indentation
      (t: string, r: () => number) => {
        const i = Math.floor(r() * t.length);
        return t.slice(0, i) + ["{", "[", ":", "'", '"', "&a", "*a", "!!int ", "<<: ", "__proto__: ", "\t", "0x1", "~", "?"][Math.floor(r() * 14)] + t.slice(i);
      },
      (t: string, r: () => number) => t.slice(0, Math.floor(r() * t.length)), // truncated (a half-written file)
      (t: string) => t.replace(/tool_names: \[/g, "tool_names: [__proto__, "),
    ];
    const seeds = fc.sample(fc.tuple(fc.nat({ max: policies.length - 1 }), fc.nat(), fc.nat({ max: mutations.length - 1 })), { numRuns: runs(1500), seed: 13 });
    const counts = { cases: 0, parsed: 0, policy_errors: 0, decisions: 0 };
    for (const [i, seed, m] of seeds) {
      const rnd = rng(seed);
      const text = mutations[m]!(policies[i]!, rnd);
      counts.cases++;
      let p: Policy;
      try {
        p = parsePolicy(text);
      } catch (e) {
        if ((e as Error).name !== "PolicyError") expect.fail(`${(e as Error).name}: ${(e as Error).message} on ${JSON.stringify(text).slice(0, 300)}`);
        counts.policy_errors++;
        continue;
      }
      counts.parsed++;
      for (const raw of intents.slice(0, 5)) {
        const out = await decide(p, raw);
        if (out.error && !INPUT_ERRORS.has(out.error)) expect.fail(`${out.error} deciding under ${JSON.stringify(text).slice(0, 300)}`);
        counts.decisions++;
      }
    }
    report("fuzz-policy-yaml", counts);
    expect(counts.parsed).toBeGreaterThan(0);
    expect(counts.policy_errors).toBeGreaterThan(0);
  }, 120_000);
});

describe("HTTP /v1/evaluate bodies (real server)", () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer({ policy: "default_verdict: block\nrules:\n  - name: allow-read\n    effect: allow\n    match: {tool_names: [tool.read, tool.search]}\n", http: true, extraArgs: ["--max-in-flight", "1024"] });
  });
  afterAll(async () => {
    await s?.stop();
    if (s) cleanup(s.dir);
  });

  it("mutated and garbage bodies: 200 with a verdict or a 4xx, never a 5xx", async () => {
    const n = runs(600);
    const seeds = fc.sample(fc.tuple(fc.nat({ max: calls.length - 1 }), fc.nat(), fc.nat({ max: 9 })), { numRuns: n, seed: 14 });
    const statuses: Record<string, number> = {};
    let allows = 0;
    for (const [i, seed, kind] of seeds) {
      const rnd = rng(seed);
      const c = calls[i]!;
      let body: string;
      if (kind === 0) body = Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256))).toString("latin1"); // garbage
      else if (kind === 1) body = JSON.stringify({ adapter: c.adapter, call: c.payload }).slice(0, Math.floor(rnd() * 100)); // truncated
      else body = JSON.stringify(mutate({ adapter: c.adapter, call: c.payload } as J, rnd));
      const res = await fetch(`http://127.0.0.1:${s.httpPort}/v1/evaluate`, { method: "POST", headers: { "content-type": "application/json" }, body });
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      const text = await res.text();
      expect(res.status, `${body.slice(0, 200)} -> ${text.slice(0, 200)}`).toBeLessThan(500);
      if (res.status === 200 && (JSON.parse(text) as { verdict?: string }).verdict === "allow") allows++;
    }
    report("fuzz-http-bodies", { bodies: n, allows, statuses: JSON.stringify(statuses) });
  }, 180_000);
});
