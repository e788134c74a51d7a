/**
 * Reading the CLI's inputs (policy, JSON documents, keys) with error messages that name the input and the problem,
 * and writing evidence files through the atomic helper.
 */
import { readFile } from "node:fs/promises";
import { KeyError, loadSigningKey, loadVerifyKey, type Ed25519KeyPair, type Ed25519PublicKey, type KeySource } from "../infra/keys.js";
import { parsePolicy } from "../engine/policy.js";
import { decodeUtf8Go } from "../engine/utf8.js";
import type { Policy } from "../engine/types.js";
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

/** Parse JSON text; a syntax error names the input. */
export function parseJsonText(text: string, what: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw usageError(`parse ${what} ${path}: invalid JSON (${(e as Error).message})`);
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
    throw usageError(`policy ${path}: ${(e as Error).message}`, "fix the policy file; 'gait policy validate <file>' reports the problem");
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
    const { key, warning } = loadSigningKey(mode, keySource(ctx, str(flags["private-key"]), str(flags["private-key-env"])), {}, ctx.io.env);
    if (warning) ctx.warn(warning);
    return key;
  } catch (e) {
    if (e instanceof KeyError) throw usageError(`signing key: ${e.message}`, mode === "prod" ? "pass --private-key <path> or --private-key-env <VAR> (see 'gait keys init')" : undefined);
    throw e;
  }
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
