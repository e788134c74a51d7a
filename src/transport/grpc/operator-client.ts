/**
 * The operator's client of a running service (the `gait approvals|killswitch|trace tail` commands): GateService over
 * the operator socket, answered in plain objects (snake_case, Gait's names), failures as GateErrors carrying the
 * server's reason, so the CLI maps them like any other error. The CLI loads this module on demand (one-shot commands
 * that do not talk to a server never load gRPC).
 */
import * as grpc from "@grpc/grpc-js";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack, timestampDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { KillSwitchEntry as EngineKillSwitchEntry } from "../../engine/types.js";
import { ApprovalDecision, ApprovalState, GateService, type ApprovalRequestInfo, type KillSwitchEntry } from "../../gen/gait/gate/v1/gate_service_pb.js";
import { Verdict as PbVerdict } from "../../gen/gait/gate/v1/verdict_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { formatGoTime } from "../../engine/time.js";
import type { Verdict } from "../../engine/types.js";
import { GateError, REASON_KIND, type Reason } from "../../service/errors.js";
import { createClient, type PromiseClient } from "./adapter.js";
import { VERDICT_TO_PB } from "./handlers.js";

export interface ApprovalView {
  approval_request_id: string;
  state: string;
  tool_name: string;
  identity: string;
  reason_codes: string[];
  required_approvals: number;
  granted_approvals: number;
  approvers: string[];
  required_scopes: string[];
  created_at: string;
  expires_at: string;
  intent_digest: string;
  policy_digest: string;
  args_digest: string;
  run_id: string;
  session_id: string;
  trace_id: string;
  denied_by: string;
  deny_reason: string;
}

export interface KillSwitchEntryView extends Omit<EngineKillSwitchEntry, "reason" | "actor" | "created_at"> {
  active: boolean;
  reason: string;
  actor: string;
  created_at: string;
}

export interface WatchEntryView {
  sequence: number;
  kind: string;
  verdict?: Verdict;
  tool_name: string;
  identity: string;
  reason_codes: string[];
  action?: string;
  trace_id: string;
  created_at: string;
  /** when the record was written (wall clock) */
  observed_at: string;
  latency_ms?: number;
  approval_request_id?: string;
  entry_hash: string;
}

export interface WatchQuery {
  from?: number;
  follow?: boolean;
  max?: number;
  verdicts?: Verdict[];
  toolNames?: string[];
  identities?: string[];
  reasonCodes?: string[];
  includeOperatorActions?: boolean;
}

export interface KillSwitchSetQuery {
  entryId?: string;
  agentId?: string;
  identity?: string;
  toolName?: string;
  targetKind?: string;
  targetValue?: string;
  environment?: string;
  pathPrefixes?: string[];
  workspacePrefixes?: string[];
  reason: string;
  actor: string;
  ttlMs?: number;
  expiresAt?: string;
}

const STATE_NAME: Record<ApprovalState, string> = {
  [ApprovalState.UNSPECIFIED]: "unspecified",
  [ApprovalState.PENDING]: "pending",
  [ApprovalState.GRANTED]: "granted",
  [ApprovalState.DENIED]: "denied",
  [ApprovalState.EXPIRED]: "expired",
  [ApprovalState.CONSUMED]: "consumed",
};
const STATE_OF = new Map(Object.entries(STATE_NAME).map(([k, v]) => [v, Number(k) as ApprovalState]));
const VERDICT_OF = new Map<PbVerdict, Verdict>(Object.entries(VERDICT_TO_PB).map(([k, v]) => [v, k as Verdict]));

const ts = (t: Timestamp | undefined): string => (t ? formatGoTime(timestampDate(t)) : "");
const durMs = (ms: number): Duration => {
  const whole = Math.floor(ms);
  return { seconds: BigInt(Math.floor(whole / 1000)), nanos: (whole % 1000) * 1e6 } as Duration;
};

function approvalView(r: ApprovalRequestInfo | undefined): ApprovalView {
  if (!r) throw new GateError("INTERNAL", "the server answered without the approval request");
  return {
    approval_request_id: r.approvalRequestId,
    state: STATE_NAME[r.state] ?? "unspecified",
    tool_name: r.toolName,
    identity: r.identity,
    reason_codes: r.reasonCodes,
    required_approvals: r.requiredApprovals,
    granted_approvals: r.grantedApprovals,
    approvers: r.approvers,
    required_scopes: r.requiredScopes,
    created_at: ts(r.createdAt),
    expires_at: ts(r.expiresAt),
    intent_digest: r.intentDigest,
    policy_digest: r.policyDigest,
    args_digest: r.argsDigest,
    run_id: r.runId,
    session_id: r.sessionId,
    trace_id: r.traceId,
    denied_by: r.deniedBy,
    deny_reason: r.denyReason,
  };
}

function entryView(e: KillSwitchEntry | undefined): KillSwitchEntryView {
  if (!e) throw new GateError("INTERNAL", "the server answered without the kill-switch entry");
  const opt = (k: string, v: string) => (v ? { [k]: v } : {});
  return {
    entry_id: e.entryId,
    enabled: e.enabled,
    active: e.active,
    ...opt("agent_id", e.agentId),
    ...opt("identity", e.identity),
    ...opt("tool_name", e.toolName),
    ...opt("target_kind", e.targetKind),
    ...opt("target_value", e.targetValue),
    ...opt("environment", e.environment),
    ...(e.pathPrefixes.length ? { path_prefixes: e.pathPrefixes } : {}),
    ...(e.workspacePrefixes.length ? { workspace_prefixes: e.workspacePrefixes } : {}),
    reason: e.reason,
    actor: e.actor,
    created_at: ts(e.createdAt),
    ...(e.expiresAt ? { expires_at: ts(e.expiresAt) } : {}),
  };
}

/** A gRPC failure as a GateError with the server's reason (or what the transport failure means). */
export function clientError(e: unknown, socket: string): GateError {
  const err = e as grpc.ServiceError;
  const bin = err?.metadata?.get("grpc-status-details-bin")[0];
  if (bin && typeof bin !== "string") {
    try {
      for (const a of fromBinary(StatusSchema, bin).details) {
        const info = anyUnpack(a, ErrorInfoSchema);
        if (info && info.reason in REASON_KIND) return new GateError(info.reason as Reason, err.details || err.message, { cause: e });
      }
    } catch {
      /* fall through to the status code */
    }
  }
  if (err?.code === grpc.status.UNAVAILABLE) {
    return new GateError("STATE_UNAVAILABLE", `cannot reach the operator socket ${socket} (${err.details || err.message}); is 'gait mcp serve' running with --operator-listen unix://${socket}?`, { cause: e });
  }
  if (err?.code === grpc.status.DEADLINE_EXCEEDED) return new GateError("STATE_UNAVAILABLE", `the server at ${socket} did not answer in time`, { cause: e });
  if (err?.code === grpc.status.UNAUTHENTICATED) return new GateError("UNAUTHENTICATED", `${err.details}; pass the operator token in GAIT_OPERATOR_TOKEN (or --token-env)`, { cause: e });
  return new GateError("INTERNAL", `operator call failed: ${err?.details || (e as Error)?.message || String(e)}`, { cause: e });
}

/** A connection to the operator socket. */
export class OperatorClient {
  private readonly channel: grpc.Client;
  private readonly rpc: PromiseClient<typeof GateService>;
  private readonly metadata: grpc.Metadata;

  constructor(
    readonly socket: string,
    token?: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.channel = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
    this.rpc = createClient(GateService, this.channel);
    this.metadata = new grpc.Metadata();
    if (token) this.metadata.set("authorization", `Bearer ${token}`);
  }

  close(): void {
    this.channel.close();
  }

  private async call<T>(fn: (o: { metadata: grpc.Metadata; timeoutMs: number }) => Promise<T>): Promise<T> {
    try {
      return await fn({ metadata: this.metadata, timeoutMs: this.timeoutMs });
    } catch (e) {
      throw clientError(e, this.socket);
    }
  }

  async serverInfo(): Promise<{ key_id: string; policy_digest: string; policy_path: string; trace_head_sequence: number; policy_reload_error: string; version: string }> {
    const r = await this.call((o) => this.rpc.getServerInfo({}, o));
    return { key_id: r.keyId, policy_digest: r.policyDigest, policy_path: r.policyPath, trace_head_sequence: Number(r.traceHeadSequence), policy_reload_error: r.policyReloadError, version: r.version };
  }

  async listApprovals(states: string[] = []): Promise<ApprovalView[]> {
    const pb = states.map((s) => {
      const v = STATE_OF.get(s);
      if (v === undefined || v === ApprovalState.UNSPECIFIED) throw new GateError("INVALID_ARGUMENT", `unknown approval state ${JSON.stringify(s)} (pending, granted, denied, expired, consumed)`);
      return v;
    });
    const out: ApprovalView[] = [];
    let pageToken = "";
    do {
      const page = await this.call((o) => this.rpc.listApprovals({ states: pb, pageSize: 500, pageToken }, o));
      out.push(...page.requests.map(approvalView));
      pageToken = page.nextPageToken;
    } while (pageToken);
    return out;
  }

  async getApproval(id: string): Promise<{ request: ApprovalView; token_jsons: string[] }> {
    const r = await this.call((o) => this.rpc.getApproval({ approvalRequestId: id }, o));
    return { request: approvalView(r.request), token_jsons: r.tokenJsons };
  }

  async approve(q: { id: string; decision: "grant" | "deny"; approver: string; reasonCode: string; ttlMs?: number; scopes?: string[] }): Promise<{ request: ApprovalView; token_id: string; token_json: string; expires_at: string }> {
    const r = await this.call((o) =>
      this.rpc.approve(
        {
          target: { case: "approvalRequestId", value: q.id },
          decision: q.decision === "grant" ? ApprovalDecision.GRANT : ApprovalDecision.DENY,
          approver: q.approver,
          reasonCode: q.reasonCode,
          ...(q.ttlMs ? { ttl: durMs(q.ttlMs) } : {}),
          scopes: q.scopes ?? [],
        },
        o,
      ),
    );
    return { request: approvalView(r.request), token_id: r.tokenId, token_json: r.tokenJson, expires_at: ts(r.expiresAt) };
  }

  async setKillSwitch(q: KillSwitchSetQuery): Promise<KillSwitchEntryView> {
    const r = await this.call((o) =>
      this.rpc.setKillSwitch(
        {
          entryId: q.entryId ?? "",
          agentId: q.agentId ?? "",
          identity: q.identity ?? "",
          toolName: q.toolName ?? "",
          targetKind: q.targetKind ?? "",
          targetValue: q.targetValue ?? "",
          environment: q.environment ?? "",
          pathPrefixes: q.pathPrefixes ?? [],
          workspacePrefixes: q.workspacePrefixes ?? [],
          reason: q.reason,
          actor: q.actor,
          ...(q.ttlMs !== undefined ? { ttl: durMs(q.ttlMs) } : {}),
          ...(q.expiresAt ? { expiresAt: timestampOf(q.expiresAt) } : {}),
        },
        o,
      ),
    );
    return entryView(r.entry);
  }

  async listKillSwitches(includeInactive: boolean): Promise<KillSwitchEntryView[]> {
    const r = await this.call((o) => this.rpc.listKillSwitches({ includeInactive }, o));
    return r.entries.map(entryView);
  }

  async clearKillSwitch(q: { entryId: string; expire: boolean; actor: string; reason: string }): Promise<KillSwitchEntryView> {
    const r = await this.call((o) => this.rpc.clearKillSwitch({ entryId: q.entryId, expire: q.expire, actor: q.actor, reason: q.reason }, o));
    return entryView(r.entry);
  }

  /** Matching entries in order; with `follow`, until `signal` aborts (or the server ends the stream). */
  async *watch(q: WatchQuery, signal?: AbortSignal): AsyncGenerator<WatchEntryView> {
    const stream = this.rpc.watchDecisions(
      {
        fromSequence: BigInt(q.from ?? 0),
        follow: q.follow ?? false,
        maxEntries: BigInt(q.max ?? 0),
        verdicts: (q.verdicts ?? []).map((v) => VERDICT_TO_PB[v]),
        toolNames: q.toolNames ?? [],
        identities: q.identities ?? [],
        reasonCodes: q.reasonCodes ?? [],
        includeOperatorActions: q.includeOperatorActions ?? false,
      },
      { metadata: this.metadata, ...(signal ? { signal } : {}) },
    );
    try {
      for await (const r of stream) {
        yield {
          sequence: Number(r.sequence),
          kind: r.kind,
          ...(VERDICT_OF.get(r.verdict) ? { verdict: VERDICT_OF.get(r.verdict)! } : {}),
          tool_name: r.toolName,
          identity: r.identity,
          reason_codes: r.reasonCodes,
          ...(r.action ? { action: r.action } : {}),
          trace_id: r.traceId,
          created_at: ts(r.createdAt),
          observed_at: ts(r.observedAt),
          ...(r.decisionLatency ? { latency_ms: preciseMs(r.decisionLatency) } : {}),
          ...(r.approvalRequestId ? { approval_request_id: r.approvalRequestId } : {}),
          entry_hash: r.entryHash,
        };
      }
    } catch (e) {
      if (signal?.aborted) return;
      throw clientError(e, this.socket);
    }
  }
}

function timestampOf(rfc3339: string): Timestamp {
  const ms = Date.parse(rfc3339);
  if (!Number.isFinite(ms)) throw new GateError("INVALID_ARGUMENT", `--expires-at ${JSON.stringify(rfc3339)} is not an RFC 3339 time`);
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 } as Timestamp;
}

/** A Duration in milliseconds, sub-millisecond digits kept (protobuf-es durationMs rounds to whole ms). */
function preciseMs(d: Duration): number {
  return Number(d.seconds) * 1000 + d.nanos / 1e6;
}
