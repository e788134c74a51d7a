/**
 * What every in-process runner of the portable cases shares: the run's test keys, token minting with the
 * placeholders of README.md, the fixed broker and kill-switch options, and the `want` checker. The engine runner
 * (engine.test.ts) and the service runner (service.test.ts) differ only in how they produce a result.
 */
import { Ed25519KeyPair } from "../../src/infra/keys.js";
import { decodeToolCall } from "../../src/engine/adapters.js";
import { mintApprovalToken } from "../../src/engine/approval.js";
import { digestJCS } from "../../src/engine/canon.js";
import { mintDelegationToken } from "../../src/engine/delegation.js";
import { normalizeIntent } from "../../src/engine/intent.js";
import { parseKillSwitchState } from "../../src/engine/killswitch.js";
import { parsePolicy } from "../../src/engine/policy.js";
import { parseGoDuration } from "../../src/engine/time.js";
import type {
  ApprovalToken, BrokerReceipt, CredentialBroker, DelegationToken, GateOptions, GateResult, KillSwitchState, Policy,
  VerifiedContextEnvelope,
} from "../../src/engine/types.js";
import {
  subsetMismatches, type ApprovalTokenSpec, type CaseOptions, type ConformanceCase, type DelegationTokenSpec, type ToolCallSpec,
} from "./load.js";

export const testKey = Ed25519KeyPair.generate();
export const otherKey = Ed25519KeyPair.generate();

/** Digests of the case's own intent/policy, for the `$intent`, `$policy`, `$delegation` placeholders. */
export interface Bindings {
  intent: string;
  policy: string;
  delegation?: string;
  toolName: string;
  envelope?: VerifiedContextEnvelope;
}

export function rawIntentOf(spec: { intent?: unknown; tool_call?: ToolCallSpec }, profileDefault?: GateOptions["profile"]): unknown {
  if (spec.tool_call) {
    const profile = spec.tool_call.profile ?? profileDefault;
    return decodeToolCall(spec.tool_call.adapter, spec.tool_call.payload, profile ? { profile } : {}).intent;
  }
  return spec.intent;
}

/** `$targets` inside an intent = digest of the intent's own normalized targets (credential_target_binding). */
export function resolveIntentPlaceholders(raw: unknown): unknown {
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

export function mintApproval(spec: ApprovalTokenSpec, b: Bindings, now: Date): ApprovalToken {
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

export function mintDelegation(spec: DelegationTokenSpec, b: Bindings, now: Date): DelegationToken {
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
export function fixedBroker(spec: Exclude<CaseOptions["broker"], undefined | "off" | "stub">): CredentialBroker {
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
export function killSwitchOption(v: unknown): KillSwitchState | { unavailable: string } {
  if (v && typeof v === "object" && "unavailable" in v) return v as { unavailable: string };
  return parseKillSwitchState(v);
}

/** Mint the case's approval and delegation tokens for its (raw) intent and policy. */
export function mintCaseTokens(c: ConformanceCase, raw: unknown, policy: Policy, now: Date): { approval: ApprovalToken[]; delegation: DelegationToken[] } {
  const o = c.options;
  if (!o.approval_tokens?.length && !o.delegation_tokens?.length) return { approval: [], delegation: [] };
  const envelope = o.context_envelope as VerifiedContextEnvelope | undefined;
  const intent = normalizeIntent(raw, envelope ? { envelope } : {});
  const b: Bindings = {
    intent: intent.intent_digest,
    policy: policy.policy_digest,
    ...(intent.delegation ? { delegation: digestJCS(intent.delegation) } : {}),
    toolName: intent.tool_name,
    ...(envelope ? { envelope } : {}),
  };
  return {
    approval: (o.approval_tokens ?? []).map((s) => mintApproval(s, b, now)),
    delegation: (o.delegation_tokens ?? []).map((s) => mintDelegation(s, b, now)),
  };
}

/** Compare the outcome against `want`; returns mismatch messages. */
export function check(c: ConformanceCase, policy: Policy, result: GateResult | undefined, tokenIds: string[], want: Record<string, unknown> = c.want!, skip: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const needResult = (key: string): GateResult | undefined => {
    if (!result) out.push(`want.${key} needs an intent or tool_call in the case`);
    return result;
  };
  for (const [key, w] of Object.entries(want)) {
    if (skip.has(key)) continue;
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

export function summary(result: GateResult | undefined): string {
  if (!result) return "(no result)";
  const { verdict, reason_codes, violations, matched_rule } = result;
  return JSON.stringify({ verdict, reason_codes, violations, matched_rule });
}

