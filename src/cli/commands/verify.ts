/**
 * Offline verification commands: `gait trace verify` (one signed trace file, or a trace-log segment) and
 * `gait verify` (a runpack zip). Exit 0 verified, 2 verification failed, 6 unreadable input or missing key.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Verifier } from "../../engine/signature.js";
import { lockDir, type DirLock } from "../../infra/lock.js";
import { HeadMarker } from "../../infra/marker.js";
import { verifyTraceRecord } from "../../engine/trace.js";
import { parseRFC3339 } from "../../engine/time.js";
import { verifyRunpack } from "../../runpack/verify.js";
import { verifyLogDir, verifySegmentFile, type LogVerifyResult } from "../../tracelog/verify.js";
import { oneOf, str, type CommandSpec, type Parsed } from "../args.js";
import { CliError, EXIT, usageError, type CommandContext } from "../io.js";
import { parseJsonText, readText, verifyKey } from "../inputs.js";

export const traceVerifySpec: CommandSpec = {
  name: "trace verify",
  summary: "verify the Ed25519 signature of a trace file, or every entry and checkpoint of a trace-log segment or directory",
  usage: [
    "trace verify <trace.json|segment.jsonl|trace-dir> [--json] [--require-sealed] [--write-head] [--public-key <path>|--public-key-env <VAR>|--private-key <path>|--private-key-env <VAR>]",
  ],
  flags: {
    json: { type: "boolean", help: "print JSON" },
    "require-sealed": { type: "boolean", help: "fail unless the (last) segment ends with a seal or close checkpoint: a cut at its end is then detected" },
    "write-head": { type: "boolean", help: "(directory, server stopped) after a successful verification, record the log's head in its HEAD marker" },
    "public-key": { type: "string", value: "<path>", help: "public key file (wins over a private key source)" },
    "public-key-env": { type: "string", value: "<VAR>", help: "environment variable holding the public key" },
    "private-key": { type: "string", value: "<path>", help: "derive the public key from this private key file" },
    "private-key-env": { type: "string", value: "<VAR>", help: "derive the public key from this environment variable" },
  },
  positionals: { min: 1, max: 1, names: "<path>" },
  notes: [
    "A trace-log segment (JSONL whose first line is a log entry or checkpoint) is verified as a hash chain plus the",
    "signatures of its records and checkpoints. A directory (--trace-dir of gait mcp serve) is verified segment by",
    "segment, with continuity across segments and against its HEAD marker (a cut at a line boundary, a deleted",
    "segment). A segment file alone cannot show a cut after its last checkpoint unless --require-sealed is given.",
    "Exit codes: 0 verified, 2 verification failed, 6 bad input/missing key.",
  ],
};

export const runpackVerifySpec: CommandSpec = {
  name: "verify",
  summary: "verify a runpack zip: entries, file hashes, manifest digest and (optionally) manifest signatures",
  usage: ["verify <runpack.zip> [--profile standard|strict] [--require-signature] [--public-key <path>] [--json]"],
  flags: {
    profile: { type: "string", value: "standard|strict", help: "strict implies --require-signature and needs --public-key", default: "standard" },
    "require-signature": { type: "boolean", help: "fail unless a manifest signature verifies" },
    "public-key": { type: "string", value: "<path>", help: "public key for manifest signatures" },
    json: { type: "boolean", help: "print JSON" },
  },
  positionals: { min: 1, max: 1, names: "<runpack.zip>" },
  notes: ["Unsigned runpacks (proxy/serve write them unsigned) pass unless --require-signature or --profile strict is set."],
};

/** Is this text a trace-log segment (JSONL whose first line is an entry or checkpoint) rather than one trace? */
function looksLikeSegment(text: string): boolean {
  const first = text.split("\n", 1)[0]!.trim();
  if (!first.startsWith("{")) return false;
  try {
    const doc = JSON.parse(first) as Record<string, unknown>;
    return !!doc && typeof doc === "object" && ("checkpoint" in doc || ("record" in doc && "seq" in doc));
  } catch {
    return false;
  }
}


/** The trace's `time.Time` fields (Gait's TraceRecord and its sub-decisions), as JSON paths. */
const TRACE_TIME_FIELDS: readonly (readonly string[])[] = [
  ["created_at"], ["observed_at"], ["freeze_window", "evaluated_at"], ["freeze_window", "window_start"],
  ["freeze_window", "window_end"], ["kill_switch", "evaluated_at"], ["mcp_trust", "updated_at"],
];

/**
 * Gait reads a trace into its Go struct before checking the signature, so a time field Go cannot parse makes the
 * file unreadable (exit 6, invalid input), not a failed verification (exit 2). Returns the problem, if any.
 */
function undecodableTime(doc: Record<string, unknown>): string | undefined {
  for (const path of TRACE_TIME_FIELDS) {
    let v: unknown = doc;
    for (const k of path) v = v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
    if (v === undefined || v === null) continue; // absent, or JSON null (a no-op for Go's time.Time)
    if (typeof v !== "string" || !parseRFC3339(v)) return `${path.join(".")} is not an RFC 3339 time: ${JSON.stringify(v)}`;
  }
  return undefined;
}

export async function traceVerify(ctx: CommandContext, args: Parsed): Promise<number> {
  const path = args.positionals[0]!;
  const f = args.flags;
  const key = verifyKey(ctx, { path: str(f["public-key"]), env: str(f["public-key-env"]) }, { path: str(f["private-key"]), env: str(f["private-key-env"]) }, "verify key");
  if (!key) {
    throw usageError("public key not configured", "pass --public-key <path> (or --public-key-env, --private-key, --private-key-env)");
  }
  const requireSealed = f["require-sealed"] === true;
  let isDir = false;
  try {
    isDir = (await stat(ctx.path(path))).isDirectory();
  } catch {
    /* readText reports it */
  }
  if (f["write-head"] === true && !isDir) throw usageError("--write-head needs a trace directory", "pass the --trace-dir of the server (stopped)");
  if (isDir) return traceVerifyDir(ctx, path, key, requireSealed, f["write-head"] === true);
  const text = await readText(ctx, path, "trace");

  if (looksLikeSegment(text)) {
    let res: Awaited<ReturnType<typeof verifySegmentFile>>;
    try {
      res = await verifySegmentFile(ctx.path(path), [key], { requireSealed });
    } catch (e) {
      // verifySegmentFile rejects only when the file cannot be read (tampering is ok:false, exit 2)
      throw usageError(`read segment ${path}: ${(e as Error).message}`);
    }
    const out: Record<string, unknown> = { ...res, path, kind: "segment", key_id: key.keyId, signature_status: res.ok ? "verified" : "failed" };
    const exit = res.ok ? EXIT.OK : EXIT.VERIFY_FAILED;
    if (!res.ok && !out.error) out.error = "segment verification failed";
    if (ctx.json) return ctx.printJson(out, exit);
    if (!res.ok) return ctx.fail(new CliError(`segment ${path}: ${out.error}`, EXIT.VERIFY_FAILED));
    return ctx.printHuman(
      [
        `trace verify: segment ${path} verified (${res.entries} entries, key_id=${key.keyId})`,
        res.sealed
          ? undefined
          : `warning: the segment is not sealed: ${res.unsealed_entries} entries after its last checkpoint, and a cut at its end cannot be seen from this file alone; verify the whole directory, or pass --require-sealed for a segment that was closed cleanly`,
      ],
      exit,
    );
  }

  const doc = parseJsonText(text, "trace", path);
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw usageError(`parse trace ${path}: expected a JSON object`);
  const undecodable = undecodableTime(doc as Record<string, unknown>);
  if (undecodable) throw usageError(`parse trace ${path}: ${undecodable}`);
  const res = verifyTraceRecord(doc, key);
  const out: Record<string, unknown> = {
    ok: res.ok,
    path,
    trace_id: res.trace_id,
    verdict: res.verdict,
    signature_status: res.ok ? "verified" : "failed",
    key_id: res.key_id,
  };
  if (!res.ok) out.error = res.error;
  const exit = res.ok ? EXIT.OK : EXIT.VERIFY_FAILED;
  if (ctx.json) return ctx.printJson(out, exit);
  if (!res.ok) return ctx.fail(new CliError(`trace ${path}: signature verification failed: ${res.error}`, EXIT.VERIFY_FAILED));
  return ctx.printHuman([`trace verify: ok trace_id=${res.trace_id} verdict=${res.verdict} key_id=${res.key_id}`], exit);
}

async function traceVerifyDir(ctx: CommandContext, path: string, key: Verifier, requireSealed: boolean, writeHead: boolean): Promise<number> {
  const dir = ctx.path(path);
  let res: LogVerifyResult;
  let lock: DirLock | undefined;
  try {
    if (writeHead) lock = await lockDir(dir, `trace log ${path}`, "directory", (m) => new CliError(m, EXIT.INVALID_INPUT), { lockName: "LOCK", retryMs: 0 });
    res = await verifyLogDir(dir, [key], { requireSealed });
    // --write-head accepts the log as it is: a head-marker mismatch is what it is for; every other check stands
    if (writeHead && !res.ok && res.head_marker === "mismatch") res = { ...res, ok: true, error: undefined };
    if (writeHead && res.ok) {
      const m = (await HeadMarker.open(join(dir, "HEAD"), { create: true }))!;
      try {
        const first = res.segments[0]?.anchor ? res.segments[0].anchor.seq + 1 : 1;
        await m.write({ seq: res.last_seq ?? (res.segments.at(-1)?.anchor?.seq ?? 0), hash: res.last_hash ?? res.segments.at(-1)?.anchor?.hash ?? "0".repeat(64), oldest_seq: first }, { sync: true });
      } finally {
        await m.close();
      }
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw usageError(`read trace directory ${path}: ${(e as Error).message}`);
  } finally {
    await lock?.release();
  }
  const out: Record<string, unknown> = { ...res, segments: res.segments.length, path, kind: "directory", key_id: key.keyId, head_written: writeHead && res.ok };
  const exit = res.ok ? EXIT.OK : EXIT.VERIFY_FAILED;
  if (ctx.json) return ctx.printJson(out, exit);
  if (!res.ok) return ctx.fail(new CliError(`trace directory ${path}: ${res.error}`, EXIT.VERIFY_FAILED));
  return ctx.printHuman(
    [
      `trace verify: directory ${path} verified (${res.segments.length} segments, entries ${res.first_seq ?? "-"}..${res.last_seq ?? "-"}, key_id=${key.keyId})`,
      res.head_marker === "missing" && !writeHead ? "warning: no HEAD marker: a cut of the newest entries could not be detected (the server writes one; --write-head records it)" : undefined,
      writeHead ? `head marker written: entry ${res.last_seq ?? 0}` : undefined,
    ],
    exit,
  );
}

export async function runpackVerify(ctx: CommandContext, args: Parsed): Promise<number> {
  const path = args.positionals[0]!;
  const f = args.flags;
  const profile = oneOf("profile", f.profile, ["standard", "strict"] as const, "standard");
  const key = verifyKey(ctx, { path: str(f["public-key"]) });
  const requireSignature = f["require-signature"] === true || profile === "strict";
  if (profile === "strict" && !key) throw usageError("--profile strict requires --public-key", "pass the public key of the runpack signer");
  let bytes: Uint8Array;
  try {
    bytes = await readFile(ctx.path(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw usageError(`read runpack ${path}: ${err.code === "ENOENT" ? "file not found" : err.message}`);
  }
  const res = verifyRunpack(bytes, { verifier: key, requireSignature });
  const out: Record<string, unknown> = { path, ...res };
  if (res.signature_status === "missing" && res.ok) out.note = "runpack is unsigned; pass --require-signature to reject unsigned runpacks";
  if (!res.ok) {
    const why = [
      ...res.errors,
      res.missing_files.length ? `missing files: ${res.missing_files.join(",")}` : "",
      res.hash_mismatches.length ? `hash mismatches: ${res.hash_mismatches.join(",")}` : "",
      res.signature_status === "failed" ? `signature failed: ${res.signature_errors.join("; ")}` : "",
      requireSignature && res.signature_status !== "verified" && res.signature_status !== "failed" ? `signature required but ${res.signature_status}` : "",
    ].filter(Boolean);
    out.error = why.join("; ") || "runpack verification failed";
  }
  const exit = res.ok ? EXIT.OK : EXIT.VERIFY_FAILED;
  if (ctx.json) return ctx.printJson(out, exit);
  if (!res.ok) return ctx.fail(new CliError(`runpack ${path}: ${out.error}`, EXIT.VERIFY_FAILED));
  return ctx.printHuman(
    [
      `verify: ok run_id=${res.run_id}`,
      `manifest_digest: ${res.manifest_digest}`,
      `files checked: ${res.files_checked}, signature: ${res.signature_status}`,
      typeof out.note === "string" ? `note: ${out.note}` : undefined,
    ],
    exit,
  );
}
