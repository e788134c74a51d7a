/**
 * The operator web console (`--console-listen host:port`): a single page (bundled at build time from console/, served
 * from memory) and its JSON API over the service's operator methods. Operator plane only: it never evaluates.
 *
 * Security:
 * - login: POST /api/login with the console login token (or, with --operator-tokens-file, an operator's own token,
 *   which then names the approver); a session cookie (HttpOnly, SameSite=Strict) is set. Failed logins are limited
 *   per minute. The token never travels in a URL the server sees (the printed login link carries it in the #fragment).
 * - CSRF: every state-changing call is a POST with Content-Type application/json, an X-CSRF-Token header equal to the
 *   session's token, and (when the browser sends them) a same-origin Origin and Sec-Fetch-Site.
 * - DNS rebinding: the Host header must name this listener.
 * - A strict Content-Security-Policy (self only, no inline script or style), no framing, no referrer, no caching of
 *   API answers.
 * Errors map to statuses in one table ({@link CONSOLE_STATUS}).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Verdict } from "../../engine/types.js";
import { asGateError, GateError, type ErrorKind } from "../../service/errors.js";
import type { ExportEntry, GateService, KillSwitchView } from "../../service/gate-service.js";
import type { ApprovalRequest } from "../../state/approvals.js";
import { operatorIdentity } from "../auth.js";

/** GateError kind -> the console API's HTTP status. */
export const CONSOLE_STATUS: Readonly<Record<ErrorKind, number>> = Object.freeze({
  invalid: 400,
  not_found: 404,
  precondition: 409,
  permission: 403,
  unauthenticated: 401,
  exhausted: 429,
  unavailable: 503,
  out_of_range: 400,
  cancelled: 499,
  internal: 500,
});

export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export interface ConsoleAssets {
  html: Buffer;
  js: Buffer;
  css: Buffer;
}

export interface ConsoleDeps {
  service: GateService;
  assets: ConsoleAssets;
  /** The console login token (when operators do not log in with their own tokens). */
  loginToken?: string;
  /** sha256 hex of each operator's token -> identity (--operator-tokens-file): the only logins accepted then. */
  operatorTokens?: ReadonlyMap<string, string>;
  version: string;
  shutdownSignal: AbortSignal;
  onInternal: (e: GateError) => void;
  log: (level: "info" | "warn", msg: string, fields?: Record<string, unknown>) => void;
  /** Live feeds open at once (each is a follow of the trace log). */
  maxFeeds?: number;
  sessionTtlMs?: number;
}

interface Session {
  id: string;
  csrf: string;
  identity?: string;
  expires: number;
}

const COOKIE = "gait_console";
const MAX_BODY = 64 * 1024;
const MAX_SESSIONS = 64;
const LOGIN_FAILURES_PER_MINUTE = 20;
const VERDICTS: ReadonlySet<string> = new Set(["allow", "block", "require_approval", "dry_run"]);

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const sha = (s: string) => createHash("sha256").update(s).digest();
const sameSecret = (a: string, b: string) => timingSafeEqual(sha(a), sha(b));

/** Start the console on host:port (port 0 picks one). */
export async function startConsole(d: ConsoleDeps, host: string, port: number): Promise<{ server: Server; port: number }> {
  if (!d.loginToken && !d.operatorTokens) throw new Error("the console needs a login token or operator tokens");
  const sessions = new Map<string, Session>();
  const ttl = d.sessionTtlMs ?? 12 * 3_600_000;
  const maxFeeds = d.maxFeeds ?? 8;
  let feeds = 0;
  let failures = { minute: 0, count: 0 };
  let boundPort = port;
  const loopback = host === "127.0.0.1" || host === "::1" || host === "localhost" || host.startsWith("127.");
  const hostOk = (h: string | undefined): boolean => {
    if (!h) return false;
    const names = new Set([`${host}:${boundPort}`, `[${host}]:${boundPort}`]);
    if (loopback) for (const n of ["127.0.0.1", "localhost", "[::1]"]) names.add(`${n}:${boundPort}`);
    return names.has(h.toLowerCase());
  };

  const sessionOf = (req: IncomingMessage): Session | undefined => {
    const m = new RegExp(`(?:^|;\\s*)${COOKIE}=([0-9a-f]{64})(?:;|$)`).exec(req.headers.cookie ?? "");
    if (!m) return undefined;
    const s = sessions.get(m[1]!);
    if (!s) return undefined;
    if (s.expires <= Date.now()) {
      sessions.delete(s.id);
      return undefined;
    }
    return s;
  };

  const headers = (res: ServerResponse, type: string, cache = "no-store") => {
    res.setHeader("Content-Type", type);
    res.setHeader("Content-Security-Policy", CSP);
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Referrer-Policy", "no-referrer");
    res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
    res.setHeader("Cache-Control", cache);
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    headers(res, "application/json; charset=utf-8");
    res.statusCode = status;
    res.end(JSON.stringify(body));
  };

  const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    if (!/^application\/json(;|$)/i.test(req.headers["content-type"] ?? "")) throw new ApiError(415, "send Content-Type: application/json");
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) throw new ApiError(413, `request body larger than ${MAX_BODY} bytes`);
      chunks.push(c as Buffer);
    }
    let v: unknown;
    try {
      v = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    } catch {
      throw new ApiError(400, "request body is not valid JSON");
    }
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new ApiError(400, "request body must be a JSON object");
    return v as Record<string, unknown>;
  };

  /** Same-origin checks of a state-changing call (CSRF): Origin and Sec-Fetch-Site when sent. */
  const sameOrigin = (req: IncomingMessage) => {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) throw new ApiError(403, "cross-origin request refused");
    const site = req.headers["sec-fetch-site"];
    if (site !== undefined && site !== "same-origin") throw new ApiError(403, "cross-site request refused");
  };
  const csrf = (req: IncomingMessage, s: Session) => {
    sameOrigin(req);
    const t = req.headers["x-csrf-token"];
    if (typeof t !== "string" || !sameSecret(t, s.csrf)) throw new ApiError(403, "missing or wrong X-CSRF-Token (reload the page)");
  };

  const str = (o: Record<string, unknown>, k: string, max = 512): string => {
    const v = o[k];
    if (v === undefined || v === null) return "";
    if (typeof v !== "string") throw new ApiError(400, `${k} must be a string`);
    if (v.length > max) throw new ApiError(400, `${k} is longer than ${max} characters`);
    return v;
  };
  const seconds = (o: Record<string, unknown>, k: string): number | undefined => {
    const v = o[k];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0 || v > 366 * 86400) throw new ApiError(400, `${k} must be a whole number of seconds between 1 and 31622400`);
    return v;
  };

  const approvalJson = (r: ApprovalRequest) => ({
    approval_request_id: r.approval_request_id,
    state: r.state,
    tool_name: r.tool_name,
    identity: r.identity,
    reason_codes: r.reason_codes,
    required_approvals: r.required_approvals,
    granted_approvals: r.tokens.length,
    approvers: r.approvers,
    created_at: r.created_at,
    expires_at: r.expires_at,
    args_digest: r.args_digest,
    intent_digest: r.intent_digest,
    denied_by: r.denied_by ?? "",
    deny_reason: r.deny_reason ?? "",
    call: d.service.waitingCall(r.approval_request_id) ?? null,
  });
  const entryJson = (e: KillSwitchView) => e;
  const feedJson = (e: ExportEntry) => ({
    sequence: e.seq,
    kind: e.summary.kind,
    ...(e.summary.verdict ? { verdict: e.summary.verdict } : {}),
    tool_name: e.summary.tool_name,
    identity: e.summary.identity,
    reason_codes: e.summary.reason_codes,
    ...(e.summary.action ? { action: e.summary.action } : {}),
    created_at: e.summary.created_at,
    // the wall-clock time of the record (operator actions: their created_at)
    at: e.summary.observed_at || e.summary.created_at,
    ...(e.summary.latency_ms !== undefined ? { latency_ms: Math.round(e.summary.latency_ms * 1000) / 1000 } : {}),
    ...(e.summary.approval_request_id ? { approval_request_id: e.summary.approval_request_id } : {}),
    trace_id: e.summary.trace_id,
  });

  const login = async (req: IncomingMessage, res: ServerResponse) => {
    sameOrigin(req);
    const minute = Math.floor(Date.now() / 60_000);
    if (failures.minute !== minute) failures = { minute, count: 0 };
    if (failures.count >= LOGIN_FAILURES_PER_MINUTE) throw new ApiError(429, "too many failed logins; wait a minute");
    const token = str(await readJson(req), "token", 4096).trim();
    let identity: string | undefined;
    let ok = false;
    if (d.operatorTokens) {
      identity = token ? operatorIdentity(d.operatorTokens, `Bearer ${token}`) : undefined;
      ok = identity !== undefined;
    } else ok = token !== "" && sameSecret(token, d.loginToken!);
    if (!ok) {
      failures.count++;
      d.log("warn", "console login refused", { remote: req.socket.remoteAddress });
      throw new ApiError(401, d.operatorTokens ? "not an operator token of --operator-tokens-file" : "wrong login token (see the console URL printed by 'gait mcp serve', or --console-token-file)");
    }
    if (sessions.size >= MAX_SESSIONS) {
      const oldest = [...sessions.values()].sort((a, b) => a.expires - b.expires)[0]!;
      sessions.delete(oldest.id);
    }
    const s: Session = { id: randomBytes(32).toString("hex"), csrf: randomBytes(32).toString("hex"), ...(identity ? { identity } : {}), expires: Date.now() + ttl };
    sessions.set(s.id, s);
    d.log("info", "console login", { identity: identity ?? "(console token)", remote: req.socket.remoteAddress });
    res.setHeader("Set-Cookie", `${COOKIE}=${s.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(ttl / 1000)}`);
    send(res, 200, { identity: identity ?? null, csrf: s.csrf, version: d.version });
  };

  const feed = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const list = (k: string) => (url.searchParams.get(k) ?? "").split(",").map((x) => x.trim()).filter(Boolean);
    const verdicts = list("verdict");
    if (verdicts.some((v) => !VERDICTS.has(v))) throw new ApiError(400, "verdict must be allow, block, require_approval or dry_run");
    const fromRaw = url.searchParams.get("from");
    const head = d.service.serverInfo(d.version).traceHeadSeq;
    // a reconnecting EventSource resumes after the last entry it received (Last-Event-ID)
    const lastId = req.headers["last-event-id"];
    const resume = typeof lastId === "string" && /^\d{1,15}$/.test(lastId) ? Number(lastId) + 1 : undefined;
    const from = resume ?? (fromRaw !== null && /^\d{1,15}$/.test(fromRaw) ? Number(fromRaw) : Math.max(0, head - 199));
    if (feeds >= maxFeeds) throw new ApiError(503, `too many live feeds open (${maxFeeds}); close another console tab`);
    feeds++;
    const ac = new AbortController();
    const signal = AbortSignal.any([ac.signal, d.shutdownSignal]);
    req.on("close", () => ac.abort());
    headers(res, "text/event-stream; charset=utf-8");
    res.statusCode = 200;
    res.flushHeaders();
    const ping = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
    try {
      const it = d.service.watchDecisions({
        from: Math.min(from, head + 1),
        follow: true,
        max: 0,
        filter: { verdicts: verdicts as Verdict[], toolNames: list("tool"), identities: list("identity"), reasonCodes: list("reason"), includeOperatorActions: url.searchParams.get("operator_actions") === "1" },
        signal,
      });
      for await (const e of it) {
        if (!res.write(`id: ${e.seq}\nevent: entry\ndata: ${JSON.stringify(feedJson(e))}\n\n`)) {
          await Promise.race([once(res, "drain"), once(signal as unknown as NodeJS.EventEmitter, "abort").catch(() => undefined)]);
        }
        if (signal.aborted) break;
      }
    } catch (e) {
      if (!signal.aborted) {
        const g = asGateError(e);
        if (g.kind === "internal") d.onInternal(g);
        res.write(`event: error\ndata: ${JSON.stringify({ error: g.kind === "internal" ? "internal error (see server log)" : g.message })}\n\n`);
      }
    } finally {
      clearInterval(ping);
      feeds--;
      res.end();
    }
  };

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL, s: Session) => {
    const path = url.pathname;
    const method = req.method ?? "GET";
    const post = method === "POST";
    if (post) csrf(req, s);
    else if (method !== "GET") throw new ApiError(405, "method not allowed");
    const actorOf = (body: Record<string, unknown>, key: string) => s.identity ?? str(body, key, 256);
    let m: RegExpExecArray | null;
    if (path === "/api/session" && !post) return send(res, 200, { identity: s.identity ?? null, csrf: s.csrf, version: d.version });
    if (path === "/api/logout" && post) {
      sessions.delete(s.id);
      res.setHeader("Set-Cookie", `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
      return send(res, 200, { ok: true });
    }
    if (path === "/api/status" && !post) {
      const i = d.service.serverInfo(d.version);
      return send(res, 200, {
        policy_path: i.policyPath,
        policy_digest: i.policyDigest,
        policy_reload_error: i.policyReloadError,
        key_id: i.keyId,
        key_mode: i.keyMode,
        trace_head_sequence: i.traceHeadSeq,
        version: i.version,
        kill_switch: d.service.killSwitchStatus(),
      });
    }
    if (path === "/api/approvals" && !post) {
      const all = url.searchParams.get("state") === "all";
      const r = await d.service.listApprovals({ states: all ? ["pending", "granted", "denied", "expired", "consumed"] : ["pending"], pageSize: 200 });
      return send(res, 200, { approvals: r.requests.map(approvalJson) });
    }
    if (post && (m = /^\/api\/approvals\/(apr_[0-9a-f]{1,64})\/(grant|deny)$/.exec(path))) {
      const body = await readJson(req);
      const grant = m[2] === "grant";
      const ttl = seconds(body, "ttl_seconds");
      if (grant && ttl === undefined) throw new ApiError(400, "ttl_seconds is required for a grant");
      const out = await d.service.approve(
        { target: { requestId: m[1]! }, decision: grant ? "grant" : "deny", approver: actorOf(body, "approver"), reasonCode: str(body, "reason", 256), ttlMs: (ttl ?? 0) * 1000, scopes: [] },
        s.identity ? { identity: s.identity } : {},
      );
      return send(res, 200, { request: out.request ? approvalJson(out.request) : null, token_id: out.token?.token_id ?? "", expires_at: out.token?.expires_at ?? "" });
    }
    if (path === "/api/killswitch" && !post) return send(res, 200, { entries: (await d.service.listKillSwitches({ includeInactive: url.searchParams.get("all") === "1" })).map(entryJson) });
    if (path === "/api/killswitch" && post) {
      const b = await readJson(req);
      const prefixes = (k: string) => str(b, k, 4096).split(",").map((x) => x.trim()).filter(Boolean);
      const ttl = seconds(b, "ttl_seconds");
      const e = await d.service.setKillSwitch(
        {
          selectors: {
            agent_id: str(b, "agent_id", 256),
            identity: str(b, "identity", 256),
            tool_name: str(b, "tool_name", 256),
            target_kind: str(b, "target_kind", 64),
            target_value: str(b, "target_value", 2048),
            environment: str(b, "environment", 256),
            path_prefixes: prefixes("path_prefixes"),
            workspace_prefixes: prefixes("workspace_prefixes"),
          },
          reason: str(b, "reason", 1024),
          actor: actorOf(b, "actor"),
          ...(ttl !== undefined ? { ttlMs: ttl * 1000 } : {}),
        },
        s.identity ? { identity: s.identity } : {},
      );
      return send(res, 200, { entry: entryJson(e) });
    }
    if (post && (m = /^\/api\/killswitch\/([A-Za-z0-9._-]{1,128})\/(expire|remove)$/.exec(path))) {
      const b = await readJson(req);
      const e = await d.service.clearKillSwitch({ entryId: m[1]!, expire: m[2] === "expire", actor: actorOf(b, "actor"), reason: str(b, "reason", 1024) }, s.identity ? { identity: s.identity } : {});
      return send(res, 200, { entry: entryJson(e) });
    }
    if (path === "/api/feed" && !post) return feed(req, res, url);
    throw new ApiError(404, `no such API: ${method} ${path}`);
  };

  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (!hostOk(req.headers.host)) throw new ApiError(421, "this console answers only to its own address (Host header)");
        const url = new URL(req.url ?? "/", "http://console.invalid");
        const path = url.pathname;
        if (req.method === "GET" && (path === "/" || path === "/index.html")) {
          headers(res, "text/html; charset=utf-8", "no-cache");
          return res.end(d.assets.html);
        }
        if (req.method === "GET" && path === "/assets/app.js") {
          headers(res, "text/javascript; charset=utf-8", "no-cache");
          return res.end(d.assets.js);
        }
        if (req.method === "GET" && path === "/assets/app.css") {
          headers(res, "text/css; charset=utf-8", "no-cache");
          return res.end(d.assets.css);
        }
        if (req.method === "GET" && path === "/favicon.ico") {
          headers(res, "image/x-icon", "max-age=86400");
          res.statusCode = 204; // no icon (browsers ask for one; a 404 would be logged as a page error)
          return res.end();
        }
        if (path === "/api/login" && req.method === "POST") return await login(req, res);
        if (path.startsWith("/api/")) {
          const s = sessionOf(req);
          if (!s) throw new ApiError(401, "log in first (POST /api/login)");
          return await api(req, res, url, s);
        }
        throw new ApiError(404, "not found");
      } catch (e) {
        if (res.headersSent) return void res.end();
        if (e instanceof ApiError) return send(res, e.status, { error: e.message });
        const g = asGateError(e);
        if (g.kind === "internal") d.onInternal(g);
        send(res, CONSOLE_STATUS[g.kind], { error: g.kind === "internal" ? "internal error (see the server log)" : g.message, reason: g.reason });
      }
    })();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  boundPort = typeof addr === "object" && addr ? addr.port : port;
  return { server, port: boundPort };
}
