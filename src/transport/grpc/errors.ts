/**
 * GateError -> gRPC status, in one table. Every error the server sends carries a google.rpc.Status in the
 * `grpc-status-details-bin` trailer with one google.rpc.ErrorInfo whose `reason` is the GateError's reason (e.g.
 * "INVALID_INTENT") and whose domain is "gate.gait.v1", so clients branch without matching text. The message is the
 * GateError's message; an INTERNAL error's cause is logged by the caller, never sent.
 */
import * as grpc from "@grpc/grpc-js";
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import type { ErrorKind, GateError } from "../../service/errors.js";
import { GrpcError } from "./adapter.js";

/** google.rpc.ErrorInfo.domain of every error this service sends. */
export const ERROR_DOMAIN = "gate.gait.v1";

/** The one mapping of error kinds to gRPC status codes. */
export const GRPC_STATUS: Readonly<Record<ErrorKind, grpc.status>> = Object.freeze({
  invalid: grpc.status.INVALID_ARGUMENT,
  not_found: grpc.status.NOT_FOUND,
  precondition: grpc.status.FAILED_PRECONDITION,
  permission: grpc.status.PERMISSION_DENIED,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  exhausted: grpc.status.RESOURCE_EXHAUSTED,
  unavailable: grpc.status.UNAVAILABLE,
  out_of_range: grpc.status.OUT_OF_RANGE,
  cancelled: grpc.status.CANCELLED,
  internal: grpc.status.INTERNAL,
});

/** A GateError as the status grpc-js sends (with ErrorInfo details; a cancelled call carries none). */
export function toGrpcError(e: GateError): GrpcError {
  const code = GRPC_STATUS[e.kind];
  if (e.kind === "cancelled") return new GrpcError(code, e.message);
  const info = create(ErrorInfoSchema, { reason: e.reason, domain: ERROR_DOMAIN, metadata: { ...e.metadata } });
  const status = create(StatusSchema, { code, message: e.message, details: [anyPack(ErrorInfoSchema, info)] });
  const md = new grpc.Metadata();
  md.set("grpc-status-details-bin", Buffer.from(toBinary(StatusSchema, status)));
  return new GrpcError(code, e.message, md);
}
