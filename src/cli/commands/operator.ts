/**
 * The operator commands: talk to a running `gait mcp serve` over its operator socket (cli/operator-target.ts).
 *
 *   gait approvals list|show|grant|deny      the approval requests waiting for (or answered by) an operator
 *   gait killswitch set|list|clear           Gait's kill-switch entries, in force for the next decision
 *   gait trace tail                          the decisions as they are recorded, filtered, one line each
 *
 * Human output is one line per item; `--json` prints one JSON document (`trace tail --json`: one JSON object per
 * line). Every change is recorded by the server as a signed operator_action in its trace log.
 */
import { parseGoDuration } from "../../engine/time.js";
import type { Verdict } from "../../engine/types.js";
import type { ApprovalView, KillSwitchEntryView, OperatorClient, WatchEntryView } from "../../transport/grpc/operator-client.js";
import type { CommandSpec, Parsed, ParsedFlags } from "../args.js";
import { EXIT, usageError, type CommandContext } from "../io.js";
import { connectOperator, OPERATOR_FLAGS } from "../operator-target.js";

const str = (f: ParsedFlags, k: string): string | undefined => (typeof f[k] === "string" ? (f[k] as string) : undefined);
const csv = (f: ParsedFlags, k: string): string[] => (str(f, k) ?? "").split(",").map((x) => x.trim()).filter(Boolean);

async function withClient<T>(ctx: CommandContext, args: Parsed, fn: (c: OperatorClient) => Promise<T>): Promise<T> {
  const c = await connectOperator(ctx, args.flags);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

function duration(flag: string, v: string): number {
  let ms: number;
  try {
    ms = parseGoDuration(v);
  } catch {
    throw usageError(`--${flag} ${JSON.stringify(v)} is not a duration (e.g. 15m, 1h, 90s)`);
  }
  if (!(ms > 0)) throw usageError(`--${flag} must be positive`);
  return ms;
}

// ---- approvals ----------------------------------------------------------------------------------------------------

const STATES = ["pending", "granted", "denied", "expired", "consumed"];

export const approvalsListSpec: CommandSpec = {
  name: "approvals list",
  summary: "list approval requests of a running server (pending by default)",
  usage: ["approvals list [--state pending,granted,denied,expired,consumed | --all] [--json]"],
  flags: {
    state: { type: "string", value: "<csv>", help: "states to list (default pending)" },
    all: { type: "boolean", help: "every state" },
    ...OPERATOR_FLAGS,
  },
  positionals: { min: 0, max: 0 },
};

function approvalLine(r: ApprovalView): string {
  const quorum = `${r.granted_approvals}/${r.required_approvals} approvals`;
  const who = r.identity ? `from ${r.identity}` : "from (no identity)";
  const when = r.state === "pending" ? `expires ${r.expires_at}` : r.state === "denied" ? `denied by ${r.denied_by}${r.deny_reason ? ` (${r.deny_reason})` : ""}` : `created ${r.created_at}`;
  return `${r.approval_request_id}  ${r.state.padEnd(8)} ${r.tool_name}  ${who}  ${quorum}  ${when}  [${r.reason_codes.join(",")}]`;
}

export async function approvalsList(ctx: CommandContext, args: Parsed): Promise<number> {
  const states = args.flags.all === true ? STATES : csv(args.flags, "state");
  const unknown = states.filter((s) => !STATES.includes(s));
  if (unknown.length) throw usageError(`--state: unknown state ${unknown.join(", ")} (${STATES.join(", ")})`);
  const list = await withClient(ctx, args, (c) => c.listApprovals(states));
  if (ctx.json) return ctx.printJson({ ok: true, approvals: list }, EXIT.OK);
  if (!list.length) return ctx.printHuman([`no ${states.length ? states.join("/") : "pending"} approval requests`], EXIT.OK);
  return ctx.printHuman(list.map(approvalLine), EXIT.OK);
}

export const approvalsShowSpec: CommandSpec = {
  name: "approvals show",
  summary: "show one approval request (and its tokens once granted)",
  usage: ["approvals show <approval_request_id> [--json]"],
  flags: { ...OPERATOR_FLAGS },
  positionals: { min: 1, max: 1, names: "<approval_request_id>" },
};

export async function approvalsShow(ctx: CommandContext, args: Parsed): Promise<number> {
  const r = await withClient(ctx, args, (c) => c.getApproval(args.positionals[0]!));
  if (ctx.json) return ctx.printJson({ ok: true, request: r.request, token_jsons: r.token_jsons }, EXIT.OK);
  const q = r.request;
  return ctx.printHuman(
    [
      `${q.approval_request_id}: ${q.state}`,
      `  tool:          ${q.tool_name}`,
      `  requested by:  ${q.identity || "(no identity)"} at ${q.created_at}`,
      `  expires:       ${q.expires_at}`,
      `  reason codes:  ${q.reason_codes.join(", ")}`,
      `  approvals:     ${q.granted_approvals}/${q.required_approvals}${q.approvers.length ? ` (${q.approvers.join(", ")})` : ""}`,
      `  scopes:        ${q.required_scopes.join(", ")}`,
      `  intent digest: ${q.intent_digest}`,
      `  args digest:   ${q.args_digest}`,
      `  policy digest: ${q.policy_digest}`,
      q.run_id && `  run id:        ${q.run_id}`,
      q.denied_by && `  denied by:     ${q.denied_by}${q.deny_reason ? ` (${q.deny_reason})` : ""}`,
      r.token_jsons.length > 0 && `  tokens:        ${r.token_jsons.length} (--json prints them)`,
    ],
    EXIT.OK,
  );
}

export const approvalsGrantSpec: CommandSpec = {
  name: "approvals grant",
  summary: "grant a pending approval request (the agent's next evaluation with it is allowed)",
  usage: ["approvals grant <approval_request_id> --approver <identity> --reason <code> [--ttl 15m] [--scopes <csv>] [--json]"],
  flags: {
    approver: { type: "string", value: "<identity>", help: "who approves (with an operator token, its identity is used)" },
    reason: { type: "string", value: "<code>", help: "why (the token's reason_code, e.g. a change ticket)" },
    ttl: { type: "string", value: "<dur>", help: "token lifetime", default: "15m" },
    scopes: { type: "string", value: "<csv>", help: "token scopes (default: the scopes the request needs)" },
    ...OPERATOR_FLAGS,
  },
  positionals: { min: 1, max: 1, names: "<approval_request_id>" },
};

export async function approvalsGrant(ctx: CommandContext, args: Parsed): Promise<number> {
  const reason = str(args.flags, "reason")?.trim();
  if (!reason) throw usageError("--reason is required (the token's reason_code, e.g. change_ticket_42)");
  const ttlMs = duration("ttl", str(args.flags, "ttl") ?? "15m");
  const r = await withClient(ctx, args, (c) =>
    c.approve({ id: args.positionals[0]!, decision: "grant", approver: str(args.flags, "approver") ?? "", reasonCode: reason, ttlMs, scopes: csv(args.flags, "scopes") }),
  );
  if (ctx.json) return ctx.printJson({ ok: true, request: r.request, token_id: r.token_id, token_json: r.token_json, expires_at: r.expires_at }, EXIT.OK);
  const q = r.request;
  return ctx.printHuman(
    [
      `granted ${q.approval_request_id} (${q.tool_name}): token ${r.token_id} expires ${r.expires_at}; ${q.granted_approvals}/${q.required_approvals} approvals, state ${q.state}`,
      q.state === "granted" ? `  the agent's next evaluation with approval_request_id ${q.approval_request_id} is allowed (once)` : `  ${q.required_approvals - q.granted_approvals} more distinct approver(s) needed`,
    ],
    EXIT.OK,
  );
}

export const approvalsDenySpec: CommandSpec = {
  name: "approvals deny",
  summary: "deny an approval request (the call stays blocked; granted tokens are revoked)",
  usage: ["approvals deny <approval_request_id> --approver <identity> [--reason <text>] [--json]"],
  flags: {
    approver: { type: "string", value: "<identity>", help: "who denies (with an operator token, its identity is used)" },
    reason: { type: "string", value: "<text>", help: "why (recorded)" },
    ...OPERATOR_FLAGS,
  },
  positionals: { min: 1, max: 1, names: "<approval_request_id>" },
};

export async function approvalsDeny(ctx: CommandContext, args: Parsed): Promise<number> {
  const r = await withClient(ctx, args, (c) => c.approve({ id: args.positionals[0]!, decision: "deny", approver: str(args.flags, "approver") ?? "", reasonCode: str(args.flags, "reason") ?? "" }));
  if (ctx.json) return ctx.printJson({ ok: true, request: r.request }, EXIT.OK);
  return ctx.printHuman([`denied ${r.request.approval_request_id} (${r.request.tool_name}) by ${r.request.denied_by}`], EXIT.OK);
}

// ---- kill switch ---------------------------------------------------------------------------------------------------

const SELECTORS = ["agent-id", "identity", "tool-name", "target-kind", "target-value", "environment"] as const;

export const killswitchSetSpec: CommandSpec = {
  name: "killswitch set",
  summary: "set a kill-switch entry on a running server: matching calls are blocked from the next decision",
  usage: ["killswitch set --reason <text> (--tool-name <t> | --identity <id> | --agent-id <id> | --target-kind <k> --target-value <v> | --environment <e> | --path-prefixes <csv> | --workspace-prefixes <csv>)... [--ttl <dur> | --expires-at <rfc3339>] [--actor <who>] [--entry-id <id>] [--json]"],
  flags: {
    "tool-name": { type: "string", value: "<tool>", help: "block this tool" },
    identity: { type: "string", value: "<identity>", help: "block this calling identity" },
    "agent-id": { type: "string", value: "<id>", help: "block this agent id" },
    "target-kind": { type: "string", value: "<kind>", help: "block calls with a target of this kind (path, url, host, repo, bucket, table, queue, topic, other)" },
    "target-value": { type: "string", value: "<value>", help: "block calls with a target of this value" },
    environment: { type: "string", value: "<env>", help: "block calls in this environment" },
    "path-prefixes": { type: "string", value: "<csv>", help: "block calls with a path target under one of these" },
    "workspace-prefixes": { type: "string", value: "<csv>", help: "block calls from a workspace under one of these" },
    reason: { type: "string", value: "<text>", help: "why (required; shown to operators and recorded)" },
    ttl: { type: "string", value: "<dur>", help: "expire after this long (default: until cleared)" },
    "expires-at": { type: "string", value: "<rfc3339>", help: "expire at this time" },
    actor: { type: "string", value: "<who>", help: "who sets it (with an operator token, its identity is used)" },
    "entry-id": { type: "string", value: "<id>", help: "replace the entry with this id (default: a new id)" },
    ...OPERATOR_FLAGS,
  },
  positionals: { min: 0, max: 0 },
  notes: ["Every selector given must match a call for the entry to block it (Gait's kill-switch model)."],
};

function entryLine(e: KillSwitchEntryView): string {
  const sel = [
    e.agent_id && `agent_id=${e.agent_id}`,
    e.identity && `identity=${e.identity}`,
    e.tool_name && `tool_name=${e.tool_name}`,
    e.target_kind && `target_kind=${e.target_kind}`,
    e.target_value && `target_value=${e.target_value}`,
    e.environment && `environment=${e.environment}`,
    e.path_prefixes && `path_prefixes=${e.path_prefixes.join(",")}`,
    e.workspace_prefixes && `workspace_prefixes=${e.workspace_prefixes.join(",")}`,
  ].filter(Boolean);
  const state = e.active ? "active  " : e.enabled ? "expired " : "disabled";
  return `${e.entry_id}  ${state} ${sel.join(" ")}  ${e.expires_at ? `expires ${e.expires_at}` : "no expiry"}  by ${e.actor || "?"}: ${e.reason}`;
}

export async function killswitchSet(ctx: CommandContext, args: Parsed): Promise<number> {
  const f = args.flags;
  const reason = str(f, "reason")?.trim();
  if (!reason) throw usageError("--reason is required (say why; it is shown to operators and recorded)");
  const hasSelector = SELECTORS.some((k) => str(f, k)?.trim()) || csv(f, "path-prefixes").length > 0 || csv(f, "workspace-prefixes").length > 0;
  if (!hasSelector) throw usageError("give at least one selector (--tool-name, --identity, --agent-id, --target-kind, --target-value, --environment, --path-prefixes, --workspace-prefixes)");
  if (str(f, "ttl") && str(f, "expires-at")) throw usageError("give --ttl or --expires-at, not both");
  const e = await withClient(ctx, args, (c) =>
    c.setKillSwitch({
      ...(str(f, "entry-id") ? { entryId: str(f, "entry-id")! } : {}),
      agentId: str(f, "agent-id") ?? "",
      identity: str(f, "identity") ?? "",
      toolName: str(f, "tool-name") ?? "",
      targetKind: str(f, "target-kind") ?? "",
      targetValue: str(f, "target-value") ?? "",
      environment: str(f, "environment") ?? "",
      pathPrefixes: csv(f, "path-prefixes"),
      workspacePrefixes: csv(f, "workspace-prefixes"),
      reason,
      actor: str(f, "actor") ?? "",
      ...(str(f, "ttl") ? { ttlMs: duration("ttl", str(f, "ttl")!) } : {}),
      ...(str(f, "expires-at") ? { expiresAt: str(f, "expires-at")! } : {}),
    }),
  );
  if (ctx.json) return ctx.printJson({ ok: true, action: "set", entry: e }, EXIT.OK);
  return ctx.printHuman([`set ${entryLine(e)}`], EXIT.OK);
}

export const killswitchListSpec: CommandSpec = {
  name: "killswitch list",
  summary: "list the kill-switch entries of a running server (active ones; --all for every entry)",
  usage: ["killswitch list [--all] [--json]"],
  flags: { all: { type: "boolean", help: "also list expired and disabled entries" }, ...OPERATOR_FLAGS },
  positionals: { min: 0, max: 0 },
};

export async function killswitchList(ctx: CommandContext, args: Parsed): Promise<number> {
  const entries = await withClient(ctx, args, (c) => c.listKillSwitches(args.flags.all === true));
  if (ctx.json) return ctx.printJson({ ok: true, entries }, EXIT.OK);
  if (!entries.length) return ctx.printHuman([args.flags.all === true ? "no kill-switch entries" : "no active kill-switch entries"], EXIT.OK);
  return ctx.printHuman(entries.map(entryLine), EXIT.OK);
}

export const killswitchClearSpec: CommandSpec = {
  name: "killswitch clear",
  summary: "remove a kill-switch entry (or --expire it: kept, no longer in force)",
  usage: ["killswitch clear <entry_id> [--expire] [--actor <who>] [--reason <text>] [--json]"],
  flags: {
    expire: { type: "boolean", help: "keep the entry with expires_at = now (Gait's 'kill-switch expire') instead of removing it" },
    actor: { type: "string", value: "<who>", help: "who clears it (with an operator token, its identity is used)" },
    reason: { type: "string", value: "<text>", help: "why (recorded)" },
    ...OPERATOR_FLAGS,
  },
  positionals: { min: 1, max: 1, names: "<entry_id>" },
};

export async function killswitchClear(ctx: CommandContext, args: Parsed): Promise<number> {
  const expire = args.flags.expire === true;
  const e = await withClient(ctx, args, (c) => c.clearKillSwitch({ entryId: args.positionals[0]!, expire, actor: str(args.flags, "actor") ?? "", reason: str(args.flags, "reason") ?? "" }));
  if (ctx.json) return ctx.printJson({ ok: true, action: expire ? "expire" : "remove", entry: e }, EXIT.OK);
  return ctx.printHuman([`${expire ? "expired" : "removed"} kill-switch entry ${e.entry_id}`], EXIT.OK);
}

// ---- trace tail ----------------------------------------------------------------------------------------------------

const VERDICTS: Verdict[] = ["allow", "block", "require_approval", "dry_run"];

export const traceTailSpec: CommandSpec = {
  name: "trace tail",
  summary: "follow a running server's decisions, filtered, one line each (operator socket)",
  usage: ["trace tail [--last 10 | --from <seq>] [--no-follow] [--verdict <csv>] [--tool <csv>] [--identity <csv>] [--reason <csv>] [--operator-actions] [--max <n>] [--json]"],
  flags: {
    last: { type: "string", value: "<n>", help: "start with the last n entries of the log (before filtering)", default: "10" },
    from: { type: "string", value: "<seq>", help: "start at this sequence number (0 = the oldest retained)" },
    "no-follow": { type: "boolean", help: "print what matches so far and exit" },
    verdict: { type: "string", value: "<csv>", help: "only these verdicts (allow, block, require_approval, dry_run)" },
    tool: { type: "string", value: "<csv>", help: "only these tool names" },
    identity: { type: "string", value: "<csv>", help: "only these identities (agent, or operator for actions)" },
    reason: { type: "string", value: "<csv>", help: "only entries with one of these reason codes" },
    "operator-actions": { type: "boolean", help: "also show operator actions (grants, denials, kill-switch changes)" },
    max: { type: "string", value: "<n>", help: "exit after n matching entries" },
    ...OPERATOR_FLAGS,
  },
  positionals: { min: 0, max: 0 },
  notes: ["Stops on Ctrl-C. --json prints one JSON object per line (JSON Lines)."],
};

function count(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw usageError(`--${flag} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function tailLine(e: WatchEntryView): string {
  const head = `#${e.sequence} ${e.observed_at || e.created_at}`;
  if (e.kind === "operator_action") return `${head} operator ${e.action ?? "?"} by ${e.identity}${e.tool_name ? ` ${e.tool_name}` : ""}${e.approval_request_id ? ` ${e.approval_request_id}` : ""}`;
  const lat = e.latency_ms !== undefined ? ` ${e.latency_ms.toFixed(2)}ms` : "";
  return `${head} ${(e.verdict ?? "?").padEnd(16)} ${e.tool_name} ${e.identity || "-"} [${e.reason_codes.join(",")}]${e.approval_request_id ? ` ${e.approval_request_id}` : ""}${lat}`;
}

export async function traceTail(ctx: CommandContext, args: Parsed): Promise<number> {
  const f = args.flags;
  const verdicts = csv(f, "verdict") as Verdict[];
  const bad = verdicts.filter((v) => !VERDICTS.includes(v));
  if (bad.length) throw usageError(`--verdict: unknown verdict ${bad.join(", ")} (${VERDICTS.join(", ")})`);
  const last = count("last", str(f, "last"), 0) ?? 10;
  const fromFlag = count("from", str(f, "from"), 0);
  const max = count("max", str(f, "max"), 1);
  const follow = f["no-follow"] !== true;
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    return await withClient(ctx, args, async (c) => {
      let from = fromFlag;
      if (from === undefined) {
        const head = (await c.serverInfo()).trace_head_sequence;
        from = Math.max(0, head - last + 1);
        if (head === 0) from = 0;
      }
      let n = 0;
      for await (const e of c.watch(
        { from, follow, ...(max ? { max } : {}), verdicts, toolNames: csv(f, "tool"), identities: csv(f, "identity"), reasonCodes: csv(f, "reason"), includeOperatorActions: f["operator-actions"] === true },
        ac.signal,
      )) {
        n++;
        ctx.io.stdout((ctx.json ? JSON.stringify(e) : tailLine(e)) + "\n");
      }
      if (!ctx.json && n === 0 && !follow) ctx.io.stderr("no matching entries\n");
      return EXIT.OK;
    });
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
