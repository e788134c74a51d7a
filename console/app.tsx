/**
 * The operator console: pending approvals (approve / deny), the live decision feed with a verdict and latency chart,
 * kill-switch entries (add / expire / remove), and the policy in force. It talks only to its own server's /api
 * (same origin; src/transport/http/console.ts), sends the CSRF token on every change, and uses no inline script or
 * style (the page runs under a strict Content-Security-Policy).
 */
import { render } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";

type Verdict = "allow" | "block" | "require_approval" | "dry_run";
interface Session {
  identity: string | null;
  csrf: string;
  version: string;
}
interface RedactedCall {
  tool_name: string;
  args: unknown;
  targets: { kind: string; value: string; operation?: string }[];
}
interface Approval {
  approval_request_id: string;
  state: string;
  tool_name: string;
  identity: string;
  reason_codes: string[];
  required_approvals: number;
  granted_approvals: number;
  approvers: string[];
  created_at: string;
  expires_at: string;
  args_digest: string;
  call: RedactedCall | null;
}
interface FeedEntry {
  sequence: number;
  kind: string;
  verdict?: Verdict;
  tool_name: string;
  identity: string;
  reason_codes: string[];
  action?: string;
  created_at: string;
  /** when the record was written (wall clock) */
  at: string;
  latency_ms?: number;
  approval_request_id?: string;
  /** `at` in ms (the chart's time axis) */
  seen: number;
}
interface KillEntry {
  entry_id: string;
  enabled: boolean;
  active: boolean;
  agent_id?: string;
  identity?: string;
  tool_name?: string;
  target_kind?: string;
  target_value?: string;
  environment?: string;
  path_prefixes?: string[];
  workspace_prefixes?: string[];
  reason?: string;
  actor?: string;
  created_at?: string;
  expires_at?: string;
}
interface Status {
  policy_path: string;
  policy_digest: string;
  policy_reload_error: string;
  key_id: string;
  key_mode: string;
  trace_head_sequence: number;
  version: string;
  kill_switch: { configured: boolean; unavailable?: string; entries: number };
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = "";

async function api<T>(path: string, body?: Record<string, unknown>): Promise<T> {
  const init: RequestInit = { credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body) {
    init.method = "POST";
    init.headers = { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrfToken };
    init.body = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, "the server cannot be reached (is 'gait mcp serve' still running?)");
  }
  const data = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new ApiError(res.status, data.error ?? `${res.status} ${res.statusText}`);
  return data as T;
}

/** Poll an API every `ms` (and on demand); the last error is kept beside the last good data. */
function usePoll<T>(path: string, ms: number): { data?: T; error?: string; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    const run = () =>
      api<T>(path).then(
        (d) => live && (setData(d), setError(undefined)),
        (e: Error) => live && setError(e.message),
      );
    void run();
    const t = setInterval(run, ms);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [path, ms, n]);
  return { data, error, reload: useCallback(() => setN((x) => x + 1), []) };
}

const VERDICT_LABEL: Record<Verdict, string> = { allow: "allow", block: "block", require_approval: "require approval", dry_run: "dry run" };
const ago = (iso: string) => {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = Math.round((t - Date.now()) / 1000);
  const a = Math.abs(s);
  if (a < 2) return "just now";
  const txt = a < 60 ? `${a}s` : a < 3600 ? `${Math.round(a / 60)}m` : `${Math.round(a / 3600)}h`;
  return s >= 0 ? `in ${txt}` : `${txt} ago`;
};

function Notice(props: { kind: "error" | "ok"; children: preact.ComponentChildren }) {
  return (
    <p class={`notice ${props.kind}`} role={props.kind === "error" ? "alert" : "status"}>
      {props.children}
    </p>
  );
}

// ---- login -----------------------------------------------------------------------------------------------------------

function Login(props: { onLogin: (s: Session) => void; error?: string }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState(props.error);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    try {
      const s = await api<Session>("/api/login", { token });
      props.onLogin(s);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>gait-gate operator console</h1>
      <form onSubmit={submit}>
        <label for="token">Login token</label>
        <input id="token" type="password" autoComplete="off" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} required />
        <p class="hint">Open the console link printed by <code>gait mcp serve</code> (it logs you in), or paste its token, your --console-token-file token, or your operator token.</p>
        <button type="submit" disabled={busy}>
          Log in
        </button>
        {error && <Notice kind="error">{error}</Notice>}
      </form>
    </main>
  );
}

// ---- approvals -------------------------------------------------------------------------------------------------------

function CallView(props: { call: RedactedCall | null; digest: string }) {
  if (!props.call) return <span class="muted">not available (requested before the last restart); args digest {props.digest.slice(0, 12)}…</span>;
  return (
    <div class="call">
      {props.call.targets.length > 0 && (
        <ul class="targets" aria-label="targets">
          {props.call.targets.map((t) => (
            <li>
              <span class="tag">{t.kind}</span> {t.value} {t.operation && <span class="muted">({t.operation})</span>}
            </li>
          ))}
        </ul>
      )}
      <pre aria-label="arguments (secrets redacted)">{JSON.stringify(props.call.args, null, 2)}</pre>
    </div>
  );
}

function ApprovalRow(props: { a: Approval; operator: string; needsName: boolean; onDone: (msg: string, error?: boolean) => void }) {
  const { a } = props;
  const [ttl, setTtl] = useState("900");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const act = async (decision: "grant" | "deny") => {
    if (props.needsName && !props.operator.trim()) return props.onDone("Enter your name (the approver) at the top of the page first.", true);
    if (decision === "grant" && !reason.trim()) return props.onDone(`Give a reason for approving ${a.tool_name} (e.g. a change ticket).`, true);
    setBusy(true);
    try {
      await api(`/api/approvals/${a.approval_request_id}/${decision}`, { approver: props.operator, reason: reason.trim(), ...(decision === "grant" ? { ttl_seconds: Number(ttl) } : {}) });
      props.onDone(decision === "grant" ? `Approved ${a.tool_name} (${a.approval_request_id}).` : `Denied ${a.tool_name} (${a.approval_request_id}).`);
    } catch (e) {
      props.onDone(`${decision === "grant" ? "Approve" : "Deny"} failed: ${(e as Error).message}`, true);
    } finally {
      setBusy(false);
    }
  };
  const id = a.approval_request_id;
  return (
    <li class="approval" data-request-id={id}>
      <div class="approval-head">
        <strong class="tool">{a.tool_name}</strong>
        <span>
          requested by <strong>{a.identity || "(no identity)"}</strong> {ago(a.created_at)}
        </span>
        <span>expires {ago(a.expires_at)}</span>
        <label class="quorum">
          approvals {a.granted_approvals}/{a.required_approvals}
          <progress max={a.required_approvals} value={a.granted_approvals} />
        </label>
      </div>
      <div class="codes">
        {a.reason_codes.map((c) => (
          <span class="tag">{c}</span>
        ))}
      </div>
      <CallView call={a.call} digest={a.args_digest} />
      <div class="actions">
        <label>
          Token lifetime
          <select value={ttl} onChange={(e) => setTtl((e.target as HTMLSelectElement).value)}>
            <option value="300">5 minutes</option>
            <option value="900">15 minutes</option>
            <option value="3600">1 hour</option>
            <option value="14400">4 hours</option>
          </select>
        </label>
        <label>
          Reason
          <input value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} placeholder="change ticket, why" />
        </label>
        <button type="button" class="approve" disabled={busy} onClick={() => act("grant")} aria-label={`Approve ${a.tool_name} (${id})`}>
          Approve
        </button>
        <button type="button" class="deny" disabled={busy} onClick={() => act("deny")} aria-label={`Deny ${a.tool_name} (${id})`}>
          Deny
        </button>
      </div>
    </li>
  );
}

function Approvals(props: { operator: string; needsName: boolean; bump: number }) {
  const { data, error, reload } = usePoll<{ approvals: Approval[] }>("/api/approvals", 2000);
  const [msg, setMsg] = useState<{ text: string; error?: boolean }>();
  useEffect(() => reload(), [props.bump]);
  return (
    <section aria-labelledby="approvals-h" id="approvals">
      <h2 id="approvals-h">Pending approvals {data && <span class="count">({data.approvals.length})</span>}</h2>
      {msg && <Notice kind={msg.error ? "error" : "ok"}>{msg.text}</Notice>}
      {error && (
        <Notice kind="error">
          Could not load approvals: {error} <button onClick={reload}>Retry</button>
        </Notice>
      )}
      {!data && !error && <p class="muted">Loading…</p>}
      {data && data.approvals.length === 0 && <p class="empty">No calls are waiting for approval. A call a rule sends to require_approval appears here.</p>}
      {data && data.approvals.length > 0 && (
        <ul class="approvals">
          {data.approvals.map((a) => (
            <ApprovalRow
              key={a.approval_request_id}
              a={a}
              operator={props.operator}
              needsName={props.needsName}
              onDone={(text, err) => {
                setMsg({ text, ...(err ? { error: true } : {}) });
                reload();
              }}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

// ---- live feed -------------------------------------------------------------------------------------------------------

const BUCKET_MS = 10_000;
const BUCKETS = 30;
const VERDICTS: Verdict[] = ["allow", "require_approval", "block", "dry_run"];

function Chart(props: { entries: FeedEntry[] }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 2000);
    return () => clearInterval(t);
  }, []);
  const buckets = useMemo(() => {
    const end = Math.floor(now / BUCKET_MS) * BUCKET_MS + BUCKET_MS;
    const bs = Array.from({ length: BUCKETS }, () => ({ allow: 0, block: 0, require_approval: 0, dry_run: 0, lat: 0, n: 0 }));
    for (const e of props.entries) {
      if (e.kind !== "decision" || !e.verdict) continue;
      const i = BUCKETS - 1 - Math.floor((end - 1 - e.seen) / BUCKET_MS);
      if (i < 0 || i >= BUCKETS) continue;
      bs[i]![e.verdict]++;
      if (e.latency_ms !== undefined) {
        bs[i]!.lat += e.latency_ms;
        bs[i]!.n++;
      }
    }
    return bs;
  }, [props.entries, now]);
  const W = 600,
    H = 140,
    bw = W / BUCKETS;
  const maxCount = Math.max(1, ...buckets.map((b) => b.allow + b.block + b.require_approval + b.dry_run));
  const lats = buckets.map((b) => (b.n ? b.lat / b.n : undefined));
  const maxLat = Math.max(0.001, ...lats.filter((x): x is number => x !== undefined));
  const totals = VERDICTS.map((v) => [v, buckets.reduce((s, b) => s + b[v], 0)] as const);
  const latAll = buckets.reduce((s, b) => s + b.lat, 0) / Math.max(1, buckets.reduce((s, b) => s + b.n, 0));
  const points = lats.map((l, i) => (l === undefined ? undefined : `${i * bw + bw / 2},${H - (l / maxLat) * (H - 10)}`)).filter(Boolean);
  const summary = `${totals.map(([v, n]) => `${n} ${VERDICT_LABEL[v]}`).join(", ")} in the last 5 minutes; mean latency ${latAll.toFixed(2)} ms (max bucket ${maxLat.toFixed(2)} ms)`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Decisions per 10 seconds by verdict, and mean latency: ${summary}`}>
        {buckets.map((b, i) => {
          let y = H;
          return VERDICTS.map((v) => {
            const h = (b[v] / maxCount) * (H - 10);
            y -= h;
            return h > 0 ? <rect class={`bar ${v}`} x={i * bw + 1} y={y} width={bw - 2} height={h} /> : null;
          });
        })}
        {points.length > 1 && <polyline class="latency" points={points.join(" ")} />}
      </svg>
      <figcaption>
        <span class="legend">
          {VERDICTS.map((v) => (
            <span class={`key ${v}`}>{VERDICT_LABEL[v]}</span>
          ))}
          <span class="key latency">latency</span>
        </span>
        <span>{summary}</span>
      </figcaption>
    </figure>
  );
}

function Feed(props: { onPending: () => void }) {
  const [filter, setFilter] = useState({ verdict: "", tool: "", identity: "", reason: "", actions: false });
  const [applied, setApplied] = useState(filter);
  const [entries, setEntries] = useState<FeedEntry[]>([]);
  const [state, setState] = useState<"connecting" | "live" | "down">("connecting");
  const onPending = useRef(props.onPending);
  onPending.current = props.onPending;
  useEffect(() => {
    setEntries([]);
    setState("connecting");
    const q = new URLSearchParams();
    if (applied.verdict) q.set("verdict", applied.verdict);
    if (applied.tool.trim()) q.set("tool", applied.tool.trim());
    if (applied.identity.trim()) q.set("identity", applied.identity.trim());
    if (applied.reason.trim()) q.set("reason", applied.reason.trim());
    if (applied.actions) q.set("operator_actions", "1");
    const es = new EventSource(`/api/feed?${q}`);
    es.onopen = () => setState("live");
    es.onerror = () => setState("down");
    es.addEventListener("entry", (ev) => {
      const raw = JSON.parse((ev as MessageEvent).data as string) as FeedEntry;
      const e = { ...raw, seen: Number.isFinite(Date.parse(raw.at)) ? Date.parse(raw.at) : Date.now() };
      setEntries((xs) => (xs.some((x) => x.sequence === e.sequence) ? xs : [e, ...xs].slice(0, 300)));
      if (e.verdict === "require_approval" || e.kind === "operator_action") onPending.current();
    });
    return () => es.close();
  }, [applied]);
  const set = (k: keyof typeof filter) => (e: Event) => setFilter({ ...filter, [k]: (e.target as HTMLInputElement).type === "checkbox" ? (e.target as HTMLInputElement).checked : (e.target as HTMLInputElement).value });
  return (
    <section aria-labelledby="feed-h" id="feed">
      <h2 id="feed-h">
        Live decisions <span class={`conn ${state}`}>{state === "live" ? "live" : state === "connecting" ? "connecting…" : "disconnected, reconnecting…"}</span>
      </h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filter);
        }}
      >
        <label>
          Verdict
          <select value={filter.verdict} onChange={set("verdict")} aria-label="Verdict filter">
            <option value="">any</option>
            {VERDICTS.map((v) => (
              <option value={v}>{VERDICT_LABEL[v]}</option>
            ))}
          </select>
        </label>
        <label>
          Tool <input value={filter.tool} onInput={set("tool")} placeholder="tool.write" />
        </label>
        <label>
          Identity <input value={filter.identity} onInput={set("identity")} />
        </label>
        <label>
          Reason code <input value={filter.reason} onInput={set("reason")} placeholder="kill_switch_active" />
        </label>
        <label class="check">
          <input type="checkbox" checked={filter.actions} onChange={set("actions")} /> operator actions
        </label>
        <button type="submit">Apply filters</button>
      </form>
      <Chart entries={entries} />
      {entries.length === 0 ? (
        <p class="empty">{state === "down" ? "The live feed is disconnected; it reconnects by itself." : "No decisions match yet. They appear here as agents call the gate."}</p>
      ) : (
        <ol class="feed" aria-label="decisions, newest first">
          {entries.map((e) => (
            <li key={e.sequence} class={e.kind === "operator_action" ? "op" : e.verdict}>
              <span class="seq">#{e.sequence}</span>
              <time dateTime={e.at}>{new Date(e.seen).toLocaleTimeString([], { hour12: false })}</time>
              {e.kind === "operator_action" ? <span class="badge op">operator: {e.action}</span> : <span class={`badge ${e.verdict}`}>{VERDICT_LABEL[e.verdict ?? "block"]}</span>}
              <span class="tool">{e.tool_name}</span>
              <span class="who">{e.identity}</span>
              <span class="codes">{e.reason_codes.join(", ")}</span>
              {e.latency_ms !== undefined && <span class="lat">{e.latency_ms.toFixed(2)} ms</span>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

// ---- kill switch -----------------------------------------------------------------------------------------------------

const TARGET_KINDS = ["", "path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other"];

function selectorsOf(e: KillEntry): string {
  return [
    e.tool_name && `tool ${e.tool_name}`,
    e.identity && `identity ${e.identity}`,
    e.agent_id && `agent ${e.agent_id}`,
    e.target_kind && `target kind ${e.target_kind}`,
    e.target_value && `target ${e.target_value}`,
    e.environment && `environment ${e.environment}`,
    e.path_prefixes && `paths ${e.path_prefixes.join(", ")}`,
    e.workspace_prefixes && `workspaces ${e.workspace_prefixes.join(", ")}`,
  ]
    .filter(Boolean)
    .join(" · ");
}

function KillSwitches(props: { operator: string; needsName: boolean }) {
  const [all, setAll] = useState(false);
  const { data, error, reload } = usePoll<{ entries: KillEntry[] }>(`/api/killswitch${all ? "?all=1" : ""}`, 3000);
  const empty = { tool_name: "", identity: "", agent_id: "", target_kind: "", target_value: "", environment: "", path_prefixes: "", reason: "", ttl: "" };
  const [form, setForm] = useState(empty);
  const [msg, setMsg] = useState<{ text: string; error?: boolean }>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof empty) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const run = async (what: string, fn: () => Promise<unknown>) => {
    if (props.needsName && !props.operator.trim()) return setMsg({ text: "Enter your name (the actor) at the top of the page first.", error: true });
    setBusy(true);
    try {
      await fn();
      setMsg({ text: what });
      reload();
      return true;
    } catch (e) {
      setMsg({ text: `${what.split(" ")[0]} failed: ${(e as Error).message}`, error: true });
      return false;
    } finally {
      setBusy(false);
    }
  };
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const { ttl, ...rest } = form;
    const ok = await run(`Set kill switch (${form.reason}).`, () => api("/api/killswitch", { ...rest, actor: props.operator, ...(ttl ? { ttl_seconds: Number(ttl) } : {}) }));
    if (ok) setForm(empty);
  };
  return (
    <section aria-labelledby="ks-h" id="killswitch">
      <h2 id="ks-h">Kill switch</h2>
      <form class="ks-form" onSubmit={submit} aria-label="set a kill-switch entry">
        <p class="hint">Every field you fill must match a call for the entry to block it. In force for the next decision.</p>
        <label>
          Tool name <input value={form.tool_name} onInput={set("tool_name")} placeholder="tool.write" />
        </label>
        <label>
          Identity <input value={form.identity} onInput={set("identity")} />
        </label>
        <label>
          Agent id <input value={form.agent_id} onInput={set("agent_id")} />
        </label>
        <label>
          Target kind
          <select value={form.target_kind} onChange={set("target_kind")}>
            {TARGET_KINDS.map((k) => (
              <option value={k}>{k || "any"}</option>
            ))}
          </select>
        </label>
        <label>
          Target value <input value={form.target_value} onInput={set("target_value")} />
        </label>
        <label>
          Environment <input value={form.environment} onInput={set("environment")} />
        </label>
        <label>
          Path prefixes <input value={form.path_prefixes} onInput={set("path_prefixes")} placeholder="/etc, /var/lib" />
        </label>
        <label>
          Reason (required) <input value={form.reason} onInput={set("reason")} required />
        </label>
        <label>
          Expires
          <select value={form.ttl} onChange={set("ttl")}>
            <option value="">never (until removed)</option>
            <option value="900">in 15 minutes</option>
            <option value="3600">in 1 hour</option>
            <option value="14400">in 4 hours</option>
            <option value="86400">in 24 hours</option>
          </select>
        </label>
        <button type="submit" class="deny" disabled={busy}>
          Set kill switch
        </button>
      </form>
      {msg && <Notice kind={msg.error ? "error" : "ok"}>{msg.text}</Notice>}
      {error && (
        <Notice kind="error">
          Could not load kill-switch entries: {error} <button onClick={reload}>Retry</button>
        </Notice>
      )}
      <label class="check">
        <input type="checkbox" checked={all} onChange={(e) => setAll((e.target as HTMLInputElement).checked)} /> show expired entries
      </label>
      {data && data.entries.length === 0 && <p class="empty">No kill switch is {all ? "recorded" : "in force"}.</p>}
      {data && data.entries.length > 0 && (
        <ul class="entries">
          {data.entries.map((e) => (
            <li key={e.entry_id} class={e.active ? "active" : "inactive"} data-entry-id={e.entry_id}>
              <span class={`badge ${e.active ? "block" : "dry_run"}`}>{e.active ? "active" : e.enabled ? "expired" : "disabled"}</span>
              <span class="sel">{selectorsOf(e)}</span>
              <span class="why">
                “{e.reason}” by {e.actor || "?"}, {e.expires_at ? `expires ${ago(e.expires_at)}` : "no expiry"}
              </span>
              <span class="actions">
                {e.active && (
                  <button type="button" disabled={busy} onClick={() => run(`Expired ${e.entry_id}.`, () => api(`/api/killswitch/${e.entry_id}/expire`, { actor: props.operator }))} aria-label={`Expire kill switch ${selectorsOf(e)}`}>
                    Expire
                  </button>
                )}
                <button type="button" disabled={busy} onClick={() => run(`Removed ${e.entry_id}.`, () => api(`/api/killswitch/${e.entry_id}/remove`, { actor: props.operator }))} aria-label={`Remove kill switch ${selectorsOf(e)}`}>
                  Remove
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

// ---- policy ----------------------------------------------------------------------------------------------------------

function Policy() {
  const { data, error } = usePoll<Status>("/api/status", 5000);
  return (
    <section aria-labelledby="policy-h" id="policy">
      <h2 id="policy-h">Policy in force</h2>
      {error && <Notice kind="error">Could not load the server status: {error}</Notice>}
      {data && (
        <dl>
          <dt>Policy</dt>
          <dd>{data.policy_path}</dd>
          <dt>Digest</dt>
          <dd>
            <code>sha256:{data.policy_digest}</code>
          </dd>
          <dt>Last reload</dt>
          <dd class={data.policy_reload_error ? "bad" : "good"}>{data.policy_reload_error ? `failed: ${data.policy_reload_error} (the previous policy stays in force)` : "ok"}</dd>
          <dt>Kill switch</dt>
          <dd class={data.kill_switch.unavailable ? "bad" : ""}>
            {data.kill_switch.unavailable ? `unavailable: ${data.kill_switch.unavailable}` : data.kill_switch.configured ? `${data.kill_switch.entries} entries` : "no state file (--kill-switch-state): cannot be set"}
          </dd>
          <dt>Signing key</dt>
          <dd>
            <code>{data.key_id.slice(0, 16)}…</code> ({data.key_mode})
          </dd>
          <dt>Trace log head</dt>
          <dd>#{data.trace_head_sequence}</dd>
          <dt>Version</dt>
          <dd>{data.version}</dd>
        </dl>
      )}
    </section>
  );
}

// ---- app -------------------------------------------------------------------------------------------------------------

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [loginError, setLoginError] = useState<string>();
  const [operator, setOperator] = useState(() => localStorage.getItem("gait.console.operator") ?? "");
  const [bump, setBump] = useState(0);
  const onSession = (s: Session) => {
    csrfToken = s.csrf;
    setSession(s);
  };
  useEffect(() => {
    const m = /^#token=(.+)$/.exec(location.hash);
    if (m) {
      history.replaceState(null, "", location.pathname); // the token leaves the address bar and history
      api<Session>("/api/login", { token: decodeURIComponent(m[1]!) }).then(onSession, (e: Error) => {
        setLoginError(e.message);
        setSession(null);
      });
      return;
    }
    api<Session>("/api/session").then(onSession, () => setSession(null));
  }, []);
  if (session === undefined) return <p class="muted">Loading…</p>;
  if (session === null) return <Login onLogin={onSession} error={loginError} />;
  const needsName = session.identity === null;
  return (
    <>
      <header>
        <h1>gait-gate operator console</h1>
        {needsName ? (
          <label class="operator">
            Your name (recorded as approver and actor)
            <input
              value={operator}
              onInput={(e) => {
                const v = (e.target as HTMLInputElement).value;
                setOperator(v);
                localStorage.setItem("gait.console.operator", v);
              }}
              placeholder="you@example.com"
            />
          </label>
        ) : (
          <span class="operator">
            Signed in as <strong>{session.identity}</strong>
          </span>
        )}
        <button
          type="button"
          onClick={() =>
            api("/api/logout", {}).finally(() => {
              setSession(null);
            })
          }
        >
          Log out
        </button>
      </header>
      <main>
        <Approvals operator={operator} needsName={needsName} bump={bump} />
        <Feed onPending={() => setBump((x) => x + 1)} />
        <KillSwitches operator={operator} needsName={needsName} />
        <Policy />
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
