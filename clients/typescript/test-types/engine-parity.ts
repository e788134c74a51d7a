/**
 * The typed intent's field sets, level by level, equal the engine's intent types (src/engine/types.ts) minus the
 * fields the server computes (args_digest, intent_digest, script_hash). Compiled by the repository's type check
 * test only (test/integration/clients-ts-ergonomics.test.ts): a field added to or renamed in one and not the other
 * makes one of these `true` assignments a compile error naming the level.
 */
import type * as client from "@gait-gate/client";
import type * as engine from "../../../src/engine/types.js";

type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
type Item<T> = T extends readonly (infer U)[] ? U : never;

export const intent: SameKeys<client.Intent, Omit<engine.IntentRequest, "args_digest" | "intent_digest" | "script_hash">> = true;
export const context: SameKeys<client.IntentContext, engine.IntentContext> = true;
export const target: SameKeys<client.IntentTarget, engine.Target> = true;
export const argProvenance: SameKeys<client.ArgProvenance, engine.ArgProvenance> = true;
export const skillProvenance: SameKeys<client.SkillProvenance, engine.SkillProvenance> = true;
export const delegation: SameKeys<client.Delegation, engine.Delegation> = true;
export const delegationLink: SameKeys<Item<NonNullable<client.Delegation["chain"]>>, engine.DelegationLink> = true;
export const agentIdentity: SameKeys<client.AgentIdentity, engine.AgentIdentity> = true;
export const sandbox: SameKeys<client.Sandbox, engine.SandboxMetadata> = true;
export const script: SameKeys<client.Script, engine.IntentScript> = true;
export const scriptStep: SameKeys<client.ScriptStep, engine.ScriptStep> = true;
