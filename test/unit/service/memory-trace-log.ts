/** An in-memory stand-in for the trace log in service tests: records what was appended, in order. */
import type { TraceLogPort } from "../../../src/service/gate-service.js";

/** `commitMs`: how long an append takes (decisions then pile up in flight, as behind a real disk). */
export function memoryTraceLog(commitMs = 0): { traceLog: TraceLogPort; appended: unknown[] } {
  const appended: unknown[] = [];
  const traceLog: TraceLogPort = {
    append: async (record) => {
      appended.push(record);
      const seq = appended.length;
      if (commitMs > 0) await new Promise((r) => setTimeout(r, commitMs));
      return { seq, hash: "h" };
    },
    readFrom: () => {
      throw new Error("not used");
    },
    head: () => ({ seq: appended.length, hash: "h" }),
    oldestSeq: () => 1,
  };
  return { traceLog, appended };
}
