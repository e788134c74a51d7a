import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Hex } from "../../../src/engine/canon.js";
import { signDocument, type Signer } from "../../../src/engine/signature.js";
import type { SignedTraceRecord } from "../../../src/tracelog/index.js";

/** A minimal gait.gate.trace-shaped record, signed like Gait signs traces (record minus signature). */
export function makeRecord(signer: Signer, i: number, verdict = "allow"): SignedTraceRecord {
  const body = {
    schema_id: "gait.gate.trace",
    schema_version: "1.0.0",
    created_at: "1980-01-01T00:00:00Z",
    producer_version: "0.0.0-test",
    trace_id: sha256Hex(`trace-${i}`).slice(0, 24),
    tool_name: "tool.write",
    args_digest: sha256Hex(`args-${i}`),
    intent_digest: sha256Hex(`intent-${i}`),
    policy_digest: sha256Hex("policy"),
    verdict,
  };
  return { ...body, signature: signDocument(body, signer) };
}

export async function tempDir(prefix = "tracelog-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith("segment-")).sort().map((n) => join(dir, n));
}

/** The lines of a segment file; a zero byte (the preallocated tail of an active segment) ends the data. */
export async function readLines(path: string): Promise<string[]> {
  const raw = await readFile(path, "utf8");
  const zero = raw.indexOf("\0");
  const text = zero < 0 ? raw : raw.slice(0, zero);
  return text.split("\n").filter((l) => l.length > 0);
}

export async function writeLines(path: string, lines: string[]): Promise<void> {
  await writeFile(path, lines.map((l) => l + "\n").join(""));
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
