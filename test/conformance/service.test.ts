/**
 * Runs the portable conformance cases (`cases/*.yaml`) through the service layer: GateService.evaluate with the one
 * decision pipeline, the approval ledger (FileApprovalStore, single-use tokens), an in-memory counter store and an
 * in-memory trace log. Tokens are minted by the run's test key (runner.ts) and verified with the service's explicit
 * approval/delegation verify keys; the service signs with a key of its own.
 *
 * A case's expectation is `want_service` where it has one (the service deliberately differs: single use), else
 * `want`. Cases that need an input the service has no way to take are skipped, each with its reason (SKIP below),
 * and the suite checks that every case touching approvals, delegation or the deviations runs.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stubBroker } from "../../src/engine/broker.js";
import { parsePolicy } from "../../src/engine/policy.js";
import { verifyTraceRecord } from "../../src/engine/trace.js";
import type { ApprovalToken, CredentialBroker, DelegationToken, GateResult, KillSwitchState, Policy } from "../../src/engine/types.js";
import { Ed25519KeyPair } from "../../src/infra/keys.js";
import type { Decision } from "../../src/service/decide.js";
import { GateService, type TraceLogPort } from "../../src/service/gate-service.js";
import { ServerMetrics } from "../../src/service/metrics.js";
import { FileApprovalStore } from "../../src/state/approvals.js";
import { MemoryCounterStore } from "../../src/state/counters-memory.js";
import { PolicyHolder } from "../../src/state/policy-file.js";
import { DEFAULT_NOW, loadCaseFiles, type ConformanceCase } from "./load.js";
import { check, fixedBroker, killSwitchOption, mintCaseTokens, rawIntentOf, resolveIntentPlaceholders, summary, testKey } from "./runner.js";

const files = loadCaseFiles();
const serverKey = Ed25519KeyPair.generate();
const root = mkdtempSync(join(tmpdir(), "gait-svc-cases-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Engine-level observations a service runner cannot see (README: client runners may skip them). */
const ENGINE_ONLY_WANT = new Set(["intent", "policy", "policy_parses"]);

/** Why a case cannot go through the service (undefined: it can). */
function skipReason(c: ConformanceCase): string | undefined {
  const o = c.options;
  if (c.intent === undefined && c.tool_call === undefined) return "policy-only case (the service loads policies at start-up)";
  if (o.simulate) return "simulate is a `gate eval` option";
  if (o.context_envelope) return "context envelopes are a `gate eval` input";
  if (o.evaluation_time && o.evaluation_time !== (o.now ?? DEFAULT_NOW)) return "the service evaluates at its own clock (no --evaluation-time)";
  if (o.counters === "none") return "the service always keeps rate-limit counters";
  if (c.tool_call?.profile && c.tool_call.profile !== (o.profile ?? "standard")) return "tool call decoded with another profile than the evaluation";
  for (const p of o.preload ?? []) {
    if (p.evaluation_time) return "preload with its own evaluation time";
    if (p.tool_call?.profile && p.tool_call.profile !== (o.profile ?? "standard")) return "preload decoded with another profile";
  }
  return undefined;
}

/** A trace log that keeps records in memory, in order. */
function memoryTraceLog(): TraceLogPort & { records: unknown[] } {
  const records: unknown[] = [];
  return {
    records,
    append: async (record) => {
      records.push(record);
      return { seq: records.length, hash: `h${records.length}` };
    },
    readFrom: () => {
      throw new Error("not used");
    },
    head: () => ({ seq: records.length, hash: `h${records.length}` }),
    oldestSeq: () => 1,
  };
}

let caseNo = 0;

async function runThroughService(c: ConformanceCase): Promise<{ policy: Policy; decision: Decision; result: GateResult; tokenIds: string[]; records: unknown[] }> {
  const o = c.options;
  const policy = parsePolicy(c.policy!);
  const dir = join(root, String(++caseNo));
  const policyPath = join(root, `${caseNo}.yaml`);
  writeFileSync(policyPath, c.policy!);
  let clock = new Date(o.now ?? DEFAULT_NOW);
  const raw = resolveIntentPlaceholders(rawIntentOf(c, o.profile));
  const tokens = mintCaseTokens(c, raw, policy, clock);
  const ks: KillSwitchState | { unavailable: string } | undefined = o.kill_switch !== undefined ? killSwitchOption(o.kill_switch) : undefined;
  const broker: CredentialBroker | undefined = o.broker === "stub" ? stubBroker : o.broker && o.broker !== "off" ? fixedBroker(o.broker) : undefined;
  const approvals = await FileApprovalStore.open({ dir: join(dir, "approvals"), sweepIntervalMs: 0, signer: serverKey });
  const traceLog = memoryTraceLog();
  const svc = new GateService({
    settings: { profile: o.profile ?? "standard", adapter: "mcp", approvalReuse: false, approvalRequestTtlMs: 3_600_000, credentialScopes: [], traceDir: "memory" },
    policy: new PolicyHolder(policyPath),
    keys: {
      signer: serverKey,
      mode: "dev",
      ...(o.approval_verifier !== "none" ? { approvalVerifier: testKey.verifier() } : {}),
      ...(o.delegation_verifier !== "none" ? { delegationVerifier: testKey.verifier() } : {}),
    },
    killSwitch: { current: () => ks },
    counters: new MemoryCounterStore(),
    ...(broker ? { broker } : {}),
    traceLog,
    approvals,
    metrics: new ServerMetrics(),
    producerVersion: "conformance",
    log: () => undefined,
    now: () => clock,
  });
  const call = (spec: { intent?: unknown; tool_call?: { adapter: string; payload: unknown } }) =>
    spec.tool_call ? { toolCall: { adapter: spec.tool_call.adapter, payload: spec.tool_call.payload } } : { intent: resolveIntentPlaceholders(spec.intent) };
  const docs = (t: readonly (ApprovalToken | DelegationToken)[]) => t.map((x) => JSON.stringify(x));
  const input = { approvalTokens: docs(tokens.approval), delegationTokens: docs(tokens.delegation) };
  try {
    for (const pre of o.preload ?? []) {
      const spec = pre.intent !== undefined || pre.tool_call !== undefined ? pre : c;
      if (pre.now) clock = new Date(pre.now);
      for (let i = 0; i < pre.times; i++) await svc.evaluate({ ...call(spec), ...input });
      clock = new Date(o.now ?? DEFAULT_NOW);
    }
    const decision = await svc.evaluate({ ...call(c), ...input });
    return {
      policy,
      decision,
      // the service's answer: Gait's result with the service's reason codes merged in
      result: { ...decision.result, reason_codes: decision.reasonCodes },
      tokenIds: tokens.approval.map((t) => t.token_id),
      records: traceLog.records,
    };
  } finally {
    await approvals.close();
  }
}

async function runCase(c: ConformanceCase): Promise<void> {
  if (c.want_error !== undefined) {
    let outcome: Awaited<ReturnType<typeof runThroughService>> | undefined;
    let error: unknown;
    try {
      outcome = await runThroughService(c);
    } catch (e) {
      error = e;
    }
    if (error === undefined) throw new Error(`expected an error${c.want_error === true ? "" : ` containing "${c.want_error}"`}, got ${summary(outcome?.result)}`);
    if (c.want_error !== true) expect((error as Error).message, "error message").toContain(c.want_error);
    return;
  }
  const { policy, decision, result, tokenIds, records } = await runThroughService(c);
  const mismatches = check(c, policy, result, tokenIds, c.want_service ?? c.want!, ENGINE_ONLY_WANT);
  if (mismatches.length) throw new Error(`${mismatches.join("\n")}\nactual: ${summary(result)}`);
  // the decision was recorded, signed by the service, with the verdict it returned
  const last = records.at(-1) as { verdict: string; signature?: unknown };
  expect(last.verdict).toBe(decision.verdict);
  expect(verifyTraceRecord(last as never, serverKey.verifier()).ok, "trace record signature").toBe(true);
}

const skipped: { file: string; note: string; why: string }[] = [];
let ran = 0;

for (const cf of files) {
  const runnable = cf.cases.filter((c) => {
    const why = skipReason(c);
    if (why) skipped.push({ file: cf.file, note: c.note, why });
    return !why;
  });
  ran += runnable.length;
  if (runnable.length) {
    describe(cf.file, () => {
      for (const c of runnable) it(c.note, () => runCase(c));
    });
  }
}

describe("service runner coverage", () => {
  it("runs every case that touches approvals, delegation or the deviations", () => {
    const must = new Set(["approvals.yaml", "delegation.yaml", "deviations.yaml"]);
    // approval/expiry-uses-wall-clock pins that --evaluation-time does not extend a token: a `gate eval` flag
    const expected = new Set(["approval/expiry-uses-wall-clock"]);
    const missed = skipped.filter((s) => must.has(s.file) && !expected.has(s.note) && !s.why.startsWith("policy-only"));
    expect(missed).toEqual([]);
  });

  it(`runs most of the suite (${ran} of ${ran + skipped.length} cases), and single use is pinned by want_service cases`, () => {
    expect(ran).toBeGreaterThanOrEqual(150);
    const singleUse = files.flatMap((f) => f.cases).filter((c) => JSON.stringify(c.want_service ?? {}).includes("approval_token_consumed"));
    expect(singleUse.length).toBeGreaterThanOrEqual(3);
  });
});
