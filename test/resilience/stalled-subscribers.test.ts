/**
 * Stalled ExportTraces subscribers (issue 7 item 4): 2,000 subscribers that never read. At most --max-export-streams
 * are served at once (the rest are refused with RESOURCE_EXHAUSTED at once), a subscriber that reads nothing for
 * --export-stall-timeout is cut off with RESOURCE_EXHAUSTED, the server keeps deciding meanwhile, and its memory stays
 * bounded and comes back down.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import * as http2 from "node:http2";
import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { toBinary, create } from "@bufbuild/protobuf";
import { ExportTracesRequestSchema } from "../../src/gen/gait/gate/v1/gate_service_pb.js";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { BASE_POLICY, cleanup, intent, startServer, type Server } from "../integration/harness.js";
import { report } from "./report.js";

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let s: Server;
beforeAll(async () => {
  s = await startServer({ policy: BASE_POLICY, extraArgs: ["--max-export-streams", "32", "--export-stall-timeout", "3s", "--max-in-flight", "1024"] });
  // enough log that a subscriber's first read outruns any transport window
  const big = "x".repeat(2000);
  for (let b = 0; b < 30; b++) await Promise.all(Array.from({ length: 100 }, (_, i) => s.gate.evaluate({ input: { case: "intent", value: intent("tool.read", { b, i, big }) } })));
});
afterAll(async () => {
  await s?.stop();
  if (s) cleanup(s.dir);
});

describe("stalled export subscribers", () => {
  it("are bounded, cut off with RESOURCE_EXHAUSTED, and leave memory bounded", async () => {
    const pid = s.child.pid!;
    const before = rssMb(pid);
    const n = 2000; // the figure the issue asks for; not scaled by make fuzz
    // raw HTTP/2 clients that send the ExportTraces request and then never read: no WINDOW_UPDATE ever reaches the
    // server, as with a client that is stuck (a grpc-js client would keep reading into its own memory)
    const sessions = Array.from({ length: 20 }, () => http2.connect("http://localhost", { createConnection: () => connect(s.socket) }));
    const outcomes = new Map<string, number>();
    const ended: Promise<void>[] = [];
    const body = Buffer.from(toBinary(ExportTracesRequestSchema, create(ExportTracesRequestSchema, { fromSequence: 1n, follow: true })));
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), body]);
    frame.writeUInt32BE(body.length, 1);
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    for (let i = 0; i < n; i++) {
      const req = sessions[i % sessions.length]!.request({ ":method": "POST", ":path": "/gait.gate.v1.GateService/ExportTraces", "content-type": "application/grpc", te: "trailers" });
      req.end(frame);
      req.pause();
      ended.push(
        new Promise<void>((resolve) => {
          // refused at once: a trailers-only response with grpc-status 8 (RESOURCE_EXHAUSTED)
          req.on("response", (h) => {
            if (h["grpc-status"] !== undefined) count(`status ${grpc.status[Number(h["grpc-status"])]}`);
          });
          req.on("trailers", (h) => count(`status ${grpc.status[Number(h["grpc-status"])]}`));
          // cut off: RST_STREAM ENHANCE_YOUR_CALM, which gRPC clients report as RESOURCE_EXHAUSTED
          req.on("close", () => {
            if (req.rstCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM) count("reset ENHANCE_YOUR_CALM (RESOURCE_EXHAUSTED)");
            resolve();
          });
          req.on("error", () => undefined);
        }),
      );
    }
    await sleep(1500);
    const peak = rssMb(pid);
    // the gate keeps deciding while they stall
    const r = await s.gate.evaluate({ input: { case: "intent", value: intent("tool.read", { during: true }) } }, { timeoutMs: 5000 });
    expect(r.verdict).toBe(Verdict.ALLOW);
    // every subscriber ends: refused at once, or cut off after the stall timeout
    await Promise.race([Promise.all(ended), sleep(30_000)]);
    await sleep(500);
    const after = rssMb(pid);
    sessions.forEach((x) => x.destroy());
    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    report("stalled-export-subscribers", { subscribers: n, refused_or_cut: total, outcomes: JSON.stringify(Object.fromEntries(outcomes)), rss_mb_before: before.toFixed(1), rss_mb_peak: peak.toFixed(1), rss_mb_after: after.toFixed(1) });
    expect(total).toBe(n);
    expect([...outcomes.keys()].sort()).toEqual(["reset ENHANCE_YOUR_CALM (RESOURCE_EXHAUSTED)", "status RESOURCE_EXHAUSTED"]);
    expect(outcomes.get("reset ENHANCE_YOUR_CALM (RESOURCE_EXHAUSTED)")).toBe(32); // the admitted ones, cut off when stalled
    // the slots are free again: a reading subscriber is served
    const got: bigint[] = [];
    for await (const e of s.gate.exportTraces({ fromSequence: 1n, maxEntries: 5n }, { timeoutMs: 5000 })) got.push((e as { sequence: bigint }).sequence);
    expect(got).toEqual([1n, 2n, 3n, 4n, 5n]);
    // bounded: 32 streams' buffers, not 2,000 (unbounded was ~1.35 MB each)
    expect(peak - before).toBeLessThan(250);
  }, 120_000);
});
