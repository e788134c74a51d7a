/**
 * Gait's HTTP JSON surface of `gait mcp serve` (evidence.md §5.2-5.5) on `--http-listen host:port`:
 * POST /v1/evaluate (JSON), /v1/evaluate/sse (one `evaluate` event), /v1/evaluate/stream (one NDJSON line), GET
 * /healthz. Same request and response shapes and error mapping as Gait, with our decision pipeline behind it (the
 * whole gate pipeline, a durable signed trace before the reply). Differences: client artifact paths, session
 * journals and packs are not supported (400 naming the field), overload/shutdown answer 503, and a response carries
 * our extra fields `trace_sequence`, `event_id` and (for require_approval) `approval_request_id`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { verdictExitCode } from "../../engine/exit-codes.js";
import { decodeUtf8Go } from "../../engine/utf8.js";
import type { Admission } from "../../service/admission.js";
import type { Decision } from "../../service/decide.js";
import { asGateError, GateError } from "../../service/errors.js";
import type { GateService, PolicySource } from "../../service/gate-service.js";
import type { ServerMetrics } from "../../service/metrics.js";
import { proxyOutput } from "../../service/proxy-output.js";
import { authenticate, type AuthSettings } from "../auth.js";
import { HTTP_STATUS } from "./errors.js";

/** The HTTP listener's slice of the configuration. */
export interface HttpSettings {
  /** Adapter for a call that names none. */
  adapter: string;
  /** Body cap (413 beyond it). */
  maxRequestBytes: number;
  /** `compat`: 200 for every verdict (Gait); `strict`: 403 block, 409 require_approval/dry_run. */
  verdictStatus: "compat" | "strict";
}

export interface HttpDeps {
  settings: HttpSettings;
  auth: AuthSettings;
  service: GateService;
  admission: Admission;
  metrics: ServerMetrics;
  policy: PolicySource;
  /** Logs a failure that is the server's fault (its cause is not sent to the caller). */
  onInternal: (e: GateError) => void;
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

/** A protocol-level refusal (method, media type, body size, body shape), before the service is called. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The Gait response body (`mcpProxyOutput` + `exit_code`, service/proxy-output.ts), plus our extras. */
export function httpResponseBody(o: Decision): Record<string, unknown> {
  const body = proxyOutput(o);
  body.exit_code = verdictExitCode(o.verdict);
  // ours
  body.trace_sequence = o.recorded.seq ?? 0;
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
  // invalid UTF-8 is replaced the way Go's encoding/json decoder does (Gait's parser), not the way Node does
  return decodeUtf8Go(Buffer.concat(chunks));
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
  const cfg = d.settings;
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
      d.onInternal(asGateError(e));
      if (!res.headersSent) send(res, 500, { ok: false, error: "internal error" });
    });
  };

  async function handleEvaluate(req: IncomingMessage, res: ServerResponse, variant: "json" | "sse" | "ndjson"): Promise<void> {
    const t0 = performance.now();
    let leave: (() => void) | undefined;
    try {
      if (req.method !== "POST") throw new HttpError(405, "expected POST");
      authenticate(d.auth, "agent", req.headers.authorization);
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
      leave = d.admission.enter();
      const ac = new AbortController();
      res.on("close", () => {
        if (!res.writableFinished) ac.abort();
      });
      const out = await d.service.evaluate({
        toolCall: { adapter: typeof body.adapter === "string" && body.adapter ? body.adapter : cfg.adapter, payload: call },
        runId: typeof body.run_id === "string" ? body.run_id : undefined,
        sessionId: typeof body.session_id === "string" ? body.session_id : undefined,
        emitRunpack: body.emit_runpack === true,
        cancelled: () => ac.signal.aborted,
      });
      d.metrics.recordDecision(out.verdict, "http", (performance.now() - t0) / 1000);
      const payload = httpResponseBody(out);
      let status = 200;
      if (cfg.verdictStatus === "strict") {
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
      if (e instanceof HttpError) return send(res, e.status, { ok: false, error: e.message });
      // every failure of the evaluation itself: no verdict, the status from the one table (errors.ts)
      const g = asGateError(e);
      d.metrics.failClosed.inc({ reason: g.reason });
      if (g.kind === "internal") d.onInternal(g);
      return send(res, HTTP_STATUS[g.kind], { ok: false, error: g.message, error_reason: g.reason });
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
