/**
 * kill -9 during load, then restart: the trace log still verifies (every signature, the hash chain, the
 * checkpoints), the torn tail (if any) is cut and reported, and every allow a client received has its record in the
 * log at the sequence the client was told. Verified both with the library and with `gait trace verify`.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Verdict } from "../../src/gen/gait/gate/v1/verdict_pb.js";
import { Ed25519PublicKey } from "../../src/infra/keys.js";
import { verifyLogDir } from "../../src/tracelog/verify.js";
import { BASE_POLICY, ROOT, cleanup, intent, startServer, tempDir, type Server } from "./harness.js";

let dir = "";
afterAll(() => {
  if (dir) cleanup(dir);
});

describe("crash safety", () => {
  // defaults (the signing worker on) with 32 callers: records are signed on the worker (more than 16 in flight)
  it.each([
    { mode: "signing worker, 32 callers", callers: 32, extraArgs: [] as string[] },
    { mode: "--signing-worker off", callers: 16, extraArgs: ["--signing-worker", "off"] },
  ])("kill -9 under load ($mode): restart, the log verifies and holds every allow the clients saw", async ({ callers, extraArgs }) => {
    if (dir) cleanup(dir);
    dir = tempDir();
    let s: Server = await startServer({ policy: BASE_POLICY, dir, extraArgs });
    const seen = new Map<bigint, string>(); // trace_sequence -> event_id of each allow a client received
    let stop = false;
    let failures = 0;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await s.gate.evaluate({ input: { case: "intent", value: intent("tool.read", { w, i }) } }, { timeoutMs: 5000 });
          expect(r.verdict).toBe(Verdict.ALLOW);
          seen.set(r.traceSequence, r.eventId);
        } catch {
          failures++; // the crash: UNAVAILABLE; a client treats it as block
          return;
        }
      }
    };
    if (extraArgs.length) expect(s.stderr()).not.toContain("signing worker started");
    else {
      expect(s.stderr()).toContain("signing worker started");
      expect(s.stderr()).not.toMatch(/signing worker (not|failed|exited|did not)/);
    }
    const workers = Array.from({ length: callers }, (_, w) => worker(w));
    while (seen.size < 300) await new Promise((r) => setTimeout(r, 10));
    await s.kill9();
    stop = true;
    await Promise.all(workers);
    expect(seen.size).toBeGreaterThanOrEqual(300);

    // restart on the same state: recovery runs, the chain continues
    s = await startServer({ policy: BASE_POLICY, dir, extraArgs });
    try {
      const after = await s.gate.evaluate({ input: { case: "intent", value: intent("tool.read", { after: true }) } });
      const maxSeen = [...seen.keys()].reduce((a, b) => (a > b ? a : b), 0n);
      expect(after.traceSequence).toBeGreaterThan(maxSeen);

      // every allow a client saw is in the log at its sequence, with the same event id
      const logged = new Map<bigint, string>();
      for await (const e of s.gate.exportTraces({ fromSequence: 0n })) logged.set(e.sequence, e.eventId);
      for (const [seq, eventId] of seen) expect(logged.get(seq), `seq ${seq}`).toBe(eventId);
      const seqs = [...logged.keys()].map(Number);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1)); // no gap, no duplicate
    } finally {
      expect(await s.stop()).toBe(0);
    }

    // the whole log verifies (signatures, chain, checkpoints; sealed by the clean shutdown)
    const pubText = readFileSync(join(s.stateDir, "keys", "dev_public.key"), "utf8");
    const res = await verifyLogDir(s.traceDir, Ed25519PublicKey.fromText(pubText), { requireSealed: true });
    expect(res.error ?? "").toBe("");
    expect(res.ok).toBe(true);
    expect(res.entries).toBeGreaterThan(seen.size);

    // and each segment verifies with the CLI, as an auditor would
    for (const seg of readdirSync(s.traceDir).filter((n) => n.startsWith("segment-"))) {
      const r = spawnSync(process.execPath, [join(ROOT, "bin", "gait"), "trace", "verify", join(s.traceDir, seg), "--public-key", join(s.stateDir, "keys", "dev_public.key"), "--json"], { encoding: "utf8" });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).ok).toBe(true);
    }
  });
});
