/**
 * Reading the CLI's inputs (policy, JSON documents, keys) with error messages that name the input and the problem,
 * and writing evidence files through the atomic helper.
 */
import { readFile } from "node:fs/promises";
import { Ed25519KeyPair, KeyError, loadSigningKey, loadVerifyKey, type Ed25519PublicKey, type KeySource } from "../infra/keys.js";
import { describeUnknownIntentKey, unknownIntentKeys } from "../engine/intent-keys.js";
import { scanJson, type JsonScan } from "../engine/json-positions.js";
import { formatPolicyIssue, parsePolicy, PolicyValidationError } from "../engine/policy.js";
import { decodeUtf8Go } from "../engine/utf8.js";
import type { Policy } from "../engine/types.js";
import { shippedKey, shippedKeyMessage } from "../infra/shipped-keys.js";
import { checkOutputPath, writeFileAtomic, OutputPathError, EVIDENCE_FILE_MODE } from "../infra/fs.js";
import { str, oneOf } from "./args.js";
import { CliError, EXIT, usageError, type CommandContext } from "./io.js";
import { GateError } from "../service/errors.js";
import type { ParsedFlags as Flags } from "./args.js";

/** Read a text file; a missing or unreadable file is an input error naming `what` and the path. */
export async function readText(ctx: CommandContext, path: string, what: string): Promise<string> {
  try {
    return await readFile(ctx.path(path), "utf8");
  } catch (e) {
    throw readError(e, what, path);
  }
}

/** Parse JSON text; a syntax error names the input and, when it can be located, its line and column. */
export function parseJsonText(text: string, what: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const err = scanJson(text).error;
    const where = err ? ` at line ${err.line}, column ${err.column}: ${err.message}` : "";
    throw usageError(`parse ${what} ${path}: invalid JSON${where} (${(e as Error).message})`);
  }
}

/** An intent as read from a file or stdin, with the positions of its keys for messages that point. */
export interface IntentInput {
  raw: unknown;
  /** the name messages use: the path, or `(stdin)` */
  name: string;
  scan: JsonScan;
}

/**
 * Read an intent JSON file (`-` = stdin when `allowStdin`) and check its keys: a key nothing reads (a typo such as
 * `toolname`, or a re-cased `Tool_Name`) is a warning naming its line, column and the closest known key; with
 * `strict` it is an input error (exit 6) and nothing is evaluated. Gait drops such keys silently
 * (docs/compatibility.md R13).
 */
export async function readIntent(ctx: CommandContext, path: string, strict: boolean, allowStdin = false): Promise<IntentInput> {
  let text: string;
  let name = path;
  if (path === "-") {
    if (!allowStdin) throw usageError("intent cannot be read from stdin");
    try {
      text = await ctx.io.readStdin();
    } catch (e) {
      throw usageError(`read intent from stdin: ${(e as Error).message}`);
    }
    if (!text.trim()) throw usageError("read intent from stdin: no input");
    name = "(stdin)";
  } else {
    text = decodeUtf8Go(await readBytes(ctx, path, "intent"));
  }
  const raw = parseJsonText(text, "intent", name);
  const scan = scanJson(text);
  const unknown = unknownIntentKeys(raw)
    .map((k) => ({ k, pos: scan.keys.get(k.path) }))
    .sort((a, b) => (a.pos?.offset ?? 0) - (b.pos?.offset ?? 0))
    .map(({ k, pos }) => `${name}${pos ? `:${pos.line}:${pos.column}` : ""}: ${describeUnknownIntentKey(k)}`);
  if (unknown.length > 0) {
    if (strict) {
      throw usageError(
        `intent has ${unknown.length === 1 ? "an unknown key" : `${unknown.length} unknown keys`} (--strict):\n${unknown.join("\n")}`,
        "rename the key to the suggested one or remove it; without --strict unknown keys are only reported (and ignored, as Gait ignores them)",
      );
    }
    for (const u of unknown) ctx.warn(`${u}; ignored (--strict refuses it)`);
  }
  return { raw, name, scan };
}

/**
 * An intent error message with the position of the field it names, when it starts with a key path found in the file
 * (`context.identity must be a string` -> `... at line 4, column 5`).
 */
export function locateIntentError(message: string, input: Pick<IntentInput, "scan">): string {
  const m = /^(?:normalize [a-z_]+: )?([A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?)*)\b/.exec(message);
  if (!m) return message;
  let path = m[1]!;
  // the longest prefix of the path that is a key of the file
  for (;;) {
    const pos = input.scan.keys.get(path);
    if (pos) return `${message} at line ${pos.line}, column ${pos.column}`;
    const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
    if (cut <= 0) return message;
    path = path.slice(0, cut);
  }
}

/**
 * Read and parse a JSON file (`-` reads stdin when `allowStdin`). Bytes are decoded with Go's UTF-8 replacement rule
 * (one U+FFFD per invalid byte, as Gait's json.Unmarshal), so digests over repaired strings agree with Gait.
 */
export async function readJson(ctx: CommandContext, path: string, what: string, allowStdin = false): Promise<unknown> {
  if (path === "-") {
    if (!allowStdin) throw usageError(`${what} cannot be read from stdin`);
    let text: string;
    try {
      text = await ctx.io.readStdin();
    } catch (e) {
      throw usageError(`read ${what} from stdin: ${(e as Error).message}`);
    }
    if (!text.trim()) throw usageError(`read ${what} from stdin: no input`);
    return parseJsonText(text, what, "(stdin)");
  }
  return parseJsonText(decodeUtf8Go(await readBytes(ctx, path, what)), what, path);
}

/** Read a file's bytes; a missing or unreadable file is an input error naming `what` and the path. */
async function readBytes(ctx: CommandContext, path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(ctx.path(path));
  } catch (e) {
    throw readError(e, what, path);
  }
}

function readError(e: unknown, what: string, path: string): CliError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === "ENOENT" ? "file not found" : err.code === "EISDIR" ? "is a directory" : err.code === "EACCES" ? "permission denied" : err.message;
  return usageError(`read ${what} ${path}: ${why}`);
}

/** Normalize a `--policy-digest` pin: `sha256:<hex>` or bare hex, 64 lowercase hex chars. */
export function parseDigestPin(flag: string, value: string): string {
  const v = value.trim().toLowerCase().replace(/^sha256:/, "");
  if (!/^[0-9a-f]{64}$/.test(v)) throw usageError(`--${flag} must be sha256:<64 hex>, got ${JSON.stringify(value)}`);
  return v;
}

/**
 * Read and parse a policy file; with `pin` (the `--policy-digest` flag) refuse a policy whose digest differs, so a
 * deployment evaluates exactly the policy its release metadata names.
 */
export async function loadPolicy(ctx: CommandContext, path: string | undefined, pin?: string | boolean): Promise<Policy> {
  if (!path) throw usageError("--policy is required", `run 'gait ${ctx.command} --help'`);
  const text = await readText(ctx, path, "policy");
  let policy: Policy;
  try {
    policy = parsePolicy(text);
  } catch (e) {
    throw policyFileError(ctx, path, e);
  }
  const pinned = str(pin);
  if (pinned) {
    const want = parseDigestPin("policy-digest", pinned);
    if (policy.policy_digest !== want) {
      throw usageError(
        `policy digest mismatch: ${path} has sha256:${policy.policy_digest}, --policy-digest pins sha256:${want}`,
        "use the policy file the pin was made for, or update the pin",
      );
    }
  }
  return policy;
}

/**
 * A rejected policy as an input error whose lines read `<file>:<line>:<column>: <problem> (did you mean "x"?)`, the
 * form editors and CI annotate. The hint says what to do next, and never tells `policy validate` to run itself.
 */
export function policyFileError(ctx: CommandContext, path: string, e: unknown): CliError {
  if (!(e instanceof PolicyValidationError)) return usageError(`policy ${path}: ${(e as Error).message}`);
  const lines = e.issues.map((i) => {
    const where = i.line !== undefined ? `${path}:${i.line}:${i.column ?? 1}` : path;
    return `${where}: ${formatPolicyIssue({ ...i, line: undefined })}`;
  });
  const n = e.issues.length;
  const hint =
    ctx.command === "policy validate"
      ? `fix the ${n === 1 ? "problem" : `${n} problems`} at the positions shown, then run 'gait policy validate ${path}' again`
      : `fix the ${n === 1 ? "problem" : `${n} problems`} at the positions shown; 'gait policy validate ${path}' checks the file without evaluating anything`;
  return usageError(`invalid policy ${path}:\n${lines.join("\n")}`, hint);
}

function keySource(ctx: CommandContext, path: string | undefined, env: string | undefined): KeySource {
  return { path: path ? ctx.path(path) : undefined, env };
}

/**
 * The signing key per `--key-mode` (evidence.md §4.2): dev = a fresh ephemeral pair plus a warning; prod = the
 * private key from `--private-key` / `--private-key-env`. Key problems are input errors (exit 6).
 */
export function signingKey(ctx: CommandContext, flags: Flags, dflt: "dev" | "prod" = "dev"): Ed25519KeyPair {
  const mode = oneOf("key-mode", flags["key-mode"], ["dev", "prod"] as const, dflt);
  try {
    const { key, warning, label } = loadSigningKey(mode, keySource(ctx, str(flags["private-key"]), str(flags["private-key-env"])), {}, ctx.io.env);
    if (warning) ctx.warn(warning);
    // prod mode promises evidence; a key whose private half is published cannot give it (docs/compatibility.md S8)
    refusePublishedKey(mode, key.keyId, "signing key", label);
    return key;
  } catch (e) {
    if (e instanceof KeyError) throw usageError(`signing key: ${e.message}`, mode === "prod" ? "pass --private-key <path> or --private-key-env <VAR> (see 'gait keys init')" : undefined);
    throw e;
  }
}

/**
 * In prod key mode, refuse a key whose private half is published (src/infra/shipped-keys.ts): as the signing key, or
 * as the verify key of approval or delegation tokens (its private half mints tokens anyone could present). Exit 6.
 */
export function refusePublishedKey(mode: "dev" | "prod", keyId: string | undefined, what: string, label: string): void {
  const k = mode === "prod" && keyId ? shippedKey(keyId) : undefined;
  if (k) throw usageError(shippedKeyMessage(what, label, k), "run 'gait keys init --out-dir <dir>' and pass its gait_private.key with --private-key");
}

/** A fresh key pair that lives only in memory (policy suites mint their approval and delegation tokens with it). */
export function ephemeralKeyPair(): Ed25519KeyPair {
  return Ed25519KeyPair.generate();
}

/** A verify key from explicit public/private sources (public wins); undefined when none is given. */
export function verifyKey(
  ctx: CommandContext,
  pub: { path?: string; env?: string },
  priv: { path?: string; env?: string } = {},
  what = "public key",
): Ed25519PublicKey | undefined {
  try {
    return loadVerifyKey(keySource(ctx, pub.path, pub.env), keySource(ctx, priv.path, priv.env), ctx.io.env);
  } catch (e) {
    if (e instanceof KeyError) throw usageError(`${what}: ${e.message}`);
    throw e;
  }
}

/**
 * Write an evidence file atomically (0600 unless `mode`), enforcing the output path rule. Throws GateErrors (they
 * may come out of the decision pipeline's sink): a path violation is invalid input (exit 6), a filesystem failure an
 * I/O failure (exit 1). No partial file is ever left behind.
 */
export async function writeEvidence(ctx: CommandContext, path: string, data: string | Uint8Array, what: string, mode = EVIDENCE_FILE_MODE): Promise<void> {
  let target: string;
  try {
    target = ctx.path(checkOutputPath(path, what));
  } catch (e) {
    if (e instanceof OutputPathError) throw new GateError("INVALID_ARGUMENT", e.message, { cause: e });
    throw e;
  }
  try {
    await writeFileAtomic(target, data, mode);
  } catch (e) {
    throw new GateError(what === "runpack" ? "RUNPACK_WRITE_FAILED" : "TRACE_WRITE_FAILED", `write ${what}: ${(e as Error).message}`, { cause: e, kind: "unavailable" });
  }
}

/** Pretty JSON with a trailing newline: Gait's layout for trace, token and audit files. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

export { findProjectFile, producerVersion } from "../infra/version.js";
