/**
 * Compiled form of a normalized {@link Policy} for the hot path (gate.md §3.4, §4.14).
 *
 * `Policy` stays plain data (it is serialized, digested and shared between layers). Everything evaluation needs
 * beyond that data (sets instead of arrays, compiled path/domain globs, "is this constraint enabled" flags) is
 * derived once per policy object and cached in a WeakMap, so `evaluatePolicy` never compiles a regular expression
 * or builds a set per call. `parsePolicy` warms the cache; a policy object built by hand is compiled on first use.
 */
import { goJsonQuote } from "./canon.js";
import { goToLower } from "./intent.js";
import type { IntentRequest, Policy, PolicyRule, Target, Verdict } from "./types.js";
import { VERDICT_RANK } from "./types.js";

/** A set for a non-empty list, or null when the list is empty (= no constraint). */
type OptSet = ReadonlySet<string> | null;

function optSet(values: readonly string[] | undefined): OptSet {
  return values && values.length > 0 ? new Set(values) : null;
}

export interface CompiledMatch {
  toolNames: OptSet;
  riskClasses: OptSet;
  identities: OptSet;
  workspacePrefixes: readonly string[] | null;
  targetKinds: OptSet;
  targetValues: OptSet;
  destinationKinds: OptSet;
  destinationValues: OptSet;
  destinationOperations: OptSet;
  endpointClasses: OptSet;
  discoveryMethods: OptSet;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
  dataClasses: OptSet;
  provenanceSources: OptSet;
  skillPublishers: OptSet;
  skillSources: OptSet;
  contextToolNames: OptSet;
  contextDataClasses: OptSet;
  contextEndpointClasses: OptSet;
  contextAutonomyLevels: OptSet;
  /** any delegation key set: the intent must carry a delegation */
  delegationConstrained: boolean;
  allowedDelegators: OptSet;
  allowedDelegates: OptSet;
  delegationScopes: OptSet;
  maxDelegationDepth?: number;
}

export interface CompiledRule {
  rule: PolicyRule;
  match: CompiledMatch;
  /** fallback reason when the rule has no reason_codes: `matched_rule_<sanitized name>` */
  fallbackReason: string;
  dataflow: { taintedSources: ReadonlySet<string>; kinds: OptSet; values: OptSet; operations: OptSet } | null;
  endpoint: {
    pathAllow: PatternMatcher[];
    pathDeny: PatternMatcher[];
    domainAllow: PatternMatcher[];
    domainDeny: PatternMatcher[];
    egress: OptSet;
  } | null;
  contextRequired: boolean;
  agentEnabled: boolean;
  agent: { allowedIds: OptSet; deniedIds: OptSet; publishers: OptSet; sources: OptSet };
  credentialEnabled: boolean;
  credential: { sources: OptSet; issuers: OptSet; accessTypes: OptSet };
  sandbox: {
    networkModes: OptSet;
    envModes: OptSet;
    fsIsolations: OptSet;
    userModes: OptSet;
  } | null;
}

export interface CompiledPolicy {
  rules: CompiledRule[];
  failClosedRiskClasses: ReadonlySet<string>;
  /** `fail_closed.required_fields` as flags (checked on every fail-closed evaluation: no set lookups) */
  failClosedRequires: {
    targets: boolean;
    argProvenance: boolean;
    endpointClass: boolean;
    delegation: boolean;
    contextEvidence: boolean;
  };
  failClosedHighRiskFields: readonly string[];
}

const cache = new WeakMap<Policy, CompiledPolicy>();
// One-entry memo in front of the WeakMap: a process usually evaluates the same policy object over and over. (It keeps
// the last policy reachable until another one is evaluated.)
let lastPolicy: Policy | undefined;
let lastCompiled: CompiledPolicy | undefined;

/** Compiled form of `policy`, built once per policy object (the policy must not be mutated afterwards). */
export function compilePolicy(policy: Policy): CompiledPolicy {
  if (policy === lastPolicy) return lastCompiled!;
  let compiled = cache.get(policy);
  if (!compiled) {
    const fields = new Set(policy.fail_closed.required_fields);
    compiled = {
      rules: policy.rules.map(compileRule),
      failClosedRiskClasses: new Set(policy.fail_closed.enabled ? policy.fail_closed.risk_classes : []),
      failClosedRequires: {
        targets: fields.has("targets"),
        argProvenance: fields.has("arg_provenance"),
        endpointClass: fields.has("endpoint_class"),
        delegation: fields.has("delegation"),
        contextEvidence: fields.has("context_evidence"),
      },
      failClosedHighRiskFields: [...policy.fail_closed.required_high_risk_fields],
    };
    cache.set(policy, compiled);
  }
  lastPolicy = policy;
  lastCompiled = compiled;
  return compiled;
}

/** Gait's rule-name sanitizer for the fallback reason code: lowercase, spaces and `-` become `_`. */
export function sanitizeRuleName(name: string): string {
  // Gait sanitizeName: "" -> "rule"; else json.Marshal the (already trimmed) name, strings.Trim every leading and
  // trailing '"', spaces and '-' to '_', strings.ToLower. So `a<b` is `a\u003cb` and a tab is `\t` (issue 9 #5).
  if (name === "") return "rule";
  return goToLower(goJsonQuote(name).replace(/^"+|"+$/g, "").replace(/[ -]/g, "_"));
}

function compileRule(rule: PolicyRule): CompiledRule {
  const m = rule.match;
  const annotations = m.tool_annotations ?? {};
  const match: CompiledMatch = {
    toolNames: optSet(m.tool_names),
    riskClasses: optSet(m.risk_classes),
    identities: optSet(m.identities),
    workspacePrefixes: m.workspace_prefixes.length > 0 ? m.workspace_prefixes : null,
    targetKinds: optSet(m.target_kinds),
    targetValues: optSet(m.target_values),
    destinationKinds: optSet(m.destination_kinds),
    destinationValues: optSet(m.destination_values),
    destinationOperations: optSet(m.destination_operations),
    endpointClasses: optSet(m.endpoint_classes),
    discoveryMethods: optSet(m.discovery_methods),
    dataClasses: optSet(m.data_classes),
    provenanceSources: optSet(m.provenance_sources),
    skillPublishers: optSet(m.skill_publishers),
    skillSources: optSet(m.skill_sources),
    contextToolNames: optSet(m.context_tool_names),
    contextDataClasses: optSet(m.context_data_classes),
    contextEndpointClasses: optSet(m.context_endpoint_classes),
    contextAutonomyLevels: optSet(m.context_autonomy_levels),
    delegationConstrained:
      m.require_delegation ||
      m.allowed_delegator_identities.length > 0 ||
      m.allowed_delegate_identities.length > 0 ||
      m.delegation_scopes.length > 0 ||
      m.max_delegation_depth !== undefined,
    allowedDelegators: optSet(m.allowed_delegator_identities),
    allowedDelegates: optSet(m.allowed_delegate_identities),
    delegationScopes: optSet(m.delegation_scopes),
  };
  if (annotations.readOnlyHint !== undefined) match.readOnlyHint = annotations.readOnlyHint;
  if (annotations.destructiveHint !== undefined) match.destructiveHint = annotations.destructiveHint;
  if (annotations.idempotentHint !== undefined) match.idempotentHint = annotations.idempotentHint;
  if (annotations.openWorldHint !== undefined) match.openWorldHint = annotations.openWorldHint;
  if (m.max_delegation_depth !== undefined) match.maxDelegationDepth = m.max_delegation_depth;

  const df = rule.dataflow?.enabled ? rule.dataflow : undefined;
  const ep = rule.endpoint?.enabled ? rule.endpoint : undefined;
  const sb = rule.sandbox?.enabled ? rule.sandbox : undefined;
  return {
    rule,
    match,
    fallbackReason: "matched_rule_" + sanitizeRuleName(rule.name),
    dataflow: df
      ? {
          taintedSources: new Set(df.tainted_sources),
          kinds: optSet(df.destination_kinds),
          values: optSet(df.destination_values),
          operations: optSet(df.destination_operations),
        }
      : null,
    endpoint: ep
      ? {
          pathAllow: ep.path_allowlist.map(compilePathPattern),
          pathDeny: ep.path_denylist.map(compilePathPattern),
          domainAllow: ep.domain_allowlist.map(compileDomainPattern),
          domainDeny: ep.domain_denylist.map(compileDomainPattern),
          egress: optSet(ep.egress_classes),
        }
      : null,
    contextRequired:
      rule.require_context_evidence || rule.required_context_evidence_mode === "required" || rule.max_context_age_seconds > 0,
    agentEnabled:
      rule.require_declared_agent ||
      rule.allowed_agent_ids.length > 0 ||
      rule.denied_agent_ids.length > 0 ||
      !!rule.required_agent_manifest_digest ||
      rule.allowed_agent_manifest_publishers.length > 0 ||
      rule.allowed_agent_manifest_sources.length > 0 ||
      rule.required_agent_lifecycle_states.length > 0 ||
      rule.require_agent_owner ||
      rule.require_unexpired_agent,
    agent: {
      allowedIds: optSet(rule.allowed_agent_ids),
      deniedIds: optSet(rule.denied_agent_ids),
      publishers: optSet(rule.allowed_agent_manifest_publishers),
      sources: optSet(rule.allowed_agent_manifest_sources),
    },
    credentialEnabled:
      rule.block_standing_credentials ||
      rule.allowed_credential_sources.length > 0 ||
      rule.allowed_credential_issuers.length > 0 ||
      rule.allowed_credential_access_types.length > 0 ||
      rule.max_credential_ttl_seconds > 0 ||
      rule.require_jit_credential,
    credential: {
      sources: optSet(rule.allowed_credential_sources),
      issuers: optSet(rule.allowed_credential_issuers),
      accessTypes: optSet(rule.allowed_credential_access_types),
    },
    sandbox: sb
      ? {
          networkModes: optSet(sb.allowed_network_modes),
          envModes: optSet(sb.allowed_env_exposure_modes),
          fsIsolations: optSet(sb.allowed_filesystem_isolations),
          userModes: optSet(sb.allowed_user_modes),
        }
      : null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Rule matching (gate.md §3.4): AND across keys, OR within a list, empty list = no constraint.
// Target-list conditions are evaluated independently (kind may match target A and value target B).
// ---------------------------------------------------------------------------------------------------------------

function anyTarget(targets: readonly Target[], set: ReadonlySet<string>, pick: (t: Target) => string | undefined): boolean {
  for (const t of targets) if (set.has(pick(t) ?? "")) return true;
  return false;
}

function anyHint(targets: readonly Target[], want: boolean, pick: (t: Target) => boolean | undefined): boolean {
  for (const t of targets) if ((pick(t) ?? false) === want) return true;
  return false;
}

// Field pickers for anyTarget/anyHint, defined once (inline arrow functions would be allocated on every match).
const KIND = (t: Target) => t.kind;
const VALUE = (t: Target) => t.value;
const ENDPOINT_CLASS = (t: Target) => t.endpoint_class;
const DISCOVERY_METHOD = (t: Target) => t.discovery_method ?? "unknown";
const SENSITIVITY = (t: Target) => t.sensitivity;
const OPERATION = (t: Target) => t.operation;
const READ_ONLY_HINT = (t: Target) => t.read_only_hint;
const DESTRUCTIVE_HINT = (t: Target) => t.destructive_hint;
const IDEMPOTENT_HINT = (t: Target) => t.idempotent_hint;
const OPEN_WORLD_HINT = (t: Target) => t.open_world_hint;

/** `auth_context[key]` as Gait reads it for `context_*` matchers: a string, trimmed and lowercased; else "". */
function contextString(intent: IntentRequest, key: string): string {
  const v = intent.context.auth_context?.[key];
  return typeof v === "string" ? v.trim().toLowerCase() : "";
}

function contextMatches(set: OptSet, intent: IntentRequest, key: string): boolean {
  if (!set) return true;
  const v = contextString(intent, key);
  return v !== "" && set.has(v);
}

/** True when the rule's `match` block selects this (normalized) intent. */
export function ruleMatches(m: CompiledMatch, intent: IntentRequest): boolean {
  const ctx = intent.context;
  if (m.toolNames && !m.toolNames.has(intent.tool_name)) return false;
  if (m.riskClasses && !m.riskClasses.has(ctx.risk_class)) return false;
  if (m.identities && !m.identities.has(ctx.identity)) return false;
  if (m.workspacePrefixes) {
    // QUIRK (Gait): raw string prefix, so "/repo" also matches "/repository".
    let ok = false;
    for (const p of m.workspacePrefixes) if (ctx.workspace.startsWith(p)) { ok = true; break; }
    if (!ok) return false;
  }
  if (!contextMatches(m.contextToolNames, intent, "wrkr.tool_name")) return false;
  if (!contextMatches(m.contextDataClasses, intent, "wrkr.data_class")) return false;
  if (!contextMatches(m.contextEndpointClasses, intent, "wrkr.endpoint_class")) return false;
  if (!contextMatches(m.contextAutonomyLevels, intent, "wrkr.autonomy_level")) return false;
  const targets = intent.targets;
  if (m.targetKinds && !anyTarget(targets, m.targetKinds, KIND)) return false;
  if (m.targetValues && !anyTarget(targets, m.targetValues, VALUE)) return false;
  if (m.endpointClasses && !anyTarget(targets, m.endpointClasses, ENDPOINT_CLASS)) return false;
  if (m.discoveryMethods && !anyTarget(targets, m.discoveryMethods, DISCOVERY_METHOD)) return false;
  if (m.readOnlyHint !== undefined && !anyHint(targets, m.readOnlyHint, READ_ONLY_HINT)) return false;
  if (m.destructiveHint !== undefined && !anyHint(targets, m.destructiveHint, DESTRUCTIVE_HINT)) return false;
  if (m.idempotentHint !== undefined && !anyHint(targets, m.idempotentHint, IDEMPOTENT_HINT)) return false;
  if (m.openWorldHint !== undefined && !anyHint(targets, m.openWorldHint, OPEN_WORLD_HINT)) return false;
  if (m.skillPublishers) {
    const sp = intent.skill_provenance;
    if (!sp || !m.skillPublishers.has(sp.publisher.trim().toLowerCase())) return false;
  }
  if (m.skillSources) {
    const sp = intent.skill_provenance;
    if (!sp || !m.skillSources.has(sp.source.trim().toLowerCase())) return false;
  }
  if (m.dataClasses && !anyTarget(targets, m.dataClasses, SENSITIVITY)) return false;
  if (m.destinationKinds && !anyTarget(targets, m.destinationKinds, KIND)) return false;
  if (m.destinationValues && !anyTarget(targets, m.destinationValues, VALUE)) return false;
  if (m.destinationOperations && !anyTarget(targets, m.destinationOperations, OPERATION)) return false;
  if (m.provenanceSources) {
    let ok = false;
    for (const p of intent.arg_provenance ?? []) if (m.provenanceSources.has(p.source)) { ok = true; break; }
    if (!ok) return false;
  }
  if (m.delegationConstrained && !delegationMatches(m, intent)) return false;
  return true;
}

function delegationMatches(m: CompiledMatch, intent: IntentRequest): boolean {
  const d = intent.delegation;
  if (!d) return false;
  const chain = d.chain ?? [];
  if (m.maxDelegationDepth !== undefined && chain.length > m.maxDelegationDepth) return false;
  if (m.allowedDelegators) {
    let ok = false;
    for (const link of chain) if (m.allowedDelegators.has((link.delegator_identity ?? "").trim())) { ok = true; break; }
    if (!ok) return false;
  }
  if (m.allowedDelegates) {
    let ok = m.allowedDelegates.has(d.requester_identity.trim());
    if (!ok) for (const link of chain) if (m.allowedDelegates.has((link.delegate_identity ?? "").trim())) { ok = true; break; }
    if (!ok) return false;
  }
  if (m.delegationScopes) {
    let ok = m.delegationScopes.has((d.scope_class ?? "").trim().toLowerCase());
    if (!ok) for (const link of chain) if (m.delegationScopes.has((link.scope_class ?? "").trim().toLowerCase())) { ok = true; break; }
    if (!ok) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Path and domain patterns (gate.md §4.14)
// ---------------------------------------------------------------------------------------------------------------

/** A compiled pattern: returns true when `value` matches. */
export type PatternMatcher = (value: string) => boolean;

/**
 * Translate a Go `path.Match` glob to an anchored RegExp: `*` = any run of non-`/` characters, `?` = one non-`/`
 * character, `[...]` / `[^...]` character classes with ranges, `\` escapes. Returns null for a malformed pattern
 * (Go reports ErrBadPattern, which Gait treats as "no match").
 */
export function goGlobToRegExp(pattern: string): RegExp | null {
  const chars = Array.from(pattern);
  let out = "^";
  // Unicode-mode regexps only allow escaping syntax characters and "/" (plus "-" inside a class).
  const esc = (c: string) => c.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
  const escClass = (c: string) => c.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "\\") {
      if (i + 1 >= chars.length) return null;
      out += esc(chars[++i]!);
    } else if (c === "[") {
      let j = i + 1;
      let cls = "[";
      if (chars[j] === "^") { cls += "^"; j++; }
      let items = 0;
      for (;;) {
        if (j >= chars.length) return null; // unclosed class
        let lo = chars[j]!;
        if (lo === "]" && items > 0) break;
        if (lo === "]" || lo === "-") return null; // empty class or dangling range
        if (lo === "\\") { j++; if (j >= chars.length) return null; lo = chars[j]!; }
        j++;
        let item = escClass(lo);
        if (chars[j] === "-") {
          j++;
          let hi = chars[j];
          if (hi === undefined || hi === "]") return null;
          if (hi === "\\") { j++; hi = chars[j]; if (hi === undefined) return null; }
          j++;
          if (hi < lo) return null;
          item += "-" + escClass(hi);
        }
        cls += item;
        items++;
      }
      out += cls + "]";
      i = j;
    } else out += esc(c);
  }
  try {
    return new RegExp(out + "$", "u");
  } catch {
    return null;
  }
}

/** Path pattern: exact; `prefix/**` = prefix and its descendants; else a Go glob where `*` does not cross `/`. */
export function compilePathPattern(pattern: string): PatternMatcher {
  const p = pattern.trim();
  if (p === "") return () => false;
  const prefix = p.endsWith("/**") ? p.slice(0, -3) : null;
  const re = goGlobToRegExp(p);
  return (value) => {
    if (value === p) return true;
    if (prefix !== null && (value === prefix || value.startsWith(prefix + "/"))) return true;
    return re !== null && re.test(value);
  };
}

/** Domain pattern (lowercase): exact; `*.example.com` = any sub-domain (not the apex); else a Go glob. */
export function compileDomainPattern(pattern: string): PatternMatcher {
  const p = pattern.trim().toLowerCase();
  if (p === "") return () => false;
  const suffix = p.startsWith("*.") ? p.slice(1) : null;
  const re = goGlobToRegExp(p);
  return (value) => {
    if (value === p) return true;
    if (suffix !== null && value.endsWith(suffix)) return true;
    return re !== null && re.test(value);
  };
}

export function anyPattern(matchers: readonly PatternMatcher[], value: string): boolean {
  for (const m of matchers) if (m(value)) return true;
  return false;
}

/** The more restrictive of two verdicts (allow < dry_run < require_approval < block). */
export function maxVerdict(a: Verdict, b: Verdict): Verdict {
  return VERDICT_RANK[b] > VERDICT_RANK[a] ? b : a;
}
