/**
 * Durable, tamper-evident trace log: public API. See docs/trace-log.md for the on-disk format and guarantees.
 */
export { TraceLog, TRACE_LOG_DEFAULTS } from "./log.js";
export type { AppendResult, ReadOptions, RecoveryReport, RetentionResult, TraceLogOptions, TraceLogStats } from "./log.js";
export { TraceEntry } from "./entry.js";
export {
  CHECKPOINT_SCHEMA_ID,
  CHECKPOINT_SCHEMA_VERSION,
  GENESIS_HASH,
  TraceLogError,
  entryHash,
  isTraceLogError,
  segmentName,
} from "./format.js";
export type { Checkpoint, CheckpointKind, SignedTraceRecord } from "./format.js";
export { verifyLogDir, verifySegmentFile } from "./verify.js";
export type { LogVerifyResult, SegmentVerifyResult, VerifierSet, VerifyOptions } from "./verify.js";
