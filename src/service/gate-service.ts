/**
 * The gate service: what the decision server does, written against plain types and free of any transport. The gRPC
 * and HTTP transports (src/transport/*) translate their requests into these calls and the {@link GateError}s out of
 * them into their statuses; authentication, admission and metrics wrap every call in one place there.
 *
 * - evaluate: one call through the decision pipeline (decide.ts) with the approval ledger, recorded in the trace log;
 * - approve / deny, listApprovals, getApproval: the approval ledger, every operator action recorded as a signed
 *   `gait.gate.operator_action` entry in the trace log (verifiable like decisions);
 * - exportTraces: the durable log from a cursor, each entry with its summary fields (parsed once, not per reader);
 * - setKillSwitch / listKillSwitches / clearKillSwitch: the kill-switch store the next decision reads, every change
 *   recorded as a signed operator action;
 * - watchDecisions: the trace log through an operator's filter (watch.ts);
 * - serverInfo.
 */
import { mintApprovalToken, parseApprovalToken } from "../engine/approval.js";
import { parseDelegationToken } from "../engine/delegation.js";
import { identityKey } from "../engine/identity.js";
import { signDocument, type Signer, type Verifier } from "../engine/signature.js";
import { formatGoTime, parseRFC3339 } from "../engine/time.js";
import type { ApprovalToken, DelegationToken, Policy, Profile, Verdict } from "../engine/types.js";
import type { CounterStore, CredentialBroker, IntentRequest, KillSwitchEntry, KillSwitchState } from "../engine/types.js";
import { buildSingleCallRunpack, normalizeRunId } from "../runpack/runpack.js";
import { writeRunpackFile } from "../runpack/store.js";
import type { ApprovalRequest, ApprovalState, ApprovalStore } from "../state/approvals.js";
import { makeEntry, type KillSwitchEntryInput } from "../state/killswitch-store.js";
import { OPERATOR_ACTION_SCHEMA_ID, TRACE_SCHEMA_ID, type SignedTraceRecord } from "../tracelog/format.js";
import { ledgerFlow } from "./approval-flow.js";
import { decide, type ApprovalLedgerFlow, type Decision, type DecisionEnv, type EvidenceSink } from "./decide.js";
import { asGateError, GateError } from "./errors.js";
import type { ServerMetrics } from "./metrics.js";
import { redactCall, type RedactedCall } from "./redact.js";
import { matchesWatch, watchFilterProblem, type WatchFilter } from "./watch.js";

/** What the service needs from the durable trace log (src/tracelog TraceLog). */
export interface TraceLogPort {
  append(record: SignedTraceRecord, recordText?: string): Promise<{ seq: number; hash: string }>;
  readFrom(fromSeq: number, opts: { follow: boolean; signal: AbortSignal }): AsyncIterable<{ readonly seq: number; readonly prev: string; readonly hash: string; recordText(): string }>;
  head(): { seq: number; hash: string };
  oldestSeq(): number;
}

/** The policy in force (the server reloads it; the service reads it per call). */
export interface PolicySource {
  readonly current: { policy: Policy; digest: string; path: string };
  readonly reloadError?: string;
}

/**
 * The kill switch in force, or why it cannot be read; a store (state/killswitch-store.ts KillSwitchStore) also lets
 * operators change it. Without list/set/clear the kill-switch operator methods answer that it cannot be changed.
 */
export interface KillSwitchSource {
  current(): KillSwitchState | { unavailable: string } | undefined;
  list?(): Promise<KillSwitchEntry[]>;
  set?(entry: KillSwitchEntryInput, actor: string): Promise<KillSwitchEntry>;
  clear?(entryId: string, actor: string): Promise<KillSwitchEntry | undefined>;
}

/** A kill-switch entry to set (SetKillSwitch). */
export interface KillSwitchSetInput {
  entryId?: string;
  selectors: Pick<KillSwitchEntry, "agent_id" | "identity" | "tool_name" | "target_kind" | "target_value" | "environment" | "path_prefixes" | "workspace_prefixes">;
  reason: string;
  actor: string;
  /** Expiry as a lifetime from now (ms) or an RFC 3339 time; at most one. */
  ttlMs?: number;
  expiresAt?: string;
}

/** A kill-switch entry as the operator sees it: with whether it is in force now. */
export type KillSwitchView = KillSwitchEntry & { active: boolean };

/** One line of the opt-in decision log (never arguments or targets: they may carry secrets). */
export interface DecisionLogFields {
  seq: number;
  verdict?: Verdict;
  tool_name: string;
  identity: string;
  reason_codes: string[];
  trace_id: string;
  latency_ms?: number;
  approval_request_id?: string;
}

/** Keys the service signs and verifies with. */
export interface ServiceKeys {
  signer: Signer & Verifier & { readonly publicKey: Uint8Array };
  mode: "dev" | "prod";
  approvalVerifier?: Verifier;
  delegationVerifier?: Verifier;
}

/** The decision settings of the service (its slice of the configuration). */
export interface DecisionSettings {
  profile: Profile;
  /** Adapter for a tool call that names none. */
  adapter: string;
  /** Gait behaviour: tokens reusable until they expire. */
  approvalReuse: boolean;
  approvalRequestTtlMs: number;
  /** Where `emit_runpack` writes (unset: emit_runpack is refused). */
  runpackDir?: string;
  credentialRef?: string;
  credentialScopes: string[];
  /** Where records go, as reported to callers (`trace_path`). */
  traceDir: string;
}

export interface GateServiceDeps {
  settings: DecisionSettings;
  policy: PolicySource;
  keys: ServiceKeys;
  killSwitch: KillSwitchSource;
  counters: CounterStore;
  broker?: CredentialBroker;
  traceLog: TraceLogPort;
  approvals: ApprovalStore;
  metrics: ServerMetrics;
  producerVersion: string;
  /** Service events worth a log line (never per decision). */
  log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
  /** The signing worker (`--signing-worker`, on by default): signs trace records on a worker thread while more than
   * {@link OFFLOAD_SIGNING_ABOVE} decisions are in flight; must sign with `keys.signer`'s key. */
  signPool?: { readonly keyId: string; sign(digest: Uint8Array): Promise<Uint8Array> };
  /** The opt-in decision log (`--decision-log`): called once per recorded decision; sampling is the callee's. */
  decisionLog?: (fields: DecisionLogFields) => void;
  now?: () => Date;
}

/** One Evaluate call. */
export interface EvaluateInput {
  intent?: unknown;
  toolCall?: { adapter: string; payload: unknown };
  runId?: string;
  sessionId?: string;
  /** Approval and delegation token JSON documents. */
  approvalTokens?: readonly string[];
  delegationTokens?: readonly string[];
  approvalRequestId?: string;
  emitRunpack?: boolean;
  cancelled?: () => boolean;
}

/** Who calls an operator method (authenticated by the transport). */
export interface OperatorCaller {
  /** The identity an operator credential names; when set, it is the approver. */
  identity?: string;
}

export interface ApproveInput {
  target: { requestId: string } | { intentDigest: string; policyDigest: string; delegationBindingDigest?: string };
  decision: "grant" | "deny";
  /** The approver the request names (must match the caller's identity when the transport authenticated one). */
  approver: string;
  reasonCode: string;
  ttlMs: number;
  scopes: string[];
  maxTargets?: number;
  maxOps?: number;
}

export interface ApproveOutput {
  request?: ApprovalRequest;
  token?: ApprovalToken;
}

export interface ExportEntry {
  seq: number;
  prev: string;
  hash: string;
  recordText: string;
  summary: RecordSummary;
}

/** The fields of a record an exporter filters and shows by, parsed once per entry. */
export interface RecordSummary {
  kind: "decision" | "operator_action" | "unknown";
  trace_id: string;
  event_id: string;
  verdict?: Verdict;
  tool_name: string;
  identity: string;
  reason_codes: string[];
  created_at: string;
  action?: string;
  actor?: string;
  /** When the record was written (a decision's `observed_at`, wall clock; its created_at is the intent's time). */
  observed_at?: string;
  /** Decisions made by this process: the evaluation latency (not part of the signed record). */
  latency_ms?: number;
  /** The approval request a require_approval decision opened, or the one an operator action answered. */
  approval_request_id?: string;
}

export interface ServerInfo {
  keyId: string;
  publicKey: Uint8Array;
  keyMode: "dev" | "prod";
  policyDigest: string;
  policyPath: string;
  traceHeadSeq: number;
  traceHeadHash: string;
  version: string;
  policyReloadError: string;
}

/** Summaries of recent entries, keyed by seq: live followers get them without parsing the record again. */
class SummaryCache {
  private readonly m = new Map<number, RecordSummary>();
  /** 2,048: followers at the head (watchers, exports notified on each commit) read well within it; an older entry is
   * summarized again from its record text, without what only the pipeline knew (latency, the approval request, the
   * service's reason codes). 10,000 held ~12 MB more RSS at 64 in flight (bench/server/loadgen.py, alternating runs:
   * 138-145 against 128-132 MB), the room the signing worker takes. */
  constructor(private readonly max = 2_048) {}
  set(seq: number, s: RecordSummary): void {
    this.m.set(seq, s);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }
  get(seq: number): RecordSummary | undefined {
    return this.m.get(seq);
  }
}

/** The summary of a record document. */
export function summarize(doc: Record<string, unknown>): RecordSummary {
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  // a trace record names its agent in the relationship envelope (Gait's entity_refs, kind "agent")
  const refs = (doc.relationship as { entity_refs?: { kind?: unknown; id?: unknown }[] } | undefined)?.entity_refs;
  const agent = Array.isArray(refs) ? refs.find((r) => r && r.kind === "agent")?.id : undefined;
  if (doc.schema_id === OPERATOR_ACTION_SCHEMA_ID) {
    return {
      kind: "operator_action", trace_id: "", event_id: str(doc.action_id), tool_name: str(doc.tool_name), identity: str(doc.actor), reason_codes: str(doc.reason_code) ? [str(doc.reason_code)] : [], created_at: str(doc.created_at), action: str(doc.action), actor: str(doc.actor),
      ...(str(doc.approval_request_id) ? { approval_request_id: str(doc.approval_request_id) } : {}),
    };
  }
  return {
    kind: doc.schema_id === TRACE_SCHEMA_ID ? "decision" : "unknown",
    trace_id: str(doc.trace_id),
    event_id: str(doc.event_id),
    verdict: typeof doc.verdict === "string" ? (doc.verdict as Verdict) : undefined,
    tool_name: str(doc.tool_name),
    identity: str(agent),
    // a Gait trace record carries no reason codes of its own: those of its kill-switch decision and delegation
    // (decisions of this process get the full list from the pipeline, see the sink)
    reason_codes: [...new Set([...strings(doc.reason_codes), ...strings((doc.kill_switch as { reason_codes?: unknown } | undefined)?.reason_codes)])].sort(),
    created_at: str(doc.created_at),
    ...(str(doc.observed_at) ? { observed_at: str(doc.observed_at) } : {}),
  };
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

const EMPTY_SUMMARY: RecordSummary = { kind: "unknown", trace_id: "", event_id: "", tool_name: "", identity: "", reason_codes: [], created_at: "" };

/**
 * Decisions in flight above which a record is signed on the signing worker (`--signing-worker`). Measured with
 * bench/server/loadgen.py, alternating runs: offloading from 2 in flight on gained nothing at 8 in flight and cost
 * CPU there (a batch of one or two digests costs the main thread about what signing them does: the message, the
 * reply, the wake-ups); from 17 on, 64 in flight gained 12-19% decisions/s.
 */
export const OFFLOAD_SIGNING_ABOVE = 16;

export class GateService {
  private readonly summaries = new SummaryCache();
  /** Redacted views of the calls waiting for approval, by request id (this process's; bounded, oldest dropped). */
  private readonly waitingCalls = new Map<string, RedactedCall>();
  private readonly now: () => Date;
  /** Built once: the parts of a decision's environment that do not change per call (no closures per call). */
  private readonly ledgerFlow: ApprovalLedgerFlow;
  private readonly sink: EvidenceSink;
  private readonly runpackSink: EvidenceSink;
  /** Decisions between evaluate() and their result. */
  private evaluating = 0;
  private readonly evaluated = (): void => void this.evaluating--;
  /** A decision's signature: on the signing worker while many decisions wait for the main thread, else inline. */
  private readonly signAsync: ((digest: Uint8Array) => Promise<Uint8Array>) | undefined;

  constructor(private readonly d: GateServiceDeps) {
    this.now = d.now ?? (() => new Date());
    const pool = d.signPool;
    if (pool && pool.keyId !== d.keys.signer.keyId) throw new Error(`signing worker key ${pool.keyId} is not the server's key ${d.keys.signer.keyId}`);
    const signer = d.keys.signer;
    this.signAsync = pool
      ? (digest) => (this.evaluating > OFFLOAD_SIGNING_ABOVE ? pool.sign(digest) : new Promise((resolve) => resolve(signer.sign(digest))))
      : undefined;
    const s = d.settings;
    this.ledgerFlow = ledgerFlow({
      store: d.approvals,
      reuse: s.approvalReuse,
      requestTtlMs: s.approvalRequestTtlMs,
      onCreated: () => d.metrics.approvalsCreated.inc(),
      onFull: (m) => d.log("warn", "approval request not created", { err: m }),
    });
    this.sink = {
      record: async (record, text, call) => {
        const t0 = performance.now();
        const { seq } = await d.traceLog.append(record as unknown as SignedTraceRecord, text);
        d.metrics.traceAppend.observe((performance.now() - t0) / 1000);
        const summary = summarize(record as unknown as Record<string, unknown>);
        if (call.latencyMs !== undefined) summary.latency_ms = call.latencyMs;
        if (call.approvalRequestId) summary.approval_request_id = call.approvalRequestId;
        if (call.reasonCodes) summary.reason_codes = call.reasonCodes;
        if (call.approvalRequestId && call.intent) this.noteWaitingCall(call.approvalRequestId, call.intent);
        this.summaries.set(seq, summary);
        if (d.decisionLog) this.logDecision(seq, summary);
        return { seq, path: s.traceDir };
      },
    };
    this.runpackSink = { record: this.sink.record, artifacts: (dec: Decision) => this.writeRunpack(dec) };
  }

  /** Decide one call; the record is durable before this resolves. Throws GateError. */
  evaluate(input: EvaluateInput): Promise<Decision> {
    const d = this.d;
    const s = d.settings;
    if (input.emitRunpack && !s.runpackDir) return Promise.reject(new GateError("INVALID_ARGUMENT", "emit_runpack requires the server to run with --runpack-dir"));
    let approvalTokens: ApprovalToken[];
    let delegationTokens: DelegationToken[];
    try {
      approvalTokens = input.approvalTokens?.length ? parseDocs(input.approvalTokens, "approval token", parseApprovalToken) : [];
      delegationTokens = input.delegationTokens?.length ? parseDocs(input.delegationTokens, "delegation token", parseDelegationToken) : [];
    } catch (e) {
      return Promise.reject(e);
    }
    const env: DecisionEnv = {
      mode: "gate",
      policy: d.policy.current.policy,
      profile: s.profile,
      defaultAdapter: s.adapter,
      signer: d.keys.signer,
      signAsync: this.signAsync,
      producerVersion: d.producerVersion,
      now: this.now,
      // one shape for every call (absent options are undefined)
      gate: {
        counters: d.counters,
        killSwitch: d.killSwitch.current(),
        approvalVerifier: approvalVerifierFor(d.keys, s.profile, approvalTokens),
        delegationVerifier: delegationVerifierFor(d.keys, s.profile),
        broker: d.broker,
        brokerReference: s.credentialRef,
        brokerScopes: s.credentialScopes,
      },
      ledger: this.ledgerFlow,
      sink: input.emitRunpack ? this.runpackSink : this.sink,
    };
    this.evaluating++;
    return decide(
      {
        intent: input.intent,
        toolCall: input.toolCall,
        runId: input.runId,
        sessionId: input.sessionId,
        approvalTokens,
        delegationTokens,
        approvalRequestId: input.approvalRequestId,
        cancelled: input.cancelled,
      },
      env,
    ).finally(this.evaluated);
  }

  /** Grant or deny an approval request, or mint a token for bare digests. Records the action. Throws GateError. */
  async approve(input: ApproveInput, caller: OperatorCaller = {}): Promise<ApproveOutput> {
    const d = this.d;
    const approver = this.approverOf(input.approver, caller);
    const t = input.target;
    if ("requestId" in t) {
      const rec = await this.ledger(() => d.approvals.get(t.requestId));
      if (!rec) throw new GateError("APPROVAL_REQUEST_NOT_FOUND", `approval request ${t.requestId} not found`);
      const id = rec.approval_request_id;
      if (rec.state !== "pending" && rec.state !== "granted") {
        throw new GateError("APPROVAL_REQUEST_NOT_PENDING", `approval request ${id} is ${rec.state}; it can no longer be answered`);
      }
      if (input.decision === "deny") {
        const after = await this.ledger(() => d.approvals.deny(id, approver, input.reasonCode.trim()));
        await this.recordAction("approval_deny", approver, { approval_request_id: id, tool_name: rec.tool_name, intent_digest: rec.intent_digest, policy_digest: rec.policy_digest, reason_code: input.reasonCode.trim(), revoked_token_ids: rec.tokens.map((x) => x.token_id) });
        d.log("info", "approval request denied", { approval_request_id: id, approver, revoked_tokens: rec.tokens.length });
        return { request: after };
      }
      // one token per approver and request: a repeated grant returns the token already granted (no second token,
      // no second execution); the agent whose call waits cannot approve it
      if (identityKey(rec.identity) === identityKey(approver)) {
        throw new GateError("APPROVER_NOT_ALLOWED", `approver ${JSON.stringify(approver)} is the identity whose call is waiting; an agent cannot approve its own call`);
      }
      const nowMs = this.now().getTime();
      const held = rec.tokens.find((x) => identityKey(x.approver_identity ?? "") === identityKey(approver) && (parseRFC3339(x.expires_at ?? "")?.ms ?? 0) > nowMs);
      if (held) {
        d.log("info", "approval already granted by this approver; returning the same token", { approval_request_id: id, approver, token_id: held.token_id });
        return { request: rec, token: held };
      }
      const minted = this.mint({
        intentDigest: rec.intent_digest,
        policyDigest: rec.policy_digest,
        delegationBindingDigest: rec.delegation_binding_digest,
        ttlMs: input.ttlMs,
        scope: input.scopes.length ? input.scopes : rec.required_scopes.length ? rec.required_scopes : [`tool:${rec.tool_name}`],
        approver,
        reasonCode: input.reasonCode,
        maxTargets: input.maxTargets || undefined,
        maxOps: input.maxOps || undefined,
      });
      const g = await this.ledger(() => d.approvals.grant(id, minted));
      if (g.added) {
        await this.recordAction("approval_grant", approver, { approval_request_id: id, tool_name: rec.tool_name, intent_digest: rec.intent_digest, policy_digest: rec.policy_digest, reason_code: input.reasonCode, token_id: g.token.token_id, expires_at: g.token.expires_at, state: g.request.state });
      }
      d.log("info", "approval granted", { approval_request_id: id, approver, token_id: g.token.token_id, state: g.request.state });
      return { request: g.request, token: g.token };
    }
    if (input.decision !== "grant") throw new GateError("INVALID_ARGUMENT", "deny needs an approval_request_id (there is nothing to deny for bare digests)");
    if (!input.scopes.length) throw new GateError("INVALID_ARGUMENT", "scopes are required when minting for digests (e.g. tool:<tool_name>)");
    const token = this.mint({
      intentDigest: t.intentDigest,
      policyDigest: t.policyDigest,
      delegationBindingDigest: t.delegationBindingDigest || undefined,
      ttlMs: input.ttlMs,
      scope: input.scopes,
      approver,
      reasonCode: input.reasonCode,
      maxTargets: input.maxTargets || undefined,
      maxOps: input.maxOps || undefined,
    });
    await this.recordAction("approval_mint", approver, { intent_digest: token.intent_digest, policy_digest: token.policy_digest, reason_code: input.reasonCode, token_id: token.token_id, expires_at: token.expires_at });
    d.log("info", "approval token minted for digests", { approver, token_id: token.token_id });
    return { token };
  }

  async listApprovals(q: { states?: ApprovalState[]; pageSize?: number; pageToken?: string }): Promise<{ requests: ApprovalRequest[]; nextPageToken?: string }> {
    const page = await this.ledger(() =>
      this.d.approvals.list({ states: q.states?.length ? q.states : ["pending"], page_size: q.pageSize ?? 100, ...(q.pageToken ? { page_token: q.pageToken } : {}) }),
    );
    return { requests: page.requests, ...(page.next_page_token ? { nextPageToken: page.next_page_token } : {}) };
  }

  async getApproval(id: string): Promise<ApprovalRequest> {
    if (!id) throw new GateError("INVALID_ARGUMENT", "approval_request_id is required");
    const rec = await this.ledger(() => this.d.approvals.get(id));
    if (!rec) throw new GateError("APPROVAL_REQUEST_NOT_FOUND", `approval request ${id} not found`);
    return rec;
  }

  /**
   * Entries from `from` (0 = the oldest retained), in order; with `follow`, waits for new ones until `signal` aborts.
   * Throws GateError for a cursor retention removed (OUT_OF_RANGE) or one beyond the head.
   */
  async *exportTraces(o: { from: number; follow: boolean; max: number; signal: AbortSignal }): AsyncGenerator<ExportEntry> {
    const log = this.d.traceLog;
    const oldest = log.oldestSeq();
    const from = o.from === 0 ? oldest : o.from;
    if (!Number.isSafeInteger(from)) throw new GateError("INVALID_CURSOR", "from_sequence is out of range");
    if (from < oldest) {
      throw new GateError(
        "INVALID_CURSOR",
        `entries before sequence ${oldest} were removed by retention (--trace-max-age/--trace-max-count); resume from ${oldest} or 0 to accept the gap`,
        { kind: "out_of_range" },
      );
    }
    const head = log.head().seq;
    if (from > head + 1) throw new GateError("INVALID_CURSOR", `from_sequence ${from} is beyond the log head ${head} (resume with the last received sequence + 1)`);
    let n = 0;
    for await (const e of log.readFrom(from, { follow: o.follow, signal: o.signal })) {
      const text = e.recordText();
      let summary = this.summaries.get(e.seq);
      if (!summary) {
        try {
          summary = summarize(JSON.parse(text) as Record<string, unknown>);
        } catch {
          summary = EMPTY_SUMMARY; // the text is sent as stored
        }
        this.summaries.set(e.seq, summary);
      }
      yield { seq: e.seq, prev: e.prev, hash: e.hash, recordText: text, summary };
      if (o.max > 0 && ++n >= o.max) return;
    }
  }

  /** Add (or replace) a kill-switch entry; in force for the next decision. Recorded. Throws GateError. */
  async setKillSwitch(input: KillSwitchSetInput, caller: OperatorCaller = {}): Promise<KillSwitchView> {
    const store = this.killSwitchStore();
    const actor = this.operatorOf(input.actor, caller, "actor");
    const reason = input.reason.trim();
    if (!reason) throw new GateError("INVALID_ARGUMENT", "reason is required: say why the kill switch is set (it is shown to operators and recorded)");
    if (input.ttlMs !== undefined && input.expiresAt !== undefined) throw new GateError("INVALID_ARGUMENT", "set ttl or expires_at, not both");
    const now = this.now();
    let expires_at: string | undefined;
    if (input.ttlMs !== undefined) {
      if (!(input.ttlMs > 0)) throw new GateError("INVALID_ARGUMENT", "ttl must be positive (e.g. 30m); leave it unset for an entry that stays until cleared");
      expires_at = formatGoTime(new Date(now.getTime() + input.ttlMs));
    } else if (input.expiresAt !== undefined) {
      const p = parseRFC3339(input.expiresAt);
      if (!p) throw new GateError("INVALID_ARGUMENT", `expires_at ${JSON.stringify(input.expiresAt)} is not an RFC 3339 time`);
      if (p.ms <= now.getTime()) throw new GateError("INVALID_ARGUMENT", `expires_at ${input.expiresAt} is not in the future; an expired entry would block nothing`);
      expires_at = input.expiresAt;
    }
    const entryInput: KillSwitchEntryInput = { ...dropEmpty(input.selectors), reason, ...(expires_at ? { expires_at } : {}), ...(input.entryId?.trim() ? { entry_id: input.entryId.trim() } : {}) };
    try {
      makeEntry(entryInput, actor, now); // the engine's validation, as the caller's error (the store repeats it)
    } catch (e) {
      throw new GateError("INVALID_ARGUMENT", (e as Error).message, { cause: e });
    }
    const entry = await this.killSwitchCall(() => store.set(entryInput, actor));
    await this.recordAction("kill_switch_set", actor, { ...entryFields(entry) });
    this.d.log("info", "kill switch set", { entry_id: entry.entry_id, actor, expires_at: entry.expires_at });
    return this.view(entry);
  }

  /** The kill-switch entries, active ones unless `includeInactive`. Throws GateError. */
  async listKillSwitches(q: { includeInactive?: boolean } = {}): Promise<KillSwitchView[]> {
    const src = this.d.killSwitch;
    const entries = src.list ? await this.killSwitchCall(() => src.list!()) : currentEntries(src.current());
    const views = entries.map((e) => this.view(e));
    return q.includeInactive ? views : views.filter((v) => v.active);
  }

  /** Remove an entry, or expire it now (`expire`). Recorded. Throws GateError (KILL_SWITCH_ENTRY_NOT_FOUND). */
  async clearKillSwitch(input: { entryId: string; expire: boolean; actor: string; reason: string }, caller: OperatorCaller = {}): Promise<KillSwitchView> {
    const store = this.killSwitchStore();
    const actor = this.operatorOf(input.actor, caller, "actor");
    const id = input.entryId.trim();
    if (!id) throw new GateError("INVALID_ARGUMENT", "entry_id is required (see ListKillSwitches / gait killswitch list)");
    let after: KillSwitchEntry | undefined;
    if (input.expire) {
      const hit = (await this.killSwitchCall(() => store.list())).find((e) => e.entry_id === id);
      if (hit) {
        const { entry_id: _i, enabled: _e, actor: _a, created_at: _c, expires_at: _x, ...rest } = hit;
        after = await this.killSwitchCall(() => store.set({ ...rest, entry_id: id, expires_at: formatGoTime(this.now()) }, actor));
      }
    } else if ((await this.killSwitchCall(() => store.list())).some((e) => e.entry_id === id)) {
      after = await this.killSwitchCall(() => store.clear(id, actor));
    }
    if (!after) throw new GateError("KILL_SWITCH_ENTRY_NOT_FOUND", `kill-switch entry ${id} not found (list the entries with 'gait killswitch list --all')`);
    await this.recordAction("kill_switch_clear", actor, { ...entryFields(after), mode: input.expire ? "expire" : "remove", ...(input.reason.trim() ? { clear_reason: input.reason.trim() } : {}) });
    this.d.log("info", input.expire ? "kill switch expired" : "kill switch removed", { entry_id: id, actor });
    return this.view(after);
  }

  /** The trace log through an operator's filter; `max` counts matching entries. Throws GateError. */
  async *watchDecisions(o: { from: number; follow: boolean; max: number; filter: WatchFilter; signal: AbortSignal }): AsyncGenerator<ExportEntry> {
    const problem = watchFilterProblem(o.filter);
    if (problem) throw new GateError("INVALID_ARGUMENT", `filter ${problem}`);
    let n = 0;
    for await (const e of this.exportTraces({ from: o.from, follow: o.follow, max: 0, signal: o.signal })) {
      if (!matchesWatch(e.summary, o.filter)) continue;
      yield e;
      if (o.max > 0 && ++n >= o.max) return;
    }
  }

  /**
   * The redacted arguments and targets of the call an approval request waits on, when this process made that
   * decision (the ledger keeps digests only; after a restart the view is gone and undefined is returned).
   */
  waitingCall(approvalRequestId: string): RedactedCall | undefined {
    return this.waitingCalls.get(approvalRequestId);
  }

  private noteWaitingCall(id: string, intent: IntentRequest): void {
    if (this.waitingCalls.has(id)) return;
    try {
      this.waitingCalls.set(id, redactCall(intent));
    } catch {
      return; // a view is a convenience; the decision stands without it
    }
    if (this.waitingCalls.size > 10_000) this.waitingCalls.delete(this.waitingCalls.keys().next().value!);
  }

  /** Whether the policy in force and the kill switch can be read (the console's status panel). */
  killSwitchStatus(): { configured: boolean; unavailable?: string; entries: number } {
    const cur = this.d.killSwitch.current();
    if (cur && "unavailable" in cur) return { configured: true, unavailable: cur.unavailable, entries: 0 };
    return { configured: !!this.d.killSwitch.set && cur !== undefined, entries: cur?.entries.length ?? 0 };
  }

  serverInfo(version: string): ServerInfo {
    const head = this.d.traceLog.head();
    const cur = this.d.policy.current;
    return {
      keyId: this.d.keys.signer.keyId,
      publicKey: this.d.keys.signer.publicKey,
      keyMode: this.d.keys.mode,
      policyDigest: cur.digest,
      policyPath: cur.path,
      traceHeadSeq: head.seq,
      traceHeadHash: head.hash,
      version,
      policyReloadError: this.d.policy.reloadError ?? "",
    };
  }

  // ---- internals --------------------------------------------------------------------------------------------------

  /** The approving identity: the caller's authenticated identity when there is one (a different claim is refused). */
  private approverOf(claimed: string, caller: OperatorCaller): string {
    return this.operatorOf(claimed, caller, "approver");
  }

  /** The acting operator: the caller's authenticated identity when there is one (a different claim is refused). */
  private operatorOf(claimed: string, caller: OperatorCaller, field: "approver" | "actor"): string {
    const fromBody = claimed.trim();
    if (caller.identity !== undefined) {
      if (fromBody && identityKey(fromBody) !== identityKey(caller.identity)) {
        throw new GateError("APPROVER_NOT_ALLOWED", `${field} ${JSON.stringify(fromBody)} is not the identity of this operator token (${JSON.stringify(caller.identity)})`);
      }
      return caller.identity;
    }
    if (!identityKey(fromBody)) throw new GateError("INVALID_ARGUMENT", field === "approver" ? "approver is required (the approving identity)" : "actor is required (who acts; e.g. --actor you@example.com)");
    if (fromBody.length > 256) throw new GateError("INVALID_ARGUMENT", `${field} is longer than 256 characters`);
    return fromBody;
  }

  private killSwitchStore(): Required<KillSwitchSource> {
    const k = this.d.killSwitch;
    if (!k.set || !k.clear || !k.list) throw new GateError("STATE_UNAVAILABLE", "this server's kill switch cannot be changed", { kind: "precondition" });
    return k as Required<KillSwitchSource>;
  }

  /** Kill-switch store calls fail closed as STATE_UNAVAILABLE (nothing changed). */
  private async killSwitchCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if ((e as Error)?.name === "KillSwitchStateError") throw new GateError("INVALID_ARGUMENT", (e as Error).message, { cause: e });
      throw asGateError(e, (x) => new GateError("STATE_UNAVAILABLE", `kill switch: ${(x as Error).message}`, { cause: x, kind: /nowhere to keep entries/.test((x as Error).message) ? "precondition" : "unavailable" }));
    }
  }

  private view(e: KillSwitchEntry): KillSwitchView {
    const exp = e.expires_at ? parseRFC3339(e.expires_at) : undefined;
    // an unparsable expiry never expires (the engine keeps it active: fail closed)
    return { ...e, active: e.enabled && (exp === undefined || exp.ms > this.now().getTime()) };
  }

  private logDecision(seq: number, s: RecordSummary): void {
    this.d.decisionLog!({
      seq,
      ...(s.verdict ? { verdict: s.verdict } : {}),
      tool_name: s.tool_name,
      identity: s.identity,
      reason_codes: s.reason_codes,
      trace_id: s.trace_id,
      ...(s.latency_ms !== undefined ? { latency_ms: Math.round(s.latency_ms * 1000) / 1000 } : {}),
      ...(s.approval_request_id ? { approval_request_id: s.approval_request_id } : {}),
    });
  }

  private mint(p: Omit<Parameters<typeof mintApprovalToken>[0], "producerVersion">): ApprovalToken {
    if (!(p.ttlMs > 0)) throw new GateError("INVALID_ARGUMENT", "ttl is required for a grant and must be positive (e.g. 900s)");
    if (!p.reasonCode.trim()) throw new GateError("INVALID_ARGUMENT", "reason_code is required for a grant");
    try {
      return mintApprovalToken({ ...p, producerVersion: this.d.producerVersion }, this.d.keys.signer, this.now());
    } catch (e) {
      if ((e as Error).name === "TokenMintError") throw new GateError("INVALID_ARGUMENT", (e as Error).message, { cause: e });
      throw new GateError("SIGNING_FAILED", `mint approval token: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Ledger calls fail closed as STATE_UNAVAILABLE (or their own reason). */
  private async ledger<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw asGateError(e, (x) => new GateError("STATE_UNAVAILABLE", `approval state unavailable: ${(x as Error).message}`, { cause: x }));
    }
  }

  /**
   * Record an operator action as a signed entry of the trace log. The action already happened in the ledger; a
   * failed append is reported (the action stands, and the ledger itself is durable and chained).
   */
  private async recordAction(action: string, actor: string, fields: Record<string, unknown>): Promise<void> {
    const body = {
      schema_id: OPERATOR_ACTION_SCHEMA_ID,
      schema_version: "1.0.0",
      created_at: formatGoTime(this.now()),
      producer_version: this.d.producerVersion,
      action,
      actor,
      ...fields,
    };
    const record = { ...body, signature: signDocument(body, this.d.keys.signer) } as unknown as SignedTraceRecord;
    try {
      const { seq } = await this.d.traceLog.append(record);
      this.summaries.set(seq, summarize(record as unknown as Record<string, unknown>));
    } catch (e) {
      this.d.log("error", "operator action not recorded in the trace log", { action, actor, err: (e as Error).message });
      throw asGateError(e);
    }
  }

  private async writeRunpack(dec: Decision): Promise<Record<string, string>> {
    const dir = this.d.settings.runpackDir!;
    const r = dec.result;
    const runId = normalizeRunId(dec.runId);
    const built = buildSingleCallRunpack({
      runId,
      createdAt: r.created_at,
      producerVersion: this.d.producerVersion,
      toolName: r.tool_name,
      args: r.intent.args,
      argsDigest: r.args_digest,
      verdict: dec.verdict,
      reasonCodes: dec.reasonCodes,
      violations: r.violations,
      traceId: dec.record.trace_id,
    });
    try {
      return { runpack: await writeRunpackFile(dir, runId, dec.recorded.seq ?? 0, built.zip) };
    } catch (e) {
      throw new GateError("RUNPACK_WRITE_FAILED", `write runpack: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** The selectors an operator set (empty strings and lists dropped: an empty selector is no selector). */
function dropEmpty(sel: KillSwitchSetInput["selectors"]): KillSwitchSetInput["selectors"] {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(sel)) {
    if (typeof v === "string" ? v.trim() !== "" : Array.isArray(v) ? v.some((x) => typeof x === "string" && x.trim() !== "") : false) out[k] = typeof v === "string" ? v.trim() : (v as string[]).map((x) => x.trim()).filter(Boolean);
  }
  return out as KillSwitchSetInput["selectors"];
}

/** An entry's fields for its operator_action record (the entry nested: its created_at is not the record's). */
function entryFields(e: KillSwitchEntry): Record<string, unknown> {
  return { entry_id: e.entry_id, ...(e.tool_name ? { tool_name: e.tool_name } : {}), entry: e };
}

function currentEntries(cur: KillSwitchState | { unavailable: string } | undefined): KillSwitchEntry[] {
  if (!cur) return [];
  if ("unavailable" in cur) throw new GateError("STATE_UNAVAILABLE", `kill switch: ${cur.unavailable}`);
  return [...cur.entries];
}

function parseDocs<T>(texts: readonly string[], what: string, parse: (j: unknown) => T): T[] {
  return texts.map((t, i) => {
    let doc: unknown;
    try {
      doc = JSON.parse(t);
    } catch (e) {
      throw new GateError("INVALID_TOKEN_DOCUMENT", `${what} #${i + 1} is not valid JSON: ${(e as Error).message}`);
    }
    try {
      return parse(doc);
    } catch (e) {
      throw new GateError("INVALID_TOKEN_DOCUMENT", (e as Error).message);
    }
  });
}

/**
 * The approval verify key for one decision. With `--approval-public-key` configured, tokens minted by Approve (all
 * carrying the server's key id) verify with the server's own key and any other token with the configured key.
 * Without one, the standard profile falls back to the server's signing key (Gait: the gate's own key); oss-prod gets
 * no key, so the engine refuses the approval stage (GateConfigError: an explicit verify key is required).
 */
export function approvalVerifierFor(keys: ServiceKeys, profile: Profile, tokens: readonly { signature?: { key_id?: string } }[]): Verifier | undefined {
  const configured = keys.approvalVerifier;
  if (!configured) return profile === "oss-prod" ? undefined : keys.signer;
  const allServer = tokens.length > 0 && tokens.every((t) => t.signature?.key_id === keys.signer.keyId);
  return allServer ? keys.signer : configured;
}

/**
 * The delegation verify key, in Gait's order: the delegation key, else the approval key, else the gate's own signing
 * key. oss-prod never falls back to the signing key: without an explicit key the engine refuses the delegation stage.
 */
export function delegationVerifierFor(keys: ServiceKeys, profile: Profile): Verifier | undefined {
  const explicit = keys.delegationVerifier ?? keys.approvalVerifier;
  return explicit ?? (profile === "oss-prod" ? undefined : keys.signer);
}

export type { ApprovalToken, DelegationToken };
