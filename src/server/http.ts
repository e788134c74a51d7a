/**
 * Gait's HTTP JSON surface of `gait mcp serve` (evidence.md §5.2-5.5) on `--http-listen host:port`:
 * POST /v1/evaluate (JSON), /v1/evaluate/sse (one `evaluate` event), /v1/evaluate/stream (one NDJSON line), GET
 * /healthz. Same request and response shapes and error mapping as Gait, with our decision pipeline behind it (the
 * whole gate pipeline, a durable signed trace before the reply). Differences: client artifact paths, session
 * journals and packs are not supported (400 naming the field), overload/shutdown answer 503, and a response carries
 * our extra fields `trace_sequence`, `event_id` and (for require_approval) `approval_request_id`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import { GrpcError } from "./grpc-adapter.js";
import { reasonOf, reasonName, ErrorReason } from "./errors.js";
import { bearerMatches, type Admission } from "./service.js";
import type { DecisionService, EvaluateOutput } from "./decision.js";
import type { ServeConfig } from "./config.js";
import type { ServerMetrics } from "./metrics.js";
import type { PolicyHolder } from "./policy-holder.js";

export interface HttpDeps {
  cfg: ServeConfig;
  decisions: DecisionService;
  admission: Admission;
  metrics: ServerMetrics;
  policy: PolicyHolder;
  log: Logger;
}

/** Top-level request fields Gait accepts; anything else is rejected like Go's DisallowUnknownFields. */
const KNOWN_FIELDS = new Set([
  "adapter",
  "call",
  "run_id",
  "session_id",
  "session_journal",
  "checkpoint_interval",
  "trace_path",
  "runpack_out",
  "emit_runpack",
  "pack_out",
  "emit_pack",
]);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

const exitCodeOf = (v: string): number => (v === "block" ? 3 : v === "require_approval" ? 4 : 0);

/**
 * The Gait response body (`mcpProxyOutput` + `exit_code`), plus our extras. Gait's fields are `omitempty` except
 * `ok`, `executed` and `exit_code`, so empty strings, lists and zero latency are left out as Go leaves them out
 * (issue 9 #17).
 */
export function httpResponseBody(o: EvaluateOutput): Record<string, unknown> {
  const r = o.result;
  const gait: Record<string, unknown> = {
    adapter: o.adapter,
    run_id: o.runId,
    job_id: o.jobId,
    phase: r.phase ?? r.intent?.context?.phase,
    session_id: o.sessionId,
    tool_name: r.tool_name,
    verdict: o.verdict,
    reason_codes: o.reasonCodes,
    violations: r.violations,
    policy_digest: r.policy_digest,
    policy_id: o.policyId,
    policy_version: o.policyVersion,
    matched_rule_ids: o.record.matched_rule_ids,
    intent_digest: r.intent_digest,
    decision_latency_ms: Math.round(o.latencyMs),
    trace_id: o.record.trace_id,
    trace_path: o.tracePath,
    runpack_path: o.runpackPath,
    kill_switch: r.kill_switch,
    warnings: o.warnings,
    relationship: o.record.relationship,
  };
  const body: Record<string, unknown> = { ok: true, executed: false };
  for (const [k, v] of Object.entries(gait)) {
    if (v === undefined || v === null || v === "" || v === 0 || (Array.isArray(v) && v.length === 0)) continue;
    body[k] = v;
  }
  body.exit_code = exitCodeOf(o.verdict);
  // ours
  body.trace_sequence = o.seq;
  body.event_id = o.record.event_id ?? "";
  if (o.approvalRequestId) body.approval_request_id = o.approvalRequestId;
  return body;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > max) throw new HttpError(413, "request body exceeds max-request-bytes");
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > max) throw new HttpError(413, "request body exceeds max-request-bytes");
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Strict decode: exactly one JSON object, no unknown top-level fields, typed fields checked. */
function decodeRequest(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `decode request: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new HttpError(400, "decode request: body must be a JSON object");
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN_FIELDS.has(k)) throw new HttpError(400, `decode request: json: unknown field "${k}"`);
  const strField = (k: string) => {
    if (o[k] !== undefined && o[k] !== null && typeof o[k] !== "string") throw new HttpError(400, `decode request: ${k} must be a string`);
  };
  ["adapter", "run_id", "session_id", "session_journal", "trace_path", "runpack_out", "pack_out"].forEach(strField);
  for (const k of ["emit_runpack", "emit_pack"]) {
    if (o[k] !== undefined && o[k] !== null && typeof o[k] !== "boolean") throw new HttpError(400, `decode request: ${k} must be a boolean`);
  }
  if (o.checkpoint_interval !== undefined && o.checkpoint_interval !== null && !Number.isInteger(o.checkpoint_interval)) {
    throw new HttpError(400, "decode request: checkpoint_interval must be an integer");
  }
  return o;
}

/** Build the HTTP handler. */
export function createHttpHandler(d: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const cfg = d.cfg;
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      if (req.method !== "GET") return send(res, 405, { ok: false, error: "expected GET" });
      const body: Record<string, unknown> = { ok: true, service: "gait.mcp.serve", policy_digest: d.policy.current.digest };
      if (d.policy.reloadError) body.policy_reload_error = d.policy.reloadError;
      return send(res, 200, body);
    }
    const variant = path === "/v1/evaluate" ? "json" : path === "/v1/evaluate/sse" ? "sse" : path === "/v1/evaluate/stream" ? "ndjson" : undefined;
    if (!variant) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("404 page not found\n");
      return;
    }
    void handleEvaluate(req, res, variant).catch((e) => {
      d.log.error({ err: e }, "http handler failed");
      if (!res.headersSent) send(res, 500, { ok: false, error: "internal error" });
    });
  };

  async function handleEvaluate(req: IncomingMessage, res: ServerResponse, variant: "json" | "sse" | "ndjson"): Promise<void> {
    const t0 = performance.now();
    let leave: (() => void) | undefined;
    try {
      if (req.method !== "POST") throw new HttpError(405, "expected POST");
      if (cfg.authMode === "token") {
        const h = req.headers.authorization;
        if (!h) throw new HttpError(401, "missing bearer authorization", "UNAUTHENTICATED");
        if (!bearerMatches(h, cfg.authToken ?? "")) throw new HttpError(401, "invalid bearer authorization", "UNAUTHENTICATED");
      }
      const ct = (req.headers["content-type"] ?? "").trim();
      if (ct && ct.split(";")[0]!.trim().toLowerCase() !== "application/json") {
        throw new HttpError(415, `content-type must be application/json (got ${ct})`);
      }
      const body = decodeRequest(await readBody(req, cfg.maxRequestBytes));
      const call = body.call;
      if (!call || typeof call !== "object" || Array.isArray(call) || Object.keys(call).length === 0) {
        throw new HttpError(400, "call is required (a non-empty JSON object in the adapter's format)");
      }
      for (const k of ["trace_path", "runpack_out", "session_journal", "pack_out"]) {
        if (body[k]) throw new HttpError(400, `${k} is not accepted: this server does not let clients choose artifact paths`);
      }
      if (body.emit_pack) throw new HttpError(400, "emit_pack is not supported by this server (packs are built offline from the trace log)");
      if (typeof body.checkpoint_interval === "number" && body.checkpoint_interval > 0) {
        throw new HttpError(400, "checkpoint_interval is not supported by this server (session journals are replaced by the trace log)");
      }
      try {
        leave = d.admission.enter();
      } catch (e) {
        throw new HttpError(503, (e as Error).message, reasonName(reasonOf(e) ?? ErrorReason.OVERLOADED));
      }
      const ac = new AbortController();
      res.on("close", () => {
        if (!res.writableFinished) ac.abort();
      });
      const out = await d.decisions.evaluate({
        transport: "http",
        toolCall: { adapter: typeof body.adapter === "string" && body.adapter ? body.adapter : cfg.adapter, payload: call },
        runId: (body.run_id as string | undefined) ?? undefined,
        sessionId: (body.session_id as string | undefined) ?? undefined,
        approvalTokens: [],
        delegationTokens: [],
        emitRunpack: body.emit_runpack === true,
        cancelled: () => ac.signal.aborted,
      });
      d.metrics.recordDecision(out.verdict, "http", (performance.now() - t0) / 1000);
      const payload = httpResponseBody(out);
      let status = 200;
      if (cfg.httpVerdictStatus === "strict") {
        if (out.verdict === "block") status = 403;
        else if (out.verdict === "require_approval" || out.verdict === "dry_run") status = 409;
      }
      if (variant === "json") return send(res, status, payload);
      const line = JSON.stringify(payload);
      if (variant === "sse") {
        res.writeHead(status, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.end(`event: evaluate\ndata: ${line}\n\n`);
      } else {
        res.writeHead(status, { "content-type": "application/x-ndjson" });
        res.end(line + "\n");
      }
    } catch (e) {
      if (e instanceof HttpError) {
        if (e.status >= 500 || e.status === 401) d.metrics.failClosed.inc({ reason: e.reason ?? "INTERNAL" });
        const body: Record<string, unknown> = { ok: false, error: e.message };
        if (e.reason) body.error_reason = e.reason;
        return send(res, e.status, body);
      }
      // Gait maps every evaluation failure (decode, normalize, trace write) to 400 with no verdict.
      const reason = reasonOf(e);
      const rn = reason !== undefined ? reasonName(reason) : "INTERNAL";
      d.metrics.failClosed.inc({ reason: rn });
      if (!(e instanceof GrpcError)) d.log.error({ err: e }, "http evaluate failed");
      const msg = e instanceof GrpcError ? e.message : "internal error";
      const status = reason === ErrorReason.SHUTTING_DOWN || reason === ErrorReason.OVERLOADED ? 503 : 400;
      return send(res, status, { ok: false, error: msg, error_reason: rn });
    } finally {
      leave?.();
    }
  }
}

/** Start the HTTP listener with Gait's timeouts. */
export function startHttp(d: HttpDeps, host: string, port: number): Promise<{ server: Server; port: number }> {
  const srv = createServer({ requestTimeout: 30_000, headersTimeout: 5_000, keepAliveTimeout: 60_000 }, createHttpHandler(d));
  return new Promise((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(port, host, () => {
      srv.off("error", reject);
      const a = srv.address();
      resolve({ server: srv, port: typeof a === "object" && a ? a.port : port });
    });
  });
}
