/**
 * gait.gate.v1.GateService over gRPC: proto <-> the service's plain types, and nothing else. Every method goes through
 * one wrapper (`guard`): authentication (the caller), the operator-only rule (Approve and ListApprovals answer
 * PERMISSION_DENIED / OPERATOR_ONLY on the agent listener, so an agent cannot approve its own calls), admission for
 * decisions, metrics, and the mapping of every failure to a status (errors.ts, one table).
 */
import type * as grpc from "@grpc/grpc-js";
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import { durationMs, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  ApprovalDecision,
  ApprovalState,
  EvaluateRequestSchema,
  GateService,
  type ApprovalRequestInfoSchema,
  type EvaluateResponseSchema,
  type KillSwitchEntrySchema,
} from "../../gen/gait/gate/v1/gate_service_pb.js";
import { Verdict as PbVerdict } from "../../gen/gait/gate/v1/verdict_pb.js";
import { parseRFC3339 } from "../../engine/time.js";
import { formatGoTime } from "../../engine/time.js";
import type { Verdict } from "../../engine/types.js";
import type { ApprovalRequest, ApprovalState as StoreState } from "../../state/approvals.js";
import type { Admission } from "../../service/admission.js";
import type { Decision } from "../../service/decide.js";
import { asGateError, GateError } from "../../service/errors.js";
import type { ExportEntry, GateService as Service, KillSwitchView } from "../../service/gate-service.js";
import type { ServerMetrics } from "../../service/metrics.js";
import { authenticate, type AuthSettings, type Caller, type ListenerRole } from "../auth.js";
import { GrpcError, type HandlerContext, type ServiceImpl } from "./adapter.js";
import { toGrpcError } from "./errors.js";
import { jsonDecoder } from "./wire-decode.js";

export const VERDICT_TO_PB: Record<Verdict, PbVerdict> = {
  allow: PbVerdict.ALLOW,
  block: PbVerdict.BLOCK,
  require_approval: PbVerdict.REQUIRE_APPROVAL,
  dry_run: PbVerdict.DRY_RUN,
};

const STATE_TO_PB: Record<StoreState, ApprovalState> = {
  pending: ApprovalState.PENDING,
  granted: ApprovalState.GRANTED,
  denied: ApprovalState.DENIED,
  expired: ApprovalState.EXPIRED,
  consumed: ApprovalState.CONSUMED,
};
const PB_TO_STATE = new Map<ApprovalState, StoreState>(Object.entries(STATE_TO_PB).map(([k, v]) => [v, k as StoreState]));
const PB_TO_VERDICT = new Map<PbVerdict, Verdict>(Object.entries(VERDICT_TO_PB).map(([k, v]) => [v, k as Verdict]));

// one-entry memo: consecutive responses mostly carry the same decision time (often Gait's epoch)
let tsMemoIn: string | undefined;
let tsMemo: { seconds: bigint; nanos: number } | undefined;

/** An RFC 3339 time -> a Timestamp init (undefined when absent or unparsable). */
function tsOf(rfc3339: string | undefined): { seconds: bigint; nanos: number } | undefined {
  if (!rfc3339) return undefined;
  if (rfc3339 !== tsMemoIn) {
    const p = parseRFC3339(rfc3339);
    tsMemo = p ? { seconds: BigInt(Math.floor(p.ms / 1000)), nanos: (((p.ms % 1000) + 1000) % 1000) * 1_000_000 + p.subMsNanos } : undefined;
    tsMemoIn = rfc3339;
  }
  return tsMemo && { seconds: tsMemo.seconds, nanos: tsMemo.nanos };
}

export function approvalInfo(r: ApprovalRequest): MessageInitShape<typeof ApprovalRequestInfoSchema> {
  return {
    approvalRequestId: r.approval_request_id,
    state: STATE_TO_PB[r.state],
    toolName: r.tool_name,
    intentDigest: r.intent_digest,
    policyDigest: r.policy_digest,
    argsDigest: r.args_digest,
    requiredScopes: r.required_scopes,
    requiredApprovals: r.required_approvals,
    grantedApprovals: r.tokens.length,
    approvers: [...r.approvers].sort(),
    identity: r.identity,
    runId: r.run_id ?? "",
    sessionId: r.session_id ?? "",
    reasonCodes: r.reason_codes,
    traceId: r.trace_id,
    createdAt: tsOf(r.created_at),
    expiresAt: tsOf(r.expires_at),
    deniedBy: r.denied_by ?? "",
    denyReason: r.deny_reason ?? "",
  };
}

export function killSwitchInfo(e: KillSwitchView): MessageInitShape<typeof KillSwitchEntrySchema> {
  return {
    entryId: e.entry_id,
    enabled: e.enabled,
    agentId: e.agent_id ?? "",
    identity: e.identity ?? "",
    toolName: e.tool_name ?? "",
    targetKind: e.target_kind ?? "",
    targetValue: e.target_value ?? "",
    environment: e.environment ?? "",
    pathPrefixes: e.path_prefixes ?? [],
    workspacePrefixes: e.workspace_prefixes ?? [],
    reason: e.reason ?? "",
    actor: e.actor ?? "",
    createdAt: tsOf(e.created_at),
    expiresAt: tsOf(e.expires_at),
    active: e.active,
  };
}

/** An export entry -> WatchDecisionsResponse. */
function watchResponse(e: ExportEntry) {
  const s = e.summary;
  return {
    sequence: BigInt(e.seq),
    kind: s.kind === "unknown" ? "" : s.kind,
    verdict: (s.verdict && VERDICT_TO_PB[s.verdict]) ?? PbVerdict.UNSPECIFIED,
    toolName: s.tool_name,
    identity: s.identity,
    reasonCodes: s.reason_codes,
    action: s.action ?? "",
    traceId: s.trace_id,
    eventId: s.event_id,
    createdAt: tsOf(s.created_at),
    observedAt: tsOf(s.observed_at || s.created_at),
    ...(s.latency_ms !== undefined ? { decisionLatency: durationOfMs(s.latency_ms) } : {}),
    approvalRequestId: s.approval_request_id ?? "",
    recordJson: e.recordText,
    entryHash: e.hash,
  };
}

/** A Duration from fractional milliseconds (integer nanoseconds: durationFromMs would keep a fraction). */
function durationOfMs(ms: number) {
  const ns = Math.max(0, Math.round(ms * 1e6));
  return { seconds: BigInt(Math.floor(ns / 1e9)), nanos: ns % 1e9 };
}

/** A decision -> EvaluateResponse. */
export function toEvaluateResponse(o: Decision): MessageInitShape<typeof EvaluateResponseSchema> {
  const r = o.result;
  return {
    verdict: VERDICT_TO_PB[o.verdict] ?? PbVerdict.UNSPECIFIED,
    reasonCodes: o.reasonCodes,
    violations: r.violations,
    matchedRule: r.matched_rule ?? "",
    toolName: r.tool_name,
    intentDigest: r.intent_digest,
    policyDigest: r.policy_digest,
    argsDigest: r.args_digest,
    requiredApprovals: r.required_approvals ?? 0,
    validApprovals: r.valid_approvals ?? 0,
    requiredApprovalScopes: r.required_approval_scopes ?? [],
    approvalRequestId: o.approvalRequestId ?? "",
    approvalRef: r.approval_ref ?? "",
    traceId: o.record.trace_id,
    eventId: o.record.event_id ?? "",
    traceSequence: BigInt(o.recorded.seq ?? 0),
    runId: o.runId,
    policyId: o.policyId,
    policyVersion: o.policyVersion,
    runpackPath: o.artifacts.runpack ?? "",
    warnings: o.warnings,
    createdAt: tsOf(o.record.created_at),
    decisionLatency: durationOfMs(o.latencyMs),
  };
}

/**
 * An EvaluateRequest in its proto3 JSON form with proto field names, which is what the Evaluate handler receives:
 * the proto's field names are Gait's JSON names, so `intent` is Gait's intent JSON as is. Decoded straight from the
 * wire, strictly, by wire-decode.ts (the one decoding rule for untrusted bytes).
 */
export interface EvaluateRequestJson {
  intent?: JsonObject;
  tool_call?: { adapter?: string; call?: JsonObject; call_json?: string };
  run_id?: string;
  session_id?: string;
  approval_tokens?: string[];
  approval_request_id?: string;
  delegation_tokens?: string[];
  emit_runpack?: boolean;
}

const evaluateRequestJson = jsonDecoder(EvaluateRequestSchema).decode;

/** Evaluate request bytes -> {@link EvaluateRequestJson}. */
export function decodeEvaluateRequest(bytes: Uint8Array): EvaluateRequestJson {
  return evaluateRequestJson(bytes) as EvaluateRequestJson;
}

/** Request forms of the GateService methods that do not take the protobuf message (see addService). */
export type GateRequests = { evaluate: EvaluateRequestJson };
/** The decoders for {@link GateRequests}. */
export const GATE_REQUEST_DECODERS = { evaluate: decodeEvaluateRequest };

export interface GateHandlerDeps {
  service: Service;
  auth: AuthSettings;
  admission: Admission;
  metrics: ServerMetrics;
  version: string;
  /** aborted at shutdown: ends follow streams so clients resume elsewhere */
  shutdownSignal: AbortSignal;
  /** Logs a failure that is the server's fault (its cause is not sent to the caller). */
  onInternal: (e: GateError) => void;
}

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
/** An approval request id (the ListApprovals cursor): `apr_` + hex. */
const PAGE_TOKEN = /^apr_[0-9a-f]{1,64}$/;

/** What each method needs from the wrapper. */
const METHODS: Record<keyof typeof GateService.method, { operatorOnly?: true; admission?: true }> = {
  evaluate: { admission: true },
  approve: { operatorOnly: true },
  listApprovals: { operatorOnly: true },
  getApproval: {},
  exportTraces: {},
  getServerInfo: {},
  setKillSwitch: { operatorOnly: true },
  listKillSwitches: { operatorOnly: true },
  clearKillSwitch: { operatorOnly: true },
  watchDecisions: { operatorOnly: true },
};

/** Build the GateService implementation for one listener. */
export function gateServiceImpl(role: ListenerRole, d: GateHandlerDeps): ServiceImpl<typeof GateService, GateRequests> {
  /** The status a failure is sent as; counted, and logged when it is the server's fault. */
  const fail = (e: unknown): GrpcError => {
    const g = asGateError(e);
    d.metrics.failClosed.inc({ reason: g.reason });
    if (g.kind === "internal") d.onInternal(g);
    return toGrpcError(g);
  };
  /** The one wrapper: authentication, operator-only, admission, then the handler. */
  const guard = (method: keyof typeof METHODS, ctx: HandlerContext): { caller: Caller; leave?: () => void } => {
    const h = ctx.metadata.get("authorization")[0];
    const caller = authenticate(d.auth, role, typeof h === "string" ? h : undefined);
    if (METHODS[method].operatorOnly && role !== "operator") {
      throw new GateError("OPERATOR_ONLY", `${GateService.method[method].name} is served only on the operator listener (--operator-listen); an agent cannot approve its own calls, change the kill switch or watch decisions`);
    }
    return { caller, leave: METHODS[method].admission ? d.admission.enter() : undefined }; // one shape (no conditional spread on the hot path)
  };
  const unary = <Req, Res>(method: keyof typeof METHODS, fn: (req: Req, ctx: HandlerContext, caller: Caller) => Promise<Res> | Res) => {
    return async (req: Req, ctx: HandlerContext): Promise<Res> => {
      let leave: (() => void) | undefined;
      try {
        const g = guard(method, ctx);
        leave = g.leave;
        return await fn(req, ctx, g.caller);
      } catch (e) {
        if (ctx.cancelled() && !(e instanceof GrpcError)) throw toGrpcError(new GateError("INTERNAL", "call cancelled or deadline exceeded before a decision was recorded", { kind: "cancelled" }));
        throw fail(e);
      } finally {
        leave?.();
      }
    };
  };

  return {
    evaluate: unary("evaluate", async (req: EvaluateRequestJson, ctx) => {
      const t0 = performance.now();
      let toolCall: { adapter: string; payload: unknown } | undefined;
      const tc = req.tool_call;
      if (tc) {
        let payload: unknown;
        if (tc.call !== undefined) payload = tc.call;
        else if (tc.call_json !== undefined) {
          try {
            payload = JSON.parse(tc.call_json);
          } catch (e) {
            throw new GateError("INVALID_TOOL_CALL", `tool_call.call_json is not valid JSON: ${(e as Error).message}`);
          }
        } else throw new GateError("MISSING_INPUT", "tool_call needs call or call_json");
        toolCall = { adapter: tc.adapter ?? "", payload };
      }
      const out = await d.service.evaluate({
        // a fixed-shape literal: conditional spreads here cost more than the rest of the handler (slow object clones)
        intent: req.intent,
        toolCall,
        runId: req.run_id ?? "",
        sessionId: req.session_id ?? "",
        approvalTokens: req.approval_tokens ?? [],
        approvalRequestId: req.approval_request_id || undefined,
        delegationTokens: req.delegation_tokens ?? [],
        emitRunpack: req.emit_runpack ?? false,
        cancelled: ctx.cancelled,
      });
      d.metrics.recordDecision(out.verdict, "grpc", (performance.now() - t0) / 1000);
      return toEvaluateResponse(out);
    }),

    approve: unary("approve", async (req, _ctx, caller) => {
      if (req.decision === ApprovalDecision.UNSPECIFIED) {
        throw new GateError("INVALID_ARGUMENT", "decision is required: APPROVAL_DECISION_GRANT or APPROVAL_DECISION_DENY");
      }
      const t = req.target;
      if (t.case !== "approvalRequestId" && t.case !== "digests") throw new GateError("MISSING_INPUT", "set approval_request_id or digests");
      const out = await d.service.approve(
        {
          target: t.case === "approvalRequestId" ? { requestId: t.value } : { intentDigest: t.value.intentDigest, policyDigest: t.value.policyDigest, delegationBindingDigest: t.value.delegationBindingDigest },
          decision: req.decision === ApprovalDecision.DENY ? "deny" : "grant",
          approver: req.approver,
          reasonCode: req.reasonCode,
          ttlMs: req.ttl ? durationMs(req.ttl) : 0,
          scopes: req.scopes,
          maxTargets: req.maxTargets,
          maxOps: req.maxOps,
        },
        caller,
      );
      return {
        ...(out.request ? { request: approvalInfo(out.request) } : {}),
        ...(out.token ? { tokenJson: JSON.stringify(out.token), tokenId: out.token.token_id, expiresAt: tsOf(out.token.expires_at) } : {}),
      };
    }),

    listApprovals: unary("listApprovals", async (req) => {
      const states = req.states.map((s) => PB_TO_STATE.get(s));
      if (states.some((s) => s === undefined)) throw new GateError("INVALID_ARGUMENT", "states contains APPROVAL_STATE_UNSPECIFIED or an unknown value");
      // the store pages by request id (ids sort by creation); anything else is not a cursor this server issued
      if (req.pageToken && !PAGE_TOKEN.test(req.pageToken)) throw new GateError("INVALID_CURSOR", "page_token is not one this server issued");
      const page = await d.service.listApprovals({
        states: states as StoreState[],
        pageSize: req.pageSize === 0 ? DEFAULT_PAGE : Math.min(req.pageSize, MAX_PAGE),
        ...(req.pageToken ? { pageToken: req.pageToken } : {}),
      });
      return { requests: page.requests.map(approvalInfo), nextPageToken: page.nextPageToken ?? "" };
    }),

    getApproval: unary("getApproval", async (req) => {
      const rec = await d.service.getApproval(req.approvalRequestId);
      return { request: approvalInfo(rec), tokenJsons: rec.state === "granted" ? rec.tokens.map((t) => JSON.stringify(t)) : [] };
    }),

    async *exportTraces(req, ctx) {
      try {
        guard("exportTraces", ctx);
      } catch (e) {
        throw fail(e);
      }
      const signal = AbortSignal.any([ctx.signal, d.shutdownSignal]);
      try {
        for await (const e of d.service.exportTraces({ from: Number(req.fromSequence), follow: req.follow, max: Number(req.maxEntries), signal })) {
          yield {
            sequence: BigInt(e.seq),
            recordJson: e.recordText,
            prevHash: e.prev,
            entryHash: e.hash,
            traceId: e.summary.trace_id,
            eventId: e.summary.event_id,
            verdict: (e.summary.verdict && VERDICT_TO_PB[e.summary.verdict]) ?? PbVerdict.UNSPECIFIED,
            kind: e.summary.kind === "unknown" ? "" : e.summary.kind,
            toolName: e.summary.tool_name,
            identity: e.summary.identity,
            reasonCodes: e.summary.reason_codes,
            action: e.summary.action ?? "",
          };
        }
      } catch (e) {
        if (d.shutdownSignal.aborted && !ctx.signal.aborted) throw fail(new GateError("SHUTTING_DOWN", "server is shutting down; resume from the next sequence"));
        if (ctx.signal.aborted) return;
        throw fail(e);
      }
      if (d.shutdownSignal.aborted && req.follow && !ctx.signal.aborted) throw fail(new GateError("SHUTTING_DOWN", "server is shutting down; resume from the next sequence"));
    },

    setKillSwitch: unary("setKillSwitch", async (req, _ctx, caller) => {
      if (req.ttl && req.expiresAt) throw new GateError("INVALID_ARGUMENT", "set ttl or expires_at, not both");
      const entry = await d.service.setKillSwitch(
        {
          entryId: req.entryId,
          selectors: {
            agent_id: req.agentId,
            identity: req.identity,
            tool_name: req.toolName,
            target_kind: req.targetKind,
            target_value: req.targetValue,
            environment: req.environment,
            path_prefixes: req.pathPrefixes,
            workspace_prefixes: req.workspacePrefixes,
          },
          reason: req.reason,
          actor: req.actor,
          ...(req.ttl ? { ttlMs: durationMs(req.ttl) } : {}),
          ...(req.expiresAt ? { expiresAt: formatGoTime(timestampDate(req.expiresAt)) } : {}),
        },
        caller,
      );
      return { entry: killSwitchInfo(entry) };
    }),

    listKillSwitches: unary("listKillSwitches", async (req) => {
      const entries = await d.service.listKillSwitches({ includeInactive: req.includeInactive });
      return { entries: entries.map(killSwitchInfo) };
    }),

    clearKillSwitch: unary("clearKillSwitch", async (req, _ctx, caller) => {
      const entry = await d.service.clearKillSwitch({ entryId: req.entryId, expire: req.expire, actor: req.actor, reason: req.reason }, caller);
      return { entry: killSwitchInfo(entry) };
    }),

    async *watchDecisions(req, ctx) {
      try {
        guard("watchDecisions", ctx);
      } catch (e) {
        throw fail(e);
      }
      const verdicts = req.verdicts.map((v) => PB_TO_VERDICT.get(v));
      if (verdicts.some((v) => v === undefined)) throw fail(new GateError("INVALID_ARGUMENT", "verdicts contains VERDICT_UNSPECIFIED or an unknown value"));
      const signal = AbortSignal.any([ctx.signal, d.shutdownSignal]);
      try {
        const filter = { verdicts: verdicts as Verdict[], toolNames: req.toolNames, identities: req.identities, reasonCodes: req.reasonCodes, includeOperatorActions: req.includeOperatorActions };
        for await (const e of d.service.watchDecisions({ from: Number(req.fromSequence), follow: req.follow, max: Number(req.maxEntries), filter, signal })) yield watchResponse(e);
      } catch (e) {
        if (d.shutdownSignal.aborted && !ctx.signal.aborted) throw fail(new GateError("SHUTTING_DOWN", "server is shutting down; resume from the next sequence"));
        if (ctx.signal.aborted) return;
        throw fail(e);
      }
      if (d.shutdownSignal.aborted && req.follow && !ctx.signal.aborted) throw fail(new GateError("SHUTTING_DOWN", "server is shutting down; resume from the next sequence"));
    },

    getServerInfo: unary("getServerInfo", () => {
      const i = d.service.serverInfo(d.version);
      return {
        keyId: i.keyId,
        publicKey: Buffer.from(i.publicKey).toString("base64"),
        keyMode: i.keyMode,
        policyDigest: i.policyDigest,
        policyPath: i.policyPath,
        traceHeadSequence: BigInt(i.traceHeadSeq),
        traceHeadHash: i.traceHeadHash,
        version: i.version,
        policyReloadError: i.policyReloadError,
      };
    }),
  } as ServiceImpl<typeof GateService, GateRequests>;
}

export type { grpc };
