/**
 * Caller authentication, the same for every transport: a shared bearer token (`--auth-mode token`) on every
 * listener, and per-operator tokens (`--operator-tokens-file`) on the operator listener, where the token also names
 * the approver. Comparisons are constant time (digests, so length differences leak nothing).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { GateError } from "../service/errors.js";

export type ListenerRole = "agent" | "operator";

/** Who is calling, as authentication established it. */
export interface Caller {
  /** The operator identity an operator token names (operator listener with --operator-tokens-file). */
  identity?: string;
}

export interface AuthSettings {
  mode: "off" | "token";
  /** The shared bearer token (mode token). */
  token?: string;
  /** sha256 hex of an operator's token -> the operator's identity. */
  operatorTokens?: ReadonlyMap<string, string>;
}

function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m ? m[1] : undefined;
}

/** Constant-time bearer token check. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const b = bearer(header);
  if (b === undefined) return false;
  return timingSafeEqual(createHash("sha256").update(b).digest(), createHash("sha256").update(token).digest());
}

/** The operator whose token is in the bearer header, or undefined (constant time over every entry). */
export function operatorIdentity(tokens: ReadonlyMap<string, string>, header: string | undefined): string | undefined {
  const b = bearer(header);
  if (b === undefined) return undefined;
  const digest = createHash("sha256").update(b).digest();
  let found: string | undefined;
  for (const [hex, who] of tokens) if (timingSafeEqual(digest, Buffer.from(hex, "hex"))) found = who;
  return found;
}

/** Authenticate one call from its `authorization` header. Throws GateError UNAUTHENTICATED. */
export function authenticate(s: AuthSettings, role: ListenerRole, header: string | undefined): Caller {
  if (role === "operator" && s.operatorTokens) {
    const who = operatorIdentity(s.operatorTokens, header);
    if (!who) throw new GateError("UNAUTHENTICATED", header ? "the operator token is not in --operator-tokens-file" : "missing operator bearer token (--operator-tokens-file is set)");
    return { identity: who };
  }
  if (s.mode !== "token") return {};
  if (!bearerMatches(header, s.token ?? "")) throw new GateError("UNAUTHENTICATED", header ? "invalid bearer authorization" : "missing bearer authorization");
  return {};
}
