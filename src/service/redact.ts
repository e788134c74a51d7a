/**
 * What an operator is shown of a waiting call (the web console's pending approvals): the shape of its arguments and
 * its targets, with anything that looks like a secret replaced by `[redacted]`. The operator decides on what the
 * call does; credentials in it are never shown (nor logged).
 *
 * Rules: a value under a key whose name suggests a secret (password, secret, token, key, auth, credential, cookie,
 * session, private, signature) is redacted whole; in any other string, bearer/basic credentials, URL user info, URL
 * query strings and long opaque runs (32+ characters of base64/hex) are redacted; strings are cut at 200 characters;
 * nesting is shown 4 levels deep and 50 keys or items per level.
 */
import type { IntentRequest } from "../engine/types.js";

export interface RedactedCall {
  tool_name: string;
  args: unknown;
  targets: { kind: string; value: string; operation?: string }[];
}

const SECRET_KEY = /pass(word|wd|phrase)?|secret|token|api[-_]?key|(^|[-_])key$|auth|credential|cookie|session|private|signature|bearer/i;
const MAX_STRING = 200;
const MAX_DEPTH = 4;
const MAX_ITEMS = 50;
export const REDACTED = "[redacted]";

/** A string with the secret-looking parts replaced. */
export function redactString(s: string): string {
  let out = s
    .replace(/\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`)
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, `$1${REDACTED}@`)
    .replace(/(https?:\/\/[^\s?#]*)\?[^\s#]*/gi, `$1?${REDACTED}`)
    .replace(/[A-Za-z0-9+/_=-]{32,}/g, REDACTED);
  if (out.length > MAX_STRING) out = `${out.slice(0, MAX_STRING)}… (${s.length} characters)`;
  return out;
}

function redactValue(v: unknown, depth: number): unknown {
  if (typeof v === "string") return redactString(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return v;
  if (depth >= MAX_DEPTH) return Array.isArray(v) ? `[${v.length} items]` : "{…}";
  if (Array.isArray(v)) {
    const items = v.slice(0, MAX_ITEMS).map((x) => redactValue(x, depth + 1));
    return v.length > MAX_ITEMS ? [...items, `… ${v.length - MAX_ITEMS} more`] : items;
  }
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(v as object).sort();
    for (const k of keys.slice(0, MAX_ITEMS)) out[k] = SECRET_KEY.test(k) ? REDACTED : redactValue((v as Record<string, unknown>)[k], depth + 1);
    if (keys.length > MAX_ITEMS) out["…"] = `${keys.length - MAX_ITEMS} more keys`;
    return out;
  }
  return String(v);
}

/** The redacted view of a normalized intent. */
export function redactCall(intent: IntentRequest): RedactedCall {
  return {
    tool_name: intent.tool_name,
    args: redactValue(intent.args ?? {}, 0),
    targets: (intent.targets ?? []).slice(0, MAX_ITEMS).map((t) => ({ kind: t.kind, value: redactString(t.value), ...(t.operation ? { operation: t.operation } : {}) })),
  };
}
