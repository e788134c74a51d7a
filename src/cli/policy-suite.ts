/**
 * Policy test suites (`gait policy test --suite <file>`): load a suite file (YAML, checked against
 * `schemas/policy-suite.schema.json`), run every case through the same pipeline as `gait gate eval` (an in-memory
 * rate-limit store per case, tokens minted by a key made for the run, no trace), compare each decision with the
 * case's expectation, and measure which policy rules no case reached.
 *
 * Every problem with the suite itself (YAML, schema, an unknown key, the policy under test) is an input error that
 * names the suite file, line and column, and no case runs. A case that fails its expectation is a test failure; a
 * case whose evaluation errors without `expect.error` is a test error. Reporting is in `suite-report.ts`.
 */
import { dirname, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from "yaml";
import { decodeToolCall } from "../engine/adapters.js";
import { mintApprovalToken, requiredApprovalScopes } from "../engine/approval.js";
import { stubBroker } from "../engine/broker.js";
import { mintDelegationToken } from "../engine/delegation.js";
import { evaluateGate } from "../engine/gate.js";
import { normalizeIntent } from "../engine/intent.js";
import { describeUnknownIntentKey, unknownIntentKeys } from "../engine/intent-keys.js";
import { parseKillSwitchState } from "../engine/killswitch.js";
import { parsePolicy } from "../engine/policy.js";
import { closestMatch } from "../engine/suggest.js";
import { parseGoDuration, parseRFC3339 } from "../engine/time.js";
import type { ApprovalToken, DelegationToken, GateOptions, GateResult, Policy, Signer, Verdict, Verifier } from "../engine/types.js";
import { MemoryCounterStore } from "../state/counters-memory.js";
import { usageError, type CliError, type CommandContext } from "./io.js";
import suiteSchema from "../../schemas/policy-suite.schema.json" with { type: "json" };
import { ephemeralKeyPair, policyFileError, producerVersion, readText } from "./inputs.js";

export const SUITE_SCHEMA_ID = "gait.gate.policy_suite";
export const SUITE_SCHEMA_VERSION = "1.0.0";
export const SUITE_RESULT_SCHEMA_ID = "gait.gate.policy_suite_result";

// ---------------------------------------------------------------------------------------------------------------
// The suite document (shapes guaranteed by the JSON Schema once validated)
// ---------------------------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

interface Settings {
  now?: string;
  evaluation_time?: string;
  profile?: "standard" | "oss-prod";
  simulate?: boolean;
  broker?: "off" | "stub";
}

interface ApprovalTokenSpec {
  approver?: string;
  reason_code?: string;
  scope?: string[];
  ttl?: string;
  minted_at?: string;
  for_intent?: Json;
  max_targets?: number;
  max_ops?: number;
  signed_by?: "suite" | "other";
}

interface DelegationTokenSpec {
  delegator: string;
  delegate: string;
  scope: string[];
  scope_class?: string;
  ttl?: string;
  minted_at?: string;
  bind_intent?: boolean;
  signed_by?: "suite" | "other";
}

export interface Expectation {
  verdict?: Verdict;
  reason_codes?: string[];
  reason_codes_include?: string[];
  violations?: string[];
  violations_include?: string[];
  matched_rule?: string | null;
  error?: string;
}

interface CaseDoc extends Settings {
  name: string;
  description?: string;
  intent?: Json;
  tool_call?: { adapter: string; payload: unknown };
  kill_switch?: Json;
  preload?: { times: number; intent?: Json; now?: string }[];
  approval_tokens?: ApprovalTokenSpec[];
  delegation_tokens?: DelegationTokenSpec[];
  expect: Expectation;
}

interface SuiteDoc {
  schema_id: string;
  schema_version: string;
  name?: string;
  description?: string;
  policy: string;
  defaults?: Settings & { intent?: Json };
  cases: CaseDoc[];
}

/** A loaded suite: validated, its policy parsed, each case with its source line. */
export interface Suite {
  /** the suite file as given on the command line */
  file: string;
  name: string;
  description?: string;
  /** the policy file as given (suite-relative paths resolved against the suite's folder, shown relative to cwd) */
  policyPath: string;
  policy: Policy;
  defaults: Settings & { intent?: Json };
  cases: (CaseDoc & { line: number })[];
}

// ---------------------------------------------------------------------------------------------------------------
// Loading and validation
// ---------------------------------------------------------------------------------------------------------------

let validator: { validate: ValidateFunction; schema: Json } | undefined;

/**
 * The suite schema, compiled once per process. Imported as a module, so the bundled CLI and the `make dist`
 * executable carry it without a project tree beside them.
 */
function suiteValidator(): { validate: ValidateFunction; schema: Json } {
  if (validator) return validator;
  const schema = suiteSchema as Json;
  // allErrors: report every problem at once; verbose: errors carry their schema, for "did you mean" candidates.
  // strictRequired off: a `oneOf` branch names keys declared by the enclosing object, which is valid JSON Schema.
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictRequired: false });
  validator = { validate: ajv.compile(schema), schema };
  return validator;
}

type Path = (string | number)[];

/** `/cases/3/expect` -> `["cases", 3, "expect"]` (JSON Pointer, RFC 6901). */
function pointerPath(pointer: string): Path {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The YAML node at `path` (the key node when `key`), or the closest ancestor that exists. */
function nodeAt(doc: Document.Parsed, path: Path, key = false): YamlNode | undefined {
  let node: unknown = doc.contents;
  let found = node as YamlNode | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (typeof seg === "number") {
      if (!isSeq(node) || !node.items[seg]) return found;
      node = node.items[seg];
    } else {
      if (!isMap(node)) return found;
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) return found;
      if (key && i === path.length - 1) return pair.key as YamlNode;
      node = pair.value ?? pair.key;
    }
    found = node as YamlNode;
  }
  return found;
}

interface Located {
  line: number;
  column: number;
}

function locator(doc: Document.Parsed, lines: LineCounter) {
  return (path: Path, key = false): Located | undefined => {
    const off = nodeAt(doc, path, key)?.range?.[0];
    if (off === undefined) return undefined;
    const { line, col } = lines.linePos(off);
    return { line, column: col };
  };
}

function pathText(path: Path): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out === "" ? seg : `.${seg}`;
  return out || "(top level)";
}

/** The keys an object schema accepts: its `properties` and those of the schemas it composes with `allOf`. */
function knownKeys(schema: unknown, root: Json): string[] {
  if (!schema || typeof schema !== "object") return [];
  const s = schema as Json;
  const out = Object.keys((s.properties as Json | undefined) ?? {});
  for (const part of (s.allOf as unknown[] | undefined) ?? []) {
    const ref = (part as Json).$ref;
    const target = typeof ref === "string" && ref.startsWith("#/$defs/") ? (root.$defs as Json)[ref.slice(8)] : part;
    out.push(...knownKeys(target, root));
  }
  return out;
}

const PATTERN_TEXT: Record<string, string> = {
  time: "an RFC 3339 time such as 2026-01-15T12:00:00Z",
  duration: "a Go duration such as 15m or 1h30m",
};

/** One schema violation as `{path, message}` in words a suite author can act on. */
function describeSchemaError(e: ErrorObject, root: Json): { path: Path; key: boolean; message: string } | undefined {
  const path = pointerPath(e.instancePath);
  const at = pathText(path);
  const p = e.params as Json;
  switch (e.keyword) {
    case "additionalProperties":
    case "unevaluatedProperties": {
      const key = String(p.additionalProperty ?? p.unevaluatedProperty);
      const known = knownKeys(e.parentSchema, root);
      const s = closestMatch(key, known);
      return {
        path: [...path, key],
        key: true,
        message: `unknown key "${pathText([...path, key])}"${s ? ` (did you mean "${s}"?)` : ""}; ${at} accepts ${known.join(", ")}`,
      };
    }
    case "required":
      return { path, key: false, message: `${at} is missing "${String(p.missingProperty)}"` };
    case "enum": {
      const allowed = (p.allowedValues as unknown[]).map(String);
      const s = typeof e.data === "string" ? closestMatch(e.data, allowed) : undefined;
      return { path, key: false, message: `${at} must be one of ${allowed.join(", ")}, got ${JSON.stringify(e.data)}${s ? ` (did you mean "${s}"?)` : ""}` };
    }
    case "const":
      return { path, key: false, message: `${at} must be ${JSON.stringify(p.allowedValue)}, got ${JSON.stringify(e.data)}` };
    case "type":
      return { path, key: false, message: `${at} must be ${String(p.type).replace(/,/g, " or ")}, got ${Array.isArray(e.data) ? "a list" : e.data === null ? "null" : typeof e.data}` };
    case "pattern": {
      const def = /#\/\$defs\/(\w+)/.exec(e.schemaPath)?.[1];
      return { path, key: false, message: `${at} must be ${PATTERN_TEXT[def ?? ""] ?? `text matching ${String(p.pattern)}`}, got ${JSON.stringify(e.data)}` };
    }
    case "oneOf":
      if (JSON.stringify((e.parentSchema as Json | undefined)?.oneOf ?? "").includes('"tool_call"')) return { path, key: false, message: `${at} needs exactly one of "intent" and "tool_call"` };
      return { path, key: false, message: `${at} ${e.message ?? "is invalid"}` };
    case "not":
      if (JSON.stringify((e.parentSchema as Json | undefined)?.not ?? "").includes('"error"')) {
        return { path, key: false, message: `${at}: "error" expects no verdict, so it cannot be combined with verdict, reason_codes or violations` };
      }
      return { path, key: false, message: `${at} ${e.message ?? "is invalid"}` };
    case "if":
    case "anyOf":
      return undefined; // summarized by their own branch errors
    default:
      return { path, key: false, message: `${at} ${e.message ?? "is invalid"}` };
  }
}

/** Schema errors worth showing: a `oneOf` error replaces the `required` errors of its own branches. */
function usefulErrors(errors: ErrorObject[]): ErrorObject[] {
  const oneOfs = errors.filter((e) => e.keyword === "oneOf").map((e) => e.schemaPath);
  return errors.filter((e) => !(e.keyword === "required" && oneOfs.some((s) => e.schemaPath.startsWith(s + "/"))));
}

function isRecord(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep merge for intents: mappings merge key by key, anything else replaces, `null` removes the key. */
export function mergeIntent(base: Json | undefined, over: Json | undefined): Json {
  const out: Json = { ...(base ?? {}) };
  for (const [k, v] of Object.entries(over ?? {})) {
    if (v === null) delete out[k];
    else if (isRecord(v) && isRecord(out[k])) out[k] = mergeIntent(out[k] as Json, v);
    else out[k] = v;
  }
  return out;
}

/**
 * Read, validate and prepare a suite. `policyOverride` (a positional policy on the command line) replaces the
 * suite's `policy`. With `strict`, an unknown key in an intent is an error; otherwise a warning. Throws a usage
 * error (exit 6) whose lines read `<suite>:<line>:<column>: <problem>`.
 */
export async function loadSuite(ctx: CommandContext, file: string, policyOverride: string | undefined, strict: boolean): Promise<Suite> {
  const text = await readText(ctx, file, "suite");
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, strict: true, lineCounter: lines });
  const where = (loc: Located | undefined) => (loc ? `${file}:${loc.line}:${loc.column}` : file);
  const fail = (problems: string[], hint: string): CliError =>
    usageError(`invalid suite ${file}:\n${problems.join("\n")}`, hint);
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const { line, col } = lines.linePos(e.pos[0]);
      return `${file}:${line}:${col}: ${e.message.split("\n")[0]}`;
    });
    throw fail(problems, "fix the YAML at the positions shown");
  }
  const locate = locator(doc, lines);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw fail([`${file}: ${(e as Error).message}`], "fix the YAML");
  }
  const { validate, schema } = suiteValidator();
  if (!validate(data)) {
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const e of usefulErrors(validate.errors ?? [])) {
      const d = describeSchemaError(e, schema);
      if (!d) continue;
      const line = `${where(locate(d.path, d.key))}: ${d.message}`;
      if (!seen.has(line)) problems.push(line);
      seen.add(line);
    }
    throw fail(problems, "fix the suite at the positions shown; its format is schemas/policy-suite.schema.json (docs/policy-authoring.md)");
  }
  const suite = data as SuiteDoc;

  const problems: string[] = [];
  const names = new Map<string, number>();
  suite.cases.forEach((c, i) => {
    const prev = names.get(c.name);
    if (prev !== undefined) problems.push(`${where(locate(["cases", i, "name"]))}: case name "${c.name}" is used twice (first by cases[${prev}])`);
    else names.set(c.name, i);
  });
  // unknown intent keys: at their own place in the suite (defaults once, then each case's own intent)
  const unknown: string[] = [];
  const checkIntent = (intent: Json | undefined, path: Path) => {
    for (const k of unknownIntentKeys(intent)) {
      const keyPath: Path = [...path, ...k.path.split(/\.|\[(\d+)\]\.?/).filter((s) => s !== undefined && s !== "").map((s) => (/^\d+$/.test(s) ? Number(s) : s))];
      unknown.push(`${where(locate(keyPath, true))}: ${describeUnknownIntentKey(k)}`);
    }
  };
  checkIntent(suite.defaults?.intent, ["defaults", "intent"]);
  suite.cases.forEach((c, i) => {
    checkIntent(c.intent, ["cases", i, "intent"]);
    c.approval_tokens?.forEach((t, j) => checkIntent(t.for_intent, ["cases", i, "approval_tokens", j, "for_intent"]));
    c.preload?.forEach((p, j) => checkIntent(p.intent, ["cases", i, "preload", j, "intent"]));
  });
  if (strict) problems.push(...unknown);
  else for (const u of unknown) ctx.warn(`${u}; ignored (--strict refuses it)`);
  for (const t of [suite.defaults?.now, suite.defaults?.evaluation_time]) {
    if (t !== undefined && !parseRFC3339(t)) problems.push(`${where(locate(["defaults"]))}: ${JSON.stringify(t)} is not a valid time`);
  }
  if (problems.length > 0) throw fail(problems, strict ? "fix the keys shown, or drop --strict to only warn about unknown intent keys" : "fix the suite at the positions shown");

  // the policy: relative to the suite's folder, unless given on the command line (then relative to cwd)
  const policyPath = policyOverride ?? relative(ctx.io.cwd, resolve(dirname(ctx.path(file)), suite.policy));
  const policyText = await readText(ctx, policyPath, "policy");
  let policy: Policy;
  try {
    policy = parsePolicy(policyText);
  } catch (e) {
    throw policyFileError(ctx, policyPath, e);
  }
  return {
    file,
    name: suite.name ?? file,
    ...(suite.description !== undefined ? { description: suite.description } : {}),
    policyPath,
    policy,
    defaults: suite.defaults ?? {},
    cases: suite.cases.map((c, i) => ({ ...c, line: locate(["cases", i])?.line ?? 0 })),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------------------------

/** One difference between what a case expects and what it got. */
export interface Mismatch {
  field: keyof Expectation | "evaluation";
  want: unknown;
  got: unknown;
  /** for code lists: expected codes that are absent, and present codes that were not expected */
  missing?: string[];
  unexpected?: string[];
}

export interface CaseResult {
  name: string;
  line: number;
  status: "passed" | "failed" | "error";
  /** the decision, when the case produced one */
  verdict?: Verdict;
  reason_codes?: string[];
  violations?: string[];
  matched_rule?: string;
  /** the evaluation error, when there was one */
  error?: string;
  mismatches: Mismatch[];
  duration_ms: number;
}

export interface Coverage {
  rules_total: number;
  rules_reached: number;
  /** rule names in evaluation order that no case's decision matched */
  not_reached: string[];
  /** how many cases fell through to the policy's default verdict */
  default_verdict_cases: number;
}

export interface SuiteResult {
  suite: Suite;
  cases: CaseResult[];
  passed: number;
  failed: number;
  coverage: Coverage;
}

const sortCodes = (xs: readonly string[]) => [...new Set(xs)].sort();

/** Compare a decision (or an error) with the expectation. Pure; exported for tests. */
export function compareExpectation(expect: Expectation, outcome: { result?: GateResult; error?: string }): Mismatch[] {
  const out: Mismatch[] = [];
  const r = outcome.result;
  if (expect.error !== undefined) {
    if (outcome.error === undefined) {
      out.push({ field: "error", want: expect.error, got: r ? `verdict ${r.verdict} (no error)` : "no error" });
    } else if (!outcome.error.includes(expect.error)) {
      out.push({ field: "error", want: expect.error, got: outcome.error });
    }
  } else if (outcome.error !== undefined || !r) {
    out.push({ field: "evaluation", want: "a decision", got: `error: ${outcome.error ?? "no result"}` });
    return out;
  }
  if (!r) return out;
  if (expect.verdict !== undefined && r.verdict !== expect.verdict) out.push({ field: "verdict", want: expect.verdict, got: r.verdict });
  const exact = (field: "reason_codes" | "violations", want: string[] | undefined, got: string[]) => {
    if (want === undefined) return;
    const w = sortCodes(want);
    const g = sortCodes(got);
    const missing = w.filter((c) => !g.includes(c));
    const unexpected = g.filter((c) => !w.includes(c));
    if (missing.length || unexpected.length) out.push({ field, want: w, got: g, missing, unexpected });
  };
  const include = (field: "reason_codes_include" | "violations_include", want: string[] | undefined, got: string[]) => {
    if (want === undefined) return;
    const missing = sortCodes(want).filter((c) => !got.includes(c));
    if (missing.length) out.push({ field, want: sortCodes(want), got: sortCodes(got), missing });
  };
  exact("reason_codes", expect.reason_codes, r.reason_codes);
  include("reason_codes_include", expect.reason_codes_include, r.reason_codes);
  exact("violations", expect.violations, r.violations);
  include("violations_include", expect.violations_include, r.violations);
  if (expect.matched_rule !== undefined) {
    const got = r.matched_rule ?? null;
    if (got !== expect.matched_rule) out.push({ field: "matched_rule", want: expect.matched_rule, got });
  }
  return out;
}

interface Keys {
  suite: Signer & Verifier;
  other: Signer;
}

function timeOf(value: string | undefined, fallback: Date): Date {
  if (value === undefined) return fallback;
  const t = parseRFC3339(value);
  if (!t) throw new Error(`invalid time ${JSON.stringify(value)}`);
  return new Date(t.ms);
}

/** The raw intent a case evaluates: the tool call decoded by its adapter, or the intent merged over the defaults. */
function rawIntentOf(suite: Suite, c: CaseDoc, profile: GateOptions["profile"]): unknown {
  if (c.tool_call) return decodeToolCall(c.tool_call.adapter, c.tool_call.payload, profile ? { profile } : {}).intent;
  return mergeIntent(suite.defaults.intent, c.intent);
}

async function runCase(suite: Suite, c: Suite["cases"][number], keys: Keys, clock: Date): Promise<CaseResult> {
  const started = performance.now();
  const base: CaseResult = { name: c.name, line: c.line, status: "passed", mismatches: [], duration_ms: 0 };
  let result: GateResult | undefined;
  let error: string | undefined;
  try {
    const d = suite.defaults;
    const now = timeOf(c.now ?? d.now, clock);
    const evaluationTime = c.evaluation_time ?? d.evaluation_time;
    const profile = c.profile ?? d.profile;
    const simulate = c.simulate ?? d.simulate;
    const broker = c.broker ?? d.broker;
    const raw = rawIntentOf(suite, c, profile);
    const opts: GateOptions = {
      now,
      counters: new MemoryCounterStore(),
      approvalVerifier: keys.suite,
      delegationVerifier: keys.suite,
      producerVersion: producerVersion(),
      ...(evaluationTime !== undefined ? { evaluationTime: timeOf(evaluationTime, now) } : {}),
      ...(profile ? { profile } : {}),
      ...(simulate ? { simulate: true } : {}),
      ...(broker === "stub" ? { broker: stubBroker } : {}),
      ...(c.kill_switch !== undefined ? { killSwitch: parseKillSwitchState(c.kill_switch) } : {}),
    };
    if (c.approval_tokens?.length || c.delegation_tokens?.length) {
      const intent = normalizeIntent(raw);
      if (c.approval_tokens?.length) {
        opts.approvalTokens = c.approval_tokens.map((t): ApprovalToken =>
          mintApprovalToken(
            {
              intentDigest: t.for_intent ? normalizeIntent(mergeIntent(d.intent, t.for_intent)).intent_digest : intent.intent_digest,
              policyDigest: suite.policy.policy_digest,
              ttlMs: parseGoDuration(t.ttl ?? "1h"),
              scope: t.scope ?? requiredApprovalScopes(intent),
              approver: t.approver ?? "suite-approver",
              reasonCode: t.reason_code ?? "suite_approval",
              ...(t.max_targets !== undefined ? { maxTargets: t.max_targets } : {}),
              ...(t.max_ops !== undefined ? { maxOps: t.max_ops } : {}),
            },
            t.signed_by === "other" ? keys.other : keys.suite,
            timeOf(t.minted_at, now),
          ),
        );
      }
      if (c.delegation_tokens?.length) {
        opts.delegationTokens = c.delegation_tokens.map((t): DelegationToken =>
          mintDelegationToken(
            {
              delegator: t.delegator,
              delegate: t.delegate,
              scope: t.scope,
              ...(t.scope_class ? { scopeClass: t.scope_class } : {}),
              ...(t.bind_intent ? { intentDigest: intent.intent_digest, policyDigest: suite.policy.policy_digest } : {}),
              ttlMs: parseGoDuration(t.ttl ?? "1h"),
            },
            t.signed_by === "other" ? keys.other : keys.suite,
            timeOf(t.minted_at, now),
          ),
        );
      }
    }
    for (const pre of c.preload ?? []) {
      const preRaw = pre.intent ? mergeIntent(d.intent, pre.intent) : raw;
      const preOpts: GateOptions = { ...opts, ...(pre.now ? { now: timeOf(pre.now, now) } : {}) };
      for (let i = 0; i < pre.times; i++) await evaluateGate(suite.policy, preRaw, preOpts);
    }
    result = await evaluateGate(suite.policy, raw, opts);
  } catch (e) {
    error = (e as Error)?.message ?? String(e);
  }
  const mismatches = compareExpectation(c.expect, { ...(result ? { result } : {}), ...(error !== undefined ? { error } : {}) });
  const out: CaseResult = {
    ...base,
    status: mismatches.length === 0 ? "passed" : mismatches.some((m) => m.field === "evaluation") ? "error" : "failed",
    mismatches,
    duration_ms: performance.now() - started,
  };
  if (result) {
    out.verdict = result.verdict;
    out.reason_codes = result.reason_codes;
    out.violations = result.violations;
    if (result.matched_rule) out.matched_rule = result.matched_rule;
  }
  if (error !== undefined) out.error = error;
  return out;
}

/** Run every case in order (cases are independent: each has its own counter store). */
export async function runSuite(suite: Suite, clock: Date): Promise<SuiteResult> {
  const keys: Keys = { suite: ephemeralKeyPair(), other: ephemeralKeyPair() };
  const cases: CaseResult[] = [];
  for (const c of suite.cases) cases.push(await runCase(suite, c, keys, clock));
  const reached = new Set<string>();
  let defaultCases = 0;
  const defaultCode = `default_${suite.policy.default_verdict}`;
  for (const r of cases) {
    for (const name of (r.matched_rule ?? "").split(",")) if (name.trim()) reached.add(name.trim());
    if (r.verdict !== undefined && !r.matched_rule && r.reason_codes?.includes(defaultCode)) defaultCases++;
  }
  const rules = suite.policy.rules.map((r) => r.name);
  const passed = cases.filter((c) => c.status === "passed").length;
  return {
    suite,
    cases,
    passed,
    failed: cases.length - passed,
    coverage: {
      rules_total: rules.length,
      rules_reached: rules.filter((n) => reached.has(n)).length,
      not_reached: rules.filter((n) => !reached.has(n)),
      default_verdict_cases: defaultCases,
    },
  };
}
