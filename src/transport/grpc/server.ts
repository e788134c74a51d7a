/**
 * One gRPC listener: a grpc.Server with health, reflection and GateService (for an agent or an operator role),
 * every request decoded strictly (wire-decode.ts), streaming calls bounded (StreamLimits), bound to a Unix socket
 * with the socket hygiene of uds.ts or to a TCP port.
 */
import * as grpc from "@grpc/grpc-js";
import { GateService } from "../../gen/gait/gate/v1/gate_service_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { file_google_rpc_error_details } from "../../gen/google/rpc/error_details_pb.js";
import { file_gait_gate_v1_error_reason } from "../../gen/gait/gate/v1/error_reason_pb.js";
import { GateError } from "../../service/errors.js";
import type { ListenerRole } from "../auth.js";
import { addService, type StreamLimits } from "./adapter.js";
import { toGrpcError } from "./errors.js";
import { GATE_REQUEST_DECODERS, gateServiceImpl, type GateHandlerDeps } from "./handlers.js";
import type { HealthStatus } from "./health.js";
import { addReflection } from "./reflection.js";
import { bindUds } from "./uds.js";

export interface GrpcListenerOptions {
  role: ListenerRole;
  handlers: GateHandlerDeps;
  health: HealthStatus;
  streams: StreamLimits;
  maxRequestBytes: number;
}

/** A grpc.Server serving health, reflection and GateService for one role. */
export function createGrpcServer(o: GrpcListenerOptions): grpc.Server {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": o.maxRequestBytes,
    "grpc.keepalive_permit_without_calls": 1,
    // channelz bookkeeping costs two Date.now() calls, closures and counters per call; nothing here reads channelz
    "grpc.enable_channelz": 0,
  });
  o.health.addTo(server, o.streams);
  addReflection(server, [GateService, Health], [file_google_rpc_error_details, file_gait_gate_v1_error_reason]);
  addService(server, GateService, gateServiceImpl(o.role, o.handlers), {
    onUnexpected: (e) => {
      const g = new GateError("INTERNAL", "internal error (see server log)", { cause: e });
      o.handlers.onInternal(g);
      return toGrpcError(g);
    },
    requestDecoders: GATE_REQUEST_DECODERS,
    onDecodeError: (e) => {
      o.handlers.metrics.failClosed.inc({ reason: "INVALID_REQUEST" });
      return toGrpcError(new GateError("INVALID_REQUEST", e.message));
    },
    streams: o.streams,
  });
  return server;
}

/** A listener address: a Unix socket path or a TCP host:port. */
export type Listen = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

/** Bind `server`; returns what was found at a Unix path before binding ("removed-stale" after a crash). */
export async function bindGrpc(server: grpc.Server, addr: Listen, socketMode: number): Promise<"absent" | "removed-stale" | "tcp"> {
  if (addr.kind === "unix") return bindUds(server, addr.path, socketMode);
  await new Promise<number>((res, rej) => server.bindAsync(`${addr.host}:${addr.port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return "tcp";
}
