/**
 * Runpack writer (evidence.md §3.2-3.3): a deterministic zip holding one run's intents, results and references,
 * indexed by a digest-bearing manifest. Every entry is JCS bytes (JSONL: one JCS line + "\n" per record), so the same
 * inputs always produce the same archive bytes.
 *
 * `capture_mode: reference` (the default) stores only digests: raw `args` and `result` are stripped after their
 * digests are computed, so a runpack can be shared without leaking tool arguments.
 */
import { digestJCS, jcs, sha256Hex } from "../engine/canon.js";
import { signDocument, type SignatureObject, type Signer } from "../engine/signature.js";
import { normalizeGoTime } from "../engine/time.js";
import type { JsonObject, JsonValue, Verdict } from "../engine/types.js";
import { normalizeRunId } from "./run-id.js";
import { writeDeterministicZip } from "./zip.js";

export const RUNPACK_MANIFEST_SCHEMA = "gait.runpack.manifest";
export const RUNPACK_SCHEMA_VERSION = "1.0.0";
/** The payload files every runpack carries (checked by the verifier even when the manifest omits them). */
export const RUNPACK_REQUIRED_FILES = ["intents.jsonl", "refs.json", "results.jsonl", "run.json"] as const;

export type CaptureMode = "reference" | "raw";

export interface RunpackManifest {
  schema_id: typeof RUNPACK_MANIFEST_SCHEMA;
  schema_version: string;
  created_at: string;
  producer_version: string;
  run_id: string;
  capture_mode: CaptureMode;
  files: { path: string; sha256: string }[];
  manifest_digest: string;
  signatures?: SignatureObject[];
}

export interface RunpackIntentInput {
  intent_id: string;
  tool_name: string;
  /** raw args; kept only in `raw` capture mode */
  args?: JsonObject;
  /** computed from `args` when absent */
  args_digest?: string;
}

export interface RunpackResultInput {
  intent_id: string;
  status: string;
  result?: JsonValue;
  /** computed from `result` when absent */
  result_digest?: string;
}

export interface RunpackInput {
  /** normalized with {@link normalizeRunId} */
  runId: string;
  /** RFC 3339; the caller pins it (determinism): there is no wall-clock default */
  createdAt: string;
  producerVersion?: string;
  captureMode?: CaptureMode;
  intents: RunpackIntentInput[];
  results: RunpackResultInput[];
  timeline?: { event: string; ts: string; ref?: string }[];
  receipts?: JsonObject[];
  context?: { context_set_digest?: string; context_evidence_mode?: string; context_ref_count?: number };
  /** recorded in run.json; defaults to this process's platform */
  env?: { os: string; arch: string; runtime: string };
  /** signs the manifest when given (runpacks from proxy/serve are unsigned, as Gait's) */
  signer?: Signer;
}

export interface BuiltRunpack {
  zip: Uint8Array;
  manifest: RunpackManifest;
}

export { normalizeRunId };

/** This process's platform in Go's vocabulary (GOOS/GOARCH), with our runtime name. */
export function defaultRunpackEnv(): { os: string; arch: string; runtime: string } {
  const arch: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm" };
  return { os: process.platform === "win32" ? "windows" : process.platform, arch: arch[process.arch] ?? process.arch, runtime: "node" };
}

/** `manifest_digest` = DigestJCS(manifest with manifest_digest "" and no signatures). */
export function computeManifestDigest(manifest: Record<string, unknown>): string {
  const { signatures: _s, ...rest } = manifest;
  return digestJCS({ ...rest, manifest_digest: "" });
}

const enc = new TextEncoder();

/** Build a runpack archive. Throws when an input would make an archive the verifier rejects. */
export function buildRunpack(input: RunpackInput): BuiltRunpack {
  const runId = normalizeRunId(input.runId);
  if (!runId) throw new Error("runpack: run_id is required");
  const createdAt = normalizeGoTime(input.createdAt);
  if (!createdAt) throw new Error(`runpack: created_at is not RFC 3339: ${JSON.stringify(input.createdAt)}`);
  const producer = (input.producerVersion ?? "").trim() || "0.0.0-dev";
  const mode: CaptureMode = input.captureMode ?? "reference";
  if (mode !== "reference" && mode !== "raw") throw new Error(`runpack: unsupported capture mode ${JSON.stringify(mode)}`);
  const header = { schema_version: RUNPACK_SCHEMA_VERSION, created_at: createdAt, producer_version: producer, run_id: runId };

  const intentLines = input.intents.map((i) => {
    const rec: Record<string, JsonValue> = {
      schema_id: "gait.runpack.intent",
      ...header,
      intent_id: i.intent_id,
      tool_name: i.tool_name,
      args_digest: i.args_digest ?? digestJCS(i.args ?? {}),
    };
    if (mode === "raw" && i.args !== undefined) rec.args = i.args;
    return jcs(rec) + "\n";
  });
  const resultLines = input.results.map((r) => {
    const rec: Record<string, JsonValue> = {
      schema_id: "gait.runpack.result",
      ...header,
      intent_id: r.intent_id,
      status: r.status,
      result_digest: r.result_digest ?? digestJCS(r.result ?? null),
    };
    if (mode === "raw" && r.result !== undefined) rec.result = r.result;
    return jcs(rec) + "\n";
  });
  const run = {
    schema_id: "gait.runpack.run",
    ...header,
    env: input.env ?? defaultRunpackEnv(),
    timeline: (input.timeline ?? []).map((t) => (t.ref ? { event: t.event, ts: t.ts, ref: t.ref } : { event: t.event, ts: t.ts })),
  };
  const refs: Record<string, JsonValue> = { schema_id: "gait.runpack.refs", ...header, receipts: input.receipts ?? [] };
  const ctx = input.context;
  if (ctx?.context_set_digest) refs.context_set_digest = ctx.context_set_digest;
  if (ctx?.context_evidence_mode) refs.context_evidence_mode = ctx.context_evidence_mode;
  if (ctx?.context_ref_count) refs.context_ref_count = ctx.context_ref_count;

  const payload: Record<(typeof RUNPACK_REQUIRED_FILES)[number], Uint8Array> = {
    "intents.jsonl": enc.encode(intentLines.join("")),
    "refs.json": enc.encode(jcs(refs)),
    "results.jsonl": enc.encode(resultLines.join("")),
    "run.json": enc.encode(jcs(run)),
  };
  const files = RUNPACK_REQUIRED_FILES.map((path) => ({ path, sha256: sha256Hex(payload[path]) }));
  const manifest: RunpackManifest = {
    schema_id: RUNPACK_MANIFEST_SCHEMA,
    schema_version: RUNPACK_SCHEMA_VERSION,
    created_at: createdAt,
    producer_version: producer,
    run_id: runId,
    capture_mode: mode,
    files,
    manifest_digest: "",
  };
  manifest.manifest_digest = computeManifestDigest(manifest as unknown as Record<string, unknown>);
  if (input.signer) manifest.signatures = [signDocument(manifest, input.signer)];

  const zip = writeDeterministicZip([
    { path: "manifest.json", data: enc.encode(jcs(manifest)) },
    ...RUNPACK_REQUIRED_FILES.map((path) => ({ path, data: payload[path] })),
  ]);
  return { zip, manifest };
}

/** One gated tool call, as `mcp proxy` / `mcp serve` record it. */
export interface SingleCallRunpackInput {
  runId: string;
  /** the decision's deterministic created_at (intent's, else 1980) */
  createdAt: string;
  producerVersion?: string;
  toolName: string;
  args: JsonObject;
  argsDigest?: string;
  verdict: Verdict;
  reasonCodes: string[];
  violations: string[];
  traceId: string;
  captureMode?: CaptureMode;
  signer?: Signer;
}

/**
 * The single-call runpack (evidence.md §3.3): one intent `intent_1`, one result whose status is `error` for block /
 * require_approval and `ok` otherwise (dry_run counts as ok), result = {verdict, reason_codes, violations, trace_id},
 * timeline proxy_eval_start / proxy_eval_finish at the decision time, no receipts.
 */
export function buildSingleCallRunpack(input: SingleCallRunpackInput): BuiltRunpack {
  const ts = normalizeGoTime(input.createdAt) ?? input.createdAt;
  const status = input.verdict === "block" || input.verdict === "require_approval" ? "error" : "ok";
  return buildRunpack({
    runId: input.runId,
    createdAt: input.createdAt,
    producerVersion: input.producerVersion,
    captureMode: input.captureMode ?? "reference",
    intents: [{ intent_id: "intent_1", tool_name: input.toolName, args: input.args, args_digest: input.argsDigest }],
    results: [
      {
        intent_id: "intent_1",
        status,
        result: { verdict: input.verdict, reason_codes: input.reasonCodes, violations: input.violations, trace_id: input.traceId },
      },
    ],
    timeline: [
      { event: "proxy_eval_start", ts },
      { event: "proxy_eval_finish", ts },
    ],
    receipts: [],
    signer: input.signer,
  });
}
