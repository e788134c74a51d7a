/**
 * Runs every portable conformance case (`cases/*.yaml`) directly through the engine: parsePolicy ->
 * (decodeToolCall) -> evaluateGate, with tokens minted at run time by a throwaway test key. It also checks the
 * coverage claims of the suite: every reason code in `reason-codes.txt` and every adapter in `adapters.txt` must be
 * asserted by at least one case.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Ed25519KeyPair } from "../../src/infra/keys.js";
import { decodeToolCall } from "../../src/engine/adapters.js";
import { mintApprovalToken } from "../../src/engine/approval.js";
import { stubBroker } from "../../src/engine/broker.js";
import { digestJCS } from "../../src/engine/canon.js";
import { mintDelegationToken } from "../../src/engine/delegation.js";
import { evaluateGate } from "../../src/engine/gate.js";
import { normalizeIntent } from "../../src/engine/intent.js";
import { parseKillSwitchState } from "../../src/engine/killswitch.js";
import { parsePolicy } from "../../src/engine/policy.js";
import { parseGoDuration } from "../../src/engine/time.js";
import type {
  ApprovalToken, BrokerReceipt, CredentialBroker, DelegationToken, GateOptions, GateResult, KillSwitchState, Policy,
  VerifiedContextEnvelope,
} from "../../src/engine/types.js";
import { MemoryCounterStore } from "../../src/state/counters-memory.js";
import {
  CASES_DIR, DEFAULT_NOW, assertedReasonCodes, canonicalAdapter, loadCaseFiles, readList, subsetMismatches,
  type ApprovalTokenSpec, type CaseOptions, type ConformanceCase, type DelegationTokenSpec, type ToolCallSpec,
} from "./load.js";

const testKey = Ed25519KeyPair.generate();
const otherKey = Ed25519KeyPair.generate();
const files = loadCaseFiles();

/** Digests of the case's own intent/policy, for the `$intent`, `$policy`, `$delegation` placeholders. */
interface Bindings {
  intent: string;
  policy: string;
  delegation?: string;
  toolName: string;
  envelope?: VerifiedContextEnvelope;
}

function rawIntentOf(spec: { intent?: unknown; tool_call?: ToolCallSpec }, profileDefault?: GateOptions["profile"]): unknown {
  if (spec.tool_call) {
    const profile = spec.tool_call.profile ?? profileDefault;
    return decodeToolCall(spec.tool_call.adapter, spec.tool_call.payload, profile ? { profile } : {}).intent;
  }
  return spec.intent;
}

/** `$targets` inside an intent = digest of the intent's own normalized targets (credential_target_binding). */
function resolveIntentPlaceholders(raw: unknown): unknown {
  const text = JSON.stringify(raw ?? null);
  if (!text.includes('"$targets"')) return raw;
  const strip = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(strip)
    : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== "$targets").map(([k, x]) => [k, strip(x)]))
    : v;
  const binding = digestJCS(normalizeIntent(strip(raw)).targets);
  return JSON.parse(text.replaceAll('"$targets"', JSON.stringify(binding)));
}

function digestValue(v: string | { of_intent: unknown } | undefined, fallback: string, b: Bindings): string {
  if (v === undefined) return fallback;
  if (typeof v === "object") return normalizeIntent(v.of_intent, b.envelope ? { envelope: b.envelope } : {}).intent_digest;
  if (v === "$intent") return b.intent;
  if (v === "$policy") return b.policy;
  if (v === "$delegation") {
    if (!b.delegation) throw new Error("$delegation used but the intent has no delegation");
    return b.delegation;
  }
  return v;
}

function finishToken<T extends { signature?: unknown }>(token: T, spec: { unsigned?: boolean; tamper?: Record<string, unknown> }): T {
  const out: Record<string, unknown> = { ...token };
  if (spec.unsigned) delete out.signature;
  Object.assign(out, spec.tamper ?? {});
  return out as T;
}

function mintApproval(spec: ApprovalTokenSpec, b: Bindings, now: Date): ApprovalToken {
  const delegationBinding = spec.delegation_binding_digest ? digestValue(spec.delegation_binding_digest, "", b) : undefined;
  const token = mintApprovalToken(
    {
      intentDigest: digestValue(spec.intent_digest, b.intent, b),
      policyDigest: digestValue(spec.policy_digest, b.policy, b),
      ...(delegationBinding ? { delegationBindingDigest: delegationBinding } : {}),
      ttlMs: parseGoDuration(spec.ttl ?? "1h"),
      scope: spec.scope ?? [`tool:${b.toolName}`],
      approver: spec.approver ?? "secops-1",
      reasonCode: spec.reason_code ?? "change_approved",
      ...(spec.max_targets !== undefined ? { maxTargets: spec.max_targets } : {}),
      ...(spec.max_ops !== undefined ? { maxOps: spec.max_ops } : {}),
    },
    spec.key === "other" ? otherKey : testKey,
    spec.minted_at ? new Date(spec.minted_at) : now,
  );
  return finishToken(token, spec);
}

function mintDelegation(spec: DelegationTokenSpec, b: Bindings, now: Date): DelegationToken {
  const token = mintDelegationToken(
    {
      delegator: spec.delegator,
      delegate: spec.delegate,
      scope: spec.scope,
      ...(spec.scope_class ? { scopeClass: spec.scope_class } : {}),
      ...(spec.intent_digest ? { intentDigest: digestValue(spec.intent_digest, "", b) } : {}),
      ...(spec.policy_digest ? { policyDigest: digestValue(spec.policy_digest, "", b) } : {}),
      ttlMs: parseGoDuration(spec.ttl ?? "1h"),
    },
    spec.key === "other" ? otherKey : testKey,
    spec.minted_at ? new Date(spec.minted_at) : now,
  );
  return finishToken(token, spec);
}

/** `broker: {receipt}`: a fixed broker answering a well-formed receipt with the case's overrides (null deletes). */
function fixedBroker(spec: Exclude<CaseOptions["broker"], undefined | "off" | "stub">): CredentialBroker {
  return {
    name: "conformance-fixed",
    async issue(request, requestDigest) {
      if ("error" in spec) throw new Error(spec.error);
      const receipt: Record<string, unknown> = {
        credential_ref: "stub:fixed",
        source: "stub",
        access_type: "jit",
        ttl_seconds: 300,
        scopes: [...request.scope],
        request_digest: requestDigest,
        target_binding: request.target_binding,
      };
      for (const [k, v] of Object.entries(spec.receipt)) {
        if (v === null) delete receipt[k];
        else receipt[k] = v;
      }
      return receipt as unknown as BrokerReceipt;
    },
  };
}

/** The case holds kill-switch state-file JSON (parsed like the product's loader does) or `{unavailable: "why"}`. */
function killSwitchOption(v: unknown): KillSwitchState | { unavailable: string } {
  if (v && typeof v === "object" && "unavailable" in v) return v as { unavailable: string };
  return parseKillSwitchState(v);
}

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

  let tokenIds: string[] = [];
  if (o.approval_tokens?.length || o.delegation_tokens?.length) {
    const intent = normalizeIntent(raw, envelope ? { envelope } : {});
    const b: Bindings = {
      intent: intent.intent_digest,
      policy: policy.policy_digest,
      ...(intent.delegation ? { delegation: digestJCS(intent.delegation) } : {}),
      toolName: intent.tool_name,
      ...(envelope ? { envelope } : {}),
    };
    if (o.approval_tokens?.length) {
      opts.approvalTokens = o.approval_tokens.map((s) => mintApproval(s, b, now));
      tokenIds = opts.approvalTokens.map((t) => t.token_id);
    }
    if (o.delegation_tokens?.length) opts.delegationTokens = o.delegation_tokens.map((s) => mintDelegation(s, b, now));
  }
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

/** Compare the outcome against `want`; returns mismatch messages. */
function check(c: ConformanceCase, policy: Policy, result: GateResult | undefined, tokenIds: string[]): string[] {
  const out: string[] = [];
  const want = c.want!;
  const needResult = (key: string): GateResult | undefined => {
    if (!result) out.push(`want.${key} needs an intent or tool_call in the case`);
    return result;
  };
  for (const [key, w] of Object.entries(want)) {
    switch (key) {
      case "policy_parses":
        break; // reaching here means parsePolicy succeeded
      case "policy":
        out.push(...subsetMismatches(w, policy, "policy"));
        break;
      case "policy_digest":
        out.push(...subsetMismatches(w, result?.policy_digest ?? policy.policy_digest, key));
        if (result && result.policy_digest !== policy.policy_digest) out.push("result.policy_digest differs from the parsed policy's digest");
        break;
      case "policy_digest_same_as":
      case "policy_digest_differs_from": {
        const other = parsePolicy(String(w)).policy_digest;
        const same = other === policy.policy_digest;
        if (same !== (key === "policy_digest_same_as")) out.push(`${key}: this ${policy.policy_digest}, other ${other}`);
        break;
      }
      case "intent_digest_same_as":
      case "intent_digest_differs_from": {
        const r = needResult(key);
        if (!r) break;
        const other = normalizeIntent(w).intent_digest;
        if ((other === r.intent_digest) !== (key === "intent_digest_same_as")) out.push(`${key}: this ${r.intent_digest}, other ${other}`);
        break;
      }
      case "reason_codes_include":
      case "violations_include": {
        const r = needResult(key);
        const have = (key === "reason_codes_include" ? r?.reason_codes : r?.violations) ?? [];
        for (const code of w as string[]) if (!have.includes(code)) out.push(`${key}: missing ${code} in ${JSON.stringify(have)}`);
        break;
      }
      case "script_hash_not": {
        const r = needResult(key);
        if (r && r.script_hash === w) out.push(`script_hash must differ from ${String(w)}`);
        break;
      }
      case "required_approval_scopes": {
        const r = needResult(key);
        if (r) out.push(...subsetMismatches([...(w as string[])].sort(), [...(r.required_approval_scopes ?? [])].sort(), key));
        break;
      }
      case "approval_ref": {
        const r = needResult(key);
        const expected = w === "$token_ids" ? [...tokenIds].sort().join(",") : w;
        if (r) out.push(...subsetMismatches(expected, r.approval_ref, key));
        break;
      }
      default: {
        const r = needResult(key);
        if (r) out.push(...subsetMismatches(w, (r as unknown as Record<string, unknown>)[key], key));
      }
    }
  }
  return out;
}

function summary(result: GateResult | undefined): string {
  if (!result) return "(no result)";
  const { verdict, reason_codes, violations, matched_rule } = result;
  return JSON.stringify({ verdict, reason_codes, violations, matched_rule });
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
