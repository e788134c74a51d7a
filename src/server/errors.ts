/**
 * Domain failures -> gRPC status at the edge. Every error the service sends carries a google.rpc.Status in the
 * `grpc-status-details-bin` trailer with one google.rpc.ErrorInfo whose `reason` is an ErrorReason name without its
 * prefix (e.g. "INVALID_INTENT") and whose domain is "gate.gait.v1", so clients branch without matching text.
 * An error never carries a verdict: every caller treats it as block.
 */
import * as grpc from "@grpc/grpc-js";
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { ErrorReason, ErrorReasonSchema } from "../gen/gait/gate/v1/error_reason_pb.js";
import { ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import { GrpcError } from "./grpc-adapter.js";

export { ErrorReason };

/** google.rpc.ErrorInfo.domain of every error this service sends. */
export const ERROR_DOMAIN = "gate.gait.v1";

/** "ERROR_REASON_INVALID_INTENT" -> "INVALID_INTENT". */
export function reasonName(reason: ErrorReason): string {
  const v = ErrorReasonSchema.values.find((x) => x.number === reason);
  return (v?.name ?? "ERROR_REASON_UNSPECIFIED").replace(/^ERROR_REASON_/, "");
}

/** A GrpcError with ErrorInfo details. `metadata` (ErrorInfo.metadata) carries machine-readable extras. */
export function gateError(code: grpc.status, reason: ErrorReason, message: string, metadata: Record<string, string> = {}): GrpcError {
  const info = create(ErrorInfoSchema, { reason: reasonName(reason), domain: ERROR_DOMAIN, metadata });
  const status = create(StatusSchema, { code, message, details: [anyPack(ErrorInfoSchema, info)] });
  const md = new grpc.Metadata();
  md.set("grpc-status-details-bin", Buffer.from(toBinary(StatusSchema, status)));
  const e = new GrpcError(code, message, md);
  (e as GrpcError & { reason: ErrorReason }).reason = reason;
  return e;
}

/** Shorthands for the common cases. */
export const invalidArgument = (reason: ErrorReason, message: string): GrpcError => gateError(grpc.status.INVALID_ARGUMENT, reason, message);
export const internalError = (reason: ErrorReason, message: string): GrpcError => gateError(grpc.status.INTERNAL, reason, message);
export const unavailable = (reason: ErrorReason, message: string): GrpcError => gateError(grpc.status.UNAVAILABLE, reason, message);

/** The ErrorReason attached by {@link gateError}, if any. */
export function reasonOf(e: unknown): ErrorReason | undefined {
  return e instanceof GrpcError ? (e as GrpcError & { reason?: ErrorReason }).reason : undefined;
}
