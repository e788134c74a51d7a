/**
 * The gate service: what the decision server does, written against plain types and free of any transport. The gRPC
 * and HTTP transports (src/transport/*) translate their requests into these calls and the {@link GateError}s out of
 * them into their statuses; authentication, admission and metrics wrap every call in one place there.
 *
 * - evaluate: one call through the decision pipeline (decide.ts) with the approval ledger, recorded in the trace log;
 * - approve / deny, listApprovals, getApproval: the approval ledger, every operator action recorded as a signed
 *   `gait.gate.operator_action` entry in the trace log (verifiable like decisions);
 * - exportTraces: the durable log from a cursor, each entry with its summary fields (parsed once, not per reader);
 * - serverInfo.
 */
import { mintApprovalToken, parseApprovalToken } from "../engine/approval.js";
import { parseDelegationToken } from "../engine/delegation.js";
import { identityKey } from "../engine/identity.js";
import { signDocument, type Signer, type Verifier } from "../engine/signature.js";
import { formatGoTime, parseRFC3339 } from "../engine/time.js";
import type { ApprovalToken, DelegationToken, Policy, Profile, Verdict } from "../engine/types.js";
import type { CounterStore, CredentialBroker, KillSwitchState } from "../engine/types.js";
import { buildSingleCallRunpack, normalizeRunId } from "../runpack/runpack.js";
import { writeRunpackFile } from "../runpack/store.js";
import type { ApprovalRequest, ApprovalState, ApprovalStore } from "../state/approvals.js";
import { OPERATOR_ACTION_SCHEMA_ID, TRACE_SCHEMA_ID, type SignedTraceRecord } from "../tracelog/format.js";
import { ledgerFlow } from "./approval-flow.js";
import { decide, type ApprovalLedgerFlow, type Decision, type DecisionEnv, type EvidenceSink } from "./decide.js";
import { asGateError, GateError } from "./errors.js";
import type { ServerMetrics } from "./metrics.js";

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

/** The kill switch in force, or why it cannot be read. */
export interface KillSwitchSource {
  current(): KillSwitchState | { unavailable: string } | undefined;
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
  constructor(private readonly max = 10_000) {}
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
    return { kind: "operator_action", trace_id: "", event_id: str(doc.action_id), tool_name: str(doc.tool_name), identity: str(doc.actor), reason_codes: str(doc.reason_code) ? [str(doc.reason_code)] : [], created_at: str(doc.created_at), action: str(doc.action), actor: str(doc.actor) };
  }
  return {
    kind: doc.schema_id === TRACE_SCHEMA_ID ? "decision" : "unknown",
    trace_id: str(doc.trace_id),
    event_id: str(doc.event_id),
    verdict: typeof doc.verdict === "string" ? (doc.verdict as Verdict) : undefined,
    tool_name: str(doc.tool_name),
    identity: str(agent),
    reason_codes: Array.isArray(doc.reason_codes) ? (doc.reason_codes as unknown[]).filter((x): x is string => typeof x === "string") : [],
    created_at: str(doc.created_at),
  };
}

const EMPTY_SUMMARY: RecordSummary = { kind: "unknown", trace_id: "", event_id: "", tool_name: "", identity: "", reason_codes: [], created_at: "" };

export class GateService {
  private readonly summaries = new SummaryCache();
  private readonly now: () => Date;
  /** Built once: the parts of a decision's environment that do not change per call (no closures per call). */
  private readonly ledgerFlow: ApprovalLedgerFlow;
  private readonly sink: EvidenceSink;
  private readonly runpackSink: EvidenceSink;

  constructor(private readonly d: GateServiceDeps) {
    this.now = d.now ?? (() => new Date());
    const s = d.settings;
    this.ledgerFlow = ledgerFlow({
      store: d.approvals,
      reuse: s.approvalReuse,
      requestTtlMs: s.approvalRequestTtlMs,
      onCreated: () => d.metrics.approvalsCreated.inc(),
      onFull: (m) => d.log("warn", "approval request not created", { err: m }),
    });
    this.sink = {
      record: async (record, text) => {
        const t0 = performance.now();
        const { seq } = await d.traceLog.append(record as unknown as SignedTraceRecord, text);
        d.metrics.traceAppend.observe((performance.now() - t0) / 1000);
        this.summaries.set(seq, summarize(record as unknown as Record<string, unknown>));
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
    );
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
    const fromBody = claimed.trim();
    if (caller.identity !== undefined) {
      if (fromBody && identityKey(fromBody) !== identityKey(caller.identity)) {
        throw new GateError("APPROVER_NOT_ALLOWED", `approver ${JSON.stringify(fromBody)} is not the identity of this operator token (${JSON.stringify(caller.identity)})`);
      }
      return caller.identity;
    }
    if (!identityKey(fromBody)) throw new GateError("INVALID_ARGUMENT", "approver is required (the approving identity)");
    return fromBody;
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
