import { describe, expect, it } from "vitest";
import {
  RateLimitConfigError,
  consumeLimit,
  enforceDestructiveBudget,
  enforceRateLimit,
  intentHasDestructiveTarget,
  rateLimitKey,
} from "../../../src/engine/ratelimit.js";
import { MemoryCounterStore } from "../../../src/state/counters-memory.js";
import type { IntentRequest, Target } from "../../../src/engine/types.js";

const T = new Date("2026-03-01T12:34:56.789Z");

function intent(targets: Partial<Target>[] = [], extra: Partial<IntentRequest> = {}): IntentRequest {
  return {
    schema_id: "gait.gate.intent_request",
    schema_version: "1.0.0",
    created_at: "1980-01-01T00:00:00Z",
    tool_name: "tool.write",
    args: {},
    args_digest: "d".repeat(64),
    intent_digest: "a".repeat(64),
    targets: targets.map((t) => ({ kind: "path", value: "/tmp/x", ...t })),
    context: { identity: "alice", workspace: "/repo", risk_class: "high", phase: "apply" },
    ...extra,
  };
}

describe("rateLimitKey", () => {
  it("defaults to minute windows and tool_identity scope", () => {
    const k = rateLimitKey({ requests: 5, window: "", scope: "" }, "tool.write", "alice", T);
    expect(k.counterKey).toBe("minute|tool_identity|2026-03-01T12:34:00Z|tool.write|alice");
    expect(k.scopeKey).toBe("tool.write|alice");
    expect(k.bucketStartMs).toBe(Date.parse("2026-03-01T12:34:00Z"));
    expect(k.bucketExpiresAtMs).toBe(Date.parse("2026-03-01T12:35:00Z"));
  });
  it("hour windows truncate to the hour; scopes select the key", () => {
    expect(rateLimitKey({ requests: 1, window: "hour", scope: "tool" }, "tool.write", "alice", T).counterKey).toBe("hour|tool|2026-03-01T12:00:00Z|tool.write");
    expect(rateLimitKey({ requests: 1, window: "HOUR", scope: " Identity " }, "tool.write", "alice", T).counterKey).toBe(
      "hour|identity|2026-03-01T12:00:00Z|alice",
    );
  });
  it("rejects unknown windows and scopes", () => {
    expect(() => rateLimitKey({ requests: 1, window: "day", scope: "tool" }, "t", "i", T)).toThrow(RateLimitConfigError);
    expect(() => rateLimitKey({ requests: 1, window: "minute", scope: "workspace" }, "t", "i", T)).toThrow("unsupported rate_limit scope: workspace");
  });
});

describe("enforceRateLimit", () => {
  it("counts up to the limit, then denies without incrementing; the next window starts fresh", async () => {
    const store = new MemoryCounterStore();
    const limit = { requests: 2, window: "minute", scope: "tool_identity" };
    const a = await enforceRateLimit(store, limit, intent(), T);
    expect(a).toMatchObject({ allowed: true, used: 1, remaining: 1, limit: 2, scope: "tool_identity", key: "tool.write|alice" });
    expect((await enforceRateLimit(store, limit, intent(), T)).used).toBe(2);
    const denied = await enforceRateLimit(store, limit, intent(), T);
    expect(denied).toMatchObject({ allowed: false, used: 2, remaining: 0 });
    expect((await enforceRateLimit(store, limit, intent(), new Date("2026-03-01T12:34:59.999Z"))).allowed).toBe(false);
    const next = await enforceRateLimit(store, limit, intent(), new Date("2026-03-01T12:35:00Z"));
    expect(next).toMatchObject({ allowed: true, used: 1, remaining: 1 });
    // the ended bucket was pruned
    expect(store.size).toBe(1);
  });
  it("different identities have separate tool_identity counters but share a tool counter", async () => {
    const store = new MemoryCounterStore();
    const other = intent([], { context: { identity: "bob", workspace: "/repo", risk_class: "high", phase: "apply" } });
    const perUser = { requests: 1, window: "minute", scope: "tool_identity" };
    expect((await enforceRateLimit(store, perUser, intent(), T)).allowed).toBe(true);
    expect((await enforceRateLimit(store, perUser, other, T)).allowed).toBe(true);
    const perTool = { requests: 1, window: "minute", scope: "tool" };
    expect((await enforceRateLimit(store, perTool, intent(), T)).allowed).toBe(true);
    expect((await enforceRateLimit(store, perTool, other, T)).allowed).toBe(false);
  });
  it("propagates store errors (the caller fails closed)", async () => {
    const failing = { consume: async () => Promise.reject(new Error("state unavailable")) };
    await expect(enforceRateLimit(failing, { requests: 1, window: "minute", scope: "tool" }, intent(), T)).rejects.toThrow("state unavailable");
  });
  it("passes the wall clock to the store for pruning", async () => {
    let seen: unknown[] = [];
    const spy = { consume: async (...args: unknown[]) => ((seen = args), { allowed: true, used: 1 }) };
    await consumeLimit(spy, { requests: 3, window: "minute", scope: "tool" }, "t", "i", T);
    expect(seen).toEqual(["minute|tool|2026-03-01T12:34:00Z|t", 3, Date.parse("2026-03-01T12:35:00Z"), T.getTime()]);
  });
});

describe("destructive budget", () => {
  it("counts only intents with a destructive target, under `destructive_budget|<tool>`", async () => {
    const store = new MemoryCounterStore();
    const budget = { requests: 1, window: "hour", scope: "tool_identity" };
    expect(await enforceDestructiveBudget(store, budget, intent([{ destructive: false }]), T)).toBeUndefined();
    const d = await enforceDestructiveBudget(store, budget, intent([{ destructive: true }]), T);
    expect(d).toMatchObject({ allowed: true, used: 1, key: "destructive_budget|tool.write|alice" });
    expect(d!.counterKey).toBe("hour|tool_identity|2026-03-01T12:00:00Z|destructive_budget|tool.write|alice");
    expect((await enforceDestructiveBudget(store, budget, intent([{ destructive: true }]), T))!.allowed).toBe(false);
  });
  it("QUIRK: identity-scoped budgets share the counter with identity-scoped rate limits of the same window", async () => {
    const store = new MemoryCounterStore();
    const limit = { requests: 2, window: "minute", scope: "identity" };
    const rl = await enforceRateLimit(store, limit, intent([{ destructive: true }]), T);
    const db = await enforceDestructiveBudget(store, limit, intent([{ destructive: true }]), T);
    expect(rl.counterKey).toBe(db!.counterKey);
    expect(db).toMatchObject({ allowed: true, used: 2, key: "alice" });
    expect((await enforceRateLimit(store, limit, intent(), T)).allowed).toBe(false);
  });
  it("QUIRK: a script's budget counts under plain `script` and shares the script's rate-limit counter", async () => {
    const store = new MemoryCounterStore();
    const limit = { requests: 2, window: "minute", scope: "tool_identity" };
    const script = intent([], { tool_name: "script", script: { steps: [{ tool_name: "tool.rm", args: {}, targets: [{ kind: "path", value: "/x", destructive: true }] }] } } as Partial<IntentRequest>);
    const rl = await enforceRateLimit(store, limit, script, T);
    const db = await enforceDestructiveBudget(store, limit, script, T);
    expect(db).toMatchObject({ allowed: true, used: 2, key: "script|alice", counterKey: rl.counterKey });
    expect((await enforceDestructiveBudget(store, limit, script, T))!.allowed).toBe(false);
    // a plain intent keeps the prefixed name and its own counter
    const plain = await enforceDestructiveBudget(store, limit, intent([{ destructive: true }]), T);
    expect(plain).toMatchObject({ allowed: true, used: 1, key: "destructive_budget|tool.write|alice" });
  });
  it("script steps decide when any step has targets", () => {
    const steps = (targets: Partial<Target>[][]) => ({
      script: { steps: targets.map((ts, i) => ({ tool_name: `s${i}`, args: {}, targets: ts.map((t) => ({ kind: "path", value: "/x", ...t })) })) },
    });
    expect(intentHasDestructiveTarget(intent([{ destructive: true }], steps([[{ destructive: false }]])))).toBe(false);
    expect(intentHasDestructiveTarget(intent([], steps([[], [{ destructive: true }]])))).toBe(true);
    expect(intentHasDestructiveTarget(intent([{ destructive: true }], steps([[], []])))).toBe(true);
  });
});
