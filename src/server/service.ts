/**
 * gait.gate.v1.GateService handlers: proto <-> domain conversion around {@link DecisionService} and the stores.
 * One implementation object per listener role: on the agent listener Approve and ListApprovals answer
 * PERMISSION_DENIED (OPERATOR_ONLY), so an agent holding the agent socket cannot approve its own calls.
 */
import * as grpc from "@grpc/grpc-js";
import { type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { timingSafeEqual, createHash } from "node:crypto";
import type { Logger } from "pino";
import {
  ApprovalDecision,
  ApprovalState,
  GateService,
  type ApprovalRequestInfoSchema,
  EvaluateRequestSchema,
  type EvaluateResponseSchema,
} from "../gen/gait/gate/v1/gate_service_pb.js";
import { Verdict as PbVerdict } from "../gen/gait/gate/v1/verdict_pb.js";
import { mintApprovalToken, TokenMintError } from "../engine/approval.js";
import { parseRFC3339 } from "../engine/time.js";
import { identityKey } from "../engine/identity.js";
import type { Verdict } from "../engine/types.js";
import { GrpcError, type HandlerContext, type ServiceImpl } from "./grpc-adapter.js";
import { ErrorReason, gateError, invalidArgument, reasonOf, reasonName } from "./errors.js";
import type { DecisionService, EvaluateOutput } from "./decision.js";
import type { TraceLogPort } from "./ports.js";
import { isApprovalStoreError, type ApprovalRequest, type ApprovalState as StoreState, type ApprovalStore } from "../state/approvals.js";
import type { ServeConfig } from "./config.js";
import type { ServerKeys } from "./keys.js";
import type { PolicyHolder } from "./policy-holder.js";
import type { ServerMetrics } from "./metrics.js";
import { jsonDecoder } from "./wire-decode.js";

export type ListenerRole = "agent" | "operator";

/** Admission control shared by every surface: bounded in-flight decisions and the shutdown gate. */
export class Admission {
  private n = 0;
  shuttingDown = false;
  private idleWaiters: (() => void)[] = [];
  constructor(
    readonly max: number,
    metrics: ServerMetrics,
  ) {
    metrics.inFlightSource = () => this.n;
  }
  get inFlight(): number {
    return this.n;
  }
  /** Take a slot or throw RESOURCE_EXHAUSTED (OVERLOADED) / UNAVAILABLE (SHUTTING_DOWN). */
  enter(): () => void {
    if (this.shuttingDown) throw gateError(grpc.status.UNAVAILABLE, ErrorReason.SHUTTING_DOWN, "server is shutting down; retry on another instance");
    if (this.n >= this.max) {
      throw gateError(grpc.status.RESOURCE_EXHAUSTED, ErrorReason.OVERLOADED, `too many decisions in flight (limit ${this.max}); retry later`);
    }
    this.n++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.n--;
      if (this.n === 0) this.idleWaiters.splice(0).forEach((f) => f());
    };
  }
  /** Resolves when no decision is in flight. */
  idle(): Promise<void> {
    return this.n === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }
}

/** Constant-time bearer token check (compares digests so length differences leak nothing). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return false;
  const a = createHash("sha256").update(m[1]!).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b);
}

/** The operator identity whose token (sha256 hex key of `tokens`) is in the bearer header, or undefined. */
export function operatorIdentity(tokens: ReadonlyMap<string, string>, header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return undefined;
  const digest = createHash("sha256").update(m[1]!).digest();
  // constant time over every entry: which entry matched leaks nothing
  let found: string | undefined;
  for (const [hex, who] of tokens) if (timingSafeEqual(digest, Buffer.from(hex, "hex"))) found = who;
  return found;
}

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

/** A Duration from fractional milliseconds (integer nanoseconds: durationFromMs would keep a fraction). */
function durationOfMs(ms: number) {
  const ns = Math.max(0, Math.round(ms * 1e6));
  return { seconds: BigInt(Math.floor(ns / 1e9)), nanos: ns % 1e9 };
}

/** EvaluateOutput -> EvaluateResponse. */
export function toEvaluateResponse(o: EvaluateOutput): MessageInitShape<typeof EvaluateResponseSchema> {
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
    traceSequence: BigInt(o.seq),
    runId: o.runId,
    policyId: o.policyId,
    policyVersion: o.policyVersion,
    runpackPath: o.runpackPath ?? "",
    warnings: o.warnings,
    createdAt: tsOf(o.record.created_at),
    decisionLatency: durationOfMs(o.latencyMs),
  };
}

/**
 * An EvaluateRequest in its proto3 JSON form with proto field names, which is what the Evaluate handler receives:
 * the proto's field names are Gait's JSON names, so `intent` is Gait's intent JSON as is. Decoded straight from the
 * wire, strictly, by src/server/wire-decode.ts (the one decoding rule for untrusted bytes).
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

export interface GateServiceDeps {
  cfg: ServeConfig;
  decisions: DecisionService;
  approvals: ApprovalStore;
  traceLog: TraceLogPort;
  keys: ServerKeys;
  policy: PolicyHolder;
  metrics: ServerMetrics;
  admission: Admission;
  log: Logger;
  version: string;
  producerVersion: string;
  /** aborted at shutdown: ends follow streams so clients resume elsewhere */
  shutdownSignal: AbortSignal;
}

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
/** An approval request id (the ListApprovals cursor): `apr_` + hex. */
const PAGE_TOKEN = /^apr_[0-9a-f]{1,64}$/;

/** Build the GateService implementation for one listener. */
export function gateServiceImpl(role: ListenerRole, d: GateServiceDeps): ServiceImpl<typeof GateService, GateRequests> {
  const cfg = d.cfg;
  const authorize = (ctx: HandlerContext): void => {
    if (role === "operator" && cfg.operatorTokens) {
      // the operator listener with per-operator tokens: every call carries one (and it names the approver)
      const h = ctx.metadata.get("authorization")[0];
      if (!operatorIdentity(cfg.operatorTokens, typeof h === "string" ? h : undefined)) {
        throw gateError(grpc.status.UNAUTHENTICATED, ErrorReason.UNAUTHENTICATED, h ? "the operator token is not in --operator-tokens-file" : "missing operator bearer token (--operator-tokens-file is set)");
      }
      return;
    }
    if (cfg.authMode !== "token") return;
    const h = ctx.metadata.get("authorization")[0];
    const ok = bearerMatches(typeof h === "string" ? h : undefined, cfg.authToken ?? "");
    if (!ok) {
      throw gateError(grpc.status.UNAUTHENTICATED, ErrorReason.UNAUTHENTICATED, h ? "invalid bearer authorization" : "missing bearer authorization");
    }
  };
  const operatorOnly = (method: string): void => {
    if (role !== "operator") {
      throw gateError(
        grpc.status.PERMISSION_DENIED,
        ErrorReason.OPERATOR_ONLY,
        `${method} is served only on the operator listener (--operator-listen); an agent cannot approve its own calls`,
      );
    }
  };
  /**
   * The approving identity. With --operator-tokens-file the operator's bearer token names it (the request's
   * `approver` may be empty, or must name the same identity); without, it is the request's `approver`.
   */
  const approverOf = (claimed: string, ctx: HandlerContext): string => {
    const fromBody = claimed.trim();
    if (cfg.operatorTokens) {
      const h = ctx.metadata.get("authorization")[0];
      const who = operatorIdentity(cfg.operatorTokens, typeof h === "string" ? h : undefined);
      if (!who) throw gateError(grpc.status.UNAUTHENTICATED, ErrorReason.UNAUTHENTICATED, h ? "the operator token is not in --operator-tokens-file" : "missing operator bearer token (--operator-tokens-file is set)");
      if (fromBody && identityKey(fromBody) !== identityKey(who)) {
        throw gateError(grpc.status.PERMISSION_DENIED, ErrorReason.APPROVER_NOT_ALLOWED, `approver ${JSON.stringify(fromBody)} is not the identity of this operator token (${JSON.stringify(who)})`);
      }
      return who;
    }
    if (!identityKey(fromBody)) throw invalidArgument(ErrorReason.INVALID_ARGUMENT, "approver is required (the approving identity)");
    return fromBody;
  };
  const failClosed = (e: unknown): never => {
    const reason = reasonOf(e);
    d.metrics.failClosed.inc({ reason: reason !== undefined ? reasonName(reason) : "INTERNAL" });
    throw e;
  };
  const storeCall = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (isApprovalStoreError(e)) {
        if (e.code === "not_found") throw gateError(grpc.status.NOT_FOUND, ErrorReason.APPROVAL_REQUEST_NOT_FOUND, e.message);
        if (e.code === "conflict") throw gateError(grpc.status.FAILED_PRECONDITION, ErrorReason.APPROVAL_REQUEST_NOT_PENDING, e.message);
        if (e.code === "invalid") throw invalidArgument(ErrorReason.INVALID_ARGUMENT, e.message);
        if (e.code === "forbidden") throw gateError(grpc.status.PERMISSION_DENIED, ErrorReason.APPROVER_NOT_ALLOWED, e.message);
      }
      if (e instanceof GrpcError) throw e;
      d.log.error({ err: e }, "approval store failed");
      throw gateError(grpc.status.UNAVAILABLE, ErrorReason.STATE_UNAVAILABLE, `approval state unavailable: ${(e as Error).message}`);
    }
  };

  return {
    async evaluate(req, ctx) {
      const t0 = performance.now();
      let leave: (() => void) | undefined;
      try {
        authorize(ctx);
        leave = d.admission.enter();
        let toolCall: { adapter: string; payload: unknown } | undefined;
        const tc = req.tool_call;
        if (tc) {
          let payload: unknown;
          if (tc.call !== undefined) payload = tc.call;
          else if (tc.call_json !== undefined) {
            try {
              payload = JSON.parse(tc.call_json);
            } catch (e) {
              throw invalidArgument(ErrorReason.INVALID_TOOL_CALL, `tool_call.call_json is not valid JSON: ${(e as Error).message}`);
            }
          } else throw invalidArgument(ErrorReason.MISSING_INPUT, "tool_call needs call or call_json");
          toolCall = { adapter: tc.adapter ?? "", payload };
        }
        const out = await d.decisions.evaluate({
          transport: "grpc",
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
      } catch (e) {
        if (ctx.cancelled() && !(e instanceof GrpcError)) {
          throw new GrpcError(grpc.status.CANCELLED, "call cancelled or deadline exceeded before a decision was recorded");
        }
        return failClosed(e);
      } finally {
        leave?.();
      }
    },

    async approve(req, ctx) {
      authorize(ctx);
      operatorOnly("Approve");
      const now = new Date();
      const approver = approverOf(req.approver, ctx);
      if (req.decision === ApprovalDecision.UNSPECIFIED) {
        throw invalidArgument(ErrorReason.INVALID_ARGUMENT, "decision is required: APPROVAL_DECISION_GRANT or APPROVAL_DECISION_DENY");
      }
      const ttlMs = req.ttl ? durationMs(req.ttl) : 0;
      const t = req.target;
      if (t.case === "approvalRequestId") {
        const rec = await storeCall(() => d.approvals.get(t.value));
        if (!rec) throw gateError(grpc.status.NOT_FOUND, ErrorReason.APPROVAL_REQUEST_NOT_FOUND, `approval request ${t.value} not found`);
        const id = rec.approval_request_id;
        // pending, or granted and not yet used (an extra grant replaces an expired token; a deny revokes the grant)
        if (rec.state !== "pending" && rec.state !== "granted") {
          throw gateError(grpc.status.FAILED_PRECONDITION, ErrorReason.APPROVAL_REQUEST_NOT_PENDING, `approval request ${id} is ${rec.state}; it can no longer be answered`);
        }
        if (req.decision === ApprovalDecision.DENY) {
          const after = await storeCall(() => d.approvals.deny(id, approver, req.reasonCode.trim()));
          d.log.info({ approval_request_id: id, approver }, "approval request denied");
          return { request: approvalInfo(after) };
        }
        // one token per approver and request: a repeated grant returns the token already granted (no second token,
        // no second execution); the agent whose call waits cannot approve it
        if (identityKey(rec.identity) === identityKey(approver)) {
          throw gateError(grpc.status.PERMISSION_DENIED, ErrorReason.APPROVER_NOT_ALLOWED, `approver ${JSON.stringify(approver)} is the identity whose call is waiting; an agent cannot approve its own call`);
        }
        const held = rec.tokens.find((x) => identityKey(x.approver_identity ?? "") === identityKey(approver) && (parseRFC3339(x.expires_at ?? "")?.ms ?? 0) > now.getTime());
        if (held) {
          d.log.info({ approval_request_id: id, approver, token_id: held.token_id }, "approval already granted by this approver; returning the same token");
          return { request: approvalInfo(rec), tokenJson: JSON.stringify(held), tokenId: held.token_id, expiresAt: tsOf(held.expires_at) };
        }
        const minted = mint(d, {
          intentDigest: rec.intent_digest,
          policyDigest: rec.policy_digest,
          delegationBindingDigest: rec.delegation_binding_digest,
          ttlMs,
          scope: req.scopes.length ? req.scopes : rec.required_scopes.length ? rec.required_scopes : [`tool:${rec.tool_name}`],
          approver,
          reasonCode: req.reasonCode,
          maxTargets: req.maxTargets || undefined,
          maxOps: req.maxOps || undefined,
        }, now);
        const { request: after, token } = await storeCall(() => d.approvals.grant(id, minted));
        d.log.info({ approval_request_id: id, approver, token_id: token.token_id, state: after.state }, "approval granted");
        return { request: approvalInfo(after), tokenJson: JSON.stringify(token), tokenId: token.token_id, expiresAt: tsOf(token.expires_at) };
      }
      if (t.case === "digests") {
        if (req.decision !== ApprovalDecision.GRANT) throw invalidArgument(ErrorReason.INVALID_ARGUMENT, "deny needs an approval_request_id (there is nothing to deny for bare digests)");
        if (!req.scopes.length) throw invalidArgument(ErrorReason.INVALID_ARGUMENT, "scopes are required when minting for digests (e.g. tool:<tool_name>)");
        const token = mint(d, {
          intentDigest: t.value.intentDigest,
          policyDigest: t.value.policyDigest,
          delegationBindingDigest: t.value.delegationBindingDigest || undefined,
          ttlMs,
          scope: req.scopes,
          approver,
          reasonCode: req.reasonCode,
          maxTargets: req.maxTargets || undefined,
          maxOps: req.maxOps || undefined,
        }, now);
        d.log.info({ approver, token_id: token.token_id }, "approval token minted for digests");
        return { tokenJson: JSON.stringify(token), tokenId: token.token_id, expiresAt: tsOf(token.expires_at) };
      }
      throw invalidArgument(ErrorReason.MISSING_INPUT, "set approval_request_id or digests");
    },

    async listApprovals(req, ctx) {
      authorize(ctx);
      operatorOnly("ListApprovals");
      const states = req.states.length ? req.states.map((s) => PB_TO_STATE.get(s)) : ["pending" as const];
      if (states.some((s) => s === undefined)) throw invalidArgument(ErrorReason.INVALID_ARGUMENT, "states contains APPROVAL_STATE_UNSPECIFIED or an unknown value");
      const size = req.pageSize === 0 ? DEFAULT_PAGE : Math.min(req.pageSize, MAX_PAGE);
      // the store pages by request id (ids sort by creation); anything else is not a cursor this server issued
      if (req.pageToken && !PAGE_TOKEN.test(req.pageToken)) throw invalidArgument(ErrorReason.INVALID_CURSOR, "page_token is not one this server issued");
      const page = await storeCall(() =>
        d.approvals.list({ states: states as StoreState[], page_size: size, ...(req.pageToken ? { page_token: req.pageToken } : {}) }),
      );
      return { requests: page.requests.map(approvalInfo), nextPageToken: page.next_page_token ?? "" };
    },

    async getApproval(req, ctx) {
      authorize(ctx);
      if (!req.approvalRequestId) throw invalidArgument(ErrorReason.INVALID_ARGUMENT, "approval_request_id is required");
      const rec = await storeCall(() => d.approvals.get(req.approvalRequestId));
      if (!rec) throw gateError(grpc.status.NOT_FOUND, ErrorReason.APPROVAL_REQUEST_NOT_FOUND, `approval request ${req.approvalRequestId} not found`);
      return { request: approvalInfo(rec), tokenJsons: rec.state === "granted" ? rec.tokens.map((t) => JSON.stringify(t)) : [] };
    },

    async *exportTraces(req, ctx) {
      authorize(ctx);
      const oldest = d.traceLog.oldestSeq();
      const from = req.fromSequence === 0n ? oldest : Number(req.fromSequence);
      if (!Number.isSafeInteger(from)) throw invalidArgument(ErrorReason.INVALID_CURSOR, "from_sequence is out of range");
      if (from < oldest) {
        throw gateError(
          grpc.status.OUT_OF_RANGE,
          ErrorReason.INVALID_CURSOR,
          `entries before sequence ${oldest} were removed by retention (--trace-max-age/--trace-max-count); resume from ${oldest} or 0 to accept the gap`,
        );
      }
      const head = d.traceLog.head().seq;
      if (from > head + 1) {
        throw invalidArgument(ErrorReason.INVALID_CURSOR, `from_sequence ${from} is beyond the log head ${head} (resume with the last received sequence + 1)`);
      }
      const max = Number(req.maxEntries);
      const signal = AbortSignal.any([ctx.signal, d.shutdownSignal]);
      let n = 0;
      try {
        for await (const e of d.traceLog.readFrom(from, { follow: req.follow, signal })) {
          let traceId = "";
          let eventId = "";
          let verdict = PbVerdict.UNSPECIFIED;
          try {
            const rec = JSON.parse(e.recordText()) as { trace_id?: string; event_id?: string; verdict?: Verdict };
            traceId = rec.trace_id ?? "";
            eventId = rec.event_id ?? "";
            verdict = (rec.verdict && VERDICT_TO_PB[rec.verdict]) ?? PbVerdict.UNSPECIFIED;
          } catch {
            /* the record text is sent as stored; the summary fields stay empty */
          }
          yield { sequence: BigInt(e.seq), recordJson: e.recordText(), prevHash: e.prev, entryHash: e.hash, traceId, eventId, verdict };
          if (max > 0 && ++n >= max) return;
        }
      } catch (e) {
        if (d.shutdownSignal.aborted && !ctx.signal.aborted) {
          throw gateError(grpc.status.UNAVAILABLE, ErrorReason.SHUTTING_DOWN, "server is shutting down; resume from the next sequence");
        }
        if (ctx.signal.aborted) return;
        if (e instanceof GrpcError) throw e;
        d.log.error({ err: e }, "trace export failed");
        throw gateError(grpc.status.INTERNAL, ErrorReason.INTERNAL, `trace export failed: ${(e as Error).message}`);
      }
      if (d.shutdownSignal.aborted && req.follow && !ctx.signal.aborted) {
        throw gateError(grpc.status.UNAVAILABLE, ErrorReason.SHUTTING_DOWN, "server is shutting down; resume from the next sequence");
      }
    },

    getServerInfo(_req, ctx) {
      authorize(ctx);
      const head = d.traceLog.head();
      const cur = d.policy.current;
      return {
        keyId: d.keys.signer.keyId,
        publicKey: Buffer.from(d.keys.signer.publicKey).toString("base64"),
        keyMode: d.keys.mode,
        policyDigest: cur.digest,
        policyPath: cur.path,
        traceHeadSequence: BigInt(head.seq),
        traceHeadHash: head.hash,
        version: d.version,
        policyReloadError: d.policy.reloadError ?? "",
      };
    },
  };
}

function mint(
  d: GateServiceDeps,
  p: Parameters<typeof mintApprovalToken>[0],
  now: Date,
): ReturnType<typeof mintApprovalToken> {
  if (!(p.ttlMs > 0)) throw invalidArgument(ErrorReason.INVALID_ARGUMENT, "ttl is required for a grant and must be positive (e.g. 900s)");
  if (!p.reasonCode.trim()) throw invalidArgument(ErrorReason.INVALID_ARGUMENT, "reason_code is required for a grant");
  try {
    return mintApprovalToken({ ...p, producerVersion: d.producerVersion }, d.keys.signer, now);
  } catch (e) {
    if (e instanceof TokenMintError) throw invalidArgument(ErrorReason.INVALID_ARGUMENT, e.message);
    throw gateError(grpc.status.INTERNAL, ErrorReason.SIGNING_FAILED, `mint approval token: ${(e as Error).message}`);
  }
}

export { GateService };
