/**
 * Trace log benchmark (performance.md: "server CPU per decision ... including signing + durable trace" and
 * "export >= 50,000 records/s from disk").
 *
 * Measures, on a temp dir of the local disk:
 * - appends/s, fsyncs per append and process CPU (user+system, which includes the libuv threads doing the
 *   write+fdatasync) per append, with 1 and 64 concurrent appenders (closed loops), each for a fixed time, 3 runs,
 *   median. Records are pre-signed: the signing cost is measured separately (sign_us) because it belongs to the
 *   trace builder, not the log.
 * - export: entries/s read from disk with readFrom() (line text only, as the export RPC forwards it, and with the
 *   record parsed).
 * Prints the figures and writes bench/results/tracelog.json. Not a test: no thresholds.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "../src/engine/canon.js";
import { signDocument } from "../src/engine/signature.js";
import { Ed25519KeyPair } from "../src/infra/keys.js";
import { TraceLog, type SignedTraceRecord } from "../src/tracelog/index.js";

const RUN_SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const RUNS = 3;
const key = Ed25519KeyPair.generate();

/** A realistic gait.gate.trace record (about 1.4 KB of JSON), as `mcp serve` emits for an allowed tool.write. */
function traceBody(i: number): Record<string, unknown> {
  const policyDigest = sha256Hex("policy");
  const traceId = sha256Hex(`t${i}`).slice(0, 24);
  return {
    schema_id: "gait.gate.trace",
    schema_version: "1.0.0",
    created_at: "1980-01-01T00:00:00Z",
    observed_at: "2026-08-20T10:11:12.123456789Z",
    producer_version: "0.1.0",
    trace_id: traceId,
    event_id: sha256Hex(`e${i}`).slice(0, 24),
    tool_name: "tool.write",
    args_digest: sha256Hex(`a${i}`),
    intent_digest: sha256Hex(`i${i}`),
    policy_digest: policyDigest,
    agent_id: "agent-1",
    run_id: "run_bench",
    policy_id: "gait.gate.policy",
    policy_version: "1.0.0",
    matched_rule_ids: ["allow-write-workspace"],
    verdict: "allow",
    relationship: {
      entity_refs: [
        { kind: "trace", id: traceId },
        { kind: "tool", id: "tool.write" },
        { kind: "agent", id: "alice" },
        { kind: "policy", id: policyDigest },
      ],
      policy_ref: { policy_id: "gait.gate.policy", policy_version: "1.0.0", policy_digest: policyDigest, matched_rule_ids: ["allow-write-workspace"] },
      edges: [{ kind: "calls", from: { kind: "agent", id: "alice" }, to: { kind: "tool", id: "tool.write" } }],
    },
  };
}

function signed(i: number): SignedTraceRecord {
  const body = traceBody(i);
  return { ...body, signature: signDocument(body, key) } as SignedTraceRecord;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface AppendRun {
  appends_per_s: number;
  fsyncs_per_append: number;
  cpu_us_per_append: number;
  appends: number;
}

async function appendRun(dir: string, concurrency: number, records: SignedTraceRecord[]): Promise<AppendRun> {
  const log = await TraceLog.open({ dir, signer: key, retentionIntervalMs: 0 });
  // warm-up
  await Promise.all(Array.from({ length: concurrency }, (_, w) => log.append(records[w % records.length]!)));
  const s0 = log.stats();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(RUN_SECONDS * 1e9));
  let n = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let i = w;
      while (process.hrtime.bigint() < deadline) {
        await log.append(records[i % records.length]!);
        i += concurrency;
        n++;
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const s1 = log.stats();
  await log.close();
  return {
    appends: n,
    appends_per_s: Math.round(n / secs),
    fsyncs_per_append: +((s1.fsyncs - s0.fsyncs) / n).toFixed(4),
    cpu_us_per_append: +((cpu.user + cpu.system) / n).toFixed(1),
  };
}

async function exportRun(dir: string, parse: boolean): Promise<{ entries: number; entries_per_s: number }> {
  const log = await TraceLog.open({ dir, signer: key, retentionIntervalMs: 0, checkpointIntervalMs: 0 });
  const t0 = process.hrtime.bigint();
  let n = 0;
  let bytes = 0;
  for await (const e of log.readFrom(1)) {
    n++;
    if (parse) bytes += (e.record().verdict as string).length;
    else bytes += e.line.length;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await log.close();
  if (bytes === 0) throw new Error("export read nothing");
  return { entries: n, entries_per_s: Math.round(n / secs) };
}

async function main(): Promise<void> {
  const records = Array.from({ length: 1024 }, (_, i) => signed(i));
  const recordBytes = Buffer.byteLength(JSON.stringify(records[0]));

  // signing cost for reference (belongs to the trace builder)
  const body = traceBody(1);
  const signN = 5000;
  const sc0 = process.cpuUsage();
  for (let i = 0; i < signN; i++) signDocument(body, key);
  const sc = process.cpuUsage(sc0);
  const signUs = +((sc.user + sc.system) / signN).toFixed(1);

  const root = await mkdtemp(join(tmpdir(), "tracelog-bench-"));
  const results: Record<string, unknown> = { record_bytes: recordBytes, sign_us: signUs, run_seconds: RUN_SECONDS, runs: RUNS };
  try {
    for (const c of [1, 64]) {
      const runs: AppendRun[] = [];
      for (let r = 0; r < RUNS; r++) runs.push(await appendRun(join(root, `c${c}-r${r}`), c, records));
      const m = {
        appends_per_s: median(runs.map((x) => x.appends_per_s)),
        fsyncs_per_append: median(runs.map((x) => x.fsyncs_per_append)),
        cpu_us_per_append: median(runs.map((x) => x.cpu_us_per_append)),
        runs,
      };
      results[`append_c${c}`] = m;
      console.log(
        `append c=${c}: ${m.appends_per_s} appends/s, ${m.fsyncs_per_append} fsyncs/append, ${m.cpu_us_per_append} us CPU/append (median of ${RUNS})`,
      );
    }
    // export: build a log of 200k entries quickly (large batches), then read it back
    const exportDir = join(root, "export");
    const total = 200_000;
    const log = await TraceLog.open({ dir: exportDir, signer: key, retentionIntervalMs: 0, checkpointIntervalMs: 0 });
    for (let i = 0; i < total; i += 2000) {
      await Promise.all(Array.from({ length: 2000 }, (_, j) => log.append(records[(i + j) % records.length]!)));
    }
    await log.close();
    for (const parse of [false, true]) {
      const runs = [];
      for (let r = 0; r < RUNS; r++) runs.push(await exportRun(exportDir, parse));
      const m = { entries: total, entries_per_s: median(runs.map((x) => x.entries_per_s)), runs_per_s: runs.map((x) => x.entries_per_s) };
      results[parse ? "export_parsed" : "export_lines"] = m;
      console.log(`export ${parse ? "with record parse" : "line text"}: ${m.entries_per_s} entries/s over ${total} entries (median of ${RUNS})`);
    }
    console.log(`record ${recordBytes} bytes; signing (not part of append) ${signUs} us`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  // compiled to dist/bench/ (make bench): results go to <repo>/bench/results like the other benchmarks
  const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, "tracelog.json"), JSON.stringify({ bench: "tracelog", node: process.version, date: new Date().toISOString(), ...results }, null, 2) + "\n");
}

await main();
