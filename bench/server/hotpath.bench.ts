/**
 * In-process profile of the service's own work per decision, without the gRPC transport: the same request the
 * socket benchmark sends (bench/server/loadgen.py), decoded from protobuf bytes, through the real GateService
 * `evaluate` handler (real policy, dev key, FileApprovalStore, fsynced TraceLog with group commit), and the response
 * encoded back to bytes (src/transport/grpc/handlers.ts over src/service/gate-service.ts). Prints a per-stage breakdown (us per call, warm loops) and the whole handler's process CPU
 * per decision at 1 and 64 in flight; writes bench/results/server-hotpath.json.
 *
 *   node dist/bench/server/hotpath.bench.js            (after `make build`)
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/server/hotpath.bench.js --handler-only   (where the time goes)
 *
 * Not a test: no thresholds. Compare ratios within one run (the machine is shared and noisy).
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { EvaluateRequestSchema, EvaluateResponseSchema } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { evaluateGate } from "../../src/engine/gate.js";
import { buildTraceRecord, signTraceRecord } from "../../src/engine/trace.js";
import { MemoryCounterStore } from "../../src/state/counters-memory.js";
import { FileApprovalStore } from "../../src/state/approvals.js";
import { TraceLog } from "../../src/tracelog/log.js";
import { parseServeArgs } from "../../src/config/serve.js";
import { loadServerKeys } from "../../src/infra/server-keys.js";
import { PolicyHolder } from "../../src/state/policy-file.js";
import { ServerMetrics } from "../../src/service/metrics.js";
import { Admission } from "../../src/service/admission.js";
import { GateService } from "../../src/service/gate-service.js";
import { GATE_REQUEST_DECODERS, gateServiceImpl, toEvaluateResponse, type EvaluateRequestJson } from "../../src/transport/grpc/handlers.js";
import { toGrpcDefinition, type HandlerContext } from "../../src/transport/grpc/adapter.js";
import { GateService as GateServiceDesc } from "../../src/gen/gait/gate/v1/gate_service_pb.js";

// compiled to dist/bench/server/: the repository root is three levels up
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const POLICY = join(root, "bench", "server", "policy.yaml");

/** The loadgen.py request: a tool.write with one path target and one provenance entry, risk low (allowed). */
function requestBytes(): Uint8Array {
  const req = create(EvaluateRequestSchema, {
    input: {
      case: "intent",
      value: {
        toolName: "tool.write",
        args: { path: "/workspace/app/config.yaml", content: "key: value" },
        targets: [{ kind: "path", value: "/workspace/app/config.yaml", operation: "write" }],
        argProvenance: [{ argPath: "content", source: "user" }],
        context: { identity: "agent-bench", workspace: "/workspace", riskClass: "low", sessionId: "s0" },
      },
    },
  });
  return toBinary(EvaluateRequestSchema, req);
}

function ctx(): HandlerContext {
  return {
    metadata: new grpc.Metadata(),
    get signal(): AbortSignal {
      return new AbortController().signal;
    },
    deadline: Infinity,
    peer: "bench",
    cancelled: () => false,
  };
}

/** Median of `runs` timings of `n` calls of `fn`, in us per call. */
async function perCall(n: number, runs: number, fn: () => unknown): Promise<number> {
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const v = fn();
      if (v instanceof Promise) await v;
    }
    out.push(((performance.now() - t0) * 1000) / n);
  }
  out.sort((a, b) => a - b);
  return out[Math.floor(out.length / 2)]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "gait-hotpath-"));
  try {
    const parsed = parseServeArgs(["--policy", POLICY, "--state", join(dir, "state")], {}, dir);
    if (parsed.help) throw new Error("unexpected --help");
    const cfg = parsed.config;
    mkdirSync(cfg.stateDir, { recursive: true });
    const keys = loadServerKeys(cfg);
    const policy = new PolicyHolder(cfg.policyPath);
    const metrics = new ServerMetrics();
    const traceLog = await TraceLog.open({ dir: cfg.traceDir, signer: keys.signer });
    const approvals = await FileApprovalStore.open({ dir: join(cfg.stateDir, "approvals"), sweepIntervalMs: 0, signer: keys.signer });
    const decisions = new GateService({
      settings: {
        profile: cfg.profile,
        adapter: cfg.adapter,
        approvalReuse: cfg.approvalReuse,
        approvalRequestTtlMs: cfg.approvalRequestTtlMs,
        credentialScopes: cfg.credentialScopes,
        traceDir: cfg.traceDir,
      },
      policy,
      keys,
      killSwitch: { current: () => undefined },
      counters: new MemoryCounterStore(),
      traceLog,
      approvals,
      metrics,
      log: () => undefined,
      producerVersion: "bench",
    });
    const svc = gateServiceImpl("agent", {
      service: decisions,
      auth: { mode: "off" },
      admission: new Admission(1024),
      metrics,
      version: "bench",
      shutdownSignal: new AbortController().signal,
      onInternal: (e) => {
        throw e;
      },
    });
    const bytes = Buffer.from(requestBytes());
    // the (de)serializers grpc-js calls in the server
    const method = toGrpcDefinition(GateServiceDesc, GATE_REQUEST_DECODERS).evaluate!;
    const decode = (b: Buffer) => method.requestDeserialize(b) as EvaluateRequestJson;
    const encode = (res: unknown) => method.responseSerialize(res);
    const handle = async (): Promise<Uint8Array> => encode(await svc.evaluate(decode(bytes), ctx()));
    const first = fromBinary(EvaluateResponseSchema, await handle());
    if (first.verdict !== 1) throw new Error(`the benchmark intent is not allowed: ${first.reasonCodes.join(",")}`);

    // ---- stages (sync work only; the trace append below includes waiting for fsync, so it is measured as CPU) ----
    const raw = decode(bytes).intent;
    const protobufEs = () => toJson(EvaluateRequestSchema, fromBinary(EvaluateRequestSchema, bytes), { useProtoFieldName: true });
    const gateOpts = { now: new Date(), profile: cfg.profile, counters: new MemoryCounterStore(), approvalTokens: [], producerVersion: "bench" };
    const result = await evaluateGate(policy.current.policy, raw, gateOpts);
    const meta = { observedAt: new Date(), producerVersion: "bench", policyId: "gait.gate.policy", policyVersion: "1.0.0", policyDigest: result.policy_digest };
    const record = buildTraceRecord(result, meta);
    const signed = signTraceRecord(record, keys.signer);
    const out = await decisions.evaluate({ intent: raw });
    const N = 5000;
    const handlerOnly = process.argv.includes("--handler-only");
    const stages: Record<string, number> = handlerOnly ? {} : {
      decode_request: await perCall(N, 5, () => decode(bytes)),
      decode_request_protobuf_es: await perCall(N, 5, protobufEs),
      evaluate_gate: await perCall(N, 5, () => evaluateGate(policy.current.policy, raw, gateOpts)),
      build_trace_record: await perCall(N, 5, () => buildTraceRecord(result, meta)),
      sign_trace_record: await perCall(N, 5, () => signTraceRecord(record, keys.signer)),
      ed25519_sign_only: await perCall(N, 5, () => keys.signer.sign(new Uint8Array(32))),
      record_json_stringify: await perCall(N, 5, () => JSON.stringify(signed)),
      encode_response: await perCall(N, 5, () => encode(toEvaluateResponse(out))),
    };

    // ---- --profile N: exactly N decisions at 64 in flight and nothing else (compare CPU profiles of two builds) ----
    const profileAt = process.argv.indexOf("--profile");
    if (profileAt > 0) {
      const total = Number(process.argv[profileAt + 1] ?? 20000);
      let left = total;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (left-- > 0) await handle();
      }));
      const c = process.cpuUsage(c0);
      console.log(`  profile: ${total} decisions at 64 in flight, ${((c.user + c.system) / total).toFixed(1)} us CPU/decision (user ${(c.user / total).toFixed(1)}, system ${(c.system / total).toFixed(1)}), ${(total / ((performance.now() - t0) / 1000)).toFixed(0)} decisions/s`);
      console.log(`  trace log: ${JSON.stringify(traceLog.stats())}`);
      await traceLog.close();
      await approvals.close();
      return;
    }
    // ---- the whole handler, closed loop, process CPU per decision ----
    const loops: Record<string, { decisions_per_s: number; cpu_us_per_decision: number; user_us_per_decision: number; system_us_per_decision: number }> = {};
    for (const inFlight of [1, 64]) {
      const run = async (ms: number) => {
        let done = 0;
        let stop = false;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (!stop) {
              await handle();
              done++;
              if (performance.now() - t0 > ms) stop = true;
            }
          }),
        );
        const c = process.cpuUsage(c0);
        const s = (performance.now() - t0) / 1000;
        return { decisions_per_s: done / s, cpu_us_per_decision: (c.user + c.system) / done, user_us_per_decision: c.user / done, system_us_per_decision: c.system / done };
      };
      await run(500); // warm-up
      const runs = [await run(2000), await run(2000), await run(2000)].sort((a, b) => a.cpu_us_per_decision - b.cpu_us_per_decision);
      loops[`in_flight_${inFlight}`] = runs[1]!;
    }

    for (const [k, v] of Object.entries(stages)) console.log(`  ${k.padEnd(24)} ${v.toFixed(1).padStart(7)} us`);
    for (const [k, v] of Object.entries(loops)) {
      console.log(`  handler ${k.padEnd(16)} ${v.cpu_us_per_decision.toFixed(1).padStart(7)} us CPU/decision (user ${v.user_us_per_decision.toFixed(1)}, system ${v.system_us_per_decision.toFixed(1)})  ${v.decisions_per_s.toFixed(0)} decisions/s`);
    }
    const outDir = join(root, "bench", "results");
    mkdirSync(outDir, { recursive: true });
    writeFileSync(
      join(outDir, "server-hotpath.json"),
      JSON.stringify({ benchmark: "server-hotpath", what: "the gRPC Evaluate handler over GateService in-process, no socket; trace fsynced", stages_us: stages, handler: loops }, null, 2) + "\n",
    );
    await traceLog.close();
    await approvals.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
