/**
 * The operator's view of the trace log: which entries a decision watcher (WatchDecisions, `gait trace tail`, the web
 * console's feed) receives. Filters combine with AND; inside one filter any listed value matches; an empty filter
 * matches everything. Operator actions are left out unless asked for.
 */
import type { Verdict } from "../engine/types.js";

/** The summary fields a filter reads (gate-service.ts RecordSummary has them). */
export interface WatchedSummary {
  kind: "decision" | "operator_action" | "unknown";
  verdict?: Verdict;
  tool_name: string;
  identity: string;
  reason_codes: readonly string[];
}

export interface WatchFilter {
  verdicts?: readonly Verdict[];
  toolNames?: readonly string[];
  identities?: readonly string[];
  reasonCodes?: readonly string[];
  includeOperatorActions?: boolean;
}

/** Limits of one filter (a watcher is an operator, but the filter still arrives over the wire). */
export const WATCH_FILTER_MAX_VALUES = 64;
export const WATCH_FILTER_MAX_LENGTH = 256;

/** Check a filter's size; returns the problem or undefined. */
export function watchFilterProblem(f: WatchFilter): string | undefined {
  for (const [name, values] of [["verdicts", f.verdicts], ["tool_names", f.toolNames], ["identities", f.identities], ["reason_codes", f.reasonCodes]] as const) {
    if (!values) continue;
    if (values.length > WATCH_FILTER_MAX_VALUES) return `${name}: at most ${WATCH_FILTER_MAX_VALUES} values`;
    for (const v of values) {
      if (typeof v !== "string" || v.trim() === "") return `${name}: empty value`;
      if (v.length > WATCH_FILTER_MAX_LENGTH) return `${name}: a value longer than ${WATCH_FILTER_MAX_LENGTH} characters`;
    }
  }
  return undefined;
}

/** Whether an entry with this summary passes the filter. */
export function matchesWatch(s: WatchedSummary, f: WatchFilter): boolean {
  if (s.kind === "unknown") return false;
  if (s.kind === "operator_action") {
    if (!f.includeOperatorActions) return false;
    // a verdict filter is about decisions: an operator action has no verdict, so it passes only without one
    if (f.verdicts?.length) return false;
  } else if (f.verdicts?.length && (!s.verdict || !f.verdicts.includes(s.verdict))) return false;
  if (f.toolNames?.length && !f.toolNames.includes(s.tool_name)) return false;
  if (f.identities?.length && !f.identities.includes(s.identity)) return false;
  if (f.reasonCodes?.length && !s.reason_codes.some((c) => f.reasonCodes!.includes(c))) return false;
  return true;
}
