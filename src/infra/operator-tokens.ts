/**
 * `--operator-tokens-file`: one operator per line, `<identity> sha256:<64 hex>` (the sha256 of the operator's bearer
 * token; the token itself is never stored). `#` starts a comment. With it, the operator listener authenticates every
 * call and the approver of a grant or deny is the identity the token names, not free text from the request.
 *
 *     # printf %s "$TOKEN" | sha256sum
 *     bob    sha256:3f0a...
 *     alice  sha256:9c1d...
 */
import { readFileSync } from "node:fs";
import { identityKey } from "../engine/identity.js";
import { assertTrusted } from "./trust.js";

export class OperatorTokensError extends Error {
  override name = "OperatorTokensError";
}

/** Parse the file's text; every problem is reported with its line. */
export function parseOperatorTokens(text: string, path = "operator tokens file"): Map<string, string> {
  const out = new Map<string, string>();
  const who = new Map<string, number>();
  const problems: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const m = /^(\S+)\s+sha256:([0-9a-fA-F]{64})$/.exec(line);
    if (!m) {
      problems.push(`${path}:${i + 1}: expected "<identity> sha256:<64 hex>" (the sha256 of the operator's token)`);
      return;
    }
    const identity = m[1]!;
    const key = identityKey(identity);
    if (!key) problems.push(`${path}:${i + 1}: identity ${JSON.stringify(identity)} has no visible characters`);
    else if (who.has(key)) problems.push(`${path}:${i + 1}: identity ${JSON.stringify(identity)} is listed twice (first on line ${who.get(key)})`);
    const hex = m[2]!.toLowerCase();
    if (out.has(hex)) problems.push(`${path}:${i + 1}: this token digest is already listed for ${JSON.stringify(out.get(hex))}`);
    who.set(key, i + 1);
    out.set(hex, identity);
  });
  if (problems.length) throw new OperatorTokensError(problems.join("\n"));
  if (!out.size) throw new OperatorTokensError(`${path}: no operators listed`);
  return out;
}

/** Read, trust-check (it decides who may approve) and parse the file. */
export function loadOperatorTokens(path: string): Map<string, string> {
  assertTrusted(path, "file", "operator tokens file");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new OperatorTokensError(`read ${path}: ${(e as Error).message}`);
  }
  return parseOperatorTokens(text, path);
}
