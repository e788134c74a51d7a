/**
 * GateClient: a small fail-closed client for gait.gate.v1.GateService on @grpc/grpc-js.
 *
 * Safe defaults: every call has a deadline (250 ms unless set; `timeoutMs <= 0` is the explicit opt-out),
 * `evaluate()` never throws and turns every failure into a `block` decision marked `failClosed`, and `guard()` runs a
 * tool only on `allow`. There is deliberately no option that turns a failure into `allow`.
 */
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, fromJson, toBinary, type DescMessage, type JsonObject, type MessageShape } from "@bufbuild/protobuf";
import { connect } from "node:net";
import {
  ApprovalState,
  ApproveRequestSchema,
  ApproveResponseSchema,
  EvaluateRequestSchema,
  EvaluateResponseSchema,
  ExportTracesRequestSchema,
  ExportTracesResponseSchema,
  GateService,
  GetApprovalRequestSchema,
  GetApprovalResponseSchema,
  GetServerInfoRequestSchema,
  GetServerInfoResponseSchema,
  ListApprovalsRequestSchema,
  ListApprovalsResponseSchema,
  type ExportTracesResponse,
  type GetServerInfoResponse,
} from "./gen/gait/gate/v1/gate_service_pb.js";
import { IntentRequestSchema } from "./gen/gait/gate/v1/intent_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  causeOfStatus,
  decisionFromResponse,
  errorReasonFromStatusDetails,
  failClosedDecision,
  type Decision,
  type FailClosedCause,
} from "./decision.js";
import { cannotConnectMessage, resolveTarget, type Target } from "./target.js";
import { checkIntentJson, intentToJson, type Intent } from "./intent.js";
import { protoKeyPath } from "./struct.js";
import {
  approvalFrom,
  approvalRequestFrom,
  approvalStatusFrom,
  denyRequest,
  grantRequest,
  type Approval,
  type ApprovalRequest,
  type ApprovalStateName,
  type ApprovalStatus,
  type Denial,
  type DigestBinding,
  type Grant,
} from "./approval.js";

/** The default deadline of every call, in milliseconds (the same in the Python and Go clients). */
export const DEFAULT_TIMEOUT_MS = 250;

/** One call to decide on: exactly one of `intent`, `intentJson` or `toolCall`. */
export interface GateCall {
  /** A Gait intent, typed: a misspelt field or an unknown target kind does not compile. See {@link Intent}. */
  intent?: Intent;
  /**
   * A Gait intent as raw JSON (an object, or JSON text such as an intent file), for intents whose shape is not
   * known at compile time. Keys are checked at run time: an unknown key fails closed with
   * `fail_closed_invalid_argument` and a message naming the closest field.
   */
  intentJson?: JsonObject | string;
  /** A raw tool call the server decodes with `adapter` (mcp, openai, anthropic, langchain, claude_code). */
  toolCall?: { adapter?: string; call: JsonObject | string };
  /** Names the run in artifact names; not part of the intent digest. */
  runId?: string;
  sessionId?: string;
  /** Approval token JSON documents (`gait.gate.approval_token`). */
  approvalTokens?: readonly string[];
  /** Use the tokens granted on this approval request (from an earlier `require_approval` decision). */
  approvalRequestId?: string;
  /** Delegation token JSON documents (`gait.gate.delegation_token`). */
  delegationTokens?: readonly string[];
  emitRunpack?: boolean;
}

/** Per-call options. */
export interface CallOptions {
  /** Deadline for this call. @defaultValue the client's `timeoutMs` (250 ms). `<= 0` means no deadline. */
  timeoutMs?: number;
  /** Aborting cancels the call; `evaluate()` then returns `block` with `fail_closed_cancelled`. */
  signal?: AbortSignal;
}

/** Passed to the fail-closed hook. */
export interface FailClosedEvent {
  readonly decision: Decision;
  readonly method: string;
  readonly target: string;
}

/** Client options; every field is optional and merged over {@link DEFAULT_CLIENT_OPTIONS}. */
export interface GateClientOptions {
  /**
   * `unix:///abs/path.sock`, a socket path, or `host:port` for TCP. The operator calls (`approve`, `deny`,
   * `listApprovals`) need the server's operator socket here (e.g. `process.env.GAIT_OPERATOR_SOCKET`).
   * @defaultValue `$GAIT_SOCKET`, else the per-user default socket `$XDG_RUNTIME_DIR/gait/gate.sock` or
   * `/tmp/gait-<uid>/gate.sock` (what `gait mcp serve` binds by default; `defaultSocketPath()`)
   */
  target?: string;
  /** Deadline of every call unless overridden per call. `<= 0` is the explicit opt-out. @defaultValue 250 */
  timeoutMs?: number;
  /** Bearer token sent as `authorization: Bearer <token>` (for servers run with `--auth-mode token`). */
  token?: string;
  /**
   * Called for every fail-closed decision (after it was counted).
   * @defaultValue one `console.warn` line naming the reason, method, target and error
   */
  onFailClosed?: (event: FailClosedEvent) => void;
  /** Extra grpc-js channel options (merged over short reconnect backoffs suited to a local socket). */
  channelOptions?: grpc.ChannelOptions;
}

/** The defaults; frozen so nobody can change them for everyone. */
export const DEFAULT_CLIENT_OPTIONS: Readonly<Required<Omit<GateClientOptions, "target" | "token">>> = Object.freeze({
  timeoutMs: DEFAULT_TIMEOUT_MS,
  onFailClosed: (e: FailClosedEvent) => {
    console.warn(
      `gait-client: fail closed (${e.decision.reasonCodes.join(",")}) on ${e.method} to ${e.target}: ${e.decision.message ?? ""}`,
    );
  },
  channelOptions: Object.freeze({
    "grpc.initial_reconnect_backoff_ms": 50,
    "grpc.max_reconnect_backoff_ms": 1000,
  }) as grpc.ChannelOptions,
});

/** A failed non-evaluate call (approval, export, server info). Check it with {@link isGateError}. */
export class GateError extends Error {
  override readonly name = "GateError";
  constructor(
    /** The fail-closed cause this error corresponds to (`deadline_exceeded`, `malformed_response`, ...). */
    override readonly cause: FailClosedCause,
    message: string,
    /** gRPC status code name, when there was a status. */
    readonly statusCode?: string,
    /** google.rpc.ErrorInfo.reason, when the server sent one. */
    readonly errorReason?: string,
  ) {
    super(message);
  }
}

/** Name-based check, so it also works across duplicated copies of this package. */
export function isGateError(e: unknown): e is GateError {
  return typeof e === "object" && e !== null && (e as { name?: unknown }).name === "GateError";
}

/** What `guard()` returns: the tool's value when it ran, or the decision that stopped it. */
export type GuardOutcome<T> =
  | { readonly executed: true; readonly value: T; readonly decision: Decision }
  | { readonly executed: false; readonly decision: Decision };

/** One trace log entry from `exportTraces()`. */
export type TraceEntry = ExportTracesResponse;

const STATE_VALUES: Readonly<Record<Exclude<ApprovalStateName, "unspecified">, ApprovalState>> = {
  pending: ApprovalState.PENDING,
  granted: ApprovalState.GRANTED,
  denied: ApprovalState.DENIED,
  expired: ApprovalState.EXPIRED,
  consumed: ApprovalState.CONSUMED,
};

const STATUS_NAME_UPPER = (code: number): string => causeOfStatus(code).toUpperCase();

function methodPath(localName: keyof typeof GateService.method): string {
  const m = GateService.method[localName];
  return `/${GateService.typeName}/${m.name}`;
}

const identity = (b: Buffer): Buffer => b;

function serializer<D extends DescMessage>(schema: D): (m: MessageShape<D>) => Buffer {
  return (m) => {
    const u8 = toBinary(schema, m);
    return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  };
}

/** Builds the EvaluateRequest for a call; throws a plain Error naming what is wrong with the input. */
export function buildEvaluateRequest(call: GateCall): MessageShape<typeof EvaluateRequestSchema> {
  if (call === null || typeof call !== "object") throw new Error("call must be an object with `intent`, `intentJson` or `toolCall`");
  const given = [call.intent, call.intentJson, call.toolCall].filter((x) => x !== undefined).length;
  if (given !== 1) throw new Error("call must have exactly one of `intent`, `intentJson` or `toolCall`");
  let input: MessageInitShape<typeof EvaluateRequestSchema>["input"];
  if (call.toolCall === undefined) {
    let json: unknown;
    if (call.intent !== undefined) json = intentToJson(call.intent);
    else if (typeof call.intentJson === "string") {
      try {
        json = JSON.parse(call.intentJson);
      } catch (e) {
        throw new Error(`intentJson is not JSON: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else json = call.intentJson;
    // checked here as well as by fromJson, so an unknown key is named with its path and the closest field
    const problem = checkIntentJson(json);
    if (problem) throw new Error(`intent: ${problem}`);
    // protobuf-es drops a Struct key named __proto__ when it encodes: the gate would decide on other arguments
    // than the tool runs with, so such an intent is refused (struct.ts)
    const proto = protoKeyPath(json);
    if (proto) throw new Error(`intent: the key "${proto}" cannot be encoded as a protobuf Struct without being dropped; send this call as toolCall JSON text`);
    input = { case: "intent", value: fromJson(IntentRequestSchema, json as JsonObject) };
  } else {
    const tc = call.toolCall;
    if (tc === null || typeof tc !== "object" || tc.call === undefined || tc.call === null) {
      throw new Error("toolCall.call must be a JSON object or JSON text");
    }
    const json = typeof tc.call === "string" ? tc.call : JSON.stringify(tc.call);
    input = { case: "toolCall", value: { adapter: tc.adapter ?? "", payload: { case: "callJson", value: json } } };
  }
  return create(EvaluateRequestSchema, {
    input,
    runId: call.runId ?? "",
    sessionId: call.sessionId ?? "",
    approvalTokens: [...(call.approvalTokens ?? [])],
    approvalRequestId: call.approvalRequestId ?? "",
    delegationTokens: [...(call.delegationTokens ?? [])],
    emitRunpack: call.emitRunpack ?? false,
  });
}

interface RawError {
  cause: FailClosedCause;
  message: string;
  statusCode?: string;
  errorReason?: string;
}

function rawErrorOf(err: grpc.ServiceError): RawError {
  const bin = err.metadata?.get("grpc-status-details-bin")[0];
  const errorReason = errorReasonFromStatusDetails(typeof bin === "string" ? Buffer.from(bin, "base64") : bin);
  return {
    cause: causeOfStatus(err.code),
    message: err.details || err.message,
    statusCode: STATUS_NAME_UPPER(err.code),
    ...(errorReason !== undefined ? { errorReason } : {}),
  };
}

/** A fail-closed client for one gate server. Cheap to keep; create one per target and reuse it. */
export class GateClient {
  readonly target: Target;
  private readonly timeoutMs: number;
  private readonly token: string | undefined;
  private readonly onFailClosed: (event: FailClosedEvent) => void;
  private readonly channel: grpc.Client;
  private readonly counts = new Map<string, number>();
  private total = 0;
  private closed = false;

  constructor(options: GateClientOptions = {}) {
    this.target = resolveTarget(options.target);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_OPTIONS.timeoutMs;
    this.token = options.token;
    this.onFailClosed = options.onFailClosed ?? DEFAULT_CLIENT_OPTIONS.onFailClosed;
    this.channel = new grpc.Client(this.target.uri, grpc.credentials.createInsecure(), {
      ...DEFAULT_CLIENT_OPTIONS.channelOptions,
      ...options.channelOptions,
    });
  }

  /** Number of fail-closed decisions this client produced, in total. */
  get failClosedTotal(): number {
    return this.total;
  }

  /** Fail-closed decisions by reason code (e.g. `{ fail_closed_unavailable: 2 }`). */
  failClosedCounts(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Closes the channel. Calls made afterwards fail closed with `fail_closed_unavailable`. */
  close(): void {
    this.closed = true;
    this.channel.close();
  }

  /**
   * Asks the gate whether a call may run. Never throws and never rejects: every failure is a `block` decision with
   * `failClosed: true` and reason `fail_closed_<cause>`, counted and reported to `onFailClosed`.
   */
  async evaluate(call: GateCall, options: CallOptions = {}): Promise<Decision> {
    let decision: Decision;
    try {
      let req: MessageShape<typeof EvaluateRequestSchema>;
      try {
        req = buildEvaluateRequest(call);
      } catch (e) {
        decision = failClosedDecision("invalid_argument", `invalid call: ${e instanceof Error ? e.message : String(e)}`);
        return this.record(decision, "Evaluate");
      }
      const raw = await this.unary("evaluate", EvaluateRequestSchema, req, options);
      if (!raw.ok) {
        decision = failClosedDecision(raw.error.cause, raw.error.message, raw.error);
      } else {
        let res;
        try {
          res = fromBinary(EvaluateResponseSchema, raw.bytes);
        } catch (e) {
          res = undefined;
          decision = failClosedDecision("malformed_response", `the server's answer does not decode: ${e instanceof Error ? e.message : String(e)}`);
        }
        if (res) decision = decisionFromResponse(res);
      }
    } catch (e) {
      decision = failClosedDecision("unknown", `client error: ${e instanceof Error ? e.message : String(e)}`);
    }
    return this.record(decision!, "Evaluate");
  }

  /**
   * Runs `fn` only when the gate answers `allow` for `call`. For every other verdict, including `dry_run`,
   * `require_approval` and every fail-closed `block`, `fn` is not called and `{ executed: false, decision }` is
   * returned. Errors thrown by `fn` itself propagate.
   */
  async guard<T>(call: GateCall, fn: (decision: Decision) => T | Promise<T>, options?: CallOptions): Promise<GuardOutcome<T>> {
    const decision = await this.evaluate(call, options);
    if (!decision.allowed) return { executed: false, decision };
    return { executed: true, value: await fn(decision), decision };
  }

  /** Reads one approval request (and its tokens once granted). Throws {@link GateError} on failure. */
  async getApproval(approvalRequestId: string, options: CallOptions = {}): Promise<ApprovalStatus> {
    const res = await this.unaryDecoded("getApproval", GetApprovalRequestSchema, GetApprovalResponseSchema, create(GetApprovalRequestSchema, { approvalRequestId }), options);
    return approvalStatusFrom(res, approvalRequestId);
  }

  /**
   * Polls GetApproval until the request leaves `pending` (granted, denied, expired or consumed) and returns its last
   * state. Each poll has the per-call deadline; `waitMs` bounds the whole wait. Throws {@link GateError} with cause
   * `deadline_exceeded` when `waitMs` passes, `cancelled` when `signal` aborts, or the poll's own failure.
   */
  async waitForApproval(
    approvalRequestId: string,
    options: CallOptions & { intervalMs?: number; waitMs?: number } = {},
  ): Promise<ApprovalStatus> {
    const intervalMs = options.intervalMs ?? 500;
    const waitMs = options.waitMs ?? 300_000;
    const end = Date.now() + waitMs;
    for (;;) {
      if (options.signal?.aborted) throw new GateError("cancelled", "waiting for approval was cancelled");
      const status = await this.getApproval(approvalRequestId, options);
      if (status.request.state !== "pending") return status;
      const left = end - Date.now();
      if (left <= 0) throw new GateError("deadline_exceeded", `approval ${approvalRequestId} still pending after ${waitMs} ms`);
      await sleep(Math.min(intervalMs, left), options.signal);
    }
  }

  /**
   * For a `require_approval` decision: waits for its approval request, then evaluates `call` again with that
   * request's granted tokens. Returns the new decision, or the original one when the request was denied or expired.
   * Never throws: a failed wait is a fail-closed `block`.
   */
  async evaluateAfterApproval(
    call: GateCall,
    decision: Decision,
    options: CallOptions & { intervalMs?: number; waitMs?: number } = {},
  ): Promise<Decision> {
    if (decision.verdict !== "require_approval" || !decision.approvalRequestId) return decision;
    let status: ApprovalStatus;
    try {
      status = await this.waitForApproval(decision.approvalRequestId, options);
    } catch (e) {
      const err = isGateError(e) ? e : new GateError("unknown", e instanceof Error ? e.message : String(e));
      return this.record(failClosedDecision(err.cause, err.message, { ...(err.statusCode ? { statusCode: err.statusCode } : {}), ...(err.errorReason ? { errorReason: err.errorReason } : {}) }), "GetApproval");
    }
    if (status.request.state !== "granted") return decision;
    return this.evaluate({ ...call, approvalRequestId: decision.approvalRequestId }, options);
  }

  /**
   * Grants a pending approval request (operator socket only): `approve(id, { approver, reasonCode, ttlSeconds })`.
   * Returns the request's new state and the signed token. Throws {@link GateError} on failure; a bad `ttlSeconds`
   * is `invalid_argument` before anything is sent.
   */
  async approve(approvalRequestId: string, grant: Grant, options: CallOptions = {}): Promise<Approval> {
    return this.answer(() => grantRequest(approvalRequestId, grant), options);
  }

  /**
   * Mints an approval token for a call named by its digests, without a pending request (the `gait approve
   * --intent-digest --policy-digest` form; operator socket only). `grant.scopes` is required here.
   */
  async approveDigests(digests: DigestBinding, grant: Grant, options: CallOptions = {}): Promise<Approval> {
    return this.answer(() => grantRequest(digests, grant), options);
  }

  /** Denies a pending approval request (operator socket only). Throws {@link GateError} on failure. */
  async deny(approvalRequestId: string, denial: Denial, options: CallOptions = {}): Promise<Approval> {
    return this.answer(() => denyRequest(approvalRequestId, denial), options);
  }

  /**
   * Lists approval requests, oldest first (operator socket only). `states` defaults to pending only; pass the
   * returned `nextPageToken` as `pageToken` for the next page. Throws {@link GateError} on failure.
   */
  async listApprovals(
    filter: { states?: readonly Exclude<ApprovalStateName, "unspecified">[]; pageSize?: number; pageToken?: string } = {},
    options: CallOptions = {},
  ): Promise<{ requests: ApprovalRequest[]; nextPageToken: string }> {
    const req = create(ListApprovalsRequestSchema, {
      states: (filter.states ?? []).map((s) => STATE_VALUES[s]),
      pageSize: filter.pageSize ?? 0,
      pageToken: filter.pageToken ?? "",
    });
    const res = await this.unaryDecoded("listApprovals", ListApprovalsRequestSchema, ListApprovalsResponseSchema, req, options);
    return { requests: res.requests.map(approvalRequestFrom), nextPageToken: res.nextPageToken };
  }

  /** The server's signing key, policy digest and trace head. Throws {@link GateError} on failure. */
  async getServerInfo(options: CallOptions = {}): Promise<GetServerInfoResponse> {
    return this.unaryDecoded("getServerInfo", GetServerInfoRequestSchema, GetServerInfoResponseSchema, create(GetServerInfoRequestSchema, {}), options);
  }

  /**
   * Streams trace log entries in sequence order starting at `fromSequence` (0 = from the beginning). The deadline
   * covers the whole stream: pass `timeoutMs: 0` with `follow: true` to keep following. Throws {@link GateError}.
   */
  async *exportTraces(
    req: { fromSequence?: bigint | number; follow?: boolean; maxEntries?: bigint | number } = {},
    options: CallOptions = {},
  ): AsyncGenerator<TraceEntry, void, undefined> {
    const msg = create(ExportTracesRequestSchema, {
      fromSequence: BigInt(req.fromSequence ?? 0),
      follow: req.follow ?? false,
      maxEntries: BigInt(req.maxEntries ?? 0),
    });
    const stream = this.channel.makeServerStreamRequest(
      methodPath("exportTraces"),
      serializer(ExportTracesRequestSchema),
      identity,
      msg,
      this.metadata(),
      this.callOptions(options),
    );
    const onAbort = () => stream.cancel();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        let entry: TraceEntry;
        try {
          entry = fromBinary(ExportTracesResponseSchema, chunk);
        } catch (e) {
          throw new GateError("malformed_response", `trace entry does not decode: ${e instanceof Error ? e.message : String(e)}`);
        }
        yield entry;
      }
    } catch (e) {
      if (isGateError(e)) throw e;
      const se = e as grpc.ServiceError;
      if (typeof se?.code === "number") {
        const r = this.errorOf(se);
        throw new GateError(r.cause, r.message, r.statusCode, r.errorReason);
      }
      throw new GateError("unknown", e instanceof Error ? e.message : String(e));
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      stream.cancel();
    }
  }

  private async answer(build: () => MessageShape<typeof ApproveRequestSchema>, options: CallOptions): Promise<Approval> {
    let req: MessageShape<typeof ApproveRequestSchema>;
    try {
      req = build();
    } catch (e) {
      throw new GateError("invalid_argument", e instanceof Error ? e.message : String(e));
    }
    return approvalFrom(await this.unaryDecoded("approve", ApproveRequestSchema, ApproveResponseSchema, req, options));
  }

  private record(decision: Decision, method: string): Decision {
    if (decision.failClosed) {
      const reason = decision.reasonCodes[0] ?? "fail_closed_unknown";
      this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
      this.total++;
      try {
        this.onFailClosed({ decision, method, target: this.target.uri });
      } catch {
        // a broken log hook must not change the decision
      }
    }
    return decision;
  }

  /**
   * A failed call's error. UNAVAILABLE without the server's ErrorInfo is the transport's (no connection, or it was
   * lost): its message then names the target, how it was chosen and how to fix it. Cause and status are unchanged.
   */
  private errorOf(err: grpc.ServiceError): RawError {
    const r = rawErrorOf(err);
    if (r.cause !== "unavailable" || r.errorReason !== undefined || this.closed) return r;
    return { ...r, message: cannotConnectMessage(this.target, r.message) };
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.token) md.set("authorization", `Bearer ${this.token}`);
    return md;
  }

  private callOptions(options: CallOptions): grpc.CallOptions {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {};
  }

  private async unary<D extends DescMessage>(
    localName: keyof typeof GateService.method,
    schema: D,
    req: MessageShape<D>,
    options: CallOptions,
  ): Promise<{ ok: true; bytes: Uint8Array } | { ok: false; error: RawError }> {
    if (options.signal?.aborted) {
      return { ok: false, error: { cause: "cancelled", message: "the call was cancelled before it started", statusCode: "CANCELLED" } };
    }
    if (this.closed) return { ok: false, error: { cause: "unavailable", message: "the client was closed", statusCode: "UNAVAILABLE" } };
    // Fast path for the commonest outages, a missing socket file or one nobody listens on: while the channel has
    // no live connection, probe the socket with a plain connect. ENOENT / ECONNREFUSED answer in well under a
    // millisecond, where a fresh grpc-js channel needs 10-20 ms to report the same UNAVAILABLE.
    const path = this.target.socketPath;
    if (path !== undefined && this.channel.getChannel().getConnectivityState(false) !== grpc.connectivityState.READY) {
      const refused = await probeUnixSocket(path);
      if (refused !== undefined) {
        return {
          ok: false,
          error: {
            cause: "unavailable",
            message: cannotConnectMessage(this.target, refused),
            statusCode: "UNAVAILABLE",
          },
        };
      }
    }
    return new Promise((resolve) => {
      const call = this.channel.makeUnaryRequest(
        methodPath(localName),
        serializer(schema),
        identity,
        req,
        this.metadata(),
        this.callOptions(options),
        (err, value) => {
          options.signal?.removeEventListener("abort", onAbort);
          if (err) resolve({ ok: false, error: this.errorOf(err) });
          else if (value === undefined) resolve({ ok: false, error: { cause: "malformed_response", message: "the server sent no message" } });
          else resolve({ ok: true, bytes: value });
        },
      );
      const onAbort = () => call.cancel();
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private async unaryDecoded<I extends DescMessage, O extends DescMessage>(
    localName: keyof typeof GateService.method,
    inSchema: I,
    outSchema: O,
    req: MessageShape<I>,
    options: CallOptions,
  ): Promise<MessageShape<O>> {
    const raw = await this.unary(localName, inSchema, req, options);
    if (!raw.ok) throw new GateError(raw.error.cause, raw.error.message, raw.error.statusCode, raw.error.errorReason);
    try {
      return fromBinary(outSchema, raw.bytes);
    } catch (e) {
      throw new GateError("malformed_response", `the server's answer does not decode: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/**
 * Connects to a Unix socket and hangs up. Resolves undefined when something accepted the connection, else the error
 * code (ENOENT: no socket file; ECONNREFUSED: nobody listening; EACCES: not allowed).
 */
function probeUnixSocket(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once("connect", () => {
      sock.destroy();
      resolve(undefined);
    });
    sock.once("error", (e: NodeJS.ErrnoException) => {
      sock.destroy();
      resolve(e.code ?? e.message);
    });
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new GateError("cancelled", "waiting for approval was cancelled"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
