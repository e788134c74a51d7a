/**
 * Rate limits and destructive budgets (gate.md §4.1-4.2, stage 9) over a {@link CounterStore}.
 *
 * Fixed windows on the WALL clock (not `--evaluation-time`): the bucket is the UTC minute or hour the decision falls
 * in, and the counter key is `window|scope|bucketStartRFC3339|scopeKey`, byte-identical to Gait's state file keys.
 * `used >= requests` denies without incrementing. The destructive budget reuses the same machinery with the tool name
 * `destructive_budget|<tool>` (plain `script` for script intents); with scope `identity` the scope key is just the
 * identity, so an identity-scoped budget shares its counter with an identity-scoped rate limit of the same window
 * (Gait QUIRK, kept).
 */
import { formatGoTimeSeconds } from "./time.js";
import type { CounterStore, IntentRequest, RateLimitPolicy } from "./types.js";

const WINDOW_MS: Readonly<Record<string, number>> = { minute: 60_000, hour: 3_600_000 };

/** Everything that identifies one counter for one decision. */
export interface RateLimitKey {
  window: "minute" | "hour";
  scope: "tool" | "identity" | "tool_identity";
  /** tool name, identity, or `tool|identity` (reported as `rate_limit_key`) */
  scopeKey: string;
  /** the store key: `window|scope|bucketStartRFC3339|scopeKey` */
  counterKey: string;
  bucketStartMs: number;
  bucketExpiresAtMs: number;
}

/** A limit policy field that Gait would reject at evaluation (policy validation normally prevents it). */
export class RateLimitConfigError extends Error {
  override name = "RateLimitConfigError";
}

/**
 * Build the counter key for a limit. Defaults: window `minute`, scope `tool_identity`. Throws
 * {@link RateLimitConfigError} for an unknown window or scope (Gait's "unsupported rate_limit window/scope").
 */
export function rateLimitKey(limit: RateLimitPolicy, toolName: string, identity: string, now: Date): RateLimitKey {
  const window = (limit.window ?? "").trim().toLowerCase() || "minute";
  const windowMs = WINDOW_MS[window];
  if (!windowMs) throw new RateLimitConfigError(`unsupported rate_limit window: ${window} (use minute or hour)`);
  const scope = (limit.scope ?? "").trim().toLowerCase() || "tool_identity";
  let scopeKey: string;
  switch (scope) {
    case "tool":
      scopeKey = toolName;
      break;
    case "identity":
      scopeKey = identity;
      break;
    case "tool_identity":
      scopeKey = `${toolName}|${identity}`;
      break;
    default:
      throw new RateLimitConfigError(`unsupported rate_limit scope: ${scope} (use tool, identity or tool_identity)`);
  }
  const t = now.getTime();
  const bucketStartMs = t - (((t % windowMs) + windowMs) % windowMs);
  return {
    window: window as RateLimitKey["window"],
    scope: scope as RateLimitKey["scope"],
    scopeKey,
    counterKey: `${window}|${scope}|${formatGoTimeSeconds(bucketStartMs)}|${scopeKey}`,
    bucketStartMs,
    bucketExpiresAtMs: bucketStartMs + windowMs,
  };
}

/** Outcome of one counter check; `scope`/`key`/`used`/`remaining` fill the rate_limit_* output fields. */
export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** the count after this decision (allowed) or the count that caused the denial */
  used: number;
  remaining: number;
  scope: string;
  /** the scope key (Gait reports this, not the full counter key) */
  key: string;
  counterKey: string;
}

/**
 * Consume one slot of `limit` for `toolName`/`identity` at wall-clock `now`. A store error propagates: the caller
 * must fail closed (no verdict), never treat it as allowed.
 */
export async function consumeLimit(store: CounterStore, limit: RateLimitPolicy, toolName: string, identity: string, now: Date): Promise<RateLimitDecision> {
  const k = rateLimitKey(limit, toolName, identity, now);
  const { allowed, used } = await store.consume(k.counterKey, limit.requests, k.bucketExpiresAtMs, now.getTime());
  return {
    allowed,
    limit: limit.requests,
    used,
    remaining: allowed ? Math.max(0, limit.requests - used) : 0,
    scope: k.scope,
    key: k.scopeKey,
    counterKey: k.counterKey,
  };
}

/** Stage 9a: the rate limit of the verdict-setting rules for this intent. */
export function enforceRateLimit(store: CounterStore, limit: RateLimitPolicy, intent: IntentRequest, now: Date): Promise<RateLimitDecision> {
  return consumeLimit(store, limit, intent.tool_name.trim(), intent.context.identity, now);
}

/**
 * The tool name a destructive budget counts under. Gait prefixes the tool name with `destructive_budget|` and then
 * re-normalizes the intent, which forces the tool name of a script intent back to plain `script`: a script's budget
 * therefore counts under `script`, sharing its counter with a rate limit of the same window and scope (Gait QUIRK,
 * kept because it only makes decisions stricter).
 */
export function destructiveBudgetToolName(intent: IntentRequest): string {
  if (intent.script) return "script";
  return `destructive_budget|${intent.tool_name.trim()}`;
}

/**
 * Stage 9b: the destructive budget, counted only when the intent has a destructive target (see
 * {@link intentHasDestructiveTarget}); returns undefined (nothing consumed) otherwise.
 */
export async function enforceDestructiveBudget(store: CounterStore, budget: RateLimitPolicy, intent: IntentRequest, now: Date): Promise<RateLimitDecision | undefined> {
  if (!intentHasDestructiveTarget(intent)) return undefined;
  return consumeLimit(store, budget, destructiveBudgetToolName(intent), intent.context.identity, now);
}

/**
 * Whether the destructive budget applies: for scripts, the step targets decide when any step has targets;
 * otherwise the top-level targets.
 */
export function intentHasDestructiveTarget(intent: IntentRequest): boolean {
  const steps = intent.script?.steps ?? [];
  if (steps.length) {
    let sawTargets = false;
    for (const step of steps) {
      if (!step.targets?.length) continue;
      sawTargets = true;
      if (step.targets.some((t) => t.destructive === true)) return true;
    }
    if (sawTargets) return false;
  }
  return intent.targets.some((t) => t.destructive === true);
}
