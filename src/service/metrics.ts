/**
 * Prometheus metrics (prom-client), exposed by the HTTP transport on `--metrics-listen host:port` at GET /metrics
 * (transport/http/metrics.ts). A private registry, so tests can run several servers in one process. Names follow
 * Prometheus conventions (`_total`, `_seconds`).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class ServerMetrics {
  readonly registry = new Registry();
  /** Decisions answered, by verdict and transport (grpc|http). */
  readonly decisions = new Counter({ name: "gait_gate_decisions_total", help: "Decisions answered, by verdict", labelNames: ["verdict", "transport"] as const, registers: [this.registry] });
  /** End-to-end decision latency inside the server (decode -> durable trace). */
  readonly latency = new Histogram({
    name: "gait_gate_decision_duration_seconds",
    help: "Server-side decision latency including the durable trace append",
    labelNames: ["transport"] as const,
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  /** Time from append to durable (covers the group-commit fsync the record rode on). */
  readonly traceAppend = new Histogram({
    name: "gait_gate_trace_fsync_duration_seconds",
    help: "Trace log append latency until the entry is fsynced (group commit)",
    buckets: [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  /** Calls answered with an error instead of a verdict (clients treat them as block), by ErrorReason. */
  readonly failClosed = new Counter({ name: "gait_gate_fail_closed_errors_total", help: "Calls answered with an error instead of a verdict", labelNames: ["reason"] as const, registers: [this.registry] });
  /** Read at scrape time from {@link inFlightSource} (no per-call gauge update). */
  readonly inFlight: Gauge = new Gauge({
    name: "gait_gate_in_flight",
    help: "Decisions in flight",
    registers: [this.registry],
    collect: (): void => this.inFlight.set(this.inFlightSource()),
  });
  /** Supplies the in-flight count at scrape time (set by the admission control). */
  inFlightSource: () => number = () => 0;
  readonly policyReloads = new Counter({ name: "gait_gate_policy_reloads_total", help: "Policy reload attempts by result", labelNames: ["result"] as const, registers: [this.registry] });
  readonly policyReloadFailing = new Gauge({ name: "gait_gate_policy_reload_failing", help: "1 while the last policy reload failed (the previous good policy stays active)", registers: [this.registry] });
  readonly traceLogFailing = new Gauge({ name: "gait_gate_trace_log_failing", help: "1 while the trace log cannot record (decisions are refused; it retries by itself)", registers: [this.registry] });
  readonly logLinesDropped = new Gauge({ name: "gait_gate_log_lines_dropped", help: "log lines that could not be written (e.g. stderr on a full disk); the gate keeps deciding", registers: [this.registry] });
  readonly approvalsCreated = new Counter({ name: "gait_gate_approval_requests_total", help: "Approval requests created", registers: [this.registry] });

  // Label children resolved once: prom-client hashes a label object on every inc/observe otherwise.
  private readonly decisionChildren = new Map<string, Counter.Internal>();
  private readonly latencyChildren = new Map<string, Histogram.Internal<"transport">>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "gait_gate_" });
  }

  /** Count one answered decision and observe its latency (seconds). */
  recordDecision(verdict: string, transport: "grpc" | "http", seconds: number): void {
    const key = `${verdict}|${transport}`;
    let c = this.decisionChildren.get(key);
    if (!c) this.decisionChildren.set(key, (c = this.decisions.labels(verdict, transport)));
    c.inc();
    let h = this.latencyChildren.get(transport);
    if (!h) this.latencyChildren.set(transport, (h = this.latency.labels(transport)));
    h.observe(seconds);
  }
}
