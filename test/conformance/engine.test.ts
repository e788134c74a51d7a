/**
 * Runs every portable conformance case (`cases/*.yaml`) directly through the engine: parsePolicy ->
 * (decodeToolCall) -> evaluateGate, with tokens minted at run time by a throwaway test key (runner.ts). It also
 * checks the coverage claims of the suite: every reason code in `reason-codes.txt` and every adapter in
 * `adapters.txt` must be asserted by at least one case.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stubBroker } from "../../src/engine/broker.js";
import { evaluateGate } from "../../src/engine/gate.js";
import { parsePolicy } from "../../src/engine/policy.js";
import type { GateOptions, GateResult, Policy, VerifiedContextEnvelope } from "../../src/engine/types.js";
import { MemoryCounterStore } from "../../src/state/counters-memory.js";
import { CASES_DIR, DEFAULT_NOW, assertedReasonCodes, canonicalAdapter, loadCaseFiles, readList, type ConformanceCase } from "./load.js";
import { check, fixedBroker, killSwitchOption, mintCaseTokens, rawIntentOf, resolveIntentPlaceholders, summary, testKey } from "./runner.js";

const files = loadCaseFiles();

interface Prepared {
  policy: Policy;
  raw: unknown;
  opts: GateOptions;
  tokenIds: string[];
}

async function prepare(c: ConformanceCase): Promise<Prepared | { policy: Policy }> {
  const policy = parsePolicy(c.policy!);
  if (c.intent === undefined && c.tool_call === undefined) return { policy };
  const o = c.options;
  const raw = resolveIntentPlaceholders(rawIntentOf(c, o.profile));
  const now = new Date(o.now ?? DEFAULT_NOW);
  const envelope = o.context_envelope as VerifiedContextEnvelope | undefined;

  const opts: GateOptions = {
    now,
    ...(o.evaluation_time ? { evaluationTime: new Date(o.evaluation_time) } : {}),
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.simulate ? { simulate: true } : {}),
    ...(o.kill_switch !== undefined ? { killSwitch: killSwitchOption(o.kill_switch) } : {}),
    ...(envelope ? { contextEnvelope: envelope } : {}),
    ...(o.counters === "none" ? {} : { counters: new MemoryCounterStore() }),
  };
  if (o.broker === "stub") opts.broker = stubBroker;
  else if (o.broker && o.broker !== "off") opts.broker = fixedBroker(o.broker);

  const tokens = mintCaseTokens(c, raw, policy, now);
  if (tokens.approval.length) opts.approvalTokens = tokens.approval;
  if (tokens.delegation.length) opts.delegationTokens = tokens.delegation;
  const tokenIds = tokens.approval.map((t) => t.token_id);
  if (o.approval_verifier !== "none") opts.approvalVerifier = testKey.verifier();
  if (o.delegation_verifier !== "none") opts.delegationVerifier = testKey.verifier();
  return { policy, raw, opts, tokenIds };
}

async function run(c: ConformanceCase): Promise<{ policy: Policy; result?: GateResult; tokenIds: string[] }> {
  const p = await prepare(c);
  if (!("raw" in p)) return { policy: p.policy, tokenIds: [] };
  for (const pre of c.options.preload ?? []) {
    const raw = pre.intent !== undefined || pre.tool_call !== undefined ? rawIntentOf(pre, c.options.profile) : p.raw;
    const opts: GateOptions = {
      ...p.opts,
      ...(pre.now ? { now: new Date(pre.now) } : {}),
      ...(pre.evaluation_time ? { evaluationTime: new Date(pre.evaluation_time) } : {}),
    };
    for (let i = 0; i < pre.times; i++) await evaluateGate(p.policy, raw, opts);
  }
  return { policy: p.policy, result: await evaluateGate(p.policy, p.raw, p.opts), tokenIds: p.tokenIds };
}

async function runCase(c: ConformanceCase): Promise<void> {
  if (c.want_error !== undefined) {
    let outcome: Awaited<ReturnType<typeof run>> | undefined;
    let error: unknown;
    try {
      outcome = await run(c);
    } catch (e) {
      error = e;
    }
    if (error === undefined) {
      throw new Error(`expected an error${c.want_error === true ? "" : ` containing "${c.want_error}"`}, got ${summary(outcome?.result)}`);
    }
    const message = error instanceof Error ? error.message : String(error);
    if (c.want_error !== true) expect(message, "error message").toContain(c.want_error);
    return;
  }
  const { policy, result, tokenIds } = await run(c);
  const mismatches = check(c, policy, result, tokenIds);
  if (mismatches.length) throw new Error(`${mismatches.join("\n")}\nactual: ${summary(result)}`);
}

for (const cf of files) {
  describe(cf.file, () => {
    for (const c of cf.cases) it(c.note, () => runCase(c));
  });
}

describe("coverage claims", () => {
  const cases = files.flatMap((f) => f.cases);

  it("asserts every reason code listed in reason-codes.txt", () => {
    const asserted = new Set(cases.flatMap(assertedReasonCodes));
    const missing = readList(join(CASES_DIR, "..", "reason-codes.txt")).filter((code) => !asserted.has(code));
    expect(missing, "reason codes never asserted by any case").toEqual([]);
  });

  it("decodes with every adapter listed in adapters.txt", () => {
    const used = new Set(cases.flatMap((c) => (c.tool_call ? [canonicalAdapter(c.tool_call.adapter)] : [])));
    const missing = readList(join(CASES_DIR, "..", "adapters.txt")).filter((a) => !used.has(a));
    expect(missing, "adapters never exercised by any case").toEqual([]);
  });

  it("has at least 150 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
  });
});
