/**
 * grpc.health.v1 on the adapter (no proto-loader). The server reports NOT_SERVING until policy and keys are loaded
 * and while it drains at shutdown, so orchestrators route only to a server that can decide.
 */
import * as grpc from "@grpc/grpc-js";
import { EventEmitter, on } from "node:events";
import { addService, GrpcError, type StreamLimits } from "./adapter.js";
import { Health, HealthCheckResponse_ServingStatus as S } from "../../gen/grpc/health/v1/health_pb.js";

export { S as ServingStatus };

/** Serving status per service name ("" is the whole server). */
export class HealthStatus {
  private readonly m = new Map<string, S>();
  private readonly ev = new EventEmitter();
  constructor() {
    this.ev.setMaxListeners(0);
  }
  set(service: string, s: S): void {
    if (this.m.get(service) === s) return;
    this.m.set(service, s);
    this.ev.emit(service, s);
  }
  get(service: string): S | undefined {
    return this.m.get(service);
  }
  addTo(server: grpc.Server, streams?: StreamLimits): void {
    const m = this.m;
    const ev = this.ev;
    addService(server, Health, {
      check(req) {
        const s = m.get(req.service);
        if (s === undefined) throw new GrpcError(grpc.status.NOT_FOUND, `unknown service ${req.service}`);
        return { status: s };
      },
      async *watch(req, ctx) {
        yield { status: m.get(req.service) ?? S.SERVICE_UNKNOWN };
        try {
          for await (const [s] of on(ev, req.service, { signal: ctx.signal })) yield { status: s as S };
        } catch {
          /* aborted */
        }
      },
      list() {
        return { statuses: Object.fromEntries([...m].map(([k, v]) => [k, { status: v }])) };
      },
    }, { streams });
  }
}
